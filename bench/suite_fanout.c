/*
 * suite_fanout.c - klaw-bench's fanout suite: one writer -> N readers on
 * klaw's broadcast channel against ZeroMQ PUB/SUB and, between processes,
 * iceoryx 2.0's zero-copy publish/subscribe: the same frames, the same N,
 * in the same run.
 *
 * Cases: N in {1, 2, 4, 8} readers; frames of 64 B and 4 KiB; policy
 * OVERWRITE (a slow reader loses frames: klaw says LAGGED with the count,
 * a ZeroMQ PUB drops at the subscriber's high-water mark) and BLOCK (the
 * writer waits for the slowest reader: klaw's BLOCK policy, ZeroMQ's PUB
 * with ZMQ_XPUB_NODROP); the workers forked processes ("process": a named
 * broadcast channel in /dev/shm; ZeroMQ over ipc://) or threads of this
 * process ("thread": an anonymous channel; ZeroMQ over inproc://). Ring
 * capacity FANOUT_RING_SLOTS (1024) frames; ZeroMQ's SNDHWM and RCVHWM are
 * set to the same. iceoryx (peer_iceoryx.c) runs the process cases only: a
 * publisher loans, fills and publishes each frame, each reader's
 * subscriber takes, checks and releases it; OVERWRITE is its
 * DISCARD_OLDEST_DATA, BLOCK its BLOCK_PRODUCER / WAIT_FOR_CONSUMER; its
 * subscriber queue holds 256 chunks, iceoryx 2.0's maximum. The suite
 * starts a RouDi of its own for it at the first such case and stops it at
 * the end (peer_iceoryx.h).
 *
 * A run (fanout.h says more): the workers start and attach (outside the
 * clock), then the writer publishes flat out for half the repetition time
 * (0.1 s; the saturation phase: frames_per_s = frames it published / its time;
 * delivered_per_s = intact frames the readers took in that phase, summed
 * over readers, / the time from its start to the last one taken); it waits
 * until every reader has caught up, then publishes one frame every 20 us
 * for half that again (the paced phase: the latency percentiles,
 * now - stamp as each reader takes a frame, in a log-linear histogram);
 * then it closes and the readers drain. Every frame is checked
 * (fanout.h); per reader, intact frames + lagged frames must equal the
 * frames published, klaw's gaps must be exactly the ones it announced, and
 * under BLOCK nothing may be lost; otherwise the case fails and klaw-bench
 * exits 1. lagged_frames sums what the readers lost (both phases).
 *
 * klaw (fanout_klaw.c) claims and views 128 frames at a time
 * (FANOUT_BATCH, about ZeroMQ's own batching) and checks them in place;
 * ZeroMQ (peer_zmq.c) has no batched send: its writer fills a zmq_msg_t in
 * place and stamps each message (ZeroMQ batches on its own inside its
 * pipes and I/O threads); its readers check each message in place. Each
 * file says how its side works and waits.
 *
 * How readers wait: when the writer and every reader have a CPU of their
 * own (N = 1 on two cores) they poll (klaw: klaw_bcast_try_view; ZeroMQ
 * over inproc://: zmq_msg_recv with ZMQ_DONTWAIT); otherwise they block
 * (klaw: klaw_bcast_view_batch, which spins briefly, then parks on a
 * futex, with a far deadline; ZeroMQ: blocking zmq_msg_recv). ZeroMQ over
 * ipc:// always blocks: its I/O threads need the CPUs a polling writer and
 * reader would take. The paced writer spins or sleeps to its schedule by
 * the same rule.
 *
 * Each case is measured --runs times, klaw and its peers alternating;
 * each row is the median. Besides the rows, the suite writes every median to a
 * CSV file and draws delivered frames/s against N as an SVG chart (--csv,
 * --svg; default bench-results/fanout.csv and .svg under the current
 * directory), and prints a progress line on stderr.
 * KLAW_BENCH_FANOUT_ONLY="thread 64B BLOCK N=2 klaw" (any part of such a
 * label) runs only the cases and implementations it names.
 *
 * Workers run under the runner (runner.h), which starts them as threads or
 * forked processes and lets them go together once all have attached.
 * Workers are pinned: the writer to the first CPU this process may use,
 * reader j to the (j+1)-th (modulo their number). On this project's 2
 * cores N > 1 oversubscribes them on purpose: the question is whether the
 * channel degrades gracefully there, not only how fast it is on idle cores.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "bench_util.h"
#include "fanout.h"
#include "peer_iceoryx.h"
#include "report.h"
#include "runner.h"

#define SUITE "fanout"

enum {
    RUN_TIMEOUT_S = 60,   /* a run that takes longer is a hang: killed        */
    STILL_NS = 20000000,  /* caught up: no reader moved for 20 ms             */
};
/* at least once: the stream keeps every frame, so the end waits longer */
#define PATIENT_NS UINT64_C(3000000000)

void fanout_set_err(char *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, FANOUT_ERR, fmt, ap);
    va_end(ap);
}

/* ---- the writer's schedule ------------------------------------------------------------ */

static void sleep_ns(long ns)
{
    struct timespec t = {0, ns};
    nanosleep(&t, NULL);
}

void fanout_wait_caught_up(fanout_run *run, uint64_t last)
{
    uint64_t prev = UINT64_MAX, still_since = bench_now_ns();
    for (;;) {
        bool all = true;
        uint64_t sum = 0;
        for (unsigned i = 0; i < run->k->readers; i++) {
            uint64_t s = atomic_load_explicit(&run->rd[i].seen, memory_order_relaxed);
            all &= s >= last;
            sum += s;
        }
        if (all)
            return;
        uint64_t now = bench_now_ns();
        if (sum != prev) {
            prev = sum;
            still_since = now;
        } else if (now - still_since > run->still_ns || now > run->deadline_ns) {
            return;
        }
        sleep_ns(100000);
    }
}

void fanout_pace_start(fanout_pacer *p, const fanout_run *run, bool spin)
{
    p->spin = spin;
    p->next_ns = bench_now_ns();
    p->every_ns = run->k->pace_ns ? run->k->pace_ns : FANOUT_PACE_NS;
    p->end_ns = p->next_ns + run->phase_ns / 2 * p->every_ns / FANOUT_PACE_NS; /* as many frames */
    p->sent = 0;
    if (!p->spin)
        prctl(PR_SET_TIMERSLACK, 1000UL, 0UL, 0UL, 0UL); /* this thread's sleeps: 1 us late at most */
}

bool fanout_pace(fanout_pacer *p)
{
    uint64_t now = bench_now_ns();
    if (p->sent >= FANOUT_MIN_PACED && now >= p->end_ns)
        return false;
    if (now < p->next_ns) {
        if (p->spin) {
            while ((now = bench_now_ns()) < p->next_ns)
                __builtin_ia32_pause();
        } else {
            struct timespec t = {(time_t)(p->next_ns / 1000000000u), (long)(p->next_ns % 1000000000u)};
            while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR) {
            }
            now = bench_now_ns();
        }
    }
    p->next_ns = now > p->next_ns + p->every_ns ? now + p->every_ns : p->next_ns + p->every_ns;
    p->sent++;
    return true;
}
/* ---- one run ------------------------------------------------------------------------------ */

/* One run's control block, in shared memory (runner.h). */
typedef struct run_ctl {
    const fanout_impl *impl;
    void *st;
    fanout_case k;
    void *ctx[1 + FANOUT_MAX_READERS]; /* each worker's, from attach (its own) */
    fanout_run run;
} run_ctl;

typedef fanout_result run_result;

/* Checks what the readers saw and computes the results. 0, or -1 with err. */
static int tally(const run_ctl *ctl, run_result *res, char *err)
{
    const fanout_run *run = &ctl->run;
    const fanout_case *k = &ctl->k;
    const uint64_t published = atomic_load(&run->wr.published);
    uint64_t delivered1 = 0, lagged = 0, dups = 0, late = 0, last1 = run->wr.start_ns;
    static fanout_hist lat;
    memset(&lat, 0, sizeof lat);

    if (run->wr.n1 == 0 || run->wr.end1_ns <= run->wr.start_ns) {
        fanout_set_err(err, "the writer published nothing");
        return -1;
    }
    for (unsigned i = 0; i < k->readers; i++) {
        const fanout_reader *r = &run->rd[i];
        if (r->bad) {
            fanout_set_err(err, "reader %u: %llu bad frames; the first: %s", i, (unsigned long long)r->bad, r->why);
            return -1;
        }
        /* frames after the last one taken: lost at the end (ZeroMQ); a klaw
         * reader drains the channel, so it must have taken the last one */
        uint64_t tail = published - r->last;
        if (r->last > published) {
            fanout_set_err(err, "reader %u took seq %llu of %llu published", i, (unsigned long long)r->last,
                           (unsigned long long)published);
            return -1;
        }
        if (r->exact_gaps && (tail != 0 || r->announced != 0)) {
            fanout_set_err(err,
                           "reader %u: ended at seq %llu of %llu with %llu frames announced lagged and never "
                           "accounted for",
                           i, (unsigned long long)r->last, (unsigned long long)published,
                           (unsigned long long)r->announced);
            return -1;
        }
        uint64_t lost = r->lagged + tail;
        if (r->delivered + lost != published) {
            fanout_set_err(err, "reader %u: %llu intact + %llu lagged != %llu published", i,
                           (unsigned long long)r->delivered, (unsigned long long)lost,
                           (unsigned long long)published);
            return -1;
        }
        if (k->policy == FANOUT_BLOCK && lost != 0) {
            fanout_set_err(err, "reader %u lost %llu of %llu frames under BLOCK", i, (unsigned long long)lost,
                           (unsigned long long)published);
            return -1;
        }
        delivered1 += r->delivered1;
        lagged += lost;
        dups += r->dups;
        late += r->late;
        if (r->last1_ns > last1)
            last1 = r->last1_ns;
        fanout_hist_merge(&lat, &r->lat);
    }
    res->frames_per_s = (double)run->wr.n1 * 1e9 / (double)(run->wr.end1_ns - run->wr.start_ns);
    res->delivered_per_s = last1 > run->wr.start_ns ? (double)delivered1 * 1e9 / (double)(last1 - run->wr.start_ns) : 0.0;
    res->lagged = (double)lagged;
    res->dups = (double)dups;
    res->late = (double)late;
    res->retries = (double)run->wr.retries;
    res->p50 = (double)fanout_hist_quantile(&lat, 0.50);
    res->p99 = (double)fanout_hist_quantile(&lat, 0.99);
    res->p999 = (double)fanout_hist_quantile(&lat, 0.999);
    res->max = (double)lat.max;
    if (lat.n == 0) {
        fanout_set_err(err, "no frame of the paced phase reached a reader");
        return -1;
    }
    return 0;
}

/* slot 0: the writer; slot 1 + j: reader j. The writer on the first CPU,
 * reader j on the (j+1)-th: the writer and the first reader never share a
 * core (unless there is one). Pinned after attach, and only the calling
 * thread: ZeroMQ's I/O threads, made at attach, float. */
static bool worker_attach(void *arg, unsigned slot)
{
    run_ctl *ctl = arg;
    bool writer = slot == 0;
    char *err = writer ? ctl->run.wr.err : ctl->run.rd[slot - 1].err;
    ctl->ctx[slot] = ctl->impl->attach(ctl->st, writer, writer ? 0 : slot - 1, err);
    bench_pin(slot);
    return ctl->ctx[slot] != NULL;
}

static void worker_attached(void *arg)
{
    run_ctl *ctl = arg;
    ctl->impl->attached(ctl->st);
}

static void worker_run(void *arg, unsigned slot, bool go)
{
    run_ctl *ctl = arg;
    fanout_run *run = &ctl->run;
    bool writer = slot == 0;
    void *w = ctl->ctx[slot];
    char *err = writer ? run->wr.err : run->rd[slot - 1].err;
    if (w && !go)
        ctl->impl->abandon(ctl->st, w, writer);
    if (writer) {
        run->wr.rc = w && go ? ctl->impl->write(ctl->st, w, run, err) : -1;
        run->wr.end_ns = bench_now_ns();
    } else {
        fanout_reader *rd = &run->rd[slot - 1];
        rd->rc = w && go ? ctl->impl->read(ctl->st, w, run, rd, err) : -1;
        rd->end_ns = bench_now_ns();
        atomic_fetch_add(&run->readers_done, 1);
    }
    if (ctl->k.process && ctl->impl->worker_end)
        ctl->impl->worker_end(ctl->st); /* does not return */
}

int fanout_run_once(const fanout_impl *impl, const fanout_case *k, uint64_t phase_ns, run_result *res, char *err)
{
    run_ctl *ctl = bench_shared_alloc(sizeof *ctl);
    char who[64];
    uint64_t go_ns;
    int rc = 0;

    err[0] = '\0';
    ctl->impl = impl;
    ctl->k = *k;
    ctl->run.k = &ctl->k;
    ctl->run.phase_ns = phase_ns;
    ctl->run.ncpus = bench_ncpus();
    ctl->run.spin = k->hosts == 0 && bench_ncpus() >= 1 + k->readers;
    ctl->run.still_ns = k->at_least_once ? PATIENT_NS : STILL_NS;
    ctl->run.deadline_ns = bench_now_ns() + (uint64_t)RUN_TIMEOUT_S * 1000000000u;
    for (unsigned i = 0; i < k->readers; i++)
        fanout_reader_init(&ctl->run.rd[i], k->frame_bytes, impl->exact_gaps, k->at_least_once);
    ctl->st = impl->setup(k, err);
    if (!ctl->st) {
        bench_shared_free(ctl);
        return -1;
    }
    snprintf(who, sizeof who, "%s: %s", SUITE, impl->name);
    const bench_workers w = {
        .who = who,
        .n = 1 + k->readers,
        .process = k->process,
        .run_timeout_s = RUN_TIMEOUT_S,
        .arg = ctl,
        .attach = worker_attach,
        .attached = worker_attached,
        .run = worker_run,
    };
    if (bench_workers_run(&w, &go_ns, err, FANOUT_ERR) != 0)
        rc = -1;
    impl->teardown(ctl->st);

    if (rc == 0 && ctl->run.wr.rc != 0) {
        fanout_set_err(err, "writer: %s", ctl->run.wr.err[0] ? ctl->run.wr.err : "failed");
        rc = -1;
    }
    for (unsigned i = 0; i < k->readers && rc == 0; i++) {
        if (ctl->run.rd[i].rc != 0) {
            fanout_set_err(err, "reader %u: %s", i, ctl->run.rd[i].err[0] ? ctl->run.rd[i].err : "failed");
            rc = -1;
        }
    }
    if (rc == 0 && tally(ctl, res, err) != 0)
        rc = -1;
    if (rc != 0 && !err[0]) {
        const char *e = ctl->run.wr.err;
        for (unsigned i = 0; i < k->readers && !e[0]; i++)
            e = ctl->run.rd[i].err;
        fanout_set_err(err, "a worker failed to start%s%s", e[0] ? ": " : "", e);
    }
    bench_shared_free(ctl);
    return rc;
}

/* ---- measuring ---------------------------------------------------------------------------- */

static const fanout_impl *const IMPLS[] = {&fanout_klaw, &fanout_peer_zmq, &fanout_peer_iceoryx};
enum { NIMPLS = sizeof IMPLS / sizeof IMPLS[0] };

static const uint32_t SIZES[] = {64, 4096};
static const uint32_t READERS[] = {1, 2, 4, 8};
enum { NSIZES = 2, NREADERS = 4, NPOLICIES = 2, NMODES = 2, NCASES = NMODES * NSIZES * NPOLICIES * NREADERS };

/* A case's medians, per implementation; for the CSV and the chart. */
typedef struct case_out {
    fanout_case k;
    struct {
        const char *skip; /* skipped: why (static)    */
        bool failed;
        char why[FANOUT_ERR];
        run_result med;
    } impl[NIMPLS];
} case_out;

static case_out results[NCASES];
static unsigned nresults;

static const char *policy_name(int p) { return p == FANOUT_BLOCK ? "block" : "overwrite"; }

static void make_key(bench_key *key, const fanout_case *k)
{
    memset(key, 0, sizeof *key);
    key->suite = SUITE;
    key->case_name = "1_to_n";
    bench_key_int(key, "frame_bytes", k->frame_bytes);
    bench_key_int(key, "readers", k->readers);
    bench_key_str(key, "policy", policy_name(k->policy));
    bench_key_str(key, "mode", k->process ? "process" : "thread");
}

static const struct {
    const char *metric, *unit;
    size_t off;
} METRICS[] = {
    {"frames_per_s", "frames/s", offsetof(run_result, frames_per_s)},
    {"delivered_per_s", "frames/s", offsetof(run_result, delivered_per_s)},
    {"lagged_frames", "frames", offsetof(run_result, lagged)},
    {"latency_p50_ns", "ns", offsetof(run_result, p50)},
    {"latency_p99_ns", "ns", offsetof(run_result, p99)},
    {"latency_p999_ns", "ns", offsetof(run_result, p999)},
    {"latency_max_ns", "ns", offsetof(run_result, max)},
};
enum { NMETRICS = sizeof METRICS / sizeof METRICS[0] };

static double *metric_of(run_result *r, unsigned m) { return (double *)((char *)r + METRICS[m].off); }

/* The progress line: on a terminal it rewrites itself, else one per step. */
static void progress(unsigned step, unsigned steps, const fanout_case *k, const char *impl, unsigned run,
                     unsigned runs)
{
    static int tty = -1;
    if (tty < 0)
        tty = isatty(2);
    fprintf(stderr, "%s[%u/%u] fanout %s N=%u %s %s %s run %u/%u ...%s", tty ? "\r" : "", step, steps,
            k->process ? "process" : "thread", k->readers, k->frame_bytes == 4096 ? "4KiB" : "64B",
            k->policy == FANOUT_BLOCK ? "BLOCK" : "OVERWRITE", impl, run, runs, tty ? "\033[K" : "\n");
}

/* The saturation phase: half klaw-bench's repetition time (0.1 s; the
 * paced phase half that again), so that the 64 cases x the default 5 runs
 * take about a minute on two cores. */
static uint64_t phase_ns(const bench_opts *o) { return o->rep_ns / 2; }

/* KLAW_BENCH_FANOUT_ONLY="process 64B BLOCK N=2 klaw" (any part of such a
 * label: "thread", "N=8 zeromq", ...) runs only what it names: for looking
 * at one case, or at klaw alone under a sanitizer. The rest is left out
 * (its rows say "skipped"). */
static bool selected(const fanout_case *k, const char *impl)
{
    const char *only = getenv("KLAW_BENCH_FANOUT_ONLY");
    char label[80];
    if (!only || !*only)
        return true;
    snprintf(label, sizeof label, "%s %s %s N=%u %s", k->process ? "process" : "thread",
             k->frame_bytes == 4096 ? "4KiB" : "64B", k->policy == FANOUT_BLOCK ? "BLOCK" : "OVERWRITE", k->readers,
             impl);
    return strstr(label, only) != NULL;
}

static void measure_case(const bench_opts *o, const fanout_case *k, unsigned *step, unsigned steps)
{
    static run_result rs[NIMPLS][BENCH_MAX_RUNS];
    const unsigned runs = o->runs < BENCH_MAX_RUNS ? o->runs : BENCH_MAX_RUNS;
    case_out *co = &results[nresults++];
    bench_key key;
    make_key(&key, k);
    memset(co, 0, sizeof *co);
    co->k = *k;

    for (unsigned i = 0; i < NIMPLS; i++) {
        /* the filter first: iceoryx's cannot() starts RouDi */
        if (!selected(k, IMPLS[i]->name))
            co->impl[i].skip = "left out by KLAW_BENCH_FANOUT_ONLY";
        else
            co->impl[i].skip = IMPLS[i]->cannot ? IMPLS[i]->cannot(k) : NULL;
    }
    /* interleaved: klaw, peers, klaw, peers, ... */
    for (unsigned r = 0; r < runs; r++) {
        for (unsigned i = 0; i < NIMPLS; i++) {
            if (co->impl[i].skip || co->impl[i].failed)
                continue;
            progress(*step + i + 1, steps, k, IMPLS[i]->name, r + 1, runs);
            if (fanout_run_once(IMPLS[i], k, phase_ns(o), &rs[i][r], co->impl[i].why) != 0)
                co->impl[i].failed = true;
        }
    }
    *step += NIMPLS;

    for (unsigned i = 0; i < NIMPLS; i++) {
        const char *name = IMPLS[i]->name;
        const char *why = co->impl[i].skip;
        char failed_why[FANOUT_ERR + 32];
        if (co->impl[i].failed) {
            fputs(isatty(2) ? "\n" : "", stderr);
            bench_fail(&key, "%s: %s", name, co->impl[i].why);
            snprintf(failed_why, sizeof failed_why, "failed its check: %s", co->impl[i].why);
            why = failed_why;
            if (IMPLS[i] == &fanout_klaw)
                continue; /* klaw is never "skipped": klaw-bench exits 1 */
        }
        for (unsigned m = 0; m < NMETRICS; m++) {
            if (why) {
                bench_emit_skipped(&key, name, METRICS[m].metric, METRICS[m].unit, why);
                continue;
            }
            double v[BENCH_MAX_RUNS];
            for (unsigned r = 0; r < runs; r++)
                v[r] = *metric_of(&rs[i][r], m);
            double med = bench_median(v, runs);
            *metric_of(&co->impl[i].med, m) = med;
            bench_emit(&key, name, METRICS[m].metric, METRICS[m].unit, med);
        }
    }
}

/* ---- CSV, chart and details ------------------------------------------------------------------ */

static const char *impl_state(const case_out *c, unsigned i)
{
    return c->impl[i].skip ? c->impl[i].skip : c->impl[i].failed ? "failed" : NULL;
}

/* Every median, exact (%.0f), one line per case and implementation; a
 * skipped or failed one has empty values and the reason. */
static int write_csv(const char *path)
{
    FILE *f = report_create(path);
    if (!f)
        return -1;
    fputs("mode,policy,frame_bytes,readers,impl", f);
    for (unsigned m = 0; m < NMETRICS; m++)
        fprintf(f, ",%s", METRICS[m].metric);
    fputs(",skipped\n", f);
    for (unsigned c = 0; c < nresults; c++) {
        case_out *co = &results[c];
        for (unsigned i = 0; i < NIMPLS; i++) {
            const char *st = impl_state(co, i);
            fprintf(f, "%s,%s,%u,%u,%s", co->k.process ? "process" : "thread", policy_name(co->k.policy),
                    co->k.frame_bytes, co->k.readers, IMPLS[i]->name);
            for (unsigned m = 0; m < NMETRICS; m++) {
                if (st)
                    fputs(",", f);
                else
                    fprintf(f, ",%.0f", *metric_of(&co->impl[i].med, m));
            }
            fputs(",", f);
            if (st)
                report_csv_text(f, st);
            fputc('\n', f);
        }
    }
    return fclose(f) == 0 ? 0 : -1;
}

/* Delivered frames/s against N: a panel per frame size and policy (2 x 2),
 * a line per implementation and mode (iceoryx: processes only),
 * log-scaled y shared by all panels. */
static int write_svg(const char *path, const bench_opts *o)
{
    static const char *const COLORS[NIMPLS][NMODES] = {
        {"#1f5fbf", "#6fa8ff"}, {"#c0392b", "#f0a08f"}, {"#2e8b3a", NULL}};
    static const char *const LABELS[NIMPLS][NMODES] = {
        {"klaw, processes (shared memory)", "klaw, threads"},
        {"ZeroMQ, processes (ipc://)", "ZeroMQ, threads (inproc://)"},
        {"iceoryx, processes (shared memory)", NULL},
    };
    static report_chart c;
    static char subtitle[200], tips[NIMPLS][NMODES][32];
    memset(&c, 0, sizeof c);
    snprintf(subtitle, sizeof subtitle,
             "median of %u runs of %.2f s + %.2f s paced; ring / HWM %d frames (iceoryx queue %u); log scale; "
             "higher is better",
             o->runs, (double)phase_ns(o) / 1e9, (double)phase_ns(o) / 2e9, FANOUT_RING_SLOTS,
             bench_iox_queue_capacity());
    c.title = "klaw-bench fanout: frames delivered/s (summed over readers), 1 writer to N readers";
    c.subtitle = subtitle;
    c.x_label = "readers (N)";
    c.x_name = "N";
    c.unit = "frames/s";
    c.nx = NREADERS;
    for (unsigned n = 0; n < NREADERS; n++)
        c.x[n] = READERS[n];
    c.cols = NPOLICIES;
    c.rows = NSIZES;
    c.legend_cols = NMODES;
    for (unsigned s = 0; s < NSIZES; s++) {
        for (unsigned p = 0; p < NPOLICIES; p++) {
            report_panel *pn = &c.panels[s * NPOLICIES + p];
            pn->title = SIZES[s] == 4096 ? (p ? "4 KiB frames, BLOCK" : "4 KiB frames, OVERWRITE")
                                         : (p ? "64 B frames, BLOCK" : "64 B frames, OVERWRITE");
            for (unsigned i = 0; i < NIMPLS; i++) {
                for (unsigned m = 0; m < NMODES; m++) {
                    if (!LABELS[i][m])
                        continue;
                    report_series *se = &pn->series[pn->nseries++];
                    snprintf(tips[i][m], sizeof tips[i][m], "%s %s", IMPLS[i]->name, m == 0 ? "process" : "thread");
                    se->label = LABELS[i][m];
                    se->tip = tips[i][m];
                    se->color = COLORS[i][m];
                    se->dashed = m == 1;
                    for (unsigned n = 0; n < NREADERS; n++) {
                        for (unsigned k = 0; k < nresults; k++) {
                            const case_out *co = &results[k];
                            if (co->k.frame_bytes == SIZES[s] && co->k.policy == (int)p && co->k.process == (m == 0) &&
                                co->k.readers == READERS[n] && !impl_state(co, i))
                                se->y[n] = co->impl[i].med.delivered_per_s;
                        }
                    }
                }
            }
        }
    }
    return report_svg_chart(path, &c);
}

/* A human table of what the main table (delivered_per_s) leaves out. */
static void print_details(void)
{
    char pub[REPORT_NUM], lag[REPORT_NUM], lat[4][REPORT_NUM];
    printf("suite fanout details: frames published/s, lagged frames (medians), paced-phase latency p50 / p99 / "
           "p99.9 / max\n\n");
    printf("%-8s %-9s %5s %2s  %-7s %11s %8s %9s %9s %9s %9s\n", "mode", "policy", "frame", "N", "impl",
           "published", "lagged", "p50", "p99", "p99.9", "max");
    for (unsigned c = 0; c < nresults; c++) {
        const case_out *co = &results[c];
        for (unsigned i = 0; i < NIMPLS; i++) {
            const char *st = impl_state(co, i);
            printf("%-8s %-9s %5s %2u  %-7s ", co->k.process ? "process" : "thread", policy_name(co->k.policy),
                   co->k.frame_bytes == 4096 ? "4KiB" : "64B", co->k.readers, IMPLS[i]->name);
            if (st) {
                printf("%s\n", co->impl[i].failed ? "failed" : "skipped");
                continue;
            }
            const run_result *r = &co->impl[i].med;
            printf("%11s %8s %9s %9s %9s %9s\n", report_rate(pub, sizeof pub, r->frames_per_s),
                   report_si(lag, sizeof lag, r->lagged), report_ns(lat[0], sizeof lat[0], r->p50),
                   report_ns(lat[1], sizeof lat[1], r->p99), report_ns(lat[2], sizeof lat[2], r->p999),
                   report_ns(lat[3], sizeof lat[3], r->max));
        }
    }
    printf("\n");
}

static void run_fanout(const bench_opts *o)
{
    const unsigned steps = NCASES * NIMPLS;
    unsigned step = 0;
    bench_runner_begin();
    nresults = 0;
    for (int process = 1; process >= 0; process--)
        for (unsigned s = 0; s < NSIZES; s++)
            for (int p = 0; p < NPOLICIES; p++)
                for (unsigned n = 0; n < NREADERS; n++) {
                    fanout_case k = {.frame_bytes = SIZES[s], .readers = READERS[n], .policy = p,
                                     .process = process != 0};
                    measure_case(o, &k, &step, steps);
                }
    fprintf(stderr, "%s[%u/%u] fanout done%s", isatty(2) ? "\r" : "", step, steps, isatty(2) ? "\033[K\n" : "\n");
    bench_iox_stop();
    bench_runner_end();

    const char *csv = o->csv_path ? o->csv_path : "bench-results/fanout.csv";
    const char *svg = o->svg_path ? o->svg_path : "bench-results/fanout.svg";
    if (write_csv(csv) != 0)
        fprintf(stderr, "klaw-bench: fanout: cannot write %s: %s\n", csv, strerror(errno));
    else
        fprintf(stderr, "klaw-bench: fanout: wrote %s\n", csv);
    if (write_svg(svg, o) != 0)
        fprintf(stderr, "klaw-bench: fanout: cannot write %s: %s\n", svg, strerror(errno));
    else
        fprintf(stderr, "klaw-bench: fanout: wrote %s\n", svg);
    if (!o->json)
        print_details();
}

const bench_suite bench_suite_fanout = {
    .name = "fanout",
    .summary = "broadcast: 1 writer -> 1/2/4/8 readers, 64 B and 4 KiB, OVERWRITE and BLOCK, threads and processes",
    .table_metric = "delivered_per_s",
    .lower_is_better = false,
    .peers = "zeromq (PUB/SUB, ipc:// between processes, inproc:// between threads), "
             "iceoryx (2.0 publish/subscribe, between processes; its own RouDi)",
    .rep_scale = 1,
    .run = run_fanout,
};
