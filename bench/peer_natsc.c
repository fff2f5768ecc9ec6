/*
 * peer_natsc.c - the bridge suite's peer: raw nats.c, a publisher and
 * subscribers on the suite's nats-server (the same server and subject
 * layout as klaw's side, bridge_klaw.c), with the same frames.
 *
 *   writer -> natsConnection_Publish -> nats-server -> subscription -> reader
 *
 * All in this process (threads). The writer has a connection of its own;
 * each "host" has one connection, and each reader a synchronous
 * subscription on its host's connection (1 host x 1 reader; in the
 * fan-out case 4 hosts x 2 readers: the server sends each message once
 * per subscription, 8 copies, where klaw's side sends 4 and each host's
 * channel fans out to its 2 readers). Each subscription's pending limit is
 * the bridge's own (65536 messages, 256 MiB): past it nats.c drops, and
 * the reader sees a gap in the sequence numbers, counted as lost.
 *
 * The writer fills a frame, stamps it and publishes it
 * (natsConnection_Publish copies it into nats.c's buffer, flushed by its
 * flusher thread: nats.c's defaults, as the bridge uses them). A reader
 * takes each message with natsSubscription_NextMsg and checks it in
 * nats.c's buffer.
 *
 * The end: core NATS has no close a subscriber sees, so (as the fanout
 * suite's ZeroMQ peer) the writer publishes its final count in the run's
 * control block; a reader stops when it has the last frame, or when the
 * writer is done and nothing has come for IDLE_END_NS (the last frames
 * were dropped). The writer keeps its connection until every reader has
 * stopped.
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

static const char *nc_cannot(const fanout_case *k)
{
    (void)k;
    return "nats.c (libnats-dev) was not found when klaw-bench was built";
}

const fanout_impl bridge_peer_natsc = {.name = "nats_c", .cannot = nc_cannot};

#else

#include <nats/nats.h>

#define IDLE_END_NS UINT64_C(200000000)
enum { NEXT_MSG_TIMEOUT_MS = 10, NC_NAME = 96 };

typedef struct nc_state {
    fanout_case k;
    unsigned hosts;
    char subject[NC_NAME];
    natsConnection *pub;
    natsConnection *host[FANOUT_MAX_READERS];
    natsSubscription *sub[FANOUT_MAX_READERS]; /* reader j's             */
    uint8_t frame[4096];                       /* the writer's           */
} nc_state;

static const char *nc_cannot(const fanout_case *k)
{
    if (k->process || k->frame_bytes > sizeof ((nc_state *)0)->frame)
        return "the bridge suite runs threads only, frames up to 4 KiB";
    return NULL;
}

static void nc_teardown(void *sv)
{
    nc_state *st = sv;
    for (unsigned j = 0; j < FANOUT_MAX_READERS; j++)
        natsSubscription_Destroy(st->sub[j]);
    for (unsigned h = 0; h < FANOUT_MAX_READERS; h++)
        natsConnection_Destroy(st->host[h]);
    natsConnection_Destroy(st->pub);
    free(st);
}

static void *nc_setup(const fanout_case *k, char *err)
{
    nc_state *st = calloc(1, sizeof *st);
    const char *what = "natsConnection_ConnectTo";
    natsStatus s;
    if (!st) {
        fanout_set_err(err, "out of memory");
        return NULL;
    }
    st->k = *k;
    st->hosts = k->hosts ? k->hosts : 1;
    bridge_unique(st->subject, sizeof st->subject, "klaw-bench.natsc");
    s = natsConnection_ConnectTo(&st->pub, bridge_server_url());
    for (unsigned h = 0; h < st->hosts && s == NATS_OK; h++)
        s = natsConnection_ConnectTo(&st->host[h], bridge_server_url());
    for (unsigned j = 0; j < k->readers && s == NATS_OK; j++) {
        what = "natsConnection_SubscribeSync";
        s = natsConnection_SubscribeSync(&st->sub[j], st->host[j * st->hosts / k->readers], st->subject);
        if (s == NATS_OK) {
            what = "natsSubscription_SetPendingLimits";
            s = natsSubscription_SetPendingLimits(st->sub[j], 65536, 256 << 20);
        }
    }
    /* the subscriptions reach the server (the probes make sure of it) */
    for (unsigned h = 0; h < st->hosts && s == NATS_OK; h++) {
        what = "natsConnection_Flush";
        s = natsConnection_Flush(st->host[h]);
    }
    if (s != NATS_OK) {
        fanout_set_err(err, "%s (%s): %s", what, bridge_server_url(), natsStatus_GetText(s));
        nc_teardown(st);
        return NULL;
    }
    return st;
}

static void *nc_attach(void *sv, bool writer, unsigned id, char *err)
{
    nc_state *st = sv;
    (void)err;
    return writer ? (void *)st->pub : (void *)st->sub[id];
}

static void nc_attached(void *sv) { (void)sv; }

static int nc_probe(void *sv, uint64_t round)
{
    nc_state *st = sv;
    fanout_fill(st->frame, st->k.frame_bytes, 0, 0);
    fanout_stamp(st->frame, round);
    return natsConnection_Publish(st->pub, st->subject, st->frame, (int)st->k.frame_bytes) == NATS_OK ? 0 : -1;
}

/* One frame, stamped just before it is published. */
static natsStatus send_frame(nc_state *st, uint64_t seq, uint32_t flags)
{
    const uint32_t fb = st->k.frame_bytes;
    fanout_fill(st->frame, fb, seq, flags);
    fanout_stamp(st->frame, bench_now_ns());
    return natsConnection_Publish(st->pub, st->subject, st->frame, (int)fb);
}

static int nc_write(void *sv, void *w, fanout_run *run, char *err)
{
    nc_state *st = sv;
    natsStatus s = NATS_OK;
    uint64_t seq = 1;
    int rc = 0;
    (void)w;

    if (bridge_probe_round(run, 1, nc_probe, st, err) != 0) {
        rc = -1;
        goto out;
    }
    uint64_t now = bench_now_ns();
    run->wr.start_ns = now;
    const uint64_t end = now + run->phase_ns;
    while (bench_now_ns() < end) {
        for (unsigned i = 0; i < FANOUT_BATCH; i++, seq++)
            if ((s = send_frame(st, seq, 0)) != NATS_OK)
                goto out; /* seq: the one that failed */
    }
    run->wr.end1_ns = bench_now_ns();
    run->wr.n1 = seq - 1;
    atomic_store(&run->wr.published, seq - 1);
    fanout_wait_caught_up(run, seq - 1);
    if (bridge_probe_round(run, 2, nc_probe, st, err) != 0) {
        rc = -1;
        goto out;
    }

    fanout_pacer pacer;
    fanout_pace_start(&pacer, run, false);
    while (fanout_pace(&pacer) && (s = send_frame(st, seq, FANOUT_F_PACED)) == NATS_OK)
        seq++;
out:
    if (s != NATS_OK) {
        fanout_set_err(err, "natsConnection_Publish (seq %llu): %s", (unsigned long long)seq, natsStatus_GetText(s));
        rc = -1;
    }
    atomic_store(&run->wr.published, seq - 1);
    atomic_store(&run->wr.done, 1);
    natsConnection_FlushTimeout(st->pub, 2000);
    /* keep the connection until every reader has stopped */
    while (atomic_load(&run->readers_done) < run->k->readers && bench_now_ns() < run->deadline_ns) {
        struct timespec t = {0, 1000000};
        nanosleep(&t, NULL);
    }
    return rc;
}

static int nc_read(void *sv, void *w, fanout_run *run, fanout_reader *rd, char *err)
{
    natsSubscription *sub = w;
    uint64_t idle_since = 0;
    (void)sv;
    for (;;) {
        natsMsg *m = NULL;
        natsStatus s = natsSubscription_NextMsg(&m, sub, NEXT_MSG_TIMEOUT_MS);
        if (s == NATS_OK) {
            uint64_t now = bench_now_ns();
            const uint8_t *p = (const uint8_t *)natsMsg_GetData(m);
            size_t len = (size_t)natsMsg_GetDataLength(m);
            if (!bridge_take_probe(rd, p, len))
                fanout_take(rd, p, len, now);
            natsMsg_Destroy(m);
            atomic_store_explicit(&rd->seen, rd->last, memory_order_relaxed);
            idle_since = 0;
            if (atomic_load_explicit(&run->wr.done, memory_order_acquire) &&
                rd->last == atomic_load_explicit(&run->wr.published, memory_order_relaxed))
                return 0;
            continue;
        }
        /* SLOW_CONSUMER: nats.c dropped messages for us (the gap counts them) */
        if (s != NATS_TIMEOUT && s != NATS_SLOW_CONSUMER) {
            fanout_set_err(err, "natsSubscription_NextMsg: %s", natsStatus_GetText(s));
            return -1;
        }
        uint64_t now = bench_now_ns();
        if (atomic_load_explicit(&run->wr.done, memory_order_acquire)) {
            if (rd->last == atomic_load_explicit(&run->wr.published, memory_order_relaxed))
                return 0;
            if (!idle_since)
                idle_since = now;
            else if (now - idle_since > IDLE_END_NS)
                return 0; /* the rest was dropped */
        }
        if (now > run->deadline_ns) {
            fanout_set_err(err, "no end after %llu frames", (unsigned long long)rd->last);
            return -1;
        }
    }
}

/* Threads: teardown frees what setup made. */
static void nc_abandon(void *sv, void *w, bool writer)
{
    (void)sv;
    (void)w;
    (void)writer;
}

const fanout_impl bridge_peer_natsc = {
    .name = "nats_c",
    .exact_gaps = false,
    .cannot = nc_cannot,
    .setup = nc_setup,
    .attach = nc_attach,
    .attached = nc_attached,
    .write = nc_write,
    .read = nc_read,
    .abandon = nc_abandon,
    .teardown = nc_teardown,
};

#endif /* KLAW_BENCH_HAVE_NATS */
