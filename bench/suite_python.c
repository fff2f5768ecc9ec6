/*
 * suite_python.c - klaw-bench's python suite: klaw's channels used from
 * Python (the `klaw` package) against what a Python user would pick
 * instead (multiprocessing's Queue, Pipe, and a lock-protected ring in
 * multiprocessing.shared_memory), process to process, in the same run.
 *
 * The measuring is Python's: bench/python_bench.py, run by Debian's
 * interpreter, does it and prints its results one tab-separated line each
 * (its opening comment has the cases and the line format). This file
 * finds the interpreter and the script, runs it with --runs (and
 * --quick), turns its lines into bench_emit rows, so --json and the
 * tables come out as every other suite's, and prints the suite's tables.
 *
 * Where the script is: next to klaw-bench in a build tree (meson copies
 * it to <build>/bench/, and PYTHONPATH then points at <build>/python, the
 * package as built); else the installed copy in KLAW_BENCH_DATADIR,
 * importing the installed package. The interpreter: $KLAW_BENCH_PYTHON,
 * else the one meson built the package for. Rows that cannot be measured
 * (klaw-bench built without the Python package, no interpreter, no
 * script, the script stopping early) are "skipped" rows with the reason,
 * every one the grid below lists; a row the script reports missing its
 * check (a frame lost, torn or delivered twice) fails the case.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "report.h"

#define SUITE "python"

#ifndef KLAW_BENCH_PYTHON_EXE
#define KLAW_BENCH_PYTHON_EXE "/usr/bin/python3"
#endif
#ifndef KLAW_BENCH_DATADIR
#define KLAW_BENCH_DATADIR "/usr/share/klaw"
#endif
#ifndef KLAW_BENCH_HAVE_PYTHON
#define KLAW_BENCH_HAVE_PYTHON 0
#endif

/* ---- the grid: every row the suite prints ------------------------------------------------- */

typedef struct metric_spec {
    const char *name, *unit;
} metric_spec;

typedef struct case_spec {
    const char *name;
    const char *const *impls;
    const metric_spec *metrics;
    const char *const *kinds;
    const unsigned *frames;
    unsigned readers[2];
} case_spec;

static const char *const THROUGHPUT_IMPLS[] = {"klaw_recv", "klaw_view", "mp_queue", "mp_pipe", "mp_shm_ring",
                                               NULL};
static const char *const VIEW_IMPLS[] = {"klaw_view", "klaw_recv", NULL};
static const char *const ASYNCIO_IMPLS[] = {"asyncio_klaw", "asyncio_socketpair", NULL};
static const metric_spec THROUGHPUT_METRICS[] = {
    {"frames_per_s", "frames/s"}, {"delivered_per_s", "frames/s"}, {"lost_frames", "frames"}, {NULL, NULL}};
static const metric_spec VIEW_METRICS[] = {{"ns_per_op", "ns"}, {"frames_per_s", "frames/s"}, {NULL, NULL}};
static const metric_spec ASYNCIO_METRICS[] = {{"frames_per_s", "frames/s"}, {"lost_frames", "frames"}, {NULL, NULL}};
static const char *const BOTH_KINDS[] = {"mpmc", "broadcast", NULL};
static const char *const MPMC_ONLY[] = {"mpmc", NULL};
static const unsigned SMALL_FRAMES[] = {64, 4096, 0};
static const unsigned VIEW_FRAMES[] = {64, 1048576, 0};

static const case_spec CASES[] = {
    {"1_to_n", THROUGHPUT_IMPLS, THROUGHPUT_METRICS, BOTH_KINDS, SMALL_FRAMES, {1, 4}},
    {"view_cost", VIEW_IMPLS, VIEW_METRICS, MPMC_ONLY, VIEW_FRAMES, {1, 0}},
    {"asyncio", ASYNCIO_IMPLS, ASYNCIO_METRICS, MPMC_ONLY, SMALL_FRAMES, {1, 0}},
};
enum { NCASES = sizeof CASES / sizeof CASES[0], MAX_CELLS = 160 };

/* One row of the grid: which it is, and what the script said. */
typedef struct cell {
    const char *case_name, *impl, *metric, *unit, *kind;
    unsigned frame_bytes, readers;
    bool seen;
    bool skipped;
    double value;
    const char *why; /* skipped: the reason */
} cell;

static cell grid[MAX_CELLS];
static unsigned ngrid;

static void grid_build(void)
{
    ngrid = 0;
    for (unsigned c = 0; c < NCASES; c++) {
        const case_spec *s = &CASES[c];
        for (unsigned k = 0; s->kinds[k]; k++)
            for (unsigned f = 0; s->frames[f]; f++)
                for (unsigned r = 0; r < 2 && s->readers[r]; r++)
                    for (unsigned i = 0; s->impls[i]; i++)
                        for (unsigned m = 0; s->metrics[m].name && ngrid < MAX_CELLS; m++)
                            grid[ngrid++] = (cell){.case_name = s->name,
                                                   .impl = s->impls[i],
                                                   .metric = s->metrics[m].name,
                                                   .unit = s->metrics[m].unit,
                                                   .kind = s->kinds[k],
                                                   .frame_bytes = s->frames[f],
                                                   .readers = s->readers[r]};
    }
}

static bench_key cell_key(const cell *c)
{
    bench_key k = {.suite = SUITE, .case_name = c->case_name};
    bench_key_str(&k, "kind", c->kind);
    bench_key_int(&k, "frame_bytes", c->frame_bytes);
    bench_key_int(&k, "readers", c->readers);
    return k;
}

static cell *grid_find(const char *case_name, const char *impl, const char *metric, const char *kind,
                       unsigned frame_bytes, unsigned readers)
{
    for (unsigned i = 0; i < ngrid; i++) {
        cell *c = &grid[i];
        if (strcmp(c->case_name, case_name) == 0 && strcmp(c->impl, impl) == 0 && strcmp(c->metric, metric) == 0 &&
            strcmp(c->kind, kind) == 0 && c->frame_bytes == frame_bytes && c->readers == readers)
            return c;
    }
    return NULL;
}

/* Every row not reported yet, skipped for `why`. */
static void grid_skip_rest(const char *why)
{
    for (unsigned i = 0; i < ngrid; i++) {
        cell *c = &grid[i];
        if (c->seen)
            continue;
        bench_key k = cell_key(c);
        c->seen = c->skipped = true;
        c->why = why;
        bench_emit_skipped(&k, c->impl, c->metric, c->unit, why);
    }
}

#if KLAW_BENCH_HAVE_PYTHON
/* ---- the script's lines ------------------------------------------------------------------- */

/* Strings a row keeps pointing at until the report is printed (the skip
 * reasons): kept in one list, freed at exit. */
static char **kept;
static size_t nkept;

static void free_kept(void)
{
    for (size_t i = 0; i < nkept; i++)
        free(kept[i]);
    free(kept);
}

static const char *keep(const char *s)
{
    char *d = strdup(s);
    char **k = realloc(kept, (nkept + 1) * sizeof *kept);
    if (!d || !k) {
        fprintf(stderr, "klaw-bench: out of memory\n");
        exit(1);
    }
    kept = k;
    kept[nkept++] = d;
    return d;
}

/* Splits line at tabs into at most max fields; returns how many. */
static unsigned split(char *line, char **f, unsigned max)
{
    unsigned n = 0;
    char *save = NULL;
    for (char *t = strtok_r(line, "\t\n", &save); t && n < max; t = strtok_r(NULL, "\t\n", &save))
        f[n++] = t;
    return n;
}

/* `row CASE IMPL METRIC UNIT VALUE|skipped:WHY kind=K frame_bytes=F readers=R`
 * or `fail CASE MESSAGE`. */
static void take_line(char *line)
{
    char *f[12];
    unsigned n = split(line, f, 12);
    if (n == 0)
        return;
    bench_key fk = {.suite = SUITE, .case_name = n > 1 ? f[1] : "?"};
    if (n == 3 && strcmp(f[0], "fail") == 0) {
        bench_fail(&fk, "%s", f[2]);
        return;
    }
    const char *kind = NULL;
    long frame = -1, readers = -1;
    for (unsigned i = 6; i < n; i++) {
        if (strncmp(f[i], "kind=", 5) == 0)
            kind = f[i] + 5;
        else if (strncmp(f[i], "frame_bytes=", 12) == 0)
            frame = strtol(f[i] + 12, NULL, 10);
        else if (strncmp(f[i], "readers=", 8) == 0)
            readers = strtol(f[i] + 8, NULL, 10);
    }
    cell *c = n == 9 && strcmp(f[0], "row") == 0 && kind && frame > 0 && readers > 0
                  ? grid_find(f[1], f[2], f[3], kind, (unsigned)frame, (unsigned)readers)
                  : NULL;
    if (!c) {
        bench_fail(&fk, "python_bench.py printed a line klaw-bench does not expect: %s", f[0]);
        return;
    }
    if (c->seen) {
        bench_fail(&fk, "python_bench.py reported %s %s twice", c->impl, c->metric);
        return;
    }
    if (strcmp(c->unit, f[4]) != 0) {
        bench_fail(&fk, "python_bench.py: %s in %s, want %s", c->metric, f[4], c->unit);
        return;
    }
    bench_key k = cell_key(c);
    c->seen = true;
    if (strncmp(f[5], "skipped:", 8) == 0) {
        c->skipped = true;
        c->why = keep(f[5] + 8);
        bench_emit_skipped(&k, c->impl, c->metric, c->unit, c->why);
        return;
    }
    char *end;
    errno = 0;
    c->value = strtod(f[5], &end);
    if (errno || *end != '\0') {
        c->skipped = true;
        c->why = "python_bench.py printed no number";
        bench_fail(&k, "python_bench.py: %s %s is not a number: %s", c->impl, c->metric, f[5]);
        bench_emit_skipped(&k, c->impl, c->metric, c->unit, c->why);
        return;
    }
    bench_emit(&k, c->impl, c->metric, c->unit, c->value);
}

/* ---- finding and running the script --------------------------------------------------------- */

static bool is_file(const char *path) { return access(path, R_OK) == 0; }

/* The script and the PYTHONPATH it needs (NULL: the environment's):
 * <dir of klaw-bench>/python_bench.py in a build tree, else the installed
 * one. false when neither is there. */
static bool find_script(char *script, size_t size, char *pypath, size_t pysize)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            snprintf(script, size, "%s/python_bench.py", exe);
            char init[PATH_MAX + 32];
            snprintf(init, sizeof init, "%s/../python/klaw/__init__.py", exe);
            if (is_file(script)) {
                if (is_file(init))
                    snprintf(pypath, pysize, "%s/../python", exe);
                return true;
            }
        }
    }
    snprintf(script, size, "%s/python_bench.py", KLAW_BENCH_DATADIR);
    return is_file(script);
}

/* Runs the script; every row it does not report is skipped. */
static void run_script(const bench_opts *o)
{
    const char *python = getenv("KLAW_BENCH_PYTHON");
    if (!python || !*python)
        python = KLAW_BENCH_PYTHON_EXE;
    char script[PATH_MAX + 32], pypath[PATH_MAX + 32] = "", why[PATH_MAX + 128];
    if (access(python, X_OK) != 0) {
        snprintf(why, sizeof why, "no Python interpreter at %s", python);
        grid_skip_rest(keep(why));
        return;
    }
    if (!find_script(script, sizeof script, pypath, sizeof pypath)) {
        snprintf(why, sizeof why, "python_bench.py is not next to klaw-bench nor in %s", KLAW_BENCH_DATADIR);
        grid_skip_rest(keep(why));
        return;
    }

    int fds[2];
    if (pipe(fds) != 0) {
        snprintf(why, sizeof why, "pipe: %s", strerror(errno));
        grid_skip_rest(keep(why));
        return;
    }
    char runs[16];
    snprintf(runs, sizeof runs, "%u", o->runs);
    char *argv[] = {(char *)python, script, "--runs", runs, o->quick ? "--quick" : NULL, NULL};
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        if (pypath[0]) {
            /* the build tree's package first, then the caller's path */
            const char *old = getenv("PYTHONPATH");
            size_t len = strlen(pypath) + (old ? strlen(old) : 0) + 2;
            char *both = malloc(len);
            if (both && old && *old)
                snprintf(both, len, "%s:%s", pypath, old);
            else if (both)
                snprintf(both, len, "%s", pypath);
            setenv("PYTHONPATH", both ? both : pypath, 1);
        }
        execv(python, argv);
        fprintf(stderr, "klaw-bench: python: cannot run %s: %s\n", python, strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        snprintf(why, sizeof why, "fork: %s", strerror(errno));
        grid_skip_rest(keep(why));
        return;
    }
    FILE *in = fdopen(fds[0], "r");
    char *line = NULL;
    size_t cap = 0;
    while (in && getline(&line, &cap, in) > 0)
        take_line(line);
    free(line);
    if (in)
        fclose(in);
    else
        close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    bench_key k = {.suite = SUITE, .case_name = "-"};
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
        snprintf(why, sizeof why, "cannot run %s", python);
        grid_skip_rest(keep(why));
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        bench_fail(&k, "%s %s: %s %d", python, script, WIFEXITED(status) ? "exit status" : "killed by signal",
                   WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        grid_skip_rest("python_bench.py stopped before measuring it");
    } else {
        for (unsigned i = 0; i < ngrid; i++)
            if (!grid[i].seen) {
                bench_fail(&k, "python_bench.py did not report %s %s %s", grid[i].case_name, grid[i].impl,
                           grid[i].metric);
                break;
            }
        grid_skip_rest("python_bench.py did not report it");
    }
}

#endif /* KLAW_BENCH_HAVE_PYTHON */

static void run_python(const bench_opts *o)
{
    grid_build();
#if KLAW_BENCH_HAVE_PYTHON
    atexit(free_kept);
    run_script(o);
#else
    (void)o;
    grid_skip_rest("klaw-bench was built without the Python package (needs /usr/bin/python3 and python3-dev)");
#endif
}

/* ---- the tables ---------------------------------------------------------------------------- */

static const cell *get(const char *case_name, const char *impl, const char *metric, const char *kind,
                       unsigned frame_bytes, unsigned readers)
{
    const cell *c = grid_find(case_name, impl, metric, kind, frame_bytes, readers);
    return c && c->seen && !c->skipped ? c : NULL;
}

static const char *cell_text(char *buf, size_t size, const cell *c)
{
    if (!c)
        return "skipped";
    return report_value(buf, size, c->value, c->unit);
}

static void ratio_text(char *buf, size_t size, const cell *a, const cell *b)
{
    if (a && b && a->value > 0 && b->value > 0)
        snprintf(buf, size, "%.2fx", a->value / b->value);
    else
        snprintf(buf, size, "-");
}

static void print_tables(const bench_opts *o)
{
    char a[REPORT_NUM], b[REPORT_NUM], c[REPORT_NUM], d[REPORT_NUM], e[REPORT_NUM], r[REPORT_NUM],
        size[REPORT_NUM];
    printf("suite python: klaw from Python against multiprocessing, process to process; median of %u runs "
           "of ~%.2f s\n\n",
           o->runs, o->quick ? 0.01 : 0.2);
    printf("1_to_n: frames/s (frames the writer sent / time to the last reader's end); ratio = klaw_recv / "
           "mp_queue\n");
    printf("%-10s %6s %7s %10s %10s %10s %10s %11s %8s\n", "kind", "frame", "readers", "klaw_recv", "klaw_view",
           "mp_queue", "mp_pipe", "mp_shm_ring", "ratio");
    for (unsigned k = 0; BOTH_KINDS[k]; k++)
        for (unsigned f = 0; SMALL_FRAMES[f]; f++)
            for (unsigned n = 1; n <= 4; n += 3) {
                const char *kind = BOTH_KINDS[k];
                unsigned fb = SMALL_FRAMES[f];
                const cell *recv = get("1_to_n", "klaw_recv", "frames_per_s", kind, fb, n);
                const cell *queue = get("1_to_n", "mp_queue", "frames_per_s", kind, fb, n);
                ratio_text(r, sizeof r, recv, queue);
                printf("%-10s %6s %7u %10s %10s %10s %10s %11s %8s\n", kind, report_bytes(size, sizeof size, fb), n,
                       cell_text(a, sizeof a, recv),
                       cell_text(b, sizeof b, get("1_to_n", "klaw_view", "frames_per_s", kind, fb, n)),
                       cell_text(c, sizeof c, queue),
                       cell_text(d, sizeof d, get("1_to_n", "mp_pipe", "frames_per_s", kind, fb, n)),
                       cell_text(e, sizeof e, get("1_to_n", "mp_shm_ring", "frames_per_s", kind, fb, n)), r);
            }

    printf("\nview_cost: time per frame taken (klaw_view: view, check, release in place; klaw_recv: a copy)\n");
    printf("%-8s %10s %10s\n", "frame", "klaw_view", "klaw_recv");
    for (unsigned f = 0; VIEW_FRAMES[f]; f++)
        printf("%-8s %10s %10s\n", report_bytes(size, sizeof size, VIEW_FRAMES[f]),
               cell_text(a, sizeof a, get("view_cost", "klaw_view", "ns_per_op", "mpmc", VIEW_FRAMES[f], 1)),
               cell_text(b, sizeof b, get("view_cost", "klaw_recv", "ns_per_op", "mpmc", VIEW_FRAMES[f], 1)));
    ratio_text(r, sizeof r, get("view_cost", "klaw_view", "ns_per_op", "mpmc", VIEW_FRAMES[1], 1),
               get("view_cost", "klaw_view", "ns_per_op", "mpmc", VIEW_FRAMES[0], 1));
    printf("a view of 1 MiB / a view of 64 B: %s\n", r);

    printf("\nasyncio: frames/s received on an asyncio loop; ratio = asyncio_klaw / asyncio_socketpair\n");
    printf("%-8s %12s %18s %8s\n", "frame", "asyncio_klaw", "asyncio_socketpair", "ratio");
    for (unsigned f = 0; SMALL_FRAMES[f]; f++) {
        const cell *k = get("asyncio", "asyncio_klaw", "frames_per_s", "mpmc", SMALL_FRAMES[f], 1);
        const cell *s = get("asyncio", "asyncio_socketpair", "frames_per_s", "mpmc", SMALL_FRAMES[f], 1);
        ratio_text(r, sizeof r, k, s);
        printf("%-8s %12s %18s %8s\n", report_bytes(size, sizeof size, SMALL_FRAMES[f]), cell_text(a, sizeof a, k),
               cell_text(b, sizeof b, s), r);
    }

    /* why anything was skipped, once per reason */
    for (unsigned i = 0; i < ngrid; i++) {
        const cell *x = &grid[i];
        if (!x->skipped)
            continue;
        bool said = false;
        for (unsigned j = 0; j < i && !said; j++)
            said = grid[j].skipped && strcmp(grid[j].impl, x->impl) == 0 && strcmp(grid[j].why, x->why) == 0;
        if (!said)
            printf("\n%s skipped: %s", x->impl, x->why);
    }
    printf("\n");
    fflush(stdout);
}

static void run_suite(const bench_opts *o)
{
    run_python(o);
    if (!o->json)
        print_tables(o);
}

/* table_metric NULL: klaw-bench prints no generic table; the suite prints
 * its own (the three cases have different columns). */
const bench_suite bench_suite_python = {
    .name = "python",
    .summary = "klaw from Python (the klaw package), process to process: mpmc and broadcast, 64 B and 4 KiB, "
               "1 and 4 readers, copying recv and zero-copy view; a view's cost at 64 B and 1 MiB; asyncio receive",
    .table_metric = NULL,
    .lower_is_better = false,
    .peers = "multiprocessing.Queue, multiprocessing.Pipe, a lock-protected ring in multiprocessing.shared_memory; "
             "asyncio over a socketpair",
    .rep_scale = 1,
    .run = run_suite,
    .klaw_impl = "klaw_recv",
};
