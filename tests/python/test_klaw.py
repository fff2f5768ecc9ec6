"""The klaw Python package (python/klaw), run by meson test from the build
tree (PYTHONPATH=<build>/python, Debian's /usr/bin/python3; KLAW_EXE: the
klaw tool, for the C side of the interop tests).

Every kind from Python; C writers with Python readers and a Python writer
with C readers, frames equal byte for byte; views and claims in place; a
broadcast view held across a forced overwrite reports Lagged on release; a
Python process SIGKILLed while holding a view is recovered as a C one is;
asyncio with several channels on one loop; Ctrl-C during a blocking call;
and nothing leaks (descriptors, socket files, handles).
"""
import asyncio
import gc
import glob
import json
import os
import signal
import subprocess
import sys
import threading
import time

import msgpack
import pytest

import klaw
import klaw.aio
import klaw.envelope

KLAW = os.environ.get("KLAW_EXE")
PY = "/usr/bin/python3"


@pytest.fixture
def name(request):
    n = "tpy-%s-%d" % (request.node.name[:40].replace("_", "-"), os.getpid())
    klaw.unlink(n)
    yield n
    klaw.unlink(n)


def open_fds():
    return len(os.listdir("/proc/self/fd"))


def fd_files():
    return len(glob.glob("/dev/shm/klaw-fd.*"))


# ---- every kind ----------------------------------------------------------------------------

def test_mpmc_send_recv_view_claim_batch():
    tx, rx = klaw.Mpmc.create(capacity=8, max_frame=64)
    assert tx.kind == "mpmc" and rx.max_frame == 64 and tx.name is None
    assert tx.send(b"one") is True
    assert rx.recv(timeout=1) == b"one"
    with tx.claim(5) as buf:
        assert len(buf) == 5 and not buf.readonly
        buf[:] = b"hello"
    c = tx.claim(10)
    with c as buf:
        buf[:3] = b"abc"
        c.length = 3
    with rx.view() as f:
        assert f.readonly and bytes(f) == b"hello"
    v = rx.try_view()
    assert v.seq == 2 and bytes(v.tobytes()) == b"abc"
    v.release()
    with pytest.raises(klaw.Empty):
        rx.try_recv()
    with pytest.raises(klaw.Timeout):
        rx.recv(timeout=0.05)
    assert tx.send_batch([b"a", b"bb", b"ccc"]) == 3
    assert rx.recv_batch(10) == [b"a", b"bb", b"ccc"]
    # a claim given up by an exception is aborted: nothing arrives
    with pytest.raises(RuntimeError):
        with tx.claim(4) as buf:
            buf[:] = b"nope"
            raise RuntimeError("changed my mind")
    with pytest.raises(klaw.Empty):
        rx.try_recv()
    for i in range(8):
        tx.try_send(bytes([i]))
    with pytest.raises(klaw.Full):
        tx.try_send(b"x")
    assert len(rx.recv_batch(8)) == 8
    with pytest.raises((klaw.TooBig, klaw.Invalid)):
        tx.send(b"x" * 65)
    s = rx.stats()
    assert s["capacity"] == 8 and s["senders"] == 1 and s["aborted_claims"] >= 1
    tx.close()
    assert list(rx) == []  # every sender gone: iteration ends
    with pytest.raises(klaw.Closed):
        rx.recv(timeout=0)
    rx.close()
    assert rx.closed


def test_broadcast_every_reader_gets_every_frame_and_lag_is_reported():
    tx = klaw.Broadcast.create(capacity=4, max_frame=16, policy="overwrite")
    r1 = klaw.Broadcast.subscribe(tx, "r1")
    r2 = klaw.Broadcast.subscribe(tx, "r2")
    for i in range(3):
        tx.send(bytes([i]))
    assert [r1.recv(timeout=1) for _ in range(3)] == [b"\0", b"\1", b"\2"]
    assert [r2.recv(timeout=1) for _ in range(3)] == [b"\0", b"\1", b"\2"]
    for i in range(10):  # r1 falls a ring behind
        tx.send(bytes([i]))
    with pytest.raises(klaw.Lagged) as e:
        r1.recv(timeout=1)
    assert e.value.missed == 6
    assert r1.recv(timeout=1) == bytes([6])
    assert tx.stats()["policy"] == "overwrite"


def test_a_view_held_across_an_overwrite_says_lagged_on_release():
    tx = klaw.Broadcast.create(capacity=2, max_frame=16, policy="overwrite")
    rx = klaw.Broadcast.subscribe(tx, "slow")
    tx.send(b"first")
    with pytest.raises(klaw.Lagged):
        with rx.view() as f:
            assert bytes(f) == b"first"
            for i in range(4):  # the writer laps the held slot
                tx.send(b"later-%d" % i)
    # the memoryview was released with the view: using it raises, no crash
    with pytest.raises(ValueError):
        bytes(f)


def test_block_broadcast_writer_waits_for_the_slowest():
    tx = klaw.Broadcast.create(capacity=2, max_frame=16, policy="block")
    rx = klaw.Broadcast.subscribe(tx)
    tx.send(b"a")
    tx.send(b"b")
    with pytest.raises(klaw.Full):
        tx.try_send(b"c")
    with pytest.raises(klaw.Timeout):
        tx.send(b"c", timeout=0.05)
    assert rx.recv() == b"a"
    assert tx.send(b"c", timeout=1)


def test_watch_and_oneshot():
    wtx, wrx = klaw.Watch.create(max_frame=32, initial=b"v0")
    assert wrx.get() == b"v0"
    with pytest.raises(klaw.Empty):
        wrx.try_recv()
    wtx.send(b"v1")
    wtx.send(b"v2")
    assert wrx.recv(timeout=1) == b"v2"  # the latest only
    with pytest.raises(klaw.Timeout):
        wrx.recv(timeout=0.05)
    wtx.send(b"v3")
    with wrx.view(timeout=1) as f:  # the value in place
        assert bytes(f) == b"v3"
    otx, orx = klaw.Oneshot.create(max_frame=16)
    with pytest.raises(klaw.Timeout):
        orx.recv(timeout=0.05)
    otx.send(b"done")
    assert orx.recv(timeout=1) == b"done"
    with pytest.raises(klaw.AlreadySent):
        otx.send(b"again")


def test_select_takes_from_whichever_is_ready():
    tx1, rx1 = klaw.Mpmc.create(capacity=4, max_frame=16)
    btx = klaw.Broadcast.create(capacity=4, max_frame=16)
    brx = klaw.Broadcast.subscribe(btx)
    with pytest.raises(klaw.Timeout):
        klaw.select([rx1, brx], timeout=0.05)
    btx.send(b"b")
    assert klaw.select([rx1, brx], timeout=1) == (1, b"b")
    tx1.send(b"m")
    assert klaw.select([rx1, brx], timeout=1) == (0, b"m")
    tx1.close()
    with pytest.raises(klaw.Closed) as e:
        klaw.select([rx1], timeout=1)
    assert e.value.index == 0


# ---- named channels, metadata, other processes ---------------------------------------------

def test_named_channel_records(name):
    tx = klaw.Broadcast.create(capacity=8, max_frame=32, name=name, policy="block")
    rx = klaw.Broadcast.open_rx(name, reader_id="py-reader")
    md = klaw.metadata(name)
    assert md["channel_type"] in ("broadcast", 2) or "broadcast" in json.dumps(md)
    assert md["capacity"] == 8
    assert any(r["reader_id"] == "py-reader" for r in klaw.readers(name))
    assert klaw.stats(name)["receiver_count"] == 1
    tx.close()
    rx.close()


@pytest.mark.skipif(not KLAW, reason="KLAW_EXE is not set (meson test sets it)")
def test_c_writer_python_reader_byte_for_byte(name):
    tx, rx = klaw.Mpmc.create(capacity=64, max_frame=256, name=name)
    values = [1, -2, "three", [4, 5.5], {"six": None}, True, 2 ** 40]
    lines = "\n".join(json.dumps(v) for v in values) + "\n"
    subprocess.run([KLAW, "send", "--lines", name], input=lines.encode(), check=True)
    for v in values:
        assert rx.recv(timeout=2) == msgpack.packb(v)
    # wire envelopes written by the C tool == the Python builders' bytes
    subprocess.run([KLAW, "send", "--envelope", name, '{"id": 7}'], check=True)
    frame = rx.recv(timeout=2)
    env = klaw.envelope.view(frame)
    assert env.type == "data" and env.header.channel_id == name
    assert msgpack.unpackb(env.payload) == {"id": 7}
    again = klaw.envelope.data(name, env.header.seq, bytes(env.payload), ts_ms=env.header.ts_ms)
    assert again == frame


@pytest.mark.skipif(not KLAW, reason="KLAW_EXE is not set (meson test sets it)")
def test_python_writer_c_reader_byte_for_byte(name):
    tx, rx = klaw.Mpmc.create(capacity=64, max_frame=256, name=name)
    values = [0, "x", [1, 2, 3], {"k": [True, False]}, -1000000, 1.25]
    for v in values:
        tx.send(msgpack.packb(v))
    # the C tool takes them (rx stays open: an mpmc whose last receiver
    # went is closed to receivers for good)
    out = subprocess.run([KLAW, "tail", "--consume", "-n", str(len(values)), name], capture_output=True,
                         check=True).stdout.decode().splitlines()
    assert [json.loads(line) for line in out] == values
    for line, v in zip(out, values):  # and C's encoding of what it read is Python's bytes
        enc = subprocess.run([KLAW, "encode"], input=line.encode(), capture_output=True, check=True).stdout
        assert enc == msgpack.packb(v)


_HOLDER = r"""
import sys, time, klaw
rx = klaw.Mpmc.open_rx(sys.argv[1])
v = rx.view(timeout=5)
with v as frame:
    print(bytes(frame).decode(), flush=True)
    time.sleep(60)
"""


def test_a_python_process_killed_holding_a_view_is_recovered(name):
    tx, rx = klaw.Mpmc.create(capacity=4, max_frame=32, name=name)
    env = dict(os.environ)
    p = subprocess.Popen([PY, "-c", _HOLDER, name], stdout=subprocess.PIPE, env=env)
    tx.send(b"precious")
    assert p.stdout.readline().strip() == b"precious"  # the child holds it
    p.kill()
    p.wait()
    t0 = time.monotonic()
    assert rx.recv(timeout=5) == b"precious"  # offered again once the death is seen
    assert time.monotonic() - t0 < 5
    assert rx.stats()["redelivered"] == 1


def test_ctrl_c_interrupts_a_blocking_call():
    tx, rx = klaw.Mpmc.create(capacity=4, max_frame=16)
    t = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
    t.start()
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        rx.recv()
    assert time.monotonic() - t0 < 5
    t.join()


def test_other_threads_run_while_one_waits():
    tx, rx = klaw.Mpmc.create(capacity=4, max_frame=16)
    got = []
    t = threading.Thread(target=lambda: got.append(rx.recv(timeout=5)))
    t.start()
    time.sleep(0.2)  # the waiter released the GIL: this thread runs
    tx.send(b"x")
    t.join()
    assert got == [b"x"]


def test_a_broadcast_receiver_is_one_threads_at_a_time():
    tx = klaw.Broadcast.create(capacity=4, max_frame=16)
    rx = klaw.Broadcast.subscribe(tx)
    got = []
    t = threading.Thread(target=lambda: got.append(rx.recv(timeout=5)))
    t.start()
    time.sleep(0.2)  # t waits inside rx with the GIL released
    with pytest.raises(RuntimeError):
        rx.try_recv()
    tx.send(b"x")
    t.join()
    assert got == [b"x"]
    with pytest.raises(klaw.Empty):  # free again
        rx.try_recv()


# ---- asyncio ----------------------------------------------------------------------------------

def test_asyncio_several_channels_on_one_loop():
    mtx, mrx = klaw.Mpmc.create(capacity=16, max_frame=16)
    btx = klaw.Broadcast.create(capacity=16, max_frame=16, policy="block")
    brx = klaw.Broadcast.subscribe(btx)
    wtx, wrx = klaw.Watch.create(max_frame=16, initial=b"0")
    otx, orx = klaw.Oneshot.create(max_frame=16)
    N = 500

    def writer():
        for i in range(N):
            mtx.send(i.to_bytes(4, "little"), timeout=5)
            btx.send(i.to_bytes(4, "little"), timeout=5)
            if i % 50 == 0:
                wtx.send(str(i).encode())
        wtx.send(b"last")
        mtx.close()
        btx.close()
        otx.send(b"bye")

    async def take_all(rx):
        return [int.from_bytes(f, "little") async for f in klaw.aio.Receiver(rx)]

    async def watch_until_last(rx):
        a = klaw.aio.Receiver(rx)
        seen = []
        while not seen or seen[-1] != b"last":
            seen.append(await a.recv())
        return seen

    async def main():
        t = threading.Thread(target=writer)
        t.start()
        m, b, w, o = await asyncio.gather(take_all(mrx), take_all(brx), watch_until_last(wrx),
                                          klaw.aio.Receiver(orx).recv())
        t.join()
        return m, b, w, o

    m, b, w, o = asyncio.run(main())
    assert m == list(range(N)) and b == list(range(N))
    assert w[-1] == b"last" and o == b"bye"


def test_asyncio_select_and_send():
    tx1, rx1 = klaw.Mpmc.create(capacity=2, max_frame=16)
    tx2, rx2 = klaw.Mpmc.create(capacity=2, max_frame=16)

    async def main():
        loop = asyncio.get_running_loop()
        loop.call_later(0.1, tx2.send, b"two")
        first = await klaw.aio.select([rx1, rx2])
        # a full channel: the sender waits on the loop until a receiver frees room
        atx = klaw.aio.Sender(tx1)
        await atx.send(b"a")
        await atx.send(b"b")
        loop.call_later(0.1, rx1.recv)
        await asyncio.wait_for(atx.send(b"c"), 5)
        return first

    assert asyncio.run(main()) == (1, b"two")
    assert rx1.recv(timeout=1) == b"b" and rx1.recv(timeout=1) == b"c"


def test_asyncio_one_task_waits_on_a_receiver_at_a_time():
    tx, rx = klaw.Mpmc.create(capacity=2, max_frame=16)
    arx = klaw.aio.Receiver(rx)

    async def main():
        first = asyncio.ensure_future(arx.recv())
        await asyncio.sleep(0.05)  # first waits on the descriptor
        with pytest.raises(RuntimeError):
            await arx.recv()
        tx.send(b"x")
        return await asyncio.wait_for(first, 5)

    assert asyncio.run(main()) == b"x"


# ---- the wire ---------------------------------------------------------------------------------

def test_envelope_types_round_trip():
    md = msgpack.packb({"why": "test"})
    frames = [
        klaw.envelope.data("c", 1, msgpack.packb([1, 2]), ts_ms=5),
        klaw.envelope.control("c", 2, "pause", md, ts_ms=5),
        klaw.envelope.heartbeat("c", 3, "node-1", ts_ms=5),
        klaw.envelope.ack("c", 4, 3, "ok", ts_ms=5),
        klaw.envelope.error("c", 5, "E1", "broken", None, ts_ms=5),
    ]
    envs = [klaw.envelope.view(f) for f in frames]
    assert [e.type for e in envs] == ["data", "control", "heartbeat", "ack", "error"]
    assert [e.header.seq for e in envs] == [1, 2, 3, 4, 5]
    assert msgpack.unpackb(envs[0].payload) == [1, 2]
    assert msgpack.unpackb(envs[1].fields["metadata"]) == {"why": "test"}
    assert envs[2].fields == {"sender_id": "node-1"}
    assert envs[3].fields == {"acked_seq": 3, "status": "ok"}
    assert envs[4].fields["code"] == "E1" and envs[4].fields["details"] is None
    # what msgspec / klaw-core writes for a DataMessage: [1, [1, 1, ch, seq, ts], payload]
    assert msgpack.unpackb(frames[0]) == [1, [1, 1, "c", 1, 5], [1, 2]]
    with pytest.raises(klaw.DecodeError) as e:
        klaw.envelope.view(msgpack.packb(7))
    assert "Expected `array`" in str(e.value)


def test_envelope_view_of_a_slot_is_in_place():
    tx, rx = klaw.Mpmc.create(capacity=4, max_frame=256)
    tx.send(klaw.envelope.data("orders", 9, msgpack.packb({"id": 1}), ts_ms=1))
    with rx.view() as frame:
        env = klaw.envelope.view(frame)
        assert env.payload.obj is frame.obj  # a slice of the slot, not a copy
        assert msgpack.unpackb(env.payload) == {"id": 1}
        del env


# ---- nothing leaks ---------------------------------------------------------------------------

def test_nothing_leaks():
    def churn():
        for _ in range(50):
            tx, rx = klaw.Mpmc.create(capacity=4, max_frame=16)
            rx.fileno()
            rx.arm()
            tx.send(b"x")
            with rx.view() as f:
                bytes(f)
            with tx.claim(1) as b:
                b[:] = b"y"
            rx.recv()
            btx = klaw.Broadcast.create(capacity=4, max_frame=16)
            brx = klaw.Broadcast.subscribe(btx)
            brx.fileno()
            sf = klaw.SelectFd([rx, brx])
            sf.arm()
            del sf, tx, rx, btx, brx
        gc.collect()

    churn()  # warm up (the process's poke socket, caches)
    fds, files = open_fds(), fd_files()
    churn()
    assert open_fds() == fds
    assert fd_files() == files


def test_dead_handles_are_counted_and_reaped(name):
    tx, rx = klaw.Mpmc.create(capacity=4, max_frame=16, name=name)
    code = "import klaw,sys,os; t=klaw.Mpmc.open_tx(sys.argv[1]); r=klaw.Mpmc.open_rx(sys.argv[1]); os._exit(0)"
    subprocess.run([PY, "-c", code, name], check=True, env=dict(os.environ))
    s = rx.stats()  # reaps the dead process's handles first
    assert s["senders"] == 1 and s["receivers"] == 1 and s["reaped_handles"] == 2


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
