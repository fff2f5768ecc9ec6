/*
 * liveness.c - peer slots and their liveness (see src/liveness.h).
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crashpoint.h"
#include "liveness.h"

static int64_t realtime_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

void klaw__peers_init(klaw__peers *p, klaw_region *r, klaw__peer *tab, uint32_t n)
{
    p->r = r;
    p->tab = tab;
    p->n = n < KLAW__PEERS_MAX ? n : KLAW__PEERS_MAX;
    p->vouched = klaw_region_is_named(r);
    p->loc = klaw__region_local_of(r);
}

void klaw__peers_fini(klaw__peers *p)
{
    /* the identity is the attachment's: a vouched slot is let go when the
     * region's description closes; a pid slot stays ours on paper until a
     * claimer finds us gone */
    (void)p;
}

/* The pid-mode test: gone only when the kernel says so. */
static int pid_alive(int32_t pid)
{
    if (pid <= 0)
        return 0;
    if (pid == (int32_t)getpid())
        return 1;
    return klaw_proc_alive((klaw_proc_id){pid, 0, 0});
}

static klaw_status claim_vouched(klaw__peers *p, uint64_t *ident)
{
    for (uint32_t i = 0; i < p->n; i++) {
        int c = klaw__region_peer_claim(p->r, i);
        if (c < 0)
            return KLAW_SYS;
        if (c == 0)
            continue;
        KLAW_CRASHPOINT("peer.claim.lock");
        /* the byte is ours alone: nobody else writes this word now */
        uint64_t w = atomic_load(&p->tab[i].word);
        uint64_t gen = (w >> 32) + 1;
        if ((uint32_t)gen == 0)
            gen = 1;
        atomic_store(&p->tab[i].pid, (int32_t)getpid());
        atomic_store(&p->tab[i].claimed_ns, realtime_ns());
        /* seq_cst: ordered before any store that publishes the identity
         * (a handle's owner, a lock word) */
        atomic_store(&p->tab[i].word, (gen & 0xffffffffu) << 32);
        KLAW_CRASHPOINT("peer.claim.gen");
        *ident = (gen & 0xffffffffu) << 32 | (uint64_t)(i + 1);
        return KLAW_OK;
    }
    return KLAW_FULL;
}

static klaw_status claim_pid(klaw__peers *p, uint64_t *ident)
{
    int32_t me = (int32_t)getpid();
    for (uint32_t i = 0; i < p->n; i++) {
        uint64_t w = atomic_load(&p->tab[i].word);
        int32_t holder = (int32_t)(uint32_t)(w & 0xffffffffu);
        if (holder != 0 && pid_alive(holder))
            continue; /* (ours too: another attachment of ours may use it) */
        /* never used, or its holder is gone: a new generation */
        uint32_t gen = (uint32_t)(w >> 32) + 1;
        if (gen == 0)
            gen = 1;
        uint64_t nw = (uint64_t)gen << 32 | (uint32_t)me;
        if (!atomic_compare_exchange_strong(&p->tab[i].word, &w, nw))
            continue;
        KLAW_CRASHPOINT("peer.claim.gen");
        atomic_store(&p->tab[i].pid, me);
        atomic_store(&p->tab[i].claimed_ns, realtime_ns());
        *ident = (uint64_t)gen << 32 | (uint64_t)(i + 1);
        return KLAW_OK;
    }
    return KLAW_FULL;
}

klaw_status klaw__peers_me(klaw__peers *p, uint64_t *ident)
{
    int32_t pid = (int32_t)getpid();
    klaw__region_local *loc = p->loc;
    uint64_t me = atomic_load_explicit(&loc->me, memory_order_acquire);
    if (KLAW_LIKELY(me != 0 && atomic_load_explicit(&loc->me_pid, memory_order_relaxed) == pid)) {
        *ident = me;
        return KLAW_OK;
    }
    pthread_mutex_lock(&loc->claim_mu);
    me = atomic_load(&loc->me);
    klaw_status st = KLAW_OK;
    if (me == 0 || atomic_load(&loc->me_pid) != pid) {
        if (p->vouched && !klaw__region_vouched(p->r))
            st = KLAW_SYS;
        else
            st = p->vouched ? claim_vouched(p, &me) : claim_pid(p, &me);
        if (st == KLAW_OK) {
            atomic_store(&loc->me_pid, pid);
            atomic_store_explicit(&loc->me, me, memory_order_release);
        }
    }
    pthread_mutex_unlock(&loc->claim_mu);
    *ident = me;
    return st;
}

uint64_t klaw__peers_mine(klaw__peers *p)
{
    uint64_t me = atomic_load_explicit(&p->loc->me, memory_order_acquire);
    if (me == 0 || atomic_load_explicit(&p->loc->me_pid, memory_order_relaxed) != (int32_t)getpid())
        return 0;
    return me;
}

int klaw__peers_alive(klaw__peers *p, uint64_t ident)
{
    uint32_t lo = (uint32_t)(ident & 0xffffffffu);
    if (lo == 0 || lo > p->n)
        return 0;
    uint32_t slot = lo - 1, gen = klaw__ident_gen(ident);
    if (ident == klaw__peers_mine(p))
        return 1;
    uint64_t w = atomic_load(&p->tab[slot].word);
    if ((uint32_t)(w >> 32) != gen)
        return 0; /* the slot has had another holder since */
    if (!p->vouched)
        return pid_alive((int32_t)(uint32_t)(w & 0xffffffffu));
    int held = klaw__region_peer_held(p->r, slot);
    if (held != 0)
        return 1; /* held, or cannot tell: alive */
    /* not held: its holder let go - unless that is this very attachment
     * in a fork child that has not claimed yet (then the identity is the
     * parent's, and the parent's description is closed here: the answer
     * is the kernel's, and right) */
    return 0;
}
