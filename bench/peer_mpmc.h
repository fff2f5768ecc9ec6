/*
 * peer_mpmc.h - what the implementations of klaw-bench's mpmc suite share:
 * the frame every one of them writes and checks, the interface each gives
 * the runner (suite_mpmc.c), and how the peers wait. klaw's side is
 * mpmc_klaw.c, beside the peers' peer_*.c.
 *
 * The frame (frame_bytes bytes, 64 or 1024):
 *
 *     [0, 8)    counter: 1, 2, ... n for each producer (little-endian)
 *     [8, 12)   the producer's id
 *     [12, 16)  frame_bytes
 *     [16, end) one byte, fill_byte(counter, id), repeated
 *
 * A producer writes all of it for every frame (the header, then a memset
 * of the rest); a consumer reads the header, the word in the middle and the
 * last word (a torn or stale frame fails on the fill byte), and checks that
 * each producer's counters come strictly increasing (FIFO per producer as
 * one consumer sees it). The runner then checks, per producer, that the
 * consumers together saw exactly n frames whose counters sum to n(n+1)/2
 * and whose squares sum to n(n+1)(2n+1)/6 (mod 2^64): every frame once.
 *
 * An implementation is a set of functions on state it makes in memory
 * shared with forked children (bench_shared_alloc, runner.h), so the same
 * code runs with threads and with processes: setup (in the runner), attach (in each
 * worker, before the clock starts), attached (in the runner, once every
 * worker is attached), produce / consume (timed), teardown.
 */
#ifndef KLAW_BENCH_PEER_MPMC_H
#define KLAW_BENCH_PEER_MPMC_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <ck_pr.h>

#include "runner.h"

enum {
    MPMC_MAX_PRODUCERS = 4,
    MPMC_MAX_CONSUMERS = 4,
    MPMC_BATCH = 32,         /* frames per claim / view / write when batched */
    MPMC_RING_SLOTS = 1024,  /* klaw's capacity, ck_ring's size, the bound on
                                frames in flight for every ring-like peer     */
    MPMC_FRAME_HDR = 16,
    MPMC_ERR = 160,
};

typedef struct mpmc_case {
    uint32_t frame_bytes; /* 64 or 1024                                    */
    uint32_t producers, consumers;
    uint32_t batch;       /* 1 or MPMC_BATCH                               */
    bool process;         /* workers are forked processes, not threads     */
} mpmc_case;

/* ---- the frame ------------------------------------------------------------ */

static inline uint8_t mpmc_fill_byte(uint64_t counter, uint32_t id)
{
    return (uint8_t)(counter * 131u + id * 17u + 1u);
}

/* Writes frame `counter` of producer `id` into p (len bytes). */
static inline void mpmc_frame_write(uint8_t *p, uint32_t len, uint32_t id, uint64_t counter)
{
    memcpy(p, &counter, 8);
    memcpy(p + 8, &id, 4);
    memcpy(p + 12, &len, 4);
    memset(p + MPMC_FRAME_HDR, mpmc_fill_byte(counter, id), len - MPMC_FRAME_HDR);
}

/* What one consumer saw (kept in its own memory while it runs). */
typedef struct mpmc_check {
    uint32_t frame_bytes, producers;
    uint64_t frames; /* every frame it took, good or bad                 */
    uint64_t bad;    /* frames that failed a check                       */
    uint64_t last[MPMC_MAX_PRODUCERS], count[MPMC_MAX_PRODUCERS];
    uint64_t sum[MPMC_MAX_PRODUCERS], sumsq[MPMC_MAX_PRODUCERS];
    char why[MPMC_ERR]; /* the first failure                             */
} mpmc_check;

void mpmc_check_init(mpmc_check *c, const mpmc_case *k);
/* Records a frame that failed a check (out of line: never on the fast path). */
void mpmc_check_fail(mpmc_check *c, const uint8_t *p, size_t len) __attribute__((cold, noinline));

static inline void mpmc_check_frame(mpmc_check *c, const uint8_t *p, size_t len)
{
    uint64_t counter, mid, tail;
    uint32_t id, flen;
    if (__builtin_expect(len != c->frame_bytes, 0)) {
        mpmc_check_fail(c, p, len);
        return;
    }
    memcpy(&counter, p, 8);
    memcpy(&id, p + 8, 4);
    memcpy(&flen, p + 12, 4);
    memcpy(&mid, p + (len / 2 & ~(size_t)7), 8);
    memcpy(&tail, p + len - 8, 8);
    if (__builtin_expect(id >= c->producers || flen != len || counter <= c->last[id], 0)) {
        mpmc_check_fail(c, p, len);
        return;
    }
    uint64_t want = UINT64_C(0x0101010101010101) * mpmc_fill_byte(counter, id);
    if (__builtin_expect(mid != want || tail != want, 0)) {
        mpmc_check_fail(c, p, len);
        return;
    }
    c->last[id] = counter;
    c->count[id]++;
    c->sum[id] += counter;
    c->sumsq[id] += counter * counter;
    c->frames++;
}

/* ---- how the peers wait ------------------------------------------------------ */

/* A bounded spin with the CPU's pause, then sched_yield() on every further
 * attempt (on 2 cores with 4 workers, the one waited for may need this
 * core). Reset *k to 0 after progress. */
enum { MPMC_SPINS = 200 };
static inline void mpmc_backoff(unsigned *k)
{
    if (*k < MPMC_SPINS) {
        ck_pr_stall();
        (*k)++;
    } else {
        sched_yield();
    }
}

/* ---- the interface ------------------------------------------------------------ */

typedef struct mpmc_impl {
    const char *name; /* the "impl" of its rows                                */
    /* NULL when it can run the case, else why not (its rows say "skipped") */
    const char *(*cannot)(const mpmc_case *k);
    /* State for one repetition, in bench_shared_alloc memory; NULL with err
     * set on failure. */
    void *(*setup)(const mpmc_case *k, char *err);
    /* In the worker (thread or child), before the clock starts: its own
     * handle or end. Returns the worker's context, NULL with err set. */
    void *(*attach)(void *st, bool producer, unsigned id, char *err);
    /* In the runner once every worker has attached (klaw: drops the
     * creator's handles; pipes: closes the runner's copies of the ends). */
    void (*attached)(void *st);
    /* Frames 1..n of producer id, then gives the producer role up (close,
     * EOF, a done count) so the consumers can finish. 0, or -1 with err. */
    int (*produce)(void *st, void *w, unsigned id, uint64_t n, char *err);
    /* Takes frames until every producer has finished and nothing is left,
     * checking each. 0, or -1 with err (for a failure of the transport;
     * wrong frames go to chk). */
    int (*consume)(void *st, void *w, mpmc_check *chk, char *err);
    void (*teardown)(void *st);
} mpmc_impl;

/* klaw's MPMC channel, and the same created with KLAW_MPMC_SINGLE_PRODUCER
 * | KLAW_MPMC_SINGLE_CONSUMER (mpmc_klaw.c). */
extern const mpmc_impl mpmc_klaw, mpmc_klaw_1to1;
/* The peers (peer_ckring.c, peer_wfcq.c, peer_pipe.c). */
extern const mpmc_impl mpmc_peer_ck_mpmc, mpmc_peer_ck_spsc, mpmc_peer_wfcq, mpmc_peer_pipe, mpmc_peer_socket;

#endif /* KLAW_BENCH_PEER_MPMC_H */
