/*
 * klaw/registry.h - the reader registry of a broadcast channel, read as
 * immutable ReaderInfo records (DESIGN.md "Registries as immutable records").
 *
 * Every registered receiver has one entry in its channel's region: a record
 * written once when it registers (reader_id, node_id "host:pid",
 * registered_at) and a cache line of live counters only that receiver
 * stores to (its cursor, frames missed, last_seen_at). A snapshot folds the
 * live counters into copies of the records, so the result is a set of
 * klaw_reader_info values (klaw/records.h; encode one with
 * klaw_record_schema(KLAW_RECORD_READER_INFO) to get klaw-core's bytes).
 *
 * Consistency: registering and leaving publish a new version of the
 * registry (a generation word, odd while a record changes: a seqlock in
 * shared memory). A snapshot only returns records of one version: it never
 * mixes a record with another registration's fields, never lists a reader
 * twice, and its count is the number of readers registered at that version.
 * In one process the records last read are kept as an immutable set
 * published through liburcu (urcu-bp, no thread registration needed): a
 * snapshot while the registry is unchanged takes no lock and reads no
 * foreign record. Forking: the library registers urcu-bp's fork handlers
 * with pthread_atfork the first time a snapshot is taken.
 *
 * last_seen_at is refreshed by the receiver every KLAW_READER_SEEN_EVERY
 * frames it releases and whenever it parks (no clock read per frame), so
 * it may be up to that many frames old. total_received counts frames the
 * receiver took and released intact; frames it missed (LAGGED) are not in
 * it.
 *
 * Dead readers (their process is gone: pid + start time, klaw/region.h) are
 * removed by whoever next does maintenance on the channel (a parked writer
 * or reader every liveness period, an open, a stats call, a snapshot).
 */
#ifndef KLAW_REGISTRY_H
#define KLAW_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "klaw/export.h"
#include "klaw/records.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest reader_id (bytes, without the NUL) a receiver may register. */
#define KLAW_READER_ID_MAX 63u
/* Frames a receiver releases between two refreshes of last_seen_at. */
#define KLAW_READER_SEEN_EVERY 1024u

/* An immutable snapshot of a registry. One allocation: the records and the
 * bytes their klaw_str fields point to live inside it; nothing refers back
 * to the channel, so it may outlive the channel and be read from any
 * thread. Free it with klaw_reader_snapshot_free(). */
typedef struct klaw_reader_snapshot {
    uint64_t version;                /* the registry version it shows     */
    size_t count;                    /* readers registered at that version */
    const klaw_reader_info *readers; /* count records, in table order     */
    /* cursors[i]: the next position readers[i] will take (its live
     * counter, read with its record); the channel's tail minus it is how
     * far behind the reader is (klaw_channel_reader_lags()). */
    const uint64_t *cursors;
} klaw_reader_snapshot;

/* Frees a snapshot (NULL is ignored). */
KLAW_API void klaw_reader_snapshot_free(klaw_reader_snapshot *s);

/* The record of reader_id in s, or NULL when s has none by that name. */
KLAW_API const klaw_reader_info *klaw_reader_snapshot_find(const klaw_reader_snapshot *s, const char *reader_id);

#ifdef __cplusplus
}
#endif

#endif /* KLAW_REGISTRY_H */
