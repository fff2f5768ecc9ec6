/* test_registry.c - the reader registry: snapshots are immutable
 * ReaderInfo records with the live counters folded in; they stay
 * consistent (one version, no mixed or duplicated records) while readers
 * come and go, through the RCU-published set and straight from the region;
 * dead readers are removed; records encode with klaw-core's schema.
 * KLAW_STRESS_FRAMES scales the churn (default 6000). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "klaw/broadcast.h"
#include "klaw/mp_writer.h"
#include "klaw/records.h"
#include "klaw/region.h"
#include "klaw/registry.h"
#include "klaw/schema.h"
#include "crashpoint.h"
#include "registry.h"

static char name_buf[64];
static const char *uniq(const char *tag)
{
    snprintf(name_buf, sizeof name_buf, "treg-%d-%s", (int)getpid(), tag);
    klaw_region_unlink(name_buf);
    return name_buf;
}

static uint64_t churn(void)
{
    const char *e = getenv("KLAW_STRESS_FRAMES");
    uint64_t n = e ? strtoull(e, NULL, 10) : 6000;
    return n < 100 ? 100 : n;
}

static int64_t ns_of(struct timespec t) { return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec; }

static int str_is(klaw_str s, const char *c) { return s.len == strlen(c) && memcmp(s.ptr, c, s.len) == 0; }

static klaw_bcast_tx *make(const char *name)
{
    klaw_bcast_opts o = {.capacity = 64, .max_frame = 8, .name = name, .liveness_ns = 100000000, .max_readers = 16};
    klaw_bcast_tx *tx;
    assert_int_equal(klaw_bcast_create(&o, &tx), KLAW_OK);
    return tx;
}

static void drain(klaw_bcast_rx *rx, int n)
{
    for (int i = 0; i < n; i++) {
        uint64_t v;
        size_t len;
        assert_int_equal(klaw_bcast_try_recv(rx, &v, sizeof v, &len, NULL), KLAW_OK);
    }
}

static void snapshots_fold_live_counters_into_immutable_records(void **state)
{
    (void)state;
    klaw_bcast_tx *tx = make(NULL);
    klaw_bcast_rx *a, *b, *c;
    assert_int_equal(klaw_bcast_subscribe(tx, 0, "alpha", &a), KLAW_OK);
    assert_int_equal(klaw_bcast_subscribe(tx, 0, "beta", &b), KLAW_OK);
    assert_int_equal(klaw_bcast_subscribe(tx, 0, NULL, &c), KLAW_OK);
    for (uint64_t i = 0; i < 5; i++)
        klaw_bcast_try_send(tx, &i, sizeof i);
    drain(a, 5);
    drain(b, 2);
    klaw_reader_snapshot *s1;
    assert_int_equal(klaw_bcast_tx_readers(tx, &s1), KLAW_OK);
    assert_int_equal(s1->count, 3);
    const klaw_reader_info *ra = klaw_reader_snapshot_find(s1, "alpha");
    const klaw_reader_info *rb = klaw_reader_snapshot_find(s1, "beta");
    assert_non_null(ra);
    assert_non_null(rb);
    assert_null(klaw_reader_snapshot_find(s1, "gamma"));
    assert_int_equal(ra->total_received, 5);
    assert_int_equal(rb->total_received, 2);
    char node[128], host[64] = "";
    gethostname(host, sizeof host - 1);
    snprintf(node, sizeof node, "%s:%ld", host, (long)getpid());
    assert_true(str_is(ra->node_id, node));
    assert_true(ns_of(ra->registered_at) > 0);
    assert_true(ns_of(ra->last_seen_at) >= ns_of(ra->registered_at));
    /* the made-up id */
    int made = 0;
    for (size_t i = 0; i < s1->count; i++)
        if (s1->readers[i].reader_id.len > 7 && memcmp(s1->readers[i].reader_id.ptr, "reader-", 7) == 0) {
            made++;
            assert_int_equal(s1->readers[i].total_received, 0);
        }
    assert_int_equal(made, 1);
    /* a second snapshot of an unchanged registry: same version, counters
     * folded again */
    drain(b, 3);
    klaw_reader_snapshot *s2;
    assert_int_equal(klaw_bcast_rx_readers(c, &s2), KLAW_OK);
    assert_int_equal(s2->version, s1->version);
    assert_int_equal(klaw_reader_snapshot_find(s2, "beta")->total_received, 5);
    /* leaving publishes a new version; the old snapshot is untouched */
    klaw_bcast_rx_free(b);
    klaw_reader_snapshot *s3;
    assert_int_equal(klaw_bcast_tx_readers(tx, &s3), KLAW_OK);
    assert_true(s3->version != s1->version);
    assert_int_equal(s3->count, 2);
    assert_null(klaw_reader_snapshot_find(s3, "beta"));
    assert_int_equal(s1->count, 3);
    assert_int_equal(klaw_reader_snapshot_find(s1, "beta")->total_received, 2);
    klaw_reader_snapshot_free(s1);
    klaw_reader_snapshot_free(s2);
    klaw_reader_snapshot_free(s3);
    klaw_reader_snapshot_free(NULL);
    klaw_bcast_rx_free(a);
    klaw_bcast_rx_free(c);
    klaw_bcast_tx_free(tx);
}

/* last_seen_at moves every KLAW_READER_SEEN_EVERY frames and on parking,
 * not per frame. */
static void last_seen_is_refreshed_by_frames_and_parking(void **state)
{
    (void)state;
    klaw_bcast_opts o = {.capacity = 4096, .max_frame = 8};
    klaw_bcast_tx *tx;
    assert_int_equal(klaw_bcast_create(&o, &tx), KLAW_OK);
    klaw_bcast_rx *rx;
    assert_int_equal(klaw_bcast_subscribe(tx, 0, "seen", &rx), KLAW_OK);
    klaw_reader_snapshot *s;
    assert_int_equal(klaw_bcast_rx_readers(rx, &s), KLAW_OK);
    int64_t reg = ns_of(s->readers[0].registered_at);
    int64_t seen0 = ns_of(s->readers[0].last_seen_at);
    klaw_reader_snapshot_free(s);
    usleep(5000);
    for (uint64_t i = 0; i < KLAW_READER_SEEN_EVERY - 1; i++)
        klaw_bcast_try_send(tx, &i, sizeof i);
    drain(rx, KLAW_READER_SEEN_EVERY - 1);
    assert_int_equal(klaw_bcast_rx_readers(rx, &s), KLAW_OK);
    assert_int_equal(ns_of(s->readers[0].last_seen_at), seen0); /* not per frame */
    klaw_reader_snapshot_free(s);
    uint64_t x = 1;
    klaw_bcast_try_send(tx, &x, sizeof x);
    drain(rx, 1);
    assert_int_equal(klaw_bcast_rx_readers(rx, &s), KLAW_OK);
    int64_t seen1 = ns_of(s->readers[0].last_seen_at);
    assert_true(seen1 > reg);
    klaw_reader_snapshot_free(s);
    usleep(5000);
    klaw_frame f;
    struct timespec d = klaw_deadline_in_ms(5);
    assert_int_equal(klaw_bcast_view(rx, &d, &f, NULL), KLAW_TIMEOUT);
    assert_int_equal(klaw_bcast_rx_readers(rx, &s), KLAW_OK);
    assert_true(ns_of(s->readers[0].last_seen_at) > seen1);
    assert_int_equal(s->readers[0].total_received, KLAW_READER_SEEN_EVERY);
    klaw_reader_snapshot_free(s);
    klaw_bcast_rx_free(rx);
    klaw_bcast_tx_free(tx);
}

/* ---- churn: the registry's own calls on a table in ordinary memory -------- */

#define NCHURN 4
#define TABLE 8

typedef struct churn_ctx {
    klaw__reg_hdr *h;
    klaw__reg_ent *e;
    pthread_mutex_t lock;
    klaw__reg_view view;
    uint64_t rounds;
    _Atomic int stop;
    _Atomic uint64_t snapshots, bad;
    char node[128];
} churn_ctx;

typedef struct cworker {
    churn_ctx *c;
    int id;
} cworker;

static uint64_t start_of(int t, uint64_t j) { return ((uint64_t)t << 40) ^ (j * 0x9e3779b97f4a7c15ull >> 8); }

static void *churner(void *p)
{
    cworker *w = p;
    churn_ctx *c = w->c;
    for (uint64_t j = 0; j < c->rounds; j++) {
        char id[32];
        snprintf(id, sizeof id, "t%d-%llu", w->id, (unsigned long long)j);
        uint32_t idx;
        pthread_mutex_lock(&c->lock);
        klaw_status st = klaw__reg_add(c->h, c->e, TABLE, id, start_of(w->id, j), &idx);
        pthread_mutex_unlock(&c->lock);
        if (st != KLAW_OK) {
            atomic_fetch_add(&c->bad, 1);
            continue;
        }
        /* the receiver's own counters move while it is registered */
        atomic_store(&c->e[idx].live.cursor, start_of(w->id, j) + j % 7);
        if (j % 3 == 0)
            sched_yield();
        pthread_mutex_lock(&c->lock);
        klaw__reg_remove(c->h, c->e, idx, 0);
        pthread_mutex_unlock(&c->lock);
    }
    return NULL;
}

static klaw_status lock_mutex(void *p) { return pthread_mutex_lock(p) == 0 ? KLAW_OK : KLAW_CORRUPT; }
static void unlock_mutex(void *p) { pthread_mutex_unlock(p); }

static klaw_status lock_cb(void *p) { return pthread_mutex_lock(&((churn_ctx *)p)->lock) == 0 ? KLAW_OK : KLAW_CORRUPT; }
static void unlock_cb(void *p) { pthread_mutex_unlock(&((churn_ctx *)p)->lock); }

/* A snapshot is consistent when each record is one registration: its id
 * names a churner and round, its counter is 0 or that round's, no id
 * twice, no more than the table holds. */
static int consistent(const churn_ctx *c, const klaw_reader_snapshot *s)
{
    if (s->count > TABLE || (s->version & 1))
        return 0;
    for (size_t i = 0; i < s->count; i++) {
        const klaw_reader_info *r = &s->readers[i];
        char id[64];
        if (r->reader_id.len >= sizeof id)
            return 0;
        memcpy(id, r->reader_id.ptr, r->reader_id.len);
        id[r->reader_id.len] = '\0';
        int t;
        unsigned long long j;
        if (sscanf(id, "t%d-%llu", &t, &j) != 2 || t < 0 || t >= NCHURN || j >= c->rounds)
            return 0;
        if (r->total_received != 0 && (uint64_t)r->total_received != j % 7)
            return 0;
        if (!str_is(r->node_id, c->node) || ns_of(r->registered_at) <= 0)
            return 0;
        for (size_t k = 0; k < i; k++)
            if (s->readers[k].reader_id.len == r->reader_id.len &&
                memcmp(s->readers[k].reader_id.ptr, r->reader_id.ptr, r->reader_id.len) == 0)
                return 0;
    }
    return 1;
}

static void *snapshotter(void *p)
{
    cworker *w = p;
    churn_ctx *c = w->c;
    while (!atomic_load(&c->stop)) {
        klaw_reader_snapshot *s;
        klaw_status st = klaw__reg_snapshot(w->id ? &c->view : NULL, c->h, c->e, TABLE, lock_cb, unlock_cb, c, &s);
        if (st != KLAW_OK || !consistent(c, s)) {
            atomic_fetch_add(&c->bad, 1);
            if (st == KLAW_OK)
                klaw_reader_snapshot_free(s);
            continue;
        }
        klaw_reader_snapshot_free(s);
        atomic_fetch_add(&c->snapshots, 1);
    }
    return NULL;
}

static void snapshots_stay_consistent_while_readers_come_and_go(void **state)
{
    (void)state;
    churn_ctx *c = calloc(1, sizeof *c);
    c->h = aligned_alloc(64, sizeof *c->h);
    c->e = aligned_alloc(64, TABLE * sizeof *c->e);
    klaw__reg_init(c->h, c->e, TABLE);
    pthread_mutex_init(&c->lock, NULL);
    c->rounds = churn();
    char host[64] = "";
    gethostname(host, sizeof host - 1);
    snprintf(c->node, sizeof c->node, "%s:%ld", host, (long)getpid());
    pthread_t th[NCHURN + 2];
    cworker w[NCHURN + 2];
    for (int i = 0; i < 2; i++) {
        w[NCHURN + i] = (cworker){c, i}; /* 0: straight from the table, 1: RCU */
        pthread_create(&th[NCHURN + i], NULL, snapshotter, &w[NCHURN + i]);
    }
    for (int i = 0; i < NCHURN; i++) {
        w[i] = (cworker){c, i};
        pthread_create(&th[i], NULL, churner, &w[i]);
    }
    for (int i = 0; i < NCHURN; i++)
        pthread_join(th[i], NULL);
    atomic_store(&c->stop, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(th[NCHURN + i], NULL);
    assert_int_equal(atomic_load(&c->bad), 0);
    assert_true(atomic_load(&c->snapshots) > 0);
    /* everybody left: an empty snapshot of the final version */
    klaw_reader_snapshot *s;
    assert_int_equal(klaw__reg_snapshot(&c->view, c->h, c->e, TABLE, lock_cb, unlock_cb, c, &s), KLAW_OK);
    assert_int_equal(s->count, 0);
    assert_int_equal(s->version, atomic_load(&c->h->gen));
    assert_int_equal(s->version, 4 * NCHURN * c->rounds);
    klaw_reader_snapshot_free(s);
    klaw__reg_totals tot;
    klaw__reg_sum(c->h, c->e, TABLE, &tot);
    uint64_t want = 0;
    for (uint64_t j = 0; j < c->rounds; j++)
        want += j % 7;
    assert_int_equal(tot.received, want * NCHURN);
    assert_int_equal(tot.readers, 0);
    klaw__reg_view_fini(&c->view);
    pthread_mutex_destroy(&c->lock);
    free(c->h);
    free(c->e);
    free(c);
}

/* The same through the channel: subscribe/unsubscribe churn in threads
 * while another thread takes snapshots. */
typedef struct chan_churn {
    klaw_bcast_tx *tx;
    uint64_t rounds;
    _Atomic int stop;
    _Atomic uint64_t bad, snapshots;
} chan_churn;

typedef struct ccworker {
    chan_churn *c;
    int id;
} ccworker;

static void *chan_churner(void *p)
{
    ccworker *w = p;
    chan_churn *c = w->c;
    for (uint64_t j = 0; j < c->rounds; j++) {
        char id[32];
        snprintf(id, sizeof id, "c%d-%llu", w->id, (unsigned long long)j);
        klaw_bcast_rx *rx;
        if (klaw_bcast_subscribe(c->tx, 0, id, &rx) != KLAW_OK) {
            atomic_fetch_add(&c->bad, 1);
            continue;
        }
        klaw_bcast_rx_free(rx);
    }
    return NULL;
}

static void *chan_snapshotter(void *p)
{
    chan_churn *c = p;
    while (!atomic_load(&c->stop)) {
        klaw_reader_snapshot *s;
        if (klaw_bcast_tx_readers(c->tx, &s) != KLAW_OK) {
            atomic_fetch_add(&c->bad, 1);
            continue;
        }
        int ok = s->count <= 16 && klaw_reader_snapshot_find(s, "steady") != NULL;
        for (size_t i = 0; i < s->count && ok; i++)
            for (size_t k = 0; k < i; k++)
                if (s->readers[k].reader_id.len == s->readers[i].reader_id.len &&
                    memcmp(s->readers[k].reader_id.ptr, s->readers[i].reader_id.ptr, s->readers[i].reader_id.len) == 0)
                    ok = 0;
        if (!ok)
            atomic_fetch_add(&c->bad, 1);
        klaw_reader_snapshot_free(s);
        atomic_fetch_add(&c->snapshots, 1);
    }
    return NULL;
}

static void channel_snapshots_stay_consistent_under_subscribe_churn(void **state)
{
    (void)state;
    chan_churn c = {.tx = make(NULL), .rounds = churn() / 10};
    klaw_bcast_rx *steady;
    assert_int_equal(klaw_bcast_subscribe(c.tx, 0, "steady", &steady), KLAW_OK);
    pthread_t th[3], snap;
    ccworker w[3];
    pthread_create(&snap, NULL, chan_snapshotter, &c);
    for (int i = 0; i < 3; i++) {
        w[i] = (ccworker){&c, i};
        pthread_create(&th[i], NULL, chan_churner, &w[i]);
    }
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    atomic_store(&c.stop, 1);
    pthread_join(snap, NULL);
    assert_int_equal(atomic_load(&c.bad), 0);
    klaw_reader_snapshot *s;
    assert_int_equal(klaw_bcast_tx_readers(c.tx, &s), KLAW_OK);
    assert_int_equal(s->count, 1);
    klaw_reader_snapshot_free(s);
    klaw_bcast_rx_free(steady);
    klaw_bcast_tx_free(c.tx);
}

/* A reader whose process died is removed (and counted as evicted) by the
 * next maintenance: here, the snapshot itself. */
static void dead_reader_is_removed(void **state)
{
    (void)state;
    const char *name = uniq("dead");
    klaw_bcast_tx *tx = make(name);
    klaw_bcast_rx *mine;
    assert_int_equal(klaw_bcast_subscribe(tx, 0, "mine", &mine), KLAW_OK);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        klaw_bcast_rx *rx;
        _exit(klaw_bcast_open_rx(name_buf, 0, "ghost", &rx) == KLAW_OK ? 0 : 1); /* never unsubscribes */
    }
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    klaw_reader_snapshot *s;
    assert_int_equal(klaw_bcast_tx_readers(tx, &s), KLAW_OK);
    assert_int_equal(s->count, 1);
    assert_non_null(klaw_reader_snapshot_find(s, "mine"));
    assert_null(klaw_reader_snapshot_find(s, "ghost"));
    klaw_reader_snapshot_free(s);
    klaw_bcast_stats st;
    klaw_bcast_tx_stats(tx, &st);
    assert_int_equal(st.evicted, 1);
    assert_int_equal(st.readers, 1);
    /* its name is free again */
    klaw_bcast_rx *again;
    assert_int_equal(klaw_bcast_subscribe(tx, 0, "ghost", &again), KLAW_OK);
    klaw_bcast_rx_free(again);
    klaw_bcast_rx_free(mine);
    klaw_bcast_tx_free(tx);
    klaw_region_unlink(name_buf);
}

/* A registry left mid-change (a process died holding the lock, or hostile
 * memory: the version stuck odd) does not make a snapshot spin forever: it
 * falls back to the lock and repairs the version. Hostile strings come out
 * terminated and bounded. */
static void a_registry_stuck_mid_change_still_snapshots(void **state)
{
    (void)state;
    klaw__reg_hdr *h = aligned_alloc(64, sizeof *h);
    klaw__reg_ent *e = aligned_alloc(64, 4 * sizeof *e);
    klaw__reg_init(h, e, 4);
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    uint32_t idx;
    assert_int_equal(klaw__reg_add(h, e, 4, "ok", 10, &idx), KLAW_OK);
    assert_int_equal(klaw__reg_add(h, e, 4, "ok", 10, &idx), KLAW_EXIST);
    assert_int_equal(klaw__reg_add(h, e, 4, "hostile", 10, &idx), KLAW_OK);
    for (size_t i = 0; i < sizeof e[idx].rec.reader_id; i++)
        atomic_store(&e[idx].rec.reader_id[i], 'x'); /* no terminator */
    atomic_store(&e[idx].live.cursor, 5); /* below its start */
    atomic_store(&h->gen, atomic_load(&h->gen) + 1); /* stuck odd */
    atomic_store(&h->hi, 1000000); /* past the table */
    klaw__reg_view view = {0};
    klaw_reader_snapshot *s;
    assert_int_equal(klaw__reg_snapshot(&view, h, e, 4, lock_mutex, unlock_mutex, &lock, &s), KLAW_OK);
    assert_int_equal(s->count, 2);
    assert_int_equal(s->version & 1, 0);
    const klaw_reader_info *r = &s->readers[1];
    assert_int_equal(r->reader_id.len, KLAW_READER_ID_MAX);
    assert_int_equal(r->total_received, 0);
    klaw_reader_snapshot_free(s);
    klaw__reg_totals tot;
    klaw__reg_sum(h, e, 4, &tot);
    assert_int_equal(tot.readers, 2);
    assert_int_equal(tot.min_cursor, 5);
    klaw__reg_view_fini(&view);
    free(h);
    free(e);
}

/* A receiver process killed at any point of subscribing or unsubscribing
 * (every crash point on the way: the lifecycle handle, the lock, each
 * registry store, the handle's aux naming its record) leaves nothing
 * behind: its record is evicted - through its handle when the handle
 * names it, or by the repair after a death inside the lock when it died
 * between adding the record and naming it - so a BLOCK writer is not
 * held, the registry counts one reader, and its reader_id is free again.
 * Needs a build with -Dcrashpoints=true. */
static void receiver_killed_anywhere_in_subscribe_leaves_no_record(void **state)
{
    (void)state;
#ifndef KLAW_CRASHPOINTS
    skip();
#else
    uint64_t n = 1;
    for (; n < 1000; n++) {
        const char *name = uniq("crash");
        klaw_bcast_opts o = {.capacity = 4, .max_frame = 8, .name = name, .liveness_ns = 50000000,
                             .max_readers = 4, .policy = KLAW_POLICY_BLOCK};
        klaw_bcast_tx *tx;
        assert_int_equal(klaw_bcast_create(&o, &tx), KLAW_OK);
        klaw_bcast_rx *live;
        assert_int_equal(klaw_bcast_subscribe(tx, 0, "live", &live), KLAW_OK);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            klaw__crash_arm(n);
            klaw_bcast_rx *rx;
            if (klaw_bcast_open_rx(name_buf, 0, "victim", &rx) != KLAW_OK)
                _exit(1);
            klaw_bcast_rx_free(rx);
            _exit(0);
        }
        int status;
        waitpid(pid, &status, 0);
        assert_true(WIFEXITED(status));
        int code = WEXITSTATUS(status);
        assert_true(code == 0 || code == KLAW_CRASH_EXIT);
        /* whatever it left, the next snapshot (which reaps) sees only us */
        klaw_reader_snapshot *s;
        assert_int_equal(klaw_bcast_tx_readers(tx, &s), KLAW_OK);
        if (s->count != 1 || !klaw_reader_snapshot_find(s, "live"))
            fail_msg("crash point %llu: %zu readers left", (unsigned long long)n, (size_t)s->count);
        klaw_reader_snapshot_free(s);
        /* a BLOCK writer is held by nobody but "live" */
        struct timespec d = klaw_deadline_in_ms(5000);
        for (uint64_t i = 0; i < 6; i++) {
            assert_int_equal(klaw_bcast_send(tx, &i, sizeof i, &d), KLAW_OK);
            uint64_t v;
            size_t len;
            assert_int_equal(klaw_bcast_recv(live, &v, sizeof v, &len, NULL, &d), KLAW_OK);
            assert_int_equal(v, i);
        }
        klaw_bcast_stats st;
        assert_int_equal(klaw_bcast_tx_stats(tx, &st), KLAW_OK);
        assert_int_equal(st.readers, 1);
        klaw_bcast_rx *again;
        assert_int_equal(klaw_bcast_subscribe(tx, 0, "victim", &again), KLAW_OK);
        klaw_bcast_rx_free(again);
        klaw_bcast_rx_free(live);
        klaw_bcast_tx_free(tx);
        klaw_region_unlink(name_buf);
        if (code == 0)
            break; /* it got through every point */
    }
    assert_true(n > 10 && n < 1000);
#endif
}

/* A snapshot's records are klaw-core ReaderInfo values. */
static void records_encode_as_reader_info(void **state)
{
    (void)state;
    klaw_bcast_tx *tx = make(NULL);
    klaw_bcast_rx *rx;
    assert_int_equal(klaw_bcast_subscribe(tx, 0, "enc", &rx), KLAW_OK);
    uint64_t v = 1;
    klaw_bcast_try_send(tx, &v, sizeof v);
    drain(rx, 1);
    klaw_reader_snapshot *s;
    assert_int_equal(klaw_bcast_tx_readers(tx, &s), KLAW_OK);
    const klaw_schema *sch = klaw_record_schema(KLAW_RECORD_READER_INFO);
    assert_non_null(sch);
    uint8_t buf[512];
    klaw_mp_writer w;
    klaw_mp_writer_init(&w, buf, sizeof buf);
    assert_int_equal(klaw_schema_encode(sch, &s->readers[0], &w), KLAW_OK);
    klaw_reader_info back;
    assert_int_equal(klaw_schema_decode(sch, buf, klaw_mp_writer_len(&w), &back, NULL, 0, NULL), KLAW_OK);
    assert_true(str_is(back.reader_id, "enc"));
    assert_int_equal(back.total_received, 1);
    assert_int_equal(ns_of(back.registered_at), ns_of(s->readers[0].registered_at));
    assert_int_equal(back.node_id.len, s->readers[0].node_id.len);
    klaw_reader_snapshot_free(s);
    klaw_bcast_rx_free(rx);
    klaw_bcast_tx_free(tx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(snapshots_fold_live_counters_into_immutable_records),
        cmocka_unit_test(last_seen_is_refreshed_by_frames_and_parking),
        cmocka_unit_test(snapshots_stay_consistent_while_readers_come_and_go),
        cmocka_unit_test(channel_snapshots_stay_consistent_under_subscribe_churn),
        cmocka_unit_test(dead_reader_is_removed),
        cmocka_unit_test(a_registry_stuck_mid_change_still_snapshots),
        cmocka_unit_test(records_encode_as_reader_info),
        cmocka_unit_test(receiver_killed_anywhere_in_subscribe_leaves_no_record),
    };
    return cmocka_run_group_tests_name("registry", tests, NULL, NULL);
}
