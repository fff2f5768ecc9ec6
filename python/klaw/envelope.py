"""klaw.envelope - klaw-core's wire v1 envelopes: read in place, and built
with klaw's own C writers (so the bytes equal what klaw's C programs
write).

    env = klaw.envelope.view(frame)        # frame: bytes or a memoryview
    env.type                               # 'data', 'control', ...
    env.header                             # Header(version, kind, channel_id, seq, ts_ms)
    msgpack.unpackb(env.payload)           # data: a memoryview of the payload

    frame = klaw.envelope.data("orders", 7, msgpack.packb({"id": 1}))

A malformed envelope raises klaw.DecodeError with msgspec's wording and
place ("Expected `array`, got `int` - at `$`").
"""
import time
from collections import namedtuple

from . import _klaw

Header = namedtuple("Header", "version kind channel_id seq ts_ms")
Envelope = namedtuple("Envelope", "type header payload fields")

TYPES = {1: "data", 2: "control", 3: "heartbeat", 4: "ack", 5: "error"}
DATA, CONTROL, HEARTBEAT, ACK, ERROR = 1, 2, 3, 4, 5


def view(frame):
    """The envelope in frame, read in place: Envelope(type, header, payload,
    fields). payload: data's payload as a memoryview of frame (no copy);
    None for the other types. fields: the type's own fields as a dict
    (control: action, metadata; heartbeat: sender_id; ack: acked_seq,
    status; error: code, message, details) - Raw values (metadata,
    details) as memoryviews, None when absent."""
    t, version, kind, channel_id, seq, ts_ms, f = _klaw.envelope_view(frame)
    mv = memoryview(frame)
    if mv.ndim != 1 or mv.format not in ("B", "b", "c"):
        mv = mv.cast("B")

    def raw(off, n):  # an absent Raw is written as nil
        return mv[off:off + n] if n and not (n == 1 and mv[off] == 0xC0) else None

    payload = None
    fields = {}
    if t == DATA:
        payload = raw(f[0], f[1])
    elif t == CONTROL:
        fields = {"action": f[0], "metadata": raw(f[1], f[2])}
    elif t == HEARTBEAT:
        fields = {"sender_id": f[0]}
    elif t == ACK:
        fields = {"acked_seq": f[0], "status": f[1]}
    else:
        fields = {"code": f[0], "message": f[1], "details": raw(f[2], f[3])}
    return Envelope(TYPES[t], Header(version, kind, channel_id, seq, ts_ms), payload, fields)


def _now_ms():
    return int(time.time() * 1000)


def data(channel_id, seq, payload, ts_ms=None):
    """A DataMessage frame; payload: already MessagePack (bytes-like; None:
    nil)."""
    return _klaw.envelope_build(DATA, channel_id, seq, _now_ms() if ts_ms is None else ts_ms, payload)


def control(channel_id, seq, action, metadata=None, ts_ms=None):
    """A ControlMessage; metadata: one MessagePack value (bytes) or None."""
    return _klaw.envelope_build(CONTROL, channel_id, seq, _now_ms() if ts_ms is None else ts_ms, action, metadata)


def heartbeat(channel_id, seq, sender_id, ts_ms=None):
    return _klaw.envelope_build(HEARTBEAT, channel_id, seq, _now_ms() if ts_ms is None else ts_ms, sender_id)


def ack(channel_id, seq, acked_seq, status, ts_ms=None):
    return _klaw.envelope_build(ACK, channel_id, seq, _now_ms() if ts_ms is None else ts_ms, acked_seq, status)


def error(channel_id, seq, code, message, details=None, ts_ms=None):
    """An ErrorMessage; details: one MessagePack value (bytes) or None."""
    return _klaw.envelope_build(ERROR, channel_id, seq, _now_ms() if ts_ms is None else ts_ms, code, message,
                                details)


__all__ = ["view", "data", "control", "heartbeat", "ack", "error", "Header", "Envelope", "TYPES"]
