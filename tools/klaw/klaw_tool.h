/*
 * tools/klaw/klaw_tool.h - what the `klaw` command's files share: the
 * growable buffer, input and output, the one option parser, the messages
 * for channels that cannot be opened, and numbers written for people.
 *
 * Exit status of every command: 0 on success, 1 when the input is
 * malformed or an I/O, channel or memory error happens (one line
 * `klaw: ...` on stderr), 2 for a usage error (`klaw CMD: ... (see klaw CMD
 * --help)`).
 */
#ifndef KLAW_TOOL_H
#define KLAW_TOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>

#include "klaw/channel.h"
#include "klaw/klaw.h"

#define EXIT_USAGE 2

/* ---- growable byte buffer (util.c) ------------------------------------- */

typedef struct buf {
    char *p;
    size_t len;
    size_t cap;
} buf;

/* Makes room for `more` bytes past len; false when out of memory. */
bool buf_reserve(buf *b, size_t more);
bool buf_append(buf *b, const void *data, size_t len);
/* Appends printf text; false when out of memory. */
__attribute__((format(printf, 2, 3))) bool buf_printf(buf *b, const char *fmt, ...);
void buf_free(buf *b);
/* klaw_json_write_fn appending to a buf (ctx). */
klaw_status buf_write_fn(void *ctx, const char *data, size_t len);

/* ---- I/O (util.c) -------------------------------------------------------- */

/* Prints "klaw: <message>" on stderr; returns EXIT_FAILURE. */
__attribute__((format(printf, 1, 2))) int fail_msg(const char *fmt, ...);
/* Prints "klaw CMD: <message> (see klaw CMD --help)" on stderr; returns
 * EXIT_USAGE. */
__attribute__((format(printf, 2, 3))) int usage_msg(const char *cmd, const char *fmt, ...);
/* Reads all of path ("-" or NULL: stdin) into *b. Returns 0 or prints why
 * and returns EXIT_FAILURE. */
int read_input(const char *path, buf *b);
/* Writes all of data to stdout. Returns 0 or prints why and returns
 * EXIT_FAILURE. */
int write_out(const void *data, size_t len);

/* ---- the option parser (main.c) ------------------------------------------ */

#define KT_MAX_OPTS 24
#define KT_MAX_OPS 64

/* One option of a command: "--follow", alias "-f" (or NULL); with a value
 * ("--capacity 8" or "--capacity=8") or a flag. A table ends with a NULL
 * name. */
typedef struct opt_spec {
    const char *name;
    const char *alias;
    bool has_value;
} opt_spec;

/* What parse_opts found: seen[k] and vals[k] for specs[k], the operands,
 * and whether -h/--help was given. */
typedef struct cmd_args {
    bool seen[KT_MAX_OPTS];
    const char *vals[KT_MAX_OPTS];
    const char *ops[KT_MAX_OPS];
    int n_ops;
    bool help;
} cmd_args;

/* Splits argv (the arguments after the command's name) into the options of
 * specs (NULL: none) and up to max_ops operands ("--" ends the options; "-"
 * is an operand). An operand past max_ops is a usage error saying
 * too_many, or "unexpected argument 'X'" when too_many is NULL. Returns 0,
 * or prints the usage error and returns EXIT_USAGE. */
int parse_opts(const char *cmd, int argc, char **argv, const opt_spec *specs, int max_ops, const char *too_many,
               cmd_args *a);

/* Parses a decimal count (no sign, no junk, at most max) into *out. */
bool parse_count(const char *s, uint64_t max, uint64_t *out);

/* ---- channels (util.c) ----------------------------------------------------- */

/* Prints why a channel could not be opened (klaw_channel_open, or a kind's
 * open; why: a reason for KLAW_CORRUPT, or NULL); returns EXIT_FAILURE. */
int channel_error(const char *name, klaw_status st, const char *why);
/* The same after inspection opened the channel: a kind's layout that fails
 * validation is named. */
int kind_open_error(const char *name, klaw_status st, klaw_channel_type kind);
/* Opens a channel for inspection or prints why not (returns EXIT_FAILURE). */
int open_channel(const char *name, klaw_channel **ch);

/* A klaw_str as printable text ("%.*s" arguments). */
#define STR_ARGS(s) (int)(s).len, (s).ptr ? (s).ptr : ""

/* ---- numbers and times for people (util.c) ------------------------------ */

/* RFC 3339 UTC text of ts, nanoseconds shown when not zero (as the JSON
 * mapping writes timestamps). */
void format_time(struct timespec ts, char *out, size_t cap);
/* A size in bytes: "64 B", "4 KiB", "1.5 MiB" (exact below 1 KiB, else
 * three significant digits). */
void format_size(uint64_t bytes, char *out, size_t cap);
/* A count: exact below 100000, else "17.4 M", "2.10 G" (SI, three
 * significant digits). */
void format_count(uint64_t n, char *out, size_t cap);
/* A duration: "850 ms", "12.3 s", "4.0 min", "2.5 h", "3.1 d". */
void format_age(int64_t ns, char *out, size_t cap);

/* ---- signals (util.c) ------------------------------------------------------ */

/* Set by SIGINT, SIGTERM and SIGHUP once catch_stop_signals() ran. */
extern volatile sig_atomic_t stop_requested;
/* Catches those signals into stop_requested; ignores SIGPIPE (a closed
 * stdout is then a write error, not death). */
void catch_stop_signals(void);

/* ---- the commands ------------------------------------------------------------ */

/* Each takes the arguments after its name and returns the exit status;
 * its help text says what it does. */
int cmd_decode(int argc, char **argv); /* codec.c    */
int cmd_encode(int argc, char **argv);
int cmd_ls(int argc, char **argv); /* channels.c */
int cmd_stat(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_create(int argc, char **argv); /* create.c   */
int cmd_tail(int argc, char **argv);   /* tail.c     */
int cmd_send(int argc, char **argv);   /* send.c     */
int cmd_bridge(int argc, char **argv); /* bridge.c   */

#endif /* KLAW_TOOL_H */
