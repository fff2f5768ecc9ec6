/*
 * test_hotpath.c - the MPMC channel's send and receive paths make no heap
 * allocation and no system call while nobody is parked: try_send/try_recv,
 * claim/commit/view/release (blocking and try_ forms), send/recv, and the
 * batch calls, 100,000 frames each, call malloc, calloc, realloc, free,
 * syscall (the library's only way to the futex), clock_gettime,
 * pthread_mutex_lock/timedlock, open/open64, read and close zero times. And the
 * other side of it: when a receiver (or a sender) IS parked, the call that
 * lets it go pays a futex wake, and this counter sees it.
 *
 * Which functions: channels/mpmc.c reaches the kernel only through
 * syscall(SYS_futex, ...) (ops_wait32/ops_wake32, through ck_ec); it reads
 * the clock (clock_gettime) when it parks or checks a deadline; it takes
 * the handle table's process-shared mutex (pthread_mutex_timedlock: a
 * bounded wait) for handles
 * and reaping; and it reads /proc (open, read, close in src/proc.c) for
 * liveness. None of these may run on a frame's way through an uncontended
 * channel.
 *
 * Counting: this executable defines those functions itself (the
 * allocator's and the machinery in tests/interpose.h, the rest below);
 * libklaw is linked statically into it, so the library's calls bind to
 * these definitions, which count (per thread, while the thread has
 * counting on) and forward to libc's (or a sanitizer runtime's). Futex
 * waits made by any thread are also counted globally, so a test can see
 * that another thread has gone to sleep.
 *
 * A counter that cannot count makes every test here pass, so each test
 * first proves that every counter counts a deliberate call (and the first
 * test proves that calls made inside libklaw are seen). If one does not,
 * the test fails, except in a sanitizer build, where the runtime's own
 * interception may take precedence: there it is skipped, saying so.
 */
#undef _FILE_OFFSET_BITS /* so open is open and open64 is open64 below */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "klaw/mpmc.h"

/* What this test interposes besides the allocator (tests/interpose.h
 * resolves them with it; each is defined below, calling next_<name>). */
#define INTERPOSE_ALSO(X)                                                                                              \
    X(syscall, long, (long, ...))                                                                                      \
    X(clock_gettime, int, (clockid_t, struct timespec *))                                                              \
    X(pthread_mutex_lock, int, (pthread_mutex_t *))                                                                    \
    X(pthread_mutex_timedlock, int, (pthread_mutex_t *, const struct timespec *))                                      \
    X(open, int, (const char *, int, ...))                                                                             \
    X(open64, int, (const char *, int, ...))                                                                           \
    X(read, ssize_t, (int, void *, size_t))                                                                            \
    X(close, int, (int))                                                                                               \
    X(sendto, ssize_t, (int, const void *, size_t, int, __CONST_SOCKADDR_ARG, socklen_t))
#include "interpose.h" /* defines malloc, calloc, realloc and free */

/* ---- the counters ---------------------------------------------------------- */

enum {
    C_MALLOC = INTERPOSE_MALLOC,
    C_CALLOC = INTERPOSE_CALLOC,
    C_REALLOC = INTERPOSE_REALLOC,
    C_FREE = INTERPOSE_FREE,
    C_SYSCALL = INTERPOSE_NALLOC, /* every syscall() call                   */
    C_FUTEX_WAIT,                 /* of them, FUTEX_WAIT / FUTEX_WAIT_BITSET */
    C_FUTEX_WAKE,                 /* of them, FUTEX_WAKE                     */
    C_CLOCK,
    C_MUTEX,
    C_OPEN,
    C_READ,
    C_CLOSE,
    C_SENDTO, /* a descriptor waiter's poke (channels/fdwait.h)            */
    NCOUNTERS
};
_Static_assert((int)NCOUNTERS <= (int)INTERPOSE_MAX_COUNTERS, "interpose.h has room for every counter");
static const char *const NAMES[NCOUNTERS] = {
    "malloc", "calloc", "realloc", "free", "syscall", "futex wait", "futex wake",
    "clock_gettime", "pthread_mutex_lock/timedlock", "open", "read", "close", "sendto",
};

/* Counted per thread (interpose.h's counters); and any thread's futex
 * waits, always: how a test sees a waiter go to sleep. */
static _Atomic unsigned long futex_waits_anywhere;

static unsigned long counted_all(void) { return interpose_total(NCOUNTERS); }

static void describe(char *buf, size_t size) { interpose_describe(buf, size, NAMES, NCOUNTERS); }

/* ---- the interposed functions -------------------------------------------------- */

INTERPOSE_NO_TSAN long syscall(long number, ...)
{
    va_list ap;
    long a[6];
    va_start(ap, number);
    for (int i = 0; i < 6; i++)
        a[i] = va_arg(ap, long);
    va_end(ap);
    interpose_ready();
    interpose_count(C_SYSCALL);
    if (number == SYS_futex) {
        int op = (int)a[1] & FUTEX_CMD_MASK;
        if (op == FUTEX_WAIT || op == FUTEX_WAIT_BITSET) {
            interpose_count(C_FUTEX_WAIT);
            atomic_fetch_add(&futex_waits_anywhere, 1);
        } else if (op == FUTEX_WAKE) {
            interpose_count(C_FUTEX_WAKE);
        }
    }
    return next_syscall(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}

INTERPOSE_NO_TSAN int clock_gettime(clockid_t clk, struct timespec *ts)
{
    interpose_ready();
    interpose_count(C_CLOCK);
    return next_clock_gettime(clk, ts);
}

INTERPOSE_NO_TSAN int pthread_mutex_lock(pthread_mutex_t *m)
{
    interpose_ready();
    interpose_count(C_MUTEX);
    return next_pthread_mutex_lock(m);
}

/* The library takes its robust region locks with a bounded wait. */
INTERPOSE_NO_TSAN int pthread_mutex_timedlock(pthread_mutex_t *m, const struct timespec *until)
{
    interpose_ready();
    interpose_count(C_MUTEX);
    return next_pthread_mutex_timedlock(m, until);
}

INTERPOSE_NO_TSAN int open(const char *path, int flags, ...)
{
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    interpose_ready();
    interpose_count(C_OPEN);
    return next_open(path, flags, mode);
}

int open64(const char *path, int flags, ...);
INTERPOSE_NO_TSAN int open64(const char *path, int flags, ...)
{
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    interpose_ready();
    interpose_count(C_OPEN);
    return next_open64(path, flags, mode);
}

INTERPOSE_NO_TSAN ssize_t read(int fd, void *buf, size_t n)
{
    interpose_ready();
    interpose_count(C_READ);
    return next_read(fd, buf, n);
}

INTERPOSE_NO_TSAN int close(int fd)
{
    interpose_ready();
    interpose_count(C_CLOSE);
    return next_close(fd);
}

INTERPOSE_NO_TSAN ssize_t sendto(int fd, const void *buf, size_t n, int flags, __CONST_SOCKADDR_ARG to,
                                 socklen_t tolen)
{
    interpose_ready();
    interpose_count(C_SENDTO);
    return next_sendto(fd, buf, n, flags, to, tolen);
}

/* ---- proving the counters count ------------------------------------------------ */

/* One deliberate call of each kind; every counter must read exactly 1 (free,
 * syscall, mutex lock: 2). Fails (or, in a sanitizer build, skips) the calling test otherwise. */
static void require_working_counters(void)
{
    uint32_t word = 0;
    struct timespec ts;
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    char buf[64];
    char got[512];

    interpose_start();
    interpose_deliberate_allocations();
    syscall(SYS_futex, &word, FUTEX_WAKE, 1, NULL, NULL, 0); /* wakes nobody */
    syscall(SYS_futex, &word, FUTEX_WAIT, 1, NULL, NULL, 0); /* word is 0: returns at once */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    pthread_mutex_lock(&m);
    pthread_mutex_unlock(&m);
    struct timespec until = ts;
    until.tv_sec += 1;
    pthread_mutex_timedlock(&m, &until);
    pthread_mutex_unlock(&m);
    int fd = open("/proc/self/stat", O_RDONLY);
    if (fd >= 0) {
        ssize_t n = read(fd, buf, sizeof buf);
        (void)n;
        close(fd);
    }
    interpose_stop();

    static const unsigned long want[NCOUNTERS] = {1, 1, 1, 2, 2, 1, 1, 1, 2, 1, 1, 1};
    bool ok = fd >= 0;
    for (int i = 0; i < NCOUNTERS; i++)
        ok = ok && interpose_counts[i] == want[i];
    if (ok)
        return;
    describe(got, sizeof got);
    interpose_broken("test_hotpath", got, "1 call of each kind (2 frees, 2 syscalls, 2 locks)");
}

static void assert_nothing_counted(const char *what)
{
    if (counted_all() != 0) {
        char got[512];
        describe(got, sizeof got);
        fail_msg("%s, nobody parked: %s (want all zero)", what, got);
    }
}

enum { ITERS = 100000, CAP = 64, FRAME = 48, BATCH = 32 };

static void make_channel(klaw_mpmc_tx **tx, klaw_mpmc_rx **rx)
{
    klaw_mpmc_opts o = {.capacity = CAP, .max_frame = FRAME};
    assert_int_equal(klaw_mpmc_create(&o, tx, rx), KLAW_OK);
}

/* ---- tests ------------------------------------------------------------------------ */

static void every_counter_counts_calls_here_and_inside_libklaw(void **state)
{
    (void)state;
    require_working_counters();

    /* Calls made inside the library are seen too: making a channel
     * allocates, takes the handle-table mutex, reads /proc/self/stat (the
     * creator's identity) and wakes futex waiters on the region's READY
     * word (src/region.c). */
    klaw_mpmc_tx *tx;
    klaw_mpmc_rx *rx;
    interpose_start();
    make_channel(&tx, &rx);
    interpose_stop();
    char got[512];
    describe(got, sizeof got);
    if (interpose_counts[C_MALLOC] + interpose_counts[C_CALLOC] == 0 || interpose_counts[C_MUTEX] == 0 ||
        interpose_counts[C_OPEN] == 0 || interpose_counts[C_READ] == 0 || interpose_counts[C_SYSCALL] == 0)
        fail_msg("klaw_mpmc_create's calls were not all seen: %s", got);
    klaw_mpmc_tx_free(tx);
    klaw_mpmc_rx_free(rx);
}

static void try_send_and_try_recv_make_no_call_when_nobody_waits(void **state)
{
    (void)state;
    require_working_counters();
    klaw_mpmc_tx *tx;
    klaw_mpmc_rx *rx;
    make_channel(&tx, &rx);
    uint8_t msg[FRAME], out[FRAME];
    uint64_t sent = 0, received = 0, full = 0, empty = 0;
    memset(msg, 0xab, sizeof msg);

    interpose_start();
    for (uint64_t i = 0; i < ITERS; i++) {
        /* fill to a depth that cycles 1..CAP+1, so the ring wraps at every
         * depth and try_send also meets a full ring */
        uint64_t depth = i % (CAP + 1) + 1;
        for (uint64_t d = 0; d < depth; d++) {
            memcpy(msg, &sent, sizeof sent);
            klaw_status st = klaw_mpmc_try_send(tx, msg, FRAME);
            if (st == KLAW_FULL) {
                full++;
                break;
            }
            if (st != KLAW_OK)
                break;
            sent++;
        }
        for (;;) {
            size_t len;
            klaw_status st = klaw_mpmc_try_recv(rx, out, sizeof out, &len);
            if (st == KLAW_EMPTY) {
                empty++;
                break;
            }
            if (st != KLAW_OK || len != FRAME)
                break;
            uint64_t seq;
            memcpy(&seq, out, sizeof seq);
            if (seq != received)
                break;
            received++;
        }
    }
    interpose_stop();

    assert_nothing_counted("try_send/try_recv");
    assert_true(sent >= ITERS);
    assert_int_equal(received, sent);
    assert_true(full > 0);
    assert_int_equal(empty, ITERS);
    klaw_mpmc_tx_free(tx);
    klaw_mpmc_rx_free(rx);
}

static void claim_commit_view_release_make_no_call_when_nobody_waits(void **state)
{
    (void)state;
    require_working_counters();
    klaw_mpmc_tx *tx;
    klaw_mpmc_rx *rx;
    make_channel(&tx, &rx);
    uint64_t done = 0;
    klaw_status bad = KLAW_OK;

    interpose_start();
    for (uint64_t i = 0; i < ITERS && bad == KLAW_OK; i++) {
        klaw_frame f;
        uint8_t out[FRAME];
        size_t len;
        /* a few frames in flight, through every form in turn */
        switch (i % 4) {
        case 0: /* blocking claim/view that need not block */
            if ((bad = klaw_mpmc_claim(tx, FRAME, NULL, &f)) != KLAW_OK)
                break;
            memcpy(f.data, &i, sizeof i);
            if ((bad = klaw_mpmc_commit(tx, &f, FRAME)) != KLAW_OK)
                break;
            if ((bad = klaw_mpmc_view(rx, NULL, &f)) != KLAW_OK)
                break;
            break;
        case 1: /* try_ forms */
            if ((bad = klaw_mpmc_try_claim(tx, FRAME, &f)) != KLAW_OK)
                break;
            memcpy(f.data, &i, sizeof i);
            if ((bad = klaw_mpmc_commit(tx, &f, FRAME / 2)) != KLAW_OK)
                break;
            if ((bad = klaw_mpmc_try_view(rx, &f)) != KLAW_OK)
                break;
            break;
        case 2: /* a claim given back, then blocking send/recv */
            if ((bad = klaw_mpmc_try_claim(tx, FRAME, &f)) != KLAW_OK)
                break;
            klaw_mpmc_abort(tx, &f);
            if ((bad = klaw_mpmc_send(tx, &i, sizeof i, NULL)) != KLAW_OK)
                break;
            if ((bad = klaw_mpmc_recv(rx, out, sizeof out, &len, NULL)) != KLAW_OK)
                break;
            if (len != sizeof i || memcmp(out, &i, sizeof i) != 0)
                bad = KLAW_CORRUPT;
            done++;
            continue;
        default: /* with a deadline that never comes into play */
            {
                static const struct timespec far = {INT32_MAX, 0};
                if ((bad = klaw_mpmc_claim(tx, FRAME, &far, &f)) != KLAW_OK)
                    break;
                memcpy(f.data, &i, sizeof i);
                if ((bad = klaw_mpmc_commit(tx, &f, FRAME)) != KLAW_OK)
                    break;
                if ((bad = klaw_mpmc_view(rx, &far, &f)) != KLAW_OK)
                    break;
            }
            break;
        }
        if (bad != KLAW_OK)
            break;
        uint64_t seen;
        memcpy(&seen, f.data, sizeof seen);
        if (seen != i)
            bad = KLAW_CORRUPT;
        klaw_mpmc_release(rx, &f);
        done++;
    }
    interpose_stop();

    assert_int_equal(bad, KLAW_OK);
    assert_int_equal(done, ITERS);
    assert_nothing_counted("claim/commit/view/release, send/recv, abort");
    klaw_mpmc_tx_free(tx);
    klaw_mpmc_rx_free(rx);
}

static void batches_make_no_call_when_nobody_waits(void **state)
{
    (void)state;
    require_working_counters();
    klaw_mpmc_tx *tx;
    klaw_mpmc_rx *rx;
    make_channel(&tx, &rx);
    klaw_frame f[BATCH];
    uint64_t sent = 0, received = 0;
    klaw_status bad = KLAW_OK;

    interpose_start();
    while (received < ITERS && bad == KLAW_OK) {
        size_t got;
        /* a batch of 1..BATCH, so batches straddle the ring's end */
        size_t want = (size_t)(sent % BATCH) + 1;
        if ((bad = klaw_mpmc_claim_batch(tx, FRAME, f, want, &got, NULL)) != KLAW_OK)
            break;
        for (size_t i = 0; i < got; i++) {
            memcpy(f[i].data, &sent, sizeof sent);
            sent++;
        }
        if ((bad = klaw_mpmc_commit_batch(tx, f, got)) != KLAW_OK)
            break;
        while (received < sent) {
            if ((bad = klaw_mpmc_view_batch(rx, f, BATCH, &got, NULL)) != KLAW_OK)
                break;
            for (size_t i = 0; i < got; i++) {
                uint64_t seen;
                memcpy(&seen, f[i].data, sizeof seen);
                if (seen != received++)
                    bad = KLAW_CORRUPT;
            }
            klaw_mpmc_release_batch(rx, f, got);
        }
    }
    interpose_stop();

    assert_int_equal(bad, KLAW_OK);
    assert_int_equal(received, sent);
    assert_true(received >= ITERS);
    assert_nothing_counted("claim_batch/commit_batch/view_batch/release_batch");
    klaw_mpmc_tx_free(tx);
    klaw_mpmc_rx_free(rx);
}

/* ---- when someone IS parked ------------------------------------------------------- */

typedef struct parked {
    klaw_mpmc_tx *tx;
    klaw_mpmc_rx *rx;
    klaw_status st;
    uint64_t value;
    unsigned long futex_waits; /* the waiter's own */
} parked;

static void *receive_one(void *p)
{
    parked *w = p;
    struct timespec dl = klaw_deadline_in_ms(20000);
    size_t len = 0;
    interpose_start();
    w->st = klaw_mpmc_recv(w->rx, &w->value, sizeof w->value, &len, &dl);
    interpose_stop();
    w->futex_waits = interpose_counts[C_FUTEX_WAIT];
    return NULL;
}

static void *send_one(void *p)
{
    parked *w = p;
    struct timespec dl = klaw_deadline_in_ms(20000);
    uint64_t v = 77;
    interpose_start();
    w->st = klaw_mpmc_send(w->tx, &v, sizeof v, &dl);
    interpose_stop();
    w->futex_waits = interpose_counts[C_FUTEX_WAIT];
    return NULL;
}

/* Waits (up to 10 s) until some thread has made a futex wait since `from`. */
static void wait_for_a_sleeper(unsigned long from)
{
    for (int i = 0; i < 10000 && atomic_load(&futex_waits_anywhere) == from; i++) {
        struct timespec t = {0, 1000000};
        nanosleep(&t, NULL);
    }
    if (atomic_load(&futex_waits_anywhere) == from)
        fail_msg("the waiter never went to sleep on a futex in 10 s");
}

static void a_parked_receiver_costs_the_sender_a_futex_wake(void **state)
{
    (void)state;
    require_working_counters();
    parked w = {0};
    make_channel(&w.tx, &w.rx);
    pthread_t t;
    unsigned long before = atomic_load(&futex_waits_anywhere);
    assert_int_equal(pthread_create(&t, NULL, receive_one, &w), 0);
    wait_for_a_sleeper(before);

    uint64_t v = 42;
    interpose_start();
    klaw_status st = klaw_mpmc_try_send(w.tx, &v, sizeof v);
    interpose_stop();
    unsigned long wakes = interpose_counts[C_FUTEX_WAKE], syscalls = interpose_counts[C_SYSCALL];
    assert_int_equal(pthread_join(t, NULL), 0);

    assert_int_equal(st, KLAW_OK);
    assert_int_equal(w.st, KLAW_OK);
    assert_int_equal(w.value, 42);
    assert_true(w.futex_waits >= 1);
    if (wakes < 1 || syscalls < 1)
        fail_msg("the sender woke a parked receiver with %lu futex wakes (%lu syscalls); want at least 1", wakes,
                 syscalls);

    /* the wake cleared the waiter flag: with nobody parked again, the next
     * frame costs nothing */
    interpose_start();
    st = klaw_mpmc_try_send(w.tx, &v, sizeof v);
    interpose_stop();
    assert_int_equal(st, KLAW_OK);
    assert_nothing_counted("try_send after the waiter left");
    klaw_mpmc_tx_free(w.tx);
    klaw_mpmc_rx_free(w.rx);
}

static void a_parked_sender_costs_the_receiver_a_futex_wake(void **state)
{
    (void)state;
    require_working_counters();
    parked w = {0};
    make_channel(&w.tx, &w.rx);
    uint64_t v = 1;
    for (int i = 0; i < CAP; i++)
        assert_int_equal(klaw_mpmc_try_send(w.tx, &v, sizeof v), KLAW_OK);
    assert_int_equal(klaw_mpmc_try_send(w.tx, &v, sizeof v), KLAW_FULL);
    pthread_t t;
    unsigned long before = atomic_load(&futex_waits_anywhere);
    assert_int_equal(pthread_create(&t, NULL, send_one, &w), 0);
    wait_for_a_sleeper(before);

    klaw_frame f;
    assert_int_equal(klaw_mpmc_try_view(w.rx, &f), KLAW_OK);
    interpose_start();
    klaw_mpmc_release(w.rx, &f);
    interpose_stop();
    unsigned long wakes = interpose_counts[C_FUTEX_WAKE];
    assert_int_equal(pthread_join(t, NULL), 0);

    assert_int_equal(w.st, KLAW_OK);
    assert_true(w.futex_waits >= 1);
    if (wakes < 1)
        fail_msg("the receiver freed a slot for a parked sender with %lu futex wakes; want at least 1", wakes);
    klaw_mpmc_tx_free(w.tx);
    klaw_mpmc_rx_free(w.rx);
}

/* A pollable descriptor (klaw_mpmc_rx_fd): while it is armed the first
 * commit pays the wake (a futex wake and one sendto); until the loop
 * re-arms, frames cost the sender nothing - as for a parked waiter. */
static void an_armed_descriptor_costs_one_poke_per_arming(void **state)
{
    (void)state;
    require_working_counters();
    klaw_mpmc_tx *tx;
    klaw_mpmc_rx *rx;
    make_channel(&tx, &rx);
    assert_true(klaw_mpmc_rx_fd(rx) >= 0);
    assert_int_equal(klaw_mpmc_rx_arm(rx, NULL), KLAW_OK);
    uint8_t msg[FRAME] = {0}, out[FRAME];
    interpose_start();
    klaw_status st = klaw_mpmc_try_send(tx, msg, FRAME);
    interpose_stop();
    assert_int_equal(st, KLAW_OK);
    assert_int_equal(interpose_counts[C_SENDTO], 1);
    assert_int_equal(interpose_counts[C_FUTEX_WAKE], 1);
    size_t len;
    assert_int_equal(klaw_mpmc_try_recv(rx, out, sizeof out, &len), KLAW_OK);
    /* fired and not re-armed: frames make no call at all */
    interpose_start();
    for (uint64_t i = 0; i < ITERS; i++) {
        if (klaw_mpmc_try_send(tx, msg, FRAME) != KLAW_OK ||
            klaw_mpmc_try_recv(rx, out, sizeof out, &len) != KLAW_OK)
            break;
    }
    interpose_stop();
    assert_nothing_counted("frames past a fired descriptor");
    klaw_mpmc_tx_free(tx);
    klaw_mpmc_rx_free(rx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_counter_counts_calls_here_and_inside_libklaw),
        cmocka_unit_test(try_send_and_try_recv_make_no_call_when_nobody_waits),
        cmocka_unit_test(claim_commit_view_release_make_no_call_when_nobody_waits),
        cmocka_unit_test(batches_make_no_call_when_nobody_waits),
        cmocka_unit_test(a_parked_receiver_costs_the_sender_a_futex_wake),
        cmocka_unit_test(a_parked_sender_costs_the_receiver_a_futex_wake),
        cmocka_unit_test(an_armed_descriptor_costs_one_poke_per_arming),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
