/* status.c - names and descriptions of klaw_status codes. */
#include "klaw/status.h"
#include "klaw/version.h"

static const char *const descriptions[KLAW_STATUS_COUNT_] = {
    [KLAW_OK] = "success",
    [KLAW_EMPTY] = "nothing to receive",
    [KLAW_FULL] = "no room to send",
    [KLAW_CLOSED] = "channel closed",
    [KLAW_TIMEOUT] = "deadline passed",
    [KLAW_LAGGED] = "receiver lagged; frames were skipped",
    [KLAW_ALREADY_SENT] = "value already sent",
    [KLAW_NO_RECEIVERS] = "no receivers",
    [KLAW_TOOBIG] = "too big for the buffer or frame limit",
    [KLAW_INVAL] = "invalid argument",
    [KLAW_NOMEM] = "out of memory",
    [KLAW_EXIST] = "already exists",
    [KLAW_NOENT] = "no such object",
    [KLAW_PERM] = "permission denied",
    [KLAW_CORRUPT] = "corrupt region or frame",
    [KLAW_VERSION] = "layout or wire version mismatch",
    [KLAW_DECODE] = "decode error",
    [KLAW_VALIDATE] = "validation error",
    [KLAW_SYS] = "system call failed",
};

static const char *const names[KLAW_STATUS_COUNT_] = {
    [KLAW_OK] = "KLAW_OK",
    [KLAW_EMPTY] = "KLAW_EMPTY",
    [KLAW_FULL] = "KLAW_FULL",
    [KLAW_CLOSED] = "KLAW_CLOSED",
    [KLAW_TIMEOUT] = "KLAW_TIMEOUT",
    [KLAW_LAGGED] = "KLAW_LAGGED",
    [KLAW_ALREADY_SENT] = "KLAW_ALREADY_SENT",
    [KLAW_NO_RECEIVERS] = "KLAW_NO_RECEIVERS",
    [KLAW_TOOBIG] = "KLAW_TOOBIG",
    [KLAW_INVAL] = "KLAW_INVAL",
    [KLAW_NOMEM] = "KLAW_NOMEM",
    [KLAW_EXIST] = "KLAW_EXIST",
    [KLAW_NOENT] = "KLAW_NOENT",
    [KLAW_PERM] = "KLAW_PERM",
    [KLAW_CORRUPT] = "KLAW_CORRUPT",
    [KLAW_VERSION] = "KLAW_VERSION",
    [KLAW_DECODE] = "KLAW_DECODE",
    [KLAW_VALIDATE] = "KLAW_VALIDATE",
    [KLAW_SYS] = "KLAW_SYS",
};

const char *klaw_strerror(klaw_status s)
{
    if ((unsigned)s >= KLAW_STATUS_COUNT_)
        return "unknown status";
    return descriptions[s];
}

const char *klaw_status_name(klaw_status s)
{
    if ((unsigned)s >= KLAW_STATUS_COUNT_)
        return "KLAW_?";
    return names[s];
}

const char *klaw_version(void) { return KLAW_VERSION_STRING; }
