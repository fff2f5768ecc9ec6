/*
 * nats/bridge.c - libklaw-nats: one named klaw channel <-> one NATS subject
 * (klaw/nats.h says what a bridge does; this file how).
 *
 * Threads and what they own:
 *  - the outbound thread (direction OUT): the channel's receiver handle.
 *    It views a frame, copies it into a nats.c message (nats.c owns its
 *    buffers), releases the view - under OVERWRITE a release that says
 *    LAGGED means the copy may be torn, so that message is thrown away and
 *    counted - and publishes. Under BLOCK and on an mpmc, a publish that
 *    fails for want of a connection is retried with the view still held,
 *    so the writers feel it (back-pressure); under OVERWRITE it is counted
 *    as dropped.
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
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nats/nats.h>

#include "klaw/broadcast.h"
#include "klaw/channel.h"
#include "klaw/mpmc.h"
#include "klaw/nats.h"
#include "klaw/watch.h"

#define SLICE_MS 100
#define RETRY_NS 10000000L /* 10 ms between publish retries */
#define HDR_ORIGIN "Klaw-Origin"
#define HDR_CHANNEL "Klaw-Channel"
#define HDR_SEQ "Klaw-Seq"
#define ORIGIN_MAX 128

struct klaw_nats_bridge {
    char *channel, *subject, *queue;
    char origin[ORIGIN_MAX];
    klaw_channel_type kind;
    int block;          /* broadcast BLOCK or mpmc: back-pressure, not drops */
    uint32_t max_frame;
    unsigned dir;
    uint8_t *out_buf; /* watch out: the value copied out */

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

/* A message carrying the frame's bytes (copied) and the bridge's headers. */
static natsStatus make_msg(klaw_nats_bridge *b, const klaw_frame *f, natsMsg **out)
{
    natsStatus s = natsMsg_Create(out, b->subject, NULL, (const char *)f->data, (int)f->len);
    char seq[24];
    snprintf(seq, sizeof seq, "%llu", (unsigned long long)f->seq);
    if (s == NATS_OK)
        s = natsMsgHeader_Set(*out, HDR_ORIGIN, b->origin);
    if (s == NATS_OK)
        s = natsMsgHeader_Set(*out, HDR_CHANNEL, b->channel);
    if (s == NATS_OK)
        s = natsMsgHeader_Set(*out, HDR_SEQ, seq);
    if (s != NATS_OK) {
        natsMsg_Destroy(*out);
        *out = NULL;
    }
    return s;
}

static void nap(void)
{
    struct timespec d = {0, RETRY_NS};
    nanosleep(&d, NULL);
}

/* Publishes m (and destroys it). Returns 1 published, 0 given up (counted). */
static int publish(klaw_nats_bridge *b, natsMsg *m, uint32_t len)
{
    for (;;) {
        natsStatus s = natsConnection_PublishMsg(b->nc, m);
        if (s == NATS_OK) {
            bump(&b->out_frames, 1);
            bump(&b->out_bytes, len);
            natsMsg_Destroy(m);
            return 1;
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
    natsMsg_Destroy(m);
    return 0;
}

static void out_bcast(klaw_nats_bridge *b)
{
    while (!atomic_load(&b->stop)) {
        klaw_frame f;
        uint64_t lagged = 0;
        struct timespec d = klaw_deadline_in_ms(SLICE_MS);
        klaw_status st = klaw_bcast_view(b->brx, &d, &f, &lagged);
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
        if (own_take(b, f.seq)) {
            bump(&b->out_skipped, 1);
            klaw_bcast_release(b->brx, &f);
            continue;
        }
        natsMsg *m = NULL;
        natsStatus s = make_msg(b, &f, &m);
        if (s != NATS_OK) {
            klaw_bcast_release(b->brx, &f);
            bump(&b->out_dropped, 1);
            continue;
        }
        uint32_t len = f.len;
        if (b->block) {
            /* BLOCK: hold the view while publishing (the writer waits) */
            publish(b, m, len);
            klaw_bcast_release(b->brx, &f);
        } else if (klaw_bcast_release(b->brx, &f) == KLAW_LAGGED) {
            natsMsg_Destroy(m); /* overwritten while copied: torn */
            bump(&b->out_lagged, 1);
        } else {
            publish(b, m, len);
        }
    }
}

static void out_mpmc(klaw_nats_bridge *b)
{
    while (!atomic_load(&b->stop)) {
        klaw_frame f;
        struct timespec d = klaw_deadline_in_ms(SLICE_MS);
        klaw_status st = klaw_mpmc_view(b->mrx, &d, &f);
        if (st == KLAW_TIMEOUT)
            continue;
        if (st != KLAW_OK) {
            atomic_store(&b->done, 1);
            return;
        }
        natsMsg *m = NULL;
        if (make_msg(b, &f, &m) != NATS_OK) {
            bump(&b->out_dropped, 1);
        } else {
            /* held until published (or too big): the frame is ours alone,
             * and a receiver that stops taking frames is back-pressure */
            publish(b, m, f.len);
        }
        klaw_mpmc_release(b->mrx, &f);
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

static void *out_main(void *arg)
{
    klaw_nats_bridge *b = arg;
    if (b->kind == KLAW_CHANNEL_BROADCAST)
        out_bcast(b);
    else if (b->kind == KLAW_CHANNEL_WATCH)
        out_watch(b);
    else
        out_mpmc(b);
    /* what was published goes out before the thread ends */
    if (b->nc)
        natsConnection_FlushTimeout(b->nc, 2000);
    return NULL;
}

/* ---- inbound ----------------------------------------------------------------- */

static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc;
    (void)sub;
    klaw_nats_bridge *b = closure;
    const char *origin = NULL;
    if (natsMsgHeader_Get(msg, HDR_ORIGIN, &origin) == NATS_OK && origin && strcmp(origin, b->origin) == 0) {
        bump(&b->in_own, 1);
        natsMsg_Destroy(msg);
        return;
    }
    int n = natsMsg_GetDataLength(msg);
    const char *data = natsMsg_GetData(msg);
    if (n < 0 || (uint64_t)n > b->max_frame) {
        bump(&b->in_too_big, 1);
        natsMsg_Destroy(msg);
        return;
    }
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
        bump(&b->in_dropped, 1);
        if (st == KLAW_CLOSED) /* mpmc: every receiver gone */
            atomic_store(&b->done, 1);
        natsMsg_Destroy(msg);
        return;
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
    } else {
        bump(&b->in_dropped, 1);
    }
    natsMsg_Destroy(msg);
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
                st = klaw_bcast_open_rx(b->channel, KLAW_BCAST_FROM_TAIL, id, &b->brx);
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
        !o->direction || (o->direction & ~(KLAW_NATS_OUT | KLAW_NATS_IN)) || o->delivery != KLAW_NATS_CORE) {
        if (why)
            *why = "a bridge needs a channel, a subject, a direction (in, out or both) and core delivery";
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
    pthread_mutex_init(&b->own_mu, NULL);
    pthread_mutex_init(&b->kv_mu, NULL);
    pthread_mutex_init(&b->closed_mu, NULL);
    pthread_cond_init(&b->closed_cv, NULL);
    b->dir = o->direction;
    b->channel = strdup(o->channel);
    b->subject = strdup(o->subject);
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
        snprintf(b->origin, sizeof b->origin, "%s/%d", host, (int)getpid());
    }
    klaw_status st = open_channel(b, why);
    if (st != KLAW_OK) {
        free_bridge(b);
        return st;
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
