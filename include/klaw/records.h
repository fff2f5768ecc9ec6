/*
 * klaw/records.h - klaw-core's records as compiled schemas: ChannelMetadata,
 * ReaderInfo, ChannelStats, SingleResult and BatchResult.
 *
 * Each is a C struct plus a schema (klaw/schema.h) in msgspec's default map
 * form, with klaw-core's field names and order, so a Python process using
 * klaw-core's msgspec Structs and a C process using these read each other's
 * bytes, and encoding a value klaw-core produced gives back the very same
 * bytes (tests/test_records.c checks this against python3-msgpack).
 *
 *   ChannelMetadata  channel_type ("mpmc" | "broadcast" | "watch" |
 *                    "oneshot"), capacity (int | None), unbounded,
 *                    value_type (str | None = None) - klaw-core's fields -
 *                    then klaw's own, each with a default and left out of
 *                    the encoding while it has that default (so klaw-core's
 *                    own records come back byte for byte; msgspec ignores
 *                    keys it does not know when decoding ours): max_frame,
 *                    policy ("overwrite" | "block"), name, created_at (a
 *                    timestamp), creator ("host:pid").
 *   ReaderInfo       reader_id, node_id ("host:pid"), registered_at,
 *                    last_seen_at (timestamps), total_received.
 *   ChannelStats     sender_count, receiver_count, queue_size, capacity
 *                    (int | None), senders_closed, receivers_closed,
 *                    created_at, high_watermark, total_sent, total_received,
 *                    backend_extras (dict | None = None, kept as a Raw map:
 *                    klaw puts lagged, aborted_claims and redelivered there).
 *   SingleResult     status, value (any value, Raw; None by default).
 *   BatchResult      status, items (an array of Raw values; () by default).
 *
 * The schemas are compiled once, on first use, and are immutable after
 * (thread-safe). Strings decode as views into the frame.
 */
#ifndef KLAW_RECORDS_H
#define KLAW_RECORDS_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "klaw/export.h"
#include "klaw/mp_reader.h"
#include "klaw/schema.h"
#include "klaw/status.h"
#include "klaw/str.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum klaw_channel_type {
    KLAW_CHANNEL_MPMC = 1,
    KLAW_CHANNEL_BROADCAST,
    KLAW_CHANNEL_WATCH,
    KLAW_CHANNEL_ONESHOT,
} klaw_channel_type;

/* "mpmc", "broadcast", "watch", "oneshot" (ChannelMetadata's wire names,
 * from the one table records.c encodes with); "unknown" for anything else. */
KLAW_API const char *klaw_channel_type_name(int type);

typedef enum klaw_policy {
    KLAW_POLICY_NONE = 0, /* not a broadcast                               */
    KLAW_POLICY_OVERWRITE,
    KLAW_POLICY_BLOCK,
} klaw_policy;

typedef struct klaw_channel_metadata {
    int channel_type;      /* klaw_channel_type                             */
    int64_t capacity;
    bool has_capacity;     /* false: None (unbounded channels)              */
    bool unbounded;
    bool has_value_type;   /* false: None                                   */
    klaw_str value_type;
    /* klaw's own, defaults in brackets */
    uint32_t max_frame;    /* [0]                                           */
    int policy;            /* klaw_policy [NONE]                            */
    klaw_str name;         /* [""]                                          */
    struct timespec created_at; /* [0]                                      */
    klaw_str creator;      /* [""] "host:pid"                               */
} klaw_channel_metadata;

typedef struct klaw_reader_info {
    klaw_str reader_id;
    klaw_str node_id;
    struct timespec registered_at;
    struct timespec last_seen_at;
    int64_t total_received;
} klaw_reader_info;

typedef struct klaw_channel_stats {
    int64_t sender_count;
    int64_t receiver_count;
    int64_t queue_size;
    int64_t capacity;
    bool has_capacity;
    bool senders_closed;
    bool receivers_closed;
    struct timespec created_at;
    int64_t high_watermark;
    int64_t total_sent;
    int64_t total_received;
    klaw_mp_raw backend_extras; /* a map, or empty: None               */
} klaw_channel_stats;

typedef struct klaw_single_result {
    klaw_str status;
    klaw_mp_raw value; /* one value; empty: None                        */
} klaw_single_result;

typedef struct klaw_batch_result {
    klaw_str status;
    klaw_array items; /* klaw_mp_raw items, in the arena                */
} klaw_batch_result;

typedef enum klaw_record {
    KLAW_RECORD_CHANNEL_METADATA = 0,
    KLAW_RECORD_READER_INFO,
    KLAW_RECORD_CHANNEL_STATS,
    KLAW_RECORD_SINGLE_RESULT,
    KLAW_RECORD_BATCH_RESULT,
    KLAW_RECORD_COUNT_
} klaw_record;

/* The compiled schema of a record (compiled on first use; NULL only if
 * that failed, which a test rules out, or for an unknown record). */
KLAW_API const klaw_schema *klaw_record_schema(klaw_record which);

/* The record's name as klaw-core spells it ("ChannelMetadata"). */
KLAW_API const char *klaw_record_name(klaw_record which);

#ifdef __cplusplus
}
#endif

#endif /* KLAW_RECORDS_H */
