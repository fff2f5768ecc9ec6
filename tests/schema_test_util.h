/* schema_test_util.h - helpers for the schema tests (cmocka): MessagePack
 * from JSON text or hex, MessagePack back to JSON, and decode/compile
 * wrappers that assert the exact error message. */
#ifndef KLAW_TEST_SCHEMA_UTIL_H
#define KLAW_TEST_SCHEMA_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "klaw/klaw.h"

#if defined(__GNUC__) || defined(__clang__)
#define UTIL __attribute__((unused)) static
#else
#define UTIL static
#endif

/* One shared arena for tests that do not look at it. */
static uint8_t test_arena_mem[1 << 16];

/* JSON text -> MessagePack in out (asserts the text is valid). */
UTIL size_t mp_json(const char *json, uint8_t *out, size_t cap)
{
    klaw_mp_writer w;
    klaw_json_error je;
    klaw_mp_writer_init(&w, out, cap);
    assert_int_equal(klaw_json_to_mp(json, strlen(json), &w, &je), KLAW_OK);
    return w.pos;
}

/* "cd ff 00" -> bytes (hex.h's parser under the schema tests' name). */
UTIL size_t mp_hex(const char *s, uint8_t *out, size_t cap) { return hex(s, out, cap); }

/* MessagePack -> JSON text (a static buffer). */
UTIL const char *mp_to_json(const uint8_t *mp, size_t n)
{
    static char text[8192];
    size_t len = 0;
    klaw_mp_error e;
    assert_int_equal(klaw_json_from_mp_buf(mp, n, text, sizeof text - 1, &len, &e), KLAW_OK);
    text[len] = '\0';
    return text;
}

UTIL klaw_schema *compile_ok(const klaw_struct_desc *d)
{
    klaw_schema *s = NULL;
    static klaw_schema_error err;
    klaw_status st = klaw_schema_compile(d, &s, &err);
    if (st != KLAW_OK)
        fail_msg("compile %s: %s", d->name, klaw_schema_error_message(&err));
    assert_non_null(s);
    return s;
}

/* Decodes JSON text through s into out with the shared arena. */
UTIL klaw_status decode_json(const klaw_schema *s, const char *json, void *out, uint32_t flags,
                             klaw_schema_error *err)
{
    static uint8_t buf[8192];
    static klaw_arena arena;
    size_t n = mp_json(json, buf, sizeof buf);
    klaw_arena_init(&arena, test_arena_mem, sizeof test_arena_mem);
    return klaw_schema_decode(s, buf, n, out, &arena, flags, err);
}

/* Asserts that decoding JSON text fails with st and exactly msg, and that
 * the out struct is left zeroed. */
UTIL void expect_json_error(const klaw_schema *s, const char *json, uint32_t flags, klaw_status st, const char *msg)
{
    static klaw_schema_error err;
    uint8_t out[4096];
    assert_true(klaw_schema_size(s) <= sizeof out);
    memset(out, 0x5a, sizeof out);
    klaw_status got = decode_json(s, json, out, flags, &err);
    if (got != st || strcmp(klaw_schema_error_message(&err), msg) != 0)
        fail_msg("decode %s:\n  want %s \"%s\"\n  got  %s \"%s\"", json, klaw_status_name(st), msg,
                 klaw_status_name(got), klaw_schema_error_message(&err));
    assert_int_equal(err.status, st);
    assert_true(err.count >= 1);
    for (size_t i = 0; i < klaw_schema_size(s); i++)
        assert_int_equal(out[i], 0);
}

/* The same for raw bytes. */
UTIL void expect_bytes_error(const klaw_schema *s, const uint8_t *mp, size_t n, uint32_t flags, klaw_status st,
                             const char *msg)
{
    static klaw_schema_error err;
    uint8_t out[4096];
    klaw_arena arena;
    klaw_arena_init(&arena, test_arena_mem, sizeof test_arena_mem);
    memset(out, 0x5a, sizeof out);
    klaw_status got = klaw_schema_decode(s, mp, n, out, &arena, flags, &err);
    if (got != st || strcmp(klaw_schema_error_message(&err), msg) != 0)
        fail_msg("decode bytes:\n  want %s \"%s\"\n  got  %s \"%s\"", klaw_status_name(st), msg,
                 klaw_status_name(got), klaw_schema_error_message(&err));
    for (size_t i = 0; i < klaw_schema_size(s); i++)
        assert_int_equal(out[i], 0);
    assert_int_equal(arena.used, 0);
}

/* Asserts that compiling d fails with KLAW_INVAL and exactly msg. */
UTIL void expect_compile_error(const klaw_struct_desc *d, const char *msg)
{
    static klaw_schema_error err;
    klaw_schema *s = (klaw_schema *)(uintptr_t)1; /* must be reset to NULL */
    klaw_status st = klaw_schema_compile(d, &s, &err);
    if (st != KLAW_INVAL || strcmp(klaw_schema_error_message(&err), msg) != 0)
        fail_msg("compile:\n  want \"%s\"\n  got  %s \"%s\"", msg, klaw_status_name(st),
                 klaw_schema_error_message(&err));
    assert_null(s);
    assert_int_equal(err.status, KLAW_INVAL);
    assert_int_equal(err.count, 1);
}

/* Encodes in through s and returns it as JSON text. */
UTIL const char *encode_json(const klaw_schema *s, const void *in)
{
    static uint8_t buf[8192];
    klaw_mp_writer w;
    size_t n;
    klaw_mp_writer_init(&w, buf, sizeof buf);
    assert_int_equal(klaw_schema_encode(s, in, &w), KLAW_OK);
    assert_int_equal(klaw_mp_writer_finish(&w, &n), KLAW_OK);
    return mp_to_json(buf, n);
}

UTIL bool str_is(klaw_str s, const char *want)
{
    return s.len == strlen(want) && (s.len == 0 || memcmp(s.ptr, want, s.len) == 0);
}

#endif /* KLAW_TEST_SCHEMA_UTIL_H */
