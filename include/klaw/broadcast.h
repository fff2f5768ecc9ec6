/*
 * klaw/broadcast.h - the broadcast channel: every receiver sees every frame.
 *
 * (API contract; semantics in DESIGN.md "Channel kinds".) One or many
 * writers commit frames of 0..max_frame bytes into a ring of `capacity`
 * slots; each receiver has its own cursor. Policy chosen at creation:
 *
 *  KLAW_POLICY_OVERWRITE - the writer never waits; a receiver that fell
 *    behind gets KLAW_LAGGED with the exact number of frames it missed and
 *    resumes at the oldest retained frame. A view the writer lapped while it
 *    was in use is reported KLAW_LAGGED by release (validate after use).
 *  KLAW_POLICY_BLOCK - the writer waits (with a deadline) for the slowest
 *    live registered receiver; a receiver whose process died is evicted
 *    after the liveness timeout and the writer goes on.
 *
 * Zero receivers: send returns KLAW_NO_RECEIVERS (under OVERWRITE the
 * frame is still written). When every writer has closed, receivers drain,
 * then get KLAW_CLOSED.
 */
#ifndef KLAW_BROADCAST_H
#define KLAW_BROADCAST_H

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
    uint64_t liveness_ns; /* 0: 1 s                                        */
    const char *value_type; /* for the metadata record; NULL: none         */
} klaw_bcast_opts;

/* subscribe flags */
#define KLAW_BCAST_FROM_TAIL 0u   /* only frames committed from now on    */
#define KLAW_BCAST_FROM_OLDEST 1u /* start at the oldest retained frame   */

KLAW_API klaw_status klaw_bcast_create(const klaw_bcast_opts *opts, klaw_bcast_tx **tx);
KLAW_API klaw_status klaw_bcast_open_tx(const char *name, klaw_bcast_tx **tx);
/* A new registered receiver of a named channel. */
KLAW_API klaw_status klaw_bcast_open_rx(const char *name, unsigned flags, const char *reader_id,
                                        klaw_bcast_rx **rx);
/* A new registered receiver of the writer's channel (reader_id NULL: one is
 * made up). */
KLAW_API klaw_status klaw_bcast_subscribe(klaw_bcast_tx *tx, unsigned flags, const char *reader_id,
                                          klaw_bcast_rx **rx);
KLAW_API klaw_status klaw_bcast_tx_clone(klaw_bcast_tx *tx, klaw_bcast_tx **out);
KLAW_API void klaw_bcast_tx_close(klaw_bcast_tx *tx);
KLAW_API void klaw_bcast_rx_close(klaw_bcast_rx *rx); /* unsubscribe */
KLAW_API void klaw_bcast_tx_free(klaw_bcast_tx *tx);
KLAW_API void klaw_bcast_rx_free(klaw_bcast_rx *rx);

/* Writer side: claim -> write in place -> commit, or abort. */
KLAW_API klaw_status klaw_bcast_try_claim(klaw_bcast_tx *tx, size_t len, klaw_frame *f);
KLAW_API klaw_status klaw_bcast_claim(klaw_bcast_tx *tx, size_t len, const struct timespec *deadline,
                                      klaw_frame *f);
KLAW_API klaw_status klaw_bcast_commit(klaw_bcast_tx *tx, klaw_frame *f, size_t len);
KLAW_API void klaw_bcast_abort(klaw_bcast_tx *tx, klaw_frame *f);
KLAW_API klaw_status klaw_bcast_claim_batch(klaw_bcast_tx *tx, size_t len, klaw_frame *frames, size_t n,
                                            size_t *got, const struct timespec *deadline);
KLAW_API klaw_status klaw_bcast_commit_batch(klaw_bcast_tx *tx, klaw_frame *frames, size_t n);
KLAW_API klaw_status klaw_bcast_try_send(klaw_bcast_tx *tx, const void *data, size_t len);
KLAW_API klaw_status klaw_bcast_send(klaw_bcast_tx *tx, const void *data, size_t len,
                                     const struct timespec *deadline);

/* Reader side. view: KLAW_OK, KLAW_EMPTY (try_), KLAW_TIMEOUT, KLAW_CLOSED,
 * or KLAW_LAGGED with *lagged = frames missed (the cursor has moved to the
 * oldest retained frame; view again). release: KLAW_OK, or KLAW_LAGGED when
 * the frame was overwritten while viewed (its bytes may be torn). */
KLAW_API klaw_status klaw_bcast_try_view(klaw_bcast_rx *rx, klaw_frame *f, uint64_t *lagged);
KLAW_API klaw_status klaw_bcast_view(klaw_bcast_rx *rx, const struct timespec *deadline, klaw_frame *f,
                                     uint64_t *lagged);
KLAW_API klaw_status klaw_bcast_release(klaw_bcast_rx *rx, klaw_frame *f);
KLAW_API klaw_status klaw_bcast_view_batch(klaw_bcast_rx *rx, klaw_frame *frames, size_t n, size_t *got,
                                           uint64_t *lagged, const struct timespec *deadline);
/* KLAW_LAGGED if any frame of the batch was overwritten while viewed. */
KLAW_API klaw_status klaw_bcast_release_batch(klaw_bcast_rx *rx, klaw_frame *frames, size_t n);
/* Copies the next frame out (validated: never torn). */
KLAW_API klaw_status klaw_bcast_try_recv(klaw_bcast_rx *rx, void *buf, size_t cap, size_t *len,
                                         uint64_t *lagged);
KLAW_API klaw_status klaw_bcast_recv(klaw_bcast_rx *rx, void *buf, size_t cap, size_t *len, uint64_t *lagged,
                                     const struct timespec *deadline);

typedef struct klaw_bcast_stats {
    uint32_t writers, readers, capacity, max_frame;
    int policy;
    uint64_t total_sent;      /* frames committed                          */
    uint64_t total_received;  /* frames delivered, summed over receivers   */
    uint64_t lagged;          /* frames receivers missed, summed           */
    uint64_t aborted_claims;
    uint64_t evicted;         /* receivers removed as dead                 */
    uint64_t depth;           /* frames the slowest receiver has not seen  */
    uint64_t high_watermark;
    int writers_closed;
} klaw_bcast_stats;

KLAW_API klaw_status klaw_bcast_tx_stats(klaw_bcast_tx *tx, klaw_bcast_stats *out);
KLAW_API klaw_status klaw_bcast_rx_stats(klaw_bcast_rx *rx, klaw_bcast_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* KLAW_BROADCAST_H */
