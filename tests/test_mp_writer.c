/* test_mp_writer.c - the MessagePack writer: exact bytes for every type and
 * every width boundary (checked back through the reader), reserve and
 * patch, sticky overflow that never writes past the buffer, KLAW_INVAL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h" /* hex(), assert_bytes(), assert_hex() */
#include "klaw/klaw.h"

/* ---- integers ------------------------------------------------------------ */

static const struct {
    uint64_t v;
    const char *hex;
} uint_cases[] = {
    {0, "00"},
    {1, "01"},
    {127, "7f"},
    {128, "cc 80"},
    {255, "cc ff"},
    {256, "cd 01 00"},
    {65535, "cd ff ff"},
    {65536, "ce 00 01 00 00"},
    {4294967295u, "ce ff ff ff ff"},
    {4294967296u, "cf 00 00 00 01 00 00 00 00"},
    {INT64_MAX, "cf 7f ff ff ff ff ff ff ff"},
    {(uint64_t)INT64_MAX + 1, "cf 80 00 00 00 00 00 00 00"},
    {UINT64_MAX, "cf ff ff ff ff ff ff ff ff"},
};

static const struct {
    int64_t v;
    const char *hex;
} int_cases[] = {
    {-1, "ff"},
    {-32, "e0"},
    {-33, "d0 df"},
    {-128, "d0 80"},
    {-129, "d1 ff 7f"},
    {-32768, "d1 80 00"},
    {-32769, "d2 ff ff 7f ff"},
    {INT32_MIN, "d2 80 00 00 00"},
    {(int64_t)INT32_MIN - 1, "d3 ff ff ff ff 7f ff ff ff"},
    {INT64_MIN, "d3 80 00 00 00 00 00 00 00"},
};

static void unsigned_integers_take_the_smallest_encoding_at_every_boundary(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof uint_cases / sizeof uint_cases[0]; i++) {
        uint8_t buf[16];
        klaw_mp_writer w;
        size_t len;
        klaw_mp_writer_init(&w, buf, sizeof buf);
        klaw_mp_write_uint(&w, uint_cases[i].v);
        assert_int_equal(klaw_mp_writer_finish(&w, &len), KLAW_OK);
        assert_hex(buf, len, uint_cases[i].hex);

        /* write_int gives the same bytes for every value it can hold */
        if (uint_cases[i].v <= INT64_MAX) {
            uint8_t buf2[16];
            size_t len2;
            klaw_mp_writer_init(&w, buf2, sizeof buf2);
            klaw_mp_write_int(&w, (int64_t)uint_cases[i].v);
            assert_int_equal(klaw_mp_writer_finish(&w, &len2), KLAW_OK);
            assert_bytes(buf2, len2, buf, len);
        }

        /* and the reader gives the value back, as an unsigned integer */
        klaw_mp_reader r;
        klaw_mp_item it;
        uint64_t u = 12345;
        klaw_mp_reader_init(&r, buf, len);
        assert_int_equal(klaw_mp_peek_type(&r), KLAW_MP_UINT);
        assert_int_equal(klaw_mp_read(&r, &it), KLAW_OK);
        assert_int_equal(it.type, KLAW_MP_UINT);
        assert_true(it.v.u == uint_cases[i].v);
        assert_int_equal(klaw_mp_reader_finish(&r), KLAW_OK);
        klaw_mp_reader_init(&r, buf, len);
        assert_int_equal(klaw_mp_read_uint(&r, &u), KLAW_OK);
        assert_true(u == uint_cases[i].v);
        assert_int_equal(klaw_mp_reader_finish(&r), KLAW_OK);
    }
}

static void negative_integers_take_the_smallest_encoding_at_every_boundary(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof int_cases / sizeof int_cases[0]; i++) {
        uint8_t buf[16];
        klaw_mp_writer w;
        size_t len;
        klaw_mp_writer_init(&w, buf, sizeof buf);
        klaw_mp_write_int(&w, int_cases[i].v);
        assert_int_equal(klaw_mp_writer_finish(&w, &len), KLAW_OK);
        assert_hex(buf, len, int_cases[i].hex);

        klaw_mp_reader r;
        klaw_mp_item it;
        int64_t v = 12345;
        klaw_mp_reader_init(&r, buf, len);
        assert_int_equal(klaw_mp_peek_type(&r), KLAW_MP_INT);
        assert_int_equal(klaw_mp_read(&r, &it), KLAW_OK);
        assert_int_equal(it.type, KLAW_MP_INT);
        assert_true(it.v.i == int_cases[i].v);
        klaw_mp_reader_init(&r, buf, len);
        assert_int_equal(klaw_mp_read_int(&r, &v), KLAW_OK);
        assert_true(v == int_cases[i].v);
        assert_int_equal(klaw_mp_reader_finish(&r), KLAW_OK);
    }
}

/* ---- floats -------------------------------------------------------------- */

static void floats_keep_their_width_and_bits(void **state)
{
    (void)state;
    uint8_t buf[32];
    klaw_mp_writer w;
    size_t len;
    klaw_mp_writer_init(&w, buf, sizeof buf);
    klaw_mp_write_float(&w, 1.5f);
    klaw_mp_write_double(&w, 1.5);
    klaw_mp_write_float(&w, -0.0f);
    klaw_mp_write_double(&w, -2.5e-300);
    assert_int_equal(klaw_mp_writer_finish(&w, &len), KLAW_OK);
    assert_hex(buf, len,
               "ca 3f c0 00 00"
               "cb 3f f8 00 00 00 00 00 00"
               "ca 80 00 00 00"
               "cb 81 ba c9 a7 b3 b7 30 2f");

    klaw_mp_reader r;
    klaw_mp_item it;
    double d;
    klaw_mp_reader_init(&r, buf, len);
    assert_int_equal(klaw_mp_peek_type(&r), KLAW_MP_FLOAT32);
    assert_int_equal(klaw_mp_read(&r, &it), KLAW_OK);
    assert_int_equal(it.type, KLAW_MP_FLOAT32);
    assert_true(it.v.f == 1.5f);
    assert_int_equal(klaw_mp_peek_type(&r), KLAW_MP_FLOAT64);
    assert_int_equal(klaw_mp_read(&r, &it), KLAW_OK);
    assert_int_equal(it.type, KLAW_MP_FLOAT64);
    assert_true(it.v.d == 1.5);
    assert_int_equal(klaw_mp_read_double(&r, &d), KLAW_OK);
    assert_true(d == 0.0 && signbit(d));
    assert_int_equal(klaw_mp_read_double(&r, &d), KLAW_OK);
    assert_true(d == -2.5e-300);
    assert_int_equal(klaw_mp_reader_finish(&r), KLAW_OK);
}

static void nan_and_infinity_keep_their_bits(void **state)
{
    (void)state;
    uint8_t buf[32];
    klaw_mp_writer w;
    size_t len;
    klaw_mp_writer_init(&w, buf, sizeof buf);
    klaw_mp_write_double(&w, INFINITY);
    klaw_mp_write_float(&w, -INFINITY);
    klaw_mp_write_double(&w, NAN);
    assert_int_equal(klaw_mp_writer_finish(&w, &len), KLAW_OK);
    assert_int_equal(len, 9 + 5 + 9);
    assert_hex(buf, 14, "cb 7f f0 00 00 00 00 00 00 ca ff 80 00 00");

    klaw_mp_reader r;
    double d;
    klaw_mp_reader_init(&r, buf, len);
    assert_int_equal(klaw_mp_read_double(&r, &d), KLAW_OK);
    assert_true(isinf(d) && d > 0);
    assert_int_equal(klaw_mp_read_double(&r, &d), KLAW_OK);
    assert_true(isinf(d) && d < 0);
    assert_int_equal(klaw_mp_read_double(&r, &d), KLAW_OK);
    assert_true(isnan(d));
}

/* ---- str, bin, array, map headers ---------------------------------------- */

typedef void (*header_fn)(klaw_mp_writer *, size_t);

static void write_str_hdr(klaw_mp_writer *w, size_t n) { klaw_mp_write_str_header(w, n); }
static void write_bin_hdr(klaw_mp_writer *w, size_t n) { klaw_mp_write_bin_header(w, n); }
static void write_array_hdr(klaw_mp_writer *w, size_t n) { klaw_mp_write_array(w, n); }
static void write_map_hdr(klaw_mp_writer *w, size_t n) { klaw_mp_write_map(w, n); }

static const struct {
    header_fn write;
    klaw_mp_type type;
    size_t n;
    const char *hex;
} header_cases[] = {
    {write_str_hdr, KLAW_MP_STR, 0, "a0"},
    {write_str_hdr, KLAW_MP_STR, 31, "bf"},
    {write_str_hdr, KLAW_MP_STR, 32, "d9 20"},
    {write_str_hdr, KLAW_MP_STR, 255, "d9 ff"},
    {write_str_hdr, KLAW_MP_STR, 256, "da 01 00"},
    {write_str_hdr, KLAW_MP_STR, 65535, "da ff ff"},
    {write_str_hdr, KLAW_MP_STR, 65536, "db 00 01 00 00"},
    {write_bin_hdr, KLAW_MP_BIN, 0, "c4 00"},
    {write_bin_hdr, KLAW_MP_BIN, 31, "c4 1f"},
    {write_bin_hdr, KLAW_MP_BIN, 32, "c4 20"},
    {write_bin_hdr, KLAW_MP_BIN, 255, "c4 ff"},
    {write_bin_hdr, KLAW_MP_BIN, 256, "c5 01 00"},
    {write_bin_hdr, KLAW_MP_BIN, 65535, "c5 ff ff"},
    {write_bin_hdr, KLAW_MP_BIN, 65536, "c6 00 01 00 00"},
    {write_array_hdr, KLAW_MP_ARRAY, 0, "90"},
    {write_array_hdr, KLAW_MP_ARRAY, 15, "9f"},
    {write_array_hdr, KLAW_MP_ARRAY, 16, "dc 00 10"},
    {write_array_hdr, KLAW_MP_ARRAY, 31, "dc 00 1f"},
    {write_array_hdr, KLAW_MP_ARRAY, 32, "dc 00 20"},
    {write_array_hdr, KLAW_MP_ARRAY, 255, "dc 00 ff"},
    {write_array_hdr, KLAW_MP_ARRAY, 256, "dc 01 00"},
    {write_array_hdr, KLAW_MP_ARRAY, 65535, "dc ff ff"},
    {write_array_hdr, KLAW_MP_ARRAY, 65536, "dd 00 01 00 00"},
    {write_map_hdr, KLAW_MP_MAP, 0, "80"},
    {write_map_hdr, KLAW_MP_MAP, 15, "8f"},
    {write_map_hdr, KLAW_MP_MAP, 16, "de 00 10"},
    {write_map_hdr, KLAW_MP_MAP, 31, "de 00 1f"},
    {write_map_hdr, KLAW_MP_MAP, 32, "de 00 20"},
    {write_map_hdr, KLAW_MP_MAP, 255, "de 00 ff"},
    {write_map_hdr, KLAW_MP_MAP, 256, "de 01 00"},
    {write_map_hdr, KLAW_MP_MAP, 65535, "de ff ff"},
    {write_map_hdr, KLAW_MP_MAP, 65536, "df 00 01 00 00"},
};

/* Each header, followed by a body of the size it announces (ASCII 'x' for
 * str and bin, fixint 0s for array elements and map keys and values), is
 * written in its smallest form and read back with its length and a view
 * into the buffer. */
static void str_bin_array_map_headers_take_the_smallest_form_at_every_boundary(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof header_cases / sizeof header_cases[0]; i++) {
        size_t n = header_cases[i].n;
        size_t body = header_cases[i].type == KLAW_MP_MAP ? 2 * n : n;
        size_t cap = body + 8;
        uint8_t *buf = malloc(cap);
        assert_non_null(buf);
        klaw_mp_writer w;
        size_t len;
        klaw_mp_writer_init(&w, buf, cap);
        header_cases[i].write(&w, n);
        size_t hdr_len = klaw_mp_writer_len(&w);
        assert_hex(buf, hdr_len, header_cases[i].hex);
        if (header_cases[i].type == KLAW_MP_STR || header_cases[i].type == KLAW_MP_BIN) {
            uint8_t *p = w.buf + w.pos;
            memset(p, 'x', body);
            klaw_mp_mark m = klaw_mp_reserve(&w, body);
            assert_int_equal(m.pos, hdr_len);
        } else {
            for (size_t k = 0; k < body; k++)
                klaw_mp_write_uint(&w, 0);
        }
        assert_int_equal(klaw_mp_writer_finish(&w, &len), KLAW_OK);
        assert_int_equal(len, hdr_len + body);

        klaw_mp_reader r;
        klaw_mp_item it;
        klaw_mp_reader_init(&r, buf, len);
        assert_int_equal(klaw_mp_peek_type(&r), header_cases[i].type);
        assert_int_equal(klaw_mp_read(&r, &it), KLAW_OK);
        assert_int_equal(it.type, header_cases[i].type);
        assert_int_equal(it.len, n);
        if (header_cases[i].type == KLAW_MP_STR || header_cases[i].type == KLAW_MP_BIN) {
            assert_ptr_equal(it.data, buf + hdr_len);
            assert_int_equal(klaw_mp_reader_offset(&r), len);
        } else {
            assert_int_equal(klaw_mp_reader_offset(&r), hdr_len);
        }
        klaw_mp_reader_init(&r, buf, len);
        assert_int_equal(klaw_mp_skip(&r), KLAW_OK);
        assert_int_equal(klaw_mp_reader_finish(&r), KLAW_OK);
        free(buf);
    }
}

static void str_and_bin_carry_their_bytes(void **state)
{
    (void)state;
    uint8_t buf[64];
    klaw_mp_writer w;
    size_t len;
    klaw_mp_writer_init(&w, buf, sizeof buf);
    klaw_mp_write_cstr(&w, "h\xc3\xa9");
    klaw_mp_write_str(&w, "", 0);
    klaw_mp_write_bin(&w, "\x00\xff", 2);
    klaw_mp_write_bin(&w, NULL, 0);
    klaw_mp_write_bytes(&w, "\xc0", 1);
    assert_int_equal(klaw_mp_writer_finish(&w, &len), KLAW_OK);
    assert_hex(buf, len, "a3 68 c3 a9 a0 c4 02 00 ff c4 00 c0");
}

/* ---- ext ------------------------------------------------------------------ */

static const struct {
    size_t n;
    const char *hdr;
} ext_cases[] = {
    {0, "c7 00 05"},
    {1, "d4 05"},
    {2, "d5 05"},
    {3, "c7 03 05"},
    {4, "d6 05"},
    {5, "c7 05 05"},
    {8, "d7 05"},
    {9, "c7 09 05"},
    {15, "c7 0f 05"},
    {16, "d8 05"},
    {17, "c7 11 05"},
    {31, "c7 1f 05"},
    {32, "c7 20 05"},
    {255, "c7 ff 05"},
    {256, "c8 01 00 05"},
    {65535, "c8 ff ff 05"},
    {65536, "c9 00 01 00 00 05"},
};

static void ext_uses_fixext_for_1_2_4_8_16_bytes_and_ext8_16_32_otherwise(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof ext_cases / sizeof ext_cases[0]; i++) {
        size_t n = ext_cases[i].n;
        size_t cap = n + 8;
        uint8_t *buf = malloc(cap);
        uint8_t *data = malloc(n + 1);
        assert_non_null(buf);
        assert_non_null(data);
        for (size_t k = 0; k < n; k++)
            data[k] = (uint8_t)(k * 7 + 1);
        klaw_mp_writer w;
        size_t len;
        klaw_mp_writer_init(&w, buf, cap);
        klaw_mp_write_ext(&w, 5, data, n);
        assert_int_equal(klaw_mp_writer_finish(&w, &len), KLAW_OK);
        uint8_t want[8];
        size_t hdr_len = hex(ext_cases[i].hdr, want, sizeof want);
        assert_int_equal(len, hdr_len + n);
        assert_bytes(buf, hdr_len, want, hdr_len);
        assert_memory_equal(buf + hdr_len, data, n);

        klaw_mp_reader r;
        int8_t type;
        const uint8_t *view;
        uint32_t vlen;
        klaw_mp_reader_init(&r, buf, len);
        assert_int_equal(klaw_mp_peek_type(&r), KLAW_MP_EXT);
        assert_int_equal(klaw_mp_read_ext(&r, &type, &view, &vlen), KLAW_OK);
        assert_int_equal(type, 5);
        assert_int_equal(vlen, n);
        assert_ptr_equal(view, buf + hdr_len);
        assert_int_equal(klaw_mp_reader_finish(&r), KLAW_OK);
        free(buf);
        free(data);
    }
}

static void ext_type_is_signed(void **state)
{
    (void)state;
    uint8_t buf[16];
    klaw_mp_writer w;
    size_t len;
    klaw_mp_writer_init(&w, buf, sizeof buf);
    klaw_mp_write_ext(&w, -128, "ab", 2);
    klaw_mp_write_ext(&w, 127, "", 0);
    assert_int_equal(klaw_mp_writer_finish(&w, &len), KLAW_OK);
    assert_hex(buf, len, "d5 80 61 62 c7 00 7f");

    klaw_mp_reader r;
    klaw_mp_item it;
    klaw_mp_reader_init(&r, buf, len);
    assert_int_equal(klaw_mp_read(&r, &it), KLAW_OK);
    assert_int_equal(it.type, KLAW_MP_EXT);
    assert_int_equal(it.ext_type, -128);
    assert_int_equal(klaw_mp_read(&r, &it), KLAW_OK);
    assert_int_equal(it.ext_type, 127);
    assert_int_equal(it.len, 0);
}

/* ---- timestamps ----------------------------------------------------------- */

static const struct {
    int64_t sec;
    uint32_t nsec;
    const char *hex;
} ts_cases[] = {
    /* 32-bit: nsec 0 and 0 <= sec < 2^32 */
    {0, 0, "d6 ff 00 00 00 00"},
    {1, 0, "d6 ff 00 00 00 01"},
    {4294967295, 0, "d6 ff ff ff ff ff"},
    /* 64-bit: 0 <= sec < 2^34, or any nanoseconds */
    {4294967296, 0, "d7 ff 00 00 00 01 00 00 00 00"},
    {0, 1, "d7 ff 00 00 00 04 00 00 00 00"},
    {4294967295, 999999999, "d7 ff ee 6b 27 fc ff ff ff ff"},
    {17179869183, 999999999, "d7 ff ee 6b 27 ff ff ff ff ff"},
    {17179869183, 0, "d7 ff 00 00 00 03 ff ff ff ff"},
    /* 96-bit: sec >= 2^34 or negative */
    {17179869184, 0, "c7 0c ff 00 00 00 00 00 00 00 04 00 00 00 00"},
    {-1, 0, "c7 0c ff 00 00 00 00 ff ff ff ff ff ff ff ff"},
    {-1, 999999999, "c7 0c ff 3b 9a c9 ff ff ff ff ff ff ff ff ff"},
    {INT64_MIN, 0, "c7 0c ff 00 00 00 00 80 00 00 00 00 00 00 00"},
    {INT64_MAX, 999999999, "c7 0c ff 3b 9a c9 ff 7f ff ff ff ff ff ff ff"},
};

static void timestamps_take_the_smallest_of_the_32_64_and_96_bit_forms(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof ts_cases / sizeof ts_cases[0]; i++) {
        uint8_t buf[32];
        klaw_mp_writer w;
        size_t len;
        klaw_mp_writer_init(&w, buf, sizeof buf);
        klaw_mp_write_timestamp(&w, ts_cases[i].sec, ts_cases[i].nsec);
        assert_int_equal(klaw_mp_writer_finish(&w, &len), KLAW_OK);
        assert_hex(buf, len, ts_cases[i].hex);

        klaw_mp_reader r;
        klaw_mp_item it;
        int64_t sec;
        uint32_t nsec;
        klaw_mp_reader_init(&r, buf, len);
        assert_int_equal(klaw_mp_peek_type(&r), KLAW_MP_TIMESTAMP);
        assert_int_equal(klaw_mp_read(&r, &it), KLAW_OK);
        assert_int_equal(it.type, KLAW_MP_TIMESTAMP);
        assert_int_equal(it.ext_type, -1);
        assert_true(it.v.ts.sec == ts_cases[i].sec);
        assert_int_equal(it.v.ts.nsec, ts_cases[i].nsec);
        klaw_mp_reader_init(&r, buf, len);
        assert_int_equal(klaw_mp_read_timestamp(&r, &sec, &nsec), KLAW_OK);
        assert_true(sec == ts_cases[i].sec);
        assert_int_equal(nsec, ts_cases[i].nsec);
        assert_int_equal(klaw_mp_reader_finish(&r), KLAW_OK);
    }
}

static void timestamp_nanoseconds_above_999999999_are_inval_and_write_nothing(void **state)
{
    (void)state;
    uint8_t buf[32];
    klaw_mp_writer w;
    memset(buf, 0xaa, sizeof buf);
    klaw_mp_writer_init(&w, buf, sizeof buf);
    klaw_mp_write_timestamp(&w, 0, 1000000000u);
    assert_int_equal(w.status, KLAW_INVAL);
    klaw_mp_write_nil(&w); /* after the error, nothing more is written */
    klaw_mp_write_timestamp(&w, 1, 0);
    assert_int_equal(klaw_mp_writer_finish(&w, NULL), KLAW_INVAL);
    for (size_t i = 0; i < sizeof buf; i++)
        assert_int_equal(buf[i], 0xaa);

    klaw_mp_writer_init(&w, buf, sizeof buf);
    klaw_mp_write_timestamp(&w, -5, UINT32_MAX);
    assert_int_equal(klaw_mp_writer_finish(&w, NULL), KLAW_INVAL);
    klaw_mp_writer_init(&w, buf, sizeof buf);
    klaw_mp_write_timestamp(&w, 5, 999999999u);
    assert_int_equal(klaw_mp_writer_finish(&w, NULL), KLAW_OK);
}

/* The first error wins: TOOBIG then INVAL stays TOOBIG, INVAL then an
 * overflow stays INVAL. */
static void the_first_error_sticks(void **state)
{
    (void)state;
    uint8_t buf[4];
    klaw_mp_writer w;
    klaw_mp_writer_init(&w, buf, sizeof buf);
    klaw_mp_write_uint(&w, UINT64_MAX);
    assert_int_equal(w.status, KLAW_TOOBIG);
    klaw_mp_write_timestamp(&w, 0, 2000000000u);
    assert_int_equal(klaw_mp_writer_finish(&w, NULL), KLAW_TOOBIG);

    klaw_mp_writer_init(&w, buf, sizeof buf);
    klaw_mp_write_timestamp(&w, 0, 2000000000u);
    klaw_mp_write_uint(&w, UINT64_MAX);
    assert_int_equal(klaw_mp_writer_finish(&w, NULL), KLAW_INVAL);
}

static void lengths_beyond_32_bits_are_inval(void **state)
{
    (void)state;
    if (SIZE_MAX <= UINT32_MAX)
        skip();
    size_t huge = (size_t)UINT32_MAX + 1;
    uint8_t buf[16];
    klaw_mp_writer w;
    header_fn fns[] = {write_str_hdr, write_bin_hdr, write_array_hdr, write_map_hdr};
    for (size_t i = 0; i < 4; i++) {
        memset(buf, 0xaa, sizeof buf);
        klaw_mp_writer_init(&w, buf, sizeof buf);
        fns[i](&w, huge);
        assert_int_equal(klaw_mp_writer_finish(&w, NULL), KLAW_INVAL);
        assert_int_equal(buf[0], 0xaa);
    }
    klaw_mp_writer_init(&w, buf, sizeof buf);
    klaw_mp_write_ext_header(&w, 1, huge);
    assert_int_equal(klaw_mp_writer_finish(&w, NULL), KLAW_INVAL);
    assert_int_equal(buf[0], 0xaa);

    klaw_mp_writer_init(&w, buf, sizeof buf);
    klaw_mp_mark m = klaw_mp_reserve_array(&w);
    klaw_mp_patch_array(&w, m, huge);
    assert_int_equal(klaw_mp_writer_finish(&w, NULL), KLAW_INVAL);
}

/* ---- reserve and patch ---------------------------------------------------- */

static void reserved_headers_are_patched_with_the_final_count(void **state)
{
    (void)state;
    uint8_t buf[64];
    klaw_mp_writer w;
    size_t len;
    klaw_mp_writer_init(&w, buf, sizeof buf);
    klaw_mp_mark outer = klaw_mp_reserve_array(&w);
    klaw_mp_mark map = klaw_mp_reserve_map(&w);
    klaw_mp_write_cstr(&w, "k");
    klaw_mp_write_uint(&w, 1);
    klaw_mp_patch_map(&w, map, 1);
    klaw_mp_mark str = klaw_mp_reserve_str(&w);
    size_t at = klaw_mp_writer_len(&w);
    klaw_mp_write_bytes(&w, "abc", 3);
    klaw_mp_patch_str(&w, str, klaw_mp_writer_len(&w) - at);
    klaw_mp_mark bin = klaw_mp_reserve_bin(&w);
    klaw_mp_write_bytes(&w, "\x01\x02", 2);
    klaw_mp_patch_bin(&w, bin, 2);
    klaw_mp_mark raw = klaw_mp_reserve(&w, 3);
    klaw_mp_patch_array(&w, outer, 4);
    klaw_mp_patch_bytes(&w, raw, "\xcd\x12\x34", 3);
    assert_int_equal(klaw_mp_writer_finish(&w, &len), KLAW_OK);
    assert_hex(buf, len,
               "dd 00 00 00 04"
               "df 00 00 00 01 a1 6b 01"
               "db 00 00 00 03 61 62 63"
               "c6 00 00 00 02 01 02"
               "cd 12 34");

    klaw_mp_reader r;
    uint32_t n;
    const char *s;
    const uint8_t *b;
    uint64_t u;
    klaw_mp_reader_init(&r, buf, len);
    assert_int_equal(klaw_mp_read_array(&r, &n), KLAW_OK);
    assert_int_equal(n, 4);
    assert_int_equal(klaw_mp_read_map(&r, &n), KLAW_OK);
    assert_int_equal(n, 1);
    assert_int_equal(klaw_mp_read_str(&r, &s, &n), KLAW_OK);
    assert_int_equal(klaw_mp_read_uint(&r, &u), KLAW_OK);
    assert_int_equal(klaw_mp_read_str(&r, &s, &n), KLAW_OK);
    assert_int_equal(n, 3);
    assert_memory_equal(s, "abc", 3);
    assert_int_equal(klaw_mp_read_bin(&r, &b, &n), KLAW_OK);
    assert_int_equal(n, 2);
    assert_int_equal(klaw_mp_read_uint(&r, &u), KLAW_OK);
    assert_int_equal(u, 0x1234);
    assert_int_equal(klaw_mp_reader_finish(&r), KLAW_OK);
}

static void patch_with_a_length_other_than_reserved_does_nothing(void **state)
{
    (void)state;
    uint8_t buf[8];
    klaw_mp_writer w;
    size_t len;
    memset(buf, 0xaa, sizeof buf);
    klaw_mp_writer_init(&w, buf, sizeof buf);
    klaw_mp_mark m = klaw_mp_reserve(&w, 2);
    klaw_mp_patch_bytes(&w, m, "xyz", 3);
    klaw_mp_patch_bytes(&w, m, "x", 1);
    assert_int_equal(klaw_mp_writer_finish(&w, &len), KLAW_OK);
    assert_int_equal(len, 2);
    assert_int_equal(buf[0], 0xaa);
    assert_int_equal(buf[1], 0xaa);
    klaw_mp_patch_bytes(&w, m, "xy", 2);
    assert_hex(buf, 2, "78 79");
}

/* ---- sticky overflow ------------------------------------------------------ */

/* One value that uses every writer call, reservations included. */
static void write_complex(klaw_mp_writer *w)
{
    static uint8_t blob[300];
    for (size_t i = 0; i < sizeof blob; i++)
        blob[i] = (uint8_t)i;
    klaw_mp_mark top = klaw_mp_reserve_array(w);
    size_t count = 0;
    klaw_mp_write_nil(w), count++;
    klaw_mp_write_bool(w, true), count++;
    klaw_mp_write_bool(w, false), count++;
    for (size_t i = 0; i < sizeof uint_cases / sizeof uint_cases[0]; i++)
        klaw_mp_write_uint(w, uint_cases[i].v), count++;
    for (size_t i = 0; i < sizeof int_cases / sizeof int_cases[0]; i++)
        klaw_mp_write_int(w, int_cases[i].v), count++;
    klaw_mp_write_float(w, 3.25f), count++;
    klaw_mp_write_double(w, -1e100), count++;
    klaw_mp_write_map(w, 3), count++;
    klaw_mp_write_cstr(w, "short");
    klaw_mp_write_str(w, (const char *)"0123456789012345678901234567890123456789", 40);
    klaw_mp_write_uint(w, 7);
    klaw_mp_write_bin(w, blob, 300);
    klaw_mp_write_array(w, 17);
    for (int i = 0; i < 17; i++)
        klaw_mp_write_int(w, -i);
    klaw_mp_write_nil(w);
    klaw_mp_write_ext(w, 9, blob, 4), count++;
    klaw_mp_write_ext(w, 9, blob, 3), count++;
    klaw_mp_write_ext(w, 9, blob, 256), count++;
    for (size_t i = 0; i < sizeof ts_cases / sizeof ts_cases[0]; i++)
        klaw_mp_write_timestamp(w, ts_cases[i].sec, ts_cases[i].nsec), count++;
    klaw_mp_mark s = klaw_mp_reserve_str(w);
    klaw_mp_write_bytes(w, "patched", 7);
    klaw_mp_patch_str(w, s, 7), count++;
    klaw_mp_mark raw = klaw_mp_reserve(w, 2);
    klaw_mp_patch_bytes(w, raw, "\xcc\xfe", 2), count++;
    klaw_mp_patch_array(w, top, count);
}

static void overflow_at_every_size_reports_toobig_with_the_full_size_and_writes_nothing_past_cap(void **state)
{
    (void)state;
    enum { CANARY = 32 };
    klaw_mp_writer w;
    size_t full_len;
    klaw_mp_writer_init(&w, NULL, 0);
    write_complex(&w);
    assert_int_equal(w.status, KLAW_TOOBIG);
    full_len = klaw_mp_writer_needed(&w);
    assert_true(full_len > 400);

    uint8_t *full = malloc(full_len);
    uint8_t *buf = malloc(full_len + CANARY);
    assert_non_null(full);
    assert_non_null(buf);
    klaw_mp_writer_init(&w, full, full_len);
    write_complex(&w);
    size_t len;
    assert_int_equal(klaw_mp_writer_finish(&w, &len), KLAW_OK);
    assert_int_equal(len, full_len);
    assert_int_equal(klaw_mp_validate(full, full_len, 0, 0, NULL), KLAW_OK);

    for (size_t cap = 0; cap <= full_len; cap++) {
        memset(buf, 0xa5, full_len + CANARY);
        klaw_mp_writer_init(&w, buf, cap);
        write_complex(&w);
        klaw_status st = klaw_mp_writer_finish(&w, &len);
        if (cap < full_len) {
            if (st != KLAW_TOOBIG)
                fail_msg("cap %zu: status %s, want KLAW_TOOBIG", cap, klaw_status_name(st));
            assert_int_equal(klaw_mp_writer_needed(&w), full_len);
        } else {
            assert_int_equal(st, KLAW_OK);
            assert_int_equal(len, full_len);
            assert_memory_equal(buf, full, full_len);
        }
        for (size_t i = cap; i < full_len + CANARY; i++)
            if (buf[i] != 0xa5)
                fail_msg("cap %zu: byte %zu past the buffer was written", cap, i);
        /* what was written inside the buffer is the encoding's prefix or
         * untouched (a value that did not fit is not written at all) */
        for (size_t i = 0; i < cap; i++)
            if (buf[i] != full[i] && buf[i] != 0xa5)
                fail_msg("cap %zu: byte %zu is %02x, neither the encoding's nor untouched", cap, i, buf[i]);
    }
    free(full);
    free(buf);
}

static void a_measuring_writer_counts_without_a_buffer(void **state)
{
    (void)state;
    klaw_mp_writer w;
    uint8_t dummy[4];
    klaw_mp_writer_init(&w, NULL, 1000); /* NULL buffer: capacity ignored */
    klaw_mp_write_cstr(&w, "abc");
    klaw_mp_write_uint(&w, 70000);
    assert_int_equal(klaw_mp_writer_finish(&w, NULL), KLAW_TOOBIG);
    assert_int_equal(klaw_mp_writer_needed(&w), 4 + 5);

    klaw_mp_writer_init(&w, dummy, 0);
    klaw_mp_write_nil(&w);
    assert_int_equal(klaw_mp_writer_finish(&w, NULL), KLAW_TOOBIG);
    assert_int_equal(klaw_mp_writer_needed(&w), 1);

    /* zero-length writes first: still a measuring writer, and no NULL
     * pointer is offset (clang's UBSan checks that) */
    klaw_mp_writer_init(&w, NULL, 0);
    assert_int_equal(klaw_mp_writer_finish(&w, NULL), KLAW_TOOBIG);
    klaw_mp_write_bytes(&w, "", 0);
    klaw_mp_mark m = klaw_mp_reserve(&w, 0);
    klaw_mp_patch_bytes(&w, m, "", 0);
    assert_int_equal(klaw_mp_writer_needed(&w), 0);
    klaw_mp_write_str(&w, "", 0);
    m = klaw_mp_reserve_array(&w);
    klaw_mp_patch_array(&w, m, 0);
    assert_int_equal(klaw_mp_writer_finish(&w, NULL), KLAW_TOOBIG);
    assert_int_equal(klaw_mp_writer_needed(&w), 1 + 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unsigned_integers_take_the_smallest_encoding_at_every_boundary),
        cmocka_unit_test(negative_integers_take_the_smallest_encoding_at_every_boundary),
        cmocka_unit_test(floats_keep_their_width_and_bits),
        cmocka_unit_test(nan_and_infinity_keep_their_bits),
        cmocka_unit_test(str_bin_array_map_headers_take_the_smallest_form_at_every_boundary),
        cmocka_unit_test(str_and_bin_carry_their_bytes),
        cmocka_unit_test(ext_uses_fixext_for_1_2_4_8_16_bytes_and_ext8_16_32_otherwise),
        cmocka_unit_test(ext_type_is_signed),
        cmocka_unit_test(timestamps_take_the_smallest_of_the_32_64_and_96_bit_forms),
        cmocka_unit_test(timestamp_nanoseconds_above_999999999_are_inval_and_write_nothing),
        cmocka_unit_test(the_first_error_sticks),
        cmocka_unit_test(lengths_beyond_32_bits_are_inval),
        cmocka_unit_test(reserved_headers_are_patched_with_the_final_count),
        cmocka_unit_test(patch_with_a_length_other_than_reserved_does_nothing),
        cmocka_unit_test(overflow_at_every_size_reports_toobig_with_the_full_size_and_writes_nothing_past_cap),
        cmocka_unit_test(a_measuring_writer_counts_without_a_buffer),
    };
    return cmocka_run_group_tests_name("mp_writer", tests, NULL, NULL);
}
