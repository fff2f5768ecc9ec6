/*
 * main.c - the `klaw` command: dispatch, the one option parser every
 * command uses, --help and --version.
 *
 *   klaw decode [--stream] [--envelope] [FILE]
 *                                   MessagePack -> JSON, one line per value
 *   klaw encode [FILE]              JSON -> MessagePack
 *   klaw ls [--json]                the channels in /dev/shm
 *   klaw stat [--json] NAME         metadata, counters, readers of a channel
 *   klaw create KIND NAME [options] make a channel others can open
 *   klaw tail [-n N] [--follow] [--consume] [--raw] NAME
 *                                   frames as JSON (envelopes decoded)
 *   klaw send [--envelope] [--lines] [--timeout MS] NAME [JSON]
 *                                   JSON in, one MessagePack frame out
 *   klaw rm NAME...                 remove channels' names
 *   klaw bridge [options] CHANNEL SUBJECT... | --config FILE
 *                                   bridges between channels and NATS
 *   klaw --help | --version
 *
 * Each command is one row of the `commands` table below and one function
 * taking the arguments after its name, in the file of its family: codec.c
 * (decode, encode), channels.c (ls, stat, rm), create.c, tail.c, send.c,
 * bridge.c;
 * what they share is in util.c (klaw_tool.h). Exit status: see
 * klaw_tool.h.
 */
#include <stdlib.h>
#include <string.h>

#include "klaw_tool.h"

/* ---- the option parser ------------------------------------------------------ */

int parse_opts(const char *cmd, int argc, char **argv, const opt_spec *specs, int max_ops, const char *too_many,
               cmd_args *a)
{
    memset(a, 0, sizeof *a);
    if (max_ops > KT_MAX_OPS)
        max_ops = KT_MAX_OPS;
    bool operands_only = false;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (!operands_only && strcmp(arg, "--") == 0) {
            operands_only = true;
            continue;
        }
        if (!operands_only && arg[0] == '-' && arg[1] != '\0') {
            if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
                a->help = true;
                continue;
            }
            /* "--name=value" for a long option that takes a value */
            const char *eq = arg[1] == '-' ? strchr(arg, '=') : NULL;
            size_t nlen = eq ? (size_t)(eq - arg) : strlen(arg);
            int k = 0;
            for (; specs && specs[k].name && k < KT_MAX_OPTS; k++) {
                const char *al = specs[k].alias;
                if ((strncmp(arg, specs[k].name, nlen) == 0 && specs[k].name[nlen] == '\0') ||
                    (al && strncmp(arg, al, nlen) == 0 && al[nlen] == '\0'))
                    break;
            }
            if (!specs || !specs[k].name || k >= KT_MAX_OPTS || (eq && !specs[k].has_value))
                return usage_msg(cmd, "unknown option '%s'", arg);
            a->seen[k] = true;
            if (eq) {
                a->vals[k] = eq + 1;
            } else if (specs[k].has_value) {
                if (i + 1 >= argc)
                    return usage_msg(cmd, "option '%s' needs a value", arg);
                a->vals[k] = argv[++i];
            }
            continue;
        }
        if (a->n_ops >= max_ops) {
            if (too_many)
                return usage_msg(cmd, "%s", too_many);
            return usage_msg(cmd, "unexpected argument '%s'", arg);
        }
        a->ops[a->n_ops++] = arg;
    }
    return 0;
}

bool parse_count(const char *s, uint64_t max, uint64_t *out)
{
    if (!s || !*s)
        return false;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        unsigned d = (unsigned)(*p - '0');
        if (v > (max - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* ---- dispatch ------------------------------------------------------------ */

typedef struct command {
    const char *name;
    const char *args;
    const char *summary;
    int (*run)(int argc, char **argv); /* the arguments after the name */
} command;

static const command commands[] = {
    {"decode", "[--stream] [--envelope] [FILE]", "MessagePack -> JSON (one line per value)", cmd_decode},
    {"encode", "[FILE]", "JSON -> MessagePack", cmd_encode},
    {"ls", "[--json]", "list the channels in /dev/shm", cmd_ls},
    {"stat", "[--json] NAME", "a channel's metadata, counters and readers", cmd_stat},
    {"create", "KIND NAME [options]", "make a channel others can open", cmd_create},
    {"tail", "[-n N] [-f] [...] NAME", "print a channel's frames as JSON", cmd_tail},
    {"send", "[--envelope] [...] NAME [JSON]", "JSON in, a MessagePack frame out", cmd_send},
    {"rm", "NAME...", "remove channels' names", cmd_rm},
    {"bridge", "[options] CHANNEL SUBJECT...", "bridge channels and NATS subjects", cmd_bridge},
};

#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: klaw <command> [options] [args]\n       klaw --help | --version\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++) {
        char left[128];
        snprintf(left, sizeof left, "%s %s", commands[i].name, commands[i].args);
        fprintf(f, "  %-38s %s\n", left, commands[i].summary);
    }
    fprintf(f, "\n'klaw <command> --help' describes a command.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0) {
        printf("klaw %s\n", klaw_version());
        return 0;
    }
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(name, commands[i].name) == 0)
            return commands[i].run(argc - 2, argv + 2);
    fprintf(stderr, "klaw: unknown command '%s' (see klaw --help)\n", name);
    return EXIT_USAGE;
}
