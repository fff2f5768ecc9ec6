/* test_json.c - MessagePack <-> JSON text (klaw/json.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "klaw/klaw.h"

/* ---- helpers ------------------------------------------------------------- */

static char jbuf[1 << 20];
static uint8_t obuf[1 << 20];
static size_t olen;

/* The JSON text of mp[0, n); fails the test unless it converts. */
static const char *to_json(const void *mp, size_t n)
{
    size_t len = 0;
    klaw_mp_error e;
    klaw_status st = klaw_json_from_mp_buf(mp, n, jbuf, sizeof jbuf, &len, &e);
    if (st != KLAW_OK)
        fail_msg("from_mp_buf: %s at %zu: %s", klaw_status_name(st), e.offset, e.reason);
    assert_int_equal(e.status, KLAW_OK);
    assert_int_equal(strlen(jbuf), len);
    return jbuf;
}
#define J(lit) to_json(lit, sizeof(lit) - 1)

/* MessagePack of text[0, n) into obuf/olen; returns the status. */
static klaw_status from_json(const char *text, size_t n, klaw_json_error *e)
{
    klaw_mp_writer w;
    klaw_json_error dummy;
    klaw_mp_writer_init(&w, obuf, sizeof obuf);
    klaw_status st = klaw_json_to_mp(text, n, &w, e ? e : &dummy);
    olen = klaw_mp_writer_len(&w);
    return st;
}

static void assert_mp(const char *text, size_t n, const void *want, size_t want_len)
{
    klaw_json_error e;
    klaw_status st = from_json(text, n, &e);
    if (st != KLAW_OK)
        fail_msg("'%.*s': %s at %zu: %s", (int)n, text, klaw_status_name(st), e.offset, e.reason);
    assert_int_equal(e.status, KLAW_OK);
    assert_int_equal(olen, want_len);
    assert_memory_equal(obuf, want, want_len);
}
#define MP_OF(text, lit) assert_mp(text, strlen(text), lit, sizeof(lit) - 1)

static void assert_rejects(const char *text, size_t n, size_t offset, const char *reason)
{
    klaw_json_error e;
    klaw_status st = from_json(text, n, &e);
    if (st != KLAW_DECODE)
        fail_msg("'%.*s' gave %s, want KLAW_DECODE", (int)n, text, klaw_status_name(st));
    assert_int_equal(e.status, KLAW_DECODE);
    if (e.offset != offset || strcmp(e.reason, reason) != 0)
        fail_msg("'%.*s': got byte %zu '%s', want byte %zu '%s'", (int)n, text, e.offset, e.reason, offset,
                 reason);
}

/* A writer over a scratch buffer, for building MessagePack inputs. */
static uint8_t mbuf[1 << 20];
static klaw_mp_writer mw;
static klaw_mp_writer *mp_begin(void)
{
    klaw_mp_writer_init(&mw, mbuf, sizeof mbuf);
    return &mw;
}
static const char *mp_json(void)
{
    assert_int_equal(mw.status, KLAW_OK);
    return to_json(mbuf, mw.pos);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* ---- MessagePack -> JSON: scalars ----------------------------------------- */

static void nil_and_bools_map_to_json_literals(void **state)
{
    (void)state;
    assert_string_equal(J("\xc0"), "null");
    assert_string_equal(J("\xc3"), "true");
    assert_string_equal(J("\xc2"), "false");
}

static void ints_print_exactly_over_the_whole_int64_and_uint64_range(void **state)
{
    (void)state;
    assert_string_equal(J("\x00"), "0");
    assert_string_equal(J("\x7f"), "127");
    assert_string_equal(J("\xcc\x80"), "128");
    assert_string_equal(J("\xcd\xff\xff"), "65535");
    assert_string_equal(J("\xce\xff\xff\xff\xff"), "4294967295");
    assert_string_equal(J("\xcf\xff\xff\xff\xff\xff\xff\xff\xff"), "18446744073709551615");
    assert_string_equal(J("\xcf\x80\x00\x00\x00\x00\x00\x00\x00"), "9223372036854775808");
    assert_string_equal(J("\xff"), "-1");
    assert_string_equal(J("\xe0"), "-32");
    assert_string_equal(J("\xd0\xdf"), "-33");
    assert_string_equal(J("\xd3\x80\x00\x00\x00\x00\x00\x00\x00"), "-9223372036854775808");
    assert_string_equal(J("\xd3\x7f\xff\xff\xff\xff\xff\xff\xff"), "9223372036854775807");
    /* a non-minimal encoding of a small value prints the value */
    assert_string_equal(J("\xd3\x00\x00\x00\x00\x00\x00\x00\x05"), "5");
}

static const char *json_of_double(double d)
{
    klaw_mp_write_double(mp_begin(), d);
    return mp_json();
}

static const char *json_of_float(float f)
{
    klaw_mp_write_float(mp_begin(), f);
    return mp_json();
}

static void floats_print_shortest_round_trip_text_marked_as_float(void **state)
{
    (void)state;
    assert_string_equal(json_of_double(0.1), "0.1");
    assert_string_equal(json_of_double(1e300), "1e+300");
    assert_string_equal(json_of_double(5e-324), "5e-324");
    assert_string_equal(json_of_double(-0.0), "-0.0");
    assert_string_equal(json_of_double(0.0), "0.0");
    assert_string_equal(json_of_double(1.0), "1.0");
    assert_string_equal(json_of_double(-2.5), "-2.5");
    assert_string_equal(json_of_double(100.0), "100.0");
    assert_string_equal(json_of_double(1e15), "1000000000000000.0");
    assert_string_equal(json_of_double(1e16), "1e+16");
    assert_string_equal(json_of_double(1.5e16), "1.5e+16");
    assert_string_equal(json_of_double(9007199254740992.0), "9007199254740992.0");
    assert_string_equal(json_of_double(9007199254740994.0), "9007199254740994.0");
    assert_string_equal(json_of_double(0.0001), "0.0001");
    assert_string_equal(json_of_double(0.00001), "1e-05");
    assert_string_equal(json_of_double(123.456), "123.456");
    assert_string_equal(json_of_double(1.0 / 3.0), "0.3333333333333333");
    assert_string_equal(json_of_double(0.1 + 0.2), "0.30000000000000004");
    assert_string_equal(json_of_double(DBL_MAX), "1.7976931348623157e+308");
    assert_string_equal(json_of_double(-DBL_MIN), "-2.2250738585072014e-308");
    assert_string_equal(json_of_double(2.5e-320), "2.5e-320");
}

static void nan_and_infinities_become_null(void **state)
{
    (void)state;
    assert_string_equal(json_of_double(NAN), "null");
    assert_string_equal(json_of_double(INFINITY), "null");
    assert_string_equal(json_of_double(-INFINITY), "null");
    assert_string_equal(json_of_float(NAN), "null");
    assert_string_equal(json_of_float(-INFINITY), "null");
}

static void float32_prints_the_shortest_text_of_the_float32(void **state)
{
    (void)state;
    assert_string_equal(json_of_float(0.1f), "0.1");
    assert_string_equal(json_of_float(1.0f), "1.0");
    assert_string_equal(json_of_float(-0.0f), "-0.0");
    assert_string_equal(json_of_float(16777216.0f), "16777216.0");
    assert_string_equal(json_of_float(3.14159274f), "3.1415927");
    assert_string_equal(json_of_float(FLT_MAX), "3.4028235e+38");
    assert_string_equal(json_of_float(1e-45f), "1e-45");
    assert_string_equal(json_of_float(1e10f), "10000000000.0");
}

/* Counts the significant digits of a JSON number's text. */
static int sig_digits(const char *t)
{
    int first = -1, last = -1, i = 0;
    for (const char *p = t; *p && *p != 'e'; p++) {
        if (*p < '0' || *p > '9')
            continue;
        if (*p != '0') {
            if (first < 0)
                first = i;
            last = i;
        }
        i++;
    }
    return first < 0 ? 1 : last - first + 1;
}

static void random_doubles_round_trip_through_the_shortest_text(void **state)
{
    (void)state;
    char t[64], shorter[48];
    for (int i = 0; i < 20000; i++) {
        uint64_t bits = rnd();
        if (i % 4 == 0) /* small exponents too: integral and near-integral */
            bits = (bits & 0x800fffffffffffffull) | ((uint64_t)(1023 + rnd() % 60) << 52);
        double d;
        memcpy(&d, &bits, 8);
        if (!isfinite(d))
            continue;
        snprintf(t, sizeof t, "%s", json_of_double(d));
        assert_true(strchr(t, '.') || strchr(t, 'e'));
        /* our own parser reads it back to the same bits */
        assert_int_equal(from_json(t, strlen(t), NULL), KLAW_OK);
        assert_int_equal(olen, 9);
        assert_int_equal(obuf[0], 0xcb);
        uint64_t back = 0;
        for (int k = 1; k < 9; k++)
            back = back << 8 | obuf[k];
        assert_true(back == bits);
        /* and no text with fewer digits reads back to it */
        int k = sig_digits(t);
        for (int p = 1; p < k; p++) {
            snprintf(shorter, sizeof shorter, "%.*e", p - 1, d);
            assert_true(strtod(shorter, NULL) != d);
        }
    }
}

static void random_float32s_round_trip_through_the_shortest_text(void **state)
{
    (void)state;
    char t[64], shorter[48];
    for (int i = 0; i < 20000; i++) {
        uint32_t bits = (uint32_t)rnd();
        float f;
        memcpy(&f, &bits, 4);
        if (!isfinite(f))
            continue;
        snprintf(t, sizeof t, "%s", json_of_float(f));
        assert_true(strchr(t, '.') || strchr(t, 'e'));
        float back = strtof(t, NULL);
        assert_memory_equal(&back, &f, 4);
        int k = sig_digits(t);
        for (int p = 1; p < k; p++) {
            snprintf(shorter, sizeof shorter, "%.*e", p - 1, (double)f);
            assert_true(strtof(shorter, NULL) != f);
        }
    }
}

static void str_escapes_quotes_backslashes_and_control_characters(void **state)
{
    (void)state;
    assert_string_equal(J("\xa0"), "\"\"");
    assert_string_equal(J("\xa3" "a\"b"), "\"a\\\"b\"");
    assert_string_equal(J("\xa3" "a\\b"), "\"a\\\\b\"");
    assert_string_equal(J("\xa5\b\f\n\r\t"), "\"\\b\\f\\n\\r\\t\"");
    assert_string_equal(J("\xa4\x00\x01\x1f\x7f"), "\"\\u0000\\u0001\\u001f\x7f\"");
    assert_string_equal(J("\xa1/"), "\"/\"");
    /* non-ASCII UTF-8 passes through, U+2028 included */
    assert_string_equal(J("\xa9" "\xc3\xa9\xe2\x80\xa8\xf0\x9f\x98\x80"), "\"\xc3\xa9\xe2\x80\xa8\xf0\x9f\x98\x80\"");
    /* a long string with a quote past the first 8-byte blocks */
    assert_string_equal(J("\xb4" "0123456789abcdefghi\""), "\"0123456789abcdefghi\\\"\"");
}

/* ---- bin, ext, timestamps -------------------------------------------- */

static void reference_base64(const uint8_t *d, size_t n, char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)d[i + 1] << 8;
        if (i + 2 < n)
            v |= d[i + 2];
        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? tab[v & 63] : '=';
    }
    out[o] = '\0';
}

static void bin_is_padded_base64_at_every_length_mod_3(void **state)
{
    (void)state;
    /* RFC 4648 section 10 vectors */
    assert_string_equal(J("\xc4\x00"), "\"\"");
    assert_string_equal(J("\xc4\x01" "f"), "\"Zg==\"");
    assert_string_equal(J("\xc4\x02" "fo"), "\"Zm8=\"");
    assert_string_equal(J("\xc4\x03" "foo"), "\"Zm9v\"");
    assert_string_equal(J("\xc4\x04" "foob"), "\"Zm9vYg==\"");
    assert_string_equal(J("\xc4\x05" "fooba"), "\"Zm9vYmE=\"");
    assert_string_equal(J("\xc4\x06" "foobar"), "\"Zm9vYmFy\"");
    assert_string_equal(J("\xc4\x03\xfb\xff\xbf"), "\"+/+/\"");
    /* lengths around the converter's 192-byte chunk, all byte values */
    static uint8_t data[1000];
    static char want[1400];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 7 + 3);
    for (size_t n = 185; n < 1000; n += (n < 200 ? 1 : 97)) {
        klaw_mp_write_bin(mp_begin(), data, n);
        const char *t = mp_json();
        reference_base64(data, n, want);
        assert_int_equal(t[0], '"');
        assert_int_equal(strlen(t), strlen(want) + 2);
        assert_memory_equal(t + 1, want, strlen(want));
    }
}

static void ext_is_an_object_with_type_and_base64_data(void **state)
{
    (void)state;
    assert_string_equal(J("\xd4\x05\x01"), "{\"$ext\":5,\"data\":\"AQ==\"}");
    assert_string_equal(J("\xc7\x00\x80"), "{\"$ext\":-128,\"data\":\"\"}");
    assert_string_equal(J("\xc7\x03\x7f" "foo"), "{\"$ext\":127,\"data\":\"Zm9v\"}");
    assert_string_equal(J("\xd8\x01" "0123456789abcdef"), "{\"$ext\":1,\"data\":\"MDEyMzQ1Njc4OWFiY2RlZg==\"}");
}

static const char *json_of_ts(int64_t sec, uint32_t nsec)
{
    klaw_mp_write_timestamp(mp_begin(), sec, nsec);
    return mp_json();
}

static void timestamps_are_rfc3339_utc_in_all_three_widths(void **state)
{
    (void)state;
    /* 32-bit */
    assert_string_equal(J("\xd6\xff\x00\x00\x00\x00"), "\"1970-01-01T00:00:00Z\"");
    assert_string_equal(J("\xd6\xff\xff\xff\xff\xff"), "\"2106-02-07T06:28:15Z\"");
    assert_string_equal(json_of_ts(951782400, 0), "\"2000-02-29T00:00:00Z\"");
    /* 64-bit: nanoseconds, all nine digits */
    assert_string_equal(json_of_ts(1609459200, 1), "\"2021-01-01T00:00:00.000000001Z\"");
    assert_string_equal(json_of_ts(1609459200, 120000000), "\"2021-01-01T00:00:00.120000000Z\"");
    assert_string_equal(json_of_ts(17179869183, 999999999), "\"2514-05-30T01:53:03.999999999Z\"");
    /* 96-bit: negative seconds count back, nanoseconds add forward */
    assert_string_equal(json_of_ts(-1, 0), "\"1969-12-31T23:59:59Z\"");
    assert_string_equal(json_of_ts(-1, 500000000), "\"1969-12-31T23:59:59.500000000Z\"");
    assert_string_equal(json_of_ts(-2203891200, 0), "\"1900-03-01T00:00:00Z\"");
    assert_string_equal(json_of_ts(-62135596800, 0), "\"0001-01-01T00:00:00Z\"");
    /* a 96-bit encoding of a small value prints the value */
    assert_string_equal(J("\xc7\x0c\xff\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x3c"), "\"1970-01-01T00:01:00Z\"");
}

static void timestamp_years_outside_0000_to_9999_use_signed_six_digit_years(void **state)
{
    (void)state;
    assert_string_equal(json_of_ts(-62167219200, 0), "\"0000-01-01T00:00:00Z\"");
    assert_string_equal(json_of_ts(253402300799, 999999999), "\"9999-12-31T23:59:59.999999999Z\"");
    assert_string_equal(json_of_ts(-62167219201, 0), "\"-000001-12-31T23:59:59Z\"");
    assert_string_equal(json_of_ts(253402300800, 0), "\"+010000-01-01T00:00:00Z\"");
    assert_string_equal(json_of_ts(INT64_MAX, 999999999), "\"+292277026596-12-04T15:30:07.999999999Z\"");
    assert_string_equal(json_of_ts(INT64_MIN, 0), "\"-292277022657-01-27T08:29:52Z\"");
}

/* ---- containers and keys --------------------------------------------- */

static void arrays_and_maps_are_compact_and_keep_pair_order(void **state)
{
    (void)state;
    assert_string_equal(J("\x90"), "[]");
    assert_string_equal(J("\x80"), "{}");
    assert_string_equal(J("\x93\x01\x90\x80"), "[1,[],{}]");
    assert_string_equal(J("\x82\xa1" "b\x01\xa1" "a\x92\xc0\xc3"), "{\"b\":1,\"a\":[null,true]}");
    /* duplicate keys are kept, in order */
    assert_string_equal(J("\x82\xa1" "a\x01\xa1" "a\x02"), "{\"a\":1,\"a\":2}");
    assert_string_equal(J("\x81\xa1" "k\x81\xa1" "j\x90"), "{\"k\":{\"j\":[]}}");
}

static void non_str_keys_are_written_as_their_json_text(void **state)
{
    (void)state;
    assert_string_equal(J("\x81\x01\xa1" "a"), "{\"1\":\"a\"}");
    assert_string_equal(J("\x81\xff\x00"), "{\"-1\":0}");
    assert_string_equal(J("\x81\xc0\x00"), "{\"null\":0}");
    assert_string_equal(J("\x82\xc3\x00\xc2\x01"), "{\"true\":0,\"false\":1}");
    assert_string_equal(J("\x81\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00\x00"), "{\"1.5\":0}");
    /* bin and timestamp: their string content, no second quotes */
    assert_string_equal(J("\x81\xc4\x02\x01\x02\x00"), "{\"AQI=\":0}");
    assert_string_equal(J("\x81\xd6\xff\x00\x00\x00\x00\x00"), "{\"1970-01-01T00:00:00Z\":0}");
    /* containers and ext: their compact JSON text, escaped as a string */
    assert_string_equal(J("\x81\x92\x01\xa1" "a\x01"), "{\"[1,\\\"a\\\"]\":1}");
    assert_string_equal(J("\x81\x90\x01"), "{\"[]\":1}");
    assert_string_equal(J("\x81\x81\xa1" "k\xc0\x01"), "{\"{\\\"k\\\":null}\":1}");
    assert_string_equal(J("\x81\xd4\x05\x01\x01"), "{\"{\\\"$ext\\\":5,\\\"data\\\":\\\"AQ==\\\"}\":1}");
    /* a str with escapes inside a container key is escaped twice */
    assert_string_equal(J("\x81\x91\xa2" "\"\n\x00"), "{\"[\\\"\\\\\\\"\\\\n\\\"]\":0}");
    /* the value after a container key is a plain value again */
    assert_string_equal(J("\x82\x91\x01\xa1" "x\x02\x91\x02"), "{\"[1]\":\"x\",\"2\":[2]}");
}

static void container_keys_inside_container_keys_are_escaped_once_per_level(void **state)
{
    (void)state;
    /* {{[1]:"x"}:2} */
    assert_string_equal(J("\x81\x81\x91\x01\xa1x\x02"), "{\"{\\\"[1]\\\":\\\"x\\\"}\":2}");
    /* {{["a\"b"]:0}:0}, checked against Python's json.dumps applied per level */
    assert_string_equal(J("\x81\x81\x91\xa3" "a\"b" "\x00\x00"),
                        "{\"{\\\"[\\\\\\\"a\\\\\\\\\\\\\\\"b\\\\\\\"]\\\":0}\":0}");
}

static void container_keys_nested_past_the_limit_are_refused(void **state)
{
    (void)state;
    char out[256];
    size_t len;
    klaw_mp_error e;
    /* four levels of map keys: fine */
    static const uint8_t ok[] = {0x81, 0x81, 0x81, 0x81, 0x81, 0x90, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0};
    assert_int_equal(klaw_json_from_mp_buf(ok + 1, sizeof ok - 2, out, sizeof out, &len, &e), KLAW_OK);
    assert_string_equal(out, "{\"{\\\"{\\\\\\\"{\\\\\\\\\\\\\\\"[]\\\\\\\\\\\\\\\":null}\\\\\\\":null}\\\":null}\":null}");
    /* five: the fifth key's header is the error */
    assert_int_equal(klaw_json_from_mp_buf(ok, sizeof ok, out, sizeof out, &len, &e), KLAW_VALIDATE);
    assert_int_equal(e.status, KLAW_VALIDATE);
    assert_int_equal(e.offset, 5);
    assert_string_equal(e.reason, "map keys nested too deep for JSON");
    assert_int_equal(len, 0);
    /* an ext key at the fifth level too */
    static const uint8_t ext[] = {0x81, 0x81, 0x81, 0x81, 0x81, 0xd4, 0x01, 0x00, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0};
    assert_int_equal(klaw_json_from_mp_buf(ext, sizeof ext, out, sizeof out, &len, &e), KLAW_VALIDATE);
    assert_int_equal(e.offset, 5);
    /* malformed bytes after the refused key win: the reader's error */
    static const uint8_t bad[] = {0x81, 0x81, 0x81, 0x81, 0x81, 0x90, 0xc0, 0xc0, 0xc0, 0xc0, 0xc1};
    klaw_mp_error ve;
    assert_int_equal(klaw_json_from_mp_buf(bad, sizeof bad, out, sizeof out, &len, &e), KLAW_DECODE);
    assert_int_equal(klaw_mp_validate(bad, sizeof bad, 0, 0, &ve), KLAW_DECODE);
    assert_int_equal(e.offset, 10);
    assert_int_equal(ve.offset, 10);
    assert_int_equal(klaw_json_from_mp_buf(ok, sizeof ok - 1, out, sizeof out, &len, &e), KLAW_DECODE);
    assert_string_equal(e.reason, "unexpected end of input");
    /* a scalar key at the fifth level is fine */
    static const uint8_t sc[] = {0x81, 0x81, 0x81, 0x81, 0x81, 0x01, 0xc0, 0xc0, 0xc0, 0xc0, 0xc0};
    assert_int_equal(klaw_json_from_mp_buf(sc, sizeof sc, out, sizeof out, &len, &e), KLAW_OK);
}

/* ---- depth, errors, buffers, callbacks -------------------------------- */

/* A klaw_json_write_fn that counts bytes. */
static klaw_status count_fn(void *ctx, const char *data, size_t len)
{
    (void)data;
    *(size_t *)ctx += len;
    return KLAW_OK;
}

static void nesting_is_limited_by_the_readers_max_depth_without_recursion(void **state)
{
    (void)state;
    static uint8_t mp[4200];
    size_t len, n = 0;
    klaw_mp_error e, ve;
    /* 1024 nested arrays: the default limit, converted */
    memset(mp, 0x91, 1023);
    mp[1023] = 0x90;
    assert_int_equal(klaw_json_from_mp_buf(mp, 1024, jbuf, sizeof jbuf, &len, &e), KLAW_OK);
    assert_int_equal(len, 2048);
    assert_int_equal(jbuf[1023], '[');
    assert_int_equal(jbuf[1024], ']');
    /* 1025: refused where the reader's skip refuses it */
    memset(mp, 0x91, 1024);
    mp[1024] = 0x90;
    assert_int_equal(klaw_json_from_mp_buf(mp, 1025, jbuf, sizeof jbuf, &len, &e), KLAW_DECODE);
    assert_int_equal(klaw_mp_validate(mp, 1025, 0, 0, &ve), KLAW_DECODE);
    assert_int_equal(e.offset, ve.offset);
    assert_int_equal(e.offset, 1024);
    assert_string_equal(e.reason, "nesting too deep");

    /* a reader's own limit, lower */
    klaw_mp_reader r;
    klaw_mp_reader_init(&r, "\x91\x91\x90", 3);
    assert_int_equal(klaw_mp_reader_set_max_depth(&r, 1), KLAW_OK);
    assert_int_equal(klaw_json_from_mp(&r, count_fn, &n), KLAW_DECODE);
    assert_int_equal(r.err.offset, 1);
    assert_string_equal(r.err.reason, "nesting too deep");
    /* or higher, up to KLAW_MP_MAX_DEPTH_LIMIT, all on the converter's own
     * bounded stack */
    memset(mp, 0x91, 4095);
    mp[4095] = 0x90;
    klaw_mp_reader_init(&r, mp, 4096);
    assert_int_equal(klaw_mp_reader_set_max_depth(&r, KLAW_MP_MAX_DEPTH_LIMIT), KLAW_OK);
    n = 0;
    assert_int_equal(klaw_json_from_mp(&r, count_fn, &n), KLAW_OK);
    assert_int_equal(n, 8192);
    klaw_mp_reader_init(&r, mp, 4096);
    assert_int_equal(klaw_mp_reader_set_max_depth(&r, KLAW_MP_MAX_DEPTH_LIMIT - 1), KLAW_OK);
    assert_int_equal(klaw_json_from_mp(&r, count_fn, &n), KLAW_DECODE);
    assert_int_equal(r.err.offset, 4095);
}

/* A klaw_json_write_fn appending to a fixed sink, failing when asked. */
typedef struct sink {
    char buf[1 << 16];
    size_t len;
    int calls;
    int fail_at_call; /* 0: never */
} sink;

static klaw_status sink_fn(void *ctx, const char *data, size_t len)
{
    sink *s = ctx;
    assert_true(len > 0);
    s->calls++;
    if (s->fail_at_call && s->calls >= s->fail_at_call)
        return KLAW_FULL;
    assert_true(len <= sizeof s->buf - s->len);
    memcpy(s->buf + s->len, data, len);
    s->len += len;
    return KLAW_OK;
}

static void callback_output_equals_buffer_output_and_keeps_the_reader_at_the_next_value(void **state)
{
    (void)state;
    static sink s;
    klaw_mp_reader r;
    /* a value bigger than the staging buffer, then two more values */
    klaw_mp_writer *w = mp_begin();
    klaw_mp_write_array(w, 3000);
    for (int i = 0; i < 3000; i++)
        klaw_mp_write_int(w, i - 1500);
    size_t first = w->pos;
    klaw_mp_write_cstr(w, "tail");
    klaw_mp_write_nil(w);
    const char *want = to_json(mbuf, first);

    memset(&s, 0, sizeof s);
    klaw_mp_reader_init(&r, mbuf, w->pos);
    assert_int_equal(klaw_json_from_mp(&r, sink_fn, &s), KLAW_OK);
    assert_true(s.calls > 1);
    assert_int_equal(s.len, strlen(want));
    assert_memory_equal(s.buf, want, s.len);
    assert_int_equal(klaw_mp_reader_offset(&r), first);

    s.len = 0;
    assert_int_equal(klaw_json_from_mp(&r, sink_fn, &s), KLAW_OK);
    assert_int_equal(klaw_json_from_mp(&r, sink_fn, &s), KLAW_OK);
    assert_int_equal(s.len, 10);
    assert_memory_equal(s.buf, "\"tail\"null", 10);
    /* past the end: the reader's error, at the end */
    assert_int_equal(klaw_json_from_mp(&r, sink_fn, &s), KLAW_DECODE);
    assert_int_equal(r.err.offset, w->pos);
    assert_string_equal(r.err.reason, "unexpected end of input");
}

static void a_failing_callback_stops_the_walk_and_its_status_is_returned(void **state)
{
    (void)state;
    static sink s;
    klaw_mp_reader r;
    klaw_mp_writer *w = mp_begin();
    klaw_mp_write_array(w, 5000);
    for (int i = 0; i < 5000; i++)
        klaw_mp_write_cstr(w, "abcdefgh");
    memset(&s, 0, sizeof s);
    s.fail_at_call = 2;
    klaw_mp_reader_init(&r, mbuf, w->pos);
    assert_int_equal(klaw_json_from_mp(&r, sink_fn, &s), KLAW_FULL);
    assert_int_equal(s.calls, 2);
    assert_int_equal(r.err.status, KLAW_OK);
    assert_true(klaw_mp_reader_offset(&r) < w->pos);
}

static void trusted_utf8_str_bytes_pass_through_as_they_are(void **state)
{
    (void)state;
    static sink s;
    klaw_mp_reader r;
    memset(&s, 0, sizeof s);
    klaw_mp_reader_init(&r, "\xa2\xff\"", 3);
    klaw_mp_reader_set_flags(&r, KLAW_MP_TRUSTED_UTF8);
    assert_int_equal(klaw_json_from_mp(&r, sink_fn, &s), KLAW_OK);
    assert_int_equal(s.len, 5);
    assert_memory_equal(s.buf, "\"\xff\\\"\"", 5);
}

static void too_small_a_buffer_reports_toobig_and_the_length_needed(void **state)
{
    (void)state;
    static const char mp[] = "\x92\xa5hello\xcb\x3f\xb9\x99\x99\x99\x99\x99\x9a"; /* ["hello",0.1] */
    const size_t n = sizeof mp - 1;
    char out[32];
    size_t len = 99;
    klaw_mp_error e;
    /* measuring: no buffer */
    assert_int_equal(klaw_json_from_mp_buf(mp, n, NULL, 0, &len, &e), KLAW_TOOBIG);
    assert_int_equal(len, 13);
    /* too small by one: nothing written at or past cap */
    memset(out, '#', sizeof out);
    assert_int_equal(klaw_json_from_mp_buf(mp, n, out, 12, &len, &e), KLAW_TOOBIG);
    assert_int_equal(len, 13);
    for (size_t i = 12; i < sizeof out; i++)
        assert_int_equal(out[i], '#');
    /* exactly the length: fits, no room for the NUL, none written */
    assert_int_equal(klaw_json_from_mp_buf(mp, n, out, 13, &len, &e), KLAW_OK);
    assert_memory_equal(out, "[\"hello\",0.1]", 13);
    assert_int_equal(out[13], '#');
    /* one more: NUL-terminated */
    assert_int_equal(klaw_json_from_mp_buf(mp, n, out, 14, &len, &e), KLAW_OK);
    assert_string_equal(out, "[\"hello\",0.1]");
}

static void malformed_input_is_reported_as_the_reader_reports_it(void **state)
{
    (void)state;
    static const struct {
        const char *mp;
        size_t len;
    } bad[] = {
#define B(lit) {lit, sizeof(lit) - 1}
        B(""),
        B("\xc1"),
        B("\x93\x01\x02\xc1"),
        B("\x92\x01"),
        B("\xa5" "ab"),
        B("\xdd\xff\xff\xff\xff"),
        B("\xdf\x00\x00\x00\x02\x01\x01\x01"),
        B("\x81\x01"),
        B("\xd6\xff\x00"),
        B("\xc7\x05\xff" "12345"),
        B("\xd7\xff\xff\xff\xff\xff\x00\x00\x00\x00"),
        B("\xa2\xc3\x28"),
        B("\x92\xa1" "a\xa2\xed\xa0"),
        B("\x01\x02"),
        B("\x91\x90\x90"),
        B("\x81\x92\x01\xc1\x01"),
        B("\x81\xa1" "a\xcb\x00"),
        B("\xc4\x05" "abc"),
#undef B
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        klaw_mp_error e, ve;
        size_t len = 7;
        klaw_status want = klaw_mp_validate(bad[i].mp, bad[i].len, 0, 0, &ve);
        klaw_status got = klaw_json_from_mp_buf(bad[i].mp, bad[i].len, jbuf, sizeof jbuf, &len, &e);
        if (want != KLAW_DECODE || got != want || e.offset != ve.offset || strcmp(e.reason, ve.reason) != 0)
            fail_msg("case %zu: validate %s at %zu (%s); converter %s at %zu (%s)", i, klaw_status_name(want),
                     ve.offset, ve.reason, klaw_status_name(got), e.offset, e.reason);
        assert_int_equal(len, 0);
    }
    /* a decode error wins over an output that also overflowed */
    klaw_mp_error e;
    size_t len;
    assert_int_equal(klaw_json_from_mp_buf("\x92\xa3" "abc\xc1", 6, jbuf, 2, &len, &e), KLAW_DECODE);
    assert_int_equal(e.offset, 5);
}

/* ---- JSON -> MessagePack ----------------------------------------------- */

static void json_scalars_map_to_the_smallest_messagepack(void **state)
{
    (void)state;
    MP_OF("null", "\xc0");
    MP_OF("true", "\xc3");
    MP_OF("false", "\xc2");
    MP_OF("0", "\x00");
    MP_OF("-0", "\x00");
    MP_OF("127", "\x7f");
    MP_OF("128", "\xcc\x80");
    MP_OF("-32", "\xe0");
    MP_OF("-33", "\xd0\xdf");
    MP_OF("65536", "\xce\x00\x01\x00\x00");
    MP_OF("9223372036854775807", "\xcf\x7f\xff\xff\xff\xff\xff\xff\xff");
    MP_OF("9223372036854775808", "\xcf\x80\x00\x00\x00\x00\x00\x00\x00");
    MP_OF("18446744073709551615", "\xcf\xff\xff\xff\xff\xff\xff\xff\xff");
    MP_OF("-9223372036854775808", "\xd3\x80\x00\x00\x00\x00\x00\x00\x00");
    MP_OF("1.0", "\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00");
    MP_OF("-0.0", "\xcb\x80\x00\x00\x00\x00\x00\x00\x00");
    MP_OF("1e2", "\xcb\x40\x59\x00\x00\x00\x00\x00\x00");
    MP_OF("1E+2", "\xcb\x40\x59\x00\x00\x00\x00\x00\x00");
    MP_OF("0.1", "\xcb\x3f\xb9\x99\x99\x99\x99\x99\x9a");
    MP_OF("5e-324", "\xcb\x00\x00\x00\x00\x00\x00\x00\x01");
    MP_OF("1e-400", "\xcb\x00\x00\x00\x00\x00\x00\x00\x00");
    MP_OF("-1e-400", "\xcb\x80\x00\x00\x00\x00\x00\x00\x00");
    MP_OF("\"\"", "\xa0");
    MP_OF("\"abc\"", "\xa3" "abc");
    MP_OF(" \t\r\n1 \t\r\n", "\x01");
}

static void integers_outside_int64_and_uint64_are_errors_not_rounded(void **state)
{
    (void)state;
    assert_rejects("18446744073709551616", 20, 0, "integer out of range");
    assert_rejects("-9223372036854775809", 20, 0, "integer out of range");
    assert_rejects("[1, 99999999999999999999999]", 28, 4, "integer out of range");
    assert_rejects("-18446744073709551616", 21, 0, "integer out of range");
    /* as floats they are fine */
    MP_OF("18446744073709551616.0", "\xcb\x43\xf0\x00\x00\x00\x00\x00\x00");
    MP_OF("1e19", "\xcb\x43\xe1\x58\xe4\x60\x91\x3d\x00");
}

static void floats_too_large_for_a_double_are_errors(void **state)
{
    (void)state;
    assert_rejects("1e400", 5, 0, "number out of range");
    assert_rejects("[-1.5e309]", 10, 1, "number out of range");
    assert_rejects("1e99999999999999999999999999", 28, 0, "number out of range");
    MP_OF("1.7976931348623157e308", "\xcb\x7f\xef\xff\xff\xff\xff\xff\xff");
}

/* Builds "<int>.<zeros...><tail>" of length n into b. */
static void long_float_text(char *b, const char *head, size_t zeros, const char *tail)
{
    size_t h = strlen(head);
    memcpy(b, head, h);
    memset(b + h, '0', zeros);
    strcpy(b + h + zeros, tail);
}

static double json_double(const char *t)
{
    klaw_json_error e;
    if (from_json(t, strlen(t), &e) != KLAW_OK)
        fail_msg("%s at %zu", e.reason, e.offset);
    assert_int_equal(olen, 9);
    assert_int_equal(obuf[0], 0xcb);
    uint64_t b = 0;
    for (int k = 1; k < 9; k++)
        b = b << 8 | obuf[k];
    double d;
    memcpy(&d, &b, 8);
    return d;
}

static void long_float_texts_round_correctly(void **state)
{
    (void)state;
    static char b[5000];
    /* 2^53 + 1 is halfway between two doubles: ties to even (down) */
    long_float_text(b, "9007199254740993.", 3000, "");
    assert_true(json_double(b) == 9007199254740992.0);
    /* anything past the halfway point, however far out, rounds up */
    long_float_text(b, "9007199254740993.", 3000, "1");
    assert_true(json_double(b) == 9007199254740994.0);
    long_float_text(b, "-9007199254740993.", 3000, "1e0");
    assert_true(json_double(b) == -9007199254740994.0);
    /* many leading zeros after the point */
    long_float_text(b, "0.", 2000, "15e2001");
    assert_true(json_double(b) == 1.5);
    long_float_text(b, "0.", 100, "1e-99999999999999");
    assert_true(json_double(b) == 0.0);
    /* a long integer part with an exponent */
    long_float_text(b, "1", 400, "e-400");
    assert_true(json_double(b) == 1.0);
    long_float_text(b, "1", 400, ".0");
    assert_rejects(b, strlen(b), 0, "number out of range");
    /* all zeros */
    long_float_text(b, "-0.", 100, "");
    double z = json_double(b);
    assert_true(z == 0.0 && signbit(z));
    /* the same as strtod on random long texts */
    for (int i = 0; i < 300; i++) {
        size_t n = 64 + rnd() % 900;
        size_t pt = 1 + rnd() % (n - 1);
        size_t k = 0;
        b[k++] = (char)('1' + rnd() % 9);
        for (size_t d = 1; d < n; d++) {
            if (d == pt)
                b[k++] = '.';
            b[k++] = (char)('0' + rnd() % 10);
        }
        k += (size_t)sprintf(b + k, "e%d", (int)(rnd() % 700) - 350 - (int)pt);
        double want = strtod(b, NULL);
        if (isinf(want))
            continue;
        assert_true(json_double(b) == want);
    }
}

static void strings_decode_escapes_and_surrogate_pairs(void **state)
{
    (void)state;
    MP_OF("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\xa8\"\\/\b\f\n\r\t");
    MP_OF("\"\\u0041\\u00e9\\u20AC\"", "\xa6" "A\xc3\xa9\xe2\x82\xac");
    MP_OF("\"\\ud83d\\ude00\"", "\xa4\xf0\x9f\x98\x80");
    MP_OF("\"\\uDBFF\\uDFFF\"", "\xa4\xf4\x8f\xbf\xbf");
    /* U+1DA60, as Python's json.loads gives it (json-c 0.16 gives U+FFFD) */
    MP_OF("\"\\ud836\\ude60\"", "\xa4\xf0\x9d\xa9\xa0");
    MP_OF("\"\\uD800\\uDC00\"", "\xa4\xf0\x90\x80\x80");
    assert_mp("\"a\\u0000b\"", 10, "\xa3" "a\x00" "b", 4);
    MP_OF("\"\xc3\xa9\xf0\x9f\x98\x80\"", "\xa6\xc3\xa9\xf0\x9f\x98\x80");
    MP_OF("\"\x7f\"", "\xa1\x7f");
    /* the header is exact: 31 decoded bytes from 36 bytes of text -> fixstr */
    MP_OF("\"0123456789012345678901234567\\n\\u0041\\/\"",
          "\xbf" "0123456789012345678901234567\nA/");
    MP_OF("\"01234567890123456789012345678\\n\\u0041\\/\"",
          "\xd9\x20" "01234567890123456789012345678\nA/");
}

static void containers_get_the_smallest_headers_after_compaction(void **state)
{
    (void)state;
    MP_OF("[]", "\x90");
    MP_OF("{}", "\x80");
    MP_OF("[[],{}]", "\x92\x90\x80");
    MP_OF("{\"a\":[1,{\"b\":null}],\"c\":true}", "\x82\xa1" "a\x92\x01\x81\xa1" "b\xc0\xa1" "c\xc3");
    MP_OF("{\"a\":1,\"a\":2}", "\x82\xa1" "a\x01\xa1" "a\x02");
    MP_OF(" [ 1 , [ ] , { \"k\" : \"v\" } ] ", "\x93\x01\x90\x81\xa1k\xa1v");

    /* sizes at each header boundary, against the writer's own encoding */
    static char text[1 << 20];
    static uint8_t want[1 << 19];
    static const size_t sizes[] = {15, 16, 65535, 65536};
    for (size_t s = 0; s < 4; s++) {
        for (int map = 0; map < 2; map++) {
            size_t n = sizes[s], k = 0;
            klaw_mp_writer w;
            klaw_mp_writer_init(&w, want, sizeof want);
            if (map)
                klaw_mp_write_map(&w, n);
            else
                klaw_mp_write_array(&w, n);
            text[k++] = map ? '{' : '[';
            for (size_t i = 0; i < n; i++) {
                if (i)
                    text[k++] = ',';
                if (map) {
                    k += (size_t)sprintf(text + k, "\"\":[%zu]", i % 20);
                    klaw_mp_write_str(&w, "", 0);
                    klaw_mp_write_array(&w, 1);
                } else {
                    k += (size_t)sprintf(text + k, "%zu", i % 20);
                }
                klaw_mp_write_uint(&w, i % 20);
            }
            text[k++] = map ? '}' : ']';
            assert_int_equal(w.status, KLAW_OK);
            assert_mp(text, k, want, w.pos);
        }
    }
}

static void bom_at_the_start_is_skipped_and_rejected_elsewhere(void **state)
{
    (void)state;
    MP_OF("\xef\xbb\xbf[1]", "\x91\x01");
    MP_OF("\xef\xbb\xbf\"\xef\xbb\xbf\"", "\xa3\xef\xbb\xbf");
    assert_rejects("\xef\xbb\xbf", 3, 3, "unexpected end of input");
    assert_rejects("\xef\xbb\xbf\xef\xbb\xbf" "1", 7, 3, "expected a value");
    assert_rejects(" \xef\xbb\xbf" "1", 5, 1, "expected a value");
    assert_rejects("[\xef\xbb\xbf" "1]", 6, 1, "expected a value");
}

/* In the spirit of JSONTestSuite's n_ files: each must fail, at this byte,
 * for this reason. */
static void invalid_json_is_rejected_with_offset_and_reason(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        size_t len;
        size_t offset;
        const char *reason;
    } cases[] = {
#define N(lit, off, why) {lit, sizeof(lit) - 1, off, why}
        N("", 0, "unexpected end of input"),
        N("   ", 3, "unexpected end of input"),
        N("01", 0, "leading zero in number"),
        N("-01", 1, "leading zero in number"),
        N("00", 0, "leading zero in number"),
        N("+1", 0, "expected a value"),
        N(".5", 0, "expected a value"),
        N("1.", 2, "expected a digit after '.'"),
        N("1.e3", 2, "expected a digit after '.'"),
        N("1e", 2, "expected a digit in the exponent"),
        N("1e+", 3, "expected a digit in the exponent"),
        N("-", 1, "invalid number"),
        N("-a", 1, "invalid number"),
        N("0x1", 1, "trailing characters after value"),
        N("1 2", 2, "trailing characters after value"),
        N("[1]x", 3, "trailing characters after value"),
        N("NaN", 0, "expected a value"),
        N("-Infinity", 1, "invalid number"),
        N("nul", 0, "invalid literal"),
        N("tru", 0, "invalid literal"),
        N("True", 0, "expected a value"),
        N("nulll", 4, "trailing characters after value"),
        N("[1,]", 2, "trailing comma"),
        N("[1,\n]", 2, "trailing comma"),
        N("{\"a\":1,}", 6, "trailing comma"),
        N("[,1]", 1, "expected a value"),
        N("[1 2]", 3, "expected ',' or ']'"),
        N("[1:2]", 2, "expected ',' or ']'"),
        N("{\"a\":1 \"b\":2}", 7, "expected ',' or '}'"),
        N("{\"a\" 1}", 5, "expected ':'"),
        N("{\"a\":}", 5, "expected a value"),
        N("{1:2}", 1, "expected a string key"),
        N("{'a':1}", 1, "expected a string key"),
        N("['a']", 1, "expected a value"),
        N("[1", 2, "unexpected end of input"),
        N("{\"a\"", 4, "unexpected end of input"),
        N("{\"a\":1", 6, "unexpected end of input"),
        N("[1]]", 3, "trailing characters after value"),
        N("]", 0, "expected a value"),
        N("[1}", 2, "expected ',' or ']'"),
        N("/* c */ 1", 0, "expected a value"),
        N("\f1", 0, "expected a value"),
        N("1\x00", 1, "trailing characters after value"),
        N("\"abc", 4, "unterminated string"),
        N("\"abc\\", 5, "unterminated string"),
        N("\"a\tb\"", 2, "unescaped control character in string"),
        N("\"a\nb\"", 2, "unescaped control character in string"),
        N("\"\x00\"", 1, "unescaped control character in string"),
        N("\"\x1f\"", 1, "unescaped control character in string"),
        N("\"\\a\"", 1, "invalid escape"),
        N("\"\\x41\"", 1, "invalid escape"),
        N("\"\\'\"", 1, "invalid escape"),
        N("\"\\u12\"", 1, "invalid \\u escape"),
        N("\"\\u12g4\"", 1, "invalid \\u escape"),
        N("\"\\U0041\"", 1, "invalid escape"),
        N("\"\\ud800\"", 1, "high surrogate not followed by a low surrogate"),
        N("\"\\ud800x\"", 1, "high surrogate not followed by a low surrogate"),
        N("\"\\ud800\\u0041\"", 1, "high surrogate not followed by a low surrogate"),
        N("\"\\ud800\\ud800\"", 1, "high surrogate not followed by a low surrogate"),
        N("\"\\ud800\\n\"", 1, "high surrogate not followed by a low surrogate"),
        N("\"ab\\udc00\"", 3, "lone low surrogate"),
        N("\"\\ude00\\ud83d\"", 1, "lone low surrogate"),
        N("\"\xff\"", 1, "invalid UTF-8"),
        N("\"a\x80\"", 2, "invalid UTF-8"),
        N("\"\xc0\xaf\"", 1, "invalid UTF-8"),
        N("\"\xe0\x80\xaf\"", 1, "invalid UTF-8"),
        N("\"\xed\xa0\x80\"", 1, "invalid UTF-8"),
        N("\"\xf4\x90\x80\x80\"", 1, "invalid UTF-8"),
        N("\"\xe2\x82\"", 1, "invalid UTF-8"),
        N("\"\xe2\x82", 1, "invalid UTF-8"),
        N("\xc3\xa9", 0, "expected a value"),
        N("[\"a\",\xff]", 5, "expected a value"),
        N("{\"a\xff\":1}", 3, "invalid UTF-8"),
#undef N
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_rejects(cases[i].text, cases[i].len, cases[i].offset, cases[i].reason);
}

static void json_nesting_deeper_than_1024_is_an_error_not_a_crash(void **state)
{
    (void)state;
    static char text[300000];
    /* 1024 levels: accepted, and the default reader takes the result */
    memset(text, '[', 1024);
    memset(text + 1024, ']', 1024);
    assert_int_equal(from_json(text, 2048, NULL), KLAW_OK);
    assert_int_equal(olen, 1024);
    assert_int_equal(klaw_mp_validate(obuf, olen, 0, 0, NULL), KLAW_OK);
    /* 1025: refused at the 1025th bracket */
    memset(text, '[', 1025);
    memset(text + 1025, ']', 1025);
    assert_rejects(text, 2050, 1024, "nesting too deep");
    /* objects count the same */
    size_t k = 0;
    for (int i = 0; i < 1025; i++)
        k += (size_t)sprintf(text + k, "{\"a\":");
    assert_rejects(text, k, 1024 * 5, "nesting too deep");
    /* 100000 unclosed brackets: the depth error, quickly */
    memset(text, '[', 100000);
    assert_rejects(text, 100000, 1024, "nesting too deep");
    /* depth across the shallow/deep stack switch, mixed kinds */
    k = 0;
    for (int i = 0; i < 100; i++)
        k += (size_t)sprintf(text + k, i % 2 ? "{\"k\":" : "[1,");
    k += (size_t)sprintf(text + k, "null");
    for (int i = 99; i >= 0; i--)
        text[k++] = i % 2 ? '}' : ']';
    assert_int_equal(from_json(text, k, NULL), KLAW_OK);
    assert_string_equal(to_json(obuf, olen), (text[k] = '\0', text));
}

static void json_appends_to_a_writer_and_rolls_it_back_on_a_decode_error(void **state)
{
    (void)state;
    uint8_t b[64];
    klaw_mp_writer w;
    klaw_json_error e;
    klaw_mp_writer_init(&w, b, sizeof b);
    klaw_mp_write_array(&w, 2);
    klaw_mp_write_uint(&w, 7);
    assert_int_equal(klaw_json_to_mp("[[1,2],{\"a\":[]}]", 16, &w, &e), KLAW_OK);
    assert_int_equal(e.status, KLAW_OK);
    assert_int_equal(w.pos, 10);
    assert_memory_equal(b, "\x92\x07\x92\x92\x01\x02\x81\xa1" "a\x90", 10);
    /* a bad text leaves the writer as it was */
    assert_int_equal(klaw_json_to_mp("[1,2,", 5, &w, &e), KLAW_DECODE);
    assert_int_equal(w.pos, 10);
    assert_int_equal(w.status, KLAW_OK);
    /* and a bad text that also overflowed */
    assert_int_equal(klaw_json_to_mp("[\"0123456789012345678901234567890123456789012345678901234567890\",x]", 67, &w, &e),
                     KLAW_DECODE);
    assert_int_equal(e.offset, 65);
    assert_int_equal(w.pos, 10);
    assert_int_equal(w.status, KLAW_OK);
}

static void json_into_a_small_writer_reports_toobig_and_a_size_that_is_enough(void **state)
{
    (void)state;
    uint8_t b[64];
    klaw_mp_writer w;
    klaw_json_error e;
    const char *t = "[1,[2,3],{\"ab\":\"cd\"}]";
    klaw_mp_writer_init(&w, b, 6);
    assert_int_equal(klaw_json_to_mp(t, strlen(t), &w, &e), KLAW_TOOBIG);
    assert_int_equal(e.status, KLAW_TOOBIG);
    size_t need = klaw_mp_writer_needed(&w);
    assert_int_equal(need, 5 + 1 + 5 + 2 + 5 + 3 + 3); /* uncompacted */
    klaw_mp_writer_init(&w, b, need);
    assert_int_equal(klaw_json_to_mp(t, strlen(t), &w, &e), KLAW_OK);
    assert_int_equal(w.pos, 12);
    assert_memory_equal(b, "\x93\x01\x92\x02\x03\x81\xa2" "ab\xa2" "cd", 12);
    /* one byte less than needed is not enough */
    klaw_mp_writer_init(&w, b, need - 1);
    assert_int_equal(klaw_json_to_mp(t, strlen(t), &w, &e), KLAW_TOOBIG);
    /* a measuring writer */
    klaw_mp_writer_init(&w, NULL, 0);
    assert_int_equal(klaw_json_to_mp(t, strlen(t), &w, &e), KLAW_TOOBIG);
    assert_int_equal(klaw_mp_writer_needed(&w), need);
}

/* ---- round trips ---------------------------------------------------------- */

static void canonical_json_round_trips_byte_for_byte(void **state)
{
    (void)state;
    static const char *const docs[] = {
        "null", "true", "false", "0", "-1", "127", "-33", "18446744073709551615",
        "-9223372036854775808", "1.0", "-0.0", "0.1", "1e+300", "5e-324", "1e-05", "123.456",
        "1e+16", "1000000000000000.0", "\"\"", "\"a\\\"b\\\\c\\n\\u0001\\u001f\"", "\"\xc3\xa9\xf0\x9f\x98\x80\"",
        "[]", "{}", "[1,[2,[3]],{\"a\":{\"b\":[]}}]", "{\"a\":1,\"a\":2}", "{\"\":\"\"}",
        "[null,true,false,0.5,-2.5e-05,\"x\"]",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        klaw_json_error e;
        if (from_json(docs[i], strlen(docs[i]), &e) != KLAW_OK)
            fail_msg("'%s': %s", docs[i], e.reason);
        const char *back = to_json(obuf, olen);
        if (strcmp(back, docs[i]) != 0)
            fail_msg("'%s' came back as '%s'", docs[i], back);
    }
}

/* A random value without bin, ext or float32, in the writer's smallest
 * encoding, str keys only. */
static void gen_value(klaw_mp_writer *w, int depth)
{
    static const char *const pieces[] = {"a", "\"", "\\", "\n", "\x01", "\x1f", "\xc3\xa9", "\xf0\x9f\x98\x80",
                                         " ", "/", "\x7f", "\xe2\x80\xa8", "\x00", "xyz"};
    unsigned kind = (unsigned)(rnd() % (depth < 4 ? 10 : 7));
    switch (kind) {
    case 0: klaw_mp_write_nil(w); break;
    case 1: klaw_mp_write_bool(w, rnd() & 1); break;
    case 2: klaw_mp_write_uint(w, rnd() >> (rnd() % 64)); break;
    case 3: klaw_mp_write_int(w, -(int64_t)(rnd() >> (1 + rnd() % 63)) - 1); break;
    case 4: {
        double d;
        uint64_t bits = rnd();
        memcpy(&d, &bits, 8);
        if (!isfinite(d))
            d = (double)(int64_t)bits / 7.0;
        klaw_mp_write_double(w, rnd() % 4 ? d : (double)(int64_t)(rnd() % 2000) - 1000.0);
        break;
    }
    case 5:
    case 6: {
        char s[200];
        size_t n = 0, parts = rnd() % 12;
        for (size_t i = 0; i < parts; i++) {
            const char *p = pieces[rnd() % (sizeof pieces / sizeof pieces[0])];
            size_t pl = *p ? strlen(p) : 1;
            memcpy(s + n, p, pl);
            n += pl;
        }
        klaw_mp_write_str(w, s, n);
        break;
    }
    case 7:
    case 8: {
        size_t n = rnd() % 20;
        klaw_mp_write_array(w, n);
        for (size_t i = 0; i < n; i++)
            gen_value(w, depth + 1);
        break;
    }
    default: {
        size_t n = rnd() % 18;
        klaw_mp_write_map(w, n);
        for (size_t i = 0; i < n; i++) {
            char k[16];
            int kl = snprintf(k, sizeof k, "k%u\"", (unsigned)(rnd() % 50));
            klaw_mp_write_str(w, k, (size_t)kl);
            gen_value(w, depth + 1);
        }
        break;
    }
    }
}

static void messagepack_round_trips_through_json_byte_for_byte(void **state)
{
    (void)state;
    static char text[1 << 20];
    for (int i = 0; i < 2000; i++) {
        klaw_mp_writer *w = mp_begin();
        gen_value(w, 0);
        assert_int_equal(w->status, KLAW_OK);
        const char *t = to_json(mbuf, w->pos);
        size_t tl = strlen(t);
        memcpy(text, t, tl + 1);
        klaw_json_error e;
        if (from_json(text, tl, &e) != KLAW_OK)
            fail_msg("case %d: '%s': %s at %zu", i, text, e.reason, e.offset);
        assert_int_equal(olen, w->pos);
        assert_memory_equal(obuf, mbuf, olen);
        /* and the text is a fixed point */
        assert_string_equal(to_json(obuf, olen), text);
    }
}

static void any_value_becomes_json_that_reads_back_to_the_same_json(void **state)
{
    (void)state;
    /* bin, ext, timestamps, float32 and non-str keys become other values in
     * JSON, but the JSON of what JSON reads back is the same text */
    static const char *const mps[] = {
        "\x81\xc4\x02\x01\x02\xd6\xff\x00\x00\x00\x00",
        "\x82\x92\x01\xa1\"\xd4\x05\x01\xca\x3d\xcc\xcc\xcd\x90",
        "\x93\xca\x7f\x7f\xff\xff\xd7\xff\x00\x00\x00\x04\x00\x00\x00\x00\xc7\x03\x01\x61\x62\x63",
    };
    static const size_t lens[] = {11, 14, 22};
    static char text[4096];
    for (size_t i = 0; i < 3; i++) {
        strcpy(text, to_json(mps[i], lens[i]));
        assert_int_equal(from_json(text, strlen(text), NULL), KLAW_OK);
        assert_string_equal(to_json(obuf, olen), text);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(nil_and_bools_map_to_json_literals),
        cmocka_unit_test(ints_print_exactly_over_the_whole_int64_and_uint64_range),
        cmocka_unit_test(floats_print_shortest_round_trip_text_marked_as_float),
        cmocka_unit_test(nan_and_infinities_become_null),
        cmocka_unit_test(float32_prints_the_shortest_text_of_the_float32),
        cmocka_unit_test(random_doubles_round_trip_through_the_shortest_text),
        cmocka_unit_test(random_float32s_round_trip_through_the_shortest_text),
        cmocka_unit_test(str_escapes_quotes_backslashes_and_control_characters),
        cmocka_unit_test(bin_is_padded_base64_at_every_length_mod_3),
        cmocka_unit_test(ext_is_an_object_with_type_and_base64_data),
        cmocka_unit_test(timestamps_are_rfc3339_utc_in_all_three_widths),
        cmocka_unit_test(timestamp_years_outside_0000_to_9999_use_signed_six_digit_years),
        cmocka_unit_test(arrays_and_maps_are_compact_and_keep_pair_order),
        cmocka_unit_test(non_str_keys_are_written_as_their_json_text),
        cmocka_unit_test(container_keys_inside_container_keys_are_escaped_once_per_level),
        cmocka_unit_test(container_keys_nested_past_the_limit_are_refused),
        cmocka_unit_test(nesting_is_limited_by_the_readers_max_depth_without_recursion),
        cmocka_unit_test(callback_output_equals_buffer_output_and_keeps_the_reader_at_the_next_value),
        cmocka_unit_test(a_failing_callback_stops_the_walk_and_its_status_is_returned),
        cmocka_unit_test(trusted_utf8_str_bytes_pass_through_as_they_are),
        cmocka_unit_test(too_small_a_buffer_reports_toobig_and_the_length_needed),
        cmocka_unit_test(malformed_input_is_reported_as_the_reader_reports_it),
        cmocka_unit_test(json_scalars_map_to_the_smallest_messagepack),
        cmocka_unit_test(integers_outside_int64_and_uint64_are_errors_not_rounded),
        cmocka_unit_test(floats_too_large_for_a_double_are_errors),
        cmocka_unit_test(long_float_texts_round_correctly),
        cmocka_unit_test(strings_decode_escapes_and_surrogate_pairs),
        cmocka_unit_test(containers_get_the_smallest_headers_after_compaction),
        cmocka_unit_test(bom_at_the_start_is_skipped_and_rejected_elsewhere),
        cmocka_unit_test(invalid_json_is_rejected_with_offset_and_reason),
        cmocka_unit_test(json_nesting_deeper_than_1024_is_an_error_not_a_crash),
        cmocka_unit_test(json_appends_to_a_writer_and_rolls_it_back_on_a_decode_error),
        cmocka_unit_test(json_into_a_small_writer_reports_toobig_and_a_size_that_is_enough),
        cmocka_unit_test(canonical_json_round_trips_byte_for_byte),
        cmocka_unit_test(messagepack_round_trips_through_json_byte_for_byte),
        cmocka_unit_test(any_value_becomes_json_that_reads_back_to_the_same_json),
    };
    return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
