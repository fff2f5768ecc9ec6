/*
 * bridge.c - klaw bridge: runs bridges between klaw channels and NATS
 * subjects in the foreground (libklaw-nats, klaw/nats.h), prints their
 * counters every --stats-interval seconds (a table, or with --json one
 * JSON object per bridge per interval), and stops cleanly on SIGINT,
 * SIGTERM or SIGHUP (each bridge flushes what it took). It exits 0 when
 * stopped or when every bridge finished (their channels closed), 1 when
 * a bridge cannot start, 2 on a usage error.
 *
 * Bridges come from the command line (CHANNEL SUBJECT pairs, all with the
 * same options) or from a JSON config file (--config FILE), read with
 * klaw's own JSON reader into a struct through the schema layer, so that
 * a mistake is reported with its place: "Expected `str`, got `int` - at
 * `$.bridges[2].subject`". The file:
 *
 *   {"servers": "nats://h1:4222,nats://h2:4222",     optional
 *    "origin": "host-a",                             optional
 *    "bridges": [
 *      {"channel": "orders", "subject": "orders.eu", "direction": "both"},
 *      {"channel": "jobs", "subject": "jobs", "direction": "in",
 *       "queue_group": "workers"},
 *      {"channel": "audit", "subject": "audit", "delivery": "jetstream",
 *       "stream": "AUDIT", "replicas": 3}]}
 *
 * direction is "out", "in" or "both" (default "out"); "delivery" is
 * "core" (default) or "jetstream", which may name its "stream", "durable",
 * "replicas", "ack_window" and "ack_wait_ms" (klaw/nats.h); a watch
 * channel's bridge names its key-value "bucket" (its "subject" is the
 * key). Options on the command line override the file's servers and
 * origin.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "klaw_tool.h"

static const char bridge_usage[] =
    "usage: klaw bridge [options] CHANNEL SUBJECT [CHANNEL SUBJECT]...\n"
    "       klaw bridge [options] --config FILE\n"
    "\n"
    "Runs bridges between named broadcast or mpmc channels and NATS subjects\n"
    "(a watch channel: a key of a JetStream key-value bucket, --bucket) until\n"
    "SIGINT, SIGTERM or SIGHUP, or until every channel closed. Frames travel\n"
    "unchanged as message payloads (core NATS: at most once; JetStream: at\n"
    "least once, deduplicated).\n"
    "\n"
    "  --servers URLS        NATS servers, comma-separated (default\n"
    "                        nats://127.0.0.1:4222); reconnects for as long\n"
    "                        as it runs\n"
    "  --out                 channel -> subject (the default)\n"
    "  --in                  subject -> channel\n"
    "  --both                both ways (broadcast only; no loops)\n"
    "  --queue GROUP         mpmc --in: the queue group (default: the subject)\n"
    "  --bucket BUCKET       watch channels: the key-value bucket (SUBJECT is\n"
    "                        then the key; made if missing)\n"
    "  --jetstream           JetStream delivery: publishes acked and retried,\n"
    "                        a durable consumer in; resumes after a restart\n"
    "  --stream NAME         the stream (default KLAW_<subject>; made if missing)\n"
    "  --durable NAME        --in: the durable consumer (default: mpmc, the\n"
    "                        queue group; broadcast, <origin>_<channel>)\n"
    "  --replicas N          a stream it makes: its replicas (default 1)\n"
    "  --ack-window N        publishes awaiting acks / messages fetched at\n"
    "                        once (default 256)\n"
    "  --ack-wait MS         an ack not back in MS is a failure (default\n"
    "                        2000 out, 5000 in)\n"
    "  --origin NAME         this bridge in Klaw-Origin headers (default\n"
    "                        HOSTNAME/PID; with --jetstream HOSTNAME)\n"
    "  --config FILE         bridges from a JSON file (see klaw(1))\n"
    "  --stats-interval S    print the counters every S seconds (default 0:\n"
    "                        only when stopping)\n"
    "  --json                counters as JSON lines, exact values\n";

#ifdef KLAW_HAVE_NATS

#include "klaw/nats.h"

enum {
    O_SERVERS, O_OUT, O_IN, O_BOTH, O_QUEUE, O_ORIGIN, O_CONFIG, O_STATS, O_JSON, O_BUCKET,
    O_JETSTREAM, O_STREAM, O_DURABLE, O_REPLICAS, O_WINDOW, O_ACK_WAIT
};
static const opt_spec bridge_opts[] = {
    {"--servers", NULL, true}, {"--out", NULL, false},  {"--in", NULL, false},
    {"--both", NULL, false},   {"--queue", NULL, true}, {"--origin", NULL, true},
    {"--config", NULL, true},  {"--stats-interval", NULL, true}, {"--json", NULL, false},
    {"--bucket", NULL, true},  {"--jetstream", NULL, false}, {"--stream", NULL, true},
    {"--durable", NULL, true}, {"--replicas", NULL, true},   {"--ack-window", NULL, true},
    {"--ack-wait", NULL, true}, {NULL, NULL, false},
};

/* ---- the config file, through the schema layer ---------------------------------- */

enum { DIR_OUT = KLAW_NATS_OUT, DIR_IN = KLAW_NATS_IN, DIR_BOTH = KLAW_NATS_OUT | KLAW_NATS_IN };
enum { DELIVERY_CORE = KLAW_NATS_CORE, DELIVERY_JETSTREAM = KLAW_NATS_JETSTREAM };

typedef struct conf_bridge {
    klaw_str channel, subject, queue_group, bucket, stream, durable;
    int direction, delivery;
    int64_t replicas, ack_window, ack_wait_ms;
} conf_bridge;

typedef struct conf_file {
    klaw_str servers, origin;
    klaw_array bridges; /* conf_bridge */
} conf_file;

static const klaw_enum_entry dir_entries[] = {{DIR_OUT, "out", 0}, {DIR_IN, "in", 0}, {DIR_BOTH, "both", 0}};
static const klaw_enum_desc dir_enum = {.name = "Direction", .entries = dir_entries, .count = 3,
                                        .wire = KLAW_ENUM_STR};
static const klaw_enum_entry delivery_entries[] = {{DELIVERY_CORE, "core", 0}, {DELIVERY_JETSTREAM, "jetstream", 0}};
static const klaw_enum_desc delivery_enum = {.name = "Delivery", .entries = delivery_entries, .count = 2,
                                             .wire = KLAW_ENUM_STR};

/* 0 in each: the library's default */
static const klaw_constraints replicas_range = {.flags = KLAW_C_GE | KLAW_C_LE, .ge.i = 0, .le.i = 5};
static const klaw_constraints window_range = {.flags = KLAW_C_GE | KLAW_C_LE, .ge.i = 0, .le.i = 65536};
static const klaw_constraints ack_wait_range = {.flags = KLAW_C_GE | KLAW_C_LE, .ge.i = 0, .le.i = 3600000};
static const klaw_field bridge_fields[] = {
    {KLAW_FIELD(conf_bridge, channel, KLAW_K_STR), .flags = KLAW_F_COPY},
    {KLAW_FIELD(conf_bridge, subject, KLAW_K_STR), .flags = KLAW_F_COPY},
    {KLAW_FIELD(conf_bridge, direction, KLAW_K_ENUM), .enm = &dir_enum, .flags = KLAW_F_DEFAULT,
     .def = {.i = DIR_OUT}},
    {KLAW_FIELD(conf_bridge, delivery, KLAW_K_ENUM), .enm = &delivery_enum, .flags = KLAW_F_DEFAULT,
     .def = {.i = DELIVERY_CORE}},
    {KLAW_FIELD(conf_bridge, queue_group, KLAW_K_STR), .flags = KLAW_F_COPY | KLAW_F_DEFAULT},
    {KLAW_FIELD(conf_bridge, bucket, KLAW_K_STR), .flags = KLAW_F_COPY | KLAW_F_DEFAULT},
    {KLAW_FIELD(conf_bridge, stream, KLAW_K_STR), .flags = KLAW_F_COPY | KLAW_F_DEFAULT},
    {KLAW_FIELD(conf_bridge, durable, KLAW_K_STR), .flags = KLAW_F_COPY | KLAW_F_DEFAULT},
    {KLAW_FIELD(conf_bridge, replicas, KLAW_K_I64), .flags = KLAW_F_DEFAULT, .cons = &replicas_range},
    {KLAW_FIELD(conf_bridge, ack_window, KLAW_K_I64), .flags = KLAW_F_DEFAULT, .cons = &window_range},
    {KLAW_FIELD(conf_bridge, ack_wait_ms, KLAW_K_I64), .flags = KLAW_F_DEFAULT, .cons = &ack_wait_range},
};
static const klaw_struct_desc bridge_desc = {.name = "Bridge", .size = sizeof(conf_bridge),
                                             KLAW_FIELDS(bridge_fields), .flags = KLAW_S_FORBID_UNKNOWN};
static const klaw_field bridge_elem = {.nested = &bridge_desc, KLAW_ELEM(conf_bridge, KLAW_K_STRUCT)};
static const klaw_field file_fields[] = {
    {KLAW_FIELD(conf_file, servers, KLAW_K_STR), .flags = KLAW_F_COPY | KLAW_F_DEFAULT},
    {KLAW_FIELD(conf_file, origin, KLAW_K_STR), .flags = KLAW_F_COPY | KLAW_F_DEFAULT},
    {KLAW_FIELD(conf_file, bridges, KLAW_K_ARRAY), .elem = &bridge_elem},
};
static const klaw_struct_desc file_desc = {.name = "BridgeConfig", .size = sizeof(conf_file),
                                           KLAW_FIELDS(file_fields), .flags = KLAW_S_FORBID_UNKNOWN};

/* Reads path into *c (strings NUL-terminated in arena). Returns 0 or
 * prints why not and returns EXIT_FAILURE. */
static int read_config(const char *path, conf_file *c, klaw_arena *arena, buf *text, buf *mp)
{
    if (read_input(path, text) != 0)
        return EXIT_FAILURE;
    klaw_json_error je;
    klaw_mp_writer w;
    size_t cap = text->len * 4 + 64; /* a float "1.5" becomes 9 bytes */
    if (!buf_reserve(mp, cap))
        return fail_msg("out of memory");
    klaw_mp_writer_init(&w, (uint8_t *)mp->p, cap);
    if (klaw_json_to_mp(text->p, text->len, &w, &je) != KLAW_OK)
        return fail_msg("%s: not JSON: %s at byte %zu", path, je.reason ? je.reason : "bad input", je.offset);
    mp->len = klaw_mp_writer_len(&w);
    klaw_schema *s = NULL;
    klaw_schema_error err;
    if (klaw_schema_compile(&file_desc, &s, &err) != KLAW_OK)
        return fail_msg("bridge config schema: %s", klaw_schema_error_message(&err));
    klaw_status st = klaw_schema_decode(s, mp->p, mp->len, c, arena, 0, &err);
    klaw_schema_free(s);
    if (st != KLAW_OK)
        return fail_msg("%s: %s", path, klaw_schema_error_message(&err));
    if (c->bridges.len == 0)
        return fail_msg("%s: no bridges - at `$.bridges`", path);
    return 0;
}

/* ---- counters ------------------------------------------------------------------------ */

static void print_stats(klaw_nats_bridge **bs, const klaw_nats_opts *os, size_t n, int json)
{
    for (size_t i = 0; i < n; i++) {
        klaw_nats_stats s;
        klaw_nats_bridge_stats(bs[i], &s);
        if (json) {
            printf("{\"channel\": \"%s\", \"subject\": \"%s\", \"delivery\": \"%s\", \"connected\": %s, "
                   "\"done\": %s, \"out_frames\": %llu, \"out_bytes\": %llu, \"out_dropped\": %llu, "
                   "\"out_too_big\": %llu, \"out_lagged\": %llu, \"out_skipped\": %llu, \"in_frames\": %llu, "
                   "\"in_bytes\": %llu, \"in_dropped\": %llu, \"in_too_big\": %llu, \"in_own\": %llu, "
                   "\"reconnects\": %llu, \"disconnects\": %llu, \"kv_revision\": %llu, \"watch_version\": %llu, "
                   "\"out_retries\": %llu, \"out_duplicates\": %llu, \"out_pending\": %llu, "
                   "\"out_resumed_after\": %llu, \"in_duplicates\": %llu, \"in_redelivered\": %llu, "
                   "\"stream_seq\": %llu}\n",
                   os[i].channel, os[i].subject, os[i].delivery == KLAW_NATS_JETSTREAM ? "jetstream" : "core",
                   s.connected ? "true" : "false", s.done ? "true" : "false",
                   (unsigned long long)s.out_frames, (unsigned long long)s.out_bytes,
                   (unsigned long long)s.out_dropped, (unsigned long long)s.out_too_big,
                   (unsigned long long)s.out_lagged, (unsigned long long)s.out_skipped,
                   (unsigned long long)s.in_frames, (unsigned long long)s.in_bytes,
                   (unsigned long long)s.in_dropped, (unsigned long long)s.in_too_big,
                   (unsigned long long)s.in_own, (unsigned long long)s.reconnects,
                   (unsigned long long)s.disconnects, (unsigned long long)s.kv_revision,
                   (unsigned long long)s.watch_version, (unsigned long long)s.out_retries,
                   (unsigned long long)s.out_duplicates, (unsigned long long)s.out_pending,
                   (unsigned long long)s.out_resumed_after, (unsigned long long)s.in_duplicates,
                   (unsigned long long)s.in_redelivered, (unsigned long long)s.stream_seq);
        } else {
            char of[32], ob[32], inf[32], ib[32];
            format_count(s.out_frames, of, sizeof of);
            format_size(s.out_bytes, ob, sizeof ob);
            format_count(s.in_frames, inf, sizeof inf);
            format_size(s.in_bytes, ib, sizeof ib);
            printf("%s <-> %s: %s; out %s frames (%s), dropped %llu, too big %llu, lagged %llu, skipped %llu; "
                   "in %s frames (%s), dropped %llu, too big %llu; reconnects %llu%s\n",
                   os[i].channel, os[i].subject, s.connected ? "connected" : "not connected", of, ob,
                   (unsigned long long)s.out_dropped, (unsigned long long)s.out_too_big,
                   (unsigned long long)s.out_lagged, (unsigned long long)s.out_skipped, inf, ib,
                   (unsigned long long)s.in_dropped, (unsigned long long)s.in_too_big,
                   (unsigned long long)s.reconnects, s.done ? "; done (channel closed)" : "");
            if (os[i].delivery == KLAW_NATS_JETSTREAM)
                printf("  jetstream: stream seq %llu, retries %llu, duplicates out %llu / in %llu, "
                       "redelivered %llu, pending %llu\n",
                       (unsigned long long)s.stream_seq, (unsigned long long)s.out_retries,
                       (unsigned long long)s.out_duplicates, (unsigned long long)s.in_duplicates,
                       (unsigned long long)s.in_redelivered, (unsigned long long)s.out_pending);
        }
    }
    fflush(stdout);
}

int cmd_bridge(int argc, char **argv)
{
    cmd_args a;
    int rc = parse_opts("bridge", argc, argv, bridge_opts, KT_MAX_OPS, NULL, &a);
    if (rc)
        return rc;
    if (a.help) {
        fputs(bridge_usage, stdout);
        return 0;
    }
    int ndir = a.seen[O_OUT] + a.seen[O_IN] + a.seen[O_BOTH];
    if (ndir > 1)
        return usage_msg("bridge", "--out, --in and --both exclude each other");
    uint64_t interval = 0;
    if (a.seen[O_STATS] && !parse_count(a.vals[O_STATS], 86400, &interval))
        return usage_msg("bridge", "--stats-interval takes whole seconds (0..86400), not '%s'", a.vals[O_STATS]);
    uint64_t replicas = 0, window = 0, ack_wait = 0;
    if (a.seen[O_REPLICAS] && !parse_count(a.vals[O_REPLICAS], 5, &replicas))
        return usage_msg("bridge", "--replicas takes 1..5, not '%s'", a.vals[O_REPLICAS]);
    if (a.seen[O_WINDOW] && !parse_count(a.vals[O_WINDOW], 65536, &window))
        return usage_msg("bridge", "--ack-window takes 1..65536, not '%s'", a.vals[O_WINDOW]);
    if (a.seen[O_ACK_WAIT] && !parse_count(a.vals[O_ACK_WAIT], 3600000, &ack_wait))
        return usage_msg("bridge", "--ack-wait takes milliseconds (1..3600000), not '%s'", a.vals[O_ACK_WAIT]);
    if ((a.seen[O_STREAM] || a.seen[O_DURABLE] || a.seen[O_REPLICAS] || a.seen[O_WINDOW] || a.seen[O_ACK_WAIT]) &&
        !a.seen[O_JETSTREAM] && !a.seen[O_CONFIG])
        return usage_msg("bridge", "--stream, --durable, --replicas, --ack-window and --ack-wait go with --jetstream");
    if (a.seen[O_CONFIG] && a.n_ops)
        return usage_msg("bridge", "CHANNEL SUBJECT pairs or --config, not both");
    if (!a.seen[O_CONFIG] && (a.n_ops == 0 || a.n_ops % 2))
        return usage_msg("bridge", a.n_ops ? "a CHANNEL without its SUBJECT" : "which CHANNEL and SUBJECT?");

    static uint8_t arena_mem[1 << 16];
    klaw_arena arena;
    klaw_arena_init(&arena, arena_mem, sizeof arena_mem);
    buf text = {0}, mp = {0};
    conf_file conf = {0};
    size_t n;
    if (a.seen[O_CONFIG]) {
        rc = read_config(a.vals[O_CONFIG], &conf, &arena, &text, &mp);
        if (rc) {
            buf_free(&text);
            buf_free(&mp);
            return rc;
        }
        n = conf.bridges.len;
    } else {
        n = (size_t)a.n_ops / 2;
    }
    klaw_nats_opts *os = calloc(n, sizeof *os);
    klaw_nats_bridge **bs = calloc(n, sizeof *bs);
    if (!os || !bs) {
        free(os);
        free(bs);
        return fail_msg("out of memory");
    }
    const char *servers = a.seen[O_SERVERS] ? a.vals[O_SERVERS] : conf.servers.len ? conf.servers.ptr : NULL;
    const char *origin = a.seen[O_ORIGIN] ? a.vals[O_ORIGIN] : conf.origin.len ? conf.origin.ptr : NULL;
    unsigned dir = a.seen[O_IN] ? KLAW_NATS_IN : a.seen[O_BOTH] ? KLAW_NATS_OUT | KLAW_NATS_IN : KLAW_NATS_OUT;
    for (size_t i = 0; i < n; i++) {
        os[i].servers = servers;
        os[i].origin = origin;
        if (a.seen[O_CONFIG]) {
            const conf_bridge *cb = (const conf_bridge *)conf.bridges.items + i;
            os[i].channel = cb->channel.ptr;
            os[i].subject = cb->subject.ptr;
            os[i].direction = (unsigned)cb->direction;
            os[i].delivery = (klaw_nats_delivery)cb->delivery;
            os[i].queue_group = cb->queue_group.len ? cb->queue_group.ptr : NULL;
            os[i].bucket = cb->bucket.len ? cb->bucket.ptr : NULL;
            os[i].stream = cb->stream.len ? cb->stream.ptr : NULL;
            os[i].durable = cb->durable.len ? cb->durable.ptr : NULL;
            os[i].replicas = (unsigned)cb->replicas;
            os[i].ack_window = (uint32_t)cb->ack_window;
            os[i].ack_wait_ms = (uint32_t)cb->ack_wait_ms;
        } else {
            os[i].channel = a.ops[2 * i];
            os[i].subject = a.ops[2 * i + 1];
            os[i].direction = dir;
            os[i].queue_group = a.seen[O_QUEUE] ? a.vals[O_QUEUE] : NULL;
            os[i].bucket = a.seen[O_BUCKET] ? a.vals[O_BUCKET] : NULL;
            os[i].delivery = a.seen[O_JETSTREAM] ? KLAW_NATS_JETSTREAM : KLAW_NATS_CORE;
            os[i].stream = a.seen[O_STREAM] ? a.vals[O_STREAM] : NULL;
            os[i].durable = a.seen[O_DURABLE] ? a.vals[O_DURABLE] : NULL;
            os[i].replicas = (unsigned)replicas;
            os[i].ack_window = (uint32_t)window;
            os[i].ack_wait_ms = (uint32_t)ack_wait;
        }
    }
    catch_stop_signals();
    rc = 0;
    size_t started = 0;
    for (; started < n; started++) {
        const char *why = NULL;
        klaw_status st = klaw_nats_bridge_start(&os[started], &bs[started], &why);
        if (st != KLAW_OK) {
            rc = fail_msg("bridge %s <-> %s: %s", os[started].channel, os[started].subject,
                          why ? why : klaw_strerror(st));
            break;
        }
    }
    if (rc == 0) {
        struct timespec next;
        clock_gettime(CLOCK_MONOTONIC, &next);
        next.tv_sec += (time_t)interval;
        while (!stop_requested) {
            size_t done = 0;
            for (size_t i = 0; i < n; i++)
                done += (size_t)klaw_nats_bridge_done(bs[i]);
            if (done == n)
                break;
            struct timespec d = {0, 100000000};
            nanosleep(&d, NULL);
            if (interval) {
                struct timespec now;
                clock_gettime(CLOCK_MONOTONIC, &now);
                if (now.tv_sec > next.tv_sec || (now.tv_sec == next.tv_sec && now.tv_nsec >= next.tv_nsec)) {
                    print_stats(bs, os, n, a.seen[O_JSON]);
                    next.tv_sec += (time_t)interval;
                }
            }
        }
    }
    /* the final counters, then each bridge stops (and flushes) */
    if (rc == 0)
        print_stats(bs, os, n, a.seen[O_JSON]);
    for (size_t i = 0; i < started; i++)
        klaw_nats_bridge_stop(bs[i]);
    free(os);
    free(bs);
    buf_free(&text);
    buf_free(&mp);
    return rc;
}

#else /* no nats.c at build time */

int cmd_bridge(int argc, char **argv)
{
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(bridge_usage, stdout);
            return 0;
        }
    return fail_msg("bridge: this klaw was built without NATS support (nats.c, libnats-dev, was not found)");
}

#endif
