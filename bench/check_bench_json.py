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
      and mode thread/process, each with klaw, klaw_1to1, ck_ring_mpmc,
      ck_ring_spsc, urcu_wfcq, pipe and unix_socket rows (klaw never
      skipped; klaw_1to1 never skipped in 1p1c).
  fanout: every combination of frame_bytes 64/4096, readers 1/2/4/8, policy
      overwrite/block and mode process/thread, each with klaw, zeromq and
      iceoryx rows of every metric (frames_per_s, delivered_per_s, lagged_frames,
      latency p50/p99/p99.9/max); klaw never skipped; iceoryx skipped in
      every thread case (it runs between processes only); nothing lagged under
      BLOCK; p50 <= p99 <= p99.9 <= max; the CSV file holds the same
      medians and the SVG chart is well-formed XML with a point for every
      delivered_per_s value; stderr shows the progress lines.

  bridge: cases 1_to_1 (64 B and 4 KiB, readers 1, hosts 1; delivery core
      and jetstream) and fan_out_4x2 (64 B and 4 KiB, readers 8, hosts 4;
      delivery core), each with klaw_bridge and nats_c rows of every metric
      (frames_per_s, delivered_per_s, lost_frames, latency p50/p99/p99.9/max;
      jetstream also duplicate_frames and retried_publishes): values, or
      skipped rows (nats.c not built in, nats-server not installed);
      p50 <= p99 <= p99.9 <= max; jetstream lost and duplicated nothing;
      `klaw-bench --list` names the suite.

  python: cases 1_to_n (kind mpmc/broadcast, frame_bytes 64/4096, readers
      1/4; klaw_recv, klaw_view, mp_queue, mp_pipe, mp_shm_ring: frames_per_s,
      delivered_per_s, lost_frames), view_cost (mpmc, 64 B and 1 MiB,
      readers 1; klaw_view, klaw_recv: ns_per_op, frames_per_s) and asyncio
      (mpmc, 64 B and 4 KiB, readers 1; asyncio_klaw, asyncio_socketpair:
      frames_per_s, lost_frames), each row once with the parameters kind,
      frame_bytes, readers; nothing lost. with-klaw (the package was built):
      no row skipped; without-klaw (klaw-bench built without it): every row
      skipped with a reason. Either way, a klaw-bench whose interpreter is
      missing (KLAW_BENCH_PYTHON=/nonexistent) prints every row skipped,
      exit 0; the table names every implementation; `klaw-bench --list`
      names the suite.

Timings are never checked: only that values are finite numbers >= 0.

usage: check_bench_json.py PATH/TO/klaw-bench [codec|mpmc|fanout|bridge]
       check_bench_json.py PATH/TO/klaw-bench python with-klaw|without-klaw
"""
import csv
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

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

MPMC_KLAW = ("klaw", "klaw_1to1")  # klaw_1to1: KLAW_MPMC_SINGLE_*, 1p1c only
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
    if row["impl"] not in MPMC_KLAW + MPMC_PEERS:
        fail(f"line {n}: impl {row['impl']!r}")
    if row["impl"] == "klaw_1to1" and "skipped" in row and row["case"] == "1p1c":
        fail(f"line {n}: klaw_1to1 skipped in 1p1c: {row['skipped']}")
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


def read_rows(bench, suite, *extra):
    """Runs the suite's smoke run; returns [(line number, row)] of good JSON
    objects and the run's stderr."""
    r = run(bench, suite, "--quick", "--json", *extra)
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
    return rows, r.stderr


def check_mpmc(bench):
    seen = {}
    rows, _ = read_rows(bench, "mpmc")
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
            for want in MPMC_KLAW + MPMC_PEERS:
                if want not in impls:
                    fail(f"mpmc {group} {metric}: no {want} row (value or skipped)")
    for (group, metric) in seen:
        if group not in MPMC_GROUPS:
            fail(f"mpmc: unexpected comparison {group}")
    return len(rows), len(seen)

FANOUT_UNITS = {
    "frames_per_s": "frames/s",
    "delivered_per_s": "frames/s",
    "lagged_frames": "frames",
    "latency_p50_ns": "ns",
    "latency_p99_ns": "ns",
    "latency_p999_ns": "ns",
    "latency_max_ns": "ns",
}
FANOUT_IMPLS = ("klaw", "zeromq", "iceoryx")
FANOUT_PARAMS = ("frame_bytes", "readers", "policy", "mode")
# every comparison the suite must print: (frame_bytes, readers, policy, mode)
FANOUT_GROUPS = {(f, n, p, m) for f in (64, 4096) for n in (1, 2, 4, 8)
                 for p in ("overwrite", "block") for m in ("process", "thread")}
FANOUT_LATENCIES = ("latency_p50_ns", "latency_p99_ns", "latency_p999_ns", "latency_max_ns")


def check_fanout_row(n, row):
    """Checks one fanout line; returns its (group, impl, metric) or None."""
    if row["suite"] != "fanout":
        fail(f"line {n}: suite {row['suite']!r}")
    if row["case"] != "1_to_n":
        fail(f"line {n}: unexpected case {row['case']!r}")
        return None
    if row["impl"] not in FANOUT_IMPLS:
        fail(f"line {n}: impl {row['impl']!r}")
        return None
    if FANOUT_UNITS.get(row["metric"]) != row["unit"]:
        fail(f"line {n}: metric {row['metric']!r} with unit {row['unit']!r}")
        return None
    extra = set(row) - set(HEAD + ["value", "skipped", "unit"]) - set(FANOUT_PARAMS)
    if extra:
        fail(f"line {n}: unexpected parameters {sorted(extra)}")
    group = tuple(row.get(p) for p in FANOUT_PARAMS)
    if group not in FANOUT_GROUPS:
        fail(f"line {n}: unexpected parameters {dict(zip(FANOUT_PARAMS, group))}")
        return None
    return group, row["impl"], row["metric"]


def check_fanout_csv(path, values):
    """The CSV holds one line per case and implementation, with the same
    medians as the JSON rows (or the same skip)."""
    try:
        with open(path, newline="") as f:
            lines = list(csv.reader(f))
    except OSError as e:
        fail(f"CSV {path}: {e}")
        return
    want_head = ["mode", "policy", "frame_bytes", "readers", "impl"] + list(FANOUT_UNITS) + ["skipped"]
    if not lines or lines[0] != want_head:
        fail(f"CSV header {lines[:1]}, want {want_head}")
        return
    seen = set()
    for i, line in enumerate(lines[1:], 2):
        if len(line) != len(want_head):
            fail(f"CSV line {i}: {len(line)} fields, want {len(want_head)}")
            continue
        d = dict(zip(want_head, line))
        try:
            group = (int(d["frame_bytes"]), int(d["readers"]), d["policy"], d["mode"])
        except ValueError:
            fail(f"CSV line {i}: frame_bytes or readers not an integer")
            continue
        key = (group, d["impl"])
        if group not in FANOUT_GROUPS or d["impl"] not in FANOUT_IMPLS or key in seen:
            fail(f"CSV line {i}: unexpected or repeated {key}")
            continue
        seen.add(key)
        for metric in FANOUT_UNITS:
            v = values.get((group, d["impl"], metric))
            if v is None:  # skipped in the JSON: skipped here too
                if d[metric] != "" or not d["skipped"]:
                    fail(f"CSV line {i}: {metric} {d[metric]!r} for a skipped row")
                continue
            try:
                got = float(d[metric])
            except ValueError:
                fail(f"CSV line {i}: {metric} {d[metric]!r} is not a number")
                continue
            if abs(got - v) > 0.5 + 1e-9 * abs(v):
                fail(f"CSV line {i}: {metric} {got} but the JSON row says {v}")
    for group in FANOUT_GROUPS:
        for impl in FANOUT_IMPLS:
            if (group, impl) not in seen:
                fail(f"CSV: no line for {impl} {group}")


def check_fanout_svg(path, values):
    """Well-formed SVG with four panels and a point per delivered_per_s
    value (titled with it)."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as e:
        fail(f"SVG {path}: {e}")
        return
    ns = "{http://www.w3.org/2000/svg}"
    if root.tag != ns + "svg":
        fail(f"SVG root is {root.tag}, want svg")
        return
    texts = ["".join(t.itertext()) for t in root.iter(ns + "text")]
    for size in ("64 B", "4 KiB"):
        for policy in ("OVERWRITE", "BLOCK"):
            if f"{size} frames, {policy}" not in texts:
                fail(f"SVG: no panel '{size} frames, {policy}'")
    points = set()
    for c in root.iter(ns + "circle"):
        t = c.find(ns + "title")
        m = re.fullmatch(r"(\w+) (process|thread) N=(\d+): (\d+) frames/s", t.text if t is not None else "")
        if not m:
            fail(f"SVG: a point without a proper title: {t.text if t is not None else None!r}")
            continue
        points.add((m.group(1), m.group(2), int(m.group(3)), int(m.group(4))))
    want = 0
    for (group, impl, metric), v in values.items():
        if metric != "delivered_per_s" or v <= 0:
            continue
        want += 1
        if not any(p[0] == impl and p[1] == group[3] and p[2] == group[1] and abs(p[3] - v) <= 1
                   for p in points):
            fail(f"SVG: no point for {impl} {group} at {v:.0f} frames/s")
    if len(points) > want:
        fail(f"SVG: {len(points)} points, {want} values")
    lines = list(root.iter(ns + "polyline"))
    if not lines:
        fail("SVG: no lines")


def check_fanout(bench):
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = os.path.join(tmp, "sub", "fanout.csv")
        svg_path = os.path.join(tmp, "sub", "fanout.svg")
        rows, stderr = read_rows(bench, "fanout", "--csv", csv_path, "--svg", svg_path)
        values, skipped, seen = {}, {}, set()
        for n, row in rows:
            if not check_value(n, row):
                continue
            key = check_fanout_row(n, row)
            if key is None:
                continue
            if key in seen:
                fail(f"line {n}: a second row for {key}")
            seen.add(key)
            if "value" in row:
                values[key] = row["value"]
            else:
                skipped[key] = row["skipped"]
        for group in sorted(FANOUT_GROUPS):
            for impl in FANOUT_IMPLS:
                for metric in FANOUT_UNITS:
                    if (group, impl, metric) not in seen:
                        fail(f"fanout {group}: no {impl} {metric} row (value or skipped)")
                if impl == "iceoryx" and group[3] == "thread" and (group, impl, "frames_per_s") not in skipped:
                    fail(f"fanout {group}: iceoryx has a value in a thread case")
                if (group, impl, "frames_per_s") in skipped:
                    continue
                v = [values.get((group, impl, m)) for m in FANOUT_LATENCIES]
                if None not in v and v != sorted(v):
                    fail(f"fanout {group} {impl}: latencies p50/p99/p99.9/max not in order: {v}")
                for m in ("frames_per_s", "delivered_per_s"):
                    if values.get((group, impl, m), 1) <= 0:
                        fail(f"fanout {group} {impl}: {m} is 0")
                if group[2] == "block" and values.get((group, impl, "lagged_frames"), 0) != 0:
                    fail(f"fanout {group} {impl}: frames lagged under BLOCK")
        steps = 32 * len(FANOUT_IMPLS)
        if (not re.search(rf"\[\d+/{steps}\] fanout (process|thread) N=\d ", stderr)
                or f"[{steps}/{steps}] fanout done" not in stderr):
            fail(f"no progress lines on stderr: {stderr[:300]!r}")
        check_fanout_csv(csv_path, values)
        check_fanout_svg(svg_path, values)
    return len(rows), len({key[0] for key in seen})


BRIDGE_IMPLS = ("klaw_bridge", "nats_c")
BRIDGE_PARAMS = ("delivery", "frame_bytes", "readers", "hosts")
# (case, delivery, frame_bytes, readers, hosts)
BRIDGE_GROUPS = {("1_to_1", d, f, 1, 1) for d in ("core", "jetstream") for f in (64, 4096)} | \
    {("fan_out_4x2", "core", f, 8, 4) for f in (64, 4096)}
BRIDGE_UNITS = {"frames_per_s": "frames/s", "delivered_per_s": "frames/s", "lost_frames": "frames",
                "latency_p50_ns": "ns", "latency_p99_ns": "ns", "latency_p999_ns": "ns", "latency_max_ns": "ns"}
# JetStream rows have these too (totals over the runs)
BRIDGE_JS_UNITS = {"duplicate_frames": "frames", "retried_publishes": "frames"}


def bridge_units(delivery):
    return BRIDGE_UNITS | BRIDGE_JS_UNITS if delivery == "jetstream" else BRIDGE_UNITS


def check_bridge(bench):
    rows, _ = read_rows(bench, "bridge")
    values, seen = {}, set()
    for n, row in rows:
        if not check_value(n, row):
            continue
        if row["suite"] != "bridge":
            fail(f"line {n}: suite {row['suite']!r}")
        if row["impl"] not in BRIDGE_IMPLS:
            fail(f"line {n}: impl {row['impl']!r}")
            continue
        if bridge_units(row.get("delivery")).get(row["metric"]) != row["unit"]:
            fail(f"line {n}: metric {row['metric']!r} with unit {row['unit']!r}")
            continue
        extra = set(row) - set(HEAD + ["value", "skipped", "unit"]) - set(BRIDGE_PARAMS)
        if extra:
            fail(f"line {n}: unexpected parameters {sorted(extra)}")
        group = (row["case"],) + tuple(row.get(p) for p in BRIDGE_PARAMS)
        if group not in BRIDGE_GROUPS:
            fail(f"line {n}: unexpected case {group}")
            continue
        key = (group, row["impl"], row["metric"])
        if key in seen:
            fail(f"line {n}: a second row for {key}")
        seen.add(key)
        if "value" in row:
            values[key] = row["value"]
    for group in sorted(BRIDGE_GROUPS):
        for impl in BRIDGE_IMPLS:
            for metric in bridge_units(group[1]):
                if (group, impl, metric) not in seen:
                    fail(f"bridge {group}: no {impl} {metric} row (value or skipped)")
            if group[1] == "jetstream":
                for metric in ("lost_frames", "duplicate_frames"):
                    if values.get((group, impl, metric), 0) != 0:
                        fail(f"bridge {group} {impl}: JetStream {metric} {values[(group, impl, metric)]}")
            v = [values.get((group, impl, m)) for m in FANOUT_LATENCIES]
            if None not in v and v != sorted(v):
                fail(f"bridge {group} {impl}: latencies p50/p99/p99.9/max not in order: {v}")
            if values.get((group, impl, "delivered_per_s"), 1) <= 0:
                fail(f"bridge {group} {impl}: delivered_per_s is 0")
    r = run(bench, "--list")
    if r.returncode != 0 or not re.search(r"^bridge ", r.stdout, re.M):
        fail(f"--list does not name the bridge suite: {r.stdout!r}")
    return len(rows), len({key[0] for key in seen})


PYTHON_PARAMS = ("kind", "frame_bytes", "readers")
PYTHON_THROUGHPUT = {"frames_per_s": "frames/s", "delivered_per_s": "frames/s", "lost_frames": "frames"}
# case -> (impls, metric -> unit, the (kind, frame_bytes, readers) it runs)
PYTHON_CASES = {
    "1_to_n": (("klaw_recv", "klaw_view", "mp_queue", "mp_pipe", "mp_shm_ring"), PYTHON_THROUGHPUT,
               {(k, f, r) for k in ("mpmc", "broadcast") for f in (64, 4096) for r in (1, 4)}),
    "view_cost": (("klaw_view", "klaw_recv"), {"ns_per_op": "ns", "frames_per_s": "frames/s"},
                  {("mpmc", f, 1) for f in (64, 1048576)}),
    "asyncio": (("asyncio_klaw", "asyncio_socketpair"), {"frames_per_s": "frames/s", "lost_frames": "frames"},
                {("mpmc", f, 1) for f in (64, 4096)}),
}


def check_python_rows(rows, all_skipped):
    """Every row of the grid exactly once, well formed, each with a value
    (all_skipped: each skipped with a reason); returns how many
    comparisons it saw."""
    seen = set()
    for n, row in rows:
        if not check_value(n, row):
            continue
        if row["suite"] != "python":
            fail(f"line {n}: suite {row['suite']!r}")
        spec = PYTHON_CASES.get(row["case"])
        if spec is None:
            fail(f"line {n}: unexpected case {row['case']!r}")
            continue
        impls, units, groups = spec
        if row["impl"] not in impls:
            fail(f"line {n}: impl {row['impl']!r} in case {row['case']!r}")
            continue
        if units.get(row["metric"]) != row["unit"]:
            fail(f"line {n}: metric {row['metric']!r} with unit {row['unit']!r}")
            continue
        keys = [k for k in row if k not in HEAD + ["value", "skipped", "unit"]]
        if keys != list(PYTHON_PARAMS):
            fail(f"line {n}: parameters {keys}, want {list(PYTHON_PARAMS)} in that order")
            continue
        group = tuple(row[p] for p in PYTHON_PARAMS)
        if group not in groups:
            fail(f"line {n}: unexpected parameters {group} in case {row['case']!r}")
            continue
        key = (row["case"], group, row["impl"], row["metric"])
        if key in seen:
            fail(f"line {n}: a second row for {key}")
        seen.add(key)
        skipped = "skipped" in row
        if all_skipped:
            if not skipped:
                fail(f"line {n}: a value without an interpreter: {row}")
        elif skipped:
            fail(f"line {n}: {row['impl']} skipped although the package was built: {row['skipped']}")
        if row["metric"] == "lost_frames" and row.get("value", 0) != 0:
            fail(f"line {n}: {row['impl']} {group} lost {row['value']} frames")
        if row["metric"].endswith("_per_s") and row.get("value", 1) <= 0:
            fail(f"line {n}: {row['impl']} {group} {row['metric']} is 0")
    for case, (impls, units, groups) in PYTHON_CASES.items():
        for group in sorted(groups):
            for impl in impls:
                for metric in units:
                    if (case, group, impl, metric) not in seen:
                        fail(f"python {case} {group}: no {impl} {metric} row (value or skipped)")
    return len({(k[0], k[1]) for k in seen})


def check_python(bench, with_klaw):
    rows, stderr = read_rows(bench, "python")
    ngroups = check_python_rows(rows, all_skipped=not with_klaw)
    if with_klaw and not re.search(r"python: \[\d+/\d+\] ", stderr):
        fail(f"no progress lines on stderr: {stderr[:300]!r}")
    # no interpreter: every row skipped, with the reason, and exit 0
    env = dict(os.environ, KLAW_BENCH_PYTHON="/nonexistent/python3")
    r = subprocess.run([bench, "python", "--quick", "--json"], capture_output=True, text=True, timeout=60, env=env)
    if r.returncode != 0:
        fail(f"klaw-bench python without an interpreter exited {r.returncode}: {r.stderr}")
    skipped = [(n, json.loads(line)) for n, line in enumerate(r.stdout.splitlines(), 1)]
    check_python_rows(skipped, all_skipped=True)
    # the table: a line per comparison
    r = run(bench, "python", "--quick")
    if r.returncode != 0 or "klaw_recv" not in r.stdout or "asyncio_socketpair" not in r.stdout:
        fail(f"klaw-bench python --quick (a table): exit {r.returncode}, output {r.stdout[:300]!r}")
    r = run(bench, "--list")
    if r.returncode != 0 or not re.search(r"^python ", r.stdout, re.M):
        fail(f"--list does not name the python suite: {r.stdout!r}")
    return len(rows), ngroups


LATENCY_METRICS = ("latency_p50_ns", "latency_p99_ns", "latency_p999_ns", "latency_max_ns")
LATENCY_IMPLS = {"spin": ("klaw", "floor_cacheline", "iceoryx"), "block": ("klaw", "iceoryx"),
                 "parked": ("klaw", "floor_futex", "iceoryx"), "fd": ("klaw",)}


def check_latency(bench):
    """klaw-bench latency --quick --json: every wait mode in both modes has
    its impls' four latency rows (values, or iceoryx skipped with a reason),
    in ns, with p50 <= p99 <= p99.9 <= max; never a timing."""
    rows, _ = read_rows(bench, "latency")
    values, seen = {}, set()
    for n, row in rows:
        if not check_value(n, row):
            continue
        if row["suite"] != "latency" or row["metric"] not in LATENCY_METRICS or row["unit"] != "ns":
            fail(f"line {n}: suite/metric/unit {row['suite']!r} {row['metric']!r} {row['unit']!r}")
            continue
        wait, mode = row.get("wait"), row.get("mode")
        if row.get("kind") != "mpmc" or row.get("payload_bytes") != 64 or mode not in ("thread", "process") \
                or wait not in LATENCY_IMPLS or row["impl"] not in LATENCY_IMPLS[wait]:
            fail(f"line {n}: unexpected row {row}")
            continue
        if "skipped" in row and row["impl"] != "iceoryx":
            fail(f"line {n}: {row['impl']} skipped: {row['skipped']}")
        key = (mode, wait, row["impl"], row["metric"])
        if key in seen:
            fail(f"line {n}: a second row for {key}")
        seen.add(key)
        if "value" in row:
            values[key] = row["value"]
    groups = 0
    for mode in ("thread", "process"):
        for wait, impls in LATENCY_IMPLS.items():
            for impl in impls:
                groups += 1
                for metric in LATENCY_METRICS:
                    if (mode, wait, impl, metric) not in seen:
                        fail(f"latency {mode} {wait}: no {impl} {metric} row (value or skipped)")
                v = [values.get((mode, wait, impl, m)) for m in LATENCY_METRICS]
                if None not in v and v != sorted(v):
                    fail(f"latency {mode} {wait} {impl}: p50/p99/p99.9/max not in order: {v}")
    return len(rows), groups



def check_row(n, row):
    if not check_value(n, row):
        return None
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
    if len(sys.argv) == 4 and sys.argv[2] == "python" and sys.argv[3] in ("with-klaw", "without-klaw"):
        nrows, ngroups = check_python(sys.argv[1], sys.argv[3] == "with-klaw")
        for e in errors:
            print("bench-smoke:", e, file=sys.stderr)
        if not errors:
            print(f"bench-smoke python: {nrows} rows, {ngroups} comparisons, all well formed")
        return 1 if errors else 0
    if len(sys.argv) not in (2, 3) or (len(sys.argv) == 3 and sys.argv[2] not in ("codec", "mpmc", "fanout", "bridge",
                                                                              "latency")):
        print(__doc__, file=sys.stderr)
        return 2
    bench = sys.argv[1]
    if len(sys.argv) == 3 and sys.argv[2] in ("mpmc", "fanout", "bridge", "latency"):
        suite = sys.argv[2]
        nrows, ngroups = {"mpmc": check_mpmc, "fanout": check_fanout, "bridge": check_bridge,
                          "latency": check_latency}[suite](bench)
        for e in errors:
            print("bench-smoke:", e, file=sys.stderr)
        if not errors:
            print(f"bench-smoke {suite}: {nrows} rows, {ngroups} comparisons, all well formed")
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
