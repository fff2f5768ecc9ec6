/*
 * schema_impl.h - the compiled form of a schema, shared by the compiler,
 * the decoder, the encoder and the error formatter. Not a public header.
 *
 * A klaw_schema is a graph of cstruct / cunion / cenum nodes built once by
 * schema_compile.c and never written again, so any number of threads may
 * walk it at once. Every node is allocated by the compiler and listed in
 * the schema's block list, which klaw_schema_free() walks.
 */
#ifndef KLAW_SCHEMA_IMPL_H
#define KLAW_SCHEMA_IMPL_H

#include <regex.h>
#include <stdarg.h>

#include "klaw/schema.h"

typedef struct cstruct cstruct;
typedef struct cunion cunion;
typedef struct cenum cenum;
typedef struct cfield cfield;

/* Compiled-field flags (cfield.cflags), beyond the user's KLAW_F_*. */
enum {
    CF_MULT = 1u << 0,       /* multiple_of applies                              */
    CF_FBOUNDS = 1u << 1,    /* float bounds (or float32 range) apply            */
    CF_LEN = 1u << 2,        /* min/max length apply                             */
    CF_RE = 1u << 3,         /* pattern applies                                  */
    CF_DEF_WRITE = 1u << 4,  /* a missing field's default must be written        */
    CF_OMIT = 1u << 5,       /* encode leaves it out when equal to its default   */
    CF_FLT_LO_X = 1u << 6,   /* the float lower bound is exclusive (gt)          */
    CF_FLT_HI_X = 1u << 7,   /* the float upper bound is exclusive (lt)          */
    CF_FLT_LO = 1u << 8,     /* a float lower bound is set                       */
    CF_FLT_HI = 1u << 9,     /* a float upper bound is set                       */
};

/* One field of a struct, or the element of an array/fixed/map. */
struct cfield {
    uint8_t kind;       /* klaw_kind                                          */
    uint32_t flags;     /* KLAW_F_*                                           */
    uint32_t cflags;    /* CF_*                                               */
    uint32_t offset;    /* in the struct (fields) or entry (map values)       */
    uint32_t size;
    uint32_t present;   /* 1 + offset of the presence bool; 0: none           */
    const char *wire;   /* wire name (fields)                                 */
    uint32_t wire_len;
    const uint8_t *key_mp; /* the wire name encoded as a MessagePack str      */
    uint32_t key_mp_len;
    /* key_mp again, zero-padded to 16 bytes, and a mask of its bytes: a
     * key of up to 16 encoded bytes is compared and written with two 8-byte
     * loads or stores (key_mp_len <= 16 only) */
    uint64_t key_pad[2];
    uint64_t key_mask[2];
    /* numbers: for signed kinds [lo, hi]; for unsigned [ulo, uhi]; the C
     * type's range is folded in, so one test covers both */
    int64_t lo, hi;
    uint64_t ulo, uhi;
    int64_t mult;
    double dlo, dhi, dmult;
    uint32_t minlen, maxlen;
    regex_t *re;
    const char *pattern;
    const cstruct *nested;
    const cenum *enm;
    const cfield *elem;
    const cunion *uni;
    uint32_t count;     /* FIXED: N; MAP: entry size                          */
    uint32_t elem_align; /* ARRAY/MAP: arena alignment of items/entries       */
    /* ARRAY in a lane struct: the most bytes the encoder's lane writes for
     * one element (its room is len * lane_elem, checked at run time); 0
     * otherwise */
    uint32_t lane_elem;
    klaw_value def;
    const char *label;  /* "Order.qty", for compile messages                  */
};

struct cstruct {
    const klaw_struct_desc *desc;
    const char *name;
    uint32_t size;
    uint32_t flags;     /* KLAW_S_*                                           */
    uint32_t nfields;
    uint32_t nwords;    /* 64-bit words of the seen bitmap                    */
    cfield *fields;
    uint64_t required[KLAW_SCHEMA_MAX_FIELDS / 64];
    uint32_t min_items; /* array_like: fields up to the last required one     */
    uint16_t *hash;     /* open addressing: field index + 1, 0 empty          */
    uint32_t hmask;
    bool apply_defaults; /* some field has CF_DEF_WRITE                        */
    bool all_default;   /* every field has a default                          */
    bool has_omit;      /* some field may be omitted on encode                */
    uint8_t tag;        /* klaw_tag_kind                                      */
    const char *tag_str;
    uint32_t tag_str_len;
    int64_t tag_int;
    const char *tag_field;
    uint32_t tag_field_len;
    /* encode's lane: when every field is a common scalar (or a short fixed
     * array of them, or a variable-length array of them) and nothing is
     * omitted, the struct is written with one room check: head (container
     * header and tag, pre-encoded) then the fields. lane_room bounds the
     * bytes written, counting an array field's key and header but not its
     * elements, whose room is checked when the array is reached (see
     * cfield.lane_elem); 0: no lane */
    uint32_t lane_room;
    uint32_t head_len;
    const uint8_t *head;
};

struct cunion {
    const klaw_union_desc *desc;
    const char *name;
    uint32_t size, offset, count;
    const cstruct **variants;
    uint8_t tag;        /* klaw_tag_kind, common to all variants              */
    bool array_like;
    const char *tag_field;
    uint32_t tag_field_len;
};

struct cenum {
    const klaw_enum_desc *desc;
    const char *name;
    uint32_t count;
    uint8_t wire;       /* klaw_enum_wire                                     */
    const klaw_enum_entry *entries;
    uint32_t *lens;     /* KLAW_ENUM_STR: strlen of each wire str             */
};

/* A block the schema owns (freed with it). */
typedef struct sblock {
    struct sblock *next;
    regex_t *re;        /* a compiled regex to regfree, or NULL               */
} sblock;

struct klaw_schema {
    cfield root;        /* STRUCT or UNION, offset 0                          */
    sblock *blocks;
};

/* ---- decoding context and paths (schema_decode.c, schema_error.c) -------- */

/* A path node lives on the C stack of the decoder for the value it names;
 * the chain is walked only when an error is reported. */
typedef struct pnode {
    const struct pnode *up;
    const char *key;
    uint32_t n;     /* key length, or index                                   */
    uint32_t kind;  /* klaw_path_kind                                         */
} pnode;

typedef struct dctx {
    klaw_mp_reader *r;
    klaw_arena *arena;
    klaw_schema_error *err;
    uint32_t flags;
    uint32_t depth, max_depth;
    uint32_t nissues;
} dctx;

/* Records one issue (cold): fills the next slot of c->err if there is room
 * and counts it. fmt/... is the sentence; " - at `<path>`" is appended. */
KLAW_COLD void ks_issue(dctx *c, klaw_status st, const pnode *path, size_t offset, const char *expected,
                        const char *got, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 7, 8)))
#endif
    ;

/* Records the reader's DECODE error at path. */
KLAW_COLD void ks_decode_issue(dctx *c, const pnode *path);

/* Formats a compile error into err (status KLAW_INVAL). */
KLAW_COLD void ks_compile_issue(klaw_schema_error *err, klaw_status st, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* "int", "str", ... for a wire type (msgspec's names: nil is "null", bin
 * "bytes", map "object"). */
const char *ks_wire_type_name(klaw_mp_type t);

/* The type a field expects, as messages name it ("int", "object", ...). */
const char *ks_expected_name(const cfield *f);

/* Shortest round-trip text of a double, as Python's repr ("0.1", "1.0"). */
void ks_format_double(double d, char *buf, size_t size);

/* FNV-1a over a key: the field lookup table's hash. */
static inline uint32_t ks_key_hash(const char *k, uint32_t n)
{
    uint32_t h = 2166136261u;
    for (uint32_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)k[i]) * 16777619u;
    return h;
}

#endif /* KLAW_SCHEMA_IMPL_H */
