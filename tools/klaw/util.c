/*
 * util.c - the pieces every klaw command uses: a growable buffer, reading
 * input whole, writing output, the messages for channels that cannot be
 * opened, numbers and times written for people, and stop signals.
 *
 * Input is read whole into a buffer that doubles as it grows; a command
 * builds its output in memory first, so a malformed value prints nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "klaw_tool.h"

/* ---- growable byte buffer ---------------------------------------------- */

bool buf_reserve(buf *b, size_t more)
{
    if (more <= b->cap - b->len)
        return true;
    if (more > SIZE_MAX / 2 - b->len)
        return false;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < more)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p)
        return false;
    b->p = p;
    b->cap = cap;
    return true;
}

bool buf_append(buf *b, const void *data, size_t len)
{
    if (!buf_reserve(b, len))
        return false;
    memcpy(b->p + b->len, data, len);
    b->len += len;
    return true;
}

bool buf_printf(buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !buf_reserve(b, (size_t)n + 1))
        return false;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return true;
}

void buf_free(buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

klaw_status buf_write_fn(void *ctx, const char *data, size_t len)
{
    return buf_append(ctx, data, len) ? KLAW_OK : KLAW_NOMEM;
}

/* ---- I/O ---------------------------------------------------------------- */

int fail_msg(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("klaw: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return EXIT_FAILURE;
}

int usage_msg(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "klaw %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see klaw %s --help)\n", cmd);
    va_end(ap);
    return EXIT_USAGE;
}

int read_input(const char *path, buf *b)
{
    int fd = 0;
    bool is_stdin = !path || strcmp(path, "-") == 0;
    if (!is_stdin) {
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return fail_msg("cannot open %s: %s", path, strerror(errno));
    }
    struct stat sb;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0)
        buf_reserve(b, (size_t)sb.st_size + 1); /* a hint; reading decides */
    int rc = 0;
    for (;;) {
        if (!buf_reserve(b, 65536)) {
            rc = fail_msg("out of memory reading input");
            break;
        }
        ssize_t n = read(fd, b->p + b->len, b->cap - b->len);
        if (n > 0) {
            b->len += (size_t)n;
        } else if (n == 0) {
            break;
        } else if (errno != EINTR) {
            rc = fail_msg("cannot read %s: %s", is_stdin ? "stdin" : path, strerror(errno));
            break;
        }
    }
    if (!is_stdin)
        close(fd);
    return rc;
}

int write_out(const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t n = write(1, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return fail_msg("cannot write output: %s", strerror(errno));
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* ---- channels ---------------------------------------------------------------- */

int channel_error(const char *name, klaw_status st, const char *why)
{
    switch (st) {
    case KLAW_NOENT: return fail_msg("no channel named '%s' (no /dev/shm/klaw.%s)", name, name);
    case KLAW_INVAL:
        return fail_msg("invalid channel name '%s' (1..%d characters of A-Z a-z 0-9 . _ -)", name,
                        KLAW_REGION_NAME_MAX);
    case KLAW_CORRUPT: return fail_msg("channel '%s' is corrupt: %s", name, why ? why : klaw_strerror(st));
    case KLAW_TIMEOUT: return fail_msg("channel '%s' is still being created", name);
    case KLAW_PERM: return fail_msg("channel '%s': permission denied", name);
    default: return fail_msg("cannot open channel '%s': %s", name, why ? why : klaw_strerror(st));
    }
}

int kind_open_error(const char *name, klaw_status st, klaw_channel_type kind)
{
    if (st == KLAW_CORRUPT)
        return fail_msg("channel '%s' is corrupt: its %s layout fails validation", name,
                        klaw_channel_type_name(kind));
    return channel_error(name, st, NULL);
}

int open_channel(const char *name, klaw_channel **ch)
{
    const char *why = NULL;
    klaw_status st = klaw_channel_open(name, 1000, ch, &why);
    return st == KLAW_OK ? 0 : channel_error(name, st, why);
}

/* ---- numbers and times for people -------------------------------------------- */

void format_time(struct timespec ts, char *out, size_t cap)
{
    struct tm tm;
    time_t t = ts.tv_sec;
    if (!gmtime_r(&t, &tm)) {
        snprintf(out, cap, "%lld s", (long long)ts.tv_sec);
        return;
    }
    char base[64];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    if (ts.tv_nsec)
        snprintf(out, cap, "%s.%09ldZ", base, (long)ts.tv_nsec);
    else
        snprintf(out, cap, "%sZ", base);
}

/* v / unit with three significant digits ("4", "1.50", "17.4", "512"),
 * whole numbers without decimals when exact. */
static void three_digits(uint64_t v, uint64_t unit, const char *suffix, char *out, size_t cap)
{
    if (v % unit == 0) {
        snprintf(out, cap, "%llu %s", (unsigned long long)(v / unit), suffix);
        return;
    }
    double x = (double)v / (double)unit;
    snprintf(out, cap, x < 10 ? "%.2f %s" : x < 100 ? "%.1f %s" : "%.0f %s", x, suffix);
}

void format_size(uint64_t bytes, char *out, size_t cap)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (bytes < 1024) {
        snprintf(out, cap, "%llu B", (unsigned long long)bytes);
        return;
    }
    uint64_t unit = 1024;
    int i = 0;
    /* 1023.5 KiB would round to "1024 KiB": move up a unit early */
    while (i < 5 && bytes >= unit * 1024 - unit / 2) {
        unit *= 1024;
        i++;
    }
    three_digits(bytes, unit, units[i], out, cap);
}

void format_count(uint64_t n, char *out, size_t cap)
{
    static const char *const units[] = {"k", "M", "G", "T", "P", "E"};
    if (n < 100000) {
        snprintf(out, cap, "%llu", (unsigned long long)n);
        return;
    }
    uint64_t unit = 1000;
    int i = 0;
    while (i < 5 && n >= unit * 1000 - unit / 2) {
        unit *= 1000;
        i++;
    }
    three_digits(n, unit, units[i], out, cap);
}

void format_age(int64_t ns, char *out, size_t cap)
{
    if (ns < 0)
        ns = 0;
    double s = (double)ns / 1e9;
    if (s < 1)
        snprintf(out, cap, "%lld ms", (long long)(ns / 1000000));
    else if (s < 60)
        snprintf(out, cap, "%.1f s", s);
    else if (s < 3600)
        snprintf(out, cap, "%.1f min", s / 60);
    else if (s < 86400)
        snprintf(out, cap, "%.1f h", s / 3600);
    else
        snprintf(out, cap, "%.1f d", s / 86400);
}

/* ---- signals ----------------------------------------------------------------- */

volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

void catch_stop_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN); /* a closed stdout is a write error, not death */
}
