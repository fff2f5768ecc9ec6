/*
 * broadcast.c - the broadcast channel (see klaw/broadcast.h): one ring of
 * slots in a region, written by one or many writers, read by every
 * registered receiver at its own cursor.
 *
 * ---- Layout (all offsets from the region base) ----------------------------
 *
 *   0                       klaw_region_header
 *   CTL_OFF (1024)          bc_ctl: config (two lines), then tail, gate, the
 *                           two event counts, the counters, the reader
 *                           registry's header and the lifecycle block
 *                           (channels/lifecycle.h: handles, lock, counts,
 *                           closed bits), each on cache lines of its own
 *   ctl.tables_off          the lifecycle tables: max_writers + max_readers
 *                           handle entries (64 bytes each), then the peer
 *                           slots (src/liveness.h)
 *   ctl.readers_off         max_readers x klaw__reg_ent (256 bytes each: the
 *                           reader registry, src/registry.h; a receiver's
 *                           cursor is its entry's live line)
 *   ctl.slots_off           capacity x slot_size bytes (a multiple of 64, or
 *                           of 16 with a single writer): each slot is a
 *                           16-byte header {state, len} and max_frame bytes
 *   then                    the ChannelMetadata record (KLAW_META_RESERVE)
 *
 * As in mpmc.c, a process copies and validates the config once when it
 * attaches and never re-reads it.
 *
 * ---- The slot protocol ----------------------------------------------------
 *
 * Positions are 64-bit and only grow; position p lives in slot p & mask
 * and its lap is L(p) = (p >> shift) + 1 (lap 0: never written). A slot's
 * state word packs  lap (48 bits) | owner (13 bits) | state (3 bits), with
 * states NONE (never written), WRITING, FULL and SKIPPED. The owner of a
 * WRITING slot is the claiming writer's lifecycle handle index (< 8192 =
 * KLAW__LIFE_MAX_HANDLES, so 13 bits; index 0 is a valid owner: only a
 * WRITING state names one). Laps are kept modulo 2^48 and compared modulo
 * 2^48 (lap_cmp, as in mpmc.c): after 2^48 laps of a small ring they wrap,
 * and a full-width comparison would take the wrapped slot for hostile
 * memory (KLAW_CORRUPT) and stop the writers.
 *
 * Invariants:
 *   B1  A writer owns position p once its CAS moved the slot from a
 *       finished state of lap L(p) - 1 (NONE, FULL or SKIPPED) to
 *       (L(p), WRITING, me); only then does it move tail past p (cell
 *       first; anyone who finds the slot at tail taken helps tail on). So
 *       tail > p implies the slot has reached lap L(p), and a slot is never
 *       written by two writers: a writer whose slot is still WRITING for
 *       the previous lap waits for that writer (or for its handle to go).
 *   B2  Only the owner moves (L, WRITING, me) on, by a store: FULL
 *       (commit) or SKIPPED (abort), except the lifecycle core's gone()
 *       callback, which turns the claims of a handle that went - closed by
 *       its owner, or its process gone - into SKIPPED by CAS. The two
 *       cannot race: a closed handle's commit, abort and commit_batch
 *       return KLAW_CLOSED without touching the slot (they read the
 *       handle's own, process-local closed flag), and a dead process
 *       stores nothing.
 *   B3  Readers never write slots (but for an abandoned claim of a closed
 *       channel, below). A reader at cursor c takes the frame when the
 *       slot holds (L(c), FULL); passes it when (L(c), SKIPPED); waits
 *       while the slot is at an older lap or (L(c), WRITING); and was
 *       overrun when the slot holds a later lap: positions c .. tail -
 *       capacity - 1 are gone, it moves to tail - capacity (the oldest
 *       position still retained) and reports exactly that many as LAGGED.
 *   B4  Seqlock validation (OVERWRITE): the bytes and the length of
 *       position p are valid while the slot still holds (L(p), FULL). A
 *       writer's CAS to WRITING comes before its first byte store (release
 *       fence); a reader reads the bytes (or the length), then an acquire
 *       fence, then the state again: unchanged means no writer touched
 *       them (release(), the copying recv() - which also validates before
 *       it believes a length that says TOOBIG).
 *   B5  BLOCK: a writer takes position p only when every registered
 *       receiver's cursor is > p - capacity. `gate` caches a lower bound of
 *       the cursors (recomputed from the registry only when p reaches
 *       gate + capacity, so a writer reads the readers' lines once per
 *       capacity frames at most). A receiver subscribing at the tail
 *       stores its cursor and re-reads tail until both agree, so any gate
 *       computed without it is <= its cursor. A dead receiver holds the
 *       gate until its handle is reaped (Recovery, below).
 *   B6  KLAW_BCAST_SINGLE_WRITER: max_writers is 1, so at most one writer
 *       handle exists and (by contract) one thread uses it at a time. Its
 *       claims keep B1's order - the slot's (L(p), WRITING, me) first, then
 *       tail = p + 1 - but as plain (relaxed / release) stores, not CASes:
 *       nobody else moves a slot out of a finished state or moves tail
 *       while that writer lives (gone() only CASes the WRITING slots of a
 *       handle that went; a receiver only an abandoned claim of a closed
 *       channel). Any slot that is not simply free (a later lap left by a
 *       reaped predecessor, a claim still WRITING) sends the writer to the
 *       CAS path, which is correct for one writer too. The next slots are
 *       prefetched for writing, so their cache lines move from the readers
 *       while the writer fills earlier ones: with no locked instruction
 *       draining the store buffer per slot, a batch of claims costs about
 *       half as much (measured in klaw-bench fanout).
 *
 * Orderings: slot CASes are acq_rel; commit publishes FULL with a seq_cst
 * store (at least release, so the length and bytes written before are
 * visible to the reader whose acquire load sees FULL; and a full barrier
 * before the waiter-flag load of the wake protocol). Broadcast does not use
 * mpmc's asymmetric fence (channels/wait.h): with N readers on few cores,
 * parks are frequent, and a membarrier per park interrupted every
 * registered CPU - measured slower in the fan-out benchmark than one xchg
 * per commit. So its waiters skip the heavy barrier. tail moves by CAS
 * (acq_rel) and is only a hint: every decision re-reads the slot, whose
 * lap tells a stale tail (no ABA within 2^48 laps). A receiver's cursor is
 * one store to its own cache line: a release store under OVERWRITE (nobody
 * waits on it), and a seq_cst store under BLOCK (the publisher's half of
 * waking a parked writer).
 *
 * Waking (channels/wait.h): readers park on `published`, which commits,
 * aborts and closes bump only when its waiter flag is set; BLOCK writers
 * park on `progress`, which receivers bump on release only when flagged
 * and their cursor crosses `wake_at` (half a ring past what the writer
 * needs: hysteresis, so a writer that keeps catching up with the slowest
 * receiver costs one wake per capacity/2 frames). wake_at only grows; the
 * writer raises it before arming; every receiver still below it when the
 * writer armed crosses it later (receivers read up to tail, wake_at <
 * tail), the slowest last, and a receiver that crossed before the arming
 * is seen by the writer's re-check after it.
 * No system call per frame when nobody is parked.
 *
 * Recovery (channels/lifecycle.h keeps the handle table, its lock, the
 * liveness clock and closing - L1..L5 there): writers are handles of role
 * H_TX, the closing role (when the last one goes, the channel is closed:
 * the life block's closed bit 1 << H_TX, never cleared); receivers are
 * handles of role H_RX, which never closes. A receiver's handle entry
 * names its registry record in `aux` ((reg_id << 12) | registry index,
 * 0: none yet); subscribe takes the handle, then - under the lifecycle
 * lock, the lock the registry's changes need (src/registry.h) - adds the
 * record and stores aux. When a handle goes, closed by its owner (dead =
 * 0) or reaped because its owner's process is gone (dead = 1, liveness the
 * kernel vouches for: src/liveness.h), gone() gives up what it held:
 *   - a writer: its (L, WRITING, idx) slots become (L, SKIPPED) by CAS
 *     (idempotent; counted as aborted claims - in the handle's own
 *     counter when closed, in reaped_aborted when reaped - and a reaped
 *     writer in reaped_writers). So a claim left open by a closed or dead
 *     writer never wedges the readers or the writer of the next lap.
 *   - a receiver: its registry record is removed if it is still the
 *     registration aux names (evicted when dead), which releases B5's gate.
 * After a death inside the lock, repair() rebuilds the registry header and
 * evicts records that no receiver handle names (a subscriber that died
 * between adding its record and storing aux). Waiters reap on the
 * channel's liveness clock (klaw__life_wait_check: however short each
 * call's deadline), and so does select's maintain().
 * What this module keeps: B1-B6, the registry (R1-R4, src/registry.c),
 * and the meaning of the stats; what the core keeps: who holds which
 * handle, the lock (taken over from a dead holder), closing (L3), and
 * calling gone() once per retirement (again after a death inside it).
 */
#include <errno.h>
#include <sched.h>
#include <unistd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ck_ec.h>

#include "klaw/broadcast.h"
#include "klaw/region.h"
#include "klaw/registry.h"
#include "lifecycle.h"
#include "fdwait.h"
#include "wait.h"
#include "crashpoint.h"
#include "meta.h"
#include "registry.h"
#include "select_impl.h"
#include "inspect.h"

#define CACHELINE KLAW_CACHELINE
#define CTL_OFF KLAW_CTL_OFF
#define BC_MAGIC 0x54534342u /* "BCST" */
#define SLOT_HDR 16u
#define SLOT_ALIGN 16u /* slot size granularity (and data alignment) */
#define DEFAULT_READERS 64u
#define MAX_READERS 4096u
#define DEFAULT_WRITERS 16u
#define MAX_WRITERS 4096u
#define SPIN_ITERS 256
#define YIELD_ITERS 8
#define SUBSCRIBE_TRIES 4096
#define PREFETCH_AHEAD 8 /* slots a single writer prefetches ahead (B6) */

#include "sanitize.h"

enum { S_NONE = 0, S_WRITING, S_FULL, S_SKIPPED };
#define ST_BITS 3
#define OWNER_BITS 13 /* a lifecycle handle index (KLAW__LIFE_MAX_HANDLES) */
#define LAP_SHIFT (ST_BITS + OWNER_BITS)
_Static_assert(KLAW__LIFE_MAX_HANDLES <= (1u << OWNER_BITS), "a handle index fits the owner field");
_Static_assert(MAX_WRITERS + MAX_READERS <= KLAW__LIFE_MAX_HANDLES, "writers and readers share the handle table");

static inline uint64_t mk(uint64_t lap, uint32_t st, uint32_t owner)
{
    return (lap << LAP_SHIFT) | ((uint64_t)owner << ST_BITS) | st;
}
static inline uint64_t lap_of(uint64_t s) { return s >> LAP_SHIFT; }
/* a - b for laps kept modulo 2^(64 - LAP_SHIFT): < 0, 0, > 0 as a is
 * before, equal to, after b (b may be a full-width lap) */
static inline int64_t lap_cmp(uint64_t a, uint64_t b) { return (int64_t)((a - b) << LAP_SHIFT) >> LAP_SHIFT; }
/* state v's lap is lap (modulo 2^48, like lap_cmp(...) == 0): one xor
 * and one shift, for the frame paths */
static inline int lap_is(uint64_t v, uint64_t lap) { return ((v ^ (lap << LAP_SHIFT)) >> LAP_SHIFT) == 0; }
static inline uint32_t st_of(uint64_t s) { return (uint32_t)(s & 7u); }
static inline uint32_t owner_of(uint64_t s) { return (uint32_t)((s >> ST_BITS) & ((1u << OWNER_BITS) - 1)); }

/* lifecycle roles, and the closed bit of the closing one */
enum { H_FREE = 0, H_TX = 1, H_RX = 2 };
enum { CLOSED_WRITERS = 1u << H_TX };
enum { WHY_NONE = 0, WHY_READERS, WHY_WRITER };

/* a receiver handle's aux: (reg_id << AUX_IDX_BITS) | registry index */
#define AUX_IDX_BITS 12
_Static_assert(MAX_READERS <= (1u << AUX_IDX_BITS), "a registry index fits aux");
static inline uint64_t aux_of(uint64_t reg_id, uint32_t idx) { return reg_id << AUX_IDX_BITS | idx; }

typedef struct bc_ctl {
    /* config: written before READY, never changed */
    uint32_t magic;
    uint32_t capacity;
    uint32_t shift;
    uint32_t max_frame;
    uint32_t slot_size;
    uint32_t max_readers;
    uint32_t max_writers;
    uint32_t policy;
    uint64_t tables_off; /* the lifecycle tables (handles, peers)        */
    uint64_t readers_off;
    uint64_t slots_off;
    uint64_t reserved_;
    uint32_t flags; /* KLAW_BCAST_SINGLE_WRITER (then max_writers is 1),
                       KLAW_BCAST_WRITER_YIELDS                           */
    uint32_t pad_cfg_;
    _Alignas(CACHELINE) _Atomic uint64_t tail;
    _Alignas(CACHELINE) _Atomic uint64_t gate;    /* BLOCK: <= every cursor */
    _Alignas(CACHELINE) struct ck_ec32 published; /* receivers park here    */
    _Alignas(CACHELINE) struct ck_ec32 progress;  /* BLOCK writers park here */
    _Atomic uint64_t wake_at; /* BLOCK: the cursor a parked writer waits for */
    _Alignas(CACHELINE) _Atomic uint64_t high_watermark;
    /* under the lifecycle lock (gone()): claims of reaped writers skipped,
     * writers reaped */
    _Atomic uint64_t reaped_aborted, reaped_writers;
    _Alignas(CACHELINE) klaw__reg_hdr reg;
    /* handles, their lock, counts and the closed bit (CLOSED_WRITERS) */
    _Alignas(CACHELINE) klaw__life_shared life;
} bc_ctl;

/* tests/test_broadcast.c finds the lifecycle block here (its lock word one
 * line further) */
_Static_assert(offsetof(bc_ctl, flags) == CACHELINE && offsetof(bc_ctl, life) == 8 * CACHELINE,
               "the lifecycle block is 8 cache lines into bc_ctl");

typedef struct bc_slot {
    _Atomic uint64_t state;
    _Atomic uint32_t len;
    uint32_t pad_;
} bc_slot;
_Static_assert(sizeof(bc_slot) == SLOT_HDR, "slot header is 16 bytes");

/* What a process knows about one attached channel (shared by its handles,
 * reference-counted). */
typedef struct chan {
    klaw_region *region;
    uint8_t *base;
    size_t size;
    bc_ctl *ctl;
    _Atomic uint32_t *closed; /* life.closed: CLOSED_WRITERS            */
    klaw__reg_ent *readers;
    uint8_t *slots;
    uint32_t capacity, mask, shift, max_frame, slot_size, max_readers, max_writers;
    int block;
    int single; /* KLAW_BCAST_SINGLE_WRITER: claims by plain stores (B6) */
    int yields; /* KLAW_BCAST_WRITER_YIELDS under OVERWRITE                */
    int pfw;    /* the CPU has PREFETCHW                                 */
    uint64_t liveness_ns;
    klaw__reg_view view; /* this process's RCU-published reader records */
    _Atomic uint32_t refs;
    klaw__life life;
} chan;

struct klaw_bcast_tx {
    chan *c;
    uint32_t idx; /* lifecycle handle (H_TX); a claim's owner            */
    _Atomic int closed;
    klaw__fdw fdw; /* its descriptor (klaw_bcast_tx_fd), when asked for  */
};

/* A receiver's per-frame state is process-local (next, cursor) plus its
 * registry entry's live line in the region (the published cursor). */
struct klaw_bcast_rx {
    chan *c;
    bc_ctl *ctl;
    _Atomic uint32_t *wclosed; /* life.closed                          */
    uint8_t *slots;
    klaw__reg_live *live;
    uint32_t mask, shift, slot_size, max_frame;
    int block;
    uint32_t h;        /* lifecycle handle (H_RX)                         */
    uint32_t seen;     /* frames since last_seen_at was refreshed          */
    uint64_t next;     /* the next position view() takes                  */
    uint64_t cursor;   /* published: every position below it is released */
    uint64_t resumed;  /* where the last overrun moved us (B3); ~0: never  */
    _Atomic int closed;
    klaw__fdw fdw;     /* its descriptor (klaw_bcast_rx_fd), when asked for */
};

static void *handle_alloc(size_t size)
{
    size_t n = (size + CACHELINE - 1) / CACHELINE * CACHELINE;
    void *p = aligned_alloc(CACHELINE, n);
    if (p)
        memset(p, 0, n);
    return p;
}

static inline bc_slot *slot_at(const chan *c, uint64_t pos)
{
    return (bc_slot *)(c->slots + (size_t)(pos & c->mask) * c->slot_size);
}

static inline uint64_t full_of(uint64_t pos, uint32_t shift) { return mk((pos >> shift) + 1, S_FULL, 0); }

static inline void wake_all(chan *c)
{
    kw_wake_all_fd(&c->ctl->published, &c->life, KLAW__EV_RX);
    kw_wake_all_fd(&c->ctl->progress, &c->life, KLAW__EV_TX);
}

static int64_t realtime_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Frame bytes under OVERWRITE may be overwritten while a reader copies
 * them (B4: the copy is then discarded). ThreadSanitizer builds copy with
 * relaxed atomics so that this designed race is a defined one. */
static inline void copy_bytes(void *dst, const void *src, size_t n, int into_slot)
{
#ifdef KLAW_TSAN
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        if (into_slot) {
            memcpy(&w, (const uint8_t *)src + i, 8);
            __atomic_store_n((uint64_t *)((uint8_t *)dst + i), w, __ATOMIC_RELAXED);
        } else {
            w = __atomic_load_n((const uint64_t *)((const uint8_t *)src + i), __ATOMIC_RELAXED);
            memcpy((uint8_t *)dst + i, &w, 8);
        }
    }
    for (; i < n; i++) {
        if (into_slot)
            __atomic_store_n((uint8_t *)dst + i, ((const uint8_t *)src)[i], __ATOMIC_RELAXED);
        else
            ((uint8_t *)dst)[i] = __atomic_load_n((const uint8_t *)src + i, __ATOMIC_RELAXED);
    }
#else
    (void)into_slot;
    memcpy(dst, src, n);
#endif
}

/* ---- what the lifecycle core asks of the channel (cold) -------------------- */

/* gone(): handle idx of `role` went (lock held). Idempotent: slot CASes,
 * and a registry record is removed only while it is still the one aux
 * names (L5: a second call after a death inside the lock changes
 * nothing - but for a reaped writer counted twice). */
static void life_gone(void *cv, uint32_t idx, uint32_t role, int dead)
{
    chan *c = cv;
    bc_ctl *ctl = c->ctl;
    if (role == H_TX) {
        /* B2: the claims it left open become skipped positions, counted
         * as aborted claims (a closed handle's in its own counter, which
         * the core folds into the retired total next) */
        for (uint32_t i = 0; i < c->capacity; i++) {
            bc_slot *s = (bc_slot *)(c->slots + (size_t)i * c->slot_size);
            uint64_t v = atomic_load_explicit(&s->state, memory_order_acquire);
            if (st_of(v) != S_WRITING || owner_of(v) != idx)
                continue;
            if (atomic_compare_exchange_strong(&s->state, &v, mk(lap_of(v), S_SKIPPED, 0))) {
                KLAW_CRASHPOINT("bcast.gone.skip");
                if (dead)
                    atomic_fetch_add(&ctl->reaped_aborted, 1);
                else
                    atomic_fetch_add(&klaw__life_ent_at(&c->life, idx)->counter, 1);
                KLAW_CRASHPOINT("bcast.gone.skip_count");
            }
        }
        if (dead) {
            atomic_fetch_add(&ctl->reaped_writers, 1);
            KLAW_CRASHPOINT("bcast.gone.reaped_writer");
        }
    } else if (role == H_RX) {
        /* its registration (evicted when dead): releases B5's gate */
        uint64_t aux = atomic_load(&klaw__life_ent_at(&c->life, idx)->aux);
        uint32_t ri = (uint32_t)(aux & ((1u << AUX_IDX_BITS) - 1));
        if (aux == 0 || ri >= c->max_readers)
            return;
        klaw__reg_ent *e = &c->readers[ri];
        uint64_t id = atomic_load_explicit(&e->rec.reg_id, memory_order_relaxed);
        if (atomic_load_explicit(&e->rec.state, memory_order_relaxed) == KLAW__REG_ACTIVE && aux_of(id, ri) == aux) {
            klaw__reg_remove(&ctl->reg, c->readers, ri, dead);
            KLAW_CRASHPOINT("bcast.gone.unsubscribe");
        }
    }
}

/* repair(): the lock was taken over from a dead holder. The registry's
 * header first (an odd generation, the count); then records that no
 * receiver handle names - a subscriber that died between adding its
 * record and storing aux - are evicted (nobody else would ever remove
 * them, and under BLOCK they would hold the gate for good). */
static void life_repair(void *cv)
{
    chan *c = cv;
    bc_ctl *ctl = c->ctl;
    klaw__reg_repair(&ctl->reg, c->readers, c->max_readers);
    uint64_t *named = calloc(c->max_readers, sizeof *named);
    if (!named)
        return; /* a record left over stays (the next recovery retries) */
    for (uint32_t i = 0; i < c->life.max_handles; i++) {
        klaw__life_ent *e = klaw__life_ent_at(&c->life, i);
        if (atomic_load(&e->role) != H_RX)
            continue;
        uint64_t aux = atomic_load(&e->aux);
        uint32_t ri = (uint32_t)(aux & ((1u << AUX_IDX_BITS) - 1));
        if (aux && ri < c->max_readers)
            named[ri] = aux;
    }
    uint32_t span = klaw__reg_span(&ctl->reg, c->max_readers);
    for (uint32_t i = 0; i < span; i++) {
        klaw__reg_ent *e = &c->readers[i];
        if (atomic_load(&e->rec.state) != KLAW__REG_ACTIVE)
            continue;
        if (named[i] != aux_of(atomic_load(&e->rec.reg_id), i)) {
            klaw__reg_remove(&ctl->reg, c->readers, i, 1);
            KLAW_CRASHPOINT("bcast.repair.evict");
        }
    }
    free(named);
}

static void life_wake(void *cv) { wake_all(cv); }
static const klaw__life_ops life_ops = {life_gone, life_repair, life_wake};

static uint32_t reap(chan *c) { return klaw__life_reap(&c->life); }

static klaw_status lock_cb(void *c)
{
    return klaw__life_lock(&((chan *)c)->life) == KLAW_OK ? KLAW_OK : KLAW_CORRUPT;
}
static void unlock_cb(void *c) { klaw__life_unlock(&((chan *)c)->life); }

/* A writer handle: at most max_writers of them (the table is shared with
 * the receivers). The core enforces one for KLAW_BCAST_SINGLE_WRITER;
 * otherwise a writer that finds more than max_writers after taking its
 * entry keeps it only if fewer than max_writers writers sit below it in
 * the table (so of two racing openers the later entry gives way). */
static klaw_status take_writer(chan *c, uint32_t *idx)
{
    /* the single writer's dead process must not keep the next one out:
     * reap before looking (an open is a cold path) */
    if (c->single || klaw__life_count(&c->life, H_TX) >= c->max_writers)
        reap(c);
    if (!c->single && klaw__life_count(&c->life, H_TX) >= c->max_writers)
        return KLAW_FULL;
    klaw_status st = klaw__life_take(&c->life, H_TX, c->single != 0, idx);
    if (st != KLAW_OK || c->single || klaw__life_count(&c->life, H_TX) <= c->max_writers)
        return st;
    uint32_t below = 0;
    if (klaw__life_lock(&c->life) == KLAW_OK) {
        for (uint32_t i = 0; i < *idx; i++)
            below += atomic_load(&klaw__life_ent_at(&c->life, i)->role) == H_TX;
        klaw__life_unlock(&c->life);
    }
    if (below >= c->max_writers) {
        klaw__life_give(&c->life, *idx);
        return KLAW_FULL;
    }
    return KLAW_OK;
}

/* ---- creating and attaching -------------------------------------------- */

static void chan_unref(chan *c)
{
    if (atomic_fetch_sub(&c->refs, 1) == 1) {
        klaw__reg_view_fini(&c->view);
        klaw__life_detach(&c->life);
        klaw_region_close(c->region);
        free(c);
    }
}

static klaw_status chan_attach(klaw_region *r, chan **out)
{
    uint8_t *base = klaw_region_base(r);
    size_t size = klaw_region_size(r);
    const klaw_region_header *h = klaw_region_hdr(r);
    bc_ctl *ctl = klaw_region_at(base, size, h->body_off, sizeof(bc_ctl));
    if (!ctl || h->body_off % CACHELINE || h->body_len < sizeof(bc_ctl))
        return KLAW_CORRUPT;
    /* copy the config once; validate it; never trust it again */
    uint32_t cap = ctl->capacity, shift = ctl->shift, maxf = ctl->max_frame, ssz = ctl->slot_size,
             nr = ctl->max_readers, nw = ctl->max_writers, pol = ctl->policy, fl = ctl->flags;
    uint64_t roff = ctl->readers_off, soff = ctl->slots_off;
    uint64_t rlen = (uint64_t)nr * sizeof(klaw__reg_ent), slen = (uint64_t)cap * ssz;
    if (ctl->magic != BC_MAGIC || cap < 2 || cap > (1u << 30) || (cap & (cap - 1)) || shift >= 31 ||
        (1u << shift) != cap || maxf < 1 || maxf > (1u << 30) || ssz % SLOT_ALIGN ||
        (uint64_t)ssz < (uint64_t)maxf + SLOT_HDR || nr == 0 || nr > MAX_READERS || nw == 0 ||
        nw > MAX_WRITERS || (pol != KLAW_POLICY_OVERWRITE && pol != KLAW_POLICY_BLOCK) ||
        (fl & ~(KLAW_BCAST_SINGLE_WRITER | KLAW_BCAST_WRITER_YIELDS)) ||
        ((fl & KLAW_BCAST_SINGLE_WRITER) && nw != 1) || roff % CACHELINE || soff % CACHELINE ||
        !klaw_region_at(base, size, roff, rlen) || !klaw_region_at(base, size, soff, slen) || ctl->reg.max != nr)
        return KLAW_CORRUPT;
    chan *c = calloc(1, sizeof *c);
    if (!c)
        return KLAW_NOMEM;
    /* the lifecycle tables are checked against the control block; the
     * registry and the slots must overlap neither of them (the lock word
     * above all) nor each other; the table holds exactly the writers and
     * the readers, and only the writers' role closes */
    if (klaw__life_attach(&c->life, r, &ctl->life, h->body_off, sizeof(bc_ctl), &life_ops, c) != KLAW_OK) {
        free(c);
        return KLAW_CORRUPT;
    }
    const klaw__life *L = &c->life;
    if (klaw__life_overlaps(L, h->body_off, sizeof(bc_ctl), roff, rlen) ||
        klaw__life_overlaps(L, h->body_off, sizeof(bc_ctl), soff, slen) || klaw__overlap(roff, rlen, soff, slen) ||
        L->max_handles != nw + nr || L->closing_roles != CLOSED_WRITERS) {
        klaw__life_detach(&c->life);
        free(c);
        return KLAW_CORRUPT;
    }
    c->region = r;
    c->base = base;
    c->size = size;
    c->ctl = ctl;
    c->closed = &ctl->life.closed;
    c->readers = (klaw__reg_ent *)(base + roff);
    c->slots = base + soff;
    c->capacity = cap;
    c->mask = cap - 1;
    c->shift = shift;
    c->max_frame = maxf;
    c->slot_size = ssz;
    c->max_readers = nr;
    c->max_writers = nw;
    c->block = pol == KLAW_POLICY_BLOCK;
    c->single = (fl & KLAW_BCAST_SINGLE_WRITER) != 0;
    c->yields = (fl & KLAW_BCAST_WRITER_YIELDS) && pol == KLAW_POLICY_OVERWRITE;
    c->pfw = klaw__have_prefetchw();
    c->liveness_ns = L->liveness_ns;
    atomic_store(&c->refs, 1);
    *out = c;
    return KLAW_OK;
}

static uint64_t round_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

klaw_status klaw_bcast_create(const klaw_bcast_opts *o, klaw_bcast_tx **txo)
{
    if (txo)
        *txo = NULL;
    if (!o || o->capacity < 1 || o->capacity > (1u << 30) || o->max_frame < 1 || o->max_frame > (1u << 30) ||
        o->max_readers > MAX_READERS || o->max_writers > MAX_WRITERS ||
        (o->flags & ~(KLAW_BCAST_SINGLE_WRITER | KLAW_BCAST_WRITER_YIELDS)) ||
        ((o->flags & KLAW_BCAST_SINGLE_WRITER) && o->max_writers > 1) || (!txo && !o->name))
        return KLAW_INVAL;
    int policy = o->policy == 0 ? KLAW_POLICY_OVERWRITE : o->policy;
    if (policy != KLAW_POLICY_OVERWRITE && policy != KLAW_POLICY_BLOCK)
        return KLAW_INVAL;
    uint32_t cap = 2, shift = 1;
    while (cap < o->capacity) {
        cap <<= 1;
        shift++;
    }
    uint32_t nr = o->max_readers ? o->max_readers : DEFAULT_READERS;
    uint32_t nw = (o->flags & KLAW_BCAST_SINGLE_WRITER) ? 1u : o->max_writers ? o->max_writers : DEFAULT_WRITERS;
    uint32_t nh = nw + nr, np = klaw__life_peers_for(nh);
    /* A single writer's slots (plain stores only) are packed at 16 bytes:
     * a 64-byte frame's slot is 80 bytes, 1.25 cache lines to move from
     * writer to readers rather than 2 (fan-out 64 B BLOCK N = 1: ~100 M ->
     * ~140 M frames/s). Several writers CAS slot states, and a CAS on a
     * line another writer or a reader is using for the neighbouring slot
     * costs more than the padding: their slots are padded to cache lines. */
    uint32_t ssz = (uint32_t)round_up((uint64_t)o->max_frame + SLOT_HDR,
                                      (o->flags & KLAW_BCAST_SINGLE_WRITER) ? SLOT_ALIGN : CACHELINE);
    uint64_t toff = round_up(CTL_OFF + sizeof(bc_ctl), CACHELINE);
    uint64_t roff = round_up(toff + klaw__life_tables_size(nh, np), CACHELINE);
    uint64_t soff = round_up(roff + (uint64_t)nr * sizeof(klaw__reg_ent), 4096);
    uint64_t moff = soff + (uint64_t)cap * ssz;
    klaw_region *r;
    klaw_status st = klaw__chan_region_create(o->name, moff + KLAW_META_RESERVE, KLAW_KIND_BROADCAST, o->mode,
                                              o->set_group, o->group, &r);
    if (st != KLAW_OK)
        return st;
    uint8_t *base = klaw_region_base(r);
    bc_ctl *ctl = (bc_ctl *)(base + CTL_OFF);
    ctl->magic = BC_MAGIC;
    ctl->capacity = cap;
    ctl->shift = shift;
    ctl->max_frame = o->max_frame;
    ctl->slot_size = ssz;
    ctl->max_readers = nr;
    ctl->max_writers = nw;
    ctl->policy = (uint32_t)policy;
    ctl->flags = o->flags;
    ctl->tables_off = toff;
    ctl->readers_off = roff;
    ctl->slots_off = soff;
    ck_ec32_init(&ctl->published, 0);
    ck_ec32_init(&ctl->progress, 0);
    klaw__reg_init(&ctl->reg, (klaw__reg_ent *)(base + roff), nr);
    klaw__life_init(&ctl->life, toff, nh, np, o->liveness_ns, CLOSED_WRITERS);

    /* slots start as (lap 0, NONE): the zero-filled region already is */
    st = klaw__chan_publish(r, moff, KLAW_CHANNEL_BROADCAST, cap, o->max_frame, policy, o->value_type, CTL_OFF,
                            sizeof(bc_ctl));
    chan *c = NULL;
    if (st == KLAW_OK)
        st = chan_attach(r, &c);
    if (st != KLAW_OK) {
        klaw__chan_discard(r, o->name);
        return st;
    }
    if (!txo) { /* created for writers that open it by name */
        chan_unref(c);
        return KLAW_OK;
    }
    klaw_bcast_tx *tx = handle_alloc(sizeof *tx);
    if (!tx || (st = take_writer(c, &tx->idx)) != KLAW_OK) {
        free(tx);
        chan_unref(c); /* closes r */
        klaw__chan_discard(NULL, o->name);
        return !tx ? KLAW_NOMEM : st == KLAW_SYS ? KLAW_SYS : KLAW_CORRUPT;
    }
    tx->c = c;
    *txo = tx;
    return KLAW_OK;
}

static klaw_status open_chan(const char *name, chan **out)
{
    klaw_region *r;
    klaw_status st = klaw_region_open(name, KLAW_KIND_BROADCAST, 1000, &r);
    if (st != KLAW_OK)
        return st;
    st = chan_attach(r, out);
    if (st != KLAW_OK) {
        klaw_region_close(r);
        return st;
    }
    reap(*out);
    return KLAW_OK;
}

klaw_status klaw_bcast_open_tx(const char *name, klaw_bcast_tx **out)
{
    *out = NULL;
    klaw_bcast_tx *tx = handle_alloc(sizeof *tx);
    if (!tx)
        return KLAW_NOMEM;
    klaw_status st = open_chan(name, &tx->c);
    if (st == KLAW_OK) {
        st = take_writer(tx->c, &tx->idx);
        if (st != KLAW_OK)
            chan_unref(tx->c);
    }
    if (st != KLAW_OK) {
        free(tx);
        return st;
    }
    *out = tx;
    return KLAW_OK;
}

/* Registers a receiver of c (which gains a reference on success): a
 * handle of role H_RX first, then - under the lifecycle lock - the
 * registry record and the handle's aux naming it (see Recovery). */
static klaw_status subscribe(chan *c, unsigned flags, const char *reader_id, klaw_bcast_rx **out)
{
    *out = NULL;
    if (flags > KLAW_BCAST_FROM_OLDEST)
        return KLAW_INVAL;
    klaw_bcast_rx *rx = handle_alloc(sizeof *rx);
    if (!rx)
        return KLAW_NOMEM;
    uint32_t h;
    klaw_status st = klaw__life_take(&c->life, H_RX, false, &h);
    if (st == KLAW_OK)
        st = klaw__life_lock(&c->life);
    if (st != KLAW_OK) {
        free(rx);
        /* receivers never close: only hostile memory says they did */
        return st == KLAW_CLOSED ? KLAW_CORRUPT : st;
    }
    bc_ctl *ctl = c->ctl;
    uint64_t t = atomic_load(&ctl->tail);
    uint64_t start = t;
    if (flags & KLAW_BCAST_FROM_OLDEST)
        start = t > c->capacity ? t - c->capacity : 0;
    uint32_t idx;
    st = klaw__reg_add(&ctl->reg, c->readers, c->max_readers, reader_id, start, &idx);
    if (st == KLAW_OK) {
        atomic_store(&klaw__life_ent_at(&c->life, h)->aux, aux_of(atomic_load(&c->readers[idx].rec.reg_id), idx));
        KLAW_CRASHPOINT("bcast.subscribe.aux");
    }
    klaw__life_unlock(&c->life);
    if (st != KLAW_OK) {
        klaw__life_give(&c->life, h);
        free(rx);
        return st;
    }
    klaw__reg_live *live = &c->readers[idx].live;
    if (!(flags & KLAW_BCAST_FROM_OLDEST)) {
        /* B5: the cursor is published; move it to tail until tail stays
         * put, so that no gate computed without us is above it (and no
         * frame committed before we joined reads as missed) */
        for (int i = 0; i < SUBSCRIBE_TRIES; i++) {
            uint64_t t2 = atomic_load(&ctl->tail);
            if (t2 == start)
                break;
            start = t2;
            atomic_store(&live->start, start);
            KLAW_CRASHPOINT("bcast.subscribe.start");
            atomic_store(&live->cursor, start);
            KLAW_CRASHPOINT("bcast.subscribe.cursor");
        }
    }
    rx->c = c;
    rx->ctl = ctl;
    rx->wclosed = c->closed;
    rx->slots = c->slots;
    rx->live = live;
    rx->mask = c->mask;
    rx->shift = c->shift;
    rx->slot_size = c->slot_size;
    rx->max_frame = c->max_frame;
    rx->block = c->block;
    rx->h = h;
    rx->next = start;
    rx->cursor = start;
    rx->resumed = UINT64_MAX;
    atomic_fetch_add(&c->refs, 1);
    *out = rx;
    return KLAW_OK;
}

klaw_status klaw_bcast_subscribe(klaw_bcast_tx *tx, unsigned flags, const char *reader_id, klaw_bcast_rx **rx)
{
    *rx = NULL;
    if (!tx || atomic_load(&tx->closed))
        return KLAW_INVAL;
    return subscribe(tx->c, flags, reader_id, rx);
}

klaw_status klaw_bcast_open_rx(const char *name, unsigned flags, const char *reader_id, klaw_bcast_rx **rx)
{
    *rx = NULL;
    chan *c;
    klaw_status st = open_chan(name, &c);
    if (st != KLAW_OK)
        return st;
    st = subscribe(c, flags, reader_id, rx);
    chan_unref(c); /* the receiver holds its own reference */
    return st;
}

klaw_status klaw_bcast_tx_clone(klaw_bcast_tx *tx, klaw_bcast_tx **out)
{
    *out = NULL;
    if (atomic_load(&tx->closed))
        return KLAW_CLOSED;
    klaw_bcast_tx *n = handle_alloc(sizeof *n);
    if (!n)
        return KLAW_NOMEM;
    klaw_status st = take_writer(tx->c, &n->idx);
    if (st != KLAW_OK) {
        free(n);
        return st;
    }
    atomic_fetch_add(&tx->c->refs, 1);
    n->c = tx->c;
    *out = n;
    return KLAW_OK;
}

/* Closing gives the handle back to the core: gone() skips the claims it
 * left open (B2) or removes the receiver's registration, the last writer
 * closes the channel, and parked callers are woken. Only this process's
 * own handle is retired (a fork child closing its parent's handle leaves
 * it to the parent). */
void klaw_bcast_tx_close(klaw_bcast_tx *tx)
{
    if (tx && !atomic_exchange(&tx->closed, 1))
        klaw__life_give(&tx->c->life, tx->idx);
}

void klaw_bcast_rx_close(klaw_bcast_rx *rx)
{
    if (rx && !atomic_exchange(&rx->closed, 1))
        klaw__life_give(&rx->c->life, rx->h);
}

void klaw_bcast_tx_free(klaw_bcast_tx *tx)
{
    if (!tx)
        return;
    klaw_bcast_tx_close(tx);
    klaw__fd_handle_close(&tx->c->life, tx->idx, &tx->fdw, false);
    chan_unref(tx->c);
    free(tx);
}

void klaw_bcast_rx_free(klaw_bcast_rx *rx)
{
    if (!rx)
        return;
    klaw_bcast_rx_close(rx);
    klaw__fd_handle_close(&rx->c->life, rx->h, &rx->fdw, false);
    chan_unref(rx->c);
    free(rx);
}

/* ---- waiting --------------------------------------------------------------- */

typedef struct wait_ctx {
    chan *c;
    int (*ready)(struct wait_ctx *);
    void *h;                  /* the tx or rx handle                     */
    void (*on_sleep)(void *); /* before sleeping, and every liveness period */
    int64_t seen_due;         /* when on_sleep is next due               */
} wait_ctx;

static int wait_pred(const struct ck_ec_wait_state *ws, struct timespec *deadline)
{
    wait_ctx *w = ws->data;
    if (w->ready(w))
        return 1;
    int64_t now = (int64_t)ws->now.tv_sec * 1000000000 + ws->now.tv_nsec;
    if (w->on_sleep && now >= w->seen_due) {
        w->seen_due = now + (int64_t)w->c->liveness_ns;
        w->on_sleep(w->h);
    }
    /* the channel's liveness clock (not this call's): reap when due, and
     * wake up in time for it (so a caller that waits in short slices
     * still reaps) */
    return klaw__life_wait_check(&w->c->life, now, deadline);
}

/* The CPUs this process may run on (once). */
static uint32_t cpus_available(void)
{
    static _Atomic uint32_t n;
    uint32_t v = atomic_load_explicit(&n, memory_order_relaxed);
    if (KLAW_UNLIKELY(v == 0)) {
        cpu_set_t set;
        int k = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 0;
        if (k <= 0) {
            long m = sysconf(_SC_NPROCESSORS_ONLN);
            k = m > 0 ? (int)m : 1;
        }
        v = (uint32_t)k;
        atomic_store_explicit(&n, v, memory_order_relaxed);
    }
    return v;
}

static inline bool oversubscribed(const chan *c)
{
    uint32_t users = atomic_load_explicit(&c->ctl->life.count[H_TX], memory_order_relaxed) +
                     atomic_load_explicit(&c->ctl->reg.count, memory_order_relaxed);
    return users > cpus_available();
}

/* Parks on ec until ready() or the deadline: KLAW_TIMEOUT or KLAW_OK (the
 * caller re-checks). */
static klaw_status park(chan *c, struct ck_ec32 *ec, int (*ready)(wait_ctx *), void *h,
                        void (*on_sleep)(void *), const struct timespec *deadline)
{
    wait_ctx w = {c, ready, h, on_sleep, 0};
    /* Spin only while every writer and receiver can have a CPU of its own:
     * with more of them than CPUs, the one we wait for may be waiting for
     * our CPU, and spinning only delays it (the fan-out benchmark's N > 1
     * rows on two cores). */
    bool crowded = oversubscribed(c);
    int spins = crowded ? 0 : SPIN_ITERS;
    for (int i = 0; i < spins; i++) {
        if (ready(&w))
            return KLAW_OK;
        ck_pr_stall();
    }
    /* crowded: give the CPU to whoever shares it (the writer or reader we
     * wait for, often) a few times before paying for a park and a wake */
    for (int i = 0; crowded && i < YIELD_ITERS; i++) {
        sched_yield();
        if (ready(&w))
            return KLAW_OK;
    }
    /* going to sleep: only now read the clock (and let a receiver say it
     * is alive) */
    if (on_sleep) {
        on_sleep(h);
        w.seen_due = klaw__now_ns() + (int64_t)c->liveness_ns;
    }
    uint32_t v = ck_ec32_value(ec);
    if (ready(&w))
        return KLAW_OK;
    if (ck_ec32_wait_pred(ec, crowded ? &klaw__ec_mode_nospin : &klaw__ec_mode, v, wait_pred, &w, deadline) == -1 &&
        klaw__deadline_passed(deadline))
        return KLAW_TIMEOUT;
    return KLAW_OK;
}

/* ---- writing ------------------------------------------------------------- */

static inline void advance(_Atomic uint64_t *idx, uint64_t from, uint64_t to)
{
    uint64_t cur = from;
    while (cur < to && !atomic_compare_exchange_weak_explicit(idx, &cur, to, memory_order_acq_rel,
                                                               memory_order_relaxed)) {
    }
}

/* B5: may a writer take position t? Recomputes the gate from the
 * registry when the cached one says no (seq_cst loads: the writer's half
 * of the Dekker pair with a receiver's cursor store). */
static int gate_recompute(chan *c, uint64_t t, uint64_t g);

static inline int gate_allows(chan *c, uint64_t t)
{
    uint64_t g = atomic_load_explicit(&c->ctl->gate, memory_order_acquire);
    return t < g + c->capacity || gate_recompute(c, t, g);
}

/* gate_allows' slow path: the registry's cursors, once per capacity
 * frames at most. */
static int gate_recompute(chan *c, uint64_t t, uint64_t g)
{
    bc_ctl *ctl = c->ctl;
    uint64_t m = UINT64_MAX;
    uint32_t span = klaw__reg_span(&ctl->reg, c->max_readers);
    for (uint32_t i = 0; i < span; i++) {
        klaw__reg_ent *e = &c->readers[i];
        if (atomic_load_explicit(&e->rec.state, memory_order_seq_cst) != KLAW__REG_ACTIVE)
            continue;
        uint64_t cur = atomic_load_explicit(&e->live.cursor, memory_order_seq_cst);
        if (cur < m)
            m = cur;
    }
    if (m == UINT64_MAX || m > t)
        m = t; /* no receiver (or a hostile cursor): the gate never passes tail */
    uint64_t depth = t - m;
    uint64_t hw = atomic_load_explicit(&ctl->high_watermark, memory_order_relaxed);
    while (depth > hw && !atomic_compare_exchange_weak(&ctl->high_watermark, &hw, depth)) {
    }
    KLAW_CRASHPOINT("bcast.gate.watermark");
    while (m > g && !atomic_compare_exchange_weak(&ctl->gate, &g, m)) {
    }
    KLAW_CRASHPOINT("bcast.gate.store");
    return t < m + c->capacity;
}

static inline void fill_claim(chan *c, uint64_t pos, size_t len, klaw_frame *f)
{
    bc_slot *s = slot_at(c, pos);
    f->slot_ = s;
    f->pos_ = pos;
    f->seq = pos;
    f->data = (uint8_t *)s + SLOT_HDR;
    f->len = (uint32_t)len;
    f->cap = c->max_frame;
}

/* One attempt to take the position at tail (B1). KLAW_OK; KLAW_FULL with
 * *why (WHY_READERS: BLOCK and the slowest receiver has not released the
 * slot's previous frame; WHY_WRITER: the writer of the slot's previous
 * lap has not finished); KLAW_CORRUPT for a slot state no protocol step
 * makes. */
static void lap_yield(chan *c);

static inline klaw_status claim_one(chan *c, uint32_t me, size_t len, klaw_frame *f, int *why)
{
    bc_ctl *ctl = c->ctl;
    for (;;) {
        uint64_t t = atomic_load_explicit(&ctl->tail, memory_order_acquire);
        bc_slot *s = slot_at(c, t);
        uint64_t lap = (t >> c->shift) + 1;
        uint64_t v = atomic_load_explicit(&s->state, memory_order_acquire);
        /* the frame path: the slot's last lap, not being written */
        if (lap_is(v, lap - 1) && st_of(v) != S_WRITING) {
            if (c->block && !gate_allows(c, t)) {
                if (atomic_load_explicit(&ctl->tail, memory_order_acquire) != t)
                    continue;
                *why = WHY_READERS;
                return KLAW_FULL;
            }
            if (atomic_compare_exchange_strong_explicit(&s->state, &v, mk(lap, S_WRITING, me),
                                                        memory_order_acq_rel, memory_order_acquire)) {
                KLAW_CRASHPOINT("bcast.claim.slot");
                /* B4: the WRITING state before any byte of the frame */
                atomic_thread_fence(memory_order_release);
                advance(&ctl->tail, t, t + 1);
                KLAW_CRASHPOINT("bcast.claim.tail");
                fill_claim(c, t, len, f);
                if (KLAW_UNLIKELY(c->yields) && (t & c->mask) == 0)
                    lap_yield(c);
                return KLAW_OK;
            }
            continue;
        }
        /* the last position: helping tail on would wrap to 0 and never move
         * (2^64 frames: only hostile memory gets here; a claim there moves
         * tail to 0 once, which is harmless) */
        if (KLAW_UNLIKELY(t == UINT64_MAX))
            return KLAW_CORRUPT;
        int64_t d = lap_cmp(lap_of(v), lap);
        if (d >= 0) { /* taken for this lap: help tail on */
            /* a later lap with tail still at t breaks B1 (its claimer saw
             * tail past t + capacity): hostile memory, not a stale tail */
            if (d > 0 && atomic_load_explicit(&ctl->tail, memory_order_acquire) == t)
                return KLAW_CORRUPT;
            advance(&ctl->tail, t, t + 1);
            KLAW_CRASHPOINT("bcast.claim.help");
            continue;
        }
        if (atomic_load_explicit(&ctl->tail, memory_order_acquire) != t)
            continue;
        if (d == -1) {
            *why = WHY_WRITER;
            return KLAW_FULL;
        }
        return KLAW_CORRUPT;
    }
}

/* KLAW_BCAST_WRITER_YIELDS: an OVERWRITE writer never waits, so on a
 * crowded machine (writers + readers > CPUs) it would keep its CPU for a
 * whole time slice, lapping the readers that share it (they cannot run)
 * and the others (they cannot keep up) many times over. With the flag it
 * gives the CPU up once per ring lap - a claim of a position at slot 0 -
 * while the channel is crowded: one sched_yield per capacity frames, and
 * none at all on an uncrowded machine. */
static KLAW_COLD void lap_yield(chan *c)
{
    if (oversubscribed(c))
        sched_yield();
}

/* B6: the single writer takes up to n positions from tail with plain
 * stores. Returns how many; 0 when the slot at tail is not simply free or
 * BLOCK's gate says no (claim_one then decides: it waits, helps tail on,
 * or finds corruption). */
static size_t claim_run(chan *c, uint32_t me, size_t len, klaw_frame *f, size_t n)
{
    bc_ctl *ctl = c->ctl;
    uint64_t t = atomic_load_explicit(&ctl->tail, memory_order_acquire);
    /* B5: positions below gate + capacity are free of every receiver (the
     * gate only grows); past it, gate_allows looks at the cursors again */
    uint64_t limit = c->block ? atomic_load_explicit(&ctl->gate, memory_order_acquire) + c->capacity : UINT64_MAX;
    size_t k = 0;
    for (; k < n; k++, t++) {
        bc_slot *s = slot_at(c, t);
        klaw__prefetch_w(slot_at(c, t + PREFETCH_AHEAD), c->slot_size > CACHELINE, c->pfw);
        uint64_t lap = (t >> c->shift) + 1;
        uint64_t v = atomic_load_explicit(&s->state, memory_order_acquire);
        if (!lap_is(v, lap - 1) || st_of(v) == S_WRITING)
            break;
        if (t >= limit) {
            if (!gate_allows(c, t))
                break;
            limit = atomic_load_explicit(&ctl->gate, memory_order_acquire) + c->capacity;
        }
        atomic_store_explicit(&s->state, mk(lap, S_WRITING, me), memory_order_relaxed);
        KLAW_CRASHPOINT("bcast.claim.slot");
        atomic_store_explicit(&ctl->tail, t + 1, memory_order_release); /* B1: the cell first */
        KLAW_CRASHPOINT("bcast.claim.tail");
        fill_claim(c, t, len, &f[k]);
    }
    if (k)
        atomic_thread_fence(memory_order_release); /* B4: the WRITING states before any byte */
    uint64_t a = t - k; /* claimed a .. t - 1: did that include slot 0? */
    if (KLAW_UNLIKELY(c->yields) && k && ((a & c->mask) == 0 || (a >> c->shift) != ((t - 1) >> c->shift)))
        lap_yield(c);
    return k;
}

static inline klaw_status claim_checks(klaw_bcast_tx *tx, size_t len)
{
    chan *c = tx->c;
    if (KLAW_UNLIKELY(len > c->max_frame))
        return KLAW_TOOBIG;
    if (KLAW_UNLIKELY(klaw__handle_closed(&tx->closed)))
        return KLAW_CLOSED;
    if (c->block && atomic_load_explicit(&c->ctl->reg.count, memory_order_acquire) == 0)
        return KLAW_NO_RECEIVERS;
    return KLAW_OK;
}

klaw_status klaw_bcast_try_claim(klaw_bcast_tx *tx, size_t len, klaw_frame *f)
{
    klaw_status st = claim_checks(tx, len);
    if (st != KLAW_OK)
        return st;
    if (tx->c->single && claim_run(tx->c, tx->idx, len, f, 1))
        return KLAW_OK;
    int why;
    return claim_one(tx->c, tx->idx, len, f, &why);
}

static int tx_readers_ready(wait_ctx *w)
{
    chan *c = w->c;
    klaw_bcast_tx *tx = w->h;
    if (atomic_load(&tx->closed) || atomic_load_explicit(&c->ctl->reg.count, memory_order_seq_cst) == 0)
        return 1;
    return gate_allows(c, atomic_load_explicit(&c->ctl->tail, memory_order_seq_cst));
}

static int tx_writer_ready(wait_ctx *w)
{
    chan *c = w->c;
    uint64_t t = atomic_load_explicit(&c->ctl->tail, memory_order_acquire);
    uint64_t v = atomic_load_explicit(&slot_at(c, t)->state, memory_order_acquire);
    return st_of(v) != S_WRITING || lap_cmp(lap_of(v), t >> c->shift) > 0;
}

klaw_status klaw_bcast_claim(klaw_bcast_tx *tx, size_t len, const struct timespec *deadline, klaw_frame *f)
{
    for (;;) {
        klaw_status st = claim_checks(tx, len);
        if (st != KLAW_OK)
            return st;
        chan *c = tx->c;
        if (c->single && claim_run(c, tx->idx, len, f, 1))
            return KLAW_OK;
        int why = WHY_NONE;
        st = claim_one(c, tx->idx, len, f, &why);
        if (st != KLAW_FULL)
            return st;
        if (why == WHY_READERS) {
            /* hysteresis: receivers wake us once the slowest has freed half
             * the ring, not on every release (one futex wake per capacity/2
             * frames instead of per frame); stored before park() arms the
             * flag, so a receiver that sees the flag sees this value */
            uint64_t t = atomic_load_explicit(&c->ctl->tail, memory_order_relaxed);
            /* with more writers and readers than CPUs, a wake-up is a
             * context switch on a shared CPU: wait until 7/8 of the ring is
             * free, so each switch pays for more frames */
            uint64_t half = oversubscribed(c) ? c->capacity / 8 : c->capacity / 2;
            uint64_t want = t > half ? t - half : 0;
            /* only grows: a receiver's crossing of a later value also
             * serves a writer that asked for an earlier one (tail only
             * grows, and every receiver reads up to it) */
            uint64_t cur = atomic_load_explicit(&c->ctl->wake_at, memory_order_relaxed);
            while (want > cur && !atomic_compare_exchange_weak_explicit(&c->ctl->wake_at, &cur, want,
                                                                         memory_order_acq_rel, memory_order_relaxed)) {
            }
            KLAW_CRASHPOINT("bcast.claim.wake_at");
            st = park(c, &c->ctl->progress, tx_readers_ready, tx, NULL, deadline);
        } else {
            st = park(c, &c->ctl->published, tx_writer_ready, tx, NULL, deadline);
        }
        if (st == KLAW_TIMEOUT || klaw__deadline_passed(deadline)) {
            st = klaw_bcast_try_claim(tx, len, f);
            return st == KLAW_FULL ? KLAW_TIMEOUT : st;
        }
    }
}

static inline klaw_status after_commit(chan *c)
{
    kw_wake_if_waiters_fd(&c->ctl->published, &c->life, KLAW__EV_RX);
    return KLAW_UNLIKELY(atomic_load_explicit(&c->ctl->reg.count, memory_order_relaxed) == 0) ? KLAW_NO_RECEIVERS
                                                                                               : KLAW_OK;
}

klaw_status klaw_bcast_commit(klaw_bcast_tx *tx, klaw_frame *f, size_t len)
{
    chan *c = tx->c;
    /* closed: its claims were given up (skipped) and may be a later lap's
     * now (B2) */
    if (KLAW_UNLIKELY(klaw__handle_closed(&tx->closed)))
        return KLAW_CLOSED;
    if (KLAW_UNLIKELY(len > c->max_frame)) {
        klaw_bcast_abort(tx, f);
        return KLAW_INVAL;
    }
    bc_slot *s = f->slot_;
    atomic_store_explicit(&s->len, (uint32_t)len, memory_order_relaxed);
    KLAW_CRASHPOINT("bcast.commit.len");
    atomic_store_explicit(&s->state, full_of(f->pos_, c->shift), memory_order_seq_cst);
    KLAW_CRASHPOINT("bcast.commit.slot");
    return after_commit(c);
}

klaw_status klaw_bcast_abort(klaw_bcast_tx *tx, klaw_frame *f)
{
    chan *c = tx->c;
    bc_slot *s = f->slot_;
    if (KLAW_UNLIKELY(klaw__handle_closed(&tx->closed)))
        return KLAW_CLOSED;
    atomic_store_explicit(&s->state, mk((f->pos_ >> c->shift) + 1, S_SKIPPED, 0), memory_order_seq_cst);
    KLAW_CRASHPOINT("bcast.abort.slot");
    atomic_fetch_add_explicit(&klaw__life_ent_at(&c->life, tx->idx)->counter, 1, memory_order_relaxed);
    KLAW_CRASHPOINT("bcast.abort.count");
    kw_wake_if_waiters_fd(&c->ctl->published, &c->life, KLAW__EV_RX);
    return KLAW_OK;
}

klaw_status klaw_bcast_claim_batch(klaw_bcast_tx *tx, size_t len, klaw_frame *frames, size_t n, size_t *got,
                                   const struct timespec *deadline)
{
    *got = 0;
    if (n == 0)
        return KLAW_INVAL;
    chan *c = tx->c;
    klaw_status st;
    if (c->single) {
        if ((st = claim_checks(tx, len)) != KLAW_OK)
            return st;
        size_t k = claim_run(c, tx->idx, len, frames, n);
        if (k) {
            *got = k;
            return KLAW_OK;
        }
    }
    st = klaw_bcast_claim(tx, len, deadline, &frames[0]);
    if (st != KLAW_OK)
        return st;
    size_t k = 1;
    if (c->single) {
        k += claim_run(c, tx->idx, len, frames + 1, n - 1);
    } else {
        int why;
        while (k < n && claim_one(c, tx->idx, len, &frames[k], &why) == KLAW_OK)
            k++;
    }
    *got = k;
    return KLAW_OK;
}

klaw_status klaw_bcast_commit_batch(klaw_bcast_tx *tx, klaw_frame *frames, size_t n)
{
    chan *c = tx->c;
    klaw_status worst = KLAW_OK;
    if (KLAW_UNLIKELY(klaw__handle_closed(&tx->closed)))
        return KLAW_CLOSED;
    for (size_t i = 0; i < n; i++) {
        bc_slot *s = frames[i].slot_;
        uint64_t v = full_of(frames[i].pos_, c->shift);
        if (KLAW_UNLIKELY(frames[i].len > c->max_frame)) {
            v = mk((frames[i].pos_ >> c->shift) + 1, S_SKIPPED, 0);
            atomic_fetch_add_explicit(&klaw__life_ent_at(&c->life, tx->idx)->counter, 1, memory_order_relaxed);
            KLAW_CRASHPOINT("bcast.batch.count");
            worst = KLAW_INVAL;
        } else {
            atomic_store_explicit(&s->len, frames[i].len, memory_order_relaxed);
            KLAW_CRASHPOINT("bcast.batch.len");
        }
        /* the last store is the one the wake-up check must follow */
        if (i + 1 == n)
            atomic_store_explicit(&s->state, v, memory_order_seq_cst);
        else
            atomic_store_explicit(&s->state, v, memory_order_release);
        KLAW_CRASHPOINT("bcast.batch.slot");
    }
    if (n == 0)
        return KLAW_OK;
    klaw_status st = after_commit(c);
    return worst != KLAW_OK ? worst : st;
}

klaw_status klaw_bcast_try_send(klaw_bcast_tx *tx, const void *data, size_t len)
{
    klaw_frame f;
    klaw_status st = klaw_bcast_try_claim(tx, len, &f);
    if (st != KLAW_OK)
        return st;
    copy_bytes(f.data, data, len, 1);
    return klaw_bcast_commit(tx, &f, len);
}

klaw_status klaw_bcast_send(klaw_bcast_tx *tx, const void *data, size_t len, const struct timespec *deadline)
{
    klaw_frame f;
    klaw_status st = klaw_bcast_claim(tx, len, deadline, &f);
    if (st != KLAW_OK)
        return st;
    copy_bytes(f.data, data, len, 1);
    return klaw_bcast_commit(tx, &f, len);
}

/* ---- reading --------------------------------------------------------------- */

static inline void fill_view(klaw_bcast_rx *rx, bc_slot *s, uint64_t pos, klaw_frame *f)
{
    f->slot_ = s;
    f->pos_ = pos;
    f->seq = pos;
    f->data = (uint8_t *)s + SLOT_HDR;
    uint32_t len = atomic_load_explicit(&s->len, memory_order_relaxed);
    /* another process wrote it: never trust a length past the slot */
    f->len = len <= rx->max_frame ? len : rx->max_frame;
    f->cap = rx->max_frame;
}

static inline bc_slot *rx_slot(const klaw_bcast_rx *rx, uint64_t pos)
{
    return (bc_slot *)(rx->slots + (size_t)(pos & rx->mask) * rx->slot_size);
}

static void touch_seen(klaw_bcast_rx *rx)
{
    rx->seen = 0;
    atomic_store_explicit(&rx->live->last_seen_ns, realtime_ns(), memory_order_relaxed);
    KLAW_CRASHPOINT("bcast.rx.seen");
}

static void touch_seen_cb(void *rx) { touch_seen(rx); }

/* Publishes the cursor (one store to the receiver's own line; B5's Dekker
 * half under BLOCK). */
static inline void publish_cursor(klaw_bcast_rx *rx, uint64_t p)
{
    uint64_t prev = rx->cursor;
    if (p <= prev)
        return;
    rx->cursor = p;
    if (rx->block) {
        atomic_store_explicit(&rx->live->cursor, p, memory_order_seq_cst);
        KLAW_CRASHPOINT("bcast.rx.cursor");
        /* a parked writer is woken by the receivers that cross the position
         * it waits for (wake_at, B5) while it is flagged: the slowest one
         * always does, and a receiver already past it never does (no wake
         * per release from a fast receiver while a slow one holds the
         * writer) */
        struct ck_ec32 *ec = &rx->ctl->progress;
        /* seq_cst: pairs with the writer's locked CAS that flags the count
         * (the cursor store above must not pass this load; free on x86) */
        if (KLAW_UNLIKELY(__atomic_load_n(&ec->counter, __ATOMIC_SEQ_CST) & KW_EC_FLAG)) {
            uint64_t wa = atomic_load_explicit(&rx->ctl->wake_at, memory_order_acquire);
            if (p >= wa && prev < wa)
                klaw__wake_fd(ec, &rx->c->life, KLAW__EV_TX);
        }
    } else {
        atomic_store_explicit(&rx->live->cursor, p, memory_order_release);
        KLAW_CRASHPOINT("bcast.rx.cursor");
    }
}

static inline void bump(_Atomic uint64_t *own, uint64_t n)
{
    /* only the owning receiver stores to its live line: no RMW needed */
    atomic_store_explicit(own, atomic_load_explicit(own, memory_order_relaxed) + n, memory_order_relaxed);
    KLAW_CRASHPOINT("bcast.rx.count");
}

/* Is the writer that claimed slot state v gone for good? (its handle was
 * closed or reaped - on a closed channel no writer handle can be taken
 * again, so an entry that is not a writer's now never will be). gone()
 * skips such claims itself; this is for one it missed (hostile memory). */
static int claim_abandoned(chan *c, uint64_t v)
{
    uint32_t o = owner_of(v);
    return o >= c->life.max_handles || atomic_load(&klaw__life_ent_at(&c->life, o)->role) != H_TX;
}

/* Everything but the fast path of try_view: skipped positions, overrun
 * receivers, nothing ready, closing. */
static klaw_status view_slow(klaw_bcast_rx *rx, klaw_frame *f, uint64_t *lagged)
{
    bc_ctl *ctl = rx->ctl;
    for (;;) {
        uint64_t c = rx->next;
        bc_slot *s = rx_slot(rx, c);
        uint64_t lap = (c >> rx->shift) + 1;
        uint64_t v = atomic_load_explicit(&s->state, memory_order_acquire);
        if (v == mk(lap, S_FULL, 0)) {
            fill_view(rx, s, c, f);
            rx->next = c + 1;
            return KLAW_OK;
        }
        int64_t d = lap_cmp(lap_of(v), lap);
        if (d == 0 && st_of(v) == S_SKIPPED) {
            bump(&rx->live->skipped, 1);
            rx->next = c + 1;
            if (rx->cursor == c)
                publish_cursor(rx, c + 1);
            continue;
        }
        if (d > 0) {
            /* B3: overrun; resume at the oldest retained position - unless
             * we were overrun again before reading a ring's worth since the
             * last resume: then we cannot keep up with the writer, and the
             * oldest frame is the one it overwrites next, so every view
             * there would be torn under us (a cascade that delivers almost
             * nothing). Such a receiver resumes half a ring behind the
             * writer instead, and reads whole frames at its own pace. */
            uint64_t t = atomic_load_explicit(&ctl->tail, memory_order_acquire);
            uint64_t cap = (uint64_t)rx->mask + 1;
            uint64_t nc = t > cap ? t - cap : 0;
            if (rx->resumed != UINT64_MAX && c - rx->resumed < cap && t > cap / 2 && t - cap / 2 > nc)
                nc = t - cap / 2;
            if (nc <= c)
                nc = c + 1; /* only a hostile tail gets here */
            uint64_t missed = nc - c;
            bump(&rx->live->lagged, missed);
            rx->next = nc;
            rx->resumed = nc;
            publish_cursor(rx, nc);
            if (lagged)
                *lagged = missed;
            return KLAW_LAGGED;
        }
        /* nothing at c yet */
        if (KLAW_UNLIKELY(atomic_load_explicit(rx->wclosed, memory_order_acquire) & CLOSED_WRITERS)) {
            /* a commit made before the last writer closed is visible now */
            uint64_t v2 = atomic_load_explicit(&s->state, memory_order_acquire);
            if (v2 != v)
                continue;
            uint64_t t = atomic_load_explicit(&ctl->tail, memory_order_acquire);
            if (c >= t)
                return KLAW_CLOSED;
            /* below tail with every writer gone: a claim left open by a
             * closed or reaped writer is skipped; anything else (never
             * claimed, or claimed by a writer that is still registered) is
             * not a state B1 makes once the channel closed */
            if (d == 0 && st_of(v) == S_WRITING && claim_abandoned(rx->c, v)) {
                atomic_compare_exchange_strong(&s->state, &v, mk(lap, S_SKIPPED, 0));
                KLAW_CRASHPOINT("bcast.view.abandoned");
                continue;
            }
            return KLAW_CORRUPT;
        }
        return KLAW_EMPTY;
    }
}

klaw_status klaw_bcast_try_view(klaw_bcast_rx *rx, klaw_frame *f, uint64_t *lagged)
{
    if (lagged)
        *lagged = 0;
    if (KLAW_UNLIKELY(klaw__handle_closed(&rx->closed)))
        return KLAW_CLOSED;
    uint64_t c = rx->next;
    bc_slot *s = rx_slot(rx, c);
    if (KLAW_LIKELY(atomic_load_explicit(&s->state, memory_order_acquire) == full_of(c, rx->shift))) {
        fill_view(rx, s, c, f);
        rx->next = c + 1;
        return KLAW_OK;
    }
    return view_slow(rx, f, lagged);
}

static int rx_ready(wait_ctx *w)
{
    klaw_bcast_rx *rx = w->h;
    if (atomic_load_explicit(rx->wclosed, memory_order_acquire) & CLOSED_WRITERS)
        return 1;
    /* exactly what makes try_view return something but EMPTY */
    uint64_t c = rx->next;
    uint64_t lap = (c >> rx->shift) + 1;
    uint64_t v = atomic_load_explicit(&rx_slot(rx, c)->state, memory_order_acquire);
    int64_t d = lap_cmp(lap_of(v), lap);
    return v == mk(lap, S_FULL, 0) || d > 0 || (d == 0 && st_of(v) == S_SKIPPED);
}

klaw_status klaw_bcast_view(klaw_bcast_rx *rx, const struct timespec *deadline, klaw_frame *f, uint64_t *lagged)
{
    for (;;) {
        klaw_status st = klaw_bcast_try_view(rx, f, lagged);
        if (st != KLAW_EMPTY)
            return st;
        st = park(rx->c, &rx->ctl->published, rx_ready, rx, touch_seen_cb, deadline);
        /* (the deadline is checked here too: a region whose state says
         * "ready" while try_view finds nothing - hostile memory - must not
         * turn this loop into a spin past the deadline) */
        if (st == KLAW_TIMEOUT || klaw__deadline_passed(deadline)) {
            st = klaw_bcast_try_view(rx, f, lagged);
            return st == KLAW_EMPTY ? KLAW_TIMEOUT : st;
        }
    }
}

static inline int view_intact(const klaw_bcast_rx *rx, const klaw_frame *f)
{
    const bc_slot *s = f->slot_;
    return atomic_load_explicit(&s->state, memory_order_relaxed) == full_of(f->pos_, rx->shift);
}

klaw_status klaw_bcast_release(klaw_bcast_rx *rx, klaw_frame *f)
{
    /* closed: its registry entry is gone (and may be another receiver's
     * now): publish nothing */
    if (KLAW_UNLIKELY(klaw__handle_closed(&rx->closed)))
        return KLAW_CLOSED;
    /* B4: every read of the frame's bytes before the state is re-read */
    atomic_thread_fence(memory_order_acquire);
    int ok = view_intact(rx, f);
    if (KLAW_UNLIKELY(!ok)) {
        bump(&rx->live->lagged, 1);
        f->data = NULL; /* says which: its bytes are not to be used */
    }
    publish_cursor(rx, f->pos_ + 1);
    if (KLAW_UNLIKELY(++rx->seen >= KLAW_READER_SEEN_EVERY))
        touch_seen(rx);
    return ok ? KLAW_OK : KLAW_LAGGED;
}

klaw_status klaw_bcast_view_batch(klaw_bcast_rx *rx, klaw_frame *frames, size_t n, size_t *got, uint64_t *lagged,
                                  const struct timespec *deadline)
{
    *got = 0;
    if (n == 0)
        return KLAW_INVAL;
    klaw_status st = klaw_bcast_view(rx, deadline, &frames[0], lagged);
    if (st != KLAW_OK)
        return st;
    size_t k = 1;
    while (k < n) {
        uint64_t c = rx->next;
        bc_slot *s = rx_slot(rx, c);
        if (atomic_load_explicit(&s->state, memory_order_acquire) != full_of(c, rx->shift))
            break;
        fill_view(rx, s, c, &frames[k++]);
        rx->next = c + 1;
    }
    *got = k;
    return KLAW_OK;
}

klaw_status klaw_bcast_release_batch(klaw_bcast_rx *rx, klaw_frame *frames, size_t n)
{
    if (KLAW_UNLIKELY(klaw__handle_closed(&rx->closed)))
        return KLAW_CLOSED;
    if (n == 0)
        return KLAW_OK;
    atomic_thread_fence(memory_order_acquire);
    uint64_t torn = 0, end = 0;
    for (size_t i = 0; i < n; i++) {
        if (KLAW_UNLIKELY(!view_intact(rx, &frames[i]))) {
            torn++;
            frames[i].data = NULL; /* this one was overwritten */
        }
        if (frames[i].pos_ + 1 > end)
            end = frames[i].pos_ + 1;
    }
    if (KLAW_UNLIKELY(torn))
        bump(&rx->live->lagged, torn);
    publish_cursor(rx, end);
    rx->seen += (uint32_t)n;
    if (KLAW_UNLIKELY(rx->seen >= KLAW_READER_SEEN_EVERY))
        touch_seen(rx);
    return torn ? KLAW_LAGGED : KLAW_OK;
}

/* The copying receive's second half: copy, then validate (B4). A length
 * that says the buffer is too small is only believed once validated too:
 * read before the check it may be a later frame's (a writer overwriting
 * the slot stores its length before FULL), and TOOBIG would then stop the
 * caller on a frame that no longer exists - so it is validated first, and
 * a frame overwritten meanwhile is LAGGED (missed), as a torn copy is. */
static klaw_status copy_out(klaw_bcast_rx *rx, klaw_status st, klaw_frame *f, void *buf, size_t cap, size_t *len,
                            uint64_t *lagged)
{
    if (st != KLAW_OK)
        return st;
    if (KLAW_UNLIKELY(f->len > cap)) {
        atomic_thread_fence(memory_order_acquire); /* B4: the length before the state */
        if (view_intact(rx, f)) {
            *len = f->len;
            rx->next = f->pos_; /* not taken: the next view offers it again */
            return KLAW_TOOBIG;
        }
    } else {
        *len = f->len;
        copy_bytes(buf, f->data, f->len, 0);
    }
    st = klaw_bcast_release(rx, f);
    if (st == KLAW_LAGGED) {
        *len = 0;
        if (lagged)
            *lagged = 1; /* the copy was torn (or the frame is gone): missed */
    }
    return st;
}

klaw_status klaw_bcast_try_recv(klaw_bcast_rx *rx, void *buf, size_t cap, size_t *len, uint64_t *lagged)
{
    klaw_frame f;
    *len = 0;
    klaw_status st = klaw_bcast_try_view(rx, &f, lagged);
    return copy_out(rx, st, &f, buf, cap, len, lagged);
}

klaw_status klaw_bcast_recv(klaw_bcast_rx *rx, void *buf, size_t cap, size_t *len, uint64_t *lagged,
                            const struct timespec *deadline)
{
    klaw_frame f;
    *len = 0;
    klaw_status st = klaw_bcast_view(rx, deadline, &f, lagged);
    return copy_out(rx, st, &f, buf, cap, len, lagged);
}

/* ---- stats and the registry ----------------------------------------------------- */

/* The totals are derived, not counted per frame. Every position below
 * tail was claimed: it is being written, was aborted (or given up by a
 * handle that went), or was committed, so total_sent = tail - writing -
 * aborted. Each receiver's positions from its start to its cursor were
 * received, missed (lagged) or skipped (aborted claims); the registry
 * folds them (src/registry.c). Exact when the channel is quiet. */
static klaw_status stats(chan *c, klaw_bcast_stats *out)
{
    memset(out, 0, sizeof *out);
    reap(c);
    bc_ctl *ctl = c->ctl;
    if (klaw__life_lock(&c->life) != KLAW_OK)
        return KLAW_CORRUPT;
    /* aborted by live handles, by handles that went (their counters, given
     * up claims of closed ones included), and reaped writers' claims */
    uint64_t aborted = klaw__life_counter_total(&c->life) + atomic_load(&ctl->reaped_aborted);
    klaw__life_unlock(&c->life);
    uint64_t tail = atomic_load(&ctl->tail), writing = 0;
    for (uint32_t i = 0; i < c->capacity; i++) {
        bc_slot *s = (bc_slot *)(c->slots + (size_t)i * c->slot_size);
        writing += st_of(atomic_load_explicit(&s->state, memory_order_acquire)) == S_WRITING;
    }
    klaw__reg_totals tot;
    klaw__reg_sum(&ctl->reg, c->readers, c->max_readers, &tot);
    out->writers = klaw__life_count(&c->life, H_TX);
    out->readers = tot.readers;
    out->capacity = c->capacity;
    out->max_frame = c->max_frame;
    out->policy = c->block ? KLAW_POLICY_BLOCK : KLAW_POLICY_OVERWRITE;
    out->total_sent = tail > writing + aborted ? tail - writing - aborted : 0;
    out->total_received = tot.received;
    out->lagged = tot.lagged;
    out->aborted_claims = aborted;
    out->evicted = atomic_load(&ctl->reg.evicted);
    uint64_t depth = tot.min_cursor < tail ? tail - tot.min_cursor : 0;
    out->depth = depth < c->capacity ? depth : c->capacity;
    out->high_watermark = atomic_load(&ctl->high_watermark);
    if (out->depth > out->high_watermark)
        out->high_watermark = out->depth;
    out->writers_closed = (atomic_load(c->closed) & CLOSED_WRITERS) != 0;
    return KLAW_OK;
}

klaw_status klaw_bcast_tx_stats(klaw_bcast_tx *tx, klaw_bcast_stats *out) { return stats(tx->c, out); }
klaw_status klaw_bcast_rx_stats(klaw_bcast_rx *rx, klaw_bcast_stats *out) { return stats(rx->c, out); }

static klaw_status readers_of(chan *c, klaw__reg_view *view, klaw_reader_snapshot **out)
{
    reap(c);
    return klaw__reg_snapshot(view, &c->ctl->reg, c->readers, c->max_readers, lock_cb, unlock_cb, c, out);
}

klaw_status klaw_bcast_tx_readers(klaw_bcast_tx *tx, klaw_reader_snapshot **out)
{
    return readers_of(tx->c, &tx->c->view, out);
}

klaw_status klaw_bcast_rx_readers(klaw_bcast_rx *rx, klaw_reader_snapshot **out)
{
    return readers_of(rx->c, &rx->c->view, out);
}

/* ---- select ------------------------------------------------------------------ */

static klaw_status sel_try_take(void *rx, klaw_sel_result *out)
{
    out->lagged = 0;
    klaw_status st = klaw_bcast_try_view(rx, &out->frame, &out->lagged);
    out->status = st;
    return st;
}

static klaw_status sel_release(void *rx, klaw_frame *f) { return klaw_bcast_release(rx, f); }

/* select's waiter: last_seen, and the channel's liveness clock, as a
 * parked view's */
static void sel_maintain(void *rx)
{
    touch_seen(rx);
    klaw__life_maybe_reap(&((klaw_bcast_rx *)rx)->c->life, klaw__now_ns());
}

static int64_t sel_due(void *rx)
{
    return atomic_load_explicit(&((klaw_bcast_rx *)rx)->c->life.next_reap_ns, memory_order_relaxed);
}

static int sel_fd_arm(void *rxv, const klaw__fdw *w);
static unsigned sel_fd_mode(void *rxv);

klaw_status klaw__bcast_sel_src(void *rxv, klaw_sel_src *out)
{
    klaw_bcast_rx *rx = rxv;
    if (!rx || atomic_load(&rx->closed))
        return KLAW_INVAL;
    out->rx = rx;
    out->try_take = sel_try_take;
    out->release = sel_release;
    out->ec = &rx->ctl->published;
    out->maintain = sel_maintain;
    out->due_ns = sel_due;
    out->liveness_ns = rx->c->liveness_ns;
    out->fd_arm = sel_fd_arm;
    out->fd_mode = sel_fd_mode;
    return KLAW_OK;
}

/* ---- inspection ----------------------------------------------------------------- */

klaw_status klaw__bcast_inspect(klaw_region *r, klaw_bcast_stats *out)
{
    chan *c;
    klaw_status st = chan_attach(r, &c);
    if (st != KLAW_OK)
        return st;
    st = stats(c, out);
    klaw__life_detach(&c->life);
    free(c); /* not chan_unref: the region stays the caller's */
    return st;
}

klaw_status klaw__bcast_inspect_readers(klaw_region *r, klaw_reader_snapshot **out, uint64_t *tail)
{
    *out = NULL;
    *tail = 0;
    chan *c;
    klaw_status st = chan_attach(r, &c);
    if (st != KLAW_OK)
        return st;
    st = readers_of(c, NULL, out);
    /* after the cursors (seq_cst, ordered after the snapshot's loads): a
     * cursor never passes tail, so tail - cursor is not negative */
    *tail = atomic_load(&c->ctl->tail);
    klaw__life_detach(&c->life);
    free(c);
    return st;
}

/* ---- tests ------------------------------------------------------------------------ */

/* Test only (tests/test_broadcast.c declares it): moves a channel that has
 * had no frame and has no receiver to position pos, as if pos frames had
 * been sent and skipped - tail and gate at pos, and every slot in the
 * finished state (SKIPPED) of the lap before the one its next position
 * belongs to - so a test can run the ring across the wrap of its laps
 * (2^48) without sending 2^48 laps. KLAW_OK; KLAW_INVAL when the channel
 * is not fresh; KLAW_CORRUPT when the lock cannot be taken. */
klaw_status klaw__bcast_test_set_pos(klaw_bcast_tx *tx, uint64_t pos);
klaw_status klaw__bcast_test_set_pos(klaw_bcast_tx *tx, uint64_t pos)
{
    chan *c = tx->c;
    bc_ctl *ctl = c->ctl;
    if (klaw__life_lock(&c->life) != KLAW_OK)
        return KLAW_CORRUPT;
    if (atomic_load(&ctl->tail) != 0 || atomic_load(&ctl->reg.count) != 0) {
        klaw__life_unlock(&c->life);
        return KLAW_INVAL;
    }
    for (uint32_t i = 0; i < c->capacity; i++) {
        uint64_t p = pos + ((i - pos) & c->mask); /* the next position of slot i */
        bc_slot *s = (bc_slot *)(c->slots + (size_t)i * c->slot_size);
        atomic_store(&s->state, mk(p >> c->shift, S_SKIPPED, 0)); /* lap L(p) - 1 */
    }
    atomic_store(&ctl->gate, pos);
    atomic_store(&ctl->tail, pos);
    klaw__life_unlock(&c->life);
    return KLAW_OK;
}

/* ---- descriptors for event loops (channels/fdwait.h) ------------------------- */

int klaw_bcast_tx_fd(klaw_bcast_tx *tx)
{
    if (atomic_load(&tx->closed)) {
        errno = EBADF;
        return -1;
    }
    return klaw__fd_handle(&tx->c->life, tx->idx, &tx->fdw, tx->c->region);
}

int klaw_bcast_rx_fd(klaw_bcast_rx *rx)
{
    if (atomic_load(&rx->closed)) {
        errno = EBADF;
        return -1;
    }
    return klaw__fd_handle(&rx->c->life, rx->h, &rx->fdw, rx->c->region);
}

/* The waiter's half (fdwait.h) for rx with target w: 1 ready now, 0 armed. */
static int rx_arm_to(klaw_bcast_rx *rx, const klaw__fdw *w)
{
    chan *c = rx->c;
    touch_seen_cb(rx); /* asleep in a loop is alive: last_seen_at */
    klaw__life_fd_arm(&c->life, rx->h, w, KLAW__EVS(KLAW__EV_RX));
    kw_ec_arm(&c->ctl->published);
    wait_ctx wc = {c, rx_ready, rx, NULL, 0};
    return rx_ready(&wc);
}

klaw_status klaw_bcast_rx_arm(klaw_bcast_rx *rx, int *timeout_ms)
{
    chan *c = rx->c;
    if (atomic_load(&rx->closed))
        return KLAW_CLOSED;
    klaw_status st = klaw__fd_arm_begin(&c->life, rx->h, &rx->fdw, c->region, timeout_ms);
    if (st != KLAW_OK)
        return st;
    if (rx_arm_to(rx, &rx->fdw))
        klaw__fdw_poke(&rx->fdw);
    return KLAW_OK;
}

/* select's descriptor (klaw_sel_src.fd_arm) */
static int sel_fd_arm(void *rxv, const klaw__fdw *w) { return rx_arm_to(rxv, w); }
static unsigned sel_fd_mode(void *rxv) { return klaw__region_mode(((klaw_bcast_rx *)rxv)->c->region); }

/* Room to claim: the slot at tail is not another writer's claim in
 * progress, and under BLOCK the slowest receiver lets the writer on. */
static int tx_fd_ready(wait_ctx *w)
{
    return tx_writer_ready(w) && (!w->c->block || tx_readers_ready(w));
}

klaw_status klaw_bcast_tx_arm(klaw_bcast_tx *tx, int *timeout_ms)
{
    chan *c = tx->c;
    if (atomic_load(&tx->closed))
        return KLAW_CLOSED;
    /* either wait: a writer's claim at the tail (published), or the
     * receivers (progress, BLOCK) */
    klaw_status st = klaw__fd_arm_begin(&c->life, tx->idx, &tx->fdw, c->region, timeout_ms);
    if (st != KLAW_OK)
        return st;
    klaw__life_fd_arm(&c->life, tx->idx, &tx->fdw, KLAW__EVS(KLAW__EV_RX) | KLAW__EVS(KLAW__EV_TX));
    if (c->block) {
        /* the receivers wake us when the slowest crosses wake_at (B5):
         * raised to what claim() would ask for, before the flag */
        uint64_t t = atomic_load_explicit(&c->ctl->tail, memory_order_relaxed);
        uint64_t half = c->capacity / 2;
        uint64_t want = t > half ? t - half : 0;
        uint64_t cur = atomic_load_explicit(&c->ctl->wake_at, memory_order_relaxed);
        while (want > cur && !atomic_compare_exchange_weak_explicit(&c->ctl->wake_at, &cur, want,
                                                                     memory_order_acq_rel, memory_order_relaxed)) {
        }
        kw_ec_arm(&c->ctl->progress);
    }
    kw_ec_arm(&c->ctl->published);
    wait_ctx w = {c, tx_fd_ready, tx, NULL, 0};
    if (tx_fd_ready(&w))
        klaw__fdw_poke(&tx->fdw);
    return KLAW_OK;
}
