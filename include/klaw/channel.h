/*
 * klaw/channel.h - inspecting any channel by name, whatever its kind: its
 * kind, its ChannelMetadata record, its ChannelStats, its readers, and the
 * list of channels in /dev/shm. This is what the `klaw` tool's ls and stat
 * are made of.
 *
 * Inspection is an observer: it takes no sender or receiver handle,
 * registers no reader and changes no count or cursor (it may reap the
 * handles of dead processes, the maintenance every open does too). Opening
 * maps the region read/write (a waiter's futex words and the handle-table
 * lock live in it), so it needs the permission a sender would need.
 *
 * Another process's memory is untrusted input. Opening validates the
 * region's header (klaw_region_open), copies the metadata record out of the
 * region into the handle's own memory (so nothing a hostile writer does
 * later can change what was validated) and decodes it strictly with
 * klaw_record_schema(KLAW_RECORD_CHANNEL_METADATA): a region that does not
 * hold a well-formed, consistent record is KLAW_CORRUPT, never an
 * out-of-bounds read. The stats calls validate the kind's own layout the
 * same way before they read it. (One thing no check can catch: a process
 * that shrinks the shared-memory object after it was mapped makes the
 * kernel raise SIGBUS on the next access to the lost pages, as for any
 * mapped file.)
 *
 * Thread safety: a klaw_channel handle is used by one thread at a time;
 * different handles (of the same channel, too) may be used at once.
 *
 *   klaw_channel *ch;
 *   if (klaw_channel_open("orders", 100, &ch, NULL) == KLAW_OK) {
 *       const klaw_channel_metadata *m = klaw_channel_meta(ch);
 *       klaw_channel_stats s;
 *       if (klaw_channel_read_stats(ch, &s) == KLAW_OK)
 *           printf("%.*s: %lld of %lld\n", (int)m->name.len, m->name.ptr,
 *                  (long long)s.queue_size, (long long)s.capacity);
 *       klaw_channel_close(ch);
 *   }
 */
#ifndef KLAW_CHANNEL_H
#define KLAW_CHANNEL_H

#include <stddef.h>
#include <stdint.h>

#include "klaw/export.h"
#include "klaw/json.h"
#include "klaw/records.h"
#include "klaw/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The largest metadata record a channel may hold (the channels reserve
 * 2 KiB; more is KLAW_CORRUPT). */
#define KLAW_CHANNEL_META_MAX 65536u

typedef struct klaw_channel klaw_channel;

/* Opens the named channel (/dev/shm/klaw.<name>) for inspection. Waits up
 * to timeout_ms for a channel still being created (0: do not wait).
 * Returns KLAW_OK and *out (free with klaw_channel_close);
 *   KLAW_INVAL    a name that is not 1..200 characters of [A-Za-z0-9._-];
 *   KLAW_NOENT    no such channel;
 *   KLAW_PERM     not allowed to map it;
 *   KLAW_CORRUPT  not a klaw region, truncated, offsets that do not fit, a
 *                 creator that died before READY, a kind that is no
 *                 channel kind, no metadata record, a record that does not
 *                 decode as a ChannelMetadata or whose channel_type is not
 *                 the region's kind;
 *   KLAW_VERSION  another layout version or byte order;
 *   KLAW_TIMEOUT  still being created after timeout_ms;
 *   KLAW_NOMEM, KLAW_SYS.
 * When why is not NULL it gets a static, human-readable reason for a
 * KLAW_CORRUPT ("metadata record does not decode", ...), or for any other
 * failure klaw_strerror()'s text. */
KLAW_API klaw_status klaw_channel_open(const char *name, uint32_t timeout_ms, klaw_channel **out,
                                       const char **why);

/* Unmaps and frees. NULL is ignored. */
KLAW_API void klaw_channel_close(klaw_channel *ch);

/* The region's name (NUL-terminated, owned by ch). */
KLAW_API const char *klaw_channel_name(const klaw_channel *ch);

/* The channel's kind: a klaw_channel_type (KLAW_CHANNEL_MPMC = 1,
 * _BROADCAST = 2, _WATCH = 3, _ONESHOT = 4), the same number as the
 * region's kind (KLAW_KIND_MPMC, ...). */
KLAW_API klaw_channel_type klaw_channel_kind(const klaw_channel *ch);

/* klaw_channel_type_name(): see klaw/records.h. */

/* The decoded ChannelMetadata record. Its strings point into ch's copy of
 * the record: valid until klaw_channel_close(ch). Never NULL. */
KLAW_API const klaw_channel_metadata *klaw_channel_meta(const klaw_channel *ch);

/* The record's MessagePack bytes, exactly as the creator wrote them (ch's
 * copy; valid until close). */
KLAW_API klaw_mp_raw klaw_channel_meta_raw(const klaw_channel *ch);

/* Writes the metadata record as one compact JSON object (json.h's mapping:
 * created_at as RFC 3339 text) through fn. Returns KLAW_OK or fn's failure
 * status. */
KLAW_API klaw_status klaw_channel_meta_json(const klaw_channel *ch, klaw_json_write_fn fn, void *ctx);

/* A snapshot of the channel's ChannelStats, taken from the region now
 * (exact when the channel is quiet; counters move while frames do). The
 * common fields, per kind:
 *   mpmc       handles; queue_size = frames committed and not yet received
 *              (a frame being viewed counts until released); capacity the
 *              ring's; totals from the ring's positions
 *   broadcast  writers and registered readers; queue_size = retained frames
 *              the slowest reader has not released; receivers_closed is
 *              always false (anyone may subscribe); total_received summed
 *              over readers
 *   watch      queue_size, capacity, high_watermark 1 (there is always one
 *              current value); total_sent = values sent after the initial
 *              one (the version); total_received 0 (looks are not counted)
 *   oneshot    counts 0 or 1 (role held by a live process); queue_size 1
 *              while a sent value waits; totals 0 or 1
 * and backend_extras, a MessagePack map of the kind's own counters:
 *   mpmc       max_frame, aborted_claims, redelivered, reaped_handles
 *   broadcast  max_frame, policy ("overwrite" | "block"), lagged (positions
 *              readers missed, summed), aborted_claims, evicted
 *   watch      max_frame, version, value_len, slots, lagged_borrows,
 *              read_retries, reaped_handles
 *   oneshot    max_frame, value_len
 * (counters beyond INT64_MAX read as INT64_MAX). created_at is the
 * region's. backend_extras points into ch: valid until the next stats call
 * on ch or its close. Reaps dead processes' handles first (as the kind's
 * own stats do). Returns KLAW_OK; KLAW_CORRUPT when the kind's layout in
 * the region fails validation (also an in-process watch's region: its
 * values live in the creator's heap, nothing to inspect); KLAW_NOMEM. *out
 * is all zero on error. */
KLAW_API klaw_status klaw_channel_read_stats(klaw_channel *ch, klaw_channel_stats *out);

/* The registered readers, from the channel's reader registry: the records
 * of one registry version, live counters (last_seen_at, total_received)
 * folded in (klaw/registry.h). Fills out[0, min(cap, n)) and sets *n to how
 * many readers there are (cap 0 counts). Kinds without a registry (mpmc:
 * receivers compete and are anonymous; watch; oneshot) have none: *n = 0.
 * Strings point into ch: valid until the next readers call on ch or its
 * close. Dead readers are reaped first. Returns KLAW_OK, KLAW_CORRUPT,
 * KLAW_NOMEM. */
KLAW_API klaw_status klaw_channel_readers(klaw_channel *ch, klaw_reader_info *out, size_t cap, size_t *n);

/* How far behind each reader of the last klaw_channel_readers() call on ch
 * was, in frames: lag[i] is the number of positions between the writers'
 * tail and the next position out[i] will take, both read in that call -
 * frames it has yet to take (committed, or being written), and under
 * OVERWRITE those it will be told LAGGED about when it comes back. Fills
 * lag[0, min(cap, n)) and returns n, that call's reader count (0 before
 * any readers call, or for kinds without a registry). Never blocks; reads
 * only ch's copy. */
KLAW_API size_t klaw_channel_reader_lags(const klaw_channel *ch, uint64_t *lag, size_t cap);

/* Writes a record (klaw_channel_stats, klaw_reader_info, ... as `which`
 * says) as one compact JSON object through fn: the record's MessagePack
 * encoding (records.h) shown with json.h's mapping. Returns KLAW_OK, fn's
 * status, KLAW_INVAL (unknown record, or a value the encoder refuses),
 * KLAW_NOMEM. */
KLAW_API klaw_status klaw_record_json(klaw_record which, const void *rec, klaw_json_write_fn fn, void *ctx);

/* Calls fn(ctx, name) for each klaw channel in /dev/shm (the objects
 * named klaw.<name> with a valid name), in byte order of the names; the
 * name is valid during the call only. Nothing is opened: a listed name may
 * still turn out corrupt (or gone) when opened. fn returning anything but
 * KLAW_OK stops the walk, and that status is returned. Returns KLAW_OK,
 * KLAW_NOMEM, KLAW_SYS (cannot read /dev/shm; errno kept), or fn's status. */
typedef klaw_status (*klaw_channel_list_fn)(void *ctx, const char *name);
KLAW_API klaw_status klaw_channel_list(klaw_channel_list_fn fn, void *ctx);

#ifdef __cplusplus
}
#endif

#endif /* KLAW_CHANNEL_H */
