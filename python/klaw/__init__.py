"""klaw - zero-copy channels in shared memory, from Python.

Every channel kind of the C library, by name (shared between processes) or
anonymous (this process), with the same semantics:

    import klaw
    tx, rx = klaw.Mpmc.create(capacity=1024, max_frame=4096, name="orders")
    tx.send(b"frame")                       # copies in
    with tx.claim(5) as buf:                # or writes in place; commits at
        buf[:] = b"hello"                   # the end, aborts on an exception
    rx.recv(timeout=1.0)                    # b"frame" (a copy)
    with rx.view() as frame:                # a read-only memoryview over the
        header = bytes(frame[:4])           # slot itself, released at the end
    for frame in rx: ...                    # until every sender is gone

    other = klaw.Mpmc.open_rx("orders")     # in another process

Kinds: klaw.Mpmc (each frame to one receiver), klaw.Broadcast (every frame
to every receiver; a receiver that falls a ring behind gets klaw.Lagged
with .missed), klaw.Watch (the latest value; recv() waits for a newer
version), klaw.Oneshot (one value, once). klaw.select(receivers,
timeout=None) -> (index, frame) takes from whichever is ready first.
Blocking calls take timeout= seconds (None: as long as it takes), release
the GIL while they wait, and answer Ctrl-C (KeyboardInterrupt).

Errors are exceptions mirroring klaw's statuses, all klaw.Error: Closed,
Timeout, Lagged (.missed), Corrupt, Full, Empty, TooBig, NotFound, Exists,
Invalid, SysError, DecodeError, AlreadySent, PermissionDenied,
VersionMismatch; each has .status (the klaw_status code).

A view's memoryview is released when its `with` block ends: using it
afterwards raises ValueError; it cannot crash the interpreter (the view
keeps its channel mapped). A broadcast view the writer lapped while it was
held raises klaw.Lagged when released: what was read may be torn.

Event loops: every receiver (and an mpmc or BLOCK broadcast sender) has
fileno() and arm() (the descriptor contract of the C headers: drain with
try_ forms, arm, wait - arm returns the seconds to wait at most); klaw.aio
wraps them for asyncio (await rx.recv(), async for). The wire:
klaw.envelope reads and writes klaw-core's wire v1 envelopes.
"""
import json as _json

from . import _klaw
from ._klaw import (AlreadySent, Claim, Closed, Corrupt, DecodeError, Empty, Error, Exists, Full, Invalid,
                    Lagged, NotFound, PermissionDenied, Receiver, SelectFd, Sender, SysError, TooBig, Timeout,
                    VersionMismatch, View)

__version__ = _klaw.version

__all__ = [
    "Mpmc", "Broadcast", "Watch", "Oneshot", "select", "unlink", "metadata", "stats", "readers",
    "Sender", "Receiver", "View", "Claim", "SelectFd",
    "Error", "Closed", "Timeout", "Lagged", "Corrupt", "Full", "Empty", "TooBig", "NotFound", "Exists",
    "Invalid", "SysError", "DecodeError", "AlreadySent", "PermissionDenied", "VersionMismatch",
]


class Mpmc:
    """Multi-producer multi-consumer: each frame reaches exactly one receiver."""

    @staticmethod
    def create(capacity=1024, max_frame=4096, name=None, mode=0):
        """A new channel and its first (sender, receiver). capacity: slots
        (a power of two); name: shared as /dev/shm/klaw.<name>; mode: its
        permissions (0: 0600)."""
        return _klaw.mpmc_create(capacity, max_frame, name, mode)

    @staticmethod
    def open_tx(name):
        return _klaw.open("mpmc", "tx", name)

    @staticmethod
    def open_rx(name):
        return _klaw.open("mpmc", "rx", name)


class Broadcast:
    """One writer's frames to every receiver. policy 'overwrite': the writer
    never waits, a slow receiver gets Lagged; 'block': the writer waits for
    the slowest receiver."""

    @staticmethod
    def create(capacity=1024, max_frame=4096, policy="overwrite", name=None, mode=0):
        """A new channel and its first sender (receivers: subscribe / open_rx)."""
        return _klaw.bcast_create(capacity, max_frame, policy, name, mode)

    @staticmethod
    def subscribe(tx, reader_id=None, from_oldest=False):
        """A receiver of tx's channel (reader_id: its name in the registry)."""
        return _klaw.bcast_subscribe(tx, reader_id, from_oldest)

    @staticmethod
    def open_tx(name):
        return _klaw.open("broadcast", "tx", name)

    @staticmethod
    def open_rx(name, reader_id=None, from_oldest=False):
        return _klaw.open("broadcast", "rx", name, reader_id, from_oldest)


class Watch:
    """The latest value: recv() waits for a version newer than the last
    seen; get() reads the current one."""

    @staticmethod
    def create(max_frame=4096, initial=b"", name=None, mode=0):
        return _klaw.watch_create(max_frame, initial, name, mode)

    @staticmethod
    def open_tx(name):
        return _klaw.open("watch", "tx", name)

    @staticmethod
    def open_rx(name):
        return _klaw.open("watch", "rx", name)


class Oneshot:
    """One value, once."""

    @staticmethod
    def create(max_frame=4096, name=None, mode=0, tx=True, rx=True):
        """(sender, receiver); a named oneshot may leave either to another
        process (tx=False / rx=False: None in its place)."""
        return _klaw.oneshot_create(max_frame, name, mode, tx, rx)

    @staticmethod
    def open_tx(name):
        return _klaw.open("oneshot", "tx", name)

    @staticmethod
    def open_rx(name):
        return _klaw.open("oneshot", "rx", name)


def select(receivers, timeout=None):
    """Waits until one of the receivers has something and takes it:
    (index, frame bytes). Closed and Lagged carry .index (the receiver they
    came from); Timeout when the timeout passed."""
    return _klaw.select(receivers, timeout)


def unlink(name):
    """Removes a named channel from /dev/shm (True if it was there); the
    handles open on it go on working."""
    return _klaw.unlink(name)


def metadata(name):
    """The channel's metadata record (kind, capacity, max_frame, policy,
    created_at, creator, ...) as a dict."""
    return _json.loads(_klaw.info(name)[0])


def stats(name):
    """The channel's stats record (sender_count, receiver_count, queue_size,
    ...) as a dict."""
    return _json.loads(_klaw.info(name)[1])


def readers(name):
    """A broadcast channel's registered receivers (reader_id, node_id,
    registered_at, last_seen_at, total_received), a list of dicts."""
    return [_json.loads(r) for r in _klaw.info(name)[2]]


from . import envelope  # noqa: E402  (after the names it uses)
