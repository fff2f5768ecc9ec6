#!/usr/bin/python3
"""Interop helper for tests/test_envelope_interop.c: klaw-core's wire v1
envelopes built by python-msgpack exactly as msgspec lays them out.

klaw-core defines the wire with msgspec array_like tagged structs:

    class WireHeader(Struct, array_like=True):  version, kind, channel_id, seq, ts
    DataMessage     tag=1: header, payload (Raw)
    ControlMessage  tag=2: header, action, metadata (Raw, default b'\\xc0')
    Heartbeat       tag=3: header, sender_id=''
    Ack             tag=4: header, acked_seq=0, status='ok'
    WireError       tag=5: header, code='', message='', details (Raw, b'\\xc0')

msgspec encodes such a struct as an array of [tag, every field...] (no
omit_defaults), ints and container headers in their smallest form, str with
str8 for 32..255 bytes, a Raw field as its bytes verbatim - the same bytes
python-msgpack gives for the same lists with use_bin_type=True, with the
Raw bytes spliced in. Decoding, msgspec takes absent trailing fields that
have defaults as their defaults and ignores extra trailing elements, so the
"sent" form of an envelope here is sometimes shorter (defaults left out) or
longer (extra elements) than the canonical form msgspec would write back.

  envelope_interop.py gen SEED COUNT DIR
      writes DIR/sent.bin   the envelopes as sent (records),
             DIR/canon.bin  what msgspec writes for the decoded values
                            (records; klaw's re-encoding must equal these),
             DIR/stream.bin the sent envelopes back to back (no records)
  envelope_interop.py check SEED COUNT JSONL
      regenerates the same envelopes and compares each line of JSONL (klaw's
      JSON of envelope i, line i) with the values, field by field

Records: a 4-byte big-endian length, then that many bytes. Run by
/usr/bin/python3 so that Debian's python3-msgpack is the one used; without
it the import below fails and so does the test.
"""
import base64
import datetime
import json
import math
import random
import struct
import sys

import msgpack
from msgpack import ExtType, Timestamp

NIL = b"\xc0"
TYPES = {1: "data", 2: "control", 3: "heartbeat", 4: "ack", 5: "error"}


def packb(v):
    return msgpack.packb(v, use_bin_type=True)


def array_header(n):
    return msgpack.Packer(use_bin_type=True).pack_array_header(n)


def write_records(path, records):
    with open(path, "wb") as f:
        for r in records:
            f.write(struct.pack(">I", len(r)))
            f.write(r)


# ---- random values -------------------------------------------------------------

U64_EDGES = [0, 1, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**63 - 1, 2**63, 2**64 - 1]
I64_EDGES = U64_EDGES[:11] + [-1, -32, -33, -128, -129, -32768, -32769, -2**31, -2**31 - 1, -2**63]
TS_MIN = -62135596800   # 0001-01-01T00:00:00Z, Python's datetime range
TS_MAX = 253402300799   # 9999-12-31T23:59:59Z


def rand_u64(rng):
    if rng.random() < 0.3:
        return rng.choice(U64_EDGES)
    return rng.getrandbits(rng.choice([7, 8, 16, 32, 64]))


def rand_i64(rng):
    r = rng.random()
    if r < 0.3:
        return rng.choice(I64_EDGES)
    if r < 0.6:  # Unix milliseconds, the usual ts
        return rng.randint(0, 4102444800000)
    return rng.randint(-2**63, 2**63 - 1)


def rand_len(rng, small=24):
    r = rng.random()
    if r < 0.002:
        return rng.randint(65536, 70000)
    if r < 0.02:
        return rng.randint(256, 1000)
    if r < 0.15:
        return rng.choice([0, 1, 31, 32, 255, 256])
    return rng.randint(0, small)


def rand_char(rng):
    r = rng.random()
    if r < 0.6:
        return chr(rng.randint(0x20, 0x7e))
    if r < 0.7:
        return chr(rng.randint(0, 0x1f))  # escaped in JSON
    if r < 0.8:
        return rng.choice('"\\/')
    if r < 0.9:
        return chr(rng.randint(0x80, 0x7ff))
    cp = rng.randint(0x800, 0x10ffff)
    return chr(cp if not 0xd800 <= cp <= 0xdfff else 0xe000)


def rand_str(rng):
    # the UTF-8 length is what crosses the header boundaries; non-ASCII
    # characters spread it over them too
    return "".join(rand_char(rng) for _ in range(rand_len(rng)))


def rand_float(rng):
    r = rng.random()
    if r < 0.15:
        return rng.choice([0.0, -0.0, float("inf"), float("-inf"), float("nan"), 5e-324, 1e16, 0.1])
    if r < 0.5:
        return rng.uniform(-1e6, 1e6)
    return struct.unpack(">d", struct.pack(">Q", rng.getrandbits(64)))[0]


def rand_value(rng, depth=0):
    kinds = ["nil", "bool", "int", "int", "float", "str", "str", "bin", "ext", "ts"]
    if depth < 3:
        kinds += ["array", "map"]
    k = rng.choice(kinds)
    if k == "nil":
        return None
    if k == "bool":
        return rng.random() < 0.5
    if k == "int":
        return rand_u64(rng) if rng.random() < 0.5 else rand_i64(rng)
    if k == "float":
        return rand_float(rng)
    if k == "str":
        return rand_str(rng)
    if k == "bin":
        return rng.randbytes(rand_len(rng))
    if k == "ext":
        code = rng.randint(0, 127)
        return ExtType(code, rng.randbytes(rng.choice([0, 1, 2, 3, 4, 8, 16, 17, 300])))
    if k == "ts":
        sec = rng.randint(TS_MIN, TS_MAX) if rng.random() < 0.5 else rng.randint(0, 2**34 - 1)
        return Timestamp(sec, 0 if rng.random() < 0.4 else rng.randint(0, 999999999))
    n = rng.choice([0, 1, 2, 3, 15, 16]) if rng.random() < 0.9 else rng.randint(0, 20)
    if k == "array":
        return [rand_value(rng, depth + 1) for _ in range(n)]
    # str keys all start with "k", int keys never do: no two keys print alike
    keys = {}
    for _ in range(n):
        key = "k" + rand_str(rng) if rng.random() < 0.8 else rand_i64(rng)
        keys[key] = rand_value(rng, depth + 1)
    return keys


# ---- envelopes -------------------------------------------------------------------

class Env:
    """One envelope's values, its bytes as sent and as msgspec writes it."""

    def __init__(self, tag, header, fields, raws):
        self.tag = tag
        self.header = header    # [version, kind, channel_id, seq, ts]
        self.fields = fields    # field values; Raw fields as their bytes
        self.raws = raws        # {field index: decoded value} for Raw fields
        self.sent = b""
        self.canon = b""


# each type's fields after the header: (name, default or REQUIRED, is Raw)
REQUIRED = object()
FIELDS = {
    1: [("payload", REQUIRED, True)],
    2: [("action", REQUIRED, False), ("metadata", NIL, True)],
    3: [("sender_id", "", False)],
    4: [("acked_seq", 0, False), ("status", "ok", False)],
    5: [("code", "", False), ("message", "", False), ("details", NIL, True)],
}
HEADER_DEFAULTS = [1, 1, "", 0, 0]


def encode(tag, header, fields, raw_flags, extra_env=(), extra_header=()):
    """msgspec's layout of [tag, header, *fields] (Raw fields spliced in as
    bytes), plus extra elements where asked."""
    items = [packb(tag), packb(list(header) + list(extra_header))]
    for v, is_raw in zip(fields, raw_flags):
        items.append(v if is_raw else packb(v))
    items += [packb(x) for x in extra_env]
    return array_header(len(items)) + b"".join(items)


def rand_env(rng):
    tag = rng.randint(1, 5)
    version = 1 if rng.random() < 0.9 else rng.choice([0, 2, 255, 2**32 - 1, rng.getrandbits(32)])
    header = [version, tag, rand_str(rng), rand_u64(rng), rand_i64(rng)]
    spec = FIELDS[tag]
    fields, raws = [], {}
    for i, (name, default, is_raw) in enumerate(spec):
        use_default = default is not REQUIRED and rng.random() < 0.2
        if is_raw:
            if use_default:
                fields.append(NIL)
                raws[i] = None
            else:
                v = rand_value(rng)
                fields.append(packb(v))
                raws[i] = v
        elif name == "acked_seq":
            fields.append(0 if use_default else rand_u64(rng))
        else:
            fields.append(default if use_default else rand_str(rng))
    # sometimes the header's trailing fields are the defaults too
    if rng.random() < 0.15:
        header[4] = 0
        if rng.random() < 0.5:
            header[3] = 0
            if rng.random() < 0.5:
                header[2] = ""
    env = Env(tag, header, fields, raws)
    flags = [s[2] for s in spec]
    env.canon = encode(tag, header, fields, flags)

    # the form sent: as msgspec writes it, or shortened / lengthened in the
    # ways msgspec's decoder accepts
    r = rng.random()
    if r < 0.2:
        # leave out trailing fields that hold their defaults (the header's
        # kind only in a data message: absent, it is 1), then maybe keep
        # some of them after all
        n = len(fields)
        while n > 0 and spec[n - 1][1] is not REQUIRED and fields[n - 1] == spec[n - 1][1]:
            n -= 1
        h = len(header)
        while h > 0 and header[h - 1] == HEADER_DEFAULTS[h - 1]:
            h -= 1
        h = rng.randint(h, len(header))
        n = rng.randint(n, len(fields))
        env.sent = encode(tag, header[:h], fields[:n], flags[:n])
    elif r < 0.3:
        extra_env = [rand_value(rng) for _ in range(rng.randint(0, 3))]
        extra_header = [rand_value(rng) for _ in range(rng.randint(0, 2))]
        env.sent = encode(tag, header, fields, flags, extra_env, extra_header)
    else:
        env.sent = env.canon
    return env


def generate(seed, count):
    rng = random.Random(seed)
    return [rand_env(rng) for _ in range(count)]


def gen(seed, count, out_dir):
    envs = generate(seed, count)
    write_records(out_dir + "/sent.bin", [e.sent for e in envs])
    write_records(out_dir + "/canon.bin", [e.canon for e in envs])
    with open(out_dir + "/stream.bin", "wb") as f:
        for e in envs:
            f.write(e.sent)


# ---- what klaw's JSON must say (klaw/json.h's mapping) -------------------------------

def b64(b):
    return base64.b64encode(b).decode("ascii")


def rfc3339(ts):
    dt = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(seconds=ts.seconds)
    s = dt.strftime("%Y-%m-%dT%H:%M:%S")
    s = "%04d%s" % (dt.year, s[s.index("-"):])  # strftime's %Y may not pad
    if ts.nanoseconds:
        s += ".%09d" % ts.nanoseconds
    return s + "Z"


def expected_json(v):
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return None if math.isnan(v) or math.isinf(v) else v
    if isinstance(v, bytes):
        return b64(v)
    if isinstance(v, Timestamp):
        return rfc3339(v)
    if isinstance(v, ExtType):
        return {"$ext": v.code, "data": b64(v.data)}
    if isinstance(v, list):
        return [expected_json(x) for x in v]
    if isinstance(v, dict):
        return {(k if isinstance(k, str) else str(k)): expected_json(x) for k, x in v.items()}
    raise TypeError(type(v))


def expected(env):
    version, kind, channel_id, seq, ts = env.header
    out = {"type": TYPES[env.tag],
           "header": {"version": version, "kind": kind, "channel_id": channel_id, "seq": seq, "ts_ms": ts}}
    for i, (name, _, is_raw) in enumerate(FIELDS[env.tag]):
        out[name] = expected_json(env.raws[i]) if is_raw else env.fields[i]
    return out


def same(a, b, path):
    """Strict equality: types match (bool is not int, float is not int),
    floats bit for bit, dict keys in the same order."""
    if type(a) is not type(b):
        return f"{path}: {a!r} ({type(a).__name__}) != {b!r} ({type(b).__name__})"
    if isinstance(a, float):
        if struct.pack(">d", a) != struct.pack(">d", b):
            return f"{path}: {a!r} != {b!r}"
    elif isinstance(a, dict):
        if list(a) != list(b):
            return f"{path}: keys {list(a)!r} != {list(b)!r}"
        for k in a:
            d = same(a[k], b[k], f"{path}.{k}")
            if d:
                return d
    elif isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            d = same(x, y, f"{path}[{i}]")
            if d:
                return d
    elif a != b:
        return f"{path}: {a!r} != {b!r}"
    return None


def check(seed, count, jsonl):
    envs = generate(seed, count)
    with open(jsonl, encoding="utf-8") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) != count:
        raise SystemExit(f"{jsonl}: {len(lines)} lines, want {count}")
    for i, (env, line) in enumerate(zip(envs, lines)):
        try:
            got = json.loads(line)
        except ValueError as e:
            raise SystemExit(f"{jsonl}: line {i + 1} is not JSON ({e}): {line[:200]}")
        d = same(got, expected(env), "$")
        if d:
            raise SystemExit(f"{jsonl}: envelope {i} (seed {seed:#x}): {d}\n  sent: {env.sent[:80].hex()}")
    print(f"envelope_interop: {count} envelopes match field by field ({jsonl})")


def main(argv):
    if len(argv) == 5 and argv[1] == "gen":
        gen(int(argv[2], 0), int(argv[3]), argv[4])
    elif len(argv) == 5 and argv[1] == "check":
        check(int(argv[2], 0), int(argv[3]), argv[4])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
