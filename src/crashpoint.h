/*
 * src/crashpoint.h - internal: named crash points.
 *
 * Every point where the library changes shared state (a slot state
 * stored, a position moved, a counter bumped, a registry record written, a
 * lock word taken or given, a header field stored) is marked
 * KLAW_CRASHPOINT("kind.what"). In a build with -Dcrashpoints=true each
 * mark counts itself, and once a test has armed the counter
 * (klaw__crash_arm(n)) the n-th mark reached makes the process _exit(77)
 * right there - as if it were killed at that instruction - the way
 * SQLite's fault injection and FoundationDB's simulation walk failures. A
 * test forks a child per n and checks the survivors. In a normal build the
 * marks compile to nothing.
 */
#ifndef KLAW_SRC_CRASHPOINT_H
#define KLAW_SRC_CRASHPOINT_H

#include <stdint.h>

#include "klaw/export.h"

#define KLAW_CRASH_EXIT 77

#ifdef KLAW_CRASHPOINTS
/* Counts the mark; _exit(KLAW_CRASH_EXIT) when it is the armed one. */
KLAW_API void klaw__crash_hit(const char *name);
/* Arms: the n-th mark from now exits (n >= 1); 0 disarms and only counts. */
KLAW_API void klaw__crash_arm(uint64_t n);
/* Marks passed since the last arm. */
KLAW_API uint64_t klaw__crash_count(void);
/* Calls fn(n, name) at every mark from now (NULL: stop); for listing an
 * operation's marks. */
KLAW_API void klaw__crash_trace(void (*fn)(uint64_t n, const char *name));
/* The name of the last mark passed (or the one that fired), "" if none. */
KLAW_API const char *klaw__crash_last(void);
#define KLAW_CRASHPOINT(name) klaw__crash_hit(name)
#else
#define KLAW_CRASHPOINT(name) ((void)0)
#endif

#endif /* KLAW_SRC_CRASHPOINT_H */
