/*
 * create.c - klaw create: makes a named channel of any kind from the shell,
 * with the options that kind's create config has, its access (mode and
 * group), and either no handles (it stays in /dev/shm for others to open)
 * or, with --hold, a sender handle held while klaw create runs.
 */
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "klaw_tool.h"

static const char create_help[] =
    "usage: klaw create KIND NAME [options]\n"
    "\n"
    "Makes a channel named NAME (/dev/shm/klaw.NAME) of KIND mpmc, broadcast,\n"
    "watch or oneshot, for `klaw send`, `klaw tail` and other processes to\n"
    "open by name.\n"
    "\n"
    "  --capacity N          slots in the ring, rounded up to a power of two\n"
    "                        (mpmc, broadcast; default 1024)\n"
    "  --max-frame BYTES     largest frame or value (every kind; default 4096;\n"
    "                        a suffix K, KiB, M or MiB multiplies by 1024s)\n"
    "  --policy P            broadcast: overwrite (default: the writer never\n"
    "                        waits, slow readers are told what they missed) or\n"
    "                        block (the writer waits for the slowest reader)\n"
    "  --single-writer       one sender handle at a time, cheaper claims\n"
    "                        (mpmc, broadcast)\n"
    "  --single-reader       one receiver handle at a time (mpmc)\n"
    "  --max-handles N       sender + receiver handles at once (mpmc, watch;\n"
    "                        2..4096, default 256)\n"
    "  --max-readers N       registered readers at once (broadcast; default 64)\n"
    "  --max-writers N       writer handles at once (broadcast; default 16)\n"
    "  --slots N             versioned value slots (watch; 2..1024, default 8)\n"
    "  --initial JSON        the value of version 0 (watch; default null)\n"
    "  --value-type TYPE     the value type named in the metadata record\n"
    "  --liveness MS         how often waiters check that the processes holding\n"
    "                        handles are alive (default 1000)\n"
    "  --mode MODE           the object's permission bits, octal (default 0600;\n"
    "                        0660 when --group is given); opening needs read\n"
    "                        and write, so 0660 shares it with the group\n"
    "  --group GROUP         the object's group, a name or a number (the\n"
    "                        creator must be root or a member)\n"
    "  --hold                stay in the foreground holding a sender handle\n"
    "                        (mpmc: and a receiver handle) until SIGINT,\n"
    "                        SIGTERM or SIGHUP (mpmc, broadcast, watch)\n"
    "\n"
    "An option another kind has but KIND has not is a usage error (exit\n"
    "status 2).\n"
    "\n"
    "Without --hold, klaw create exits as soon as the channel is ready; the\n"
    "channel then has no handles and stays in /dev/shm until `klaw rm NAME`.\n"
    "Each side of a channel closes for good once a handle of it has come and\n"
    "every one has gone: the senders of an mpmc, broadcast or watch, the\n"
    "receivers of an mpmc, each role of a oneshot. So the first `klaw send`\n"
    "(one frame, or many with --lines) and the first `klaw tail --consume`\n"
    "of an mpmc are also the last: after they exit, receivers drain what is\n"
    "left and then see the channel closed, and new senders are refused.\n"
    "Broadcast readers and watch receivers may come and go. For a channel\n"
    "that many short-lived commands share, run `klaw create --hold ... &`:\n"
    "the handles it holds keep those sides open until it is stopped (the\n"
    "name stays; remove it with `klaw rm`).\n"
    "\n"
    "A name that is taken, or a group the creator may not give: exit status\n"
    "1 and a message; nothing is created.\n";

/* The options, one table for every kind; kinds[] says which kinds have
 * each one. */
enum {
    O_CAPACITY,
    O_MAX_FRAME,
    O_POLICY,
    O_SINGLE_WRITER,
    O_SINGLE_READER,
    O_MAX_HANDLES,
    O_MAX_READERS,
    O_MAX_WRITERS,
    O_SLOTS,
    O_INITIAL,
    O_VALUE_TYPE,
    O_LIVENESS,
    O_MODE,
    O_GROUP,
    O_HOLD,
    N_OPTS
};

static const opt_spec specs[N_OPTS + 1] = {
    [O_CAPACITY] = {"--capacity", NULL, true},
    [O_MAX_FRAME] = {"--max-frame", NULL, true},
    [O_POLICY] = {"--policy", NULL, true},
    [O_SINGLE_WRITER] = {"--single-writer", NULL, false},
    [O_SINGLE_READER] = {"--single-reader", NULL, false},
    [O_MAX_HANDLES] = {"--max-handles", NULL, true},
    [O_MAX_READERS] = {"--max-readers", NULL, true},
    [O_MAX_WRITERS] = {"--max-writers", NULL, true},
    [O_SLOTS] = {"--slots", NULL, true},
    [O_INITIAL] = {"--initial", NULL, true},
    [O_VALUE_TYPE] = {"--value-type", NULL, true},
    [O_LIVENESS] = {"--liveness", NULL, true},
    [O_MODE] = {"--mode", NULL, true},
    [O_GROUP] = {"--group", NULL, true},
    [O_HOLD] = {"--hold", NULL, false},
    [N_OPTS] = {NULL, NULL, false},
};

#define K(kind) (1u << (kind))
#define K_ALL (K(KLAW_CHANNEL_MPMC) | K(KLAW_CHANNEL_BROADCAST) | K(KLAW_CHANNEL_WATCH) | K(KLAW_CHANNEL_ONESHOT))

static const unsigned kinds[N_OPTS] = {
    [O_CAPACITY] = K(KLAW_CHANNEL_MPMC) | K(KLAW_CHANNEL_BROADCAST),
    [O_MAX_FRAME] = K_ALL,
    [O_POLICY] = K(KLAW_CHANNEL_BROADCAST),
    [O_SINGLE_WRITER] = K(KLAW_CHANNEL_MPMC) | K(KLAW_CHANNEL_BROADCAST),
    [O_SINGLE_READER] = K(KLAW_CHANNEL_MPMC),
    [O_MAX_HANDLES] = K(KLAW_CHANNEL_MPMC) | K(KLAW_CHANNEL_WATCH),
    [O_MAX_READERS] = K(KLAW_CHANNEL_BROADCAST),
    [O_MAX_WRITERS] = K(KLAW_CHANNEL_BROADCAST),
    [O_SLOTS] = K(KLAW_CHANNEL_WATCH),
    [O_INITIAL] = K(KLAW_CHANNEL_WATCH),
    [O_VALUE_TYPE] = K_ALL,
    [O_LIVENESS] = K_ALL,
    [O_MODE] = K_ALL,
    [O_GROUP] = K_ALL,
    [O_HOLD] = K(KLAW_CHANNEL_MPMC) | K(KLAW_CHANNEL_BROADCAST) | K(KLAW_CHANNEL_WATCH),
};

#define MAX_FRAME_MAX (1u << 30)

/* What the options come to, whatever the kind. */
typedef struct create_cfg {
    klaw_channel_type kind;
    const char *name;
    uint64_t capacity, max_frame, max_handles, max_readers, max_writers, slots, liveness_ms;
    int policy;
    mode_t mode;
    bool set_group;
    gid_t group;
    const char *group_text;
    buf initial; /* watch: version 0, encoded */
} create_cfg;

/* A count option in [lo, hi] into *out (left alone when not given).
 * Returns 0 or a usage error. */
static int count_opt(const cmd_args *a, int o, uint64_t lo, uint64_t hi, uint64_t *out)
{
    if (!a->seen[o])
        return 0;
    uint64_t v;
    if (!parse_count(a->vals[o], hi, &v) || v < lo)
        return usage_msg("create", "%s wants a number from %llu to %llu, not '%s'", specs[o].name,
                         (unsigned long long)lo, (unsigned long long)hi, a->vals[o]);
    *out = v;
    return 0;
}

/* "4096", "4K", "4KiB", "1M", "1MiB" (and "64B"). */
static bool parse_size(const char *s, uint64_t *out)
{
    size_t n = strspn(s, "0123456789");
    if (n == 0 || n > 12)
        return false;
    char digits[16];
    memcpy(digits, s, n);
    digits[n] = '\0';
    uint64_t v;
    if (!parse_count(digits, UINT64_MAX >> 21, &v))
        return false;
    const char *u = s + n;
    uint64_t mul = 1;
    if (strcmp(u, "") == 0 || strcmp(u, "B") == 0)
        mul = 1;
    else if (strcmp(u, "K") == 0 || strcmp(u, "k") == 0 || strcmp(u, "KiB") == 0)
        mul = 1024;
    else if (strcmp(u, "M") == 0 || strcmp(u, "MiB") == 0)
        mul = 1024 * 1024;
    else
        return false;
    *out = v * mul;
    return true;
}

/* Octal permission bits the owner can open with (read and write). */
static bool parse_mode(const char *s, mode_t *out)
{
    size_t n = strspn(s, "01234567");
    if (n == 0 || n > 4 || s[n] != '\0')
        return false;
    unsigned long v = strtoul(s, NULL, 8);
    if (v > 0777 || (v & 0600) != 0600)
        return false;
    *out = (mode_t)v;
    return true;
}

/* A group name or number. */
static bool parse_group(const char *s, gid_t *out)
{
    uint64_t v;
    if (parse_count(s, (gid_t)-2, &v)) {
        *out = (gid_t)v;
        return true;
    }
    long cap = sysconf(_SC_GETGR_R_SIZE_MAX);
    size_t len = cap > 0 ? (size_t)cap : 16384;
    for (int tries = 0; tries < 8; tries++, len *= 2) {
        char *mem = malloc(len);
        if (!mem)
            return false;
        struct group g, *res = NULL;
        int e = getgrnam_r(s, &g, mem, len, &res);
        if (e == 0 && res)
            *out = res->gr_gid;
        free(mem);
        if (e != ERANGE)
            return e == 0 && res;
    }
    return false;
}

/* Reads and checks the options against the kind. Returns 0, or prints a
 * usage error (EXIT_USAGE) or another error (EXIT_FAILURE). */
static int read_cfg(const cmd_args *a, create_cfg *c)
{
    for (int o = 0; o < N_OPTS; o++)
        if (a->seen[o] && !(kinds[o] & K(c->kind)))
            return usage_msg("create", "%s does not apply to %s %s channel", specs[o].name,
                             c->kind == KLAW_CHANNEL_MPMC ? "an" : "a", klaw_channel_type_name(c->kind));
    c->capacity = 1024;
    c->max_frame = 4096;
    int rc;
    if ((rc = count_opt(a, O_CAPACITY, 1, 1u << 30, &c->capacity)) ||
        (rc = count_opt(a, O_MAX_HANDLES, 2, 4096, &c->max_handles)) ||
        (rc = count_opt(a, O_MAX_READERS, 1, 4096, &c->max_readers)) ||
        (rc = count_opt(a, O_MAX_WRITERS, 1, 4096, &c->max_writers)) ||
        (rc = count_opt(a, O_SLOTS, 2, 1024, &c->slots)) ||
        (rc = count_opt(a, O_LIVENESS, 1, (uint64_t)INT64_MAX / 1000000, &c->liveness_ms)))
        return rc;
    if (a->seen[O_MAX_FRAME] &&
        (!parse_size(a->vals[O_MAX_FRAME], &c->max_frame) || c->max_frame < 1 || c->max_frame > MAX_FRAME_MAX))
        return usage_msg("create", "--max-frame wants a size from 1 to 1GiB (4096, 64K, 1MiB), not '%s'",
                         a->vals[O_MAX_FRAME]);
    c->policy = KLAW_POLICY_OVERWRITE;
    if (a->seen[O_POLICY]) {
        if (strcmp(a->vals[O_POLICY], "overwrite") == 0)
            c->policy = KLAW_POLICY_OVERWRITE;
        else if (strcmp(a->vals[O_POLICY], "block") == 0)
            c->policy = KLAW_POLICY_BLOCK;
        else
            return usage_msg("create", "--policy is overwrite or block, not '%s'", a->vals[O_POLICY]);
    }
    if (a->seen[O_SINGLE_WRITER] && a->seen[O_MAX_WRITERS] && c->max_writers != 1)
        return usage_msg("create", "--single-writer allows one writer, not --max-writers %s", a->vals[O_MAX_WRITERS]);
    if (a->seen[O_HOLD] && (a->seen[O_SINGLE_WRITER] || a->seen[O_SINGLE_READER]))
        return usage_msg("create", "--hold holds a %s handle: with %s no other process could open one",
                         a->seen[O_SINGLE_WRITER] ? "sender" : "receiver",
                         a->seen[O_SINGLE_WRITER] ? "--single-writer" : "--single-reader");
    if (a->seen[O_GROUP]) {
        if (!parse_group(a->vals[O_GROUP], &c->group))
            return usage_msg("create", "no group named '%s'", a->vals[O_GROUP]);
        c->set_group = true;
        c->group_text = a->vals[O_GROUP];
        c->mode = 0660;
    }
    if (a->seen[O_MODE] && !parse_mode(a->vals[O_MODE], &c->mode))
        return usage_msg("create", "--mode wants octal permission bits with owner read and write (0600, 0660), not '%s'",
                         a->vals[O_MODE]);
    if (c->kind == KLAW_CHANNEL_WATCH) {
        /* the value of version 0, encoded as `klaw send` would */
        const char *json = a->seen[O_INITIAL] ? a->vals[O_INITIAL] : "null";
        size_t len = strlen(json);
        size_t guess = len * 3 + 64;
        for (int attempt = 0; attempt < 2; attempt++) {
            if (!buf_reserve(&c->initial, guess))
                return fail_msg("out of memory");
            klaw_mp_writer w;
            klaw_json_error err;
            klaw_mp_writer_init(&w, c->initial.p, c->initial.cap);
            klaw_status st = klaw_json_to_mp(json, len, &w, &err);
            if (st == KLAW_OK) {
                c->initial.len = klaw_mp_writer_len(&w);
                break;
            }
            if (st != KLAW_TOOBIG)
                return fail_msg("--initial: encode error at byte %zu: %s", err.offset, err.reason);
            guess = klaw_mp_writer_needed(&w);
        }
        if (c->initial.len > c->max_frame)
            return usage_msg("create", "--initial is %zu bytes of MessagePack, more than the max frame (%llu)",
                             c->initial.len, (unsigned long long)c->max_frame);
    }
    return 0;
}

/* The handles --hold keeps (NULL otherwise). */
typedef struct held {
    klaw_mpmc_tx *mtx;
    klaw_mpmc_rx *mrx;
    klaw_bcast_tx *btx;
    klaw_watch_tx *wtx;
} held;

static klaw_status make_channel(const create_cfg *c, const cmd_args *a, bool hold, held *h)
{
    uint64_t liveness_ns = c->liveness_ms * 1000000;
    const char *vt = a->seen[O_VALUE_TYPE] ? a->vals[O_VALUE_TYPE] : NULL;
    switch (c->kind) {
    case KLAW_CHANNEL_MPMC: {
        klaw_mpmc_opts o = {.capacity = (uint32_t)c->capacity,
                            .max_frame = (uint32_t)c->max_frame,
                            .name = c->name,
                            .mode = c->mode,
                            .max_handles = (uint32_t)c->max_handles,
                            .liveness_ns = liveness_ns,
                            .value_type = vt,
                            .flags = (a->seen[O_SINGLE_WRITER] ? KLAW_MPMC_SINGLE_PRODUCER : 0u) |
                                     (a->seen[O_SINGLE_READER] ? KLAW_MPMC_SINGLE_CONSUMER : 0u),
                            .set_group = c->set_group,
                            .group = c->group};
        return klaw_mpmc_create(&o, hold ? &h->mtx : NULL, hold ? &h->mrx : NULL);
    }
    case KLAW_CHANNEL_BROADCAST: {
        klaw_bcast_opts o = {.capacity = (uint32_t)c->capacity,
                             .max_frame = (uint32_t)c->max_frame,
                             .policy = c->policy,
                             .name = c->name,
                             .mode = c->mode,
                             .max_readers = (uint32_t)c->max_readers,
                             .max_writers = (uint32_t)c->max_writers,
                             .liveness_ns = liveness_ns,
                             .value_type = vt,
                             .flags = a->seen[O_SINGLE_WRITER] ? KLAW_BCAST_SINGLE_WRITER : 0u,
                             .set_group = c->set_group,
                             .group = c->group};
        return klaw_bcast_create(&o, hold ? &h->btx : NULL);
    }
    case KLAW_CHANNEL_WATCH: {
        klaw_watch_opts o = {.max_frame = (uint32_t)c->max_frame,
                             .name = c->name,
                             .mode = c->mode,
                             .slots = (uint32_t)c->slots,
                             .max_handles = (uint32_t)c->max_handles,
                             .liveness_ns = liveness_ns,
                             .value_type = vt,
                             .initial = c->initial.p,
                             .initial_len = c->initial.len,
                             .set_group = c->set_group,
                             .group = c->group};
        return klaw_watch_create(&o, hold ? &h->wtx : NULL, NULL);
    }
    default: {
        klaw_oneshot_opts o = {.max_frame = (uint32_t)c->max_frame,
                               .name = c->name,
                               .mode = c->mode,
                               .liveness_ns = liveness_ns,
                               .value_type = vt,
                               .set_group = c->set_group,
                               .group = c->group};
        return klaw_oneshot_create(&o, NULL, NULL);
    }
    }
}

int cmd_create(int argc, char **argv)
{
    cmd_args a;
    int rc = parse_opts("create", argc, argv, specs, 2, NULL, &a);
    if (rc)
        return rc;
    if (a.help) {
        fputs(create_help, stdout);
        return 0;
    }
    if (a.n_ops < 2)
        return usage_msg("create", a.n_ops ? "which name?" : "which kind and name?");
    create_cfg c = {.name = a.ops[1]};
    for (int t = KLAW_CHANNEL_MPMC; t <= KLAW_CHANNEL_ONESHOT && !c.kind; t++)
        if (strcmp(a.ops[0], klaw_channel_type_name(t)) == 0)
            c.kind = (klaw_channel_type)t;
    if (!c.kind)
        return usage_msg("create", "unknown kind '%s' (mpmc, broadcast, watch or oneshot)", a.ops[0]);
    if ((rc = read_cfg(&a, &c))) {
        buf_free(&c.initial);
        return rc;
    }
    bool hold = a.seen[O_HOLD];
    if (hold)
        catch_stop_signals(); /* before the handles exist: a stop then still closes them */
    held h = {0};
    klaw_status st = make_channel(&c, &a, hold, &h);
    buf_free(&c.initial);
    switch (st) {
    case KLAW_OK: break;
    case KLAW_EXIST: return fail_msg("a channel named '%s' exists already (/dev/shm/klaw.%s)", c.name, c.name);
    case KLAW_PERM:
        if (c.set_group)
            return fail_msg("cannot create channel '%s': permission denied (giving it group %s needs root or "
                            "membership of the group)",
                            c.name, c.group_text);
        return fail_msg("cannot create channel '%s': permission denied", c.name);
    case KLAW_INVAL: {
        /* the options were checked: a bad name, or a ring too big */
        klaw_channel *ch = NULL;
        klaw_status ost = klaw_channel_open(c.name, 0, &ch, NULL);
        klaw_channel_close(ch);
        if (ost == KLAW_INVAL)
            return channel_error(c.name, KLAW_INVAL, NULL);
        return fail_msg("cannot create channel '%s': capacity x max frame is too large", c.name);
    }
    case KLAW_NOMEM: return fail_msg("cannot create channel '%s': out of memory (or no room in /dev/shm)", c.name);
    default: return fail_msg("cannot create channel '%s': %s", c.name, klaw_strerror(st));
    }
    if (!hold)
        return 0;
    /* stop signals blocked but while suspended: one that comes between the
     * test and the wait is not lost */
    sigset_t stops, old;
    sigemptyset(&stops);
    sigaddset(&stops, SIGINT);
    sigaddset(&stops, SIGTERM);
    sigaddset(&stops, SIGHUP);
    sigprocmask(SIG_BLOCK, &stops, &old);
    while (!stop_requested)
        sigsuspend(&old);
    sigprocmask(SIG_SETMASK, &old, NULL);
    klaw_mpmc_tx_free(h.mtx);
    klaw_mpmc_rx_free(h.mrx);
    klaw_bcast_tx_free(h.btx);
    klaw_watch_tx_free(h.wtx);
    return 0;
}
