/*
 * peer_pipe.c - the kernel's way of moving frames between processes, as
 * peers of the mpmc suite: a pipe, and a Unix-domain socketpair of type
 * SOCK_SEQPACKET.
 *
 * What they do per frame: the producer writes the frame into its own
 * buffer, then write()s it (batched rows: 32 frames written into the buffer,
 * then one write() of all of them); the kernel copies it into the pipe or
 * socket buffer, and a consumer's read() copies it out into the consumer's
 * buffer, where it is checked. Two copies and (unbatched) two system calls
 * per frame; both sides block in the kernel when there is nothing to do.
 * Buffers are the kernel's defaults (a 64 KiB pipe; the socket's default
 * send buffer).
 *
 * Framing: a SOCK_SEQPACKET socket keeps every write() one message, and a
 * read() returns exactly one, so any number of producers and consumers
 * share it with frames intact. A pipe is a byte stream: one consumer
 * reassembles frames from what it reads; several consumers can share it
 * only when every write() is atomic (at most PIPE_BUF = 4096 bytes, so no
 * other producer's bytes land inside it) and a multiple of the frame size,
 * so every read() of a multiple of the frame size ends on a frame boundary
 * (a read that does not fails the case). 32 frames of 1 KiB are 32 KiB, so
 * that row is skipped for a pipe with two producers.
 *
 * The end: each producer closes its write end when done (with threads,
 * which share one descriptor, the last producer closes it); a consumer
 * stops at end of file.
 */
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "peer_mpmc.h"

typedef struct pp_state {
    mpmc_case k;
    bool socket;
    int rfd, wfd;
    _Atomic uint32_t producers_left; /* threads: the last one closes wfd */
} pp_state;

static const char *pipe_cannot(const mpmc_case *k)
{
    if (k->consumers > 1 && (size_t)k->batch * k->frame_bytes > PIPE_BUF)
        return "a pipe write of more than PIPE_BUF (4096) bytes is not atomic, so with two producers their "
               "frames could interleave";
    return NULL;
}

static void *pp_setup(const mpmc_case *k, char *err, bool socket)
{
    int fds[2];
    int rc = socket ? socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) : pipe(fds);
    if (rc != 0) {
        snprintf(err, MPMC_ERR, "%s: %s", socket ? "socketpair" : "pipe", strerror(errno));
        return NULL;
    }
    pp_state *st = bench_shared_alloc(sizeof *st);
    st->k = *k;
    st->socket = socket;
    /* a pipe: [0] reads, [1] writes; a socketpair: either; we write [1] */
    st->rfd = fds[0];
    st->wfd = fds[1];
    atomic_store(&st->producers_left, k->producers);
    return st;
}

static void *pipe_setup(const mpmc_case *k, char *err) { return pp_setup(k, err, false); }
static void *socket_setup(const mpmc_case *k, char *err) { return pp_setup(k, err, true); }

static void *pp_attach(void *sv, bool producer, unsigned id, char *err)
{
    pp_state *st = sv;
    (void)id;
    (void)err;
    if (st->k.process) /* a child keeps only its own end */
        close(producer ? st->rfd : st->wfd);
    return st;
}

static void pp_attached(void *sv)
{
    pp_state *st = sv;
    if (st->k.process) {
        close(st->rfd);
        close(st->wfd);
    }
}

static void *buffer(size_t n)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, n) != 0)
        return NULL;
    memset(p, 0, n); /* fault it in before the clock starts */
    return p;
}

static int pp_produce(void *sv, void *w, unsigned id, uint64_t n, char *err)
{
    pp_state *st = sv;
    (void)w;
    const uint32_t fb = st->k.frame_bytes, batch = st->k.batch;
    uint8_t *buf = buffer((size_t)batch * fb);
    int rc = 0;
    if (!buf) {
        snprintf(err, MPMC_ERR, "out of memory");
        rc = -1;
        n = 0;
    }
    for (uint64_t c = 1; c <= n;) {
        uint32_t g = n - c + 1 < batch ? (uint32_t)(n - c + 1) : batch;
        for (uint32_t i = 0; i < g; i++)
            mpmc_frame_write(buf + (size_t)i * fb, fb, id, c + i);
        size_t len = (size_t)g * fb, off = 0;
        while (off < len) {
            ssize_t m = write(st->wfd, buf + off, len - off);
            if (m < 0 && errno == EINTR)
                continue;
            if (m <= 0) {
                snprintf(err, MPMC_ERR, "write: %s", m < 0 ? strerror(errno) : "wrote nothing");
                rc = -1;
                goto out;
            }
            /* a SEQPACKET message is all or nothing: never a partial one */
            off += (size_t)m;
        }
        c += g;
    }
out:
    free(buf);
    if (st->k.process || atomic_fetch_sub(&st->producers_left, 1) == 1)
        close(st->wfd);
    return rc;
}

static int pp_consume(void *sv, void *w, mpmc_check *chk, char *err)
{
    pp_state *st = sv;
    (void)w;
    const uint32_t fb = st->k.frame_bytes;
    const size_t cap = (size_t)st->k.batch * fb;
    /* one consumer of a pipe reassembles: room for a partial frame too */
    const bool reassemble = !st->socket && st->k.consumers == 1;
    uint8_t *buf = buffer(reassemble ? cap + fb : cap);
    size_t have = 0;
    int rc = 0;
    if (!buf) {
        snprintf(err, MPMC_ERR, "out of memory");
        return -1;
    }
    for (;;) {
        ssize_t m = read(st->rfd, buf + have, cap);
        if (m < 0 && errno == EINTR)
            continue;
        if (m < 0) {
            snprintf(err, MPMC_ERR, "read: %s", strerror(errno));
            rc = -1;
            break;
        }
        if (m == 0) {
            if (have) {
                snprintf(err, MPMC_ERR, "end of file inside a frame (%zu bytes left)", have);
                rc = -1;
            }
            break;
        }
        have += (size_t)m;
        size_t whole = have / fb * fb;
        if (whole != have && !reassemble) {
            snprintf(err, MPMC_ERR, "a read returned %zd bytes, not a whole number of %u-byte frames", m, fb);
            rc = -1;
            break;
        }
        for (size_t off = 0; off < whole; off += fb)
            mpmc_check_frame(chk, buf + off, fb);
        have -= whole;
        if (have)
            memmove(buf, buf + whole, have);
    }
    free(buf);
    if (!st->k.process)
        return rc;
    close(st->rfd);
    return rc;
}

static void pp_teardown(void *sv)
{
    pp_state *st = sv;
    if (!st->k.process) /* threads: wfd was closed by the last producer */
        close(st->rfd);
    bench_shared_free(st);
}

const mpmc_impl mpmc_peer_pipe = {
    .name = "pipe",
    .cannot = pipe_cannot,
    .setup = pipe_setup,
    .attach = pp_attach,
    .attached = pp_attached,
    .produce = pp_produce,
    .consume = pp_consume,
    .teardown = pp_teardown,
};

const mpmc_impl mpmc_peer_socket = {
    .name = "unix_socket",
    .cannot = NULL,
    .setup = socket_setup,
    .attach = pp_attach,
    .attached = pp_attached,
    .produce = pp_produce,
    .consume = pp_consume,
    .teardown = pp_teardown,
};
