/*
 * schema_error.c - the cold side of the schema layer: turning a failure into
 * a klaw_schema_issue with msgspec's wording and a `$.path`.
 *
 * Nothing here runs unless something went wrong. The decoder hands over the
 * chain of path nodes it keeps on its stack; this file copies it into the
 * issue (outermost first) and formats the sentence once.
 */
#include <stdio.h>
#include <string.h>

#include "klaw/json.h"
#include "schema_impl.h"

/* The names msgspec gives the types it meets, for "got `...`" in every
 * validation message of the codec (schema layer and envelope). */
const char *ks_wire_type_name(klaw_mp_type t)
{
    switch (t) {
    case KLAW_MP_NIL: return "null";
    case KLAW_MP_BOOL: return "bool";
    case KLAW_MP_UINT:
    case KLAW_MP_INT: return "int";
    case KLAW_MP_FLOAT32:
    case KLAW_MP_FLOAT64: return "float";
    case KLAW_MP_STR: return "str";
    case KLAW_MP_BIN: return "bytes";
    case KLAW_MP_ARRAY: return "array";
    case KLAW_MP_MAP: return "object";
    case KLAW_MP_EXT: return "ext";
    case KLAW_MP_TIMESTAMP: return "datetime";
    default: return "nothing";
    }
}

const char *ks_expected_name(const cfield *f)
{
    switch ((klaw_kind)f->kind) {
    case KLAW_K_BOOL: return "bool";
    case KLAW_K_I8:
    case KLAW_K_I16:
    case KLAW_K_I32:
    case KLAW_K_I64:
    case KLAW_K_U8:
    case KLAW_K_U16:
    case KLAW_K_U32:
    case KLAW_K_U64: return "int";
    case KLAW_K_FLOAT:
    case KLAW_K_DOUBLE: return "float";
    case KLAW_K_STR: return "str";
    case KLAW_K_BIN: return "bytes";
    case KLAW_K_RAW: return "any";
    case KLAW_K_TIMESTAMP: return "datetime"; /* msgspec's name */
    case KLAW_K_ENUM: return f->enm && f->enm->wire == KLAW_ENUM_INT ? "int" : "str";
    case KLAW_K_STRUCT: return (f->nested->flags & KLAW_S_ARRAY_LIKE) ? "array" : "object";
    case KLAW_K_ARRAY:
    case KLAW_K_FIXED: return "array";
    case KLAW_K_MAP: return "object";
    case KLAW_K_UNION: return f->uni->array_like ? "array" : "object";
    default: return "nothing";
    }
}

const char *klaw_kind_name(klaw_kind k)
{
    static const char *const names[KLAW_K_COUNT_] = {
        "none", "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float",
        "double", "str", "bin", "raw", "timestamp", "enum", "struct", "array", "fixed", "map", "union",
    };
    return (unsigned)k < KLAW_K_COUNT_ ? names[k] : "unknown";
}

/* Python's repr() of a double, borrowed from the JSON writer (which lays
 * floats out exactly so); NaN and infinities by name. */
void ks_format_double(double d, char *buf, size_t size)
{
    uint8_t mp[9];
    klaw_mp_writer w;
    size_t n = 0;
    if (d != d) {
        snprintf(buf, size, "nan");
        return;
    }
    if (d > 1.7976931348623157e308 || d < -1.7976931348623157e308) {
        snprintf(buf, size, d > 0 ? "inf" : "-inf");
        return;
    }
    klaw_mp_writer_init(&w, mp, sizeof mp);
    klaw_mp_write_double(&w, d);
    if (size == 0)
        return;
    if (klaw_json_from_mp_buf(mp, w.pos, buf, size - 1, &n, NULL) != KLAW_OK)
        n = 0;
    buf[n] = '\0';
}

/* ---- paths --------------------------------------------------------------------- */

static void fill_path(klaw_schema_issue *is, const pnode *path)
{
    uint32_t depth = 0;
    for (const pnode *p = path; p; p = p->up)
        depth++;
    is->truncated = depth > KLAW_SCHEMA_PATH_MAX;
    is->depth = is->truncated ? KLAW_SCHEMA_PATH_MAX : depth;
    /* nodes come innermost first: skip the ones past the kept depth, then
     * fill from the back */
    const pnode *p = path;
    for (uint32_t skip = depth - is->depth; skip; skip--)
        p = p->up;
    for (uint32_t i = is->depth; i-- > 0; p = p->up) {
        is->path[i].key = p->key;
        is->path[i].n = p->n;
        is->path[i].kind = p->kind;
    }
}

int klaw_schema_path_format(const klaw_schema_issue *is, char *buf, size_t size)
{
    size_t n = 0;
    char dummy[1];
    if (size == 0) {
        buf = dummy;
        size = 1;
    }
#define PUT(...)                                                                       \
    do {                                                                               \
        int k_ = snprintf(buf + (n < size ? n : size - 1), n < size ? size - n : 1, __VA_ARGS__); \
        if (k_ > 0)                                                                    \
            n += (size_t)k_;                                                           \
    } while (0)
    PUT("$");
    for (uint32_t i = 0; i < is->depth && i < KLAW_SCHEMA_PATH_MAX; i++) {
        const klaw_path_seg *s = &is->path[i];
        if (s->kind == KLAW_PATH_FIELD)
            PUT(".%.*s", (int)s->n, s->key ? s->key : "");
        else if (s->kind == KLAW_PATH_INDEX)
            PUT("[%u]", s->n);
        else
            PUT("[...]");
    }
    if (is->truncated)
        PUT("...");
#undef PUT
    return (int)n;
}

/* ---- issues -------------------------------------------------------------------- */

static void copy_text(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strlen(src) : 0;
    if (n >= cap)
        n = cap - 1;
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Appends src at dst[at] within cap (always NUL-terminated); returns the
 * new end. */
static size_t append(char *dst, size_t cap, size_t at, const char *src)
{
    size_t n = strlen(src);
    if (at >= cap)
        return at;
    if (n > cap - 1 - at)
        n = cap - 1 - at;
    memcpy(dst + at, src, n);
    dst[at + n] = '\0';
    return at + n;
}

void ks_issue(dctx *c, klaw_status st, const pnode *path, size_t offset, const char *expected, const char *got,
              const char *fmt, ...)
{
    klaw_schema_error *err = c->err;
    uint32_t k = c->nissues++;
    if (!err || k >= KLAW_SCHEMA_MAX_ERRORS)
        return;
    if (k == 0)
        err->kept = 0;
    klaw_schema_issue *is = &err->issues[k];
    err->kept = k + 1;
    is->status = st;
    is->offset = offset;
    fill_path(is, path);
    copy_text(is->expected, sizeof is->expected, expected);
    copy_text(is->got, sizeof is->got, got);

    char where[KLAW_SCHEMA_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(is->message, sizeof is->message, fmt, ap);
    va_end(ap);
    klaw_schema_path_format(is, where, sizeof where);
    if (n < 0)
        n = 0;
    size_t at = (size_t)n < sizeof is->message ? (size_t)n : sizeof is->message - 1;
    at = append(is->message, sizeof is->message, at, " - at `");
    at = append(is->message, sizeof is->message, at, where);
    append(is->message, sizeof is->message, at, "`");
}

void ks_decode_issue(dctx *c, const pnode *path)
{
    const klaw_mp_error *e = &c->r->err;
    char got[48];
    snprintf(got, sizeof got, "%s", e->reason ? e->reason : "malformed");
    ks_issue(c, KLAW_DECODE, path, e->offset, "", got, "decode error at byte %zu: %s", e->offset,
             e->reason ? e->reason : "malformed");
}

void ks_compile_issue(klaw_schema_error *err, klaw_status st, const char *fmt, ...)
{
    if (!err)
        return;
    klaw_schema_issue *is = &err->issues[0];
    err->status = st;
    err->count = 1;
    err->kept = 1;
    is->status = st;
    is->offset = 0;
    is->depth = 0;
    is->truncated = false;
    is->expected[0] = '\0';
    is->got[0] = '\0';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(is->message, sizeof is->message, fmt, ap);
    va_end(ap);
}

const char *klaw_schema_error_message(const klaw_schema_error *err)
{
    if (!err || err->status == KLAW_OK || err->kept == 0)
        return "";
    return err->issues[0].message;
}
