/*
 * klaw/select.h - wait on several receivers at once and receive from
 * exactly one of them.
 *
 * A case names a receiver of any kind (mpmc, broadcast, watch, oneshot),
 * in-process or shared. klaw_select() returns when one case has something,
 * and it has then *taken* that something from that case and from no other:
 * a frame viewed in place (release it with klaw_sel_release), a LAGGED
 * count, or CLOSED. No frame is ever taken and dropped.
 */
#ifndef KLAW_SELECT_H
#define KLAW_SELECT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "klaw/export.h"
#include "klaw/frame.h"
#include "klaw/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum klaw_sel_kind {
    KLAW_SEL_MPMC = 1,
    KLAW_SEL_BROADCAST,
    KLAW_SEL_WATCH,
    KLAW_SEL_ONESHOT,
} klaw_sel_kind;

/* One receiver to wait on: kind + the receiver handle
 * (klaw_mpmc_rx *, klaw_bcast_rx *, klaw_watch_rx *, klaw_oneshot_rx *). */
typedef struct klaw_sel_case {
    klaw_sel_kind kind;
    void *rx;
} klaw_sel_case;

/* Flags. Default: fair - each call starts looking at a random case. */
#define KLAW_SELECT_BIASED 1u /* look at the cases in order, first wins    */

/* What the winning case gave. */
typedef struct klaw_sel_result {
    size_t index;       /* which case                                      */
    klaw_status status; /* KLAW_OK: `frame` is a view to release;
                           KLAW_LAGGED: broadcast receiver skipped `lagged`
                           frames (no frame); KLAW_CLOSED: that receiver is
                           closed and drained                              */
    klaw_frame frame;   /* seq: sequence number (watch: the version)       */
    uint64_t lagged;
} klaw_sel_result;

KLAW_API klaw_status klaw_select(const klaw_sel_case *cases, size_t n, unsigned flags,
                                 const struct timespec *deadline, klaw_sel_result *out);

/* Releases the frame of a KLAW_OK result with its case's kind (what that
 * kind's release returns: a broadcast view lapped while in use is
 * KLAW_LAGGED). Other results: nothing to do, KLAW_OK. */
KLAW_API klaw_status klaw_sel_release(const klaw_sel_case *cases, klaw_sel_result *r);

#ifdef __cplusplus
}
#endif

#endif /* KLAW_SELECT_H */
