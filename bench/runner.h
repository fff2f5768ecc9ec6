/*
 * runner.h - the process/thread runner klaw-bench's channel suites share
 * (mpmc, fanout): it starts a run's workers as threads of this process or
 * as forked children, waits until every one has attached (outside the
 * clock), lets them go together, and waits for them to end, killing
 * children that hang. Also the pieces around it: memory shared with forked
 * children, the CPUs this process may use and pinning to one of them.
 *
 * A run, step by step (bench_workers_run):
 *
 *   1. fork() or pthread_create() one worker per slot 0..n-1. stdout and
 *      stderr are flushed first, so children do not print the parent's
 *      buffered text again.
 *   2. each worker calls attach(arg, slot) (its handle, socket or end; the
 *      suite pins it there, before or after, as it needs), says it is
 *      ready, and waits (futex) for the word that lets it go.
 *   3. the runner waits until every started worker is ready (at most
 *      BENCH_START_TIMEOUT_S), calls attached(arg), notes the time (go_ns:
 *      the mpmc suite's clock starts there), and lets them go: go = true if
 *      every worker was started and attached, else false (the run is
 *      called off, and each worker gives up what it made).
 *   4. each worker calls run(arg, slot, go) and ends (a child _exit(0)s).
 *   5. the runner waits: for children at most run_timeout_s, after which
 *      it kills them all; for threads as long, after which it exits
 *      klaw-bench (a thread cannot be killed; nothing sound is left).
 *
 * The suite's own control block (arg) and everything the workers share
 * must live in bench_shared_alloc memory: a forked child sees it at the
 * same address, and what it writes there the runner reads after the run.
 */
#ifndef KLAW_BENCH_RUNNER_H
#define KLAW_BENCH_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { BENCH_START_TIMEOUT_S = 30 }; /* workers attached by then, or the run fails */
enum { BENCH_MAX_WORKERS = 16 };

typedef struct bench_workers {
    const char *who;        /* "fanout: klaw": for the message of a hang      */
    unsigned n;             /* workers, slots 0..n-1 (<= BENCH_MAX_WORKERS)   */
    bool process;           /* forked children, else threads of this process */
    int run_timeout_s;      /* a run still going after this long is a hang    */
    void *arg;              /* the suite's control block (shared memory)      */
    /* In the worker before the run: true if it attached. */
    bool (*attach)(void *arg, unsigned slot);
    /* In the runner once every worker has attached or failed to. */
    void (*attached)(void *arg);
    /* In the worker: the run (go), or giving up what attach made (!go). */
    void (*run)(void *arg, unsigned slot, bool go);
} bench_workers;

/* One run (see above). Returns 0 when every worker was started, attached
 * and ended well (a child exiting 0); else -1, with err (errsz bytes) set
 * to what went wrong where the runner knows it (fork, attach timeout, a
 * child killed or failed), or left "" when a worker's attach failed (its
 * own message is in the suite's control block). *go_ns: when the workers
 * were let go (CLOCK_MONOTONIC ns). */
int bench_workers_run(const bench_workers *w, uint64_t *go_ns, char *err, size_t errsz);

/* Before and after a suite's runs: finds the CPUs this process may use
 * (bench_ncpus, bench_pin) and ignores SIGPIPE (a reader gone early must
 * not kill a pipe's or socket's writer); _end restores SIGPIPE. */
void bench_runner_begin(void);
void bench_runner_end(void);

/* The CPUs this process may use (0 if it cannot tell). */
unsigned bench_ncpus(void);
/* Pins the calling thread to the i-th of them (modulo their number); best
 * effort, and nothing with fewer than 2. */
void bench_pin(unsigned i);

/* Zeroed MAP_SHARED | MAP_ANONYMOUS memory (a child forked after the call
 * sees the same bytes at the same address); exits on failure. */
void *bench_shared_alloc(size_t size);
void bench_shared_free(void *p);

#endif /* KLAW_BENCH_RUNNER_H */
