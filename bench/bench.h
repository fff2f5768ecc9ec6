/*
 * bench.h - what a klaw-bench suite sees: the options it runs under, and
 * the one way it reports results (bench_emit*), which report.c turns into
 * JSON lines (--json) or a table.
 *
 * Adding a suite: write bench/suite_<name>.c defining a `const bench_suite
 * bench_suite_<name>`, declare it below, list it in klaw_bench.c's
 * `suites[]` and in bench/meson.build.
 *
 * Rows follow DESIGN.md's klaw-bench format: suite, case, impl, metric,
 * value (or "skipped" with a reason), unit, then the case's parameters. A
 * peer's rows carry the same bench_key as the klaw rows they are compared
 * with, so they cannot disagree on parameters.
 */
#ifndef KLAW_BENCH_H
#define KLAW_BENCH_H

#include <stdbool.h>
#include <stdint.h>

typedef struct bench_opts {
    bool json;       /* one JSON object per line instead of a table      */
    bool quick;      /* a smoke run: short repetitions                   */
    unsigned runs;   /* repetitions per measurement (the median is kept) */
    uint64_t rep_ns; /* target length of one repetition                 */
    const char *csv_path; /* fanout: where its CSV goes (NULL: default)  */
    const char *svg_path; /* fanout: where its SVG chart goes            */
} bench_opts;

enum { BENCH_MAX_PARAMS = 8 };

/* A case parameter: an integer, or a string when s != NULL. */
typedef struct bench_param {
    const char *key;
    long long i;
    const char *s;
} bench_param;

/* Which comparison a row belongs to: suite, case and parameters. */
typedef struct bench_key {
    const char *suite;
    const char *case_name;
    unsigned nparams;
    bench_param params[BENCH_MAX_PARAMS];
} bench_key;

/* Adds an integer / string parameter to a key (ignored past the limit). */
void bench_key_int(bench_key *k, const char *key, long long v);
void bench_key_str(bench_key *k, const char *key, const char *v);

/* One result row. */
void bench_emit(const bench_key *k, const char *impl, const char *metric, const char *unit, double value);
/* A row for a measurement that could not be taken, with the reason. */
void bench_emit_skipped(const bench_key *k, const char *impl, const char *metric, const char *unit,
                        const char *why);

/* A time per operation: the ns_per_op row and the ops_per_s row. */
void bench_emit_time(const bench_key *k, const char *impl, double ns_per_op);
void bench_emit_time_skipped(const bench_key *k, const char *impl, const char *why);

/* A case that could not be measured (for example, klaw and a peer
 * disagreed on the data): printed on stderr; klaw-bench exits 1. */
void bench_fail(const bench_key *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

typedef struct bench_suite {
    const char *name;
    const char *summary;
    const char *table_metric; /* the metric the human table shows (NULL:
                                 the suite prints its own tables)       */
    bool lower_is_better;     /* decides which way the ratio is taken   */
    const char *peers;        /* the peers it compares with, for --list */
    unsigned rep_scale;       /* repetitions this many times the usual
                                 length (0 or 1: the usual)             */
    void (*run)(const bench_opts *o);
    const char *klaw_impl;    /* the impl the peers are compared with
                                 (its column in the table); NULL: "klaw" */
} bench_suite;

extern const bench_suite bench_suite_codec;
extern const bench_suite bench_suite_mpmc;
extern const bench_suite bench_suite_fanout;
extern const bench_suite bench_suite_bridge;
extern const bench_suite bench_suite_python;
extern const bench_suite bench_suite_latency;

#endif /* KLAW_BENCH_H */
