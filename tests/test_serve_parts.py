"""The OSC server's parts on their own: the latest-wins worker, the OSC wire format, the allowed folders."""

from __future__ import annotations

import math
import os
import struct
import threading
import time
from pathlib import Path

import pytest

from drumsynth.errors import DrumsynthError
from drumsynth.serve import wire
from drumsynth.serve.latest import LatestWins, QueueFull, Superseded
from drumsynth.serve.paths import AllowedFolders

# ---- LatestWins ----------------------------------------------------------------------------------------


def _held(worker: LatestWins) -> threading.Event:
    """Occupy the worker until the returned event is set (so the next jobs wait in its queue)."""
    gate, running = threading.Event(), threading.Event()
    worker.submit(lambda: (running.set(), gate.wait(10)))
    assert running.wait(10)
    return gate


def test_jobs_run_in_order_and_a_stream_keeps_only_its_newest_waiting_job():
    worker = LatestWins()
    try:
        ran: list[str] = []
        gate = _held(worker)
        futures = {name: worker.submit(lambda n=name: ran.append(n) or n, key=key)
                   for name, key in [("a", None), ("pad1", "pad"), ("b", None), ("pad2", "pad"), ("knob1", "knob"),
                                     ("pad3", "pad"), ("c", None)]}
        assert worker.waiting == 5
        gate.set()
        assert futures["c"].result(10) == "c"
        assert futures["pad3"].result(10) == "pad3"
        # the newest job of a stream runs at its own place in the queue, the replaced ones never
        assert ran == ["a", "b", "knob1", "pad3", "c"]
        for name in ("pad1", "pad2"):
            with pytest.raises(Superseded, match="newer 'pad'"):
                futures[name].result(0)
        assert worker.waiting == 0
    finally:
        assert worker.close()


def test_a_failing_job_fails_its_future_only_and_a_cancelled_one_is_skipped(capsys):
    worker = LatestWins()
    try:
        gate = _held(worker)
        bad = worker.submit(lambda: 1 / 0)
        refused = worker.submit(lambda: (_ for _ in ()).throw(DrumsynthError("no such class 'bass'")))
        ran = []
        cancelled = worker.submit(lambda: ran.append("cancelled"))
        assert cancelled.cancel()
        good = worker.submit(lambda: 42)
        gate.set()
        assert good.result(10) == 42 and ran == []
        with pytest.raises(ZeroDivisionError):
            bad.result(0)
        with pytest.raises(DrumsynthError, match="bass"):
            refused.result(0)
        err = capsys.readouterr().err
        assert "ZeroDivisionError" in err and "bass" not in err  # a bug's traceback; bad input is no bug
    finally:
        worker.close()


def test_a_full_queue_refuses_and_close_fails_the_waiting_jobs():
    worker = LatestWins(max_waiting=3)
    gate = _held(worker)
    waiting = [worker.submit(lambda: None) for _ in range(2)] + [worker.submit(lambda: "pad", key="pad")]
    with pytest.raises(QueueFull):
        worker.submit(lambda: None)
    assert worker.submit(lambda: "pad2", key="pad")  # replacing a waiting job needs no room
    gate.set()
    time.sleep(0.2)
    gate2 = _held(worker)
    late = worker.submit(lambda: None)
    threading.Timer(0.3, gate2.set).start()
    assert worker.close(10)
    with pytest.raises(Superseded, match="shutting down"):
        late.result(0)
    assert all(f.done() for f in waiting)
    with pytest.raises(RuntimeError, match="closed"):
        worker.submit(lambda: None)
    with pytest.raises(ValueError):
        LatestWins(max_waiting=0)


# ---- the wire format -------------------------------------------------------------------------------------


def test_parser_reads_what_python_osc_builds():
    from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
    from pythonosc.osc_message_builder import OscMessageBuilder

    builder = OscMessageBuilder(address="/drum/x")
    values = [("s", "héllo"), ("i", -7), ("h", 2**40), ("f", 0.5), ("d", 1e300), ("b", b"\x01\x02\x03"),
              ("T", True), ("F", False), ("N", None), ("f", float("nan"))]
    for tag, value in values:
        builder.add_arg(value, tag)
    message = builder.build()
    address, args = wire.parse_message(message.dgram)
    assert address == "/drum/x"
    assert args[:9] == [v for _, v in values[:9]] and math.isnan(args[9])
    assert wire.parse_message(OscMessageBuilder(address="/drum/ping").build().dgram) == ("/drum/ping", [])
    bundle = OscBundleBuilder(IMMEDIATELY)
    inner = OscBundleBuilder(IMMEDIATELY)
    inner.add_content(OscMessageBuilder(address="/b").build())
    bundle.add_content(OscMessageBuilder(address="/a").build())
    bundle.add_content(inner.build())
    bundle.add_content(message)
    assert [a for a, _ in wire.parse_packet(bundle.build().dgram)] == ["/a", "/b", "/drum/x"]


def test_replies_are_float32_int32_and_strings():
    from pythonosc.osc_message import OscMessage

    data = wire.build("/drum/sample", "/tmp/ndm_kick_000.wav", 12, 3.25)
    assert b",sif\x00" in data
    assert OscMessage(data).params == ["/tmp/ndm_kick_000.wav", 12, 3.25]
    assert wire.parse_message(wire.build("/drum/error", "bad \udcff name", 1))[1] == ["bad ? name", 1]


def test_parser_limits_cost_on_many_arguments():
    data = b"/x\x00\x00," + b"i" * 64 + b"\x00" * 3 + struct.pack(">64i", *range(64))
    assert wire.parse_message(data)[1] == list(range(64))
    many = wire.BUNDLE + b"\x00" * 8 + (struct.pack(">i", 4) + b"/x\x00\x00") * 65
    with pytest.raises(DrumsynthError, match="more than 64 messages"):
        wire.parse_packet(many)


# ---- allowed folders --------------------------------------------------------------------------------------


def test_allowed_folders_admit_regular_files_inside_only(tmp_path: Path):
    inside, outside = tmp_path / "in", tmp_path / "out"
    inside.mkdir()
    outside.mkdir()
    (inside / "a.wav").write_bytes(b"x")
    (outside / "b.wav").write_bytes(b"x")
    (inside / "link.wav").symlink_to(outside / "b.wav")
    (inside / "sub").mkdir()
    os.mkfifo(inside / "fifo.wav")
    allowed = AllowedFolders([inside])
    assert allowed.check("a.wav") == (inside / "a.wav").resolve()
    assert allowed.check(str(inside / "sub" / ".." / "a.wav")) == (inside / "a.wav").resolve()
    for text, why in [(str(outside / "b.wav"), "outside"), ("../out/b.wav", "outside"),
                      (str(outside / "nothing.wav"), "outside"),  # outside: not even whether it exists
                      ("link.wav", "links outside"), ("sub", "a folder"), ("fifo.wav", "FIFO"),
                      ("missing.wav", "no such"), ("", "1 to 4096"), ("x" * 5000, "1 to 4096"), (3, "string")]:
        with pytest.raises(DrumsynthError, match=why):
            allowed.check(text)
    with pytest.raises(DrumsynthError, match="not an existing folder"):
        AllowedFolders([tmp_path / "nowhere"])
    with pytest.raises(DrumsynthError, match="at least one"):
        AllowedFolders([])
