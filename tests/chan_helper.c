/*
 * chan_helper.c - makes channels for tests/test_cli.sh, which cannot make
 * them with the klaw tool itself (a channel lives while a process holds its
 * handles).
 *
 *   chan_helper mpmc NAME CAPACITY MAX_FRAME [VALUE_TYPE]
 *       creates a named mpmc channel, prints "ready" on stdout, and holds
 *       its first sender and receiver until SIGTERM/SIGINT, then frees them
 *       and exits 0 (the name stays; klaw rm removes it).
 *   chan_helper bcast NAME CAPACITY MAX_FRAME overwrite|block [READER_ID]
 *       a named broadcast (and a registered reader READER_ID, which reads
 *       nothing), held the same way
 *   chan_helper watch NAME MAX_FRAME JSON
 *       a named watch whose initial value is JSON encoded as MessagePack,
 *       held the same way
 *   chan_helper oneshot NAME MAX_FRAME
 *       a named oneshot with both roles left for others to take; prints
 *       "ready" and waits the same way (holding nothing)
 *   chan_helper claimdie NAME
 *       opens a sender of the named mpmc, claims a slot, and exits without
 *       committing or closing: a producer killed mid-claim
 *   chan_helper sendraw NAME
 *       sends stdin's bytes, as they are, as one frame of the named mpmc
 *       (for frames klaw send would never make)
 *   chan_helper unready NAME
 *       a region of kind mpmc created but never published (READY unset),
 *       held by a live process: "being created"; prints "ready" and waits
 *   chan_helper badmeta NAME
 *       a published region of kind mpmc whose metadata record is not a
 *       ChannelMetadata (0xc1: not even MessagePack); exits at once.
 *   chan_helper badring NAME
 *       an mpmc channel whose ring header is then scribbled over: metadata
 *       fine, counters unreadable; exits at once (the name stays).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "klaw/klaw.h"

static sigset_t stop_set;

/* Prints "ready" and waits for SIGTERM/SIGINT. */
static void ready_and_wait(void)
{
    printf("ready\n");
    fflush(stdout);
    int sig;
    sigwait(&stop_set, &sig);
}

static int failed(const char *what, const char *name, klaw_status st)
{
    fprintf(stderr, "chan_helper: %s %s: %s\n", what, name, klaw_strerror(st));
    return 1;
}

static int usage(void)
{
    fprintf(stderr, "usage: chan_helper mpmc NAME CAPACITY MAX_FRAME [VALUE_TYPE] | bcast NAME CAPACITY "
                    "MAX_FRAME overwrite|block [READER_ID] | watch NAME MAX_FRAME JSON | oneshot NAME MAX_FRAME "
                    "| unready NAME | claimdie NAME | sendraw NAME | badmeta NAME | badring NAME\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return usage();
    const char *what = argv[1], *name = argv[2];
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGTERM);
    sigaddset(&stop_set, SIGINT);
    sigprocmask(SIG_BLOCK, &stop_set, NULL);
    if (strcmp(what, "bcast") == 0 && (argc == 6 || argc == 7)) {
        klaw_bcast_opts o = {.capacity = (uint32_t)atoi(argv[3]),
                             .max_frame = (uint32_t)atoi(argv[4]),
                             .policy = strcmp(argv[5], "block") == 0 ? KLAW_POLICY_BLOCK : KLAW_POLICY_OVERWRITE,
                             .name = name};
        klaw_bcast_tx *tx;
        klaw_bcast_rx *rx = NULL;
        klaw_status st = klaw_bcast_create(&o, &tx);
        if (st != KLAW_OK)
            return failed("create", name, st);
        if (argc == 7 && (st = klaw_bcast_subscribe(tx, KLAW_BCAST_FROM_TAIL, argv[6], &rx)) != KLAW_OK)
            return failed("subscribe", name, st);
        ready_and_wait();
        klaw_bcast_rx_free(rx);
        klaw_bcast_tx_free(tx);
        return 0;
    }
    if (strcmp(what, "watch") == 0 && argc == 5) {
        uint8_t init[4096];
        klaw_mp_writer w;
        klaw_mp_writer_init(&w, init, sizeof init);
        if (klaw_json_to_mp(argv[4], strlen(argv[4]), &w, NULL) != KLAW_OK)
            return failed("encode", argv[4], KLAW_DECODE);
        klaw_watch_opts o = {.max_frame = (uint32_t)atoi(argv[3]),
                             .name = name,
                             .initial = init,
                             .initial_len = klaw_mp_writer_len(&w)};
        klaw_watch_tx *tx;
        klaw_status st = klaw_watch_create(&o, &tx, NULL);
        if (st != KLAW_OK)
            return failed("create", name, st);
        ready_and_wait();
        klaw_watch_tx_free(tx);
        return 0;
    }
    if (strcmp(what, "oneshot") == 0 && argc == 4) {
        klaw_oneshot_opts o = {.max_frame = (uint32_t)atoi(argv[3]), .name = name};
        klaw_status st = klaw_oneshot_create(&o, NULL, NULL);
        if (st != KLAW_OK)
            return failed("create", name, st);
        ready_and_wait();
        return 0;
    }
    if (strcmp(what, "mpmc") == 0 && (argc == 5 || argc == 6)) {
        klaw_mpmc_opts o = {.capacity = (uint32_t)atoi(argv[3]),
                            .max_frame = (uint32_t)atoi(argv[4]),
                            .name = name,
                            .value_type = argc == 6 ? argv[5] : NULL};
        klaw_mpmc_tx *tx;
        klaw_mpmc_rx *rx;
        klaw_status st = klaw_mpmc_create(&o, &tx, &rx);
        if (st != KLAW_OK) {
            fprintf(stderr, "chan_helper: create %s: %s\n", name, klaw_strerror(st));
            return 1;
        }
        ready_and_wait();
        klaw_mpmc_tx_free(tx);
        klaw_mpmc_rx_free(rx);
        return 0;
    }
    if (strcmp(what, "unready") == 0 && argc == 3) {
        klaw_region *r;
        klaw_status st = klaw_region_create(name, 8192, KLAW_KIND_MPMC, 0, &r);
        if (st != KLAW_OK)
            return failed("create", name, st);
        ready_and_wait();
        klaw_region_close(r);
        return 0;
    }
    if (strcmp(what, "claimdie") == 0 && argc == 3) {
        klaw_mpmc_tx *tx;
        klaw_frame f;
        klaw_status st = klaw_mpmc_open_tx(name, &tx);
        if (st == KLAW_OK)
            st = klaw_mpmc_try_claim(tx, 1, &f);
        if (st != KLAW_OK)
            return failed("claim", name, st);
        _exit(0); /* holding the claim */
    }
    if (strcmp(what, "sendraw") == 0 && argc == 3) {
        uint8_t data[65536];
        size_t n = fread(data, 1, sizeof data, stdin);
        klaw_mpmc_tx *tx;
        klaw_status st = klaw_mpmc_open_tx(name, &tx);
        if (st != KLAW_OK)
            return failed("open", name, st);
        st = klaw_mpmc_try_send(tx, data, n);
        klaw_mpmc_tx_free(tx);
        return st == KLAW_OK ? 0 : failed("send", name, st);
    }
    if (strcmp(what, "badmeta") == 0 && argc == 3) {
        klaw_region *r;
        klaw_status st = klaw_region_create(name, 8192, KLAW_KIND_MPMC, 0, &r);
        if (st != KLAW_OK) {
            fprintf(stderr, "chan_helper: create %s: %s\n", name, klaw_strerror(st));
            return 1;
        }
        ((uint8_t *)klaw_region_base(r))[4096] = 0xc1;
        klaw_region_publish(r, 4096, 1, 1024, 1024);
        klaw_region_close(r);
        return 0;
    }
    if (strcmp(what, "badring") == 0 && argc == 3) {
        klaw_mpmc_opts o = {.capacity = 4, .max_frame = 64, .name = name};
        klaw_mpmc_tx *tx;
        klaw_mpmc_rx *rx;
        klaw_status st = klaw_mpmc_create(&o, &tx, &rx);
        if (st != KLAW_OK) {
            fprintf(stderr, "chan_helper: create %s: %s\n", name, klaw_strerror(st));
            return 1;
        }
        klaw_region *r;
        if (klaw_region_open(name, 0, 0, &r) != KLAW_OK)
            return 1;
        const klaw_region_header *h = klaw_region_hdr(r);
        /* the ring's magic and capacity: garbage */
        memset((uint8_t *)klaw_region_base(r) + h->body_off, 0xff, 8);
        klaw_region_close(r);
        klaw_mpmc_tx_free(tx);
        klaw_mpmc_rx_free(rx);
        return 0;
    }
    return usage();
}
