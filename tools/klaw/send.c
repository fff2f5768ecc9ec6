/*
 * send.c - klaw send: JSON in, one MessagePack frame out (or one a line
 * with --lines), to a channel of any kind, optionally wrapped in a wire
 * envelope that carries the frame's own sequence number.
 */
#include <stdlib.h>
#include <string.h>

#include "klaw_tool.h"

/* ---- send ------------------------------------------------------------------- */

static const char send_help[] =
    "usage: klaw send [--envelope] [--lines] [--timeout MS] NAME [JSON]\n"
    "\n"
    "Encodes a JSON value (the JSON argument, or stdin) as MessagePack and\n"
    "sends it to the channel as one frame (watch: the new value; oneshot: its\n"
    "one value). With --lines, each non-empty line of stdin is one JSON value\n"
    "and one frame, sent in order.\n"
    "\n"
    "--envelope     wrap each value in a wire envelope DataMessage:\n"
    "               [1, [1, 1, NAME, seq, ts_ms], value], seq being the\n"
    "               frame's own sequence number (watch: the version it is\n"
    "               expected to get; oneshot: 0) and ts_ms the time now\n"
    "--timeout MS   wait at most MS milliseconds for room in a full channel\n"
    "               (mpmc, broadcast; default: as long as it takes; 0: do\n"
    "               not wait)\n"
    "\n"
    "Malformed JSON: exit status 1, nothing sent (with --lines, the lines\n"
    "before it are sent) and 'klaw: encode error at byte N: <reason>' (N\n"
    "counts from the start of the input). A frame larger than the channel's\n"
    "max_frame, a channel with no receivers left, a timeout, a oneshot\n"
    "already sent: exit status 1 and a message. A broadcast with no readers\n"
    "(policy overwrite) keeps the frame in its ring: a note on stderr, exit\n"
    "status 0; under policy block nothing is sent (exit status 1).\n";

/* Room an envelope around a payload needs at most: array and tag (2),
 * header array (1), version (5), kind (1), channel_id (5 + 200),
 * seq (9), ts_ms (9). */
#define ENVELOPE_OVERHEAD 232u

typedef struct send_ctx {
    const char *name;
    klaw_channel_type kind;
    klaw_mpmc_tx *mpmc;
    klaw_bcast_tx *bcast;
    klaw_watch_tx *watch;
    klaw_oneshot_tx *oneshot;
    uint32_t max_frame;
    int policy;            /* broadcast: what NO_RECEIVERS means     */
    uint64_t next_version; /* watch: the version the next value gets */
    bool envelope;
    const struct timespec *deadline;
    buf mp;    /* the payload, encoded */
    buf frame; /* watch/oneshot: the envelope around it */
} send_ctx;

/* Encodes json[0, len) into ctx->mp; base is its offset in the input (for
 * messages). Returns 0 or prints why and returns EXIT_FAILURE. */
static int encode_json(send_ctx *ctx, const char *json, size_t len, size_t base)
{
    size_t guess = len <= (SIZE_MAX - 64) / 3 ? len * 3 + 64 : SIZE_MAX;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!buf_reserve(&ctx->mp, guess))
            return fail_msg("out of memory");
        klaw_mp_writer w;
        klaw_json_error err;
        klaw_mp_writer_init(&w, ctx->mp.p, ctx->mp.cap);
        klaw_status st = klaw_json_to_mp(json, len, &w, &err);
        if (st == KLAW_OK) {
            ctx->mp.len = klaw_mp_writer_len(&w);
            return 0;
        }
        if (st != KLAW_TOOBIG) {
            if (st == KLAW_DECODE)
                return fail_msg("encode error at byte %zu: %s", base + err.offset, err.reason);
            return fail_msg("encode error: %s", klaw_strerror(st));
        }
        guess = klaw_mp_writer_needed(&w);
    }
    return fail_msg("encode: output size changed between tries");
}

static int send_status(send_ctx *ctx, klaw_status st, size_t len)
{
    switch (st) {
    case KLAW_OK: return 0;
    case KLAW_TOOBIG:
        return fail_msg("frame of %zu bytes is larger than the max_frame (%u) of '%s'; not sent", len,
                        ctx->max_frame, ctx->name);
    case KLAW_CLOSED:
        if (ctx->kind == KLAW_CHANNEL_ONESHOT)
            return fail_msg("oneshot '%s': its receiver is gone; not sent", ctx->name);
        return fail_msg("channel '%s' has no receivers left (closed); not sent", ctx->name);
    case KLAW_TIMEOUT: return fail_msg("channel '%s' stayed full; not sent", ctx->name);
    case KLAW_ALREADY_SENT: return fail_msg("oneshot '%s' was already sent; not sent", ctx->name);
    case KLAW_NO_RECEIVERS:
        if (ctx->policy != KLAW_POLICY_BLOCK) {
            fprintf(stderr, "klaw: note: broadcast '%s' has no readers; the frame stays in its ring\n",
                    ctx->name);
            return 0;
        }
        return fail_msg("broadcast '%s' has no readers (policy block); not sent", ctx->name);
    default: return fail_msg("sending to '%s': %s", ctx->name, klaw_strerror(st));
    }
}

/* Writes the envelope around ctx->mp with seq into w. */
static void write_envelope(send_ctx *ctx, klaw_mp_writer *w, uint64_t seq)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t ts_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    klaw_envelope_header h = klaw_envelope_header_make(ctx->name, (uint32_t)strlen(ctx->name), seq, ts_ms);
    klaw_envelope_write_data(w, &h, (klaw_mp_raw){(const uint8_t *)ctx->mp.p, ctx->mp.len});
}

/* mpmc and broadcast: claim, write the envelope in place (it carries the
 * frame's own seq, known once claimed), commit. */
static int send_claimed(send_ctx *ctx)
{
    size_t len = ctx->mp.len;
    if (len > ctx->max_frame)
        return send_status(ctx, KLAW_TOOBIG, len);
    size_t want = len + ENVELOPE_OVERHEAD < ctx->max_frame ? len + ENVELOPE_OVERHEAD : ctx->max_frame;
    klaw_frame f;
    klaw_status st = ctx->mpmc ? klaw_mpmc_claim(ctx->mpmc, want, ctx->deadline, &f)
                               : klaw_bcast_claim(ctx->bcast, want, ctx->deadline, &f);
    if (st != KLAW_OK)
        return send_status(ctx, st, len);
    klaw_mp_writer w;
    klaw_mp_writer_init(&w, f.data, f.cap);
    write_envelope(ctx, &w, f.seq);
    size_t flen;
    st = klaw_mp_writer_finish(&w, &flen);
    if (st != KLAW_OK) {
        if (ctx->mpmc)
            klaw_mpmc_abort(ctx->mpmc, &f);
        else
            klaw_bcast_abort(ctx->bcast, &f);
        return send_status(ctx, st, klaw_mp_writer_needed(&w));
    }
    st = ctx->mpmc ? klaw_mpmc_commit(ctx->mpmc, &f, flen) : klaw_bcast_commit(ctx->bcast, &f, flen);
    return send_status(ctx, st, flen);
}

/* Sends ctx->mp as one frame (wrapped when ctx->envelope). */
static int send_frame(send_ctx *ctx)
{
    if (ctx->envelope && (ctx->mpmc || ctx->bcast))
        return send_claimed(ctx);
    const void *data = ctx->mp.p;
    size_t len = ctx->mp.len;
    if (ctx->envelope) {
        size_t need = len + ENVELOPE_OVERHEAD;
        if (!buf_reserve(&ctx->frame, need))
            return fail_msg("out of memory");
        klaw_mp_writer w;
        klaw_mp_writer_init(&w, ctx->frame.p, need);
        write_envelope(ctx, &w, ctx->watch ? ctx->next_version : 0);
        if (klaw_mp_writer_finish(&w, &len) != KLAW_OK)
            return fail_msg("out of memory");
        data = ctx->frame.p;
    }
    if (len > ctx->max_frame)
        return send_status(ctx, KLAW_TOOBIG, len);
    klaw_status st;
    if (ctx->mpmc)
        st = klaw_mpmc_send(ctx->mpmc, data, len, ctx->deadline);
    else if (ctx->bcast)
        st = klaw_bcast_send(ctx->bcast, data, len, ctx->deadline);
    else if (ctx->watch) {
        st = klaw_watch_send(ctx->watch, data, len, NULL);
        ctx->next_version++;
    } else
        st = klaw_oneshot_send(ctx->oneshot, data, len);
    return send_status(ctx, st, len);
}

/* Takes a sender handle of the channel's kind. */
static int send_open(send_ctx *ctx)
{
    klaw_status st;
    switch (ctx->kind) {
    case KLAW_CHANNEL_MPMC: st = klaw_mpmc_open_tx(ctx->name, &ctx->mpmc); break;
    case KLAW_CHANNEL_BROADCAST: st = klaw_bcast_open_tx(ctx->name, &ctx->bcast); break;
    case KLAW_CHANNEL_WATCH: st = klaw_watch_open_tx(ctx->name, &ctx->watch); break;
    default: st = klaw_oneshot_open_tx(ctx->name, &ctx->oneshot); break;
    }
    if (st == KLAW_OK)
        return 0;
    if (ctx->kind == KLAW_CHANNEL_ONESHOT && st == KLAW_FULL)
        return fail_msg("oneshot '%s': another process holds the sender role", ctx->name);
    if (ctx->kind == KLAW_CHANNEL_ONESHOT && st == KLAW_CLOSED)
        return fail_msg("oneshot '%s': its sender role was given up", ctx->name);
    if (st == KLAW_CLOSED)
        return fail_msg("channel '%s' is closed to senders", ctx->name);
    if (st == KLAW_FULL)
        return fail_msg("channel '%s' has no free handle for another sender", ctx->name);
    return kind_open_error(ctx->name, st, ctx->kind);
}

static void send_close(send_ctx *ctx)
{
    klaw_mpmc_tx_free(ctx->mpmc);
    klaw_bcast_tx_free(ctx->bcast);
    klaw_watch_tx_free(ctx->watch);
    klaw_oneshot_tx_free(ctx->oneshot);
}

int cmd_send(int argc, char **argv)
{
    static const opt_spec specs[] = {{"--envelope", NULL, false},
                                     {"--lines", NULL, false},
                                     {"--timeout", NULL, true},
                                     {NULL, NULL, false}};
    cmd_args a;
    int rc = parse_opts("send", argc, argv, specs, 2, NULL, &a);
    if (rc)
        return rc;
    if (a.help) {
        fputs(send_help, stdout);
        return 0;
    }
    if (a.n_ops < 1) {
        fprintf(stderr, "klaw send: which channel? (see klaw send --help)\n");
        return EXIT_USAGE;
    }
    if (a.seen[1] && a.n_ops == 2) {
        fprintf(stderr, "klaw send: --lines reads stdin; give no JSON argument\n");
        return EXIT_USAGE;
    }
    uint64_t timeout_ms = 0;
    if (a.seen[2] && !parse_count(a.vals[2], (uint64_t)INT64_MAX / 1000000, &timeout_ms)) {
        fprintf(stderr, "klaw send: --timeout wants milliseconds, not '%s'\n", a.vals[2]);
        return EXIT_USAGE;
    }
    send_ctx ctx = {.name = a.ops[0], .envelope = a.seen[0]};
    struct timespec dl;
    if (a.seen[2]) {
        dl = klaw_deadline_in_ms((int64_t)timeout_ms);
        ctx.deadline = &dl;
    }

    buf in = {0};
    if (a.n_ops == 2) {
        if (!buf_append(&in, a.ops[1], strlen(a.ops[1])))
            return fail_msg("out of memory");
    } else if ((rc = read_input(NULL, &in))) {
        return rc;
    }
    klaw_channel *ch;
    if ((rc = open_channel(ctx.name, &ch))) {
        buf_free(&in);
        return rc;
    }
    ctx.kind = klaw_channel_kind(ch);
    ctx.max_frame = klaw_channel_meta(ch)->max_frame;
    ctx.policy = klaw_channel_meta(ch)->policy;
    if (ctx.kind == KLAW_CHANNEL_ONESHOT) {
        /* a second send would find the sender role given up: say why */
        klaw_channel_stats s;
        if (klaw_channel_read_stats(ch, &s) == KLAW_OK && s.total_sent) {
            klaw_channel_close(ch);
            buf_free(&in);
            return send_status(&ctx, KLAW_ALREADY_SENT, 0);
        }
    }
    if (ctx.kind == KLAW_CHANNEL_WATCH && ctx.envelope) {
        /* the version the next value will get (another sender may come
         * first: then the envelope's seq is off by what it sent) */
        klaw_channel_stats s;
        if (klaw_channel_read_stats(ch, &s) == KLAW_OK)
            ctx.next_version = (uint64_t)s.total_sent + 1;
    }
    klaw_channel_close(ch);
    /* a single value is checked before anything is opened; with --lines,
     * each line just before it is sent */
    if (!a.seen[1] && (rc = encode_json(&ctx, in.p, in.len, 0))) {
        buf_free(&in);
        buf_free(&ctx.mp);
        return rc;
    }
    if ((rc = send_open(&ctx))) {
        buf_free(&in);
        buf_free(&ctx.mp);
        return rc;
    }
    if (!a.seen[1]) {
        rc = send_frame(&ctx);
    } else {
        for (size_t at = 0; at < in.len && !rc;) {
            const char *nl = memchr(in.p + at, '\n', in.len - at);
            size_t end = nl ? (size_t)(nl - in.p) : in.len;
            size_t i = at;
            while (i < end && (in.p[i] == ' ' || in.p[i] == '\t' || in.p[i] == '\r'))
                i++;
            if (i < end && !(rc = encode_json(&ctx, in.p + at, end - at, at)))
                rc = send_frame(&ctx);
            at = end + 1;
        }
    }
    send_close(&ctx);
    buf_free(&in);
    buf_free(&ctx.mp);
    buf_free(&ctx.frame);
    return rc;
}
