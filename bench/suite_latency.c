/*
 * suite_latency.c - klaw-bench latency: one-way latency by ping-pong, the
 * wake-up paths against the physical floors measured in the same run.
 *
 * A pinger and a ponger (two threads, or two processes) and two mpmc
 * channels of capacity 4: the pinger stamps CLOCK_MONOTONIC into a 64-byte
 * frame and sends it; the ponger takes it, records now - stamp (one-way;
 * the clock is the same for every process on the machine) in a histogram,
 * and answers on the second channel; the pinger waits for the answer
 * before the next. Rows: p50 / p99 / p99.9 / max of the one-way latency
 * (latency_p50_ns, ...; the median of --runs runs for each).
 *
 * Wait modes of the ponger (the `wait` parameter):
 *   spin    try_view in a loop (never sleeps);
 *   block   klaw_mpmc_view, the default blocking call (spin, then park),
 *           frames back to back;
 *   parked  the same call, but the pinger pauses PAUSE_US before each
 *           frame, so the ponger is asleep on its futex when it comes: the
 *           wake-up path;
 *   fd      the pollable descriptor (klaw_mpmc_rx_fd): poll(2), drain with
 *           try_view, arm - with the same pause: the event-loop wake-up
 *           path, measured against the futex one (issue 14).
 * In the paced modes (parked, fd) the pinger waits for each answer on the
 * descriptor, without spinning, as floor_futex's pinger sleeps at once: a
 * pinger spinning on one of two CPUs makes the woken ponger wait for a CPU
 * (measured: parked p50 17 us with the spinning pinger, 11.5 us without,
 * threads, the 2-core Xeon VM), and the wake-up measured must be the
 * ponger's alone.
 * Peers in the same run, on the same two CPUs:
 *   floor_cacheline  a bare cache-line ping-pong (spin): the hardware's
 *                    handoff, what `spin` is compared with;
 *   floor_futex      a raw futex wait/wake ping-pong with the same pause:
 *                    what `parked` and `fd` are compared with;
 *   iceoryx          iceoryx 2.0 (peer_iceoryx.c): the same 64-byte
 *                    ping-pong over a publisher and a subscriber each way
 *                    (loan, publish; take, release), in the klaw rows' key
 *                    for spin (take in a loop, both sides), block and
 *                    parked (a WaitSet on the subscriber, both sides; parked
 *                    with the same pause). Its runtime is one per process:
 *                    "thread" is its two sides as threads of one forked
 *                    process, "process" two forked processes. The suite
 *                    starts a RouDi of its own for it and stops it at the
 *                    end (peer_iceoryx.h); without iceoryx the rows say
 *                    "skipped".
 *
 * The pinger runs on the first CPU the process may use, the ponger on the
 * second (both pinned), for every impl.
 * Parameters: kind (mpmc), wait, payload_bytes (64), mode (thread |
 * process). What issue 15 adds later: more kinds and payload sizes, select,
 * ZeroMQ, a pipe and a Unix socket.
 */
#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "bench_util.h"
#include "fanout.h"
#include "klaw/klaw.h"
#include "peer_iceoryx.h"

#define PAYLOAD 64
#define PAUSE_US 200 /* parked / fd: the ponger is asleep when a frame comes */

enum wait_mode { W_SPIN, W_BLOCK, W_PARKED, W_FD, W_FLOOR_LINE, W_FLOOR_FUTEX };
static const char *const WAIT_NAME[] = {"spin", "block", "parked", "fd", "spin", "parked"};

/* What the ponger and pinger share (MAP_SHARED: threads and processes). */
typedef struct shared {
    _Alignas(64) _Atomic uint64_t ping; /* floors: the pinger's counter / stamp */
    _Atomic uint64_t ping_stamp;
    _Alignas(64) _Atomic uint64_t pong;
    _Alignas(64) _Atomic uint32_t fping; /* floor_futex words */
    _Alignas(64) _Atomic uint32_t fpong;
    _Alignas(64) fanout_hist hist;       /* the ponger's one-way latencies */
    int failed;
} shared;

typedef struct run_ctx {
    shared *sh;
    enum wait_mode w;
    uint64_t n;
    const char *ab, *ba; /* channel names (process mode) or NULL */
    klaw_mpmc_tx *tx_ab, *tx_ba;
    klaw_mpmc_rx *rx_ab, *rx_ba;
} run_ctx;

static void pause_us(long us)
{
    struct timespec d = {0, us * 1000};
    nanosleep(&d, NULL);
}

static long futex(_Atomic uint32_t *w, int op, uint32_t v)
{
    return syscall(SYS_futex, (uint32_t *)w, op, v, NULL, NULL, 0);
}

static inline void relax(void) { __builtin_ia32_pause(); }

/* ---- the floors ------------------------------------------------------------------------------ */

static void floor_pong(run_ctx *c)
{
    shared *s = c->sh;
    for (uint64_t i = 1; i <= c->n; i++) {
        if (c->w == W_FLOOR_LINE) {
            while (atomic_load_explicit(&s->ping, memory_order_acquire) != i)
                relax();
        } else {
            while (atomic_load_explicit(&s->fping, memory_order_acquire) != (uint32_t)i)
                futex(&s->fping, FUTEX_WAIT, (uint32_t)(i - 1));
        }
        uint64_t now = bench_now_ns(), st = atomic_load_explicit(&s->ping_stamp, memory_order_relaxed);
        fanout_hist_add(&s->hist, now > st ? now - st : 0);
        if (c->w == W_FLOOR_LINE) {
            atomic_store_explicit(&s->pong, i, memory_order_release);
        } else {
            atomic_store_explicit(&s->fpong, (uint32_t)i, memory_order_release);
            futex(&s->fpong, FUTEX_WAKE, 1);
        }
    }
}

static void floor_ping(run_ctx *c)
{
    shared *s = c->sh;
    for (uint64_t i = 1; i <= c->n; i++) {
        if (c->w == W_FLOOR_FUTEX)
            pause_us(PAUSE_US);
        atomic_store_explicit(&s->ping_stamp, bench_now_ns(), memory_order_relaxed);
        if (c->w == W_FLOOR_LINE) {
            atomic_store_explicit(&s->ping, i, memory_order_release);
            while (atomic_load_explicit(&s->pong, memory_order_acquire) != i)
                relax();
        } else {
            atomic_store_explicit(&s->fping, (uint32_t)i, memory_order_release);
            futex(&s->fping, FUTEX_WAKE, 1);
            while (atomic_load_explicit(&s->fpong, memory_order_acquire) != (uint32_t)i)
                futex(&s->fpong, FUTEX_WAIT, (uint32_t)(i - 1));
        }
    }
}

/* ---- klaw ----------------------------------------------------------------------------------------- */

/* Takes one frame from rx by mode w; 0 ok. */
static int take(klaw_mpmc_rx *rx, enum wait_mode w, int fd, klaw_frame *f)
{
    klaw_status st;
    switch (w) {
    case W_SPIN:
        while ((st = klaw_mpmc_try_view(rx, f)) == KLAW_EMPTY)
            relax();
        return st != KLAW_OK;
    case W_FD:
        for (;;) {
            if ((st = klaw_mpmc_try_view(rx, f)) != KLAW_EMPTY)
                return st != KLAW_OK;
            int ms = 1000;
            if (klaw_mpmc_rx_arm(rx, &ms) != KLAW_OK)
                return 1;
            if ((st = klaw_mpmc_try_view(rx, f)) != KLAW_EMPTY) /* armed with one there: it poked itself */
                return st != KLAW_OK;
            struct pollfd p = {.fd = fd, .events = POLLIN};
            poll(&p, 1, ms);
        }
    default:
        return klaw_mpmc_view(rx, NULL, f) != KLAW_OK;
    }
}

static void klaw_pong(run_ctx *c)
{
    int fd = c->w == W_FD ? klaw_mpmc_rx_fd(c->rx_ab) : -1;
    if (c->w == W_FD && fd < 0) {
        c->sh->failed = 1;
        return;
    }
    uint8_t reply[PAYLOAD] = {0};
    for (uint64_t i = 0; i < c->n; i++) {
        klaw_frame f;
        if (take(c->rx_ab, c->w, fd, &f)) {
            c->sh->failed = 1;
            return;
        }
        uint64_t now = bench_now_ns(), st, seq;
        memcpy(&seq, f.data, 8);
        memcpy(&st, (uint8_t *)f.data + 8, 8);
        klaw_mpmc_release(c->rx_ab, &f);
        if (seq != i) {
            c->sh->failed = 1;
            return;
        }
        fanout_hist_add(&c->sh->hist, now > st ? now - st : 0);
        memcpy(reply, &seq, 8);
        if (klaw_mpmc_send(c->tx_ba, reply, sizeof reply, NULL) != KLAW_OK) {
            c->sh->failed = 1;
            return;
        }
    }
}

static void klaw_ping(run_ctx *c)
{
    uint8_t frame[PAYLOAD] = {0};
    /* paced modes: the pinger waits for the answer without spinning (as
     * floor_futex's pinger does), so its CPU is free when the ponger is
     * woken - the wake-up measured is the ponger's alone */
    int paced = c->w == W_PARKED || c->w == W_FD;
    int fd = paced ? klaw_mpmc_rx_fd(c->rx_ba) : -1;
    if (paced && fd < 0) {
        c->sh->failed = 1;
        return;
    }
    for (uint64_t i = 0; i < c->n; i++) {
        if (c->w == W_PARKED || c->w == W_FD)
            pause_us(PAUSE_US);
        uint64_t now = bench_now_ns();
        memcpy(frame, &i, 8);
        memcpy(frame + 8, &now, 8);
        if (klaw_mpmc_send(c->tx_ab, frame, sizeof frame, NULL) != KLAW_OK) {
            c->sh->failed = 1;
            return;
        }
        klaw_frame f;
        if (take(c->rx_ba, paced ? W_FD : W_BLOCK, fd, &f)) {
            c->sh->failed = 1;
            return;
        }
        klaw_mpmc_release(c->rx_ba, &f);
    }
}

static int is_floor(enum wait_mode w) { return w == W_FLOOR_LINE || w == W_FLOOR_FUTEX; }

/* Pinned (bench_pin_self): the pinger on the first CPU this process may
 * use, the ponger on the second - "between the same two CPUs". Unpinned,
 * the scheduler may wake the ponger on the pinger's CPU, and the wake-up
 * then waits for whatever the pinger does after it: measured, the futex
 * floor's parked p50 was 3 us unpinned and 32 us pinned (an idle vCPU's
 * wake-up), klaw's 11 us and 34 us - the floor had profited from the
 * placement. */
static void *pong_thread(void *p)
{
    run_ctx *c = p;
    bench_pin_self(1);
    if (is_floor(c->w))
        floor_pong(c);
    else
        klaw_pong(c);
    return NULL;
}

/* One run of n round trips; the ponger's histogram in *h. 0 ok. */
static int one_run(enum wait_mode w, int process, uint64_t n, fanout_hist *h)
{
    shared *s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (s == MAP_FAILED)
        return -1;
    memset(s, 0, sizeof *s);
    run_ctx c = {.sh = s, .w = w, .n = n};
    char ab[64], ba[64];
    int rc = 0;
    if (!is_floor(w)) {
        snprintf(ab, sizeof ab, "kb-lat-ab-%d", (int)getpid());
        snprintf(ba, sizeof ba, "kb-lat-ba-%d", (int)getpid());
        klaw_region_unlink(ab);
        klaw_region_unlink(ba);
        klaw_mpmc_opts o = {.capacity = 4, .max_frame = PAYLOAD, .name = ab};
        klaw_mpmc_opts o2 = {.capacity = 4, .max_frame = PAYLOAD, .name = ba};
        if (klaw_mpmc_create(&o, &c.tx_ab, &c.rx_ab) != KLAW_OK ||
            klaw_mpmc_create(&o2, &c.tx_ba, &c.rx_ba) != KLAW_OK) {
            munmap(s, sizeof *s);
            return -1;
        }
    }
    /* pin: the pinger (this thread) on the first CPU, the ponger on the
     * second; the caller's mask is put back at the end */
    cpu_set_t saved;
    int have_saved = sched_getaffinity(0, sizeof saved, &saved) == 0;
    bench_pin_self(0);
    if (process) {
        pid_t pid = fork();
        if (pid < 0) {
            rc = -1;
        } else if (pid == 0) {
            if (!is_floor(w)) { /* the child's own handles: ab's receiver, ba's sender */
                klaw_mpmc_rx *rx;
                klaw_mpmc_tx *tx;
                if (klaw_mpmc_open_rx(ab, &rx) != KLAW_OK || klaw_mpmc_open_tx(ba, &tx) != KLAW_OK)
                    _exit(2);
                c.rx_ab = rx;
                c.tx_ba = tx;
            }
            pong_thread(&c);
            _exit(s->failed ? 1 : 0);
        } else {
            if (is_floor(w))
                floor_ping(&c);
            else
                klaw_ping(&c);
            int ws;
            waitpid(pid, &ws, 0);
            if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
                rc = -1;
        }
    } else {
        pthread_t t;
        if (pthread_create(&t, NULL, pong_thread, &c) != 0) {
            rc = -1;
        } else {
            if (is_floor(w))
                floor_ping(&c);
            else
                klaw_ping(&c);
            pthread_join(t, NULL);
        }
    }
    if (have_saved)
        sched_setaffinity(0, sizeof saved, &saved);
    if (s->failed)
        rc = -1;
    *h = s->hist;
    if (!is_floor(w)) {
        klaw_mpmc_tx_free(c.tx_ab);
        klaw_mpmc_rx_free(c.rx_ab);
        klaw_mpmc_tx_free(c.tx_ba);
        klaw_mpmc_rx_free(c.rx_ba);
        klaw_region_unlink(ab);
        klaw_region_unlink(ba);
    }
    munmap(s, sizeof *s);
    return rc;
}

/* ---- the suite ---------------------------------------------------------------------------------- */

static const double Q[] = {0.5, 0.99, 0.999, 1.0};
static const char *const METRIC[] = {"latency_p50_ns", "latency_p99_ns", "latency_p999_ns", "latency_max_ns"};

/* The key of wait mode w's rows (a peer's rows take the klaw rows' key). */
static bench_key case_key(enum wait_mode w, int process)
{
    /* the key keeps the pointer: one string per case, for the whole run */
    static char names[2][6][32];
    char *name = names[process][w];
    snprintf(name, sizeof names[0][0], "%s_%s", process ? "process" : "thread", WAIT_NAME[w]);
    bench_key k = {.suite = "latency", .case_name = name};
    bench_key_str(&k, "kind", "mpmc");
    bench_key_str(&k, "wait", WAIT_NAME[w]);
    bench_key_int(&k, "payload_bytes", PAYLOAD);
    bench_key_str(&k, "mode", process ? "process" : "thread");
    return k;
}

static uint64_t round_trips(const bench_opts *o, enum wait_mode w)
{
    int paced = w == W_PARKED || w == W_FD || w == W_FLOOR_FUTEX;
    return o->quick ? 200 : paced ? 3000 : 50000;
}

static void emit_case(const bench_opts *o, enum wait_mode w, int process)
{
    const char *impl = w == W_FLOOR_LINE ? "floor_cacheline" : w == W_FLOOR_FUTEX ? "floor_futex" : "klaw";
    uint64_t n = round_trips(o, w);
    unsigned runs = o->runs ? o->runs : 5;
    double v[4][64];
    bench_key k = case_key(w, process);
    const char *name = k.case_name;
    for (unsigned r = 0; r < runs && r < 64; r++) {
        fanout_hist h;
        if (one_run(w, process, n, &h) != 0 || h.n != n) {
            bench_fail(&k, "%s %s: a run failed (frames lost, out of order, or a channel error)", impl, name);
            return;
        }
        for (int q = 0; q < 4; q++)
            v[q][r] = (double)fanout_hist_quantile(&h, Q[q]);
    }
    for (int q = 0; q < 4; q++)
        bench_emit(&k, impl, METRIC[q], "ns", bench_median(v[q], runs < 64 ? runs : 64));
}

/* iceoryx's rows beside klaw's of wait mode w (spin, block, parked). */
static void emit_iox_case(const bench_opts *o, enum wait_mode w, int process)
{
    const bench_iox_wait iw = w == W_SPIN ? BENCH_IOX_SPIN : w == W_BLOCK ? BENCH_IOX_BLOCK : BENCH_IOX_PARKED;
    uint64_t n = round_trips(o, w);
    unsigned runs = o->runs ? o->runs : 5;
    double v[4][64];
    char err[320];
    static char whys[2][6][360]; /* the rows keep the pointer */
    char *why = whys[process][w];
    bench_key k = case_key(w, process);
    const char *skip = bench_iox_start();
    for (unsigned r = 0; !skip && r < runs && r < 64; r++) {
        fanout_hist h;
        int rc = bench_iox_latency(iw, process != 0, n, PAUSE_US, &h, err, sizeof err);
        if (rc != 0 || h.n != n) {
            if (rc == 0)
                snprintf(err, sizeof err, "%llu of %llu frames", (unsigned long long)h.n, (unsigned long long)n);
            bench_fail(&k, "iceoryx %s: %s", k.case_name, err);
            snprintf(why, sizeof whys[0][0], "failed its check: %s", err);
            skip = why;
            break;
        }
        for (int q = 0; q < 4; q++)
            v[q][r] = (double)fanout_hist_quantile(&h, Q[q]);
    }
    for (int q = 0; q < 4; q++) {
        if (skip)
            bench_emit_skipped(&k, "iceoryx", METRIC[q], "ns", skip);
        else
            bench_emit(&k, "iceoryx", METRIC[q], "ns", bench_median(v[q], runs < 64 ? runs : 64));
    }
}

static void run_latency(const bench_opts *o)
{
    for (int process = 0; process <= 1; process++) {
        emit_case(o, W_FLOOR_LINE, process);
        emit_case(o, W_SPIN, process);
        emit_iox_case(o, W_SPIN, process);
        emit_case(o, W_BLOCK, process);
        emit_iox_case(o, W_BLOCK, process);
        emit_case(o, W_FLOOR_FUTEX, process);
        emit_case(o, W_PARKED, process);
        emit_iox_case(o, W_PARKED, process);
        emit_case(o, W_FD, process);
    }
    bench_iox_stop();
}

const bench_suite bench_suite_latency = {
    .name = "latency",
    .summary = "one-way latency by ping-pong (mpmc, 64 B): spin, blocking, parked and descriptor wake-ups, "
               "threads and processes, against the cache-line and futex floors and iceoryx",
    .table_metric = "latency_p50_ns",
    .lower_is_better = true,
    .peers = "floor_cacheline, floor_futex, iceoryx (2.0 publish/subscribe; its own RouDi)",
    .rep_scale = 1,
    .run = run_latency,
};
