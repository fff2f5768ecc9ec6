/*
 * klaw.c - the `klaw` command-line tool.
 *
 *   klaw decode [--stream] [--envelope] [FILE]
 *                                   MessagePack -> JSON, one line per value
 *                                   (--envelope: wire envelopes, fields named)
 *   klaw encode [FILE]              JSON -> MessagePack
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
#include <sys/stat.h>
#include <unistd.h>

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
