/*
 * tail.c - klaw tail: a channel's frames as JSON, one line each, for every
 * kind (a broadcast reader of its own; the current value of a watch; taking
 * frames from an mpmc or a oneshot only when asked with --consume).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "klaw_tool.h"

/* ---- frames as JSON --------------------------------------------------------- */

/* Appends the JSON line of one frame to b: a wire envelope with its fields
 * named (unless raw), any other MessagePack value as json.h maps it. A
 * frame that is neither prints nothing and returns the decode error's text
 * in msg ("decode error at byte N: <reason>"). */
static klaw_status frame_json(const uint8_t *data, size_t len, bool raw, buf *b, char *msg, size_t msg_cap)
{
    size_t mark = b->len;
    if (!raw) {
        klaw_envelope env;
        klaw_envelope_error eerr;
        if (klaw_envelope_validate(data, len, &env, &eerr) == KLAW_OK) {
            klaw_status st = klaw_envelope_to_json(&env, buf_write_fn, b, &eerr);
            if (st == KLAW_OK)
                return buf_append(b, "\n", 1) ? KLAW_OK : KLAW_NOMEM;
            b->len = mark;
            if (st == KLAW_NOMEM)
                return st;
            /* e.g. keys nested too deep for JSON: shown as a plain value
             * below, which reports it */
        }
    }
    klaw_mp_reader r;
    klaw_mp_reader_init(&r, data, len);
    klaw_status st = klaw_json_from_mp(&r, buf_write_fn, b);
    if (st == KLAW_OK)
        st = klaw_mp_reader_finish(&r);
    if (st == KLAW_OK)
        return buf_append(b, "\n", 1) ? KLAW_OK : KLAW_NOMEM;
    b->len = mark;
    if (r.err.status != KLAW_OK)
        klaw_mp_error_format(&r.err, msg, msg_cap);
    else
        snprintf(msg, msg_cap, "%s", klaw_strerror(st));
    return st;
}

/* ---- tail ------------------------------------------------------------------- */

static const char tail_help[] =
    "usage: klaw tail [-n N] [--follow] [--consume] [--raw] NAME\n"
    "\n"
    "Prints a channel's frames as JSON, one line each. A frame that is a wire\n"
    "envelope prints with its fields named, as 'klaw decode --envelope' does\n"
    "(--raw: print every frame as a plain MessagePack value); a frame that is\n"
    "not valid MessagePack prints nothing, and\n"
    "'klaw: frame SEQ: decode error at byte N: <reason>' goes to stderr (the\n"
    "exit status is then 1; tail goes on with the next frame).\n"
    "\n"
    "broadcast: subscribes as reader 'klaw-tail-<pid>' from the oldest\n"
    "retained frame, prints the last N retained frames (default 10), and\n"
    "with --follow goes on printing new frames as they come (-n 0 --follow:\n"
    "only frames sent from now on). Frames the\n"
    "writer overwrote before tail read them are reported on stderr\n"
    "('klaw: missed N frames'), not as a failure. Under policy block the\n"
    "writers wait for tail as for any registered reader.\n"
    "watch: prints the current value; with --follow, every new value too.\n"
    "mpmc: each frame goes to exactly one receiver, so tailing takes frames\n"
    "away from the channel's consumers. tail refuses unless --consume is\n"
    "given; then it receives up to N frames (default 10) that are there now,\n"
    "or with --follow waits for frames and prints them until the senders\n"
    "close, N frames were taken (only when -n is given), or it is interrupted.\n"
    "A frame tail took is gone from the channel even if printing it fails.\n"
    "oneshot: taking its value is receiving it: --consume is needed; then\n"
    "it prints the value if sent (--follow: waits for it).\n"
    "\n"
    "-n N, --lines N  how many frames (see above)\n"
    "-f, --follow     keep waiting for new frames; stop with SIGINT/SIGTERM\n"
    "--consume        take frames from an mpmc or a oneshot (see above)\n"
    "--raw            print every frame as a plain MessagePack value\n";

/* How often a waiting tail looks at its stop flag. */
#define TAIL_POLL_MS 100

typedef struct tail_state {
    const char *name;
    bool raw;
    bool bad_frame; /* some frame did not decode */
    buf line;
} tail_state;

/* Formats one frame into t->line (emptied first). Returns 0 (line ready),
 * -1 (frame reported bad on stderr, nothing to print) or EXIT_FAILURE. */
static int tail_format(tail_state *t, const uint8_t *data, size_t len, uint64_t seq)
{
    char msg[256];
    t->line.len = 0;
    klaw_status st = frame_json(data, len, t->raw, &t->line, msg, sizeof msg);
    if (st == KLAW_NOMEM)
        return fail_msg("out of memory");
    if (st != KLAW_OK) {
        fprintf(stderr, "klaw: frame %llu: %s\n", (unsigned long long)seq, msg);
        t->bad_frame = true;
        return -1;
    }
    return 0;
}

static int tail_open_error(const char *name, klaw_status st, const char *role, klaw_channel_type kind)
{
    if (st == KLAW_CLOSED)
        return fail_msg("channel '%s' is closed to %s", name, role);
    if (st == KLAW_FULL)
        return fail_msg("channel '%s' has no room for another %s", name, role);
    return kind_open_error(name, st, kind);
}

static int tail_mpmc(tail_state *t, uint64_t limit, bool follow)
{
    klaw_mpmc_rx *rx;
    klaw_status st = klaw_mpmc_open_rx(t->name, &rx);
    if (st != KLAW_OK)
        return tail_open_error(t->name, st, "receivers", KLAW_CHANNEL_MPMC);
    int rc = 0;
    for (uint64_t taken = 0; taken < limit && !stop_requested;) {
        klaw_frame f;
        if (follow) {
            struct timespec dl = klaw_deadline_in_ms(TAIL_POLL_MS);
            st = klaw_mpmc_view(rx, &dl, &f);
            if (st == KLAW_TIMEOUT)
                continue;
        } else {
            st = klaw_mpmc_try_view(rx, &f);
        }
        if (st == KLAW_EMPTY || st == KLAW_CLOSED)
            break;
        if (st != KLAW_OK) {
            rc = fail_msg("receiving from '%s': %s", t->name, klaw_strerror(st));
            break;
        }
        taken++;
        int fr = tail_format(t, f.data, f.len, f.seq);
        klaw_mpmc_release(rx, &f);
        if (fr > 0 || (fr == 0 && (fr = write_out(t->line.p, t->line.len)))) {
            rc = fr;
            break;
        }
    }
    klaw_mpmc_rx_free(rx);
    return rc;
}

/* One broadcast frame: view, format, release (validated). 1 when a frame
 * was formatted into t->line, 0 when there was none (st says why), -1 for
 * a frame to skip, EXIT_FAILURE > 1 never (errors print and return -2). */
static int bcast_next(tail_state *t, klaw_bcast_rx *rx, bool wait, klaw_status *st, uint64_t *missed)
{
    klaw_frame f;
    uint64_t lagged = 0;
    if (wait) {
        struct timespec dl = klaw_deadline_in_ms(TAIL_POLL_MS);
        *st = klaw_bcast_view(rx, &dl, &f, &lagged);
    } else {
        *st = klaw_bcast_try_view(rx, &f, &lagged);
    }
    if (*st == KLAW_LAGGED) {
        *missed += lagged;
        return -1;
    }
    if (*st != KLAW_OK)
        return 0;
    int fr = tail_format(t, f.data, f.len, f.seq);
    if (klaw_bcast_release(rx, &f) == KLAW_LAGGED) {
        /* overwritten while formatted: what was read may be torn */
        (*missed)++;
        if (fr == -1)
            t->bad_frame = false; /* a torn frame is not a bad one */
        return -1;
    }
    if (fr > 0)
        return -2;
    return fr == 0 ? 1 : -1;
}

static void report_missed(uint64_t *missed)
{
    if (*missed) {
        fprintf(stderr, "klaw: missed %llu frames (overwritten before tail read them)\n",
                (unsigned long long)*missed);
        *missed = 0;
    }
}

static int tail_bcast(tail_state *t, uint64_t limit, bool follow, int64_t capacity)
{
    char reader_id[64];
    snprintf(reader_id, sizeof reader_id, "klaw-tail-%ld", (long)getpid());
    klaw_bcast_rx *rx;
    /* -n 0: from the tail, so that a frame sent once tail has registered
     * is never taken for a retained one */
    klaw_status st = klaw_bcast_open_rx(t->name, limit ? KLAW_BCAST_FROM_OLDEST : KLAW_BCAST_FROM_TAIL,
                                        reader_id, &rx);
    if (st != KLAW_OK)
        return tail_open_error(t->name, st, "readers", KLAW_CHANNEL_BROADCAST);
    /* the retained frames: keep the text of the last `keep` */
    uint64_t keep = limit < (uint64_t)capacity ? limit : (uint64_t)capacity;
    buf *ring = keep ? calloc((size_t)keep, sizeof *ring) : NULL;
    int rc = 0;
    uint64_t got = 0, missed = 0;
    if (keep && !ring)
        rc = fail_msg("out of memory");
    /* (with -n 0 the retained frames are passed over all the same) */
    while (!rc && !stop_requested) {
        int r = bcast_next(t, rx, false, &st, &missed);
        if (r == -2)
            rc = EXIT_FAILURE;
        else if (r == 0)
            break;
        else if (r == 1 && keep) {
            buf *slot = &ring[got++ % keep];
            slot->len = 0;
            if (!buf_append(slot, t->line.p, t->line.len))
                rc = fail_msg("out of memory");
        }
    }
    if (!rc && st != KLAW_OK && st != KLAW_EMPTY && st != KLAW_CLOSED && st != KLAW_LAGGED)
        rc = fail_msg("reading '%s': %s", t->name, klaw_strerror(st));
    report_missed(&missed);
    uint64_t first = got > keep ? got - keep : 0;
    for (uint64_t i = first; i < got && !rc; i++)
        rc = write_out(ring[i % keep].p, ring[i % keep].len);
    for (uint64_t i = 0; i < keep && ring; i++)
        buf_free(&ring[i]);
    free(ring);
    /* then, with --follow, what comes */
    while (!rc && follow && !stop_requested) {
        int r = bcast_next(t, rx, true, &st, &missed);
        report_missed(&missed);
        if (r == -2)
            rc = EXIT_FAILURE;
        else if (r == 1)
            rc = write_out(t->line.p, t->line.len);
        else if (r == 0 && st == KLAW_CLOSED)
            break;
        else if (r == 0 && st != KLAW_TIMEOUT && st != KLAW_EMPTY)
            rc = fail_msg("reading '%s': %s", t->name, klaw_strerror(st));
    }
    klaw_bcast_rx_free(rx);
    return rc;
}

static int tail_watch(tail_state *t, uint64_t limit, bool follow, uint32_t max_frame)
{
    klaw_watch_rx *rx;
    klaw_status st = klaw_watch_open_rx(t->name, &rx);
    if (st != KLAW_OK)
        return tail_open_error(t->name, st, "receivers", KLAW_CHANNEL_WATCH);
    uint8_t *val = malloc(max_frame ? max_frame : 1);
    int rc = val ? 0 : fail_msg("out of memory");
    for (uint64_t shown = 0; !rc && shown < limit && !stop_requested;) {
        if (shown > 0) {
            if (!follow)
                break;
            struct timespec dl = klaw_deadline_in_ms(TAIL_POLL_MS);
            st = klaw_watch_changed(rx, &dl);
            if (st == KLAW_TIMEOUT)
                continue;
            if (st == KLAW_CLOSED)
                break;
            if (st != KLAW_OK) {
                rc = fail_msg("reading '%s': %s", t->name, klaw_strerror(st));
                break;
            }
        }
        size_t len;
        uint64_t version;
        st = klaw_watch_get_and_update(rx, val, max_frame, &len, &version);
        if (st != KLAW_OK) {
            rc = fail_msg("reading '%s': %s", t->name, klaw_strerror(st));
            break;
        }
        shown++;
        int fr = tail_format(t, val, len, version);
        if (fr > 0)
            rc = fr;
        else if (fr == 0)
            rc = write_out(t->line.p, t->line.len);
    }
    free(val);
    klaw_watch_rx_free(rx);
    return rc;
}

static int tail_oneshot(tail_state *t, bool follow)
{
    klaw_oneshot_rx *rx;
    klaw_status st = klaw_oneshot_open_rx(t->name, &rx);
    if (st == KLAW_FULL)
        return fail_msg("oneshot '%s': another process holds the receiver role", t->name);
    if (st == KLAW_CLOSED)
        return fail_msg("oneshot '%s': its receiver role was given up", t->name);
    if (st != KLAW_OK)
        return kind_open_error(t->name, st, KLAW_CHANNEL_ONESHOT);
    int rc = 0;
    klaw_frame f;
    for (;;) {
        if (follow) {
            struct timespec dl = klaw_deadline_in_ms(TAIL_POLL_MS);
            st = klaw_oneshot_view(rx, &dl, &f);
            if (st == KLAW_TIMEOUT && !stop_requested)
                continue;
        } else {
            st = klaw_oneshot_try_view(rx, &f);
        }
        break;
    }
    if (st == KLAW_OK) {
        int fr = tail_format(t, f.data, f.len, f.seq);
        klaw_oneshot_release(rx, &f);
        if (fr > 0)
            rc = fr;
        else if (fr == 0)
            rc = write_out(t->line.p, t->line.len);
    } else if (st == KLAW_CLOSED) {
        rc = fail_msg("oneshot '%s': no value (its sender closed without sending, or it was taken)", t->name);
    } else if (st != KLAW_EMPTY && st != KLAW_TIMEOUT) {
        rc = fail_msg("reading '%s': %s", t->name, klaw_strerror(st));
    }
    klaw_oneshot_rx_free(rx);
    return rc;
}

int cmd_tail(int argc, char **argv)
{
    static const opt_spec specs[] = {{"-n", "--lines", true},   {"--follow", "-f", false},
                                     {"--consume", NULL, false}, {"--raw", NULL, false},
                                     {NULL, NULL, false}};
    cmd_args a;
    int rc = parse_opts("tail", argc, argv, specs, 1, NULL, &a);
    if (rc)
        return rc;
    if (a.help) {
        fputs(tail_help, stdout);
        return 0;
    }
    if (a.n_ops != 1) {
        fprintf(stderr, "klaw tail: which channel? (see klaw tail --help)\n");
        return EXIT_USAGE;
    }
    uint64_t limit = 10;
    if (a.seen[0] && !parse_count(a.vals[0], UINT64_MAX, &limit)) {
        fprintf(stderr, "klaw tail: -n wants a count, not '%s'\n", a.vals[0]);
        return EXIT_USAGE;
    }
    bool follow = a.seen[1], consume = a.seen[2];
    const char *name = a.ops[0];
    klaw_channel *ch;
    if ((rc = open_channel(name, &ch)))
        return rc;
    klaw_channel_type kind = klaw_channel_kind(ch);
    if (kind == KLAW_CHANNEL_ONESHOT && consume && !follow) {
        /* taking the receiver role and finding nothing would give the role
         * up for good: look first */
        klaw_channel_stats s;
        klaw_status st = klaw_channel_read_stats(ch, &s);
        if (st == KLAW_OK && s.queue_size == 0) {
            klaw_channel_close(ch);
            return fail_msg("oneshot '%s' holds no value (%s)", name,
                            s.total_received ? "it was taken" : s.senders_closed ? "its sender closed without sending"
                                                                                 : "not sent yet");
        }
    }
    const klaw_channel_metadata *m = klaw_channel_meta(ch);
    int64_t capacity = m->has_capacity && m->capacity > 0 ? m->capacity : 1;
    uint32_t max_frame = m->max_frame;
    klaw_channel_close(ch);

    tail_state t = {.name = name, .raw = a.seen[3]};
    if ((kind == KLAW_CHANNEL_MPMC || kind == KLAW_CHANNEL_ONESHOT) && !consume)
        return fail_msg("'%s' is %s; pass --consume to do that", name,
                        kind == KLAW_CHANNEL_MPMC ? "an mpmc channel: each frame goes to one receiver, so tail "
                                                    "would take frames from its consumers"
                                                  : "a oneshot channel: its one value goes to its one receiver, "
                                                    "so tail would take the value and the receiver role");
    catch_stop_signals();
    switch (kind) {
    case KLAW_CHANNEL_MPMC: rc = tail_mpmc(&t, follow && !a.seen[0] ? UINT64_MAX : limit, follow); break;
    case KLAW_CHANNEL_BROADCAST: rc = tail_bcast(&t, limit, follow, capacity); break;
    case KLAW_CHANNEL_WATCH: rc = tail_watch(&t, follow && !a.seen[0] ? UINT64_MAX : limit, follow, max_frame); break;
    default: rc = tail_oneshot(&t, follow); break;
    }
    buf_free(&t.line);
    return rc ? rc : t.bad_frame ? EXIT_FAILURE : 0;
}
