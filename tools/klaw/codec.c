/*
 * codec.c - the codec commands: decode (MessagePack -> JSON, one line per
 * value; --envelope: wire envelopes with their fields named) and encode
 * (JSON -> MessagePack).
 *
 * A value's text reaches stdout only when the whole value converted: it is
 * built in memory first, so a malformed value prints nothing. The output of
 * a value is at most a small multiple of its input, so memory stays in
 * proportion to the input whatever it holds.
 */
#include <stdlib.h>
#include <string.h>

#include "klaw_tool.h"

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

int cmd_decode(int argc, char **argv)
{
    static const opt_spec specs[] = {{"--stream", NULL, false}, {"--envelope", NULL, false}, {NULL, NULL, false}};
    cmd_args a;
    int rc = parse_opts("decode", argc, argv, specs, 1, "more than one input file", &a);
    if (rc)
        return rc;
    if (a.help) {
        fputs(decode_help, stdout);
        return 0;
    }
    const char *file = a.n_ops ? a.ops[0] : NULL;
    bool stream = a.seen[0];
    bool envelope = a.seen[1];
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

int cmd_encode(int argc, char **argv)
{
    cmd_args a;
    int rc = parse_opts("encode", argc, argv, NULL, 1, "more than one input file", &a);
    if (rc)
        return rc;
    if (a.help) {
        fputs(encode_help, stdout);
        return 0;
    }
    const char *file = a.n_ops ? a.ops[0] : NULL;

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
