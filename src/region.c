/*
 * region.c - anonymous and named shared-memory regions (see klaw/region.h).
 *
 * Creation order: map, write the header (everything but READY), let the
 * caller build the body, then klaw_region_publish() stores the offsets and
 * READY with a release store and wakes futex waiters on the ready word.
 * Opening reads READY with acquire before trusting any other field, then
 * checks magic, endianness, version, size against the file, and offsets
 * against the size.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "klaw/region.h"

struct klaw_region {
    void *base;
    size_t size;
    int named;
    char name[KLAW_REGION_NAME_MAX + 1];
};

/* ---- helpers ----------------------------------------------------------- */

static int name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > KLAW_REGION_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static void shm_path(char *out, size_t cap, const char *name) { snprintf(out, cap, "/klaw.%s", name); }

static klaw_status errno_status(int e)
{
    switch (e) {
    case ENOENT: return KLAW_NOENT;
    case EEXIST: return KLAW_EXIST;
    case EACCES:
    case EPERM: return KLAW_PERM;
    case ENOMEM:
    case ENOSPC: return KLAW_NOMEM;
    case EINVAL:
    case ENAMETOOLONG: return KLAW_INVAL;
    default: return KLAW_SYS;
    }
}

static int64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static _Atomic uint32_t *ready_word(klaw_region_header *h) { return (_Atomic uint32_t *)&h->ready; }

/* ---- create / publish --------------------------------------------------- */

klaw_status klaw_region_create(const char *name, size_t size, uint32_t kind, mode_t mode, klaw_region **out)
{
    *out = NULL;
    long page = sysconf(_SC_PAGESIZE);
    if (size < sizeof(klaw_region_header) || size > ((size_t)1 << 46))
        return KLAW_INVAL;
    size = (size + (size_t)page - 1) & ~((size_t)page - 1);
    if (name && !name_ok(name))
        return KLAW_INVAL;

    klaw_region *r = calloc(1, sizeof *r);
    if (!r)
        return KLAW_NOMEM;
    void *base;
    if (name) {
        char path[KLAW_REGION_NAME_MAX + 16];
        shm_path(path, sizeof path, name);
        int fd = shm_open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode ? mode : 0600);
        if (fd < 0) {
            int e = errno;
            free(r);
            errno = e;
            return errno_status(e);
        }
        /* shm_open applies the umask; the caller's mode wins */
        if (fchmod(fd, mode ? mode : 0600) != 0 || ftruncate(fd, (off_t)size) != 0) {
            int e = errno;
            close(fd);
            shm_unlink(path);
            free(r);
            errno = e;
            return errno_status(e);
        }
        base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        int e = errno;
        close(fd);
        if (base == MAP_FAILED) {
            shm_unlink(path);
            free(r);
            errno = e;
            return errno_status(e);
        }
        r->named = 1;
        snprintf(r->name, sizeof r->name, "%s", name);
    } else {
        base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (base == MAP_FAILED) {
            int e = errno;
            free(r);
            errno = e;
            return errno_status(e);
        }
    }
    r->base = base;
    r->size = size;

    klaw_region_header *h = base;
    h->magic = KLAW_REGION_MAGIC;
    h->layout_version = KLAW_LAYOUT_VERSION;
    h->endian = KLAW_REGION_ENDIAN;
    h->size = size;
    h->creator = klaw_proc_self();
    h->created_at_ns = realtime_ns();
    h->kind = kind;
    snprintf(h->name, sizeof h->name, "%s", name ? name : "");
    atomic_store_explicit(ready_word(h), 0, memory_order_relaxed);
    *out = r;
    return KLAW_OK;
}

klaw_status klaw_region_publish(klaw_region *r, uint64_t meta_off, uint64_t meta_len, uint64_t body_off,
                                uint64_t body_len)
{
    klaw_region_header *h = r->base;
    if ((meta_len && !klaw_region_at(r->base, r->size, meta_off, meta_len)) ||
        !klaw_region_at(r->base, r->size, body_off, body_len))
        return KLAW_INVAL;
    h->meta_off = meta_off;
    h->meta_len = meta_len;
    h->body_off = body_off;
    h->body_len = body_len;
    /* READY last: everything above (and the body) happens-before any
     * opener's acquire load of READY. */
    atomic_store_explicit(ready_word(h), KLAW_REGION_READY, memory_order_release);
    syscall(SYS_futex, &h->ready, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
    return KLAW_OK;
}

/* ---- open / validate --------------------------------------------------- */

/* Waits for READY up to timeout_ms. Returns KLAW_OK, KLAW_TIMEOUT, or
 * KLAW_CORRUPT when the creator died before publishing. */
static klaw_status wait_ready(klaw_region_header *h, uint32_t timeout_ms)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        uint32_t v = atomic_load_explicit(ready_word(h), memory_order_acquire);
        if (v == KLAW_REGION_READY)
            return KLAW_OK;
        if (v != 0)
            return KLAW_CORRUPT;
        /* read the creator only while not ready: its fields are written
         * before the first byte an opener can see as READY, and a half
         * written identity just reads as a dead process */
        if (!klaw_proc_alive(h->creator))
            return KLAW_CORRUPT;
        clock_gettime(CLOCK_MONOTONIC, &now);
        int64_t waited = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (waited >= (int64_t)timeout_ms)
            return KLAW_TIMEOUT;
        int64_t left = (int64_t)timeout_ms - waited;
        if (left > 10)
            left = 10; /* re-check the creator's liveness every 10 ms */
        struct timespec ts = {0, (long)left * 1000000};
        syscall(SYS_futex, &h->ready, FUTEX_WAIT, 0, &ts, NULL, 0);
    }
}

klaw_status klaw_region_open(const char *name, uint32_t expect_kind, uint32_t timeout_ms, klaw_region **out)
{
    *out = NULL;
    if (!name || !name_ok(name))
        return KLAW_INVAL;
    char path[KLAW_REGION_NAME_MAX + 16];
    shm_path(path, sizeof path, name);
    int fd = shm_open(path, O_RDWR | O_CLOEXEC, 0);
    if (fd < 0)
        return errno_status(errno);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return errno_status(e);
    }
    if (st.st_size < (off_t)sizeof(klaw_region_header)) {
        close(fd);
        return KLAW_CORRUPT;
    }
    size_t size = (size_t)st.st_size;
    void *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    int e = errno;
    close(fd);
    if (base == MAP_FAILED) {
        errno = e;
        return errno_status(e);
    }
    klaw_region_header *h = base;
    klaw_status stt = KLAW_OK;
    /* A creator sizes the object before it writes the header: an all-zero
     * header is a region being born. Give it until the timeout. */
    for (uint32_t waited = 0; __atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) == 0; waited++) {
        if (waited >= timeout_ms) {
            munmap(base, size);
            return KLAW_TIMEOUT;
        }
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    if (h->magic != KLAW_REGION_MAGIC) {
        stt = h->magic == __builtin_bswap64(KLAW_REGION_MAGIC) ? KLAW_VERSION : KLAW_CORRUPT;
    } else if (h->endian != KLAW_REGION_ENDIAN) {
        stt = KLAW_VERSION;
    } else if (h->layout_version != KLAW_LAYOUT_VERSION) {
        stt = KLAW_VERSION;
    } else {
        stt = wait_ready(h, timeout_ms);
    }
    if (stt == KLAW_OK) {
        /* after READY (acquire) the rest of the header is final; check it
         * against what the file really is */
        if (h->size != size)
            stt = KLAW_CORRUPT;
        else if ((h->meta_len && !klaw_region_at(base, size, h->meta_off, h->meta_len)) ||
                 !klaw_region_at(base, size, h->body_off, h->body_len) || h->body_off < sizeof *h ||
                 memchr(h->name, '\0', sizeof h->name) == NULL)
            stt = KLAW_CORRUPT;
        else if (expect_kind && h->kind != expect_kind)
            stt = KLAW_INVAL;
    }
    if (stt != KLAW_OK) {
        munmap(base, size);
        return stt;
    }
    klaw_region *r = calloc(1, sizeof *r);
    if (!r) {
        munmap(base, size);
        return KLAW_NOMEM;
    }
    r->base = base;
    r->size = size;
    r->named = 1;
    snprintf(r->name, sizeof r->name, "%s", name);
    *out = r;
    return KLAW_OK;
}

void klaw_region_close(klaw_region *r)
{
    if (!r)
        return;
    munmap(r->base, r->size);
    free(r);
}

klaw_status klaw_region_unlink(const char *name)
{
    if (!name || !name_ok(name))
        return KLAW_INVAL;
    char path[KLAW_REGION_NAME_MAX + 16];
    shm_path(path, sizeof path, name);
    if (shm_unlink(path) != 0)
        return errno_status(errno);
    return KLAW_OK;
}

void *klaw_region_base(const klaw_region *r) { return r->base; }
size_t klaw_region_size(const klaw_region *r) { return r->size; }
const klaw_region_header *klaw_region_hdr(const klaw_region *r) { return r->base; }
int klaw_region_is_named(const klaw_region *r) { return r->named; }
