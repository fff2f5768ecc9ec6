/*
 * channels/wait.h - internal: how every channel kind waits and wakes.
 *
 * All kinds park on ck_ec32 event counts that live in the channel's region
 * (shared futexes, never FUTEX_PRIVATE, so a waiter in one process is woken
 * by a writer in another). The protocol is a Dekker pair:
 *
 *   waiter:  v = ck_ec32_value(ec); check the channel; arm (set the count's
 *            waiter flag with a locked CAS: a full barrier); check again;
 *            sleep on the word while it still holds the armed value.
 *   waker:   make the change visible with a seq_cst store or an RMW (a full
 *            barrier); then kw_wake_if_waiters(ec), which pays
 *            ck_ec32_inc() - and so futex_wake - only when the flag is set.
 *
 * Either the waker sees the flag, or the waiter's second check sees the
 * change: no lost wake-up, and no system call when nobody is parked.
 *
 * Asymmetric fences (mpmc only). On x86 a seq_cst store is an xchg (~20
 * cycles) paid on every frame, only to order the store before the
 * waiter-flag load. When the kernel offers membarrier(2) GLOBAL_EXPEDITED,
 * the mpmc channel moves that cost to its waiters: a process registers when
 * it first attaches an mpmc (klaw__asym_init; again in a fork child, via
 * pthread_atfork); its mpmc publishers then use a release store plus a
 * compiler barrier (kw_publish_u64), and an mpmc waiter issues membarrier()
 * after arming and before its re-check (kw_heavy_barrier), which runs a full
 * barrier on every CPU running a registered process. Either the publisher's
 * flag load comes after that barrier (and sees the flag, whose CAS
 * completed before the syscall), or its store was ordered before the
 * barrier (and the waiter's re-check sees it). Same argument as liburcu's
 * and folly's asymmetric fences; the C11 model does not describe
 * membarrier, so ThreadSanitizer builds (and KLAW_NO_MEMBARRIER=1 in the
 * environment) keep the seq_cst store.
 *
 * KLAW_NO_MEMBARRIER is a test and benchmark hook, not a setting: both
 * protocols are correct, and the variable lets one binary run either - the
 * suite runs test_mpmc with it set ('mpmc-seqcst'), so the seq_cst path is
 * tested outside ThreadSanitizer builds too, and klaw-bench can compare the
 * two in one run (docs/benchmarks.md). It is read once per process, when it
 * first attaches an mpmc channel; "" and "0" mean unset. A process whose registration fails
 * publishes with seq_cst stores; a waiter that cannot issue the barrier
 * caps its sleep at 1 ms (a peer might be publishing with light stores), a
 * bounded delay instead of a lost wake-up.
 *
 * The other kinds (broadcast, watch, oneshot) publish with seq_cst stores
 * or RMWs and their waiters skip the barrier: with many readers on few
 * cores they park often, and a membarrier per park interrupts every
 * registered CPU - measured slower in the fan-out benchmark than one xchg
 * per commit.
 *
 * ck_ec32's layout is public (ck_ec.h: the flag is the sign bit of
 * `counter`, the value bits 0..30); kw_ec_arm() and kw_wait_any() use it to
 * wait on several counts at once (select), with futex_waitv(2) where the
 * kernel has it (Linux >= 5.16) and a bounded-sleep poll otherwise.
 */
#ifndef KLAW_CHANNELS_WAIT_H
#define KLAW_CHANNELS_WAIT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <ck_ec.h>

#include "klaw/export.h"
#include "klaw/status.h"

#define KW_EC_FLAG (1u << 31)

/* The mode every klaw event count uses: shared futexes, CLOCK_MONOTONIC. */
extern const struct ck_ec_mode klaw__ec_mode;
/* The same without ck_ec's busy-wait before the futex (oversubscribed). */
extern const struct ck_ec_mode klaw__ec_mode_nospin;

/* 1 when this process's mpmc publishers use release stores (see above).
 * Set once by klaw__asym_init() before an mpmc is attached. */
extern _Atomic int klaw__light_publish;

/* Registers this process for membarrier (once; again in fork children).
 * The mpmc channel calls it when it attaches a region. */
void klaw__asym_init(void);

/* The waiter's half: run after arming a count whose publishers may use
 * light stores (mpmc) and before re-checking. Returns false when the
 * barrier could not be issued: the caller must then cap its sleep at 1 ms. */
bool kw_heavy_barrier(void);

/* The publisher's half: stores v into *p so that a waiter-flag load that
 * follows cannot miss a parked waiter (see above). */
static inline void kw_publish_u64(_Atomic uint64_t *p, uint64_t v)
{
    if (KLAW_LIKELY(atomic_load_explicit(&klaw__light_publish, memory_order_relaxed))) {
        atomic_store_explicit(p, v, memory_order_release);
        atomic_signal_fence(memory_order_seq_cst);
    } else {
        atomic_store_explicit(p, v, memory_order_seq_cst);
    }
}

/* CLOCK_MONOTONIC now, in ns. */
int64_t klaw__now_ns(void);

/* A deadline (NULL: none) in ns; INT64_MAX for none. */
static inline int64_t klaw__deadline_ns(const struct timespec *d)
{
    if (!d)
        return INT64_MAX;
    return (int64_t)d->tv_sec * 1000000000 + d->tv_nsec;
}

static inline bool klaw__deadline_passed(const struct timespec *d)
{
    return d && klaw__now_ns() >= klaw__deadline_ns(d);
}

/* Wakes anyone parked on ec, if someone flagged that they are. Call it
 * right after a seq_cst store or an RMW that published the change. */
static inline void kw_wake_if_waiters(struct ck_ec32 *ec)
{
    /* seq_cst: the flag load must not pass the publisher's store (it
     * pairs with the waiter's locked CAS in kw_ec_arm / ck_ec). ck_ec's own
     * ck_ec32_has_waiters() is a plain load - right on x86, whose loads
     * are not reordered before earlier locked RMWs or xchg, but not in the
     * C11 model or on weaker CPUs; a seq_cst load is a plain mov on x86,
     * so this costs nothing there. */
    if (KLAW_UNLIKELY(__atomic_load_n(&ec->counter, __ATOMIC_SEQ_CST) & KW_EC_FLAG))
        ck_ec32_inc(ec, &klaw__ec_mode);
}

/* kw_wake_if_waiters() for a call that returns KLAW_OK right after it:
 * `return kw_wake_then_ok(ec);`. The wake itself sits in an out-of-line
 * function that returns KLAW_OK, so the compiler tail-calls it and the
 * caller's fast path keeps nothing alive across a call (no callee-saved
 * register pushed to hold the status; measured: 2-3 instructions a frame
 * on commit and release). Same barrier argument as kw_wake_if_waiters. */
klaw_status klaw__wake_ok(struct ck_ec32 *ec);
static inline klaw_status kw_wake_then_ok(struct ck_ec32 *ec)
{
    if (KLAW_UNLIKELY(__atomic_load_n(&ec->counter, __ATOMIC_SEQ_CST) & KW_EC_FLAG))
        return klaw__wake_ok(ec);
    return KLAW_OK;
}

/* Bumps ec and wakes every waiter (close, eviction: cold paths). */
static inline void kw_wake_all(struct ck_ec32 *ec) { ck_ec32_inc(ec, &klaw__ec_mode); }

/* The same three for a count whose waiters may include descriptor
 * waiters (channels/fdwait.h): L is the channel's lifecycle view, event
 * the count's event id there (KLAW__EV_*). The fast path is the same one
 * flag load; the slow path wakes the futex, then fires the descriptor
 * waiters armed for event. */
struct klaw__life;
void klaw__wake_fd(struct ck_ec32 *ec, struct klaw__life *L, uint32_t event);
klaw_status klaw__wake_ok_fd(struct ck_ec32 *ec, struct klaw__life *L, uint32_t event);
void klaw__wake_all_fd(struct ck_ec32 *ec, struct klaw__life *L, uint32_t event);

static inline void kw_wake_if_waiters_fd(struct ck_ec32 *ec, struct klaw__life *L, uint32_t event)
{
    if (KLAW_UNLIKELY(__atomic_load_n(&ec->counter, __ATOMIC_SEQ_CST) & KW_EC_FLAG))
        klaw__wake_fd(ec, L, event);
}

static inline klaw_status kw_wake_then_ok_fd(struct ck_ec32 *ec, struct klaw__life *L, uint32_t event)
{
    if (KLAW_UNLIKELY(__atomic_load_n(&ec->counter, __ATOMIC_SEQ_CST) & KW_EC_FLAG))
        return klaw__wake_ok_fd(ec, L, event);
    return KLAW_OK;
}

static inline void kw_wake_all_fd(struct ck_ec32 *ec, struct klaw__life *L, uint32_t event)
{
    klaw__wake_all_fd(ec, L, event);
}

/* Sets ec's waiter flag (locked CAS: a full barrier) and returns the word's
 * value with the flag set: what to pass to kw_wait_any(). For an mpmc
 * count, call kw_heavy_barrier() next. Re-check the channel after arming
 * and before sleeping. */
static inline uint32_t kw_ec_arm(struct ck_ec32 *ec)
{
    /* a locked RMW, a full barrier, whether the flag was set already or
     * not (a fence would do for the latter, but ThreadSanitizer does not
     * model fences; select's arm_all does the same) */
    return __atomic_fetch_or(&ec->counter, KW_EC_FLAG, __ATOMIC_SEQ_CST) | KW_EC_FLAG;
}

/* Sleeps until one of the n words (n <= 128) no longer holds its expected
 * value, a wake-up arrives, or the absolute CLOCK_MONOTONIC deadline_ns
 * passes (INT64_MAX: none). Spurious returns are allowed: callers re-check.
 * Shared futexes (cross-process). Uses futex_waitv(2); on kernels without
 * it, sleeps on the first word for at most 1 ms at a time (a poll, stated in
 * klaw/select.h). */
void kw_wait_any(struct ck_ec32 *const *ecs, const uint32_t *expected, size_t n, int64_t deadline_ns);

/* Sleeps on one word (the same contract, n = 1). */
void kw_wait_one(struct ck_ec32 *ec, uint32_t expected, int64_t deadline_ns);

/* ---- the process-shared robust mutexes the kinds keep in their regions ---- */

#include <pthread.h>

/* Initialises a process-shared, robust mutex in place: 0 or an errno. */
int klaw__robust_mutex_init(pthread_mutex_t *m);

/* Locks a region's robust mutex, waiting at most KLAW_LOCK_TIMEOUT_S.
 * 0: locked; 1: locked, but its previous owner died holding it - the mutex
 * is consistent again and the caller must repair what it guards (before
 * anyone else can lock it: it still holds it); -1: not locked
 * (ENOTRECOVERABLE, EINVAL, or not released within the bound: a corrupt or
 * hostile region, or a live peer stuck inside - callers say KLAW_CORRUPT). */
#define KLAW_LOCK_TIMEOUT_S 1
int klaw__robust_lock(pthread_mutex_t *m);

/* Prefetching for writing, for single-writer claims (broadcast B6, mpmc
 * I6): the next slots' lines are fetched exclusive while the writer fills
 * earlier ones. klaw__have_prefetchw(): the CPU has PREFETCHW (CPUID
 * 0x80000001 ECX bit 8, PRFCHW: AMD, Intel since Broadwell; checked once).
 * klaw__prefetch_w(p, two, pfw): the line at p (and the next one when
 * `two`), with PREFETCHW when pfw, else the compiler's prefetch. */
int klaw__have_prefetchw(void);

/* Do [a, a + alen) and [b, b + blen) share a byte? (Offsets already
 * checked to lie inside one region, so the sums do not wrap.) */
static inline int klaw__overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
    return alen && blen && a < b + blen && b < a + alen;
}

static inline void klaw__prefetch_w(const void *p, int two, int pfw)
{
#if defined(__x86_64__) || defined(__i386__)
    if (pfw) {
        __asm__ volatile("prefetchw %0" ::"m"(*(const char *)p));
        if (two)
            __asm__ volatile("prefetchw %0" ::"m"(*((const char *)p + 64)));
        return;
    }
#else
    (void)pfw;
#endif
    __builtin_prefetch(p, 1, 3);
    if (two)
        __builtin_prefetch((const char *)p + 64, 1, 3);
}

#endif /* KLAW_CHANNELS_WAIT_H */
