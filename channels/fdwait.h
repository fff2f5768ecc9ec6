/*
 * channels/fdwait.h - internal: the pollable descriptors every kind gives
 * its waiters (klaw_<kind>_*_fd() and _arm(), "event loops" in the public
 * headers).
 *
 * ---- The mechanism, and why it --------------------------------------------
 *
 * A handle that wants a descriptor gets a Unix datagram socket of its own,
 * non-blocking, bound to a path in /dev/shm:
 *
 *     /dev/shm/klaw-fd.<key>.<id>.<gen>      (key: 16 hex digits)
 *
 * where key names the channel (klaw__life_shared.fd_key, random at
 * creation) or a select set, id the handle entry (or 0 for a select), and
 * gen makes each socket's path new. To wake it, a writer sends it one
 * empty datagram with sendto(2), from one unbound datagram socket its
 * process keeps for all channels: one system call per wake-up, no
 * descriptor per waiter to open, cache or invalidate.
 *
 * The alternatives, and why not: an eventfd is process-local (another
 * process can only get it passed over a Unix socket, SCM_RIGHTS - every
 * writer would need a connection to every waiter); a FIFO must be opened
 * by the writer (a descriptor per waiter per writing process, cached and
 * revalidated when the waiter goes); a futex cannot be polled (FUTEX_FD is
 * gone since Linux 2.6.26); a helper thread per descriptor turning futex
 * wake-ups into eventfd writes is the thread per channel that event loops
 * exist to avoid. A path-bound socket is found through the file system, so
 * it works across pid and network namespaces that share /dev/shm
 * (containers that share only /dev/shm: the deployment klaw is for); it is
 * readable under poll, select, epoll, libuv and asyncio's add_reader; a
 * full receive queue (EAGAIN) means it is readable already; a socket whose
 * process is gone answers ECONNREFUSED (or ENOENT once unlinked): nothing
 * for the writer to clean up.
 *
 * ---- Arming: a Dekker pair, as wait.h ---------------------------------------
 *
 *   waiter:  drain the socket; write key, id, gen into its handle entry,
 *            raise fd_hwm above the entry (F1), then fd_armed = the mask of
 *            events it waits for
 *            (seq_cst); arm the event count's waiter flag (kw_ec_arm: a
 *            locked CAS, a full barrier; mpmc adds kw_heavy_barrier); check
 *            the channel again, and poke its own socket when it is ready.
 *   waker:   publish the change (seq_cst store, RMW, or light store +
 *            membarrier on the waiter's side); load the flag (kw_wake_*);
 *            only when it is set: futex-wake, then klaw__life_fd_wake():
 *            every entry below fd_hwm whose fd_armed has that event is fired
 *            (CAS to 0) and poked.
 *
 * Either the waker's flag load sees the waiter's CAS - and then the
 * entry's armed word and target, stored before it, are visible to the scan
 * - or the waiter's re-check, after its CAS, sees the change. So a change
 * after an arming is never missed; a poke can be spurious (the descriptor
 * is a wake-up, not a queue: callers drain with the try_ forms).
 *
 *   F1  fd_hwm only rises (CAS max), and before an entry arms: a scan of
 *       the entries below it finds every armed one.
 *   F2  An arming is fired at most once (the CAS); re-arming is the
 *       waiter's move, after it drained.
 *   F3  Close and eviction fire every armed entry whatever its event
 *       (KLAW__FD_ALL): CLOSED is something to do.
 *   F4  A retired entry (closed, or its owner dead) is disarmed; when its
 *       owner died, the reaper unlinks the socket's path - no file left in
 *       /dev/shm by a dead waiter, none for a writer to remove.
 *
 * Liveness: a waiter asleep in an event loop runs no liveness clock of its
 * own, so arm returns the time until the channel's clock is due; the loop
 * waits no longer than that and arms again (arm reaps when due).
 *
 * No system call on a frame path unless a descriptor waiter armed itself:
 * the flag load is the only cost, as for futex waiters.
 */
#ifndef KLAW_CHANNELS_FDWAIT_H
#define KLAW_CHANNELS_FDWAIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "klaw/status.h"
#include "lifecycle.h"

#define KLAW__FD_ALL 0xfffffffeu /* klaw__life_fd_wake: every event (F3) */
/* Event ids: what a descriptor waiter waits for (the counts it armed);
 * an entry is armed with a mask of them (KLAW__EVS(id)). */
#define KLAW__EV_RX 0u /* something to receive: mpmc not_empty, broadcast
                          published, watch changed, oneshot ec          */
#define KLAW__EV_TX 1u /* room to send: mpmc not_full, broadcast progress */
#define KLAW__EVS(ev) (1u << (ev))

/* One waiter's socket (process-local). gen 0: none yet (a zero-filled
 * handle has none). */
typedef struct klaw__fdw {
    int fd;
    uint32_t id, gen;
    pid_t pid; /* the process that made it (a fork child does not unlink) */
    uint64_t key;
} klaw__fdw;

/* The socket's path for key/id/gen (buf >= 64 bytes). */
void klaw__fd_path(char *buf, size_t n, uint64_t key, uint32_t id, uint32_t gen);

/* Makes and binds w's socket (mode: the channel's file mode, 0 to leave
 * the umask's). 0, or -1 with errno. */
int klaw__fdw_open(klaw__fdw *w, uint64_t key, uint32_t id, mode_t mode);
/* Closes and unlinks it (no-op when none). */
void klaw__fdw_close(klaw__fdw *w);
/* Reads every pending datagram (non-blocking). */
void klaw__fdw_drain(const klaw__fdw *w);
/* Makes it readable (a datagram to itself). */
void klaw__fdw_poke(const klaw__fdw *w);
/* A random 64-bit key (for a channel at creation, a select set). */
uint64_t klaw__fd_new_key(void);

/* Arms handle entry idx of L for `events` (a KLAW__EVS mask) with w as
 * its target (the waiter's half above, up to and not including the
 * flag). */
void klaw__life_fd_arm(klaw__life *L, uint32_t idx, const klaw__fdw *w, uint32_t events);
/* Disarms it (not armed any more; a poke in flight may still come). */
void klaw__life_fd_disarm(klaw__life *L, uint32_t idx);
/* The waker's half, after a flag load found waiters: fires the entries
 * armed for `event` (KLAW__FD_ALL: every one). */
void klaw__life_fd_wake(klaw__life *L, uint32_t event);
/* Retire's half (lock held): disarm entry idx; unlink its socket when its
 * owner died (F4). */
void klaw__life_fd_retire(klaw__life *L, uint32_t idx, int dead);

static inline void klaw__life_fd_maybe_wake(klaw__life *L, uint32_t event)
{
    if (atomic_load_explicit(&L->s->fd_hwm, memory_order_seq_cst))
        klaw__life_fd_wake(L, event);
}

/* The liveness part of an arm: reaps when due; returns the ms the caller
 * may wait before arming again (>= 1). */
int klaw__life_fd_timeout(klaw__life *L);

/* ---- what the kinds' _fd() and _arm() calls share ----
 * klaw__fd_handle: handle idx's descriptor, made on first use (with the
 * channel's file mode, klaw__region_mode), or -1 with errno.
 * klaw__fd_arm_begin: the start of a handle's own arm - makes the socket
 * if need be (KLAW_SYS when it cannot), reaps when due and says how long
 * the caller may wait (*timeout_ms, may be NULL), drains the socket. The
 * kind then arms the entry for its events with the socket as target
 * (klaw__life_fd_arm), its counts' flags (kw_ec_arm; mpmc:
 * kw_heavy_barrier), checks readiness, and pokes the socket when ready -
 * each kind's arm_to(), which select's descriptor calls too, with its own
 * socket as the target (klaw_sel_src.fd_arm).
 * klaw__fd_handle_close: at free - disarms (when the entry is still ours)
 * and closes and unlinks the socket. */
int klaw__fd_handle(klaw__life *L, uint32_t idx, klaw__fdw *w, const klaw_region *r);
klaw_status klaw__fd_arm_begin(klaw__life *L, uint32_t idx, klaw__fdw *w, const klaw_region *r, int *timeout_ms);
void klaw__fd_handle_close(klaw__life *L, uint32_t idx, klaw__fdw *w, bool owned);

#endif /* KLAW_CHANNELS_FDWAIT_H */
