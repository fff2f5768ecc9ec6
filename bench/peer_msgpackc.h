/*
 * peer_msgpackc.h - msgpack-c (the C library, 4.x) doing the codec suite's
 * operations on the same data as klaw (see codec_cases.h). Compiled only
 * when meson found msgpack-c (KLAW_BENCH_HAVE_MSGPACKC).
 *
 * Each operation is written the way msgpack-c's documentation and examples
 * make it fast, so klaw is compared with msgpack-c at its best:
 *   encode - msgpack_packer over a msgpack_sbuffer that is cleared, not
 *            freed, before every frame (no allocation once it has grown).
 *   decode - msgpack_unpack() into a msgpack_zone that is kept and cleared
 *            (msgpack_zone_clear) before every frame, rather than
 *            msgpack_unpack_next(), which frees and allocates a zone per
 *            call; then the object tree is read into a codec_env, the same
 *            fields with the same type checks klaw's decode makes.
 *   header - msgpack-c has no lazy mode: the comparison for klaw's peek is
 *            the same full unpack, then the tag and header fields are read
 *            from the tree.
 *
 * The schema cases (the reference payload alone, codec_ref):
 *   ref decode - msgpack_unpack() into the reused zone, then the five
 *            fields read out of the tree with the checks klaw's schema
 *            makes (id and qty int64, price float or int, sym str, tags an
 *            array of str; map form: str keys, each field exactly once,
 *            unknown keys passed over; array_like: at least 5 items), and
 *            folded into codec_ref_digest's checksum. Map form finds a
 *            field the way a msgpack-c user must: by comparing the key
 *            strings of the map object's pairs.
 *   ref encode - msgpack_pack_* of a codec_ref into the cleared sbuffer:
 *            map form writes the keys, array_like does not.
 */
#ifndef KLAW_BENCH_PEER_MSGPACKC_H
#define KLAW_BENCH_PEER_MSGPACKC_H

#include <stddef.h>
#include <stdint.h>

#include "codec_cases.h"

typedef struct peer_msgpackc peer_msgpackc;

/* NULL when allocation fails. */
peer_msgpackc *peer_msgpackc_new(void);
void peer_msgpackc_free(peer_msgpackc *p);

/* The encode input (seq and ts_ms are the bases, as in codec_klaw_ctx). */
void peer_msgpackc_set_env(peer_msgpackc *p, const codec_env *e);
/* The decode / header input (the caller keeps the bytes alive). */
void peer_msgpackc_set_frame(peer_msgpackc *p, const uint8_t *frame, size_t len);

/* bench_loop_fn loops over a peer_msgpackc. */
uint64_t peer_msgpackc_encode_loop(void *p, uint64_t iters);
uint64_t peer_msgpackc_decode_loop(void *p, uint64_t iters);
uint64_t peer_msgpackc_header_loop(void *p, uint64_t iters);

/* The schema cases: the encode input (in.id is the base: operation i
 * writes id + i, as codec_schema_encode_loop does); the decode input is
 * the frame of peer_msgpackc_set_frame (here: a payload alone). */
void peer_msgpackc_set_ref(peer_msgpackc *p, const codec_ref *r);
uint64_t peer_msgpackc_ref_decode_map_loop(void *p, uint64_t iters);
uint64_t peer_msgpackc_ref_decode_array_loop(void *p, uint64_t iters);
uint64_t peer_msgpackc_ref_encode_map_loop(void *p, uint64_t iters);
uint64_t peer_msgpackc_ref_encode_array_loop(void *p, uint64_t iters);

/* The bytes of the last encoding. */
const uint8_t *peer_msgpackc_output(const peer_msgpackc *p, size_t *len);

/* Decodes the frame once into *out (views into the frame); 0 on success. */
int peer_msgpackc_decode(peer_msgpackc *p, codec_env *out);
/* Unpacks the frame once and reads the header fields; payload_len is left
 * 0 (a tree has no span), payload_pairs gets the payload map's size. */
int peer_msgpackc_header(peer_msgpackc *p, codec_peek *out, uint32_t *payload_pairs);

/* Nonzero once a loop has failed (an encode that failed, a frame that did
 * not unpack or did not have the expected shape). */
int peer_msgpackc_failed(const peer_msgpackc *p);

#endif /* KLAW_BENCH_PEER_MSGPACKC_H */
