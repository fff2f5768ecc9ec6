/*
 * channels/select_impl.h - internal: what a receiver kind offers select.
 *
 * Each kind fills a klaw_sel_src for one of its receivers. select.c calls
 * try_take() to take one item without blocking, and parks on `ec` (with the
 * protocol of channels/wait.h) when no case has anything.
 */
#ifndef KLAW_CHANNELS_SELECT_IMPL_H
#define KLAW_CHANNELS_SELECT_IMPL_H

#include <stdbool.h>

#include <ck_ec.h>

#include "fdwait.h"
#include "klaw/select.h"
#include "klaw/status.h"

typedef struct klaw_sel_src {
    void *rx;
    /* Takes one item if there is one, never blocks:
     *   KLAW_EMPTY  - nothing now, nothing taken (wait on ec);
     *   KLAW_OK     - out->frame is a view, out->status = KLAW_OK;
     *   KLAW_LAGGED - out->lagged set (broadcast), nothing else taken;
     *   KLAW_CLOSED - this receiver is finished (closed, drained);
     *   other       - an error, passed to the caller. */
    klaw_status (*try_take)(void *rx, klaw_sel_result *out);
    /* Releases a frame try_take gave (select's klaw_sel_release). */
    klaw_status (*release)(void *rx, klaw_frame *f);
    /* The event count that is bumped whenever try_take's answer may change
     * from EMPTY (a commit, a close, an eviction). */
    struct ck_ec32 *ec;
    /* Called while parked, every liveness_ns, to reap dead peers (may be
     * NULL). */
    void (*maintain)(void *rx);
    uint64_t liveness_ns;
    /* When maintain() is next due for this receiver's channel: its
     * liveness clock (CLOCK_MONOTONIC ns; channels/lifecycle.h). NULL: every
     * liveness_ns from the first park. */
    int64_t (*due_ns)(void *rx);
    /* true when this kind's publishers may use light stores
     * (kw_publish_u64, channels/wait.h): a waiter must then issue the heavy
     * barrier after arming. Only mpmc does. */
    bool light_publish;
    /* select's descriptor (channels/fdwait.h): arms this receiver's handle
     * entry with target w (the select set's socket) and its count's flag
     * (with the barrier light publishers need), then checks: 1 try_take
     * would give something but EMPTY, 0 armed and nothing yet, -1 cannot
     * tell without polling (no barrier could be issued). */
    int (*fd_arm)(void *rx, const klaw__fdw *w);
    /* The receiver's channel's file mode (what the socket must allow). */
    unsigned (*fd_mode)(void *rx);
} klaw_sel_src;

/* Each kind's filler: KLAW_OK, or KLAW_INVAL for a NULL / closed handle. */
klaw_status klaw__mpmc_sel_src(void *rx, klaw_sel_src *out);
klaw_status klaw__bcast_sel_src(void *rx, klaw_sel_src *out);
klaw_status klaw__watch_sel_src(void *rx, klaw_sel_src *out);
klaw_status klaw__oneshot_sel_src(void *rx, klaw_sel_src *out);

#endif /* KLAW_CHANNELS_SELECT_IMPL_H */
