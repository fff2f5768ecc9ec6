#!/usr/bin/python3
"""Interop helper for tests/test_records.c: klaw-core's records as msgspec
encodes them, built with python-msgpack.

msgspec encodes a Struct (no array_like) as a map of its fields in
declaration order, every field present (no omit_defaults), None as nil, a
tz-aware datetime as the timestamp extension (-1), tuples as arrays. The
klaw-core records are (klaw_core/runtime/channels):

  ChannelMetadata(channel_type: StrEnum, capacity: int | None,
                  unbounded: bool, value_type: str | None = None)
  ReaderInfo(reader_id: str, node_id: str, registered_at: datetime,
             last_seen_at: datetime, total_received: int)
  ChannelStats(sender_count, receiver_count, queue_size: int,
               capacity: int | None, senders_closed, receivers_closed: bool,
               created_at: datetime, high_watermark, total_sent,
               total_received: int, backend_extras: dict | None = None)
  SingleResult(status: str, value: T | None = None)
  BatchResult(status: str, items: tuple[T, ...] = ())

  records_interop.py gen SEED COUNT OUT   COUNT random records to OUT, each
                                          a 1-byte kind (0..4, klaw_record),
                                          a 4-byte big-endian length, bytes
  records_interop.py check IN             reads klaw's ChannelMetadata
                                          encodings (with klaw's extra keys)
                                          and checks what msgspec would see
"""
import random
import struct
import sys

import msgpack
from msgpack import Timestamp

KINDS = ["mpmc", "broadcast", "watch", "oneshot"]


def ts(rng):
    sec = rng.choice([0, 1, 1700000000, rng.randrange(0, 2**34), rng.randrange(-2**40, 2**40)])
    nsec = rng.choice([0, 0, rng.randrange(0, 10**9)])
    return Timestamp(sec, nsec)


def text(rng):
    alphabet = "abcXYZ019_-:. é漢🎉"
    return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 24)))


def any_value(rng, depth=0):
    r = rng.randrange(8 if depth < 2 else 5)
    if r == 0:
        return None
    if r == 1:
        return rng.randrange(-2**63, 2**64)
    if r == 2:
        return text(rng)
    if r == 3:
        return rng.random() * 1e6
    if r == 4:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(0, 8)))
    if r == 5:
        return [any_value(rng, depth + 1) for _ in range(rng.randrange(0, 4))]
    return {text(rng): any_value(rng, depth + 1) for _ in range(rng.randrange(0, 4))}


def record(rng):
    kind = rng.randrange(5)
    i63 = lambda: rng.randrange(-2**63, 2**63)
    if kind == 0:
        d = {"channel_type": rng.choice(KINDS),
             "capacity": rng.choice([None, rng.randrange(0, 2**31), i63()]),
             "unbounded": rng.random() < 0.5,
             "value_type": rng.choice([None, text(rng), "dict[str, int]"])}
    elif kind == 1:
        d = {"reader_id": text(rng), "node_id": text(rng) + ":" + str(rng.randrange(1, 2**22)),
             "registered_at": ts(rng), "last_seen_at": ts(rng), "total_received": i63()}
    elif kind == 2:
        d = {"sender_count": i63(), "receiver_count": i63(), "queue_size": i63(),
             "capacity": rng.choice([None, rng.randrange(0, 2**20)]),
             "senders_closed": rng.random() < 0.5, "receivers_closed": rng.random() < 0.5,
             "created_at": ts(rng), "high_watermark": i63(), "total_sent": i63(), "total_received": i63(),
             "backend_extras": rng.choice([None, {}, {"lagged": rng.randrange(0, 2**40)},
                                           {text(rng): any_value(rng)}])}
    elif kind == 3:
        d = {"status": rng.choice(["ok", "empty", "closed", text(rng)]), "value": any_value(rng)}
    else:
        d = {"status": rng.choice(["ok", "partial", text(rng)]),
             "items": [any_value(rng) for _ in range(rng.randrange(0, 6))]}
    return kind, msgpack.packb(d, use_bin_type=True, datetime=False)


def main():
    if sys.argv[1] == "gen":
        rng = random.Random(int(sys.argv[2]))
        with open(sys.argv[4], "wb") as f:
            for _ in range(int(sys.argv[3])):
                kind, b = record(rng)
                f.write(bytes([kind]) + struct.pack(">I", len(b)) + b)
    elif sys.argv[1] == "check":
        data = open(sys.argv[2], "rb").read()
        m = msgpack.unpackb(data, raw=False, timestamp=0, strict_map_key=False)
        # what msgspec's ChannelMetadata decoder would keep (unknown keys ignored)
        assert list(m)[:4] == ["channel_type", "capacity", "unbounded", "value_type"], list(m)
        assert m["channel_type"] == "broadcast" and m["capacity"] == 1024 and m["unbounded"] is False
        assert m["value_type"] == "Order"
        assert m["max_frame"] == 4096 and m["policy"] == "overwrite" and m["name"] == "orders"
        assert m["created_at"] == Timestamp(1700000000, 5) and m["creator"] == "host:42"
    else:
        raise SystemExit("usage: records_interop.py gen SEED COUNT OUT | check IN")


if __name__ == "__main__":
    main()
