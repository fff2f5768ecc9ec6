/* test_envelope.c - the wire envelope (klaw/envelope.h): klaw-core's wire v1
 * laid out byte for byte, views that never touch the payload, msgspec's
 * defaults and error messages, the writers, JSON. Interop with
 * python-msgpack is in test_envelope_interop.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "klaw/klaw.h"

/* ---- helpers ------------------------------------------------------------- */

/* Golden frames: python-msgpack packing the lists msgspec lays out
 * (use_bin_type=True), copied from its output. */
static const uint8_t DATA_GOLD[] = "\x93\x01\x95\x01\x01\xa4\x63\x68\x61\x6e\x05\xcf\x00\x00\x01\x8b\xcf\xe5\x68\x00"
                                   "\x81\xa1\x61\x92\x01\x02";
static const uint8_t CTL_GOLD[] = "\x94\x02\x95\x01\x02\xa4\x63\x68\x61\x6e\x06\xff\xa5\x63\x6c\x6f\x73\x65\xc0";
static const uint8_t HB_GOLD[] = "\x93\x03\x95\x01\x03\xa0\x00\x00\xa6\x6e\x6f\x64\x65\x2d\x31";
static const uint8_t ACK_GOLD[] = "\x94\x04\x95\x01\x04\xa1\x63\xcf\xff\xff\xff\xff\xff\xff\xff\xff\xd3\x80\x00\x00"
                                  "\x00\x00\x00\x00\x00\xcf\x00\x00\x00\x01\x00\x00\x00\x00\xa2\x6f\x6b";
static const uint8_t ERR_GOLD[] = "\x95\x05\x95\x01\x05\xa1\x63\x01\x02\xa3\x45\x34\x32\xa4\x62\x6f\x6f\x6d\x81\xa1"
                                  "\x6b\xa1\x76";
#define GOLD(g) g, sizeof(g) - 1

static uint8_t mp[1 << 16];
static size_t mp_len;

/* MessagePack of a JSON text, into mp/mp_len (test frames stay readable). */
static const uint8_t *mp_of(const char *json)
{
    klaw_mp_writer w;
    klaw_json_error e;
    klaw_mp_writer_init(&w, mp, sizeof mp);
    if (klaw_json_to_mp(json, strlen(json), &w, &e) != KLAW_OK)
        fail_msg("bad test JSON '%s': %s", json, e.reason);
    mp_len = klaw_mp_writer_len(&w);
    return mp;
}

static bool str_is(klaw_str s, const char *want)
{
    return s.len == strlen(want) && (s.len == 0 || memcmp(s.ptr, want, s.len) == 0);
}
#define assert_str(s, want)                                                                  \
    do {                                                                                     \
        if (!str_is((s), (want)))                                                            \
            fail_msg("%s is '%.*s', want '%s'", #s, (int)(s).len, (s).ptr ? (s).ptr : "", (want)); \
    } while (0)

static void assert_raw(klaw_mp_raw raw, const void *want, size_t n)
{
    assert_int_equal(raw.len, n);
    assert_memory_equal(raw.ptr, want, n);
}

static char jtext[1 << 16];
static size_t jlen;

static klaw_status jsink(void *ctx, const char *s, size_t n)
{
    (void)ctx;
    if (n > sizeof jtext - 1 - jlen)
        return KLAW_TOOBIG;
    memcpy(jtext + jlen, s, n);
    jlen += n;
    jtext[jlen] = '\0';
    return KLAW_OK;
}

static const char *json_of(const klaw_envelope *env, klaw_status want_st, klaw_envelope_error *e)
{
    jlen = 0;
    jtext[0] = '\0';
    klaw_status st = klaw_envelope_to_json(env, jsink, NULL, e);
    assert_int_equal(st, want_st);
    return jtext;
}

static char msg[512];

static const char *format(const klaw_envelope_error *e)
{
    klaw_envelope_error_format(e, msg, sizeof msg);
    return msg;
}

/* frame must be refused by validate and view with exactly this text (the
 * fault is not in a payload, so the lazy view sees it too). */
static void assert_refused(const void *frame, size_t len, const char *want)
{
    klaw_envelope env;
    klaw_envelope_error e;
    assert_int_not_equal(klaw_envelope_validate(frame, len, &env, &e), KLAW_OK);
    assert_string_equal(format(&e), want);
    klaw_envelope_error e2;
    assert_int_not_equal(klaw_envelope_view(frame, len, &env, &e2), KLAW_OK);
    assert_string_equal(format(&e2), want);
}
#define REFUSED_JSON(json, want) (mp_of(json), assert_refused(mp, mp_len, want))

/* Writes env back with the writers into out; returns the length. */
static size_t rewrite(const klaw_envelope *env, uint8_t *out, size_t cap)
{
    klaw_mp_writer w;
    size_t n;
    klaw_mp_writer_init(&w, out, cap);
    klaw_envelope_write(&w, env);
    assert_int_equal(klaw_mp_writer_finish(&w, &n), KLAW_OK);
    return n;
}

/* ---- the golden frames: view, validate, write back, JSON ------------------- */

static void golden_frames_are_viewed_with_every_field(void **state)
{
    (void)state;
    klaw_envelope env;
    klaw_envelope_error e;

    assert_int_equal(klaw_envelope_view(GOLD(DATA_GOLD), &env, &e), KLAW_OK);
    assert_int_equal(e.status, KLAW_OK);
    assert_int_equal(env.type, KLAW_ENV_DATA);
    assert_int_equal(env.header.version, 1);
    assert_int_equal(env.header.kind, KLAW_ENV_DATA);
    assert_str(env.header.channel_id, "chan");
    assert_true(env.header.seq == 5);
    assert_true(env.header.ts_ms == 1700000000000);
    assert_raw(env.data.payload, "\x81\xa1\x61\x92\x01\x02", 6);
    assert_ptr_equal(env.data.payload.ptr, DATA_GOLD + 20); /* in place */
    assert_ptr_equal(env.origin, DATA_GOLD);

    assert_int_equal(klaw_envelope_view(GOLD(CTL_GOLD), &env, &e), KLAW_OK);
    assert_int_equal(env.type, KLAW_ENV_CONTROL);
    assert_int_equal(env.header.kind, KLAW_ENV_CONTROL);
    assert_true(env.header.seq == 6 && env.header.ts_ms == -1);
    assert_str(env.control.action, "close");
    assert_raw(env.control.metadata, "\xc0", 1);
    assert_ptr_equal(env.control.metadata.ptr, CTL_GOLD + 18);

    assert_int_equal(klaw_envelope_view(GOLD(HB_GOLD), &env, &e), KLAW_OK);
    assert_int_equal(env.type, KLAW_ENV_HEARTBEAT);
    assert_str(env.header.channel_id, "");
    assert_str(env.heartbeat.sender_id, "node-1");

    assert_int_equal(klaw_envelope_view(GOLD(ACK_GOLD), &env, &e), KLAW_OK);
    assert_int_equal(env.type, KLAW_ENV_ACK);
    assert_true(env.header.seq == UINT64_MAX);
    assert_true(env.header.ts_ms == INT64_MIN);
    assert_true(env.ack.acked_seq == 4294967296u);
    assert_str(env.ack.status, "ok");

    assert_int_equal(klaw_envelope_view(GOLD(ERR_GOLD), &env, &e), KLAW_OK);
    assert_int_equal(env.type, KLAW_ENV_ERROR);
    assert_str(env.error.code, "E42");
    assert_str(env.error.message, "boom");
    assert_raw(env.error.details, "\x81\xa1\x6b\xa1\x76", 5);
}

static void every_golden_frame_validates_and_writes_back_byte_for_byte(void **state)
{
    (void)state;
    const struct {
        const uint8_t *p;
        size_t n;
    } gold[] = {{GOLD(DATA_GOLD)}, {GOLD(CTL_GOLD)}, {GOLD(HB_GOLD)}, {GOLD(ACK_GOLD)}, {GOLD(ERR_GOLD)}};
    for (size_t i = 0; i < 5; i++) {
        klaw_envelope env, env2;
        uint8_t out[256];
        assert_int_equal(klaw_envelope_validate(gold[i].p, gold[i].n, &env, NULL), KLAW_OK);
        assert_int_equal(klaw_envelope_validate(gold[i].p, gold[i].n, NULL, NULL), KLAW_OK);
        assert_int_equal(klaw_envelope_view(gold[i].p, gold[i].n, &env2, NULL), KLAW_OK);
        size_t n = rewrite(&env, out, sizeof out);
        assert_int_equal(n, gold[i].n);
        assert_memory_equal(out, gold[i].p, n);
        n = rewrite(&env2, out, sizeof out);
        assert_memory_equal(out, gold[i].p, n);
    }
}

static void the_typed_writers_lay_out_what_msgspec_lays_out(void **state)
{
    (void)state;
    uint8_t out[256];
    klaw_mp_writer w;
    size_t n;

    klaw_envelope_header h = klaw_envelope_header_make("chan", 4, 6, -1);
    klaw_mp_writer_init(&w, out, sizeof out);
    klaw_envelope_write_control(&w, &h, "close", 5, (klaw_mp_raw){NULL, 0});
    assert_int_equal(klaw_mp_writer_finish(&w, &n), KLAW_OK);
    assert_int_equal(n, sizeof CTL_GOLD - 1);
    assert_memory_equal(out, CTL_GOLD, n);

    h = klaw_envelope_header_make(NULL, 0, 0, 0);
    h.kind = KLAW_ENV_HEARTBEAT; /* the message's own kind is fine too */
    klaw_mp_writer_init(&w, out, sizeof out);
    klaw_envelope_write_heartbeat(&w, &h, "node-1", 6);
    assert_int_equal(klaw_mp_writer_finish(&w, &n), KLAW_OK);
    assert_int_equal(n, sizeof HB_GOLD - 1);
    assert_memory_equal(out, HB_GOLD, n);

    h = klaw_envelope_header_make("c", 1, UINT64_MAX, INT64_MIN);
    klaw_mp_writer_init(&w, out, sizeof out);
    klaw_envelope_write_ack(&w, &h, 4294967296u, "ok", 2);
    assert_int_equal(klaw_mp_writer_finish(&w, &n), KLAW_OK);
    assert_int_equal(n, sizeof ACK_GOLD - 1);
    assert_memory_equal(out, ACK_GOLD, n);

    h = klaw_envelope_header_make("c", 1, 1, 2);
    klaw_mp_writer_init(&w, out, sizeof out);
    klaw_envelope_write_error(&w, &h, "E42", 3, "boom", 4, (klaw_mp_raw){(const uint8_t *)"\x81\xa1\x6b\xa1\x76", 5});
    assert_int_equal(klaw_mp_writer_finish(&w, &n), KLAW_OK);
    assert_int_equal(n, sizeof ERR_GOLD - 1);
    assert_memory_equal(out, ERR_GOLD, n);

    /* an absent Raw is nil; so is the data payload */
    klaw_mp_writer_init(&w, out, sizeof out);
    klaw_envelope_write_data(&w, &h, (klaw_mp_raw){NULL, 0});
    assert_int_equal(klaw_mp_writer_finish(&w, &n), KLAW_OK);
    assert_memory_equal(out, "\x93\x01\x95\x01\x01\xa1\x63\x01\x02\xc0", n);
    assert_int_equal(n, 10);
}

static void begin_data_lets_the_payload_be_encoded_in_place(void **state)
{
    (void)state;
    uint8_t out[256];
    klaw_mp_writer w;
    size_t n;
    klaw_envelope_header h = klaw_envelope_header_make("chan", 4, 5, 1700000000000);
    klaw_mp_writer_init(&w, out, sizeof out);
    klaw_envelope_begin_data(&w, &h);
    size_t header_end = klaw_mp_writer_len(&w);
    assert_int_equal(header_end, 20);
    /* the payload, written by the caller straight after the header */
    klaw_mp_write_map(&w, 1);
    klaw_mp_write_str(&w, "a", 1);
    klaw_mp_write_array(&w, 2);
    klaw_mp_write_uint(&w, 1);
    klaw_mp_write_uint(&w, 2);
    assert_int_equal(klaw_mp_writer_finish(&w, &n), KLAW_OK);
    assert_int_equal(n, sizeof DATA_GOLD - 1);
    assert_memory_equal(out, DATA_GOLD, n);

    /* a writer too small keeps the MessagePack writer's sticky TOOBIG and
     * counts the size needed */
    klaw_mp_writer_init(&w, out, 8);
    klaw_envelope_write_data(&w, &h, (klaw_mp_raw){DATA_GOLD + 20, 6});
    assert_int_equal(klaw_mp_writer_finish(&w, NULL), KLAW_TOOBIG);
    assert_int_equal(klaw_mp_writer_needed(&w), sizeof DATA_GOLD - 1);
}

static void a_header_kind_that_is_not_the_messages_type_is_inval(void **state)
{
    (void)state;
    uint8_t out[64];
    klaw_mp_writer w;
    klaw_envelope_header h = klaw_envelope_header_make("c", 1, 0, 0);
    h.kind = KLAW_ENV_CONTROL;
    klaw_mp_writer_init(&w, out, sizeof out);
    klaw_envelope_write_heartbeat(&w, &h, "x", 1);
    assert_int_equal(klaw_mp_writer_finish(&w, NULL), KLAW_INVAL);

    klaw_envelope env;
    memset(&env, 0, sizeof env);
    env.type = (klaw_envelope_type)6;
    klaw_mp_writer_init(&w, out, sizeof out);
    klaw_envelope_write(&w, &env);
    assert_int_equal(klaw_mp_writer_finish(&w, NULL), KLAW_INVAL);
}

/* ---- msgspec's defaults and extra elements -------------------------------- */

static void absent_trailing_fields_take_msgspecs_defaults(void **state)
{
    (void)state;
    klaw_envelope env;
    uint8_t out[128];
    size_t n;

    /* a header of no fields at all is all defaults: version 1, kind 1 */
    mp_of("[1,[],7]");
    assert_int_equal(klaw_envelope_validate(mp, mp_len, &env, NULL), KLAW_OK);
    assert_int_equal(env.header.version, 1);
    assert_int_equal(env.header.kind, KLAW_ENV_DATA);
    assert_str(env.header.channel_id, "");
    assert_non_null(env.header.channel_id.ptr);
    assert_true(env.header.seq == 0 && env.header.ts_ms == 0);
    assert_raw(env.data.payload, "\x07", 1);
    n = rewrite(&env, out, sizeof out);
    assert_int_equal(n, 9);
    assert_memory_equal(out, "\x93\x01\x95\x01\x01\xa0\x00\x00\x07", n);

    mp_of("[1,[1,1,\"c\"],null]");
    assert_int_equal(klaw_envelope_view(mp, mp_len, &env, NULL), KLAW_OK);
    assert_str(env.header.channel_id, "c");
    assert_true(env.header.seq == 0 && env.header.ts_ms == 0);

    mp_of("[2,[1,2],\"stop\"]");
    assert_int_equal(klaw_envelope_validate(mp, mp_len, &env, NULL), KLAW_OK);
    assert_str(env.control.action, "stop");
    assert_raw(env.control.metadata, "\xc0", 1);
    n = rewrite(&env, out, sizeof out);
    assert_memory_equal(out, "\x94\x02\x95\x01\x02\xa0\x00\x00\xa4stop\xc0", n);

    mp_of("[3,[1,3,\"c\",9,9]]");
    assert_int_equal(klaw_envelope_validate(mp, mp_len, &env, NULL), KLAW_OK);
    assert_str(env.heartbeat.sender_id, "");
    assert_true(env.header.seq == 9);

    mp_of("[4,[1,4]]");
    assert_int_equal(klaw_envelope_validate(mp, mp_len, &env, NULL), KLAW_OK);
    assert_true(env.ack.acked_seq == 0);
    assert_str(env.ack.status, "ok");
    n = rewrite(&env, out, sizeof out);
    assert_memory_equal(out, "\x94\x04\x95\x01\x04\xa0\x00\x00\x00\xa2ok", n);

    mp_of("[4,[1,4],12]");
    assert_int_equal(klaw_envelope_validate(mp, mp_len, &env, NULL), KLAW_OK);
    assert_true(env.ack.acked_seq == 12);
    assert_str(env.ack.status, "ok");

    mp_of("[5,[1,5]]");
    assert_int_equal(klaw_envelope_validate(mp, mp_len, &env, NULL), KLAW_OK);
    assert_str(env.error.code, "");
    assert_str(env.error.message, "");
    assert_raw(env.error.details, "\xc0", 1);
    mp_of("[5,[1,5],\"E\",\"m\"]");
    assert_int_equal(klaw_envelope_view(mp, mp_len, &env, NULL), KLAW_OK);
    assert_str(env.error.code, "E");
    assert_str(env.error.message, "m");
    assert_raw(env.error.details, "\xc0", 1);
}

static void extra_trailing_elements_are_ignored_as_msgspec_ignores_them(void **state)
{
    (void)state;
    klaw_envelope env;
    uint8_t out[128];

    mp_of("[3,[1,3,\"c\",1,2,\"more\",[1,{\"x\":null}]],\"s\",\"extra\",{\"a\":[]}]");
    assert_int_equal(klaw_envelope_view(mp, mp_len, &env, NULL), KLAW_OK);
    assert_int_equal(klaw_envelope_validate(mp, mp_len, &env, NULL), KLAW_OK);
    assert_str(env.heartbeat.sender_id, "s");
    assert_true(env.header.seq == 1 && env.header.ts_ms == 2);
    size_t n = rewrite(&env, out, sizeof out);
    assert_memory_equal(out, "\x93\x03\x95\x01\x03\xa1\x63\x01\x02\xa1s", n);

    /* a data frame with an extra element: the payload is the third element
     * only, even in the lazy view (which must walk it to find its end) */
    mp_of("[1,[1,1,\"c\",0,0],[1,2],\"extra\"]");
    assert_int_equal(klaw_envelope_view(mp, mp_len, &env, NULL), KLAW_OK);
    assert_raw(env.data.payload, "\x92\x01\x02", 3);
    assert_int_equal(klaw_envelope_validate(mp, mp_len, &env, NULL), KLAW_OK);
    assert_raw(env.data.payload, "\x92\x01\x02", 3);

    /* ignored, but not unchecked: a malformed extra element is an error */
    static const uint8_t bad_extra[] = "\x94\x03\x95\x01\x03\xa1\x63\x00\x00\xa1s\xc1";
    assert_refused(GOLD(bad_extra), "decode error at byte 11: invalid byte 0xc1");
    static const uint8_t bad_header_extra[] = "\x93\x03\x96\x01\x03\xa1\x63\x00\x00\xc1\xa1s";
    assert_refused(GOLD(bad_header_extra), "decode error at byte 9: invalid byte 0xc1");
}

/* ---- validation errors: msgspec's words, msgspec's paths ------------------- */

static void the_tag_and_the_header_kind_must_agree(void **state)
{
    (void)state;
    klaw_envelope env;
    klaw_envelope_error e;
    mp_of("[2,[1,1,\"c\",0,0],\"a\",null]");
    assert_int_equal(klaw_envelope_view(mp, mp_len, &env, &e), KLAW_VALIDATE);
    assert_int_equal(e.fault, KLAW_ENV_FAULT_MISMATCH);
    assert_int_equal(e.offset, 4);
    assert_int_equal(e.depth, 2);
    assert_int_equal(e.path[0], 1);
    assert_int_equal(e.path[1], 1);
    assert_true(e.value == 1 && e.limit == 2);
    assert_string_equal(format(&e),
                        "validation error at byte 4: Header kind 1 (data) does not match tag 2 (control) - at `$[1][1]`");
    char path[16];
    klaw_envelope_error_path(&e, path, sizeof path);
    assert_string_equal(path, "$[1][1]");

    REFUSED_JSON("[1,[1,5,\"c\",0,0],null]",
                 "validation error at byte 4: Header kind 5 (error) does not match tag 1 (data) - at `$[1][1]`");
    /* an absent kind is 1 (data), so only a data message may leave it out */
    REFUSED_JSON("[3,[]]", "validation error at byte 2: Header kind 1 (data) does not match tag 3 (heartbeat) - at `$[1]`");
    REFUSED_JSON("[4,[1]]", "validation error at byte 2: Header kind 1 (data) does not match tag 4 (ack) - at `$[1]`");
}

static void unknown_tags_are_refused_at_the_tag(void **state)
{
    (void)state;
    REFUSED_JSON("[0,[]]", "validation error at byte 1: Invalid value 0 - at `$[0]`");
    REFUSED_JSON("[6,[],1]", "validation error at byte 1: Invalid value 6 - at `$[0]`");
    REFUSED_JSON("[-1,[]]", "validation error at byte 1: Invalid value -1 - at `$[0]`");
    REFUSED_JSON("[18446744073709551615,[]]", "validation error at byte 1: Invalid value 18446744073709551615 - at `$[0]`");
    REFUSED_JSON("[-9223372036854775808,[]]", "validation error at byte 1: Invalid value -9223372036854775808 - at `$[0]`");
    REFUSED_JSON("[\"data\",[],1]", "validation error at byte 1: Expected `int`, got `str` - at `$[0]`");
    REFUSED_JSON("[1.0,[],1]", "validation error at byte 1: Expected `int`, got `float` - at `$[0]`");
    REFUSED_JSON("[null]", "validation error at byte 1: Expected `int`, got `null` - at `$[0]`");

    klaw_envelope_error e;
    klaw_envelope env;
    mp_of("[6,[],1]");
    assert_int_equal(klaw_envelope_view(mp, mp_len, &env, &e), KLAW_VALIDATE);
    assert_int_equal(e.fault, KLAW_ENV_FAULT_TAG);
    assert_false(e.negative);
    assert_true(e.value == 6);
}

static void arrays_too_short_for_their_required_fields_are_refused(void **state)
{
    (void)state;
    REFUSED_JSON("[]", "validation error at byte 0: Expected `array` of at least length 1, got 0 - at `$`");
    REFUSED_JSON("[1]", "validation error at byte 0: Expected `array` of at least length 3, got 1 - at `$`");
    REFUSED_JSON("[1,[1,1,\"c\",0,0]]", "validation error at byte 0: Expected `array` of at least length 3, got 2 - at `$`");
    REFUSED_JSON("[2,[1,2,\"c\",0,0]]", "validation error at byte 0: Expected `array` of at least length 3, got 2 - at `$`");
    REFUSED_JSON("[3]", "validation error at byte 0: Expected `array` of at least length 2, got 1 - at `$`");
    REFUSED_JSON("[4]", "validation error at byte 0: Expected `array` of at least length 2, got 1 - at `$`");
    REFUSED_JSON("[5]", "validation error at byte 0: Expected `array` of at least length 2, got 1 - at `$`");
}

static void values_of_the_wrong_type_are_refused_with_their_path(void **state)
{
    (void)state;
    REFUSED_JSON("{}", "validation error at byte 0: Expected `array`, got `object` - at `$`");
    REFUSED_JSON("\"x\"", "validation error at byte 0: Expected `array`, got `str` - at `$`");
    REFUSED_JSON("[1,5,null]", "validation error at byte 2: Expected `array`, got `int` - at `$[1]`");
    REFUSED_JSON("[1,{},null]", "validation error at byte 2: Expected `array`, got `object` - at `$[1]`");
    REFUSED_JSON("[1,[\"1\"],null]", "validation error at byte 3: Expected `int`, got `str` - at `$[1][0]`");
    REFUSED_JSON("[1,[1,\"data\"],null]", "validation error at byte 4: Expected `int`, got `str` - at `$[1][1]`");
    REFUSED_JSON("[1,[1,1.0],null]", "validation error at byte 4: Expected `int`, got `float` - at `$[1][1]`");
    /* channel_id is a str, as in klaw-core, never an int */
    REFUSED_JSON("[1,[1,1,7,0,0],null]", "validation error at byte 5: Expected `str`, got `int` - at `$[1][2]`");
    REFUSED_JSON("[1,[1,1,null,0,0],null]", "validation error at byte 5: Expected `str`, got `null` - at `$[1][2]`");
    REFUSED_JSON("[1,[1,1,\"c\",\"5\",0],null]", "validation error at byte 7: Expected `int`, got `str` - at `$[1][3]`");
    REFUSED_JSON("[1,[1,1,\"c\",0,[]],null]", "validation error at byte 8: Expected `int`, got `array` - at `$[1][4]`");
    REFUSED_JSON("[2,[1,2],null,null]", "validation error at byte 5: Expected `str`, got `null` - at `$[2]`");
    REFUSED_JSON("[3,[1,3],true]", "validation error at byte 5: Expected `str`, got `bool` - at `$[2]`");
    REFUSED_JSON("[4,[1,4],\"1\",\"ok\"]", "validation error at byte 5: Expected `int`, got `str` - at `$[2]`");
    REFUSED_JSON("[4,[1,4],1,5]", "validation error at byte 6: Expected `str`, got `int` - at `$[3]`");
    REFUSED_JSON("[5,[1,5],\"E\",{}]", "validation error at byte 7: Expected `str`, got `object` - at `$[3]`");

    /* bin, ext and timestamps keep msgspec's names too */
    static const uint8_t bin_channel[] = "\x93\x01\x93\x01\x01\xc4\x01\x63\xc0";
    assert_refused(GOLD(bin_channel), "validation error at byte 5: Expected `str`, got `bytes` - at `$[1][2]`");
    static const uint8_t ts_seq[] = "\x93\x01\x94\x01\x01\xa0\xd6\xff\x00\x00\x00\x01\xc0";
    assert_refused(GOLD(ts_seq), "validation error at byte 6: Expected `int`, got `datetime` - at `$[1][3]`");
    static const uint8_t ext_ts[] = "\x93\x01\x95\x01\x01\xa0\x00\xd4\x05\x00\xc0";
    assert_refused(GOLD(ext_ts), "validation error at byte 7: Expected `int`, got `ext` - at `$[1][4]`");
}

static void integers_must_fit_their_fields(void **state)
{
    (void)state;
    REFUSED_JSON("[1,[1,9],null]", "validation error at byte 4: Invalid enum value 9 - at `$[1][1]`");
    REFUSED_JSON("[1,[1,0],null]", "validation error at byte 4: Invalid enum value 0 - at `$[1][1]`");
    REFUSED_JSON("[1,[1,-3],null]", "validation error at byte 4: Invalid enum value -3 - at `$[1][1]`");
    REFUSED_JSON("[1,[-1],null]", "validation error at byte 3: Expected `int` >= 0 - at `$[1][0]`");
    REFUSED_JSON("[1,[4294967296],null]", "validation error at byte 3: Expected `int` <= 4294967295 - at `$[1][0]`");
    REFUSED_JSON("[1,[1,1,\"c\",-5,0],null]", "validation error at byte 7: Expected `int` >= 0 - at `$[1][3]`");
    REFUSED_JSON("[1,[1,1,\"c\",0,9223372036854775808],null]",
                 "validation error at byte 8: Expected `int` <= 9223372036854775807 - at `$[1][4]`");
    REFUSED_JSON("[4,[1,4],-1,\"ok\"]", "validation error at byte 5: Expected `int` >= 0 - at `$[2]`");

    /* the edges that fit */
    klaw_envelope env;
    mp_of("[1,[4294967295,1,\"c\",18446744073709551615,-9223372036854775808],null]");
    assert_int_equal(klaw_envelope_validate(mp, mp_len, &env, NULL), KLAW_OK);
    assert_true(env.header.version == UINT32_MAX && env.header.seq == UINT64_MAX && env.header.ts_ms == INT64_MIN);
    mp_of("[4,[0,4,\"c\",0,9223372036854775807],18446744073709551615]");
    assert_int_equal(klaw_envelope_validate(mp, mp_len, &env, NULL), KLAW_OK);
    assert_true(env.header.version == 0 && env.header.ts_ms == INT64_MAX && env.ack.acked_seq == UINT64_MAX);
    /* a non-smallest encoding is still the number it encodes */
    static const uint8_t wide[] = "\x93\x01\x95\xce\x00\x00\x00\x01\xd3\x00\x00\x00\x00\x00\x00\x00\x01\xa0\xd0\x00\xcd"
                                  "\x00\x00\xc0";
    assert_int_equal(klaw_envelope_validate(GOLD(wide), &env, NULL), KLAW_OK);
    assert_true(env.header.version == 1 && env.header.kind == KLAW_ENV_DATA);
}

/* ---- malformed bytes ----------------------------------------------------------- */

static void malformed_bytes_are_decode_errors_with_the_offset(void **state)
{
    (void)state;
    static const uint8_t bad_utf8[] = "\x93\x01\x95\x01\x01\xa1\xff\x00\x00\xc0";
    /* the reader points at the bad byte itself */
    assert_refused(GOLD(bad_utf8), "decode error at byte 6: invalid UTF-8 in str");
    static const uint8_t c1_tag[] = "\x93\xc1\x00\x00";
    assert_refused(GOLD(c1_tag), "decode error at byte 1: invalid byte 0xc1");
    static const uint8_t huge[] = "\xdd\xff\xff\xff\xff\x01";
    assert_refused(GOLD(huge), "decode error at byte 0: array length exceeds input");
    static const uint8_t bad_meta[] = "\x94\x02\x92\x01\x02\xa1x\x91\xc1";
    assert_refused(GOLD(bad_meta), "decode error at byte 8: invalid byte 0xc1");
    static const uint8_t trailing_hb[] = "\x92\x03\x92\x01\x03\x00";
    assert_refused(GOLD(trailing_hb), "decode error at byte 5: trailing bytes after value");
    assert_refused("", 0, "decode error at byte 0: unexpected end of input");

    klaw_envelope_error e;
    klaw_envelope env;
    assert_int_equal(klaw_envelope_view(GOLD(bad_meta), &env, &e), KLAW_DECODE);
    assert_int_equal(e.fault, KLAW_ENV_FAULT_READER);
    assert_int_equal(e.depth, 1);
    assert_int_equal(e.path[0], 3);
}

static void a_bad_payload_passes_the_view_and_fails_validate(void **state)
{
    (void)state;
    klaw_envelope env;
    klaw_envelope_error e;
    static const uint8_t c1[] = "\x93\x01\x95\x01\x01\xa1\x63\x00\x00\xc1";
    assert_int_equal(klaw_envelope_view(GOLD(c1), &env, &e), KLAW_OK);
    assert_raw(env.data.payload, "\xc1", 1);
    assert_int_equal(klaw_envelope_validate(GOLD(c1), &env, &e), KLAW_DECODE);
    assert_string_equal(format(&e), "decode error at byte 9: invalid byte 0xc1");
    assert_int_equal(e.depth, 1);
    assert_int_equal(e.path[0], 2);

    /* trailing bytes after the envelope belong to the lazy payload span */
    static const uint8_t trailing[] = "\x93\x01\x95\x01\x01\xa1\x63\x00\x00\x01\x02";
    assert_int_equal(klaw_envelope_view(GOLD(trailing), &env, &e), KLAW_OK);
    assert_raw(env.data.payload, "\x01\x02", 2);
    assert_int_equal(klaw_envelope_validate(GOLD(trailing), &env, &e), KLAW_DECODE);
    assert_string_equal(format(&e), "decode error at byte 10: trailing bytes after value");

    /* and JSON of the lazy view checks the payload as it goes */
    assert_int_equal(klaw_envelope_view(GOLD(c1), &env, NULL), KLAW_OK);
    json_of(&env, KLAW_DECODE, &e);
    assert_string_equal(format(&e), "decode error at byte 9: invalid byte 0xc1");
    assert_int_equal(klaw_envelope_view(GOLD(trailing), &env, NULL), KLAW_OK);
    json_of(&env, KLAW_DECODE, &e);
    assert_string_equal(format(&e), "decode error at byte 10: trailing bytes after value");

    /* no payload at all */
    static const uint8_t none[] = "\x93\x01\x95\x01\x01\xa1\x63\x00\x00";
    assert_refused(GOLD(none), "decode error at byte 9: unexpected end of input");
}

/* Every strict prefix of every sample fails cleanly: validate with DECODE;
 * the lazy view too, except a data frame cut inside its payload, whose
 * view holds the bytes that are there. */
static void every_truncation_of_every_sample_fails_cleanly(void **state)
{
    (void)state;
    const char *samples[] = {
        "[1,[1,1,\"channel\",123456789,-1700000000000],{\"k\":[1,2.5,\"x\",null,true]}]",
        "[2,[1,2,\"c\",1,2],\"close\",{\"why\":\"done\",\"n\":[1,2,3]}]",
        "[3,[1,3,\"c\",1,2],\"node\"]",
        "[4,[1,4,\"c\",1,2],70000,\"ok\"]",
        "[5,[1,5,\"c\",1,2],\"E1\",\"message\",[\"d\",{\"e\":1}]]",
        "[3,[1,3,\"c\",1,2,\"x\"],\"node\",\"extra\"]",
        "[5,[1,5]]",
    };
    for (size_t s = 0; s < sizeof samples / sizeof samples[0]; s++) {
        mp_of(samples[s]);
        uint8_t *frame = malloc(mp_len);
        assert_non_null(frame);
        memcpy(frame, mp, mp_len);
        klaw_envelope env;
        klaw_envelope_error e;
        assert_int_equal(klaw_envelope_validate(frame, mp_len, &env, &e), KLAW_OK);
        size_t payload_at = env.type == KLAW_ENV_DATA ? (size_t)(env.data.payload.ptr - frame) : SIZE_MAX;
        for (size_t cut = 0; cut < mp_len; cut++) {
            /* a copy of exactly cut bytes, so ASan sees any read past it */
            uint8_t *p = malloc(cut ? cut : 1);
            assert_non_null(p);
            memcpy(p, frame, cut);
            klaw_status st = klaw_envelope_validate(p, cut, &env, &e);
            if (st != KLAW_DECODE)
                fail_msg("sample %zu cut at %zu: validate %s, want KLAW_DECODE", s, cut, klaw_status_name(st));
            assert_true(e.offset <= cut);
            st = klaw_envelope_view(p, cut, &env, &e);
            if (cut > payload_at) {
                assert_int_equal(st, KLAW_OK);
                assert_int_equal(env.data.payload.len, cut - payload_at);
                assert_int_equal(json_of(&env, KLAW_DECODE, &e)[0], '{');
            } else if (st != KLAW_DECODE) {
                fail_msg("sample %zu cut at %zu: view %s, want KLAW_DECODE", s, cut, klaw_status_name(st));
            }
            free(p);
        }
        free(frame);
    }
}

/* The view of a data frame never touches the payload: the payload's pages
 * are made inaccessible, so any read of them would crash the test. */
static void the_view_reads_only_the_header_of_a_1mib_payload(void **state)
{
    (void)state;
    long page = sysconf(_SC_PAGESIZE);
    size_t payload = (size_t)1 << 20;
    size_t map_len = (size_t)page + payload;
    uint8_t *map = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(map != MAP_FAILED);

    /* the header ends exactly where the first page does */
    uint8_t hdr[64];
    klaw_mp_writer w;
    klaw_envelope_header h = klaw_envelope_header_make("big", 3, 42, 1700000000123);
    klaw_mp_writer_init(&w, hdr, sizeof hdr);
    klaw_envelope_begin_data(&w, &h);
    size_t hlen;
    assert_int_equal(klaw_mp_writer_finish(&w, &hlen), KLAW_OK);
    uint8_t *frame = map + page - hlen;
    memcpy(frame, hdr, hlen);

    /* garbage payload, then no access at all */
    memset(map + page, 0xc1, payload);
    assert_int_equal(mprotect(map + page, payload, PROT_NONE), 0);
    klaw_envelope env;
    klaw_envelope_error e;
    assert_int_equal(klaw_envelope_view(frame, hlen + payload, &env, &e), KLAW_OK);
    assert_int_equal(env.type, KLAW_ENV_DATA);
    assert_str(env.header.channel_id, "big");
    assert_true(env.header.seq == 42 && env.header.ts_ms == 1700000000123);
    assert_ptr_equal(env.data.payload.ptr, map + page);
    assert_int_equal(env.data.payload.len, payload);

    /* readable again: validate walks the payload and finds the garbage */
    assert_int_equal(mprotect(map + page, payload, PROT_READ | PROT_WRITE), 0);
    assert_int_equal(klaw_envelope_validate(frame, hlen + payload, &env, &e), KLAW_DECODE);
    assert_int_equal(e.offset, hlen);
    assert_string_equal(e.reason, "invalid byte 0xc1");

    /* a real 1 MiB bin payload validates */
    klaw_mp_writer_init(&w, map + page, payload);
    klaw_mp_write_bin_header(&w, payload - 5);
    assert_int_equal(klaw_envelope_validate(frame, hlen + payload, &env, &e), KLAW_OK);
    assert_int_equal(env.data.payload.len, payload);
    munmap(map, map_len);
}

/* ---- reading a sequence ---------------------------------------------------------- */

static void read_takes_one_envelope_at_a_time_from_a_sequence(void **state)
{
    (void)state;
    uint8_t seq[512];
    size_t n = 0;
    memcpy(seq + n, DATA_GOLD, sizeof DATA_GOLD - 1);
    n += sizeof DATA_GOLD - 1;
    memcpy(seq + n, HB_GOLD, sizeof HB_GOLD - 1);
    n += sizeof HB_GOLD - 1;
    memcpy(seq + n, DATA_GOLD, sizeof DATA_GOLD - 1);
    n += sizeof DATA_GOLD - 1;
    seq[n++] = 0xc1;

    klaw_mp_reader r;
    klaw_envelope env;
    klaw_envelope_error e;
    klaw_mp_reader_init(&r, seq, n);
    assert_int_equal(klaw_envelope_read(&r, &env, &e), KLAW_OK);
    assert_int_equal(env.type, KLAW_ENV_DATA);
    assert_raw(env.data.payload, "\x81\xa1\x61\x92\x01\x02", 6); /* not the rest */
    assert_int_equal(klaw_mp_reader_offset(&r), sizeof DATA_GOLD - 1);
    assert_int_equal(klaw_envelope_read(&r, &env, &e), KLAW_OK);
    assert_int_equal(env.type, KLAW_ENV_HEARTBEAT);
    assert_int_equal(klaw_envelope_read(&r, &env, &e), KLAW_OK);
    assert_int_equal(env.type, KLAW_ENV_DATA);
    assert_ptr_equal(env.origin, seq);
    /* offsets count from the start of the sequence */
    size_t bad = n - 1;
    assert_int_equal(klaw_envelope_read(&r, &env, &e), KLAW_DECODE);
    assert_int_equal(e.offset, bad);

    /* a reader already failed stays failed */
    assert_int_equal(klaw_envelope_read(&r, &env, &e), KLAW_DECODE);
}

/* ---- JSON ----------------------------------------------------------------------- */

static void envelopes_print_as_json_with_named_fields(void **state)
{
    (void)state;
    klaw_envelope env;
    klaw_envelope_error e;
    assert_int_equal(klaw_envelope_view(GOLD(DATA_GOLD), &env, NULL), KLAW_OK);
    assert_string_equal(json_of(&env, KLAW_OK, &e),
                        "{\"type\":\"data\",\"header\":{\"version\":1,\"kind\":1,\"channel_id\":\"chan\",\"seq\":5,"
                        "\"ts_ms\":1700000000000},\"payload\":{\"a\":[1,2]}}");
    assert_int_equal(e.status, KLAW_OK);
    assert_int_equal(klaw_envelope_view(GOLD(CTL_GOLD), &env, NULL), KLAW_OK);
    assert_string_equal(json_of(&env, KLAW_OK, NULL),
                        "{\"type\":\"control\",\"header\":{\"version\":1,\"kind\":2,\"channel_id\":\"chan\",\"seq\":6,"
                        "\"ts_ms\":-1},\"action\":\"close\",\"metadata\":null}");
    assert_int_equal(klaw_envelope_view(GOLD(HB_GOLD), &env, NULL), KLAW_OK);
    assert_string_equal(json_of(&env, KLAW_OK, NULL),
                        "{\"type\":\"heartbeat\",\"header\":{\"version\":1,\"kind\":3,\"channel_id\":\"\",\"seq\":0,"
                        "\"ts_ms\":0},\"sender_id\":\"node-1\"}");
    assert_int_equal(klaw_envelope_view(GOLD(ACK_GOLD), &env, NULL), KLAW_OK);
    assert_string_equal(json_of(&env, KLAW_OK, NULL),
                        "{\"type\":\"ack\",\"header\":{\"version\":1,\"kind\":4,\"channel_id\":\"c\","
                        "\"seq\":18446744073709551615,\"ts_ms\":-9223372036854775808},\"acked_seq\":4294967296,"
                        "\"status\":\"ok\"}");
    assert_int_equal(klaw_envelope_view(GOLD(ERR_GOLD), &env, NULL), KLAW_OK);
    assert_string_equal(json_of(&env, KLAW_OK, NULL),
                        "{\"type\":\"error\",\"header\":{\"version\":1,\"kind\":5,\"channel_id\":\"c\",\"seq\":1,"
                        "\"ts_ms\":2},\"code\":\"E42\",\"message\":\"boom\",\"details\":{\"k\":\"v\"}}");

    /* defaults print as their values; strs are escaped as json.h escapes */
    mp_of("[4,[1,4,\"a\\\"b\\\\c\\n\\u0001\\u001f\xc3\xa9\"]]");
    assert_int_equal(klaw_envelope_view(mp, mp_len, &env, NULL), KLAW_OK);
    assert_string_equal(json_of(&env, KLAW_OK, NULL),
                        "{\"type\":\"ack\",\"header\":{\"version\":1,\"kind\":4,\"channel_id\":\"a\\\"b\\\\c\\n\\u0001"
                        "\\u001f\xc3\xa9\",\"seq\":0,\"ts_ms\":0},\"acked_seq\":0,\"status\":\"ok\"}");
    mp_of("[5,[1,5]]");
    assert_int_equal(klaw_envelope_view(mp, mp_len, &env, NULL), KLAW_OK);
    assert_string_equal(json_of(&env, KLAW_OK, NULL),
                        "{\"type\":\"error\",\"header\":{\"version\":1,\"kind\":5,\"channel_id\":\"\",\"seq\":0,"
                        "\"ts_ms\":0},\"code\":\"\",\"message\":\"\",\"details\":null}");
}

static klaw_status failing_sink(void *ctx, const char *s, size_t n)
{
    (void)ctx;
    (void)s;
    (void)n;
    return KLAW_NOMEM;
}

static void json_reports_a_failing_callback_and_a_bad_type(void **state)
{
    (void)state;
    klaw_envelope env;
    klaw_envelope_error e;
    assert_int_equal(klaw_envelope_view(GOLD(HB_GOLD), &env, NULL), KLAW_OK);
    assert_int_equal(klaw_envelope_to_json(&env, failing_sink, NULL, &e), KLAW_NOMEM);
    assert_int_equal(e.fault, KLAW_ENV_FAULT_OUTPUT);
    assert_string_equal(format(&e), klaw_strerror(KLAW_NOMEM));
    assert_int_equal(klaw_envelope_view(GOLD(DATA_GOLD), &env, NULL), KLAW_OK);
    assert_int_equal(klaw_envelope_to_json(&env, failing_sink, NULL, &e), KLAW_NOMEM);
    env.type = (klaw_envelope_type)0;
    json_of(&env, KLAW_INVAL, &e);
    assert_string_equal(jtext, "");
    assert_string_equal(klaw_envelope_type_name((klaw_envelope_type)9), "unknown");
    assert_string_equal(klaw_envelope_type_name(KLAW_ENV_HEARTBEAT), "heartbeat");
}

/* A hand-made envelope (not a view) prints too: Raw spans of len 0 are
 * null, as the writers write them. */
static void a_hand_made_envelope_prints_and_writes(void **state)
{
    (void)state;
    klaw_envelope env;
    memset(&env, 0, sizeof env);
    env.type = KLAW_ENV_CONTROL;
    env.header = klaw_envelope_header_make("c", 1, 3, 4);
    env.header.kind = KLAW_ENV_CONTROL;
    env.control.action.ptr = "go";
    env.control.action.len = 2;
    assert_string_equal(json_of(&env, KLAW_OK, NULL),
                        "{\"type\":\"control\",\"header\":{\"version\":1,\"kind\":2,\"channel_id\":\"c\",\"seq\":3,"
                        "\"ts_ms\":4},\"action\":\"go\",\"metadata\":null}");
    uint8_t out[64];
    size_t n = rewrite(&env, out, sizeof out);
    klaw_envelope back;
    assert_int_equal(klaw_envelope_validate(out, n, &back, NULL), KLAW_OK);
    assert_str(back.control.action, "go");
    assert_raw(back.control.metadata, "\xc0", 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(golden_frames_are_viewed_with_every_field),
        cmocka_unit_test(every_golden_frame_validates_and_writes_back_byte_for_byte),
        cmocka_unit_test(the_typed_writers_lay_out_what_msgspec_lays_out),
        cmocka_unit_test(begin_data_lets_the_payload_be_encoded_in_place),
        cmocka_unit_test(a_header_kind_that_is_not_the_messages_type_is_inval),
        cmocka_unit_test(absent_trailing_fields_take_msgspecs_defaults),
        cmocka_unit_test(extra_trailing_elements_are_ignored_as_msgspec_ignores_them),
        cmocka_unit_test(the_tag_and_the_header_kind_must_agree),
        cmocka_unit_test(unknown_tags_are_refused_at_the_tag),
        cmocka_unit_test(arrays_too_short_for_their_required_fields_are_refused),
        cmocka_unit_test(values_of_the_wrong_type_are_refused_with_their_path),
        cmocka_unit_test(integers_must_fit_their_fields),
        cmocka_unit_test(malformed_bytes_are_decode_errors_with_the_offset),
        cmocka_unit_test(a_bad_payload_passes_the_view_and_fails_validate),
        cmocka_unit_test(every_truncation_of_every_sample_fails_cleanly),
        cmocka_unit_test(the_view_reads_only_the_header_of_a_1mib_payload),
        cmocka_unit_test(read_takes_one_envelope_at_a_time_from_a_sequence),
        cmocka_unit_test(envelopes_print_as_json_with_named_fields),
        cmocka_unit_test(json_reports_a_failing_callback_and_a_bad_type),
        cmocka_unit_test(a_hand_made_envelope_prints_and_writes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
