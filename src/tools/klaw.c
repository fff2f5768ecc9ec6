/*
 * klaw.c - the `klaw` command-line tool.
 *
 *   klaw decode [--stream] [--envelope] [FILE]
 *                                   MessagePack -> JSON, one line per value
 *                                   (--envelope: wire envelopes, fields named)
 *   klaw encode [FILE]              JSON -> MessagePack
 *   klaw ls [--json]                the channels in /dev/shm
 *   klaw stat [--json] NAME         metadata, counters, readers of a channel
 *   klaw tail [-n N] [--follow] [--consume] [--raw] NAME
 *                                   frames as JSON (envelopes decoded)
 *   klaw send [--envelope] [--lines] [--timeout MS] NAME [JSON]
 *                                   JSON in, one MessagePack frame out
 *   klaw rm NAME...                 remove channels' names
 *   klaw --help | --version
 *
 * Each subcommand is one entry in the `commands` table below, with a
 * function taking the arguments after its name; a new subcommand (ls, stat,
 * tail, send, rm) is a new function and a new row.
 *
 * Exit status: 0 on success, 1 when the input is malformed or an I/O or
 * memory error happens (a message `klaw: ...` on stderr), 2 for a usage
 * error. A value's text reaches stdout only when the whole value converted:
 * output is built in memory first, so a malformed value prints nothing.
 * Input is read whole into a buffer that doubles as it grows; the output
 * of a value is at most a small multiple of its input, so memory stays in
 * proportion to the input whatever it holds.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "klaw/channel.h"
#include "klaw/klaw.h"

#define EXIT_USAGE 2

/* ---- growable byte buffer ---------------------------------------------- */

typedef struct buf {
    char *p;
    size_t len;
    size_t cap;
} buf;

/* Makes room for `more` bytes past len; false when out of memory. */
static bool buf_reserve(buf *b, size_t more)
{
    if (more <= b->cap - b->len)
        return true;
    if (more > SIZE_MAX / 2 - b->len)
        return false;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < more)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p)
        return false;
    b->p = p;
    b->cap = cap;
    return true;
}

static bool buf_append(buf *b, const void *data, size_t len)
{
    if (!buf_reserve(b, len))
        return false;
    memcpy(b->p + b->len, data, len);
    b->len += len;
    return true;
}

static void buf_free(buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* klaw_json_write_fn appending to a buf. */
static klaw_status buf_write_fn(void *ctx, const char *data, size_t len)
{
    return buf_append(ctx, data, len) ? KLAW_OK : KLAW_NOMEM;
}

/* ---- I/O ---------------------------------------------------------------- */

/* Prints "klaw: <message>" on stderr; returns EXIT_FAILURE. */
__attribute__((format(printf, 1, 2))) static int fail_msg(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("klaw: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return EXIT_FAILURE;
}

/* Reads all of path ("-" or NULL: stdin) into *b. Returns 0 or prints why
 * and returns EXIT_FAILURE. */
static int read_input(const char *path, buf *b)
{
    int fd = 0;
    bool is_stdin = !path || strcmp(path, "-") == 0;
    if (!is_stdin) {
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return fail_msg("cannot open %s: %s", path, strerror(errno));
    }
    struct stat sb;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0)
        buf_reserve(b, (size_t)sb.st_size + 1); /* a hint; reading decides */
    int rc = 0;
    for (;;) {
        if (!buf_reserve(b, 65536)) {
            rc = fail_msg("out of memory reading input");
            break;
        }
        ssize_t n = read(fd, b->p + b->len, b->cap - b->len);
        if (n > 0) {
            b->len += (size_t)n;
        } else if (n == 0) {
            break;
        } else if (errno != EINTR) {
            rc = fail_msg("cannot read %s: %s", is_stdin ? "stdin" : path, strerror(errno));
            break;
        }
    }
    if (!is_stdin)
        close(fd);
    return rc;
}

/* Writes all of data to stdout. Returns 0 or prints why and returns
 * EXIT_FAILURE. */
static int write_out(const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t n = write(1, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return fail_msg("cannot write output: %s", strerror(errno));
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* ---- option parsing shared by the subcommands ------------------------- */

/* Splits argv (after the subcommand's name) into flags this command knows
 * (`flags`: NULL-terminated long names, matched into seen[]) and at most
 * one FILE operand. Returns 0, or prints a usage error and returns
 * EXIT_USAGE. "-h"/"--help" sets *help. */
static int parse_args(const char *cmd, int argc, char **argv, const char *const *flags, bool *seen,
                      const char **file, bool *help)
{
    bool operands_only = false;
    *file = NULL;
    *help = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!operands_only && strcmp(a, "--") == 0) {
            operands_only = true;
            continue;
        }
        if (!operands_only && a[0] == '-' && a[1] != '\0') {
            if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
                *help = true;
                continue;
            }
            bool known = false;
            for (int k = 0; flags && flags[k]; k++) {
                if (strcmp(a, flags[k]) == 0) {
                    seen[k] = true;
                    known = true;
                }
            }
            if (!known) {
                fprintf(stderr, "klaw %s: unknown option '%s' (see klaw %s --help)\n", cmd, a, cmd);
                return EXIT_USAGE;
            }
            continue;
        }
        if (*file) {
            fprintf(stderr, "klaw %s: more than one input file (see klaw %s --help)\n", cmd, cmd);
            return EXIT_USAGE;
        }
        *file = a;
    }
    return 0;
}

/* ---- decode -------------------------------------------------------------- */

static const char decode_help[] =
    "usage: klaw decode [--stream] [--envelope] [FILE]\n"
    "\n"
    "Reads one MessagePack value from FILE (or stdin, or when FILE is -) and\n"
    "prints it as JSON on one line. With --stream, reads a sequence of values\n"
    "and prints one JSON line for each.\n"
    "\n"
    "With --envelope, each value is a wire envelope (klaw-core's wire v1) and\n"
    "prints with named fields:\n"
    "  {\"type\":\"data\",\"header\":{\"version\":1,\"kind\":1,\"channel_id\":\"c\",\n"
    "   \"seq\":5,\"ts_ms\":1700000000000},\"payload\":...}\n"
    "(control: action, metadata; heartbeat: sender_id; ack: acked_seq, status;\n"
    "error: code, message, details).\n"
    "\n"
    "Malformed input: exit status 1, nothing printed for the bad value, and\n"
    "'klaw: decode error at byte N: <reason>' on stderr (N counts from the\n"
    "start of the input). An envelope of the wrong shape: exit status 1 and\n"
    "'klaw: validation error at byte N: <message> - at `<path>`'.\n";

/* Reads the next envelope (--envelope) and appends its JSON to val. Without
 * --stream the envelope must be the whole input. */
static klaw_status decode_envelope(klaw_mp_reader *r, bool stream, buf *val, klaw_envelope_error *err)
{
    klaw_envelope env;
    klaw_status st;
    if (stream) {
        st = klaw_envelope_read(r, &env, err);
    } else {
        st = klaw_envelope_validate(r->start, (size_t)(r->end - r->start), &env, err);
        r->pos = r->end;
    }
    if (st == KLAW_OK)
        st = klaw_envelope_to_json(&env, buf_write_fn, val, err);
    return st;
}

static int report_envelope_error(const klaw_envelope_error *err, klaw_status st)
{
    if (err->status == KLAW_DECODE || err->status == KLAW_VALIDATE) {
        char msg[512];
        klaw_envelope_error_format(err, msg, sizeof msg);
        fprintf(stderr, "klaw: %s\n", msg);
    } else {
        fprintf(stderr, "klaw: decode failed: %s\n", klaw_strerror(st));
    }
    return EXIT_FAILURE;
}

static int report_decode_error(const klaw_mp_reader *r, klaw_status st)
{
    if (r->err.status != KLAW_OK) {
        char msg[256];
        klaw_mp_error_format(&r->err, msg, sizeof msg);
        fprintf(stderr, "klaw: %s\n", msg);
    } else {
        fprintf(stderr, "klaw: decode failed: %s\n", klaw_strerror(st));
    }
    return EXIT_FAILURE;
}

static int cmd_decode(int argc, char **argv)
{
    static const char *const flags[] = {"--stream", "--envelope", NULL};
    bool seen[2] = {false, false};
    const char *file;
    bool help;
    int rc = parse_args("decode", argc, argv, flags, seen, &file, &help);
    if (rc)
        return rc;
    if (help) {
        fputs(decode_help, stdout);
        return 0;
    }
    bool stream = seen[0];
    bool envelope = seen[1];
    klaw_envelope_error env_err;

    buf in = {0}, val = {0}, out = {0};
    rc = read_input(file, &in);
    if (rc)
        goto done;

    klaw_mp_reader r;
    klaw_mp_reader_init(&r, in.p, in.len);
    /* one value; or, with --stream, as many as there are (maybe none) */
    bool more = !stream || klaw_mp_reader_remaining(&r) > 0;
    while (more) {
        /* each value is converted whole into val before any of it shows */
        val.len = 0;
        klaw_status st;
        if (envelope) {
            st = decode_envelope(&r, stream, &val, &env_err);
        } else {
            st = klaw_json_from_mp(&r, buf_write_fn, &val);
            if (st == KLAW_OK && !stream)
                st = klaw_mp_reader_finish(&r);
        }
        if (st == KLAW_OK && !buf_append(&val, "\n", 1))
            st = KLAW_NOMEM;
        if (st != KLAW_OK) {
            rc = write_out(out.p, out.len);
            if (!rc)
                rc = envelope ? report_envelope_error(&env_err, st) : report_decode_error(&r, st);
            goto done;
        }
        /* values go out in batches of about 64 KiB; a big one by itself,
         * without a copy */
        if (out.len == 0 && val.len >= 65536) {
            rc = write_out(val.p, val.len);
        } else if (!buf_append(&out, val.p, val.len)) {
            rc = fail_msg("out of memory");
        } else if (out.len >= 65536) {
            rc = write_out(out.p, out.len);
            out.len = 0;
        }
        if (rc)
            goto done;
        more = stream && klaw_mp_reader_remaining(&r) > 0;
    }
    rc = write_out(out.p, out.len);

done:
    buf_free(&in);
    buf_free(&val);
    buf_free(&out);
    return rc;
}

/* ---- encode -------------------------------------------------------------- */

static const char encode_help[] =
    "usage: klaw encode [FILE]\n"
    "\n"
    "Reads one JSON value (RFC 8259, strict) from FILE (or stdin, or when FILE\n"
    "is -) and writes its MessagePack encoding to stdout.\n"
    "\n"
    "Malformed input: exit status 1, nothing written, and\n"
    "'klaw: encode error at byte N: <reason>' on stderr.\n";

static int cmd_encode(int argc, char **argv)
{
    const char *file;
    bool help;
    int rc = parse_args("encode", argc, argv, NULL, NULL, &file, &help);
    if (rc)
        return rc;
    if (help) {
        fputs(encode_help, stdout);
        return 0;
    }

    buf in = {0}, out = {0};
    rc = read_input(file, &in);
    if (rc)
        goto done;

    /* MessagePack from JSON is at most about 3 bytes per byte of text (a
     * 3-character float becomes 9 bytes); if a guess is short, the writer
     * says exactly how much is needed and the second try fits. */
    size_t guess = in.len <= (SIZE_MAX - 64) / 3 ? in.len * 3 + 64 : SIZE_MAX;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!buf_reserve(&out, guess)) {
            rc = fail_msg("out of memory");
            goto done;
        }
        klaw_mp_writer w;
        klaw_json_error err;
        klaw_mp_writer_init(&w, out.p, out.cap);
        klaw_status st = klaw_json_to_mp(in.p, in.len, &w, &err);
        if (st == KLAW_OK) {
            rc = write_out(out.p, klaw_mp_writer_len(&w));
            goto done;
        }
        if (st != KLAW_TOOBIG) {
            fprintf(stderr, "klaw: encode error at byte %zu: %s\n", err.offset, err.reason);
            rc = EXIT_FAILURE;
            goto done;
        }
        guess = klaw_mp_writer_needed(&w);
    }
    rc = fail_msg("encode: output size changed between tries");

done:
    buf_free(&in);
    buf_free(&out);
    return rc;
}

/* ---- channels: shared helpers -------------------------------------------- */

/* Parses a decimal count (no sign, no junk) into *out. */
static bool parse_count(const char *s, uint64_t max, uint64_t *out)
{
    if (!s || !*s)
        return false;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        unsigned d = (unsigned)(*p - '0');
        if (v > (max - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* A channel command's arguments: flags, valued options and operands. */
typedef struct opt_spec {
    const char *name;  /* "--follow" */
    const char *alias; /* "-f", or NULL */
    bool has_value;
} opt_spec;

/* Splits argv into the options of specs (values into vals[], presence into
 * seen[]) and up to max_ops operands. Returns 0, or prints a usage error
 * and returns EXIT_USAGE. */
static int parse_opts(const char *cmd, int argc, char **argv, const opt_spec *specs, bool *seen,
                      const char **vals, const char **ops, int max_ops, int *n_ops, bool *help)
{
    bool operands_only = false;
    *n_ops = 0;
    *help = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!operands_only && strcmp(a, "--") == 0) {
            operands_only = true;
            continue;
        }
        if (!operands_only && a[0] == '-' && a[1] != '\0') {
            if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
                *help = true;
                continue;
            }
            int k = 0;
            for (; specs && specs[k].name; k++)
                if (strcmp(a, specs[k].name) == 0 || (specs[k].alias && strcmp(a, specs[k].alias) == 0))
                    break;
            if (!specs || !specs[k].name) {
                fprintf(stderr, "klaw %s: unknown option '%s' (see klaw %s --help)\n", cmd, a, cmd);
                return EXIT_USAGE;
            }
            seen[k] = true;
            if (specs[k].has_value) {
                if (i + 1 >= argc) {
                    fprintf(stderr, "klaw %s: option '%s' needs a value (see klaw %s --help)\n", cmd, a, cmd);
                    return EXIT_USAGE;
                }
                vals[k] = argv[++i];
            }
            continue;
        }
        if (*n_ops >= max_ops) {
            fprintf(stderr, "klaw %s: unexpected argument '%s' (see klaw %s --help)\n", cmd, a, cmd);
            return EXIT_USAGE;
        }
        ops[(*n_ops)++] = a;
    }
    return 0;
}

/* Prints why a channel could not be opened (klaw_channel_open, or a
 * kind's open); returns EXIT_FAILURE. */
static int channel_error(const char *name, klaw_status st, const char *why)
{
    switch (st) {
    case KLAW_NOENT: return fail_msg("no channel named '%s' (no /dev/shm/klaw.%s)", name, name);
    case KLAW_INVAL:
        return fail_msg("invalid channel name '%s' (1..%d characters of A-Z a-z 0-9 . _ -)", name,
                        KLAW_REGION_NAME_MAX);
    case KLAW_CORRUPT: return fail_msg("channel '%s' is corrupt: %s", name, why ? why : klaw_strerror(st));
    case KLAW_TIMEOUT: return fail_msg("channel '%s' is still being created", name);
    case KLAW_PERM: return fail_msg("channel '%s': permission denied", name);
    default: return fail_msg("cannot open channel '%s': %s", name, why ? why : klaw_strerror(st));
    }
}

/* Opens a channel for inspection or prints why not (returns EXIT_FAILURE). */
static int open_channel(const char *name, klaw_channel **ch)
{
    const char *why = NULL;
    klaw_status st = klaw_channel_open(name, 1000, ch, &why);
    return st == KLAW_OK ? 0 : channel_error(name, st, why);
}

/* RFC 3339 UTC text of ts, nanoseconds shown when not zero (as the JSON
 * mapping writes timestamps). */
static void format_time(struct timespec ts, char *out, size_t cap)
{
    struct tm tm;
    time_t t = ts.tv_sec;
    if (!gmtime_r(&t, &tm)) {
        snprintf(out, cap, "%lld s", (long long)ts.tv_sec);
        return;
    }
    char base[64];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    if (ts.tv_nsec)
        snprintf(out, cap, "%s.%09ldZ", base, (long)ts.tv_nsec);
    else
        snprintf(out, cap, "%sZ", base);
}

/* A klaw_str as printable text ("%.*s" arguments). */
#define STR_ARGS(s) (int)(s).len, (s).ptr ? (s).ptr : ""

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

static int cmd_ls(int argc, char **argv)
{
    static const opt_spec specs[] = {{"--json", NULL, false}, {NULL, NULL, false}};
    bool seen[1] = {false};
    const char *vals[1] = {NULL};
    const char *ops[1];
    int n_ops;
    bool help;
    int rc = parse_opts("ls", argc, argv, specs, seen, vals, ops, 0, &n_ops, &help);
    if (rc)
        return rc;
    if (help) {
        fputs(ls_help, stdout);
        return 0;
    }
    ls_ctx ctx = {.json = seen[0]};
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
    "readers, ...) and its registered readers (broadcast).\n"
    "\n"
    "With --json, prints one JSON object:\n"
    "  {\"metadata\":<ChannelMetadata>,\"stats\":<ChannelStats>,\n"
    "   \"readers\":[<ReaderInfo>, ...]}\n"
    "A missing or corrupt channel: exit status 1 and a message.\n";

/* Appends printf text to b; false when out of memory. */
__attribute__((format(printf, 2, 3))) static bool buf_printf(buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !buf_reserve(b, (size_t)n + 1))
        return false;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return true;
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
        if ((st = klaw_json_from_mp(&r, buf_write_fn, b)) != KLAW_OK)
            break;
        if (!buf_append(b, "\n", 1))
            return KLAW_NOMEM;
    }
    return st;
}

static klaw_status stat_text(klaw_channel *ch, const klaw_channel_stats *s, bool have_stats,
                             const klaw_reader_info *rd, size_t nr, buf *b)
{
    const klaw_channel_metadata *m = klaw_channel_meta(ch);
    char when[80];
    bool ok = buf_printf(b, "%-16s%s\n", "channel", klaw_channel_name(ch)) &&
              buf_printf(b, "%-16s%s\n", "kind", klaw_channel_type_name(m->channel_type));
    if (ok && m->has_capacity)
        ok = buf_printf(b, "%-16s%lld\n", "capacity", (long long)m->capacity);
    else if (ok)
        ok = buf_printf(b, "%-16s%s\n", "capacity", m->unbounded ? "unbounded" : "none");
    ok = ok && buf_printf(b, "%-16s%u\n", "max_frame", m->max_frame);
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
    ok = buf_printf(b, "\n%-16s%lld\n%-16s%lld\n%-16s%lld\n%-16s%lld\n%-16s%lld\n%-16s%lld\n%-16s%s\n",
                    "senders", (long long)s->sender_count, "receivers", (long long)s->receiver_count,
                    "queue_size", (long long)s->queue_size, "high_watermark", (long long)s->high_watermark,
                    "total_sent", (long long)s->total_sent, "total_received", (long long)s->total_received,
                    "closed", closed);
    if (!ok)
        return KLAW_NOMEM;
    klaw_status st = extras_text(s->backend_extras, b);
    if (st != KLAW_OK || klaw_channel_kind(ch) != KLAW_CHANNEL_BROADCAST)
        return st;
    if (!buf_printf(b, "\nreaders         %zu\n", nr))
        return KLAW_NOMEM;
    if (nr && !buf_printf(b, "  %-20s %-24s %-30s %-30s %s\n", "READER_ID", "NODE", "REGISTERED_AT",
                          "LAST_SEEN_AT", "RECEIVED"))
        return KLAW_NOMEM;
    for (size_t i = 0; i < nr; i++) {
        char reg[80], seen[80];
        format_time(rd[i].registered_at, reg, sizeof reg);
        format_time(rd[i].last_seen_at, seen, sizeof seen);
        if (!buf_printf(b, "  %-20.*s %-24.*s %-30s %-30s %lld\n", STR_ARGS(rd[i].reader_id),
                        STR_ARGS(rd[i].node_id), reg, seen, (long long)rd[i].total_received))
            return KLAW_NOMEM;
    }
    return KLAW_OK;
}

static klaw_status stat_json(klaw_channel *ch, const klaw_channel_stats *s, bool have_stats,
                             const klaw_reader_info *rd, size_t nr, buf *b)
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
    for (size_t i = 0; i < nr; i++) {
        if (i && !buf_append(b, ",", 1))
            return KLAW_NOMEM;
        if ((st = klaw_record_json(KLAW_RECORD_READER_INFO, &rd[i], buf_write_fn, b)) != KLAW_OK)
            return st;
    }
    return buf_printf(b, "]}\n") ? KLAW_OK : KLAW_NOMEM;
}

static int cmd_stat(int argc, char **argv)
{
    static const opt_spec specs[] = {{"--json", NULL, false}, {NULL, NULL, false}};
    bool seen[1] = {false};
    const char *vals[1] = {NULL};
    const char *ops[1];
    int n_ops;
    bool help;
    int rc = parse_opts("stat", argc, argv, specs, seen, vals, ops, 1, &n_ops, &help);
    if (rc)
        return rc;
    if (help) {
        fputs(stat_help, stdout);
        return 0;
    }
    if (n_ops != 1) {
        fprintf(stderr, "klaw stat: which channel? (see klaw stat --help)\n");
        return EXIT_USAGE;
    }
    const char *name = ops[0];
    klaw_channel *ch;
    if ((rc = open_channel(name, &ch)))
        return rc;

    klaw_channel_stats s;
    klaw_status sst = klaw_channel_read_stats(ch, &s);
    klaw_reader_info *rd = NULL;
    size_t nr = 0;
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
        rst = klaw_channel_readers(ch, rd, want, &nr);
        if (rst == KLAW_OK && nr <= want)
            break;
    }
    bool have = sst == KLAW_OK && rst == KLAW_OK;
    buf out = {0};
    klaw_status st = seen[0] ? stat_json(ch, &s, have, rd, nr, &out) : stat_text(ch, &s, have, rd, nr, &out);
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
    free(rd);
    buf_free(&out);
    klaw_channel_close(ch);
    return rc;
}

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
    "-n N       how many frames (see above)\n"
    "--follow   keep waiting for new frames (-f); stop with SIGINT/SIGTERM\n";

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void catch_stop_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN); /* a closed stdout is a write error, not death */
}

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

/* Prints why a kind's open failed after inspection opened the channel. */
static int kind_open_error(const char *name, klaw_status st, klaw_channel_type kind)
{
    if (st == KLAW_CORRUPT)
        return fail_msg("channel '%s' is corrupt: its %s layout fails validation", name,
                        klaw_channel_type_name(kind));
    return channel_error(name, st, NULL);
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

static int cmd_tail(int argc, char **argv)
{
    static const opt_spec specs[] = {{"-n", "--lines", true},   {"--follow", "-f", false},
                                     {"--consume", NULL, false}, {"--raw", NULL, false},
                                     {NULL, NULL, false}};
    bool seen[4] = {false, false, false, false};
    const char *vals[4] = {NULL, NULL, NULL, NULL};
    const char *ops[1];
    int n_ops;
    bool help;
    int rc = parse_opts("tail", argc, argv, specs, seen, vals, ops, 1, &n_ops, &help);
    if (rc)
        return rc;
    if (help) {
        fputs(tail_help, stdout);
        return 0;
    }
    if (n_ops != 1) {
        fprintf(stderr, "klaw tail: which channel? (see klaw tail --help)\n");
        return EXIT_USAGE;
    }
    uint64_t limit = 10;
    if (seen[0] && !parse_count(vals[0], UINT64_MAX, &limit)) {
        fprintf(stderr, "klaw tail: -n wants a count, not '%s'\n", vals[0]);
        return EXIT_USAGE;
    }
    bool follow = seen[1], consume = seen[2];
    const char *name = ops[0];
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

    tail_state t = {.name = name, .raw = seen[3]};
    if ((kind == KLAW_CHANNEL_MPMC || kind == KLAW_CHANNEL_ONESHOT) && !consume)
        return fail_msg("'%s' is %s; pass --consume to do that", name,
                        kind == KLAW_CHANNEL_MPMC ? "an mpmc channel: each frame goes to one receiver, so tail "
                                                    "would take frames from its consumers"
                                                  : "a oneshot channel: its one value goes to its one receiver, "
                                                    "so tail would take the value and the receiver role");
    catch_stop_signals();
    switch (kind) {
    case KLAW_CHANNEL_MPMC: rc = tail_mpmc(&t, follow && !seen[0] ? UINT64_MAX : limit, follow); break;
    case KLAW_CHANNEL_BROADCAST: rc = tail_bcast(&t, limit, follow, capacity); break;
    case KLAW_CHANNEL_WATCH: rc = tail_watch(&t, follow && !seen[0] ? UINT64_MAX : limit, follow, max_frame); break;
    default: rc = tail_oneshot(&t, follow); break;
    }
    buf_free(&t.line);
    return rc ? rc : t.bad_frame ? EXIT_FAILURE : 0;
}

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

static int cmd_send(int argc, char **argv)
{
    static const opt_spec specs[] = {{"--envelope", NULL, false},
                                     {"--lines", NULL, false},
                                     {"--timeout", NULL, true},
                                     {NULL, NULL, false}};
    bool seen[3] = {false, false, false};
    const char *vals[3] = {NULL, NULL, NULL};
    const char *ops[2];
    int n_ops;
    bool help;
    int rc = parse_opts("send", argc, argv, specs, seen, vals, ops, 2, &n_ops, &help);
    if (rc)
        return rc;
    if (help) {
        fputs(send_help, stdout);
        return 0;
    }
    if (n_ops < 1) {
        fprintf(stderr, "klaw send: which channel? (see klaw send --help)\n");
        return EXIT_USAGE;
    }
    if (seen[1] && n_ops == 2) {
        fprintf(stderr, "klaw send: --lines reads stdin; give no JSON argument\n");
        return EXIT_USAGE;
    }
    uint64_t timeout_ms = 0;
    if (seen[2] && !parse_count(vals[2], (uint64_t)INT64_MAX / 1000000, &timeout_ms)) {
        fprintf(stderr, "klaw send: --timeout wants milliseconds, not '%s'\n", vals[2]);
        return EXIT_USAGE;
    }
    send_ctx ctx = {.name = ops[0], .envelope = seen[0]};
    struct timespec dl;
    if (seen[2]) {
        dl = klaw_deadline_in_ms((int64_t)timeout_ms);
        ctx.deadline = &dl;
    }

    buf in = {0};
    if (n_ops == 2) {
        if (!buf_append(&in, ops[1], strlen(ops[1])))
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
    if (!seen[1] && (rc = encode_json(&ctx, in.p, in.len, 0))) {
        buf_free(&in);
        buf_free(&ctx.mp);
        return rc;
    }
    if ((rc = send_open(&ctx))) {
        buf_free(&in);
        buf_free(&ctx.mp);
        return rc;
    }
    if (!seen[1]) {
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

/* ---- rm ------------------------------------------------------------------------ */

static const char rm_help[] =
    "usage: klaw rm NAME...\n"
    "\n"
    "Removes each channel's name (/dev/shm/klaw.<name>). Processes that have\n"
    "it open keep using it; it is freed when the last one lets go. A name\n"
    "that does not exist: a message, exit status 1 (the others are still\n"
    "removed).\n";

static int cmd_rm(int argc, char **argv)
{
    const char *ops[64];
    int n_ops;
    bool help;
    int rc = parse_opts("rm", argc, argv, NULL, NULL, NULL, ops, 64, &n_ops, &help);
    if (rc)
        return rc;
    if (help) {
        fputs(rm_help, stdout);
        return 0;
    }
    if (n_ops == 0) {
        fprintf(stderr, "klaw rm: which channel? (see klaw rm --help)\n");
        return EXIT_USAGE;
    }
    for (int i = 0; i < n_ops; i++) {
        klaw_status st = klaw_region_unlink(ops[i]);
        if (st != KLAW_OK)
            rc = channel_error(ops[i], st, NULL);
    }
    return rc;
}

/* ---- dispatch ------------------------------------------------------------ */

typedef struct command {
    const char *name;
    const char *args;
    const char *summary;
    int (*run)(int argc, char **argv); /* the arguments after the name */
} command;

static const command commands[] = {
    {"decode", "[--stream] [--envelope] [FILE]", "MessagePack -> JSON (one line per value)", cmd_decode},
    {"encode", "[FILE]", "JSON -> MessagePack", cmd_encode},
    {"ls", "[--json]", "list the channels in /dev/shm", cmd_ls},
    {"stat", "[--json] NAME", "a channel's metadata, counters and readers", cmd_stat},
    {"tail", "[-n N] [-f] [--consume] NAME", "print a channel's frames as JSON", cmd_tail},
    {"send", "[--envelope] [...] NAME [JSON]", "JSON in, a MessagePack frame out", cmd_send},
    {"rm", "NAME...", "remove channels' names", cmd_rm},
};

#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: klaw <command> [options] [args]\n       klaw --help | --version\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++) {
        char left[64];
        snprintf(left, sizeof left, "%s %s", commands[i].name, commands[i].args);
        fprintf(f, "  %-38s %s\n", left, commands[i].summary);
    }
    fprintf(f, "\n'klaw <command> --help' describes a command.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0) {
        printf("klaw %s\n", klaw_version());
        return 0;
    }
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(name, commands[i].name) == 0)
            return commands[i].run(argc - 2, argv + 2);
    fprintf(stderr, "klaw: unknown command '%s' (see klaw --help)\n", name);
    return EXIT_USAGE;
}
