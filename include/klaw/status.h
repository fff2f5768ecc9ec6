/*
 * klaw/status.h - the status codes every fallible klaw call returns.
 *
 * 0 is KLAW_OK; every other value names one outcome. The channel outcomes
 * mirror klaw-core's (EMPTY, FULL, CLOSED, TIMEOUT, LAGGED, ALREADY_SENT,
 * NO_RECEIVERS); the rest describe errors. Calls that can fail in more than
 * one way for the same status also fill a detail struct (for example
 * klaw_mp_error for DECODE and VALIDATE).
 */
#ifndef KLAW_STATUS_H
#define KLAW_STATUS_H

#include "klaw/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum klaw_status {
    KLAW_OK = 0,
    KLAW_EMPTY,        /* nothing to receive right now (try_ forms)            */
    KLAW_FULL,         /* no room to send right now (try_ forms)               */
    KLAW_CLOSED,       /* the other side is gone for good                      */
    KLAW_TIMEOUT,      /* the deadline passed first                            */
    KLAW_LAGGED,       /* a broadcast receiver was overrun; frames skipped     */
    KLAW_ALREADY_SENT, /* a oneshot was already sent                           */
    KLAW_NO_RECEIVERS, /* a broadcast send found no receivers                  */
    KLAW_TOOBIG,       /* the value does not fit the buffer or frame limit     */
    KLAW_INVAL,        /* an argument is out of its documented domain          */
    KLAW_NOMEM,        /* out of memory (or out of a caller's arena)           */
    KLAW_EXIST,        /* the named object already exists                      */
    KLAW_NOENT,        /* the named object does not exist                      */
    KLAW_PERM,         /* the operating system refused access                  */
    KLAW_CORRUPT,      /* a region or frame failed validation                  */
    KLAW_VERSION,      /* layout or wire version mismatch                      */
    KLAW_DECODE,       /* malformed bytes (detail: byte offset and reason)     */
    KLAW_VALIDATE,     /* well-formed, wrong type or value (detail: path)      */
    KLAW_SYS,          /* an operating-system call failed (detail: errno)      */
    KLAW_STATUS_COUNT_ /* not a status: the number of codes                    */
} klaw_status;

/* A short, static, human-readable description of `s` ("decode error",
 * "channel closed", ...). Unknown values give "unknown status". Never NULL,
 * never allocates, safe from any thread. */
KLAW_API const char *klaw_strerror(klaw_status s);

/* The code's identifier as a static string ("KLAW_DECODE"); "KLAW_?" for an
 * unknown value. */
KLAW_API const char *klaw_status_name(klaw_status s);

#ifdef __cplusplus
}
#endif

#endif /* KLAW_STATUS_H */
