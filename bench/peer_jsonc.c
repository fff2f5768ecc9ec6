/*
 * peer_jsonc.c - the codec suite's JSON cases done with json-c (see
 * peer_jsonc.h for why each is written the way it is).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "klaw/mp_reader.h"
#include "klaw/mp_writer.h"
#include "peer_jsonc.h"

/* Deeper than any document of the suite; bounds the recursion. */
enum { MAX_DEPTH = 64, KEY_MAX = 256 };

struct peer_jsonc {
    struct json_tokener *tok; /* made once, reset per document          */
    const char *json;         /* json_to_mp input (json[json_len] NUL)  */
    size_t json_len;
    uint8_t *out;             /* json_to_mp output                      */
    size_t out_cap, out_len;
    const uint8_t *mp;        /* mp_to_json input                       */
    size_t mp_len;
    char *text;               /* mp_to_json_once's copy of the text     */
    size_t text_cap;
    int failed;
};

peer_jsonc *peer_jsonc_new(size_t out_cap)
{
    peer_jsonc *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->tok = json_tokener_new();
    p->out = malloc(out_cap ? out_cap : 1);
    p->out_cap = out_cap;
    if (!p->tok || !p->out) {
        peer_jsonc_free(p);
        return NULL;
    }
    return p;
}

void peer_jsonc_free(peer_jsonc *p)
{
    if (!p)
        return;
    if (p->tok)
        json_tokener_free(p->tok);
    free(p->out);
    free(p->text);
    free(p);
}

void peer_jsonc_set_json(peer_jsonc *p, const char *json, size_t len)
{
    p->json = json;
    p->json_len = len;
}

void peer_jsonc_set_mp(peer_jsonc *p, const uint8_t *mp, size_t len)
{
    p->mp = mp;
    p->mp_len = len;
}

int peer_jsonc_failed(const peer_jsonc *p) { return p->failed; }

const uint8_t *peer_jsonc_mp_output(const peer_jsonc *p, size_t *len)
{
    *len = p->out_len;
    return p->out;
}

/* ---- JSON -> MessagePack ------------------------------------------------ */

/* Writes json-c's tree as MessagePack, in the smallest encodings (the
 * klaw writer's), so the bytes can be compared with klaw_json_to_mp's. */
static bool put_tree(klaw_mp_writer *w, struct json_object *o, int depth)
{
    if (depth > MAX_DEPTH)
        return false;
    switch (json_object_get_type(o)) {
    case json_type_null:
        klaw_mp_write_nil(w);
        return true;
    case json_type_boolean:
        klaw_mp_write_bool(w, json_object_get_boolean(o) != 0);
        return true;
    case json_type_double:
        klaw_mp_write_double(w, json_object_get_double(o));
        return true;
    case json_type_int: {
        /* json-c keeps integers above INT64_MAX as uint64; get_int64 clamps
         * them to INT64_MAX */
        int64_t i = json_object_get_int64(o);
        if (i == INT64_MAX)
            klaw_mp_write_uint(w, json_object_get_uint64(o));
        else
            klaw_mp_write_int(w, i);
        return true;
    }
    case json_type_string:
        klaw_mp_write_str(w, json_object_get_string(o), (size_t)json_object_get_string_len(o));
        return true;
    case json_type_array: {
        size_t n = json_object_array_length(o);
        klaw_mp_write_array(w, n);
        for (size_t i = 0; i < n; i++)
            if (!put_tree(w, json_object_array_get_idx(o, i), depth + 1))
                return false;
        return true;
    }
    case json_type_object: {
        klaw_mp_write_map(w, (size_t)json_object_object_length(o));
        json_object_object_foreach(o, key, val)
        {
            klaw_mp_write_str(w, key, strlen(key));
            if (!put_tree(w, val, depth + 1))
                return false;
        }
        return true;
    }
    }
    return false;
}

static inline uint64_t json_to_mp_one(peer_jsonc *p)
{
    klaw_mp_writer w;
    struct json_object *o;
    bool ok;

    json_tokener_reset(p->tok);
    /* the length counts the NUL: the end of input, as json-c asks */
    o = json_tokener_parse_ex(p->tok, p->json, (int)p->json_len + 1);
    if (!o || json_tokener_get_error(p->tok) != json_tokener_success ||
        json_tokener_get_parse_end(p->tok) != p->json_len) {
        /* (a document that is JSON null parses to NULL too: not one of the
         * suite's documents) */
        json_object_put(o);
        p->failed = 1;
        return 0;
    }
    klaw_mp_writer_init(&w, p->out, p->out_cap);
    ok = put_tree(&w, o, 0);
    json_object_put(o);
    if (!ok || klaw_mp_writer_finish(&w, &p->out_len) != KLAW_OK || p->out_len == 0) {
        p->failed = 1;
        return 0;
    }
    return p->out_len + p->out[p->out_len - 1];
}

uint64_t peer_jsonc_json_to_mp_loop(void *ctx, uint64_t iters)
{
    peer_jsonc *p = ctx;
    uint64_t sum = 0;
    for (uint64_t i = 0; i < iters; i++)
        sum += json_to_mp_one(p);
    return sum;
}

/* ---- MessagePack -> JSON ------------------------------------------------ */

/* Reads one value into a json-c tree (*out; NULL is JSON null). */
static bool build(klaw_mp_reader *r, struct json_object **out, int depth)
{
    klaw_mp_item it;
    struct json_object *o = NULL;

    *out = NULL;
    if (depth > MAX_DEPTH || klaw_mp_read(r, &it) != KLAW_OK)
        return false;
    switch (it.type) {
    case KLAW_MP_NIL:
        return true;
    case KLAW_MP_BOOL:
        o = json_object_new_boolean(it.v.b);
        break;
    case KLAW_MP_UINT:
        o = it.v.u <= INT64_MAX ? json_object_new_int64((int64_t)it.v.u) : json_object_new_uint64(it.v.u);
        break;
    case KLAW_MP_INT:
        o = json_object_new_int64(it.v.i);
        break;
    case KLAW_MP_FLOAT32:
        o = json_object_new_double(it.v.f);
        break;
    case KLAW_MP_FLOAT64:
        o = json_object_new_double(it.v.d);
        break;
    case KLAW_MP_STR:
        o = json_object_new_string_len((const char *)it.data, (int)it.len);
        break;
    case KLAW_MP_ARRAY:
        o = json_object_new_array_ext((int)it.len);
        for (uint32_t i = 0; o && i < it.len; i++) {
            struct json_object *e;
            if (!build(r, &e, depth + 1) || json_object_array_add(o, e) != 0) {
                json_object_put(e);
                json_object_put(o);
                return false;
            }
        }
        break;
    case KLAW_MP_MAP:
        o = json_object_new_object();
        for (uint32_t i = 0; o && i < it.len; i++) {
            /* json-c's keys are C strings: copy the key to add a NUL (json-c
             * copies it again into the object) */
            char key[KEY_MAX];
            const char *k;
            uint32_t klen;
            struct json_object *v;
            if (klaw_mp_read_str(r, &k, &klen) != KLAW_OK || klen >= KEY_MAX || memchr(k, 0, klen) ||
                !build(r, &v, depth + 1)) {
                json_object_put(o);
                return false;
            }
            memcpy(key, k, klen);
            key[klen] = '\0';
            if (json_object_object_add_ex(o, key, v, JSON_C_OBJECT_ADD_KEY_IS_NEW) != 0) {
                json_object_put(v);
                json_object_put(o);
                return false;
            }
        }
        break;
    default: /* bin, ext, timestamp: JSON (and json-c) has no such type */
        return false;
    }
    *out = o;
    return o != NULL;
}

/* One operation: the tree, its text, the tree freed. With keep, the text
 * is copied into p->text first. Returns a checksum of the text, 0 when the
 * operation failed. */
static inline uint64_t mp_to_json_one(peer_jsonc *p, bool keep, size_t *len)
{
    klaw_mp_reader r;
    struct json_object *o;
    const char *s;
    size_t n = 0;
    uint64_t sum;

    klaw_mp_reader_init(&r, p->mp, p->mp_len);
    if (!build(&r, &o, 0) || klaw_mp_reader_finish(&r) != KLAW_OK) {
        json_object_put(o);
        p->failed = 1;
        return 0;
    }
    s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &n);
    if (!s || n == 0) {
        json_object_put(o);
        p->failed = 1;
        return 0;
    }
    sum = n + (uint8_t)s[0] + (uint8_t)s[n - 1];
    if (keep) {
        if (n + 1 > p->text_cap) {
            char *t = realloc(p->text, n + 1);
            if (!t) {
                json_object_put(o);
                p->failed = 1;
                return 0;
            }
            p->text = t;
            p->text_cap = n + 1;
        }
        memcpy(p->text, s, n + 1);
        *len = n;
    }
    json_object_put(o);
    return sum;
}

uint64_t peer_jsonc_mp_to_json_loop(void *ctx, uint64_t iters)
{
    peer_jsonc *p = ctx;
    uint64_t sum = 0;
    for (uint64_t i = 0; i < iters; i++)
        sum += mp_to_json_one(p, false, NULL);
    return sum;
}

const char *peer_jsonc_mp_to_json_once(peer_jsonc *p, size_t *len)
{
    *len = 0;
    return mp_to_json_one(p, true, len) ? p->text : NULL;
}
