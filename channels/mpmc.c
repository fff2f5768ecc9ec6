/*
 * mpmc.c - the bounded MPMC channel (see klaw/mpmc.h): a ring of slots in a
 * region, claimed and released cell by cell.
 *
 * ---- Layout (all offsets from the region base) ----------------------------
 *
 *   0                       klaw_region_header
 *   CTL_OFF (1024)          ring_ctl: config line, then tail, head, the two
 *                           event counts, counts/flags, and the handle-table
 *                           lock, each on its own cache line
 *   ctl.handles_off         max_handles x handle_ent (64 bytes each)
 *   ctl.slots_off           capacity x slot_size bytes: each slot a 16-byte
 *                           header {state, len} and then (interleaved:
 *                           slot_size a multiple of 64) max_frame bytes of
 *                           data; in a one-to-one ring (split) slot_size is
 *                           16 and the slots are headers only, 4 a line
 *   ctl.data_off            split only: capacity x data_stride bytes (a
 *                           multiple of 16), frame i's data at
 *                           data_off + (i mod capacity) x data_stride;
 *                           interleaved: slots_off + 16, data_stride =
 *                           slot_size (the data inside each slot)
 *
 * A process that attaches copies the config (capacity, shift, slot size,
 * max_frame, offsets) into its own handle after checking that every part
 * fits inside the region; it never re-reads them, so another process that
 * scribbles over the config cannot make it index outside the mapping.
 *
 * ---- The slot protocol ------------------------------------------------------
 *
 * Positions are 64-bit and only grow; position p lives in slot p & mask
 * and belongs to lap p >> shift. A slot's state word packs
 *     lap (48 bits) | owner handle (13 bits) | state (3 bits)
 * with states EMPTY, WRITING, FULL, READING, SKIPPED, ORPHAN. Laps are
 * kept modulo 2^48 and compared modulo 2^48 (lap_cmp): after 2^48 laps
 * of a small ring - days at the rates klaw-bench measures - they wrap,
 * and a full-width comparison would stop the ring.
 *
 * Invariants:
 *   I1  Slot s is available to the producer of position p exactly when its
 *       state is (lap(p), EMPTY, -). Initially every slot is (0, EMPTY).
 *   I2  Every transition of a slot is a CAS on its state word from a state
 *       of lap L, except two stores by the slot's current owner: commit
 *       (L, WRITING, me) -> (L, FULL) and abort -> (L, SKIPPED), and the
 *       release store (L, READING, me) -> (L + 1, EMPTY). An owner's
 *       stores cannot race with anybody else: the only other writer of an
 *       owned slot is the lifecycle core's gone() callback, which runs
 *       once the owner's process is gone (channels/lifecycle.h) or the
 *       owner closed its handle - and a closed handle's commit, abort and
 *       release return KLAW_CLOSED without touching the slot.
 *   I3  Ownership is taken cell first: a producer CASes (L, EMPTY) ->
 *       (L, WRITING, me) and only then advances tail past p; a consumer
 *       CASes (L, FULL) -> (L, READING, me) (or SKIPPED -> (L + 1, EMPTY))
 *       and only then advances head. Anyone who finds the slot at tail
 *       (head) already taken for that lap helps advance the index with a
 *       CAS, so an index never waits on a dead process, and no claim is
 *       ever without a recorded owner. The taker itself moves the index
 *       with a plain store when nobody moved it meanwhile (publish_index):
 *       a race may set it back a few positions, which costs the next
 *       taker a help, never correctness.
 *   I4  head <= tail (give or take publish_index's brief setbacks of the
 *       index hints; for the positions the slots say were taken it holds
 *       exactly), and tail - head <= capacity: a producer can only take
 *       the slot of p once the consumer of p - capacity released it (I1).
 *   I5  A frame is delivered exactly once: only the consumer whose CAS
 *       moved FULL -> READING (or ORPHAN -> READING) may read and release
 *       it.
 *   I6  KLAW_MPMC_SINGLE_PRODUCER / _CONSUMER: at most one sender (receiver)
 *       handle exists, used by one thread at a time (take_handle refuses a
 *       second). Then nobody else moves a slot out of (L, EMPTY) (resp.
 *       (L, FULL)) or moves tail (head) - the reaper only touches a dead
 *       owner's WRITING/READING slots, the other side never these states
 *       - so that side's claims (views) keep I3's order, cell first, then
 *       the index, as plain stores instead of CASes: no locked instruction
 *       per frame; the single producer also prefetches the next slots for
 *       writing. The CAS paths stay for everything unusual (a SKIPPED
 *       slot, an orphan, a stale index after a dead predecessor).
 *
 * Memory orderings: slot-state CASes are acq_rel, so the consumer's CAS
 * that sees FULL (acquire) sees the bytes and length the producer wrote
 * before its commit (release); the consumer's release store (release)
 * orders its reads of the frame before the next producer's CAS (acquire)
 * that lets it overwrite them. head and tail are hints that only grow; they
 * are read relaxed/acquire and moved with CAS, and correctness never
 * depends on their exact value because every decision re-reads the slot
 * state (which carries the lap, so an index that is a lap stale cannot
 * match: no ABA within 2^45 laps).
 *
 * Waking (a Dekker pair with ck_ec, channels/wait.h): a waiter takes the
 * event count's value, re-checks the ring, and parks through
 * ck_ec32_wait_pred(), which sets the count's waiter flag with a locked CAS
 * and then calls our predicate, which issues the heavy half of an
 * asymmetric fence (membarrier GLOBAL_EXPEDITED) and re-checks the ring
 * before it sleeps. A committer publishes FULL with kw_publish_u64() - a
 * release store and a compiler barrier when this process is registered
 * for membarrier, else a seq_cst store (xchg: a full barrier; also what
 * ThreadSanitizer builds use) - and only then reads the waiter flag,
 * paying ck_ec32_inc() (and so futex_wake) only when the flag is set.
 * Either the committer's flag load follows the waiter's barrier and sees
 * the flag, or its store preceded the barrier and the predicate sees the
 * frame: no lost wake-up, and no syscall or locked instruction per frame
 * when nobody is parked. Releases wake producers the same way on the
 * not_full count.
 *
 * Recovery (channels/lifecycle.h keeps the handle table, its lock, the
 * liveness clock and closing): when a handle goes - closed, or its
 * process gone - gone() turns its slots (L, WRITING, h) -> (L, SKIPPED)
 * (counted as aborted claims) and (L, READING, h) -> (L, ORPHAN) (frames
 * to redeliver). ctl.orphans is a hint, not a count: it is raised after a
 * slot became ORPHAN (and parked consumers are woken), a consumer that
 * sees it non-zero scans for ORPHAN slots and takes one by CAS as it would
 * a FULL one, and a scan that finds none lowers it by CAS from the value it
 * read. A process killed between the slot store and the hint (either way)
 * is repaired by resync_orphans(), which recounts the ORPHAN slots: on
 * every lock recovery and once per liveness period of a waiter.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <ck_ec.h>

#include "klaw/mpmc.h"
#include "klaw/region.h"
#include "lifecycle.h"
#include "fdwait.h"
#include "wait.h"
#include "crashpoint.h"
#include "meta.h"
#include "select_impl.h"
#include "inspect.h"

#define CACHELINE KLAW_CACHELINE
#define CTL_OFF KLAW_CTL_OFF
#define RING_MAGIC 0x474e4952u /* "RING" */
#define SLOT_HDR 16u
#define SLOT_ALIGN 16u /* slot size granularity (and data alignment) */
#define DEFAULT_HANDLES 256u
#define MAX_HANDLES 4096u
#define SPIN_ITERS 256
#define RUN_AHEAD 64u   /* a run: the slot this far ahead is ready too  */
#define RUN_PATIENCE 16 /* spin polls a ready side waits for a run      */

enum { S_EMPTY = 0, S_WRITING, S_FULL, S_READING, S_SKIPPED, S_ORPHAN };
#define ST_BITS 3
#define OWNER_BITS 13 /* MAX_HANDLES */
#define LAP_SHIFT (ST_BITS + OWNER_BITS)
_Static_assert(MAX_HANDLES <= (1u << OWNER_BITS), "a handle index fits the owner field");

static inline uint64_t mk(uint64_t lap, uint32_t st, uint32_t owner)
{
    return (lap << LAP_SHIFT) | ((uint64_t)owner << ST_BITS) | st;
}
static inline uint64_t lap_of(uint64_t s) { return s >> LAP_SHIFT; }
/* a - b for laps kept modulo 2^(64 - LAP_SHIFT): < 0, 0, > 0 as a is
 * before, equal to, after b (b may be a full-width lap) */
static inline int64_t lap_cmp(uint64_t a, uint64_t b) { return (int64_t)((a - b) << LAP_SHIFT) >> LAP_SHIFT; }
static inline uint32_t st_of(uint64_t s) { return (uint32_t)(s & 7u); }
static inline uint32_t owner_of(uint64_t s) { return (uint32_t)((s >> ST_BITS) & ((1u << OWNER_BITS) - 1)); }

/* lifecycle roles, and their bits in life.closed */
enum { H_FREE = 0, H_TX = 1, H_RX = 2 };
enum { CLOSED_SENDERS = 1u << H_TX, CLOSED_RECEIVERS = 1u << H_RX };

typedef struct ring_ctl {
    /* config: written before READY, never changed */
    uint32_t magic;
    uint32_t capacity;
    uint32_t shift;
    uint32_t max_frame;
    uint32_t slot_size;
    uint32_t pad0_;
    uint64_t tables_off; /* the lifecycle tables (handles, peers)         */
    uint64_t slots_off;
    uint64_t pad1_;
    uint32_t flags; /* KLAW_MPMC_SINGLE_PRODUCER / _CONSUMER (I6)        */
    uint32_t data_stride;
    uint64_t data_off;
    _Alignas(CACHELINE) _Atomic uint64_t tail;
    _Atomic uint64_t high_watermark; /* producers' line: they sample it     */
    _Alignas(CACHELINE) _Atomic uint64_t head;
    _Alignas(CACHELINE) struct ck_ec32 not_empty; /* consumers park here    */
    _Alignas(CACHELINE) struct ck_ec32 not_full;  /* producers park here    */
    _Alignas(CACHELINE) _Atomic uint32_t orphans; /* a hint (see above)    */
    uint32_t pad2_;
    /* under the lifecycle lock */
    _Atomic uint64_t reaped_aborted, redelivered;
    /* handles, their lock, counts and closed bits (CLOSED_*) */
    _Alignas(CACHELINE) klaw__life_shared life;
} ring_ctl;
_Static_assert(offsetof(ring_ctl, data_off) == 56 && offsetof(ring_ctl, tail) == CACHELINE,
               "the ring's config is one cache line");

typedef struct ring_slot {
    _Atomic uint64_t state;
    uint32_t len;
    uint32_t pad_;
} ring_slot;

/* What a process knows about one attached channel (shared by its handles,
 * reference-counted). */
typedef struct chan {
    klaw_region *region;
    uint8_t *base;
    size_t size;
    ring_ctl *ctl;
    _Atomic uint32_t *closed; /* life.closed: CLOSED_* bits            */
    uint8_t *slots;
    uint32_t capacity, mask, shift, max_frame, slot_size;
    uint32_t data_stride;
    uint8_t *data; /* frame i's bytes: data + (i & mask) * data_stride     */
    int single_tx, single_rx; /* I6: that side takes slots by plain stores */
    int pfw;                  /* the CPU has PREFETCHW                      */
    uint32_t run;             /* RUN_AHEAD, or less in a small ring; 0: none */
    uint64_t liveness_ns;
    _Atomic uint32_t refs;
    klaw__life life;
} chan;

/* Handles are read on every frame: each gets cache lines of its own (see
 * handle_alloc), so a sender's and a receiver's never share one. */
struct klaw_mpmc_tx {
    chan *c;
    uint32_t idx;
    _Atomic int closed;
    klaw__fdw fdw; /* its descriptor (klaw_mpmc_tx_fd), when asked for */
};

struct klaw_mpmc_rx {
    chan *c;
    uint32_t idx;
    _Atomic int closed;
    klaw__fdw fdw;
};

static void *handle_alloc(size_t size)
{
    size_t n = (size + CACHELINE - 1) / CACHELINE * CACHELINE;
    void *p = aligned_alloc(CACHELINE, n);
    if (p)
        memset(p, 0, n);
    return p;
}

static void wake_all(chan *c)
{
    ck_ec32_inc(&c->ctl->not_empty, &klaw__ec_mode);
    ck_ec32_inc(&c->ctl->not_full, &klaw__ec_mode);
    klaw__life_fd_maybe_wake(&c->life, KLAW__FD_ALL); /* F3 */
}

static inline ring_slot *slot_at(const chan *c, uint64_t pos)
{
    return (ring_slot *)(c->slots + (size_t)(pos & c->mask) * c->slot_size);
}

static inline uint8_t *data_at(const chan *c, uint64_t pos)
{
    return c->data + (size_t)(pos & c->mask) * c->data_stride;
}

/* ---- what the lifecycle core asks of the ring (cold) ---------------------- */

/* Recounts the ORPHAN slots into the hint (see Recovery above), waking
 * consumers when there are some. */
static void resync_orphans(chan *c)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < c->capacity; i++) {
        ring_slot *s = (ring_slot *)(c->slots + (size_t)i * c->slot_size);
        n += st_of(atomic_load_explicit(&s->state, memory_order_acquire)) == S_ORPHAN;
    }
    uint32_t h = atomic_load(&c->ctl->orphans);
    if (n && !h) {
        atomic_fetch_add(&c->ctl->orphans, n); /* seq_cst RMW, then wake */
        kw_wake_all_fd(&c->ctl->not_empty, &c->life, KLAW__EV_RX);
    } else if (!n && h) {
        atomic_compare_exchange_strong(&c->ctl->orphans, &h, 0);
    }
}

/* Offers the frame of slot s (held READING) again (TOOBIG). */
static void make_orphan(chan *c, ring_slot *s, uint64_t lap)
{
    atomic_store_explicit(&s->state, mk(lap, S_ORPHAN, 0), memory_order_release);
    KLAW_CRASHPOINT("mpmc.orphan.slot");
    /* a seq_cst RMW (a full barrier) before the waiter-flag load */
    atomic_fetch_add(&c->ctl->orphans, 1);
    KLAW_CRASHPOINT("mpmc.orphan.hint");
    kw_wake_if_waiters_fd(&c->ctl->not_empty, &c->life, KLAW__EV_RX);
}

/* gone(): the slots handle idx owned are given up (lock held; CASes, so a
 * second call after a death inside the lock changes nothing): a claim not
 * committed becomes a skipped record (an aborted claim), a view not
 * released is offered again (redelivered) - a slot owned by a handle that
 * is gone would otherwise stop the ring at its position for good. */
static void life_gone(void *cv, uint32_t idx, uint32_t role, int dead)
{
    chan *c = cv;
    (void)role;
    for (uint32_t i = 0; i < c->capacity; i++) {
        ring_slot *s = (ring_slot *)(c->slots + (size_t)i * c->slot_size);
        uint64_t v = atomic_load_explicit(&s->state, memory_order_acquire);
        if (owner_of(v) != idx)
            continue;
        if (st_of(v) == S_WRITING) {
            if (atomic_compare_exchange_strong(&s->state, &v, mk(lap_of(v), S_SKIPPED, 0))) {
                KLAW_CRASHPOINT("mpmc.gone.skip");
                atomic_fetch_add(&c->ctl->reaped_aborted, 1);
                KLAW_CRASHPOINT("mpmc.gone.skip_count");
            }
        } else if (st_of(v) == S_READING) {
            if (atomic_compare_exchange_strong(&s->state, &v, mk(lap_of(v), S_ORPHAN, 0))) {
                KLAW_CRASHPOINT("mpmc.gone.orphan");
                atomic_fetch_add(&c->ctl->redelivered, 1);
                atomic_fetch_add(&c->ctl->orphans, 1);
                KLAW_CRASHPOINT("mpmc.gone.orphan_hint");
            }
        }
    }
    /* a process that died between making an orphan and raising the hint
     * (a TOOBIG re-offer) left an orphan of nobody: count them again */
    if (dead)
        resync_orphans(c);
}

static void wake_all(chan *c);
static void life_repair(void *cv) { resync_orphans(cv); }
static void life_wake(void *cv) { wake_all(cv); }
static const klaw__life_ops life_ops = {life_gone, life_repair, life_wake};

static uint32_t reap(chan *c) { return klaw__life_reap(&c->life); }

static klaw_status take_handle(chan *c, uint32_t role, uint32_t *idx)
{
    const bool single = (role == H_TX && c->single_tx) || (role == H_RX && c->single_rx);
    /* a single side's dead occupant must not keep the next one out (I6):
     * reap before looking (an open is a cold path) */
    if (single)
        reap(c);
    return klaw__life_take(&c->life, role, single, idx);
}

static void give_handle(chan *c, uint32_t idx) { klaw__life_give(&c->life, idx); }

/* ---- creating and attaching -------------------------------------------- */

static void chan_unref(chan *c)
{
    if (atomic_fetch_sub(&c->refs, 1) == 1) {
        klaw__life_detach(&c->life);
        klaw_region_close(c->region);
        free(c);
    }
}

/* Builds the process-local view of a ring from a validated region; checks
 * that every part of the ring lies inside the region. */
static klaw_status chan_attach(klaw_region *r, uint64_t body_off, uint64_t body_len, chan **out)
{
    klaw__asym_init();
    uint8_t *base = klaw_region_base(r);
    size_t size = klaw_region_size(r);
    ring_ctl *ctl = klaw_region_at(base, size, body_off, sizeof(ring_ctl));
    if (!ctl || body_off % CACHELINE || body_len < sizeof(ring_ctl))
        return KLAW_CORRUPT;
    /* copy the config once; validate it; never trust it again */
    uint32_t cap = ctl->capacity, shift = ctl->shift, maxf = ctl->max_frame, ssz = ctl->slot_size;
    uint64_t soff = ctl->slots_off;
    uint32_t fl = ctl->flags, dstr = ctl->data_stride;
    uint64_t doff = ctl->data_off;
    /* the data: inside each slot after its header (interleaved), or an
     * array of its own (split: slots are bare headers) */
    const int split = ssz == SLOT_HDR;
    if (split ? (dstr < maxf || dstr % SLOT_ALIGN || doff % CACHELINE ||
                 !klaw_region_at(base, size, doff, (uint64_t)cap * dstr))
              : (doff != soff + SLOT_HDR || dstr != ssz || (uint64_t)ssz < (uint64_t)maxf + SLOT_HDR))
        return KLAW_CORRUPT;
    if (ctl->magic != RING_MAGIC || cap < 2 || cap > (1u << 30) || (cap & (cap - 1)) || shift >= 32 ||
        (1u << shift) != cap || ssz % SLOT_ALIGN || dstr == 0 || maxf == 0 || soff % CACHELINE ||
        !klaw_region_at(base, size, soff, (uint64_t)cap * ssz) ||
        (fl & ~(KLAW_MPMC_SINGLE_PRODUCER | KLAW_MPMC_SINGLE_CONSUMER)))
        return KLAW_CORRUPT;
    chan *c = calloc(1, sizeof *c);
    if (!c)
        return KLAW_NOMEM;
    /* the lifecycle tables are checked against the control block; the
     * slots and data must overlap neither of them (the lock word and the
     * counts above all) nor each other */
    if (klaw__life_attach(&c->life, r, &ctl->life, body_off, sizeof(ring_ctl), &life_ops, c) != KLAW_OK) {
        free(c);
        return KLAW_CORRUPT;
    }
    const klaw__life *L = &c->life;
    if (klaw__life_overlaps(L, body_off, sizeof(ring_ctl), soff, (uint64_t)cap * ssz) ||
        (split && klaw__life_overlaps(L, body_off, sizeof(ring_ctl), doff, (uint64_t)cap * dstr)) ||
        (split && klaw__overlap(doff, (uint64_t)cap * dstr, soff, (uint64_t)cap * ssz)) ||
        L->max_handles > MAX_HANDLES) {
        klaw__life_detach(&c->life);
        free(c);
        return KLAW_CORRUPT;
    }
    c->region = r;
    c->base = base;
    c->size = size;
    c->ctl = ctl;
    c->closed = &ctl->life.closed;
    c->slots = base + soff;
    c->capacity = cap;
    c->mask = cap - 1;
    c->shift = shift;
    c->max_frame = maxf;
    c->slot_size = ssz;
    c->data_stride = dstr;
    c->data = base + doff;
    c->single_tx = (fl & KLAW_MPMC_SINGLE_PRODUCER) != 0;
    c->single_rx = (fl & KLAW_MPMC_SINGLE_CONSUMER) != 0;
    /* runs (see park): a quarter of the ring at most; none in a tiny one */
    c->run = cap < 16 ? 0 : (cap / 4 < RUN_AHEAD ? cap / 4 : RUN_AHEAD);
    c->pfw = klaw__have_prefetchw();
    c->liveness_ns = L->liveness_ns;
    atomic_store(&c->refs, 1);
    *out = c;
    return KLAW_OK;
}

static uint64_t round_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

klaw_status klaw_mpmc_create(const klaw_mpmc_opts *o, klaw_mpmc_tx **txo, klaw_mpmc_rx **rxo)
{
    if (txo)
        *txo = NULL;
    if (rxo)
        *rxo = NULL;
    if (!o || o->capacity < 1 || o->capacity > (1u << 30) || o->max_frame < 1 || o->max_frame > (1u << 30) ||
        o->max_handles > MAX_HANDLES || o->max_handles == 1 ||
        (o->flags & ~(KLAW_MPMC_SINGLE_PRODUCER | KLAW_MPMC_SINGLE_CONSUMER)) || (!txo != !rxo) ||
        (!txo && !o->name))
        return KLAW_INVAL;
    uint32_t cap = 2, shift = 1;
    while (cap < o->capacity) {
        cap <<= 1;
        shift++;
    }
    uint32_t nh = o->max_handles ? o->max_handles : DEFAULT_HANDLES;
    /* One-to-one (both sides single, plain stores only): split - the
     * headers packed 4 to a cache line, the data in an array of its own
     * (stride max_frame rounded up to 16), so a 64-byte frame is one whole
     * line of data and a quarter line of header. Padded slots (1p1c 64 B
     * ~30 M frames/s in klaw-bench mpmc) became packed 80-byte slots
     * (~55 M) and then split ones (another 1.1-1.2x, unbatched). Rings
     * whose slots are taken with CAS stay interleaved and padded to cache
     * lines: a slot CAS on a line that the other side is reading for the
     * neighbouring slot measured slower than moving the padding. */
    const unsigned both = KLAW_MPMC_SINGLE_PRODUCER | KLAW_MPMC_SINGLE_CONSUMER;
    const int split = (o->flags & both) == both;
    uint32_t ssz = split ? SLOT_HDR : (uint32_t)round_up((uint64_t)o->max_frame + SLOT_HDR, CACHELINE);
    uint32_t dstr = split ? (uint32_t)round_up(o->max_frame, SLOT_ALIGN) : ssz;
    uint32_t np = klaw__life_peers_for(nh);
    uint64_t toff = round_up(CTL_OFF + sizeof(ring_ctl), CACHELINE);
    uint64_t soff = round_up(toff + klaw__life_tables_size(nh, np), 4096);
    uint64_t doff = split ? round_up(soff + (uint64_t)cap * ssz, 4096) : soff + SLOT_HDR;
    uint64_t moff = split ? doff + (uint64_t)cap * dstr : soff + (uint64_t)cap * ssz;
    klaw_region *r;
    klaw_status st = klaw__chan_region_create(o->name, moff + KLAW_META_RESERVE, KLAW_KIND_MPMC, o->mode,
                                              o->set_group, o->group, &r);
    if (st != KLAW_OK)
        return st;
    uint8_t *base = klaw_region_base(r);
    ring_ctl *ctl = (ring_ctl *)(base + CTL_OFF);
    ctl->magic = RING_MAGIC;
    ctl->capacity = cap;
    ctl->shift = shift;
    ctl->max_frame = o->max_frame;
    ctl->slot_size = ssz;
    ctl->tables_off = toff;
    ctl->slots_off = soff;
    ctl->flags = o->flags;
    ctl->data_stride = dstr;
    ctl->data_off = doff;
    ck_ec32_init(&ctl->not_empty, 0);
    ck_ec32_init(&ctl->not_full, 0);
    klaw__life_init(&ctl->life, toff, nh, np, o->liveness_ns, CLOSED_SENDERS | CLOSED_RECEIVERS);

    /* The creator's handles are taken before READY: an opener that came
     * and went before them (open_rx, close: the last receiver) must not
     * close the channel under its creator. Slots start as (lap 0, EMPTY):
     * the zero-filled region already is. */
    chan *c = NULL;
    klaw_mpmc_tx *tx = NULL;
    klaw_mpmc_rx *rx = NULL;
    st = chan_attach(r, CTL_OFF, sizeof(ring_ctl), &c);
    if (st == KLAW_OK && txo) {
        tx = handle_alloc(sizeof *tx);
        rx = handle_alloc(sizeof *rx);
        if (!tx || !rx)
            st = KLAW_NOMEM;
        /* a new table of >= 2 entries: both takes succeed unless there is
         * no peer slot to be had (a fork child of an unlinked region) */
        if (st == KLAW_OK && (st = take_handle(c, H_TX, &tx->idx)) == KLAW_OK)
            st = take_handle(c, H_RX, &rx->idx);
    }
    if (st == KLAW_OK)
        st = klaw__chan_publish(r, moff, KLAW_CHANNEL_MPMC, cap, o->max_frame, KLAW_POLICY_NONE, o->value_type,
                                CTL_OFF, sizeof(ring_ctl));
    if (st != KLAW_OK) {
        free(tx);
        free(rx);
        if (c)
            chan_unref(c); /* closes r */
        klaw__chan_discard(c ? NULL : r, o->name);
        return st;
    }
    if (!txo) { /* created for senders and receivers that open it by name */
        chan_unref(c);
        return KLAW_OK;
    }
    atomic_fetch_add(&c->refs, 1);
    tx->c = c;
    rx->c = c;
    *txo = tx;
    *rxo = rx;
    return KLAW_OK;
}

static klaw_status open_side(const char *name, uint32_t role, chan **cout, uint32_t *idx)
{
    klaw_region *r;
    klaw_status st = klaw_region_open(name, KLAW_KIND_MPMC, 1000, &r);
    if (st != KLAW_OK)
        return st;
    chan *c;
    st = chan_attach(r, klaw_region_hdr(r)->body_off, klaw_region_hdr(r)->body_len, &c);
    if (st != KLAW_OK) {
        klaw_region_close(r);
        return st;
    }
    reap(c);
    st = take_handle(c, role, idx);
    if (st != KLAW_OK) {
        chan_unref(c);
        return st;
    }
    *cout = c;
    return KLAW_OK;
}

klaw_status klaw_mpmc_open_tx(const char *name, klaw_mpmc_tx **out)
{
    *out = NULL;
    klaw_mpmc_tx *tx = handle_alloc(sizeof *tx);
    if (!tx)
        return KLAW_NOMEM;
    klaw_status st = open_side(name, H_TX, &tx->c, &tx->idx);
    if (st != KLAW_OK) {
        free(tx);
        return st;
    }
    *out = tx;
    return KLAW_OK;
}

klaw_status klaw_mpmc_open_rx(const char *name, klaw_mpmc_rx **out)
{
    *out = NULL;
    klaw_mpmc_rx *rx = handle_alloc(sizeof *rx);
    if (!rx)
        return KLAW_NOMEM;
    klaw_status st = open_side(name, H_RX, &rx->c, &rx->idx);
    if (st != KLAW_OK) {
        free(rx);
        return st;
    }
    *out = rx;
    return KLAW_OK;
}

klaw_status klaw_mpmc_tx_clone(klaw_mpmc_tx *tx, klaw_mpmc_tx **out)
{
    *out = NULL;
    if (atomic_load(&tx->closed))
        return KLAW_CLOSED;
    klaw_mpmc_tx *n = handle_alloc(sizeof *n);
    if (!n)
        return KLAW_NOMEM;
    klaw_status st = take_handle(tx->c, H_TX, &n->idx);
    if (st != KLAW_OK) {
        free(n);
        return st;
    }
    atomic_fetch_add(&tx->c->refs, 1);
    n->c = tx->c;
    *out = n;
    return KLAW_OK;
}

klaw_status klaw_mpmc_rx_clone(klaw_mpmc_rx *rx, klaw_mpmc_rx **out)
{
    *out = NULL;
    if (atomic_load(&rx->closed))
        return KLAW_CLOSED;
    klaw_mpmc_rx *n = handle_alloc(sizeof *n);
    if (!n)
        return KLAW_NOMEM;
    klaw_status st = take_handle(rx->c, H_RX, &n->idx);
    if (st != KLAW_OK) {
        free(n);
        return st;
    }
    atomic_fetch_add(&rx->c->refs, 1);
    n->c = rx->c;
    *out = n;
    return KLAW_OK;
}

void klaw_mpmc_tx_close(klaw_mpmc_tx *tx)
{
    if (tx && !atomic_exchange(&tx->closed, 1))
        give_handle(tx->c, tx->idx);
}

void klaw_mpmc_rx_close(klaw_mpmc_rx *rx)
{
    if (rx && !atomic_exchange(&rx->closed, 1))
        give_handle(rx->c, rx->idx);
}

void klaw_mpmc_tx_free(klaw_mpmc_tx *tx)
{
    if (!tx)
        return;
    klaw_mpmc_tx_close(tx);
    klaw__fd_handle_close(&tx->c->life, tx->idx, &tx->fdw, false);
    chan_unref(tx->c);
    free(tx);
}

void klaw_mpmc_rx_free(klaw_mpmc_rx *rx)
{
    if (!rx)
        return;
    klaw_mpmc_rx_close(rx);
    klaw__fd_handle_close(&rx->c->life, rx->idx, &rx->fdw, false);
    chan_unref(rx->c);
    free(rx);
}

/* ---- producing ---------------------------------------------------------- */

/* Moves idx from `from` to at least `to` (helping; never backwards). */
static inline void advance(_Atomic uint64_t *idx, uint64_t from, uint64_t to)
{
    uint64_t cur = from;
    while (cur < to && !atomic_compare_exchange_weak_explicit(idx, &cur, to, memory_order_acq_rel,
                                                               memory_order_relaxed)) {
    }
}

/* Moves an index (tail or head) from `from` to `to` after the caller took
 * the slots in between (I3, cell first). Uncontended - the index still
 * reads `from` - it is a plain release store, not a CAS: no locked
 * instruction. Another taker may move the index between our load and our
 * store; the store can then set it back by the few positions that taker
 * took (never by more than a ring: the slot we hold stops everyone a lap
 * later). That is harmless: the index is a hint - a taker that finds the
 * slot at the index already taken for its lap helps it on (I3), and
 * stats() walks past taken positions (effective_index) - and the stores
 * stay ordered after our cell CAS, so I3 holds. */
static inline void publish_index(_Atomic uint64_t *idx, uint64_t from, uint64_t to)
{
    if (atomic_load_explicit(idx, memory_order_relaxed) == from)
        atomic_store_explicit(idx, to, memory_order_release);
    else
        advance(idx, from, to);
}

/* One attempt to take the slot at tail. KLAW_OK with *pos set, KLAW_FULL
 * when the slot at tail is still in use by the previous lap. */
static inline klaw_status claim_one(chan *c, uint32_t me, uint64_t *pos_out)
{
    ring_ctl *ctl = c->ctl;
    for (;;) {
        uint64_t pos = atomic_load_explicit(&ctl->tail, memory_order_acquire);
        ring_slot *s = slot_at(c, pos);
        uint64_t lap = pos >> c->shift;
        uint64_t v = atomic_load_explicit(&s->state, memory_order_acquire);
        if (v == mk(lap, S_EMPTY, 0) && c->single_tx) { /* I6 */
            atomic_store_explicit(&s->state, mk(lap, S_WRITING, me), memory_order_relaxed);
            KLAW_CRASHPOINT("mpmc.claim.slot");
            atomic_store_explicit(&ctl->tail, pos + 1, memory_order_release);
            KLAW_CRASHPOINT("mpmc.claim.tail");
            *pos_out = pos;
            return KLAW_OK;
        }
        if (v == mk(lap, S_EMPTY, 0)) {
            if (atomic_compare_exchange_strong_explicit(&s->state, &v, mk(lap, S_WRITING, me),
                                                        memory_order_acq_rel, memory_order_acquire)) {
                KLAW_CRASHPOINT("mpmc.claim.slot");
                publish_index(&ctl->tail, pos, pos + 1);
                KLAW_CRASHPOINT("mpmc.claim.tail");
                *pos_out = pos;
                return KLAW_OK;
            }
            continue;
        }
        if (KLAW_UNLIKELY(pos == UINT64_MAX))
            return KLAW_CORRUPT; /* as in try_view (claiming there is harmless) */
        int64_t d = lap_cmp(lap_of(v), lap);
        if (d >= 0) {
            /* taken for this lap (or tail is a lap stale): help tail on.
             * Two laps or more ahead with tail still at pos breaks I4 (tail
             * is never a whole ring stale): hostile memory - helping on
             * would march tail through 2^47 laps */
            if (KLAW_UNLIKELY(d > 1) && atomic_load_explicit(&ctl->tail, memory_order_acquire) == pos)
                return KLAW_CORRUPT;
            advance(&ctl->tail, pos, pos + 1);
            continue;
        }
        /* the previous lap still holds the slot: full, unless tail moved */
        if (atomic_load_explicit(&ctl->tail, memory_order_acquire) != pos)
            continue;
        return KLAW_FULL;
    }
}

static inline void fill_claim(chan *c, uint64_t pos, size_t len, klaw_frame *f)
{
    ring_slot *s = slot_at(c, pos);
    f->slot_ = s;
    f->pos_ = pos;
    f->seq = pos;
    f->data = data_at(c, pos);
    f->len = (uint32_t)len;
    f->cap = c->max_frame;
}

static void raise_watermark(ring_ctl *ctl, uint64_t depth)
{
    uint64_t hw = atomic_load_explicit(&ctl->high_watermark, memory_order_relaxed);
    while (depth > hw && !atomic_compare_exchange_weak(&ctl->high_watermark, &hw, depth)) {
    }
}

static void sample_watermark(klaw_mpmc_tx *tx, uint64_t pos)
{
    ring_ctl *ctl = tx->c->ctl;
    uint64_t head = atomic_load_explicit(&ctl->head, memory_order_relaxed);
    raise_watermark(ctl, pos + 1 > head ? pos + 1 - head : 0);
}

klaw_status klaw_mpmc_try_claim(klaw_mpmc_tx *tx, size_t len, klaw_frame *f)
{
    chan *c = tx->c;
    if (KLAW_UNLIKELY(len > c->max_frame))
        return KLAW_TOOBIG;
    if (KLAW_UNLIKELY(klaw__handle_closed(&tx->closed) ||
                      (atomic_load_explicit(c->closed, memory_order_acquire) & CLOSED_RECEIVERS)))
        return KLAW_CLOSED;
    uint64_t pos;
    klaw_status st = claim_one(c, tx->idx, &pos);
    if (st != KLAW_OK) {
        if (atomic_load_explicit(&c->ctl->high_watermark, memory_order_relaxed) < c->capacity)
            raise_watermark(c->ctl, c->capacity); /* full: the deepest there is */
        return st;
    }
    fill_claim(c, pos, len, f);
    /* the high watermark is sampled (1 position in 256, and whenever the
     * ring is found full): reading the consumers' index line takes it from
     * them, and their next store must take it back - at 1 in 64 that cost
     * a few ns a frame, a good part of a 64 B frame's ~15 ns. It lives on
     * the producers' own line (tail's). */
    if (KLAW_UNLIKELY((pos & 255) == 0))
        sample_watermark(tx, pos);
    return KLAW_OK;
}

/* What a parked caller re-checks (the ck_ec predicate): returns non-zero
 * to stop waiting. */
typedef struct wait_ctx {
    chan *c;
    int (*ready)(struct wait_ctx *);
} wait_ctx;

static int wait_pred(const struct ck_ec_wait_state *ws, struct timespec *deadline)
{
    wait_ctx *w = ws->data;
    /* ck_ec calls us after it flagged the count: the heavy half of the
     * asymmetric fence goes between that CAS and our re-check */
    bool fenced = kw_heavy_barrier();
    if (w->ready(w))
        return 1;
    int64_t now = (int64_t)ws->now.tv_sec * 1000000000 + ws->now.tv_nsec;
    if (!fenced) {
        /* no barrier: a light publisher may miss our flag, so sleep at
         * most 1 ms (ck_ec passes "forever" as tv_sec = TIME_MAX) */
        int64_t cap = now + 1000000;
        time_t cs = (time_t)(cap / 1000000000);
        long cn = (long)(cap % 1000000000);
        if (deadline->tv_sec > cs || (deadline->tv_sec == cs && deadline->tv_nsec > cn)) {
            deadline->tv_sec = cs;
            deadline->tv_nsec = cn;
        }
    }
    /* the channel's liveness clock (not this call's): reap when due, and
     * wake up in time for it; the orphan hint is re-synced on the same
     * schedule (a process killed between an orphan and its hint) */
    int64_t due = atomic_load_explicit(&w->c->life.next_reap_ns, memory_order_relaxed);
    if (klaw__life_wait_check(&w->c->life, now, deadline))
        return 1;
    if (now >= due) {
        resync_orphans(w->c);
        if (w->ready(w))
            return 1;
    }
    return 0;
}

/* Is the slot of position pos free for its lap (released, or already
 * taken again)? */
static inline int free_at(chan *c, uint64_t pos)
{
    uint64_t v = atomic_load_explicit(&slot_at(c, pos)->state, memory_order_acquire);
    return lap_cmp(lap_of(v), pos >> c->shift) >= 0;
}

/* Does the slot of position pos hold something for a consumer (a frame, a
 * skip, or a later lap: head is stale)? */
static inline int filled_at(chan *c, uint64_t pos)
{
    uint64_t v = atomic_load_explicit(&slot_at(c, pos)->state, memory_order_acquire);
    int64_t d = lap_cmp(lap_of(v), pos >> c->shift);
    return d > 0 || (d == 0 && st_of(v) != S_EMPTY && st_of(v) != S_WRITING);
}

static int tx_ready(wait_ctx *w)
{
    chan *c = w->c;
    if (atomic_load_explicit(c->closed, memory_order_acquire) & CLOSED_RECEIVERS)
        return 1;
    return free_at(c, atomic_load_explicit(&c->ctl->tail, memory_order_acquire));
}

static int tx_run(wait_ctx *w)
{
    chan *c = w->c;
    return free_at(c, atomic_load_explicit(&c->ctl->tail, memory_order_relaxed) + c->run);
}

/* Parks on ec until ready() or the deadline; TIMEOUT or OK (re-check).
 *
 * Runs: while it spins, a side whose next slot became ready waits (up to
 * RUN_PATIENCE more polls, about half a microsecond on this project's
 * machine) for the slot c->run positions further on to be ready as well -
 * a run of frames to read (room for a run to write) - before it returns.
 * Taking each slot the moment the other side hands it over keeps both
 * sides on the same cache lines: the consumer polls the line the producer
 * is writing (and takes it away from it) for every frame. Letting the
 * other side get a run ahead first means each line moves once, whole.
 * klaw-bench mpmc, 1p1c 64 B between processes: 1.2-1.35x the frames/s.
 * It only ever delays a taker whose slot is ready by those few polls; the
 * run check is never a reason to park, and parking is unchanged. */
static klaw_status park(chan *c, struct ck_ec32 *ec, int (*ready)(wait_ctx *), int (*run)(wait_ctx *),
                        const struct timespec *deadline)
{
    wait_ctx w = {c, ready};
    int patience = c->run && run ? RUN_PATIENCE : 0;
    for (int i = 0; i < SPIN_ITERS; i++) {
        if (ready(&w) && (patience-- <= 0 || run(&w)))
            return KLAW_OK;
        ck_pr_stall();
    }
    uint32_t v = ck_ec32_value(ec);
    if (ready(&w))
        return KLAW_OK;
    if (ck_ec32_wait_pred(ec, &klaw__ec_mode, v, wait_pred, &w, deadline) == -1 && klaw__deadline_passed(deadline))
        return KLAW_TIMEOUT;
    return KLAW_OK;
}

klaw_status klaw_mpmc_claim(klaw_mpmc_tx *tx, size_t len, const struct timespec *deadline, klaw_frame *f)
{
    for (;;) {
        klaw_status st = klaw_mpmc_try_claim(tx, len, f);
        if (st != KLAW_FULL)
            return st;
        st = park(tx->c, &tx->c->ctl->not_full, tx_ready, tx_run, deadline);
        if (st == KLAW_TIMEOUT) {
            st = klaw_mpmc_try_claim(tx, len, f);
            return st == KLAW_FULL ? KLAW_TIMEOUT : st;
        }
    }
}

klaw_status klaw_mpmc_commit(klaw_mpmc_tx *tx, klaw_frame *f, size_t len)
{
    ring_slot *s = f->slot_;
    chan *c = tx->c;
    /* closed: its claims were given up (skipped) and may be reused */
    if (KLAW_UNLIKELY(klaw__handle_closed(&tx->closed)))
        return KLAW_CLOSED;
    if (KLAW_UNLIKELY(len > c->max_frame)) {
        klaw_mpmc_abort(tx, f);
        return KLAW_INVAL;
    }
    s->len = (uint32_t)len;
    kw_publish_u64(&s->state, mk(f->pos_ >> c->shift, S_FULL, 0));
    KLAW_CRASHPOINT("mpmc.commit.slot");
    return kw_wake_then_ok_fd(&c->ctl->not_empty, &c->life, KLAW__EV_RX);
}

klaw_status klaw_mpmc_abort(klaw_mpmc_tx *tx, klaw_frame *f)
{
    ring_slot *s = f->slot_;
    chan *c = tx->c;
    if (KLAW_UNLIKELY(klaw__handle_closed(&tx->closed)))
        return KLAW_CLOSED;
    kw_publish_u64(&s->state, mk(f->pos_ >> c->shift, S_SKIPPED, 0));
    KLAW_CRASHPOINT("mpmc.abort.slot");
    atomic_fetch_add_explicit(&klaw__life_ent_at(&c->life, tx->idx)->counter, 1, memory_order_relaxed);
    KLAW_CRASHPOINT("mpmc.abort.count");
    return kw_wake_then_ok_fd(&c->ctl->not_empty, &c->life, KLAW__EV_RX);
}

klaw_status klaw_mpmc_try_send(klaw_mpmc_tx *tx, const void *data, size_t len)
{
    klaw_frame f;
    klaw_status st = klaw_mpmc_try_claim(tx, len, &f);
    if (st != KLAW_OK)
        return st;
    if (len)
        memcpy(f.data, data, len);
    return klaw_mpmc_commit(tx, &f, len);
}

klaw_status klaw_mpmc_send(klaw_mpmc_tx *tx, const void *data, size_t len, const struct timespec *deadline)
{
    klaw_frame f;
    klaw_status st = klaw_mpmc_claim(tx, len, deadline, &f);
    if (st != KLAW_OK)
        return st;
    if (len)
        memcpy(f.data, data, len);
    return klaw_mpmc_commit(tx, &f, len);
}

static inline void fill_view(chan *c, ring_slot *s, uint64_t pos, klaw_frame *f);

/* The batch forms: frames[0] is already taken; takes the slots after it in
 * place while each is in state `from` for its lap (CAS to `to`, owned by
 * me), fills frames[1..], then moves the index (tail or head) once past the
 * run. Returns how many frames are taken in all (>= 1). */
static size_t extend_run(chan *c, _Atomic uint64_t *index, uint32_t from, uint32_t to, uint32_t me,
                         klaw_frame *frames, size_t n, size_t len)
{
    size_t k = 1;
    uint64_t pos = frames[0].pos_;
    const int single = to == S_WRITING ? c->single_tx : c->single_rx;
    while (k < n) {
        uint64_t p = pos + k;
        ring_slot *s = slot_at(c, p);
        uint64_t lap = p >> c->shift;
        uint64_t v = mk(lap, from, 0);
        if (single) { /* I6: nobody else moves this slot out of `from` */
            if (to == S_WRITING) {
                /* the data (its header's line too, where split) */
                klaw__prefetch_w(data_at(c, p + 8), c->data_stride > CACHELINE, c->pfw);
                if (c->slot_size == SLOT_HDR)
                    klaw__prefetch_w(slot_at(c, p + 8), 0, c->pfw);
            }
            if (atomic_load_explicit(&s->state, memory_order_acquire) != v)
                break;
            atomic_store_explicit(&s->state, mk(lap, to, me), memory_order_relaxed);
        } else if (!atomic_compare_exchange_strong_explicit(&s->state, &v, mk(lap, to, me), memory_order_acq_rel,
                                                            memory_order_acquire))
            break;
        KLAW_CRASHPOINT("mpmc.batch.slot");
        if (to == S_WRITING)
            fill_claim(c, p, len, &frames[k]);
        else
            fill_view(c, s, p, &frames[k]);
        k++;
    }
    if (k > 1) {
        if (single)
            atomic_store_explicit(index, pos + k, memory_order_release);
        else
            publish_index(index, pos + 1, pos + k);
        KLAW_CRASHPOINT("mpmc.batch.index");
    }
    return k;
}

klaw_status klaw_mpmc_claim_batch(klaw_mpmc_tx *tx, size_t len, klaw_frame *frames, size_t n, size_t *got,
                                  const struct timespec *deadline)
{
    *got = 0;
    if (n == 0)
        return KLAW_INVAL;
    klaw_status st = klaw_mpmc_claim(tx, len, deadline, &frames[0]);
    if (st != KLAW_OK)
        return st;
    /* extend in place: take the following slots while they are free for
     * their lap, then move tail once past all of them */
    *got = extend_run(tx->c, &tx->c->ctl->tail, S_EMPTY, S_WRITING, tx->idx, frames, n, len);
    return KLAW_OK;
}

klaw_status klaw_mpmc_commit_batch(klaw_mpmc_tx *tx, klaw_frame *frames, size_t n)
{
    chan *c = tx->c;
    klaw_status worst = KLAW_OK;
    if (KLAW_UNLIKELY(klaw__handle_closed(&tx->closed)))
        return KLAW_CLOSED;
    for (size_t i = 0; i < n; i++) {
        ring_slot *s = frames[i].slot_;
        uint64_t lap = frames[i].pos_ >> c->shift;
        if (KLAW_UNLIKELY(frames[i].len > c->max_frame)) {
            if (i + 1 == n)
                kw_publish_u64(&s->state, mk(lap, S_SKIPPED, 0));
            else
                atomic_store_explicit(&s->state, mk(lap, S_SKIPPED, 0), memory_order_release);
            KLAW_CRASHPOINT("mpmc.commit.slot");
            atomic_fetch_add_explicit(&klaw__life_ent_at(&c->life, tx->idx)->counter, 1, memory_order_relaxed);
            worst = KLAW_INVAL;
            continue;
        }
        s->len = frames[i].len;
        if (i + 1 == n)
            kw_publish_u64(&s->state, mk(lap, S_FULL, 0));
        else
            atomic_store_explicit(&s->state, mk(lap, S_FULL, 0), memory_order_release);
        KLAW_CRASHPOINT("mpmc.commit.slot");
    }
    kw_wake_if_waiters_fd(&c->ctl->not_empty, &c->life, KLAW__EV_RX);
    return worst;
}

/* ---- consuming ---------------------------------------------------------- */

static inline void fill_view(chan *c, ring_slot *s, uint64_t pos, klaw_frame *f)
{
    f->slot_ = s;
    f->pos_ = pos;
    f->seq = pos;
    f->data = data_at(c, pos);
    uint32_t len = s->len;
    /* another process wrote it: never trust a length past the slot */
    f->len = len <= c->max_frame ? len : c->max_frame;
    f->cap = c->max_frame;
}

/* Takes one frame offered again after its receiver died. */
KLAW_COLD static klaw_status take_orphan(klaw_mpmc_rx *rx, klaw_frame *f)
{
    chan *c = rx->c;
    uint32_t hint = atomic_load(&c->ctl->orphans);
    for (uint32_t i = 0; i < c->capacity; i++) {
        ring_slot *s = (ring_slot *)(c->slots + (size_t)i * c->slot_size);
        uint64_t v = atomic_load_explicit(&s->state, memory_order_acquire);
        if (st_of(v) != S_ORPHAN)
            continue;
        if (atomic_compare_exchange_strong_explicit(&s->state, &v, mk(lap_of(v), S_READING, rx->idx),
                                                    memory_order_acq_rel, memory_order_acquire)) {
            KLAW_CRASHPOINT("mpmc.orphan.take");
            /* lower the hint, never below zero (it is a hint: a death
             * between the slot and the hint is resynced) */
            uint32_t h = atomic_load(&c->ctl->orphans);
            while (h && !atomic_compare_exchange_weak(&c->ctl->orphans, &h, h - 1)) {
            }
            KLAW_CRASHPOINT("mpmc.orphan.take_hint");
            fill_view(c, s, (lap_of(v) << c->shift) | i, f);
            return KLAW_OK;
        }
    }
    /* none: a hint with no orphan behind it (its setter or taker died in
     * between) must not keep consumers spinning - lower it unless it moved */
    atomic_compare_exchange_strong(&c->ctl->orphans, &hint, 0);
    return KLAW_EMPTY;
}

klaw_status klaw_mpmc_try_view(klaw_mpmc_rx *rx, klaw_frame *f)
{
    chan *c = rx->c;
    ring_ctl *ctl = c->ctl;
    if (KLAW_UNLIKELY(klaw__handle_closed(&rx->closed)))
        return KLAW_CLOSED;
    if (KLAW_UNLIKELY(atomic_load_explicit(&ctl->orphans, memory_order_relaxed) != 0) &&
        take_orphan(rx, f) == KLAW_OK)
        return KLAW_OK;
    for (;;) {
        uint64_t pos = atomic_load_explicit(&ctl->head, memory_order_acquire);
        ring_slot *s = slot_at(c, pos);
        uint64_t lap = pos >> c->shift;
        uint64_t v = atomic_load_explicit(&s->state, memory_order_acquire);
        /* The frame path: FULL for this lap (commit stores owner 0) is one
         * compare; mk() keeps the lap modulo 2^48 like the slot does. The
         * other states and laps are sorted out below. */
        int64_t d = 0;
        if (KLAW_UNLIKELY(v != mk(lap, S_FULL, 0))) {
            /* the last position: advancing would wrap to 0 and never move
             * (2^64 frames: only hostile memory gets here; taking a FULL
             * slot there moves head to 0 once, which is harmless) */
            if (KLAW_UNLIKELY(pos == UINT64_MAX))
                return KLAW_CORRUPT;
            d = lap_cmp(lap_of(v), lap);
        }
        if (d == 0) {
            switch (st_of(v)) {
            case S_FULL:
                if (c->single_rx) { /* I6 */
                    atomic_store_explicit(&s->state, mk(lap, S_READING, rx->idx), memory_order_relaxed);
                    KLAW_CRASHPOINT("mpmc.view.slot");
                    atomic_store_explicit(&ctl->head, pos + 1, memory_order_release);
                    KLAW_CRASHPOINT("mpmc.view.head");
                    fill_view(c, s, pos, f);
                    return KLAW_OK;
                }
                if (atomic_compare_exchange_strong_explicit(&s->state, &v, mk(lap, S_READING, rx->idx),
                                                            memory_order_acq_rel, memory_order_acquire)) {
                    KLAW_CRASHPOINT("mpmc.view.slot");
                    publish_index(&ctl->head, pos, pos + 1);
                    KLAW_CRASHPOINT("mpmc.view.head");
                    fill_view(c, s, pos, f);
                    return KLAW_OK;
                }
                continue;
            case S_SKIPPED:
                if (atomic_compare_exchange_strong_explicit(&s->state, &v, mk(lap + 1, S_EMPTY, 0),
                                                            memory_order_acq_rel, memory_order_acquire)) {
                    KLAW_CRASHPOINT("mpmc.skip.slot");
                    advance(&ctl->head, pos, pos + 1);
                    KLAW_CRASHPOINT("mpmc.skip.head");
                    kw_wake_if_waiters_fd(&ctl->not_full, &c->life, KLAW__EV_TX);
                }
                continue;
            case S_READING:
            case S_ORPHAN:
                advance(&ctl->head, pos, pos + 1);
                continue;
            case S_EMPTY:
            case S_WRITING: /* not ready yet */
                break;
            default: /* no such state: hostile memory */
                return KLAW_CORRUPT;
            }
        } else if (d > 0) {
            /* head is stale (a released slot is a lap ahead); two laps or
             * more ahead with head still at pos breaks I4: hostile memory
             * (found by fuzz_region: helping on marched head for good) */
            if (KLAW_UNLIKELY(d > 1) && atomic_load_explicit(&ctl->head, memory_order_acquire) == pos)
                return KLAW_CORRUPT;
            advance(&ctl->head, pos, pos + 1);
            continue;
        }
        /* nothing ready at head */
        if (atomic_load_explicit(&ctl->head, memory_order_acquire) != pos)
            continue;
        if (KLAW_UNLIKELY(atomic_load_explicit(c->closed, memory_order_acquire) & CLOSED_SENDERS)) {
            /* a commit that happened before the close is visible now (the
             * slot changed since we looked: look again) */
            if (atomic_load_explicit(&s->state, memory_order_acquire) != v)
                continue;
            if (atomic_load(&ctl->orphans) && take_orphan(rx, f) == KLAW_OK)
                return KLAW_OK;
            return KLAW_CLOSED;
        }
        return KLAW_EMPTY;
    }
}

static int rx_ready(wait_ctx *w)
{
    chan *c = w->c;
    if (atomic_load_explicit(&c->ctl->orphans, memory_order_acquire))
        return 1;
    if (atomic_load_explicit(c->closed, memory_order_acquire) & CLOSED_SENDERS)
        return 1;
    return filled_at(c, atomic_load_explicit(&c->ctl->head, memory_order_acquire));
}

static int rx_run(wait_ctx *w)
{
    chan *c = w->c;
    return filled_at(c, atomic_load_explicit(&c->ctl->head, memory_order_relaxed) + c->run);
}

klaw_status klaw_mpmc_view(klaw_mpmc_rx *rx, const struct timespec *deadline, klaw_frame *f)
{
    for (;;) {
        klaw_status st = klaw_mpmc_try_view(rx, f);
        if (st != KLAW_EMPTY)
            return st;
        st = park(rx->c, &rx->c->ctl->not_empty, rx_ready, rx_run, deadline);
        if (st == KLAW_TIMEOUT) {
            st = klaw_mpmc_try_view(rx, f);
            return st == KLAW_EMPTY ? KLAW_TIMEOUT : st;
        }
    }
}

klaw_status klaw_mpmc_release(klaw_mpmc_rx *rx, klaw_frame *f)
{
    chan *c = rx->c;
    ring_slot *s = f->slot_;
    /* closed: its views were offered again and may be someone else's */
    if (KLAW_UNLIKELY(klaw__handle_closed(&rx->closed)))
        return KLAW_CLOSED;
    kw_publish_u64(&s->state, mk((f->pos_ >> c->shift) + 1, S_EMPTY, 0));
    KLAW_CRASHPOINT("mpmc.release.slot");
    return kw_wake_then_ok_fd(&c->ctl->not_full, &c->life, KLAW__EV_TX);
}

klaw_status klaw_mpmc_view_batch(klaw_mpmc_rx *rx, klaw_frame *frames, size_t n, size_t *got,
                                 const struct timespec *deadline)
{
    *got = 0;
    if (n == 0)
        return KLAW_INVAL;
    klaw_status st = klaw_mpmc_view(rx, deadline, &frames[0]);
    if (st != KLAW_OK)
        return st;
    /* take the frames that follow in place, then move head once past them
     * (a position below head can never be FULL for its lap, so this is
     * safe after an orphan too: the first CAS just fails) */
    *got = extend_run(rx->c, &rx->c->ctl->head, S_FULL, S_READING, rx->idx, frames, n, 0);
    return KLAW_OK;
}

klaw_status klaw_mpmc_release_batch(klaw_mpmc_rx *rx, klaw_frame *frames, size_t n)
{
    chan *c = rx->c;
    if (KLAW_UNLIKELY(klaw__handle_closed(&rx->closed)))
        return KLAW_CLOSED;
    for (size_t i = 0; i < n; i++) {
        ring_slot *s = frames[i].slot_;
        uint64_t v = mk((frames[i].pos_ >> c->shift) + 1, S_EMPTY, 0);
        if (i + 1 == n)
            kw_publish_u64(&s->state, v);
        else
            atomic_store_explicit(&s->state, v, memory_order_release);
        KLAW_CRASHPOINT("mpmc.release.slot");
    }
    return kw_wake_then_ok_fd(&c->ctl->not_full, &c->life, KLAW__EV_TX);
}

klaw_status klaw_mpmc_try_recv(klaw_mpmc_rx *rx, void *buf, size_t cap, size_t *len)
{
    klaw_frame f;
    klaw_status st = klaw_mpmc_try_view(rx, &f);
    *len = 0;
    if (st != KLAW_OK)
        return st;
    *len = f.len;
    if (f.len > cap) {
        /* keep the frame: offer it again as an orphan of nobody (and wake
         * a parked consumer that can take it) */
        make_orphan(rx->c, f.slot_, f.pos_ >> rx->c->shift);
        return KLAW_TOOBIG;
    }
    memcpy(buf, f.data, f.len);
    klaw_mpmc_release(rx, &f);
    return KLAW_OK;
}

klaw_status klaw_mpmc_recv(klaw_mpmc_rx *rx, void *buf, size_t cap, size_t *len, const struct timespec *deadline)
{
    klaw_frame f;
    klaw_status st = klaw_mpmc_view(rx, deadline, &f);
    *len = 0;
    if (st != KLAW_OK)
        return st;
    *len = f.len;
    if (f.len > cap) {
        make_orphan(rx->c, f.slot_, f.pos_ >> rx->c->shift);
        return KLAW_TOOBIG;
    }
    memcpy(buf, f.data, f.len);
    klaw_mpmc_release(rx, &f);
    return KLAW_OK;
}

/* ---- stats --------------------------------------------------------------- */

/* The totals are derived from the ring, not counted per frame (a counter
 * bumped on every frame would cost each side a locked instruction on a
 * shared line). Every position below tail was claimed; it is now being
 * written, or was aborted, or was committed: so
 *     total_sent = tail - writing - aborted.
 * Every position below head was taken by a receiver or passed as skipped;
 * a skipped slot is turned back to EMPTY as it is passed, so SKIPPED slots
 * still in the ring are aborted claims not yet passed:
 *     total_received = head - (aborted - skipped) - reading - orphaned.
 * Exact when the channel is quiet; a snapshot taken while frames move may
 * be off by the frames in flight. */
/* The true tail (producers) or head (consumers) from a hint that
 * publish_index may have set back a little: walks forward over positions
 * already taken for their lap (at most a ring). A position p was claimed
 * unless its slot is still (lap(p), EMPTY) or at an older lap; it was
 * taken by a receiver once its slot is (lap(p), READING or ORPHAN) or at a
 * later lap (released). */
static uint64_t effective_index(chan *c, uint64_t p, int producers)
{
    for (uint32_t i = 0; i < c->capacity; i++, p++) {
        uint64_t v = atomic_load_explicit(&slot_at(c, p)->state, memory_order_acquire);
        int64_t d = lap_cmp(lap_of(v), p >> c->shift);
        if (d < 0)
            break;
        if (d == 0) {
            uint32_t st = st_of(v);
            if (producers ? st == S_EMPTY : (st != S_READING && st != S_ORPHAN))
                break;
        }
    }
    return p;
}

static klaw_status stats(chan *c, klaw_mpmc_stats *out)
{
    memset(out, 0, sizeof *out);
    reap(c);
    ring_ctl *ctl = c->ctl;
    klaw_status st = klaw__life_lock(&c->life);
    if (st != KLAW_OK)
        return st == KLAW_TIMEOUT ? st : KLAW_CORRUPT;
    uint64_t aborted = klaw__life_counter_total(&c->life) + atomic_load(&ctl->reaped_aborted);
    out->aborted_claims = aborted;
    out->redelivered = atomic_load(&ctl->redelivered);
    out->reaped_handles = atomic_load(&ctl->life.reaped);
    klaw__life_unlock(&c->life);
    uint64_t head = effective_index(c, atomic_load(&ctl->head), 0);
    uint64_t tail = effective_index(c, atomic_load(&ctl->tail), 1);
    uint64_t writing = 0, reading = 0, orphaned = 0, skipped = 0;
    for (uint32_t i = 0; i < c->capacity; i++) {
        ring_slot *s = (ring_slot *)(c->slots + (size_t)i * c->slot_size);
        switch (st_of(atomic_load_explicit(&s->state, memory_order_acquire))) {
        case S_WRITING: writing++; break;
        case S_READING: reading++; break;
        case S_ORPHAN: orphaned++; break;
        case S_SKIPPED: skipped++; break;
        default: break;
        }
    }
    uint64_t passed_skips = aborted > skipped ? aborted - skipped : 0;
    out->total_sent = tail > writing + aborted ? tail - writing - aborted : 0;
    out->total_received =
        head > passed_skips + reading + orphaned ? head - passed_skips - reading - orphaned : 0;
    out->senders = klaw__life_count(&c->life, H_TX);
    out->receivers = klaw__life_count(&c->life, H_RX);
    out->capacity = c->capacity;
    out->max_frame = c->max_frame;
    out->depth = tail > head ? tail - head : 0;
    out->high_watermark = atomic_load(&ctl->high_watermark);
    if (out->depth > out->high_watermark)
        out->high_watermark = out->depth;
    uint32_t closed = atomic_load(c->closed);
    out->senders_closed = (closed & CLOSED_SENDERS) != 0;
    out->receivers_closed = (closed & CLOSED_RECEIVERS) != 0;
    return KLAW_OK;
}

klaw_status klaw_mpmc_tx_stats(klaw_mpmc_tx *tx, klaw_mpmc_stats *out) { return stats(tx->c, out); }
klaw_status klaw_mpmc_rx_stats(klaw_mpmc_rx *rx, klaw_mpmc_stats *out) { return stats(rx->c, out); }

/* ---- select ------------------------------------------------------------------ */

static klaw_status sel_try_take(void *rx, klaw_sel_result *out)
{
    klaw_status st = klaw_mpmc_try_view(rx, &out->frame);
    out->status = st;
    return st;
}

static klaw_status sel_release(void *rx, klaw_frame *f) { return klaw_mpmc_release(rx, f); }

/* select's waiter: the channel's liveness clock, as a parked view's */
static void sel_maintain(void *rx)
{
    chan *c = ((klaw_mpmc_rx *)rx)->c;
    int64_t now = klaw__now_ns();
    int64_t due = atomic_load_explicit(&c->life.next_reap_ns, memory_order_relaxed);
    klaw__life_maybe_reap(&c->life, now);
    if (now >= due)
        resync_orphans(c);
}

static int64_t sel_due(void *rx)
{
    return atomic_load_explicit(&((klaw_mpmc_rx *)rx)->c->life.next_reap_ns, memory_order_relaxed);
}

static int sel_fd_arm(void *rxv, const klaw__fdw *w);
static unsigned sel_fd_mode(void *rxv);

klaw_status klaw__mpmc_sel_src(void *rxv, klaw_sel_src *out)
{
    klaw_mpmc_rx *rx = rxv;
    if (!rx || atomic_load(&rx->closed))
        return KLAW_INVAL;
    out->rx = rx;
    out->try_take = sel_try_take;
    out->release = sel_release;
    out->ec = &rx->c->ctl->not_empty;
    out->maintain = sel_maintain;
    out->liveness_ns = rx->c->liveness_ns;
    out->due_ns = sel_due;
    out->light_publish = true;
    out->fd_arm = sel_fd_arm;
    out->fd_mode = sel_fd_mode;
    return KLAW_OK;
}

/* ---- test hooks (not in the public header; tests/test_recovery.c) ---------- */

/* Moves a channel that holds no frames (and no claims or views) to position
 * pos: head = tail = pos and every slot EMPTY for the lap of the position
 * it serves next - as if pos frames had passed. For the lap-wrap test. */
klaw_status klaw__mpmc_test_set_pos(klaw_mpmc_tx *tx, uint64_t pos);
klaw_status klaw__mpmc_test_set_pos(klaw_mpmc_tx *tx, uint64_t pos)
{
    chan *c = tx->c;
    if (atomic_load(&c->ctl->head) != atomic_load(&c->ctl->tail))
        return KLAW_INVAL;
    for (uint32_t k = 0; k < c->capacity; k++) {
        uint64_t p = pos + k;
        atomic_store(&slot_at(c, p)->state, mk(p >> c->shift, S_EMPTY, 0));
    }
    atomic_store(&c->ctl->head, pos);
    atomic_store(&c->ctl->tail, pos);
    return KLAW_OK;
}

/* Holds the channel's handle-table lock for ms milliseconds (a live peer
 * slow inside it). */
klaw_status klaw__mpmc_test_hold_lock(klaw_mpmc_tx *tx, uint32_t ms);
klaw_status klaw__mpmc_test_hold_lock(klaw_mpmc_tx *tx, uint32_t ms)
{
    klaw_status st = klaw__life_lock(&tx->c->life);
    if (st != KLAW_OK)
        return st;
    struct timespec t = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};
    nanosleep(&t, NULL);
    klaw__life_unlock(&tx->c->life);
    return KLAW_OK;
}

/* ---- inspection ----------------------------------------------------------------- */

klaw_status klaw__mpmc_inspect(klaw_region *r, klaw_mpmc_stats *out)
{
    chan *c;
    klaw_status st = chan_attach(r, klaw_region_hdr(r)->body_off, klaw_region_hdr(r)->body_len, &c);
    if (st != KLAW_OK)
        return st;
    st = stats(c, out);
    klaw__life_detach(&c->life);
    free(c); /* not chan_unref: the region stays the caller's */
    return st;
}

/* ---- descriptors for event loops (channels/fdwait.h) ------------------------- */

int klaw_mpmc_tx_fd(klaw_mpmc_tx *tx)
{
    if (atomic_load(&tx->closed)) {
        errno = EBADF;
        return -1;
    }
    return klaw__fd_handle(&tx->c->life, tx->idx, &tx->fdw, tx->c->region);
}

int klaw_mpmc_rx_fd(klaw_mpmc_rx *rx)
{
    if (atomic_load(&rx->closed)) {
        errno = EBADF;
        return -1;
    }
    return klaw__fd_handle(&rx->c->life, rx->idx, &rx->fdw, rx->c->region);
}

/* The waiter's half (fdwait.h): the entry for `ev` with target w, the
 * count's flag, the barrier light publishers need, the re-check. Returns
 * 1 when ready now, 0 when armed and not ready, -1 when ready cannot be
 * told without a 1 ms poll (no barrier could be issued: wait.h). */
static int arm_to(chan *c, uint32_t idx, const klaw__fdw *w, uint32_t ev, struct ck_ec32 *ec,
                  int (*ready)(wait_ctx *))
{
    klaw__life_fd_arm(&c->life, idx, w, KLAW__EVS(ev));
    kw_ec_arm(ec);
    int barrier = kw_heavy_barrier();
    wait_ctx wc = {c, ready};
    if (ready(&wc))
        return 1;
    return barrier ? 0 : -1;
}

static klaw_status arm_own(chan *c, uint32_t idx, klaw__fdw *w, uint32_t ev, struct ck_ec32 *ec,
                           int (*ready)(wait_ctx *), int *timeout_ms)
{
    klaw_status st = klaw__fd_arm_begin(&c->life, idx, w, c->region, timeout_ms);
    if (st != KLAW_OK)
        return st;
    int r = arm_to(c, idx, w, ev, ec, ready);
    if (r > 0)
        klaw__fdw_poke(w);
    else if (r < 0 && timeout_ms)
        *timeout_ms = 1; /* a light publisher may be missed: poll */
    return KLAW_OK;
}

klaw_status klaw_mpmc_tx_arm(klaw_mpmc_tx *tx, int *timeout_ms)
{
    if (atomic_load(&tx->closed))
        return KLAW_CLOSED;
    return arm_own(tx->c, tx->idx, &tx->fdw, KLAW__EV_TX, &tx->c->ctl->not_full, tx_ready, timeout_ms);
}

klaw_status klaw_mpmc_rx_arm(klaw_mpmc_rx *rx, int *timeout_ms)
{
    if (atomic_load(&rx->closed))
        return KLAW_CLOSED;
    return arm_own(rx->c, rx->idx, &rx->fdw, KLAW__EV_RX, &rx->c->ctl->not_empty, rx_ready, timeout_ms);
}

/* select's descriptor (klaw_sel_src.fd_arm) */
static int sel_fd_arm(void *rxv, const klaw__fdw *w)
{
    klaw_mpmc_rx *rx = rxv;
    return arm_to(rx->c, rx->idx, w, KLAW__EV_RX, &rx->c->ctl->not_empty, rx_ready);
}

static unsigned sel_fd_mode(void *rxv) { return klaw__region_mode(((klaw_mpmc_rx *)rxv)->c->region); }
