/*
 * fanout_klaw.c - klaw's side of the fanout suite (suite_fanout.c): its
 * broadcast channel behind the interface every implementation gives the
 * runner (fanout.h), as peer_zmq.c puts ZeroMQ behind it.
 *
 * Between processes the runner creates a named broadcast channel in
 * /dev/shm with no writer handle; the writer process opens the only one
 * (klaw_bcast_open_tx) and each reader process its own (klaw_bcast_open_rx,
 * from the tail), and the runner unlinks the name once they all have it.
 * Between threads the channel is anonymous and setup subscribes every
 * reader. Capacity FANOUT_RING_SLOTS, max_frame = the frame size, policy
 * OVERWRITE or BLOCK as the case says, one writer (KLAW_BCAST_SINGLE_WRITER).
 *
 * klaw's writer claims 128 frames at a time in the saturation phase
 * (klaw_bcast_claim_batch, fill in place, one clock read stamps them all
 * just before klaw_bcast_commit_batch makes them visible) and one at a
 * time when paced; readers take up to 128 at once (one clock read for the
 * batch as it arrives, checks in place), then release them: under BLOCK
 * with klaw_bcast_release_batch, under OVERWRITE one klaw_bcast_release
 * per frame right after its check, so that a frame the writer overwrote
 * while it was viewed counts as lagged, never as delivered, and its
 * neighbours still count. 128 (FANOUT_BATCH) is about ZeroMQ's own
 * batching: its pipes move messages in chunks of 256 and its I/O thread
 * writes up to 8 KiB per system call (128 frames of 64 B).
 *
 * How readers wait: when the writer and every reader have a CPU of their
 * own (fanout_run.spin) they poll (klaw_bcast_try_view, then take what
 * else is ready up to 128); otherwise they block (klaw_bcast_view_batch,
 * which spins briefly, then parks on a futex, with a far deadline).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "fanout.h"
#include "klaw/broadcast.h"
#include "klaw/region.h"
#include "runner.h"

typedef struct klaw_state {
    fanout_case k;
    char name[64];
    klaw_bcast_tx *tx;                        /* the creator's handle        */
    klaw_bcast_rx *rx[FANOUT_MAX_READERS];    /* threads: subscribed at setup */
} klaw_state;

static struct timespec to_timespec(uint64_t ns)
{
    return (struct timespec){(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
}

static void *klaw_setup(const fanout_case *k, char *err)
{
    static unsigned seq;
    klaw_state *st = bench_shared_alloc(sizeof *st);
    st->k = *k;
    if (k->process)
        snprintf(st->name, sizeof st->name, "klaw-bench-fanout-%d-%u", (int)getpid(), seq++);
    klaw_bcast_opts o = {
        .capacity = FANOUT_RING_SLOTS,
        .max_frame = k->frame_bytes,
        .policy = k->policy == FANOUT_BLOCK ? KLAW_POLICY_BLOCK : KLAW_POLICY_OVERWRITE,
        .name = k->process ? st->name : NULL,
        .value_type = "klaw-bench fanout frame",
        /* one writer, as ZeroMQ's PUB socket (which is not thread-safe
         * either): claims by plain stores; under OVERWRITE, while the
         * workers outnumber the CPUs, the writer yields once per ring lap
         * (klaw/broadcast.h) */
        .flags = KLAW_BCAST_SINGLE_WRITER | KLAW_BCAST_WRITER_YIELDS,
    };
    /* between processes the writer process opens the only writer handle
     * itself: the channel is created with none */
    klaw_status s = klaw_bcast_create(&o, k->process ? NULL : &st->tx);
    if (s != KLAW_OK) {
        fanout_set_err(err, "klaw_bcast_create: %s", klaw_strerror(s));
        bench_shared_free(st);
        return NULL;
    }
    for (unsigned i = 0; i < k->readers && !k->process; i++) {
        s = klaw_bcast_subscribe(st->tx, KLAW_BCAST_FROM_TAIL, NULL, &st->rx[i]);
        if (s != KLAW_OK) {
            fanout_set_err(err, "klaw_bcast_subscribe: %s", klaw_strerror(s));
            for (unsigned j = 0; j < i; j++)
                klaw_bcast_rx_free(st->rx[j]);
            klaw_bcast_tx_free(st->tx);
            bench_shared_free(st);
            return NULL;
        }
    }
    return st;
}

static void *klaw_attach(void *sv, bool writer, unsigned id, char *err)
{
    klaw_state *st = sv;
    klaw_status s = KLAW_OK;
    if (!st->k.process)
        return writer ? (void *)st->tx : (void *)st->rx[id];
    if (writer) {
        klaw_bcast_tx *tx;
        s = klaw_bcast_open_tx(st->name, &tx);
        if (s == KLAW_OK)
            return tx;
    } else {
        char rid[32];
        klaw_bcast_rx *rx;
        snprintf(rid, sizeof rid, "fanout-reader-%u", id);
        s = klaw_bcast_open_rx(st->name, KLAW_BCAST_FROM_TAIL, rid, &rx);
        if (s == KLAW_OK)
            return rx;
    }
    fanout_set_err(err, "%s: %s", writer ? "klaw_bcast_open_tx" : "klaw_bcast_open_rx", klaw_strerror(s));
    return NULL;
}

static void klaw_attached(void *sv)
{
    klaw_state *st = sv;
    if (st->k.process) {
        /* the writer process has the only writer handle (the channel was
         * created with none), so its close is the last one */
        klaw_region_unlink(st->name);
    }
}

static int klaw_write(void *sv, void *w, fanout_run *run, char *err)
{
    klaw_state *st = sv;
    klaw_bcast_tx *tx = w;
    const uint32_t fb = st->k.frame_bytes;
    const struct timespec dl = to_timespec(run->deadline_ns);
    klaw_frame f[FANOUT_BATCH];
    klaw_status s = KLAW_OK;
    uint64_t seq = 1;
    size_t got = 0;
    const char *what = "";

    uint64_t now = bench_now_ns();
    run->wr.start_ns = now;
    const uint64_t end = now + run->phase_ns;
    while (now < end) {
        s = klaw_bcast_claim_batch(tx, fb, f, FANOUT_BATCH, &got, &dl);
        if (s != KLAW_OK) {
            what = "klaw_bcast_claim_batch";
            goto out;
        }
        for (size_t i = 0; i < got; i++)
            fanout_fill(f[i].data, fb, seq + i, 0);
        now = bench_now_ns();
        for (size_t i = 0; i < got; i++)
            fanout_stamp(f[i].data, now);
        s = klaw_bcast_commit_batch(tx, f, got);
        if (s != KLAW_OK) {
            what = "klaw_bcast_commit_batch";
            goto out;
        }
        seq += got;
    }
    run->wr.end1_ns = bench_now_ns();
    run->wr.n1 = seq - 1;
    atomic_store(&run->wr.published, seq - 1);
    fanout_wait_caught_up(run, seq - 1);

    fanout_pacer pacer;
    fanout_pace_start(&pacer, run, run->spin);
    while (fanout_pace(&pacer)) {
        s = klaw_bcast_claim(tx, fb, &dl, &f[0]);
        if (s != KLAW_OK) {
            what = "klaw_bcast_claim";
            goto out;
        }
        fanout_fill(f[0].data, fb, seq, FANOUT_F_PACED);
        fanout_stamp(f[0].data, bench_now_ns());
        s = klaw_bcast_commit(tx, &f[0], fb);
        if (s != KLAW_OK) {
            what = "klaw_bcast_commit";
            goto out;
        }
        seq++;
    }
out:
    atomic_store(&run->wr.published, seq - 1);
    atomic_store(&run->wr.done, 1);
    /* the last writer's close: readers drain, then get KLAW_CLOSED */
    klaw_bcast_tx_close(tx);
    klaw_bcast_tx_free(tx);
    if (!st->k.process)
        st->tx = NULL;
    if (s != KLAW_OK) {
        fanout_set_err(err, "%s: %s (after %llu frames)", what, klaw_strerror(s), (unsigned long long)(seq - 1));
        return -1;
    }
    return 0;
}

static int klaw_read(void *sv, void *w, fanout_run *run, fanout_reader *rd, char *err)
{
    klaw_state *st = sv;
    klaw_bcast_rx *rx = w;
    const struct timespec dl = to_timespec(run->deadline_ns);
    klaw_frame f[FANOUT_BATCH];
    fanout_seen seen[FANOUT_BATCH];
    bool have_base = false;
    uint64_t base = 0; /* klaw_frame.seq - the payload's seq, the same for all */
    klaw_status s;
    const char *what = run->spin ? "klaw_bcast_try_view" : "klaw_bcast_view_batch";

    for (;;) {
        size_t got = 0;
        uint64_t lagged = 0, lag_after = 0;
        if (run->spin) {
            /* a CPU of our own: poll (try_view) instead of parking, then
             * take what else is ready, up to a batch */
            unsigned polls = 0;
            while ((s = klaw_bcast_try_view(rx, &f[0], &lagged)) == KLAW_EMPTY) {
                __builtin_ia32_pause();
                if (++polls % 4096 == 0 && bench_now_ns() > run->deadline_ns) {
                    s = KLAW_TIMEOUT;
                    break;
                }
            }
            if (s == KLAW_OK) {
                for (got = 1; got < FANOUT_BATCH; got++) {
                    klaw_status s2 = klaw_bcast_try_view(rx, &f[got], &lag_after);
                    if (s2 != KLAW_OK)
                        break; /* EMPTY, CLOSED (seen again next time), or LAGGED: */
                }              /* its count applies after this batch */
            }
        } else {
            s = klaw_bcast_view_batch(rx, f, FANOUT_BATCH, &got, &lagged, &dl);
        }
        if (s == KLAW_LAGGED) {
            rd->announced += lagged;
            rd->lagged += lagged;
            continue;
        }
        if (s != KLAW_OK)
            break;
        uint64_t now = bench_now_ns();
        /* OVERWRITE: each frame checked, then released at once, on its own:
         * a frame the writer overwrote while we looked is LAGGED at its
         * release and counts as lagged, its neighbours still count
         * (release_batch would say LAGGED for the whole batch), and no
         * frame is held longer than its own check. BLOCK: nothing can be
         * overwritten; the batch is checked, then released at once. */
        const bool each = st->k.policy == FANOUT_OVERWRITE;
        klaw_status rs = KLAW_OK;
        for (size_t i = 0; i < got; i++) {
            fanout_inspect(rd, f[i].data, f[i].len, &seen[i]);
            if (have_base && !seen[i].bad && f[i].seq - seen[i].seq != base)
                seen[i].bad = "klaw_frame.seq disagrees with the seq the writer wrote";
            if (!each)
                continue;
            rs = klaw_bcast_release(rx, &f[i]);
            if (rs == KLAW_LAGGED) {
                /* what we read of it is not to be trusted */
                rd->announced++;
                rd->lagged++;
                rs = KLAW_OK;
                continue;
            }
            if (rs != KLAW_OK)
                break;
            if (!have_base && !seen[i].bad) {
                base = f[i].seq - seen[i].seq;
                have_base = true;
            }
            fanout_count(rd, &seen[i], now);
        }
        if (!each) {
            rs = klaw_bcast_release_batch(rx, f, got);
            if (rs == KLAW_LAGGED) { /* not under BLOCK; if it were, none counts */
                rd->announced += got;
                rd->lagged += got;
                rs = KLAW_OK;
            } else if (rs == KLAW_OK) {
                for (size_t i = 0; i < got; i++) {
                    if (!have_base && !seen[i].bad) {
                        base = f[i].seq - seen[i].seq;
                        have_base = true;
                    }
                    fanout_count(rd, &seen[i], now);
                }
            }
        }
        if (rs != KLAW_OK) {
            s = rs;
            what = each ? "klaw_bcast_release" : "klaw_bcast_release_batch";
            break;
        }
        rd->announced += lag_after;
        rd->lagged += lag_after;
        atomic_store_explicit(&rd->seen, rd->last, memory_order_relaxed);
    }
    if (!st->k.process)
        st->rx[rd - run->rd] = NULL;
    klaw_bcast_rx_free(rx);
    if (s != KLAW_CLOSED) {
        fanout_set_err(err, "%s: %s", what, klaw_strerror(s));
        return -1;
    }
    return 0;
}

/* Processes: the child closes the handle it opened. Threads: teardown
 * frees the handles setup made. */
static void klaw_abandon(void *sv, void *w, bool writer)
{
    klaw_state *st = sv;
    if (!st->k.process)
        return;
    if (writer)
        klaw_bcast_tx_free(w);
    else
        klaw_bcast_rx_free(w);
}

static void klaw_teardown(void *sv)
{
    klaw_state *st = sv;
    /* whatever a failed run left behind */
    for (unsigned i = 0; i < FANOUT_MAX_READERS; i++)
        klaw_bcast_rx_free(st->rx[i]);
    klaw_bcast_tx_free(st->tx);
    if (st->k.process)
        klaw_region_unlink(st->name); /* NOENT when attached() did it */
    bench_shared_free(st);
}

const fanout_impl fanout_klaw = {
    .name = "klaw",
    .exact_gaps = true,
    .cannot = NULL,
    .setup = klaw_setup,
    .attach = klaw_attach,
    .attached = klaw_attached,
    .write = klaw_write,
    .read = klaw_read,
    .abandon = klaw_abandon,
    .teardown = klaw_teardown,
};
