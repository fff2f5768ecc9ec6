/*
 * test_nats.c - libklaw-nats against real nats-server processes (on
 * 127.0.0.1, a free port each, stopped by pid): round trips through the
 * server for broadcast and mpmc, frames checked byte for byte and in order;
 * the headers as a raw nats.c subscriber reads them, and Klaw-Origin in
 * raw nats.c messages read as nats.c itself reads it (the bridge writes
 * and scans header blocks itself); an mpmc shared by two "hosts" in one
 * queue group (each frame exactly once, at one of them); two bridges going
 * both ways on one subject (no loop: each frame once on each side); a
 * server killed mid-stream and restarted (core NATS: the loss is counted
 * and the bridge goes on); a
 * three-server cluster with the bridges' server killed (they fail over); a
 * frame over the server's max_payload (counted, not a crash); a channel
 * that closes (the bridge finishes); bad options.
 *
 * nats-server must be installed (scripts/setup.sh lists it): without it
 * this test fails, loudly, rather than skipping.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <nats/nats.h>

#include "klaw/klaw.h"
#include "klaw/nats.h"

#include "nats_test_util.h"

/* Waits until the bridges' subscriptions reached the server: a probe on
 * the subject shows up in the channel's reader. Core NATS sends nothing to
 * a subscription the server does not know yet. */
static void settle(void) { sleep_ms(300); }


#define N_FRAMES 20000
#define MAXF 200

/* Two broadcast channels, "host a" (written by the test) and "host b" (read
 * by the test), with a bridge out of a and one into b on one subject. */
typedef struct hosts {
    const char *a, *b;
    klaw_bcast_tx *ta, *tb;
    klaw_bcast_rx *rb;
    klaw_nats_bridge *out, *in;
} hosts;

static void hosts_open(hosts *h, const char *servers, const char *subject, int policy, uint32_t cap_a,
                       uint32_t cap_b)
{
    h->a = uniq(0, "ha");
    h->b = uniq(1, "hb");
    klaw_bcast_opts oa = {.capacity = cap_a, .max_frame = MAXF, .policy = policy, .name = h->a};
    klaw_bcast_opts ob = {.capacity = cap_b, .max_frame = MAXF, .policy = policy, .name = h->b};
    assert_int_equal(klaw_bcast_create(&oa, &h->ta), KLAW_OK);
    assert_int_equal(klaw_bcast_create(&ob, &h->tb), KLAW_OK);
    assert_int_equal(klaw_bcast_subscribe(h->tb, KLAW_BCAST_FROM_TAIL, "test", &h->rb), KLAW_OK);
    h->out = bridge(servers, h->a, subject, KLAW_NATS_OUT, "host-a");
    h->in = bridge(servers, h->b, subject, KLAW_NATS_IN, "host-b");
    settle();
}

static void hosts_close(hosts *h)
{
    klaw_nats_bridge_stop(h->out);
    klaw_nats_bridge_stop(h->in);
    klaw_bcast_rx_free(h->rb);
    klaw_bcast_tx_free(h->ta);
    klaw_bcast_tx_free(h->tb);
    klaw_region_unlink(h->a);
    klaw_region_unlink(h->b);
}

/* Writes frames [from, to) into a: blocking sends, or (try) sends that
 * may be dropped, paced a little. */
static void write_frames(klaw_bcast_tx *tx, uint64_t from, uint64_t to, int try)
{
    uint8_t buf[MAXF];
    for (uint64_t i = from; i < to; i++) {
        size_t n = frame_of(i, buf, MAXF);
        if (try) {
            klaw_bcast_try_send(tx, buf, n);
            if (i % 64 == 0)
                sleep_ms(1);
        } else {
            struct timespec d = klaw_deadline_in_ms(5000);
            assert_int_equal(klaw_bcast_send(tx, buf, n, &d), KLAW_OK);
        }
    }
}

/* Reads b until want frames numbered >= from arrived (within ms), every
 * frame intact and in increasing order, never twice; returns how many
 * frames arrived in all. */
static uint64_t read_from(klaw_bcast_rx *rb, uint64_t from, uint64_t want, int ms)
{
    uint64_t got = 0, got_after = 0, last = 0;
    int have_last = 0;
    int64_t t0 = now_ms();
    while (got_after < want && now_ms() - t0 < ms) {
        klaw_frame f;
        uint64_t lag = 0;
        struct timespec d = klaw_deadline_in_ms(100);
        klaw_status st = klaw_bcast_view(rb, &d, &f, &lag);
        if (st == KLAW_TIMEOUT)
            continue;
        assert_int_equal(st, KLAW_OK);
        uint64_t k = check_frame(f.data, f.len, MAXF);
        assert_int_equal(klaw_bcast_release(rb, &f), KLAW_OK);
        if (have_last)
            assert_true(k > last);
        last = k;
        have_last = 1;
        got++;
        if (k >= from)
            got_after++;
    }
    assert_int_equal(got_after, want);
    return got;
}

/* Waits until both bridges reconnected after a server went. */
static void wait_reconnected(hosts *h, int ms)
{
    klaw_nats_stats so, si;
    int64_t t0 = now_ms();
    do {
        sleep_ms(50);
        klaw_nats_bridge_stats(h->out, &so);
        klaw_nats_bridge_stats(h->in, &si);
    } while ((so.reconnects == 0 || si.reconnects == 0 || !so.connected || !si.connected) && now_ms() - t0 < ms);
    assert_true(so.reconnects >= 1 && si.reconnects >= 1);
    assert_true(so.connected && si.connected);
    sleep_ms(500); /* the inbound interest reaches the servers again */
}

/* ---- broadcast round trip ----------------------------------------------------------- */

static void broadcast_round_trip_through_the_server(void **state)
{
    (void)state;
    server s;
    server_start(&s, 0, NULL);
    char u[64];
    url(&s, u, sizeof u);
    const char *a = uniq(0, "a"), *b = uniq(1, "b");
    klaw_bcast_opts oa = {.capacity = 4096, .max_frame = MAXF, .policy = KLAW_POLICY_BLOCK, .name = a};
    klaw_bcast_opts ob = {.capacity = 4096, .max_frame = MAXF, .policy = KLAW_POLICY_BLOCK, .name = b};
    klaw_bcast_tx *ta, *tb;
    assert_int_equal(klaw_bcast_create(&oa, &ta), KLAW_OK);
    assert_int_equal(klaw_bcast_create(&ob, &tb), KLAW_OK);
    klaw_bcast_rx *rb;
    assert_int_equal(klaw_bcast_subscribe(tb, KLAW_BCAST_FROM_TAIL, "test", &rb), KLAW_OK);
    klaw_nats_bridge *out = bridge(u, a, "t.bcast", KLAW_NATS_OUT, "host-a");
    klaw_nats_bridge *in = bridge(u, b, "t.bcast", KLAW_NATS_IN, "host-b");
    settle();

    /* the outbound bridge is a registered reader of a, named for its subject */
    klaw_reader_snapshot *snap = NULL;
    assert_int_equal(klaw_bcast_tx_readers(ta, &snap), KLAW_OK);
    assert_non_null(klaw_reader_snapshot_find(snap, "nats:t.bcast"));
    klaw_reader_snapshot_free(snap);

    uint8_t buf[MAXF];
    uint64_t next = 0;
    int64_t t0 = now_ms();
    for (uint64_t i = 0; i < N_FRAMES; i++) {
        size_t n = frame_of(i, buf, MAXF);
        struct timespec d = klaw_deadline_in_ms(5000);
        assert_int_equal(klaw_bcast_send(ta, buf, n, &d), KLAW_OK);
        /* read along (the ring of b must not fill: its reader is us) */
        klaw_frame f;
        uint64_t lag;
        while (klaw_bcast_try_view(rb, &f, &lag) == KLAW_OK) {
            assert_int_equal(check_frame(f.data, f.len, MAXF), next);
            next++;
            assert_int_equal(klaw_bcast_release(rb, &f), KLAW_OK);
        }
    }
    while (next < N_FRAMES && now_ms() - t0 < 30000) {
        klaw_frame f;
        uint64_t lag = 0;
        struct timespec d = klaw_deadline_in_ms(200);
        klaw_status st = klaw_bcast_view(rb, &d, &f, &lag);
        if (st == KLAW_TIMEOUT)
            continue;
        assert_int_equal(st, KLAW_OK);
        assert_int_equal(check_frame(f.data, f.len, MAXF), next);
        next++;
        assert_int_equal(klaw_bcast_release(rb, &f), KLAW_OK);
    }
    assert_int_equal(next, N_FRAMES);
    klaw_nats_stats so, si;
    klaw_nats_bridge_stats(out, &so);
    klaw_nats_bridge_stats(in, &si);
    assert_int_equal(so.out_frames, N_FRAMES);
    assert_int_equal(so.out_dropped + so.out_lagged + so.out_too_big, 0);
    assert_int_equal(si.in_frames, N_FRAMES);
    assert_int_equal(si.in_dropped + si.in_too_big + si.in_own, 0);
    assert_int_equal(so.connected, 1);

    /* the channel closes: the outbound bridge finishes by itself */
    klaw_bcast_tx_free(ta);
    int64_t t1 = now_ms();
    while (!klaw_nats_bridge_done(out) && now_ms() - t1 < 3000)
        sleep_ms(10);
    assert_true(klaw_nats_bridge_done(out));
    klaw_nats_bridge_stop(out);
    klaw_nats_bridge_stop(in);
    klaw_bcast_rx_free(rb);
    klaw_bcast_tx_free(tb);
    klaw_region_unlink(a);
    klaw_region_unlink(b);
    server_stop(&s);
}

/* ---- headers: what goes out, what is taken for our own ----------------------------------------- */

/* The bridge writes its header block itself and reads Klaw-Origin out of
 * the received block without nats.c's lift: a raw nats.c subscriber reads
 * each header as sent, and messages from a raw nats.c publisher are taken
 * for our own exactly when natsMsgHeader_Get would say Klaw-Origin is ours
 * (the first value, trimmed, the key as written; a block too long for the
 * scan is read by nats.c). */
static void headers_out_as_sent_and_our_origin_as_nats_c_reads_it(void **state)
{
    (void)state;
    server s;
    server_start(&s, 0, NULL);
    char u[64];
    url(&s, u, sizeof u);
    const char *a = uniq(0, "hdr-a"), *b = uniq(1, "hdr-b");
    klaw_bcast_opts oa = {.capacity = 64, .max_frame = MAXF, .policy = KLAW_POLICY_BLOCK, .name = a};
    klaw_bcast_opts ob = {.capacity = 64, .max_frame = MAXF, .policy = KLAW_POLICY_BLOCK, .name = b};
    klaw_bcast_tx *ta, *tb;
    assert_int_equal(klaw_bcast_create(&oa, &ta), KLAW_OK);
    assert_int_equal(klaw_bcast_create(&ob, &tb), KLAW_OK);
    klaw_bcast_rx *rb;
    assert_int_equal(klaw_bcast_subscribe(tb, KLAW_BCAST_FROM_TAIL, "test", &rb), KLAW_OK);
    natsConnection *nc = NULL;
    natsSubscription *sub = NULL;
    assert_int_equal(natsConnection_ConnectTo(&nc, u), NATS_OK);
    assert_int_equal(natsConnection_SubscribeSync(&sub, nc, "t.hdr.out"), NATS_OK);
    assert_int_equal(natsConnection_Flush(nc), NATS_OK);
    klaw_nats_bridge *out = bridge(u, a, "t.hdr.out", KLAW_NATS_OUT, "host-a");
    klaw_nats_bridge *in = bridge(u, b, "t.hdr.in", KLAW_NATS_IN, "host-b");
    settle();

    /* out: each frame's seq in Klaw-Seq, the origin and the channel */
    uint64_t seqs[3];
    for (int i = 0; i < 3; i++) {
        klaw_frame f;
        struct timespec d = klaw_deadline_in_ms(5000);
        assert_int_equal(klaw_bcast_claim(ta, 8, &d, &f), KLAW_OK);
        memset(f.data, 'a' + i, 8);
        seqs[i] = f.seq;
        assert_int_equal(klaw_bcast_commit(ta, &f, 8), KLAW_OK);
    }
    for (int i = 0; i < 3; i++) {
        natsMsg *m = NULL;
        assert_int_equal(natsSubscription_NextMsg(&m, sub, 5000), NATS_OK);
        assert_int_equal(natsMsg_GetDataLength(m), 8);
        assert_int_equal(natsMsg_GetData(m)[7], 'a' + i);
        const char *v = NULL, **keys = NULL;
        int nkeys = 0;
        char want[24];
        snprintf(want, sizeof want, "%llu", (unsigned long long)seqs[i]);
        assert_int_equal(natsMsgHeader_Get(m, "Klaw-Seq", &v), NATS_OK);
        assert_string_equal(v, want);
        assert_int_equal(natsMsgHeader_Get(m, "Klaw-Origin", &v), NATS_OK);
        assert_string_equal(v, "host-a");
        assert_int_equal(natsMsgHeader_Get(m, "Klaw-Channel", &v), NATS_OK);
        assert_string_equal(v, a);
        assert_int_equal(natsMsgHeader_Keys(m, &keys, &nkeys), NATS_OK);
        assert_int_equal(nkeys, 3); /* nothing else */
        free((void *)keys);
        natsMsg_Destroy(m);
    }

    /* in: payload byte k, headers as listed; ours: 1, 2, 6, 7, 9 */
    static char big[5000];
    memset(big, 'x', sizeof big - 1);
    for (int k = 0; k < 10; k++) {
        natsMsg *m = NULL;
        char p = (char)k;
        assert_int_equal(natsMsg_Create(&m, "t.hdr.in", NULL, &p, 1), NATS_OK);
        switch (k) {
        case 0: /* no headers */
            break;
        case 1:
            natsMsgHeader_Set(m, "Klaw-Origin", "host-b");
            break;
        case 2: /* trimmed */
            natsMsgHeader_Set(m, "Klaw-Origin", "  host-b \t");
            break;
        case 3: /* the key as written */
            natsMsgHeader_Set(m, "klaw-origin", "host-b");
            break;
        case 4:
            natsMsgHeader_Set(m, "Klaw-Origin", "host-bb");
            break;
        case 5: /* the first value counts */
            natsMsgHeader_Add(m, "Klaw-Origin", "host-a");
            natsMsgHeader_Add(m, "Klaw-Origin", "host-b");
            break;
        case 6:
            natsMsgHeader_Add(m, "Klaw-Origin", "host-b");
            natsMsgHeader_Add(m, "Klaw-Origin", "host-a");
            break;
        case 7: /* a block longer than the scan takes: nats.c reads it */
            natsMsgHeader_Set(m, "X-Big", big);
            natsMsgHeader_Set(m, "Klaw-Origin", "host-b");
            break;
        case 8: /* a tab inside is part of the value */
            natsMsgHeader_Set(m, "Klaw-Origin", "host-b\tx");
            break;
        case 9: /* nats.c sends line ends in a value as spaces: trimmed */
            natsMsgHeader_Set(m, "Klaw-Origin", "host-b\r\n");
            natsMsgHeader_Set(m, "Klaw-Seq", "12");
            break;
        }
        assert_int_equal(natsConnection_PublishMsg(nc, m), NATS_OK);
        natsMsg_Destroy(m);
    }
    assert_int_equal(natsConnection_Flush(nc), NATS_OK);
    const char want_in[] = {0, 3, 4, 5, 8};
    for (size_t i = 0; i < sizeof want_in; i++) {
        klaw_frame f;
        uint64_t lag = 0;
        struct timespec d = klaw_deadline_in_ms(5000);
        assert_int_equal(klaw_bcast_view(rb, &d, &f, &lag), KLAW_OK);
        assert_int_equal(f.len, 1);
        assert_int_equal(((const char *)f.data)[0], want_in[i]);
        assert_int_equal(klaw_bcast_release(rb, &f), KLAW_OK);
    }
    klaw_nats_stats si;
    int64_t t0 = now_ms();
    do {
        klaw_nats_bridge_stats(in, &si);
    } while (si.in_own < 5 && now_ms() - t0 < 5000 && (sleep_ms(10), 1));
    assert_int_equal(si.in_own, 5);
    assert_int_equal(si.in_frames, sizeof want_in);

    natsSubscription_Destroy(sub);
    natsConnection_Destroy(nc);
    klaw_nats_bridge_stop(out);
    klaw_nats_bridge_stop(in);
    klaw_bcast_rx_free(rb);
    klaw_bcast_tx_free(ta);
    klaw_bcast_tx_free(tb);
    klaw_region_unlink(a);
    klaw_region_unlink(b);
    server_stop(&s);
}

/* ---- mpmc: two hosts in one queue group ---------------------------------------------- */

static void mpmc_queue_group_delivers_each_frame_once_across_hosts(void **state)
{
    (void)state;
    server s;
    server_start(&s, 0, NULL);
    char u[64];
    url(&s, u, sizeof u);
    const char *src = uniq(0, "src"), *h1 = uniq(1, "h1"), *h2 = uniq(2, "h2");
    klaw_mpmc_opts os = {.capacity = 1024, .max_frame = MAXF, .name = src};
    /* src: made with no handles (its bridge will be its receiver), then
     * our sender opens it */
    klaw_mpmc_opts o1 = {.capacity = 8192, .max_frame = MAXF, .name = h1};
    klaw_mpmc_opts o2 = {.capacity = 8192, .max_frame = MAXF, .name = h2};
    klaw_mpmc_tx *tsrc, *t1, *t2;
    klaw_mpmc_rx *r1, *r2;
    assert_int_equal(klaw_mpmc_create(&os, NULL, NULL), KLAW_OK);
    assert_int_equal(klaw_mpmc_open_tx(src, &tsrc), KLAW_OK);
    assert_int_equal(klaw_mpmc_create(&o1, &t1, &r1), KLAW_OK);
    assert_int_equal(klaw_mpmc_create(&o2, &t2, &r2), KLAW_OK);
    klaw_nats_bridge *in1 = bridge(u, h1, "t.jobs", KLAW_NATS_IN, "host-1");
    klaw_nats_bridge *in2 = bridge(u, h2, "t.jobs", KLAW_NATS_IN, "host-2");
    /* one way only on an mpmc */
    {
        klaw_nats_opts bad = {.servers = u, .channel = h1, .subject = "t.jobs",
                              .direction = KLAW_NATS_IN | KLAW_NATS_OUT};
        klaw_nats_bridge *x = NULL;
        const char *why = NULL;
        assert_int_equal(klaw_nats_bridge_start(&bad, &x, &why), KLAW_INVAL);
        assert_non_null(why);
        assert_null(x);
    }
    settle();
    klaw_nats_bridge *out = bridge(u, src, "t.jobs", KLAW_NATS_OUT, "host-0");
    enum { N = 10000 };
    uint8_t buf[MAXF];
    for (uint64_t i = 0; i < N; i++) {
        size_t n = frame_of(i, buf, MAXF);
        struct timespec d = klaw_deadline_in_ms(5000);
        assert_int_equal(klaw_mpmc_send(tsrc, buf, n, &d), KLAW_OK);
    }
    static uint8_t seen[N];
    memset(seen, 0, sizeof seen);
    uint64_t got[2] = {0, 0}, total = 0;
    int64_t t0 = now_ms();
    while (total < N && now_ms() - t0 < 30000) {
        int progress = 0;
        klaw_mpmc_rx *rs[2] = {r1, r2};
        for (int h = 0; h < 2; h++) {
            klaw_frame f;
            while (klaw_mpmc_try_view(rs[h], &f) == KLAW_OK) {
                uint64_t i = check_frame(f.data, f.len, MAXF);
                assert_true(i < N);
                if (seen[i]++) {
                    fprintf(stderr, "frame %llu delivered twice\n", (unsigned long long)i);
                    fail();
                }
                got[h]++;
                total++;
                progress = 1;
                assert_int_equal(klaw_mpmc_release(rs[h], &f), KLAW_OK);
            }
        }
        if (!progress)
            sleep_ms(5);
    }
    assert_int_equal(total, N);
    /* both hosts took part (nats-server spreads a queue group's messages) */
    assert_true(got[0] > 0 && got[1] > 0);
    fprintf(stderr, "queue group: host 1 got %llu, host 2 got %llu\n", (unsigned long long)got[0],
            (unsigned long long)got[1]);
    klaw_nats_bridge_stop(out);
    klaw_nats_bridge_stop(in1);
    klaw_nats_bridge_stop(in2);
    klaw_mpmc_tx_free(tsrc);
    klaw_mpmc_tx_free(t1);
    klaw_mpmc_rx_free(r1);
    klaw_mpmc_tx_free(t2);
    klaw_mpmc_rx_free(r2);
    klaw_region_unlink(src);
    klaw_region_unlink(h1);
    klaw_region_unlink(h2);
    server_stop(&s);
}

/* ---- two hosts, both ways: no loop ----------------------------------------------------- */

static void both_ways_on_two_hosts_deliver_each_frame_once(void **state)
{
    (void)state;
    server s;
    server_start(&s, 0, NULL);
    char u[64];
    url(&s, u, sizeof u);
    const char *x = uniq(0, "x"), *y = uniq(1, "y");
    klaw_bcast_opts ox = {.capacity = 4096, .max_frame = MAXF, .policy = KLAW_POLICY_BLOCK, .name = x};
    klaw_bcast_opts oy = {.capacity = 4096, .max_frame = MAXF, .policy = KLAW_POLICY_BLOCK, .name = y};
    klaw_bcast_tx *tx, *ty;
    klaw_bcast_rx *rx, *ry;
    assert_int_equal(klaw_bcast_create(&ox, &tx), KLAW_OK);
    assert_int_equal(klaw_bcast_create(&oy, &ty), KLAW_OK);
    assert_int_equal(klaw_bcast_subscribe(tx, KLAW_BCAST_FROM_TAIL, "test", &rx), KLAW_OK);
    assert_int_equal(klaw_bcast_subscribe(ty, KLAW_BCAST_FROM_TAIL, "test", &ry), KLAW_OK);
    klaw_nats_bridge *bx = bridge(u, x, "t.both", KLAW_NATS_OUT | KLAW_NATS_IN, "host-x");
    klaw_nats_bridge *by = bridge(u, y, "t.both", KLAW_NATS_OUT | KLAW_NATS_IN, "host-y");
    settle();
    /* host x writes 0..999, host y 1000..1999 */
    enum { PER = 1000 };
    uint8_t buf[MAXF];
    for (uint64_t i = 0; i < 2 * PER; i++) {
        size_t n = frame_of(i, buf, MAXF);
        struct timespec d = klaw_deadline_in_ms(5000);
        assert_int_equal(klaw_bcast_send(i < PER ? tx : ty, buf, n, &d), KLAW_OK);
    }
    /* each side sees all 2000 once; then nothing more (no loop) */
    klaw_bcast_rx *rs[2] = {rx, ry};
    for (int h = 0; h < 2; h++) {
        static uint8_t seen[2 * PER];
        memset(seen, 0, sizeof seen);
        uint64_t total = 0;
        int64_t quiet_since = now_ms(), t0 = now_ms();
        while (now_ms() - t0 < 20000) {
            klaw_frame f;
            uint64_t lag = 0;
            struct timespec d = klaw_deadline_in_ms(100);
            klaw_status st = klaw_bcast_view(rs[h], &d, &f, &lag);
            if (st == KLAW_TIMEOUT) {
                if (total == 2 * PER && now_ms() - quiet_since > 1000)
                    break; /* a loop would have shown by now */
                continue;
            }
            assert_int_equal(st, KLAW_OK);
            uint64_t i = check_frame(f.data, f.len, MAXF);
            assert_true(i < 2 * PER);
            if (seen[i]++) {
                fprintf(stderr, "host %c: frame %llu delivered twice (a loop)\n", "xy"[h], (unsigned long long)i);
                fail();
            }
            total++;
            quiet_since = now_ms();
            assert_int_equal(klaw_bcast_release(rs[h], &f), KLAW_OK);
        }
        assert_int_equal(total, 2 * PER);
    }
    klaw_nats_stats sx, sy;
    klaw_nats_bridge_stats(bx, &sx);
    klaw_nats_bridge_stats(by, &sy);
    assert_int_equal(sx.out_frames, PER);
    assert_int_equal(sx.out_skipped, PER);
    assert_int_equal(sx.in_frames, PER);
    assert_int_equal(sy.out_frames, PER);
    assert_int_equal(sy.out_skipped, PER);
    assert_int_equal(sy.in_frames, PER);
    klaw_nats_bridge_stop(bx);
    klaw_nats_bridge_stop(by);
    klaw_bcast_rx_free(rx);
    klaw_bcast_rx_free(ry);
    klaw_bcast_tx_free(tx);
    klaw_bcast_tx_free(ty);
    klaw_region_unlink(x);
    klaw_region_unlink(y);
    server_stop(&s);
}

/* ---- faults ------------------------------------------------------------------------------ */

static void server_restart_mid_stream_counts_the_loss_and_goes_on(void **state)
{
    (void)state;
    server s;
    server_start(&s, 0, NULL);
    char u[64];
    url(&s, u, sizeof u);
    hosts h;
    hosts_open(&h, u, "t.fault", KLAW_POLICY_OVERWRITE, 1024, 8192);
    write_frames(h.ta, 0, 1000, 1);
    sleep_ms(300);
    server_kill(&s);
    /* the writer goes on while the server is down */
    write_frames(h.ta, 1000, 3000, 1);
    klaw_nats_stats so, si;
    klaw_nats_bridge_stats(h.out, &so);
    assert_int_equal(so.connected, 0);
    server_start(&s, s.port, NULL); /* the same address: nats.c reconnects */
    wait_reconnected(&h, 10000);
    /* frames after the restart arrive, in order, never twice (core NATS:
     * at most once) */
    write_frames(h.ta, 3000, 4000, 1);
    uint64_t got = read_from(h.rb, 3000, 1000, 15000);
    klaw_nats_bridge_stats(h.out, &so);
    klaw_nats_bridge_stats(h.in, &si);
    fprintf(stderr, "restart: published %llu, dropped %llu, lagged %llu; received %llu of 4000 written\n",
            (unsigned long long)so.out_frames, (unsigned long long)so.out_dropped,
            (unsigned long long)so.out_lagged, (unsigned long long)got);
    assert_true(got <= 4000);
    assert_true(so.disconnects >= 1 && si.disconnects >= 1);
    hosts_close(&h);
    server_stop(&s);
}

/* Three servers in a cluster on loopback; the bridges are given the first
 * one only and learn the others from it (nats.c's discovered servers).
 * The first is killed: both bridges fail over and frames written after
 * that arrive, in order. */
static void a_cluster_member_killed_the_bridges_fail_over(void **state)
{
    (void)state;
    server s[3];
    cluster_start(s, NULL);
    char u[64];
    url(&s[0], u, sizeof u);
    hosts h;
    hosts_open(&h, u, "t.cluster", KLAW_POLICY_BLOCK, 1024, 8192);
    write_frames(h.ta, 0, 500, 0);
    server_kill(&s[0]);
    wait_reconnected(&h, 15000);
    write_frames(h.ta, 500, 1000, 0);
    read_from(h.rb, 500, 500, 15000);
    hosts_close(&h);
    for (int k = 0; k < 3; k++)
        server_stop(&s[k]);
}

static void a_frame_over_max_payload_is_counted(void **state)
{
    (void)state;
    server s;
    server_start(&s, 0, "max_payload: 100");
    char u[64];
    url(&s, u, sizeof u);
    const char *a = uniq(0, "big");
    klaw_bcast_opts oa = {.capacity = 64, .max_frame = 1000, .policy = KLAW_POLICY_BLOCK, .name = a};
    klaw_bcast_tx *ta;
    assert_int_equal(klaw_bcast_create(&oa, &ta), KLAW_OK);
    klaw_nats_bridge *out = bridge(u, a, "t.big", KLAW_NATS_OUT, "host-a");
    settle();
    static uint8_t big[1000];
    struct timespec d = klaw_deadline_in_ms(2000);
    assert_int_equal(klaw_bcast_send(ta, big, sizeof big, &d), KLAW_OK);
    assert_int_equal(klaw_bcast_send(ta, big, 10, &d), KLAW_OK);
    klaw_nats_stats so;
    int64_t t0 = now_ms();
    do {
        sleep_ms(20);
        klaw_nats_bridge_stats(out, &so);
    } while (so.out_frames + so.out_too_big < 2 && now_ms() - t0 < 5000);
    assert_int_equal(so.out_too_big, 1);
    assert_int_equal(so.out_frames, 1); /* the small one after it went out */
    klaw_nats_bridge_stop(out);
    klaw_bcast_tx_free(ta);
    klaw_region_unlink(a);
    server_stop(&s);
}

/* watch <-> a JetStream key-value bucket key: two hosts bridge their
 * watch channels both ways to one key; a value sent on either side
 * becomes the other side's latest value; no loop (the versions stop
 * moving); the bucket's revision is reported beside klaw's version. */
static klaw_nats_bridge *kv_bridge(const char *servers, const char *channel, const char *bucket, const char *key,
                                   const char *origin)
{
    klaw_nats_opts o = {.servers = servers, .channel = channel, .subject = key,
                        .direction = KLAW_NATS_OUT | KLAW_NATS_IN, .origin = origin, .bucket = bucket};
    klaw_nats_bridge *b = NULL;
    const char *why = NULL;
    klaw_status st = klaw_nats_bridge_start(&o, &b, &why);
    if (st != KLAW_OK) {
        fprintf(stderr, "kv bridge %s: %s (%s)\n", channel, klaw_strerror(st), why ? why : "");
        fail();
    }
    return b;
}

static int wait_value(klaw_watch_rx *rx, const char *want, int ms, uint64_t *version)
{
    int64_t t0 = now_ms();
    char buf[64];
    size_t len = 0;
    while (now_ms() - t0 < ms) {
        if (klaw_watch_get(rx, buf, sizeof buf, &len, version) == KLAW_OK && len == strlen(want) &&
            memcmp(buf, want, len) == 0)
            return 1;
        sleep_ms(10);
    }
    return 0;
}

static void watch_and_a_key_value_key_both_ways(void **state)
{
    (void)state;
    server s;
    char conf[256];
    snprintf(conf, sizeof conf, "jetstream { store_dir: \"/tmp/klaw-js-%d\" }", (int)getpid());
    server_start(&s, 0, conf);
    char u[64];
    url(&s, u, sizeof u);
    const char *x = uniq(0, "wx"), *y = uniq(1, "wy");
    klaw_watch_opts ox = {.max_frame = 64, .name = x}, oy = {.max_frame = 64, .name = y};
    klaw_watch_tx *tx, *ty;
    klaw_watch_rx *rx, *ry;
    assert_int_equal(klaw_watch_create(&ox, &tx, &rx), KLAW_OK);
    assert_int_equal(klaw_watch_create(&oy, &ty, &ry), KLAW_OK);
    klaw_nats_bridge *bx = kv_bridge(u, x, "klaw_test", "cfg", "host-x");
    klaw_nats_bridge *by = kv_bridge(u, y, "klaw_test", "cfg", "host-y");
    settle();
    uint64_t vx = 0, vy = 0;
    assert_int_equal(klaw_watch_send(tx, "one", 3, NULL), KLAW_OK);
    assert_true(wait_value(ry, "one", 5000, &vy));
    assert_int_equal(klaw_watch_send(ty, "two", 3, NULL), KLAW_OK);
    assert_true(wait_value(rx, "two", 5000, &vx));
    assert_int_equal(klaw_watch_send(tx, "three", 5, NULL), KLAW_OK);
    assert_true(wait_value(ry, "three", 5000, &vy));
    /* no loop: after a quiet second the versions no longer move */
    sleep_ms(1000);
    uint64_t vx1 = 0, vy1 = 0, vx2 = 0, vy2 = 0;
    char buf[64];
    size_t len;
    assert_int_equal(klaw_watch_get(rx, buf, sizeof buf, &len, &vx1), KLAW_OK);
    assert_int_equal(klaw_watch_get(ry, buf, sizeof buf, &len, &vy1), KLAW_OK);
    sleep_ms(1000);
    assert_int_equal(klaw_watch_get(rx, buf, sizeof buf, &len, &vx2), KLAW_OK);
    assert_int_equal(klaw_watch_get(ry, buf, sizeof buf, &len, &vy2), KLAW_OK);
    assert_int_equal(vx1, vx2);
    assert_int_equal(vy1, vy2);
    assert_true(vx1 <= 4 && vy1 <= 4); /* a few versions, not a storm */
    klaw_nats_stats sx, sy;
    klaw_nats_bridge_stats(bx, &sx);
    klaw_nats_bridge_stats(by, &sy);
    assert_true(sx.kv_revision >= 3 && sy.kv_revision >= 3);
    assert_int_equal(sx.out_frames + sy.out_frames, 3); /* one put per value */
    fprintf(stderr, "kv: revision %llu at x (version %llu), %llu at y (version %llu)\n",
            (unsigned long long)sx.kv_revision, (unsigned long long)vx1, (unsigned long long)sy.kv_revision,
            (unsigned long long)vy1);
    klaw_nats_bridge_stop(bx);
    klaw_nats_bridge_stop(by);
    klaw_watch_tx_free(tx);
    klaw_watch_rx_free(rx);
    klaw_watch_tx_free(ty);
    klaw_watch_rx_free(ry);
    klaw_region_unlink(x);
    klaw_region_unlink(y);
    server_stop(&s);
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf /tmp/klaw-js-%d", (int)getpid());
    assert_int_equal(system(cmd), 0);
}

static void bad_options_say_why(void **state)
{
    (void)state;
    klaw_nats_bridge *b = (klaw_nats_bridge *)1;
    const char *why = NULL;
    klaw_nats_opts none = {0};
    assert_int_equal(klaw_nats_bridge_start(&none, &b, &why), KLAW_INVAL);
    assert_null(b);
    assert_non_null(why);
    klaw_nats_opts nochan = {.channel = "tnats-no-such-channel", .subject = "x", .direction = KLAW_NATS_OUT};
    assert_int_equal(klaw_nats_bridge_start(&nochan, &b, &why), KLAW_NOENT);
    assert_non_null(why);
    assert_non_null(strstr(why, "tnats-no-such-channel"));
    /* a watch is bridged to a key-value bucket: none given */
    const char *w = uniq(0, "w");
    klaw_watch_opts ow = {.max_frame = 8, .name = w};
    assert_int_equal(klaw_watch_create(&ow, NULL, NULL), KLAW_OK);
    klaw_nats_opts watch = {.channel = w, .subject = "x", .direction = KLAW_NATS_OUT};
    assert_int_equal(klaw_nats_bridge_start(&watch, &b, &why), KLAW_INVAL);
    assert_non_null(strstr(why, "bucket"));
    klaw_region_unlink(w);
    /* a oneshot has no bridge */
    const char *os1 = uniq(1, "o");
    klaw_oneshot_opts oo = {.max_frame = 8, .name = os1};
    assert_int_equal(klaw_oneshot_create(&oo, NULL, NULL), KLAW_OK);
    klaw_nats_opts one = {.channel = os1, .subject = "x", .direction = KLAW_NATS_OUT};
    assert_int_equal(klaw_nats_bridge_start(&one, &b, &why), KLAW_INVAL);
    assert_non_null(strstr(why, "oneshot"));
    klaw_region_unlink(os1);
    klaw_nats_bridge_stop(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bad_options_say_why),
        cmocka_unit_test(broadcast_round_trip_through_the_server),
        cmocka_unit_test(headers_out_as_sent_and_our_origin_as_nats_c_reads_it),
        cmocka_unit_test(mpmc_queue_group_delivers_each_frame_once_across_hosts),
        cmocka_unit_test(both_ways_on_two_hosts_deliver_each_frame_once),
        cmocka_unit_test(a_frame_over_max_payload_is_counted),
        cmocka_unit_test(server_restart_mid_stream_counts_the_loss_and_goes_on),
        cmocka_unit_test(a_cluster_member_killed_the_bridges_fail_over),
        cmocka_unit_test(watch_and_a_key_value_key_both_ways),
    };
    if (getenv("KLAW_TEST_FILTER"))
        cmocka_set_test_filter(getenv("KLAW_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
