/*
 * crashpoint.c - the crash-point counter (see src/crashpoint.h). Built
 * only with -Dcrashpoints=true.
 */
#include <stdatomic.h>
#include <unistd.h>

#include "crashpoint.h"

#ifdef KLAW_CRASHPOINTS
static _Atomic uint64_t passed;
static _Atomic uint64_t armed; /* 0: count only */
static const char *_Atomic last = "";
static void (*_Atomic tracer)(uint64_t, const char *);

void klaw__crash_trace(void (*fn)(uint64_t n, const char *name)) { atomic_store(&tracer, fn); }

void klaw__crash_hit(const char *name)
{
    uint64_t n = atomic_fetch_add_explicit(&passed, 1, memory_order_relaxed) + 1;
    atomic_store_explicit(&last, name, memory_order_relaxed);
    void (*fn)(uint64_t, const char *) = atomic_load_explicit(&tracer, memory_order_relaxed);
    if (fn)
        fn(n, name);
    uint64_t a = atomic_load_explicit(&armed, memory_order_relaxed);
    if (a != 0 && n == a)
        _exit(KLAW_CRASH_EXIT);
}

void klaw__crash_arm(uint64_t n)
{
    atomic_store(&passed, 0);
    atomic_store(&last, "");
    atomic_store(&armed, n);
}

uint64_t klaw__crash_count(void) { return atomic_load(&passed); }
const char *klaw__crash_last(void) { return atomic_load(&last); }
#endif
