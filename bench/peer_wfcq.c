/*
 * peer_wfcq.c - liburcu's wait-free concurrent queue (urcu/wfcqueue.h) as
 * a peer of the mpmc suite: a linked queue of preallocated nodes, each node
 * carrying its frame.
 *
 * What it does per frame: the producer takes the next node of its own pool,
 * waits until a consumer has given it back (its `busy` word is 0), writes
 * the frame into the node in place, and enqueues the node
 * (cds_wfcq_enqueue: an xchg of the tail and a store of the old tail's
 * next, wait-free); the consumer dequeues a node
 * (__cds_wfcq_dequeue_nonblocking), checks the frame in place and gives the
 * node back (busy = 0, release). Nothing is copied: the queue links the
 * nodes. The pools hold MPMC_RING_SLOTS nodes in all (split among the
 * producers), so at most as many frames are in flight as in the rings.
 *
 * Several consumers: liburcu requires dequeuers to exclude each other
 * (its synchronisation table); cds_wfcq_dequeue_blocking() does it with a
 * pthread mutex in the queue head, and so do we, with a mutex made
 * process-shared so it also works across processes. One consumer takes no
 * lock (the table allows it).
 *
 * Batched rows: the producer links 32 nodes into a private queue, then
 * appends all of them at once (__cds_wfcq_splice_blocking: the private
 * queue is the source, ours alone, so it never waits); the consumer moves
 * whatever is queued into a private queue in one step
 * (__cds_wfcq_splice_nonblocking: splicers need no lock among themselves,
 * per the same table) and walks it - a batch of everything there, not of
 * at most 32: wfcqueue has no take-N.
 *
 * Waiting: the _nonblocking calls, retried with mpmc_backoff (a bounded
 * pause spin, then sched_yield), rather than the _blocking ones, which
 * sleep 10 ms in poll() after 10 tries when an enqueuer is caught between
 * its two stores - a pause that would be liburcu's to pay, but that on 2
 * oversubscribed cores would measure the scheduler more than the queue.
 *
 * Linking: the exported functions of liburcu-common (not the _LGPL_SOURCE
 * inline ones, which would put LGPL code into klaw-bench): one call more
 * per operation.
 *
 * Across processes: the queue and the nodes are in one MAP_SHARED mapping
 * made before the children are forked, so its pointers mean the same in
 * every process.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include <urcu/wfcqueue.h>

#include "peer_mpmc.h"

typedef struct wq_node {
    struct cds_wfcq_node node;
    _Atomic uint32_t busy; /* 1 from the write until the consumer is done */
    uint32_t pad_;
    uint8_t data[];        /* the frame, at offset 16                      */
} wq_node;

typedef struct wq_state {
    _Alignas(64) struct __cds_wfcq_head head; /* consumers' end            */
    _Alignas(64) pthread_mutex_t lock;        /* among several consumers   */
    _Alignas(64) struct cds_wfcq_tail tail;   /* producers' end            */
    _Alignas(64) _Atomic uint32_t producers_done;
    _Alignas(64) mpmc_case k;
    uint32_t pool_n, stride;
    uint8_t *pools;
} wq_state;

static void *wq_setup(const mpmc_case *k, char *err)
{
    uint32_t pool_n = MPMC_RING_SLOTS / k->producers;
    uint32_t stride = (uint32_t)((sizeof(wq_node) + k->frame_bytes + 63) / 64 * 64);
    size_t off_pools = (sizeof(wq_state) + 4095) / 4096 * 4096;
    uint8_t *m = bench_shared_alloc(off_pools + (size_t)k->producers * pool_n * stride);
    wq_state *st = (wq_state *)m;
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    int e = pthread_mutex_init(&st->lock, &a);
    pthread_mutexattr_destroy(&a);
    if (e != 0) {
        snprintf(err, MPMC_ERR, "pthread_mutex_init: %s", strerror(e));
        bench_shared_free(m);
        return NULL;
    }
    __cds_wfcq_init(&st->head, &st->tail);
    st->k = *k;
    st->pool_n = pool_n;
    st->stride = stride;
    st->pools = m + off_pools;
    return st;
}

static void *wq_attach(void *st, bool producer, unsigned id, char *err)
{
    (void)producer;
    (void)id;
    (void)err;
    return st;
}

static void wq_attached(void *st) { (void)st; }

/* The next node of a producer's pool, once a consumer has given it back. */
static inline wq_node *wq_take(wq_state *st, uint8_t *pool, uint32_t *next)
{
    wq_node *nd = (wq_node *)(pool + (size_t)*next * st->stride);
    unsigned k = 0;
    *next = *next + 1 == st->pool_n ? 0 : *next + 1;
    while (atomic_load_explicit(&nd->busy, memory_order_acquire))
        mpmc_backoff(&k);
    atomic_store_explicit(&nd->busy, 1, memory_order_relaxed);
    cds_wfcq_node_init(&nd->node);
    return nd;
}

static int wq_produce(void *sv, void *w, unsigned id, uint64_t n, char *err)
{
    wq_state *st = sv;
    (void)w;
    (void)err;
    const uint32_t fb = st->k.frame_bytes, batch = st->k.batch;
    uint8_t *pool = st->pools + (size_t)id * st->pool_n * st->stride;
    uint32_t next = 0;
    if (batch == 1) {
        for (uint64_t c = 1; c <= n; c++) {
            wq_node *nd = wq_take(st, pool, &next);
            mpmc_frame_write(nd->data, fb, id, c);
            cds_wfcq_enqueue(&st->head, &st->tail, &nd->node);
        }
    } else {
        struct __cds_wfcq_head lh;
        struct cds_wfcq_tail lt;
        for (uint64_t c = 1; c <= n;) {
            uint32_t g = n - c + 1 < batch ? (uint32_t)(n - c + 1) : batch;
            __cds_wfcq_init(&lh, &lt);
            for (uint32_t i = 0; i < g; i++) {
                wq_node *nd = wq_take(st, pool, &next);
                mpmc_frame_write(nd->data, fb, id, c + i);
                cds_wfcq_enqueue(&lh, &lt, &nd->node);
            }
            __cds_wfcq_splice_blocking(&st->head, &st->tail, &lh, &lt);
            c += g;
        }
    }
    atomic_fetch_add_explicit(&st->producers_done, 1, memory_order_release);
    return 0;
}

static inline void wq_give_back(wq_state *st, mpmc_check *chk, struct cds_wfcq_node *n)
{
    wq_node *nd = (wq_node *)n; /* node is the first member */
    mpmc_check_frame(chk, nd->data, st->k.frame_bytes);
    atomic_store_explicit(&nd->busy, 0, memory_order_release);
}

/* One dequeue: a node, NULL (empty) or CDS_WFCQ_WOULDBLOCK. */
static inline struct cds_wfcq_node *wq_dequeue(wq_state *st, bool locked)
{
    struct cds_wfcq_node *n;
    if (locked)
        pthread_mutex_lock(&st->lock);
    n = __cds_wfcq_dequeue_nonblocking(&st->head, &st->tail);
    if (locked)
        pthread_mutex_unlock(&st->lock);
    return n;
}

static int wq_consume(void *sv, void *w, mpmc_check *chk, char *err)
{
    wq_state *st = sv;
    (void)w;
    (void)err;
    const bool locked = st->k.consumers > 1;
    const uint32_t producers = st->k.producers;
    unsigned k = 0;
    if (st->k.batch == 1) {
        for (;;) {
            struct cds_wfcq_node *n = wq_dequeue(st, locked);
            if (n && n != CDS_WFCQ_WOULDBLOCK) {
                wq_give_back(st, chk, n);
                k = 0;
                continue;
            }
            if (!n && atomic_load_explicit(&st->producers_done, memory_order_acquire) == producers) {
                n = wq_dequeue(st, locked);
                if (!n)
                    return 0;
                if (n != CDS_WFCQ_WOULDBLOCK)
                    wq_give_back(st, chk, n);
                continue;
            }
            mpmc_backoff(&k);
        }
    }
    struct __cds_wfcq_head lh;
    struct cds_wfcq_tail lt;
    __cds_wfcq_init(&lh, &lt);
    for (;;) {
        bool done = atomic_load_explicit(&st->producers_done, memory_order_acquire) == producers;
        enum cds_wfcq_ret r = __cds_wfcq_splice_nonblocking(&lh, &lt, &st->head, &st->tail);
        if (r == CDS_WFCQ_RET_WOULDBLOCK || r == CDS_WFCQ_RET_SRC_EMPTY) {
            if (r == CDS_WFCQ_RET_SRC_EMPTY && done)
                return 0;
            mpmc_backoff(&k);
            continue;
        }
        k = 0;
        /* walk the private queue; a link an enqueuer has not stored yet is
         * waited for, not skipped */
        for (;;) {
            struct cds_wfcq_node *n = __cds_wfcq_dequeue_nonblocking(&lh, &lt);
            if (!n)
                break;
            if (n == CDS_WFCQ_WOULDBLOCK) {
                mpmc_backoff(&k);
                continue;
            }
            wq_give_back(st, chk, n);
            k = 0;
        }
    }
}

static void wq_teardown(void *sv)
{
    wq_state *st = sv;
    pthread_mutex_destroy(&st->lock);
    bench_shared_free(st);
}

const mpmc_impl mpmc_peer_wfcq = {
    .name = "urcu_wfcq",
    .cannot = NULL,
    .setup = wq_setup,
    .attach = wq_attach,
    .attached = wq_attached,
    .produce = wq_produce,
    .consume = wq_consume,
    .teardown = wq_teardown,
};
