/* test_envelope_interop.c - klaw-core's wire v1, byte for byte, against
 * python-msgpack laying envelopes out as msgspec's array_like tagged structs
 * do (tests/envelope_interop.py, run by Debian's /usr/bin/python3).
 *
 *   python builds thousands of seeded random envelopes of all five types:
 *     sent.bin   as sent (sometimes with absent defaults or extra elements,
 *                both of which msgspec's decoder accepts),
 *     canon.bin  the bytes msgspec writes for the same values;
 *   klaw views and validates each sent envelope, writes it back with the
 *     envelope writers - byte-identical to canon.bin or the test fails -
 *     and prints it as JSON, which python compares field by field with
 *     the values it generated;
 *   the klaw tool (argv[1]) decodes stream.bin, all the envelopes back to
 *     back, with `decode --envelope --stream`; python checks that too.
 *
 * Without python3-msgpack this test fails: it never passes by skipping.
 * The seed is fixed; KLAW_INTEROP_SEED overrides it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "klaw/klaw.h"
#include "records_file.h"

/* Debian's interpreter, not whatever python3 is first on PATH */
#define PYTHON "/usr/bin/python3"
#define COUNT 4000

static uint64_t seed;
static char tmpdir[64];
static char script[4096];
static const char *klaw_tool;

static void run(const char *cmd)
{
    int rc = system(cmd);
    if (rc == -1 || !WIFEXITED(rc) || WEXITSTATUS(rc) != 0)
        fail_msg("seed %#llx: `%s` failed (status %d)", (unsigned long long)seed, cmd, rc);
}

static void run_python(const char *args)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, PYTHON " '%s' %s", script, args);
    run(cmd);
}

/* python3-msgpack must be there: a missing peer fails the test loudly. */
static void require_python_msgpack(void)
{
    int rc = system(PYTHON " -c 'import msgpack' >/dev/null 2>&1");
    if (rc == -1 || !WIFEXITED(rc) || WEXITSTATUS(rc) != 0)
        fail_msg(PYTHON " cannot import msgpack: install python3-msgpack (apt-get install python3-msgpack); "
                 "this test does not skip");
}

static int setup(void **state)
{
    (void)state;
    const char *s = getenv("KLAW_INTEROP_SEED");
    seed = s && *s ? strtoull(s, NULL, 0) : 0x656e76u;
    const char *src = getenv("KLAW_SOURCE_DIR");
    if (!src || !*src) {
        print_error("KLAW_SOURCE_DIR is not set: run this test through `meson test`\n");
        return -1;
    }
    snprintf(script, sizeof script, "%s/tests/envelope_interop.py", src);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/klaw-envelope-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        print_error("mkdtemp: %s\n", strerror(errno));
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    const char *names[] = {"sent.bin", "canon.bin", "stream.bin", "klaw.jsonl", "cli.jsonl", "cli.err"};
    char path[128];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", tmpdir, names[i]);
        unlink(path);
    }
    rmdir(tmpdir);
    return 0;
}

static klaw_status file_sink(void *ctx, const char *s, size_t n)
{
    return fwrite(s, 1, n, ctx) == n ? KLAW_OK : KLAW_SYS;
}

/* Writes env with klaw_envelope_write() into out; returns the length. */
static size_t rewrite(const klaw_envelope *env, uint8_t *out, size_t cap)
{
    klaw_mp_writer w;
    size_t n;
    klaw_mp_writer_init(&w, out, cap);
    klaw_envelope_write(&w, env);
    if (klaw_mp_writer_finish(&w, &n) != KLAW_OK)
        fail_msg("write back: %s", klaw_status_name(w.status));
    return n;
}

static void fail_bytes(size_t i, const char *what, const uint8_t *got, size_t got_n, const uint8_t *want,
                       size_t want_n)
{
    size_t at = 0;
    while (at < got_n && at < want_n && got[at] == want[at])
        at++;
    fail_msg("seed %#llx, envelope %zu: %s: %zu bytes, python's %zu, first difference at byte %zu",
             (unsigned long long)seed, i, what, got_n, want_n, at);
}

static void python_envelopes_decode_and_reencode_byte_for_byte(void **state)
{
    (void)state;
    require_python_msgpack();
    char args[512], path[256];
    snprintf(args, sizeof args, "gen %#llx %d '%s'", (unsigned long long)seed, COUNT, tmpdir);
    run_python(args);

    records_file sent, canon;
    snprintf(path, sizeof path, "%s/sent.bin", tmpdir);
    records_read(path, &sent);
    snprintf(path, sizeof path, "%s/canon.bin", tmpdir);
    records_read(path, &canon);
    snprintf(path, sizeof path, "%s/klaw.jsonl", tmpdir);
    FILE *jf = fopen(path, "wb");
    assert_non_null(jf);

    size_t cap = 1 << 22;
    uint8_t *out = malloc(cap);
    assert_non_null(out);
    size_t sp = 0, cp = 0, i = 0, types[6] = {0}, reshaped = 0;
    const uint8_t *s = NULL, *c = NULL;
    size_t sn = 0, cn = 0;
    while (records_next(&sent, &sp, &s, &sn)) {
        assert_true(records_next(&canon, &cp, &c, &cn));
        klaw_envelope env, lazy, back;
        klaw_envelope_error e;
        char msg[512];
        if (klaw_envelope_validate(s, sn, &env, &e) != KLAW_OK) {
            klaw_envelope_error_format(&e, msg, sizeof msg);
            fail_msg("seed %#llx, envelope %zu: klaw refuses python's envelope: %s", (unsigned long long)seed, i,
                     msg);
        }
        types[env.type]++;
        reshaped += sn != cn || memcmp(s, c, sn) != 0;

        /* klaw's writers give exactly msgspec's bytes */
        size_t n = rewrite(&env, out, cap);
        if (n != cn || memcmp(out, c, n) != 0)
            fail_bytes(i, "klaw_envelope_write", out, n, c, cn);
        /* so does the lazy view, written back */
        assert_int_equal(klaw_envelope_view(s, sn, &lazy, &e), KLAW_OK);
        n = rewrite(&lazy, out, cap);
        if (n != cn || memcmp(out, c, n) != 0)
            fail_bytes(i, "klaw_envelope_write of the lazy view", out, n, c, cn);
        /* and the typed writers, a data payload encoded in place */
        klaw_mp_writer w;
        klaw_mp_writer_init(&w, out, cap);
        switch (env.type) {
        case KLAW_ENV_DATA:
            klaw_envelope_begin_data(&w, &env.header);
            klaw_mp_write_bytes(&w, env.data.payload.ptr, env.data.payload.len);
            break;
        case KLAW_ENV_CONTROL:
            klaw_envelope_write_control(&w, &env.header, env.control.action.ptr, env.control.action.len,
                                        env.control.metadata);
            break;
        case KLAW_ENV_HEARTBEAT:
            klaw_envelope_write_heartbeat(&w, &env.header, env.heartbeat.sender_id.ptr, env.heartbeat.sender_id.len);
            break;
        case KLAW_ENV_ACK:
            klaw_envelope_write_ack(&w, &env.header, env.ack.acked_seq, env.ack.status.ptr, env.ack.status.len);
            break;
        case KLAW_ENV_ERROR:
            klaw_envelope_write_error(&w, &env.header, env.error.code.ptr, env.error.code.len,
                                      env.error.message.ptr, env.error.message.len, env.error.details);
            break;
        }
        assert_int_equal(klaw_mp_writer_finish(&w, &n), KLAW_OK);
        if (n != cn || memcmp(out, c, n) != 0)
            fail_bytes(i, "the typed writers", out, n, c, cn);
        /* the canonical form comes back as itself */
        assert_int_equal(klaw_envelope_validate(c, cn, &back, &e), KLAW_OK);
        n = rewrite(&back, out, cap);
        if (n != cn || memcmp(out, c, n) != 0)
            fail_bytes(i, "the canonical form written back", out, n, c, cn);

        if (klaw_envelope_to_json(&env, file_sink, jf, &e) != KLAW_OK) {
            klaw_envelope_error_format(&e, msg, sizeof msg);
            fail_msg("seed %#llx, envelope %zu: JSON: %s", (unsigned long long)seed, i, msg);
        }
        fputc('\n', jf);
        i++;
    }
    assert_false(records_next(&canon, &cp, &c, &cn));
    assert_int_equal(i, COUNT);
    assert_int_equal(fclose(jf), 0);
    free(out);
    free(sent.data);
    free(canon.data);
    /* every type, and the reshaped forms, were exercised */
    for (int t = 1; t <= 5; t++)
        assert_true(types[t] > COUNT / 10);
    assert_true(reshaped > COUNT / 20);

    snprintf(args, sizeof args, "check %#llx %d '%s/klaw.jsonl'", (unsigned long long)seed, COUNT, tmpdir);
    run_python(args);
    print_message("envelope interop: %zu python envelopes re-encoded identically (%zu reshaped), seed %#llx\n", i,
                  reshaped, (unsigned long long)seed);
}

static void the_klaw_tool_decodes_a_stream_of_python_envelopes(void **state)
{
    (void)state;
    require_python_msgpack();
    if (!klaw_tool)
        fail_msg("usage: test_envelope_interop PATH-TO-KLAW (meson passes it)");
    char cmd[8192], args[512];
    snprintf(args, sizeof args, "gen %#llx %d '%s'", (unsigned long long)seed, COUNT, tmpdir);
    run_python(args);
    snprintf(cmd, sizeof cmd, "'%s' decode --envelope --stream '%s/stream.bin' >'%s/cli.jsonl' 2>'%s/cli.err'",
             klaw_tool, tmpdir, tmpdir, tmpdir);
    run(cmd);
    snprintf(args, sizeof args, "check %#llx %d '%s/cli.jsonl'", (unsigned long long)seed, COUNT, tmpdir);
    run_python(args);
}

int main(int argc, char **argv)
{
    klaw_tool = argc > 1 ? argv[1] : NULL;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(python_envelopes_decode_and_reencode_byte_for_byte),
        cmocka_unit_test(the_klaw_tool_decodes_a_stream_of_python_envelopes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
