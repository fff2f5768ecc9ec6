/*
 * bench_util.h - timing for klaw-bench: a clock, calibrated repetitions,
 * medians, and the barriers that keep measured work from being optimized
 * away.
 *
 * The unit of measurement is a loop function: it performs `iters`
 * operations and returns a checksum of their results. Looping inside the
 * function (rather than calling it once per operation) keeps an indirect
 * call out of every measured operation; the checksum is folded into
 * bench_sink, a volatile, so the compiler cannot drop the work.
 *
 * A measurement: calibrate each subject (grow the iteration count until one
 * repetition takes about rep_ns), then take `runs` repetitions, interleaving
 * the subjects (klaw, peer, klaw, peer, ...) so a burst of load from
 * elsewhere on the machine hits both alike; report the median.
 */
#ifndef KLAW_BENCH_UTIL_H
#define KLAW_BENCH_UTIL_H

#include <stdint.h>

/* The compiler must assume `p` (and anything reachable from it) is read
 * here, so stores into it before this point are really made. */
#define BENCH_ESCAPE(p) __asm__ __volatile__("" : : "g"(p) : "memory")
/* The compiler must assume any memory may have been read or written. */
#define BENCH_BARRIER() __asm__ __volatile__("" : : : "memory")

/* Where loop checksums end up; volatile, so they count as used. */
extern volatile uint64_t bench_sink;

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t bench_now_ns(void);

/* Performs iters operations on ctx; returns a checksum of the results. */
typedef uint64_t (*bench_loop_fn)(void *ctx, uint64_t iters);

enum { BENCH_MAX_RUNS = 1000, BENCH_MAX_SUBJECTS = 8 };

/* One thing to measure. fn == NULL marks a subject that cannot run (a peer
 * compiled out): bench_measure passes over it. */
typedef struct bench_subject {
    bench_loop_fn fn;
    void *ctx;
    uint64_t iters;     /* per repetition, set by calibration          */
    double ns_per_op;   /* the median over the repetitions             */
    double min_ns, max_ns;
} bench_subject;

/* Runs fn once (warming caches and branch predictors) and returns the
 * iteration count for one repetition of about rep_ns. */
uint64_t bench_calibrate(bench_loop_fn fn, void *ctx, uint64_t rep_ns);

/* One repetition of iters operations; returns nanoseconds per operation. */
double bench_rep(bench_loop_fn fn, void *ctx, uint64_t iters);

/* Median of v[0, n) (sorts v in place). */
double bench_median(double *v, unsigned n);

/* Calibrates every subject, then takes `runs` interleaved repetitions and
 * sets each subject's median, min and max. At most BENCH_MAX_SUBJECTS
 * subjects and BENCH_MAX_RUNS runs (more are not measured). */
void bench_measure(bench_subject *s, unsigned n, unsigned runs, uint64_t rep_ns);

/* Latency pinning (the latency suite and its peers): the calling thread
 * onto the `which`-th CPU (0, 1, ...) of those the process could use at
 * its first call (remembered, so a fork child of a pinned parent still
 * finds the second CPU); the pinger runs
 * on the first, the ponger on the second, so every impl is measured
 * between the same two CPUs. Returns the CPU, or -1 (fewer CPUs: nothing
 * pinned). */
int bench_pin_self(int which);

#endif /* KLAW_BENCH_UTIL_H */
