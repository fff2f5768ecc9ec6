/*
 * klaw/envelope.h - the wire envelope: klaw-core's wire v1, byte for byte.
 *
 * ---- The wire ------------------------------------------------------------
 *
 * klaw-core (Python, msgspec) frames every message as an array_like tagged
 * struct: a MessagePack array whose first element is the tag and whose
 * second is the header, itself an array:
 *
 *   header       [version, kind, channel_id, seq, ts_ms]
 *   DataMessage  [1, header, payload]
 *   ControlMsg   [2, header, action, metadata]
 *   Heartbeat    [3, header, sender_id]
 *   Ack          [4, header, acked_seq, status]
 *   WireError    [5, header, code, message, details]
 *
 *   version      int, KLAW_WIRE_VERSION (1) today; carried, never judged:
 *                klaw-core does not check it, nor does the view (compare
 *                header.version yourself if a frame of another version
 *                must be refused)
 *   kind         int, 1..5, the same number as the tag
 *   channel_id   str  (klaw-core's WireHeader.channel_id is a str; DESIGN.md
 *                     once showed an int - byte compatibility with klaw-core
 *                     wins, so it is a str here)
 *   seq, acked_seq  int >= 0 (C: uint64_t)
 *   ts_ms        int, Unix time in milliseconds (klaw-core's field `ts`;
 *                C: int64_t)
 *   action, sender_id, status, code, message   str
 *   payload, metadata, details   Raw: exactly one MessagePack value of any
 *                type, carried as its bytes (nil, 0xc0, when absent)
 *
 * Writing, klaw does what msgspec does: every field is written, in order,
 * defaults included; integers and headers in their smallest encoding, str
 * with str8 for 32..255 bytes; Raw bytes copied verbatim. So klaw's frames
 * are byte-identical to klaw-core's for the same values
 * (tests/envelope_interop.py checks this against python-msgpack laying the
 * arrays out as msgspec does).
 *
 * Reading, klaw accepts what msgspec accepts, and a little less:
 *   - Trailing fields that have defaults may be absent, as msgspec allows:
 *     [3, header] is a Heartbeat with sender_id "", and a header
 *     [1, 1, "c"] has seq 0 and ts_ms 0. Defaults: version 1, kind 1,
 *     channel_id "", seq 0, ts_ms 0, metadata/details nil, sender_id "",
 *     acked_seq 0, status "ok", code "", message "". The fields without a
 *     default are required: DataMessage needs 3 elements (tag, header,
 *     payload), ControlMessage 3 (.. action), the others 2; even the whole
 *     header may be [] (all defaults).
 *   - Extra trailing elements, in the envelope or in the header, are
 *     ignored as msgspec ignores them (no forbid_unknown_fields in
 *     klaw-core) - but they must still be well-formed MessagePack.
 *   - Stricter than klaw-core: the tag and header.kind must agree (klaw-core
 *     never checked; an envelope whose kind is absent has kind 1, so [3, []]
 *     is refused); integers must fit their C types (version uint32, seq and
 *     acked_seq uint64, ts_ms int64) where Python would take any int; the
 *     MessagePack itself is read as strictly as klaw_mp_reader reads it
 *     (UTF-8 in every str, inside Raw values too, no 0xc1, ...).
 * A default str points at static storage ("" or "ok"), not into the frame;
 * a default Raw points at a static 0xc0 byte.
 *
 * ---- Views and their cost --------------------------------------------------
 *
 * klaw_envelope_view() reads the tag, the header and every field in place:
 * strs become klaw_str views and Raw fields klaw_mp_raw spans into the
 * frame; nothing is copied or allocated. A DataMessage's payload is its
 * last element, so when the frame holds exactly [1, header, payload] the
 * view takes everything after the header as the payload span without
 * looking at it (klaw_mp_read_rest): the view costs the same for a 64-byte
 * and a 1 MiB payload. That span is unchecked - it may be malformed or be
 * followed by trailing bytes; klaw_envelope_validate(), or decoding the
 * payload later with a reader and klaw_mp_reader_finish(), checks it.
 * Every other part of every frame is checked by the view itself, trailing
 * bytes included. (A DataMessage with extra elements after the payload has
 * to be walked to find the payload's end, so it costs time in proportion
 * to the payload; klaw's and klaw-core's writers never produce one.)
 *
 * ---- Errors ----------------------------------------------------------------
 *
 * Malformed MessagePack gives KLAW_DECODE with the byte offset and the
 * reader's reason ("invalid byte 0xc1"). Well-formed bytes of the wrong
 * shape give KLAW_VALIDATE with the byte offset of the value at fault, a
 * message worded as msgspec words it, and a path. Paths are msgspec's own
 * for array_like structs: array indices from the envelope, `$` the
 * envelope, `$[0]` the tag, `$[1]` the header, `$[1][2]` the header's
 * channel_id, `$[2]` a DataMessage's payload. So klaw and klaw-core report
 * the same path for the same frame. The messages:
 *
 *   Expected `array`, got `object`              (wrong type; msgspec's names:
 *                                                int str array object null
 *                                                bool float bytes ext datetime)
 *   Expected `array` of at least length 3, got 2   (required field missing)
 *   Invalid value 6                             (unknown tag, at `$[0]`)
 *   Invalid enum value 9                        (kind outside 1..5)
 *   Expected `int` >= 0                         (negative seq / acked_seq /
 *                                                version)
 *   Expected `int` <= 4294967295                (version too big; ts_ms >
 *                                                INT64_MAX)
 *   Header kind 2 (control) does not match tag 1 (data)   (at `$[1][1]`,
 *                                                or `$[1]` when kind is absent)
 *
 * Nothing here prints; klaw_envelope_error_format() makes the text. Errors
 * are detected in msgspec's order (array, tag, length, fields in order),
 * so the first fault is the one reported.
 *
 * Thread safety: every function is reentrant and keeps no state; views are
 * plain values. A view is valid as long as the frame's bytes are.
 */
#ifndef KLAW_ENVELOPE_H
#define KLAW_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "klaw/export.h"
#include "klaw/json.h"
#include "klaw/mp_reader.h"
#include "klaw/mp_writer.h"
#include "klaw/status.h"
#include "klaw/str.h"

#ifdef __cplusplus
extern "C" {
#endif

/* klaw-core's WIRE_SCHEMA_VERSION. */
#define KLAW_WIRE_VERSION 1u

/* The message types; each is both the envelope's tag and header.kind
 * (klaw-core's MessageKind). */
typedef enum klaw_envelope_type {
    KLAW_ENV_DATA = 1,
    KLAW_ENV_CONTROL = 2,
    KLAW_ENV_HEARTBEAT = 3,
    KLAW_ENV_ACK = 4,
    KLAW_ENV_ERROR = 5,
} klaw_envelope_type;

/* WireHeader. When writing, kind may be 0: the writer puts the message's
 * own type there (any other kind that is not the message's type is
 * KLAW_INVAL). version is written as given: set it to KLAW_WIRE_VERSION
 * (klaw_envelope_header_make() does). */
typedef struct klaw_envelope_header {
    uint32_t version;
    klaw_envelope_type kind;
    klaw_str channel_id;
    uint64_t seq;
    int64_t ts_ms; /* Unix time, milliseconds (klaw-core's `ts`) */
} klaw_envelope_header;

/* The per-type fields. */
typedef struct klaw_envelope_data {
    klaw_mp_raw payload; /* view: unchecked, the rest of the frame (see top) */
} klaw_envelope_data;

typedef struct klaw_envelope_control {
    klaw_str action;
    klaw_mp_raw metadata; /* one valid value; nil when absent */
} klaw_envelope_control;

typedef struct klaw_envelope_heartbeat {
    klaw_str sender_id;
} klaw_envelope_heartbeat;

typedef struct klaw_envelope_ack {
    uint64_t acked_seq;
    klaw_str status;
} klaw_envelope_ack;

typedef struct klaw_envelope_error_msg {
    klaw_str code;
    klaw_str message;
    klaw_mp_raw details; /* one valid value; nil when absent */
} klaw_envelope_error_msg;

/* One envelope, viewed in place. Only the member of the union that `type`
 * names is set. All strs and spans point into the frame (or at static
 * defaults, see top); nothing is owned. */
typedef struct klaw_envelope {
    klaw_envelope_type type;
    klaw_envelope_header header;
    union {
        klaw_envelope_data data;
        klaw_envelope_control control;
        klaw_envelope_heartbeat heartbeat;
        klaw_envelope_ack ack;
        klaw_envelope_error_msg error;
    };
    /* Where byte offsets count from: the frame for view/validate, the
     * reader's buffer for klaw_envelope_read(). klaw_envelope_to_json()
     * reports offsets from here. */
    const uint8_t *origin;
} klaw_envelope;

/* What went wrong (see "Errors" at the top). */
typedef enum klaw_envelope_fault {
    KLAW_ENV_FAULT_NONE = 0,
    KLAW_ENV_FAULT_READER,    /* the reader's error (DECODE, or a VALIDATE of the
                                 JSON layer): its reason, as it gives it          */
    KLAW_ENV_FAULT_TYPE,      /* Expected `<expected>`, got `<got>`               */
    KLAW_ENV_FAULT_TOO_SHORT, /* Expected `array` of at least length <limit>,
                                 got <value>                                      */
    KLAW_ENV_FAULT_TAG,       /* Invalid value <value>                            */
    KLAW_ENV_FAULT_KIND,      /* Invalid enum value <value>                       */
    KLAW_ENV_FAULT_MIN,       /* Expected `int` >= <limit>                        */
    KLAW_ENV_FAULT_MAX,       /* Expected `int` <= <limit>                        */
    KLAW_ENV_FAULT_MISMATCH,  /* Header kind <value> does not match tag <limit>   */
    KLAW_ENV_FAULT_OUTPUT,    /* klaw_envelope_to_json(): the write callback
                                 failed; status is what it returned               */
} klaw_envelope_fault;

typedef struct klaw_envelope_error {
    klaw_status status;        /* KLAW_OK, KLAW_DECODE, KLAW_VALIDATE, or the
                                  callback's status (FAULT_OUTPUT)              */
    klaw_envelope_fault fault;
    size_t offset;             /* first byte of the value at fault, from the
                                  frame's start (from the reader's buffer's
                                  start for klaw_envelope_read)                 */
    const char *reason;        /* static, never NULL once set: the reader's
                                  reason, or a short name of the fault          */
    uint32_t depth;            /* path length: 0 `$`, 1 `$[a]`, 2 `$[a][b]`     */
    uint32_t path[2];
    klaw_mp_type expected;     /* FAULT_TYPE (UINT stands for `int`)            */
    klaw_mp_type got;
    bool negative;             /* the offending integer is -value               */
    uint64_t value;            /* TAG, KIND, MISMATCH: the integer found (its
                                  magnitude); TOO_SHORT: the array's length     */
    uint64_t limit;            /* TOO_SHORT: the length needed; MIN, MAX: the
                                  bound; MISMATCH: the tag                      */
} klaw_envelope_error;

/* ---- reading -------------------------------------------------------------- */

/* Views the envelope that is the whole of frame[0, len): tag, header and
 * every field, in place. A DataMessage of exactly 3 elements takes the
 * payload as the unchecked rest of the frame, in constant time (see top);
 * everything else is checked, trailing bytes included.
 * Returns KLAW_OK and fills *out; KLAW_DECODE (malformed) or KLAW_VALIDATE
 * (wrong shape) and fills *err (if not NULL), *out is then unspecified.
 * On success err->status is KLAW_OK and err->fault KLAW_ENV_FAULT_NONE (its
 * other members are then unspecified). Does not allocate. Cost: about
 * 30 ns for a typical header, whatever the payload's size. */
KLAW_API klaw_status klaw_envelope_view(const void *frame, size_t len, klaw_envelope *out,
                                        klaw_envelope_error *err);

/* Like klaw_envelope_view(), and checks the whole frame strictly: the
 * payload is exactly one valid MessagePack value and nothing follows the
 * envelope. Costs time in proportion to the frame. out may be NULL. */
KLAW_API klaw_status klaw_envelope_validate(const void *frame, size_t len, klaw_envelope *out,
                                            klaw_envelope_error *err);

/* Reads one envelope at r's position, strictly (as validate does, payload
 * included), and leaves r just past it: for a sequence of envelopes (klaw
 * decode --envelope --stream). Trailing bytes are not its business.
 * Offsets in *err and out->origin count from r's buffer's start. On error
 * the reader's own state is unspecified (its sticky error may or may not be
 * set); use *err. */
KLAW_API klaw_status klaw_envelope_read(klaw_mp_reader *r, klaw_envelope *out, klaw_envelope_error *err);

/* ---- writing ---------------------------------------------------------------
 *
 * The writers append to w and, like the MessagePack writer, keep errors
 * sticky in w: check klaw_mp_writer_finish() once at the end. Each writes
 * every field (msgspec's layout, see top); nothing is checked but the kind:
 * strs are written as given (valid UTF-8 is the caller's duty) and Raw
 * spans are copied verbatim (exactly one valid MessagePack value is the
 * caller's duty). A Raw span with len 0 means absent and is written as nil.
 * A str argument may be NULL when its length is 0. h->kind must be 0 or the
 * message's own type, else w records KLAW_INVAL. */

/* A header for writing: version KLAW_WIRE_VERSION, kind 0 (the message's). */
static inline klaw_envelope_header klaw_envelope_header_make(const char *channel_id, uint32_t channel_len,
                                                             uint64_t seq, int64_t ts_ms)
{
    klaw_envelope_header h;
    h.version = KLAW_WIRE_VERSION;
    h.kind = (klaw_envelope_type)0;
    h.channel_id.ptr = channel_id;
    h.channel_id.len = channel_len;
    h.seq = seq;
    h.ts_ms = ts_ms;
    return h;
}

/* Writes `[1, header, ` - the 3-element array header, the tag and the
 * header - and nothing more: the caller then writes the payload straight
 * into w, exactly one MessagePack value, and the frame is complete. No
 * intermediate copy of the payload is ever made. */
KLAW_API void klaw_envelope_begin_data(klaw_mp_writer *w, const klaw_envelope_header *h);

/* A whole DataMessage whose payload is already encoded (copied; len 0:
 * nil). */
KLAW_API void klaw_envelope_write_data(klaw_mp_writer *w, const klaw_envelope_header *h, klaw_mp_raw payload);

KLAW_API void klaw_envelope_write_control(klaw_mp_writer *w, const klaw_envelope_header *h, const char *action,
                                          size_t action_len, klaw_mp_raw metadata);

KLAW_API void klaw_envelope_write_heartbeat(klaw_mp_writer *w, const klaw_envelope_header *h,
                                            const char *sender_id, size_t sender_id_len);

KLAW_API void klaw_envelope_write_ack(klaw_mp_writer *w, const klaw_envelope_header *h, uint64_t acked_seq,
                                      const char *status, size_t status_len);

KLAW_API void klaw_envelope_write_error(klaw_mp_writer *w, const klaw_envelope_header *h, const char *code,
                                        size_t code_len, const char *message, size_t message_len,
                                        klaw_mp_raw details);

/* Writes a viewed envelope back, every field present: the bytes klaw-core
 * would write for the same values (a frame with absent defaults or extra
 * elements comes back in the full form). env->type out of 1..5 records
 * KLAW_INVAL. */
KLAW_API void klaw_envelope_write(klaw_mp_writer *w, const klaw_envelope *env);

/* ---- JSON and messages ------------------------------------------------------ */

/* Writes env as one line-less JSON object with named fields, compact:
 *
 *   {"type":"data","header":{"version":1,"kind":1,"channel_id":"c","seq":5,
 *    "ts_ms":1700000000000},"payload":<payload as JSON>}
 *
 * type is "data", "control", "heartbeat", "ack" or "error"; the other
 * fields are "action","metadata" / "sender_id" / "acked_seq","status" /
 * "code","message","details", in wire order. Raw fields go through
 * klaw_json_from_mp() (json.h's mapping), and are checked as they go: a
 * malformed payload (possible after klaw_envelope_view()) gives KLAW_DECODE
 * in *err, offsets from env->origin, path `$[2]` etc. Text reaches fn in
 * pieces; on error part of it may have been written (buffer it if that
 * matters). Returns KLAW_OK, KLAW_DECODE, KLAW_VALIDATE (map keys nested
 * too deep for JSON), fn's failure (fault KLAW_ENV_FAULT_OUTPUT), or
 * KLAW_INVAL when env->type is not 1..5. A Raw span of len 0 (the writers'
 * "absent") is written as null. */
KLAW_API klaw_status klaw_envelope_to_json(const klaw_envelope *env, klaw_json_write_fn fn, void *ctx,
                                           klaw_envelope_error *err);

/* A name for a type: "data", "control", "heartbeat", "ack", "error";
 * "unknown" otherwise. */
KLAW_API const char *klaw_envelope_type_name(klaw_envelope_type t);

/* Formats err as the klaw tool prints it:
 *   "decode error at byte N: <reason>"
 *   "validation error at byte N: <message> - at `<path>`"
 *   "<klaw_strerror(status)>" for an output failure.
 * Returns what snprintf returns. */
KLAW_API int klaw_envelope_error_format(const klaw_envelope_error *err, char *buf, size_t size);

/* Writes err's path ("$", "$[0]", "$[1][4]") into buf; returns what
 * snprintf returns. */
KLAW_API int klaw_envelope_error_path(const klaw_envelope_error *err, char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* KLAW_ENVELOPE_H */
