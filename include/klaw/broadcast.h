/*
 * klaw/broadcast.h - the broadcast channel: every receiver sees every frame.
 *
 * (Semantics in DESIGN.md "Channel kinds"; the protocol comment is in
 * channels/broadcast.c.) One or many writers commit frames of 0..max_frame
 * bytes into a ring of `capacity` slots (a power of two) in a region -
 * anonymous memory for threads of one process (and children forked after
 * creation) or a named shared-memory object other processes open by name;
 * the same code serves both. Each receiver is registered in the channel's
 * reader registry (klaw/registry.h) and reads at its own cursor. Every
 * frame's seq is its position: unique, increasing in claim order, and the
 * order every receiver sees the frames in.
 *
 * Policy, chosen at creation:
 *
 *  KLAW_POLICY_OVERWRITE - the writer never waits for receivers; a receiver
 *    that fell behind gets KLAW_LAGGED with the exact number of positions it
 *    missed and resumes at the oldest retained frame - unless it is overrun
 *    again before it has read a ring's worth since that resume (it cannot
 *    keep up with the writer): the oldest frame is then the very one the
 *    writer overwrites next, so every view there would be torn, and such a
 *    receiver resumes half a ring behind the writer instead (still told the
 *    exact count it skipped). A departure from Tokio's rule, whose senders
 *    wait on a per-slot lock that a seqlock ring does not have. A view the writer
 *    lapped while it was in use is reported KLAW_LAGGED by release
 *    (validate after use: per-slot sequence words, checked like a seqlock);
 *    only act on a view's bytes once release said KLAW_OK. The copying
 *    recv()s validate before they return, so they never hand out torn
 *    bytes. The writer does not read receivers' cursors at all.
 *  KLAW_POLICY_BLOCK - the writer waits (with a deadline) for the slowest
 *    live registered receiver; a receiver whose process died is evicted
 *    within a liveness period (default 1 s) and the writer goes on.
 *    Nothing is lost for a receiver that subscribed at the tail.
 *
 * Both policies: with several writers, a writer whose slot is still being
 * written by the writer of the previous lap (a writer a whole ring behind)
 * waits for it - or, if that writer's process died, for its reaping.
 *
 * Counting: for every receiver, frames received + frames reported LAGGED
 * == frames committed since it subscribed (an aborted claim the receiver
 * would have passed is neither; one inside a LAGGED jump is counted in the
 * jump - aborts are rare and the jump cannot look at overwritten slots).
 *
 * Zero receivers: send/commit return KLAW_NO_RECEIVERS; under OVERWRITE the
 * frame is still written (a FROM_OLDEST subscriber may see it), under BLOCK
 * nothing is claimed. Closing: when every writer has closed (or died and
 * was reaped), receivers drain what is committed, then get KLAW_CLOSED;
 * parked callers wake on close. A writer closed or killed between claim
 * and commit does not wedge receivers or other writers: its claim is
 * skipped (stats.aborted_claims) - at once when it closed, and within a
 * liveness period when it died.
 *
 * Liveness: writers and receivers are handles of the channel's lifecycle
 * table (channels/lifecycle.h), each owned by a peer of the region, and a
 * peer is alive exactly while the kernel says so: for a named channel, an
 * open-file-description lock its process holds on the region's file
 * (dropped by the kernel when the process exits or is killed, whatever pid
 * or time namespace it runs in; see klaw/region.h and src/liveness.h); for
 * an anonymous one, its pid. Every parked caller reaps the handles of dead
 * peers on the channel's liveness clock - one per channel and attachment,
 * every liveness_ns - not on a timer of its own call, so callers that wait
 * in short slices (select included) still reap on schedule.
 *
 * Waiting: try_ forms never block. Blocking forms take an absolute
 * CLOCK_MONOTONIC deadline (NULL: none; klaw_deadline_in_ms()), spin
 * briefly, then park on a ck_ec event count in the region (shared futexes).
 * While the channel's writers and receivers outnumber the CPUs this process
 * may use ("crowded"), a caller that must wait does not spin: it yields the
 * CPU (sched_yield) up to 8 times - the one it waits for often shares its
 * CPU - and then parks; and a BLOCK writer then sleeps until 7/8 of the ring
 * is free instead of half, so each context switch pays for more frames.
 * Nothing on the per-frame paths makes a system call or allocates unless
 * the caller has to wait or someone is parked; a receiver's per-frame cost
 * is a few loads and one store to its own cache line.
 *
 * Thread safety: a writer handle may be used by several threads at once
 * (not the one of a KLAW_BCAST_SINGLE_WRITER channel: one thread at a time); a
 * receiver handle is one cursor and must be used by one thread at a time
 * (subscribe again for another cursor). A klaw_frame belongs to its thread
 * until commit/abort/release. Views are released in the order they were
 * taken (a release also releases every earlier view of that receiver).
 */
#ifndef KLAW_BROADCAST_H
#define KLAW_BROADCAST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "klaw/export.h"
#include "klaw/frame.h"
#include "klaw/records.h"
#include "klaw/registry.h"
#include "klaw/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KLAW_KIND_BROADCAST 2u

typedef struct klaw_bcast_tx klaw_bcast_tx;
typedef struct klaw_bcast_rx klaw_bcast_rx;

typedef struct klaw_bcast_opts {
    uint32_t capacity;    /* slots; rounded up to a power of two (>= 2)    */
    uint32_t max_frame;   /* largest frame in bytes (>= 1)                 */
    int policy;           /* KLAW_POLICY_OVERWRITE (0 means it) or _BLOCK  */
    const char *name;     /* NULL: anonymous; else /dev/shm/klaw.<name>    */
    mode_t mode;          /* for a named channel; 0 means 0600             */
    uint32_t max_readers; /* receivers registered at once; 0 means 64      */
    uint32_t max_writers; /* writer handles at once; 0 means 16            */
    uint64_t liveness_ns; /* how often waiters reap dead peers; 0: 1 s     */
    const char *value_type; /* for the metadata record; NULL: none         */
    unsigned flags;       /* 0, or KLAW_BCAST_SINGLE_WRITER and/or
                             KLAW_BCAST_WRITER_YIELDS                        */
    int set_group;        /* named: 1 gives the object `group` (with a mode
                             such as 0660: shared with the group); 0
                             leaves the group the system gives              */
    gid_t group;
} klaw_bcast_opts;

/* Creation flag: one writer at a time (Aeron's ExclusivePublication, the
 * Disruptor's single-producer sequencer). max_writers is 1 (opts asking for
 * more are KLAW_INVAL): a second open_tx or a clone is KLAW_FULL while the
 * writer handle lives (or until its dead process is reaped), and that one
 * handle must be used by one thread at a time. In exchange its claims take
 * no atomic read-modify-write: each slot is marked with a plain store and
 * the next slots are prefetched for writing, so a batch of claims costs
 * about half as much (klaw-bench fanout measures it; the benchmark's writer
 * uses this flag). Everything else - recovery of a killed writer, LAGGED,
 * BLOCK, closing - is the same. */
#define KLAW_BCAST_SINGLE_WRITER 1u

/* Creation flag, OVERWRITE only: while the channel's writers and receivers
 * outnumber the CPUs this process may use, a writer gives its CPU up
 * (sched_yield) once per ring lap. An OVERWRITE writer never waits, so on
 * such a crowded machine it would otherwise keep its CPU for a whole time
 * slice, lapping the receivers that share that CPU (they cannot run) and
 * the others (they cannot keep up) many times over. The price is one
 * system call per capacity frames, and only while crowded - a departure,
 * asked for by this flag, from "no system call on a frame's path unless
 * someone is parked" (Tokio's cooperative budget makes the same trade).
 * Measured in klaw-bench fanout, whose writer sets it: 64 B N = 8 between
 * processes, 55-60 M -> 115-155 M frames/s delivered. */
#define KLAW_BCAST_WRITER_YIELDS 2u

/* subscribe flags */
#define KLAW_BCAST_FROM_TAIL 0u   /* only frames committed from now on    */
#define KLAW_BCAST_FROM_OLDEST 1u /* start at the oldest retained frame   */

/* Creates a channel (a region, anonymous or named) and its first writer
 * handle. tx may be NULL for a named channel: it is then created with no
 * writer, for writers that open it by name (it is not closed until a writer
 * has come and every writer has gone); receivers may subscribe at once.
 * Returns KLAW_OK; KLAW_INVAL (opts NULL, capacity or max_frame 0 or above
 * 2^30, an unknown policy or flag, max_readers/max_writers above 4096,
 * max_writers above 1 with KLAW_BCAST_SINGLE_WRITER, value_type over 256
 * bytes, a bad name, tx NULL for an anonymous channel); KLAW_EXIST (the
 * name is taken); KLAW_PERM; KLAW_NOMEM; KLAW_SYS. */
KLAW_API klaw_status klaw_bcast_create(const klaw_bcast_opts *opts, klaw_bcast_tx **tx);

/* A new writer handle of a named channel. Waits up to 1 s for a channel
 * still being created. Returns KLAW_OK; what klaw_region_open() returns
 * (KLAW_NOENT, KLAW_CORRUPT for a region that fails validation - a ring
 * config that does not fit or make sense included -, KLAW_VERSION,
 * KLAW_PERM, KLAW_TIMEOUT, KLAW_INVAL for another kind of channel);
 * KLAW_CLOSED (every writer closed: the channel is finished); KLAW_FULL
 * (max_writers handles open); KLAW_NOMEM. */
KLAW_API klaw_status klaw_bcast_open_tx(const char *name, klaw_bcast_tx **tx);

/* A new registered receiver of a named channel, starting at the tail
 * (KLAW_BCAST_FROM_TAIL: frames committed from now on) or at the oldest
 * retained frame (KLAW_BCAST_FROM_OLDEST). reader_id (<= 63 bytes) names
 * it in the registry; NULL: one is made up ("reader-<pid>-<n>"). Returns
 * what klaw_bcast_open_tx() returns (but not KLAW_CLOSED: a receiver of a
 * finished channel drains it), plus KLAW_INVAL (bad flags or reader_id),
 * KLAW_EXIST (that reader_id is registered), KLAW_FULL (max_readers
 * receivers registered). Under BLOCK, a FROM_OLDEST receiver may get one
 * KLAW_LAGGED for retained frames overwritten while it subscribed; a
 * FROM_TAIL receiver loses nothing. */
KLAW_API klaw_status klaw_bcast_open_rx(const char *name, unsigned flags, const char *reader_id,
                                        klaw_bcast_rx **rx);

/* A new registered receiver of the writer's channel (as open_rx; reader_id
 * NULL: one is made up). KLAW_INVAL also for a NULL or closed tx. */
KLAW_API klaw_status klaw_bcast_subscribe(klaw_bcast_tx *tx, unsigned flags, const char *reader_id,
                                          klaw_bcast_rx **rx);

/* Another writer handle: KLAW_OK, KLAW_CLOSED (tx closed, or the channel
 * finished), KLAW_FULL (max_writers), KLAW_NOMEM. */
KLAW_API klaw_status klaw_bcast_tx_clone(klaw_bcast_tx *tx, klaw_bcast_tx **out);

/* Gives up a writer handle (idempotent; NULL ignored). The last writer's
 * close closes the channel: receivers drain, then get KLAW_CLOSED. Commit
 * or abort outstanding claims first: a claim left open is skipped (counted
 * in stats.aborted_claims), so it never holds up receivers or the other
 * writers, and a commit or abort of it afterwards returns KLAW_CLOSED. */
KLAW_API void klaw_bcast_tx_close(klaw_bcast_tx *tx);
/* Unsubscribes (idempotent; NULL ignored): leaves the registry, so a BLOCK
 * writer no longer waits for this receiver. Views still held become
 * invalid (release and release_batch return KLAW_CLOSED). */
KLAW_API void klaw_bcast_rx_close(klaw_bcast_rx *rx);
/* Close, then free the handle (NULL ignored). The channel's memory goes
 * when its last handle in this process is freed; a named channel's name
 * stays until klaw_region_unlink(). */
KLAW_API void klaw_bcast_tx_free(klaw_bcast_tx *tx);
KLAW_API void klaw_bcast_rx_free(klaw_bcast_rx *rx);

/* ---- writer side: claim -> write in place -> commit, or abort ----------
 *
 * try_claim: never blocks. KLAW_OK (f->data has f->cap = max_frame bytes
 * of room, f->seq is the frame's position); KLAW_TOOBIG (len > max_frame);
 * KLAW_CLOSED (this handle is closed); KLAW_NO_RECEIVERS (BLOCK and nobody
 * registered: nothing claimed); KLAW_FULL (BLOCK: the slowest receiver has
 * not released the slot's previous frame; either policy: the writer of the
 * slot's previous lap has not finished); KLAW_CORRUPT (a slot state the
 * protocol never makes: hostile shared memory).
 * claim: the same, waiting while KLAW_FULL until `deadline` (KLAW_TIMEOUT);
 * while it waits it reaps dead receivers (BLOCK) and dead writers on the
 * channel's liveness clock. */
KLAW_API klaw_status klaw_bcast_try_claim(klaw_bcast_tx *tx, size_t len, klaw_frame *f);
KLAW_API klaw_status klaw_bcast_claim(klaw_bcast_tx *tx, size_t len, const struct timespec *deadline,
                                      klaw_frame *f);
/* Publishes a claimed frame of `len` bytes. KLAW_OK; KLAW_NO_RECEIVERS
 * (committed, but nobody is registered); KLAW_INVAL (len > max_frame: the
 * claim is aborted instead); KLAW_CLOSED (tx was closed: the close skipped
 * the claim, and the slot may hold a later frame by now - nothing is
 * touched). */
KLAW_API klaw_status klaw_bcast_commit(klaw_bcast_tx *tx, klaw_frame *f, size_t len);
/* Gives a claim up: receivers pass its position (stats.aborted_claims).
 * KLAW_OK; KLAW_CLOSED when tx was closed (its open claims were given up
 * by the close already: nothing is touched). */
KLAW_API klaw_status klaw_bcast_abort(klaw_bcast_tx *tx, klaw_frame *f);
/* Claims 1..n frames of room `len` each (waiting as claim() for the first
 * only); *got says how many. Statuses as claim(), KLAW_INVAL for n == 0.
 * With several writers the positions need not be consecutive. */
KLAW_API klaw_status klaw_bcast_claim_batch(klaw_bcast_tx *tx, size_t len, klaw_frame *frames, size_t n,
                                            size_t *got, const struct timespec *deadline);
/* Commits frames[0..n) with their frames[i].len; one wake-up check for
 * all. KLAW_OK, KLAW_NO_RECEIVERS, or KLAW_INVAL when some len was over
 * max_frame (that frame aborted, the others committed); KLAW_CLOSED (tx
 * was closed: none committed). */
KLAW_API klaw_status klaw_bcast_commit_batch(klaw_bcast_tx *tx, klaw_frame *frames, size_t n);
/* claim + copy + commit: the statuses of try_claim/claim and commit. */
KLAW_API klaw_status klaw_bcast_try_send(klaw_bcast_tx *tx, const void *data, size_t len);
KLAW_API klaw_status klaw_bcast_send(klaw_bcast_tx *tx, const void *data, size_t len,
                                     const struct timespec *deadline);

/* ---- reader side --------------------------------------------------------
 *
 * view: KLAW_OK (f is the next frame in place, valid until release);
 * KLAW_EMPTY (try_ only: nothing yet); KLAW_TIMEOUT; KLAW_CLOSED (every
 * writer closed and everything drained, or this handle closed); KLAW_LAGGED
 * with *lagged = positions missed (lagged may be NULL): the cursor has moved
 * to the oldest retained frame, view again; KLAW_CORRUPT (hostile shared
 * memory). release: KLAW_OK, or KLAW_LAGGED when the frame was overwritten
 * while viewed (its bytes may be torn; it counts as missed; f->data is set
 * to NULL), or KLAW_CLOSED when rx was closed (nothing is published). */
KLAW_API klaw_status klaw_bcast_try_view(klaw_bcast_rx *rx, klaw_frame *f, uint64_t *lagged);
KLAW_API klaw_status klaw_bcast_view(klaw_bcast_rx *rx, const struct timespec *deadline, klaw_frame *f,
                                     uint64_t *lagged);
KLAW_API klaw_status klaw_bcast_release(klaw_bcast_rx *rx, klaw_frame *f);
/* Views 1..n consecutive frames (waiting as view() for the first only);
 * *got says how many. Statuses as view(), KLAW_INVAL for n == 0. */
KLAW_API klaw_status klaw_bcast_view_batch(klaw_bcast_rx *rx, klaw_frame *frames, size_t n, size_t *got,
                                           uint64_t *lagged, const struct timespec *deadline);
/* KLAW_LAGGED if any frame of the batch was overwritten while viewed: those
 * frames get data = NULL (the others were intact), and each of them counts
 * as missed. */
KLAW_API klaw_status klaw_bcast_release_batch(klaw_bcast_rx *rx, klaw_frame *frames, size_t n);

/* ---- event loops: a pollable descriptor per handle -----------------------
 *
 * klaw_bcast_rx_fd(rx) becomes readable when rx has something to do: a
 * frame to view, LAGGED, or CLOSED (every writer gone, drained).
 * klaw_bcast_tx_fd(tx) becomes readable when tx may claim: under BLOCK
 * when the slowest receiver has freed room (half a ring, the hysteresis
 * claim uses), and - either policy - when the slot at the tail is not
 * another writer's claim in progress. The same contract as klaw/mpmc.h
 * (a wake-up, not a queue; drain with try_view / try_claim, then arm
 * before waiting again; arm re-checks, so nothing is missed; *timeout_ms:
 * wait at most that long before arming again - arm reaps dead peers when
 * due, and refreshes this receiver's last_seen_at, as a parked view
 * does). A writer pays a system call only when a descriptor waiter has
 * armed itself. KLAW_OK; KLAW_CLOSED (this handle was closed); KLAW_SYS
 * (no descriptor: errno). */
KLAW_API int klaw_bcast_rx_fd(klaw_bcast_rx *rx);
KLAW_API klaw_status klaw_bcast_rx_arm(klaw_bcast_rx *rx, int *timeout_ms);
KLAW_API int klaw_bcast_tx_fd(klaw_bcast_tx *tx);
KLAW_API klaw_status klaw_bcast_tx_arm(klaw_bcast_tx *tx, int *timeout_ms);
/* Copies the next frame into buf (validated: never torn). KLAW_OK with
 * *len; KLAW_TOOBIG (*len = the frame's length, validated like its bytes;
 * nothing taken: call again with a bigger buffer); KLAW_LAGGED (*lagged
 * positions missed, or 1 when the frame was overwritten during the copy or
 * before its length could be validated); the rest as view(). */
KLAW_API klaw_status klaw_bcast_try_recv(klaw_bcast_rx *rx, void *buf, size_t cap, size_t *len,
                                         uint64_t *lagged);
KLAW_API klaw_status klaw_bcast_recv(klaw_bcast_rx *rx, void *buf, size_t cap, size_t *len, uint64_t *lagged,
                                     const struct timespec *deadline);

/* ---- stats and readers (cold paths: they may lock and reap) ------------- */

typedef struct klaw_bcast_stats {
    uint32_t writers, readers, capacity, max_frame;
    int policy;               /* KLAW_POLICY_OVERWRITE or KLAW_POLICY_BLOCK */
    uint64_t total_sent;      /* frames committed                          */
    uint64_t total_received;  /* frames delivered intact, summed over
                                 receivers (those that left included)      */
    uint64_t lagged;          /* positions receivers missed, summed        */
    uint64_t aborted_claims;  /* aborted, and dead writers' claims skipped */
    uint64_t evicted;         /* receivers removed as dead                 */
    uint64_t depth;           /* retained frames the slowest receiver has
                                 not released (<= capacity)                */
    uint64_t high_watermark;  /* largest depth seen (sampled)              */
    int writers_closed;
} klaw_bcast_stats;

/* Fills *out from the region, from any process (exact while the channel is
 * quiet; frames in flight may be off by a few). Reaps dead processes
 * first. KLAW_OK, or KLAW_CORRUPT when the handle-table lock cannot be
 * taken (no peer slot for this process). */
KLAW_API klaw_status klaw_bcast_tx_stats(klaw_bcast_tx *tx, klaw_bcast_stats *out);
KLAW_API klaw_status klaw_bcast_rx_stats(klaw_bcast_rx *rx, klaw_bcast_stats *out);

/* An immutable snapshot of the channel's reader registry: one ReaderInfo
 * per registered receiver, its live counters folded in (klaw/registry.h).
 * Dead receivers are reaped first. *out is the caller's: free it with
 * klaw_reader_snapshot_free() (it does not refer to the channel). KLAW_OK,
 * KLAW_NOMEM, KLAW_CORRUPT. */
KLAW_API klaw_status klaw_bcast_tx_readers(klaw_bcast_tx *tx, klaw_reader_snapshot **out);
KLAW_API klaw_status klaw_bcast_rx_readers(klaw_bcast_rx *rx, klaw_reader_snapshot **out);

#ifdef __cplusplus
}
#endif

#endif /* KLAW_BROADCAST_H */
