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
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "klaw/region.h"
#include "crashpoint.h"
#include "liveness.h"

struct klaw_region {
    void *base;
    size_t size;
    int named;
    char name[KLAW_REGION_NAME_MAX + 1];
    /* liveness (named regions): an open file description of the object
     * that belongs to this attachment alone, held by the process that
     * opened it; -1 for anonymous regions or when none could be had */
    int lock_fd;
    dev_t dev;
    ino_t ino;
    struct klaw_region *prev, *next; /* the process's attachments */
    klaw__region_local local;        /* our identity (src/liveness.h) */
    int listed;                      /* on the attachment list          */
};

static void local_init(klaw__region_local *l)
{
    pthread_mutex_init(&l->claim_mu, NULL);
    pthread_mutex_init(&l->lock_mu[0], NULL);
    pthread_mutex_init(&l->lock_mu[1], NULL);
    atomic_store(&l->me, 0);
    atomic_store(&l->me_pid, 0);
}

klaw__region_local *klaw__region_local_of(klaw_region *r) { return &r->local; }

/* ---- attachments and fork ------------------------------------------------

   Every named attachment keeps a descriptor of its own shared-memory object
   open: the peers' liveness locks (klaw__region_peer_*) are open-file-
   description locks on it. A fork child shares its parent's descriptions,
   and with them the parent's locks: a child that kept them would make a
   dead parent look alive for as long as it lives. So in the child every
   attachment gets a description of its own (the object opened again by
   name, checked to be the same file; else through /proc/self/fd) and the
   inherited one is closed. The list of attachments is guarded by a mutex
   that the prepare handler takes, so the child finds it consistent. */

static pthread_mutex_t attach_mu = PTHREAD_MUTEX_INITIALIZER;
static klaw_region *attach_head;
static pthread_once_t attach_once = PTHREAD_ONCE_INIT;

/* fd if it is a description of r's object, else closed and -1 */
static int if_same(const klaw_region *r, int fd)
{
    struct stat st;
    if (fd >= 0 && (fstat(fd, &st) != 0 || st.st_dev != r->dev || st.st_ino != r->ino)) {
        close(fd);
        fd = -1; /* the name now names another object */
    }
    return fd;
}

static int reopen_same(const klaw_region *r)
{
    char path[KLAW_REGION_NAME_MAX + 16];
    snprintf(path, sizeof path, "/klaw.%s", r->name);
    int fd = if_same(r, shm_open(path, O_RDWR | O_CLOEXEC, 0));
    if (fd < 0 && r->lock_fd >= 0) {
        /* unlinked (or replaced): the inherited descriptor still reaches
         * the object; opening it through /proc makes a new description */
        snprintf(path, sizeof path, "/proc/self/fd/%d", r->lock_fd);
        fd = if_same(r, open(path, O_RDWR | O_CLOEXEC));
    }
    return fd;
}

static void atfork_prepare(void) { pthread_mutex_lock(&attach_mu); }
static void atfork_parent(void) { pthread_mutex_unlock(&attach_mu); }
static void atfork_child(void)
{
    for (klaw_region *r = attach_head; r; r = r->next) {
        /* a new process: no identity yet, and mutexes that threads of the
         * parent may have held at the fork are fresh here */
        local_init(&r->local);
        if (r->lock_fd < 0)
            continue;
        int fd = reopen_same(r);
        close(r->lock_fd); /* the parent's description: never ours */
        r->lock_fd = fd;   /* -1: this child cannot vouch for itself */
    }
    pthread_mutex_unlock(&attach_mu);
}
static void attach_init(void) { pthread_atfork(atfork_prepare, atfork_parent, atfork_child); }

static void attach_add(klaw_region *r)
{
    pthread_once(&attach_once, attach_init);
    pthread_mutex_lock(&attach_mu);
    r->listed = 1;
    r->prev = NULL;
    r->next = attach_head;
    if (attach_head)
        attach_head->prev = r;
    attach_head = r;
    pthread_mutex_unlock(&attach_mu);
}

static void attach_remove(klaw_region *r)
{
    if (!r->listed)
        return;
    r->listed = 0;
    pthread_mutex_lock(&attach_mu);
    if (r->prev)
        r->prev->next = r->next;
    else if (attach_head == r)
        attach_head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    int fd = r->lock_fd;
    r->lock_fd = -1;
    pthread_mutex_unlock(&attach_mu);
    if (fd >= 0)
        close(fd); /* drops every liveness lock this attachment held */
}

/* Keeps fd as r's liveness descriptor (named regions). */
static void keep_fd(klaw_region *r, int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        r->lock_fd = -1;
        return;
    }
    r->dev = st.st_dev;
    r->ino = st.st_ino;
    r->lock_fd = fd;
    attach_add(r);
}

/* ---- helpers ----------------------------------------------------------- */

int klaw_region_name_ok(const char *name)
{
    if (!name)
        return 0;
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

int64_t klaw__region_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static _Atomic uint32_t *ready_word(klaw_region_header *h) { return (_Atomic uint32_t *)&h->ready; }

/* ---- liveness locks ------------------------------------------------------

   Open-file-description locks (fcntl F_OFD_*) on bytes past the end of any
   region (regions are at most 2^40 bytes; a lock may lie beyond a file's
   end): the kernel holds such a lock for as long as the description is
   open, drops it when the last descriptor closes - when the process exits
   or is killed, whatever pid namespace it lives in - and answers
   F_OFD_GETLK from any process that can open the file. A lock held through
   another description conflicts even within one process, so every
   attachment's locks are its own. */

#define LOCK_CREATOR ((off_t)1 << 40)         /* held by a creator until READY */
#define LOCK_PEER_BASE (((off_t)1 << 40) + 64) /* + i: peer slot i's holder     */

static int ofd_lock(int fd, short type, off_t at, int cmd)
{
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = at, .l_len = 1, .l_pid = 0};
    return fcntl(fd, cmd, &fl);
}

/* 1: a description other than fd's holds the byte; 0: none; -1: cannot
 * tell (the call failed). */
static int ofd_held(int fd, off_t at)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = at, .l_len = 1, .l_pid = 0};
    if (fcntl(fd, F_OFD_GETLK, &fl) != 0)
        return -1;
    return fl.l_type != F_UNLCK;
}

int klaw__region_peer_claim(klaw_region *r, uint32_t slot)
{
    int fd = __atomic_load_n(&r->lock_fd, __ATOMIC_RELAXED);
    if (fd < 0)
        return -1;
    if (ofd_lock(fd, F_WRLCK, LOCK_PEER_BASE + (off_t)slot, F_OFD_SETLK) == 0)
        return 1;
    return errno == EAGAIN || errno == EACCES ? 0 : -1;
}

void klaw__region_peer_unclaim(klaw_region *r, uint32_t slot)
{
    int fd = __atomic_load_n(&r->lock_fd, __ATOMIC_RELAXED);
    if (fd >= 0)
        ofd_lock(fd, F_UNLCK, LOCK_PEER_BASE + (off_t)slot, F_OFD_SETLK);
}

int klaw__region_peer_held(const klaw_region *r, uint32_t slot)
{
    int fd = __atomic_load_n(&r->lock_fd, __ATOMIC_RELAXED);
    if (fd < 0)
        return -1;
    return ofd_held(fd, LOCK_PEER_BASE + (off_t)slot);
}

unsigned klaw__region_mode(const klaw_region *r)
{
    struct stat st;
    int fd = __atomic_load_n(&r->lock_fd, __ATOMIC_RELAXED);
    if (!r->named || fd < 0 || fstat(fd, &st) != 0)
        return 0;
    return (unsigned)st.st_mode & 0777u;
}

int klaw__region_vouched(const klaw_region *r) { return __atomic_load_n(&r->lock_fd, __ATOMIC_RELAXED) >= 0; }

/* ---- create / publish --------------------------------------------------- */

klaw_status klaw_region_create(const char *name, size_t size, uint32_t kind, mode_t mode, klaw_region **out)
{
    return klaw_region_create_group(name, size, kind, mode, (gid_t)-1, out);
}

klaw_status klaw_region_create_group(const char *name, size_t size, uint32_t kind, mode_t mode, gid_t group,
                                     klaw_region **out)
{
    *out = NULL;
    long page = sysconf(_SC_PAGESIZE);
    if (size < sizeof(klaw_region_header) || size > ((size_t)1 << 46))
        return KLAW_INVAL;
    size = (size + (size_t)page - 1) & ~((size_t)page - 1);
    if (name && !klaw_region_name_ok(name))
        return KLAW_INVAL;

    klaw_region *r = calloc(1, sizeof *r);
    if (!r)
        return KLAW_NOMEM;
    r->lock_fd = -1;
    local_init(&r->local);
    void *base;
    if (name) {
        char path[KLAW_REGION_NAME_MAX + 16];
        shm_path(path, sizeof path, name);
        /* 0600 until the group is set: nobody of the old group may open
         * it in between (fchmod below gives the caller's mode) */
        int fd = shm_open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0) {
            int e = errno;
            free(r);
            errno = e;
            return errno_status(e);
        }
        /* "being born" until READY: openers see this lock (and a creator
         * that died before READY by its absence); then the group (before
         * the mode: a chown may clear mode bits), the mode (shm_open
         * applies the umask; the caller's mode wins) and the size */
        if (ofd_lock(fd, F_WRLCK, LOCK_CREATOR, F_OFD_SETLK) != 0 ||
            (group != (gid_t)-1 && fchown(fd, (uid_t)-1, group) != 0) || fchmod(fd, mode ? mode : 0600) != 0 ||
            ftruncate(fd, (off_t)size) != 0) {
            int e = errno;
            close(fd);
            shm_unlink(path);
            free(r);
            errno = e;
            return errno_status(e);
        }
        base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        int e = errno;
        if (base == MAP_FAILED) {
            close(fd);
            shm_unlink(path);
            free(r);
            errno = e;
            return errno_status(e);
        }
        r->named = 1;
        snprintf(r->name, sizeof r->name, "%s", name);
        keep_fd(r, fd);
    } else {
        base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (base == MAP_FAILED) {
            int e = errno;
            free(r);
            errno = e;
            return errno_status(e);
        }
        attach_add(r); /* (for the fork child's fresh identity) */
    }
    r->base = base;
    r->size = size;

    klaw_region_header *h = base;
    h->layout_version = KLAW_LAYOUT_VERSION;
    h->endian = KLAW_REGION_ENDIAN;
    h->size = size;
    h->creator = klaw_proc_self();
    h->created_at_ns = realtime_ns();
    h->kind = kind;
    snprintf(h->name, sizeof h->name, "%s", name ? name : "");
    atomic_store_explicit(ready_word(h), 0, memory_order_relaxed);
    KLAW_CRASHPOINT("region.create.header");
    /* magic last, with release: an opener that sees it (acquire) sees the
     * whole header - never magic with a version or size not yet written */
    __atomic_store_n(&h->magic, KLAW_REGION_MAGIC, __ATOMIC_RELEASE);
    KLAW_CRASHPOINT("region.create.magic");
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
    KLAW_CRASHPOINT("region.publish.offsets");
    /* READY last: everything above (and the body) happens-before any
     * opener's acquire load of READY. */
    atomic_store_explicit(ready_word(h), KLAW_REGION_READY, memory_order_release);
    KLAW_CRASHPOINT("region.publish.ready");
    syscall(SYS_futex, &h->ready, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
    /* born: openers that look for the creator's lock from now on re-read
     * READY first (wait_ready) */
    if (r->lock_fd >= 0)
        ofd_lock(r->lock_fd, F_UNLCK, LOCK_CREATOR, F_OFD_SETLK);
    return KLAW_OK;
}

/* ---- open / validate --------------------------------------------------- */

/* Waits for READY up to timeout_ms. Returns KLAW_OK, KLAW_TIMEOUT, or
 * KLAW_CORRUPT when the creator died before publishing: it holds its
 * creator lock from before the magic is written until after READY, so
 * magic without READY and without the lock is a creator that is gone. */
static klaw_status wait_ready(klaw_region_header *h, int fd, uint32_t timeout_ms)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        uint32_t v = atomic_load_explicit(ready_word(h), memory_order_acquire);
        if (v == KLAW_REGION_READY)
            return KLAW_OK;
        if (v != 0)
            return KLAW_CORRUPT;
        if (ofd_held(fd, LOCK_CREATOR) == 0) {
            /* no creator: READY was published before it let go, or never */
            v = atomic_load_explicit(ready_word(h), memory_order_acquire);
            return v == KLAW_REGION_READY ? KLAW_OK : KLAW_CORRUPT;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        int64_t waited = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (waited >= (int64_t)timeout_ms)
            return KLAW_TIMEOUT;
        int64_t left = (int64_t)timeout_ms - waited;
        if (left > 10)
            left = 10; /* re-check the creator every 10 ms */
        struct timespec ts = {0, (long)left * 1000000};
        syscall(SYS_futex, &h->ready, FUTEX_WAIT, 0, &ts, NULL, 0);
    }
}

/* Waits, up to timeout_ms, for a region being born to be sized and to
 * have its magic (a creator makes the object, locks LOCK_CREATOR, sizes
 * it, fills the header and stores magic last). Returns KLAW_OK with the
 * size; KLAW_TIMEOUT while its creator still holds the lock; KLAW_CORRUPT
 * when nobody does (a creator that died, or not a klaw region). */
static klaw_status wait_born(int fd, uint32_t timeout_ms, size_t *size)
{
    int64_t end = klaw__region_now_ms() + (int64_t)timeout_ms;
    for (int last = 0;; ) {
        struct stat st;
        if (fstat(fd, &st) != 0)
            return errno_status(errno);
        if (st.st_size >= (off_t)sizeof(klaw_region_header)) {
            uint64_t magic = 0;
            if (pread(fd, &magic, sizeof magic, 0) == (ssize_t)sizeof magic && magic != 0) {
                *size = (size_t)st.st_size;
                return KLAW_OK;
            }
        }
        if (last)
            return ofd_held(fd, LOCK_CREATOR) == 1 ? KLAW_TIMEOUT : KLAW_CORRUPT;
        if (klaw__region_now_ms() >= end) {
            last = 1; /* one more look, then decide */
            continue;
        }
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
}

klaw_status klaw_region_open(const char *name, uint32_t expect_kind, uint32_t timeout_ms, klaw_region **out)
{
    *out = NULL;
    if (!name || !klaw_region_name_ok(name))
        return KLAW_INVAL;
    char path[KLAW_REGION_NAME_MAX + 16];
    shm_path(path, sizeof path, name);
    int fd = shm_open(path, O_RDWR | O_CLOEXEC, 0);
    if (fd < 0)
        return errno_status(errno);
    size_t size = 0;
    klaw_status stt = wait_born(fd, timeout_ms, &size);
    if (stt != KLAW_OK) {
        int e = errno;
        close(fd);
        errno = e;
        return stt;
    }
    void *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        int e = errno;
        close(fd);
        errno = e;
        return errno_status(e);
    }
    klaw_region_header *h = base;
    /* pairs with the creator's release store of magic: the header is whole */
    (void)__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE);
    if (h->magic != KLAW_REGION_MAGIC) {
        stt = h->magic == __builtin_bswap64(KLAW_REGION_MAGIC) ? KLAW_VERSION : KLAW_CORRUPT;
    } else if (h->endian != KLAW_REGION_ENDIAN) {
        stt = KLAW_VERSION;
    } else if (h->layout_version != KLAW_LAYOUT_VERSION) {
        stt = KLAW_VERSION;
    } else {
        stt = wait_ready(h, fd, timeout_ms);
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
        close(fd);
        return stt;
    }
    klaw_region *r = calloc(1, sizeof *r);
    if (!r) {
        munmap(base, size);
        close(fd);
        return KLAW_NOMEM;
    }
    r->base = base;
    r->size = size;
    r->named = 1;
    local_init(&r->local);
    snprintf(r->name, sizeof r->name, "%s", name);
    keep_fd(r, fd);
    *out = r;
    return KLAW_OK;
}

void klaw_region_close(klaw_region *r)
{
    if (!r)
        return;
    attach_remove(r);
    pthread_mutex_destroy(&r->local.claim_mu);
    pthread_mutex_destroy(&r->local.lock_mu[0]);
    pthread_mutex_destroy(&r->local.lock_mu[1]);
    munmap(r->base, r->size);
    free(r);
}

klaw_status klaw_region_unlink(const char *name)
{
    if (!name || !klaw_region_name_ok(name))
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
