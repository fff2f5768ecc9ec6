/*
 * wait.c - the futex side of klaw's event counts (see channels/wait.h).
 */
#include <errno.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <stdlib.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "klaw/frame.h"
#include "wait.h"

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif
#ifndef FUTEX_32
#define FUTEX_32 2
#endif

static struct timespec ts_of(int64_t ns)
{
    struct timespec t = {.tv_sec = (time_t)(ns / 1000000000), .tv_nsec = (long)(ns % 1000000000)};
    return t;
}

/* ---- asymmetric fences (see wait.h) ---------------------------------------- */

#include "sanitize.h"

_Atomic int klaw__light_publish;
static _Atomic int heavy_ok; /* this process can issue GLOBAL_EXPEDITED */
static pthread_once_t query_once = PTHREAD_ONCE_INIT;
static pthread_once_t register_once = PTHREAD_ONCE_INIT;

static void asym_query(void)
{
    long q = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    atomic_store(&heavy_ok, q > 0 && (q & MEMBARRIER_CMD_GLOBAL_EXPEDITED));
}

/* A fork child is a new mm: not registered, whatever the parent was. */
static void asym_atfork_child(void)
{
    if (atomic_load_explicit(&klaw__light_publish, memory_order_relaxed) &&
        syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0) != 0)
        atomic_store(&klaw__light_publish, 0);
}

static void asym_register(void)
{
    pthread_once(&query_once, asym_query);
    int light = 0;
#ifndef KLAW_TSAN
    const char *off = getenv("KLAW_NO_MEMBARRIER");
    if (atomic_load(&heavy_ok) && (!off || !*off || *off == '0') &&
        syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0) == 0)
        light = 1;
#endif
    atomic_store(&klaw__light_publish, light);
    pthread_atfork(NULL, NULL, asym_atfork_child);
}

void klaw__asym_init(void) { pthread_once(&register_once, asym_register); }

bool kw_heavy_barrier(void)
{
    pthread_once(&query_once, asym_query);
    if (!atomic_load_explicit(&heavy_ok, memory_order_relaxed))
        return false;
    return syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0) == 0;
}

/* ---- ck_ec ops ------------------------------------------------------------- */

static int ops_gettime(const struct ck_ec_ops *ops, struct timespec *out)
{
    (void)ops;
    return clock_gettime(CLOCK_MONOTONIC, out);
}

/* Shared (not FUTEX_PRIVATE) futexes: the word may be in memory mapped by
 * several processes. WAIT_BITSET takes an absolute CLOCK_MONOTONIC
 * deadline, which is what ck_ec hands us. */
static void ops_wait32(const struct ck_ec_wait_state *ws, const uint32_t *addr, uint32_t expected,
                       const struct timespec *deadline)
{
    (void)ws;
    syscall(SYS_futex, addr, FUTEX_WAIT_BITSET, expected, deadline, NULL, FUTEX_BITSET_MATCH_ANY);
}

static void ops_wake32(const struct ck_ec_ops *ops, const uint32_t *addr)
{
    (void)ops;
    syscall(SYS_futex, addr, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

static const struct ck_ec_ops ec_ops = {
    .gettime = ops_gettime,
    .wait32 = ops_wait32,
    .wake32 = ops_wake32,
    .busy_loop_iter = 64,
    .initial_wait_ns = 2000000,
};
const struct ck_ec_mode klaw__ec_mode = {.ops = &ec_ops, .single_producer = false};

/* The same, with ck_ec's own busy-wait before the futex cut to one round:
 * for waiters that should not spin (more threads than CPUs). */
static const struct ck_ec_ops ec_ops_nospin = {
    .gettime = ops_gettime,
    .wait32 = ops_wait32,
    .wake32 = ops_wake32,
    .busy_loop_iter = 1,
    .initial_wait_ns = 2000000,
};
const struct ck_ec_mode klaw__ec_mode_nospin = {.ops = &ec_ops_nospin, .single_producer = false};

int64_t klaw__now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

struct timespec klaw_deadline_in_ms(int64_t ms)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += (time_t)(ms / 1000);
    t.tv_nsec += (long)((ms % 1000) * 1000000);
    if (t.tv_nsec >= 1000000000) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000;
    } else if (t.tv_nsec < 0) {
        t.tv_sec--;
        t.tv_nsec += 1000000000;
    }
    return t;
}

__attribute__((noinline, cold)) klaw_status klaw__wake_ok(struct ck_ec32 *ec)
{
    ck_ec32_inc(ec, &klaw__ec_mode);
    return KLAW_OK;
}

void kw_wait_one(struct ck_ec32 *ec, uint32_t expected, int64_t deadline_ns)
{
    struct timespec t, *tp = NULL;
    if (deadline_ns != INT64_MAX) {
        t = ts_of(deadline_ns);
        tp = &t;
    }
    syscall(SYS_futex, &ec->counter, FUTEX_WAIT_BITSET, expected, tp, NULL, FUTEX_BITSET_MATCH_ANY);
}

/* 1: futex_waitv works; 0: not known yet; -1: the kernel lacks it. */
static _Atomic int waitv_state;

void kw_wait_any(struct ck_ec32 *const *ecs, const uint32_t *expected, size_t n, int64_t deadline_ns)
{
    if (n == 0) {
        int64_t now = klaw__now_ns();
        if (deadline_ns != INT64_MAX && deadline_ns > now) {
            struct timespec t = ts_of(deadline_ns);
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL);
        }
        return;
    }
    if (n == 1) {
        kw_wait_one(ecs[0], expected[0], deadline_ns);
        return;
    }
    if (atomic_load_explicit(&waitv_state, memory_order_relaxed) >= 0 && n <= FUTEX_WAITV_MAX) {
        struct futex_waitv w[FUTEX_WAITV_MAX];
        for (size_t i = 0; i < n; i++) {
            w[i].val = expected[i];
            w[i].uaddr = (uintptr_t)&ecs[i]->counter;
            w[i].flags = FUTEX_32; /* shared: no FUTEX_PRIVATE_FLAG */
            w[i].__reserved = 0;
        }
        struct timespec t, *tp = NULL;
        if (deadline_ns != INT64_MAX) {
            t = ts_of(deadline_ns);
            tp = &t;
        }
        long rc = syscall(SYS_futex_waitv, w, (unsigned)n, 0u, tp, CLOCK_MONOTONIC);
        /* only these are waits (woken, a word already changed, the
         * deadline, a signal); anything else - ENOSYS on old kernels,
         * EPERM from a container's seccomp profile, EFAULT, EINVAL - means
         * futex_waitv did not wait and never will here: a caller that
         * looped on it would spin at 100% CPU. Use the fallback from now on. */
        if (rc >= 0 || errno == EAGAIN || errno == ETIMEDOUT || errno == EINTR) {
            atomic_store_explicit(&waitv_state, 1, memory_order_relaxed);
            return;
        }
        atomic_store_explicit(&waitv_state, -1, memory_order_relaxed);
    }
    /* No futex_waitv (or more than 128 words): sleep on the first word, at
     * most 1 ms at a time; the caller re-checks every source. */
    int64_t cap = klaw__now_ns() + 1000000;
    kw_wait_one(ecs[0], expected[0], deadline_ns < cap ? deadline_ns : cap);
}

/* ---- robust mutexes ------------------------------------------------------------ */

/* the type, robust, priority-inheritance, priority-protection and
 * process-shared bits of glibc's __kind */
#define KIND_MASK 0xff

int klaw__robust_mutex_init(pthread_mutex_t *m)
{
    pthread_mutexattr_t ma;
    int e = pthread_mutexattr_init(&ma);
    if (e != 0)
        return e;
    e = pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
    if (e == 0)
        e = pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
    if (e == 0)
        e = pthread_mutex_init(m, &ma);
    pthread_mutexattr_destroy(&ma);
    return e;
}

/* The type word (__kind) of a mutex made by klaw__robust_mutex_init, read
 * once from a local one: robust, process-shared, normal. */
static int robust_kind(void)
{
    static _Atomic int kind = -1;
    int k = atomic_load_explicit(&kind, memory_order_relaxed);
    if (k < 0) {
        pthread_mutex_t probe;
        if (klaw__robust_mutex_init(&probe) != 0)
            return -2;
        k = probe.__data.__kind & KIND_MASK;
        pthread_mutex_destroy(&probe);
        atomic_store_explicit(&kind, k, memory_order_relaxed);
    }
    return k;
}

int klaw__robust_lock(pthread_mutex_t *m)
{
    /* glibc takes a mutex's type from the mutex itself, in memory other
     * processes can write: a type word turned priority-protected or
     * priority-inheriting sends glibc down paths that assert (tpp.c) or
     * trust other fields (fuzz_region found the first). Only the type
     * klaw__robust_mutex_init made is locked. */
    if ((__atomic_load_n(&m->__data.__kind, __ATOMIC_RELAXED) & KIND_MASK) != robust_kind())
        return -1;
    /* A bounded wait: the lock word is in memory other processes can
     * write, and a word that names a thread which does not hold it (a
     * corrupt or hostile region) would make a plain lock wait forever - the
     * kernel releases a robust mutex only when a holder really dies. Every
     * holder keeps it for a few table operations, far below this bound. */
    int64_t start = klaw__now_ns(), end = start + (int64_t)KLAW_LOCK_TIMEOUT_S * 1000000000;
    for (;;) {
        /* 20 ms steps, against the realtime clock that timedlock takes (a
         * clock step only shortens or lengthens one step; the bound is kept
         * on the monotonic clock). timedlock rather than clocklock: the
         * sanitizers' runtimes know it. */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 20000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        int e = pthread_mutex_timedlock(m, &until);
        if (e == EOWNERDEAD) {
            pthread_mutex_consistent(m);
            return 1;
        }
        if (e == 0)
            return 0;
        if (e != ETIMEDOUT || klaw__now_ns() >= end)
            return -1;
        /* still taken: a robust mutex's word holds its owner's thread id
         * (glibc, Linux); no such thread means no owner - the kernel would
         * have marked a real one that died - so the word is bogus */
        int tid = __atomic_load_n(&m->__data.__lock, __ATOMIC_RELAXED) & FUTEX_TID_MASK;
        if (tid != 0 && kill(tid, 0) != 0 && errno == ESRCH)
            return -1;
    }
}

int klaw__have_prefetchw(void)
{
#if defined(__x86_64__) || defined(__i386__)
    static _Atomic int known = -1;
    int k = atomic_load_explicit(&known, memory_order_relaxed);
    if (k < 0) {
        unsigned a, b, cx = 0, d;
        k = __get_cpuid(0x80000001u, &a, &b, &cx, &d) && (cx & (1u << 8));
        atomic_store_explicit(&known, k, memory_order_relaxed);
    }
    return k;
#else
    return 0;
#endif
}
