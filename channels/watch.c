/*
 * watch.c - the watch channel (see klaw/watch.h): one latest value and its
 * version, in-process as RCU-published records, shared as versioned slots.
 *
 * ---- Layout (offsets from the region base) ---------------------------------
 *
 *   0                    klaw_region_header
 *   CTL_OFF (1024)       watch_ctl: config line, then the version, the event
 *                        count, the read stats, the senders' lock word (W1),
 *                        each on its own line, then the lifecycle block
 *                        (channels/lifecycle.h: handle counts, closed bits,
 *                        the handle-table lock)
 *   ctl.tables_off       the lifecycle tables: max_handles handle entries,
 *                        then the peer slots
 *   ctl.slots_off        shared only: nslots x slot_size bytes, each slot a
 *                        16-byte header {seq, len} and max_frame bytes
 *   end - META_RESERVE   the ChannelMetadata record
 *
 * As in mpmc.c, an attaching process copies and validates the config once
 * and never re-reads it, so a scribbled config cannot send it out of bounds.
 *
 * ---- Shared: versioned slots validated like a seqlock ----------------------
 *
 * ctl.version is the version of the current value; version v lives in slot
 * v % nslots, whose seq word is 2v while it holds v intact and 2v + 1 while
 * a sender rewrites it for v.
 *
 * Invariants:
 *   W1  Senders are serialised by ctl.wlock, a pointer-free lock word of
 *       the lifecycle core (klaw__life_lock_word: the holder's peer token,
 *       taken over from a holder whose process is gone); only the holder
 *       writes a slot or ctl.version.
 *   W2  The sender of v writes slot v % n in this order: seq = 2v + 1
 *       (release), len and data (release stores, word by word), seq = 2v
 *       (release), then ctl.version = v (seq_cst). So a slot is stable for v
 *       before anyone can learn that v is current, and the slot of v is next
 *       rewritten by the sender of v + n, which runs only after version
 *       v + n - 1 was published.
 *   W3  A reader takes v = ctl.version (acquire), then seq (acquire): seq ==
 *       2v means the slot is complete for v (the acquire pairs with the
 *       sender's release of 2v). If seq != 2v the slot was already taken for
 *       v + k*n: the odd store that started that rewrite was a release made
 *       after version >= v + 1 was stored, so reading ctl.version again sees
 *       a newer version - and if it does not, the region is corrupt
 *       (KLAW_CORRUPT). The reader follows a newer version at most
 *       READ_TRIES times (pausing the CPU between tries): a real sender
 *       would have to overtake it that many times in a row, between two of
 *       its loads a few instructions apart; a version that never settles is
 *       a hostile peer scribbling the word, and the read says KLAW_CORRUPT
 *       instead of following it for ever. The copying getters bound their
 *       own retries (a copy torn by a rewrite) the same way.
 *   W4  A copy is untorn when seq still reads 2v after the copy: the data
 *       loads are acquire loads, so if any of them saw a store of a later
 *       rewrite, the odd seq store that preceded it is visible to the final
 *       seq load. (Release stores and acquire loads are plain moves on x86:
 *       the word-wise copy costs what memcpy without vector moves costs.)
 *   W5  A zero-copy borrow of v is the slot itself; release re-reads seq
 *       after an acquire fence: 2v means the borrower read v's bytes, else
 *       the slot was reused while borrowed and release says KLAW_LAGGED.
 *
 * A sender that dies inside W2 holds wlock; the next sender takes the word
 * over (klaw__life_lock_word returns 1) and repairs before it writes
 * (repair_send). With v = ctl.version + 1, the dead sender's slot v % n is
 * in one of three states, each consistent with W2-W5:
 *   - untouched (it died before its odd store): seq is 2(v - n) or older,
 *     nothing to do;
 *   - mid-write (odd store done, even store not): seq = 2v + 1 - an odd
 *     seq is the seqlock's "holds no version": no reader ever looks at it
 *     for v (v was never published, W2), a reader that borrowed v - n from
 *     it gets KLAW_LAGGED (W5), as for any reuse; the new sender rewrites it
 *     from the start, as it would anyway (the value the dead sender was
 *     writing is lost - its send never returned);
 *   - complete (even store done, version not published): seq = 2v, the
 *     bytes are v's; the repair finishes the send - publishes version v and
 *     wakes the receivers - and the new sender writes v + 1 after it. (Only
 *     the sender of v stores 2v: any other seq for v is one of the states
 *     above.)
 * The repair and the normal path store the same words in the same order,
 * so a death during the repair leaves one of the same three states.
 * Readers never wait for wlock.
 *
 * ---- In-process: RCU records -----------------------------------------------
 *
 * chan.cur points at an immutable record {version, len, bytes}. A sender
 * (under wlock) fills a record nobody can see, publishes it with
 * rcu_assign_pointer (release), then stores ctl.version (seq_cst) and wakes.
 * A copy (get, stats) reads the record inside an urcu-bp read-side critical
 * section that ends before the call returns. A borrow takes a reference on
 * the record inside a read-side section (refs + 1: the record was current
 * within the section, so its grace period has not ended and it cannot have
 * been reclaimed or reused) and leaves the section before it returns: no
 * read-side section ever spans the caller's code, so a borrower may call
 * anything that waits for a grace period (synchronize_rcu - the broadcast
 * registry does) without waiting for itself. value and version come from
 * one record and cannot be torn. A replaced record is retired: retired
 * records are collected in batches of RETIRE_BATCH and handed to call_rcu()
 * as one batch (one call_rcu per batch keeps the worker's wake-up syscall
 * off the per-send path); after a grace period the callback drops the
 * record's own reference (refs starts at 1 for "published"). Whoever drops
 * the last reference - the callback, or the last borrower's release -
 * returns the record to the channel's pool, from which the next sends take
 * their records (no malloc per send once warm; the pool keeps at most
 * POOL_MAX). The sender never waits for readers (no synchronize_rcu on the
 * send path), and closing the last handle never waits for call_rcu (no
 * rcu_barrier): the pool is reference-counted by the batches in flight and
 * by the records borrowers still hold, and outlives the channel.
 *
 * ---- Handles, liveness, closing --------------------------------------------
 *
 * The lifecycle core (channels/lifecycle.h) keeps the handle table, its
 * lock, reaping and closing: roles H_TX (closing: when the last sender
 * handle goes - closed, or its process gone - the channel is closed for
 * senders for good, life.closed bit 1 << H_TX) and H_RX (not closing). A
 * watch handle holds nothing in the slots, so gone() has nothing to give
 * up; the lock word W1 is taken over by the next sender when its holder is
 * gone (above). The kind keeps W1-W5 and the records; the module keeps the
 * counts, the closed bit (L1-L5) and liveness: a peer is alive while the
 * kernel holds its file lock on the region (src/liveness.h).
 *
 * ---- Waiting ---------------------------------------------------------------
 *
 * Receivers park on ctl.changed (a ck_ec32) with the Dekker protocol of
 * channels/wait.h: the sender's seq_cst store of ctl.version, then
 * kw_wake_if_waiters(); close and reaping bump it unconditionally. A parked
 * receiver reaps on the channel's liveness clock (klaw__life_wait_check:
 * the clock is this attachment's, not the call's, so a receiver waiting in
 * short slices reaps on schedule), so a sender process that died counts as
 * closed.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <ck_ec.h>
#include <ck_pr.h>
/* rcu_dereference / rcu_assign_pointer inline (liburcu's switch for its
 * small functions; no _LGPL_SOURCE) */
#define URCU_INLINE_SMALL_FUNCTIONS
#include <urcu/urcu-bp.h>

#include "klaw/region.h"
#include "klaw/watch.h"
#include "crashpoint.h"
#include "meta.h"
#include "inspect.h"
#include "lifecycle.h"
#include "select_impl.h"
#include "fdwait.h"
#include "wait.h"


#include "sanitize.h"
#ifdef KLAW_TSAN
/* liburcu is not instrumented: tell ThreadSanitizer about the two
 * happens-before edges RCU provides (publication, and grace period ->
 * reclamation). */
#include <sanitizer/tsan_interface.h>
#define TSAN_RELEASE(p) __tsan_release(p)
#define TSAN_ACQUIRE(p) __tsan_acquire(p)
#else
#define TSAN_RELEASE(p) ((void)0)
#define TSAN_ACQUIRE(p) ((void)0)
#endif

#define CACHELINE KLAW_CACHELINE
#define CTL_OFF KLAW_CTL_OFF
#define WATCH_MAGIC 0x48435457u /* "WTCH" */
#define SLOT_HDR 16u
#define DEFAULT_HANDLES 256u
#define MAX_HANDLES 4096u
#define DEFAULT_SLOTS 8u
#define MAX_SLOTS 1024u
#define SPIN_ITERS 256
#define READ_TRIES 1024 /* W3: a version (or a copy) retried this often is hostile */
#define RETIRE_BATCH 16u
#define POOL_MAX 64u

/* lifecycle roles; H_TX closes for good when its last handle goes */
enum { H_FREE = 0, H_TX = 1, H_RX = 2 };
enum { CLOSED_SENDERS = 1u << H_TX };
enum { MODE_RCU = 0, MODE_SLOTS = 1 };

typedef struct watch_ctl {
    /* config: written before READY, never changed */
    uint32_t magic;
    uint32_t mode;
    uint32_t nslots;
    uint32_t max_frame;
    uint32_t slot_size;
    uint32_t pad0_;
    uint64_t tables_off; /* the lifecycle tables (handles, peers)         */
    uint64_t slots_off;
    uint8_t pad1_[CACHELINE - 40];
    _Alignas(CACHELINE) _Atomic uint64_t version;
    _Alignas(CACHELINE) struct ck_ec32 changed;
    _Alignas(CACHELINE) _Atomic uint64_t lagged_borrows;
    _Atomic uint64_t read_retries;
    /* W1: the senders' lock word (a lifecycle lock word: 0 or a token) */
    _Alignas(CACHELINE) _Atomic uint32_t wlock;
    uint32_t pad2_;
    _Atomic uint64_t sends_repaired; /* sends a dead sender left complete  */
    /* handles, their lock, counts and the closed bit (CLOSED_SENDERS) */
    _Alignas(CACHELINE) klaw__life_shared life;
} watch_ctl;
_Static_assert(offsetof(watch_ctl, version) == CACHELINE, "the watch's config is one cache line");
_Static_assert(offsetof(watch_ctl, life) == 5 * CACHELINE, "the lifecycle block is the sixth line");

typedef struct wslot {
    _Atomic uint64_t seq;
    _Atomic uint32_t len;
    uint32_t pad_;
    uint8_t data[];
} wslot;

struct rec_pool;

/* An in-process value: immutable once published. */
typedef struct rec {
    struct rcu_head rh;
    struct rec *next;      /* in a retired batch or the pool */
    struct rec_pool *pool; /* the way home                   */
    uint64_t version;
    uint32_t len;
    _Atomic uint32_t refs; /* 1 while published or retired, + 1 per borrow */
    uint8_t data[];
} rec;

/* Records to reuse. It outlives its channel while batches are still
 * waiting for their grace period and while borrowed records are out (refs:
 * 1 for the channel + 1 per batch in call_rcu's hands + 1 per record a
 * borrower is the last to hold), so destroying a channel never waits for
 * call_rcu. */
typedef struct rec_pool {
    pthread_mutex_t lock;
    rec *head;
    uint32_t n;
    uint32_t refs;
    int orphaned; /* the channel is gone: free what comes back */
} rec_pool;

typedef struct chan {
    klaw_region *region;
    uint8_t *base;
    size_t size;
    watch_ctl *ctl;
    uint8_t *slots;
    uint32_t mode, nslots, max_frame, slot_size;
    uint64_t liveness_ns;
    _Atomic uint32_t refs;
    pthread_mutex_t *wmu; /* the attachment's, before ctl.wlock (W1)     */
    klaw__life life;
    /* in-process mode */
    rec *cur;                 /* RCU-protected                          */
    rec *retired;             /* replaced, not yet handed to call_rcu   */
    uint32_t retired_n;       /* (both under wlock)                     */
    rec_pool *pool;
} chan;

struct klaw_watch_tx {
    chan *c;
    uint32_t idx;
    _Atomic int closed;
};

struct klaw_watch_rx {
    chan *c;
    uint32_t idx;
    _Atomic int closed;
    _Atomic uint64_t seen;
    klaw__fdw fdw; /* its descriptor (klaw_watch_rx_fd), when asked for */
};

static void *handle_alloc(size_t size)
{
    size_t n = (size + CACHELINE - 1) / CACHELINE * CACHELINE;
    void *p = aligned_alloc(CACHELINE, n);
    if (p)
        memset(p, 0, n);
    return p;
}

static inline wslot *slot_of(const chan *c, uint64_t v)
{
    return (wslot *)(c->slots + (size_t)(v % c->nslots) * c->slot_size);
}

/* ---- RCU glue -------------------------------------------------------------- */

/* A process that forks while call_rcu's worker runs must pause it and
 * restart it in the child (liburcu's rule); registered once, on the first
 * in-process watch. */
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void before_fork(void)
{
    urcu_bp_call_rcu_before_fork();
    urcu_bp_before_fork();
}
static void after_fork_parent(void)
{
    urcu_bp_after_fork_parent();
    urcu_bp_call_rcu_after_fork_parent();
}
static void after_fork_child(void)
{
    urcu_bp_after_fork_child();
    urcu_bp_call_rcu_after_fork_child();
}
static void register_fork_handlers(void) { pthread_atfork(before_fork, after_fork_parent, after_fork_child); }

static inline void rec_publish(chan *c, rec *r)
{
#ifdef KLAW_TSAN
    atomic_store_explicit((rec * _Atomic *)&c->cur, r, memory_order_release);
#else
    rcu_assign_pointer(c->cur, r);
#endif
}

static inline rec *rec_current(chan *c)
{
#ifdef KLAW_TSAN
    return atomic_load_explicit((rec * _Atomic *)&c->cur, memory_order_acquire);
#else
    return rcu_dereference(c->cur);
#endif
}

static rec *rec_new(chan *c)
{
    rec_pool *p = c->pool;
    rec *r = NULL;
    pthread_mutex_lock(&p->lock);
    if (p->head) {
        r = p->head;
        p->head = r->next;
        p->n--;
    }
    pthread_mutex_unlock(&p->lock);
    if (!r) {
        r = malloc(sizeof(rec) + c->max_frame);
        if (!r)
            return NULL;
    }
    r->pool = p;
    r->next = NULL;
    atomic_store_explicit(&r->refs, 1, memory_order_relaxed);
    return r;
}

/* Drops a reference on the pool (lock held; unlocks). */
static void pool_unref_unlock(rec_pool *p)
{
    bool last = --p->refs == 0;
    pthread_mutex_unlock(&p->lock);
    if (last) {
        pthread_mutex_destroy(&p->lock);
        free(p);
    }
}

/* Pool lock held: a record nobody holds any more goes back to the pool
 * (or is freed). */
static void pool_put_locked(rec_pool *p, rec *r)
{
    if (!p->orphaned && p->n < POOL_MAX) {
        r->next = p->head;
        p->head = r;
        p->n++;
    } else {
        free(r);
    }
}

/* Pool lock held: drops the record's own reference (published/retired).
 * The last reference returns it to the pool; if borrowers still hold it,
 * it takes a reference on the pool for the last of them to drop. */
static void rec_drop_own_locked(rec_pool *p, rec *r)
{
    if (atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) == 1)
        pool_put_locked(p, r);
    else
        p->refs++;
}

/* A borrower's release: the last one out returns the record (and the
 * pool reference its record held). */
static void rec_unref(rec *r)
{
    if (atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) != 1)
        return;
    rec_pool *p = r->pool;
    pthread_mutex_lock(&p->lock);
    pool_put_locked(p, r);
    pool_unref_unlock(p);
}

/* call_rcu callback: a grace period has passed since the batch was
 * retired, so no reader can still be in a read-side section that found
 * any record of it - only borrowers that took a reference can hold one. */
static void batch_reclaim(struct rcu_head *rh)
{
    rec *r = caa_container_of(rh, rec, rh);
    TSAN_ACQUIRE(r);
    rec_pool *p = r->pool;
    pthread_mutex_lock(&p->lock);
    while (r) {
        TSAN_ACQUIRE(r);
        rec *next = r->next;
        rec_drop_own_locked(p, r);
        r = next;
    }
    pool_unref_unlock(p);
}

/* Retires a replaced record (under wlock). */
static void rec_retire(chan *c, rec *old)
{
    old->next = c->retired;
    TSAN_RELEASE(old);
    c->retired = old;
    if (++c->retired_n == RETIRE_BATCH) {
        rec *batch = c->retired;
        c->retired = NULL;
        c->retired_n = 0;
        pthread_mutex_lock(&c->pool->lock);
        c->pool->refs++;
        pthread_mutex_unlock(&c->pool->lock);
        urcu_bp_call_rcu(&batch->rh, batch_reclaim);
    }
}

/* Pool lock held: drops the own reference of every record on the list. */
static void rec_drop_list_locked(rec_pool *p, rec *r)
{
    while (r) {
        rec *n = r->next;
        rec_drop_own_locked(p, r);
        r = n;
    }
}

/* ---- the lifecycle core's callbacks and the handle table ----------------------- */

/* A watch handle holds nothing in the slots: closing a sender is all there
 * is to it, and the module does that (L2). The lock word W1 is repaired by
 * the sender that takes it over (repair_send). */
static void life_wake(void *cv)
{
    chan *c = cv;
    kw_wake_all_fd(&c->ctl->changed, &c->life, KLAW__EV_RX);
}
static const klaw__life_ops life_ops = {NULL, NULL, life_wake};

static uint32_t reap(chan *c) { return klaw__life_reap(&c->life); }

/* KLAW_CLOSED for a sender once every sender closed for good (L3);
 * KLAW_FULL when the table is full; KLAW_SYS when this process has no
 * identity in the region. */
static klaw_status take_handle(chan *c, uint32_t role, uint32_t *idx)
{
    return klaw__life_take(&c->life, role, false, idx);
}

static void give_handle(chan *c, uint32_t idx) { klaw__life_give(&c->life, idx); }

/* W1 taken over from a dead sender (word held): finishes or leaves what
 * its W2 left (see the protocol above). */
static void repair_send(chan *c)
{
    if (c->mode != MODE_SLOTS)
        return; /* records are this process's: no other process sends */
    watch_ctl *ctl = c->ctl;
    uint64_t v = atomic_load_explicit(&ctl->version, memory_order_relaxed) + 1;
    wslot *s = slot_of(c, v);
    if (atomic_load_explicit(&s->seq, memory_order_acquire) != 2 * v)
        return; /* untouched, or mid-write (odd: holds no version) */
    atomic_store_explicit(&ctl->version, v, memory_order_seq_cst);
    KLAW_CRASHPOINT("watch.repair.version");
    atomic_fetch_add_explicit(&ctl->sends_repaired, 1, memory_order_relaxed);
    kw_wake_all_fd(&ctl->changed, &c->life, KLAW__EV_RX);
}

/* Takes W1: KLAW_OK; the status of getting an identity (KLAW_FULL,
 * KLAW_SYS); KLAW_TIMEOUT when a live peer kept the word past the
 * lifecycle core's bound (1 s: a stopped sender, or a forged word). */
static klaw_status lock_senders(chan *c)
{
    int e = klaw__life_lock_word(&c->life, c->wmu, &c->ctl->wlock);
    if (KLAW_UNLIKELY(e < 0)) {
        uint64_t me;
        klaw_status st = klaw__peers_me(&c->life.peers, &me);
        return st != KLAW_OK ? st : KLAW_TIMEOUT;
    }
    if (KLAW_UNLIKELY(e > 0))
        repair_send(c);
    return KLAW_OK;
}

static void unlock_senders(chan *c) { klaw__life_unlock_word(c->wmu, &c->ctl->wlock); }

/* ---- creating and attaching ----------------------------------------------- */

/* Frees a chan whose region stays the caller's. */
static void chan_free(chan *c)
{
    klaw__life_detach(&c->life);
    free(c);
}

static void chan_unref(chan *c)
{
    if (atomic_fetch_sub(&c->refs, 1) != 1)
        return;
    if (c->mode == MODE_RCU && c->pool) {
        /* no handle of this process is left, so no reader: the current and
         * retired records lose their own references at once; batches still
         * waiting for their grace period drop theirs when they come back */
        rec_pool *p = c->pool;
        pthread_mutex_lock(&p->lock);
        p->orphaned = 1;
        if (c->cur)
            rec_drop_own_locked(p, c->cur);
        rec_drop_list_locked(p, c->retired);
        rec *r = p->head;
        p->head = NULL;
        p->n = 0;
        while (r) {
            rec *n = r->next;
            free(r);
            r = n;
        }
        pool_unref_unlock(p);
    }
    klaw_region *region = c->region;
    chan_free(c);
    klaw_region_close(region);
}

static klaw_status chan_attach(klaw_region *r, chan **out)
{
    uint8_t *base = klaw_region_base(r);
    size_t size = klaw_region_size(r);
    const klaw_region_header *h = klaw_region_hdr(r);
    watch_ctl *ctl = klaw_region_at(base, size, h->body_off, sizeof(watch_ctl));
    if (!ctl || h->body_off % CACHELINE || h->body_len < sizeof(watch_ctl))
        return KLAW_CORRUPT;
    /* copy the config once; validate it; never trust it again */
    uint32_t mode = ctl->mode, ns = ctl->nslots, maxf = ctl->max_frame, ssz = ctl->slot_size;
    uint64_t soff = ctl->slots_off;
    if (ctl->magic != WATCH_MAGIC || (mode != MODE_RCU && mode != MODE_SLOTS) || maxf < 1 || maxf > (1u << 30))
        return KLAW_CORRUPT;
    if (mode == MODE_SLOTS &&
        (ns < 2 || ns > MAX_SLOTS || ssz % CACHELINE || (uint64_t)ssz < (uint64_t)maxf + SLOT_HDR ||
         soff % CACHELINE || !klaw_region_at(base, size, soff, (uint64_t)ns * ssz)))
        return KLAW_CORRUPT;
    chan *c = calloc(1, sizeof *c);
    if (!c)
        return KLAW_NOMEM;
    /* the lifecycle tables are checked against the control block; the
     * slots must overlap neither (the lock words and counts above all) */
    if (klaw__life_attach(&c->life, r, &ctl->life, h->body_off, sizeof(watch_ctl), &life_ops, c) != KLAW_OK) {
        free(c);
        return KLAW_CORRUPT;
    }
    const klaw__life *L = &c->life;
    if (L->max_handles < 2 || L->max_handles > MAX_HANDLES ||
        (mode == MODE_SLOTS && klaw__life_overlaps(L, h->body_off, sizeof(watch_ctl), soff, (uint64_t)ns * ssz))) {
        klaw__life_detach(&c->life);
        free(c);
        return KLAW_CORRUPT;
    }
    c->wmu = &klaw__region_local_of(r)->lock_mu[1];
    c->region = r;
    c->base = base;
    c->size = size;
    c->ctl = ctl;
    c->slots = mode == MODE_SLOTS ? base + soff : NULL;
    c->mode = mode;
    c->nslots = mode == MODE_SLOTS ? ns : 0;
    c->max_frame = maxf;
    c->slot_size = ssz;
    c->liveness_ns = L->liveness_ns;
    atomic_store(&c->refs, 1);
    *out = c;
    return KLAW_OK;
}

static uint64_t round_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

/* Word-wise copies with release stores / acquire loads (W2, W4): a seqlock
 * reader may race with them, and these keep the race defined. dst/src in
 * the slot are 8-aligned (slots are cache-line aligned, data at 16). */
static void slot_store(uint8_t *dst, const uint8_t *src, size_t len)
{
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, src + i, 8);
        __atomic_store_n((uint64_t *)(void *)(dst + i), w, __ATOMIC_RELEASE);
    }
    for (; i < len; i++)
        __atomic_store_n(dst + i, src[i], __ATOMIC_RELEASE);
}

static void slot_load(uint8_t *dst, const uint8_t *src, size_t len)
{
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w = __atomic_load_n((const uint64_t *)(const void *)(src + i), __ATOMIC_ACQUIRE);
        memcpy(dst + i, &w, 8);
    }
    for (; i < len; i++)
        dst[i] = __atomic_load_n(src + i, __ATOMIC_ACQUIRE);
}

static klaw_status new_tx(chan *c, klaw_watch_tx **out);
static klaw_status new_rx(chan *c, uint64_t seen, klaw_watch_rx **out);

klaw_status klaw_watch_create(const klaw_watch_opts *o, klaw_watch_tx **txo, klaw_watch_rx **rxo)
{
    if (txo)
        *txo = NULL;
    if (rxo)
        *rxo = NULL;
    if (!o || o->max_frame < 1 || o->max_frame > (1u << 30) || o->max_handles > MAX_HANDLES ||
        o->max_handles == 1 || (o->slots && (o->slots < 2 || o->slots > MAX_SLOTS)) ||
        o->initial_len > o->max_frame || (o->initial_len && !o->initial))
        return KLAW_INVAL;
    uint32_t mode = (o->name || o->process_shared) ? MODE_SLOTS : MODE_RCU;
    uint32_t ns = mode == MODE_SLOTS ? (o->slots ? o->slots : DEFAULT_SLOTS) : 0;
    uint32_t nh = o->max_handles ? o->max_handles : DEFAULT_HANDLES;
    uint32_t np = klaw__life_peers_for(nh);
    uint32_t ssz = (uint32_t)round_up((uint64_t)o->max_frame + SLOT_HDR, CACHELINE);
    uint64_t toff = round_up(CTL_OFF + sizeof(watch_ctl), CACHELINE);
    uint64_t soff = round_up(toff + klaw__life_tables_size(nh, np), 4096);
    uint64_t moff = soff + (uint64_t)ns * ssz;
    klaw_region *r;
    klaw_status st = klaw__chan_region_create(o->name, moff + KLAW_META_RESERVE, KLAW_KIND_WATCH, o->mode,
                                              o->set_group, o->group, &r);
    if (st != KLAW_OK)
        return st;
    uint8_t *base = klaw_region_base(r);
    watch_ctl *ctl = (watch_ctl *)(base + CTL_OFF);
    ctl->magic = WATCH_MAGIC;
    ctl->mode = mode;
    ctl->nslots = ns;
    ctl->max_frame = o->max_frame;
    ctl->slot_size = ssz;
    ctl->tables_off = toff;
    ctl->slots_off = soff;
    ck_ec32_init(&ctl->changed, 0);
    klaw__life_init(&ctl->life, toff, nh, np, o->liveness_ns, CLOSED_SENDERS);
    if (mode == MODE_SLOTS) {
        /* version 0 in slot 0 with seq 0: the zero-filled region already
         * says "slot 0 holds version 0"; write its bytes */
        wslot *s0 = (wslot *)(base + soff);
        atomic_store(&s0->len, (uint32_t)o->initial_len);
        if (o->initial_len)
            memcpy(s0->data, o->initial, o->initial_len);
    }
    st = klaw__chan_publish(r, moff, KLAW_CHANNEL_WATCH, 1, o->max_frame, KLAW_POLICY_NONE, o->value_type, CTL_OFF,
                            sizeof(watch_ctl));
    chan *c = NULL;
    if (st == KLAW_OK)
        st = chan_attach(r, &c);
    if (st != KLAW_OK) {
        klaw__chan_discard(r, o->name);
        return st;
    }
    if (mode == MODE_RCU) {
        pthread_once(&fork_once, register_fork_handlers);
        c->pool = calloc(1, sizeof *c->pool);
        if (!c->pool) {
            chan_unref(c);
            return KLAW_NOMEM;
        }
        pthread_mutex_init(&c->pool->lock, NULL);
        c->pool->refs = 1;
        rec *r0 = rec_new(c);
        if (!r0) {
            chan_unref(c);
            return KLAW_NOMEM;
        }
        r0->version = 0;
        r0->len = (uint32_t)o->initial_len;
        if (o->initial_len)
            memcpy(r0->data, o->initial, o->initial_len);
        rec_publish(c, r0);
    }
    /* the chan's one reference goes to whichever handle is made last */
    klaw_watch_tx *tx = NULL;
    klaw_watch_rx *rx = NULL;
    if (txo) {
        st = new_tx(c, &tx);
        if (st != KLAW_OK)
            goto fail_handles;
    }
    if (rxo) {
        st = new_rx(c, 0, &rx);
        if (st != KLAW_OK)
            goto fail_handles;
    }
    if (!txo && !rxo) {
        /* a named watch nobody here holds: it lives on in /dev/shm */
        chan_unref(c);
        return KLAW_OK;
    }
    atomic_fetch_sub(&c->refs, 1); /* new_tx/new_rx took their own */
    if (txo)
        *txo = tx;
    if (rxo)
        *rxo = rx;
    return KLAW_OK;

fail_handles:
    klaw_watch_tx_free(tx);
    chan_unref(c); /* closes r */
    klaw__chan_discard(NULL, o->name);
    return st;
}

/* New handles take a reference on c each. */
static klaw_status new_tx(chan *c, klaw_watch_tx **out)
{
    *out = NULL;
    klaw_watch_tx *tx = handle_alloc(sizeof *tx);
    if (!tx)
        return KLAW_NOMEM;
    klaw_status st = take_handle(c, H_TX, &tx->idx);
    if (st != KLAW_OK) {
        free(tx);
        return st;
    }
    atomic_fetch_add(&c->refs, 1);
    tx->c = c;
    *out = tx;
    return KLAW_OK;
}

static klaw_status new_rx(chan *c, uint64_t seen, klaw_watch_rx **out)
{
    *out = NULL;
    klaw_watch_rx *rx = handle_alloc(sizeof *rx);
    if (!rx)
        return KLAW_NOMEM;
    klaw_status st = take_handle(c, H_RX, &rx->idx);
    if (st != KLAW_OK) {
        free(rx);
        return st;
    }
    atomic_fetch_add(&c->refs, 1);
    rx->c = c;
    atomic_store(&rx->seen, seen);
    *out = rx;
    return KLAW_OK;
}

static klaw_status open_chan(const char *name, chan **out)
{
    klaw_region *r;
    klaw_status st = klaw_region_open(name, KLAW_KIND_WATCH, 1000, &r);
    if (st != KLAW_OK)
        return st;
    chan *c;
    st = chan_attach(r, &c);
    if (st == KLAW_OK && c->mode != MODE_SLOTS) {
        /* an in-process watch's records are in another heap */
        chan_free(c);
        st = KLAW_CORRUPT;
    }
    if (st != KLAW_OK) {
        klaw_region_close(r);
        return st;
    }
    reap(c);
    *out = c;
    return KLAW_OK;
}

klaw_status klaw_watch_open_tx(const char *name, klaw_watch_tx **out)
{
    *out = NULL;
    chan *c;
    klaw_status st = open_chan(name, &c);
    if (st != KLAW_OK)
        return st;
    st = new_tx(c, out);
    chan_unref(c);
    return st;
}

klaw_status klaw_watch_open_rx(const char *name, klaw_watch_rx **out)
{
    *out = NULL;
    chan *c;
    klaw_status st = open_chan(name, &c);
    if (st != KLAW_OK)
        return st;
    st = new_rx(c, atomic_load_explicit(&c->ctl->version, memory_order_acquire), out);
    chan_unref(c);
    return st;
}

klaw_status klaw_watch_tx_clone(klaw_watch_tx *tx, klaw_watch_tx **out)
{
    *out = NULL;
    if (atomic_load(&tx->closed))
        return KLAW_CLOSED;
    return new_tx(tx->c, out);
}

klaw_status klaw_watch_rx_clone(klaw_watch_rx *rx, klaw_watch_rx **out)
{
    *out = NULL;
    if (atomic_load(&rx->closed))
        return KLAW_CLOSED;
    return new_rx(rx->c, atomic_load(&rx->seen), out);
}

klaw_status klaw_watch_subscribe(klaw_watch_tx *tx, klaw_watch_rx **out)
{
    *out = NULL;
    if (atomic_load(&tx->closed))
        return KLAW_CLOSED;
    return new_rx(tx->c, atomic_load_explicit(&tx->c->ctl->version, memory_order_acquire), out);
}

void klaw_watch_tx_close(klaw_watch_tx *tx)
{
    if (tx && !atomic_exchange(&tx->closed, 1))
        give_handle(tx->c, tx->idx);
}

void klaw_watch_rx_close(klaw_watch_rx *rx)
{
    if (rx && !atomic_exchange(&rx->closed, 1))
        give_handle(rx->c, rx->idx);
}

void klaw_watch_tx_free(klaw_watch_tx *tx)
{
    if (!tx)
        return;
    klaw_watch_tx_close(tx);
    chan_unref(tx->c);
    free(tx);
}

void klaw_watch_rx_free(klaw_watch_rx *rx)
{
    if (!rx)
        return;
    klaw_watch_rx_close(rx);
    klaw__fd_handle_close(&rx->c->life, rx->idx, &rx->fdw, false);
    chan_unref(rx->c);
    free(rx);
}

/* ---- sending ------------------------------------------------------------------ */

klaw_status klaw_watch_send(klaw_watch_tx *tx, const void *data, size_t len, uint32_t *receivers)
{
    chan *c = tx->c;
    watch_ctl *ctl = c->ctl;
    if (receivers)
        *receivers = 0;
    if (KLAW_UNLIKELY(len > c->max_frame))
        return KLAW_TOOBIG;
    if (KLAW_UNLIKELY(atomic_load_explicit(&tx->closed, memory_order_relaxed)))
        return KLAW_CLOSED;
    klaw_status st = lock_senders(c);
    if (KLAW_UNLIKELY(st != KLAW_OK))
        return st;
    uint64_t v = atomic_load_explicit(&ctl->version, memory_order_relaxed) + 1;
    if (c->mode == MODE_SLOTS) {
        wslot *s = slot_of(c, v);
        atomic_store_explicit(&s->seq, 2 * v + 1, memory_order_release);
        KLAW_CRASHPOINT("watch.send.odd");
        atomic_store_explicit(&s->len, (uint32_t)len, memory_order_release);
        slot_store(s->data, data, len);
        KLAW_CRASHPOINT("watch.send.bytes");
        atomic_store_explicit(&s->seq, 2 * v, memory_order_release);
        KLAW_CRASHPOINT("watch.send.even");
    } else {
        rec *r = rec_new(c);
        if (KLAW_UNLIKELY(!r)) {
            unlock_senders(c);
            return KLAW_NOMEM;
        }
        r->version = v;
        r->len = (uint32_t)len;
        if (len)
            memcpy(r->data, data, len);
        rec *old = c->cur;
        rec_publish(c, r);
        rec_retire(c, old);
    }
    atomic_store_explicit(&ctl->version, v, memory_order_seq_cst);
    KLAW_CRASHPOINT("watch.send.version");
    unlock_senders(c);
    kw_wake_if_waiters_fd(&ctl->changed, &c->life, KLAW__EV_RX);
    if (receivers)
        *receivers = klaw__life_count(&c->life, H_RX);
    return KLAW_OK;
}

/* ---- reading ---------------------------------------------------------------- */

static void count_retry(chan *c)
{
    atomic_fetch_add_explicit(&c->ctl->read_retries, 1, memory_order_relaxed);
    KLAW_CRASHPOINT("watch.read.retry");
}

/* Finds the slot holding the current version stable (W3). KLAW_OK with
 * *v, *s, *len; KLAW_CORRUPT for a region that breaks W3, or a version
 * that keeps changing for READ_TRIES tries. */
static klaw_status slot_current(chan *c, uint64_t *vo, wslot **so, uint32_t *leno)
{
    watch_ctl *ctl = c->ctl;
    uint64_t v = atomic_load_explicit(&ctl->version, memory_order_acquire);
    for (unsigned tries = 0; tries < READ_TRIES; tries++) {
        wslot *s = slot_of(c, v);
        uint64_t q = atomic_load_explicit(&s->seq, memory_order_acquire);
        if (KLAW_LIKELY(q == 2 * v)) {
            uint32_t len = atomic_load_explicit(&s->len, memory_order_acquire);
            if (KLAW_LIKELY(atomic_load_explicit(&s->seq, memory_order_acquire) == q)) {
                *vo = v;
                *so = s;
                *leno = len <= c->max_frame ? len : c->max_frame;
                return KLAW_OK;
            }
        }
        uint64_t nv = atomic_load_explicit(&ctl->version, memory_order_acquire);
        if (nv == v && atomic_load_explicit(&s->seq, memory_order_acquire) != 2 * v)
            return KLAW_CORRUPT;
        v = nv;
        if (tries == 0)
            count_retry(c);
        ck_pr_stall();
    }
    return KLAW_CORRUPT; /* a version that never settles: no sender does that */
}

static klaw_status borrow(klaw_watch_rx *rx, klaw_frame *f, bool update)
{
    chan *c = rx->c;
    if (KLAW_UNLIKELY(atomic_load_explicit(&rx->closed, memory_order_relaxed)))
        return KLAW_CLOSED;
    if (c->mode == MODE_SLOTS) {
        uint64_t v;
        wslot *s;
        uint32_t len;
        klaw_status st = slot_current(c, &v, &s, &len);
        if (KLAW_UNLIKELY(st != KLAW_OK))
            return st;
        f->data = s->data;
        f->len = len;
        f->cap = 0;
        f->seq = v;
        f->slot_ = s;
        f->pos_ = v;
    } else {
        /* a reference taken inside the read-side section keeps the record;
         * the section ends here, not at release (see In-process above) */
        urcu_bp_read_lock();
        rec *r = rec_current(c);
        atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
        TSAN_RELEASE(r);
        urcu_bp_read_unlock();
        f->data = r->data;
        f->len = r->len;
        f->cap = 0;
        f->seq = r->version;
        f->slot_ = r;
        f->pos_ = r->version;
    }
    if (update)
        atomic_store_explicit(&rx->seen, f->seq, memory_order_relaxed);
    return KLAW_OK;
}

klaw_status klaw_watch_borrow(klaw_watch_rx *rx, klaw_frame *f) { return borrow(rx, f, false); }
klaw_status klaw_watch_borrow_and_update(klaw_watch_rx *rx, klaw_frame *f) { return borrow(rx, f, true); }

klaw_status klaw_watch_release(klaw_watch_rx *rx, klaw_frame *f)
{
    chan *c = rx->c;
    const bool closed = atomic_load_explicit(&rx->closed, memory_order_relaxed) != 0;
    if (c->mode == MODE_SLOTS) {
        /* closed: nothing in the region is touched (no lagged count) */
        if (KLAW_UNLIKELY(closed))
            return KLAW_CLOSED;
        wslot *s = f->slot_;
        /* order the borrower's reads of the bytes before the check (W5) */
#ifdef KLAW_TSAN
        /* ThreadSanitizer does not model fences; an RMW that is a release
         * orders the earlier loads the same way */
        uint64_t q = atomic_fetch_add_explicit(&s->seq, 0, memory_order_acq_rel);
#else
        atomic_thread_fence(memory_order_acquire);
        uint64_t q = atomic_load_explicit(&s->seq, memory_order_relaxed);
#endif
        if (KLAW_UNLIKELY(q != 2 * f->pos_)) {
            atomic_fetch_add_explicit(&c->ctl->lagged_borrows, 1, memory_order_relaxed);
            KLAW_CRASHPOINT("watch.release.lagged");
            return KLAW_LAGGED;
        }
        return KLAW_OK;
    }
    /* the record is this process's memory, not the region's: its reference
     * goes even after a close (else it would never be reused) */
    rec_unref(f->slot_);
    return closed ? KLAW_CLOSED : KLAW_OK;
}

static klaw_status get(klaw_watch_rx *rx, void *buf, size_t cap, size_t *len, uint64_t *version, bool update)
{
    chan *c = rx->c;
    *len = 0;
    if (KLAW_UNLIKELY(atomic_load_explicit(&rx->closed, memory_order_relaxed)))
        return KLAW_CLOSED;
    uint64_t v;
    if (c->mode == MODE_SLOTS) {
        for (unsigned tries = 0;; tries++) {
            wslot *s;
            uint32_t n;
            klaw_status st = slot_current(c, &v, &s, &n);
            if (KLAW_UNLIKELY(st != KLAW_OK))
                return st;
            if (n > cap) {
                *len = n;
                return KLAW_TOOBIG;
            }
            slot_load(buf, s->data, n);
            if (KLAW_LIKELY(atomic_load_explicit(&s->seq, memory_order_acquire) == 2 * v)) {
                *len = n;
                break;
            }
            count_retry(c);
            if (tries + 1 >= READ_TRIES)
                return KLAW_CORRUPT; /* every copy torn: W3's bound, for copies */
            ck_pr_stall();
        }
    } else {
        urcu_bp_read_lock();
        rec *r = rec_current(c);
        v = r->version;
        *len = r->len;
        if (r->len > cap) {
            TSAN_RELEASE(r);
            urcu_bp_read_unlock();
            return KLAW_TOOBIG;
        }
        if (r->len)
            memcpy(buf, r->data, r->len);
        TSAN_RELEASE(r);
        urcu_bp_read_unlock();
    }
    if (version)
        *version = v;
    if (update)
        atomic_store_explicit(&rx->seen, v, memory_order_relaxed);
    return KLAW_OK;
}

klaw_status klaw_watch_get(klaw_watch_rx *rx, void *buf, size_t cap, size_t *len, uint64_t *version)
{
    return get(rx, buf, cap, len, version, false);
}

klaw_status klaw_watch_get_and_update(klaw_watch_rx *rx, void *buf, size_t cap, size_t *len, uint64_t *version)
{
    return get(rx, buf, cap, len, version, true);
}

/* 1: a version not seen; 0: none and senders live; -1: none, closed. The
 * close is read first: a sender's last send happens before its close, so
 * seeing the close means seeing that version too. */
static inline int change_state(klaw_watch_rx *rx, uint64_t *v)
{
    watch_ctl *ctl = rx->c->ctl;
    uint32_t closed = atomic_load_explicit(&ctl->life.closed, memory_order_acquire);
    *v = atomic_load_explicit(&ctl->version, memory_order_acquire);
    /* ">", not "!=": in one process the record is published before
     * ctl.version moves, so a borrow in between may already have marked a
     * version newer than *v as seen */
    if (*v > atomic_load_explicit(&rx->seen, memory_order_relaxed))
        return 1;
    return (closed & CLOSED_SENDERS) || atomic_load_explicit(&rx->closed, memory_order_relaxed) ? -1 : 0;
}

klaw_status klaw_watch_has_changed(klaw_watch_rx *rx, int *changed)
{
    uint64_t v;
    *changed = 0;
    if (atomic_load_explicit(&rx->closed, memory_order_relaxed))
        return KLAW_CLOSED;
    int s = change_state(rx, &v);
    if (s < 0)
        return KLAW_CLOSED;
    *changed = s;
    return KLAW_OK;
}

typedef struct wait_ctx {
    klaw_watch_rx *rx;
} wait_ctx;

static int wait_pred(const struct ck_ec_wait_state *ws, struct timespec *deadline)
{
    wait_ctx *w = ws->data;
    uint64_t v;
    if (change_state(w->rx, &v) != 0)
        return 1;
    /* the channel's liveness clock (not this call's): reap when due (then
     * re-check), and wake up in time for the next due time */
    int64_t now = (int64_t)ws->now.tv_sec * 1000000000 + ws->now.tv_nsec;
    return klaw__life_wait_check(&w->rx->c->life, now, deadline);
}

klaw_status klaw_watch_changed(klaw_watch_rx *rx, const struct timespec *deadline)
{
    chan *c = rx->c;
    if (atomic_load_explicit(&rx->closed, memory_order_relaxed))
        return KLAW_CLOSED;
    wait_ctx w = {rx};
    bool parked_once = false;
    for (;;) {
        uint64_t v;
        int s = change_state(rx, &v);
        for (int i = 0; s == 0 && i < SPIN_ITERS; i++) {
            ck_pr_stall();
            s = change_state(rx, &v);
        }
        if (s > 0) {
            atomic_store_explicit(&rx->seen, v, memory_order_relaxed);
            return KLAW_OK;
        }
        if (s < 0)
            return KLAW_CLOSED;
        if (parked_once && klaw__deadline_passed(deadline))
            return KLAW_TIMEOUT;
        parked_once = true;
        uint32_t ev = ck_ec32_value(&c->ctl->changed);
        if (change_state(rx, &v) != 0)
            continue;
        ck_ec32_wait_pred(&c->ctl->changed, &klaw__ec_mode, ev, wait_pred, &w, deadline);
    }
}

/* ---- a descriptor for event loops (channels/fdwait.h) --------------------------- */

/* The waiter's half (fdwait.h) for rx with target w: 1 ready now (a
 * newer version, or every sender gone), 0 armed. */
static int rx_arm_to(klaw_watch_rx *rx, const klaw__fdw *w)
{
    chan *c = rx->c;
    klaw__life_fd_arm(&c->life, rx->idx, w, KLAW__EVS(KLAW__EV_RX));
    kw_ec_arm(&c->ctl->changed);
    uint64_t v;
    return change_state(rx, &v) != 0;
}

int klaw_watch_rx_fd(klaw_watch_rx *rx)
{
    if (atomic_load(&rx->closed)) {
        errno = EBADF;
        return -1;
    }
    return klaw__fd_handle(&rx->c->life, rx->idx, &rx->fdw, rx->c->region);
}

klaw_status klaw_watch_rx_arm(klaw_watch_rx *rx, int *timeout_ms)
{
    chan *c = rx->c;
    if (atomic_load(&rx->closed))
        return KLAW_CLOSED;
    klaw_status st = klaw__fd_arm_begin(&c->life, rx->idx, &rx->fdw, c->region, timeout_ms);
    if (st != KLAW_OK)
        return st;
    if (rx_arm_to(rx, &rx->fdw))
        klaw__fdw_poke(&rx->fdw);
    return KLAW_OK;
}

/* select's descriptor (klaw_sel_src.fd_arm) */
static int sel_fd_arm(void *rxv, const klaw__fdw *w) { return rx_arm_to(rxv, w); }
static unsigned sel_fd_mode(void *rxv) { return klaw__region_mode(((klaw_watch_rx *)rxv)->c->region); }

/* ---- stats ------------------------------------------------------------------- */

static klaw_status stats(chan *c, klaw_watch_stats *out)
{
    memset(out, 0, sizeof *out);
    reap(c);
    watch_ctl *ctl = c->ctl;
    out->senders = klaw__life_count(&c->life, H_TX);
    out->receivers = klaw__life_count(&c->life, H_RX);
    out->max_frame = c->max_frame;
    out->slots = c->nslots;
    out->shared = c->mode == MODE_SLOTS;
    out->lagged_borrows = atomic_load(&ctl->lagged_borrows);
    out->read_retries = atomic_load(&ctl->read_retries);
    out->reaped_handles = atomic_load(&ctl->life.reaped);
    out->senders_closed = klaw__life_closed(&c->life, H_TX);
    if (c->mode == MODE_SLOTS) {
        uint64_t v;
        wslot *s;
        uint32_t len;
        klaw_status st = slot_current(c, &v, &s, &len);
        if (st != KLAW_OK)
            return st;
        out->version = v;
        out->value_len = len;
    } else {
        urcu_bp_read_lock();
        rec *r = rec_current(c);
        out->version = r->version;
        out->value_len = r->len;
        TSAN_RELEASE(r);
        urcu_bp_read_unlock();
    }
    return KLAW_OK;
}

klaw_status klaw_watch_tx_stats(klaw_watch_tx *tx, klaw_watch_stats *out) { return stats(tx->c, out); }
klaw_status klaw_watch_rx_stats(klaw_watch_rx *rx, klaw_watch_stats *out) { return stats(rx->c, out); }

/* ---- select ------------------------------------------------------------------ */

static klaw_status sel_try_take(void *rxv, klaw_sel_result *out)
{
    klaw_watch_rx *rx = rxv;
    uint64_t v;
    int s = atomic_load_explicit(&rx->closed, memory_order_relaxed) ? -1 : change_state(rx, &v);
    klaw_status st = s > 0 ? klaw_watch_borrow_and_update(rx, &out->frame) : s < 0 ? KLAW_CLOSED : KLAW_EMPTY;
    out->status = st;
    return st;
}

static klaw_status sel_release(void *rx, klaw_frame *f) { return klaw_watch_release(rx, f); }

/* select's waiter: the channel's liveness clock, as a parked receiver's */
static void sel_maintain(void *rx) { klaw__life_maybe_reap(&((klaw_watch_rx *)rx)->c->life, klaw__now_ns()); }

static int64_t sel_due(void *rx)
{
    return atomic_load_explicit(&((klaw_watch_rx *)rx)->c->life.next_reap_ns, memory_order_relaxed);
}

static int sel_fd_arm(void *rxv, const klaw__fdw *w);
static unsigned sel_fd_mode(void *rxv);

klaw_status klaw__watch_sel_src(void *rxv, klaw_sel_src *out)
{
    klaw_watch_rx *rx = rxv;
    if (!rx || atomic_load(&rx->closed))
        return KLAW_INVAL;
    out->rx = rx;
    out->try_take = sel_try_take;
    out->release = sel_release;
    out->ec = &rx->c->ctl->changed;
    out->maintain = sel_maintain;
    out->liveness_ns = rx->c->liveness_ns;
    out->due_ns = sel_due;
    out->fd_arm = sel_fd_arm;
    out->fd_mode = sel_fd_mode;
    return KLAW_OK;
}

/* ---- inspection ---------------------------------------------------------------- */

klaw_status klaw__watch_inspect(klaw_region *r, klaw_watch_stats *out)
{
    memset(out, 0, sizeof *out);
    chan *c;
    klaw_status st = chan_attach(r, &c);
    if (st != KLAW_OK)
        return st;
    if (c->mode != MODE_SLOTS) {
        /* the records are in the creator's heap; counts only */
        chan_free(c);
        return KLAW_CORRUPT;
    }
    st = stats(c, out);
    chan_free(c); /* not chan_unref: the region stays the caller's */
    return st;
}
