/*
 * peer_iceoryx.c - iceoryx 2.0 (its C binding) as the fanout and latency
 * suites' zero-copy peer, and the RouDi a klaw-bench run starts for it
 * (peer_iceoryx.h says how RouDi is started, stopped and cleaned up).
 *
 * Fanout (process mode only: each worker is a process with its own
 * runtime, as iceoryx is meant to be used). The writer process's
 * publisher loans a chunk (iox_pub_loan_chunk), writes the frame in it,
 * stamps it and publishes it (iox_pub_publish_chunk): zero copy, as klaw's
 * claim and commit; there is no batched loan or publish. Each reader
 * process's subscriber takes a chunk (iox_sub_take_chunk), checks the
 * frame in place and releases it (iox_sub_release_chunk). Policies:
 * OVERWRITE's counterpart is DISCARD_OLDEST_DATA on both sides (a full
 * subscriber queue drops its oldest chunk); BLOCK's is the subscriber's
 * BLOCK_PRODUCER with the publisher's WAIT_FOR_CONSUMER (publish waits
 * while any subscriber's queue is full). The subscriber queue holds 256
 * chunks, iceoryx 2.0's maximum (klaw's ring holds 1024 frames, ZeroMQ's
 * high-water marks are 1024). iceoryx does not say how many chunks a
 * subscriber lost, only whether it lost some, so a reader counts the gaps
 * in the sequence numbers as lagged, as ZeroMQ's readers do; under BLOCK
 * none may be lost. The C binding gives no chunk's payload size: a reader
 * checks the length the frame itself carries against the case's.
 *
 * RouDi makes the connections in its discovery loop (every 100 ms or so),
 * so before the clock starts each reader waits until its subscriber is
 * SUBSCRIBED and says so in its tally's probe word, and the writer waits
 * until every reader has. The end, as with ZeroMQ: the writer publishes its
 * final count in the run's control block; a reader stops at the last frame
 * or, under OVERWRITE, once the writer is done and nothing has come for
 * IDLE_END_NS (a full queue keeps the newest chunks, so the last frame
 * always comes; the idle end is a safety net). The writer keeps its
 * publisher until every reader has stopped.
 *
 * Waiting: with a CPU each (fanout_run.spin) readers poll take_chunk and
 * the paced writer spins; else a reader waits on a WaitSet attached to its
 * subscriber's HAS_DATA state (iceoryx's blocking wait: the publisher
 * notifies a condition variable in shared memory), 10 ms at a time.
 *
 * Latency (bench_iox_latency): the same ping-pong as suite_latency.c's
 * klaw rows, one publisher and one subscriber each way.
 *
 * Every process that registers a runtime ends with exit(0) (worker_exit),
 * whose destructors deregister it from RouDi; the runner's children would
 * otherwise _exit(0) (see peer_iceoryx.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "peer_iceoryx.h"
#include "runner.h"

#ifndef KLAW_BENCH_HAVE_ICEORYX

static const char *const NOT_BUILT =
    "klaw-bench was built without iceoryx's C binding (install libiceoryx-binding-c-dev and iceoryx)";

const char *bench_iox_start(void) { return NOT_BUILT; }
void bench_iox_stop(void) {}
unsigned bench_iox_queue_capacity(void) { return 0; }

static const char *iox_cannot(const fanout_case *k)
{
    (void)k;
    return NOT_BUILT;
}

const fanout_impl fanout_peer_iceoryx = {.name = "iceoryx", .cannot = iox_cannot};

int bench_iox_latency(bench_iox_wait w, bool process, uint64_t n, unsigned pause_us, fanout_hist *h, char *err,
                      size_t errsz)
{
    (void)w, (void)process, (void)n, (void)pause_us, (void)h;
    snprintf(err, errsz, "%s", NOT_BUILT);
    return -1;
}

#else

#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>

/* runtime.h declares iox_runtime_shutdown() without a prototype */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include <iceoryx_binding_c/config.h>
#include <iceoryx_binding_c/log.h>
#include <iceoryx_binding_c/publisher.h>
#include <iceoryx_binding_c/runtime.h>
#include <iceoryx_binding_c/subscriber.h>
#include <iceoryx_binding_c/wait_set.h>
#pragma GCC diagnostic pop

enum {
    QUEUE_CAPACITY = 256,   /* iceoryx 2.0's MAX_SUBSCRIBER_QUEUE_CAPACITY        */
    POOL_CHUNKS = 4096,     /* per mempool: 8 readers x 256 queued + held + loaned */
    READY_TIMEOUT_MS = 10000,
    STOP_TIMEOUT_MS = 5000,
    /* RouDi drops a process whose keep-alive messages stopped after 1.5 s
     * (iceoryx 2.0: 5 x 300 ms); stopping it before then would make it
     * signal, and fail on, the gone process */
    MONITOR_GRACE_MS = 3000,
    WAIT_MS = 10,           /* a blocked reader looks at the run's state this often */
};
#define IDLE_END_NS UINT64_C(200000000)
#define RUNTIME_PREFIX "kbiox-"

/* ---- RouDi ---------------------------------------------------------------------------------- */

/* RouDi's fixed names: removed after it stops only where they did not
 * exist before it started (the last one is the payload segment, named
 * after the writer group: this process's group). */
enum { NFIXED = 5 };

static struct {
    int state;     /* 0: not started; 1: running; -1: could not start (why) */
    pid_t pid;     /* RouDi's                                              */
    pid_t owner;   /* klaw-bench's: its workers' runtimes are named by it  */
    bool unclean;  /* a worker may have ended without deregistering        */
    bool ran;      /* RouDi got as far as running (its files are its own)  */
    bool had[NFIXED];
    char dir[64];  /* the private directory: config and log                */
    char why[320];
} roudi;

static void fixed_path(unsigned i, char *buf, size_t n)
{
    static const char *const FIXED[NFIXED - 1] = {"/tmp/roudi", "/tmp/roudi.lock", "/tmp/iox-unique-roudi.lock",
                                                  "/dev/shm/iceoryx_mgmt"};
    if (i < NFIXED - 1) {
        snprintf(buf, n, "%s", FIXED[i]);
        return;
    }
    struct group *g = getgrgid(getegid());
    if (g)
        snprintf(buf, n, "/dev/shm/%s", g->gr_name);
    else
        buf[0] = '\0';
}

static bool exists(const char *path)
{
    struct stat sb;
    return path[0] && lstat(path, &sb) == 0;
}

/* The program, from PATH or the usual places; NULL if none. */
static const char *find_roudi(char *buf, size_t n)
{
    const char *path = getenv("PATH");
    char dirs[1024];
    snprintf(dirs, sizeof dirs, "%s:/usr/bin:/usr/local/bin", path ? path : "");
    for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        snprintf(buf, n, "%s/iox-roudi", d);
        if (access(buf, X_OK) == 0)
            return buf;
    }
    return NULL;
}

/* Copies s into buf (n bytes), cut short if it must be. */
static void copy_text(char *buf, size_t n, const char *s)
{
    size_t l = strlen(s);
    if (l >= n)
        l = n - 1;
    memcpy(buf, s, l);
    buf[l] = '\0';
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0 && errno == EINTR) {
    }
}

/* The log's first line containing `what`, or NULL; into buf. */
static const char *log_line(const char *what, char *buf, size_t n)
{
    char path[96], line[512];
    snprintf(path, sizeof path, "%s/roudi.log", roudi.dir);
    FILE *f = fopen(path, "r");
    const char *found = NULL;
    if (!f)
        return NULL;
    while (!found && fgets(line, sizeof line, f)) {
        if (strstr(line, what)) {
            line[strcspn(line, "\n")] = '\0';
            copy_text(buf, n, line);
            found = buf;
        }
    }
    fclose(f);
    return found;
}

/* Removes what this run left: RouDi's names where they are new, the
 * runtimes' sockets and locks, the private directory. */
static void cleanup(void)
{
    char path[300];
    if (roudi.ran) {
        for (unsigned i = 0; i < NFIXED; i++) {
            fixed_path(i, path, sizeof path);
            if (!roudi.had[i] && exists(path))
                unlink(path);
        }
    }
    char prefix[48];
    int np = snprintf(prefix, sizeof prefix, RUNTIME_PREFIX "%d-", (int)roudi.owner);
    DIR *d = opendir("/tmp");
    if (d) {
        for (struct dirent *e; (e = readdir(d));) {
            if (strncmp(e->d_name, prefix, (size_t)np) == 0) {
                snprintf(path, sizeof path, "/tmp/%s", e->d_name);
                unlink(path);
            }
        }
        closedir(d);
    }
    if (roudi.dir[0]) {
        static const char *const FILES[] = {"roudi.toml", "roudi.log"};
        for (unsigned i = 0; i < 2; i++) {
            snprintf(path, sizeof path, "%s/%s", roudi.dir, FILES[i]);
            unlink(path);
        }
        rmdir(roudi.dir);
        roudi.dir[0] = '\0';
    }
}

/* Two mempools: the fanout frames (64 B and 4 KiB) and the latency
 * suite's (64 B). A chunk adds iceoryx's 40-byte header to the size. */
static int write_config(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f,
            "# klaw-bench's private RouDi config (iceoryx 2.0)\n"
            "[general]\nversion = 1\n\n[[segment]]\n\n"
            "[[segment.mempool]]\nsize = 128\ncount = %d\n\n"
            "[[segment.mempool]]\nsize = 4096\ncount = %d\n",
            POOL_CHUNKS, POOL_CHUNKS);
    return fclose(f) == 0 ? 0 : -1;
}

static const char *start_failed(const char *fmt, const char *detail)
{
    snprintf(roudi.why, sizeof roudi.why, fmt, detail);
    roudi.state = -1;
    return roudi.why;
}

const char *bench_iox_start(void)
{
    char prog[512], cfg[96], logp[96];
    if (roudi.state == 1)
        return NULL;
    if (roudi.state == -1)
        return roudi.why;
    roudi.owner = getpid();
    roudi.unclean = roudi.ran = false;
    if (!find_roudi(prog, sizeof prog))
        return start_failed("%s", "iox-roudi was not found (install Debian's iceoryx)");
    for (unsigned i = 0; i < NFIXED; i++) {
        char path[300];
        fixed_path(i, path, sizeof path);
        roudi.had[i] = exists(path);
    }
    snprintf(roudi.dir, sizeof roudi.dir, "/tmp/klaw-bench-iox-XXXXXX");
    if (!mkdtemp(roudi.dir)) {
        roudi.dir[0] = '\0';
        return start_failed("cannot make a directory for iox-roudi's config: %s", strerror(errno));
    }
    snprintf(cfg, sizeof cfg, "%s/roudi.toml", roudi.dir);
    snprintf(logp, sizeof logp, "%s/roudi.log", roudi.dir);
    if (write_config(cfg) != 0) {
        cleanup();
        return start_failed("cannot write iox-roudi's config: %s", strerror(errno));
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        cleanup();
        return start_failed("fork: %s", strerror(errno));
    }
    if (pid == 0) {
        /* RouDi: its output to the log; no core file when it aborts; it
         * ends when klaw-bench does, even if klaw-bench is killed */
        int fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0 || in < 0 || dup2(in, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
            _exit(126);
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != roudi.owner)
            _exit(125);
        execl(prog, prog, "-c", cfg, "-l", "warning", (char *)NULL);
        fprintf(stderr, "exec %s: %s\n", prog, strerror(errno));
        _exit(127);
    }
    roudi.pid = pid;
    char line[320];
    for (int ms = 0;; ms += 10) {
        int status;
        if (log_line("RouDi is ready for clients", line, sizeof line)) {
            roudi.state = 1;
            roudi.ran = true;
            return NULL;
        }
        if (waitpid(pid, &status, WNOHANG) == pid) {
            bool locked = log_line("Could not acquire lock", line, sizeof line) != NULL;
            const char *first = log_line("Fatal", line, sizeof line);
            if (!first)
                first = log_line("rror", line, sizeof line);
            roudi.ran = !locked; /* locked out: the fixed names are the other RouDi's */
            cleanup();
            if (locked)
                return start_failed("%s", "another iox-roudi is running on this machine (iceoryx 2.0 allows one; "
                                          "klaw-bench starts its own)");
            return start_failed("iox-roudi ended at its start: %s", first ? first : "(no message)");
        }
        if (ms >= READY_TIMEOUT_MS) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            roudi.ran = true;
            cleanup();
            return start_failed("%s", "iox-roudi did not say it was ready within 10 s");
        }
        sleep_ms(10);
    }
}

void bench_iox_stop(void)
{
    if (roudi.state == 1) {
        int status;
        if (roudi.unclean)
            sleep_ms(MONITOR_GRACE_MS);
        kill(roudi.pid, SIGTERM);
        int ms = 0;
        while (waitpid(roudi.pid, &status, WNOHANG) == 0) {
            if (ms >= STOP_TIMEOUT_MS) {
                kill(roudi.pid, SIGKILL);
                waitpid(roudi.pid, &status, 0);
                break;
            }
            sleep_ms(10);
            ms += 10;
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            /* the rows stand (every frame was checked); what it left is
             * removed below */
            char line[320];
            const char *first = log_line("rror", line, sizeof line);
            fprintf(stderr, "klaw-bench: iox-roudi did not end cleanly (%s %d)%s%s\n",
                    WIFSIGNALED(status) ? "signal" : "exit status",
                    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), first ? ": " : "",
                    first ? first : "");
        }
        cleanup();
    }
    roudi.state = 0;
    roudi.unclean = false;
}

unsigned bench_iox_queue_capacity(void)
{
    uint32_t max = iox_cfg_max_subscriber_queue_capacity();
    return max < QUEUE_CAPACITY ? max : QUEUE_CAPACITY;
}

/* ---- a worker process ---------------------------------------------------------------------- */

/* Registers the calling process with RouDi under a name of this run
 * (blocks until RouDi answers; iceoryx ends the process if it never does). */
static void worker_register(void)
{
    char name[64];
    iox_set_loglevel(Iceoryx_LogLevel_Error);
    snprintf(name, sizeof name, RUNTIME_PREFIX "%d-%d", (int)roudi.owner, (int)getpid());
    iox_runtime_init(name);
}

/* The last act of a process that registered: exit's destructors
 * deregister it from RouDi. Its stdio was flushed before it was forked,
 * so exit prints nothing twice. */
static void worker_exit(void) { exit(0); }

/* Waits until sub is SUBSCRIBED (RouDi connected it to the publisher), or
 * deadline_ns. 0, or -1. */
static int wait_subscribed(iox_sub_t sub, uint64_t deadline_ns)
{
    while (iox_sub_get_subscription_state(sub) != SubscribeState_SUBSCRIBED) {
        if (bench_now_ns() > deadline_ns)
            return -1;
        sleep_ms(1);
    }
    return 0;
}

/* Loans a chunk of `size` bytes, waiting while the pool or the publisher's
 * loans are exhausted, until deadline_ns. NULL with err. */
static void *loan(iox_pub_t pub, uint32_t size, uint64_t deadline_ns, char *err, size_t errsz)
{
    for (unsigned tries = 0;; tries++) {
        void *c;
        enum iox_AllocationResult r = iox_pub_loan_chunk(pub, &c, size);
        if (r == AllocationResult_SUCCESS)
            return c;
        if ((r != AllocationResult_RUNNING_OUT_OF_CHUNKS &&
             r != AllocationResult_TOO_MANY_CHUNKS_ALLOCATED_IN_PARALLEL) ||
            bench_now_ns() > deadline_ns) {
            snprintf(err, errsz, "iox_pub_loan_chunk: result %d", (int)r);
            return NULL;
        }
        if (tries > 100)
            sched_yield();
    }
}

/* ---- fanout ------------------------------------------------------------------------------ */

typedef struct iox_state {
    fanout_case k;
    char event[48];               /* this run's own service: no stale port matches */
    _Atomic uint32_t registered;  /* workers that registered a runtime           */
    _Atomic uint32_t leaving;     /* ... and reached worker_exit                  */
} iox_state;

/* A worker's own (process-local). */
typedef struct iox_worker {
    bool writer;
    iox_pub_storage_t pub_st;
    iox_sub_storage_t sub_st;
    iox_ws_storage_t ws_st;
    iox_pub_t pub;
    iox_sub_t sub;
    iox_ws_t ws; /* readers that block */
} iox_worker;

static const char *iox_cannot(const fanout_case *k)
{
    if (!k->process)
        return "iceoryx is measured between processes only (a runtime per process, as it is meant to be used)";
    return bench_iox_start();
}

static void *iox_setup(const fanout_case *k, char *err)
{
    static unsigned seq;
    (void)err;
    iox_state *st = bench_shared_alloc(sizeof *st);
    st->k = *k;
    snprintf(st->event, sizeof st->event, "fanout-%d-%u", (int)getpid(), seq++);
    return st;
}

static void *iox_attach(void *sv, bool writer, unsigned id, char *err)
{
    iox_state *st = sv;
    iox_worker *x = calloc(1, sizeof *x);
    (void)id;
    if (!x) {
        fanout_set_err(err, "out of memory");
        return NULL;
    }
    x->writer = writer;
    atomic_fetch_add(&st->registered, 1); /* before: it may die registering */
    worker_register();
    const bool block = st->k.policy == FANOUT_BLOCK;
    if (writer) {
        iox_pub_options_t o;
        iox_pub_options_init(&o);
        o.historyCapacity = 0;
        o.offerOnCreate = true;
        o.subscriberTooSlowPolicy =
            block ? ConsumerTooSlowPolicy_WAIT_FOR_CONSUMER : ConsumerTooSlowPolicy_DISCARD_OLDEST_DATA;
        x->pub = iox_pub_init(&x->pub_st, "klaw-bench", "fanout", st->event, &o);
    } else {
        iox_sub_options_t o;
        iox_sub_options_init(&o);
        o.queueCapacity = bench_iox_queue_capacity();
        o.historyRequest = 0;
        o.subscribeOnCreate = true;
        o.queueFullPolicy = block ? QueueFullPolicy_BLOCK_PRODUCER : QueueFullPolicy_DISCARD_OLDEST_DATA;
        x->sub = iox_sub_init(&x->sub_st, "klaw-bench", "fanout", st->event, &o);
    }
    return x;
}

static void iox_attached(void *sv) { (void)sv; }

static void worker_free(iox_worker *x)
{
    if (!x)
        return;
    if (x->ws) {
        iox_ws_detach_subscriber_state(x->ws, x->sub, SubscriberState_HAS_DATA);
        iox_ws_deinit(x->ws);
    }
    if (x->sub)
        iox_sub_deinit(x->sub);
    if (x->pub)
        iox_pub_deinit(x->pub);
    free(x);
}

/* Publishes frame seq (flags) in a loaned chunk, stamped just before the
 * publish. 0, or -1 with err. */
static int send_frame(iox_worker *x, const fanout_run *run, uint64_t seq, uint32_t flags, char *err)
{
    const uint32_t fb = run->k->frame_bytes;
    uint8_t *p = loan(x->pub, fb, run->deadline_ns, err, FANOUT_ERR);
    if (!p)
        return -1;
    fanout_fill(p, fb, seq, flags);
    fanout_stamp(p, bench_now_ns());
    iox_pub_publish_chunk(x->pub, p);
    return 0;
}

static int iox_write(void *sv, void *w, fanout_run *run, char *err)
{
    iox_worker *x = w;
    const unsigned n = run->k->readers;
    uint64_t seq = 1;
    int rc = 0;
    (void)sv;

    /* every reader connected (outside the clock) */
    for (;;) {
        unsigned behind = 0;
        for (unsigned i = 0; i < n; i++)
            behind += atomic_load(&run->rd[i].probe) < 1;
        if (behind == 0)
            break;
        if (bench_now_ns() > run->deadline_ns) {
            fanout_set_err(err, "%u readers never subscribed", behind);
            rc = -1;
            goto out;
        }
        sleep_ms(1);
    }

    uint64_t now = bench_now_ns();
    run->wr.start_ns = now;
    const uint64_t end = now + run->phase_ns;
    while (bench_now_ns() < end) {
        for (unsigned i = 0; i < FANOUT_BATCH; i++, seq++) {
            if (send_frame(x, run, seq, 0, err) != 0) {
                rc = -1;
                goto out;
            }
        }
    }
    run->wr.end1_ns = bench_now_ns();
    run->wr.n1 = seq - 1;
    atomic_store(&run->wr.published, seq - 1);
    fanout_wait_caught_up(run, seq - 1);

    fanout_pacer pacer;
    fanout_pace_start(&pacer, run, run->spin);
    for (; fanout_pace(&pacer); seq++) {
        if (send_frame(x, run, seq, FANOUT_F_PACED, err) != 0) {
            rc = -1;
            goto out;
        }
    }
out:
    atomic_store(&run->wr.published, seq - 1);
    atomic_store(&run->wr.done, 1);
    /* keep the publisher (and the chunks queued from it) until every
     * reader has stopped */
    while (atomic_load(&run->readers_done) < n && bench_now_ns() < run->deadline_ns)
        sleep_ms(1);
    worker_free(x);
    return rc;
}

static int iox_read(void *sv, void *w, fanout_run *run, fanout_reader *rd, char *err)
{
    iox_worker *x = w;
    const uint32_t fb = run->k->frame_bytes;
    uint64_t idle_since = 0;
    int rc = 0;
    (void)sv;

    if (wait_subscribed(x->sub, run->deadline_ns) != 0) {
        fanout_set_err(err, "never subscribed (state %d)", (int)iox_sub_get_subscription_state(x->sub));
        worker_free(x);
        return -1;
    }
    if (!run->spin) {
        x->ws = iox_ws_init(&x->ws_st);
        if (iox_ws_attach_subscriber_state(x->ws, x->sub, SubscriberState_HAS_DATA, 0, NULL) !=
            WaitSetResult_SUCCESS) {
            fanout_set_err(err, "iox_ws_attach_subscriber_state failed");
            worker_free(x);
            return -1;
        }
    }
    atomic_store(&rd->probe, 1); /* the writer may start */
    for (;;) {
        const void *c;
        enum iox_ChunkReceiveResult r = iox_sub_take_chunk(x->sub, &c);
        if (r == ChunkReceiveResult_SUCCESS) {
            fanout_take(rd, c, fb, bench_now_ns());
            iox_sub_release_chunk(x->sub, c);
            atomic_store_explicit(&rd->seen, rd->last, memory_order_relaxed);
            idle_since = 0;
            if (atomic_load_explicit(&run->wr.done, memory_order_acquire) &&
                rd->last == atomic_load_explicit(&run->wr.published, memory_order_relaxed))
                break;
            continue;
        }
        if (r != ChunkReceiveResult_NO_CHUNK_AVAILABLE) {
            fanout_set_err(err, "iox_sub_take_chunk: result %d", (int)r);
            rc = -1;
            break;
        }
        uint64_t now = bench_now_ns();
        /* pairs with the writer's store of done after published */
        if (atomic_load_explicit(&run->wr.done, memory_order_acquire)) {
            if (rd->last == atomic_load_explicit(&run->wr.published, memory_order_relaxed))
                break;
            if (!idle_since)
                idle_since = now;
            else if (run->k->policy == FANOUT_OVERWRITE && now - idle_since > IDLE_END_NS)
                break;
        }
        if (now > run->deadline_ns) {
            fanout_set_err(err, "no end after %llu frames", (unsigned long long)rd->last);
            rc = -1;
            break;
        }
        if (x->ws) {
            iox_notification_info_t info[1];
            uint64_t missed = 0;
            struct timespec t = {0, WAIT_MS * 1000000L};
            iox_ws_timed_wait(x->ws, t, info, 1, &missed);
        } else {
            __builtin_ia32_pause();
        }
    }
    worker_free(x);
    return rc;
}

static void iox_abandon(void *sv, void *w, bool writer)
{
    (void)sv;
    (void)writer;
    worker_free(w);
}

static void iox_worker_end(void *sv)
{
    iox_state *st = sv;
    atomic_fetch_add(&st->leaving, 1);
    worker_exit();
}

static void iox_teardown(void *sv)
{
    iox_state *st = sv;
    /* a worker that registered and never reached worker_exit (killed, or
     * ended by iceoryx) is still on RouDi's list for a while */
    if (atomic_load(&st->leaving) != atomic_load(&st->registered))
        roudi.unclean = true;
    bench_shared_free(st);
}

const fanout_impl fanout_peer_iceoryx = {
    .name = "iceoryx",
    .cannot = iox_cannot,
    .setup = iox_setup,
    .attach = iox_attach,
    .attached = iox_attached,
    .write = iox_write,
    .read = iox_read,
    .abandon = iox_abandon,
    .teardown = iox_teardown,
    .worker_end = iox_worker_end,
};

/* ---- latency ------------------------------------------------------------------------------ */

enum { LAT_PAYLOAD = 64 };
#define LAT_TIMEOUT_NS UINT64_C(60000000000)

/* What the pinger and the ponger share (MAP_SHARED). */
typedef struct lat_shared {
    _Alignas(64) _Atomic uint32_t subscribed; /* 2: both subscribers connected */
    _Atomic uint32_t leaving;
    _Atomic int failed;
    uint64_t deadline_ns;
    char err[160];
    char event[48];
    fanout_hist hist; /* the ponger's one-way latencies */
} lat_shared;

typedef struct lat_side {
    lat_shared *sh;
    bench_iox_wait w;
    bool pinger;
    uint64_t n;
    unsigned pause_us;
} lat_side;

static void lat_fail(lat_shared *sh, const char *what)
{
    int zero = 0;
    if (atomic_compare_exchange_strong(&sh->failed, &zero, 1))
        copy_text(sh->err, sizeof sh->err, what);
}

/* Takes one chunk, spinning or waiting on ws; NULL on failure (the other
 * side failed, or the deadline). */
static const void *lat_take(lat_side *s, iox_sub_t sub, iox_ws_t ws)
{
    for (unsigned i = 0;; i++) {
        const void *c;
        enum iox_ChunkReceiveResult r = iox_sub_take_chunk(sub, &c);
        if (r == ChunkReceiveResult_SUCCESS)
            return c;
        if (r != ChunkReceiveResult_NO_CHUNK_AVAILABLE) {
            lat_fail(s->sh, "iox_sub_take_chunk failed");
            return NULL;
        }
        if ((i & 1023) == 0 && (atomic_load_explicit(&s->sh->failed, memory_order_relaxed) ||
                                bench_now_ns() > s->sh->deadline_ns)) {
            lat_fail(s->sh, "no answer before the run's deadline");
            return NULL;
        }
        if (ws) {
            iox_notification_info_t info[1];
            uint64_t missed = 0;
            struct timespec t = {0, 100 * 1000000L};
            iox_ws_timed_wait(ws, t, info, 1, &missed);
        } else {
            __builtin_ia32_pause();
        }
    }
}

/* One side: its publisher and subscriber, then n round trips. */
static void *lat_run(void *p)
{
    bench_pin_self(((lat_side *)p)->pinger ? 0 : 1); /* the latency suite's two CPUs */
    lat_side *s = p;
    lat_shared *sh = s->sh;
    iox_pub_storage_t pub_st;
    iox_sub_storage_t sub_st;
    iox_ws_storage_t ws_st;
    iox_pub_options_t po;
    iox_sub_options_t so;
    iox_pub_options_init(&po);
    po.historyCapacity = 0;
    /* one frame in flight each way: neither policy ever acts; BLOCK's, as
     * the klaw rows' channels */
    po.subscriberTooSlowPolicy = ConsumerTooSlowPolicy_WAIT_FOR_CONSUMER;
    iox_sub_options_init(&so);
    so.queueCapacity = 4;
    so.queueFullPolicy = QueueFullPolicy_BLOCK_PRODUCER;
    iox_pub_t pub = iox_pub_init(&pub_st, "klaw-bench", sh->event, s->pinger ? "ping" : "pong", &po);
    iox_sub_t sub = iox_sub_init(&sub_st, "klaw-bench", sh->event, s->pinger ? "pong" : "ping", &so);
    iox_ws_t ws = NULL;
    if (s->w != BENCH_IOX_SPIN) {
        ws = iox_ws_init(&ws_st);
        if (iox_ws_attach_subscriber_state(ws, sub, SubscriberState_HAS_DATA, 0, NULL) != WaitSetResult_SUCCESS)
            lat_fail(sh, "iox_ws_attach_subscriber_state failed");
    }
    if (wait_subscribed(sub, sh->deadline_ns) != 0)
        lat_fail(sh, "a subscriber never connected");
    atomic_fetch_add(&sh->subscribed, 1);
    while (atomic_load(&sh->subscribed) < 2 && !atomic_load(&sh->failed)) {
        if (bench_now_ns() > sh->deadline_ns)
            lat_fail(sh, "a subscriber never connected");
        sleep_ms(1);
    }
    char err[FANOUT_ERR];
    for (uint64_t i = 0; i < s->n && !atomic_load_explicit(&sh->failed, memory_order_relaxed); i++) {
        if (s->pinger) {
            if (s->w == BENCH_IOX_PARKED) {
                struct timespec d = {0, (long)s->pause_us * 1000};
                nanosleep(&d, NULL);
            }
            uint8_t *f = loan(pub, LAT_PAYLOAD, sh->deadline_ns, err, sizeof err);
            if (!f) {
                lat_fail(sh, err);
                break;
            }
            uint64_t now = bench_now_ns();
            memset(f + 16, 0, LAT_PAYLOAD - 16);
            memcpy(f, &i, 8);
            memcpy(f + 8, &now, 8);
            iox_pub_publish_chunk(pub, f);
            const void *c = lat_take(s, sub, ws);
            if (!c)
                break;
            uint64_t seq;
            memcpy(&seq, c, 8);
            iox_sub_release_chunk(sub, c);
            if (seq != i) {
                lat_fail(sh, "an answer out of order");
                break;
            }
        } else {
            const void *c = lat_take(s, sub, ws);
            if (!c)
                break;
            uint64_t now = bench_now_ns(), seq, st;
            memcpy(&seq, c, 8);
            memcpy(&st, (const uint8_t *)c + 8, 8);
            iox_sub_release_chunk(sub, c);
            if (seq != i) {
                lat_fail(sh, "a frame out of order");
                break;
            }
            fanout_hist_add(&sh->hist, now > st ? now - st : 0);
            uint8_t *f = loan(pub, LAT_PAYLOAD, sh->deadline_ns, err, sizeof err);
            if (!f) {
                lat_fail(sh, err);
                break;
            }
            memset(f, 0, LAT_PAYLOAD);
            memcpy(f, &seq, 8);
            iox_pub_publish_chunk(pub, f);
        }
    }
    if (ws) {
        iox_ws_detach_subscriber_state(ws, sub, SubscriberState_HAS_DATA);
        iox_ws_deinit(ws);
    }
    /* the other side may still be taking this side's last chunk: keep the
     * publisher until both are done */
    atomic_fetch_add(&sh->leaving, 1);
    while (atomic_load(&sh->leaving) < 2 && bench_now_ns() < sh->deadline_ns)
        sleep_ms(1);
    iox_sub_deinit(sub);
    iox_pub_deinit(pub);
    return NULL;
}

/* A forked process: registers, runs its side(s), exits (deregistering). */
static void lat_process(lat_side *a, lat_side *b)
{
    worker_register();
    if (b) {
        pthread_t t;
        if (pthread_create(&t, NULL, lat_run, b) != 0) {
            lat_fail(a->sh, "pthread_create failed");
        } else {
            lat_run(a);
            pthread_join(t, NULL);
        }
    } else {
        lat_run(a);
    }
    worker_exit();
}

int bench_iox_latency(bench_iox_wait w, bool process, uint64_t n, unsigned pause_us, fanout_hist *h, char *err,
                      size_t errsz)
{
    static unsigned seq;
    const char *why = bench_iox_start();
    if (why) {
        snprintf(err, errsz, "%s", why);
        return -1;
    }
    lat_shared *sh = bench_shared_alloc(sizeof *sh);
    sh->deadline_ns = bench_now_ns() + LAT_TIMEOUT_NS;
    snprintf(sh->event, sizeof sh->event, "latency-%d-%u", (int)getpid(), seq++);
    lat_side ping = {.sh = sh, .w = w, .pinger = true, .n = n, .pause_us = pause_us};
    lat_side pong = {.sh = sh, .w = w, .pinger = false, .n = n, .pause_us = pause_us};
    pid_t pids[2];
    unsigned np = 0;
    int rc = 0;

    fflush(stdout); /* the children exit(): nothing buffered may be printed twice */
    fflush(stderr);
    for (unsigned i = 0; i < (process ? 2u : 1u); i++) {
        pid_t pid = fork();
        if (pid == 0) {
            if (process)
                lat_process(i == 0 ? &pong : &ping, NULL);
            else
                lat_process(&ping, &pong);
        }
        if (pid < 0) {
            snprintf(err, errsz, "fork: %s", strerror(errno));
            lat_fail(sh, "fork failed");
            rc = -1;
            break;
        }
        pids[np++] = pid;
    }
    for (unsigned i = 0; i < np; i++) {
        int status;
        for (;;) {
            pid_t r = waitpid(pids[i], &status, WNOHANG);
            if (r == pids[i])
                break;
            if (r < 0) {
                status = 0;
                break;
            }
            if (bench_now_ns() > sh->deadline_ns + UINT64_C(5000000000)) {
                for (unsigned j = 0; j < np; j++)
                    kill(pids[j], SIGKILL);
                waitpid(pids[i], &status, 0);
                lat_fail(sh, "the ping-pong hung: killed");
                break;
            }
            sleep_ms(1);
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            roudi.unclean = true;
            lat_fail(sh, WIFSIGNALED(status) ? "a process died of a signal" : "a process failed");
        }
    }
    if (atomic_load(&sh->failed)) {
        if (rc == 0)
            snprintf(err, errsz, "%s", sh->err);
        rc = -1;
    }
    *h = sh->hist;
    bench_shared_free(sh);
    return rc;
}

#endif /* KLAW_BENCH_HAVE_ICEORYX */
