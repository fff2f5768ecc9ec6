/*
 * json_in.c - JSON text -> MessagePack (see klaw/json.h for the mapping).
 *
 * A strict RFC 8259 parser that writes straight into a klaw_mp_writer, in
 * one pass over the text and one over the output:
 *
 *   1. parse: values are written as they are met. An array or object gets a
 *      5-byte array32/map32 header, reserved when it opens and patched with
 *      the count when it closes. A string is scanned first (to its closing
 *      quote, checking escapes and UTF-8 and counting its decoded length)
 *      and then written with an exact header: copied as is when it has no
 *      escapes, else decoded straight into the writer's buffer.
 *   2. compact: a forward pass over the bytes just written rewrites each
 *      32-bit container header in its smallest form and moves what follows
 *      down. The write point starts at the read point and each header only
 *      shrinks, so the write point never passes the read point and the move
 *      is done in place.
 *
 * The nesting stack (one frame per open container) is a small array on the
 * C stack, moved to a cold function's bigger array past SHALLOW levels;
 * nothing recurses on the input's shape.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "klaw/json.h"

/* ---- state ------------------------------------------------------------- */

typedef struct frame {
    size_t pos;      /* writer position of the reserved 5-byte header        */
    uint32_t count;  /* elements, or members, closed so far                  */
    uint8_t is_map;
    uint8_t reserved; /* the header was really reserved (writer was OK)      */
} frame;

typedef struct jin {
    const uint8_t *start;
    const uint8_t *p;
    const uint8_t *end;
    klaw_mp_writer *w;
    uint32_t top;         /* open containers                                 */
    klaw_json_error err;  /* the first error                                 */
} jin;

#define SHALLOW 32

/* ---- errors (cold) ----------------------------------------------------- */

KLAW_COLD static void fail(jin *j, klaw_status st, const uint8_t *at, const char *reason)
{
    if (j->err.status != KLAW_OK)
        return;
    j->err.status = st;
    j->err.offset = (size_t)(at - j->start);
    j->err.reason = reason;
}

/* ---- small scanners ---------------------------------------------------- */

static inline const uint8_t *skip_ws(const uint8_t *p, const uint8_t *end)
{
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

static inline bool is_digit(uint8_t c) { return (unsigned)(c - '0') < 10; }

static inline int hex_val(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* The 4 hex digits at p (p + 4 <= end checked by the caller), or -1. */
static inline int32_t hex4(const uint8_t *p)
{
    int a = hex_val(p[0]), b = hex_val(p[1]), c = hex_val(p[2]), d = hex_val(p[3]);
    if ((a | b | c | d) < 0)
        return -1;
    return (int32_t)(a << 12 | b << 8 | c << 4 | d);
}

/* Length of the well-formed UTF-8 sequence starting with a byte >= 0x80 at
 * p (Unicode table 3-7: no overlongs, surrogates or > U+10FFFF), or 0. */
static inline size_t utf8_seq(const uint8_t *p, const uint8_t *end)
{
    uint8_t c = p[0], lo = 0x80, hi = 0xbf;
    size_t n;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else {
        return 0;
    }
    if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t k = 2; k < n; k++)
        if ((p[k] & 0xc0) != 0x80)
            return 0;
    return n;
}

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* Nonzero when some byte of x is '"', '\\', below 0x20 or >= 0x80. */
static inline uint64_t special8(uint64_t x)
{
    uint64_t q = x ^ (ONES * '"');
    uint64_t b = x ^ (ONES * '\\');
    uint64_t ctl = (x - ONES * 0x20) & ~x;
    uint64_t zq = (q - ONES) & ~q;
    uint64_t zb = (b - ONES) & ~b;
    return (ctl | zq | zb | x) & HIGHS;
}

/* ---- strings ----------------------------------------------------------- */

static inline size_t utf8_len(uint32_t cp) { return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4; }

static inline uint8_t *utf8_put(uint8_t *d, uint32_t cp)
{
    if (cp < 0x80) {
        *d++ = (uint8_t)cp;
    } else if (cp < 0x800) {
        *d++ = (uint8_t)(0xc0 | cp >> 6);
        *d++ = (uint8_t)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        *d++ = (uint8_t)(0xe0 | cp >> 12);
        *d++ = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        *d++ = (uint8_t)(0x80 | (cp & 0x3f));
    } else {
        *d++ = (uint8_t)(0xf0 | cp >> 18);
        *d++ = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
        *d++ = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        *d++ = (uint8_t)(0x80 | (cp & 0x3f));
    }
    return d;
}

/* Reads the escape at p (p[0] == '\\'), already validated by scan_string.
 * Returns its code point and sets *len to its length in the text (2, 6, or
 * 12 for a surrogate pair). */
static uint32_t read_escape(const uint8_t *p, size_t *len)
{
    switch (p[1]) {
    case 'b': *len = 2; return '\b';
    case 'f': *len = 2; return '\f';
    case 'n': *len = 2; return '\n';
    case 'r': *len = 2; return '\r';
    case 't': *len = 2; return '\t';
    case 'u': {
        uint32_t cp = (uint32_t)hex4(p + 2);
        if (cp >= 0xd800 && cp <= 0xdbff) {
            uint32_t lo = (uint32_t)hex4(p + 8);
            *len = 12;
            return 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        }
        *len = 6;
        return cp;
    }
    default: *len = 2; return p[1]; /* '"', '\\', '/' */
    }
}

/* Checks the escape at p (p[0] == '\\', p < end); returns its length in
 * the text and sets *cp, or returns 0 after recording the error. */
KLAW_COLD static size_t check_escape(jin *j, const uint8_t *p, uint32_t *cp)
{
    const uint8_t *end = j->end;
    if (end - p < 2) {
        fail(j, KLAW_DECODE, end, "unterminated string");
        return 0;
    }
    switch (p[1]) {
    case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't': {
        size_t len;
        *cp = read_escape(p, &len);
        return 2;
    }
    case 'u': break;
    default:
        fail(j, KLAW_DECODE, p, "invalid escape");
        return 0;
    }
    int32_t v = end - p >= 6 ? hex4(p + 2) : -1;
    if (v < 0) {
        fail(j, KLAW_DECODE, p, "invalid \\u escape");
        return 0;
    }
    if (v >= 0xdc00 && v <= 0xdfff) {
        fail(j, KLAW_DECODE, p, "lone low surrogate");
        return 0;
    }
    if (v >= 0xd800 && v <= 0xdbff) {
        int32_t lo = end - p >= 12 && p[6] == '\\' && p[7] == 'u' ? hex4(p + 8) : -1;
        if (lo < 0xdc00 || lo > 0xdfff) {
            fail(j, KLAW_DECODE, p, "high surrogate not followed by a low surrogate");
            return 0;
        }
        *cp = 0x10000 + (((uint32_t)v - 0xd800) << 10) + ((uint32_t)lo - 0xdc00);
        return 12;
    }
    *cp = (uint32_t)v;
    return 6;
}

/* Scans the string whose opening quote is at q - 1: on success returns the
 * position of the closing quote, and sets *dec_len (the decoded length) and
 * *esc (whether it has escapes). On error returns NULL. */
static const uint8_t *scan_string(jin *j, const uint8_t *q, size_t *dec_len, bool *esc)
{
    const uint8_t *end = j->end;
    size_t saved = 0; /* bytes escapes save: text length - decoded length */
    const uint8_t *s = q;
    for (;;) {
        while (end - q >= 8) {
            uint64_t x;
            memcpy(&x, q, 8);
            if (special8(x))
                break;
            q += 8;
        }
        if (KLAW_UNLIKELY(q >= end)) {
            fail(j, KLAW_DECODE, end, "unterminated string");
            return NULL;
        }
        uint8_t c = *q;
        if (c == '"')
            break;
        if (c >= 0x20 && c < 0x80 && c != '\\') {
            q++;
        } else if (c >= 0x80) {
            size_t n = utf8_seq(q, end);
            if (KLAW_UNLIKELY(n == 0)) {
                fail(j, KLAW_DECODE, q, "invalid UTF-8");
                return NULL;
            }
            q += n;
        } else if (c == '\\') {
            uint32_t cp;
            size_t n = check_escape(j, q, &cp);
            if (KLAW_UNLIKELY(n == 0))
                return NULL;
            saved += n - utf8_len(cp);
            q += n;
        } else {
            fail(j, KLAW_DECODE, q, "unescaped control character in string");
            return NULL;
        }
    }
    *esc = saved != 0; /* every escape is longer than what it stands for */
    *dec_len = (size_t)(q - s) - saved;
    return q;
}

/* Decodes the checked text s[0, n) with escapes into d. */
static void unescape(uint8_t *d, const uint8_t *s, size_t n)
{
    const uint8_t *e = s + n;
    while (s < e) {
        const uint8_t *bs = memchr(s, '\\', (size_t)(e - s));
        size_t run = bs ? (size_t)(bs - s) : (size_t)(e - s);
        memcpy(d, s, run);
        d += run;
        s += run;
        if (!bs)
            break;
        size_t len;
        d = utf8_put(d, read_escape(s, &len));
        s += len;
    }
}

/* A string value or key; j->p at its opening quote. */
static bool parse_string(jin *j)
{
    const uint8_t *s = j->p + 1;
    size_t n;
    bool esc;
    const uint8_t *q = scan_string(j, s, &n, &esc);
    if (KLAW_UNLIKELY(!q))
        return false;
    if (KLAW_UNLIKELY(n > UINT32_MAX)) {
        fail(j, KLAW_INVAL, j->p, "string longer than 2^32-1 bytes");
        return false;
    }
    klaw_mp_write_str_header(j->w, n);
    if (!esc) {
        klaw_mp_write_bytes(j->w, s, n);
    } else {
        uint8_t *d = klaw_mp_writer_take_(j->w, n);
        if (d)
            unescape(d, s, (size_t)(q - s));
    }
    j->p = q + 1;
    return true;
}

/* ---- numbers ----------------------------------------------------------- */

/* A float with a long text (> 63 bytes), out of line: strtod needs a NUL
 * terminated copy, and the text may be any length, so it is normalized to
 * at most 800 significant digits and an exponent. The exact midpoint
 * between two doubles has at most 767 significant digits, so keeping 780
 * and replacing everything after by one sticky nonzero digit (when any of
 * it is nonzero) rounds the same. */
KLAW_COLD static double long_float(const uint8_t *s, const uint8_t *e)
{
    enum { KEEP = 780 };
    char buf[KEEP + 48];
    char *d = buf;
    bool neg = *s == '-';
    size_t kept = 0;
    bool sticky = false;
    int64_t exp10 = 0; /* value = 0.<digits> * 10^exp10 */
    bool seen_nonzero = false;
    if (neg)
        s++;
    *d++ = neg ? '-' : '+';
    *d++ = '0';
    *d++ = '.';
    for (int frac = 0; frac < 2; frac++) {
        for (; s < e && is_digit(*s); s++) {
            if (!seen_nonzero && *s == '0') {
                if (frac)
                    exp10--;
                continue;
            }
            seen_nonzero = true;
            if (!frac)
                exp10++;
            if (kept < KEEP) {
                *d++ = (char)*s;
                kept++;
            } else if (*s != '0') {
                sticky = true;
            }
        }
        if (s < e && *s == '.')
            s++;
    }
    if (!seen_nonzero)
        return neg ? -0.0 : 0.0;
    if (sticky)
        *d++ = '1';
    if (s < e) { /* exponent: clamp, anything this far out is 0 or inf */
        s++;
        bool eneg = *s == '-';
        if (*s == '-' || *s == '+')
            s++;
        int64_t x = 0;
        for (; s < e; s++)
            if (x < 100000000)
                x = x * 10 + (*s - '0');
        exp10 += eneg ? -x : x;
    }
    if (exp10 > 400)
        return neg ? -HUGE_VAL : HUGE_VAL;
    if (exp10 < -400)
        return neg ? -0.0 : 0.0;
    *d++ = 'e';
    int64_t a = exp10 < 0 ? -exp10 : exp10;
    if (exp10 < 0)
        *d++ = '-';
    char eb[8];
    int en = 0;
    do {
        eb[en++] = (char)('0' + a % 10);
        a /= 10;
    } while (a);
    while (en)
        *d++ = eb[--en];
    *d = '\0';
    return strtod(buf, NULL);
}

/* A number; j->p at its first byte ('-' or a digit). */
static bool parse_number(jin *j)
{
    const uint8_t *s = j->p, *p = s, *end = j->end;
    bool neg = false, is_float = false, overflow = false;
    uint64_t mag = 0;
    if (*p == '-') {
        neg = true;
        p++;
    }
    if (KLAW_UNLIKELY(p >= end || !is_digit(*p))) {
        fail(j, KLAW_DECODE, p, "invalid number");
        return false;
    }
    if (*p == '0') {
        p++;
        if (KLAW_UNLIKELY(p < end && is_digit(*p))) {
            fail(j, KLAW_DECODE, p - 1, "leading zero in number");
            return false;
        }
    } else {
        for (; p < end && is_digit(*p); p++) {
            unsigned dg = (unsigned)(*p - '0');
            if (mag > (UINT64_MAX - dg) / 10)
                overflow = true;
            mag = mag * 10 + dg;
        }
    }
    if (p < end && *p == '.') {
        p++;
        if (KLAW_UNLIKELY(p >= end || !is_digit(*p))) {
            fail(j, KLAW_DECODE, p, "expected a digit after '.'");
            return false;
        }
        while (p < end && is_digit(*p))
            p++;
        is_float = true;
    }
    if (p < end && (*p | 0x20) == 'e') {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (KLAW_UNLIKELY(p >= end || !is_digit(*p))) {
            fail(j, KLAW_DECODE, p, "expected a digit in the exponent");
            return false;
        }
        while (p < end && is_digit(*p))
            p++;
        is_float = true;
    }
    if (!is_float) {
        if (KLAW_UNLIKELY(overflow || (neg && mag > (uint64_t)1 << 63))) {
            fail(j, KLAW_DECODE, s, "integer out of range");
            return false;
        }
        if (neg && mag)
            klaw_mp_write_int(j->w, (int64_t)(0 - mag));
        else
            klaw_mp_write_uint(j->w, mag);
        j->p = p;
        return true;
    }
    double v;
    size_t n = (size_t)(p - s);
    if (n < 64) {
        char buf[64];
        memcpy(buf, s, n);
        buf[n] = '\0';
        v = strtod(buf, NULL);
    } else {
        v = long_float(s, p);
    }
    if (KLAW_UNLIKELY(isinf(v))) {
        fail(j, KLAW_DECODE, s, "number out of range");
        return false;
    }
    klaw_mp_write_double(j->w, v);
    j->p = p;
    return true;
}

/* ---- literals ---------------------------------------------------------- */

static bool parse_literal(jin *j)
{
    const uint8_t *p = j->p;
    size_t left = (size_t)(j->end - p);
    if (*p == 't' && left >= 4 && memcmp(p, "true", 4) == 0) {
        klaw_mp_write_bool(j->w, true);
        j->p = p + 4;
    } else if (*p == 'f' && left >= 5 && memcmp(p, "false", 5) == 0) {
        klaw_mp_write_bool(j->w, false);
        j->p = p + 5;
    } else if (*p == 'n' && left >= 4 && memcmp(p, "null", 4) == 0) {
        klaw_mp_write_nil(j->w);
        j->p = p + 4;
    } else {
        fail(j, KLAW_DECODE, p, "invalid literal");
        return false;
    }
    return true;
}

/* ---- containers -------------------------------------------------------- */

static inline void open_container(jin *j, frame *f, bool map)
{
    klaw_mp_mark m = map ? klaw_mp_reserve_map(j->w) : klaw_mp_reserve_array(j->w);
    f->pos = m.pos;
    f->count = 0;
    f->is_map = map;
    f->reserved = m.len == 5; /* 0 when the writer had failed or was full */
}

static inline void close_container(jin *j, const frame *f)
{
    if (f->reserved) {
        klaw_mp_mark m = {f->pos, 5};
        if (f->is_map)
            klaw_mp_patch_map(j->w, m, f->count);
        else
            klaw_mp_patch_array(j->w, m, f->count);
    }
}

/* ---- the parse loop ---------------------------------------------------- */

/* Parses from a value position until the root value is done (returns 0;
 * j->err says whether it failed) or a container needs a stack deeper than
 * cap (returns 1, with j->p at its bracket, so the caller resumes at a value
 * position with a bigger stack). */
static int parse(jin *j, frame *stack, uint32_t cap)
{
    const uint8_t *end = j->end;
    frame *f;
    uint8_t c;

value:
    j->p = skip_ws(j->p, end);
    if (KLAW_UNLIKELY(j->p >= end)) {
        fail(j, KLAW_DECODE, end, "unexpected end of input");
        return 0;
    }
    c = *j->p;
    if (c == '"') {
        if (KLAW_UNLIKELY(!parse_string(j)))
            return 0;
    } else if (c == '[' || c == '{') {
        if (KLAW_UNLIKELY(j->top >= KLAW_JSON_MAX_DEPTH)) {
            fail(j, KLAW_DECODE, j->p, "nesting too deep");
            return 0;
        }
        if (KLAW_UNLIKELY(j->top >= cap))
            return 1;
        f = &stack[j->top++];
        open_container(j, f, c == '{');
        j->p = skip_ws(j->p + 1, end);
        if (j->p < end && *j->p == (c == '{' ? '}' : ']')) {
            j->p++;
            goto close;
        }
        if (c == '{')
            goto key;
        goto value;
    } else if (c == '-' || is_digit(c)) {
        if (KLAW_UNLIKELY(!parse_number(j)))
            return 0;
    } else if (c == 't' || c == 'f' || c == 'n') {
        if (KLAW_UNLIKELY(!parse_literal(j)))
            return 0;
    } else {
        fail(j, KLAW_DECODE, j->p, "expected a value");
        return 0;
    }

after_value:
    if (j->top == 0)
        return 0;
    f = &stack[j->top - 1];
    if (KLAW_UNLIKELY(f->count == UINT32_MAX)) {
        fail(j, KLAW_INVAL, j->p, "more than 2^32-1 elements");
        return 0;
    }
    f->count++;
    j->p = skip_ws(j->p, end);
    if (KLAW_UNLIKELY(j->p >= end)) {
        fail(j, KLAW_DECODE, end, "unexpected end of input");
        return 0;
    }
    c = *j->p++;
    if (c == ',') {
        const uint8_t *comma = j->p - 1;
        j->p = skip_ws(j->p, end);
        if (KLAW_UNLIKELY(j->p < end && (*j->p == ']' || *j->p == '}'))) {
            fail(j, KLAW_DECODE, comma, "trailing comma");
            return 0;
        }
        if (f->is_map)
            goto key;
        goto value;
    }
    if (KLAW_UNLIKELY(c != (f->is_map ? '}' : ']'))) {
        fail(j, KLAW_DECODE, j->p - 1, f->is_map ? "expected ',' or '}'" : "expected ',' or ']'");
        return 0;
    }

close:
    close_container(j, &stack[--j->top]);
    goto after_value;

key:
    j->p = skip_ws(j->p, end);
    if (KLAW_UNLIKELY(j->p >= end)) {
        fail(j, KLAW_DECODE, end, "unexpected end of input");
        return 0;
    }
    if (KLAW_UNLIKELY(*j->p != '"')) {
        fail(j, KLAW_DECODE, j->p, "expected a string key");
        return 0;
    }
    if (KLAW_UNLIKELY(!parse_string(j)))
        return 0;
    j->p = skip_ws(j->p, end);
    if (KLAW_UNLIKELY(j->p >= end || *j->p != ':')) {
        fail(j, KLAW_DECODE, j->p < end ? j->p : end, j->p < end ? "expected ':'" : "unexpected end of input");
        return 0;
    }
    j->p++;
    goto value;
}

KLAW_COLD static void parse_deep(jin *j, const frame *shallow)
{
    frame stack[KLAW_JSON_MAX_DEPTH];
    memcpy(stack, shallow, j->top * sizeof stack[0]);
    (void)parse(j, stack, KLAW_JSON_MAX_DEPTH);
}

/* ---- compaction -------------------------------------------------------- */

/* Rewrites the 32-bit container headers of the well-formed value at
 * w->buf[from, w->pos) in their smallest form, in place (see the top). */
static void compact(klaw_mp_writer *w, size_t from)
{
    uint8_t *base = w->buf + from;
    size_t n = w->pos - from;
    klaw_mp_reader r;
    klaw_mp_item it;
    size_t wr = 0;  /* write point                                       */
    size_t run = 0; /* start of the bytes read but not yet moved          */
    klaw_mp_reader_init(&r, base, n);
    klaw_mp_reader_set_flags(&r, KLAW_MP_TRUSTED_UTF8);
    while (klaw_mp_reader_remaining(&r)) {
        size_t rd = klaw_mp_reader_offset(&r);
        if (klaw_mp_read(&r, &it) != KLAW_OK)
            break; /* cannot happen: we wrote these bytes */
        if (it.type != KLAW_MP_ARRAY && it.type != KLAW_MP_MAP)
            continue;
        if (wr != run)
            memmove(base + wr, base + run, rd - run);
        wr += rd - run;
        klaw_mp_writer hw;
        klaw_mp_writer_init(&hw, base + wr, 5);
        if (it.type == KLAW_MP_MAP)
            klaw_mp_write_map(&hw, it.len);
        else
            klaw_mp_write_array(&hw, it.len);
        wr += klaw_mp_writer_len(&hw);
        run = klaw_mp_reader_offset(&r);
    }
    if (wr != run)
        memmove(base + wr, base + run, n - run);
    wr += n - run;
    w->pos = from + wr;
}

/* ---- public API -------------------------------------------------------- */

klaw_status klaw_json_to_mp(const char *json, size_t len, klaw_mp_writer *w, klaw_json_error *err)
{
    frame stack[SHALLOW];
    const uint8_t *s = (const uint8_t *)json;
    jin j = {s, s, s ? s + len : s, w, 0, {KLAW_OK, 0, NULL}};
    size_t from = w->pos;
    klaw_status w_status = w->status;

    /* RFC 8259 8.1: a parser may ignore a byte order mark */
    if (len >= 3 && s[0] == 0xef && s[1] == 0xbb && s[2] == 0xbf)
        j.p += 3;
    if (parse(&j, stack, SHALLOW))
        parse_deep(&j, stack);
    if (j.err.status == KLAW_OK) {
        j.p = skip_ws(j.p, j.end);
        if (j.p != j.end)
            fail(&j, KLAW_DECODE, j.p, "trailing characters after value");
    }
    if (j.err.status != KLAW_OK) {
        w->pos = from;
        w->status = w_status;
    } else if (w->status != KLAW_OK) {
        j.err.status = w->status;
        j.err.offset = len;
        j.err.reason = w->status == KLAW_TOOBIG ? "output buffer too small" : "writer failed";
    } else {
        compact(w, from);
    }
    if (err)
        *err = j.err;
    return j.err.status;
}
