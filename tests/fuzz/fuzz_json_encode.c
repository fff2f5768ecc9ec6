/*
 * fuzz_json_encode.c - libFuzzer target: JSON -> MessagePack.
 *
 * For any input text:
 *   - a rejection names a byte inside the input (or its end) and a reason,
 *     and leaves the writer as it was;
 *   - an acceptance gives one valid MessagePack value (klaw_mp_validate),
 *     the same bytes whatever the writer's size once it is big enough (a
 *     too-small writer says TOOBIG and a size that then suffices);
 *   - MessagePack -> JSON -> MessagePack of the result gives the same bytes
 *     (the encoding is canonical: smallest headers, exact ints, floats that
 *     print and read back to the same double).
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    size_t cap = 3 * size + 64;
    uint8_t *mp = malloc(cap);
    CHECK(mp);
    klaw_mp_writer w;
    klaw_json_error err;
    klaw_mp_writer_init(&w, mp, cap);
    klaw_status st = klaw_json_to_mp(text, size, &w, &err);
    if (st == KLAW_DECODE) {
        CHECK(err.status == KLAW_DECODE && err.offset <= size && err.reason);
        CHECK(w.pos == 0 && w.status == KLAW_OK);
        free(mp);
        return 0;
    }
    /* MessagePack from JSON is at most 3 bytes per byte of text, plus a few */
    CHECK(st == KLAW_OK && err.status == KLAW_OK && err.reason == NULL);
    size_t n = klaw_mp_writer_len(&w);
    CHECK(n > 0 && n <= cap);
    klaw_mp_error me;
    CHECK(klaw_mp_validate(mp, n, 0, 0, &me) == KLAW_OK);

    /* a writer with room for half the result */
    uint8_t *small = malloc(n / 2 + 1);
    CHECK(small);
    klaw_mp_writer_init(&w, small, n / 2);
    CHECK(klaw_json_to_mp(text, size, &w, &err) == KLAW_TOOBIG && err.status == KLAW_TOOBIG);
    size_t need = klaw_mp_writer_needed(&w);
    CHECK(need >= n);
    uint8_t *exact = malloc(need);
    CHECK(exact);
    klaw_mp_writer_init(&w, exact, need);
    CHECK(klaw_json_to_mp(text, size, &w, &err) == KLAW_OK);
    CHECK(klaw_mp_writer_len(&w) == n && memcmp(exact, mp, n) == 0);

    /* MessagePack -> JSON -> MessagePack is the identity on our output */
    size_t tl = 0;
    CHECK(klaw_json_from_mp_buf(mp, n, NULL, 0, &tl, &me) == KLAW_TOOBIG);
    char *back = malloc(tl);
    CHECK(back);
    CHECK(klaw_json_from_mp_buf(mp, n, back, tl, &tl, &me) == KLAW_OK);
    size_t cap2 = 3 * tl + 64;
    uint8_t *mp2 = malloc(cap2);
    CHECK(mp2);
    klaw_mp_writer_init(&w, mp2, cap2);
    CHECK(klaw_json_to_mp(back, tl, &w, &err) == KLAW_OK);
    CHECK(klaw_mp_writer_len(&w) == n && memcmp(mp2, mp, n) == 0);

    free(mp2);
    free(back);
    free(exact);
    free(small);
    free(mp);
    return 0;
}
