/*
 * select.c - wait on receivers of any kind and take from exactly one (see
 * klaw/select.h).
 *
 * Select keeps no shared state of its own: every case is a receiver whose
 * kind gives a klaw_sel_src (channels/select_impl.h) - a non-blocking
 * try_take() that either takes one item or takes nothing, and the ck_ec32
 * event count that is bumped whenever try_take's answer may change from
 * EMPTY. Everything lock-free lives in the kinds; what select adds is the
 * order in which it asks them and how it sleeps on several counts at once.
 *
 * ---- Invariants ------------------------------------------------------------
 *
 *   S1  Exactly one take per call. try_take() is called at most once per
 *       case per scan, and a scan returns at the first case that gave OK
 *       (a view), LAGGED (a count) or an error; nothing is taken from the
 *       cases it did not reach, and what it took is handed to the caller.
 *       So a call takes from exactly one case, or from none (TIMEOUT,
 *       CLOSED, an error), and no frame is taken and dropped.
 *   S2  CLOSED never beats data. A case that answers CLOSED is only noted;
 *       the scan goes on, and the first CLOSED case (in scan order) wins
 *       only when the whole scan found nothing to take.
 *   S3  Fairness. A fair call starts every scan at one index drawn once per
 *       call from a per-thread xorshift generator (no syscall, no shared
 *       cache line); a biased call starts at 0.
 *
 * ---- Waiting (the Dekker pair of channels/wait.h, over n counts) -----------
 *
 *   1. Spin: a bounded number of scans (SPIN_TAKES try_takes in all).
 *   2. Arm: for each distinct count, set its waiter flag with a locked RMW
 *      (a full, seq_cst barrier) and note the word's value; then, once, the
 *      waiter's half of the asymmetric fence (kw_heavy_barrier).
 *   3. Re-check: one more scan, after every count is armed.
 *   4. Sleep: kw_wait_any() on all the armed words at once (futex_waitv on
 *      shared futexes), until the deadline or the next maintenance time.
 *   5. Back to 2.
 *
 * A sender publishes (a seq_cst store or RMW, or with asymmetric fences a
 * release store) and only then reads the waiter flag of its count
 * (kw_wake_if_waiters). Our flag RMWs and the barrier after them order
 * every flag before the re-check, so for every case either the sender's
 * flag load sees our flag and bumps the count - the word no longer holds
 * the armed value, so futex_waitv returns at once or is woken - or our
 * scan in step 3 sees its change. No wake-up is lost, however many counts
 * we watch.
 * Several cases may share a count (two receivers of one channel): the words
 * are deduplicated by address before futex_waitv.
 *
 * Liveness: before it first sleeps, and then whenever the earliest of its
 * cases' channels' liveness clocks is due (channels/lifecycle.h: the clock
 * is the channel's, not this call's), select calls each distinct receiver's
 * maintain(), which reaps when that channel is due. So a case whose peer
 * died (a claim never committed) is recovered as the kind's own blocking
 * receive would recover it - also by a caller that selects in short
 * slices, each of which parks once.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <ck_pr.h>

#include "klaw/select.h"
#include "select_impl.h"
#include "wait.h"

#define SEL_MAX KLAW_SELECT_MAX
#define SPIN_TAKES 256u /* try_take calls spent spinning before parking */

/*
 * The kinds' fillers are weak references, so that a program linked with
 * the static library gets only the kinds it uses (select alone must not
 * drag in the watch and with it liburcu). A program that has a receiver of
 * a kind has linked that kind's object - its filler sits beside the
 * receiver's constructor - so every filler a case can need is there; a
 * kind that is not linked has no receivers, and its cases are KLAW_INVAL.
 */
__attribute__((weak, visibility("hidden"))) klaw_status klaw__mpmc_sel_src(void *rx, klaw_sel_src *out);
__attribute__((weak, visibility("hidden"))) klaw_status klaw__bcast_sel_src(void *rx, klaw_sel_src *out);
__attribute__((weak, visibility("hidden"))) klaw_status klaw__watch_sel_src(void *rx, klaw_sel_src *out);
__attribute__((weak, visibility("hidden"))) klaw_status klaw__oneshot_sel_src(void *rx, klaw_sel_src *out);

typedef klaw_status (*sel_filler)(void *rx, klaw_sel_src *out);

/* Each kind's filler (channels/select_impl.h); NULL when not linked. */
static sel_filler filler_of(klaw_sel_kind kind)
{
    switch (kind) {
    case KLAW_SEL_MPMC:
        return klaw__mpmc_sel_src;
    case KLAW_SEL_BROADCAST:
        return klaw__bcast_sel_src;
    case KLAW_SEL_WATCH:
        return klaw__watch_sel_src;
    case KLAW_SEL_ONESHOT:
        return klaw__oneshot_sel_src;
    }
    return NULL;
}

static klaw_status src_of(const klaw_sel_case *c, klaw_sel_src *s)
{
    sel_filler fill = filler_of(c->kind);
    if (!fill || !c->rx)
        return KLAW_INVAL;
    memset(s, 0, sizeof *s);
    klaw_status st = fill(c->rx, s);
    if (st != KLAW_OK)
        return st;
    return s->try_take && s->ec ? KLAW_OK : KLAW_INVAL;
}

/* ---- the per-thread generator (S3) ---------------------------------------- */

static _Thread_local uint64_t rng_state;
static _Atomic uint64_t rng_seeds;

KLAW_COLD static uint64_t rng_seed(void)
{
    /* splitmix64 of a process-wide counter and this thread's TLS address:
     * distinct threads get distinct streams without asking the kernel */
    uint64_t z = atomic_fetch_add_explicit(&rng_seeds, 0x9e3779b97f4a7c15ull, memory_order_relaxed);
    z ^= (uint64_t)(uintptr_t)&rng_state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return z ? z : 1;
}

/* A uniform index in [0, n) (xorshift64*, then Lemire's multiply-shift). */
static inline size_t rng_below(size_t n)
{
    uint64_t x = rng_state;
    if (KLAW_UNLIKELY(x == 0))
        x = rng_seed();
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    uint32_t r = (uint32_t)((x * 0x2545f4914f6cdd1dull) >> 32);
    return (size_t)(((uint64_t)r * n) >> 32);
}

/* ---- one scan (S1, S2) ------------------------------------------------------ */

/* Asks every case once, from `start` on. KLAW_EMPTY: nothing taken and no
 * case closed. Otherwise *out is the winner and its status is returned. */
static klaw_status scan(const klaw_sel_src *src, size_t n, size_t start, klaw_sel_result *out)
{
    size_t closed_at = SIZE_MAX;
    size_t i = start;
    for (size_t k = 0; k < n; k++) {
        klaw_sel_result r = {.index = i};
        klaw_status st = src[i].try_take(src[i].rx, &r);
        if (KLAW_LIKELY(st == KLAW_EMPTY)) {
            /* nothing taken */
        } else if (st == KLAW_CLOSED) {
            if (closed_at == SIZE_MAX)
                closed_at = i;
        } else {
            r.index = i;
            r.status = st;
            if (st != KLAW_LAGGED)
                r.lagged = 0;
            *out = r;
            return st;
        }
        i = i + 1 == n ? 0 : i + 1;
    }
    if (closed_at != SIZE_MAX) {
        *out = (klaw_sel_result){.index = closed_at, .status = KLAW_CLOSED};
        return KLAW_CLOSED;
    }
    return KLAW_EMPTY;
}

/* ---- parking ---------------------------------------------------------------- */

typedef struct sel_park {
    struct ck_ec32 *ec[SEL_MAX]; /* the distinct counts                    */
    uint32_t armed[SEL_MAX];     /* what each word held when we armed it   */
    size_t m;
    uint64_t liveness_ns; /* the smallest of the cases' (0: none)         */
    bool heavy;           /* a case's publishers may use light stores     */
} sel_park;

static void park_prepare(const klaw_sel_src *src, size_t n, sel_park *p)
{
    p->m = 0;
    p->liveness_ns = 0;
    p->heavy = false;
    for (size_t i = 0; i < n; i++) {
        p->heavy |= src[i].light_publish;
        size_t j = 0;
        while (j < p->m && p->ec[j] != src[i].ec)
            j++;
        if (j == p->m)
            p->ec[p->m++] = src[i].ec;
        uint64_t l = src[i].liveness_ns;
        if (src[i].maintain && l && (p->liveness_ns == 0 || l < p->liveness_ns))
            p->liveness_ns = l;
    }
}

/* Each distinct receiver's maintenance (not each channel's: a kind may
 * keep per-receiver state fresh there, e.g. broadcast's last_seen_at). */
static void park_maintain(const klaw_sel_src *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!src[i].maintain)
            continue;
        size_t k = 0;
        while (k < i && src[k].rx != src[i].rx)
            k++;
        if (k == i)
            src[i].maintain(src[i].rx);
    }
}

/* kw_ec_arm() over every count, with the waiter's half of the asymmetric
 * fence (channels/wait.h) issued once for all of them instead of once per
 * count: it only has to follow every flag and precede the re-check. Each
 * flag is set with a locked RMW (a full barrier, also where the flag was
 * set already), which is what the seq_cst publishers pair with. */
static bool arm_all(sel_park *p)
{
    for (size_t j = 0; j < p->m; j++)
        p->armed[j] = __atomic_fetch_or(&p->ec[j]->counter, KW_EC_FLAG, __ATOMIC_SEQ_CST) | KW_EC_FLAG;
    if (p->heavy) /* only mpmc publishes with light stores */
        return kw_heavy_barrier();
    return true;
}

static inline int64_t add_sat(int64_t t, uint64_t d)
{
    return d >= (uint64_t)(INT64_MAX - t) ? INT64_MAX : t + (int64_t)d;
}

/* The earliest time a case's channel is due for maintain() (at least 1 ms
 * from now, so a clock that another thread moves cannot make us spin). */
static int64_t next_due(const klaw_sel_src *src, size_t n, int64_t now, uint64_t liveness_ns)
{
    int64_t due = add_sat(now, liveness_ns);
    for (size_t i = 0; i < n; i++) {
        if (!src[i].maintain || !src[i].due_ns)
            continue;
        int64_t d = src[i].due_ns(src[i].rx);
        if (d < due)
            due = d;
    }
    return due > now + 1000000 ? due : now + 1000000;
}

KLAW_COLD static klaw_status park(const klaw_sel_src *src, size_t n, size_t start, int64_t deadline_ns,
                                  klaw_sel_result *out)
{
    sel_park p;
    park_prepare(src, n, &p);
    /* maintain before the first sleep: each kind's maintain() acts only
     * when its channel's clock is due, so this is cheap, and a caller that
     * selects in slices shorter than the liveness period still reaps */
    int64_t next_maint = p.liveness_ns ? klaw__now_ns() : INT64_MAX;
    for (;;) {
        bool fenced = arm_all(&p);
        klaw_status st = scan(src, n, start, out);
        if (st != KLAW_EMPTY)
            return st;
        int64_t now = klaw__now_ns();
        if (now >= deadline_ns)
            return KLAW_TIMEOUT; /* the scan after the deadline found nothing */
        if (now >= next_maint) {
            park_maintain(src, n);
            next_maint = next_due(src, n, now, p.liveness_ns);
            continue; /* re-arm and re-check what maintain may have freed */
        }
        int64_t until = deadline_ns < next_maint ? deadline_ns : next_maint;
        if (!fenced && until - now > 1000000) /* a light publisher could miss us: poll */
            until = now + 1000000;
        kw_wait_any(p.ec, p.armed, p.m, until);
    }
}

/* ---- the API ------------------------------------------------------------------ */

/* The deadline in ns; one too far to count in int64 ns (a caller's "never"
 * of {LONG_MAX, 0}) is no deadline rather than an overflow. */
static int64_t deadline_of(const struct timespec *d)
{
    if (d && d->tv_sec >= (time_t)(INT64_MAX / 1000000000 - 1))
        return INT64_MAX;
    return klaw__deadline_ns(d);
}

klaw_status klaw_select(const klaw_sel_case *cases, size_t n, unsigned flags, const struct timespec *deadline,
                        klaw_sel_result *out)
{
    if (!out)
        return KLAW_INVAL;
    *out = (klaw_sel_result){.index = SIZE_MAX, .status = KLAW_INVAL};
    if ((n && !cases) || n > SEL_MAX || (n == 0 && !deadline) ||
        (deadline && (deadline->tv_nsec < 0 || deadline->tv_nsec >= 1000000000)))
        return KLAW_INVAL;
    if (n == 0) {
        /* nothing to wait for: sleep until the deadline, as a timer */
        kw_wait_any(NULL, NULL, 0, deadline_of(deadline));
        out->status = KLAW_TIMEOUT;
        return KLAW_TIMEOUT;
    }
    klaw_sel_src src[SEL_MAX];
    for (size_t i = 0; i < n; i++) {
        klaw_status st = src_of(&cases[i], &src[i]);
        if (st != KLAW_OK) {
            out->index = i;
            out->status = st;
            return st;
        }
    }
    size_t start = (flags & KLAW_SELECT_BIASED) || n == 1 ? 0 : rng_below(n);

    unsigned rounds = SPIN_TAKES / (unsigned)n;
    if (rounds < 2)
        rounds = 2;
    for (unsigned r = 0; r < rounds; r++) {
        klaw_status st = scan(src, n, start, out);
        if (st != KLAW_EMPTY)
            return st;
        ck_pr_stall();
    }
    klaw_status st = park(src, n, start, deadline_of(deadline), out);
    if (st == KLAW_TIMEOUT)
        *out = (klaw_sel_result){.index = SIZE_MAX, .status = KLAW_TIMEOUT};
    return st;
}

klaw_status klaw_sel_release(const klaw_sel_case *cases, klaw_sel_result *r)
{
    if (!cases || !r)
        return KLAW_INVAL;
    if (r->status != KLAW_OK)
        return KLAW_OK;
    klaw_sel_src s;
    klaw_status st = src_of(&cases[r->index], &s);
    if (st != KLAW_OK)
        return st;
    if (!s.release)
        return KLAW_INVAL;
    st = s.release(s.rx, &r->frame);
    /* released once: the result holds nothing now, and a second call is a
     * no-op instead of releasing a slot that may belong to a later frame */
    r->status = KLAW_EMPTY;
    r->frame = (klaw_frame){0};
    return st;
}

/* ---- one descriptor for a select set (channels/fdwait.h) ----------------------
 *
 * The set's socket is the target every case's handle entry is armed with
 * (klaw_sel_src.fd_arm), so a change in any case's channel pokes this one
 * socket. It keeps the union of the cases' channel modes (the last cases
 * array it saw, by address and length, to skip the fstat calls when the
 * set did not change), so every channel's writers may poke it. */
struct klaw_sel_fd {
    klaw__fdw w;
    const klaw_sel_case *last;
    size_t last_n;
    unsigned mode;
};

klaw_status klaw_sel_fd_open(klaw_sel_fd **out)
{
    if (!out)
        return KLAW_INVAL;
    *out = NULL;
    klaw_sel_fd *s = calloc(1, sizeof *s);
    if (!s)
        return KLAW_NOMEM;
    s->mode = 0600;
    if (klaw__fdw_open(&s->w, klaw__fd_new_key(), 0, s->mode) != 0) {
        free(s);
        return KLAW_SYS;
    }
    *out = s;
    return KLAW_OK;
}

int klaw_sel_fd_get(const klaw_sel_fd *s) { return s ? s->w.fd : -1; }

klaw_status klaw_sel_fd_arm(klaw_sel_fd *s, const klaw_sel_case *cases, size_t n, int *timeout_ms)
{
    if (!s || (!cases && n) || n > SEL_MAX)
        return KLAW_INVAL;
    klaw_sel_src src[SEL_MAX];
    for (size_t i = 0; i < n; i++) {
        klaw_status st = src_of(&cases[i], &src[i]);
        if (st == KLAW_OK && !src[i].fd_arm)
            st = KLAW_INVAL;
        if (st != KLAW_OK)
            return st;
    }
    if (cases != s->last || n != s->last_n) {
        unsigned mode = s->mode;
        for (size_t i = 0; i < n; i++)
            mode |= src[i].fd_mode ? src[i].fd_mode(src[i].rx) : 0;
        if (mode != s->mode) {
            char path[108];
            klaw__fd_path(path, sizeof path, s->w.key, s->w.id, s->w.gen);
            chmod(path, mode & 0777);
            s->mode = mode;
        }
        s->last = cases;
        s->last_n = n;
    }
    /* liveness: each receiver's maintenance when its channel is due, and
     * the wait bounded by the earliest clock (as select's own park) */
    int64_t now = klaw__now_ns();
    uint64_t liveness = 0;
    for (size_t i = 0; i < n; i++) {
        if (src[i].maintain && src[i].due_ns && src[i].due_ns(src[i].rx) <= now)
            src[i].maintain(src[i].rx);
        if (src[i].maintain && src[i].liveness_ns && (liveness == 0 || src[i].liveness_ns < liveness))
            liveness = src[i].liveness_ns;
    }
    if (timeout_ms) {
        int64_t due = next_due(src, n, now, liveness ? liveness : 1000000000u);
        int64_t ms = (due - now + 999999) / 1000000;
        *timeout_ms = ms < 1 ? 1 : ms > 60000 ? 60000 : (int)ms;
    }
    klaw__fdw_drain(&s->w);
    int ready = 0, poll = 0;
    for (size_t i = 0; i < n; i++) {
        int r = src[i].fd_arm(src[i].rx, &s->w);
        ready |= r > 0;
        poll |= r < 0;
    }
    if (ready)
        klaw__fdw_poke(&s->w);
    else if (poll && timeout_ms)
        *timeout_ms = 1; /* a light publisher may be missed: poll (wait.h) */
    return KLAW_OK;
}

void klaw_sel_fd_free(klaw_sel_fd *s)
{
    if (!s)
        return;
    klaw__fdw_close(&s->w);
    free(s);
}
