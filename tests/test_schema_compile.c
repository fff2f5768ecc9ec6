/* test_schema_compile.c - klaw_schema_compile: descriptor tables with each
 * kind of mistake are refused with KLAW_INVAL and an exact message naming
 * the struct and field; good tables (recursive ones too) compile. */
#include <regex.h>

#include "schema_fixtures.h"
#include "schema_test_util.h"

/* A desc over one field of struct T. */
#define ONE(T, ...)                               \
    static const klaw_field f_[] = {__VA_ARGS__}; \
    klaw_struct_desc d = {.name = "Bad", .size = sizeof(T), KLAW_FIELDS(f_)}

typedef struct OneInt {
    int32_t n;
    bool has_n;
} OneInt;
typedef struct OneShort {
    int16_t qty;
} OneShort;
typedef struct OneStr {
    klaw_str s;
} OneStr;

static void compile_refuses_a_size_that_does_not_match_the_kind(void **state)
{
    (void)state;
    static const klaw_field f[] = {{KLAW_FIELD(OneShort, qty, KLAW_K_I32)}};
    klaw_struct_desc d = {.name = "Order", .size = sizeof(OneShort), KLAW_FIELDS(f)};
    expect_compile_error(&d, "Order.qty: size 2 does not match kind int32 (4)");
    static const klaw_field g[] = {{KLAW_FIELD(OneInt, n, KLAW_K_STR)}};
    klaw_struct_desc e = {.name = "Bad", .size = sizeof(OneInt), KLAW_FIELDS(g)};
    char want[128];
    snprintf(want, sizeof want, "Bad.n: size 4 does not match kind str (%zu)", sizeof(klaw_str));
    expect_compile_error(&e, want);
}

static void compile_refuses_a_field_past_the_struct(void **state)
{
    (void)state;
    ONE(OneInt, {.name = "x", .kind = KLAW_K_I32, .offset = 8, .size = 4});
    expect_compile_error(&d, "Bad.x: offset 8 + size 4 is beyond the struct's size 8");
}

static void compile_refuses_duplicate_wire_names(void **state)
{
    (void)state;
    typedef struct Two {
        int32_t a, b;
    } Two;
    static const klaw_field f[] = {
        {KLAW_FIELD(Two, a, KLAW_K_I32)},
        {KLAW_FIELD(Two, b, KLAW_K_I32), .wire_name = "a"},
    };
    klaw_struct_desc d = {.name = "Bad", .size = sizeof(Two), KLAW_FIELDS(f)};
    expect_compile_error(&d, "Bad.b: wire name 'a' is already used by Bad.a");
    /* after a rename preset */
    typedef struct Camel {
        int32_t a_b, aB;
    } Camel;
    static const klaw_field g[] = {
        {KLAW_FIELD(Camel, a_b, KLAW_K_I32)},
        {KLAW_FIELD(Camel, aB, KLAW_K_I32)},
    };
    klaw_struct_desc e = {.name = "Bad", .size = sizeof(Camel), KLAW_FIELDS(g), .rename = KLAW_RENAME_CAMEL};
    expect_compile_error(&e, "Bad.aB: wire name 'aB' is already used by Bad.a_b");
}

static void compile_refuses_kinds_without_their_desc(void **state)
{
    (void)state;
    typedef struct K {
        Item n;
        int e;
        klaw_array v;
        Action u;
        klaw_map m;
        int16_t fx[2];
    } K;
    {
        ONE(K, {KLAW_FIELD(K, n, KLAW_K_STRUCT)});
        expect_compile_error(&d, "Bad.n: kind struct needs a nested desc");
    }
    {
        ONE(K, {KLAW_FIELD(K, e, KLAW_K_ENUM)});
        expect_compile_error(&d, "Bad.e: kind enum needs an enum desc");
    }
    {
        ONE(K, {KLAW_FIELD(K, v, KLAW_K_ARRAY)});
        expect_compile_error(&d, "Bad.v: kind array needs an element desc (elem)");
    }
    {
        ONE(K, {KLAW_FIELD(K, u, KLAW_K_UNION)});
        expect_compile_error(&d, "Bad.u: kind union needs a union desc");
    }
    {
        ONE(K, {KLAW_FIELD(K, m, KLAW_K_MAP)});
        expect_compile_error(&d, "Bad.m: kind map needs an element desc (elem)");
    }
    {
        static const klaw_field el = {KLAW_ELEM(int16_t, KLAW_K_I16)};
        ONE(K, {KLAW_FIELD(K, fx, KLAW_K_FIXED), .elem = &el});
        expect_compile_error(&d, "Bad.fx: kind fixed needs count > 0");
    }
    {
        static const klaw_field el = {KLAW_ELEM(int16_t, KLAW_K_I16)};
        ONE(K, {KLAW_FIELD(K, fx, KLAW_K_FIXED), .elem = &el, .count = 3});
        expect_compile_error(&d, "Bad.fx: size 4 does not match kind fixed (6)");
    }
    {
        static const klaw_field el = {KLAW_MAP_VALUE(PriceEntry, KLAW_K_DOUBLE)};
        ONE(K, {KLAW_FIELD(K, m, KLAW_K_MAP), .elem = &el});
        expect_compile_error(&d, "Bad.m: kind map needs count = sizeof the entry struct (got 0)");
    }
    {
        static const klaw_field el = {.kind = KLAW_K_DOUBLE, .offset = 0, .size = 8};
        ONE(K, {KLAW_FIELD(K, m, KLAW_K_MAP), .elem = &el, .count = sizeof(PriceEntry)});
        expect_compile_error(&d, "Bad.m[]: a map value must follow the klaw_str key (offset 0)");
    }
    {
        static const klaw_field el = {.kind = KLAW_K_I32, .offset = 4, .size = 4};
        ONE(K, {KLAW_FIELD(K, v, KLAW_K_ARRAY), .elem = &el});
        expect_compile_error(&d, "Bad.v[]: an element's offset must be 0 (got 4)");
    }
    {
        static const klaw_field el = {KLAW_ELEM(int32_t, KLAW_K_I32), .flags = KLAW_F_DEFAULT};
        ONE(K, {KLAW_FIELD(K, v, KLAW_K_ARRAY), .elem = &el});
        expect_compile_error(&d, "Bad.v[]: an element takes no default, nullability or presence flag");
    }
    {
        ONE(K, {.name = "n", .kind = (klaw_kind)99, .size = 4});
        expect_compile_error(&d, "Bad.n: unknown kind 99");
    }
}

static void compile_refuses_a_bad_regex_with_regerror_text(void **state)
{
    (void)state;
    static const klaw_constraints c = {.flags = KLAW_C_PATTERN, .pattern = "a[b"};
    ONE(OneStr, {KLAW_FIELD(OneStr, s, KLAW_K_STR), .cons = &c});
    regex_t re;
    char why[128], want[256];
    int rc = regcomp(&re, "a[b", REG_EXTENDED | REG_NOSUB);
    assert_int_not_equal(rc, 0);
    regerror(rc, &re, why, sizeof why);
    snprintf(want, sizeof want, "Bad.s: bad pattern 'a[b': %s", why);
    expect_compile_error(&d, want);
}

static void compile_refuses_constraints_on_the_wrong_kind(void **state)
{
    (void)state;
    typedef struct C {
        klaw_str s;
        int32_t n;
        klaw_bytes b;
        bool t;
    } C;
    static const klaw_constraints ge = {.flags = KLAW_C_GE, .ge.i = 1};
    static const klaw_constraints minlen = {.flags = KLAW_C_MIN_LENGTH, .min_length = 1};
    static const klaw_constraints pat = {.flags = KLAW_C_PATTERN, .pattern = "x"};
    static const klaw_constraints mult = {.flags = KLAW_C_MULTIPLE_OF};
    {
        ONE(C, {KLAW_FIELD(C, s, KLAW_K_STR), .cons = &ge});
        expect_compile_error(&d, "Bad.s: constraint ge applies to numbers, not str");
    }
    {
        ONE(C, {KLAW_FIELD(C, n, KLAW_K_I32), .cons = &minlen});
        expect_compile_error(&d, "Bad.n: constraint min_length applies to str, bin, array and map, not int32");
    }
    {
        ONE(C, {KLAW_FIELD(C, b, KLAW_K_BIN), .cons = &pat});
        expect_compile_error(&d, "Bad.b: constraint pattern applies to str, not bin");
    }
    {
        ONE(C, {KLAW_FIELD(C, t, KLAW_K_BOOL), .cons = &ge});
        expect_compile_error(&d, "Bad.t: constraint ge applies to numbers, not bool");
    }
    {
        ONE(C, {KLAW_FIELD(C, n, KLAW_K_I32), .cons = &mult});
        expect_compile_error(&d, "Bad.n: multiple_of must be > 0");
    }
}

static void compile_refuses_constraints_that_can_never_be_met(void **state)
{
    (void)state;
    typedef struct C {
        int32_t n;
        uint8_t u;
        double f;
        klaw_str s;
    } C;
    static const klaw_constraints a = {.flags = KLAW_C_GE | KLAW_C_LE, .ge.i = 5, .le.i = 3};
    static const klaw_constraints b = {.flags = KLAW_C_LT, .lt.i = 0};
    static const klaw_constraints c = {.flags = KLAW_C_GT | KLAW_C_LT, .gt.d = 1, .lt.d = 1};
    static const klaw_constraints e = {.flags = KLAW_C_MIN_LENGTH | KLAW_C_MAX_LENGTH, .min_length = 5,
                                       .max_length = 3};
    static const klaw_constraints g = {.flags = KLAW_C_GE, .ge.i = 300};
    {
        ONE(C, {KLAW_FIELD(C, n, KLAW_K_I32), .cons = &a});
        expect_compile_error(&d, "Bad.n: constraints can never be met (>= 5 and <= 3)");
    }
    {
        ONE(C, {KLAW_FIELD(C, u, KLAW_K_U8), .cons = &b});
        expect_compile_error(&d, "Bad.u: constraints can never be met by a uint8");
    }
    {
        ONE(C, {KLAW_FIELD(C, u, KLAW_K_U8), .cons = &g});
        expect_compile_error(&d, "Bad.u: constraints can never be met by a uint8");
    }
    {
        ONE(C, {KLAW_FIELD(C, f, KLAW_K_DOUBLE), .cons = &c});
        expect_compile_error(&d, "Bad.f: constraints can never be met (lower bound above upper bound)");
    }
    {
        ONE(C, {KLAW_FIELD(C, s, KLAW_K_STR), .cons = &e});
        expect_compile_error(&d, "Bad.s: min_length 5 is above max_length 3");
    }
}

static void compile_refuses_defaults_of_the_wrong_kind(void **state)
{
    (void)state;
    typedef struct D {
        int32_t n;
        int8_t s8;
        int e;
        klaw_str s;
        uint16_t u;
        Action act;
        Item it;
        bool b;
    } D;
    {
        ONE(D, {KLAW_FIELD(D, n, KLAW_K_I32), .flags = KLAW_F_DEFAULT, .def.d = 1.5});
        expect_compile_error(&d, "Bad.n: the default of kind int32 goes in def.i");
    }
    {
        ONE(D, {KLAW_FIELD(D, s8, KLAW_K_I8), .flags = KLAW_F_DEFAULT, .def.i = 300});
        expect_compile_error(&d, "Bad.s8: the default 300 is out of range for int8");
    }
    {
        ONE(D, {KLAW_FIELD(D, u, KLAW_K_U16), .flags = KLAW_F_DEFAULT, .def.i = 3});
        expect_compile_error(&d, "Bad.u: the default of kind uint16 goes in def.u");
    }
    {
        ONE(D, {KLAW_FIELD(D, e, KLAW_K_ENUM), .enm = &side_desc, .flags = KLAW_F_DEFAULT, .def.i = 7});
        expect_compile_error(&d, "Bad.e: the default 7 is not a value of enum Side");
    }
    {
        ONE(D, {KLAW_FIELD(D, s, KLAW_K_STR), .flags = KLAW_F_DEFAULT, .def.i = 1});
        expect_compile_error(&d, "Bad.s: the default of kind str goes in def.ptr and def.len");
    }
    {
        ONE(D, {KLAW_FIELD(D, s, KLAW_K_STR), .flags = KLAW_F_DEFAULT, .def.len = 3});
        expect_compile_error(&d, "Bad.s: the default has def.len 3 but no def.ptr");
    }
    {
        ONE(D, {KLAW_FIELD(D, b, KLAW_K_BOOL), .flags = KLAW_F_DEFAULT, .def.i = 1});
        expect_compile_error(&d, "Bad.b: the default of kind bool goes in def.b");
    }
    {
        ONE(D, {KLAW_FIELD(D, act, KLAW_K_UNION), .uni = &action_desc, .flags = KLAW_F_DEFAULT});
        expect_compile_error(&d, "Bad.act: the only default of a union is nil (KLAW_F_OPTIONAL)");
    }
    {
        ONE(D, {KLAW_FIELD(D, it, KLAW_K_STRUCT), .nested = &item_desc, .flags = KLAW_F_DEFAULT});
        expect_compile_error(&d, "Bad.it: a struct default needs every field of Item to have a default");
    }
    {
        ONE(D, {KLAW_FIELD(D, n, KLAW_K_I32), .flags = KLAW_F_OMIT_DEFAULT});
        expect_compile_error(&d, "Bad.n: KLAW_F_OMIT_DEFAULT without a default");
    }
}

static void compile_refuses_nullable_without_presence(void **state)
{
    (void)state;
    {
        ONE(OneInt, {KLAW_FIELD(OneInt, n, KLAW_K_I32), .flags = KLAW_F_NULLABLE});
        expect_compile_error(&d, "Bad.n: KLAW_F_NULLABLE needs a presence flag (present = KLAW_PRESENT(T, m))");
    }
    {
        ONE(OneInt, {KLAW_FIELD(OneInt, n, KLAW_K_I32), .flags = KLAW_F_NULLABLE, .present = 2});
        expect_compile_error(&d, "Bad.n: presence flag at 1 overlaps the field");
    }
    {
        ONE(OneInt, {KLAW_FIELD(OneInt, n, KLAW_K_I32), .present = KLAW_PRESENT(OneInt, has_n)});
        expect_compile_error(&d, "Bad.n: a presence flag without KLAW_F_NULLABLE");
    }
    {
        ONE(OneInt, {KLAW_FIELD(OneInt, n, KLAW_K_I32), .flags = KLAW_F_DEFAULT_NIL});
        expect_compile_error(&d, "Bad.n: KLAW_F_DEFAULT_NIL without KLAW_F_NULLABLE");
    }
    {
        ONE(OneInt, {KLAW_FIELD(OneInt, n, KLAW_K_I32), .flags = KLAW_F_COPY});
        expect_compile_error(&d, "Bad.n: KLAW_F_COPY applies to str, bin and map keys, not int32");
    }
}

static void compile_refuses_bad_unions(void **state)
{
    (void)state;
    typedef struct A {
        int32_t x;
    } A;
    typedef struct H {
        int32_t which;
        A as;
    } H;
    typedef struct S {
        H u;
    } S;
    static const klaw_field af[] = {{KLAW_FIELD(A, x, KLAW_K_I32)}};
    static const klaw_struct_desc untagged = {.name = "A", .size = sizeof(A), KLAW_FIELDS(af)};
    static const klaw_struct_desc ta = {.name = "TA", .size = sizeof(A), KLAW_FIELDS(af), .tag = KLAW_TAG_STR,
                                        .tag_str = "x"};
    static const klaw_struct_desc tb = {.name = "TB", .size = sizeof(A), KLAW_FIELDS(af), .tag = KLAW_TAG_STR,
                                        .tag_str = "x"};
    static const klaw_struct_desc ti = {.name = "TI", .size = sizeof(A), KLAW_FIELDS(af), .tag = KLAW_TAG_INT,
                                        .tag_int = 1};
    static const klaw_struct_desc tarr = {.name = "TArr", .size = sizeof(A), KLAW_FIELDS(af), .tag = KLAW_TAG_STR,
                                          .tag_str = "y", .flags = KLAW_S_ARRAY_LIKE};
    static const klaw_struct_desc tkind = {.name = "TKind", .size = sizeof(A), KLAW_FIELDS(af), .tag = KLAW_TAG_STR,
                                           .tag_str = "z", .tag_field = "kind"};
    static const klaw_struct_desc *const v_untagged[] = {&ta, &untagged};
    static const klaw_struct_desc *const v_dup[] = {&ta, &tb};
    static const klaw_struct_desc *const v_mixed[] = {&ta, &ti};
    static const klaw_struct_desc *const v_forms[] = {&ta, &tarr};
    static const klaw_struct_desc *const v_fields[] = {&ta, &tkind};
    static const klaw_struct_desc *const v_null[] = {&ta, NULL};
    const struct {
        const klaw_struct_desc *const *v;
        uint32_t offset;
        const char *msg;
    } cases[] = {
        {v_untagged, offsetof(H, as), "Bad.u: union U: variant A has no tag"},
        {v_dup, offsetof(H, as), "Bad.u: union U: variants TA and TB have the same tag 'x'"},
        {v_mixed, offsetof(H, as), "Bad.u: union U: variants TA and TI have tags of different kinds"},
        {v_forms, offsetof(H, as), "Bad.u: union U: variants TA and TArr mix map and array_like forms"},
        {v_fields, offsetof(H, as), "Bad.u: union U: variants TA and TKind have different tag fields"},
        {v_null, offsetof(H, as), "Bad.u: union U: variant 1 is NULL"},
        {v_dup, 0, "Bad.u: union U: the variant offset 0 overlaps `which` or lies past the holder"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        klaw_union_desc u = {"U", cases[i].v, 2, sizeof(H), cases[i].offset};
        klaw_field f[] = {{KLAW_FIELD(S, u, KLAW_K_UNION), .uni = &u}};
        klaw_struct_desc d = {.name = "Bad", .size = sizeof(S), KLAW_FIELDS(f)};
        expect_compile_error(&d, cases[i].msg);
    }
    /* a variant larger than the holder's room */
    static const klaw_struct_desc *const v_big[] = {&buy_desc};
    klaw_union_desc u = {"U", v_big, 1, sizeof(H), offsetof(H, as)};
    klaw_field f[] = {{KLAW_FIELD(S, u, KLAW_K_UNION), .uni = &u}};
    klaw_struct_desc d = {.name = "Bad", .size = sizeof(S), KLAW_FIELDS(f)};
    expect_compile_error(&d, "Bad.u: union U: variant Buy (size 8) does not fit the holder (size 8, offset 4)");
}

static void compile_refuses_a_tag_field_that_collides_with_a_field(void **state)
{
    (void)state;
    typedef struct T {
        int32_t type;
    } T;
    static const klaw_field f[] = {{KLAW_FIELD(T, type, KLAW_K_I32)}};
    klaw_struct_desc d = {.name = "Tagged", .size = sizeof(T), KLAW_FIELDS(f), .tag = KLAW_TAG_STR, .tag_str = "t"};
    expect_compile_error(&d, "Tagged.type: wire name 'type' collides with the tag field");
    d.tag_field = "kind"; /* another tag field: fine */
    klaw_schema *s = compile_ok(&d);
    klaw_schema_free(s);
}

static void compile_refuses_more_fields_than_the_limit(void **state)
{
    (void)state;
    enum { N = KLAW_SCHEMA_MAX_FIELDS + 1 };
    static uint8_t bytes[N];
    static char names[N][8];
    static klaw_field f[N];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "f%d", i);
        f[i] = (klaw_field){.name = names[i], .kind = KLAW_K_U8, .offset = (uint32_t)i, .size = 1};
    }
    klaw_struct_desc d = {.name = "Big", .size = sizeof bytes, .fields = f, .nfields = N};
    expect_compile_error(&d, "Big: 257 fields, more than the limit of 256");
    d.nfields = N - 1; /* exactly the limit: fine, and decodes */
    klaw_schema *s = compile_ok(&d);
    uint8_t buf[4096];
    klaw_mp_writer w;
    klaw_mp_writer_init(&w, buf, sizeof buf);
    klaw_mp_write_map(&w, N - 1);
    for (int i = N - 2; i >= 0; i--) {
        klaw_mp_write_cstr(&w, names[i]);
        klaw_mp_write_uint(&w, (uint64_t)i % 256);
    }
    uint8_t out[N];
    assert_int_equal(klaw_schema_decode(s, buf, w.pos, out, NULL, 0, NULL), KLAW_OK);
    for (int i = 0; i < N - 1; i++)
        assert_int_equal(out[i], i % 256);
    /* the last field missing is found in the last word of the bitmap */
    klaw_schema_error err;
    klaw_mp_writer_init(&w, buf, sizeof buf);
    klaw_mp_write_map(&w, N - 2);
    for (int i = 0; i < N - 2; i++) {
        klaw_mp_write_cstr(&w, names[i]);
        klaw_mp_write_uint(&w, 0);
    }
    assert_int_equal(klaw_schema_decode(s, buf, w.pos, out, NULL, 0, &err), KLAW_VALIDATE);
    assert_string_equal(klaw_schema_error_message(&err), "Object missing required field `f255` - at `$`");
    klaw_schema_free(s);
}

static void compile_refuses_required_after_default_in_array_like(void **state)
{
    (void)state;
    typedef struct T {
        int32_t a, b;
    } T;
    static const klaw_field f[] = {
        {KLAW_FIELD(T, a, KLAW_K_I32), .flags = KLAW_F_DEFAULT},
        {KLAW_FIELD(T, b, KLAW_K_I32)},
    };
    klaw_struct_desc d = {.name = "Bad", .size = sizeof(T), KLAW_FIELDS(f), .flags = KLAW_S_ARRAY_LIKE};
    expect_compile_error(&d, "Bad.b: a required field after a field with a default (array_like)");
    d.flags = 0; /* in map form the order does not matter */
    klaw_schema *s = compile_ok(&d);
    klaw_schema_free(s);
}

static void compile_refuses_bad_enums(void **state)
{
    (void)state;
    typedef struct E {
        int e;
    } E;
    static const klaw_enum_entry dup_str[] = {{1, "A", 0}, {2, "A", 0}};
    static const klaw_enum_entry dup_val[] = {{1, "A", 0}, {1, "B", 0}};
    static const klaw_enum_entry dup_num[] = {{1, NULL, 5}, {2, NULL, 5}};
    static const klaw_enum_entry no_str[] = {{1, "A", 0}, {2, NULL, 0}};
    const struct {
        klaw_enum_desc e;
        const char *msg;
    } cases[] = {
        {{"En", dup_str, 2, KLAW_ENUM_STR}, "Bad.e: enum En: wire value 'A' appears twice"},
        {{"En", dup_val, 2, KLAW_ENUM_STR}, "Bad.e: enum En: C value 1 appears twice"},
        {{"En", dup_num, 2, KLAW_ENUM_INT}, "Bad.e: enum En: wire value 5 appears twice"},
        {{"En", no_str, 2, KLAW_ENUM_STR}, "Bad.e: enum En: entry 1 has no str (or not UTF-8)"},
        {{"En", dup_str, 0, KLAW_ENUM_STR}, "Bad.e: enum En has no entries"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        klaw_field f[] = {{KLAW_FIELD(E, e, KLAW_K_ENUM), .enm = &cases[i].e}};
        klaw_struct_desc d = {.name = "Bad", .size = sizeof(E), KLAW_FIELDS(f)};
        expect_compile_error(&d, cases[i].msg);
    }
}

static void compile_reports_the_nested_struct_at_fault(void **state)
{
    (void)state;
    typedef struct Inner {
        int16_t x;
    } Inner;
    typedef struct Outer {
        Inner in;
    } Outer;
    static const klaw_field inner_f[] = {{KLAW_FIELD(Inner, x, KLAW_K_I64)}};
    static const klaw_struct_desc inner = {.name = "Inner", .size = sizeof(Inner), KLAW_FIELDS(inner_f)};
    ONE(Outer, {KLAW_FIELD(Outer, in, KLAW_K_STRUCT), .nested = &inner});
    expect_compile_error(&d, "Inner.x: size 2 does not match kind int64 (8)");
}

static void compile_refuses_null_and_nameless_descs(void **state)
{
    (void)state;
    klaw_schema *s = (klaw_schema *)(uintptr_t)1;
    klaw_schema_error err;
    assert_int_equal(klaw_schema_compile(NULL, &s, &err), KLAW_INVAL);
    assert_null(s);
    assert_string_equal(klaw_schema_error_message(&err), "klaw_schema_compile: NULL desc");
    assert_int_equal(klaw_schema_compile_union(NULL, &s, NULL), KLAW_INVAL);
    klaw_struct_desc d = {.name = NULL, .size = 4};
    expect_compile_error(&d, "a struct desc has no name");
    d.name = "Zero";
    d.size = 0;
    expect_compile_error(&d, "Zero: size 0 is out of range");
    d.size = 4;
    d.nfields = 1;
    expect_compile_error(&d, "Zero: fields is NULL");
    klaw_struct_desc t = {.name = "T", .size = 4, .tag = KLAW_TAG_STR};
    expect_compile_error(&t, "T: KLAW_TAG_STR needs tag_str (UTF-8)");
}

/* ---- what compiles ----------------------------------------------------------------------- */

typedef struct Tree {
    klaw_str name;
    klaw_array kids; /* Tree */
} Tree;
extern const klaw_struct_desc tree_desc;
static const klaw_field tree_elem = {KLAW_ELEM(Tree, KLAW_K_STRUCT), .nested = &tree_desc};
static const klaw_field tree_fields[] = {
    {KLAW_FIELD(Tree, name, KLAW_K_STR)},
    {KLAW_FIELD(Tree, kids, KLAW_K_ARRAY), .elem = &tree_elem, .flags = KLAW_F_DEFAULT},
};
const klaw_struct_desc tree_desc = {.name = "Tree", .size = sizeof(Tree), KLAW_FIELDS(tree_fields)};

static void compile_accepts_good_tables_recursive_ones_too(void **state)
{
    (void)state;
    klaw_schema_error err;
    klaw_schema *s = NULL;
    err.status = KLAW_INVAL;
    assert_int_equal(klaw_schema_compile(&tree_desc, &s, &err), KLAW_OK);
    assert_int_equal(err.status, KLAW_OK);
    assert_string_equal(klaw_schema_error_message(&err), "");
    assert_int_equal(klaw_schema_size(s), sizeof(Tree));
    Tree t;
    assert_int_equal(decode_json(s, "{\"name\":\"a\",\"kids\":[{\"name\":\"b\"},{\"name\":\"c\",\"kids\":[{\"name\":\"d\"}]}]}",
                                 &t, 0, NULL),
                     KLAW_OK);
    assert_int_equal(t.kids.len, 2);
    const Tree *k = t.kids.items;
    assert_true(str_is(k[1].name, "c"));
    assert_true(str_is(((const Tree *)k[1].kids.items)[0].name, "d"));
    expect_json_error(s, "{\"name\":\"a\",\"kids\":[{\"name\":\"b\",\"kids\":[{}]}]}", 0, KLAW_VALIDATE,
                      "Object missing required field `name` - at `$.kids[0].kids[0]`");
    klaw_schema_free(s);
    klaw_schema_free(NULL);
    /* the fixtures compile, and compile again (each desc once per schema) */
    for (int i = 0; i < 2; i++) {
        s = compile_ok(&all_desc);
        klaw_schema_free(s);
        s = compile_ok(&order_desc);
        klaw_schema_free(s);
    }
    assert_string_equal(klaw_kind_name(KLAW_K_U16), "uint16");
    assert_string_equal(klaw_kind_name(KLAW_K_UNION), "union");
    assert_string_equal(klaw_kind_name((klaw_kind)1000), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(compile_refuses_a_size_that_does_not_match_the_kind),
        cmocka_unit_test(compile_refuses_a_field_past_the_struct),
        cmocka_unit_test(compile_refuses_duplicate_wire_names),
        cmocka_unit_test(compile_refuses_kinds_without_their_desc),
        cmocka_unit_test(compile_refuses_a_bad_regex_with_regerror_text),
        cmocka_unit_test(compile_refuses_constraints_on_the_wrong_kind),
        cmocka_unit_test(compile_refuses_constraints_that_can_never_be_met),
        cmocka_unit_test(compile_refuses_defaults_of_the_wrong_kind),
        cmocka_unit_test(compile_refuses_nullable_without_presence),
        cmocka_unit_test(compile_refuses_bad_unions),
        cmocka_unit_test(compile_refuses_a_tag_field_that_collides_with_a_field),
        cmocka_unit_test(compile_refuses_more_fields_than_the_limit),
        cmocka_unit_test(compile_refuses_required_after_default_in_array_like),
        cmocka_unit_test(compile_refuses_bad_enums),
        cmocka_unit_test(compile_reports_the_nested_struct_at_fault),
        cmocka_unit_test(compile_refuses_null_and_nameless_descs),
        cmocka_unit_test(compile_accepts_good_tables_recursive_ones_too),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
