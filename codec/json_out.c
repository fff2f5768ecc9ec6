/*
 * json_out.c - MessagePack -> JSON text (see klaw/json.h for the mapping).
 *
 * The walk reads one header at a time with klaw_mp_read(), so every check
 * the strict reader makes happens here too, and keeps for each open
 * container one 64-bit word: the values it still holds (a map of n pairs
 * holds 2n) and two flags. A small stack on the C stack serves shallow
 * values; a deeper one moves the walk to a cold function with room for the
 * reader's largest depth limit. Nothing recurses on the input's shape.
 *
 * Output goes through put(): either into a staging buffer that is handed to
 * the caller's callback when it fills, or straight into the caller's buffer
 * (then overflow is sticky and the walk goes on counting, as the writer
 * does). A map key that is an array, map or ext is written as its JSON text
 * inside a string, so while such a key is open every byte put() receives is
 * escaped once more per enclosing key (o->esc levels).
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "klaw/json.h"

/* ---- output ------------------------------------------------------------ */

#define STAGE_BYTES 2048

/* Invariant: pos <= cap, so raw_put's test `n <= cap - pos` cannot wrap.
 * Once output must stop (buffer full, callback failed, key refused) cap is
 * cut to pos, and every later put falls to put_slow, which drops it. */
typedef struct jout {
    char *buf;              /* staging buffer, or the caller's out          */
    size_t cap;             /* its size, or pos once output stopped         */
    size_t pos;             /* bytes in buf                                 */
    size_t over;            /* buffer mode: bytes counted past the buffer   */
    klaw_json_write_fn fn;  /* NULL in buffer mode                          */
    void *ctx;
    klaw_status st;         /* fn's failure, or TOOBIG in buffer mode       */
    unsigned esc;           /* container keys enclosing the output point    */
    const uint8_t *refused; /* a key nested too deep for JSON, or NULL      */
} jout;

KLAW_COLD static void put_slow(jout *o, const char *s, size_t n)
{
    if (o->refused)
        return; /* the walk goes on only to check the bytes */
    if (!o->fn) {
        /* buffer mode: stop writing, keep counting */
        o->st = KLAW_TOOBIG;
        o->cap = o->pos;
        o->over += n;
        return;
    }
    if (o->st != KLAW_OK)
        return;
    if (o->pos) {
        o->st = o->fn(o->ctx, o->buf, o->pos);
        o->pos = 0;
    }
    if (o->st == KLAW_OK) {
        if (n >= STAGE_BYTES) {
            o->st = o->fn(o->ctx, s, n);
        } else {
            memcpy(o->buf, s, n);
            o->pos = n;
        }
    }
    if (o->st != KLAW_OK)
        o->cap = o->pos = 0; /* every later put takes the slow path and drops */
}

static inline void raw_put(jout *o, const char *s, size_t n)
{
    if (KLAW_LIKELY(n <= o->cap - o->pos)) {
        memcpy(o->buf + o->pos, s, n);
        o->pos += n;
    } else {
        put_slow(o, s, n);
    }
}

/* ---- escaping ---------------------------------------------------------- */

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* Nonzero when some byte of x is '"', '\\' or below 0x20 (exact as a
 * whole-word test; bytes >= 0x80 never match). */
static inline uint64_t needs_escape8(uint64_t x)
{
    uint64_t q = x ^ (ONES * '"');
    uint64_t b = x ^ (ONES * '\\');
    uint64_t ctl = (x - ONES * 0x20) & ~x;
    uint64_t zq = (q - ONES) & ~q;
    uint64_t zb = (b - ONES) & ~b;
    return (ctl | zq | zb) & HIGHS;
}

static inline bool needs_escape(uint8_t c) { return c == '"' || c == '\\' || c < 0x20; }

/* Length of the leading run of s that needs no escaping. */
static inline size_t plain_run(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i + 8 <= n) {
        uint64_t x;
        memcpy(&x, s + i, 8);
        if (needs_escape8(x))
            break;
        i += 8;
    }
    while (i < n && !needs_escape(s[i]))
        i++;
    return i;
}

/* The JSON escape of one byte that needs it; returns its length. */
static size_t escape_byte(uint8_t c, char e[6])
{
    static const char hex[] = "0123456789abcdef";
    e[0] = '\\';
    switch (c) {
    case '"': e[1] = '"'; return 2;
    case '\\': e[1] = '\\'; return 2;
    case '\b': e[1] = 'b'; return 2;
    case '\f': e[1] = 'f'; return 2;
    case '\n': e[1] = 'n'; return 2;
    case '\r': e[1] = 'r'; return 2;
    case '\t': e[1] = 't'; return 2;
    default:
        e[1] = 'u';
        e[2] = '0';
        e[3] = '0';
        e[4] = hex[c >> 4];
        e[5] = hex[c & 15];
        return 6;
    }
}

static void put_esc(jout *o, unsigned level, const char *s, size_t n);

/* Puts s as text at escape level `level` (0: as is). */
static inline void put_lvl(jout *o, unsigned level, const char *s, size_t n)
{
    if (KLAW_LIKELY(level == 0))
        raw_put(o, s, n);
    else
        put_esc(o, level, s, n);
}

/* Escapes s once and puts the result at level - 1. Recursion depth is the
 * level, at most KLAW_JSON_MAX_KEY_NESTING + 1. */
static void put_esc(jout *o, unsigned level, const char *s, size_t n)
{
    const uint8_t *u = (const uint8_t *)s;
    size_t i = 0;
    while (i < n) {
        size_t run = plain_run(u + i, n - i);
        if (run)
            put_lvl(o, level - 1, s + i, run);
        i += run;
        if (i == n)
            break;
        char e[6];
        put_lvl(o, level - 1, e, escape_byte(u[i], e));
        i++;
    }
}

/* All text of the value goes through put(): escaped once per open
 * container key. */
static inline void put(jout *o, const char *s, size_t n) { put_lvl(o, o->esc, s, n); }
static inline void put_c(jout *o, char c) { put_lvl(o, o->esc, &c, 1); }

/* A JSON string with content s. */
static void put_string(jout *o, const char *s, size_t n)
{
    put_c(o, '"');
    put_esc(o, o->esc + 1, s, n);
    put_c(o, '"');
}

/* ---- numbers ----------------------------------------------------------- */

/* Writes v in decimal ending just before `end`; returns the first char. */
static inline char *u64_digits(uint64_t v, char *end)
{
    do {
        *--end = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return end;
}

static void put_uint(jout *o, uint64_t v)
{
    char b[24];
    char *s = u64_digits(v, b + sizeof b);
    put(o, s, (size_t)(b + sizeof b - s));
}

static void put_int(jout *o, int64_t v)
{
    char b[24];
    char *s = u64_digits(v < 0 ? 0 - (uint64_t)v : (uint64_t)v, b + sizeof b);
    if (v < 0)
        *--s = '-';
    put(o, s, (size_t)(b + sizeof b - s));
}

/* Lays out a decimal significand (digits d[0..k), no trailing zeros, d[0]
 * nonzero) times 10^e10, where e10 is the exponent of the first digit, in
 * Python repr()'s style: positional when -4 <= e10 < 16, always with a '.'
 * ("100.0", "0.001"), else scientific with a signed two-digit-or-more
 * exponent ("1e+16", "1.5e-05"). Either form is read back as a float.
 * Returns the length written to out (at most 17 + 22 bytes). */
static size_t layout_float(char *out, bool neg, const char *d, int k, int e10)
{
    char *p = out;
    if (neg)
        *p++ = '-';
    if (e10 >= -4 && e10 < 16) {
        if (e10 < 0) {
            *p++ = '0';
            *p++ = '.';
            for (int i = -1; i > e10; i--)
                *p++ = '0';
            memcpy(p, d, (size_t)k);
            p += k;
        } else {
            for (int i = 0; i <= e10; i++)
                *p++ = i < k ? d[i] : '0';
            *p++ = '.';
            if (k > e10 + 1) {
                memcpy(p, d + e10 + 1, (size_t)(k - e10 - 1));
                p += k - e10 - 1;
            } else {
                *p++ = '0';
            }
        }
    } else {
        *p++ = d[0];
        if (k > 1) {
            *p++ = '.';
            memcpy(p, d + 1, (size_t)(k - 1));
            p += k - 1;
        }
        *p++ = 'e';
        *p++ = e10 < 0 ? '-' : '+';
        int a = e10 < 0 ? -e10 : e10;
        if (a >= 100)
            *p++ = (char)('0' + a / 100);
        *p++ = (char)('0' + a / 10 % 10);
        *p++ = (char)('0' + a % 10);
    }
    return (size_t)(p - out);
}

/* Shortest digits of a finite, nonzero |x|: the fewest significant digits,
 * up to max_prec (17 or 9, always enough), that read back to the same
 * value. For a normal number the search starts at the type's DIG (15 or 6):
 * every decimal of that many digits or fewer round-trips through the type,
 * so if a shorter one reads back to x, the DIG-digit text is it padded with
 * zeros, which are stripped. Subnormals have fewer bits, so their search
 * starts at 1 digit (5e-324). Uses printf's %e (correctly rounded in glibc)
 * and strtod/strtof; the digits are picked out of the text, so whatever
 * decimal point the locale prints does not matter, and the round-trip test
 * reads the text in the same locale that wrote it. Returns k, fills d and
 * *e10. */
static int shortest_digits(double x, bool is_f32, char d[20], int *e10)
{
    const int max_prec = is_f32 ? 9 : 17;
    int min_prec = is_f32 ? (x < FLT_MIN ? 1 : 6) : (x < DBL_MIN ? 1 : 15);
    char txt[48];
    for (int prec = min_prec;; prec++) {
        snprintf(txt, sizeof txt, "%.*e", prec - 1, x);
        bool exact = prec == max_prec;
        if (!exact) {
            if (is_f32)
                exact = strtof(txt, NULL) == (float)x;
            else
                exact = strtod(txt, NULL) == x;
        }
        if (!exact)
            continue;
        /* "d.ddddde[+-]XX": collect digits until 'e' */
        int k = 0;
        const char *s = txt;
        for (; *s && *s != 'e'; s++)
            if (*s >= '0' && *s <= '9')
                d[k++] = *s;
        *e10 = atoi(s + 1);
        while (k > 1 && d[k - 1] == '0')
            k--;
        return k;
    }
}

/* The fast path for the common float64 that is a short decimal (a price,
 * 0.1, 1.5e-07): the smallest k in 1..22 for which m = round(a * 10^k)
 * gives back a exactly as m / 10^k, with m < 10^15. Both m and 10^k are
 * exact doubles, so the IEEE division is the correctly rounded value of the
 * decimal m * 10^-k - the same double strtod would read - and the check is
 * exact even though a * 10^k itself may round. With at most 15 significant
 * digits the decimal that reads back to a is unique (DBL_DIG is 15), so it
 * is the one shortest_digits() would find, at no snprintf/strtod cost.
 * Returns the digit count (0: not a short decimal, use the slow path). */
static int short_decimal_digits(double a, char d[20], int *e10)
{
    static const double pow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    if (!(a >= 1e-7 && a < 1e15))
        return 0;
    for (int k = 1; k <= 22; k++) {
        double y = a * pow10[k];
        if (y >= 1e15)
            return 0;
        double m = nearbyint(y);
        if (m == 0 || m / pow10[k] != a)
            continue;
        char b[24];
        char *s = u64_digits((uint64_t)m, b + sizeof b);
        int n = (int)(b + sizeof b - s);
        memcpy(d, s, (size_t)n);
        *e10 = n - 1 - k;
        while (n > 1 && d[n - 1] == '0')
            n--;
        return n;
    }
    return 0;
}

/* A float64 or float32 value (x holds the float32 widened, exactly). */
static void put_float(jout *o, double x, bool is_f32)
{
    char out[48];
    size_t n;
    if (KLAW_UNLIKELY(!isfinite(x))) {
        put(o, "null", 4);
        return;
    }
    bool neg = signbit(x) != 0;
    double a = fabs(x);
    if (a < (is_f32 ? 16777216.0 : 9007199254740992.0) && a == (double)(int64_t)a) {
        /* an integral value below 2^24 (float32) or 2^53, where the gap to
         * the next value is at most 1: its digits are exact and the
         * shortest; positional layout since it is below 10^16 */
        char b[24];
        char *s = u64_digits((uint64_t)a, b + sizeof b);
        char *p = out;
        if (neg)
            *p++ = '-';
        size_t k = (size_t)(b + sizeof b - s);
        memcpy(p, s, k);
        p += k;
        memcpy(p, ".0", 2);
        n = (size_t)(p + 2 - out);
    } else {
        char d[20];
        int e10;
        int k = is_f32 ? 0 : short_decimal_digits(a, d, &e10);
        if (k == 0)
            k = shortest_digits(a, is_f32, d, &e10);
        n = layout_float(out, neg, d, k, e10);
    }
    put(o, out, n);
}

/* ---- base64 and timestamps --------------------------------------------- */

/* The base64 text of data (standard alphabet, padded), no quotes. */
static void put_base64(jout *o, const uint8_t *data, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char b[256];
    size_t bn = 0;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2];
        b[bn++] = tab[v >> 18];
        b[bn++] = tab[(v >> 12) & 63];
        b[bn++] = tab[(v >> 6) & 63];
        b[bn++] = tab[v & 63];
        if (bn == sizeof b) {
            put(o, b, bn);
            bn = 0;
        }
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)data[i] << 16;
        b[bn++] = tab[v >> 18];
        b[bn++] = tab[(v >> 12) & 63];
        b[bn++] = '=';
        b[bn++] = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8;
        b[bn++] = tab[v >> 18];
        b[bn++] = tab[(v >> 12) & 63];
        b[bn++] = tab[(v >> 6) & 63];
        b[bn++] = '=';
    }
    if (bn)
        put(o, b, bn);
}

static char *put2(char *p, unsigned v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
    return p + 2;
}

/* RFC 3339 text of a timestamp, no quotes. Civil date from days since
 * 1970-01-01 by Howard Hinnant's days-to-civil algorithm, in int64 with
 * floor division, exact over the whole int64 range of seconds (years reach
 * about +-2.9e11). */
static void put_timestamp(jout *o, int64_t sec, uint32_t nsec)
{
    int64_t days = sec / 86400;
    int64_t sod = sec % 86400;
    if (sod < 0) {
        sod += 86400;
        days--;
    }
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;                                        /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  /* [0, 399]    */
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                 /* [0, 365]    */
    int64_t mp = (5 * doy + 2) / 153;                                      /* [0, 11]     */
    unsigned d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    unsigned m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    if (m <= 2)
        y++;

    char b[64];
    char *p = b;
    if (y >= 0 && y <= 9999) {
        p = put2(p, (unsigned)(y / 100));
        p = put2(p, (unsigned)(y % 100));
    } else {
        /* ISO 8601 expanded year: sign and at least six digits */
        char yb[24];
        uint64_t ay = y < 0 ? 0 - (uint64_t)y : (uint64_t)y;
        char *s = u64_digits(ay, yb + sizeof yb);
        *p++ = y < 0 ? '-' : '+';
        for (size_t k = (size_t)(yb + sizeof yb - s); k < 6; k++)
            *p++ = '0';
        memcpy(p, s, (size_t)(yb + sizeof yb - s));
        p += yb + sizeof yb - s;
    }
    *p++ = '-';
    p = put2(p, m);
    *p++ = '-';
    p = put2(p, d);
    *p++ = 'T';
    p = put2(p, (unsigned)(sod / 3600));
    *p++ = ':';
    p = put2(p, (unsigned)(sod / 60 % 60));
    *p++ = ':';
    p = put2(p, (unsigned)(sod % 60));
    if (nsec) {
        *p++ = '.';
        for (int i = 8; i >= 0; i--) {
            p[i] = (char)('0' + nsec % 10);
            nsec /= 10;
        }
        p += 9;
    }
    *p++ = 'Z';
    put(o, b, (size_t)(p - b));
}

/* {"$ext":type,"data":"<base64>"} */
static void put_ext(jout *o, int8_t type, const uint8_t *data, size_t n)
{
    put(o, "{\"$ext\":", 8);
    put_int(o, type);
    put(o, ",\"data\":\"", 9);
    put_base64(o, data, n);
    put(o, "\"}", 2);
}

/* ---- the walk ---------------------------------------------------------- */

/* One word per open container: values left << 2 | KEY | MAP. */
#define F_MAP 1u
#define F_KEY 2u
#define LEFT(f) ((f) >> 2)
#define ONE_LEFT 4u
#define SHALLOW 32

typedef struct walk_state {
    uint32_t top;  /* open containers (non-empty, as klaw_mp_skip counts) */
    uint64_t cur;  /* the innermost one's word; the root is one value     */
} walk_state;

/* Records a conversion error in the reader, as its own errors are kept. */
KLAW_COLD static void fail(klaw_mp_reader *r, klaw_status st, const uint8_t *at, const char *reason)
{
    if (r->err.status != KLAW_OK)
        return;
    r->err.status = st;
    r->err.offset = (size_t)(at - r->start);
    r->err.reason = reason;
    r->err.expected = KLAW_MP_NONE;
    r->err.got = KLAW_MP_NONE;
}

/* A map key nested too deep for JSON: remembered, and from here on nothing
 * is output (every put reaches put_slow, which drops it), but the walk goes
 * on to the end of the value, so that malformed bytes after this point are
 * still reported as the reader reports them (DECODE wins over this). */
KLAW_COLD static void refuse(jout *o, const uint8_t *at)
{
    if (!o->refused)
        o->refused = at;
    o->cap = o->pos; /* no room left: every put goes to put_slow */
}

/* Opens a container (or ext) key: its text goes inside a string, escaped
 * once more. Returns false (and refuses) past KLAW_JSON_MAX_KEY_NESTING. */
static inline bool open_key(jout *o, const uint8_t *at)
{
    if (KLAW_UNLIKELY(o->esc >= KLAW_JSON_MAX_KEY_NESTING)) {
        refuse(o, at);
        return false;
    }
    put_c(o, '"');
    o->esc++;
    return true;
}

/* A scalar value; `key` when it stands as a map key. */
static void put_scalar(jout *o, const klaw_mp_item *it, bool key)
{
    if (key && it->type != KLAW_MP_STR)
        put_c(o, '"');
    switch (it->type) {
    case KLAW_MP_NIL: put(o, "null", 4); break;
    case KLAW_MP_BOOL:
        if (it->v.b)
            put(o, "true", 4);
        else
            put(o, "false", 5);
        break;
    case KLAW_MP_UINT: put_uint(o, it->v.u); break;
    case KLAW_MP_INT: put_int(o, it->v.i); break;
    case KLAW_MP_FLOAT32: put_float(o, (double)it->v.f, true); break;
    case KLAW_MP_FLOAT64: put_float(o, it->v.d, false); break;
    case KLAW_MP_STR: put_string(o, (const char *)it->data, it->len); break;
    case KLAW_MP_BIN:
        if (!key)
            put_c(o, '"');
        put_base64(o, it->data, it->len);
        if (!key)
            put_c(o, '"');
        break;
    case KLAW_MP_TIMESTAMP:
        if (!key)
            put_c(o, '"');
        put_timestamp(o, it->v.ts.sec, it->v.ts.nsec);
        if (!key)
            put_c(o, '"');
        break;
    default: /* KLAW_MP_EXT: its text goes inside the key string, escaped */
        if (key)
            o->esc++;
        put_ext(o, it->ext_type, it->data, it->len);
        if (key)
            o->esc--;
        break;
    }
    if (key && it->type != KLAW_MP_STR)
        put_c(o, '"');
}

/* Converts values until the root value is done (returns 0; an error, if
 * any, is in r->err, o->st or o->refused) or a container needs a stack
 * deeper than cap (returns 1, with r just before that container's header). */
static int walk(jout *o, klaw_mp_reader *r, uint64_t *stack, uint32_t cap, walk_state *ws)
{
    klaw_mp_item it;
    for (;;) {
        const uint8_t *at = r->pos;
        /* in a map, a value with an even number left (counting itself) is
         * a key: 2n, 2n-2, ... */
        bool key = (ws->cur & F_MAP) && (LEFT(ws->cur) & 1) == 0;
        if (KLAW_UNLIKELY(klaw_mp_read(r, &it) != KLAW_OK))
            return 0;
        ws->cur -= ONE_LEFT;
        if (it.type == KLAW_MP_ARRAY || it.type == KLAW_MP_MAP) {
            bool map = it.type == KLAW_MP_MAP;
            uint64_t n = map ? (uint64_t)it.len * 2 : it.len;
            if (KLAW_UNLIKELY(ws->top >= r->max_depth)) {
                fail(r, KLAW_DECODE, at, "nesting too deep");
                return 0;
            }
            if (KLAW_UNLIKELY(n && ws->top >= cap)) {
                /* a container header has no data: re-reading it is exact */
                r->pos = at;
                ws->cur += ONE_LEFT;
                return 1;
            }
            if (key && KLAW_UNLIKELY(!open_key(o, at)))
                key = false;
            put_c(o, map ? '{' : '[');
            if (n) {
                stack[ws->top++] = ws->cur;
                ws->cur = n << 2 | (key ? F_KEY : 0) | (map ? F_MAP : 0);
                continue;
            }
            put_c(o, map ? '}' : ']');
            if (key) {
                o->esc--;
                put_c(o, '"');
            }
        } else if (KLAW_UNLIKELY(key && it.type == KLAW_MP_EXT && o->esc >= KLAW_JSON_MAX_KEY_NESTING)) {
            refuse(o, at);
        } else {
            put_scalar(o, &it, key);
        }
        /* a value is complete: separator, or close what it completed */
        for (;;) {
            if (LEFT(ws->cur)) {
                put_c(o, (ws->cur & F_MAP) && (LEFT(ws->cur) & 1) ? ':' : ',');
                break;
            }
            if (ws->top == 0)
                return 0;
            put_c(o, ws->cur & F_MAP ? '}' : ']');
            if (ws->cur & F_KEY) {
                o->esc--;
                put_c(o, '"');
            }
            ws->cur = stack[--ws->top];
        }
        if (KLAW_UNLIKELY(o->fn && o->st != KLAW_OK))
            return 0;
    }
}

KLAW_COLD static void walk_deep(jout *o, klaw_mp_reader *r, const uint64_t *shallow, walk_state *ws)
{
    uint64_t stack[KLAW_MP_MAX_DEPTH_LIMIT];
    memcpy(stack, shallow, ws->top * sizeof stack[0]);
    (void)walk(o, r, stack, KLAW_MP_MAX_DEPTH_LIMIT, ws);
}

static void convert(jout *o, klaw_mp_reader *r)
{
    uint64_t stack[SHALLOW];
    walk_state ws = {0, ONE_LEFT};
    if (walk(o, r, stack, SHALLOW, &ws))
        walk_deep(o, r, stack, &ws);
}

/* After the bytes were checked: a refused key becomes the error. */
static klaw_status apply_refusal(const jout *o, klaw_mp_reader *r)
{
    if (KLAW_UNLIKELY(o->refused && r->err.status == KLAW_OK))
        fail(r, KLAW_VALIDATE, o->refused, "map keys nested too deep for JSON");
    return r->err.status;
}

/* ---- public API -------------------------------------------------------- */

klaw_status klaw_json_from_mp(klaw_mp_reader *r, klaw_json_write_fn fn, void *ctx)
{
    char stage[STAGE_BYTES];
    jout o = {stage, sizeof stage, 0, 0, fn, ctx, KLAW_OK, 0, NULL};
    if (KLAW_UNLIKELY(r->err.status != KLAW_OK))
        return r->err.status;
    convert(&o, r);
    if (apply_refusal(&o, r) != KLAW_OK)
        return r->err.status;
    if (o.st != KLAW_OK)
        return o.st;
    return o.pos ? fn(ctx, stage, o.pos) : KLAW_OK;
}

klaw_status klaw_json_from_mp_buf(const void *mp, size_t len, char *out, size_t cap, size_t *out_len,
                                  klaw_mp_error *err)
{
    klaw_mp_reader r;
    size_t room = out ? cap : 0;
    jout o = {out, room, 0, 0, NULL, NULL, KLAW_OK, 0, NULL};
    klaw_mp_reader_init(&r, mp, len);
    convert(&o, &r);
    klaw_mp_reader_finish(&r);
    klaw_status st = apply_refusal(&o, &r);
    if (err)
        *err = r.err;
    if (st != KLAW_OK) {
        if (out_len)
            *out_len = 0;
        return st;
    }
    size_t total = o.pos + o.over;
    if (out_len)
        *out_len = total;
    if (o.st != KLAW_OK)
        return o.st;
    if (total < room)
        out[total] = '\0';
    return KLAW_OK;
}
