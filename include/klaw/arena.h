/*
 * klaw/arena.h - a bump allocator over memory the caller provides.
 *
 * The schema decoder puts everything that does not fit in the caller's
 * struct (array items, map entries, copied strings) into an arena, so
 * decoding a frame never calls malloc. The arena never grows: when a request
 * does not fit, klaw_arena_alloc() returns NULL and the arena is unchanged.
 *
 * Invariant: used <= cap, and base[0, used) is what has been handed out.
 * Nothing is freed one allocation at a time: klaw_arena_reset() (or going
 * back to a klaw_arena_mark()) releases everything allocated after it.
 *
 * Memory from the arena is not zeroed. The arena does not own `base`.
 * Thread safety: an arena is a plain value used by one thread at a time.
 */
#ifndef KLAW_ARENA_H
#define KLAW_ARENA_H

#include <stddef.h>
#include <stdint.h>

#include "klaw/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct klaw_arena {
    uint8_t *base; /* the caller's memory (may be NULL when cap is 0)       */
    size_t cap;    /* its size in bytes                                      */
    size_t used;   /* bytes handed out so far, alignment padding included    */
} klaw_arena;

/* Starts an arena over mem[0, cap). mem may be NULL (cap is then taken as
 * 0): every allocation fails, which is right for schemas that never need
 * one. */
static inline void klaw_arena_init(klaw_arena *a, void *mem, size_t cap)
{
    a->base = (uint8_t *)mem;
    a->cap = mem ? cap : 0;
    a->used = 0;
}

/* Returns size bytes aligned to align (a power of two, counted on the real
 * address, not the offset), or NULL when they do not fit - then the arena
 * is unchanged. size 0 also returns NULL (and changes nothing). */
static inline void *klaw_arena_alloc(klaw_arena *a, size_t size, size_t align)
{
    if (size == 0 || a->base == NULL)
        return NULL;
    uintptr_t at = (uintptr_t)(a->base + a->used);
    size_t pad = (size_t)(-at & (uintptr_t)(align - 1));
    if (pad > a->cap - a->used || size > a->cap - a->used - pad)
        return NULL;
    void *p = a->base + a->used + pad;
    a->used += pad + size;
    return p;
}

/* The current fill mark, to come back to with klaw_arena_release(). */
static inline size_t klaw_arena_mark(const klaw_arena *a) { return a->used; }

/* Releases everything allocated since `mark` (a value klaw_arena_mark()
 * returned on this arena, not later reset past). */
static inline void klaw_arena_release(klaw_arena *a, size_t mark)
{
    if (mark <= a->used)
        a->used = mark;
}

/* Releases everything: the whole of base[0, cap) is free again. */
static inline void klaw_arena_reset(klaw_arena *a) { a->used = 0; }

/* Bytes still free (before any alignment padding). */
static inline size_t klaw_arena_avail(const klaw_arena *a) { return a->cap - a->used; }

#ifdef __cplusplus
}
#endif

#endif /* KLAW_ARENA_H */
