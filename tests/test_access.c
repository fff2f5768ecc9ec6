/* test_access.c - channels shared by a group of users: every kind gives its
 * shared-memory object the mode and the group it was created with (before
 * anyone else can open it), a process of another user in that group opens
 * it, and one outside the group is refused with KLAW_PERM.
 *
 * The other users are made up (uids and gids with no /etc/passwd entry: the
 * kernel needs none); switching to them needs root, so as another user the
 * cross-user checks skip loudly and only the mode and group (one's own) are
 * checked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "klaw/klaw.h"

#define SHARED_GID ((gid_t)64101) /* the channel's group             */
#define MEMBER_UID ((uid_t)64102) /* a user in it (primary: its own) */
#define STRANGER_UID ((uid_t)64103)

static char name_buf[64];

static const char *uniq(const char *tag)
{
    snprintf(name_buf, sizeof name_buf, "test-%d-%s", (int)getpid(), tag);
    klaw_region_unlink(name_buf);
    return name_buf;
}

static int is_root(void) { return geteuid() == 0; }

/* The group the test gives its channels: as root, SHARED_GID (root may
 * give any); otherwise this process's own group (all it may give). */
static gid_t test_gid(void) { return is_root() ? SHARED_GID : getegid(); }

static void expect_access(const char *name, mode_t mode, gid_t gid)
{
    char path[256];
    struct stat st;
    snprintf(path, sizeof path, "/dev/shm/klaw.%s", name);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, mode);
    assert_int_equal(st.st_gid, gid);
}

/* The kinds, each created 0660 with the group and no handles, and opened
 * by name as a sender (or writer) would. */
enum { MPMC, BCAST, WATCH, ONESHOT, N_KINDS };

static klaw_status create_kind(int kind, const char *name, mode_t mode, gid_t gid)
{
    switch (kind) {
    case MPMC: {
        klaw_mpmc_opts o = {.capacity = 4, .max_frame = 16, .name = name, .mode = mode, .set_group = 1, .group = gid};
        return klaw_mpmc_create(&o, NULL, NULL);
    }
    case BCAST: {
        klaw_bcast_opts o = {.capacity = 4, .max_frame = 16, .name = name, .mode = mode, .set_group = 1, .group = gid};
        return klaw_bcast_create(&o, NULL);
    }
    case WATCH: {
        klaw_watch_opts o = {.max_frame = 16, .name = name, .mode = mode, .set_group = 1, .group = gid};
        return klaw_watch_create(&o, NULL, NULL);
    }
    default: {
        klaw_oneshot_opts o = {.max_frame = 16, .name = name, .mode = mode, .set_group = 1, .group = gid};
        return klaw_oneshot_create(&o, NULL, NULL);
    }
    }
}

/* Opens a sender of the kind, sends one frame and closes it. */
static klaw_status send_one(int kind, const char *name)
{
    klaw_status st;
    switch (kind) {
    case MPMC: {
        klaw_mpmc_tx *tx;
        if ((st = klaw_mpmc_open_tx(name, &tx)) != KLAW_OK)
            return st;
        st = klaw_mpmc_try_send(tx, "hi", 2);
        klaw_mpmc_tx_free(tx);
        return st;
    }
    case BCAST: {
        klaw_bcast_tx *tx;
        if ((st = klaw_bcast_open_tx(name, &tx)) != KLAW_OK)
            return st;
        st = klaw_bcast_try_send(tx, "hi", 2);
        klaw_bcast_tx_free(tx);
        return st == KLAW_NO_RECEIVERS ? KLAW_OK : st; /* overwrite: kept */
    }
    case WATCH: {
        klaw_watch_tx *tx;
        if ((st = klaw_watch_open_tx(name, &tx)) != KLAW_OK)
            return st;
        st = klaw_watch_send(tx, "hi", 2, NULL);
        klaw_watch_tx_free(tx);
        return st;
    }
    default: {
        klaw_oneshot_tx *tx;
        if ((st = klaw_oneshot_open_tx(name, &tx)) != KLAW_OK)
            return st;
        st = klaw_oneshot_send(tx, "hi", 2);
        klaw_oneshot_tx_free(tx);
        return st;
    }
    }
}

/* Runs send_one in a child that became uid (primary group: its own uid
 * number) with the supplementary groups given; returns the child's
 * klaw_status, or -1 when it could not switch. */
static int send_as(int kind, const char *name, uid_t uid, const gid_t *groups, size_t ngroups)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (setgroups(ngroups, groups) != 0 || setgid((gid_t)uid) != 0 || setuid(uid) != 0)
            _exit(255);
        _exit((int)send_one(kind, name));
    }
    int ws;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    assert_true(WIFEXITED(ws));
    return WEXITSTATUS(ws) == 255 ? -1 : WEXITSTATUS(ws);
}

static void every_kind_gets_its_mode_and_group(void **state)
{
    (void)state;
    static const char *const tags[N_KINDS] = {"mpmc", "bcast", "watch", "oneshot"};
    for (int k = 0; k < N_KINDS; k++) {
        const char *name = uniq(tags[k]);
        assert_int_equal(create_kind(k, name, 0660, test_gid()), KLAW_OK);
        expect_access(name, 0660, test_gid());
        klaw_region_unlink(name);
    }
}

static void zeroed_opts_keep_0600_and_the_creators_group(void **state)
{
    (void)state;
    const char *name = uniq("zero");
    klaw_mpmc_opts o = {.capacity = 4, .max_frame = 16, .name = name};
    assert_int_equal(klaw_mpmc_create(&o, NULL, NULL), KLAW_OK);
    expect_access(name, 0600, getegid()); /* gid 0 is not "root's group" here */
    klaw_region_unlink(name);
}

static void a_group_the_creator_may_not_give_is_perm(void **state)
{
    (void)state;
    if (!is_root()) {
        fprintf(stderr, "SKIP (loud): switching to other users needs root\n");
        skip();
    }
    const char *name = uniq("notmine");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (setgroups(0, NULL) != 0 || setgid((gid_t)MEMBER_UID) != 0 || setuid(MEMBER_UID) != 0)
            _exit(255);
        klaw_mpmc_opts o = {
            .capacity = 4, .max_frame = 16, .name = name, .mode = 0660, .set_group = 1, .group = SHARED_GID};
        klaw_status st = klaw_mpmc_create(&o, NULL, NULL);
        _exit(st == KLAW_PERM && klaw_region_unlink(name) == KLAW_NOENT ? 0 : 1);
    }
    int ws;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    assert_true(WIFEXITED(ws));
    assert_int_equal(WEXITSTATUS(ws), 0); /* refused, and nothing left behind */
}

static void a_group_member_opens_and_a_stranger_is_refused(void **state)
{
    (void)state;
    if (!is_root()) {
        fprintf(stderr, "SKIP (loud): switching to other users needs root\n");
        skip();
    }
    static const char *const tags[N_KINDS] = {"mpmc-u", "bcast-u", "watch-u", "oneshot-u"};
    const gid_t member_groups[] = {SHARED_GID};
    for (int k = 0; k < N_KINDS; k++) {
        const char *name = uniq(tags[k]);
        assert_int_equal(create_kind(k, name, 0660, SHARED_GID), KLAW_OK);
        /* outside the group first (a oneshot's role, once taken, is gone) */
        assert_int_equal(send_as(k, name, STRANGER_UID, NULL, 0), KLAW_PERM);
        assert_int_equal(send_as(k, name, MEMBER_UID, member_groups, 1), KLAW_OK);
        /* and the frame is there for the creator's side to see */
        klaw_channel *ch;
        assert_int_equal(klaw_channel_open(name, 0, &ch, NULL), KLAW_OK);
        klaw_channel_stats s;
        assert_int_equal(klaw_channel_read_stats(ch, &s), KLAW_OK);
        assert_int_equal(s.total_sent, 1);
        klaw_channel_close(ch);
        klaw_region_unlink(name);
    }
}

static void mode_0600_refuses_the_group(void **state)
{
    (void)state;
    if (!is_root()) {
        fprintf(stderr, "SKIP (loud): switching to other users needs root\n");
        skip();
    }
    const char *name = uniq("owner-only");
    const gid_t member_groups[] = {SHARED_GID};
    assert_int_equal(create_kind(MPMC, name, 0600, SHARED_GID), KLAW_OK);
    expect_access(name, 0600, SHARED_GID);
    assert_int_equal(send_as(MPMC, name, MEMBER_UID, member_groups, 1), KLAW_PERM);
    klaw_region_unlink(name);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_kind_gets_its_mode_and_group),
        cmocka_unit_test(zeroed_opts_keep_0600_and_the_creators_group),
        cmocka_unit_test(a_group_the_creator_may_not_give_is_perm),
        cmocka_unit_test(a_group_member_opens_and_a_stranger_is_refused),
        cmocka_unit_test(mode_0600_refuses_the_group),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
