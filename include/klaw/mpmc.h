/*
 * klaw/mpmc.h - the bounded multi-producer multi-consumer channel.
 *
 * Frames of 0..max_frame bytes travel through a ring of `capacity` slots
 * (a power of two) that lives in a region: anonymous memory for threads of
 * one process (and children forked after creation), or a named shared-memory
 * object that other processes attach to by name. Each frame goes to exactly
 * one receiver (competing consumers), and the frames of one producer arrive
 * in the order it committed them (FIFO per producer). Every frame carries a
 * 64-bit sequence number given by the channel: its position in the ring,
 * unique and increasing in claim order.
 *
 * Zero copy: a sender claims a slot, writes the frame in place (with the
 * codec writer, say) and commits it, or aborts it; a receiver views the next
 * frame in place and releases it when done - in any order relative to its
 * other views. send()/recv() are conveniences that copy.
 *
 * Waiting: try_ forms never block (KLAW_FULL / KLAW_EMPTY). Blocking forms
 * take an absolute CLOCK_MONOTONIC deadline (NULL: wait as long as it
 * takes) and return KLAW_TIMEOUT when it passes; they spin briefly, then
 * park on a futex through a ck_ec event count (shared futexes, so it works
 * across processes). Nothing on the send or receive path makes a system
 * call unless someone is parked. While it spins, a blocking call whose
 * slot became ready waits up to 16 more polls (about half a microsecond)
 * for a run - the slot a quarter of the ring or 64 positions further on
 * ready too - so that a streaming producer and consumer do not work on the
 * same cache lines frame after frame; it never parks for that reason. The
 * try_ forms take what is there at once.
 *
 * Handles and closing: a channel has sender and receiver handles; clone
 * makes another, close gives one up (idempotent: a second close does
 * nothing). The counts live in the region. When every sender has closed,
 * receivers drain what is buffered, then get KLAW_CLOSED; when every
 * receiver has closed, send gives KLAW_CLOSED; parked callers wake on close.
 * A process that dies holding handles has them reclaimed by liveness checks
 * the kernel vouches for (klaw/region.h: file locks on the region; no pid
 * namespace or /proc needed), so nobody waits forever on a dead peer, and
 * a live peer - however slow, stopped, or in another container - is never
 * taken for dead.
 *
 * Recovery (the ring's protocol comment in channels/mpmc.c has the
 * details): a producer that dies between claim and commit leaves a slot
 * that would block every frame behind it; a waiting receiver checks the
 * channel's handles once per liveness period (default 1 s; the period is
 * the channel's in each process, not each call's, so a caller waiting in
 * short slices checks as often as one that waits long), and once the
 * claimant's process is gone the slot becomes a skipped record, later
 * frames flow, and
 * stats.aborted_claims counts it. A receiver that dies while holding a view
 * has not released its frame: once the slot is needed again (or the dead
 * handle is reaped), the frame is offered again to the live receivers
 * (stats.redelivered counts it), so a committed frame is never lost; it may
 * then arrive out of its producer's order, and the dead receiver may have
 * seen it before it died.
 *
 * Thread safety: handles may be used from several threads at once (a
 * handle is a role, not a lock) - except the one handle of a side created
 * KLAW_MPMC_SINGLE_PRODUCER / _CONSUMER, which one thread at a time uses; a
 * klaw_frame belongs to the thread that claimed or viewed it until
 * commit/abort/release.
 */
#ifndef KLAW_MPMC_H
#define KLAW_MPMC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "klaw/export.h"
#include "klaw/frame.h"
#include "klaw/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KLAW_KIND_MPMC 1u

typedef struct klaw_mpmc_tx klaw_mpmc_tx;
typedef struct klaw_mpmc_rx klaw_mpmc_rx;

typedef struct klaw_mpmc_opts {
    uint32_t capacity;       /* slots; rounded up to a power of two (>= 2) */
    uint32_t max_frame;      /* largest frame in bytes (>= 1)              */
    const char *name;        /* NULL: anonymous; else /dev/shm/klaw.<name> */
    mode_t mode;             /* for a named channel; 0 means 0600          */
    uint32_t max_handles;    /* sender + receiver handles alive at once;
                                0 means 256; 2..4096 (1 is KLAW_INVAL)     */
    uint64_t liveness_ns;    /* how often waiters check that the owners of
                                handles are alive; 0: 1 s                  */
    const char *value_type;  /* for the metadata record; NULL: none (at
                                most 256 bytes, else KLAW_INVAL)           */
    unsigned flags;          /* 0, or KLAW_MPMC_SINGLE_PRODUCER and/or
                                KLAW_MPMC_SINGLE_CONSUMER                  */
    int set_group;           /* named: 1 gives the object `group` (with a
                                mode such as 0660: shared with the group);
                                0 leaves the group the system gives        */
    gid_t group;
} klaw_mpmc_opts;

/* Creation flags: one sender (receiver) handle at a time - a one-to-one
 * or many-to-one / one-to-many ring, as Agrona's OneToOneRingBuffer or the
 * Disruptor's single-producer sequencer. A second open or clone on that
 * side is KLAW_FULL while the handle lives (or until its dead process is
 * reaped), and that handle must be used by one thread at a time. In
 * exchange that side takes its slots with plain stores instead of a CAS per
 * slot (the single producer also prefetches the next slots for writing):
 * no locked instruction per frame on that side. With both flags (one to
 * one) the ring also keeps the frames' bytes in an array of their own,
 * apart from the slots' 16-byte headers, so a 64-byte frame is one whole
 * cache line (f.data is 16-byte aligned in every ring). Recovery, order,
 * closing and waiting are unchanged. klaw-bench mpmc measures both forms
 * (`klaw` and `klaw_1to1`). */
#define KLAW_MPMC_SINGLE_PRODUCER 1u
#define KLAW_MPMC_SINGLE_CONSUMER 2u

typedef struct klaw_mpmc_stats {
    uint32_t senders, receivers;  /* live handles                          */
    uint32_t capacity, max_frame;
    uint64_t depth;               /* frames claimed but not yet viewed     */
    uint64_t high_watermark;      /* the largest depth seen by a sender:
                                     sampled every 256th claim and whenever
                                     a sender finds the ring full; at least
                                     the current depth                     */
    uint64_t total_sent;          /* frames committed                      */
    uint64_t total_received;      /* frames released                       */
                                  /* (both derived from the ring's positions:
                                     exact when the channel is quiet)      */
    uint64_t aborted_claims;      /* claims aborted, or reclaimed from dead
                                     producers                             */
    uint64_t redelivered;         /* frames taken back from dead receivers */
    uint64_t reaped_handles;      /* handles of dead processes reclaimed   */
    int senders_closed, receivers_closed;
} klaw_mpmc_stats;

/* Creates a channel and its first sender and receiver handles. For a named
 * channel tx and rx may both be NULL: it is then created with no handles,
 * for senders and receivers that open it by name (the senders' side closes
 * once a sender has come and every sender has gone). KLAW_INVAL
 * (capacity/max_frame/handles out of range, an unknown flag, only one of
 * tx/rx NULL, both NULL for an anonymous channel), KLAW_EXIST, KLAW_PERM,
 * KLAW_NOMEM, KLAW_SYS. */
KLAW_API klaw_status klaw_mpmc_create(const klaw_mpmc_opts *opts, klaw_mpmc_tx **tx, klaw_mpmc_rx **rx);

/* Attaches to a named channel (another process made it) with a new sender
 * or receiver handle. The region is validated (see klaw_region_open); a
 * ring whose layout does not fit its region is KLAW_CORRUPT. KLAW_CLOSED if
 * that side is already closed for good; KLAW_FULL if the handle table (or
 * the peer table: one slot per attached process) is full; KLAW_TIMEOUT if
 * the region is still being created after 1 s, or a live process held the
 * handle table's lock for 1 s; KLAW_SYS if this process cannot vouch for
 * itself (a fork child of an unlinked region without /proc). */
KLAW_API klaw_status klaw_mpmc_open_tx(const char *name, klaw_mpmc_tx **tx);
KLAW_API klaw_status klaw_mpmc_open_rx(const char *name, klaw_mpmc_rx **rx);

/* Another handle of the same role; KLAW_CLOSED if the source is closed;
 * KLAW_FULL, KLAW_TIMEOUT as open. */
KLAW_API klaw_status klaw_mpmc_tx_clone(klaw_mpmc_tx *tx, klaw_mpmc_tx **out);
KLAW_API klaw_status klaw_mpmc_rx_clone(klaw_mpmc_rx *rx, klaw_mpmc_rx **out);

/* Gives the handle's role up (idempotent). The last sender's close lets
 * receivers drain and then see KLAW_CLOSED; the last receiver's close makes
 * sends fail with KLAW_CLOSED. Wakes parked callers. Frames the handle
 * still holds are given up as a dead process's would be: a claim not yet
 * committed becomes a skipped record (counted in aborted_claims), a view
 * not yet released is offered to the other receivers (or the next one to
 * open, counted in redelivered). Committing, aborting or releasing such a
 * frame afterwards returns KLAW_CLOSED and touches nothing; close a handle
 * only once no other thread is using it. Always completes: it waits for
 * the handle table's lock while a live process holds it, takes it over
 * from a dead one. */
KLAW_API void klaw_mpmc_tx_close(klaw_mpmc_tx *tx);
KLAW_API void klaw_mpmc_rx_close(klaw_mpmc_rx *rx);

/* Closes (if not yet) and frees the handle; the region is unmapped with
 * the last handle of this process. NULL is ignored. */
KLAW_API void klaw_mpmc_tx_free(klaw_mpmc_tx *tx);
KLAW_API void klaw_mpmc_rx_free(klaw_mpmc_rx *rx);

/* Claims a slot for a frame of `len` bytes (0..max_frame; commit may give
 * another length up to f->cap). try_: KLAW_FULL at once when no slot is
 * free. KLAW_TOOBIG, KLAW_CLOSED (no receivers left, or this handle is
 * closed), KLAW_TIMEOUT. */
KLAW_API klaw_status klaw_mpmc_try_claim(klaw_mpmc_tx *tx, size_t len, klaw_frame *f);
KLAW_API klaw_status klaw_mpmc_claim(klaw_mpmc_tx *tx, size_t len, const struct timespec *deadline, klaw_frame *f);

/* Publishes a claimed frame with its final length (0..f->cap); KLAW_INVAL
 * for a bad length (the frame is then aborted); KLAW_CLOSED when the
 * handle was closed since the claim (the claim was given up then). */
KLAW_API klaw_status klaw_mpmc_commit(klaw_mpmc_tx *tx, klaw_frame *f, size_t len);

/* Gives a claimed slot back unused: receivers skip it; counted in
 * stats.aborted_claims. KLAW_OK, or KLAW_CLOSED (as commit). */
KLAW_API klaw_status klaw_mpmc_abort(klaw_mpmc_tx *tx, klaw_frame *f);

/* Copies len bytes in as one frame (claim + memcpy + commit). */
KLAW_API klaw_status klaw_mpmc_try_send(klaw_mpmc_tx *tx, const void *data, size_t len);
KLAW_API klaw_status klaw_mpmc_send(klaw_mpmc_tx *tx, const void *data, size_t len, const struct timespec *deadline);

/* Views the next frame in place. try_: KLAW_EMPTY at once when nothing is
 * ready; KLAW_CLOSED once every sender has closed and nothing is left;
 * KLAW_TIMEOUT. */
KLAW_API klaw_status klaw_mpmc_try_view(klaw_mpmc_rx *rx, klaw_frame *f);
KLAW_API klaw_status klaw_mpmc_view(klaw_mpmc_rx *rx, const struct timespec *deadline, klaw_frame *f);

/* Gives a viewed frame's slot back to the senders. Views may be released
 * in any order. KLAW_OK, or KLAW_CLOSED when the handle was closed since
 * the view (the frame was offered again then: nothing is touched). */
KLAW_API klaw_status klaw_mpmc_release(klaw_mpmc_rx *rx, klaw_frame *f);

/* Copies the next frame out (view + memcpy + release). *len gets the
 * frame's length; KLAW_TOOBIG (frame kept, nothing consumed) when cap is
 * smaller. */
KLAW_API klaw_status klaw_mpmc_try_recv(klaw_mpmc_rx *rx, void *buf, size_t cap, size_t *len);
KLAW_API klaw_status klaw_mpmc_recv(klaw_mpmc_rx *rx, void *buf, size_t cap, size_t *len,
                                    const struct timespec *deadline);

/* Batch forms: claim up to n slots of len bytes each / view up to n frames
 * in one step. *got is how many (at least 1 on KLAW_OK); the blocking
 * forms wait for the first only. Commit or release each frame, or all of
 * them with the _batch calls. */
KLAW_API klaw_status klaw_mpmc_claim_batch(klaw_mpmc_tx *tx, size_t len, klaw_frame *frames, size_t n,
                                           size_t *got, const struct timespec *deadline);
KLAW_API klaw_status klaw_mpmc_commit_batch(klaw_mpmc_tx *tx, klaw_frame *frames, size_t n);
KLAW_API klaw_status klaw_mpmc_view_batch(klaw_mpmc_rx *rx, klaw_frame *frames, size_t n, size_t *got,
                                          const struct timespec *deadline);
KLAW_API klaw_status klaw_mpmc_release_batch(klaw_mpmc_rx *rx, klaw_frame *frames, size_t n);

/* ---- event loops: a pollable descriptor per handle -----------------------
 *
 * klaw_mpmc_rx_fd(rx) is a file descriptor that becomes readable when rx
 * has something to do: a frame to view, or CLOSED (every sender gone and
 * nothing left). klaw_mpmc_tx_fd(tx): room to claim, or CLOSED (every
 * receiver gone). It works with poll, select, epoll, libuv (uv_poll_t) and
 * asyncio (loop.add_reader), across threads and processes.
 *
 * It is a wake-up, not a queue. The loop:
 *
 *     int fd = klaw_mpmc_rx_fd(rx), ms;    // made on first use
 *     klaw_mpmc_rx_arm(rx, &ms);
 *     for (;;) {
 *         poll(&(struct pollfd){fd, POLLIN}, 1, ms);  // or epoll, ...
 *         while ((st = klaw_mpmc_try_view(rx, &f)) == KLAW_OK) {
 *             use(f.data, f.len);
 *             klaw_mpmc_release(rx, &f);
 *         }
 *         if (st == KLAW_CLOSED) break;
 *         klaw_mpmc_rx_arm(rx, &ms);        // re-arm before waiting again
 *     }
 *
 * arm makes the descriptor readable at the next change - at once if there
 * is something to do already: it checks again after arming, as a parked
 * waiter does, so a frame committed between the drain and the arm is
 * never missed. *timeout_ms (may be NULL) is how long to wait at most
 * before arming again: the channel's liveness clock (arm reaps the handles
 * of dead processes when due - a loop asleep on a descriptor would never
 * recover a dead producer's claim otherwise). KLAW_OK; KLAW_CLOSED (this
 * handle was closed); KLAW_SYS (no descriptor could be made: errno).
 *
 * Cost: a sender pays a system call (one sendto(2)) only when a descriptor
 * waiter has armed itself, exactly as for a parked waiter: none per frame
 * otherwise. The descriptor is a Unix datagram socket bound in /dev/shm
 * (klaw-fd.*; the protocol and why: channels/fdwait.h), owned by the handle:
 * closed and removed by _free (do not close it yourself), and removed by
 * whoever reaps the handle when its process dies. _fd returns -1 with errno
 * (EBADF for a closed handle, or a fork child's copy of its parent's handle
 * whose descriptor was made: the parent's; KLAW_SYS from arm then). */
KLAW_API int klaw_mpmc_rx_fd(klaw_mpmc_rx *rx);
KLAW_API klaw_status klaw_mpmc_rx_arm(klaw_mpmc_rx *rx, int *timeout_ms);
KLAW_API int klaw_mpmc_tx_fd(klaw_mpmc_tx *tx);
KLAW_API klaw_status klaw_mpmc_tx_arm(klaw_mpmc_tx *tx, int *timeout_ms);

/* A snapshot of the counters (readable from any process with a handle).
 * Also reaps handles of dead processes first. KLAW_OK; KLAW_TIMEOUT when a
 * live process held the handle table's lock for 1 s (slow, stopped, or a
 * forged lock word); KLAW_CORRUPT when no peer slot can be had. */
KLAW_API klaw_status klaw_mpmc_tx_stats(klaw_mpmc_tx *tx, klaw_mpmc_stats *out);
KLAW_API klaw_status klaw_mpmc_rx_stats(klaw_mpmc_rx *rx, klaw_mpmc_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* KLAW_MPMC_H */
