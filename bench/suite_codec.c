/*
 * suite_codec.c - klaw-bench's codec suite: klaw's MessagePack writer and
 * lazy reader against msgpack-c, and klaw's JSON text conversions against
 * json-c, on the same data in the same run.
 *
 *   encode      the reference envelope (codec_cases.h) into a buffer
 *   decode      every value of the reference frame
 *   peek        tag + header + payload as a Raw span, payloads of 64 B,
 *               4 KiB, 64 KiB and 1 MiB; msgpack-c, which has no lazy mode,
 *               does its full unpack of the same frame
 *   json_to_mp  JSON text -> MessagePack in a fixed buffer: klaw_json_to_mp
 *               against json-c's parse + a walk of its tree with the klaw
 *               writer (peer_jsonc.h)
 *   mp_to_json  MessagePack -> JSON text: klaw_json_from_mp_buf against a
 *               json-c tree built with the klaw reader and
 *               json_object_to_json_string_ext
 *
 *   schema_decode  the reference payload alone into a C struct
 *               (codec_ref: id, price, sym, qty, tags) with
 *               klaw_schema_decode, map and array_like forms (parameter
 *               "form"); msgpack-c unpacks it to its object tree and reads
 *               the same fields out of it with the same checks
 *   schema_encode  that struct back to the same bytes: klaw_schema_encode
 *               against msgpack_pack_* (keys in map form, none in
 *               array_like)
 *
 * The JSON cases run on three documents (parameter "doc"): "envelope", the
 * reference envelope as JSON text; "numbers", an array of 1000 mixed ints
 * and floats; "strings", an object of 100 str fields, some with escapes and
 * non-ASCII text. "json_bytes" is the document's JSON text length (the
 * input of json_to_mp; mp_to_json's input is its MessagePack).
 *
 * Before a case is timed, klaw and the peer are made to agree on the data
 * through the very loops that are timed (byte-equal encodings, equal
 * decoded fields, equal checksums; for mp_to_json, both texts read back to
 * the input's exact MessagePack); a case where they disagree is reported
 * as a failure and not timed, so the suite cannot measure the wrong thing.
 */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "bench_util.h"
#include "codec_cases.h"
#include "klaw/json.h"
#include "klaw/mp_reader.h"
#include "klaw/mp_writer.h"
#include "klaw/schema.h"
#include "report.h"

#ifdef KLAW_BENCH_HAVE_MSGPACKC
#include "peer_msgpackc.h"
#define MSGPACKC_LOOP(f) (f)
#else
typedef struct peer_msgpackc peer_msgpackc;
#define MSGPACKC_LOOP(f) NULL
#endif

#ifdef KLAW_BENCH_HAVE_JSONC
#include "peer_jsonc.h"
#endif

#define SUITE "codec"
#define PEER "msgpack-c"
#define PEER_MISSING "msgpack-c not found at build time"
#define JSON_PEER "json-c"
#define JSON_PEER_MISSING "json-c not found at build time"

enum { NPEEK = 4 };
static const size_t PEEK_PAYLOADS[NPEEK] = {64, 4096, 65536, 1048576};

static void make_key(bench_key *k, const char *case_name, const codec_frame *f)
{
    memset(k, 0, sizeof *k);
    k->suite = SUITE;
    k->case_name = case_name;
    bench_key_int(k, "payload_bytes", (long long)f->payload_len);
    bench_key_int(k, "frame_bytes", (long long)f->len);
}

/* One comparison: klaw's loop and (when built) a peer's, on one key. */
typedef struct comparison {
    bench_key key;
    bench_loop_fn klaw_fn;
    void *klaw_ctx;
    const klaw_status *klaw_status; /* the first failure inside klaw's loop */
    const char *peer;               /* the peer's impl name                 */
    const char *peer_missing;       /* why it is skipped when not built     */
    bench_loop_fn peer_fn;          /* NULL: the peer is not built          */
    void *peer_ctx;
    int (*peer_failed)(const void *peer_ctx); /* nonzero: a loop failed     */
    double klaw_ns;                 /* set by measure(): klaw's median, or
                                       0 when its rows were not emitted     */
} comparison;

/* A msgpack-c comparison for klaw's codec_klaw_ctx loops (peer_fn and p
 * are ignored when msgpack-c is not built). */
#ifdef KLAW_BENCH_HAVE_MSGPACKC
static int msgpackc_failed(const void *p) { return peer_msgpackc_failed(p); }
#endif

static comparison msgpackc_comparison(const bench_key *k, bench_loop_fn klaw_fn, codec_klaw_ctx *kc,
                                      bench_loop_fn peer_fn, peer_msgpackc *p)
{
    comparison c = {.key = *k, .klaw_fn = klaw_fn, .klaw_ctx = kc, .klaw_status = &kc->status, .peer = PEER,
                    .peer_missing = PEER_MISSING};
#ifdef KLAW_BENCH_HAVE_MSGPACKC
    c.peer_fn = peer_fn;
    c.peer_ctx = p;
    c.peer_failed = msgpackc_failed;
#else
    (void)peer_fn;
    (void)p;
#endif
    return c;
}

/* Times every comparison in one interleaved measurement (so noise from the
 * rest of the machine falls on all of them alike: the peek sizes are
 * compared with each other too) and emits klaw's and the peers' rows. */
static void measure(const bench_opts *o, comparison *c, unsigned n)
{
    bench_subject s[BENCH_MAX_SUBJECTS];
    unsigned ns = 0;
    for (unsigned i = 0; i < n && ns + 2 <= BENCH_MAX_SUBJECTS; i++) {
        s[ns++] = (bench_subject){.fn = c[i].klaw_fn, .ctx = c[i].klaw_ctx};
        if (c[i].peer_fn)
            s[ns++] = (bench_subject){.fn = c[i].peer_fn, .ctx = c[i].peer_ctx};
    }
    bench_measure(s, ns, o->runs, o->rep_ns);
    ns = 0;
    for (unsigned i = 0; i < n; i++) {
        const bench_subject *mine = &s[ns++];
        const bench_subject *peer = c[i].peer_fn ? &s[ns++] : NULL;
        c[i].klaw_ns = 0;
        if (*c[i].klaw_status != KLAW_OK) {
            bench_fail(&c[i].key, "klaw failed inside the timed loop: %s", klaw_strerror(*c[i].klaw_status));
            continue;
        }
        if (peer && c[i].peer_failed(c[i].peer_ctx)) {
            bench_fail(&c[i].key, "%s failed inside the timed loop", c[i].peer);
            continue;
        }
        bench_emit_time(&c[i].key, "klaw", mine->ns_per_op);
        c[i].klaw_ns = mine->ns_per_op;
        if (peer)
            bench_emit_time(&c[i].key, c[i].peer, peer->ns_per_op);
        else
            bench_emit_time_skipped(&c[i].key, c[i].peer, c[i].peer_missing);
    }
}

static size_t first_difference(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    size_t i = 0;
    while (i < an && i < bn && a[i] == b[i])
        i++;
    return i;
}

static bool same_header(const codec_peek *p, const codec_env *e)
{
    return p->tag == e->tag && p->version == e->version && p->kind == e->kind && p->channel_id == e->channel_id &&
           p->seq == e->seq && p->ts_ms == e->ts_ms;
}

/* ---- encode ------------------------------------------------------------ */

static void case_encode(const bench_opts *o, peer_msgpackc *p)
{
    static uint8_t out[512];
    codec_frame f;
    bench_key k;
    klaw_status st = codec_frame_make(&f, 0);
    if (st != KLAW_OK) {
        fprintf(stderr, "klaw-bench: codec/encode: cannot build the frame: %s\n", klaw_strerror(st));
        exit(1);
    }
    make_key(&k, "encode", &f);
    codec_klaw_ctx kc = {.env = f.env, .out = out, .out_cap = sizeof out};

    /* Agreement, through the timed loops, at several seq values (one
     * operation each, seq = base + i): klaw's bytes decode back to the
     * input, and msgpack-c writes the very same bytes. */
    static const uint64_t offsets[] = {0, 1, 1000000, UINT64_C(0x7fffffff)};
    for (size_t t = 0; t < sizeof offsets / sizeof offsets[0]; t++) {
        codec_klaw_ctx one = kc;
        codec_env back;
        one.env.seq += offsets[t];
        one.env.ts_ms += offsets[t];
        codec_klaw_encode_loop(&one, 1);
        if (one.status != KLAW_OK || one.out_len != f.len) {
            bench_fail(&k, "klaw encoded %zu bytes, expected %zu", one.out_len, f.len);
            goto done;
        }
        if (codec_klaw_decode(one.out, one.out_len, &back) != KLAW_OK || !codec_env_equal(&back, &one.env)) {
            bench_fail(&k, "klaw's encoding does not decode back to its input");
            goto done;
        }
#ifdef KLAW_BENCH_HAVE_MSGPACKC
        size_t plen;
        peer_msgpackc_set_env(p, &one.env);
        peer_msgpackc_encode_loop(p, 1);
        const uint8_t *pb = peer_msgpackc_output(p, &plen);
        if (peer_msgpackc_failed(p) || plen != one.out_len || memcmp(pb, one.out, plen) != 0) {
            bench_fail(&k, "klaw and msgpack-c encodings differ (lengths %zu and %zu, first difference at byte %zu)",
                       one.out_len, plen, first_difference(one.out, one.out_len, pb, plen));
            goto done;
        }
#endif
    }

    {
#ifdef KLAW_BENCH_HAVE_MSGPACKC
        peer_msgpackc_set_env(p, &f.env);
#endif
        comparison c = msgpackc_comparison(&k, codec_klaw_encode_loop, &kc, MSGPACKC_LOOP(peer_msgpackc_encode_loop),
                                           p);
        measure(o, &c, 1);
    }
done:
    codec_frame_free(&f);
}

/* ---- decode ------------------------------------------------------------ */

static void case_decode(const bench_opts *o, peer_msgpackc *p)
{
    codec_frame f;
    bench_key k;
    codec_env e;
    uint64_t kd;
    klaw_status st = codec_frame_make(&f, 0);
    if (st != KLAW_OK) {
        fprintf(stderr, "klaw-bench: codec/decode: cannot build the frame: %s\n", klaw_strerror(st));
        exit(1);
    }
    make_key(&k, "decode", &f);
    codec_klaw_ctx kc = {.frame = f.bytes, .frame_len = f.len};

    st = codec_klaw_decode(f.bytes, f.len, &e);
    if (st != KLAW_OK || !codec_env_equal(&e, &f.env)) {
        bench_fail(&k, "klaw's decode does not give back the encoded values (%s)", klaw_strerror(st));
        goto done;
    }
    kd = codec_klaw_decode_loop(&kc, 1);
    if (kc.status != KLAW_OK || kd != codec_env_digest(&f.env)) {
        bench_fail(&k, "klaw's timed decode loop gives the wrong checksum");
        goto done;
    }
#ifdef KLAW_BENCH_HAVE_MSGPACKC
    peer_msgpackc_set_frame(p, f.bytes, f.len);
    if (peer_msgpackc_decode(p, &e) != 0 || !codec_env_equal(&e, &f.env)) {
        bench_fail(&k, "msgpack-c's decode does not give the values klaw encoded");
        goto done;
    }
    if (peer_msgpackc_decode_loop(p, 1) != kd || peer_msgpackc_failed(p)) {
        bench_fail(&k, "klaw and msgpack-c decode loops disagree on the checksum");
        goto done;
    }
#else
    (void)p;
#endif
    {
        comparison c = msgpackc_comparison(&k, codec_klaw_decode_loop, &kc, MSGPACKC_LOOP(peer_msgpackc_decode_loop),
                                           p);
        measure(o, &c, 1);
    }
done:
    codec_frame_free(&f);
}

/* ---- peek -------------------------------------------------------------- */

/* Checks that klaw's peek (through its timed loop) and msgpack-c's unpack
 * read frame f right; returns false after reporting when they do not. */
static bool peek_agrees(const bench_key *k, const codec_frame *f, codec_klaw_ctx *kc, peer_msgpackc *p)
{
    codec_peek pk;
    codec_env e;
    /* The peek must see the right header and exactly the payload's bytes,
     * and those bytes must be the payload that was encoded. */
    klaw_status st = codec_klaw_peek(f->bytes, f->len, &pk);
    if (st != KLAW_OK || !same_header(&pk, &f->env) || pk.payload != f->bytes + f->payload_off ||
        pk.payload_len != f->payload_len) {
        bench_fail(k, "klaw's peek does not find the header and payload span (%s)", klaw_strerror(st));
        return false;
    }
    if (klaw_mp_validate(pk.payload, pk.payload_len, 0, 0, NULL) != KLAW_OK ||
        codec_klaw_decode(f->bytes, f->len, &e) != KLAW_OK || !codec_env_equal(&e, &f->env)) {
        bench_fail(k, "the frame does not decode back to the values encoded");
        return false;
    }
    if (codec_klaw_peek_loop(kc, 1) != codec_peek_digest(&pk) || kc->status != KLAW_OK) {
        bench_fail(k, "klaw's timed peek loop gives the wrong checksum");
        return false;
    }
#ifdef KLAW_BENCH_HAVE_MSGPACKC
    codec_peek ph;
    uint32_t pairs = 0;
    size_t plen;
    peer_msgpackc_set_env(p, &f->env);
    peer_msgpackc_encode_loop(p, 1);
    const uint8_t *pb = peer_msgpackc_output(p, &plen);
    if (peer_msgpackc_failed(p) || plen != f->len || memcmp(pb, f->bytes, plen) != 0) {
        bench_fail(k, "klaw and msgpack-c encodings of the frame differ (first difference at byte %zu)",
                   first_difference(f->bytes, f->len, pb, plen));
        return false;
    }
    peer_msgpackc_set_frame(p, f->bytes, f->len);
    if (peer_msgpackc_header(p, &ph, &pairs) != 0 || !same_header(&ph, &f->env) || pairs != 6 ||
        peer_msgpackc_decode(p, &e) != 0 || !codec_env_equal(&e, &f->env)) {
        bench_fail(k, "msgpack-c does not read the frame klaw wrote");
        return false;
    }
#else
    (void)p;
#endif
    return true;
}

/* All payload sizes in one interleaved measurement: the point of the case
 * is how peek time compares across sizes. */
static void case_peek(const bench_opts *o)
{
    codec_frame f[NPEEK];
    codec_klaw_ctx kc[NPEEK];
    peer_msgpackc *p[NPEEK] = {NULL};
    comparison c[NPEEK];
    unsigned n = 0;

    for (unsigned i = 0; i < NPEEK; i++) {
        bench_key k;
        klaw_status st = codec_frame_make(&f[i], PEEK_PAYLOADS[i]);
        if (st != KLAW_OK) {
            fprintf(stderr, "klaw-bench: codec/peek: cannot build a %zu-byte payload: %s\n", PEEK_PAYLOADS[i],
                    klaw_strerror(st));
            exit(1);
        }
        make_key(&k, "peek", &f[i]);
        kc[i] = (codec_klaw_ctx){.frame = f[i].bytes, .frame_len = f[i].len};
#ifdef KLAW_BENCH_HAVE_MSGPACKC
        p[i] = peer_msgpackc_new();
        if (!p[i]) {
            fprintf(stderr, "klaw-bench: codec/peek: out of memory\n");
            exit(1);
        }
#endif
        if (!peek_agrees(&k, &f[i], &kc[i], p[i]))
            continue;
        c[n++] = msgpackc_comparison(&k, codec_klaw_peek_loop, &kc[i],
                                     MSGPACKC_LOOP(peer_msgpackc_header_loop), p[i]);
    }
    measure(o, c, n);
    for (unsigned i = 0; i < NPEEK; i++) {
#ifdef KLAW_BENCH_HAVE_MSGPACKC
        peer_msgpackc_free(p[i]);
#endif
        codec_frame_free(&f[i]);
    }
}

/* ---- schema_decode, schema_encode ------------------------------------------ */

/* REF_BUF holds a reference payload; ENC_BUF is the encoder's output room,
 * as large as the encode case's (a ring slot is max_frame bytes): the
 * schema encoder takes its one-check fast path only when the room for the
 * worst case of every field is there. */
enum { NFORMS = 2, REF_BUF = 128, ENC_BUF = 512 };

static void make_schema_key(bench_key *k, const char *case_name, codec_form form, size_t payload_bytes)
{
    memset(k, 0, sizeof *k);
    k->suite = SUITE;
    k->case_name = case_name;
    bench_key_str(k, "form", codec_form_name(form));
    bench_key_int(k, "payload_bytes", (long long)payload_bytes);
}

static bool klaw_str_equal(klaw_str a, klaw_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static bool ref_equal(const codec_ref *a, const codec_ref *b)
{
    const klaw_str *at = a->tags.items, *bt = b->tags.items;
    if (a->id != b->id || memcmp(&a->price, &b->price, sizeof a->price) != 0 || a->qty != b->qty ||
        !klaw_str_equal(a->sym, b->sym) || a->tags.len != b->tags.len)
        return false;
    for (uint32_t t = 0; t < a->tags.len; t++)
        if (!klaw_str_equal(at[t], bt[t]))
            return false;
    return true;
}

static klaw_schema *ref_schema_or_exit(const char *case_name, codec_form form)
{
    klaw_schema *s = NULL;
    klaw_status st = codec_ref_schema(form, &s);
    if (st != KLAW_OK) {
        fprintf(stderr, "klaw-bench: codec/%s: cannot compile the %s schema: %s\n", case_name,
                codec_form_name(form), klaw_strerror(st));
        exit(1);
    }
    return s;
}

#ifdef KLAW_BENCH_HAVE_MSGPACKC
static peer_msgpackc *peer_or_exit(const char *case_name)
{
    peer_msgpackc *p = peer_msgpackc_new();
    if (!p) {
        fprintf(stderr, "klaw-bench: codec/%s: out of memory\n", case_name);
        exit(1);
    }
    return p;
}
#endif

/* Both forms in one interleaved measurement: how array_like compares with
 * map form is half the point. Before it, klaw's timed loop must give the
 * reference values (struct compared field by field, checksum equal to
 * codec_ref_digest) and msgpack-c's timed loop the same checksum. */
static void case_schema_decode(const bench_opts *o)
{
    static uint8_t payload[NFORMS][REF_BUF];
    static _Alignas(16) uint8_t arena_mem[NFORMS][256];
    codec_schema_ctx kc[NFORMS];
    klaw_schema *s[NFORMS] = {NULL};
#ifdef KLAW_BENCH_HAVE_MSGPACKC
    peer_msgpackc *p[NFORMS] = {NULL};
#endif
    comparison c[NFORMS];
    unsigned n = 0;
    codec_ref want;
    codec_ref_reference(&want);

    for (unsigned f = 0; f < NFORMS; f++) {
        codec_form form = (codec_form)f;
        size_t len = 0;
        bench_key k;
        uint64_t kd;
        s[f] = ref_schema_or_exit("schema_decode", form);
        if (codec_ref_payload(form, want.id, payload[f], sizeof payload[f], &len) != KLAW_OK) {
            fprintf(stderr, "klaw-bench: codec/schema_decode: cannot write the %s payload\n", codec_form_name(form));
            exit(1);
        }
        make_schema_key(&k, "schema_decode", form, len);
        kc[f] = (codec_schema_ctx){.schema = s[f], .payload = payload[f], .payload_len = len};
        klaw_arena_init(&kc[f].arena, arena_mem[f], sizeof arena_mem[f]);

        kd = codec_schema_decode_loop(&kc[f], 1);
        if (kc[f].status != KLAW_OK || !ref_equal(&kc[f].last, &want) || kd != codec_ref_digest(&want)) {
            bench_fail(&k, "klaw's timed schema decode does not give the reference values (%s)",
                       klaw_strerror(kc[f].status));
            continue;
        }
        c[n] = (comparison){.key = k, .klaw_fn = codec_schema_decode_loop, .klaw_ctx = &kc[f],
                            .klaw_status = &kc[f].status, .peer = PEER, .peer_missing = PEER_MISSING};
#ifdef KLAW_BENCH_HAVE_MSGPACKC
        {
            bench_loop_fn fn = form == CODEC_FORM_MAP ? peer_msgpackc_ref_decode_map_loop
                                                      : peer_msgpackc_ref_decode_array_loop;
            p[f] = peer_or_exit("schema_decode");
            peer_msgpackc_set_frame(p[f], payload[f], len);
            if (fn(p[f], 1) != kd || peer_msgpackc_failed(p[f])) {
                bench_fail(&k, "klaw and msgpack-c disagree on the %s payload's checksum%s", codec_form_name(form),
                           peer_msgpackc_failed(p[f]) ? " (msgpack-c failed)" : "");
                continue;
            }
            c[n].peer_fn = fn;
            c[n].peer_ctx = p[f];
            c[n].peer_failed = msgpackc_failed;
        }
#endif
        n++;
    }
    measure(o, c, n);

    /* klaw's array_like against its map form, for people: report.c
     * prints the table after the suite returns, so this line comes just
     * above it (JSON has no notes: the two rows are there) */
    if (!o->json && n == NFORMS && c[0].klaw_ns > 0 && c[1].klaw_ns > 0) {
        char a[REPORT_NUM], m[REPORT_NUM];
        printf("note: schema_decode array_like is %.2fx as fast as map form (klaw %s vs %s)\n",
               c[0].klaw_ns / c[1].klaw_ns, report_ns(a, sizeof a, c[1].klaw_ns), report_ns(m, sizeof m, c[0].klaw_ns));
    }

    for (unsigned f = 0; f < NFORMS; f++) {
#ifdef KLAW_BENCH_HAVE_MSGPACKC
        peer_msgpackc_free(p[f]);
#endif
        klaw_schema_free(s[f]);
    }
}

/* Both forms in one measurement. Before it, at several ids (one operation
 * of each timed loop, id = base + offset), klaw's bytes and msgpack-c's
 * must both be exactly what the plain writer writes for those values. */
static void case_schema_encode(const bench_opts *o)
{
    static uint8_t out[NFORMS][ENC_BUF];
    static const int64_t offsets[] = {0, 1, 1000000, INT64_C(0x7fffffff)};
    codec_schema_ctx kc[NFORMS];
    klaw_schema *s[NFORMS] = {NULL};
#ifdef KLAW_BENCH_HAVE_MSGPACKC
    peer_msgpackc *p[NFORMS] = {NULL};
#endif
    comparison c[NFORMS];
    unsigned n = 0;
    codec_ref ref;
    codec_ref_reference(&ref);

    for (unsigned f = 0; f < NFORMS; f++) {
        codec_form form = (codec_form)f;
        uint8_t want[REF_BUF];
        size_t want_len = 0;
        bench_key k;
        bool agree = true;
        s[f] = ref_schema_or_exit("schema_encode", form);
        if (codec_ref_payload(form, ref.id, want, sizeof want, &want_len) != KLAW_OK) {
            fprintf(stderr, "klaw-bench: codec/schema_encode: cannot write the %s payload\n", codec_form_name(form));
            exit(1);
        }
        make_schema_key(&k, "schema_encode", form, want_len);
        kc[f] = (codec_schema_ctx){.schema = s[f], .in = ref, .out = out[f], .out_cap = sizeof out[f]};
#ifdef KLAW_BENCH_HAVE_MSGPACKC
        p[f] = peer_or_exit("schema_encode");
#endif
        for (size_t t = 0; t < sizeof offsets / sizeof offsets[0] && agree; t++) {
            codec_schema_ctx one = kc[f];
            one.in.id += offsets[t];
            codec_schema_encode_loop(&one, 1);
            if (codec_ref_payload(form, one.in.id, want, sizeof want, &want_len) != KLAW_OK ||
                one.status != KLAW_OK || one.out_len != want_len || memcmp(one.out, want, want_len) != 0) {
                bench_fail(&k, "klaw's schema encoding (%zu bytes, %s) is not the expected %zu bytes (first "
                           "difference at byte %zu)",
                           one.out_len, klaw_strerror(one.status), want_len,
                           first_difference(one.out, one.out_len, want, want_len));
                agree = false;
                break;
            }
#ifdef KLAW_BENCH_HAVE_MSGPACKC
            {
                size_t plen;
                peer_msgpackc_set_ref(p[f], &one.in);
                if (form == CODEC_FORM_MAP)
                    peer_msgpackc_ref_encode_map_loop(p[f], 1);
                else
                    peer_msgpackc_ref_encode_array_loop(p[f], 1);
                const uint8_t *pb = peer_msgpackc_output(p[f], &plen);
                if (peer_msgpackc_failed(p[f]) || plen != one.out_len || memcmp(pb, one.out, plen) != 0) {
                    bench_fail(&k,
                               "klaw and msgpack-c encodings differ (lengths %zu and %zu, first difference at "
                               "byte %zu)",
                               one.out_len, plen, first_difference(one.out, one.out_len, pb, plen));
                    agree = false;
                }
            }
#endif
        }
        if (!agree)
            continue;
        c[n] = (comparison){.key = k, .klaw_fn = codec_schema_encode_loop, .klaw_ctx = &kc[f],
                            .klaw_status = &kc[f].status, .peer = PEER, .peer_missing = PEER_MISSING};
#ifdef KLAW_BENCH_HAVE_MSGPACKC
        peer_msgpackc_set_ref(p[f], &ref);
        c[n].peer_fn =
            form == CODEC_FORM_MAP ? peer_msgpackc_ref_encode_map_loop : peer_msgpackc_ref_encode_array_loop;
        c[n].peer_ctx = p[f];
        c[n].peer_failed = msgpackc_failed;
#endif
        n++;
    }
    measure(o, c, n);
    for (unsigned f = 0; f < NFORMS; f++) {
#ifdef KLAW_BENCH_HAVE_MSGPACKC
        peer_msgpackc_free(p[f]);
#endif
        klaw_schema_free(s[f]);
    }
}

/* ---- JSON documents ------------------------------------------------------ */

enum { NDOCS = 3, NUMBERS_COUNT = 1000, STRING_FIELDS = 100 };

typedef struct json_doc {
    const char *name; /* the "doc" parameter                                */
    char *json;       /* the text (NUL-terminated; the NUL is not counted)  */
    size_t json_len;
    uint8_t *mp;      /* its MessagePack, as klaw_json_to_mp writes it      */
    size_t mp_len;
    size_t mp_cap;    /* the room klaw_json_to_mp needs to write it         */
    const char *bad;  /* non-NULL: the document could not be made; why      */
} json_doc;

/* The reference envelope of codec_cases.h with seq 1000 and ts_ms
 * 1700000000000, as JSON text. */
static const char ENVELOPE_JSON[] = "[1,[1,1,42,1000,1700000000000],{\"id\":123456789,\"price\":101.25,\"sym\":\"AAPL\","
                                    "\"qty\":100,\"tags\":[\"equity\",\"nasdaq\"]}]";

/* The values of the "strings" document, as JSON string contents (escapes
 * and all): plain ASCII, the short escapes, \u escapes (a surrogate pair
 * among them), raw UTF-8 of two, three and four bytes, and an escaped '/'. */
static const char *const STRING_VALUES[] = {
    "plain ASCII text, the kind most fields hold",
    "line one\\nline two\\tand a tab",
    "she said \\\"hello\\\" and left a back\\\\slash",
    "caf\\u00e9, na\\u00efve, r\\u00e9sum\\u00e9",
    "Grüße aus Köln, ça va très bien",
    "日本語のテキストと中文の文字",
    "an escaped pair \\ud83d\\ude00 and \\u20ac",
    "raw emoji 😀🎉 and symbols ✓ € ±",
    "https:\\/\\/example.com/a/b?c=d&e=f",
    "control \\u0001 and \\u001f, bell \\b, feed \\f, return \\r",
};

/* xorshift64*: the "numbers" document is the same in every run. */
static uint64_t doc_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * UINT64_C(0x2545F4914F6CDD1D);
}

/* The "numbers" MessagePack: NUMBERS_COUNT values, a sixth each of small,
 * 32-bit and 62-bit ints (either sign) and of prices (two decimals),
 * short scientific floats and full-precision floats. */
static void numbers_mp(klaw_mp_writer *w)
{
    uint64_t s = UINT64_C(0x9E3779B97F4A7C15);
    klaw_mp_write_array(w, NUMBERS_COUNT);
    for (unsigned i = 0; i < NUMBERS_COUNT; i++) {
        uint64_t r = doc_rand(&s);
        int sign = (r >> 63) ? -1 : 1;
        char text[64];
        switch (i % 6) {
        case 0:
            klaw_mp_write_int(w, (int64_t)((r >> 8) % 201) - 100);
            break;
        case 1:
            klaw_mp_write_int(w, sign * (int64_t)((r >> 16) & 0x7fffffff));
            break;
        case 2:
            klaw_mp_write_int(w, sign * (int64_t)((r >> 1) & ((UINT64_C(1) << 62) - 1)));
            break;
        case 3: /* cents / 100.0 is the double nearest the decimal text */
            klaw_mp_write_double(w, sign * (double)((r >> 8) % 100000000) / 100.0);
            break;
        case 4:
            snprintf(text, sizeof text, "%s%u.%03ue%d", sign < 0 ? "-" : "", (unsigned)(r >> 8) % 9 + 1,
                     (unsigned)(r >> 16) % 1000, (int)((r >> 32) % 61) - 30);
            klaw_mp_write_double(w, strtod(text, NULL));
            break;
        default:
            klaw_mp_write_double(w, sign * (double)(r >> 11) / 9007199254740992.0 * 1000.0);
            break;
        }
    }
}

/* Fills d->mp from d->json with klaw_json_to_mp; when want is not NULL the
 * result must be exactly want[0, want_len). Sets d->bad on failure. */
static void doc_convert(json_doc *d, const uint8_t *want, size_t want_len)
{
    klaw_mp_writer w;
    klaw_json_error err;
    klaw_mp_writer_init(&w, NULL, 0);
    if (klaw_json_to_mp(d->json, d->json_len, &w, &err) != KLAW_TOOBIG) {
        d->bad = "klaw_json_to_mp does not read the document";
        return;
    }
    d->mp_cap = klaw_mp_writer_needed(&w);
    d->mp = malloc(d->mp_cap);
    if (!d->mp) {
        fprintf(stderr, "klaw-bench: codec: out of memory\n");
        exit(1);
    }
    klaw_mp_writer_init(&w, d->mp, d->mp_cap);
    if (klaw_json_to_mp(d->json, d->json_len, &w, &err) != KLAW_OK ||
        klaw_mp_writer_finish(&w, &d->mp_len) != KLAW_OK) {
        d->bad = "klaw_json_to_mp fails with the room it said it needs";
        return;
    }
    if (want && (d->mp_len != want_len || memcmp(d->mp, want, want_len) != 0))
        d->bad = "klaw_json_to_mp does not give the MessagePack the document was made from";
}

static char *doc_text(size_t cap)
{
    char *t = malloc(cap);
    if (!t) {
        fprintf(stderr, "klaw-bench: codec: out of memory\n");
        exit(1);
    }
    return t;
}

static void json_docs_make(json_doc *docs)
{
    memset(docs, 0, NDOCS * sizeof *docs);

    /* envelope: must read back as codec_klaw_encode's envelope */
    {
        json_doc *d = &docs[0];
        codec_env e;
        uint8_t want[256];
        size_t want_len = 0;
        d->name = "envelope";
        d->json_len = sizeof ENVELOPE_JSON - 1;
        d->json = doc_text(d->json_len + 1);
        memcpy(d->json, ENVELOPE_JSON, d->json_len + 1);
        codec_env_reference(&e);
        e.seq = 1000;
        e.ts_ms = UINT64_C(1700000000000);
        if (codec_klaw_encode(&e, want, sizeof want, &want_len) != KLAW_OK)
            d->bad = "cannot encode the reference envelope";
        else
            doc_convert(d, want, want_len);
    }

    /* numbers: written as MessagePack, turned into text by klaw (shortest
     * round-trip floats), which must read back to the same bytes */
    {
        json_doc *d = &docs[1];
        klaw_mp_writer w;
        size_t want_len = 0, n = 0;
        uint8_t *want;
        d->name = "numbers";
        klaw_mp_writer_init(&w, NULL, 0);
        numbers_mp(&w);
        want = (uint8_t *)doc_text(klaw_mp_writer_needed(&w));
        klaw_mp_writer_init(&w, want, klaw_mp_writer_needed(&w));
        numbers_mp(&w);
        if (klaw_mp_writer_finish(&w, &want_len) != KLAW_OK ||
            klaw_json_from_mp_buf(want, want_len, NULL, 0, &n, NULL) != KLAW_TOOBIG) {
            d->bad = "cannot make the numbers document";
        } else {
            d->json = doc_text(n + 1);
            if (klaw_json_from_mp_buf(want, want_len, d->json, n + 1, &d->json_len, NULL) != KLAW_OK)
                d->bad = "cannot make the numbers document";
            else
                doc_convert(d, want, want_len);
        }
        free(want);
    }

    /* strings: {"field_000": "000: ...", ...} */
    {
        json_doc *d = &docs[2];
        size_t cap = 16384, used = 0;
        const size_t nvalues = sizeof STRING_VALUES / sizeof STRING_VALUES[0];
        d->name = "strings";
        d->json = doc_text(cap);
        d->json[used++] = '{';
        for (unsigned i = 0; i < STRING_FIELDS && used < cap; i++) {
            int len = snprintf(d->json + used, cap - used, "%s\"field_%03u\":\"%03u: %s\"", i ? "," : "", i, i,
                               STRING_VALUES[i % nvalues]);
            used = len < 0 ? cap : used + (size_t)len;
        }
        if (used + 2 > cap) {
            d->bad = "the strings document does not fit its buffer";
        } else {
            d->json[used++] = '}';
            d->json[used] = '\0';
            d->json_len = used;
            doc_convert(d, NULL, 0);
        }
    }
}

static void json_docs_free(json_doc *docs)
{
    for (unsigned i = 0; i < NDOCS; i++) {
        free(docs[i].json);
        free(docs[i].mp);
    }
}

static void make_json_key(bench_key *k, const char *case_name, const json_doc *d)
{
    memset(k, 0, sizeof *k);
    k->suite = SUITE;
    k->case_name = case_name;
    bench_key_str(k, "doc", d->name);
    bench_key_int(k, "json_bytes", (long long)d->json_len);
}

/* ---- klaw's JSON loops --------------------------------------------------- */

typedef struct json_klaw_ctx {
    const json_doc *doc;
    uint8_t *out; /* json_to_mp output (doc->mp_cap bytes)  */
    size_t out_cap, out_len;
    char *text;   /* mp_to_json output                      */
    size_t text_cap, text_len;
    klaw_status status; /* the first failure inside a loop */
} json_klaw_ctx;

static uint64_t json_to_mp_klaw_loop(void *ctx, uint64_t iters)
{
    json_klaw_ctx *c = ctx;
    const json_doc *d = c->doc;
    uint64_t sum = 0;
    for (uint64_t i = 0; i < iters; i++) {
        klaw_mp_writer w;
        klaw_json_error err;
        klaw_mp_writer_init(&w, c->out, c->out_cap);
        klaw_status st = klaw_json_to_mp(d->json, d->json_len, &w, &err);
        if (st != KLAW_OK || w.pos == 0) {
            if (c->status == KLAW_OK)
                c->status = st != KLAW_OK ? st : KLAW_INVAL;
            return sum;
        }
        c->out_len = w.pos;
        sum += w.pos + c->out[w.pos - 1];
    }
    return sum;
}

static uint64_t mp_to_json_klaw_loop(void *ctx, uint64_t iters)
{
    json_klaw_ctx *c = ctx;
    const json_doc *d = c->doc;
    uint64_t sum = 0;
    for (uint64_t i = 0; i < iters; i++) {
        size_t n = 0;
        klaw_status st = klaw_json_from_mp_buf(d->mp, d->mp_len, c->text, c->text_cap, &n, NULL);
        if (st != KLAW_OK || n == 0) {
            if (c->status == KLAW_OK)
                c->status = st != KLAW_OK ? st : KLAW_INVAL;
            return sum;
        }
        c->text_len = n;
        sum += n + (uint8_t)c->text[0] + (uint8_t)c->text[n - 1];
    }
    return sum;
}

#ifdef KLAW_BENCH_HAVE_JSONC
static int jsonc_failed(const void *p) { return peer_jsonc_failed(p); }
#endif

static void *bench_alloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "klaw-bench: codec: out of memory\n");
        exit(1);
    }
    return p;
}

/* ---- json_to_mp ---------------------------------------------------------- */

/* All documents in one interleaved measurement. Before it, klaw's loop must
 * give the document's MessagePack and json-c's loop the very same bytes.
 * json-c's row is its parse plus the walk of its tree; the parse alone is
 * most of it (85-94% on these documents; see peer_jsonc.h). */
static void case_json_to_mp(const bench_opts *o, const json_doc *docs)
{
    json_klaw_ctx kc[NDOCS];
    comparison c[NDOCS];
    unsigned n = 0;
#ifdef KLAW_BENCH_HAVE_JSONC
    peer_jsonc *p[NDOCS] = {NULL};
#endif
    memset(kc, 0, sizeof kc);

    for (unsigned i = 0; i < NDOCS; i++) {
        const json_doc *d = &docs[i];
        bench_key k;
        uint64_t ksum;
        make_json_key(&k, "json_to_mp", d);
        if (d->bad) {
            bench_fail(&k, "%s", d->bad);
            continue;
        }
        kc[i] = (json_klaw_ctx){.doc = d, .out = bench_alloc(d->mp_cap), .out_cap = d->mp_cap};
        ksum = json_to_mp_klaw_loop(&kc[i], 1);
        if (kc[i].status != KLAW_OK || kc[i].out_len != d->mp_len || memcmp(kc[i].out, d->mp, d->mp_len) != 0) {
            bench_fail(&k, "klaw's timed loop does not give the document's MessagePack (%s)",
                       klaw_strerror(kc[i].status));
            continue;
        }
        c[n] = (comparison){.key = k, .klaw_fn = json_to_mp_klaw_loop, .klaw_ctx = &kc[i],
                            .klaw_status = &kc[i].status, .peer = JSON_PEER, .peer_missing = JSON_PEER_MISSING};
#ifdef KLAW_BENCH_HAVE_JSONC
        {
            size_t plen;
            const uint8_t *pb;
            p[i] = peer_jsonc_new(d->mp_cap);
            if (!p[i]) {
                fprintf(stderr, "klaw-bench: codec/json_to_mp: out of memory\n");
                exit(1);
            }
            peer_jsonc_set_json(p[i], d->json, d->json_len);
            uint64_t psum = peer_jsonc_json_to_mp_loop(p[i], 1);
            pb = peer_jsonc_mp_output(p[i], &plen);
            if (peer_jsonc_failed(p[i]) || plen != kc[i].out_len || memcmp(pb, kc[i].out, plen) != 0 ||
                psum != ksum) {
                bench_fail(&k,
                           "klaw and json-c give different MessagePack (lengths %zu and %zu, first difference at "
                           "byte %zu)%s",
                           kc[i].out_len, plen, first_difference(kc[i].out, kc[i].out_len, pb, plen),
                           peer_jsonc_failed(p[i]) ? "; json-c failed" : "");
                continue;
            }
            c[n].peer_fn = peer_jsonc_json_to_mp_loop;
            c[n].peer_ctx = p[i];
            c[n].peer_failed = jsonc_failed;
        }
#else
        (void)ksum;
#endif
        n++;
    }
    measure(o, c, n);
    for (unsigned i = 0; i < NDOCS; i++) {
#ifdef KLAW_BENCH_HAVE_JSONC
        peer_jsonc_free(p[i]);
#endif
        free(kc[i].out);
    }
}

/* ---- mp_to_json ---------------------------------------------------------- */

/* Whether text reads back (klaw_json_to_mp) to exactly d's MessagePack;
 * reports the failure, naming who wrote the text, when it does not. */
static bool reads_back(const bench_key *k, const char *who, const json_doc *d, const char *text, size_t len)
{
    /* twice the room: a text that reads back to something else may need more */
    uint8_t *mp = bench_alloc(2 * d->mp_cap);
    klaw_mp_writer w;
    klaw_json_error err;
    size_t n = 0;
    bool ok;
    klaw_mp_writer_init(&w, mp, 2 * d->mp_cap);
    if (klaw_json_to_mp(text, len, &w, &err) != KLAW_OK || klaw_mp_writer_finish(&w, &n) != KLAW_OK) {
        bench_fail(k, "%s's text does not read back: %s at byte %zu", who,
                   err.reason ? err.reason : klaw_strerror(err.status), err.offset);
        ok = false;
    } else if (n != d->mp_len || memcmp(mp, d->mp, n) != 0) {
        bench_fail(k, "%s's text reads back to different MessagePack (lengths %zu and %zu, first difference at byte "
                      "%zu)",
                   who, n, d->mp_len, first_difference(mp, n, d->mp, d->mp_len));
        ok = false;
    } else {
        ok = true;
    }
    free(mp);
    return ok;
}

/* All documents in one interleaved measurement. Before it, the texts that
 * klaw's loop and json-c's operation write must both read back to the
 * input's MessagePack. */
static void case_mp_to_json(const bench_opts *o, const json_doc *docs)
{
    json_klaw_ctx kc[NDOCS];
    comparison c[NDOCS];
    unsigned n = 0;
#ifdef KLAW_BENCH_HAVE_JSONC
    peer_jsonc *p[NDOCS] = {NULL};
#endif
    memset(kc, 0, sizeof kc);

    for (unsigned i = 0; i < NDOCS; i++) {
        const json_doc *d = &docs[i];
        bench_key k;
        size_t need = 0;
        make_json_key(&k, "mp_to_json", d);
        if (d->bad) {
            bench_fail(&k, "%s", d->bad);
            continue;
        }
        if (klaw_json_from_mp_buf(d->mp, d->mp_len, NULL, 0, &need, NULL) != KLAW_TOOBIG) {
            bench_fail(&k, "klaw_json_from_mp_buf cannot measure the text");
            continue;
        }
        kc[i] = (json_klaw_ctx){.doc = d, .text = bench_alloc(need + 1), .text_cap = need + 1};
        mp_to_json_klaw_loop(&kc[i], 1);
        if (kc[i].status != KLAW_OK) {
            bench_fail(&k, "klaw's timed loop fails: %s", klaw_strerror(kc[i].status));
            continue;
        }
        if (!reads_back(&k, "klaw", d, kc[i].text, kc[i].text_len))
            continue;
        c[n] = (comparison){.key = k, .klaw_fn = mp_to_json_klaw_loop, .klaw_ctx = &kc[i],
                            .klaw_status = &kc[i].status, .peer = JSON_PEER, .peer_missing = JSON_PEER_MISSING};
#ifdef KLAW_BENCH_HAVE_JSONC
        {
            size_t tlen;
            const char *t;
            p[i] = peer_jsonc_new(0);
            if (!p[i]) {
                fprintf(stderr, "klaw-bench: codec/mp_to_json: out of memory\n");
                exit(1);
            }
            peer_jsonc_set_mp(p[i], d->mp, d->mp_len);
            t = peer_jsonc_mp_to_json_once(p[i], &tlen);
            if (!t || peer_jsonc_failed(p[i])) {
                bench_fail(&k, "json-c cannot convert the document");
                continue;
            }
            if (!reads_back(&k, "json-c", d, t, tlen))
                continue;
            c[n].peer_fn = peer_jsonc_mp_to_json_loop;
            c[n].peer_ctx = p[i];
            c[n].peer_failed = jsonc_failed;
        }
#endif
        n++;
    }
    measure(o, c, n);
    for (unsigned i = 0; i < NDOCS; i++) {
#ifdef KLAW_BENCH_HAVE_JSONC
        peer_jsonc_free(p[i]);
#endif
        free(kc[i].text);
    }
}

static void run_codec(const bench_opts *o)
{
    peer_msgpackc *p = NULL;
#ifdef KLAW_BENCH_HAVE_MSGPACKC
    p = peer_msgpackc_new();
    if (!p) {
        fprintf(stderr, "klaw-bench: codec: out of memory\n");
        exit(1);
    }
#endif
    case_encode(o, p);
    case_decode(o, p);
    case_peek(o);
    case_schema_decode(o);
    case_schema_encode(o);
#ifdef KLAW_BENCH_HAVE_MSGPACKC
    peer_msgpackc_free(p);
#endif
    {
        json_doc docs[NDOCS];
        json_docs_make(docs);
        case_json_to_mp(o, docs);
        case_mp_to_json(o, docs);
        json_docs_free(docs);
    }
}

const bench_suite bench_suite_codec = {
    .name = "codec",
    .summary = "MessagePack encode, full decode and header peek; schema decode/encode; JSON <-> MessagePack",
    .table_metric = "ns_per_op",
    .lower_is_better = true,
    .peers = PEER ", " JSON_PEER,
    .run = run_codec,
};
