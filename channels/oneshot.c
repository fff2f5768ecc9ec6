/*
 * oneshot.c - the oneshot channel (see klaw/oneshot.h): one value, once.
 *
 * ---- Layout (offsets from the region base) ---------------------------------
 *
 *   0                    klaw_region_header
 *   CTL_OFF (1024)       os_ctl: config line, the state word and length, the
 *                        event count, the two roles and their robust mutex
 *   ctl.data_off         max_frame bytes: the value
 *   end - META_RESERVE   the ChannelMetadata record
 *
 * ---- The state word ----------------------------------------------------------
 *
 * One 32-bit word holds every fact both sides act on; bits are only ever
 * set (fetch_or / CAS), except TAKEN, which a receiver that took the value
 * and found its buffer too small clears again (it is the only one who can
 * have set it):
 *
 *   CLAIMED    a send started (set by CAS, once: the second send sees it
 *              and says ALREADY_SENT)
 *   SENT       the value's bytes and length are complete
 *   TX_CLOSED  the sender closed or its process died
 *   RX_CLOSED  the receiver closed or its process died
 *   TAKEN      the receiver took the value (recv, or view)
 *   RELEASED   the receiver released its view
 *
 * Invariants:
 *   O1  The value's bytes are written only between CLAIMED and SENT, by the
 *       one sender that set CLAIMED, and read only after SENT is seen. The
 *       sender sets SENT with a seq_cst fetch_or after writing them; the
 *       receiver's acquire load (or CAS) that sees SENT sees the bytes.
 *   O2  The value is taken at most once: a receiver takes it by CAS
 *       SENT & !TAKEN -> TAKEN.
 *   O3  A value wins over a close: the receiver reports CLOSED only when
 *       SENT is not set (or the value was taken). A sender that closes
 *       after sending, or dies after SENT, still delivers.
 *   O4  A send started after RX_CLOSED is refused (CAS fails on RX_CLOSED);
 *       a send whose fetch_or of SENT finds RX_CLOSED reports KLAW_CLOSED.
 *
 * Every change is an RMW (a full barrier) followed by kw_wake_if_waiters
 * on the one event count both sides park on (channels/wait.h): a receiver
 * waiting for SENT/TX_CLOSED, a sender waiting for RX_CLOSED.
 *
 * Liveness: each role records its holder (pid + start time). A waiter
 * checks the other role's holder every liveness_ns (a receiver also on a
 * try_ call, at most once per liveness_ns); a holder found dead has its
 * role marked GONE and its side's CLOSED bit set, under the roles' robust
 * mutex.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ck_ec.h>
#include <ck_pr.h>

#include "klaw/oneshot.h"
#include "klaw/region.h"
#include "../src/meta.h"
#include "inspect.h"
#include "select_impl.h"
#include "wait.h"


#define CACHELINE 64
#define CTL_OFF 1024u
#define OS_MAGIC 0x544f4853u /* "SHOT" */
#define DEFAULT_LIVENESS_NS 1000000000ull
#define SPIN_ITERS 256

enum {
    S_CLAIMED = 1u,
    S_SENT = 2u,
    S_TX_CLOSED = 4u,
    S_RX_CLOSED = 8u,
    S_TAKEN = 16u,
    S_RELEASED = 32u,
};
enum { R_FREE = 0, R_HELD = 1, R_GONE = 2 };
enum { ROLE_TX = 0, ROLE_RX = 1 };

typedef struct role_ent {
    _Atomic uint32_t st;
    uint32_t pad_;
    klaw_proc_id owner;
} role_ent;

typedef struct os_ctl {
    /* config: written before READY, never changed */
    uint32_t magic;
    uint32_t max_frame;
    uint64_t data_off;
    uint64_t liveness_ns;
    uint8_t pad0_[CACHELINE - 24];
    _Alignas(CACHELINE) _Atomic uint32_t state;
    _Atomic uint32_t len;
    _Alignas(CACHELINE) struct ck_ec32 ec;
    _Alignas(CACHELINE) role_ent roles[2];
    _Alignas(CACHELINE) pthread_mutex_t lock; /* the roles */
} os_ctl;

typedef struct chan {
    klaw_region *region;
    os_ctl *ctl;
    uint8_t *data;
    uint32_t max_frame;
    uint64_t liveness_ns;
    _Atomic uint32_t refs;
} chan;

struct klaw_oneshot_tx {
    chan *c;
    _Atomic int closed;
};

struct klaw_oneshot_rx {
    chan *c;
    _Atomic int closed;
    _Atomic int64_t next_check_ns; /* try_ calls: next liveness check */
};

/* ---- roles and liveness (cold) ------------------------------------------------ */

/* false: the lock cannot be taken (a corrupt or hostile region). Robust: a
 * holder that died inside leaves at most one role half written (owner set,
 * st not yet HELD): harmless, the role stays FREE. */
static bool lock_roles(chan *c) { return klaw__robust_lock(&c->ctl->lock) >= 0; }

static void unlock_roles(chan *c) { pthread_mutex_unlock(&c->ctl->lock); }

static uint32_t closed_bit(int role) { return role == ROLE_TX ? S_TX_CLOSED : S_RX_CLOSED; }

/* Marks a role given up (lock held): GONE, and its side's CLOSED bit. */
static void role_gone(chan *c, int role)
{
    atomic_store(&c->ctl->roles[role].st, R_GONE);
    atomic_fetch_or(&c->ctl->state, closed_bit(role));
}

static bool holder_alive(const role_ent *r)
{
    klaw_proc_id id = r->owner;
    if (id.pid == (int32_t)getpid())
        return true;
    return klaw_proc_alive(id) != 0;
}

/* 1 when the role's side is gone: its CLOSED bit is set, or its holder's
 * process died (then marked so). Reads /proc for another process. */
static int side_gone(chan *c, int role)
{
    os_ctl *ctl = c->ctl;
    if (atomic_load_explicit(&ctl->state, memory_order_acquire) & closed_bit(role))
        return 1;
    uint32_t st = atomic_load_explicit(&ctl->roles[role].st, memory_order_acquire);
    if (st == R_FREE)
        return 0;
    if (st == R_HELD && holder_alive(&ctl->roles[role]))
        return 0;
    if (!lock_roles(c))
        return 1; /* a lock nobody can take: this channel is finished */
    st = atomic_load(&ctl->roles[role].st);
    int gone = st == R_GONE || (st == R_HELD && !holder_alive(&ctl->roles[role]));
    if (gone)
        role_gone(c, role);
    unlock_roles(c);
    if (gone)
        kw_wake_all(&ctl->ec);
    return gone;
}

/* Takes a role for this process: FREE -> HELD. */
static klaw_status take_role(chan *c, int role)
{
    role_ent *r = &c->ctl->roles[role];
    if (!lock_roles(c))
        return KLAW_CORRUPT;
    uint32_t st = atomic_load(&r->st);
    klaw_status out;
    if (st == R_FREE) {
        r->owner = klaw_proc_self();
        atomic_store(&r->st, R_HELD);
        out = KLAW_OK;
    } else if (st == R_HELD && holder_alive(r)) {
        out = KLAW_FULL;
    } else {
        role_gone(c, role); /* held by a dead process: closed, for good */
        out = KLAW_CLOSED;
    }
    unlock_roles(c);
    if (out == KLAW_CLOSED)
        kw_wake_all(&c->ctl->ec);
    return out;
}

static void give_role(chan *c, int role)
{
    bool locked = lock_roles(c);
    role_gone(c, role); /* (without the lock if it cannot be taken: ours) */
    if (locked)
        unlock_roles(c);
    kw_wake_all(&c->ctl->ec);
}

/* ---- creating and attaching ----------------------------------------------------- */

static void chan_unref(chan *c)
{
    if (atomic_fetch_sub(&c->refs, 1) == 1) {
        klaw_region_close(c->region);
        free(c);
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
    uint32_t maxf = ctl->max_frame;
    uint64_t doff = ctl->data_off, live = ctl->liveness_ns;
    if (ctl->magic != OS_MAGIC || maxf < 1 || maxf > (1u << 30) || doff % CACHELINE || live == 0 ||
        !klaw_region_at(base, size, doff, maxf) || klaw__overlap(doff, maxf, h->body_off, sizeof(os_ctl)))
        return KLAW_CORRUPT; /* (the value over the control block: see mpmc.c) */
    chan *c = calloc(1, sizeof *c);
    if (!c)
        return KLAW_NOMEM;
    c->region = r;
    c->ctl = ctl;
    c->data = base + doff;
    c->max_frame = maxf;
    c->liveness_ns = live;
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
    uint64_t doff = round_up(CTL_OFF + sizeof(os_ctl), CACHELINE);
    uint64_t moff = round_up(doff + o->max_frame, CACHELINE);
    uint64_t total = moff + KLAW_META_RESERVE;

    klaw_oneshot_tx *tx = txo ? calloc(1, sizeof *tx) : NULL;
    klaw_oneshot_rx *rx = rxo ? calloc(1, sizeof *rx) : NULL;
    if ((txo && !tx) || (rxo && !rx)) {
        free(tx);
        free(rx);
        return KLAW_NOMEM;
    }
    klaw_region *r;
    klaw_status st = klaw_region_create(o->name, (size_t)total, KLAW_KIND_ONESHOT, o->mode, &r);
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
    ctl->liveness_ns = o->liveness_ns ? o->liveness_ns : DEFAULT_LIVENESS_NS;
    ck_ec32_init(&ctl->ec, 0);
    klaw_proc_id me = klaw_proc_self();
    uint32_t state = 0;
    for (int role = 0; role < 2; role++) {
        bool mine = role == ROLE_TX ? txo != NULL : rxo != NULL;
        if (mine) {
            ctl->roles[role].owner = me;
            atomic_store(&ctl->roles[role].st, R_HELD);
        } else if (!o->name) {
            /* nobody can ever take it: that side is closed from the start */
            atomic_store(&ctl->roles[role].st, R_GONE);
            state |= closed_bit(role);
        }
    }
    atomic_store(&ctl->state, state);
    int e = klaw__robust_mutex_init(&ctl->lock);
    uint64_t mlen = 0;
    st = e != 0 ? KLAW_SYS
                : klaw__meta_write(r, moff, KLAW_CHANNEL_ONESHOT, 1, o->max_frame, KLAW_POLICY_NONE,
                                   o->value_type, &mlen);
    if (st == KLAW_OK) {
        klaw_region_publish(r, moff, mlen, CTL_OFF, sizeof(os_ctl));
        chan *c;
        st = chan_attach(r, &c);
        if (st == KLAW_OK) {
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
    }
    klaw_region_close(r);
    if (o->name)
        klaw_region_unlink(o->name);
    free(tx);
    free(rx);
    return st;
}

static klaw_status open_role(const char *name, int role, chan **out)
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
    st = take_role(c, role);
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
    klaw_status st = open_role(name, ROLE_TX, &tx->c);
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
    klaw_status st = open_role(name, ROLE_RX, &rx->c);
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
        give_role(tx->c, ROLE_TX);
}

void klaw_oneshot_rx_close(klaw_oneshot_rx *rx)
{
    if (rx && !atomic_exchange(&rx->closed, 1))
        give_role(rx->c, ROLE_RX);
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
    if (len)
        memcpy(c->data, data, len);
    atomic_store_explicit(&ctl->len, (uint32_t)len, memory_order_relaxed);
    uint32_t old = atomic_fetch_or_explicit(&ctl->state, S_SENT, memory_order_seq_cst);
    kw_wake_if_waiters(&ctl->ec);
    return (old & S_RX_CLOSED) ? KLAW_CLOSED : KLAW_OK;
}

int klaw_oneshot_is_closed(klaw_oneshot_tx *tx) { return side_gone(tx->c, ROLE_RX); }

/* ---- waiting (both sides) ----------------------------------------------------------- */

typedef struct wait_ctx {
    chan *c;
    int role;              /* the side whose going we watch            */
    uint32_t bits;         /* state bits that end the wait             */
    int64_t next_check_ns; /* the next liveness check                  */
} wait_ctx;

static int wait_pred(const struct ck_ec_wait_state *ws, struct timespec *deadline)
{
    wait_ctx *w = ws->data;
    if (atomic_load_explicit(&w->c->ctl->state, memory_order_acquire) & w->bits)
        return 1;
    int64_t now = (int64_t)ws->now.tv_sec * 1000000000 + ws->now.tv_nsec;
    if (now >= w->next_check_ns) {
        w->next_check_ns = now + (int64_t)w->c->liveness_ns;
        if (side_gone(w->c, w->role))
            return 1;
    }
    time_t rs = (time_t)(w->next_check_ns / 1000000000);
    long rns = (long)(w->next_check_ns % 1000000000);
    if (deadline->tv_sec > rs || (deadline->tv_sec == rs && deadline->tv_nsec > rns)) {
        deadline->tv_sec = rs;
        deadline->tv_nsec = rns;
    }
    return 0;
}

/* Parks until one of `bits` is set, the watched side is found gone, or the
 * deadline: KLAW_TIMEOUT, or KLAW_OK to re-check. */
static klaw_status park(chan *c, int role, uint32_t bits, const struct timespec *deadline)
{
    os_ctl *ctl = c->ctl;
    for (int i = 0; i < SPIN_ITERS; i++) {
        if (atomic_load_explicit(&ctl->state, memory_order_acquire) & bits)
            return KLAW_OK;
        ck_pr_stall();
    }
    wait_ctx w = {c, role, bits, klaw__now_ns() + (int64_t)c->liveness_ns};
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
    for (;;) {
        if (side_gone(tx->c, ROLE_RX))
            return KLAW_OK;
        if (park(tx->c, ROLE_RX, S_RX_CLOSED, deadline) == KLAW_TIMEOUT)
            return side_gone(tx->c, ROLE_RX) ? KLAW_OK : KLAW_TIMEOUT;
    }
}

/* ---- the receiver --------------------------------------------------------------------- */

/* One attempt to take the value (O2, O3). */
static klaw_status take(klaw_oneshot_rx *rx, klaw_frame *f)
{
    chan *c = rx->c;
    os_ctl *ctl = c->ctl;
    if (atomic_load_explicit(&rx->closed, memory_order_relaxed))
        return KLAW_CLOSED;
    uint32_t s = atomic_load_explicit(&ctl->state, memory_order_acquire);
    for (;;) {
        if (s & S_TAKEN)
            return KLAW_CLOSED;
        if (s & S_SENT) {
            if (!atomic_compare_exchange_weak_explicit(&ctl->state, &s, s | S_TAKEN, memory_order_acq_rel,
                                                       memory_order_acquire))
                continue;
            uint32_t len = atomic_load_explicit(&ctl->len, memory_order_relaxed);
            f->data = c->data;
            f->len = len <= c->max_frame ? len : c->max_frame; /* untrusted */
            f->cap = 0;
            f->seq = 0;
            f->slot_ = NULL;
            f->pos_ = 0;
            return KLAW_OK;
        }
        if (s & S_TX_CLOSED)
            return KLAW_CLOSED;
        return KLAW_EMPTY;
    }
}

/* try_ forms: a sender that died is noticed here too, at most once per
 * liveness_ns (the clock read is a vDSO call, not a system call). */
static klaw_status try_take(klaw_oneshot_rx *rx, klaw_frame *f)
{
    klaw_status st = take(rx, f);
    if (st != KLAW_EMPTY)
        return st;
    int64_t now = klaw__now_ns();
    int64_t next = atomic_load_explicit(&rx->next_check_ns, memory_order_relaxed);
    if (now < next)
        return KLAW_EMPTY;
    atomic_store_explicit(&rx->next_check_ns, now + (int64_t)rx->c->liveness_ns, memory_order_relaxed);
    if (!side_gone(rx->c, ROLE_TX))
        return KLAW_EMPTY;
    return take(rx, f);
}

static klaw_status view_wait(klaw_oneshot_rx *rx, const struct timespec *deadline, klaw_frame *f)
{
    for (;;) {
        klaw_status st = take(rx, f);
        if (st != KLAW_EMPTY)
            return st;
        st = park(rx->c, ROLE_TX, S_SENT | S_TX_CLOSED, deadline);
        if (st == KLAW_TIMEOUT) {
            st = take(rx, f);
            return st == KLAW_EMPTY ? KLAW_TIMEOUT : st;
        }
    }
}

klaw_status klaw_oneshot_try_view(klaw_oneshot_rx *rx, klaw_frame *f) { return try_take(rx, f); }

klaw_status klaw_oneshot_view(klaw_oneshot_rx *rx, const struct timespec *deadline, klaw_frame *f)
{
    return view_wait(rx, deadline, f);
}

void klaw_oneshot_release(klaw_oneshot_rx *rx, klaw_frame *f)
{
    (void)f;
    atomic_fetch_or_explicit(&rx->c->ctl->state, S_RELEASED, memory_order_release);
}

static klaw_status copy_out(klaw_oneshot_rx *rx, klaw_status st, klaw_frame *f, void *buf, size_t cap, size_t *len)
{
    if (st != KLAW_OK)
        return st;
    *len = f->len;
    if (f->len > cap) {
        /* give it back: only the taker clears TAKEN */
        atomic_fetch_and_explicit(&rx->c->ctl->state, ~(uint32_t)S_TAKEN, memory_order_acq_rel);
        return KLAW_TOOBIG;
    }
    if (f->len)
        memcpy(buf, f->data, f->len);
    klaw_oneshot_release(rx, f);
    return KLAW_OK;
}

klaw_status klaw_oneshot_try_recv(klaw_oneshot_rx *rx, void *buf, size_t cap, size_t *len)
{
    klaw_frame f;
    *len = 0;
    return copy_out(rx, try_take(rx, &f), &f, buf, cap, len);
}

klaw_status klaw_oneshot_recv(klaw_oneshot_rx *rx, void *buf, size_t cap, size_t *len,
                              const struct timespec *deadline)
{
    klaw_frame f;
    *len = 0;
    return copy_out(rx, view_wait(rx, deadline, &f), &f, buf, cap, len);
}

/* ---- stats --------------------------------------------------------------------------- */

static klaw_status stats(chan *c, klaw_oneshot_stats *out)
{
    memset(out, 0, sizeof *out);
    side_gone(c, ROLE_TX);
    side_gone(c, ROLE_RX);
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
    out->sender_held = atomic_load(&ctl->roles[ROLE_TX].st) == R_HELD;
    out->receiver_held = atomic_load(&ctl->roles[ROLE_RX].st) == R_HELD;
    return KLAW_OK;
}

klaw_status klaw_oneshot_tx_stats(klaw_oneshot_tx *tx, klaw_oneshot_stats *out) { return stats(tx->c, out); }
klaw_status klaw_oneshot_rx_stats(klaw_oneshot_rx *rx, klaw_oneshot_stats *out) { return stats(rx->c, out); }

/* ---- select -------------------------------------------------------------------------- */

static klaw_status sel_try_take(void *rx, klaw_sel_result *out)
{
    klaw_status st = try_take(rx, &out->frame);
    out->status = st;
    return st;
}

static klaw_status sel_release(void *rx, klaw_frame *f)
{
    klaw_oneshot_release(rx, f);
    return KLAW_OK;
}

static void sel_maintain(void *rxv)
{
    klaw_oneshot_rx *rx = rxv;
    side_gone(rx->c, ROLE_TX);
}

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
    free(c); /* the region stays the caller's */
    return st;
}
