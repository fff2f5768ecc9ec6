/*
 * suite_mpmc.c - klaw-bench's mpmc suite: klaw's MPMC channel against
 * ck_ring (MPMC and SPSC, passing pointers), liburcu's wfcqueue, a pipe and
 * a Unix-domain socket, moving the same frames in the same layouts in the
 * same run.
 *
 * Cases: frames of 64 B and 1 KiB; one producer and one consumer ("1p1c")
 * or two of each ("2p2c"); one frame per operation or 32 ("batch"); the
 * workers threads of this process or forked processes ("mode"). Every
 * implementation writes each frame in full and checks each one it takes
 * (peer_mpmc.h says how); a repetition that delivers anything but exactly
 * producers x n intact frames, each producer's in order, fails the case,
 * and klaw-bench exits 1.
 *
 * klaw: producers klaw_mpmc_claim -> write the frame in place ->
 * klaw_mpmc_commit (batched: klaw_mpmc_claim_batch of 32 ->
 * klaw_mpmc_commit_batch); consumers klaw_mpmc_view -> check in place ->
 * klaw_mpmc_release (batched: klaw_mpmc_view_batch of 32 ->
 * klaw_mpmc_release_batch), until KLAW_CLOSED. The blocking calls wait the
 * channel's way: a short spin, then a futex park. Threads share an
 * anonymous channel (cloned handles); processes open a named one
 * (klaw_mpmc_open_tx / _rx) that the runner created and unlinks once they
 * have it. Capacity MPMC_RING_SLOTS (1024), max_frame = the frame size.
 * The peers' files say what they do per frame and how they wait.
 *
 * A repetition: fresh state (channel, ring, pipe), the workers started
 * (threads, or fork()ed children) and attached, then the clock starts and
 * the workers go; it stops at the last worker's end (CLOCK_MONOTONIC, read
 * by the workers themselves). Setup, fork and teardown are outside it. The
 * frames per producer are calibrated so a repetition lasts about the
 * suite's repetition time (after a warm-up repetition); repetitions of
 * all implementations of a case alternate, and each row is the median.
 * frames_per_s counts frames delivered: producers x n / time; ns_per_op is
 * its inverse (time per frame, for the whole channel).
 *
 * Workers are pinned: producer i to the i-th CPU this process may use,
 * consumer j to the (j+1)-th (modulo their number), so the two sides of
 * 1p1c always run on different cores and exchange frames through the
 * caches, as a channel's users would. On this project's 2 cores a 2p2c
 * case runs 4 workers on 2 CPUs (one producer and one consumer on each):
 * it is oversubscribed on purpose, and waiting strategies that give the
 * CPU away do better there than spinning.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
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
#include "klaw/mpmc.h"
#include "klaw/region.h"
#include "peer_mpmc.h"

#define SUITE "mpmc"

enum {
    MAX_WORKERS = MPMC_MAX_PRODUCERS + MPMC_MAX_CONSUMERS,
    START_TIMEOUT_S = 30, /* workers attached by then, or the rep fails  */
    RUN_TIMEOUT_S = 120,  /* a repetition that takes longer is a hang    */
};

/* ---- memory shared with forked children ------------------------------------ */

typedef struct shared_hdr {
    size_t size;
    uint8_t pad_[64 - sizeof(size_t)];
} shared_hdr;

void *mpmc_shared_alloc(size_t size)
{
    size_t total = sizeof(shared_hdr) + size;
    void *m = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        fprintf(stderr, "klaw-bench: mpmc: mmap of %zu bytes: %s\n", total, strerror(errno));
        exit(1);
    }
    ((shared_hdr *)m)->size = total;
    return (uint8_t *)m + sizeof(shared_hdr);
}

void mpmc_shared_free(void *p)
{
    if (!p)
        return;
    shared_hdr *h = (shared_hdr *)((uint8_t *)p - sizeof(shared_hdr));
    munmap(h, h->size);
}

/* ---- checking ------------------------------------------------------------------ */

void mpmc_check_init(mpmc_check *c, const mpmc_case *k)
{
    memset(c, 0, sizeof *c);
    c->frame_bytes = k->frame_bytes;
    c->producers = k->producers;
}

void mpmc_check_fail(mpmc_check *c, const uint8_t *p, size_t len)
{
    c->frames++;
    if (c->bad++)
        return;
    uint64_t counter = 0;
    uint32_t id = 0, flen = 0;
    if (len >= MPMC_FRAME_HDR) {
        memcpy(&counter, p, 8);
        memcpy(&id, p + 8, 4);
        memcpy(&flen, p + 12, 4);
    }
    if (len != c->frame_bytes || flen != len)
        snprintf(c->why, sizeof c->why, "a frame of %zu bytes (header says %u), want %u", len, flen, c->frame_bytes);
    else if (id >= c->producers)
        snprintf(c->why, sizeof c->why, "a frame from producer %u of %u", id, c->producers);
    else if (counter <= c->last[id])
        snprintf(c->why, sizeof c->why, "producer %u's frame %llu came after its frame %llu (FIFO per producer)", id,
                 (unsigned long long)counter, (unsigned long long)c->last[id]);
    else
        snprintf(c->why, sizeof c->why, "producer %u's frame %llu has the wrong bytes (torn or overwritten)", id,
                 (unsigned long long)counter);
}

/* 1 + 2 + ... + n and 1 + 4 + ... + n^2, mod 2^64 (as the consumers sum). */
static uint64_t sum_to(uint64_t n) { return n % 2 ? (n + 1) / 2 * n : n / 2 * (n + 1); }

static uint64_t sumsq_to(uint64_t n)
{
    uint64_t a = n, b = n + 1, c = 2 * n + 1;
    if (a % 2 == 0)
        a /= 2;
    else
        b /= 2;
    if (a % 3 == 0)
        a /= 3;
    else if (b % 3 == 0)
        b /= 3;
    else
        c /= 3;
    return a * b * c;
}

/* ---- the runner ------------------------------------------------------------------ */

typedef struct worker_out {
    _Alignas(64) uint64_t end_ns;
    int rc;       /* 0, or -1 with err                        */
    int attached;
    char err[MPMC_ERR];
    mpmc_check chk; /* a consumer's, copied in when it is done  */
} worker_out;

/* One repetition's control block, in shared memory. */
typedef struct run_ctl {
    _Alignas(64) _Atomic uint32_t ready; /* workers attached              */
    _Alignas(64) _Atomic uint32_t go;    /* 0 wait, 1 run, 2 run 0 frames  */
    const mpmc_impl *impl;
    const mpmc_case *k;
    void *st;
    uint64_t n;
    worker_out w[MAX_WORKERS];
} run_ctl;

typedef struct thread_arg {
    run_ctl *ctl;
    unsigned slot;
} thread_arg;

static void futex_wait(_Atomic uint32_t *a, uint32_t v, long timeout_ns)
{
    struct timespec t = {timeout_ns / 1000000000, timeout_ns % 1000000000};
    /* shared, not FUTEX_PRIVATE: the word may be in a MAP_SHARED mapping
     * that forked children use */
    syscall(SYS_futex, a, FUTEX_WAIT, v, timeout_ns ? &t : NULL, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *a) { syscall(SYS_futex, a, FUTEX_WAKE, INT_MAX, NULL, NULL, 0); }

/* The CPUs this process may run on, in order; 0 if it cannot tell. */
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

/* Producer i runs on CPU i, consumer j on CPU j + 1 (modulo the CPUs we
 * have): a producer and its consumer never share a core unless there is
 * only one, and on 2 CPUs a 2p2c case puts one producer and one consumer
 * on each. Without it the scheduler may stack both sides of 1p1c on one
 * core while the other core is busy elsewhere, which turns the
 * measurement into one of the scheduler. */
static void pin(bool producer, unsigned id)
{
    if (ncpus < 2)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpus[(producer ? id : id + 1) % ncpus], &set);
    sched_setaffinity(0, sizeof set, &set); /* best effort */
}

static void worker(run_ctl *ctl, unsigned slot)
{
    const mpmc_case *k = ctl->k;
    worker_out *o = &ctl->w[slot];
    bool producer = slot < k->producers;
    unsigned id = producer ? slot : slot - k->producers;
    pin(producer, id);
    void *w = ctl->impl->attach(ctl->st, producer, id, o->err);
    o->attached = w != NULL;
    atomic_fetch_add(&ctl->ready, 1);
    futex_wake(&ctl->ready);
    uint32_t go;
    while ((go = atomic_load(&ctl->go)) == 0)
        futex_wait(&ctl->go, 0, 0);
    if (!w) {
        o->rc = -1;
        return;
    }
    uint64_t n = go == 1 ? ctl->n : 0;
    if (producer) {
        o->rc = ctl->impl->produce(ctl->st, w, id, n, o->err);
    } else {
        mpmc_check chk;
        mpmc_check_init(&chk, k);
        o->rc = ctl->impl->consume(ctl->st, w, &chk, o->err);
        o->chk = chk;
    }
    o->end_ns = bench_now_ns();
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
                snprintf(err, MPMC_ERR, "workers did not finish in %d s: killed", RUN_TIMEOUT_S);
                rc = -1;
            }
        }
        if (!killed && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
            if (rc == 0)
                snprintf(err, MPMC_ERR, "a worker process %s %d", WIFSIGNALED(status) ? "died of signal" : "exited",
                         WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
            rc = -1;
        }
    }
    alarm(0);
    sigaction(SIGALRM, &old, NULL);
    return rc;
}

/* Checks what the consumers saw: exactly n intact frames of each producer,
 * each once. */
static int check_delivery(const run_ctl *ctl, char *err)
{
    const mpmc_case *k = ctl->k;
    const uint64_t n = ctl->n;
    uint64_t total = 0;
    for (unsigned c = 0; c < k->consumers; c++) {
        const mpmc_check *chk = &ctl->w[k->producers + c].chk;
        total += chk->frames;
        if (chk->bad) {
            snprintf(err, MPMC_ERR, "%llu bad frames; the first: %.*s", (unsigned long long)chk->bad, MPMC_ERR - 48,
                     chk->why);
            return -1;
        }
    }
    if (total != (uint64_t)k->producers * n) {
        snprintf(err, MPMC_ERR, "delivered %llu frames, want %llu", (unsigned long long)total,
                 (unsigned long long)k->producers * n);
        return -1;
    }
    for (unsigned p = 0; p < k->producers; p++) {
        uint64_t count = 0, sum = 0, sumsq = 0;
        for (unsigned c = 0; c < k->consumers; c++) {
            const mpmc_check *chk = &ctl->w[k->producers + c].chk;
            count += chk->count[p];
            sum += chk->sum[p];
            sumsq += chk->sumsq[p];
        }
        if (count != n || sum != sum_to(n) || sumsq != sumsq_to(n)) {
            snprintf(err, MPMC_ERR, "producer %u: %llu frames delivered, want %llu, or some twice and some never", p,
                     (unsigned long long)count, (unsigned long long)n);
            return -1;
        }
    }
    return 0;
}

/* One repetition of n frames per producer. Returns its time in ns, or 0
 * with err set when it failed. */
static uint64_t run_rep(const mpmc_impl *impl, const mpmc_case *k, uint64_t n, char *err)
{
    const unsigned nw = k->producers + k->consumers;
    run_ctl *ctl = mpmc_shared_alloc(sizeof *ctl);
    pid_t pids[MAX_WORKERS];
    pthread_t threads[MAX_WORKERS];
    thread_arg args[MAX_WORKERS];
    unsigned started = 0;
    uint64_t elapsed = 0;
    int rc = 0;

    err[0] = '\0';
    ctl->impl = impl;
    ctl->k = k;
    ctl->n = n;
    ctl->st = impl->setup(k, err);
    if (!ctl->st) {
        mpmc_shared_free(ctl);
        return 0;
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
                snprintf(err, MPMC_ERR, "fork: %s", strerror(errno));
                break;
            }
            pids[started] = pid;
        } else {
            args[started] = (thread_arg){ctl, started};
            int e = pthread_create(&threads[started], NULL, thread_main, &args[started]);
            if (e != 0) {
                snprintf(err, MPMC_ERR, "pthread_create: %s", strerror(e));
                break;
            }
        }
    }

    /* wait until every started worker has attached */
    uint64_t until = bench_now_ns() + (uint64_t)START_TIMEOUT_S * 1000000000u;
    for (;;) {
        uint32_t v = atomic_load(&ctl->ready);
        if (v >= started)
            break;
        if (bench_now_ns() > until) {
            snprintf(err, MPMC_ERR, "workers did not attach in %d s", START_TIMEOUT_S);
            break;
        }
        futex_wait(&ctl->ready, v, 100000000);
    }
    bool all = started == nw && atomic_load(&ctl->ready) == nw;
    for (unsigned i = 0; i < nw && all; i++)
        all = ctl->w[i].attached;
    impl->attached(ctl->st);
    uint64_t t0 = bench_now_ns();
    atomic_store(&ctl->go, all ? 1 : 2);
    futex_wake(&ctl->go);

    if (k->process) {
        char werr[MPMC_ERR];
        if (reap_children(pids, started, werr) != 0) {
            if (!err[0])
                snprintf(err, MPMC_ERR, "%s", werr);
            rc = -1;
        }
    } else {
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_sec += RUN_TIMEOUT_S;
        for (unsigned i = 0; i < started; i++) {
            if (pthread_timedjoin_np(threads[i], NULL, &dl) != 0) {
                fprintf(stderr, "klaw-bench: mpmc: %s: worker threads did not finish in %d s\n", impl->name,
                        RUN_TIMEOUT_S);
                exit(1); /* threads cannot be killed; nothing sound is left to do */
            }
        }
    }
    impl->teardown(ctl->st);

    if (!all || started != nw)
        rc = -1;
    for (unsigned i = 0; i < nw && rc == 0; i++) {
        if (ctl->w[i].rc != 0) {
            /* the worker's message is cut to what fits after "consumer N: " */
            snprintf(err, MPMC_ERR, "%s %u: %.*s", i < k->producers ? "producer" : "consumer",
                     i < k->producers ? i : i - k->producers, MPMC_ERR - 24,
                     ctl->w[i].err[0] ? ctl->w[i].err : "failed");
            rc = -1;
        }
        if (ctl->w[i].end_ns > t0 + elapsed)
            elapsed = ctl->w[i].end_ns - t0;
    }
    if (rc == 0 && check_delivery(ctl, err) != 0)
        rc = -1;
    if (rc != 0 && !err[0])
        snprintf(err, MPMC_ERR, "a worker failed to start");
    mpmc_shared_free(ctl);
    if (rc != 0)
        return 0;
    return elapsed ? elapsed : 1;
}

/* ---- klaw ---------------------------------------------------------------------- */

typedef struct klaw_state {
    mpmc_case k;
    bool one_to_one;  /* klaw_1to1: KLAW_MPMC_SINGLE_PRODUCER | _CONSUMER */
    char name[64];
    klaw_mpmc_tx *tx; /* the creator's handles, dropped once the workers */
    klaw_mpmc_rx *rx; /* have theirs                                      */
} klaw_state;

static void *setup_as(const mpmc_case *k, bool one_to_one, char *err)
{
    static unsigned seq;
    klaw_state *st = mpmc_shared_alloc(sizeof *st);
    st->k = *k;
    st->one_to_one = one_to_one;
    if (k->process)
        snprintf(st->name, sizeof st->name, "klaw-bench-%d-%u", (int)getpid(), seq++);
    klaw_mpmc_opts o = {.capacity = MPMC_RING_SLOTS, .max_frame = k->frame_bytes, .name = k->process ? st->name : NULL};
    klaw_status s;
    if (one_to_one) {
        /* one handle per side: threads get the creator's, processes open
         * their own (the channel is created with none) */
        o.flags = KLAW_MPMC_SINGLE_PRODUCER | KLAW_MPMC_SINGLE_CONSUMER;
        s = k->process ? klaw_mpmc_create(&o, NULL, NULL) : klaw_mpmc_create(&o, &st->tx, &st->rx);
    } else {
        s = klaw_mpmc_create(&o, &st->tx, &st->rx);
    }
    if (s != KLAW_OK) {
        snprintf(err, MPMC_ERR, "klaw_mpmc_create: %s", klaw_strerror(s));
        mpmc_shared_free(st);
        return NULL;
    }
    return st;
}

static void *klaw_setup(const mpmc_case *k, char *err) { return setup_as(k, false, err); }
static void *klaw_1to1_setup(const mpmc_case *k, char *err) { return setup_as(k, true, err); }

static void *klaw_attach(void *sv, bool producer, unsigned id, char *err)
{
    klaw_state *st = sv;
    klaw_status s;
    void *h = NULL;
    (void)id;
    if (st->one_to_one && !st->k.process) {
        /* the only handles: the worker owns (and frees) them now */
        h = producer ? (void *)st->tx : (void *)st->rx;
        if (producer)
            st->tx = NULL;
        else
            st->rx = NULL;
        return h;
    }
    if (producer) {
        klaw_mpmc_tx *tx;
        s = st->k.process ? klaw_mpmc_open_tx(st->name, &tx) : klaw_mpmc_tx_clone(st->tx, &tx);
        h = tx;
    } else {
        klaw_mpmc_rx *rx;
        s = st->k.process ? klaw_mpmc_open_rx(st->name, &rx) : klaw_mpmc_rx_clone(st->rx, &rx);
        h = rx;
    }
    if (s != KLAW_OK) {
        snprintf(err, MPMC_ERR, "%s: %s", st->k.process ? "open" : "clone", klaw_strerror(s));
        return NULL;
    }
    return h;
}

static void klaw_attached(void *sv)
{
    klaw_state *st = sv;
    klaw_mpmc_tx_free(st->tx);
    klaw_mpmc_rx_free(st->rx);
    st->tx = NULL;
    st->rx = NULL;
    if (st->k.process)
        klaw_region_unlink(st->name);
}

static int klaw_produce(void *sv, void *w, unsigned id, uint64_t n, char *err)
{
    klaw_state *st = sv;
    klaw_mpmc_tx *tx = w;
    const uint32_t fb = st->k.frame_bytes;
    klaw_status s = KLAW_OK;
    if (st->k.batch == 1) {
        for (uint64_t c = 1; c <= n; c++) {
            klaw_frame f;
            s = klaw_mpmc_claim(tx, fb, NULL, &f);
            if (s != KLAW_OK)
                break;
            mpmc_frame_write(f.data, fb, id, c);
            s = klaw_mpmc_commit(tx, &f, fb);
            if (s != KLAW_OK)
                break;
        }
    } else {
        klaw_frame f[MPMC_BATCH];
        for (uint64_t c = 1; c <= n;) {
            size_t want = n - c + 1 < MPMC_BATCH ? (size_t)(n - c + 1) : MPMC_BATCH, got;
            s = klaw_mpmc_claim_batch(tx, fb, f, want, &got, NULL);
            if (s != KLAW_OK)
                break;
            for (size_t i = 0; i < got; i++)
                mpmc_frame_write(f[i].data, fb, id, c + i);
            s = klaw_mpmc_commit_batch(tx, f, got);
            if (s != KLAW_OK)
                break;
            c += got;
        }
    }
    klaw_mpmc_tx_free(tx); /* the last sender's close lets consumers finish */
    if (s != KLAW_OK) {
        snprintf(err, MPMC_ERR, "claim/commit: %s", klaw_strerror(s));
        return -1;
    }
    return 0;
}

static int klaw_consume(void *sv, void *w, mpmc_check *chk, char *err)
{
    klaw_state *st = sv;
    klaw_mpmc_rx *rx = w;
    klaw_status s;
    if (st->k.batch == 1) {
        klaw_frame f;
        while ((s = klaw_mpmc_view(rx, NULL, &f)) == KLAW_OK) {
            mpmc_check_frame(chk, f.data, f.len);
            klaw_mpmc_release(rx, &f);
        }
    } else {
        klaw_frame f[MPMC_BATCH];
        size_t got;
        while ((s = klaw_mpmc_view_batch(rx, f, MPMC_BATCH, &got, NULL)) == KLAW_OK) {
            for (size_t i = 0; i < got; i++)
                mpmc_check_frame(chk, f[i].data, f[i].len);
            klaw_mpmc_release_batch(rx, f, got);
        }
    }
    klaw_mpmc_rx_free(rx);
    if (s != KLAW_CLOSED) {
        snprintf(err, MPMC_ERR, "view: %s", klaw_strerror(s));
        return -1;
    }
    return 0;
}

static void klaw_teardown(void *sv)
{
    klaw_state *st = sv;
    klaw_mpmc_tx_free(st->tx); /* only if attached() did not run */
    klaw_mpmc_rx_free(st->rx);
    mpmc_shared_free(st);
}

static const mpmc_impl impl_klaw = {
    .name = "klaw",
    .cannot = NULL,
    .setup = klaw_setup,
    .attach = klaw_attach,
    .attached = klaw_attached,
    .produce = klaw_produce,
    .consume = klaw_consume,
    .teardown = klaw_teardown,
};

static const char *klaw_1to1_cannot(const mpmc_case *k)
{
    return k->producers == 1 && k->consumers == 1 ? NULL : "one producer and one consumer only (KLAW_MPMC_SINGLE_*)";
}

/* The same channel created with KLAW_MPMC_SINGLE_PRODUCER |
 * KLAW_MPMC_SINGLE_CONSUMER: each side takes its slots with plain stores
 * (klaw/mpmc.h). Its like-for-like peer is ck_ring's SPSC ring. */
static const mpmc_impl impl_klaw_1to1 = {
    .name = "klaw_1to1",
    .cannot = klaw_1to1_cannot,
    .setup = klaw_1to1_setup,
    .attach = klaw_attach,
    .attached = klaw_attached,
    .produce = klaw_produce,
    .consume = klaw_consume,
    .teardown = klaw_teardown,
};

/* ---- measuring a case -------------------------------------------------------------- */

static const mpmc_impl *const IMPLS[] = {
    &impl_klaw, &impl_klaw_1to1, &mpmc_peer_ck_mpmc, &mpmc_peer_ck_spsc, &mpmc_peer_wfcq, &mpmc_peer_pipe, &mpmc_peer_socket,
};
enum { NIMPLS = sizeof IMPLS / sizeof IMPLS[0] };

typedef struct subject {
    const mpmc_impl *impl;
    const char *skip;  /* cannot run this case: why            */
    bool failed;
    char why[MPMC_ERR];
    uint64_t n;        /* frames per producer per repetition   */
    double ns[BENCH_MAX_RUNS]; /* per frame, each repetition   */
} subject;

/* One repetition; false (and the subject failed) when it did not deliver. */
static bool rep_once(subject *s, const mpmc_case *k, uint64_t n, uint64_t *elapsed)
{
    *elapsed = run_rep(s->impl, k, n, s->why);
    if (*elapsed == 0) {
        s->failed = true;
        return false;
    }
    return true;
}

/* A warm-up repetition, then grows n until one takes an eighth of rep_ns,
 * and scales it to rep_ns. */
static void calibrate(subject *s, const mpmc_case *k, uint64_t rep_ns, bool quick)
{
    uint64_t n = quick ? 256 : 4096, t;
    if (!rep_once(s, k, n, &t))
        return;
    for (;;) {
        if (!rep_once(s, k, n, &t))
            return;
        if (t >= rep_ns / 8 || n >= (UINT64_C(1) << 36))
            break;
        n *= t < rep_ns / 64 ? 8 : 2;
    }
    double scaled = (double)n * (double)rep_ns / (double)t;
    s->n = scaled < 1.0 ? 1 : (uint64_t)scaled;
}

static void make_key(bench_key *key, const mpmc_case *k)
{
    memset(key, 0, sizeof *key);
    key->suite = SUITE;
    key->case_name = k->producers == 1 && k->consumers == 1 ? "1p1c" : "2p2c";
    bench_key_int(key, "frame_bytes", k->frame_bytes);
    bench_key_int(key, "producers", k->producers);
    bench_key_int(key, "consumers", k->consumers);
    bench_key_int(key, "batch", k->batch);
    bench_key_str(key, "mode", k->process ? "process" : "thread");
}

static void measure_case(const bench_opts *o, const mpmc_case *k)
{
    static subject subs[NIMPLS];
    unsigned runs = o->runs < BENCH_MAX_RUNS ? o->runs : BENCH_MAX_RUNS;
    bench_key key;
    make_key(&key, k);
    /* KLAW_BENCH_MPMC_ONLY="thread 1p1c 64B batch=1" (any part of such a
     * label): only the cases it names run (their rows only are printed) */
    const char *only = getenv("KLAW_BENCH_MPMC_ONLY");
    if (only && *only) {
        char label[96];
        snprintf(label, sizeof label, "%s %s %uB batch=%u", k->process ? "process" : "thread",
                 k->producers == 1 && k->consumers == 1 ? "1p1c" : "2p2c", (unsigned)k->frame_bytes,
                 (unsigned)k->batch);
        if (!strstr(label, only))
            return;
    }

    for (unsigned i = 0; i < NIMPLS; i++) {
        subject *s = &subs[i];
        memset(s, 0, sizeof *s);
        s->impl = IMPLS[i];
        s->skip = s->impl->cannot ? s->impl->cannot(k) : NULL;
        if (!s->skip)
            calibrate(s, k, o->rep_ns, o->quick);
    }
    /* interleaved: klaw, peer, peer, ..., klaw, peer, ... */
    for (unsigned r = 0; r < runs; r++) {
        for (unsigned i = 0; i < NIMPLS; i++) {
            subject *s = &subs[i];
            uint64_t t;
            if (s->skip || s->failed)
                continue;
            if (rep_once(s, k, s->n, &t))
                s->ns[r] = (double)t / ((double)s->n * k->producers);
        }
    }
    for (unsigned i = 0; i < NIMPLS; i++) {
        subject *s = &subs[i];
        const char *name = s->impl->name;
        if (s->skip) {
            bench_emit_skipped(&key, name, "frames_per_s", "frames/s", s->skip);
            bench_emit_skipped(&key, name, "ns_per_op", "ns", s->skip);
            continue;
        }
        if (s->failed) {
            bench_fail(&key, "%s: %s", name, s->why);
            if (s->impl != &impl_klaw && s->impl != &impl_klaw_1to1) {
                char why[MPMC_ERR + 32];
                snprintf(why, sizeof why, "failed its check: %s", s->why);
                bench_emit_skipped(&key, name, "frames_per_s", "frames/s", why);
                bench_emit_skipped(&key, name, "ns_per_op", "ns", why);
            }
            continue;
        }
        double ns = bench_median(s->ns, runs);
        bench_emit(&key, name, "frames_per_s", "frames/s", ns > 0 ? 1e9 / ns : 0.0);
        bench_emit(&key, name, "ns_per_op", "ns", ns);
    }
}

static void run_mpmc(const bench_opts *o)
{
    static const uint32_t sizes[] = {64, 1024};
    static const uint32_t layouts[][2] = {{1, 1}, {2, 2}};
    static const uint32_t batches[] = {1, MPMC_BATCH};
    /* a consumer gone early must not kill a pipe's producer */
    struct sigaction ign, old;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ign, &old);
    find_cpus();
    for (int process = 0; process < 2; process++)
        for (size_t l = 0; l < 2; l++)
            for (size_t f = 0; f < 2; f++)
                for (size_t b = 0; b < 2; b++) {
                    mpmc_case k = {.frame_bytes = sizes[f], .producers = layouts[l][0],
                                   .consumers = layouts[l][1], .batch = batches[b], .process = process != 0};
                    measure_case(o, &k);
                }
    sigaction(SIGPIPE, &old, NULL);
}

const bench_suite bench_suite_mpmc = {
    .name = "mpmc",
    .summary = "MPMC channel: frames/s for 64 B and 1 KiB frames, 1p1c and 2p2c, threads and processes",
    .table_metric = "frames_per_s",
    .lower_is_better = false,
    .peers = "ck_ring_mpmc, ck_ring_spsc, urcu_wfcq, pipe, unix_socket",
    .rep_scale = 2,
    .run = run_mpmc,
};
