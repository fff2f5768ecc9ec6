/*
 * test_nats_js.c - libklaw-nats's JetStream delivery against real
 * nats-server processes with JetStream (127.0.0.1, free ports, a store
 * directory of their own, stopped by pid):
 *
 *  - round trips, broadcast and mpmc: every frame byte for byte, in order,
 *    once; an mpmc brought in by two "hosts" sharing one durable consumer:
 *    each frame exactly once, at one of them;
 *  - the server killed (SIGKILL) mid-stream and restarted on its store:
 *    nothing lost, nothing duplicated (checked by frame number);
 *  - a three-server cluster, the stream R3, the bridges' server killed:
 *    they fail over, nothing lost, nothing duplicated;
 *  - the bridges themselves, `klaw bridge --jetstream` processes, killed
 *    with SIGKILL mid-stream and restarted: nothing lost (at least once:
 *    the duplicates a crash may cause are counted and bounded);
 *  - bad setups (a server without JetStream, a stream that does not hold
 *    the subject) say why.
 *
 * argv[1] is the klaw tool (for the bridge processes). nats-server must be
 * installed: without it this test fails, loudly.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "klaw/klaw.h"
#include "klaw/nats.h"

#include "nats_test_util.h"

#define MAXF 200

static const char *klaw_exe;

/* A server with JetStream, its store under /tmp (kept across a restart). */
static void js_server_start(server *s, int port, char *store, size_t store_cap)
{
    if (!store[0])
        snprintf(store, store_cap, "/tmp/klaw-js-%d-%d", (int)getpid(), port ? port : free_port());
    char conf[256];
    snprintf(conf, sizeof conf, "jetstream { store_dir: \"%s\" }", store);
    server_start(s, port, conf);
}

static void rm_store(const char *store)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", store);
    assert_int_equal(system(cmd), 0);
}

static klaw_nats_bridge *js_bridge(const char *servers, const char *channel, const char *subject, unsigned dir,
                                   const char *origin, const char *stream, unsigned replicas)
{
    klaw_nats_opts o = {.servers = servers, .channel = channel, .subject = subject, .direction = dir,
                        .origin = origin, .delivery = KLAW_NATS_JETSTREAM, .stream = stream,
                        .replicas = replicas, .ack_wait_ms = 1000};
    klaw_nats_bridge *b = NULL;
    const char *why = NULL;
    klaw_status st = KLAW_SYS;
    /* a cluster's JetStream needs a moment to elect its leaders */
    for (int64_t t0 = now_ms(); now_ms() - t0 < 20000; sleep_ms(250)) {
        st = klaw_nats_bridge_start(&o, &b, &why);
        if (st != KLAW_SYS)
            break;
    }
    if (st != KLAW_OK) {
        fprintf(stderr, "bridge %s <-> %s: %s (%s)\n", channel, subject, klaw_strerror(st), why ? why : "");
        fail();
    }
    return b;
}

/* ---- a writer thread and a counting reader ------------------------------------------- */

typedef struct writer {
    klaw_bcast_tx *btx;
    klaw_mpmc_tx *mtx;
    uint64_t from, to;
    unsigned pace; /* a 1 ms nap every pace frames (0: none) */
    int failed;
    pthread_t t;
} writer;

static void *write_main(void *arg)
{
    writer *w = arg;
    uint8_t buf[MAXF];
    for (uint64_t i = w->from; i < w->to; i++) {
        size_t n = frame_of(i, buf, MAXF);
        /* BLOCK and mpmc: the bridge's back-pressure may hold us while a
         * server is down */
        struct timespec d = klaw_deadline_in_ms(60000);
        klaw_status st = w->btx ? klaw_bcast_send(w->btx, buf, n, &d) : klaw_mpmc_send(w->mtx, buf, n, &d);
        if (st != KLAW_OK && st != KLAW_NO_RECEIVERS) {
            fprintf(stderr, "writer: frame %llu: %s\n", (unsigned long long)i, klaw_strerror(st));
            w->failed = 1;
            return NULL;
        }
        if (w->pace && i % w->pace == 0)
            sleep_ms(1);
    }
    return NULL;
}

static void writer_start(writer *w) { assert_int_equal(pthread_create(&w->t, NULL, write_main, w), 0); }

static void writer_join(writer *w)
{
    pthread_join(w->t, NULL);
    assert_int_equal(w->failed, 0);
}

/* What a reader saw of frames [0, n): how often each, out of order. */
typedef struct tally {
    uint8_t *seen;
    uint64_t n, distinct, dups, out_of_order, last;
} tally;

static void tally_init(tally *t, uint64_t n)
{
    memset(t, 0, sizeof *t);
    t->seen = calloc(n, 1);
    assert_non_null(t->seen);
    t->n = n;
}

static void tally_add(tally *t, const uint8_t *p, size_t len)
{
    uint64_t i = check_frame(p, len, MAXF);
    assert_true(i < t->n);
    if (t->seen[i]) {
        t->dups++;
    } else {
        t->seen[i] = 1;
        t->distinct++;
    }
    if (t->distinct + t->dups > 1 && i < t->last)
        t->out_of_order++;
    t->last = i;
}

/* Reads rx until stop_after distinct frames were seen or ms passed; with
 * linger, it then goes on until the first quiet half second, to catch late
 * duplicates. */
static void read_bcast(klaw_bcast_rx *rx, tally *t, int ms, uint64_t stop_after, int linger)
{
    int64_t t0 = now_ms(), quiet_since = 0;
    while (now_ms() - t0 < ms) {
        if (t->distinct >= stop_after) {
            if (!linger)
                break;
            if (!quiet_since)
                quiet_since = now_ms();
            else if (now_ms() - quiet_since > 500)
                break;
        }
        klaw_frame f;
        uint64_t lag = 0;
        struct timespec d = klaw_deadline_in_ms(100);
        klaw_status st = klaw_bcast_view(rx, &d, &f, &lag);
        if (st == KLAW_TIMEOUT)
            continue;
        assert_int_equal(st, KLAW_OK);
        tally_add(t, f.data, f.len);
        assert_int_equal(klaw_bcast_release(rx, &f), KLAW_OK);
        quiet_since = 0;
    }
}

static void report(const char *what, const tally *t)
{
    uint64_t missing = t->n - t->distinct;
    fprintf(stderr, "%s: %llu of %llu frames arrived, %llu missing, %llu duplicates, %llu out of order\n", what,
            (unsigned long long)t->distinct, (unsigned long long)t->n, (unsigned long long)missing,
            (unsigned long long)t->dups, (unsigned long long)t->out_of_order);
}

/* Two broadcast channels on "two hosts": a (written by the test) -> out
 * bridge -> stream -> in bridge -> b (read by the test). */
typedef struct hosts {
    const char *a, *b;
    klaw_bcast_tx *ta, *tb;
    klaw_bcast_rx *rb;
    klaw_nats_bridge *out, *in;
} hosts;

static void hosts_open(hosts *h, const char *servers, const char *subject, const char *stream, unsigned replicas,
                       uint32_t cap_a, uint32_t cap_b)
{
    h->a = uniq(0, "ja");
    h->b = uniq(1, "jb");
    klaw_bcast_opts oa = {.capacity = cap_a, .max_frame = MAXF, .policy = KLAW_POLICY_BLOCK, .name = h->a};
    klaw_bcast_opts ob = {.capacity = cap_b, .max_frame = MAXF, .policy = KLAW_POLICY_BLOCK, .name = h->b};
    assert_int_equal(klaw_bcast_create(&oa, &h->ta), KLAW_OK);
    assert_int_equal(klaw_bcast_create(&ob, &h->tb), KLAW_OK);
    assert_int_equal(klaw_bcast_subscribe(h->tb, KLAW_BCAST_FROM_TAIL, "test", &h->rb), KLAW_OK);
    h->out = servers ? js_bridge(servers, h->a, subject, KLAW_NATS_OUT, "host-a", stream, replicas) : NULL;
    h->in = servers ? js_bridge(servers, h->b, subject, KLAW_NATS_IN, "host-b", stream, replicas) : NULL;
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

/* ---- round trips ---------------------------------------------------------------------- */

#define N_ROUND 20000

static void broadcast_round_trip_through_a_stream(void **state)
{
    (void)state;
    server s;
    char store[128] = "";
    js_server_start(&s, 0, store, sizeof store);
    char u[64];
    url(&s, u, sizeof u);
    hosts h;
    hosts_open(&h, u, "tjs.bcast", "TJS_BCAST", 1, 4096, 32768);
    writer w = {.btx = h.ta, .from = 0, .to = N_ROUND};
    writer_start(&w);
    /* in order, byte for byte, once each */
    uint8_t buf[MAXF];
    for (uint64_t i = 0; i < N_ROUND; i++) {
        klaw_frame f;
        uint64_t lag = 0;
        struct timespec d = klaw_deadline_in_ms(15000);
        assert_int_equal(klaw_bcast_view(h.rb, &d, &f, &lag), KLAW_OK);
        size_t n = frame_of(i, buf, MAXF);
        assert_int_equal(f.len, n);
        assert_memory_equal(f.data, buf, n);
        assert_int_equal(klaw_bcast_release(h.rb, &f), KLAW_OK);
    }
    writer_join(&w);
    klaw_frame f;
    uint64_t lag = 0;
    struct timespec d = klaw_deadline_in_ms(500);
    assert_int_equal(klaw_bcast_view(h.rb, &d, &f, &lag), KLAW_TIMEOUT); /* nothing twice */
    klaw_nats_stats so, si;
    klaw_nats_bridge_stats(h.out, &so);
    klaw_nats_bridge_stats(h.in, &si);
    assert_int_equal(so.out_frames, N_ROUND);
    assert_int_equal(so.out_dropped, 0);
    assert_int_equal(so.out_pending, 0);
    assert_int_equal(si.in_frames, N_ROUND);
    assert_int_equal(si.in_duplicates, 0);
    assert_true(so.stream_seq >= N_ROUND);
    assert_int_equal(si.stream_seq, so.stream_seq);
    hosts_close(&h);
    server_stop(&s);
    rm_store(store);
}

/* An mpmc: its frames published with acks; two "hosts" bring them in
 * through one durable consumer (each message to one of them). */
static void mpmc_two_hosts_share_a_durable(void **state)
{
    (void)state;
    server s;
    char store[128] = "";
    js_server_start(&s, 0, store, sizeof store);
    char u[64];
    url(&s, u, sizeof u);
    const char *x = uniq(0, "jx"), *y1 = uniq(1, "jy1"), *y2 = uniq(2, "jy2");
    klaw_mpmc_opts ox = {.capacity = 1024, .max_frame = MAXF, .name = x};
    klaw_mpmc_opts oy = {.capacity = 8192, .max_frame = MAXF, .name = y1};
    klaw_mpmc_tx *tx, *t1, *t2;
    klaw_mpmc_rx *rx, *r1, *r2; /* rx takes nothing: it keeps x open */
    assert_int_equal(klaw_mpmc_create(&ox, &tx, &rx), KLAW_OK);
    assert_int_equal(klaw_mpmc_create(&oy, &t1, &r1), KLAW_OK);
    oy.name = y2;
    assert_int_equal(klaw_mpmc_create(&oy, &t2, &r2), KLAW_OK);
    klaw_nats_bridge *out = js_bridge(u, x, "tjs.jobs", KLAW_NATS_OUT, "host-x", NULL, 1);
    klaw_nats_bridge *in1 = js_bridge(u, y1, "tjs.jobs", KLAW_NATS_IN, "host-1", NULL, 1);
    klaw_nats_bridge *in2 = js_bridge(u, y2, "tjs.jobs", KLAW_NATS_IN, "host-2", NULL, 1);
    writer w = {.mtx = tx, .from = 0, .to = N_ROUND};
    writer_start(&w);
    tally t;
    tally_init(&t, N_ROUND);
    uint64_t at[2] = {0, 0};
    uint8_t buf[MAXF];
    for (int64_t t0 = now_ms(); t.distinct + t.dups < N_ROUND && now_ms() - t0 < 30000;) {
        int any = 0;
        for (int k = 0; k < 2; k++) {
            size_t n = 0;
            if (klaw_mpmc_try_recv(k ? r2 : r1, buf, sizeof buf, &n) == KLAW_OK) {
                tally_add(&t, buf, n);
                at[k]++;
                any = 1;
            }
        }
        if (!any)
            sleep_ms(1);
    }
    writer_join(&w);
    sleep_ms(500);
    size_t n = 0;
    assert_int_equal(klaw_mpmc_try_recv(r1, buf, sizeof buf, &n), KLAW_EMPTY);
    assert_int_equal(klaw_mpmc_try_recv(r2, buf, sizeof buf, &n), KLAW_EMPTY);
    report("mpmc, one durable, two hosts", &t);
    fprintf(stderr, "  host 1 %llu, host 2 %llu\n", (unsigned long long)at[0], (unsigned long long)at[1]);
    assert_int_equal(t.distinct, N_ROUND);
    assert_int_equal(t.dups, 0);
    assert_true(at[0] > 0 && at[1] > 0); /* both competed */
    free(t.seen);
    klaw_nats_bridge_stop(out);
    klaw_nats_bridge_stop(in1);
    klaw_nats_bridge_stop(in2);
    klaw_mpmc_tx_free(tx);
    klaw_mpmc_rx_free(rx);
    klaw_mpmc_tx_free(t1);
    klaw_mpmc_tx_free(t2);
    klaw_mpmc_rx_free(r1);
    klaw_mpmc_rx_free(r2);
    klaw_region_unlink(x);
    klaw_region_unlink(y1);
    klaw_region_unlink(y2);
    server_stop(&s);
    rm_store(store);
}

/* ---- faults ------------------------------------------------------------------------------ */

#define N_FAULT 20000

/* Waits until the reader has seen `n` frames (or ms). */
static void read_until(klaw_bcast_rx *rx, tally *t, uint64_t n, int ms)
{
    read_bcast(rx, t, ms, n, 0);
    assert_true(t->distinct >= n);
}

static void the_server_killed_and_restarted_loses_nothing_duplicates_nothing(void **state)
{
    (void)state;
    server s;
    char store[128] = "";
    js_server_start(&s, 0, store, sizeof store);
    char u[64];
    url(&s, u, sizeof u);
    hosts h;
    hosts_open(&h, u, "tjs.fault", "TJS_FAULT", 1, 1024, 32768);
    writer w = {.btx = h.ta, .from = 0, .to = N_FAULT, .pace = 4}; /* about 5 s */
    writer_start(&w);
    tally t;
    tally_init(&t, N_FAULT);
    read_until(h.rb, &t, 3000, 15000);
    server_kill(&s); /* SIGKILL, mid-stream */
    sleep_ms(1000);
    klaw_nats_stats so;
    klaw_nats_bridge_stats(h.out, &so);
    assert_int_equal(so.connected, 0);
    js_server_start(&s, s.port, store, sizeof store); /* the same address and store */
    read_bcast(h.rb, &t, 60000, N_FAULT, 1);
    writer_join(&w);
    klaw_nats_stats si;
    klaw_nats_bridge_stats(h.out, &so);
    klaw_nats_bridge_stats(h.in, &si);
    report("server restart", &t);
    fprintf(stderr, "  out: acked %llu, retries %llu, duplicates %llu, dropped %llu; in: %llu, "
                    "redelivered %llu, duplicates %llu\n",
            (unsigned long long)so.out_frames, (unsigned long long)so.out_retries,
            (unsigned long long)so.out_duplicates, (unsigned long long)so.out_dropped,
            (unsigned long long)si.in_frames, (unsigned long long)si.in_redelivered,
            (unsigned long long)si.in_duplicates);
    assert_int_equal(t.distinct, N_FAULT); /* nothing lost */
    assert_int_equal(t.dups, 0);           /* nothing twice */
    assert_true(so.disconnects >= 1 && si.disconnects >= 1);
    assert_int_equal(so.out_dropped, 0);
    free(t.seen);
    hosts_close(&h);
    server_stop(&s);
    rm_store(store);
}

static void an_r3_cluster_member_killed_loses_nothing(void **state)
{
    (void)state;
    server s[3];
    char stores[64];
    snprintf(stores, sizeof stores, "/tmp/klaw-js3-%d", (int)getpid());
    char extra[160];
    snprintf(extra, sizeof extra, "jetstream { store_dir: \"%s-%%d\" }", stores);
    cluster_start(s, extra);
    char u[64];
    url(&s[0], u, sizeof u);
    hosts h;
    hosts_open(&h, u, "tjs.r3", "TJS_R3", 3, 1024, 32768);
    writer w = {.btx = h.ta, .from = 0, .to = N_FAULT, .pace = 4}; /* about 5 s */
    writer_start(&w);
    tally t;
    tally_init(&t, N_FAULT);
    read_until(h.rb, &t, 3000, 30000);
    server_kill(&s[0]); /* the bridges' server, maybe the stream's leader */
    read_bcast(h.rb, &t, 90000, N_FAULT, 1);
    writer_join(&w);
    klaw_nats_stats so, si;
    klaw_nats_bridge_stats(h.out, &so);
    klaw_nats_bridge_stats(h.in, &si);
    report("R3 cluster, a member killed", &t);
    fprintf(stderr, "  out: retries %llu, duplicates %llu; in: redelivered %llu, duplicates %llu\n",
            (unsigned long long)so.out_retries, (unsigned long long)so.out_duplicates,
            (unsigned long long)si.in_redelivered, (unsigned long long)si.in_duplicates);
    assert_int_equal(t.distinct, N_FAULT);
    assert_int_equal(t.dups, 0);
    assert_true(so.reconnects >= 1 && si.reconnects >= 1);
    free(t.seen);
    hosts_close(&h);
    for (int k = 0; k < 3; k++) {
        server_stop(&s[k]);
        char dir[96];
        snprintf(dir, sizeof dir, "%s-%d", stores, k);
        rm_store(dir);
    }
}

/* `klaw bridge --jetstream` as a process of its own. */
static pid_t bridge_process(const char *servers, const char *dir, const char *channel, const char *subject,
                            const char *origin, const char *stats_file)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(stats_file ? stats_file : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 1);
        execl(klaw_exe, klaw_exe, "bridge", "--jetstream", "--json", "--servers", servers, dir, "--origin", origin,
              "--stream", "TJS_KILL", "--ack-wait", "1000", channel, subject, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static void kill_process(pid_t pid)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static void bridge_processes_killed_with_sigkill_and_restarted_lose_nothing(void **state)
{
    (void)state;
    if (!klaw_exe) {
        fprintf(stderr, "test_nats_js: the klaw tool's path is argv[1]\n");
        fail();
    }
    server s;
    char store[128] = "";
    js_server_start(&s, 0, store, sizeof store);
    char u[64];
    url(&s, u, sizeof u);
    hosts h;
    /* a's ring holds every frame: what the channel retains is all there is
     * to resume from, and a dead reader stops holding BLOCK writers */
    hosts_open(&h, NULL, NULL, NULL, 0, 32768, 32768);
    char stats[64];
    snprintf(stats, sizeof stats, "/tmp/klaw-js-out-%d.json", (int)getpid());
    pid_t out = bridge_process(u, "--out", h.a, "tjs.kill", "host-a", NULL);
    pid_t in = bridge_process(u, "--in", h.b, "tjs.kill", "host-b", NULL);
    sleep_ms(1000);
    /* paced (about 5 s in all), so that the bridges die mid-stream */
    writer w = {.btx = h.ta, .from = 0, .to = N_FAULT, .pace = 4};
    writer_start(&w);
    tally t;
    tally_init(&t, N_FAULT);
    read_until(h.rb, &t, 4000, 30000);
    kill_process(out); /* mid-stream, holding whatever it held */
    sleep_ms(300);
    out = bridge_process(u, "--out", h.a, "tjs.kill", "host-a", stats);
    read_until(h.rb, &t, 10000, 60000);
    kill_process(in);
    sleep_ms(300);
    in = bridge_process(u, "--in", h.b, "tjs.kill", "host-b", NULL);
    read_bcast(h.rb, &t, 90000, N_FAULT, 1);
    writer_join(&w);
    report("bridges killed and restarted", &t);
    assert_int_equal(t.distinct, N_FAULT); /* nothing lost */
    /* at least once: a crash may repeat what was in flight, no more than
     * two windows' worth (one per bridge killed) */
    assert_true(t.dups <= 2 * 256);
    kill(out, SIGTERM);
    kill(in, SIGTERM);
    int ws;
    waitpid(out, &ws, 0);
    assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
    waitpid(in, &ws, 0);
    assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
    /* the restarted outbound bridge found its place in the stream: it
     * skipped what the stream had, and the server dropped the repeats */
    FILE *f = fopen(stats, "r");
    assert_non_null(f);
    char line[2048] = "";
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    unlink(stats);
    fprintf(stderr, "  restarted out bridge: %s", line);
    const char *r = strstr(line, "\"out_resumed_after\": ");
    const char *k = strstr(line, "\"out_skipped\": ");
    assert_non_null(r);
    assert_non_null(k);
    uint64_t resumed = strtoull(r + strlen("\"out_resumed_after\": "), NULL, 10);
    assert_true(resumed >= 4000 && resumed < N_FAULT - 1000); /* mid-stream */
    assert_true(strtoull(k + strlen("\"out_skipped\": "), NULL, 10) >= 3000);
    free(t.seen);
    hosts_close(&h);
    server_stop(&s);
    rm_store(store);
}

/* ---- bad setups ----------------------------------------------------------------------------- */

static void bad_setups_say_why(void **state)
{
    (void)state;
    /* a server without JetStream */
    server s;
    server_start(&s, 0, NULL);
    char u[64];
    url(&s, u, sizeof u);
    const char *a = uniq(0, "jbad");
    klaw_bcast_opts oa = {.capacity = 64, .max_frame = MAXF, .policy = KLAW_POLICY_BLOCK, .name = a};
    klaw_bcast_tx *ta;
    assert_int_equal(klaw_bcast_create(&oa, &ta), KLAW_OK);
    klaw_nats_opts o = {.servers = u, .channel = a, .subject = "tjs.bad", .direction = KLAW_NATS_OUT,
                        .delivery = KLAW_NATS_JETSTREAM};
    klaw_nats_bridge *b = NULL;
    const char *why = NULL;
    assert_int_equal(klaw_nats_bridge_start(&o, &b, &why), KLAW_SYS);
    assert_null(b);
    assert_non_null(why);
    assert_non_null(strstr(why, "JetStream"));
    server_stop(&s);
    /* a stream that does not hold the subject */
    char store[128] = "";
    js_server_start(&s, 0, store, sizeof store);
    url(&s, u, sizeof u);
    o.subject = "tjs.one";
    o.stream = "TJS_BAD";
    b = js_bridge(u, a, "tjs.one", KLAW_NATS_OUT, "host-a", "TJS_BAD", 1);
    klaw_nats_bridge_stop(b);
    o.subject = "tjs.other";
    assert_int_equal(klaw_nats_bridge_start(&o, &b, &why), KLAW_INVAL);
    assert_non_null(strstr(why, "does not hold subject tjs.other"));
    /* an unknown delivery */
    o.delivery = (klaw_nats_delivery)7;
    assert_int_equal(klaw_nats_bridge_start(&o, &b, &why), KLAW_INVAL);
    klaw_bcast_tx_free(ta);
    klaw_region_unlink(a);
    server_stop(&s);
    rm_store(store);
}

int main(int argc, char **argv)
{
    klaw_exe = argc > 1 ? argv[1] : NULL;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bad_setups_say_why),
        cmocka_unit_test(broadcast_round_trip_through_a_stream),
        cmocka_unit_test(mpmc_two_hosts_share_a_durable),
        cmocka_unit_test(the_server_killed_and_restarted_loses_nothing_duplicates_nothing),
        cmocka_unit_test(an_r3_cluster_member_killed_loses_nothing),
        cmocka_unit_test(bridge_processes_killed_with_sigkill_and_restarted_lose_nothing),
    };
    if (getenv("KLAW_TEST_FILTER"))
        cmocka_set_test_filter(getenv("KLAW_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
