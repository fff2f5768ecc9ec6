/*
 * klaw/export.h - symbol visibility. The library is built with hidden
 * visibility; only declarations marked KLAW_API are exported.
 */
#ifndef KLAW_EXPORT_H
#define KLAW_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define KLAW_API __attribute__((visibility("default")))
#define KLAW_LIKELY(x) __builtin_expect(!!(x), 1)
#define KLAW_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define KLAW_COLD __attribute__((cold, noinline))
#else
#define KLAW_API
#define KLAW_LIKELY(x) (x)
#define KLAW_UNLIKELY(x) (x)
#define KLAW_COLD
#endif

#endif /* KLAW_EXPORT_H */
