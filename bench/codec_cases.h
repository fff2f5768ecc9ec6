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
 * Peers (bench/peer_*.c) implement the same operations on the same
 * codec_env and frames, and fold their results with the same digests.
 */
#ifndef KLAW_BENCH_CODEC_CASES_H
#define KLAW_BENCH_CODEC_CASES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "klaw/mp_reader.h"
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

#endif /* KLAW_BENCH_CODEC_CASES_H */
