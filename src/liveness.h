/*
 * src/liveness.h - internal: which processes are attached to a region, and
 * whether each one is still alive, in a form the kernel vouches for.
 *
 * A peer is one attachment of a region by one process (a klaw_region).
 * Everything a process owns in a channel - a handle, a claim, a lock word -
 * names the owner by its peer identity, a 64-bit word:
 *
 *     ident = gen << 32 | (slot + 1)          (0: nobody)
 *
 * where slot indexes the peer table (klaw__peer[n], inside the region) and
 * gen is that slot's generation, bumped by every new holder, so a stale
 * identity never names a later holder of the same slot.
 *
 * ---- Named regions: vouched by open-file-description locks ----------------
 *
 * A peer holds slot i by holding an F_OFD_SETLK write lock on one byte of
 * the region's file (klaw__region_peer_claim), through a description that
 * belongs to its attachment alone. The kernel keeps that lock while the
 * description is open and drops it when the process exits or is killed,
 * whatever pid or time namespace it runs in; F_OFD_GETLK from any process
 * that can open the file tells whether it is held. So:
 *
 *     alive(ident)  <=>  tab[slot].gen == gen  and  the byte is held
 *
 * Claiming: the byte lock first (exclusive among all peers), then the
 * generation bump. A checker that reads the old generation while the new
 * holder already has the byte reports the old identity alive once more - a
 * delay, never a live peer taken for dead. "Cannot tell" (GETLK failed)
 * counts as alive. A stopped or slow process holds its locks: alive.
 * Needs: the file (/dev/shm) shared. Needs not: a pid namespace, /proc.
 * Docker's default seccomp profile allows fcntl.
 *
 * ---- Anonymous regions: pids -------------------------------------------
 *
 * An anonymous region is shared only by its creator's threads and the
 * children it forks afterwards: one pid namespace by construction. A slot
 * is claimed by CAS on its word (gen | pid), from never-used or from a
 * holder whose pid is gone, and alive(ident) is: same generation, and
 * kill(pid, 0) does not say ESRCH, and /proc does not show a zombie whose
 * every thread has exited. A pid reused by an unrelated process keeps a
 * dead holder alive until that process ends (conservative).
 *
 * Fork: a child is a new process; its first use of an attachment claims a
 * slot of its own (src/region.c gives the child a description of its own,
 * and closes the inherited one, so the parent's locks die with the parent).
 */
#ifndef KLAW_SRC_LIVENESS_H
#define KLAW_SRC_LIVENESS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "klaw/region.h"
#include "klaw/status.h"

/* One slot of the peer table, in the region. */
typedef struct klaw__peer {
    _Atomic uint64_t word;      /* gen << 32 | pid (anonymous) or 0 (named) */
    _Atomic int32_t pid;        /* the holder's pid as it saw it (display)  */
    uint32_t pad_;
    _Atomic int64_t claimed_ns; /* CLOCK_REALTIME when claimed (display)    */
    uint64_t pad2_;
} klaw__peer;
_Static_assert(sizeof(klaw__peer) == 32, "a peer slot is 32 bytes");

#define KLAW__PEERS_MAX 8190u /* slot + 1 fits the 13 bits of a lock word */

/* What one attachment (a klaw_region) knows of itself, process-local and
 * kept in the region handle: one description of the file is one identity,
 * however many channel views are built over the handle (inspection builds
 * one per call), so the identity and the mutex that threads of this
 * attachment take before a lock word are the attachment's, not a view's. */
typedef struct klaw__region_local {
    pthread_mutex_t claim_mu; /* claiming a slot                          */
    _Atomic uint64_t me;      /* our identity; 0: none yet                */
    _Atomic int32_t me_pid;   /* the process that claimed it (fork check) */
    pthread_mutex_t lock_mu[2]; /* before lock word 0 (the table) / 1     */
} klaw__region_local;

/* The region handle's local state (src/region.c; re-initialised in a fork
 * child, whose copy may hold mutexes taken by threads it does not have). */
klaw__region_local *klaw__region_local_of(klaw_region *r);

/* This process's view of one region's peer table. */
typedef struct klaw__peers {
    klaw_region *r;
    klaw__peer *tab;
    uint32_t n;
    int vouched;              /* named region: OFD locks                  */
    klaw__region_local *loc;  /* the attachment's identity                */
} klaw__peers;

static inline uint32_t klaw__ident_slot(uint64_t ident) { return (uint32_t)(ident & 0xffffffffu) - 1u; }
static inline uint32_t klaw__ident_gen(uint64_t ident) { return (uint32_t)(ident >> 32); }

void klaw__peers_init(klaw__peers *p, klaw_region *r, klaw__peer *tab, uint32_t n);
void klaw__peers_fini(klaw__peers *p);

/* This process's identity in the region, claiming a slot on first use
 * (and again in a fork child). KLAW_OK; KLAW_FULL (every slot held by a
 * live peer); KLAW_SYS (a named region this process holds no description
 * of: a fork child whose region was unlinked and that cannot read /proc). */
klaw_status klaw__peers_me(klaw__peers *p, uint64_t *ident);

/* Our identity if we have one in this process, else 0 (never claims). */
uint64_t klaw__peers_mine(klaw__peers *p);

/* 1: the holder of ident is alive (or cannot be told dead); 0: it is gone
 * (or ident names no valid slot: 0, out of range, a later generation).
 * A cold path: a system call per peer of another attachment. */
int klaw__peers_alive(klaw__peers *p, uint64_t ident);

/* Region side (src/region.c): the byte locks behind vouched slots. */
int klaw__region_peer_claim(klaw_region *r, uint32_t slot);   /* 1 ok, 0 taken, -1 error */
void klaw__region_peer_unclaim(klaw_region *r, uint32_t slot);
int klaw__region_peer_held(const klaw_region *r, uint32_t slot); /* 1, 0, -1 cannot tell  */
int klaw__region_vouched(const klaw_region *r); /* this attachment holds a description */
int64_t klaw__region_now_ms(void);
/* The permission bits of a named region's object (0: anonymous, or not
 * known): what a channel's descriptor sockets are given (channels/fdwait.h). */
unsigned klaw__region_mode(const klaw_region *r);

#endif /* KLAW_SRC_LIVENESS_H */
