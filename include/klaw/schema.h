/*
 * klaw/schema.h - typed MessagePack for C structs (msgspec's Struct, in C).
 *
 * A C struct is described once, by a static table of klaw_field entries
 * (wire name, kind, offsetof, sizeof, flags, default, constraints, nested
 * description). klaw_schema_compile() checks the table and turns it into an
 * immutable klaw_schema; from then on
 *
 *   klaw_schema_decode()  validates one MessagePack value and fills the
 *                         struct in one pass, with no tree in between and
 *                         no malloc (what does not fit in the struct goes
 *                         into a caller's klaw_arena);
 *   klaw_schema_encode()  writes the struct through a klaw_mp_writer.
 *
 * ---- An example ------------------------------------------------------------
 *
 *   typedef struct Order {
 *       klaw_str sym;
 *       int32_t qty;
 *       double px;
 *       bool has_px;
 *   } Order;
 *
 *   static const klaw_constraints qty_min = {.flags = KLAW_C_GE, .ge.i = 0};
 *   static const klaw_field order_fields[] = {
 *       {KLAW_FIELD(Order, sym, KLAW_K_STR)},
 *       {KLAW_FIELD(Order, qty, KLAW_K_I32), .cons = &qty_min},
 *       {KLAW_FIELD(Order, px, KLAW_K_DOUBLE), .flags = KLAW_F_OPTIONAL,
 *        .present = KLAW_PRESENT(Order, has_px)},
 *   };
 *   static const klaw_struct_desc order_desc = {
 *       .name = "Order", .size = sizeof(Order), KLAW_FIELDS(order_fields)};
 *
 *   klaw_schema *s;  klaw_schema_compile(&order_desc, &s, &err);
 *   Order o;         klaw_schema_decode(s, buf, len, &o, &arena, 0, &err);
 *
 * The wire value is the map {"sym": "ABC", "qty": 5, "px": 1.5} (or, with
 * KLAW_S_ARRAY_LIKE, the array ["ABC", 5, 1.5]). A wrong value gives
 * KLAW_VALIDATE and err.issues[0].message reads, as msgspec's would,
 *   "Expected `int` >= 0 - at `$.qty`".
 *
 * ---- Kinds and their C representation --------------------------------------
 *
 *   kind             C member                      wire
 *   KLAW_K_BOOL      bool                          bool
 *   KLAW_K_I8..I64   int8_t .. int64_t             int, range-checked
 *   KLAW_K_U8..U64   uint8_t .. uint64_t           int, range-checked
 *   KLAW_K_FLOAT     float                         float32/64 or int; a finite
 *                                                  value beyond FLT_MAX is refused
 *   KLAW_K_DOUBLE    double                        float32/64 or int
 *   KLAW_K_STR       klaw_str                      str (a view, or copied: KLAW_F_COPY)
 *   KLAW_K_BIN       klaw_bytes                    bin (a view, or copied: KLAW_F_COPY)
 *   KLAW_K_RAW       klaw_mp_raw                   any one value, kept as its bytes
 *   KLAW_K_TIMESTAMP struct timespec               ext -1 (all three widths)
 *   KLAW_K_ENUM      int                           str or int (klaw_enum_desc)
 *   KLAW_K_STRUCT    the nested struct, in place   map, or array (array_like)
 *   KLAW_K_ARRAY     klaw_array                    array; items in the arena
 *   KLAW_K_FIXED     T member[N], in place         array of exactly N
 *   KLAW_K_MAP       klaw_map                      map str -> T; entries in the arena
 *   KLAW_K_UNION     a holder (see below)          a tagged struct (klaw_union_desc)
 *
 * Elements. ARRAY, FIXED and MAP describe their element with `elem`, another
 * klaw_field (its name, wire_name, flags other than KLAW_F_COPY, present and
 * default are not used and must be zero/NULL):
 *   - ARRAY: items are elem->size bytes apart (a C array of T): elem->offset
 *     is 0 and elem->size is sizeof(T);
 *   - FIXED: the same, with `count` = N; the member is T[N] (size N*sizeof T);
 *   - MAP: an entry is a user struct {klaw_str key; T value;}; `count` on the
 *     map field is sizeof(entry), elem->offset is offsetof(entry, value) and
 *     elem->size is sizeof(T). Entries keep the wire order; duplicate keys
 *     are kept as they come. (klaw_map.entries points at `len` such structs.)
 *   Elements may themselves be arrays, maps, structs or unions.
 *
 * Unions. A KLAW_K_UNION member is a holder struct of the user's:
 *     typedef struct { int32_t which; union { Buy buy; Sell sell; } as; } Msg;
 * `which` (at offset 0 of the holder) is the index of the decoded variant in
 * klaw_union_desc.variants, -1 for none; the variant lives at holder +
 * klaw_union_desc.offset. Every variant is a struct with a tag (str or int,
 * all of one kind, unique, with the same tag_field and the same form). In map
 * form the tag is the value of the key tag_field ("type" by default), and it
 * may be anywhere among the keys (first is fastest); in array_like form it is
 * element 0. A top-level union is compiled with klaw_schema_compile_union()
 * and decodes into such a holder.
 *
 * ---- Required, defaults, optional ------------------------------------------
 *
 * A field without KLAW_F_DEFAULT is required. Its default lives in `def`:
 *   BOOL: def.b; signed ints and ENUM (the C value): def.i; unsigned: def.u;
 *   FLOAT/DOUBLE: def.d; STR/BIN: def.ptr/def.len (KLAW_DEF_STR("x"));
 *   RAW: def.ptr/def.len, one encoded MessagePack value (NULL: an empty raw,
 *   which encodes as nil); TIMESTAMP: def.i seconds, def.nsec;
 *   ARRAY/MAP: always empty; FIXED: all bytes zero; STRUCT: the nested
 *   struct with every field at its own default (each must have one);
 *   UNION: only nil (KLAW_F_OPTIONAL).
 * KLAW_F_NULLABLE accepts nil; `present` (KLAW_PRESENT(T, m)) names a bool
 * member that says whether a value is there (false for nil). KLAW_F_DEFAULT_NIL
 * makes nil the default; KLAW_F_OPTIONAL is all three (msgspec's
 * `x: Optional[int] = None`).
 *
 * ---- Decoding ---------------------------------------------------------------
 *
 * The out struct is zeroed, then filled; fields that are missing get their
 * defaults (str/bin/raw defaults are views of the desc's own bytes, never
 * copied). Array items and map entries are allocated in the arena aligned
 * to the largest power of two (<= 16) that divides their size - enough for
 * any C type of that size - and zeroed before they are filled. Map form: keys may come in any order (declaration order costs
 * one comparison per key); a key seen twice is an error (msgspec keeps the
 * last; a frame that says two things is refused here); unknown keys are
 * skipped, or refused with KLAW_S_FORBID_UNKNOWN. array_like form: fields in
 * declaration order; trailing fields with defaults may be left out; extra
 * trailing items are skipped, or refused with KLAW_S_FORBID_UNKNOWN.
 * Strict by default (as msgspec): an int is accepted for a float, nothing
 * else is converted. KLAW_DECODE_LAX adds msgspec's strict=False coercions:
 * str -> int/float/bool ("123", "1.5", "true"/"false"/"1"/"0", case-
 * insensitive), int 0/1 -> bool, float with an integral value -> int,
 * int/float -> timestamp (seconds since the epoch), "null" -> nil (for
 * KLAW_F_NULLABLE fields that do not take a str: for a str "null" stays a
 * str, as in msgspec).
 *
 * Constraints (klaw_constraints): ge, gt, le, lt, multiple_of on int and
 * float kinds (klaw_num.i for ints, .d for floats; for ints, gt/lt are shown
 * as the equivalent >=/<=, as msgspec does); min_length/max_length on STR
 * (in code points, as msgspec), BIN (bytes), ARRAY (items), MAP (pairs);
 * pattern on STR: a POSIX extended regex, compiled once by
 * klaw_schema_compile(), searched unanchored (anchor with ^...$), in the
 * C library's current locale. regexec() needs a NUL-terminated string, so
 * the str is matched from a copy: on the stack up to 1 KiB, else in the
 * arena (released at once; too little arena is KLAW_NOMEM). A str with a
 * NUL byte inside never matches a pattern. The one exception to "decoding
 * never allocates": regexec() may (glibc's makes some 30 allocator calls
 * per match). A schema without patterns decodes with no allocation at all.
 * The C type's own range is a constraint too: 300 into an int8_t gives
 * "Expected `int` <= 127". Encoding does not check constraints.
 *
 * ---- Errors -----------------------------------------------------------------
 *
 * Every call returns a klaw_status and, when err is not NULL, details in a
 * klaw_schema_error (on success only its status, count and kept are set;
 * the issues are written only on error, so passing one costs nothing):
 *   KLAW_VALIDATE  well-formed MessagePack of the wrong shape or value; the
 *                  message is msgspec's wording, always followed by
 *                  " - at `<path>`" (also at the root: " - at `$`"; msgspec
 *                  leaves the root out). Path: `$`, `.field`, `[index]`
 *                  (array_like fields too), `[...]` for a map entry (as
 *                  msgspec; the key itself is in the segment).
 *     Expected `int`, got `str`             Expected `int | null`, got `str`
 *     Expected `int` >= 0                   Expected `float` < 1.5
 *     Expected `int` that's a multiple of 5 Expected `str` of length <= 3
 *     Expected `bytes` of length >= 1       Expected `array` of length <= 3
 *     Expected `object` of length >= 1      Expected `str` matching regex '^[A-Z]+$'
 *     Expected `object`, got `array`        Expected `array` of length 3, got 4
 *     Expected `array` of at least length 2, got 1
 *     Expected `array` of at most length 3, got 4
 *     Object missing required field `sym`   Object contains unknown field `x`
 *     Object contains duplicate field `x`   Invalid enum value 'X'  /  Invalid enum value 7
 *     Invalid value 'x' (a union tag)       Timestamp is out of range
 *   KLAW_DECODE    malformed bytes: the reader's reason and byte offset,
 *                  "decode error at byte 12: invalid UTF-8 in str - at `$.sym`"
 *                  (also trailing bytes, nesting deeper than the limit).
 *   KLAW_NOMEM     the arena is exhausted: "Arena exhausted - at `$.items`".
 * On any error the out struct is all zero bytes and the arena is back at its
 * mark from the call's entry. With KLAW_DECODE_ALL_ERRORS, decoding goes on
 * after a validation error and collects every one (DECODE and NOMEM still
 * stop it): err->count says how many, the first KLAW_SCHEMA_MAX_ERRORS are
 * kept, in the order met.
 *
 * Thread safety: a compiled schema is immutable; any number of threads may
 * decode and encode with one schema at once (regexec is thread-safe).
 * Views (klaw_str, klaw_bytes, klaw_mp_raw, path keys) point into the
 * decoded buffer, the arena or the schema: valid while those are.
 */
#ifndef KLAW_SCHEMA_H
#define KLAW_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "klaw/arena.h"
#include "klaw/export.h"
#include "klaw/mp_reader.h"
#include "klaw/mp_writer.h"
#include "klaw/status.h"
#include "klaw/str.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- C representations ---------------------------------------------------- */

/* A str field is a klaw_str (klaw/str.h): a view into the frame, or
 * (KLAW_F_COPY) a NUL-terminated copy in the arena. */

/* A bin: a view into the frame, or (KLAW_F_COPY) a copy in the arena. */
typedef struct klaw_bytes {
    const uint8_t *ptr;
    uint32_t len;
} klaw_bytes;

/* A variable-length array: len items, elem->size bytes apart, in the arena
 * (NULL when len is 0). */
typedef struct klaw_array {
    void *items;
    uint32_t len;
} klaw_array;

/* A map str -> T: len entries {klaw_str key; T value;} in the arena (NULL
 * when len is 0). */
typedef struct klaw_map {
    void *entries;
    uint32_t len;
} klaw_map;

/* ---- descriptor tables (what the user writes) ------------------------------- */

typedef enum klaw_kind {
    KLAW_K_NONE = 0, /* not a kind: refused by compile */
    KLAW_K_BOOL,
    KLAW_K_I8,
    KLAW_K_I16,
    KLAW_K_I32,
    KLAW_K_I64,
    KLAW_K_U8,
    KLAW_K_U16,
    KLAW_K_U32,
    KLAW_K_U64,
    KLAW_K_FLOAT,
    KLAW_K_DOUBLE,
    KLAW_K_STR,
    KLAW_K_BIN,
    KLAW_K_RAW,
    KLAW_K_TIMESTAMP,
    KLAW_K_ENUM,
    KLAW_K_STRUCT,
    KLAW_K_ARRAY,
    KLAW_K_FIXED,
    KLAW_K_MAP,
    KLAW_K_UNION,
    KLAW_K_COUNT_ /* not a kind */
} klaw_kind;

/* Field flags. */
enum {
    KLAW_F_DEFAULT = 1u << 0,      /* not required: missing takes `def`          */
    KLAW_F_NULLABLE = 1u << 1,     /* nil accepted; `present` says which          */
    KLAW_F_DEFAULT_NIL = 1u << 2,  /* the default is nil (needs NULLABLE)         */
    KLAW_F_COPY = 1u << 3,         /* STR/BIN (and MAP keys): copy into the arena */
    KLAW_F_OMIT_DEFAULT = 1u << 4, /* encode: leave out when equal to default     */
};
#define KLAW_F_OPTIONAL (KLAW_F_NULLABLE | KLAW_F_DEFAULT | KLAW_F_DEFAULT_NIL)

/* Constraint flags (klaw_constraints.flags: which members are set). */
enum {
    KLAW_C_GE = 1u << 0,
    KLAW_C_GT = 1u << 1,
    KLAW_C_LE = 1u << 2,
    KLAW_C_LT = 1u << 3,
    KLAW_C_MULTIPLE_OF = 1u << 4,
    KLAW_C_MIN_LENGTH = 1u << 5,
    KLAW_C_MAX_LENGTH = 1u << 6,
    KLAW_C_PATTERN = 1u << 7,
};

/* A number in a constraint: .i for the int kinds, .d for FLOAT/DOUBLE. */
typedef union klaw_num {
    int64_t i;
    double d;
} klaw_num;

typedef struct klaw_constraints {
    uint32_t flags;       /* KLAW_C_*: the members below that apply          */
    klaw_num ge, gt, le, lt;
    klaw_num multiple_of; /* > 0                                             */
    uint32_t min_length, max_length;
    const char *pattern;  /* POSIX ERE, unanchored search                    */
} klaw_constraints;

/* A default value (which member, per kind: see the top of this file). */
typedef struct klaw_value {
    bool b;
    int64_t i;
    uint64_t u;
    double d;
    const void *ptr;
    uint32_t len;
    uint32_t nsec;
} klaw_value;

typedef struct klaw_struct_desc klaw_struct_desc;
typedef struct klaw_enum_desc klaw_enum_desc;
typedef struct klaw_union_desc klaw_union_desc;

typedef struct klaw_field {
    const char *name;      /* C name: the wire name unless renamed            */
    const char *wire_name; /* explicit wire name (beats the struct's preset)  */
    klaw_kind kind;
    uint32_t offset;       /* offsetof the member                             */
    uint32_t size;         /* sizeof the member: checked against the kind     */
    uint32_t flags;        /* KLAW_F_*                                        */
    klaw_value def;        /* the default (KLAW_F_DEFAULT)                    */
    const klaw_constraints *cons;
    const klaw_struct_desc *nested; /* STRUCT                                 */
    const klaw_enum_desc *enm;      /* ENUM                                   */
    const struct klaw_field *elem;  /* ARRAY, FIXED, MAP: the element         */
    const klaw_union_desc *uni;     /* UNION                                  */
    uint32_t count;        /* FIXED: N; MAP: sizeof one entry struct          */
    uint32_t present;      /* NULLABLE: KLAW_PRESENT(T, m) (0: none)          */
} klaw_field;

/* Struct flags. */
enum {
    KLAW_S_ARRAY_LIKE = 1u << 0,    /* wire form is an array, fields by position */
    KLAW_S_FORBID_UNKNOWN = 1u << 1, /* unknown keys / extra items are errors     */
    KLAW_S_OMIT_DEFAULTS = 1u << 2, /* encode: leave out fields equal to default */
};

/* Rename presets for the wire names of fields without wire_name, from the
 * C name split at '_': lower "order_id", upper "ORDER_ID", camel "orderId",
 * pascal "OrderId", kebab "order-id". Leading underscores are kept. */
typedef enum klaw_rename {
    KLAW_RENAME_NONE = 0,
    KLAW_RENAME_LOWER,
    KLAW_RENAME_UPPER,
    KLAW_RENAME_CAMEL,
    KLAW_RENAME_PASCAL,
    KLAW_RENAME_KEBAB,
} klaw_rename;

typedef enum klaw_tag_kind {
    KLAW_TAG_NONE = 0,
    KLAW_TAG_STR,
    KLAW_TAG_INT,
} klaw_tag_kind;

struct klaw_struct_desc {
    const char *name;          /* for messages ("Order")                       */
    size_t size;               /* sizeof the struct                            */
    const klaw_field *fields;
    uint32_t nfields;          /* at most KLAW_SCHEMA_MAX_FIELDS               */
    uint32_t flags;            /* KLAW_S_*                                     */
    klaw_rename rename;
    klaw_tag_kind tag;         /* a tagged struct (a union variant)            */
    const char *tag_str;       /* KLAW_TAG_STR: its tag                        */
    int64_t tag_int;           /* KLAW_TAG_INT: its tag                        */
    const char *tag_field;     /* the tag's key in map form; NULL: "type"      */
};

/* Enums: a C `int` member <-> a wire str (KLAW_ENUM_STR) or int
 * (KLAW_ENUM_INT). C values and wire values must each be unique. */
typedef enum klaw_enum_wire {
    KLAW_ENUM_STR = 0,
    KLAW_ENUM_INT,
} klaw_enum_wire;

typedef struct klaw_enum_entry {
    int value;       /* the C value                                         */
    const char *str; /* KLAW_ENUM_STR: its wire str                         */
    int64_t num;     /* KLAW_ENUM_INT: its wire int                         */
} klaw_enum_entry;

struct klaw_enum_desc {
    const char *name;
    const klaw_enum_entry *entries;
    uint32_t count;
    klaw_enum_wire wire;
};

/* A tagged union of structs, decoded into a holder whose first member is
 * `int32_t which`; the variant is stored at holder + offset. */
struct klaw_union_desc {
    const char *name;
    const klaw_struct_desc *const *variants;
    uint32_t count;
    uint32_t size;   /* sizeof the holder                                   */
    uint32_t offset; /* offsetof the variant storage in the holder (>= 4)   */
};

/* ---- helper macros for tables --------------------------------------------------- */

/* name, kind, offset and size of member m of struct T. */
#define KLAW_FIELD(T, m, k) \
    .name = #m, .kind = (k), .offset = (uint32_t)offsetof(T, m), .size = (uint32_t)sizeof(((T *)0)->m)
/* An ARRAY/FIXED element of C type E. */
#define KLAW_ELEM(E, k) .kind = (k), .offset = 0, .size = (uint32_t)sizeof(E)
/* A MAP element: the `value` member of entry struct ET ({klaw_str key; T value;}). */
#define KLAW_MAP_VALUE(ET, k) \
    .kind = (k), .offset = (uint32_t)offsetof(ET, value), .size = (uint32_t)sizeof(((ET *)0)->value)
/* The presence bool m of struct T, for KLAW_F_NULLABLE. */
#define KLAW_PRESENT(T, m) ((uint32_t)offsetof(T, m) + 1u)
/* .fields and .nfields from a static array. */
#define KLAW_FIELDS(a) .fields = (a), .nfields = (uint32_t)(sizeof(a) / sizeof((a)[0]))
/* A str/bin default from a string literal. */
#define KLAW_DEF_STR(s) {.ptr = (s), .len = (uint32_t)(sizeof(s) - 1)}

/* ---- limits ------------------------------------------------------------------- */

#define KLAW_SCHEMA_MAX_FIELDS 256u  /* fields per struct (the seen bitmap)   */
#define KLAW_SCHEMA_MAX_DEPTH 256u   /* nesting of structs/arrays/maps/unions */
#define KLAW_SCHEMA_PATH_MAX 32u     /* path segments kept in an issue        */
#define KLAW_SCHEMA_MAX_ERRORS 16u   /* issues kept with ALL_ERRORS          */
#define KLAW_SCHEMA_MSG_MAX 256u     /* bytes of a formatted message          */

/* ---- errors -------------------------------------------------------------------- */

typedef enum klaw_path_kind {
    KLAW_PATH_FIELD = 0, /* .name: key/len is the field's wire name          */
    KLAW_PATH_INDEX,     /* [index]: an array item or array_like position    */
    KLAW_PATH_KEY,       /* [...]: a map entry; key/len is its key (a view)  */
} klaw_path_kind;

typedef struct klaw_path_seg {
    const char *key; /* FIELD, KEY: not NUL-terminated                      */
    uint32_t n;      /* FIELD, KEY: key length; INDEX: the index            */
    uint32_t kind;   /* klaw_path_kind                                      */
} klaw_path_seg;

/* One error. expected/got are short texts for programs ("int >= 0" / "-5",
 * "int" / "str", "field `sym`" / "nothing"); message is the whole sentence. */
typedef struct klaw_schema_issue {
    klaw_status status;   /* VALIDATE, DECODE, NOMEM (or INVAL from compile) */
    size_t offset;        /* byte offset of the value in the buffer          */
    uint32_t depth;       /* path segments in path[] (<= KLAW_SCHEMA_PATH_MAX) */
    bool truncated;       /* the path was deeper: only its outer part is kept */
    klaw_path_seg path[KLAW_SCHEMA_PATH_MAX];
    char expected[48];
    char got[48];
    char message[KLAW_SCHEMA_MSG_MAX];
} klaw_schema_issue;

typedef struct klaw_schema_error {
    klaw_status status; /* the call's status                                  */
    uint32_t count;     /* issues found (ALL_ERRORS: may exceed those kept)   */
    uint32_t kept;      /* issues stored in issues[]                           */
    klaw_schema_issue issues[KLAW_SCHEMA_MAX_ERRORS];
} klaw_schema_error;

/* ---- compiling ------------------------------------------------------------------ */

typedef struct klaw_schema klaw_schema;

/* Checks the table of d (and of every struct, enum and union it reaches,
 * self-references included: each desc is compiled once) and builds an
 * immutable schema in *out (malloc'd; free with klaw_schema_free).
 * Returns KLAW_OK; KLAW_INVAL for a mistake in a table, with one issue whose
 * message names the struct and field: "Order.qty: size 2 does not match kind
 * int32 (4)"; KLAW_NOMEM when malloc fails. *out is NULL on error. The descs
 * must outlive the schema (names and defaults are not copied). */
KLAW_API klaw_status klaw_schema_compile(const klaw_struct_desc *d, klaw_schema **out, klaw_schema_error *err);

/* The same for a top-level tagged union (decodes into its holder). */
KLAW_API klaw_status klaw_schema_compile_union(const klaw_union_desc *u, klaw_schema **out,
                                               klaw_schema_error *err);

/* Frees a schema (NULL is fine). No decode or encode may be using it. */
KLAW_API void klaw_schema_free(klaw_schema *s);

/* sizeof the C value a schema decodes into (the struct, or the holder). */
KLAW_API size_t klaw_schema_size(const klaw_schema *s);

/* ---- decoding ------------------------------------------------------------------- */

/* Decode flags (KLAW_MP_TRUSTED_UTF8 may be or'ed in too). */
enum {
    KLAW_DECODE_LAX = 1u << 8,        /* msgspec's strict=False coercions     */
    KLAW_DECODE_ALL_ERRORS = 1u << 9, /* collect every validation error       */
};

/* Decodes buf[0, len), which must be exactly one value, into *out
 * (klaw_schema_size(s) bytes). Items, entries and copies go into arena (may
 * be NULL when the schema never needs one: then any need is KLAW_NOMEM).
 * Does not allocate (but see pattern, above), print or block. Nesting is
 * limited to KLAW_SCHEMA_MAX_DEPTH levels of structs, arrays, maps and
 * unions (each level costs a few hundred bytes of C stack), and values that
 * are skipped or kept raw to the reader's max_depth. Returns KLAW_OK, KLAW_DECODE, KLAW_VALIDATE or KLAW_NOMEM (see
 * Errors above; on error *out is zeroed and the arena restored). */
KLAW_API klaw_status klaw_schema_decode(const klaw_schema *s, const void *buf, size_t len, void *out,
                                        klaw_arena *arena, uint32_t flags, klaw_schema_error *err);

/* Decodes the one value at r's position (a Raw payload inside an envelope,
 * say), leaving r after it; trailing bytes are the caller's business. The
 * reader's flags (UTF-8 trust) and max_depth (capped at
 * KLAW_SCHEMA_MAX_DEPTH) apply; byte offsets count from r's start. On error
 * the reader's position is unspecified, and a DECODE error stays sticky in
 * it; a VALIDATE or NOMEM error does not touch r->err. */
KLAW_API klaw_status klaw_schema_decode_reader(const klaw_schema *s, klaw_mp_reader *r, void *out,
                                               klaw_arena *arena, uint32_t flags, klaw_schema_error *err);

/* ---- encoding ------------------------------------------------------------------- */

/* Writes *in as one MessagePack value through w. Never allocates. Struct
 * fields in declaration order (after the tag of a tagged struct); map form
 * or array form as the desc says; KLAW_S_OMIT_DEFAULTS / KLAW_F_OMIT_DEFAULT
 * leave out fields equal to their defaults (array_like: only trailing ones).
 * FLOAT is written as float32, DOUBLE as float64, ints in their smallest
 * form, a RAW as its bytes unchecked (an empty raw as nil). Constraints are
 * not checked. Returns the writer's sticky status: KLAW_OK, KLAW_TOOBIG (the
 * buffer is short; klaw_mp_writer_needed() says how much is needed), or
 * KLAW_INVAL for a value that cannot be encoded: an enum value not in its
 * table, a union `which` out of range, a str/bin with NULL ptr and len > 0,
 * timestamp nanoseconds out of range, nesting deeper than
 * KLAW_SCHEMA_MAX_DEPTH. */
KLAW_API klaw_status klaw_schema_encode(const klaw_schema *s, const void *in, klaw_mp_writer *w);

/* ---- error helpers ----------------------------------------------------------------- */

/* The first issue's message ("" when there is none). Never NULL. */
KLAW_API const char *klaw_schema_error_message(const klaw_schema_error *err);

/* Formats an issue's path ("$.items[3].qty") into buf; returns the length
 * snprintf would have written. */
KLAW_API int klaw_schema_path_format(const klaw_schema_issue *is, char *buf, size_t size);

/* A kind's name as messages use it ("int32", "str", ...). */
KLAW_API const char *klaw_kind_name(klaw_kind k);

#ifdef __cplusplus
}
#endif

#endif /* KLAW_SCHEMA_H */
