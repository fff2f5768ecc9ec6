/*
 * mpmc_klaw.c - klaw's side of the mpmc suite (suite_mpmc.c): its MPMC
 * channel behind the interface every implementation gives the runner
 * (peer_mpmc.h), as the peers' peer_*.c files put theirs.
 *
 * Producers klaw_mpmc_claim -> write the frame in place ->
 * klaw_mpmc_commit (batched: klaw_mpmc_claim_batch of 32 ->
 * klaw_mpmc_commit_batch); consumers klaw_mpmc_view -> check in place ->
 * klaw_mpmc_release (batched: klaw_mpmc_view_batch of 32 ->
 * klaw_mpmc_release_batch), until KLAW_CLOSED. The blocking calls wait the
 * channel's way: a short spin, then a futex park. Threads share an
 * anonymous channel (cloned handles); processes open a named one
 * (klaw_mpmc_open_tx / _rx) that the runner created and unlinks once they
 * have it. Capacity MPMC_RING_SLOTS (1024), max_frame = the frame size.
 *
 * Two implementations: "klaw", and "klaw_1to1", the same channel created
 * with KLAW_MPMC_SINGLE_PRODUCER | KLAW_MPMC_SINGLE_CONSUMER (1p1c only).
 */
#include <stdio.h>
#include <unistd.h>

#include "klaw/mpmc.h"
#include "klaw/region.h"
#include "peer_mpmc.h"

typedef struct klaw_state {
    mpmc_case k;
    bool one_to_one;  /* klaw_1to1: KLAW_MPMC_SINGLE_PRODUCER | _CONSUMER */
    char name[64];
    klaw_mpmc_tx *tx; /* the creator's handles, dropped once the workers */
    klaw_mpmc_rx *rx; /* have theirs                                      */
} klaw_state;

static void *setup_as(const mpmc_case *k, bool one_to_one, char *err)
{
    static unsigned seq;
    klaw_state *st = bench_shared_alloc(sizeof *st);
    st->k = *k;
    st->one_to_one = one_to_one;
    if (k->process)
        snprintf(st->name, sizeof st->name, "klaw-bench-%d-%u", (int)getpid(), seq++);
    klaw_mpmc_opts o = {.capacity = MPMC_RING_SLOTS, .max_frame = k->frame_bytes, .name = k->process ? st->name : NULL};
    klaw_status s;
    if (one_to_one) {
        /* one handle per side: threads get the creator's, processes open
         * their own (the channel is created with none) */
        o.flags = KLAW_MPMC_SINGLE_PRODUCER | KLAW_MPMC_SINGLE_CONSUMER;
        s = k->process ? klaw_mpmc_create(&o, NULL, NULL) : klaw_mpmc_create(&o, &st->tx, &st->rx);
    } else {
        s = klaw_mpmc_create(&o, &st->tx, &st->rx);
    }
    if (s != KLAW_OK) {
        snprintf(err, MPMC_ERR, "klaw_mpmc_create: %s", klaw_strerror(s));
        bench_shared_free(st);
        return NULL;
    }
    return st;
}

static void *klaw_setup(const mpmc_case *k, char *err) { return setup_as(k, false, err); }
static void *klaw_1to1_setup(const mpmc_case *k, char *err) { return setup_as(k, true, err); }

static void *klaw_attach(void *sv, bool producer, unsigned id, char *err)
{
    klaw_state *st = sv;
    klaw_status s;
    void *h = NULL;
    (void)id;
    if (st->one_to_one && !st->k.process) {
        /* the only handles: the worker owns (and frees) them now */
        h = producer ? (void *)st->tx : (void *)st->rx;
        if (producer)
            st->tx = NULL;
        else
            st->rx = NULL;
        return h;
    }
    if (producer) {
        klaw_mpmc_tx *tx;
        s = st->k.process ? klaw_mpmc_open_tx(st->name, &tx) : klaw_mpmc_tx_clone(st->tx, &tx);
        h = tx;
    } else {
        klaw_mpmc_rx *rx;
        s = st->k.process ? klaw_mpmc_open_rx(st->name, &rx) : klaw_mpmc_rx_clone(st->rx, &rx);
        h = rx;
    }
    if (s != KLAW_OK) {
        snprintf(err, MPMC_ERR, "%s: %s", st->k.process ? "open" : "clone", klaw_strerror(s));
        return NULL;
    }
    return h;
}

static void klaw_attached(void *sv)
{
    klaw_state *st = sv;
    klaw_mpmc_tx_free(st->tx);
    klaw_mpmc_rx_free(st->rx);
    st->tx = NULL;
    st->rx = NULL;
    if (st->k.process)
        klaw_region_unlink(st->name);
}

static int klaw_produce(void *sv, void *w, unsigned id, uint64_t n, char *err)
{
    klaw_state *st = sv;
    klaw_mpmc_tx *tx = w;
    const uint32_t fb = st->k.frame_bytes;
    klaw_status s = KLAW_OK;
    if (st->k.batch == 1) {
        for (uint64_t c = 1; c <= n; c++) {
            klaw_frame f;
            s = klaw_mpmc_claim(tx, fb, NULL, &f);
            if (s != KLAW_OK)
                break;
            mpmc_frame_write(f.data, fb, id, c);
            s = klaw_mpmc_commit(tx, &f, fb);
            if (s != KLAW_OK)
                break;
        }
    } else {
        klaw_frame f[MPMC_BATCH];
        for (uint64_t c = 1; c <= n;) {
            size_t want = n - c + 1 < MPMC_BATCH ? (size_t)(n - c + 1) : MPMC_BATCH, got;
            s = klaw_mpmc_claim_batch(tx, fb, f, want, &got, NULL);
            if (s != KLAW_OK)
                break;
            for (size_t i = 0; i < got; i++)
                mpmc_frame_write(f[i].data, fb, id, c + i);
            s = klaw_mpmc_commit_batch(tx, f, got);
            if (s != KLAW_OK)
                break;
            c += got;
        }
    }
    klaw_mpmc_tx_free(tx); /* the last sender's close lets consumers finish */
    if (s != KLAW_OK) {
        snprintf(err, MPMC_ERR, "claim/commit: %s", klaw_strerror(s));
        return -1;
    }
    return 0;
}

static int klaw_consume(void *sv, void *w, mpmc_check *chk, char *err)
{
    klaw_state *st = sv;
    klaw_mpmc_rx *rx = w;
    klaw_status s;
    if (st->k.batch == 1) {
        klaw_frame f;
        while ((s = klaw_mpmc_view(rx, NULL, &f)) == KLAW_OK) {
            mpmc_check_frame(chk, f.data, f.len);
            klaw_mpmc_release(rx, &f);
        }
    } else {
        klaw_frame f[MPMC_BATCH];
        size_t got;
        while ((s = klaw_mpmc_view_batch(rx, f, MPMC_BATCH, &got, NULL)) == KLAW_OK) {
            for (size_t i = 0; i < got; i++)
                mpmc_check_frame(chk, f[i].data, f[i].len);
            klaw_mpmc_release_batch(rx, f, got);
        }
    }
    klaw_mpmc_rx_free(rx);
    if (s != KLAW_CLOSED) {
        snprintf(err, MPMC_ERR, "view: %s", klaw_strerror(s));
        return -1;
    }
    return 0;
}

static void klaw_teardown(void *sv)
{
    klaw_state *st = sv;
    klaw_mpmc_tx_free(st->tx); /* only if attached() did not run */
    klaw_mpmc_rx_free(st->rx);
    bench_shared_free(st);
}

const mpmc_impl mpmc_klaw = {
    .name = "klaw",
    .cannot = NULL,
    .setup = klaw_setup,
    .attach = klaw_attach,
    .attached = klaw_attached,
    .produce = klaw_produce,
    .consume = klaw_consume,
    .teardown = klaw_teardown,
};

static const char *klaw_1to1_cannot(const mpmc_case *k)
{
    return k->producers == 1 && k->consumers == 1 ? NULL : "one producer and one consumer only (KLAW_MPMC_SINGLE_*)";
}

/* The same channel created with KLAW_MPMC_SINGLE_PRODUCER |
 * KLAW_MPMC_SINGLE_CONSUMER: each side takes its slots with plain stores
 * (klaw/mpmc.h). Its like-for-like peer is ck_ring's SPSC ring. */
const mpmc_impl mpmc_klaw_1to1 = {
    .name = "klaw_1to1",
    .cannot = klaw_1to1_cannot,
    .setup = klaw_1to1_setup,
    .attach = klaw_attach,
    .attached = klaw_attached,
    .produce = klaw_produce,
    .consume = klaw_consume,
    .teardown = klaw_teardown,
};
