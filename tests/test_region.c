/* test_region.c - regions: creation, opening, and refusing every kind of
 * corrupt or hostile region with a clear status; process liveness. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "klaw/region.h"

static char name_buf[64];

/* A region name unique to this process and test. */
static const char *uniq(const char *tag)
{
    snprintf(name_buf, sizeof name_buf, "test-%d-%s", (int)getpid(), tag);
    klaw_region_unlink(name_buf);
    return name_buf;
}

/* Creates and publishes a named region with a small body; returns it. */
static klaw_region *make_published(const char *name)
{
    klaw_region *r = NULL;
    assert_int_equal(klaw_region_create(name, 8192, 7, 0, &r), KLAW_OK);
    assert_int_equal(klaw_region_publish(r, 0, 0, 4096, 4096), KLAW_OK);
    return r;
}

static void anonymous_region_is_zeroed_with_a_header(void **state)
{
    (void)state;
    klaw_region *r = NULL;
    assert_int_equal(klaw_region_create(NULL, 5000, 3, 0, &r), KLAW_OK);
    assert_true(klaw_region_size(r) >= 5000);
    assert_int_equal(klaw_region_size(r) % (size_t)sysconf(_SC_PAGESIZE), 0);
    const klaw_region_header *h = klaw_region_hdr(r);
    assert_true(h->magic == KLAW_REGION_MAGIC);
    assert_int_equal(h->layout_version, KLAW_LAYOUT_VERSION);
    assert_int_equal(h->kind, 3);
    assert_int_equal(h->ready, 0);
    assert_int_equal(h->creator.pid, getpid());
    assert_true(h->creator.start_time > 0);
    const uint8_t *body = (const uint8_t *)klaw_region_base(r) + sizeof *h;
    for (size_t i = 0; i < klaw_region_size(r) - sizeof *h; i++)
        assert_int_equal(body[i], 0);
    assert_false(klaw_region_is_named(r));
    klaw_region_close(r);
}

static void bad_arguments_are_refused(void **state)
{
    (void)state;
    klaw_region *r = (klaw_region *)1;
    assert_int_equal(klaw_region_create("a/b", 8192, 0, 0, &r), KLAW_INVAL);
    assert_null(r);
    assert_int_equal(klaw_region_create("", 8192, 0, 0, &r), KLAW_INVAL);
    assert_int_equal(klaw_region_create("..", 8192, 0, 0, &r), KLAW_OK); /* dots are allowed */
    klaw_region_close(r);
    assert_int_equal(klaw_region_unlink(".."), KLAW_OK);
    assert_int_equal(klaw_region_create(NULL, 16, 0, 0, &r), KLAW_INVAL);
    char longname[KLAW_REGION_NAME_MAX + 2];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(klaw_region_create(longname, 8192, 0, 0, &r), KLAW_INVAL);
    assert_int_equal(klaw_region_open("no/such", 0, 0, &r), KLAW_INVAL);
}

static void named_region_opens_after_publish_and_names_are_exclusive(void **state)
{
    (void)state;
    const char *name = uniq("basic");
    klaw_region *r = make_published(name);
    klaw_region *dup = NULL;
    assert_int_equal(klaw_region_create(name, 8192, 7, 0, &dup), KLAW_EXIST);

    char path[256];
    struct stat st;
    snprintf(path, sizeof path, "/dev/shm/klaw.%s", name);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    klaw_region *o = NULL;
    assert_int_equal(klaw_region_open(name, 7, 0, &o), KLAW_OK);
    assert_int_equal(klaw_region_size(o), klaw_region_size(r));
    assert_string_equal(klaw_region_hdr(o)->name, name);
    /* both mappings see the same memory */
    ((uint8_t *)klaw_region_base(r))[5000] = 0x5a;
    assert_int_equal(((uint8_t *)klaw_region_base(o))[5000], 0x5a);
    klaw_region *wrongkind = NULL;
    assert_int_equal(klaw_region_open(name, 8, 0, &wrongkind), KLAW_INVAL);
    klaw_region_close(o);
    klaw_region_close(r);
    assert_int_equal(klaw_region_unlink(name), KLAW_OK);
    assert_int_equal(klaw_region_unlink(name), KLAW_NOENT);
    assert_int_equal(klaw_region_open(name, 0, 0, &o), KLAW_NOENT);
}

static void caller_mode_is_applied(void **state)
{
    (void)state;
    const char *name = uniq("mode");
    klaw_region *r = NULL;
    assert_int_equal(klaw_region_create(name, 8192, 1, 0640, &r), KLAW_OK);
    char path[256];
    struct stat st;
    snprintf(path, sizeof path, "/dev/shm/klaw.%s", name);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
    klaw_region_close(r);
    klaw_region_unlink(name);
}

/* Writes raw bytes as /dev/shm/klaw.<name>. */
static void write_file(const char *name, const void *data, size_t len)
{
    char path[256];
    snprintf(path, sizeof path, "/klaw.%s", name);
    int fd = shm_open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static void foreign_and_truncated_files_are_corrupt(void **state)
{
    (void)state;
    const char *name = uniq("foreign");
    uint8_t junk[8192];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)(i * 7 + 3);
    write_file(name, junk, sizeof junk);
    klaw_region *o = NULL;
    assert_int_equal(klaw_region_open(name, 0, 0, &o), KLAW_CORRUPT);
    write_file(name, junk, 10); /* shorter than a header */
    assert_int_equal(klaw_region_open(name, 0, 0, &o), KLAW_CORRUPT);
    write_file(name, junk, 0); /* empty */
    assert_int_equal(klaw_region_open(name, 0, 0, &o), KLAW_CORRUPT);
    assert_null(o);
    klaw_region_unlink(name);
}

/* Publishes a good region, applies `damage` to its header, and returns
 * what opening it says. */
static klaw_status open_after(const char *tag, void (*damage)(klaw_region_header *h, const char *name))
{
    const char *name = uniq(tag);
    klaw_region *r = make_published(name);
    damage((klaw_region_header *)klaw_region_base(r), name);
    klaw_region *o = NULL;
    klaw_status st = klaw_region_open(name, 0, 0, &o);
    if (o)
        klaw_region_close(o);
    klaw_region_close(r);
    klaw_region_unlink(name);
    return st;
}

static void flip_magic(klaw_region_header *h, const char *n) { (void)n; h->magic ^= 1; }
static void swap_endian(klaw_region_header *h, const char *n)
{
    (void)n;
    h->magic = __builtin_bswap64(h->magic);
    h->endian = __builtin_bswap32(h->endian);
}
static void bad_endian_marker(klaw_region_header *h, const char *n) { (void)n; h->endian = 0x04030201; }
static void next_version(klaw_region_header *h, const char *n) { (void)n; h->layout_version++; }
static void size_lies(klaw_region_header *h, const char *n) { (void)n; h->size *= 2; }
static void body_outside(klaw_region_header *h, const char *n) { (void)n; h->body_off = h->size - 16; h->body_len = 4096; }
static void body_overflows(klaw_region_header *h, const char *n) { (void)n; h->body_off = UINT64_MAX - 8; h->body_len = 64; }
static void body_in_header(klaw_region_header *h, const char *n) { (void)n; h->body_off = 8; h->body_len = 16; }
static void meta_huge(klaw_region_header *h, const char *n) { (void)n; h->meta_off = 4096; h->meta_len = UINT64_MAX; }
static void name_unterminated(klaw_region_header *h, const char *n) { (void)n; memset(h->name, 'x', sizeof h->name); }
static void ready_garbage(klaw_region_header *h, const char *n) { (void)n; h->ready = 0xdeadbeef; }
static void file_truncated(klaw_region_header *h, const char *name)
{
    (void)h;
    char path[256];
    snprintf(path, sizeof path, "/klaw.%s", name);
    int fd = shm_open(path, O_RDWR, 0);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 4096), 0);
    close(fd);
}

static void hostile_headers_are_refused_with_their_status(void **state)
{
    (void)state;
    assert_int_equal(open_after("magic", flip_magic), KLAW_CORRUPT);
    assert_int_equal(open_after("endian", swap_endian), KLAW_VERSION);
    assert_int_equal(open_after("endian2", bad_endian_marker), KLAW_VERSION);
    assert_int_equal(open_after("version", next_version), KLAW_VERSION);
    assert_int_equal(open_after("size", size_lies), KLAW_CORRUPT);
    assert_int_equal(open_after("truncated", file_truncated), KLAW_CORRUPT);
    assert_int_equal(open_after("bodyout", body_outside), KLAW_CORRUPT);
    assert_int_equal(open_after("bodyovf", body_overflows), KLAW_CORRUPT);
    assert_int_equal(open_after("bodyhdr", body_in_header), KLAW_CORRUPT);
    assert_int_equal(open_after("meta", meta_huge), KLAW_CORRUPT);
    assert_int_equal(open_after("name", name_unterminated), KLAW_CORRUPT);
    assert_int_equal(open_after("ready", ready_garbage), KLAW_CORRUPT);
}

static void region_being_created_times_out_while_its_creator_lives(void **state)
{
    (void)state;
    const char *name = uniq("unready");
    klaw_region *r = NULL;
    assert_int_equal(klaw_region_create(name, 8192, 1, 0, &r), KLAW_OK);
    klaw_region *o = NULL;
    assert_int_equal(klaw_region_open(name, 0, 0, &o), KLAW_TIMEOUT);
    assert_int_equal(klaw_region_open(name, 0, 20, &o), KLAW_TIMEOUT);
    /* publishing makes it openable */
    assert_int_equal(klaw_region_publish(r, 0, 0, 4096, 4096), KLAW_OK);
    assert_int_equal(klaw_region_open(name, 0, 0, &o), KLAW_OK);
    klaw_region_close(o);
    klaw_region_close(r);
    klaw_region_unlink(name);
}

static void opener_waits_for_a_creator_that_publishes(void **state)
{
    (void)state;
    const char *name = uniq("late");
    klaw_region *r = NULL;
    assert_int_equal(klaw_region_create(name, 8192, 1, 0, &r), KLAW_OK);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        usleep(30000);
        klaw_region_publish(r, 0, 0, 4096, 4096);
        _exit(0);
    }
    klaw_region *o = NULL;
    assert_int_equal(klaw_region_open(name, 0, 5000, &o), KLAW_OK);
    klaw_region_close(o);
    int status;
    waitpid(child, &status, 0);
    klaw_region_close(r);
    klaw_region_unlink(name);
}

static void creator_that_died_before_ready_makes_the_region_corrupt(void **state)
{
    (void)state;
    const char *name = uniq("orphan");
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        klaw_region *r = NULL;
        _exit(klaw_region_create(name, 8192, 1, 0, &r) == KLAW_OK ? 0 : 1);
    }
    int status;
    waitpid(child, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    klaw_region *o = NULL;
    assert_int_equal(klaw_region_open(name, 0, 1000, &o), KLAW_CORRUPT);
    klaw_region_unlink(name);
}

static void invalid_publish_offsets_are_refused(void **state)
{
    (void)state;
    klaw_region *r = NULL;
    assert_int_equal(klaw_region_create(NULL, 8192, 1, 0, &r), KLAW_OK);
    assert_int_equal(klaw_region_publish(r, 0, 0, 8192, 1), KLAW_INVAL);
    assert_int_equal(klaw_region_publish(r, 100, UINT64_MAX, 4096, 1), KLAW_INVAL);
    assert_int_equal(klaw_region_hdr(r)->ready, 0);
    klaw_region_close(r);
}

static void region_at_bounds_checks_without_overflow(void **state)
{
    (void)state;
    uint8_t buf[100];
    assert_ptr_equal(klaw_region_at(buf, 100, 0, 100), buf);
    assert_ptr_equal(klaw_region_at(buf, 100, 100, 0), buf + 100);
    assert_null(klaw_region_at(buf, 100, 1, 100));
    assert_null(klaw_region_at(buf, 100, 101, 0));
    assert_null(klaw_region_at(buf, 100, UINT64_MAX, 2));
    assert_null(klaw_region_at(buf, 100, 50, UINT64_MAX));
}

static void liveness_tells_live_dead_zombie_and_reused_pids_apart(void **state)
{
    (void)state;
    klaw_proc_id me = klaw_proc_self();
    assert_int_equal(me.pid, getpid());
    assert_true(klaw_proc_alive(me));
    klaw_proc_id other = me;
    other.start_time++; /* same pid, another start: a reused pid */
    assert_false(klaw_proc_alive(other));
    klaw_proc_id none = {0, 0, 0};
    assert_false(klaw_proc_alive(none));

    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        klaw_proc_id id = klaw_proc_self();
        if (write(pipefd[1], &id, sizeof id) != (ssize_t)sizeof id)
            _exit(1);
        pause();
        _exit(0);
    }
    klaw_proc_id cid;
    assert_int_equal(read(pipefd[0], &cid, sizeof cid), (ssize_t)sizeof cid);
    assert_int_equal(cid.pid, child);
    assert_true(klaw_proc_alive(cid));
    kill(child, SIGKILL);
    /* not reaped yet: a zombie, which is dead for us */
    for (int i = 0; i < 1000 && klaw_proc_alive(cid); i++)
        usleep(1000);
    assert_false(klaw_proc_alive(cid));
    int status;
    waitpid(child, &status, 0);
    assert_false(klaw_proc_alive(cid));
    close(pipefd[0]);
    close(pipefd[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(anonymous_region_is_zeroed_with_a_header),
        cmocka_unit_test(bad_arguments_are_refused),
        cmocka_unit_test(named_region_opens_after_publish_and_names_are_exclusive),
        cmocka_unit_test(caller_mode_is_applied),
        cmocka_unit_test(foreign_and_truncated_files_are_corrupt),
        cmocka_unit_test(hostile_headers_are_refused_with_their_status),
        cmocka_unit_test(region_being_created_times_out_while_its_creator_lives),
        cmocka_unit_test(opener_waits_for_a_creator_that_publishes),
        cmocka_unit_test(creator_that_died_before_ready_makes_the_region_corrupt),
        cmocka_unit_test(invalid_publish_offsets_are_refused),
        cmocka_unit_test(region_at_bounds_checks_without_overflow),
        cmocka_unit_test(liveness_tells_live_dead_zombie_and_reused_pids_apart),
    };
    return cmocka_run_group_tests_name("region", tests, NULL, NULL);
}
