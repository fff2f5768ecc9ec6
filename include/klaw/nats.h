/*
 * klaw/nats.h - bridges between klaw channels and NATS (libklaw-nats).
 *
 * An optional library on top of libklaw: it is built when nats.c
 * (libnats-dev) is found, links nats.c, and has its own pkg-config file
 * (klaw-nats.pc); libklaw itself never links nats.c. DESIGN.md "Beyond one
 * host": when a klaw user outgrows one machine the channels carry on over
 * NATS, and since klaw frames are already MessagePack (klaw-core wire v1
 * envelopes, or whatever the channel's writers put there) a bridge moves
 * them as they are.
 *
 * One bridge joins one named channel (made beforehand, e.g. with `klaw
 * create`) and one NATS subject, in one or both directions:
 *
 *  broadcast, out: the bridge is a registered reader of the channel
 *    (reader id "nats:<subject>", so `klaw stat` shows it with its lag);
 *    every frame becomes a message on the subject.
 *  broadcast, in: every message on the subject becomes a frame in the
 *    channel (the bridge holds a writer handle).
 *  mpmc, out: the bridge is one more receiver - it competes with the local
 *    receivers, and each frame it takes is published.
 *  mpmc, in: the bridge subscribes in a queue group (default: the subject),
 *    so that among the bridges of several hosts each message reaches
 *    exactly one, and sends it into its channel (competing consumers
 *    across hosts). One direction per mpmc bridge: a bridge that did both
 *    would take back, as a receiver, frames it had just brought in.
 *  watch <-> a JetStream key-value bucket key (opts.bucket, the key in
 *    opts.subject): out, each new version the channel's receiver sees is
 *    put (the bucket's revision is reported beside klaw's version); in, a
 *    put from elsewhere becomes a new version. A value equal to the one the
 *    bridge last put or brought in is not forwarded again (no loops: a
 *    watch is about the latest value, and the other side has it). Deletes
 *    and purges of the key are ignored. A watch bridge needs the server up
 *    and JetStream enabled when it starts (KLAW_SYS otherwise).
 *
 * Frames are unchanged on the wire: a message's payload is the frame's
 * bytes. Headers carry what the bridges need: Klaw-Origin (the bridge's
 * origin, see klaw_nats_opts), Klaw-Channel and Klaw-Seq (the frame's seq
 * in its channel). A frame that came in from NATS is never published back
 * out: the bridge remembers the positions its inbound side committed and
 * its outbound side skips them, and its connection does not receive its
 * own messages (no echo). So two hosts may bridge the same subject both
 * ways: each frame reaches each side once.
 *
 * Delivery, core NATS (KLAW_NATS_CORE): at most once. While the connection
 * is down nats.c keeps a bounded buffer (reconnect_buffer bytes) and the
 * bridge keeps publishing into it; past it, what an OVERWRITE broadcast
 * bridge cannot publish is counted (out_dropped), the way a lagged
 * receiver counts what it missed. Under a BLOCK broadcast or an mpmc, an
 * outbound bridge that cannot publish stops taking frames (it retries the
 * frame it holds), so back-pressure reaches the writers. nats.c reconnects
 * on its own, through the list of servers, for as long as the bridge runs.
 * A frame larger than the server's max_payload is a counted error
 * (out_too_big), never a crash or a stop. Inbound, a message that does not
 * fit the channel's max_frame is counted (in_too_big).
 *
 * Delivery, JetStream (KLAW_NATS_JETSTREAM; broadcast and mpmc): at least
 * once, deduplicated. Needs a server with JetStream at start (KLAW_SYS
 * otherwise). The subject belongs to a stream (opts.stream; made if
 * missing: file storage, opts.replicas replicas, the server's duplicate
 * window - 2 minutes by default).
 *  out: the bridge takes up to ack_window frames from the channel at a
 *    time, publishes each asynchronously with the header Nats-Msg-Id =
 *    "<origin>/<channel>/<seq>", and waits for every ack; a publish that
 *    fails, or whose ack is not back within ack_wait_ms, is sent again
 *    with the same id until acked (the stream drops the copy of one it had
 *    stored: out_duplicates). Under a BLOCK broadcast and on an mpmc the
 *    batch's frames stay viewed until acked, so writers feel a stream that
 *    does not ack, and on an mpmc a bridge that dies holding them has them
 *    offered again to the channel's receivers (a restarted bridge among
 *    them). Under OVERWRITE the frames are copied and released first; one
 *    overwritten while copied is counted in out_lagged, as in core mode.
 *    A retried publish may land after later ones (a reconnect): consumers
 *    that care order by Klaw-Seq.
 *  resume (broadcast out): at start the bridge looks back through the
 *    stream (its last 256 messages) for the newest message from its origin
 *    and channel, and reads the channel from its oldest retained frame,
 *    skipping frames older than that message's Klaw-Seq minus ack_window
 *    (those may have been in flight; the stream drops the ones it has).
 *    With nothing found it sends what the channel retains, the duplicate
 *    window dropping what the stream had. So a bridge restarted after a
 *    crash loses nothing the channel still holds; a frame the channel
 *    overwrote while no bridge read it is counted in out_lagged. For this
 *    the origin must not change across restarts: under JetStream the
 *    default origin is the host name (core: "<hostname>/<pid>").
 *  in: a durable pull consumer on the stream (opts.durable; explicit acks,
 *    AckWait ack_wait_ms); each message is committed as a frame and then
 *    acked. A message delivered again after its frame was committed (the
 *    ack was lost: a server restart) is known by its stream sequence and
 *    the time the stream stored it (the
 *    last 65536 committed are remembered), acked, and not committed twice
 *    (in_duplicates). A durable keeps its place: a bridge restarted after a
 *    crash goes on where it stopped and loses nothing; a message whose
 *    frame was committed just before the crash, but not acked, comes again
 *    (at most ack_window of them: at least once). mpmc: bridges on several
 *    hosts share one durable (default: the queue group's name), so each
 *    message reaches one host; broadcast: each host has its own durable. A
 *    full channel (BLOCK, mpmc) holds the fetched message until there is
 *    room: the stream keeps the rest.
 *
 * Stopping: klaw_nats_bridge_stop() ends the bridge: outbound, what was
 * taken is published and the connection flushed. A bridge whose channel
 * closes (every writer gone, drained) finishes by itself:
 * klaw_nats_bridge_done() then says 1.
 *
 * Threads: each bridge runs an outbound thread (when it goes out) and
 * nats.c's delivery thread (when it comes in). The calls below may be
 * made from any thread; one bridge handle is stopped once.
 */
#ifndef KLAW_NATS_H
#define KLAW_NATS_H

#include <stddef.h>
#include <stdint.h>

#include "klaw/export.h"
#include "klaw/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct klaw_nats_bridge klaw_nats_bridge;

/* Directions (klaw_nats_opts.direction). */
#define KLAW_NATS_OUT 1u /* channel -> subject */
#define KLAW_NATS_IN 2u  /* subject -> channel */

typedef enum klaw_nats_delivery {
    KLAW_NATS_CORE = 0,      /* core NATS: at most once                    */
    KLAW_NATS_JETSTREAM = 1, /* JetStream: at least once, deduplicated     */
} klaw_nats_delivery;

typedef struct klaw_nats_opts {
    const char *servers;     /* "nats://h1:4222,nats://h2:4222"; NULL:
                                nats://127.0.0.1:4222                      */
    const char *channel;     /* the klaw channel (named; it must exist)    */
    const char *subject;     /* the NATS subject                           */
    unsigned direction;      /* KLAW_NATS_OUT and/or KLAW_NATS_IN          */
    klaw_nats_delivery delivery;
    const char *queue_group; /* mpmc in: the queue group; NULL: subject    */
    const char *origin;      /* this bridge in Klaw-Origin headers; NULL:
                                "<hostname>/<pid>"                         */
    uint32_t reconnect_buffer; /* bytes nats.c buffers while disconnected;
                                  0: 8 MiB                                 */
    uint32_t reconnect_wait_ms; /* between reconnect attempts; 0: 100 ms   */
    const char *bucket;      /* watch: the JetStream key-value bucket (made
                                if missing, history 1); `subject` is then
                                the key. Needs a server with JetStream.    */
    /* JetStream delivery (broadcast and mpmc) */
    const char *stream;      /* the stream holding `subject` (made if
                                missing: file storage, that one subject);
                                NULL: "KLAW_<subject>", '.', '*', '>' as '_' */
    const char *durable;     /* in: the durable pull consumer; NULL: mpmc,
                                the queue group; broadcast, "<origin>_<channel>"
                                (both with '.', '*', '>', '/', ' ' as '_')  */
    unsigned replicas;       /* a stream made by the bridge: its replicas
                                (a cluster's R3); 0: 1                     */
    uint32_t ack_window;     /* out: publishes awaiting their ack at most
                                (also the batch taken from the channel);
                                in: messages fetched at once; 0: 256       */
    uint32_t ack_wait_ms;    /* out: an ack not back in this time is a
                                failed publish, retried; in: the consumer's
                                AckWait (a message not acked in this time is
                                redelivered); 0: 2000 out, 5000 in         */
} klaw_nats_opts;

/* Counters (monotonic while the bridge runs). */
typedef struct klaw_nats_stats {
    uint64_t out_frames;  /* frames published                              */
    uint64_t out_bytes;
    uint64_t out_dropped; /* OVERWRITE: frames that could not be published */
    uint64_t out_too_big; /* frames over the server's max_payload          */
    uint64_t out_lagged;  /* broadcast: frames the channel overwrote before
                             the bridge read them (KLAW_LAGGED)            */
    uint64_t out_skipped; /* frames that came in from NATS (not sent back) */
    uint64_t in_frames;   /* messages committed as frames                  */
    uint64_t in_bytes;
    uint64_t in_dropped;  /* messages lost: the channel full (OVERWRITE
                             never is), closed, or nats.c's slow-consumer
                             limit                                         */
    uint64_t in_too_big;  /* messages over the channel's max_frame         */
    uint64_t in_own;      /* messages with our own origin (ignored)        */
    uint64_t reconnects;
    uint64_t disconnects;
    int connected;        /* 1 while connected to a server                 */
    int done;             /* the channel closed and the bridge finished    */
    uint64_t kv_revision;   /* watch: the key's last revision the bridge
                               put or brought in                           */
    uint64_t watch_version; /* watch: the channel's version beside it      */
    /* JetStream */
    uint64_t out_retries;    /* publishes sent again (no ack in time, an
                                error, or not connected)                   */
    uint64_t out_duplicates; /* acks saying the stream had the message
                                already (a retry of one that was stored)   */
    uint64_t out_pending;    /* publishes awaiting their ack now           */
    uint64_t out_resumed_after; /* out: the Klaw-Seq the bridge found last
                                   in the stream from its origin and channel
                                   at start (frames up to it are not sent
                                   again); 0: none found                   */
    uint64_t in_duplicates;  /* messages redelivered after their frame was
                                committed (acked again, not committed)     */
    uint64_t in_redelivered; /* messages the server delivered more than once */
    uint64_t stream_seq;     /* out: the stream sequence of the last ack;
                                in: of the last message committed          */
} klaw_nats_stats;

/* Starts a bridge: connects (a server that is not up yet is retried in
 * the background), opens the channel, subscribes and/or starts reading.
 * KLAW_OK; KLAW_INVAL (a missing channel or subject name, no direction, an
 * unknown delivery, both directions on an mpmc, a oneshot channel, a watch
 * without a bucket); the channel's open errors (KLAW_NOENT, KLAW_CLOSED, ...);
 * KLAW_SYS (nats.c refused: *why, when why is not NULL, says what - a
 * static string or one that lives as long as the thread's next call). */
KLAW_API klaw_status klaw_nats_bridge_start(const klaw_nats_opts *opts, klaw_nats_bridge **out,
                                            const char **why);

/* The counters now. */
KLAW_API void klaw_nats_bridge_stats(klaw_nats_bridge *b, klaw_nats_stats *out);

/* 1 once the bridge has finished on its own (its channel closed and was
 * drained, or, inbound, closed to writers), else 0. */
KLAW_API int klaw_nats_bridge_done(klaw_nats_bridge *b);

/* Stops the bridge: the outbound thread publishes the frames it holds
 * (core: the batch it viewed last, at most 64 frames; JetStream: its
 * batch's acks are awaited, at most 2 s) and stops taking more, the
 * connection is flushed (at most 2 s) and closed, the channel's handles
 * are closed, and b is freed. NULL is a no-op. */
KLAW_API void klaw_nats_bridge_stop(klaw_nats_bridge *b);

#ifdef __cplusplus
}
#endif

#endif /* KLAW_NATS_H */
