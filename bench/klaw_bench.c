/*
 * klaw_bench.c - klaw-bench's main: options, the suite table, and output.
 *
 *   klaw-bench SUITE... [--json] [--runs N] [--quick]
 *   klaw-bench --list | --help
 *
 * Suites report rows through bench_emit*() (bench.h). With --json each row
 * is printed at once as one JSON object per line; otherwise rows are kept
 * and printed as a table when the suite is done: one line per case, klaw's
 * value, each peer's, and the ratio (how many times faster klaw is).
 * report.c does both.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "report.h"

static const bench_suite *const suites[] = {
    &bench_suite_codec,
    &bench_suite_mpmc,
    &bench_suite_fanout,
    &bench_suite_bridge,
    &bench_suite_python,
    &bench_suite_latency,
};
enum { NSUITES = sizeof suites / sizeof suites[0] };

/* ---- main -------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: klaw-bench SUITE... [--json] [--runs N] [--quick] [--csv FILE] [--svg FILE]\n"
            "       klaw-bench --list | --help\n"
            "\n"
            "Runs klaw and its peers on the same data in the same run and reports\n"
            "each case's median over N repetitions (default 5, each about 0.2 s;\n"
            "0.4 s for mpmc). bridge starts its own nats-server (skipped rows\n"
            "without it or without nats.c); python runs bench/python_bench.py\n"
            "with /usr/bin/python3 ($KLAW_BENCH_PYTHON) and the klaw package.\n"
            "\n"
            "  --json     one JSON object per line (suite, case, impl, metric,\n"
            "             value or skipped, unit, case parameters) instead of a table\n"
            "  --runs N   repetitions per measurement (1..%d; default 5, 3 with --quick)\n"
            "  --quick    short repetitions (~5 ms): a smoke test, not a measurement\n"
            "  --csv FILE, --svg FILE\n"
            "             fanout: where its CSV and SVG chart go (default\n"
            "             bench-results/fanout.csv and .svg in the current directory)\n"
            "  --list     the suites\n"
            "  --help     this text\n"
            "\n"
            "Exit status: 0 ok; 1 a case failed its correctness check; 2 usage.\n",
            1000);
}

static const bench_suite *find_suite(const char *name)
{
    for (int i = 0; i < NSUITES; i++)
        if (strcmp(suites[i]->name, name) == 0)
            return suites[i];
    return NULL;
}

int main(int argc, char **argv)
{
    bench_opts o = {.json = false, .quick = false, .runs = 0, .rep_ns = 200000000u};
    const bench_suite *chosen[NSUITES + 1];
    int nchosen = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--json") == 0) {
            o.json = true;
        } else if (strcmp(a, "--quick") == 0) {
            o.quick = true;
        } else if (strcmp(a, "--runs") == 0 || strncmp(a, "--runs=", 7) == 0) {
            const char *v = a[6] == '=' ? a + 7 : (i + 1 < argc ? argv[++i] : NULL);
            char *end;
            errno = 0;
            long n = v ? strtol(v, &end, 10) : 0;
            if (!v || *v == '\0' || *end != '\0' || errno || n < 1 || n > 1000) {
                fprintf(stderr, "klaw-bench: --runs wants a number from 1 to 1000\n");
                return 2;
            }
            o.runs = (unsigned)n;
        } else if (strcmp(a, "--csv") == 0 || strcmp(a, "--svg") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "klaw-bench: %s wants a file name\n", a);
                return 2;
            }
            *(a[2] == 'c' ? &o.csv_path : &o.svg_path) = argv[++i];
        } else if (strcmp(a, "--list") == 0) {
            for (int s = 0; s < NSUITES; s++)
                printf("%-10s %s (peers: %s)\n", suites[s]->name, suites[s]->summary, suites[s]->peers);
            return 0;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (a[0] == '-') {
            fprintf(stderr, "klaw-bench: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        } else {
            const bench_suite *s = find_suite(a);
            if (!s) {
                fprintf(stderr, "klaw-bench: unknown suite '%s' (klaw-bench --list shows the suites)\n", a);
                return 2;
            }
            bool dup = false;
            for (int c = 0; c < nchosen; c++)
                dup |= chosen[c] == s;
            if (!dup && nchosen < NSUITES)
                chosen[nchosen++] = s;
        }
    }
    if (nchosen == 0) {
        fprintf(stderr, "klaw-bench: no suite named\n");
        usage(stderr);
        return 2;
    }
    if (o.quick)
        o.rep_ns = 5000000u;
    if (o.runs == 0)
        o.runs = o.quick ? 3 : 5;
    report_start(o.json);

    for (int c = 0; c < nchosen; c++) {
        size_t from = report_mark();
        bench_opts so = o;
        if (chosen[c]->rep_scale > 1)
            so.rep_ns *= chosen[c]->rep_scale;
        chosen[c]->run(&so);
        if (!o.json && chosen[c]->table_metric)
            report_table(chosen[c], &so, from);
    }
    return report_end();
}
