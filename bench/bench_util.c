/* bench_util.c - clock, calibration and medians (see bench_util.h). */
#include <sched.h>
#include <stdlib.h>
#include <time.h>

#include "bench_util.h"

volatile uint64_t bench_sink;

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t timed(bench_loop_fn fn, void *ctx, uint64_t iters)
{
    uint64_t t0 = bench_now_ns();
    uint64_t sum = fn(ctx, iters);
    uint64_t t1 = bench_now_ns();
    bench_sink += sum;
    return t1 - t0;
}

uint64_t bench_calibrate(bench_loop_fn fn, void *ctx, uint64_t rep_ns)
{
    uint64_t iters = 1;
    uint64_t t = timed(fn, ctx, iters); /* warm-up, not used */
    /* Grow until a trial is long enough (an eighth of a repetition) that
     * clock granularity and the call itself no longer matter, then scale. */
    for (;;) {
        t = timed(fn, ctx, iters);
        if (t >= rep_ns / 8 || iters >= (UINT64_C(1) << 40))
            break;
        iters *= t < rep_ns / 1024 ? 16 : 2;
    }
    if (t == 0)
        t = 1;
    double scaled = (double)iters * (double)rep_ns / (double)t;
    return scaled < 1.0 ? 1 : (uint64_t)scaled;
}

double bench_rep(bench_loop_fn fn, void *ctx, uint64_t iters)
{
    return (double)timed(fn, ctx, iters) / (double)iters;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_median(double *v, unsigned n)
{
    if (n == 0)
        return 0.0;
    qsort(v, n, sizeof v[0], cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

void bench_measure(bench_subject *s, unsigned n, unsigned runs, uint64_t rep_ns)
{
    static double samples[BENCH_MAX_SUBJECTS][BENCH_MAX_RUNS];
    if (runs > BENCH_MAX_RUNS)
        runs = BENCH_MAX_RUNS;
    if (n > BENCH_MAX_SUBJECTS)
        n = BENCH_MAX_SUBJECTS;
    for (unsigned k = 0; k < n; k++)
        if (s[k].fn)
            s[k].iters = bench_calibrate(s[k].fn, s[k].ctx, rep_ns);
    for (unsigned r = 0; r < runs; r++)
        for (unsigned k = 0; k < n; k++)
            if (s[k].fn)
                samples[k][r] = bench_rep(s[k].fn, s[k].ctx, s[k].iters);
    for (unsigned k = 0; k < n; k++) {
        if (!s[k].fn)
            continue;
        s[k].ns_per_op = bench_median(samples[k], runs);
        s[k].min_ns = samples[k][0]; /* sorted by bench_median */
        s[k].max_ns = samples[k][runs - 1];
    }
}

int bench_pin_self(int which)
{
    /* the CPUs from the process's first call on (a pinned parent's fork
     * child must still find the second CPU) */
    static cpu_set_t base;
    static int have_base;
    if (!have_base) {
        if (sched_getaffinity(0, sizeof base, &base) != 0)
            return -1;
        have_base = 1;
    }
    if (CPU_COUNT(&base) < 2)
        return -1;
    for (int cpu = 0, seen = 0; cpu < CPU_SETSIZE; cpu++)
        if (CPU_ISSET(cpu, &base) && seen++ == which) {
            cpu_set_t one;
            CPU_ZERO(&one);
            CPU_SET(cpu, &one);
            return sched_setaffinity(0, sizeof one, &one) == 0 ? cpu : -1;
        }
    return -1;
}
