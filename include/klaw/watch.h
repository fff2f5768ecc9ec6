/*
 * klaw/watch.h - the watch channel: one latest value with a version.
 *
 * A watch holds one value of 0..max_frame bytes and a 64-bit version that
 * grows by one with every send (the initial value, given at creation, has
 * version 0). Senders replace the value; receivers look at the newest one
 * and can wait for a newer one. Each receiver remembers the last version it
 * marked as seen: a new receiver (create, open, clone of a sender's
 * channel) starts with the current value marked seen; a clone of a
 * receiver copies its seen version.
 *
 * Value and version are always read together: a borrow or a copy never
 * pairs the bytes of one version with the number of another.
 *
 * Two memory models, one API:
 *
 *  - In-process (name NULL, process_shared 0): values are immutable
 *    records in the heap published with liburcu (urcu-bp: no thread needs
 *    registering). A borrow takes a reference on the current record (inside
 *    an RCU read-side section that ends before borrow returns): it never
 *    blocks the writer and is always valid until released. No read-side
 *    section is held while the caller has the borrow, so the borrowing
 *    thread may call anything meanwhile - code that waits for an RCU grace
 *    period (synchronize_rcu) included - and release may come from another
 *    thread; a borrow held long keeps only its own record from being
 *    reused (it never delays a sender). Not for processes forked after
 *    creation (the records are in the parent's heap). Creating one
 *    registers liburcu's fork handlers (pthread_atfork), so that a child
 *    forked later gets a working call_rcu worker of its own.
 *
 *  - Shared (a name, or process_shared 1 for an anonymous region that
 *    children forked after creation share): `slots` versioned slots in the
 *    region, validated like a seqlock. Version v lives in slot v % slots; a
 *    sender never waits for a reader, and a reader never blocks a sender.
 *    A zero-copy borrow points into the slot: if senders write `slots` more
 *    values while it is held, the slot is reused, the bytes the borrower
 *    reads may be torn, and klaw_watch_release() says KLAW_LAGGED (check it
 *    before acting on what you read; more slots make it rarer). The copying
 *    getters (klaw_watch_get*) retry until they hold an untorn value and
 *    its version, so they never return LAGGED.
 *
 * Waiting: klaw_watch_changed() spins briefly, then parks on an event count
 * in the region (shared futexes, so a sender in another process wakes it).
 * A send makes a system call only when a receiver is parked.
 *
 * Handles and closing (as for klaw/mpmc.h): sender and receiver handles,
 * clone, idempotent close; counts live in the region, and the handles of
 * processes that are gone are reclaimed: liveness is what the kernel
 * vouches for - each process holds a file lock on the region while it is
 * attached (see klaw/region.h), not a pid the system may give to another
 * process. Waiters check on the channel's liveness clock (every
 * liveness_ns, per process and channel - not per call, so a receiver
 * waiting in short slices reaps on schedule). When every sender has closed
 * (or died), receivers still see the last value (borrow works),
 * has_changed/changed report a newer version they have not seen first,
 * then KLAW_CLOSED. A sender with no receivers still stores its value (a
 * later receiver sees it as current). A sender that dies in the middle of
 * a send leaves the value it was writing unpublished (or, if it had
 * finished writing it, published by the next sender, which takes its lock
 * over); readers never see a half-written value.
 *
 * Thread safety: handles may be used from several threads at once. The
 * seen version of a receiver handle is shared by the threads using it.
 */
#ifndef KLAW_WATCH_H
#define KLAW_WATCH_H

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

#define KLAW_KIND_WATCH 3u

typedef struct klaw_watch_tx klaw_watch_tx;
typedef struct klaw_watch_rx klaw_watch_rx;

typedef struct klaw_watch_opts {
    uint32_t max_frame;      /* largest value in bytes (1 .. 2^30)         */
    const char *name;        /* NULL: anonymous; else /dev/shm/klaw.<name> */
    mode_t mode;             /* for a named channel; 0 means 0600          */
    int process_shared;      /* anonymous only: 1 = versioned slots in the
                                region (forked children share it); 0 = RCU
                                records in this process's heap. A named
                                watch is always shared.                    */
    uint32_t slots;          /* shared: versioned slots, 0 means 8; 2..1024 */
    uint32_t max_handles;    /* sender + receiver handles alive at once;
                                0 means 256; 2..4096                       */
    uint64_t liveness_ns;    /* how often a waiter checks that the
                                channel's processes are alive (the
                                channel's clock); 0: 1 s                   */
    const char *value_type;  /* for the metadata record; NULL: none        */
    const void *initial;     /* the value of version 0 (NULL: empty)       */
    size_t initial_len;      /* its length (<= max_frame)                  */
    int set_group;           /* named: 1 gives the object `group` (with a
                                mode such as 0660: shared with the group);
                                0 leaves the group the system gives        */
    gid_t group;
} klaw_watch_opts;

typedef struct klaw_watch_stats {
    uint32_t senders, receivers;  /* live handles                          */
    uint32_t max_frame;
    uint32_t slots;               /* 0 for an in-process (RCU) watch       */
    uint64_t version;             /* of the current value = values sent    */
    uint32_t value_len;           /* of the current value                  */
    int shared;                   /* 1: versioned slots; 0: RCU records    */
    uint64_t lagged_borrows;      /* releases that said KLAW_LAGGED        */
    uint64_t read_retries;        /* reads that met a slot being rewritten */
    uint64_t reaped_handles;      /* handles of dead processes reclaimed   */
    int senders_closed;           /* every sender closed or died           */
} klaw_watch_stats;

/* Creates a watch holding opts->initial as version 0, with its first
 * sender and receiver handles (either out-pointer may be NULL: that handle
 * is not made; a named watch with neither lives on in /dev/shm for others
 * to open). A watch with no sender handle yet is not closed: its receivers
 * wait for a sender to open it. KLAW_INVAL (max_frame, slots or
 * max_handles out of range, initial_len > max_frame, initial NULL with a
 * length), KLAW_EXIST, KLAW_PERM, KLAW_NOMEM, KLAW_SYS. */
KLAW_API klaw_status klaw_watch_create(const klaw_watch_opts *opts, klaw_watch_tx **tx, klaw_watch_rx **rx);

/* Attaches to a named watch with a new handle. A new receiver starts with
 * the current value marked seen. The region is validated (see
 * klaw_region_open; KLAW_NOENT, KLAW_INVAL for another kind of region);
 * a layout that does not fit is KLAW_CORRUPT. open_tx: KLAW_CLOSED once
 * every sender has closed for good. KLAW_FULL when the handle table is
 * full. */
KLAW_API klaw_status klaw_watch_open_tx(const char *name, klaw_watch_tx **tx);
KLAW_API klaw_status klaw_watch_open_rx(const char *name, klaw_watch_rx **rx);

/* Another handle of the same role (a receiver clone copies the seen
 * version). KLAW_CLOSED if the source is closed (or, for a sender, every
 * sender has closed); KLAW_FULL; KLAW_NOMEM. */
KLAW_API klaw_status klaw_watch_tx_clone(klaw_watch_tx *tx, klaw_watch_tx **out);
KLAW_API klaw_status klaw_watch_rx_clone(klaw_watch_rx *rx, klaw_watch_rx **out);

/* A new receiver of the sender's channel, starting with the current value
 * marked seen. KLAW_CLOSED if tx is closed; KLAW_FULL; KLAW_NOMEM. */
KLAW_API klaw_status klaw_watch_subscribe(klaw_watch_tx *tx, klaw_watch_rx **out);

/* Gives the handle up (idempotent). The last sender's close wakes parked
 * receivers, whose changed() then returns KLAW_CLOSED once they have seen
 * the last value. */
KLAW_API void klaw_watch_tx_close(klaw_watch_tx *tx);
KLAW_API void klaw_watch_rx_close(klaw_watch_rx *rx);

/* Closes (if not yet) and frees the handle; the region is unmapped (and an
 * in-process watch's records freed) with the last handle of this process.
 * Release every borrow first. NULL is ignored. */
KLAW_API void klaw_watch_tx_free(klaw_watch_tx *tx);
KLAW_API void klaw_watch_rx_free(klaw_watch_rx *rx);

/* Replaces the value with len bytes (0..max_frame), bumps the version and
 * wakes parked receivers. *receivers (may be NULL) gets the number of live
 * receiver handles; the value is stored even when it is 0. Never waits for
 * readers; senders take turns (a sender lock in the region, taken over
 * from a sender whose process is gone). KLAW_OK, KLAW_TOOBIG (len >
 * max_frame, nothing changed), KLAW_CLOSED (this handle is closed),
 * KLAW_NOMEM (in-process: no memory for a new record; nothing changed),
 * KLAW_TIMEOUT (another live process held the sender lock for 1 s - a
 * stopped sender, or a hostile peer; nothing changed), KLAW_FULL /
 * KLAW_SYS (this process cannot get an identity in the region: see
 * klaw/region.h; nothing changed). */
KLAW_API klaw_status klaw_watch_send(klaw_watch_tx *tx, const void *data, size_t len, uint32_t *receivers);

/* Views the current value in place without marking it seen: f->data,
 * f->len, f->seq = its version. Valid until klaw_watch_release(); see the
 * two memory models above. KLAW_OK, KLAW_CLOSED (this handle is closed),
 * KLAW_CORRUPT (the shared slots fail validation: a slot that can never
 * match the published version, or a version that keeps changing under the
 * read for 1024 tries in a row - no sender does that, a hostile peer
 * scribbling the region does; the read gives up instead of spinning). */
KLAW_API klaw_status klaw_watch_borrow(klaw_watch_rx *rx, klaw_frame *f);

/* The same, and marks the version it returns as seen. */
KLAW_API klaw_status klaw_watch_borrow_and_update(klaw_watch_rx *rx, klaw_frame *f);

/* Ends a borrow. KLAW_OK: the bytes were that version's for the whole
 * borrow. KLAW_LAGGED (shared watch only): the slot was reused for a newer
 * value while borrowed, what was read may be torn - discard it and borrow
 * again (the seen mark, if borrow_and_update set it, stays). KLAW_CLOSED:
 * the handle was closed meanwhile - nothing in the region is touched (no
 * LAGGED check or count); an in-process borrow's record is let go all the
 * same. */
KLAW_API klaw_status klaw_watch_release(klaw_watch_rx *rx, klaw_frame *f);

/* Copies the current value out with its version (retrying until the copy
 * is untorn). *len gets the value's length, *version (may be NULL) its
 * version. get_and_update also marks it seen. KLAW_OK, KLAW_TOOBIG (cap <
 * *len: nothing copied, nothing marked), KLAW_CLOSED (handle closed),
 * KLAW_CORRUPT (as borrow; also when 1024 copies in a row were torn). */
KLAW_API klaw_status klaw_watch_get(klaw_watch_rx *rx, void *buf, size_t cap, size_t *len, uint64_t *version);
KLAW_API klaw_status klaw_watch_get_and_update(klaw_watch_rx *rx, void *buf, size_t cap, size_t *len,
                                               uint64_t *version);

/* Non-blocking: *changed = 1 when the current version differs from the
 * seen one. KLAW_OK; KLAW_CLOSED when nothing new is there and every
 * sender has closed (or this handle is closed; *changed = 0). */
KLAW_API klaw_status klaw_watch_has_changed(klaw_watch_rx *rx, int *changed);

/* Waits until the current version differs from the seen one, then marks
 * it seen and returns KLAW_OK (at once if it already differs). KLAW_CLOSED
 * when every sender has closed (or died: liveness) and the newest value is
 * seen; KLAW_TIMEOUT at the absolute CLOCK_MONOTONIC deadline (NULL: no
 * deadline). */
KLAW_API klaw_status klaw_watch_changed(klaw_watch_rx *rx, const struct timespec *deadline);

/* A snapshot of the counters (also reaps dead processes' handles).
 * KLAW_OK or KLAW_CORRUPT (as borrow). */
KLAW_API klaw_status klaw_watch_tx_stats(klaw_watch_tx *tx, klaw_watch_stats *out);
KLAW_API klaw_status klaw_watch_rx_stats(klaw_watch_rx *rx, klaw_watch_stats *out);

/* ---- event loops: a pollable descriptor ---------------------------------
 *
 * klaw_watch_rx_fd(rx) becomes readable when rx has something to do: a
 * version newer than the one it last saw, or CLOSED (every sender gone).
 * The contract of klaw/mpmc.h: a wake-up, not a queue - read with
 * klaw_watch_get_and_update() (or has_changed), then arm before waiting
 * again; arm re-checks, so a version sent between the read and the arm is
 * never missed; *timeout_ms is how long to wait at most before arming
 * again (arm reaps dead senders when due). A sender pays a system call
 * only when a descriptor waiter has armed itself. KLAW_OK; KLAW_CLOSED
 * (this handle was closed); KLAW_SYS (no descriptor: errno). */
KLAW_API int klaw_watch_rx_fd(klaw_watch_rx *rx);
KLAW_API klaw_status klaw_watch_rx_arm(klaw_watch_rx *rx, int *timeout_ms);

#ifdef __cplusplus
}
#endif

#endif /* KLAW_WATCH_H */
