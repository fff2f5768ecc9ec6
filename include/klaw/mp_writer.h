/*
 * klaw/mp_writer.h - MessagePack writer into a caller's fixed buffer.
 *
 * The writer encodes straight into memory the caller owns (typically a
 * claimed ring slot) and never allocates. Every value is written in its
 * smallest encoding (integers, str/bin/array/map/ext headers, timestamps).
 *
 * Errors are sticky, in the style of mpack: the caller writes a whole value
 * and checks klaw_mp_writer_finish() (or w->status) once at the end.
 *
 *   - When a write does not fit, the writer records KLAW_TOOBIG, writes
 *     nothing of that or any later value past the buffer (no byte at or
 *     beyond buf + cap is ever touched), and keeps counting: after the last
 *     write, klaw_mp_writer_needed() is the number of bytes the whole
 *     encoding needs, so the caller can retry with a big enough buffer.
 *   - An argument outside MessagePack's domain (a str longer than 2^32-1,
 *     timestamp nanoseconds > 999999999) records KLAW_INVAL.
 *   - After the first error, later writes do nothing to the buffer.
 *
 * Thread safety: a writer is a plain value; one thread uses it at a time.
 *
 * Reserve and patch: a length prefix or a count that is only known after
 * the content is written (klaw_mp_reserve_array() ... klaw_mp_patch_array())
 * takes the fixed-width 32-bit form of that header, which every MessagePack
 * reader accepts; klaw_mp_reserve() reserves raw bytes for anything else.
 *
 * The hot functions are static inline; only the overflow path is out of line.
 */
#ifndef KLAW_MP_WRITER_H
#define KLAW_MP_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "klaw/export.h"
#include "klaw/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct klaw_mp_writer {
    uint8_t *buf;       /* start of the caller's buffer                    */
    size_t cap;         /* its size in bytes                               */
    size_t pos;         /* bytes written; after TOOBIG, bytes needed       */
    klaw_status status; /* KLAW_OK, KLAW_TOOBIG or KLAW_INVAL (sticky)     */
} klaw_mp_writer;

/* A place reserved by klaw_mp_reserve*(), to patch later. */
typedef struct klaw_mp_mark {
    size_t pos;
    size_t len;
} klaw_mp_mark;

/* Starts a writer over buf[0, cap). buf may be NULL (cap is then ignored):
 * a measuring writer, born in KLAW_TOOBIG, so every write only counts and
 * needed() gives the size (and no write ever offsets the NULL pointer). */
static inline void klaw_mp_writer_init(klaw_mp_writer *w, void *buf, size_t cap)
{
    w->buf = (uint8_t *)buf;
    w->cap = buf ? cap : 0;
    w->pos = 0;
    w->status = buf ? KLAW_OK : KLAW_TOOBIG;
}

/* Out of line: records overflow and advances the byte count. Returns NULL.
 * Not for direct use. */
KLAW_API uint8_t *klaw_mp_writer_overflow_(klaw_mp_writer *w, size_t n);
/* Out of line: records KLAW_INVAL (keeps an earlier error). */
KLAW_API void klaw_mp_writer_inval_(klaw_mp_writer *w);

/* Returns a pointer to n writable bytes and advances, or NULL when the
 * writer has failed or the bytes do not fit (then the error is recorded). */
static inline uint8_t *klaw_mp_writer_take_(klaw_mp_writer *w, size_t n)
{
    if (KLAW_LIKELY(w->status == KLAW_OK && n <= w->cap - w->pos)) {
        uint8_t *p = w->buf + w->pos;
        w->pos += n;
        return p;
    }
    return klaw_mp_writer_overflow_(w, n);
}

static inline void klaw_mp_put16_(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void klaw_mp_put32_(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline void klaw_mp_put64_(uint8_t *p, uint64_t v)
{
    klaw_mp_put32_(p, (uint32_t)(v >> 32));
    klaw_mp_put32_(p + 4, (uint32_t)v);
}

/* Writes a one-byte tag followed by an n-byte big-endian value. */
static inline void klaw_mp_write_tagged_(klaw_mp_writer *w, uint8_t tag, uint64_t v, int n)
{
    uint8_t *p = klaw_mp_writer_take_(w, (size_t)n + 1);
    if (!p)
        return;
    p[0] = tag;
    switch (n) {
    case 0: break;
    case 1: p[1] = (uint8_t)v; break;
    case 2: klaw_mp_put16_(p + 1, (uint16_t)v); break;
    case 4: klaw_mp_put32_(p + 1, (uint32_t)v); break;
    default: klaw_mp_put64_(p + 1, v); break;
    }
}

/* Bytes written so far (valid when status is KLAW_OK). */
static inline size_t klaw_mp_writer_len(const klaw_mp_writer *w) { return w->pos; }

/* Bytes the whole encoding needs: after KLAW_TOOBIG, the buffer size that
 * would have been enough for everything written so far. */
static inline size_t klaw_mp_writer_needed(const klaw_mp_writer *w) { return w->pos; }

/* The sticky status; on KLAW_OK, *len (if not NULL) is the encoded size. */
static inline klaw_status klaw_mp_writer_finish(const klaw_mp_writer *w, size_t *len)
{
    if (len)
        *len = w->pos;
    return w->status;
}

static inline void klaw_mp_write_nil(klaw_mp_writer *w) { klaw_mp_write_tagged_(w, 0xc0, 0, 0); }

static inline void klaw_mp_write_bool(klaw_mp_writer *w, bool b)
{
    klaw_mp_write_tagged_(w, b ? 0xc3 : 0xc2, 0, 0);
}

/* Any unsigned integer, smallest encoding. */
static inline void klaw_mp_write_uint(klaw_mp_writer *w, uint64_t v)
{
    if (v < 128) {
        uint8_t *p = klaw_mp_writer_take_(w, 1);
        if (p)
            p[0] = (uint8_t)v;
    } else if (v <= UINT8_MAX) {
        klaw_mp_write_tagged_(w, 0xcc, v, 1);
    } else if (v <= UINT16_MAX) {
        klaw_mp_write_tagged_(w, 0xcd, v, 2);
    } else if (v <= UINT32_MAX) {
        klaw_mp_write_tagged_(w, 0xce, v, 4);
    } else {
        klaw_mp_write_tagged_(w, 0xcf, v, 8);
    }
}

/* Any signed integer, smallest encoding (non-negative values use the
 * unsigned forms, as msgpack-c, msgspec and python-msgpack do). */
static inline void klaw_mp_write_int(klaw_mp_writer *w, int64_t v)
{
    if (v >= 0) {
        klaw_mp_write_uint(w, (uint64_t)v);
    } else if (v >= -32) {
        uint8_t *p = klaw_mp_writer_take_(w, 1);
        if (p)
            p[0] = (uint8_t)(int8_t)v;
    } else if (v >= INT8_MIN) {
        klaw_mp_write_tagged_(w, 0xd0, (uint64_t)v, 1);
    } else if (v >= INT16_MIN) {
        klaw_mp_write_tagged_(w, 0xd1, (uint64_t)v, 2);
    } else if (v >= INT32_MIN) {
        klaw_mp_write_tagged_(w, 0xd2, (uint64_t)v, 4);
    } else {
        klaw_mp_write_tagged_(w, 0xd3, (uint64_t)v, 8);
    }
}

/* float32 (0xca). */
static inline void klaw_mp_write_float(klaw_mp_writer *w, float f)
{
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    klaw_mp_write_tagged_(w, 0xca, bits, 4);
}

/* float64 (0xcb). */
static inline void klaw_mp_write_double(klaw_mp_writer *w, double d)
{
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    klaw_mp_write_tagged_(w, 0xcb, bits, 8);
}

/* Writes a header: fix form when n < fixmax, else the 8/16/32-bit forms
 * starting at tag8 (tag8 == 0 means there is no 8-bit form). */
static inline void klaw_mp_write_header_(klaw_mp_writer *w, uint8_t fix, uint32_t fixmax,
                                         uint8_t tag8, uint8_t tag16, uint8_t tag32, size_t n)
{
    if (KLAW_UNLIKELY(n > UINT32_MAX)) {
        klaw_mp_writer_inval_(w);
    } else if (n < fixmax) {
        klaw_mp_write_tagged_(w, (uint8_t)(fix | n), 0, 0);
    } else if (tag8 && n <= UINT8_MAX) {
        klaw_mp_write_tagged_(w, tag8, n, 1);
    } else if (n <= UINT16_MAX) {
        klaw_mp_write_tagged_(w, tag16, n, 2);
    } else {
        klaw_mp_write_tagged_(w, tag32, n, 4);
    }
}

/* Copies n raw bytes (already-encoded MessagePack, or the body of a str,
 * bin or ext whose header was written separately). */
static inline void klaw_mp_write_bytes(klaw_mp_writer *w, const void *data, size_t n)
{
    uint8_t *p = klaw_mp_writer_take_(w, n);
    if (p && n)
        memcpy(p, data, n);
}

/* str header for n bytes of UTF-8 that the caller writes next. */
static inline void klaw_mp_write_str_header(klaw_mp_writer *w, size_t n)
{
    klaw_mp_write_header_(w, 0xa0, 32, 0xd9, 0xda, 0xdb, n);
}

/* A str: header and the n bytes at s. The writer does not check UTF-8. */
static inline void klaw_mp_write_str(klaw_mp_writer *w, const char *s, size_t n)
{
    klaw_mp_write_str_header(w, n);
    klaw_mp_write_bytes(w, s, n);
}

/* A str from a NUL-terminated C string. */
static inline void klaw_mp_write_cstr(klaw_mp_writer *w, const char *s)
{
    klaw_mp_write_str(w, s, strlen(s));
}

static inline void klaw_mp_write_bin_header(klaw_mp_writer *w, size_t n)
{
    if (KLAW_UNLIKELY(n > UINT32_MAX))
        klaw_mp_writer_inval_(w);
    else if (n <= UINT8_MAX)
        klaw_mp_write_tagged_(w, 0xc4, n, 1);
    else if (n <= UINT16_MAX)
        klaw_mp_write_tagged_(w, 0xc5, n, 2);
    else
        klaw_mp_write_tagged_(w, 0xc6, n, 4);
}

static inline void klaw_mp_write_bin(klaw_mp_writer *w, const void *data, size_t n)
{
    klaw_mp_write_bin_header(w, n);
    klaw_mp_write_bytes(w, data, n);
}

/* Array header; the caller writes n values next. */
static inline void klaw_mp_write_array(klaw_mp_writer *w, size_t n)
{
    klaw_mp_write_header_(w, 0x90, 16, 0, 0xdc, 0xdd, n);
}

/* Map header; the caller writes n key/value pairs (2n values) next. */
static inline void klaw_mp_write_map(klaw_mp_writer *w, size_t n)
{
    klaw_mp_write_header_(w, 0x80, 16, 0, 0xde, 0xdf, n);
}

/* ext header (fixext 1/2/4/8/16 when n matches, else ext 8/16/32); the
 * caller writes the n data bytes next. */
static inline void klaw_mp_write_ext_header(klaw_mp_writer *w, int8_t type, size_t n)
{
    uint8_t *p;
    uint8_t fix = 0;
    switch (n) {
    case 1: fix = 0xd4; break;
    case 2: fix = 0xd5; break;
    case 4: fix = 0xd6; break;
    case 8: fix = 0xd7; break;
    case 16: fix = 0xd8; break;
    default: break;
    }
    if (fix) {
        p = klaw_mp_writer_take_(w, 2);
        if (p) {
            p[0] = fix;
            p[1] = (uint8_t)type;
        }
        return;
    }
    if (KLAW_UNLIKELY(n > UINT32_MAX)) {
        klaw_mp_writer_inval_(w);
        return;
    }
    int width = n <= UINT8_MAX ? 1 : n <= UINT16_MAX ? 2 : 4;
    klaw_mp_write_tagged_(w, width == 1 ? 0xc7 : width == 2 ? 0xc8 : 0xc9, n, width);
    p = klaw_mp_writer_take_(w, 1);
    if (p)
        p[0] = (uint8_t)type;
}

static inline void klaw_mp_write_ext(klaw_mp_writer *w, int8_t type, const void *data, size_t n)
{
    klaw_mp_write_ext_header(w, type, n);
    klaw_mp_write_bytes(w, data, n);
}

/* The timestamp extension (type -1) in its smallest form: 32-bit when
 * nsec == 0 and 0 <= sec < 2^32, 64-bit when 0 <= sec < 2^34, else 96-bit.
 * nsec must be <= 999999999 (else KLAW_INVAL). */
static inline void klaw_mp_write_timestamp(klaw_mp_writer *w, int64_t sec, uint32_t nsec)
{
    uint8_t *p;
    if (KLAW_UNLIKELY(nsec > 999999999u)) {
        klaw_mp_writer_inval_(w);
    } else if (nsec == 0 && sec >= 0 && sec <= (int64_t)UINT32_MAX) {
        p = klaw_mp_writer_take_(w, 6);
        if (p) {
            p[0] = 0xd6;
            p[1] = 0xff;
            klaw_mp_put32_(p + 2, (uint32_t)sec);
        }
    } else if (sec >= 0 && sec < ((int64_t)1 << 34)) {
        p = klaw_mp_writer_take_(w, 10);
        if (p) {
            p[0] = 0xd7;
            p[1] = 0xff;
            klaw_mp_put64_(p + 2, ((uint64_t)nsec << 34) | (uint64_t)sec);
        }
    } else {
        p = klaw_mp_writer_take_(w, 15);
        if (p) {
            p[0] = 0xc7;
            p[1] = 12;
            p[2] = 0xff;
            klaw_mp_put32_(p + 3, nsec);
            klaw_mp_put64_(p + 7, (uint64_t)sec);
        }
    }
}

/* Reserves n raw bytes to fill later with klaw_mp_patch_bytes(). */
static inline klaw_mp_mark klaw_mp_reserve(klaw_mp_writer *w, size_t n)
{
    klaw_mp_mark m = {w->pos, n};
    if (!klaw_mp_writer_take_(w, n))
        m.len = 0;
    return m;
}

/* Fills a reserved place (does nothing when the writer failed before the
 * reservation or len differs from the reservation). */
static inline void klaw_mp_patch_bytes(klaw_mp_writer *w, klaw_mp_mark m, const void *data, size_t len)
{
    if (m.len == len && len && m.pos + len <= w->cap)
        memcpy(w->buf + m.pos, data, len);
}

/* Reserves a 5-byte array32/map32/str32/bin32 header. */
static inline klaw_mp_mark klaw_mp_reserve_array(klaw_mp_writer *w) { return klaw_mp_reserve(w, 5); }
static inline klaw_mp_mark klaw_mp_reserve_map(klaw_mp_writer *w) { return klaw_mp_reserve(w, 5); }
static inline klaw_mp_mark klaw_mp_reserve_str(klaw_mp_writer *w) { return klaw_mp_reserve(w, 5); }
static inline klaw_mp_mark klaw_mp_reserve_bin(klaw_mp_writer *w) { return klaw_mp_reserve(w, 5); }

static inline void klaw_mp_patch32_(klaw_mp_writer *w, klaw_mp_mark m, uint8_t tag, size_t n)
{
    uint8_t hdr[5];
    if (KLAW_UNLIKELY(n > UINT32_MAX)) {
        klaw_mp_writer_inval_(w);
        return;
    }
    hdr[0] = tag;
    klaw_mp_put32_(hdr + 1, (uint32_t)n);
    klaw_mp_patch_bytes(w, m, hdr, 5);
}

/* Patches a reserved header with the final count (elements, pairs) or
 * length in bytes. */
static inline void klaw_mp_patch_array(klaw_mp_writer *w, klaw_mp_mark m, size_t count)
{
    klaw_mp_patch32_(w, m, 0xdd, count);
}
static inline void klaw_mp_patch_map(klaw_mp_writer *w, klaw_mp_mark m, size_t pairs)
{
    klaw_mp_patch32_(w, m, 0xdf, pairs);
}
static inline void klaw_mp_patch_str(klaw_mp_writer *w, klaw_mp_mark m, size_t len)
{
    klaw_mp_patch32_(w, m, 0xdb, len);
}
static inline void klaw_mp_patch_bin(klaw_mp_writer *w, klaw_mp_mark m, size_t len)
{
    klaw_mp_patch32_(w, m, 0xc6, len);
}

#ifdef __cplusplus
}
#endif

#endif /* KLAW_MP_WRITER_H */
