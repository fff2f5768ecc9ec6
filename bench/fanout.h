/*
 * fanout.h - what the implementations of klaw-bench's fanout suite share
 * (suite_fanout.c runs them; klaw lives in fanout_klaw.c, ZeroMQ in
 * peer_zmq.c, iceoryx in peer_iceoryx.c): the
 * frame every writer writes and every reader checks, the latency
 * histogram, the per-reader tally, the control block of one run, and the
 * interface an implementation gives the runner.
 *
 * The frame (frame_bytes bytes: 64 or 4096, a multiple of 8, >= 32):
 *
 *     [0, 8)    seq: 1, 2, ... in publishing order (0: a ZeroMQ probe, never
 *               counted, whose stamp field holds its round: 1 to join, 2
 *               to drain after the saturation phase)
 *     [8, 16)   stamp: CLOCK_MONOTONIC ns, taken just before the frame is
 *               made visible (klaw: before commit; ZeroMQ: before zmq_send)
 *     [16, 20)  frame_bytes
 *     [20, 24)  flags: FANOUT_F_PACED for frames of the latency phase
 *     [24, end) the 64-bit word fanout_word(seq), repeated
 *
 * A writer writes all of it for every frame. A reader checks the header
 * and the last word of every frame, and every word of one frame in
 * FANOUT_FULL_CHECK (a torn or stale frame fails on its words); sequence
 * numbers must come in order, with gaps exactly where the transport said
 * (klaw: LAGGED with the count) or counted as drops (ZeroMQ).
 *
 * A run has two phases on one channel: a saturation phase (the writer
 * publishes flat out for phase_ns; frames_per_s and delivered_per_s come
 * from it) and, once every reader has caught up, a paced phase (one frame
 * every FANOUT_PACE_NS for phase_ns / 2; the latency percentiles come from
 * it, since at saturation latency only measures how full the queue is).
 * Both phases count for lost frames: under BLOCK none may be lost.
 */
#ifndef KLAW_BENCH_FANOUT_H
#define KLAW_BENCH_FANOUT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum {
    FANOUT_MAX_READERS = 8,
    FANOUT_BATCH = 128,         /* frames per claim_batch / view_batch (klaw)   */
    FANOUT_RING_SLOTS = 1024,  /* klaw's capacity; ZeroMQ's SNDHWM and RCVHWM  */
    FANOUT_HDR = 24,
    FANOUT_FULL_CHECK = 16,    /* every word of one frame in this many        */
    FANOUT_PACE_NS = 20000,    /* the paced phase: 50,000 frames/s            */
    FANOUT_ERR = 200,
    FANOUT_F_PACED = 1,
};

enum { FANOUT_OVERWRITE = 0, FANOUT_BLOCK = 1 };

typedef struct fanout_case {
    uint32_t frame_bytes; /* 64 or 4096                                    */
    uint32_t readers;     /* 1..FANOUT_MAX_READERS                         */
    int policy;           /* FANOUT_OVERWRITE or FANOUT_BLOCK              */
    bool process;         /* workers are forked processes, not threads     */
    uint32_t hosts;       /* bridge suite: bridged channels (hosts) the
                             readers are spread over; 0 in the fanout suite.
                             Set, the readers block rather than poll: the
                             bridges' threads and nats-server need CPUs   */
    uint32_t pace_ns;     /* the paced phase's interval; 0: FANOUT_PACE_NS
                             (bridge suite, JetStream: slower, so that the
                             latency is not a queue's)                   */
    bool at_least_once;   /* bridge suite: JetStream delivery. A frame may
                             come twice (counted in dups, not a failure of
                             the check) or after a later one (it fills its
                             gap: counted in late, not lost); the waits
                             for the last frames are patient (still_ns)  */
} fanout_case;

/* ---- the frame -------------------------------------------------------------- */

/* Loads and stores of the frame's words. Under OVERWRITE a klaw reader
 * reads a slot the writer may be rewriting (the channel's designed race:
 * release says LAGGED and the reading is thrown away); ThreadSanitizer
 * builds make those accesses relaxed atomics, so the race is a defined
 * one, as channels/broadcast.c does for its own copies. Other builds use
 * plain (memcpy) accesses. */
#include "sanitize.h" /* KLAW_TSAN (src/sanitize.h) */

static inline uint64_t fanout_ld64(const uint8_t *p)
{
    uint64_t v;
#ifdef KLAW_TSAN
    if (((uintptr_t)p & 7) == 0)
        return __atomic_load_n((const uint64_t *)(const void *)p, __ATOMIC_RELAXED);
#endif
    memcpy(&v, p, 8);
    return v;
}

static inline uint32_t fanout_ld32(const uint8_t *p)
{
    uint32_t v;
#ifdef KLAW_TSAN
    if (((uintptr_t)p & 3) == 0)
        return __atomic_load_n((const uint32_t *)(const void *)p, __ATOMIC_RELAXED);
#endif
    memcpy(&v, p, 4);
    return v;
}

static inline void fanout_st64(uint8_t *p, uint64_t v)
{
#ifdef KLAW_TSAN
    if (((uintptr_t)p & 7) == 0) {
        __atomic_store_n((uint64_t *)(void *)p, v, __ATOMIC_RELAXED);
        return;
    }
#endif
    memcpy(p, &v, 8);
}

static inline void fanout_st32(uint8_t *p, uint32_t v)
{
#ifdef KLAW_TSAN
    if (((uintptr_t)p & 3) == 0) {
        __atomic_store_n((uint32_t *)(void *)p, v, __ATOMIC_RELAXED);
        return;
    }
#endif
    memcpy(p, &v, 4);
}

static inline uint64_t fanout_word(uint64_t seq)
{
    return (seq + 1) * UINT64_C(0x9E3779B97F4A7C15) ^ UINT64_C(0x5851F42D4C957F2D);
}

/* Writes frame seq (stamp 0; fanout_stamp sets it) into p. */
static inline void fanout_fill(uint8_t *p, uint32_t len, uint64_t seq, uint32_t flags)
{
    uint64_t w = fanout_word(seq);
    fanout_st64(p, seq);
    fanout_st64(p + 8, 0);
    fanout_st32(p + 16, len);
    fanout_st32(p + 20, flags);
    for (uint32_t i = FANOUT_HDR; i + 8 <= len; i += 8)
        fanout_st64(p + i, w);
}

static inline void fanout_stamp(uint8_t *p, uint64_t now_ns) { fanout_st64(p + 8, now_ns); }

/* ---- the latency histogram ------------------------------------------------------ */

/* Log-linear buckets in the manner of HdrHistogram: values below 2^SUB_BITS
 * ns have a bucket each; above, every power of two is cut into 2^SUB_BITS
 * buckets (relative error under 1/32, ~3%), up to 2^MAX_EXP ns (~18 min;
 * larger values land in the last bucket). A fixed array: recording a
 * sample is a shift, a count of leading zeros and an increment, no malloc. */
enum {
    FANOUT_HIST_SUB_BITS = 5,
    FANOUT_HIST_SUB = 1 << FANOUT_HIST_SUB_BITS,
    FANOUT_HIST_MAX_EXP = 40,
    FANOUT_HIST_BUCKETS = (FANOUT_HIST_MAX_EXP - FANOUT_HIST_SUB_BITS + 2) * FANOUT_HIST_SUB,
};

typedef struct fanout_hist {
    uint64_t n, max;
    uint64_t count[FANOUT_HIST_BUCKETS];
} fanout_hist;

static inline unsigned fanout_hist_index(uint64_t v)
{
    if (v < FANOUT_HIST_SUB)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v);
    if (e > FANOUT_HIST_MAX_EXP)
        return FANOUT_HIST_BUCKETS - 1;
    return (e - FANOUT_HIST_SUB_BITS + 1) * FANOUT_HIST_SUB +
           (unsigned)((v >> (e - FANOUT_HIST_SUB_BITS)) & (FANOUT_HIST_SUB - 1));
}

static inline void fanout_hist_add(fanout_hist *h, uint64_t v)
{
    h->count[fanout_hist_index(v)]++;
    h->n++;
    if (v > h->max)
        h->max = v;
}

/* The largest value bucket i holds. */
uint64_t fanout_hist_bucket_high(unsigned i);
/* The value at quantile q (0 < q <= 1): the upper bound of the bucket that
 * holds it, capped at the maximum seen; 0 for an empty histogram. */
uint64_t fanout_hist_quantile(const fanout_hist *h, double q);
void fanout_hist_merge(fanout_hist *into, const fanout_hist *from);

/* ---- what a reader saw ------------------------------------------------------------ */

/* At least once: which of the last FANOUT_LATE_WINDOW sequence numbers
 * behind `last` a reader is still missing (a frame that comes later than
 * that is counted as a duplicate: it cannot be told from one). */
enum { FANOUT_LATE_WINDOW = 4096 };

/* One reader's tally, kept in the run's shared control block (the runner
 * reads it after the reader ends). Every field is written by the reader
 * only, except `seen`, which the writer reads while the run goes on. */
typedef struct fanout_reader {
    _Alignas(64) _Atomic uint64_t seen; /* highest seq taken so far (relaxed) */
    _Atomic uint64_t probe;             /* ZeroMQ: the latest probe taken    */
    uint32_t frame_bytes;
    bool exact_gaps;     /* klaw: every gap must be announced (LAGGED)        */
    uint64_t last;       /* seq of the last frame taken                       */
    uint64_t announced;  /* frames the transport said were skipped, not yet   */
                         /* accounted by a gap                                */
    uint64_t delivered;  /* intact frames taken, both phases                  */
    uint64_t delivered1; /* of them, in the saturation phase                  */
    uint64_t last1_ns;   /* when the last saturation-phase frame was taken    */
    uint64_t lagged;     /* frames skipped: LAGGED counts, drops, torn views  */
    uint64_t bad;        /* frames that failed a check                        */
    uint64_t end_ns;
    int rc;              /* 0, or -1 with err (a transport failure)           */
    char err[FANOUT_ERR];
    char why[FANOUT_ERR]; /* the first bad frame                              */
    fanout_hist lat;      /* paced-phase latency, ns                          */
    /* at least once (fanout_case.at_least_once) */
    bool at_least_once;
    uint64_t dups;        /* frames taken again (or later than the window)    */
    uint64_t late;        /* frames taken after a later one (gap filled)      */
    uint32_t missing;     /* bits set in gaps                                 */
    uint64_t gaps[FANOUT_LATE_WINDOW / 64]; /* bit seq % window: seq missing  */
} fanout_reader;

void fanout_reader_init(fanout_reader *r, uint32_t frame_bytes, bool exact_gaps, bool at_least_once);

/* What a reader publishes in `seen`: the last seq it took, less one while
 * at least once it still misses a frame before it (so the writer's wait
 * for the last frame waits for the gap too). */
static inline uint64_t fanout_reader_progress(const fanout_reader *r)
{
    return r->missing ? r->last - 1 : r->last;
}

/* At least once: the reader has every frame up to `published` (or gave up
 * on those behind its window). */
static inline bool fanout_reader_complete(const fanout_reader *r, uint64_t published)
{
    return r->last == published && r->missing == 0;
}

/* One frame as a reader found it: its header, and what was wrong with it
 * (NULL: nothing). */
typedef struct fanout_seen {
    uint64_t seq, stamp;
    uint32_t flags, len;
    const char *bad;
} fanout_seen;

/* Checks one frame in place without counting it (klaw checks a batch of
 * views this way, then counts them only if release says they were not
 * overwritten meanwhile): its length and header, its last word, and on
 * every FANOUT_FULL_CHECK-th frame every word. */
static inline void fanout_inspect(const fanout_reader *r, const uint8_t *p, size_t len, fanout_seen *s)
{
    uint64_t tail;
    s->bad = NULL;
    s->seq = s->stamp = 0;
    s->flags = 0;
    s->len = (uint32_t)len;
    if (__builtin_expect(len != r->frame_bytes, 0)) {
        s->bad = "wrong length";
        return;
    }
    s->seq = fanout_ld64(p);
    s->stamp = fanout_ld64(p + 8);
    s->flags = fanout_ld32(p + 20);
    uint32_t flen = fanout_ld32(p + 16);
    tail = fanout_ld64(p + len - 8);
    if (__builtin_expect(flen != len || s->flags > FANOUT_F_PACED, 0)) {
        s->bad = "bad header";
        return;
    }
    if (s->seq == 0)
        return; /* a ZeroMQ join probe: fanout_count decides */
    if (__builtin_expect(tail != fanout_word(s->seq), 0)) {
        s->bad = "last word wrong (torn or stale)";
        return;
    }
    if (__builtin_expect(s->seq % FANOUT_FULL_CHECK == 0, 0)) {
        uint64_t w = fanout_word(s->seq);
        for (size_t i = FANOUT_HDR; i + 8 <= len; i += 8) {
            if (fanout_ld64(p + i) != w) {
                s->bad = "content wrong (torn or stale)";
                return;
            }
        }
    }
}

/* Records a bad frame (out of line: never on the fast path). */
void fanout_reader_bad(fanout_reader *r, const fanout_seen *s, const char *what) __attribute__((cold, noinline));

/* After a bad frame: go on from it, so that one bad frame is counted
 * once rather than failing every later gap check. */
static inline void fanout_reader_skip(fanout_reader *r, const fanout_seen *s)
{
    if (s->seq > r->last && s->seq - r->last < (UINT64_C(1) << 40)) {
        r->last = s->seq;
        r->announced = 0;
    }
}

/* A frame counted as delivered: its latency if paced. */
static inline void fanout_reader_took(fanout_reader *r, const fanout_seen *s, uint64_t now_ns)
{
    r->delivered++;
    if (s->flags & FANOUT_F_PACED) {
        fanout_hist_add(&r->lat, now_ns > s->stamp ? now_ns - s->stamp : 0);
    } else {
        r->delivered1++;
        r->last1_ns = now_ns;
    }
}

/* At least once, out of line (rare: only after a gap): marks the frames
 * between the last one and seq missing in the window. */
void fanout_reader_gaps(fanout_reader *r, uint64_t seq) __attribute__((cold, noinline));
/* At least once, out of line: a frame at or before the last one. If the
 * window says it was missing it fills its gap (counted, true); else it is
 * a duplicate (dups, false). */
bool fanout_reader_again(fanout_reader *r, const fanout_seen *s, uint64_t now_ns) __attribute__((cold, noinline));

/* Counts a frame fanout_inspect passed, taken at now_ns: its place in the
 * order (seq after the last one; the gap exactly what the transport
 * announced, or counted as dropped; at least once, a frame again or late),
 * its latency if paced. Returns false for a frame that is not counted (a
 * probe, a duplicate, or bad). */
static inline bool fanout_count(fanout_reader *r, const fanout_seen *s, uint64_t now_ns)
{
    if (__builtin_expect(s->bad != NULL, 0)) {
        fanout_reader_bad(r, s, s->bad);
        fanout_reader_skip(r, s); /* one bad frame, not a cascade */
        return false;
    }
    if (s->seq == 0) {
        if (r->exact_gaps)
            fanout_reader_bad(r, s, "seq 0 (only ZeroMQ probes have it)");
        return false;
    }
    if (__builtin_expect(s->seq <= r->last, 0)) {
        if (r->at_least_once)
            return fanout_reader_again(r, s, now_ns);
        fanout_reader_bad(r, s, "out of order or repeated");
        return false;
    }
    uint64_t gap = s->seq - r->last - 1;
    if (r->exact_gaps) {
        if (__builtin_expect(gap != r->announced, 0)) {
            fanout_reader_bad(r, s, "a gap the channel did not announce");
            fanout_reader_skip(r, s);
            return false;
        }
        r->announced = 0;
    } else {
        r->lagged += gap; /* at least once: less what comes late */
        if (__builtin_expect(r->at_least_once && (gap != 0 || r->missing != 0), 0))
            fanout_reader_gaps(r, s->seq);
    }
    r->last = s->seq;
    fanout_reader_took(r, s, now_ns);
    return true;
}

/* fanout_inspect, then fanout_count (for a copy the transport owns). */
static inline bool fanout_take(fanout_reader *r, const uint8_t *p, size_t len, uint64_t now_ns)
{
    fanout_seen s;
    fanout_inspect(r, p, len, &s);
    return fanout_count(r, &s, now_ns);
}

/* ---- one run ---------------------------------------------------------------------- */

/* What the writer tells the runner, and the readers while they run. */
typedef struct fanout_writer {
    _Alignas(64) _Atomic uint64_t published; /* frames published (final at done)  */
    _Atomic uint32_t done;                   /* 1: no more frames will come      */
    uint64_t start_ns;   /* the saturation phase began                        */
    uint64_t end1_ns;    /* ... and ended                                     */
    uint64_t n1;         /* frames it published                               */
    uint64_t retries;    /* at least once: publishes sent again (no ack)      */
    uint64_t end_ns;
    int rc;
    char err[FANOUT_ERR];
} fanout_writer;

/* The parts of the run's control block an implementation may use. */
typedef struct fanout_run {
    const fanout_case *k;
    uint64_t phase_ns;       /* length of the saturation phase             */
    uint64_t deadline_ns;    /* CLOCK_MONOTONIC: a worker still waiting then */
                             /* gives up (the run has hung)                 */
    unsigned ncpus;          /* CPUs this process may use                   */
    bool spin;               /* the writer and every reader have a CPU of   */
                             /* their own: readers busy-poll (klaw:         */
                             /* try_view; ZeroMQ: recv with ZMQ_DONTWAIT);  */
                             /* else they block (klaw: view, which spins    */
                             /* briefly, then parks; ZeroMQ: blocking recv) */
    uint64_t still_ns;       /* the end of a run: no reader moved for this  */
                             /* long, what was not taken is lost (20 ms;    */
                             /* at least once 3 s: nothing may be lost)     */
    fanout_writer wr;
    _Alignas(64) _Atomic uint32_t readers_done;
    fanout_reader rd[FANOUT_MAX_READERS];
} fanout_run;

/* The writer's schedule, which every implementation follows (suite_fanout.c):
 * after the saturation phase, fanout_wait_caught_up; then the paced phase,
 * a frame each time fanout_pace says so. */

/* Waits (sleeping, so readers sharing the CPU run) until every reader has
 * taken frame `last` (fanout_reader_progress), or none has moved for
 * run->still_ns (a lossy transport may have dropped the last frames), or
 * the run's deadline. */
void fanout_wait_caught_up(fanout_run *run, uint64_t last);

/* The paced phase: a frame every FANOUT_PACE_NS for phase_ns / 2 (and at
 * least FANOUT_MIN_PACED frames); a case with pace_ns sends as many frames,
 * one every pace_ns. A writer with a CPU of its own (spin:
 * run->spin, as the implementation's readers) waits by spinning; else it
 * sleeps (clock_nanosleep to an
 * absolute time, timer slack 1 us) so that readers sharing its CPU run. A
 * writer that falls behind (descheduled, or blocked under BLOCK) does not
 * burst to catch up: the next frame is one interval after this one. */
enum { FANOUT_MIN_PACED = 16 };
typedef struct fanout_pacer {
    uint64_t next_ns, end_ns, sent, every_ns;
    bool spin;
} fanout_pacer;

void fanout_pace_start(fanout_pacer *p, const fanout_run *run, bool spin);
/* Waits until the next frame is due; false when the phase is over. */
bool fanout_pace(fanout_pacer *p);

void fanout_set_err(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- the interface ------------------------------------------------------------------ */

typedef struct fanout_impl {
    const char *name; /* the "impl" of its rows */
    /* every gap a reader sees is one the transport announced (klaw's
     * LAGGED), and a reader drains to the last frame; else gaps are
     * unannounced drops, counted as lagged */
    bool exact_gaps;
    /* NULL when it can run the case, else why not (its rows say "skipped") */
    const char *(*cannot)(const fanout_case *k);
    /* State for one run, in bench_shared_alloc memory (runner.h); NULL
     * with err set. */
    void *(*setup)(const fanout_case *k, char *err);
    /* In the worker (thread or child) before the run starts: its handle
     * or socket. id: the reader's index; ignored for the writer. Returns
     * the worker's context, NULL with err set. */
    void *(*attach)(void *st, bool writer, unsigned id, char *err);
    /* In the runner once every worker has attached. */
    void (*attached)(void *st);
    /* The writer: both phases (filling run->wr), then it gives up the
     * writer role so readers finish. 0, or -1 with err. */
    int (*write)(void *st, void *w, fanout_run *run, char *err);
    /* A reader: takes frames until the writer is done and it has all it
     * will get, each through fanout_take. 0, or -1 with err. */
    int (*read)(void *st, void *w, fanout_run *run, fanout_reader *rd, char *err);
    /* In a worker whose run was called off (another worker failed to
     * attach): gives up what attach made, in the worker's own thread or
     * process. */
    void (*abandon)(void *st, void *w, bool writer);
    void (*teardown)(void *st);
    /* Process mode, may be NULL: the worker process's last act, after its
     * run (or abandon) and its tally, instead of the runner's _exit(0);
     * must not return (iceoryx: exit(0), whose destructors deregister the
     * process from RouDi). */
    void (*worker_end)(void *st);
} fanout_impl;

/* ---- one run (suite_fanout.c; the bridge suite runs its cases through it too) ---- */

/* What one run measured. */
typedef struct fanout_result {
    double frames_per_s, delivered_per_s, lagged;
    double p50, p99, p999, max;
    double dups, late, retries; /* at least once: summed over readers; the writer's */
} fanout_result;

/* One run of impl on case k (the runner's workers: slot 0 the writer, the
 * readers after it; threads or processes as k says): setup, attach, both
 * phases, teardown, then every reader's tally is checked (fanout.h's
 * rules; lost frames are a failure only under BLOCK). 0 with res set, or
 * -1 with err (FANOUT_ERR bytes). */
int fanout_run_once(const fanout_impl *impl, const fanout_case *k, uint64_t phase_ns, fanout_result *res, char *err);

/* klaw's broadcast channel (fanout_klaw.c). */
extern const fanout_impl fanout_klaw;

/* The peer: ZeroMQ PUB/SUB (ipc:// between processes, inproc:// between
 * threads); when libzmq was not found at build time its cannot() says so. */
extern const fanout_impl fanout_peer_zmq;

/* The zero-copy peer: iceoryx 2.0 publisher and subscribers, between
 * processes only (peer_iceoryx.c; peer_iceoryx.h starts its RouDi); when
 * its C binding was not found at build time its cannot() says so. */
extern const fanout_impl fanout_peer_iceoryx;

#endif /* KLAW_BENCH_FANOUT_H */
