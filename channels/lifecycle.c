/*
 * lifecycle.c - handles, the pointer-free lock, reaping, closing and the
 * liveness clock, for every channel kind (see channels/lifecycle.h).
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "crashpoint.h"
#include "fdwait.h"
#include "lifecycle.h"
#include "wait.h"

#define LOCK_WAITERS (1u << 31)
#define LOCK_SLOT_BITS 13
#define LOCK_GEN_MASK 0x3ffffu
#define LIFE_LOCK_POLL_MS 10
#define REAP_BATCH 64 /* dead owners one reap retires at most */
#define ROLE_CLOSING (1u << 31) /* closed by its owner, retirement pending */
#define LOCK_WAIT_NS 1000000000ll /* how long a bounded lock waits for a live holder */

static uint64_t round_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

/* ---- creating and attaching ---------------------------------------------- */

uint32_t klaw__life_peers_for(uint32_t max_handles)
{
    uint64_t n = (uint64_t)max_handles + 16;
    return n < KLAW__PEERS_MAX ? (uint32_t)n : KLAW__PEERS_MAX;
}

uint64_t klaw__life_tables_size(uint32_t max_handles, uint32_t max_peers)
{
    return round_up((uint64_t)max_handles * sizeof(klaw__life_ent), KLAW_CACHELINE) +
           round_up((uint64_t)max_peers * sizeof(klaw__peer), KLAW_CACHELINE);
}

void klaw__life_init(klaw__life_shared *s, uint64_t tables_off, uint32_t max_handles, uint32_t max_peers,
                     uint64_t liveness_ns, uint32_t closing_roles)
{
    s->magic = KLAW__LIFE_MAGIC;
    s->max_handles = max_handles;
    s->max_peers = max_peers;
    s->closing_roles = closing_roles;
    s->handles_off = tables_off;
    s->peers_off = tables_off + round_up((uint64_t)max_handles * sizeof(klaw__life_ent), KLAW_CACHELINE);
    s->liveness_ns = liveness_ns ? liveness_ns : KLAW_LIVENESS_DEFAULT_NS;
    s->fd_key = klaw__fd_new_key();
}

static int overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
    return alen && blen && a < b + blen && b < a + alen;
}

klaw_status klaw__life_attach(klaw__life *L, klaw_region *r, klaw__life_shared *s, uint64_t avoid_off,
                              uint64_t avoid_len, const klaw__life_ops *ops, void *kind)
{
    uint8_t *base = klaw_region_base(r);
    size_t size = klaw_region_size(r);
    /* copy once, check, never read the config again */
    uint32_t magic = s->magic, nh = s->max_handles, np = s->max_peers, closing = s->closing_roles;
    uint64_t hoff = s->handles_off, poff = s->peers_off, live = s->liveness_ns;
    uint64_t hlen = (uint64_t)nh * sizeof(klaw__life_ent), plen = (uint64_t)np * sizeof(klaw__peer);
    if (magic != KLAW__LIFE_MAGIC || nh == 0 || nh > KLAW__LIFE_MAX_HANDLES || np == 0 || np > KLAW__PEERS_MAX ||
        (closing & ~0xeu) || live == 0 || hoff % KLAW_CACHELINE || poff % KLAW_CACHELINE ||
        !klaw_region_at(base, size, hoff, hlen) || !klaw_region_at(base, size, poff, plen) ||
        hoff < sizeof(klaw_region_header) || poff < sizeof(klaw_region_header) ||
        overlap(hoff, hlen, poff, plen) || overlap(hoff, hlen, avoid_off, avoid_len) ||
        overlap(poff, plen, avoid_off, avoid_len))
        return KLAW_CORRUPT;
    memset(L, 0, sizeof *L);
    L->s = s;
    L->ents = (klaw__life_ent *)(base + hoff);
    L->max_handles = nh;
    L->closing_roles = closing;
    L->liveness_ns = live;
    L->handles_off = hoff;
    L->handles_len = hlen;
    L->peers_off = poff;
    L->peers_len = plen;
    L->ops = ops;
    L->kind = kind;
    klaw__peers_init(&L->peers, r, (klaw__peer *)(base + poff), np);
    L->mu = &klaw__region_local_of(r)->lock_mu[0];
    atomic_store(&L->next_reap_ns, klaw__now_ns() + (int64_t)live);
    return KLAW_OK;
}

void klaw__life_detach(klaw__life *L)
{
    klaw__peers_fini(&L->peers);
}

/* ---- the lock -------------------------------------------------------------- */

static uint32_t token_of(uint64_t ident)
{
    return (klaw__ident_slot(ident) + 1) | (klaw__ident_gen(ident) & LOCK_GEN_MASK) << LOCK_SLOT_BITS;
}

/* Is the holder named by a lock word's token alive? */
static int token_alive(klaw__life *L, uint32_t token)
{
    uint32_t slot1 = token & ((1u << LOCK_SLOT_BITS) - 1);
    if (slot1 == 0 || slot1 > L->peers.n)
        return 0; /* names no slot: garbage, nobody holds it */
    uint64_t w = atomic_load(&L->peers.tab[slot1 - 1].word);
    uint32_t gen = (uint32_t)(w >> 32);
    if ((gen & LOCK_GEN_MASK) != ((token >> LOCK_SLOT_BITS) & LOCK_GEN_MASK))
        return 0; /* the slot has had another holder since */
    return klaw__peers_alive(&L->peers, (uint64_t)gen << 32 | slot1);
}

static void futex_wait_ms(_Atomic uint32_t *w, uint32_t expected, int ms)
{
    struct timespec ts = {0, (long)ms * 1000000};
    syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT, expected, &ts, NULL, 0);
}

/* 0 locked, 1 locked from a dead holder, -1 no identity, -2 a live holder
 * kept it past the bound (bounded only). */
static int lock_word(klaw__life *L, pthread_mutex_t *m, _Atomic uint32_t *word, bool bounded)
{
    uint64_t me;
    if (klaw__peers_me(&L->peers, &me) != KLAW_OK)
        return -1;
    const uint32_t tok = token_of(me);
    pthread_mutex_lock(m);
    int64_t give_up = bounded ? klaw__now_ns() + LOCK_WAIT_NS : INT64_MAX;
    for (int waited = 0;; waited++) {
        uint32_t v = atomic_load_explicit(word, memory_order_relaxed);
        uint32_t holder = v & ~LOCK_WAITERS;
        if (holder == 0) {
            /* acquire: pairs with the release exchange of the last unlock */
            if (atomic_compare_exchange_weak_explicit(word, &v, tok | (v & LOCK_WAITERS), memory_order_acquire,
                                                      memory_order_relaxed)) {
                KLAW_CRASHPOINT("life.lock.taken");
                return 0;
            }
            continue;
        }
        /* our own token while we hold m: no thread of this attachment can
         * hold the word (they all take m first, and unlock clears it), so
         * it is a stale or forged word - waiting for "ourselves" would hang */
        if ((waited > 0 && !token_alive(L, holder)) || holder == tok) {
            /* its holder is gone: take the word over (acquire, as above);
             * what it guarded may be half done - the caller repairs */
            if (atomic_compare_exchange_strong_explicit(word, &v, tok | (v & LOCK_WAITERS), memory_order_acquire,
                                                        memory_order_relaxed)) {
                atomic_fetch_add(&L->s->lock_recoveries, 1);
                KLAW_CRASHPOINT("life.lock.recovered");
                return 1;
            }
            continue;
        }
        if (waited > 0 && klaw__now_ns() >= give_up) {
            pthread_mutex_unlock(m);
            return -2; /* a live holder: slow, stopped, or a forged word */
        }
        if (!(v & LOCK_WAITERS) &&
            !atomic_compare_exchange_weak_explicit(word, &v, v | LOCK_WAITERS, memory_order_relaxed,
                                                   memory_order_relaxed))
            continue;
        futex_wait_ms(word, v | LOCK_WAITERS, LIFE_LOCK_POLL_MS);
    }
}

int klaw__life_lock_word(klaw__life *L, pthread_mutex_t *m, _Atomic uint32_t *word)
{
    int e = lock_word(L, m, word, true);
    return e == -2 ? -1 : e;
}

void klaw__life_unlock_word(pthread_mutex_t *m, _Atomic uint32_t *word)
{
    KLAW_CRASHPOINT("life.lock.give");
    /* release: everything written under the lock before the next taker's
     * acquire CAS */
    uint32_t v = atomic_exchange_explicit(word, 0, memory_order_release);
    if (v & LOCK_WAITERS)
        syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
    pthread_mutex_unlock(m);
}

/* After a dead holder (lock held): counts from the roles (L1, L2). */
static void recount(klaw__life *L)
{
    uint32_t n[KLAW__LIFE_ROLES] = {0};
    for (uint32_t i = 0; i < L->max_handles; i++) {
        uint32_t role = atomic_load(&L->ents[i].role) & ~ROLE_CLOSING;
        if (role > 0 && role < KLAW__LIFE_ROLES)
            n[role]++;
    }
    for (uint32_t r = 1; r < KLAW__LIFE_ROLES; r++)
        atomic_store(&L->s->count[r], n[r]);
}

static void retire(klaw__life *L, uint32_t i, int dead);

/* Lock held: the retirements that closes left pending (close_deferred). */
static void run_pending(klaw__life *L)
{
    /* exchange first: a close that marks its entry after our scan bumps
     * pending again, and the next holder scans */
    if (atomic_exchange(&L->s->pending, 0) == 0)
        return;
    for (uint32_t i = 0; i < L->max_handles; i++)
        if (atomic_load(&L->ents[i].role) & ROLE_CLOSING)
            retire(L, i, 0);
}

static klaw_status lock_table(klaw__life *L, bool bounded)
{
    int e = lock_word(L, L->mu, &L->s->lock, bounded);
    if (e == -2)
        return KLAW_TIMEOUT;
    if (e < 0) {
        uint64_t me;
        klaw_status st = klaw__peers_me(&L->peers, &me);
        return st != KLAW_OK ? st : KLAW_SYS;
    }
    if (e > 0) {
        recount(L);
        if (L->ops && L->ops->repair)
            L->ops->repair(L->kind);
    }
    run_pending(L);
    return KLAW_OK;
}

klaw_status klaw__life_lock(klaw__life *L) { return lock_table(L, true); }

void klaw__life_unlock(klaw__life *L) { klaw__life_unlock_word(L->mu, &L->s->lock); }

/* ---- handles ----------------------------------------------------------------- */

klaw_status klaw__life_take(klaw__life *L, uint32_t role, bool single, uint32_t *idx)
{
    if (role == 0 || role >= KLAW__LIFE_ROLES)
        return KLAW_INVAL;
    uint64_t me;
    klaw_status st = klaw__peers_me(&L->peers, &me);
    if (st != KLAW_OK)
        return st;
    if ((st = klaw__life_lock(L)) != KLAW_OK)
        return st;
    klaw__life_shared *s = L->s;
    if (atomic_load(&s->closed) & (1u << role)) {
        klaw__life_unlock(L);
        return KLAW_CLOSED;
    }
    if (single && atomic_load(&s->count[role]) != 0) {
        klaw__life_unlock(L);
        return KLAW_FULL;
    }
    for (uint32_t i = 0; i < L->max_handles; i++) {
        klaw__life_ent *e = &L->ents[i];
        if (atomic_load(&e->role) != 0)
            continue;
        /* L1: owner and counter, the count, then the role */
        atomic_store(&e->owner, me);
        atomic_store(&e->counter, 0);
        atomic_store(&e->aux, 0);
        atomic_store(&e->fd_armed, 0);
        atomic_store(&e->fd_gen, 0);
        KLAW_CRASHPOINT("life.take.owner");
        atomic_fetch_add(&s->count[role], 1);
        KLAW_CRASHPOINT("life.take.count");
        atomic_store(&e->role, role);
        KLAW_CRASHPOINT("life.take.role");
        klaw__life_unlock(L);
        *idx = i;
        return KLAW_OK;
    }
    klaw__life_unlock(L);
    return KLAW_FULL;
}

/* Lock held: gone(), then L2. */
static void retire(klaw__life *L, uint32_t i, int dead)
{
    klaw__life_ent *e = &L->ents[i];
    klaw__life_shared *s = L->s;
    uint32_t role = atomic_load(&e->role) & ~ROLE_CLOSING;
    if (role == 0 || role >= KLAW__LIFE_ROLES) {
        atomic_store(&e->role, 0); /* (a forged role: just free it) */
        return;
    }
    if (L->ops && L->ops->gone)
        L->ops->gone(L->kind, i, role, dead);
    klaw__life_fd_retire(L, i, dead); /* F4 */
    KLAW_CRASHPOINT("life.retire.gone");
    uint32_t left = atomic_load(&s->count[role]);
    if (left <= 1 && (L->closing_roles & (1u << role))) {
        atomic_fetch_or(&s->closed, 1u << role);
        KLAW_CRASHPOINT("life.retire.closed");
    }
    atomic_fetch_add(&s->retired_count, atomic_exchange(&e->counter, 0));
    KLAW_CRASHPOINT("life.retire.counter");
    if (left > 0)
        atomic_fetch_sub(&s->count[role], 1);
    KLAW_CRASHPOINT("life.retire.count");
    if (dead)
        atomic_fetch_add(&s->reaped, 1);
    atomic_store(&e->role, 0);
    KLAW_CRASHPOINT("life.retire.role");
}

bool klaw__life_owns(klaw__life *L, uint32_t idx)
{
    uint64_t me = klaw__peers_mine(&L->peers);
    klaw__life_ent *e = &L->ents[idx];
    uint32_t role = atomic_load(&e->role);
    return me != 0 && role != 0 && !(role & ROLE_CLOSING) && atomic_load(&e->owner) == me;
}

void klaw__life_give(klaw__life *L, uint32_t idx)
{
    if (idx >= L->max_handles || !klaw__life_owns(L, idx))
        return; /* not ours (a fork child's copy of its parent's handle) */
    klaw_status st = lock_table(L, true);
    if (st == KLAW_OK) {
        if (klaw__life_owns(L, idx))
            retire(L, idx, 0);
        klaw__life_unlock(L);
    } else {
        /* The lock is held by a live peer beyond the bound (slow, stopped,
         * or a forged word): close still completes. The entry is marked
         * closing and the next holder of the lock - whoever takes it for
         * anything - retires it (run_pending), gone() included; until then
         * this handle's claims and views stay where they are, as a slow
         * peer's would. A death between the mark and the retirement leaves
         * an entry the reaper retires. */
        klaw__life_ent *e = &L->ents[idx];
        uint32_t role = atomic_load(&e->role);
        while (!(role & ROLE_CLOSING) && role != 0 &&
               !atomic_compare_exchange_weak(&e->role, &role, role | ROLE_CLOSING)) {
        }
        KLAW_CRASHPOINT("life.give.deferred");
        atomic_fetch_add(&L->s->pending, 1);
        /* the holder may have let go meanwhile: try once more, no waiting */
        if (lock_table(L, true) == KLAW_OK)
            klaw__life_unlock(L);
    }
    if (L->ops && L->ops->wake)
        L->ops->wake(L->kind);
}

uint32_t klaw__life_reap(klaw__life *L)
{
    /* liveness first, without the lock (a system call per other peer) */
    uint64_t dead[REAP_BATCH], alive_memo = 0;
    uint32_t ndead = 0;
    for (uint32_t i = 0; i < L->max_handles && ndead < REAP_BATCH; i++) {
        klaw__life_ent *e = &L->ents[i];
        if (atomic_load_explicit(&e->role, memory_order_acquire) == 0)
            continue;
        uint64_t owner = atomic_load_explicit(&e->owner, memory_order_acquire);
        if (owner == alive_memo)
            continue;
        bool known = false;
        for (uint32_t k = 0; k < ndead; k++)
            known |= dead[k] == owner;
        if (known)
            continue;
        if (klaw__peers_alive(&L->peers, owner))
            alive_memo = owner;
        else
            dead[ndead++] = owner;
    }
    if (ndead == 0) {
        /* no dead owner - but a holder that died inside the lock (a take
         * cut short before its role was stored) leaves counts that only
         * the repair after a takeover fixes: take it over now */
        uint32_t v = atomic_load(&L->s->lock) & ~LOCK_WAITERS;
        if (v != 0 && !token_alive(L, v) && klaw__life_lock(L) == KLAW_OK)
            klaw__life_unlock(L);
        return 0;
    }
    uint32_t n = 0;
    if (klaw__life_lock(L) != KLAW_OK)
        return 0;
    for (uint32_t i = 0; i < L->max_handles; i++) {
        klaw__life_ent *e = &L->ents[i];
        if (atomic_load(&e->role) == 0)
            continue;
        uint64_t owner = atomic_load(&e->owner);
        for (uint32_t k = 0; k < ndead; k++) {
            if (dead[k] == owner) { /* L4: still the owner found dead */
                retire(L, i, 1);
                n++;
                break;
            }
        }
    }
    klaw__life_unlock(L);
    if (n && L->ops && L->ops->wake)
        L->ops->wake(L->kind);
    return n;
}

uint32_t klaw__life_maybe_reap(klaw__life *L, int64_t now_ns)
{
    int64_t due = atomic_load_explicit(&L->next_reap_ns, memory_order_relaxed);
    if (now_ns < due)
        return 0;
    /* one thread of this attachment reaps per period */
    if (!atomic_compare_exchange_strong(&L->next_reap_ns, &due, now_ns + (int64_t)L->liveness_ns))
        return 0;
    return klaw__life_reap(L);
}

int klaw__life_wait_check(klaw__life *L, int64_t now_ns, struct timespec *deadline)
{
    if (klaw__life_maybe_reap(L, now_ns))
        return 1;
    int64_t due = atomic_load_explicit(&L->next_reap_ns, memory_order_relaxed);
    /* ck_ec passes an infinite deadline as tv_sec = TIME_MAX: compare
     * without multiplying */
    time_t ds = (time_t)(due / 1000000000);
    long dn = (long)(due % 1000000000);
    if (deadline->tv_sec > ds || (deadline->tv_sec == ds && deadline->tv_nsec > dn)) {
        deadline->tv_sec = ds;
        deadline->tv_nsec = dn;
    }
    return 0;
}

uint64_t klaw__life_counter_total(klaw__life *L)
{
    uint64_t t = atomic_load(&L->s->retired_count);
    for (uint32_t i = 0; i < L->max_handles; i++)
        if (atomic_load(&L->ents[i].role) != 0)
            t += atomic_load(&L->ents[i].counter);
    return t;
}
