/*
 * mp_reader.c - the lazy MessagePack reader (see klaw/mp_reader.h).
 *
 * One function, parse_header(), knows the wire format: it reads the header
 * at r->pos, checks it strictly against the bytes that remain, and fills an
 * item. Everything else (typed reads, skip, raw, validate) is built on it.
 * Errors go through set_error(), out of line, and stick.
 */
#include <stdio.h>
#include <string.h>

#include "klaw/mp_reader.h"

/* ---- byte helpers ------------------------------------------------------ */

static inline uint16_t be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t be64(const uint8_t *p) { return ((uint64_t)be32(p) << 32) | be32(p + 4); }

/* ---- errors (cold) ----------------------------------------------------- */

KLAW_COLD static klaw_status set_error(klaw_mp_reader *r, klaw_status st, const uint8_t *at, const char *reason)
{
    if (r->err.status != KLAW_OK)
        return r->err.status;
    r->err.status = st;
    r->err.offset = (size_t)(at - r->start);
    r->err.reason = reason;
    return st;
}

KLAW_COLD static klaw_status type_error(klaw_mp_reader *r, const uint8_t *at, klaw_mp_type expected, klaw_mp_type got,
                                        const char *reason)
{
    if (r->err.status != KLAW_OK)
        return r->err.status;
    set_error(r, KLAW_VALIDATE, at, reason);
    r->err.expected = expected;
    r->err.got = got;
    return KLAW_VALIDATE;
}

/* ---- UTF-8 ------------------------------------------------------------- */

/* RFC 3629 validation. The ASCII fast path looks at 8 bytes at a time; the
 * multi-byte path follows the table of well-formed sequences (Unicode 15,
 * table 3-7), which excludes overlongs, surrogates and > U+10FFFF. */
size_t klaw_utf8_check(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if ((w & 0x8080808080808080ull) == 0) {
                i += 8;
                continue;
            }
        }
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint8_t lo = 0x80, hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            if (c == 0xe0)
                lo = 0xa0;
            else if (c == 0xed)
                hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            if (c == 0xf0)
                lo = 0x90;
            else if (c == 0xf4)
                hi = 0x8f;
        } else {
            return i;
        }
        if (len - i <= n)
            return i;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return i;
        for (size_t k = 2; k <= n; k++)
            if ((s[i + k] & 0xc0) != 0x80)
                return i;
        i += n + 1;
    }
    return len;
}

/* ---- the header parser ------------------------------------------------- */

/* Reads the header of the value at r->pos into *it and advances past it
 * (and past the data of str/bin/ext). On failure sets the error, leaves
 * r->pos alone and returns the status. Containers are checked against the
 * remaining bytes: each element needs at least one byte. */
static klaw_status parse_header(klaw_mp_reader *r, klaw_mp_item *it)
{
    const uint8_t *p = r->pos;
    size_t avail = (size_t)(r->end - p);
    if (KLAW_UNLIKELY(r->err.status != KLAW_OK))
        return r->err.status;
    if (KLAW_UNLIKELY(avail == 0))
        return set_error(r, KLAW_DECODE, p, "unexpected end of input");

    uint8_t c = p[0];
    size_t hdr = 1;      /* header bytes                                   */
    uint64_t n = 0;      /* data bytes (str/bin/ext) or element count      */
    it->data = NULL;
    it->ext_type = 0;
    it->len = 0;

    if (c <= 0x7f) {
        it->type = KLAW_MP_UINT;
        it->v.u = c;
        r->pos = p + 1;
        return KLAW_OK;
    }
    if (c >= 0xe0) {
        it->type = KLAW_MP_INT;
        it->v.i = (int8_t)c;
        r->pos = p + 1;
        return KLAW_OK;
    }
    if (c <= 0x8f) {
        it->type = KLAW_MP_MAP;
        n = c & 0x0f;
        goto container;
    }
    if (c <= 0x9f) {
        it->type = KLAW_MP_ARRAY;
        n = c & 0x0f;
        goto container;
    }
    if (c <= 0xbf) {
        it->type = KLAW_MP_STR;
        n = c & 0x1f;
        goto data;
    }

    /* 0xc0 .. 0xdf: tags with a fixed size table */
    static const uint8_t sizes[32] = {
        /* c0 nil */ 0, /* c1 */ 0, /* c2 c3 */ 0, 0,
        /* c4 c5 c6 bin */ 1, 2, 4,
        /* c7 c8 c9 ext */ 1, 2, 4,
        /* ca cb float */ 4, 8,
        /* cc..cf uint */ 1, 2, 4, 8,
        /* d0..d3 int */ 1, 2, 4, 8,
        /* d4..d8 fixext */ 1, 1, 1, 1, 1,
        /* d9 da db str */ 1, 2, 4,
        /* dc dd array */ 2, 4,
        /* de df map */ 2, 4,
    };
    hdr = 1u + sizes[c - 0xc0];
    if (KLAW_UNLIKELY(avail < hdr))
        return set_error(r, KLAW_DECODE, p, "truncated header");
    const uint8_t *q = p + 1;
    switch (c) {
    case 0xc0:
        it->type = KLAW_MP_NIL;
        r->pos = p + 1;
        return KLAW_OK;
    case 0xc1:
        return set_error(r, KLAW_DECODE, p, "invalid byte 0xc1");
    case 0xc2:
    case 0xc3:
        it->type = KLAW_MP_BOOL;
        it->v.b = c == 0xc3;
        r->pos = p + 1;
        return KLAW_OK;
    case 0xc4: it->type = KLAW_MP_BIN; n = q[0]; goto data;
    case 0xc5: it->type = KLAW_MP_BIN; n = be16(q); goto data;
    case 0xc6: it->type = KLAW_MP_BIN; n = be32(q); goto data;
    case 0xc7: n = q[0]; goto ext;
    case 0xc8: n = be16(q); goto ext;
    case 0xc9: n = be32(q); goto ext;
    case 0xca: {
        uint32_t b = be32(q);
        it->type = KLAW_MP_FLOAT32;
        memcpy(&it->v.f, &b, 4);
        r->pos = p + hdr;
        return KLAW_OK;
    }
    case 0xcb: {
        uint64_t b = be64(q);
        it->type = KLAW_MP_FLOAT64;
        memcpy(&it->v.d, &b, 8);
        r->pos = p + hdr;
        return KLAW_OK;
    }
    case 0xcc: it->v.u = q[0]; goto uint;
    case 0xcd: it->v.u = be16(q); goto uint;
    case 0xce: it->v.u = be32(q); goto uint;
    case 0xcf: it->v.u = be64(q); goto uint;
    case 0xd0: it->v.i = (int8_t)q[0]; goto sint;
    case 0xd1: it->v.i = (int16_t)be16(q); goto sint;
    case 0xd2: it->v.i = (int32_t)be32(q); goto sint;
    case 0xd3: it->v.i = (int64_t)be64(q); goto sint;
    case 0xd4: n = 1; hdr = 1; goto ext;
    case 0xd5: n = 2; hdr = 1; goto ext;
    case 0xd6: n = 4; hdr = 1; goto ext;
    case 0xd7: n = 8; hdr = 1; goto ext;
    case 0xd8: n = 16; hdr = 1; goto ext;
    case 0xd9: it->type = KLAW_MP_STR; n = q[0]; goto data;
    case 0xda: it->type = KLAW_MP_STR; n = be16(q); goto data;
    case 0xdb: it->type = KLAW_MP_STR; n = be32(q); goto data;
    case 0xdc: it->type = KLAW_MP_ARRAY; n = be16(q); goto container;
    case 0xdd: it->type = KLAW_MP_ARRAY; n = be32(q); goto container;
    case 0xde: it->type = KLAW_MP_MAP; n = be16(q); goto container;
    default: /* 0xdf */ it->type = KLAW_MP_MAP; n = be32(q); goto container;
    }

uint:
    it->type = KLAW_MP_UINT;
    r->pos = p + hdr;
    return KLAW_OK;
sint:
    it->type = it->v.i < 0 ? KLAW_MP_INT : KLAW_MP_UINT;
    r->pos = p + hdr;
    return KLAW_OK;

container:
    /* Each element takes at least one byte: refuse a count the rest of the
     * buffer cannot hold before anyone sizes anything by it. */
    if (KLAW_UNLIKELY((it->type == KLAW_MP_MAP ? n * 2 : n) > avail - hdr))
        return set_error(r, KLAW_DECODE, p, it->type == KLAW_MP_MAP ? "map length exceeds input" : "array length exceeds input");
    it->len = (uint32_t)n;
    r->pos = p + hdr;
    return KLAW_OK;

ext:
    /* ext: the type byte follows the length (fixext: the tag) */
    if (KLAW_UNLIKELY(avail < hdr + 1))
        return set_error(r, KLAW_DECODE, p, "truncated header");
    it->ext_type = (int8_t)p[hdr];
    hdr += 1;
    it->type = it->ext_type == -1 ? KLAW_MP_TIMESTAMP : KLAW_MP_EXT;
    /* fall through to the data check */
data:
    if (KLAW_UNLIKELY(n > avail - hdr))
        return set_error(r, KLAW_DECODE, p,
                         it->type == KLAW_MP_STR   ? "str length exceeds input"
                         : it->type == KLAW_MP_BIN ? "bin length exceeds input"
                                                   : "ext length exceeds input");
    it->data = p + hdr;
    it->len = (uint32_t)n;
    if (it->type == KLAW_MP_STR) {
        if (!(r->flags & KLAW_MP_TRUSTED_UTF8)) {
            size_t bad = klaw_utf8_check(it->data, n);
            if (KLAW_UNLIKELY(bad != n))
                return set_error(r, KLAW_DECODE, it->data + bad, "invalid UTF-8 in str");
        }
    } else if (it->type == KLAW_MP_TIMESTAMP) {
        const uint8_t *d = it->data;
        if (n == 4) {
            it->v.ts.sec = be32(d);
            it->v.ts.nsec = 0;
        } else if (n == 8) {
            uint64_t v = be64(d);
            it->v.ts.nsec = (uint32_t)(v >> 34);
            it->v.ts.sec = (int64_t)(v & ((1ull << 34) - 1));
        } else if (n == 12) {
            it->v.ts.nsec = be32(d);
            it->v.ts.sec = (int64_t)be64(d + 4);
        } else {
            return set_error(r, KLAW_DECODE, p, "timestamp length must be 4, 8 or 12");
        }
        if (KLAW_UNLIKELY(it->v.ts.nsec > 999999999u))
            return set_error(r, KLAW_DECODE, p, "timestamp nanoseconds exceed 999999999");
    }
    r->pos = p + hdr + n;
    return KLAW_OK;
}

/* ---- public API -------------------------------------------------------- */

void klaw_mp_reader_init(klaw_mp_reader *r, const void *buf, size_t len)
{
    r->start = (const uint8_t *)buf;
    r->pos = r->start;
    r->end = r->start ? r->start + len : r->start;
    r->flags = 0;
    r->max_depth = KLAW_MP_DEFAULT_MAX_DEPTH;
    r->err.status = KLAW_OK;
    r->err.offset = 0;
    r->err.reason = NULL;
    r->err.expected = KLAW_MP_NONE;
    r->err.got = KLAW_MP_NONE;
}

void klaw_mp_reader_set_flags(klaw_mp_reader *r, uint32_t flags) { r->flags = flags; }

klaw_status klaw_mp_reader_set_max_depth(klaw_mp_reader *r, uint32_t max_depth)
{
    if (max_depth < 1 || max_depth > KLAW_MP_MAX_DEPTH_LIMIT)
        return KLAW_INVAL;
    r->max_depth = max_depth;
    return KLAW_OK;
}

klaw_status klaw_mp_read(klaw_mp_reader *r, klaw_mp_item *out)
{
    klaw_status st = parse_header(r, out);
    if (st != KLAW_OK)
        memset(out, 0, sizeof *out); /* type KLAW_MP_NONE, len 0, data NULL */
    return st;
}

klaw_mp_type klaw_mp_peek_type(const klaw_mp_reader *r)
{
    if (r->err.status != KLAW_OK || r->pos >= r->end)
        return KLAW_MP_NONE;
    uint8_t c = r->pos[0];
    if (c <= 0x7f)
        return KLAW_MP_UINT;
    if (c >= 0xe0)
        return KLAW_MP_INT;
    if (c <= 0x8f)
        return KLAW_MP_MAP;
    if (c <= 0x9f)
        return KLAW_MP_ARRAY;
    if (c <= 0xbf)
        return KLAW_MP_STR;
    switch (c) {
    case 0xc0: return KLAW_MP_NIL;
    case 0xc1: return KLAW_MP_NONE;
    case 0xc2: case 0xc3: return KLAW_MP_BOOL;
    case 0xc4: case 0xc5: case 0xc6: return KLAW_MP_BIN;
    case 0xca: return KLAW_MP_FLOAT32;
    case 0xcb: return KLAW_MP_FLOAT64;
    case 0xcc: case 0xcd: case 0xce: case 0xcf: return KLAW_MP_UINT;
    case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
        /* the sign decides; the first value byte carries it */
        if (r->end - r->pos < 2)
            return KLAW_MP_NONE;
        return (r->pos[1] & 0x80) ? KLAW_MP_INT : KLAW_MP_UINT;
    }
    case 0xd9: case 0xda: case 0xdb: return KLAW_MP_STR;
    case 0xdc: case 0xdd: return KLAW_MP_ARRAY;
    case 0xde: case 0xdf: return KLAW_MP_MAP;
    default: {
        /* ext: find the type byte */
        size_t off = c >= 0xd4 ? 1 : (size_t)1 + (c == 0xc7 ? 1 : c == 0xc8 ? 2 : 4);
        if ((size_t)(r->end - r->pos) <= off)
            return KLAW_MP_NONE;
        return (int8_t)r->pos[off] == -1 ? KLAW_MP_TIMESTAMP : KLAW_MP_EXT;
    }
    }
}

/* Reads one header and checks its type; on mismatch rewinds nothing (the
 * error is sticky anyway) and reports what was found. */
static inline klaw_status read_typed(klaw_mp_reader *r, klaw_mp_item *it, klaw_mp_type want)
{
    const uint8_t *at = r->pos;
    klaw_status st = parse_header(r, it);
    if (KLAW_UNLIKELY(st != KLAW_OK))
        return st;
    if (KLAW_UNLIKELY(it->type != want))
        return type_error(r, at, want, it->type, "wrong type");
    return KLAW_OK;
}

klaw_status klaw_mp_read_nil(klaw_mp_reader *r)
{
    klaw_mp_item it;
    return read_typed(r, &it, KLAW_MP_NIL);
}

klaw_status klaw_mp_read_bool(klaw_mp_reader *r, bool *out)
{
    klaw_mp_item it;
    klaw_status st = read_typed(r, &it, KLAW_MP_BOOL);
    *out = st == KLAW_OK && it.v.b;
    return st;
}

klaw_status klaw_mp_read_int_slow_(klaw_mp_reader *r, int64_t *out)
{
    return klaw_mp_read_int_range(r, INT64_MIN, INT64_MAX, out);
}

klaw_status klaw_mp_read_int_range(klaw_mp_reader *r, int64_t min, int64_t max, int64_t *out)
{
    klaw_mp_item it;
    const uint8_t *at = r->pos;
    klaw_status st = parse_header(r, &it);
    *out = 0;
    if (KLAW_UNLIKELY(st != KLAW_OK))
        return st;
    if (it.type == KLAW_MP_UINT) {
        if (KLAW_UNLIKELY(max < 0 || it.v.u > (uint64_t)max))
            return type_error(r, at, KLAW_MP_INT, KLAW_MP_UINT, "integer out of range");
        if (KLAW_UNLIKELY((int64_t)it.v.u < min))
            return type_error(r, at, KLAW_MP_INT, KLAW_MP_UINT, "integer out of range");
        *out = (int64_t)it.v.u;
        return KLAW_OK;
    }
    if (it.type == KLAW_MP_INT) {
        if (KLAW_UNLIKELY(it.v.i < min || it.v.i > max))
            return type_error(r, at, KLAW_MP_INT, KLAW_MP_INT, "integer out of range");
        *out = it.v.i;
        return KLAW_OK;
    }
    return type_error(r, at, KLAW_MP_INT, it.type, "wrong type");
}

klaw_status klaw_mp_read_uint_slow_(klaw_mp_reader *r, uint64_t *out) { return klaw_mp_read_uint_max(r, UINT64_MAX, out); }

klaw_status klaw_mp_read_uint_max(klaw_mp_reader *r, uint64_t max, uint64_t *out)
{
    klaw_mp_item it;
    const uint8_t *at = r->pos;
    klaw_status st = parse_header(r, &it);
    *out = 0;
    if (KLAW_UNLIKELY(st != KLAW_OK))
        return st;
    if (it.type == KLAW_MP_UINT) {
        if (KLAW_UNLIKELY(it.v.u > max))
            return type_error(r, at, KLAW_MP_UINT, KLAW_MP_UINT, "integer out of range");
        *out = it.v.u;
        return KLAW_OK;
    }
    if (it.type == KLAW_MP_INT)
        return type_error(r, at, KLAW_MP_UINT, KLAW_MP_INT, "integer out of range");
    return type_error(r, at, KLAW_MP_UINT, it.type, "wrong type");
}

klaw_status klaw_mp_read_double_slow_(klaw_mp_reader *r, double *out)
{
    klaw_mp_item it;
    const uint8_t *at = r->pos;
    klaw_status st = parse_header(r, &it);
    *out = 0;
    if (KLAW_UNLIKELY(st != KLAW_OK))
        return st;
    switch (it.type) {
    case KLAW_MP_FLOAT64: *out = it.v.d; return KLAW_OK;
    case KLAW_MP_FLOAT32: *out = (double)it.v.f; return KLAW_OK;
    case KLAW_MP_UINT: *out = (double)it.v.u; return KLAW_OK;
    case KLAW_MP_INT: *out = (double)it.v.i; return KLAW_OK;
    default: return type_error(r, at, KLAW_MP_FLOAT64, it.type, "wrong type");
    }
}

klaw_status klaw_mp_read_str_slow_(klaw_mp_reader *r, const char **s, uint32_t *len)
{
    klaw_mp_item it;
    klaw_status st = read_typed(r, &it, KLAW_MP_STR);
    *s = st == KLAW_OK ? (const char *)it.data : NULL;
    *len = st == KLAW_OK ? it.len : 0;
    return st;
}

klaw_status klaw_mp_read_bin(klaw_mp_reader *r, const uint8_t **data, uint32_t *len)
{
    klaw_mp_item it;
    klaw_status st = read_typed(r, &it, KLAW_MP_BIN);
    *data = st == KLAW_OK ? it.data : NULL;
    *len = st == KLAW_OK ? it.len : 0;
    return st;
}

klaw_status klaw_mp_read_array_slow_(klaw_mp_reader *r, uint32_t *count)
{
    klaw_mp_item it;
    klaw_status st = read_typed(r, &it, KLAW_MP_ARRAY);
    *count = st == KLAW_OK ? it.len : 0;
    return st;
}

klaw_status klaw_mp_read_map_slow_(klaw_mp_reader *r, uint32_t *count)
{
    klaw_mp_item it;
    klaw_status st = read_typed(r, &it, KLAW_MP_MAP);
    *count = st == KLAW_OK ? it.len : 0;
    return st;
}

klaw_status klaw_mp_read_ext(klaw_mp_reader *r, int8_t *type, const uint8_t **data, uint32_t *len)
{
    klaw_mp_item it;
    const uint8_t *at = r->pos;
    klaw_status st = parse_header(r, &it);
    *type = 0;
    *data = NULL;
    *len = 0;
    if (KLAW_UNLIKELY(st != KLAW_OK))
        return st;
    if (it.type != KLAW_MP_EXT && it.type != KLAW_MP_TIMESTAMP)
        return type_error(r, at, KLAW_MP_EXT, it.type, "wrong type");
    *type = it.ext_type;
    *data = it.data;
    *len = it.len;
    return KLAW_OK;
}

klaw_status klaw_mp_read_timestamp(klaw_mp_reader *r, int64_t *sec, uint32_t *nsec)
{
    klaw_mp_item it;
    klaw_status st = read_typed(r, &it, KLAW_MP_TIMESTAMP);
    *sec = st == KLAW_OK ? it.v.ts.sec : 0;
    *nsec = st == KLAW_OK ? it.v.ts.nsec : 0;
    return st;
}

/* ---- skip: an iterative walk ------------------------------------------- */

/* The walk keeps, for each open container, how many values it still
 * holds; `cur` is the count for the innermost one. A small stack on the C
 * stack serves the usual shallow values; a deeper value moves the walk to
 * walk_deep(), which has room for KLAW_MP_MAX_DEPTH_LIMIT levels. */
#define SHALLOW 64

typedef struct walk_state {
    uint32_t top;  /* open containers */
    uint64_t cur;  /* values left at the innermost level */
} walk_state;

/* Returns 0 when the walk finished (or failed: see r->err), 1 when it needs
 * a stack deeper than cap. */
static int walk(klaw_mp_reader *r, uint64_t *stack, uint32_t cap, walk_state *ws)
{
    klaw_mp_item it;
    for (;;) {
        const uint8_t *at = r->pos;
        if (KLAW_UNLIKELY(parse_header(r, &it) != KLAW_OK))
            return 0;
        ws->cur--;
        if (it.type == KLAW_MP_ARRAY || it.type == KLAW_MP_MAP) {
            if (KLAW_UNLIKELY(ws->top >= r->max_depth)) {
                set_error(r, KLAW_DECODE, at, "nesting too deep");
                return 0;
            }
            uint64_t n = it.type == KLAW_MP_MAP ? (uint64_t)it.len * 2 : it.len;
            if (n) {
                if (KLAW_UNLIKELY(ws->top >= cap)) {
                    /* out of stack: put the container header back (it has
                     * no data, so re-reading it is exact) and let the
                     * caller go on with a bigger stack */
                    r->pos = at;
                    ws->cur++;
                    return 1;
                }
                stack[ws->top++] = ws->cur;
                ws->cur = n;
            }
        }
        while (ws->cur == 0) {
            if (ws->top == 0)
                return 0;
            ws->cur = stack[--ws->top];
        }
    }
}

KLAW_COLD static void walk_deep(klaw_mp_reader *r, const uint64_t *shallow, walk_state *ws)
{
    uint64_t stack[KLAW_MP_MAX_DEPTH_LIMIT];
    memcpy(stack, shallow, ws->top * sizeof stack[0]);
    (void)walk(r, stack, KLAW_MP_MAX_DEPTH_LIMIT, ws);
}

klaw_status klaw_mp_skip(klaw_mp_reader *r)
{
    uint64_t stack[SHALLOW];
    walk_state ws = {0, 1};
    if (KLAW_UNLIKELY(r->err.status != KLAW_OK))
        return r->err.status;
    if (walk(r, stack, SHALLOW, &ws))
        walk_deep(r, stack, &ws);
    return r->err.status;
}

klaw_status klaw_mp_read_raw(klaw_mp_reader *r, klaw_mp_raw *out)
{
    const uint8_t *from = r->pos;
    klaw_status st = klaw_mp_skip(r);
    out->ptr = st == KLAW_OK ? from : NULL;
    out->len = st == KLAW_OK ? (size_t)(r->pos - from) : 0;
    return st;
}

klaw_status klaw_mp_read_rest(klaw_mp_reader *r, klaw_mp_raw *out)
{
    out->ptr = NULL;
    out->len = 0;
    if (KLAW_UNLIKELY(r->err.status != KLAW_OK))
        return r->err.status;
    if (KLAW_UNLIKELY(r->pos >= r->end))
        return set_error(r, KLAW_DECODE, r->pos, "unexpected end of input");
    out->ptr = r->pos;
    out->len = (size_t)(r->end - r->pos);
    r->pos = r->end;
    return KLAW_OK;
}

klaw_status klaw_mp_reader_finish(klaw_mp_reader *r)
{
    if (r->err.status == KLAW_OK && r->pos != r->end)
        return set_error(r, KLAW_DECODE, r->pos, "trailing bytes after value");
    return r->err.status;
}

klaw_status klaw_mp_validate(const void *buf, size_t len, uint32_t flags, uint32_t max_depth, klaw_mp_error *err)
{
    klaw_mp_reader r;
    klaw_mp_reader_init(&r, buf, len);
    r.flags = flags;
    if (max_depth && klaw_mp_reader_set_max_depth(&r, max_depth) != KLAW_OK) {
        if (err) {
            *err = r.err;
            err->status = KLAW_INVAL;
            err->reason = "max_depth out of range";
        }
        return KLAW_INVAL;
    }
    klaw_mp_skip(&r);
    klaw_status st = klaw_mp_reader_finish(&r);
    if (err)
        *err = r.err;
    return st;
}

const char *klaw_mp_type_name(klaw_mp_type t)
{
    switch (t) {
    case KLAW_MP_NIL: return "nil";
    case KLAW_MP_BOOL: return "bool";
    case KLAW_MP_UINT: return "int";
    case KLAW_MP_INT: return "int";
    case KLAW_MP_FLOAT32: return "float32";
    case KLAW_MP_FLOAT64: return "float";
    case KLAW_MP_STR: return "str";
    case KLAW_MP_BIN: return "bin";
    case KLAW_MP_ARRAY: return "array";
    case KLAW_MP_MAP: return "map";
    case KLAW_MP_EXT: return "ext";
    case KLAW_MP_TIMESTAMP: return "timestamp";
    default: return "nothing";
    }
}

int klaw_mp_error_format(const klaw_mp_error *err, char *buf, size_t size)
{
    const char *what = err->status == KLAW_VALIDATE ? "validation error" : "decode error";
    if (err->status == KLAW_OK)
        return snprintf(buf, size, "no error");
    if (err->status == KLAW_VALIDATE && err->expected != KLAW_MP_NONE) {
        if (err->expected == err->got || (err->got == KLAW_MP_INT && err->expected == KLAW_MP_UINT) ||
            (err->got == KLAW_MP_UINT && err->expected == KLAW_MP_INT))
            return snprintf(buf, size, "%s at byte %zu: %s", what, err->offset, err->reason);
        return snprintf(buf, size, "%s at byte %zu: expected %s, got %s", what, err->offset,
                        klaw_mp_type_name(err->expected), klaw_mp_type_name(err->got));
    }
    return snprintf(buf, size, "%s at byte %zu: %s", what, err->offset, err->reason ? err->reason : "unknown");
}
