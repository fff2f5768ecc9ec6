/*
 * registry.c - the reader registry (klaw/registry.h, src/registry.h).
 *
 * ---- In the region: versioned records, read like a seqlock ----------------
 *
 * Invariants:
 *   R1  An entry's record (state, reg_id, registered_ns, reader_id,
 *       node_id) changes only under the channel's lock and only while the
 *       header's generation `gen` is odd; every change makes it odd, writes,
 *       and makes it even again. So an even gen names one version of the
 *       whole table.
 *   R2  An entry's live line is stored to by its receiver only (cursor on
 *       every frame, the rest on cold paths); `start` is set before the
 *       entry turns ACTIVE and not changed while it is.
 *   R3  hi only grows and is raised before an entry at or above it turns
 *       ACTIVE, so a scan of [0, hi) sees every ACTIVE entry (scans that
 *       must not miss one - the BLOCK gate - load hi seq_cst).
 *   R4  reg_id is unique per registration (next_id only grows), so a live
 *       line read for a record can be checked to still belong to it (and
 *       a channel's handle can name the registration it made).
 *
 * The lock is the channel's lifecycle lock (channels/lifecycle.h). A
 * process that dies holding it leaves a change half done: the next holder
 * calls klaw__reg_repair (an odd gen made even, count recounted). Every
 * store below is marked KLAW_CRASHPOINT("reg.<what>") (src/crashpoint.h).
 * Liveness is the channel's: the record holds no process identity, only
 * "<host>:<pid>" for display.
 *
 * Orderings: a change is gen = odd (relaxed store), a release fence, the
 * record stores (relaxed atomics), gen = even (release store). A snapshot
 * loads gen (acquire; retries while odd), loads the records (relaxed), an
 * acquire fence, and loads gen again: equal means no change overlapped the
 * copy (the fences pair: a record store seen means the odd gen is seen
 * after the fence). A snapshot that keeps losing this race (64 tries)
 * takes the lock and reads a table nobody can change.
 *
 * ---- In one process: the record set published with RCU ----------------
 *
 * What a snapshot last read from the region is kept per process as an
 * immutable set (struct reg_set) behind one pointer, view->cur. A snapshot
 * reads it under rcu_read_lock; when the region's gen differs from the
 * set's, it builds a new set, swaps the pointer (rcu_xchg_pointer) and
 * frees the old one after synchronize_rcu(). A snapshot of an unchanged
 * registry therefore copies no foreign record and takes no lock; only the
 * live counters are read from the region and folded in (then gen is
 * re-checked, so the fold belongs to the version of the set).
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <urcu-bp.h>

#include "crashpoint.h"
#include "registry.h"

#include "sanitize.h"
#ifdef KLAW_TSAN
/* liburcu is not instrumented: tell ThreadSanitizer what RCU orders */
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define TSAN_ACQUIRE(p) __tsan_acquire(p)
#define TSAN_RELEASE(p) __tsan_release(p)
#else
#define TSAN_ACQUIRE(p) ((void)0)
#define TSAN_RELEASE(p) ((void)0)
#endif

/* The seqlock fences. ThreadSanitizer does not model atomic_thread_fence
 * (GCC rejects it under -Werror=tsan); there a seq_cst RMW on a private
 * word stands in - the data words are relaxed atomics, so TSan checks them
 * either way. */
#ifdef KLAW_TSAN
static _Atomic unsigned reg_fence_word;
#define REG_FENCE(mo) ((void)(mo), (void)atomic_fetch_add_explicit(&reg_fence_word, 0, memory_order_seq_cst))
#else
#define REG_FENCE(mo) atomic_thread_fence(mo)
#endif

#define SNAP_TRIES 64

typedef struct reg_copy {
    uint32_t idx;
    uint64_t reg_id;
    int64_t registered_ns;
    char reader_id[KLAW_READER_ID_MAX + 1];
    char node_id[KLAW__REG_NODE_MAX + 1];
} reg_copy;

/* One immutable version of the records (see the top of the file). */
typedef struct reg_set {
    uint64_t gen;
    uint32_t n;
    reg_copy recs[];
} reg_set;

/* ---- helpers --------------------------------------------------------------- */

static int64_t realtime_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void store_str(_Atomic char *dst, const char *src, size_t cap)
{
    size_t i = 0;
    for (; src[i] && i + 1 < cap; i++)
        atomic_store_explicit(&dst[i], src[i], memory_order_relaxed);
    for (; i < cap; i++)
        atomic_store_explicit(&dst[i], '\0', memory_order_relaxed);
}

/* Copies a NUL-terminated string out of shared memory; the result is
 * always terminated, whatever the region holds. */
static void load_str(char *dst, const _Atomic char *src, size_t cap)
{
    for (size_t i = 0; i < cap; i++)
        dst[i] = atomic_load_explicit(&src[i], memory_order_relaxed);
    dst[cap - 1] = '\0';
}

static int str_eq(const _Atomic char *a, const char *b, size_t cap)
{
    for (size_t i = 0; i < cap; i++) {
        char c = atomic_load_explicit(&a[i], memory_order_relaxed);
        if (c != b[i])
            return 0;
        if (!c)
            return 1;
    }
    return 0;
}

static void gen_begin(klaw__reg_hdr *h)
{
    uint64_t g = atomic_load_explicit(&h->gen, memory_order_relaxed);
    atomic_store_explicit(&h->gen, g | 1, memory_order_relaxed);
    REG_FENCE(memory_order_release);
}

static void gen_end(klaw__reg_hdr *h)
{
    uint64_t g = atomic_load_explicit(&h->gen, memory_order_relaxed);
    atomic_store_explicit(&h->gen, (g | 1) + 1, memory_order_release);
}

/* ---- changes (lock held) --------------------------------------------------- */

void klaw__reg_init(klaw__reg_hdr *h, klaw__reg_ent *e, uint32_t max)
{
    memset(h, 0, sizeof *h);
    h->max = max;
    atomic_store(&h->next_id, 1);
    memset(e, 0, (size_t)max * sizeof *e);
}

klaw_status klaw__reg_add(klaw__reg_hdr *h, klaw__reg_ent *e, uint32_t max, const char *reader_id,
                          uint64_t cursor, uint32_t *idx)
{
    char made[KLAW_READER_ID_MAX + 1];
    uint64_t id = atomic_load_explicit(&h->next_id, memory_order_relaxed);
    if (id == 0)
        id = 1;
    if (!reader_id) {
        snprintf(made, sizeof made, "reader-%ld-%llu", (long)getpid(), (unsigned long long)id);
        reader_id = made;
    }
    size_t n = strlen(reader_id);
    if (n == 0 || n > KLAW_READER_ID_MAX)
        return KLAW_INVAL;
    uint32_t slot = UINT32_MAX;
    for (uint32_t i = 0; i < max; i++) {
        klaw__reg_rec *r = &e[i].rec;
        if (atomic_load_explicit(&r->state, memory_order_relaxed) == KLAW__REG_ACTIVE) {
            if (str_eq(r->reader_id, reader_id, sizeof r->reader_id))
                return KLAW_EXIST;
        } else if (slot == UINT32_MAX) {
            slot = i;
        }
    }
    if (slot == UINT32_MAX)
        return KLAW_FULL;

    char host[64] = "";
    if (gethostname(host, sizeof host - 1) != 0)
        strcpy(host, "localhost");
    host[sizeof host - 1] = '\0';
    char node[KLAW__REG_NODE_MAX + 1];
    snprintf(node, sizeof node, "%s:%ld", host, (long)getpid());
    int64_t now = realtime_ns();

    klaw__reg_ent *ent = &e[slot];
    if (atomic_load_explicit(&h->hi, memory_order_relaxed) < slot + 1) {
        atomic_store_explicit(&h->hi, slot + 1, memory_order_seq_cst);
        KLAW_CRASHPOINT("reg.add.hi");
    }
    /* R2: the live line first; nobody reads it before the entry is ACTIVE */
    atomic_store_explicit(&ent->live.start, cursor, memory_order_relaxed);
    atomic_store_explicit(&ent->live.lagged, 0, memory_order_relaxed);
    atomic_store_explicit(&ent->live.skipped, 0, memory_order_relaxed);
    atomic_store_explicit(&ent->live.last_seen_ns, now, memory_order_relaxed);
    atomic_store_explicit(&ent->live.cursor, cursor, memory_order_seq_cst);
    KLAW_CRASHPOINT("reg.add.live");

    gen_begin(h);
    KLAW_CRASHPOINT("reg.add.gen_odd");
    klaw__reg_rec *r = &ent->rec;
    atomic_store_explicit(&r->reg_id, id, memory_order_relaxed);
    atomic_store_explicit(&r->registered_ns, now, memory_order_relaxed);
    store_str(r->reader_id, reader_id, sizeof r->reader_id);
    store_str(r->node_id, node, sizeof r->node_id);
    KLAW_CRASHPOINT("reg.add.record");
    atomic_store_explicit(&r->state, KLAW__REG_ACTIVE, memory_order_relaxed);
    KLAW_CRASHPOINT("reg.add.active");
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    KLAW_CRASHPOINT("reg.add.count");
    atomic_store_explicit(&h->next_id, id + 1, memory_order_relaxed);
    KLAW_CRASHPOINT("reg.add.next_id");
    gen_end(h);
    KLAW_CRASHPOINT("reg.add.gen_even");
    *idx = slot;
    return KLAW_OK;
}

static uint64_t live_received(const klaw__reg_live *l)
{
    uint64_t cur = atomic_load_explicit(&l->cursor, memory_order_acquire);
    uint64_t start = atomic_load_explicit(&l->start, memory_order_relaxed);
    uint64_t missed = atomic_load_explicit(&l->lagged, memory_order_relaxed) +
                      atomic_load_explicit(&l->skipped, memory_order_relaxed);
    uint64_t passed = cur > start ? cur - start : 0;
    return passed > missed ? passed - missed : 0;
}

void klaw__reg_remove(klaw__reg_hdr *h, klaw__reg_ent *e, uint32_t idx, int evicted)
{
    klaw__reg_ent *ent = &e[idx];
    if (atomic_load_explicit(&ent->rec.state, memory_order_relaxed) != KLAW__REG_ACTIVE)
        return;
    atomic_fetch_add_explicit(&h->retired_received, live_received(&ent->live), memory_order_relaxed);
    KLAW_CRASHPOINT("reg.remove.received");
    atomic_fetch_add_explicit(&h->retired_lagged, atomic_load(&ent->live.lagged), memory_order_relaxed);
    KLAW_CRASHPOINT("reg.remove.lagged");
    atomic_fetch_add_explicit(&h->retired_skipped, atomic_load(&ent->live.skipped), memory_order_relaxed);
    KLAW_CRASHPOINT("reg.remove.skipped");
    if (evicted) {
        atomic_fetch_add_explicit(&h->evicted, 1, memory_order_relaxed);
        KLAW_CRASHPOINT("reg.remove.evicted");
    }
    gen_begin(h);
    KLAW_CRASHPOINT("reg.remove.gen_odd");
    atomic_store_explicit(&ent->rec.state, KLAW__REG_FREE, memory_order_relaxed);
    KLAW_CRASHPOINT("reg.remove.free");
    atomic_store_explicit(&ent->rec.reg_id, 0, memory_order_relaxed);
    KLAW_CRASHPOINT("reg.remove.reg_id");
    atomic_fetch_sub_explicit(&h->count, 1, memory_order_relaxed);
    KLAW_CRASHPOINT("reg.remove.count");
    gen_end(h);
    KLAW_CRASHPOINT("reg.remove.gen_even");
}

void klaw__reg_repair(klaw__reg_hdr *h, klaw__reg_ent *e, uint32_t max)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < max; i++)
        n += atomic_load_explicit(&e[i].rec.state, memory_order_relaxed) == KLAW__REG_ACTIVE;
    atomic_store(&h->count, n);
    KLAW_CRASHPOINT("reg.repair.count");
    if (atomic_load(&h->gen) & 1) {
        gen_end(h);
        KLAW_CRASHPOINT("reg.repair.gen_even");
    }
}

void klaw__reg_sum(const klaw__reg_hdr *h, const klaw__reg_ent *e, uint32_t max, klaw__reg_totals *out)
{
    out->received = atomic_load(&h->retired_received);
    out->lagged = atomic_load(&h->retired_lagged);
    out->min_cursor = UINT64_MAX;
    out->readers = 0;
    uint32_t n = klaw__reg_span(h, max);
    for (uint32_t i = 0; i < n; i++) {
        const klaw__reg_ent *ent = &e[i];
        if (atomic_load_explicit(&ent->rec.state, memory_order_acquire) != KLAW__REG_ACTIVE)
            continue;
        out->readers++;
        out->received += live_received(&ent->live);
        out->lagged += atomic_load_explicit(&ent->live.lagged, memory_order_relaxed);
        uint64_t c = atomic_load_explicit(&ent->live.cursor, memory_order_acquire);
        if (c < out->min_cursor)
            out->min_cursor = c;
    }
}

/* ---- snapshots ----------------------------------------------------------------- */

/* One seqlock read of the records into a new set. NULL when a change
 * overlapped it (or out of memory: *nomem). */
static reg_set *read_set(const klaw__reg_hdr *h, const klaw__reg_ent *e, uint32_t max, int *nomem)
{
    uint64_t g1 = atomic_load_explicit(&h->gen, memory_order_acquire);
    if (g1 & 1)
        return NULL;
    reg_set *s = malloc(sizeof *s + (size_t)max * sizeof(reg_copy));
    if (!s) {
        *nomem = 1;
        return NULL;
    }
    uint32_t n = 0;
    for (uint32_t i = 0; i < max; i++) {
        const klaw__reg_rec *r = &e[i].rec;
        if (atomic_load_explicit(&r->state, memory_order_relaxed) != KLAW__REG_ACTIVE)
            continue;
        reg_copy *c = &s->recs[n++];
        c->idx = i;
        c->reg_id = atomic_load_explicit(&r->reg_id, memory_order_relaxed);
        c->registered_ns = atomic_load_explicit(&r->registered_ns, memory_order_relaxed);
        load_str(c->reader_id, r->reader_id, sizeof c->reader_id);
        load_str(c->node_id, r->node_id, sizeof c->node_id);
    }
    REG_FENCE(memory_order_acquire);
    if (atomic_load_explicit(&h->gen, memory_order_relaxed) != g1) {
        free(s);
        return NULL;
    }
    s->gen = g1;
    s->n = n;
    return s;
}

static struct timespec ts_of(int64_t ns)
{
    struct timespec t;
    t.tv_sec = (time_t)(ns / 1000000000);
    t.tv_nsec = (long)(ns % 1000000000);
    if (t.tv_nsec < 0) {
        t.tv_nsec += 1000000000;
        t.tv_sec--;
    }
    return t;
}

/* Builds the caller's snapshot from a set, folding in the live counters.
 * NULL when an entry no longer belongs to its record (the set is stale:
 * *stale) or out of memory. */
_Static_assert(sizeof(klaw_reader_info) % _Alignof(uint64_t) == 0, "the cursors after the records are aligned");
static klaw_reader_snapshot *fold(const reg_set *s, const klaw__reg_ent *e, int *stale)
{
    size_t strings = 0;
    for (uint32_t i = 0; i < s->n; i++)
        strings += strlen(s->recs[i].reader_id) + strlen(s->recs[i].node_id) + 2;
    size_t head = (sizeof(klaw_reader_snapshot) + _Alignof(klaw_reader_info) - 1) / _Alignof(klaw_reader_info) *
                  _Alignof(klaw_reader_info);
    uint8_t *block = malloc(head + (size_t)s->n * (sizeof(klaw_reader_info) + sizeof(uint64_t)) + strings);
    if (!block)
        return NULL;
    klaw_reader_snapshot *snap = (klaw_reader_snapshot *)block;
    klaw_reader_info *recs = (klaw_reader_info *)(block + head);
    uint64_t *cursors = (uint64_t *)(recs + s->n);
    char *str = (char *)(cursors + s->n);
    for (uint32_t i = 0; i < s->n; i++) {
        const reg_copy *c = &s->recs[i];
        const klaw__reg_ent *ent = &e[c->idx];
        int64_t seen = atomic_load_explicit(&ent->live.last_seen_ns, memory_order_relaxed);
        uint64_t got = live_received(&ent->live);
        uint64_t cursor = atomic_load_explicit(&ent->live.cursor, memory_order_relaxed);
        REG_FENCE(memory_order_acquire);
        if (atomic_load_explicit(&ent->rec.reg_id, memory_order_relaxed) != c->reg_id) {
            *stale = 1;
            free(block);
            return NULL;
        }
        klaw_reader_info *ri = &recs[i];
        memset(ri, 0, sizeof *ri);
        size_t n = strlen(c->reader_id);
        memcpy(str, c->reader_id, n + 1);
        ri->reader_id = (klaw_str){str, (uint32_t)n};
        str += n + 1;
        n = strlen(c->node_id);
        memcpy(str, c->node_id, n + 1);
        ri->node_id = (klaw_str){str, (uint32_t)n};
        str += n + 1;
        ri->registered_at = ts_of(c->registered_ns);
        ri->last_seen_at = ts_of(seen < c->registered_ns ? c->registered_ns : seen);
        ri->total_received = got > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)got;
        cursors[i] = cursor;
    }
    snap->version = s->gen;
    snap->count = s->n;
    snap->readers = recs;
    snap->cursors = cursors;
    return snap;
}

/* What a folded snapshot attempt comes to: 1 done (*out, or *st an
 * error), 0 try again (the registry changed meanwhile). */
static int settle(klaw_reader_snapshot *snap, int stale, int same_gen, klaw_reader_snapshot **out, klaw_status *st)
{
    if (!snap && !stale) {
        *st = KLAW_NOMEM;
        return 1;
    }
    if (snap && same_gen) {
        *out = snap;
        *st = KLAW_OK;
        return 1;
    }
    free(snap);
    return 0;
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static void register_atfork(void)
{
    pthread_atfork(urcu_bp_before_fork, urcu_bp_after_fork_parent, urcu_bp_after_fork_child);
}

/* Swaps the view's set for s and frees the old one after a grace period. */
static void publish(klaw__reg_view *view, reg_set *s)
{
    TSAN_RELEASE(s);
    reg_set *old = rcu_xchg_pointer((reg_set **)&view->cur, s);
    if (old) {
        synchronize_rcu();
        TSAN_ACQUIRE(view);
        free(old);
    }
}

/* Tries one snapshot through the RCU-published set. 1: done (*out set or
 * *st an error); 0: try again. */
static int snapshot_rcu(klaw__reg_view *view, klaw__reg_hdr *h, klaw__reg_ent *e, uint32_t max,
                        klaw_reader_snapshot **out, klaw_status *st)
{
    rcu_read_lock();
    reg_set *s = rcu_dereference(*(reg_set **)&view->cur);
    if (s)
        TSAN_ACQUIRE(s);
    uint64_t g = atomic_load_explicit(&h->gen, memory_order_acquire);
    if (s && s->gen == g) {
        int stale = 0;
        klaw_reader_snapshot *snap = fold(s, e, &stale);
        REG_FENCE(memory_order_acquire);
        uint64_t g2 = atomic_load_explicit(&h->gen, memory_order_relaxed);
        TSAN_RELEASE(view);
        rcu_read_unlock();
        return settle(snap, stale, g == g2, out, st);
    }
    TSAN_RELEASE(view);
    rcu_read_unlock();
    int nomem = 0;
    reg_set *fresh = read_set(h, e, max, &nomem);
    if (nomem) {
        *st = KLAW_NOMEM;
        return 1;
    }
    if (fresh)
        publish(view, fresh);
    return 0;
}

/* One snapshot straight from the region (no view). */
static int snapshot_direct(klaw__reg_hdr *h, klaw__reg_ent *e, uint32_t max, klaw_reader_snapshot **out,
                           klaw_status *st)
{
    int nomem = 0;
    reg_set *s = read_set(h, e, max, &nomem);
    if (nomem) {
        *st = KLAW_NOMEM;
        return 1;
    }
    if (!s)
        return 0;
    int stale = 0;
    klaw_reader_snapshot *snap = fold(s, e, &stale);
    REG_FENCE(memory_order_acquire);
    uint64_t g2 = atomic_load_explicit(&h->gen, memory_order_relaxed);
    uint64_t g = s->gen;
    free(s);
    return settle(snap, stale, g == g2, out, st);
}

klaw_status klaw__reg_snapshot(klaw__reg_view *view, klaw__reg_hdr *h, klaw__reg_ent *e, uint32_t max,
                               klaw_status (*lock)(void *), void (*unlock)(void *), void *ctx,
                               klaw_reader_snapshot **out)
{
    *out = NULL;
    klaw_status st = KLAW_OK;
    if (view)
        pthread_once(&atfork_once, register_atfork);
    for (int i = 0; i < SNAP_TRIES; i++) {
        int done = view ? snapshot_rcu(view, h, e, max, out, &st) : snapshot_direct(h, e, max, out, &st);
        if (done)
            return st;
        if (i > 8)
            sched_yield();
    }
    /* the registry keeps changing: read it while nobody can change it */
    st = lock(ctx);
    if (st != KLAW_OK)
        return st;
    if (atomic_load(&h->gen) & 1) { /* a changer died mid-way: repaired by lock() */
        gen_end(h);
        KLAW_CRASHPOINT("reg.snapshot.gen_even");
    }
    int done = snapshot_direct(h, e, max, out, &st);
    unlock(ctx);
    return done ? st : KLAW_CORRUPT;
}

void klaw__reg_view_fini(klaw__reg_view *view)
{
    reg_set *old = rcu_xchg_pointer((reg_set **)&view->cur, NULL);
    if (old) {
        synchronize_rcu();
        TSAN_ACQUIRE(view);
        free(old);
    }
}

/* ---- public ----------------------------------------------------------------------- */

void klaw_reader_snapshot_free(klaw_reader_snapshot *s) { free(s); }

const klaw_reader_info *klaw_reader_snapshot_find(const klaw_reader_snapshot *s, const char *reader_id)
{
    if (!s || !reader_id)
        return NULL;
    size_t n = strlen(reader_id);
    for (size_t i = 0; i < s->count; i++)
        if (s->readers[i].reader_id.len == n && memcmp(s->readers[i].reader_id.ptr, reader_id, n) == 0)
            return &s->readers[i];
    return NULL;
}
