/*
 * channels.c - the channel commands that look at channels without taking
 * part in them (ls, stat) and rm, which removes their names.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "klaw_tool.h"

/* ---- ls ------------------------------------------------------------------- */

static const char ls_help[] =
    "usage: klaw ls [--json]\n"
    "\n"
    "Lists the channels in /dev/shm (objects named klaw.<name>), sorted by\n"
    "name, with their kind, capacity, max_frame and creator (host:pid) from\n"
    "each channel's metadata record. A channel that cannot be opened is still\n"
    "listed, with the reason (\"corrupt: ...\").\n"
    "\n"
    "With --json, prints each channel's ChannelMetadata record as one JSON\n"
    "object a line; one that cannot be opened prints\n"
    "{\"name\":\"<name>\",\"error\":\"<reason>\"}.\n";

typedef struct ls_row {
    char *cols[5];
} ls_row;

typedef struct ls_ctx {
    bool json;
    buf out;
    ls_row *rows;
    size_t n, cap;
} ls_ctx;

static klaw_status ls_one(void *ctxv, const char *name)
{
    ls_ctx *ctx = ctxv;
    klaw_channel *ch;
    const char *why = NULL;
    klaw_status st = klaw_channel_open(name, 0, &ch, &why);
    if (ctx->json) {
        if (st == KLAW_OK) {
            st = klaw_channel_meta_json(ch, buf_write_fn, &ctx->out);
            klaw_channel_close(ch);
            if (st != KLAW_OK)
                return st;
        } else {
            /* names are [A-Za-z0-9._-] and reasons plain text: no escaping */
            char line[512];
            int n = snprintf(line, sizeof line, "{\"name\":\"%s\",\"error\":\"%s\"}", name,
                             st == KLAW_TIMEOUT ? "being created" : why);
            if (!buf_append(&ctx->out, line, (size_t)n))
                return KLAW_NOMEM;
        }
        return buf_append(&ctx->out, "\n", 1) ? KLAW_OK : KLAW_NOMEM;
    }
    if (ctx->n == ctx->cap) {
        size_t ncap = ctx->cap ? ctx->cap * 2 : 16;
        ls_row *p = realloc(ctx->rows, ncap * sizeof *p);
        if (!p)
            return KLAW_NOMEM;
        ctx->rows = p;
        ctx->cap = ncap;
    }
    char c[4][320];
    if (st == KLAW_OK) {
        const klaw_channel_metadata *m = klaw_channel_meta(ch);
        snprintf(c[0], sizeof c[0], "%s", klaw_channel_type_name(m->channel_type));
        if (m->has_capacity)
            snprintf(c[1], sizeof c[1], "%lld", (long long)m->capacity);
        else
            snprintf(c[1], sizeof c[1], "unbounded");
        snprintf(c[2], sizeof c[2], "%u", m->max_frame);
        snprintf(c[3], sizeof c[3], "%.*s", STR_ARGS(m->creator));
        klaw_channel_close(ch);
    } else {
        snprintf(c[0], sizeof c[0], "?");
        snprintf(c[1], sizeof c[1], "-");
        snprintf(c[2], sizeof c[2], "-");
        if (st == KLAW_TIMEOUT)
            snprintf(c[3], sizeof c[3], "(being created)");
        else if (st == KLAW_CORRUPT)
            snprintf(c[3], sizeof c[3], "(corrupt: %s)", why);
        else
            snprintf(c[3], sizeof c[3], "(%s)", why);
    }
    ls_row *row = &ctx->rows[ctx->n];
    row->cols[0] = strdup(name);
    for (int i = 0; i < 4; i++)
        row->cols[i + 1] = strdup(c[i]);
    ctx->n++;
    for (int i = 0; i < 5; i++)
        if (!row->cols[i])
            return KLAW_NOMEM;
    return KLAW_OK;
}

int cmd_ls(int argc, char **argv)
{
    static const opt_spec specs[] = {{"--json", NULL, false}, {NULL, NULL, false}};
    cmd_args a;
    int rc = parse_opts("ls", argc, argv, specs, 0, NULL, &a);
    if (rc)
        return rc;
    if (a.help) {
        fputs(ls_help, stdout);
        return 0;
    }
    ls_ctx ctx = {.json = a.seen[0]};
    klaw_status st = klaw_channel_list(ls_one, &ctx);
    if (st == KLAW_SYS)
        rc = fail_msg("cannot read /dev/shm: %s", strerror(errno));
    else if (st != KLAW_OK)
        rc = fail_msg("ls: %s", klaw_strerror(st));
    if (!rc && !ctx.json) {
        static const char *const heads[5] = {"NAME", "KIND", "CAPACITY", "MAX_FRAME", "CREATOR"};
        size_t w[5];
        for (int i = 0; i < 5; i++) {
            w[i] = strlen(heads[i]);
            for (size_t r = 0; r < ctx.n; r++)
                if (strlen(ctx.rows[r].cols[i]) > w[i])
                    w[i] = strlen(ctx.rows[r].cols[i]);
        }
        for (size_t r = 0; r <= ctx.n && !rc; r++) {
            for (int i = 0; i < 5; i++) {
                const char *cell = r == 0 ? heads[i] : ctx.rows[r - 1].cols[i];
                char pad[512];
                int n = i < 4 ? snprintf(pad, sizeof pad, "%-*s  ", (int)w[i], cell)
                              : snprintf(pad, sizeof pad, "%s\n", cell);
                /* cells are at most 320 bytes: a line piece always fits */
                if (n < 0 || (size_t)n >= sizeof pad || !buf_append(&ctx.out, pad, (size_t)n)) {
                    rc = fail_msg("out of memory");
                    break;
                }
            }
        }
    }
    if (!rc)
        rc = write_out(ctx.out.p, ctx.out.len);
    for (size_t r = 0; r < ctx.n; r++)
        for (int i = 0; i < 5; i++)
            free(ctx.rows[r].cols[i]);
    free(ctx.rows);
    buf_free(&ctx.out);
    return rc;
}

/* ---- stat ----------------------------------------------------------------- */

static const char stat_help[] =
    "usage: klaw stat [--json] NAME\n"
    "\n"
    "Shows a channel without taking part in it (no handle is taken, no count\n"
    "or cursor moves): its metadata record (kind, capacity, max_frame,\n"
    "policy, value type, created_at, creator), its counters (senders,\n"
    "receivers, queue size, high watermark, totals, closed flags, and the\n"
    "kind's own: aborted claims, redelivered frames, lagged frames, evicted\n"
    "readers, ...) and its registered readers (broadcast), each with its lag\n"
    "(frames between it and the writers: still to read, or missed if the\n"
    "writer laps it) and how long ago it was last seen (readers refresh\n"
    "that every 1024 frames and whenever they wait).\n"
    "\n"
    "Numbers are written for people: sizes in B, KiB, MiB (4 KiB), counts\n"
    "from 100000 up with three digits and k, M, G (17.4 M), ages in ms, s,\n"
    "min, h, d.\n"
    "\n"
    "With --json, prints one JSON object with the exact values:\n"
    "  {\"metadata\":<ChannelMetadata>,\"stats\":<ChannelStats>,\n"
    "   \"readers\":[<ReaderInfo>, ...]}\n"
    "where each ReaderInfo record also has \"lag\" (frames) and\n"
    "\"last_seen_age_ms\" (milliseconds since last_seen_at).\n"
    "A missing or corrupt channel: exit status 1 and a message.\n";

/* What stat shows of the registered readers: their records, lags, and the
 * time the ages are counted to. */
typedef struct readers_view {
    const klaw_reader_info *rd;
    const uint64_t *lag;
    size_t n;
    struct timespec now;
} readers_view;

static int64_t age_ns(struct timespec now, struct timespec then)
{
    return (int64_t)(now.tv_sec - then.tv_sec) * 1000000000 + (now.tv_nsec - then.tv_nsec);
}

/* Appends "  key  value" lines for each entry of a MessagePack map (the
 * stats' backend_extras), values as JSON. */
static klaw_status extras_text(klaw_mp_raw extras, buf *b)
{
    if (extras.len == 0)
        return KLAW_OK;
    klaw_mp_reader r;
    klaw_mp_reader_init(&r, extras.ptr, extras.len);
    uint32_t n;
    klaw_status st = klaw_mp_read_map(&r, &n);
    for (uint32_t i = 0; i < n && st == KLAW_OK; i++) {
        const char *k;
        uint32_t klen;
        if ((st = klaw_mp_read_str(&r, &k, &klen)) != KLAW_OK)
            break;
        if ((klen == 9 && memcmp(k, "max_frame", 9) == 0) || (klen == 6 && memcmp(k, "policy", 6) == 0)) {
            st = klaw_mp_skip(&r); /* shown with the metadata */
            continue;
        }
        if (!buf_printf(b, "%-16.*s", (int)klen, k))
            return KLAW_NOMEM;
        if (klaw_mp_peek_type(&r) == KLAW_MP_UINT) {
            uint64_t v;
            char num[32];
            if ((st = klaw_mp_read_uint_max(&r, UINT64_MAX, &v)) != KLAW_OK)
                break;
            /* value_len is a size; version a name, not an amount */
            if (klen == 9 && memcmp(k, "value_len", 9) == 0)
                format_size(v, num, sizeof num);
            else if (klen == 7 && memcmp(k, "version", 7) == 0)
                snprintf(num, sizeof num, "%llu", (unsigned long long)v);
            else
                format_count(v, num, sizeof num);
            if (!buf_printf(b, "%s", num))
                return KLAW_NOMEM;
        } else if ((st = klaw_json_from_mp(&r, buf_write_fn, b)) != KLAW_OK) {
            break;
        }
        if (!buf_append(b, "\n", 1))
            return KLAW_NOMEM;
    }
    return st;
}

static klaw_status stat_text(klaw_channel *ch, const klaw_channel_stats *s, bool have_stats,
                             const readers_view *rv, buf *b)
{
    const klaw_channel_metadata *m = klaw_channel_meta(ch);
    char when[80], n1[32];
    bool ok = buf_printf(b, "%-16s%s\n", "channel", klaw_channel_name(ch)) &&
              buf_printf(b, "%-16s%s\n", "kind", klaw_channel_type_name(m->channel_type));
    if (ok && m->has_capacity) {
        format_count(m->capacity > 0 ? (uint64_t)m->capacity : 0, n1, sizeof n1);
        ok = buf_printf(b, "%-16s%s\n", "capacity", n1);
    } else if (ok) {
        ok = buf_printf(b, "%-16s%s\n", "capacity", m->unbounded ? "unbounded" : "none");
    }
    format_size(m->max_frame, n1, sizeof n1);
    ok = ok && buf_printf(b, "%-16s%s\n", "max_frame", n1);
    if (ok && m->policy != KLAW_POLICY_NONE)
        ok = buf_printf(b, "%-16s%s\n", "policy",
                        m->policy == KLAW_POLICY_OVERWRITE ? "overwrite"
                        : m->policy == KLAW_POLICY_BLOCK   ? "block"
                                                           : "?");
    if (ok && m->has_value_type)
        ok = buf_printf(b, "%-16s%.*s\n", "value_type", STR_ARGS(m->value_type));
    format_time(m->created_at, when, sizeof when);
    ok = ok && buf_printf(b, "%-16s%s\n", "created_at", when) &&
         buf_printf(b, "%-16s%.*s\n", "creator", STR_ARGS(m->creator));
    if (!ok)
        return KLAW_NOMEM;
    if (!have_stats)
        return KLAW_OK;
    const char *closed = s->senders_closed && s->receivers_closed ? "senders, receivers"
                         : s->senders_closed                       ? "senders"
                         : s->receivers_closed                     ? "receivers"
                                                                   : "no";
    const struct {
        const char *key;
        int64_t v;
    } counts[] = {{"senders", s->sender_count},       {"receivers", s->receiver_count},
                  {"queue_size", s->queue_size},      {"high_watermark", s->high_watermark},
                  {"total_sent", s->total_sent},      {"total_received", s->total_received}};
    ok = buf_printf(b, "\n");
    for (size_t i = 0; ok && i < sizeof counts / sizeof counts[0]; i++) {
        format_count(counts[i].v > 0 ? (uint64_t)counts[i].v : 0, n1, sizeof n1);
        ok = buf_printf(b, "%-16s%s\n", counts[i].key, n1);
    }
    if (!ok || !buf_printf(b, "%-16s%s\n", "closed", closed))
        return KLAW_NOMEM;
    klaw_status st = extras_text(s->backend_extras, b);
    if (st != KLAW_OK || klaw_channel_kind(ch) != KLAW_CHANNEL_BROADCAST)
        return st;
    if (!buf_printf(b, "\nreaders         %zu\n", rv->n))
        return KLAW_NOMEM;
    if (rv->n && !buf_printf(b, "  %-20s %-24s %8s %12s %9s  %s\n", "READER_ID", "NODE", "LAG", "LAST_SEEN",
                             "RECEIVED", "REGISTERED_AT"))
        return KLAW_NOMEM;
    for (size_t i = 0; i < rv->n; i++) {
        const klaw_reader_info *r = &rv->rd[i];
        char reg[80], age[32], lag[32], got[32];
        format_time(r->registered_at, reg, sizeof reg);
        format_age(age_ns(rv->now, r->last_seen_at), age, sizeof age);
        format_count(rv->lag[i], lag, sizeof lag);
        format_count(r->total_received > 0 ? (uint64_t)r->total_received : 0, got, sizeof got);
        if (!buf_printf(b, "  %-20.*s %-24.*s %8s %8s ago %9s  %s\n", STR_ARGS(r->reader_id), STR_ARGS(r->node_id),
                        lag, age, got, reg))
            return KLAW_NOMEM;
    }
    return KLAW_OK;
}

static klaw_status stat_json(klaw_channel *ch, const klaw_channel_stats *s, bool have_stats,
                             const readers_view *rv, buf *b)
{
    if (!buf_printf(b, "{\"metadata\":"))
        return KLAW_NOMEM;
    klaw_status st = klaw_channel_meta_json(ch, buf_write_fn, b);
    if (st != KLAW_OK)
        return st;
    if (!buf_printf(b, ",\"stats\":"))
        return KLAW_NOMEM;
    if (!have_stats) {
        if (!buf_printf(b, "null"))
            return KLAW_NOMEM;
    } else if ((st = klaw_record_json(KLAW_RECORD_CHANNEL_STATS, s, buf_write_fn, b)) != KLAW_OK) {
        return st;
    }
    if (!buf_printf(b, ",\"readers\":["))
        return KLAW_NOMEM;
    for (size_t i = 0; i < rv->n; i++) {
        if (i && !buf_append(b, ",", 1))
            return KLAW_NOMEM;
        if ((st = klaw_record_json(KLAW_RECORD_READER_INFO, &rv->rd[i], buf_write_fn, b)) != KLAW_OK)
            return st;
        /* the record is one object: its closing brace makes room for two
         * fields that are no part of klaw-core's ReaderInfo */
        if (b->len == 0 || b->p[b->len - 1] != '}')
            return KLAW_INVAL;
        b->len--;
        int64_t age = age_ns(rv->now, rv->rd[i].last_seen_at);
        if (!buf_printf(b, ",\"lag\":%llu,\"last_seen_age_ms\":%lld}", (unsigned long long)rv->lag[i],
                        (long long)(age > 0 ? age / 1000000 : 0)))
            return KLAW_NOMEM;
    }
    return buf_printf(b, "]}\n") ? KLAW_OK : KLAW_NOMEM;
}

int cmd_stat(int argc, char **argv)
{
    static const opt_spec specs[] = {{"--json", NULL, false}, {NULL, NULL, false}};
    cmd_args a;
    int rc = parse_opts("stat", argc, argv, specs, 1, NULL, &a);
    if (rc)
        return rc;
    if (a.help) {
        fputs(stat_help, stdout);
        return 0;
    }
    if (a.n_ops != 1) {
        fprintf(stderr, "klaw stat: which channel? (see klaw stat --help)\n");
        return EXIT_USAGE;
    }
    const char *name = a.ops[0];
    klaw_channel *ch;
    if ((rc = open_channel(name, &ch)))
        return rc;

    klaw_channel_stats s;
    klaw_status sst = klaw_channel_read_stats(ch, &s);
    klaw_reader_info *rd = NULL;
    size_t nr = 0, rd_cap = 0;
    klaw_status rst = sst == KLAW_OK ? klaw_channel_readers(ch, NULL, 0, &nr) : sst;
    /* the registry may grow between counting and reading: retry */
    for (int tries = 0; rst == KLAW_OK && nr > 0 && tries < 8; tries++) {
        size_t want = nr + 8;
        klaw_reader_info *p = realloc(rd, want * sizeof *p);
        if (!p) {
            rst = KLAW_NOMEM;
            break;
        }
        rd = p;
        rd_cap = want;
        rst = klaw_channel_readers(ch, rd, want, &nr);
        if (rst == KLAW_OK && nr <= want)
            break;
    }
    if (nr > rd_cap)
        nr = rd_cap; /* (still growing after 8 tries: the first rd_cap) */
    bool have = sst == KLAW_OK && rst == KLAW_OK;
    readers_view rv = {.rd = rd, .n = have ? nr : 0};
    uint64_t *lags = rv.n ? calloc(rv.n, sizeof *lags) : NULL;
    if (rv.n && !lags) {
        rst = KLAW_NOMEM;
        have = false;
        rv.n = 0;
    } else if (rv.n) {
        klaw_channel_reader_lags(ch, lags, rv.n);
    }
    rv.lag = lags;
    clock_gettime(CLOCK_REALTIME, &rv.now);
    buf out = {0};
    klaw_status st = a.seen[0] ? stat_json(ch, &s, have, &rv, &out) : stat_text(ch, &s, have, &rv, &out);
    if (st != KLAW_OK)
        rc = fail_msg("stat: %s", klaw_strerror(st));
    else
        rc = write_out(out.p, out.len);
    if (!rc && !have) {
        klaw_status bad = sst != KLAW_OK ? sst : rst;
        if (bad == KLAW_CORRUPT)
            rc = fail_msg("channel '%s' is corrupt: its %s layout fails validation", name,
                          klaw_channel_type_name(klaw_channel_kind(ch)));
        else if (bad == KLAW_INVAL)
            rc = fail_msg("channel '%s': this klaw cannot read the counters of %s channels yet", name,
                          klaw_channel_type_name(klaw_channel_kind(ch)));
        else
            rc = fail_msg("channel '%s': cannot read its counters: %s", name, klaw_strerror(bad));
    }
    free(lags);
    free(rd);
    buf_free(&out);
    klaw_channel_close(ch);
    return rc;
}

/* ---- rm ------------------------------------------------------------------------ */

static const char rm_help[] =
    "usage: klaw rm NAME...\n"
    "\n"
    "Removes each channel's name (/dev/shm/klaw.<name>). Processes that have\n"
    "it open keep using it; it is freed when the last one lets go. A name\n"
    "that does not exist: a message, exit status 1 (the others are still\n"
    "removed).\n";

int cmd_rm(int argc, char **argv)
{
    cmd_args a;
    int rc = parse_opts("rm", argc, argv, NULL, 64, NULL, &a);
    if (rc)
        return rc;
    if (a.help) {
        fputs(rm_help, stdout);
        return 0;
    }
    if (a.n_ops == 0) {
        fprintf(stderr, "klaw rm: which channel? (see klaw rm --help)\n");
        return EXIT_USAGE;
    }
    for (int i = 0; i < a.n_ops; i++) {
        klaw_status st = klaw_region_unlink(a.ops[i]);
        if (st != KLAW_OK)
            rc = channel_error(a.ops[i], st, NULL);
    }
    return rc;
}
