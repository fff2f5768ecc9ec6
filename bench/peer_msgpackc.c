/*
 * peer_msgpackc.c - the codec suite's operations done with msgpack-c (see
 * peer_msgpackc.h for why each is written the way it is).
 */
#include <stdlib.h>

#include <msgpack.h>

#include "bench_util.h"
#include "peer_msgpackc.h"

struct peer_msgpackc {
    codec_env env;
    codec_ref ref;        /* the schema cases' encode input              */
    msgpack_sbuffer sbuf; /* encode output, cleared (not freed) per frame */
    msgpack_zone zone;    /* unpack arena, cleared (not freed) per frame  */
    const uint8_t *frame;
    size_t frame_len;
    int failed;
};

peer_msgpackc *peer_msgpackc_new(void)
{
    peer_msgpackc *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    msgpack_sbuffer_init(&p->sbuf);
    if (!msgpack_zone_init(&p->zone, MSGPACK_ZONE_CHUNK_SIZE)) {
        free(p);
        return NULL;
    }
    return p;
}

void peer_msgpackc_free(peer_msgpackc *p)
{
    if (!p)
        return;
    msgpack_sbuffer_destroy(&p->sbuf);
    msgpack_zone_destroy(&p->zone);
    free(p);
}

void peer_msgpackc_set_env(peer_msgpackc *p, const codec_env *e) { p->env = *e; }

void peer_msgpackc_set_ref(peer_msgpackc *p, const codec_ref *r) { p->ref = *r; }

void peer_msgpackc_set_frame(peer_msgpackc *p, const uint8_t *frame, size_t len)
{
    p->frame = frame;
    p->frame_len = len;
}

int peer_msgpackc_failed(const peer_msgpackc *p) { return p->failed; }

const uint8_t *peer_msgpackc_output(const peer_msgpackc *p, size_t *len)
{
    *len = p->sbuf.size;
    return (const uint8_t *)p->sbuf.data;
}

/* ---- encode ------------------------------------------------------------ */

static inline int encode_one(msgpack_packer *pk, const codec_env *e)
{
    int rc = 0;
    rc |= msgpack_pack_array(pk, 3);
    rc |= msgpack_pack_uint64(pk, e->tag);
    rc |= msgpack_pack_array(pk, 5);
    rc |= msgpack_pack_uint64(pk, e->version);
    rc |= msgpack_pack_uint64(pk, e->kind);
    rc |= msgpack_pack_uint64(pk, e->channel_id);
    rc |= msgpack_pack_uint64(pk, e->seq);
    rc |= msgpack_pack_uint64(pk, e->ts_ms);
    rc |= msgpack_pack_map(pk, e->has_pad ? 6 : 5);
    rc |= msgpack_pack_str_with_body(pk, "id", 2);
    rc |= msgpack_pack_int64(pk, e->id);
    rc |= msgpack_pack_str_with_body(pk, "price", 5);
    rc |= msgpack_pack_double(pk, e->price);
    rc |= msgpack_pack_str_with_body(pk, "sym", 3);
    rc |= msgpack_pack_str_with_body(pk, e->sym, e->sym_len);
    rc |= msgpack_pack_str_with_body(pk, "qty", 3);
    rc |= msgpack_pack_int64(pk, e->qty);
    rc |= msgpack_pack_str_with_body(pk, "tags", 4);
    rc |= msgpack_pack_array(pk, 2);
    rc |= msgpack_pack_str_with_body(pk, e->tags[0], e->tags_len[0]);
    rc |= msgpack_pack_str_with_body(pk, e->tags[1], e->tags_len[1]);
    if (e->has_pad) {
        rc |= msgpack_pack_str_with_body(pk, "pad", 3);
        rc |= msgpack_pack_bin_with_body(pk, e->pad, e->pad_len);
    }
    return rc;
}

uint64_t peer_msgpackc_encode_loop(void *ctx, uint64_t iters)
{
    peer_msgpackc *p = ctx;
    codec_env e = p->env;
    msgpack_packer pk;
    uint64_t sum = 0;
    msgpack_packer_init(&pk, &p->sbuf, msgpack_sbuffer_write);
    for (uint64_t i = 0; i < iters; i++) {
        e.seq = p->env.seq + i;
        e.ts_ms = p->env.ts_ms + i;
        /* The idiomatic fast way: keep the sbuffer's memory, reset its size. */
        msgpack_sbuffer_clear(&p->sbuf);
        if (encode_one(&pk, &e) != 0) {
            p->failed = 1;
            return sum;
        }
        BENCH_ESCAPE(p->sbuf.data);
        sum += p->sbuf.size;
    }
    return sum;
}

/* ---- decode ------------------------------------------------------------ */

static inline int get_uint(const msgpack_object *o, uint64_t *out)
{
    *out = o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? o->via.u64 : 0;
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return -1;
    return 0;
}

static inline int get_int(const msgpack_object *o, int64_t *out)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= (uint64_t)INT64_MAX) {
        *out = (int64_t)o->via.u64;
        return 0;
    }
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *out = o->via.i64;
        return 0;
    }
    return -1;
}

static inline int get_double(const msgpack_object *o, double *out)
{
    switch (o->type) {
    case MSGPACK_OBJECT_FLOAT64:
    case MSGPACK_OBJECT_FLOAT32: *out = o->via.f64; return 0;
    case MSGPACK_OBJECT_POSITIVE_INTEGER: *out = (double)o->via.u64; return 0;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: *out = (double)o->via.i64; return 0;
    default: return -1;
    }
}

static inline int get_str(const msgpack_object *o, const char **s, uint32_t *n)
{
    if (o->type != MSGPACK_OBJECT_STR)
        return -1;
    *s = o->via.str.ptr;
    *n = o->via.str.size;
    return 0;
}

static inline int key_is(const msgpack_object *k, const char *lit, uint32_t n)
{
    return k->via.str.size == n && memcmp(k->via.str.ptr, lit, n) == 0;
}

/* Unpacks the frame into the reused zone; the root array's 3 elements. */
static inline const msgpack_object *unpack_frame(peer_msgpackc *p, msgpack_object *root)
{
    size_t off = 0;
    msgpack_zone_clear(&p->zone);
    if (msgpack_unpack((const char *)p->frame, p->frame_len, &off, &p->zone, root) != MSGPACK_UNPACK_SUCCESS)
        return NULL;
    if (root->type != MSGPACK_OBJECT_ARRAY || root->via.array.size != 3)
        return NULL;
    const msgpack_object *a = root->via.array.ptr;
    if (a[1].type != MSGPACK_OBJECT_ARRAY || a[1].via.array.size != 5)
        return NULL;
    return a;
}

static inline int read_header(const msgpack_object *a, uint64_t *tag, uint64_t h[5])
{
    const msgpack_object *hd = a[1].via.array.ptr;
    int rc = get_uint(&a[0], tag);
    for (int i = 0; i < 5; i++)
        rc |= get_uint(&hd[i], &h[i]);
    return rc;
}

static inline int decode_one(peer_msgpackc *p, codec_env *e)
{
    msgpack_object root;
    uint64_t h[5];
    const msgpack_object *a = unpack_frame(p, &root);
    memset(e, 0, sizeof *e);
    if (!a || read_header(a, &e->tag, h) != 0 || a[2].type != MSGPACK_OBJECT_MAP)
        return -1;
    e->version = h[0];
    e->kind = h[1];
    e->channel_id = h[2];
    e->seq = h[3];
    e->ts_ms = h[4];
    const msgpack_object_kv *kv = a[2].via.map.ptr;
    int rc = 0;
    for (uint32_t i = 0; i < a[2].via.map.size; i++) {
        const msgpack_object *k = &kv[i].key, *v = &kv[i].val;
        if (k->type != MSGPACK_OBJECT_STR)
            return -1;
        if (key_is(k, "id", 2)) {
            rc |= get_int(v, &e->id);
        } else if (key_is(k, "price", 5)) {
            rc |= get_double(v, &e->price);
        } else if (key_is(k, "sym", 3)) {
            rc |= get_str(v, &e->sym, &e->sym_len);
        } else if (key_is(k, "qty", 3)) {
            rc |= get_int(v, &e->qty);
        } else if (key_is(k, "tags", 4)) {
            if (v->type != MSGPACK_OBJECT_ARRAY || v->via.array.size != 2)
                return -1;
            rc |= get_str(&v->via.array.ptr[0], &e->tags[0], &e->tags_len[0]);
            rc |= get_str(&v->via.array.ptr[1], &e->tags[1], &e->tags_len[1]);
        } else if (key_is(k, "pad", 3)) {
            if (v->type != MSGPACK_OBJECT_BIN)
                return -1;
            e->has_pad = true;
            e->pad = (const uint8_t *)v->via.bin.ptr;
            e->pad_len = v->via.bin.size;
        }
    }
    return rc;
}

int peer_msgpackc_decode(peer_msgpackc *p, codec_env *out) { return decode_one(p, out); }

uint64_t peer_msgpackc_decode_loop(void *ctx, uint64_t iters)
{
    peer_msgpackc *p = ctx;
    uint64_t sum = 0;
    codec_env e;
    for (uint64_t i = 0; i < iters; i++) {
        if (decode_one(p, &e) != 0) {
            p->failed = 1;
            return sum;
        }
        sum += codec_env_digest(&e);
    }
    return sum;
}

/* ---- header (the comparison for klaw's peek) --------------------------- */

static inline int header_one(peer_msgpackc *p, codec_peek *out, uint32_t *pairs)
{
    msgpack_object root;
    uint64_t h[5];
    const msgpack_object *a = unpack_frame(p, &root);
    if (!a || read_header(a, &out->tag, h) != 0 || a[2].type != MSGPACK_OBJECT_MAP)
        return -1;
    out->version = h[0];
    out->kind = h[1];
    out->channel_id = h[2];
    out->seq = h[3];
    out->ts_ms = h[4];
    out->payload = NULL;
    out->payload_len = 0;
    *pairs = a[2].via.map.size;
    return 0;
}

int peer_msgpackc_header(peer_msgpackc *p, codec_peek *out, uint32_t *payload_pairs)
{
    return header_one(p, out, payload_pairs);
}

uint64_t peer_msgpackc_header_loop(void *ctx, uint64_t iters)
{
    peer_msgpackc *p = ctx;
    uint64_t sum = 0;
    codec_peek pk;
    uint32_t pairs = 0;
    for (uint64_t i = 0; i < iters; i++) {
        if (header_one(p, &pk, &pairs) != 0) {
            p->failed = 1;
            return sum;
        }
        sum += codec_peek_digest(&pk) + pairs;
    }
    return sum;
}

/* ---- the schema cases: the reference payload alone ----------------------- */

/* The checksum of codec_ref_digest, from the tree. tags is an array. */
static inline uint64_t ref_digest(int64_t id, double price, const msgpack_object *sym, int64_t qty,
                                  const msgpack_object *tags)
{
    uint64_t h = codec_ref_digest_nums(id, price, qty, tags->via.array.size);
    h = codec_digest_str(h, sym->via.str.ptr, sym->via.str.size);
    for (uint32_t t = 0; t < tags->via.array.size; t++)
        h = codec_digest_str(h, tags->via.array.ptr[t].via.str.ptr, tags->via.array.ptr[t].via.str.size);
    return h;
}

/* The checks klaw's schema makes of tags: an array of str. */
static inline int check_tags(const msgpack_object *o)
{
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return -1;
    for (uint32_t t = 0; t < o->via.array.size; t++)
        if (o->via.array.ptr[t].type != MSGPACK_OBJECT_STR)
            return -1;
    return 0;
}

/* Unpacks the payload into the reused zone (the whole buffer must be one
 * value: msgpack_unpack says EXTRA_BYTES otherwise). */
static inline int unpack_payload(peer_msgpackc *p, msgpack_object *root)
{
    size_t off = 0;
    msgpack_zone_clear(&p->zone);
    return msgpack_unpack((const char *)p->frame, p->frame_len, &off, &p->zone, root) == MSGPACK_UNPACK_SUCCESS
               ? 0
               : -1;
}

static inline int ref_decode_map(peer_msgpackc *p, uint64_t *digest)
{
    msgpack_object root;
    const msgpack_object *sym = NULL, *tags = NULL;
    int64_t id = 0, qty = 0;
    double price = 0;
    unsigned seen = 0;
    int rc = 0;
    if (unpack_payload(p, &root) != 0 || root.type != MSGPACK_OBJECT_MAP)
        return -1;
    const msgpack_object_kv *kv = root.via.map.ptr;
    for (uint32_t i = 0; i < root.via.map.size; i++) {
        const msgpack_object *k = &kv[i].key, *v = &kv[i].val;
        unsigned bit;
        if (k->type != MSGPACK_OBJECT_STR)
            return -1;
        if (key_is(k, "id", 2)) {
            bit = 1;
            rc |= get_int(v, &id);
        } else if (key_is(k, "price", 5)) {
            bit = 2;
            rc |= get_double(v, &price);
        } else if (key_is(k, "sym", 3)) {
            bit = 4;
            rc |= v->type == MSGPACK_OBJECT_STR ? 0 : -1;
            sym = v;
        } else if (key_is(k, "qty", 3)) {
            bit = 8;
            rc |= get_int(v, &qty);
        } else if (key_is(k, "tags", 4)) {
            bit = 16;
            rc |= check_tags(v);
            tags = v;
        } else {
            continue; /* unknown: passed over, as klaw's schema does */
        }
        if (seen & bit) /* a field given twice: klaw refuses it too */
            return -1;
        seen |= bit;
    }
    if (rc != 0 || seen != 31)
        return -1;
    *digest = ref_digest(id, price, sym, qty, tags);
    return 0;
}

static inline int ref_decode_array(peer_msgpackc *p, uint64_t *digest)
{
    msgpack_object root;
    int64_t id = 0, qty = 0;
    double price = 0;
    if (unpack_payload(p, &root) != 0 || root.type != MSGPACK_OBJECT_ARRAY || root.via.array.size < 5)
        return -1;
    const msgpack_object *a = root.via.array.ptr;
    int rc = get_int(&a[0], &id) | get_double(&a[1], &price) | (a[2].type == MSGPACK_OBJECT_STR ? 0 : -1) |
             get_int(&a[3], &qty) | check_tags(&a[4]);
    if (rc != 0)
        return -1;
    *digest = ref_digest(id, price, &a[2], qty, &a[4]);
    return 0;
}

uint64_t peer_msgpackc_ref_decode_map_loop(void *ctx, uint64_t iters)
{
    peer_msgpackc *p = ctx;
    uint64_t sum = 0, d = 0;
    for (uint64_t i = 0; i < iters; i++) {
        if (ref_decode_map(p, &d) != 0) {
            p->failed = 1;
            return sum;
        }
        sum += d;
    }
    return sum;
}

uint64_t peer_msgpackc_ref_decode_array_loop(void *ctx, uint64_t iters)
{
    peer_msgpackc *p = ctx;
    uint64_t sum = 0, d = 0;
    for (uint64_t i = 0; i < iters; i++) {
        if (ref_decode_array(p, &d) != 0) {
            p->failed = 1;
            return sum;
        }
        sum += d;
    }
    return sum;
}

/* map: with keys (map form); otherwise the values in order (array_like). */
static inline int ref_pack(msgpack_packer *pk, const codec_ref *r, bool map)
{
    const klaw_str *tags = (const klaw_str *)r->tags.items;
    int rc = map ? msgpack_pack_map(pk, 5) : msgpack_pack_array(pk, 5);
    if (map)
        rc |= msgpack_pack_str_with_body(pk, "id", 2);
    rc |= msgpack_pack_int64(pk, r->id);
    if (map)
        rc |= msgpack_pack_str_with_body(pk, "price", 5);
    rc |= msgpack_pack_double(pk, r->price);
    if (map)
        rc |= msgpack_pack_str_with_body(pk, "sym", 3);
    rc |= msgpack_pack_str_with_body(pk, r->sym.ptr, r->sym.len);
    if (map)
        rc |= msgpack_pack_str_with_body(pk, "qty", 3);
    rc |= msgpack_pack_int64(pk, r->qty);
    if (map)
        rc |= msgpack_pack_str_with_body(pk, "tags", 4);
    rc |= msgpack_pack_array(pk, r->tags.len);
    for (uint32_t t = 0; t < r->tags.len; t++)
        rc |= msgpack_pack_str_with_body(pk, tags[t].ptr, tags[t].len);
    return rc;
}

static inline uint64_t ref_encode_loop(peer_msgpackc *p, uint64_t iters, bool map)
{
    codec_ref r = p->ref;
    msgpack_packer pk;
    uint64_t sum = 0;
    msgpack_packer_init(&pk, &p->sbuf, msgpack_sbuffer_write);
    for (uint64_t i = 0; i < iters; i++) {
        r.id = p->ref.id + (int64_t)i;
        msgpack_sbuffer_clear(&p->sbuf);
        if (ref_pack(&pk, &r, map) != 0) {
            p->failed = 1;
            return sum;
        }
        BENCH_ESCAPE(p->sbuf.data);
        sum += p->sbuf.size;
    }
    return sum;
}

uint64_t peer_msgpackc_ref_encode_map_loop(void *ctx, uint64_t iters) { return ref_encode_loop(ctx, iters, true); }

uint64_t peer_msgpackc_ref_encode_array_loop(void *ctx, uint64_t iters)
{
    return ref_encode_loop(ctx, iters, false);
}
