/*
 * interpose.h - counting the calls a test's code makes into the C library,
 * by defining the functions in the test executable: malloc, calloc,
 * realloc and free here, and whatever else the test lists in
 * INTERPOSE_ALSO before including this header (test_hotpath.c adds
 * syscall, clock_gettime, the mutex locks and /proc reads).
 *
 * Why it sees the library's calls: the executable comes first in symbol
 * lookup, so the dynamic linker binds every caller in the process to its
 * definitions (libc's own calls included), and libklaw is linked in
 * statically, so its calls bind to them at link time. Each definition
 * counts, then forwards to the next definition (libc's, or a sanitizer
 * runtime's) found with dlsym(RTLD_NEXT).
 *
 * Resolving: the first call of any of them resolves all of them at once
 * (before main, through the dynamic linker's and libc's own first
 * allocations, on one thread). dlsym may allocate while it resolves; those
 * requests are served from a small static arena, and a pointer from it is
 * never passed on to the next free or realloc.
 *
 * Counting: per thread, and only while that thread has counting on
 * (interpose_start .. interpose_stop), so cmocka and other threads do not
 * disturb a measurement. The counters and the flag are volatile: the
 * compiler knows what malloc and free are for and assumes they touch no
 * program memory, so it would fold a load of a counter to the value stored
 * before the call (and drop the store that turns counting on).
 *
 * A counter that cannot count would make every test that uses it pass, so
 * a test first proves it counts deliberate calls (interpose_require_*). If
 * it does not, that is a failure, except in a sanitizer build, where the
 * runtime's own interception may take precedence: there the test is
 * skipped, saying so.
 *
 * Include it from one translation unit per executable (it defines malloc).
 */
#ifndef KLAW_TEST_INTERPOSE_H
#define KLAW_TEST_INTERPOSE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sanitize.h" /* KLAW_ASAN, KLAW_TSAN (src/sanitize.h) */

#if defined(KLAW_ASAN) || defined(KLAW_TSAN)
#define INTERPOSE_UNDER_SANITIZER 1
#else
#define INTERPOSE_UNDER_SANITIZER 0
#endif

/* The interposed functions run before any sanitizer runtime is ready (the
 * dynamic linker and the runtime's own start allocate): keep
 * ThreadSanitizer's instrumentation out of them. */
#define INTERPOSE_NO_TSAN KLAW_NO_TSAN

#define INTERPOSE_UNUSED __attribute__((unused))

/* X(name, return type, (parameters)): more functions to resolve with the
 * allocator's; the test defines them, calling next_<name>. */
#ifndef INTERPOSE_ALSO
#define INTERPOSE_ALSO(X)
#endif

/* ---- the counters ---------------------------------------------------------- */

/* The allocator's counters; a test numbers its own from INTERPOSE_NALLOC. */
enum {
    INTERPOSE_MALLOC,
    INTERPOSE_CALLOC,
    INTERPOSE_REALLOC,
    INTERPOSE_FREE,
    INTERPOSE_NALLOC,
    INTERPOSE_MAX_COUNTERS = 16
};

static _Thread_local volatile unsigned long interpose_counts[INTERPOSE_MAX_COUNTERS];
static _Thread_local volatile bool interpose_counting;

INTERPOSE_NO_TSAN static inline void interpose_count(int what)
{
    if (interpose_counting)
        interpose_counts[what]++;
}

INTERPOSE_UNUSED static void interpose_start(void)
{
    for (int i = 0; i < INTERPOSE_MAX_COUNTERS; i++)
        interpose_counts[i] = 0;
    interpose_counting = true;
}

INTERPOSE_UNUSED static void interpose_stop(void) { interpose_counting = false; }

/* The sum of counters [0, n). */
INTERPOSE_UNUSED static unsigned long interpose_total(int n)
{
    unsigned long sum = 0;
    for (int i = 0; i < n; i++)
        sum += interpose_counts[i];
    return sum;
}

/* "malloc 1, calloc 0, ..." for counters [0, n) named by names. */
INTERPOSE_UNUSED static void interpose_describe(char *buf, size_t size, const char *const *names, int n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && used < size; i++) {
        int k = snprintf(buf + used, size - used, "%s%s %lu", i ? ", " : "", names[i], interpose_counts[i]);
        if (k < 0)
            break;
        used += (size_t)k;
    }
}

/* ---- finding the next definitions -------------------------------------------- */

#define INTERPOSE_ALLOCATOR(X)                                                                                         \
    X(malloc, void *, (size_t))                                                                                        \
    X(calloc, void *, (size_t, size_t))                                                                                \
    X(realloc, void *, (void *, size_t))                                                                               \
    X(free, void, (void *))

/* next_malloc, ...: the definitions these forward to */
#define INTERPOSE_DECLARE_NEXT(name, ret, params) static ret(*next_##name) params;
INTERPOSE_ALLOCATOR(INTERPOSE_DECLARE_NEXT)
INTERPOSE_ALSO(INTERPOSE_DECLARE_NEXT)
#undef INTERPOSE_DECLARE_NEXT

/* Serves allocations made while dlsym resolves the functions above. */
static _Alignas(16) unsigned char interpose_boot[8192];
static size_t interpose_boot_used;
static _Atomic bool interpose_resolved;
static bool interpose_resolving;

INTERPOSE_NO_TSAN static bool interpose_from_boot(const void *p)
{
    const unsigned char *b = interpose_boot;
    return (const unsigned char *)p >= b && (const unsigned char *)p < b + sizeof interpose_boot;
}

INTERPOSE_NO_TSAN static void *interpose_boot_alloc(size_t n)
{
    size_t at = (interpose_boot_used + 15) & ~(size_t)15;
    if (n > sizeof interpose_boot - at)
        abort();
    interpose_boot_used = at + n;
    return interpose_boot + at;
}

/* next_<name> = the next definition of name, or abort. An X-macro
 * argument: it brings its own semicolon. memcpy: ISO C has no conversion
 * from void * to a function pointer. */
#define INTERPOSE_LOOKUP(name, ret, params)                                                                            \
    do {                                                                                                               \
        void *s_ = dlsym(RTLD_NEXT, #name);                                                                            \
        if (!s_)                                                                                                       \
            abort();                                                                                                   \
        memcpy(&next_##name, &s_, sizeof s_);                                                                          \
    } while (0);

INTERPOSE_NO_TSAN static void interpose_resolve(void)
{
    interpose_resolving = true;
    INTERPOSE_ALLOCATOR(INTERPOSE_LOOKUP)
    INTERPOSE_ALSO(INTERPOSE_LOOKUP)
    interpose_resolving = false;
    /* pairs with the acquire in interpose_ready() */
    atomic_store_explicit(&interpose_resolved, true, memory_order_release);
}

/* True once the next definitions are known; false only inside dlsym, while
 * they are being resolved (allocate from the boot arena then). */
INTERPOSE_NO_TSAN static inline bool interpose_ready(void)
{
    /* pairs with the release in interpose_resolve() */
    if (atomic_load_explicit(&interpose_resolved, memory_order_acquire))
        return true;
    if (interpose_resolving)
        return false;
    interpose_resolve();
    return true;
}

/* ---- the allocator ----------------------------------------------------------- */

INTERPOSE_NO_TSAN void *malloc(size_t n)
{
    if (!interpose_ready())
        return interpose_boot_alloc(n);
    interpose_count(INTERPOSE_MALLOC);
    return next_malloc(n);
}

INTERPOSE_NO_TSAN void *calloc(size_t n, size_t size)
{
    if (!interpose_ready()) {
        if (size && n > SIZE_MAX / size)
            return NULL;
        return interpose_boot_alloc(n * size); /* static memory starts zeroed */
    }
    interpose_count(INTERPOSE_CALLOC);
    return next_calloc(n, size);
}

INTERPOSE_NO_TSAN void *realloc(void *p, size_t n)
{
    if (!interpose_ready())
        return interpose_boot_alloc(n); /* only fresh allocations happen here */
    interpose_count(INTERPOSE_REALLOC);
    if (interpose_from_boot(p)) {
        void *q = next_malloc(n);
        size_t have = (size_t)(interpose_boot + sizeof interpose_boot - (unsigned char *)p);
        if (q)
            memcpy(q, p, n < have ? n : have);
        return q;
    }
    return next_realloc(p, n);
}

INTERPOSE_NO_TSAN void free(void *p)
{
    if (!p || interpose_from_boot(p))
        return;
    if (!interpose_ready())
        return;
    interpose_count(INTERPOSE_FREE);
    next_free(p);
}

/* ---- proving the counters count ------------------------------------------------ */

/* With counting on: one malloc, one calloc, one realloc and two frees,
 * which must count 1, 1, 1, 2. */
INTERPOSE_UNUSED static void interpose_deliberate_allocations(void)
{
    void *volatile p;
    void *volatile q;
    p = malloc(24);
    q = calloc(3, 8);
    p = realloc(p, 4096);
    free(p);
    free(q);
}

INTERPOSE_UNUSED static bool interpose_allocations_counted(void)
{
    return interpose_counts[INTERPOSE_MALLOC] == 1 && interpose_counts[INTERPOSE_CALLOC] == 1 &&
           interpose_counts[INTERPOSE_REALLOC] == 1 && interpose_counts[INTERPOSE_FREE] == 2;
}

/* The counters missed deliberate calls (got: what they read, want: what
 * was called): skips the calling test in a sanitizer build, whose runtime
 * may take precedence, and fails it otherwise. */
INTERPOSE_UNUSED static void interpose_broken(const char *program, const char *got, const char *want)
{
    if (INTERPOSE_UNDER_SANITIZER) {
        print_message("interposition does not work in this sanitizer build (counted %s for %s); "
                      "run %s in a build without sanitizers\n",
                      got, want, program);
        skip();
    }
    fail_msg("the counters are broken: counted %s for %s", got, want);
}

static const char *const INTERPOSE_NAMES[INTERPOSE_NALLOC] = {"malloc", "calloc", "realloc", "free"};

/* Proves the allocator's counters count (see the file comment). */
INTERPOSE_UNUSED static void interpose_require_allocator_counts(const char *program)
{
    char got[256];
    interpose_start();
    interpose_deliberate_allocations();
    interpose_stop();
    if (interpose_allocations_counted())
        return;
    interpose_describe(got, sizeof got, INTERPOSE_NAMES, INTERPOSE_NALLOC);
    interpose_broken(program, got, "malloc 1, calloc 1, realloc 1, free 2");
}

#endif
