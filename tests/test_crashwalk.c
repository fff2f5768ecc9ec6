/*
 * test_crashwalk.c - every crash point, walked (built with
 * -Dcrashpoints=true; see src/crashpoint.h).
 *
 * For each operation that changes shared state, and for n = 1, 2, ...: a
 * child process arms the n-th crash point and runs the operation; it exits
 * (status 77) right at that point, as if killed there, until an n so large
 * that the operation completes. After each death the survivors - this
 * process, holding a sender and a receiver made before the fork - must go
 * on within liveness + 0.5 s: a frame sent after the death arrives; every
 * frame committed before it that the child did not consume arrives exactly
 * once, nothing arrives twice; the stats agree with the ring (nothing
 * left, sent == received, the dead child's handles gone); and the name can
 * be opened, drained, closed and created again.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "klaw/klaw.h"
#include "crashpoint.h"

#define LIVENESS_NS 100000000ull /* 100 ms */
#define RECOVER_MS (100 + 500)
#define SLICE_MS 100
#define MAX_POINTS 2000
#define NPRE 4

static char name_buf[128], name2_buf[128];
static uint64_t total_points, total_cases;

static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* ---- the operations a child runs --------------------------------------- */

typedef enum op {
    OP_SEND,
    OP_ABORT,
    OP_SEND_BATCH,
    OP_VIEW,
    OP_VIEW_BATCH,
    OP_TOOBIG,
    OP_CLONE_CLOSE,
    OP_SELECT,
    OP_STATS,
    OP_CREATE,
    OP_N
} op;

static const char *op_name[OP_N] = {"open+claim+commit", "open+claim+abort", "open+claim_batch+commit_batch",
                                     "open+view+release", "open+view_batch+release_batch",
                                     "open+recv(TOOBIG)", "open+clone+close", "open+select+release",
                                     "open+stats",        "create+close"};

/* how many leading pre-frames the op may consume for good */
static int op_consumes(op o) { return o == OP_VIEW || o == OP_SELECT ? 1 : o == OP_VIEW_BATCH ? 2 : 0; }

static int run_op(op o)
{
    klaw_frame f[3];
    size_t got;
    klaw_mpmc_tx *tx = NULL, *tx2 = NULL;
    klaw_mpmc_rx *rx = NULL;
    switch (o) {
    case OP_SEND:
        if (klaw_mpmc_open_tx(name_buf, &tx) || klaw_mpmc_try_claim(tx, 1, &f[0]))
            return 1;
        f[0].data[0] = 'c';
        if (klaw_mpmc_commit(tx, &f[0], 1))
            return 2;
        break;
    case OP_ABORT:
        if (klaw_mpmc_open_tx(name_buf, &tx) || klaw_mpmc_try_claim(tx, 1, &f[0]) || klaw_mpmc_abort(tx, &f[0]))
            return 1;
        break;
    case OP_SEND_BATCH:
        if (klaw_mpmc_open_tx(name_buf, &tx) || klaw_mpmc_claim_batch(tx, 1, f, 3, &got, NULL))
            return 1;
        for (size_t i = 0; i < got; i++) {
            f[i].data[0] = 'c';
            f[i].len = 1;
        }
        if (klaw_mpmc_commit_batch(tx, f, got))
            return 2;
        break;
    case OP_VIEW:
        if (klaw_mpmc_open_rx(name_buf, &rx) || klaw_mpmc_try_view(rx, &f[0]) || klaw_mpmc_release(rx, &f[0]))
            return 1;
        break;
    case OP_VIEW_BATCH:
        if (klaw_mpmc_open_rx(name_buf, &rx) || klaw_mpmc_view_batch(rx, f, 2, &got, NULL) ||
            klaw_mpmc_release_batch(rx, f, got))
            return 1;
        break;
    case OP_TOOBIG: {
        size_t len;
        char b;
        if (klaw_mpmc_open_rx(name_buf, &rx) || klaw_mpmc_try_recv(rx, &b, 0, &len) != KLAW_TOOBIG)
            return 1;
        break;
    }
    case OP_CLONE_CLOSE:
        if (klaw_mpmc_open_tx(name_buf, &tx) || klaw_mpmc_tx_clone(tx, &tx2))
            return 1;
        klaw_mpmc_tx_free(tx2);
        break;
    case OP_SELECT: {
        if (klaw_mpmc_open_rx(name_buf, &rx))
            return 1;
        klaw_sel_case c = {KLAW_SEL_MPMC, rx};
        klaw_sel_result r;
        if (klaw_select(&c, 1, 0, NULL, &r) || klaw_sel_release(&c, &r))
            return 2;
        break;
    }
    case OP_STATS: {
        klaw_mpmc_stats s;
        if (klaw_mpmc_open_rx(name_buf, &rx) || klaw_mpmc_rx_stats(rx, &s))
            return 1;
        break;
    }
    case OP_CREATE: {
        klaw_mpmc_opts oo = {.capacity = 4, .max_frame = 8, .name = name2_buf, .liveness_ns = LIVENESS_NS};
        if (klaw_mpmc_create(&oo, &tx, &rx))
            return 1;
        break;
    }
    default:
        return 9;
    }
    klaw_mpmc_tx_free(tx);
    klaw_mpmc_rx_free(rx);
    return 0;
}

static void print_mark(uint64_t n, const char *name) { fprintf(stderr, "    point %llu: %s\n", (unsigned long long)n, name); }

/* ---- one case: crash at point n, check the survivors ---------------------- */

/* 1: the child died at point n; 0: it completed (n is past the last). */
static int one_case(op o, uint64_t n, unsigned flags)
{
    klaw_region_unlink(name_buf);
    klaw_region_unlink(name2_buf);
    klaw_mpmc_opts opts = {.capacity = 8, .max_frame = 8, .name = name_buf, .liveness_ns = LIVENESS_NS,
                           .flags = flags};
    klaw_mpmc_tx *tx;
    klaw_mpmc_rx *rx;
    assert_int_equal(klaw_mpmc_create(&opts, &tx, &rx), KLAW_OK);
    for (int i = 0; i < NPRE; i++) {
        char b = (char)('0' + i);
        assert_int_equal(klaw_mpmc_try_send(tx, &b, 1), KLAW_OK);
    }
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        klaw__crash_arm(n);
        if (getenv("KLAW_CRASHWALK_TRACE"))
            klaw__crash_trace(print_mark);
        int rc = run_op(o);
        _exit(rc == 0 ? 0 : 10 + rc);
    }
    int ws;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    assert_true(WIFEXITED(ws));
    int code = WEXITSTATUS(ws);
    if (code != 0 && code != KLAW_CRASH_EXIT) {
        fprintf(stderr, "%s, point %llu: the operation failed (%d)\n", op_name[o], (unsigned long long)n, code);
        fail();
    }
    int crashed = code == KLAW_CRASH_EXIT;
    int64_t dead_at = mono_ms();

    /* a frame sent after the death arrives, with everything before it */
    klaw_status st = KLAW_TIMEOUT;
    while (st != KLAW_OK && mono_ms() - dead_at < RECOVER_MS) {
        struct timespec d = klaw_deadline_in_ms(SLICE_MS);
        st = klaw_mpmc_send(tx, "z", 1, &d);
    }
    assert_int_equal(st, KLAW_OK);
    int seen[256] = {0};
    int got_z = 0;
    while (!got_z && mono_ms() - dead_at < RECOVER_MS) {
        klaw_frame f;
        struct timespec d = klaw_deadline_in_ms(SLICE_MS);
        st = klaw_mpmc_view(rx, &d, &f);
        if (st == KLAW_TIMEOUT)
            continue;
        assert_int_equal(st, KLAW_OK);
        assert_int_equal(f.len, 1);
        unsigned char c = f.data[0];
        assert_int_equal(klaw_mpmc_release(rx, &f), KLAW_OK);
        if (c == 'z')
            got_z = 1;
        else if (c != 'c' && seen[c]++) {
            fprintf(stderr, "%s, point %llu: '%c' delivered twice\n", op_name[o], (unsigned long long)n, c);
            fail();
        }
    }
    if (!got_z) {
        fprintf(stderr, "%s, point %llu (%s): no recovery within %d ms\n", op_name[o], (unsigned long long)n,
                crashed ? "crashed" : "completed", RECOVER_MS);
        fail();
    }
    /* a view the child held is offered again once its handle is reaped
     * (stats reaps): drain that too */
    for (int round = 0; round < 2; round++) {
        klaw_mpmc_stats s0;
        assert_int_equal(klaw_mpmc_rx_stats(rx, &s0), KLAW_OK);
        klaw_frame f;
        while ((st = klaw_mpmc_try_view(rx, &f)) == KLAW_OK) {
            unsigned char c = f.data[0];
            assert_int_equal(klaw_mpmc_release(rx, &f), KLAW_OK);
            if (c != 'c' && c != 'z' && seen[c]++) {
                fprintf(stderr, "%s, point %llu: '%c' delivered twice\n", op_name[o], (unsigned long long)n, c);
                fail();
            }
        }
        assert_int_equal(st, KLAW_EMPTY);
    }
    /* nothing committed is lost (the frames the op may consume aside) */
    for (int i = op_consumes(o); i < NPRE; i++) {
        if (!seen['0' + i]) {
            fprintf(stderr, "%s, point %llu: '%c' lost\n", op_name[o], (unsigned long long)n, '0' + i);
            fail();
        }
    }
    /* the stats agree with the ring: empty, every claim accounted for */
    klaw_mpmc_stats s;
    assert_int_equal(klaw_mpmc_rx_stats(rx, &s), KLAW_OK);
    assert_int_equal(s.depth, 0);
    assert_int_equal(s.senders, 1);
    assert_int_equal(s.receivers, 1);
    if (s.total_sent != s.total_received) {
        fprintf(stderr, "%s, point %llu: sent %llu, received %llu (aborted %llu, redelivered %llu, reaped %llu)\n",
                op_name[o], (unsigned long long)n, (unsigned long long)s.total_sent,
                (unsigned long long)s.total_received, (unsigned long long)s.aborted_claims,
                (unsigned long long)s.redelivered, (unsigned long long)s.reaped_handles);
        fail();
    }
    /* the name opens, and closes, and is made again */
    klaw_mpmc_rx *rx2;
    assert_int_equal(klaw_mpmc_open_rx(name_buf, &rx2), KLAW_OK);
    klaw_mpmc_rx_free(rx2);
    klaw_mpmc_tx_free(tx);
    klaw_mpmc_rx_free(rx);
    assert_int_equal(klaw_region_unlink(name_buf), KLAW_OK);
    if (o == OP_CREATE) {
        /* a creator that died: its name says so at once (never a hang) and
         * is made again once removed */
        klaw_mpmc_rx *r3 = NULL;
        klaw_status os = klaw_mpmc_open_rx(name2_buf, &r3);
        assert_true(os == KLAW_OK || os == KLAW_NOENT || os == KLAW_CORRUPT || os == KLAW_CLOSED);
        if (r3)
            klaw_mpmc_rx_free(r3);
        klaw_region_unlink(name2_buf);
        klaw_mpmc_opts oo = {.capacity = 4, .max_frame = 8, .name = name2_buf};
        klaw_mpmc_tx *t3;
        klaw_mpmc_rx *r4;
        assert_int_equal(klaw_mpmc_create(&oo, &t3, &r4), KLAW_OK);
        klaw_mpmc_tx_free(t3);
        klaw_mpmc_rx_free(r4);
        klaw_region_unlink(name2_buf);
    }
    return crashed;
}

/* The one-to-one ring (KLAW_MPMC_SINGLE_PRODUCER | SINGLE_CONSUMER):
 * one sender and one receiver at most, so the survivor holds the role the
 * child does not take. The child's death then closes its side for good
 * (its role came and went) - unless it died before it held the role: then
 * the role is free again and a new handle takes it. Either way within
 * liveness + 0.5 s: the receiver left behind gets every frame committed
 * exactly once, then KLAW_CLOSED; the sender left behind gets
 * KLAW_CLOSED (or, the role free, a receiver opened now gets every frame
 * once); stats agree; the name is made again. */
static int producer_op(op o) { return o == OP_SEND || o == OP_ABORT || o == OP_SEND_BATCH; }

static void wait_ms(int ms)
{
    struct timespec d = {0, (long)ms * 1000000};
    nanosleep(&d, NULL);
}

static int one_case_1to1(op o, uint64_t n)
{
    klaw_region_unlink(name_buf);
    klaw_region_unlink(name2_buf);
    klaw_mpmc_opts opts = {.capacity = 8, .max_frame = 8, .name = name_buf, .liveness_ns = LIVENESS_NS,
                           .flags = KLAW_MPMC_SINGLE_PRODUCER | KLAW_MPMC_SINGLE_CONSUMER};
    assert_int_equal(klaw_mpmc_create(&opts, NULL, NULL), KLAW_OK);
    int child_tx = producer_op(o);
    klaw_mpmc_tx *tx = NULL;
    klaw_mpmc_rx *rx = NULL;
    if (child_tx) {
        assert_int_equal(klaw_mpmc_open_rx(name_buf, &rx), KLAW_OK);
    } else {
        assert_int_equal(klaw_mpmc_open_tx(name_buf, &tx), KLAW_OK);
        for (int i = 0; i < NPRE; i++) {
            char b = (char)('0' + i);
            assert_int_equal(klaw_mpmc_try_send(tx, &b, 1), KLAW_OK);
        }
    }
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        klaw__crash_arm(n);
        int rc = run_op(o);
        _exit(rc == 0 ? 0 : 10 + rc);
    }
    int ws;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    assert_true(WIFEXITED(ws));
    int code = WEXITSTATUS(ws);
    if (code != 0 && code != KLAW_CRASH_EXIT) {
        fprintf(stderr, "1:1 %s, point %llu: the operation failed (%d)\n", op_name[o], (unsigned long long)n, code);
        fail();
    }
    int64_t dead_at = mono_ms();
    klaw_mpmc_stats s;
    int seen[256] = {0};
    int role_free = 0;
    klaw_status st = KLAW_TIMEOUT;
    if (child_tx) {
        /* drain in 100 ms slices until CLOSED; a slice with nothing and no
         * sender, open or closed, means the child never held the role */
        while (st != KLAW_CLOSED && mono_ms() - dead_at < RECOVER_MS) {
            klaw_frame f;
            struct timespec d = klaw_deadline_in_ms(SLICE_MS);
            st = klaw_mpmc_view(rx, &d, &f);
            if (st == KLAW_OK) {
                assert_int_equal(f.len, 1);
                assert_int_equal(f.data[0], 'c');
                seen['c']++;
                assert_int_equal(klaw_mpmc_release(rx, &f), KLAW_OK);
            } else if (st == KLAW_TIMEOUT) {
                assert_int_equal(klaw_mpmc_rx_stats(rx, &s), KLAW_OK);
                if (s.senders == 0 && !s.senders_closed) {
                    role_free = 1;
                    break;
                }
            } else {
                assert_int_equal(st, KLAW_CLOSED);
            }
        }
        assert_true(seen['c'] <= 3);
        if (code == 0 && o == OP_SEND)
            assert_int_equal(seen['c'], 1);
        if (o == OP_ABORT)
            assert_int_equal(seen['c'], 0);
        if (role_free) {
            /* a sender that comes now is heard */
            while (klaw_mpmc_open_tx(name_buf, &tx) != KLAW_OK && mono_ms() - dead_at < RECOVER_MS)
                wait_ms(10);
            assert_non_null(tx);
            assert_int_equal(klaw_mpmc_try_send(tx, "z", 1), KLAW_OK);
            klaw_frame f;
            assert_int_equal(klaw_mpmc_try_view(rx, &f), KLAW_OK);
            assert_int_equal(f.data[0], 'z');
            assert_int_equal(klaw_mpmc_release(rx, &f), KLAW_OK);
            st = KLAW_OK;
        }
    } else {
        /* the sender learns the receiver is gone (CLOSED), or finds the
         * receiver's role free */
        while (mono_ms() - dead_at < RECOVER_MS) {
            st = klaw_mpmc_try_send(tx, "z", 1);
            if (st == KLAW_CLOSED)
                break;
            assert_true(st == KLAW_OK || st == KLAW_FULL);
            assert_int_equal(klaw_mpmc_tx_stats(tx, &s), KLAW_OK);
            if (s.receivers == 0 && !s.receivers_closed) {
                role_free = 1;
                break;
            }
            wait_ms(20);
        }
        if (role_free) {
            /* a receiver that comes now gets every frame exactly once */
            while (klaw_mpmc_open_rx(name_buf, &rx) != KLAW_OK && mono_ms() - dead_at < RECOVER_MS)
                wait_ms(10);
            assert_non_null(rx);
            klaw_frame f;
            while ((st = klaw_mpmc_try_view(rx, &f)) == KLAW_OK) {
                unsigned char c = f.data[0];
                assert_int_equal(klaw_mpmc_release(rx, &f), KLAW_OK);
                if (c != 'z' && seen[c]++) {
                    fprintf(stderr, "1:1 %s, point %llu: '%c' delivered twice\n", op_name[o], (unsigned long long)n,
                            c);
                    fail();
                }
            }
            assert_int_equal(st, KLAW_EMPTY);
            for (int i = 0; i < NPRE; i++)
                assert_true(seen['0' + i] == 1);
            st = KLAW_OK;
        }
    }
    if (st != KLAW_OK && st != KLAW_CLOSED) {
        fprintf(stderr, "1:1 %s, point %llu (%s): no recovery within %d ms (%s)\n", op_name[o],
                (unsigned long long)n, code == 0 ? "completed" : "crashed", RECOVER_MS, klaw_strerror(st));
        fail();
    }
    /* the stats agree: the dead side is gone, nothing claimed is held */
    if (tx)
        assert_int_equal(klaw_mpmc_tx_stats(tx, &s), KLAW_OK);
    else
        assert_int_equal(klaw_mpmc_rx_stats(rx, &s), KLAW_OK);
    assert_int_equal(s.senders, tx ? 1 : 0);
    assert_int_equal(s.receivers, rx ? 1 : 0);
    if (rx && tx)
        assert_int_equal(s.depth, 0);
    if (rx && !tx)
        assert_int_equal(s.total_sent, s.total_received);
    klaw_mpmc_tx_free(tx);
    klaw_mpmc_rx_free(rx);
    assert_int_equal(klaw_region_unlink(name_buf), KLAW_OK);
    assert_int_equal(klaw_mpmc_create(&opts, &tx, &rx), KLAW_OK);
    klaw_mpmc_tx_free(tx);
    klaw_mpmc_rx_free(rx);
    assert_int_equal(klaw_region_unlink(name_buf), KLAW_OK);
    return code == KLAW_CRASH_EXIT;
}

static void walk(op o, unsigned flags)
{
    if (flags && (o == OP_CLONE_CLOSE || o == OP_CREATE))
        return; /* no second sender to clone; create is walked above */
    uint64_t n = 1;
    while (n < MAX_POINTS && (flags ? one_case_1to1(o, n) : one_case(o, n, flags)))
        n++;
    assert_true(n < MAX_POINTS);
    fprintf(stderr, "mpmc%s %-32s %3llu crash points walked\n", flags ? " 1:1" : "    ", op_name[o],
            (unsigned long long)(n - 1));
    total_points += n - 1;
    total_cases += n;
}

static void mpmc_every_crash_point(void **state)
{
    (void)state;
    snprintf(name_buf, sizeof name_buf, "tcrash-%d", (int)getpid());
    snprintf(name2_buf, sizeof name2_buf, "tcrash2-%d", (int)getpid());
    for (int o = 0; o < OP_N; o++)
        walk((op)o, 0);
    for (int o = 0; o < OP_N; o++)
        walk((op)o, KLAW_MPMC_SINGLE_PRODUCER | KLAW_MPMC_SINGLE_CONSUMER);
    fprintf(stderr, "mpmc: %llu crash points, %llu cases\n", (unsigned long long)total_points,
            (unsigned long long)total_cases);
}

/* ---- watch ------------------------------------------------------------------ */

typedef enum wop { W_SEND, W_BORROW, W_GET, W_CLONE_CLOSE, W_STATS, W_SELECT, W_CREATE, W_N } wop;
static const char *wop_name[W_N] = {"open+send", "open+borrow+release", "open+get", "open+clone+close",
                                    "open+stats", "open rx+tx+send+select+release", "create+close"};

static int run_wop(wop o)
{
    klaw_watch_tx *tx = NULL, *tx2 = NULL;
    klaw_watch_rx *rx = NULL;
    klaw_frame f;
    char buf[8];
    size_t len;
    uint64_t ver;
    switch (o) {
    case W_SEND:
        if (klaw_watch_open_tx(name_buf, &tx) || klaw_watch_send(tx, "c", 1, NULL))
            return 1;
        break;
    case W_BORROW:
        if (klaw_watch_open_rx(name_buf, &rx) || klaw_watch_borrow(rx, &f) || klaw_watch_release(rx, &f))
            return 1;
        break;
    case W_GET:
        if (klaw_watch_open_rx(name_buf, &rx) || klaw_watch_get(rx, buf, sizeof buf, &len, &ver))
            return 1;
        break;
    case W_CLONE_CLOSE:
        if (klaw_watch_open_tx(name_buf, &tx) || klaw_watch_tx_clone(tx, &tx2))
            return 1;
        klaw_watch_tx_free(tx2);
        break;
    case W_STATS: {
        klaw_watch_stats st;
        if (klaw_watch_open_rx(name_buf, &rx) || klaw_watch_rx_stats(rx, &st))
            return 1;
        break;
    }
    case W_SELECT: {
        /* a new receiver has seen the value current when it opened: the
         * child sends one of its own for its select to take */
        if (klaw_watch_open_rx(name_buf, &rx) || klaw_watch_open_tx(name_buf, &tx) ||
            klaw_watch_send(tx, "c", 1, NULL))
            return 1;
        klaw_sel_case sc = {KLAW_SEL_WATCH, rx};
        klaw_sel_result r;
        struct timespec d = klaw_deadline_in_ms(2000);
        if (klaw_select(&sc, 1, 0, &d, &r) || klaw_sel_release(&sc, &r))
            return 2;
        break;
    }
    case W_CREATE: {
        klaw_watch_opts oo = {.max_frame = 8, .name = name2_buf, .liveness_ns = LIVENESS_NS};
        if (klaw_watch_create(&oo, &tx, &rx))
            return 1;
        break;
    }
    default:
        return 9;
    }
    klaw_watch_tx_free(tx);
    klaw_watch_rx_free(rx);
    return 0;
}

/* A creator that died: its name says so (never a hang: the open waits
 * at most its timeout for a creation in progress) and is made again once
 * removed. make() creates name2 and closes what it made. */
static void name2_after_dead_creator(klaw_status (*probe)(void), klaw_status (*make)(void))
{
    klaw_status os = probe();
    if (os != KLAW_OK && os != KLAW_NOENT && os != KLAW_CORRUPT && os != KLAW_CLOSED && os != KLAW_TIMEOUT) {
        fprintf(stderr, "open after a dead creator: %s\n", klaw_strerror(os));
        fail();
    }
    klaw_region_unlink(name2_buf);
    assert_int_equal(make(), KLAW_OK);
    klaw_region_unlink(name2_buf);
}

static klaw_status watch_probe2(void)
{
    klaw_watch_rx *r = NULL;
    klaw_status st = klaw_watch_open_rx(name2_buf, &r);
    klaw_watch_rx_free(r);
    return st;
}

static klaw_status watch_make2(void)
{
    klaw_watch_opts oo = {.max_frame = 8, .name = name2_buf};
    klaw_watch_tx *t;
    klaw_watch_rx *r;
    klaw_status st = klaw_watch_create(&oo, &t, &r);
    if (st == KLAW_OK) {
        klaw_watch_tx_free(t);
        klaw_watch_rx_free(r);
    }
    return st;
}

static int one_wcase(wop o, uint64_t n)
{
    klaw_region_unlink(name_buf);
    klaw_region_unlink(name2_buf);
    klaw_watch_opts opts = {.max_frame = 8, .name = name_buf, .liveness_ns = LIVENESS_NS};
    klaw_watch_tx *tx;
    klaw_watch_rx *rx;
    assert_int_equal(klaw_watch_create(&opts, &tx, &rx), KLAW_OK);
    assert_int_equal(klaw_watch_send(tx, "a", 1, NULL), KLAW_OK);
    pid_t pid = fork();
    if (pid == 0) {
        klaw__crash_arm(n);
        _exit(run_wop(o) == 0 ? 0 : 11);
    }
    int ws;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    assert_true(WIFEXITED(ws));
    int code = WEXITSTATUS(ws);
    if (code != 0 && code != KLAW_CRASH_EXIT) {
        fprintf(stderr, "watch %s, point %llu: the operation failed (%d)\n", wop_name[o], (unsigned long long)n,
                code);
        fail();
    }
    /* the value is the old one or the child's, never torn; a send after the
     * death gets through (the sender lock is taken over) and is seen */
    char buf[8];
    size_t len = 0;
    uint64_t ver;
    assert_int_equal(klaw_watch_get(rx, buf, sizeof buf, &len, &ver), KLAW_OK);
    assert_int_equal(len, 1);
    assert_true(buf[0] == 'a' || buf[0] == 'c');
    int64_t t0 = mono_ms();
    klaw_status st = KLAW_TIMEOUT;
    while (st != KLAW_OK && mono_ms() - t0 < RECOVER_MS)
        st = klaw_watch_send(tx, "z", 1, NULL);
    assert_int_equal(st, KLAW_OK);
    assert_int_equal(klaw_watch_get(rx, buf, sizeof buf, &len, &ver), KLAW_OK);
    assert_int_equal(buf[0], 'z');
    klaw_watch_stats s;
    st = KLAW_TIMEOUT;
    while (mono_ms() - t0 < RECOVER_MS) {
        assert_int_equal(klaw_watch_rx_stats(rx, &s), KLAW_OK);
        if (s.senders == 1 && s.receivers == 1)
            break;
        struct timespec d = {0, 20000000};
        nanosleep(&d, NULL);
    }
    if (s.senders != 1 || s.receivers != 1) {
        fprintf(stderr, "watch %s, point %llu: %u senders, %u receivers after recovery\n", wop_name[o],
                (unsigned long long)n, s.senders, s.receivers);
        fail();
    }
    klaw_watch_rx *rx2;
    assert_int_equal(klaw_watch_open_rx(name_buf, &rx2), KLAW_OK);
    klaw_watch_rx_free(rx2);
    klaw_watch_tx_free(tx);
    klaw_watch_rx_free(rx);
    assert_int_equal(klaw_region_unlink(name_buf), KLAW_OK);
    if (o == W_CREATE)
        name2_after_dead_creator(watch_probe2, watch_make2);
    return code == KLAW_CRASH_EXIT;
}

static void watch_every_crash_point(void **state)
{
    (void)state;
    snprintf(name_buf, sizeof name_buf, "tcrashw-%d", (int)getpid());
    snprintf(name2_buf, sizeof name2_buf, "tcrashw2-%d", (int)getpid());
    uint64_t points = 0, cases = 0;
    for (int o = 0; o < W_N; o++) {
        uint64_t n = 1;
        while (n < MAX_POINTS && one_wcase((wop)o, n))
            n++;
        assert_true(n < MAX_POINTS);
        fprintf(stderr, "watch    %-32s %3llu crash points walked\n", wop_name[o], (unsigned long long)(n - 1));
        points += n - 1;
        cases += n;
    }
    fprintf(stderr, "watch: %llu crash points, %llu cases\n", (unsigned long long)points, (unsigned long long)cases);
    total_points += points;
    total_cases += cases;
}

/* ---- oneshot ----------------------------------------------------------------- */

typedef enum oop { O_SEND, O_RECV, O_VIEW, O_SELECT, O_CREATE, O_N } oop;
static const char *oop_name[O_N] = {"open tx+send", "open rx+recv", "open rx+view+release", "open rx+select+release",
                                    "create+close"};

static klaw_status oneshot_probe2(void)
{
    klaw_oneshot_rx *r = NULL;
    klaw_status st = klaw_oneshot_open_rx(name2_buf, &r);
    klaw_oneshot_rx_free(r);
    return st;
}

static klaw_status oneshot_make2(void)
{
    klaw_oneshot_opts oo = {.max_frame = 8, .name = name2_buf};
    klaw_oneshot_tx *t;
    klaw_oneshot_rx *r;
    klaw_status st = klaw_oneshot_create(&oo, &t, &r);
    if (st == KLAW_OK) {
        klaw_oneshot_tx_free(t);
        klaw_oneshot_rx_free(r);
    }
    return st;
}

static void oneshot_every_crash_point(void **state)
{
    (void)state;
    snprintf(name_buf, sizeof name_buf, "tcrasho-%d", (int)getpid());
    snprintf(name2_buf, sizeof name2_buf, "tcrasho2-%d", (int)getpid());
    uint64_t points = 0, cases = 0;
    for (int o = 0; o < O_N; o++) {
        uint64_t n = 1;
        for (;; n++) {
            assert_true(n < MAX_POINTS);
            klaw_region_unlink(name_buf);
            klaw_region_unlink(name2_buf);
            klaw_oneshot_opts opts = {.max_frame = 8, .name = name_buf, .liveness_ns = LIVENESS_NS};
            assert_int_equal(klaw_oneshot_create(&opts, NULL, NULL), KLAW_OK);
            /* the survivor holds the other role */
            klaw_oneshot_tx *tx = NULL;
            klaw_oneshot_rx *rx = NULL;
            if (o == O_SEND)
                assert_int_equal(klaw_oneshot_open_rx(name_buf, &rx), KLAW_OK);
            else {
                assert_int_equal(klaw_oneshot_open_tx(name_buf, &tx), KLAW_OK);
                assert_int_equal(klaw_oneshot_send(tx, "v", 1), KLAW_OK);
            }
            pid_t pid = fork();
            if (pid == 0) {
                klaw__crash_arm(n);
                char buf[8];
                size_t len;
                klaw_frame f;
                klaw_oneshot_tx *t;
                klaw_oneshot_rx *r;
                int rc = 0;
                if (o == O_SEND)
                    rc = klaw_oneshot_open_tx(name_buf, &t) || klaw_oneshot_send(t, "c", 1);
                else if (o == O_RECV)
                    rc = klaw_oneshot_open_rx(name_buf, &r) || klaw_oneshot_recv(r, buf, sizeof buf, &len, NULL);
                else if (o == O_VIEW)
                    rc = klaw_oneshot_open_rx(name_buf, &r) || klaw_oneshot_view(r, NULL, &f) ||
                         klaw_oneshot_release(r, &f);
                else if (o == O_SELECT) {
                    rc = klaw_oneshot_open_rx(name_buf, &r);
                    if (!rc) {
                        klaw_sel_case sc = {KLAW_SEL_ONESHOT, r};
                        klaw_sel_result res;
                        rc = klaw_select(&sc, 1, 0, NULL, &res) || klaw_sel_release(&sc, &res);
                    }
                } else {
                    klaw_oneshot_opts oo = {.max_frame = 8, .name = name2_buf, .liveness_ns = LIVENESS_NS};
                    rc = klaw_oneshot_create(&oo, &t, &r);
                    if (!rc) {
                        klaw_oneshot_tx_free(t);
                        klaw_oneshot_rx_free(r);
                    }
                }
                _exit(rc ? 11 : 0);
            }
            int ws;
            assert_int_equal(waitpid(pid, &ws, 0), pid);
            assert_true(WIFEXITED(ws));
            int code = WEXITSTATUS(ws);
            assert_true(code == 0 || code == KLAW_CRASH_EXIT);
            int64_t t0 = mono_ms();
            if (o == O_CREATE) {
                /* name_buf untouched: the survivor's value is still there */
                char buf[8];
                size_t len = 0;
                assert_int_equal(klaw_oneshot_open_rx(name_buf, &rx), KLAW_OK);
                assert_int_equal(klaw_oneshot_try_recv(rx, buf, sizeof buf, &len), KLAW_OK);
                name2_after_dead_creator(oneshot_probe2, oneshot_make2);
            } else if (o == O_SEND) {
                /* the value if it was sent, else CLOSED - never a hang */
                klaw_status st = KLAW_TIMEOUT;
                char buf[8];
                size_t len = 0;
                while (st == KLAW_TIMEOUT && mono_ms() - t0 < RECOVER_MS) {
                    struct timespec d = klaw_deadline_in_ms(SLICE_MS);
                    st = klaw_oneshot_recv(rx, buf, sizeof buf, &len, &d);
                }
                if (st == KLAW_TIMEOUT) {
                    /* died before it held the sender's role: the role is
                     * free, and a sender that comes later is heard */
                    assert_int_equal(klaw_oneshot_open_tx(name_buf, &tx), KLAW_OK);
                    assert_int_equal(klaw_oneshot_send(tx, "c", 1), KLAW_OK);
                    st = klaw_oneshot_try_recv(rx, buf, sizeof buf, &len);
                }
                if (st != KLAW_OK && st != KLAW_CLOSED) {
                    fprintf(stderr, "oneshot %s, point %llu (exit %d): %s\n", oop_name[o], (unsigned long long)n,
                            code, klaw_strerror(st));
                    fail();
                }
                if (st == KLAW_OK)
                    assert_true(len == 1 && buf[0] == 'c');
                if (code == 0)
                    assert_int_equal(st, KLAW_OK);
            } else {
                /* the sender learns that the receiver is gone */
                klaw_status st = KLAW_TIMEOUT;
                while (st == KLAW_TIMEOUT && mono_ms() - t0 < RECOVER_MS) {
                    struct timespec d = klaw_deadline_in_ms(SLICE_MS);
                    st = klaw_oneshot_wait_closed(tx, &d);
                }
                if (st == KLAW_TIMEOUT) {
                    /* died before it held the receiver's role: a receiver
                     * that comes later gets the value */
                    char buf[8];
                    size_t len = 0;
                    assert_int_equal(klaw_oneshot_open_rx(name_buf, &rx), KLAW_OK);
                    st = klaw_oneshot_try_recv(rx, buf, sizeof buf, &len);
                    assert_true(st == KLAW_OK && len == 1 && buf[0] == 'v');
                }
                assert_int_equal(st, KLAW_OK);
            }
            klaw_oneshot_tx_free(tx);
            klaw_oneshot_rx_free(rx);
            assert_int_equal(klaw_region_unlink(name_buf), KLAW_OK);
            if (code == 0)
                break;
        }
        fprintf(stderr, "oneshot  %-32s %3llu crash points walked\n", oop_name[o], (unsigned long long)(n - 1));
        points += n - 1;
        cases += n;
    }
    fprintf(stderr, "oneshot: %llu crash points, %llu cases\n", (unsigned long long)points,
            (unsigned long long)cases);
    total_points += points;
    total_cases += cases;
}

/* ---- broadcast (BLOCK: a dead receiver holds the writers until evicted) ---- */

typedef enum bop {
    B_SEND,
    B_ABORT,
    B_SEND_BATCH,
    B_SUBSCRIBE_VIEW,
    B_VIEW_BATCH,
    B_SELECT,
    B_CLONE_CLOSE,
    B_STATS,
    B_CREATE,
    B_N
} bop;
static const char *bop_name[B_N] = {"open tx+claim+commit", "open tx+claim+abort", "open tx+batch+commit_batch",
                                    "open rx+view+release", "open rx+view_batch+release_batch",
                                    "open rx+select+release", "open tx+clone+close", "open tx+stats",
                                    "create+subscribe+close"};

static int run_bop(bop o)
{
    klaw_bcast_tx *tx = NULL, *tx2 = NULL;
    klaw_bcast_rx *rx = NULL;
    klaw_frame f[3];
    size_t got;
    uint64_t lagged;
    switch (o) {
    case B_SEND:
        if (klaw_bcast_open_tx(name_buf, &tx) || klaw_bcast_try_claim(tx, 1, &f[0]))
            return 1;
        f[0].data[0] = 'c';
        if (klaw_bcast_commit(tx, &f[0], 1))
            return 2;
        break;
    case B_ABORT:
        if (klaw_bcast_open_tx(name_buf, &tx) || klaw_bcast_try_claim(tx, 1, &f[0]) || klaw_bcast_abort(tx, &f[0]))
            return 1;
        break;
    case B_SEND_BATCH:
        if (klaw_bcast_open_tx(name_buf, &tx) || klaw_bcast_claim_batch(tx, 1, f, 2, &got, NULL))
            return 1;
        for (size_t i = 0; i < got; i++) {
            f[i].data[0] = 'c';
            f[i].len = 1;
        }
        if (klaw_bcast_commit_batch(tx, f, got))
            return 2;
        break;
    case B_SUBSCRIBE_VIEW:
        if (klaw_bcast_open_rx(name_buf, KLAW_BCAST_FROM_OLDEST, NULL, &rx) ||
            klaw_bcast_try_view(rx, &f[0], &lagged) || klaw_bcast_release(rx, &f[0]))
            return 1;
        break;
    case B_VIEW_BATCH:
        if (klaw_bcast_open_rx(name_buf, KLAW_BCAST_FROM_OLDEST, NULL, &rx) ||
            klaw_bcast_view_batch(rx, f, 2, &got, &lagged, NULL) || klaw_bcast_release_batch(rx, f, got))
            return 1;
        break;
    case B_SELECT: {
        if (klaw_bcast_open_rx(name_buf, KLAW_BCAST_FROM_OLDEST, NULL, &rx))
            return 1;
        klaw_sel_case sc = {KLAW_SEL_BROADCAST, rx};
        klaw_sel_result r;
        if (klaw_select(&sc, 1, 0, NULL, &r) || klaw_sel_release(&sc, &r))
            return 2;
        break;
    }
    case B_CREATE: {
        klaw_bcast_opts oo = {.capacity = 4, .max_frame = 8, .policy = KLAW_POLICY_BLOCK, .name = name2_buf,
                              .liveness_ns = LIVENESS_NS};
        if (klaw_bcast_create(&oo, &tx) || klaw_bcast_subscribe(tx, 0, NULL, &rx))
            return 1;
        break;
    }
    case B_CLONE_CLOSE:
        if (klaw_bcast_open_tx(name_buf, &tx) || klaw_bcast_tx_clone(tx, &tx2))
            return 1;
        klaw_bcast_tx_free(tx2);
        break;
    case B_STATS: {
        klaw_bcast_stats st;
        if (klaw_bcast_open_tx(name_buf, &tx) || klaw_bcast_tx_stats(tx, &st))
            return 1;
        break;
    }
    default:
        return 9;
    }
    klaw_bcast_tx_free(tx);
    klaw_bcast_rx_free(rx);
    return 0;
}

static int one_bcase(bop o, uint64_t n)
{
    klaw_region_unlink(name_buf);
    klaw_region_unlink(name2_buf);
    /* capacity 4 with 3 frames retained: a dead receiver at the oldest
     * blocks the writer at the second frame after the death */
    klaw_bcast_opts opts = {.capacity = 4, .max_frame = 8, .policy = KLAW_POLICY_BLOCK, .name = name_buf,
                            .liveness_ns = LIVENESS_NS};
    klaw_bcast_tx *tx;
    klaw_bcast_rx *rx;
    assert_int_equal(klaw_bcast_create(&opts, &tx), KLAW_OK);
    assert_int_equal(klaw_bcast_subscribe(tx, 0, "survivor", &rx), KLAW_OK);
    for (int i = 0; i < 3; i++) {
        char b = (char)('0' + i);
        assert_int_equal(klaw_bcast_try_send(tx, &b, 1), KLAW_OK);
    }
    pid_t pid = fork();
    if (pid == 0) {
        klaw__crash_arm(n);
        _exit(run_bop(o) == 0 ? 0 : 11);
    }
    int ws;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    assert_true(WIFEXITED(ws));
    int code = WEXITSTATUS(ws);
    if (code != 0 && code != KLAW_CRASH_EXIT) {
        fprintf(stderr, "broadcast %s, point %llu: the operation failed (%d)\n", bop_name[o],
                (unsigned long long)n, code);
        fail();
    }
    /* the survivor reads everything in order, exactly once, while the
     * writer sends two more (BLOCK: past a dead receiver once evicted) */
    int64_t t0 = mono_ms();
    char seen[16];
    int nseen = 0, sent = 0;
    uint64_t last_seq = 0;
    klaw_status st;
    while ((sent < 2 || nseen == 0 || seen[nseen - 1] != 'y') && mono_ms() - t0 < RECOVER_MS) {
        struct timespec d = klaw_deadline_in_ms(SLICE_MS / 2);
        if (sent < 2 && klaw_bcast_send(tx, sent ? "y" : "x", 1, &d) == KLAW_OK)
            sent++;
        klaw_frame f;
        uint64_t lagged = 0;
        d = klaw_deadline_in_ms(SLICE_MS / 2);
        st = klaw_bcast_view(rx, &d, &f, &lagged);
        if (st == KLAW_TIMEOUT)
            continue;
        assert_int_equal(st, KLAW_OK);
        assert_true(nseen == 0 || f.seq > last_seq);
        last_seq = f.seq;
        assert_true(nseen < (int)sizeof seen);
        seen[nseen++] = (char)f.data[0];
        assert_int_equal(klaw_bcast_release(rx, &f), KLAW_OK);
    }
    if (sent < 2 || nseen == 0 || seen[nseen - 1] != 'y') {
        fprintf(stderr, "broadcast %s, point %llu (%s): no recovery within %d ms (sent %d, read %d)\n",
                bop_name[o], (unsigned long long)n, code ? "crashed" : "completed", RECOVER_MS, sent, nseen);
        fail();
    }
    /* 0 1 2, maybe the child's c's, x y */
    assert_true(nseen >= 5 && seen[0] == '0' && seen[1] == '1' && seen[2] == '2');
    assert_true(seen[nseen - 2] == 'x');
    for (int i = 3; i < nseen - 2; i++)
        assert_int_equal(seen[i], 'c');
    klaw_bcast_stats s;
    for (;;) {
        assert_int_equal(klaw_bcast_tx_stats(tx, &s), KLAW_OK);
        if ((s.writers == 1 && s.readers == 1) || mono_ms() - t0 > RECOVER_MS)
            break;
        struct timespec d = {0, 20000000};
        nanosleep(&d, NULL);
    }
    if (s.writers != 1 || s.readers != 1) {
        fprintf(stderr, "broadcast %s, point %llu: %u writers, %u readers after recovery\n", bop_name[o],
                (unsigned long long)n, s.writers, s.readers);
        fail();
    }
    klaw_bcast_rx *rx2;
    assert_int_equal(klaw_bcast_open_rx(name_buf, 0, NULL, &rx2), KLAW_OK);
    klaw_bcast_rx_free(rx2);
    klaw_bcast_rx_free(rx);
    klaw_bcast_tx_free(tx);
    assert_int_equal(klaw_region_unlink(name_buf), KLAW_OK);
    if (o == B_CREATE) {
        /* a creator that died: its name says so at once, and is made again */
        klaw_bcast_rx *r3 = NULL;
        klaw_status os = klaw_bcast_open_rx(name2_buf, 0, NULL, &r3);
        assert_true(os == KLAW_OK || os == KLAW_NOENT || os == KLAW_CORRUPT || os == KLAW_CLOSED);
        if (r3)
            klaw_bcast_rx_free(r3);
        klaw_region_unlink(name2_buf);
        klaw_bcast_opts oo = {.capacity = 4, .max_frame = 8, .name = name2_buf};
        klaw_bcast_tx *t3;
        assert_int_equal(klaw_bcast_create(&oo, &t3), KLAW_OK);
        klaw_bcast_tx_free(t3);
        klaw_region_unlink(name2_buf);
    }
    return code == KLAW_CRASH_EXIT;
}

static void broadcast_every_crash_point(void **state)
{
    (void)state;
    snprintf(name_buf, sizeof name_buf, "tcrashb-%d", (int)getpid());
    snprintf(name2_buf, sizeof name2_buf, "tcrashb2-%d", (int)getpid());
    uint64_t points = 0, cases = 0;
    for (int o = 0; o < B_N; o++) {
        uint64_t n = 1;
        while (n < MAX_POINTS && one_bcase((bop)o, n))
            n++;
        assert_true(n < MAX_POINTS);
        fprintf(stderr, "bcast    %-32s %3llu crash points walked\n", bop_name[o], (unsigned long long)(n - 1));
        points += n - 1;
        cases += n;
    }
    fprintf(stderr, "broadcast: %llu crash points, %llu cases\n", (unsigned long long)points,
            (unsigned long long)cases);
    total_points += points;
    total_cases += cases;
}

static void totals(void **state)
{
    (void)state;
    fprintf(stderr, "crash-point walk: %llu crash points, %llu cases in all\n", (unsigned long long)total_points,
            (unsigned long long)total_cases);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mpmc_every_crash_point),
        cmocka_unit_test(broadcast_every_crash_point),
        cmocka_unit_test(watch_every_crash_point),
        cmocka_unit_test(oneshot_every_crash_point),
        cmocka_unit_test(totals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
