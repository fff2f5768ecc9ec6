/* test_schema_alloc.c - schema decode and encode make no heap allocation:
 * decoding every kind (arrays, maps and copies go to the caller's arena),
 * in both forms, on success and on each kind of error (the messages are
 * formatted into the caller's klaw_schema_error), and encoding, call
 * malloc, calloc, realloc and free zero times.
 *
 * One exception, by design and documented in klaw/schema.h: a str with a
 * `pattern` constraint is checked by the C library's regexec(), which may
 * allocate (glibc's does); the last test measures it and says so.
 *
 * How: this executable defines the four allocator functions
 * (tests/interpose.h); every caller in the process binds to them, libc's
 * own calls included, and they count the test thread's calls while
 * counting is on. Each test first proves the counter sees deliberate calls
 * (in a sanitizer build, whose runtime may take precedence, the test is
 * skipped instead).
 */
#include "interpose.h" /* defines malloc, calloc, realloc and free */
#include "schema_fixtures.h"
#include "schema_test_util.h"

static void start(void) { interpose_start(); }

static unsigned long stop(void)
{
    interpose_stop();
    return interpose_total(INTERPOSE_NALLOC);
}

/* ---- the tests ------------------------------------------------------------------------ */

static const uint8_t raw_value[] = {0x92, 0x01, 0xa1, 'x'};

static size_t all_frame(uint8_t *buf, size_t cap, const klaw_schema *s)
{
    static const uint8_t bin[] = {1, 2};
    Point pts[2] = {{3, 4}, {5, 6}};
    PriceEntry prices[2] = {{{"k", 1}, 1.5}, {{"AAPL", 4}, -2}};
    All a;
    memset(&a, 0, sizeof a);
    a.s = (klaw_str){"view", 4};
    a.sc = (klaw_str){"copy", 4};
    a.bin = (klaw_bytes){bin, 2};
    a.raw = (klaw_mp_raw){raw_value, sizeof raw_value};
    a.side = SIDE_BUY;
    a.level = LEVEL_LOW;
    a.pts = (klaw_array){pts, 2};
    a.prices = (klaw_map){prices, 2};
    a.act.which = 1;
    a.act.as.sell.qty = 3;
    a.has_maybe = true;
    klaw_mp_writer w;
    klaw_mp_writer_init(&w, buf, cap);
    assert_int_equal(klaw_schema_encode(s, &a, &w), KLAW_OK);
    return w.pos;
}

static void decode_and_encode_allocate_nothing(void **state)
{
    (void)state;
    interpose_require_allocator_counts("test_schema_alloc");
    const klaw_struct_desc *descs[] = {&all_desc, &all_array_desc};
    for (int k = 0; k < 2; k++) {
        klaw_schema *s = compile_ok(descs[k]);
        uint8_t buf[1024], out[1024];
        All a;
        klaw_arena arena;
        klaw_schema_error err;
        klaw_mp_writer w;
        size_t n = all_frame(buf, sizeof buf, s);
        start();
        for (int i = 0; i < 100; i++) {
            klaw_arena_init(&arena, test_arena_mem, sizeof test_arena_mem);
            assert_int_equal(klaw_schema_decode(s, buf, n, &a, &arena, 0, &err), KLAW_OK);
            klaw_mp_writer_init(&w, out, sizeof out);
            assert_int_equal(klaw_schema_encode(s, &a, &w), KLAW_OK);
        }
        unsigned long got = stop();
        assert_int_equal(w.pos, n);
        if (got)
            fail_msg("%s: %lu allocator calls for 100 decodes and encodes (want none)", descs[k]->name, got);
        klaw_schema_free(s);
    }
}

static void errors_allocate_nothing(void **state)
{
    (void)state;
    interpose_require_allocator_counts("test_schema_alloc");
    klaw_schema *s = compile_ok(&all_desc);
    uint8_t buf[1024];
    All a;
    klaw_arena arena;
    klaw_schema_error err;
    size_t n = all_frame(buf, sizeof buf, s);
    start();
    /* DECODE (truncated), VALIDATE (all errors), NOMEM (no arena) */
    klaw_arena_init(&arena, test_arena_mem, sizeof test_arena_mem);
    assert_int_equal(klaw_schema_decode(s, buf, n - 1, &a, &arena, 0, &err), KLAW_DECODE);
    assert_int_equal(klaw_schema_decode(s, buf, n, &a, NULL, 0, &err), KLAW_NOMEM);
    assert_true(buf[0] == 0xde && buf[3] == 0xa1 && buf[4] == 'b');
    buf[4] = 'c'; /* the first key "b" becomes "c": unknown, and b missing */
    assert_int_equal(klaw_schema_decode(s, buf, n, &a, &arena, KLAW_DECODE_ALL_ERRORS, &err), KLAW_VALIDATE);
    unsigned long got = stop();
    assert_string_equal(klaw_schema_error_message(&err), "Object missing required field `b` - at `$`");
    if (got)
        fail_msg("%lu allocator calls on the error paths (want none)", got);
    klaw_schema_free(s);
}

static void a_pattern_goes_through_regexec(void **state)
{
    (void)state;
    interpose_require_allocator_counts("test_schema_alloc");
    klaw_schema *s = compile_ok(&order_desc);
    uint8_t buf[256];
    Order o;
    size_t n = mp_json("{\"sym\":\"ABC\",\"qty\":1}", buf, sizeof buf);
    start();
    assert_int_equal(klaw_schema_decode(s, buf, n, &o, NULL, 0, NULL), KLAW_OK);
    unsigned long got = stop();
    /* glibc's regexec allocates its matching state; klaw itself does not.
     * Said here so a change in either is seen. */
    print_message("decoding a str with a pattern made %lu allocator calls (the C library's regexec)\n", got);
    klaw_schema_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decode_and_encode_allocate_nothing),
        cmocka_unit_test(errors_allocate_nothing),
        cmocka_unit_test(a_pattern_goes_through_regexec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
