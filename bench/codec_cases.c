/*
 * codec_cases.c - klaw's encode, decode and peek for the codec suite, and
 * its schema decode and encode of the reference payload (see
 * codec_cases.h). The per-operation code is static inline so each loop
 * inlines it; the exported single operations call the same code.
 */
#include <stdlib.h>

#include "bench_util.h"
#include "codec_cases.h"
#include "klaw/mp_writer.h"

static const char SYM[] = "AAPL";
static const char TAG0[] = "equity";
static const char TAG1[] = "nasdaq";

void codec_env_reference(codec_env *e)
{
    memset(e, 0, sizeof *e);
    e->tag = 1;
    e->version = 1;
    e->kind = 1;
    e->channel_id = 42;
    e->seq = CODEC_SEQ_BASE;
    e->ts_ms = CODEC_TS_BASE;
    e->id = 123456789;
    e->price = 101.25;
    e->sym = SYM;
    e->sym_len = sizeof SYM - 1;
    e->qty = 100;
    e->tags[0] = TAG0;
    e->tags_len[0] = sizeof TAG0 - 1;
    e->tags[1] = TAG1;
    e->tags_len[1] = sizeof TAG1 - 1;
}

/* ---- encode ------------------------------------------------------------ */

static inline void write_payload(klaw_mp_writer *w, const codec_env *e)
{
    klaw_mp_write_map(w, e->has_pad ? 6 : 5);
    klaw_mp_write_str(w, "id", 2);
    klaw_mp_write_int(w, e->id);
    klaw_mp_write_str(w, "price", 5);
    klaw_mp_write_double(w, e->price);
    klaw_mp_write_str(w, "sym", 3);
    klaw_mp_write_str(w, e->sym, e->sym_len);
    klaw_mp_write_str(w, "qty", 3);
    klaw_mp_write_int(w, e->qty);
    klaw_mp_write_str(w, "tags", 4);
    klaw_mp_write_array(w, 2);
    klaw_mp_write_str(w, e->tags[0], e->tags_len[0]);
    klaw_mp_write_str(w, e->tags[1], e->tags_len[1]);
    if (e->has_pad) {
        klaw_mp_write_str(w, "pad", 3);
        klaw_mp_write_bin(w, e->pad, e->pad_len);
    }
}

static inline void write_header(klaw_mp_writer *w, const codec_env *e)
{
    klaw_mp_write_array(w, 3);
    klaw_mp_write_uint(w, e->tag);
    klaw_mp_write_array(w, 5);
    klaw_mp_write_uint(w, e->version);
    klaw_mp_write_uint(w, e->kind);
    klaw_mp_write_uint(w, e->channel_id);
    klaw_mp_write_uint(w, e->seq);
    klaw_mp_write_uint(w, e->ts_ms);
}

static inline klaw_status encode_one(const codec_env *e, uint8_t *buf, size_t cap, size_t *len)
{
    klaw_mp_writer w;
    klaw_mp_writer_init(&w, buf, cap);
    write_header(&w, e);
    write_payload(&w, e);
    return klaw_mp_writer_finish(&w, len);
}

klaw_status codec_klaw_encode(const codec_env *e, uint8_t *buf, size_t cap, size_t *len)
{
    return encode_one(e, buf, cap, len);
}

uint64_t codec_klaw_encode_loop(void *ctx, uint64_t iters)
{
    codec_klaw_ctx *c = ctx;
    codec_env e = c->env;
    uint64_t sum = 0;
    size_t len = 0;
    for (uint64_t i = 0; i < iters; i++) {
        e.seq = c->env.seq + i;
        e.ts_ms = c->env.ts_ms + i;
        if (KLAW_UNLIKELY(encode_one(&e, c->out, c->out_cap, &len) != KLAW_OK)) {
            c->status = KLAW_TOOBIG;
            return sum;
        }
        BENCH_ESCAPE(c->out); /* the bytes must really be written */
        sum += len;
    }
    c->out_len = len;
    return sum;
}

/* ---- decode ------------------------------------------------------------ */

static inline bool key_is(const char *k, uint32_t n, const char *lit, uint32_t litn)
{
    return n == litn && memcmp(k, lit, n) == 0;
}

/* Reads the envelope header after the outer array header. */
static inline klaw_status read_header(klaw_mp_reader *r, uint64_t *tag, uint64_t h[5])
{
    uint32_t n = 0;
    klaw_mp_read_uint(r, tag);
    klaw_mp_read_array(r, &n);
    if (KLAW_UNLIKELY(n != 5))
        return klaw_mp_reader_status(r) ? klaw_mp_reader_status(r) : KLAW_VALIDATE;
    for (int i = 0; i < 5; i++)
        klaw_mp_read_uint(r, &h[i]);
    return klaw_mp_reader_status(r);
}

static inline klaw_status decode_one(const uint8_t *frame, size_t len, codec_env *e)
{
    klaw_mp_reader r;
    uint32_t n = 0;
    uint64_t h[5];
    klaw_status st;

    memset(e, 0, sizeof *e);
    klaw_mp_reader_init(&r, frame, len);
    klaw_mp_read_array(&r, &n);
    if (KLAW_UNLIKELY(n != 3))
        return klaw_mp_reader_status(&r) ? klaw_mp_reader_status(&r) : KLAW_VALIDATE;
    st = read_header(&r, &e->tag, h);
    if (KLAW_UNLIKELY(st != KLAW_OK))
        return st;
    e->version = h[0];
    e->kind = h[1];
    e->channel_id = h[2];
    e->seq = h[3];
    e->ts_ms = h[4];

    klaw_mp_read_map(&r, &n);
    for (uint32_t i = 0; i < n; i++) {
        const char *k;
        uint32_t kn;
        if (KLAW_UNLIKELY(klaw_mp_read_str(&r, &k, &kn) != KLAW_OK))
            break;
        if (key_is(k, kn, "id", 2)) {
            klaw_mp_read_int(&r, &e->id);
        } else if (key_is(k, kn, "price", 5)) {
            klaw_mp_read_double(&r, &e->price);
        } else if (key_is(k, kn, "sym", 3)) {
            klaw_mp_read_str(&r, &e->sym, &e->sym_len);
        } else if (key_is(k, kn, "qty", 3)) {
            klaw_mp_read_int(&r, &e->qty);
        } else if (key_is(k, kn, "tags", 4)) {
            uint32_t t = 0;
            klaw_mp_read_array(&r, &t);
            if (KLAW_UNLIKELY(t != 2))
                return klaw_mp_reader_status(&r) ? klaw_mp_reader_status(&r) : KLAW_VALIDATE;
            klaw_mp_read_str(&r, &e->tags[0], &e->tags_len[0]);
            klaw_mp_read_str(&r, &e->tags[1], &e->tags_len[1]);
        } else if (key_is(k, kn, "pad", 3)) {
            e->has_pad = true;
            klaw_mp_read_bin(&r, &e->pad, &e->pad_len);
        } else {
            klaw_mp_skip(&r);
        }
    }
    return klaw_mp_reader_finish(&r);
}

klaw_status codec_klaw_decode(const uint8_t *frame, size_t len, codec_env *out)
{
    return decode_one(frame, len, out);
}

uint64_t codec_klaw_decode_loop(void *ctx, uint64_t iters)
{
    codec_klaw_ctx *c = ctx;
    uint64_t sum = 0;
    codec_env e;
    for (uint64_t i = 0; i < iters; i++) {
        if (KLAW_UNLIKELY(decode_one(c->frame, c->frame_len, &e) != KLAW_OK)) {
            c->status = KLAW_DECODE;
            return sum;
        }
        sum += codec_env_digest(&e);
    }
    return sum;
}

/* ---- peek -------------------------------------------------------------- */

static inline klaw_status peek_one(const uint8_t *frame, size_t len, codec_peek *p)
{
    klaw_mp_reader r;
    uint32_t n = 0;
    uint64_t h[5];
    klaw_mp_raw rest;
    klaw_status st;

    klaw_mp_reader_init(&r, frame, len);
    klaw_mp_read_array(&r, &n);
    if (KLAW_UNLIKELY(n != 3))
        return klaw_mp_reader_status(&r) ? klaw_mp_reader_status(&r) : KLAW_VALIDATE;
    st = read_header(&r, &p->tag, h);
    if (KLAW_UNLIKELY(st != KLAW_OK))
        return st;
    /* The payload is the last element: take it unread, in constant time. */
    st = klaw_mp_read_rest(&r, &rest);
    p->version = h[0];
    p->kind = h[1];
    p->channel_id = h[2];
    p->seq = h[3];
    p->ts_ms = h[4];
    p->payload = rest.ptr;
    p->payload_len = rest.len;
    return st;
}

klaw_status codec_klaw_peek(const uint8_t *frame, size_t len, codec_peek *out)
{
    return peek_one(frame, len, out);
}

uint64_t codec_klaw_peek_loop(void *ctx, uint64_t iters)
{
    codec_klaw_ctx *c = ctx;
    uint64_t sum = 0;
    codec_peek p;
    for (uint64_t i = 0; i < iters; i++) {
        if (KLAW_UNLIKELY(peek_one(c->frame, c->frame_len, &p) != KLAW_OK)) {
            c->status = KLAW_DECODE;
            return sum;
        }
        sum += codec_peek_digest(&p);
    }
    return sum;
}

/* ---- frames ------------------------------------------------------------ */

static size_t payload_size(const codec_env *e)
{
    klaw_mp_writer w;
    klaw_mp_writer_init(&w, NULL, 0); /* measuring writer */
    write_payload(&w, e);
    return klaw_mp_writer_needed(&w);
}

size_t codec_reference_payload_bytes(void)
{
    codec_env e;
    codec_env_reference(&e);
    return payload_size(&e);
}

klaw_status codec_frame_make(codec_frame *f, size_t payload_bytes)
{
    klaw_mp_writer w;
    memset(f, 0, sizeof *f);
    codec_env_reference(&f->env);
    if (payload_bytes) {
        /* "pad" key (4 bytes) + bin header (2, 3 or 5 bytes) + data */
        size_t base = payload_size(&f->env), pad = 0;
        static const size_t hdr[3] = {2, 3, 5};
        static const size_t maxlen[3] = {UINT8_MAX, UINT16_MAX, UINT32_MAX};
        bool found = false;
        for (int k = 0; k < 3 && !found; k++) {
            if (payload_bytes >= base + 4 + hdr[k]) {
                pad = payload_bytes - base - 4 - hdr[k];
                found = pad <= maxlen[k] && (k == 0 || pad > maxlen[k - 1]);
            }
        }
        if (!found)
            return KLAW_INVAL;
        f->pad_buf = malloc(pad ? pad : 1);
        if (!f->pad_buf)
            return KLAW_NOMEM;
        for (size_t i = 0; i < pad; i++)
            f->pad_buf[i] = (uint8_t)(i * 31u + 7u);
        f->env.has_pad = true;
        f->env.pad = f->pad_buf;
        f->env.pad_len = (uint32_t)pad;
    }
    klaw_mp_writer_init(&w, NULL, 0);
    write_header(&w, &f->env);
    f->payload_off = klaw_mp_writer_needed(&w);
    write_payload(&w, &f->env);
    f->len = klaw_mp_writer_needed(&w);
    f->payload_len = f->len - f->payload_off;
    f->bytes = malloc(f->len);
    if (!f->bytes) {
        codec_frame_free(f);
        return KLAW_NOMEM;
    }
    size_t len = 0;
    klaw_status st = encode_one(&f->env, f->bytes, f->len, &len);
    if (st != KLAW_OK || len != f->len || (payload_bytes && f->payload_len != payload_bytes)) {
        codec_frame_free(f);
        return st != KLAW_OK ? st : KLAW_INVAL;
    }
    return KLAW_OK;
}

void codec_frame_free(codec_frame *f)
{
    free(f->pad_buf);
    free(f->bytes);
    f->pad_buf = NULL;
    f->bytes = NULL;
}

static bool same_bytes(const void *a, const void *b, size_t n)
{
    return n == 0 || memcmp(a, b, n) == 0;
}

bool codec_env_equal(const codec_env *a, const codec_env *b)
{
    return a->tag == b->tag && a->version == b->version && a->kind == b->kind && a->channel_id == b->channel_id &&
           a->seq == b->seq && a->ts_ms == b->ts_ms && a->id == b->id &&
           memcmp(&a->price, &b->price, sizeof a->price) == 0 && a->qty == b->qty && a->sym_len == b->sym_len &&
           same_bytes(a->sym, b->sym, a->sym_len) && a->tags_len[0] == b->tags_len[0] &&
           same_bytes(a->tags[0], b->tags[0], a->tags_len[0]) && a->tags_len[1] == b->tags_len[1] &&
           same_bytes(a->tags[1], b->tags[1], a->tags_len[1]) && a->has_pad == b->has_pad &&
           a->pad_len == b->pad_len && same_bytes(a->pad, b->pad, a->pad_len);
}

/* ---- the schema cases ---------------------------------------------------- */

static const klaw_str REF_TAGS[2] = {KLAW_STR_LIT("equity"), KLAW_STR_LIT("nasdaq")};

/* One table, two forms: the struct descs differ only in KLAW_S_ARRAY_LIKE. */
static const klaw_field ref_tag = {KLAW_ELEM(klaw_str, KLAW_K_STR)};
static const klaw_field ref_fields[] = {
    {KLAW_FIELD(codec_ref, id, KLAW_K_I64)},
    {KLAW_FIELD(codec_ref, price, KLAW_K_DOUBLE)},
    {KLAW_FIELD(codec_ref, sym, KLAW_K_STR)},
    {KLAW_FIELD(codec_ref, qty, KLAW_K_I64)},
    {KLAW_FIELD(codec_ref, tags, KLAW_K_ARRAY), .elem = &ref_tag},
};
static const klaw_struct_desc ref_desc[2] = {
    [CODEC_FORM_MAP] = {.name = "RefPayload", .size = sizeof(codec_ref), KLAW_FIELDS(ref_fields)},
    [CODEC_FORM_ARRAY_LIKE] = {.name = "RefPayload", .size = sizeof(codec_ref), KLAW_FIELDS(ref_fields),
                               .flags = KLAW_S_ARRAY_LIKE},
};

const char *codec_form_name(codec_form form) { return form == CODEC_FORM_MAP ? "map" : "array_like"; }

void codec_ref_reference(codec_ref *r)
{
    codec_env e;
    codec_env_reference(&e);
    memset(r, 0, sizeof *r);
    r->id = e.id;
    r->price = e.price;
    r->sym = (klaw_str){e.sym, e.sym_len};
    r->qty = e.qty;
    r->tags = (klaw_array){(void *)REF_TAGS, 2};
}

klaw_status codec_ref_schema(codec_form form, klaw_schema **out)
{
    return klaw_schema_compile(&ref_desc[form == CODEC_FORM_MAP ? CODEC_FORM_MAP : CODEC_FORM_ARRAY_LIKE], out,
                               NULL);
}

klaw_status codec_ref_payload(codec_form form, int64_t id, uint8_t *buf, size_t cap, size_t *len)
{
    codec_env e;
    klaw_mp_writer w;
    codec_env_reference(&e);
    e.id = id;
    klaw_mp_writer_init(&w, buf, cap);
    if (form == CODEC_FORM_MAP) {
        write_payload(&w, &e); /* the envelope's payload, byte for byte */
    } else {
        klaw_mp_write_array(&w, 5);
        klaw_mp_write_int(&w, e.id);
        klaw_mp_write_double(&w, e.price);
        klaw_mp_write_str(&w, e.sym, e.sym_len);
        klaw_mp_write_int(&w, e.qty);
        klaw_mp_write_array(&w, 2);
        klaw_mp_write_str(&w, e.tags[0], e.tags_len[0]);
        klaw_mp_write_str(&w, e.tags[1], e.tags_len[1]);
    }
    return klaw_mp_writer_finish(&w, len);
}

uint64_t codec_schema_decode_loop(void *ctx, uint64_t iters)
{
    codec_schema_ctx *c = ctx;
    uint64_t sum = 0;
    codec_ref r;
    for (uint64_t i = 0; i < iters; i++) {
        /* a frame's tags live until the next frame: one reset, no free */
        klaw_arena_reset(&c->arena);
        klaw_status st = klaw_schema_decode(c->schema, c->payload, c->payload_len, &r, &c->arena, 0, NULL);
        if (KLAW_UNLIKELY(st != KLAW_OK)) {
            c->status = st;
            return sum;
        }
        sum += codec_ref_digest(&r);
    }
    if (iters)
        c->last = r;
    return sum;
}

uint64_t codec_schema_encode_loop(void *ctx, uint64_t iters)
{
    codec_schema_ctx *c = ctx;
    codec_ref r = c->in;
    uint64_t sum = 0;
    size_t len = 0;
    for (uint64_t i = 0; i < iters; i++) {
        klaw_mp_writer w;
        r.id = c->in.id + (int64_t)i;
        klaw_mp_writer_init(&w, c->out, c->out_cap);
        klaw_schema_encode(c->schema, &r, &w);
        if (KLAW_UNLIKELY(klaw_mp_writer_finish(&w, &len) != KLAW_OK)) {
            c->status = w.status;
            return sum;
        }
        BENCH_ESCAPE(c->out);
        sum += len;
    }
    c->out_len = len;
    return sum;
}
