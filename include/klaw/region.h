/*
 * klaw/region.h - one contiguous mapping that holds a channel: anonymous
 * memory (threads of one process, and children forked after creation) or a
 * named POSIX shared-memory object (any process that knows the name).
 *
 * Everything inside a region refers to other parts of it by offset, never by
 * pointer, so one layout serves threads and processes. A region begins with
 * a header (klaw_region_header) that says what it is; the creator fills the
 * region, then publishes READY last, with release ordering, and wakes anyone
 * waiting for it. Opening validates the header, and every offset a caller
 * later follows goes through klaw_region_ptr(), which bounds-checks it: the
 * memory of another process is untrusted input, so a corrupt or hostile
 * region yields KLAW_CORRUPT, never an out-of-bounds access.
 *
 * Named regions live in /dev/shm as "klaw.<name>" (shm_open("/klaw.<name>")),
 * created with O_EXCL and mode 0600 unless the caller gives another mode.
 * A name is 1..KLAW_REGION_NAME_MAX characters from [A-Za-z0-9._-].
 *
 * Thread safety: a klaw_region handle is immutable after create/open and may
 * be used from any thread; close it once, after every user is done.
 *
 * Liveness - who is alive among the processes sharing a channel - is the
 * kernel's word, not a guess from /proc:
 *   - Named regions: every attachment (create or open) keeps a descriptor
 *     of the shared-memory object open for as long as it is attached, and
 *     whatever it owns in the channel (a handle, a claim, the table lock)
 *     is tied to an open-file-description lock (fcntl F_OFD_SETLK) on one
 *     byte of that object. The kernel holds such a lock until the process
 *     exits or is killed, and answers F_OFD_GETLK for it from any process
 *     that can open the file. So a peer is dead exactly when it is gone; a
 *     stopped, slow or swapped-out process is alive; and the check needs
 *     neither a shared pid namespace nor /proc. Containers must share the
 *     object's file system (/dev/shm, the same tmpfs) and nothing else: not
 *     the pid namespace, not /proc. Docker's default seccomp profile allows
 *     fcntl, and file locks on a tmpfs are local to the host's kernel.
 *     "Cannot tell" (the lock query fails) counts as alive.
 *   - A fork child gets a description of its own for each attachment it
 *     inherits (and closes the inherited one), so its parent's death is
 *     seen while the child lives on. Where the name was removed and /proc
 *     is unreadable, the child cannot get one: taking a new handle there
 *     returns KLAW_SYS (the inherited handles still work).
 *   - Anonymous regions (threads, and children forked after creation: one
 *     pid namespace by construction) use the pid: a peer is dead when
 *     kill(pid, 0) says ESRCH or /proc shows a zombie whose every thread has
 *     exited; a pid reused by an unrelated process keeps a dead peer alive
 *     until that process ends (the conservative side).
 *   - Creation: a creator holds a lock of its own on the object from before
 *     the header exists until READY is published, and stores the header's
 *     magic last (release). An opener treats an object too short, or with
 *     no magic yet, or not READY, as "being born" for as long as that lock
 *     is held (up to its timeout: KLAW_TIMEOUT), and as KLAW_CORRUPT once
 *     nobody holds it (a creator that died half way).
 * The channels' lifecycle core (channels/lifecycle.h) builds on this; what
 * each kind then guarantees is in docs/recovery.md.
 */
#ifndef KLAW_REGION_H
#define KLAW_REGION_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "klaw/export.h"
#include "klaw/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KLAW_REGION_MAGIC 0x314e4752574b4c4bull /* "KLKWRGN1" little-endian */
#define KLAW_REGION_ENDIAN 0x01020304u
/* The layout of every kind's body; a region of another version is
 * refused (KLAW_VERSION). 2: the mpmc ring's config gained data_off and
 * data_stride (a one-to-one ring keeps its frames' bytes apart from the
 * slot headers). 3: every kind keeps its handles, peers and lock in the
 * lifecycle block (channels/lifecycle.h); liveness by file locks; laps
 * compared modulo their width. */
#define KLAW_LAYOUT_VERSION 3u
/* Constants of that layout, shared by every kind: */
#define KLAW_CACHELINE 64u                  /* alignment of shared lines      */
#define KLAW_CTL_OFF 1024u                  /* a kind's control block         */
#define KLAW_LIVENESS_DEFAULT_NS 1000000000ull /* how often waiters reap      */
#define KLAW_REGION_READY 0x52454459u /* "READ" */
#define KLAW_REGION_NAME_MAX 200

/* 1 if name is a valid region (and channel) name: 1..KLAW_REGION_NAME_MAX
 * characters from [A-Za-z0-9._-]; 0 otherwise (NULL included). Every call
 * that takes a name checks it this way and says KLAW_INVAL otherwise. */
KLAW_API int klaw_region_name_ok(const char *name);

/* The identity of a process by pid: a pid alone can be reused, so the
 * kernel's start time of that pid (clock ticks after boot, field 22 of
 * /proc/<pid>/stat; 0 when /proc cannot be read) goes with it. Informative
 * (the region header's creator); channels in named regions do not use it
 * for liveness (see above). */
typedef struct klaw_proc_id {
    int32_t pid;
    uint32_t reserved_;
    uint64_t start_time;
} klaw_proc_id;

/* The identity of the calling process (read from /proc each call: a cold
 * path, used when handles are made). */
KLAW_API klaw_proc_id klaw_proc_self(void);

/* 0 when the process is gone: kill(pid, 0) says ESRCH, or /proc shows
 * another start time (when id.start_time is not 0) or a zombie whose every
 * thread has exited (a leader thread that called pthread_exit() while
 * others run is alive). 1 otherwise - including "cannot tell" (/proc
 * hidden or unreadable, another pid namespace's pid): never "dead" on a
 * guess. A cold path (system calls), never on a hot one. */
KLAW_API int klaw_proc_alive(klaw_proc_id id);

/* The header at offset 0 of every region (one cache line pair; fields are
 * written by the creator before READY and never change after). */
typedef struct klaw_region_header {
    uint64_t magic;          /* KLAW_REGION_MAGIC                          */
    uint32_t layout_version; /* KLAW_LAYOUT_VERSION                        */
    uint32_t endian;         /* KLAW_REGION_ENDIAN in the creator's order  */
    uint64_t size;           /* bytes in the whole region                  */
    klaw_proc_id creator;    /* who created it                             */
    int64_t created_at_ns;   /* CLOCK_REALTIME at creation                 */
    uint32_t ready;          /* KLAW_REGION_READY once complete (futex)    */
    uint32_t kind;           /* what the region holds (a channel kind)     */
    uint64_t meta_off;       /* the metadata record (MessagePack)          */
    uint64_t meta_len;
    uint64_t body_off;       /* the channel's control block                */
    uint64_t body_len;
    char name[KLAW_REGION_NAME_MAX + 1]; /* NUL-terminated; "" if anonymous */
} klaw_region_header;

typedef struct klaw_region klaw_region;

/* Creates a region of `size` bytes (at least sizeof(klaw_region_header);
 * rounded up to the page size), zero-filled, with the header written but not
 * READY. name NULL: anonymous shared memory (MAP_SHARED, so a child forked
 * after this call shares it). name given: a new shared-memory object
 * ("/klaw.<name>"), O_EXCL, with `mode` (0 means 0600).
 * Returns KLAW_OK, KLAW_INVAL (bad name or size), KLAW_EXIST (the name is
 * taken), KLAW_PERM, KLAW_NOMEM, or KLAW_SYS (errno kept in errno). */
KLAW_API klaw_status klaw_region_create(const char *name, size_t size, uint32_t kind, mode_t mode,
                                        klaw_region **out);

/* klaw_region_create(), and for a named region the shared-memory object's
 * group set to `group` (fchown) before its mode is applied and before
 * anything is written in it, so no other process can open it under the
 * old group; (gid_t)-1 leaves the group as the system made it (the
 * creator's, or the directory's), as klaw_region_create() does. A group
 * with a mode such as 0660 shares the channel with that group's members
 * (opening needs read and write). Anonymous regions ignore both. Also
 * KLAW_PERM when this process may not give the object that group (an
 * unprivileged creator must be a member). */
KLAW_API klaw_status klaw_region_create_group(const char *name, size_t size, uint32_t kind, mode_t mode,
                                              gid_t group, klaw_region **out);

/* Publishes the region: sets the header's body/meta offsets (checked
 * against the size: KLAW_INVAL) and READY, with release ordering, and wakes
 * processes waiting in klaw_region_open(). Call once, after the body is
 * initialised. */
KLAW_API klaw_status klaw_region_publish(klaw_region *r, uint64_t meta_off, uint64_t meta_len, uint64_t body_off,
                                         uint64_t body_len);

/* Opens an existing named region and validates it. Waits until
 * `timeout_ms` for a region still being created to become READY (0: do not
 * wait). Returns KLAW_OK; KLAW_INVAL (bad name); KLAW_NOENT (no such
 * region); KLAW_PERM; KLAW_CORRUPT (not a klaw region, truncated, size or
 * offsets that do not fit, creator died before READY); KLAW_VERSION (other
 * layout version or endianness); KLAW_TIMEOUT (still not READY); KLAW_SYS.
 * `expect_kind` 0 accepts any kind, otherwise a different kind is
 * KLAW_INVAL. */
KLAW_API klaw_status klaw_region_open(const char *name, uint32_t expect_kind, uint32_t timeout_ms,
                                      klaw_region **out);

/* Unmaps and frees the handle (the shared object stays until unlinked).
 * NULL is ignored. */
KLAW_API void klaw_region_close(klaw_region *r);

/* Removes the name of a shared region ("/klaw.<name>"); mappings stay
 * valid. KLAW_NOENT if there is none. */
KLAW_API klaw_status klaw_region_unlink(const char *name);

KLAW_API void *klaw_region_base(const klaw_region *r);
KLAW_API size_t klaw_region_size(const klaw_region *r);
KLAW_API const klaw_region_header *klaw_region_hdr(const klaw_region *r);
/* 1 when the region is a named shared-memory object (futexes must then be
 * shared, not FUTEX_PRIVATE). Anonymous regions count as shared too when
 * they may be inherited by fork, so this reports "named" only. */
KLAW_API int klaw_region_is_named(const klaw_region *r);

/* A pointer to [off, off + len) inside the region, or NULL when any byte of
 * it falls outside (overflow-safe). The one way to follow an offset. */
static inline void *klaw_region_at(void *base, size_t size, uint64_t off, uint64_t len)
{
    if (off > size || len > size - off)
        return NULL;
    return (uint8_t *)base + off;
}

#ifdef __cplusplus
}
#endif

#endif /* KLAW_REGION_H */
