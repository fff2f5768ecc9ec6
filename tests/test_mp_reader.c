/* test_mp_reader.c - the lazy MessagePack reader: typed reads and their
 * range and type errors, views into the buffer, skip, raw spans, sticky
 * errors, and every strict rule, each failing with KLAW_DECODE at an exact
 * byte offset. Run under ASan in CI: the truncation tests give the reader
 * buffers of exactly the prefix's size, so a read past the end is caught. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h" /* hex() */
#include "klaw/klaw.h"

/* ---- helpers ------------------------------------------------------------- */

/* A copy of p[0, n) in a buffer of exactly n bytes, so ASan sees any read
 * past its end. */
static uint8_t *exact_copy(const uint8_t *p, size_t n)
{
    uint8_t *q = malloc(n ? n : 1);
    assert_non_null(q);
    if (n)
        memcpy(q, p, n);
    return q;
}

/* Reads every value with klaw_mp_read, descending into containers. */
static klaw_status walk_read(klaw_mp_reader *r)
{
    klaw_mp_item it;
    klaw_status st = klaw_mp_read(r, &it);
    if (st != KLAW_OK)
        return st;
    uint64_t n = it.type == KLAW_MP_ARRAY ? it.len : it.type == KLAW_MP_MAP ? 2ull * it.len : 0;
    for (uint64_t i = 0; i < n; i++)
        if ((st = walk_read(r)) != KLAW_OK)
            return st;
    return KLAW_OK;
}

/* Asserts that validate, skip, read_raw and (when read_walk) a walk with
 * klaw_mp_read all reject buf with KLAW_DECODE at `offset` (reason
 * containing `why` when given). A read walk has no nesting limit: it builds
 * nothing, so nesting is the caller's business there. */
static void check_decode_error(const uint8_t *buf, size_t len, uint32_t flags, size_t offset, const char *why,
                               bool read_walk)
{
    uint8_t *copy = exact_copy(buf, len);
    klaw_mp_error err;
    klaw_status st = klaw_mp_validate(copy, len, flags, 0, &err);
    if (st != KLAW_DECODE || err.offset != offset || (why && !strstr(err.reason, why)))
        fail_msg("validate: %s at %zu (%s), want KLAW_DECODE at %zu (%s)", klaw_status_name(st), err.offset,
                 err.reason ? err.reason : "-", offset, why ? why : "-");

    klaw_mp_reader r;
    klaw_mp_reader_init(&r, copy, len);
    klaw_mp_reader_set_flags(&r, flags);
    st = klaw_mp_skip(&r);
    if (st == KLAW_OK)
        st = klaw_mp_reader_finish(&r);
    assert_int_equal(st, KLAW_DECODE);
    assert_int_equal(r.err.offset, offset);

    klaw_mp_raw raw = {copy, 99};
    klaw_mp_reader_init(&r, copy, len);
    klaw_mp_reader_set_flags(&r, flags);
    st = klaw_mp_read_raw(&r, &raw);
    if (st == KLAW_OK) {
        st = klaw_mp_reader_finish(&r);
    } else {
        assert_null(raw.ptr);
        assert_int_equal(raw.len, 0);
    }
    assert_int_equal(st, KLAW_DECODE);
    assert_int_equal(r.err.offset, offset);

    if (read_walk) {
        klaw_mp_reader_init(&r, copy, len);
        klaw_mp_reader_set_flags(&r, flags);
        st = walk_read(&r);
        if (st == KLAW_OK)
            st = klaw_mp_reader_finish(&r);
        assert_int_equal(st, KLAW_DECODE);
        assert_int_equal(r.err.offset, offset);
    }
    free(copy);
}

static void assert_decode_error_at(const uint8_t *buf, size_t len, uint32_t flags, size_t offset, const char *why)
{
    check_decode_error(buf, len, flags, offset, why, true);
}

static void assert_decode_error_hex(const char *h, size_t offset, const char *why)
{
    uint8_t buf[128];
    size_t len = hex(h, buf, sizeof buf);
    assert_decode_error_at(buf, len, 0, offset, why);
}

static void assert_valid_hex(const char *h)
{
    uint8_t buf[128];
    size_t len = hex(h, buf, sizeof buf);
    klaw_mp_error err;
    if (klaw_mp_validate(buf, len, 0, 0, &err) != KLAW_OK)
        fail_msg("%s: %s at %zu", h, err.reason, err.offset);
}

/* ---- reading each type ---------------------------------------------------- */

static const char all_types_hex[] = "c0 c3 c2 05 fb ca 3f c0 00 00 cb 40 09 21 fb 54 44 2d 18"
                                    " a2 68 69 c4 02 00 ff 92 01 02 81 a1 6b c0"
                                    " d5 07 aa bb d6 ff 00 00 00 2a";

static void read_returns_each_type_with_its_value(void **state)
{
    (void)state;
    uint8_t buf[64];
    size_t len = hex(all_types_hex, buf, sizeof buf);
    klaw_mp_reader r;
    klaw_mp_item it;
    klaw_mp_reader_init(&r, buf, len);

    assert_int_equal(klaw_mp_read(&r, &it), KLAW_OK);
    assert_int_equal(it.type, KLAW_MP_NIL);
    assert_int_equal(klaw_mp_read(&r, &it), KLAW_OK);
    assert_int_equal(it.type, KLAW_MP_BOOL);
    assert_true(it.v.b);
    assert_int_equal(klaw_mp_read(&r, &it), KLAW_OK);
    assert_int_equal(it.type, KLAW_MP_BOOL);
    assert_false(it.v.b);
    assert_int_equal(klaw_mp_read(&r, &it), KLAW_OK);
    assert_int_equal(it.type, KLAW_MP_UINT);
    assert_int_equal(it.v.u, 5);
    assert_int_equal(klaw_mp_read(&r, &it), KLAW_OK);
    assert_int_equal(it.type, KLAW_MP_INT);
    assert_int_equal(it.v.i, -5);
    assert_int_equal(klaw_mp_read(&r, &it), KLAW_OK);
    assert_int_equal(it.type, KLAW_MP_FLOAT32);
    assert_true(it.v.f == 1.5f);
    assert_int_equal(klaw_mp_read(&r, &it), KLAW_OK);
    assert_int_equal(it.type, KLAW_MP_FLOAT64);
    assert_true(it.v.d == 3.141592653589793);
    assert_int_equal(klaw_mp_read(&r, &it), KLAW_OK);
    assert_int_equal(it.type, KLAW_MP_STR);
    assert_int_equal(it.len, 2);
    assert_ptr_equal(it.data, buf + 20);
    assert_int_equal(klaw_mp_read(&r, &it), KLAW_OK);
    assert_int_equal(it.type, KLAW_MP_BIN);
    assert_int_equal(it.len, 2);
    assert_ptr_equal(it.data, buf + 24);
    assert_int_equal(klaw_mp_read(&r, &it), KLAW_OK);
    assert_int_equal(it.type, KLAW_MP_ARRAY);
    assert_int_equal(it.len, 2);
    assert_int_equal(klaw_mp_reader_offset(&r), 27); /* elements not consumed */
    assert_int_equal(klaw_mp_skip(&r), KLAW_OK);
    assert_int_equal(klaw_mp_skip(&r), KLAW_OK);
    assert_int_equal(klaw_mp_read(&r, &it), KLAW_OK);
    assert_int_equal(it.type, KLAW_MP_MAP);
    assert_int_equal(it.len, 1);
    assert_int_equal(klaw_mp_skip(&r), KLAW_OK);
    assert_int_equal(klaw_mp_skip(&r), KLAW_OK);
    assert_int_equal(klaw_mp_read(&r, &it), KLAW_OK);
    assert_int_equal(it.type, KLAW_MP_EXT);
    assert_int_equal(it.ext_type, 7);
    assert_int_equal(it.len, 2);
    assert_ptr_equal(it.data, buf + 35);
    assert_int_equal(klaw_mp_read(&r, &it), KLAW_OK);
    assert_int_equal(it.type, KLAW_MP_TIMESTAMP);
    assert_int_equal(it.ext_type, -1);
    assert_int_equal(it.v.ts.sec, 42);
    assert_int_equal(it.v.ts.nsec, 0);
    assert_int_equal(it.len, 4);
    assert_ptr_equal(it.data, buf + 39);
    assert_int_equal(klaw_mp_reader_remaining(&r), 0);
    assert_int_equal(klaw_mp_reader_finish(&r), KLAW_OK);

    /* and nothing is left */
    assert_int_equal(klaw_mp_read(&r, &it), KLAW_DECODE);
    assert_int_equal(it.type, KLAW_MP_NONE);
    assert_int_equal(r.err.offset, len);
    assert_string_equal(r.err.reason, "unexpected end of input");
}

static void typed_reads_return_values_and_views_into_the_buffer(void **state)
{
    (void)state;
    uint8_t buf[64];
    size_t len = hex(all_types_hex, buf, sizeof buf);
    klaw_mp_reader r;
    bool b;
    uint64_t u;
    int64_t i;
    double d;
    const char *s;
    const uint8_t *data;
    uint32_t n;
    int8_t type;
    int64_t sec;
    uint32_t nsec;
    klaw_mp_reader_init(&r, buf, len);
    assert_int_equal(klaw_mp_read_nil(&r), KLAW_OK);
    assert_int_equal(klaw_mp_read_bool(&r, &b), KLAW_OK);
    assert_true(b);
    assert_int_equal(klaw_mp_read_bool(&r, &b), KLAW_OK);
    assert_false(b);
    assert_int_equal(klaw_mp_read_uint(&r, &u), KLAW_OK);
    assert_int_equal(u, 5);
    assert_int_equal(klaw_mp_read_int(&r, &i), KLAW_OK);
    assert_int_equal(i, -5);
    assert_int_equal(klaw_mp_read_double(&r, &d), KLAW_OK); /* float32, widened */
    assert_true(d == 1.5);
    assert_int_equal(klaw_mp_read_double(&r, &d), KLAW_OK);
    assert_true(d == 3.141592653589793);
    assert_int_equal(klaw_mp_read_str(&r, &s, &n), KLAW_OK);
    assert_ptr_equal(s, (const char *)buf + 20); /* a view, not a copy */
    assert_int_equal(n, 2);
    assert_memory_equal(s, "hi", 2);
    assert_int_equal(klaw_mp_read_bin(&r, &data, &n), KLAW_OK);
    assert_ptr_equal(data, buf + 24);
    assert_int_equal(n, 2);
    assert_int_equal(klaw_mp_read_array(&r, &n), KLAW_OK);
    assert_int_equal(n, 2);
    assert_int_equal(klaw_mp_read_int(&r, &i), KLAW_OK);
    assert_int_equal(i, 1);
    assert_int_equal(klaw_mp_read_uint(&r, &u), KLAW_OK);
    assert_int_equal(u, 2);
    assert_int_equal(klaw_mp_read_map(&r, &n), KLAW_OK);
    assert_int_equal(n, 1);
    assert_int_equal(klaw_mp_read_str(&r, &s, &n), KLAW_OK);
    assert_int_equal(n, 1);
    assert_int_equal(klaw_mp_read_nil(&r), KLAW_OK);
    assert_int_equal(klaw_mp_read_ext(&r, &type, &data, &n), KLAW_OK);
    assert_int_equal(type, 7);
    assert_ptr_equal(data, buf + 35);
    assert_int_equal(n, 2);
    assert_int_equal(klaw_mp_read_timestamp(&r, &sec, &nsec), KLAW_OK);
    assert_int_equal(sec, 42);
    assert_int_equal(nsec, 0);
    assert_int_equal(klaw_mp_reader_finish(&r), KLAW_OK);
}

static void read_ext_also_takes_a_timestamp_and_read_timestamp_refuses_other_ext(void **state)
{
    (void)state;
    uint8_t buf[] = {0xd6, 0xff, 0, 0, 0, 9, 0xd6, 0x01, 0, 0, 0, 9};
    klaw_mp_reader r;
    int8_t type;
    const uint8_t *data;
    uint32_t n;
    int64_t sec = 1;
    uint32_t nsec = 1;
    klaw_mp_reader_init(&r, buf, sizeof buf);
    assert_int_equal(klaw_mp_read_ext(&r, &type, &data, &n), KLAW_OK);
    assert_int_equal(type, -1);
    assert_ptr_equal(data, buf + 2);
    assert_int_equal(n, 4);
    assert_int_equal(klaw_mp_read_timestamp(&r, &sec, &nsec), KLAW_VALIDATE);
    assert_int_equal(r.err.offset, 6);
    assert_int_equal(r.err.expected, KLAW_MP_TIMESTAMP);
    assert_int_equal(r.err.got, KLAW_MP_EXT);
    assert_int_equal(sec, 0);
    assert_int_equal(nsec, 0);
}

static void read_double_converts_integers(void **state)
{
    (void)state;
    uint8_t buf[32];
    size_t len = hex("cf ff ff ff ff ff ff ff ff d3 80 00 00 00 00 00 00 00 07", buf, sizeof buf);
    klaw_mp_reader r;
    double d;
    klaw_mp_reader_init(&r, buf, len);
    assert_int_equal(klaw_mp_read_double(&r, &d), KLAW_OK);
    assert_true(d == 18446744073709551616.0);
    assert_int_equal(klaw_mp_read_double(&r, &d), KLAW_OK);
    assert_true(d == -9223372036854775808.0);
    assert_int_equal(klaw_mp_read_double(&r, &d), KLAW_OK);
    assert_true(d == 7.0);
}

/* ---- integer ranges ------------------------------------------------------- */

static void read_int_refuses_uint64_above_int64_max_that_read_uint_takes(void **state)
{
    (void)state;
    uint8_t buf[] = {0xc0, 0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0};
    klaw_mp_reader r;
    int64_t i = 77;
    uint64_t u = 0;
    klaw_mp_reader_init(&r, buf, sizeof buf);
    assert_int_equal(klaw_mp_read_nil(&r), KLAW_OK);
    assert_int_equal(klaw_mp_read_int(&r, &i), KLAW_VALIDATE);
    assert_int_equal(i, 0);
    assert_int_equal(r.err.offset, 1);
    assert_string_equal(r.err.reason, "integer out of range");

    klaw_mp_reader_init(&r, buf + 1, sizeof buf - 1);
    assert_int_equal(klaw_mp_read_uint(&r, &u), KLAW_OK);
    assert_true(u == (uint64_t)INT64_MAX + 1);

    /* INT64_MAX itself in the uint64 form is an int64 */
    uint8_t max[] = {0xcf, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    klaw_mp_reader_init(&r, max, sizeof max);
    assert_int_equal(klaw_mp_read_int(&r, &i), KLAW_OK);
    assert_true(i == INT64_MAX);
}

static void read_uint_refuses_negative_integers(void **state)
{
    (void)state;
    const char *negs[] = {"ff", "d0 ff", "d1 ff ff", "d2 80 00 00 00", "d3 80 00 00 00 00 00 00 00"};
    for (size_t k = 0; k < sizeof negs / sizeof negs[0]; k++) {
        uint8_t buf[16];
        size_t len = hex(negs[k], buf, sizeof buf);
        klaw_mp_reader r;
        uint64_t u = 77;
        klaw_mp_reader_init(&r, buf, len);
        assert_int_equal(klaw_mp_read_uint(&r, &u), KLAW_VALIDATE);
        assert_int_equal(u, 0);
        assert_int_equal(r.err.offset, 0);
        assert_int_equal(r.err.expected, KLAW_MP_UINT);
        assert_int_equal(r.err.got, KLAW_MP_INT);
    }
    /* signed encodings of non-negative values are unsigned integers */
    uint8_t pos[] = {0xd0, 0x05, 0xd3, 0, 0, 0, 0, 0, 0, 0, 0};
    klaw_mp_reader r;
    uint64_t u;
    klaw_mp_reader_init(&r, pos, sizeof pos);
    assert_int_equal(klaw_mp_peek_type(&r), KLAW_MP_UINT);
    assert_int_equal(klaw_mp_read_uint(&r, &u), KLAW_OK);
    assert_int_equal(u, 5);
    assert_int_equal(klaw_mp_read_uint(&r, &u), KLAW_OK);
    assert_int_equal(u, 0);
}

static void read_int_range_checks_both_bounds(void **state)
{
    (void)state;
    static const struct {
        const char *hex;
        int64_t min, max;
        bool ok;
    } cases[] = {
        {"d0 80", -128, 127, true},          {"d1 ff 7f", -128, 127, false}, /* -129 */
        {"7f", -128, 127, true},             {"cc 80", -128, 127, false},    /* 128 */
        {"ff", -10, -1, true},               {"00", -10, -1, false},
        {"05", 10, 20, false},               {"0a", 10, 20, true},
        {"14", 10, 20, true},                {"15", 10, 20, false},
        {"f6", -10, -1, true},               {"f5", -10, -1, false},
        {"cd ff ff", 0, UINT16_MAX, true},   {"ce 00 01 00 00", 0, UINT16_MAX, false},
        {"d3 80 00 00 00 00 00 00 00", INT64_MIN, INT64_MAX, true},
        {"cf 7f ff ff ff ff ff ff ff", INT64_MIN, INT64_MAX, true},
        {"cf ff ff ff ff ff ff ff ff", INT64_MIN, INT64_MAX, false},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        uint8_t buf[16];
        size_t len = hex(cases[k].hex, buf, sizeof buf);
        klaw_mp_reader r;
        int64_t v = 77;
        klaw_mp_reader_init(&r, buf, len);
        klaw_status st = klaw_mp_read_int_range(&r, cases[k].min, cases[k].max, &v);
        if (cases[k].ok) {
            if (st != KLAW_OK)
                fail_msg("%s in [%lld, %lld]: %s", cases[k].hex, (long long)cases[k].min, (long long)cases[k].max,
                         klaw_status_name(st));
            assert_true(v >= cases[k].min && v <= cases[k].max);
        } else {
            if (st != KLAW_VALIDATE)
                fail_msg("%s outside [%lld, %lld]: %s", cases[k].hex, (long long)cases[k].min,
                         (long long)cases[k].max, klaw_status_name(st));
            assert_int_equal(v, 0);
            assert_int_equal(r.err.offset, 0);
            assert_string_equal(r.err.reason, "integer out of range");
        }
    }
}

static void read_uint_max_checks_the_bound(void **state)
{
    (void)state;
    uint8_t buf[] = {0xcc, 0xff, 0xcd, 0x01, 0x00};
    klaw_mp_reader r;
    uint64_t u = 77;
    klaw_mp_reader_init(&r, buf, sizeof buf);
    assert_int_equal(klaw_mp_read_uint_max(&r, 255, &u), KLAW_OK);
    assert_int_equal(u, 255);
    assert_int_equal(klaw_mp_read_uint_max(&r, 255, &u), KLAW_VALIDATE);
    assert_int_equal(u, 0);
    assert_int_equal(r.err.offset, 2);
    char msg[128];
    klaw_mp_error_format(&r.err, msg, sizeof msg);
    assert_string_equal(msg, "validation error at byte 2: integer out of range");
}

/* ---- wrong types ---------------------------------------------------------- */

static void wrong_type_is_validate_naming_expected_and_got(void **state)
{
    (void)state;
    /* the value sits at offset 1, after a nil */
    static const struct {
        const char *hex;
        int read; /* which typed read */
        klaw_mp_type expected, got;
        const char *text;
    } cases[] = {
        {"c0 a1 78", 0, KLAW_MP_INT, KLAW_MP_STR, "expected int, got str"},
        {"c0 a1 78", 1, KLAW_MP_UINT, KLAW_MP_STR, "expected int, got str"},
        {"c0 05", 2, KLAW_MP_STR, KLAW_MP_UINT, "expected str, got int"},
        {"c0 c0", 3, KLAW_MP_BOOL, KLAW_MP_NIL, "expected bool, got nil"},
        {"c0 c3", 4, KLAW_MP_NIL, KLAW_MP_BOOL, "expected nil, got bool"},
        {"c0 90", 5, KLAW_MP_MAP, KLAW_MP_ARRAY, "expected map, got array"},
        {"c0 80", 6, KLAW_MP_ARRAY, KLAW_MP_MAP, "expected array, got map"},
        {"c0 a0", 7, KLAW_MP_BIN, KLAW_MP_STR, "expected bin, got str"},
        {"c0 c4 00", 8, KLAW_MP_FLOAT64, KLAW_MP_BIN, "expected float, got bin"},
        {"c0 ca 00 00 00 00", 0, KLAW_MP_INT, KLAW_MP_FLOAT32, "expected int, got float32"},
        {"c0 c0", 9, KLAW_MP_EXT, KLAW_MP_NIL, "expected ext, got nil"},
        {"c0 d4 01 00", 10, KLAW_MP_TIMESTAMP, KLAW_MP_EXT, "expected timestamp, got ext"},
        {"c0 d6 ff 00 00 00 00", 0, KLAW_MP_INT, KLAW_MP_TIMESTAMP, "expected int, got timestamp"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        uint8_t buf[16];
        size_t len = hex(cases[k].hex, buf, sizeof buf);
        klaw_mp_reader r;
        int64_t i = 7;
        uint64_t u = 7;
        const char *s = "x";
        const uint8_t *data = buf;
        uint32_t n = 7;
        bool b = true;
        double d = 7;
        int8_t type = 7;
        int64_t sec = 7;
        uint32_t nsec = 7;
        klaw_status st = KLAW_OK;
        klaw_mp_reader_init(&r, buf, len);
        assert_int_equal(klaw_mp_read_nil(&r), KLAW_OK);
        switch (cases[k].read) {
        case 0:
            st = klaw_mp_read_int(&r, &i);
            assert_int_equal(i, 0);
            break;
        case 1:
            st = klaw_mp_read_uint(&r, &u);
            assert_int_equal(u, 0);
            break;
        case 2:
            st = klaw_mp_read_str(&r, &s, &n);
            assert_null(s);
            break;
        case 3:
            st = klaw_mp_read_bool(&r, &b);
            assert_false(b);
            break;
        case 4: st = klaw_mp_read_nil(&r); break;
        case 5:
            st = klaw_mp_read_map(&r, &n);
            assert_int_equal(n, 0);
            break;
        case 6:
            st = klaw_mp_read_array(&r, &n);
            assert_int_equal(n, 0);
            break;
        case 7:
            st = klaw_mp_read_bin(&r, &data, &n);
            assert_null(data);
            break;
        case 8:
            st = klaw_mp_read_double(&r, &d);
            assert_true(d == 0);
            break;
        case 9:
            st = klaw_mp_read_ext(&r, &type, &data, &n);
            assert_null(data);
            assert_int_equal(type, 0);
            break;
        default:
            st = klaw_mp_read_timestamp(&r, &sec, &nsec);
            assert_int_equal(sec, 0);
            break;
        }
        assert_int_equal(st, KLAW_VALIDATE);
        assert_int_equal(r.err.status, KLAW_VALIDATE);
        assert_int_equal(r.err.offset, 1);
        assert_int_equal(r.err.expected, cases[k].expected);
        assert_int_equal(r.err.got, cases[k].got);
        char msg[128], want[128];
        snprintf(want, sizeof want, "validation error at byte 1: %s", cases[k].text);
        assert_int_equal(klaw_mp_error_format(&r.err, msg, sizeof msg), (int)strlen(want));
        assert_string_equal(msg, want);
    }
}

/* ---- sticky errors -------------------------------------------------------- */

static void after_an_error_every_call_returns_it_and_zeroes_outputs(void **state)
{
    (void)state;
    uint8_t buf[] = {0x01, 0xc1, 0x02, 0xa1, 'x'};
    klaw_mp_reader r;
    klaw_mp_reader_init(&r, buf, sizeof buf);
    uint64_t u;
    assert_int_equal(klaw_mp_read_uint(&r, &u), KLAW_OK);
    assert_int_equal(klaw_mp_read_uint(&r, &u), KLAW_DECODE);
    assert_int_equal(r.err.offset, 1);
    assert_string_equal(r.err.reason, "invalid byte 0xc1");
    const klaw_mp_error first = r.err;

    /* move past the bad byte by hand: the reader still refuses everything */
    r.pos = buf + 2;
    klaw_mp_item it;
    memset(&it, 0x5a, sizeof it);
    assert_int_equal(klaw_mp_read(&r, &it), KLAW_DECODE);
    assert_int_equal(it.type, KLAW_MP_NONE);
    assert_int_equal(it.len, 0);
    assert_null(it.data);
    assert_int_equal(it.v.u, 0);

    bool b = true;
    int64_t i = 9;
    double d = 9;
    const char *s = "x";
    const uint8_t *data = buf;
    uint32_t n = 9;
    int8_t type = 9;
    int64_t sec = 9;
    uint32_t nsec = 9;
    klaw_mp_raw raw = {buf, 9};
    u = 9;
    assert_int_equal(klaw_mp_read_nil(&r), KLAW_DECODE);
    assert_int_equal(klaw_mp_read_bool(&r, &b), KLAW_DECODE);
    assert_false(b);
    assert_int_equal(klaw_mp_read_int(&r, &i), KLAW_DECODE);
    assert_int_equal(i, 0);
    i = 9;
    assert_int_equal(klaw_mp_read_int_range(&r, 0, 10, &i), KLAW_DECODE);
    assert_int_equal(i, 0);
    assert_int_equal(klaw_mp_read_uint(&r, &u), KLAW_DECODE);
    assert_int_equal(u, 0);
    u = 9;
    assert_int_equal(klaw_mp_read_uint_max(&r, 10, &u), KLAW_DECODE);
    assert_int_equal(u, 0);
    assert_int_equal(klaw_mp_read_double(&r, &d), KLAW_DECODE);
    assert_true(d == 0);
    assert_int_equal(klaw_mp_read_str(&r, &s, &n), KLAW_DECODE);
    assert_null(s);
    assert_int_equal(n, 0);
    n = 9;
    assert_int_equal(klaw_mp_read_bin(&r, &data, &n), KLAW_DECODE);
    assert_null(data);
    assert_int_equal(n, 0);
    n = 9;
    assert_int_equal(klaw_mp_read_array(&r, &n), KLAW_DECODE);
    assert_int_equal(n, 0);
    n = 9;
    assert_int_equal(klaw_mp_read_map(&r, &n), KLAW_DECODE);
    assert_int_equal(n, 0);
    n = 9;
    data = buf;
    assert_int_equal(klaw_mp_read_ext(&r, &type, &data, &n), KLAW_DECODE);
    assert_int_equal(type, 0);
    assert_null(data);
    assert_int_equal(n, 0);
    assert_int_equal(klaw_mp_read_timestamp(&r, &sec, &nsec), KLAW_DECODE);
    assert_int_equal(sec, 0);
    assert_int_equal(nsec, 0);
    assert_int_equal(klaw_mp_skip(&r), KLAW_DECODE);
    assert_int_equal(klaw_mp_read_raw(&r, &raw), KLAW_DECODE);
    assert_null(raw.ptr);
    assert_int_equal(raw.len, 0);
    raw.ptr = buf;
    raw.len = 9;
    assert_int_equal(klaw_mp_read_rest(&r, &raw), KLAW_DECODE);
    assert_null(raw.ptr);
    assert_int_equal(raw.len, 0);
    assert_int_equal(klaw_mp_peek_type(&r), KLAW_MP_NONE);
    assert_int_equal(klaw_mp_reader_finish(&r), KLAW_DECODE);
    assert_int_equal(klaw_mp_reader_status(&r), KLAW_DECODE);

    /* nothing moved, and the first error is the one kept */
    assert_ptr_equal(r.pos, buf + 2);
    assert_int_equal(r.err.status, first.status);
    assert_int_equal(r.err.offset, first.offset);
    assert_ptr_equal(r.err.reason, first.reason);
}

static void a_validate_error_sticks_too(void **state)
{
    (void)state;
    uint8_t buf[] = {0xa1, 'x', 0x05};
    klaw_mp_reader r;
    int64_t i;
    uint64_t u = 9;
    klaw_mp_reader_init(&r, buf, sizeof buf);
    assert_int_equal(klaw_mp_read_int(&r, &i), KLAW_VALIDATE);
    assert_int_equal(klaw_mp_read_uint(&r, &u), KLAW_VALIDATE);
    assert_int_equal(u, 0);
    assert_int_equal(r.err.offset, 0);
    assert_int_equal(r.err.expected, KLAW_MP_INT);
    assert_int_equal(klaw_mp_reader_finish(&r), KLAW_VALIDATE);
}

/* ---- skip, raw, rest, peek, finish ------------------------------------------ */

static void skip_passes_a_nested_subtree_whole(void **state)
{
    (void)state;
    uint8_t buf[128];
    klaw_mp_writer w;
    size_t len;
    klaw_mp_writer_init(&w, buf, sizeof buf);
    klaw_mp_write_array(&w, 3);
    klaw_mp_write_map(&w, 2);
    klaw_mp_write_cstr(&w, "a");
    klaw_mp_write_array(&w, 3);
    klaw_mp_write_uint(&w, 1);
    klaw_mp_write_array(&w, 0);
    klaw_mp_write_map(&w, 1);
    klaw_mp_write_cstr(&w, "b");
    klaw_mp_write_bin(&w, "\x01\x02\x03", 3);
    klaw_mp_write_timestamp(&w, -3, 5);
    klaw_mp_write_ext(&w, 3, "xyz", 3);
    size_t after_map = klaw_mp_writer_len(&w);
    klaw_mp_write_cstr(&w, "x");
    klaw_mp_write_int(&w, -70000);
    assert_int_equal(klaw_mp_writer_finish(&w, &len), KLAW_OK);

    klaw_mp_reader r;
    uint32_t n;
    const char *s;
    int64_t i;
    klaw_mp_reader_init(&r, buf, len);
    assert_int_equal(klaw_mp_read_array(&r, &n), KLAW_OK);
    assert_int_equal(n, 3);
    assert_int_equal(klaw_mp_skip(&r), KLAW_OK);
    assert_int_equal(klaw_mp_reader_offset(&r), after_map);
    assert_int_equal(klaw_mp_read_str(&r, &s, &n), KLAW_OK);
    assert_memory_equal(s, "x", 1);
    assert_int_equal(klaw_mp_skip(&r), KLAW_OK);
    assert_int_equal(klaw_mp_reader_finish(&r), KLAW_OK);

    /* from the top, one skip passes the whole value */
    klaw_mp_reader_init(&r, buf, len);
    assert_int_equal(klaw_mp_skip(&r), KLAW_OK);
    assert_int_equal(klaw_mp_reader_offset(&r), len);

    /* a skip of a scalar passes just it */
    klaw_mp_reader_init(&r, buf + after_map + 2, len - after_map - 2);
    assert_int_equal(klaw_mp_skip(&r), KLAW_OK);
    assert_int_equal(klaw_mp_reader_remaining(&r), 0);
    klaw_mp_reader_init(&r, buf + after_map + 2, len - after_map - 2);
    assert_int_equal(klaw_mp_read_int(&r, &i), KLAW_OK);
    assert_int_equal(i, -70000);
}

static void read_raw_returns_the_span_of_one_value_inside_the_buffer(void **state)
{
    (void)state;
    uint8_t buf[64];
    size_t len = hex("93 92 01 a1 78 c4 01 ff 81 c0 90", buf, sizeof buf);
    klaw_mp_reader r;
    klaw_mp_raw raw;
    uint32_t n;
    klaw_mp_reader_init(&r, buf, len);
    assert_int_equal(klaw_mp_read_array(&r, &n), KLAW_OK);
    assert_int_equal(klaw_mp_read_raw(&r, &raw), KLAW_OK);
    assert_ptr_equal(raw.ptr, buf + 1);
    assert_int_equal(raw.len, 4);
    assert_int_equal(klaw_mp_read_raw(&r, &raw), KLAW_OK);
    assert_ptr_equal(raw.ptr, buf + 5);
    assert_int_equal(raw.len, 3);
    assert_int_equal(klaw_mp_read_raw(&r, &raw), KLAW_OK);
    assert_ptr_equal(raw.ptr, buf + 8);
    assert_int_equal(raw.len, 3);
    assert_int_equal(klaw_mp_reader_finish(&r), KLAW_OK);

    /* the span decodes on its own */
    klaw_mp_reader_init(&r, buf, len);
    assert_int_equal(klaw_mp_read_raw(&r, &raw), KLAW_OK);
    assert_ptr_equal(raw.ptr, buf);
    assert_int_equal(raw.len, len);
    assert_int_equal(klaw_mp_validate(raw.ptr, raw.len, 0, 0, NULL), KLAW_OK);
}

static void read_rest_takes_the_unread_tail_without_looking_at_it(void **state)
{
    (void)state;
    uint8_t buf[] = {0x92, 0x01, 0xc1, 0xc1};
    klaw_mp_reader r;
    klaw_mp_raw raw;
    uint32_t n;
    uint64_t u;
    klaw_mp_reader_init(&r, buf, sizeof buf);
    assert_int_equal(klaw_mp_read_array(&r, &n), KLAW_OK);
    assert_int_equal(klaw_mp_read_uint(&r, &u), KLAW_OK);
    assert_int_equal(klaw_mp_read_rest(&r, &raw), KLAW_OK); /* unchecked */
    assert_ptr_equal(raw.ptr, buf + 2);
    assert_int_equal(raw.len, 2);
    assert_int_equal(klaw_mp_reader_remaining(&r), 0);
    assert_int_equal(klaw_mp_reader_finish(&r), KLAW_OK);
    /* the span is checked when it is decoded */
    klaw_mp_error err;
    assert_int_equal(klaw_mp_validate(raw.ptr, raw.len, 0, 0, &err), KLAW_DECODE);
    assert_int_equal(err.offset, 0);

    /* nothing left: DECODE */
    raw.ptr = buf;
    raw.len = 9;
    assert_int_equal(klaw_mp_read_rest(&r, &raw), KLAW_DECODE);
    assert_null(raw.ptr);
    assert_int_equal(raw.len, 0);
    assert_int_equal(r.err.offset, 4);
    assert_string_equal(r.err.reason, "unexpected end of input");
}

static void peek_type_names_the_next_value_without_consuming_it(void **state)
{
    (void)state;
    static const struct {
        const char *hex;
        klaw_mp_type type;
    } cases[] = {
        {"c0", KLAW_MP_NIL},
        {"c2", KLAW_MP_BOOL},
        {"00", KLAW_MP_UINT},
        {"7f", KLAW_MP_UINT},
        {"e0", KLAW_MP_INT},
        {"cc ff", KLAW_MP_UINT},
        {"cf ff ff ff ff ff ff ff ff", KLAW_MP_UINT},
        {"d0 7f", KLAW_MP_UINT},
        {"d0 80", KLAW_MP_INT},
        {"d1 00 00", KLAW_MP_UINT},
        {"d3 ff 00 00 00 00 00 00 00", KLAW_MP_INT},
        {"ca 00 00 00 00", KLAW_MP_FLOAT32},
        {"cb 00 00 00 00 00 00 00 00", KLAW_MP_FLOAT64},
        {"a0", KLAW_MP_STR},
        {"d9 00", KLAW_MP_STR},
        {"c4 00", KLAW_MP_BIN},
        {"90", KLAW_MP_ARRAY},
        {"dd 00 00 00 00", KLAW_MP_ARRAY},
        {"80", KLAW_MP_MAP},
        {"de 00 00", KLAW_MP_MAP},
        {"d4 05 00", KLAW_MP_EXT},
        {"c7 00 05", KLAW_MP_EXT},
        {"c9 00 00 00 00 05", KLAW_MP_EXT},
        {"d6 ff 00 00 00 00", KLAW_MP_TIMESTAMP},
        {"d4 ff 00", KLAW_MP_TIMESTAMP}, /* not validated by peek */
        {"c8 00 0c ff", KLAW_MP_TIMESTAMP},
        {"c1", KLAW_MP_NONE},
        {"", KLAW_MP_NONE},
        {"d0", KLAW_MP_NONE}, /* the sign byte is missing */
        {"c7 00", KLAW_MP_NONE},
        {"d4", KLAW_MP_NONE},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        uint8_t buf[16];
        size_t len = hex(cases[k].hex, buf, sizeof buf);
        uint8_t *copy = exact_copy(buf, len);
        klaw_mp_reader r;
        klaw_mp_reader_init(&r, copy, len);
        if (klaw_mp_peek_type(&r) != cases[k].type)
            fail_msg("peek %s: %s, want %s", cases[k].hex, klaw_mp_type_name(klaw_mp_peek_type(&r)),
                     klaw_mp_type_name(cases[k].type));
        assert_int_equal(klaw_mp_reader_offset(&r), 0);
        assert_int_equal(klaw_mp_reader_status(&r), KLAW_OK); /* peek sets no error */
        free(copy);
    }
}

static void finish_rejects_trailing_bytes_at_their_offset(void **state)
{
    (void)state;
    uint8_t buf[] = {0x91, 0x01, 0x02};
    klaw_mp_reader r;
    klaw_mp_reader_init(&r, buf, sizeof buf);
    assert_int_equal(klaw_mp_skip(&r), KLAW_OK);
    assert_int_equal(klaw_mp_reader_finish(&r), KLAW_DECODE);
    assert_int_equal(r.err.offset, 2);
    char msg[96];
    klaw_mp_error_format(&r.err, msg, sizeof msg);
    assert_string_equal(msg, "decode error at byte 2: trailing bytes after value");

    assert_decode_error_hex("c0 c0", 1, "trailing");
    assert_decode_error_hex("92 01 02 03", 3, "trailing");
    assert_decode_error_hex("81 a1 61 90 00", 4, "trailing");
}

/* ---- error text ------------------------------------------------------------- */

static void error_format_says_where_and_why(void **state)
{
    (void)state;
    char msg[96];
    klaw_mp_error err;
    uint8_t buf[] = {0x93, 0x01, 0x02, 0xc1};
    assert_int_equal(klaw_mp_validate(buf, sizeof buf, 0, 0, &err), KLAW_DECODE);
    int n = klaw_mp_error_format(&err, msg, sizeof msg);
    assert_string_equal(msg, "decode error at byte 3: invalid byte 0xc1");
    assert_int_equal(n, (int)strlen(msg));

    /* truncated output still reports the full length, NUL-terminated */
    char small[8];
    assert_int_equal(klaw_mp_error_format(&err, small, sizeof small), n);
    assert_string_equal(small, "decode ");

    klaw_mp_reader r;
    klaw_mp_reader_init(&r, buf, sizeof buf);
    klaw_mp_error_format(&r.err, msg, sizeof msg);
    assert_string_equal(msg, "no error");

    assert_int_equal(klaw_mp_validate(buf, 0, 0, 0, &err), KLAW_DECODE);
    klaw_mp_error_format(&err, msg, sizeof msg);
    assert_string_equal(msg, "decode error at byte 0: unexpected end of input");
}

static void every_type_has_a_name(void **state)
{
    (void)state;
    assert_string_equal(klaw_mp_type_name(KLAW_MP_NONE), "nothing");
    assert_string_equal(klaw_mp_type_name(KLAW_MP_NIL), "nil");
    assert_string_equal(klaw_mp_type_name(KLAW_MP_BOOL), "bool");
    assert_string_equal(klaw_mp_type_name(KLAW_MP_UINT), "int");
    assert_string_equal(klaw_mp_type_name(KLAW_MP_INT), "int");
    assert_string_equal(klaw_mp_type_name(KLAW_MP_FLOAT32), "float32");
    assert_string_equal(klaw_mp_type_name(KLAW_MP_FLOAT64), "float");
    assert_string_equal(klaw_mp_type_name(KLAW_MP_STR), "str");
    assert_string_equal(klaw_mp_type_name(KLAW_MP_BIN), "bin");
    assert_string_equal(klaw_mp_type_name(KLAW_MP_ARRAY), "array");
    assert_string_equal(klaw_mp_type_name(KLAW_MP_MAP), "map");
    assert_string_equal(klaw_mp_type_name(KLAW_MP_EXT), "ext");
    assert_string_equal(klaw_mp_type_name(KLAW_MP_TIMESTAMP), "timestamp");
}

/* ---- strict rules: 0xc1 ------------------------------------------------------ */

static void byte_c1_is_rejected_wherever_it_appears(void **state)
{
    (void)state;
    assert_decode_error_hex("c1", 0, "0xc1");
    assert_decode_error_hex("92 01 c1", 2, "0xc1");
    assert_decode_error_hex("81 c1 01", 1, "0xc1");
    assert_decode_error_hex("81 01 c1", 2, "0xc1");
    assert_decode_error_hex("91 91 91 c1", 3, "0xc1");
}

/* ---- strict rules: truncation --------------------------------------------------- */

/* One value with every type and width, nested past the reader's shallow
 * stack (64 levels). */
static size_t write_big_value(uint8_t *buf, size_t cap)
{
    static uint8_t blob[300];
    klaw_mp_writer w;
    size_t len;
    for (size_t i = 0; i < sizeof blob; i++)
        blob[i] = (uint8_t)(i * 13);
    klaw_mp_writer_init(&w, buf, cap);
    klaw_mp_write_map(&w, 4);
    klaw_mp_write_cstr(&w, "scalars");
    klaw_mp_write_array(&w, 24);
    klaw_mp_write_nil(&w);
    klaw_mp_write_bool(&w, true);
    klaw_mp_write_uint(&w, 5);
    klaw_mp_write_uint(&w, 200);
    klaw_mp_write_uint(&w, 60000);
    klaw_mp_write_uint(&w, 4000000000u);
    klaw_mp_write_uint(&w, UINT64_MAX);
    klaw_mp_write_int(&w, -5);
    klaw_mp_write_int(&w, -100);
    klaw_mp_write_int(&w, -30000);
    klaw_mp_write_int(&w, -2000000000);
    klaw_mp_write_int(&w, INT64_MIN);
    klaw_mp_write_float(&w, 0.25f);
    klaw_mp_write_double(&w, 1e300);
    klaw_mp_write_cstr(&w, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8d\xba");
    klaw_mp_write_str(&w, (const char *)"0123456789abcdef0123456789abcdef0123456789", 42);
    klaw_mp_write_bin(&w, blob, 300);
    klaw_mp_write_ext(&w, 1, blob, 1);
    klaw_mp_write_ext(&w, 2, blob, 16);
    klaw_mp_write_ext(&w, 3, blob, 7);
    klaw_mp_write_ext(&w, 4, blob, 256);
    klaw_mp_write_timestamp(&w, 1, 0);
    klaw_mp_write_timestamp(&w, 1, 1);
    klaw_mp_write_timestamp(&w, -1, 1);
    klaw_mp_write_cstr(&w, "deep");
    for (int i = 0; i < 70; i++) {
        klaw_mp_write_array(&w, 2);
        klaw_mp_write_int(&w, -i);
    }
    klaw_mp_write_map(&w, 0);
    klaw_mp_write_uint(&w, 300);
    klaw_mp_write_array(&w, 20);
    for (int i = 0; i < 20; i++)
        klaw_mp_write_array(&w, 0);
    klaw_mp_write_map(&w, 16);
    for (int i = 0; i < 16; i++) {
        klaw_mp_write_int(&w, i);
        klaw_mp_write_bool(&w, i & 1);
    }
    klaw_mp_write_nil(&w);
    assert_int_equal(klaw_mp_writer_finish(&w, &len), KLAW_OK);
    return len;
}

/* Each item's start and the offset it needs the input to reach: past its
 * data for a scalar, str, bin or ext; past its header plus one byte per
 * element (two per map pair) for a container. */
typedef struct item_span {
    size_t start, need;
} item_span;

static size_t list_items(const uint8_t *buf, size_t len, item_span *out, size_t cap)
{
    klaw_mp_reader r;
    klaw_mp_item it;
    size_t n = 0;
    klaw_mp_reader_init(&r, buf, len);
    while (klaw_mp_reader_remaining(&r)) {
        size_t start = klaw_mp_reader_offset(&r);
        assert_int_equal(klaw_mp_read(&r, &it), KLAW_OK);
        size_t need = klaw_mp_reader_offset(&r);
        if (it.type == KLAW_MP_ARRAY)
            need += it.len;
        else if (it.type == KLAW_MP_MAP)
            need += 2 * (size_t)it.len;
        assert_true(n < cap);
        out[n].start = start;
        out[n].need = need;
        n++;
    }
    return n;
}

static void every_proper_prefix_of_a_value_is_truncated_at_the_first_value_it_cuts(void **state)
{
    (void)state;
    static uint8_t buf[4096];
    static item_span items[1024];
    size_t len = write_big_value(buf, sizeof buf);
    size_t nitems = list_items(buf, len, items, 1024);
    assert_int_equal(klaw_mp_validate(buf, len, 0, 0, NULL), KLAW_OK);

    for (size_t k = 0; k < len; k++) {
        /* the reader fails at the first item (in reading order) that needs
         * more than k bytes */
        size_t want = SIZE_MAX;
        for (size_t i = 0; i < nitems; i++)
            if (items[i].need > k) {
                want = items[i].start;
                break;
            }
        assert_true(want <= k);
        assert_decode_error_at(buf, k, 0, want, NULL);
    }
}

static void truncated_headers_of_every_width_fail_at_their_start(void **state)
{
    (void)state;
    static const char *cases[] = {
        "cc", "cd 00", "ce 00 00 00", "cf 00 00 00 00 00 00 00", "d0", "d1 00", "d2 00 00 00",
        "d3 00 00 00 00 00 00 00", "ca 00 00 00", "cb 00 00 00 00 00 00 00", "d9", "da 00", "db 00 00 00",
        "c4", "c5 00", "c6 00 00 00", "c7", "c7 00", "c8 00 00", "c9 00 00 00 00", "d4", "d4 01", "d8 01",
        "dc 00", "dd 00 00 00", "de 00", "df 00 00 00", "a1", "c4 01", "d6 ff 00 00 00",
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char h[64];
        /* alone and as the second element of an array */
        assert_decode_error_hex(cases[k], 0, NULL);
        snprintf(h, sizeof h, "92 c0 %s", cases[k]);
        uint8_t buf[32];
        size_t len = hex(h, buf, sizeof buf);
        assert_decode_error_at(buf, len, 0, 2, NULL);
    }
}

/* ---- strict rules: timestamps ----------------------------------------------------- */

static void timestamps_of_length_other_than_4_8_12_are_rejected(void **state)
{
    (void)state;
    assert_decode_error_hex("d4 ff 00", 0, "timestamp length");
    assert_decode_error_hex("d5 ff 00 00", 0, "timestamp length");
    assert_decode_error_hex("d8 ff 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00", 0, "timestamp length");
    assert_decode_error_hex("c7 00 ff", 0, "timestamp length");
    assert_decode_error_hex("c7 05 ff 00 00 00 00 00", 0, "timestamp length");
    assert_decode_error_hex("c7 0d ff 00 00 00 00 00 00 00 00 00 00 00 00 00", 0, "timestamp length");
    assert_decode_error_hex("91 c7 03 ff 00 00 00", 1, "timestamp length");
    /* the same lengths with another ext type are fine */
    assert_valid_hex("d4 00 00");
    assert_valid_hex("c7 05 7f 00 00 00 00 00");
    /* 4, 8 and 12 in the ext 8/16/32 forms are accepted */
    assert_valid_hex("c7 04 ff 00 00 00 01");
    assert_valid_hex("c8 00 08 ff 00 00 00 00 00 00 00 01");
    assert_valid_hex("c9 00 00 00 0c ff 00 00 00 00 00 00 00 00 00 00 00 01");
}

static void timestamp_nanoseconds_above_999999999_are_rejected(void **state)
{
    (void)state;
    /* 64-bit: nsec in the top 30 bits; 1000000000 << 34 */
    assert_decode_error_hex("d7 ff ee 6b 28 00 00 00 00 00", 0, "nanoseconds");
    assert_decode_error_hex("d7 ff ff ff ff fc 00 00 00 00", 0, "nanoseconds");
    assert_valid_hex("d7 ff ee 6b 27 fc 00 00 00 00");
    /* 96-bit: nsec is the first 32 bits */
    assert_decode_error_hex("c7 0c ff 3b 9a ca 00 00 00 00 00 00 00 00 00", 0, "nanoseconds");
    assert_decode_error_hex("c7 0c ff ff ff ff ff 00 00 00 00 00 00 00 00", 0, "nanoseconds");
    assert_decode_error_hex("92 c0 c7 0c ff 3b 9a ca 00 00 00 00 00 00 00 00 00", 2, "nanoseconds");
    assert_valid_hex("c7 0c ff 3b 9a c9 ff 00 00 00 00 00 00 00 00");

    uint8_t bad[] = {0xd7, 0xff, 0xee, 0x6b, 0x28, 0, 0, 0, 0, 0};
    klaw_mp_reader r;
    int64_t sec = 5;
    uint32_t nsec = 5;
    klaw_mp_reader_init(&r, bad, sizeof bad);
    assert_int_equal(klaw_mp_peek_type(&r), KLAW_MP_TIMESTAMP);
    assert_int_equal(klaw_mp_read_timestamp(&r, &sec, &nsec), KLAW_DECODE);
    assert_int_equal(sec, 0);
    assert_int_equal(nsec, 0);
    /* read_ext validates timestamps as well */
    int8_t type;
    const uint8_t *data;
    uint32_t n;
    klaw_mp_reader_init(&r, bad, sizeof bad);
    assert_int_equal(klaw_mp_read_ext(&r, &type, &data, &n), KLAW_DECODE);
}

/* ---- strict rules: UTF-8 ------------------------------------------------------------ */

static const struct {
    const char *bytes;
    size_t len;
    size_t bad; /* offset of the first bad byte */
    const char *what;
} bad_utf8[] = {
    {"\xc0\x80", 2, 0, "overlong 2-byte NUL"},
    {"\xc1\xbf", 2, 0, "overlong 2-byte"},
    {"\xe0\x80\x80", 3, 0, "overlong 3-byte"},
    {"\xe0\x9f\xbf", 3, 0, "overlong 3-byte U+07FF"},
    {"\xf0\x80\x80\x80", 4, 0, "overlong 4-byte"},
    {"\xf0\x8f\xbf\xbf", 4, 0, "overlong 4-byte U+FFFF"},
    {"\xed\xa0\x80", 3, 0, "surrogate D800"},
    {"\xed\xbf\xbf", 3, 0, "surrogate DFFF"},
    {"\xf4\x90\x80\x80", 4, 0, "U+110000"},
    {"\xf5\x80\x80\x80", 4, 0, "lead byte F5"},
    {"\xf8\x88\x80\x80\x80", 5, 0, "5-byte form"},
    {"\xe2\x82", 2, 0, "truncated 3-byte"},
    {"\xf0\x9f\x8d", 3, 0, "truncated 4-byte"},
    {"\xc3", 1, 0, "truncated 2-byte"},
    {"ab\xe2\x82", 4, 2, "truncated at the end"},
    {"\xe2\x28\xa1", 3, 0, "bad continuation"},
    {"\xf0\x9f\x28\xba", 4, 0, "bad third byte"},
    {"\x80", 1, 0, "lone continuation"},
    {"a\xbf" "b", 3, 1, "lone continuation inside"},
    {"\xff", 1, 0, "0xff"},
    {"\xfe", 1, 0, "0xfe"},
    {"0123456789\xff", 11, 10, "after the 8-byte ASCII path"},
    {"01234567\xc3\xa9\xed\xa0\x80", 13, 10, "surrogate after ASCII and 2-byte"},
};

static void invalid_utf8_in_str_is_rejected_at_the_bad_byte(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof bad_utf8 / sizeof bad_utf8[0]; k++) {
        uint8_t buf[32];
        size_t len = bad_utf8[k].len;
        buf[0] = 0xc0;              /* a nil first, so offsets are not 0 */
        buf[1] = (uint8_t)(0xa0 | len);
        memcpy(buf + 2, bad_utf8[k].bytes, len);
        size_t at = 2 + bad_utf8[k].bad;

        assert_int_equal(klaw_utf8_check((const uint8_t *)bad_utf8[k].bytes, len), bad_utf8[k].bad);

        klaw_mp_reader r;
        const char *s = "x";
        uint32_t n = 7;
        klaw_mp_reader_init(&r, buf, len + 2);
        assert_int_equal(klaw_mp_read_nil(&r), KLAW_OK);
        if (klaw_mp_read_str(&r, &s, &n) != KLAW_DECODE || r.err.offset != at)
            fail_msg("%s: %s at %zu, want KLAW_DECODE at %zu", bad_utf8[k].what,
                     klaw_status_name(r.err.status), r.err.offset, at);
        assert_null(s);
        assert_int_equal(n, 0);
        assert_string_equal(r.err.reason, "invalid UTF-8 in str");

        /* skip, raw, validate and a read walk are just as strict */
        uint8_t arr[32];
        arr[0] = 0x92;
        memcpy(arr + 1, buf, len + 2);
        assert_decode_error_at(arr, len + 3, 0, at + 1, "UTF-8");

        /* and KLAW_MP_TRUSTED_UTF8 turns the check off */
        klaw_mp_reader_init(&r, buf, len + 2);
        klaw_mp_reader_set_flags(&r, KLAW_MP_TRUSTED_UTF8);
        assert_int_equal(klaw_mp_read_nil(&r), KLAW_OK);
        assert_int_equal(klaw_mp_read_str(&r, &s, &n), KLAW_OK);
        assert_ptr_equal(s, (const char *)buf + 2);
        assert_int_equal(n, len);
        assert_int_equal(klaw_mp_validate(arr, len + 3, KLAW_MP_TRUSTED_UTF8, 0, NULL), KLAW_OK);
        klaw_mp_reader_init(&r, arr, len + 3);
        klaw_mp_reader_set_flags(&r, KLAW_MP_TRUSTED_UTF8);
        assert_int_equal(klaw_mp_skip(&r), KLAW_OK);
        assert_int_equal(klaw_mp_reader_finish(&r), KLAW_OK);
    }
}

static void valid_utf8_of_every_length_is_accepted(void **state)
{
    (void)state;
    static const char *good[] = {
        "",
        "plain ascii, longer than eight bytes",
        "\x7f",
        "\xc2\x80",             /* U+0080 */
        "\xdf\xbf",             /* U+07FF */
        "\xe0\xa0\x80",         /* U+0800 */
        "\xed\x9f\xbf",         /* U+D7FF */
        "\xee\x80\x80",         /* U+E000 */
        "\xef\xbf\xbf",         /* U+FFFF */
        "\xf0\x90\x80\x80",     /* U+10000 */
        "\xf0\x9f\x8d\xba",     /* U+1F37A */
        "\xf4\x8f\xbf\xbf",     /* U+10FFFF */
        "h\xc3\xa9llo w\xc3\xb6rld \xe2\x82\xac\xf0\x9f\x98\x80 and more ascii",
    };
    for (size_t k = 0; k < sizeof good / sizeof good[0]; k++) {
        size_t len = strlen(good[k]);
        uint8_t buf[80];
        klaw_mp_writer w;
        size_t blen;
        assert_int_equal(klaw_utf8_check((const uint8_t *)good[k], len), len);
        klaw_mp_writer_init(&w, buf, sizeof buf);
        klaw_mp_write_str(&w, good[k], len);
        assert_int_equal(klaw_mp_writer_finish(&w, &blen), KLAW_OK);
        klaw_mp_reader r;
        const char *s;
        uint32_t n;
        klaw_mp_reader_init(&r, buf, blen);
        assert_int_equal(klaw_mp_read_str(&r, &s, &n), KLAW_OK);
        assert_int_equal(n, len);
        assert_int_equal(klaw_mp_validate(buf, blen, 0, 0, NULL), KLAW_OK);
    }
    /* a NUL byte is valid UTF-8 */
    assert_int_equal(klaw_utf8_check((const uint8_t *)"a\0b", 3), 3);
}

static void utf8_is_not_checked_in_bin_or_ext(void **state)
{
    (void)state;
    assert_valid_hex("c4 02 ff c0");
    assert_valid_hex("d5 01 ff c0");
}

/* ---- strict rules: nesting ----------------------------------------------------------- */

/* depth nested arrays (each holding the next), the innermost empty. */
static uint8_t *nested_arrays(size_t depth, size_t *len)
{
    uint8_t *buf = malloc(depth);
    assert_non_null(buf);
    memset(buf, 0x91, depth);
    buf[depth - 1] = 0x90;
    *len = depth;
    return buf;
}

static void nesting_to_the_default_limit_is_accepted_and_one_deeper_is_not(void **state)
{
    (void)state;
    size_t len;
    uint8_t *ok = nested_arrays(KLAW_MP_DEFAULT_MAX_DEPTH, &len);
    klaw_mp_raw raw;
    klaw_mp_reader r;
    assert_int_equal(klaw_mp_validate(ok, len, 0, 0, NULL), KLAW_OK);
    klaw_mp_reader_init(&r, ok, len);
    assert_int_equal(klaw_mp_read_raw(&r, &raw), KLAW_OK);
    assert_int_equal(raw.len, len);
    free(ok);

    uint8_t *deep = nested_arrays(KLAW_MP_DEFAULT_MAX_DEPTH + 1, &len);
    check_decode_error(deep, len, 0, KLAW_MP_DEFAULT_MAX_DEPTH, "nesting too deep", false);
    free(deep);

    /* maps count the same: 1024 nested single-pair maps */
    uint8_t *maps = malloc(2 * 1025);
    assert_non_null(maps);
    for (size_t i = 0; i < 1024; i++) {
        maps[2 * i] = 0x81;
        maps[2 * i + 1] = 0x00;
    }
    maps[2048] = 0xc0;
    assert_int_equal(klaw_mp_validate(maps, 2049, 0, 0, NULL), KLAW_OK);
    maps[2048] = 0x80;
    klaw_mp_error err;
    assert_int_equal(klaw_mp_validate(maps, 2049, 0, 0, &err), KLAW_DECODE);
    assert_int_equal(err.offset, 2048);
    free(maps);
}

static void set_max_depth_moves_the_limit(void **state)
{
    (void)state;
    klaw_mp_reader r;
    uint8_t three[] = {0x91, 0x91, 0x90};
    uint8_t four[] = {0x91, 0x91, 0x91, 0x90};
    klaw_mp_reader_init(&r, three, sizeof three);
    assert_int_equal(klaw_mp_reader_set_max_depth(&r, 3), KLAW_OK);
    assert_int_equal(klaw_mp_skip(&r), KLAW_OK);
    klaw_mp_reader_init(&r, four, sizeof four);
    assert_int_equal(klaw_mp_reader_set_max_depth(&r, 3), KLAW_OK);
    assert_int_equal(klaw_mp_skip(&r), KLAW_DECODE);
    assert_int_equal(r.err.offset, 3);
    assert_string_equal(r.err.reason, "nesting too deep");

    /* a scalar is depth 0: max_depth 1 allows one container */
    uint8_t one[] = {0x92, 0x01, 0x02};
    klaw_mp_reader_init(&r, one, sizeof one);
    assert_int_equal(klaw_mp_reader_set_max_depth(&r, 1), KLAW_OK);
    assert_int_equal(klaw_mp_skip(&r), KLAW_OK);
    assert_int_equal(klaw_mp_validate(three, sizeof three, 0, 2, NULL), KLAW_DECODE);
    assert_int_equal(klaw_mp_validate(three, sizeof three, 0, 3, NULL), KLAW_OK);

    /* out of range: KLAW_INVAL, limit unchanged */
    klaw_mp_reader_init(&r, four, sizeof four);
    assert_int_equal(klaw_mp_reader_set_max_depth(&r, 0), KLAW_INVAL);
    assert_int_equal(klaw_mp_reader_set_max_depth(&r, KLAW_MP_MAX_DEPTH_LIMIT + 1), KLAW_INVAL);
    assert_int_equal(r.max_depth, KLAW_MP_DEFAULT_MAX_DEPTH);
    assert_int_equal(klaw_mp_reader_status(&r), KLAW_OK);
    klaw_mp_error err;
    assert_int_equal(klaw_mp_validate(four, sizeof four, 0, KLAW_MP_MAX_DEPTH_LIMIT + 1, &err), KLAW_INVAL);
    assert_int_equal(err.status, KLAW_INVAL);

    /* the largest limit works, on the deep path */
    size_t len;
    uint8_t *max = nested_arrays(KLAW_MP_MAX_DEPTH_LIMIT, &len);
    assert_int_equal(klaw_mp_validate(max, len, 0, KLAW_MP_MAX_DEPTH_LIMIT, NULL), KLAW_OK);
    free(max);
    max = nested_arrays(KLAW_MP_MAX_DEPTH_LIMIT + 1, &len);
    assert_int_equal(klaw_mp_validate(max, len, 0, KLAW_MP_MAX_DEPTH_LIMIT, &err), KLAW_DECODE);
    assert_int_equal(err.offset, KLAW_MP_MAX_DEPTH_LIMIT);
    free(max);
}

/* Writes `depth` levels of [child, sibling] (arrays and maps taking turns),
 * so every level has a value after its child. */
static void write_deep_with_siblings(klaw_mp_writer *w, int depth)
{
    for (int i = 0; i < depth; i++) {
        if (i % 2) {
            klaw_mp_write_map(w, 2);
            klaw_mp_write_int(w, i);
        } else {
            klaw_mp_write_array(w, 3);
            klaw_mp_write_cstr(w, "before");
        }
    }
    klaw_mp_write_nil(w);
    for (int i = depth - 1; i >= 0; i--) {
        if (i % 2) {
            klaw_mp_write_cstr(w, "k");
            klaw_mp_write_int(w, -i);
        } else {
            klaw_mp_write_int(w, i);
        }
    }
}

static void values_deeper_than_the_shallow_stack_keep_their_siblings(void **state)
{
    (void)state;
    static const int depths[] = {63, 64, 65, 66, 100, 300, 1024};
    for (size_t k = 0; k < sizeof depths / sizeof depths[0]; k++) {
        int depth = depths[k];
        size_t cap = (size_t)depth * 16 + 64;
        uint8_t *buf = malloc(cap);
        assert_non_null(buf);
        klaw_mp_writer w;
        size_t len;
        klaw_mp_writer_init(&w, buf, cap);
        klaw_mp_write_array(&w, 3);
        write_deep_with_siblings(&w, depth - 1);
        klaw_mp_write_cstr(&w, "after");
        klaw_mp_write_uint(&w, 42);
        assert_int_equal(klaw_mp_writer_finish(&w, &len), KLAW_OK);

        klaw_mp_error err;
        if (klaw_mp_validate(buf, len, 0, 0, &err) != KLAW_OK)
            fail_msg("depth %d: %s at %zu", depth, err.reason, err.offset);

        /* a skip of the deep element lands on its sibling */
        klaw_mp_reader r;
        uint32_t n;
        const char *s;
        uint64_t u;
        klaw_mp_raw raw;
        klaw_mp_reader_init(&r, buf, len);
        assert_int_equal(klaw_mp_read_array(&r, &n), KLAW_OK);
        assert_int_equal(klaw_mp_read_raw(&r, &raw), KLAW_OK);
        assert_int_equal(klaw_mp_validate(raw.ptr, raw.len, 0, 0, NULL), KLAW_OK);
        assert_int_equal(klaw_mp_read_str(&r, &s, &n), KLAW_OK);
        assert_memory_equal(s, "after", 5);
        assert_int_equal(klaw_mp_read_uint(&r, &u), KLAW_OK);
        assert_int_equal(u, 42);
        assert_int_equal(klaw_mp_reader_finish(&r), KLAW_OK);

        /* one value short at the top: the walk must notice after coming
         * back from the deep part */
        buf[0] = 0x94;
        buf[len] = 0x00; /* room for the array check, then a missing value */
        assert_int_equal(klaw_mp_validate(buf, len + 1, 0, 0, &err), KLAW_OK);
        assert_int_equal(klaw_mp_validate(buf, len, 0, 0, &err), KLAW_DECODE);
        assert_int_equal(err.offset, len);
        free(buf);
    }
}

static void a_hundred_thousand_nested_arrays_fail_at_the_limit_without_exhausting_the_stack(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = nested_arrays(100000, &len);
    check_decode_error(buf, len, 0, KLAW_MP_DEFAULT_MAX_DEPTH, "nesting too deep", false);
    klaw_mp_error err;
    assert_int_equal(klaw_mp_validate(buf, len, 0, KLAW_MP_MAX_DEPTH_LIMIT, &err), KLAW_DECODE);
    assert_int_equal(err.offset, KLAW_MP_MAX_DEPTH_LIMIT);
    free(buf);
}

/* ---- strict rules: declared lengths ---------------------------------------------------- */

static void declared_lengths_the_input_cannot_hold_fail_at_the_header(void **state)
{
    (void)state;
    assert_decode_error_hex("dd ff ff ff ff", 0, "array length exceeds input");
    assert_decode_error_hex("df ff ff ff ff", 0, "map length exceeds input");
    assert_decode_error_hex("df 80 00 00 00 01 02 03 04", 0, "map length exceeds input");
    assert_decode_error_hex("dc 00 03 01 02", 0, "array length exceeds input");
    assert_decode_error_hex("93 01 02", 0, "array length exceeds input");
    assert_decode_error_hex("82 01 02 03", 0, "map length exceeds input");
    assert_decode_error_hex("db ff ff ff ff 61", 0, "str length exceeds input");
    assert_decode_error_hex("d9 03 61 62", 0, "str length exceeds input");
    assert_decode_error_hex("c6 00 00 00 05 01 02 03 04", 0, "bin length exceeds input");
    assert_decode_error_hex("c9 ff ff ff ff 01 02", 0, "ext length exceeds input");
    assert_decode_error_hex("d8 01 00", 0, "ext length exceeds input");
    assert_decode_error_hex("92 01 dd ff ff ff ff", 2, "array length exceeds input");
    /* exactly enough is fine */
    assert_valid_hex("93 01 02 03");
    assert_valid_hex("82 01 02 03 04");
    assert_valid_hex("dd 00 00 00 02 c0 c0");

    /* the 5-byte array of 4 billion fails at once, for every entry point */
    uint8_t bomb[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    klaw_mp_reader r;
    klaw_mp_item it;
    uint32_t n = 1;
    klaw_mp_reader_init(&r, bomb, sizeof bomb);
    assert_int_equal(klaw_mp_read(&r, &it), KLAW_DECODE);
    klaw_mp_reader_init(&r, bomb, sizeof bomb);
    assert_int_equal(klaw_mp_read_array(&r, &n), KLAW_DECODE);
    assert_int_equal(n, 0);
    assert_int_equal(klaw_mp_reader_offset(&r), 0);
}

/* ---- typed reads agree with klaw_mp_read ------------------------------------------- */

/* What a typed read must do, derived from klaw_mp_read on the same bytes:
 * the same DECODE error (offset and reason) for malformed bytes; KLAW_OK,
 * the value and the same end position for an acceptable type; else
 * KLAW_VALIDATE at the value's start. Outputs are zero on every error. */
typedef struct model {
    klaw_mp_reader after; /* the reader after klaw_mp_read */
    klaw_mp_item it;
    klaw_status st;
    size_t start;
} model;

static void assert_outcome(const model *m, const klaw_mp_reader *r, klaw_status st, bool acceptable, const char *what)
{
    klaw_status want = m->st != KLAW_OK ? m->st : acceptable ? KLAW_OK : KLAW_VALIDATE;
    if (st != want)
        fail_msg("%s at %zu (first byte %02x): %s, want %s", what, m->start, m->start < (size_t)(r->end - r->start) ? r->start[m->start] : 0,
                 klaw_status_name(st), klaw_status_name(want));
    assert_int_equal(r->err.status, st);
    if (st == KLAW_OK) {
        assert_ptr_equal(r->pos, m->after.pos);
    } else if (st == KLAW_DECODE) {
        assert_int_equal(r->err.offset, m->after.err.offset);
        assert_ptr_equal(r->err.reason, m->after.err.reason);
    } else {
        assert_int_equal(r->err.offset, m->start);
        assert_int_equal(r->err.got, m->it.type);
    }
}

static void assert_typed_reads_agree_with_read(const klaw_mp_reader *at)
{
    model m;
    m.after = *at;
    m.start = klaw_mp_reader_offset(at);
    m.st = klaw_mp_read(&m.after, &m.it);
    klaw_mp_type t = m.it.type;
    bool ok = m.st == KLAW_OK;
    klaw_mp_reader r;
    klaw_status st;

    r = *at;
    st = klaw_mp_read_nil(&r);
    assert_outcome(&m, &r, st, t == KLAW_MP_NIL, "read_nil");

    bool b = true;
    r = *at;
    st = klaw_mp_read_bool(&r, &b);
    assert_outcome(&m, &r, st, t == KLAW_MP_BOOL, "read_bool");
    assert_true(b == (st == KLAW_OK && m.it.v.b));

    int64_t i = 99;
    r = *at;
    st = klaw_mp_read_int(&r, &i);
    assert_outcome(&m, &r, st, t == KLAW_MP_INT || (t == KLAW_MP_UINT && m.it.v.u <= INT64_MAX), "read_int");
    assert_true(i == (st != KLAW_OK ? 0 : t == KLAW_MP_INT ? m.it.v.i : (int64_t)m.it.v.u));

    i = 99;
    r = *at;
    st = klaw_mp_read_int_range(&r, -1000, 1000, &i);
    assert_outcome(&m, &r, st,
                   (t == KLAW_MP_INT && m.it.v.i >= -1000) || (t == KLAW_MP_UINT && m.it.v.u <= 1000), "read_int_range");
    assert_true(i == (st != KLAW_OK ? 0 : t == KLAW_MP_INT ? m.it.v.i : (int64_t)m.it.v.u));

    uint64_t u = 99;
    r = *at;
    st = klaw_mp_read_uint(&r, &u);
    assert_outcome(&m, &r, st, t == KLAW_MP_UINT, "read_uint");
    assert_true(u == (st == KLAW_OK ? m.it.v.u : 0));

    u = 99;
    r = *at;
    st = klaw_mp_read_uint_max(&r, 1000, &u);
    assert_outcome(&m, &r, st, t == KLAW_MP_UINT && m.it.v.u <= 1000, "read_uint_max");
    assert_true(u == (st == KLAW_OK ? m.it.v.u : 0));

    double d = 99, want_d = 0;
    r = *at;
    st = klaw_mp_read_double(&r, &d);
    assert_outcome(&m, &r, st, t == KLAW_MP_FLOAT32 || t == KLAW_MP_FLOAT64 || t == KLAW_MP_UINT || t == KLAW_MP_INT,
                   "read_double");
    if (st == KLAW_OK)
        want_d = t == KLAW_MP_FLOAT32 ? (double)m.it.v.f : t == KLAW_MP_FLOAT64 ? m.it.v.d
                 : t == KLAW_MP_UINT  ? (double)m.it.v.u : (double)m.it.v.i;
    assert_memory_equal(&d, &want_d, sizeof d); /* bits: NaN payloads too */

    const char *s = "x";
    uint32_t n = 99;
    r = *at;
    st = klaw_mp_read_str(&r, &s, &n);
    assert_outcome(&m, &r, st, t == KLAW_MP_STR, "read_str");
    assert_ptr_equal(s, st == KLAW_OK ? (const char *)m.it.data : NULL);
    assert_int_equal(n, st == KLAW_OK ? m.it.len : 0);

    const uint8_t *data = at->start;
    n = 99;
    r = *at;
    st = klaw_mp_read_bin(&r, &data, &n);
    assert_outcome(&m, &r, st, t == KLAW_MP_BIN, "read_bin");
    assert_ptr_equal(data, st == KLAW_OK ? m.it.data : NULL);
    assert_int_equal(n, st == KLAW_OK ? m.it.len : 0);

    n = 99;
    r = *at;
    st = klaw_mp_read_array(&r, &n);
    assert_outcome(&m, &r, st, t == KLAW_MP_ARRAY, "read_array");
    assert_int_equal(n, st == KLAW_OK ? m.it.len : 0);

    n = 99;
    r = *at;
    st = klaw_mp_read_map(&r, &n);
    assert_outcome(&m, &r, st, t == KLAW_MP_MAP, "read_map");
    assert_int_equal(n, st == KLAW_OK ? m.it.len : 0);

    int8_t type = 99;
    data = at->start;
    n = 99;
    r = *at;
    st = klaw_mp_read_ext(&r, &type, &data, &n);
    assert_outcome(&m, &r, st, t == KLAW_MP_EXT || t == KLAW_MP_TIMESTAMP, "read_ext");
    assert_int_equal(type, st == KLAW_OK ? m.it.ext_type : 0);
    assert_ptr_equal(data, st == KLAW_OK ? m.it.data : NULL);

    int64_t sec = 99;
    uint32_t nsec = 99;
    r = *at;
    st = klaw_mp_read_timestamp(&r, &sec, &nsec);
    assert_outcome(&m, &r, st, t == KLAW_MP_TIMESTAMP, "read_timestamp");
    assert_true(sec == (st == KLAW_OK ? m.it.v.ts.sec : 0));
    assert_int_equal(nsec, st == KLAW_OK ? m.it.v.ts.nsec : 0);

    /* peek names what read finds */
    if (ok)
        assert_int_equal(klaw_mp_peek_type(at), t);
}

/* Every first byte, followed by tails that make it whole, cut short,
 * ASCII, non-ASCII, invalid UTF-8, or a timestamp: each typed read (the
 * inline fast paths included) does what klaw_mp_read says it must. */
static void typed_reads_agree_with_read_for_every_first_byte(void **state)
{
    (void)state;
    static const char *tails[] = {
        "",
        "00",
        "7f",
        "80",
        "ff",
        "00 01",
        "ff ff",
        "80 00 00 00",
        "7f ff ff ff",
        "ff ff ff ff ff ff ff ff",
        "80 00 00 00 00 00 00 00",
        "00 00 00 00 00 00 00 2a",
        "03 61 62 63",
        "02 c3 a9",
        "02 ed a0",
        "01 ff",
        "ff 00 00 00 01",
        "ff 00 00 00 00 00 00 00 01",
        "0c ff 00 00 00 00 00 00 00 00 00 00 00 01",
        "41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41",
        "c3 a9 c3 a9 c3 a9 c3 a9 c3 a9 c3 a9 c3 a9 c3 a9 c3 a9 c3 a9 c3 a9 c3 a9 c3 a9 c3 a9 c3 a9 c3 a9 41",
        "00 00 00 03 01 02 03",
    };
    for (unsigned c = 0; c < 256; c++) {
        for (size_t k = 0; k < sizeof tails / sizeof tails[0]; k++) {
            for (uint32_t flags = 0; flags <= KLAW_MP_TRUSTED_UTF8; flags += KLAW_MP_TRUSTED_UTF8) {
                uint8_t buf[64];
                buf[0] = 0xc0; /* a nil first: offsets are not 0 */
                buf[1] = (uint8_t)c;
                size_t len = 2 + hex(tails[k], buf + 2, sizeof buf - 2);
                uint8_t *copy = exact_copy(buf, len);
                klaw_mp_reader r;
                klaw_mp_reader_init(&r, copy, len);
                klaw_mp_reader_set_flags(&r, flags);
                assert_int_equal(klaw_mp_read_nil(&r), KLAW_OK);
                assert_typed_reads_agree_with_read(&r);
                free(copy);
            }
        }
    }
}

static void an_empty_or_null_buffer_has_no_value(void **state)
{
    (void)state;
    klaw_mp_reader r;
    klaw_mp_item it;
    klaw_mp_reader_init(&r, NULL, 0);
    assert_int_equal(klaw_mp_peek_type(&r), KLAW_MP_NONE);
    assert_int_equal(klaw_mp_reader_remaining(&r), 0);
    assert_int_equal(klaw_mp_reader_finish(&r), KLAW_OK); /* nothing left over */
    assert_int_equal(klaw_mp_read(&r, &it), KLAW_DECODE);
    assert_int_equal(r.err.offset, 0);
    klaw_mp_error err;
    assert_int_equal(klaw_mp_validate(NULL, 0, 0, 0, &err), KLAW_DECODE);
    assert_string_equal(err.reason, "unexpected end of input");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(read_returns_each_type_with_its_value),
        cmocka_unit_test(typed_reads_return_values_and_views_into_the_buffer),
        cmocka_unit_test(read_ext_also_takes_a_timestamp_and_read_timestamp_refuses_other_ext),
        cmocka_unit_test(read_double_converts_integers),
        cmocka_unit_test(read_int_refuses_uint64_above_int64_max_that_read_uint_takes),
        cmocka_unit_test(read_uint_refuses_negative_integers),
        cmocka_unit_test(read_int_range_checks_both_bounds),
        cmocka_unit_test(read_uint_max_checks_the_bound),
        cmocka_unit_test(wrong_type_is_validate_naming_expected_and_got),
        cmocka_unit_test(after_an_error_every_call_returns_it_and_zeroes_outputs),
        cmocka_unit_test(a_validate_error_sticks_too),
        cmocka_unit_test(skip_passes_a_nested_subtree_whole),
        cmocka_unit_test(read_raw_returns_the_span_of_one_value_inside_the_buffer),
        cmocka_unit_test(read_rest_takes_the_unread_tail_without_looking_at_it),
        cmocka_unit_test(peek_type_names_the_next_value_without_consuming_it),
        cmocka_unit_test(finish_rejects_trailing_bytes_at_their_offset),
        cmocka_unit_test(error_format_says_where_and_why),
        cmocka_unit_test(every_type_has_a_name),
        cmocka_unit_test(byte_c1_is_rejected_wherever_it_appears),
        cmocka_unit_test(every_proper_prefix_of_a_value_is_truncated_at_the_first_value_it_cuts),
        cmocka_unit_test(truncated_headers_of_every_width_fail_at_their_start),
        cmocka_unit_test(timestamps_of_length_other_than_4_8_12_are_rejected),
        cmocka_unit_test(timestamp_nanoseconds_above_999999999_are_rejected),
        cmocka_unit_test(invalid_utf8_in_str_is_rejected_at_the_bad_byte),
        cmocka_unit_test(valid_utf8_of_every_length_is_accepted),
        cmocka_unit_test(utf8_is_not_checked_in_bin_or_ext),
        cmocka_unit_test(nesting_to_the_default_limit_is_accepted_and_one_deeper_is_not),
        cmocka_unit_test(set_max_depth_moves_the_limit),
        cmocka_unit_test(values_deeper_than_the_shallow_stack_keep_their_siblings),
        cmocka_unit_test(a_hundred_thousand_nested_arrays_fail_at_the_limit_without_exhausting_the_stack),
        cmocka_unit_test(declared_lengths_the_input_cannot_hold_fail_at_the_header),
        cmocka_unit_test(typed_reads_agree_with_read_for_every_first_byte),
        cmocka_unit_test(an_empty_or_null_buffer_has_no_value),
    };
    return cmocka_run_group_tests_name("mp_reader", tests, NULL, NULL);
}
