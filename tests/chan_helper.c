/*
 * chan_helper.c - makes channels for tests/test_cli.sh, which cannot make
 * them with the klaw tool itself (a channel lives while a process holds its
 * handles).
 *
 *   chan_helper mpmc NAME CAPACITY MAX_FRAME [VALUE_TYPE]
 *       creates a named mpmc channel, prints "ready" on stdout, and holds
 *       its first sender and receiver until SIGTERM/SIGINT, then frees them
 *       and exits 0 (the name stays; klaw rm removes it).
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

#include "klaw/klaw.h"

static int usage(void)
{
    fprintf(stderr, "usage: chan_helper mpmc NAME CAPACITY MAX_FRAME [VALUE_TYPE] | badmeta NAME | "
                    "badring NAME\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return usage();
    const char *what = argv[1], *name = argv[2];
    if (strcmp(what, "mpmc") == 0 && (argc == 5 || argc == 6)) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigprocmask(SIG_BLOCK, &set, NULL);
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
        printf("ready\n");
        fflush(stdout);
        int sig;
        sigwait(&set, &sig);
        klaw_mpmc_tx_free(tx);
        klaw_mpmc_rx_free(rx);
        return 0;
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
