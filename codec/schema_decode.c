/*
 * schema_decode.c - one pass from MessagePack bytes to a C struct.
 *
 * The decoder walks the compiled schema and the bytes together: each value
 * is read with the reader's inline typed reads, checked, and stored at its
 * offset; nothing is built in between. Missing fields get their defaults at
 * the end of their struct; arrays, maps and copies go to the caller's arena.
 *
 * Hot path / cold path. The common case of every kind is a few inline
 * lines in dec_value(). Anything else - a type error, a value outside its
 * bounds, a lax coercion, a multiple_of check - rewinds to the value's
 * first byte and is handled out of line by reading the value again with
 * klaw_mp_read(), so the fast path never has to remember why it failed.
 *
 * Paths. Each level keeps a pnode on its own stack frame naming the field,
 * index or map key it is decoding; an error copies the chain into the issue.
 *
 * Errors and the reader. The reader's errors are sticky; a wrong type
 * (KLAW_VALIDATE from a typed read) is not an error of the bytes, so the
 * decoder clears it and goes on (only in ALL_ERRORS mode is there anything
 * to go on with). A DECODE error stays in the reader and ends the decode.
 *
 * Invariant, ALL_ERRORS mode: a function that returns KLAW_VALIDATE has
 * recorded its issues and left the reader just past the value it was
 * given, so the caller can go on with the next one.
 */
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema_impl.h"

#define NO_FIELD UINT32_MAX

#if defined(__GNUC__) || defined(__clang__)
#define HOT_INLINE static inline __attribute__((always_inline))
#else
#define HOT_INLINE static inline
#endif
#define ALL_ERRORS(c) ((c)->flags & KLAW_DECODE_ALL_ERRORS)
#define LAX(c) ((c)->flags & KLAW_DECODE_LAX)

static klaw_status dec_value(dctx *c, const cfield *f, uint8_t *dst, const pnode *path);
static void write_default(const cfield *f, uint8_t *base);

/* ---- small helpers ------------------------------------------------------------ */

static inline size_t off(const dctx *c, const uint8_t *p) { return (size_t)(p - c->r->start); }

/* Forgets a wrong-type error of the reader and puts it back at p. */
static inline void rd_clear(klaw_mp_reader *r, const uint8_t *p)
{
    r->err.status = KLAW_OK;
    r->err.offset = 0;
    r->err.reason = NULL;
    r->err.expected = KLAW_MP_NONE;
    r->err.got = KLAW_MP_NONE;
    r->pos = p;
}

/* A big-endian 64-bit load (one bswap where the compiler has it). */
static inline uint64_t be64(const uint8_t *p)
{
#if (defined(__GNUC__) || defined(__clang__)) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return __builtin_bswap64(v);
#else
    return klaw_mp_be_(p, 8);
#endif
}

static inline void store_sint(uint8_t *dst, uint32_t size, int64_t v)
{
    switch (size) {
    case 1: { int8_t x = (int8_t)v; memcpy(dst, &x, 1); break; }
    case 2: { int16_t x = (int16_t)v; memcpy(dst, &x, 2); break; }
    case 4: { int32_t x = (int32_t)v; memcpy(dst, &x, 4); break; }
    default: memcpy(dst, &v, 8); break;
    }
}

static inline void store_uint(uint8_t *dst, uint32_t size, uint64_t v)
{
    switch (size) {
    case 1: { uint8_t x = (uint8_t)v; memcpy(dst, &x, 1); break; }
    case 2: { uint16_t x = (uint16_t)v; memcpy(dst, &x, 2); break; }
    case 4: { uint32_t x = (uint32_t)v; memcpy(dst, &x, 4); break; }
    default: memcpy(dst, &v, 8); break;
    }
}

static inline void store_bool(uint8_t *dst, bool b) { memcpy(dst, &b, sizeof b); }

static inline void store_which(uint8_t *holder, int32_t which) { memcpy(holder, &which, sizeof which); }

/* ---- failures (cold) ------------------------------------------------------------ */

/* After an issue: in ALL_ERRORS mode, skip the value that began at p (NULL:
 * it was consumed already) so the caller can go on. */
static klaw_status after_issue(dctx *c, const uint8_t *p, const pnode *path)
{
    if (!ALL_ERRORS(c))
        return KLAW_VALIDATE;
    if (p) {
        c->r->pos = p;
        if (klaw_mp_skip(c->r) != KLAW_OK) {
            ks_decode_issue(c, path);
            return KLAW_DECODE;
        }
    }
    return KLAW_VALIDATE;
}

KLAW_COLD static klaw_status decode_fail(dctx *c, const uint8_t *at, const char *reason, const pnode *path)
{
    klaw_mp_reader *r = c->r;
    if (r->err.status == KLAW_OK) {
        r->err.status = KLAW_DECODE;
        r->err.offset = off(c, at);
        r->err.reason = reason;
    }
    ks_decode_issue(c, path);
    return KLAW_DECODE;
}

KLAW_COLD static klaw_status type_error(dctx *c, const char *expected, bool nullable, klaw_mp_type got,
                                        const uint8_t *p0, const pnode *path)
{
    char exp[48];
    snprintf(exp, sizeof exp, "%s%s", expected, nullable ? " | null" : "");
    ks_issue(c, KLAW_VALIDATE, path, off(c, p0), exp, ks_wire_type_name(got), "Expected `%s`, got `%s`", exp,
             ks_wire_type_name(got));
    return after_issue(c, p0, path);
}

/* The reader failed on the value at p0: DECODE is recorded as it is; a
 * wrong type becomes msgspec's "Expected `x`, got `y`". */
KLAW_COLD static klaw_status rd_failed(dctx *c, const cfield *f, const uint8_t *p0, const pnode *path)
{
    klaw_mp_reader *r = c->r;
    klaw_mp_item it;
    if (r->err.status != KLAW_VALIDATE) {
        ks_decode_issue(c, path);
        return KLAW_DECODE;
    }
    rd_clear(r, p0);
    if (klaw_mp_read(r, &it) != KLAW_OK) {
        ks_decode_issue(c, path);
        return KLAW_DECODE;
    }
    return type_error(c, ks_expected_name(f), (f->flags & KLAW_F_NULLABLE) != 0, it.type, p0, path);
}

KLAW_COLD static klaw_status too_deep(dctx *c, const uint8_t *p0, const pnode *path)
{
    c->depth--;
    return decode_fail(c, p0, "nesting too deep", path);
}

KLAW_COLD static klaw_status arena_full(dctx *c, const uint8_t *p0, size_t need, const pnode *path)
{
    char got[48];
    snprintf(got, sizeof got, "%zu bytes free, %zu needed", c->arena ? klaw_arena_avail(c->arena) : (size_t)0, need);
    ks_issue(c, KLAW_NOMEM, path, off(c, p0), "arena space", got, "Arena exhausted");
    return KLAW_NOMEM;
}

KLAW_COLD static klaw_status length_error(dctx *c, const char *what, uint32_t len, const cfield *f,
                                          const uint8_t *p0, const uint8_t *skip, const pnode *path)
{
    char exp[48], got[24];
    const char *op = len < f->minlen ? ">=" : "<=";
    uint32_t bound = len < f->minlen ? f->minlen : f->maxlen;
    snprintf(exp, sizeof exp, "%s of length %s %u", what, op, bound);
    snprintf(got, sizeof got, "%u", len);
    ks_issue(c, KLAW_VALIDATE, path, off(c, p0), exp, got, "Expected `%s` of length %s %u", what, op, bound);
    return after_issue(c, skip, path);
}

/* ---- ints, floats, bools: the slow side ------------------------------------------ */

/* Checks an integer (neg: the value is v.i < 0, else v.u) against a
 * field's range and multiple_of, and stores it. */
static klaw_status put_int(dctx *c, const cfield *f, uint8_t *dst, bool neg, int64_t i, uint64_t u,
                           const uint8_t *p0, const pnode *path)
{
    char exp[64], got[32];
    bool is_signed = f->kind <= KLAW_K_I64;
    if (neg)
        snprintf(got, sizeof got, "%lld", (long long)i);
    else
        snprintf(got, sizeof got, "%llu", (unsigned long long)u);
    if (is_signed) {
        if (!neg && u > (uint64_t)INT64_MAX) {
            snprintf(exp, sizeof exp, "int <= %lld", (long long)f->hi);
            goto bad;
        }
        int64_t v = neg ? i : (int64_t)u;
        if (v < f->lo) {
            snprintf(exp, sizeof exp, "int >= %lld", (long long)f->lo);
            goto bad;
        }
        if (v > f->hi) {
            snprintf(exp, sizeof exp, "int <= %lld", (long long)f->hi);
            goto bad;
        }
        if ((f->cflags & CF_MULT) && v % f->mult != 0) {
            snprintf(exp, sizeof exp, "int that's a multiple of %lld", (long long)f->mult);
            goto bad;
        }
        store_sint(dst, f->size, v);
        return KLAW_OK;
    }
    if (neg || u < f->ulo) {
        snprintf(exp, sizeof exp, "int >= %llu", (unsigned long long)f->ulo);
        goto bad;
    }
    if (u > f->uhi) {
        snprintf(exp, sizeof exp, "int <= %llu", (unsigned long long)f->uhi);
        goto bad;
    }
    if ((f->cflags & CF_MULT) && u % (uint64_t)f->mult != 0) {
        snprintf(exp, sizeof exp, "int that's a multiple of %lld", (long long)f->mult);
        goto bad;
    }
    store_uint(dst, f->size, u);
    return KLAW_OK;
bad:
    /* "Expected `int` >= 0": the type in backticks, the bound after it */
    {
        const char *rest = exp + 3;
        ks_issue(c, KLAW_VALIDATE, path, off(c, p0), exp, got, "Expected `int`%s", rest);
    }
    return after_issue(c, NULL, path);
}

static inline bool float32_range_ok(double d) { return !(d > (double)FLT_MAX || d < -(double)FLT_MAX) || isinf(d); }

static klaw_status put_float(dctx *c, const cfield *f, uint8_t *dst, double d, const uint8_t *p0, const pnode *path)
{
    char num[40], exp[80], got[40];
    ks_format_double(d, got, sizeof got);
    if (f->kind == KLAW_K_FLOAT && !float32_range_ok(d)) {
        ks_format_double(d > 0 ? (double)FLT_MAX : -(double)FLT_MAX, num, sizeof num);
        snprintf(exp, sizeof exp, "float %s %s", d > 0 ? "<=" : ">=", num);
        goto bad;
    }
    if ((f->cflags & CF_FLT_LO) && ((f->cflags & CF_FLT_LO_X) ? !(d > f->dlo) : !(d >= f->dlo))) {
        ks_format_double(f->dlo, num, sizeof num);
        snprintf(exp, sizeof exp, "float %s %s", (f->cflags & CF_FLT_LO_X) ? ">" : ">=", num);
        goto bad;
    }
    if ((f->cflags & CF_FLT_HI) && ((f->cflags & CF_FLT_HI_X) ? !(d < f->dhi) : !(d <= f->dhi))) {
        ks_format_double(f->dhi, num, sizeof num);
        snprintf(exp, sizeof exp, "float %s %s", (f->cflags & CF_FLT_HI_X) ? "<" : "<=", num);
        goto bad;
    }
    if ((f->cflags & CF_MULT) && fmod(d, f->dmult) != 0) {
        ks_format_double(f->dmult, num, sizeof num);
        snprintf(exp, sizeof exp, "float that's a multiple of %s", num);
        goto bad;
    }
    if (f->kind == KLAW_K_FLOAT) {
        float x = (float)d;
        memcpy(dst, &x, sizeof x);
    } else {
        memcpy(dst, &d, sizeof d);
    }
    return KLAW_OK;
bad:
    ks_issue(c, KLAW_VALIDATE, path, off(c, p0), exp, got, "Expected `float`%s", exp + 5);
    return after_issue(c, NULL, path);
}

/* Lax text: ASCII case-insensitive equality. */
static bool text_is(const uint8_t *s, uint32_t n, const char *word)
{
    size_t k = strlen(word);
    if (n != k)
        return false;
    for (size_t i = 0; i < k; i++) {
        uint8_t ch = s[i];
        if (ch >= 'A' && ch <= 'Z')
            ch = (uint8_t)(ch - 'A' + 'a');
        if (ch != (uint8_t)word[i])
            return false;
    }
    return true;
}

/* Lax: a decimal number in text ("-12", "1.5e3", "nan", "inf"). */
static bool text_to_double(const uint8_t *s, uint32_t n, double *out)
{
    char buf[64];
    if (n == 0 || n >= sizeof buf)
        return false;
    for (uint32_t i = 0; i < n; i++) {
        char ch = (char)s[i];
        bool ok = (ch >= '0' && ch <= '9') || ch == '+' || ch == '-' || ch == '.' || ch == 'e' || ch == 'E';
        if (!ok && !text_is(s, n, "nan") && !text_is(s, n, "inf") && !text_is(s, n, "+inf") &&
            !text_is(s, n, "-inf") && !text_is(s, n, "infinity") && !text_is(s, n, "-infinity"))
            return false;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end;
    *out = strtod(buf, &end);
    return end == buf + n;
}

/* Lax: an integer in text, or a float text with an integral value. */
static bool text_to_int(const uint8_t *s, uint32_t n, bool *neg, int64_t *i, uint64_t *u)
{
    uint32_t k = 0;
    bool minus = false;
    uint64_t v = 0;
    if (n && (s[0] == '-' || s[0] == '+')) {
        minus = s[0] == '-';
        k = 1;
    }
    if (k < n) {
        uint32_t j = k;
        for (; j < n && s[j] >= '0' && s[j] <= '9'; j++) {
            if (v > (UINT64_MAX - (s[j] - '0')) / 10)
                break;
            v = v * 10 + (s[j] - '0');
        }
        if (j == n) {
            if (minus && v > (uint64_t)INT64_MAX + 1)
                return false;
            *neg = minus && v != 0;
            *i = *neg ? (int64_t)(0 - v) : 0;
            *u = *neg ? 0 : v;
            return true;
        }
    }
    double d;
    if (!text_to_double(s, n, &d) || d != floor(d) || d < -9223372036854775808.0 || d >= 18446744073709551616.0)
        return false;
    *neg = d < 0;
    *i = *neg ? (int64_t)d : 0;
    *u = *neg ? 0 : (uint64_t)d;
    return true;
}

/* Every scalar kind after its fast path missed: read the value again and
 * handle types, lax coercions, bounds and multiple_of. */
static klaw_status dec_scalar_slow(dctx *c, const cfield *f, uint8_t *dst, const uint8_t *p0, const pnode *path)
{
    klaw_mp_reader *r = c->r;
    klaw_mp_item it;
    if (r->err.status == KLAW_DECODE) {
        ks_decode_issue(c, path);
        return KLAW_DECODE;
    }
    rd_clear(r, p0);
    if (klaw_mp_read(r, &it) != KLAW_OK) {
        ks_decode_issue(c, path);
        return KLAW_DECODE;
    }
    switch ((klaw_kind)f->kind) {
    case KLAW_K_BOOL:
        if (it.type == KLAW_MP_BOOL) {
            store_bool(dst, it.v.b);
            return KLAW_OK;
        }
        if (LAX(c)) {
            if ((it.type == KLAW_MP_UINT && it.v.u <= 1)) {
                store_bool(dst, it.v.u == 1);
                return KLAW_OK;
            }
            if (it.type == KLAW_MP_STR) {
                if (text_is(it.data, it.len, "true") || text_is(it.data, it.len, "1")) {
                    store_bool(dst, true);
                    return KLAW_OK;
                }
                if (text_is(it.data, it.len, "false") || text_is(it.data, it.len, "0")) {
                    store_bool(dst, false);
                    return KLAW_OK;
                }
            }
        }
        break;
    case KLAW_K_I8:
    case KLAW_K_I16:
    case KLAW_K_I32:
    case KLAW_K_I64:
    case KLAW_K_U8:
    case KLAW_K_U16:
    case KLAW_K_U32:
    case KLAW_K_U64: {
        bool neg;
        int64_t i = 0;
        uint64_t u = 0;
        if (it.type == KLAW_MP_UINT)
            return put_int(c, f, dst, false, 0, it.v.u, p0, path);
        if (it.type == KLAW_MP_INT)
            return put_int(c, f, dst, true, it.v.i, 0, p0, path);
        if (LAX(c) && (it.type == KLAW_MP_FLOAT64 || it.type == KLAW_MP_FLOAT32)) {
            double d = it.type == KLAW_MP_FLOAT64 ? it.v.d : (double)it.v.f;
            if (d == floor(d) && d >= -9223372036854775808.0 && d < 18446744073709551616.0)
                return put_int(c, f, dst, d < 0, d < 0 ? (int64_t)d : 0, d < 0 ? 0 : (uint64_t)d, p0, path);
        }
        if (LAX(c) && it.type == KLAW_MP_STR && text_to_int(it.data, it.len, &neg, &i, &u))
            return put_int(c, f, dst, neg, i, u, p0, path);
        break;
    }
    case KLAW_K_FLOAT:
    case KLAW_K_DOUBLE: {
        double d;
        switch (it.type) {
        case KLAW_MP_FLOAT64: return put_float(c, f, dst, it.v.d, p0, path);
        case KLAW_MP_FLOAT32: return put_float(c, f, dst, (double)it.v.f, p0, path);
        case KLAW_MP_UINT: return put_float(c, f, dst, (double)it.v.u, p0, path);
        case KLAW_MP_INT: return put_float(c, f, dst, (double)it.v.i, p0, path);
        case KLAW_MP_STR:
            if (LAX(c) && text_to_double(it.data, it.len, &d))
                return put_float(c, f, dst, d, p0, path);
            break;
        default: break;
        }
        break;
    }
    case KLAW_K_TIMESTAMP: {
        int64_t sec = 0;
        uint32_t nsec = 0;
        bool ok = false;
        if (it.type == KLAW_MP_TIMESTAMP) {
            sec = it.v.ts.sec;
            nsec = it.v.ts.nsec;
            ok = true;
        } else if (LAX(c) && it.type == KLAW_MP_INT) {
            sec = it.v.i;
            ok = true;
        } else if (LAX(c) && it.type == KLAW_MP_UINT && it.v.u <= (uint64_t)INT64_MAX) {
            sec = (int64_t)it.v.u;
            ok = true;
        } else if (LAX(c) && (it.type == KLAW_MP_FLOAT64 || it.type == KLAW_MP_FLOAT32)) {
            double d = it.type == KLAW_MP_FLOAT64 ? it.v.d : (double)it.v.f;
            if (d - d == 0 && d >= -9.2e18 && d <= 9.2e18) {
                double s = floor(d);
                double ns = floor((d - s) * 1e9 + 0.5);
                sec = (int64_t)s;
                if (ns >= 1e9) {
                    sec++;
                    ns = 0;
                }
                nsec = (uint32_t)ns;
                ok = true;
            }
        }
        if (!ok)
            break;
        if ((int64_t)(time_t)sec != sec) {
            char got[32];
            snprintf(got, sizeof got, "%lld", (long long)sec);
            ks_issue(c, KLAW_VALIDATE, path, off(c, p0), "timestamp in time_t's range", got,
                     "Timestamp is out of range");
            return after_issue(c, NULL, path);
        }
        struct timespec ts;
        memset(&ts, 0, sizeof ts);
        ts.tv_sec = (time_t)sec;
        ts.tv_nsec = (long)nsec;
        memcpy(dst, &ts, sizeof ts);
        return KLAW_OK;
    }
    default:
        break;
    }
    return type_error(c, ks_expected_name(f), (f->flags & KLAW_F_NULLABLE) != 0, it.type, p0, path);
}

/* ---- str, bin ----------------------------------------------------------------------- */

/* Whether str s[0, n) matches f's pattern. regexec() wants a NUL-terminated
 * string (REG_STARTEND is a glibc/BSD extension, and sanitizer interceptors
 * read to the NUL regardless), so the str is matched from a copy: on the
 * stack up to 1 KiB, else in the arena, released at once. A str with a NUL
 * inside never matches (regexec would see only the part before it).
 * Returns KLAW_OK (match), KLAW_VALIDATE (no match) or KLAW_NOMEM. */
static klaw_status pattern_match(dctx *c, const cfield *f, const char *s, uint32_t n)
{
    char small[1024];
    char *buf = small;
    size_t mark = 0;
    klaw_status st;
    if (n && memchr(s, '\0', n))
        return KLAW_VALIDATE;
    if (n >= sizeof small) {
        if (!c->arena)
            return KLAW_NOMEM;
        mark = klaw_arena_mark(c->arena);
        if (!(buf = klaw_arena_alloc(c->arena, (size_t)n + 1, 1)))
            return KLAW_NOMEM;
    }
    if (n)
        memcpy(buf, s, n);
    buf[n] = '\0';
    st = regexec(f->re, buf, 0, NULL, 0) == 0 ? KLAW_OK : KLAW_VALIDATE;
    if (buf != small)
        klaw_arena_release(c->arena, mark);
    return st;
}

static uint32_t code_points(const char *s, uint32_t n)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++)
        k += ((uint8_t)s[i] & 0xc0) != 0x80;
    return k;
}

/* A str or bin value that needs more than a view: lengths, pattern, copy. */
static klaw_status put_bytes(dctx *c, const cfield *f, uint8_t *dst, const void *data, uint32_t n,
                             const uint8_t *p0, const pnode *path)
{
    bool is_str = f->kind == KLAW_K_STR;
    if (f->cflags & CF_LEN) {
        uint32_t len = is_str ? code_points(data, n) : n;
        if (len < f->minlen || len > f->maxlen)
            return length_error(c, is_str ? "str" : "bytes", len, f, p0, NULL, path);
    }
    if (f->cflags & CF_RE) {
        klaw_status m = pattern_match(c, f, data, n);
        if (m == KLAW_NOMEM)
            return arena_full(c, p0, (size_t)n + 1, path);
        if (m == KLAW_OK)
            goto matched;
        char exp[48], got[48];
        snprintf(exp, sizeof exp, "str matching regex '%s'", f->pattern);
        snprintf(got, sizeof got, "%.*s", (int)(n < 40 ? n : 40), (const char *)data);
        ks_issue(c, KLAW_VALIDATE, path, off(c, p0), exp, got, "Expected `str` matching regex '%s'", f->pattern);
        return after_issue(c, NULL, path);
    }
matched:
    if (f->flags & KLAW_F_COPY) {
        size_t need = (size_t)n + (is_str ? 1 : 0);
        uint8_t *p = NULL;
        if (need) {
            p = c->arena ? klaw_arena_alloc(c->arena, need, 1) : NULL;
            if (!p)
                return arena_full(c, p0, need, path);
            if (n)
                memcpy(p, data, n);
            if (is_str)
                p[n] = '\0';
        }
        data = p;
    }
    if (is_str) {
        klaw_str v = {(const char *)data, n};
        memcpy(dst, &v, sizeof v);
    } else {
        klaw_bytes v = {(const uint8_t *)data, n};
        memcpy(dst, &v, sizeof v);
    }
    return KLAW_OK;
}

/* ---- enums ----------------------------------------------------------------------------- */

static klaw_status dec_enum(dctx *c, const cfield *f, uint8_t *dst, const pnode *path)
{
    klaw_mp_reader *r = c->r;
    const uint8_t *p0 = r->pos;
    const cenum *e = f->enm;
    char got[48];
    if (e->wire == KLAW_ENUM_STR) {
        const char *s;
        uint32_t n;
        if (KLAW_UNLIKELY(klaw_mp_read_str(r, &s, &n) != KLAW_OK))
            return rd_failed(c, f, p0, path);
        for (uint32_t i = 0; i < e->count; i++) {
            if (e->lens[i] == n && memcmp(e->entries[i].str, s, n) == 0) {
                memcpy(dst, &e->entries[i].value, sizeof(int));
                return KLAW_OK;
            }
        }
        snprintf(got, sizeof got, "'%.*s'", (int)(n < 40 ? n : 40), s);
        ks_issue(c, KLAW_VALIDATE, path, off(c, p0), e->name, got, "Invalid enum value '%.*s'",
                 (int)(n < 64 ? n : 64), s);
        return after_issue(c, NULL, path);
    }
    int64_t v;
    if (KLAW_UNLIKELY(klaw_mp_read_int(r, &v) != KLAW_OK)) {
        klaw_mp_item it;
        if (r->err.status != KLAW_VALIDATE)
            return rd_failed(c, f, p0, path);
        rd_clear(r, p0);
        if (klaw_mp_read(r, &it) != KLAW_OK) {
            ks_decode_issue(c, path);
            return KLAW_DECODE;
        }
        if (it.type != KLAW_MP_UINT)
            return type_error(c, "int", (f->flags & KLAW_F_NULLABLE) != 0, it.type, p0, path);
        snprintf(got, sizeof got, "%llu", (unsigned long long)it.v.u);
        ks_issue(c, KLAW_VALIDATE, path, off(c, p0), e->name, got, "Invalid enum value %s", got);
        return after_issue(c, NULL, path);
    }
    for (uint32_t i = 0; i < e->count; i++) {
        if (e->entries[i].num == v) {
            memcpy(dst, &e->entries[i].value, sizeof(int));
            return KLAW_OK;
        }
    }
    snprintf(got, sizeof got, "%lld", (long long)v);
    ks_issue(c, KLAW_VALIDATE, path, off(c, p0), e->name, got, "Invalid enum value %s", got);
    return after_issue(c, NULL, path);
}

/* ---- structs ------------------------------------------------------------------------------ */

/* Whether the bytes at the reader are field f's key, exactly as the writer
 * encodes it (another encoding of the same key goes the slow way). Equal
 * bytes are the field's own valid UTF-8, so nothing else is checked. */
HOT_INLINE bool key_here(const klaw_mp_reader *r, const cfield *f)
{
    size_t avail = (size_t)(r->end - r->pos);
    if (KLAW_LIKELY(avail >= 16 && f->key_mp_len <= 16)) {
        uint64_t a, b;
        memcpy(&a, r->pos, 8);
        memcpy(&b, r->pos + 8, 8);
        return (((a ^ f->key_pad[0]) & f->key_mask[0]) | ((b ^ f->key_pad[1]) & f->key_mask[1])) == 0;
    }
    return avail >= f->key_mp_len && memcmp(r->pos, f->key_mp, f->key_mp_len) == 0;
}

static inline uint32_t lookup(const cstruct *s, const char *k, uint32_t n)
{
    uint32_t h = ks_key_hash(k, n) & s->hmask;
    for (;;) {
        uint32_t e = s->hash[h];
        if (e == 0)
            return NO_FIELD;
        const cfield *f = &s->fields[e - 1];
        if (f->wire_len == n && memcmp(f->wire, k, n) == 0)
            return e - 1;
        h = (h + 1) & s->hmask;
    }
}

/* A nullable field: nil (or, lax, "null") means absent; else the value,
 * and the presence flag. */

/* 1 if the n bytes at d (a fixstr's, n < 32) are all ASCII: words or
 * halves OR-ed together, overlapping at the end, no byte loop past 3.
 * The fast paths of both decoders call it; UTF-8 beyond ASCII goes the
 * validating way. */
HOT_INLINE bool short_ascii(const uint8_t *d, uint32_t n)
{
    uint64_t hi = 0, x;
    if (n >= 8) {
        for (uint32_t i = 0; i + 8 <= n; i += 8) {
            memcpy(&x, d + i, 8);
            hi |= x;
        }
        memcpy(&x, d + n - 8, 8);
        hi |= x;
    } else if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, d, 4);
        memcpy(&b, d + n - 4, 4);
        hi = a | b;
    } else {
        for (uint32_t i = 0; i < n; i++)
            hi |= d[i];
    }
    return (hi & 0x8080808080808080ull) == 0;
}
static klaw_status dec_nullable(dctx *c, const cfield *f, uint8_t *base, const pnode *path)
{
    klaw_mp_reader *r = c->r;
    if (r->pos < r->end && *r->pos == 0xc0) {
        r->pos++;
        goto absent;
    }
    /* lax: "null" is nil, unless a str is what the field takes (msgspec
     * keeps "null" a str for Optional[str]) */
    if (LAX(c) && r->pos < r->end && *r->pos == 0xa4 && f->kind != KLAW_K_STR && f->kind != KLAW_K_RAW &&
        !(f->kind == KLAW_K_ENUM && f->enm->wire == KLAW_ENUM_STR)) {
        klaw_mp_reader t = *r;
        const char *s;
        uint32_t n;
        if (klaw_mp_read_str(&t, &s, &n) == KLAW_OK && text_is((const uint8_t *)s, n, "null")) {
            *r = t;
            goto absent;
        }
    }
    klaw_status st = dec_value(c, f, base + f->offset, path);
    if (KLAW_LIKELY(st == KLAW_OK))
        store_bool(base + f->present - 1, true);
    return st;
absent:
    if (f->kind == KLAW_K_UNION)
        store_which(base + f->offset, -1);
    return KLAW_OK;
}

/* A fixstr of ASCII (or of anything, with trusted UTF-8): its bytes are
 * tested with overlapping word loads that stay inside the str. Anything
 * else returns false without moving, for the reader's own read_str. */
HOT_INLINE bool short_ascii_str(klaw_mp_reader *r, klaw_str *v)
{
    const uint8_t *p = r->pos;
    if (KLAW_UNLIKELY(r->err.status != KLAW_OK || p >= r->end || (p[0] & 0xe0) != 0xa0))
        return false;
    uint32_t n = p[0] & 0x1fu;
    const uint8_t *d = p + 1;
    if (KLAW_UNLIKELY((size_t)(r->end - d) < n))
        return false;
    if (!(r->flags & KLAW_MP_TRUSTED_UTF8)) {
        if (!short_ascii(d, n))
            return false;
    }
    v->ptr = (const char *)d;
    v->len = n;
    r->pos = d + n;
    return true;
}

/* A str's view, padding included (an array's items are not zeroed before
 * the quick path writes them). Each member is stored straight to dst:
 * building a klaw_str on the stack and copying it whole makes a 16-byte
 * load of two narrower stores, which store forwarding cannot serve (a
 * stall of a dozen cycles on every str). */
HOT_INLINE void store_str(uint8_t *dst, const char *p, uint32_t n)
{
    enum { END = offsetof(klaw_str, len) + sizeof(uint32_t) };
    memcpy(dst + offsetof(klaw_str, ptr), &p, sizeof p);
    memcpy(dst + offsetof(klaw_str, len), &n, sizeof n);
    if (sizeof(klaw_str) > END)
        memset(dst + END, 0, sizeof(klaw_str) - END);
}

/* The common scalars in line, with no call, no frame and no path: true
 * when f's value was read and all of dst (f->size bytes) written; false,
 * with the reader where it was, for everything else and every miss - the
 * caller then takes dec_value(), which reports it (a DECODE error stays in
 * the reader, for dec_value to meet again). */
HOT_INLINE bool dec_quick(klaw_mp_reader *r, const cfield *f, uint8_t *dst)
{
    const uint8_t *p0 = r->pos;
    switch ((klaw_kind)f->kind) {
    case KLAW_K_I32:
    case KLAW_K_I64: {
        int64_t v;
        if (KLAW_LIKELY(klaw_mp_read_int(r, &v) == KLAW_OK)) {
            if (KLAW_LIKELY(v >= f->lo && v <= f->hi && !(f->cflags & CF_MULT))) {
                store_sint(dst, f->size, v);
                return true;
            }
            r->pos = p0;
        } else if (r->err.status == KLAW_VALIDATE) {
            rd_clear(r, p0);
        }
        return false;
    }
    case KLAW_K_DOUBLE:
        if (KLAW_LIKELY(r->end - r->pos >= 9 && r->pos[0] == 0xcb && !(f->cflags & (CF_FBOUNDS | CF_MULT)))) {
            uint64_t bits = be64(r->pos + 1);
            memcpy(dst, &bits, sizeof bits);
            r->pos += 9;
            return true;
        }
        return false;
    case KLAW_K_STR:
        if (KLAW_LIKELY(!(f->cflags & (CF_LEN | CF_RE)) && !(f->flags & KLAW_F_COPY))) {
            klaw_str v;
            if (KLAW_LIKELY(short_ascii_str(r, &v))) {
                store_str(dst, v.ptr, v.len);
                return true;
            }
            if (KLAW_LIKELY(klaw_mp_read_str(r, &v.ptr, &v.len) == KLAW_OK)) {
                store_str(dst, v.ptr, v.len);
                return true;
            }
            if (r->err.status == KLAW_VALIDATE)
                rd_clear(r, p0);
        }
        return false;
    default: return false;
    }
}

/* dec_quick() on a bare cursor (*pp, below end) rather than the reader, for
 * the straight-line array_like loop, which keeps the position in a
 * register: through the reader, every field's read waits on the store of
 * the previous field's position. rflags: the reader's flags. Takes the
 * common encodings only (an int in any encoding, float64, an ASCII fixstr)
 * and writes all of dst; anything else, and every miss, returns false with
 * *pp unmoved, for the general path to read (and report) from there. */
HOT_INLINE bool quick_at(const uint8_t **pp, const uint8_t *end, uint32_t rflags, const cfield *f, uint8_t *dst)
{
    const uint8_t *p = *pp;
    if (KLAW_UNLIKELY(p >= end))
        return false;
    const uint8_t c = p[0];
    switch ((klaw_kind)f->kind) {
    case KLAW_K_I32:
    case KLAW_K_I64: {
        int64_t v;
        uint32_t len = 1;
        if (c <= 0x7f) {
            v = c;
        } else if (c >= 0xe0) {
            v = (int8_t)c;
        } else if (c >= 0xcc && c <= 0xd3) {
            uint32_t w = 1u << (c & 3);
            if (KLAW_UNLIKELY((size_t)(end - p) <= w))
                return false;
            uint64_t u = w == 8 ? be64(p + 1) : klaw_mp_be_(p + 1, (int)w);
            if (c <= 0xcf) {
                if (KLAW_UNLIKELY(u > (uint64_t)INT64_MAX))
                    return false;
                v = (int64_t)u;
            } else {
                /* sign-extend from w bytes */
                uint32_t sh = 64 - 8 * w;
                v = (int64_t)(u << sh) >> sh;
            }
            len = 1 + w;
        } else {
            return false;
        }
        if (KLAW_UNLIKELY(v < f->lo || v > f->hi || (f->cflags & CF_MULT)))
            return false;
        store_sint(dst, f->size, v);
        *pp = p + len;
        return true;
    }
    case KLAW_K_DOUBLE:
        if (KLAW_LIKELY(c == 0xcb && end - p >= 9 && !(f->cflags & (CF_FBOUNDS | CF_MULT)))) {
            uint64_t bits = be64(p + 1);
            memcpy(dst, &bits, sizeof bits);
            *pp = p + 9;
            return true;
        }
        return false;
    case KLAW_K_STR: {
        if (KLAW_UNLIKELY((c & 0xe0) != 0xa0 || (f->cflags & (CF_LEN | CF_RE)) || (f->flags & KLAW_F_COPY)))
            return false;
        uint32_t n = c & 0x1fu;
        const uint8_t *d = p + 1;
        if (KLAW_UNLIKELY((size_t)(end - d) < n))
            return false;
        if (!(rflags & KLAW_MP_TRUSTED_UTF8)) {
            if (!short_ascii(d, n))
                return false;
        }
        store_str(dst, (const char *)d, n);
        *pp = d + n;
        return true;
    }
    default: return false;
    }
}

/* An array's view, stored member by member (see store_str()). */
HOT_INLINE void store_array(uint8_t *dst, void *items, uint32_t n)
{
    enum { END = offsetof(klaw_array, len) + sizeof(uint32_t) };
    memcpy(dst + offsetof(klaw_array, items), &items, sizeof items);
    memcpy(dst + offsetof(klaw_array, len), &n, sizeof n);
    if (sizeof(klaw_array) > END)
        memset(dst + END, 0, sizeof(klaw_array) - END);
}

/* An ARRAY field on a bare cursor, for the straight-line array_like loop:
 * a fixarray whose elements quick_at() all takes. Anything else - a
 * length bound, no arena or no room in it, the depth limit, an element
 * quick_at() misses - returns false with *pp unmoved and the arena as it
 * was, for dec_array() to read (and report) from the start. */
HOT_INLINE bool quick_array_at(dctx *c, const uint8_t **pp, const uint8_t *end, uint32_t rflags, const cfield *f,
                               uint8_t *dst)
{
    const uint8_t *p = *pp;
    const cfield *el = f->elem;
    if (KLAW_UNLIKELY(p >= end || (p[0] & 0xf0) != 0x90 || (f->cflags & CF_LEN) || !c->arena ||
                      c->depth >= c->max_depth))
        return false;
    const uint32_t n = p[0] & 0x0fu, size = el->size;
    if (KLAW_UNLIKELY((size_t)(end - p) <= n)) /* each element needs a byte, as the reader checks */
        return false;
    p++;
    uint8_t *items = NULL;
    if (n) {
        const size_t mark = c->arena->used;
        items = klaw_arena_alloc(c->arena, (size_t)n * size, f->elem_align);
        if (KLAW_UNLIKELY(!items))
            return false;
        for (uint32_t j = 0; j < n; j++) {
            if (KLAW_UNLIKELY(!quick_at(&p, end, rflags, el, items + (size_t)j * size))) {
                c->arena->used = mark;
                return false;
            }
        }
    }
    store_array(dst, items, n);
    *pp = p;
    return true;
}

/* dec_quick(), else dec_value(). */
HOT_INLINE klaw_status dec_fast(dctx *c, const cfield *f, uint8_t *dst, const pnode *path)
{
    if (KLAW_LIKELY(dec_quick(c->r, f, dst)))
        return KLAW_OK;
    return dec_value(c, f, dst, path);
}

static klaw_status dec_array(dctx *c, const cfield *f, uint8_t *dst, const pnode *path);

/* A struct field that dec_quick() did not take (or a nullable one), with
 * its path: the struct loops build the path node only here, on the way to
 * the general code, never on the quick path. */
static klaw_status dec_field_slow(dctx *c, const cfield *f, uint8_t *base, const pnode *path)
{
    if (f->flags & KLAW_F_NULLABLE)
        return dec_nullable(c, f, base, path);
    return dec_value(c, f, base + f->offset, path);
}

/* Field f of the struct at base: the quick path, else dec_field_slow()
 * with the path node that up, key, n and kind describe (built only then). */
HOT_INLINE klaw_status dec_field(dctx *c, const cfield *f, uint8_t *base, const pnode *up, const char *key,
                                 uint32_t n, uint32_t kind)
{
    if (KLAW_LIKELY(!(f->flags & KLAW_F_NULLABLE))) {
        if (KLAW_LIKELY(dec_quick(c->r, f, base + f->offset)))
            return KLAW_OK;
        if (f->kind == KLAW_K_ARRAY) { /* dec_value()'s case, without its switch */
            pnode pn = {up, key, n, kind};
            return dec_array(c, f, base + f->offset, &pn);
        }
    }
    pnode pn = {up, key, n, kind};
    return dec_field_slow(c, f, base, &pn);
}

static void apply_struct_defaults(const cstruct *s, uint8_t *base, const uint64_t *seen)
{
    for (uint32_t i = 0; i < s->nfields; i++) {
        const cfield *f = &s->fields[i];
        if ((f->cflags & CF_DEF_WRITE) && !(seen && (seen[i / 64] >> (i % 64)) & 1))
            write_default(f, base);
    }
}

/* Writes field f's default into the struct at base. */
static void write_default(const cfield *f, uint8_t *base)
{
    uint8_t *dst = base + f->offset;
    const klaw_value *d = &f->def;
    if (f->flags & KLAW_F_DEFAULT_NIL) {
        if (f->kind == KLAW_K_UNION)
            store_which(dst, -1);
        return;
    }
    if (f->flags & KLAW_F_NULLABLE)
        store_bool(base + f->present - 1, true);
    switch ((klaw_kind)f->kind) {
    case KLAW_K_BOOL: store_bool(dst, d->b); break;
    case KLAW_K_I8:
    case KLAW_K_I16:
    case KLAW_K_I32:
    case KLAW_K_I64: store_sint(dst, f->size, d->i); break;
    case KLAW_K_U8:
    case KLAW_K_U16:
    case KLAW_K_U32:
    case KLAW_K_U64: store_uint(dst, f->size, d->u); break;
    case KLAW_K_FLOAT: {
        float x = (float)d->d;
        memcpy(dst, &x, sizeof x);
        break;
    }
    case KLAW_K_DOUBLE: memcpy(dst, &d->d, sizeof d->d); break;
    case KLAW_K_STR: {
        klaw_str v = {(const char *)d->ptr, d->len};
        memcpy(dst, &v, sizeof v);
        break;
    }
    case KLAW_K_BIN: {
        klaw_bytes v = {(const uint8_t *)d->ptr, d->len};
        memcpy(dst, &v, sizeof v);
        break;
    }
    case KLAW_K_RAW: {
        klaw_mp_raw v = {(const uint8_t *)d->ptr, d->len};
        memcpy(dst, &v, sizeof v);
        break;
    }
    case KLAW_K_TIMESTAMP: {
        struct timespec ts;
        memset(&ts, 0, sizeof ts);
        ts.tv_sec = (time_t)d->i;
        ts.tv_nsec = (long)d->nsec;
        memcpy(dst, &ts, sizeof ts);
        break;
    }
    case KLAW_K_ENUM: {
        int v = (int)d->i;
        memcpy(dst, &v, sizeof v);
        break;
    }
    case KLAW_K_STRUCT: apply_struct_defaults(f->nested, dst, NULL); break;
    default: break; /* ARRAY, MAP, FIXED: zero */
    }
}

/* Reads a union or struct tag (str or int) at the reader. */
typedef struct tagval {
    const char *s;
    uint32_t n;
    int64_t i;
    bool big; /* an int above INT64_MAX: matches nothing */
    uint64_t u;
} tagval;

static klaw_status read_tag(dctx *c, uint8_t kind, tagval *t, const pnode *path)
{
    klaw_mp_reader *r = c->r;
    const uint8_t *p0 = r->pos;
    klaw_mp_item it;
    memset(t, 0, sizeof *t);
    if (kind == KLAW_TAG_STR) {
        if (KLAW_LIKELY(klaw_mp_read_str(r, &t->s, &t->n) == KLAW_OK))
            return KLAW_OK;
    } else if (KLAW_LIKELY(klaw_mp_read_int(r, &t->i) == KLAW_OK)) {
        return KLAW_OK;
    }
    if (r->err.status != KLAW_VALIDATE) {
        ks_decode_issue(c, path);
        return KLAW_DECODE;
    }
    rd_clear(r, p0);
    if (klaw_mp_read(r, &it) != KLAW_OK) {
        ks_decode_issue(c, path);
        return KLAW_DECODE;
    }
    if (kind == KLAW_TAG_INT && it.type == KLAW_MP_UINT) {
        t->big = true;
        t->u = it.v.u;
        return KLAW_OK;
    }
    ks_issue(c, KLAW_VALIDATE, path, off(c, p0), kind == KLAW_TAG_STR ? "str" : "int", ks_wire_type_name(it.type),
             "Expected `%s`, got `%s`", kind == KLAW_TAG_STR ? "str" : "int", ks_wire_type_name(it.type));
    return KLAW_VALIDATE; /* the caller skips the whole object */
}

static bool tag_matches(const cstruct *s, const tagval *t)
{
    if (s->tag == KLAW_TAG_STR)
        return s->tag_str_len == t->n && memcmp(s->tag_str, t->s, t->n) == 0;
    return !t->big && s->tag_int == t->i;
}

KLAW_COLD static void bad_tag(dctx *c, uint8_t kind, const tagval *t, const uint8_t *p0, const pnode *path)
{
    char got[48];
    if (kind == KLAW_TAG_STR) {
        snprintf(got, sizeof got, "'%.*s'", (int)(t->n < 40 ? t->n : 40), t->s);
        ks_issue(c, KLAW_VALIDATE, path, off(c, p0), "a known tag", got, "Invalid value '%.*s'",
                 (int)(t->n < 64 ? t->n : 64), t->s);
    } else {
        if (t->big)
            snprintf(got, sizeof got, "%llu", (unsigned long long)t->u);
        else
            snprintf(got, sizeof got, "%lld", (long long)t->i);
        ks_issue(c, KLAW_VALIDATE, path, off(c, p0), "a known tag", got, "Invalid value %s", got);
    }
}

/* The tag of a tagged struct decoded on its own (not through a union): it
 * may be there, and must then be the struct's own. */
static klaw_status check_own_tag(dctx *c, const cstruct *s, const pnode *tpath)
{
    const uint8_t *p0 = c->r->pos;
    tagval t;
    klaw_status st = read_tag(c, s->tag, &t, tpath);
    if (st == KLAW_VALIDATE)
        return after_issue(c, p0, tpath);
    if (st != KLAW_OK)
        return st;
    if (!tag_matches(s, &t)) {
        bad_tag(c, s->tag, &t, p0, tpath);
        return after_issue(c, NULL, tpath);
    }
    return KLAW_OK;
}

KLAW_COLD static klaw_status missing_fields(dctx *c, const cstruct *s, const uint64_t *seen, const uint8_t *p0,
                                            const pnode *path)
{
    for (uint32_t i = 0; i < s->nfields; i++) {
        if ((s->required[i / 64] >> (i % 64)) & 1 && !((seen[i / 64] >> (i % 64)) & 1)) {
            const cfield *f = &s->fields[i];
            char exp[48];
            snprintf(exp, sizeof exp, "field `%.*s`", (int)(f->wire_len < 36 ? f->wire_len : 36), f->wire);
            ks_issue(c, KLAW_VALIDATE, path, off(c, p0), exp, "nothing", "Object missing required field `%.*s`",
                     (int)(f->wire_len < 128 ? f->wire_len : 128), f->wire);
            if (!ALL_ERRORS(c))
                break;
        }
    }
    return KLAW_VALIDATE;
}

KLAW_COLD static klaw_status key_issue(dctx *c, const char *what, const char *k, uint32_t n, const uint8_t *kp,
                                       const pnode *path)
{
    char got[48];
    snprintf(got, sizeof got, "`%.*s`", (int)(n < 40 ? n : 40), k);
    ks_issue(c, KLAW_VALIDATE, path, off(c, kp), what[0] == 'u' ? "known field" : "unique field", got,
             "Object contains %s field `%.*s`", what, (int)(n < 128 ? n : 128), k);
    /* the value after the key */
    return after_issue(c, c->r->pos, path);
}

/* A key that is not a str: report it, then (ALL_ERRORS) skip key and value. */
KLAW_COLD static klaw_status bad_key(dctx *c, const uint8_t *kp, const pnode *path)
{
    klaw_mp_reader *r = c->r;
    klaw_mp_item it;
    if (r->err.status != KLAW_VALIDATE) {
        ks_decode_issue(c, path);
        return KLAW_DECODE;
    }
    rd_clear(r, kp);
    if (klaw_mp_read(r, &it) != KLAW_OK) {
        ks_decode_issue(c, path);
        return KLAW_DECODE;
    }
    klaw_status st = type_error(c, "str", false, it.type, kp, path);
    if (st != KLAW_VALIDATE || !ALL_ERRORS(c))
        return st;
    if (klaw_mp_skip(r) != KLAW_OK) {
        ks_decode_issue(c, path);
        return KLAW_DECODE;
    }
    return KLAW_VALIDATE;
}

/* A key that names no field: the tag, an unknown field to skip, or one to
 * refuse. */
static klaw_status other_key(dctx *c, const cstruct *s, const char *k, uint32_t n, bool tag_done,
                             const uint8_t *kp, const pnode *path)
{
    klaw_mp_reader *r = c->r;
    if (s->tag != KLAW_TAG_NONE && n == s->tag_field_len && memcmp(k, s->tag_field, n) == 0) {
        if (!tag_done) {
            pnode tp = {path, s->tag_field, s->tag_field_len, KLAW_PATH_FIELD};
            return check_own_tag(c, s, &tp);
        }
    } else if (s->flags & KLAW_S_FORBID_UNKNOWN) {
        return key_issue(c, "unknown", k, n, kp, path);
    }
    if (KLAW_UNLIKELY(klaw_mp_skip(r) != KLAW_OK)) {
        ks_decode_issue(c, path);
        return KLAW_DECODE;
    }
    return KLAW_OK;
}

/* Sets the bits of fields [0, n) (and clears the rest). */
static void seen_prefix(uint64_t *seen, uint32_t nwords, uint32_t n)
{
    for (uint32_t w = 0; w < nwords; w++) {
        uint32_t lo = w * 64;
        seen[w] = n >= lo + 64 ? ~0ull : n > lo ? (1ull << (n - lo)) - 1 : 0;
    }
}

/* Map form: n pairs follow. tag_done: the tag was read by the union.
 *
 * While every key is the next field in declaration order (`ordered`), the
 * fields seen are exactly [0, cursor) and no bitmap is kept: a key can only
 * match the cursor, beyond every field before it, so it cannot repeat. The
 * first key found by lookup turns the bitmap on. */
static klaw_status dec_struct_map(dctx *c, const cstruct *s, uint8_t *dst, uint32_t n, bool tag_done,
                                  const uint8_t *p0, const pnode *path)
{
    klaw_mp_reader *r = c->r;
    uint64_t seen[KLAW_SCHEMA_MAX_FIELDS / 64];
    uint32_t cursor = 0;
    bool ordered = true, failed = false;
    klaw_status st;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *kp = r->pos;
        uint32_t idx;
        if (KLAW_LIKELY(cursor < s->nfields && key_here(r, &s->fields[cursor]))) {
            /* keys usually come in declaration order: one comparison */
            idx = cursor;
            r->pos += s->fields[cursor].key_mp_len;
        } else {
            const char *k;
            uint32_t kl;
            if (KLAW_UNLIKELY(klaw_mp_read_str(r, &k, &kl) != KLAW_OK)) {
                st = bad_key(c, kp, path);
                goto check;
            }
            idx = lookup(s, k, kl);
            if (KLAW_UNLIKELY(idx == NO_FIELD)) {
                st = other_key(c, s, k, kl, tag_done, kp, path);
                goto check;
            }
            if (ordered) {
                seen_prefix(seen, s->nwords, cursor);
                ordered = false;
            }
        }
        if (KLAW_UNLIKELY(!ordered)) {
            uint64_t bit = 1ull << (idx & 63);
            if (KLAW_UNLIKELY(seen[idx >> 6] & bit)) {
                cursor = idx + 1;
                st = key_issue(c, "duplicate", s->fields[idx].wire, s->fields[idx].wire_len, kp, path);
                goto check;
            }
            seen[idx >> 6] |= bit;
        }
        cursor = idx + 1;
        {
            const cfield *f = &s->fields[idx];
            st = dec_field(c, f, dst, path, f->wire, f->wire_len, KLAW_PATH_FIELD);
        }
    check:
        if (KLAW_UNLIKELY(st != KLAW_OK)) {
            if (st != KLAW_VALIDATE || !ALL_ERRORS(c))
                return st;
            failed = true;
        }
    }
    if (ordered) {
        /* the fields seen are [0, cursor): the required ones all lie below
         * min_items; defaults go to the fields past the cursor */
        if (KLAW_UNLIKELY(cursor < s->min_items)) {
            seen_prefix(seen, s->nwords, cursor);
            missing_fields(c, s, seen, p0, path);
            if (!ALL_ERRORS(c))
                return KLAW_VALIDATE;
            failed = true;
        }
        if (s->apply_defaults)
            for (uint32_t i = cursor; i < s->nfields; i++)
                if (s->fields[i].cflags & CF_DEF_WRITE)
                    write_default(&s->fields[i], dst);
        return failed ? KLAW_VALIDATE : KLAW_OK;
    }
    for (uint32_t w = 0; w < s->nwords; w++) {
        if (KLAW_UNLIKELY((seen[w] & s->required[w]) != s->required[w])) {
            missing_fields(c, s, seen, p0, path);
            if (!ALL_ERRORS(c))
                return KLAW_VALIDATE;
            failed = true;
            break;
        }
    }
    if (s->apply_defaults)
        apply_struct_defaults(s, dst, seen);
    return failed ? KLAW_VALIDATE : KLAW_OK;
}

KLAW_COLD static klaw_status items_error(dctx *c, bool at_least, uint32_t want, uint32_t n, const uint8_t *p0,
                                         const pnode *path)
{
    char exp[48], got[16];
    snprintf(exp, sizeof exp, "array of at %s length %u", at_least ? "least" : "most", want);
    snprintf(got, sizeof got, "%u", n);
    ks_issue(c, KLAW_VALIDATE, path, off(c, p0), exp, got, "Expected `array` of at %s length %u, got %u",
             at_least ? "least" : "most", want, n);
    return after_issue(c, p0, path);
}

/* array_like form: n items follow, the first `first` already read (the
 * tag). */
HOT_INLINE klaw_status dec_struct_array(dctx *c, const cstruct *s, uint8_t *dst, uint32_t n, uint32_t first,
                                   const uint8_t *p0, const pnode *path)
{
    klaw_mp_reader *r = c->r;
    uint32_t avail = n - first, nf = s->nfields;
    bool failed = false;
    if (KLAW_UNLIKELY(avail < s->min_items))
        return items_error(c, true, first + s->min_items, n, p0, path);
    if (KLAW_UNLIKELY(avail > nf && (s->flags & KLAW_S_FORBID_UNKNOWN)))
        return items_error(c, false, first + nf, n, p0, path);
    uint32_t m = avail < nf ? avail : nf;
    /* straight line: the position in a register (see quick_at()), the
     * reader brought up to date only around a field the general path
     * reads; a path node only then too */
    const cfield *fields = s->fields;
    const uint8_t *pos = r->pos, *const end = r->end;
    const uint32_t rflags = r->flags;
    for (uint32_t i = 0; i < m; i++) {
        const cfield *f = &fields[i];
        if (KLAW_LIKELY(!(f->flags & KLAW_F_NULLABLE) && r->err.status == KLAW_OK &&
                        (quick_at(&pos, end, rflags, f, dst + f->offset) ||
                         (f->kind == KLAW_K_ARRAY && quick_array_at(c, &pos, end, rflags, f, dst + f->offset)))))
            continue;
        r->pos = pos;
        klaw_status st;
        {
            pnode pn = {path, NULL, first + i, KLAW_PATH_INDEX};
            if (!(f->flags & KLAW_F_NULLABLE) && f->kind == KLAW_K_ARRAY)
                st = dec_array(c, f, dst + f->offset, &pn); /* dec_value()'s case, without its switch */
            else
                st = dec_field_slow(c, f, dst, &pn);
        }
        pos = r->pos;
        if (KLAW_UNLIKELY(st != KLAW_OK)) {
            if (st != KLAW_VALIDATE || !ALL_ERRORS(c))
                return st;
            failed = true;
        }
    }
    r->pos = pos;
    for (uint32_t i = m; i < avail; i++) {
        if (KLAW_UNLIKELY(klaw_mp_skip(r) != KLAW_OK)) {
            ks_decode_issue(c, path);
            return KLAW_DECODE;
        }
    }
    if (s->apply_defaults) {
        for (uint32_t i = m; i < nf; i++)
            if (s->fields[i].cflags & CF_DEF_WRITE)
                write_default(&s->fields[i], dst);
    }
    return failed ? KLAW_VALIDATE : KLAW_OK;
}

static klaw_status dec_struct(dctx *c, const cstruct *s, uint8_t *dst, const cfield *f, const pnode *path)
{
    klaw_mp_reader *r = c->r;
    const uint8_t *p0 = r->pos;
    uint32_t n;
    klaw_status st;
    if (KLAW_UNLIKELY(++c->depth > c->max_depth))
        return too_deep(c, p0, path);
    if (s->flags & KLAW_S_ARRAY_LIKE) {
        if (KLAW_UNLIKELY(klaw_mp_read_array(r, &n) != KLAW_OK)) {
            st = rd_failed(c, f, p0, path);
        } else if (s->tag == KLAW_TAG_NONE) {
            st = dec_struct_array(c, s, dst, n, 0, p0, path);
        } else if (n == 0) {
            st = items_error(c, true, 1 + s->min_items, n, p0, path);
        } else {
            pnode tp = {path, NULL, 0, KLAW_PATH_INDEX};
            st = check_own_tag(c, s, &tp);
            if (st == KLAW_OK || (st == KLAW_VALIDATE && ALL_ERRORS(c))) {
                klaw_status st2 = dec_struct_array(c, s, dst, n, 1, p0, path);
                st = st2 != KLAW_OK ? st2 : st;
            }
        }
    } else {
        if (KLAW_LIKELY(klaw_mp_read_map(r, &n) == KLAW_OK))
            st = dec_struct_map(c, s, dst, n, false, p0, path);
        else
            st = rd_failed(c, f, p0, path);
    }
    c->depth--;
    return st;
}

/* ---- unions ---------------------------------------------------------------------------- */

static klaw_status find_variant(dctx *c, const cunion *u, uint32_t *which, const pnode *tpath)
{
    const uint8_t *p0 = c->r->pos;
    tagval t;
    klaw_status st = read_tag(c, u->tag, &t, tpath);
    if (st != KLAW_OK)
        return st;
    for (uint32_t i = 0; i < u->count; i++) {
        if (tag_matches(u->variants[i], &t)) {
            *which = i;
            return KLAW_OK;
        }
    }
    bad_tag(c, u->tag, &t, p0, tpath);
    return KLAW_VALIDATE;
}

static klaw_status dec_union_body(dctx *c, const cunion *u, uint8_t *holder, const cfield *f, const uint8_t *p0,
                                  const pnode *path)
{
    klaw_mp_reader *r = c->r;
    uint8_t *dst = holder + u->offset;
    uint32_t n, which = 0;
    klaw_status st;
    if (u->array_like) {
        if (KLAW_UNLIKELY(klaw_mp_read_array(r, &n) != KLAW_OK))
            return rd_failed(c, f, p0, path);
        if (KLAW_UNLIKELY(n == 0))
            return items_error(c, true, 1, 0, p0, path);
        pnode tp = {path, NULL, 0, KLAW_PATH_INDEX};
        st = find_variant(c, u, &which, &tp);
        if (KLAW_UNLIKELY(st != KLAW_OK))
            return st == KLAW_VALIDATE ? after_issue(c, p0, path) : st;
        store_which(holder, (int32_t)which);
        return dec_struct_array(c, u->variants[which], dst, n, 1, p0, path);
    }
    if (KLAW_UNLIKELY(klaw_mp_read_map(r, &n) != KLAW_OK))
        return rd_failed(c, f, p0, path);
    const uint8_t *pairs = r->pos;
    pnode tp = {path, u->tag_field, u->tag_field_len, KLAW_PATH_FIELD};
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *kp = r->pos;
        const char *k;
        uint32_t kl;
        if (KLAW_LIKELY(klaw_mp_read_str(r, &k, &kl) == KLAW_OK)) {
            if (kl == u->tag_field_len && memcmp(k, u->tag_field, kl) == 0) {
                st = find_variant(c, u, &which, &tp);
                if (KLAW_UNLIKELY(st != KLAW_OK))
                    return st == KLAW_VALIDATE ? after_issue(c, p0, path) : st;
                store_which(holder, (int32_t)which);
                /* tag first: go on from here; else start the pairs again */
                if (i == 0)
                    return dec_struct_map(c, u->variants[which], dst, n - 1, true, p0, path);
                r->pos = pairs;
                return dec_struct_map(c, u->variants[which], dst, n, true, p0, path);
            }
        } else if (r->err.status == KLAW_VALIDATE) {
            /* a key that is not a str: the variant's decode reports it */
            rd_clear(r, kp);
            if (klaw_mp_skip(r) != KLAW_OK) {
                ks_decode_issue(c, path);
                return KLAW_DECODE;
            }
        } else {
            ks_decode_issue(c, path);
            return KLAW_DECODE;
        }
        if (KLAW_UNLIKELY(klaw_mp_skip(r) != KLAW_OK)) {
            ks_decode_issue(c, path);
            return KLAW_DECODE;
        }
    }
    char exp[48];
    snprintf(exp, sizeof exp, "field `%.*s`", (int)(u->tag_field_len < 36 ? u->tag_field_len : 36), u->tag_field);
    ks_issue(c, KLAW_VALIDATE, path, off(c, p0), exp, "nothing", "Object missing required field `%.*s`",
             (int)(u->tag_field_len < 128 ? u->tag_field_len : 128), u->tag_field);
    return after_issue(c, p0, path);
}

static klaw_status dec_union(dctx *c, const cunion *u, uint8_t *holder, const cfield *f, const pnode *path)
{
    const uint8_t *p0 = c->r->pos;
    if (KLAW_UNLIKELY(++c->depth > c->max_depth))
        return too_deep(c, p0, path);
    store_which(holder, -1);
    klaw_status st = dec_union_body(c, u, holder, f, p0, path);
    c->depth--;
    return st;
}

/* ---- arrays, fixed arrays, maps --------------------------------------------------------- */

static klaw_status dec_array(dctx *c, const cfield *f, uint8_t *dst, const pnode *path)
{
    klaw_mp_reader *r = c->r;
    const uint8_t *p0 = r->pos;
    const cfield *el = f->elem;
    uint32_t n;
    bool failed = false;
    klaw_status st = KLAW_OK;
    if (KLAW_UNLIKELY(klaw_mp_read_array(r, &n) != KLAW_OK))
        return rd_failed(c, f, p0, path);
    if (KLAW_UNLIKELY((f->cflags & CF_LEN) && (n < f->minlen || n > f->maxlen)))
        return length_error(c, "array", n, f, p0, p0, path);
    if (KLAW_UNLIKELY(++c->depth > c->max_depth))
        return too_deep(c, p0, path);
    uint8_t *items = NULL;
    if (n) {
        if ((size_t)n > SIZE_MAX / el->size) {
            c->depth--;
            return arena_full(c, p0, SIZE_MAX, path);
        }
        size_t bytes = (size_t)n * el->size;
        items = c->arena ? klaw_arena_alloc(c->arena, bytes, f->elem_align) : NULL;
        if (KLAW_UNLIKELY(!items)) {
            c->depth--;
            return arena_full(c, p0, bytes, path);
        }
        uint32_t i = 0;
        /* elements the quick path writes whole: no zeroing, no path node,
         * until one misses; what is left is then zeroed and goes the
         * general way */
        if (el->kind == KLAW_K_STR && !(el->cflags & (CF_LEN | CF_RE)) && !(el->flags & KLAW_F_COPY)) {
            /* strs (the common case), with dec_quick()'s tests made once */
            for (; i < n; i++) {
                uint8_t *item = items + (size_t)i * sizeof(klaw_str);
                klaw_str v;
                if (KLAW_LIKELY(short_ascii_str(r, &v))) {
                    store_str(item, v.ptr, v.len);
                    continue;
                }
                if (KLAW_UNLIKELY(!dec_quick(r, el, item))) {
                    memset(item, 0, (size_t)(n - i) * sizeof(klaw_str));
                    break;
                }
            }
        } else if (el->kind == KLAW_K_I32 || el->kind == KLAW_K_I64 || el->kind == KLAW_K_DOUBLE) {
            for (; i < n; i++) {
                uint8_t *item = items + (size_t)i * el->size;
                if (KLAW_UNLIKELY(!dec_quick(r, el, item))) {
                    memset(item, 0, (size_t)(n - i) * el->size);
                    break;
                }
            }
        } else {
            memset(items, 0, bytes);
        }
        for (; i < n; i++) {
            pnode pn = {path, NULL, i, KLAW_PATH_INDEX};
            st = dec_fast(c, el, items + (size_t)i * el->size, &pn);
            if (KLAW_UNLIKELY(st != KLAW_OK)) {
                if (st != KLAW_VALIDATE || !ALL_ERRORS(c))
                    break;
                failed = true;
                st = KLAW_OK;
            }
        }
    }
    c->depth--;
    if (st != KLAW_OK)
        return st;
    store_array(dst, items, n);
    return failed ? KLAW_VALIDATE : KLAW_OK;
}

static klaw_status dec_fixed(dctx *c, const cfield *f, uint8_t *dst, const pnode *path)
{
    klaw_mp_reader *r = c->r;
    const uint8_t *p0 = r->pos;
    const cfield *el = f->elem;
    uint32_t n;
    bool failed = false;
    klaw_status st = KLAW_OK;
    if (KLAW_UNLIKELY(klaw_mp_read_array(r, &n) != KLAW_OK))
        return rd_failed(c, f, p0, path);
    if (KLAW_UNLIKELY(n != f->count)) {
        char exp[48], got[16];
        snprintf(exp, sizeof exp, "array of length %u", f->count);
        snprintf(got, sizeof got, "%u", n);
        ks_issue(c, KLAW_VALIDATE, path, off(c, p0), exp, got, "Expected `array` of length %u, got %u", f->count, n);
        return after_issue(c, p0, path);
    }
    if (KLAW_UNLIKELY(++c->depth > c->max_depth))
        return too_deep(c, p0, path);
    for (uint32_t i = 0; i < n; i++) {
        pnode pn = {path, NULL, i, KLAW_PATH_INDEX};
        st = dec_fast(c, el, dst + (size_t)i * el->size, &pn);
        if (KLAW_UNLIKELY(st != KLAW_OK)) {
            if (st != KLAW_VALIDATE || !ALL_ERRORS(c))
                break;
            failed = true;
            st = KLAW_OK;
        }
    }
    c->depth--;
    if (st != KLAW_OK)
        return st;
    return failed ? KLAW_VALIDATE : KLAW_OK;
}

static klaw_status dec_map(dctx *c, const cfield *f, uint8_t *dst, const pnode *path)
{
    klaw_mp_reader *r = c->r;
    const uint8_t *p0 = r->pos;
    const cfield *el = f->elem;
    uint32_t n, stride = f->count;
    bool failed = false;
    klaw_status st = KLAW_OK;
    if (KLAW_UNLIKELY(klaw_mp_read_map(r, &n) != KLAW_OK))
        return rd_failed(c, f, p0, path);
    if (KLAW_UNLIKELY((f->cflags & CF_LEN) && (n < f->minlen || n > f->maxlen)))
        return length_error(c, "object", n, f, p0, p0, path);
    if (KLAW_UNLIKELY(++c->depth > c->max_depth))
        return too_deep(c, p0, path);
    uint8_t *entries = NULL;
    if (n) {
        if ((size_t)n > SIZE_MAX / stride) {
            c->depth--;
            return arena_full(c, p0, SIZE_MAX, path);
        }
        size_t bytes = (size_t)n * stride;
        entries = c->arena ? klaw_arena_alloc(c->arena, bytes, f->elem_align) : NULL;
        if (KLAW_UNLIKELY(!entries)) {
            c->depth--;
            return arena_full(c, p0, bytes, path);
        }
        memset(entries, 0, bytes);
        for (uint32_t i = 0; i < n; i++) {
            uint8_t *e = entries + (size_t)i * stride;
            const uint8_t *kp = r->pos;
            klaw_str key;
            pnode kn = {path, NULL, 0, KLAW_PATH_KEY};
            if (KLAW_UNLIKELY(klaw_mp_read_str(r, &key.ptr, &key.len) != KLAW_OK)) {
                st = bad_key(c, kp, &kn);
                if (st != KLAW_VALIDATE || !ALL_ERRORS(c))
                    break;
                failed = true;
                st = KLAW_OK;
                continue;
            }
            if (f->flags & KLAW_F_COPY) {
                char *p = c->arena ? klaw_arena_alloc(c->arena, (size_t)key.len + 1, 1) : NULL;
                if (!p) {
                    st = arena_full(c, kp, (size_t)key.len + 1, &kn);
                    break;
                }
                if (key.len)
                    memcpy(p, key.ptr, key.len);
                p[key.len] = '\0';
                key.ptr = p;
            }
            memcpy(e, &key, sizeof key);
            kn.key = key.ptr;
            kn.n = key.len;
            st = dec_fast(c, el, e + el->offset, &kn);
            if (KLAW_UNLIKELY(st != KLAW_OK)) {
                if (st != KLAW_VALIDATE || !ALL_ERRORS(c))
                    break;
                failed = true;
                st = KLAW_OK;
            }
        }
    }
    c->depth--;
    if (st != KLAW_OK)
        return st;
    klaw_map m = {entries, n};
    memcpy(dst, &m, sizeof m);
    return failed ? KLAW_VALIDATE : KLAW_OK;
}

/* ---- one value ----------------------------------------------------------------------------- */

static klaw_status dec_value(dctx *c, const cfield *f, uint8_t *dst, const pnode *path)
{
    klaw_mp_reader *r = c->r;
    const uint8_t *p0 = r->pos;
    switch ((klaw_kind)f->kind) {
    case KLAW_K_BOOL:
        if (KLAW_LIKELY(r->pos < r->end && (*r->pos | 1) == 0xc3)) {
            store_bool(dst, *r->pos == 0xc3);
            r->pos++;
            return KLAW_OK;
        }
        return dec_scalar_slow(c, f, dst, p0, path);
    case KLAW_K_I8:
    case KLAW_K_I16:
    case KLAW_K_I32:
    case KLAW_K_I64: {
        int64_t v;
        if (KLAW_LIKELY(klaw_mp_read_int(r, &v) == KLAW_OK && v >= f->lo && v <= f->hi && !(f->cflags & CF_MULT))) {
            store_sint(dst, f->size, v);
            return KLAW_OK;
        }
        return dec_scalar_slow(c, f, dst, p0, path);
    }
    case KLAW_K_U8:
    case KLAW_K_U16:
    case KLAW_K_U32:
    case KLAW_K_U64: {
        uint64_t v;
        if (KLAW_LIKELY(klaw_mp_read_uint(r, &v) == KLAW_OK && v >= f->ulo && v <= f->uhi &&
                        !(f->cflags & CF_MULT))) {
            store_uint(dst, f->size, v);
            return KLAW_OK;
        }
        return dec_scalar_slow(c, f, dst, p0, path);
    }
    case KLAW_K_DOUBLE: {
        double d;
        if (KLAW_LIKELY(klaw_mp_read_double(r, &d) == KLAW_OK && !(f->cflags & (CF_FBOUNDS | CF_MULT)))) {
            memcpy(dst, &d, sizeof d);
            return KLAW_OK;
        }
        return dec_scalar_slow(c, f, dst, p0, path);
    }
    case KLAW_K_FLOAT: {
        double d;
        if (KLAW_LIKELY(klaw_mp_read_double(r, &d) == KLAW_OK && !(f->cflags & (CF_FBOUNDS | CF_MULT)) &&
                        float32_range_ok(d))) {
            float x = (float)d;
            memcpy(dst, &x, sizeof x);
            return KLAW_OK;
        }
        return dec_scalar_slow(c, f, dst, p0, path);
    }
    case KLAW_K_STR: {
        const char *s;
        uint32_t n;
        if (KLAW_UNLIKELY(klaw_mp_read_str(r, &s, &n) != KLAW_OK))
            return dec_scalar_slow(c, f, dst, p0, path);
        if (KLAW_LIKELY(!(f->cflags & (CF_LEN | CF_RE)) && !(f->flags & KLAW_F_COPY))) {
            store_str(dst, s, n);
            return KLAW_OK;
        }
        return put_bytes(c, f, dst, s, n, p0, path);
    }
    case KLAW_K_BIN: {
        const uint8_t *b;
        uint32_t n;
        if (KLAW_UNLIKELY(klaw_mp_read_bin(r, &b, &n) != KLAW_OK))
            return dec_scalar_slow(c, f, dst, p0, path);
        return put_bytes(c, f, dst, b, n, p0, path);
    }
    case KLAW_K_RAW: {
        klaw_mp_raw raw;
        if (KLAW_UNLIKELY(klaw_mp_read_raw(r, &raw) != KLAW_OK)) {
            ks_decode_issue(c, path);
            return KLAW_DECODE;
        }
        memcpy(dst, &raw, sizeof raw);
        return KLAW_OK;
    }
    case KLAW_K_TIMESTAMP: {
        int64_t sec;
        uint32_t nsec;
        if (KLAW_LIKELY(klaw_mp_read_timestamp(r, &sec, &nsec) == KLAW_OK && (int64_t)(time_t)sec == sec)) {
            struct timespec ts;
            memset(&ts, 0, sizeof ts);
            ts.tv_sec = (time_t)sec;
            ts.tv_nsec = (long)nsec;
            memcpy(dst, &ts, sizeof ts);
            return KLAW_OK;
        }
        return dec_scalar_slow(c, f, dst, p0, path);
    }
    case KLAW_K_ENUM: return dec_enum(c, f, dst, path);
    case KLAW_K_STRUCT: return dec_struct(c, f->nested, dst, f, path);
    case KLAW_K_ARRAY: return dec_array(c, f, dst, path);
    case KLAW_K_FIXED: return dec_fixed(c, f, dst, path);
    case KLAW_K_MAP: return dec_map(c, f, dst, path);
    case KLAW_K_UNION: return dec_union(c, f->uni, dst, f, path);
    default: return decode_fail(c, p0, "bad schema", path);
    }
}

/* ---- the API ---------------------------------------------------------------------------------- */

static klaw_status decode_run(const klaw_schema *s, klaw_mp_reader *r, void *out, klaw_arena *arena,
                              uint32_t flags, klaw_schema_error *err, bool whole)
{
    dctx c;
    size_t mark = arena ? arena->used : 0;
    klaw_status st;
    c.r = r;
    c.arena = arena;
    c.err = err;
    c.flags = flags;
    c.depth = 0;
    c.max_depth = r->max_depth < KLAW_SCHEMA_MAX_DEPTH ? r->max_depth : KLAW_SCHEMA_MAX_DEPTH;
    c.nissues = 0;
    memset(out, 0, s->root.size);
    if (KLAW_UNLIKELY(r->err.status != KLAW_OK)) {
        ks_decode_issue(&c, NULL);
        st = r->err.status;
    } else {
        /* a struct at the top goes straight in (the common case) */
        st = s->root.kind == KLAW_K_STRUCT ? dec_struct(&c, s->root.nested, out, &s->root, NULL)
                                           : dec_value(&c, &s->root, out, NULL);
        if (whole && (st == KLAW_OK || (st == KLAW_VALIDATE && ALL_ERRORS(&c))) &&
            KLAW_UNLIKELY(r->pos != r->end)) {
            klaw_mp_reader_finish(r);
            ks_decode_issue(&c, NULL);
            st = KLAW_DECODE;
        }
    }
    if (KLAW_LIKELY(st == KLAW_OK)) {
        if (err) {
            err->status = KLAW_OK;
            err->count = 0;
            err->kept = 0;
        }
        return KLAW_OK;
    }
    memset(out, 0, s->root.size);
    if (arena)
        arena->used = mark;
    if (c.nissues == 0) /* every failure records one; this is a safety net */
        ks_issue(&c, st, NULL, klaw_mp_reader_offset(r), "", "", "%s", klaw_strerror(st));
    if (err) {
        err->status = st;
        err->count = c.nissues;
    }
    return st;
}

klaw_status klaw_schema_decode(const klaw_schema *s, const void *buf, size_t len, void *out, klaw_arena *arena,
                               uint32_t flags, klaw_schema_error *err)
{
    klaw_mp_reader r;
    /* klaw_mp_reader_init(), inline: this is on every frame's path */
    r.start = (const uint8_t *)buf;
    r.pos = r.start;
    r.end = r.start ? r.start + len : r.start;
    r.flags = flags & KLAW_MP_TRUSTED_UTF8;
    r.max_depth = KLAW_MP_DEFAULT_MAX_DEPTH;
    r.err.status = KLAW_OK;
    r.err.offset = 0;
    r.err.reason = NULL;
    r.err.expected = KLAW_MP_NONE;
    r.err.got = KLAW_MP_NONE;
    return decode_run(s, &r, out, arena, flags, err, true);
}

klaw_status klaw_schema_decode_reader(const klaw_schema *s, klaw_mp_reader *r, void *out, klaw_arena *arena,
                                      uint32_t flags, klaw_schema_error *err)
{
    return decode_run(s, r, out, arena, flags, err, false);
}
