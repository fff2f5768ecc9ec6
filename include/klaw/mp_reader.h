/*
 * klaw/mp_reader.h - lazy MessagePack reader with Raw views.
 *
 * The reader pulls one value at a time from a buffer the caller owns. It
 * never allocates and never copies: str, bin and ext data come back as views
 * into the buffer, valid for as long as the buffer is. A whole subtree can be
 * skipped without decoding it (klaw_mp_skip) or taken as a Raw span to decode
 * later (klaw_mp_read_raw).
 *
 * Strict by default. The reader rejects, with KLAW_DECODE:
 *   - the never-used byte 0xc1;
 *   - truncated input (a header or data running past the end);
 *   - a timestamp (ext -1) whose length is not 4, 8 or 12, or whose
 *     nanoseconds exceed 999999999;
 *   - invalid UTF-8 in a str (unless KLAW_MP_TRUSTED_UTF8 is set);
 *   - nesting deeper than max_depth (default KLAW_MP_DEFAULT_MAX_DEPTH) in
 *     skip, read_raw and validate;
 *   - a declared length the remaining bytes cannot hold: str/bin/ext of n
 *     bytes needs n bytes, an array of n needs n bytes, a map of n pairs 2n
 *     bytes, so a 5-byte "array32 of 4 billion" fails at its header;
 *   - bytes left over where one whole value was expected
 *     (klaw_mp_reader_finish, klaw_mp_validate).
 * Reading a well-formed value of the wrong type (read_int on a str), or an
 * integer outside the asked range, gives KLAW_VALIDATE.
 *
 * Nesting is counted from where skip, read_raw or validate starts: a caller
 * that reads container headers by hand and then skips an element gives
 * that skip its own max_depth budget (track your own depth if you need a
 * limit over the whole buffer).
 *
 * Errors are sticky: after the first one every call returns the same status,
 * reads nothing and zeroes its outputs. The error (status, byte offset from
 * the start of the buffer, a static reason string, and the types involved)
 * stays in r->err (after a type error the position has already moved past
 * the value; err.offset points at the value's first byte). Formatting it is left to klaw_mp_error_format() so hot
 * paths never format.
 *
 * Thread safety: a reader is a plain value used by one thread at a time;
 * any number of readers may read the same buffer concurrently.
 */
#ifndef KLAW_MP_READER_H
#define KLAW_MP_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "klaw/export.h"
#include "klaw/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KLAW_MP_DEFAULT_MAX_DEPTH 1024u
/* The largest max_depth a reader accepts (a settable limit, not a cost:
 * skip and validate use 8 bytes of stack per level only beyond 64). */
#define KLAW_MP_MAX_DEPTH_LIMIT 4096u

/* Reader flags. */
enum {
    /* Do not validate UTF-8 in str values (input known to be good). */
    KLAW_MP_TRUSTED_UTF8 = 1u << 0,
};

typedef enum klaw_mp_type {
    KLAW_MP_NONE = 0, /* no value (end of input, or after an error) */
    KLAW_MP_NIL,
    KLAW_MP_BOOL,
    KLAW_MP_UINT, /* an integer >= 0, whatever its encoding              */
    KLAW_MP_INT,  /* an integer < 0                                       */
    KLAW_MP_FLOAT32,
    KLAW_MP_FLOAT64,
    KLAW_MP_STR,
    KLAW_MP_BIN,
    KLAW_MP_ARRAY,
    KLAW_MP_MAP,
    KLAW_MP_EXT,       /* any ext type except -1                              */
    KLAW_MP_TIMESTAMP, /* ext -1, validated                                   */
} klaw_mp_type;

/* One value's header, as klaw_mp_read() returns it. For str, bin, ext and
 * timestamp, `data` points at the len data bytes inside the buffer (already
 * consumed). For array (len elements) and map (len pairs) the elements
 * follow in the buffer and the caller reads or skips them next. */
typedef struct klaw_mp_item {
    klaw_mp_type type;
    int8_t ext_type;     /* EXT and TIMESTAMP (-1)                        */
    uint32_t len;        /* STR/BIN/EXT bytes, ARRAY elements, MAP pairs  */
    const uint8_t *data; /* STR, BIN, EXT, TIMESTAMP: the data bytes      */
    union {
        bool b;
        uint64_t u;  /* UINT */
        int64_t i;   /* INT (and UINT values <= INT64_MAX)                */
        float f;     /* FLOAT32 */
        double d;    /* FLOAT64 */
        struct {
            int64_t sec;
            uint32_t nsec;
        } ts;        /* TIMESTAMP */
    } v;
} klaw_mp_item;

/* A span of bytes inside the reader's buffer holding one MessagePack value
 * (or, from klaw_mp_read_rest, the unread tail). */
typedef struct klaw_mp_raw {
    const uint8_t *ptr;
    size_t len;
} klaw_mp_raw;

/* What went wrong, where. reason is a static string, never NULL once an
 * error is set. expected/got name types for KLAW_VALIDATE type errors. */
typedef struct klaw_mp_error {
    klaw_status status;
    size_t offset;       /* byte offset from the start of the buffer      */
    const char *reason;
    klaw_mp_type expected;
    klaw_mp_type got;
} klaw_mp_error;

typedef struct klaw_mp_reader {
    const uint8_t *start; /* buffer start (offsets count from here)       */
    const uint8_t *pos;   /* next unread byte                             */
    const uint8_t *end;   /* one past the last byte                       */
    uint32_t flags;
    uint32_t max_depth;
    klaw_mp_error err;
} klaw_mp_reader;

/* Starts a reader over buf[0, len); strict, max_depth 1024. */
KLAW_API void klaw_mp_reader_init(klaw_mp_reader *r, const void *buf, size_t len);

/* Sets KLAW_MP_* flags. */
KLAW_API void klaw_mp_reader_set_flags(klaw_mp_reader *r, uint32_t flags);

/* Sets the nesting limit used by skip, read_raw and validate: 1 ..
 * KLAW_MP_MAX_DEPTH_LIMIT (a scalar at top level is depth 0, the elements
 * of a top-level array depth 1). Returns KLAW_INVAL out of range. */
KLAW_API klaw_status klaw_mp_reader_set_max_depth(klaw_mp_reader *r, uint32_t max_depth);

/* The sticky status (KLAW_OK until an error). */
static inline klaw_status klaw_mp_reader_status(const klaw_mp_reader *r) { return r->err.status; }

/* Byte offset of the next unread byte. */
static inline size_t klaw_mp_reader_offset(const klaw_mp_reader *r) { return (size_t)(r->pos - r->start); }

/* Bytes not read yet. */
static inline size_t klaw_mp_reader_remaining(const klaw_mp_reader *r) { return (size_t)(r->end - r->pos); }

/* Reads one value's header (see klaw_mp_item). Returns KLAW_OK or
 * KLAW_DECODE; at end of input, KLAW_DECODE "unexpected end of input". */
KLAW_API klaw_status klaw_mp_read(klaw_mp_reader *r, klaw_mp_item *out);

/* The type of the next value without consuming it; KLAW_MP_NONE at end of
 * input or after an error (does not set an error itself). Timestamps are
 * reported as KLAW_MP_TIMESTAMP without validating them. */
KLAW_API klaw_mp_type klaw_mp_peek_type(const klaw_mp_reader *r);

/* Typed reads. Each consumes one value of the named type and returns
 * KLAW_OK; KLAW_DECODE for malformed bytes; KLAW_VALIDATE for another type
 * or a value outside the range (outputs are zeroed on error).
 *
 *   klaw_status klaw_mp_read_int(klaw_mp_reader *r, int64_t *out);
 *       any integer encoding whose value fits int64_t.
 *   klaw_status klaw_mp_read_uint(klaw_mp_reader *r, uint64_t *out);
 *       any integer encoding whose value is >= 0.
 *   klaw_status klaw_mp_read_double(klaw_mp_reader *r, double *out);
 *       float32 or float64 (widened); integers too, converted to the
 *       nearest double (as msgspec's strict float does).
 *   klaw_status klaw_mp_read_str(klaw_mp_reader *r, const char **s, uint32_t *len);
 *       a str as a view: *s points into the buffer, not NUL-terminated.
 *   klaw_status klaw_mp_read_array(klaw_mp_reader *r, uint32_t *count);
 *   klaw_status klaw_mp_read_map(klaw_mp_reader *r, uint32_t *count);
 *       array / map headers: *count elements / pairs follow.
 *
 * These six are static inline (defined at the end of this header) with an
 * out-of-line *_slow_ fallback, so reading a frame header costs no calls. */
KLAW_API klaw_status klaw_mp_read_nil(klaw_mp_reader *r);
KLAW_API klaw_status klaw_mp_read_bool(klaw_mp_reader *r, bool *out);
/* An integer within [min, max] (for narrower C types). */
KLAW_API klaw_status klaw_mp_read_int_range(klaw_mp_reader *r, int64_t min, int64_t max, int64_t *out);
/* An integer within [0, max]. */
KLAW_API klaw_status klaw_mp_read_uint_max(klaw_mp_reader *r, uint64_t max, uint64_t *out);
KLAW_API klaw_status klaw_mp_read_bin(klaw_mp_reader *r, const uint8_t **data, uint32_t *len);
/* An ext of any type (a timestamp too, after validation) as a view. */
KLAW_API klaw_status klaw_mp_read_ext(klaw_mp_reader *r, int8_t *type, const uint8_t **data, uint32_t *len);
KLAW_API klaw_status klaw_mp_read_timestamp(klaw_mp_reader *r, int64_t *sec, uint32_t *nsec);

/* Out-of-line fallbacks of the inline reads (not for direct use). */
KLAW_API klaw_status klaw_mp_read_int_slow_(klaw_mp_reader *r, int64_t *out);
KLAW_API klaw_status klaw_mp_read_uint_slow_(klaw_mp_reader *r, uint64_t *out);
KLAW_API klaw_status klaw_mp_read_double_slow_(klaw_mp_reader *r, double *out);
KLAW_API klaw_status klaw_mp_read_str_slow_(klaw_mp_reader *r, const char **s, uint32_t *len);
KLAW_API klaw_status klaw_mp_read_array_slow_(klaw_mp_reader *r, uint32_t *count);
KLAW_API klaw_status klaw_mp_read_map_slow_(klaw_mp_reader *r, uint32_t *count);

/* Passes one whole value (a scalar or a subtree) without building anything,
 * checking it as strictly as reading it would (UTF-8 included unless
 * trusted), nesting up to max_depth. */
KLAW_API klaw_status klaw_mp_skip(klaw_mp_reader *r);

/* Like skip, and returns the bytes of the value passed as a span. */
KLAW_API klaw_status klaw_mp_read_raw(klaw_mp_reader *r, klaw_mp_raw *out);

/* Takes everything not read yet as a span, in constant time, without
 * looking at it: for a value that is known to be the last one in its frame
 * (an envelope's payload), so a peek costs the same for a 64-byte and a
 * 1 MiB payload. The span is unchecked; decoding it later (with a reader and
 * klaw_mp_reader_finish, or klaw_mp_validate) checks it, trailing bytes
 * included. KLAW_DECODE if nothing is left. */
KLAW_API klaw_status klaw_mp_read_rest(klaw_mp_reader *r, klaw_mp_raw *out);

/* Checks that the whole buffer has been consumed: KLAW_DECODE "trailing
 * bytes" otherwise. Returns the sticky status. */
KLAW_API klaw_status klaw_mp_reader_finish(klaw_mp_reader *r);

/* Checks that buf[0, len) is exactly one well-formed value under the given
 * flags and nesting limit (0 means the default). On error fills *err (if not
 * NULL). */
KLAW_API klaw_status klaw_mp_validate(const void *buf, size_t len, uint32_t flags, uint32_t max_depth,
                                      klaw_mp_error *err);

/* A name for a type ("int", "str", ...). */
KLAW_API const char *klaw_mp_type_name(klaw_mp_type t);

/* Formats an error as "decode error at byte N: <reason>" (or "validation
 * error at byte N: expected int, got str") into buf; returns the length
 * snprintf would have written. */
KLAW_API int klaw_mp_error_format(const klaw_mp_error *err, char *buf, size_t size);

/* Validates UTF-8 (RFC 3629: no overlongs, no surrogates, <= U+10FFFF).
 * Returns len when valid, else the offset of the first bad byte. */
KLAW_API size_t klaw_utf8_check(const uint8_t *s, size_t len);


/* ---- inline fast paths ------------------------------------------------
 * The typed reads above that a frame header uses most are inline for the
 * common encodings (small ints, the 1..8-byte int forms, fixarray/fixmap,
 * fixstr/str8, float64), with every strict check they need; anything else,
 * and every error, goes to the out-of-line *_slow_ function, which checks
 * everything. The *_slow_ functions are not for direct use. */

static inline uint64_t klaw_mp_be_(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Width of the value after tags 0xcc..0xcf and 0xd0..0xd3. */
static inline int klaw_mp_int_width_(uint8_t c) { return 1 << (c & 3); }

static inline klaw_status klaw_mp_read_uint(klaw_mp_reader *r, uint64_t *out)
{
    if (KLAW_LIKELY(r->err.status == KLAW_OK && r->pos < r->end)) {
        uint8_t c = r->pos[0];
        if (c < 0x80) {
            *out = c;
            r->pos++;
            return KLAW_OK;
        }
        if (c >= 0xcc && c <= 0xcf) {
            int n = klaw_mp_int_width_(c);
            if (KLAW_LIKELY(r->end - r->pos > n)) {
                *out = klaw_mp_be_(r->pos + 1, n);
                r->pos += n + 1;
                return KLAW_OK;
            }
        }
    }
    return klaw_mp_read_uint_slow_(r, out);
}

static inline klaw_status klaw_mp_read_int(klaw_mp_reader *r, int64_t *out)
{
    if (KLAW_LIKELY(r->err.status == KLAW_OK && r->pos < r->end)) {
        uint8_t c = r->pos[0];
        if (c < 0x80 || c >= 0xe0) {
            *out = (int8_t)c;
            r->pos++;
            return KLAW_OK;
        }
        if (c >= 0xcc && c <= 0xd3 && c != 0xcf) {
            int n = klaw_mp_int_width_(c);
            if (KLAW_LIKELY(r->end - r->pos > n)) {
                uint64_t v = klaw_mp_be_(r->pos + 1, n);
                if (c >= 0xd0) {
                    /* sign-extend the n-byte two's complement value */
                    int sh = 64 - 8 * n;
                    *out = (int64_t)(v << sh) >> sh;
                } else {
                    *out = (int64_t)v;
                }
                r->pos += n + 1;
                return KLAW_OK;
            }
        }
    }
    return klaw_mp_read_int_slow_(r, out);
}

static inline klaw_status klaw_mp_read_array(klaw_mp_reader *r, uint32_t *count)
{
    if (KLAW_LIKELY(r->err.status == KLAW_OK && r->pos < r->end)) {
        uint8_t c = r->pos[0];
        uint32_t n = c & 0x0fu;
        /* each element needs at least one byte */
        if ((c & 0xf0) == 0x90 && (size_t)(r->end - r->pos) > n) {
            *count = n;
            r->pos++;
            return KLAW_OK;
        }
    }
    return klaw_mp_read_array_slow_(r, count);
}

static inline klaw_status klaw_mp_read_map(klaw_mp_reader *r, uint32_t *count)
{
    if (KLAW_LIKELY(r->err.status == KLAW_OK && r->pos < r->end)) {
        uint8_t c = r->pos[0];
        uint32_t n = c & 0x0fu;
        if ((c & 0xf0) == 0x80 && (size_t)(r->end - r->pos) > 2 * n) {
            *count = n;
            r->pos++;
            return KLAW_OK;
        }
    }
    return klaw_mp_read_map_slow_(r, count);
}

static inline klaw_status klaw_mp_read_str(klaw_mp_reader *r, const char **s, uint32_t *len)
{
    if (KLAW_LIKELY(r->err.status == KLAW_OK && r->pos < r->end)) {
        uint8_t c = r->pos[0];
        size_t hdr, n, avail = (size_t)(r->end - r->pos);
        if ((c & 0xe0) == 0xa0) {
            hdr = 1;
            n = c & 0x1fu;
        } else if (c == 0xd9 && avail >= 2) {
            hdr = 2;
            n = r->pos[1];
        } else {
            return klaw_mp_read_str_slow_(r, s, len);
        }
        if (KLAW_LIKELY(n <= avail - hdr)) {
            const uint8_t *d = r->pos + hdr;
            uint8_t hi = 0;
            if (!(r->flags & KLAW_MP_TRUSTED_UTF8))
                for (size_t i = 0; i < n; i++)
                    hi |= d[i];
            /* only pure ASCII (or trusted) is accepted inline */
            if (KLAW_LIKELY(hi < 0x80)) {
                *s = (const char *)d;
                *len = (uint32_t)n;
                r->pos = d + n;
                return KLAW_OK;
            }
        }
    }
    return klaw_mp_read_str_slow_(r, s, len);
}

static inline klaw_status klaw_mp_read_double(klaw_mp_reader *r, double *out)
{
    if (KLAW_LIKELY(r->err.status == KLAW_OK && r->end - r->pos >= 9 && r->pos[0] == 0xcb)) {
        uint64_t bits = klaw_mp_be_(r->pos + 1, 8);
        double d;
        memcpy(&d, &bits, sizeof d);
        *out = d;
        r->pos += 9;
        return KLAW_OK;
    }
    return klaw_mp_read_double_slow_(r, out);
}

#ifdef __cplusplus
}
#endif

#endif /* KLAW_MP_READER_H */
