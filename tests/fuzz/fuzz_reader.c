/* fuzz_reader.c - libFuzzer target: the MessagePack reader over arbitrary
 * bytes. Every entry point runs (validate, skip, read_raw, read_rest, a
 * typed walk, klaw_mp_read) and these must hold, or the target aborts:
 *
 *   - validate OK  <=>  one skip from the start consumes exactly all bytes,
 *     and then read_raw spans the whole input and a typed walk succeeds;
 *     otherwise skip/finish fail at the same offset with the same reason;
 *   - validate with a small max_depth, or strict UTF-8, never accepts what
 *     the defaults (or KLAW_MP_TRUSTED_UTF8) refuse;
 *   - every view and raw span lies inside the input; error offsets too;
 *   - peek_type names the type the next read returns, and the typed read
 *     for that type never answers KLAW_VALIDATE;
 *   - every typed read (the inline fast paths too) agrees with klaw_mp_read:
 *     same DECODE error, or the value and end position, or KLAW_VALIDATE;
 *   - errors stick: after one, every call repeats it and zeroes its outputs;
 *   - a validated value re-encoded by the writer validates, decodes equal
 *     to the original (float bits included), is no longer than it (the
 *     writer's forms are the smallest), re-encodes to itself, and a writer
 *     one byte short reports KLAW_TOOBIG with the full size and leaves the
 *     bytes past its buffer alone.
 *
 * Build: clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude
 *   -Ibuild/include codec/mp_reader.c codec/mp_writer.c src/status.c
 *   tests/fuzz/fuzz_reader.c -lm -o fuzz_reader
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "klaw/klaw.h"

#define CHECK(c)                                                                            \
    do {                                                                                    \
        if (!(c)) {                                                                         \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #c);       \
            abort();                                                                        \
        }                                                                                   \
    } while (0)

static const uint8_t *in_lo, *in_hi; /* the input, for "inside" checks */

static bool inside(const void *p, size_t n)
{
    const uint8_t *q = (const uint8_t *)p;
    return q >= in_lo && q <= in_hi && n <= (size_t)(in_hi - q);
}

static void check_error(const klaw_mp_reader *r)
{
    CHECK(r->err.status == KLAW_DECODE || r->err.status == KLAW_VALIDATE);
    CHECK(r->err.reason != NULL);
    CHECK(r->err.offset <= (size_t)(r->end - r->start));
    char msg[160];
    int n = klaw_mp_error_format(&r->err, msg, sizeof msg);
    CHECK(n > 0 && strncmp(msg, r->err.status == KLAW_DECODE ? "decode error at byte " : "validation error at byte ",
                           r->err.status == KLAW_DECODE ? 21 : 25) == 0);
}

/* After an error: every call repeats it, moves nothing, zeroes outputs. */
static void check_sticky(klaw_mp_reader *r)
{
    klaw_mp_error before = r->err;
    const uint8_t *pos = r->pos;
    klaw_mp_item it;
    int64_t i = 1;
    uint64_t u = 1;
    const char *s = "x";
    uint32_t n = 1;
    klaw_mp_raw raw = {in_lo, 1};
    CHECK(klaw_mp_read(r, &it) == before.status && it.type == KLAW_MP_NONE && it.data == NULL && it.len == 0);
    CHECK(klaw_mp_read_int(r, &i) == before.status && i == 0);
    CHECK(klaw_mp_read_uint(r, &u) == before.status && u == 0);
    CHECK(klaw_mp_read_str(r, &s, &n) == before.status && s == NULL && n == 0);
    CHECK(klaw_mp_skip(r) == before.status);
    CHECK(klaw_mp_read_raw(r, &raw) == before.status && raw.ptr == NULL && raw.len == 0);
    raw.ptr = in_lo;
    raw.len = 1;
    CHECK(klaw_mp_read_rest(r, &raw) == before.status && raw.ptr == NULL && raw.len == 0);
    CHECK(klaw_mp_peek_type(r) == KLAW_MP_NONE);
    CHECK(klaw_mp_reader_finish(r) == before.status);
    CHECK(r->pos == pos && r->err.offset == before.offset && r->err.reason == before.reason);
}

/* Every typed read, on a copy of the reader, does what klaw_mp_read says it
 * must (this holds the inline fast paths to the out-of-line reader): the
 * same DECODE error; KLAW_OK, the value and the same end for an acceptable
 * type; else KLAW_VALIDATE at the value's start; zeroed outputs on error. */
static void check_outcome(const klaw_mp_reader *m, const klaw_mp_item *it, klaw_status mst, size_t start,
                          const klaw_mp_reader *r, klaw_status st, bool acceptable)
{
    klaw_status want = mst != KLAW_OK ? mst : acceptable ? KLAW_OK : KLAW_VALIDATE;
    CHECK(st == want && r->err.status == st);
    if (st == KLAW_OK)
        CHECK(r->pos == m->pos);
    else if (st == KLAW_DECODE)
        CHECK(r->err.offset == m->err.offset && r->err.reason == m->err.reason);
    else
        CHECK(r->err.offset == start && r->err.got == it->type && r->err.expected != KLAW_MP_NONE);
}

static void check_typed_reads(const klaw_mp_reader *at)
{
    klaw_mp_reader m = *at, r;
    klaw_mp_item it;
    klaw_status mst = klaw_mp_read(&m, &it), st;
    size_t start = klaw_mp_reader_offset(at);
    klaw_mp_type t = it.type;
#define OUTCOME(acceptable) check_outcome(&m, &it, mst, start, &r, st, (acceptable))
    r = *at;
    st = klaw_mp_read_nil(&r);
    OUTCOME(t == KLAW_MP_NIL);
    bool b = true;
    r = *at;
    st = klaw_mp_read_bool(&r, &b);
    OUTCOME(t == KLAW_MP_BOOL);
    CHECK(b == (st == KLAW_OK && it.v.b));
    int64_t i = 99;
    r = *at;
    st = klaw_mp_read_int(&r, &i);
    OUTCOME(t == KLAW_MP_INT || (t == KLAW_MP_UINT && it.v.u <= INT64_MAX));
    CHECK(i == (st != KLAW_OK ? 0 : t == KLAW_MP_INT ? it.v.i : (int64_t)it.v.u));
    i = 99;
    r = *at;
    st = klaw_mp_read_int_range(&r, -300, 70000, &i);
    OUTCOME((t == KLAW_MP_INT && it.v.i >= -300) || (t == KLAW_MP_UINT && it.v.u <= 70000));
    CHECK(i == (st != KLAW_OK ? 0 : t == KLAW_MP_INT ? it.v.i : (int64_t)it.v.u));
    uint64_t u = 99;
    r = *at;
    st = klaw_mp_read_uint(&r, &u);
    OUTCOME(t == KLAW_MP_UINT);
    CHECK(u == (st == KLAW_OK ? it.v.u : 0));
    u = 99;
    r = *at;
    st = klaw_mp_read_uint_max(&r, 70000, &u);
    OUTCOME(t == KLAW_MP_UINT && it.v.u <= 70000);
    CHECK(u == (st == KLAW_OK ? it.v.u : 0));
    double d = 99, want_d = 0;
    r = *at;
    st = klaw_mp_read_double(&r, &d);
    OUTCOME(t == KLAW_MP_FLOAT32 || t == KLAW_MP_FLOAT64 || t == KLAW_MP_UINT || t == KLAW_MP_INT);
    if (st == KLAW_OK)
        want_d = t == KLAW_MP_FLOAT32 ? (double)it.v.f : t == KLAW_MP_FLOAT64 ? it.v.d
                 : t == KLAW_MP_UINT  ? (double)it.v.u : (double)it.v.i;
    CHECK(memcmp(&d, &want_d, sizeof d) == 0);
    const char *s = "x";
    uint32_t n = 99;
    r = *at;
    st = klaw_mp_read_str(&r, &s, &n);
    OUTCOME(t == KLAW_MP_STR);
    CHECK(s == (st == KLAW_OK ? (const char *)it.data : NULL) && n == (st == KLAW_OK ? it.len : 0));
    const uint8_t *data = in_lo;
    n = 99;
    r = *at;
    st = klaw_mp_read_bin(&r, &data, &n);
    OUTCOME(t == KLAW_MP_BIN);
    CHECK(data == (st == KLAW_OK ? it.data : NULL) && n == (st == KLAW_OK ? it.len : 0));
    n = 99;
    r = *at;
    st = klaw_mp_read_array(&r, &n);
    OUTCOME(t == KLAW_MP_ARRAY);
    CHECK(n == (st == KLAW_OK ? it.len : 0));
    n = 99;
    r = *at;
    st = klaw_mp_read_map(&r, &n);
    OUTCOME(t == KLAW_MP_MAP);
    CHECK(n == (st == KLAW_OK ? it.len : 0));
    int8_t type = 99;
    data = in_lo;
    n = 99;
    r = *at;
    st = klaw_mp_read_ext(&r, &type, &data, &n);
    OUTCOME(t == KLAW_MP_EXT || t == KLAW_MP_TIMESTAMP);
    CHECK(type == (st == KLAW_OK ? it.ext_type : 0) && data == (st == KLAW_OK ? it.data : NULL));
    int64_t sec = 99;
    uint32_t nsec = 99;
    r = *at;
    st = klaw_mp_read_timestamp(&r, &sec, &nsec);
    OUTCOME(t == KLAW_MP_TIMESTAMP);
    CHECK(sec == (st == KLAW_OK ? it.v.ts.sec : 0) && nsec == (st == KLAW_OK ? it.v.ts.nsec : 0));
#undef OUTCOME
}

/* Reads one value with the typed read that peek_type names; returns false
 * on error. depth bounds the recursion (a walk without skip has no nesting
 * limit of its own). */
static bool typed_walk(klaw_mp_reader *r, int depth)
{
    klaw_mp_type t = klaw_mp_peek_type(r);
    klaw_status st;
    uint32_t n = 0;
    if (depth > 2000)
        return klaw_mp_skip(r) == KLAW_OK;
    check_typed_reads(r);
    switch (t) {
    case KLAW_MP_NONE: {
        klaw_mp_item it;
        st = klaw_mp_read(r, &it);
        CHECK(st == KLAW_DECODE);
        return false;
    }
    case KLAW_MP_NIL: st = klaw_mp_read_nil(r); break;
    case KLAW_MP_BOOL: {
        bool b;
        st = klaw_mp_read_bool(r, &b);
        break;
    }
    case KLAW_MP_UINT: {
        uint64_t u;
        int64_t i;
        klaw_mp_reader copy = *r;
        st = klaw_mp_read_uint(r, &u);
        if (st == KLAW_OK) {
            klaw_status st2 = klaw_mp_read_int(&copy, &i);
            CHECK(u > INT64_MAX ? st2 == KLAW_VALIDATE : (st2 == KLAW_OK && (uint64_t)i == u));
        }
        break;
    }
    case KLAW_MP_INT: {
        int64_t i;
        st = klaw_mp_read_int(r, &i);
        CHECK(st != KLAW_OK || i < 0);
        break;
    }
    case KLAW_MP_FLOAT32:
    case KLAW_MP_FLOAT64: {
        double d;
        st = klaw_mp_read_double(r, &d);
        break;
    }
    case KLAW_MP_STR: {
        const char *s;
        st = klaw_mp_read_str(r, &s, &n);
        CHECK(st != KLAW_OK || inside(s, n));
        if (st == KLAW_OK && !(r->flags & KLAW_MP_TRUSTED_UTF8))
            CHECK(klaw_utf8_check((const uint8_t *)s, n) == n);
        break;
    }
    case KLAW_MP_BIN: {
        const uint8_t *b;
        st = klaw_mp_read_bin(r, &b, &n);
        CHECK(st != KLAW_OK || inside(b, n));
        break;
    }
    case KLAW_MP_EXT: {
        int8_t type;
        const uint8_t *b;
        st = klaw_mp_read_ext(r, &type, &b, &n);
        CHECK(st != KLAW_OK || (inside(b, n) && type != -1));
        break;
    }
    case KLAW_MP_TIMESTAMP: {
        int64_t sec;
        uint32_t nsec;
        st = klaw_mp_read_timestamp(r, &sec, &nsec);
        CHECK(st != KLAW_OK || nsec <= 999999999u);
        break;
    }
    case KLAW_MP_ARRAY:
        st = klaw_mp_read_array(r, &n);
        CHECK(st != KLAW_OK || n <= klaw_mp_reader_remaining(r));
        for (uint32_t k = 0; st == KLAW_OK && k < n; k++)
            if (!typed_walk(r, depth + 1))
                return false;
        break;
    case KLAW_MP_MAP:
        st = klaw_mp_read_map(r, &n);
        CHECK(st != KLAW_OK || 2 * (uint64_t)n <= klaw_mp_reader_remaining(r));
        for (uint64_t k = 0; st == KLAW_OK && k < 2 * (uint64_t)n; k++)
            if (!typed_walk(r, depth + 1))
                return false;
        break;
    default: CHECK(0); return false;
    }
    /* the type peek named is the type found: never a type error */
    CHECK(st == KLAW_OK || st == KLAW_DECODE);
    return st == KLAW_OK;
}

/* Copies one (validated) value with the writer. */
static void copy_value(klaw_mp_reader *r, klaw_mp_writer *w)
{
    klaw_mp_item it;
    CHECK(klaw_mp_read(r, &it) == KLAW_OK);
    switch (it.type) {
    case KLAW_MP_NIL: klaw_mp_write_nil(w); break;
    case KLAW_MP_BOOL: klaw_mp_write_bool(w, it.v.b); break;
    case KLAW_MP_UINT: klaw_mp_write_uint(w, it.v.u); break;
    case KLAW_MP_INT: klaw_mp_write_int(w, it.v.i); break;
    case KLAW_MP_FLOAT32: klaw_mp_write_float(w, it.v.f); break;
    case KLAW_MP_FLOAT64: klaw_mp_write_double(w, it.v.d); break;
    case KLAW_MP_STR: klaw_mp_write_str(w, (const char *)it.data, it.len); break;
    case KLAW_MP_BIN: klaw_mp_write_bin(w, it.data, it.len); break;
    case KLAW_MP_EXT: klaw_mp_write_ext(w, it.ext_type, it.data, it.len); break;
    case KLAW_MP_TIMESTAMP: klaw_mp_write_timestamp(w, it.v.ts.sec, it.v.ts.nsec); break;
    case KLAW_MP_ARRAY:
        klaw_mp_write_array(w, it.len);
        for (uint32_t i = 0; i < it.len; i++)
            copy_value(r, w);
        break;
    case KLAW_MP_MAP:
        klaw_mp_write_map(w, it.len);
        for (uint64_t i = 0; i < 2 * (uint64_t)it.len; i++)
            copy_value(r, w);
        break;
    default: CHECK(0);
    }
}

/* Two readers hold equal values (floats compared by bits). */
static void check_equal(klaw_mp_reader *a, klaw_mp_reader *b)
{
    klaw_mp_item x, y;
    CHECK(klaw_mp_read(a, &x) == KLAW_OK);
    CHECK(klaw_mp_read(b, &y) == KLAW_OK);
    CHECK(x.type == y.type);
    switch (x.type) {
    case KLAW_MP_NIL: break;
    case KLAW_MP_BOOL: CHECK(x.v.b == y.v.b); break;
    case KLAW_MP_UINT: CHECK(x.v.u == y.v.u); break;
    case KLAW_MP_INT: CHECK(x.v.i == y.v.i); break;
    case KLAW_MP_FLOAT32: CHECK(memcmp(&x.v.f, &y.v.f, sizeof x.v.f) == 0); break;
    case KLAW_MP_FLOAT64: CHECK(memcmp(&x.v.d, &y.v.d, sizeof x.v.d) == 0); break;
    case KLAW_MP_TIMESTAMP: CHECK(x.v.ts.sec == y.v.ts.sec && x.v.ts.nsec == y.v.ts.nsec); break;
    case KLAW_MP_EXT: CHECK(x.ext_type == y.ext_type); /* fall through */
    case KLAW_MP_STR:
    case KLAW_MP_BIN: CHECK(x.len == y.len && (x.len == 0 || memcmp(x.data, y.data, x.len) == 0)); break;
    case KLAW_MP_ARRAY:
    case KLAW_MP_MAP:
        CHECK(x.len == y.len);
        for (uint64_t i = 0; i < (x.type == KLAW_MP_MAP ? 2 : 1) * (uint64_t)x.len; i++)
            check_equal(a, b);
        break;
    default: CHECK(0);
    }
}

static void check_reencoding(const uint8_t *data, size_t size, uint32_t flags)
{
    klaw_mp_reader r;
    klaw_mp_writer w;
    size_t need, len, len2;

    /* measure */
    klaw_mp_reader_init(&r, data, size);
    klaw_mp_reader_set_flags(&r, flags);
    klaw_mp_writer_init(&w, NULL, 0);
    copy_value(&r, &w);
    CHECK(w.status == KLAW_TOOBIG);
    need = klaw_mp_writer_needed(&w);
    CHECK(need >= 1 && need <= size); /* smallest forms: never longer */

    uint8_t *out = malloc(need + 16);
    CHECK(out != NULL);
    klaw_mp_reader_init(&r, data, size);
    klaw_mp_reader_set_flags(&r, flags);
    klaw_mp_writer_init(&w, out, need);
    copy_value(&r, &w);
    CHECK(klaw_mp_writer_finish(&w, &len) == KLAW_OK && len == need);
    CHECK(klaw_mp_validate(out, len, flags, 0, NULL) == KLAW_OK);

    klaw_mp_reader a, b;
    klaw_mp_reader_init(&a, data, size);
    klaw_mp_reader_set_flags(&a, flags);
    klaw_mp_reader_init(&b, out, len);
    klaw_mp_reader_set_flags(&b, flags);
    check_equal(&a, &b);
    CHECK(klaw_mp_reader_finish(&a) == KLAW_OK && klaw_mp_reader_finish(&b) == KLAW_OK);

    /* the writer's encoding is a fixed point */
    uint8_t *again = malloc(len + 16);
    CHECK(again != NULL);
    klaw_mp_reader_init(&r, out, len);
    klaw_mp_reader_set_flags(&r, flags);
    klaw_mp_writer_init(&w, again, len);
    copy_value(&r, &w);
    CHECK(klaw_mp_writer_finish(&w, &len2) == KLAW_OK && len2 == len && memcmp(out, again, len) == 0);

    /* one byte short: TOOBIG, the full size, nothing past the buffer */
    memset(again, 0xa5, len + 16);
    klaw_mp_reader_init(&r, out, len);
    klaw_mp_reader_set_flags(&r, flags);
    klaw_mp_writer_init(&w, again, len - 1);
    copy_value(&r, &w);
    CHECK(klaw_mp_writer_finish(&w, NULL) == KLAW_TOOBIG && klaw_mp_writer_needed(&w) == len);
    for (size_t i = len - 1; i < len + 16; i++)
        CHECK(again[i] == 0xa5);
    free(again);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    in_lo = data;
    in_hi = data + size;
    klaw_mp_reader r;
    klaw_mp_error err;

    /* validate, and skip agreeing with it */
    klaw_status st = klaw_mp_validate(data, size, 0, 0, &err);
    klaw_mp_reader_init(&r, data, size);
    klaw_status sk = klaw_mp_skip(&r);
    if (st == KLAW_OK) {
        CHECK(sk == KLAW_OK && klaw_mp_reader_offset(&r) == size);
        CHECK(klaw_mp_reader_finish(&r) == KLAW_OK);
    } else {
        CHECK(st == KLAW_DECODE && err.status == KLAW_DECODE && err.offset <= size && err.reason);
        if (sk == KLAW_OK) {
            CHECK(klaw_mp_reader_offset(&r) < size);
            CHECK(klaw_mp_reader_finish(&r) == KLAW_DECODE);
        }
        CHECK(r.err.offset == err.offset && r.err.reason == err.reason);
        check_error(&r);
        check_sticky(&r);
    }

    /* the limits only ever take away */
    klaw_status trusted = klaw_mp_validate(data, size, KLAW_MP_TRUSTED_UTF8, 0, NULL);
    CHECK(st != KLAW_OK || trusted == KLAW_OK);
    uint32_t small = size ? 1u + data[0] % 8u : 1u;
    CHECK(klaw_mp_validate(data, size, 0, small, NULL) != KLAW_OK || st == KLAW_OK);
    CHECK(klaw_mp_validate(data, size, 0, KLAW_MP_MAX_DEPTH_LIMIT, NULL) == KLAW_OK || st != KLAW_OK);

    /* read_raw, then read_rest on the tail */
    klaw_mp_raw raw, rest;
    klaw_mp_reader_init(&r, data, size);
    if (klaw_mp_read_raw(&r, &raw) == KLAW_OK) {
        CHECK(raw.ptr == data && raw.len >= 1 && raw.len <= size);
        CHECK(klaw_mp_validate(raw.ptr, raw.len, 0, 0, NULL) == KLAW_OK);
        CHECK(st != KLAW_OK || raw.len == size);
        if (raw.len < size) {
            CHECK(klaw_mp_read_rest(&r, &rest) == KLAW_OK);
            CHECK(rest.ptr == data + raw.len && rest.len == size - raw.len);
            CHECK(klaw_mp_reader_remaining(&r) == 0 && klaw_mp_reader_finish(&r) == KLAW_OK);
        } else {
            CHECK(klaw_mp_read_rest(&r, &rest) == KLAW_DECODE && rest.ptr == NULL);
        }
    } else {
        CHECK(raw.ptr == NULL && raw.len == 0);
        check_error(&r);
    }

    /* a stream of values, span by span */
    klaw_mp_reader_init(&r, data, size);
    while (klaw_mp_reader_remaining(&r)) {
        size_t at = klaw_mp_reader_offset(&r);
        if (klaw_mp_read_raw(&r, &raw) != KLAW_OK) {
            CHECK(r.err.offset >= at);
            check_error(&r);
            check_sticky(&r);
            break;
        }
        CHECK(inside(raw.ptr, raw.len) && raw.ptr == data + at && raw.len >= 1);
        CHECK(klaw_mp_reader_offset(&r) == at + raw.len);
    }

    /* klaw_mp_read agrees with peek_type */
    klaw_mp_reader_init(&r, data, size);
    for (int k = 0; k < 64; k++) {
        klaw_mp_type t = klaw_mp_peek_type(&r);
        klaw_mp_item it;
        if (klaw_mp_read(&r, &it) != KLAW_OK) {
            check_error(&r);
            check_sticky(&r);
            break;
        }
        CHECK(it.type == t && it.type != KLAW_MP_NONE);
        if (it.data)
            CHECK(inside(it.data, it.len));
    }

    /* a typed walk, strict and trusting */
    for (int pass = 0; pass < 2; pass++) {
        klaw_mp_reader_init(&r, data, size);
        klaw_mp_reader_set_flags(&r, pass ? KLAW_MP_TRUSTED_UTF8 : 0);
        bool ok = typed_walk(&r, 0);
        if (ok) {
            CHECK(pass || st != KLAW_OK || klaw_mp_reader_offset(&r) == size);
        } else {
            check_error(&r);
            CHECK(r.err.status == KLAW_DECODE);
            check_sticky(&r);
        }
        if (pass == 0 && st == KLAW_OK)
            CHECK(ok);
    }

    if (st == KLAW_OK)
        check_reencoding(data, size, 0);
    else if (trusted == KLAW_OK)
        check_reencoding(data, size, KLAW_MP_TRUSTED_UTF8);
    return 0;
}
