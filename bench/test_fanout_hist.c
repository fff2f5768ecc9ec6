/*
 * test_fanout_hist.c - the fanout suite's latency histogram (fanout.h,
 * fanout_hist.c): every value lands in the one bucket whose bounds hold it,
 * within the promised relative error; quantiles, maximum, merging and the
 * empty and overflow cases.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fanout.h"

/* The lowest value of bucket i (one above the previous bucket's highest). */
static uint64_t bucket_low(unsigned i) { return i == 0 ? 0 : fanout_hist_bucket_high(i - 1) + 1; }

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Buckets tile [0, 2^41) with no gap or overlap, each no wider than 1/32
 * of its lowest value (exact below 32). */
static void test_buckets_tile_the_range(void **state)
{
    (void)state;
    for (unsigned i = 0; i + 1 < FANOUT_HIST_BUCKETS; i++) {
        uint64_t lo = bucket_low(i), hi = fanout_hist_bucket_high(i);
        assert_true(hi >= lo);
        if (lo < FANOUT_HIST_SUB)
            assert_int_equal(hi, lo);
        else
            assert_true((hi - lo + 1) * FANOUT_HIST_SUB <= lo);
        assert_int_equal(fanout_hist_index(lo), i);
        assert_int_equal(fanout_hist_index(hi), i);
    }
    assert_int_equal(fanout_hist_bucket_high(FANOUT_HIST_BUCKETS - 1), (UINT64_C(1) << 41) - 1);
}

/* Any value's bucket holds it: exhaustively to 2^20, then at random and at
 * every power of two and its neighbours. */
static void test_value_in_its_bucket(void **state)
{
    (void)state;
    for (uint64_t v = 0; v < (1u << 20); v++) {
        unsigned i = fanout_hist_index(v);
        assert_true(bucket_low(i) <= v && v <= fanout_hist_bucket_high(i));
    }
    uint64_t s = 0x9E3779B97F4A7C15u;
    for (int k = 0; k < 200000; k++) {
        uint64_t v = next_rand(&s) >> (23 + k % 41); /* every magnitude up to 2^41 */
        unsigned i = fanout_hist_index(v);
        assert_true(bucket_low(i) <= v && v <= fanout_hist_bucket_high(i));
    }
    for (unsigned e = 1; e < 41; e++) {
        for (int d = -1; d <= 1; d++) {
            uint64_t v = (UINT64_C(1) << e) + (uint64_t)(int64_t)d;
            unsigned i = fanout_hist_index(v);
            assert_true(bucket_low(i) <= v && v <= fanout_hist_bucket_high(i));
        }
    }
}

/* Values past 2^41 ns go to the last bucket; the quantile there is the
 * maximum seen, not a bucket bound below it. */
static void test_overflow_bucket(void **state)
{
    (void)state;
    static fanout_hist h;
    memset(&h, 0, sizeof h);
    assert_int_equal(fanout_hist_index(UINT64_MAX), FANOUT_HIST_BUCKETS - 1);
    assert_int_equal(fanout_hist_index(UINT64_C(1) << 45), FANOUT_HIST_BUCKETS - 1);
    fanout_hist_add(&h, UINT64_C(1) << 45);
    assert_int_equal(fanout_hist_quantile(&h, 0.5), UINT64_C(1) << 45);
}

/* Quantiles of known distributions, within the bucket error; the maximum
 * exact; an empty histogram says 0. */
static void test_quantiles(void **state)
{
    (void)state;
    static fanout_hist h;
    memset(&h, 0, sizeof h);
    assert_int_equal(fanout_hist_quantile(&h, 0.99), 0);

    for (uint64_t v = 1; v <= 100000; v++)
        fanout_hist_add(&h, v);
    assert_int_equal(h.n, 100000);
    assert_int_equal(h.max, 100000);
    const double qs[] = {0.5, 0.9, 0.99, 0.999, 1.0};
    for (size_t k = 0; k < sizeof qs / sizeof qs[0]; k++) {
        double want = qs[k] * 100000, got = (double)fanout_hist_quantile(&h, qs[k]);
        assert_true(got >= want);                 /* the bucket's upper bound */
        assert_true(got <= want * (1 + 1.0 / 32)); /* within one bucket      */
    }
    assert_int_equal(fanout_hist_quantile(&h, 1.0), 100000);

    /* 990 fast samples and 10 slow ones: p99 is fast, p99.9 is slow */
    memset(&h, 0, sizeof h);
    for (int i = 0; i < 990; i++)
        fanout_hist_add(&h, 100);
    for (int i = 0; i < 10; i++)
        fanout_hist_add(&h, 5000000);
    /* the upper bound of 100's bucket: [100, 101] */
    assert_int_equal(fanout_hist_quantile(&h, 0.5), 101);
    assert_int_equal(fanout_hist_quantile(&h, 0.99), 101);
    assert_int_equal(fanout_hist_quantile(&h, 0.999), 5000000); /* capped at the max */
    assert_int_equal(h.max, 5000000);
}

/* Merging adds counts and keeps the larger maximum: the same quantiles as
 * one histogram fed everything. */
static void test_merge(void **state)
{
    (void)state;
    static fanout_hist a, b, all;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    memset(&all, 0, sizeof all);
    uint64_t s = 12345;
    for (int i = 0; i < 50000; i++) {
        uint64_t v = next_rand(&s) % 1000000;
        fanout_hist_add(i % 3 ? &a : &b, v);
        fanout_hist_add(&all, v);
    }
    fanout_hist_merge(&a, &b);
    assert_int_equal(a.n, all.n);
    assert_int_equal(a.max, all.max);
    assert_memory_equal(a.count, all.count, sizeof a.count);
    assert_int_equal(fanout_hist_quantile(&a, 0.999), fanout_hist_quantile(&all, 0.999));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buckets_tile_the_range),
        cmocka_unit_test(test_value_in_its_bucket),
        cmocka_unit_test(test_overflow_bucket),
        cmocka_unit_test(test_quantiles),
        cmocka_unit_test(test_merge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
