/* schema_fixtures.h - descriptor tables shared by the schema tests and the
 * schema fuzz target: an Order (map form, constraints, enum, nested array,
 * optional field) and an All struct that uses every kind. */
#ifndef KLAW_TEST_SCHEMA_FIXTURES_H
#define KLAW_TEST_SCHEMA_FIXTURES_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "klaw/klaw.h"

#if defined(__GNUC__) || defined(__clang__)
#define FIXTURE __attribute__((unused)) static const
#else
#define FIXTURE static const
#endif

/* ---- Side: a str enum; Level: an int enum ---------------------------------- */

enum { SIDE_BUY = 1, SIDE_SELL = 2 };
FIXTURE klaw_enum_entry side_entries[] = {{SIDE_BUY, "BUY", 0}, {SIDE_SELL, "SELL", 0}};
FIXTURE klaw_enum_desc side_desc = {"Side", side_entries, 2, KLAW_ENUM_STR};

enum { LEVEL_LOW = 10, LEVEL_HIGH = 20 };
FIXTURE klaw_enum_entry level_entries[] = {{LEVEL_LOW, NULL, 1}, {LEVEL_HIGH, NULL, 2}};
FIXTURE klaw_enum_desc level_desc = {"Level", level_entries, 2, KLAW_ENUM_INT};

/* ---- Item, Order ---------------------------------------------------------------- */

typedef struct Item {
    klaw_str sku;
    int32_t qty;
} Item;

FIXTURE klaw_constraints nonneg = {.flags = KLAW_C_GE, .ge.i = 0};
FIXTURE klaw_field item_fields[] = {
    {KLAW_FIELD(Item, sku, KLAW_K_STR)},
    {KLAW_FIELD(Item, qty, KLAW_K_I32), .cons = &nonneg},
};
FIXTURE klaw_struct_desc item_desc = {.name = "Item", .size = sizeof(Item), KLAW_FIELDS(item_fields)};

typedef struct Order {
    klaw_str sym;
    int32_t qty;
    double px;
    bool has_px;
    int side;
    klaw_array items; /* Item */
    klaw_array tags;  /* klaw_str */
} Order;

FIXTURE klaw_constraints sym_cons = {.flags = KLAW_C_PATTERN | KLAW_C_MAX_LENGTH, .max_length = 8,
                                     .pattern = "^[A-Z]+$"};
FIXTURE klaw_constraints px_cons = {.flags = KLAW_C_GT, .gt.d = 0};
FIXTURE klaw_constraints items_cons = {.flags = KLAW_C_MAX_LENGTH, .max_length = 3};
FIXTURE klaw_field item_elem = {KLAW_ELEM(Item, KLAW_K_STRUCT), .nested = &item_desc};
FIXTURE klaw_field tag_elem = {KLAW_ELEM(klaw_str, KLAW_K_STR)};
FIXTURE klaw_field order_fields[] = {
    {KLAW_FIELD(Order, sym, KLAW_K_STR), .cons = &sym_cons},
    {KLAW_FIELD(Order, qty, KLAW_K_I32), .cons = &nonneg},
    {KLAW_FIELD(Order, px, KLAW_K_DOUBLE), .flags = KLAW_F_OPTIONAL, .present = KLAW_PRESENT(Order, has_px),
     .cons = &px_cons},
    {KLAW_FIELD(Order, side, KLAW_K_ENUM), .enm = &side_desc, .flags = KLAW_F_DEFAULT, .def.i = SIDE_BUY},
    {KLAW_FIELD(Order, items, KLAW_K_ARRAY), .elem = &item_elem, .cons = &items_cons, .flags = KLAW_F_DEFAULT},
    {KLAW_FIELD(Order, tags, KLAW_K_ARRAY), .elem = &tag_elem, .flags = KLAW_F_DEFAULT},
};
FIXTURE klaw_struct_desc order_desc = {.name = "Order", .size = sizeof(Order), KLAW_FIELDS(order_fields)};

/* ---- All: every kind ---------------------------------------------------------------- */

typedef struct Point {
    int32_t x, y;
} Point;
FIXTURE klaw_field point_fields[] = {
    {KLAW_FIELD(Point, x, KLAW_K_I32)},
    {KLAW_FIELD(Point, y, KLAW_K_I32), .flags = KLAW_F_DEFAULT},
};
FIXTURE klaw_struct_desc point_desc = {.name = "Point", .size = sizeof(Point), KLAW_FIELDS(point_fields),
                                       .flags = KLAW_S_ARRAY_LIKE};

typedef struct PriceEntry {
    klaw_str key;
    double value;
} PriceEntry;

typedef struct Buy {
    int64_t qty;
} Buy;
typedef struct Sell {
    int64_t qty;
    klaw_str reason;
} Sell;
typedef struct Action {
    int32_t which;
    union {
        Buy buy;
        Sell sell;
    } as;
} Action;

FIXTURE klaw_field buy_fields[] = {{KLAW_FIELD(Buy, qty, KLAW_K_I64)}};
FIXTURE klaw_struct_desc buy_desc = {.name = "Buy", .size = sizeof(Buy), KLAW_FIELDS(buy_fields),
                                     .tag = KLAW_TAG_STR, .tag_str = "buy"};
FIXTURE klaw_field sell_fields[] = {
    {KLAW_FIELD(Sell, qty, KLAW_K_I64)},
    {KLAW_FIELD(Sell, reason, KLAW_K_STR), .flags = KLAW_F_DEFAULT},
};
FIXTURE klaw_struct_desc sell_desc = {.name = "Sell", .size = sizeof(Sell), KLAW_FIELDS(sell_fields),
                                      .tag = KLAW_TAG_STR, .tag_str = "sell"};
FIXTURE klaw_struct_desc *const action_variants[] = {&buy_desc, &sell_desc};
FIXTURE klaw_union_desc action_desc = {"Action", action_variants, 2, sizeof(Action), offsetof(Action, as)};

typedef struct All {
    bool b;
    int8_t i8;
    int16_t i16;
    int32_t i32;
    int64_t i64;
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    float f;
    double d;
    klaw_str s;
    klaw_str sc;
    klaw_bytes bin;
    klaw_bytes binc;
    klaw_mp_raw raw;
    struct timespec ts;
    int side;
    int level;
    int32_t opt;
    bool has_opt;
    Point pt;
    klaw_array pts;
    int16_t fixed[3];
    klaw_map prices;
    Action act;
    Action maybe;
    bool has_maybe;
} All;

FIXTURE klaw_field all_point_elem = {KLAW_ELEM(Point, KLAW_K_STRUCT), .nested = &point_desc};
FIXTURE klaw_field all_fixed_elem = {KLAW_ELEM(int16_t, KLAW_K_I16)};
FIXTURE klaw_field all_price_elem = {KLAW_MAP_VALUE(PriceEntry, KLAW_K_DOUBLE)};
FIXTURE klaw_field all_fields[] = {
    {KLAW_FIELD(All, b, KLAW_K_BOOL)},
    {KLAW_FIELD(All, i8, KLAW_K_I8)},
    {KLAW_FIELD(All, i16, KLAW_K_I16)},
    {KLAW_FIELD(All, i32, KLAW_K_I32)},
    {KLAW_FIELD(All, i64, KLAW_K_I64)},
    {KLAW_FIELD(All, u8, KLAW_K_U8)},
    {KLAW_FIELD(All, u16, KLAW_K_U16)},
    {KLAW_FIELD(All, u32, KLAW_K_U32)},
    {KLAW_FIELD(All, u64, KLAW_K_U64)},
    {KLAW_FIELD(All, f, KLAW_K_FLOAT)},
    {KLAW_FIELD(All, d, KLAW_K_DOUBLE)},
    {KLAW_FIELD(All, s, KLAW_K_STR)},
    {KLAW_FIELD(All, sc, KLAW_K_STR), .flags = KLAW_F_COPY},
    {KLAW_FIELD(All, bin, KLAW_K_BIN)},
    {KLAW_FIELD(All, binc, KLAW_K_BIN), .flags = KLAW_F_COPY},
    {KLAW_FIELD(All, raw, KLAW_K_RAW)},
    {KLAW_FIELD(All, ts, KLAW_K_TIMESTAMP)},
    {KLAW_FIELD(All, side, KLAW_K_ENUM), .enm = &side_desc},
    {KLAW_FIELD(All, level, KLAW_K_ENUM), .enm = &level_desc},
    {KLAW_FIELD(All, opt, KLAW_K_I32), .flags = KLAW_F_NULLABLE, .present = KLAW_PRESENT(All, has_opt)},
    {KLAW_FIELD(All, pt, KLAW_K_STRUCT), .nested = &point_desc},
    {KLAW_FIELD(All, pts, KLAW_K_ARRAY), .elem = &all_point_elem},
    {KLAW_FIELD(All, fixed, KLAW_K_FIXED), .elem = &all_fixed_elem, .count = 3},
    {KLAW_FIELD(All, prices, KLAW_K_MAP), .elem = &all_price_elem, .count = sizeof(PriceEntry),
     .flags = KLAW_F_COPY},
    {KLAW_FIELD(All, act, KLAW_K_UNION), .uni = &action_desc},
    {KLAW_FIELD(All, maybe, KLAW_K_UNION), .uni = &action_desc, .flags = KLAW_F_OPTIONAL,
     .present = KLAW_PRESENT(All, has_maybe)},
};
FIXTURE klaw_struct_desc all_desc = {.name = "All", .size = sizeof(All), KLAW_FIELDS(all_fields)};
FIXTURE klaw_struct_desc all_array_desc = {.name = "AllA", .size = sizeof(All), KLAW_FIELDS(all_fields),
                                           .flags = KLAW_S_ARRAY_LIKE};

#endif /* KLAW_TEST_SCHEMA_FIXTURES_H */
