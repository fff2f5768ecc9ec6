/*
 * peer_iceoryx.h - iceoryx 2.0 (Debian's iceoryx and
 * libiceoryx-binding-c-dev, 2.0.3), the zero-copy shared-memory peer of
 * the fanout and latency suites, through its C binding. Compiled in when
 * meson found the binding (KLAW_BENCH_HAVE_ICEORYX); otherwise every
 * function here says why not, and the rows say "skipped".
 *
 * iceoryx needs its daemon, RouDi, and one runtime per process registered
 * with it. klaw-bench starts a RouDi of its own (bench_iox_start: iox-roudi
 * with a private config in a temporary directory, its output in a log
 * there) and stops it by its pid (bench_iox_stop), then removes what this
 * run left behind and nothing else: RouDi's fixed names (/dev/shm's
 * iceoryx_mgmt and the segment named after the user; /tmp's roudi socket
 * and its locks) only where they did not exist before it started, and the
 * sockets and locks of the run's own runtimes (/tmp/kbiox-<pid>-*).
 * iceoryx 2.0 allows one RouDi per machine: when another is running, ours
 * cannot start and the rows say so.
 *
 * Workers register in forked processes only, never in klaw-bench itself
 * (the runtime is a per-process singleton that only exit() takes down),
 * and end with bench_iox_worker_exit: exit(0), whose destructors
 * deregister the process from RouDi. A RouDi asked to stop while it still
 * lists a process that is gone aborts (and would first send SIGTERM to
 * that pid), so after a worker that may have died unregistered
 * bench_iox_stop waits until RouDi's monitoring has dropped it.
 */
#ifndef KLAW_BENCH_PEER_ICEORYX_H
#define KLAW_BENCH_PEER_ICEORYX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fanout.h"

/* Starts this run's RouDi unless it runs already. NULL when it runs, else
 * why it cannot (static text, for "skipped" rows); a failure is remembered
 * until bench_iox_stop. Blocks until RouDi says it is ready (at most a few
 * seconds). Not thread-safe: the suites' main thread only. */
const char *bench_iox_start(void);

/* Stops the RouDi bench_iox_start started (SIGTERM by pid; SIGKILL if it
 * has not ended in 5 s) and removes what it and the run's runtimes left
 * (see above). Nothing when none was started. */
void bench_iox_stop(void);

/* The subscriber queue capacity the peer asks for: 256, iceoryx 2.0's
 * maximum (iox_cfg_max_subscriber_queue_capacity; klaw's ring holds 1024,
 * ZeroMQ's HWM is 1024). 0 without the binding. */
unsigned bench_iox_queue_capacity(void);

/* How the latency suite's ponger (and pinger) wait for a frame. */
typedef enum bench_iox_wait {
    BENCH_IOX_SPIN,   /* iox_sub_take_chunk in a loop                          */
    BENCH_IOX_BLOCK,  /* a WaitSet on the subscriber's HAS_DATA state, frames   */
                      /* back to back                                           */
    BENCH_IOX_PARKED, /* the same, the pinger pausing pause_us before each     */
} bench_iox_wait;

/* One latency run: n round trips of a 64-byte frame (seq, stamp) from a
 * pinger to a ponger (publisher loan -> publish; subscriber take ->
 * release) and back, the ponger recording now - stamp in *h. process: the
 * two in two forked processes, a runtime each; else two threads of one
 * forked process (one runtime). Every frame's sequence number is checked
 * at both ends. RouDi must run (bench_iox_start). 0, or -1 with err
 * (errsz bytes). */
int bench_iox_latency(bench_iox_wait w, bool process, uint64_t n, unsigned pause_us, fanout_hist *h, char *err,
                      size_t errsz);

#endif /* KLAW_BENCH_PEER_ICEORYX_H */
