/*
 * report.h - how klaw-bench shows what it measured: the rows the suites
 * emit (bench.h's bench_emit*) as JSON lines (--json) or as a table per
 * suite, numbers in a form people read at a glance (17.4 M/s, 4 KiB,
 * 1.2 us), and the files a suite writes besides (CSV, an SVG chart).
 *
 * --json keeps exact values: what a suite emitted, printed as a number.
 * The tables round to three significant digits with a unit prefix; they
 * are for reading, the JSON lines (and the CSV) for keeping.
 */
#ifndef KLAW_BENCH_REPORT_H
#define KLAW_BENCH_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "bench.h"

/* ---- numbers for people ----------------------------------------------------- */

/* Room for any of the strings below. */
enum { REPORT_NUM = 32 };

/* Each writes at most three significant digits (trailing zeros dropped)
 * with the largest prefix that leaves the number at least 1, into buf
 * (size bytes, truncated if short), and returns buf. A value that rounds
 * up to the next prefix takes it (999,999/s is "1 M/s"). Past the largest
 * prefix the number grows (1e21/s is "1000 E/s"); a value that is not
 * finite is "-"; a negative one has its "-". */

/* A plain number with SI prefixes k M G T P E: 17400000 -> "17.4 M",
 * 812345 -> "812 k", 999 -> "999", 0.25 -> "0.25". */
const char *report_si(char *buf, size_t size, double v);
/* A rate per second: 17400000 -> "17.4 M/s", 999 -> "999/s". */
const char *report_rate(char *buf, size_t size, double per_s);
/* A size with binary prefixes: 4096 -> "4 KiB", 1023 -> "1023 B",
 * 1536 -> "1.5 KiB", 1048576 -> "1 MiB". */
const char *report_bytes(char *buf, size_t size, double bytes);
/* A time given in ns: 850 -> "850 ns", 1234 -> "1.23 us", 2.5e6 -> "2.5 ms",
 * 3e9 -> "3 s". */
const char *report_ns(char *buf, size_t size, double ns);
/* A value in the unit it was emitted in, by that unit: "…/s" a rate, "ns"
 * a time, "B" or "bytes" a size, anything else a plain number and the unit
 * ("1.2 M frames"). */
const char *report_value(char *buf, size_t size, double v, const char *unit);

/* ---- rows and tables --------------------------------------------------------- */

/* Where rows go: with json, each is printed at once as one JSON object
 * per line; else they are kept for report_table. */
void report_start(bool json);
/* Rows emitted so far (a suite's table shows those after this mark). */
size_t report_mark(void);
/* The table of suite s: the rows since `from` of its table_metric, one
 * line per case: klaw's value, each peer's, and the ratio. */
void report_table(const bench_suite *s, const bench_opts *o, size_t from);
/* Frees the rows; returns 1 if a case failed (bench_fail), else 0. */
int report_end(void);

/* ---- files ------------------------------------------------------------------- */

/* Creates path's directories (mkdir -p), then opens it for writing; NULL
 * with errno set. */
FILE *report_create(const char *path);
/* Writes s as one quoted CSV field: quotes doubled, newlines made spaces. */
void report_csv_text(FILE *f, const char *s);

/* A chart of panels side by side, each a line per series over the same
 * x values, with one log-scaled y axis for all panels. A point's title
 * (its tooltip) is "<series tip> <x_name>=<x>: <y, %.0f> <unit>". */
enum { REPORT_MAX_X = 8, REPORT_MAX_SERIES = 8, REPORT_MAX_PANELS = 4 };

typedef struct report_series {
    const char *label; /* in the legend (the first panel's series)      */
    const char *tip;   /* what a point's title starts with               */
    const char *color;
    bool dashed;
    double y[REPORT_MAX_X]; /* 0 or less: no point there              */
} report_series;

typedef struct report_panel {
    const char *title;
    unsigned nseries;
    report_series series[REPORT_MAX_SERIES];
} report_panel;

typedef struct report_chart {
    const char *title, *subtitle;
    const char *x_label; /* under each panel's x axis: "readers (N)"        */
    const char *x_name;  /* in the points' titles: "N"                      */
    const char *unit;    /* of y, in the points' titles                     */
    unsigned nx;
    unsigned x[REPORT_MAX_X];
    unsigned cols, rows; /* panels: row by row, cols x rows of them         */
    report_panel panels[REPORT_MAX_PANELS];
    unsigned legend_cols; /* legend entries per line                       */
} report_chart;

/* Writes chart c to path as SVG. 0, or -1 with errno set. */
int report_svg_chart(const char *path, const report_chart *c);

#endif /* KLAW_BENCH_REPORT_H */
