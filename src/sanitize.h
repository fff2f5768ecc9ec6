/*
 * sanitize.h - which sanitizer this translation unit is built with, written
 * once: GCC says so with __SANITIZE_THREAD__ / __SANITIZE_ADDRESS__, clang
 * with __has_feature(). Defines KLAW_TSAN and KLAW_ASAN (to 1) when built
 * under ThreadSanitizer / AddressSanitizer, and leaves them undefined
 * otherwise. The library tells ThreadSanitizer about orderings it cannot
 * see (liburcu's, membarrier's); tests and benchmarks scale their work
 * down under a sanitizer.
 */
#ifndef KLAW_SANITIZE_H
#define KLAW_SANITIZE_H

#if defined(__SANITIZE_THREAD__)
#define KLAW_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define KLAW_TSAN 1
#endif
#endif

#if defined(__SANITIZE_ADDRESS__)
#define KLAW_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KLAW_ASAN 1
#endif
#endif

/* KLAW_NO_TSAN: a function ThreadSanitizer must not instrument (the tests'
 * interposers, which run before its runtime is ready); empty otherwise. */
#if defined(KLAW_TSAN) && defined(__clang__)
#define KLAW_NO_TSAN __attribute__((no_sanitize("thread")))
#elif defined(KLAW_TSAN)
#define KLAW_NO_TSAN __attribute__((no_sanitize_thread))
#else
#define KLAW_NO_TSAN
#endif

#endif
