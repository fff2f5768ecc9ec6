/*
 * test_report.c - klaw-bench's numbers for people (report.h, report.c):
 * rates, sizes, times and plain numbers with three significant digits and
 * a prefix, at the edges where the prefix changes, at zero, for huge,
 * negative and non-finite values, and in a buffer too short.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "report.h"

static char buf[REPORT_NUM];

#define RATE(v) report_rate(buf, sizeof buf, (v))
#define BYTES(v) report_bytes(buf, sizeof buf, (v))
#define NS(v) report_ns(buf, sizeof buf, (v))
#define SI(v) report_si(buf, sizeof buf, (v))

/* 17.4 M/s, 812 k/s: three digits, the prefix that leaves the number at
 * least 1, trailing zeros dropped. */
static void test_rate_takes_si_prefixes(void **state)
{
    (void)state;
    assert_string_equal(RATE(17400000), "17.4 M/s");
    assert_string_equal(RATE(812345), "812 k/s");
    assert_string_equal(RATE(1234567), "1.23 M/s");
    assert_string_equal(RATE(12345678), "12.3 M/s");
    assert_string_equal(RATE(2e9), "2 G/s");
    assert_string_equal(RATE(1500), "1.5 k/s");
}

/* No prefix below 1000, and no space before "/s" then. */
static void test_rate_edges(void **state)
{
    (void)state;
    assert_string_equal(RATE(0), "0/s");
    assert_string_equal(RATE(999), "999/s");
    assert_string_equal(RATE(1000), "1 k/s");
    assert_string_equal(RATE(1023), "1.02 k/s");
    assert_string_equal(RATE(1024), "1.02 k/s");
    assert_string_equal(RATE(0.5), "0.5/s");
    assert_string_equal(RATE(12.26), "12.3/s");
    /* rounding up to the next prefix takes it, never "1000 k/s" */
    assert_string_equal(RATE(999.7), "1 k/s");
    assert_string_equal(RATE(999999), "1 M/s");
    assert_string_equal(RATE(9999), "10 k/s");
    assert_string_equal(RATE(99990), "100 k/s");
}

/* 4096 -> 4 KiB: binary prefixes, bytes below 1024 as they are. */
static void test_bytes_take_binary_prefixes(void **state)
{
    (void)state;
    assert_string_equal(BYTES(0), "0 B");
    assert_string_equal(BYTES(64), "64 B");
    assert_string_equal(BYTES(999), "999 B");
    assert_string_equal(BYTES(1000), "1000 B");
    assert_string_equal(BYTES(1023), "1023 B");
    assert_string_equal(BYTES(1024), "1 KiB");
    assert_string_equal(BYTES(1536), "1.5 KiB");
    assert_string_equal(BYTES(4096), "4 KiB");
    assert_string_equal(BYTES(65536), "64 KiB");
    assert_string_equal(BYTES(1048576), "1 MiB");
    assert_string_equal(BYTES(1048575), "1 MiB");
    assert_string_equal(BYTES(1073741824.0 * 3), "3 GiB");
}

/* ns, us, ms, s. */
static void test_times(void **state)
{
    (void)state;
    assert_string_equal(NS(0), "0 ns");
    assert_string_equal(NS(12.34), "12.3 ns");
    assert_string_equal(NS(999), "999 ns");
    assert_string_equal(NS(1000), "1 us");
    assert_string_equal(NS(1234), "1.23 us");
    assert_string_equal(NS(2.5e6), "2.5 ms");
    assert_string_equal(NS(3e9), "3 s");
    /* past seconds the number grows */
    assert_string_equal(NS(1.2e12), "1200 s");
}

/* Past the largest prefix, very large, negative, and not finite. */
static void test_huge_negative_and_not_finite(void **state)
{
    (void)state;
    assert_string_equal(RATE(1.8e19), "18 E/s");
    assert_string_equal(BYTES(18446744073709551615.0), "16 EiB");
    assert_string_equal(RATE(1e21), "1000 E/s");
    assert_string_equal(RATE(1e300), "1e+282 E/s");
    assert_string_equal(RATE(-1500), "-1.5 k/s");
    assert_string_equal(SI(-0.001), "0");
    assert_string_equal(RATE(NAN), "-");
    assert_string_equal(BYTES(INFINITY), "-");
    assert_string_equal(SI(812345), "812 k");
    assert_string_equal(SI(999), "999");
}

/* report_value picks the form by the unit a row was emitted in. */
static void test_value_by_unit(void **state)
{
    (void)state;
    assert_string_equal(report_value(buf, sizeof buf, 17400000, "frames/s"), "17.4 M/s");
    assert_string_equal(report_value(buf, sizeof buf, 812000, "ops/s"), "812 k/s");
    assert_string_equal(report_value(buf, sizeof buf, 1234, "ns"), "1.23 us");
    assert_string_equal(report_value(buf, sizeof buf, 4096, "bytes"), "4 KiB");
    assert_string_equal(report_value(buf, sizeof buf, 1200000, "frames"), "1.2 M frames");
    assert_string_equal(report_value(buf, sizeof buf, 7, ""), "7");
}

/* A short buffer is cut, never overrun. */
static void test_short_buffer(void **state)
{
    (void)state;
    char small[5];
    memset(small, 'x', sizeof small);
    assert_ptr_equal(report_rate(small, 4, 17400000), small);
    assert_string_equal(small, "17.");
    assert_int_equal(small[4], 'x');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rate_takes_si_prefixes),
        cmocka_unit_test(test_rate_edges),
        cmocka_unit_test(test_bytes_take_binary_prefixes),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_huge_negative_and_not_finite),
        cmocka_unit_test(test_value_by_unit),
        cmocka_unit_test(test_short_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
