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
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static const bench_suite *const suites[] = {
    &bench_suite_codec,
    &bench_suite_mpmc,
    &bench_suite_fanout,
    /* latency: add here when it is written */
};
enum { NSUITES = sizeof suites / sizeof suites[0] };

/* ---- rows -------------------------------------------------------------- */

typedef struct row {
    bench_key key;
    const char *impl, *metric, *unit;
    double value;
    const char *skipped; /* non-NULL: no value, this is why */
} row;

static struct {
    bool json;
    row *rows; /* kept for the table (not with --json) */
    size_t n, cap;
    int failed;
} out;

void bench_key_int(bench_key *k, const char *key, long long v)
{
    if (k->nparams < BENCH_MAX_PARAMS)
        k->params[k->nparams++] = (bench_param){key, v, NULL};
}

void bench_key_str(bench_key *k, const char *key, const char *v)
{
    if (k->nparams < BENCH_MAX_PARAMS)
        k->params[k->nparams++] = (bench_param){key, 0, v};
}

static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void json_num(double v)
{
    if (!isfinite(v))
        fputs("null", stdout);
    else if (fabs(v) >= 1e6)
        printf("%.0f", v);
    else
        printf("%.3f", v);
}

static void print_json(const row *r)
{
    fputs("{\"suite\": ", stdout);
    json_str(r->key.suite);
    fputs(", \"case\": ", stdout);
    json_str(r->key.case_name);
    fputs(", \"impl\": ", stdout);
    json_str(r->impl);
    fputs(", \"metric\": ", stdout);
    json_str(r->metric);
    if (r->skipped) {
        fputs(", \"skipped\": ", stdout);
        json_str(r->skipped);
    } else {
        fputs(", \"value\": ", stdout);
        json_num(r->value);
    }
    fputs(", \"unit\": ", stdout);
    json_str(r->unit);
    for (unsigned i = 0; i < r->key.nparams; i++) {
        const bench_param *p = &r->key.params[i];
        fputs(", ", stdout);
        json_str(p->key);
        fputs(": ", stdout);
        if (p->s)
            json_str(p->s);
        else
            printf("%lld", p->i);
    }
    fputs("}\n", stdout);
    fflush(stdout);
}

static void add_row(const row *r)
{
    if (out.json) {
        print_json(r);
        return;
    }
    if (out.n == out.cap) {
        size_t cap = out.cap ? out.cap * 2 : 64;
        row *rows = realloc(out.rows, cap * sizeof *rows);
        if (!rows) {
            fprintf(stderr, "klaw-bench: out of memory\n");
            exit(1);
        }
        out.rows = rows;
        out.cap = cap;
    }
    out.rows[out.n++] = *r;
}

void bench_emit(const bench_key *k, const char *impl, const char *metric, const char *unit, double value)
{
    row r = {*k, impl, metric, unit, value, NULL};
    add_row(&r);
}

void bench_emit_skipped(const bench_key *k, const char *impl, const char *metric, const char *unit,
                        const char *why)
{
    row r = {*k, impl, metric, unit, 0.0, why};
    add_row(&r);
}

void bench_emit_time(const bench_key *k, const char *impl, double ns_per_op)
{
    bench_emit(k, impl, "ns_per_op", "ns", ns_per_op);
    bench_emit(k, impl, "ops_per_s", "ops/s", ns_per_op > 0 ? 1e9 / ns_per_op : 0.0);
}

void bench_emit_time_skipped(const bench_key *k, const char *impl, const char *why)
{
    bench_emit_skipped(k, impl, "ns_per_op", "ns", why);
    bench_emit_skipped(k, impl, "ops_per_s", "ops/s", why);
}

void bench_fail(const bench_key *k, const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "klaw-bench: %s/%s: ", k->suite, k->case_name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    out.failed = 1;
}

/* ---- the table --------------------------------------------------------- */

static bool same_params(const bench_key *a, const bench_key *b)
{
    if (strcmp(a->case_name, b->case_name) != 0 || a->nparams != b->nparams)
        return false;
    for (unsigned i = 0; i < a->nparams; i++) {
        const bench_param *p = &a->params[i], *q = &b->params[i];
        if (strcmp(p->key, q->key) != 0 || (p->s == NULL) != (q->s == NULL))
            return false;
        if (p->s ? strcmp(p->s, q->s) != 0 : p->i != q->i)
            return false;
    }
    return true;
}

/* "payload_bytes" 4096 -> "payload=4KiB"; others "key=value". */
static void format_params(const bench_key *k, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (unsigned i = 0; i < k->nparams && used < size; i++) {
        const bench_param *p = &k->params[i];
        const char *sep = i ? " " : "";
        size_t kl = strlen(p->key);
        int n;
        if (p->s) {
            n = snprintf(buf + used, size - used, "%s%s=%s", sep, p->key, p->s);
        } else if (kl > 6 && strcmp(p->key + kl - 6, "_bytes") == 0) {
            long long v = p->i;
            const char *unit = "B";
            if (v >= 1048576 && v % 1048576 == 0) {
                v /= 1048576;
                unit = "MiB";
            } else if (v >= 1024 && v % 1024 == 0) {
                v /= 1024;
                unit = "KiB";
            }
            n = snprintf(buf + used, size - used, "%s%.*s=%lld%s", sep, (int)(kl - 6), p->key, v, unit);
        } else {
            n = snprintf(buf + used, size - used, "%s%s=%lld", sep, p->key, p->i);
        }
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

static void format_value(const row *r, char *buf, size_t size)
{
    if (!r)
        snprintf(buf, size, "-");
    else if (r->skipped)
        snprintf(buf, size, "skipped");
    else if (r->value >= 1e6)
        snprintf(buf, size, "%.0f %s", r->value, r->unit);
    else
        snprintf(buf, size, "%.1f %s", r->value, r->unit);
}

static const row *find_row(size_t from, const bench_key *k, const char *impl, const char *metric)
{
    for (size_t i = from; i < out.n; i++) {
        const row *r = &out.rows[i];
        if (strcmp(r->impl, impl) == 0 && strcmp(r->metric, metric) == 0 && same_params(&r->key, k))
            return r;
    }
    return NULL;
}

static void print_table(const bench_suite *s, const bench_opts *o, size_t from)
{
    const char *peers[8];
    unsigned npeers = 0;
    char params[128], cell[48];

    for (size_t i = from; i < out.n; i++) {
        const row *r = &out.rows[i];
        bool known = strcmp(r->impl, "klaw") == 0;
        for (unsigned p = 0; p < npeers && !known; p++)
            known = strcmp(peers[p], r->impl) == 0;
        if (!known && npeers < 8)
            peers[npeers++] = r->impl;
    }

    printf("suite %s: %s, median of %u runs of ~%.2f s; %s is better", s->name, s->table_metric, o->runs,
           (double)o->rep_ns / 1e9, s->lower_is_better ? "lower" : "higher");
    if (npeers)
        printf("; ratio = %s", s->lower_is_better ? "peer time / klaw" : "klaw rate / peer rate");
    /* columns as wide as their widest entry (at least 28 and 14) */
    int pw = 28, cw = 14;
    for (size_t i = from; i < out.n; i++) {
        const row *r = &out.rows[i];
        if (strcmp(r->metric, s->table_metric) != 0)
            continue;
        format_params(&r->key, params, sizeof params);
        format_value(r, cell, sizeof cell);
        pw = (int)strlen(params) > pw ? (int)strlen(params) : pw;
        cw = (int)strlen(cell) > cw ? (int)strlen(cell) : cw;
    }
    for (unsigned p = 0; p < npeers; p++)
        cw = (int)strlen(peers[p]) > cw ? (int)strlen(peers[p]) : cw;

    printf("\n\n%-13s %-*s %*s", "case", pw, "params", cw, "klaw");
    for (unsigned p = 0; p < npeers; p++)
        printf(" %*s %7s", cw, peers[p], "ratio");
    putchar('\n');

    for (size_t i = from; i < out.n; i++) {
        const row *r = &out.rows[i];
        if (strcmp(r->metric, s->table_metric) != 0)
            continue;
        /* one line per comparison, at its first row */
        bool seen = false;
        for (size_t j = from; j < i && !seen; j++)
            seen = strcmp(out.rows[j].metric, s->table_metric) == 0 && same_params(&out.rows[j].key, &r->key);
        if (seen)
            continue;
        const row *mine = find_row(from, &r->key, "klaw", s->table_metric);
        format_params(&r->key, params, sizeof params);
        format_value(mine, cell, sizeof cell);
        printf("%-13s %-*s %*s", r->key.case_name, pw, params, cw, cell);
        for (unsigned p = 0; p < npeers; p++) {
            const row *peer = find_row(from, &r->key, peers[p], s->table_metric);
            format_value(peer, cell, sizeof cell);
            printf(" %*s", cw, cell);
            if (mine && peer && !mine->skipped && !peer->skipped && mine->value > 0 && peer->value > 0)
                printf(" %6.2fx", s->lower_is_better ? peer->value / mine->value : mine->value / peer->value);
            else
                printf(" %7s", "-");
        }
        putchar('\n');
    }

    /* say why anything was skipped, once per reason */
    for (size_t i = from; i < out.n; i++) {
        const row *r = &out.rows[i];
        bool said = false;
        if (!r->skipped)
            continue;
        for (size_t j = from; j < i && !said; j++)
            said = out.rows[j].skipped && strcmp(out.rows[j].impl, r->impl) == 0 &&
                   strcmp(out.rows[j].skipped, r->skipped) == 0;
        if (!said)
            printf("\n%s skipped: %s", r->impl, r->skipped);
    }
    printf("\n");
    fflush(stdout);
}

/* ---- main -------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: klaw-bench SUITE... [--json] [--runs N] [--quick] [--csv FILE] [--svg FILE]\n"
            "       klaw-bench --list | --help\n"
            "\n"
            "Runs klaw and its peers on the same data in the same run and reports\n"
            "each case's median over N repetitions (default 5, each about 0.2 s;\n"
            "0.4 s for mpmc).\n"
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
    out.json = o.json;

    for (int c = 0; c < nchosen; c++) {
        size_t from = out.n;
        bench_opts so = o;
        if (chosen[c]->rep_scale > 1)
            so.rep_ns *= chosen[c]->rep_scale;
        chosen[c]->run(&so);
        if (!o.json)
            print_table(chosen[c], &so, from);
    }
    free(out.rows);
    return out.failed ? 1 : 0;
}
