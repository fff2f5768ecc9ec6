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
 * klaw's side is mpmc_klaw.c (claim, write in place, commit; view, check
 * in place, release; batched by 32), the peers' are peer_ckring.c,
 * peer_wfcq.c and peer_pipe.c: each file says what it does per frame and
 * how it waits.
 *
 * A repetition: fresh state (channel, ring, pipe), the workers started
 * (threads, or fork()ed children, by the runner: runner.h) and attached,
 * then the clock starts and
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
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "bench_util.h"
#include "peer_mpmc.h"
#include "runner.h"

#define SUITE "mpmc"

enum {
    MAX_WORKERS = MPMC_MAX_PRODUCERS + MPMC_MAX_CONSUMERS,
    RUN_TIMEOUT_S = 120,  /* a repetition that takes longer is a hang    */
};

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
/* ---- one repetition ------------------------------------------------------------ */

typedef struct worker_out {
    _Alignas(64) uint64_t end_ns;
    int rc;       /* 0, or -1 with err                        */
    void *w;      /* its context, from attach (its own)       */
    char err[MPMC_ERR];
    mpmc_check chk; /* a consumer's, copied in when it is done  */
} worker_out;

/* One repetition's control block, in shared memory (runner.h). */
typedef struct run_ctl {
    const mpmc_impl *impl;
    const mpmc_case *k;
    void *st;
    uint64_t n;
    worker_out w[MAX_WORKERS];
} run_ctl;

/* Slots 0..producers-1: the producers; then the consumers. Producer i runs
 * on CPU i, consumer j on CPU j + 1 (modulo the CPUs we have): a producer
 * and its consumer never share a core unless there is only one, and on 2
 * CPUs a 2p2c case puts one producer and one consumer on each. Without it
 * the scheduler may stack both sides of 1p1c on one core while the other
 * core is busy elsewhere, which turns the measurement into one of the
 * scheduler. */
static bool worker_attach(void *arg, unsigned slot)
{
    run_ctl *ctl = arg;
    worker_out *o = &ctl->w[slot];
    bool producer = slot < ctl->k->producers;
    unsigned id = producer ? slot : slot - ctl->k->producers;
    bench_pin(producer ? id : id + 1);
    o->w = ctl->impl->attach(ctl->st, producer, id, o->err);
    return o->w != NULL;
}

static void worker_attached(void *arg)
{
    run_ctl *ctl = arg;
    ctl->impl->attached(ctl->st);
}

/* A repetition called off (!go) still runs, with 0 frames: each worker
 * gives up its role the way it does at the end. */
static void worker_run(void *arg, unsigned slot, bool go)
{
    run_ctl *ctl = arg;
    const mpmc_case *k = ctl->k;
    worker_out *o = &ctl->w[slot];
    bool producer = slot < k->producers;
    unsigned id = producer ? slot : slot - k->producers;
    if (!o->w) {
        o->rc = -1;
        return;
    }
    uint64_t n = go ? ctl->n : 0;
    if (producer) {
        o->rc = ctl->impl->produce(ctl->st, o->w, id, n, o->err);
    } else {
        mpmc_check chk;
        mpmc_check_init(&chk, k);
        o->rc = ctl->impl->consume(ctl->st, o->w, &chk, o->err);
        o->chk = chk;
    }
    o->end_ns = bench_now_ns();
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
    run_ctl *ctl = bench_shared_alloc(sizeof *ctl);
    char who[64];
    uint64_t t0, elapsed = 0;
    int rc = 0;

    err[0] = '\0';
    ctl->impl = impl;
    ctl->k = k;
    ctl->n = n;
    ctl->st = impl->setup(k, err);
    if (!ctl->st) {
        bench_shared_free(ctl);
        return 0;
    }
    snprintf(who, sizeof who, "%s: %s", SUITE, impl->name);
    const bench_workers w = {
        .who = who,
        .n = nw,
        .process = k->process,
        .run_timeout_s = RUN_TIMEOUT_S,
        .arg = ctl,
        .attach = worker_attach,
        .attached = worker_attached,
        .run = worker_run,
    };
    /* the clock starts when the workers are let go (t0) and stops at the
     * last one's end */
    if (bench_workers_run(&w, &t0, err, MPMC_ERR) != 0)
        rc = -1;
    impl->teardown(ctl->st);

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
    bench_shared_free(ctl);
    if (rc != 0)
        return 0;
    return elapsed ? elapsed : 1;
}

/* ---- measuring a case -------------------------------------------------------------- */

static const mpmc_impl *const IMPLS[] = {
    &mpmc_klaw, &mpmc_klaw_1to1, &mpmc_peer_ck_mpmc, &mpmc_peer_ck_spsc, &mpmc_peer_wfcq, &mpmc_peer_pipe, &mpmc_peer_socket,
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
            if (s->impl != &mpmc_klaw && s->impl != &mpmc_klaw_1to1) {
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
    bench_runner_begin(); /* CPUs; SIGPIPE ignored: a consumer gone early must
                             not kill a pipe's producer */
    for (int process = 0; process < 2; process++)
        for (size_t l = 0; l < 2; l++)
            for (size_t f = 0; f < 2; f++)
                for (size_t b = 0; b < 2; b++) {
                    mpmc_case k = {.frame_bytes = sizes[f], .producers = layouts[l][0],
                                   .consumers = layouts[l][1], .batch = batches[b], .process = process != 0};
                    measure_case(o, &k);
                }
    bench_runner_end();
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
