/*
 * suite_fanout.c - klaw-bench's fanout suite: one writer -> N readers on
 * klaw's broadcast channel against ZeroMQ PUB/SUB, the same frames, the
 * same N, in the same run.
 *
 * Cases: N in {1, 2, 4, 8} readers; frames of 64 B and 4 KiB; policy
 * OVERWRITE (a slow reader loses frames: klaw says LAGGED with the count,
 * a ZeroMQ PUB drops at the subscriber's high-water mark) and BLOCK (the
 * writer waits for the slowest reader: klaw's BLOCK policy, ZeroMQ's PUB
 * with ZMQ_XPUB_NODROP); the workers forked processes ("process": a named
 * broadcast channel in /dev/shm; ZeroMQ over ipc://) or threads of this
 * process ("thread": an anonymous channel; ZeroMQ over inproc://). Ring
 * capacity FANOUT_RING_SLOTS (1024) frames; ZeroMQ's SNDHWM and RCVHWM are
 * set to the same.
 *
 * A run (fanout.h says more): the workers start and attach (outside the
 * clock), then the writer publishes flat out for half the repetition time
 * (0.1 s; the saturation phase: frames_per_s = frames it published / its time;
 * delivered_per_s = intact frames the readers took in that phase, summed
 * over readers, / the time from its start to the last one taken); it waits
 * until every reader has caught up, then publishes one frame every 20 us
 * for half that again (the paced phase: the latency percentiles,
 * now - stamp as each reader takes a frame, in a log-linear histogram);
 * then it closes and the readers drain. Every frame is checked
 * (fanout.h); per reader, intact frames + lagged frames must equal the
 * frames published, klaw's gaps must be exactly the ones it announced, and
 * under BLOCK nothing may be lost; otherwise the case fails and klaw-bench
 * exits 1. lagged_frames sums what the readers lost (both phases).
 *
 * klaw's writer claims 128 frames at a time in the saturation phase
 * (klaw_bcast_claim_batch, fill in place, one clock read stamps them all
 * just before klaw_bcast_commit_batch makes them visible) and one at a
 * time when paced; readers take up to 128 at once (one clock read for the
 * batch as it arrives, checks in place), then release them: under BLOCK
 * with klaw_bcast_release_batch, under OVERWRITE one klaw_bcast_release
 * per frame right after its check, so that a frame the writer overwrote
 * while it was viewed counts as lagged, never as delivered, and its
 * neighbours still count. 128 (FANOUT_BATCH) is about ZeroMQ's own
 * batching: its pipes move messages in chunks of 256 and its I/O thread
 * writes up to 8 KiB per system call (128 frames of 64 B).
 * ZeroMQ has no batched send: its writer fills a zmq_msg_t in place and
 * stamps each message (ZeroMQ batches on its own inside its pipes and I/O
 * threads); its readers check each message in place.
 *
 * How readers wait: when the writer and every reader have a CPU of their
 * own (N = 1 on two cores) they poll (klaw: klaw_bcast_try_view, then take
 * what else is ready up to 128; ZeroMQ over inproc://: zmq_msg_recv with
 * ZMQ_DONTWAIT); otherwise they block (klaw: klaw_bcast_view_batch, which
 * spins briefly, then parks on a futex, with a far deadline; ZeroMQ:
 * blocking zmq_msg_recv). ZeroMQ over ipc:// always blocks: its I/O
 * threads need the CPUs a polling writer and reader would take. The paced
 * writer spins or sleeps to its schedule by the same rule.
 *
 * Each case is measured --runs times, klaw and ZeroMQ alternating; each
 * row is the median. Besides the rows, the suite writes every median to a
 * CSV file and draws delivered frames/s against N as an SVG chart (--csv,
 * --svg; default bench-results/fanout.csv and .svg under the current
 * directory), and prints a progress line on stderr.
 * KLAW_BENCH_FANOUT_ONLY="thread 64B BLOCK N=2 klaw" (any part of such a
 * label) runs only the cases and implementations it names.
 *
 * Workers are pinned: the writer to the first CPU this process may use,
 * reader j to the (j+1)-th (modulo their number). On this project's 2
 * cores N > 1 oversubscribes them on purpose: the question is whether the
 * channel degrades gracefully there, not only how fast it is on idle cores.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "bench_util.h"
#include "fanout.h"
#include "klaw/broadcast.h"
#include "klaw/region.h"

#define SUITE "fanout"

enum {
    START_TIMEOUT_S = 30, /* workers attached by then, or the run fails      */
    RUN_TIMEOUT_S = 60,   /* a run that takes longer is a hang: killed        */
    STILL_NS = 20000000,  /* caught up: no reader moved for 20 ms             */
};

/* ---- memory shared with forked children -------------------------------------- */

typedef struct shared_hdr {
    size_t size;
    uint8_t pad_[64 - sizeof(size_t)];
} shared_hdr;

void *fanout_shared_alloc(size_t size)
{
    size_t total = sizeof(shared_hdr) + size;
    void *m = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        fprintf(stderr, "klaw-bench: fanout: mmap of %zu bytes: %s\n", total, strerror(errno));
        exit(1);
    }
    ((shared_hdr *)m)->size = total;
    return (uint8_t *)m + sizeof(shared_hdr);
}

void fanout_shared_free(void *p)
{
    if (!p)
        return;
    shared_hdr *h = (shared_hdr *)((uint8_t *)p - sizeof(shared_hdr));
    munmap(h, h->size);
}

void fanout_set_err(char *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, FANOUT_ERR, fmt, ap);
    va_end(ap);
}

/* ---- readers ----------------------------------------------------------------------- */

void fanout_reader_init(fanout_reader *r, uint32_t frame_bytes, bool exact_gaps)
{
    memset(r, 0, sizeof *r);
    r->frame_bytes = frame_bytes;
    r->exact_gaps = exact_gaps;
}

void fanout_reader_bad(fanout_reader *r, const fanout_seen *s, const char *what)
{
    if (r->bad++)
        return;
    snprintf(r->why, sizeof r->why, "frame seq %llu (%u bytes, after seq %llu): %s", (unsigned long long)s->seq,
             s->len, (unsigned long long)r->last, what);
}

/* ---- the writer's schedule ------------------------------------------------------------ */

static void sleep_ns(long ns)
{
    struct timespec t = {0, ns};
    nanosleep(&t, NULL);
}

void fanout_wait_caught_up(fanout_run *run, uint64_t last)
{
    uint64_t prev = UINT64_MAX, still_since = bench_now_ns();
    for (;;) {
        bool all = true;
        uint64_t sum = 0;
        for (unsigned i = 0; i < run->k->readers; i++) {
            uint64_t s = atomic_load_explicit(&run->rd[i].seen, memory_order_relaxed);
            all &= s >= last;
            sum += s;
        }
        if (all)
            return;
        uint64_t now = bench_now_ns();
        if (sum != prev) {
            prev = sum;
            still_since = now;
        } else if (now - still_since > STILL_NS || now > run->deadline_ns) {
            return;
        }
        sleep_ns(100000);
    }
}

void fanout_pace_start(fanout_pacer *p, const fanout_run *run, bool spin)
{
    p->spin = spin;
    p->next_ns = bench_now_ns();
    p->end_ns = p->next_ns + run->phase_ns / 2;
    p->sent = 0;
    if (!p->spin)
        prctl(PR_SET_TIMERSLACK, 1000UL, 0UL, 0UL, 0UL); /* this thread's sleeps: 1 us late at most */
}

bool fanout_pace(fanout_pacer *p)
{
    uint64_t now = bench_now_ns();
    if (p->sent >= FANOUT_MIN_PACED && now >= p->end_ns)
        return false;
    if (now < p->next_ns) {
        if (p->spin) {
            while ((now = bench_now_ns()) < p->next_ns)
                __builtin_ia32_pause();
        } else {
            struct timespec t = {(time_t)(p->next_ns / 1000000000u), (long)(p->next_ns % 1000000000u)};
            while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR) {
            }
            now = bench_now_ns();
        }
    }
    p->next_ns = now > p->next_ns + FANOUT_PACE_NS ? now + FANOUT_PACE_NS : p->next_ns + FANOUT_PACE_NS;
    p->sent++;
    return true;
}

/* ---- the runner -------------------------------------------------------------------------- */

/* One run's control block, in shared memory. */
typedef struct run_ctl {
    _Alignas(64) _Atomic uint32_t ready; /* workers attached              */
    _Alignas(64) _Atomic uint32_t go;    /* 0 wait, 1 run, 2 give up       */
    const fanout_impl *impl;
    void *st;
    fanout_case k;
    int attached[1 + FANOUT_MAX_READERS];
    fanout_run run;
} run_ctl;

typedef struct thread_arg {
    run_ctl *ctl;
    unsigned slot;
} thread_arg;

static void futex_wait(_Atomic uint32_t *a, uint32_t v, long timeout_ns)
{
    struct timespec t = {timeout_ns / 1000000000, timeout_ns % 1000000000};
    /* shared, not FUTEX_PRIVATE: the word is in a MAP_SHARED mapping that
     * forked children use */
    syscall(SYS_futex, a, FUTEX_WAIT, v, timeout_ns ? &t : NULL, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *a) { syscall(SYS_futex, a, FUTEX_WAKE, INT_MAX, NULL, NULL, 0); }

static unsigned cpus[CPU_SETSIZE], ncpus;

static void find_cpus(void)
{
    cpu_set_t set;
    ncpus = 0;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return;
    for (unsigned c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &set))
            cpus[ncpus++] = c;
}

/* The writer on the first CPU, reader j on the (j+1)-th: the writer and
 * the first reader never share a core (unless there is one). Pins the
 * calling thread only (ZeroMQ's I/O threads, made at attach, float). */
static void pin(unsigned slot)
{
    if (ncpus < 2)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpus[slot % ncpus], &set);
    sched_setaffinity(0, sizeof set, &set); /* best effort */
}

/* slot 0: the writer; slot 1 + j: reader j. */
static void worker(run_ctl *ctl, unsigned slot)
{
    fanout_run *run = &ctl->run;
    bool writer = slot == 0;
    char *err = writer ? run->wr.err : run->rd[slot - 1].err;
    void *w = ctl->impl->attach(ctl->st, writer, writer ? 0 : slot - 1, err);
    pin(slot);
    ctl->attached[slot] = w != NULL;
    atomic_fetch_add(&ctl->ready, 1);
    futex_wake(&ctl->ready);
    uint32_t go;
    while ((go = atomic_load(&ctl->go)) == 0)
        futex_wait(&ctl->go, 0, 0);
    if (w && go != 1)
        ctl->impl->abandon(ctl->st, w, writer);
    if (writer) {
        run->wr.rc = w && go == 1 ? ctl->impl->write(ctl->st, w, run, err) : -1;
        run->wr.end_ns = bench_now_ns();
    } else {
        fanout_reader *rd = &run->rd[slot - 1];
        rd->rc = w && go == 1 ? ctl->impl->read(ctl->st, w, run, rd, err) : -1;
        rd->end_ns = bench_now_ns();
        atomic_fetch_add(&run->readers_done, 1);
    }
}

static void *thread_main(void *p)
{
    thread_arg *a = p;
    worker(a->ctl, a->slot);
    return NULL;
}

static void on_alarm(int sig) { (void)sig; }

/* Waits for the children; kills them all if they take past RUN_TIMEOUT_S.
 * Returns 0, or -1 with err when one failed or was killed. */
static int reap_children(const pid_t *pids, unsigned n, char *err)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm; /* no SA_RESTART: waitpid returns EINTR */
    sigaction(SIGALRM, &sa, &old);
    alarm(RUN_TIMEOUT_S);
    int rc = 0;
    bool killed = false;
    for (unsigned i = 0; i < n; i++) {
        int status;
        while (waitpid(pids[i], &status, 0) < 0) {
            if (errno != EINTR) {
                status = 0;
                break;
            }
            if (!killed) {
                for (unsigned j = 0; j < n; j++)
                    kill(pids[j], SIGKILL);
                killed = true;
                fanout_set_err(err, "workers did not finish in %d s: killed", RUN_TIMEOUT_S);
                rc = -1;
            }
        }
        if (!killed && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
            if (rc == 0)
                fanout_set_err(err, "a worker process %s %d", WIFSIGNALED(status) ? "died of signal" : "exited",
                               WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
            rc = -1;
        }
    }
    alarm(0);
    sigaction(SIGALRM, &old, NULL);
    return rc;
}

/* One run's results. */
typedef struct run_result {
    double frames_per_s, delivered_per_s, lagged;
    double p50, p99, p999, max;
} run_result;

/* Checks what the readers saw and computes the results. 0, or -1 with err. */
static int tally(const run_ctl *ctl, run_result *res, char *err)
{
    const fanout_run *run = &ctl->run;
    const fanout_case *k = &ctl->k;
    const uint64_t published = atomic_load(&run->wr.published);
    uint64_t delivered1 = 0, lagged = 0, last1 = run->wr.start_ns;
    static fanout_hist lat;
    memset(&lat, 0, sizeof lat);

    if (run->wr.n1 == 0 || run->wr.end1_ns <= run->wr.start_ns) {
        fanout_set_err(err, "the writer published nothing");
        return -1;
    }
    for (unsigned i = 0; i < k->readers; i++) {
        const fanout_reader *r = &run->rd[i];
        if (r->bad) {
            fanout_set_err(err, "reader %u: %llu bad frames; the first: %s", i, (unsigned long long)r->bad, r->why);
            return -1;
        }
        /* frames after the last one taken: lost at the end (ZeroMQ); a klaw
         * reader drains the channel, so it must have taken the last one */
        uint64_t tail = published - r->last;
        if (r->last > published) {
            fanout_set_err(err, "reader %u took seq %llu of %llu published", i, (unsigned long long)r->last,
                           (unsigned long long)published);
            return -1;
        }
        if (r->exact_gaps && (tail != 0 || r->announced != 0)) {
            fanout_set_err(err,
                           "reader %u: ended at seq %llu of %llu with %llu frames announced lagged and never "
                           "accounted for",
                           i, (unsigned long long)r->last, (unsigned long long)published,
                           (unsigned long long)r->announced);
            return -1;
        }
        uint64_t lost = r->lagged + tail;
        if (r->delivered + lost != published) {
            fanout_set_err(err, "reader %u: %llu intact + %llu lagged != %llu published", i,
                           (unsigned long long)r->delivered, (unsigned long long)lost,
                           (unsigned long long)published);
            return -1;
        }
        if (k->policy == FANOUT_BLOCK && lost != 0) {
            fanout_set_err(err, "reader %u lost %llu of %llu frames under BLOCK", i, (unsigned long long)lost,
                           (unsigned long long)published);
            return -1;
        }
        delivered1 += r->delivered1;
        lagged += lost;
        if (r->last1_ns > last1)
            last1 = r->last1_ns;
        fanout_hist_merge(&lat, &r->lat);
    }
    res->frames_per_s = (double)run->wr.n1 * 1e9 / (double)(run->wr.end1_ns - run->wr.start_ns);
    res->delivered_per_s = last1 > run->wr.start_ns ? (double)delivered1 * 1e9 / (double)(last1 - run->wr.start_ns) : 0.0;
    res->lagged = (double)lagged;
    res->p50 = (double)fanout_hist_quantile(&lat, 0.50);
    res->p99 = (double)fanout_hist_quantile(&lat, 0.99);
    res->p999 = (double)fanout_hist_quantile(&lat, 0.999);
    res->max = (double)lat.max;
    if (lat.n == 0) {
        fanout_set_err(err, "no frame of the paced phase reached a reader");
        return -1;
    }
    return 0;
}

/* One run of impl on case k. 0 with res set, or -1 with err. */
static int run_once(const fanout_impl *impl, const fanout_case *k, uint64_t phase_ns, run_result *res, char *err)
{
    const unsigned nw = 1 + k->readers;
    run_ctl *ctl = fanout_shared_alloc(sizeof *ctl);
    pid_t pids[1 + FANOUT_MAX_READERS];
    pthread_t threads[1 + FANOUT_MAX_READERS];
    thread_arg args[1 + FANOUT_MAX_READERS];
    unsigned started = 0;
    int rc = 0;

    err[0] = '\0';
    ctl->impl = impl;
    ctl->k = *k;
    ctl->run.k = &ctl->k;
    ctl->run.phase_ns = phase_ns;
    ctl->run.ncpus = ncpus;
    ctl->run.spin = ncpus >= 1 + k->readers;
    ctl->run.deadline_ns = bench_now_ns() + (uint64_t)RUN_TIMEOUT_S * 1000000000u;
    for (unsigned i = 0; i < k->readers; i++)
        fanout_reader_init(&ctl->run.rd[i], k->frame_bytes, impl != &fanout_peer_zmq);
    ctl->st = impl->setup(k, err);
    if (!ctl->st) {
        fanout_shared_free(ctl);
        return -1;
    }
    fflush(stdout);
    fflush(stderr);
    for (; started < nw; started++) {
        if (k->process) {
            pid_t pid = fork();
            if (pid == 0) {
                worker(ctl, started);
                _exit(0);
            }
            if (pid < 0) {
                fanout_set_err(err, "fork: %s", strerror(errno));
                break;
            }
            pids[started] = pid;
        } else {
            args[started] = (thread_arg){ctl, started};
            int e = pthread_create(&threads[started], NULL, thread_main, &args[started]);
            if (e != 0) {
                fanout_set_err(err, "pthread_create: %s", strerror(e));
                break;
            }
        }
    }

    uint64_t until = bench_now_ns() + (uint64_t)START_TIMEOUT_S * 1000000000u;
    for (;;) {
        uint32_t v = atomic_load(&ctl->ready);
        if (v >= started)
            break;
        if (bench_now_ns() > until) {
            fanout_set_err(err, "workers did not attach in %d s", START_TIMEOUT_S);
            break;
        }
        futex_wait(&ctl->ready, v, 100000000);
    }
    bool all = started == nw && atomic_load(&ctl->ready) == nw;
    for (unsigned i = 0; i < nw && all; i++)
        all = ctl->attached[i];
    impl->attached(ctl->st);
    atomic_store(&ctl->go, all ? 1 : 2);
    futex_wake(&ctl->go);

    if (k->process) {
        char werr[FANOUT_ERR];
        if (reap_children(pids, started, werr) != 0) {
            if (!err[0])
                fanout_set_err(err, "%s", werr);
            rc = -1;
        }
    } else {
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_sec += RUN_TIMEOUT_S;
        for (unsigned i = 0; i < started; i++) {
            if (pthread_timedjoin_np(threads[i], NULL, &dl) != 0) {
                fprintf(stderr, "\nklaw-bench: fanout: %s: worker threads did not finish in %d s\n", impl->name,
                        RUN_TIMEOUT_S);
                exit(1); /* threads cannot be killed; nothing sound is left to do */
            }
        }
    }
    impl->teardown(ctl->st);

    if (!all || started != nw)
        rc = -1;
    if (rc == 0 && ctl->run.wr.rc != 0) {
        fanout_set_err(err, "writer: %s", ctl->run.wr.err[0] ? ctl->run.wr.err : "failed");
        rc = -1;
    }
    for (unsigned i = 0; i < k->readers && rc == 0; i++) {
        if (ctl->run.rd[i].rc != 0) {
            fanout_set_err(err, "reader %u: %s", i, ctl->run.rd[i].err[0] ? ctl->run.rd[i].err : "failed");
            rc = -1;
        }
    }
    if (rc == 0 && tally(ctl, res, err) != 0)
        rc = -1;
    if (rc != 0 && !err[0]) {
        const char *e = ctl->run.wr.err;
        for (unsigned i = 0; i < k->readers && !e[0]; i++)
            e = ctl->run.rd[i].err;
        fanout_set_err(err, "a worker failed to start%s%s", e[0] ? ": " : "", e);
    }
    fanout_shared_free(ctl);
    return rc;
}

/* ---- klaw ----------------------------------------------------------------------------- */

typedef struct klaw_state {
    fanout_case k;
    char name[64];
    klaw_bcast_tx *tx;                        /* the creator's handle        */
    klaw_bcast_rx *rx[FANOUT_MAX_READERS];    /* threads: subscribed at setup */
} klaw_state;

static struct timespec to_timespec(uint64_t ns)
{
    return (struct timespec){(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
}

static void *klaw_setup(const fanout_case *k, char *err)
{
    static unsigned seq;
    klaw_state *st = fanout_shared_alloc(sizeof *st);
    st->k = *k;
    if (k->process)
        snprintf(st->name, sizeof st->name, "klaw-bench-fanout-%d-%u", (int)getpid(), seq++);
    klaw_bcast_opts o = {
        .capacity = FANOUT_RING_SLOTS,
        .max_frame = k->frame_bytes,
        .policy = k->policy == FANOUT_BLOCK ? KLAW_POLICY_BLOCK : KLAW_POLICY_OVERWRITE,
        .name = k->process ? st->name : NULL,
        .value_type = "klaw-bench fanout frame",
        /* one writer, as ZeroMQ's PUB socket (which is not thread-safe
         * either): claims by plain stores; under OVERWRITE, while the
         * workers outnumber the CPUs, the writer yields once per ring lap
         * (klaw/broadcast.h) */
        .flags = KLAW_BCAST_SINGLE_WRITER | KLAW_BCAST_WRITER_YIELDS,
    };
    /* between processes the writer process opens the only writer handle
     * itself: the channel is created with none */
    klaw_status s = klaw_bcast_create(&o, k->process ? NULL : &st->tx);
    if (s != KLAW_OK) {
        fanout_set_err(err, "klaw_bcast_create: %s", klaw_strerror(s));
        fanout_shared_free(st);
        return NULL;
    }
    for (unsigned i = 0; i < k->readers && !k->process; i++) {
        s = klaw_bcast_subscribe(st->tx, KLAW_BCAST_FROM_TAIL, NULL, &st->rx[i]);
        if (s != KLAW_OK) {
            fanout_set_err(err, "klaw_bcast_subscribe: %s", klaw_strerror(s));
            for (unsigned j = 0; j < i; j++)
                klaw_bcast_rx_free(st->rx[j]);
            klaw_bcast_tx_free(st->tx);
            fanout_shared_free(st);
            return NULL;
        }
    }
    return st;
}

static void *klaw_attach(void *sv, bool writer, unsigned id, char *err)
{
    klaw_state *st = sv;
    klaw_status s = KLAW_OK;
    if (!st->k.process)
        return writer ? (void *)st->tx : (void *)st->rx[id];
    if (writer) {
        klaw_bcast_tx *tx;
        s = klaw_bcast_open_tx(st->name, &tx);
        if (s == KLAW_OK)
            return tx;
    } else {
        char rid[32];
        klaw_bcast_rx *rx;
        snprintf(rid, sizeof rid, "fanout-reader-%u", id);
        s = klaw_bcast_open_rx(st->name, KLAW_BCAST_FROM_TAIL, rid, &rx);
        if (s == KLAW_OK)
            return rx;
    }
    fanout_set_err(err, "%s: %s", writer ? "klaw_bcast_open_tx" : "klaw_bcast_open_rx", klaw_strerror(s));
    return NULL;
}

static void klaw_attached(void *sv)
{
    klaw_state *st = sv;
    if (st->k.process) {
        /* the writer process has the only writer handle (the channel was
         * created with none), so its close is the last one */
        klaw_region_unlink(st->name);
    }
}

static int klaw_write(void *sv, void *w, fanout_run *run, char *err)
{
    klaw_state *st = sv;
    klaw_bcast_tx *tx = w;
    const uint32_t fb = st->k.frame_bytes;
    const struct timespec dl = to_timespec(run->deadline_ns);
    klaw_frame f[FANOUT_BATCH];
    klaw_status s = KLAW_OK;
    uint64_t seq = 1;
    size_t got = 0;
    const char *what = "";

    uint64_t now = bench_now_ns();
    run->wr.start_ns = now;
    const uint64_t end = now + run->phase_ns;
    while (now < end) {
        s = klaw_bcast_claim_batch(tx, fb, f, FANOUT_BATCH, &got, &dl);
        if (s != KLAW_OK) {
            what = "klaw_bcast_claim_batch";
            goto out;
        }
        for (size_t i = 0; i < got; i++)
            fanout_fill(f[i].data, fb, seq + i, 0);
        now = bench_now_ns();
        for (size_t i = 0; i < got; i++)
            fanout_stamp(f[i].data, now);
        s = klaw_bcast_commit_batch(tx, f, got);
        if (s != KLAW_OK) {
            what = "klaw_bcast_commit_batch";
            goto out;
        }
        seq += got;
    }
    run->wr.end1_ns = bench_now_ns();
    run->wr.n1 = seq - 1;
    atomic_store(&run->wr.published, seq - 1);
    fanout_wait_caught_up(run, seq - 1);

    fanout_pacer pacer;
    fanout_pace_start(&pacer, run, run->spin);
    while (fanout_pace(&pacer)) {
        s = klaw_bcast_claim(tx, fb, &dl, &f[0]);
        if (s != KLAW_OK) {
            what = "klaw_bcast_claim";
            goto out;
        }
        fanout_fill(f[0].data, fb, seq, FANOUT_F_PACED);
        fanout_stamp(f[0].data, bench_now_ns());
        s = klaw_bcast_commit(tx, &f[0], fb);
        if (s != KLAW_OK) {
            what = "klaw_bcast_commit";
            goto out;
        }
        seq++;
    }
out:
    atomic_store(&run->wr.published, seq - 1);
    atomic_store(&run->wr.done, 1);
    /* the last writer's close: readers drain, then get KLAW_CLOSED */
    klaw_bcast_tx_close(tx);
    klaw_bcast_tx_free(tx);
    if (!st->k.process)
        st->tx = NULL;
    if (s != KLAW_OK) {
        fanout_set_err(err, "%s: %s (after %llu frames)", what, klaw_strerror(s), (unsigned long long)(seq - 1));
        return -1;
    }
    return 0;
}

static int klaw_read(void *sv, void *w, fanout_run *run, fanout_reader *rd, char *err)
{
    klaw_state *st = sv;
    klaw_bcast_rx *rx = w;
    const struct timespec dl = to_timespec(run->deadline_ns);
    klaw_frame f[FANOUT_BATCH];
    fanout_seen seen[FANOUT_BATCH];
    bool have_base = false;
    uint64_t base = 0; /* klaw_frame.seq - the payload's seq, the same for all */
    klaw_status s;
    const char *what = run->spin ? "klaw_bcast_try_view" : "klaw_bcast_view_batch";

    for (;;) {
        size_t got = 0;
        uint64_t lagged = 0, lag_after = 0;
        if (run->spin) {
            /* a CPU of our own: poll (try_view) instead of parking, then
             * take what else is ready, up to a batch */
            unsigned polls = 0;
            while ((s = klaw_bcast_try_view(rx, &f[0], &lagged)) == KLAW_EMPTY) {
                __builtin_ia32_pause();
                if (++polls % 4096 == 0 && bench_now_ns() > run->deadline_ns) {
                    s = KLAW_TIMEOUT;
                    break;
                }
            }
            if (s == KLAW_OK) {
                for (got = 1; got < FANOUT_BATCH; got++) {
                    klaw_status s2 = klaw_bcast_try_view(rx, &f[got], &lag_after);
                    if (s2 != KLAW_OK)
                        break; /* EMPTY, CLOSED (seen again next time), or LAGGED: */
                }              /* its count applies after this batch */
            }
        } else {
            s = klaw_bcast_view_batch(rx, f, FANOUT_BATCH, &got, &lagged, &dl);
        }
        if (s == KLAW_LAGGED) {
            rd->announced += lagged;
            rd->lagged += lagged;
            continue;
        }
        if (s != KLAW_OK)
            break;
        uint64_t now = bench_now_ns();
        /* OVERWRITE: each frame checked, then released at once, on its own:
         * a frame the writer overwrote while we looked is LAGGED at its
         * release and counts as lagged, its neighbours still count
         * (release_batch would say LAGGED for the whole batch), and no
         * frame is held longer than its own check. BLOCK: nothing can be
         * overwritten; the batch is checked, then released at once. */
        const bool each = st->k.policy == FANOUT_OVERWRITE;
        klaw_status rs = KLAW_OK;
        for (size_t i = 0; i < got; i++) {
            fanout_inspect(rd, f[i].data, f[i].len, &seen[i]);
            if (have_base && !seen[i].bad && f[i].seq - seen[i].seq != base)
                seen[i].bad = "klaw_frame.seq disagrees with the seq the writer wrote";
            if (!each)
                continue;
            rs = klaw_bcast_release(rx, &f[i]);
            if (rs == KLAW_LAGGED) {
                /* what we read of it is not to be trusted */
                rd->announced++;
                rd->lagged++;
                rs = KLAW_OK;
                continue;
            }
            if (rs != KLAW_OK)
                break;
            if (!have_base && !seen[i].bad) {
                base = f[i].seq - seen[i].seq;
                have_base = true;
            }
            fanout_count(rd, &seen[i], now);
        }
        if (!each) {
            rs = klaw_bcast_release_batch(rx, f, got);
            if (rs == KLAW_LAGGED) { /* not under BLOCK; if it were, none counts */
                rd->announced += got;
                rd->lagged += got;
                rs = KLAW_OK;
            } else if (rs == KLAW_OK) {
                for (size_t i = 0; i < got; i++) {
                    if (!have_base && !seen[i].bad) {
                        base = f[i].seq - seen[i].seq;
                        have_base = true;
                    }
                    fanout_count(rd, &seen[i], now);
                }
            }
        }
        if (rs != KLAW_OK) {
            s = rs;
            what = each ? "klaw_bcast_release" : "klaw_bcast_release_batch";
            break;
        }
        rd->announced += lag_after;
        rd->lagged += lag_after;
        atomic_store_explicit(&rd->seen, rd->last, memory_order_relaxed);
    }
    if (!st->k.process)
        st->rx[rd - run->rd] = NULL;
    klaw_bcast_rx_free(rx);
    if (s != KLAW_CLOSED) {
        fanout_set_err(err, "%s: %s", what, klaw_strerror(s));
        return -1;
    }
    return 0;
}

/* Processes: the child closes the handle it opened. Threads: teardown
 * frees the handles setup made. */
static void klaw_abandon(void *sv, void *w, bool writer)
{
    klaw_state *st = sv;
    if (!st->k.process)
        return;
    if (writer)
        klaw_bcast_tx_free(w);
    else
        klaw_bcast_rx_free(w);
}

static void klaw_teardown(void *sv)
{
    klaw_state *st = sv;
    /* whatever a failed run left behind */
    for (unsigned i = 0; i < FANOUT_MAX_READERS; i++)
        klaw_bcast_rx_free(st->rx[i]);
    klaw_bcast_tx_free(st->tx);
    if (st->k.process)
        klaw_region_unlink(st->name); /* NOENT when attached() did it */
    fanout_shared_free(st);
}

static const fanout_impl impl_klaw = {
    .name = "klaw",
    .cannot = NULL,
    .setup = klaw_setup,
    .attach = klaw_attach,
    .attached = klaw_attached,
    .write = klaw_write,
    .read = klaw_read,
    .abandon = klaw_abandon,
    .teardown = klaw_teardown,
};

/* ---- measuring ---------------------------------------------------------------------------- */

static const fanout_impl *const IMPLS[] = {&impl_klaw, &fanout_peer_zmq};
enum { NIMPLS = sizeof IMPLS / sizeof IMPLS[0] };

static const uint32_t SIZES[] = {64, 4096};
static const uint32_t READERS[] = {1, 2, 4, 8};
enum { NSIZES = 2, NREADERS = 4, NPOLICIES = 2, NMODES = 2, NCASES = NMODES * NSIZES * NPOLICIES * NREADERS };

/* A case's medians, per implementation; for the CSV and the chart. */
typedef struct case_out {
    fanout_case k;
    struct {
        const char *skip; /* skipped: why (static)    */
        bool failed;
        char why[FANOUT_ERR];
        run_result med;
    } impl[NIMPLS];
} case_out;

static case_out results[NCASES];
static unsigned nresults;

static const char *policy_name(int p) { return p == FANOUT_BLOCK ? "block" : "overwrite"; }

static void make_key(bench_key *key, const fanout_case *k)
{
    memset(key, 0, sizeof *key);
    key->suite = SUITE;
    key->case_name = "1_to_n";
    bench_key_int(key, "frame_bytes", k->frame_bytes);
    bench_key_int(key, "readers", k->readers);
    bench_key_str(key, "policy", policy_name(k->policy));
    bench_key_str(key, "mode", k->process ? "process" : "thread");
}

static const struct {
    const char *metric, *unit;
    size_t off;
} METRICS[] = {
    {"frames_per_s", "frames/s", offsetof(run_result, frames_per_s)},
    {"delivered_per_s", "frames/s", offsetof(run_result, delivered_per_s)},
    {"lagged_frames", "frames", offsetof(run_result, lagged)},
    {"latency_p50_ns", "ns", offsetof(run_result, p50)},
    {"latency_p99_ns", "ns", offsetof(run_result, p99)},
    {"latency_p999_ns", "ns", offsetof(run_result, p999)},
    {"latency_max_ns", "ns", offsetof(run_result, max)},
};
enum { NMETRICS = sizeof METRICS / sizeof METRICS[0] };

static double *metric_of(run_result *r, unsigned m) { return (double *)((char *)r + METRICS[m].off); }

/* The progress line: on a terminal it rewrites itself, else one per step. */
static void progress(unsigned step, unsigned steps, const fanout_case *k, const char *impl, unsigned run,
                     unsigned runs)
{
    static int tty = -1;
    if (tty < 0)
        tty = isatty(2);
    fprintf(stderr, "%s[%u/%u] fanout %s N=%u %s %s %s run %u/%u ...%s", tty ? "\r" : "", step, steps,
            k->process ? "process" : "thread", k->readers, k->frame_bytes == 4096 ? "4KiB" : "64B",
            k->policy == FANOUT_BLOCK ? "BLOCK" : "OVERWRITE", impl, run, runs, tty ? "\033[K" : "\n");
}

/* The saturation phase: half klaw-bench's repetition time (0.1 s; the
 * paced phase half that again), so that the 64 cases x the default 5 runs
 * take about a minute on two cores. */
static uint64_t phase_ns(const bench_opts *o) { return o->rep_ns / 2; }

/* KLAW_BENCH_FANOUT_ONLY="process 64B BLOCK N=2 klaw" (any part of such a
 * label: "thread", "N=8 zeromq", ...) runs only what it names: for looking
 * at one case, or at klaw alone under a sanitizer. The rest is left out
 * (its rows say "skipped"). */
static bool selected(const fanout_case *k, const char *impl)
{
    const char *only = getenv("KLAW_BENCH_FANOUT_ONLY");
    char label[80];
    if (!only || !*only)
        return true;
    snprintf(label, sizeof label, "%s %s %s N=%u %s", k->process ? "process" : "thread",
             k->frame_bytes == 4096 ? "4KiB" : "64B", k->policy == FANOUT_BLOCK ? "BLOCK" : "OVERWRITE", k->readers,
             impl);
    return strstr(label, only) != NULL;
}

static void measure_case(const bench_opts *o, const fanout_case *k, unsigned *step, unsigned steps)
{
    static run_result rs[NIMPLS][BENCH_MAX_RUNS];
    const unsigned runs = o->runs < BENCH_MAX_RUNS ? o->runs : BENCH_MAX_RUNS;
    case_out *co = &results[nresults++];
    bench_key key;
    make_key(&key, k);
    memset(co, 0, sizeof *co);
    co->k = *k;

    for (unsigned i = 0; i < NIMPLS; i++) {
        co->impl[i].skip = IMPLS[i]->cannot ? IMPLS[i]->cannot(k) : NULL;
        if (!co->impl[i].skip && !selected(k, IMPLS[i]->name))
            co->impl[i].skip = "left out by KLAW_BENCH_FANOUT_ONLY";
    }
    /* interleaved: klaw, peer, klaw, peer, ... */
    for (unsigned r = 0; r < runs; r++) {
        for (unsigned i = 0; i < NIMPLS; i++) {
            if (co->impl[i].skip || co->impl[i].failed)
                continue;
            progress(*step + i + 1, steps, k, IMPLS[i]->name, r + 1, runs);
            if (run_once(IMPLS[i], k, phase_ns(o), &rs[i][r], co->impl[i].why) != 0)
                co->impl[i].failed = true;
        }
    }
    *step += NIMPLS;

    for (unsigned i = 0; i < NIMPLS; i++) {
        const char *name = IMPLS[i]->name;
        const char *why = co->impl[i].skip;
        char failed_why[FANOUT_ERR + 32];
        if (co->impl[i].failed) {
            fputs(isatty(2) ? "\n" : "", stderr);
            bench_fail(&key, "%s: %s", name, co->impl[i].why);
            snprintf(failed_why, sizeof failed_why, "failed its check: %s", co->impl[i].why);
            why = failed_why;
            if (IMPLS[i] == &impl_klaw)
                continue; /* klaw is never "skipped": klaw-bench exits 1 */
        }
        for (unsigned m = 0; m < NMETRICS; m++) {
            if (why) {
                bench_emit_skipped(&key, name, METRICS[m].metric, METRICS[m].unit, why);
                continue;
            }
            double v[BENCH_MAX_RUNS];
            for (unsigned r = 0; r < runs; r++)
                v[r] = *metric_of(&rs[i][r], m);
            double med = bench_median(v, runs);
            *metric_of(&co->impl[i].med, m) = med;
            bench_emit(&key, name, METRICS[m].metric, METRICS[m].unit, med);
        }
    }
}

/* ---- CSV and SVG ---------------------------------------------------------------------------- */

static const char *impl_state(const case_out *c, unsigned i)
{
    return c->impl[i].skip ? c->impl[i].skip : c->impl[i].failed ? "failed" : NULL;
}

static int write_csv(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs("mode,policy,frame_bytes,readers,impl", f);
    for (unsigned m = 0; m < NMETRICS; m++)
        fprintf(f, ",%s", METRICS[m].metric);
    fputs(",skipped\n", f);
    for (unsigned c = 0; c < nresults; c++) {
        case_out *co = &results[c];
        for (unsigned i = 0; i < NIMPLS; i++) {
            const char *st = impl_state(co, i);
            fprintf(f, "%s,%s,%u,%u,%s", co->k.process ? "process" : "thread", policy_name(co->k.policy),
                    co->k.frame_bytes, co->k.readers, IMPLS[i]->name);
            for (unsigned m = 0; m < NMETRICS; m++) {
                if (st)
                    fputs(",", f);
                else
                    fprintf(f, ",%.0f", *metric_of(&co->impl[i].med, m));
            }
            /* the reason, quoted; quotes in it doubled */
            fputs(",", f);
            if (st) {
                fputc('"', f);
                for (const char *p = st; *p; p++) {
                    if (*p == '"')
                        fputc('"', f);
                    fputc(*p == '\n' ? ' ' : *p, f);
                }
                fputc('"', f);
            }
            fputc('\n', f);
        }
    }
    return fclose(f) == 0 ? 0 : -1;
}

static void xml_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* "1.2M", "350k", "80" */
static void si(char *buf, size_t size, double v)
{
    if (v >= 1e9)
        snprintf(buf, size, "%gG", v / 1e9);
    else if (v >= 1e6)
        snprintf(buf, size, "%gM", v / 1e6);
    else if (v >= 1e3)
        snprintf(buf, size, "%gk", v / 1e3);
    else
        snprintf(buf, size, "%g", v);
}

/* Delivered frames/s against N: a panel per frame size and policy (2 x 2),
 * a line per implementation and mode, log-scaled y shared by all panels. */
static int write_svg(const char *path, const bench_opts *o)
{
    enum { PW = 420, PH = 280, ML = 64, MR = 16, MT = 34, MB = 40, TOP = 56, LEG = 48 };
    const int W = 2 * PW, H = TOP + 2 * PH + LEG;
    static const char *const COLORS[NIMPLS][2] = {{"#1f5fbf", "#6fa8ff"}, {"#c0392b", "#f0a08f"}};
    double lo = INFINITY, hi = 0;
    for (unsigned c = 0; c < nresults; c++)
        for (unsigned i = 0; i < NIMPLS; i++) {
            double v = results[c].impl[i].med.delivered_per_s;
            if (!impl_state(&results[c], i) && v > 0) {
                lo = v < lo ? v : lo;
                hi = v > hi ? v : hi;
            }
        }
    if (hi <= 0) {
        lo = 1e3;
        hi = 1e6;
    }
    double dlo = floor(log10(lo)), dhi = ceil(log10(hi));
    if (dhi <= dlo)
        dhi = dlo + 1;

    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
            "font-family=\"sans-serif\" font-size=\"12\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
            "<text x=\"%d\" y=\"22\" text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\">klaw-bench "
            "fanout: frames delivered/s (summed over readers), 1 writer to N readers</text>\n"
            "<text x=\"%d\" y=\"42\" text-anchor=\"middle\" fill=\"#555\">median of %u runs of %.2f s + %.2f s "
            "paced; ring / HWM %d frames; log scale; higher is better</text>\n",
            W, H, W, H, W / 2, W / 2, o->runs, (double)phase_ns(o) / 1e9, (double)phase_ns(o) / 2e9,
            FANOUT_RING_SLOTS);
    for (unsigned s = 0; s < NSIZES; s++) {
        for (unsigned p = 0; p < NPOLICIES; p++) {
            const int x0 = (int)p * PW + ML, y0 = TOP + (int)s * PH + MT;
            const int pw = PW - ML - MR, ph = PH - MT - MB;
            fprintf(f, "<g>\n<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-weight=\"bold\">%s frames, %s</text>\n",
                    x0 + pw / 2, y0 - 10, SIZES[s] == 4096 ? "4 KiB" : "64 B", p ? "BLOCK" : "OVERWRITE");
            fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#888\"/>\n", x0, y0,
                    pw, ph);
            for (double d = dlo; d <= dhi; d += 1) {
                int y = y0 + ph - (int)lround((d - dlo) / (dhi - dlo) * ph);
                char lab[16];
                si(lab, sizeof lab, pow(10, d));
                fprintf(f,
                        "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#ddd\"/>"
                        "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>\n",
                        x0, y, x0 + pw, y, x0 - 6, y + 4, lab);
            }
            for (unsigned n = 0; n < NREADERS; n++) {
                int x = x0 + (int)lround((n + 0.5) * pw / NREADERS);
                fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%u</text>\n", x, y0 + ph + 16, READERS[n]);
            }
            fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"#555\">readers (N)</text>\n",
                    x0 + pw / 2, y0 + ph + 32);
            for (unsigned i = 0; i < NIMPLS; i++) {
                for (unsigned m = 0; m < NMODES; m++) {
                    const char *color = COLORS[i][m];
                    char pts[512];
                    size_t used = 0;
                    pts[0] = '\0';
                    for (unsigned n = 0; n < NREADERS; n++) {
                        for (unsigned c = 0; c < nresults; c++) {
                            const case_out *co = &results[c];
                            double v = co->impl[i].med.delivered_per_s;
                            if (co->k.frame_bytes != SIZES[s] || co->k.policy != (int)p ||
                                co->k.process != (m == 0) || co->k.readers != READERS[n] || impl_state(co, i) ||
                                v <= 0)
                                continue;
                            int x = x0 + (int)lround((n + 0.5) * pw / NREADERS);
                            double t = (log10(v) - dlo) / (dhi - dlo);
                            int y = y0 + ph - (int)lround(t * ph);
                            fprintf(f, "<circle cx=\"%d\" cy=\"%d\" r=\"3\" fill=\"%s\"><title>%s %s N=%u: %.0f frames/s</title></circle>\n",
                                    x, y, color, IMPLS[i]->name, m == 0 ? "process" : "thread", READERS[n], v);
                            int k = snprintf(pts + used, sizeof pts - used, "%s%d,%d", used ? " " : "", x, y);
                            if (k > 0 && (size_t)k < sizeof pts - used)
                                used += (size_t)k;
                        }
                    }
                    if (used)
                        fprintf(f, "<polyline points=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s/>\n", pts,
                                color, m == 1 ? " stroke-dasharray=\"6 3\"" : "");
                }
            }
            fputs("</g>\n", f);
        }
    }
    /* legend */
    int lx = 24 + ML, ly = TOP + 2 * PH + 16;
    for (unsigned i = 0; i < NIMPLS; i++) {
        for (unsigned m = 0; m < NMODES; m++) {
            const char *label = i == 0 ? (m == 0 ? "klaw, processes (shared memory)" : "klaw, threads")
                                       : (m == 0 ? "ZeroMQ, processes (ipc://)" : "ZeroMQ, threads (inproc://)");
            fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"%s/>", lx,
                    ly - 4, lx + 28, ly - 4, COLORS[i][m], m == 1 ? " stroke-dasharray=\"6 3\"" : "");
            fprintf(f, "<text x=\"%d\" y=\"%d\">", lx + 34, ly);
            xml_text(f, label);
            fputs("</text>\n", f);
            lx += PW;
        }
        lx = 24 + ML;
        ly += 18;
    }
    fputs("</svg>\n", f);
    return fclose(f) == 0 ? 0 : -1;
}

/* mkdir -p of path's directory part */
static void make_dirs(const char *path)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        mkdir(buf, 0777);
        *p = '/';
    }
}

/* A human table of what the main table (delivered_per_s) leaves out. */
static void print_details(void)
{
    printf("suite fanout details: frames published/s, lagged frames (medians), paced-phase latency p50 / p99 / "
           "p99.9 / max (us)\n\n");
    printf("%-8s %-9s %5s %2s  %-7s %12s %10s %8s %8s %8s %9s\n", "mode", "policy", "frame", "N", "impl",
           "published/s", "lagged", "p50", "p99", "p99.9", "max");
    for (unsigned c = 0; c < nresults; c++) {
        const case_out *co = &results[c];
        for (unsigned i = 0; i < NIMPLS; i++) {
            const char *st = impl_state(co, i);
            printf("%-8s %-9s %5s %2u  %-7s ", co->k.process ? "process" : "thread", policy_name(co->k.policy),
                   co->k.frame_bytes == 4096 ? "4KiB" : "64B", co->k.readers, IMPLS[i]->name);
            if (st) {
                printf("%s\n", co->impl[i].failed ? "failed" : "skipped");
                continue;
            }
            const run_result *r = &co->impl[i].med;
            printf("%12.0f %10.0f %8.1f %8.1f %8.1f %9.1f\n", r->frames_per_s, r->lagged, r->p50 / 1e3, r->p99 / 1e3,
                   r->p999 / 1e3, r->max / 1e3);
        }
    }
    printf("\n");
}

static void run_fanout(const bench_opts *o)
{
    const unsigned steps = NCASES * NIMPLS;
    unsigned step = 0;
    struct sigaction ign, old;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ign, &old);
    find_cpus();
    nresults = 0;
    for (int process = 1; process >= 0; process--)
        for (unsigned s = 0; s < NSIZES; s++)
            for (int p = 0; p < NPOLICIES; p++)
                for (unsigned n = 0; n < NREADERS; n++) {
                    fanout_case k = {.frame_bytes = SIZES[s], .readers = READERS[n], .policy = p,
                                     .process = process != 0};
                    measure_case(o, &k, &step, steps);
                }
    fprintf(stderr, "%s[%u/%u] fanout done%s", isatty(2) ? "\r" : "", step, steps, isatty(2) ? "\033[K\n" : "\n");
    sigaction(SIGPIPE, &old, NULL);

    const char *csv = o->csv_path ? o->csv_path : "bench-results/fanout.csv";
    const char *svg = o->svg_path ? o->svg_path : "bench-results/fanout.svg";
    make_dirs(csv);
    make_dirs(svg);
    if (write_csv(csv) != 0)
        fprintf(stderr, "klaw-bench: fanout: cannot write %s: %s\n", csv, strerror(errno));
    else
        fprintf(stderr, "klaw-bench: fanout: wrote %s\n", csv);
    if (write_svg(svg, o) != 0)
        fprintf(stderr, "klaw-bench: fanout: cannot write %s: %s\n", svg, strerror(errno));
    else
        fprintf(stderr, "klaw-bench: fanout: wrote %s\n", svg);
    if (!o->json)
        print_details();
}

const bench_suite bench_suite_fanout = {
    .name = "fanout",
    .summary = "broadcast: 1 writer -> 1/2/4/8 readers, 64 B and 4 KiB, OVERWRITE and BLOCK, threads and processes",
    .table_metric = "delivered_per_s",
    .lower_is_better = false,
    .peers = "zeromq (PUB/SUB, ipc:// between processes, inproc:// between threads)",
    .rep_scale = 1,
    .run = run_fanout,
};
