/*
 * peer_natsc.c - the bridge suite's peer: raw nats.c, a publisher and
 * subscribers on the suite's nats-server (the same server and subject
 * layout as klaw's side, bridge_klaw.c), with the same frames.
 *
 *   core:      writer -> natsConnection_Publish -> nats-server -> subscription -> reader
 *   JetStream: writer -> js_PublishMsgAsync -> stream -> pull consumer -> reader
 *
 * All in this process (threads). The writer has a connection of its own;
 * each "host" has one connection, and each reader a subscription on its
 * host's connection (1 host x 1 reader; in the fan-out case 4 hosts x 2
 * readers: the server sends each message once per subscription, 8 copies,
 * where klaw's side sends 4 and each host's channel fans out to its 2
 * readers).
 *
 * Core: each subscription is synchronous, its pending limit the bridge's
 * own (65536 messages, 256 MiB): past it nats.c drops, and the reader sees
 * a gap in the sequence numbers, counted as lost. The writer fills a
 * frame, stamps it and publishes it (natsConnection_Publish copies it into
 * nats.c's buffer, flushed by its flusher thread: nats.c's defaults, as
 * the bridge uses them). A reader takes each message with
 * natsSubscription_NextMsg and checks it in nats.c's buffer.
 *
 * JetStream (fanout_case.at_least_once): a stream of this run (a fresh
 * name, the run's subject, file storage, the server's duplicate window),
 * deleted by teardown. The writer publishes each frame as a natsMsg with
 * js_PublishMsgAsync, Nats-Msg-Id = its seq, at most ACK_WINDOW awaiting
 * their ack (jsOptions.PublishAsync.MaxPending; a publish past it waits in
 * nats.c). The ack handler counts acks; a failed publish is handed to the
 * writer, which publishes it again with the same id (the stream drops a
 * copy it had stored), and when no ack has come for ACK_WAIT_MS while
 * stalled the writer takes back everything pending and publishes it again
 * (acks lost). At the end it waits until every publish is acked. Each
 * reader has a durable pull consumer of its own (explicit acks, AckWait
 * 5 s, as the bridge's inbound side): it fetches what is there, up to
 * FETCH_BATCH messages, checks each, then acks it (natsMsg_Ack).
 *
 * Probes (bridge.h) are plain core publishes on the subject: the stream
 * stores them in the order of the connection, between the frames.
 *
 * The end: NATS has no close a subscriber sees, so (as the fanout suite's
 * ZeroMQ peer) the writer publishes its final count in the run's control
 * block; a reader stops when it has the last frame (JetStream: every
 * frame), or when the writer is done and nothing has come for a while
 * (core IDLE_END_NS; JetStream run->still_ns, longer: the stream has every
 * frame, so one not taken then is lost and counted). The writer keeps its
 * connection until every reader has stopped.
 */
#include <pthread.h>
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
enum {
    NEXT_MSG_TIMEOUT_MS = 10,
    NC_NAME = 96,
    ACK_WINDOW = 256,    /* JetStream: publishes awaiting their ack (the bridge's ack_window) */
    ACK_WAIT_MS = 2000,  /* ... no ack for this long: sent again (the bridge's ack_wait_ms)   */
    CONSUMER_ACK_WAIT_MS = 5000, /* the pull consumers' AckWait (the bridge's inbound default) */
    FETCH_BATCH = 256,   /* messages a reader fetches at most at once                       */
    FETCH_WAIT_MS = 100, /* a fetch with nothing there waits this long at most               */
};

typedef struct nc_state {
    fanout_case k;
    unsigned hosts;
    char subject[NC_NAME];
    natsConnection *pub;
    natsConnection *host[FANOUT_MAX_READERS];
    natsSubscription *sub[FANOUT_MAX_READERS]; /* reader j's             */
    /* JetStream */
    char stream[NC_NAME];
    bool stream_made;
    jsCtx *js;                                 /* the writer's           */
    jsCtx *host_js[FANOUT_MAX_READERS];
    _Atomic uint64_t acks;                     /* positive acks          */
    _Atomic uint32_t failed_n;                 /* failed[] is not empty  */
    pthread_mutex_t mu;                        /* guards failed[]        */
    bool mu_made;
    natsMsg **failed;                          /* to publish again       */
    size_t nfailed, failed_cap;
    uint64_t retries;                          /* the writer's           */
    uint64_t deadline_ns;                      /* the run's              */
    uint8_t frame[4096];                       /* the writer's           */
} nc_state;

static const char *nc_cannot(const fanout_case *k)
{
    if (k->process || k->frame_bytes > sizeof ((nc_state *)0)->frame)
        return "the bridge suite runs threads only, frames up to 4 KiB";
    return NULL;
}

/* ---- JetStream: the stream, the ack handler --------------------------------------- */

/* Publish acks come on nats.c's thread for the context's reply
 * subscription. A failure is not published again here: a publish from this
 * thread may have to wait for room among the ACK_WINDOW pending ones, and
 * only this thread makes room. The writer publishes it again. */
static void js_acked(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
    nc_state *st = closure;
    (void)js;
    (void)pae;
    if (__builtin_expect(pa != NULL, 1)) {
        atomic_fetch_add_explicit(&st->acks, 1, memory_order_relaxed);
        natsMsg_Destroy(msg);
        return;
    }
    pthread_mutex_lock(&st->mu);
    if (st->nfailed == st->failed_cap) {
        size_t cap = st->failed_cap ? 2 * st->failed_cap : ACK_WINDOW;
        natsMsg **f = realloc(st->failed, cap * sizeof *f);
        if (!f) {
            /* lost for good: the readers will count it */
            pthread_mutex_unlock(&st->mu);
            natsMsg_Destroy(msg);
            return;
        }
        st->failed = f;
        st->failed_cap = cap;
    }
    st->failed[st->nfailed++] = msg;
    /* pairs with the acquire loads in send_frame and js_complete */
    atomic_store_explicit(&st->failed_n, 1, memory_order_release);
    pthread_mutex_unlock(&st->mu);
}

/* JetStream publishing, the writer's: a publish that found ACK_WINDOW
 * pending for nats.c's whole stall wait (NATS_TIMEOUT; the message is still
 * ours) is tried again; when no ack at all has come for ACK_WAIT_MS, every
 * pending publish is taken back and sent again (acks lost: the stream
 * drops the copies it stored). Until the run's deadline. */
static natsStatus __attribute__((cold, noinline)) js_retry_pending(nc_state *st)
{
    natsMsgList pending = {0};
    natsStatus s = js_PublishAsyncGetPendingList(&pending, st->js);
    if (s == NATS_NOT_FOUND)
        return NATS_OK; /* none */
    for (int i = 0; i < pending.Count && s == NATS_OK; i++) {
        /* nothing is pending now: these fit, unless acks stay away */
        while ((s = js_PublishMsgAsync(st->js, &pending.Msgs[i], NULL)) == NATS_TIMEOUT &&
               bench_now_ns() < st->deadline_ns) {
        }
        st->retries++;
    }
    natsMsgList_Destroy(&pending); /* destroys the ones not taken */
    return s;
}

static natsStatus __attribute__((cold, noinline)) js_publish_stalled(nc_state *st, natsMsg **m, jsPubOptions *po)
{
    uint64_t since = bench_now_ns(), acks_then = atomic_load_explicit(&st->acks, memory_order_relaxed);
    natsStatus s = NATS_TIMEOUT;
    while (s == NATS_TIMEOUT && bench_now_ns() < st->deadline_ns) {
        uint64_t now = bench_now_ns(), acks = atomic_load_explicit(&st->acks, memory_order_relaxed);
        if (acks != acks_then) {
            since = now;
            acks_then = acks;
        } else if (now - since > (uint64_t)ACK_WAIT_MS * 1000000) {
            if ((s = js_retry_pending(st)) != NATS_OK)
                return s;
            since = now;
        }
        s = js_PublishMsgAsync(st->js, m, po);
    }
    return s;
}

/* Publishes *m (nats.c takes it and sets *m to NULL). */
static inline natsStatus js_publish(nc_state *st, natsMsg **m, jsPubOptions *po)
{
    natsStatus s = js_PublishMsgAsync(st->js, m, po);
    if (__builtin_expect(s == NATS_TIMEOUT, 0))
        s = js_publish_stalled(st, m, po);
    return s;
}

/* Publishes again what the ack handler said failed. */
static natsStatus __attribute__((cold, noinline)) js_retry_failed(nc_state *st)
{
    natsStatus s = NATS_OK;
    pthread_mutex_lock(&st->mu);
    size_t n = st->nfailed;
    natsMsg **f = st->failed;
    st->failed = NULL;
    st->nfailed = st->failed_cap = 0;
    atomic_store_explicit(&st->failed_n, 0, memory_order_relaxed);
    pthread_mutex_unlock(&st->mu);
    for (size_t i = 0; i < n; i++) {
        if (s == NATS_OK) {
            s = js_publish(st, &f[i], NULL); /* the same Nats-Msg-Id */
            st->retries++;
        }
        natsMsg_Destroy(f[i]); /* NULL once nats.c took it */
    }
    free(f);
    return s;
}

/* The stream (its name, and the durables', may not hold '.'), the contexts
 * and each reader's durable pull consumer. */
static natsStatus js_setup(nc_state *st, const char **what)
{
    jsOptions jo;
    jsStreamConfig sc;
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    const char *subjects[1] = {st->subject};
    natsStatus s;

    if (pthread_mutex_init(&st->mu, NULL) != 0)
        return NATS_NO_MEMORY;
    st->mu_made = true;
    jsOptions_Init(&jo);
    jo.PublishAsync.MaxPending = ACK_WINDOW;
    jo.PublishAsync.AckHandler = js_acked;
    jo.PublishAsync.AckHandlerClosure = st;
    *what = "natsConnection_JetStream";
    s = natsConnection_JetStream(&st->js, st->pub, &jo);
    for (unsigned h = 0; h < st->hosts && s == NATS_OK; h++)
        s = natsConnection_JetStream(&st->host_js[h], st->host[h], NULL);
    if (s != NATS_OK)
        return s;

    bridge_unique(st->stream, sizeof st->stream, "KLAW-BENCH-NATSC");
    jsStreamConfig_Init(&sc);
    sc.Name = st->stream;
    sc.Subjects = subjects;
    sc.SubjectsLen = 1;
    sc.Storage = js_FileStorage;
    *what = "js_AddStream";
    s = js_AddStream(&si, st->js, &sc, NULL, &jerr);
    jsStreamInfo_Destroy(si);
    if (s != NATS_OK)
        return s;
    st->stream_made = true;

    for (unsigned j = 0; j < st->k.readers && s == NATS_OK; j++) {
        char durable[NC_NAME];
        jsSubOptions so;
        jsSubOptions_Init(&so);
        so.Stream = st->stream;
        so.Config.AckPolicy = js_AckExplicit;
        so.Config.AckWait = (int64_t)CONSUMER_ACK_WAIT_MS * 1000000;
        bridge_unique(durable, sizeof durable, "klaw-bench-natsc-durable");
        *what = "js_PullSubscribe";
        s = js_PullSubscribe(&st->sub[j], st->host_js[j * st->hosts / st->k.readers], st->subject, durable, NULL,
                             &so, &jerr);
    }
    return s;
}

int bridge_stream_delete(const char *stream, char *err)
{
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    jsErrCode jerr = 0;
    natsStatus s = natsConnection_ConnectTo(&nc, bridge_server_url());
    if (s == NATS_OK)
        s = natsConnection_JetStream(&js, nc, NULL);
    if (s == NATS_OK)
        s = js_DeleteStream(js, stream, NULL, &jerr);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    if (s != NATS_OK && err)
        fanout_set_err(err, "js_DeleteStream %s: %s (%d)", stream, natsStatus_GetText(s), (int)jerr);
    return s == NATS_OK ? 0 : -1;
}

/* ---- setup ------------------------------------------------------------------------- */

static void nc_teardown(void *sv)
{
    nc_state *st = sv;
    for (unsigned j = 0; j < FANOUT_MAX_READERS; j++)
        natsSubscription_Destroy(st->sub[j]);
    if (st->stream_made) {
        jsErrCode jerr = 0;
        js_DeleteStream(st->js, st->stream, NULL, &jerr); /* its consumers go with it */
    }
    jsCtx_Destroy(st->js);
    for (unsigned h = 0; h < FANOUT_MAX_READERS; h++)
        jsCtx_Destroy(st->host_js[h]);
    for (unsigned h = 0; h < FANOUT_MAX_READERS; h++)
        natsConnection_Destroy(st->host[h]);
    natsConnection_Destroy(st->pub);
    if (st->mu_made) {
        for (size_t i = 0; i < st->nfailed; i++)
            natsMsg_Destroy(st->failed[i]);
        free(st->failed);
        pthread_mutex_destroy(&st->mu);
    }
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
    if (s == NATS_OK && k->at_least_once) {
        s = js_setup(st, &what);
    } else {
        for (unsigned j = 0; j < k->readers && s == NATS_OK; j++) {
            what = "natsConnection_SubscribeSync";
            s = natsConnection_SubscribeSync(&st->sub[j], st->host[j * st->hosts / k->readers], st->subject);
            if (s == NATS_OK) {
                what = "natsSubscription_SetPendingLimits";
                s = natsSubscription_SetPendingLimits(st->sub[j], 65536, 256 << 20);
            }
        }
    }
    /* the subscriptions reach the server (the probes make sure of it) */
    for (unsigned h = 0; h < st->hosts && s == NATS_OK; h++) {
        what = "natsConnection_Flush";
        s = natsConnection_Flush(st->host[h]);
    }
    if (s != NATS_OK) {
        fanout_set_err(err, "%s (%s): %s: %s", what, bridge_server_url(), natsStatus_GetText(s), nats_GetLastError(NULL));
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

/* ---- the writer ------------------------------------------------------------------------ */

static int nc_probe(void *sv, uint64_t round)
{
    nc_state *st = sv;
    fanout_fill(st->frame, st->k.frame_bytes, 0, 0);
    fanout_stamp(st->frame, round);
    return natsConnection_Publish(st->pub, st->subject, st->frame, (int)st->k.frame_bytes) == NATS_OK ? 0 : -1;
}

/* The Nats-Msg-Id of frame seq: its decimal digits (the stream is this
 * run's alone). nats.c wants a string for every message. */
static inline void msg_id(char *buf, uint64_t seq)
{
    char t[24];
    int n = 0;
    do
        t[n++] = (char)('0' + seq % 10);
    while ((seq /= 10) != 0);
    for (int i = 0; i < n; i++)
        buf[i] = t[n - 1 - i];
    buf[n] = '\0';
}

/* One frame, stamped just before it is published. */
static natsStatus send_frame(nc_state *st, uint64_t seq, uint32_t flags)
{
    const uint32_t fb = st->k.frame_bytes;
    fanout_fill(st->frame, fb, seq, flags);
    if (!st->k.at_least_once) {
        fanout_stamp(st->frame, bench_now_ns());
        return natsConnection_Publish(st->pub, st->subject, st->frame, (int)fb);
    }
    /* JetStream: acquire pairs with the release in js_acked */
    if (__builtin_expect(atomic_load_explicit(&st->failed_n, memory_order_acquire) != 0, 0)) {
        natsStatus s = js_retry_failed(st);
        if (s != NATS_OK)
            return s;
    }
    char id[24];
    jsPubOptions po;
    natsMsg *m = NULL;
    msg_id(id, seq);
    jsPubOptions_Init(&po);
    po.MsgId = id;
    fanout_stamp(st->frame, bench_now_ns());
    natsStatus s = natsMsg_Create(&m, st->subject, NULL, (const char *)st->frame, (int)fb);
    if (s == NATS_OK)
        s = js_publish(st, &m, &po);
    natsMsg_Destroy(m); /* NULL once nats.c took it */
    return s;
}

/* JetStream: until every publish is acked (failures and silence retried). */
static natsStatus js_complete(nc_state *st, fanout_run *run)
{
    jsPubOptions po;
    natsStatus s = NATS_OK;
    jsPubOptions_Init(&po);
    po.MaxWait = ACK_WAIT_MS;
    while (bench_now_ns() < run->deadline_ns) {
        s = js_PublishAsyncComplete(st->js, &po);
        /* the handler queued a failure before its publish stopped counting
         * as pending: once complete, failed_n shows it (acquire pairs with
         * the release in js_acked) */
        if (s == NATS_OK && atomic_load_explicit(&st->failed_n, memory_order_acquire) == 0)
            return NATS_OK;
        if (s == NATS_TIMEOUT)
            s = js_retry_pending(st);
        if (s == NATS_OK)
            s = js_retry_failed(st);
        if (s != NATS_OK)
            return s;
    }
    return NATS_TIMEOUT;
}

static int nc_write(void *sv, void *w, fanout_run *run, char *err)
{
    nc_state *st = sv;
    natsStatus s = NATS_OK;
    uint64_t seq = 1;
    int rc = 0;
    (void)w;

    st->deadline_ns = run->deadline_ns;
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
        fanout_set_err(err, "%s (seq %llu): %s", st->k.at_least_once ? "js_PublishMsgAsync" : "natsConnection_Publish",
                       (unsigned long long)seq, natsStatus_GetText(s));
        rc = -1;
    }
    atomic_store(&run->wr.published, seq - 1);
    atomic_store(&run->wr.done, 1);
    if (st->k.at_least_once && rc == 0 && (s = js_complete(st, run)) != NATS_OK) {
        fanout_set_err(err, "publishes not acked by the end: %s", natsStatus_GetText(s));
        rc = -1;
    }
    run->wr.retries = st->retries;
    natsConnection_FlushTimeout(st->pub, 2000);
    /* keep the connection until every reader has stopped */
    while (atomic_load(&run->readers_done) < run->k->readers && bench_now_ns() < run->deadline_ns) {
        struct timespec t = {0, 1000000};
        nanosleep(&t, NULL);
    }
    return rc;
}

/* ---- the readers ------------------------------------------------------------------------- */

static int nc_read_core(natsSubscription *sub, fanout_run *run, fanout_reader *rd, char *err)
{
    uint64_t idle_since = 0;
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

/* JetStream: natsSubscription_Fetch of FETCH_BATCH would hold a frame of
 * the paced phase until FETCH_BATCH more came or its timeout passed (a
 * waiting pull request ends only then), so a reader asks for what is
 * there (up to FETCH_BATCH, no wait) while frames keep coming, and waits
 * for one when there was nothing. */
static int nc_read_js(natsSubscription *sub, fanout_run *run, fanout_reader *rd, char *err)
{
    uint64_t idle_since = 0;
    bool wait = true;
    for (;;) {
        natsMsgList list = {0};
        jsErrCode jerr = 0;
        natsStatus s;
        if (wait) {
            s = natsSubscription_Fetch(&list, sub, 1, FETCH_WAIT_MS, &jerr);
        } else {
            jsFetchRequest req;
            jsFetchRequest_Init(&req);
            req.Batch = FETCH_BATCH;
            req.NoWait = true;
            req.Expires = (int64_t)FETCH_WAIT_MS * 1000000; /* for the answer */
            s = natsSubscription_FetchRequest(&list, sub, &req);
        }
        if (s == NATS_OK) {
            uint64_t now = bench_now_ns();
            for (int i = 0; i < list.Count; i++) {
                natsMsg *m = list.Msgs[i];
                const uint8_t *p = (const uint8_t *)natsMsg_GetData(m);
                size_t len = (size_t)natsMsg_GetDataLength(m);
                if (!bridge_take_probe(rd, p, len))
                    fanout_take(rd, p, len, now);
                s = natsMsg_Ack(m, NULL); /* checked: acked */
                if (s != NATS_OK)
                    break;
            }
            natsMsgList_Destroy(&list);
            if (s != NATS_OK) {
                fanout_set_err(err, "natsMsg_Ack: %s", natsStatus_GetText(s));
                return -1;
            }
            atomic_store_explicit(&rd->seen, fanout_reader_progress(rd), memory_order_relaxed);
            idle_since = 0;
            wait = false;
            if (atomic_load_explicit(&run->wr.done, memory_order_acquire) &&
                fanout_reader_complete(rd, atomic_load_explicit(&run->wr.published, memory_order_relaxed)))
                return 0;
            continue;
        }
        /* TIMEOUT: nothing came while waiting; NOT_FOUND: nothing there */
        if (s != NATS_TIMEOUT && s != NATS_NOT_FOUND) {
            fanout_set_err(err, "natsSubscription_Fetch: %s (%d): %s", natsStatus_GetText(s), (int)jerr,
                           nats_GetLastError(NULL));
            return -1;
        }
        wait = true;
        uint64_t now = bench_now_ns();
        if (atomic_load_explicit(&run->wr.done, memory_order_acquire)) {
            if (fanout_reader_complete(rd, atomic_load_explicit(&run->wr.published, memory_order_relaxed)))
                return 0;
            if (!idle_since)
                idle_since = now;
            else if (now - idle_since > run->still_ns)
                return 0; /* what is missing is lost: the tally counts it */
        }
        if (now > run->deadline_ns) {
            fanout_set_err(err, "no end after %llu frames", (unsigned long long)rd->last);
            return -1;
        }
    }
}

static int nc_read(void *sv, void *w, fanout_run *run, fanout_reader *rd, char *err)
{
    nc_state *st = sv;
    return st->k.at_least_once ? nc_read_js(w, run, rd, err) : nc_read_core(w, run, rd, err);
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
