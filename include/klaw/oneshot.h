/*
 * klaw/oneshot.h - the oneshot channel: one value, sent once.
 *
 * A oneshot has one sender role and one receiver role. The sender sends at
 * most one value of 0..max_frame bytes; a second send says
 * KLAW_ALREADY_SENT. The receiver waits (with a deadline) for the value, or
 * for the sender to go away without sending (KLAW_CLOSED); it takes the
 * value once - by copy, or as a zero-copy view released afterwards - and
 * every later receive says KLAW_CLOSED. The sender can ask whether the
 * receiver is gone (closed, or its process died), and a send after that
 * says KLAW_CLOSED (the value is not delivered).
 *
 * The value lives in the channel's region: anonymous memory (threads of
 * one process, and children forked after creation - a handle inherited
 * through fork keeps the creator's identity for liveness, and closing it
 * in the child leaves the role to the creator) or a named shared-memory
 * object whose roles other processes take by name with
 * klaw_oneshot_open_tx/_rx. A process holding a role that dies counts as
 * having closed it, and the role is closed for good. Liveness is what the
 * kernel vouches for - each process holds a file lock on the region while
 * it is attached (see klaw/region.h) - not a pid, which the system may
 * give to another process. A waiting receiver (even one with no deadline)
 * notices within about liveness_ns: the clock is the channel's, per
 * process, so a receiver waiting in short slices checks on schedule too;
 * then a value fully sent before the death is still delivered, a send cut
 * short is not. A try_ receive checks when that clock is due; the
 * sender's klaw_oneshot_is_closed(), send and wait_closed check the
 * receiver's process at once.
 *
 * Waiting: recv and klaw_oneshot_wait_closed spin briefly, then park on an
 * event count in the region (shared futexes). Send and close make a system
 * call only when the other side is parked.
 *
 * Thread safety: a handle may be used from several threads; the value is
 * still taken once.
 */
#ifndef KLAW_ONESHOT_H
#define KLAW_ONESHOT_H

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

#define KLAW_KIND_ONESHOT 4u

typedef struct klaw_oneshot_tx klaw_oneshot_tx;
typedef struct klaw_oneshot_rx klaw_oneshot_rx;

typedef struct klaw_oneshot_opts {
    uint32_t max_frame;      /* largest value in bytes (1 .. 2^30)         */
    const char *name;        /* NULL: anonymous; else /dev/shm/klaw.<name> */
    mode_t mode;             /* for a named channel; 0 means 0600          */
    uint64_t liveness_ns;    /* how often a waiter checks the other side's
                                process (the channel's clock); 0: 1 s      */
    const char *value_type;  /* for the metadata record; NULL: none        */
    int set_group;           /* named: 1 gives the object `group` (with a
                                mode such as 0660: shared with the group);
                                0 leaves the group the system gives        */
    gid_t group;
} klaw_oneshot_opts;

typedef struct klaw_oneshot_stats {
    uint32_t max_frame;
    uint32_t value_len;      /* when sent                                  */
    int sender_held;         /* the sender role is taken (by a live one)   */
    int receiver_held;
    int sent;                /* the value is complete                      */
    int received;            /* the receiver took it                       */
    int sender_closed;       /* closed, or its process died                */
    int receiver_closed;
} klaw_oneshot_stats;

/* Creates a oneshot. Either out-pointer may be NULL: that role is left for
 * another process to take by name (an anonymous oneshot's NULL role can
 * never be taken, so that side counts as closed from the start). Until a
 * role is taken, its side is neither there nor gone: a receiver waits, a
 * sender may send (the value waits for the receiver). KLAW_INVAL
 * (max_frame out of range, or both NULL for an anonymous one), KLAW_EXIST,
 * KLAW_PERM, KLAW_NOMEM, KLAW_SYS. */
KLAW_API klaw_status klaw_oneshot_create(const klaw_oneshot_opts *opts, klaw_oneshot_tx **tx,
                                         klaw_oneshot_rx **rx);

/* Takes the sender / receiver role of a named oneshot. Region errors as
 * klaw_region_open (KLAW_NOENT, KLAW_INVAL for another kind); KLAW_CORRUPT
 * for a layout that does not fit; KLAW_FULL when a live process holds the
 * role; KLAW_CLOSED when the role was held and given up (closed, or its
 * process died). */
KLAW_API klaw_status klaw_oneshot_open_tx(const char *name, klaw_oneshot_tx **tx);
KLAW_API klaw_status klaw_oneshot_open_rx(const char *name, klaw_oneshot_rx **rx);

/* Gives the role up (idempotent). Closing the sender without a send makes
 * the receiver's recv say KLAW_CLOSED; closing the receiver makes the
 * sender's is_closed say 1 and send say KLAW_CLOSED. Wakes the other
 * side. */
KLAW_API void klaw_oneshot_tx_close(klaw_oneshot_tx *tx);
KLAW_API void klaw_oneshot_rx_close(klaw_oneshot_rx *rx);

/* Closes (if not yet) and frees the handle; the region is unmapped with
 * the last handle of this process. Release a view first. NULL is ignored. */
KLAW_API void klaw_oneshot_tx_free(klaw_oneshot_tx *tx);
KLAW_API void klaw_oneshot_rx_free(klaw_oneshot_rx *rx);

/* Sends the value (copies len bytes) and wakes the receiver. Never
 * blocks. KLAW_OK; KLAW_ALREADY_SENT (a value was sent, or a send is under
 * way); KLAW_CLOSED (the receiver is gone - also when it closed while this
 * send was copying: then the value is there but nobody will take it - or
 * this handle is closed); KLAW_TOOBIG (len > max_frame; nothing sent). */
KLAW_API klaw_status klaw_oneshot_send(klaw_oneshot_tx *tx, const void *data, size_t len);

/* 1 when the receiver is gone: it closed, or its process died (checked
 * here: a system call when the receiver is another process). 0 otherwise
 * (including a receiver role nobody took yet). */
KLAW_API int klaw_oneshot_is_closed(klaw_oneshot_tx *tx);

/* Waits until the receiver is gone (KLAW_OK) or the deadline
 * (KLAW_TIMEOUT). KLAW_CLOSED if this handle is closed. */
KLAW_API klaw_status klaw_oneshot_wait_closed(klaw_oneshot_tx *tx, const struct timespec *deadline);

/* Copies the value out and takes it. *len gets its length. try_: KLAW_EMPTY
 * when nothing is sent yet. KLAW_CLOSED when the sender went away without
 * sending, when the value was taken already, or this handle is closed -
 * never for a value that is still there: KLAW_TOOBIG (cap < *len) leaves
 * the value untaken (another thread's receive meanwhile sees it there, not
 * CLOSED); KLAW_TIMEOUT. */
KLAW_API klaw_status klaw_oneshot_try_recv(klaw_oneshot_rx *rx, void *buf, size_t cap, size_t *len);
KLAW_API klaw_status klaw_oneshot_recv(klaw_oneshot_rx *rx, void *buf, size_t cap, size_t *len,
                                       const struct timespec *deadline);

/* Takes the value as a view in place (f->data, f->len; f->seq = 0), valid
 * until klaw_oneshot_release(). Statuses as recv, without TOOBIG. release:
 * KLAW_OK; KLAW_CLOSED when the receiver was closed meanwhile (nothing in
 * the region is touched). */
KLAW_API klaw_status klaw_oneshot_try_view(klaw_oneshot_rx *rx, klaw_frame *f);
KLAW_API klaw_status klaw_oneshot_view(klaw_oneshot_rx *rx, const struct timespec *deadline, klaw_frame *f);
KLAW_API klaw_status klaw_oneshot_release(klaw_oneshot_rx *rx, klaw_frame *f);

/* A snapshot (readable from any process with a handle). KLAW_OK. */
KLAW_API klaw_status klaw_oneshot_tx_stats(klaw_oneshot_tx *tx, klaw_oneshot_stats *out);
KLAW_API klaw_status klaw_oneshot_rx_stats(klaw_oneshot_rx *rx, klaw_oneshot_stats *out);

/* ---- event loops: a pollable descriptor ---------------------------------
 *
 * klaw_oneshot_rx_fd(rx) becomes readable when the value has been sent or
 * the sender is gone (CLOSED). The contract of klaw/mpmc.h: a wake-up -
 * take with try_recv / try_view, and arm before waiting (again); arm
 * re-checks, and *timeout_ms is how long to wait at most before arming
 * again (arm reaps a dead sender when due: its death is CLOSED). KLAW_OK;
 * KLAW_CLOSED (this handle was closed); KLAW_SYS (no descriptor: errno). */
KLAW_API int klaw_oneshot_rx_fd(klaw_oneshot_rx *rx);
KLAW_API klaw_status klaw_oneshot_rx_arm(klaw_oneshot_rx *rx, int *timeout_ms);

#ifdef __cplusplus
}
#endif

#endif /* KLAW_ONESHOT_H */
