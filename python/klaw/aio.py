"""klaw.aio - klaw channels on an asyncio event loop, through the handles'
descriptors (fileno / arm; the C headers' "event loops" contract) and
loop.add_reader: no thread per channel.

    rx = klaw.aio.Receiver(klaw.Mpmc.open_rx("orders"))
    frame = await rx.recv()                 # bytes
    async for frame in rx: ...              # until Closed
    tx = klaw.aio.Sender(klaw.Mpmc.open_tx("orders"))
    await tx.send(b"...")                   # waits for room on the loop
    index, frame = await klaw.aio.select([rx1, rx2])

Each wait arms the handle's descriptor and waits for it to become readable
for at most the time arm() returns (the channel's liveness clock: arming
again then reaps dead peers), so a loop that only ever awaits recovers a
dead producer's claim like a blocking receive does.
"""
import asyncio

from . import _klaw
from ._klaw import Closed, Empty, Full, Lagged


async def _readable(fd, arm):
    """Arms (arm() returns the seconds to wait at most), then waits until fd
    is readable or that time passes."""
    loop = asyncio.get_running_loop()
    fut = loop.create_future()

    def ready():
        loop.remove_reader(fd)
        if not fut.done():
            fut.set_result(None)

    timeout = arm()
    loop.add_reader(fd, ready)
    try:
        await asyncio.wait_for(fut, timeout)
    except asyncio.TimeoutError:
        pass
    finally:
        loop.remove_reader(fd)


class _OneWaiter:
    """A descriptor has one reader callback on a loop: a second task waiting
    on the same handle would replace the first's, which would then never
    wake. So one task waits at a time; a second gets RuntimeError."""

    def __init__(self):
        self._busy = False

    async def wait(self, fd, arm):
        if self._busy:
            raise RuntimeError("another task is waiting on this klaw handle (one task at a time; "
                               "give each task its own handle)")
        self._busy = True
        try:
            await _readable(fd, arm)
        finally:
            self._busy = False


class Receiver:
    """An asyncio face of a klaw receiver (any kind). One task awaits it at
    a time (RuntimeError otherwise)."""

    def __init__(self, rx):
        self.rx = rx
        self._fd = rx.fileno()
        self._waiter = _OneWaiter()

    async def recv(self):
        """The next frame (bytes); Closed once every sender is gone."""
        while True:
            try:
                return self.rx.try_recv()
            except Empty:
                pass
            await self._waiter.wait(self._fd, self.rx.arm)

    async def recv_batch(self, max=64):
        """1..max frames (mpmc, broadcast)."""
        while True:
            try:
                return self.rx.recv_batch(max, timeout=0)
            except (_klaw.Timeout, Empty):
                pass
            await self._waiter.wait(self._fd, self.rx.arm)

    def __aiter__(self):
        return self

    async def __anext__(self):
        try:
            return await self.recv()
        except Closed:
            raise StopAsyncIteration from None

    def close(self):
        self.rx.close()


class Sender:
    """An asyncio face of an mpmc or broadcast sender: send() waits for room
    on the loop (mpmc full, broadcast BLOCK)."""

    def __init__(self, tx):
        self.tx = tx
        self._fd = tx.fileno()
        self._waiter = _OneWaiter()

    async def send(self, data):
        while True:
            try:
                return self.tx.try_send(data)
            except Full:
                pass
            await self._waiter.wait(self._fd, self.tx.arm)

    def close(self):
        self.tx.close()


async def select(receivers):
    """(index, frame) from whichever receiver (klaw receivers or Receiver
    wrappers) has something first; one descriptor for the whole set."""
    rxs = [r.rx if isinstance(r, Receiver) else r for r in receivers]
    sf = _klaw.SelectFd(rxs)
    fd = sf.fileno()
    while True:
        try:
            return _klaw.select(rxs, 0)
        except _klaw.Timeout:
            pass
        await _readable(fd, sf.arm)


__all__ = ["Receiver", "Sender", "select", "Closed", "Lagged"]
