/*
 * test_alloc.c - klaw's codec hot paths make no heap allocation: encode,
 * full decode and header peek, and the schema layer's decode (map and
 * array_like forms, tags into an arena) and encode of the reference
 * payload, run through the same loops klaw-bench times
 * (bench/codec_cases.c), call malloc, calloc, realloc and free zero times.
 *
 * Counting: this executable defines malloc, calloc, realloc and free
 * itself; the dynamic linker binds every caller in the process to them
 * (the executable comes first in symbol lookup), and they count while
 * counting is on, then forward to the next definition (glibc's, or a
 * sanitizer runtime's) found with dlsym(RTLD_NEXT). dlsym itself may
 * allocate while it is being resolved, so the first few bytes come from a
 * small static arena.
 *
 * A counter that cannot count would make every test here pass, so each
 * test first proves it counts a deliberate malloc. If it does not, that is
 * a failure, except in a sanitizer build, where the runtime's own
 * interception may take precedence: there the test is skipped, saying so.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dlfcn.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "codec_cases.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer) || __has_feature(thread_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif
#ifndef UNDER_SANITIZER
#define UNDER_SANITIZER 0
#endif

/* ---- the counting allocator -------------------------------------------- */

/* volatile: the compiler knows what malloc is for and assumes it touches no
 * program memory, so it would fold these loads to the values stored before
 * a call and the counter would always read zero. */
static volatile struct {
    unsigned long mallocs, callocs, reallocs, frees;
} counts;
static volatile bool counting;

static void *(*next_malloc)(size_t);
static void *(*next_calloc)(size_t, size_t);
static void *(*next_realloc)(void *, size_t);
static void (*next_free)(void *);

/* Serves allocations made while dlsym resolves the functions above. */
static _Alignas(16) unsigned char boot[8192];
static size_t boot_used;
static bool resolving;

static bool from_boot(const void *p)
{
    return (const unsigned char *)p >= boot && (const unsigned char *)p < boot + sizeof boot;
}

static void *boot_alloc(size_t n)
{
    size_t at = (boot_used + 15) & ~(size_t)15;
    if (n > sizeof boot - at)
        abort();
    boot_used = at + n;
    return boot + at;
}

static void *lookup(const char *name)
{
    void *sym = dlsym(RTLD_NEXT, name);
    if (!sym)
        abort();
    return sym;
}

static void resolve(void)
{
    void *s;
    resolving = true;
    /* memcpy: ISO C has no conversion from void * to a function pointer */
    s = lookup("malloc");
    memcpy(&next_malloc, &s, sizeof s);
    s = lookup("calloc");
    memcpy(&next_calloc, &s, sizeof s);
    s = lookup("realloc");
    memcpy(&next_realloc, &s, sizeof s);
    s = lookup("free");
    memcpy(&next_free, &s, sizeof s);
    resolving = false;
}

void *malloc(size_t n)
{
    if (!next_malloc) {
        if (resolving)
            return boot_alloc(n);
        resolve();
    }
    if (counting)
        counts.mallocs++;
    return next_malloc(n);
}

void *calloc(size_t n, size_t size)
{
    if (!next_calloc) {
        if (resolving) {
            if (size && n > SIZE_MAX / size)
                return NULL;
            return boot_alloc(n * size); /* static memory starts zeroed */
        }
        resolve();
    }
    if (counting)
        counts.callocs++;
    return next_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
    if (!next_realloc) {
        if (resolving)
            return boot_alloc(n); /* only fresh allocations happen here */
        resolve();
    }
    if (counting)
        counts.reallocs++;
    if (from_boot(p)) {
        void *q = next_malloc(n);
        size_t have = (size_t)(boot + sizeof boot - (unsigned char *)p);
        if (q)
            memcpy(q, p, n < have ? n : have);
        return q;
    }
    return next_realloc(p, n);
}

void free(void *p)
{
    if (from_boot(p))
        return;
    if (!next_free) {
        if (resolving || !p)
            return;
        resolve();
    }
    if (counting)
        counts.frees++;
    next_free(p);
}

static void count_start(void)
{
    counts.mallocs = counts.callocs = counts.reallocs = counts.frees = 0;
    counting = true;
}

static void count_stop(void) { counting = false; }

static unsigned long counted(void) { return counts.mallocs + counts.callocs + counts.reallocs + counts.frees; }

/* Proves the counter counts (see the file comment); skips the calling test
 * only in a sanitizer build where it does not. */
static void require_working_counter(void)
{
    void *volatile p;
    void *volatile q;
    count_start();
    p = malloc(24);
    q = calloc(3, 8);
    p = realloc(p, 4096);
    free(p);
    free(q);
    count_stop();
    if (counts.mallocs == 1 && counts.callocs == 1 && counts.reallocs == 1 && counts.frees == 2)
        return;
    if (UNDER_SANITIZER) {
        print_message("malloc interposition does not work in this sanitizer build (counted %lu/%lu/%lu/%lu "
                      "of 1/1/1/2 deliberate calls); run test_alloc in a build without sanitizers\n",
                      counts.mallocs, counts.callocs, counts.reallocs, counts.frees);
        skip();
    }
    fail_msg("the malloc counter is broken: counted %lu mallocs, %lu callocs, %lu reallocs, %lu frees "
             "for 1, 1, 1, 2 deliberate calls",
             counts.mallocs, counts.callocs, counts.reallocs, counts.frees);
}

static void assert_nothing_allocated(const char *what)
{
    if (counted() != 0)
        fail_msg("%s: %lu mallocs, %lu callocs, %lu reallocs, %lu frees (want none)", what, counts.mallocs,
                 counts.callocs, counts.reallocs, counts.frees);
}

enum { ITERS = 100000 };

/* ---- tests ------------------------------------------------------------- */

static void the_counter_counts_deliberate_calls_here_and_in_bench_code(void **state)
{
    codec_frame f;
    (void)state;
    require_working_counter();
    assert_int_equal(counts.mallocs, 1);
    assert_int_equal(counts.frees, 2);

    /* Allocation in another translation unit (the bench's frame builder:
     * the pad buffer and the frame) is seen too. */
    count_start();
    klaw_status st = codec_frame_make(&f, 4096);
    count_stop();
    assert_int_equal(st, KLAW_OK);
    assert_int_equal(counts.mallocs, 2);
    codec_frame_free(&f);
}

static void encode_allocates_nothing(void **state)
{
    static uint8_t out[512];
    codec_frame f;
    (void)state;
    require_working_counter();
    assert_int_equal(codec_frame_make(&f, 0), KLAW_OK);
    codec_klaw_ctx c = {.env = f.env, .out = out, .out_cap = sizeof out};

    count_start();
    uint64_t sum = codec_klaw_encode_loop(&c, ITERS);
    count_stop();

    assert_int_equal(c.status, KLAW_OK);
    assert_int_equal(sum, (uint64_t)ITERS * f.len);
    assert_nothing_allocated("encode");
    codec_frame_free(&f);
}

static void full_decode_allocates_nothing(void **state)
{
    codec_frame f;
    (void)state;
    require_working_counter();
    assert_int_equal(codec_frame_make(&f, 0), KLAW_OK);
    codec_klaw_ctx c = {.frame = f.bytes, .frame_len = f.len};

    count_start();
    uint64_t sum = codec_klaw_decode_loop(&c, ITERS);
    count_stop();

    assert_int_equal(c.status, KLAW_OK);
    assert_int_equal(sum, (uint64_t)ITERS * codec_env_digest(&f.env));
    assert_nothing_allocated("decode");
    codec_frame_free(&f);
}

static void header_peek_allocates_nothing_at_any_payload_size(void **state)
{
    static const size_t sizes[] = {64, 4096, 65536, 1048576};
    (void)state;
    require_working_counter();
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        codec_frame f;
        codec_peek p;
        assert_int_equal(codec_frame_make(&f, sizes[i]), KLAW_OK);
        assert_int_equal(codec_klaw_peek(f.bytes, f.len, &p), KLAW_OK);
        assert_int_equal(p.payload_len, sizes[i]);
        codec_klaw_ctx c = {.frame = f.bytes, .frame_len = f.len};

        count_start();
        uint64_t sum = codec_klaw_peek_loop(&c, ITERS);
        count_stop();

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
    require_working_counter();
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

        count_start();
        uint64_t sum = codec_schema_decode_loop(&c, ITERS);
        count_stop();

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
    require_working_counter();
    for (size_t i = 0; i < sizeof FORMS / sizeof FORMS[0]; i++) {
        static uint8_t out[512]; /* the bench's room */
        uint8_t want[128];
        size_t want_len = 0;
        klaw_schema *s = NULL;
        codec_ref ref;
        codec_ref_reference(&ref);
        assert_int_equal(codec_ref_schema(FORMS[i], &s), KLAW_OK);
        codec_schema_ctx c = {.schema = s, .in = ref, .out = out, .out_cap = sizeof out};

        count_start();
        uint64_t sum = codec_schema_encode_loop(&c, ITERS);
        count_stop();

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
