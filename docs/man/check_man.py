#!/usr/bin/env python3
"""The manual pages cannot drift from --help.

usage: check_man.py klaw PATH/klaw klaw.1.scd
       check_man.py klaw-bench PATH/klaw-bench klaw-bench.1.scd

klaw: every command `klaw --help` lists has a `## CMD` section in the page
and every section is a command `klaw --help` lists; each section's synopsis
line is the `usage:` line of `klaw CMD --help`, word for word; every option
the usage line, an option line of `klaw CMD --help` or the command's line in
`klaw --help` names is documented in the section (a `*--opt*` term), and
every option documented there appears in `klaw CMD --help`. The global
options (`# OPTIONS`) are checked against `klaw --help` the same way.

klaw-bench: the SYNOPSIS is the usage lines of `klaw-bench --help`; every
option it names is a term of `# OPTIONS` and back; every suite of
`klaw-bench --list` has a `## SUITE` section under `# SUITES` and back.

Reads the scdoc source, so it needs no scdoc. Prints every difference it
finds (a unified diff where a line differs) and exits 1 when there is one.
"""
import difflib
import re
import subprocess
import sys

OPT = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)")
problems = []


def problem(msg):
    problems.append(msg)


def run(argv):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def plain(s):
    """scdoc markup off: escapes, *bold*, _underline_; <x> reads as x."""
    s = re.sub(r"\\(.)", r"\1", s)
    s = s.replace("*", "").replace("_", "")
    s = s.replace("<", "").replace(">", "")
    return " ".join(s.split())


def parse_scd(path):
    """{section: {subsection or '': [lines]}} of an scdoc page."""
    out, sec, sub = {}, "", ""
    for line in open(path, encoding="utf-8").read().splitlines():
        if line.startswith("# "):
            sec, sub = line[2:].strip(), ""
            out.setdefault(sec, {}).setdefault(sub, [])
        elif line.startswith("## "):
            sub = line[3:].strip()
            out.setdefault(sec, {}).setdefault(sub, [])
        else:
            out.setdefault(sec, {}).setdefault(sub, []).append(line)
    return out


def terms(lines):
    """The options an scdoc definition list documents: a line that starts
    with *-x* and is followed by a tab-indented line."""
    found = set()
    for i, line in enumerate(lines):
        if line.startswith("*-") and i + 1 < len(lines) and lines[i + 1].startswith("\t"):
            for bold in re.findall(r"\*([^*]+)\*", line):
                found.update(OPT.findall(bold))
    return found


def synopses(lines, prog):
    """Paragraphs of one line that start with *PROG (a synopsis line),
    markup off."""
    padded = [""] + lines + [""]
    return [plain(l) for i, l in enumerate(padded)
            if l.startswith("*" + prog) and not padded[i - 1].strip() and not padded[i + 1].strip()]


def usage_lines(text):
    """The usage: line and its indented continuation lines, 'usage: ' off."""
    out, inside = [], False
    for line in text.splitlines():
        if line.startswith("usage: "):
            out.append(" ".join(line[len("usage: "):].split()))
            inside = True
        elif inside and line.startswith(" ") and line.strip():
            out.append(" ".join(line.split()))
        else:
            inside = False
    return out


def option_lines(text):
    """Options at the start of a line of --help (its option list)."""
    found = set()
    for line in text.splitlines():
        m = re.match(r"\s*(--?[A-Za-z][\w-]*)", line)
        if m:
            # the term part: up to two spaces, then the description
            found.update(OPT.findall(re.split(r"\s{2,}", line.strip(), maxsplit=1)[0]))
            found.add(m.group(1))
    return found


def compare(what, expected, got):
    if expected != got:
        diff = "\n".join(difflib.unified_diff(expected, got, "--help", "man page", lineterm=""))
        problem(f"{what} differs:\n{diff}")


def check_options(what, helped, documented, help_text):
    for o in sorted(helped - documented):
        problem(f"{what}: --help names option {o}, the man page does not document it")
    for o in sorted(documented):
        if o not in OPT.findall(help_text):
            problem(f"{what}: the man page documents option {o}, --help does not mention it")


def check_klaw(exe, page):
    rc, top, err = run([exe, "--help"])
    if rc != 0:
        problem(f"klaw --help: exit status {rc}: {err.strip()}")
        return
    scd = parse_scd(page)
    # the global synopsis and options
    compare("klaw's SYNOPSIS", [plain(u) for u in usage_lines(top)],
            synopses(scd.get("SYNOPSIS", {}).get("", []), "klaw"))
    top_usage = " ".join(usage_lines(top))
    check_options("klaw", set(OPT.findall(top_usage)) - {"-"},
                  terms(scd.get("OPTIONS", {}).get("", [])), top)
    # the commands: `klaw --help` lists them under "commands:"
    listed, inside = {}, False
    for line in top.splitlines():
        if line.strip() == "commands:":
            inside = True
            continue
        if inside:
            if not line.strip():
                break
            head = re.split(r"\s{2,}", line.strip())[0]
            listed[head.split()[0]] = head
    sections = {k: v for k, v in scd.get("COMMANDS", {}).items() if k}
    compare("the commands (klaw --help vs the man page's COMMANDS sections)",
            sorted(listed), sorted(sections))
    for cmd in sorted(set(listed) | set(sections)):
        if cmd not in listed:
            problem(f"klaw {cmd}: the man page documents it, klaw --help does not list it")
        if cmd not in sections:
            problem(f"klaw {cmd}: klaw --help lists it, the man page has no '## {cmd}' section")
            continue
        rc, text, err = run([exe, cmd, "--help"])
        if rc != 0:
            problem(f"klaw {cmd} --help: exit status {rc}: {err.strip()}")
            continue
        lines = sections[cmd]
        compare(f"klaw {cmd}: synopsis", [plain(u) for u in usage_lines(text)],
                synopses(lines, "klaw " + cmd))
        helped = set(OPT.findall(" ".join(usage_lines(text)))) | option_lines(text)
        if cmd in listed:
            helped |= set(OPT.findall(listed[cmd]))
        check_options(f"klaw {cmd}", helped, terms(lines), text + "\n" + listed.get(cmd, ""))


def check_bench(exe, page):
    rc, text, err = run([exe, "--help"])
    if rc != 0:
        problem(f"klaw-bench --help: exit status {rc}: {err.strip()}")
        return
    scd = parse_scd(page)
    usage = usage_lines(text)
    compare("klaw-bench's SYNOPSIS", [plain(u) for u in usage],
            synopses(scd.get("SYNOPSIS", {}).get("", []), "klaw-bench"))
    helped = set(OPT.findall(" ".join(usage))) | option_lines(text)
    check_options("klaw-bench", helped, terms(scd.get("OPTIONS", {}).get("", [])), text)
    rc, lst, err = run([exe, "--list"])
    if rc != 0:
        problem(f"klaw-bench --list: exit status {rc}: {err.strip()}")
        return
    suites = sorted(l.split()[0] for l in lst.splitlines() if l.strip())
    documented = sorted(k for k in scd.get("SUITES", {}) if k)
    compare("the suites (klaw-bench --list vs the man page's SUITES sections)", suites, documented)


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("klaw", "klaw-bench"):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    tool, exe, page = sys.argv[1:]
    (check_klaw if tool == "klaw" else check_bench)(exe, page)
    for p in problems:
        print("FAIL: " + p)
    if problems:
        print(f"{page}: {len(problems)} difference(s) from --help")
        return 1
    print(f"ok: {page} documents every command and option of {tool} --help, and nothing else")
    return 0


if __name__ == "__main__":
    sys.exit(main())
