/* test_schema_encode.c - schema encode: every kind, map and array_like
 * forms, tags, omit_defaults (struct-wide and per field, both forms),
 * rename presets, round trips through decode, TOOBIG with the size needed,
 * and the values that cannot be encoded (KLAW_INVAL). */
#include "schema_fixtures.h"
#include "schema_test_util.h"

static const uint8_t raw_value[] = {0x92, 0x01, 0xa1, 'x'}; /* [1, "x"] */

static void fill_all(All *a, PriceEntry *prices, Point *pts)
{
    static const uint8_t bin[] = {1, 2};
    memset(a, 0, sizeof *a);
    a->b = true;
    a->i8 = -1;
    a->i16 = 2;
    a->i32 = -3;
    a->i64 = 4;
    a->u8 = 5;
    a->u16 = 6;
    a->u32 = 7;
    a->u64 = UINT64_MAX;
    a->f = 0.5f;
    a->d = 0.25;
    a->s = (klaw_str){"s", 1};
    a->sc = (klaw_str){"c", 1};
    a->bin = (klaw_bytes){bin, 2};
    a->binc = (klaw_bytes){NULL, 0};
    a->raw = (klaw_mp_raw){raw_value, sizeof raw_value};
    a->ts.tv_sec = 1700000000;
    a->side = SIDE_SELL;
    a->level = LEVEL_LOW;
    a->pt = (Point){1, 2};
    pts[0] = (Point){3, 4};
    a->pts = (klaw_array){pts, 1};
    a->fixed[0] = 7;
    a->fixed[1] = 8;
    a->fixed[2] = 9;
    prices[0] = (PriceEntry){{"k", 1}, 1.5};
    a->prices = (klaw_map){prices, 1};
    a->act.which = 0;
    a->act.as.buy.qty = 2;
    a->maybe.which = -1;
}

static const char all_json[] =
    "{\"b\":true,\"i8\":-1,\"i16\":2,\"i32\":-3,\"i64\":4,\"u8\":5,\"u16\":6,\"u32\":7,\"u64\":18446744073709551615,"
    "\"f\":0.5,\"d\":0.25,\"s\":\"s\",\"sc\":\"c\",\"bin\":\"AQI=\",\"binc\":\"\",\"raw\":[1,\"x\"],"
    "\"ts\":\"2023-11-14T22:13:20Z\",\"side\":\"SELL\",\"level\":1,\"opt\":null,\"pt\":[1,2],\"pts\":[[3,4]],"
    "\"fixed\":[7,8,9],\"prices\":{\"k\":1.5},\"act\":{\"type\":\"buy\",\"qty\":2},\"maybe\":null}";

static void encode_every_kind_in_map_form(void **state)
{
    (void)state;
    All a;
    PriceEntry prices[1];
    Point pts[1];
    fill_all(&a, prices, pts);
    klaw_schema *s = compile_ok(&all_desc);
    assert_string_equal(encode_json(s, &a), all_json);
    klaw_schema_free(s);
}

static void encode_every_kind_in_array_like_form(void **state)
{
    (void)state;
    All a;
    PriceEntry prices[1];
    Point pts[1];
    fill_all(&a, prices, pts);
    a.has_opt = true;
    a.opt = -9;
    a.has_maybe = true;
    a.maybe.which = 1;
    a.maybe.as.sell.qty = 3;
    a.maybe.as.sell.reason = (klaw_str){"why", 3};
    klaw_schema *s = compile_ok(&all_array_desc);
    assert_string_equal(encode_json(s, &a),
                        "[true,-1,2,-3,4,5,6,7,18446744073709551615,0.5,0.25,\"s\",\"c\",\"AQI=\",\"\",[1,\"x\"],"
                        "\"2023-11-14T22:13:20Z\",\"SELL\",1,-9,[1,2],[[3,4]],[7,8,9],{\"k\":1.5},"
                        "{\"type\":\"buy\",\"qty\":2},{\"type\":\"sell\",\"qty\":3,\"reason\":\"why\"}]");
    klaw_schema_free(s);
}

/* encode -> decode gives the same values; encoding that again gives the
 * same bytes */
static void encode_decode_round_trip_every_kind(void **state)
{
    (void)state;
    const klaw_struct_desc *descs[] = {&all_desc, &all_array_desc};
    for (int k = 0; k < 2; k++) {
        All a, b;
        PriceEntry prices[1];
        Point pts[1];
        fill_all(&a, prices, pts);
        a.ts.tv_nsec = 5;
        a.has_opt = true;
        a.opt = 11;
        klaw_schema *s = compile_ok(descs[k]);
        uint8_t one[1024], two[1024];
        klaw_mp_writer w;
        size_t n1, n2;
        klaw_mp_writer_init(&w, one, sizeof one);
        assert_int_equal(klaw_schema_encode(s, &a, &w), KLAW_OK);
        n1 = w.pos;
        klaw_arena arena;
        klaw_arena_init(&arena, test_arena_mem, sizeof test_arena_mem);
        assert_int_equal(klaw_schema_decode(s, one, n1, &b, &arena, 0, NULL), KLAW_OK);
        assert_true(b.b && b.i8 == -1 && b.i16 == 2 && b.i32 == -3 && b.i64 == 4);
        assert_true(b.u8 == 5 && b.u16 == 6 && b.u32 == 7 && b.u64 == UINT64_MAX);
        assert_true(b.f == 0.5f && b.d == 0.25);
        assert_true(str_is(b.s, "s") && str_is(b.sc, "c"));
        assert_true(b.bin.len == 2 && b.bin.ptr[1] == 2 && b.binc.len == 0);
        assert_true(b.raw.len == sizeof raw_value && memcmp(b.raw.ptr, raw_value, sizeof raw_value) == 0);
        assert_true(b.ts.tv_sec == 1700000000 && b.ts.tv_nsec == 5);
        assert_true(b.side == SIDE_SELL && b.level == LEVEL_LOW);
        assert_true(b.has_opt && b.opt == 11);
        assert_true(b.pt.x == 1 && b.pt.y == 2);
        assert_true(b.pts.len == 1 && ((const Point *)b.pts.items)[0].y == 4);
        assert_true(b.fixed[0] == 7 && b.fixed[2] == 9);
        assert_true(b.prices.len == 1 && ((const PriceEntry *)b.prices.entries)[0].value == 1.5);
        assert_true(b.act.which == 0 && b.act.as.buy.qty == 2);
        assert_true(!b.has_maybe && b.maybe.which == -1);
        klaw_mp_writer_init(&w, two, sizeof two);
        assert_int_equal(klaw_schema_encode(s, &b, &w), KLAW_OK);
        n2 = w.pos;
        assert_int_equal(n1, n2);
        assert_memory_equal(one, two, n1);
        klaw_schema_free(s);
    }
}

static void encode_order_writes_nil_for_absent_optional(void **state)
{
    (void)state;
    klaw_schema *s = compile_ok(&order_desc);
    Item items[1] = {{{"a", 1}, 1}};
    klaw_str tags[1] = {{"x", 1}};
    Order o = {.sym = {"ABC", 3}, .qty = 5, .px = 1.5, .has_px = true, .side = SIDE_SELL,
               .items = {items, 1}, .tags = {tags, 1}};
    assert_string_equal(encode_json(s, &o),
                        "{\"sym\":\"ABC\",\"qty\":5,\"px\":1.5,\"side\":\"SELL\",\"items\":[{\"sku\":\"a\",\"qty\":1}],"
                        "\"tags\":[\"x\"]}");
    o.has_px = false;
    o.items.len = 0;
    o.items.items = NULL;
    assert_string_equal(encode_json(s, &o),
                        "{\"sym\":\"ABC\",\"qty\":5,\"px\":null,\"side\":\"SELL\",\"items\":[],\"tags\":[\"x\"]}");
    /* constraints are not checked on encode (as msgspec) */
    o.qty = -1;
    o.sym = (klaw_str){"lower", 5};
    assert_string_equal(encode_json(s, &o),
                        "{\"sym\":\"lower\",\"qty\":-1,\"px\":null,\"side\":\"SELL\",\"items\":[],\"tags\":[\"x\"]}");
    klaw_schema_free(s);
}

/* ---- omit_defaults -------------------------------------------------------------------------- */

static void encode_omit_defaults_in_map_form(void **state)
{
    (void)state;
    klaw_struct_desc d = order_desc;
    d.flags |= KLAW_S_OMIT_DEFAULTS;
    klaw_schema *s = compile_ok(&d);
    Order o = {.sym = {"A", 1}, .qty = 1, .side = SIDE_BUY};
    assert_string_equal(encode_json(s, &o), "{\"sym\":\"A\",\"qty\":1}");
    o.side = SIDE_SELL;
    o.has_px = true;
    o.px = 2;
    assert_string_equal(encode_json(s, &o), "{\"sym\":\"A\",\"qty\":1,\"px\":2.0,\"side\":\"SELL\"}");
    klaw_schema_free(s);
}

typedef struct Three {
    int32_t a;
    klaw_str b;
    double c;
    Point p;
} Three;
static const klaw_field three_fields[] = {
    {KLAW_FIELD(Three, a, KLAW_K_I32), .flags = KLAW_F_DEFAULT, .def.i = 1},
    {KLAW_FIELD(Three, b, KLAW_K_STR), .flags = KLAW_F_DEFAULT, .def = KLAW_DEF_STR("x")},
    {KLAW_FIELD(Three, c, KLAW_K_DOUBLE), .flags = KLAW_F_DEFAULT, .def.d = 0.5},
    {KLAW_FIELD(Three, p, KLAW_K_STRUCT), .flags = KLAW_F_DEFAULT | KLAW_F_OMIT_DEFAULT, .nested = &point_desc},
};

static void encode_omit_defaults_in_array_like_form_drops_trailing_only(void **state)
{
    (void)state;
    klaw_struct_desc d = {.name = "Three", .size = sizeof(Three), KLAW_FIELDS(three_fields),
                          .flags = KLAW_S_ARRAY_LIKE | KLAW_S_OMIT_DEFAULTS};
    /* Point's x has no default: a struct default needs every field to have one */
    expect_compile_error(&d, "Three.p: a struct default needs every field of Point to have a default");
    static const klaw_field pointd_fields[] = {
        {KLAW_FIELD(Point, x, KLAW_K_I32), .flags = KLAW_F_DEFAULT, .def.i = 3},
        {KLAW_FIELD(Point, y, KLAW_K_I32), .flags = KLAW_F_DEFAULT},
    };
    static const klaw_struct_desc point_all = {.name = "PointD", .size = sizeof(Point), KLAW_FIELDS(pointd_fields),
                                               .flags = KLAW_S_ARRAY_LIKE};
    klaw_field f[4];
    memcpy(f, three_fields, sizeof f);
    f[3].nested = &point_all;
    d.fields = f;
    klaw_schema *s = compile_ok(&d);
    Three t = {.a = 1, .b = {"x", 1}, .c = 0.5, .p = {3, 0}};
    assert_string_equal(encode_json(s, &t), "[]");
    t.b = (klaw_str){"y", 1};
    assert_string_equal(encode_json(s, &t), "[1,\"y\"]"); /* a is kept: only trailing defaults go */
    t.p.y = 1;
    assert_string_equal(encode_json(s, &t), "[1,\"y\",0.5,[3,1]]");
    /* decoding the short forms gives the defaults back (the struct default too) */
    Three u;
    assert_int_equal(decode_json(s, "[]", &u, 0, NULL), KLAW_OK);
    assert_true(u.a == 1 && str_is(u.b, "x") && u.c == 0.5 && u.p.x == 3 && u.p.y == 0);
    klaw_schema_free(s);
    /* map form, per-field flag only: just p is left out */
    d.flags = 0;
    s = compile_ok(&d);
    t = (Three){.a = 1, .b = {"x", 1}, .c = 0.5, .p = {3, 0}};
    assert_string_equal(encode_json(s, &t), "{\"a\":1,\"b\":\"x\",\"c\":0.5}");
    klaw_schema_free(s);
}

/* ---- rename ------------------------------------------------------------------------------------ */

typedef struct Names {
    int32_t order_id;
    int32_t last_px;
    int32_t _private;
    int32_t plain;
} Names;
static const klaw_field names_fields[] = {
    {KLAW_FIELD(Names, order_id, KLAW_K_I32)},
    {KLAW_FIELD(Names, last_px, KLAW_K_I32)},
    {KLAW_FIELD(Names, _private, KLAW_K_I32)},
    {KLAW_FIELD(Names, plain, KLAW_K_I32), .wire_name = "Explicit"},
};

static void encode_and_decode_with_rename_presets(void **state)
{
    (void)state;
    const struct {
        klaw_rename how;
        const char *json;
    } cases[] = {
        {KLAW_RENAME_NONE, "{\"order_id\":1,\"last_px\":2,\"_private\":3,\"Explicit\":4}"},
        {KLAW_RENAME_CAMEL, "{\"orderId\":1,\"lastPx\":2,\"_private\":3,\"Explicit\":4}"},
        {KLAW_RENAME_PASCAL, "{\"OrderId\":1,\"LastPx\":2,\"_Private\":3,\"Explicit\":4}"},
        {KLAW_RENAME_KEBAB, "{\"order-id\":1,\"last-px\":2,\"_private\":3,\"Explicit\":4}"},
        {KLAW_RENAME_UPPER, "{\"ORDER_ID\":1,\"LAST_PX\":2,\"_PRIVATE\":3,\"Explicit\":4}"},
        {KLAW_RENAME_LOWER, "{\"order_id\":1,\"last_px\":2,\"_private\":3,\"Explicit\":4}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        klaw_struct_desc d = {.name = "Names", .size = sizeof(Names), KLAW_FIELDS(names_fields),
                              .rename = cases[i].how};
        klaw_schema *s = compile_ok(&d);
        Names n = {1, 2, 3, 4}, m;
        assert_string_equal(encode_json(s, &n), cases[i].json);
        assert_int_equal(decode_json(s, cases[i].json, &m, 0, NULL), KLAW_OK);
        assert_memory_equal(&n, &m, sizeof n);
        klaw_schema_free(s);
    }
}

/* ---- tags, floats, raw, timestamps ------------------------------------------------------------------ */

static void encode_tagged_structs_write_their_tag(void **state)
{
    (void)state;
    klaw_schema *s = compile_ok(&sell_desc);
    Sell v = {.qty = 1};
    assert_string_equal(encode_json(s, &v), "{\"type\":\"sell\",\"qty\":1,\"reason\":\"\"}");
    klaw_schema_free(s);
    static const klaw_field f[] = {{KLAW_FIELD(Buy, qty, KLAW_K_I64)}};
    klaw_struct_desc d = {.name = "B", .size = sizeof(Buy), KLAW_FIELDS(f), .tag = KLAW_TAG_INT, .tag_int = -3,
                          .flags = KLAW_S_ARRAY_LIKE};
    s = compile_ok(&d);
    Buy b = {.qty = 5};
    assert_string_equal(encode_json(s, &b), "[-3,5]");
    klaw_schema_free(s);
    /* a top-level union writes its variant with the tag */
    assert_int_equal(klaw_schema_compile_union(&action_desc, &s, NULL), KLAW_OK);
    Action a = {.which = 1, .as.sell = {.qty = 2, .reason = {"r", 1}}};
    assert_string_equal(encode_json(s, &a), "{\"type\":\"sell\",\"qty\":2,\"reason\":\"r\"}");
    klaw_schema_free(s);
}

static void encode_exact_bytes_of_scalars(void **state)
{
    (void)state;
    typedef struct S {
        float f;
        struct timespec ts;
        klaw_mp_raw raw;
    } S;
    static const klaw_field f[] = {
        {KLAW_FIELD(S, f, KLAW_K_FLOAT)},
        {KLAW_FIELD(S, ts, KLAW_K_TIMESTAMP)},
        {KLAW_FIELD(S, raw, KLAW_K_RAW)},
    };
    klaw_struct_desc d = {.name = "S", .size = sizeof(S), KLAW_FIELDS(f), .flags = KLAW_S_ARRAY_LIKE};
    klaw_schema *s = compile_ok(&d);
    S v;
    memset(&v, 0, sizeof v);
    v.f = 1.5f;
    v.ts.tv_sec = 1;
    uint8_t buf[64], want[64];
    klaw_mp_writer w;
    klaw_mp_writer_init(&w, buf, sizeof buf);
    assert_int_equal(klaw_schema_encode(s, &v, &w), KLAW_OK);
    /* float32, the 32-bit timestamp, and an empty raw as nil */
    size_t n = mp_hex("93 ca 3f c0 00 00 d6 ff 00 00 00 01 c0", want, sizeof want);
    assert_int_equal(w.pos, n);
    assert_memory_equal(buf, want, n);
    klaw_schema_free(s);
}

/* ---- the writer's errors: TOOBIG and INVAL -------------------------------------------------------------- */

static void encode_too_big_reports_the_size_needed(void **state)
{
    (void)state;
    All a;
    PriceEntry prices[1];
    Point pts[1];
    fill_all(&a, prices, pts);
    klaw_schema *s = compile_ok(&all_desc);
    uint8_t buf[1024];
    klaw_mp_writer w;
    klaw_mp_writer_init(&w, buf, sizeof buf);
    assert_int_equal(klaw_schema_encode(s, &a, &w), KLAW_OK);
    size_t need = w.pos;
    /* measuring */
    klaw_mp_writer_init(&w, NULL, 0);
    assert_int_equal(klaw_schema_encode(s, &a, &w), KLAW_TOOBIG);
    assert_int_equal(klaw_mp_writer_needed(&w), need);
    /* every short buffer: TOOBIG, the full size, nothing written past it */
    for (size_t cap = 0; cap < need; cap++) {
        uint8_t *mem = malloc(cap ? cap : 1);
        assert_non_null(mem);
        klaw_mp_writer_init(&w, mem, cap);
        assert_int_equal(klaw_schema_encode(s, &a, &w), KLAW_TOOBIG);
        assert_int_equal(klaw_mp_writer_needed(&w), need);
        free(mem);
    }
    klaw_schema_free(s);
}

static void encode_refuses_values_without_an_encoding(void **state)
{
    (void)state;
    klaw_schema *s = compile_ok(&all_desc);
    uint8_t buf[1024];
    klaw_mp_writer w;
    All a;
    PriceEntry prices[1];
    Point pts[1];
    const char *what[] = {"enum", "int enum", "which", "which<0", "str", "bin", "nsec", "items", "entries",
                          "maybe present, none", "key"};
    for (size_t i = 0; i < sizeof what / sizeof what[0]; i++) {
        fill_all(&a, prices, pts);
        switch (i) {
        case 0: a.side = 99; break;
        case 1: a.level = 0; break;
        case 2: a.act.which = 2; break;
        case 3: a.act.which = -1; break;
        case 4: a.s = (klaw_str){NULL, 3}; break;
        case 5: a.bin = (klaw_bytes){NULL, 1}; break;
        case 6: a.ts.tv_nsec = 1000000000; break;
        case 7: a.pts = (klaw_array){NULL, 2}; break;
        case 8: a.prices = (klaw_map){NULL, 1}; break;
        case 9: a.has_maybe = true; break; /* maybe.which is -1 */
        case 10: prices[0].key = (klaw_str){NULL, 1}; break;
        }
        klaw_mp_writer_init(&w, buf, sizeof buf);
        if (klaw_schema_encode(s, &a, &w) != KLAW_INVAL)
            fail_msg("case %s: not KLAW_INVAL", what[i]);
    }
    klaw_schema_free(s);
}

/* ---- nesting: the same limit both ways ------------------------------------------------------ */

typedef struct Node {
    klaw_array kids;
} Node;
extern const klaw_struct_desc node_desc;
static const klaw_field node_elem = {KLAW_ELEM(Node, KLAW_K_STRUCT), .nested = &node_desc};
static const klaw_field node_fields[] = {{KLAW_FIELD(Node, kids, KLAW_K_ARRAY), .elem = &node_elem}};
const klaw_struct_desc node_desc = {.name = "Node", .size = sizeof(Node), KLAW_FIELDS(node_fields),
                                    .flags = KLAW_S_ARRAY_LIKE};

static void encode_nesting_limit_matches_decode(void **state)
{
    (void)state;
    /* a chain of nodes: node k is at depth 2k-1, its kids array at 2k */
    static Node nodes[130];
    static uint8_t buf[1024], mem[1 << 14];
    klaw_schema *s = compile_ok(&node_desc);
    for (size_t chain = 128; chain <= 129; chain++) {
        for (size_t k = 0; k < chain; k++)
            nodes[k].kids = k + 1 < chain ? (klaw_array){&nodes[k + 1], 1} : (klaw_array){NULL, 0};
        klaw_mp_writer w;
        klaw_mp_writer_init(&w, buf, sizeof buf);
        klaw_status st = klaw_schema_encode(s, &nodes[0], &w);
        if (chain == 128) {
            assert_int_equal(st, KLAW_OK); /* depth 256: the limit, allowed */
            Node back;
            klaw_arena arena;
            klaw_arena_init(&arena, mem, sizeof mem);
            assert_int_equal(klaw_schema_decode(s, buf, w.pos, &back, &arena, 0, NULL), KLAW_OK);
        } else {
            assert_int_equal(st, KLAW_INVAL); /* one level more */
        }
    }
    klaw_schema_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(encode_every_kind_in_map_form),
        cmocka_unit_test(encode_every_kind_in_array_like_form),
        cmocka_unit_test(encode_decode_round_trip_every_kind),
        cmocka_unit_test(encode_order_writes_nil_for_absent_optional),
        cmocka_unit_test(encode_omit_defaults_in_map_form),
        cmocka_unit_test(encode_omit_defaults_in_array_like_form_drops_trailing_only),
        cmocka_unit_test(encode_and_decode_with_rename_presets),
        cmocka_unit_test(encode_tagged_structs_write_their_tag),
        cmocka_unit_test(encode_exact_bytes_of_scalars),
        cmocka_unit_test(encode_too_big_reports_the_size_needed),
        cmocka_unit_test(encode_refuses_values_without_an_encoding),
        cmocka_unit_test(encode_nesting_limit_matches_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
