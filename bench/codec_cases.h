/*
 * codec_cases.h - the klaw side of klaw-bench's codec suite, shared with
 * tests/test_alloc.c so the zero-malloc test runs exactly the code paths the
 * benchmark times.
 *
 * The data is a wire-v1 DataMessage, the "reference envelope":
 *
 *   [1, [1, 1, 42, seq, ts_ms], {"id": int, "price": float, "sym": str,
 *                                 "qty": int, "tags": [str, str]}]
 *
 * optionally with a sixth payload field "pad" (bin) that pads the payload
 * to an exact size. Three operations are measured:
 *   encode - write the envelope with klaw_mp_writer into a fixed buffer;
 *            seq and ts_ms change every operation.
 *   decode - read every value of the frame with the reader (every int,
 *            float and str, str bytes touched) into a codec_env.
 *   peek   - read the tag and the five header fields and take the payload
 *            as a Raw span (klaw_mp_read_rest), leaving it undecoded.
 *
 * And the schema layer (klaw/schema.h) on the reference payload alone, the
 * C struct codec_ref below, described twice: map form (the payload exactly
 * as above) and KLAW_S_ARRAY_LIKE form (the same values as
 * [id, price, sym, qty, [tags...]]):
 *   schema_decode - klaw_schema_decode into a codec_ref, tags into an arena
 *                   reset before every frame; every field then read into a
 *                   checksum (codec_ref_digest).
 *   schema_encode - klaw_schema_encode of a codec_ref into a fixed buffer;
 *                   id changes every operation.
 *
 * Peers (bench/peer_*.c) implement the same operations on the same
 * codec_env and frames, and fold their results with the same digests.
 */
#ifndef KLAW_BENCH_CODEC_CASES_H
#define KLAW_BENCH_CODEC_CASES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "klaw/arena.h"
#include "klaw/mp_reader.h"
#include "klaw/schema.h"
#include "klaw/status.h"

/* Every field of the envelope, header and payload. str and bin fields are
 * views (into static data for encode inputs, into the frame after decode). */
typedef struct codec_env {
    uint64_t tag; /* 1: DataMessage */
    uint64_t version, kind, channel_id, seq, ts_ms;
    int64_t id;
    double price;
    const char *sym;
    uint32_t sym_len;
    int64_t qty;
    const char *tags[2];
    uint32_t tags_len[2];
    bool has_pad;
    const uint8_t *pad;
    uint32_t pad_len;
} codec_env;

/* The header fields and the payload span that a peek yields. */
typedef struct codec_peek {
    uint64_t tag, version, kind, channel_id, seq, ts_ms;
    const uint8_t *payload;
    size_t payload_len;
} codec_peek;

/* A frame to decode or peek at, with the values it was made from. */
typedef struct codec_frame {
    codec_env env;      /* what was encoded (env.pad points at pad_buf)  */
    uint8_t *pad_buf;   /* the pad bytes (NULL without a pad)            */
    uint8_t *bytes;     /* the encoded frame                             */
    size_t len;
    size_t payload_off; /* where the payload (third element) starts      */
    size_t payload_len; /* its size: len - payload_off                   */
} codec_frame;

/* seq and ts_ms of operation i are base + i; the bases keep their
 * encodings the same width for 2^31 operations, so every operation of a
 * loop writes the same number of bytes. */
#define CODEC_SEQ_BASE UINT64_C(1048576)
#define CODEC_TS_BASE UINT64_C(1700000000000)

/* The reference envelope's values (no pad). */
void codec_env_reference(codec_env *e);

/* Builds a frame (heap memory; free with codec_frame_free). payload_bytes
 * 0 gives the reference payload; otherwise a "pad" bin is added so the
 * payload is exactly payload_bytes long (it must be at least the
 * reference payload plus 6). KLAW_INVAL when that cannot be done,
 * KLAW_NOMEM when allocation fails. */
klaw_status codec_frame_make(codec_frame *f, size_t payload_bytes);
void codec_frame_free(codec_frame *f);

/* Size of the reference payload (the map with five fields). */
size_t codec_reference_payload_bytes(void);

/* Single operations (the loops below use the same code, inlined). */
klaw_status codec_klaw_encode(const codec_env *e, uint8_t *buf, size_t cap, size_t *len);
klaw_status codec_klaw_decode(const uint8_t *frame, size_t len, codec_env *out);
klaw_status codec_klaw_peek(const uint8_t *frame, size_t len, codec_peek *out);

/* State for the klaw loops. */
typedef struct codec_klaw_ctx {
    codec_env env;        /* encode input; seq/ts_ms are bases        */
    uint8_t *out;         /* encode output buffer                     */
    size_t out_cap;
    size_t out_len;       /* length of the last encoding              */
    const uint8_t *frame; /* decode / peek input                      */
    size_t frame_len;
    klaw_status status;   /* the first failure inside a loop          */
} codec_klaw_ctx;

/* bench_loop_fn loops over a codec_klaw_ctx (void * for bench_loop_fn). */
uint64_t codec_klaw_encode_loop(void *ctx, uint64_t iters);
uint64_t codec_klaw_decode_loop(void *ctx, uint64_t iters);
uint64_t codec_klaw_peek_loop(void *ctx, uint64_t iters);

/* Checksums every implementation folds its results into. A decode digest
 * reads every field and every byte of every str (not the pad's bytes,
 * which only a full decode of the pad would need; its length counts). */
static inline uint64_t codec_env_digest(const codec_env *e)
{
    uint64_t h = e->tag + e->version + e->kind + e->channel_id + e->seq + e->ts_ms;
    uint64_t bits;
    memcpy(&bits, &e->price, sizeof bits);
    h += (uint64_t)e->id + bits + (uint64_t)e->qty + e->pad_len;
    for (uint32_t i = 0; i < e->sym_len; i++)
        h = h * 31 + (uint8_t)e->sym[i];
    for (int t = 0; t < 2; t++)
        for (uint32_t i = 0; i < e->tags_len[t]; i++)
            h = h * 31 + (uint8_t)e->tags[t][i];
    return h;
}

static inline uint64_t codec_peek_digest(const codec_peek *p)
{
    return p->tag + p->version + p->kind + p->channel_id + p->seq + p->ts_ms + p->payload_len +
           (p->payload_len ? p->payload[0] : 0);
}

/* Field-by-field equality (str and bin compared by content). */
bool codec_env_equal(const codec_env *a, const codec_env *b);

/* ---- the schema cases ---------------------------------------------------- */

/* The reference payload as a C struct: tags is a klaw_array of klaw_str
 * (variable length: the items live in the decoder's arena). */
typedef struct codec_ref {
    int64_t id;
    double price;
    klaw_str sym;
    int64_t qty;
    klaw_array tags; /* klaw_str items */
} codec_ref;

typedef enum codec_form {
    CODEC_FORM_MAP = 0,    /* {"id": ..., "price": ..., ...}             */
    CODEC_FORM_ARRAY_LIKE, /* [id, price, sym, qty, tags]                */
} codec_form;

/* "map" / "array_like": the "form" parameter of the schema cases. */
const char *codec_form_name(codec_form form);

/* The reference values (codec_env_reference's payload); tags points at
 * static items. */
void codec_ref_reference(codec_ref *r);

/* Compiles the schema of codec_ref in the given form (malloc'd: free with
 * klaw_schema_free). */
klaw_status codec_ref_schema(codec_form form, klaw_schema **out);

/* Writes the reference payload in the given form with the plain writer (not
 * the schema layer), id replaced by `id`: what both encoders must produce
 * and both decoders read. */
klaw_status codec_ref_payload(codec_form form, int64_t id, uint8_t *buf, size_t cap, size_t *len);

/* State for the klaw schema loops. */
typedef struct codec_schema_ctx {
    const klaw_schema *schema;
    codec_ref in;          /* encode input; in.id is the base         */
    uint8_t *out;          /* encode output buffer                    */
    size_t out_cap;
    size_t out_len;        /* length of the last encoding             */
    const uint8_t *payload; /* decode input                           */
    size_t payload_len;
    klaw_arena arena;      /* decode: tags' items; reset every frame  */
    codec_ref last;        /* decode: the last frame's result         */
    klaw_status status;    /* the first failure inside a loop         */
} codec_schema_ctx;

/* bench_loop_fn loops over a codec_schema_ctx. Encode writes id = in.id +
 * i for operation i (keep in.id + iters within one encoding width). */
uint64_t codec_schema_decode_loop(void *ctx, uint64_t iters);
uint64_t codec_schema_encode_loop(void *ctx, uint64_t iters);

/* The schema decode checksum, built field by field so a peer that has no
 * codec_ref (msgpack-c reads its object tree) folds exactly the same:
 *   h = codec_ref_digest_nums(id, price, qty, ntags);
 *   h = codec_digest_str(h, sym); for each tag: h = codec_digest_str(h, tag) */
static inline uint64_t codec_ref_digest_nums(int64_t id, double price, int64_t qty, uint32_t ntags)
{
    uint64_t bits;
    memcpy(&bits, &price, sizeof bits);
    return (uint64_t)id + bits + (uint64_t)qty + ntags;
}

static inline uint64_t codec_digest_str(uint64_t h, const char *s, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        h = h * 31 + (uint8_t)s[i];
    return h;
}

static inline uint64_t codec_ref_digest(const codec_ref *r)
{
    const klaw_str *tags = (const klaw_str *)r->tags.items;
    uint64_t h = codec_ref_digest_nums(r->id, r->price, r->qty, r->tags.len);
    h = codec_digest_str(h, r->sym.ptr, r->sym.len);
    for (uint32_t t = 0; t < r->tags.len; t++)
        h = codec_digest_str(h, tags[t].ptr, tags[t].len);
    return h;
}

#endif /* KLAW_BENCH_CODEC_CASES_H */
