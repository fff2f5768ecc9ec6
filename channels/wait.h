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

#define KW_EC_FLAG (1u << 31)

/* The mode every klaw event count uses: shared futexes, CLOCK_MONOTONIC. */
extern const struct ck_ec_mode klaw__ec_mode;

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
    if (KLAW_UNLIKELY(ck_ec32_has_waiters(ec)))
        ck_ec32_inc(ec, &klaw__ec_mode);
}

/* Bumps ec and wakes every waiter (close, eviction: cold paths). */
static inline void kw_wake_all(struct ck_ec32 *ec) { ck_ec32_inc(ec, &klaw__ec_mode); }

/* Sets ec's waiter flag (locked CAS: a full barrier) and returns the word's
 * value with the flag set: what to pass to kw_wait_any(). Re-check the
 * channel after arming and before sleeping. */
static inline uint32_t kw_ec_arm(struct ck_ec32 *ec)
{
    uint32_t v = __atomic_load_n(&ec->counter, __ATOMIC_SEQ_CST);
    while (!(v & KW_EC_FLAG)) {
        if (__atomic_compare_exchange_n(&ec->counter, &v, v | KW_EC_FLAG, false, __ATOMIC_SEQ_CST,
                                        __ATOMIC_SEQ_CST))
            return v | KW_EC_FLAG;
    }
    /* already flagged: a full barrier all the same, for the Dekker pair */
    atomic_thread_fence(memory_order_seq_cst);
    return v;
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

#endif /* KLAW_CHANNELS_WAIT_H */
