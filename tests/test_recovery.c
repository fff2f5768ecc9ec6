/*
 * test_recovery.c - the recovery promises, one test per defect of issue 11:
 * a live peer is never taken for dead (another pid namespace, a leader
 * thread that exited, /proc hidden), a dead one never wedges a channel
 * (waiters with short deadlines reap on the channel's clock), close always
 * completes, laps wrap, futex_waitv refused by seccomp does not spin, an
 * open racing a create waits instead of saying CORRUPT, and the mpmc orphan
 * hint repairs itself.
 *
 * Some tests need root (unshare, mount): they skip loudly without it.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#include "klaw/klaw.h"
#include "klaw/channel.h"

/* test hooks (channels/mpmc.c; not in the public header) */
klaw_status klaw__mpmc_test_set_pos(klaw_mpmc_tx *tx, uint64_t pos);
klaw_status klaw__mpmc_test_hold_lock(klaw_mpmc_tx *tx, uint32_t ms);

#define LIVENESS_NS 300000000ull /* 300 ms */
#define SLICE_MS 100

static char self_exe[4096];
static char name_buf[128];

static const char *uniq(const char *tag)
{
    snprintf(name_buf, sizeof name_buf, "trecov-%d-%s", (int)getpid(), tag);
    klaw_region_unlink(name_buf);
    return name_buf;
}

static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000};
    while (nanosleep(&t, &t) != 0 && errno == EINTR) {
    }
}

static void loud_skip(const char *why)
{
    fprintf(stderr, "SKIP (loud): %s\n", why);
    skip();
}

static int is_root(void) { return geteuid() == 0; }

static int have_unshare(void) { return access("/usr/bin/unshare", X_OK) == 0; }

/* ---- child modes (the test binary runs itself in another namespace) ----- */

/* --ns-producer NAME: opens tx, claims, sleeps 1.5 s, commits "late". */
static int ns_producer(const char *name)
{
    klaw_mpmc_tx *tx;
    if (klaw_mpmc_open_tx(name, &tx) != KLAW_OK)
        return 10;
    klaw_frame f;
    if (klaw_mpmc_try_claim(tx, 4, &f) != KLAW_OK)
        return 11;
    memcpy(f.data, "late", 4);
    sleep_ms(1500);
    if (klaw_mpmc_commit(tx, &f, 4) != KLAW_OK)
        return 12;
    klaw_mpmc_tx_free(tx);
    return 0;
}

/* ---- 1. another pid namespace ------------------------------------------- */

static void a_producer_in_its_own_pid_namespace_is_alive(void **state)
{
    (void)state;
    if (!is_root() || !have_unshare())
        loud_skip("the pid-namespace test needs root and /usr/bin/unshare");
    const char *name = uniq("pidns");
    klaw_mpmc_opts o = {.capacity = 8, .max_frame = 16, .name = name, .liveness_ns = LIVENESS_NS};
    assert_int_equal(klaw_mpmc_create(&o, NULL, NULL), KLAW_OK);
    klaw_mpmc_rx *rx;
    assert_int_equal(klaw_mpmc_open_rx(name, &rx), KLAW_OK);
    pid_t pid = fork();
    if (pid == 0) {
        execl("/usr/bin/unshare", "unshare", "-pf", "--mount-proc", self_exe, "--ns-producer", name, (char *)NULL);
        _exit(127);
    }
    /* wait in short slices, as klaw tail -f does: the producer in its own
     * namespace must never be taken for dead (before: CLOSED after ~1 s,
     * its claim aborted and its handle reaped) */
    klaw_frame f;
    klaw_status st = KLAW_TIMEOUT;
    int64_t end = mono_ms() + 6000;
    while (st == KLAW_TIMEOUT && mono_ms() < end) {
        struct timespec d = klaw_deadline_in_ms(SLICE_MS);
        st = klaw_mpmc_view(rx, &d, &f);
    }
    int ws;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    if (WIFEXITED(ws) && WEXITSTATUS(ws) == 127)
        loud_skip("unshare could not run here");
    assert_true(WIFEXITED(ws));
    assert_int_equal(WEXITSTATUS(ws), 0);
    assert_int_equal(st, KLAW_OK);
    assert_int_equal(f.len, 4);
    assert_memory_equal(f.data, "late", 4);
    klaw_mpmc_release(rx, &f);
    klaw_mpmc_stats s;
    assert_int_equal(klaw_mpmc_rx_stats(rx, &s), KLAW_OK);
    assert_int_equal(s.aborted_claims, 0);
    assert_int_equal(s.reaped_handles, 0);
    /* and now that it has gone (closed its handle), the channel is closed */
    struct timespec d = klaw_deadline_in_ms(1000);
    assert_int_equal(klaw_mpmc_view(rx, &d, &f), KLAW_CLOSED);
    klaw_mpmc_rx_free(rx);
    klaw_region_unlink(name);
}

/* ---- 2. a leader thread that called pthread_exit --------------------------- */

typedef struct leader_arg {
    klaw_mpmc_tx *tx;
} leader_arg;

static void *late_committer(void *p)
{
    leader_arg *a = p;
    klaw_frame f;
    if (klaw_mpmc_try_claim(a->tx, 1, &f) != KLAW_OK)
        _exit(20);
    f.data[0] = 't';
    sleep_ms(1200);
    if (klaw_mpmc_commit(a->tx, &f, 1) != KLAW_OK)
        _exit(21);
    _exit(0); /* the whole process; no exit handlers (LeakSanitizer) */
}

static void a_process_whose_main_thread_exited_is_alive(void **state)
{
    (void)state;
    /* anonymous: shared by fork, liveness by pid */
    klaw_mpmc_opts o = {.capacity = 8, .max_frame = 16, .liveness_ns = LIVENESS_NS};
    klaw_mpmc_tx *tx;
    klaw_mpmc_rx *rx;
    assert_int_equal(klaw_mpmc_create(&o, &tx, &rx), KLAW_OK);
    pid_t pid = fork();
    if (pid == 0) {
        static leader_arg a;
        if (klaw_mpmc_tx_clone(tx, &a.tx) != KLAW_OK)
            _exit(22);
        pthread_t t;
        pthread_create(&t, NULL, late_committer, &a);
        pthread_exit(NULL); /* the leader leaves; the process lives on */
    }
    sleep_ms(400);
    assert_int_equal(klaw_proc_alive((klaw_proc_id){pid, 0, 0}), 1);
    klaw_frame f;
    klaw_status st = KLAW_TIMEOUT;
    int64_t end = mono_ms() + 5000;
    while (st == KLAW_TIMEOUT && mono_ms() < end) {
        struct timespec d = klaw_deadline_in_ms(SLICE_MS);
        st = klaw_mpmc_view(rx, &d, &f);
    }
    assert_int_equal(st, KLAW_OK);
    assert_int_equal(f.data[0], 't');
    klaw_mpmc_release(rx, &f);
    int ws;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    assert_true(WIFEXITED(ws));
    assert_int_equal(WEXITSTATUS(ws), 0);
    klaw_mpmc_stats s;
    assert_int_equal(klaw_mpmc_rx_stats(rx, &s), KLAW_OK);
    assert_int_equal(s.aborted_claims, 0);
    assert_int_equal(klaw_proc_alive((klaw_proc_id){pid, 0, 0}), 0); /* reaped: gone */
    klaw_mpmc_tx_free(tx);
    klaw_mpmc_rx_free(rx);
}

/* ---- 3. /proc hidden ------------------------------------------------------------ */

static void a_hidden_proc_is_not_death(void **state)
{
    (void)state;
    if (!is_root())
        loud_skip("hiding /proc needs root (a mount namespace)");
    pid_t dead = fork();
    if (dead == 0)
        _exit(0);
    waitpid(dead, NULL, 0); /* a pid that is gone */
    pid_t pid = fork();
    if (pid == 0) {
        if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
            mount("none", "/proc", "tmpfs", 0, NULL) != 0)
            _exit(99);
        if (access("/proc/self/stat", F_OK) == 0)
            _exit(98);
        /* alive: the parent (cannot read its start time: cannot tell) */
        if (klaw_proc_alive((klaw_proc_id){getppid(), 0, 12345}) != 1)
            _exit(1);
        /* dead: the kernel says so without /proc */
        if (klaw_proc_alive((klaw_proc_id){dead, 0, 0}) != 0)
            _exit(2);
        _exit(0);
    }
    int ws;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    assert_true(WIFEXITED(ws));
    if (WEXITSTATUS(ws) == 99 || WEXITSTATUS(ws) == 98)
        loud_skip("could not hide /proc in a mount namespace here");
    assert_int_equal(WEXITSTATUS(ws), 0);
}

/* ---- 4. short deadlines behind a dead peer ----------------------------------- */

/* A child that opens a handle of the named channel, claims (or views), tells
 * the parent, and dies holding it. */
static pid_t die_holding(const char *name, int view)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        klaw_frame f;
        if (view) {
            klaw_mpmc_rx *rx;
            if (klaw_mpmc_open_rx(name, &rx) != KLAW_OK || klaw_mpmc_try_view(rx, &f) != KLAW_OK)
                _exit(30);
        } else {
            klaw_mpmc_tx *tx;
            if (klaw_mpmc_open_tx(name, &tx) != KLAW_OK || klaw_mpmc_try_claim(tx, 1, &f) != KLAW_OK)
                _exit(31);
        }
        if (write(p[1], "x", 1) != 1)
            _exit(32);
        _exit(0); /* as if killed: nothing closed */
    }
    close(p[1]);
    char c;
    assert_int_equal(read(p[0], &c, 1), 1);
    close(p[0]);
    int ws;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    assert_true(WIFEXITED(ws));
    assert_int_equal(WEXITSTATUS(ws), 0);
    return pid;
}

/* A named mpmc of capacity cap with the short liveness period, and its
 * first handles. */
static const char *make_named(const char *tag, uint32_t cap, klaw_mpmc_tx **tx, klaw_mpmc_rx **rx)
{
    const char *name = uniq(tag);
    klaw_mpmc_opts o = {.capacity = cap, .max_frame = 16, .name = name, .liveness_ns = LIVENESS_NS};
    assert_int_equal(klaw_mpmc_create(&o, tx, rx), KLAW_OK);
    return name;
}

static void free_named(const char *name, klaw_mpmc_tx *tx, klaw_mpmc_rx *rx)
{
    klaw_mpmc_tx_free(tx);
    klaw_mpmc_rx_free(rx);
    klaw_region_unlink(name);
}

/* liveness + 0.5 s, counted from the death */
#define RECOVER_MS ((int64_t)(LIVENESS_NS / 1000000) + 500)

static void short_deadline_consumers_reap_a_dead_claimant(void **state)
{
    (void)state;
    klaw_mpmc_tx *tx;
    klaw_mpmc_rx *rx;
    const char *name = make_named("slice-claim", 8, &tx, &rx);
    die_holding(name, 0);
    int64_t dead_at = mono_ms();
    assert_int_equal(klaw_mpmc_try_send(tx, "after", 5), KLAW_OK);
    klaw_frame f;
    klaw_status st = KLAW_TIMEOUT;
    while (st == KLAW_TIMEOUT && mono_ms() - dead_at < RECOVER_MS) {
        struct timespec d = klaw_deadline_in_ms(SLICE_MS);
        st = klaw_mpmc_view(rx, &d, &f);
    }
    assert_int_equal(st, KLAW_OK);
    assert_memory_equal(f.data, "after", 5);
    klaw_mpmc_release(rx, &f);
    klaw_mpmc_stats s;
    assert_int_equal(klaw_mpmc_rx_stats(rx, &s), KLAW_OK);
    assert_int_equal(s.aborted_claims, 1);
    assert_int_equal(s.reaped_handles, 1);
    free_named(name, tx, rx);
}

static void short_deadline_producers_get_a_dead_viewers_slot_back(void **state)
{
    (void)state;
    klaw_mpmc_tx *tx;
    klaw_mpmc_rx *rx;
    const char *name = make_named("slice-view", 2, &tx, &rx);
    assert_int_equal(klaw_mpmc_try_send(tx, "0", 1), KLAW_OK);
    assert_int_equal(klaw_mpmc_try_send(tx, "1", 1), KLAW_OK);
    die_holding(name, 1); /* holds "0" */
    int64_t dead_at = mono_ms();
    klaw_frame f;
    assert_int_equal(klaw_mpmc_try_view(rx, &f), KLAW_OK);
    assert_memory_equal(f.data, "1", 1);
    klaw_mpmc_release(rx, &f);
    /* the ring's slot 0 is held by the dead view: the producer waits in
     * slices, the consumer too; "0" comes back and the producer gets room */
    int got0 = 0, sent = 0;
    while ((!got0 || !sent) && mono_ms() - dead_at < RECOVER_MS) {
        struct timespec d = klaw_deadline_in_ms(SLICE_MS);
        if (!sent && klaw_mpmc_send(tx, "2", 1, &d) == KLAW_OK)
            sent = 1;
        d = klaw_deadline_in_ms(SLICE_MS);
        if (!got0 && klaw_mpmc_view(rx, &d, &f) == KLAW_OK) {
            assert_memory_equal(f.data, "0", 1);
            got0 = 1;
            klaw_mpmc_release(rx, &f);
        }
    }
    assert_true(got0);
    assert_true(sent);
    klaw_mpmc_stats s;
    assert_int_equal(klaw_mpmc_rx_stats(rx, &s), KLAW_OK);
    assert_int_equal(s.redelivered, 1);
    free_named(name, tx, rx);
}

static void short_deadline_select_reaps_a_dead_claimant(void **state)
{
    (void)state;
    klaw_mpmc_tx *tx;
    klaw_mpmc_rx *rx;
    const char *name = make_named("slice-select", 8, &tx, &rx);
    klaw_mpmc_opts o2 = {.capacity = 8, .max_frame = 16};
    klaw_mpmc_tx *tx2;
    klaw_mpmc_rx *rx2;
    assert_int_equal(klaw_mpmc_create(&o2, &tx2, &rx2), KLAW_OK);
    die_holding(name, 0);
    int64_t dead_at = mono_ms();
    assert_int_equal(klaw_mpmc_try_send(tx, "after", 5), KLAW_OK);
    klaw_sel_case cases[2] = {{KLAW_SEL_MPMC, rx2}, {KLAW_SEL_MPMC, rx}};
    klaw_sel_result r;
    klaw_status st = KLAW_TIMEOUT;
    while (st == KLAW_TIMEOUT && mono_ms() - dead_at < RECOVER_MS) {
        struct timespec d = klaw_deadline_in_ms(SLICE_MS);
        st = klaw_select(cases, 2, 0, &d, &r);
    }
    assert_int_equal(st, KLAW_OK);
    assert_int_equal(r.index, 1);
    assert_memory_equal(r.frame.data, "after", 5);
    klaw_sel_release(cases, &r);
    klaw_mpmc_tx_free(tx);
    klaw_mpmc_rx_free(rx);
    klaw_mpmc_tx_free(tx2);
    klaw_mpmc_rx_free(rx2);
    klaw_region_unlink(name);
}

/* A child that opens the named watch's (oneshot's) sender and dies holding
 * it, never sending. */
static void sender_dies(const char *name, int oneshot)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (oneshot) {
            klaw_oneshot_tx *tx;
            if (klaw_oneshot_open_tx(name, &tx) != KLAW_OK)
                _exit(60);
        } else {
            klaw_watch_tx *tx;
            if (klaw_watch_open_tx(name, &tx) != KLAW_OK)
                _exit(61);
        }
        _exit(0);
    }
    int ws;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    assert_true(WIFEXITED(ws));
    assert_int_equal(WEXITSTATUS(ws), 0);
}

static void short_deadline_watch_receivers_see_a_dead_sender(void **state)
{
    (void)state;
    const char *name = uniq("slice-watch");
    klaw_watch_opts o = {.max_frame = 16, .name = name, .liveness_ns = LIVENESS_NS};
    assert_int_equal(klaw_watch_create(&o, NULL, NULL), KLAW_OK);
    klaw_watch_rx *rx2;
    assert_int_equal(klaw_watch_open_rx(name, &rx2), KLAW_OK);
    sender_dies(name, 0); /* the only sender, dead */
    int64_t dead_at = mono_ms();
    klaw_status st = KLAW_TIMEOUT;
    while (st == KLAW_TIMEOUT && mono_ms() - dead_at < RECOVER_MS) {
        struct timespec d = klaw_deadline_in_ms(SLICE_MS);
        st = klaw_watch_changed(rx2, &d);
    }
    assert_int_equal(st, KLAW_CLOSED);
    klaw_watch_rx_free(rx2);
    klaw_region_unlink(name);
}

static void short_deadline_oneshot_receivers_see_a_dead_sender(void **state)
{
    (void)state;
    for (int sel = 0; sel < 2; sel++) {
        const char *name = uniq(sel ? "slice-oneshot-sel" : "slice-oneshot");
        klaw_oneshot_opts o = {.max_frame = 16, .name = name, .liveness_ns = LIVENESS_NS};
        assert_int_equal(klaw_oneshot_create(&o, NULL, NULL), KLAW_OK);
        klaw_oneshot_rx *rx;
        assert_int_equal(klaw_oneshot_open_rx(name, &rx), KLAW_OK);
        sender_dies(name, 1);
        int64_t dead_at = mono_ms();
        klaw_status st = KLAW_TIMEOUT;
        while (st == KLAW_TIMEOUT && mono_ms() - dead_at < RECOVER_MS) {
            struct timespec d = klaw_deadline_in_ms(SLICE_MS);
            if (sel) {
                klaw_sel_case c = {KLAW_SEL_ONESHOT, rx};
                klaw_sel_result r;
                st = klaw_select(&c, 1, 0, &d, &r);
            } else {
                char buf[16];
                size_t len;
                st = klaw_oneshot_recv(rx, buf, sizeof buf, &len, &d);
            }
        }
        assert_int_equal(st, KLAW_CLOSED);
        klaw_oneshot_rx_free(rx);
        klaw_region_unlink(name);
    }
}

/* ---- 6. close always completes ------------------------------------------------ */

static void a_close_waits_for_a_slow_lock_holder(void **state)
{
    (void)state;
    klaw_mpmc_tx *tx;
    klaw_mpmc_rx *rx;
    const char *name = make_named("slowlock", 8, &tx, &rx);
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        klaw_mpmc_tx *t;
        if (klaw_mpmc_open_tx(name, &t) != KLAW_OK)
            _exit(40);
        if (write(p[1], "x", 1) != 1)
            _exit(41);
        /* a live peer slow inside the lock: longer than the old 1 s bound */
        if (klaw__mpmc_test_hold_lock(t, 1500) != KLAW_OK)
            _exit(42);
        klaw_mpmc_tx_free(t);
        _exit(0);
    }
    close(p[1]);
    char c;
    assert_int_equal(read(p[0], &c, 1), 1);
    close(p[0]);
    sleep_ms(100);
    /* completes: past the 1 s bound the entry is marked closing and the
     * holder retires it when it lets go (before: close gave up after 1 s
     * and left the handle, so the channel never closed) */
    klaw_mpmc_tx_free(tx);
    int ws;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    assert_true(WIFEXITED(ws));
    assert_int_equal(WEXITSTATUS(ws), 0);
    klaw_mpmc_stats s;
    assert_int_equal(klaw_mpmc_rx_stats(rx, &s), KLAW_OK);
    assert_int_equal(s.senders, 0);
    assert_true(s.senders_closed);
    klaw_frame f;
    assert_int_equal(klaw_mpmc_try_view(rx, &f), KLAW_CLOSED);
    klaw_mpmc_rx_free(rx);
    klaw_region_unlink(name);
}

/* ---- 4 (issue's numbering). laps wrap ------------------------------------------ */

static void run_across_the_wrap(unsigned flags)
{
    klaw_mpmc_opts o = {.capacity = 4, .max_frame = 16, .flags = flags};
    klaw_mpmc_tx *tx;
    klaw_mpmc_rx *rx;
    assert_int_equal(klaw_mpmc_create(&o, &tx, &rx), KLAW_OK);
    /* laps are kept in 48 bits: start two laps below 2^48 */
    const uint64_t start = ((1ull << 48) - 2) << 2;
    assert_int_equal(klaw__mpmc_test_set_pos(tx, start), KLAW_OK);
    for (uint64_t i = 0; i < 40; i++) {
        uint64_t v = start + i;
        /* in pairs, so a ring's worth is sometimes in flight */
        assert_int_equal(klaw_mpmc_try_send(tx, &v, sizeof v), KLAW_OK);
        if (i % 2 == 0)
            continue;
        for (int k = 0; k < 2; k++) {
            klaw_frame f;
            assert_int_equal(klaw_mpmc_try_view(rx, &f), KLAW_OK);
            uint64_t got;
            memcpy(&got, f.data, sizeof got);
            assert_int_equal(got, start + i - 1 + (uint64_t)k);
            assert_int_equal(f.seq, got);
            assert_int_equal(klaw_mpmc_release(rx, &f), KLAW_OK);
        }
    }
    klaw_frame f;
    assert_int_equal(klaw_mpmc_try_view(rx, &f), KLAW_EMPTY);
    /* and a full ring is full, an empty one empty, right at the wrap */
    for (int i = 0; i < 4; i++)
        assert_int_equal(klaw_mpmc_try_send(tx, "x", 1), KLAW_OK);
    assert_int_equal(klaw_mpmc_try_send(tx, "x", 1), KLAW_FULL);
    klaw_mpmc_stats s;
    assert_int_equal(klaw_mpmc_tx_stats(tx, &s), KLAW_OK);
    assert_int_equal(s.depth, 4);
    klaw_mpmc_tx_free(tx);
    klaw_mpmc_rx_free(rx);
}

static void mpmc_laps_wrap(void **state)
{
    (void)state;
    run_across_the_wrap(0);
    run_across_the_wrap(KLAW_MPMC_SINGLE_PRODUCER | KLAW_MPMC_SINGLE_CONSUMER);
}

/* ---- 7. futex_waitv refused by seccomp ----------------------------------------- */

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif

static int refuse_futex_waitv(void)
{
    struct sock_filter prog[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_futex_waitv, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog fp = {(unsigned short)(sizeof prog / sizeof prog[0]), prog};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fp);
}

static int64_t cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec +
           ru.ru_stime.tv_usec;
}

static void select_does_not_spin_when_futex_waitv_is_refused(void **state)
{
    (void)state;
    pid_t pid = fork();
    if (pid == 0) {
        if (refuse_futex_waitv() != 0)
            _exit(99);
        klaw_mpmc_opts o = {.capacity = 4, .max_frame = 8};
        klaw_mpmc_tx *tx[2];
        klaw_mpmc_rx *rx[2];
        for (int i = 0; i < 2; i++)
            if (klaw_mpmc_create(&o, &tx[i], &rx[i]) != KLAW_OK)
                _exit(50);
        klaw_sel_case cases[2] = {{KLAW_SEL_MPMC, rx[0]}, {KLAW_SEL_MPMC, rx[1]}};
        klaw_sel_result r;
        int64_t c0 = cpu_us();
        struct timespec d = klaw_deadline_in_ms(600);
        if (klaw_select(cases, 2, 0, &d, &r) != KLAW_TIMEOUT)
            _exit(51);
        int64_t used = cpu_us() - c0;
        /* parked (1 ms polls): a few ms of CPU; spinning: all 600 ms */
        fprintf(stderr, "select with futex_waitv refused: %lld us of CPU in 600 ms\n", (long long)used);
        _exit(used < 200000 ? 0 : 52);
    }
    int ws;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    assert_true(WIFEXITED(ws));
    if (WEXITSTATUS(ws) == 99)
        loud_skip("seccomp filters are not available here");
    assert_int_equal(WEXITSTATUS(ws), 0);
}

/* ---- 9. open racing create ------------------------------------------------------ */

typedef struct race {
    char name[128];
    _Atomic int stop;
    _Atomic int bad;
    _Atomic int opened;
} race;

static void *racing_opener(void *p)
{
    race *r = p;
    while (!atomic_load(&r->stop)) {
        klaw_mpmc_rx *rx;
        klaw_status st = klaw_mpmc_open_rx(r->name, &rx);
        if (st == KLAW_OK) {
            atomic_fetch_add(&r->opened, 1);
            klaw_mpmc_rx_free(rx);
        } else if (st != KLAW_NOENT && st != KLAW_CLOSED && st != KLAW_TIMEOUT) {
            fprintf(stderr, "open racing create: %s\n", klaw_strerror(st));
            atomic_fetch_add(&r->bad, 1);
        }
    }
    return NULL;
}

static void an_open_racing_a_create_waits_for_it(void **state)
{
    (void)state;
    static race r;
    snprintf(r.name, sizeof r.name, "%s", uniq("race"));
    atomic_store(&r.stop, 0);
    pthread_t t;
    pthread_create(&t, NULL, racing_opener, &r);
    for (int i = 0; i < 300; i++) {
        klaw_mpmc_opts o = {.capacity = 64, .max_frame = 256, .name = r.name};
        klaw_mpmc_tx *tx;
        klaw_mpmc_rx *rx;
        assert_int_equal(klaw_mpmc_create(&o, &tx, &rx), KLAW_OK);
        klaw_mpmc_tx_free(tx);
        klaw_mpmc_rx_free(rx);
        assert_int_equal(klaw_region_unlink(r.name), KLAW_OK);
    }
    atomic_store(&r.stop, 1);
    pthread_join(t, NULL);
    assert_int_equal(atomic_load(&r.bad), 0);
}

/* ---- 5. the orphan hint repairs itself ------------------------------------------- */

#define RING_ORPHANS_OFF (5 * 64) /* ring_ctl.orphans (static_assert in mpmc.c) */

static void an_orphan_hint_without_an_orphan_is_lowered(void **state)
{
    (void)state;
    klaw_mpmc_tx *tx;
    klaw_mpmc_rx *rx;
    const char *name = make_named("hint", 8, &tx, &rx);
    klaw_region *r;
    assert_int_equal(klaw_region_open(name, KLAW_KIND_MPMC, 0, &r), KLAW_OK);
    _Atomic uint32_t *hint =
        (_Atomic uint32_t *)((uint8_t *)klaw_region_base(r) + klaw_region_hdr(r)->body_off + RING_ORPHANS_OFF);
    /* a process died between taking an orphan and lowering the hint */
    atomic_store(hint, 5);
    klaw_frame f;
    assert_int_equal(klaw_mpmc_try_view(rx, &f), KLAW_EMPTY);
    assert_int_equal(atomic_load(hint), 0); /* lowered: nobody spins on it */
    /* a process died between making an orphan and raising the hint: a
     * waiter finds the frame on its liveness schedule */
    assert_int_equal(klaw_mpmc_try_send(tx, "o", 1), KLAW_OK);
    assert_int_equal(klaw_mpmc_try_view(rx, &f), KLAW_OK);
    _Atomic uint64_t *slot = (_Atomic uint64_t *)f.slot_;
    uint64_t v = atomic_load(slot);
    atomic_store(slot, (v & ~(uint64_t)0xffff) | 5u); /* (lap, ORPHAN, owner 0) */
    int64_t t0 = mono_ms();
    klaw_status st = KLAW_TIMEOUT;
    klaw_mpmc_rx *rx2;
    assert_int_equal(klaw_mpmc_rx_clone(rx, &rx2), KLAW_OK);
    while (st == KLAW_TIMEOUT && mono_ms() - t0 < RECOVER_MS + 300) {
        struct timespec d = klaw_deadline_in_ms(SLICE_MS);
        st = klaw_mpmc_view(rx2, &d, &f);
    }
    assert_int_equal(st, KLAW_OK);
    assert_memory_equal(f.data, "o", 1);
    klaw_mpmc_release(rx2, &f);
    klaw_region_close(r);
    klaw_mpmc_rx_free(rx2);
    free_named(name, tx, rx);
}

/* ---- 10. hostile lock words ------------------------------------------------------------ */

#define LIFE_LOCK_OFF (6 * 64 + 64) /* ring_ctl.life (6 lines in), its lock word's line */

static void forged_lock_words_never_hang(void **state)
{
    (void)state;
    klaw_mpmc_tx *tx;
    klaw_mpmc_rx *rx;
    const char *name = make_named("forged", 8, &tx, &rx);
    klaw_region *r;
    assert_int_equal(klaw_region_open(name, KLAW_KIND_MPMC, 0, &r), KLAW_OK);
    _Atomic uint32_t *word =
        (_Atomic uint32_t *)((uint8_t *)klaw_region_base(r) + klaw_region_hdr(r)->body_off + LIFE_LOCK_OFF);
    assert_int_equal(atomic_load(word), 0); /* free between calls */
    /* garbage (a slot that does not exist), and a dead-looking holder: the
     * next locker takes the word over at once */
    const uint32_t junk[] = {0x1fffu, 0x7fffffffu, 0x80001fffu, 0x00002001u + (5u << 13)};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        atomic_store(word, junk[i]);
        klaw_mpmc_rx *o = NULL;
        assert_int_equal(klaw_mpmc_open_rx(name, &o), KLAW_OK);
        klaw_mpmc_rx_free(o);
        assert_int_equal(atomic_load(word) & 0x7fffffffu, 0);
    }
    /* the token of a live peer that is not inside the lock (the creator's
     * attachment - tx and rx - slot 0, generation 1): to another
     * attachment, a live peer stalling the channel. Its opens give up after
     * the bound (KLAW_TIMEOUT) and its close still completes (marked for
     * the next holder); the creator's own attachment knows the word cannot
     * be its own and takes it over at once */
    klaw_mpmc_rx *other = NULL;
    assert_int_equal(klaw_mpmc_open_rx(name, &other), KLAW_OK);
    atomic_store(word, 1u | (1u << 13));
    klaw_mpmc_rx *o = NULL;
    assert_int_equal(klaw_mpmc_open_rx(name, &o), KLAW_TIMEOUT);
    assert_null(o);
    klaw_mpmc_rx_free(other); /* completes */
    klaw_mpmc_stats st;
    assert_int_equal(klaw_mpmc_rx_stats(rx, &st), KLAW_OK); /* takes it over, retires `other` */
    assert_int_equal(st.receivers, 1);
    assert_int_equal(atomic_load(word) & 0x7fffffffu, 0);
    assert_int_equal(klaw_mpmc_try_send(tx, "x", 1), KLAW_OK);
    klaw_region_close(r);
    free_named(name, tx, rx);
}

/* ---- inspection shares its handle's identity ---------------------------------------- */

typedef struct inspector {
    klaw_channel *ch;
    _Atomic int bad;
} inspector;

static void *inspect_loop(void *p)
{
    inspector *in = p;
    for (int i = 0; i < 300; i++) {
        klaw_channel_stats s;
        if (klaw_channel_read_stats(in->ch, &s) != KLAW_OK)
            atomic_fetch_add(&in->bad, 1);
    }
    return NULL;
}

static void repeated_inspection_claims_one_identity(void **state)
{
    (void)state;
    const char *name = uniq("inspect");
    /* 2 handles: 18 peer slots; two inspectors read stats 300 times each
     * while frames move: each keeps one identity across its inspections
     * (each used to re-claim its slot with a new generation) */
    klaw_mpmc_opts o = {.capacity = 8, .max_frame = 16, .name = name, .max_handles = 2};
    klaw_mpmc_tx *tx;
    klaw_mpmc_rx *rx;
    assert_int_equal(klaw_mpmc_create(&o, &tx, &rx), KLAW_OK);
    /* a klaw_channel is one thread's at a time: one each */
    static inspector in[2];
    for (int i = 0; i < 2; i++) {
        assert_int_equal(klaw_channel_open(name, 0, &in[i].ch, NULL), KLAW_OK);
        atomic_store(&in[i].bad, 0);
    }
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, inspect_loop, &in[i]);
    for (int i = 0; i < 200; i++) {
        assert_int_equal(klaw_mpmc_try_send(tx, "x", 1), KLAW_OK);
        klaw_frame f;
        assert_int_equal(klaw_mpmc_try_view(rx, &f), KLAW_OK);
        assert_int_equal(klaw_mpmc_release(rx, &f), KLAW_OK);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(atomic_load(&in[i].bad), 0);
        klaw_channel_close(in[i].ch);
    }
    klaw_mpmc_stats s;
    assert_int_equal(klaw_mpmc_rx_stats(rx, &s), KLAW_OK);
    assert_int_equal(s.senders, 1);
    assert_int_equal(s.receivers, 1);
    assert_int_equal(s.total_sent, 200);
    free_named(name, tx, rx);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--ns-producer") == 0)
        return ns_producer(argv[2]);
    ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
    if (n > 0)
        self_exe[n] = '\0';
    else
        snprintf(self_exe, sizeof self_exe, "%s", argv[0]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_producer_in_its_own_pid_namespace_is_alive),
        cmocka_unit_test(a_process_whose_main_thread_exited_is_alive),
        cmocka_unit_test(a_hidden_proc_is_not_death),
        cmocka_unit_test(short_deadline_consumers_reap_a_dead_claimant),
        cmocka_unit_test(short_deadline_producers_get_a_dead_viewers_slot_back),
        cmocka_unit_test(short_deadline_select_reaps_a_dead_claimant),
        cmocka_unit_test(short_deadline_watch_receivers_see_a_dead_sender),
        cmocka_unit_test(short_deadline_oneshot_receivers_see_a_dead_sender),
        cmocka_unit_test(a_close_waits_for_a_slow_lock_holder),
        cmocka_unit_test(mpmc_laps_wrap),
        cmocka_unit_test(select_does_not_spin_when_futex_waitv_is_refused),
        cmocka_unit_test(an_open_racing_a_create_waits_for_it),
        cmocka_unit_test(an_orphan_hint_without_an_orphan_is_lowered),
        cmocka_unit_test(forged_lock_words_never_hang),
        cmocka_unit_test(repeated_inspection_claims_one_identity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
