/* test_broadcast.c - the broadcast channel: every receiver sees every frame
 * in order; OVERWRITE lag counts are exact and lapped views are caught at
 * release (no torn frame is ever accepted, nor a TOOBIG on a length that
 * was not validated); BLOCK loses nothing and evicts a killed receiver; a
 * writer closed or killed between claim and commit does not wedge readers
 * (also for a reader that waits in short slices); a closed handle's
 * commit/abort/release touch nothing; laps wrap at 2^48; close/drain;
 * NO_RECEIVERS; subscribe from the tail or the oldest retained frame;
 * hostile regions are refused. Stress in threads and across processes: for
 * every receiver, received + lagged == sent.
 * KLAW_STRESS_FRAMES sets the frames per stress case (default 20000). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "klaw/broadcast.h"
#include "klaw/records.h"
#include "klaw/region.h"
#include "klaw/registry.h"
#include "klaw/schema.h"
#include "inspect.h"
#include "select_impl.h"

/* Test only, in channels/broadcast.c (not in the public header; the
 * tests link the static library, where the hidden symbol resolves):
 * moves a fresh channel (no frame yet, no receiver) to position pos. */
extern klaw_status klaw__bcast_test_set_pos(klaw_bcast_tx *tx, uint64_t pos);

/* A slot's lap field is 48 bits wide (channels/broadcast.c) */
#define LAP_BITS 48

static char name_buf[64];
static const char *uniq(const char *tag)
{
    snprintf(name_buf, sizeof name_buf, "tbcast-%d-%s", (int)getpid(), tag);
    klaw_region_unlink(name_buf);
    return name_buf;
}

static struct timespec watchdog(void) { return klaw_deadline_in_ms(60000); }

/* creation flags for make_live (the single-writer tests set
 * KLAW_BCAST_SINGLE_WRITER) */
static unsigned g_flags;

static klaw_bcast_tx *make_live(uint32_t cap, uint32_t maxf, int policy, const char *name, uint64_t liveness_ns)
{
    klaw_bcast_opts o = {.capacity = cap, .max_frame = maxf, .policy = policy, .name = name,
                         .liveness_ns = liveness_ns, .flags = g_flags};
    klaw_bcast_tx *tx = NULL;
    assert_int_equal(klaw_bcast_create(&o, &tx), KLAW_OK);
    return tx;
}

static klaw_bcast_tx *make(uint32_t cap, uint32_t maxf, int policy, const char *name)
{
    return make_live(cap, maxf, policy, name, 100000000);
}

/* Stress channels check liveness only every 10 minutes: a parked caller
 * wakes up for that check too, which would hide a lost wake-up as a pause;
 * this way a lost wake-up is a watchdog timeout, and a failure. */
#define STRESS_LIVENESS_NS 600000000000ull

static void send_u64(klaw_bcast_tx *tx, uint64_t v, klaw_status want)
{
    assert_int_equal(klaw_bcast_try_send(tx, &v, sizeof v), want);
}

static uint64_t recv_u64(klaw_bcast_rx *rx)
{
    uint64_t v = 0, lag = 0;
    size_t len = 0;
    assert_int_equal(klaw_bcast_try_recv(rx, &v, sizeof v, &len, &lag), KLAW_OK);
    assert_int_equal(len, sizeof v);
    return v;
}

/* ---- single-threaded behaviour ------------------------------------------ */

static void every_receiver_sees_every_frame_in_order(void **state)
{
    (void)state;
    klaw_bcast_tx *tx = make(8, 32, 0, NULL);
    klaw_bcast_rx *a, *b;
    assert_int_equal(klaw_bcast_subscribe(tx, KLAW_BCAST_FROM_TAIL, "a", &a), KLAW_OK);
    assert_int_equal(klaw_bcast_subscribe(tx, KLAW_BCAST_FROM_TAIL, "b", &b), KLAW_OK);
    for (uint64_t i = 0; i < 5; i++)
        send_u64(tx, 100 + i, KLAW_OK);
    for (uint64_t i = 0; i < 5; i++) {
        klaw_frame f;
        uint64_t lag = 99;
        assert_int_equal(klaw_bcast_try_view(a, &f, &lag), KLAW_OK);
        assert_int_equal(lag, 0);
        assert_int_equal(f.seq, i);
        assert_int_equal(f.len, 8);
        uint64_t v;
        memcpy(&v, f.data, 8);
        assert_int_equal(v, 100 + i);
        assert_int_equal(klaw_bcast_release(a, &f), KLAW_OK);
        assert_int_equal(recv_u64(b), 100 + i);
    }
    klaw_frame f;
    assert_int_equal(klaw_bcast_try_view(a, &f, NULL), KLAW_EMPTY);
    assert_int_equal(klaw_bcast_try_view(b, &f, NULL), KLAW_EMPTY);
    klaw_bcast_stats s;
    assert_int_equal(klaw_bcast_tx_stats(tx, &s), KLAW_OK);
    assert_int_equal(s.total_sent, 5);
    assert_int_equal(s.total_received, 10);
    assert_int_equal(s.lagged, 0);
    assert_int_equal(s.readers, 2);
    assert_int_equal(s.writers, 1);
    assert_int_equal(s.capacity, 8);
    assert_int_equal(s.policy, KLAW_POLICY_OVERWRITE);
    assert_int_equal(s.depth, 0);
    klaw_bcast_rx_free(a);
    klaw_bcast_rx_free(b);
    klaw_bcast_tx_free(tx);
}

static void bad_options_are_refused(void **state)
{
    (void)state;
    klaw_bcast_tx *tx;
    klaw_bcast_opts o = {.capacity = 0, .max_frame = 8};
    assert_int_equal(klaw_bcast_create(&o, &tx), KLAW_INVAL);
    assert_null(tx);
    o.capacity = 4;
    o.max_frame = 0;
    assert_int_equal(klaw_bcast_create(&o, &tx), KLAW_INVAL);
    o.max_frame = 8;
    o.policy = 7;
    assert_int_equal(klaw_bcast_create(&o, &tx), KLAW_INVAL);
    o.policy = KLAW_POLICY_BLOCK;
    o.max_readers = 5000;
    assert_int_equal(klaw_bcast_create(&o, &tx), KLAW_INVAL);
    o.max_readers = 2;
    o.capacity = 3;
    assert_int_equal(klaw_bcast_create(&o, &tx), KLAW_OK);
    klaw_bcast_rx *r1, *r2, *r3;
    assert_int_equal(klaw_bcast_subscribe(tx, 0, "same", &r1), KLAW_OK);
    assert_int_equal(klaw_bcast_subscribe(tx, 0, "same", &r2), KLAW_EXIST);
    assert_int_equal(klaw_bcast_subscribe(tx, 0, "", &r2), KLAW_INVAL);
    assert_int_equal(klaw_bcast_subscribe(tx, 7, NULL, &r2), KLAW_INVAL);
    char longid[80];
    memset(longid, 'x', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    assert_int_equal(klaw_bcast_subscribe(tx, 0, longid, &r2), KLAW_INVAL);
    assert_int_equal(klaw_bcast_subscribe(tx, 0, NULL, &r2), KLAW_OK);
    assert_int_equal(klaw_bcast_subscribe(tx, 0, NULL, &r3), KLAW_FULL);
    klaw_bcast_stats s;
    klaw_bcast_rx_stats(r1, &s);
    assert_int_equal(s.capacity, 4);
    assert_int_equal(s.policy, KLAW_POLICY_BLOCK);
    uint8_t big[9] = {0};
    assert_int_equal(klaw_bcast_try_send(tx, big, 9), KLAW_TOOBIG);
    klaw_bcast_rx_free(r1);
    klaw_bcast_rx_free(r2);
    klaw_bcast_tx_free(tx);
    /* max_writers holds though writers and receivers share one handle
     * table: the third writer is refused, and a closed one's place is free */
    o.max_writers = 2;
    klaw_bcast_tx *w2, *w3;
    assert_int_equal(klaw_bcast_create(&o, &tx), KLAW_OK);
    assert_int_equal(klaw_bcast_tx_clone(tx, &w2), KLAW_OK);
    assert_int_equal(klaw_bcast_tx_clone(tx, &w3), KLAW_FULL);
    assert_null(w3);
    klaw_bcast_tx_free(w2);
    assert_int_equal(klaw_bcast_tx_clone(tx, &w3), KLAW_OK);
    klaw_bcast_stats st;
    assert_int_equal(klaw_bcast_tx_stats(tx, &st), KLAW_OK);
    assert_int_equal(st.writers, 2);
    klaw_bcast_tx_free(w3);
    klaw_bcast_tx_free(tx);
}

/* OVERWRITE: a receiver overrun by 6 frames of a 4-slot ring is told it
 * missed exactly 6, then reads the 4 retained ones. */
static void overwrite_lag_is_exact_and_resumes_at_the_oldest(void **state)
{
    (void)state;
    klaw_bcast_tx *tx = make(4, 8, KLAW_POLICY_OVERWRITE, NULL);
    klaw_bcast_rx *rx;
    assert_int_equal(klaw_bcast_subscribe(tx, 0, "slow", &rx), KLAW_OK);
    for (uint64_t i = 0; i < 10; i++)
        send_u64(tx, i, KLAW_OK); /* the writer never waits */
    klaw_frame f;
    uint64_t lag = 0;
    assert_int_equal(klaw_bcast_try_view(rx, &f, &lag), KLAW_LAGGED);
    assert_int_equal(lag, 6);
    for (uint64_t i = 6; i < 10; i++)
        assert_int_equal(recv_u64(rx), i);
    assert_int_equal(klaw_bcast_try_view(rx, &f, &lag), KLAW_EMPTY);
    /* lagging again, through the copying recv */
    for (uint64_t i = 10; i < 15; i++)
        send_u64(tx, i, KLAW_OK);
    uint64_t v;
    size_t len;
    assert_int_equal(klaw_bcast_try_recv(rx, &v, sizeof v, &len, &lag), KLAW_LAGGED);
    assert_int_equal(lag, 1);
    assert_int_equal(recv_u64(rx), 11);
    klaw_bcast_stats s;
    klaw_bcast_tx_stats(tx, &s);
    assert_int_equal(s.total_sent, 15);
    assert_int_equal(s.lagged, 7);
    assert_int_equal(s.total_received, 5);
    assert_int_equal(s.depth, 3);
    klaw_bcast_rx_free(rx);
    klaw_bcast_tx_free(tx);
}

/* A view held while the writer laps it: release says LAGGED. */
static void a_view_lapped_while_held_is_lagged_at_release(void **state)
{
    (void)state;
    klaw_bcast_tx *tx = make(4, 8, KLAW_POLICY_OVERWRITE, NULL);
    klaw_bcast_rx *rx;
    assert_int_equal(klaw_bcast_subscribe(tx, 0, NULL, &rx), KLAW_OK);
    send_u64(tx, 1, KLAW_OK);
    klaw_frame f;
    assert_int_equal(klaw_bcast_try_view(rx, &f, NULL), KLAW_OK);
    for (uint64_t i = 0; i < 3; i++) /* not yet over f's slot */
        send_u64(tx, 2 + i, KLAW_OK);
    klaw_frame g;
    assert_int_equal(klaw_bcast_try_view(rx, &g, NULL), KLAW_OK);
    assert_int_equal(klaw_bcast_release(rx, &f), KLAW_OK);
    send_u64(tx, 5, KLAW_OK);
    send_u64(tx, 6, KLAW_OK); /* laps g (position 1) */
    assert_int_equal(klaw_bcast_release(rx, &g), KLAW_LAGGED);
    assert_null(g.data); /* marked: not to be used */
    /* the batch form too */
    klaw_frame fr[4];
    size_t got = 0;
    uint64_t lag = 0;
    assert_int_equal(klaw_bcast_view_batch(rx, fr, 4, &got, &lag, NULL), KLAW_OK);
    assert_int_equal(got, 4);
    assert_int_equal(fr[0].seq, 2);
    assert_int_equal(klaw_bcast_release_batch(rx, fr, got), KLAW_OK);
    send_u64(tx, 7, KLAW_OK);
    assert_int_equal(klaw_bcast_view_batch(rx, fr, 4, &got, &lag, NULL), KLAW_OK);
    assert_int_equal(got, 1);
    for (uint64_t i = 0; i < 4; i++)
        send_u64(tx, 8 + i, KLAW_OK);
    assert_int_equal(klaw_bcast_release_batch(rx, fr, got), KLAW_LAGGED);
    assert_null(fr[0].data);
    klaw_bcast_stats s;
    klaw_bcast_tx_stats(tx, &s);
    assert_int_equal(s.total_sent, 11);
    assert_int_equal(s.lagged, 2);
    assert_int_equal(s.total_received, 5);
    klaw_bcast_rx_free(rx);
    klaw_bcast_tx_free(tx);
}

static void zero_copy_claims_commit_abort_and_batches(void **state)
{
    (void)state;
    klaw_bcast_tx *tx = make(8, 64, KLAW_POLICY_BLOCK, NULL);
    klaw_bcast_rx *rx;
    assert_int_equal(klaw_bcast_subscribe(tx, 0, NULL, &rx), KLAW_OK);
    klaw_frame f;
    assert_int_equal(klaw_bcast_try_claim(tx, 100, &f), KLAW_TOOBIG);
    assert_int_equal(klaw_bcast_try_claim(tx, 5, &f), KLAW_OK);
    assert_int_equal(f.cap, 64);
    memcpy(f.data, "hello, world", 12);
    assert_int_equal(klaw_bcast_commit(tx, &f, 12), KLAW_OK); /* grows to 12 */
    assert_int_equal(klaw_bcast_try_claim(tx, 4, &f), KLAW_OK);
    klaw_bcast_abort(tx, &f);
    assert_int_equal(klaw_bcast_try_claim(tx, 4, &f), KLAW_OK);
    assert_int_equal(klaw_bcast_commit(tx, &f, 65), KLAW_INVAL); /* aborted */
    klaw_frame fr[8];
    size_t got;
    assert_int_equal(klaw_bcast_claim_batch(tx, 8, fr, 3, &got, NULL), KLAW_OK);
    assert_int_equal(got, 3);
    for (size_t i = 0; i < got; i++) {
        memset(fr[i].data, 'a' + (int)i, 8);
        fr[i].len = 8;
    }
    assert_int_equal(klaw_bcast_commit_batch(tx, fr, got), KLAW_OK);
    /* the receiver passes the two aborted positions */
    uint64_t lag = 0;
    assert_int_equal(klaw_bcast_try_view(rx, &f, &lag), KLAW_OK);
    assert_int_equal(f.len, 12);
    assert_memory_equal(f.data, "hello, world", 12);
    assert_int_equal(klaw_bcast_release(rx, &f), KLAW_OK);
    assert_int_equal(klaw_bcast_view_batch(rx, fr, 8, &got, &lag, NULL), KLAW_OK);
    assert_int_equal(got, 3);
    for (size_t i = 0; i < got; i++) {
        assert_int_equal(fr[i].len, 8);
        assert_int_equal(fr[i].data[0], 'a' + (int)i);
        if (i)
            assert_true(fr[i].seq == fr[i - 1].seq + 1);
    }
    assert_int_equal(klaw_bcast_release_batch(rx, fr, got), KLAW_OK);
    klaw_bcast_stats s;
    klaw_bcast_tx_stats(tx, &s);
    assert_int_equal(s.total_sent, 4);
    assert_int_equal(s.aborted_claims, 2);
    assert_int_equal(s.total_received, 4);
    assert_int_equal(s.lagged, 0);
    klaw_bcast_rx_free(rx);
    klaw_bcast_tx_free(tx);
}

static void recv_too_small_a_buffer_keeps_the_frame(void **state)
{
    (void)state;
    klaw_bcast_tx *tx = make(4, 32, 0, NULL);
    klaw_bcast_rx *rx;
    assert_int_equal(klaw_bcast_subscribe(tx, 0, NULL, &rx), KLAW_OK);
    assert_int_equal(klaw_bcast_try_send(tx, "0123456789", 10), KLAW_OK);
    char buf[16];
    size_t len = 0;
    assert_int_equal(klaw_bcast_try_recv(rx, buf, 4, &len, NULL), KLAW_TOOBIG);
    assert_int_equal(len, 10);
    assert_int_equal(klaw_bcast_try_recv(rx, buf, sizeof buf, &len, NULL), KLAW_OK);
    assert_int_equal(len, 10);
    assert_memory_equal(buf, "0123456789", 10);
    assert_int_equal(klaw_bcast_try_send(tx, "", 0), KLAW_OK); /* empty frames travel */
    assert_int_equal(klaw_bcast_try_recv(rx, buf, sizeof buf, &len, NULL), KLAW_OK);
    assert_int_equal(len, 0);
    klaw_bcast_rx_free(rx);
    klaw_bcast_tx_free(tx);
}

static void zero_receivers_is_no_receivers(void **state)
{
    (void)state;
    /* OVERWRITE: the frame is written all the same */
    klaw_bcast_tx *tx = make(4, 8, KLAW_POLICY_OVERWRITE, NULL);
    send_u64(tx, 41, KLAW_NO_RECEIVERS);
    send_u64(tx, 42, KLAW_NO_RECEIVERS);
    klaw_bcast_rx *old, *tail;
    assert_int_equal(klaw_bcast_subscribe(tx, KLAW_BCAST_FROM_OLDEST, "old", &old), KLAW_OK);
    assert_int_equal(klaw_bcast_subscribe(tx, KLAW_BCAST_FROM_TAIL, "tail", &tail), KLAW_OK);
    assert_int_equal(recv_u64(old), 41);
    assert_int_equal(recv_u64(old), 42);
    klaw_frame f;
    assert_int_equal(klaw_bcast_try_view(tail, &f, NULL), KLAW_EMPTY);
    send_u64(tx, 43, KLAW_OK);
    assert_int_equal(recv_u64(old), 43);
    assert_int_equal(recv_u64(tail), 43);
    klaw_bcast_rx_free(old);
    klaw_bcast_rx_free(tail);
    send_u64(tx, 44, KLAW_NO_RECEIVERS);
    klaw_bcast_stats s;
    klaw_bcast_tx_stats(tx, &s);
    assert_int_equal(s.total_sent, 4);
    assert_int_equal(s.readers, 0);
    assert_int_equal(s.total_received, 4); /* of receivers that left */
    klaw_bcast_tx_free(tx);

    /* BLOCK: nothing is claimed */
    tx = make(4, 8, KLAW_POLICY_BLOCK, NULL);
    send_u64(tx, 1, KLAW_NO_RECEIVERS);
    assert_int_equal(klaw_bcast_try_claim(tx, 8, &f), KLAW_NO_RECEIVERS);
    struct timespec d = klaw_deadline_in_ms(10);
    assert_int_equal(klaw_bcast_send(tx, "x", 1, &d), KLAW_NO_RECEIVERS);
    klaw_bcast_tx_stats(tx, &s);
    assert_int_equal(s.total_sent, 0);
    klaw_bcast_tx_free(tx);
}

/* FROM_OLDEST starts at the oldest retained frame (capacity back), FROM_TAIL
 * at the next commit. */
static void subscribe_from_oldest_or_from_the_tail(void **state)
{
    (void)state;
    klaw_bcast_tx *tx = make(4, 8, KLAW_POLICY_OVERWRITE, NULL);
    klaw_bcast_rx *keep;
    assert_int_equal(klaw_bcast_subscribe(tx, 0, "keep", &keep), KLAW_OK);
    for (uint64_t i = 0; i < 7; i++)
        send_u64(tx, i, KLAW_OK);
    klaw_bcast_rx *old, *tail;
    assert_int_equal(klaw_bcast_subscribe(tx, KLAW_BCAST_FROM_OLDEST, "old", &old), KLAW_OK);
    assert_int_equal(klaw_bcast_subscribe(tx, KLAW_BCAST_FROM_TAIL, "tail", &tail), KLAW_OK);
    for (uint64_t i = 3; i < 7; i++)
        assert_int_equal(recv_u64(old), i);
    klaw_frame f;
    assert_int_equal(klaw_bcast_try_view(old, &f, NULL), KLAW_EMPTY);
    assert_int_equal(klaw_bcast_try_view(tail, &f, NULL), KLAW_EMPTY);
    send_u64(tx, 7, KLAW_OK);
    assert_int_equal(recv_u64(tail), 7);
    assert_int_equal(recv_u64(old), 7);
    klaw_bcast_rx_free(old);
    klaw_bcast_rx_free(tail);
    klaw_bcast_rx_free(keep);
    klaw_bcast_tx_free(tx);
}

/* BLOCK: the writer waits for the slowest receiver, not the fastest; an
 * unsubscribe lets it go on. */
static void block_waits_for_the_slowest_receiver(void **state)
{
    (void)state;
    klaw_bcast_tx *tx = make(4, 8, KLAW_POLICY_BLOCK, NULL);
    klaw_bcast_rx *fast, *slow;
    assert_int_equal(klaw_bcast_subscribe(tx, 0, "fast", &fast), KLAW_OK);
    assert_int_equal(klaw_bcast_subscribe(tx, 0, "slow", &slow), KLAW_OK);
    for (uint64_t i = 0; i < 4; i++)
        send_u64(tx, i, KLAW_OK);
    send_u64(tx, 4, KLAW_FULL);
    for (uint64_t i = 0; i < 4; i++)
        assert_int_equal(recv_u64(fast), i);
    send_u64(tx, 4, KLAW_FULL);
    klaw_frame f;
    struct timespec d = klaw_deadline_in_ms(20);
    assert_int_equal(klaw_bcast_claim(tx, 8, &d, &f), KLAW_TIMEOUT);
    /* a held view keeps its slot */
    assert_int_equal(klaw_bcast_try_view(slow, &f, NULL), KLAW_OK);
    send_u64(tx, 4, KLAW_FULL);
    assert_int_equal(klaw_bcast_release(slow, &f), KLAW_OK);
    send_u64(tx, 4, KLAW_OK);
    send_u64(tx, 5, KLAW_FULL);
    klaw_bcast_stats s;
    klaw_bcast_tx_stats(tx, &s);
    assert_int_equal(s.depth, 4);
    assert_int_equal(s.high_watermark, 4);
    klaw_bcast_rx_free(slow); /* unsubscribing releases the writer */
    send_u64(tx, 5, KLAW_OK);
    assert_int_equal(recv_u64(fast), 4);
    assert_int_equal(recv_u64(fast), 5);
    klaw_bcast_tx_stats(tx, &s);
    assert_int_equal(s.lagged, 0);
    assert_int_equal(s.total_sent, 6);
    assert_int_equal(s.total_received, 6 + 1);
    klaw_bcast_rx_free(fast);
    klaw_bcast_tx_free(tx);
}

typedef struct later {
    klaw_bcast_tx *tx;
    klaw_bcast_rx *rx;
    int what;
} later;

static void *act_later(void *p)
{
    later *l = p;
    usleep(30000);
    if (l->what == 0)
        klaw_bcast_tx_close(l->tx);
    else if (l->what == 1)
        klaw_bcast_try_send(l->tx, "wake", 4);
    else
        klaw_bcast_rx_close(l->rx);
    return NULL;
}

static void receivers_drain_then_closed_and_parked_callers_wake(void **state)
{
    (void)state;
    klaw_bcast_tx *tx = make(8, 8, 0, NULL);
    klaw_bcast_tx *tx2;
    assert_int_equal(klaw_bcast_tx_clone(tx, &tx2), KLAW_OK);
    klaw_bcast_rx *rx;
    assert_int_equal(klaw_bcast_subscribe(tx, 0, NULL, &rx), KLAW_OK);
    for (uint64_t i = 0; i < 3; i++)
        send_u64(tx, i, KLAW_OK);
    klaw_bcast_tx_close(tx);
    klaw_bcast_tx_close(tx); /* idempotent */
    assert_int_equal(klaw_bcast_try_send(tx, "x", 1), KLAW_CLOSED);
    klaw_bcast_tx *none = tx;
    assert_int_equal(klaw_bcast_tx_clone(tx, &none), KLAW_CLOSED);
    assert_null(none);
    send_u64(tx2, 3, KLAW_OK);
    klaw_bcast_tx_close(tx2);
    for (uint64_t i = 0; i < 4; i++)
        assert_int_equal(recv_u64(rx), i);
    klaw_frame f;
    assert_int_equal(klaw_bcast_try_view(rx, &f, NULL), KLAW_CLOSED);
    assert_int_equal(klaw_bcast_view(rx, NULL, &f, NULL), KLAW_CLOSED);
    klaw_bcast_rx *late;
    assert_int_equal(klaw_bcast_subscribe(tx2, 0, "late", &late), KLAW_INVAL); /* a closed tx */
    assert_null(late);
    klaw_bcast_stats s;
    klaw_bcast_rx_stats(rx, &s);
    assert_int_equal(s.writers_closed, 1);
    assert_int_equal(s.writers, 0);
    klaw_bcast_rx_free(rx);
    klaw_bcast_tx_free(tx);
    klaw_bcast_tx_free(tx2);

    /* a late receiver of a finished named channel drains what is retained */
    const char *name = uniq("late");
    tx = make(4, 8, KLAW_POLICY_OVERWRITE, name);
    send_u64(tx, 1, KLAW_NO_RECEIVERS);
    send_u64(tx, 2, KLAW_NO_RECEIVERS);
    klaw_bcast_tx_free(tx);
    assert_int_equal(klaw_bcast_open_tx(name, &tx), KLAW_CLOSED);
    assert_int_equal(klaw_bcast_open_rx(name, KLAW_BCAST_FROM_OLDEST, "late", &late), KLAW_OK);
    assert_int_equal(recv_u64(late), 1);
    assert_int_equal(recv_u64(late), 2);
    assert_int_equal(klaw_bcast_try_view(late, &f, NULL), KLAW_CLOSED);
    klaw_bcast_rx_free(late);
    klaw_region_unlink(name);

    /* a parked receiver wakes on a commit, then on the last close (no
     * liveness timer to hide a lost wake-up) */
    tx = make_live(8, 8, 0, NULL, STRESS_LIVENESS_NS);
    assert_int_equal(klaw_bcast_subscribe(tx, 0, NULL, &rx), KLAW_OK);
    later l = {tx, rx, 1};
    pthread_t th;
    pthread_create(&th, NULL, act_later, &l);
    struct timespec d = watchdog();
    assert_int_equal(klaw_bcast_view(rx, &d, &f, NULL), KLAW_OK);
    assert_int_equal(klaw_bcast_release(rx, &f), KLAW_OK);
    pthread_join(th, NULL);
    l.what = 0;
    pthread_create(&th, NULL, act_later, &l);
    assert_int_equal(klaw_bcast_view(rx, &d, &f, NULL), KLAW_CLOSED);
    pthread_join(th, NULL);
    klaw_bcast_rx_free(rx);
    klaw_bcast_tx_free(tx);

    /* a parked BLOCK writer wakes when the receiver it waits for leaves */
    tx = make_live(2, 8, KLAW_POLICY_BLOCK, NULL, STRESS_LIVENESS_NS);
    assert_int_equal(klaw_bcast_subscribe(tx, 0, NULL, &rx), KLAW_OK);
    send_u64(tx, 1, KLAW_OK);
    send_u64(tx, 2, KLAW_OK);
    l = (later){tx, rx, 2};
    pthread_create(&th, NULL, act_later, &l);
    assert_int_equal(klaw_bcast_send(tx, "x", 1, &d), KLAW_NO_RECEIVERS);
    pthread_join(th, NULL);
    klaw_bcast_rx_free(rx);
    klaw_bcast_tx_free(tx);
}

typedef struct blocked_send {
    klaw_bcast_tx *tx;
    int n;
    _Atomic int sent;
    klaw_status st;
} blocked_send;

static void *send_n(void *p)
{
    blocked_send *b = p;
    for (int i = 0; i < b->n; i++) {
        struct timespec d = watchdog();
        uint64_t v = 100 + (uint64_t)i;
        b->st = klaw_bcast_send(b->tx, &v, sizeof v, &d);
        if (b->st != KLAW_OK)
            break;
        atomic_fetch_add(&b->sent, 1);
    }
    return NULL;
}

/* A parked BLOCK writer is woken as the slowest receiver frees room, one
 * release at a time or in batches, and loses nothing (the wake-up waits
 * for half a ring to be free: this checks that it always comes). */
static void parked_block_writer_wakes_as_the_slowest_frees_room(void **state)
{
    (void)state;
    for (uint32_t cap = 2; cap <= 16; cap *= 2) {
        klaw_bcast_tx *tx = make_live(cap, 8, KLAW_POLICY_BLOCK, NULL, STRESS_LIVENESS_NS);
        klaw_bcast_rx *fast, *slow;
        assert_int_equal(klaw_bcast_subscribe(tx, 0, "fast", &fast), KLAW_OK);
        assert_int_equal(klaw_bcast_subscribe(tx, 0, "slow", &slow), KLAW_OK);
        blocked_send b = {tx, 5 * (int)cap, 0, KLAW_OK};
        pthread_t th;
        pthread_create(&th, NULL, send_n, &b);
        struct timespec d = watchdog();
        for (int i = 0; i < b.n; i++) {
            uint64_t v = 0, lag = 0;
            size_t len;
            assert_int_equal(klaw_bcast_recv(fast, &v, sizeof v, &len, &lag, &d), KLAW_OK);
            assert_int_equal(v, 100 + (uint64_t)i);
            klaw_frame f;
            assert_int_equal(klaw_bcast_view(slow, &d, &f, &lag), KLAW_OK);
            memcpy(&v, f.data, 8);
            assert_int_equal(v, 100 + (uint64_t)i);
            if (i % 3 == 0)
                usleep(200); /* let the writer park now and then */
            assert_int_equal(klaw_bcast_release(slow, &f), KLAW_OK);
        }
        pthread_join(th, NULL);
        assert_int_equal(b.st, KLAW_OK);
        assert_int_equal(atomic_load(&b.sent), b.n);
        klaw_bcast_rx_free(fast);
        klaw_bcast_rx_free(slow);
        klaw_bcast_tx_free(tx);
    }
}

static void deadlines_time_out(void **state)
{
    (void)state;
    klaw_bcast_tx *tx = make(2, 8, KLAW_POLICY_BLOCK, NULL);
    klaw_bcast_rx *rx;
    assert_int_equal(klaw_bcast_subscribe(tx, 0, NULL, &rx), KLAW_OK);
    klaw_frame f;
    uint64_t lag;
    struct timespec d = klaw_deadline_in_ms(20);
    assert_int_equal(klaw_bcast_view(rx, &d, &f, &lag), KLAW_TIMEOUT);
    uint8_t buf[8];
    size_t len;
    d = klaw_deadline_in_ms(20);
    assert_int_equal(klaw_bcast_recv(rx, buf, sizeof buf, &len, &lag, &d), KLAW_TIMEOUT);
    send_u64(tx, 1, KLAW_OK);
    send_u64(tx, 2, KLAW_OK);
    d = klaw_deadline_in_ms(20);
    assert_int_equal(klaw_bcast_send(tx, "x", 1, &d), KLAW_TIMEOUT);
    size_t got;
    d = klaw_deadline_in_ms(20);
    assert_int_equal(klaw_bcast_claim_batch(tx, 1, &f, 1, &got, &d), KLAW_TIMEOUT);
    assert_int_equal(got, 0);
    klaw_bcast_rx_free(rx);
    klaw_bcast_tx_free(tx);
}

/* Closing a writer handle that holds an open claim gives the claim up: it
 * is skipped (counted as aborted) at once, so the receivers and the other
 * writers go on. (Reproduced before the fix: two writer handles, a claim
 * on the first, the first closed, a send on the second - the receiver's
 * 2 s view timed out: the claim stayed WRITING under a handle that no
 * longer existed.) The closed handle's commit, abort and commit_batch
 * return KLAW_CLOSED and touch nothing: the slots stay skipped. */
static void closing_a_writer_with_an_open_claim_skips_it(void **state)
{
    (void)state;
    for (int policy = KLAW_POLICY_OVERWRITE; policy <= KLAW_POLICY_BLOCK; policy++) {
        klaw_bcast_tx *tx = make(8, 16, policy, NULL), *tx2;
        assert_int_equal(klaw_bcast_tx_clone(tx, &tx2), KLAW_OK);
        klaw_bcast_rx *rx;
        assert_int_equal(klaw_bcast_subscribe(tx, 0, "rx", &rx), KLAW_OK);
        klaw_frame f, fb[2];
        size_t got = 0;
        assert_int_equal(klaw_bcast_try_claim(tx, 4, &f), KLAW_OK);
        memcpy(f.data, "dead", 4);
        assert_int_equal(klaw_bcast_claim_batch(tx, 4, fb, 2, &got, NULL), KLAW_OK);
        assert_int_equal(got, 2);
        klaw_bcast_tx_close(tx);
        assert_int_equal(klaw_bcast_try_send(tx2, "live", 4), KLAW_OK);
        struct timespec d = klaw_deadline_in_ms(2000);
        klaw_frame v;
        uint64_t lag = 0;
        assert_int_equal(klaw_bcast_view(rx, &d, &v, &lag), KLAW_OK);
        assert_int_equal(lag, 0);
        assert_int_equal(v.seq, 3);
        assert_int_equal(v.len, 4);
        assert_memory_equal(v.data, "live", 4);
        assert_int_equal(klaw_bcast_release(rx, &v), KLAW_OK);
        /* the closed handle's claims are not its own any more */
        assert_int_equal(klaw_bcast_commit(tx, &f, 4), KLAW_CLOSED);
        assert_int_equal(klaw_bcast_abort(tx, &f), KLAW_CLOSED);
        fb[0].len = fb[1].len = 4;
        assert_int_equal(klaw_bcast_commit_batch(tx, fb, got), KLAW_CLOSED);
        assert_int_equal(klaw_bcast_try_view(rx, &v, &lag), KLAW_EMPTY);
        /* the slots were not touched: a receiver from the oldest retained
         * position passes the three skipped ones and sees only "live" */
        klaw_bcast_rx *old;
        assert_int_equal(klaw_bcast_subscribe(tx2, KLAW_BCAST_FROM_OLDEST, "old", &old), KLAW_OK);
        assert_int_equal(klaw_bcast_try_view(old, &v, &lag), KLAW_OK);
        assert_int_equal(v.seq, 3);
        assert_int_equal(klaw_bcast_release(old, &v), KLAW_OK);
        assert_int_equal(klaw_bcast_try_view(old, &v, &lag), KLAW_EMPTY);
        klaw_bcast_stats s;
        assert_int_equal(klaw_bcast_rx_stats(rx, &s), KLAW_OK);
        assert_int_equal(s.aborted_claims, 3);
        assert_int_equal(s.total_sent, 1);
        assert_int_equal(s.writers, 1);
        assert_false(s.writers_closed);
        /* the writer of the next lap is not held up by the skipped slots */
        for (uint64_t i = 0; i < 8; i++) {
            send_u64(tx2, i, KLAW_OK);
            assert_int_equal(recv_u64(rx), i);
            assert_int_equal(recv_u64(old), i);
        }
        klaw_bcast_rx_free(old);
        klaw_bcast_rx_free(rx);
        klaw_bcast_tx_free(tx);
        klaw_bcast_tx_free(tx2);
    }
}

/* A closed receiver's release and release_batch return KLAW_CLOSED and
 * publish nothing: its registry entry is gone and may be another
 * receiver's already (the cursor stored there would be that receiver's,
 * and under BLOCK would hold the writer). */
static void a_closed_receiver_releases_nothing(void **state)
{
    (void)state;
    for (int policy = KLAW_POLICY_OVERWRITE; policy <= KLAW_POLICY_BLOCK; policy++) {
        klaw_bcast_tx *tx = make(8, 8, policy, NULL);
        klaw_bcast_rx *rx, *gone, *next;
        assert_int_equal(klaw_bcast_subscribe(tx, 0, "rx", &rx), KLAW_OK);
        assert_int_equal(klaw_bcast_subscribe(tx, 0, "gone", &gone), KLAW_OK);
        for (uint64_t i = 0; i < 3; i++)
            send_u64(tx, i, KLAW_OK);
        for (uint64_t i = 0; i < 3; i++)
            assert_int_equal(recv_u64(rx), i);
        klaw_frame f[2];
        assert_int_equal(klaw_bcast_try_view(gone, &f[0], NULL), KLAW_OK);
        assert_int_equal(klaw_bcast_try_view(gone, &f[1], NULL), KLAW_OK);
        klaw_bcast_rx_close(gone);
        /* its registry entry, taken again at the tail (3) */
        assert_int_equal(klaw_bcast_subscribe(tx, 0, "next", &next), KLAW_OK);
        assert_int_equal(klaw_bcast_release(gone, &f[0]), KLAW_CLOSED);
        assert_int_equal(klaw_bcast_release_batch(gone, f, 2), KLAW_CLOSED);
        klaw_frame g;
        assert_int_equal(klaw_bcast_try_view(gone, &g, NULL), KLAW_CLOSED);
        klaw_bcast_stats s;
        assert_int_equal(klaw_bcast_tx_stats(tx, &s), KLAW_OK);
        assert_int_equal(s.readers, 2);
        assert_int_equal(s.depth, 0); /* every cursor at the tail */
        assert_int_equal(s.lagged, 0);
        /* BLOCK: a whole ring goes out without waiting for anybody */
        for (uint64_t i = 0; i < 8; i++)
            send_u64(tx, 10 + i, KLAW_OK);
        for (uint64_t i = 0; i < 8; i++) {
            assert_int_equal(recv_u64(rx), 10 + i);
            assert_int_equal(recv_u64(next), 10 + i);
        }
        klaw_bcast_rx_free(gone);
        klaw_bcast_rx_free(next);
        klaw_bcast_rx_free(rx);
        klaw_bcast_tx_free(tx);
    }
}

/* Laps are kept in 48 bits and compared modulo 2^48: a ring started just
 * below the wrap (klaw__bcast_test_set_pos) runs across it - single and
 * batched claims, several writers' CAS path and the single writer's plain
 * stores, OVERWRITE and BLOCK - and every frame arrives in order with its
 * seq, none LAGGED, nothing CORRUPT. (With full-width comparisons the
 * first claim of the lap past 2^48 returned KLAW_CORRUPT.) */
static void laps_wrap_around_their_width(void **state)
{
    (void)state;
    const uint32_t cap = 8, shift = 3;
    for (int single = 0; single < 2; single++)
        for (int policy = KLAW_POLICY_OVERWRITE; policy <= KLAW_POLICY_BLOCK; policy++) {
            g_flags = single ? KLAW_BCAST_SINGLE_WRITER : 0;
            klaw_bcast_tx *tx = make(cap, 8, policy, NULL);
            g_flags = 0;
            /* L(pos) = (pos >> shift) + 1 = 2^48 - 2: two laps below the wrap,
             * and pos not at a slot-0 boundary */
            uint64_t pos = ((((uint64_t)1 << LAP_BITS) - 3) << shift) + 5;
            assert_int_equal(klaw__bcast_test_set_pos(tx, pos), KLAW_OK);
            klaw_bcast_rx *rx, *rx2;
            assert_int_equal(klaw_bcast_subscribe(tx, 0, "a", &rx), KLAW_OK);
            assert_int_equal(klaw_bcast_subscribe(tx, 0, "b", &rx2), KLAW_OK);
            assert_int_equal(klaw__bcast_test_set_pos(tx, 0), KLAW_INVAL); /* not fresh */
            uint64_t next = pos;
            for (int lap = 0; lap < 6; lap++) {
                /* a batch of three, then single claims to fill the ring */
                klaw_frame fr[3];
                size_t got = 0;
                assert_int_equal(klaw_bcast_claim_batch(tx, 8, fr, 3, &got, NULL), KLAW_OK);
                assert_int_equal(got, 3);
                for (size_t i = 0; i < got; i++) {
                    assert_int_equal(fr[i].seq, next + i);
                    uint64_t v = fr[i].seq ^ 0x5a5a;
                    memcpy(fr[i].data, &v, 8);
                    fr[i].len = 8;
                }
                assert_int_equal(klaw_bcast_commit_batch(tx, fr, got), KLAW_OK);
                for (uint64_t i = 3; i < cap; i++)
                    send_u64(tx, (next + i) ^ 0x5a5a, KLAW_OK);
                if (policy == KLAW_POLICY_BLOCK) {
                    klaw_frame f;
                    assert_int_equal(klaw_bcast_try_claim(tx, 8, &f), KLAW_FULL);
                }
                /* rx: views in a batch, then copies; rx2: copies */
                klaw_frame vf[4];
                uint64_t lag = 0;
                assert_int_equal(klaw_bcast_view_batch(rx, vf, 4, &got, &lag, NULL), KLAW_OK);
                assert_int_equal(got, 4);
                for (size_t i = 0; i < got; i++) {
                    uint64_t v;
                    memcpy(&v, vf[i].data, 8);
                    assert_int_equal(vf[i].seq, next + i);
                    assert_int_equal(v, (next + i) ^ 0x5a5a);
                }
                assert_int_equal(klaw_bcast_release_batch(rx, vf, got), KLAW_OK);
                for (uint64_t i = 4; i < cap; i++)
                    assert_int_equal(recv_u64(rx), (next + i) ^ 0x5a5a);
                for (uint64_t i = 0; i < cap; i++)
                    assert_int_equal(recv_u64(rx2), (next + i) ^ 0x5a5a);
                klaw_frame f;
                assert_int_equal(klaw_bcast_try_view(rx, &f, &lag), KLAW_EMPTY);
                next += cap;
            }
            /* we crossed the wrap: positions of laps 2^48 - 2 .. 2^48 + 3 */
            assert_true(((next - 1) >> shift) + 1 > ((uint64_t)1 << LAP_BITS));
            klaw_bcast_stats s;
            assert_int_equal(klaw_bcast_tx_stats(tx, &s), KLAW_OK);
            assert_int_equal(s.lagged, 0);
            assert_int_equal(s.aborted_claims, 0);
            assert_int_equal(s.total_sent, next); /* the positions set_pos passed count as sent */
            /* OVERWRITE: an overrun across the wrap is still exact */
            if (policy == KLAW_POLICY_OVERWRITE) {
                for (uint64_t i = 0; i < cap + 3; i++)
                    send_u64(tx, i, KLAW_OK);
                klaw_frame f;
                uint64_t lag = 0;
                assert_int_equal(klaw_bcast_try_view(rx, &f, &lag), KLAW_LAGGED);
                assert_int_equal(lag, 3);
                for (uint64_t i = 3; i < cap + 3; i++)
                    assert_int_equal(recv_u64(rx), i);
            }
            klaw_bcast_rx_free(rx);
            klaw_bcast_rx_free(rx2);
            klaw_bcast_tx_free(tx);
        }
}

/* The copying receive decides TOOBIG only on a validated length: a length
 * read while a writer overwrites the slot may be the next lap's (the
 * writer stores it before FULL). Frames of even laps are small (they fit
 * the reader's buffer), frames of odd laps big; the reader knows the
 * position it is at (it counts received, lagged and TOOBIG frames), so a
 * TOOBIG at an even lap's position - a length taken from the frame that
 * was overwriting it - is the defect. A race: a run that does not hit it
 * proves nothing, a run that does fails. */
#define TB_SMALL 8
#define TB_BIG 48

typedef struct toobig_ctx {
    klaw_bcast_tx *tx;
    _Atomic int stop, done;
} toobig_ctx;

static void *toobig_writer(void *p)
{
    toobig_ctx *t = p;
    while (!atomic_load_explicit(&t->stop, memory_order_relaxed)) {
        klaw_frame f;
        if (klaw_bcast_try_claim(t->tx, TB_BIG, &f) != KLAW_OK)
            break;
        size_t len = (f.seq >> 2) & 1 ? TB_BIG : TB_SMALL; /* capacity 4: shift 2 */
        for (size_t k = 0; k < len; k += 8) /* relaxed atomics: a reader may copy it as it changes */
            __atomic_store_n((uint64_t *)(f.data + k), f.seq, __ATOMIC_RELAXED);
        klaw_bcast_commit(t->tx, &f, len);
    }
    atomic_store(&t->done, 1);
    return NULL;
}

static int deadline_passed(const struct timespec *d)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > d->tv_sec || (now.tv_sec == d->tv_sec && now.tv_nsec >= d->tv_nsec);
}

static void toobig_is_decided_on_a_validated_length(void **state)
{
    (void)state;
    toobig_ctx t = {.tx = make(4, TB_BIG, KLAW_POLICY_OVERWRITE, NULL)};
    klaw_bcast_rx *rx;
    assert_int_equal(klaw_bcast_subscribe(t.tx, 0, NULL, &rx), KLAW_OK);
    pthread_t th;
    pthread_create(&th, NULL, toobig_writer, &t);
    uint64_t next = 0, toobig = 0, ok = 0, bad = 0;
    struct timespec end = klaw_deadline_in_ms(2000); /* two seconds of racing */
    for (uint64_t k = 0;; k++) {
        if ((k & 1023) == 0 && !atomic_load(&t.stop) && deadline_passed(&end))
            atomic_store(&t.stop, 1);
        uint8_t buf[16];
        size_t len = 0;
        uint64_t lag = 0;
        int done = atomic_load(&t.done);
        klaw_status st = klaw_bcast_try_recv(rx, buf, sizeof buf, &len, &lag);
        if (st == KLAW_OK) {
            uint64_t seq;
            memcpy(&seq, buf, 8);
            bad += len != TB_SMALL || seq != next || ((next >> 2) & 1);
            next++;
            ok++;
        } else if (st == KLAW_LAGGED) {
            bad += lag == 0;
            next += lag;
        } else if (st == KLAW_TOOBIG) {
            toobig++;
            if (((next >> 2) & 1) == 0 || len != TB_BIG) {
                fprintf(stderr, "TOOBIG (len %zu) at position %llu, of an even lap: its frame was small\n", len,
                        (unsigned long long)next);
                bad++;
            }
            /* step over it */
            klaw_frame f;
            st = klaw_bcast_try_view(rx, &f, &lag);
            if (st == KLAW_OK) {
                bad += f.seq != next;
                klaw_bcast_release(rx, &f);
                next++;
            } else if (st == KLAW_LAGGED) {
                next += lag;
            } else {
                bad++;
            }
        } else if (st == KLAW_EMPTY) {
            if (done)
                break;
        } else {
            bad++;
            break;
        }
    }
    pthread_join(th, NULL);
    assert_int_equal(bad, 0);
    assert_true(ok > 0);
    assert_true(toobig > 0);
    klaw_bcast_rx_free(rx);
    klaw_bcast_tx_free(t.tx);
}

/* ---- stress: threads ---------------------------------------------------- */

#define MAXW 2
#define MAXR 8
#define SMAXF 80

/* A frame: word 0 = writer << 56 | n; then words derived from word 0, and
 * a length that depends on n: a torn frame (words of two frames, or a
 * length of another) fails verify(). */
static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}
static size_t frame_len(uint64_t w0) { return 16 + 8 * (size_t)(mix(w0) % 8); }

/* TSan-friendly word access to bytes that a writer may overwrite. */
static inline uint64_t ld64(const uint8_t *p) { return __atomic_load_n((const uint64_t *)p, __ATOMIC_RELAXED); }
static inline void st64(uint8_t *p, uint64_t v) { __atomic_store_n((uint64_t *)p, v, __ATOMIC_RELAXED); }

static void fill(uint8_t *p, uint64_t w0)
{
    size_t n = frame_len(w0) / 8;
    st64(p, w0);
    for (size_t i = 1; i < n; i++)
        st64(p + 8 * i, mix(w0 + i));
}

/* 1 when p[0, len) is a whole frame; *w0 its first word. */
static int verify(const uint8_t *p, size_t len, uint64_t *w0)
{
    *w0 = ld64(p);
    if (len != frame_len(*w0))
        return 0;
    for (size_t i = 1; i < len / 8; i++)
        if (ld64(p + 8 * i) != mix(*w0 + i))
            return 0;
    return 1;
}

typedef struct bstress {
    int nw, nr, mode, policy;
    uint64_t per_writer;
    _Atomic int go;
    _Atomic int ready;
    klaw_bcast_tx *tx[MAXW];
    klaw_bcast_rx *rx[MAXR];
    const char *name; /* processes: open by name */
    /* per receiver */
    _Atomic int readers_up;
    uint64_t received[MAXR], lagged[MAXR], torn_ok[MAXR], bad[MAXR], order[MAXR];
    uint64_t caught[MAXR]; /* views release said were lapped while held */
} bstress;

typedef struct bworker {
    bstress *s;
    int id;
} bworker;

static void *writer_main(void *p)
{
    bworker *w = p;
    bstress *s = w->s;
    klaw_bcast_tx *tx = s->tx[w->id];
    while (!atomic_load(&s->go) || atomic_load(&s->readers_up) < s->nr)
        sched_yield();
    uint64_t n = 0;
    while (n < s->per_writer) {
        /* under OVERWRITE, let the readers run now and then: a writer that
         * only ever races ahead tests lag counting, not interleavings */
        if (s->policy == KLAW_POLICY_OVERWRITE && n % 61 == 0)
            sched_yield();
        uint64_t w0 = ((uint64_t)w->id << 56) | n;
        size_t len = frame_len(w0);
        struct timespec d = watchdog();
        klaw_status st;
        int mode = (s->mode + (int)(n % 3)) % 3; /* mixes the three forms */
        if (mode == 0) {
            uint8_t buf[SMAXF];
            fill(buf, w0);
            st = klaw_bcast_send(tx, buf, len, &d);
            n++;
        } else if (mode == 1) {
            klaw_frame f;
            st = klaw_bcast_claim(tx, len, &d, &f);
            if (st != KLAW_OK)
                break;
            fill(f.data, w0);
            st = klaw_bcast_commit(tx, &f, len);
            n++;
        } else {
            klaw_frame fr[4];
            size_t got = 0;
            size_t want = s->per_writer - n < 4 ? (size_t)(s->per_writer - n) : 4;
            st = klaw_bcast_claim_batch(tx, SMAXF, fr, want, &got, &d);
            if (st != KLAW_OK)
                break;
            for (size_t i = 0; i < got; i++) {
                uint64_t x = ((uint64_t)w->id << 56) | (n + i);
                fill(fr[i].data, x);
                fr[i].len = (uint32_t)frame_len(x);
            }
            st = klaw_bcast_commit_batch(tx, fr, got);
            n += got;
        }
        if (st != KLAW_OK) {
            fprintf(stderr, "writer %d: %s\n", w->id, klaw_status_name(st));
            break;
        }
    }
    klaw_bcast_tx_close(tx);
    return NULL;
}

/* Counts one frame release said was intact: its content (checked before
 * the release: after it, the slot may be reused) must be whole, and each
 * writer's frames must arrive in its order. */
static void accept(bstress *s, int r, int whole, uint64_t w0, uint64_t *last)
{
    if (!whole) {
        s->torn_ok[r]++;
        return;
    }
    int wid = (int)(w0 >> 56);
    uint64_t n = w0 & ((1ull << 56) - 1);
    if (wid >= s->nw || (last[wid] != UINT64_MAX && n <= last[wid]))
        s->order[r]++;
    else
        last[wid] = n;
    s->received[r]++;
}

static void *reader_main(void *p)
{
    bworker *w = p;
    bstress *s = w->s;
    int r = w->id;
    klaw_bcast_rx *rx = s->rx[r];
    uint64_t last[MAXW], prev_seq = UINT64_MAX;
    for (int i = 0; i < MAXW; i++)
        last[i] = UINT64_MAX;
    int mode = (s->mode + r) % 3;
    atomic_fetch_add(&s->readers_up, 1);
    for (;;) {
        struct timespec d = watchdog();
        uint64_t lag = 0;
        klaw_status st;
        if (mode == 0) {
            uint8_t buf[SMAXF];
            size_t len;
            st = klaw_bcast_recv(rx, buf, sizeof buf, &len, &lag, &d);
            if (st == KLAW_OK) {
                uint64_t w0;
                int whole = verify(buf, len, &w0);
                accept(s, r, whole, w0, last);
            }
        } else if (mode == 1) {
            klaw_frame f;
            st = klaw_bcast_view(rx, &d, &f, &lag);
            if (st == KLAW_OK) {
                if (prev_seq != UINT64_MAX && f.seq <= prev_seq)
                    s->order[r]++;
                prev_seq = f.seq;
                uint64_t w0;
                int whole = verify(f.data, f.len, &w0);
                st = klaw_bcast_release(rx, &f);
                if (st == KLAW_OK) {
                    accept(s, r, whole, w0, last);
                } else if (st == KLAW_LAGGED) {
                    lag = 1;
                    s->caught[r]++;
                }
            }
        } else {
            klaw_frame fr[8];
            size_t got = 0;
            st = klaw_bcast_view_batch(rx, fr, 8, &got, &lag, &d);
            if (st == KLAW_OK) {
                int whole[8];
                uint64_t w0[8];
                for (size_t i = 0; i < got; i++)
                    whole[i] = verify(fr[i].data, fr[i].len, &w0[i]);
                /* release one by one, so each frame's fate is known */
                for (size_t i = 0; i < got; i++) {
                    klaw_status rs = klaw_bcast_release_batch(rx, &fr[i], 1);
                    if (rs == KLAW_OK)
                        accept(s, r, whole[i], w0[i], last);
                    else if (rs == KLAW_LAGGED) {
                        s->lagged[r]++;
                        s->caught[r]++;
                    }
                    else
                        s->bad[r]++;
                }
            }
        }
        if (st == KLAW_OK)
            continue;
        if (st == KLAW_LAGGED) {
            s->lagged[r] += lag;
            continue;
        }
        if (st != KLAW_CLOSED) {
            fprintf(stderr, "reader %d: %s\n", r, klaw_status_name(st));
            s->bad[r]++;
        }
        break;
    }
    return NULL;
}

static uint64_t stress_frames(void)
{
    const char *e = getenv("KLAW_STRESS_FRAMES");
    uint64_t n = e ? strtoull(e, NULL, 10) : 20000;
    return n < 16 ? 16 : n;
}

static void check_counts(bstress *s, const char *what)
{
    uint64_t sent = s->per_writer * (uint64_t)s->nw;
    for (int r = 0; r < s->nr; r++) {
        if (getenv("KLAW_STRESS_VERBOSE"))
            fprintf(stderr, "%s policy %d nw %d nr %d mode %d reader %d: received %llu lagged %llu (views caught %llu)\n",
                    what, s->policy, s->nw, s->nr, s->mode, r, (unsigned long long)s->received[r],
                    (unsigned long long)s->lagged[r], (unsigned long long)s->caught[r]);
        if (s->bad[r] || s->torn_ok[r] || s->order[r] || s->received[r] + s->lagged[r] != sent)
            fail_msg("%s: policy %d nw %d nr %d mode %d reader %d: received %llu + lagged %llu != sent %llu "
                     "(torn accepted %llu, out of order %llu, errors %llu)",
                     what, s->policy, s->nw, s->nr, s->mode, r, (unsigned long long)s->received[r],
                     (unsigned long long)s->lagged[r], (unsigned long long)sent,
                     (unsigned long long)s->torn_ok[r], (unsigned long long)s->order[r],
                     (unsigned long long)s->bad[r]);
        if (s->policy == KLAW_POLICY_BLOCK && s->lagged[r] != 0)
            fail_msg("%s: BLOCK reader %d lagged %llu", what, r, (unsigned long long)s->lagged[r]);
    }
}

static void run_thread_stress(int policy, int nw, int nr, int mode, uint64_t per, uint32_t cap)
{
    bstress *s = calloc(1, sizeof *s);
    s->nw = nw;
    s->nr = nr;
    s->mode = mode;
    s->policy = policy;
    s->per_writer = per;
    s->tx[0] = make_live(cap, SMAXF, policy, NULL, STRESS_LIVENESS_NS);
    for (int i = 1; i < nw; i++)
        assert_int_equal(klaw_bcast_tx_clone(s->tx[0], &s->tx[i]), KLAW_OK);
    for (int r = 0; r < nr; r++)
        assert_int_equal(klaw_bcast_subscribe(s->tx[0], KLAW_BCAST_FROM_TAIL, NULL, &s->rx[r]), KLAW_OK);
    pthread_t th[MAXW + MAXR];
    bworker wk[MAXW + MAXR];
    for (int r = 0; r < nr; r++) {
        wk[r] = (bworker){s, r};
        pthread_create(&th[r], NULL, reader_main, &wk[r]);
    }
    for (int i = 0; i < nw; i++) {
        wk[nr + i] = (bworker){s, i};
        pthread_create(&th[nr + i], NULL, writer_main, &wk[nr + i]);
    }
    atomic_store(&s->go, 1);
    for (int i = 0; i < nr + nw; i++)
        pthread_join(th[i], NULL);
    check_counts(s, "threads");
    klaw_bcast_stats st;
    assert_int_equal(klaw_bcast_rx_stats(s->rx[0], &st), KLAW_OK);
    uint64_t rec = 0, lag = 0;
    for (int r = 0; r < nr; r++) {
        rec += s->received[r];
        lag += s->lagged[r];
    }
    assert_int_equal(st.total_sent, per * (uint64_t)nw);
    assert_int_equal(st.total_received, rec);
    assert_int_equal(st.lagged, lag);
    for (int r = 0; r < nr; r++)
        klaw_bcast_rx_free(s->rx[r]);
    for (int i = 0; i < nw; i++)
        klaw_bcast_tx_free(s->tx[i]);
    free(s);
}

static void threads_every_receiver_gets_received_plus_lagged_equal_sent(void **state)
{
    (void)state;
    const int readers[] = {1, 2, 4, 8};
    uint64_t total = stress_frames();
    int k = 0;
    for (int policy = KLAW_POLICY_OVERWRITE; policy <= KLAW_POLICY_BLOCK; policy++)
        for (int nw = 1; nw <= 2; nw++)
            for (size_t i = 0; i < 4; i++, k++)
                run_thread_stress(policy, nw, readers[i], k % 3, total / (uint64_t)nw,
                                  policy == KLAW_POLICY_OVERWRITE ? 8 : 16);
}

/* ---- stress: processes ------------------------------------------------------ */

static void process_reader(bstress *s, int r)
{
    if (klaw_bcast_open_rx(s->name, KLAW_BCAST_FROM_TAIL, NULL, &s->rx[r]) != KLAW_OK)
        _exit(2);
    atomic_fetch_add(&s->ready, 1);
    bworker w = {s, r};
    reader_main(&w);
    klaw_bcast_rx_free(s->rx[r]);
}

static void process_writer(bstress *s, int i)
{
    if (klaw_bcast_open_tx(s->name, &s->tx[i]) != KLAW_OK)
        _exit(3);
    atomic_fetch_add(&s->ready, 1);
    bworker w = {s, i};
    writer_main(&w);
    klaw_bcast_tx_free(s->tx[i]);
}

/* One process stress case: nr receiver and nw writer processes of a named
 * channel. With KLAW_BCAST_SINGLE_WRITER the channel is created with no
 * writer handle, so the one writer process can open its own. */
static void run_process_stress(int policy, int nw, int nr, int mode, uint64_t total)
{
    {
        {
            const char *name = uniq("xproc");
            uint32_t cap = policy == KLAW_POLICY_OVERWRITE ? 8 : 32;
            klaw_bcast_tx *tx = NULL;
            if (g_flags & KLAW_BCAST_SINGLE_WRITER) {
                klaw_bcast_opts o = {.capacity = cap, .max_frame = SMAXF, .policy = policy, .name = name,
                                     .liveness_ns = STRESS_LIVENESS_NS, .flags = g_flags};
                assert_int_equal(klaw_bcast_create(&o, NULL), KLAW_OK);
            } else {
                tx = make_live(cap, SMAXF, policy, name, STRESS_LIVENESS_NS);
            }
            bstress *s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
            assert_true(s != MAP_FAILED);
            memset(s, 0, sizeof *s);
            s->nw = nw;
            s->nr = nr;
            s->mode = mode;
            s->policy = policy;
            s->per_writer = total / (uint64_t)nw;
            s->name = name_buf;
            pid_t kids[MAXW + MAXR];
            int nk = 0;
            for (int i = 0; i < nr + nw; i++) {
                pid_t pid = fork();
                assert_true(pid >= 0);
                if (pid == 0) {
                    if (i < nr)
                        process_reader(s, i);
                    else
                        process_writer(s, i - nr);
                    _exit(0);
                }
                kids[nk++] = pid;
            }
            /* every receiver is registered (at tail 0) before any frame */
            for (int tries = 0; tries < 20000 && atomic_load(&s->ready) < nr + nw; tries++)
                usleep(500);
            assert_int_equal(atomic_load(&s->ready), nr + nw);
            klaw_bcast_tx_free(tx); /* closing is up to the child writers now */
            atomic_store(&s->go, 1);
            for (int i = 0; i < nk; i++) {
                int status;
                waitpid(kids[i], &status, 0);
                assert_true(WIFEXITED(status));
                assert_int_equal(WEXITSTATUS(status), 0);
            }
            check_counts(s, g_flags ? "processes, single writer" : "processes");
            munmap(s, sizeof *s);
            klaw_region_unlink(name_buf);
        }
    }
}

static void processes_every_receiver_gets_received_plus_lagged_equal_sent(void **state)
{
    (void)state;
    const int combos[][2] = {{1, 1}, {1, 3}, {2, 2}, {1, 8}, {2, 8}};
    uint64_t total = stress_frames() / 2;
    int k = 0;
    for (int policy = KLAW_POLICY_OVERWRITE; policy <= KLAW_POLICY_BLOCK; policy++)
        for (size_t c = 0; c < sizeof combos / sizeof combos[0]; c++, k++)
            run_process_stress(policy, combos[c][0], combos[c][1], k % 3, total);
}

/* ---- KLAW_BCAST_SINGLE_WRITER ------------------------------------------------ */

static pid_t fork_ready(void (*fn)(int));
static void kill_and_reap(pid_t pid);

/* The single writer's claims are plain stores (B6 in broadcast.c): the
 * same exactly-once / exact-lag / order checks as the general stress, in
 * threads and processes, every read mode, both policies. */
static void single_writer_every_receiver_gets_received_plus_lagged_equal_sent(void **state)
{
    (void)state;
    const int readers[] = {1, 2, 4, 8};
    uint64_t total = stress_frames();
    g_flags = KLAW_BCAST_SINGLE_WRITER;
    int k = 0;
    for (int policy = KLAW_POLICY_OVERWRITE; policy <= KLAW_POLICY_BLOCK; policy++)
        for (size_t i = 0; i < 4; i++, k++) {
            run_thread_stress(policy, 1, readers[i], k % 3, total, policy == KLAW_POLICY_OVERWRITE ? 8 : 16);
            if (readers[i] != 2)
                run_process_stress(policy, 1, readers[i], (k + 1) % 3, total / 2);
        }
    g_flags = 0;
}

/* One writer handle at a time; a channel created with none waits for its
 * writer; the flag is checked at creation and at attach. */
static void single_writer_is_one_handle_at_a_time(void **state)
{
    (void)state;
    klaw_bcast_tx *tx, *tx2;
    klaw_bcast_opts o = {.capacity = 4, .max_frame = 8, .flags = KLAW_BCAST_SINGLE_WRITER, .max_writers = 2};
    assert_int_equal(klaw_bcast_create(&o, &tx), KLAW_INVAL); /* max_writers > 1 */
    o.max_writers = 0;
    o.flags = 0x80;
    assert_int_equal(klaw_bcast_create(&o, &tx), KLAW_INVAL); /* unknown flag */
    o.flags = KLAW_BCAST_SINGLE_WRITER;
    assert_int_equal(klaw_bcast_create(&o, NULL), KLAW_INVAL); /* anonymous with no writer */

    /* created with no writer: receivers subscribe, nothing is closed */
    o.name = uniq("single");
    o.policy = KLAW_POLICY_BLOCK;
    assert_int_equal(klaw_bcast_create(&o, NULL), KLAW_OK);
    klaw_bcast_rx *rx;
    assert_int_equal(klaw_bcast_open_rx(name_buf, 0, NULL, &rx), KLAW_OK);
    klaw_frame f;
    uint64_t lag;
    assert_int_equal(klaw_bcast_try_view(rx, &f, &lag), KLAW_EMPTY);
    klaw_bcast_stats st;
    assert_int_equal(klaw_bcast_rx_stats(rx, &st), KLAW_OK);
    assert_int_equal(st.writers, 0);
    assert_false(st.writers_closed);

    /* the writer opens it; a second handle is refused while it lives */
    assert_int_equal(klaw_bcast_open_tx(name_buf, &tx), KLAW_OK);
    assert_int_equal(klaw_bcast_open_tx(name_buf, &tx2), KLAW_FULL);
    assert_int_equal(klaw_bcast_tx_clone(tx, &tx2), KLAW_FULL);

    /* single and batched claims, around the ring several times (BLOCK) */
    uint64_t next = 0;
    for (int round = 0; round < 5; round++) {
        klaw_frame fr[3];
        size_t got;
        struct timespec d = klaw_deadline_in_ms(10000);
        assert_int_equal(klaw_bcast_claim_batch(tx, 8, fr, 3, &got, &d), KLAW_OK);
        assert_int_equal(got, 3);
        for (size_t i = 0; i < got; i++) {
            assert_int_equal(fr[i].seq, next + i);
            uint64_t v = next + i;
            memcpy(fr[i].data, &v, 8);
        }
        assert_int_equal(klaw_bcast_commit_batch(tx, fr, got), KLAW_OK);
        /* the ring (4) holds one more, then BLOCK says full */
        assert_int_equal(klaw_bcast_try_claim(tx, 8, &f), KLAW_OK);
        uint64_t v = next + 3;
        memcpy(f.data, &v, 8);
        assert_int_equal(klaw_bcast_commit(tx, &f, 8), KLAW_OK);
        assert_int_equal(klaw_bcast_try_claim(tx, 8, &fr[0]), KLAW_FULL);
        for (int i = 0; i < 4; i++)
            assert_int_equal(recv_u64(rx), next + (uint64_t)i);
        next += 4;
    }
    /* an abort is a skipped position, as for any writer */
    assert_int_equal(klaw_bcast_try_claim(tx, 8, &f), KLAW_OK);
    klaw_bcast_abort(tx, &f);
    send_u64(tx, 99, KLAW_OK);
    assert_int_equal(recv_u64(rx), 99);

    /* the only writer's close finishes the channel */
    klaw_bcast_tx_free(tx);
    assert_int_equal(klaw_bcast_try_view(rx, &f, &lag), KLAW_CLOSED);
    assert_int_equal(klaw_bcast_open_tx(name_buf, &tx), KLAW_CLOSED);
    klaw_bcast_rx_free(rx);
    klaw_region_unlink(name_buf);
}

/* A single writer killed with a batch claimed by plain stores: after the
 * liveness timeout a parked receiver reaps it, the claims are skipped
 * (counted), what it committed is delivered, and the channel closes (it
 * was the only writer). */
static void single_writer_dying_with_a_batch(int fd)
{
    (void)fd;
    klaw_bcast_tx *tx;
    klaw_frame fr[4];
    size_t got;
    if (klaw_bcast_open_tx(name_buf, &tx) != KLAW_OK || klaw_bcast_try_send(tx, "one", 3) != KLAW_OK ||
        klaw_bcast_try_send(tx, "two", 3) != KLAW_OK || klaw_bcast_claim_batch(tx, 4, fr, 4, &got, NULL) != KLAW_OK ||
        got != 4)
        _exit(1);
    memcpy(fr[0].data, "dead", 4); /* and never commits */
}

static void single_writer_killed_with_a_batch_claimed_does_not_wedge(void **state)
{
    (void)state;
    for (int policy = KLAW_POLICY_OVERWRITE; policy <= KLAW_POLICY_BLOCK; policy++) {
        klaw_bcast_opts o = {.capacity = 8, .max_frame = 16, .policy = policy, .name = uniq("killsw"),
                             .liveness_ns = 100000000, .flags = KLAW_BCAST_SINGLE_WRITER};
        assert_int_equal(klaw_bcast_create(&o, NULL), KLAW_OK);
        klaw_bcast_rx *rx;
        assert_int_equal(klaw_bcast_open_rx(name_buf, 0, NULL, &rx), KLAW_OK);
        pid_t pid = fork_ready(single_writer_dying_with_a_batch);
        kill_and_reap(pid);
        struct timespec d = klaw_deadline_in_ms(30000);
        uint8_t buf[16];
        size_t len;
        uint64_t lag = 0;
        assert_int_equal(klaw_bcast_recv(rx, buf, sizeof buf, &len, &lag, &d), KLAW_OK);
        assert_memory_equal(buf, "one", 3);
        assert_int_equal(klaw_bcast_recv(rx, buf, sizeof buf, &len, &lag, &d), KLAW_OK);
        assert_memory_equal(buf, "two", 3);
        assert_int_equal(klaw_bcast_recv(rx, buf, sizeof buf, &len, &lag, &d), KLAW_CLOSED);
        klaw_bcast_stats s;
        klaw_bcast_rx_stats(rx, &s);
        assert_int_equal(s.aborted_claims, 4);
        assert_int_equal(s.writers, 0);
        assert_true(s.writers_closed);
        assert_int_equal(s.total_received, 2);
        assert_int_equal(s.lagged, 0);
        klaw_bcast_rx_free(rx);
        klaw_region_unlink(name_buf);
    }
}

/* ---- faults -------------------------------------------------------------- */

/* Children that take a handle of the named channel, say so on fd, and
 * wait to be killed. */
static void doomed_reader(int fd)
{
    klaw_bcast_rx *rx;
    if (klaw_bcast_open_rx(name_buf, 0, "doomed", &rx) != KLAW_OK)
        _exit(1);
}

static void dying_writer(int fd)
{
    klaw_bcast_tx *tx;
    klaw_frame f;
    if (klaw_bcast_open_tx(name_buf, &tx) != KLAW_OK || klaw_bcast_try_claim(tx, 4, &f) != KLAW_OK)
        _exit(1);
    memcpy(f.data, "dead", 4); /* and never commits */
}

/* Forks a child that runs fn, then reports on a pipe and pauses; returns
 * its pid once it has reported. */
static pid_t fork_ready(void (*fn)(int))
{
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        fn(pfd[1]);
        if (write(pfd[1], "r", 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    char c;
    assert_int_equal(read(pfd[0], &c, 1), 1);
    close(pfd[0]);
    close(pfd[1]);
    return pid;
}

static void kill_and_reap(pid_t pid)
{
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFSIGNALED(status));
}

/* BLOCK: a receiver process killed while the writer waits for it is
 * evicted after the liveness timeout, and the writer goes on. */
static void block_writer_goes_on_after_a_killed_receiver_is_evicted(void **state)
{
    (void)state;
    const char *name = uniq("killr");
    klaw_bcast_tx *tx = make(4, 8, KLAW_POLICY_BLOCK, name);
    klaw_bcast_rx *live;
    assert_int_equal(klaw_bcast_subscribe(tx, 0, "live", &live), KLAW_OK);
    pid_t pid = fork_ready(doomed_reader); /* registered; never reads */
    for (uint64_t i = 0; i < 4; i++)
        send_u64(tx, i, KLAW_OK);
    for (uint64_t i = 0; i < 4; i++)
        assert_int_equal(recv_u64(live), i);
    send_u64(tx, 4, KLAW_FULL); /* the child holds the gate */
    kill_and_reap(pid);
    /* the writer parks, reaps after liveness (100 ms) and goes on: well
     * before this deadline, which only guards against a hang */
    struct timespec d = klaw_deadline_in_ms(30000);
    uint64_t v = 4;
    assert_int_equal(klaw_bcast_send(tx, &v, sizeof v, &d), KLAW_OK);
    assert_int_equal(recv_u64(live), 4);
    klaw_bcast_stats s;
    klaw_bcast_tx_stats(tx, &s);
    assert_int_equal(s.evicted, 1);
    assert_int_equal(s.readers, 1);
    assert_int_equal(s.lagged, 0);
    klaw_bcast_rx_free(live);
    klaw_bcast_tx_free(tx);
    klaw_region_unlink(name_buf);
}

/* A writer process killed between claim and commit: after the liveness
 * timeout its claim is skipped (counted) and later frames flow; when it
 * was the last writer, the channel closes. */
static void writer_killed_between_claim_and_commit_does_not_wedge_readers(void **state)
{
    (void)state;
    for (int policy = KLAW_POLICY_OVERWRITE; policy <= KLAW_POLICY_BLOCK; policy++) {
        const char *name = uniq("killw");
        klaw_bcast_tx *tx = make(8, 16, policy, name);
        klaw_bcast_rx *rx;
        assert_int_equal(klaw_bcast_subscribe(tx, 0, NULL, &rx), KLAW_OK);
        pid_t pid = fork_ready(dying_writer);
        for (int i = 0; i < 3; i++)
            assert_int_equal(klaw_bcast_try_send(tx, "live", 4), KLAW_OK);
        kill_and_reap(pid);
        struct timespec d = klaw_deadline_in_ms(30000);
        for (int i = 0; i < 3; i++) {
            uint8_t buf[16];
            size_t len;
            uint64_t lag = 0;
            assert_int_equal(klaw_bcast_recv(rx, buf, sizeof buf, &len, &lag, &d), KLAW_OK);
            assert_int_equal(len, 4);
            assert_memory_equal(buf, "live", 4);
        }
        klaw_bcast_stats s;
        klaw_bcast_rx_stats(rx, &s);
        assert_int_equal(s.aborted_claims, 1);
        assert_int_equal(s.writers, 1);
        assert_int_equal(s.total_sent, 3);
        assert_int_equal(s.total_received, 3);
        assert_int_equal(s.lagged, 0);
        klaw_bcast_rx_free(rx);
        klaw_bcast_tx_free(tx);
        klaw_region_unlink(name_buf);
    }

    /* a writer that needs the dead claim's slot again (a lap later) waits
     * for it, reaps it after the liveness timeout and goes on */
    {
        const char *name = uniq("killw3");
        klaw_bcast_tx *tx = make(4, 16, KLAW_POLICY_OVERWRITE, name);
        klaw_bcast_rx *rx;
        assert_int_equal(klaw_bcast_subscribe(tx, 0, NULL, &rx), KLAW_OK);
        pid_t pid = fork_ready(dying_writer); /* holds position 0 */
        kill_and_reap(pid);
        struct timespec d = klaw_deadline_in_ms(30000);
        for (uint64_t i = 0; i < 6; i++) {
            uint64_t v = i;
            assert_int_equal(klaw_bcast_send(tx, &v, sizeof v, &d), KLAW_OK);
        }
        klaw_frame f;
        uint64_t lag = 0;
        assert_int_equal(klaw_bcast_try_view(rx, &f, &lag), KLAW_LAGGED);
        assert_int_equal(lag, 3); /* positions 0 (the dead claim), 1, 2 */
        for (uint64_t i = 2; i < 6; i++)
            assert_int_equal(recv_u64(rx), i);
        klaw_bcast_stats s;
        klaw_bcast_rx_stats(rx, &s);
        assert_int_equal(s.aborted_claims, 1);
        assert_int_equal(s.total_sent, 6);
        klaw_bcast_rx_free(rx);
        klaw_bcast_tx_free(tx);
        klaw_region_unlink(name_buf);
    }

    /* the dead writer was the only one left: the reader drains, then CLOSED */
    const char *name = uniq("killw2");
    klaw_bcast_tx *tx = make(8, 16, KLAW_POLICY_OVERWRITE, name);
    klaw_bcast_rx *rx;
    assert_int_equal(klaw_bcast_subscribe(tx, 0, NULL, &rx), KLAW_OK);
    send_u64(tx, 7, KLAW_OK);
    pid_t pid = fork_ready(dying_writer);
    klaw_bcast_tx_free(tx);
    kill_and_reap(pid);
    assert_int_equal(recv_u64(rx), 7);
    klaw_frame f;
    struct timespec d = klaw_deadline_in_ms(30000);
    assert_int_equal(klaw_bcast_view(rx, &d, &f, NULL), KLAW_CLOSED);
    klaw_bcast_stats s;
    klaw_bcast_rx_stats(rx, &s);
    assert_int_equal(s.aborted_claims, 1);
    assert_int_equal(s.writers_closed, 1);
    klaw_bcast_rx_free(rx);
    klaw_region_unlink(name_buf);
}

/* The liveness clock is the channel's, not each call's: a receiver that
 * waits in slices much shorter than the liveness period (100 ms here)
 * still reaps a killed writer's claim and goes on. (With a clock started
 * afresh by every call, such a receiver never reaped.) */
static void short_slice_waiters_still_reap(void **state)
{
    (void)state;
    const char *name = uniq("slices");
    klaw_bcast_tx *tx = make(8, 16, KLAW_POLICY_OVERWRITE, name);
    klaw_bcast_rx *rx;
    assert_int_equal(klaw_bcast_subscribe(tx, 0, NULL, &rx), KLAW_OK);
    pid_t pid = fork_ready(dying_writer); /* holds position 0 */
    assert_int_equal(klaw_bcast_try_send(tx, "live", 4), KLAW_OK);
    kill_and_reap(pid);
    klaw_status st = KLAW_TIMEOUT;
    klaw_frame f;
    for (int i = 0; i < 500 && st == KLAW_TIMEOUT; i++) { /* 5 s at most */
        struct timespec d = klaw_deadline_in_ms(10);
        st = klaw_bcast_view(rx, &d, &f, NULL);
    }
    assert_int_equal(st, KLAW_OK);
    assert_int_equal(f.seq, 1);
    assert_memory_equal(f.data, "live", 4);
    assert_int_equal(klaw_bcast_release(rx, &f), KLAW_OK);
    klaw_bcast_stats s;
    klaw_bcast_rx_stats(rx, &s);
    assert_int_equal(s.aborted_claims, 1);
    assert_int_equal(s.writers, 1);
    klaw_bcast_rx_free(rx);
    klaw_bcast_tx_free(tx);
    klaw_region_unlink(name_buf);
}

/* ---- the hot paths ---------------------------------------------------------- */

#include "sanitize.h"
#if defined(KLAW_ASAN) || defined(KLAW_TSAN)
#define UNDER_SANITIZER 1
#else
#define UNDER_SANITIZER 0
#endif

/* Lets the process make no system call but write and exit from now on: any
 * other kills it with SIGSYS. */
static int forbid_syscalls(void)
{
    struct sock_filter prog[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_write, 3, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_exit_group, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_exit, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog fp = {(unsigned short)(sizeof prog / sizeof prog[0]), prog};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fp);
}

/* Every frame path, 20,000 frames each, under both policies. Returns the
 * number of unexpected statuses. */
static int run_frame_paths(klaw_bcast_tx *tx, klaw_bcast_rx **rx, int nr)
{
    int bad = 0;
    uint8_t buf[64] = {0};
    for (int i = 0; i < 20000; i++) {
        klaw_frame f, fr[4];
        size_t got, len;
        uint64_t lag;
        struct timespec far = {INT32_MAX, 0}; /* a deadline is never read unless one parks */
        bad += klaw_bcast_try_send(tx, buf, 8) != KLAW_OK;
        bad += klaw_bcast_send(tx, buf, 8, &far) != KLAW_OK;
        bad += klaw_bcast_try_claim(tx, 8, &f) != KLAW_OK;
        bad += klaw_bcast_commit(tx, &f, 8) != KLAW_OK;
        bad += klaw_bcast_claim(tx, 8, &far, &f) != KLAW_OK;
        klaw_bcast_abort(tx, &f);
        bad += klaw_bcast_claim_batch(tx, 8, fr, 2, &got, &far) != KLAW_OK;
        for (size_t k = 0; k < got; k++)
            fr[k].len = 8;
        bad += klaw_bcast_commit_batch(tx, fr, got) != KLAW_OK;
        for (int r = 0; r < nr; r++) {
            bad += klaw_bcast_try_recv(rx[r], buf, sizeof buf, &len, &lag) != KLAW_OK;
            bad += klaw_bcast_recv(rx[r], buf, sizeof buf, &len, &lag, &far) != KLAW_OK;
            bad += klaw_bcast_try_view(rx[r], &f, &lag) != KLAW_OK;
            bad += klaw_bcast_release(rx[r], &f) != KLAW_OK;
            klaw_frame in[4];
            for (size_t left = got, n = 0; left > 0; left -= n) {
                bad += klaw_bcast_view_batch(rx[r], in, 4, &n, &lag, &far) != KLAW_OK;
                bad += klaw_bcast_release_batch(rx[r], in, n) != KLAW_OK;
                if (n == 0 || n > left)
                    return bad + 1;
            }
        }
    }
    return bad;
}

/* With nobody parked, no frame path makes a system call (futex wake,
 * membarrier, clock, /proc, locks): a child runs them all under a seccomp
 * filter that kills it at the first system call other than exit. (The
 * clock through the vDSO is not a system call; KLAW_READER_SEEN_EVERY
 * bounds its use, see test_registry.) */
/* KLAW_BCAST_WRITER_YIELDS: on a crowded channel (more writers and
 * receivers than CPUs) an OVERWRITE writer makes a system call (its yield)
 * when a claim crosses a ring lap - single or batched, single writer or
 * not - and without the flag it makes none; an uncrowded one makes none. */
static void writer_yields_once_per_lap_only_when_asked_and_crowded(void **state)
{
    (void)state;
    if (UNDER_SANITIZER)
        skip();
    cpu_set_t set;
    int ncpu = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 0;
    if (ncpu < 1 || ncpu > 60)
        skip(); /* crowding needs more receivers than a channel's table here */
    for (int crowded = 0; crowded < 2; crowded++) {
        for (unsigned flags = 0; flags < 4; flags++) {
            g_flags = flags;
            klaw_bcast_tx *tx = make(8, 8, KLAW_POLICY_OVERWRITE, NULL);
            g_flags = 0;
            klaw_bcast_rx *rx[64];
            int nr = crowded ? ncpu + 1 : (ncpu > 1 ? ncpu - 1 : 0);
            for (int r = 0; r < nr; r++)
                assert_int_equal(klaw_bcast_subscribe(tx, 0, NULL, &rx[r]), KLAW_OK);
            /* a lap in the parent first (caches the CPU count, which is
             * read with a system call once) */
            for (uint64_t i = 0; i < 9; i++)
                send_u64(tx, i, nr ? KLAW_OK : KLAW_NO_RECEIVERS);
            for (int batched = 0; batched < 2; batched++) {
                pid_t pid = fork();
                assert_true(pid >= 0);
                if (pid == 0) {
                    if (forbid_syscalls() != 0)
                        _exit(3);
                    for (int i = 0; i < 20; i++) { /* two and a half laps */
                        klaw_frame fr[3];
                        size_t got = 1;
                        klaw_status st = batched ? klaw_bcast_claim_batch(tx, 8, fr, 3, &got, NULL)
                                                 : klaw_bcast_try_claim(tx, 8, &fr[0]);
                        if (st != KLAW_OK)
                            _exit(4);
                        klaw_bcast_commit_batch(tx, fr, got);
                    }
                    _exit(0);
                }
                int status;
                waitpid(pid, &status, 0);
                if (WIFEXITED(status) && WEXITSTATUS(status) == 3)
                    skip(); /* no seccomp here */
                int yielded = WIFSIGNALED(status);
                if (!yielded)
                    assert_int_equal(WEXITSTATUS(status), 0);
                int want = crowded && (flags & KLAW_BCAST_WRITER_YIELDS);
                if (yielded != want)
                    fail_msg("flags %u, %s, %s: %s", flags, crowded ? "crowded" : "not crowded",
                             batched ? "batched" : "single", yielded ? "made a system call" : "made none");
            }
            for (int r = 0; r < nr; r++)
                klaw_bcast_rx_free(rx[r]);
            klaw_bcast_tx_free(tx);
        }
    }
}

static void frame_paths_make_no_system_call_when_nobody_parks(void **state)
{
    (void)state;
    if (UNDER_SANITIZER)
        skip(); /* the sanitizer runtimes make system calls of their own */
    for (int policy = KLAW_POLICY_OVERWRITE; policy <= KLAW_POLICY_BLOCK; policy++) {
        klaw_bcast_tx *tx = make(64, 64, policy, NULL);
        klaw_bcast_rx *rx[2];
        for (int r = 0; r < 2; r++)
            assert_int_equal(klaw_bcast_subscribe(tx, 0, NULL, &rx[r]), KLAW_OK);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            if (forbid_syscalls() != 0)
                _exit(3);
            _exit(run_frame_paths(tx, rx, 2) ? 1 : 0);
        }
        int status;
        waitpid(pid, &status, 0);
        if (WIFSIGNALED(status))
            fail_msg("policy %d: a frame path made a system call (signal %d)", policy, WTERMSIG(status));
        assert_true(WIFEXITED(status));
        if (WEXITSTATUS(status) == 3)
            skip(); /* no seccomp here */
        assert_int_equal(WEXITSTATUS(status), 0);
        /* and the checker checks: a parked caller's wake-up is a syscall */
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            if (forbid_syscalls() != 0)
                _exit(3);
            klaw_bcast_stats st; /* a cold path: this child's identity, the lock */
            klaw_bcast_tx_stats(tx, &st);
            _exit(0);
        }
        waitpid(pid, &status, 0);
        assert_true(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 3));
        for (int r = 0; r < 2; r++)
            klaw_bcast_rx_free(rx[r]);
        klaw_bcast_tx_free(tx);
    }
}

/* ---- regions --------------------------------------------------------------- */

static void hostile_ring_config_is_refused(void **state)
{
    (void)state;
    const char *name = uniq("hostile");
    klaw_bcast_tx *tx = make(8, 16, KLAW_POLICY_OVERWRITE, name);
    klaw_region *r;
    assert_int_equal(klaw_region_open(name, KLAW_KIND_BROADCAST, 0, &r), KLAW_OK);
    uint8_t *base = klaw_region_base(r);
    uint32_t *cfg = (uint32_t *)(base + klaw_region_hdr(r)->body_off);
    /* cfg: magic, capacity, shift, max_frame, slot_size, max_readers,
     * max_writers, policy; then u64 tables, readers, slots, reserved; then
     * u32 flags */
    const struct {
        int field;
        uint32_t value;
    } bad[] = {{0, 0},     {1, 3},      {1, 1u << 31}, {2, 31},  {3, 1u << 30}, {3, 0}, {4, 17},
               {5, 0},     {5, 100000}, {6, 0},        {6, 9999}, {7, 0},       {7, 3},
               /* flags (after the u64s): an unknown one; single writer with 16 */
               {16, 0x80}, {16, KLAW_BCAST_SINGLE_WRITER}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint32_t save = cfg[bad[i].field];
        cfg[bad[i].field] = bad[i].value;
        klaw_bcast_tx *o = NULL;
        assert_int_equal(klaw_bcast_open_tx(name, &o), KLAW_CORRUPT);
        assert_null(o);
        klaw_bcast_rx *orx = NULL;
        assert_int_equal(klaw_bcast_open_rx(name, 0, NULL, &orx), KLAW_CORRUPT);
        assert_null(orx);
        klaw_bcast_stats st;
        assert_int_equal(klaw__bcast_inspect(r, &st), KLAW_CORRUPT);
        cfg[bad[i].field] = save;
    }
    uint64_t *offs = (uint64_t *)(cfg + 8); /* tables, readers, slots */
    uint64_t body = klaw_region_hdr(r)->body_off;
    /* the lifecycle block, 8 lines into the control block: magic,
     * max_handles, max_peers, closing_roles; u64 handles_off, peers_off,
     * liveness_ns */
    uint32_t *life = (uint32_t *)(base + body + 8 * 64);
    uint64_t *lofs = (uint64_t *)(life + 4);
    uint64_t hoff = lofs[0], poff = lofs[1], roff = offs[1], soff = offs[2];
    /* the registry and the slots: outside the region, over the control
     * block (the lock word), the lifecycle tables or each other */
    const struct {
        int field;
        uint64_t value;
    } boff[] = {{1, 0}, {1, 8}, {1, klaw_region_size(r) - 256}, {1, body}, {1, hoff}, {1, poff},
                {2, klaw_region_size(r) - 64}, {2, UINT64_MAX - 63}, {2, body + 64}, {2, hoff}, {2, roff}};
    for (size_t i = 0; i < sizeof boff / sizeof boff[0]; i++) {
        uint64_t save = offs[boff[i].field];
        offs[boff[i].field] = boff[i].value;
        klaw_bcast_rx *o = NULL;
        assert_int_equal(klaw_bcast_open_rx(name, 0, NULL, &o), KLAW_CORRUPT);
        offs[boff[i].field] = save;
    }
    /* its config: 16 + 64 handles (the writers and the readers), only the
     * writers' role closing (bit 1), tables that fit */
    const struct {
        int field;
        uint32_t value;
    } lbad[] = {{0, 0}, {1, 0}, {1, 79}, {1, 100000}, {2, 0}, {2, 9000}, {3, 0}, {3, 1}, {3, 6}};
    for (size_t i = 0; i < sizeof lbad / sizeof lbad[0]; i++) {
        uint32_t sv = life[lbad[i].field];
        life[lbad[i].field] = lbad[i].value;
        klaw_bcast_rx *o = NULL;
        assert_int_equal(klaw_bcast_open_rx(name, 0, NULL, &o), KLAW_CORRUPT);
        assert_null(o);
        klaw_bcast_tx *ot = NULL;
        assert_int_equal(klaw_bcast_open_tx(name, &ot), KLAW_CORRUPT);
        life[lbad[i].field] = sv;
    }
    const uint64_t over[][2] = {{body, poff}, {body + 128, poff}, {hoff, hoff},          {hoff, body + 64},
                                {roff, poff}, {hoff, roff},       {soff, poff},          {hoff, soff},
                                {klaw_region_size(r) - 64, poff}, {hoff + 8, poff + 64}};
    for (size_t i = 0; i < sizeof over / sizeof over[0]; i++) {
        lofs[0] = over[i][0];
        lofs[1] = over[i][1];
        klaw_bcast_rx *o = NULL;
        assert_int_equal(klaw_bcast_open_rx(name, 0, NULL, &o), KLAW_CORRUPT);
        assert_null(o);
    }
    lofs[0] = hoff;
    lofs[1] = poff;
    uint64_t slive = lofs[2];
    lofs[2] = 0;
    klaw_bcast_rx *o = NULL;
    assert_int_equal(klaw_bcast_open_rx(name, 0, NULL, &o), KLAW_CORRUPT);
    lofs[2] = slive;
    assert_int_equal(klaw_bcast_open_rx(name, 0, NULL, &o), KLAW_OK);
    klaw_bcast_rx_free(o);
    /* another kind of channel by that name */
    klaw_bcast_tx *otx = NULL;
    klaw_region_close(r);
    klaw_bcast_tx_free(tx);
    klaw_region_unlink(name);
    assert_int_equal(klaw_bcast_open_tx(name, &otx), KLAW_NOENT);
}

/* A slot state the protocol never makes (hostile memory while open) is
 * KLAW_CORRUPT for the writer, not a hang. */
static void hostile_slot_state_is_corrupt_not_a_hang(void **state)
{
    (void)state;
    const char *name = uniq("hslot");
    klaw_bcast_tx *tx = make(4, 8, KLAW_POLICY_OVERWRITE, name);
    for (uint64_t i = 0; i < 4; i++)
        send_u64(tx, i, KLAW_NO_RECEIVERS);
    klaw_region *r;
    assert_int_equal(klaw_region_open(name, KLAW_KIND_BROADCAST, 0, &r), KLAW_OK);
    uint8_t *base = klaw_region_base(r);
    uint64_t *cfg64 = (uint64_t *)(base + klaw_region_hdr(r)->body_off);
    uint64_t soff = cfg64[6]; /* after 8 u32s: tables, readers, slots */
    /* slot 0 back to "never written" while tail is 4: two laps behind */
    __atomic_store_n((uint64_t *)(base + soff), 0, __ATOMIC_SEQ_CST);
    klaw_frame f;
    assert_int_equal(klaw_bcast_try_claim(tx, 8, &f), KLAW_CORRUPT);
    klaw_region_close(r);
    klaw_bcast_tx_free(tx);
    klaw_region_unlink(name);
}

static void metadata_is_written_before_ready(void **state)
{
    (void)state;
    const char *name = uniq("meta");
    klaw_bcast_opts o = {.capacity = 16, .max_frame = 100, .policy = KLAW_POLICY_BLOCK, .name = name,
                         .value_type = "Tick"};
    klaw_bcast_tx *tx;
    assert_int_equal(klaw_bcast_create(&o, &tx), KLAW_OK);
    klaw_region *r;
    assert_int_equal(klaw_region_open(name, KLAW_KIND_BROADCAST, 0, &r), KLAW_OK);
    const klaw_region_header *h = klaw_region_hdr(r);
    assert_true(h->meta_len > 0);
    const uint8_t *m = (const uint8_t *)klaw_region_base(r) + h->meta_off;
    const klaw_schema *s = klaw_record_schema(KLAW_RECORD_CHANNEL_METADATA);
    assert_non_null(s);
    klaw_channel_metadata md;
    assert_int_equal(klaw_schema_decode(s, m, h->meta_len, &md, NULL, 0, NULL), KLAW_OK);
    assert_int_equal(md.channel_type, KLAW_CHANNEL_BROADCAST);
    assert_int_equal(md.capacity, 16);
    assert_int_equal(md.max_frame, 100);
    assert_int_equal(md.policy, KLAW_POLICY_BLOCK);
    assert_int_equal(md.value_type.len, 4);
    assert_memory_equal(md.value_type.ptr, "Tick", 4);
    assert_int_equal(md.name.len, strlen(name));
    /* inspection from "another process": no handle taken */
    klaw_bcast_rx *rx;
    assert_int_equal(klaw_bcast_subscribe(tx, 0, "watcher", &rx), KLAW_OK);
    send_u64(tx, 5, KLAW_OK);
    assert_int_equal(recv_u64(rx), 5);
    klaw_bcast_stats st;
    assert_int_equal(klaw__bcast_inspect(r, &st), KLAW_OK);
    assert_int_equal(st.writers, 1);
    assert_int_equal(st.readers, 1);
    assert_int_equal(st.total_sent, 1);
    assert_int_equal(st.total_received, 1);
    klaw_reader_snapshot *snap;
    uint64_t tail;
    assert_int_equal(klaw__bcast_inspect_readers(r, &snap, &tail), KLAW_OK);
    assert_int_equal(snap->count, 1);
    assert_int_equal(snap->readers[0].total_received, 1);
    assert_int_equal(tail, 1);
    assert_int_equal(snap->cursors[0], 1); /* read the one frame: no lag */
    assert_memory_equal(snap->readers[0].reader_id.ptr, "watcher", 7);
    klaw_reader_snapshot_free(snap);
    klaw_region_close(r);
    klaw_bcast_rx_free(rx);
    klaw_bcast_tx_free(tx);
    klaw_region_unlink(name);
}

/* ---- scribbles ------------------------------------------------------------- */

static int one_of(klaw_status st, const klaw_status *ok, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (st == ok[i])
            return 1;
    fprintf(stderr, "unexpected %s\n", klaw_status_name(st));
    return 0;
}
#define EXPECT(st, ...)                                                                                    \
    do {                                                                                                   \
        const klaw_status ok_[] = {__VA_ARGS__};                                                           \
        assert_true(one_of((st), ok_, sizeof ok_ / sizeof ok_[0]));                                        \
    } while (0)

/* Every call a process makes on a channel whose memory another has
 * scribbled on: it must return a documented status, and by its deadline. */
static void exercise(const char *name, klaw_bcast_tx *tx, klaw_bcast_rx **rx, int nr, klaw_region *r, int k)
{
    uint64_t sum = 0;
    for (int i = 0; i < nr; i++) {
        for (int j = 0; j < 4; j++) {
            klaw_frame f;
            uint64_t lag;
            klaw_status st = klaw_bcast_try_view(rx[i], &f, &lag);
            EXPECT(st, KLAW_OK, KLAW_EMPTY, KLAW_LAGGED, KLAW_CLOSED, KLAW_CORRUPT);
            if (st == KLAW_OK) {
                for (uint32_t b = 0; b < f.len; b++) /* every byte of a view is readable */
                    sum += f.data[b];
                EXPECT(klaw_bcast_release(rx[i], &f), KLAW_OK, KLAW_LAGGED);
            }
        }
        klaw_frame fr[4];
        size_t got;
        uint64_t lag;
        struct timespec d = klaw_deadline_in_ms(1);
        klaw_status st = klaw_bcast_view_batch(rx[i], fr, 4, &got, &lag, &d);
        EXPECT(st, KLAW_OK, KLAW_TIMEOUT, KLAW_LAGGED, KLAW_CLOSED, KLAW_CORRUPT);
        if (st == KLAW_OK)
            EXPECT(klaw_bcast_release_batch(rx[i], fr, got), KLAW_OK, KLAW_LAGGED);
    }
    EXPECT(klaw_bcast_try_send(tx, "scribble", 8), KLAW_OK, KLAW_FULL, KLAW_NO_RECEIVERS, KLAW_CORRUPT);
    struct timespec d = klaw_deadline_in_ms(1);
    EXPECT(klaw_bcast_send(tx, "scribble", 8, &d), KLAW_OK, KLAW_TIMEOUT, KLAW_NO_RECEIVERS, KLAW_CORRUPT);
    klaw_bcast_stats st;
    EXPECT(klaw__bcast_inspect(r, &st), KLAW_OK, KLAW_CORRUPT);
    klaw_reader_snapshot *snap = NULL;
    uint64_t tail;
    EXPECT(klaw__bcast_inspect_readers(r, &snap, &tail), KLAW_OK, KLAW_CORRUPT);
    if (snap)
        for (size_t i = 0; i < snap->count; i++)
            sum += snap->readers[i].reader_id.len + snap->readers[i].node_id.len;
    klaw_reader_snapshot_free(snap);
    if (k % 16 == 0) {
        klaw_bcast_rx *o = NULL;
        EXPECT(klaw_bcast_open_rx(name, (unsigned)k & 1, NULL, &o), KLAW_OK, KLAW_CORRUPT, KLAW_FULL);
        klaw_bcast_rx_free(o);
        klaw_bcast_tx *t = NULL;
        EXPECT(klaw_bcast_open_tx(name, &t), KLAW_OK, KLAW_CORRUPT, KLAW_FULL, KLAW_CLOSED);
        klaw_bcast_tx_free(t);
    }
    (void)sum;
}

/* Random words written anywhere in a live channel's shared state - ring,
 * slots, lifecycle block and tables (handles, peers), registry, counters -
 * but the lifecycle lock word (a word naming a live holder stalls
 * everybody; the trust model accepts that) never crash a caller, read
 * outside the mapping, or hang it past its deadline. */
static void scribbled_shared_state_never_crashes_or_hangs(void **state)
{
    (void)state;
    unsigned seed = 20261121;
    uint64_t rounds = stress_frames() / 2000;
    for (uint64_t round = 0; round < rounds; round++) {
        int policy = round & 1 ? KLAW_POLICY_BLOCK : KLAW_POLICY_OVERWRITE;
        const char *name = uniq("scribble");
        klaw_bcast_tx *tx = make_live(8, 32, policy, name, 1000000);
        klaw_bcast_rx *rx[2];
        assert_int_equal(klaw_bcast_subscribe(tx, KLAW_BCAST_FROM_TAIL, NULL, &rx[0]), KLAW_OK);
        assert_int_equal(klaw_bcast_subscribe(tx, KLAW_BCAST_FROM_OLDEST, NULL, &rx[1]), KLAW_OK);
        for (uint64_t i = 0; i < 5; i++)
            send_u64(tx, i, KLAW_OK);
        klaw_region *r;
        assert_int_equal(klaw_region_open(name, KLAW_KIND_BROADCAST, 0, &r), KLAW_OK);
        uint8_t *base = klaw_region_base(r);
        const klaw_region_header *h = klaw_region_hdr(r);
        uint64_t from = h->body_off, to = h->meta_off;
        /* the lock word: the lifecycle block comes after the config (two
         * lines since the flags word), tail, gate, the two counts, the
         * counters and the registry header - 8 cache lines in - and its
         * lock word is the first word of its second line (with the
         * padding beside it: one 8-byte word) */
        uint64_t lock_from = from + 9 * 64, lock_to = lock_from + 8;
        for (int k = 0; k < 200; k++) {
            uint64_t off = from + ((uint64_t)rand_r(&seed) * 8) % (to - from);
            if (off + 8 > lock_from && off < lock_to)
                continue;
            uint64_t v = (uint64_t)rand_r(&seed) << 33 ^ (uint64_t)rand_r(&seed);
            if (k % 3 == 0)
                v &= 0xffff; /* small values: in-range laps, indices and lengths */
            __atomic_store_n((uint64_t *)(base + off), v, __ATOMIC_RELAXED);
            exercise(name, tx, rx, 2, r, k);
        }
        klaw_region_close(r);
        for (int i = 0; i < 2; i++)
            klaw_bcast_rx_free(rx[i]);
        klaw_bcast_tx_free(tx);
        klaw_region_unlink(name_buf);
    }
}

/* select's hook: try_take gives frames, LAGGED with a count, CLOSED. */
static void select_source_takes_views_lags_and_closed(void **state)
{
    (void)state;
    klaw_bcast_tx *tx = make(2, 8, KLAW_POLICY_OVERWRITE, NULL);
    klaw_bcast_rx *rx;
    assert_int_equal(klaw_bcast_subscribe(tx, 0, NULL, &rx), KLAW_OK);
    klaw_sel_src src;
    assert_int_equal(klaw__bcast_sel_src(rx, &src), KLAW_OK);
    assert_non_null(src.ec);
    klaw_sel_result res;
    assert_int_equal(src.try_take(src.rx, &res), KLAW_EMPTY);
    for (uint64_t i = 0; i < 5; i++)
        send_u64(tx, i, KLAW_OK);
    assert_int_equal(src.try_take(src.rx, &res), KLAW_LAGGED);
    assert_int_equal(res.lagged, 3);
    assert_int_equal(src.try_take(src.rx, &res), KLAW_OK);
    assert_int_equal(res.frame.seq, 3);
    assert_int_equal(src.release(src.rx, &res.frame), KLAW_OK);
    klaw_bcast_tx_close(tx);
    assert_int_equal(src.try_take(src.rx, &res), KLAW_OK);
    assert_int_equal(src.release(src.rx, &res.frame), KLAW_OK);
    assert_int_equal(src.try_take(src.rx, &res), KLAW_CLOSED);
    klaw_bcast_rx_close(rx);
    assert_int_equal(klaw__bcast_sel_src(rx, &src), KLAW_INVAL);
    klaw_bcast_rx_free(rx);
    klaw_bcast_tx_free(tx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_receiver_sees_every_frame_in_order),
        cmocka_unit_test(bad_options_are_refused),
        cmocka_unit_test(overwrite_lag_is_exact_and_resumes_at_the_oldest),
        cmocka_unit_test(a_view_lapped_while_held_is_lagged_at_release),
        cmocka_unit_test(zero_copy_claims_commit_abort_and_batches),
        cmocka_unit_test(recv_too_small_a_buffer_keeps_the_frame),
        cmocka_unit_test(zero_receivers_is_no_receivers),
        cmocka_unit_test(subscribe_from_oldest_or_from_the_tail),
        cmocka_unit_test(block_waits_for_the_slowest_receiver),
        cmocka_unit_test(receivers_drain_then_closed_and_parked_callers_wake),
        cmocka_unit_test(parked_block_writer_wakes_as_the_slowest_frees_room),
        cmocka_unit_test(deadlines_time_out),
        cmocka_unit_test(closing_a_writer_with_an_open_claim_skips_it),
        cmocka_unit_test(a_closed_receiver_releases_nothing),
        cmocka_unit_test(laps_wrap_around_their_width),
        cmocka_unit_test(toobig_is_decided_on_a_validated_length),
        cmocka_unit_test(threads_every_receiver_gets_received_plus_lagged_equal_sent),
        cmocka_unit_test(processes_every_receiver_gets_received_plus_lagged_equal_sent),
        cmocka_unit_test(single_writer_every_receiver_gets_received_plus_lagged_equal_sent),
        cmocka_unit_test(single_writer_is_one_handle_at_a_time),
        cmocka_unit_test(single_writer_killed_with_a_batch_claimed_does_not_wedge),
        cmocka_unit_test(block_writer_goes_on_after_a_killed_receiver_is_evicted),
        cmocka_unit_test(writer_killed_between_claim_and_commit_does_not_wedge_readers),
        cmocka_unit_test(short_slice_waiters_still_reap),
        cmocka_unit_test(frame_paths_make_no_system_call_when_nobody_parks),
        cmocka_unit_test(writer_yields_once_per_lap_only_when_asked_and_crowded),
        cmocka_unit_test(hostile_ring_config_is_refused),
        cmocka_unit_test(hostile_slot_state_is_corrupt_not_a_hang),
        cmocka_unit_test(scribbled_shared_state_never_crashes_or_hangs),
        cmocka_unit_test(metadata_is_written_before_ready),
        cmocka_unit_test(select_source_takes_views_lags_and_closed),
    };
    return cmocka_run_group_tests_name("broadcast", tests, NULL, NULL);
}
