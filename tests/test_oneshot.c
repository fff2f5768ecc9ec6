#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_timedjoin_np */
#endif
/* test_oneshot.c - the oneshot channel: every ordering of send / sender
 * close / receive / receiver gone against a model (anonymous and named,
 * copy and zero-copy), the blocking calls woken by each event and by their
 * deadline, a race stress (exactly once), roles across processes, SIGKILLed
 * senders and receivers counted as closed, hostile regions, the select
 * hook. */
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

#include "klaw/oneshot.h"
#include "klaw/region.h"
#include "inspect.h"
#include "select_impl.h"

static char name_buf[64];
static const char *uniq(const char *tag)
{
    snprintf(name_buf, sizeof name_buf, "toneshot-%d-%s", (int)getpid(), tag);
    klaw_region_unlink(name_buf);
    return name_buf;
}

static struct timespec watchdog(void) { return klaw_deadline_in_ms(120000); }

static void create(int named, const char *tag, klaw_oneshot_tx **tx, klaw_oneshot_rx **rx)
{
    klaw_oneshot_opts o = {.max_frame = 32, .name = named ? uniq(tag) : NULL, .liveness_ns = 50000000};
    assert_int_equal(klaw_oneshot_create(&o, tx, rx), KLAW_OK);
}

static void destroy(int named, klaw_oneshot_tx *tx, klaw_oneshot_rx *rx)
{
    klaw_oneshot_tx_free(tx);
    klaw_oneshot_rx_free(rx);
    if (named)
        klaw_region_unlink(name_buf);
}

/* ---- counting futex system calls -------------------------------------------- */

#include "futex_count.h" /* counting_futex, futex_calls, futex_waits_anywhere */

/* ---- every ordering, against a model -------------------------------------- */

enum { EV_SEND, EV_TX_CLOSE, EV_RECV, EV_RX_CLOSE, NEV };
static const char ev_name[NEV] = {'S', 'C', 'R', 'G'};

typedef struct model {
    int sent, tx_closed, rx_closed, taken;
} model;

static klaw_status model_send(model *m)
{
    if (m->tx_closed)
        return KLAW_CLOSED; /* this handle is closed */
    if (m->sent)
        return KLAW_ALREADY_SENT;
    if (m->rx_closed)
        return KLAW_CLOSED;
    m->sent = 1;
    return KLAW_OK;
}

static klaw_status model_recv(model *m)
{
    if (m->rx_closed || m->taken)
        return KLAW_CLOSED;
    if (m->sent) {
        m->taken = 1;
        return KLAW_OK;
    }
    return m->tx_closed ? KLAW_CLOSED : KLAW_EMPTY;
}

/* Runs the events of `order` (a permutation of NEV events, each possibly
 * repeated) and checks every result and every is_closed against the
 * model. `view`: receive with the zero-copy view. */
static void run_order(const int *order, int n, int named, int view)
{
    klaw_oneshot_tx *tx;
    klaw_oneshot_rx *rx;
    create(named, "order", &tx, &rx);
    model m = {0, 0, 0, 0};
    char trace[32] = {0};
    for (int i = 0; i < n; i++) {
        trace[i] = ev_name[order[i]];
        klaw_status want, got = KLAW_OK;
        switch (order[i]) {
        case EV_SEND:
            want = model_send(&m);
            got = klaw_oneshot_send(tx, "value", 5);
            break;
        case EV_TX_CLOSE:
            m.tx_closed = 1;
            klaw_oneshot_tx_close(tx);
            want = KLAW_OK;
            break;
        case EV_RECV: {
            want = model_recv(&m);
            char buf[32];
            size_t len = 0;
            klaw_frame f;
            if (view) {
                got = klaw_oneshot_try_view(rx, &f);
                if (got == KLAW_OK) {
                    len = f.len;
                    memcpy(buf, f.data, f.len);
                    klaw_oneshot_release(rx, &f);
                }
            } else {
                got = klaw_oneshot_try_recv(rx, buf, sizeof buf, &len);
            }
            if (got == KLAW_OK && (len != 5 || memcmp(buf, "value", 5) != 0))
                fail_msg("order %s: wrong value", trace);
            /* the blocking form agrees when the answer is final */
            if (want != KLAW_EMPTY && want != KLAW_OK) {
                struct timespec d = klaw_deadline_in_ms(1000);
                klaw_status again = klaw_oneshot_recv(rx, buf, sizeof buf, &len, &d);
                if (again != want)
                    fail_msg("order %s: blocking recv %s, want %s", trace, klaw_status_name(again),
                             klaw_status_name(want));
            }
            break;
        }
        case EV_RX_CLOSE:
            m.rx_closed = 1;
            klaw_oneshot_rx_close(rx);
            want = KLAW_OK;
            break;
        default:
            want = KLAW_INVAL;
        }
        if (got != want)
            fail_msg("order %s (%s, %s): step %d gave %s, want %s", trace, named ? "named" : "anonymous",
                     view ? "view" : "copy", i, klaw_status_name(got), klaw_status_name(want));
        if (klaw_oneshot_is_closed(tx) != m.rx_closed)
            fail_msg("order %s: is_closed %d, want %d", trace, klaw_oneshot_is_closed(tx), m.rx_closed);
        klaw_oneshot_stats st;
        assert_int_equal(klaw_oneshot_tx_stats(tx, &st), KLAW_OK);
        if (st.sent != m.sent || st.received != m.taken || st.sender_closed != m.tx_closed ||
            st.receiver_closed != m.rx_closed)
            fail_msg("order %s: stats disagree with the model", trace);
    }
    destroy(named, tx, rx);
}

static int next_perm(int *a, int n)
{
    int i = n - 2;
    while (i >= 0 && a[i] >= a[i + 1])
        i--;
    if (i < 0)
        return 0;
    int j = n - 1;
    while (a[j] <= a[i])
        j--;
    int t = a[i];
    a[i] = a[j];
    a[j] = t;
    for (int l = i + 1, r = n - 1; l < r; l++, r--) {
        t = a[l];
        a[l] = a[r];
        a[r] = t;
    }
    return 1;
}

/* All 24 orders of the four events, then all 6!/(2!2!) = 180 orders of
 * S S R R C G (a second send, a second receive), anonymous and named,
 * copying and zero-copy. */
static void every_ordering_matches_the_model(void **state)
{
    (void)state;
    int runs = 0;
    for (int named = 0; named < 2; named++) {
        for (int view = 0; view < 2; view++) {
            int a[NEV] = {EV_SEND, EV_TX_CLOSE, EV_RECV, EV_RX_CLOSE};
            do {
                run_order(a, NEV, named, view);
                runs++;
            } while (next_perm(a, NEV));
            /* sorted, so next_perm walks each distinct order of the multiset once */
            int b[6] = {EV_SEND, EV_SEND, EV_TX_CLOSE, EV_RECV, EV_RECV, EV_RX_CLOSE};
            do {
                run_order(b, 6, named, view);
                runs++;
            } while (next_perm(b, 6));
        }
    }
    assert_int_equal(runs, 4 * (24 + 180));
}

static void too_small_a_buffer_keeps_the_value(void **state)
{
    (void)state;
    klaw_oneshot_tx *tx;
    klaw_oneshot_rx *rx;
    create(0, "small", &tx, &rx);
    assert_int_equal(klaw_oneshot_send(tx, "0123456789", 10), KLAW_OK);
    char buf[16];
    size_t len = 0;
    assert_int_equal(klaw_oneshot_try_recv(rx, buf, 4, &len), KLAW_TOOBIG);
    assert_int_equal(len, 10);
    struct timespec d = watchdog();
    assert_int_equal(klaw_oneshot_recv(rx, buf, sizeof buf, &len, &d), KLAW_OK);
    assert_memory_equal(buf, "0123456789", 10);
    assert_int_equal(klaw_oneshot_try_recv(rx, buf, sizeof buf, &len), KLAW_CLOSED);
    uint8_t big[33] = {0};
    klaw_oneshot_tx *tx2;
    klaw_oneshot_rx *rx2;
    create(0, "big", &tx2, &rx2);
    assert_int_equal(klaw_oneshot_send(tx2, big, sizeof big), KLAW_TOOBIG);
    assert_int_equal(klaw_oneshot_send(tx2, big, 32), KLAW_OK); /* nothing was sent before */
    assert_int_equal(klaw_oneshot_send(tx2, NULL, 0), KLAW_ALREADY_SENT);
    destroy(0, tx2, rx2);
    /* an empty value is a value */
    create(0, "empty", &tx2, &rx2);
    assert_int_equal(klaw_oneshot_send(tx2, NULL, 0), KLAW_OK);
    assert_int_equal(klaw_oneshot_try_recv(rx2, NULL, 0, &len), KLAW_OK);
    assert_int_equal(len, 0);
    destroy(0, tx2, rx2);
    destroy(0, tx, rx);
}

static void bad_options_and_roles_are_refused(void **state)
{
    (void)state;
    klaw_oneshot_tx *tx;
    klaw_oneshot_rx *rx;
    klaw_oneshot_opts o = {.max_frame = 0};
    assert_int_equal(klaw_oneshot_create(&o, &tx, &rx), KLAW_INVAL);
    o.max_frame = 8;
    assert_int_equal(klaw_oneshot_create(&o, NULL, NULL), KLAW_INVAL); /* anonymous, nobody */
    assert_int_equal(klaw_oneshot_open_rx("toneshot-no-such", &rx), KLAW_NOENT);
    /* anonymous with only a receiver: no sender can ever come */
    assert_int_equal(klaw_oneshot_create(&o, NULL, &rx), KLAW_OK);
    size_t len;
    assert_int_equal(klaw_oneshot_try_recv(rx, NULL, 0, &len), KLAW_CLOSED);
    klaw_oneshot_rx_free(rx);
    /* named: roles taken by name, once */
    o.name = uniq("roles");
    assert_int_equal(klaw_oneshot_create(&o, NULL, NULL), KLAW_OK);
    assert_int_equal(klaw_oneshot_open_tx(o.name, &tx), KLAW_OK);
    klaw_oneshot_tx *tx2;
    assert_int_equal(klaw_oneshot_open_tx(o.name, &tx2), KLAW_FULL);
    assert_int_equal(klaw_oneshot_is_closed(tx), 0); /* no receiver yet is not gone */
    assert_int_equal(klaw_oneshot_open_rx(o.name, &rx), KLAW_OK);
    klaw_oneshot_rx_close(rx);
    klaw_oneshot_rx *rx2;
    assert_int_equal(klaw_oneshot_open_rx(o.name, &rx2), KLAW_CLOSED); /* given up for good */
    assert_int_equal(klaw_oneshot_is_closed(tx), 1);
    assert_int_equal(klaw_oneshot_send(tx, "x", 1), KLAW_CLOSED);
    klaw_oneshot_tx_free(tx);
    klaw_oneshot_rx_free(rx);
    klaw_region_unlink(o.name);
}

/* ---- blocking calls, woken by each event -------------------------------------- */

typedef struct barg {
    klaw_oneshot_tx *tx;
    klaw_oneshot_rx *rx;
    int event; /* what the other thread does after a pause */
    klaw_status st;
    char buf[32];
    size_t len;
} barg;

static void *act_later(void *p)
{
    barg *a = p;
    usleep(20000);
    switch (a->event) {
    case EV_SEND: klaw_oneshot_send(a->tx, "late", 4); break;
    case EV_TX_CLOSE: klaw_oneshot_tx_close(a->tx); break;
    case EV_RX_CLOSE: klaw_oneshot_rx_close(a->rx); break;
    default: break;
    }
    return NULL;
}

static void *recv_waiter(void *p)
{
    barg *a = p;
    struct timespec d = watchdog();
    a->st = klaw_oneshot_recv(a->rx, a->buf, sizeof a->buf, &a->len, &d);
    return NULL;
}

static void blocking_calls_wake_on_each_event_and_time_out(void **state)
{
    (void)state;
    for (int named = 0; named < 2; named++) {
        const struct {
            int event;
            klaw_status recv_st;
        } cases[] = {{EV_SEND, KLAW_OK}, {EV_TX_CLOSE, KLAW_CLOSED}, {-1, KLAW_TIMEOUT}};
        for (size_t k = 0; k < 3; k++) {
            barg a = {0};
            create(named, "block", &a.tx, &a.rx);
            a.event = cases[k].event;
            pthread_t t;
            assert_int_equal(pthread_create(&t, NULL, act_later, &a), 0);
            struct timespec d = cases[k].event < 0 ? klaw_deadline_in_ms(60) : watchdog();
            size_t len = 0;
            char buf[32];
            assert_int_equal(klaw_oneshot_recv(a.rx, buf, sizeof buf, &len, &d), cases[k].recv_st);
            if (cases[k].recv_st == KLAW_OK)
                assert_memory_equal(buf, "late", 4);
            pthread_join(t, NULL);
            destroy(named, a.tx, a.rx);
        }
        /* the sender waits for the receiver to go */
        barg a = {0};
        create(named, "wclosed", &a.tx, &a.rx);
        struct timespec d = klaw_deadline_in_ms(30);
        assert_int_equal(klaw_oneshot_wait_closed(a.tx, &d), KLAW_TIMEOUT);
        a.event = EV_RX_CLOSE;
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, act_later, &a), 0);
        d = watchdog();
        assert_int_equal(klaw_oneshot_wait_closed(a.tx, &d), KLAW_OK);
        pthread_join(t, NULL);
        klaw_oneshot_tx_close(a.tx);
        assert_int_equal(klaw_oneshot_wait_closed(a.tx, &d), KLAW_CLOSED);
        destroy(named, a.tx, a.rx);
    }
}

/* Nobody parked: send, close and the receive make no system call (the
 * receiver is this process: no /proc read either). A parked receiver: the
 * send pays the wake-up. */
static void no_system_call_unless_the_other_side_is_parked(void **state)
{
    (void)state;
    for (int named = 0; named < 2; named++) {
        klaw_oneshot_tx *tx;
        klaw_oneshot_rx *rx;
        create(named, "nosys", &tx, &rx);
        futex_calls = 0;
        counting_futex = 1;
        assert_int_equal(klaw_oneshot_send(tx, "v", 1), KLAW_OK);
        assert_int_equal(klaw_oneshot_is_closed(tx), 0);
        char buf[4];
        size_t len;
        assert_int_equal(klaw_oneshot_try_recv(rx, buf, sizeof buf, &len), KLAW_OK);
        counting_futex = 0;
        assert_int_equal(futex_calls, 0);
        destroy(named, tx, rx);

        barg a = {0};
        create(named, "nosys2", &a.tx, &a.rx);
        pthread_t t;
        unsigned long waits = atomic_load(&futex_waits_anywhere);
        assert_int_equal(pthread_create(&t, NULL, recv_waiter, &a), 0);
        for (int i = 0; i < 20000 && atomic_load(&futex_waits_anywhere) == waits; i++)
            usleep(1000);
        assert_true(atomic_load(&futex_waits_anywhere) != waits); /* it parked */
        futex_calls = 0;
        counting_futex = 1;
        assert_int_equal(klaw_oneshot_send(a.tx, "w", 1), KLAW_OK);
        counting_futex = 0;
        assert_true(futex_calls >= 1);
        pthread_join(t, NULL);
        assert_int_equal(a.st, KLAW_OK);
        destroy(named, a.tx, a.rx);
    }
}

/* ---- race stress: exactly once ----------------------------------------------------- */

typedef struct race {
    klaw_oneshot_tx *tx;
    klaw_oneshot_rx *rx;
    int tx_plan, rx_plan;
    klaw_status send_st, recv_st;
    char buf[32];
    size_t len;
} race;

static void *race_sender(void *p)
{
    race *r = p;
    if (r->tx_plan != 1)
        r->send_st = klaw_oneshot_send(r->tx, "race!", 5);
    if (r->tx_plan != 2)
        klaw_oneshot_tx_close(r->tx);
    return NULL;
}

static void *race_receiver(void *p)
{
    race *r = p;
    if (r->rx_plan == 0) {
        struct timespec d = watchdog();
        r->recv_st = klaw_oneshot_recv(r->rx, r->buf, sizeof r->buf, &r->len, &d);
    } else if (r->rx_plan == 1) {
        klaw_frame f;
        struct timespec d = watchdog();
        r->recv_st = klaw_oneshot_view(r->rx, &d, &f);
        if (r->recv_st == KLAW_OK) {
            r->len = f.len;
            memcpy(r->buf, f.data, f.len);
            klaw_oneshot_release(r->rx, &f);
        }
    } else {
        klaw_oneshot_rx_close(r->rx);
    }
    return NULL;
}

static void racing_sides_deliver_exactly_once(void **state)
{
    (void)state;
    const char *e = getenv("KLAW_STRESS_FRAMES");
    long n = e ? atol(e) / 20 : 0;
    if (n <= 0)
        n = 1500;
    long delivered = 0, refused = 0, closed_empty = 0;
    for (long i = 0; i < n; i++) {
        race r = {0};
        create(0, "race", &r.tx, &r.rx);
        r.tx_plan = (int)(i % 3);       /* 0 send+close, 1 close only, 2 send only */
        r.rx_plan = (int)((i / 3) % 3); /* 0 recv, 1 view, 2 close                 */
        r.send_st = KLAW_INVAL;
        r.recv_st = KLAW_INVAL;
        pthread_t a, b;
        if (i & 1) {
            pthread_create(&a, NULL, race_sender, &r);
            pthread_create(&b, NULL, race_receiver, &r);
        } else {
            pthread_create(&b, NULL, race_receiver, &r);
            pthread_create(&a, NULL, race_sender, &r);
        }
        pthread_join(a, NULL);
        pthread_join(b, NULL);
        int sends = r.tx_plan != 1;
        if (r.rx_plan < 2) {
            if (sends) {
                /* the receiver stays: the value arrives, exactly once */
                if (r.send_st != KLAW_OK || r.recv_st != KLAW_OK || r.len != 5 || memcmp(r.buf, "race!", 5))
                    fail_msg("iteration %ld: send %s, recv %s", i, klaw_status_name(r.send_st),
                             klaw_status_name(r.recv_st));
                delivered++;
            } else if (r.recv_st != KLAW_CLOSED) {
                fail_msg("iteration %ld: no send, recv %s", i, klaw_status_name(r.recv_st));
            } else {
                closed_empty++;
            }
            size_t len;
            if (klaw_oneshot_try_recv(r.rx, r.buf, sizeof r.buf, &len) != KLAW_CLOSED)
                fail_msg("iteration %ld: a second receive was not CLOSED", i);
        } else if (sends) {
            if (r.send_st != KLAW_OK && r.send_st != KLAW_CLOSED)
                fail_msg("iteration %ld: send to a leaving receiver %s", i, klaw_status_name(r.send_st));
            refused += r.send_st == KLAW_CLOSED;
            assert_int_equal(klaw_oneshot_is_closed(r.tx), 1);
        }
        destroy(0, r.tx, r.rx);
    }
    print_message("%ld races: %ld delivered, %ld closed before any send, %ld sends refused\n", n, delivered,
                  closed_empty, refused);
}

/* ---- across processes ------------------------------------------------------------ */

static void roles_taken_by_name_in_other_processes(void **state)
{
    (void)state;
    /* the sender is a child */
    const char *name = uniq("xsend");
    klaw_oneshot_opts o = {.max_frame = 32, .name = name, .liveness_ns = 50000000};
    klaw_oneshot_rx *rx;
    assert_int_equal(klaw_oneshot_create(&o, NULL, &rx), KLAW_OK);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        klaw_oneshot_tx *tx;
        if (klaw_oneshot_open_tx(name, &tx) != KLAW_OK)
            _exit(2);
        usleep(20000);
        if (klaw_oneshot_send(tx, "from child", 10) != KLAW_OK)
            _exit(3);
        klaw_oneshot_tx_free(tx);
        _exit(0);
    }
    char buf[32];
    size_t len;
    struct timespec d = watchdog();
    assert_int_equal(klaw_oneshot_recv(rx, buf, sizeof buf, &len, &d), KLAW_OK);
    assert_int_equal(len, 10);
    assert_memory_equal(buf, "from child", 10);
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    klaw_oneshot_rx_free(rx);
    klaw_region_unlink(name);

    /* the receiver is a child, with a zero-copy view */
    name = uniq("xrecv");
    o.name = name;
    klaw_oneshot_tx *tx;
    assert_int_equal(klaw_oneshot_create(&o, &tx, NULL), KLAW_OK);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        klaw_oneshot_rx *crx;
        if (klaw_oneshot_open_rx(name, &crx) != KLAW_OK)
            _exit(2);
        klaw_frame f;
        struct timespec cd = watchdog();
        if (klaw_oneshot_view(crx, &cd, &f) != KLAW_OK || f.len != 11 || memcmp(f.data, "from parent", 11))
            _exit(3);
        klaw_oneshot_release(crx, &f);
        klaw_oneshot_rx_free(crx);
        _exit(0);
    }
    /* wait for the child to take its role, then send */
    for (int tries = 0; tries < 5000; tries++) {
        klaw_oneshot_stats st;
        klaw_oneshot_tx_stats(tx, &st);
        if (st.receiver_held)
            break;
        usleep(1000);
    }
    assert_int_equal(klaw_oneshot_send(tx, "from parent", 11), KLAW_OK);
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    klaw_oneshot_stats st;
    assert_int_equal(klaw_oneshot_tx_stats(tx, &st), KLAW_OK);
    assert_int_equal(st.received, 1);
    assert_int_equal(st.receiver_closed, 1);
    assert_int_equal(klaw_oneshot_is_closed(tx), 1);
    klaw_oneshot_tx_free(tx);
    klaw_region_unlink(name);
}

/* A child takes a role, optionally sends, and is SIGKILLed. */
static pid_t child_with_role(const char *name, int tx_role, int send_first)
{
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (tx_role) {
            klaw_oneshot_tx *tx;
            if (klaw_oneshot_open_tx(name, &tx) != KLAW_OK)
                _exit(2);
            if (send_first && klaw_oneshot_send(tx, "dying words", 11) != KLAW_OK)
                _exit(3);
        } else {
            klaw_oneshot_rx *rx;
            if (klaw_oneshot_open_rx(name, &rx) != KLAW_OK)
                _exit(2);
        }
        if (write(pfd[1], "r", 1) != 1)
            _exit(4);
        pause();
        _exit(0);
    }
    char c;
    assert_int_equal(read(pfd[0], &c, 1), 1);
    close(pfd[0]);
    close(pfd[1]);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFSIGNALED(status));
    return pid;
}

static void killed_peers_count_as_closed(void **state)
{
    (void)state;
    klaw_oneshot_opts o = {.max_frame = 32, .liveness_ns = 50000000};
    /* a sender killed before sending: the parked receiver gets CLOSED */
    o.name = uniq("ksend");
    klaw_oneshot_rx *rx;
    assert_int_equal(klaw_oneshot_create(&o, NULL, &rx), KLAW_OK);
    child_with_role(o.name, 1, 0);
    char buf[32];
    size_t len;
    struct timespec d = watchdog();
    assert_int_equal(klaw_oneshot_recv(rx, buf, sizeof buf, &len, &d), KLAW_CLOSED);
    klaw_oneshot_stats st;
    assert_int_equal(klaw_oneshot_rx_stats(rx, &st), KLAW_OK);
    assert_int_equal(st.sender_closed, 1);
    assert_int_equal(st.sender_held, 0);
    klaw_oneshot_rx_free(rx);
    klaw_region_unlink(o.name);

    /* the same with try_recv polling: liveness is checked there too */
    o.name = uniq("ksend2");
    assert_int_equal(klaw_oneshot_create(&o, NULL, &rx), KLAW_OK);
    child_with_role(o.name, 1, 0);
    klaw_status s = KLAW_EMPTY;
    for (int i = 0; i < 20000 && s == KLAW_EMPTY; i++) {
        s = klaw_oneshot_try_recv(rx, buf, sizeof buf, &len);
        if (s == KLAW_EMPTY)
            usleep(1000);
    }
    assert_int_equal(s, KLAW_CLOSED);
    klaw_oneshot_rx_free(rx);
    klaw_region_unlink(o.name);

    /* a sender killed after sending: the value still arrives */
    o.name = uniq("ksend3");
    assert_int_equal(klaw_oneshot_create(&o, NULL, &rx), KLAW_OK);
    child_with_role(o.name, 1, 1);
    usleep(100000); /* past the liveness timeout */
    d = watchdog();
    assert_int_equal(klaw_oneshot_recv(rx, buf, sizeof buf, &len, &d), KLAW_OK);
    assert_memory_equal(buf, "dying words", 11);
    klaw_oneshot_rx_free(rx);
    klaw_region_unlink(o.name);

    /* a receiver killed: the sender sees it gone, its send says CLOSED,
     * and a sender parked in wait_closed returns */
    o.name = uniq("krecv");
    klaw_oneshot_tx *tx;
    assert_int_equal(klaw_oneshot_create(&o, &tx, NULL), KLAW_OK);
    child_with_role(o.name, 0, 0);
    d = watchdog();
    assert_int_equal(klaw_oneshot_wait_closed(tx, &d), KLAW_OK);
    assert_int_equal(klaw_oneshot_is_closed(tx), 1);
    assert_int_equal(klaw_oneshot_send(tx, "late", 4), KLAW_CLOSED);
    klaw_oneshot_rx *rx2;
    assert_int_equal(klaw_oneshot_open_rx(o.name, &rx2), KLAW_CLOSED);
    klaw_oneshot_tx_free(tx);
    klaw_region_unlink(o.name);
}

/* A child takes the sender role by name and exits without sending - no
 * deadline on the parent's receive, and the child left a zombie (not
 * waited for) behind: liveness is the kernel's file lock on the region,
 * which goes with the process, so the receive says KLAW_CLOSED within
 * about one liveness period. (A pid alone can stay "alive": a zombie, or a
 * recycled pid, kept a receive with no deadline waiting for ever.) */
typedef struct nodl_arg {
    klaw_oneshot_rx *rx;
    klaw_status st;
    _Atomic int64_t done_ns;
} nodl_arg;

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *recv_no_deadline(void *p)
{
    nodl_arg *a = p;
    char buf[32];
    size_t len;
    a->st = klaw_oneshot_recv(a->rx, buf, sizeof buf, &len, NULL);
    atomic_store(&a->done_ns, mono_ns());
    return NULL;
}

static void dead_sender_closes_a_receive_with_no_deadline(void **state)
{
    (void)state;
    const uint64_t live = 200000000; /* 200 ms */
    klaw_oneshot_opts o = {.max_frame = 32, .name = uniq("nodl"), .liveness_ns = live};
    klaw_oneshot_rx *rx;
    assert_int_equal(klaw_oneshot_create(&o, NULL, &rx), KLAW_OK);
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        klaw_oneshot_tx *tx;
        if (klaw_oneshot_open_tx(o.name, &tx) != KLAW_OK)
            _exit(2);
        char c;
        if (read(pfd[0], &c, 1) != 1) /* the parent is parked */
            _exit(3);
        _exit(0); /* no send, no close */
    }
    /* the child holds the role */
    klaw_oneshot_stats st;
    for (int i = 0; i < 5000; i++) {
        assert_int_equal(klaw_oneshot_rx_stats(rx, &st), KLAW_OK);
        if (st.sender_held)
            break;
        usleep(1000);
    }
    assert_int_equal(st.sender_held, 1);
    nodl_arg a = {rx, KLAW_INVAL, 0};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, recv_no_deadline, &a), 0);
    usleep(50000);
    assert_int_equal(atomic_load(&a.done_ns), 0); /* parked */
    int64_t died = mono_ns();
    assert_int_equal(write(pfd[1], "x", 1), 1);
    /* the watchdog: 5 s, then fail (the thread is left behind, stuck) */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    if (pthread_timedjoin_np(t, NULL, &until) != 0)
        fail_msg("a receive with no deadline still waits 5 s after its sender died");
    int64_t took = atomic_load(&a.done_ns) - died;
    print_message("CLOSED %.0f ms after the sender's exit (liveness %.0f ms)\n", (double)took / 1e6,
                  (double)live / 1e6);
    assert_int_equal(a.st, KLAW_CLOSED);
    assert_true(took < (int64_t)live + 500000000);
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(klaw_oneshot_rx_stats(rx, &st), KLAW_OK);
    assert_int_equal(st.sender_closed, 1);
    assert_int_equal(st.sender_held, 0);
    klaw_oneshot_tx *tx2; /* the role is closed for good */
    assert_int_equal(klaw_oneshot_open_tx(o.name, &tx2), KLAW_CLOSED);
    close(pfd[0]);
    close(pfd[1]);
    klaw_oneshot_rx_free(rx);
    klaw_region_unlink(o.name);
}

/* ---- a value too big for the buffer is never CLOSED ----------------------------- */

/* Two threads of the receiver's process try to receive a sent value into
 * buffers too small for it: each must say TOOBIG every time - the value
 * stays there - and never CLOSED (which once came out when the other
 * thread's TOOBIG path had taken the value and not yet handed it back). */
typedef struct toobig_arg {
    klaw_oneshot_rx *rx;
    long n, toobig, closed, other;
    int blocking;
} toobig_arg;

static void *toobig_loop(void *p)
{
    toobig_arg *a = p;
    char buf[4];
    for (long i = 0; i < a->n; i++) {
        size_t len = 0;
        klaw_status st;
        if (a->blocking) {
            struct timespec d = watchdog();
            st = klaw_oneshot_recv(a->rx, buf, sizeof buf, &len, &d);
        } else {
            st = klaw_oneshot_try_recv(a->rx, buf, sizeof buf, &len);
        }
        if (st == KLAW_TOOBIG && len == 10)
            a->toobig++;
        else if (st == KLAW_CLOSED)
            a->closed++;
        else
            a->other++;
    }
    return NULL;
}

static void toobig_is_never_reported_closed(void **state)
{
    (void)state;
    const char *e = getenv("KLAW_STRESS_FRAMES");
    long n = e ? atol(e) : 0;
    if (n < 100000)
        n = 100000;
    for (int named = 0; named < 2; named++) {
        klaw_oneshot_tx *tx;
        klaw_oneshot_rx *rx;
        create(named, "toobig", &tx, &rx);
        assert_int_equal(klaw_oneshot_send(tx, "0123456789", 10), KLAW_OK);
        toobig_arg a[2] = {{rx, n, 0, 0, 0, 0}, {rx, n, 0, 0, 0, 1}};
        pthread_t t[2];
        for (int i = 0; i < 2; i++)
            assert_int_equal(pthread_create(&t[i], NULL, toobig_loop, &a[i]), 0);
        for (int i = 0; i < 2; i++)
            pthread_join(t[i], NULL);
        for (int i = 0; i < 2; i++)
            if (a[i].closed || a[i].other)
                fail_msg("%s, thread %d: %ld TOOBIG, %ld CLOSED, %ld other of %ld", named ? "named" : "anonymous", i,
                         a[i].toobig, a[i].closed, a[i].other, n);
        /* the value is still there, once */
        char buf[16];
        size_t len;
        assert_int_equal(klaw_oneshot_try_recv(rx, buf, sizeof buf, &len), KLAW_OK);
        assert_int_equal(len, 10);
        assert_memory_equal(buf, "0123456789", 10);
        assert_int_equal(klaw_oneshot_try_recv(rx, buf, 4, &len), KLAW_CLOSED);
        destroy(named, tx, rx);
    }
}

/* ---- calls on a closed handle touch nothing ---------------------------------------- */

/* release after the receiver closed: KLAW_CLOSED, and the state word is
 * not touched (no RELEASED); send and wait_closed after the sender closed:
 * KLAW_CLOSED, nothing claimed. */
static void calls_on_a_closed_handle_touch_nothing(void **state)
{
    (void)state;
    const char *name = uniq("closedcalls");
    klaw_oneshot_opts o = {.max_frame = 16, .name = name};
    klaw_oneshot_tx *tx;
    klaw_oneshot_rx *rx;
    assert_int_equal(klaw_oneshot_create(&o, &tx, &rx), KLAW_OK);
    klaw_region *r;
    assert_int_equal(klaw_region_open(name, 0, 0, &r), KLAW_OK);
    _Atomic uint32_t *word =
        (_Atomic uint32_t *)(void *)((uint8_t *)klaw_region_base(r) + klaw_region_hdr(r)->body_off + 64);
    assert_int_equal(klaw_oneshot_send(tx, "abc", 3), KLAW_OK);
    klaw_frame f;
    assert_int_equal(klaw_oneshot_try_view(rx, &f), KLAW_OK);
    klaw_oneshot_rx_close(rx);
    uint32_t before = atomic_load(word);
    assert_int_equal(klaw_oneshot_release(rx, &f), KLAW_CLOSED);
    assert_int_equal(atomic_load(word), before);
    assert_int_equal(before & 32u, 0); /* RELEASED never set */
    klaw_oneshot_tx_close(tx);
    before = atomic_load(word);
    assert_int_equal(klaw_oneshot_send(tx, "x", 1), KLAW_CLOSED);
    struct timespec d = klaw_deadline_in_ms(10);
    assert_int_equal(klaw_oneshot_wait_closed(tx, &d), KLAW_CLOSED);
    assert_int_equal(atomic_load(word), before);
    /* a released view says OK */
    klaw_oneshot_tx *tx2;
    klaw_oneshot_rx *rx2;
    create(0, "relok", &tx2, &rx2);
    assert_int_equal(klaw_oneshot_send(tx2, "v", 1), KLAW_OK);
    assert_int_equal(klaw_oneshot_try_view(rx2, &f), KLAW_OK);
    assert_int_equal(klaw_oneshot_release(rx2, &f), KLAW_OK);
    destroy(0, tx2, rx2);
    klaw_region_close(r);
    klaw_oneshot_tx_free(tx);
    klaw_oneshot_rx_free(rx);
    klaw_region_unlink(name);
}

/* ---- hostile regions ------------------------------------------------------------------- */

/* The control block's config as oneshot.c lays it out, and the lifecycle
 * block (channels/lifecycle.h) three lines into it. */
typedef struct cfg_view {
    uint32_t magic, max_frame;
    uint64_t data_off, tables_off;
} cfg_view;

typedef struct life_view {
    uint32_t magic, max_handles, max_peers, closing_roles;
    uint64_t handles_off, peers_off, liveness_ns;
} life_view;

static void hostile_regions_are_refused_not_followed(void **state)
{
    (void)state;
    const char *name = uniq("hostile");
    klaw_oneshot_opts o = {.max_frame = 16, .name = name};
    klaw_oneshot_tx *tx;
    assert_int_equal(klaw_oneshot_create(&o, &tx, NULL), KLAW_OK);
    klaw_region *r;
    assert_int_equal(klaw_region_open(name, 0, 0, &r), KLAW_OK);
    uint8_t *base = klaw_region_base(r);
    uint64_t body = klaw_region_hdr(r)->body_off;
    cfg_view *cfg = (cfg_view *)(base + body);
    life_view *life = (life_view *)(base + body + 3 * 64);
    assert_int_equal(life->magic, 0x4546494cu); /* "LIFE": the layout is what we think */
    cfg_view saved = *cfg;
    life_view lsaved = *life;
    klaw_oneshot_rx *rx;
    for (int k = 0; k < 13; k++) {
        *cfg = saved;
        *life = lsaved;
        switch (k) {
        case 0: cfg->magic ^= 1; break;
        case 1: cfg->max_frame = 0; break;
        case 2: cfg->data_off = klaw_region_size(r) - 8; break;
        case 3: cfg->data_off = UINT64_MAX - 63; break;
        case 4: cfg->data_off = body; break;                /* the value over the state word */
        case 5: cfg->data_off = lsaved.handles_off; break;  /* over the handle table */
        case 6: cfg->data_off = lsaved.peers_off; break;    /* over the peer slots */
        case 7: life->magic ^= 1; break;
        case 8: life->max_handles = 3; break;               /* one per role, no more */
        case 9: life->closing_roles = 2; break;             /* both roles close */
        case 10: life->liveness_ns = 0; break;
        case 11: life->handles_off = klaw_region_size(r) - 64; break;
        case 12: life->handles_off = saved.data_off; break; /* the table over the value */
        }
        if (klaw_oneshot_open_rx(name, &rx) != KLAW_CORRUPT)
            fail_msg("broken field %d: not refused", k);
        klaw_oneshot_stats st;
        assert_int_equal(klaw__oneshot_inspect(r, &st), KLAW_CORRUPT);
    }
    *life = lsaved;
    *cfg = saved;
    assert_int_equal(klaw_oneshot_open_rx(name, &rx), KLAW_OK);
    assert_int_equal(klaw_oneshot_send(tx, "abc", 3), KLAW_OK);
    /* a length past max_frame is clamped, never followed */
    uint32_t *lenp = (uint32_t *)(void *)(base + klaw_region_hdr(r)->body_off + 64 + 4);
    __atomic_store_n(lenp, 1u << 30, __ATOMIC_RELAXED);
    klaw_frame f;
    assert_int_equal(klaw_oneshot_try_view(rx, &f), KLAW_OK);
    assert_int_equal(f.len, 16);
    klaw_oneshot_release(rx, &f);
    klaw_oneshot_stats st;
    assert_int_equal(klaw__oneshot_inspect(r, &st), KLAW_OK);
    assert_int_equal(st.sent, 1);
    assert_int_equal(st.received, 1);
    assert_int_equal(st.value_len, 16);
    klaw_oneshot_rx_free(rx);
    klaw_oneshot_tx_free(tx);
    klaw_region_close(r);
    klaw_region_unlink(name);
}

/* ---- select hook and metadata --------------------------------------------------------- */

static void select_hook_takes_the_value_or_closed(void **state)
{
    (void)state;
    for (int named = 0; named < 2; named++) {
        klaw_oneshot_tx *tx;
        klaw_oneshot_rx *rx;
        create(named, "sel", &tx, &rx);
        klaw_sel_src src;
        assert_int_equal(klaw__oneshot_sel_src(rx, &src), KLAW_OK);
        klaw_sel_result res;
        assert_int_equal(src.try_take(rx, &res), KLAW_EMPTY);
        uint32_t ev = ck_ec32_value(src.ec);
        assert_int_equal(klaw_oneshot_send(tx, "sel", 3), KLAW_OK);
        (void)ev;
        assert_int_equal(src.try_take(rx, &res), KLAW_OK);
        assert_int_equal(res.status, KLAW_OK);
        assert_int_equal(res.frame.len, 3);
        assert_memory_equal(res.frame.data, "sel", 3);
        assert_int_equal(src.release(rx, &res.frame), KLAW_OK);
        assert_int_equal(src.try_take(rx, &res), KLAW_CLOSED);
        destroy(named, tx, rx);
        create(named, "sel2", &tx, &rx);
        assert_int_equal(klaw__oneshot_sel_src(rx, &src), KLAW_OK);
        klaw_oneshot_tx_close(tx);
        assert_int_equal(src.try_take(rx, &res), KLAW_CLOSED);
        klaw_oneshot_rx_close(rx);
        assert_int_equal(klaw__oneshot_sel_src(rx, &src), KLAW_INVAL);
        destroy(named, tx, rx);
    }
}

static void region_kind_and_metadata_are_written(void **state)
{
    (void)state;
    const char *name = uniq("meta");
    klaw_oneshot_opts o = {.max_frame = 48, .name = name, .value_type = "Reply"};
    klaw_oneshot_tx *tx;
    assert_int_equal(klaw_oneshot_create(&o, &tx, NULL), KLAW_OK);
    klaw_region *r;
    assert_int_equal(klaw_region_open(name, KLAW_KIND_ONESHOT, 0, &r), KLAW_OK);
    const klaw_region_header *h = klaw_region_hdr(r);
    assert_int_equal(h->kind, KLAW_KIND_ONESHOT);
    const uint8_t *meta = (const uint8_t *)klaw_region_base(r) + h->meta_off;
    int found = 0;
    for (uint64_t i = 0; i + 5 <= h->meta_len; i++)
        found |= memcmp(meta + i, "Reply", 5) == 0;
    assert_true(found);
    klaw_region_close(r);
    klaw_oneshot_tx_free(tx);
    klaw_region_unlink(name);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_ordering_matches_the_model),
        cmocka_unit_test(too_small_a_buffer_keeps_the_value),
        cmocka_unit_test(bad_options_and_roles_are_refused),
        cmocka_unit_test(blocking_calls_wake_on_each_event_and_time_out),
        cmocka_unit_test(no_system_call_unless_the_other_side_is_parked),
        cmocka_unit_test(racing_sides_deliver_exactly_once),
        cmocka_unit_test(roles_taken_by_name_in_other_processes),
        cmocka_unit_test(killed_peers_count_as_closed),
        cmocka_unit_test(dead_sender_closes_a_receive_with_no_deadline),
        cmocka_unit_test(toobig_is_never_reported_closed),
        cmocka_unit_test(calls_on_a_closed_handle_touch_nothing),
        cmocka_unit_test(hostile_regions_are_refused_not_followed),
        cmocka_unit_test(select_hook_takes_the_value_or_closed),
        cmocka_unit_test(region_kind_and_metadata_are_written),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
