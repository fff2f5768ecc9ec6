/*
 * suite_codec.c - klaw-bench's codec suite: klaw's MessagePack writer and
 * lazy reader against msgpack-c, on the same data in the same run.
 *
 *   encode  the reference envelope (codec_cases.h) into a buffer
 *   decode  every value of the reference frame
 *   peek    tag + header + payload as a Raw span, payloads of 64 B, 4 KiB,
 *           64 KiB and 1 MiB; msgpack-c, which has no lazy mode, does its
 *           full unpack of the same frame
 *
 * Before a case is timed, klaw and msgpack-c are made to agree on the data
 * through the very loops that are timed (byte-equal encodings, equal
 * decoded fields, equal checksums); a case where they disagree is reported
 * as a failure and not timed, so the suite cannot measure the wrong thing.
 */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "bench_util.h"
#include "codec_cases.h"
#include "klaw/mp_reader.h"

#ifdef KLAW_BENCH_HAVE_MSGPACKC
#include "peer_msgpackc.h"
#else
typedef struct peer_msgpackc peer_msgpackc;
#endif

#define SUITE "codec"
#define PEER "msgpack-c"
#define PEER_MISSING "msgpack-c not found at build time"

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

/* One comparison: klaw's loop and (when built) msgpack-c's, on one key. */
typedef struct comparison {
    bench_key key;
    bench_loop_fn klaw_fn;
    codec_klaw_ctx *klaw_ctx;
    bench_loop_fn peer_fn; /* NULL: msgpack-c not built */
    peer_msgpackc *peer_ctx;
} comparison;

/* Times every comparison in one interleaved measurement (so noise from the
 * rest of the machine falls on all of them alike: the peek sizes are
 * compared with each other too) and emits klaw's and msgpack-c's rows. */
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
        if (c[i].klaw_ctx->status != KLAW_OK) {
            bench_fail(&c[i].key, "klaw failed inside the timed loop: %s", klaw_strerror(c[i].klaw_ctx->status));
            continue;
        }
#ifdef KLAW_BENCH_HAVE_MSGPACKC
        if (peer && peer_msgpackc_failed(c[i].peer_ctx)) {
            bench_fail(&c[i].key, "msgpack-c failed inside the timed loop");
            continue;
        }
#endif
        bench_emit_time(&c[i].key, "klaw", mine->ns_per_op);
        if (peer)
            bench_emit_time(&c[i].key, PEER, peer->ns_per_op);
        else
            bench_emit_time_skipped(&c[i].key, PEER, PEER_MISSING);
    }
}

#ifdef KLAW_BENCH_HAVE_MSGPACKC
static size_t first_difference(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    size_t i = 0;
    while (i < an && i < bn && a[i] == b[i])
        i++;
    return i;
}
#endif

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
        comparison c = {.key = k, .klaw_fn = codec_klaw_encode_loop, .klaw_ctx = &kc};
#ifdef KLAW_BENCH_HAVE_MSGPACKC
        peer_msgpackc_set_env(p, &f.env);
        c.peer_fn = peer_msgpackc_encode_loop;
        c.peer_ctx = p;
#else
        (void)p;
#endif
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
        comparison c = {.key = k, .klaw_fn = codec_klaw_decode_loop, .klaw_ctx = &kc};
#ifdef KLAW_BENCH_HAVE_MSGPACKC
        c.peer_fn = peer_msgpackc_decode_loop;
        c.peer_ctx = p;
#endif
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
        c[n] = (comparison){.key = k, .klaw_fn = codec_klaw_peek_loop, .klaw_ctx = &kc[i]};
#ifdef KLAW_BENCH_HAVE_MSGPACKC
        c[n].peer_fn = peer_msgpackc_header_loop;
        c[n].peer_ctx = p[i];
#endif
        n++;
    }
    measure(o, c, n);
    for (unsigned i = 0; i < NPEEK; i++) {
#ifdef KLAW_BENCH_HAVE_MSGPACKC
        peer_msgpackc_free(p[i]);
#endif
        codec_frame_free(&f[i]);
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
#ifdef KLAW_BENCH_HAVE_MSGPACKC
    peer_msgpackc_free(p);
#endif
}

const bench_suite bench_suite_codec = {
    .name = "codec",
    .summary = "MessagePack encode, full decode and header peek",
    .table_metric = "ns_per_op",
    .lower_is_better = true,
    .peers = PEER,
    .run = run_codec,
};
