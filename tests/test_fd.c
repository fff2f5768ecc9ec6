/*
 * test_fd.c - pollable descriptors (klaw_<kind>_*_fd / _arm): the event-
 * loop contract of the headers, tried against threads and processes.
 *
 *  - a loop that polls, drains with try_ and re-arms gets every frame,
 *    in order, once, from a writer in another thread and in another
 *    process, and ends with CLOSED; it never sleeps through a frame (each
 *    poll is bounded only by arm's liveness timeout, and the test counts
 *    the polls that timed out while frames were waiting: none may);
 *  - an armed descriptor with nothing to do stays quiet (no busy loop);
 *  - a sender's descriptor says "room" when a receiver frees a slot;
 *  - a producer killed holding a claim is reaped by a loop that only ever
 *    waits on the descriptor (arm's timeout is the liveness clock);
 *  - the socket file goes with the handle: at free, and when its process
 *    is killed, the reaper removes it;
 *  - select over a mix of kinds has one descriptor.
 */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "klaw/klaw.h"

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void sleep_us(long us)
{
    struct timespec d = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&d, NULL);
}

static char name_buf[4][64];

static const char *uniq(int i, const char *what)
{
    snprintf(name_buf[i], sizeof name_buf[i], "tfd-%s-%d", what, (int)getpid());
    klaw_region_unlink(name_buf[i]);
    return name_buf[i];
}

/* How many klaw-fd.* files /dev/shm holds now. */
static int fd_files(void)
{
    DIR *d = opendir("/dev/shm");
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strncmp(e->d_name, "klaw-fd.", 8) == 0;
    closedir(d);
    return n;
}

/* Polls fd for at most ms; 1 readable, 0 timed out. */
static int wait_readable(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r = poll(&p, 1, ms);
    assert_true(r >= 0);
    return r > 0 && (p.revents & POLLIN);
}

/* ---- mpmc: a receiver's loop ----------------------------------------------------------- */

#define N_FRAMES 20000

typedef struct writer_arg {
    klaw_mpmc_tx *tx;
    int n;
    int pace_every; /* a pause every pace_every frames (0: none)        */
} writer_arg;

static void *mpmc_writer(void *p)
{
    writer_arg *a = p;
    for (int i = 0; i < a->n; i++) {
        struct timespec d = klaw_deadline_in_ms(10000);
        assert_int_equal(klaw_mpmc_send(a->tx, &i, sizeof i, &d), KLAW_OK);
        if (a->pace_every && i % a->pace_every == 0)
            sleep_us(200 + (i * 7919) % 800); /* the reader catches up and sleeps */
    }
    klaw_mpmc_tx_close(a->tx); /* the last sender: the loop ends with CLOSED */
    return NULL;
}

/* The loop of klaw/mpmc.h; returns the frames seen (checked in order).
 * *late counts polls that timed out although a frame was there. */
static int mpmc_loop(klaw_mpmc_rx *rx, int *late, int *wakes)
{
    int fd = klaw_mpmc_rx_fd(rx), ms = 0, next = 0;
    assert_true(fd >= 0);
    assert_int_equal(klaw_mpmc_rx_arm(rx, &ms), KLAW_OK);
    assert_true(ms >= 1);
    int64_t t0 = now_ms();
    for (;;) {
        assert_true(now_ms() - t0 < 60000);
        int readable = wait_readable(fd, ms);
        *wakes += readable;
        klaw_frame f;
        klaw_status st;
        int got = 0;
        while ((st = klaw_mpmc_try_view(rx, &f)) == KLAW_OK) {
            int v;
            assert_int_equal(f.len, sizeof v);
            memcpy(&v, f.data, sizeof v);
            assert_int_equal(v, next);
            next++;
            got++;
            assert_int_equal(klaw_mpmc_release(rx, &f), KLAW_OK);
        }
        if (!readable && got)
            (*late)++;
        if (st == KLAW_CLOSED)
            return next;
        assert_int_equal(st, KLAW_EMPTY);
        assert_int_equal(klaw_mpmc_rx_arm(rx, &ms), KLAW_OK);
    }
}

static void mpmc_rx_descriptor_across_threads(void **state)
{
    (void)state;
    klaw_mpmc_opts o = {.capacity = 64, .max_frame = 16};
    klaw_mpmc_tx *tx;
    klaw_mpmc_rx *rx;
    assert_int_equal(klaw_mpmc_create(&o, &tx, &rx), KLAW_OK);
    writer_arg a = {.tx = tx, .n = N_FRAMES, .pace_every = 97};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, mpmc_writer, &a), 0);
    int late = 0, wakes = 0;
    assert_int_equal(mpmc_loop(rx, &late, &wakes), N_FRAMES);
    pthread_join(t, NULL);
    fprintf(stderr, "threads: %d frames, %d wake-ups, %d late\n", N_FRAMES, wakes, late);
    assert_int_equal(late, 0);
    assert_true(wakes > 0);
    klaw_mpmc_tx_free(tx);
    klaw_mpmc_rx_free(rx);
}

static void mpmc_rx_descriptor_across_processes(void **state)
{
    (void)state;
    const char *name = uniq(0, "mp");
    klaw_mpmc_opts o = {.capacity = 64, .max_frame = 16, .name = name};
    assert_int_equal(klaw_mpmc_create(&o, NULL, NULL), KLAW_OK);
    klaw_mpmc_rx *rx;
    assert_int_equal(klaw_mpmc_open_rx(name, &rx), KLAW_OK);
    int before = fd_files();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        klaw_mpmc_tx *tx;
        if (klaw_mpmc_open_tx(name, &tx) != KLAW_OK)
            _exit(2);
        writer_arg a = {.tx = tx, .n = N_FRAMES, .pace_every = 97};
        mpmc_writer(&a);
        klaw_mpmc_tx_free(tx);
        _exit(0);
    }
    int late = 0, wakes = 0;
    assert_int_equal(mpmc_loop(rx, &late, &wakes), N_FRAMES);
    int ws;
    waitpid(pid, &ws, 0);
    assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
    fprintf(stderr, "processes: %d frames, %d wake-ups, %d late\n", N_FRAMES, wakes, late);
    assert_int_equal(late, 0);
    assert_int_equal(fd_files(), before + 1); /* the loop's socket */
    klaw_mpmc_rx_free(rx);
    assert_int_equal(fd_files(), before); /* gone with its handle */
    klaw_region_unlink(name);
}

static void an_armed_descriptor_with_nothing_to_do_stays_quiet(void **state)
{
    (void)state;
    klaw_mpmc_opts o = {.capacity = 4, .max_frame = 16};
    klaw_mpmc_tx *tx;
    klaw_mpmc_rx *rx;
    assert_int_equal(klaw_mpmc_create(&o, &tx, &rx), KLAW_OK);
    int fd = klaw_mpmc_rx_fd(rx);
    assert_int_equal(klaw_mpmc_rx_arm(rx, NULL), KLAW_OK);
    assert_int_equal(wait_readable(fd, 50), 0);
    /* a frame: readable; drained and re-armed: quiet again */
    assert_int_equal(klaw_mpmc_try_send(tx, "x", 1), KLAW_OK);
    assert_int_equal(wait_readable(fd, 1000), 1);
    char b[16];
    size_t n;
    assert_int_equal(klaw_mpmc_try_recv(rx, b, sizeof b, &n), KLAW_OK);
    assert_int_equal(klaw_mpmc_rx_arm(rx, NULL), KLAW_OK);
    assert_int_equal(wait_readable(fd, 50), 0);
    /* a frame already there when arming: readable at once */
    assert_int_equal(klaw_mpmc_try_send(tx, "y", 1), KLAW_OK);
    assert_int_equal(klaw_mpmc_rx_arm(rx, NULL), KLAW_OK);
    assert_int_equal(wait_readable(fd, 0), 1);
    /* not armed: frames make no noise (no system call on the sender's side) */
    assert_int_equal(klaw_mpmc_try_recv(rx, b, sizeof b, &n), KLAW_OK);
    klaw_mpmc_rx_arm(rx, NULL);
    assert_int_equal(klaw_mpmc_try_send(tx, "z", 1), KLAW_OK); /* fires the arming */
    assert_int_equal(wait_readable(fd, 1000), 1);
    char drain[8];
    while (recv(fd, drain, sizeof drain, MSG_DONTWAIT) >= 0) {
    }
    assert_int_equal(klaw_mpmc_try_send(tx, "w", 1), KLAW_OK); /* not re-armed: nothing */
    assert_int_equal(wait_readable(fd, 50), 0);
    klaw_mpmc_tx_free(tx);
    klaw_mpmc_rx_free(rx);
}

static void a_senders_descriptor_says_room(void **state)
{
    (void)state;
    klaw_mpmc_opts o = {.capacity = 2, .max_frame = 16};
    klaw_mpmc_tx *tx;
    klaw_mpmc_rx *rx;
    assert_int_equal(klaw_mpmc_create(&o, &tx, &rx), KLAW_OK);
    assert_int_equal(klaw_mpmc_try_send(tx, "a", 1), KLAW_OK);
    assert_int_equal(klaw_mpmc_try_send(tx, "b", 1), KLAW_OK);
    assert_int_equal(klaw_mpmc_try_send(tx, "c", 1), KLAW_FULL);
    int fd = klaw_mpmc_tx_fd(tx);
    assert_true(fd >= 0);
    assert_int_equal(klaw_mpmc_tx_arm(tx, NULL), KLAW_OK);
    assert_int_equal(wait_readable(fd, 50), 0);
    char b[16];
    size_t n;
    assert_int_equal(klaw_mpmc_try_recv(rx, b, sizeof b, &n), KLAW_OK);
    assert_int_equal(wait_readable(fd, 1000), 1);
    assert_int_equal(klaw_mpmc_try_send(tx, "c", 1), KLAW_OK);
    /* every receiver gone: CLOSED is something to do */
    assert_int_equal(klaw_mpmc_tx_arm(tx, NULL), KLAW_OK);
    assert_int_equal(wait_readable(fd, 50), 0);
    klaw_mpmc_rx_close(rx);
    assert_int_equal(wait_readable(fd, 1000), 1);
    assert_int_equal(klaw_mpmc_try_send(tx, "d", 1), KLAW_CLOSED);
    klaw_mpmc_tx_free(tx);
    klaw_mpmc_rx_free(rx);
    /* a closed handle has no descriptor */
}

/* A producer killed while it holds a claim: the consumer's loop, which
 * only waits on its descriptor, reaps it (arm's timeout is the channel's
 * liveness clock) and gets the next producer's frame. */
static void a_dead_producers_claim_is_reaped_by_a_descriptor_loop(void **state)
{
    (void)state;
    const char *name = uniq(1, "dead");
    klaw_mpmc_opts o = {.capacity = 8, .max_frame = 16, .name = name, .liveness_ns = 200000000};
    assert_int_equal(klaw_mpmc_create(&o, NULL, NULL), KLAW_OK);
    klaw_mpmc_rx *rx;
    klaw_mpmc_tx *tx;
    assert_int_equal(klaw_mpmc_open_rx(name, &rx), KLAW_OK);
    assert_int_equal(klaw_mpmc_open_tx(name, &tx), KLAW_OK);
    int sync[2];
    assert_int_equal(pipe(sync), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        klaw_mpmc_tx *ctx;
        klaw_frame f;
        if (klaw_mpmc_open_tx(name, &ctx) != KLAW_OK || klaw_mpmc_try_claim(ctx, 4, &f) != KLAW_OK)
            _exit(2);
        (void)!write(sync[1], "c", 1);
        pause();
        _exit(0);
    }
    char c;
    assert_int_equal(read(sync[0], &c, 1), 1);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    /* behind the dead claim */
    assert_int_equal(klaw_mpmc_try_send(tx, "live", 4), KLAW_OK);
    int fd = klaw_mpmc_rx_fd(rx), ms = 0;
    int64_t t0 = now_ms();
    int got = 0;
    while (!got && now_ms() - t0 < 10000) {
        assert_int_equal(klaw_mpmc_rx_arm(rx, &ms), KLAW_OK);
        assert_true(ms >= 1 && ms <= 1000);
        wait_readable(fd, ms);
        char b[16];
        size_t n;
        got = klaw_mpmc_try_recv(rx, b, sizeof b, &n) == KLAW_OK;
    }
    fprintf(stderr, "dead claim reaped after %lld ms\n", (long long)(now_ms() - t0));
    assert_true(got);
    close(sync[0]);
    close(sync[1]);
    klaw_mpmc_tx_free(tx);
    klaw_mpmc_rx_free(rx);
    klaw_region_unlink(name);
}

/* A waiter killed while armed: its socket file is removed by the reaper. */
static void a_dead_waiters_socket_is_removed(void **state)
{
    (void)state;
    const char *name = uniq(2, "dw");
    klaw_mpmc_opts o = {.capacity = 8, .max_frame = 16, .name = name, .liveness_ns = 100000000};
    klaw_mpmc_tx *tx;
    assert_int_equal(klaw_mpmc_create(&o, NULL, NULL), KLAW_OK);
    assert_int_equal(klaw_mpmc_open_tx(name, &tx), KLAW_OK);
    int before = fd_files();
    int sync[2];
    assert_int_equal(pipe(sync), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        klaw_mpmc_rx *crx;
        if (klaw_mpmc_open_rx(name, &crx) != KLAW_OK || klaw_mpmc_rx_arm(crx, NULL) != KLAW_OK)
            _exit(2);
        (void)!write(sync[1], "a", 1);
        pause();
        _exit(0);
    }
    char c;
    assert_int_equal(read(sync[0], &c, 1), 1);
    assert_int_equal(fd_files(), before + 1);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    /* a frame wakes nobody alive (the poke finds no one: harmless); the
     * stats call reaps the dead receiver and its socket file */
    klaw_mpmc_try_send(tx, "x", 1);
    klaw_mpmc_stats s;
    assert_int_equal(klaw_mpmc_tx_stats(tx, &s), KLAW_OK);
    assert_int_equal(fd_files(), before);
    close(sync[0]);
    close(sync[1]);
    klaw_mpmc_tx_free(tx);
    klaw_region_unlink(name);
}

/* ---- broadcast ---------------------------------------------------------------------------- */

typedef struct bwriter {
    klaw_bcast_tx *tx;
    int n;
} bwriter;

static void *bcast_writer(void *p)
{
    bwriter *a = p;
    for (int i = 0; i < a->n; i++) {
        struct timespec d = klaw_deadline_in_ms(10000);
        assert_int_equal(klaw_bcast_send(a->tx, &i, sizeof i, &d), KLAW_OK);
        if (i % 97 == 0)
            sleep_us(300);
    }
    klaw_bcast_tx_close(a->tx);
    return NULL;
}

static void broadcast_rx_descriptor_gets_every_frame_then_closed(void **state)
{
    (void)state;
    klaw_bcast_opts o = {.capacity = 64, .max_frame = 16, .policy = KLAW_POLICY_BLOCK};
    klaw_bcast_tx *tx;
    klaw_bcast_rx *rx;
    assert_int_equal(klaw_bcast_create(&o, &tx), KLAW_OK);
    assert_int_equal(klaw_bcast_subscribe(tx, KLAW_BCAST_FROM_TAIL, "loop", &rx), KLAW_OK);
    bwriter a = {.tx = tx, .n = N_FRAMES};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, bcast_writer, &a), 0);
    int fd = klaw_bcast_rx_fd(rx), ms = 0, next = 0, late = 0;
    assert_true(fd >= 0);
    assert_int_equal(klaw_bcast_rx_arm(rx, &ms), KLAW_OK);
    int64_t t0 = now_ms();
    for (;;) {
        assert_true(now_ms() - t0 < 60000);
        int readable = wait_readable(fd, ms), got = 0;
        klaw_frame f;
        klaw_status st;
        uint64_t lag = 0;
        while ((st = klaw_bcast_try_view(rx, &f, &lag)) == KLAW_OK) {
            int v;
            memcpy(&v, f.data, sizeof v);
            assert_int_equal(v, next);
            next++;
            got++;
            assert_int_equal(klaw_bcast_release(rx, &f), KLAW_OK);
        }
        late += !readable && got;
        if (st == KLAW_CLOSED)
            break;
        assert_int_equal(st, KLAW_EMPTY);
        assert_int_equal(klaw_bcast_rx_arm(rx, &ms), KLAW_OK);
    }
    pthread_join(t, NULL);
    assert_int_equal(next, N_FRAMES);
    assert_int_equal(late, 0);
    klaw_bcast_tx_free(tx);
    klaw_bcast_rx_free(rx);
}

/* A BLOCK writer's descriptor: readable when the slowest receiver has
 * freed room. */
static void broadcast_block_writer_descriptor_says_room(void **state)
{
    (void)state;
    klaw_bcast_opts o = {.capacity = 8, .max_frame = 16, .policy = KLAW_POLICY_BLOCK};
    klaw_bcast_tx *tx;
    klaw_bcast_rx *rx;
    assert_int_equal(klaw_bcast_create(&o, &tx), KLAW_OK);
    assert_int_equal(klaw_bcast_subscribe(tx, KLAW_BCAST_FROM_TAIL, "slow", &rx), KLAW_OK);
    int sent = 0;
    while (klaw_bcast_try_send(tx, "x", 1) == KLAW_OK)
        sent++;
    assert_int_equal(sent, 8);
    int fd = klaw_bcast_tx_fd(tx);
    assert_true(fd >= 0);
    assert_int_equal(klaw_bcast_tx_arm(tx, NULL), KLAW_OK);
    assert_int_equal(wait_readable(fd, 50), 0);
    klaw_frame f;
    uint64_t lag;
    for (int i = 0; i < 6; i++) { /* past half the ring: the writer is woken */
        assert_int_equal(klaw_bcast_try_view(rx, &f, &lag), KLAW_OK);
        assert_int_equal(klaw_bcast_release(rx, &f), KLAW_OK);
    }
    assert_int_equal(wait_readable(fd, 1000), 1);
    assert_int_equal(klaw_bcast_try_send(tx, "y", 1), KLAW_OK);
    klaw_bcast_tx_free(tx);
    klaw_bcast_rx_free(rx);
}

/* ---- watch and oneshot ---------------------------------------------------------------------- */

static void watch_and_oneshot_descriptors(void **state)
{
    (void)state;
    klaw_watch_opts wo = {.max_frame = 16};
    klaw_watch_tx *wtx;
    klaw_watch_rx *wrx;
    assert_int_equal(klaw_watch_create(&wo, &wtx, &wrx), KLAW_OK);
    int wfd = klaw_watch_rx_fd(wrx);
    assert_true(wfd >= 0);
    assert_int_equal(klaw_watch_rx_arm(wrx, NULL), KLAW_OK);
    assert_int_equal(wait_readable(wfd, 50), 0);
    assert_int_equal(klaw_watch_send(wtx, "v1", 2, NULL), KLAW_OK);
    assert_int_equal(wait_readable(wfd, 1000), 1);
    char b[16];
    size_t n;
    uint64_t ver;
    assert_int_equal(klaw_watch_get_and_update(wrx, b, sizeof b, &n, &ver), KLAW_OK);
    assert_int_equal(klaw_watch_rx_arm(wrx, NULL), KLAW_OK);
    assert_int_equal(wait_readable(wfd, 50), 0); /* seen: quiet */
    klaw_watch_tx_close(wtx);                    /* every sender gone */
    assert_int_equal(wait_readable(wfd, 1000), 1);

    klaw_oneshot_opts oo = {.max_frame = 16};
    klaw_oneshot_tx *otx;
    klaw_oneshot_rx *orx;
    assert_int_equal(klaw_oneshot_create(&oo, &otx, &orx), KLAW_OK);
    int ofd = klaw_oneshot_rx_fd(orx);
    assert_int_equal(klaw_oneshot_rx_arm(orx, NULL), KLAW_OK);
    assert_int_equal(wait_readable(ofd, 50), 0);
    assert_int_equal(klaw_oneshot_send(otx, "done", 4), KLAW_OK);
    assert_int_equal(wait_readable(ofd, 1000), 1);
    assert_int_equal(klaw_oneshot_try_recv(orx, b, sizeof b, &n), KLAW_OK);
    assert_int_equal(n, 4);
    klaw_watch_tx_free(wtx);
    klaw_watch_rx_free(wrx);
    klaw_oneshot_tx_free(otx);
    klaw_oneshot_rx_free(orx);
}

/* ---- select: one descriptor for the set ----------------------------------------------------- */

typedef struct mix {
    klaw_mpmc_tx *m;
    klaw_bcast_tx *b;
    klaw_watch_tx *w;
    klaw_oneshot_tx *o;
    int n;
} mix;

static void *mix_writer(void *p)
{
    mix *x = p;
    for (int i = 0; i < x->n; i++) {
        struct timespec d = klaw_deadline_in_ms(10000);
        assert_int_equal(klaw_mpmc_send(x->m, &i, sizeof i, &d), KLAW_OK);
        assert_int_equal(klaw_bcast_send(x->b, &i, sizeof i, &d), KLAW_OK);
        if (i % 50 == 0) {
            assert_int_equal(klaw_watch_send(x->w, &i, sizeof i, NULL), KLAW_OK);
            sleep_us(500);
        }
    }
    assert_int_equal(klaw_oneshot_send(x->o, "end", 3), KLAW_OK);
    return NULL;
}

static void select_has_one_descriptor_for_a_mix_of_kinds(void **state)
{
    (void)state;
    klaw_mpmc_opts mo = {.capacity = 32, .max_frame = 16};
    klaw_bcast_opts bo = {.capacity = 32, .max_frame = 16, .policy = KLAW_POLICY_BLOCK};
    klaw_watch_opts wo = {.max_frame = 16};
    klaw_oneshot_opts oo = {.max_frame = 16};
    mix x = {.n = 5000};
    klaw_mpmc_rx *mrx;
    klaw_bcast_rx *brx;
    klaw_watch_rx *wrx;
    klaw_oneshot_rx *orx;
    assert_int_equal(klaw_mpmc_create(&mo, &x.m, &mrx), KLAW_OK);
    assert_int_equal(klaw_bcast_create(&bo, &x.b), KLAW_OK);
    assert_int_equal(klaw_bcast_subscribe(x.b, KLAW_BCAST_FROM_TAIL, "sel", &brx), KLAW_OK);
    assert_int_equal(klaw_watch_create(&wo, &x.w, &wrx), KLAW_OK);
    assert_int_equal(klaw_oneshot_create(&oo, &x.o, &orx), KLAW_OK);
    klaw_sel_case cases[4] = {{KLAW_SEL_MPMC, mrx}, {KLAW_SEL_BROADCAST, brx}, {KLAW_SEL_WATCH, wrx},
                              {KLAW_SEL_ONESHOT, orx}};
    klaw_sel_fd *sf;
    assert_int_equal(klaw_sel_fd_open(&sf), KLAW_OK);
    int fd = klaw_sel_fd_get(sf), ms = 0;
    assert_true(fd >= 0);
    assert_int_equal(klaw_sel_fd_arm(sf, cases, 4, &ms), KLAW_OK);
    assert_int_equal(wait_readable(fd, 50), 0); /* nothing yet: quiet */
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, mix_writer, &x), 0);
    int next_m = 0, next_b = 0, versions = 0, done = 0, late = 0;
    int64_t t0 = now_ms();
    while (!done) {
        assert_true(now_ms() - t0 < 60000);
        int readable = wait_readable(fd, ms), got = 0;
        klaw_sel_result r;
        struct timespec now = klaw_deadline_in_ms(0);
        while (klaw_select(cases, 4, 0, &now, &r) != KLAW_TIMEOUT) {
            assert_int_equal(r.status, KLAW_OK);
            got++;
            int v = 0;
            if (r.index < 3)
                memcpy(&v, r.frame.data, sizeof v);
            if (r.index == 0)
                assert_int_equal(v, next_m++);
            else if (r.index == 1)
                assert_int_equal(v, next_b++);
            else if (r.index == 2)
                versions++;
            else
                done = 1;
            klaw_sel_release(cases, &r);
            if (done)
                break;
        }
        late += !readable && got;
        assert_int_equal(klaw_sel_fd_arm(sf, cases, 4, &ms), KLAW_OK);
    }
    pthread_join(t, NULL);
    /* the oneshot comes last from the writer; whatever is left is there */
    klaw_sel_result r;
    struct timespec now = klaw_deadline_in_ms(0);
    while (klaw_select(cases, 3, 0, &now, &r) == KLAW_OK) {
        int v;
        memcpy(&v, r.frame.data, sizeof v);
        if (r.index == 0)
            assert_int_equal(v, next_m++);
        else if (r.index == 1)
            assert_int_equal(v, next_b++);
        klaw_sel_release(cases, &r);
    }
    fprintf(stderr, "select: mpmc %d, broadcast %d, watch versions %d, late %d\n", next_m, next_b, versions, late);
    assert_int_equal(next_m, x.n);
    assert_int_equal(next_b, x.n);
    assert_true(versions >= 1);
    assert_int_equal(late, 0);
    klaw_sel_fd_free(sf);
    klaw_mpmc_tx_free(x.m);
    klaw_mpmc_rx_free(mrx);
    klaw_bcast_tx_free(x.b);
    klaw_bcast_rx_free(brx);
    klaw_watch_tx_free(x.w);
    klaw_watch_rx_free(wrx);
    klaw_oneshot_tx_free(x.o);
    klaw_oneshot_rx_free(orx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(an_armed_descriptor_with_nothing_to_do_stays_quiet),
        cmocka_unit_test(a_senders_descriptor_says_room),
        cmocka_unit_test(mpmc_rx_descriptor_across_threads),
        cmocka_unit_test(mpmc_rx_descriptor_across_processes),
        cmocka_unit_test(a_dead_producers_claim_is_reaped_by_a_descriptor_loop),
        cmocka_unit_test(a_dead_waiters_socket_is_removed),
        cmocka_unit_test(broadcast_rx_descriptor_gets_every_frame_then_closed),
        cmocka_unit_test(broadcast_block_writer_descriptor_says_room),
        cmocka_unit_test(watch_and_oneshot_descriptors),
        cmocka_unit_test(select_has_one_descriptor_for_a_mix_of_kinds),
    };
    if (getenv("KLAW_TEST_FILTER"))
        cmocka_set_test_filter(getenv("KLAW_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
