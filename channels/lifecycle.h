/*
 * channels/lifecycle.h - internal: the lifecycle core every channel kind
 * uses - who holds which handle, the lock that guards that, what happens
 * to what a closed or dead holder held, closing, and waiting that reaps.
 *
 * ---- In the region ---------------------------------------------------------
 *
 * A kind embeds one klaw__life_shared in its control block and gives it two
 * tables elsewhere in the region: max_handles handle entries (klaw__life_ent,
 * a cache line each) and max_peers peer slots (src/liveness.h). A handle
 * entry records its role (kind-defined, 1..3; 0 = free) and its owner, a
 * peer identity; the peer slot says whether that owner is alive, in a way
 * the kernel vouches for (named regions: open-file-description locks).
 *
 * ---- The lock -----------------------------------------------------------
 *
 * The table is guarded by a lock word that holds no pointers: 0 when free,
 * else the holder's token (its peer slot + 1 in bits 0..12, the low 18 bits
 * of its slot generation in bits 13..30) and a waiters flag (bit 31). A
 * locker CASes 0 -> token; a waiter sets the flag and sleeps on the word
 * (a shared futex) for at most LIFE_LOCK_POLL_MS at a time, and between
 * sleeps asks whether the holder is alive: a dead holder's word is taken
 * over by CAS (token -> ours), and the new holder repairs what the dead one
 * may have left half done (recount, then the kind's repair callback). The
 * unlocker exchanges the word with 0 and wakes the futex when the flag was
 * set. Threads of one attachment share a peer identity, so they first take
 * the attachment's process-local mutex (kept in the region handle, like
 * the identity: every channel view built over one handle shares both); the
 * word excludes other attachments. A live holder - a slow or stopped process is alive - is
 * waited for up to LOCK_WAIT_NS (1 s); past that, take, reap and stats
 * return KLAW_TIMEOUT, and close completes anyway by marking its entry
 * closing for the next holder to retire (L6). A word holding our own
 * token while we hold the process mutex is stale or forged and is taken
 * over at once. A live peer that writes its own token and never lets go can
 * stall the channel (the trust model: a live peer with write access can
 * stall, never crash, and never make another process hang in close).
 *
 * Orderings: the CAS that takes the word is acquire and the exchange that
 * frees it is release (pairs with the next taker's CAS), so everything
 * written under the lock is seen by the next holder. Counts, the closed
 * bits and the handle roles are atomics also read without the lock (hot
 * paths read `closed`); their stores under the lock are seq_cst.
 *
 * ---- Invariants this module keeps -------------------------------------
 *
 *   L1  An entry is taken under the lock: owner and counter first, then
 *       count[role] + 1, then role (seq_cst). A holder that dies between
 *       these leaves a count the repair recomputes from the roles.
 *   L2  An entry is retired under the lock, after the kind's gone()
 *       callback has given up what the handle held: closed |= bit(role)
 *       first when it is that role's last handle and the role closes when
 *       it reaches zero, then count[role] - 1, then role = 0. Death at any
 *       point leaves an entry the next reaper finds (owner gone) or a count
 *       the repair recomputes; the closed bit is never lost once the last
 *       handle's retirement began, and never set while another handle of
 *       that role remains.
 *   L3  A closed bit is never cleared: a role that closed stays closed
 *       (take refuses it with KLAW_CLOSED).
 *   L4  Only an entry's owner (give) or a reaper that found the owner dead
 *       retires it; both check, under the lock, that the entry still names
 *       that owner, so a retired entry taken again by another holder is
 *       never retired by mistake.
 *   L5  gone() is called under the lock, before the entry is freed, at
 *       most once per retirement; after a death inside the lock it may be
 *       called again for the same entry, so it must be idempotent (slot
 *       CASes are).
 *   L6  A close that cannot have the lock within the bound sets the entry's
 *       ROLE_CLOSING bit (CAS) and then bumps `pending`; every holder of
 *       the lock exchanges `pending` with 0 first and then retires every
 *       entry marked closing, so no mark is missed (a mark after the scan
 *       bumps pending again). A closing entry counts as its role until
 *       retired; take never reuses it.
 *
 * What the kinds keep: their slot protocols, and what gone() gives up
 * (claims -> skipped, views -> redelivered, registry entries -> evicted,
 * roles -> closed).
 *
 * ---- Liveness clock and waiting ----------------------------------------
 *
 * Each attachment keeps one clock per channel (next_reap_ns): a waiter that
 * goes to sleep reaps when it is due, and sleeps no later than it, however
 * short the deadline of each call - a caller that waits in 100 ms slices
 * reaps on the same schedule as one that waits for an hour.
 */
#ifndef KLAW_CHANNELS_LIFECYCLE_H
#define KLAW_CHANNELS_LIFECYCLE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "klaw/region.h"
#include "klaw/status.h"
#include "liveness.h"

#define KLAW__LIFE_MAGIC 0x4546494cu /* "LIFE" */
#define KLAW__LIFE_ROLES 4u          /* roles 1..3 */
#define KLAW__LIFE_MAX_HANDLES 8192u

typedef struct klaw__life_shared {
    /* config: written before READY, copied and checked by every attacher */
    uint32_t magic;
    uint32_t max_handles;
    uint32_t max_peers;
    uint32_t closing_roles; /* bit r: role r closes for good at zero    */
    uint64_t handles_off;
    uint64_t peers_off;
    uint64_t liveness_ns;
    uint64_t fd_key; /* names this channel's descriptor sockets (fdwait.h) */
    uint8_t pad0_[KLAW_CACHELINE - 48];
    /* the lock word (above) */
    _Alignas(KLAW_CACHELINE) _Atomic uint32_t lock;
    uint32_t pad1_;
    _Atomic uint64_t lock_recoveries; /* locks taken over from the dead */
    /* read by hot paths (closed), changed under the lock */
    _Alignas(KLAW_CACHELINE) _Atomic uint32_t count[KLAW__LIFE_ROLES];
    _Atomic uint32_t closed; /* bit r: role r closed for good (L3)      */
    uint32_t pad2_;
    _Atomic uint64_t reaped;        /* handles retired: owner gone       */
    _Atomic uint64_t retired_count; /* gone handles' counters, summed    */
    _Atomic uint32_t pending;       /* closes waiting for the lock (L6)  */
    _Atomic uint32_t fd_hwm;        /* descriptor waiters: entries below
                                       it may be armed (F1, never lowered) */
} klaw__life_shared;
_Static_assert(sizeof(klaw__life_shared) == 3 * KLAW_CACHELINE, "three cache lines");

typedef struct klaw__life_ent {
    _Atomic uint32_t role;
    uint32_t pad0_;
    _Atomic uint64_t owner;   /* peer identity (src/liveness.h)          */
    _Atomic uint64_t counter; /* the kind's (claims aborted)             */
    _Atomic uint64_t aux;     /* the kind's (a broadcast reader's entry)  */
    /* a descriptor waiter (fdwait.h): armed = a mask of events, 0 when
     * not armed; the socket to poke is key/id/gen (written before armed) */
    _Atomic uint32_t fd_armed;
    _Atomic uint32_t fd_id;
    _Atomic uint64_t fd_key;
    _Atomic uint32_t fd_gen;
    uint8_t pad_[KLAW_CACHELINE - 52];
} klaw__life_ent;
_Static_assert(sizeof(klaw__life_ent) == KLAW_CACHELINE, "a handle entry is one cache line");

/* What a kind does when handles go (all optional). */
typedef struct klaw__life_ops {
    /* Lock held: handle idx of `role` is being retired (closed by its
     * owner: dead = 0; its owner's process is gone: dead = 1). Give up
     * what it holds. Idempotent (L5). */
    void (*gone)(void *kind, uint32_t idx, uint32_t role, int dead);
    /* Lock held, just taken over from a dead holder: rebuild whatever
     * else the kind guards with this lock. */
    void (*repair)(void *kind);
    /* No lock: handles were retired; wake whoever waits on the kind. */
    void (*wake)(void *kind);
} klaw__life_ops;

/* This process's view of one channel's lifecycle block. */
typedef struct klaw__life {
    klaw__life_shared *s;
    klaw__life_ent *ents;
    uint32_t max_handles;
    uint32_t closing_roles;
    uint64_t liveness_ns;
    uint64_t handles_off, handles_len, peers_off, peers_len;
    klaw__peers peers;
    pthread_mutex_t *mu; /* the attachment's, taken before the word      */
    const klaw__life_ops *ops;
    void *kind;
    _Atomic int64_t next_reap_ns; /* the channel's liveness clock (here) */
} klaw__life;

/* ---- creating ---------------------------------------------------------- */

/* Bytes the two tables take (handles, then peers, each cache-aligned). */
uint64_t klaw__life_tables_size(uint32_t max_handles, uint32_t max_peers);
/* The peer slots a channel of max_handles handles gets. */
uint32_t klaw__life_peers_for(uint32_t max_handles);

/* Creator, before READY: fills the block; the tables live at tables_off
 * (klaw__life_tables_size bytes, zero-filled). */
void klaw__life_init(klaw__life_shared *s, uint64_t tables_off, uint32_t max_handles, uint32_t max_peers,
                     uint64_t liveness_ns, uint32_t closing_roles);

/* Builds the process-local view after checking the config against the
 * region: KLAW_OK or KLAW_CORRUPT. [avoid_off, +avoid_len) is the kind's
 * control block, which the tables must not overlap. */
klaw_status klaw__life_attach(klaw__life *L, klaw_region *r, klaw__life_shared *s, uint64_t avoid_off,
                              uint64_t avoid_len, const klaw__life_ops *ops, void *kind);
void klaw__life_detach(klaw__life *L);

/* Does [off, off + len) overlap the kind's control block or either table? */
static inline int klaw__life_overlaps(const klaw__life *L, uint64_t ctl_off, uint64_t ctl_len, uint64_t off,
                                      uint64_t len)
{
#define KLAW__OV(a, al, b, bl) ((al) && (bl) && (a) < (b) + (bl) && (b) < (a) + (al))
    return KLAW__OV(off, len, ctl_off, ctl_len) || KLAW__OV(off, len, L->handles_off, L->handles_len) ||
           KLAW__OV(off, len, L->peers_off, L->peers_len);
#undef KLAW__OV
}

/* ---- the lock ------------------------------------------------------------ */

/* Takes the table lock (repairing after a dead holder, then retiring the
 * closes left pending). KLAW_OK; KLAW_TIMEOUT (a live holder kept it 1 s);
 * or the status of getting an identity (KLAW_FULL, KLAW_SYS). */
klaw_status klaw__life_lock(klaw__life *L);
void klaw__life_unlock(klaw__life *L);

/* Another lock word of the same kind (watch's sender lock): 0 locked, 1
 * locked from a dead holder (the caller repairs), -1 not locked: no
 * identity, or a live holder kept it past the 1 s bound (the caller tells
 * which by klaw__peers_me). The process-local mutex m goes with it. */
int klaw__life_lock_word(klaw__life *L, pthread_mutex_t *m, _Atomic uint32_t *word);
void klaw__life_unlock_word(pthread_mutex_t *m, _Atomic uint32_t *word);

/* ---- handles -------------------------------------------------------------- */

/* Takes an entry for `role`: KLAW_OK with *idx; KLAW_CLOSED (the role has
 * closed for good); KLAW_FULL (table full, or `single` and the role
 * already has a handle); KLAW_SYS (no identity). */
klaw_status klaw__life_take(klaw__life *L, uint32_t role, bool single, uint32_t *idx);

/* Gives entry idx back (close): gone(dead = 0), then retired (L2) - now,
 * or by the next lock holder when a live one keeps the lock past the bound
 * (L6). Always completes; only an entry this attachment owns is retired (a
 * fork child closing its parent's handle leaves it to the parent). */
void klaw__life_give(klaw__life *L, uint32_t idx);

/* Does this attachment own entry idx (role not free)? */
bool klaw__life_owns(klaw__life *L, uint32_t idx);

/* Retires the entries of owners that are gone; returns how many. Liveness
 * is asked before the lock is taken; under it only entries whose owner
 * is still the one found dead are retired. */
uint32_t klaw__life_reap(klaw__life *L);

/* Reaps if this attachment's liveness clock is due (then moves it on). */
uint32_t klaw__life_maybe_reap(klaw__life *L, int64_t now_ns);

/* For a waiter about to sleep (ck_ec predicates): reaps if due (returns
 * 1 when something was retired: re-check instead of sleeping), and pulls
 * *deadline in to the next due time. */
int klaw__life_wait_check(klaw__life *L, int64_t now_ns, struct timespec *deadline);

static inline uint32_t klaw__life_count(const klaw__life *L, uint32_t role)
{
    return atomic_load_explicit(&L->s->count[role], memory_order_acquire);
}

static inline bool klaw__life_closed(const klaw__life *L, uint32_t role)
{
    return (atomic_load_explicit(&L->s->closed, memory_order_acquire) & (1u << role)) != 0;
}

/* The sum of every handle's counter plus the retired ones' (lock held or
 * not: exact when quiet). */
uint64_t klaw__life_counter_total(klaw__life *L);

/* Entry idx (idx < max_handles: callers hold a validated index). */
/* A handle's own closed flag (this process's memory: 0 open, 1 closed),
 * as the frame paths test it. Testing bit 0 rather than the whole word is
 * on purpose: after `if (closed == 0) ...` the compiler knows the register
 * holds 0 - KLAW_OK - and keeps it alive across the rest of the call as
 * the return value (a callee-saved register pushed and popped on every
 * commit and release); after `if (closed & 1)` it knows no value. Measured
 * with callgrind: 3-5 instructions a frame on mpmc and broadcast. */
static inline int klaw__handle_closed(const _Atomic int *closed)
{
    return atomic_load_explicit(closed, memory_order_relaxed) & 1;
}

static inline klaw__life_ent *klaw__life_ent_at(const klaw__life *L, uint32_t idx) { return &L->ents[idx]; }

#endif /* KLAW_CHANNELS_LIFECYCLE_H */
