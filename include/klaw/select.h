/*
 * klaw/select.h - wait on several receivers at once and receive from
 * exactly one of them.
 *
 * A case names a receiver of any kind (mpmc, broadcast, watch, oneshot),
 * in-process or shared. klaw_select() returns when one case has something,
 * and it has then *taken* that something from that case and from no other:
 * a frame viewed in place (release it with klaw_sel_release), a LAGGED
 * count, or CLOSED. No frame is ever taken and dropped, and no frame is
 * taken twice: the frames a select did not return stay in their channels
 * for the next receive.
 *
 * What each kind gives (the kind's own non-blocking receive):
 *   mpmc      - the next frame (klaw_mpmc_try_view), seq = its position;
 *   broadcast - the next frame for this receiver (klaw_bcast_try_view), or
 *               KLAW_LAGGED with `lagged` = frames it missed (the cursor
 *               then stands at the oldest retained frame);
 *   watch     - a value whose version the receiver has not seen
 *               (klaw_watch_borrow_and_update: it is marked seen), seq = its
 *               version. In-process watches: the view is an RCU read
 *               section, release it on the same thread;
 *   oneshot   - the value (klaw_oneshot_try_view); after that the case is
 *               KLAW_CLOSED.
 *
 * Choosing. Each call looks at every case, starting at a random one (fair:
 * a cheap per-thread generator, no system call) or at the first
 * (KLAW_SELECT_BIASED: earlier cases win ties). The first case found with
 * a frame or a LAGGED count wins. A case that is finished (closed and
 * drained) never wins over a case that has data: a CLOSED result means
 * that no case had data when select looked. CLOSED comes back at once and
 * every time while that case stays in the set, so drop the case it names
 * (move the last case into its place and pass n - 1) and select again.
 *
 * Waiting. select tries the cases a bounded number of times (no system
 * call), then parks: it flags each distinct event count its cases wake
 * (one locked RMW per count - two receivers of one channel share one),
 * looks at every case once more, and sleeps on all the counts at once with
 * futex_waitv(2) (Linux >= 5.16) on shared futexes, so a sender in another
 * process wakes it as surely as a thread; a sender pays a futex wake only
 * while a select (or another receiver) is parked on its channel. When a
 * case is an mpmc receiver (the one kind that uses asymmetric fences,
 * channels/wait.h) a parking select also issues one membarrier(2) per park. On kernels without futex_waitv,
 * select sleeps on the first count for at most 1 ms at a time and looks
 * again: a wake-up on another case can then be up to 1 ms late (a poll).
 * While parked, select wakes at least every liveness period of its cases
 * (the shortest; 1 s by default) to run their dead-peer checks, so a case
 * whose producer died mid-claim is recovered as the kind's own blocking
 * receive would recover it.
 *
 * Cost: nothing is allocated; the stack holds up to 128 case descriptors
 * (about 8 KiB). When something is ready, a call costs one non-blocking
 * receive per case looked at.
 *
 * Thread safety: any number of threads may select over the same receivers
 * at once (each frame still goes to one of them, as the kinds promise). A
 * result belongs to the thread that got it until klaw_sel_release().
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

/* The most cases one select takes. */
#define KLAW_SELECT_MAX 128u

/* What the winning case gave. */
typedef struct klaw_sel_result {
    size_t index;       /* which case (SIZE_MAX when no case won:
                           TIMEOUT, or a bad argument not tied to a case) */
    klaw_status status; /* KLAW_OK: `frame` is a view to release;
                           KLAW_LAGGED: broadcast receiver skipped `lagged`
                           frames (no frame); KLAW_CLOSED: that receiver is
                           closed and drained                              */
    klaw_frame frame;   /* seq: sequence number (watch: the version)       */
    uint64_t lagged;
} klaw_sel_result;

/* Waits until one of the n cases has something, takes it, and says which
 * (see above). deadline: absolute CLOCK_MONOTONIC (klaw_deadline_in_ms), or
 * NULL to wait as long as it takes; a deadline already past still takes
 * what is ready. Returns out->status:
 *   KLAW_OK      - out->frame is a view from case out->index: use it in
 *                  place, then klaw_sel_release();
 *   KLAW_LAGGED  - a broadcast case missed out->lagged frames (nothing to
 *                  release); select again to read on from the oldest
 *                  retained frame;
 *   KLAW_CLOSED  - case out->index is finished and no case had data: drop
 *                  it from the set;
 *   KLAW_TIMEOUT - the deadline passed with nothing ready (not before it);
 *                  with n == 0 and a deadline, select is a plain sleep;
 *   KLAW_INVAL   - out or cases NULL, n > KLAW_SELECT_MAX, n == 0 with no
 *                  deadline, a deadline with tv_nsec outside [0, 1e9); or a
 *                  case with a NULL or closed receiver handle or an unknown
 *                  kind (out->index names it; nothing was taken);
 *   KLAW_CORRUPT or another kind's error - from case out->index (a hostile
 *                  shared region), nothing taken. */
KLAW_API klaw_status klaw_select(const klaw_sel_case *cases, size_t n, unsigned flags,
                                 const struct timespec *deadline, klaw_sel_result *out);

/* Releases the frame of a KLAW_OK result with its case's kind; `cases` is
 * the array that select got (r->index indexes it) and the receiver must
 * still be open. Returns what that kind's release returns: KLAW_OK, or
 * KLAW_LAGGED for a broadcast view the writer lapped while it was in use,
 * or a shared watch value rewritten while borrowed (what was read may be
 * torn: discard it). Afterwards r->status is KLAW_EMPTY (nothing held), so
 * a second release does nothing. Other results: nothing to do, KLAW_OK.
 * KLAW_INVAL: cases or r NULL, or that case's receiver closed. */
KLAW_API klaw_status klaw_sel_release(const klaw_sel_case *cases, klaw_sel_result *r);

/* ---- event loops: one descriptor for a whole select set ------------------
 *
 * A klaw_sel_fd is a descriptor that becomes readable when any case of
 * the set it was last armed with has something to do (what would make
 * klaw_select() return anything but TIMEOUT), so an event loop can wait on
 * a mix of channels and its own sockets. The contract of klaw/mpmc.h: a
 * wake-up, not a queue. The loop:
 *
 *     klaw_sel_fd *sf;  klaw_sel_fd_open(&sf);
 *     int fd = klaw_sel_fd_get(sf), ms;
 *     klaw_sel_fd_arm(sf, cases, n, &ms);
 *     for (;;) {
 *         poll fd (and the loop's own descriptors) for at most ms;
 *         struct timespec now = klaw_deadline_in_ms(0);  // take what is ready
 *         while (klaw_select(cases, n, 0, &now, &r) != KLAW_TIMEOUT) {
 *             ... (KLAW_OK: use r.frame, klaw_sel_release(cases, &r);
 *                  KLAW_CLOSED: drop case r.index from the set)
 *         }
 *         klaw_sel_fd_arm(sf, cases, n, &ms);  // before waiting again
 *     }
 *
 * arm arms every case's receiver with this descriptor as its target and
 * checks again (a frame committed between the drain and the arm is never
 * missed); *timeout_ms (may be NULL): how long to wait at most before
 * arming again (the cases' channels' liveness clocks; arm does their
 * maintenance - reaping dead peers - when due). A receiver armed by a set
 * is not armed for its own descriptor (klaw_*_rx_fd) at the same time:
 * the last arm wins. KLAW_OK; KLAW_INVAL (sf NULL, n > KLAW_SELECT_MAX, a
 * case with a NULL or closed receiver or an unknown kind); KLAW_SYS and
 * KLAW_NOMEM from open. The socket (in /dev/shm, mode: the union of the
 * cases' channels' modes) goes with klaw_sel_fd_free(). */
typedef struct klaw_sel_fd klaw_sel_fd;
KLAW_API klaw_status klaw_sel_fd_open(klaw_sel_fd **out);
KLAW_API int klaw_sel_fd_get(const klaw_sel_fd *sf);
KLAW_API klaw_status klaw_sel_fd_arm(klaw_sel_fd *sf, const klaw_sel_case *cases, size_t n, int *timeout_ms);
KLAW_API void klaw_sel_fd_free(klaw_sel_fd *sf);

#ifdef __cplusplus
}
#endif

#endif /* KLAW_SELECT_H */
