/*
 * test_fanout_reader.c - a reader's tally (fanout.h, fanout_reader.c) under
 * at-least-once delivery (the bridge suite's JetStream rows): a frame that
 * comes twice is a duplicate, one that comes after a later one fills its
 * gap (not lost), one that never comes stays lost, and frames further back
 * than the window count as duplicates; under at-most-once a repeated
 * frame still fails the check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fanout.h"

enum { LEN = 64 };

static fanout_reader rd; /* large: not on the stack */

static bool take(uint64_t seq)
{
    uint8_t f[LEN];
    fanout_fill(f, LEN, seq, 0);
    fanout_stamp(f, 1);
    return fanout_take(&rd, f, LEN, 2);
}

/* What the suite's tally checks: every frame up to the last is delivered
 * or lost, none twice. */
static void assert_accounted(void) { assert_int_equal(rd.delivered + rd.lagged, rd.last); }

static void test_in_order_nothing_lost(void **state)
{
    (void)state;
    fanout_reader_init(&rd, LEN, false, true);
    for (uint64_t s = 1; s <= 10000; s++)
        assert_true(take(s));
    assert_int_equal(rd.delivered, 10000);
    assert_int_equal(rd.lagged + rd.dups + rd.late + rd.bad, 0);
    assert_true(fanout_reader_complete(&rd, 10000));
    assert_int_equal(fanout_reader_progress(&rd), 10000);
}

static void test_a_frame_again_is_a_duplicate(void **state)
{
    (void)state;
    fanout_reader_init(&rd, LEN, false, true);
    const uint64_t seqs[] = {1, 2, 3, 3, 2, 4, 1};
    for (size_t i = 0; i < sizeof seqs / sizeof seqs[0]; i++)
        take(seqs[i]);
    assert_int_equal(rd.delivered, 4);
    assert_int_equal(rd.dups, 3);
    assert_int_equal(rd.lagged + rd.late + rd.bad, 0);
    assert_true(fanout_reader_complete(&rd, 4));
    assert_accounted();
}

static void test_a_late_frame_fills_its_gap(void **state)
{
    (void)state;
    fanout_reader_init(&rd, LEN, false, true);
    take(1);
    take(2);
    take(5);
    assert_int_equal(rd.lagged, 2);
    assert_int_equal(rd.missing, 2);
    assert_false(fanout_reader_complete(&rd, 5));
    assert_int_equal(fanout_reader_progress(&rd), 4); /* the writer waits on */
    assert_true(take(3));
    assert_true(take(4));
    assert_false(take(4)); /* now a duplicate */
    take(6);
    assert_int_equal(rd.delivered, 6);
    assert_int_equal(rd.late, 2);
    assert_int_equal(rd.dups, 1);
    assert_int_equal(rd.lagged + rd.missing + rd.bad, 0);
    assert_true(fanout_reader_complete(&rd, 6));
    assert_accounted();
}

static void test_a_frame_that_never_comes_stays_lost(void **state)
{
    (void)state;
    fanout_reader_init(&rd, LEN, false, true);
    take(1);
    take(3);
    for (uint64_t s = 4; s <= 3 * FANOUT_LATE_WINDOW; s++)
        take(s);
    assert_int_equal(rd.lagged, 1);
    /* past the window it is no longer waited for, and still lost */
    assert_int_equal(rd.missing, 0);
    assert_true(fanout_reader_complete(&rd, 3 * FANOUT_LATE_WINDOW));
    assert_false(take(2)); /* too late to tell: counted as a duplicate */
    assert_int_equal(rd.dups, 1);
    assert_int_equal(rd.lagged, 1);
    assert_accounted();
}

static void test_a_gap_wider_than_the_window(void **state)
{
    (void)state;
    fanout_reader_init(&rd, LEN, false, true);
    const uint64_t far = 1 + 2 * FANOUT_LATE_WINDOW + 10;
    take(1);
    take(far);
    assert_int_equal(rd.lagged, far - 2);
    assert_int_equal(rd.missing, FANOUT_LATE_WINDOW - 1);
    assert_true(take(far - 1));                      /* in the window: late */
    assert_false(take(far - FANOUT_LATE_WINDOW - 1)); /* behind it          */
    assert_int_equal(rd.lagged, far - 3);
    assert_int_equal(rd.late, 1);
    assert_int_equal(rd.dups, 1);
    assert_accounted();
}

/* Frames shuffled within a short distance, some sent twice: every one is
 * delivered once, the copies are duplicates, nothing is lost. */
static void test_shuffled_with_copies(void **state)
{
    (void)state;
    enum { N = 20000 };
    static uint64_t order[N];
    uint64_t x = 88172645463325252u, copies = 0;
    for (uint64_t i = 0; i < N; i++)
        order[i] = i + 1;
    for (uint64_t i = 0; i + 1 < N; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        uint64_t j = i + x % 16;
        if (j < N) {
            uint64_t t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
    }
    fanout_reader_init(&rd, LEN, false, true);
    for (uint64_t i = 0; i < N; i++) {
        take(order[i]);
        if (order[i] % 7 == 0) {
            take(order[i]);
            copies++;
        }
    }
    assert_int_equal(rd.delivered, N);
    assert_int_equal(rd.dups, copies);
    assert_int_equal(rd.lagged + rd.missing + rd.bad, 0);
    assert_true(rd.late > 0);
    assert_true(fanout_reader_complete(&rd, N));
}

static void test_at_most_once_a_repeat_is_bad(void **state)
{
    (void)state;
    fanout_reader_init(&rd, LEN, false, false);
    take(1);
    take(3);
    assert_false(take(2));
    assert_int_equal(rd.bad, 1);
    assert_int_equal(rd.lagged, 1);
    assert_int_equal(rd.dups + rd.late, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order_nothing_lost),
        cmocka_unit_test(test_a_frame_again_is_a_duplicate),
        cmocka_unit_test(test_a_late_frame_fills_its_gap),
        cmocka_unit_test(test_a_frame_that_never_comes_stays_lost),
        cmocka_unit_test(test_a_gap_wider_than_the_window),
        cmocka_unit_test(test_shuffled_with_copies),
        cmocka_unit_test(test_at_most_once_a_repeat_is_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
