#!/usr/bin/python3
"""Interop helper for tests/test_interop.c: python-msgpack on the other side.

  interop.py gen SEED COUNT OUT   COUNT seeded random values, packed by
                                  python-msgpack (use_bin_type=True), to OUT
  interop.py repack IN OUT        unpacks every value of IN strictly
                                  (raw=False, Timestamp objects, map pairs
                                  kept in order) and packs it again to OUT

Files hold records: a 4-byte big-endian length, then that many bytes.
Run by /usr/bin/python3 so that Debian's python3-msgpack is the one used.
"""
import random
import struct
import sys

import msgpack
from msgpack import ExtType, Timestamp


def read_records(path):
    with open(path, "rb") as f:
        data = f.read()
    out, i = [], 0
    while i < len(data):
        (n,) = struct.unpack_from(">I", data, i)
        i += 4
        if i + n > len(data):
            raise SystemExit(f"{path}: record at {i - 4} runs past the end")
        out.append(data[i:i + n])
        i += n
    return out


def write_records(path, records):
    with open(path, "wb") as f:
        for r in records:
            f.write(struct.pack(">I", len(r)))
            f.write(r)


# ---- random values ----------------------------------------------------------

INT_RANGES = [
    (0, 127), (128, 255), (256, 65535), (65536, 2**32 - 1), (2**32, 2**64 - 1),
    (-32, -1), (-128, -33), (-32768, -129), (-2**31, -32769), (-2**63, -2**31 - 1),
]
INT_EDGES = [0, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**63 - 1, 2**63,
             2**64 - 1, -1, -32, -33, -128, -129, -32768, -32769, -2**31, -2**31 - 1, -2**63]
LEN_EDGES = [0, 1, 15, 16, 31, 32, 255, 256]
EXT_LENS = [0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 255, 256, 300]


def rand_len(rng, small=40):
    r = rng.random()
    if r < 0.001:
        return rng.randint(65536, 70000)
    if r < 0.01:
        return rng.randint(256, 2000)
    if r < 0.1:
        return rng.choice(LEN_EDGES)
    return rng.randint(0, small)


def rand_char(rng):
    r = rng.random()
    if r < 0.6:
        return chr(rng.randint(0x20, 0x7e))
    if r < 0.75:
        return chr(rng.randint(0x80, 0x7ff))
    if r < 0.9:
        cp = rng.randint(0x800, 0xfffd)
        return chr(cp if not 0xd800 <= cp <= 0xdfff else 0xe000)
    return chr(rng.randint(0x10000, 0x10ffff))


def rand_str(rng):
    n = rand_len(rng)
    # n characters; the UTF-8 length is what matters for the header, and
    # non-ASCII characters spread it over the boundaries too
    return "".join(rand_char(rng) for _ in range(n))


def rand_int(rng):
    if rng.random() < 0.3:
        return rng.choice(INT_EDGES)
    lo, hi = rng.choice(INT_RANGES)
    return rng.randint(lo, hi)


def rand_float(rng):
    r = rng.random()
    if r < 0.1:
        return rng.choice([0.0, -0.0, float("inf"), float("-inf"), float("nan"), 1e-310, 5e-324, 1.7976931348623157e308])
    if r < 0.5:
        return rng.uniform(-1e6, 1e6)
    return struct.unpack(">d", struct.pack(">Q", rng.getrandbits(64)))[0]


def rand_timestamp(rng):
    r = rng.random()
    if r < 0.25:
        sec = rng.randint(0, 2**32 - 1)
    elif r < 0.5:
        sec = rng.randint(0, 2**34 - 1)
    elif r < 0.7:
        sec = rng.randint(2**34, 2**63 - 1)
    else:
        sec = rng.randint(-2**63, -1)
    nsec = 0 if rng.random() < 0.4 else rng.randint(0, 999999999)
    return Timestamp(sec, nsec)


class AnyExt(ExtType):
    """ExtType refuses codes below 0 (reserved for the spec's own types), but
    the wire carries -128..127 and klaw must copy any of them; the packer
    accepts an ExtType of any code."""

    def __new__(cls, code, data):
        return tuple.__new__(cls, (code, data))


def rand_ext(rng):
    code = rng.randint(-128, 127)
    if code == -1:
        code = 0
    n = rng.choice(EXT_LENS) if rng.random() < 0.995 else rng.randint(65536, 66000)
    return AnyExt(code, rng.randbytes(n))


def rand_key(rng):
    r = rng.random()
    if r < 0.5:
        return rand_str(rng)
    if r < 0.8:
        return rand_int(rng)
    if r < 0.9:
        return rng.randbytes(rng.randint(0, 8))
    if r < 0.95:
        return rng.choice([None, True, False])
    return (rand_int(rng), rand_str(rng))  # packs as an array


def rand_value(rng, depth):
    kinds = ["nil", "bool", "int", "int", "float", "str", "str", "bin", "ext", "ts"]
    if depth < 4:
        kinds += ["array", "map"]
    k = rng.choice(kinds)
    if k == "nil":
        return None
    if k == "bool":
        return rng.random() < 0.5
    if k == "int":
        return rand_int(rng)
    if k == "float":
        return rand_float(rng)
    if k == "str":
        return rand_str(rng)
    if k == "bin":
        return rng.randbytes(rand_len(rng))
    if k == "ext":
        return rand_ext(rng)
    if k == "ts":
        return rand_timestamp(rng)
    n = rng.choice([0, 1, 2, 3, 4, 5, 15, 16]) if rng.random() < 0.95 else rng.randint(0, 40)
    if k == "array":
        return [rand_value(rng, depth + 1) for _ in range(n)]
    return {rand_key(rng): rand_value(rng, depth + 1) for _ in range(n)}


def gen(seed, count, out):
    rng = random.Random(seed)
    records = []
    for i in range(count):
        v = rand_value(rng, 0)
        # one value in eight packs its floats as float32
        single = i % 8 == 7
        records.append(msgpack.packb(v, use_bin_type=True, use_single_float=single))
    write_records(out, records)


# ---- strict unpack, repack ------------------------------------------------------


class Pairs(list):
    """A map's (key, value) pairs in wire order: keeps keys Python cannot
    hash (arrays, maps) and never merges equal keys."""


def repack_value(obj, packer, out):
    if isinstance(obj, Pairs):
        out.append(packer.pack_map_header(len(obj)))
        for k, v in obj:
            repack_value(k, packer, out)
            repack_value(v, packer, out)
    elif isinstance(obj, list):
        out.append(packer.pack_array_header(len(obj)))
        for v in obj:
            repack_value(v, packer, out)
    else:
        out.append(packer.pack(obj))


def repack(inp, out):
    packer = msgpack.Packer(use_bin_type=True, autoreset=True)
    records = []
    for i, data in enumerate(read_records(inp)):
        try:
            obj = msgpack.unpackb(data, raw=False, strict_map_key=False, timestamp=0,
                                  object_pairs_hook=Pairs, use_list=True, ext_hook=AnyExt)
        except Exception as e:
            raise SystemExit(f"record {i}: python-msgpack refused it: {e!r}: {data[:64].hex()}")
        parts = []
        repack_value(obj, packer, parts)
        records.append(b"".join(parts))
    write_records(out, records)


def main(argv):
    if len(argv) == 5 and argv[1] == "gen":
        gen(int(argv[2], 0), int(argv[3]), argv[4])
    elif len(argv) == 4 and argv[1] == "repack":
        repack(argv[2], argv[3])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
