/* test_channel.c - inspecting channels by name (klaw/channel.h): the
 * metadata record round trip, stats that match the kind's own and leave
 * the channel as it was, listing /dev/shm, and refusing corrupt or hostile
 * regions with KLAW_CORRUPT (never a crash or an out-of-bounds read: run
 * under ASan, the mutation test would show one). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "klaw/channel.h"
#include "klaw/klaw.h"

/* ---- helpers ------------------------------------------------------------- */

static char names[4][64];

/* A channel name unique to this process and tag (slot i of names). */
static const char *uniq(int i, const char *tag)
{
    snprintf(names[i], sizeof names[i], "tchan-%d-%s", (int)getpid(), tag);
    klaw_region_unlink(names[i]);
    return names[i];
}

typedef struct text {
    char s[8192];
    size_t len;
} text;

static klaw_status text_fn(void *ctx, const char *data, size_t len)
{
    text *t = ctx;
    if (len >= sizeof t->s - t->len)
        return KLAW_TOOBIG;
    memcpy(t->s + t->len, data, len);
    t->len += len;
    t->s[t->len] = '\0';
    return KLAW_OK;
}

static klaw_status fail_fn(void *ctx, const char *data, size_t len)
{
    (void)ctx;
    (void)data;
    (void)len;
    return KLAW_PERM;
}

static void creator_text(char *out, size_t cap)
{
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) != 0)
        strcpy(host, "localhost");
    snprintf(out, cap, "%s:%d", host, (int)getpid());
}

static bool str_is(klaw_str s, const char *want)
{
    return s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0;
}

/* Reads the int of key in a MessagePack map (backend_extras); -1 when the
 * key is absent. */
static int64_t extras_int(klaw_mp_raw m, const char *key)
{
    klaw_mp_reader r;
    klaw_mp_reader_init(&r, m.ptr, m.len);
    uint32_t n;
    assert_int_equal(klaw_mp_read_map(&r, &n), KLAW_OK);
    for (uint32_t i = 0; i < n; i++) {
        const char *k;
        uint32_t kl;
        assert_int_equal(klaw_mp_read_str(&r, &k, &kl), KLAW_OK);
        if (kl == strlen(key) && memcmp(k, key, kl) == 0) {
            int64_t v;
            assert_int_equal(klaw_mp_read_int(&r, &v), KLAW_OK);
            return v;
        }
        assert_int_equal(klaw_mp_skip(&r), KLAW_OK);
    }
    assert_int_equal(klaw_mp_reader_finish(&r), KLAW_OK);
    return -1;
}

/* The str of key in a MessagePack map (backend_extras), NUL-terminated
 * into out; false when the key is absent. */
static bool extras_str(klaw_mp_raw m, const char *key, char *out, size_t cap)
{
    klaw_mp_reader r;
    klaw_mp_reader_init(&r, m.ptr, m.len);
    uint32_t n;
    assert_int_equal(klaw_mp_read_map(&r, &n), KLAW_OK);
    for (uint32_t i = 0; i < n; i++) {
        const char *k, *v;
        uint32_t kl, vl;
        assert_int_equal(klaw_mp_read_str(&r, &k, &kl), KLAW_OK);
        if (kl == strlen(key) && memcmp(k, key, kl) == 0) {
            assert_int_equal(klaw_mp_read_str(&r, &v, &vl), KLAW_OK);
            assert_true(vl < cap);
            memcpy(out, v, vl);
            out[vl] = '\0';
            return true;
        }
        assert_int_equal(klaw_mp_skip(&r), KLAW_OK);
    }
    return false;
}

/* A published region of `kind` whose metadata record is meta[0, len) at
 * offset 4096 (len 0: no record). */
static void make_region(const char *name, uint32_t kind, const void *meta, size_t len, size_t size)
{
    klaw_region *r;
    assert_int_equal(klaw_region_create(name, size, kind, 0, &r), KLAW_OK);
    if (len)
        memcpy((uint8_t *)klaw_region_base(r) + 4096, meta, len);
    assert_int_equal(klaw_region_publish(r, 4096, len, 1024, 1024), KLAW_OK);
    klaw_region_close(r);
}

/* Encodes m with the ChannelMetadata schema into out; returns the length. */
static size_t encode_meta(const klaw_channel_metadata *m, uint8_t *out, size_t cap)
{
    klaw_mp_writer w;
    klaw_mp_writer_init(&w, out, cap);
    assert_int_equal(klaw_schema_encode(klaw_record_schema(KLAW_RECORD_CHANNEL_METADATA), m, &w), KLAW_OK);
    return klaw_mp_writer_len(&w);
}

static void expect_corrupt(const char *name, const char *why_part)
{
    klaw_channel *ch = (klaw_channel *)1;
    const char *why = NULL;
    assert_int_equal(klaw_channel_open(name, 0, &ch, &why), KLAW_CORRUPT);
    assert_null(ch);
    assert_non_null(why);
    if (!strstr(why, why_part))
        fail_msg("why '%s' does not say '%s'", why, why_part);
    klaw_region_unlink(name);
}

/* ---- metadata ------------------------------------------------------------- */

static void metadata_round_trips_for_a_created_mpmc(void **state)
{
    (void)state;
    const char *name = uniq(0, "meta");
    klaw_mpmc_opts o = {.capacity = 5, .max_frame = 100, .name = name, .value_type = "Order"};
    klaw_mpmc_tx *tx;
    klaw_mpmc_rx *rx;
    assert_int_equal(klaw_mpmc_create(&o, &tx, &rx), KLAW_OK);

    klaw_channel *ch;
    const char *why = "untouched";
    assert_int_equal(klaw_channel_open(name, 0, &ch, &why), KLAW_OK);
    assert_null(why);
    assert_string_equal(klaw_channel_name(ch), name);
    assert_int_equal(klaw_channel_kind(ch), KLAW_CHANNEL_MPMC);
    assert_string_equal(klaw_channel_type_name(klaw_channel_kind(ch)), "mpmc");

    const klaw_channel_metadata *m = klaw_channel_meta(ch);
    char creator[300];
    creator_text(creator, sizeof creator);
    assert_int_equal(m->channel_type, KLAW_CHANNEL_MPMC);
    assert_true(m->has_capacity);
    assert_int_equal(m->capacity, 8); /* rounded up to a power of two */
    assert_false(m->unbounded);
    assert_true(m->has_value_type);
    assert_true(str_is(m->value_type, "Order"));
    assert_int_equal(m->max_frame, 100);
    assert_int_equal(m->policy, KLAW_POLICY_NONE);
    assert_true(str_is(m->name, name));
    assert_true(str_is(m->creator, creator));

    /* created_at is the region header's */
    klaw_region *r;
    assert_int_equal(klaw_region_open(name, 0, 0, &r), KLAW_OK);
    const klaw_region_header *h = klaw_region_hdr(r);
    assert_int_equal((int64_t)m->created_at.tv_sec * 1000000000 + m->created_at.tv_nsec, h->created_at_ns);

    /* the raw record is the region's bytes, and decoding then encoding
     * gives them back byte for byte */
    klaw_mp_raw raw = klaw_channel_meta_raw(ch);
    assert_int_equal(raw.len, h->meta_len);
    assert_memory_equal(raw.ptr, (uint8_t *)klaw_region_base(r) + h->meta_off, raw.len);
    uint8_t again[2048];
    size_t n = encode_meta(m, again, sizeof again);
    assert_int_equal(n, raw.len);
    assert_memory_equal(again, raw.ptr, n);
    klaw_region_close(r);

    /* as JSON: klaw-core's fields, then klaw's, policy left out (default) */
    text t = {.len = 0};
    assert_int_equal(klaw_channel_meta_json(ch, text_fn, &t), KLAW_OK);
    char want_head[512], want_tail[512];
    snprintf(want_head, sizeof want_head,
             "{\"channel_type\":\"mpmc\",\"capacity\":8,\"unbounded\":false,\"value_type\":\"Order\","
             "\"max_frame\":100,\"name\":\"%s\",\"created_at\":\"",
             name);
    snprintf(want_tail, sizeof want_tail, "Z\",\"creator\":\"%s\"}", creator);
    assert_true(strncmp(t.s, want_head, strlen(want_head)) == 0);
    assert_true(t.len > strlen(want_tail) &&
                strcmp(t.s + t.len - strlen(want_tail), want_tail) == 0);
    /* the write callback's failure comes back */
    assert_int_equal(klaw_channel_meta_json(ch, fail_fn, NULL), KLAW_PERM);

    klaw_channel_close(ch);
    klaw_channel_close(NULL);
    klaw_mpmc_tx_free(tx);
    klaw_mpmc_rx_free(rx);
    klaw_region_unlink(name);
}

/* ---- stats ------------------------------------------------------------------ */

static void mpmc_stats_match_its_own_and_inspection_changes_nothing(void **state)
{
    (void)state;
    const char *name = uniq(0, "stats");
    klaw_mpmc_opts o = {.capacity = 8, .max_frame = 64, .name = name};
    klaw_mpmc_tx *tx;
    klaw_mpmc_rx *rx;
    assert_int_equal(klaw_mpmc_create(&o, &tx, &rx), KLAW_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(klaw_mpmc_try_send(tx, &i, sizeof i), KLAW_OK);
    int v;
    size_t len;
    assert_int_equal(klaw_mpmc_try_recv(rx, &v, sizeof v, &len), KLAW_OK);
    assert_int_equal(v, 0);
    klaw_frame f;
    assert_int_equal(klaw_mpmc_try_claim(tx, 4, &f), KLAW_OK);
    klaw_mpmc_abort(tx, &f);

    klaw_channel *ch;
    assert_int_equal(klaw_channel_open(name, 0, &ch, NULL), KLAW_OK);
    klaw_channel_stats s;
    for (int round = 0; round < 3; round++) { /* looking again sees the same */
        assert_int_equal(klaw_channel_read_stats(ch, &s), KLAW_OK);
        assert_int_equal(s.sender_count, 1);
        assert_int_equal(s.receiver_count, 1);
        assert_int_equal(s.queue_size, 2);
        assert_true(s.has_capacity);
        assert_int_equal(s.capacity, 8);
        assert_false(s.senders_closed);
        assert_false(s.receivers_closed);
        assert_int_equal(s.total_sent, 3);
        assert_int_equal(s.total_received, 1);
        assert_true(s.high_watermark >= 3);
        assert_int_equal(extras_int(s.backend_extras, "max_frame"), 64);
        assert_int_equal(extras_int(s.backend_extras, "aborted_claims"), 1);
        assert_int_equal(extras_int(s.backend_extras, "redelivered"), 0);
        assert_int_equal(extras_int(s.backend_extras, "reaped_handles"), 0);
        assert_int_equal(klaw_channel_meta(ch)->created_at.tv_sec, s.created_at.tv_sec);
        assert_int_equal(klaw_channel_meta(ch)->created_at.tv_nsec, s.created_at.tv_nsec);
    }
    /* mpmc keeps no reader registry */
    size_t nr = 99;
    klaw_reader_info rd[2];
    assert_int_equal(klaw_channel_readers(ch, rd, 2, &nr), KLAW_OK);
    assert_int_equal(nr, 0);

    /* the channel's own view agrees, and no handle was taken or frame moved */
    klaw_mpmc_stats ms;
    assert_int_equal(klaw_mpmc_tx_stats(tx, &ms), KLAW_OK);
    assert_int_equal(ms.senders, 1);
    assert_int_equal(ms.receivers, 1);
    assert_int_equal(ms.depth, 3); /* its depth counts the aborted slot too */
    assert_int_equal(ms.total_sent, 3);
    for (int i = 1; i < 3; i++) {
        assert_int_equal(klaw_mpmc_try_recv(rx, &v, sizeof v, &len), KLAW_OK);
        assert_int_equal(v, i);
    }
    assert_int_equal(klaw_mpmc_try_recv(rx, &v, sizeof v, &len), KLAW_EMPTY);

    /* the record as JSON, exactly (created_at aside) */
    assert_int_equal(klaw_channel_read_stats(ch, &s), KLAW_OK);
    s.created_at.tv_sec = 1609459200; /* 2021-01-01 */
    s.created_at.tv_nsec = 5;
    s.high_watermark = 3;
    text t = {.len = 0};
    assert_int_equal(klaw_record_json(KLAW_RECORD_CHANNEL_STATS, &s, text_fn, &t), KLAW_OK);
    assert_string_equal(t.s, "{\"sender_count\":1,\"receiver_count\":1,\"queue_size\":0,\"capacity\":8,"
                             "\"senders_closed\":false,\"receivers_closed\":false,"
                             "\"created_at\":\"2021-01-01T00:00:00.000000005Z\",\"high_watermark\":3,"
                             "\"total_sent\":3,\"total_received\":3,\"backend_extras\":{\"max_frame\":64,"
                             "\"aborted_claims\":1,\"redelivered\":0,\"reaped_handles\":0}}");

    /* closing shows in the flags; a sender's close is seen by inspection */
    klaw_mpmc_tx_close(tx);
    assert_int_equal(klaw_channel_read_stats(ch, &s), KLAW_OK);
    assert_int_equal(s.sender_count, 0);
    assert_true(s.senders_closed);
    assert_false(s.receivers_closed);
    klaw_channel_close(ch);
    klaw_mpmc_tx_free(tx);
    klaw_mpmc_rx_free(rx);
    klaw_region_unlink(name);
}

static void dead_processes_handles_are_reaped_by_inspection(void **state)
{
    (void)state;
    const char *name = uniq(0, "reap");
    klaw_mpmc_opts o = {.capacity = 4, .max_frame = 16, .name = name};
    klaw_mpmc_tx *tx;
    klaw_mpmc_rx *rx;
    assert_int_equal(klaw_mpmc_create(&o, &tx, &rx), KLAW_OK);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        klaw_mpmc_tx *t2;
        _exit(klaw_mpmc_open_tx(name, &t2) == KLAW_OK ? 0 : 1); /* dies holding it */
    }
    int wst;
    assert_int_equal(waitpid(pid, &wst, 0), pid);
    assert_true(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
    klaw_channel *ch;
    assert_int_equal(klaw_channel_open(name, 0, &ch, NULL), KLAW_OK);
    klaw_channel_stats s;
    assert_int_equal(klaw_channel_read_stats(ch, &s), KLAW_OK);
    assert_int_equal(s.sender_count, 1);
    assert_int_equal(extras_int(s.backend_extras, "reaped_handles"), 1);
    klaw_channel_close(ch);
    klaw_mpmc_tx_free(tx);
    klaw_mpmc_rx_free(rx);
    klaw_region_unlink(name);
}

static void reader_info_records_print_as_json(void **state)
{
    (void)state;
    klaw_reader_info ri = {.reader_id = KLAW_STR_LIT("r1"),
                           .node_id = KLAW_STR_LIT("h:7"),
                           .registered_at = {0, 0},
                           .last_seen_at = {1, 500000000},
                           .total_received = 42};
    text t = {.len = 0};
    assert_int_equal(klaw_record_json(KLAW_RECORD_READER_INFO, &ri, text_fn, &t), KLAW_OK);
    assert_string_equal(t.s, "{\"reader_id\":\"r1\",\"node_id\":\"h:7\",\"registered_at\":\"1970-01-01T00:00:00Z\","
                             "\"last_seen_at\":\"1970-01-01T00:00:01.500000000Z\",\"total_received\":42}");
    assert_int_equal(klaw_record_json(KLAW_RECORD_COUNT_, &ri, text_fn, &t), KLAW_INVAL);
    /* a Raw field that is not MessagePack is the caller's bad value */
    klaw_channel_stats s = {.backend_extras = {(const uint8_t *)"\xc1", 1}};
    t.len = 0;
    assert_int_equal(klaw_record_json(KLAW_RECORD_CHANNEL_STATS, &s, text_fn, &t), KLAW_INVAL);
    /* a record bigger than the function's stack buffer */
    char big[3000];
    memset(big, 'x', sizeof big);
    ri.reader_id = (klaw_str){big, sizeof big};
    static text tb;
    tb.len = 0;
    assert_int_equal(klaw_record_json(KLAW_RECORD_READER_INFO, &ri, text_fn, &tb), KLAW_OK);
    assert_true(strncmp(tb.s, "{\"reader_id\":\"xxx", 17) == 0);
    assert_int_equal(tb.len, 3000 + strlen("{\"reader_id\":\"\",\"node_id\":\"h:7\",\"registered_at\":"
                                           "\"1970-01-01T00:00:00Z\",\"last_seen_at\":"
                                           "\"1970-01-01T00:00:01.500000000Z\",\"total_received\":42}"));
}

static void broadcast_stats_and_readers_without_registering(void **state)
{
    (void)state;
    const char *name = uniq(0, "bcast");
    klaw_bcast_opts o = {.capacity = 4, .max_frame = 32, .name = name, .policy = KLAW_POLICY_OVERWRITE};
    klaw_bcast_tx *tx;
    assert_int_equal(klaw_bcast_create(&o, &tx), KLAW_OK);
    klaw_bcast_rx *ra, *rb;
    assert_int_equal(klaw_bcast_subscribe(tx, KLAW_BCAST_FROM_TAIL, "r-a", &ra), KLAW_OK);
    assert_int_equal(klaw_bcast_subscribe(tx, KLAW_BCAST_FROM_TAIL, "r-b", &rb), KLAW_OK);
    for (int i = 0; i < 6; i++)
        assert_int_equal(klaw_bcast_try_send(tx, &i, sizeof i), KLAW_OK);
    /* r-a takes two retained frames after lagging; r-b reads nothing */
    int v;
    size_t len;
    uint64_t lagged = 0;
    assert_int_equal(klaw_bcast_try_recv(ra, &v, sizeof v, &len, &lagged), KLAW_LAGGED);
    assert_int_equal(lagged, 2);
    for (int want = 2; want < 4; want++) {
        assert_int_equal(klaw_bcast_try_recv(ra, &v, sizeof v, &len, &lagged), KLAW_OK);
        assert_int_equal(v, want);
    }

    klaw_channel *ch;
    assert_int_equal(klaw_channel_open(name, 0, &ch, NULL), KLAW_OK);
    assert_int_equal(klaw_channel_kind(ch), KLAW_CHANNEL_BROADCAST);
    assert_int_equal(klaw_channel_meta(ch)->policy, KLAW_POLICY_OVERWRITE);
    klaw_channel_stats s;
    klaw_bcast_stats bs;
    for (int round = 0; round < 2; round++) {
        assert_int_equal(klaw_channel_read_stats(ch, &s), KLAW_OK);
        assert_int_equal(klaw_bcast_tx_stats(tx, &bs), KLAW_OK);
        assert_int_equal(s.sender_count, 1);
        assert_int_equal(s.receiver_count, 2); /* inspection registered nobody */
        assert_int_equal(bs.readers, 2);
        assert_int_equal(s.capacity, 4);
        assert_int_equal(s.total_sent, 6);
        assert_int_equal(s.total_received, 2);
        assert_int_equal((uint64_t)s.queue_size, bs.depth);
        assert_false(s.senders_closed);
        char pol[16];
        assert_true(extras_str(s.backend_extras, "policy", pol, sizeof pol));
        assert_string_equal(pol, "overwrite");
        assert_int_equal(extras_int(s.backend_extras, "max_frame"), 32);
        assert_int_equal(extras_int(s.backend_extras, "lagged"), (int64_t)bs.lagged);
        assert_int_equal(extras_int(s.backend_extras, "aborted_claims"), 0);
        assert_int_equal(extras_int(s.backend_extras, "evicted"), 0);
    }

    /* the registry: count first, then fill */
    size_t n = 0;
    assert_int_equal(klaw_channel_readers(ch, NULL, 0, &n), KLAW_OK);
    assert_int_equal(n, 2);
    klaw_reader_info rd[4];
    assert_int_equal(klaw_channel_readers(ch, rd, 1, &n), KLAW_OK);
    assert_int_equal(n, 2);
    assert_int_equal(klaw_channel_readers(ch, rd, 4, &n), KLAW_OK);
    assert_int_equal(n, 2);
    char node[300];
    creator_text(node, sizeof node);
    int seen_a = 0, seen_b = 0;
    for (size_t i = 0; i < n; i++) {
        assert_true(str_is(rd[i].node_id, node));
        if (str_is(rd[i].reader_id, "r-a")) {
            seen_a++;
            assert_int_equal(rd[i].total_received, 2);
        } else if (str_is(rd[i].reader_id, "r-b")) {
            seen_b++;
            assert_int_equal(rd[i].total_received, 0);
        }
    }
    assert_int_equal(seen_a, 1);
    assert_int_equal(seen_b, 1);
    text t = {.len = 0};
    assert_int_equal(klaw_record_json(KLAW_RECORD_READER_INFO, &rd[0], text_fn, &t), KLAW_OK);
    assert_true(strncmp(t.s, "{\"reader_id\":\"r-", 15) == 0);

    /* a reader leaves: the next snapshot shows it gone */
    klaw_bcast_rx_free(rb);
    assert_int_equal(klaw_channel_readers(ch, rd, 4, &n), KLAW_OK);
    assert_int_equal(n, 1);
    assert_true(str_is(rd[0].reader_id, "r-a"));
    /* closing shows */
    klaw_bcast_tx_close(tx);
    assert_int_equal(klaw_channel_read_stats(ch, &s), KLAW_OK);
    assert_true(s.senders_closed);
    assert_int_equal(s.sender_count, 0);
    klaw_channel_close(ch);
    klaw_bcast_rx_free(ra);
    klaw_bcast_tx_free(tx);
    klaw_region_unlink(name);
}

static void watch_and_oneshot_stats(void **state)
{
    (void)state;
    const char *wn = uniq(0, "watch");
    klaw_watch_opts wo = {.max_frame = 16, .name = wn, .initial = "ab", .initial_len = 2, .value_type = "V"};
    klaw_watch_tx *wtx;
    klaw_watch_rx *wrx;
    assert_int_equal(klaw_watch_create(&wo, &wtx, &wrx), KLAW_OK);
    assert_int_equal(klaw_watch_send(wtx, "cde", 3, NULL), KLAW_OK);
    assert_int_equal(klaw_watch_send(wtx, "fghi", 4, NULL), KLAW_OK);
    klaw_channel *ch;
    assert_int_equal(klaw_channel_open(wn, 0, &ch, NULL), KLAW_OK);
    assert_int_equal(klaw_channel_kind(ch), KLAW_CHANNEL_WATCH);
    assert_true(str_is(klaw_channel_meta(ch)->value_type, "V"));
    klaw_channel_stats s;
    assert_int_equal(klaw_channel_read_stats(ch, &s), KLAW_OK);
    assert_int_equal(s.sender_count, 1);
    assert_int_equal(s.receiver_count, 1);
    assert_int_equal(s.queue_size, 1);
    assert_int_equal(s.capacity, 1);
    assert_int_equal(s.total_sent, 2);
    assert_int_equal(extras_int(s.backend_extras, "version"), 2);
    assert_int_equal(extras_int(s.backend_extras, "value_len"), 4);
    assert_int_equal(extras_int(s.backend_extras, "max_frame"), 16);
    size_t n = 9;
    assert_int_equal(klaw_channel_readers(ch, NULL, 0, &n), KLAW_OK);
    assert_int_equal(n, 0);
    /* nothing was marked seen or taken by looking */
    int changed = -1;
    assert_int_equal(klaw_watch_has_changed(wrx, &changed), KLAW_OK);
    assert_int_equal(changed, 1);
    klaw_watch_tx_close(wtx);
    assert_int_equal(klaw_channel_read_stats(ch, &s), KLAW_OK);
    assert_true(s.senders_closed);
    klaw_channel_close(ch);
    klaw_watch_tx_free(wtx);
    klaw_watch_rx_free(wrx);
    klaw_region_unlink(wn);

    const char *on = uniq(1, "oneshot");
    klaw_oneshot_opts oo = {.max_frame = 16, .name = on};
    klaw_oneshot_tx *otx;
    klaw_oneshot_rx *orx;
    assert_int_equal(klaw_oneshot_create(&oo, &otx, &orx), KLAW_OK);
    assert_int_equal(klaw_channel_open(on, 0, &ch, NULL), KLAW_OK);
    assert_int_equal(klaw_channel_read_stats(ch, &s), KLAW_OK);
    assert_int_equal(s.sender_count, 1);
    assert_int_equal(s.receiver_count, 1);
    assert_int_equal(s.queue_size, 0);
    assert_int_equal(s.total_sent, 0);
    assert_int_equal(klaw_oneshot_send(otx, "xyz", 3), KLAW_OK);
    assert_int_equal(klaw_channel_read_stats(ch, &s), KLAW_OK);
    assert_int_equal(s.queue_size, 1);
    assert_int_equal(s.total_sent, 1);
    assert_int_equal(s.total_received, 0);
    assert_int_equal(extras_int(s.backend_extras, "value_len"), 3);
    char buf[16];
    size_t len;
    assert_int_equal(klaw_oneshot_try_recv(orx, buf, sizeof buf, &len), KLAW_OK);
    assert_int_equal(klaw_channel_read_stats(ch, &s), KLAW_OK);
    assert_int_equal(s.queue_size, 0);
    assert_int_equal(s.total_received, 1);
    klaw_channel_close(ch);
    klaw_oneshot_tx_free(otx);
    klaw_oneshot_rx_free(orx);
    klaw_region_unlink(on);
}

/* A good metadata record over a body of zeros: every kind's inspection
 * refuses the layout. */
static void every_kinds_bad_body_is_corrupt(void **state)
{
    (void)state;
    const char *name = uniq(0, "zbody");
    for (int kind = KLAW_CHANNEL_MPMC; kind <= KLAW_CHANNEL_ONESHOT; kind++) {
        klaw_channel_metadata m = {.channel_type = kind,
                                   .capacity = 4,
                                   .has_capacity = true,
                                   .max_frame = 16,
                                   .policy = kind == KLAW_CHANNEL_BROADCAST ? KLAW_POLICY_BLOCK : KLAW_POLICY_NONE};
        uint8_t mp[512];
        size_t n = encode_meta(&m, mp, sizeof mp);
        make_region(name, (uint32_t)kind, mp, n, 16384);
        klaw_channel *ch;
        assert_int_equal(klaw_channel_open(name, 0, &ch, NULL), KLAW_OK);
        klaw_channel_stats s;
        assert_int_equal(klaw_channel_read_stats(ch, &s), KLAW_CORRUPT);
        size_t nr = 7;
        klaw_reader_info rd[2];
        klaw_status want = kind == KLAW_CHANNEL_BROADCAST ? KLAW_CORRUPT : KLAW_OK;
        assert_int_equal(klaw_channel_readers(ch, rd, 2, &nr), want);
        assert_int_equal(nr, 0);
        klaw_channel_close(ch);
        klaw_region_unlink(name);
    }
}

/* ---- inspection while the channel is busy ------------------------------------ */

static long stress_frames(long dflt)
{
    const char *e = getenv("KLAW_STRESS_FRAMES");
    long n = e ? atol(e) : dflt;
    return n > 0 ? n : dflt;
}

typedef struct busy {
    const char *name;
    long frames;
    klaw_mpmc_tx *tx;
    klaw_mpmc_rx *rx;
    uint8_t *seen; /* per frame value: times received */
    atomic_int done;
    long inspections;
} busy;

static void *busy_producer(void *arg)
{
    busy *b = arg;
    for (long i = 0; i < b->frames; i++) {
        uint32_t v = (uint32_t)i;
        if (i % 97 == 0) { /* some aborted claims too */
            klaw_frame f;
            assert_int_equal(klaw_mpmc_claim(b->tx, 4, NULL, &f), KLAW_OK);
            klaw_mpmc_abort(b->tx, &f);
        }
        assert_int_equal(klaw_mpmc_send(b->tx, &v, sizeof v, NULL), KLAW_OK);
    }
    klaw_mpmc_tx_close(b->tx);
    return NULL;
}

static void *busy_consumer(void *arg)
{
    busy *b = arg;
    for (;;) {
        uint32_t v;
        size_t len;
        klaw_status st = klaw_mpmc_recv(b->rx, &v, sizeof v, &len, NULL);
        if (st == KLAW_CLOSED)
            break;
        assert_int_equal(st, KLAW_OK);
        assert_int_equal(len, sizeof v);
        assert_true(v < (uint32_t)b->frames);
        b->seen[v]++;
    }
    return NULL;
}

static void *busy_inspector(void *arg)
{
    busy *b = arg;
    while (!atomic_load(&b->done)) {
        klaw_channel *ch;
        assert_int_equal(klaw_channel_open(b->name, 0, &ch, NULL), KLAW_OK);
        klaw_channel_stats s;
        assert_int_equal(klaw_channel_read_stats(ch, &s), KLAW_OK);
        /* a snapshot while frames move: bounded, never negative */
        assert_true(s.total_sent >= 0 && s.total_sent <= b->frames);
        assert_true(s.total_received >= 0 && s.total_received <= b->frames);
        assert_true(s.queue_size >= 0 && s.queue_size <= s.total_sent);
        assert_true(s.sender_count <= 1 && s.receiver_count == 1);
        assert_true(extras_int(s.backend_extras, "aborted_claims") <= b->frames / 97 + 1);
        klaw_channel_close(ch);
        b->inspections++;
    }
    return NULL;
}

/* A producer and a consumer thread move frames through a small ring while
 * an inspector opens and reads the channel over and over: every frame
 * still arrives exactly once, the snapshots stay within bounds, and the
 * quiet channel's stats are exact. KLAW_STRESS_FRAMES sets the frames
 * (default 20000). */
static void inspection_during_traffic_changes_nothing(void **state)
{
    (void)state;
    busy b = {.name = uniq(0, "busy"), .frames = stress_frames(20000)};
    klaw_mpmc_opts o = {.capacity = 4, .max_frame = 8, .name = b.name};
    assert_int_equal(klaw_mpmc_create(&o, &b.tx, &b.rx), KLAW_OK);
    b.seen = calloc((size_t)b.frames, 1);
    assert_non_null(b.seen);
    pthread_t p, c, in;
    assert_int_equal(pthread_create(&in, NULL, busy_inspector, &b), 0);
    assert_int_equal(pthread_create(&c, NULL, busy_consumer, &b), 0);
    assert_int_equal(pthread_create(&p, NULL, busy_producer, &b), 0);
    pthread_join(p, NULL);
    pthread_join(c, NULL);
    atomic_store(&b.done, 1);
    pthread_join(in, NULL);
    for (long i = 0; i < b.frames; i++)
        if (b.seen[i] != 1)
            fail_msg("frame %ld received %d times", i, b.seen[i]);
    assert_true(b.inspections > 0);

    klaw_channel *ch;
    assert_int_equal(klaw_channel_open(b.name, 0, &ch, NULL), KLAW_OK);
    klaw_channel_stats s;
    assert_int_equal(klaw_channel_read_stats(ch, &s), KLAW_OK);
    assert_int_equal(s.total_sent, b.frames);
    assert_int_equal(s.total_received, b.frames);
    assert_int_equal(s.queue_size, 0);
    assert_true(s.senders_closed);
    assert_int_equal(extras_int(s.backend_extras, "aborted_claims"), (b.frames + 96) / 97);
    klaw_channel_close(ch);
    free(b.seen);
    klaw_mpmc_tx_free(b.tx);
    klaw_mpmc_rx_free(b.rx);
    klaw_region_unlink(b.name);
}

typedef struct churn {
    klaw_bcast_tx *tx;
    const char *name;
    int rounds;
    atomic_int done;
} churn;

static void *churn_readers(void *arg)
{
    churn *c = arg;
    for (int i = 0; i < c->rounds; i++) {
        char id[32];
        snprintf(id, sizeof id, "churn-%d", i % 5);
        klaw_bcast_rx *rx;
        assert_int_equal(klaw_bcast_subscribe(c->tx, KLAW_BCAST_FROM_TAIL, id, &rx), KLAW_OK);
        klaw_bcast_try_send(c->tx, &i, sizeof i);
        klaw_bcast_rx_free(rx);
    }
    atomic_store(&c->done, 1);
    return NULL;
}

/* Readers come and go while the registry is read through klaw/channel.h:
 * every list is of one registry version - no reader twice, never more
 * than are registered at once (the fixed reader plus one churning). */
static void reader_lists_stay_consistent_while_readers_churn(void **state)
{
    (void)state;
    churn c = {.name = uniq(0, "churn"), .rounds = (int)(stress_frames(20000) / 10)};
    klaw_bcast_opts o = {.capacity = 8, .max_frame = 8, .name = c.name};
    assert_int_equal(klaw_bcast_create(&o, &c.tx), KLAW_OK);
    klaw_bcast_rx *fixed;
    assert_int_equal(klaw_bcast_subscribe(c.tx, KLAW_BCAST_FROM_TAIL, "fixed", &fixed), KLAW_OK);
    klaw_channel *ch;
    assert_int_equal(klaw_channel_open(c.name, 0, &ch, NULL), KLAW_OK);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, churn_readers, &c), 0);
    long looks = 0;
    while (!atomic_load(&c.done) || looks == 0) {
        klaw_reader_info rd[8];
        size_t n;
        assert_int_equal(klaw_channel_readers(ch, rd, 8, &n), KLAW_OK);
        assert_true(n >= 1 && n <= 2);
        int fixed_seen = 0;
        for (size_t i = 0; i < n; i++) {
            if (str_is(rd[i].reader_id, "fixed"))
                fixed_seen++;
            else
                assert_true(rd[i].reader_id.len == 7 && memcmp(rd[i].reader_id.ptr, "churn-", 6) == 0);
        }
        assert_int_equal(fixed_seen, 1);
        klaw_channel_stats s;
        assert_int_equal(klaw_channel_read_stats(ch, &s), KLAW_OK);
        assert_true(s.receiver_count >= 1 && s.receiver_count <= 2);
        looks++;
    }
    pthread_join(t, NULL);
    klaw_channel_close(ch);
    klaw_bcast_rx_free(fixed);
    klaw_bcast_tx_free(c.tx);
    klaw_region_unlink(c.name);
}

/* ---- listing ---------------------------------------------------------------- */

typedef struct seen_names {
    char list[64][256];
    int n;
    int stop_after; /* 0: never */
} seen_names;

static klaw_status collect(void *ctx, const char *name)
{
    seen_names *s = ctx;
    if (s->n < 64)
        snprintf(s->list[s->n++], sizeof s->list[0], "%s", name);
    if (s->stop_after && s->n >= s->stop_after)
        return KLAW_TIMEOUT;
    return KLAW_OK;
}

static int find(const seen_names *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->list[i], name) == 0)
            return i;
    return -1;
}

static void listing_finds_named_channels_in_order(void **state)
{
    (void)state;
    const char *zz = uniq(0, "zz-list");
    const char *aa = uniq(1, "aa-list");
    klaw_mpmc_opts o = {.capacity = 2, .max_frame = 8, .name = zz};
    klaw_mpmc_tx *tx1, *tx2;
    klaw_mpmc_rx *rx1, *rx2;
    assert_int_equal(klaw_mpmc_create(&o, &tx1, &rx1), KLAW_OK);
    o.name = aa;
    assert_int_equal(klaw_mpmc_create(&o, &tx2, &rx2), KLAW_OK);
    /* things in /dev/shm that are not klaw channels */
    char odd1[128], odd2[128];
    snprintf(odd1, sizeof odd1, "/dev/shm/klaw.tchan-%d-bad name", (int)getpid());
    snprintf(odd2, sizeof odd2, "/dev/shm/klawtchan-%d-nodot", (int)getpid());
    int fd = open(odd1, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    assert_true(fd >= 0);
    close(fd);
    fd = open(odd2, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    assert_true(fd >= 0);
    close(fd);

    static seen_names s;
    s.n = 0;
    s.stop_after = 0;
    assert_int_equal(klaw_channel_list(collect, &s), KLAW_OK);
    int ia = find(&s, aa), iz = find(&s, zz);
    assert_true(ia >= 0);
    assert_true(iz > ia);
    for (int i = 1; i < s.n; i++)
        assert_true(strcmp(s.list[i - 1], s.list[i]) < 0);
    for (int i = 0; i < s.n; i++) {
        assert_null(strchr(s.list[i], ' '));
        assert_null(strstr(s.list[i], "nodot"));
    }
    /* the callback's status stops the walk */
    s.n = 0;
    s.stop_after = 1;
    assert_int_equal(klaw_channel_list(collect, &s), KLAW_TIMEOUT);
    assert_int_equal(s.n, 1);

    /* removed: no longer listed */
    klaw_mpmc_tx_free(tx1);
    klaw_mpmc_rx_free(rx1);
    klaw_mpmc_tx_free(tx2);
    klaw_mpmc_rx_free(rx2);
    klaw_region_unlink(zz);
    klaw_region_unlink(aa);
    s.n = 0;
    s.stop_after = 0;
    assert_int_equal(klaw_channel_list(collect, &s), KLAW_OK);
    assert_int_equal(find(&s, aa), -1);
    assert_int_equal(find(&s, zz), -1);
    unlink(odd1);
    unlink(odd2);
}

/* ---- refusing bad regions ----------------------------------------------------- */

static void missing_and_badly_named_channels_are_refused(void **state)
{
    (void)state;
    klaw_channel *ch = (klaw_channel *)1;
    const char *why = NULL;
    assert_int_equal(klaw_channel_open(uniq(0, "absent"), 0, &ch, &why), KLAW_NOENT);
    assert_null(ch);
    assert_string_equal(why, klaw_strerror(KLAW_NOENT));
    assert_int_equal(klaw_channel_open("a/b", 0, &ch, NULL), KLAW_INVAL);
    assert_int_equal(klaw_channel_open("", 0, &ch, NULL), KLAW_INVAL);
}

static void corrupt_regions_are_refused(void **state)
{
    (void)state;
    const char *name = uniq(0, "corrupt");
    char creator[300];
    creator_text(creator, sizeof creator);
    klaw_channel_metadata good = {.channel_type = KLAW_CHANNEL_MPMC,
                                  .capacity = 4,
                                  .has_capacity = true,
                                  .max_frame = 16,
                                  .name = {name, (uint32_t)strlen(name)},
                                  .creator = {creator, (uint32_t)strlen(creator)}};
    uint8_t mp[4096];
    size_t n = encode_meta(&good, mp, sizeof mp);

    /* the good record opens (the kind's layout is not looked at by open) */
    make_region(name, KLAW_KIND_MPMC, mp, n, 8192);
    klaw_channel *ch;
    assert_int_equal(klaw_channel_open(name, 0, &ch, NULL), KLAW_OK);
    /* ... but its counters are: the body here is zeros, no ring */
    klaw_channel_stats s;
    assert_int_equal(klaw_channel_read_stats(ch, &s), KLAW_CORRUPT);
    assert_int_equal(s.total_sent, 0);
    klaw_channel_close(ch);
    klaw_region_unlink(name);

    make_region(name, KLAW_KIND_MPMC, NULL, 0, 8192);
    expect_corrupt(name, "no metadata record");
    make_region(name, 0, mp, n, 8192);
    expect_corrupt(name, "no channel kind");
    make_region(name, 9, mp, n, 8192);
    expect_corrupt(name, "no channel kind");
    make_region(name, KLAW_KIND_BROADCAST, mp, n, 8192); /* record says mpmc */
    expect_corrupt(name, "channel_type is not the region's kind");
    make_region(name, KLAW_KIND_MPMC, "\xc1", 1, 8192);
    expect_corrupt(name, "does not decode");
    make_region(name, KLAW_KIND_MPMC, "\x81\xa1x\x01", 4, 8192); /* required fields missing */
    expect_corrupt(name, "does not decode");
    make_region(name, KLAW_KIND_MPMC, "\x93\x01\x02\x03", 4, 8192); /* not a map */
    expect_corrupt(name, "does not decode");
    make_region(name, KLAW_KIND_MPMC, mp, n + 3, 8192); /* zeros after the record */
    expect_corrupt(name, "does not decode");
    make_region(name, KLAW_KIND_MPMC, mp, n - 1, 8192); /* truncated record */
    expect_corrupt(name, "does not decode");
    /* a record longer than any channel writes */
    static uint8_t huge[KLAW_CHANNEL_META_MAX + 1];
    memcpy(huge, mp, n);
    make_region(name, KLAW_KIND_MPMC, huge, sizeof huge, 4096 + sizeof huge);
    expect_corrupt(name, "too long");

    /* a policy on an mpmc; a str that is not UTF-8 */
    klaw_channel_metadata bad = good;
    bad.policy = KLAW_POLICY_BLOCK;
    size_t bn = encode_meta(&bad, mp, sizeof mp);
    make_region(name, KLAW_KIND_MPMC, mp, bn, 8192);
    expect_corrupt(name, "policy");
    bad = good;
    bad.creator = (klaw_str){"h\xff:1", 4};
    bn = encode_meta(&bad, mp, sizeof mp);
    make_region(name, KLAW_KIND_MPMC, mp, bn, 8192);
    expect_corrupt(name, "does not decode");

    /* no region at all: a foreign file, a truncated one */
    char path[128];
    snprintf(path, sizeof path, "/dev/shm/klaw.%s", name);
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    assert_true(fd >= 0);
    static uint8_t junk[8192];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)(i * 131 + 7);
    assert_int_equal(write(fd, junk, sizeof junk), (ssize_t)sizeof junk);
    close(fd);
    expect_corrupt(name, "not a valid klaw region");
    fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    assert_int_equal(write(fd, "KLKW", 4), 4);
    close(fd);
    expect_corrupt(name, "not a valid klaw region");

    /* a creator that died before READY */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        klaw_region *r;
        _exit(klaw_region_create(name, 8192, KLAW_KIND_MPMC, 0, &r) == KLAW_OK ? 0 : 1);
    }
    int wst;
    assert_int_equal(waitpid(pid, &wst, 0), pid);
    assert_true(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
    expect_corrupt(name, "not a valid klaw region");
}

static void an_mpmc_with_a_scribbled_ring_refuses_its_counters(void **state)
{
    (void)state;
    const char *name = uniq(0, "scribble");
    klaw_mpmc_opts o = {.capacity = 4, .max_frame = 64, .name = name};
    klaw_mpmc_tx *tx;
    klaw_mpmc_rx *rx;
    assert_int_equal(klaw_mpmc_create(&o, &tx, &rx), KLAW_OK);
    klaw_region *r;
    assert_int_equal(klaw_region_open(name, 0, 0, &r), KLAW_OK);
    uint8_t *base = klaw_region_base(r);
    uint8_t *ctl = base + klaw_region_hdr(r)->body_off;
    /* each of the ring's config words in turn: magic, capacity, shift,
     * max_frame, slot_size, slots_off; then the lifecycle block's (6 lines
     * in): magic, max_handles, max_peers, handles_off, peers_off */
    static const size_t offs[] = {0, 4, 8, 12, 16, 32, 384, 388, 392, 400, 408};
    for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
        uint8_t save[8];
        memcpy(save, ctl + offs[i], 8);
        memset(ctl + offs[i], 0xff, (offs[i] >= 24 && offs[i] < 384) || offs[i] >= 400 ? 8 : 4);
        klaw_channel *ch;
        assert_int_equal(klaw_channel_open(name, 0, &ch, NULL), KLAW_OK);
        klaw_channel_stats s;
        assert_int_equal(klaw_channel_read_stats(ch, &s), KLAW_CORRUPT);
        klaw_channel_close(ch);
        memcpy(ctl + offs[i], save, 8);
    }
    klaw_channel *ch;
    assert_int_equal(klaw_channel_open(name, 0, &ch, NULL), KLAW_OK);
    klaw_channel_stats s;
    assert_int_equal(klaw_channel_read_stats(ch, &s), KLAW_OK);
    klaw_channel_close(ch);
    klaw_region_close(r);
    klaw_mpmc_tx_free(tx);
    klaw_mpmc_rx_free(rx);
    klaw_region_unlink(name);
}

/* An mpmc ring presented as each other kind (header kind and record both
 * say so): the other kinds' inspection refuses the layout. */
static void a_ring_of_one_kind_posing_as_another_is_corrupt(void **state)
{
    (void)state;
    const char *name = uniq(0, "posing");
    klaw_mpmc_opts o = {.capacity = 4, .max_frame = 64, .name = name};
    klaw_mpmc_tx *tx;
    klaw_mpmc_rx *rx;
    assert_int_equal(klaw_mpmc_create(&o, &tx, &rx), KLAW_OK);
    assert_int_equal(klaw_mpmc_try_send(tx, "x", 1), KLAW_OK);
    klaw_region *r;
    assert_int_equal(klaw_region_open(name, 0, 0, &r), KLAW_OK);
    klaw_region_header *h = klaw_region_base(r);
    uint8_t *meta = (uint8_t *)klaw_region_base(r) + h->meta_off;
    uint8_t orig[2048];
    uint64_t olen = h->meta_len;
    memcpy(orig, meta, olen);
    for (int kind = KLAW_CHANNEL_BROADCAST; kind <= KLAW_CHANNEL_ONESHOT; kind++) {
        klaw_channel_metadata m = {.channel_type = kind,
                                   .capacity = 4,
                                   .has_capacity = true,
                                   .max_frame = 64,
                                   .policy = kind == KLAW_CHANNEL_BROADCAST ? KLAW_POLICY_OVERWRITE : KLAW_POLICY_NONE};
        h->meta_len = encode_meta(&m, meta, 2048);
        h->kind = (uint32_t)kind;
        klaw_channel *ch;
        assert_int_equal(klaw_channel_open(name, 0, &ch, NULL), KLAW_OK);
        klaw_channel_stats s;
        assert_int_equal(klaw_channel_read_stats(ch, &s), KLAW_CORRUPT);
        klaw_channel_close(ch);
    }
    memcpy(meta, orig, olen);
    h->meta_len = olen;
    h->kind = KLAW_KIND_MPMC;
    klaw_channel *ch;
    assert_int_equal(klaw_channel_open(name, 0, &ch, NULL), KLAW_OK);
    klaw_channel_stats s;
    assert_int_equal(klaw_channel_read_stats(ch, &s), KLAW_OK);
    assert_int_equal(s.queue_size, 1);
    klaw_channel_close(ch);
    klaw_region_close(r);
    klaw_mpmc_tx_free(tx);
    klaw_mpmc_rx_free(rx);
    klaw_region_unlink(name);
}

/* Random mutations of a real channel's metadata record and header fields:
 * every open is OK or a refusal, and what opens prints and counts. Under
 * ASan an out-of-bounds read fails the test. KLAW_FUZZ_ITERS sets the
 * number of rounds (default 3000). */
static void mutated_metadata_never_crashes(void **state)
{
    (void)state;
    const char *name = uniq(0, "mutate");
    klaw_mpmc_opts o = {.capacity = 4, .max_frame = 64, .name = name, .value_type = "T"};
    klaw_mpmc_tx *tx;
    klaw_mpmc_rx *rx;
    assert_int_equal(klaw_mpmc_create(&o, &tx, &rx), KLAW_OK);
    klaw_region *r;
    assert_int_equal(klaw_region_open(name, 0, 0, &r), KLAW_OK);
    uint8_t *base = klaw_region_base(r);
    klaw_region_header *h = klaw_region_base(r);
    uint64_t moff = h->meta_off, mlen = h->meta_len;
    uint8_t orig[2048];
    assert_true(mlen <= sizeof orig);
    memcpy(orig, base + moff, mlen);

    const char *env = getenv("KLAW_FUZZ_ITERS");
    long iters = env ? atol(env) : 3000;
    unsigned seed = (unsigned)getpid();
    long opened = 0, refused = 0;
    for (long it = 0; it < iters; it++) {
        memcpy(base + moff, orig, mlen);
        h->meta_len = mlen;
        int flips = 1 + rand_r(&seed) % 4;
        for (int k = 0; k < flips; k++) {
            size_t at = (size_t)rand_r(&seed) % mlen;
            switch (rand_r(&seed) % 3) {
            case 0: base[moff + at] ^= (uint8_t)(1u << (rand_r(&seed) % 8)); break;
            case 1: base[moff + at] = (uint8_t)rand_r(&seed); break;
            default: base[moff + at] = (uint8_t[]){0xc1, 0xdb, 0xdf, 0xdd, 0xff, 0x00}[rand_r(&seed) % 6]; break;
            }
        }
        if (rand_r(&seed) % 8 == 0) /* a length that cuts or overruns the record */
            h->meta_len = (uint64_t)(rand_r(&seed) % (int)(mlen + 64));
        h->kind = rand_r(&seed) % 16 == 0 ? (uint32_t)(rand_r(&seed) % 7) : KLAW_KIND_MPMC;
        klaw_channel *ch;
        const char *why = NULL;
        klaw_status st = klaw_channel_open(name, 0, &ch, &why);
        if (st == KLAW_OK) {
            opened++;
            text t = {.len = 0};
            assert_int_equal(klaw_channel_meta_json(ch, text_fn, &t), KLAW_OK);
            klaw_channel_stats s;
            klaw_status sst = klaw_channel_read_stats(ch, &s);
            /* another kind's inspection of an mpmc ring refuses it */
            if (!(sst == KLAW_OK || (klaw_channel_kind(ch) != KLAW_CHANNEL_MPMC && sst == KLAW_CORRUPT)))
                fail_msg("round %ld: stats %s", it, klaw_status_name(sst));
            klaw_channel_close(ch);
        } else {
            refused++;
            if (st != KLAW_CORRUPT)
                fail_msg("round %ld: status %s", it, klaw_status_name(st));
            assert_non_null(why);
        }
    }
    assert_true(opened + refused == iters);
    if (iters >= 100) /* both outcomes happen: the mutations are not all fatal */
        assert_true(refused > 0 && opened > 0);
    memcpy(base + moff, orig, mlen);
    h->meta_len = mlen;
    h->kind = KLAW_KIND_MPMC;
    klaw_region_close(r);
    klaw_mpmc_tx_free(tx);
    klaw_mpmc_rx_free(rx);
    klaw_region_unlink(name);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(metadata_round_trips_for_a_created_mpmc),
        cmocka_unit_test(mpmc_stats_match_its_own_and_inspection_changes_nothing),
        cmocka_unit_test(dead_processes_handles_are_reaped_by_inspection),
        cmocka_unit_test(reader_info_records_print_as_json),
        cmocka_unit_test(broadcast_stats_and_readers_without_registering),
        cmocka_unit_test(watch_and_oneshot_stats),
        cmocka_unit_test(every_kinds_bad_body_is_corrupt),
        cmocka_unit_test(listing_finds_named_channels_in_order),
        cmocka_unit_test(missing_and_badly_named_channels_are_refused),
        cmocka_unit_test(corrupt_regions_are_refused),
        cmocka_unit_test(an_mpmc_with_a_scribbled_ring_refuses_its_counters),
        cmocka_unit_test(a_ring_of_one_kind_posing_as_another_is_corrupt),
        cmocka_unit_test(mutated_metadata_never_crashes),
        cmocka_unit_test(inspection_during_traffic_changes_nothing),
        cmocka_unit_test(reader_lists_stay_consistent_while_readers_churn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
