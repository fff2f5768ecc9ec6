/*
 * fuzz_json_decode.c - libFuzzer target: MessagePack -> JSON.
 *
 * For any input bytes:
 *   - the converter fails exactly when klaw_mp_validate() fails, with the
 *     same status, byte offset and reason (its one extra refusal, map keys
 *     nested too deep for JSON, is KLAW_VALIDATE on input validate takes);
 *   - measuring, a too-small buffer (nothing written past it), an exact
 *     buffer and the callback form all agree on the text;
 *   - the text is JSON our parser accepts, and converting what it reads
 *     back gives the same text again (JSON -> MessagePack -> JSON is a fixed
 *     point for any text MessagePack -> JSON produces).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "klaw/json.h"

#define CHECK(c)                                                                  \
    do {                                                                          \
        if (!(c)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
            abort();                                                              \
        }                                                                         \
    } while (0)

typedef struct sink {
    char *buf;
    size_t len, cap;
} sink;

static klaw_status sink_fn(void *ctx, const char *data, size_t len)
{
    sink *s = ctx;
    CHECK(len > 0);
    if (len > s->cap - s->len)
        return KLAW_TOOBIG;
    memcpy(s->buf + s->len, data, len);
    s->len += len;
    return KLAW_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    klaw_mp_error e, ve;
    size_t need = 0, len = 0;
    klaw_status st = klaw_json_from_mp_buf(data, size, NULL, 0, &need, &e);
    klaw_status vst = klaw_mp_validate(data, size, 0, 0, &ve);
    if (vst != KLAW_OK) {
        CHECK(st == vst);
        CHECK(e.status == vst && e.offset == ve.offset && strcmp(e.reason, ve.reason) == 0);
        CHECK(need == 0);
        return 0;
    }
    if (st == KLAW_VALIDATE) {
        CHECK(strcmp(e.reason, "map keys nested too deep for JSON") == 0);
        CHECK(e.offset < size);
        return 0;
    }
    /* every value has at least one character of text */
    CHECK(st == KLAW_TOOBIG && need > 0);
    /* MessagePack -> JSON grows a byte into at most 32 (a '"' four keys deep) */
    CHECK(need <= 32 * size + 64);

    char *text = malloc(need + 1);
    char *half = malloc(need / 2 + 8);
    CHECK(text && half);
    st = klaw_json_from_mp_buf(data, size, text, need + 1, &len, &e);
    CHECK(st == KLAW_OK && len == need && text[len] == '\0' && e.status == KLAW_OK);

    /* a too-small buffer: TOOBIG, the same length, a prefix, nothing past */
    memset(half, '#', need / 2 + 8);
    st = klaw_json_from_mp_buf(data, size, half, need / 2, &len, &e);
    CHECK(st == KLAW_TOOBIG && len == need);
    for (size_t i = need / 2; i < need / 2 + 8; i++)
        CHECK(half[i] == '#');

    /* the callback form gives the same text */
    sink s = {half, 0, need / 2 + 8};
    char *cb = malloc(need);
    CHECK(cb);
    s.buf = cb;
    s.cap = need;
    klaw_mp_reader r;
    klaw_mp_reader_init(&r, data, size);
    CHECK(klaw_json_from_mp(&r, sink_fn, &s) == KLAW_OK);
    CHECK(klaw_mp_reader_finish(&r) == KLAW_OK);
    CHECK(s.len == need && memcmp(cb, text, need) == 0);

    /* the text is JSON, and a fixed point of JSON -> MessagePack -> JSON */
    size_t mcap = 3 * need + 64;
    uint8_t *mp = malloc(mcap);
    CHECK(mp);
    klaw_mp_writer w;
    klaw_json_error je;
    klaw_mp_writer_init(&w, mp, mcap);
    st = klaw_json_to_mp(text, need, &w, &je);
    if (st != KLAW_OK)
        fprintf(stderr, "JSON not accepted: %s at %zu: %.*s\n", je.reason, je.offset, (int)(need < 500 ? need : 500),
                text);
    CHECK(st == KLAW_OK);
    size_t need2 = 0;
    CHECK(klaw_json_from_mp_buf(mp, klaw_mp_writer_len(&w), cb, need, &need2, &e) == KLAW_OK);
    if (need2 != need || memcmp(cb, text, need) != 0)
        fprintf(stderr, "not a fixed point:\n%.*s\n%.*s\n", (int)need, text, (int)need2, cb);
    CHECK(need2 == need && memcmp(cb, text, need) == 0);

    free(mp);
    free(cb);
    free(half);
    free(text);
    return 0;
}
