/*
 * report.c - klaw-bench's output (report.h): the rows the suites emit,
 * printed as JSON lines or kept for a table per suite; numbers for people;
 * CSV fields and SVG charts.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench.h"
#include "report.h"

/* ---- numbers for people ---------------------------------------------------- */

/* v >= 0 with at most three significant digits, trailing zeros dropped. */
static void digits(char *buf, size_t size, double v)
{
    int dec = v < 9.995 ? 2 : v < 99.95 ? 1 : 0;
    if (v >= 1e6) {
        snprintf(buf, size, "%.3g", v); /* past the largest prefix */
        return;
    }
    snprintf(buf, size, "%.*f", dec, v);
    char *dot = strchr(buf, '.');
    if (!dot)
        return;
    char *end = buf + strlen(buf);
    while (end > dot + 1 && end[-1] == '0')
        *--end = '\0';
    if (end == dot + 1)
        *dot = '\0';
}

/* v scaled by `base` until it is below it (or the prefixes run out): the
 * digits, a space, the prefix, then the unit; with no prefix and a unit
 * that starts with '/', no space ("999/s"). */
static const char *scaled(char *buf, size_t size, double v, double base, const char *const *prefix, unsigned nprefix,
                          const char *unit)
{
    char num[REPORT_NUM];
    unsigned p = 0;
    if (!isfinite(v)) {
        snprintf(buf, size, "-");
        return buf;
    }
    double a = fabs(v);
    /* a that rounds to `base` at three digits (999.5 and up) takes the
     * next prefix */
    while (p + 1 < nprefix && a >= base - 0.5)
        a /= base, p++;
    digits(num, sizeof num, a);
    const char *sep = (prefix[p][0] || unit[0] != '/') && (prefix[p][0] || unit[0]) ? " " : "";
    snprintf(buf, size, "%s%s%s%s%s", v < 0 && strcmp(num, "0") != 0 ? "-" : "", num, sep, prefix[p], unit);
    return buf;
}

static const char *const SI[] = {"", "k", "M", "G", "T", "P", "E"};
static const char *const BINARY[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
static const char *const TIME[] = {"ns", "us", "ms", "s"};

const char *report_si(char *buf, size_t size, double v) { return scaled(buf, size, v, 1000, SI, 7, ""); }

const char *report_rate(char *buf, size_t size, double per_s)
{
    return scaled(buf, size, per_s, 1000, SI, 7, "/s");
}

const char *report_bytes(char *buf, size_t size, double bytes)
{
    return scaled(buf, size, bytes, 1024, BINARY, 7, "");
}

const char *report_ns(char *buf, size_t size, double ns) { return scaled(buf, size, ns, 1000, TIME, 4, ""); }

const char *report_value(char *buf, size_t size, double v, const char *unit)
{
    size_t ul = strlen(unit);
    if (ul >= 2 && strcmp(unit + ul - 2, "/s") == 0)
        return report_rate(buf, size, v);
    if (strcmp(unit, "ns") == 0)
        return report_ns(buf, size, v);
    if (strcmp(unit, "B") == 0 || strcmp(unit, "bytes") == 0)
        return report_bytes(buf, size, v);
    char num[REPORT_NUM];
    report_si(num, sizeof num, v);
    snprintf(buf, size, "%s%s%s", num, ul ? " " : "", unit);
    return buf;
}

/* ---- rows ------------------------------------------------------------------ */

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

void report_start(bool json) { out.json = json; }

size_t report_mark(void) { return out.n; }

int report_end(void)
{
    free(out.rows);
    out.rows = NULL;
    out.n = out.cap = 0;
    return out.failed ? 1 : 0;
}

/* ---- the table ------------------------------------------------------------- */

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
    else
        report_value(buf, size, r->value, r->unit);
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

void report_table(const bench_suite *s, const bench_opts *o, size_t from)
{
    const char *peers[8];
    unsigned npeers = 0;
    char params[128], cell[48];
    const char *klaw = s->klaw_impl ? s->klaw_impl : "klaw";

    for (size_t i = from; i < out.n; i++) {
        const row *r = &out.rows[i];
        bool known = strcmp(r->impl, klaw) == 0;
        for (unsigned p = 0; p < npeers && !known; p++)
            known = strcmp(peers[p], r->impl) == 0;
        if (!known && npeers < 8)
            peers[npeers++] = r->impl;
    }

    const char *unit = NULL;
    for (size_t i = from; i < out.n && !unit; i++)
        if (strcmp(out.rows[i].metric, s->table_metric) == 0)
            unit = out.rows[i].unit;
    printf("suite %s: %s (%s), median of %u runs of ~%.2f s; %s is better", s->name, s->table_metric,
           unit ? unit : "-", o->runs, (double)o->rep_ns / 1e9, s->lower_is_better ? "lower" : "higher");
    if (npeers)
        printf(s->lower_is_better ? "; ratio = peer time / %s" : "; ratio = %s rate / peer rate", klaw);
    /* columns as wide as their widest entry (at least 28 and 10) */
    int pw = 28, cw = 10;
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

    cw = (int)strlen(klaw) > cw ? (int)strlen(klaw) : cw;
    printf("\n\n%-13s %-*s %*s", "case", pw, "params", cw, klaw);
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
        const row *mine = find_row(from, &r->key, klaw, s->table_metric);
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


/* ---- files ------------------------------------------------------------------- */

FILE *report_create(const char *path)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        mkdir(buf, 0777); /* EEXIST or a real failure: fopen says which */
        *p = '/';
    }
    return fopen(path, "w");
}

void report_csv_text(FILE *f, const char *s)
{
    fputc('"', f);
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            fputc('"', f);
        fputc(*p == '\n' ? ' ' : *p, f);
    }
    fputc('"', f);
}

static void xml_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* Each panel PW x PH: its title above the plot, y labels left of it, x
 * labels and the x axis name below; the title and subtitle on top (TOP),
 * the legend at the bottom (LEG per line). */
int report_svg_chart(const char *path, const report_chart *c)
{
    enum { PW = 420, PH = 280, ML = 64, MR = 16, MT = 34, MB = 40, TOP = 56, LEG = 18 };
    const unsigned npanels = c->cols * c->rows <= REPORT_MAX_PANELS ? c->cols * c->rows : REPORT_MAX_PANELS;
    const unsigned nx = c->nx <= REPORT_MAX_X ? c->nx : REPORT_MAX_X;
    const unsigned lcols = c->legend_cols ? c->legend_cols : 1;
    const unsigned nleg = c->panels[0].nseries;
    const int W = (int)c->cols * PW, H = TOP + (int)c->rows * PH + 12 + (int)((nleg + lcols - 1) / lcols) * LEG;
    double lo = INFINITY, hi = 0;
    for (unsigned p = 0; p < npanels; p++)
        for (unsigned i = 0; i < c->panels[p].nseries; i++)
            for (unsigned n = 0; n < nx; n++) {
                double v = c->panels[p].series[i].y[n];
                if (v > 0) {
                    lo = v < lo ? v : lo;
                    hi = v > hi ? v : hi;
                }
            }
    if (hi <= 0) {
        lo = 1e3;
        hi = 1e6;
    }
    double dlo = floor(log10(lo)), dhi = ceil(log10(hi));
    if (dhi <= dlo)
        dhi = dlo + 1;

    FILE *f = report_create(path);
    if (!f)
        return -1;
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
            "font-family=\"sans-serif\" font-size=\"12\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
            "<text x=\"%d\" y=\"22\" text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\">",
            W, H, W, H, W / 2);
    xml_text(f, c->title);
    fprintf(f, "</text>\n<text x=\"%d\" y=\"42\" text-anchor=\"middle\" fill=\"#555\">", W / 2);
    xml_text(f, c->subtitle);
    fputs("</text>\n", f);
    for (unsigned p = 0; p < npanels; p++) {
        const report_panel *pn = &c->panels[p];
        const int x0 = (int)(p % c->cols) * PW + ML, y0 = TOP + (int)(p / c->cols) * PH + MT;
        const int pw = PW - ML - MR, ph = PH - MT - MB;
        fprintf(f, "<g>\n<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-weight=\"bold\">", x0 + pw / 2,
                y0 - 10);
        xml_text(f, pn->title);
        fprintf(f, "</text>\n<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#888\"/>\n",
                x0, y0, pw, ph);
        for (double d = dlo; d <= dhi; d += 1) {
            int y = y0 + ph - (int)lround((d - dlo) / (dhi - dlo) * ph);
            char lab[REPORT_NUM];
            report_si(lab, sizeof lab, pow(10, d));
            fprintf(f,
                    "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#ddd\"/>"
                    "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>\n",
                    x0, y, x0 + pw, y, x0 - 6, y + 4, lab);
        }
        for (unsigned n = 0; n < nx; n++) {
            int x = x0 + (int)lround((n + 0.5) * pw / nx);
            fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%u</text>\n", x, y0 + ph + 16, c->x[n]);
        }
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"#555\">", x0 + pw / 2, y0 + ph + 32);
        xml_text(f, c->x_label);
        fputs("</text>\n", f);
        for (unsigned i = 0; i < pn->nseries; i++) {
            const report_series *se = &pn->series[i];
            char pts[512];
            size_t used = 0;
            pts[0] = '\0';
            for (unsigned n = 0; n < nx; n++) {
                double v = se->y[n];
                if (!(v > 0))
                    continue;
                int x = x0 + (int)lround((n + 0.5) * pw / nx);
                int y = y0 + ph - (int)lround((log10(v) - dlo) / (dhi - dlo) * ph);
                fprintf(f, "<circle cx=\"%d\" cy=\"%d\" r=\"3\" fill=\"%s\"><title>", x, y, se->color);
                xml_text(f, se->tip);
                fprintf(f, " %s=%u: %.0f ", c->x_name, c->x[n], v);
                xml_text(f, c->unit);
                fputs("</title></circle>\n", f);
                int k = snprintf(pts + used, sizeof pts - used, "%s%d,%d", used ? " " : "", x, y);
                if (k > 0 && (size_t)k < sizeof pts - used)
                    used += (size_t)k;
            }
            if (used)
                fprintf(f, "<polyline points=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s/>\n", pts,
                        se->color, se->dashed ? " stroke-dasharray=\"6 3\"" : "");
        }
        fputs("</g>\n", f);
    }
    /* the legend: the first panel's series, legend_cols to a line */
    for (unsigned i = 0; i < nleg; i++) {
        const report_series *se = &c->panels[0].series[i];
        int lx = 24 + ML + (int)(i % lcols) * PW, ly = TOP + (int)c->rows * PH + 16 + (int)(i / lcols) * LEG;
        fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"%s/>", lx, ly - 4,
                lx + 28, ly - 4, se->color, se->dashed ? " stroke-dasharray=\"6 3\"" : "");
        fprintf(f, "<text x=\"%d\" y=\"%d\">", lx + 34, ly);
        xml_text(f, se->label);
        fputs("</text>\n", f);
    }
    fputs("</svg>\n", f);
    return fclose(f) == 0 ? 0 : -1;
}
