/*
 * futex_count.h - counting the futex system calls a test's threads make:
 * syscall(2) is defined in the test executable (klaw makes its futex calls
 * through it, and so does liburcu; libklaw is linked in statically, so its
 * calls bind here), counts, and forwards to the next definition (libc's,
 * or a sanitizer runtime's) found with dlsym(RTLD_NEXT).
 *
 *   counting_futex        per thread: count this thread's futex calls
 *   futex_calls           per thread: how many it made while counting
 *   futex_waits_anywhere  every thread's FUTEX_WAIT / WAIT_BITSET calls
 *
 * Include it from one translation unit per executable (it defines
 * syscall). test_hotpath.c counts more (tests/interpose.h).
 */
#ifndef KLAW_TEST_FUTEX_COUNT_H
#define KLAW_TEST_FUTEX_COUNT_H

#include <dlfcn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sanitize.h" /* KLAW_NO_TSAN: it runs before TSan's runtime is ready */

static _Thread_local int counting_futex;
static _Thread_local unsigned long futex_calls;
static _Atomic unsigned long futex_waits_anywhere;
static long (*_Atomic next_syscall)(long, ...);

KLAW_NO_TSAN long syscall(long n, ...)
{
    va_list ap;
    va_start(ap, n);
    long a = va_arg(ap, long), b = va_arg(ap, long), c = va_arg(ap, long);
    long d = va_arg(ap, long), e = va_arg(ap, long), f = va_arg(ap, long);
    va_end(ap);
    if (n == SYS_futex) {
        if (counting_futex)
            futex_calls++;
        if ((b & 127) == 9 /* FUTEX_WAIT_BITSET */ || (b & 127) == 0)
            atomic_fetch_add(&futex_waits_anywhere, 1);
    }
    long (*next)(long, ...) = atomic_load(&next_syscall);
    if (!next) {
        /* memcpy: ISO C has no conversion from void * to a function pointer */
        void *sym = dlsym(RTLD_NEXT, "syscall");
        memcpy(&next, &sym, sizeof sym);
        atomic_store(&next_syscall, next);
    }
    return next(n, a, b, c, d, e, f);
}

#endif
