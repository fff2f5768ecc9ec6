/* runner.c - the process/thread runner of klaw-bench's channel suites
 * (runner.h says how a run goes). */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "runner.h"

/* ---- memory shared with forked children -------------------------------------- */

typedef struct shared_hdr {
    size_t size;
    uint8_t pad_[64 - sizeof(size_t)];
} shared_hdr;

void *bench_shared_alloc(size_t size)
{
    size_t total = sizeof(shared_hdr) + size;
    void *m = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        fprintf(stderr, "klaw-bench: mmap of %zu bytes: %s\n", total, strerror(errno));
        exit(1);
    }
    ((shared_hdr *)m)->size = total;
    return (uint8_t *)m + sizeof(shared_hdr);
}

void bench_shared_free(void *p)
{
    if (!p)
        return;
    shared_hdr *h = (shared_hdr *)((uint8_t *)p - sizeof(shared_hdr));
    munmap(h, h->size);
}

/* ---- CPUs ----------------------------------------------------------------------- */

/* The CPUs this process may run on, in order; 0 if it cannot tell. */
static unsigned cpus[CPU_SETSIZE], ncpus;
static struct sigaction old_sigpipe;

void bench_runner_begin(void)
{
    cpu_set_t set;
    struct sigaction ign;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ign, &old_sigpipe);
    ncpus = 0;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return;
    for (unsigned c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &set))
            cpus[ncpus++] = c;
}

void bench_runner_end(void) { sigaction(SIGPIPE, &old_sigpipe, NULL); }

unsigned bench_ncpus(void) { return ncpus; }

void bench_pin(unsigned i)
{
    if (ncpus < 2)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpus[i % ncpus], &set);
    sched_setaffinity(0, sizeof set, &set); /* best effort */
}

/* ---- the run ---------------------------------------------------------------------- */

/* The runner's part of a run's control block, in shared memory. */
typedef struct run_ctl {
    _Alignas(64) _Atomic uint32_t ready; /* workers attached              */
    _Alignas(64) _Atomic uint32_t go;    /* 0 wait, 1 run, 2 give up       */
    const bench_workers *w;
    int attached[BENCH_MAX_WORKERS];
} run_ctl;

typedef struct thread_arg {
    run_ctl *ctl;
    unsigned slot;
} thread_arg;

static void set_err(char *err, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, size, fmt, ap);
    va_end(ap);
}

static void futex_wait(_Atomic uint32_t *a, uint32_t v, long timeout_ns)
{
    struct timespec t = {timeout_ns / 1000000000, timeout_ns % 1000000000};
    /* shared, not FUTEX_PRIVATE: the word is in a MAP_SHARED mapping that
     * forked children use */
    syscall(SYS_futex, a, FUTEX_WAIT, v, timeout_ns ? &t : NULL, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *a) { syscall(SYS_futex, a, FUTEX_WAKE, INT_MAX, NULL, NULL, 0); }

static void worker(run_ctl *ctl, unsigned slot)
{
    const bench_workers *w = ctl->w;
    ctl->attached[slot] = w->attach(w->arg, slot);
    atomic_fetch_add(&ctl->ready, 1);
    futex_wake(&ctl->ready);
    uint32_t go;
    while ((go = atomic_load(&ctl->go)) == 0)
        futex_wait(&ctl->go, 0, 0);
    w->run(w->arg, slot, go == 1);
}

static void *thread_main(void *p)
{
    thread_arg *a = p;
    worker(a->ctl, a->slot);
    return NULL;
}

static void on_alarm(int sig) { (void)sig; }

/* Waits for the children; kills them all if they take past timeout_s.
 * Returns 0, or -1 with err when one failed or was killed. */
static int reap_children(const pid_t *pids, unsigned n, int timeout_s, char *err, size_t errsz)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm; /* no SA_RESTART: waitpid returns EINTR */
    sigaction(SIGALRM, &sa, &old);
    alarm((unsigned)timeout_s);
    int rc = 0;
    bool killed = false;
    for (unsigned i = 0; i < n; i++) {
        int status;
        while (waitpid(pids[i], &status, 0) < 0) {
            if (errno != EINTR) {
                status = 0;
                break;
            }
            if (!killed) {
                for (unsigned j = 0; j < n; j++)
                    kill(pids[j], SIGKILL);
                killed = true;
                set_err(err, errsz, "workers did not finish in %d s: killed", timeout_s);
                rc = -1;
            }
        }
        if (!killed && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
            if (rc == 0)
                set_err(err, errsz, "a worker process %s %d", WIFSIGNALED(status) ? "died of signal" : "exited",
                        WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
            rc = -1;
        }
    }
    alarm(0);
    sigaction(SIGALRM, &old, NULL);
    return rc;
}

int bench_workers_run(const bench_workers *w, uint64_t *go_ns, char *err, size_t errsz)
{
    const unsigned nw = w->n < BENCH_MAX_WORKERS ? w->n : BENCH_MAX_WORKERS;
    run_ctl *ctl = bench_shared_alloc(sizeof *ctl);
    pid_t pids[BENCH_MAX_WORKERS];
    pthread_t threads[BENCH_MAX_WORKERS];
    thread_arg args[BENCH_MAX_WORKERS];
    unsigned started = 0;
    int rc = 0;

    err[0] = '\0';
    ctl->w = w;
    fflush(stdout);
    fflush(stderr);
    for (; started < nw; started++) {
        if (w->process) {
            pid_t pid = fork();
            if (pid == 0) {
                worker(ctl, started);
                _exit(0);
            }
            if (pid < 0) {
                set_err(err, errsz, "fork: %s", strerror(errno));
                break;
            }
            pids[started] = pid;
        } else {
            args[started] = (thread_arg){ctl, started};
            int e = pthread_create(&threads[started], NULL, thread_main, &args[started]);
            if (e != 0) {
                set_err(err, errsz, "pthread_create: %s", strerror(e));
                break;
            }
        }
    }

    /* wait until every started worker has attached */
    uint64_t until = bench_now_ns() + (uint64_t)BENCH_START_TIMEOUT_S * 1000000000u;
    for (;;) {
        uint32_t v = atomic_load(&ctl->ready);
        if (v >= started)
            break;
        if (bench_now_ns() > until) {
            set_err(err, errsz, "workers did not attach in %d s", BENCH_START_TIMEOUT_S);
            break;
        }
        futex_wait(&ctl->ready, v, 100000000);
    }
    bool all = started == w->n && atomic_load(&ctl->ready) == nw;
    for (unsigned i = 0; i < nw && all; i++)
        all = ctl->attached[i];
    w->attached(w->arg);
    *go_ns = bench_now_ns();
    atomic_store(&ctl->go, all ? 1 : 2);
    futex_wake(&ctl->go);

    if (w->process) {
        char werr[256];
        if (reap_children(pids, started, w->run_timeout_s, werr, sizeof werr) != 0) {
            if (!err[0])
                set_err(err, errsz, "%s", werr);
            rc = -1;
        }
    } else {
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_sec += w->run_timeout_s;
        for (unsigned i = 0; i < started; i++) {
            if (pthread_timedjoin_np(threads[i], NULL, &dl) != 0) {
                fprintf(stderr, "\nklaw-bench: %s: worker threads did not finish in %d s\n", w->who,
                        w->run_timeout_s);
                exit(1); /* threads cannot be killed; nothing sound is left to do */
            }
        }
    }
    if (!all)
        rc = -1;
    bench_shared_free(ctl);
    return rc;
}
