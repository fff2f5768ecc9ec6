"""klaw-bench python: klaw's channels from Python against what a Python
user would pick instead, process to process, in the same run.

klaw-bench runs this file with Debian's interpreter (/usr/bin/python3) and
PYTHONPATH at the build tree's python/ (or the installed package):

    /usr/bin/python3 python_bench.py [--runs N] [--quick]

It prints one line per result on stdout, tab-separated, which klaw-bench
turns into its JSON rows and tables (so there is one row format, report.c's):

    row  CASE  IMPL  METRIC  UNIT  VALUE|skipped:WHY  kind=K  frame_bytes=F  readers=R
    fail CASE  MESSAGE          (a case failed its check: klaw-bench exits 1)

and progress lines on stderr. The cases:

  1_to_n (kind mpmc | broadcast, frame_bytes 64 | 4096, readers 1 | 4): one
      writer process, R reader processes (forked). The writer sends flat
      out for one repetition's time, then ends the stream; frames_per_s =
      frames sent / (the last reader's end - the writer's start),
      delivered_per_s = frames taken by all readers over the same time,
      lost_frames = frames due and not delivered (a total over the runs).
      mpmc: each frame to exactly one reader; broadcast: every frame to
      every reader, in order (klaw: policy 'block', nothing may be lost).
      klaw_recv: rx.recv() (a copy); klaw_view: `with rx.view()` (the slot
      itself). mp_queue: multiprocessing.Queue (broadcast: one per reader);
      mp_pipe: multiprocessing.Pipe, one per reader (mpmc: frames dealt
      round robin); mp_shm_ring: multiprocessing.shared_memory, a ring of
      1024 slots guarded by a multiprocessing.Lock, with semaphores counting
      free and full slots (broadcast: a pair per reader).
  view_cost (frame_bytes 64 | 1048576, readers 1): what taking one frame
      costs, klaw_view (view, check the first and last words, release)
      against klaw_recv (a copy, checked): ns_per_op and frames_per_s. A
      writer process fills a ring of 16 slots (max_frame 1 MiB for both
      sizes: only the frame's size differs), the reader takes the first
      frame untimed (it has just woken up) and times the other 15.
  asyncio (frame_bytes 64 | 4096, readers 1): a reader process on an
      asyncio loop, `await klaw.aio.Receiver(rx).recv()` per frame
      (asyncio_klaw) against `await StreamReader.readexactly()` of
      length-prefixed frames from a socket.socketpair (asyncio_socketpair;
      its writer hands the socket 64 KiB at a time); the writer in
      another process.

Every frame carries its sequence number in its first and last 8 bytes and
is checked on arrival (length, both words, exactly once / in order).
"""
import argparse
import asyncio
import multiprocessing
import os
import socket
import statistics
import struct
import sys
import time
from multiprocessing import shared_memory

try:
    import klaw
    import klaw.aio
    KLAW_WHY = None
except ImportError as e:  # the peers are still measured
    klaw = None
    KLAW_WHY = f"the klaw package does not import ({e})"

CAPACITY = 1024           # ring slots, every transport that has a bound
CHECK_EVERY = 256         # writers read the clock once per this many frames
MAX_SEQ = 1 << 32         # a sequence number past this is garbage
END = b""                 # the end of a peer's stream

THROUGHPUT_IMPLS = ("klaw_recv", "klaw_view", "mp_queue", "mp_pipe", "mp_shm_ring")
ASYNCIO_IMPLS = ("asyncio_klaw", "asyncio_socketpair")
KINDS = ("mpmc", "broadcast")
FRAMES = (64, 4096)
READERS = (1, 4)
VIEW_FRAMES = (64, 1 << 20)
VIEW_BATCH = 16           # view_cost: frames the writer puts in the ring at a time

ctx = multiprocessing.get_context("fork")


def frame_struct(size):
    """The sequence number at both ends of a frame of `size` bytes."""
    return struct.Struct(f"<Q{size - 16}xQ")


# ---- output -----------------------------------------------------------------------------------

def params(kind, frame_bytes, readers):
    return f"kind={kind}\tframe_bytes={frame_bytes}\treaders={readers}"


def emit(case, impl, metric, unit, value, p):
    v = f"skipped:{value}" if isinstance(value, str) else repr(float(value))
    print(f"row\t{case}\t{impl}\t{metric}\t{unit}\t{v}\t{p}", flush=True)


def emit_fail(case, msg):
    print(f"fail\t{case}\t{msg}", flush=True)


def progress(msg):
    print(f"python: {msg}", file=sys.stderr, flush=True)


# ---- readers: take frames until the end, check each --------------------------------------------

class Tally:
    """What a reader saw: intact frames, bad ones (wrong length or words),
    and for mpmc a map of the sequence numbers (one byte each: duplicates
    across readers show when the maps are merged), for broadcast the gaps
    and repeats of an in-order stream."""

    def __init__(self):
        self.count = self.bad = self.dup = self.gap = 0
        self.seen = bytearray(1 << 16)
        self.t_end = 0.0

    def result(self, once):
        return {"count": self.count, "bad": self.bad, "dup": self.dup, "gap": self.gap,
                "seen": bytes(self.seen) if once else None, "t_end": self.t_end}


def grow(seen, s):
    seen.extend(bytes(max(len(seen), s + 1 - len(seen))))


def take_bytes(nextf, size, once, t, ends=(), last=False):
    """Frames from nextf() (bytes) until END or an exception in `ends`."""
    unpack = frame_struct(size).unpack_from
    seen, count, bad, dup, expect = t.seen, 0, 0, 0, 0
    try:
        while True:
            f = nextf()
            if not f:
                break
            if len(f) != size:
                bad += 1
                continue
            a, b = unpack(f)
            if a != b or a >= MAX_SEQ:
                bad += 1
                continue
            count += 1
            if once:
                try:
                    if seen[a]:
                        dup += 1
                    seen[a] = 1
                except IndexError:
                    grow(seen, a)
                    seen[a] = 1
            elif a != expect:
                if a < expect:
                    dup += 1
                else:
                    t.gap += a - expect
                expect = a + 1
            else:
                expect = a + 1
    except ends:
        pass
    t.t_end = time.perf_counter()
    t.count, t.bad, t.dup = count, bad, dup


def take_views(rx, size, once, t):
    """klaw_view: each frame looked at in its slot, then released."""
    unpack = frame_struct(size).unpack_from
    view = rx.view
    seen, count, bad, dup, expect = t.seen, 0, 0, 0, 0
    try:
        while True:
            with view() as m:
                if len(m) != size:
                    bad += 1
                    continue
                a, b = unpack(m)
            if a != b or a >= MAX_SEQ:
                bad += 1
                continue
            count += 1
            if once:
                try:
                    if seen[a]:
                        dup += 1
                    seen[a] = 1
                except IndexError:
                    grow(seen, a)
                    seen[a] = 1
            elif a != expect:
                if a < expect:
                    dup += 1
                else:
                    t.gap += a - expect
                expect = a + 1
            else:
                expect = a + 1
    except klaw.Closed:
        pass
    t.t_end = time.perf_counter()
    t.count, t.bad, t.dup = count, bad, dup


# ---- writers: flat out for one repetition ------------------------------------------------------

def write_for(send, size, rep_s):
    """Sends frames 0, 1, ... through send(buf) for rep_s seconds; returns
    (frames sent, start time). buf is reused: send must copy it."""
    pack = frame_struct(size).pack_into
    buf = bytearray(size)
    i = 0
    t0 = time.perf_counter()
    deadline = t0 + rep_s
    while True:
        for _ in range(CHECK_EVERY):
            pack(buf, 0, i, i)
            send(buf)
            i += 1
        if time.perf_counter() >= deadline:
            return i, t0


# ---- the transports ------------------------------------------------------------------------------
# Each is a class with setup() in the parent (before the fork), writer(r)
# and reader(idx, r) in the children, and cleanup() in the parent. r is a
# dict of the run's parameters; the writer returns (sent, t0), the reader
# a Tally.

class KlawRun:
    """klaw_recv / klaw_view: the writer creates the named channel (so no
    process inherits a handle across fork), the readers open it, all meet
    at the barrier, then the writer sends and closes (the readers then get
    Closed)."""

    seq = 0

    def __init__(self, kind, size, readers, view):
        KlawRun.seq += 1
        self.name = f"klaw-bench-py-{os.getpid()}-{KlawRun.seq}"
        self.kind, self.size, self.readers, self.view = kind, size, readers, view
        self.created = ctx.Event()

    def writer(self, barrier, rep_s):
        if self.kind == "mpmc":
            tx, rx = klaw.Mpmc.create(capacity=CAPACITY, max_frame=self.size, name=self.name)
        else:
            tx, rx = klaw.Broadcast.create(capacity=CAPACITY, max_frame=self.size, policy="block",
                                           name=self.name), None
        self.created.set()
        barrier.wait()
        if rx is not None:
            rx.close()
        sent, t0 = write_for(tx.send, self.size, rep_s)
        tx.close()
        return sent, t0

    def reader(self, idx, barrier):
        self.created.wait()
        rx = (klaw.Mpmc.open_rx(self.name) if self.kind == "mpmc"
              else klaw.Broadcast.open_rx(self.name))
        barrier.wait()
        t = Tally()
        once = self.kind == "mpmc"
        if self.view:
            take_views(rx, self.size, once, t)
        else:
            take_bytes(rx.recv, self.size, once, t, ends=klaw.Closed)
        rx.close()
        return t

    def cleanup(self):
        if klaw is not None:
            klaw.unlink(self.name)


class QueueRun:
    """mp_queue: one multiprocessing.Queue (mpmc: the readers compete for
    it, one END each at the end) or one per reader (broadcast: each frame
    put in every queue). Unbounded, as Queue() comes: its put only appends
    to a buffer its feeder thread pickles into a pipe."""

    def __init__(self, kind, size, readers):
        self.kind, self.size, self.readers = kind, size, readers
        n = 1 if kind == "mpmc" else readers
        self.queues = [ctx.Queue() for _ in range(n)]

    def writer(self, barrier, rep_s):
        barrier.wait()
        if self.kind == "mpmc":
            q = self.queues[0]
            sent, t0 = write_for(lambda b: q.put(bytes(b)), self.size, rep_s)
            for _ in range(self.readers):
                q.put(END)
        else:
            puts = [q.put for q in self.queues]

            def send(b):
                b = bytes(b)
                for put in puts:
                    put(b)
            sent, t0 = write_for(send, self.size, rep_s)
            for put in puts:
                put(END)
        for q in self.queues:
            q.close()
            q.join_thread()
        return sent, t0

    def reader(self, idx, barrier):
        q = self.queues[0 if self.kind == "mpmc" else idx]
        barrier.wait()
        t = Tally()
        take_bytes(q.get, self.size, self.kind == "mpmc", t)
        return t

    def cleanup(self):
        pass


class PipeRun:
    """mp_pipe: a multiprocessing.Pipe per reader, send_bytes/recv_bytes;
    mpmc deals the frames round robin, broadcast sends each to every pipe."""

    def __init__(self, kind, size, readers):
        self.kind, self.size, self.readers = kind, size, readers
        self.pipes = [ctx.Pipe(duplex=False) for _ in range(readers)]

    def writer(self, barrier, rep_s):
        sends = [w.send_bytes for _, w in self.pipes]
        barrier.wait()
        if self.kind == "mpmc" and self.readers > 1:
            turn = [0]
            n = self.readers

            def send(b):
                i = turn[0]
                sends[i](b)
                turn[0] = i + 1 if i + 1 < n else 0
        elif self.kind == "mpmc":
            send = sends[0]
        else:
            def send(b):
                for s in sends:
                    s(b)
        sent, t0 = write_for(send, self.size, rep_s)
        for s in sends:
            s(END)
        return sent, t0

    def reader(self, idx, barrier):
        r, _ = self.pipes[idx]
        barrier.wait()
        t = Tally()
        take_bytes(r.recv_bytes, self.size, self.kind == "mpmc", t)
        return t

    def cleanup(self):
        for r, w in self.pipes:
            r.close()
            w.close()


class ShmRingRun:
    """mp_shm_ring: a ring of CAPACITY slots (a 4-byte length, then the
    frame) in multiprocessing.shared_memory. The textbook bounded buffer:
    a Lock around every slot access, a semaphore of free slots and one of
    full ones. mpmc: one pair, the readers share the read index (in the
    block, under the lock) and copy under the lock, so slots are freed in
    ring order; broadcast: a pair per reader, each with its own index, the
    writer waiting for every reader's free slot before it writes."""

    HDR = 64  # the shared read index, then the slots

    def __init__(self, kind, size, readers):
        self.kind, self.size, self.readers = kind, size, readers
        self.slot = 4 + size
        self.shm = shared_memory.SharedMemory(create=True, size=self.HDR + CAPACITY * self.slot)
        self.lock = ctx.Lock()
        n = 1 if kind == "mpmc" else readers
        self.free = [ctx.Semaphore(CAPACITY) for _ in range(n)]
        self.full = [ctx.Semaphore(0) for _ in range(n)]

    def writer(self, barrier, rep_s):
        buf, lock, slot, size, hdr = self.shm.buf, self.lock, self.slot, self.size, self.HDR
        frees = [s.acquire for s in self.free]
        fulls = [s.release for s in self.full]
        head = [0]
        put_len = struct.Struct("<I").pack_into

        def send(b, n=size):
            for acquire in frees:
                acquire()
            with lock:
                off = hdr + (head[0] % CAPACITY) * slot
                put_len(buf, off, n)
                if n:
                    buf[off + 4:off + 4 + n] = b
                head[0] += 1
            for release in fulls:
                release()

        barrier.wait()
        sent, t0 = write_for(send, size, rep_s)
        for _ in range(self.readers if self.kind == "mpmc" else 1):
            send(END, 0)
        return sent, t0

    def reader(self, idx, barrier):
        buf, lock, slot, hdr = self.shm.buf, self.lock, self.slot, self.HDR
        k = 0 if self.kind == "mpmc" else idx
        acquire, release = self.full[k].acquire, self.free[k].release
        get_len = struct.Struct("<I").unpack_from
        index = struct.Struct("<Q")
        mine = [0]  # broadcast: this reader's own read index

        if self.kind == "mpmc":
            def nextf():
                acquire()
                with lock:
                    (t,) = index.unpack_from(buf, 0)
                    index.pack_into(buf, 0, t + 1)
                    off = hdr + (t % CAPACITY) * slot
                    (n,) = get_len(buf, off)
                    f = bytes(buf[off + 4:off + 4 + n])
                release()
                return f
        else:
            def nextf():
                acquire()
                with lock:
                    off = hdr + (mine[0] % CAPACITY) * slot
                    (n,) = get_len(buf, off)
                    f = bytes(buf[off + 4:off + 4 + n])
                mine[0] += 1
                release()
                return f

        barrier.wait()
        t = Tally()
        take_bytes(nextf, self.size, self.kind == "mpmc", t)
        return t

    def cleanup(self):
        self.shm.close()
        self.shm.unlink()


# ---- one repetition: fork, run, collect, check ------------------------------------------------------

def child(fn, conn, *args):
    try:
        conn.send(("ok", fn(*args)))
    except BaseException as e:  # the parent reports it
        conn.send(("error", f"{type(e).__name__}: {e}"))
    conn.close()


def run_processes(run, readers, rep_s):
    """The writer and `readers` readers in their own processes; returns
    (sent, t0, [tallies as dicts]) or raises RuntimeError."""
    barrier = ctx.Barrier(readers + 1)
    procs, conns = [], []

    def start(fn, *args):
        r, w = ctx.Pipe(duplex=False)
        p = ctx.Process(target=child, args=(fn, w) + args, daemon=True)
        p.start()
        w.close()
        procs.append(p)
        conns.append(r)

    once = run.kind == "mpmc"
    for i in range(readers):
        start(lambda i=i: run.reader(i, barrier).result(once))
    start(run.writer, barrier, rep_s)
    results, errors = [], []
    deadline = time.monotonic() + 60 + 20 * rep_s
    for p, c in zip(procs, conns):
        if c.poll(max(0.0, deadline - time.monotonic())):
            try:
                status, value = c.recv()
            except EOFError:
                status, value = "error", f"exited {p.exitcode} without a result"
        else:
            status, value = "error", "no result in time"
        (results if status == "ok" else errors).append(value)
        c.close()
    for p in procs:
        p.join(5)
        if p.is_alive():
            p.kill()
            p.join()
    if errors:
        raise RuntimeError("; ".join(map(str, errors)))
    sent, t0 = results[-1]
    return sent, t0, results[:-1]


def check(kind, readers, sent, tallies):
    """(delivered, lost, problems): lost counts frames due and not taken;
    problems are what must never happen (bad frames, duplicates, frames
    never sent)."""
    problems = []
    bad = sum(t["bad"] for t in tallies)
    dup = sum(t["dup"] for t in tallies)
    delivered = sum(t["count"] for t in tallies)
    if kind == "mpmc":
        union = 0
        for t in tallies:
            m = int.from_bytes(t["seen"], "little")
            if union & m:
                dup += bin(union & m).count("1")
            union |= m
        want_all = int.from_bytes(b"\x01" * sent, "little")
        if union & ~want_all:
            problems.append("frames with sequence numbers never sent")
        lost = sent - bin(union & want_all).count("1")
    else:
        lost = sent * readers - delivered + sum(t["dup"] for t in tallies)
        if any(t["gap"] for t in tallies):
            problems.append(f"gaps in order: {sum(t['gap'] for t in tallies)} frames")
    if bad:
        problems.append(f"{bad} frames with a wrong length or sequence words")
    if dup:
        problems.append(f"{dup} frames delivered twice")
    return delivered, lost, problems


# ---- the cases ------------------------------------------------------------------------------------

def throughput_run(impl, kind, size, readers, rep_s):
    if impl in ("klaw_recv", "klaw_view"):
        run = KlawRun(kind, size, readers, impl == "klaw_view")
    else:
        run = {"mp_queue": QueueRun, "mp_pipe": PipeRun, "mp_shm_ring": ShmRingRun}[impl](kind, size, readers)
    try:
        sent, t0, tallies = run_processes(run, readers, rep_s)
    finally:
        run.cleanup()
    elapsed = max(t["t_end"] for t in tallies) - t0
    delivered, lost, problems = check(kind, readers, sent, tallies)
    return sent / elapsed, delivered / elapsed, lost, problems


def case_throughput(opts, step):
    case = "1_to_n"
    for kind in KINDS:
        for size in FRAMES:
            for readers in READERS:
                p = params(kind, size, readers)
                step(f"{case} {kind} {size} B readers={readers}")
                rates = {impl: ([], [], 0) for impl in THROUGHPUT_IMPLS}
                failed = set()
                for _ in range(opts.runs):
                    for impl in THROUGHPUT_IMPLS:
                        if impl.startswith("klaw") and klaw is None or impl in failed:
                            continue
                        try:
                            fps, dps, lost, problems = throughput_run(impl, kind, size, readers, opts.rep_s)
                        except RuntimeError as e:
                            emit_fail(case, f"{impl} {kind} {size} B readers={readers}: {e}")
                            failed.add(impl)
                            continue
                        f, d, lo = rates[impl]
                        rates[impl] = (f + [fps], d + [dps], lo + lost)
                        if problems or lost:
                            emit_fail(case, f"{impl} {kind} {size} B readers={readers}: "
                                      + "; ".join(problems + ([f"{lost} frames lost"] if lost else [])))
                            failed.add(impl)
                for impl in THROUGHPUT_IMPLS:
                    f, d, lost = rates[impl]
                    why = KLAW_WHY if impl.startswith("klaw") and klaw is None else None
                    if impl in failed and not f:
                        why = "failed its check (see stderr)"
                    if why:
                        for metric in ("frames_per_s", "delivered_per_s"):
                            emit(case, impl, metric, "frames/s", why, p)
                        emit(case, impl, "lost_frames", "frames", why, p)
                        continue
                    emit(case, impl, "frames_per_s", "frames/s", statistics.median(f), p)
                    emit(case, impl, "delivered_per_s", "frames/s", statistics.median(d), p)
                    emit(case, impl, "lost_frames", "frames", lost, p)


def view_cost_writer(name, conn):
    """view_cost's writer process: fills the ring with frames of the size
    the reader asks for, then says so; its copies stay out of the
    reader's clock. Both sizes go through the same channel (max_frame
    1 MiB), so only the frame's size differs."""
    tx, rx = klaw.Mpmc.create(capacity=VIEW_BATCH, max_frame=VIEW_FRAMES[-1], name=name)
    conn.send("created")
    seq = 0
    while True:
        size = conn.recv()
        if not size:
            break
        st = frame_struct(size)
        buf = bytearray(size)
        for i in range(VIEW_BATCH):
            st.pack_into(buf, 0, seq + i, seq + i)
            tx.send(buf)
        seq += VIEW_BATCH
        conn.send("full")
    rx.close()
    tx.close()


class ViewCost:
    """view_cost's reader: asks the writer for a ring of frames, takes the
    first untimed (the reader has just woken from waiting for the writer:
    that one pays for its cold caches), then times taking the rest, each
    checked: klaw_view (view, both words, release) or klaw_recv (a copy)."""

    def __init__(self):
        KlawRun.seq += 1
        self.name = f"klaw-bench-py-{os.getpid()}-{KlawRun.seq}"
        self.conn, theirs = ctx.Pipe()
        self.proc = ctx.Process(target=view_cost_writer, args=(self.name, theirs), daemon=True)
        self.proc.start()
        theirs.close()
        if not self.conn.poll(30):
            self.close()
            raise RuntimeError("the writer did not start")
        self.conn.recv()
        self.rx = klaw.Mpmc.open_rx(self.name)
        self.seq = 0

    def once(self, impl, size, rep_s):
        """(ns per frame, frames that failed their check)"""
        unpack, view, recv = frame_struct(size).unpack_from, self.rx.view, self.rx.recv
        conn = self.conn
        total_ns, n, bad = 0, 0, 0
        end = time.perf_counter() + rep_s
        while n == 0 or time.perf_counter() < end:
            conn.send(size)
            conn.recv()
            seq = self.seq
            with view() as m:  # untimed
                a, b = unpack(m)
                if a != b or a != seq or len(m) != size:
                    bad += 1
            if impl == "klaw_view":
                t = time.perf_counter_ns()
                for i in range(1, VIEW_BATCH):
                    with view() as m:
                        a, b = unpack(m)
                        if a != b or a != seq + i or len(m) != size:
                            bad += 1
                total_ns += time.perf_counter_ns() - t
            else:
                t = time.perf_counter_ns()
                for i in range(1, VIEW_BATCH):
                    f = recv()
                    a, b = unpack(f)
                    if a != b or a != seq + i or len(f) != size:
                        bad += 1
                total_ns += time.perf_counter_ns() - t
            self.seq += VIEW_BATCH
            n += VIEW_BATCH - 1
        return total_ns / n, bad

    def close(self):
        try:
            self.conn.send(0)
        except OSError:
            pass
        if hasattr(self, "rx"):
            self.rx.close()
        self.proc.join(10)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        self.conn.close()
        klaw.unlink(self.name)


def case_view_cost(opts, step):
    """Both sizes and both impls take turns in every run, so the 1 MiB and
    64 B views are compared under the same load."""
    case = "view_cost"
    impls = ("klaw_view", "klaw_recv")
    step(f"{case} 64 B and 1 MiB")
    ns = {(size, impl): [] for size in VIEW_FRAMES for impl in impls}
    if klaw is not None:
        try:
            vc = ViewCost()
        except RuntimeError as e:
            emit_fail(case, str(e))
            vc = None
        for _ in range(opts.runs if vc else 0):
            for size in VIEW_FRAMES:
                for impl in impls:
                    v, bad = vc.once(impl, size, opts.rep_s / 2)
                    if bad:
                        emit_fail(case, f"{impl} {size} B: {bad} frames with the wrong sequence or length")
                    ns[size, impl].append(v)
        if vc:
            vc.close()
    for size in VIEW_FRAMES:
        p = params("mpmc", size, 1)
        for impl in impls:
            why = KLAW_WHY or (None if ns[size, impl] else "failed (see stderr)")
            if why:
                emit(case, impl, "ns_per_op", "ns", why, p)
                emit(case, impl, "frames_per_s", "frames/s", why, p)
                continue
            m = statistics.median(ns[size, impl])
            emit(case, impl, "ns_per_op", "ns", m, p)
            emit(case, impl, "frames_per_s", "frames/s", 1e9 / m, p)


class AioKlawRun(KlawRun):
    def __init__(self, size):
        super().__init__("mpmc", size, 1, False)

    def reader(self, idx, barrier):
        self.created.wait()
        rx = klaw.aio.Receiver(klaw.Mpmc.open_rx(self.name))
        barrier.wait()
        t = Tally()

        async def main():
            recv = rx.recv
            unpack = frame_struct(self.size).unpack_from
            size, count, bad, expect = self.size, 0, 0, 0
            try:
                while True:
                    f = await recv()
                    if len(f) != size:
                        bad += 1
                        continue
                    a, b = unpack(f)
                    if a != b or a != expect:
                        bad += 1
                    expect = a + 1
                    count += 1
            except klaw.Closed:
                pass
            t.count, t.bad = count, bad
        asyncio.run(main())
        t.t_end = time.perf_counter()
        rx.close()
        return t


class AioSocketRun:
    """asyncio_socketpair: length-prefixed frames (4 bytes, little-endian)
    through a socket.socketpair; the writer gathers 64 KiB before each
    sendall (as an asyncio StreamWriter's buffer would), the reader is an
    asyncio StreamReader: readexactly(4), readexactly(n)."""

    kind = "mpmc"

    def __init__(self, size):
        self.size = size
        self.a, self.b = socket.socketpair()

    def writer(self, barrier, rep_s):
        self.b.close()
        sock = self.a
        out = bytearray()
        hdr = struct.pack("<I", self.size)

        def send(b):
            out.extend(hdr)
            out.extend(b)
            if len(out) >= 65536:
                sock.sendall(out)
                out.clear()
        barrier.wait()
        sent, t0 = write_for(send, self.size, rep_s)
        out.extend(struct.pack("<I", 0))
        sock.sendall(out)
        sock.close()
        return sent, t0

    def reader(self, idx, barrier):
        self.a.close()
        sock = self.b
        t = Tally()
        size = self.size

        async def main():
            reader, writer = await asyncio.open_connection(sock=sock)
            readexactly = reader.readexactly
            unpack = frame_struct(size).unpack_from
            count, bad, expect = 0, 0, 0
            while True:
                (n,) = struct.unpack("<I", await readexactly(4))
                if n == 0:
                    break
                f = await readexactly(n)
                if n != size:
                    bad += 1
                    continue
                a, b = unpack(f)
                if a != b or a != expect:
                    bad += 1
                expect = a + 1
                count += 1
            t.count, t.bad = count, bad
            writer.close()
        barrier.wait()
        asyncio.run(main())
        t.t_end = time.perf_counter()
        return t

    def cleanup(self):
        self.a.close()
        self.b.close()


def case_asyncio(opts, step):
    case = "asyncio"
    for size in FRAMES:
        p = params("mpmc", size, 1)
        step(f"{case} {size} B")
        rates = {impl: [] for impl in ASYNCIO_IMPLS}
        lost = dict.fromkeys(ASYNCIO_IMPLS, 0)
        failed = set()
        for _ in range(opts.runs):
            for impl in ASYNCIO_IMPLS:
                if impl == "asyncio_klaw" and klaw is None or impl in failed:
                    continue
                run = AioKlawRun(size) if impl == "asyncio_klaw" else AioSocketRun(size)
                try:
                    sent, t0, tallies = run_processes(run, 1, opts.rep_s)
                except RuntimeError as e:
                    emit_fail(case, f"{impl} {size} B: {e}")
                    failed.add(impl)
                    continue
                finally:
                    run.cleanup()
                t = tallies[0]
                rates[impl].append(sent / (t["t_end"] - t0))
                lost[impl] += sent - t["count"]
                if t["bad"] or sent != t["count"]:
                    emit_fail(case, f"{impl} {size} B: {t['bad']} bad frames, {sent - t['count']} lost")
                    failed.add(impl)
        for impl in ASYNCIO_IMPLS:
            why = KLAW_WHY if impl == "asyncio_klaw" and klaw is None else None
            if not rates[impl] and not why:
                why = "failed its check (see stderr)"
            if why:
                emit(case, impl, "frames_per_s", "frames/s", why, p)
                emit(case, impl, "lost_frames", "frames", why, p)
                continue
            emit(case, impl, "frames_per_s", "frames/s", statistics.median(rates[impl]), p)
            emit(case, impl, "lost_frames", "frames", lost[impl], p)


def main():
    ap = argparse.ArgumentParser(description="klaw-bench's python suite (run by klaw-bench python)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="short repetitions: a smoke test")
    opts = ap.parse_args()
    opts.rep_s = 0.01 if opts.quick else 0.2
    steps = len(KINDS) * len(FRAMES) * len(READERS) + 1 + len(FRAMES)
    done = [0]

    def step(what):
        done[0] += 1
        progress(f"[{done[0]}/{steps}] {what}")
    if KLAW_WHY:
        progress(f"klaw rows skipped: {KLAW_WHY}")
    case_throughput(opts, step)
    case_view_cost(opts, step)
    case_asyncio(opts, step)
    progress("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
