#!/usr/bin/env python3
"""check_layers.py - the layers of DESIGN.md, checked on every #include.

    codec (0)  <-  src (1)  <-  channels (2)  <-  nats, python (3)  <-  tools/klaw, bench (4)

A file may include headers of its own layer and of the layers below it,
never one above, and never another layer's header by a relative path
("../src/x.h": private headers are reached through the build's include
directories). Public headers (include/klaw/*.h) have layers too, listed
below, and are held to the same rule among themselves.

    check_layers.py ROOT         check the tree at ROOT; exit 1 on a violation
    check_layers.py --self-test  show that the check finds each kind of
                                 violation in a scratch tree (exit 1 if not)
"""
import os
import re
import sys
import tempfile

LAYERS = {"codec": 0, "src": 1, "channels": 2, "nats": 3, "python": 3, "tools": 4, "bench": 4}
NAMES = {0: "codec", 1: "src", 2: "channels", 3: "nats/python", 4: "tools/bench"}

# include/klaw/*.h by layer. A public header not listed is an error, so a
# new header must be placed.
PUBLIC = {
    0: ["arena.h", "envelope.h", "export.h", "json.h", "mp_reader.h", "mp_writer.h", "records.h",
        "schema.h", "status.h", "str.h", "version.h"],
    1: ["region.h", "registry.h"],
    2: ["frame.h", "mpmc.h", "broadcast.h", "watch.h", "oneshot.h", "select.h", "channel.h", "klaw.h"],
    3: ["nats.h"],
}
PUBLIC_LAYER = {h: layer for layer, hs in PUBLIC.items() for h in hs}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def layer_of(rel):
    top = rel.split(os.sep)[0]
    return LAYERS.get(top)


def private_headers(root):
    """header name -> layer, for the headers that live in a layer's folder"""
    out = {}
    for d, layer in LAYERS.items():
        base = os.path.join(root, d)
        for dirpath, _, files in os.walk(base):
            for f in files:
                if f.endswith(".h"):
                    out.setdefault(f, set()).add(layer)
    return out


def check(root):
    problems = []
    private = private_headers(root)
    sources = []
    for d in LAYERS:
        for dirpath, _, files in os.walk(os.path.join(root, d)):
            for f in files:
                if f.endswith((".c", ".h")):
                    sources.append(os.path.relpath(os.path.join(dirpath, f), root))
    inc_dir = os.path.join(root, "include", "klaw")
    for f in sorted(os.listdir(inc_dir)) if os.path.isdir(inc_dir) else []:
        if f.endswith((".h", ".h.in")):
            name = f[:-3] if f.endswith(".h.in") else f
            if name not in PUBLIC_LAYER:
                problems.append(f"include/klaw/{f}: a public header with no layer (add it to PUBLIC in {__file__})")
            sources.append(os.path.join("include", "klaw", f))
    for rel in sources:
        if rel.startswith("include"):
            name = os.path.basename(rel)
            name = name[:-3] if name.endswith(".h.in") else name
            mine = PUBLIC_LAYER.get(name)
        else:
            mine = layer_of(rel)
        if mine is None:
            continue
        text = open(os.path.join(root, rel), encoding="utf-8", errors="replace").read()
        for m in INCLUDE.finditer(text):
            inc = m.group(1)
            line = text.count("\n", 0, m.start()) + 1
            where = f"{rel}:{line}"
            if inc.startswith("../") or "/../" in inc:
                problems.append(f'{where}: #include "{inc}" reaches another folder by a relative path '
                                "(use the layer's include directory)")
                continue
            if inc.startswith("klaw/"):
                h = inc[len("klaw/"):]
                theirs = PUBLIC_LAYER.get(h)
                if theirs is None:
                    problems.append(f'{where}: #include "{inc}": no such public header with a layer')
                    continue
            else:
                # a private header: the including file's own folder first
                if os.path.exists(os.path.join(root, os.path.dirname(rel), inc)):
                    continue
                layers = private.get(os.path.basename(inc))
                if not layers:
                    continue  # a header of a dependency, or a generated one
                theirs = min(layers)
            if theirs > mine:
                problems.append(f'{where}: {NAMES[mine]} includes "{inc}" of {NAMES[theirs]}, a layer above it')
    return problems, len(sources)


def self_test():
    cases = {
        "codec includes a channels header": ("codec/a.c", '#include "klaw/mpmc.h"\n'),
        "src includes a private channels header": ("src/b.c", '#include "lifecycle.h"\n'),
        "channels reaches src by a relative path": ("channels/c.c", '#include "../src/meta.h"\n'),
        "a public codec header includes a src one": ("include/klaw/records.h", '#include "klaw/region.h"\n'),
    }
    ok = True
    for what, (path, text) in cases.items():
        with tempfile.TemporaryDirectory() as root:
            for d in ("codec", "src", "channels", "include/klaw"):
                os.makedirs(os.path.join(root, d))
            open(os.path.join(root, "channels", "lifecycle.h"), "w").write("")
            open(os.path.join(root, "src", "meta.h"), "w").write("")
            open(os.path.join(root, path), "w").write(text)
            problems, _ = check(root)
            # the clean counterpart: the same tree without the bad line
            open(os.path.join(root, path), "w").write('#include "klaw/status.h"\n')
            clean, _ = check(root)
        found = bool(problems) and not clean
        print(f"self-test: {what}: {'found' if found else 'MISSED'}"
              + (f" ({problems[0]})" if problems else ""))
        ok &= found
    return 0 if ok else 1


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "--self-test":
        return self_test()
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    problems, n = check(sys.argv[1])
    for p in problems:
        print(p)
    print(f"{n} files checked: {len(problems)} layer violation(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
