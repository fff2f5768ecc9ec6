/*
 * schema_encode.c - a C struct to MessagePack, through the codec's writer.
 *
 * The writer's sticky error carries every failure: TOOBIG when the buffer
 * is short (the writer keeps counting, so klaw_mp_writer_needed() is the
 * size to retry with), INVAL for a value that has no encoding (an enum value
 * not in its table, a union `which` out of range, ...). Field names are
 * written as pre-encoded keys (one copy each); nothing is allocated.
 */
#include <string.h>

#include "schema_impl.h"

#if defined(__GNUC__) || defined(__clang__)
#define HOT_INLINE static inline __attribute__((always_inline))
#else
#define HOT_INLINE static inline
#endif

typedef struct ectx {
    klaw_mp_writer *w;
    uint32_t depth;
} ectx;

static void enc_value(ectx *e, const cfield *f, const uint8_t *src);

static inline int64_t load_sint(const uint8_t *p, uint32_t size)
{
    switch (size) {
    case 1: { int8_t x; memcpy(&x, p, 1); return x; }
    case 2: { int16_t x; memcpy(&x, p, 2); return x; }
    case 4: { int32_t x; memcpy(&x, p, 4); return x; }
    default: { int64_t x; memcpy(&x, p, 8); return x; }
    }
}

static inline uint64_t load_uint(const uint8_t *p, uint32_t size)
{
    switch (size) {
    case 1: { uint8_t x; memcpy(&x, p, 1); return x; }
    case 2: { uint16_t x; memcpy(&x, p, 2); return x; }
    case 4: { uint32_t x; memcpy(&x, p, 4); return x; }
    default: { uint64_t x; memcpy(&x, p, 8); return x; }
    }
}

static inline bool load_bool(const uint8_t *p)
{
    bool b;
    memcpy(&b, p, sizeof b);
    return b;
}

/* ---- equality with the default (omit_defaults) ------------------------------- */

static bool is_default(const cfield *f, const uint8_t *base);

static bool struct_is_default(const cstruct *s, const uint8_t *src)
{
    for (uint32_t i = 0; i < s->nfields; i++)
        if (!is_default(&s->fields[i], src))
            return false;
    return true;
}

static bool bytes_equal(const void *p, uint32_t n, const klaw_value *d)
{
    return n == d->len && (n == 0 || (p && d->ptr && memcmp(p, d->ptr, n) == 0));
}

/* Whether field f of the struct at base holds its default. */
static bool is_default(const cfield *f, const uint8_t *base)
{
    const uint8_t *p = base + f->offset;
    const klaw_value *d = &f->def;
    if (!(f->flags & KLAW_F_DEFAULT))
        return false;
    if (f->flags & KLAW_F_NULLABLE) {
        bool present = load_bool(base + f->present - 1);
        if (f->flags & KLAW_F_DEFAULT_NIL)
            return !present;
        if (!present)
            return false;
    }
    switch ((klaw_kind)f->kind) {
    case KLAW_K_BOOL: return load_bool(p) == d->b;
    case KLAW_K_I8:
    case KLAW_K_I16:
    case KLAW_K_I32:
    case KLAW_K_I64: return load_sint(p, f->size) == d->i;
    case KLAW_K_U8:
    case KLAW_K_U16:
    case KLAW_K_U32:
    case KLAW_K_U64: return load_uint(p, f->size) == d->u;
    case KLAW_K_FLOAT: {
        float x, y = (float)d->d;
        memcpy(&x, p, sizeof x);
        return memcmp(&x, &y, sizeof x) == 0;
    }
    case KLAW_K_DOUBLE: return memcmp(p, &d->d, sizeof d->d) == 0;
    case KLAW_K_STR: {
        klaw_str v;
        memcpy(&v, p, sizeof v);
        return bytes_equal(v.ptr, v.len, d);
    }
    case KLAW_K_BIN: {
        klaw_bytes v;
        memcpy(&v, p, sizeof v);
        return bytes_equal(v.ptr, v.len, d);
    }
    case KLAW_K_RAW: {
        klaw_mp_raw v;
        memcpy(&v, p, sizeof v);
        return v.len <= UINT32_MAX && bytes_equal(v.ptr, (uint32_t)v.len, d);
    }
    case KLAW_K_TIMESTAMP: {
        struct timespec ts;
        memcpy(&ts, p, sizeof ts);
        return (int64_t)ts.tv_sec == d->i && ts.tv_nsec == (long)d->nsec;
    }
    case KLAW_K_ENUM: {
        int v;
        memcpy(&v, p, sizeof v);
        return v == d->i;
    }
    case KLAW_K_STRUCT: return struct_is_default(f->nested, p);
    case KLAW_K_ARRAY: {
        klaw_array a;
        memcpy(&a, p, sizeof a);
        return a.len == 0;
    }
    case KLAW_K_MAP: {
        klaw_map m;
        memcpy(&m, p, sizeof m);
        return m.len == 0;
    }
    case KLAW_K_FIXED:
        for (uint32_t i = 0; i < f->size; i++)
            if (p[i])
                return false;
        return true;
    default: return false;
    }
}

/* ---- the fast paths -------------------------------------------------------------- */

/* A field's key: two 8-byte stores of the padded key when it is short and
 * the buffer has 16 bytes of room (the bytes past the key are overwritten
 * by what follows), else an ordinary copy. */
HOT_INLINE void put_key(klaw_mp_writer *w, const cfield *f)
{
    if (KLAW_LIKELY(f->key_mp_len <= 16 && w->status == KLAW_OK && w->cap - w->pos >= 16)) {
        memcpy(w->buf + w->pos, f->key_pad, 16);
        w->pos += f->key_mp_len;
        return;
    }
    klaw_mp_write_bytes(w, f->key_mp, f->key_mp_len);
}

/* Copies n < 32 bytes with overlapping 8/4-byte moves (no libc call);
 * reads nothing outside p[0, n). */
HOT_INLINE void copy_small(uint8_t *d, const char *p, uint32_t n)
{
    if (n >= 8) {
        for (uint32_t i = 0; i + 8 <= n; i += 8)
            memcpy(d + i, p + i, 8);
        memcpy(d + n - 8, p + n - 8, 8);
    } else if (n >= 4) {
        memcpy(d, p, 4);
        memcpy(d + n - 4, p + n - 4, 4);
    } else {
        for (uint32_t i = 0; i < n; i++)
            d[i] = (uint8_t)p[i];
    }
}

/* A short str: header and bytes with fixed-size copies. */
HOT_INLINE void put_str(klaw_mp_writer *w, const char *p, uint32_t n)
{
    if (KLAW_LIKELY(n < 32 && w->status == KLAW_OK && w->cap - w->pos >= 33)) {
        uint8_t *d = w->buf + w->pos;
        d[0] = (uint8_t)(0xa0 | n);
        copy_small(d + 1, p, n);
        w->pos += n + 1;
        return;
    }
    klaw_mp_write_str(w, p, n);
}

/* ---- the lane: unchecked writes where the room is known ---------------------------- */

/* Smallest encodings, written without checks (the caller knows there is
 * room): the same bytes as klaw_mp_write_uint/int. */
HOT_INLINE uint8_t *raw_uint(uint8_t *p, uint64_t v)
{
    if (v < 128) {
        p[0] = (uint8_t)v;
        return p + 1;
    }
    if (v <= UINT8_MAX) {
        p[0] = 0xcc;
        p[1] = (uint8_t)v;
        return p + 2;
    }
    if (v <= UINT16_MAX) {
        p[0] = 0xcd;
        klaw_mp_put16_(p + 1, (uint16_t)v);
        return p + 3;
    }
    if (v <= UINT32_MAX) {
        p[0] = 0xce;
        klaw_mp_put32_(p + 1, (uint32_t)v);
        return p + 5;
    }
    p[0] = 0xcf;
    klaw_mp_put64_(p + 1, v);
    return p + 9;
}

HOT_INLINE uint8_t *raw_int(uint8_t *p, int64_t v)
{
    if (v >= 0)
        return raw_uint(p, (uint64_t)v);
    if (v >= -32) {
        p[0] = (uint8_t)(int8_t)v;
        return p + 1;
    }
    if (v >= INT8_MIN) {
        p[0] = 0xd0;
        p[1] = (uint8_t)(int8_t)v;
        return p + 2;
    }
    if (v >= INT16_MIN) {
        p[0] = 0xd1;
        klaw_mp_put16_(p + 1, (uint16_t)v);
        return p + 3;
    }
    if (v >= INT32_MIN) {
        p[0] = 0xd2;
        klaw_mp_put32_(p + 1, (uint32_t)v);
        return p + 5;
    }
    p[0] = 0xd3;
    klaw_mp_put64_(p + 1, (uint64_t)v);
    return p + 9;
}

/* The room the lane needs: a padded key (16) and the largest lane value
 * (a 31-byte str and its header, 32). */
#define LANE_ROOM 48

/* Field f of the struct (or element) at base, key first when with_key,
 * written at p without checks - the caller has made sure of LANE_ROOM
 * bytes - when its value is a common scalar. Returns the new end, or NULL
 * (nothing counted) for anything else.
 *
 * Everything is loaded from f and the source before the first store: a
 * store through a byte pointer may alias anything, and would make the
 * compiler load it all again. */
HOT_INLINE uint8_t *lane(const cfield *f, const uint8_t *base, uint8_t *p, bool with_key)
{
    const uint32_t kind = f->kind, size = f->size, klen = f->key_mp_len;
    const uint64_t k0 = f->key_pad[0], k1 = f->key_pad[1];
    const uint8_t *src = base + f->offset;
    if (KLAW_UNLIKELY((f->flags & KLAW_F_NULLABLE) || (with_key && klen > 16)))
        return NULL;
#define LANE_KEY()                  \
    do {                            \
        if (with_key) {             \
            memcpy(p, &k0, 8);      \
            memcpy(p + 8, &k1, 8);  \
            p += klen;              \
        }                           \
    } while (0)
    switch ((klaw_kind)kind) {
    case KLAW_K_BOOL: {
        bool b = load_bool(src);
        LANE_KEY();
        *p = b ? 0xc3 : 0xc2;
        return p + 1;
    }
    case KLAW_K_I8:
    case KLAW_K_I16:
    case KLAW_K_I32:
    case KLAW_K_I64: {
        int64_t v = load_sint(src, size);
        LANE_KEY();
        return raw_int(p, v);
    }
    case KLAW_K_U8:
    case KLAW_K_U16:
    case KLAW_K_U32:
    case KLAW_K_U64: {
        uint64_t v = load_uint(src, size);
        LANE_KEY();
        return raw_uint(p, v);
    }
    case KLAW_K_FLOAT: {
        uint32_t bits;
        memcpy(&bits, src, 4);
        LANE_KEY();
        p[0] = 0xca;
        klaw_mp_put32_(p + 1, bits);
        return p + 5;
    }
    case KLAW_K_DOUBLE: {
        uint64_t bits;
        memcpy(&bits, src, 8);
        LANE_KEY();
        p[0] = 0xcb;
        klaw_mp_put64_(p + 1, bits);
        return p + 9;
    }
    case KLAW_K_STR: {
        klaw_str v;
        memcpy(&v, src, sizeof v);
        if (KLAW_UNLIKELY(v.len >= 32 || (!v.ptr && v.len)))
            return NULL;
        LANE_KEY();
        *p++ = (uint8_t)(0xa0 | v.len);
        copy_small(p, v.ptr, v.len);
        return p + v.len;
    }
    default: return NULL;
    }
#undef LANE_KEY
}

/* lane() when the writer is sound and has the room; advances it. */
HOT_INLINE bool enc_lane(klaw_mp_writer *w, const cfield *f, const uint8_t *base, bool with_key)
{
    size_t pos = w->pos;
    if (KLAW_UNLIKELY(w->status != KLAW_OK || w->cap - pos < LANE_ROOM))
        return false;
    uint8_t *buf = w->buf;
    uint8_t *q = lane(f, base, buf + pos, with_key);
    if (!q)
        return false;
    w->pos = (size_t)(q - buf);
    return true;
}

/* The common scalars inline; the rest in enc_value(). */
HOT_INLINE void enc_fast(ectx *e, const cfield *f, const uint8_t *src)
{
    klaw_mp_writer *w = e->w;
    switch ((klaw_kind)f->kind) {
    case KLAW_K_I32: {
        int32_t x;
        memcpy(&x, src, sizeof x);
        klaw_mp_write_int(w, x);
        return;
    }
    case KLAW_K_I64: {
        int64_t x;
        memcpy(&x, src, sizeof x);
        klaw_mp_write_int(w, x);
        return;
    }
    case KLAW_K_DOUBLE: {
        double x;
        memcpy(&x, src, sizeof x);
        klaw_mp_write_double(w, x);
        return;
    }
    case KLAW_K_STR: {
        klaw_str v;
        memcpy(&v, src, sizeof v);
        if (KLAW_LIKELY(v.ptr || !v.len)) {
            put_str(w, v.ptr, v.len);
            return;
        }
        break;
    }
    default: break;
    }
    enc_value(e, f, src);
}

/* ---- structs and unions ---------------------------------------------------------- */

HOT_INLINE void enc_field(ectx *e, const cfield *f, const uint8_t *base)
{
    if ((f->flags & KLAW_F_NULLABLE) && !load_bool(base + f->present - 1))
        klaw_mp_write_nil(e->w);
    else
        enc_fast(e, f, base + f->offset);
}

static void enc_tag(ectx *e, const cstruct *s)
{
    if (s->tag == KLAW_TAG_STR)
        klaw_mp_write_str(e->w, s->tag_str, s->tag_str_len);
    else
        klaw_mp_write_int(e->w, s->tag_int);
}

/* A fixed array of lane scalars (at most 15: a fixarray header). */
HOT_INLINE uint8_t *lane_fixed(const cfield *f, const uint8_t *base, uint8_t *p, bool with_key)
{
    const cfield *el = f->elem;
    const uint32_t n = f->count, size = el->size, klen = f->key_mp_len;
    const uint64_t k0 = f->key_pad[0], k1 = f->key_pad[1];
    const uint8_t *src = base + f->offset;
    if (with_key) {
        memcpy(p, &k0, 8);
        memcpy(p + 8, &k1, 8);
        p += klen;
    }
    *p++ = (uint8_t)(0x90 | n);
    for (uint32_t i = 0; i < n; i++) {
        if (!(p = lane(el, src + (size_t)i * size, p, false)))
            return NULL;
    }
    return p;
}

/* Elements [j, n) of an array of el, the careful way: each through the
 * lane when it takes it and the writer has the room, else enc_fast(). */
static void enc_items(ectx *e, const cfield *el, const uint8_t *items, uint32_t j, uint32_t n)
{
    klaw_mp_writer *w = e->w;
    for (; j < n && w->status != KLAW_INVAL; j++) {
        const uint8_t *item = items + (size_t)j * el->size;
        if (!enc_lane(w, el, item, false))
            enc_fast(e, el, item);
    }
}

/* A variable-length array of lane scalars (cfield.lane_elem > 0), in a
 * lane struct, written at p (buf: the writer's buffer) without checks.
 * The lane's room check counted its key and header; its elements' room,
 * len * lane_elem, is checked here, against the whole struct's room again
 * (an upper bound on what the fields left to write need), so the lane may
 * go on after it. Returns the new end; NULL with nothing written when the
 * room is short or the array is not sound (the careful path then writes it
 * and reports it); NULL with *handed set when an element the lane does not
 * take (a long str, ...) sent the rest of the array the careful way, the
 * writer advanced past it. */
HOT_INLINE uint8_t *lane_array(ectx *e, const cfield *f, const uint8_t *base, uint8_t *buf, uint8_t *p,
                               uint32_t room, bool with_key, bool *handed)
{
    klaw_mp_writer *w = e->w;
    const cfield *el = f->elem;
    const uint32_t size = el->size, klen = f->key_mp_len;
    const uint64_t k0 = f->key_pad[0], k1 = f->key_pad[1];
    klaw_array a;
    memcpy(&a, base + f->offset, sizeof a);
    if (KLAW_UNLIKELY((!a.items && a.len) || e->depth >= KLAW_SCHEMA_MAX_DEPTH ||
                      (uint64_t)(w->cap - (size_t)(p - buf)) < (uint64_t)room + (uint64_t)a.len * f->lane_elem))
        return NULL;
    const uint8_t *items = (const uint8_t *)a.items;
    const uint32_t n = a.len;
    if (with_key) {
        memcpy(p, &k0, 8);
        memcpy(p + 8, &k1, 8);
        p += klen;
    }
    /* the header, as klaw_mp_write_array() writes it */
    if (n < 16) {
        *p++ = (uint8_t)(0x90 | n);
    } else if (n <= UINT16_MAX) {
        p[0] = 0xdc;
        klaw_mp_put16_(p + 1, (uint16_t)n);
        p += 3;
    } else {
        p[0] = 0xdd;
        klaw_mp_put32_(p + 1, n);
        p += 5;
    }
    for (uint32_t j = 0; j < n; j++) {
        uint8_t *q = lane(el, items + (size_t)j * size, p, false);
        if (KLAW_UNLIKELY(!q)) {
            w->pos = (size_t)(p - buf);
            e->depth++; /* as enc_value() counts an array */
            enc_items(e, el, items, j, n);
            e->depth--;
            *handed = true;
            return NULL;
        }
        p = q;
    }
    return p;
}

static void enc_struct(ectx *e, const cstruct *s, const uint8_t *src)
{
    klaw_mp_writer *w = e->w;
    const bool keys = !(s->flags & KLAW_S_ARRAY_LIKE);
    const uint32_t nf = s->nfields;
    uint32_t i = 0, n = nf;
    uint64_t omit[KLAW_SCHEMA_MAX_FIELDS / 64];

    if (s->lane_room && KLAW_LIKELY(w->status == KLAW_OK && w->cap - w->pos >= s->lane_room)) {
        /* the lane: one room check for the whole struct */
        uint8_t *buf = w->buf, *p = buf + w->pos;
        memcpy(p, s->head, s->head_len);
        p += s->head_len;
        for (; i < nf; i++) {
            const cfield *f = &s->fields[i];
            uint8_t *q;
            if (f->kind == KLAW_K_ARRAY) {
                bool handed = false;
                q = lane_array(e, f, src, buf, p, s->lane_room, keys, &handed);
                if (KLAW_UNLIKELY(handed)) {
                    /* the writer is past this field: the rest the ordinary way */
                    i++;
                    omit[0] = 0;
                    goto rest;
                }
            } else {
                q = f->kind == KLAW_K_FIXED ? lane_fixed(f, src, p, keys) : lane(f, src, p, keys);
            }
            if (KLAW_UNLIKELY(!q))
                break; /* a long str, a short room: the rest the ordinary way */
            p = q;
        }
        w->pos = (size_t)(p - buf);
        if (i == nf)
            return;
        omit[0] = 0; /* no field of a lane struct is omitted */
        goto rest;
    }

    {
        uint32_t tagged = s->tag != KLAW_TAG_NONE, count = nf;
        for (uint32_t k = 0; k < s->nwords; k++)
            omit[k] = 0;
        if (s->has_omit) {
            if (!keys) {
                /* array_like: only trailing defaults can go */
                while (n > 0 && (s->fields[n - 1].cflags & CF_OMIT) && is_default(&s->fields[n - 1], src))
                    n--;
                count = n;
            } else {
                for (uint32_t k = 0; k < nf; k++) {
                    if ((s->fields[k].cflags & CF_OMIT) && is_default(&s->fields[k], src)) {
                        omit[k / 64] |= 1ull << (k % 64);
                        count--;
                    }
                }
            }
        }
        if (keys) {
            klaw_mp_write_map(w, count + tagged);
            if (tagged)
                klaw_mp_write_str(w, s->tag_field, s->tag_field_len);
        } else {
            klaw_mp_write_array(w, count + tagged);
        }
        if (tagged)
            enc_tag(e, s);
    }
rest:
    for (; i < n; i++) {
        const cfield *f = &s->fields[i];
        if (s->has_omit && ((omit[i / 64] >> (i % 64)) & 1))
            continue;
        if (enc_lane(w, f, src, keys))
            continue;
        if (keys)
            put_key(w, f);
        enc_field(e, f, src);
    }
}

/* ---- values ------------------------------------------------------------------------ */

static bool enter(ectx *e)
{
    if (KLAW_UNLIKELY(e->depth >= KLAW_SCHEMA_MAX_DEPTH)) {
        klaw_mp_writer_inval_(e->w);
        return false;
    }
    e->depth++;
    return true;
}

static void enc_value(ectx *e, const cfield *f, const uint8_t *src)
{
    klaw_mp_writer *w = e->w;
    switch ((klaw_kind)f->kind) {
    case KLAW_K_BOOL: klaw_mp_write_bool(w, load_bool(src)); break;
    case KLAW_K_I8:
    case KLAW_K_I16:
    case KLAW_K_I32:
    case KLAW_K_I64: klaw_mp_write_int(w, load_sint(src, f->size)); break;
    case KLAW_K_U8:
    case KLAW_K_U16:
    case KLAW_K_U32:
    case KLAW_K_U64: klaw_mp_write_uint(w, load_uint(src, f->size)); break;
    case KLAW_K_FLOAT: {
        float x;
        memcpy(&x, src, sizeof x);
        klaw_mp_write_float(w, x);
        break;
    }
    case KLAW_K_DOUBLE: {
        double x;
        memcpy(&x, src, sizeof x);
        klaw_mp_write_double(w, x);
        break;
    }
    case KLAW_K_STR: {
        klaw_str v;
        memcpy(&v, src, sizeof v);
        if (KLAW_UNLIKELY(!v.ptr && v.len))
            klaw_mp_writer_inval_(w);
        else
            klaw_mp_write_str(w, v.ptr, v.len);
        break;
    }
    case KLAW_K_BIN: {
        klaw_bytes v;
        memcpy(&v, src, sizeof v);
        if (KLAW_UNLIKELY(!v.ptr && v.len))
            klaw_mp_writer_inval_(w);
        else
            klaw_mp_write_bin(w, v.ptr, v.len);
        break;
    }
    case KLAW_K_RAW: {
        klaw_mp_raw v;
        memcpy(&v, src, sizeof v);
        if (v.len == 0)
            klaw_mp_write_nil(w);
        else if (KLAW_UNLIKELY(!v.ptr))
            klaw_mp_writer_inval_(w);
        else
            klaw_mp_write_bytes(w, v.ptr, v.len);
        break;
    }
    case KLAW_K_TIMESTAMP: {
        struct timespec ts;
        memcpy(&ts, src, sizeof ts);
        if (KLAW_UNLIKELY(ts.tv_nsec < 0 || ts.tv_nsec > 999999999L))
            klaw_mp_writer_inval_(w);
        else
            klaw_mp_write_timestamp(w, (int64_t)ts.tv_sec, (uint32_t)ts.tv_nsec);
        break;
    }
    case KLAW_K_ENUM: {
        int v;
        const cenum *en = f->enm;
        memcpy(&v, src, sizeof v);
        for (uint32_t i = 0; i < en->count; i++) {
            if (en->entries[i].value == v) {
                if (en->wire == KLAW_ENUM_STR)
                    klaw_mp_write_str(w, en->entries[i].str, en->lens[i]);
                else
                    klaw_mp_write_int(w, en->entries[i].num);
                return;
            }
        }
        klaw_mp_writer_inval_(w);
        break;
    }
    case KLAW_K_STRUCT:
        if (enter(e)) {
            enc_struct(e, f->nested, src);
            e->depth--;
        }
        break;
    case KLAW_K_ARRAY: {
        klaw_array a;
        const cfield *el = f->elem;
        memcpy(&a, src, sizeof a);
        if (KLAW_UNLIKELY(!a.items && a.len)) {
            klaw_mp_writer_inval_(w);
            break;
        }
        if (!enter(e))
            break;
        klaw_mp_write_array(w, a.len);
        enc_items(e, el, (const uint8_t *)a.items, 0, a.len);
        e->depth--;
        break;
    }
    case KLAW_K_FIXED: {
        const cfield *el = f->elem;
        if (!enter(e))
            break;
        klaw_mp_write_array(w, f->count);
        for (uint32_t i = 0; i < f->count; i++)
            if (!enc_lane(w, el, src + (size_t)i * el->size, false))
                enc_fast(e, el, src + (size_t)i * el->size);
        e->depth--;
        break;
    }
    case KLAW_K_MAP: {
        klaw_map m;
        const cfield *el = f->elem;
        memcpy(&m, src, sizeof m);
        if (KLAW_UNLIKELY(!m.entries && m.len)) {
            klaw_mp_writer_inval_(w);
            break;
        }
        if (!enter(e))
            break;
        klaw_mp_write_map(w, m.len);
        for (uint32_t i = 0; i < m.len && w->status != KLAW_INVAL; i++) {
            const uint8_t *ent = (const uint8_t *)m.entries + (size_t)i * f->count;
            klaw_str key;
            memcpy(&key, ent, sizeof key);
            if (KLAW_UNLIKELY(!key.ptr && key.len))
                klaw_mp_writer_inval_(w);
            else
                put_str(w, key.ptr, key.len);
            if (!enc_lane(w, el, ent, false))
                enc_fast(e, el, ent + el->offset);
        }
        e->depth--;
        break;
    }
    case KLAW_K_UNION: {
        const cunion *u = f->uni;
        int32_t which;
        memcpy(&which, src, sizeof which);
        if (KLAW_UNLIKELY(which < 0 || (uint32_t)which >= u->count)) {
            klaw_mp_writer_inval_(w);
            break;
        }
        if (enter(e)) {
            enc_struct(e, u->variants[which], src + u->offset);
            e->depth--;
        }
        break;
    }
    default: klaw_mp_writer_inval_(w); break;
    }
}

klaw_status klaw_schema_encode(const klaw_schema *s, const void *in, klaw_mp_writer *w)
{
    ectx e = {w, 0};
    /* a struct at the top goes straight in (the common case): depth 1, as
     * enc_value() would have counted it */
    if (s->root.kind == KLAW_K_STRUCT) {
        e.depth = 1;
        enc_struct(&e, s->root.nested, (const uint8_t *)in);
    }
    else
        enc_value(&e, &s->root, (const uint8_t *)in);
    return w->status;
}
