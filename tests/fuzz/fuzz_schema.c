/* fuzz_schema.c - libFuzzer target: random bytes decoded through schemas
 * that use every kind (All in map and array_like form, Order with
 * constraints and an enum - also strict about unknown fields and omitting
 * defaults -, top-level tagged unions with str tags in map form and int
 * tags in array_like form), under every decode option. These must hold, or the target aborts:
 *
 *   - the status is OK, DECODE, VALIDATE or NOMEM, and nothing else;
 *   - on error the out struct is all zero, the arena is back at its mark,
 *     and the error holds at least one issue with a message, an offset
 *     inside the input, and (VALIDATE) a " - at `$" path;
 *   - on success every view (str, bin, raw, array items, map entries, map
 *     keys) lies inside the input or the arena;
 *   - a successful decode re-encodes; the encoding decodes (strictly) to a
 *     value that encodes to the same bytes (a fixed point);
 *   - ALL_ERRORS agrees with the first-error mode: the same status, except
 *     that a VALIDATE may become a DECODE found further on, and its first
 *     issue is the same;
 *   - LAX and trusted UTF-8 only ever accept more, and what strict accepts
 *     they decode to the same encoding;
 *   - a smaller arena gives the same result or NOMEM;
 *   - decoding through a reader (decode_reader), with a byte after the
 *     input, agrees with decode (unless decode found malformed bytes: the
 *     extra byte may complete a truncated value).
 *
 * Build: clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude
 *   -Ibuild-schema/include codec/[a-z]*.c src/status.c tests/fuzz/fuzz_schema.c
 *   -lm -o fuzz_schema
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema_fixtures.h" /* tests/ (an include directory of the fuzz targets) */
#include "klaw/klaw.h"

#define CHECK(c)                                                                          \
    do {                                                                                  \
        if (!(c)) {                                                                       \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #c);     \
            abort();                                                                      \
        }                                                                                 \
    } while (0)

enum { NSCHEMA = 6, ARENA = 1 << 16, OUT = 4096, ENC = 1 << 18 };

/* Order again, strict about unknown fields and leaving defaults out */
static const klaw_struct_desc order_strict_desc = {.name = "OrderS", .size = sizeof(Order), KLAW_FIELDS(order_fields),
                                                   .flags = KLAW_S_FORBID_UNKNOWN | KLAW_S_OMIT_DEFAULTS};

/* array_like variants with int tags, one strict, one with a default */
typedef struct Ping {
    int32_t id;
} Ping;
typedef struct Pong {
    int32_t id;
    klaw_str note;
} Pong;
typedef struct PingPong {
    int32_t which;
    union {
        Ping ping;
        Pong pong;
    } as;
} PingPong;
static const klaw_field ping_fields[] = {{KLAW_FIELD(Ping, id, KLAW_K_I32)}};
static const klaw_field pong_fields[] = {
    {KLAW_FIELD(Pong, id, KLAW_K_I32)},
    {KLAW_FIELD(Pong, note, KLAW_K_STR), .flags = KLAW_F_DEFAULT, .def = KLAW_DEF_STR("n")},
};
static const klaw_struct_desc ping_desc = {.name = "Ping", .size = sizeof(Ping), KLAW_FIELDS(ping_fields),
                                           .flags = KLAW_S_ARRAY_LIKE | KLAW_S_FORBID_UNKNOWN, .tag = KLAW_TAG_INT,
                                           .tag_int = 1};
static const klaw_struct_desc pong_desc = {.name = "Pong", .size = sizeof(Pong), KLAW_FIELDS(pong_fields),
                                           .flags = KLAW_S_ARRAY_LIKE | KLAW_S_OMIT_DEFAULTS, .tag = KLAW_TAG_INT,
                                           .tag_int = -2};
static const klaw_struct_desc *const pp_variants[] = {&ping_desc, &pong_desc};
static const klaw_union_desc pp_desc = {"PingPong", pp_variants, 2, sizeof(PingPong), offsetof(PingPong, as)};

static klaw_schema *schemas[NSCHEMA];
static uint8_t *arena_mem;
static uint8_t *enc1, *enc2;

static void init_once(void)
{
    if (schemas[0])
        return;
    CHECK(klaw_schema_compile(&all_desc, &schemas[0], NULL) == KLAW_OK);
    CHECK(klaw_schema_compile(&all_array_desc, &schemas[1], NULL) == KLAW_OK);
    CHECK(klaw_schema_compile(&order_desc, &schemas[2], NULL) == KLAW_OK);
    CHECK(klaw_schema_compile_union(&action_desc, &schemas[3], NULL) == KLAW_OK);
    CHECK(klaw_schema_compile(&order_strict_desc, &schemas[4], NULL) == KLAW_OK);
    CHECK(klaw_schema_compile_union(&pp_desc, &schemas[5], NULL) == KLAW_OK);
    arena_mem = malloc(ARENA);
    enc1 = malloc(ENC);
    enc2 = malloc(ENC);
    CHECK(arena_mem && enc1 && enc2);
}

static const uint8_t *in_lo, *in_hi;
static const klaw_arena *cur_arena;

static bool inside(const void *p, size_t n)
{
    const uint8_t *q = (const uint8_t *)p;
    if (n == 0)
        return true;
    if (q >= in_lo && q <= in_hi && n <= (size_t)(in_hi - q))
        return true;
    return cur_arena && q >= cur_arena->base && q <= cur_arena->base + cur_arena->used &&
           n <= (size_t)(cur_arena->base + cur_arena->used - q);
}

static void check_views_all(const All *a)
{
    const Point *pts = a->pts.items;
    const PriceEntry *pe = a->prices.entries;
    CHECK(inside(a->s.ptr, a->s.len) && inside(a->sc.ptr, a->sc.len));
    CHECK(inside(a->bin.ptr, a->bin.len) && inside(a->binc.ptr, a->binc.len));
    CHECK(a->raw.len > 0 && inside(a->raw.ptr, a->raw.len));
    CHECK(inside(pts, (size_t)a->pts.len * sizeof *pts));
    CHECK(inside(pe, (size_t)a->prices.len * sizeof *pe));
    for (uint32_t i = 0; i < a->prices.len; i++)
        CHECK(inside(pe[i].key.ptr, pe[i].key.len));
    CHECK(a->act.which == 0 || a->act.which == 1);
    CHECK(a->has_maybe ? (a->maybe.which == 0 || a->maybe.which == 1) : a->maybe.which == -1);
    CHECK(a->ts.tv_nsec >= 0 && a->ts.tv_nsec <= 999999999);
}

static void check_views(int k, const void *out)
{
    if (k <= 1) {
        check_views_all(out);
    } else if (k == 2 || k == 4) {
        const Order *o = out;
        const Item *it = o->items.items;
        CHECK(inside(o->sym.ptr, o->sym.len) && o->sym.len >= 1 && o->sym.len <= 8);
        CHECK(o->qty >= 0 && (o->side == SIDE_BUY || o->side == SIDE_SELL));
        CHECK(!o->has_px || o->px > 0);
        CHECK(o->items.len <= 3 && inside(it, (size_t)o->items.len * sizeof *it));
        for (uint32_t i = 0; i < o->items.len; i++)
            CHECK(inside(it[i].sku.ptr, it[i].sku.len) && it[i].qty >= 0);
        CHECK(inside(o->tags.items, (size_t)o->tags.len * sizeof(klaw_str)));
    } else if (k == 3) {
        const Action *a = out;
        CHECK(a->which == 0 || a->which == 1);
    } else {
        const PingPong *pp = out;
        const klaw_str *note = &pp->as.pong.note;
        CHECK(pp->which == 0 ||
              (pp->which == 1 && (inside(note->ptr, note->len) || note->ptr == pong_fields[1].def.ptr)));
    }
}

static bool all_zero(const void *p, size_t n)
{
    const uint8_t *q = p;
    for (size_t i = 0; i < n; i++)
        if (q[i])
            return false;
    return true;
}

static void check_error(const klaw_schema_error *err, klaw_status st, size_t size)
{
    CHECK(st == KLAW_DECODE || st == KLAW_VALIDATE || st == KLAW_NOMEM);
    CHECK(err->status == st && err->count >= 1 && err->kept >= 1 && err->kept <= KLAW_SCHEMA_MAX_ERRORS);
    CHECK(err->kept <= err->count);
    for (uint32_t i = 0; i < err->kept; i++) {
        const klaw_schema_issue *is = &err->issues[i];
        CHECK(is->message[0] != '\0' && strlen(is->message) < KLAW_SCHEMA_MSG_MAX);
        CHECK(is->offset <= size);
        CHECK(is->depth <= KLAW_SCHEMA_PATH_MAX);
        if (is->status == KLAW_VALIDATE)
            CHECK(strstr(is->message, " - at `$") != NULL);
    }
}

/* Decodes with the given flags and arena size; checks the error side. */
static klaw_status run(int k, const uint8_t *data, size_t size, uint32_t flags, size_t arena_cap, void *out,
                       klaw_arena *arena, klaw_schema_error *err)
{
    klaw_arena_init(arena, arena_mem, arena_cap);
    memset(out, 0xa5, OUT);
    klaw_status st = klaw_schema_decode(schemas[k], data, size, out, arena, flags, err);
    if (st == KLAW_OK) {
        CHECK(err->status == KLAW_OK);
        cur_arena = arena;
        check_views(k, out);
        cur_arena = NULL;
    } else {
        check_error(err, st, size);
        CHECK(all_zero(out, klaw_schema_size(schemas[k])));
        CHECK(arena->used == 0);
    }
    return st;
}

/* Encodes a decoded value; returns the length. */
static size_t encode(int k, const void *v, uint8_t *buf)
{
    klaw_mp_writer w;
    klaw_mp_writer_init(&w, buf, ENC);
    CHECK(klaw_schema_encode(schemas[k], v, &w) == KLAW_OK);
    /* the measuring writer agrees */
    klaw_mp_writer m;
    klaw_mp_writer_init(&m, NULL, 0);
    CHECK(klaw_schema_encode(schemas[k], v, &m) == KLAW_TOOBIG && klaw_mp_writer_needed(&m) == w.pos);
    return w.pos;
}

/* The re-encoding of a decoded value is a fixed point. */
static void check_round_trip(int k, const void *v, uint8_t *enc_out, size_t *enc_len)
{
    static _Alignas(16) uint8_t out2[OUT];
    static _Alignas(16) uint8_t mem2[ARENA];
    klaw_arena a2;
    klaw_schema_error err;
    size_t n1 = encode(k, v, enc1);
    klaw_arena_init(&a2, mem2, sizeof mem2);
    klaw_status st = klaw_schema_decode(schemas[k], enc1, n1, out2, &a2, 0, &err);
    if (st != KLAW_OK)
        fprintf(stderr, "re-decode: %s\n", klaw_schema_error_message(&err));
    CHECK(st == KLAW_OK);
    size_t n2 = encode(k, out2, enc2);
    CHECK(n1 == n2 && memcmp(enc1, enc2, n1) == 0);
    if (enc_out) {
        memcpy(enc_out, enc1, n1);
        *enc_len = n1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static _Alignas(16) uint8_t out[OUT], out_b[OUT];
    static uint8_t strict_enc[ENC];
    klaw_arena arena;
    klaw_schema_error err, err_b;
    init_once();
    in_lo = data;
    in_hi = data + size;

    for (int k = 0; k < NSCHEMA; k++) {
        size_t strict_len = 0;
        klaw_status st = run(k, data, size, 0, ARENA, out, &arena, &err);
        size_t used = arena.used;
        if (st == KLAW_OK)
            check_round_trip(k, out, strict_enc, &strict_len);

        /* ALL_ERRORS agrees with the first error */
        klaw_status sa = run(k, data, size, KLAW_DECODE_ALL_ERRORS, ARENA, out_b, &arena, &err_b);
        if (st == KLAW_VALIDATE) {
            CHECK(sa == KLAW_VALIDATE || sa == KLAW_DECODE);
            CHECK(strcmp(err.issues[0].message, err_b.issues[0].message) == 0);
        } else {
            CHECK(sa == st);
            if (st != KLAW_OK)
                CHECK(strcmp(err.issues[0].message, err_b.issues[0].message) == 0);
        }

        /* LAX and trusted UTF-8 accept at least as much, and the same */
        uint32_t more[] = {KLAW_DECODE_LAX, KLAW_MP_TRUSTED_UTF8, KLAW_DECODE_LAX | KLAW_DECODE_ALL_ERRORS};
        for (size_t i = 0; i < sizeof more / sizeof more[0]; i++) {
            klaw_status sl = run(k, data, size, more[i], ARENA, out_b, &arena, &err_b);
            if (st == KLAW_OK) {
                CHECK(sl == KLAW_OK);
                size_t n = encode(k, out_b, enc2);
                CHECK(n == strict_len && memcmp(enc2, strict_enc, n) == 0);
            }
            if (sl == KLAW_OK && !(more[i] & KLAW_MP_TRUSTED_UTF8))
                check_round_trip(k, out_b, NULL, NULL);
        }

        /* a tight arena: the same or NOMEM */
        if (st == KLAW_OK && used > 0) {
            size_t cap = size ? used - 1 - (data[0] % used) : used - 1;
            klaw_status sn = run(k, data, size, 0, cap, out_b, &arena, &err_b);
            CHECK(sn == KLAW_NOMEM);
            sn = run(k, data, size, 0, used, out_b, &arena, &err_b);
            CHECK(sn == KLAW_OK && arena.used == used);
        }

        /* through a reader, with a byte after the value */
        if (size > 0 && size < 4096) {
            static uint8_t buf[4097];
            klaw_mp_reader r;
            memcpy(buf, data, size);
            buf[size] = 0xc0;
            klaw_mp_reader_init(&r, buf, size + 1);
            klaw_arena_init(&arena, arena_mem, ARENA);
            klaw_status sr = klaw_schema_decode_reader(schemas[k], &r, out_b, &arena, 0, &err_b);
            if (st == KLAW_OK) {
                CHECK(sr == KLAW_OK && klaw_mp_reader_offset(&r) == size);
                CHECK(encode(k, out_b, enc2) == strict_len && memcmp(enc2, strict_enc, strict_len) == 0);
            } else if (st != KLAW_DECODE) {
                /* the error came before the end of the input: the byte
                 * after it changes nothing */
                CHECK(sr == st);
            }
        }
    }
    return 0;
}
