/*
 * src/registry.h - internal: the reader registry's layout in a region and
 * the calls a channel makes on it (public reading: klaw/registry.h).
 *
 * A registry is a header (klaw__reg_hdr) and a table of `max` entries
 * (klaw__reg_ent), both inside the channel's region. The channel owns the
 * lock that serialises changes (its lifecycle lock, channels/lifecycle.h):
 * klaw__reg_add, klaw__reg_remove and klaw__reg_repair must be called with
 * it held. Snapshots take no lock unless the registry keeps changing under
 * them (then they take it through the callbacks they are given).
 *
 * Whether a reader is alive is not the registry's business: each record
 * belongs to a handle of the channel's lifecycle table, whose liveness the
 * kernel vouches for (src/liveness.h); when that handle goes (closed, or
 * its process gone) the channel removes the record (evicted when dead).
 * The record keeps the reader's host and pid for display only (node_id).
 */
#ifndef KLAW_SRC_REGISTRY_H
#define KLAW_SRC_REGISTRY_H

#include <stdatomic.h>
#include <stdint.h>

#include "klaw/region.h"
#include "klaw/registry.h"
#include "klaw/status.h"

#define KLAW__REG_NODE_MAX 95u

enum { KLAW__REG_FREE = 0, KLAW__REG_ACTIVE = 1 };

/* Stored to by the receiver that owns the entry only (one cache line, so
 * a receiver's per-frame store touches nothing anybody else writes). */
typedef struct klaw__reg_live {
    _Atomic uint64_t cursor;       /* next position this reader will take */
    _Atomic uint64_t lagged;       /* positions it missed (LAGGED)        */
    _Atomic uint64_t skipped;      /* aborted claims it passed            */
    _Atomic int64_t last_seen_ns;  /* CLOCK_REALTIME                      */
    _Atomic uint64_t start;        /* cursor when it registered           */
    uint8_t pad_[24];
} klaw__reg_live;

/* The record: written under the lock while the generation is odd, never
 * changed while the entry is ACTIVE. Bytes are accessed with relaxed
 * atomics so that a snapshot racing a change is a defined (and then
 * discarded) read. */
typedef struct klaw__reg_rec {
    _Atomic uint32_t state;        /* KLAW__REG_FREE / _ACTIVE            */
    uint32_t pad_;
    _Atomic uint64_t reg_id;       /* unique per registration, > 0        */
    _Atomic int64_t registered_ns; /* CLOCK_REALTIME                      */
    _Atomic char reader_id[KLAW_READER_ID_MAX + 1];
    _Atomic char node_id[KLAW__REG_NODE_MAX + 1];
} klaw__reg_rec;

typedef struct klaw__reg_ent {
    _Alignas(64) klaw__reg_live live;
    _Alignas(64) klaw__reg_rec rec;
} klaw__reg_ent;
_Static_assert(sizeof(klaw__reg_live) == 64, "live counters are one cache line");
_Static_assert(sizeof(klaw__reg_ent) == 256, "a registry entry is 4 cache lines");

typedef struct klaw__reg_hdr {
    _Atomic uint64_t gen;          /* version; odd while a record changes */
    _Atomic uint32_t count;        /* ACTIVE entries                      */
    uint32_t max;                  /* entries in the table (config)       */
    _Atomic uint64_t next_id;
    /* totals of readers that left, folded in under the lock */
    _Atomic uint64_t retired_received, retired_lagged, retired_skipped;
    _Atomic uint64_t evicted;      /* removed because their process died  */
    _Atomic uint32_t hi;           /* entries [hi, max) were never used   */
    uint32_t pad_;
} klaw__reg_hdr;
_Static_assert(sizeof(klaw__reg_hdr) == 64, "registry header is one cache line");

/* Per-process state of one attached registry: the record set last read,
 * published with RCU. Zero-initialise; klaw__reg_view_fini() frees. */
typedef struct klaw__reg_view {
    void *cur; /* struct reg_set *, RCU-protected */
} klaw__reg_view;

/* `max` is always the caller's validated copy of the table size, never
 * re-read from shared memory. */

/* Sets up an empty registry of `max` entries (creator, before READY). */
void klaw__reg_init(klaw__reg_hdr *h, klaw__reg_ent *e, uint32_t max);

/* Lock held. Registers a reader of this process with its cursor starting
 * at `cursor` (node_id "<host>:<pid>"). reader_id NULL: "reader-<pid>-<n>".
 * Returns KLAW_OK with *idx (the record's reg_id is then readable there),
 * KLAW_INVAL (reader_id empty or longer than KLAW_READER_ID_MAX),
 * KLAW_EXIST (that reader_id is registered), KLAW_FULL (no free entry). */
klaw_status klaw__reg_add(klaw__reg_hdr *h, klaw__reg_ent *e, uint32_t max, const char *reader_id,
                          uint64_t cursor, uint32_t *idx);

/* Lock held. Removes entry idx if it is ACTIVE (folding its counters into
 * the retired totals; `evicted`: it was removed because its owner's
 * process died). */
void klaw__reg_remove(klaw__reg_hdr *h, klaw__reg_ent *e, uint32_t idx, int evicted);

/* Lock held: repairs the header after a process died holding the lock
 * (an odd generation made even, count recomputed). Records no handle
 * owns any more are the channel's to find and remove. */
void klaw__reg_repair(klaw__reg_hdr *h, klaw__reg_ent *e, uint32_t max);

/* How many leading entries a scan must look at (never above max). */
static inline uint32_t klaw__reg_span(const klaw__reg_hdr *h, uint32_t max)
{
    uint32_t hi = atomic_load_explicit(&h->hi, memory_order_seq_cst);
    return hi < max ? hi : max;
}

/* Totals over the live readers plus the retired ones (no lock; exact when
 * the channel is quiet). min_cursor: the smallest cursor of an ACTIVE
 * entry (UINT64_MAX when none). */
typedef struct klaw__reg_totals {
    uint64_t received, lagged, min_cursor;
    uint32_t readers;
} klaw__reg_totals;
void klaw__reg_sum(const klaw__reg_hdr *h, const klaw__reg_ent *e, uint32_t max, klaw__reg_totals *out);

/* A snapshot (see klaw/registry.h). lock/unlock: the channel's lock, taken
 * only when the registry changes under 64 attempts in a row. view NULL:
 * read the shared records directly (tools; no RCU). Returns KLAW_OK,
 * KLAW_NOMEM, or KLAW_CORRUPT (a lock that cannot be taken). */
klaw_status klaw__reg_snapshot(klaw__reg_view *view, klaw__reg_hdr *h, klaw__reg_ent *e, uint32_t max,
                               klaw_status (*lock)(void *), void (*unlock)(void *), void *ctx,
                               klaw_reader_snapshot **out);

/* Frees the view's published set (after an RCU grace period). */
void klaw__reg_view_fini(klaw__reg_view *view);

#endif /* KLAW_SRC_REGISTRY_H */
