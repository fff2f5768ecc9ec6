/*
 * nats_test_util.h - what the libklaw-nats tests share (test_nats.c,
 * test_nats_js.c): a nats-server of their own on 127.0.0.1 (a free port,
 * stopped by pid; without nats-server installed the test fails, loudly),
 * unique channel names, and frames checkable byte by byte. Include after
 * cmocka.h, klaw/klaw.h and klaw/nats.h.
 */
#ifndef KLAW_NATS_TEST_UTIL_H
#define KLAW_NATS_TEST_UTIL_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

static const char *const SERVER_BIN[] = {"/usr/sbin/nats-server", "/usr/bin/nats-server", NULL};

static inline int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static inline void sleep_ms(int ms)
{
    struct timespec d = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&d, NULL);
}

/* ---- a nats-server of our own ------------------------------------------------- */

typedef struct server {
    pid_t pid;
    int port;
    char conf[64];
} server;

static inline int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t n = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &n), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static inline int port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

static inline const char *server_bin(void)
{
    for (int i = 0; SERVER_BIN[i]; i++)
        if (access(SERVER_BIN[i], X_OK) == 0)
            return SERVER_BIN[i];
    fprintf(stderr, "test_nats: nats-server is not installed (apt-get install nats-server; "
                    "scripts/setup.sh lists it)\n");
    fail();
    return NULL;
}

/* Starts nats-server on port (0: a free one), with extra config lines. */
static inline void server_start(server *s, int port, const char *extra_conf)
{
    const char *bin = server_bin();
    s->port = port ? port : free_port();
    snprintf(s->conf, sizeof s->conf, "/tmp/klaw-nats-%d-%d.conf", (int)getpid(), s->port);
    FILE *f = fopen(s->conf, "w");
    assert_non_null(f);
    fprintf(f, "listen: 127.0.0.1:%d\n%s\n", s->port, extra_conf ? extra_conf : "");
    fclose(f);
    s->pid = fork();
    assert_true(s->pid >= 0);
    if (s->pid == 0) {
        int null = open("/dev/null", 1);
        dup2(null, 1);
        dup2(null, 2);
        execl(bin, bin, "-c", s->conf, (char *)NULL);
        _exit(127);
    }
    int64_t t0 = now_ms();
    while (!port_open(s->port)) {
        int ws;
        if (waitpid(s->pid, &ws, WNOHANG) == s->pid) {
            fprintf(stderr, "nats-server exited at start (config %s)\n", s->conf);
            fail();
        }
        assert_true(now_ms() - t0 < 10000);
        sleep_ms(20);
    }
}

static inline void server_kill(server *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
    }
}

static inline void server_stop(server *s)
{
    server_kill(s);
    unlink(s->conf);
}

static inline char *url(const server *s, char *buf, size_t n)
{
    snprintf(buf, n, "nats://127.0.0.1:%d", s->port);
    return buf;
}

/* ---- helpers ---------------------------------------------------------------------- */

static char names[8][64];

static inline const char *uniq(int i, const char *what)
{
    snprintf(names[i], sizeof names[i], "tnats-%s-%d", what, (int)getpid());
    klaw_region_unlink(names[i]);
    return names[i];
}

static inline klaw_nats_bridge *bridge(const char *servers, const char *channel, const char *subject, unsigned dir,
                                const char *origin)
{
    klaw_nats_opts o = {.servers = servers, .channel = channel, .subject = subject, .direction = dir,
                        .origin = origin};
    klaw_nats_bridge *b = NULL;
    const char *why = NULL;
    klaw_status st = klaw_nats_bridge_start(&o, &b, &why);
    if (st != KLAW_OK) {
        fprintf(stderr, "bridge %s <-> %s: %s (%s)\n", channel, subject, klaw_strerror(st), why ? why : "");
        fail();
    }
    return b;
}

/* A frame of n bytes made from i (checkable byte by byte). */
static inline size_t frame_of(uint64_t i, uint8_t *buf, size_t cap)
{
    size_t n = 8 + (size_t)(i * 7 % (cap - 8));
    memcpy(buf, &i, 8);
    for (size_t k = 8; k < n; k++)
        buf[k] = (uint8_t)(i * 31 + k);
    return n;
}

static inline uint64_t check_frame(const uint8_t *p, size_t n, size_t cap)
{
    uint64_t i;
    assert_true(n >= 8);
    memcpy(&i, p, 8);
    uint8_t want[256];
    size_t wn = frame_of(i, want, cap);
    assert_int_equal(n, wn);
    assert_memory_equal(p, want, n);
    return i;
}


/* Three servers in a cluster on loopback (names n0..n2; routes to each
 * other), each with extra_conf (a format with %d for the member's number,
 * e.g. a JetStream store_dir of its own; NULL: none); returns when the
 * routes had time to form. */
static inline void cluster_start(server s[3], const char *extra_conf)
{
    int cport[3], port[3];
    for (int k = 0; k < 3; k++) {
        port[k] = free_port();
        cport[k] = free_port();
    }
    for (int k = 0; k < 3; k++) {
        char conf[1024], extra[512] = "";
        int a = (k + 1) % 3, b = (k + 2) % 3;
        if (extra_conf)
            snprintf(extra, sizeof extra, extra_conf, k);
        snprintf(conf, sizeof conf,
                 "server_name: n%d\ncluster {\n  name: klaw\n  listen: 127.0.0.1:%d\n"
                 "  routes: [nats-route://127.0.0.1:%d, nats-route://127.0.0.1:%d]\n}\n%s",
                 k, cport[k], cport[a], cport[b], extra);
        server_start(&s[k], port[k], conf);
    }
    sleep_ms(1500); /* the routes form */
}

#endif /* KLAW_NATS_TEST_UTIL_H */
