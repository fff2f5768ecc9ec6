/* test_mpmc.c - the MPMC channel: zero-copy paths, close semantics,
 * deadlines, batches, exactly-once and per-producer FIFO under stress in
 * threads and across processes, and recovery from processes killed between
 * claim and commit or while holding a view. */
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
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "klaw/mpmc.h"
#include "klaw/region.h"

static char name_buf[64];
static const char *uniq(const char *tag)
{
    snprintf(name_buf, sizeof name_buf, "tmpmc-%d-%s", (int)getpid(), tag);
    klaw_region_unlink(name_buf);
    return name_buf;
}

static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void create(uint32_t cap, uint32_t maxf, const char *name, klaw_mpmc_tx **tx, klaw_mpmc_rx **rx)
{
    klaw_mpmc_opts o = {.capacity = cap, .max_frame = maxf, .name = name, .liveness_ns = 50000000};
    assert_int_equal(klaw_mpmc_create(&o, tx, rx), KLAW_OK);
}

/* ---- single-threaded behaviour ------------------------------------------ */

static void frames_arrive_in_order_with_increasing_seq(void **state)
{
    (void)state;
    klaw_mpmc_tx *tx;
    klaw_mpmc_rx *rx;
    create(8, 32, NULL, &tx, &rx);
    for (int i = 0; i < 5; i++) {
        char msg[16];
        int n = snprintf(msg, sizeof msg, "frame %d", i);
        assert_int_equal(klaw_mpmc_try_send(tx, msg, (size_t)n), KLAW_OK);
    }
    uint64_t last = 0;
    for (int i = 0; i < 5; i++) {
        klaw_frame f;
        assert_int_equal(klaw_mpmc_try_view(rx, &f), KLAW_OK);
        char want[16];
        int n = snprintf(want, sizeof want, "frame %d", i);
        assert_int_equal(f.len, n);
        assert_memory_equal(f.data, want, (size_t)n);
        if (i)
            assert_true(f.seq > last);
        last = f.seq;
        klaw_mpmc_release(rx, &f);
    }
    klaw_frame f;
    assert_int_equal(klaw_mpmc_try_view(rx, &f), KLAW_EMPTY);
    klaw_mpmc_tx_free(tx);
    klaw_mpmc_rx_free(rx);
}

static void full_ring_says_full_and_frees_on_release(void **state)
{
    (void)state;
    klaw_mpmc_tx *tx;
    klaw_mpmc_rx *rx;
    create(4, 8, NULL, &tx, &rx);
    for (uint8_t i = 0; i < 4; i++)
        assert_int_equal(klaw_mpmc_try_send(tx, &i, 1), KLAW_OK);
    uint8_t x = 9;
    assert_int_equal(klaw_mpmc_try_send(tx, &x, 1), KLAW_FULL);
    klaw_frame f;
    assert_int_equal(klaw_mpmc_try_view(rx, &f), KLAW_OK);
    /* a view still held keeps its slot */
    assert_int_equal(klaw_mpmc_try_send(tx, &x, 1), KLAW_FULL);
    klaw_mpmc_release(rx, &f);
    assert_int_equal(klaw_mpmc_try_send(tx, &x, 1), KLAW_OK);
    klaw_mpmc_stats s;
    assert_int_equal(klaw_mpmc_tx_stats(tx, &s), KLAW_OK);
    assert_int_equal(s.capacity, 4);
    assert_int_equal(s.depth, 4);
    assert_int_equal(s.total_sent, 5);
    assert_int_equal(s.total_received, 1);
    assert_int_equal(s.high_watermark, 4);
    /* drained, the ring remembers it was full (a sender found it so) */
    while (klaw_mpmc_try_view(rx, &f) == KLAW_OK)
        klaw_mpmc_release(rx, &f);
    assert_int_equal(klaw_mpmc_rx_stats(rx, &s), KLAW_OK);
    assert_int_equal(s.depth, 0);
    assert_int_equal(s.high_watermark, 4);
    klaw_mpmc_tx_free(tx);
    klaw_mpmc_rx_free(rx);
}

static void capacity_rounds_up_and_bad_options_are_refused(void **state)
{
    (void)state;
    klaw_mpmc_tx *tx;
    klaw_mpmc_rx *rx;
    klaw_mpmc_opts o = {.capacity = 5, .max_frame = 10};
    assert_int_equal(klaw_mpmc_create(&o, &tx, &rx), KLAW_OK);
    klaw_mpmc_stats s;
    klaw_mpmc_rx_stats(rx, &s);
    assert_int_equal(s.capacity, 8);
    assert_int_equal(s.senders, 1);
    assert_int_equal(s.receivers, 1);
    klaw_mpmc_tx_free(tx);
    klaw_mpmc_rx_free(rx);
    o.capacity = 0;
    assert_int_equal(klaw_mpmc_create(&o, &tx, &rx), KLAW_INVAL);
    o.capacity = 4;
    o.max_frame = 0;
    assert_int_equal(klaw_mpmc_create(&o, &tx, &rx), KLAW_INVAL);
    o.max_frame = 8;
    o.max_handles = 5000;
    assert_int_equal(klaw_mpmc_create(&o, &tx, &rx), KLAW_INVAL);
}

static void oversized_frames_are_refused(void **state)
{
    (void)state;
    klaw_mpmc_tx *tx;
    klaw_mpmc_rx *rx;
    create(4, 16, NULL, &tx, &rx);
    uint8_t big[17] = {0};
    assert_int_equal(klaw_mpmc_try_send(tx, big, 17), KLAW_TOOBIG);
    klaw_frame f;
    assert_int_equal(klaw_mpmc_try_claim(tx, 17, &f), KLAW_TOOBIG);
    assert_int_equal(klaw_mpmc_try_claim(tx, 4, &f), KLAW_OK);
    assert_int_equal(f.cap, 16);
    assert_int_equal(klaw_mpmc_commit(tx, &f, 17), KLAW_INVAL); /* aborted */
    assert_int_equal(klaw_mpmc_try_view(rx, &f), KLAW_EMPTY);
    /* a receive buffer too small keeps the frame */
    assert_int_equal(klaw_mpmc_try_send(tx, big, 16), KLAW_OK);
    uint8_t small[4];
    size_t len;
    assert_int_equal(klaw_mpmc_try_recv(rx, small, sizeof small, &len), KLAW_TOOBIG);
    assert_int_equal(len, 16);
    assert_int_equal(klaw_mpmc_try_recv(rx, big, sizeof big, &len), KLAW_OK);
    assert_int_equal(len, 16);
    klaw_mpmc_tx_free(tx);
    klaw_mpmc_rx_free(rx);
}

static void zero_copy_claim_commit_and_out_of_order_release(void **state)
{
    (void)state;
    klaw_mpmc_tx *tx;
    klaw_mpmc_rx *rx;
    create(4, 64, NULL, &tx, &rx);
    klaw_frame c[3];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(klaw_mpmc_try_claim(tx, 8, &c[i]), KLAW_OK);
        memset(c[i].data, 'a' + i, 20);
    }
    /* commit out of order: a receiver still sees them in claim order */
    assert_int_equal(klaw_mpmc_commit(tx, &c[1], 20), KLAW_OK);
    klaw_frame v[3];
    assert_int_equal(klaw_mpmc_try_view(rx, &v[0]), KLAW_EMPTY);
    assert_int_equal(klaw_mpmc_commit(tx, &c[0], 20), KLAW_OK);
    assert_int_equal(klaw_mpmc_commit(tx, &c[2], 20), KLAW_OK);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(klaw_mpmc_try_view(rx, &v[i]), KLAW_OK);
        assert_int_equal(v[i].len, 20);
        assert_int_equal(v[i].data[19], 'a' + i);
    }
    /* release the middle one first: only its slot comes back */
    klaw_mpmc_release(rx, &v[1]);
    klaw_mpmc_release(rx, &v[2]);
    klaw_mpmc_release(rx, &v[0]);
    for (int i = 0; i < 4; i++)
        assert_int_equal(klaw_mpmc_try_send(tx, "x", 1), KLAW_OK);
    klaw_mpmc_tx_free(tx);
    klaw_mpmc_rx_free(rx);
}

static void aborted_claims_are_skipped_and_counted(void **state)
{
    (void)state;
    klaw_mpmc_tx *tx;
    klaw_mpmc_rx *rx;
    create(4, 8, NULL, &tx, &rx);
    klaw_frame a, b;
    assert_int_equal(klaw_mpmc_try_claim(tx, 1, &a), KLAW_OK);
    assert_int_equal(klaw_mpmc_try_claim(tx, 1, &b), KLAW_OK);
    b.data[0] = 'B';
    klaw_mpmc_abort(tx, &a);
    assert_int_equal(klaw_mpmc_commit(tx, &b, 1), KLAW_OK);
    uint8_t out;
    size_t len;
    assert_int_equal(klaw_mpmc_try_recv(rx, &out, 1, &len), KLAW_OK);
    assert_int_equal(out, 'B');
    assert_int_equal(klaw_mpmc_try_recv(rx, &out, 1, &len), KLAW_EMPTY);
    klaw_mpmc_stats s;
    klaw_mpmc_rx_stats(rx, &s);
    assert_int_equal(s.aborted_claims, 1);
    assert_int_equal(s.total_sent, 1);
    /* the skipped slot is usable again */
    for (int i = 0; i < 4; i++)
        assert_int_equal(klaw_mpmc_try_send(tx, "y", 1), KLAW_OK);
    klaw_mpmc_tx_free(tx);
    klaw_mpmc_rx_free(rx);
}

static void batches_claim_and_view_many_at_once(void **state)
{
    (void)state;
    klaw_mpmc_tx *tx;
    klaw_mpmc_rx *rx;
    create(64, 16, NULL, &tx, &rx);
    klaw_frame fr[32];
    size_t got;
    assert_int_equal(klaw_mpmc_claim_batch(tx, 4, fr, 32, &got, NULL), KLAW_OK);
    assert_int_equal(got, 32);
    for (size_t i = 0; i < got; i++) {
        uint32_t v = (uint32_t)i;
        memcpy(fr[i].data, &v, 4);
        if (i)
            assert_true(fr[i].seq == fr[i - 1].seq + 1);
    }
    assert_int_equal(klaw_mpmc_commit_batch(tx, fr, got), KLAW_OK);
    /* only 32 free slots remain: a batch of 40 gets 32 */
    klaw_frame more[40];
    assert_int_equal(klaw_mpmc_claim_batch(tx, 4, more, 40, &got, NULL), KLAW_OK);
    assert_int_equal(got, 32);
    for (size_t i = 0; i < got; i++)
        klaw_mpmc_abort(tx, &more[i]);
    klaw_frame v[40];
    assert_int_equal(klaw_mpmc_view_batch(rx, v, 40, &got, NULL), KLAW_OK);
    assert_int_equal(got, 32);
    for (size_t i = 0; i < got; i++) {
        uint32_t x;
        memcpy(&x, v[i].data, 4);
        assert_int_equal(x, i);
    }
    klaw_mpmc_release_batch(rx, v, got);
    assert_int_equal(klaw_mpmc_try_view(rx, v), KLAW_EMPTY);
    klaw_mpmc_stats s;
    klaw_mpmc_rx_stats(rx, &s);
    assert_int_equal(s.total_sent, 32);
    assert_int_equal(s.total_received, 32);
    assert_int_equal(s.aborted_claims, 32);
    klaw_mpmc_tx_free(tx);
    klaw_mpmc_rx_free(rx);
}

/* ---- closing ----------------------------------------------------------- */

static void receivers_drain_then_see_closed_after_the_last_sender(void **state)
{
    (void)state;
    klaw_mpmc_tx *tx, *tx2;
    klaw_mpmc_rx *rx;
    create(8, 8, NULL, &tx, &rx);
    assert_int_equal(klaw_mpmc_tx_clone(tx, &tx2), KLAW_OK);
    assert_int_equal(klaw_mpmc_try_send(tx, "a", 1), KLAW_OK);
    assert_int_equal(klaw_mpmc_try_send(tx2, "b", 1), KLAW_OK);
    klaw_mpmc_tx_close(tx);
    klaw_mpmc_tx_close(tx); /* idempotent */
    assert_int_equal(klaw_mpmc_try_send(tx, "c", 1), KLAW_CLOSED);
    uint8_t out;
    size_t len;
    assert_int_equal(klaw_mpmc_try_recv(rx, &out, 1, &len), KLAW_OK);
    assert_int_equal(klaw_mpmc_try_recv(rx, &out, 1, &len), KLAW_OK);
    /* one sender still open: empty, not closed */
    assert_int_equal(klaw_mpmc_try_recv(rx, &out, 1, &len), KLAW_EMPTY);
    assert_int_equal(klaw_mpmc_try_send(tx2, "d", 1), KLAW_OK);
    klaw_mpmc_tx_close(tx2);
    assert_int_equal(klaw_mpmc_try_recv(rx, &out, 1, &len), KLAW_OK);
    assert_int_equal(out, 'd');
    assert_int_equal(klaw_mpmc_try_recv(rx, &out, 1, &len), KLAW_CLOSED);
    assert_int_equal(klaw_mpmc_recv(rx, &out, 1, &len, NULL), KLAW_CLOSED);
    klaw_mpmc_tx *tx3;
    assert_int_equal(klaw_mpmc_tx_clone(tx2, &tx3), KLAW_CLOSED);
    klaw_mpmc_stats s;
    klaw_mpmc_rx_stats(rx, &s);
    assert_true(s.senders_closed);
    assert_false(s.receivers_closed);
    klaw_mpmc_tx_free(tx);
    klaw_mpmc_tx_free(tx2);
    klaw_mpmc_rx_free(rx);
}

static void sends_fail_closed_once_every_receiver_is_gone(void **state)
{
    (void)state;
    klaw_mpmc_tx *tx;
    klaw_mpmc_rx *rx, *rx2;
    create(8, 8, NULL, &tx, &rx);
    assert_int_equal(klaw_mpmc_rx_clone(rx, &rx2), KLAW_OK);
    klaw_mpmc_rx_close(rx);
    assert_int_equal(klaw_mpmc_try_send(tx, "a", 1), KLAW_OK);
    klaw_mpmc_rx_free(rx2);
    assert_int_equal(klaw_mpmc_try_send(tx, "a", 1), KLAW_CLOSED);
    assert_int_equal(klaw_mpmc_send(tx, "a", 1, NULL), KLAW_CLOSED);
    klaw_mpmc_tx_free(tx);
    klaw_mpmc_rx_free(rx);
}

typedef struct closer_arg {
    klaw_mpmc_tx *tx;
    klaw_mpmc_rx *rx;
    int delay_ms;
} closer_arg;

static void *close_tx_later(void *p)
{
    closer_arg *a = p;
    usleep((useconds_t)a->delay_ms * 1000);
    klaw_mpmc_tx_close(a->tx);
    return NULL;
}

static void *close_rx_later(void *p)
{
    closer_arg *a = p;
    usleep((useconds_t)a->delay_ms * 1000);
    klaw_mpmc_rx_close(a->rx);
    return NULL;
}

static void parked_callers_wake_on_close(void **state)
{
    (void)state;
    klaw_mpmc_tx *tx;
    klaw_mpmc_rx *rx;
    create(2, 8, NULL, &tx, &rx);
    closer_arg a = {tx, rx, 50};
    pthread_t t;
    pthread_create(&t, NULL, close_tx_later, &a);
    uint8_t out;
    size_t len;
    int64_t t0 = mono_ms();
    assert_int_equal(klaw_mpmc_recv(rx, &out, 1, &len, NULL), KLAW_CLOSED);
    assert_true(mono_ms() - t0 < 5000);
    pthread_join(t, NULL);
    klaw_mpmc_tx_free(tx);
    klaw_mpmc_rx_free(rx);

    create(2, 8, NULL, &tx, &rx);
    a.tx = tx;
    a.rx = rx;
    assert_int_equal(klaw_mpmc_try_send(tx, "a", 1), KLAW_OK);
    assert_int_equal(klaw_mpmc_try_send(tx, "b", 1), KLAW_OK);
    pthread_create(&t, NULL, close_rx_later, &a);
    assert_int_equal(klaw_mpmc_send(tx, "c", 1, NULL), KLAW_CLOSED);
    pthread_join(t, NULL);
    klaw_mpmc_tx_free(tx);
    klaw_mpmc_rx_free(rx);
}

static void deadlines_time_out(void **state)
{
    (void)state;
    klaw_mpmc_tx *tx;
    klaw_mpmc_rx *rx;
    create(2, 8, NULL, &tx, &rx);
    uint8_t out;
    size_t len;
    struct timespec d = klaw_deadline_in_ms(30);
    assert_int_equal(klaw_mpmc_recv(rx, &out, 1, &len, &d), KLAW_TIMEOUT);
    struct timespec past = {0, 0};
    assert_int_equal(klaw_mpmc_recv(rx, &out, 1, &len, &past), KLAW_TIMEOUT);
    assert_int_equal(klaw_mpmc_try_send(tx, "a", 1), KLAW_OK);
    assert_int_equal(klaw_mpmc_try_send(tx, "b", 1), KLAW_OK);
    d = klaw_deadline_in_ms(30);
    assert_int_equal(klaw_mpmc_send(tx, "c", 1, &d), KLAW_TIMEOUT);
    /* with data there, a deadline in the past still receives */
    assert_int_equal(klaw_mpmc_recv(rx, &out, 1, &len, &past), KLAW_OK);
    klaw_mpmc_tx_free(tx);
    klaw_mpmc_rx_free(rx);
}

/* ---- stress: exactly once, FIFO per producer ---------------------------- */

/* A frame: producer id, its sequence number, a length, payload bytes
 * derived from both, and a checksum over all of it. */
typedef struct frame_hdr {
    uint32_t producer;
    uint32_t len;
    uint64_t n;
    uint64_t sum;
} frame_hdr;

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

/* Blocking calls in the stress tests carry a generous deadline, so a lost
 * wake-up or a wedged ring fails the test with KLAW_TIMEOUT instead of
 * hanging it. */
static struct timespec watchdog(void) { return klaw_deadline_in_ms(120000); }

static size_t make_frame(uint8_t *buf, size_t maxf, uint32_t producer, uint64_t n)
{
    size_t len = sizeof(frame_hdr) + (size_t)(mix(n * 131 + producer) % (maxf - sizeof(frame_hdr) + 1));
    frame_hdr h = {producer, (uint32_t)len, n, 0};
    uint64_t sum = mix(producer) ^ n;
    for (size_t i = sizeof h; i < len; i++) {
        buf[i] = (uint8_t)(mix(n + i) >> 7);
        sum = sum * 31 + buf[i];
    }
    h.sum = sum;
    memcpy(buf, &h, sizeof h);
    return len;
}

/* Checks a received frame; returns its producer and n, or aborts the test. */
static int check_frame(const uint8_t *buf, size_t len, uint32_t *producer, uint64_t *n)
{
    frame_hdr h;
    if (len < sizeof h)
        return 0;
    memcpy(&h, buf, sizeof h);
    if (h.len != len)
        return 0;
    uint64_t sum = mix(h.producer) ^ h.n;
    for (size_t i = sizeof h; i < len; i++)
        sum = sum * 31 + buf[i];
    if (sum != h.sum)
        return 0;
    *producer = h.producer;
    *n = h.n;
    return 1;
}

#define MAXP 4
#define MAXF 200

typedef struct stress {
    klaw_mpmc_tx *tx[MAXP];
    klaw_mpmc_rx *rx[MAXP];
    uint64_t per_producer;
    int zero_copy;
    /* results, per consumer: frames seen per producer and FIFO breaks */
    uint64_t seen[MAXP][MAXP];
    uint64_t bad[MAXP];
    uint8_t *delivered; /* per (producer, n): count of deliveries */
} stress;

typedef struct worker {
    stress *s;
    int id;
} worker;

static void *producer(void *p)
{
    worker *w = p;
    stress *s = w->s;
    uint8_t buf[MAXF];
    for (uint64_t n = 0; n < s->per_producer; n++) {
        size_t len = make_frame(buf, MAXF, (uint32_t)w->id, n);
        if (s->zero_copy && (n & 1)) {
            klaw_frame f;
            struct timespec d = watchdog();
            if (klaw_mpmc_claim(s->tx[w->id], len, &d, &f) != KLAW_OK)
                abort();
            memcpy(f.data, buf, len);
            klaw_mpmc_commit(s->tx[w->id], &f, len);
        } else if (klaw_mpmc_send(s->tx[w->id], buf, len, (struct timespec[]){watchdog()}) != KLAW_OK) {
            abort();
        }
    }
    klaw_mpmc_tx_close(s->tx[w->id]);
    return NULL;
}

static void *consumer(void *p)
{
    worker *w = p;
    stress *s = w->s;
    uint64_t next[MAXP] = {0};
    uint8_t buf[MAXF];
    for (;;) {
        size_t len;
        klaw_frame f;
        klaw_status st;
        const uint8_t *data;
        if (s->zero_copy) {
            st = klaw_mpmc_view(s->rx[w->id], (struct timespec[]){watchdog()}, &f);
            data = f.data;
            len = f.len;
        } else {
            st = klaw_mpmc_recv(s->rx[w->id], buf, sizeof buf, &len, (struct timespec[]){watchdog()});
            data = buf;
        }
        if (st == KLAW_CLOSED)
            break;
        if (st != KLAW_OK) {
            s->bad[w->id]++;
            break;
        }
        uint32_t prod;
        uint64_t n;
        if (!check_frame(data, len, &prod, &n) || prod >= MAXP) {
            s->bad[w->id]++;
        } else {
            /* FIFO per producer: as seen by one consumer, n only grows */
            if (n < next[prod])
                s->bad[w->id]++;
            next[prod] = n + 1;
            s->seen[w->id][prod]++;
            __atomic_fetch_add(&s->delivered[prod * s->per_producer + n], 1, __ATOMIC_RELAXED);
        }
        if (s->zero_copy)
            klaw_mpmc_release(s->rx[w->id], &f);
    }
    return NULL;
}

/* creation flags for the stress runs (the single-side tests set
 * KLAW_MPMC_SINGLE_PRODUCER / _CONSUMER) */
static unsigned g_flags;

static void run_thread_stress(int np, int nc, uint64_t per, uint32_t cap, int zero_copy)
{
    stress *s = calloc(1, sizeof *s);
    s->per_producer = per;
    s->zero_copy = zero_copy;
    s->delivered = calloc((size_t)np * per, 1);
    klaw_mpmc_opts o = {.capacity = cap, .max_frame = MAXF, .flags = g_flags};
    assert_int_equal(klaw_mpmc_create(&o, &s->tx[0], &s->rx[0]), KLAW_OK);
    for (int i = 1; i < np; i++)
        assert_int_equal(klaw_mpmc_tx_clone(s->tx[0], &s->tx[i]), KLAW_OK);
    for (int i = 1; i < nc; i++)
        assert_int_equal(klaw_mpmc_rx_clone(s->rx[0], &s->rx[i]), KLAW_OK);
    pthread_t pt[MAXP], ct[MAXP];
    worker pw[MAXP], cw[MAXP];
    for (int i = 0; i < nc; i++) {
        cw[i] = (worker){s, i};
        pthread_create(&ct[i], NULL, consumer, &cw[i]);
    }
    for (int i = 0; i < np; i++) {
        pw[i] = (worker){s, i};
        pthread_create(&pt[i], NULL, producer, &pw[i]);
    }
    for (int i = 0; i < np; i++)
        pthread_join(pt[i], NULL);
    for (int i = 0; i < nc; i++)
        pthread_join(ct[i], NULL);
    for (int i = 0; i < nc; i++)
        assert_int_equal(s->bad[i], 0);
    for (int p = 0; p < np; p++) {
        uint64_t total = 0;
        for (int c = 0; c < nc; c++)
            total += s->seen[c][p];
        assert_int_equal(total, per);
    }
    for (size_t i = 0; i < (size_t)np * per; i++)
        if (s->delivered[i] != 1)
            fail_msg("frame %zu delivered %u times", i, s->delivered[i]);
    klaw_mpmc_stats st;
    klaw_mpmc_rx_stats(s->rx[0], &st);
    assert_int_equal(st.total_sent, (uint64_t)np * per);
    assert_int_equal(st.total_received, (uint64_t)np * per);
    for (int i = 0; i < np; i++)
        klaw_mpmc_tx_free(s->tx[i]);
    for (int i = 0; i < nc; i++)
        klaw_mpmc_rx_free(s->rx[i]);
    free(s->delivered);
    free(s);
}

static uint64_t stress_frames(void)
{
    const char *e = getenv("KLAW_STRESS_FRAMES");
    return e ? strtoull(e, NULL, 10) : 300000;
}

static void threads_deliver_exactly_once_in_fifo_per_producer(void **state)
{
    (void)state;
    const int counts[] = {1, 2, 4};
    uint64_t total = stress_frames();
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++)
            for (int zc = 0; zc < 2; zc++)
                run_thread_stress(counts[a], counts[b], total / (uint64_t)counts[a], zc ? 64 : 16, zc);
}

/* ---- chaos: every API mixed, tiny rings, many interleavings ------------- */

typedef struct chaos {
    klaw_mpmc_tx *tx[MAXP];
    klaw_mpmc_rx *rx[MAXP];
    uint64_t per_producer;
    _Atomic uint64_t aborted;
    _Atomic uint64_t bad;
    _Atomic uint8_t *delivered; /* per (producer, n) */
    _Atomic uint8_t *committed; /* per (producer, n): 1 committed, 2 aborted */
} chaos;

static uint64_t rng(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

static void chaos_put(chaos *c, int id, klaw_frame *f, uint64_t n)
{
    frame_hdr h = {(uint32_t)id, sizeof h, n, mix((uint64_t)id) ^ n};
    memcpy(f->data, &h, sizeof h);
}

static void *chaos_producer(void *p)
{
    worker *w = p;
    chaos *c = (chaos *)w->s;
    klaw_mpmc_tx *tx = c->tx[w->id];
    uint64_t seed = 0x9e3779b97f4a7c15ull * (uint64_t)(w->id + 1);
    uint64_t n = 0;
    while (n < c->per_producer) {
        uint64_t r = rng(&seed) % 8;
        if (r < 2) { /* batch of up to 5, some aborted */
            klaw_frame fr[5];
            size_t got;
            size_t want = 1 + rng(&seed) % 5;
            if (want > c->per_producer - n)
                want = c->per_producer - n;
            if (klaw_mpmc_claim_batch(tx, sizeof(frame_hdr), fr, want, &got, (struct timespec[]){watchdog()}) != KLAW_OK)
                abort();
            for (size_t i = 0; i < got; i++, n++) {
                chaos_put(c, w->id, &fr[i], n);
                fr[i].len = sizeof(frame_hdr);
                atomic_store(&c->committed[(uint64_t)w->id * c->per_producer + n], 1);
            }
            klaw_mpmc_commit_batch(tx, fr, got);
        } else if (r < 3) { /* claim and abort: that n is never delivered */
            klaw_frame f;
            if (klaw_mpmc_claim(tx, sizeof(frame_hdr), (struct timespec[]){watchdog()}, &f) != KLAW_OK)
                abort();
            chaos_put(c, w->id, &f, n);
            atomic_store(&c->committed[(uint64_t)w->id * c->per_producer + n], 2);
            klaw_mpmc_abort(tx, &f);
            atomic_fetch_add(&c->aborted, 1);
            n++;
        } else if (r < 5) { /* try_send, spinning on FULL */
            klaw_frame f;
            klaw_status st;
            while ((st = klaw_mpmc_try_claim(tx, sizeof(frame_hdr), &f)) == KLAW_FULL)
                sched_yield();
            if (st != KLAW_OK)
                abort();
            chaos_put(c, w->id, &f, n);
            atomic_store(&c->committed[(uint64_t)w->id * c->per_producer + n], 1);
            klaw_mpmc_commit(tx, &f, sizeof(frame_hdr));
            n++;
        } else {
            klaw_frame f;
            if (klaw_mpmc_claim(tx, sizeof(frame_hdr), (struct timespec[]){watchdog()}, &f) != KLAW_OK)
                abort();
            chaos_put(c, w->id, &f, n);
            atomic_store(&c->committed[(uint64_t)w->id * c->per_producer + n], 1);
            klaw_mpmc_commit(tx, &f, sizeof(frame_hdr));
            n++;
        }
    }
    klaw_mpmc_tx_close(tx);
    return NULL;
}

static void chaos_take(chaos *c, klaw_frame *f)
{
    frame_hdr h;
    memcpy(&h, f->data, sizeof h);
    if (f->len != sizeof h || h.producer >= MAXP || h.n >= c->per_producer || h.sum != (mix(h.producer) ^ h.n)) {
        atomic_fetch_add(&c->bad, 1);
        return;
    }
    atomic_fetch_add(&c->delivered[(uint64_t)h.producer * c->per_producer + h.n], 1);
}

static void *chaos_consumer(void *p)
{
    worker *w = p;
    chaos *c = (chaos *)w->s;
    klaw_mpmc_rx *rx = c->rx[w->id];
    uint64_t seed = 0xc2b2ae3d27d4eb4full * (uint64_t)(w->id + 7);
    klaw_frame held[3];
    int nheld = 0;
    for (;;) {
        uint64_t r = rng(&seed) % 4;
        klaw_status st;
        if (r == 0 && nheld == 0) {
            klaw_frame fr[4];
            size_t got;
            st = klaw_mpmc_view_batch(rx, fr, 4, &got, (struct timespec[]){watchdog()});
            if (st == KLAW_OK) {
                for (size_t i = 0; i < got; i++)
                    chaos_take(c, &fr[i]);
                klaw_mpmc_release_batch(rx, fr, got);
            }
        } else if (r == 1 && nheld < 3) {
            st = klaw_mpmc_try_view(rx, &held[nheld]);
            if (st == KLAW_OK)
                chaos_take(c, &held[nheld++]);
            else if (st == KLAW_EMPTY)
                st = KLAW_OK;
        } else if (nheld == 0) {
            /* block only with no views held: a receiver that parks while
             * holding slots could hold the whole (tiny) ring */
            klaw_frame f;
            st = klaw_mpmc_view(rx, (struct timespec[]){watchdog()}, &f);
            if (st == KLAW_OK) {
                chaos_take(c, &f);
                klaw_mpmc_release(rx, &f);
            }
        } else {
            klaw_frame f;
            st = klaw_mpmc_try_view(rx, &f);
            if (st == KLAW_OK) {
                chaos_take(c, &f);
                klaw_mpmc_release(rx, &f);
            } else if (st == KLAW_EMPTY) {
                st = KLAW_OK;
            }
        }
        /* release held views in a shuffled order now and then */
        if (nheld && (rng(&seed) % 3 == 0 || st != KLAW_OK)) {
            int k = (int)(rng(&seed) % (uint64_t)nheld);
            klaw_mpmc_release(rx, &held[k]);
            held[k] = held[--nheld];
        }
        if (st == KLAW_CLOSED && nheld == 0)
            break;
        if (st != KLAW_OK && st != KLAW_CLOSED) {
            atomic_fetch_add(&c->bad, 1);
            break;
        }
    }
    return NULL;
}

static void every_api_mixed_on_tiny_rings_delivers_each_commit_once(void **state)
{
    (void)state;
    const uint32_t caps[] = {2, 4, 8};
    for (size_t ci = 0; ci < 3; ci++) {
        for (int np = 1; np <= 3; np++) {
            int nc = 4 - np;
            chaos *c = calloc(1, sizeof *c);
            c->per_producer = stress_frames() / 20;
            size_t total = (size_t)np * c->per_producer;
            c->delivered = calloc(total, 1);
            c->committed = calloc(total, 1);
            klaw_mpmc_opts o = {.capacity = caps[ci], .max_frame = 64};
            assert_int_equal(klaw_mpmc_create(&o, &c->tx[0], &c->rx[0]), KLAW_OK);
            for (int i = 1; i < np; i++)
                assert_int_equal(klaw_mpmc_tx_clone(c->tx[0], &c->tx[i]), KLAW_OK);
            for (int i = 1; i < nc; i++)
                assert_int_equal(klaw_mpmc_rx_clone(c->rx[0], &c->rx[i]), KLAW_OK);
            pthread_t pt[MAXP], ct[MAXP];
            worker pw[MAXP], cw[MAXP];
            for (int i = 0; i < nc; i++) {
                cw[i] = (worker){(stress *)c, i};
                pthread_create(&ct[i], NULL, chaos_consumer, &cw[i]);
            }
            for (int i = 0; i < np; i++) {
                pw[i] = (worker){(stress *)c, i};
                pthread_create(&pt[i], NULL, chaos_producer, &pw[i]);
            }
            for (int i = 0; i < np; i++)
                pthread_join(pt[i], NULL);
            for (int i = 0; i < nc; i++)
                pthread_join(ct[i], NULL);
            assert_int_equal(atomic_load(&c->bad), 0);
            uint64_t aborted = 0;
            for (size_t i = 0; i < total; i++) {
                uint8_t want = atomic_load(&c->committed[i]) == 1 ? 1 : 0;
                aborted += atomic_load(&c->committed[i]) == 2;
                if (atomic_load(&c->delivered[i]) != want)
                    fail_msg("cap %u, %dP: frame %zu delivered %u times, committed %u", caps[ci], np, i,
                             atomic_load(&c->delivered[i]), atomic_load(&c->committed[i]));
            }
            klaw_mpmc_stats st;
            klaw_mpmc_rx_stats(c->rx[0], &st);
            assert_int_equal(st.aborted_claims, aborted);
            assert_int_equal(st.total_sent, total - aborted);
            assert_int_equal(st.total_received, total - aborted);
            for (int i = 0; i < np; i++)
                klaw_mpmc_tx_free(c->tx[i]);
            for (int i = 0; i < nc; i++)
                klaw_mpmc_rx_free(c->rx[i]);
            free(c->delivered);
            free(c->committed);
            free(c);
        }
    }
}

/* ---- across processes --------------------------------------------------- */

/* Producers and consumers in forked children of a named channel; the
 * delivery table lives in shared memory so the parent can check it. */
static void processes_deliver_exactly_once_in_fifo_per_producer(void **state)
{
    (void)state;
    const int combos[][2] = {{1, 1}, {1, 2}, {1, 4}, {2, 1}, {2, 2}, {2, 4}, {4, 1}, {4, 2}, {4, 4}};
    uint64_t total = stress_frames() / 3;
    for (size_t k = 0; k < sizeof combos / sizeof combos[0]; k++) {
        int np = combos[k][0], nc = combos[k][1];
        uint64_t per = total / (uint64_t)np;
        const char *name = uniq("xproc");
        klaw_mpmc_tx *tx;
        klaw_mpmc_rx *rx;
        create(64, MAXF, name, &tx, &rx);
        size_t shsize = sizeof(stress) + (size_t)np * per;
        stress *s = mmap(NULL, shsize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        assert_true(s != MAP_FAILED);
        s->per_producer = per;
        s->zero_copy = (int)(k & 1);
        s->delivered = (uint8_t *)(s + 1);
        pid_t kids[2 * MAXP];
        int nk = 0;
        for (int i = 0; i < nc + np; i++) {
            pid_t pid = fork();
            assert_true(pid >= 0);
            if (pid == 0) {
                worker w = {s, i < nc ? i : i - nc};
                if (i < nc) {
                    if (klaw_mpmc_open_rx(name, &s->rx[w.id]) != KLAW_OK)
                        _exit(2);
                    consumer(&w);
                } else {
                    if (klaw_mpmc_open_tx(name, &s->tx[w.id]) != KLAW_OK)
                        _exit(3);
                    producer(&w);
                }
                _exit(0);
            }
            kids[nk++] = pid;
        }
        /* wait until every child holds its handle, then let the
         * parent's own go, so closing depends on the children only */
        for (int tries = 0; tries < 5000; tries++) {
            klaw_mpmc_stats st;
            klaw_mpmc_tx_stats(tx, &st);
            if (st.senders >= (uint32_t)np + 1 && st.receivers >= (uint32_t)nc + 1)
                break;
            usleep(1000);
        }
        klaw_mpmc_tx_free(tx);
        klaw_mpmc_rx_free(rx);
        for (int i = 0; i < nk; i++) {
            int status;
            waitpid(kids[i], &status, 0);
            assert_true(WIFEXITED(status));
            assert_int_equal(WEXITSTATUS(status), 0);
        }
        for (int i = 0; i < nc; i++)
            assert_int_equal(s->bad[i], 0);
        for (size_t i = 0; i < (size_t)np * per; i++)
            if (s->delivered[i] != 1)
                fail_msg("combo %zu: frame %zu delivered %u times", k, i, s->delivered[i]);
        munmap(s, shsize);
        klaw_region_unlink(name);
    }
}

/* ---- KLAW_MPMC_SINGLE_PRODUCER / _CONSUMER --------------------------------- */

/* A single side takes slots by plain stores (I6 in mpmc.c): exactly once
 * and FIFO per producer for each single side, threads (copying and
 * zero-copy, batched) and processes. */
static void single_sides_deliver_exactly_once_in_fifo(void **state)
{
    (void)state;
    const unsigned flags[] = {KLAW_MPMC_SINGLE_PRODUCER, KLAW_MPMC_SINGLE_CONSUMER,
                              KLAW_MPMC_SINGLE_PRODUCER | KLAW_MPMC_SINGLE_CONSUMER};
    uint64_t total = stress_frames();
    for (size_t i = 0; i < 3; i++) {
        g_flags = flags[i];
        int np = (flags[i] & KLAW_MPMC_SINGLE_PRODUCER) ? 1 : 2;
        int nc = (flags[i] & KLAW_MPMC_SINGLE_CONSUMER) ? 1 : 2;
        for (int zc = 0; zc < 2; zc++)
            run_thread_stress(np, nc, total / (uint64_t)np, zc ? 64 : 4, zc);
    }
    g_flags = 0;

    /* processes: a channel created with no handles; each child opens its own */
    for (int zc = 0; zc < 2; zc++) {
        const char *name = uniq("single-xproc");
        uint64_t per = total / 3;
        klaw_mpmc_opts o = {.capacity = 16, .max_frame = MAXF, .name = name, .liveness_ns = 50000000,
                            .flags = KLAW_MPMC_SINGLE_PRODUCER | KLAW_MPMC_SINGLE_CONSUMER};
        assert_int_equal(klaw_mpmc_create(&o, NULL, NULL), KLAW_OK);
        size_t shsize = sizeof(stress) + per;
        stress *s = mmap(NULL, shsize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        assert_true(s != MAP_FAILED);
        s->per_producer = per;
        s->zero_copy = zc;
        s->delivered = (uint8_t *)(s + 1);
        pid_t kids[2];
        for (int i = 0; i < 2; i++) {
            kids[i] = fork();
            assert_true(kids[i] >= 0);
            if (kids[i] == 0) {
                worker w = {s, 0};
                if (i == 0) {
                    if (klaw_mpmc_open_rx(name, &s->rx[0]) != KLAW_OK)
                        _exit(2);
                    consumer(&w);
                } else {
                    if (klaw_mpmc_open_tx(name, &s->tx[0]) != KLAW_OK)
                        _exit(3);
                    producer(&w);
                }
                _exit(0);
            }
        }
        for (int i = 0; i < 2; i++) {
            int status;
            waitpid(kids[i], &status, 0);
            assert_true(WIFEXITED(status));
            assert_int_equal(WEXITSTATUS(status), 0);
        }
        assert_int_equal(s->bad[0], 0);
        for (size_t i = 0; i < per; i++)
            if (s->delivered[i] != 1)
                fail_msg("single sides, processes: frame %zu delivered %u times", i, s->delivered[i]);
        munmap(s, shsize);
        klaw_region_unlink(name);
    }
}

/* One handle per single side; the flags and the handle-less creation are
 * checked. */
static void single_side_is_one_handle_at_a_time(void **state)
{
    (void)state;
    klaw_mpmc_tx *tx, *tx2;
    klaw_mpmc_rx *rx, *rx2;
    klaw_mpmc_opts o = {.capacity = 4, .max_frame = 8, .flags = 4};
    assert_int_equal(klaw_mpmc_create(&o, &tx, &rx), KLAW_INVAL); /* unknown flag */
    o.flags = KLAW_MPMC_SINGLE_PRODUCER;
    assert_int_equal(klaw_mpmc_create(&o, NULL, NULL), KLAW_INVAL); /* anonymous, no handles */
    o.name = uniq("single-rules");
    assert_int_equal(klaw_mpmc_create(&o, &tx, NULL), KLAW_INVAL); /* only one side */
    assert_int_equal(klaw_mpmc_create(&o, &tx, &rx), KLAW_OK);
    assert_int_equal(klaw_mpmc_tx_clone(tx, &tx2), KLAW_FULL);
    assert_int_equal(klaw_mpmc_open_tx(name_buf, &tx2), KLAW_FULL);
    assert_int_equal(klaw_mpmc_rx_clone(rx, &rx2), KLAW_OK); /* consumers are not single */
    uint64_t v = 7, got;
    size_t len;
    assert_int_equal(klaw_mpmc_try_send(tx, &v, sizeof v), KLAW_OK);
    assert_int_equal(klaw_mpmc_try_recv(rx2, &got, sizeof got, &len), KLAW_OK);
    assert_int_equal(got, 7);
    klaw_mpmc_rx_free(rx2);
    klaw_mpmc_tx_free(tx);
    klaw_mpmc_rx_free(rx);
    klaw_region_unlink(name_buf);

    /* created with no handles: neither side is closed until it has come
     * and gone; then one of each */
    o.flags = KLAW_MPMC_SINGLE_PRODUCER | KLAW_MPMC_SINGLE_CONSUMER;
    assert_int_equal(klaw_mpmc_create(&o, NULL, NULL), KLAW_OK);
    assert_int_equal(klaw_mpmc_open_rx(name_buf, &rx), KLAW_OK);
    assert_int_equal(klaw_mpmc_try_recv(rx, &got, sizeof got, &len), KLAW_EMPTY);
    assert_int_equal(klaw_mpmc_open_rx(name_buf, &rx2), KLAW_FULL);
    assert_int_equal(klaw_mpmc_rx_clone(rx, &rx2), KLAW_FULL);
    assert_int_equal(klaw_mpmc_open_tx(name_buf, &tx), KLAW_OK);
    assert_int_equal(klaw_mpmc_open_tx(name_buf, &tx2), KLAW_FULL);
    /* around a 4-slot ring several times, single and batched */
    for (uint64_t round = 0; round < 5; round++) {
        klaw_frame fr[4];
        size_t n;
        assert_int_equal(klaw_mpmc_claim_batch(tx, 8, fr, 4, &n, NULL), KLAW_OK);
        assert_int_equal(n, 4);
        for (size_t i = 0; i < n; i++) {
            uint64_t x = round * 4 + i;
            memcpy(fr[i].data, &x, 8);
        }
        assert_int_equal(klaw_mpmc_commit_batch(tx, fr, n), KLAW_OK);
        assert_int_equal(klaw_mpmc_try_send(tx, &v, sizeof v), KLAW_FULL);
        klaw_frame f;
        assert_int_equal(klaw_mpmc_try_view(rx, &f), KLAW_OK);
        memcpy(&got, f.data, 8);
        assert_int_equal(got, round * 4);
        assert_int_equal(klaw_mpmc_view_batch(rx, fr, 4, &n, NULL), KLAW_OK);
        assert_int_equal(n, 3);
        for (size_t i = 0; i < n; i++) {
            memcpy(&got, fr[i].data, 8);
            assert_int_equal(got, round * 4 + 1 + i);
        }
        klaw_mpmc_release(rx, &f);
        klaw_mpmc_release_batch(rx, fr, n);
    }
    klaw_mpmc_tx_free(tx);
    assert_int_equal(klaw_mpmc_try_recv(rx, &got, sizeof got, &len), KLAW_CLOSED);
    klaw_mpmc_rx_free(rx);
    klaw_region_unlink(name_buf);
}

/* A single producer killed with a batch claimed by plain stores: a parked
 * receiver reaps it after the liveness timeout, the claims become skipped
 * positions (counted), what it committed arrives once, then CLOSED (it was
 * the only sender). A single consumer killed holding a batch of views: the
 * next open of that side reaps it first (a dead occupant does not keep the
 * side taken), its views are taken back (counted), and since it was the
 * only receiver the receivers' side is closed: sends say CLOSED. */
static void single_sides_killed_mid_batch_are_reaped(void **state)
{
    (void)state;
    klaw_mpmc_opts o = {.capacity = 8, .max_frame = 16, .name = uniq("single-killp"), .liveness_ns = 50000000,
                        .flags = KLAW_MPMC_SINGLE_PRODUCER | KLAW_MPMC_SINGLE_CONSUMER};
    assert_int_equal(klaw_mpmc_create(&o, NULL, NULL), KLAW_OK);
    klaw_mpmc_rx *rx;
    assert_int_equal(klaw_mpmc_open_rx(name_buf, &rx), KLAW_OK);
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) { /* sends 0..3, claims 3 more and dies */
        klaw_mpmc_tx *ctx;
        klaw_frame fr[3];
        size_t n;
        if (klaw_mpmc_open_tx(name_buf, &ctx) != KLAW_OK)
            _exit(1);
        for (uint8_t i = 0; i < 4; i++)
            if (klaw_mpmc_try_send(ctx, &i, 1) != KLAW_OK)
                _exit(1);
        if (klaw_mpmc_claim_batch(ctx, 1, fr, 3, &n, NULL) != KLAW_OK || n != 3 || write(pfd[1], "p", 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    char c;
    assert_int_equal(read(pfd[0], &c, 1), 1);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    struct timespec d = klaw_deadline_in_ms(10000);
    for (uint8_t i = 0;; i++) {
        uint8_t v;
        size_t len;
        klaw_status st = klaw_mpmc_recv(rx, &v, 1, &len, &d);
        if (i == 4) {
            assert_int_equal(st, KLAW_CLOSED);
            break;
        }
        assert_int_equal(st, KLAW_OK);
        assert_int_equal(v, i);
    }
    klaw_mpmc_stats ms;
    assert_int_equal(klaw_mpmc_rx_stats(rx, &ms), KLAW_OK);
    assert_int_equal(ms.aborted_claims, 3);
    assert_int_equal(ms.senders, 0);
    assert_true(ms.senders_closed);
    assert_int_equal(ms.total_received, 4);
    klaw_mpmc_rx_free(rx);
    klaw_region_unlink(name_buf);

    o.name = uniq("single-killc");
    assert_int_equal(klaw_mpmc_create(&o, NULL, NULL), KLAW_OK);
    klaw_mpmc_tx *tx;
    assert_int_equal(klaw_mpmc_open_tx(name_buf, &tx), KLAW_OK);
    for (uint8_t i = 0; i < 4; i++)
        assert_int_equal(klaw_mpmc_try_send(tx, &i, 1), KLAW_OK);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) { /* views 0 and 1 as a batch and dies holding them */
        klaw_mpmc_rx *crx;
        klaw_frame fr[2];
        size_t n;
        if (klaw_mpmc_open_rx(name_buf, &crx) != KLAW_OK || klaw_mpmc_view_batch(crx, fr, 2, &n, NULL) != KLAW_OK ||
            n != 2 || fr[0].data[0] != 0 || fr[1].data[0] != 1 || write(pfd[1], "c", 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    assert_int_equal(read(pfd[0], &c, 1), 1);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    assert_int_equal(klaw_mpmc_open_rx(name_buf, &rx), KLAW_CLOSED);
    assert_int_equal(klaw_mpmc_try_send(tx, &c, 1), KLAW_CLOSED);
    assert_int_equal(klaw_mpmc_tx_stats(tx, &ms), KLAW_OK);
    assert_int_equal(ms.redelivered, 2);
    assert_int_equal(ms.receivers, 0);
    assert_true(ms.receivers_closed);
    klaw_mpmc_tx_free(tx);
    klaw_region_unlink(name_buf);
    close(pfd[0]);
    close(pfd[1]);
}

/* ---- faults -------------------------------------------------------------- */

/* A child claims a slot and is killed before it commits; frames committed
 * after it by the parent still arrive, after the liveness timeout. */
static void producer_killed_between_claim_and_commit_does_not_wedge_the_ring(void **state)
{
    (void)state;
    const char *name = uniq("killp");
    klaw_mpmc_tx *tx;
    klaw_mpmc_rx *rx;
    create(8, 16, name, &tx, &rx);
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        klaw_mpmc_tx *ctx;
        klaw_frame f;
        if (klaw_mpmc_open_tx(name, &ctx) != KLAW_OK || klaw_mpmc_try_claim(ctx, 4, &f) != KLAW_OK)
            _exit(1);
        memcpy(f.data, "dead", 4);
        if (write(pfd[1], "c", 1) != 1)
            _exit(1);
        pause(); /* killed here, between claim and commit */
        _exit(0);
    }
    char c;
    assert_int_equal(read(pfd[0], &c, 1), 1);
    for (int i = 0; i < 3; i++)
        assert_int_equal(klaw_mpmc_try_send(tx, "live", 4), KLAW_OK);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    struct timespec d = klaw_deadline_in_ms(5000);
    for (int i = 0; i < 3; i++) {
        uint8_t buf[16];
        size_t len;
        assert_int_equal(klaw_mpmc_recv(rx, buf, sizeof buf, &len, &d), KLAW_OK);
        assert_memory_equal(buf, "live", 4);
    }
    klaw_mpmc_stats s;
    klaw_mpmc_rx_stats(rx, &s);
    assert_int_equal(s.aborted_claims, 1);
    assert_int_equal(s.senders, 1);
    assert_true(s.reaped_handles >= 1);
    assert_int_equal(s.total_received, 3);
    klaw_mpmc_tx_free(tx);
    klaw_mpmc_rx_free(rx);
    klaw_region_unlink(name);
    close(pfd[0]);
    close(pfd[1]);
}

/* A child views a frame and is killed holding it: the frame is offered
 * again, and nothing committed is lost. */
static void consumer_killed_holding_a_view_loses_nothing(void **state)
{
    (void)state;
    const char *name = uniq("killc");
    klaw_mpmc_tx *tx;
    klaw_mpmc_rx *rx;
    create(4, 16, name, &tx, &rx);
    for (uint8_t i = 0; i < 4; i++)
        assert_int_equal(klaw_mpmc_try_send(tx, &i, 1), KLAW_OK);
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        klaw_mpmc_rx *crx;
        klaw_frame f;
        if (klaw_mpmc_open_rx(name, &crx) != KLAW_OK || klaw_mpmc_try_view(crx, &f) != KLAW_OK)
            _exit(1);
        if (write(pfd[1], f.data, 1) != 1)
            _exit(1);
        pause(); /* killed while holding the view */
        _exit(0);
    }
    uint8_t held;
    assert_int_equal(read(pfd[0], &held, 1), 1);
    assert_int_equal(held, 0);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    /* frames 1..3 come at once; frame 0 comes back once the receiver, waiting
     * for more, has waited the liveness timeout and found its holder dead */
    struct timespec d = klaw_deadline_in_ms(5000);
    int got[5] = {0};
    for (int i = 0; i < 4; i++) {
        uint8_t v;
        size_t len;
        assert_int_equal(klaw_mpmc_recv(rx, &v, 1, &len, &d), KLAW_OK);
        assert_true(v < 4);
        got[v]++;
    }
    /* and its slot is free again */
    for (uint8_t i = 4; i < 8; i++)
        assert_int_equal(klaw_mpmc_try_send(tx, &i, 1), KLAW_OK);
    for (int i = 0; i < 4; i++) {
        uint8_t v;
        size_t len;
        assert_int_equal(klaw_mpmc_try_recv(rx, &v, 1, &len), KLAW_OK);
        assert_int_equal(v, 4 + i);
    }
    got[4] = 1;
    for (int i = 0; i <= 4; i++)
        assert_int_equal(got[i], 1);
    klaw_mpmc_stats s;
    klaw_mpmc_rx_stats(rx, &s);
    assert_int_equal(s.redelivered, 1);
    assert_int_equal(s.receivers, 1);
    klaw_mpmc_tx_free(tx);
    klaw_mpmc_rx_free(rx);
    klaw_region_unlink(name);
    close(pfd[0]);
    close(pfd[1]);
}

/* A process that dies with open handles is reaped: the last receiver's
 * death makes sends CLOSED instead of waiting forever. */
static void dead_process_handles_are_reaped(void **state)
{
    (void)state;
    const char *name = uniq("reap");
    klaw_mpmc_tx *tx;
    klaw_mpmc_rx *rx;
    create(2, 8, name, &tx, &rx);
    pid_t pid = fork();
    if (pid == 0) {
        klaw_mpmc_rx *crx;
        if (klaw_mpmc_open_rx(name, &crx) != KLAW_OK)
            _exit(1);
        _exit(0); /* dies holding its handle */
    }
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    klaw_mpmc_rx_free(rx);
    assert_int_equal(klaw_mpmc_try_send(tx, "a", 1), KLAW_OK);
    assert_int_equal(klaw_mpmc_try_send(tx, "b", 1), KLAW_OK);
    struct timespec d = klaw_deadline_in_ms(5000);
    assert_int_equal(klaw_mpmc_send(tx, "c", 1, &d), KLAW_CLOSED);
    klaw_mpmc_stats s;
    klaw_mpmc_tx_stats(tx, &s);
    assert_int_equal(s.receivers, 0);
    assert_true(s.receivers_closed);
    klaw_mpmc_tx_free(tx);
    klaw_region_unlink(name);
}

typedef struct killer_arg {
    pid_t pid;
    int delay_ms;
} killer_arg;

static void *kill_later(void *p)
{
    killer_arg *k = p;
    usleep((useconds_t)k->delay_ms * 1000);
    kill(k->pid, SIGKILL);
    return NULL;
}

typedef struct viewer_arg {
    klaw_mpmc_rx *rx;
    klaw_status st;
    int64_t waited_ms;
} viewer_arg;

static void *view_forever(void *p)
{
    viewer_arg *a = p;
    int64_t t0 = mono_ms();
    klaw_frame f;
    a->st = klaw_mpmc_view(a->rx, NULL, &f);
    a->waited_ms = mono_ms() - t0;
    return NULL;
}

/* A receiver parked with no deadline keeps checking liveness however long
 * it waits (ck_ec hands the predicate an infinite deadline after 1 s of
 * backoff; the liveness wake-up must survive that). The only sender dies
 * 1.5 s into the wait, holding a claim: the receiver sees CLOSED. */
static void waiter_keeps_checking_liveness_after_a_long_wait(void **state)
{
    (void)state;
    const char *name = uniq("longwait");
    klaw_mpmc_tx *tx;
    klaw_mpmc_rx *rx;
    create(4, 8, name, &tx, &rx);
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        klaw_mpmc_tx *ctx;
        klaw_frame f;
        if (klaw_mpmc_open_tx(name, &ctx) != KLAW_OK || klaw_mpmc_try_claim(ctx, 1, &f) != KLAW_OK)
            _exit(1);
        if (write(pfd[1], "c", 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    char ch;
    assert_int_equal(read(pfd[0], &ch, 1), 1);
    klaw_mpmc_tx_free(tx); /* the child is the only sender now */
    killer_arg k = {pid, 1500};
    pthread_t t;
    pthread_create(&t, NULL, kill_later, &k);
    /* the view runs in a thread so that a receiver that never wakes fails
     * the test (after 10 s) instead of hanging it */
    viewer_arg va = {rx, KLAW_OK, 0};
    pthread_t vt;
    pthread_create(&vt, NULL, view_forever, &va);
    struct timespec limit;
    clock_gettime(CLOCK_REALTIME, &limit);
    limit.tv_sec += 10;
    if (pthread_timedjoin_np(vt, NULL, &limit) != 0)
        fail_msg("a receiver parked with no deadline never saw its only sender die");
    assert_int_equal(va.st, KLAW_CLOSED);
    assert_true(va.waited_ms >= 1400);
    pthread_join(t, NULL);
    int status;
    waitpid(pid, &status, 0);
    klaw_mpmc_stats st;
    klaw_mpmc_rx_stats(rx, &st);
    assert_int_equal(st.aborted_claims, 1);
    klaw_mpmc_rx_free(rx);
    klaw_region_unlink(name);
    close(pfd[0]);
    close(pfd[1]);
}

static void empty_frames_travel_and_a_lone_handle_table_is_refused(void **state)
{
    (void)state;
    klaw_mpmc_tx *tx;
    klaw_mpmc_rx *rx;
    klaw_mpmc_opts o = {.capacity = 4, .max_frame = 8, .max_handles = 1};
    assert_int_equal(klaw_mpmc_create(&o, &tx, &rx), KLAW_INVAL);
    o.max_handles = 2;
    assert_int_equal(klaw_mpmc_create(&o, &tx, &rx), KLAW_OK);
    klaw_mpmc_stats st;
    klaw_mpmc_rx_stats(rx, &st);
    assert_int_equal(st.senders, 1);
    assert_int_equal(st.receivers, 1);
    klaw_mpmc_tx *tx2;
    assert_int_equal(klaw_mpmc_tx_clone(tx, &tx2), KLAW_FULL); /* table full */
    assert_int_equal(klaw_mpmc_try_send(tx, "", 0), KLAW_OK);
    uint8_t b;
    size_t len = 99;
    assert_int_equal(klaw_mpmc_try_recv(rx, &b, 1, &len), KLAW_OK);
    assert_int_equal(len, 0);
    klaw_mpmc_tx_free(tx);
    klaw_mpmc_rx_free(rx);
}

/* Closing a handle gives up what it holds: its claim becomes a skipped
 * record, its view goes to another receiver. Before, such a slot stayed
 * owned by a handle that no longer existed and stopped the ring there. */
static void closing_a_handle_gives_up_what_it_holds(void **state)
{
    (void)state;
    klaw_mpmc_tx *tx, *tx2;
    klaw_mpmc_rx *rx, *rx2;
    create(8, 16, NULL, &tx, &rx);
    assert_int_equal(klaw_mpmc_tx_clone(tx, &tx2), KLAW_OK);
    assert_int_equal(klaw_mpmc_rx_clone(rx, &rx2), KLAW_OK);
    assert_int_equal(klaw_mpmc_try_send(tx, "a", 1), KLAW_OK);
    klaw_frame held;
    assert_int_equal(klaw_mpmc_try_claim(tx2, 1, &held), KLAW_OK);
    assert_int_equal(klaw_mpmc_try_send(tx, "b", 1), KLAW_OK);
    klaw_frame v;
    assert_int_equal(klaw_mpmc_try_view(rx, &v), KLAW_OK);
    assert_memory_equal(v.data, "a", 1);
    klaw_mpmc_tx_free(tx2); /* with its claim */
    klaw_mpmc_rx_free(rx);  /* with its view of "a" */
    char got[4] = {0};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(klaw_mpmc_try_view(rx2, &v), KLAW_OK);
        assert_int_equal(v.len, 1);
        got[i] = (char)v.data[0];
        klaw_mpmc_release(rx2, &v);
    }
    assert_int_equal(klaw_mpmc_try_view(rx2, &v), KLAW_EMPTY);
    assert_string_equal(got, "ab");
    klaw_mpmc_stats st;
    assert_int_equal(klaw_mpmc_rx_stats(rx2, &st), KLAW_OK);
    assert_int_equal(st.aborted_claims, 1);
    assert_int_equal(st.redelivered, 1);
    /* the ring goes on through the slots they held, lap after lap */
    for (int i = 0; i < 20; i++) {
        assert_int_equal(klaw_mpmc_try_send(tx, "c", 1), KLAW_OK);
        assert_int_equal(klaw_mpmc_try_view(rx2, &v), KLAW_OK);
        klaw_mpmc_release(rx2, &v);
    }
    klaw_mpmc_tx_free(tx);
    klaw_mpmc_rx_free(rx2);
}

/* ---- hostile rings -------------------------------------------------------- */

static void hostile_ring_config_is_refused(void **state)
{
    (void)state;
    const char *name = uniq("hostile");
    klaw_mpmc_tx *tx;
    klaw_mpmc_rx *rx;
    create(8, 16, name, &tx, &rx);
    uint8_t *base = NULL;
    klaw_region *r;
    assert_int_equal(klaw_region_open(name, KLAW_KIND_MPMC, 0, &r), KLAW_OK);
    base = klaw_region_base(r);
    uint32_t *cfg = (uint32_t *)(base + klaw_region_hdr(r)->body_off);
    /* cfg: magic, capacity, shift, max_frame, slot_size, pad; u64
     * tables_off, slots_off, pad; then u32 flags (12: an unknown one) */
    const struct {
        int field;
        uint32_t value;
    } bad[] = {{0, 0}, {1, 3}, {1, 1u << 31}, {2, 31}, {3, 1u << 30}, {4, 17}, {12, 0x10}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint32_t save = cfg[bad[i].field];
        cfg[bad[i].field] = bad[i].value;
        klaw_mpmc_tx *o = NULL;
        assert_int_equal(klaw_mpmc_open_tx(name, &o), KLAW_CORRUPT);
        assert_null(o);
        cfg[bad[i].field] = save;
    }
    uint64_t *offs = (uint64_t *)(cfg + 6); /* tables_off, slots_off */
    uint64_t save = offs[1];
    offs[1] = klaw_region_size(r) - 64;
    klaw_mpmc_rx *o = NULL;
    assert_int_equal(klaw_mpmc_open_rx(name, &o), KLAW_CORRUPT);
    offs[1] = save;
    /* the lifecycle block (6 lines into the control block): its config,
     * and its tables over the control block (the lock word) or over each
     * other or the slots (a handle-table write would clobber the lock;
     * found by fuzz_region with the old robust mutex) */
    uint64_t body = klaw_region_hdr(r)->body_off;
    uint32_t *life = (uint32_t *)(base + body + 6 * 64);
    uint64_t *lofs = (uint64_t *)(life + 4); /* handles_off, peers_off, liveness_ns */
    const struct {
        int field;
        uint32_t value;
    } lbad[] = {{0, 0}, {1, 0}, {1, 100000}, {2, 0}, {2, 9000}, {3, 1}};
    for (size_t i = 0; i < sizeof lbad / sizeof lbad[0]; i++) {
        uint32_t sv = life[lbad[i].field];
        life[lbad[i].field] = lbad[i].value;
        assert_int_equal(klaw_mpmc_open_rx(name, &o), KLAW_CORRUPT);
        assert_null(o);
        life[lbad[i].field] = sv;
    }
    uint64_t hoff = lofs[0], poff = lofs[1];
    const uint64_t over[][2] = {{body, poff}, {body + 128, poff}, {hoff, hoff}, {hoff, body + 64},
                                {save, poff}, {hoff, save},      {klaw_region_size(r) - 64, poff}};
    for (size_t i = 0; i < sizeof over / sizeof over[0]; i++) {
        lofs[0] = over[i][0];
        lofs[1] = over[i][1];
        assert_int_equal(klaw_mpmc_open_rx(name, &o), KLAW_CORRUPT);
        assert_null(o);
    }
    lofs[0] = hoff;
    lofs[1] = poff;
    uint64_t slive = lofs[2];
    lofs[2] = 0;
    assert_int_equal(klaw_mpmc_open_rx(name, &o), KLAW_CORRUPT);
    lofs[2] = slive;
    /* an interleaved ring's slot_size made 16 turns it into a split one
     * whose data would lie over its own headers */
    uint32_t save_ssz = cfg[4];
    cfg[4] = 16;
    assert_int_equal(klaw_mpmc_open_rx(name, &o), KLAW_CORRUPT);
    cfg[4] = save_ssz;
    /* interleaved: the data must sit right after each slot's header */
    uint64_t *doffp = (uint64_t *)(cfg + 14);
    *doffp += 64;
    assert_int_equal(klaw_mpmc_open_rx(name, &o), KLAW_CORRUPT);
    *doffp -= 64;
    assert_int_equal(klaw_mpmc_open_rx(name, &o), KLAW_OK);
    klaw_mpmc_rx_free(o);
    klaw_region_close(r);
    klaw_mpmc_tx_free(tx);
    klaw_mpmc_rx_free(rx);
    klaw_region_unlink(name);
}

/* A one-to-one ring keeps its frames' data in an array of its own (cfg
 * words 13: data_stride, 14-15: data_off): an array outside the region,
 * over the control block, the handle table or the headers, misaligned, or
 * with a stride too small for max_frame is refused. */
static void hostile_split_ring_data_is_refused(void **state)
{
    (void)state;
    const char *name = uniq("hostile-split");
    klaw_mpmc_opts opts = {.capacity = 8, .max_frame = 40, .name = name,
                           .flags = KLAW_MPMC_SINGLE_PRODUCER | KLAW_MPMC_SINGLE_CONSUMER};
    assert_int_equal(klaw_mpmc_create(&opts, NULL, NULL), KLAW_OK);
    klaw_region *r;
    assert_int_equal(klaw_region_open(name, KLAW_KIND_MPMC, 0, &r), KLAW_OK);
    uint8_t *base = klaw_region_base(r);
    uint64_t body = klaw_region_hdr(r)->body_off;
    uint32_t *cfg = (uint32_t *)(base + body);
    uint64_t *offs = (uint64_t *)(cfg + 6); /* tables_off (= the handle table), slots_off */
    uint64_t *doffp = (uint64_t *)(cfg + 14);
    assert_int_equal(cfg[4], 16);  /* bare headers */
    assert_int_equal(cfg[13], 48); /* 40 rounded up to 16 */
    const uint64_t doff = *doffp;
    const uint64_t bad_off[] = {klaw_region_size(r) - 64, body, offs[0], offs[1], doff + 16, UINT64_MAX - 63};
    klaw_mpmc_rx *o = NULL;
    for (size_t i = 0; i < sizeof bad_off / sizeof bad_off[0]; i++) {
        *doffp = bad_off[i];
        assert_int_equal(klaw_mpmc_open_rx(name, &o), KLAW_CORRUPT);
        assert_null(o);
    }
    *doffp = doff;
    const uint32_t bad_stride[] = {32, 56, 0, 1u << 31};
    for (size_t i = 0; i < sizeof bad_stride / sizeof bad_stride[0]; i++) {
        cfg[13] = bad_stride[i];
        assert_int_equal(klaw_mpmc_open_rx(name, &o), KLAW_CORRUPT);
        assert_null(o);
    }
    cfg[13] = 48;
    assert_int_equal(klaw_mpmc_open_rx(name, &o), KLAW_OK);
    klaw_mpmc_tx *t = NULL;
    assert_int_equal(klaw_mpmc_open_tx(name, &t), KLAW_OK);
    /* and the frames land in the data array (seen through our own
     * mapping of the same object), one stride apart */
    klaw_frame f;
    assert_int_equal(klaw_mpmc_try_claim(t, 40, &f), KLAW_OK);
    memset(f.data, 0x5a, 40);
    assert_int_equal(klaw_mpmc_commit(t, &f, 40), KLAW_OK);
    assert_int_equal(klaw_mpmc_try_claim(t, 40, &f), KLAW_OK);
    memset(f.data, 0xa5, 40);
    klaw_mpmc_abort(t, &f);
    for (size_t i = 0; i < 96; i++)
        assert_int_equal(base[doff + i], i < 40 ? 0x5a : i < 48 ? 0 : i < 88 ? 0xa5 : 0);
    klaw_frame v;
    assert_int_equal(klaw_mpmc_try_view(o, &v), KLAW_OK);
    assert_int_equal(v.len, 40);
    assert_int_equal(v.data[0], 0x5a);
    assert_int_equal(v.data[39], 0x5a);
    klaw_mpmc_release(o, &v);
    assert_int_equal(klaw_mpmc_try_view(o, &v), KLAW_EMPTY);
    klaw_mpmc_tx_free(t);
    klaw_mpmc_rx_free(o);
    klaw_region_close(r);
    klaw_region_unlink(name);
}

/* The publish protocol this run uses (channels/wait.h): with the test
 * hook KLAW_NO_MEMBARRIER set ('mpmc-seqcst') committers must use seq_cst
 * stores; without it, and where membarrier registers, the light ones. */
extern _Atomic int klaw__light_publish;
static void publish_protocol_follows_the_test_hook(void **state)
{
    (void)state;
    klaw_mpmc_opts o = {.capacity = 8, .max_frame = 8};
    klaw_mpmc_tx *tx;
    klaw_mpmc_rx *rx;
    assert_int_equal(klaw_mpmc_create(&o, &tx, &rx), KLAW_OK);
    const char *off = getenv("KLAW_NO_MEMBARRIER");
    if (off && *off && *off != '0')
        assert_int_equal(atomic_load(&klaw__light_publish), 0);
    else
        fprintf(stderr, "publish protocol: %s\n",
                atomic_load(&klaw__light_publish) ? "release + membarrier" : "seq_cst (no membarrier here)");
    klaw_mpmc_tx_free(tx);
    klaw_mpmc_rx_free(rx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(publish_protocol_follows_the_test_hook),
        cmocka_unit_test(frames_arrive_in_order_with_increasing_seq),
        cmocka_unit_test(full_ring_says_full_and_frees_on_release),
        cmocka_unit_test(capacity_rounds_up_and_bad_options_are_refused),
        cmocka_unit_test(oversized_frames_are_refused),
        cmocka_unit_test(zero_copy_claim_commit_and_out_of_order_release),
        cmocka_unit_test(aborted_claims_are_skipped_and_counted),
        cmocka_unit_test(batches_claim_and_view_many_at_once),
        cmocka_unit_test(receivers_drain_then_see_closed_after_the_last_sender),
        cmocka_unit_test(sends_fail_closed_once_every_receiver_is_gone),
        cmocka_unit_test(parked_callers_wake_on_close),
        cmocka_unit_test(deadlines_time_out),
        cmocka_unit_test(threads_deliver_exactly_once_in_fifo_per_producer),
        cmocka_unit_test(every_api_mixed_on_tiny_rings_delivers_each_commit_once),
        cmocka_unit_test(processes_deliver_exactly_once_in_fifo_per_producer),
        cmocka_unit_test(single_sides_deliver_exactly_once_in_fifo),
        cmocka_unit_test(single_side_is_one_handle_at_a_time),
        cmocka_unit_test(single_sides_killed_mid_batch_are_reaped),
        cmocka_unit_test(producer_killed_between_claim_and_commit_does_not_wedge_the_ring),
        cmocka_unit_test(consumer_killed_holding_a_view_loses_nothing),
        cmocka_unit_test(dead_process_handles_are_reaped),
        cmocka_unit_test(waiter_keeps_checking_liveness_after_a_long_wait),
        cmocka_unit_test(empty_frames_travel_and_a_lone_handle_table_is_refused),
        cmocka_unit_test(closing_a_handle_gives_up_what_it_holds),
        cmocka_unit_test(hostile_ring_config_is_refused),
        cmocka_unit_test(hostile_split_ring_data_is_refused),
    };
    return cmocka_run_group_tests_name("mpmc", tests, NULL, NULL);
}
