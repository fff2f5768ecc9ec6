/*
 * peer_jsonc.h - json-c (Debian's libjson-c-dev, 0.16) doing the codec
 * suite's JSON cases on the same documents as klaw. Compiled only when
 * meson found json-c (KLAW_BENCH_HAVE_JSONC).
 *
 * json-c has no MessagePack side, so each operation pairs json-c's own work
 * with klaw's MessagePack writer or reader - the only way json-c takes part
 * in a JSON <-> MessagePack conversion - written the way json-c's
 * documentation makes it fast:
 *
 *   json_to_mp - one json_tokener, made once and json_tokener_reset() before
 *                every document, json_tokener_parse_ex() to json-c's object
 *                tree, a walk of the tree that writes MessagePack with a
 *                klaw_mp_writer into a fixed buffer, json_object_put().
 *                The tokener runs with its default flags (no
 *                JSON_TOKENER_STRICT, no JSON_TOKENER_VALIDATE_UTF8), which
 *                is json-c at its fastest and at its laxest: klaw's parser
 *                always does the strict RFC 8259 checks and validates UTF-8.
 *                The row is parse + convert, the same operation as klaw's
 *                (DESIGN.md: a peer row is the same case), but nearly all
 *                of it is json-c's parse alone (building the tree: a malloc
 *                per value, a hash table per object, and a copy of each
 *                float's text, which json-c keeps to print it back as it
 *                was): timed once apart (release build, x86-64), the parse
 *                was 85% of the envelope's time, 90% of "numbers" and 94%
 *                of "strings"; the walk that writes MessagePack is the rest.
 *   mp_to_json - the MessagePack is read with a strict klaw_mp_reader (as
 *                klaw_json_from_mp_buf reads it, UTF-8 checked) into a
 *                json-c tree (json_object_new_array_ext with the known
 *                size; object members added with JSON_C_OBJECT_ADD_KEY_IS_NEW,
 *                which skips json-c's duplicate-key lookup and, like klaw,
 *                keeps duplicate keys), then
 *                json_object_to_json_string_ext(JSON_C_TO_STRING_PLAIN)
 *                and json_object_put(). The text is left in json-c's own
 *                buffer (not copied out).
 *
 * Only the MessagePack types that JSON has are supported (nil, bool, int,
 * float, str, array, map with str keys); anything else fails the operation.
 */
#ifndef KLAW_BENCH_PEER_JSONC_H
#define KLAW_BENCH_PEER_JSONC_H

#include <stddef.h>
#include <stdint.h>

typedef struct peer_jsonc peer_jsonc;

/* out_cap: the size of the MessagePack output buffer for json_to_mp.
 * NULL when allocation fails. */
peer_jsonc *peer_jsonc_new(size_t out_cap);
void peer_jsonc_free(peer_jsonc *p);

/* The json_to_mp input: json[0, len); json[len] must be a NUL (json-c is
 * given the NUL, as its documentation asks at the end of input). The
 * caller keeps it alive. */
void peer_jsonc_set_json(peer_jsonc *p, const char *json, size_t len);
/* The mp_to_json input (the caller keeps it alive). */
void peer_jsonc_set_mp(peer_jsonc *p, const uint8_t *mp, size_t len);

/* bench_loop_fn loops over a peer_jsonc. */
uint64_t peer_jsonc_json_to_mp_loop(void *p, uint64_t iters);
uint64_t peer_jsonc_mp_to_json_loop(void *p, uint64_t iters);

/* The MessagePack the last json_to_mp operation wrote. */
const uint8_t *peer_jsonc_mp_output(const peer_jsonc *p, size_t *len);

/* One mp_to_json operation, the same code as the loop, with the text
 * copied out into p's buffer (valid until the next call or free);
 * NULL when the operation failed. */
const char *peer_jsonc_mp_to_json_once(peer_jsonc *p, size_t *len);

/* Nonzero once an operation has failed (a parse error, trailing text, a
 * type json-c cannot hold, the output buffer too small, out of memory). */
int peer_jsonc_failed(const peer_jsonc *p);

#endif /* KLAW_BENCH_PEER_JSONC_H */
