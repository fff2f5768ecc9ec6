/*
 * oneshot.c - the oneshot channel (see klaw/oneshot.h): one value, once.
 *
 * ---- Layout (offsets from the region base) ---------------------------------
 *
 *   0                    klaw_region_header
 *   CTL_OFF (1024)       os_ctl: config line, the state word and length, the
 *                        event count, then the lifecycle block
 *                        (channels/lifecycle.h: the two roles' handle
 *                        counts, closed bits and lock)
 *   ctl.tables_off       the lifecycle tables: 2 handle entries, then the
 *                        peer slots
 *   ctl.data_off         max_frame bytes: the value
 *   end - META_RESERVE   the ChannelMetadata record
 *
 * ---- The state word ----------------------------------------------------------
 *
 * One 32-bit word holds every fact both sides act on; bits are only ever
 * set (fetch_or / CAS), never cleared:
 *
 *   CLAIMED    a send started (set by CAS, once: the second send sees it
 *              and says ALREADY_SENT)
 *   SENT       the value's bytes and length are complete
 *   TX_CLOSED  the sender closed or its process died
 *   RX_CLOSED  the receiver closed or its process died
 *   TAKEN      the receiver took the value (recv, or view) - for good
 *   RELEASED   the receiver released its view
 *
 * Invariants:
 *   O1  The value's bytes are written only between CLAIMED and SENT, by the
 *       one sender that set CLAIMED, and read only after SENT is seen. The
 *       sender sets SENT with a seq_cst fetch_or after writing them; the
 *       receiver's acquire load (or CAS) that sees SENT sees the bytes.
 *   O2  The value is taken at most once: a receiver takes it by CAS
 *       SENT & !TAKEN -> TAKEN. A copy into a buffer too small for it
 *       (TOOBIG) reads the length first - final once SENT is seen (O1) -
 *       and does not take it: TAKEN is never set for a value that is then
 *       handed back, so no other caller can see it "taken" in between.
 *   O3  A value wins over a close: the receiver reports CLOSED only when
 *       the value is gone for good (TAKEN), or when it never came (SENT
 *       not set, and TX_CLOSED). A sender that closes after sending, or
 *       dies after SENT, still delivers.
 *   O4  A send started after RX_CLOSED is refused (CAS fails on RX_CLOSED);
 *       a send whose fetch_or of SENT finds RX_CLOSED reports KLAW_CLOSED.
 *
 * Every change is an RMW (a full barrier) followed by kw_wake_if_waiters
 * on the one event count both sides park on (channels/wait.h): a receiver
 * waiting for SENT/TX_CLOSED, a sender waiting for RX_CLOSED.
 *
 * ---- Roles, liveness, closing --------------------------------------------------
 *
 * The lifecycle core (channels/lifecycle.h) keeps who holds each role:
 * ROLE_TX and ROLE_RX are lifecycle roles of one handle each (taken with
 * single = true: a second taker gets KLAW_FULL while the holder lives),
 * both closing (L2: when the holder goes the role is closed for good, and
 * a later take says KLAW_CLOSED - L3). When a holder goes - closed, or its
 * process gone (the kernel's file locks on the region, src/liveness.h:
 * not a pid, which the system may give to another process) - the module
 * calls gone(), which sets that side's CLOSED bit in the state word (an
 * RMW: idempotent, L5) and wakes both sides; what the value's protocol
 * then does is O1-O4's. So the module keeps the roles, their lock and
 * their liveness; the kind keeps the state word. A waiter reaps on the
 * channel's liveness clock (klaw__life_wait_check), a try_ call at most
 * when that clock is due (klaw__life_maybe_reap); the sender's send,
 * is_closed and wait_closed look at once (a cold path).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ck_ec.h>
#include <ck_pr.h>

#include "klaw/oneshot.h"
#include "klaw/region.h"
#include "crashpoint.h"
#include "meta.h"
#include "inspect.h"
#include "lifecycle.h"
#include "select_impl.h"
#include "fdwait.h"
#include "wait.h"


#define CACHELINE KLAW_CACHELINE
#define CTL_OFF KLAW_CTL_OFF
#define OS_MAGIC 0x544f4853u /* "SHOT" */
#define SPIN_ITERS 256
#define NHANDLES 2u /* one per role */

enum {
    S_CLAIMED = 1u,
    S_SENT = 2u,
    S_TX_CLOSED = 4u,
    S_RX_CLOSED = 8u,
    S_TAKEN = 16u,
    S_RELEASED = 32u,
};
/* lifecycle roles (both close for good when their holder goes) */
enum { ROLE_TX = 1, ROLE_RX = 2 };

typedef struct os_ctl {
    /* config: written before READY, never changed */
    uint32_t magic;
    uint32_t max_frame;
    uint64_t data_off;
    uint64_t tables_off; /* the lifecycle tables (handles, peers)         */
    uint8_t pad0_[CACHELINE - 24];
    _Alignas(CACHELINE) _Atomic uint32_t state;
    _Atomic uint32_t len;
    _Alignas(CACHELINE) struct ck_ec32 ec;
    /* the roles: handles, their lock, counts and closed bits */
    _Alignas(CACHELINE) klaw__life_shared life;
} os_ctl;
_Static_assert(offsetof(os_ctl, state) == CACHELINE, "the oneshot's config is one cache line");
_Static_assert(offsetof(os_ctl, life) == 3 * CACHELINE, "the lifecycle block is the fourth line");

typedef struct chan {
    klaw_region *region;
    os_ctl *ctl;
    uint8_t *data;
    uint32_t max_frame;
    uint64_t liveness_ns;
    _Atomic uint32_t refs;
    klaw__life life;
} chan;

struct klaw_oneshot_tx {
    chan *c;
    uint32_t idx;
    _Atomic int closed;
};

struct klaw_oneshot_rx {
    chan *c;
    uint32_t idx;
    _Atomic int closed;
    klaw__fdw fdw; /* its descriptor (klaw_oneshot_rx_fd), when asked for */
};

/* ---- roles and liveness (cold) ------------------------------------------------ */

static uint32_t closed_bit(uint32_t role) { return role == ROLE_TX ? S_TX_CLOSED : S_RX_CLOSED; }

/* gone(): the role's holder closed or died - its side's CLOSED bit (an
 * RMW: a second call changes nothing, L5). A value already SENT stays
 * deliverable (O3). */
static void life_gone(void *cv, uint32_t idx, uint32_t role, int dead)
{
    chan *c = cv;
    (void)idx;
    (void)dead;
    if (role != ROLE_TX && role != ROLE_RX)
        return;
    atomic_fetch_or(&c->ctl->state, closed_bit(role));
    KLAW_CRASHPOINT("oneshot.gone.closed");
}

static void life_wake(void *cv)
{
    chan *c = cv;
    kw_wake_all_fd(&c->ctl->ec, &c->life, KLAW__EV_RX);
}
static const klaw__life_ops life_ops = {life_gone, NULL, life_wake};

static uint32_t reap(chan *c) { return klaw__life_reap(&c->life); }

/* 1 when the role's side is gone: its CLOSED bit is set - after looking
 * whether its holder's process is gone (reaping it: then the bit is set).
 * Cold: a system call per holder in another process. */
static int side_gone(chan *c, uint32_t role)
{
    os_ctl *ctl = c->ctl;
    if (atomic_load_explicit(&ctl->state, memory_order_acquire) & closed_bit(role))
        return 1;
    if (klaw__life_count(&c->life, role) != 0)
        reap(c);
    return (atomic_load_explicit(&ctl->state, memory_order_acquire) & closed_bit(role)) != 0;
}

/* Takes a role for this process: KLAW_OK; KLAW_FULL (a live holder has
 * it); KLAW_CLOSED (it was held and given up, or its holder died: closed
 * for good). */
static klaw_status take_role(chan *c, uint32_t role, uint32_t *idx)
{
    /* a dead holder must not keep the role "held": reap before looking
     * (its retirement closes the role: the take then says CLOSED) */
    reap(c);
    return klaw__life_take(&c->life, role, true, idx);
}

static void give_role(chan *c, uint32_t idx) { klaw__life_give(&c->life, idx); }

/* ---- creating and attaching ----------------------------------------------------- */

/* Frees a chan whose region stays the caller's. */
static void chan_free(chan *c)
{
    klaw__life_detach(&c->life);
    free(c);
}

static void chan_unref(chan *c)
{
    if (atomic_fetch_sub(&c->refs, 1) == 1) {
        klaw_region *r = c->region;
        chan_free(c);
        klaw_region_close(r);
    }
}

static klaw_status chan_attach(klaw_region *r, chan **out)
{
    uint8_t *base = klaw_region_base(r);
    size_t size = klaw_region_size(r);
    const klaw_region_header *h = klaw_region_hdr(r);
    os_ctl *ctl = klaw_region_at(base, size, h->body_off, sizeof(os_ctl));
    if (!ctl || h->body_off % CACHELINE || h->body_len < sizeof(os_ctl))
        return KLAW_CORRUPT;
    /* copy the config once; validate it; never trust it again */
    uint32_t maxf = ctl->max_frame;
    uint64_t doff = ctl->data_off;
    if (ctl->magic != OS_MAGIC || maxf < 1 || maxf > (1u << 30) || doff % CACHELINE ||
        !klaw_region_at(base, size, doff, maxf))
        return KLAW_CORRUPT;
    chan *c = calloc(1, sizeof *c);
    if (!c)
        return KLAW_NOMEM;
    /* the lifecycle tables are checked against the control block; the
     * value must overlap neither (the lock word and the state above all) */
    if (klaw__life_attach(&c->life, r, &ctl->life, h->body_off, sizeof(os_ctl), &life_ops, c) != KLAW_OK) {
        free(c);
        return KLAW_CORRUPT;
    }
    const klaw__life *L = &c->life;
    if (L->max_handles != NHANDLES || L->closing_roles != ((1u << ROLE_TX) | (1u << ROLE_RX)) ||
        klaw__life_overlaps(L, h->body_off, sizeof(os_ctl), doff, maxf)) {
        chan_free(c);
        return KLAW_CORRUPT;
    }
    c->region = r;
    c->ctl = ctl;
    c->data = base + doff;
    c->max_frame = maxf;
    c->liveness_ns = L->liveness_ns;
    atomic_store(&c->refs, 1);
    *out = c;
    return KLAW_OK;
}

static uint64_t round_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

klaw_status klaw_oneshot_create(const klaw_oneshot_opts *o, klaw_oneshot_tx **txo, klaw_oneshot_rx **rxo)
{
    if (txo)
        *txo = NULL;
    if (rxo)
        *rxo = NULL;
    if (!o || o->max_frame < 1 || o->max_frame > (1u << 30) || (!o->name && !txo && !rxo))
        return KLAW_INVAL;
    uint32_t np = klaw__life_peers_for(NHANDLES);
    uint64_t toff = round_up(CTL_OFF + sizeof(os_ctl), CACHELINE);
    uint64_t doff = round_up(toff + klaw__life_tables_size(NHANDLES, np), CACHELINE);
    uint64_t moff = round_up(doff + o->max_frame, CACHELINE);

    klaw_oneshot_tx *tx = txo ? calloc(1, sizeof *tx) : NULL;
    klaw_oneshot_rx *rx = rxo ? calloc(1, sizeof *rx) : NULL;
    if ((txo && !tx) || (rxo && !rx)) {
        free(tx);
        free(rx);
        return KLAW_NOMEM;
    }
    klaw_region *r;
    klaw_status st = klaw__chan_region_create(o->name, moff + KLAW_META_RESERVE, KLAW_KIND_ONESHOT, o->mode,
                                              o->set_group, o->group, &r);
    if (st != KLAW_OK) {
        free(tx);
        free(rx);
        return st;
    }
    uint8_t *base = klaw_region_base(r);
    os_ctl *ctl = (os_ctl *)(base + CTL_OFF);
    ctl->magic = OS_MAGIC;
    ctl->max_frame = o->max_frame;
    ctl->data_off = doff;
    ctl->tables_off = toff;
    ck_ec32_init(&ctl->ec, 0);
    klaw__life_init(&ctl->life, toff, NHANDLES, np, o->liveness_ns, (1u << ROLE_TX) | (1u << ROLE_RX));
    if (!o->name) {
        /* anonymous: a role not taken now can never be taken - that side
         * is closed from the start (both words: L3 and O3) */
        uint32_t state = 0, closed = 0;
        if (!txo) {
            state |= S_TX_CLOSED;
            closed |= 1u << ROLE_TX;
        }
        if (!rxo) {
            state |= S_RX_CLOSED;
            closed |= 1u << ROLE_RX;
        }
        atomic_store(&ctl->state, state);
        atomic_store(&ctl->life.closed, closed);
    }
    st = klaw__chan_publish(r, moff, KLAW_CHANNEL_ONESHOT, 1, o->max_frame, KLAW_POLICY_NONE, o->value_type, CTL_OFF,
                            sizeof(os_ctl));
    chan *c = NULL;
    if (st == KLAW_OK)
        st = chan_attach(r, &c);
    /* a new table of two entries: each role's take succeeds */
    if (st == KLAW_OK && tx && (st = take_role(c, ROLE_TX, &tx->idx)) != KLAW_OK)
        st = KLAW_CORRUPT;
    if (st == KLAW_OK && rx && (st = take_role(c, ROLE_RX, &rx->idx)) != KLAW_OK)
        st = KLAW_CORRUPT;
    if (st != KLAW_OK) {
        if (c)
            chan_free(c); /* leaves r open */
        klaw__chan_discard(r, o->name);
        free(tx);
        free(rx);
        return st;
    }
    uint32_t refs = (tx != NULL) + (rx != NULL);
    if (refs == 0) {
        chan_unref(c); /* named, nobody here: it lives on in /dev/shm */
        return KLAW_OK;
    }
    atomic_store(&c->refs, refs);
    if (tx) {
        tx->c = c;
        *txo = tx;
    }
    if (rx) {
        rx->c = c;
        *rxo = rx;
    }
    return KLAW_OK;
}

static klaw_status open_role(const char *name, uint32_t role, chan **out, uint32_t *idx)
{
    klaw_region *r;
    klaw_status st = klaw_region_open(name, KLAW_KIND_ONESHOT, 1000, &r);
    if (st != KLAW_OK)
        return st;
    chan *c;
    st = chan_attach(r, &c);
    if (st != KLAW_OK) {
        klaw_region_close(r);
        return st;
    }
    st = take_role(c, role, idx);
    if (st != KLAW_OK) {
        chan_unref(c);
        return st;
    }
    *out = c;
    return KLAW_OK;
}

klaw_status klaw_oneshot_open_tx(const char *name, klaw_oneshot_tx **out)
{
    *out = NULL;
    klaw_oneshot_tx *tx = calloc(1, sizeof *tx);
    if (!tx)
        return KLAW_NOMEM;
    klaw_status st = open_role(name, ROLE_TX, &tx->c, &tx->idx);
    if (st != KLAW_OK) {
        free(tx);
        return st;
    }
    *out = tx;
    return KLAW_OK;
}

klaw_status klaw_oneshot_open_rx(const char *name, klaw_oneshot_rx **out)
{
    *out = NULL;
    klaw_oneshot_rx *rx = calloc(1, sizeof *rx);
    if (!rx)
        return KLAW_NOMEM;
    klaw_status st = open_role(name, ROLE_RX, &rx->c, &rx->idx);
    if (st != KLAW_OK) {
        free(rx);
        return st;
    }
    *out = rx;
    return KLAW_OK;
}

void klaw_oneshot_tx_close(klaw_oneshot_tx *tx)
{
    if (tx && !atomic_exchange(&tx->closed, 1))
        give_role(tx->c, tx->idx);
}

void klaw_oneshot_rx_close(klaw_oneshot_rx *rx)
{
    if (rx && !atomic_exchange(&rx->closed, 1))
        give_role(rx->c, rx->idx);
}

void klaw_oneshot_tx_free(klaw_oneshot_tx *tx)
{
    if (!tx)
        return;
    klaw_oneshot_tx_close(tx);
    chan_unref(tx->c);
    free(tx);
}

void klaw_oneshot_rx_free(klaw_oneshot_rx *rx)
{
    if (!rx)
        return;
    klaw_oneshot_rx_close(rx);
    klaw__fd_handle_close(&rx->c->life, rx->idx, &rx->fdw, false);
    chan_unref(rx->c);
    free(rx);
}

/* ---- the sender ------------------------------------------------------------------ */

klaw_status klaw_oneshot_send(klaw_oneshot_tx *tx, const void *data, size_t len)
{
    chan *c = tx->c;
    os_ctl *ctl = c->ctl;
    if (atomic_load_explicit(&tx->closed, memory_order_relaxed))
        return KLAW_CLOSED;
    if (len > c->max_frame)
        return KLAW_TOOBIG;
    uint32_t s = atomic_load_explicit(&ctl->state, memory_order_acquire);
    if (s & S_CLAIMED)
        return KLAW_ALREADY_SENT;
    if (side_gone(c, ROLE_RX))
        return KLAW_CLOSED;
    s = atomic_load_explicit(&ctl->state, memory_order_acquire);
    do {
        if (s & S_CLAIMED)
            return KLAW_ALREADY_SENT;
        if (s & S_RX_CLOSED)
            return KLAW_CLOSED;
    } while (!atomic_compare_exchange_weak_explicit(&ctl->state, &s, s | S_CLAIMED, memory_order_acq_rel,
                                                    memory_order_acquire));
    KLAW_CRASHPOINT("oneshot.send.claimed");
    if (len)
        memcpy(c->data, data, len);
    atomic_store_explicit(&ctl->len, (uint32_t)len, memory_order_relaxed);
    KLAW_CRASHPOINT("oneshot.send.bytes");
    uint32_t old = atomic_fetch_or_explicit(&ctl->state, S_SENT, memory_order_seq_cst);
    KLAW_CRASHPOINT("oneshot.send.sent");
    kw_wake_if_waiters_fd(&ctl->ec, &c->life, KLAW__EV_RX);
    return (old & S_RX_CLOSED) ? KLAW_CLOSED : KLAW_OK;
}

int klaw_oneshot_is_closed(klaw_oneshot_tx *tx) { return side_gone(tx->c, ROLE_RX); }

/* ---- waiting (both sides) ----------------------------------------------------------- */

typedef struct wait_ctx {
    chan *c;
    uint32_t bits; /* state bits that end the wait */
} wait_ctx;

static int wait_pred(const struct ck_ec_wait_state *ws, struct timespec *deadline)
{
    wait_ctx *w = ws->data;
    if (atomic_load_explicit(&w->c->ctl->state, memory_order_acquire) & w->bits)
        return 1;
    /* the channel's liveness clock (not this call's): reap when due - a
     * holder found gone sets its CLOSED bit (gone()): re-check - and wake
     * up in time for the next due time */
    int64_t now = (int64_t)ws->now.tv_sec * 1000000000 + ws->now.tv_nsec;
    return klaw__life_wait_check(&w->c->life, now, deadline);
}

/* Parks until one of `bits` is set, a holder is found gone, or the
 * deadline: KLAW_TIMEOUT, or KLAW_OK to re-check. */
static klaw_status park(chan *c, uint32_t bits, const struct timespec *deadline)
{
    os_ctl *ctl = c->ctl;
    for (int i = 0; i < SPIN_ITERS; i++) {
        if (atomic_load_explicit(&ctl->state, memory_order_acquire) & bits)
            return KLAW_OK;
        ck_pr_stall();
    }
    wait_ctx w = {c, bits};
    uint32_t v = ck_ec32_value(&ctl->ec);
    if (atomic_load_explicit(&ctl->state, memory_order_acquire) & bits)
        return KLAW_OK;
    if (ck_ec32_wait_pred(&ctl->ec, &klaw__ec_mode, v, wait_pred, &w, deadline) == -1 &&
        klaw__deadline_passed(deadline))
        return KLAW_TIMEOUT;
    return KLAW_OK;
}

klaw_status klaw_oneshot_wait_closed(klaw_oneshot_tx *tx, const struct timespec *deadline)
{
    if (atomic_load(&tx->closed))
        return KLAW_CLOSED;
    if (side_gone(tx->c, ROLE_RX))
        return KLAW_OK;
    for (;;) {
        if (atomic_load_explicit(&tx->c->ctl->state, memory_order_acquire) & S_RX_CLOSED)
            return KLAW_OK;
        if (park(tx->c, S_RX_CLOSED, deadline) == KLAW_TIMEOUT)
            return side_gone(tx->c, ROLE_RX) ? KLAW_OK : KLAW_TIMEOUT;
    }
}

/* ---- the receiver --------------------------------------------------------------------- */

/* One attempt to take the value into a view (O2, O3); a value longer than
 * cap is not taken: KLAW_TOOBIG with *len (O2). KLAW_EMPTY: not yet. */
static klaw_status take(klaw_oneshot_rx *rx, klaw_frame *f, size_t cap, size_t *len)
{
    chan *c = rx->c;
    os_ctl *ctl = c->ctl;
    if (atomic_load_explicit(&rx->closed, memory_order_relaxed))
        return KLAW_CLOSED;
    uint32_t s = atomic_load_explicit(&ctl->state, memory_order_acquire);
    for (;;) {
        if (s & S_TAKEN)
            return KLAW_CLOSED; /* gone for good (O3) */
        if (s & S_SENT) {
            /* final once SENT is seen (O1); another process wrote it:
             * never trust a length past max_frame */
            uint32_t n = atomic_load_explicit(&ctl->len, memory_order_relaxed);
            if (n > c->max_frame)
                n = c->max_frame;
            if (n > cap) {
                *len = n;
                return KLAW_TOOBIG; /* not taken: nothing to hand back */
            }
            if (!atomic_compare_exchange_weak_explicit(&ctl->state, &s, s | S_TAKEN, memory_order_acq_rel,
                                                       memory_order_acquire))
                continue;
            KLAW_CRASHPOINT("oneshot.recv.taken");
            f->data = c->data;
            f->len = n;
            f->cap = 0;
            f->seq = 0;
            f->slot_ = NULL;
            f->pos_ = 0;
            return KLAW_OK;
        }
        if (s & S_TX_CLOSED)
            return KLAW_CLOSED; /* it never came (O3) */
        return KLAW_EMPTY;
    }
}

/* try_ forms: a sender that died is noticed here too, when the channel's
 * liveness clock is due (the clock read is a vDSO call, not a system
 * call). */
static klaw_status try_take(klaw_oneshot_rx *rx, klaw_frame *f, size_t cap, size_t *len)
{
    klaw_status st = take(rx, f, cap, len);
    if (st != KLAW_EMPTY)
        return st;
    if (!klaw__life_maybe_reap(&rx->c->life, klaw__now_ns()))
        return KLAW_EMPTY;
    return take(rx, f, cap, len);
}

static klaw_status take_wait(klaw_oneshot_rx *rx, const struct timespec *deadline, klaw_frame *f, size_t cap,
                             size_t *len)
{
    for (;;) {
        klaw_status st = take(rx, f, cap, len);
        if (st != KLAW_EMPTY)
            return st;
        st = park(rx->c, S_SENT | S_TX_CLOSED, deadline);
        if (st == KLAW_TIMEOUT) {
            st = take(rx, f, cap, len);
            return st == KLAW_EMPTY ? KLAW_TIMEOUT : st;
        }
    }
}

klaw_status klaw_oneshot_try_view(klaw_oneshot_rx *rx, klaw_frame *f)
{
    size_t len;
    return try_take(rx, f, SIZE_MAX, &len);
}

klaw_status klaw_oneshot_view(klaw_oneshot_rx *rx, const struct timespec *deadline, klaw_frame *f)
{
    size_t len;
    return take_wait(rx, deadline, f, SIZE_MAX, &len);
}

klaw_status klaw_oneshot_release(klaw_oneshot_rx *rx, klaw_frame *f)
{
    (void)f;
    /* closed: the region is not touched */
    if (atomic_load_explicit(&rx->closed, memory_order_relaxed))
        return KLAW_CLOSED;
    atomic_fetch_or_explicit(&rx->c->ctl->state, S_RELEASED, memory_order_release);
    KLAW_CRASHPOINT("oneshot.release");
    return KLAW_OK;
}

static klaw_status copy_out(klaw_oneshot_rx *rx, klaw_status st, klaw_frame *f, void *buf, size_t *len)
{
    if (st != KLAW_OK)
        return st;
    *len = f->len;
    if (f->len)
        memcpy(buf, f->data, f->len);
    klaw_oneshot_release(rx, f);
    return KLAW_OK;
}

klaw_status klaw_oneshot_try_recv(klaw_oneshot_rx *rx, void *buf, size_t cap, size_t *len)
{
    klaw_frame f;
    *len = 0;
    return copy_out(rx, try_take(rx, &f, cap, len), &f, buf, len);
}

klaw_status klaw_oneshot_recv(klaw_oneshot_rx *rx, void *buf, size_t cap, size_t *len,
                              const struct timespec *deadline)
{
    klaw_frame f;
    *len = 0;
    return copy_out(rx, take_wait(rx, deadline, &f, cap, len), &f, buf, len);
}

/* ---- a descriptor for event loops (channels/fdwait.h) --------------------------- */

/* The waiter's half (fdwait.h) for rx with target w: 1 ready now (sent,
 * or the sender gone), 0 armed. */
static int rx_arm_to(klaw_oneshot_rx *rx, const klaw__fdw *w)
{
    chan *c = rx->c;
    klaw__life_fd_arm(&c->life, rx->idx, w, KLAW__EVS(KLAW__EV_RX));
    kw_ec_arm(&c->ctl->ec);
    return (atomic_load_explicit(&c->ctl->state, memory_order_seq_cst) & (S_SENT | S_TX_CLOSED)) != 0;
}

int klaw_oneshot_rx_fd(klaw_oneshot_rx *rx)
{
    if (atomic_load(&rx->closed)) {
        errno = EBADF;
        return -1;
    }
    return klaw__fd_handle(&rx->c->life, rx->idx, &rx->fdw, rx->c->region);
}

klaw_status klaw_oneshot_rx_arm(klaw_oneshot_rx *rx, int *timeout_ms)
{
    chan *c = rx->c;
    if (atomic_load(&rx->closed))
        return KLAW_CLOSED;
    klaw_status st = klaw__fd_arm_begin(&c->life, rx->idx, &rx->fdw, c->region, timeout_ms);
    if (st != KLAW_OK)
        return st;
    if (rx_arm_to(rx, &rx->fdw))
        klaw__fdw_poke(&rx->fdw);
    return KLAW_OK;
}

/* select's descriptor (klaw_sel_src.fd_arm) */
static int sel_fd_arm(void *rxv, const klaw__fdw *w) { return rx_arm_to(rxv, w); }
static unsigned sel_fd_mode(void *rxv) { return klaw__region_mode(((klaw_oneshot_rx *)rxv)->c->region); }

/* ---- stats --------------------------------------------------------------------------- */

static klaw_status stats(chan *c, klaw_oneshot_stats *out)
{
    memset(out, 0, sizeof *out);
    reap(c);
    os_ctl *ctl = c->ctl;
    uint32_t s = atomic_load_explicit(&ctl->state, memory_order_acquire);
    out->max_frame = c->max_frame;
    out->sent = (s & S_SENT) != 0;
    if (out->sent) {
        uint32_t len = atomic_load(&ctl->len);
        out->value_len = len <= c->max_frame ? len : c->max_frame;
    }
    out->received = (s & S_TAKEN) != 0;
    out->sender_closed = (s & S_TX_CLOSED) != 0;
    out->receiver_closed = (s & S_RX_CLOSED) != 0;
    out->sender_held = klaw__life_count(&c->life, ROLE_TX) != 0;
    out->receiver_held = klaw__life_count(&c->life, ROLE_RX) != 0;
    return KLAW_OK;
}

klaw_status klaw_oneshot_tx_stats(klaw_oneshot_tx *tx, klaw_oneshot_stats *out) { return stats(tx->c, out); }
klaw_status klaw_oneshot_rx_stats(klaw_oneshot_rx *rx, klaw_oneshot_stats *out) { return stats(rx->c, out); }

/* ---- select -------------------------------------------------------------------------- */

static klaw_status sel_try_take(void *rx, klaw_sel_result *out)
{
    size_t len;
    klaw_status st = try_take(rx, &out->frame, SIZE_MAX, &len);
    out->status = st;
    return st;
}

static klaw_status sel_release(void *rx, klaw_frame *f) { return klaw_oneshot_release(rx, f); }

/* select's waiter: the channel's liveness clock, as a parked receiver's */
static void sel_maintain(void *rx) { klaw__life_maybe_reap(&((klaw_oneshot_rx *)rx)->c->life, klaw__now_ns()); }

static int64_t sel_due(void *rx)
{
    return atomic_load_explicit(&((klaw_oneshot_rx *)rx)->c->life.next_reap_ns, memory_order_relaxed);
}

static int sel_fd_arm(void *rxv, const klaw__fdw *w);
static unsigned sel_fd_mode(void *rxv);

klaw_status klaw__oneshot_sel_src(void *rxv, klaw_sel_src *out)
{
    klaw_oneshot_rx *rx = rxv;
    if (!rx || atomic_load(&rx->closed))
        return KLAW_INVAL;
    out->rx = rx;
    out->try_take = sel_try_take;
    out->release = sel_release;
    out->ec = &rx->c->ctl->ec;
    out->maintain = sel_maintain;
    out->liveness_ns = rx->c->liveness_ns;
    out->due_ns = sel_due;
    out->fd_arm = sel_fd_arm;
    out->fd_mode = sel_fd_mode;
    return KLAW_OK;
}

/* ---- inspection ----------------------------------------------------------------------- */

klaw_status klaw__oneshot_inspect(klaw_region *r, klaw_oneshot_stats *out)
{
    memset(out, 0, sizeof *out);
    chan *c;
    klaw_status st = chan_attach(r, &c);
    if (st != KLAW_OK)
        return st;
    st = stats(c, out);
    chan_free(c); /* the region stays the caller's */
    return st;
}
