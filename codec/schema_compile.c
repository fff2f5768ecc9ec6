/*
 * schema_compile.c - checks descriptor tables and builds the immutable
 * compiled schema (see klaw/schema.h and schema_impl.h).
 *
 * Compiling walks the graph of descs depth first. Each struct, enum and
 * union desc is compiled once: it is entered in a memo table (desc pointer
 * -> node) before its fields are compiled, so a desc that reaches itself
 * (a tree node with an array of nodes) finds its own node and stops there.
 * What needs the whole graph (a struct default needs every field of the
 * nested struct to have one; which structs must write defaults for missing
 * fields) is settled by a pass over all structs at the end.
 *
 * The first mistake stops the compile: it is reported with the struct and
 * field it is about ("Order.qty: size 2 does not match kind int32 (4)") and
 * everything allocated so far is freed. Compiling may malloc; decoding and
 * encoding never do.
 */
#include <float.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema_impl.h"

/* ---- the compiler's state ----------------------------------------------------- */

typedef struct memo {
    const void *desc;
    void *node;
    int what; /* 0 struct, 1 enum, 2 union */
} memo;

typedef struct cc {
    klaw_schema *s;
    klaw_schema_error *err;
    klaw_status st;
    memo *m;
    size_t nm, cm;
} cc;

typedef union block_hdr {
    sblock b;
    max_align_t align_;
} block_hdr;

KLAW_COLD static void fail(cc *c, klaw_status st, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static void fail(cc *c, klaw_status st, const char *fmt, ...)
{
    char msg[KLAW_SCHEMA_MSG_MAX];
    va_list ap;
    if (c->st != KLAW_OK)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->st = st;
    ks_compile_issue(c->err, st, "%s", msg);
}

/* Zeroed memory owned by the schema. */
static void *cc_alloc(cc *c, size_t n)
{
    block_hdr *h = calloc(1, sizeof *h + n);
    if (!h) {
        fail(c, KLAW_NOMEM, "out of memory");
        return NULL;
    }
    h->b.next = c->s->blocks;
    c->s->blocks = &h->b;
    return h + 1;
}

static char *cc_strdup(cc *c, const char *s)
{
    size_t n = strlen(s);
    char *p = cc_alloc(c, n + 1);
    if (p)
        memcpy(p, s, n);
    return p;
}

static void *memo_find(const cc *c, const void *desc, int what)
{
    for (size_t i = 0; i < c->nm; i++)
        if (c->m[i].desc == desc && c->m[i].what == what)
            return c->m[i].node;
    return NULL;
}

static bool memo_add(cc *c, const void *desc, void *node, int what)
{
    if (c->nm == c->cm) {
        size_t cap = c->cm ? c->cm * 2 : 16;
        memo *m = realloc(c->m, cap * sizeof *m);
        if (!m) {
            fail(c, KLAW_NOMEM, "out of memory");
            return false;
        }
        c->m = m;
        c->cm = cap;
    }
    c->m[c->nm].desc = desc;
    c->m[c->nm].node = node;
    c->m[c->nm].what = what;
    c->nm++;
    return true;
}

/* ---- kinds ----------------------------------------------------------------------- */

static bool is_signed_kind(int k) { return k >= KLAW_K_I8 && k <= KLAW_K_I64; }
static bool is_unsigned_kind(int k) { return k >= KLAW_K_U8 && k <= KLAW_K_U64; }
static bool is_int_kind(int k) { return is_signed_kind(k) || is_unsigned_kind(k); }
static bool is_float_kind(int k) { return k == KLAW_K_FLOAT || k == KLAW_K_DOUBLE; }

/* sizeof the C member of a kind whose size does not depend on the desc. */
static size_t kind_size(int k)
{
    switch (k) {
    case KLAW_K_BOOL: return sizeof(bool);
    case KLAW_K_I8:
    case KLAW_K_U8: return 1;
    case KLAW_K_I16:
    case KLAW_K_U16: return 2;
    case KLAW_K_I32:
    case KLAW_K_U32: return 4;
    case KLAW_K_I64:
    case KLAW_K_U64: return 8;
    case KLAW_K_FLOAT: return sizeof(float);
    case KLAW_K_DOUBLE: return sizeof(double);
    case KLAW_K_STR: return sizeof(klaw_str);
    case KLAW_K_BIN: return sizeof(klaw_bytes);
    case KLAW_K_RAW: return sizeof(klaw_mp_raw);
    case KLAW_K_TIMESTAMP: return sizeof(struct timespec);
    case KLAW_K_ENUM: return sizeof(int);
    case KLAW_K_ARRAY: return sizeof(klaw_array);
    case KLAW_K_MAP: return sizeof(klaw_map);
    default: return 0;
    }
}

static int64_t signed_min(uint32_t size) { return size >= 8 ? INT64_MIN : -((int64_t)1 << (8 * size - 1)); }
static int64_t signed_max(uint32_t size) { return size >= 8 ? INT64_MAX : ((int64_t)1 << (8 * size - 1)) - 1; }
static uint64_t unsigned_max(uint32_t size) { return size >= 8 ? UINT64_MAX : ((uint64_t)1 << (8 * size)) - 1; }

/* The largest power of two dividing n, at most 16: a safe alignment for a C
 * object of size n (its alignment divides its size). */
static uint32_t align_for(uint32_t n)
{
    uint32_t a = n & (~n + 1u);
    return a == 0 || a > 16 ? 16 : a;
}

/* Valid UTF-8 (names, tags and defaults must be). */
static bool utf8_ok(const void *p, size_t n) { return klaw_utf8_check((const uint8_t *)p, n) == n; }

/* ---- names ------------------------------------------------------------------------ */

static char *apply_rename(cc *c, const char *name, klaw_rename how)
{
    size_t n = strlen(name);
    char *out = cc_alloc(c, n + 1);
    size_t i = 0, o = 0;
    if (!out)
        return NULL;
    while (i < n && name[i] == '_')
        out[o++] = name[i++]; /* leading underscores are kept */
    bool word_start = true, first_word = true;
    for (; i < n; i++) {
        char ch = name[i];
        switch (how) {
        case KLAW_RENAME_LOWER:
            out[o++] = (char)(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
            break;
        case KLAW_RENAME_UPPER:
            out[o++] = (char)(ch >= 'a' && ch <= 'z' ? ch - 'a' + 'A' : ch);
            break;
        case KLAW_RENAME_KEBAB:
            out[o++] = ch == '_' ? '-' : ch;
            break;
        case KLAW_RENAME_CAMEL:
        case KLAW_RENAME_PASCAL:
            if (ch == '_') {
                if (!word_start)
                    first_word = false;
                word_start = true;
                break;
            }
            if (word_start && !(how == KLAW_RENAME_CAMEL && first_word) && ch >= 'a' && ch <= 'z')
                ch = (char)(ch - 'a' + 'A');
            out[o++] = ch;
            word_start = false;
            break;
        default:
            out[o++] = ch;
            break;
        }
    }
    out[o] = '\0';
    return out;
}

/* ---- forward declarations ----------------------------------------------------------- */

static cstruct *compile_struct(cc *c, const klaw_struct_desc *d);
static const cenum *compile_enum(cc *c, const klaw_enum_desc *e, const char *label);
static const cunion *compile_union(cc *c, const klaw_union_desc *u, const char *label);

typedef enum role {
    ROLE_FIELD,    /* a struct field: container is the struct          */
    ROLE_SEQ_ELEM, /* an ARRAY/FIXED element: offset 0                  */
    ROLE_MAP_ELEM, /* a MAP value: container is the entry struct        */
} role;

static bool compile_field(cc *c, cfield *cf, const klaw_field *f, const char *label, size_t container, role ro);

/* ---- constraints ---------------------------------------------------------------------- */

static const char *first_constraint_name(uint32_t flags)
{
    static const char *const names[] = {"ge", "gt", "le", "lt", "multiple_of", "min_length", "max_length", "pattern"};
    for (unsigned i = 0; i < 8; i++)
        if (flags & (1u << i))
            return names[i];
    return "?";
}

static bool compile_constraints(cc *c, cfield *cf, const klaw_field *f, const char *label)
{
    const klaw_constraints *k = f->cons;
    int kind = f->kind;
    const char *kn = klaw_kind_name((klaw_kind)kind);
    const uint32_t numeric = KLAW_C_GE | KLAW_C_GT | KLAW_C_LE | KLAW_C_LT | KLAW_C_MULTIPLE_OF;
    const uint32_t lengths = KLAW_C_MIN_LENGTH | KLAW_C_MAX_LENGTH;

    if (is_signed_kind(kind)) {
        cf->lo = signed_min(cf->size);
        cf->hi = signed_max(cf->size);
    } else if (is_unsigned_kind(kind)) {
        cf->ulo = 0;
        cf->uhi = unsigned_max(cf->size);
    }
    if (!k)
        return true;
    if (k->flags & ~0xffu) {
        fail(c, KLAW_INVAL, "%s: unknown constraint flags 0x%x", label, k->flags & ~0xffu);
        return false;
    }
    if ((k->flags & numeric) && !is_int_kind(kind) && !is_float_kind(kind)) {
        fail(c, KLAW_INVAL, "%s: constraint %s applies to numbers, not %s", label,
             first_constraint_name(k->flags & numeric), kn);
        return false;
    }
    if ((k->flags & lengths) && kind != KLAW_K_STR && kind != KLAW_K_BIN && kind != KLAW_K_ARRAY &&
        kind != KLAW_K_MAP) {
        fail(c, KLAW_INVAL, "%s: constraint %s applies to str, bin, array and map, not %s", label,
             first_constraint_name(k->flags & lengths), kn);
        return false;
    }
    if ((k->flags & KLAW_C_PATTERN) && kind != KLAW_K_STR) {
        fail(c, KLAW_INVAL, "%s: constraint pattern applies to str, not %s", label, kn);
        return false;
    }

    if (is_signed_kind(kind)) {
        if (k->flags & KLAW_C_GE && k->ge.i > cf->lo)
            cf->lo = k->ge.i;
        if (k->flags & KLAW_C_GT) {
            if (k->gt.i == INT64_MAX) {
                fail(c, KLAW_INVAL, "%s: constraints can never be met (gt %lld)", label, (long long)k->gt.i);
                return false;
            }
            if (k->gt.i + 1 > cf->lo)
                cf->lo = k->gt.i + 1;
        }
        if (k->flags & KLAW_C_LE && k->le.i < cf->hi)
            cf->hi = k->le.i;
        if (k->flags & KLAW_C_LT) {
            if (k->lt.i == INT64_MIN) {
                fail(c, KLAW_INVAL, "%s: constraints can never be met (lt %lld)", label, (long long)k->lt.i);
                return false;
            }
            if (k->lt.i - 1 < cf->hi)
                cf->hi = k->lt.i - 1;
        }
        if (cf->lo > cf->hi) {
            fail(c, KLAW_INVAL, "%s: constraints can never be met (>= %lld and <= %lld)", label, (long long)cf->lo,
                 (long long)cf->hi);
            return false;
        }
    } else if (is_unsigned_kind(kind)) {
        bool never = false;
        if (k->flags & KLAW_C_GE && k->ge.i > 0 && (uint64_t)k->ge.i > cf->ulo)
            cf->ulo = (uint64_t)k->ge.i;
        if (k->flags & KLAW_C_GT) {
            if (k->gt.i == INT64_MAX)
                never = true;
            else if (k->gt.i >= 0 && (uint64_t)k->gt.i + 1 > cf->ulo)
                cf->ulo = (uint64_t)k->gt.i + 1;
        }
        if (k->flags & KLAW_C_LE) {
            if (k->le.i < 0)
                never = true;
            else if ((uint64_t)k->le.i < cf->uhi)
                cf->uhi = (uint64_t)k->le.i;
        }
        if (k->flags & KLAW_C_LT) {
            if (k->lt.i <= 0)
                never = true;
            else if ((uint64_t)k->lt.i - 1 < cf->uhi)
                cf->uhi = (uint64_t)k->lt.i - 1;
        }
        if (never || cf->ulo > cf->uhi) {
            fail(c, KLAW_INVAL, "%s: constraints can never be met by a %s", label, kn);
            return false;
        }
    } else if (is_float_kind(kind)) {
        klaw_num vals[4] = {k->ge, k->gt, k->le, k->lt};
        for (unsigned i = 0; i < 4; i++) {
            if ((k->flags & (1u << i)) && vals[i].d != vals[i].d) {
                fail(c, KLAW_INVAL, "%s: constraint %s is NaN", label, first_constraint_name(1u << i));
                return false;
            }
        }
        if (k->flags & (KLAW_C_GE | KLAW_C_GT)) {
            bool use_gt = (k->flags & KLAW_C_GT) && (!(k->flags & KLAW_C_GE) || k->gt.d >= k->ge.d);
            double lo = use_gt ? k->gt.d : k->ge.d;
            cf->dlo = lo;
            cf->cflags |= CF_FBOUNDS | CF_FLT_LO | (use_gt ? CF_FLT_LO_X : 0);
        }
        if (k->flags & (KLAW_C_LE | KLAW_C_LT)) {
            bool use_lt = (k->flags & KLAW_C_LT) && (!(k->flags & KLAW_C_LE) || k->lt.d <= k->le.d);
            double hi = use_lt ? k->lt.d : k->le.d;
            cf->dhi = hi;
            cf->cflags |= CF_FBOUNDS | CF_FLT_HI | (use_lt ? CF_FLT_HI_X : 0);
        }
        if ((cf->cflags & CF_FLT_LO) && (cf->cflags & CF_FLT_HI) &&
            (cf->dlo > cf->dhi || (cf->dlo == cf->dhi && (cf->cflags & (CF_FLT_LO_X | CF_FLT_HI_X))))) {
            fail(c, KLAW_INVAL, "%s: constraints can never be met (lower bound above upper bound)", label);
            return false;
        }
    }
    if (k->flags & KLAW_C_MULTIPLE_OF) {
        if (is_float_kind(kind)) {
            double m = k->multiple_of.d;
            if (!(m > 0) || m > DBL_MAX) {
                fail(c, KLAW_INVAL, "%s: multiple_of must be a finite number > 0", label);
                return false;
            }
            cf->dmult = m;
        } else {
            if (k->multiple_of.i <= 0) {
                fail(c, KLAW_INVAL, "%s: multiple_of must be > 0", label);
                return false;
            }
            cf->mult = k->multiple_of.i;
        }
        cf->cflags |= CF_MULT;
    }
    if (k->flags & lengths) {
        cf->minlen = (k->flags & KLAW_C_MIN_LENGTH) ? k->min_length : 0;
        cf->maxlen = (k->flags & KLAW_C_MAX_LENGTH) ? k->max_length : UINT32_MAX;
        if (cf->minlen > cf->maxlen) {
            fail(c, KLAW_INVAL, "%s: min_length %u is above max_length %u", label, cf->minlen, cf->maxlen);
            return false;
        }
        cf->cflags |= CF_LEN;
    }
    if (k->flags & KLAW_C_PATTERN) {
        if (!k->pattern) {
            fail(c, KLAW_INVAL, "%s: constraint pattern is NULL", label);
            return false;
        }
        regex_t *re = cc_alloc(c, sizeof *re);
        if (!re)
            return false;
        int rc = regcomp(re, k->pattern, REG_EXTENDED | REG_NOSUB);
        if (rc != 0) {
            char why[128];
            regerror(rc, re, why, sizeof why);
            fail(c, KLAW_INVAL, "%s: bad pattern '%s': %s", label, k->pattern, why);
            return false;
        }
        /* the block that holds re frees it with the schema */
        ((block_hdr *)re - 1)->b.re = re;
        cf->re = re;
        cf->pattern = k->pattern;
        cf->cflags |= CF_RE;
    }
    return true;
}

/* ---- defaults -------------------------------------------------------------------------- */

static bool compile_default(cc *c, cfield *cf, const klaw_field *f, const char *label)
{
    const klaw_value *d = &f->def;
    int kind = f->kind;
    const char *kn = klaw_kind_name((klaw_kind)kind);
    bool has_num = d->b || d->i || d->u || d->d != 0 || d->nsec;
    bool has_bytes = d->ptr || d->len;

    if (!(cf->flags & KLAW_F_DEFAULT) || (cf->flags & KLAW_F_DEFAULT_NIL)) {
        if ((cf->flags & KLAW_F_DEFAULT_NIL) && (has_num || has_bytes)) {
            fail(c, KLAW_INVAL, "%s: the default is nil (KLAW_F_DEFAULT_NIL) but def holds a value", label);
            return false;
        }
        /* a missing union is "none": which = -1, not the zero of variant 0 */
        if ((cf->flags & KLAW_F_DEFAULT_NIL) && kind == KLAW_K_UNION)
            cf->cflags |= CF_DEF_WRITE;
        return true;
    }
    switch (kind) {
    case KLAW_K_BOOL:
        if (has_bytes || d->i || d->u || d->d != 0 || d->nsec) {
            fail(c, KLAW_INVAL, "%s: the default of kind bool goes in def.b", label);
            return false;
        }
        if (d->b)
            cf->cflags |= CF_DEF_WRITE;
        break;
    case KLAW_K_I8:
    case KLAW_K_I16:
    case KLAW_K_I32:
    case KLAW_K_I64:
    case KLAW_K_ENUM:
        if (has_bytes || d->b || d->u || d->d != 0 || d->nsec) {
            fail(c, KLAW_INVAL, "%s: the default of kind %s goes in def.i", label, kn);
            return false;
        }
        if (kind == KLAW_K_ENUM) {
            bool found = false;
            for (uint32_t i = 0; i < cf->enm->count; i++)
                found |= cf->enm->entries[i].value == d->i;
            if (!found) {
                fail(c, KLAW_INVAL, "%s: the default %lld is not a value of enum %s", label, (long long)d->i,
                     cf->enm->name);
                return false;
            }
        } else if (d->i < signed_min(cf->size) || d->i > signed_max(cf->size)) {
            fail(c, KLAW_INVAL, "%s: the default %lld is out of range for %s", label, (long long)d->i, kn);
            return false;
        }
        if (d->i)
            cf->cflags |= CF_DEF_WRITE;
        break;
    case KLAW_K_U8:
    case KLAW_K_U16:
    case KLAW_K_U32:
    case KLAW_K_U64:
        if (has_bytes || d->b || d->i || d->d != 0 || d->nsec) {
            fail(c, KLAW_INVAL, "%s: the default of kind %s goes in def.u", label, kn);
            return false;
        }
        if (d->u > unsigned_max(cf->size)) {
            fail(c, KLAW_INVAL, "%s: the default %llu is out of range for %s", label, (unsigned long long)d->u, kn);
            return false;
        }
        if (d->u)
            cf->cflags |= CF_DEF_WRITE;
        break;
    case KLAW_K_FLOAT:
    case KLAW_K_DOUBLE:
        if (has_bytes || d->b || d->i || d->u || d->nsec) {
            fail(c, KLAW_INVAL, "%s: the default of kind %s goes in def.d", label, kn);
            return false;
        }
        if (kind == KLAW_K_FLOAT && (d->d > FLT_MAX || d->d < -FLT_MAX) && d->d - d->d == 0) {
            fail(c, KLAW_INVAL, "%s: the default is out of range for float", label);
            return false;
        }
        {
            uint64_t bits;
            memcpy(&bits, &d->d, sizeof bits);
            if (bits)
                cf->cflags |= CF_DEF_WRITE;
        }
        break;
    case KLAW_K_STR:
    case KLAW_K_BIN:
    case KLAW_K_RAW:
        if (has_num) {
            fail(c, KLAW_INVAL, "%s: the default of kind %s goes in def.ptr and def.len", label, kn);
            return false;
        }
        if (!d->ptr && d->len) {
            fail(c, KLAW_INVAL, "%s: the default has def.len %u but no def.ptr", label, d->len);
            return false;
        }
        if (kind == KLAW_K_STR && d->ptr && !utf8_ok(d->ptr, d->len)) {
            fail(c, KLAW_INVAL, "%s: the default is not valid UTF-8", label);
            return false;
        }
        if (kind == KLAW_K_RAW && d->ptr && klaw_mp_validate(d->ptr, d->len, 0, 0, NULL) != KLAW_OK) {
            fail(c, KLAW_INVAL, "%s: the default is not one valid MessagePack value", label);
            return false;
        }
        if (d->ptr)
            cf->cflags |= CF_DEF_WRITE;
        break;
    case KLAW_K_TIMESTAMP:
        if (has_bytes || d->b || d->u || d->d != 0) {
            fail(c, KLAW_INVAL, "%s: the default of kind timestamp goes in def.i and def.nsec", label);
            return false;
        }
        if (d->nsec > 999999999u) {
            fail(c, KLAW_INVAL, "%s: the default's nanoseconds exceed 999999999", label);
            return false;
        }
        if ((int64_t)(time_t)d->i != d->i) {
            fail(c, KLAW_INVAL, "%s: the default's seconds do not fit time_t", label);
            return false;
        }
        if (d->i || d->nsec)
            cf->cflags |= CF_DEF_WRITE;
        break;
    case KLAW_K_ARRAY:
    case KLAW_K_MAP:
    case KLAW_K_FIXED:
    case KLAW_K_STRUCT:
        if (has_num || has_bytes) {
            fail(c, KLAW_INVAL, "%s: a default of kind %s takes no value (leave def zero)", label, kn);
            return false;
        }
        break;
    case KLAW_K_UNION:
        fail(c, KLAW_INVAL, "%s: the only default of a union is nil (KLAW_F_OPTIONAL)", label);
        return false;
    default:
        break;
    }
    /* a nullable field with a value default is present when missing */
    if (cf->flags & KLAW_F_NULLABLE)
        cf->cflags |= CF_DEF_WRITE;
    return true;
}

/* ---- fields ------------------------------------------------------------------------------ */

static bool compile_field(cc *c, cfield *cf, const klaw_field *f, const char *label, size_t container, role ro)
{
    int kind = f->kind;
    const uint32_t known = KLAW_F_DEFAULT | KLAW_F_NULLABLE | KLAW_F_DEFAULT_NIL | KLAW_F_COPY | KLAW_F_OMIT_DEFAULT;
    char sub[KLAW_SCHEMA_MSG_MAX];

    cf->label = cc_strdup(c, label);
    if (!cf->label)
        return false;
    if (kind <= KLAW_K_NONE || kind >= KLAW_K_COUNT_) {
        fail(c, KLAW_INVAL, "%s: unknown kind %d", label, kind);
        return false;
    }
    const char *kn = klaw_kind_name((klaw_kind)kind);
    cf->kind = (uint8_t)kind;
    cf->flags = f->flags;
    cf->offset = f->offset;
    cf->size = f->size;
    cf->present = f->present;
    cf->def = f->def;
    cf->count = f->count;

    if (f->flags & ~known) {
        fail(c, KLAW_INVAL, "%s: unknown flags 0x%x", label, f->flags & ~known);
        return false;
    }
    if ((f->flags & KLAW_F_DEFAULT_NIL) && !(f->flags & KLAW_F_NULLABLE)) {
        fail(c, KLAW_INVAL, "%s: KLAW_F_DEFAULT_NIL without KLAW_F_NULLABLE", label);
        return false;
    }
    if (f->flags & KLAW_F_DEFAULT_NIL)
        cf->flags |= KLAW_F_DEFAULT;
    if ((f->flags & KLAW_F_OMIT_DEFAULT) && !(cf->flags & KLAW_F_DEFAULT)) {
        fail(c, KLAW_INVAL, "%s: KLAW_F_OMIT_DEFAULT without a default", label);
        return false;
    }
    if (ro != ROLE_FIELD && ((f->flags & ~(uint32_t)KLAW_F_COPY) || f->present)) {
        fail(c, KLAW_INVAL, "%s: an element takes no default, nullability or presence flag", label);
        return false;
    }
    if ((f->flags & KLAW_F_COPY) && kind != KLAW_K_STR && kind != KLAW_K_BIN && kind != KLAW_K_MAP) {
        fail(c, KLAW_INVAL, "%s: KLAW_F_COPY applies to str, bin and map keys, not %s", label, kn);
        return false;
    }

    /* what the kind refers to, and the member size that follows */
    size_t want = kind_size(kind);
    switch (kind) {
    case KLAW_K_STRUCT:
        if (!f->nested) {
            fail(c, KLAW_INVAL, "%s: kind struct needs a nested desc", label);
            return false;
        }
        if (!(cf->nested = compile_struct(c, f->nested)))
            return false;
        want = cf->nested->size;
        break;
    case KLAW_K_ENUM:
        if (!f->enm) {
            fail(c, KLAW_INVAL, "%s: kind enum needs an enum desc", label);
            return false;
        }
        if (!(cf->enm = compile_enum(c, f->enm, label)))
            return false;
        break;
    case KLAW_K_UNION:
        if (!f->uni) {
            fail(c, KLAW_INVAL, "%s: kind union needs a union desc", label);
            return false;
        }
        if (!(cf->uni = compile_union(c, f->uni, label)))
            return false;
        want = cf->uni->size;
        break;
    case KLAW_K_ARRAY:
    case KLAW_K_FIXED:
    case KLAW_K_MAP: {
        if (!f->elem) {
            fail(c, KLAW_INVAL, "%s: kind %s needs an element desc (elem)", label, kn);
            return false;
        }
        if (kind == KLAW_K_FIXED && f->count == 0) {
            fail(c, KLAW_INVAL, "%s: kind fixed needs count > 0", label);
            return false;
        }
        if (kind == KLAW_K_MAP && f->count < sizeof(klaw_str)) {
            fail(c, KLAW_INVAL, "%s: kind map needs count = sizeof the entry struct (got %u)", label, f->count);
            return false;
        }
        cfield *el = cc_alloc(c, sizeof *el);
        if (!el)
            return false;
        snprintf(sub, sizeof sub, "%s[]", label);
        if (!compile_field(c, el, f->elem, sub, kind == KLAW_K_MAP ? f->count : f->elem->size,
                           kind == KLAW_K_MAP ? ROLE_MAP_ELEM : ROLE_SEQ_ELEM))
            return false;
        if (el->size == 0) {
            fail(c, KLAW_INVAL, "%s: element size 0", sub);
            return false;
        }
        cf->elem = el;
        if (kind == KLAW_K_FIXED) {
            want = (size_t)f->count * el->size;
            if (want / f->count != el->size || want > UINT32_MAX) {
                fail(c, KLAW_INVAL, "%s: fixed array too large", label);
                return false;
            }
        }
        cf->elem_align = align_for(kind == KLAW_K_MAP ? f->count : el->size);
        break;
    }
    default:
        break;
    }
    if (f->size != want) {
        fail(c, KLAW_INVAL, "%s: size %u does not match kind %s (%zu)", label, f->size, kn, want);
        return false;
    }

    /* where it lies */
    if (ro == ROLE_SEQ_ELEM && f->offset != 0) {
        fail(c, KLAW_INVAL, "%s: an element's offset must be 0 (got %u)", label, f->offset);
        return false;
    }
    if (ro == ROLE_MAP_ELEM && f->offset < sizeof(klaw_str)) {
        fail(c, KLAW_INVAL, "%s: a map value must follow the klaw_str key (offset %u)", label, f->offset);
        return false;
    }
    if ((size_t)f->offset + f->size > container) {
        fail(c, KLAW_INVAL, "%s: offset %u + size %u is beyond the %s size %zu", label, f->offset, f->size,
             ro == ROLE_FIELD ? "struct's" : "entry's", container);
        return false;
    }
    if (f->flags & KLAW_F_NULLABLE) {
        if (!f->present) {
            fail(c, KLAW_INVAL, "%s: KLAW_F_NULLABLE needs a presence flag (present = KLAW_PRESENT(T, m))", label);
            return false;
        }
        size_t p = f->present - 1u;
        if (p + sizeof(bool) > container) {
            fail(c, KLAW_INVAL, "%s: presence flag at %zu is beyond the struct's size %zu", label, p, container);
            return false;
        }
        if (p + sizeof(bool) > f->offset && p < (size_t)f->offset + f->size) {
            fail(c, KLAW_INVAL, "%s: presence flag at %zu overlaps the field", label, p);
            return false;
        }
    } else if (f->present) {
        fail(c, KLAW_INVAL, "%s: a presence flag without KLAW_F_NULLABLE", label);
        return false;
    }
    if (!compile_constraints(c, cf, f, label))
        return false;
    return compile_default(c, cf, f, label);
}

/* ---- structs ------------------------------------------------------------------------------ */

static bool encode_key(cc *c, cfield *cf)
{
    uint8_t *buf = cc_alloc(c, (size_t)cf->wire_len + 5);
    klaw_mp_writer w;
    if (!buf)
        return false;
    klaw_mp_writer_init(&w, buf, (size_t)cf->wire_len + 5);
    klaw_mp_write_str(&w, cf->wire, cf->wire_len);
    cf->key_mp = buf;
    cf->key_mp_len = (uint32_t)w.pos;
    if (w.pos <= 16) {
        uint8_t pad[16] = {0}, mask[16] = {0};
        memcpy(pad, buf, w.pos);
        memset(mask, 0xff, w.pos);
        memcpy(cf->key_pad, pad, 16);
        memcpy(cf->key_mask, mask, 16);
    }
    return true;
}

/* The most bytes the encoder's lane writes for a value of f (after its
 * key), or 0 when the lane does not take it (schema_encode.c, lane()). */
static uint32_t lane_value_max(const cfield *f)
{
    switch ((klaw_kind)f->kind) {
    case KLAW_K_BOOL: return 1;
    case KLAW_K_I8:
    case KLAW_K_I16:
    case KLAW_K_I32:
    case KLAW_K_I64:
    case KLAW_K_U8:
    case KLAW_K_U16:
    case KLAW_K_U32:
    case KLAW_K_U64:
    case KLAW_K_DOUBLE: return 9;
    case KLAW_K_FLOAT: return 5;
    case KLAW_K_STR: return 32; /* a str of up to 31 bytes and its header */
    default: return 0;
    }
}

/* Plans the encoder's lane for s (see cstruct.lane_room). */
static bool plan_lane(cc *c, cstruct *s)
{
    uint64_t room = 0;
    s->lane_room = 0;
    if (s->has_omit)
        return true;
    for (uint32_t i = 0; i < s->nfields; i++) {
        const cfield *f = &s->fields[i];
        uint32_t v;
        if ((f->flags & KLAW_F_NULLABLE) || f->key_mp_len > 16)
            return true;
        if (f->kind == KLAW_K_FIXED) {
            uint32_t el = lane_value_max(f->elem);
            if (!el || f->count > 15)
                return true;
            v = 1 + f->count * el;
        } else if (f->kind == KLAW_K_ARRAY) {
            /* the header (at most 5 bytes) here; the elements' room is
             * checked at run time, from the array's length */
            if (!lane_value_max(f->elem) || (f->elem->flags & KLAW_F_NULLABLE))
                return true;
            v = 5;
        } else if (!(v = lane_value_max(f))) {
            return true;
        }
        room += 16 + v; /* the padded key store, then the value */
    }
    /* the header and tag, written once */
    uint8_t tmp[512];
    klaw_mp_writer w;
    uint32_t tagged = s->tag != KLAW_TAG_NONE;
    klaw_mp_writer_init(&w, tmp, sizeof tmp);
    if (s->flags & KLAW_S_ARRAY_LIKE) {
        klaw_mp_write_array(&w, s->nfields + tagged);
    } else {
        klaw_mp_write_map(&w, s->nfields + tagged);
        if (tagged)
            klaw_mp_write_str(&w, s->tag_field, s->tag_field_len);
    }
    if (s->tag == KLAW_TAG_STR)
        klaw_mp_write_str(&w, s->tag_str, s->tag_str_len);
    else if (s->tag == KLAW_TAG_INT)
        klaw_mp_write_int(&w, s->tag_int);
    if (w.status != KLAW_OK)
        return true; /* a tag too long for the lane: the ordinary path */
    uint8_t *head = cc_alloc(c, w.pos);
    if (!head)
        return false;
    memcpy(head, tmp, w.pos);
    s->head = head;
    s->head_len = (uint32_t)w.pos;
    room += w.pos;
    if (room <= 65536) {
        s->lane_room = (uint32_t)room;
        for (uint32_t i = 0; i < s->nfields; i++)
            if (s->fields[i].kind == KLAW_K_ARRAY)
                s->fields[i].lane_elem = lane_value_max(s->fields[i].elem);
    }
    return true;
}

static cstruct *compile_struct(cc *c, const klaw_struct_desc *d)
{
    cstruct *s = memo_find(c, d, 0);
    char label[KLAW_SCHEMA_MSG_MAX];
    if (s)
        return s;
    if (!d->name || !d->name[0]) {
        fail(c, KLAW_INVAL, "a struct desc has no name");
        return NULL;
    }
    const char *nm = d->name;
    if (d->size == 0 || d->size > UINT32_MAX) {
        fail(c, KLAW_INVAL, "%s: size %zu is out of range", nm, d->size);
        return NULL;
    }
    if (d->nfields > KLAW_SCHEMA_MAX_FIELDS) {
        fail(c, KLAW_INVAL, "%s: %u fields, more than the limit of %u", nm, d->nfields, KLAW_SCHEMA_MAX_FIELDS);
        return NULL;
    }
    if (d->nfields && !d->fields) {
        fail(c, KLAW_INVAL, "%s: fields is NULL", nm);
        return NULL;
    }
    if (d->flags & ~(uint32_t)(KLAW_S_ARRAY_LIKE | KLAW_S_FORBID_UNKNOWN | KLAW_S_OMIT_DEFAULTS)) {
        fail(c, KLAW_INVAL, "%s: unknown struct flags 0x%x", nm, d->flags);
        return NULL;
    }
    if ((unsigned)d->rename > KLAW_RENAME_KEBAB) {
        fail(c, KLAW_INVAL, "%s: unknown rename preset %d", nm, (int)d->rename);
        return NULL;
    }
    if ((unsigned)d->tag > KLAW_TAG_INT) {
        fail(c, KLAW_INVAL, "%s: unknown tag kind %d", nm, (int)d->tag);
        return NULL;
    }
    if (d->tag == KLAW_TAG_STR && (!d->tag_str || !utf8_ok(d->tag_str, strlen(d->tag_str)))) {
        fail(c, KLAW_INVAL, "%s: KLAW_TAG_STR needs tag_str (UTF-8)", nm);
        return NULL;
    }
    if (d->tag_field && !d->tag_field[0]) {
        fail(c, KLAW_INVAL, "%s: tag_field is empty", nm);
        return NULL;
    }

    if (!(s = cc_alloc(c, sizeof *s)))
        return NULL;
    s->desc = d;
    s->name = nm;
    s->size = (uint32_t)d->size;
    s->flags = d->flags;
    s->nfields = d->nfields;
    s->nwords = (d->nfields + 63) / 64;
    s->tag = (uint8_t)d->tag;
    s->tag_str = d->tag_str;
    s->tag_str_len = d->tag_str ? (uint32_t)strlen(d->tag_str) : 0;
    s->tag_int = d->tag_int;
    s->tag_field = d->tag_field ? d->tag_field : "type";
    s->tag_field_len = (uint32_t)strlen(s->tag_field);
    if (!memo_add(c, d, s, 0))
        return NULL;
    if (d->nfields && !(s->fields = cc_alloc(c, d->nfields * sizeof *s->fields)))
        return NULL;

    s->all_default = true;
    bool seen_default = false;
    for (uint32_t i = 0; i < d->nfields; i++) {
        const klaw_field *f = &d->fields[i];
        cfield *cf = &s->fields[i];
        if (!f->name || !f->name[0]) {
            fail(c, KLAW_INVAL, "%s: field %u has no name", nm, i);
            return NULL;
        }
        snprintf(label, sizeof label, "%s.%s", nm, f->name);
        if (!compile_field(c, cf, f, label, d->size, ROLE_FIELD))
            return NULL;
        if (f->wire_name)
            cf->wire = f->wire_name;
        else if (d->rename != KLAW_RENAME_NONE)
            cf->wire = apply_rename(c, f->name, d->rename);
        else
            cf->wire = f->name;
        if (!cf->wire)
            return NULL;
        size_t wl = strlen(cf->wire);
        if (wl > UINT32_MAX - 8 || !utf8_ok(cf->wire, wl)) {
            fail(c, KLAW_INVAL, "%s: the wire name is not valid UTF-8", label);
            return NULL;
        }
        cf->wire_len = (uint32_t)wl;
        for (uint32_t j = 0; j < i; j++) {
            if (s->fields[j].wire_len == cf->wire_len && memcmp(s->fields[j].wire, cf->wire, wl) == 0) {
                fail(c, KLAW_INVAL, "%s: wire name '%s' is already used by %s", label, cf->wire, s->fields[j].label);
                return NULL;
            }
        }
        if (s->tag != KLAW_TAG_NONE && !(s->flags & KLAW_S_ARRAY_LIKE) && wl == s->tag_field_len &&
            memcmp(cf->wire, s->tag_field, wl) == 0) {
            fail(c, KLAW_INVAL, "%s: wire name '%s' collides with the tag field", label, cf->wire);
            return NULL;
        }
        if (!encode_key(c, cf))
            return NULL;
        if (cf->flags & KLAW_F_DEFAULT) {
            seen_default = true;
            if ((cf->flags & KLAW_F_OMIT_DEFAULT) || (d->flags & KLAW_S_OMIT_DEFAULTS)) {
                cf->cflags |= CF_OMIT;
                s->has_omit = true;
            }
        } else {
            s->all_default = false;
            s->required[i / 64] |= 1ull << (i % 64);
            if (seen_default && (d->flags & KLAW_S_ARRAY_LIKE)) {
                fail(c, KLAW_INVAL, "%s: a required field after a field with a default (array_like)", label);
                return NULL;
            }
            s->min_items = i + 1;
        }
        if (cf->cflags & CF_DEF_WRITE)
            s->apply_defaults = true;
    }

    if (!plan_lane(c, s))
        return NULL;

    /* the lookup table: open addressing, at least twice the fields */
    uint32_t slots = 4;
    while (slots < 2 * d->nfields)
        slots *= 2;
    if (!(s->hash = cc_alloc(c, slots * sizeof *s->hash)))
        return NULL;
    s->hmask = slots - 1;
    for (uint32_t i = 0; i < d->nfields; i++) {
        uint32_t h = ks_key_hash(s->fields[i].wire, s->fields[i].wire_len) & s->hmask;
        while (s->hash[h])
            h = (h + 1) & s->hmask;
        s->hash[h] = (uint16_t)(i + 1);
    }
    return s;
}

/* ---- enums and unions ------------------------------------------------------------------------ */

static const cenum *compile_enum(cc *c, const klaw_enum_desc *e, const char *label)
{
    cenum *ce = memo_find(c, e, 1);
    if (ce)
        return ce;
    if (!e->name || !e->name[0]) {
        fail(c, KLAW_INVAL, "%s: the enum desc has no name", label);
        return NULL;
    }
    if (!e->entries || e->count == 0) {
        fail(c, KLAW_INVAL, "%s: enum %s has no entries", label, e->name);
        return NULL;
    }
    if ((unsigned)e->wire > KLAW_ENUM_INT) {
        fail(c, KLAW_INVAL, "%s: enum %s: unknown wire kind %d", label, e->name, (int)e->wire);
        return NULL;
    }
    if (!(ce = cc_alloc(c, sizeof *ce)) || !(ce->lens = cc_alloc(c, e->count * sizeof *ce->lens)))
        return NULL;
    ce->desc = e;
    ce->name = e->name;
    ce->count = e->count;
    ce->wire = (uint8_t)e->wire;
    ce->entries = e->entries;
    for (uint32_t i = 0; i < e->count; i++) {
        const klaw_enum_entry *x = &e->entries[i];
        if (e->wire == KLAW_ENUM_STR) {
            if (!x->str || !utf8_ok(x->str, strlen(x->str)) || strlen(x->str) > UINT32_MAX) {
                fail(c, KLAW_INVAL, "%s: enum %s: entry %u has no str (or not UTF-8)", label, e->name, i);
                return NULL;
            }
            ce->lens[i] = (uint32_t)strlen(x->str);
        }
        for (uint32_t j = 0; j < i; j++) {
            const klaw_enum_entry *y = &e->entries[j];
            if (x->value == y->value) {
                fail(c, KLAW_INVAL, "%s: enum %s: C value %d appears twice", label, e->name, x->value);
                return NULL;
            }
            if (e->wire == KLAW_ENUM_STR ? strcmp(x->str, y->str) == 0 : x->num == y->num) {
                if (e->wire == KLAW_ENUM_STR)
                    fail(c, KLAW_INVAL, "%s: enum %s: wire value '%s' appears twice", label, e->name, x->str);
                else
                    fail(c, KLAW_INVAL, "%s: enum %s: wire value %lld appears twice", label, e->name,
                         (long long)x->num);
                return NULL;
            }
        }
    }
    if (!memo_add(c, e, ce, 1))
        return NULL;
    return ce;
}

static const cunion *compile_union(cc *c, const klaw_union_desc *u, const char *label)
{
    cunion *cu = memo_find(c, u, 2);
    if (cu)
        return cu;
    if (!u->name || !u->name[0]) {
        fail(c, KLAW_INVAL, "%s: the union desc has no name", label);
        return NULL;
    }
    const char *nm = u->name;
    if (!u->variants || u->count == 0 || u->count > INT32_MAX) {
        fail(c, KLAW_INVAL, "%s: union %s has no variants", label, nm);
        return NULL;
    }
    if (u->offset < sizeof(int32_t) || u->offset > u->size) {
        fail(c, KLAW_INVAL, "%s: union %s: the variant offset %u overlaps `which` or lies past the holder", label,
             nm, u->offset);
        return NULL;
    }
    if (!(cu = cc_alloc(c, sizeof *cu)) || !(cu->variants = cc_alloc(c, u->count * sizeof *cu->variants)))
        return NULL;
    cu->desc = u;
    cu->name = nm;
    cu->size = u->size;
    cu->offset = u->offset;
    cu->count = u->count;
    if (!memo_add(c, u, cu, 2))
        return NULL;
    for (uint32_t i = 0; i < u->count; i++) {
        if (!u->variants[i]) {
            fail(c, KLAW_INVAL, "%s: union %s: variant %u is NULL", label, nm, i);
            return NULL;
        }
        const cstruct *v = compile_struct(c, u->variants[i]);
        if (!v)
            return NULL;
        cu->variants[i] = v;
        if (v->tag == KLAW_TAG_NONE) {
            fail(c, KLAW_INVAL, "%s: union %s: variant %s has no tag", label, nm, v->name);
            return NULL;
        }
        if ((uint64_t)u->offset + v->size > u->size) {
            fail(c, KLAW_INVAL, "%s: union %s: variant %s (size %u) does not fit the holder (size %u, offset %u)",
                 label, nm, v->name, v->size, u->size, u->offset);
            return NULL;
        }
        if (i == 0) {
            cu->tag = v->tag;
            cu->array_like = (v->flags & KLAW_S_ARRAY_LIKE) != 0;
            cu->tag_field = v->tag_field;
            cu->tag_field_len = v->tag_field_len;
            continue;
        }
        const cstruct *w = cu->variants[0];
        if (v->tag != cu->tag) {
            fail(c, KLAW_INVAL, "%s: union %s: variants %s and %s have tags of different kinds", label, nm, w->name,
                 v->name);
            return NULL;
        }
        if (((v->flags & KLAW_S_ARRAY_LIKE) != 0) != cu->array_like) {
            fail(c, KLAW_INVAL, "%s: union %s: variants %s and %s mix map and array_like forms", label, nm, w->name,
                 v->name);
            return NULL;
        }
        if (strcmp(v->tag_field, cu->tag_field) != 0) {
            fail(c, KLAW_INVAL, "%s: union %s: variants %s and %s have different tag fields", label, nm, w->name,
                 v->name);
            return NULL;
        }
        for (uint32_t j = 0; j < i; j++) {
            const cstruct *x = cu->variants[j];
            bool same = v->tag == KLAW_TAG_STR ? strcmp(v->tag_str, x->tag_str) == 0 : v->tag_int == x->tag_int;
            if (same) {
                if (v->tag == KLAW_TAG_STR)
                    fail(c, KLAW_INVAL, "%s: union %s: variants %s and %s have the same tag '%s'", label, nm, x->name,
                         v->name, v->tag_str);
                else
                    fail(c, KLAW_INVAL, "%s: union %s: variants %s and %s have the same tag %lld", label, nm,
                         x->name, v->name, (long long)v->tag_int);
                return NULL;
            }
        }
    }
    return cu;
}

/* ---- the whole graph ----------------------------------------------------------------------------- */

/* Struct defaults need every nested field to have a default; which structs
 * must write defaults follows nested structs (to a fixed point, as the
 * graph may have cycles through arrays, maps and unions). */
static bool finish_graph(cc *c)
{
    for (size_t i = 0; i < c->nm; i++) {
        if (c->m[i].what != 0)
            continue;
        cstruct *s = c->m[i].node;
        for (uint32_t j = 0; j < s->nfields; j++) {
            cfield *cf = &s->fields[j];
            if (cf->kind == KLAW_K_STRUCT && (cf->flags & KLAW_F_DEFAULT) && !(cf->flags & KLAW_F_DEFAULT_NIL) &&
                !cf->nested->all_default) {
                fail(c, KLAW_INVAL, "%s: a struct default needs every field of %s to have a default", cf->label,
                     cf->nested->name);
                return false;
            }
        }
    }
    bool changed = true;
    while (changed) {
        changed = false;
        for (size_t i = 0; i < c->nm; i++) {
            if (c->m[i].what != 0)
                continue;
            cstruct *s = c->m[i].node;
            for (uint32_t j = 0; j < s->nfields; j++) {
                cfield *cf = &s->fields[j];
                if (cf->kind == KLAW_K_STRUCT && (cf->flags & KLAW_F_DEFAULT) &&
                    !(cf->flags & KLAW_F_DEFAULT_NIL) && cf->nested->apply_defaults &&
                    !(cf->cflags & CF_DEF_WRITE)) {
                    cf->cflags |= CF_DEF_WRITE;
                    changed = true;
                }
                if ((cf->cflags & CF_DEF_WRITE) && !s->apply_defaults) {
                    s->apply_defaults = true;
                    changed = true;
                }
            }
        }
    }
    return true;
}

static klaw_status compile_root(const klaw_struct_desc *d, const klaw_union_desc *u, klaw_schema **out,
                                klaw_schema_error *err)
{
    cc c = {0};
    c.err = err;
    if (out)
        *out = NULL;
    if (!out || (!d && !u)) {
        ks_compile_issue(err, KLAW_INVAL, "klaw_schema_compile: NULL argument");
        return KLAW_INVAL;
    }
    c.s = calloc(1, sizeof *c.s);
    if (!c.s) {
        ks_compile_issue(err, KLAW_NOMEM, "out of memory");
        return KLAW_NOMEM;
    }
    cfield *root = &c.s->root;
    root->label = d ? d->name : u->name;
    if (d) {
        const cstruct *s = compile_struct(&c, d);
        if (s) {
            root->kind = KLAW_K_STRUCT;
            root->nested = s;
            root->size = s->size;
        }
    } else {
        const cunion *cu = compile_union(&c, u, u->name ? u->name : "union");
        if (cu) {
            root->kind = KLAW_K_UNION;
            root->uni = cu;
            root->size = cu->size;
        }
    }
    if (c.st == KLAW_OK)
        finish_graph(&c);
    free(c.m);
    if (c.st != KLAW_OK) {
        klaw_schema_free(c.s);
        return c.st;
    }
    if (err) {
        err->status = KLAW_OK;
        err->count = 0;
        err->kept = 0;
    }
    *out = c.s;
    return KLAW_OK;
}

klaw_status klaw_schema_compile(const klaw_struct_desc *d, klaw_schema **out, klaw_schema_error *err)
{
    if (!d) {
        if (out)
            *out = NULL;
        ks_compile_issue(err, KLAW_INVAL, "klaw_schema_compile: NULL desc");
        return KLAW_INVAL;
    }
    return compile_root(d, NULL, out, err);
}

klaw_status klaw_schema_compile_union(const klaw_union_desc *u, klaw_schema **out, klaw_schema_error *err)
{
    if (!u) {
        if (out)
            *out = NULL;
        ks_compile_issue(err, KLAW_INVAL, "klaw_schema_compile_union: NULL desc");
        return KLAW_INVAL;
    }
    return compile_root(NULL, u, out, err);
}

void klaw_schema_free(klaw_schema *s)
{
    if (!s)
        return;
    sblock *b = s->blocks;
    while (b) {
        sblock *next = b->next;
        if (b->re)
            regfree(b->re);
        free(b);
        b = next;
    }
    free(s);
}

size_t klaw_schema_size(const klaw_schema *s) { return s ? s->root.size : 0; }
