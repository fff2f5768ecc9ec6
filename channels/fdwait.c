/*
 * fdwait.c - pollable descriptors: the waiter's socket, arming, and the
 * waker's scan (channels/fdwait.h says what and why).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "fdwait.h"
#include "wait.h"

#define FD_DIR "/dev/shm"

void klaw__fd_path(char *buf, size_t n, uint64_t key, uint32_t id, uint32_t gen)
{
    snprintf(buf, n, FD_DIR "/klaw-fd.%016llx.%u.%u", (unsigned long long)key, id, gen);
}

uint64_t klaw__fd_new_key(void)
{
    uint64_t k = 0;
    if (getrandom(&k, sizeof k, GRND_NONBLOCK) != (ssize_t)sizeof k) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        k = (uint64_t)t.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid() << 32 ^ (uint64_t)t.tv_sec;
    }
    return k ? k : 1;
}

static int addr_of(struct sockaddr_un *a, uint64_t key, uint32_t id, uint32_t gen)
{
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    klaw__fd_path(a->sun_path, sizeof a->sun_path, key, id, gen);
    return (int)(offsetof(struct sockaddr_un, sun_path) + strlen(a->sun_path) + 1);
}

int klaw__fdw_open(klaw__fdw *w, uint64_t key, uint32_t id, mode_t mode)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    uint32_t gen = (uint32_t)klaw__fd_new_key();
    for (int tries = 0; tries < 16; tries++, gen++) {
        if (gen == 0)
            gen = 1; /* 0 means "no socket" */
        struct sockaddr_un a;
        int len = addr_of(&a, key, id, gen);
        if (bind(fd, (struct sockaddr *)&a, (socklen_t)len) == 0) {
            if (mode)
                chmod(a.sun_path, mode & 0777); /* writers of the channel may poke it */
            w->fd = fd;
            w->pid = getpid();
            w->key = key;
            w->id = id;
            w->gen = gen;
            return 0;
        }
        if (errno != EADDRINUSE)
            break;
    }
    int e = errno;
    close(fd);
    errno = e;
    return -1;
}

void klaw__fdw_close(klaw__fdw *w)
{
    if (!w->gen)
        return;
    char path[108];
    klaw__fd_path(path, sizeof path, w->key, w->id, w->gen);
    if (w->pid == getpid()) /* not a fork child's copy: the file is ours */
        unlink(path);
    close(w->fd);
    w->fd = -1;
    w->gen = 0;
}

void klaw__fdw_drain(const klaw__fdw *w)
{
    if (!w->gen)
        return;
    char b[8];
    while (recv(w->fd, b, sizeof b, MSG_DONTWAIT) >= 0) {
    }
}

/* The socket this process pokes from (one for every channel; made once). */
static _Atomic int poke_fd = -1;

static int poker(void)
{
    int fd = atomic_load_explicit(&poke_fd, memory_order_acquire);
    if (fd >= 0)
        return fd;
    int mine = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (mine < 0)
        return -1;
    int expected = -1;
    if (!atomic_compare_exchange_strong(&poke_fd, &expected, mine)) {
        close(mine); /* another thread made it first */
        return expected;
    }
    return mine;
}

static void poke(uint64_t key, uint32_t id, uint32_t gen)
{
    int fd = poker();
    if (fd < 0)
        return;
    struct sockaddr_un a;
    int len = addr_of(&a, key, id, gen);
    /* EAGAIN: its queue is full, so it is readable already; ECONNREFUSED,
     * ENOENT: its process is gone - nothing to do either way */
    (void)sendto(fd, "", 0, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&a, (socklen_t)len);
}

void klaw__fdw_poke(const klaw__fdw *w)
{
    if (w->gen)
        poke(w->key, w->id, w->gen);
}

/* ---- in the channel's handle table ------------------------------------------- */

void klaw__life_fd_arm(klaw__life *L, uint32_t idx, const klaw__fdw *w, uint32_t events)
{
    klaw__life_ent *e = klaw__life_ent_at(L, idx);
    /* the target, then F1, then armed: a waker that sees armed (or the
     * flag set after it) sees all of it */
    atomic_store_explicit(&e->fd_key, w->key, memory_order_relaxed);
    atomic_store_explicit(&e->fd_id, w->id, memory_order_relaxed);
    atomic_store_explicit(&e->fd_gen, w->gen, memory_order_relaxed);
    uint32_t hwm = atomic_load(&L->s->fd_hwm);
    while (hwm < idx + 1 && !atomic_compare_exchange_weak(&L->s->fd_hwm, &hwm, idx + 1)) {
    }
    atomic_store_explicit(&e->fd_armed, events, memory_order_seq_cst);
}

void klaw__life_fd_disarm(klaw__life *L, uint32_t idx)
{
    atomic_store_explicit(&klaw__life_ent_at(L, idx)->fd_armed, 0, memory_order_seq_cst);
}

void klaw__life_fd_wake(klaw__life *L, uint32_t event)
{
    uint32_t n = atomic_load_explicit(&L->s->fd_hwm, memory_order_seq_cst);
    if (n > L->max_handles)
        n = L->max_handles; /* hostile: the table's end */
    for (uint32_t i = 0; i < n; i++) {
        klaw__life_ent *e = &L->ents[i];
        uint32_t a = atomic_load_explicit(&e->fd_armed, memory_order_acquire);
        if (a == 0 || (event != KLAW__FD_ALL && !(a & (1u << event))))
            continue;
        if (!atomic_compare_exchange_strong(&e->fd_armed, &a, 0))
            continue; /* fired by another waker (F2), or re-armed */
        poke(atomic_load_explicit(&e->fd_key, memory_order_relaxed),
             atomic_load_explicit(&e->fd_id, memory_order_relaxed),
             atomic_load_explicit(&e->fd_gen, memory_order_relaxed));
    }
}

void klaw__life_fd_retire(klaw__life *L, uint32_t idx, int dead)
{
    klaw__life_ent *e = klaw__life_ent_at(L, idx);
    atomic_store(&e->fd_armed, 0);
    uint32_t gen = atomic_exchange(&e->fd_gen, 0);
    if (dead && gen) {
        char path[108];
        klaw__fd_path(path, sizeof path, atomic_load(&e->fd_key), atomic_load(&e->fd_id), gen);
        unlink(path); /* F4: the dead waiter's socket file */
    }
}

int klaw__life_fd_timeout(klaw__life *L)
{
    int64_t now = klaw__now_ns();
    klaw__life_maybe_reap(L, now);
    int64_t due = atomic_load_explicit(&L->next_reap_ns, memory_order_relaxed);
    int64_t ms = (due - now + 999999) / 1000000;
    if (ms < 1)
        ms = 1;
    if (ms > 60000)
        ms = 60000;
    return (int)ms;
}

/* ---- the wakers' slow paths (wait.h) ------------------------------------------ */

void klaw__wake_fd(struct ck_ec32 *ec, klaw__life *L, uint32_t event)
{
    ck_ec32_inc(ec, &klaw__ec_mode);
    klaw__life_fd_maybe_wake(L, event);
}

klaw_status klaw__wake_ok_fd(struct ck_ec32 *ec, klaw__life *L, uint32_t event)
{
    klaw__wake_fd(ec, L, event);
    return KLAW_OK;
}

void klaw__wake_all_fd(struct ck_ec32 *ec, klaw__life *L, uint32_t event)
{
    ck_ec32_inc(ec, &klaw__ec_mode);
    klaw__life_fd_maybe_wake(L, event);
}

/* ---- a handle's descriptor (every kind) ------------------------------------------ */

int klaw__fd_handle(klaw__life *L, uint32_t idx, klaw__fdw *w, const klaw_region *r)
{
    if (w->gen && w->pid != getpid()) {
        /* a fork child's copy of its parent's handle: the socket (and the
         * handle) are the parent's - arming here would steal its wake-ups */
        errno = EBADF;
        return -1;
    }
    if (!w->gen && klaw__fdw_open(w, L->s->fd_key /* config: written before READY */, idx,
                                  (mode_t)klaw__region_mode(r)) != 0)
        return -1;
    return w->fd;
}

klaw_status klaw__fd_arm_begin(klaw__life *L, uint32_t idx, klaw__fdw *w, const klaw_region *r, int *timeout_ms)
{
    if (klaw__fd_handle(L, idx, w, r) < 0)
        return KLAW_SYS;
    int ms = klaw__life_fd_timeout(L); /* reaps when due */
    if (timeout_ms)
        *timeout_ms = ms;
    klaw__fdw_drain(w);
    return KLAW_OK;
}

void klaw__fd_handle_close(klaw__life *L, uint32_t idx, klaw__fdw *w, bool owned)
{
    if (!w->gen)
        return;
    if (owned)
        klaw__life_fd_disarm(L, idx);
    klaw__fdw_close(w);
}
