/*
 * proc.c - process identity and liveness (see klaw/region.h).
 *
 * A pid names a process only until it is reaped; the kernel may then give
 * it to another. The start time (field 22 of /proc/<pid>/stat, clock ticks
 * after boot) tells the two apart. A zombie - killed but not yet reaped by
 * its parent - counts as dead: it will never touch shared memory again.
 * Only a zombie whose every thread has exited, though: a leader thread
 * that called pthread_exit() reads as a zombie while the others run.
 *
 * "Cannot tell" is never "dead": without /proc (hidden, unreadable, another
 * pid namespace's) a pid that kill(pid, 0) does not deny is alive. Channels
 * in named regions do not use this at all (src/liveness.h): it serves
 * anonymous regions, shared with fork children in one pid namespace.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "klaw/region.h"

/* Reads /proc/<pid>/<file> into buf (NUL-terminated): 0, or -1 when it
 * cannot be read. */
static int read_proc(int32_t pid, const char *file, char *buf, size_t cap)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, cap - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    return 0;
}

/* Reads state and start time of pid from /proc/<pid>/stat. Returns 0 on
 * success, -1 if the process does not exist (or /proc is unreadable). */
static int read_stat(int32_t pid, char *state, uint64_t *start)
{
    char buf[1024];
    if (read_proc(pid, "stat", buf, sizeof buf) != 0)
        return -1;
    /* "pid (comm) S ..." - comm may hold spaces and ')', so start after
     * the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p || p[1] != ' ')
        return -1;
    p += 2;
    *state = *p;
    /* field 3 is the state; the start time is field 22: 19 more spaces */
    for (int field = 3; field < 22; field++) {
        p = strchr(p, ' ');
        if (!p)
            return -1;
        p++;
    }
    *start = strtoull(p, NULL, 10);
    return 0;
}

klaw_proc_id klaw_proc_self(void)
{
    /* Not cached: it is called when handles are made (a cold path), and a
     * forked child must get its own identity. */
    klaw_proc_id id = {(int32_t)getpid(), 0, 0};
    char st;
    if (read_stat(id.pid, &st, &id.start_time) != 0)
        id.start_time = 0;
    return id;
}

/* The "Threads:" count of /proc/<pid>/status, or -1. */
static int thread_count(int32_t pid)
{
    char buf[4096];
    if (read_proc(pid, "status", buf, sizeof buf) != 0)
        return -1;
    const char *t = strstr(buf, "\nThreads:");
    return t ? atoi(t + 9) : -1;
}

int klaw_proc_alive(klaw_proc_id id)
{
    char st;
    uint64_t start;
    if (id.pid <= 0)
        return 0;
    if (kill(id.pid, 0) != 0 && errno == ESRCH)
        return 0; /* no such process: the kernel says so */
    if (read_stat(id.pid, &st, &start) != 0)
        return 1; /* exists (or cannot be asked), /proc silent: cannot tell */
    if (id.start_time != 0 && start != id.start_time)
        return 0; /* the pid was given to another process */
    if (st == 'X' || st == 'x')
        return 0;
    if (st == 'Z')
        return thread_count(id.pid) > 1; /* a leader that left its threads */
    return 1;
}
