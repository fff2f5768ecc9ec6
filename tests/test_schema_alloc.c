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
 * How: this executable defines the four allocator functions; the dynamic
 * linker binds every caller in the process to them, libc's own calls
 * included. They count while counting is on and forward to the next
 * definition (dlsym(RTLD_NEXT)). While dlsym is being resolved it may
 * allocate, so those first requests are served from a static block. Each
 * test first proves the counter sees a deliberate malloc (in a sanitizer
 * build, whose runtime may take precedence, the test is skipped instead).
 */
#include <dlfcn.h>
#include <stdbool.h>

#include "schema_fixtures.h"
#include "schema_test_util.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

/* ---- a counting allocator ------------------------------------------------------ */

static volatile unsigned long n_alloc; /* volatile: malloc is opaque to the optimizer */
static volatile bool on;

static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void (*real_free)(void *);

static _Alignas(16) unsigned char early[4096];
static size_t early_used;
static bool in_dlsym;

static void *early_alloc(size_t n)
{
    size_t at = (early_used + 15) & ~(size_t)15;
    if (n > sizeof early - at)
        abort();
    early_used = at + n;
    return early + at;
}

static bool is_early(const void *p)
{
    return (const unsigned char *)p >= early && (const unsigned char *)p < early + sizeof early;
}

static void bind_real(void)
{
    void *p;
    in_dlsym = true;
    p = dlsym(RTLD_NEXT, "malloc");
    memcpy(&real_malloc, &p, sizeof p);
    p = dlsym(RTLD_NEXT, "calloc");
    memcpy(&real_calloc, &p, sizeof p);
    p = dlsym(RTLD_NEXT, "realloc");
    memcpy(&real_realloc, &p, sizeof p);
    p = dlsym(RTLD_NEXT, "free");
    memcpy(&real_free, &p, sizeof p);
    in_dlsym = false;
    if (!real_malloc || !real_calloc || !real_realloc || !real_free)
        abort();
}

void *malloc(size_t n)
{
    if (!real_malloc) {
        if (in_dlsym)
            return early_alloc(n);
        bind_real();
    }
    if (on)
        n_alloc++;
    return real_malloc(n);
}

void *calloc(size_t n, size_t size)
{
    if (!real_calloc) {
        if (in_dlsym)
            return size && n > SIZE_MAX / size ? NULL : early_alloc(n * size);
        bind_real();
    }
    if (on)
        n_alloc++;
    return real_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
    if (!real_realloc) {
        if (in_dlsym)
            return early_alloc(n);
        bind_real();
    }
    if (on)
        n_alloc++;
    if (is_early(p)) {
        void *q = real_malloc(n);
        size_t room = (size_t)(early + sizeof early - (unsigned char *)p);
        if (q)
            memcpy(q, p, n < room ? n : room);
        return q;
    }
    return real_realloc(p, n);
}

void free(void *p)
{
    if (!p || is_early(p))
        return;
    if (!real_free)
        bind_real();
    if (on)
        n_alloc++;
    real_free(p);
}

static void start(void)
{
    n_alloc = 0;
    on = true;
}

static unsigned long stop(void)
{
    on = false;
    return n_alloc;
}

static void counter_must_work(void)
{
    void *volatile p;
    start();
    p = malloc(32);
    free(p);
    if (stop() == 2)
        return;
    if (SANITIZED) {
        print_message("malloc interposition does not work under this sanitizer; run in a plain build\n");
        skip();
    }
    fail_msg("the allocation counter does not count");
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
    counter_must_work();
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
    counter_must_work();
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
    counter_must_work();
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
