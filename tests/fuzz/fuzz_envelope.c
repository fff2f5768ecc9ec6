/* fuzz_envelope.c - libFuzzer target: the wire envelope over arbitrary
 * bytes. The lazy view, validate, read (as in a stream) and JSON all run,
 * and these must hold, or the target aborts:
 *
 *   - every status is OK, DECODE or VALIDATE; error offsets lie inside the
 *     input, paths are at most two deep, and formatting never fails;
 *   - validate OK  =>  the lazy view is OK with the same fields (both write
 *     back to the same bytes);
 *   - the lazy view refuses  =>  validate refuses with the same error (the
 *     view skips only the payload, never a check before it);
 *   - view OK but validate refuses  =>  a data message whose payload (the
 *     unchecked rest) is at fault: the error lies at or past the payload;
 *     JSON of the lazy view then fails with the same status, offset and
 *     reason;
 *   - validate OK  =>  JSON succeeds (or refuses map keys nested too deep
 *     for JSON, KLAW_VALIDATE), identically for the lazy view;
 *   - a validated envelope written back (the canonical, msgspec form)
 *     validates, prints the same JSON, and writes back to identical bytes;
 *     a writer one byte short reports KLAW_TOOBIG with the full size;
 *   - read from a reader consumes exactly one envelope: validate of those
 *     bytes agrees.
 *
 * Build: clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude
 *   -Ibuild/include codec/mp_reader.c codec/mp_writer.c codec/json_out.c
 *   codec/json_in.c codec/envelope.c src/status.c tests/fuzz/fuzz_envelope.c
 *   -lm -o fuzz_envelope
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "klaw/klaw.h"

#define CHECK(c)                                                                            \
    do {                                                                                    \
        if (!(c)) {                                                                         \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #c);       \
            abort();                                                                        \
        }                                                                                   \
    } while (0)

typedef struct text {
    char *p;
    size_t len, cap;
} text;

static klaw_status text_sink(void *ctx, const char *s, size_t n)
{
    text *t = ctx;
    if (n > t->cap - t->len) {
        size_t cap = t->cap ? t->cap : 256;
        while (n > cap - t->len)
            cap *= 2;
        char *p = realloc(t->p, cap);
        if (!p)
            return KLAW_NOMEM;
        t->p = p;
        t->cap = cap;
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
    return KLAW_OK;
}

static klaw_status json(const klaw_envelope *env, text *t, klaw_envelope_error *e)
{
    t->len = 0;
    return klaw_envelope_to_json(env, text_sink, t, e);
}

static void check_error(klaw_status st, const klaw_envelope_error *e, size_t size)
{
    char buf[512];
    CHECK(st == KLAW_DECODE || st == KLAW_VALIDATE);
    CHECK(e->status == st);
    CHECK(e->offset <= size);
    CHECK(e->reason != NULL);
    CHECK(e->depth <= 2);
    CHECK(klaw_envelope_error_format(e, buf, sizeof buf) > 0);
    CHECK(klaw_envelope_error_path(e, buf, sizeof buf) > 0);
}

static bool same_error(const klaw_envelope_error *a, const klaw_envelope_error *b)
{
    return a->status == b->status && a->offset == b->offset && a->fault == b->fault &&
           strcmp(a->reason, b->reason) == 0;
}

/* Writes env into a fresh buffer; *n is its length. */
static uint8_t *write_back(const klaw_envelope *env, size_t *n)
{
    klaw_mp_writer w;
    klaw_mp_writer_init(&w, NULL, 0);
    klaw_envelope_write(&w, env);
    size_t need = klaw_mp_writer_needed(&w);
    uint8_t *out = malloc(need + 1);
    CHECK(out);
    /* one byte short: TOOBIG, the full size, nothing past the buffer */
    if (need > 0) {
        out[need - 1] = 0xa5;
        klaw_mp_writer_init(&w, out, need - 1);
        klaw_envelope_write(&w, env);
        CHECK(klaw_mp_writer_finish(&w, NULL) == KLAW_TOOBIG);
        CHECK(klaw_mp_writer_needed(&w) == need);
        CHECK(out[need - 1] == 0xa5);
    }
    klaw_mp_writer_init(&w, out, need);
    klaw_envelope_write(&w, env);
    CHECK(klaw_mp_writer_finish(&w, n) == KLAW_OK);
    CHECK(*n == need);
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    klaw_envelope lazy, strict;
    klaw_envelope_error le, se, je;
    text t1 = {0}, t2 = {0};

    klaw_status ls = klaw_envelope_view(data, size, &lazy, &le);
    klaw_status ss = klaw_envelope_validate(data, size, &strict, &se);
    if (ls != KLAW_OK) {
        check_error(ls, &le, size);
        CHECK(ss == ls && same_error(&le, &se));
    }
    if (ss != KLAW_OK)
        check_error(ss, &se, size);

    if (ls == KLAW_OK && ss != KLAW_OK) {
        /* only the unchecked payload (or what follows it) can be at fault */
        CHECK(lazy.type == KLAW_ENV_DATA);
        size_t payload_at = (size_t)(lazy.data.payload.ptr - data);
        CHECK(payload_at + lazy.data.payload.len == size);
        CHECK(se.status == KLAW_DECODE && se.offset >= payload_at);
        klaw_status js = json(&lazy, &t1, &je);
        CHECK(js == se.status && same_error(&je, &se));
    }

    if (ss == KLAW_OK) {
        CHECK(ls == KLAW_OK);
        CHECK(lazy.type == strict.type);
        size_t n1, n2, n3;
        uint8_t *a = write_back(&strict, &n1);
        uint8_t *b = write_back(&lazy, &n2);
        CHECK(n1 == n2 && memcmp(a, b, n1) == 0);

        klaw_status js = json(&strict, &t1, &je);
        CHECK(js == KLAW_OK || (js == KLAW_VALIDATE && je.fault == KLAW_ENV_FAULT_READER));
        klaw_status js2 = json(&lazy, &t2, &je);
        CHECK(js2 == js);
        CHECK(js != KLAW_OK || (t1.len == t2.len && memcmp(t1.p, t2.p, t1.len) == 0));

        /* the canonical form: validates, same JSON, writes back to itself */
        klaw_envelope canon;
        CHECK(klaw_envelope_validate(a, n1, &canon, &se) == KLAW_OK);
        CHECK(canon.type == strict.type);
        uint8_t *c = write_back(&canon, &n3);
        CHECK(n3 == n1 && memcmp(c, a, n1) == 0);
        if (js == KLAW_OK) {
            CHECK(json(&canon, &t2, &je) == KLAW_OK);
            CHECK(t1.len == t2.len && memcmp(t1.p, t2.p, t1.len) == 0);
        }
        free(a);
        free(b);
        free(c);
    }

    /* as one envelope of a stream */
    klaw_mp_reader r;
    klaw_envelope one;
    klaw_envelope_error re;
    klaw_mp_reader_init(&r, data, size);
    klaw_status rs = klaw_envelope_read(&r, &one, &re);
    if (rs == KLAW_OK) {
        size_t used = klaw_mp_reader_offset(&r);
        CHECK(used > 0 && used <= size);
        CHECK(klaw_envelope_validate(data, used, NULL, &se) == KLAW_OK);
        CHECK((used == size) == (ss == KLAW_OK));
    } else {
        check_error(rs, &re, size);
        CHECK(ss != KLAW_OK);
    }

    free(t1.p);
    free(t2.p);
    return 0;
}
