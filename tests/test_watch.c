/* test_watch.c - the watch channel in its three set-ups (in-process RCU
 * records, versioned slots in an anonymous region shared with forked
 * children, a named region): seen/changed semantics, waking and deadlines,
 * closing, clones, no torn value/version under stress in threads and across
 * processes, borrow validation when the slot is reused during a borrow,
 * RCU records surviving a long borrow, a SIGKILLed sender, hostile
 * regions, the select hook and inspection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "klaw/broadcast.h"
#include "klaw/region.h"
#include "klaw/registry.h"
#include "klaw/watch.h"
#include "inspect.h"
#include "select_impl.h"

/* Under ThreadSanitizer: the process forks after it used call_rcu, and
 * liburcu's fork handler (registered by watch.c) starts a new call_rcu
 * worker in each child, which TSan refuses by default. Allow it; every
 * other TSan option comes from the environment. */
const char *__tsan_default_options(void);
const char *__tsan_default_options(void) { return "die_after_fork=0"; }

enum { M_RCU = 0, M_ANON_SHARED = 1, M_NAMED = 2, NMODES = 3 };
static const char *const mode_name[NMODES] = {"rcu", "anon-shared", "named"};

static char name_buf[64];
static const char *uniq(const char *tag)
{
    snprintf(name_buf, sizeof name_buf, "twatch-%d-%s", (int)getpid(), tag);
    klaw_region_unlink(name_buf);
    return name_buf;
}

static struct timespec watchdog(void) { return klaw_deadline_in_ms(120000); }

static void create(int mode, uint32_t maxf, uint32_t slots, const char *tag, klaw_watch_tx **tx,
                   klaw_watch_rx **rx)
{
    klaw_watch_opts o = {.max_frame = maxf,
                         .name = mode == M_NAMED ? uniq(tag) : NULL,
                         .process_shared = mode == M_ANON_SHARED,
                         .slots = slots,
                         .liveness_ns = 50000000,
                         .initial = "init",
                         .initial_len = 4};
    assert_int_equal(klaw_watch_create(&o, tx, rx), KLAW_OK);
}

static void destroy(int mode, klaw_watch_tx *tx, klaw_watch_rx *rx)
{
    klaw_watch_tx_free(tx);
    klaw_watch_rx_free(rx);
    if (mode == M_NAMED)
        klaw_region_unlink(name_buf);
}

/* ---- the value derived from its version --------------------------------- */

/* Every byte of value v is a function of v, and so is its length: a reader
 * that pairs bytes of one version with another version's number (or mixes
 * two versions' bytes) fails check_value. */
static uint32_t value_len(uint64_t v, uint32_t maxf) { return 8 + (uint32_t)((v * 7919) % (maxf - 8 + 1)); }
static uint8_t value_byte(uint64_t v, uint32_t i) { return (uint8_t)((v * 131 + i * 31 + (v >> 8)) & 0xff); }

static uint32_t make_value(uint8_t *buf, uint64_t v, uint32_t maxf)
{
    uint32_t len = value_len(v, maxf);
    memcpy(buf, &v, 8);
    for (uint32_t i = 8; i < len; i++)
        buf[i] = value_byte(v, i);
    return len;
}

/* Reads through relaxed atomic loads: a borrowed shared slot may be
 * rewritten while we look (the seqlock contract; release tells us). */
static int check_value(const uint8_t *p, uint32_t len, uint64_t v, uint32_t maxf)
{
    if (v == 0)
        return len == 4 && __atomic_load_n(p, __ATOMIC_RELAXED) == 'i';
    if (len != value_len(v, maxf))
        return 0;
    uint64_t got = 0;
    for (int i = 0; i < 8; i++)
        got |= (uint64_t)__atomic_load_n(p + i, __ATOMIC_RELAXED) << (8 * i);
    if (got != v)
        return 0;
    for (uint32_t i = 8; i < len; i++)
        if (__atomic_load_n(p + i, __ATOMIC_RELAXED) != value_byte(v, i))
            return 0;
    return 1;
}

/* ---- counting futex system calls -------------------------------------------- */

#include "futex_count.h" /* counting_futex, futex_calls, futex_waits_anywhere */

static uint64_t stress_values(void)
{
    const char *e = getenv("KLAW_STRESS_FRAMES");
    uint64_t n = e ? strtoull(e, NULL, 10) : 0;
    return n ? n : 20000;
}

/* ---- single-threaded behaviour ------------------------------------------- */

static void initial_value_is_version_0_and_seen_by_new_receivers(void **state)
{
    (void)state;
    for (int m = 0; m < NMODES; m++) {
        klaw_watch_tx *tx;
        klaw_watch_rx *rx;
        create(m, 64, 0, "init", &tx, &rx);
        int ch = -1;
        assert_int_equal(klaw_watch_has_changed(rx, &ch), KLAW_OK);
        assert_int_equal(ch, 0);
        klaw_frame f;
        assert_int_equal(klaw_watch_borrow(rx, &f), KLAW_OK);
        assert_int_equal(f.seq, 0);
        assert_int_equal(f.len, 4);
        assert_memory_equal(f.data, "init", 4);
        assert_int_equal(klaw_watch_release(rx, &f), KLAW_OK);
        char buf[64];
        size_t len;
        uint64_t ver = 99;
        assert_int_equal(klaw_watch_get(rx, buf, sizeof buf, &len, &ver), KLAW_OK);
        assert_int_equal(len, 4);
        assert_int_equal(ver, 0);
        klaw_watch_stats st;
        assert_int_equal(klaw_watch_rx_stats(rx, &st), KLAW_OK);
        assert_int_equal(st.version, 0);
        assert_int_equal(st.value_len, 4);
        assert_int_equal(st.shared, m != M_RCU);
        assert_int_equal(st.senders, 1);
        assert_int_equal(st.receivers, 1);
        destroy(m, tx, rx);
    }
}

static void send_bumps_version_and_marks_follow_borrow_and_update(void **state)
{
    (void)state;
    for (int m = 0; m < NMODES; m++) {
        klaw_watch_tx *tx;
        klaw_watch_rx *rx;
        create(m, 64, 0, "send", &tx, &rx);
        uint32_t nrx = 99;
        assert_int_equal(klaw_watch_send(tx, "one", 3, &nrx), KLAW_OK);
        assert_int_equal(nrx, 1);
        int ch = 0;
        assert_int_equal(klaw_watch_has_changed(rx, &ch), KLAW_OK);
        assert_int_equal(ch, 1);
        /* borrow does not mark */
        klaw_frame f;
        assert_int_equal(klaw_watch_borrow(rx, &f), KLAW_OK);
        assert_int_equal(f.seq, 1);
        assert_memory_equal(f.data, "one", 3);
        assert_int_equal(klaw_watch_release(rx, &f), KLAW_OK);
        assert_int_equal(klaw_watch_has_changed(rx, &ch), KLAW_OK);
        assert_int_equal(ch, 1);
        /* borrow_and_update does */
        assert_int_equal(klaw_watch_borrow_and_update(rx, &f), KLAW_OK);
        assert_int_equal(f.seq, 1);
        assert_int_equal(klaw_watch_release(rx, &f), KLAW_OK);
        assert_int_equal(klaw_watch_has_changed(rx, &ch), KLAW_OK);
        assert_int_equal(ch, 0);
        /* two sends: only the latest is there, version 3 */
        assert_int_equal(klaw_watch_send(tx, "two", 3, NULL), KLAW_OK);
        assert_int_equal(klaw_watch_send(tx, "three", 5, NULL), KLAW_OK);
        char buf[8];
        size_t len;
        uint64_t ver;
        assert_int_equal(klaw_watch_get(rx, buf, 2, &len, &ver), KLAW_TOOBIG);
        assert_int_equal(len, 5);
        assert_int_equal(klaw_watch_has_changed(rx, &ch), KLAW_OK);
        assert_int_equal(ch, 1);
        assert_int_equal(klaw_watch_get_and_update(rx, buf, sizeof buf, &len, &ver), KLAW_OK);
        assert_int_equal(ver, 3);
        assert_int_equal(len, 5);
        assert_memory_equal(buf, "three", 5);
        assert_int_equal(klaw_watch_has_changed(rx, &ch), KLAW_OK);
        assert_int_equal(ch, 0);
        /* an empty value and a too-big one */
        assert_int_equal(klaw_watch_send(tx, NULL, 0, NULL), KLAW_OK);
        assert_int_equal(klaw_watch_borrow_and_update(rx, &f), KLAW_OK);
        assert_int_equal(f.len, 0);
        assert_int_equal(f.seq, 4);
        assert_int_equal(klaw_watch_release(rx, &f), KLAW_OK);
        uint8_t big[65] = {0};
        assert_int_equal(klaw_watch_send(tx, big, sizeof big, &nrx), KLAW_TOOBIG);
        assert_int_equal(klaw_watch_send(tx, big, 64, NULL), KLAW_OK);
        /* no receivers: the value is still stored, count 0 */
        klaw_watch_rx_close(rx);
        assert_int_equal(klaw_watch_send(tx, "lone", 4, &nrx), KLAW_OK);
        assert_int_equal(nrx, 0);
        klaw_watch_rx *late;
        assert_int_equal(klaw_watch_subscribe(tx, &late), KLAW_OK);
        assert_int_equal(klaw_watch_has_changed(late, &ch), KLAW_OK);
        assert_int_equal(ch, 0);
        assert_int_equal(klaw_watch_get(late, buf, sizeof buf, &len, &ver), KLAW_OK);
        assert_int_equal(ver, 6);
        assert_memory_equal(buf, "lone", 4);
        /* operations on a closed receiver */
        assert_int_equal(klaw_watch_borrow(rx, &f), KLAW_CLOSED);
        assert_int_equal(klaw_watch_has_changed(rx, &ch), KLAW_CLOSED);
        assert_int_equal(klaw_watch_changed(rx, NULL), KLAW_CLOSED);
        klaw_watch_rx_free(late);
        destroy(m, tx, rx);
    }
}

static void bad_options_are_refused(void **state)
{
    (void)state;
    klaw_watch_tx *tx;
    klaw_watch_rx *rx;
    klaw_watch_opts o = {.max_frame = 0};
    assert_int_equal(klaw_watch_create(&o, &tx, &rx), KLAW_INVAL);
    o.max_frame = 8;
    o.slots = 1;
    o.process_shared = 1;
    assert_int_equal(klaw_watch_create(&o, &tx, &rx), KLAW_INVAL);
    o.slots = 0;
    o.initial_len = 9;
    o.initial = "123456789";
    assert_int_equal(klaw_watch_create(&o, &tx, &rx), KLAW_INVAL);
    o.initial_len = 0;
    o.max_handles = 1;
    assert_int_equal(klaw_watch_create(&o, &tx, &rx), KLAW_INVAL);
    assert_int_equal(klaw_watch_open_rx("twatch-no-such-name", &rx), KLAW_NOENT);
}

/* ---- waiting ------------------------------------------------------------- */

typedef struct waiter_arg {
    klaw_watch_rx *rx;
    klaw_status st;
    uint64_t ver;
} waiter_arg;

static void *changed_waiter(void *p)
{
    waiter_arg *a = p;
    struct timespec d = watchdog();
    a->st = klaw_watch_changed(a->rx, &d);
    klaw_frame f;
    if (a->st == KLAW_OK && klaw_watch_borrow(a->rx, &f) == KLAW_OK) {
        a->ver = f.seq;
        klaw_watch_release(a->rx, &f);
    }
    return NULL;
}

static void changed_wakes_on_send_and_honours_its_deadline(void **state)
{
    (void)state;
    for (int m = 0; m < NMODES; m++) {
        klaw_watch_tx *tx;
        klaw_watch_rx *rx;
        create(m, 32, 0, "wake", &tx, &rx);
        /* deadline: nothing sent */
        struct timespec d = klaw_deadline_in_ms(30);
        assert_int_equal(klaw_watch_changed(rx, &d), KLAW_TIMEOUT);
        /* a value not yet seen: at once, and marked */
        assert_int_equal(klaw_watch_send(tx, "a", 1, NULL), KLAW_OK);
        d = klaw_deadline_in_ms(0);
        assert_int_equal(klaw_watch_changed(rx, &d), KLAW_OK);
        int ch = 1;
        assert_int_equal(klaw_watch_has_changed(rx, &ch), KLAW_OK);
        assert_int_equal(ch, 0);
        /* a parked waiter is woken by a send from another thread */
        for (int round = 0; round < 20; round++) {
            waiter_arg a = {rx, KLAW_INVAL, 0};
            pthread_t t;
            assert_int_equal(pthread_create(&t, NULL, changed_waiter, &a), 0);
            usleep(round < 3 ? 20000 : 100 * (unsigned)round);
            assert_int_equal(klaw_watch_send(tx, "b", 1, NULL), KLAW_OK);
            pthread_join(t, NULL);
            assert_int_equal(a.st, KLAW_OK);
            assert_int_equal(a.ver, 2 + (uint64_t)round);
        }
        destroy(m, tx, rx);
    }
}

/* Nobody parked: a send (and every read) makes no system call - in the
 * in-process mode at most one per RETIRE_BATCH (16) sends, call_rcu waking
 * its worker. A parked receiver: the send pays the wake-up. */
static void no_system_call_unless_a_receiver_is_parked(void **state)
{
    (void)state;
    for (int m = 0; m < NMODES; m++) {
        klaw_watch_tx *tx;
        klaw_watch_rx *rx;
        create(m, 64, 0, "nosys", &tx, &rx);
        uint8_t buf[64];
        for (uint64_t v = 1; v <= 200; v++) /* warm: the record pool fills */
            assert_int_equal(klaw_watch_send(tx, buf, make_value(buf, v, 64), NULL), KLAW_OK);
        usleep(20000);
        futex_calls = 0;
        counting_futex = 1;
        for (uint64_t v = 201; v <= 10200; v++) {
            klaw_watch_send(tx, buf, make_value(buf, v, 64), NULL);
            klaw_frame f;
            klaw_watch_borrow_and_update(rx, &f);
            klaw_watch_release(rx, &f);
            int ch;
            klaw_watch_has_changed(rx, &ch);
        }
        counting_futex = 0;
        if (m == M_RCU)
            assert_true(futex_calls <= 10000 / 16 + 1);
        else
            assert_int_equal(futex_calls, 0);
        /* park a receiver, then send: the wake-up is paid */
        waiter_arg a = {rx, KLAW_INVAL, 0};
        pthread_t t;
        unsigned long waits = atomic_load(&futex_waits_anywhere);
        assert_int_equal(pthread_create(&t, NULL, changed_waiter, &a), 0);
        for (int i = 0; i < 20000 && atomic_load(&futex_waits_anywhere) == waits; i++)
            usleep(1000);
        assert_true(atomic_load(&futex_waits_anywhere) != waits); /* it parked */
        futex_calls = 0;
        counting_futex = 1;
        assert_int_equal(klaw_watch_send(tx, "w", 1, NULL), KLAW_OK);
        counting_futex = 0;
        assert_true(futex_calls >= 1);
        pthread_join(t, NULL);
        assert_int_equal(a.st, KLAW_OK);
        destroy(m, tx, rx);
    }
}

static void close_lets_receivers_see_the_last_value_then_closed(void **state)
{
    (void)state;
    for (int m = 0; m < NMODES; m++) {
        klaw_watch_tx *tx, *tx2;
        klaw_watch_rx *rx;
        create(m, 32, 0, "close", &tx, &rx);
        assert_int_equal(klaw_watch_tx_clone(tx, &tx2), KLAW_OK);
        assert_int_equal(klaw_watch_send(tx, "x", 1, NULL), KLAW_OK);
        klaw_watch_tx_close(tx);
        klaw_watch_tx_close(tx); /* idempotent */
        assert_int_equal(klaw_watch_send(tx, "y", 1, NULL), KLAW_CLOSED);
        /* one sender left: not closed */
        assert_int_equal(klaw_watch_changed(rx, NULL), KLAW_OK);
        struct timespec d = klaw_deadline_in_ms(20);
        assert_int_equal(klaw_watch_changed(rx, &d), KLAW_TIMEOUT);
        assert_int_equal(klaw_watch_send(tx2, "z", 1, NULL), KLAW_OK);
        klaw_watch_tx_close(tx2);
        /* the value sent before the close is reported first, then CLOSED */
        int ch = 0;
        assert_int_equal(klaw_watch_has_changed(rx, &ch), KLAW_OK);
        assert_int_equal(ch, 1);
        assert_int_equal(klaw_watch_changed(rx, NULL), KLAW_OK);
        assert_int_equal(klaw_watch_has_changed(rx, &ch), KLAW_CLOSED);
        assert_int_equal(klaw_watch_changed(rx, NULL), KLAW_CLOSED);
        /* the last value stays readable */
        char buf[4];
        size_t len;
        uint64_t ver;
        assert_int_equal(klaw_watch_get(rx, buf, sizeof buf, &len, &ver), KLAW_OK);
        assert_int_equal(ver, 2);
        assert_memory_equal(buf, "z", 1);
        klaw_watch_stats st;
        assert_int_equal(klaw_watch_rx_stats(rx, &st), KLAW_OK);
        assert_int_equal(st.senders, 0);
        assert_int_equal(st.senders_closed, 1);
        klaw_watch_tx *tx3;
        assert_int_equal(klaw_watch_tx_clone(tx2, &tx3), KLAW_CLOSED);
        if (m == M_NAMED)
            assert_int_equal(klaw_watch_open_tx(name_buf, &tx3), KLAW_CLOSED);
        klaw_watch_tx_free(tx2);
        destroy(m, tx, rx);
    }
}

static void *close_later(void *p)
{
    usleep(20000);
    klaw_watch_tx_close(p);
    return NULL;
}

static void close_wakes_a_parked_receiver(void **state)
{
    (void)state;
    for (int m = 0; m < NMODES; m++) {
        klaw_watch_tx *tx;
        klaw_watch_rx *rx;
        create(m, 32, 0, "closewake", &tx, &rx);
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, close_later, tx), 0);
        struct timespec d = watchdog();
        assert_int_equal(klaw_watch_changed(rx, &d), KLAW_CLOSED);
        pthread_join(t, NULL);
        destroy(m, tx, rx);
    }
}

static void clones_keep_their_seen_version(void **state)
{
    (void)state;
    for (int m = 0; m < NMODES; m++) {
        klaw_watch_tx *tx;
        klaw_watch_rx *rx, *c1, *c2;
        create(m, 32, 0, "clone", &tx, &rx);
        assert_int_equal(klaw_watch_send(tx, "1", 1, NULL), KLAW_OK);
        assert_int_equal(klaw_watch_rx_clone(rx, &c1), KLAW_OK); /* unseen, like rx */
        assert_int_equal(klaw_watch_changed(rx, NULL), KLAW_OK);
        assert_int_equal(klaw_watch_rx_clone(rx, &c2), KLAW_OK); /* seen, like rx */
        int ch;
        assert_int_equal(klaw_watch_has_changed(c1, &ch), KLAW_OK);
        assert_int_equal(ch, 1);
        assert_int_equal(klaw_watch_has_changed(c2, &ch), KLAW_OK);
        assert_int_equal(ch, 0);
        klaw_watch_stats st;
        assert_int_equal(klaw_watch_tx_stats(tx, &st), KLAW_OK);
        assert_int_equal(st.receivers, 3);
        uint32_t nrx;
        assert_int_equal(klaw_watch_send(tx, "2", 1, &nrx), KLAW_OK);
        assert_int_equal(nrx, 3);
        klaw_watch_rx_free(c1);
        klaw_watch_rx_close(c2);
        klaw_watch_rx *c3;
        assert_int_equal(klaw_watch_rx_clone(c2, &c3), KLAW_CLOSED);
        assert_int_equal(klaw_watch_send(tx, "3", 1, &nrx), KLAW_OK);
        assert_int_equal(nrx, 1);
        klaw_watch_rx_free(c2);
        destroy(m, tx, rx);
    }
}

/* ---- borrow validation ------------------------------------------------------ */

static void borrow_overwritten_while_held_reports_lagged(void **state)
{
    (void)state;
    for (int m = M_ANON_SHARED; m < NMODES; m++) {
        klaw_watch_tx *tx;
        klaw_watch_rx *rx;
        create(m, 32, 2, "lag", &tx, &rx); /* two slots: the third send reuses one */
        klaw_frame f;
        assert_int_equal(klaw_watch_borrow(rx, &f), KLAW_OK); /* version 0, slot 0 */
        assert_int_equal(klaw_watch_send(tx, "v1", 2, NULL), KLAW_OK); /* slot 1 */
        assert_int_equal(klaw_watch_release(rx, &f), KLAW_OK);          /* untouched */
        assert_int_equal(klaw_watch_borrow_and_update(rx, &f), KLAW_OK); /* version 1 */
        assert_int_equal(f.seq, 1);
        assert_int_equal(klaw_watch_send(tx, "v2", 2, NULL), KLAW_OK); /* slot 0 */
        assert_int_equal(klaw_watch_send(tx, "v3", 2, NULL), KLAW_OK); /* slot 1: ours */
        assert_memory_equal(f.data, "v3", 2); /* what the borrower saw changed... */
        assert_int_equal(klaw_watch_release(rx, &f), KLAW_LAGGED); /* ...and is told */
        klaw_watch_stats st;
        assert_int_equal(klaw_watch_rx_stats(rx, &st), KLAW_OK);
        assert_int_equal(st.lagged_borrows, 1);
        assert_int_equal(st.version, 3);
        /* the copying getter is never torn */
        char buf[8];
        size_t len;
        uint64_t ver;
        assert_int_equal(klaw_watch_get(rx, buf, sizeof buf, &len, &ver), KLAW_OK);
        assert_int_equal(ver, 3);
        assert_memory_equal(buf, "v3", 2);
        destroy(m, tx, rx);
    }
}

/* In-process: a borrowed record is never reclaimed under the borrower,
 * however many values replace it (ASan would catch a use after free). */
static void rcu_borrow_outlives_many_replacements(void **state)
{
    (void)state;
    klaw_watch_tx *tx;
    klaw_watch_rx *rx;
    create(M_RCU, 256, 0, "rcu", &tx, &rx);
    uint8_t buf[256];
    uint32_t len = make_value(buf, 1, 256);
    assert_int_equal(klaw_watch_send(tx, buf, len, NULL), KLAW_OK);
    klaw_frame f;
    assert_int_equal(klaw_watch_borrow(rx, &f), KLAW_OK);
    for (uint64_t v = 2; v < 2000; v++) {
        len = make_value(buf, v, 256);
        assert_int_equal(klaw_watch_send(tx, buf, len, NULL), KLAW_OK);
    }
    usleep(50000); /* let call_rcu's worker run */
    assert_int_equal(f.seq, 1);
    assert_true(check_value(f.data, f.len, 1, 256));
    assert_int_equal(klaw_watch_release(rx, &f), KLAW_OK);
    size_t n;
    uint64_t ver;
    assert_int_equal(klaw_watch_get(rx, buf, sizeof buf, &n, &ver), KLAW_OK);
    assert_int_equal(ver, 1999);
    assert_true(check_value(buf, (uint32_t)n, 1999, 256));
    destroy(M_RCU, tx, rx);
}

/* ---- stress: never torn ------------------------------------------------------ */

#define MAXF 200
#define MAXR 8

typedef struct stress {
    klaw_watch_tx *tx;
    klaw_watch_rx *rx[MAXR];
    uint64_t last;          /* the writer's last version             */
    _Atomic uint64_t total_reads;
    uint64_t bad[MAXR];     /* torn or out-of-order reads            */
    uint64_t reads[MAXR];
    uint64_t lagged[MAXR];  /* borrows that release said LAGGED      */
    uint64_t final[MAXR];   /* the last version each reader saw      */
} stress;

typedef struct rarg {
    stress *s;
    int id;
} rarg;

/* Reads every way there is, checking every read: get (untorn by
 * contract), borrow (untorn or LAGGED at release), and waits with changed
 * until the writer is done. Versions seen never go backwards. */
static void reader_loop(stress *s, int id)
{
    klaw_watch_rx *rx = s->rx[id];
    uint64_t prev = 0;
    uint8_t buf[MAXF];
    for (uint64_t i = 0;; i++) {
        int mode = (int)((i + (uint64_t)id) % 3);
        uint64_t ver = 0;
        if (mode == 0) {
            size_t len;
            if (klaw_watch_get_and_update(rx, buf, sizeof buf, &len, &ver) != KLAW_OK ||
                !check_value(buf, (uint32_t)len, ver, MAXF))
                s->bad[id]++;
        } else {
            klaw_frame f;
            if (klaw_watch_borrow_and_update(rx, &f) != KLAW_OK) {
                s->bad[id]++;
                continue;
            }
            ver = f.seq;
            int ok = check_value(f.data, f.len, f.seq, MAXF);
            if ((i & 63) == 1)
                sched_yield(); /* hold a borrow a while: the writer may reuse its slot */
            ok &= check_value(f.data, f.len, f.seq, MAXF);
            klaw_status rs = klaw_watch_release(rx, &f);
            if (rs == KLAW_LAGGED)
                s->lagged[id]++;
            else if (rs != KLAW_OK || !ok)
                s->bad[id]++;
        }
        if (ver < prev)
            s->bad[id]++;
        prev = ver;
        s->reads[id]++;
        atomic_fetch_add_explicit(&s->total_reads, 1, memory_order_relaxed);
        if (mode == 2 || (i & 15) == 0) {
            struct timespec d = watchdog();
            klaw_status st = klaw_watch_changed(rx, &d);
            if (st == KLAW_CLOSED)
                break;
            if (st != KLAW_OK)
                s->bad[id]++;
        }
    }
    /* closed: the last version must be the writer's last */
    size_t len;
    uint64_t ver;
    if (klaw_watch_get(rx, buf, sizeof buf, &len, &ver) != KLAW_OK || !check_value(buf, (uint32_t)len, ver, MAXF))
        s->bad[id]++;
    s->final[id] = ver;
}

static void *reader_thread(void *p)
{
    rarg *a = p;
    reader_loop(a->s, a->id);
    return NULL;
}

/* Writes at least n values, and on until the readers together have made
 * n reads (on 2 cores a writer alone could finish before they start);
 * records the last version in s->last. */
static void writer_loop(stress *s, klaw_watch_tx *tx, uint64_t n)
{
    uint8_t buf[MAXF];
    uint64_t v = 1;
    for (;; v++) {
        uint32_t len = make_value(buf, v, MAXF);
        if (klaw_watch_send(tx, buf, len, NULL) != KLAW_OK)
            break;
        if ((v & 255) == 0)
            sched_yield(); /* let parked readers in on 2 cores */
        if (v >= n && atomic_load_explicit(&s->total_reads, memory_order_relaxed) >= n)
            break;
        if (v >= 100 * n) /* readers that do not read: their bad counts tell */
            break;
    }
    s->last = v;
}

static void threads_never_see_a_torn_value(void **state)
{
    (void)state;
    uint64_t n = stress_values();
    const int readers[] = {1, 4, 8};
    for (int m = 0; m < M_NAMED; m++) {
        for (size_t k = 0; k < sizeof readers / sizeof readers[0]; k++) {
            int nr = readers[k];
            stress s;
            memset(&s, 0, sizeof s);
            klaw_watch_rx *rx0;
            /* two slots: a slow reader's borrows get overwritten often */
            create(m, MAXF, 2, "tstress", &s.tx, &rx0);
            for (int i = 0; i < nr; i++)
                assert_int_equal(klaw_watch_rx_clone(rx0, &s.rx[i]), KLAW_OK);
            pthread_t t[MAXR];
            rarg a[MAXR];
            for (int i = 0; i < nr; i++) {
                a[i] = (rarg){&s, i};
                assert_int_equal(pthread_create(&t[i], NULL, reader_thread, &a[i]), 0);
            }
            writer_loop(&s, s.tx, n);
            klaw_watch_tx_close(s.tx);
            uint64_t lagged = 0;
            for (int i = 0; i < nr; i++) {
                pthread_join(t[i], NULL);
                if (s.bad[i])
                    fail_msg("%s, %d readers: reader %d had %llu bad reads of %llu", mode_name[m], nr, i,
                             (unsigned long long)s.bad[i], (unsigned long long)s.reads[i]);
                assert_int_equal(s.final[i], s.last);
                lagged += s.lagged[i];
            }
            uint64_t reads = 0;
            for (int i = 0; i < nr; i++)
                reads += s.reads[i];
            print_message("%s, %d readers: %llu values, %llu reads, %llu borrows lagged\n", mode_name[m], nr,
                          (unsigned long long)s.last, (unsigned long long)reads, (unsigned long long)lagged);
            if (m == M_RCU)
                assert_int_equal(lagged, 0); /* records never change under a borrow */
            klaw_watch_stats st;
            assert_int_equal(klaw_watch_rx_stats(rx0, &st), KLAW_OK);
            assert_int_equal(st.lagged_borrows, lagged);
            assert_int_equal(st.version, s.last);
            for (int i = 0; i < nr; i++)
                klaw_watch_rx_free(s.rx[i]);
            destroy(m, s.tx, rx0);
        }
    }
}

/* Readers in forked children of a named watch (and of an anonymous shared
 * one), the writer in another child; results in shared memory. */
static void processes_never_see_a_torn_value(void **state)
{
    (void)state;
    uint64_t n = stress_values() / 2;
    for (int m = M_ANON_SHARED; m < NMODES; m++) {
        for (int nr = 1; nr <= 4; nr *= 4) {
            stress *s = mmap(NULL, sizeof(stress), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
            assert_true(s != MAP_FAILED);
            memset(s, 0, sizeof *s);
            klaw_watch_tx *tx;
            klaw_watch_rx *rx;
            create(m, MAXF, 4, "pstress", &tx, &rx);
            const char *name = m == M_NAMED ? name_buf : NULL;
            int go[2];
            assert_int_equal(pipe(go), 0);
            pid_t kids[MAXR + 1];
            for (int i = 0; i <= nr; i++) {
                pid_t pid = fork();
                assert_true(pid >= 0);
                if (pid == 0) {
                    close(go[1]);
                    char c;
                    if (i < nr) {
                        klaw_watch_rx *mine;
                        if (name ? klaw_watch_open_rx(name, &mine) : klaw_watch_rx_clone(rx, &mine))
                            _exit(2);
                        s->rx[i] = mine;
                        if (read(go[0], &c, 1) != 0) /* EOF: everyone is ready */
                            _exit(4);
                        reader_loop(s, i);
                    } else {
                        klaw_watch_tx *w;
                        if (name ? klaw_watch_open_tx(name, &w) : klaw_watch_tx_clone(tx, &w))
                            _exit(3);
                        if (read(go[0], &c, 1) != 0)
                            _exit(4);
                        writer_loop(s, w, n);
                        klaw_watch_tx_close(w);
                    }
                    _exit(0);
                }
                kids[i] = pid;
            }
            close(go[0]);
            /* every child holds its handle: let the parent's own go, so
             * closing depends on the writer child only */
            for (int tries = 0; tries < 5000; tries++) {
                klaw_watch_stats st;
                klaw_watch_rx_stats(rx, &st);
                if (st.senders >= 2 && st.receivers >= (uint32_t)nr + 1)
                    break;
                usleep(1000);
            }
            klaw_watch_tx_close(tx);
            close(go[1]);
            for (int i = 0; i <= nr; i++) {
                int status;
                waitpid(kids[i], &status, 0);
                assert_true(WIFEXITED(status));
                assert_int_equal(WEXITSTATUS(status), 0);
            }
            for (int i = 0; i < nr; i++) {
                if (s->bad[i])
                    fail_msg("%s, %d readers: reader %d had %llu bad reads", mode_name[m], nr, i,
                             (unsigned long long)s->bad[i]);
                assert_int_equal(s->final[i], s->last);
            }
            munmap(s, sizeof *s);
            destroy(m, tx, rx);
        }
    }
}

/* ---- faults ------------------------------------------------------------------ */

/* A sender in another process sends, then is SIGKILLed: the parked
 * receiver gets the value, then CLOSED once liveness finds it dead. A
 * killed receiver process's handle is reclaimed too. */
static void killed_processes_handles_are_reclaimed(void **state)
{
    (void)state;
    const char *name = uniq("kill");
    klaw_watch_opts o = {.max_frame = 16, .name = name, .liveness_ns = 50000000};
    klaw_watch_rx *rx;
    assert_int_equal(klaw_watch_create(&o, NULL, &rx), KLAW_OK);
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        klaw_watch_tx *tx;
        if (klaw_watch_open_tx(name, &tx) != KLAW_OK || klaw_watch_send(tx, "last", 4, NULL) != KLAW_OK)
            _exit(1);
        if (write(pfd[1], "s", 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    char c;
    assert_int_equal(read(pfd[0], &c, 1), 1);
    struct timespec d = watchdog();
    assert_int_equal(klaw_watch_changed(rx, &d), KLAW_OK);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    d = watchdog();
    assert_int_equal(klaw_watch_changed(rx, &d), KLAW_CLOSED);
    char buf[16];
    size_t len;
    uint64_t ver;
    assert_int_equal(klaw_watch_get(rx, buf, sizeof buf, &len, &ver), KLAW_OK);
    assert_int_equal(ver, 1);
    assert_memory_equal(buf, "last", 4);
    klaw_watch_stats st;
    assert_int_equal(klaw_watch_rx_stats(rx, &st), KLAW_OK);
    assert_int_equal(st.reaped_handles, 1);
    assert_int_equal(st.senders_closed, 1);
    /* a receiver process killed: its handle is reclaimed (stats reap) */
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        klaw_watch_rx *crx;
        if (klaw_watch_open_rx(name, &crx) != KLAW_OK)
            _exit(1);
        if (write(pfd[1], "r", 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    assert_int_equal(read(pfd[0], &c, 1), 1);
    assert_int_equal(klaw_watch_rx_stats(rx, &st), KLAW_OK);
    assert_int_equal(st.receivers, 2);
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    assert_int_equal(klaw_watch_rx_stats(rx, &st), KLAW_OK);
    assert_int_equal(st.receivers, 1);
    assert_int_equal(st.reaped_handles, 2);
    klaw_watch_rx_free(rx);
    klaw_region_unlink(name);
    close(pfd[0]);
    close(pfd[1]);
}

/* The offsets of the control block's config, as watch.c lays it out, and
 * of the lifecycle block (channels/lifecycle.h) six lines into it. */
typedef struct cfg_view {
    uint32_t magic, mode, nslots, max_frame, slot_size, pad_;
    uint64_t tables_off, slots_off;
} cfg_view;

typedef struct life_view {
    uint32_t magic, max_handles, max_peers, closing_roles;
    uint64_t handles_off, peers_off, liveness_ns;
} life_view;

static void hostile_regions_are_refused_not_followed(void **state)
{
    (void)state;
    const char *name = uniq("hostile");
    klaw_watch_opts o = {.max_frame = 16, .name = name, .slots = 4};
    klaw_watch_tx *tx;
    assert_int_equal(klaw_watch_create(&o, &tx, NULL), KLAW_OK);
    klaw_region *r;
    assert_int_equal(klaw_region_open(name, 0, 0, &r), KLAW_OK);
    uint8_t *base = klaw_region_base(r);
    uint64_t body = klaw_region_hdr(r)->body_off;
    cfg_view *cfg = (cfg_view *)(base + body);
    life_view *life = (life_view *)(base + body + 5 * 64);
    assert_int_equal(life->magic, 0x4546494cu); /* "LIFE": the layout is what we think */
    cfg_view saved = *cfg;
    life_view lsaved = *life;
    const uint64_t size = klaw_region_size(r);
    klaw_watch_rx *rx;
    /* each broken field alone */
    for (int k = 0; k < 14; k++) {
        *cfg = saved;
        *life = lsaved;
        switch (k) {
        case 0: cfg->magic ^= 1; break;
        case 1: cfg->nslots = 0; break;
        case 2: cfg->slots_off = (uint64_t)1 << 50; break;
        case 3: cfg->slot_size = 8; break;
        case 4: cfg->mode = 0; break; /* in-process records: not for other processes */
        case 5: cfg->slots_off = body; break;             /* over the control block */
        case 6: cfg->slots_off = lsaved.handles_off; break; /* over the handle table */
        case 7: cfg->slots_off = lsaved.peers_off; break;   /* over the peer slots */
        case 8: life->magic ^= 1; break;
        case 9: life->max_handles = 100000; break;
        case 10: life->max_handles = 1; break;
        case 11: life->handles_off = size - 64; break;
        case 12: life->handles_off = saved.slots_off; break; /* the table over the slots */
        case 13: life->liveness_ns = 0; break;
        }
        if (klaw_watch_open_rx(name, &rx) != KLAW_CORRUPT)
            fail_msg("broken field %d: not refused", k);
        klaw_watch_stats st;
        assert_int_equal(klaw__watch_inspect(r, &st), KLAW_CORRUPT);
    }
    *life = lsaved;
    *cfg = saved;
    assert_int_equal(klaw_watch_open_rx(name, &rx), KLAW_OK);
    /* a slot whose seq can never match the published version: CORRUPT, not
     * a spin; a length past max_frame is clamped */
    uint8_t *slot0 = base + saved.slots_off;
    uint64_t real = __atomic_load_n((uint64_t *)(void *)slot0, __ATOMIC_RELAXED);
    __atomic_store_n((uint64_t *)(void *)slot0, (uint64_t)12345, __ATOMIC_RELAXED);
    klaw_frame f;
    assert_int_equal(klaw_watch_borrow(rx, &f), KLAW_CORRUPT);
    char buf[64];
    size_t len;
    assert_int_equal(klaw_watch_get(rx, buf, sizeof buf, &len, NULL), KLAW_CORRUPT);
    __atomic_store_n((uint64_t *)(void *)slot0, real, __ATOMIC_RELAXED);
    __atomic_store_n((uint32_t *)(void *)(slot0 + 8), 1u << 30, __ATOMIC_RELAXED);
    assert_int_equal(klaw_watch_borrow(rx, &f), KLAW_OK);
    assert_int_equal(f.len, 16);
    assert_int_equal(klaw_watch_release(rx, &f), KLAW_OK);
    /* a version pointing anywhere stays inside the slots */
    klaw_watch_stats st;
    assert_int_equal(klaw__watch_inspect(r, &st), KLAW_OK);
    assert_int_equal(st.receivers, 1);
    assert_int_equal(st.senders, 1);
    assert_int_equal(st.slots, 4);
    klaw_watch_rx_free(rx);
    klaw_watch_tx_free(tx);
    klaw_region_close(r);
    klaw_region_unlink(name);
}

/* ---- a version that never settles ------------------------------------------ */

/* The library's own mapping of a named region (not ours): the first
 * mapping of its file in /proc/self/maps that is not at `ours`. */
static uint8_t *other_mapping_of(const char *name, const void *ours)
{
    char want[256];
    snprintf(want, sizeof want, "/dev/shm/klaw.%s", name);
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return NULL;
    char line[512];
    uint8_t *found = NULL;
    while (!found && fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        char *path = strchr(line, '/');
        if (!path || sscanf(line, "%lx-%lx", &lo, &hi) != 2)
            continue;
        path[strcspn(path, "\n")] = 0;
        if (strcmp(path, want) == 0 && (void *)lo != ours)
            found = (uint8_t *)lo;
    }
    fclose(f);
    return found;
}

/* A hostile peer that moves the version every time the reader looks at a
 * slot: the reader's slots are mapped PROT_NONE, and each fault opens the
 * page it hit (closing the one opened before) and bumps the version word
 * through our own mapping - so between the reader's slot load and its
 * re-read of the version, the version has always changed, which no sender
 * does (W3). The fault count is the watchdog: past `limit` every page
 * opens and the version stops moving. */
static struct {
    uint8_t *lo, *hi, *open_page;
    _Atomic uint64_t *version;
    long faults, limit;
} trap;

static void on_trap(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    uint8_t *a = si->si_addr;
    if (a < trap.lo || a >= trap.hi) {
        signal(sig, SIG_DFL); /* a real crash: let it happen */
        return;
    }
    if (++trap.faults >= trap.limit) {
        mprotect(trap.lo, (size_t)(trap.hi - trap.lo), PROT_READ | PROT_WRITE);
        return;
    }
    uint8_t *page = (uint8_t *)((uintptr_t)a & ~(uintptr_t)4095);
    mprotect(page, 4096, PROT_READ | PROT_WRITE);
    if (trap.open_page && trap.open_page != page)
        mprotect(trap.open_page, 4096, PROT_NONE);
    trap.open_page = page;
    atomic_fetch_add(trap.version, 1);
}

/* slot_current follows a version that changes under it (W3); one that
 * never stops changing must end in KLAW_CORRUPT after a bounded number of
 * tries (borrow, get and stats alike), not a spin. */
static void version_that_never_settles_is_corrupt_not_a_spin(void **state)
{
    (void)state;
    const char *name = uniq("spin");
    /* a slot is a page: 4080 bytes + the 16-byte header */
    klaw_watch_opts o = {.max_frame = 4080, .name = name, .slots = 4};
    klaw_watch_tx *tx;
    klaw_watch_rx *rx;
    assert_int_equal(klaw_watch_create(&o, &tx, &rx), KLAW_OK);
    assert_int_equal(klaw_watch_send(tx, "v1", 2, NULL), KLAW_OK);
    klaw_region *r;
    assert_int_equal(klaw_region_open(name, 0, 0, &r), KLAW_OK);
    uint8_t *base = klaw_region_base(r);
    uint64_t body = klaw_region_hdr(r)->body_off;
    const uint32_t *cfg = (const uint32_t *)(void *)(base + body);
    assert_int_equal(cfg[4], 4096); /* slot_size */
    uint64_t slots_off;
    memcpy(&slots_off, base + body + 32, 8); /* after tables_off */
    assert_int_equal(slots_off % 4096, 0);
    _Atomic uint64_t *version = (_Atomic uint64_t *)(void *)(base + body + 64); /* the line after the config */
    assert_int_equal(atomic_load(version), 1);
    uint8_t *theirs = other_mapping_of(name, base);
    if (!theirs) {
        print_message("skipped: the library's mapping is not in /proc/self/maps\n");
        klaw_region_close(r);
        klaw_watch_rx_free(rx);
        klaw_watch_tx_free(tx);
        klaw_region_unlink(name);
        return;
    }
    struct sigaction sa, old_segv, old_bus;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_trap;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGSEGV, &sa, &old_segv), 0);
    assert_int_equal(sigaction(SIGBUS, &sa, &old_bus), 0);
    klaw_status got[3];
    long faults[3];
    for (int what = 0; what < 3; what++) {
        trap.lo = theirs + slots_off;
        trap.hi = trap.lo + 4 * 4096;
        trap.open_page = NULL;
        trap.version = version;
        trap.faults = 0;
        trap.limit = 200000;
        atomic_store(version, 1000);
        mprotect(trap.lo, 4 * 4096, PROT_NONE);
        klaw_frame f;
        char buf[16];
        size_t len;
        klaw_watch_stats ws;
        switch (what) {
        case 0: got[what] = klaw_watch_borrow(rx, &f); break;
        case 1: got[what] = klaw_watch_get(rx, buf, sizeof buf, &len, NULL); break;
        default: got[what] = klaw_watch_rx_stats(rx, &ws); break;
        }
        mprotect(trap.lo, 4 * 4096, PROT_READ | PROT_WRITE);
        faults[what] = trap.faults;
        atomic_store(version, 1);
    }
    /* cmocka's handlers back before anything can fail */
    sigaction(SIGSEGV, &old_segv, NULL);
    sigaction(SIGBUS, &old_bus, NULL);
    for (int what = 0; what < 3; what++) {
        if (faults[what] >= trap.limit)
            fail_msg("call %d followed the version through %ld changes (the watchdog stopped it)", what,
                     faults[what]);
        print_message("call %d: %s after %ld version changes\n", what, klaw_status_name(got[what]), faults[what]);
        assert_true(faults[what] > 0); /* the trap was on the library's mapping */
        assert_int_equal(got[what], KLAW_CORRUPT);
    }
    /* the version back where it was: all is well again */
    char buf[16];
    size_t len;
    uint64_t ver;
    assert_int_equal(klaw_watch_get(rx, buf, sizeof buf, &len, &ver), KLAW_OK);
    assert_int_equal(ver, 1);
    assert_memory_equal(buf, "v1", 2);
    klaw_region_close(r);
    klaw_watch_rx_free(rx);
    klaw_watch_tx_free(tx);
    klaw_region_unlink(name);
}

/* ---- a sender that died holding the senders' lock -------------------------- */

/* A sender process is SIGKILLed inside W2, holding the senders' lock word
 * (simulated: the word holds its token and its slot is left as W2 left it,
 * written through our own mapping while it is alive, then it is killed).
 * The next sender takes the word over and repairs: a complete slot is
 * published (the send the dead one finished but did not publish), a slot
 * left mid-write (odd) is rewritten from the start. */
static void dead_sender_holding_the_lock_is_taken_over_and_repaired(void **state)
{
    (void)state;
    for (int complete = 0; complete < 2; complete++) {
        const char *name = uniq("wlock");
        klaw_watch_opts o = {.max_frame = 16, .name = name, .slots = 4, .liveness_ns = 50000000};
        klaw_watch_tx *tx;
        klaw_watch_rx *rx;
        assert_int_equal(klaw_watch_create(&o, &tx, &rx), KLAW_OK); /* entries 0 and 1 */
        assert_int_equal(klaw_watch_send(tx, "one", 3, NULL), KLAW_OK);
        int pfd[2];
        assert_int_equal(pipe(pfd), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            klaw_watch_tx *mine; /* entry 2, owned by this process */
            if (klaw_watch_open_tx(name, &mine) != KLAW_OK || write(pfd[1], "r", 1) != 1)
                _exit(1);
            pause();
            _exit(0);
        }
        char ch;
        assert_int_equal(read(pfd[0], &ch, 1), 1);
        klaw_region *r;
        assert_int_equal(klaw_region_open(name, 0, 0, &r), KLAW_OK);
        uint8_t *base = klaw_region_base(r);
        uint64_t body = klaw_region_hdr(r)->body_off;
        cfg_view *cfg = (cfg_view *)(base + body);
        life_view *life = (life_view *)(base + body + 5 * 64);
        _Atomic uint64_t *version = (_Atomic uint64_t *)(void *)(base + body + 64);
        _Atomic uint32_t *wlock = (_Atomic uint32_t *)(void *)(base + body + 4 * 64);
        uint8_t *ent2 = base + life->handles_off + 2 * 64; /* {role, pad, owner} */
        assert_int_equal(*(uint32_t *)(void *)ent2, 1);    /* a sender's */
        uint64_t owner = atomic_load((_Atomic uint64_t *)(void *)(ent2 + 8));
        uint32_t token = (uint32_t)(owner & 0xffffffffu) | ((uint32_t)(owner >> 32) & 0x3ffffu) << 13;
        /* what W2 left: version 1 published; slot 2 % 4 being written for 2 */
        assert_int_equal(atomic_load(version), 1);
        uint8_t *slot = base + cfg->slots_off + 2 * cfg->slot_size;
        __atomic_store_n((uint64_t *)(void *)slot, complete ? 4 : 5, __ATOMIC_RELEASE);
        __atomic_store_n((uint32_t *)(void *)(slot + 8), 4, __ATOMIC_RELEASE);
        memcpy(slot + 16, "dead", 4);
        atomic_store(wlock, token);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        assert_true(WIFSIGNALED(status));
        /* the next send waits for the word, finds its holder gone, repairs */
        assert_int_equal(klaw_watch_send(tx, "new", 3, NULL), KLAW_OK);
        assert_int_equal(atomic_load(wlock), 0);
        char buf[16];
        size_t len;
        uint64_t ver;
        assert_int_equal(klaw_watch_get(rx, buf, sizeof buf, &len, &ver), KLAW_OK);
        assert_int_equal(ver, complete ? 3 : 2); /* the finished send was published first */
        assert_int_equal(len, 3);
        assert_memory_equal(buf, "new", 3);
        if (complete) {
            /* version 2 was the dead sender's, intact in its slot */
            uint8_t *s2 = base + cfg->slots_off + 2 * cfg->slot_size;
            assert_int_equal(__atomic_load_n((uint64_t *)(void *)s2, __ATOMIC_ACQUIRE), 4);
            assert_memory_equal(s2 + 16, "dead", 4);
        }
        /* the dead sender's handle is reaped; ours still sends */
        klaw_watch_stats st;
        assert_int_equal(klaw_watch_rx_stats(rx, &st), KLAW_OK);
        assert_int_equal(st.senders, 1);
        assert_int_equal(st.senders_closed, 0);
        assert_int_equal(klaw_watch_send(tx, "more", 4, NULL), KLAW_OK);
        close(pfd[0]);
        close(pfd[1]);
        klaw_region_close(r);
        destroy(M_NAMED, tx, rx);
    }
}

/* ---- calls on a closed handle touch nothing ---------------------------------- */

/* release after the receiver closed: KLAW_CLOSED, and nothing in the region
 * changes (no lagged count, even for a borrow that did lag); an in-process
 * borrow's record still goes back (it is this process's memory). */
static void release_after_close_is_closed_and_touches_nothing(void **state)
{
    (void)state;
    for (int m = 0; m < NMODES; m++) {
        klaw_watch_tx *tx;
        klaw_watch_rx *rx;
        create(m, 32, 2, "relclosed", &tx, &rx);
        klaw_frame f;
        assert_int_equal(klaw_watch_borrow(rx, &f), KLAW_OK);
        for (int i = 0; i < 4; i++) /* the slot is reused under the borrow */
            assert_int_equal(klaw_watch_send(tx, "x", 1, NULL), KLAW_OK);
        klaw_watch_rx_close(rx);
        assert_int_equal(klaw_watch_release(rx, &f), KLAW_CLOSED);
        klaw_watch_stats st;
        assert_int_equal(klaw_watch_tx_stats(tx, &st), KLAW_OK);
        assert_int_equal(st.lagged_borrows, 0);
        assert_int_equal(st.receivers, 0);
        destroy(m, tx, rx);
    }
}

/* ---- a borrow across another kind's RCU update ----------------------------- */

/* What a thread holding an in-process borrow may call: a broadcast's
 * reader registry publishes its per-process record set with RCU and frees
 * the old one after synchronize_rcu() (src/registry.c) - the same urcu-bp
 * flavour. A borrow that stayed an RCU read-side section would make that
 * thread wait for itself. */
static int borrow_then_registry_update(void)
{
    klaw_watch_opts wo = {.max_frame = 16, .initial = "held", .initial_len = 4};
    klaw_watch_tx *wtx;
    klaw_watch_rx *wrx;
    if (klaw_watch_create(&wo, &wtx, &wrx) != KLAW_OK)
        return 2;
    klaw_frame f;
    if (klaw_watch_borrow(wrx, &f) != KLAW_OK)
        return 3;
    klaw_bcast_opts bo = {.capacity = 8, .max_frame = 16};
    klaw_bcast_tx *btx;
    if (klaw_bcast_create(&bo, &btx) != KLAW_OK)
        return 4;
    klaw_reader_snapshot *snap;
    klaw_bcast_rx *brx;
    /* a snapshot publishes the set; a subscribe changes the registry, so
     * the next snapshot replaces the set (synchronize_rcu), and so does
     * freeing the channel */
    if (klaw_bcast_tx_readers(btx, &snap) != KLAW_OK)
        return 5;
    klaw_reader_snapshot_free(snap);
    if (klaw_bcast_subscribe(btx, KLAW_BCAST_FROM_TAIL, "r1", &brx) != KLAW_OK)
        return 6;
    if (klaw_bcast_tx_readers(btx, &snap) != KLAW_OK)
        return 7;
    klaw_reader_snapshot_free(snap);
    klaw_bcast_rx_free(brx);
    klaw_bcast_tx_free(btx);
    /* the borrow is still good, and still the record it was */
    if (f.len != 4 || memcmp(f.data, "held", 4) != 0 || klaw_watch_send(wtx, "next", 4, NULL) != KLAW_OK ||
        memcmp(f.data, "held", 4) != 0 || klaw_watch_release(wrx, &f) != KLAW_OK)
        return 8;
    klaw_watch_tx_free(wtx);
    klaw_watch_rx_free(wrx);
    return 0;
}

static void borrow_held_across_a_registry_update_does_not_deadlock(void **state)
{
    (void)state;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(20); /* the watchdog: a deadlock dies of SIGALRM */
        _exit(borrow_then_registry_update());
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status))
        fail_msg("the borrowing thread deadlocked (killed by signal %d)", WTERMSIG(status));
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- select hook ------------------------------------------------------------- */

static void select_hook_takes_changes_and_reports_close(void **state)
{
    (void)state;
    for (int m = 0; m < NMODES; m++) {
        klaw_watch_tx *tx;
        klaw_watch_rx *rx;
        create(m, 32, 2, "sel", &tx, &rx);
        klaw_sel_src src;
        assert_int_equal(klaw__watch_sel_src(rx, &src), KLAW_OK);
        assert_ptr_equal(src.rx, rx);
        klaw_sel_result res;
        assert_int_equal(src.try_take(rx, &res), KLAW_EMPTY);
        uint32_t before = ck_ec32_value(src.ec);
        assert_int_equal(klaw_watch_send(tx, "s1", 2, NULL), KLAW_OK);
        (void)before;
        assert_int_equal(src.try_take(rx, &res), KLAW_OK);
        assert_int_equal(res.status, KLAW_OK);
        assert_int_equal(res.frame.seq, 1);
        assert_memory_equal(res.frame.data, "s1", 2);
        assert_int_equal(src.release(rx, &res.frame), KLAW_OK);
        assert_int_equal(src.try_take(rx, &res), KLAW_EMPTY); /* marked seen */
        if (m != M_RCU) {
            assert_int_equal(klaw_watch_send(tx, "s2", 2, NULL), KLAW_OK);
            assert_int_equal(src.try_take(rx, &res), KLAW_OK);
            assert_int_equal(klaw_watch_send(tx, "s3", 2, NULL), KLAW_OK);
            assert_int_equal(klaw_watch_send(tx, "s4", 2, NULL), KLAW_OK);
            assert_int_equal(src.release(rx, &res.frame), KLAW_LAGGED);
        }
        klaw_watch_tx_close(tx);
        assert_int_equal(src.try_take(rx, &res), m == M_RCU ? KLAW_CLOSED : KLAW_OK); /* s4 first */
        if (m != M_RCU) {
            assert_int_equal(src.release(rx, &res.frame), KLAW_OK);
            assert_int_equal(src.try_take(rx, &res), KLAW_CLOSED);
        }
        klaw_watch_rx_close(rx);
        assert_int_equal(klaw__watch_sel_src(rx, &src), KLAW_INVAL);
        destroy(m, tx, rx);
    }
}

/* ---- has_changed never repeats a version ----------------------------------- */

typedef struct repeat_ctx {
    klaw_watch_tx *tx;
    uint64_t n;
    _Atomic int done;
} repeat_ctx;

static void *repeat_sender(void *p)
{
    repeat_ctx *x = p;
    for (uint64_t i = 1; i <= x->n; i++)
        assert_int_equal(klaw_watch_send(x->tx, &i, sizeof i, NULL), KLAW_OK);
    atomic_store(&x->done, 1);
    return NULL;
}

/* has_changed() says yes only for a version the receiver has not marked
 * seen: borrow_and_update() after it must give a newer version every time.
 * (The in-process watch once said "changed" for a version a borrow had
 * already marked - its record is published before ctl.version moves - and
 * handed the same record out twice.) */
static void has_changed_never_repeats_a_version(void **state)
{
    (void)state;
    for (int mode = 0; mode < NMODES; mode++) {
        klaw_watch_tx *tx;
        klaw_watch_rx *rx;
        create(mode, 16, 0, "repeat", &tx, &rx);
        repeat_ctx x = {.tx = tx, .n = 10 * stress_values()};
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, repeat_sender, &x), 0);
        uint64_t last = 0, repeats = 0, takes = 0;
        while (!atomic_load(&x.done)) {
            int changed = 0;
            assert_int_equal(klaw_watch_has_changed(rx, &changed), KLAW_OK);
            if (!changed)
                continue;
            klaw_frame f;
            assert_int_equal(klaw_watch_borrow_and_update(rx, &f), KLAW_OK);
            repeats += f.seq <= last;
            last = f.seq;
            takes++;
            klaw_watch_release(rx, &f);
        }
        pthread_join(t, NULL);
        if (repeats)
            fail_msg("%s: %llu of %llu takes repeated a version", mode_name[mode], (unsigned long long)repeats,
                     (unsigned long long)takes);
        destroy(mode, tx, rx);
    }
}

/* ---- metadata ---------------------------------------------------------------- */

static void region_kind_and_metadata_are_written(void **state)
{
    (void)state;
    const char *name = uniq("meta");
    klaw_watch_opts o = {.max_frame = 48, .name = name, .value_type = "Config"};
    klaw_watch_tx *tx;
    assert_int_equal(klaw_watch_create(&o, &tx, NULL), KLAW_OK);
    klaw_region *r;
    assert_int_equal(klaw_region_open(name, KLAW_KIND_WATCH, 0, &r), KLAW_OK);
    const klaw_region_header *h = klaw_region_hdr(r);
    assert_int_equal(h->kind, KLAW_KIND_WATCH);
    assert_true(h->meta_len > 0);
    const uint8_t *meta = (const uint8_t *)klaw_region_base(r) + h->meta_off;
    int found = 0;
    for (uint64_t i = 0; i + 6 <= h->meta_len; i++)
        found |= memcmp(meta + i, "Config", 6) == 0;
    assert_true(found);
    klaw_region_close(r);
    /* another kind's opener refuses it */
    assert_int_equal(klaw_region_open(name, 1u, 0, &r), KLAW_INVAL);
    klaw_watch_tx_free(tx);
    klaw_region_unlink(name);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(initial_value_is_version_0_and_seen_by_new_receivers),
        cmocka_unit_test(send_bumps_version_and_marks_follow_borrow_and_update),
        cmocka_unit_test(bad_options_are_refused),
        cmocka_unit_test(changed_wakes_on_send_and_honours_its_deadline),
        cmocka_unit_test(no_system_call_unless_a_receiver_is_parked),
        cmocka_unit_test(close_lets_receivers_see_the_last_value_then_closed),
        cmocka_unit_test(close_wakes_a_parked_receiver),
        cmocka_unit_test(clones_keep_their_seen_version),
        cmocka_unit_test(borrow_overwritten_while_held_reports_lagged),
        cmocka_unit_test(rcu_borrow_outlives_many_replacements),
        cmocka_unit_test(threads_never_see_a_torn_value),
        cmocka_unit_test(processes_never_see_a_torn_value),
        cmocka_unit_test(killed_processes_handles_are_reclaimed),
        cmocka_unit_test(hostile_regions_are_refused_not_followed),
        cmocka_unit_test(version_that_never_settles_is_corrupt_not_a_spin),
        cmocka_unit_test(dead_sender_holding_the_lock_is_taken_over_and_repaired),
        cmocka_unit_test(release_after_close_is_closed_and_touches_nothing),
        cmocka_unit_test(borrow_held_across_a_registry_update_does_not_deadlock),
        cmocka_unit_test(select_hook_takes_changes_and_reports_close),
        cmocka_unit_test(region_kind_and_metadata_are_written),
        cmocka_unit_test(has_changed_never_repeats_a_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
