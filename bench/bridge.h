/*
 * bridge.h - what the bridge suite's two sides share (suite_bridge.c):
 * the nats-server the suite started, and the probes that tell a writer
 * every reader's subscription has reached that server.
 *
 * Both sides run under the fanout suite's runner and checks (fanout.h,
 * fanout_run_once): the same frames (fanout_fill, stamped with
 * CLOCK_MONOTONIC in the payload), the same two phases, every frame
 * checked in order and intact by fanout_take. Core NATS is at most once,
 * so neither side has exact gaps: a frame a reader never got is counted
 * lost (fanout's "lagged"), never a failure of the check. JetStream
 * (fanout_case.at_least_once) is at least once: a frame may come twice or
 * late, and the readers count that (fanout.h); the suite reports a
 * JetStream case that lost or duplicated a frame as failed.
 *
 * Probes: core NATS sends nothing to a subscription the server has not
 * seen yet, so before the clock starts the writer sends probe frames
 * (seq 0, the round in the stamp's place) every millisecond until every
 * reader has taken one of round 1; after the saturation phase it does the
 * same with round 2, so the paced phase starts on drained pipes (NATS
 * keeps a publisher's order per subscriber: a reader that took the probe
 * has taken, or lost, everything before it). Probes count in no tally.
 */
#ifndef KLAW_BENCH_BRIDGE_H
#define KLAW_BENCH_BRIDGE_H

#include <stdint.h>

#include "fanout.h"

/* The server of this suite's run: "nats://127.0.0.1:PORT". */
const char *bridge_server_url(void);

/* A name unique to this process and call: "<prefix>-<pid>-<n>". */
void bridge_unique(char *buf, size_t size, const char *prefix);

/* Deletes a JetStream stream of this run (and its consumers) on the
 * suite's server (peer_natsc.c; with nats.c only). 0, or -1 with err
 * (FANOUT_ERR bytes; err may be NULL). */
int bridge_stream_delete(const char *stream, char *err);

/* Sends one probe of round `round` (fanout_fill with seq 0, then the
 * round where the stamp goes); 0, or -1 (the probe is retried). */
typedef int (*bridge_probe_fn)(void *w, uint64_t round);

/* Sends probes of round `round` every millisecond until every reader has
 * taken one (fanout_reader.probe). 0, or -1 with err at the run's
 * deadline. */
int bridge_probe_round(fanout_run *run, uint64_t round, bridge_probe_fn send, void *w, char *err);

/* A reader's side of a probe: true (and the reader's probe round raised)
 * when the frame at p is one; fanout_take is then not called for it. */
static inline bool bridge_take_probe(fanout_reader *rd, const uint8_t *p, size_t len)
{
    uint64_t seq, round;
    if (len < FANOUT_HDR)
        return false;
    memcpy(&seq, p, 8);
    if (seq != 0)
        return false;
    memcpy(&round, p + 8, 8);
    if (round > atomic_load_explicit(&rd->probe, memory_order_relaxed))
        atomic_store(&rd->probe, round);
    return true;
}

/* The two sides (bridge_klaw.c, peer_natsc.c); when nats.c was not found
 * at build time their cannot() says so. */
extern const fanout_impl bridge_klaw;
extern const fanout_impl bridge_peer_natsc;

#endif /* KLAW_BENCH_BRIDGE_H */
