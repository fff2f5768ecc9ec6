#!/usr/bin/python3
"""bench-smoke: runs `klaw-bench SUITE --quick --json` and checks the shape
of what it prints (DESIGN.md, klaw-bench): every line one JSON object with
the required keys in order, every case with a klaw row and a row of each of
the case's peers (a value, or "skipped" with a reason) with the same
parameters.

  codec (the default): msgpack-c for the MessagePack cases (encode, decode,
      peek, schema_decode and schema_encode, the last two in both forms,
      "map" and "array_like"), json-c for the JSON ones (json_to_mp,
      mp_to_json); also checks the command line (--list, --help, exit 2 on
      an unknown suite).
  mpmc: every combination of frame_bytes 64/1024, 1p1c/2p2c, batch 1/32
      and mode thread/process, each with klaw, ck_ring_mpmc, ck_ring_spsc,
      urcu_wfcq, pipe and unix_socket rows (klaw never skipped).

Timings are never checked: only that values are finite numbers >= 0.

usage: check_bench_json.py PATH/TO/klaw-bench [codec|mpmc]
"""
import json
import math
import subprocess
import sys

UNITS = {"ns_per_op": "ns", "ops_per_s": "ops/s"}
MPMC_UNITS = {"frames_per_s": "frames/s", "ns_per_op": "ns"}
HEAD = ["suite", "case", "impl", "metric"]
MP_PARAMS = ("payload_bytes", "frame_bytes")
JSON_PARAMS = ("doc", "json_bytes")
JSON_DOCS = {"envelope", "numbers", "strings"}
SCHEMA_PARAMS = ("form", "payload_bytes")
SCHEMA_FORMS = {"map", "array_like"}
# case -> (its peer, its parameters, the parameter that tells its rows
# apart, the values that parameter must take; None: any one value)
EXPECTED = {
    "encode": ("msgpack-c", MP_PARAMS, "payload_bytes", None),
    "decode": ("msgpack-c", MP_PARAMS, "payload_bytes", None),
    "peek": ("msgpack-c", MP_PARAMS, "payload_bytes", {64, 4096, 65536, 1048576}),
    "json_to_mp": ("json-c", JSON_PARAMS, "doc", JSON_DOCS),
    "mp_to_json": ("json-c", JSON_PARAMS, "doc", JSON_DOCS),
    "schema_decode": ("msgpack-c", SCHEMA_PARAMS, "form", SCHEMA_FORMS),
    "schema_encode": ("msgpack-c", SCHEMA_PARAMS, "form", SCHEMA_FORMS),
}

MPMC_PEERS = ("ck_ring_mpmc", "ck_ring_spsc", "urcu_wfcq", "pipe", "unix_socket")
MPMC_PARAMS = ("frame_bytes", "producers", "consumers", "batch", "mode")
MPMC_LAYOUTS = {"1p1c": (1, 1), "2p2c": (2, 2)}
# every comparison the suite must print: (case, frame_bytes, batch, mode)
MPMC_GROUPS = {(c, f, b, m) for c in MPMC_LAYOUTS for f in (64, 1024) for b in (1, 32)
               for m in ("thread", "process")}

errors = []


def fail(msg):
    errors.append(msg)


def run(bench, *args):
    return subprocess.run([bench, *args], capture_output=True, text=True, timeout=240)


def check_mpmc_row(n, row):
    """Checks one mpmc line; returns its (group, metric) or None."""
    if row["suite"] != "mpmc":
        fail(f"line {n}: suite {row['suite']!r}")
    if row["case"] not in MPMC_LAYOUTS:
        fail(f"line {n}: unexpected case {row['case']!r}")
        return None
    if row["impl"] not in ("klaw",) + MPMC_PEERS:
        fail(f"line {n}: impl {row['impl']!r}")
    if MPMC_UNITS.get(row["metric"]) != row["unit"]:
        fail(f"line {n}: metric {row['metric']!r} with unit {row['unit']!r}")
    for p in MPMC_PARAMS:
        v = row.get(p)
        if p == "mode":
            if v not in ("thread", "process"):
                fail(f"line {n}: mode {v!r}")
                return None
        elif not isinstance(v, int) or isinstance(v, bool) or v <= 0:
            fail(f"line {n}: {p} missing or not a positive integer")
            return None
    if (row["producers"], row["consumers"]) != MPMC_LAYOUTS[row["case"]]:
        fail(f"line {n}: case {row['case']!r} with {row['producers']} producers, {row['consumers']} consumers")
    extra = set(row) - set(HEAD + ["value", "skipped", "unit"]) - set(MPMC_PARAMS)
    if extra:
        fail(f"line {n}: unexpected parameters {sorted(extra)}")
    return ((row["case"], row["frame_bytes"], row["batch"], row["mode"]), row["metric"])


def check_value(n, row):
    """The value-or-skipped part every row shares; False if unusable."""
    keys = list(row)
    if keys[:4] != HEAD:
        fail(f"line {n}: keys start {keys[:4]}, want {HEAD}")
        return False
    has_value, has_skipped = "value" in row, "skipped" in row
    if has_value == has_skipped:
        fail(f"line {n}: needs exactly one of value / skipped: {row}")
        return False
    if keys[4] not in ("value", "skipped") or keys[5] != "unit":
        fail(f"line {n}: value|skipped then unit must follow metric: {keys}")
    if has_value:
        v = row["value"]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            fail(f"line {n}: value {v!r} is not a finite number >= 0")
    elif not isinstance(row["skipped"], str) or not row["skipped"]:
        fail(f"line {n}: skipped needs a reason")
    elif row["impl"] == "klaw":
        fail(f"line {n}: klaw itself skipped: {row['skipped']}")
    return True


def read_rows(bench, suite):
    """Runs the suite's smoke run; yields (line number, row) of good JSON."""
    r = run(bench, suite, "--quick", "--json")
    if r.returncode != 0:
        fail(f"klaw-bench {suite} --quick --json exited {r.returncode}\n{r.stderr}")
    lines = r.stdout.splitlines()
    if not lines:
        fail("no output")
    rows = []
    for n, line in enumerate(lines, 1):
        try:
            row = json.loads(line)
        except ValueError as e:
            fail(f"line {n} is not JSON ({e}): {line!r}")
            continue
        if not isinstance(row, dict):
            fail(f"line {n} is not a JSON object")
            continue
        rows.append((n, row))
    return rows


def check_mpmc(bench):
    seen = {}
    rows = read_rows(bench, "mpmc")
    for n, row in rows:
        if not check_value(n, row):
            continue
        key = check_mpmc_row(n, row)
        if key is None:
            continue
        impls = seen.setdefault(key, [])
        if row["impl"] in impls:
            fail(f"line {n}: a second {row['impl']} row for {key}")
        impls.append(row["impl"])
    for group in sorted(MPMC_GROUPS):
        for metric in MPMC_UNITS:
            impls = seen.get((group, metric), [])
            for want in ("klaw",) + MPMC_PEERS:
                if want not in impls:
                    fail(f"mpmc {group} {metric}: no {want} row (value or skipped)")
    for (group, metric) in seen:
        if group not in MPMC_GROUPS:
            fail(f"mpmc: unexpected comparison {group}")
    return len(rows), len(seen)


def check_row(n, row):
    keys = list(row)
    if keys[:4] != HEAD:
        fail(f"line {n}: keys start {keys[:4]}, want {HEAD}")
        return None
    has_value, has_skipped = "value" in row, "skipped" in row
    if has_value == has_skipped:
        fail(f"line {n}: needs exactly one of value / skipped: {row}")
        return None
    if keys[4] not in ("value", "skipped") or keys[5] != "unit":
        fail(f"line {n}: value|skipped then unit must follow metric: {keys}")
    if row["suite"] != "codec":
        fail(f"line {n}: suite {row['suite']!r}")
    if row["case"] not in EXPECTED:
        fail(f"line {n}: unexpected case {row['case']!r}")
        return None
    peer, params, _, _ = EXPECTED[row["case"]]
    if row["impl"] not in ("klaw", peer):
        fail(f"line {n}: impl {row['impl']!r} in case {row['case']!r} (want klaw or {peer})")
    if UNITS.get(row["metric"]) != row["unit"]:
        fail(f"line {n}: metric {row['metric']!r} with unit {row['unit']!r}")
    if has_value:
        v = row["value"]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            fail(f"line {n}: value {v!r} is not a finite number >= 0")
    elif not isinstance(row["skipped"], str) or not row["skipped"]:
        fail(f"line {n}: skipped needs a reason")
    elif row["impl"] == "klaw":
        fail(f"line {n}: klaw itself skipped: {row['skipped']}")
    for p in params:
        if p == "doc":
            if row.get(p) not in JSON_DOCS:
                fail(f"line {n}: doc {row.get(p)!r}, want one of {sorted(JSON_DOCS)}")
                return None
        elif p == "form":
            if row.get(p) not in SCHEMA_FORMS:
                fail(f"line {n}: form {row.get(p)!r}, want one of {sorted(SCHEMA_FORMS)}")
                return None
        elif not isinstance(row.get(p), int) or isinstance(row.get(p), bool) or row[p] <= 0:
            fail(f"line {n}: {p} missing or not a positive integer")
            return None
    extra = set(row) - set(HEAD + ["value", "skipped", "unit"]) - set(params)
    if extra:
        fail(f"line {n}: unexpected parameters {sorted(extra)} in case {row['case']!r}")
    params = tuple(sorted((k, v) for k, v in row.items() if k not in HEAD + ["value", "skipped", "unit"]))
    return (row["case"], params, row["metric"])


def main():
    if len(sys.argv) not in (2, 3) or (len(sys.argv) == 3 and sys.argv[2] not in ("codec", "mpmc")):
        print(__doc__, file=sys.stderr)
        return 2
    bench = sys.argv[1]
    if len(sys.argv) == 3 and sys.argv[2] == "mpmc":
        nrows, ngroups = check_mpmc(bench)
        for e in errors:
            print("bench-smoke:", e, file=sys.stderr)
        if not errors:
            print(f"bench-smoke mpmc: {nrows} rows, {ngroups} comparisons, all well formed")
        return 1 if errors else 0

    r = run(bench, "codec", "--quick", "--json")
    if r.returncode != 0:
        print(f"klaw-bench codec --quick --json exited {r.returncode}\n{r.stderr}", file=sys.stderr)
        return 1
    seen = {}
    lines = r.stdout.splitlines()
    if not lines:
        fail("no output")
    for n, line in enumerate(lines, 1):
        try:
            row = json.loads(line)
        except ValueError as e:
            fail(f"line {n} is not JSON ({e}): {line!r}")
            continue
        if not isinstance(row, dict):
            fail(f"line {n} is not a JSON object")
            continue
        group = check_row(n, row)
        if group is None:
            continue
        impls = seen.setdefault(group, [])
        if row["impl"] in impls:
            fail(f"line {n}: a second {row['impl']} row for {group}")
        impls.append(row["impl"])

    for group, impls in seen.items():
        for want in ("klaw", EXPECTED[group[0]][0]):
            if want not in impls:
                fail(f"{group}: no {want} row (value or skipped)")
    for case, (_, _, by, values) in EXPECTED.items():
        for metric in UNITS:
            got = {dict(p)[by] for (c, p, m) in seen if c == case and m == metric}
            if not got:
                fail(f"case {case}: no {metric} rows")
            elif values is not None and got != values:
                fail(f"case {case}: {by} {sorted(got)}, want {sorted(values)}")

    r = run(bench, "--list")
    if r.returncode != 0 or "codec" not in r.stdout:
        fail(f"--list: exit {r.returncode}, output {r.stdout!r}")
    r = run(bench, "--help")
    if r.returncode != 0 or "usage" not in r.stdout:
        fail(f"--help: exit {r.returncode}")
    r = run(bench, "no-such-suite")
    if r.returncode != 2 or "unknown suite" not in r.stderr:
        fail(f"unknown suite: exit {r.returncode}, stderr {r.stderr!r}")
    r = run(bench, "codec", "--runs", "0")
    if r.returncode != 2:
        fail(f"--runs 0: exit {r.returncode}, want 2")

    for e in errors:
        print("bench-smoke:", e, file=sys.stderr)
    if not errors:
        print(f"bench-smoke: {len(lines)} rows, {len(seen)} comparisons, all well formed")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
