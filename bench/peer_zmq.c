/*
 * peer_zmq.c - the fanout suite's peer: ZeroMQ PUB/SUB (libzmq).
 *
 * Between processes the writer's PUB socket binds ipc:///tmp/klaw-bench-*
 * and each reader's SUB connects to it, every process with its own
 * context (one I/O thread each, made before the worker pins itself, so it
 * floats); between threads they share one context and talk over
 * inproc://. SNDHWM and RCVHWM are FANOUT_RING_SLOTS, klaw's ring capacity.
 *
 * OVERWRITE's counterpart is a plain PUB: when a subscriber's pipe is at
 * its high-water mark the PUB drops that subscriber's copy. Drops are not
 * announced; a reader sees them as gaps in the sequence numbers (and at
 * the end, as frames it never got) and counts them as lagged. BLOCK's
 * counterpart is a PUB with ZMQ_XPUB_NODROP: zmq_send waits (or says
 * EAGAIN, and the writer retries) while any subscriber's pipe is full, so
 * nothing may be lost.
 *
 * Readers wait as klaw's do (fanout_run.spin): with a CPU each they poll
 * (zmq_msg_recv with ZMQ_DONTWAIT), else they block in zmq_msg_recv; the
 * paced writer likewise spins or sleeps. Over ipc:// every process also
 * has ZeroMQ's I/O thread, which moves the bytes: there the workers never
 * poll (on two cores a polling writer and reader would leave the I/O
 * threads no CPU and turn microseconds into milliseconds).
 *
 * The writer fills each message in place (zmq_msg_init_size, then the
 * frame, then the stamp, then zmq_msg_send: no extra copy); a reader takes
 * each with zmq_msg_recv and checks it in the message.
 *
 * Probes: a PUB sends nothing to a subscriber whose subscription it has
 * not yet seen, so before the clock starts the writer sends probes (seq
 * 0, round 1) every millisecond until every reader has taken one. After
 * the saturation phase it does the same with round 2: a reader that took
 * a probe of round 2 has taken, or lost, everything sent before it (a pipe
 * is FIFO), so the paced phase starts on drained pipes; waiting for the
 * readers' sequence numbers alone is not enough when the last frames were
 * dropped. Readers count probes in no tally.
 *
 * The end: ZeroMQ has no close that a subscriber sees, so the writer
 * publishes its final count in the run's control block (fanout_writer:
 * published, then done); a reader stops when it has taken the last frame,
 * or, under OVERWRITE, when the writer is done and nothing has come for
 * IDLE_END_NS (frames dropped at the end; under BLOCK nothing can be, and
 * a reader waits for the last frame until the run's deadline). The writer
 * keeps its socket open until every reader has stopped.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "fanout.h"
#include "runner.h"

#ifndef KLAW_BENCH_HAVE_ZMQ

static const char *zmq_cannot(const fanout_case *k)
{
    (void)k;
    return "libzmq was not found when klaw-bench was built (install libzmq3-dev)";
}

const fanout_impl fanout_peer_zmq = {.name = "zeromq", .cannot = zmq_cannot};

#else

#include <zmq.h>

enum {
    RCV_TIMEOUT_MS = 10,
    PROBE_EVERY_NS = 1000000,
};
#define IDLE_END_NS UINT64_C(200000000)

typedef struct zmq_state {
    fanout_case k;
    char endpoint[96];
    void *ctx; /* threads: the shared context (inproc needs one) */
} zmq_state;

/* A worker's own: its context (processes) and socket. Process-local. */
typedef struct zmq_worker {
    void *ctx;
    bool own_ctx;
    void *sock;
} zmq_worker;

static const char *zmq_cannot(const fanout_case *k)
{
    (void)k;
    return NULL;
}

static void *zmq_setup(const fanout_case *k, char *err)
{
    static unsigned seq;
    zmq_state *st = bench_shared_alloc(sizeof *st);
    st->k = *k;
    if (k->process) {
        snprintf(st->endpoint, sizeof st->endpoint, "ipc:///tmp/klaw-bench-fanout-%d-%u", (int)getpid(), seq++);
    } else {
        snprintf(st->endpoint, sizeof st->endpoint, "inproc://klaw-bench-fanout-%u", seq++);
        st->ctx = zmq_ctx_new();
        if (!st->ctx) {
            fanout_set_err(err, "zmq_ctx_new: %s", zmq_strerror(zmq_errno()));
            bench_shared_free(st);
            return NULL;
        }
    }
    return st;
}

/* Whether readers poll and the paced writer spins (see above). */
static bool zmq_spin(const fanout_run *run) { return run->spin && !run->k->process; }

static int set_int(void *sock, int opt, int v) { return zmq_setsockopt(sock, opt, &v, sizeof v); }

static void worker_free(zmq_worker *z)
{
    if (!z)
        return;
    if (z->sock)
        zmq_close(z->sock);
    if (z->own_ctx && z->ctx)
        zmq_ctx_term(z->ctx);
    free(z);
}

static void *zmq_attach(void *sv, bool writer, unsigned id, char *err)
{
    zmq_state *st = sv;
    zmq_worker *z = calloc(1, sizeof *z);
    const char *what = "calloc";
    (void)id;
    if (!z) {
        fanout_set_err(err, "out of memory");
        return NULL;
    }
    if (st->k.process) {
        what = "zmq_ctx_new";
        z->ctx = zmq_ctx_new();
        z->own_ctx = true;
        if (!z->ctx)
            goto fail;
    } else {
        z->ctx = st->ctx;
    }
    what = "zmq_socket";
    z->sock = zmq_socket(z->ctx, writer ? ZMQ_PUB : ZMQ_SUB);
    if (!z->sock)
        goto fail;
    what = "zmq_setsockopt";
    if (set_int(z->sock, ZMQ_LINGER, 0) != 0)
        goto fail;
    if (writer) {
        if (set_int(z->sock, ZMQ_SNDHWM, FANOUT_RING_SLOTS) != 0 || set_int(z->sock, ZMQ_SNDTIMEO, 100) != 0)
            goto fail;
        if (st->k.policy == FANOUT_BLOCK && set_int(z->sock, ZMQ_XPUB_NODROP, 1) != 0)
            goto fail;
        what = "zmq_bind";
        if (zmq_bind(z->sock, st->endpoint) != 0)
            goto fail;
    } else {
        /* reconnect soon when the PUB has not bound yet (the default is
         * 100 ms; this is setup time, outside the clock, but it adds up) */
        if (set_int(z->sock, ZMQ_RCVHWM, FANOUT_RING_SLOTS) != 0 || set_int(z->sock, ZMQ_RECONNECT_IVL, 2) != 0 ||
            set_int(z->sock, ZMQ_RCVTIMEO, RCV_TIMEOUT_MS) != 0 || zmq_setsockopt(z->sock, ZMQ_SUBSCRIBE, "", 0) != 0)
            goto fail;
        what = "zmq_connect";
        if (zmq_connect(z->sock, st->endpoint) != 0)
            goto fail;
    }
    return z;
fail:
    fanout_set_err(err, "%s: %s", what, zmq_strerror(zmq_errno()));
    worker_free(z);
    return NULL;
}

static void zmq_attached(void *sv) { (void)sv; }

/* Sends one frame (seq, flags), stamped just before the send; waits while
 * a NODROP PUB says EAGAIN. 0, or -1 with err. */
static int send_frame(zmq_worker *z, const fanout_run *run, uint64_t seq, uint32_t flags, char *err)
{
    const uint32_t fb = run->k->frame_bytes;
    zmq_msg_t m;
    if (zmq_msg_init_size(&m, fb) != 0) {
        fanout_set_err(err, "zmq_msg_init_size: %s", zmq_strerror(zmq_errno()));
        return -1;
    }
    uint8_t *p = zmq_msg_data(&m);
    fanout_fill(p, fb, seq, flags);
    fanout_stamp(p, bench_now_ns());
    for (unsigned tries = 0;; tries++) {
        if (zmq_msg_send(&m, z->sock, 0) >= 0)
            return 0;
        int e = zmq_errno();
        if ((e != EAGAIN && e != EINTR) || bench_now_ns() > run->deadline_ns) {
            zmq_msg_close(&m);
            fanout_set_err(err, "zmq_msg_send (seq %llu): %s", (unsigned long long)seq, zmq_strerror(e));
            return -1;
        }
        if (tries > 100)
            sched_yield();
    }
}

/* Sends probes of round `round` every PROBE_EVERY_NS until every reader
 * has taken one. 0, or -1 with err at the run's deadline. */
static int probe_round(zmq_worker *z, fanout_run *run, uint64_t round, char *err)
{
    const uint32_t fb = run->k->frame_bytes;
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
        zmq_msg_t m;
        if (zmq_msg_init_size(&m, fb) == 0) {
            fanout_fill(zmq_msg_data(&m), fb, 0, 0);
            fanout_stamp(zmq_msg_data(&m), round);
            if (zmq_msg_send(&m, z->sock, ZMQ_DONTWAIT) < 0)
                zmq_msg_close(&m);
        }
        struct timespec t = {0, PROBE_EVERY_NS};
        nanosleep(&t, NULL);
    }
}

static int zmq_write(void *sv, void *w, fanout_run *run, char *err)
{
    zmq_worker *z = w;
    const unsigned n = run->k->readers;
    int rc = 0;
    uint64_t seq = 1;
    (void)sv;

    /* probes until every subscription has arrived */
    if (probe_round(z, run, 1, err) != 0) {
        rc = -1;
        goto out;
    }

    uint64_t now = bench_now_ns();
    run->wr.start_ns = now;
    const uint64_t end = now + run->phase_ns;
    while (bench_now_ns() < end) {
        for (unsigned i = 0; i < FANOUT_BATCH; i++, seq++) {
            if (send_frame(z, run, seq, 0, err) != 0) {
                rc = -1;
                goto out;
            }
        }
    }
    run->wr.end1_ns = bench_now_ns();
    run->wr.n1 = seq - 1;
    atomic_store(&run->wr.published, seq - 1);
    fanout_wait_caught_up(run, seq - 1);
    if (probe_round(z, run, 2, err) != 0) {
        rc = -1;
        goto out;
    }

    fanout_pacer pacer;
    fanout_pace_start(&pacer, run, zmq_spin(run));
    for (; fanout_pace(&pacer); seq++) {
        if (send_frame(z, run, seq, FANOUT_F_PACED, err) != 0) {
            rc = -1;
            goto out;
        }
    }
out:
    atomic_store(&run->wr.published, seq - 1);
    atomic_store(&run->wr.done, 1);
    /* keep the socket (and the messages queued in it) until every reader
     * has stopped */
    while (atomic_load(&run->readers_done) < n && bench_now_ns() < run->deadline_ns) {
        struct timespec t = {0, 1000000};
        nanosleep(&t, NULL);
    }
    worker_free(z);
    return rc;
}

static int zmq_read(void *sv, void *w, fanout_run *run, fanout_reader *rd, char *err)
{
    zmq_worker *z = w;
    uint64_t idle_since = 0;
    int rc = 0;
    zmq_msg_t m;
    (void)sv;
    const int flags = zmq_spin(run) ? ZMQ_DONTWAIT : 0;
    zmq_msg_init(&m);
    for (;;) {
        if (zmq_msg_recv(&m, z->sock, flags) >= 0) {
            uint64_t now = bench_now_ns();
            const uint8_t *p = zmq_msg_data(&m);
            uint64_t seq, round;
            if (zmq_msg_size(&m) >= FANOUT_HDR && (memcpy(&seq, p, 8), seq == 0)) {
                memcpy(&round, p + 8, 8);
                if (round > atomic_load_explicit(&rd->probe, memory_order_relaxed))
                    atomic_store(&rd->probe, round);
                continue;
            }
            fanout_take(rd, zmq_msg_data(&m), zmq_msg_size(&m), now);
            atomic_store_explicit(&rd->seen, rd->last, memory_order_relaxed);
            idle_since = 0;
            if (atomic_load_explicit(&run->wr.done, memory_order_acquire) &&
                rd->last == atomic_load_explicit(&run->wr.published, memory_order_relaxed))
                break;
            continue;
        }
        int e = zmq_errno();
        if (e == EINTR)
            continue;
        if (e != EAGAIN) {
            fanout_set_err(err, "zmq_msg_recv: %s", zmq_strerror(e));
            rc = -1;
            break;
        }
        uint64_t now = bench_now_ns();
        if (atomic_load_explicit(&run->wr.done, memory_order_acquire)) {
            if (rd->last == atomic_load_explicit(&run->wr.published, memory_order_relaxed))
                break;
            /* OVERWRITE: the rest may have been dropped. BLOCK (NODROP):
             * nothing can be, so wait for the last frame (or the deadline) */
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
    }
    zmq_msg_close(&m);
    worker_free(z);
    return rc;
}

static void zmq_abandon(void *sv, void *w, bool writer)
{
    (void)sv;
    (void)writer;
    worker_free(w);
}

static void zmq_teardown(void *sv)
{
    zmq_state *st = sv;
    if (st->ctx)
        zmq_ctx_term(st->ctx);
    if (st->k.process && strncmp(st->endpoint, "ipc://", 6) == 0)
        unlink(st->endpoint + 6);
    bench_shared_free(st);
}

const fanout_impl fanout_peer_zmq = {
    .name = "zeromq",
    .cannot = zmq_cannot,
    .setup = zmq_setup,
    .attach = zmq_attach,
    .attached = zmq_attached,
    .write = zmq_write,
    .read = zmq_read,
    .abandon = zmq_abandon,
    .teardown = zmq_teardown,
};

#endif /* KLAW_BENCH_HAVE_ZMQ */
