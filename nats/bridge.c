/*
 * nats/bridge.c - libklaw-nats: one named klaw channel <-> one NATS subject
 * (klaw/nats.h says what a bridge does; this file how).
 *
 * Threads and what they own:
 *  - the outbound thread (direction OUT): the channel's receiver handle.
 *    It views a batch of frames, copies each into a nats.c message (nats.c
 *    owns its buffers), releases the views - under OVERWRITE a release
 *    that says LAGGED means a copy may be torn, so that message is thrown
 *    away and counted - and publishes. Under BLOCK and on an mpmc, a
 *    publish that fails for want of a connection is retried with the view
 *    still held, so the writers feel it (back-pressure); under OVERWRITE
 *    it is counted as dropped (out_core).
 *  - nats.c's delivery thread (direction IN): the channel's sender handle,
 *    used only in on_msg(). It claims, copies the payload in, notes the
 *    position (see below) and commits.
 *  - the caller: start and stop; stats from any thread (atomics).
 *
 * No loops. A bridge that goes both ways on a broadcast channel would read
 * back, as its registered reader, the frames its inbound side just
 * committed. The inbound side records each position it claims in `own`
 * (a FIFO under own_mu) before it commits; the outbound side, seeing
 * position p, drops the FIFO's entries below p and skips p if it is the
 * front. Positions come out of one writer handle in increasing order and
 * the reader sees them in increasing order, so a FIFO suffices; it holds
 * 2 x capacity entries, and when full its oldest entry is at least a ring
 * older than the newest claim - a position overwritten already, which the
 * reader can never view - so dropping it loses nothing. The connection
 * is made with no echo, so the bridge never receives its own messages;
 * the Klaw-Origin header is checked too (in_own), for a second bridge that
 * was given the same origin.
 *
 * Stopping: the stop flag ends the outbound loop within one 100 ms slice;
 * the subscription is drained (no callback runs after that), the
 * connection flushed and closed, and only then are the channel handles
 * closed.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <nats/nats.h>

#include "klaw/broadcast.h"
#include "klaw/channel.h"
#include "klaw/mpmc.h"
#include "klaw/nats.h"
#include "klaw/watch.h"

/* ---- nats.c's internals on the hot path --------------------------------------
 *
 * Profiled (perf, klaw-bench bridge core 1_to_1 64 B) and then measured
 * call by call, most of the bridge's CPU per frame went to nats.c's public
 * message calls, not to moving bytes (docs/benchmarks.md has the figures):
 *  - out, natsMsg_Create + natsMsgHeader_Set x 3 + natsMsg_Destroy: each
 *    Set lifts the headers into a hash map (a calloc'd table), mallocs a
 *    value, strdups key and value (about 14 allocations a message), and
 *    Destroy hands the message to nats.c's garbage-collector thread (a
 *    lock, a condition signal, every free on that thread). A message made
 *    from a header block written here (one allocation) and freed in place
 *    costs a small fraction of that.
 *  - in, natsMsgHeader_Get(Klaw-Origin) lifts the whole header block into
 *    a hash map (about 8 allocations, freed on the collector's thread),
 *    where copying the block out and scanning it costs a small fraction.
 * So where nats.c is a version whose internals we know (3.4 up to 4; the
 * declarations below checked against 3.4.1 and nats.c's main), the bridge
 * makes its messages with natsMsg_create (the header block and the
 * payload in one buffer; nats.c publishes a block it has not lifted as
 * it is), frees them with natsMsg_free, and reads received headers with
 * natsMsgHeader_encode into a buffer of its own (hdr_find). nats.c exports
 * these, and its SONAME carries major.minor (libnats.so.3.4), so what runs
 * is what was built against; start checks it anyway (b->raw). Otherwise
 * the public calls do it; the same headers go on the wire either way
 * (test_nats checks both ends against nats.c's own reading). */
#if NATS_VERSION_MAJOR == 3 && NATS_VERSION_MINOR >= 4
#define KLAW_NATS_RAW 1
typedef struct __natsBuffer natsBuffer;
natsStatus natsMsg_create(natsMsg **newMsg, const char *subject, int subjLen, const char *reply, int replyLen,
                          const char *buf, int bufLen, int hdrLen);
void natsMsg_free(void *object);
int natsMsgHeader_encodedLen(natsMsg *msg);
natsStatus natsMsgHeader_encode(natsBuffer *buf, natsMsg *msg);
natsStatus natsBuf_CreateWithBackend(natsBuffer **newBuf, char *data, int len, int capacity);
void natsBuf_Reset(natsBuffer *buf);
void natsBuf_Destroy(natsBuffer *buf);
#else
#define KLAW_NATS_RAW 0
#endif

#define SLICE_MS 100
#define RETRY_NS 10000000L /* 10 ms between publish retries */
#define HDR_ORIGIN "Klaw-Origin"
#define HDR_CHANNEL "Klaw-Channel"
#define HDR_SEQ "Klaw-Seq"
#define HDR_MSG_ID "Nats-Msg-Id"
#define ORIGIN_MAX 128
#define JS_WINDOW 256         /* ack_window's default                       */
#define JS_ACK_WAIT_OUT 2000  /* ms */
#define JS_ACK_WAIT_IN 5000   /* ms */
#define JS_LOOK_BACK 256      /* stream messages searched for our last one */
#define JS_SEEN 65536         /* committed messages remembered (16 B each)  */
#define JS_STOP_MS 2000       /* how long a stop waits for acks             */
#define OUT_BATCH 64          /* core out: frames viewed at once            */
#define IN_HDR_MAX 4096       /* in: header blocks scanned in place (larger:
                                 nats.c's lift)                             */

/* JetStream out: one frame of the window in flight (bridge.c's JetStream
 * section). m is the message nats.c holds (NULL once done); done: acked,
 * skipped, or given up; held: the frame is still viewed (BLOCK, mpmc). */
struct js_fly {
    klaw_frame f;
    natsMsg *m;
    int done, held;
};

struct klaw_nats_bridge {
    char *channel, *subject, *queue;
    char origin[ORIGIN_MAX];
    klaw_channel_type kind;
    int block;          /* broadcast BLOCK or mpmc: back-pressure, not drops */
    uint32_t max_frame;
    unsigned dir;
    uint8_t *out_buf; /* watch out: the value copied out */

    /* raw headers (nats.c's internals, see above): out, the message being
     * made - the header block up to Klaw-Seq's value written once, then
     * per frame the seq, (JetStream) the Nats-Msg-Id, the blank line and
     * the payload; in, the received header block copied out (the inbound
     * side's alone: on_msg or in_js) */
    int raw;
    size_t subject_len;
    char *hdr;          /* out: hdr_pre bytes, then room for the rest + max_frame */
    size_t hdr_pre;
    char *id_mid;       /* JetStream: "\r\nNats-Msg-Id: <origin>/<channel>/"   */
    size_t id_mid_len;
    char id_tail[40];   /* JetStream: "@<created>\r\n\r\n"; core: "\r\n\r\n" */
    size_t id_tail_len;
#if KLAW_NATS_RAW
    natsBuffer *in_buf;
#endif
    char *in_hdr;       /* IN_HDR_MAX bytes: in_buf's storage                  */

    natsConnection *nc;
    natsSubscription *sub;

    /* the channel's handles */
    klaw_bcast_rx *brx;
    klaw_bcast_tx *btx;
    klaw_mpmc_rx *mrx;
    klaw_mpmc_tx *mtx;
    klaw_watch_rx *wrx;
    klaw_watch_tx *wtx;

    /* watch <-> key-value: the bucket, and the last value put or brought in
     * (under kv_mu) - a value equal to it is not forwarded again */
    char *bucket;
    jsCtx *js;
    kvStore *kv;
    kvWatcher *kvw;
    pthread_mutex_t kv_mu;
    uint8_t *last_val;
    size_t last_len;
    int have_last;
    _Atomic uint64_t kv_revision, watch_version;

    /* JetStream delivery (broadcast, mpmc): see the section below */
    int jet;
    char *stream, *durable;
    unsigned replicas;
    uint32_t window, ack_wait_out, ack_wait_in; /* ms */
    uint64_t created_ns;      /* the channel's created_at: in Nats-Msg-Id */
    natsSubscription *psub;   /* in: the durable pull consumer            */
    klaw_frame *frames;       /* out: the batch taken from the channel    */
    natsMsg **msgs;
    pthread_mutex_t ack_mu;   /* fly[].done, retry (the ack handler's thread) */
    pthread_cond_t ack_cv;
    struct js_fly *fly;       /* JetStream out: the window in flight, a ring
                                 of `window` entries [fly_head, fly_tail)  */
    uint64_t fly_head, fly_tail;
    int ack_efd;              /* an eventfd the ack handler bumps (-1: none) */
    natsMsg **retry;          /* publishes that failed, to send again     */
    size_t retry_len;
    int have_resume;          /* broadcast out: skip frames seq <= resume */
    uint64_t resume_seq;
    uint64_t *seen;           /* in: committed messages (seen_has)        */
    _Atomic uint64_t out_retries, out_duplicates, out_pending, out_resumed_after;
    _Atomic uint64_t in_duplicates, in_redelivered, stream_seq;

    pthread_t out_thread, in_thread;
    int out_started, in_started;
    _Atomic int stop;
    _Atomic int done;

    /* positions the inbound side committed (broadcast, both directions) */
    pthread_mutex_t own_mu;
    uint64_t *own;
    size_t own_cap, own_head, own_len;

    /* counters (klaw_nats_stats) */
    _Atomic uint64_t out_frames, out_bytes, out_dropped, out_too_big, out_lagged, out_skipped;
    _Atomic uint64_t in_frames, in_bytes, in_dropped, in_too_big, in_own;
    _Atomic uint64_t reconnects, disconnects;
    _Atomic int connected;

    /* nats.c runs the connection's callbacks on a thread of its own, also
     * after natsConnection_Close() returns: the closed callback is the
     * last of them, and stop waits for it before b goes */
    pthread_mutex_t closed_mu;
    pthread_cond_t closed_cv;
    int closed;
};

static _Thread_local char why_buf[256];

static const char *say(const char *fmt, const char *a, const char *b)
{
    snprintf(why_buf, sizeof why_buf, fmt, a, b);
    return why_buf;
}

static void bump(_Atomic uint64_t *c, uint64_t n) { atomic_fetch_add_explicit(c, n, memory_order_relaxed); }

/* ---- the own-positions FIFO ------------------------------------------------- */

static void own_push(klaw_nats_bridge *b, uint64_t pos)
{
    if (!b->own)
        return;
    if (b->own_len == b->own_cap) { /* oldest is overwritten already */
        b->own_head = (b->own_head + 1) % b->own_cap;
        b->own_len--;
    }
    b->own[(b->own_head + b->own_len) % b->own_cap] = pos;
    b->own_len++;
}

/* 1 if position pos was committed by our inbound side. */
static int own_take(klaw_nats_bridge *b, uint64_t pos)
{
    if (!b->own)
        return 0;
    pthread_mutex_lock(&b->own_mu);
    while (b->own_len && b->own[b->own_head] < pos) {
        b->own_head = (b->own_head + 1) % b->own_cap;
        b->own_len--;
    }
    int mine = b->own_len && b->own[b->own_head] == pos;
    if (mine) {
        b->own_head = (b->own_head + 1) % b->own_cap;
        b->own_len--;
    }
    pthread_mutex_unlock(&b->own_mu);
    return mine;
}

/* ---- connection ------------------------------------------------------------- */

static void on_disconnected(natsConnection *nc, void *closure)
{
    (void)nc;
    klaw_nats_bridge *b = closure;
    atomic_store(&b->connected, 0);
    bump(&b->disconnects, 1);
}

static void on_reconnected(natsConnection *nc, void *closure)
{
    (void)nc;
    klaw_nats_bridge *b = closure;
    atomic_store(&b->connected, 1);
    bump(&b->reconnects, 1);
}

/* The first connection of a bridge started while no server was up. */
static void on_connected(natsConnection *nc, void *closure)
{
    (void)nc;
    klaw_nats_bridge *b = closure;
    atomic_store(&b->connected, 1);
}

static void on_closed(natsConnection *nc, void *closure)
{
    (void)nc;
    klaw_nats_bridge *b = closure;
    pthread_mutex_lock(&b->closed_mu);
    b->closed = 1;
    pthread_cond_broadcast(&b->closed_cv);
    pthread_mutex_unlock(&b->closed_mu);
}

static void on_error(natsConnection *nc, natsSubscription *sub, natsStatus err, void *closure)
{
    (void)nc;
    (void)sub;
    klaw_nats_bridge *b = closure;
    if (err == NATS_SLOW_CONSUMER)
        bump(&b->in_dropped, 1); /* nats.c dropped a message for us */
}

static natsStatus connect_nats(klaw_nats_bridge *b, const klaw_nats_opts *o, const char **why)
{
    natsOptions *no = NULL;
    natsStatus s = natsOptions_Create(&no);
    const char *servers = o->servers && *o->servers ? o->servers : "nats://127.0.0.1:4222";
    /* a comma-separated list: nats.c takes one URL string with commas */
    if (s == NATS_OK)
        s = natsOptions_SetURL(no, servers);
    char name[ORIGIN_MAX + 16];
    snprintf(name, sizeof name, "klaw-bridge %s", b->origin);
    if (s == NATS_OK)
        s = natsOptions_SetName(no, name);
    if (s == NATS_OK)
        s = natsOptions_SetNoEcho(no, true);
    if (s == NATS_OK)
        s = natsOptions_SetMaxReconnect(no, -1); /* for as long as we run */
    if (s == NATS_OK)
        s = natsOptions_SetReconnectWait(no, o->reconnect_wait_ms ? o->reconnect_wait_ms : 100);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectBufSize(no, o->reconnect_buffer ? (int)o->reconnect_buffer : 8 << 20);
    if (s == NATS_OK)
        s = natsOptions_SetRetryOnFailedConnect(no, true, on_connected, b);
    if (s == NATS_OK)
        s = natsOptions_SetDisconnectedCB(no, on_disconnected, b);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectedCB(no, on_reconnected, b);
    if (s == NATS_OK)
        s = natsOptions_SetErrorHandler(no, on_error, b);
    if (s == NATS_OK)
        s = natsOptions_SetClosedCB(no, on_closed, b);
    if (s == NATS_OK) {
        s = natsConnection_Connect(&b->nc, no);
        if (s == NATS_OK)
            atomic_store(&b->connected, 1);
        else if (s == NATS_NOT_YET_CONNECTED)
            s = NATS_OK; /* retried in the background; on_connected says when */
    }
    if (s != NATS_OK && why)
        *why = say("nats: %s (%s)", natsStatus_GetText(s), servers);
    natsOptions_Destroy(no);
    return s;
}

/* ---- outbound ---------------------------------------------------------------- */

/* Decimal digits of v at p; their count. */
static size_t put_u64(char *p, uint64_t v)
{
    char t[20];
    size_t n = 0;
    do {
        t[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        p[i] = t[n - 1 - i];
    return n;
}

/* Appends a header value as nats.c's encoder writes it: '\r' and '\n'
 * become spaces (a value cannot end its line early). */
static char *put_value(char *p, const char *v)
{
    for (; *v; v++)
        *p++ = *v == '\r' || *v == '\n' ? ' ' : *v;
    return p;
}

/* The outbound header block's fixed parts (b->hdr, b->id_mid, b->id_tail).
 * 0, or -1 (no memory). */
static int hdr_setup(klaw_nats_bridge *b)
{
    size_t ol = strlen(b->origin), cl = strlen(b->channel);
    /* prefix + seq + JetStream's id (origin/channel/seq@created) + end */
    size_t room = 64 + ol + cl + 20 + (b->jet ? 32 + ol + cl + 20 + 24 : 0) + 4;
    b->hdr = malloc(room + b->max_frame);
    b->id_mid = malloc(32 + ol + cl);
    if (!b->hdr || !b->id_mid)
        return -1;
    char *p = b->hdr;
    p += sprintf(p, "NATS/1.0\r\n" HDR_ORIGIN ": ");
    p = put_value(p, b->origin);
    p += sprintf(p, "\r\n" HDR_CHANNEL ": ");
    p = put_value(p, b->channel);
    p += sprintf(p, "\r\n" HDR_SEQ ": ");
    b->hdr_pre = (size_t)(p - b->hdr);
    p = b->id_mid;
    p += sprintf(p, "\r\n" HDR_MSG_ID ": ");
    p = put_value(p, b->origin);
    *p++ = '/';
    p = put_value(p, b->channel);
    *p++ = '/';
    b->id_mid_len = (size_t)(p - b->id_mid);
    if (b->jet)
        b->id_tail_len = (size_t)snprintf(b->id_tail, sizeof b->id_tail, "@%llu\r\n\r\n",
                                          (unsigned long long)b->created_ns);
    else
        b->id_tail_len = (size_t)snprintf(b->id_tail, sizeof b->id_tail, "\r\n\r\n");
    return 0;
}

/* A message carrying the frame's bytes (copied) and the bridge's headers:
 * Klaw-Origin, Klaw-Channel, Klaw-Seq and, under JetStream, Nats-Msg-Id =
 * origin/channel/seq@created - the seq qualified by the channel's creation
 * time: a channel made again under its name starts its seqs over, and its
 * frames must not be taken for retries of the old ones. */
static natsStatus make_msg(klaw_nats_bridge *b, const klaw_frame *f, natsMsg **out)
{
    char seq[24];
    seq[put_u64(seq, f->seq)] = '\0';
#if KLAW_NATS_RAW
    if (b->raw) {
        /* one buffer: the header block (its fixed prefix is there already)
         * and the payload; natsMsg_create copies it into the message, and
         * nats.c publishes a block it has not lifted as it is */
        char *p = b->hdr + b->hdr_pre;
        size_t sn = strlen(seq);
        memcpy(p, seq, sn);
        p += sn;
        if (b->jet) {
            memcpy(p, b->id_mid, b->id_mid_len);
            p += b->id_mid_len;
            memcpy(p, seq, sn);
            p += sn;
        }
        memcpy(p, b->id_tail, b->id_tail_len);
        p += b->id_tail_len;
        int hl = (int)(p - b->hdr);
        if (f->len)
            memcpy(p, f->data, f->len);
        return natsMsg_create(out, b->subject, (int)b->subject_len, NULL, 0, b->hdr, hl + (int)f->len, hl);
    }
#endif
    natsStatus s = natsMsg_Create(out, b->subject, NULL, (const char *)f->data, (int)f->len);
    if (s == NATS_OK)
        s = natsMsgHeader_Set(*out, HDR_ORIGIN, b->origin);
    if (s == NATS_OK)
        s = natsMsgHeader_Set(*out, HDR_CHANNEL, b->channel);
    if (s == NATS_OK)
        s = natsMsgHeader_Set(*out, HDR_SEQ, seq);
    if (s == NATS_OK && b->jet) {
        char id[ORIGIN_MAX + 300];
        snprintf(id, sizeof id, "%s/%s/%s@%llu", b->origin, b->channel, seq, (unsigned long long)b->created_ns);
        s = natsMsgHeader_Set(*out, HDR_MSG_ID, id);
    }
    if (s != NATS_OK) {
        natsMsg_Destroy(*out);
        *out = NULL;
    }
    return s;
}

/* Frees a message the bridge made or was handed (core: nats.c keeps no
 * reference once a publish or a delivery callback returns). In place where
 * it can be; natsMsg_Destroy hands it to nats.c's collector thread. */
static void msg_free(klaw_nats_bridge *b, natsMsg *m)
{
#if KLAW_NATS_RAW
    if (b->raw) {
        natsMsg_free(m);
        return;
    }
#endif
    (void)b;
    natsMsg_Destroy(m);
}

static void nap(void)
{
    struct timespec d = {0, RETRY_NS};
    nanosleep(&d, NULL);
}

/* Publishes m (and frees it). Returns 1 published, 0 given up (counted). */
static int publish(klaw_nats_bridge *b, natsMsg *m, uint32_t len)
{
    int done = 0;
    for (;;) {
        natsStatus s = natsConnection_PublishMsg(b->nc, m);
        if (s == NATS_OK) {
            bump(&b->out_frames, 1);
            bump(&b->out_bytes, len);
            done = 1;
            break;
        }
        if (s == NATS_MAX_PAYLOAD) {
            bump(&b->out_too_big, 1);
            break;
        }
        /* not connected and the reconnect buffer full (or not connected
         * yet): OVERWRITE drops, BLOCK and mpmc wait with the frame held */
        if (!b->block || atomic_load(&b->stop)) {
            bump(&b->out_dropped, 1);
            break;
        }
        nap();
    }
    msg_free(b, m);
    return done;
}

/* Core out, broadcast and mpmc: a batch of what the channel holds now (up
 * to OUT_BATCH frames, waiting for the first only, so a lone frame goes
 * at once), published back to back: nats.c's buffer and flusher coalesce
 * them, and the view and (broadcast) the release are paid once per batch
 * (measured: less CPU per frame on the outbound side than one view and
 * one release per frame; see docs/benchmarks.md). Under BLOCK a frame
 * stays viewed until it is published (or given up: too big, a stop), so
 * writers feel a bridge that cannot publish - a broadcast releases the
 * batch after its last frame, an mpmc each frame after its publish. Under
 * OVERWRITE each frame is copied into its message, the batch released,
 * and a message whose frame was overwritten meanwhile (torn) thrown away
 * and counted in out_lagged. */
static void out_core(klaw_nats_bridge *b)
{
    const int bcast = b->kind == KLAW_CHANNEL_BROADCAST;
    klaw_frame *fr = b->frames;
    natsMsg **msgs = b->msgs;
    while (!atomic_load(&b->stop)) {
        size_t got = 0;
        uint64_t lagged = 0;
        struct timespec d = klaw_deadline_in_ms(SLICE_MS);
        klaw_status st = bcast ? klaw_bcast_view_batch(b->brx, fr, OUT_BATCH, &got, &lagged, &d)
                               : klaw_mpmc_view_batch(b->mrx, fr, OUT_BATCH, &got, &d);
        if (st == KLAW_TIMEOUT)
            continue;
        if (st == KLAW_LAGGED) {
            bump(&b->out_lagged, lagged);
            continue;
        }
        if (st != KLAW_OK) { /* CLOSED (drained), or the channel failed */
            atomic_store(&b->done, 1);
            return;
        }
        if (b->block) {
            for (size_t i = 0; i < got; i++) {
                natsMsg *m = NULL;
                if (bcast && own_take(b, fr[i].seq))
                    bump(&b->out_skipped, 1);
                else if (make_msg(b, &fr[i], &m) != NATS_OK)
                    bump(&b->out_dropped, 1);
                else
                    publish(b, m, fr[i].len);
                /* mpmc: each frame released once published, so a bridge
                 * that dies holding a batch has only its unpublished
                 * frames offered again (views go back in any order) */
                if (!bcast)
                    klaw_mpmc_release(b->mrx, &fr[i]);
            }
            if (bcast)
                klaw_bcast_release_batch(b->brx, fr, got);
            continue;
        }
        /* OVERWRITE (broadcast only): copied, released, then published */
        uint32_t len[OUT_BATCH];
        for (size_t i = 0; i < got; i++) {
            msgs[i] = NULL;
            len[i] = fr[i].len;
            if (own_take(b, fr[i].seq))
                bump(&b->out_skipped, 1);
            else if (make_msg(b, &fr[i], &msgs[i]) != NATS_OK)
                bump(&b->out_dropped, 1);
        }
        if (klaw_bcast_release_batch(b->brx, fr, got) == KLAW_LAGGED) {
            for (size_t i = 0; i < got; i++)
                if (!fr[i].data && msgs[i]) { /* overwritten while copied: torn */
                    msg_free(b, msgs[i]);
                    msgs[i] = NULL;
                    bump(&b->out_lagged, 1);
                }
        }
        for (size_t i = 0; i < got; i++)
            if (msgs[i])
                publish(b, msgs[i], len[i]);
    }
}

/* ---- watch <-> key-value ------------------------------------------------------------ */

/* 1 (and remembers the value) unless it equals the last one put or
 * brought in. */
static int kv_fresh(klaw_nats_bridge *b, const void *v, size_t n)
{
    pthread_mutex_lock(&b->kv_mu);
    int same = b->have_last && b->last_len == n && (n == 0 || memcmp(b->last_val, v, n) == 0);
    if (!same) {
        if (n)
            memcpy(b->last_val, v, n);
        b->last_len = n;
        b->have_last = 1;
    }
    pthread_mutex_unlock(&b->kv_mu);
    return !same;
}

static void out_watch(klaw_nats_bridge *b)
{
    while (!atomic_load(&b->stop)) {
        struct timespec d = klaw_deadline_in_ms(SLICE_MS);
        klaw_status st = klaw_watch_changed(b->wrx, &d);
        if (st == KLAW_TIMEOUT)
            continue;
        if (st != KLAW_OK) { /* every sender gone */
            atomic_store(&b->done, 1);
            return;
        }
        size_t n = 0;
        uint64_t version = 0;
        /* the value now (it may be newer than the change that woke us) */
        if (klaw_watch_get_and_update(b->wrx, b->out_buf, b->max_frame, &n, &version) != KLAW_OK) {
            bump(&b->out_dropped, 1);
            continue;
        }
        if (!kv_fresh(b, b->out_buf, n)) {
            bump(&b->out_skipped, 1); /* it came in from the bucket */
            continue;
        }
        for (;;) {
            uint64_t rev = 0;
            natsStatus s = kvStore_Put(&rev, b->kv, b->subject, b->out_buf, (int)n);
            if (s == NATS_OK) {
                atomic_store(&b->kv_revision, rev);
                atomic_store(&b->watch_version, version);
                bump(&b->out_frames, 1);
                bump(&b->out_bytes, n);
                break;
            }
            if (s == NATS_MAX_PAYLOAD) {
                bump(&b->out_too_big, 1);
                break;
            }
            /* not connected, or JetStream did not answer: a watch wants its
             * latest value there - retry (a newer version replaces it) */
            if (atomic_load(&b->stop)) {
                bump(&b->out_dropped, 1);
                break;
            }
            nap();
            int changed = 0;
            if (klaw_watch_has_changed(b->wrx, &changed) == KLAW_OK && changed)
                break; /* the loop takes the newer one */
        }
    }
}

static void *in_watch(void *arg)
{
    klaw_nats_bridge *b = arg;
    while (!atomic_load(&b->stop)) {
        kvEntry *e = NULL;
        natsStatus s = kvWatcher_Next(&e, b->kvw, SLICE_MS);
        if (s == NATS_TIMEOUT)
            continue;
        if (s != NATS_OK) {
            if (s == NATS_ILLEGAL_STATE) /* the watcher was stopped */
                break;
            nap();
            continue;
        }
        if (!e)
            continue; /* the end of the initial values */
        if (kvEntry_Operation(e) == kvOp_Put) {
            int n = kvEntry_ValueLen(e);
            const void *v = kvEntry_Value(e);
            if (n < 0 || (uint64_t)n > b->max_frame) {
                bump(&b->in_too_big, 1);
            } else if (!kv_fresh(b, v, (size_t)n)) {
                bump(&b->in_own, 1); /* the value we put (or already have) */
            } else if (klaw_watch_send(b->wtx, v, (size_t)n, NULL) == KLAW_OK) {
                atomic_store(&b->kv_revision, kvEntry_Revision(e));
                bump(&b->in_frames, 1);
                bump(&b->in_bytes, (uint64_t)n);
            } else {
                bump(&b->in_dropped, 1);
            }
        }
        kvEntry_Destroy(e);
    }
    return NULL;
}

static klaw_status bring_in(klaw_nats_bridge *b, const char *data, int n);
static int own_origin(klaw_nats_bridge *b, natsMsg *msg);

/* ---- JetStream delivery (broadcast, mpmc) ------------------------------------------
 *
 * Outbound (out_js): a window of up to `window` publishes in flight, kept
 * full across batches - frames are taken as they come and published
 * asynchronously (js_PublishMsgAsync, MaxPending `window`, each with an ack
 * timeout of ack_wait_out), each an entry of the ring `fly` in view order.
 * on_pub_ack(), on nats.c's thread, marks an acked entry done (it finds it
 * by its message) or hands a failure (an error, the timeout) back through
 * `retry`; the outbound thread sends those again (same id: the stream
 * drops a copy it stored), and gives back the done prefix of the ring in
 * order (fly_retire: under BLOCK and on an mpmc the frames stay viewed
 * until then; OVERWRITE released them before publishing). It waits on the
 * channel's descriptor and an eventfd the ack handler bumps, so neither a
 * new frame nor an ack waits for the other. ack_mu guards fly[] (done, m),
 * fly_head/fly_tail's moves, retry and retry_len; ack_cv says one changed.
 *
 * Inbound (in_js): a durable pull consumer, fetched in batches; each
 * message is committed (bring_in) and then acked; `seen` remembers the
 * messages committed (JS_SEEN of them, by stream sequence and stored
 * time; in_js's thread alone touches it), so a redelivery of a committed
 * message is acked and not committed twice. */

/* nats wildcard match: '*' one token, '>' the rest (1 or more tokens). */
static int subject_matches(const char *pattern, const char *subject)
{
    for (;;) {
        const char *pe = strchr(pattern, '.'), *se = strchr(subject, '.');
        size_t pl = pe ? (size_t)(pe - pattern) : strlen(pattern);
        size_t sl = se ? (size_t)(se - subject) : strlen(subject);
        if (pl == 1 && pattern[0] == '>')
            return 1;
        if (!(pl == 1 && pattern[0] == '*') && (pl != sl || memcmp(pattern, subject, pl) != 0))
            return 0;
        if (!pe || !se)
            return !pe && !se;
        pattern = pe + 1;
        subject = se + 1;
    }
}

/* A JetStream name from s: the characters a stream or consumer name may
 * not hold become '_'. */
static char *js_name(const char *prefix, const char *s, const char *suffix)
{
    size_t n = strlen(prefix) + strlen(s) + strlen(suffix) + 1;
    char *out = malloc(n);
    if (!out)
        return NULL;
    snprintf(out, n, "%s%s%s", prefix, s, suffix);
    for (char *p = out; *p; p++)
        if (*p == '.' || *p == '*' || *p == '>' || *p == '/' || *p == '\\' || *p == ' ' || *p == '\t')
            *p = '_';
    return out;
}

/* The committed-messages table: direct-mapped by stream sequence, each
 * entry the sequence and the time the stream stored it. A redelivery
 * matches both; a different message that got a sequence again (a server
 * that lost what it had not written out, restarted) does not. */
static int seen_has(klaw_nats_bridge *b, uint64_t sseq, uint64_t stored_ns)
{
    const uint64_t *e = &b->seen[2 * (sseq % JS_SEEN)];
    return e[0] == sseq && e[1] == stored_ns && sseq != 0;
}

static void seen_add(klaw_nats_bridge *b, uint64_t sseq, uint64_t stored_ns)
{
    uint64_t *e = &b->seen[2 * (sseq % JS_SEEN)];
    e[0] = sseq;
    e[1] = stored_ns;
}

/* The in-flight entry of message m (ack_mu held), or NULL. Acks come
 * mostly in order, so the scan from the oldest ends early. */
static struct js_fly *fly_of(klaw_nats_bridge *b, const natsMsg *m)
{
    for (uint64_t i = b->fly_head; i < b->fly_tail; i++) {
        struct js_fly *e = &b->fly[i % b->window];
        if (e->m == m && !e->done)
            return e;
    }
    return NULL;
}

static void on_pub_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
    (void)js;
    klaw_nats_bridge *b = closure;
    int gone = 0; /* acked, or never will be */
    if (pa) {
        if (pa->Duplicate)
            bump(&b->out_duplicates, 1);
        else {
            bump(&b->out_frames, 1);
            bump(&b->out_bytes, (uint64_t)natsMsg_GetDataLength(msg));
        }
        atomic_store(&b->stream_seq, pa->Sequence);
        gone = 1;
    } else if (pae && (pae->ErrCode == JSStreamMessageExceedsMaximumErr || pae->Err == NATS_MAX_PAYLOAD)) {
        bump(&b->out_too_big, 1); /* the stream's max_msg_size: never fits */
        gone = 1;
    }
    pthread_mutex_lock(&b->ack_mu);
    struct js_fly *e = fly_of(b, msg);
    if (gone) {
        if (e) {
            e->done = 1;
            e->m = NULL;
        }
        natsMsg_Destroy(msg);
    } else if (e) {
        b->retry[b->retry_len++] = msg; /* ours again: out_js sends it */
    } else {
        natsMsg_Destroy(msg); /* given up at a stop: nothing waits for it */
    }
    pthread_cond_signal(&b->ack_cv);
    pthread_mutex_unlock(&b->ack_mu);
    if (b->ack_efd >= 0) {
        uint64_t one = 1;
        (void)!write(b->ack_efd, &one, sizeof one); /* wakes out_js's poll */
    }
}

static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Hands *m to nats.c (ours until then): on success nats.c owns it and
 * on_pub_ack() gets it back. Waits (in naps) while nats.c cannot take it
 * (MaxPending reached, or disconnected with its buffer full); once the
 * bridge is stopping it gives up JS_STOP_MS later (*give_up, set then),
 * counting the frame as dropped. */
static void js_send(klaw_nats_bridge *b, natsMsg **m, int64_t *give_up)
{
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = b->ack_wait_out;
    for (;;) {
        natsStatus s = js_PublishMsgAsync(b->js, m, &po);
        if (s == NATS_OK)
            return;
        if (atomic_load(&b->stop) && !*give_up)
            *give_up = mono_ms() + JS_STOP_MS;
        if (s == NATS_MAX_PAYLOAD)
            bump(&b->out_too_big, 1);
        else if (!*give_up || mono_ms() < *give_up) {
            nap();
            continue;
        } else
            bump(&b->out_dropped, 1);
        pthread_mutex_lock(&b->ack_mu);
        struct js_fly *e = fly_of(b, *m);
        if (e) {
            e->done = 1;
            e->m = NULL;
        }
        pthread_mutex_unlock(&b->ack_mu);
        natsMsg_Destroy(*m);
        *m = NULL;
        return;
    }
}

/* Gives back the frames of the in-flight prefix that is done (acked,
 * skipped, or given up), in the order they were viewed: a broadcast
 * receiver's cursor moves in order, and an mpmc's frames may go in any
 * order but in order is as good. Returns how many entries retired. */
static size_t fly_retire(klaw_nats_bridge *b)
{
    int bcast = b->kind == KLAW_CHANNEL_BROADCAST;
    size_t n = 0;
    for (;;) {
        pthread_mutex_lock(&b->ack_mu);
        int done = b->fly_head < b->fly_tail && b->fly[b->fly_head % b->window].done;
        struct js_fly e = done ? b->fly[b->fly_head % b->window] : (struct js_fly){0};
        pthread_mutex_unlock(&b->ack_mu);
        if (!done)
            break;
        if (e.held) {
            if (bcast)
                klaw_bcast_release(b->brx, &e.f);
            else
                klaw_mpmc_release(b->mrx, &e.f);
        }
        pthread_mutex_lock(&b->ack_mu);
        b->fly_head++;
        pthread_mutex_unlock(&b->ack_mu);
        n++;
    }
    atomic_store(&b->out_pending, b->fly_tail - b->fly_head);
    return n;
}

/* Sends the failed publishes again (same Nats-Msg-Id). */
static void fly_retry(klaw_nats_bridge *b, int64_t *give_up)
{
    pthread_mutex_lock(&b->ack_mu);
    size_t n = b->retry_len;
    natsMsg **again = b->msgs; /* out_js's scratch, free between batches */
    memcpy(again, b->retry, n * sizeof *again);
    b->retry_len = 0;
    pthread_mutex_unlock(&b->ack_mu);
    for (size_t i = 0; i < n; i++) {
        bump(&b->out_retries, 1);
        js_send(b, &again[i], give_up);
    }
}

/* Takes up to `room` frames now (waiting up to ms for the first) and
 * publishes them, each an entry of the window. Returns how many frames
 * were taken; -1 when the channel closed (drained) or failed. */
static int fly_take(klaw_nats_bridge *b, size_t room, int ms, int64_t *give_up)
{
    int bcast = b->kind == KLAW_CHANNEL_BROADCAST;
    size_t got = 0;
    uint64_t lagged = 0;
    struct timespec d = klaw_deadline_in_ms(ms);
    klaw_status st = bcast ? klaw_bcast_view_batch(b->brx, b->frames, room, &got, &lagged, &d)
                           : klaw_mpmc_view_batch(b->mrx, b->frames, room, &got, &d);
    if (st == KLAW_TIMEOUT)
        return 0;
    if (st == KLAW_LAGGED) {
        bump(&b->out_lagged, lagged);
        return 0;
    }
    if (st != KLAW_OK)
        return -1; /* CLOSED (drained), or the channel failed */
    for (size_t i = 0; i < got; i++) {
        klaw_frame *f = &b->frames[i];
        b->msgs[i] = NULL;
        if (bcast && b->have_resume && f->seq <= b->resume_seq) {
            bump(&b->out_skipped, 1); /* the stream has it (resume) */
            continue;
        }
        if (bcast && own_take(b, f->seq)) {
            bump(&b->out_skipped, 1);
            continue;
        }
        if (make_msg(b, f, &b->msgs[i]) != NATS_OK)
            bump(&b->out_dropped, 1);
    }
    if (!b->block && klaw_bcast_release_batch(b->brx, b->frames, got) == KLAW_LAGGED) {
        /* OVERWRITE: released before publishing; a frame overwritten
         * while copied may be torn and is not sent */
        for (size_t i = 0; i < got; i++)
            if (!b->frames[i].data && b->msgs[i]) {
                natsMsg_Destroy(b->msgs[i]);
                b->msgs[i] = NULL;
                bump(&b->out_lagged, 1);
            }
    }
    /* one entry per frame, in view order (skipped ones done already): the
     * held frames go back in that order (fly_retire) */
    pthread_mutex_lock(&b->ack_mu);
    for (size_t i = 0; i < got; i++) {
        struct js_fly *e = &b->fly[b->fly_tail++ % b->window];
        e->f = b->frames[i];
        e->held = b->block;
        e->m = b->msgs[i];
        e->done = b->msgs[i] == NULL;
    }
    pthread_mutex_unlock(&b->ack_mu);
    for (size_t i = 0; i < got; i++)
        if (b->msgs[i]) {
            natsMsg *m = b->msgs[i];
            js_send(b, &m, give_up);
        }
    return (int)got;
}

/* JetStream out: a window of `window` publishes in flight, kept full
 * across batches (a frame does not wait for the previous batch's acks).
 * The thread waits on the channel's descriptor and an eventfd the ack
 * handler bumps, so it takes new frames and gives back acked ones as
 * either comes. */
static void out_js(klaw_nats_bridge *b)
{
    int fd = b->kind == KLAW_CHANNEL_BROADCAST ? klaw_bcast_rx_fd(b->brx) : klaw_mpmc_rx_fd(b->mrx);
    int64_t give_up = 0;
    int closed = 0;
    while (!closed && !atomic_load(&b->stop)) {
        uint64_t drained;
        if (b->ack_efd >= 0)
            (void)!read(b->ack_efd, &drained, sizeof drained);
        fly_retry(b, &give_up);
        fly_retire(b);
        size_t inflight = b->fly_tail - b->fly_head;
        size_t room = b->window - inflight;
        if (room > 0) {
            /* nothing in flight: a plain wait for frames; else only what
             * is there now (acks must not wait behind a frame) */
            int took = fly_take(b, room, inflight ? 0 : SLICE_MS, &give_up);
            if (took < 0)
                closed = 1;
            if (took != 0 || inflight == 0)
                continue;
        }
        /* frames in flight: wait for an ack or a frame (room permitting) */
        int ms = SLICE_MS;
        struct pollfd p[2];
        int n = 0;
        if (b->ack_efd >= 0)
            p[n++] = (struct pollfd){.fd = b->ack_efd, .events = POLLIN};
        if (room > 0 && fd >= 0) {
            int arm_ms = SLICE_MS;
            if ((b->kind == KLAW_CHANNEL_BROADCAST ? klaw_bcast_rx_arm(b->brx, &arm_ms)
                                                   : klaw_mpmc_rx_arm(b->mrx, &arm_ms)) == KLAW_OK)
                p[n++] = (struct pollfd){.fd = fd, .events = POLLIN};
            if (arm_ms < ms)
                ms = arm_ms;
        }
        if (n == 0 || b->ack_efd < 0)
            ms = 1; /* no eventfd: poll the acks */
        poll(p, (nfds_t)n, ms);
    }
    /* stopping, or the channel closed: what is in flight gets its acks
     * (JS_STOP_MS at most); an mpmc's frames never acked stay viewed -
     * closing the handle offers them again (the stream drops what it had) */
    int64_t until = mono_ms() + JS_STOP_MS;
    while (b->fly_tail > b->fly_head && mono_ms() < until) {
        fly_retry(b, &give_up);
        if (fly_retire(b) == 0) {
            pthread_mutex_lock(&b->ack_mu);
            struct timespec t;
            clock_gettime(CLOCK_REALTIME, &t);
            t.tv_nsec += 10000000L;
            if (t.tv_nsec >= 1000000000L) {
                t.tv_sec++;
                t.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&b->ack_cv, &b->ack_mu, &t);
            pthread_mutex_unlock(&b->ack_mu);
        }
    }
    size_t left = b->fly_tail - b->fly_head;
    if (left) {
        bump(&b->out_dropped, left);
        /* a broadcast's frames go back (its cursor must move on); nats.c
         * may still ack them (on_pub_ack then finds no entry) */
        pthread_mutex_lock(&b->ack_mu);
        uint64_t from = b->fly_head;
        b->fly_head = b->fly_tail;
        pthread_mutex_unlock(&b->ack_mu);
        for (uint64_t i = from; i < b->fly_tail; i++) {
            struct js_fly *e = &b->fly[i % b->window];
            if (e->held && b->kind == KLAW_CHANNEL_BROADCAST)
                klaw_bcast_release(b->brx, &e->f);
        }
    }
    if (closed)
        atomic_store(&b->done, 1);
}

static void *in_js(void *arg)
{
    klaw_nats_bridge *b = arg;
    while (!atomic_load(&b->stop)) {
        /* what is there now, up to a window, without waiting; when that
         * is nothing, one message waited for (a long poll of one slice):
         * a fetch of many waits until it has them all or the slice ends,
         * which would hold the first message up to a slice at low rates */
        natsMsgList list = {0};
        jsFetchRequest fr;
        jsFetchRequest_Init(&fr);
        fr.Batch = (int)b->window;
        fr.NoWait = true;
        /* nats.c before 3.10 (nats.c#749) overruns the fetch's array when
         * the subscription already holds messages (an earlier request's,
         * answered after its fetch gave up waiting) and they fill half of
         * the batch or more: messages left over are taken one fetch of 1
         * at a time (a batch of 1 is never overrun), then the batch goes */
        int left = 0;
        if (natsSubscription_GetPending(b->psub, &left, NULL) == NATS_OK && left > 0)
            fr.Batch = 1;
        /* nats.c waits Expires for the server's answer even with NoWait
         * (0: not at all, so the answer would only reach the next fetch) */
        fr.Expires = (int64_t)SLICE_MS * 1000000;
        natsStatus s = natsSubscription_FetchRequest(&list, b->psub, &fr);
        if (list.Count == 0) {
            natsMsgList_Destroy(&list);
            jsFetchRequest_Init(&fr);
            fr.Batch = 1;
            fr.Expires = (int64_t)SLICE_MS * 1000000;
            s = natsSubscription_FetchRequest(&list, b->psub, &fr);
        }
        if (s != NATS_OK && list.Count == 0) {
            if (s != NATS_TIMEOUT && s != NATS_NOT_FOUND)
                nap(); /* disconnected: nats.c reconnects */
            continue;
        }
        for (int i = 0; i < list.Count; i++) {
            natsMsg *m = list.Msgs[i];
            jsMsgMetaData *md = NULL;
            if (natsMsg_GetMetaData(&md, m) != NATS_OK)
                continue; /* not a JetStream message: left unacked */
            uint64_t sseq = md->Sequence.Stream, stored = (uint64_t)md->Timestamp;
            if (md->NumDelivered > 1)
                bump(&b->in_redelivered, 1);
            jsMsgMetaData_Destroy(md);
            int n = natsMsg_GetDataLength(m);
            if (seen_has(b, sseq, stored)) {
                bump(&b->in_duplicates, 1); /* committed; its ack was lost */
            } else if (own_origin(b, m)) {
                /* ours: not brought in again */
            } else if (n < 0 || (uint64_t)n > b->max_frame) {
                bump(&b->in_too_big, 1); /* never fits: acked, counted */
            } else {
                klaw_status st = bring_in(b, natsMsg_GetData(m), n);
                if (st == KLAW_TIMEOUT || st == KLAW_CLOSED) {
                    /* stopped while the channel was full, or no receiver
                     * left: not acked, so the stream keeps it (delivered
                     * again, here or to another host) */
                    continue;
                }
                if (st != KLAW_OK) {
                    bump(&b->in_dropped, 1);
                } else {
                    seen_add(b, sseq, stored);
                    atomic_store(&b->stream_seq, sseq);
                }
            }
            natsMsg_Ack(m, NULL);
        }
        natsMsgList_Destroy(&list);
    }
    return NULL;
}

/* The stream (made if missing) and, for an outbound broadcast, where to
 * resume. NATS_OK, or an error with *why. */
static natsStatus js_setup(klaw_nats_bridge *b, const char **why)
{
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.PublishAsync.MaxPending = b->window;
    jo.PublishAsync.AckHandler = on_pub_ack;
    jo.PublishAsync.AckHandlerClosure = b;
    natsStatus s = natsConnection_JetStream(&b->js, b->nc, &jo);
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    if (s == NATS_OK) {
        s = js_GetStreamInfo(&si, b->js, b->stream, NULL, &jerr);
        if (s == NATS_NOT_FOUND) {
            jsStreamConfig sc;
            jsStreamConfig_Init(&sc);
            const char *subjects[1] = {b->subject};
            sc.Name = b->stream;
            sc.Subjects = subjects;
            sc.SubjectsLen = 1;
            sc.Storage = js_FileStorage;
            sc.Replicas = b->replicas;
            s = js_AddStream(&si, b->js, &sc, NULL, &jerr);
            if (s != NATS_OK && jerr == JSStreamNameExistErr) /* made meanwhile */
                s = js_GetStreamInfo(&si, b->js, b->stream, NULL, &jerr);
        }
    }
    if (s != NATS_OK) {
        if (why)
            *why = say("nats: %s (stream %s: is the server up, with JetStream?)", natsStatus_GetText(s), b->stream);
        return s;
    }
    int covered = 0;
    for (int i = 0; si->Config && i < si->Config->SubjectsLen; i++)
        covered |= subject_matches(si->Config->Subjects[i], b->subject);
    uint64_t last = si->State.LastSeq;
    jsStreamInfo_Destroy(si);
    if (!covered) {
        if (why)
            *why = say("stream %s does not hold subject %s", b->stream, b->subject);
        return NATS_INVALID_ARG;
    }
    if ((b->dir & KLAW_NATS_OUT) && b->kind == KLAW_CHANNEL_BROADCAST) {
        /* resume: the newest message of ours among the stream's last ones */
        char want[ORIGIN_MAX + 300];
        int wn = snprintf(want, sizeof want, "%s/%s/", b->origin, b->channel);
        char inc[32];
        snprintf(inc, sizeof inc, "@%llu", (unsigned long long)b->created_ns);
        for (uint64_t q = last, k = 0; q > 0 && k < JS_LOOK_BACK; q--, k++) {
            natsMsg *m = NULL;
            if (js_GetMsg(&m, b->js, b->stream, q, NULL, NULL) != NATS_OK)
                continue; /* deleted, or not answered: look further */
            const char *id = NULL;
            int mine = natsMsgHeader_Get(m, HDR_MSG_ID, &id) == NATS_OK && id && (int)strlen(id) > wn &&
                       strncmp(id, want, (size_t)wn) == 0;
            const char *at = mine ? strrchr(id, '@') : NULL;
            if (mine && at && strcmp(at, inc) == 0) {
                /* ours, this incarnation of the channel: frames up to
                 * seq - window are in the stream (the window's may not be) */
                uint64_t seq = strtoull(id + wn, NULL, 10);
                atomic_store(&b->out_resumed_after, seq);
                if (seq >= b->window) {
                    b->have_resume = 1;
                    b->resume_seq = seq - b->window;
                }
                natsMsg_Destroy(m);
                break;
            }
            natsMsg_Destroy(m);
        }
    }
    if (b->dir & KLAW_NATS_IN) {
        jsSubOptions so;
        jsSubOptions_Init(&so);
        so.Stream = b->stream;
        so.Config.AckPolicy = js_AckExplicit;
        so.Config.AckWait = (int64_t)b->ack_wait_in * 1000000;
        so.Config.MaxAckPending = (int64_t)b->window * 4;
        s = js_PullSubscribe(&b->psub, b->js, b->subject, b->durable, NULL, &so, &jerr);
        if (s != NATS_OK) {
            if (why)
                *why = say("nats: %s (durable consumer %s)", natsStatus_GetText(s), b->durable);
            return s;
        }
    }
    return NATS_OK;
}

static void *out_main(void *arg)
{
    klaw_nats_bridge *b = arg;
    if (b->jet)
        out_js(b);
    else if (b->kind == KLAW_CHANNEL_WATCH)
        out_watch(b);
    else
        out_core(b);
    /* what was published goes out before the thread ends */
    if (b->nc)
        natsConnection_FlushTimeout(b->nc, 2000);
    return NULL;
}

/* ---- inbound ----------------------------------------------------------------- */

/* Brings n bytes in as one frame: claims (waiting in slices while the
 * channel is full, until stop), copies, notes the position for the
 * outbound side, commits. KLAW_OK (the frame is in), KLAW_TIMEOUT (stopped
 * while waiting for room), or the channel's status (CLOSED, ...). */
static klaw_status bring_in(klaw_nats_bridge *b, const char *data, int n)
{
    klaw_frame f;
    klaw_status st;
    for (;;) {
        struct timespec d = klaw_deadline_in_ms(SLICE_MS);
        if (b->kind == KLAW_CHANNEL_BROADCAST)
            st = klaw_bcast_claim(b->btx, (size_t)n, &d, &f);
        else
            st = klaw_mpmc_claim(b->mtx, (size_t)n, &d, &f);
        if (st != KLAW_TIMEOUT || atomic_load(&b->stop))
            break;
    }
    if (st != KLAW_OK) {
        if (st == KLAW_CLOSED) /* mpmc: every receiver gone */
            atomic_store(&b->done, 1);
        return st;
    }
    if (n)
        memcpy(f.data, data, (size_t)n);
    if (b->own) {
        /* noted before the commit: the reader cannot see the frame sooner */
        pthread_mutex_lock(&b->own_mu);
        own_push(b, f.seq);
        pthread_mutex_unlock(&b->own_mu);
    }
    if (b->kind == KLAW_CHANNEL_BROADCAST)
        st = klaw_bcast_commit(b->btx, &f, (size_t)n);
    else
        st = klaw_mpmc_commit(b->mtx, &f, (size_t)n);
    /* a broadcast with no receiver right now still took the frame */
    if (st == KLAW_OK || st == KLAW_NO_RECEIVERS) {
        bump(&b->in_frames, 1);
        bump(&b->in_bytes, (uint64_t)n);
        return KLAW_OK;
    }
    return st;
}

/* isspace() in the C locale, as nats.c's lift trims with it; a byte above
 * 0x7f is left to nats.c (a locale may call it a space). */
static int hdr_space(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/* The first value of header `key` in a received header block h[0..n) as
 * nats.c's lift would give it (natsMsgHeader_Get): the "NATS/1.0" line,
 * then "Key: value" lines (the key exact, up to the first ':'; the value
 * trimmed of white space), then a blank line. 1 found (*v, *vn), 0 absent,
 * -1 a block this scan leaves to nats.c: a folded line, a line without ':'
 * or without a value, a lone '\r', no blank line at the end, a byte above
 * 0x7f where the lift trims - whatever the lift might read differently or
 * refuse (and then the block has no headers at all). */
static int hdr_find(const char *h, size_t n, const char *key, const char **v, size_t *vn)
{
    const char *end = h + n, *p;
    size_t kn = strlen(key);
    int found = 0;
    if (n < 10 || memcmp(h, "NATS/1.0", 8) != 0)
        return -1;
    p = memchr(h, '\r', n);
    if (!p || p + 1 >= end || p[1] != '\n')
        return -1;
    for (p += 2; p < end;) {
        const unsigned char c = (unsigned char)*p;
        if (c == '\r')
            return end - p == 2 && p[1] == '\n' ? found : -1; /* the blank line ends it */
        if (hdr_space(c) || c > 0x7f || c == ':')
            return -1; /* folded, or no key */
        const char *q = memchr(p, '\r', (size_t)(end - p));
        if (!q || q + 1 >= end || q[1] != '\n')
            return -1;
        const char *col = memchr(p, ':', (size_t)(q - p));
        if (!col)
            return -1;
        const char *a = col + 1, *z = q;
        while (a < z && hdr_space((unsigned char)*a))
            a++;
        while (z > a && hdr_space((unsigned char)z[-1]))
            z--;
        if (a == z || (unsigned char)*a > 0x7f || (unsigned char)z[-1] > 0x7f)
            return -1; /* no value (the lift refuses the block), or a byte it may trim */
        if (!found && (size_t)(col - p) == kn && memcmp(p, key, kn) == 0) {
            *v = a;
            *vn = (size_t)(z - a);
            found = 1;
        }
        p = q + 2;
    }
    return -1;
}

/* 1 if msg carries our own origin (counted). */
static int own_origin(klaw_nats_bridge *b, natsMsg *msg)
{
    int mine = -1;
#if KLAW_NATS_RAW
    if (b->raw && b->in_buf) {
        /* the block as received, copied out (nats.c lifts nothing): no
         * allocation; anything the scan does not decide goes to nats.c */
        int hl = natsMsgHeader_encodedLen(msg);
        if (hl <= 0) {
            mine = 0; /* no headers */
        } else if (hl <= IN_HDR_MAX) {
            natsBuf_Reset(b->in_buf);
            const char *v = NULL;
            size_t vn = 0;
            if (natsMsgHeader_encode(b->in_buf, msg) == NATS_OK) {
                int r = hdr_find(b->in_hdr, (size_t)hl, HDR_ORIGIN, &v, &vn);
                if (r >= 0)
                    mine = r == 1 && vn == strlen(b->origin) && memcmp(v, b->origin, vn) == 0;
            }
        }
    }
#endif
    if (mine < 0) {
        const char *origin = NULL;
        mine = natsMsgHeader_Get(msg, HDR_ORIGIN, &origin) == NATS_OK && origin && strcmp(origin, b->origin) == 0;
    }
    if (mine)
        bump(&b->in_own, 1);
    return mine;
}

static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc;
    (void)sub;
    klaw_nats_bridge *b = closure;
    int n = natsMsg_GetDataLength(msg);
    if (own_origin(b, msg)) {
        /* ours: not brought in again */
    } else if (n < 0 || (uint64_t)n > b->max_frame) {
        bump(&b->in_too_big, 1);
    } else if (bring_in(b, natsMsg_GetData(msg), n) != KLAW_OK) {
        bump(&b->in_dropped, 1); /* core NATS: at most once */
    }
    msg_free(b, msg);
}

/* ---- start / stop -------------------------------------------------------------- */

static klaw_status open_channel(klaw_nats_bridge *b, const char **why)
{
    klaw_channel *ch;
    const char *cwhy = NULL;
    klaw_status st = klaw_channel_open(b->channel, 1000, &ch, &cwhy);
    if (st != KLAW_OK) {
        if (why)
            *why = say("channel %s: %s", b->channel, cwhy ? cwhy : klaw_strerror(st));
        return st;
    }
    b->kind = klaw_channel_kind(ch);
    const klaw_channel_metadata *m = klaw_channel_meta(ch);
    b->max_frame = m->max_frame;
    b->created_ns = (uint64_t)m->created_at.tv_sec * 1000000000u + (uint64_t)m->created_at.tv_nsec;
    b->block = b->kind == KLAW_CHANNEL_MPMC || m->policy == KLAW_POLICY_BLOCK;
    uint64_t capacity = m->has_capacity && m->capacity > 0 ? (uint64_t)m->capacity : 1024;
    klaw_channel_close(ch);
    if (b->kind == KLAW_CHANNEL_WATCH && !b->bucket) {
        if (why)
            *why = say("channel %s: a watch channel is bridged to a key-value bucket (--bucket)%s", b->channel, "");
        return KLAW_INVAL;
    }
    if (b->kind != KLAW_CHANNEL_BROADCAST && b->kind != KLAW_CHANNEL_MPMC && b->kind != KLAW_CHANNEL_WATCH) {
        if (why)
            *why = say("channel %s: a %s channel has no bridge (broadcast, mpmc and watch do)", b->channel,
                       klaw_channel_type_name(b->kind));
        return KLAW_INVAL;
    }
    if (b->kind == KLAW_CHANNEL_WATCH)
        b->jet = 0; /* a key-value bucket is JetStream already */
    if (b->kind == KLAW_CHANNEL_WATCH) {
        b->last_val = malloc(b->max_frame ? b->max_frame : 1);
        b->out_buf = malloc(b->max_frame ? b->max_frame : 1);
        if (!b->last_val || !b->out_buf)
            return KLAW_NOMEM;
        if ((b->dir & KLAW_NATS_OUT) && (st = klaw_watch_open_rx(b->channel, &b->wrx)) != KLAW_OK) {
            if (why)
                *why = say("channel %s: cannot read it: %s", b->channel, klaw_strerror(st));
            return st;
        }
        if ((b->dir & KLAW_NATS_IN) && (st = klaw_watch_open_tx(b->channel, &b->wtx)) != KLAW_OK) {
            if (why)
                *why = say("channel %s: cannot write it: %s", b->channel, klaw_strerror(st));
            return st;
        }
        return KLAW_OK;
    }
    if (b->kind == KLAW_CHANNEL_MPMC && b->dir == (KLAW_NATS_OUT | KLAW_NATS_IN)) {
        if (why)
            *why = say("channel %s: an mpmc bridge goes one way (--in or --out)%s", b->channel, "");
        return KLAW_INVAL;
    }
    if (b->kind == KLAW_CHANNEL_BROADCAST && b->dir == (KLAW_NATS_OUT | KLAW_NATS_IN)) {
        b->own_cap = 2 * capacity;
        b->own = calloc(b->own_cap, sizeof *b->own);
        if (!b->own)
            return KLAW_NOMEM;
    }
    if (b->dir & KLAW_NATS_OUT) {
        if (b->kind == KLAW_CHANNEL_BROADCAST) {
            char id[64];
            snprintf(id, sizeof id, "nats:%.57s", b->subject);
            /* a bridge restarted right after a crash finds its old record
             * until the channel reaps it (a liveness period, 1 s by
             * default): it waits for that, up to 3 s */
            for (int tries = 0;; tries++) {
                /* JetStream resumes: from the oldest retained frame,
                 * skipping what the stream has (js_setup) */
                st = klaw_bcast_open_rx(b->channel, b->jet ? KLAW_BCAST_FROM_OLDEST : KLAW_BCAST_FROM_TAIL, id,
                                        &b->brx);
                if (st != KLAW_EXIST || tries == 30)
                    break;
                struct timespec d = {0, 100000000};
                nanosleep(&d, NULL);
            }
        } else {
            st = klaw_mpmc_open_rx(b->channel, &b->mrx);
        }
        if (st == KLAW_EXIST) {
            if (why)
                *why = say("channel %s: another live bridge reads it for subject %s (reader nats:<subject>)",
                           b->channel, b->subject);
            return st;
        }
        if (st != KLAW_OK) {
            if (why)
                *why = say("channel %s: cannot read it: %s", b->channel, klaw_strerror(st));
            return st;
        }
    }
    if (b->dir & KLAW_NATS_IN) {
        if (b->kind == KLAW_CHANNEL_BROADCAST)
            st = klaw_bcast_open_tx(b->channel, &b->btx);
        else
            st = klaw_mpmc_open_tx(b->channel, &b->mtx);
        if (st != KLAW_OK) {
            if (why)
                *why = say("channel %s: cannot write it: %s", b->channel, klaw_strerror(st));
            return st;
        }
    }
    return KLAW_OK;
}

static void free_bridge(klaw_nats_bridge *b)
{
    klaw_bcast_rx_free(b->brx);
    klaw_bcast_tx_free(b->btx);
    klaw_mpmc_rx_free(b->mrx);
    klaw_mpmc_tx_free(b->mtx);
    klaw_watch_rx_free(b->wrx);
    klaw_watch_tx_free(b->wtx);
    pthread_mutex_destroy(&b->kv_mu);
    free(b->last_val);
    free(b->out_buf);
    free(b->bucket);
    pthread_mutex_destroy(&b->own_mu);
    pthread_mutex_destroy(&b->closed_mu);
    pthread_cond_destroy(&b->closed_cv);
    free(b->own);
    free(b->frames);
    free(b->msgs);
    free(b->retry);
    free(b->fly);
    if (b->ack_efd >= 0)
        close(b->ack_efd);
    free(b->seen);
    free(b->stream);
    free(b->durable);
    pthread_mutex_destroy(&b->ack_mu);
    pthread_cond_destroy(&b->ack_cv);
    free(b->hdr);
    free(b->id_mid);
#if KLAW_NATS_RAW
    if (b->in_buf)
        natsBuf_Destroy(b->in_buf);
#endif
    free(b->in_hdr);
    free(b->channel);
    free(b->subject);
    free(b->queue);
    free(b);
}

klaw_status klaw_nats_bridge_start(const klaw_nats_opts *o, klaw_nats_bridge **out, const char **why)
{
    *out = NULL;
    if (why)
        *why = NULL;
    if (!o || !o->channel || !*o->channel || !o->subject || !*o->subject ||
        !o->direction || (o->direction & ~(KLAW_NATS_OUT | KLAW_NATS_IN)) ||
        (o->delivery != KLAW_NATS_CORE && o->delivery != KLAW_NATS_JETSTREAM)) {
        if (why)
            *why = "a bridge needs a channel, a subject, a direction (in, out or both) and a delivery (core or "
                   "jetstream)";
        return KLAW_INVAL;
    }
    if (o->origin && (strlen(o->origin) >= ORIGIN_MAX || !*o->origin)) {
        if (why)
            *why = "origin: 1 to 127 bytes";
        return KLAW_INVAL;
    }
    klaw_nats_bridge *b = calloc(1, sizeof *b);
    if (!b)
        return KLAW_NOMEM;
    b->ack_efd = -1;
    pthread_mutex_init(&b->own_mu, NULL);
    pthread_mutex_init(&b->kv_mu, NULL);
    pthread_mutex_init(&b->closed_mu, NULL);
    pthread_cond_init(&b->closed_cv, NULL);
    pthread_mutex_init(&b->ack_mu, NULL);
    pthread_cond_init(&b->ack_cv, NULL);
    b->dir = o->direction;
    b->jet = o->delivery == KLAW_NATS_JETSTREAM;
    b->window = o->ack_window ? o->ack_window : JS_WINDOW;
    b->ack_wait_out = o->ack_wait_ms ? o->ack_wait_ms : JS_ACK_WAIT_OUT;
    b->ack_wait_in = o->ack_wait_ms ? o->ack_wait_ms : JS_ACK_WAIT_IN;
    b->replicas = o->replicas ? o->replicas : 1;
    b->channel = strdup(o->channel);
    b->subject = strdup(o->subject);
    b->subject_len = strlen(o->subject);
    b->queue = strdup(o->queue_group && *o->queue_group ? o->queue_group : o->subject);
    b->bucket = o->bucket && *o->bucket ? strdup(o->bucket) : NULL;
    if (!b->channel || !b->subject || !b->queue || (o->bucket && *o->bucket && !b->bucket)) {
        free_bridge(b);
        return KLAW_NOMEM;
    }
    if (o->origin) {
        snprintf(b->origin, sizeof b->origin, "%s", o->origin);
    } else {
        char host[64] = "host";
        gethostname(host, sizeof host - 1);
        if (b->jet) /* stable across restarts: resume and the durable use it */
            snprintf(b->origin, sizeof b->origin, "%s", host);
        else
            snprintf(b->origin, sizeof b->origin, "%s/%d", host, (int)getpid());
    }
    klaw_status st = open_channel(b, why);
    if (st != KLAW_OK) {
        free_bridge(b);
        return st;
    }
    if (b->jet) {
        b->stream = o->stream && *o->stream ? js_name("", o->stream, "") : js_name("KLAW_", b->subject, "");
        if (o->durable && *o->durable)
            b->durable = js_name("", o->durable, "");
        else if (b->kind == KLAW_CHANNEL_MPMC)
            b->durable = js_name("", b->queue, "");
        else {
            char tail[300];
            snprintf(tail, sizeof tail, "_%s", b->channel);
            b->durable = js_name("", b->origin, tail);
        }
        b->frames = calloc(b->window, sizeof *b->frames);
        b->msgs = calloc(b->window, sizeof *b->msgs);
        b->retry = calloc(b->window, sizeof *b->retry);
        b->fly = calloc(b->window, sizeof *b->fly);
        b->seen = calloc(2 * JS_SEEN, sizeof *b->seen);
        b->ack_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (!b->stream || !b->durable || !b->frames || !b->msgs || !b->retry || !b->fly || !b->seen) {
            free_bridge(b);
            return KLAW_NOMEM;
        }
    } else if (b->kind != KLAW_CHANNEL_WATCH && (b->dir & KLAW_NATS_OUT)) {
        b->frames = calloc(OUT_BATCH, sizeof *b->frames);
        b->msgs = calloc(OUT_BATCH, sizeof *b->msgs);
        if (!b->frames || !b->msgs) {
            free_bridge(b);
            return KLAW_NOMEM;
        }
    }
#if KLAW_NATS_RAW
    /* nats.c's internals (see the top): the version built against is the
     * one running, major and minor */
    b->raw = (nats_GetVersionNumber() >> 8) == (NATS_VERSION_NUMBER >> 8);
#endif
    if (b->kind != KLAW_CHANNEL_WATCH) {
        if ((b->dir & KLAW_NATS_OUT) && hdr_setup(b) != 0) {
            free_bridge(b);
            return KLAW_NOMEM;
        }
#if KLAW_NATS_RAW
        if (b->raw && (b->dir & KLAW_NATS_IN)) {
            b->in_hdr = malloc(IN_HDR_MAX);
            if (!b->in_hdr || natsBuf_CreateWithBackend(&b->in_buf, b->in_hdr, 0, IN_HDR_MAX) != NATS_OK) {
                b->in_buf = NULL;
                free_bridge(b);
                return KLAW_NOMEM;
            }
        }
#endif
    }
    if (connect_nats(b, o, why) != NATS_OK) {
        free_bridge(b);
        return KLAW_SYS;
    }
    natsStatus s = NATS_OK;
    if (b->kind == KLAW_CHANNEL_WATCH) {
        /* the bucket (made if missing: the latest value only) and, inbound,
         * a watcher of the key */
        s = natsConnection_JetStream(&b->js, b->nc, NULL);
        if (s == NATS_OK) {
            s = js_KeyValue(&b->kv, b->js, b->bucket);
            if (s == NATS_NOT_FOUND) {
                kvConfig kc;
                kvConfig_Init(&kc);
                kc.Bucket = b->bucket;
                kc.History = 1;
                s = js_CreateKeyValue(&b->kv, b->js, &kc);
            }
        }
        if (s == NATS_OK && (b->dir & KLAW_NATS_IN)) {
            kvWatchOptions wo;
            kvWatchOptions_Init(&wo);
            wo.IgnoreDeletes = true;
            s = kvStore_Watch(&b->kvw, b->kv, b->subject, &wo);
            if (s == NATS_OK) {
                if (pthread_create(&b->in_thread, NULL, in_watch, b) != 0)
                    s = NATS_SYS_ERROR;
                else
                    b->in_started = 1;
            }
        }
    } else if (b->jet) {
        s = js_setup(b, why);
        if (s == NATS_OK && (b->dir & KLAW_NATS_IN)) {
            if (pthread_create(&b->in_thread, NULL, in_js, b) != 0)
                s = NATS_SYS_ERROR;
            else
                b->in_started = 1;
        }
        if (s != NATS_OK) {
            if (why && !*why)
                *why = say("nats: %s (stream %s)", natsStatus_GetText(s), b->stream);
            klaw_nats_bridge_stop(b);
            return s == NATS_INVALID_ARG ? KLAW_INVAL : KLAW_SYS;
        }
    } else if (b->dir & KLAW_NATS_IN) {
        if (b->kind == KLAW_CHANNEL_MPMC)
            s = natsConnection_QueueSubscribe(&b->sub, b->nc, b->subject, b->queue, on_msg, b);
        else
            s = natsConnection_Subscribe(&b->sub, b->nc, b->subject, on_msg, b);
        /* nats.c's pending limit: past it a slow channel loses messages,
         * counted in in_dropped (core NATS is at most once) */
        if (s == NATS_OK)
            s = natsSubscription_SetPendingLimits(b->sub, 65536, 256 << 20);
    }
    if (s == NATS_OK && (b->dir & KLAW_NATS_OUT)) {
        if (pthread_create(&b->out_thread, NULL, out_main, b) != 0)
            s = NATS_SYS_ERROR;
        else
            b->out_started = 1;
    }
    if (s != NATS_OK) {
        if (why)
            *why = b->kind == KLAW_CHANNEL_WATCH
                       ? say("nats: %s (key-value bucket %s: is the server up, with JetStream?)",
                             natsStatus_GetText(s), b->bucket)
                       : say("nats: %s (subject %s)", natsStatus_GetText(s), b->subject);
        klaw_nats_bridge_stop(b);
        return KLAW_SYS;
    }
    *out = b;
    return KLAW_OK;
}

void klaw_nats_bridge_stats(klaw_nats_bridge *b, klaw_nats_stats *o)
{
    memset(o, 0, sizeof *o);
    o->out_frames = atomic_load(&b->out_frames);
    o->out_bytes = atomic_load(&b->out_bytes);
    o->out_dropped = atomic_load(&b->out_dropped);
    o->out_too_big = atomic_load(&b->out_too_big);
    o->out_lagged = atomic_load(&b->out_lagged);
    o->out_skipped = atomic_load(&b->out_skipped);
    o->in_frames = atomic_load(&b->in_frames);
    o->in_bytes = atomic_load(&b->in_bytes);
    o->in_dropped = atomic_load(&b->in_dropped);
    o->in_too_big = atomic_load(&b->in_too_big);
    o->in_own = atomic_load(&b->in_own);
    o->reconnects = atomic_load(&b->reconnects);
    o->disconnects = atomic_load(&b->disconnects);
    o->connected = atomic_load(&b->connected);
    o->done = atomic_load(&b->done);
    o->kv_revision = atomic_load(&b->kv_revision);
    o->watch_version = atomic_load(&b->watch_version);
    o->out_retries = atomic_load(&b->out_retries);
    o->out_duplicates = atomic_load(&b->out_duplicates);
    o->out_pending = atomic_load(&b->out_pending);
    o->out_resumed_after = atomic_load(&b->out_resumed_after);
    o->in_duplicates = atomic_load(&b->in_duplicates);
    o->in_redelivered = atomic_load(&b->in_redelivered);
    o->stream_seq = atomic_load(&b->stream_seq);
}

int klaw_nats_bridge_done(klaw_nats_bridge *b) { return atomic_load(&b->done); }

void klaw_nats_bridge_stop(klaw_nats_bridge *b)
{
    if (!b)
        return;
    atomic_store(&b->stop, 1);
    if (b->out_started)
        pthread_join(b->out_thread, NULL);
    if (b->kvw)
        kvWatcher_Stop(b->kvw);
    if (b->in_started)
        pthread_join(b->in_thread, NULL);
    if (b->psub) {
        natsSubscription_Unsubscribe(b->psub); /* the durable stays */
        natsSubscription_Destroy(b->psub);
        b->psub = NULL;
    }
    kvWatcher_Destroy(b->kvw);
    kvStore_Destroy(b->kv);
    jsCtx_Destroy(b->js);
    if (b->sub) {
        /* after the drain no callback runs: the handles can go */
        if (natsSubscription_Drain(b->sub) == NATS_OK)
            natsSubscription_WaitForDrainCompletion(b->sub, 2000);
        else
            natsSubscription_Unsubscribe(b->sub);
    }
    if (b->nc) {
        natsConnection_FlushTimeout(b->nc, 2000);
        natsConnection_Close(b->nc);
        /* the last callback: none touches b after it (at most 5 s: a
         * nats.c that never calls it leaks b rather than risk a write into
         * freed memory) */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 5;
        pthread_mutex_lock(&b->closed_mu);
        while (!b->closed && pthread_cond_timedwait(&b->closed_cv, &b->closed_mu, &until) != ETIMEDOUT) {
        }
        int closed = b->closed;
        pthread_mutex_unlock(&b->closed_mu);
        natsSubscription_Destroy(b->sub);
        natsConnection_Destroy(b->nc);
        if (!closed)
            return;
    }
    free_bridge(b);
}
