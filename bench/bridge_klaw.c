/*
 * bridge_klaw.c - klaw's side of the bridge suite (suite_bridge.c): a
 * writer's broadcast channel, a libklaw-nats bridge out of it, the suite's
 * nats-server, a bridge into a second channel per "host", and the readers
 * of those channels; behind the fanout runner's interface (fanout.h), as
 * peer_natsc.c puts raw nats.c behind it.
 *
 *   writer -> channel A -> bridge out -> nats-server -> bridge in -> channel B_h -> readers
 *                                        (one subject)  (one per host h)
 *
 * All in this process (threads; the runner's workers are the writer and
 * the readers, the bridges have their own threads, nats.c its own). Every
 * channel is named (a bridge opens its channel by name), capacity
 * FANOUT_RING_SLOTS, max_frame the frame size, policy BLOCK: the writer
 * goes as fast as the bridge out takes frames (back-pressure, nothing lost
 * in A), and a reader that falls behind holds its bridge in, whose nats.c
 * subscription then queues up to its pending limit (65536 messages) and
 * drops past it: the loss core NATS allows, where it happens, the same
 * limit the raw nats.c readers have. Each bridge has an origin of its own
 * (one process, so the default "<host>/<pid>" would make the bridges in
 * ignore the bridge out's messages as their own).
 *
 * JetStream (fanout_case.at_least_once): the same shape with every bridge's
 * delivery KLAW_NATS_JETSTREAM, on a stream of this run (a fresh name; the
 * bridges make it, teardown deletes it) and a fresh durable per bridge in;
 * ack_window and ack_wait_ms are the library's defaults. The bridge out
 * publishes asynchronously and keeps the frames of A it has not had acked
 * viewed (BLOCK), so the writer feels the stream; the bridge in fetches
 * from its durable, commits each message to B, then acks it.
 *
 * The writer claims 128 frames at a time in the saturation phase (as the
 * fanout suite's klaw writer) and one at a time when paced, stamping each
 * just before its commit; the bridge out publishes each frame as its own
 * message (with its Klaw-* headers). Readers block in
 * klaw_bcast_view_batch (up to 128 frames), check each in place, release.
 *
 * The end: the writer closes A; the bridge out drains it, flushes and
 * finishes; the writer waits until the readers have the last frame (or
 * stopped moving: it was lost), then stops the bridges in, whose writer
 * handles were B's only ones, so each B closes and its readers drain and
 * get KLAW_CLOSED.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "bridge.h"
#include "fanout.h"

#ifndef KLAW_BENCH_HAVE_NATS

static const char *bk_cannot(const fanout_case *k)
{
    (void)k;
    return "nats.c (libnats-dev) was not found when klaw-bench was built: no libklaw-nats";
}

const fanout_impl bridge_klaw = {.name = "klaw_bridge", .cannot = bk_cannot};

#else

#include "klaw/broadcast.h"
#include "klaw/nats.h"
#include "klaw/region.h"

enum { BK_NAME = 96 };

typedef struct bk_state {
    fanout_case k;
    unsigned hosts;
    char a[BK_NAME];                       /* the writer's channel        */
    char b[FANOUT_MAX_READERS][BK_NAME];   /* each host's channel         */
    char subject[BK_NAME];
    char stream[BK_NAME];                  /* JetStream: this run's       */
    klaw_bcast_tx *tx;                     /* A's only writer handle      */
    klaw_bcast_rx *rx[FANOUT_MAX_READERS]; /* reader j, on B_(j's host)   */
    klaw_nats_bridge *out;
    klaw_nats_bridge *in[FANOUT_MAX_READERS];
} bk_state;

static struct timespec to_timespec(uint64_t ns)
{
    return (struct timespec){(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
}

static const char *bk_cannot(const fanout_case *k)
{
    if (k->process)
        return "the bridge suite runs threads only";
    return NULL;
}

static void bk_teardown(void *sv)
{
    bk_state *st = sv;
    /* whatever the writer did not stop (a failed run) */
    for (unsigned h = 0; h < st->hosts; h++)
        klaw_nats_bridge_stop(st->in[h]);
    klaw_nats_bridge_stop(st->out);
    if (st->stream[0])
        bridge_stream_delete(st->stream, NULL); /* its durables go with it */
    for (unsigned i = 0; i < FANOUT_MAX_READERS; i++)
        klaw_bcast_rx_free(st->rx[i]);
    klaw_bcast_tx_free(st->tx);
    if (st->a[0])
        klaw_region_unlink(st->a);
    for (unsigned h = 0; h < st->hosts; h++)
        if (st->b[h][0])
            klaw_region_unlink(st->b[h]);
    free(st);
}

static klaw_nats_bridge *start_bridge(const bk_state *st, const char *channel, unsigned dir, const char *origin,
                                      char *err)
{
    klaw_nats_opts o = {.servers = bridge_server_url(), .channel = channel, .subject = st->subject,
                        .direction = dir, .delivery = KLAW_NATS_CORE, .origin = origin};
    char durable[BK_NAME];
    if (st->k.at_least_once) {
        o.delivery = KLAW_NATS_JETSTREAM;
        o.stream = st->stream;
        if (dir == KLAW_NATS_IN) {
            bridge_unique(durable, sizeof durable, "klaw-bench-bridge-durable");
            o.durable = durable;
        }
    }
    klaw_nats_bridge *b = NULL;
    const char *why = NULL;
    klaw_status s = klaw_nats_bridge_start(&o, &b, &why);
    if (s != KLAW_OK) {
        fanout_set_err(err, "klaw_nats_bridge_start %s %s%s: %s (%s)", channel, dir == KLAW_NATS_OUT ? "out" : "in",
                       st->k.at_least_once ? " (JetStream)" : "", klaw_strerror(s), why ? why : "");
        return NULL;
    }
    return b;
}

static void *bk_setup(const fanout_case *k, char *err)
{
    bk_state *st = calloc(1, sizeof *st);
    char origin[BK_NAME + 16];
    if (!st) {
        fanout_set_err(err, "out of memory");
        return NULL;
    }
    st->k = *k;
    st->hosts = k->hosts ? k->hosts : 1;
    klaw_bcast_opts o = {
        .capacity = FANOUT_RING_SLOTS,
        .max_frame = k->frame_bytes,
        .policy = KLAW_POLICY_BLOCK,
        .value_type = "klaw-bench bridge frame",
    };
    const char *what = "klaw_bcast_create";
    klaw_status s;

    bridge_unique(st->a, sizeof st->a, "klaw-bench-bridge-a");
    bridge_unique(st->subject, sizeof st->subject, "klaw-bench.bridge");
    if (k->at_least_once)
        bridge_unique(st->stream, sizeof st->stream, "KLAW-BENCH-BRIDGE");
    o.name = st->a;
    o.flags = KLAW_BCAST_SINGLE_WRITER; /* the writer's, as in the fanout suite */
    s = klaw_bcast_create(&o, &st->tx);
    if (s != KLAW_OK) {
        st->a[0] = '\0';
        goto fail;
    }
    o.flags = 0;
    for (unsigned h = 0; h < st->hosts; h++) {
        /* no writer handle: the bridge in brings the only one, and B closes
         * when it stops */
        bridge_unique(st->b[h], sizeof st->b[h], "klaw-bench-bridge-b");
        o.name = st->b[h];
        s = klaw_bcast_create(&o, NULL);
        if (s != KLAW_OK) {
            st->b[h][0] = '\0';
            goto fail;
        }
    }
    what = "klaw_bcast_open_rx";
    for (unsigned j = 0; j < k->readers; j++) {
        char rid[32];
        snprintf(rid, sizeof rid, "bench-reader-%u", j);
        s = klaw_bcast_open_rx(st->b[j * st->hosts / k->readers], KLAW_BCAST_FROM_TAIL, rid, &st->rx[j]);
        if (s != KLAW_OK)
            goto fail;
    }
    for (unsigned h = 0; h < st->hosts; h++) {
        snprintf(origin, sizeof origin, "%s-in-%u", st->subject, h);
        st->in[h] = start_bridge(st, st->b[h], KLAW_NATS_IN, origin, err);
        if (!st->in[h])
            goto fail_err;
    }
    snprintf(origin, sizeof origin, "%s-out", st->subject);
    st->out = start_bridge(st, st->a, KLAW_NATS_OUT, origin, err);
    if (!st->out)
        goto fail_err;
    return st;
fail:
    fanout_set_err(err, "%s: %s", what, klaw_strerror(s));
fail_err:
    bk_teardown(st);
    return NULL;
}

static void *bk_attach(void *sv, bool writer, unsigned id, char *err)
{
    bk_state *st = sv;
    (void)err;
    return writer ? (void *)st->tx : (void *)st->rx[id];
}

static void bk_attached(void *sv) { (void)sv; }

typedef struct bk_writer {
    bk_state *st;
    klaw_bcast_tx *tx;
    struct timespec dl;
} bk_writer;

static int bk_probe(void *wv, uint64_t round)
{
    bk_writer *w = wv;
    klaw_frame f;
    if (klaw_bcast_claim(w->tx, w->st->k.frame_bytes, &w->dl, &f) != KLAW_OK)
        return -1;
    fanout_fill(f.data, w->st->k.frame_bytes, 0, 0);
    fanout_stamp(f.data, round);
    return klaw_bcast_commit(w->tx, &f, w->st->k.frame_bytes) == KLAW_OK ? 0 : -1;
}

static int bk_write(void *sv, void *wh, fanout_run *run, char *err)
{
    bk_state *st = sv;
    bk_writer w = {st, wh, to_timespec(run->deadline_ns)};
    const uint32_t fb = st->k.frame_bytes;
    klaw_frame f[FANOUT_BATCH];
    klaw_status s = KLAW_OK;
    uint64_t seq = 1;
    size_t got = 0;
    const char *what = "";
    int rc = 0;

    if (bridge_probe_round(run, 1, bk_probe, &w, err) != 0) {
        rc = -1;
        goto out;
    }
    uint64_t now = bench_now_ns();
    run->wr.start_ns = now;
    const uint64_t end = now + run->phase_ns;
    while (now < end) {
        s = klaw_bcast_claim_batch(w.tx, fb, f, FANOUT_BATCH, &got, &w.dl);
        if (s != KLAW_OK) {
            what = "klaw_bcast_claim_batch";
            goto out;
        }
        for (size_t i = 0; i < got; i++)
            fanout_fill(f[i].data, fb, seq + i, 0);
        now = bench_now_ns();
        for (size_t i = 0; i < got; i++)
            fanout_stamp(f[i].data, now);
        s = klaw_bcast_commit_batch(w.tx, f, got);
        if (s != KLAW_OK) {
            what = "klaw_bcast_commit_batch";
            goto out;
        }
        seq += got;
    }
    run->wr.end1_ns = bench_now_ns();
    run->wr.n1 = seq - 1;
    atomic_store(&run->wr.published, seq - 1);
    fanout_wait_caught_up(run, seq - 1);
    if (bridge_probe_round(run, 2, bk_probe, &w, err) != 0) {
        rc = -1;
        goto out;
    }

    fanout_pacer pacer;
    fanout_pace_start(&pacer, run, false);
    while (fanout_pace(&pacer)) {
        s = klaw_bcast_claim(w.tx, fb, &w.dl, &f[0]);
        if (s != KLAW_OK) {
            what = "klaw_bcast_claim";
            goto out;
        }
        fanout_fill(f[0].data, fb, seq, FANOUT_F_PACED);
        fanout_stamp(f[0].data, bench_now_ns());
        s = klaw_bcast_commit(w.tx, &f[0], fb);
        if (s != KLAW_OK) {
            what = "klaw_bcast_commit";
            goto out;
        }
        seq++;
    }
out:
    atomic_store(&run->wr.published, seq - 1);
    atomic_store(&run->wr.done, 1);
    /* A's last writer: the bridge out drains it, flushes, finishes */
    klaw_bcast_tx_close(w.tx);
    klaw_bcast_tx_free(w.tx);
    st->tx = NULL;
    while (!klaw_nats_bridge_done(st->out) && bench_now_ns() < run->deadline_ns) {
        struct timespec t = {0, 1000000};
        nanosleep(&t, NULL);
    }
    klaw_nats_stats bs;
    klaw_nats_bridge_stats(st->out, &bs);
    run->wr.retries = bs.out_retries;
    fanout_wait_caught_up(run, seq - 1);
    /* B's only writers: each B closes, its readers drain */
    for (unsigned h = 0; h < st->hosts; h++) {
        klaw_nats_bridge_stop(st->in[h]);
        st->in[h] = NULL;
    }
    if (s != KLAW_OK) {
        fanout_set_err(err, "%s: %s (after %llu frames)", what, klaw_strerror(s), (unsigned long long)(seq - 1));
        return -1;
    }
    return rc;
}

static int bk_read(void *sv, void *wh, fanout_run *run, fanout_reader *rd, char *err)
{
    bk_state *st = sv;
    klaw_bcast_rx *rx = wh;
    const struct timespec dl = to_timespec(run->deadline_ns);
    klaw_frame f[FANOUT_BATCH];
    klaw_status s;
    const char *what = "klaw_bcast_view_batch";

    for (;;) {
        size_t got = 0;
        uint64_t lagged = 0;
        s = klaw_bcast_view_batch(rx, f, FANOUT_BATCH, &got, &lagged, &dl);
        if (s == KLAW_LAGGED)
            continue; /* not under BLOCK; were it, the gap in seq counts it */
        if (s != KLAW_OK)
            break;
        uint64_t now = bench_now_ns();
        for (size_t i = 0; i < got; i++)
            if (!bridge_take_probe(rd, f[i].data, f[i].len))
                fanout_take(rd, f[i].data, f[i].len, now);
        s = klaw_bcast_release_batch(rx, f, got);
        if (s != KLAW_OK) {
            what = "klaw_bcast_release_batch";
            break;
        }
        atomic_store_explicit(&rd->seen, fanout_reader_progress(rd), memory_order_relaxed);
    }
    st->rx[rd - run->rd] = NULL;
    klaw_bcast_rx_free(rx);
    if (s != KLAW_CLOSED) {
        fanout_set_err(err, "%s: %s", what, klaw_strerror(s));
        return -1;
    }
    return 0;
}

/* Threads: teardown frees what setup made. */
static void bk_abandon(void *sv, void *w, bool writer)
{
    (void)sv;
    (void)w;
    (void)writer;
}

const fanout_impl bridge_klaw = {
    .name = "klaw_bridge",
    .exact_gaps = false,
    .cannot = bk_cannot,
    .setup = bk_setup,
    .attach = bk_attach,
    .attached = bk_attached,
    .write = bk_write,
    .read = bk_read,
    .abandon = bk_abandon,
    .teardown = bk_teardown,
};

#endif /* KLAW_BENCH_HAVE_NATS */
