/* test_schema_decode.c - schema decode: every kind, both forms, defaults,
 * optional fields, constraints, unions, unknown fields, lax mode, the exact
 * wording and path of each error, collecting all errors, arena exhaustion
 * and the zeroed-struct guarantee. */
#include "schema_fixtures.h"
#include "schema_test_util.h"

/* ---- writing an All value ------------------------------------------------------- */

static const uint8_t raw_value[] = {0x92, 0x01, 0xa1, 'x'}; /* [1, "x"] */

/* Writes a valid All (map form, or array_like) with distinctive values. */
static void write_all(klaw_mp_writer *w, bool array_like)
{
#define KEY(k)                              \
    do {                                    \
        if (!array_like)                    \
            klaw_mp_write_cstr(w, k);       \
    } while (0)
    if (array_like)
        klaw_mp_write_array(w, 26);
    else
        klaw_mp_write_map(w, 26);
    KEY("b"); klaw_mp_write_bool(w, true);
    KEY("i8"); klaw_mp_write_int(w, -128);
    KEY("i16"); klaw_mp_write_int(w, 32767);
    KEY("i32"); klaw_mp_write_int(w, -2147483647 - 1);
    KEY("i64"); klaw_mp_write_int(w, INT64_MIN);
    KEY("u8"); klaw_mp_write_uint(w, 255);
    KEY("u16"); klaw_mp_write_uint(w, 65535);
    KEY("u32"); klaw_mp_write_uint(w, 4294967295u);
    KEY("u64"); klaw_mp_write_uint(w, UINT64_MAX);
    KEY("f"); klaw_mp_write_float(w, 1.25f);
    KEY("d"); klaw_mp_write_double(w, -2.5);
    KEY("s"); klaw_mp_write_cstr(w, "view");
    KEY("sc"); klaw_mp_write_cstr(w, "copy");
    KEY("bin"); klaw_mp_write_bin(w, "\x00\x01", 2);
    KEY("binc"); klaw_mp_write_bin(w, "\xff", 1);
    KEY("raw"); klaw_mp_write_bytes(w, raw_value, sizeof raw_value);
    KEY("ts"); klaw_mp_write_timestamp(w, 1700000000, 123456789);
    KEY("side"); klaw_mp_write_cstr(w, "SELL");
    KEY("level"); klaw_mp_write_int(w, 2);
    KEY("opt"); klaw_mp_write_nil(w);
    KEY("pt"); klaw_mp_write_array(w, 1); klaw_mp_write_int(w, 7);
    KEY("pts");
    klaw_mp_write_array(w, 3);
    for (int i = 0; i < 3; i++) {
        klaw_mp_write_array(w, 2);
        klaw_mp_write_int(w, i);
        klaw_mp_write_int(w, -i);
    }
    KEY("fixed"); klaw_mp_write_array(w, 3); klaw_mp_write_int(w, -1); klaw_mp_write_int(w, 0); klaw_mp_write_int(w, 1);
    KEY("prices");
    klaw_mp_write_map(w, 2);
    klaw_mp_write_cstr(w, "AAPL"); klaw_mp_write_double(w, 1.5);
    klaw_mp_write_cstr(w, "MSFT"); klaw_mp_write_uint(w, 3);
    KEY("act");
    klaw_mp_write_map(w, 3);
    klaw_mp_write_cstr(w, "qty"); klaw_mp_write_int(w, 9);
    klaw_mp_write_cstr(w, "type"); klaw_mp_write_cstr(w, "sell");
    klaw_mp_write_cstr(w, "reason"); klaw_mp_write_cstr(w, "r");
    KEY("maybe");
    klaw_mp_write_map(w, 2);
    klaw_mp_write_cstr(w, "type"); klaw_mp_write_cstr(w, "buy");
    klaw_mp_write_cstr(w, "qty"); klaw_mp_write_int(w, 4);
#undef KEY
}

static void check_all(const All *a, const uint8_t *buf, size_t len, const klaw_arena *arena)
{
    assert_true(a->b);
    assert_int_equal(a->i8, -128);
    assert_int_equal(a->i16, 32767);
    assert_int_equal(a->i32, INT32_MIN);
    assert_true(a->i64 == INT64_MIN);
    assert_int_equal(a->u8, 255);
    assert_int_equal(a->u16, 65535);
    assert_true(a->u32 == 4294967295u);
    assert_true(a->u64 == UINT64_MAX);
    assert_true(a->f == 1.25f);
    assert_true(a->d == -2.5);
    assert_true(str_is(a->s, "view"));
    assert_true((const uint8_t *)a->s.ptr > buf && (const uint8_t *)a->s.ptr < buf + len); /* a view */
    assert_true(str_is(a->sc, "copy"));
    assert_true((const uint8_t *)a->sc.ptr >= arena->base && (const uint8_t *)a->sc.ptr < arena->base + arena->used);
    assert_int_equal(a->sc.ptr[4], '\0'); /* copies are NUL-terminated */
    assert_int_equal(a->bin.len, 2);
    assert_memory_equal(a->bin.ptr, "\x00\x01", 2);
    assert_true(a->bin.ptr > buf && a->bin.ptr < buf + len);
    assert_int_equal(a->binc.len, 1);
    assert_int_equal(a->binc.ptr[0], 0xff);
    assert_true(a->binc.ptr >= arena->base && a->binc.ptr < arena->base + arena->used);
    assert_int_equal(a->raw.len, sizeof raw_value);
    assert_memory_equal(a->raw.ptr, raw_value, sizeof raw_value);
    assert_true(a->ts.tv_sec == 1700000000 && a->ts.tv_nsec == 123456789);
    assert_int_equal(a->side, SIDE_SELL);
    assert_int_equal(a->level, LEVEL_HIGH);
    assert_false(a->has_opt);
    assert_int_equal(a->opt, 0);
    assert_int_equal(a->pt.x, 7);
    assert_int_equal(a->pt.y, 0);
    assert_int_equal(a->pts.len, 3);
    const Point *p = a->pts.items;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(p[i].x, i);
        assert_int_equal(p[i].y, -i);
    }
    assert_int_equal(a->fixed[0], -1);
    assert_int_equal(a->fixed[1], 0);
    assert_int_equal(a->fixed[2], 1);
    assert_int_equal(a->prices.len, 2);
    const PriceEntry *pe = a->prices.entries;
    assert_true(str_is(pe[0].key, "AAPL") && pe[0].value == 1.5);
    assert_true(str_is(pe[1].key, "MSFT") && pe[1].value == 3.0);
    assert_int_equal(pe[0].key.ptr[4], '\0'); /* map keys copied (KLAW_F_COPY on the map) */
    assert_int_equal(a->act.which, 1);
    assert_true(a->act.as.sell.qty == 9 && str_is(a->act.as.sell.reason, "r"));
    assert_true(a->has_maybe);
    assert_int_equal(a->maybe.which, 0);
    assert_true(a->maybe.as.buy.qty == 4);
}

static void decode_every_kind_in_map_form(void **state)
{
    (void)state;
    uint8_t buf[1024];
    klaw_mp_writer w;
    klaw_mp_writer_init(&w, buf, sizeof buf);
    write_all(&w, false);
    assert_int_equal(w.status, KLAW_OK);
    klaw_schema *s = compile_ok(&all_desc);
    All a;
    klaw_arena arena;
    klaw_schema_error err;
    klaw_arena_init(&arena, test_arena_mem, sizeof test_arena_mem);
    assert_int_equal(klaw_schema_decode(s, buf, w.pos, &a, &arena, 0, &err), KLAW_OK);
    assert_int_equal(err.status, KLAW_OK);
    check_all(&a, buf, w.pos, &arena);
    klaw_schema_free(s);
}

static void decode_every_kind_in_array_like_form(void **state)
{
    (void)state;
    uint8_t buf[1024];
    klaw_mp_writer w;
    klaw_mp_writer_init(&w, buf, sizeof buf);
    write_all(&w, true);
    klaw_schema *s = compile_ok(&all_array_desc);
    All a;
    klaw_arena arena;
    klaw_arena_init(&arena, test_arena_mem, sizeof test_arena_mem);
    assert_int_equal(klaw_schema_decode(s, buf, w.pos, &a, &arena, 0, NULL), KLAW_OK);
    check_all(&a, buf, w.pos, &arena);
    klaw_schema_free(s);
}

/* ---- Order: map form, defaults, optional, errors and their paths ---------------- */

static void decode_order_with_keys_in_declaration_order(void **state)
{
    (void)state;
    klaw_schema *s = compile_ok(&order_desc);
    Order o;
    assert_int_equal(decode_json(s,
                                 "{\"sym\":\"ABC\",\"qty\":5,\"px\":1.5,\"side\":\"SELL\","
                                 "\"items\":[{\"sku\":\"a\",\"qty\":1},{\"sku\":\"b\",\"qty\":2}],\"tags\":[\"x\"]}",
                                 &o, 0, NULL),
                     KLAW_OK);
    assert_true(str_is(o.sym, "ABC"));
    assert_int_equal(o.qty, 5);
    assert_true(o.has_px && o.px == 1.5);
    assert_int_equal(o.side, SIDE_SELL);
    assert_int_equal(o.items.len, 2);
    const Item *it = o.items.items;
    assert_true(str_is(it[0].sku, "a") && it[0].qty == 1);
    assert_true(str_is(it[1].sku, "b") && it[1].qty == 2);
    assert_int_equal(o.tags.len, 1);
    assert_true(str_is(((const klaw_str *)o.tags.items)[0], "x"));
    klaw_schema_free(s);
}

static void decode_order_keys_in_any_order_and_defaults(void **state)
{
    (void)state;
    klaw_schema *s = compile_ok(&order_desc);
    Order o;
    assert_int_equal(decode_json(s, "{\"qty\":1,\"sym\":\"A\"}", &o, 0, NULL), KLAW_OK);
    assert_true(str_is(o.sym, "A"));
    assert_int_equal(o.qty, 1);
    assert_false(o.has_px);          /* optional, default nil */
    assert_int_equal(o.side, SIDE_BUY); /* enum default */
    assert_int_equal(o.items.len, 0);
    assert_null(o.items.items);
    assert_int_equal(o.tags.len, 0);
    /* explicit nil for the optional field */
    assert_int_equal(decode_json(s, "{\"px\":null,\"qty\":1,\"sym\":\"A\"}", &o, 0, NULL), KLAW_OK);
    assert_false(o.has_px);
    klaw_schema_free(s);
}

static void decode_order_unknown_fields_are_skipped(void **state)
{
    (void)state;
    klaw_schema *s = compile_ok(&order_desc);
    Order o;
    assert_int_equal(decode_json(s, "{\"extra\":[1,{\"a\":[2,3]}],\"sym\":\"A\",\"more\":null,\"qty\":2}", &o, 0, NULL),
                     KLAW_OK);
    assert_int_equal(o.qty, 2);
    klaw_schema_free(s);
}

static void decode_order_unknown_fields_forbidden(void **state)
{
    (void)state;
    klaw_struct_desc d = order_desc;
    d.flags |= KLAW_S_FORBID_UNKNOWN;
    klaw_schema *s = compile_ok(&d);
    expect_json_error(s, "{\"sym\":\"A\",\"extra\":1,\"qty\":2}", 0, KLAW_VALIDATE,
                      "Object contains unknown field `extra` - at `$`");
    /* the flag is the struct's own: Item still skips unknown keys */
    Order o;
    assert_int_equal(decode_json(s, "{\"sym\":\"A\",\"qty\":2,\"items\":[{\"sku\":\"a\",\"qty\":1,\"zz\":1}]}", &o, 0,
                                 NULL),
                     KLAW_OK);
    assert_int_equal(o.items.len, 1);
    klaw_schema_free(s);
}

static void decode_order_error_messages(void **state)
{
    (void)state;
    klaw_schema *s = compile_ok(&order_desc);
    expect_json_error(s, "{\"sym\":\"A\",\"qty\":-5}", 0, KLAW_VALIDATE, "Expected `int` >= 0 - at `$.qty`");
    expect_json_error(s, "{\"sym\":\"A\",\"qty\":\"5\"}", 0, KLAW_VALIDATE, "Expected `int`, got `str` - at `$.qty`");
    expect_json_error(s, "{\"qty\":1}", 0, KLAW_VALIDATE, "Object missing required field `sym` - at `$`");
    expect_json_error(s, "{}", 0, KLAW_VALIDATE, "Object missing required field `sym` - at `$`");
    expect_json_error(s, "{\"sym\":\"abc\",\"qty\":1}", 0, KLAW_VALIDATE,
                      "Expected `str` matching regex '^[A-Z]+$' - at `$.sym`");
    expect_json_error(s, "{\"sym\":\"ABCDEFGHI\",\"qty\":1}", 0, KLAW_VALIDATE,
                      "Expected `str` of length <= 8 - at `$.sym`");
    expect_json_error(s, "{\"sym\":\"A\",\"qty\":1,\"side\":\"HOLD\"}", 0, KLAW_VALIDATE,
                      "Invalid enum value 'HOLD' - at `$.side`");
    expect_json_error(s, "{\"sym\":\"A\",\"qty\":1,\"side\":1}", 0, KLAW_VALIDATE,
                      "Expected `str`, got `int` - at `$.side`");
    expect_json_error(s,
                      "{\"sym\":\"A\",\"qty\":1,\"items\":[{\"sku\":\"a\",\"qty\":1},{\"sku\":\"b\",\"qty\":1},"
                      "{\"sku\":\"c\",\"qty\":1},{\"sku\":\"d\",\"qty\":1}]}",
                      0, KLAW_VALIDATE, "Expected `array` of length <= 3 - at `$.items`");
    expect_json_error(s, "{\"sym\":\"A\",\"qty\":1,\"items\":[{\"sku\":\"a\",\"qty\":1},{\"sku\":\"b\",\"qty\":-3}]}",
                      0, KLAW_VALIDATE, "Expected `int` >= 0 - at `$.items[1].qty`");
    expect_json_error(s, "{\"sym\":\"A\",\"qty\":1,\"items\":[{\"qty\":1}]}", 0, KLAW_VALIDATE,
                      "Object missing required field `sku` - at `$.items[0]`");
    expect_json_error(s, "{\"sym\":\"A\",\"qty\":1,\"px\":0}", 0, KLAW_VALIDATE, "Expected `float` > 0.0 - at `$.px`");
    expect_json_error(s, "{\"sym\":\"A\",\"qty\":1,\"px\":\"x\"}", 0, KLAW_VALIDATE,
                      "Expected `float | null`, got `str` - at `$.px`");
    expect_json_error(s, "{\"sym\":\"A\",\"qty\":1,\"sym\":\"B\"}", 0, KLAW_VALIDATE,
                      "Object contains duplicate field `sym` - at `$`");
    /* out of order first, then a repeat that comes "in order" */
    expect_json_error(s, "{\"qty\":1,\"sym\":\"A\",\"qty\":2}", 0, KLAW_VALIDATE,
                      "Object contains duplicate field `qty` - at `$`");
    expect_json_error(s, "{\"qty\":1,\"qty\":2,\"sym\":\"A\"}", 0, KLAW_VALIDATE,
                      "Object contains duplicate field `qty` - at `$`");
    expect_json_error(s, "[1,2]", 0, KLAW_VALIDATE, "Expected `object`, got `array` - at `$`");
    expect_json_error(s, "null", 0, KLAW_VALIDATE, "Expected `object`, got `null` - at `$`");
    expect_json_error(s, "{\"sym\":\"A\",\"qty\":1,\"items\":[1]}", 0, KLAW_VALIDATE,
                      "Expected `object`, got `int` - at `$.items[0]`");
    expect_json_error(s, "{\"sym\":\"A\",\"qty\":1,\"items\":{}}", 0, KLAW_VALIDATE,
                      "Expected `array`, got `object` - at `$.items`");
    expect_json_error(s, "{\"sym\":\"A\",\"qty\":1,\"tags\":[\"a\",true]}", 0, KLAW_VALIDATE,
                      "Expected `str`, got `bool` - at `$.tags[1]`");
    expect_json_error(s, "{\"sym\":\"A\",\"qty\":1.0}", 0, KLAW_VALIDATE, "Expected `int`, got `float` - at `$.qty`");
    klaw_schema_free(s);
}

static void decode_error_struct_for_programs(void **state)
{
    (void)state;
    klaw_schema *s = compile_ok(&order_desc);
    Order o;
    klaw_schema_error err;
    uint8_t buf[256];
    size_t n = mp_json("{\"sym\":\"A\",\"qty\":1,\"items\":[{\"sku\":\"a\",\"qty\":1},{\"sku\":\"b\",\"qty\":-5}]}", buf,
                       sizeof buf);
    klaw_arena arena;
    klaw_arena_init(&arena, test_arena_mem, sizeof test_arena_mem);
    assert_int_equal(klaw_schema_decode(s, buf, n, &o, &arena, 0, &err), KLAW_VALIDATE);
    assert_int_equal(err.status, KLAW_VALIDATE);
    assert_int_equal(err.count, 1);
    assert_int_equal(err.kept, 1);
    const klaw_schema_issue *is = &err.issues[0];
    assert_int_equal(is->status, KLAW_VALIDATE);
    assert_string_equal(is->expected, "int >= 0");
    assert_string_equal(is->got, "-5");
    assert_int_equal(is->depth, 3);
    assert_false(is->truncated);
    assert_int_equal(is->path[0].kind, KLAW_PATH_FIELD);
    assert_int_equal(is->path[0].n, 5);
    assert_memory_equal(is->path[0].key, "items", 5);
    assert_int_equal(is->path[1].kind, KLAW_PATH_INDEX);
    assert_int_equal(is->path[1].n, 1);
    assert_int_equal(is->path[2].kind, KLAW_PATH_FIELD);
    assert_memory_equal(is->path[2].key, "qty", 3);
    assert_int_equal(buf[is->offset], 0xfb); /* -5: the offset names the value's byte */
    char path[64];
    assert_int_equal(klaw_schema_path_format(is, path, sizeof path), 14);
    assert_string_equal(path, "$.items[1].qty");
    /* a short buffer still gets a terminated prefix and the full length back */
    assert_int_equal(klaw_schema_path_format(is, path, 4), 14);
    assert_string_equal(path, "$.i");
    klaw_schema_free(s);
}

static void decode_pattern_on_long_strs_and_nul_bytes(void **state)
{
    (void)state;
    static const klaw_constraints pat = {.flags = KLAW_C_PATTERN, .pattern = "^a+$"};
    static const klaw_field f[] = {{KLAW_FIELD(Item, sku, KLAW_K_STR), .cons = &pat}};
    klaw_struct_desc d = {.name = "P", .size = sizeof(Item), KLAW_FIELDS(f)};
    klaw_schema *s = compile_ok(&d);
    static uint8_t buf[4096], mem[4096];
    klaw_mp_writer w;
    klaw_arena arena;
    klaw_schema_error err;
    char text[2000];
    Item it;
    memset(text, 'a', sizeof text);
    klaw_mp_writer_init(&w, buf, sizeof buf);
    klaw_mp_write_map(&w, 1);
    klaw_mp_write_cstr(&w, "sku");
    klaw_mp_write_str(&w, text, sizeof text);
    /* longer than the stack copy: matched from a temporary arena copy */
    klaw_arena_init(&arena, mem, sizeof mem);
    assert_int_equal(klaw_schema_decode(s, buf, w.pos, &it, &arena, 0, &err), KLAW_OK);
    assert_int_equal(it.sku.len, sizeof text);
    assert_int_equal(arena.used, 0); /* released at once */
    klaw_arena_init(&arena, mem, 100);
    assert_int_equal(klaw_schema_decode(s, buf, w.pos, &it, &arena, 0, &err), KLAW_NOMEM);
    assert_string_equal(klaw_schema_error_message(&err), "Arena exhausted - at `$.sku`");
    /* a NUL inside never matches (regexec would stop at it) */
    klaw_mp_writer_init(&w, buf, sizeof buf);
    klaw_mp_write_map(&w, 1);
    klaw_mp_write_cstr(&w, "sku");
    klaw_mp_write_str(&w, "aa\0a", 4);
    expect_bytes_error(s, buf, w.pos, 0, KLAW_VALIDATE, "Expected `str` matching regex '^a+$' - at `$.sku`");
    klaw_schema_free(s);
}

/* ---- malformed bytes: DECODE with the byte offset ------------------------------------ */

static void decode_malformed_bytes(void **state)
{
    (void)state;
    klaw_schema *s = compile_ok(&item_desc);
    uint8_t buf[64];
    size_t n;
    /* {"sku": <end>} */
    n = mp_hex("82 a3 73 6b 75", buf, sizeof buf);
    expect_bytes_error(s, buf, n, 0, KLAW_DECODE, "decode error at byte 5: unexpected end of input - at `$.sku`");
    /* trailing bytes */
    n = mp_hex("82 a3 73 6b 75 a1 61 a3 71 74 79 01 c0", buf, sizeof buf);
    expect_bytes_error(s, buf, n, 0, KLAW_DECODE, "decode error at byte 12: trailing bytes after value - at `$`");
    /* invalid UTF-8, refused unless trusted */
    n = mp_hex("82 a3 73 6b 75 a1 ff a3 71 74 79 01", buf, sizeof buf);
    expect_bytes_error(s, buf, n, 0, KLAW_DECODE, "decode error at byte 6: invalid UTF-8 in str - at `$.sku`");
    Item it;
    assert_int_equal(klaw_schema_decode(s, buf, n, &it, NULL, KLAW_MP_TRUSTED_UTF8, NULL), KLAW_OK);
    assert_int_equal(it.sku.len, 1);
    /* 0xc1 inside an unknown field that is skipped */
    n = mp_hex("83 a3 73 6b 75 a1 61 a1 7a 91 c1 a3 71 74 79 01", buf, sizeof buf);
    expect_bytes_error(s, buf, n, 0, KLAW_DECODE, "decode error at byte 10: invalid byte 0xc1 - at `$`");
    /* a map of 4 billion pairs in 5 bytes */
    n = mp_hex("df ff ff ff ff", buf, sizeof buf);
    expect_bytes_error(s, buf, n, 0, KLAW_DECODE, "decode error at byte 0: map length exceeds input - at `$`");
    /* empty input */
    expect_bytes_error(s, buf, 0, 0, KLAW_DECODE, "decode error at byte 0: unexpected end of input - at `$`");
    /* a key that is not a str */
    n = mp_hex("81 01 02", buf, sizeof buf);
    expect_bytes_error(s, buf, n, 0, KLAW_VALIDATE, "Expected `str`, got `int` - at `$`");
    klaw_schema_free(s);
}

/* ---- every C range --------------------------------------------------------------------- */

typedef struct Ints {
    int8_t a;
    int16_t b;
    int32_t c;
    int64_t d;
    uint8_t e;
    uint16_t f;
    uint32_t g;
    uint64_t h;
    float x;
} Ints;
static const klaw_field ints_fields[] = {
    {KLAW_FIELD(Ints, a, KLAW_K_I8), .flags = KLAW_F_DEFAULT},
    {KLAW_FIELD(Ints, b, KLAW_K_I16), .flags = KLAW_F_DEFAULT},
    {KLAW_FIELD(Ints, c, KLAW_K_I32), .flags = KLAW_F_DEFAULT},
    {KLAW_FIELD(Ints, d, KLAW_K_I64), .flags = KLAW_F_DEFAULT},
    {KLAW_FIELD(Ints, e, KLAW_K_U8), .flags = KLAW_F_DEFAULT},
    {KLAW_FIELD(Ints, f, KLAW_K_U16), .flags = KLAW_F_DEFAULT},
    {KLAW_FIELD(Ints, g, KLAW_K_U32), .flags = KLAW_F_DEFAULT},
    {KLAW_FIELD(Ints, h, KLAW_K_U64), .flags = KLAW_F_DEFAULT},
    {KLAW_FIELD(Ints, x, KLAW_K_FLOAT), .flags = KLAW_F_DEFAULT},
};
static const klaw_struct_desc ints_desc = {.name = "Ints", .size = sizeof(Ints), KLAW_FIELDS(ints_fields)};

static void decode_int_kinds_are_range_checked(void **state)
{
    (void)state;
    klaw_schema *s = compile_ok(&ints_desc);
    Ints v;
    expect_json_error(s, "{\"a\":128}", 0, KLAW_VALIDATE, "Expected `int` <= 127 - at `$.a`");
    expect_json_error(s, "{\"a\":-129}", 0, KLAW_VALIDATE, "Expected `int` >= -128 - at `$.a`");
    expect_json_error(s, "{\"b\":32768}", 0, KLAW_VALIDATE, "Expected `int` <= 32767 - at `$.b`");
    expect_json_error(s, "{\"b\":-32769}", 0, KLAW_VALIDATE, "Expected `int` >= -32768 - at `$.b`");
    expect_json_error(s, "{\"c\":2147483648}", 0, KLAW_VALIDATE, "Expected `int` <= 2147483647 - at `$.c`");
    expect_json_error(s, "{\"d\":9223372036854775808}", 0, KLAW_VALIDATE,
                      "Expected `int` <= 9223372036854775807 - at `$.d`");
    expect_json_error(s, "{\"e\":-1}", 0, KLAW_VALIDATE, "Expected `int` >= 0 - at `$.e`");
    expect_json_error(s, "{\"e\":256}", 0, KLAW_VALIDATE, "Expected `int` <= 255 - at `$.e`");
    expect_json_error(s, "{\"f\":65536}", 0, KLAW_VALIDATE, "Expected `int` <= 65535 - at `$.f`");
    expect_json_error(s, "{\"g\":4294967296}", 0, KLAW_VALIDATE, "Expected `int` <= 4294967295 - at `$.g`");
    expect_json_error(s, "{\"h\":-9223372036854775808}", 0, KLAW_VALIDATE, "Expected `int` >= 0 - at `$.h`");
    expect_json_error(s, "{\"x\":1e39}", 0, KLAW_VALIDATE, "Expected `float` <= 3.4028234663852886e+38 - at `$.x`");
    expect_json_error(s, "{\"x\":-1e39}", 0, KLAW_VALIDATE,
                      "Expected `float` >= -3.4028234663852886e+38 - at `$.x`");
    expect_json_error(s, "{\"x\":\"1\"}", 0, KLAW_VALIDATE, "Expected `float`, got `str` - at `$.x`");
    assert_int_equal(decode_json(s,
                                 "{\"a\":-128,\"b\":-32768,\"c\":-2147483648,\"d\":-9223372036854775808,\"e\":255,"
                                 "\"f\":65535,\"g\":4294967295,\"h\":18446744073709551615,\"x\":3}",
                                 &v, 0, NULL),
                     KLAW_OK);
    assert_int_equal(v.a, -128);
    assert_int_equal(v.b, -32768);
    assert_int_equal(v.c, INT32_MIN);
    assert_true(v.d == INT64_MIN);
    assert_int_equal(v.e, 255);
    assert_int_equal(v.f, 65535);
    assert_true(v.g == UINT32_MAX);
    assert_true(v.h == UINT64_MAX);
    assert_true(v.x == 3.0f); /* an int is a float, strictly too (as msgspec) */
    /* infinities are floats */
    uint8_t buf[32];
    size_t n = mp_hex("81 a1 78 cb 7f f0 00 00 00 00 00 00", buf, sizeof buf);
    assert_int_equal(klaw_schema_decode(s, buf, n, &v, NULL, 0, NULL), KLAW_OK);
    assert_true(v.x > 3.4e38f);
    klaw_schema_free(s);
}

/* ---- constraints --------------------------------------------------------------------------- */

typedef struct Cons {
    int32_t a;
    int64_t m;
    uint32_t u;
    double f;
    double fm;
    klaw_str s;
    klaw_bytes bn;
    klaw_array arr;
    klaw_map mp;
} Cons;
typedef struct IntEntry {
    klaw_str key;
    int32_t value;
} IntEntry;
static const klaw_constraints cons_a = {.flags = KLAW_C_GT | KLAW_C_LT, .gt.i = 0, .lt.i = 10};
static const klaw_constraints cons_m = {.flags = KLAW_C_MULTIPLE_OF, .multiple_of.i = 5};
static const klaw_constraints cons_u = {.flags = KLAW_C_GT | KLAW_C_LE, .gt.i = 2, .le.i = 7};
static const klaw_constraints cons_f = {.flags = KLAW_C_GE | KLAW_C_LT, .ge.d = 0.5, .lt.d = 1.5};
static const klaw_constraints cons_fm = {.flags = KLAW_C_MULTIPLE_OF, .multiple_of.d = 0.25};
static const klaw_constraints cons_s = {.flags = KLAW_C_MIN_LENGTH | KLAW_C_MAX_LENGTH, .min_length = 2,
                                        .max_length = 3};
static const klaw_constraints cons_min1 = {.flags = KLAW_C_MIN_LENGTH, .min_length = 1};
static const klaw_field cons_int_elem = {KLAW_ELEM(int32_t, KLAW_K_I32)};
static const klaw_field cons_map_elem = {KLAW_MAP_VALUE(IntEntry, KLAW_K_I32)};
static const klaw_field cons_fields[] = {
    {KLAW_FIELD(Cons, a, KLAW_K_I32), .flags = KLAW_F_DEFAULT, .def.i = 1, .cons = &cons_a},
    {KLAW_FIELD(Cons, m, KLAW_K_I64), .flags = KLAW_F_DEFAULT, .cons = &cons_m},
    {KLAW_FIELD(Cons, u, KLAW_K_U32), .flags = KLAW_F_DEFAULT, .def.u = 3, .cons = &cons_u},
    {KLAW_FIELD(Cons, f, KLAW_K_DOUBLE), .flags = KLAW_F_DEFAULT, .def.d = 1, .cons = &cons_f},
    {KLAW_FIELD(Cons, fm, KLAW_K_DOUBLE), .flags = KLAW_F_DEFAULT, .cons = &cons_fm},
    {KLAW_FIELD(Cons, s, KLAW_K_STR), .flags = KLAW_F_DEFAULT, .def = KLAW_DEF_STR("ab"), .cons = &cons_s},
    {KLAW_FIELD(Cons, bn, KLAW_K_BIN), .flags = KLAW_F_DEFAULT, .cons = &cons_min1},
    {KLAW_FIELD(Cons, arr, KLAW_K_ARRAY), .flags = KLAW_F_DEFAULT, .elem = &cons_int_elem, .cons = &cons_min1},
    {KLAW_FIELD(Cons, mp, KLAW_K_MAP), .flags = KLAW_F_DEFAULT, .elem = &cons_map_elem, .count = sizeof(IntEntry),
     .cons = &cons_min1},
};
static const klaw_struct_desc cons_desc = {.name = "Cons", .size = sizeof(Cons), KLAW_FIELDS(cons_fields)};

static void decode_constraints(void **state)
{
    (void)state;
    klaw_schema *s = compile_ok(&cons_desc);
    Cons c;
    /* ints: gt/lt are shown as >=/<=, as msgspec does */
    expect_json_error(s, "{\"a\":0}", 0, KLAW_VALIDATE, "Expected `int` >= 1 - at `$.a`");
    expect_json_error(s, "{\"a\":10}", 0, KLAW_VALIDATE, "Expected `int` <= 9 - at `$.a`");
    expect_json_error(s, "{\"m\":7}", 0, KLAW_VALIDATE, "Expected `int` that's a multiple of 5 - at `$.m`");
    expect_json_error(s, "{\"m\":-7}", 0, KLAW_VALIDATE, "Expected `int` that's a multiple of 5 - at `$.m`");
    expect_json_error(s, "{\"u\":2}", 0, KLAW_VALIDATE, "Expected `int` >= 3 - at `$.u`");
    expect_json_error(s, "{\"u\":8}", 0, KLAW_VALIDATE, "Expected `int` <= 7 - at `$.u`");
    expect_json_error(s, "{\"f\":0.4}", 0, KLAW_VALIDATE, "Expected `float` >= 0.5 - at `$.f`");
    expect_json_error(s, "{\"f\":1.5}", 0, KLAW_VALIDATE, "Expected `float` < 1.5 - at `$.f`");
    expect_json_error(s, "{\"fm\":0.3}", 0, KLAW_VALIDATE, "Expected `float` that's a multiple of 0.25 - at `$.fm`");
    expect_json_error(s, "{\"s\":\"\xc3\xa9\"}", 0, KLAW_VALIDATE, "Expected `str` of length >= 2 - at `$.s`");
    expect_json_error(s, "{\"s\":\"abcd\"}", 0, KLAW_VALIDATE, "Expected `str` of length <= 3 - at `$.s`");
    expect_json_error(s, "{\"arr\":[]}", 0, KLAW_VALIDATE, "Expected `array` of length >= 1 - at `$.arr`");
    expect_json_error(s, "{\"mp\":{}}", 0, KLAW_VALIDATE, "Expected `object` of length >= 1 - at `$.mp`");
    expect_json_error(s, "{\"mp\":{\"a\":\"x\"}}", 0, KLAW_VALIDATE, "Expected `int`, got `str` - at `$.mp[...]`");
    uint8_t buf[32];
    size_t n = mp_hex("81 a2 62 6e c4 00", buf, sizeof buf);
    expect_bytes_error(s, buf, n, 0, KLAW_VALIDATE, "Expected `bytes` of length >= 1 - at `$.bn`");
    /* NaN meets no bound */
    n = mp_hex("81 a1 66 cb 7f f8 00 00 00 00 00 00", buf, sizeof buf);
    expect_bytes_error(s, buf, n, 0, KLAW_VALIDATE, "Expected `float` >= 0.5 - at `$.f`");
    /* the edges pass; str length counts code points ("éé" is 4 bytes) */
    assert_int_equal(decode_json(s,
                                 "{\"a\":9,\"m\":-10,\"u\":7,\"f\":0.5,\"fm\":0.75,\"s\":\"\xc3\xa9\xc3\xa9\","
                                 "\"arr\":[1],\"mp\":{\"k\":2}}",
                                 &c, 0, NULL),
                     KLAW_OK);
    assert_int_equal(c.a, 9);
    assert_true(c.m == -10);
    assert_int_equal(c.u, 7);
    assert_true(c.f == 0.5 && c.fm == 0.75);
    assert_int_equal(c.s.len, 4);
    assert_int_equal(c.arr.len, 1);
    assert_int_equal(((const int32_t *)c.arr.items)[0], 1);
    assert_int_equal(c.mp.len, 1);
    assert_true(str_is(((const IntEntry *)c.mp.entries)[0].key, "k"));
    assert_int_equal(((const IntEntry *)c.mp.entries)[0].value, 2);
    /* defaults, written when missing */
    assert_int_equal(decode_json(s, "{}", &c, 0, NULL), KLAW_OK);
    assert_int_equal(c.a, 1);
    assert_int_equal(c.u, 3);
    assert_true(c.f == 1.0);
    assert_true(str_is(c.s, "ab"));
    klaw_schema_free(s);
}

/* ---- timestamps, bin, raw, fixed, maps, int enums ------------------------------------------ */

typedef struct Misc {
    struct timespec ts;
    int16_t fixed[3];
    int level;
    klaw_mp_raw raw;
} Misc;
static const klaw_field misc_fixed_elem = {KLAW_ELEM(int16_t, KLAW_K_I16)};
static const klaw_field misc_fields[] = {
    {KLAW_FIELD(Misc, ts, KLAW_K_TIMESTAMP), .flags = KLAW_F_DEFAULT},
    {KLAW_FIELD(Misc, fixed, KLAW_K_FIXED), .flags = KLAW_F_DEFAULT, .elem = &misc_fixed_elem, .count = 3},
    {KLAW_FIELD(Misc, level, KLAW_K_ENUM), .flags = KLAW_F_DEFAULT, .enm = &level_desc, .def.i = LEVEL_LOW},
    {KLAW_FIELD(Misc, raw, KLAW_K_RAW), .flags = KLAW_F_DEFAULT, .def = {.ptr = "\xc3", .len = 1}},
};
static const klaw_struct_desc misc_desc = {.name = "Misc", .size = sizeof(Misc), KLAW_FIELDS(misc_fields)};

static void decode_timestamps_fixed_enums_raw(void **state)
{
    (void)state;
    klaw_schema *s = compile_ok(&misc_desc);
    Misc m;
    uint8_t buf[64];
    size_t n;
    /* the three timestamp widths */
    n = mp_hex("81 a2 74 73 d6 ff 00 00 00 05", buf, sizeof buf);
    assert_int_equal(klaw_schema_decode(s, buf, n, &m, NULL, 0, NULL), KLAW_OK);
    assert_true(m.ts.tv_sec == 5 && m.ts.tv_nsec == 0);
    klaw_mp_writer w;
    klaw_mp_writer_init(&w, buf, sizeof buf);
    klaw_mp_write_map(&w, 1);
    klaw_mp_write_cstr(&w, "ts");
    klaw_mp_write_timestamp(&w, 1234, 5678);
    assert_int_equal(klaw_schema_decode(s, buf, w.pos, &m, NULL, 0, NULL), KLAW_OK);
    assert_true(m.ts.tv_sec == 1234 && m.ts.tv_nsec == 5678);
    klaw_mp_writer_init(&w, buf, sizeof buf);
    klaw_mp_write_map(&w, 1);
    klaw_mp_write_cstr(&w, "ts");
    klaw_mp_write_timestamp(&w, -1, 999999999);
    assert_int_equal(buf[4], 0xc7); /* the 96-bit form */
    assert_int_equal(klaw_schema_decode(s, buf, w.pos, &m, NULL, 0, NULL), KLAW_OK);
    assert_true(m.ts.tv_sec == -1 && m.ts.tv_nsec == 999999999);
    expect_json_error(s, "{\"ts\":5}", 0, KLAW_VALIDATE, "Expected `datetime`, got `int` - at `$.ts`");
    n = mp_hex("81 a2 74 73 d6 01 00 00 00 05", buf, sizeof buf); /* ext 1 */
    expect_bytes_error(s, buf, n, 0, KLAW_VALIDATE, "Expected `datetime`, got `ext` - at `$.ts`");

    /* fixed: exactly N */
    assert_int_equal(decode_json(s, "{\"fixed\":[1,-2,3]}", &m, 0, NULL), KLAW_OK);
    assert_true(m.fixed[0] == 1 && m.fixed[1] == -2 && m.fixed[2] == 3);
    expect_json_error(s, "{\"fixed\":[1,2]}", 0, KLAW_VALIDATE, "Expected `array` of length 3, got 2 - at `$.fixed`");
    expect_json_error(s, "{\"fixed\":[1,2,3,4]}", 0, KLAW_VALIDATE,
                      "Expected `array` of length 3, got 4 - at `$.fixed`");
    expect_json_error(s, "{\"fixed\":[1,2,40000]}", 0, KLAW_VALIDATE, "Expected `int` <= 32767 - at `$.fixed[2]`");

    /* int enums */
    assert_int_equal(decode_json(s, "{\"level\":2}", &m, 0, NULL), KLAW_OK);
    assert_int_equal(m.level, LEVEL_HIGH);
    expect_json_error(s, "{\"level\":5}", 0, KLAW_VALIDATE, "Invalid enum value 5 - at `$.level`");
    expect_json_error(s, "{\"level\":18446744073709551615}", 0, KLAW_VALIDATE,
                      "Invalid enum value 18446744073709551615 - at `$.level`");
    expect_json_error(s, "{\"level\":\"LOW\"}", 0, KLAW_VALIDATE, "Expected `int`, got `str` - at `$.level`");

    /* raw: the value's own bytes; defaults */
    assert_int_equal(decode_json(s, "{\"raw\":{\"a\":[1,2]}}", &m, 0, NULL), KLAW_OK);
    assert_int_equal(m.raw.len, 6); /* 81 a1 61 92 01 02 */
    assert_int_equal(m.raw.ptr[0], 0x81);
    assert_int_equal(decode_json(s, "{}", &m, 0, NULL), KLAW_OK);
    assert_int_equal(m.level, LEVEL_LOW);
    assert_int_equal(m.raw.len, 1);
    assert_int_equal(m.raw.ptr[0], 0xc3);
    klaw_schema_free(s);
}

/* ---- unions ------------------------------------------------------------------------------------- */

typedef struct Holder {
    Action act;
    Action opt;
    bool has_opt;
} Holder;
static const klaw_field holder_fields[] = {
    {KLAW_FIELD(Holder, act, KLAW_K_UNION), .uni = &action_desc},
    {KLAW_FIELD(Holder, opt, KLAW_K_UNION), .uni = &action_desc, .flags = KLAW_F_OPTIONAL,
     .present = KLAW_PRESENT(Holder, has_opt)},
};
static const klaw_struct_desc holder_desc = {.name = "Holder", .size = sizeof(Holder), KLAW_FIELDS(holder_fields)};

static void decode_union_tag_first_and_elsewhere(void **state)
{
    (void)state;
    klaw_schema *s = compile_ok(&holder_desc);
    Holder h;
    assert_int_equal(decode_json(s, "{\"act\":{\"type\":\"buy\",\"qty\":5}}", &h, 0, NULL), KLAW_OK);
    assert_int_equal(h.act.which, 0);
    assert_true(h.act.as.buy.qty == 5);
    assert_false(h.has_opt);
    assert_int_equal(h.opt.which, -1); /* missing: none */
    assert_int_equal(decode_json(s, "{\"act\":{\"qty\":6,\"reason\":\"r\",\"type\":\"sell\"},\"opt\":null}", &h, 0, NULL),
                     KLAW_OK);
    assert_int_equal(h.act.which, 1);
    assert_true(h.act.as.sell.qty == 6 && str_is(h.act.as.sell.reason, "r"));
    assert_false(h.has_opt);
    assert_int_equal(h.opt.which, -1);
    assert_int_equal(decode_json(s, "{\"act\":{\"qty\":6,\"type\":\"sell\"},\"opt\":{\"qty\":1,\"type\":\"buy\"}}", &h, 0,
                                 NULL),
                     KLAW_OK);
    assert_int_equal(h.act.which, 1);
    assert_int_equal(h.act.as.sell.reason.len, 0); /* its default */
    assert_true(h.has_opt);
    assert_int_equal(h.opt.which, 0);
    /* a repeated tag is ignored once the variant is chosen */
    assert_int_equal(decode_json(s, "{\"act\":{\"type\":\"buy\",\"qty\":5,\"type\":\"sell\"}}", &h, 0, NULL), KLAW_OK);
    assert_int_equal(h.act.which, 0);
    klaw_schema_free(s);
}

static void decode_union_errors(void **state)
{
    (void)state;
    klaw_schema *s = compile_ok(&holder_desc);
    expect_json_error(s, "{\"act\":{\"qty\":5}}", 0, KLAW_VALIDATE, "Object missing required field `type` - at `$.act`");
    expect_json_error(s, "{\"act\":{\"type\":\"hold\",\"qty\":5}}", 0, KLAW_VALIDATE,
                      "Invalid value 'hold' - at `$.act.type`");
    expect_json_error(s, "{\"act\":{\"qty\":5,\"type\":1}}", 0, KLAW_VALIDATE,
                      "Expected `str`, got `int` - at `$.act.type`");
    expect_json_error(s, "{\"act\":[1]}", 0, KLAW_VALIDATE, "Expected `object`, got `array` - at `$.act`");
    expect_json_error(s, "{\"act\":{\"type\":\"buy\"}}", 0, KLAW_VALIDATE,
                      "Object missing required field `qty` - at `$.act`");
    expect_json_error(s, "{\"act\":{\"type\":\"buy\",\"qty\":\"x\"}}", 0, KLAW_VALIDATE,
                      "Expected `int`, got `str` - at `$.act.qty`");
    expect_json_error(s, "{\"act\":null}", 0, KLAW_VALIDATE, "Expected `object`, got `null` - at `$.act`");
    expect_json_error(s, "{\"opt\":1,\"act\":{\"type\":\"buy\",\"qty\":1}}", 0, KLAW_VALIDATE,
                      "Expected `object | null`, got `int` - at `$.opt`");
    klaw_schema_free(s);
}

static void decode_top_level_union(void **state)
{
    (void)state;
    klaw_schema *s = NULL;
    klaw_schema_error err;
    assert_int_equal(klaw_schema_compile_union(&action_desc, &s, &err), KLAW_OK);
    assert_int_equal(klaw_schema_size(s), sizeof(Action));
    Action a;
    assert_int_equal(decode_json(s, "{\"qty\":2,\"type\":\"sell\"}", &a, 0, NULL), KLAW_OK);
    assert_int_equal(a.which, 1);
    assert_true(a.as.sell.qty == 2);
    expect_json_error(s, "{\"type\":\"x\"}", 0, KLAW_VALIDATE, "Invalid value 'x' - at `$.type`");
    expect_json_error(s, "{}", 0, KLAW_VALIDATE, "Object missing required field `type` - at `$`");
    klaw_schema_free(s);
}

/* array_like variants with int tags: the tag is element 0 */
typedef struct Ping {
    int32_t id;
} Ping;
typedef struct Pong {
    int32_t id;
    klaw_str note;
} Pong;
typedef struct Msg {
    int32_t which;
    union {
        Ping ping;
        Pong pong;
    } as;
} Msg;
static const klaw_field ping_fields[] = {{KLAW_FIELD(Ping, id, KLAW_K_I32)}};
static const klaw_field pong_fields[] = {
    {KLAW_FIELD(Pong, id, KLAW_K_I32)},
    {KLAW_FIELD(Pong, note, KLAW_K_STR), .flags = KLAW_F_DEFAULT},
};
static const klaw_struct_desc ping_desc = {.name = "Ping", .size = sizeof(Ping), KLAW_FIELDS(ping_fields),
                                           .flags = KLAW_S_ARRAY_LIKE, .tag = KLAW_TAG_INT, .tag_int = 1};
static const klaw_struct_desc pong_desc = {.name = "Pong", .size = sizeof(Pong), KLAW_FIELDS(pong_fields),
                                           .flags = KLAW_S_ARRAY_LIKE | KLAW_S_FORBID_UNKNOWN, .tag = KLAW_TAG_INT,
                                           .tag_int = 2};
static const klaw_struct_desc *const msg_variants[] = {&ping_desc, &pong_desc};
static const klaw_union_desc msg_desc = {"Msg", msg_variants, 2, sizeof(Msg), offsetof(Msg, as)};

static void decode_array_like_union_with_int_tags(void **state)
{
    (void)state;
    klaw_schema *s = NULL;
    assert_int_equal(klaw_schema_compile_union(&msg_desc, &s, NULL), KLAW_OK);
    Msg m;
    assert_int_equal(decode_json(s, "[2,7,\"hi\"]", &m, 0, NULL), KLAW_OK);
    assert_int_equal(m.which, 1);
    assert_true(m.as.pong.id == 7 && str_is(m.as.pong.note, "hi"));
    assert_int_equal(decode_json(s, "[1,3,\"extra\",[4]]", &m, 0, NULL), KLAW_OK); /* Ping skips extras */
    assert_int_equal(m.which, 0);
    assert_int_equal(m.as.ping.id, 3);
    expect_json_error(s, "[3,1]", 0, KLAW_VALIDATE, "Invalid value 3 - at `$[0]`");
    expect_json_error(s, "[]", 0, KLAW_VALIDATE, "Expected `array` of at least length 1, got 0 - at `$`");
    expect_json_error(s, "[\"x\",1]", 0, KLAW_VALIDATE, "Expected `int`, got `str` - at `$[0]`");
    expect_json_error(s, "[1]", 0, KLAW_VALIDATE, "Expected `array` of at least length 2, got 1 - at `$`");
    expect_json_error(s, "[2,1,\"a\",4]", 0, KLAW_VALIDATE, "Expected `array` of at most length 3, got 4 - at `$`");
    expect_json_error(s, "[2,\"a\"]", 0, KLAW_VALIDATE, "Expected `int`, got `str` - at `$[1]`");
    expect_json_error(s, "{\"type\":1}", 0, KLAW_VALIDATE, "Expected `array`, got `object` - at `$`");
    klaw_schema_free(s);
}

static void decode_tagged_struct_on_its_own(void **state)
{
    (void)state;
    klaw_schema *s = compile_ok(&sell_desc);
    Sell v;
    assert_int_equal(decode_json(s, "{\"type\":\"sell\",\"qty\":1}", &v, 0, NULL), KLAW_OK);
    assert_int_equal(decode_json(s, "{\"qty\":1}", &v, 0, NULL), KLAW_OK); /* map form: the tag may be left out */
    expect_json_error(s, "{\"qty\":1,\"type\":\"buy\"}", 0, KLAW_VALIDATE, "Invalid value 'buy' - at `$.type`");
    klaw_schema_free(s);
    s = compile_ok(&ping_desc);
    Ping p;
    assert_int_equal(decode_json(s, "[1,5]", &p, 0, NULL), KLAW_OK);
    assert_int_equal(p.id, 5);
    expect_json_error(s, "[2,5]", 0, KLAW_VALIDATE, "Invalid value 2 - at `$[0]`");
    expect_json_error(s, "[]", 0, KLAW_VALIDATE, "Expected `array` of at least length 2, got 0 - at `$`");
    klaw_schema_free(s);
}

/* ---- array_like structs ------------------------------------------------------------------------- */

static void decode_array_like_struct(void **state)
{
    (void)state;
    klaw_schema *s = compile_ok(&point_desc);
    Point p;
    assert_int_equal(decode_json(s, "[1,2]", &p, 0, NULL), KLAW_OK);
    assert_true(p.x == 1 && p.y == 2);
    assert_int_equal(decode_json(s, "[3]", &p, 0, NULL), KLAW_OK); /* trailing default */
    assert_true(p.x == 3 && p.y == 0);
    assert_int_equal(decode_json(s, "[3,4,5,{\"x\":1}]", &p, 0, NULL), KLAW_OK); /* extra items skipped */
    assert_true(p.x == 3 && p.y == 4);
    expect_json_error(s, "[]", 0, KLAW_VALIDATE, "Expected `array` of at least length 1, got 0 - at `$`");
    expect_json_error(s, "[1,\"y\"]", 0, KLAW_VALIDATE, "Expected `int`, got `str` - at `$[1]`");
    expect_json_error(s, "{\"x\":1}", 0, KLAW_VALIDATE, "Expected `array`, got `object` - at `$`");
    klaw_schema_free(s);
    klaw_struct_desc strict = point_desc;
    strict.flags |= KLAW_S_FORBID_UNKNOWN;
    s = compile_ok(&strict);
    expect_json_error(s, "[1,2,3]", 0, KLAW_VALIDATE, "Expected `array` of at most length 2, got 3 - at `$`");
    assert_int_equal(decode_json(s, "[1,2]", &p, 0, NULL), KLAW_OK);
    klaw_schema_free(s);
}

/* ---- lax mode ------------------------------------------------------------------------------------- */

typedef struct Lax {
    int32_t i;
    double d;
    bool b;
    uint8_t u;
    struct timespec ts;
    int32_t n;
    bool has_n;
} Lax;
static const klaw_field lax_fields[] = {
    {KLAW_FIELD(Lax, i, KLAW_K_I32), .flags = KLAW_F_DEFAULT},
    {KLAW_FIELD(Lax, d, KLAW_K_DOUBLE), .flags = KLAW_F_DEFAULT},
    {KLAW_FIELD(Lax, b, KLAW_K_BOOL), .flags = KLAW_F_DEFAULT},
    {KLAW_FIELD(Lax, u, KLAW_K_U8), .flags = KLAW_F_DEFAULT},
    {KLAW_FIELD(Lax, ts, KLAW_K_TIMESTAMP), .flags = KLAW_F_DEFAULT},
    {KLAW_FIELD(Lax, n, KLAW_K_I32), .flags = KLAW_F_OPTIONAL, .present = KLAW_PRESENT(Lax, has_n)},
};
static const klaw_struct_desc lax_desc = {.name = "Lax", .size = sizeof(Lax), KLAW_FIELDS(lax_fields)};

static void decode_lax_coercions_and_their_strict_refusals(void **state)
{
    (void)state;
    klaw_schema *s = compile_ok(&lax_desc);
    Lax v;
    const uint32_t L = KLAW_DECODE_LAX;
    assert_int_equal(decode_json(s, "{\"i\":\"12\",\"d\":\"1.5\",\"b\":\"TRUE\",\"u\":\"7\",\"n\":\"5\"}", &v, L, NULL),
                     KLAW_OK);
    assert_true(v.i == 12 && v.d == 1.5 && v.b && v.u == 7 && v.has_n && v.n == 5);
    assert_int_equal(decode_json(s, "{\"i\":\"-7\",\"b\":\"0\",\"n\":\"null\"}", &v, L, NULL), KLAW_OK);
    assert_true(v.i == -7 && !v.b && !v.has_n);
    assert_int_equal(decode_json(s, "{\"i\":\"1e2\",\"b\":1,\"n\":\"NULL\"}", &v, L, NULL), KLAW_OK);
    assert_true(v.i == 100 && v.b && !v.has_n);
    assert_int_equal(decode_json(s, "{\"i\":3.0,\"b\":\"false\"}", &v, L, NULL), KLAW_OK);
    assert_true(v.i == 3 && !v.b);
    assert_int_equal(decode_json(s, "{\"ts\":1700000000}", &v, L, NULL), KLAW_OK);
    assert_true(v.ts.tv_sec == 1700000000 && v.ts.tv_nsec == 0);
    assert_int_equal(decode_json(s, "{\"ts\":1.5}", &v, L, NULL), KLAW_OK);
    assert_true(v.ts.tv_sec == 1 && v.ts.tv_nsec == 500000000);
    assert_int_equal(decode_json(s, "{\"ts\":-1.25}", &v, L, NULL), KLAW_OK);
    assert_true(v.ts.tv_sec == -2 && v.ts.tv_nsec == 750000000);
    /* what lax still refuses */
    expect_json_error(s, "{\"i\":3.5}", L, KLAW_VALIDATE, "Expected `int`, got `float` - at `$.i`");
    expect_json_error(s, "{\"i\":\"1.5\"}", L, KLAW_VALIDATE, "Expected `int`, got `str` - at `$.i`");
    expect_json_error(s, "{\"i\":\"12a\"}", L, KLAW_VALIDATE, "Expected `int`, got `str` - at `$.i`");
    expect_json_error(s, "{\"i\":\"99999999999\"}", L, KLAW_VALIDATE, "Expected `int` <= 2147483647 - at `$.i`");
    expect_json_error(s, "{\"u\":\"300\"}", L, KLAW_VALIDATE, "Expected `int` <= 255 - at `$.u`");
    expect_json_error(s, "{\"d\":\"abc\"}", L, KLAW_VALIDATE, "Expected `float`, got `str` - at `$.d`");
    expect_json_error(s, "{\"b\":2}", L, KLAW_VALIDATE, "Expected `bool`, got `int` - at `$.b`");
    expect_json_error(s, "{\"b\":\"yes\"}", L, KLAW_VALIDATE, "Expected `bool`, got `str` - at `$.b`");
    expect_json_error(s, "{\"n\":\"nul\"}", L, KLAW_VALIDATE, "Expected `int | null`, got `str` - at `$.n`");
    /* strict refuses every coercion */
    expect_json_error(s, "{\"i\":\"12\"}", 0, KLAW_VALIDATE, "Expected `int`, got `str` - at `$.i`");
    expect_json_error(s, "{\"i\":3.0}", 0, KLAW_VALIDATE, "Expected `int`, got `float` - at `$.i`");
    expect_json_error(s, "{\"d\":\"1.5\"}", 0, KLAW_VALIDATE, "Expected `float`, got `str` - at `$.d`");
    expect_json_error(s, "{\"b\":\"true\"}", 0, KLAW_VALIDATE, "Expected `bool`, got `str` - at `$.b`");
    expect_json_error(s, "{\"b\":1}", 0, KLAW_VALIDATE, "Expected `bool`, got `int` - at `$.b`");
    expect_json_error(s, "{\"ts\":1}", 0, KLAW_VALIDATE, "Expected `datetime`, got `int` - at `$.ts`");
    expect_json_error(s, "{\"n\":\"null\"}", 0, KLAW_VALIDATE, "Expected `int | null`, got `str` - at `$.n`");
    klaw_schema_free(s);
}

/* ---- collecting every error ---------------------------------------------------------------------- */

static void decode_all_errors_collects_every_one(void **state)
{
    (void)state;
    klaw_struct_desc d = order_desc;
    d.flags |= KLAW_S_FORBID_UNKNOWN;
    klaw_schema *s = compile_ok(&d);
    Order o;
    klaw_schema_error err;
    const char *json = "{\"sym\":\"abc\",\"qty\":-1,\"zz\":[1,2],\"px\":\"x\",\"side\":\"HOLD\","
                       "\"items\":[{\"sku\":1,\"qty\":-2},{\"qty\":1}],\"tags\":[\"ok\",{\"a\":1},3]}";
    assert_int_equal(decode_json(s, json, &o, KLAW_DECODE_ALL_ERRORS, &err), KLAW_VALIDATE);
    static const char *const want[] = {
        "Expected `str` matching regex '^[A-Z]+$' - at `$.sym`",
        "Expected `int` >= 0 - at `$.qty`",
        "Object contains unknown field `zz` - at `$`",
        "Expected `float | null`, got `str` - at `$.px`",
        "Invalid enum value 'HOLD' - at `$.side`",
        "Expected `str`, got `int` - at `$.items[0].sku`",
        "Expected `int` >= 0 - at `$.items[0].qty`",
        "Object missing required field `sku` - at `$.items[1]`",
        "Expected `str`, got `object` - at `$.tags[1]`",
        "Expected `str`, got `int` - at `$.tags[2]`",
    };
    assert_int_equal(err.count, 10);
    assert_int_equal(err.kept, 10);
    for (unsigned i = 0; i < 10; i++)
        assert_string_equal(err.issues[i].message, want[i]);
    for (size_t i = 0; i < sizeof o; i++)
        assert_int_equal(((const uint8_t *)&o)[i], 0);
    /* missing fields are each reported */
    assert_int_equal(decode_json(s, "{\"items\":[{}]}", &o, KLAW_DECODE_ALL_ERRORS, &err), KLAW_VALIDATE);
    assert_int_equal(err.count, 4);
    assert_string_equal(err.issues[0].message, "Object missing required field `sku` - at `$.items[0]`");
    assert_string_equal(err.issues[1].message, "Object missing required field `qty` - at `$.items[0]`");
    assert_string_equal(err.issues[2].message, "Object missing required field `sym` - at `$`");
    assert_string_equal(err.issues[3].message, "Object missing required field `qty` - at `$`");
    /* a malformed byte later still ends it as DECODE, after what was found */
    uint8_t buf[128];
    size_t n = mp_json("{\"sym\":\"A\",\"qty\":-1,\"tags\":[1]}", buf, sizeof buf);
    buf[n - 1] = 0xc1;
    klaw_arena arena;
    klaw_arena_init(&arena, test_arena_mem, sizeof test_arena_mem);
    assert_int_equal(klaw_schema_decode(s, buf, n, &o, &arena, KLAW_DECODE_ALL_ERRORS, &err), KLAW_DECODE);
    assert_int_equal(err.count, 2);
    assert_string_equal(err.issues[0].message, "Expected `int` >= 0 - at `$.qty`");
    assert_int_equal(err.issues[1].status, KLAW_DECODE);
    klaw_schema_free(s);
}

static void decode_all_errors_keeps_the_first_sixteen(void **state)
{
    (void)state;
    klaw_schema *s = compile_ok(&order_desc);
    Order o;
    klaw_schema_error err;
    char json[256] = "{\"sym\":\"A\",\"qty\":1,\"tags\":[";
    for (int i = 0; i < 20; i++)
        strcat(json, i ? ",1" : "1");
    strcat(json, "]}");
    assert_int_equal(decode_json(s, json, &o, KLAW_DECODE_ALL_ERRORS, &err), KLAW_VALIDATE);
    assert_int_equal(err.count, 20);
    assert_int_equal(err.kept, KLAW_SCHEMA_MAX_ERRORS);
    assert_string_equal(err.issues[15].message, "Expected `str`, got `int` - at `$.tags[15]`");
    /* without the flag: the first only */
    assert_int_equal(decode_json(s, json, &o, 0, &err), KLAW_VALIDATE);
    assert_int_equal(err.count, 1);
    assert_string_equal(err.issues[0].message, "Expected `str`, got `int` - at `$.tags[0]`");
    klaw_schema_free(s);
}

/* ---- the arena --------------------------------------------------------------------------------------- */

static void decode_every_arena_size_gives_nomem_or_ok(void **state)
{
    (void)state;
    uint8_t buf[1024];
    klaw_mp_writer w;
    klaw_mp_writer_init(&w, buf, sizeof buf);
    write_all(&w, false);
    klaw_schema *s = compile_ok(&all_desc);
    All a;
    klaw_arena arena;
    klaw_schema_error err;
    klaw_arena_init(&arena, test_arena_mem, sizeof test_arena_mem);
    assert_int_equal(klaw_schema_decode(s, buf, w.pos, &a, &arena, 0, NULL), KLAW_OK);
    size_t need = arena.used;
    assert_true(need > 0);
    for (size_t size = 0; size <= need + 16; size++) {
        /* exactly `size` bytes of malloc'd memory: ASan sees any overrun */
        uint8_t *mem = malloc(size ? size : 1);
        assert_non_null(mem);
        klaw_arena_init(&arena, mem, size);
        memset(&a, 0x77, sizeof a);
        klaw_status st = klaw_schema_decode(s, buf, w.pos, &a, &arena, 0, &err);
        if (size >= need) {
            assert_int_equal(st, KLAW_OK);
            check_all(&a, buf, w.pos, &arena);
        } else {
            assert_int_equal(st, KLAW_NOMEM);
            assert_int_equal(arena.used, 0);
            for (size_t i = 0; i < sizeof a; i++)
                assert_int_equal(((const uint8_t *)&a)[i], 0);
            assert_int_equal(strncmp(err.issues[0].message, "Arena exhausted - at `$.", 24), 0);
        }
        free(mem);
    }
    /* the first allocation names its field */
    klaw_arena_init(&arena, NULL, 0);
    assert_int_equal(klaw_schema_decode(s, buf, w.pos, &a, &arena, 0, &err), KLAW_NOMEM);
    assert_string_equal(klaw_schema_error_message(&err), "Arena exhausted - at `$.sc`");
    assert_int_equal(klaw_schema_decode(s, buf, w.pos, &a, NULL, 0, &err), KLAW_NOMEM);
    klaw_schema_free(s);
}

static void decode_error_restores_the_arena_mark(void **state)
{
    (void)state;
    klaw_schema *s = compile_ok(&order_desc);
    Order o;
    uint8_t buf[256];
    size_t n = mp_json("{\"sym\":\"A\",\"qty\":1,\"tags\":[\"a\",\"b\"],\"items\":[{\"sku\":\"x\",\"qty\":-1}]}", buf,
                       sizeof buf);
    klaw_arena arena;
    klaw_arena_init(&arena, test_arena_mem, sizeof test_arena_mem);
    assert_non_null(klaw_arena_alloc(&arena, 10, 1)); /* the caller's own */
    assert_int_equal(klaw_schema_decode(s, buf, n, &o, &arena, 0, NULL), KLAW_VALIDATE);
    assert_int_equal(arena.used, 10);
    klaw_schema_free(s);
}

/* ---- depth, paths, reader ----------------------------------------------------------------------------- */

typedef struct Node {
    klaw_array kids;
} Node;
extern const klaw_struct_desc node_desc;
static const klaw_field node_elem = {KLAW_ELEM(Node, KLAW_K_STRUCT), .nested = &node_desc};
static const klaw_field node_fields[] = {{KLAW_FIELD(Node, kids, KLAW_K_ARRAY), .elem = &node_elem}};
const klaw_struct_desc node_desc = {.name = "Node", .size = sizeof(Node), KLAW_FIELDS(node_fields),
                                    .flags = KLAW_S_ARRAY_LIKE};

static void decode_recursive_schema_and_depth_limit(void **state)
{
    (void)state;
    klaw_schema *s = compile_ok(&node_desc);
    static uint8_t buf[1024];
    static uint8_t mem[1 << 16];
    klaw_arena arena;
    Node root;
    /* n nodes: 2n-1 bytes 0x91 and a final 0x90 */
    for (size_t nodes = 1; nodes <= 200; nodes += 199) {
        size_t n = 0;
        for (size_t i = 0; i < 2 * nodes - 1; i++)
            buf[n++] = 0x91;
        buf[n++] = 0x90;
        klaw_arena_init(&arena, mem, sizeof mem);
        klaw_schema_error err;
        klaw_status st = klaw_schema_decode(s, buf, n, &root, &arena, 0, &err);
        if (nodes == 1) {
            assert_int_equal(st, KLAW_OK);
            assert_int_equal(root.kids.len, 0);
            continue;
        }
        /* depth 257 is the byte at 256; the path keeps 32 segments */
        assert_int_equal(st, KLAW_DECODE);
        char want[256] = "decode error at byte 256: nesting too deep - at `$";
        for (int i = 0; i < 32; i++)
            strcat(want, "[0]");
        strcat(want, "...`");
        assert_string_equal(err.issues[0].message, want);
        assert_true(err.issues[0].truncated);
        assert_int_equal(err.issues[0].depth, 32);
    }
    /* within the limit: a chain of 100 nodes */
    size_t n = 0;
    for (size_t i = 0; i < 199; i++)
        buf[n++] = 0x91;
    buf[n++] = 0x90;
    klaw_arena_init(&arena, mem, sizeof mem);
    assert_int_equal(klaw_schema_decode(s, buf, n, &root, &arena, 0, NULL), KLAW_OK);
    const Node *p = &root;
    int depth = 1;
    while (p->kids.len) {
        p = p->kids.items;
        depth++;
    }
    assert_int_equal(depth, 100);
    klaw_schema_free(s);
}

static void decode_from_a_reader_in_place(void **state)
{
    (void)state;
    klaw_schema *s = compile_ok(&item_desc);
    uint8_t buf[128];
    size_t n = mp_json("[1,{\"sku\":\"a\",\"qty\":2},7]", buf, sizeof buf);
    klaw_mp_reader r;
    uint32_t count;
    int64_t v;
    Item it;
    klaw_schema_error err;
    klaw_mp_reader_init(&r, buf, n);
    assert_int_equal(klaw_mp_read_array(&r, &count), KLAW_OK);
    assert_int_equal(klaw_mp_read_int(&r, &v), KLAW_OK);
    assert_int_equal(klaw_schema_decode_reader(s, &r, &it, NULL, 0, &err), KLAW_OK);
    assert_true(str_is(it.sku, "a") && it.qty == 2);
    assert_int_equal(klaw_mp_read_int(&r, &v), KLAW_OK);
    assert_int_equal(v, 7);
    assert_int_equal(klaw_mp_reader_finish(&r), KLAW_OK);
    /* offsets count from the reader's start; a VALIDATE error leaves r->err alone */
    n = mp_json("[1,{\"sku\":\"a\",\"qty\":-2}]", buf, sizeof buf);
    klaw_mp_reader_init(&r, buf, n);
    assert_int_equal(klaw_mp_read_array(&r, &count), KLAW_OK);
    assert_int_equal(klaw_mp_read_int(&r, &v), KLAW_OK);
    assert_int_equal(klaw_schema_decode_reader(s, &r, &it, NULL, 0, &err), KLAW_VALIDATE);
    assert_int_equal(err.issues[0].offset, n - 1);
    assert_int_equal(r.err.status, KLAW_OK);
    /* the reader's max_depth applies */
    klaw_schema *ns = compile_ok(&node_desc);
    static uint8_t mem[4096];
    klaw_arena arena;
    Node root;
    memset(buf, 0x91, 9);
    buf[9] = 0x90;
    klaw_mp_reader_init(&r, buf, 10);
    assert_int_equal(klaw_mp_reader_set_max_depth(&r, 4), KLAW_OK);
    klaw_arena_init(&arena, mem, sizeof mem);
    assert_int_equal(klaw_schema_decode_reader(ns, &r, &root, &arena, 0, &err), KLAW_DECODE);
    assert_string_equal(err.issues[0].message, "decode error at byte 4: nesting too deep - at `$[0][0][0][0]`");
    assert_int_equal(r.err.status, KLAW_DECODE);
    klaw_schema_free(ns);
    klaw_schema_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decode_every_kind_in_map_form),
        cmocka_unit_test(decode_every_kind_in_array_like_form),
        cmocka_unit_test(decode_order_with_keys_in_declaration_order),
        cmocka_unit_test(decode_order_keys_in_any_order_and_defaults),
        cmocka_unit_test(decode_order_unknown_fields_are_skipped),
        cmocka_unit_test(decode_order_unknown_fields_forbidden),
        cmocka_unit_test(decode_order_error_messages),
        cmocka_unit_test(decode_error_struct_for_programs),
        cmocka_unit_test(decode_pattern_on_long_strs_and_nul_bytes),
        cmocka_unit_test(decode_malformed_bytes),
        cmocka_unit_test(decode_int_kinds_are_range_checked),
        cmocka_unit_test(decode_constraints),
        cmocka_unit_test(decode_timestamps_fixed_enums_raw),
        cmocka_unit_test(decode_union_tag_first_and_elsewhere),
        cmocka_unit_test(decode_union_errors),
        cmocka_unit_test(decode_top_level_union),
        cmocka_unit_test(decode_array_like_union_with_int_tags),
        cmocka_unit_test(decode_tagged_struct_on_its_own),
        cmocka_unit_test(decode_array_like_struct),
        cmocka_unit_test(decode_lax_coercions_and_their_strict_refusals),
        cmocka_unit_test(decode_all_errors_collects_every_one),
        cmocka_unit_test(decode_all_errors_keeps_the_first_sixteen),
        cmocka_unit_test(decode_every_arena_size_gives_nomem_or_ok),
        cmocka_unit_test(decode_error_restores_the_arena_mark),
        cmocka_unit_test(decode_recursive_schema_and_depth_limit),
        cmocka_unit_test(decode_from_a_reader_in_place),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
