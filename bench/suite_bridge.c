/*
 * suite_bridge.c - klaw-bench's bridge suite: klaw channels bridged over
 * NATS by libklaw-nats (klaw/nats.h) against raw nats.c, the same frames
 * on the same nats-server in the same run.
 *
 *   klaw_bridge: writer -> channel -> bridge out -> nats-server -> bridge in -> channel -> readers
 *   nats_c:      writer -> natsConnection_Publish -> nats-server -> subscription -> readers (core)
 *                writer -> js_PublishMsgAsync -> stream -> pull consumer -> readers (JetStream)
 *
 * Delivery (the rows' "delivery"): core NATS (at most once) and JetStream
 * (at least once; the bridges' KLAW_NATS_JETSTREAM against nats.c's async
 * JetStream publish and a durable pull consumer, on a stream of the run's
 * own, file storage, deleted after the run).
 *
 * Cases: 64 B and 4 KiB frames, each
 *  - 1_to_1: one writer, one reader on the other side
 *    (readers 1, hosts 1); core and JetStream;
 *  - fan_out_4x2: one writer, 4 "hosts" each with its bridged channel and 2
 *    readers on it (readers 8, hosts 4); core only. nats_c's fair
 *    equivalent: 4 connections (hosts) with 2 subscriptions each; the
 *    server then sends 8 copies where klaw's side gets 4 and fans out in
 *    shared memory.
 * All hosts are this machine, all workers threads of this process.
 *
 * A run is the fanout suite's (fanout_run_once; fanout.h says more): the
 * workers attach outside the clock; probes until every subscription has
 * reached the server (bridge.h); the saturation phase (0.1 s flat out:
 * frames_per_s = frames the writer published / its time; delivered_per_s
 * = frames the readers took intact in that phase, summed over readers, /
 * the time to the last one); probes again (the pipes drained); the paced
 * phase (a frame every 20 us for 0.05 s: latency p50 / p99 / p99.9 / max,
 * one-way, now - the CLOCK_MONOTONIC stamp the writer put in the payload,
 * in fanout_hist's histogram). Every frame is checked in order and intact;
 * lost_frames sums what the readers never got (core NATS drops past a
 * subscription's pending limit: counted, never a failure). A frame out of
 * order or torn fails the case: klaw-bench exits 1. JetStream must lose
 * nothing: its readers count frames that came twice (duplicate_frames) or
 * late (filling their gap), and its rows' lost_frames, duplicate_frames and
 * retried_publishes (the writer's publishes sent again: no ack in time, or
 * a failed one) are totals over the runs, not medians, so that one bad run
 * shows; a JetStream case with any frame lost or duplicated is reported
 * (the rows keep their values) and klaw-bench exits 1.
 *
 * Each case is measured --runs times, klaw_bridge and nats_c alternating;
 * each row is the median. The suite starts its own nats-server (from
 * /usr/sbin, /usr/bin or PATH) with JetStream (-js, its store in a
 * temporary directory removed at the end) on a free loopback port and
 * stops it by pid; without nats-server, or without nats.c at build time,
 * the rows say "skipped" and why.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "bench_util.h"
#include "bridge.h"
#include "fanout.h"
#include "report.h"
#include "runner.h"

#define SUITE "bridge"

enum { PROBE_EVERY_NS = 1000000, SERVER_START_MS = 10000 };

/* JetStream's paced phase: a frame every JS_PACE_NS (as many frames as
 * core's, one every 20 us). Both sides store every frame in a file and
 * have it acked, which on 2 shared cores can carry fewer than core's
 * 50,000 frames/s: at that pace the latency would be the time spent in a
 * growing queue, not the path's. */
enum { JS_PACE_NS = 500000 };

/* ---- the suite's nats-server ----------------------------------------------------- */

static struct {
    pid_t pid;
    int port;
    char dir[64];   /* mkdtemp: the config file and JetStream's store (-sd) */
    char conf[96];
    char url[64];
} server;

const char *bridge_server_url(void) { return server.url; }

void bridge_unique(char *buf, size_t size, const char *prefix)
{
    static unsigned n;
    snprintf(buf, size, "%s-%d-%u", prefix, (int)getpid(), n++);
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&t, NULL);
}

/* /usr/sbin/nats-server (Debian's), /usr/bin, then PATH; NULL if none. */
static const char *server_bin(char *buf, size_t size)
{
    static const char *const FIXED[] = {"/usr/sbin/nats-server", "/usr/bin/nats-server"};
    for (size_t i = 0; i < sizeof FIXED / sizeof FIXED[0]; i++)
        if (access(FIXED[i], X_OK) == 0)
            return FIXED[i];
    const char *path = getenv("PATH");
    while (path && *path) {
        size_t n = strcspn(path, ":");
        snprintf(buf, size, "%.*s/nats-server", (int)n, path);
        if (n && access(buf, X_OK) == 0)
            return buf;
        path += n + (path[n] == ':');
    }
    return NULL;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t n = sizeof a;
    int port = -1;
    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &n) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static bool port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

static int remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

static void server_stop(void)
{
    if (server.pid > 0) {
        kill(server.pid, SIGTERM);
        for (int i = 0; i < 200 && waitpid(server.pid, NULL, WNOHANG) == 0; i++)
            sleep_ms(10);
        if (kill(server.pid, 0) == 0) {
            kill(server.pid, SIGKILL);
            waitpid(server.pid, NULL, 0);
        }
        server.pid = 0;
    }
    /* the config file and what JetStream stored: the streams are deleted
     * after each run, the directory goes with the server */
    if (server.dir[0])
        nftw(server.dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    server.dir[0] = server.conf[0] = '\0';
}

/* Starts nats-server on a free loopback port. NULL, or why not: *missing
 * says whether it is not installed (skipped) or failed (a failure). */
static const char *server_start(bool *missing, char *why, size_t whysz)
{
    char buf[4096];
    const char *bin = server_bin(buf, sizeof buf);
    *missing = bin == NULL;
    if (!bin)
        return "nats-server is not installed (apt-get install nats-server; scripts/setup.sh lists it)";
    server.port = free_port();
    if (server.port < 0) {
        snprintf(why, whysz, "no free loopback port: %s", strerror(errno));
        return why;
    }
    snprintf(server.dir, sizeof server.dir, "/tmp/klaw-bench-nats-XXXXXX");
    if (!mkdtemp(server.dir)) {
        snprintf(why, whysz, "mkdtemp %s: %s", server.dir, strerror(errno));
        server.dir[0] = '\0';
        return why;
    }
    snprintf(server.conf, sizeof server.conf, "%s/nats.conf", server.dir);
    snprintf(server.url, sizeof server.url, "nats://127.0.0.1:%d", server.port);
    FILE *f = fopen(server.conf, "w");
    if (!f) {
        snprintf(why, whysz, "%s: %s", server.conf, strerror(errno));
        server_stop();
        return why;
    }
    fprintf(f, "listen: 127.0.0.1:%d\n", server.port);
    fclose(f);
    fflush(NULL);
    server.pid = fork();
    if (server.pid < 0) {
        snprintf(why, whysz, "fork: %s", strerror(errno));
        server_stop();
        return why;
    }
    if (server.pid == 0) {
        freopen("/dev/null", "w", stdout);
        freopen("/dev/null", "w", stderr);
        /* JetStream on, its store in our directory */
        execl(bin, bin, "-c", server.conf, "-js", "-sd", server.dir, (char *)NULL);
        _exit(127);
    }
    for (long waited = 0; !port_open(server.port); waited += 20) {
        if (waitpid(server.pid, NULL, WNOHANG) == server.pid || waited > SERVER_START_MS) {
            snprintf(why, whysz, "%.200s -c %s -js -sd %s did not start listening on 127.0.0.1:%d", bin,
                     server.conf, server.dir, server.port);
            if (waited <= SERVER_START_MS)
                server.pid = 0; /* reaped */
            server_stop();
            return why;
        }
        sleep_ms(20);
    }
    return NULL;
}

/* ---- probes ------------------------------------------------------------------------ */

int bridge_probe_round(fanout_run *run, uint64_t round, bridge_probe_fn send, void *w, char *err)
{
    for (;;) {
        unsigned behind = 0;
        for (unsigned i = 0; i < run->k->readers; i++)
            behind += atomic_load(&run->rd[i].probe) < round;
        if (behind == 0)
            return 0;
        if (bench_now_ns() > run->deadline_ns) {
            fanout_set_err(err, "%u readers never took a probe of round %llu", behind, (unsigned long long)round);
            return -1;
        }
        send(w, round);
        struct timespec t = {0, PROBE_EVERY_NS};
        nanosleep(&t, NULL);
    }
}

/* ---- measuring ---------------------------------------------------------------------- */

static const fanout_impl *const IMPLS[] = {&bridge_klaw, &bridge_peer_natsc};
enum { NIMPLS = sizeof IMPLS / sizeof IMPLS[0] };

typedef struct bridge_case {
    const char *name;
    bool jetstream;
    uint32_t frame_bytes, readers, hosts;
} bridge_case;

static const bridge_case CASES[] = {
    {"1_to_1", false, 64, 1, 1},
    {"1_to_1", false, 4096, 1, 1},
    {"fan_out_4x2", false, 64, 8, 4},
    {"fan_out_4x2", false, 4096, 8, 4},
    {"1_to_1", true, 64, 1, 1},
    {"1_to_1", true, 4096, 1, 1},
};
enum { NCASES = sizeof CASES / sizeof CASES[0] };

static const char *delivery_name(const bridge_case *c) { return c->jetstream ? "jetstream" : "core"; }

/* js: JetStream rows only; total: JetStream's value is the sum over the
 * runs (a frame lost in one run must show), core's the median. */
static const struct {
    const char *metric, *unit;
    size_t off;
    bool js, total;
} METRICS[] = {
    {"frames_per_s", "frames/s", offsetof(fanout_result, frames_per_s), false, false},
    {"delivered_per_s", "frames/s", offsetof(fanout_result, delivered_per_s), false, false},
    {"lost_frames", "frames", offsetof(fanout_result, lagged), false, true},
    {"duplicate_frames", "frames", offsetof(fanout_result, dups), true, true},
    {"retried_publishes", "frames", offsetof(fanout_result, retries), true, true},
    {"latency_p50_ns", "ns", offsetof(fanout_result, p50), false, false},
    {"latency_p99_ns", "ns", offsetof(fanout_result, p99), false, false},
    {"latency_p999_ns", "ns", offsetof(fanout_result, p999), false, false},
    {"latency_max_ns", "ns", offsetof(fanout_result, max), false, false},
};
enum { NMETRICS = sizeof METRICS / sizeof METRICS[0] };

static double *metric_of(fanout_result *r, unsigned m) { return (double *)((char *)r + METRICS[m].off); }

static bool metric_in(unsigned m, const bridge_case *c) { return !METRICS[m].js || c->jetstream; }

/* A case's medians (JetStream's counts: totals), per implementation, for
 * the details table. */
static struct {
    const char *state[NIMPLS]; /* NULL: measured; else "skipped" or "failed" */
    bool js_failed[NIMPLS];    /* JetStream: lost or duplicated a frame      */
    fanout_result med[NIMPLS];
    double late[NIMPLS];       /* JetStream: frames that came late, total    */
} results[NCASES];

static void make_key(bench_key *key, const bridge_case *c)
{
    memset(key, 0, sizeof *key);
    key->suite = SUITE;
    key->case_name = c->name;
    bench_key_str(key, "delivery", delivery_name(c));
    bench_key_int(key, "frame_bytes", c->frame_bytes);
    bench_key_int(key, "readers", c->readers);
    bench_key_int(key, "hosts", c->hosts);
}

static void progress(unsigned step, unsigned steps, const bridge_case *c, const char *impl, unsigned run,
                     unsigned runs)
{
    static int tty = -1;
    if (tty < 0)
        tty = isatty(2);
    fprintf(stderr, "%s[%u/%u] bridge %s %s %s N=%u %s run %u/%u ...%s", tty ? "\r" : "", step, steps, c->name,
            delivery_name(c), c->frame_bytes == 4096 ? "4KiB" : "64B", c->readers, impl, run, runs,
            tty ? "\033[K" : "\n");
}

static void emit_skipped(const bench_key *key, const bridge_case *c, const char *impl, const char *why)
{
    for (unsigned m = 0; m < NMETRICS; m++)
        if (metric_in(m, c))
            bench_emit_skipped(key, impl, METRICS[m].metric, METRICS[m].unit, why);
}

static void measure_case(const bench_opts *o, unsigned ci, const char *no_server, unsigned *step, unsigned steps)
{
    static fanout_result rs[NIMPLS][BENCH_MAX_RUNS];
    static char why[NIMPLS][FANOUT_ERR];
    const bridge_case *c = &CASES[ci];
    const unsigned runs = o->runs < BENCH_MAX_RUNS ? o->runs : BENCH_MAX_RUNS;
    const fanout_case k = {.frame_bytes = c->frame_bytes, .readers = c->readers, .hosts = c->hosts,
                           /* core NATS may drop: counted, not a failure of
                            * the run; JetStream's loss is judged below */
                           .policy = FANOUT_OVERWRITE, .process = false, .at_least_once = c->jetstream,
                           .pace_ns = c->jetstream ? JS_PACE_NS : 0};
    const char *skip[NIMPLS];
    bool failed[NIMPLS] = {false};
    bench_key key;
    make_key(&key, c);

    for (unsigned i = 0; i < NIMPLS; i++) {
        skip[i] = IMPLS[i]->cannot ? IMPLS[i]->cannot(&k) : NULL;
        if (!skip[i])
            skip[i] = no_server;
    }
    for (unsigned r = 0; r < runs; r++) {
        for (unsigned i = 0; i < NIMPLS; i++) {
            if (skip[i] || failed[i])
                continue;
            progress(*step + i + 1, steps, c, IMPLS[i]->name, r + 1, runs);
            if (fanout_run_once(IMPLS[i], &k, o->rep_ns / 2, &rs[i][r], why[i]) != 0)
                failed[i] = true;
        }
    }
    *step += NIMPLS;

    for (unsigned i = 0; i < NIMPLS; i++) {
        results[ci].state[i] = skip[i] ? "skipped" : failed[i] ? "failed" : NULL;
        if (skip[i]) {
            emit_skipped(&key, c, IMPLS[i]->name, skip[i]);
            continue;
        }
        if (failed[i]) {
            char failed_why[2 * FANOUT_ERR + 32];
            fputs(isatty(2) ? "\n" : "", stderr);
            bench_fail(&key, "%s: %s", IMPLS[i]->name, why[i]);
            snprintf(failed_why, sizeof failed_why, "failed its check: %s", why[i]);
            emit_skipped(&key, c, IMPLS[i]->name, failed_why);
            continue;
        }
        for (unsigned m = 0; m < NMETRICS; m++) {
            double v[BENCH_MAX_RUNS], x = 0;
            for (unsigned r = 0; r < runs; r++) {
                v[r] = *metric_of(&rs[i][r], m);
                x += v[r];
            }
            if (!(c->jetstream && METRICS[m].total))
                x = bench_median(v, runs);
            *metric_of(&results[ci].med[i], m) = x;
            if (metric_in(m, c))
                bench_emit(&key, IMPLS[i]->name, METRICS[m].metric, METRICS[m].unit, x);
        }
        results[ci].late[i] = 0;
        for (unsigned r = 0; r < runs; r++)
            results[ci].late[i] += rs[i][r].late;
        /* JetStream loses nothing: a case that did fails, its rows kept */
        const fanout_result *t = &results[ci].med[i];
        results[ci].js_failed[i] = c->jetstream && (t->lagged > 0 || t->dups > 0);
        if (results[ci].js_failed[i]) {
            fputs(isatty(2) ? "\n" : "", stderr);
            bench_fail(&key, "%s: JetStream lost %.0f and duplicated %.0f frames in %u runs", IMPLS[i]->name,
                       t->lagged, t->dups, runs);
        }
    }
}

/* A human table of what the main table (delivered_per_s) leaves out, and
 * the bridge's cost against the targets: delivered ratio, added
 * p50. */
static void print_details(void)
{
    char pub[REPORT_NUM], lost[REPORT_NUM], dup[REPORT_NUM], retr[REPORT_NUM], lat[4][REPORT_NUM],
        add[REPORT_NUM];
    printf("suite bridge details: frames published/s, lost frames (core: medians; JetStream: totals over the runs, "
           "with duplicated frames and retried publishes), paced-phase one-way latency p50 / p99 / p99.9 / max; "
           "added p50 = klaw_bridge p50 - nats_c p50\n\n");
    printf("%-12s %-9s %5s %2s  %-11s %11s %7s %7s %7s %9s %9s %9s %9s %10s\n", "case", "delivery", "frame", "N",
           "impl", "published", "lost", "dup", "retried", "p50", "p99", "p99.9", "max", "added p50");
    for (unsigned c = 0; c < NCASES; c++) {
        const bool js = CASES[c].jetstream;
        for (unsigned i = 0; i < NIMPLS; i++) {
            printf("%-12s %-9s %5s %2u  %-11s ", CASES[c].name, delivery_name(&CASES[c]),
                   CASES[c].frame_bytes == 4096 ? "4KiB" : "64B", CASES[c].readers, IMPLS[i]->name);
            if (results[c].state[i]) {
                printf("%s\n", results[c].state[i]);
                continue;
            }
            const fanout_result *r = &results[c].med[i];
            snprintf(add, sizeof add, "-");
            if (i == 0 && !results[c].state[1]) {
                double d = r->p50 - results[c].med[1].p50;
                report_ns(add, sizeof add, d);
            }
            printf("%11s %7s %7s %7s %9s %9s %9s %9s %10s%s\n", report_rate(pub, sizeof pub, r->frames_per_s),
                   report_si(lost, sizeof lost, r->lagged), js ? report_si(dup, sizeof dup, r->dups) : "-",
                   js ? report_si(retr, sizeof retr, r->retries) : "-", report_ns(lat[0], sizeof lat[0], r->p50),
                   report_ns(lat[1], sizeof lat[1], r->p99), report_ns(lat[2], sizeof lat[2], r->p999),
                   report_ns(lat[3], sizeof lat[3], r->max), add,
                   results[c].js_failed[i] ? "  FAILED: JetStream lost or duplicated frames" : "");
            if (js && results[c].late[i] > 0)
                printf("%-44s (%.0f frames came after a later one: not lost)\n", "", results[c].late[i]);
        }
    }
    printf("\n");
}

static void run_bridge(const bench_opts *o)
{
    const unsigned steps = NCASES * NIMPLS;
    unsigned step = 0;
    char why[512];
    bool missing = false;
    const char *no_server = NULL;

    /* nothing to start when neither side can run */
    bool any = false;
    for (unsigned i = 0; i < NIMPLS; i++)
        any |= IMPLS[i]->cannot == NULL || IMPLS[i]->setup != NULL;
    if (any) {
        no_server = server_start(&missing, why, sizeof why);
        if (no_server && !missing) {
            bench_key key = {.suite = SUITE, .case_name = "server"};
            bench_fail(&key, "%s", no_server);
        }
    }
    bench_runner_begin();
    memset(results, 0, sizeof results);
    for (unsigned c = 0; c < NCASES; c++)
        measure_case(o, c, no_server, &step, steps);
    fprintf(stderr, "%s[%u/%u] bridge done%s", isatty(2) ? "\r" : "", step, steps, isatty(2) ? "\033[K\n" : "\n");
    bench_runner_end();
    server_stop();
    if (!o->json)
        print_details();
}

const bench_suite bench_suite_bridge = {
    .name = "bridge",
    .summary = "NATS bridge, core and JetStream delivery: channel -> bridge -> nats-server -> bridge -> channel, "
               "64 B and 4 KiB, 1 reader (core, JetStream) and 4 hosts x 2 readers (core)",
    .table_metric = "delivered_per_s",
    .lower_is_better = false,
    .peers = "nats_c (raw nats.c: publisher -> subscribers; JetStream async publish -> pull consumers; same server)",
    .rep_scale = 1,
    .run = run_bridge,
    .klaw_impl = "klaw_bridge",
};
