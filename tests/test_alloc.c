/*
 * test_alloc.c - klaw's codec hot paths make no heap allocation: encode,
 * full decode and header peek, and the schema layer's decode (map and
 * array_like forms, tags into an arena) and encode of the reference
 * payload, run through the same loops klaw-bench times
 * (bench/codec_cases.c), call malloc, calloc, realloc and free zero times.
 *
 * Counting: this executable defines malloc, calloc, realloc and free
 * (tests/interpose.h); every caller in the process binds to them, and they
 * count the test thread's calls while counting is on, then forward to
 * libc's (or a sanitizer runtime's).
 *
 * A counter that cannot count would make every test here pass, so each
 * test first proves it counts deliberate calls. If it does not, that is a
 * failure, except in a sanitizer build, where the runtime's own
 * interception may take precedence: there the test is skipped, saying so.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "codec_cases.h"
#include "interpose.h" /* defines malloc, calloc, realloc and free */

/* ---- what is counted ------------------------------------------------------ */

static void assert_nothing_allocated(const char *what)
{
    if (interpose_total(INTERPOSE_NALLOC) != 0) {
        char got[256];
        interpose_describe(got, sizeof got, INTERPOSE_NAMES, INTERPOSE_NALLOC);
        fail_msg("%s: %s (want none)", what, got);
    }
}

enum { ITERS = 100000 };

/* ---- tests ------------------------------------------------------------- */

static void the_counter_counts_deliberate_calls_here_and_in_bench_code(void **state)
{
    codec_frame f;
    (void)state;
    interpose_require_allocator_counts("test_alloc");
    assert_int_equal(interpose_counts[INTERPOSE_MALLOC], 1);
    assert_int_equal(interpose_counts[INTERPOSE_FREE], 2);

    /* Allocation in another translation unit (the bench's frame builder:
     * the pad buffer and the frame) is seen too. */
    interpose_start();
    klaw_status st = codec_frame_make(&f, 4096);
    interpose_stop();
    assert_int_equal(st, KLAW_OK);
    assert_int_equal(interpose_counts[INTERPOSE_MALLOC], 2);
    codec_frame_free(&f);
}

static void encode_allocates_nothing(void **state)
{
    static uint8_t out[512];
    codec_frame f;
    (void)state;
    interpose_require_allocator_counts("test_alloc");
    assert_int_equal(codec_frame_make(&f, 0), KLAW_OK);
    codec_klaw_ctx c = {.env = f.env, .out = out, .out_cap = sizeof out};

    interpose_start();
    uint64_t sum = codec_klaw_encode_loop(&c, ITERS);
    interpose_stop();

    assert_int_equal(c.status, KLAW_OK);
    assert_int_equal(sum, (uint64_t)ITERS * f.len);
    assert_nothing_allocated("encode");
    codec_frame_free(&f);
}

static void full_decode_allocates_nothing(void **state)
{
    codec_frame f;
    (void)state;
    interpose_require_allocator_counts("test_alloc");
    assert_int_equal(codec_frame_make(&f, 0), KLAW_OK);
    codec_klaw_ctx c = {.frame = f.bytes, .frame_len = f.len};

    interpose_start();
    uint64_t sum = codec_klaw_decode_loop(&c, ITERS);
    interpose_stop();

    assert_int_equal(c.status, KLAW_OK);
    assert_int_equal(sum, (uint64_t)ITERS * codec_env_digest(&f.env));
    assert_nothing_allocated("decode");
    codec_frame_free(&f);
}

static void header_peek_allocates_nothing_at_any_payload_size(void **state)
{
    static const size_t sizes[] = {64, 4096, 65536, 1048576};
    (void)state;
    interpose_require_allocator_counts("test_alloc");
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        codec_frame f;
        codec_peek p;
        assert_int_equal(codec_frame_make(&f, sizes[i]), KLAW_OK);
        assert_int_equal(codec_klaw_peek(f.bytes, f.len, &p), KLAW_OK);
        assert_int_equal(p.payload_len, sizes[i]);
        codec_klaw_ctx c = {.frame = f.bytes, .frame_len = f.len};

        interpose_start();
        uint64_t sum = codec_klaw_peek_loop(&c, ITERS);
        interpose_stop();

        assert_int_equal(c.status, KLAW_OK);
        assert_int_equal(sum, (uint64_t)ITERS * codec_peek_digest(&p));
        assert_nothing_allocated("peek");
        codec_frame_free(&f);
    }
}

static const codec_form FORMS[] = {CODEC_FORM_MAP, CODEC_FORM_ARRAY_LIKE};

static void schema_decode_allocates_nothing_in_either_form(void **state)
{
    (void)state;
    interpose_require_allocator_counts("test_alloc");
    for (size_t i = 0; i < sizeof FORMS / sizeof FORMS[0]; i++) {
        static _Alignas(16) uint8_t arena_mem[256];
        uint8_t payload[128];
        size_t len = 0;
        klaw_schema *s = NULL;
        codec_ref ref;
        codec_ref_reference(&ref);
        assert_int_equal(codec_ref_schema(FORMS[i], &s), KLAW_OK);
        assert_int_equal(codec_ref_payload(FORMS[i], ref.id, payload, sizeof payload, &len), KLAW_OK);
        codec_schema_ctx c = {.schema = s, .payload = payload, .payload_len = len};
        klaw_arena_init(&c.arena, arena_mem, sizeof arena_mem);

        interpose_start();
        uint64_t sum = codec_schema_decode_loop(&c, ITERS);
        interpose_stop();

        assert_int_equal(c.status, KLAW_OK);
        assert_int_equal(sum, (uint64_t)ITERS * codec_ref_digest(&ref));
        /* the tags really went into the arena (reset every frame) */
        assert_int_equal(c.last.tags.len, 2);
        assert_ptr_equal(c.last.tags.items, arena_mem);
        assert_nothing_allocated(FORMS[i] == CODEC_FORM_MAP ? "schema decode, map" : "schema decode, array_like");
        klaw_schema_free(s);
    }
}

static void schema_encode_allocates_nothing_in_either_form(void **state)
{
    (void)state;
    interpose_require_allocator_counts("test_alloc");
    for (size_t i = 0; i < sizeof FORMS / sizeof FORMS[0]; i++) {
        static uint8_t out[512]; /* the bench's room */
        uint8_t want[128];
        size_t want_len = 0;
        klaw_schema *s = NULL;
        codec_ref ref;
        codec_ref_reference(&ref);
        assert_int_equal(codec_ref_schema(FORMS[i], &s), KLAW_OK);
        codec_schema_ctx c = {.schema = s, .in = ref, .out = out, .out_cap = sizeof out};

        interpose_start();
        uint64_t sum = codec_schema_encode_loop(&c, ITERS);
        interpose_stop();

        assert_int_equal(c.status, KLAW_OK);
        /* the last operation wrote id + ITERS - 1, at the same width */
        assert_int_equal(codec_ref_payload(FORMS[i], ref.id + ITERS - 1, want, sizeof want, &want_len), KLAW_OK);
        assert_int_equal(sum, (uint64_t)ITERS * want_len);
        assert_int_equal(c.out_len, want_len);
        assert_memory_equal(out, want, want_len);
        assert_nothing_allocated(FORMS[i] == CODEC_FORM_MAP ? "schema encode, map" : "schema encode, array_like");
        klaw_schema_free(s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_counter_counts_deliberate_calls_here_and_in_bench_code),
        cmocka_unit_test(encode_allocates_nothing),
        cmocka_unit_test(full_decode_allocates_nothing),
        cmocka_unit_test(header_peek_allocates_nothing_at_any_payload_size),
        cmocka_unit_test(schema_decode_allocates_nothing_in_either_form),
        cmocka_unit_test(schema_encode_allocates_nothing_in_either_form),
    };
    return cmocka_run_group_tests_name("alloc", tests, NULL, NULL);
}
