/*
 * peer_ckring.c - Concurrency Kit's ck_ring as a peer of the mpmc suite,
 * "passing pointers": the ring carries pointers (ck_ring_buffer_t is one
 * void * per slot), never frames.
 *
 * What it does per frame: the producer takes the next buffer of its own
 * pool (MPMC_RING_SLOTS + 64 buffers of 16 + frame_bytes bytes, rounded to
 * a cache line, like a klaw slot), waits until a consumer has given that
 * buffer back (its `busy` word is 0), writes the frame into it in place and
 * enqueues its pointer (ck_ring_enqueue_mpmc, or _spsc for the SPSC rows);
 * the consumer dequeues a pointer (ck_ring_dequeue_mpmc / _spsc), reads and
 * checks the frame in place, and gives the buffer back with a release store
 * of busy = 0. What it copies: the 8-byte pointer, into the ring and out of
 * it. What it does not: the frame itself - neither side copies a frame
 * byte, the same as klaw's claim/commit and view/release. The busy word is
 * the minimum a pool needs so a producer never overwrites a frame a
 * consumer still reads; ck_ring itself manages no memory.
 *
 * Batched rows: ck_ring has no call that enqueues or dequeues many
 * pointers, so the producer writes 32 frames and then makes 32 enqueues,
 * and the consumer makes up to 32 dequeues, then checks and gives back
 * those frames.
 *
 * Waiting: ck_ring never blocks; both sides retry with mpmc_backoff (a
 * bounded pause spin, then sched_yield). A consumer stops when the ring is
 * empty after every producer has counted itself done.
 *
 * Across processes: the ring, its slot array and the pools are in one
 * MAP_SHARED mapping made before the children are forked, so a pointer
 * means the same buffer in every process (unrelated processes that map the
 * memory at other addresses would have to pass offsets instead).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include <ck_ring.h>

#include "peer_mpmc.h"

enum { POOL_EXTRA = 64 };

typedef struct ckr_buf {
    _Atomic uint32_t busy; /* 1 from the write until the consumer is done */
    uint32_t pad_[3];
    uint8_t data[];        /* the frame, at offset 16 as in a klaw slot    */
} ckr_buf;

typedef struct ckr_state {
    struct ck_ring ring; /* indices on their own cache lines (ck's layout) */
    _Alignas(64) _Atomic uint32_t producers_done;
    _Alignas(64) mpmc_case k;
    uint32_t pool_n, stride;
    ck_ring_buffer_t *slots;
    uint8_t *pools;
} ckr_state;

static const char *ck_spsc_cannot(const mpmc_case *k)
{
    if (k->producers != 1 || k->consumers != 1)
        return "ck_ring's SPSC ring takes one producer and one consumer";
    return NULL;
}

static void *ckr_setup(const mpmc_case *k, char *err)
{
    (void)err;
    uint32_t pool_n = MPMC_RING_SLOTS + POOL_EXTRA;
    uint32_t stride = (uint32_t)((sizeof(ckr_buf) + k->frame_bytes + 63) / 64 * 64);
    size_t off_slots = (sizeof(ckr_state) + 63) / 64 * 64;
    size_t off_pools = (off_slots + MPMC_RING_SLOTS * sizeof(ck_ring_buffer_t) + 4095) / 4096 * 4096;
    uint8_t *m = bench_shared_alloc(off_pools + (size_t)k->producers * pool_n * stride);
    ckr_state *st = (ckr_state *)m;
    ck_ring_init(&st->ring, MPMC_RING_SLOTS);
    st->k = *k;
    st->pool_n = pool_n;
    st->stride = stride;
    st->slots = (ck_ring_buffer_t *)(m + off_slots);
    st->pools = m + off_pools;
    return st;
}

static void *ckr_attach(void *st, bool producer, unsigned id, char *err)
{
    (void)producer;
    (void)id;
    (void)err;
    return st;
}

static void ckr_attached(void *st) { (void)st; }

/* spsc is a constant in each caller, so each gets its own loop without a
 * branch per operation */
static inline bool ckr_enqueue(ckr_state *st, void *p, const bool spsc)
{
    return spsc ? ck_ring_enqueue_spsc(&st->ring, st->slots, p) : ck_ring_enqueue_mpmc(&st->ring, st->slots, p);
}

static inline bool ckr_dequeue(ckr_state *st, void *out, const bool spsc)
{
    return spsc ? ck_ring_dequeue_spsc(&st->ring, st->slots, out) : ck_ring_dequeue_mpmc(&st->ring, st->slots, out);
}

static inline __attribute__((always_inline)) void ckr_produce(ckr_state *st, unsigned id, uint64_t n, const bool spsc)
{
    const uint32_t fb = st->k.frame_bytes, batch = st->k.batch, stride = st->stride, pool_n = st->pool_n;
    uint8_t *pool = st->pools + (size_t)id * pool_n * stride;
    uint32_t next = 0;
    ckr_buf *group[MPMC_BATCH];
    unsigned k = 0;
    for (uint64_t c = 1; c <= n;) {
        uint32_t g = n - c + 1 < batch ? (uint32_t)(n - c + 1) : batch;
        for (uint32_t i = 0; i < g; i++) {
            ckr_buf *b = (ckr_buf *)(pool + (size_t)next * stride);
            next = next + 1 == pool_n ? 0 : next + 1;
            k = 0;
            while (atomic_load_explicit(&b->busy, memory_order_acquire))
                mpmc_backoff(&k);
            atomic_store_explicit(&b->busy, 1, memory_order_relaxed);
            mpmc_frame_write(b->data, fb, id, c + i);
            group[i] = b;
        }
        for (uint32_t i = 0; i < g; i++) {
            k = 0;
            while (!ckr_enqueue(st, group[i], spsc))
                mpmc_backoff(&k);
        }
        c += g;
    }
    atomic_fetch_add_explicit(&st->producers_done, 1, memory_order_release);
}

static inline __attribute__((always_inline)) void ckr_consume(ckr_state *st, mpmc_check *chk, const bool spsc)
{
    const uint32_t fb = st->k.frame_bytes, batch = st->k.batch, producers = st->k.producers;
    ckr_buf *got[MPMC_BATCH];
    unsigned k = 0;
    for (;;) {
        uint32_t g = 0;
        while (g < batch && ckr_dequeue(st, &got[g], spsc))
            g++;
        if (g == 0) {
            /* empty: finished if every producer was done before this look */
            if (atomic_load_explicit(&st->producers_done, memory_order_acquire) == producers) {
                if (!ckr_dequeue(st, &got[0], spsc))
                    return;
                g = 1;
            } else {
                mpmc_backoff(&k);
                continue;
            }
        }
        k = 0;
        for (uint32_t i = 0; i < g; i++) {
            mpmc_check_frame(chk, got[i]->data, fb);
            atomic_store_explicit(&got[i]->busy, 0, memory_order_release);
        }
    }
}

static int ck_mpmc_produce(void *st, void *w, unsigned id, uint64_t n, char *err)
{
    (void)w;
    (void)err;
    ckr_produce(st, id, n, false);
    return 0;
}

static int ck_spsc_produce(void *st, void *w, unsigned id, uint64_t n, char *err)
{
    (void)w;
    (void)err;
    ckr_produce(st, id, n, true);
    return 0;
}

static int ck_mpmc_consume(void *st, void *w, mpmc_check *chk, char *err)
{
    (void)w;
    (void)err;
    ckr_consume(st, chk, false);
    return 0;
}

static int ck_spsc_consume(void *st, void *w, mpmc_check *chk, char *err)
{
    (void)w;
    (void)err;
    ckr_consume(st, chk, true);
    return 0;
}

static void ckr_teardown(void *st) { bench_shared_free(st); }

const mpmc_impl mpmc_peer_ck_mpmc = {
    .name = "ck_ring_mpmc",
    .cannot = NULL,
    .setup = ckr_setup,
    .attach = ckr_attach,
    .attached = ckr_attached,
    .produce = ck_mpmc_produce,
    .consume = ck_mpmc_consume,
    .teardown = ckr_teardown,
};

const mpmc_impl mpmc_peer_ck_spsc = {
    .name = "ck_ring_spsc",
    .cannot = ck_spsc_cannot,
    .setup = ckr_setup,
    .attach = ckr_attach,
    .attached = ckr_attached,
    .produce = ck_spsc_produce,
    .consume = ck_spsc_consume,
    .teardown = ckr_teardown,
};
