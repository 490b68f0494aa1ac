"""Fuzz ``drumsynth serve``: 10,000 random datagrams, each answered exactly once, and the server still
answers a ping afterwards.

Messages mix valid and random addresses with random argument types, counts and sizes (NaN and
infinities, int64 extremes, huge strings and blobs, paths inside and outside the allowed folders, a
FIFO), plus raw bytes and mutated datagrams. The client keeps at most ``WINDOW`` requests unanswered,
so no UDP buffer overflows and every reply can be counted.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
import soundfile as sf
from tests.conftest import SR, synth_hit
from tests.osc_client import files_under, running_server

from drumsynth.inference.session import Session, shipped_models

N = 10_000
WINDOW = 64          # requests in flight at most
STALL_SECONDS = 30   # no reply for this long fails the test
MAX_DATAGRAM = 65_000
ADDRESSES = ["/drum/ping", "/drum/type", "/drum/class", "/drum/generate", "/drum/vary/intensity",
             "/drum/vary/new_direction", "/drum/xy", "/drum/fine", "/drum/range", "/drum/style/0", "/drum/noise",
             "/drum/analyze", "/drum/morph", "/drum/crop", "/drum/save"]


def _string(rng: random.Random, paths: list[str]) -> str:
    roll = rng.random()
    if roll < 0.3:
        return rng.choice(paths)
    if roll < 0.5:
        return rng.choice(["kick", "snare", "tom", "bass", "", "..", "../x", "/", "saved", ".hidden", "a/b"])
    length = rng.choices([1, 8, 100, 4000, 30_000], weights=[30, 30, 30, 8, 2])[0]
    chunk = "".join(chr(rng.choice([rng.randrange(32, 127), rng.randrange(0xA0, 0x2FF), 0x1F600]))
                    for _ in range(min(length, 64)))
    return (chunk * (length // len(chunk) + 1))[:length]  # long strings repeat a random chunk: cheap to make


def _value(rng: random.Random, paths: list[str]):
    kind = rng.randrange(10)
    if kind == 0:
        return rng.choice([0, 1, -1, 7, 8, 2**31 - 1, -(2**31), 2**63 - 1, -(2**63), rng.randrange(-100, 100)])
    if kind in (1, 2, 3):  # float32 (python-osc's default) or float64
        value = rng.choice([float("nan"), float("inf"), float("-inf"), 3e38, -1e-30, 0.0, 1.0, -1.0, 0.5,
                            rng.uniform(-1.2, 1.2), rng.uniform(-1e6, 1e6)])
        return (rng.choice([value, 1e300, -1e-300]), "d") if rng.random() < 0.2 else value
    if kind in (4, 5):
        return _string(rng, paths)
    if kind == 6:
        return bytes(rng.getrandbits(8) for _ in range(rng.choice([1, 3, 64]))) if rng.random() < 0.9 \
            else b"\x00" * rng.choice([20_000, 60_000])
    return rng.choice([True, False, None])


def _datagram(rng: random.Random, paths: list[str]) -> bytes:
    from pythonosc.osc_message_builder import OscMessageBuilder

    roll = rng.random()
    if roll < 0.04:  # raw bytes
        return bytes(rng.getrandbits(8) for _ in range(rng.choice([0, 1, 7, 64, 1000])))
    if roll < 0.55:
        address = rng.choice(ADDRESSES)
    elif roll < 0.7:
        address = f"/drum/style/{rng.randrange(-5, 10_000)}" if rng.random() < 0.3 else "/drum/" + _string(rng, ["x"])[:50]
    else:
        address = "/" + _string(rng, paths)[:2000]
    address = address.replace("\x00", "")
    count = rng.choice([0, 1, 1, 2, 2, 3, 4, 8, 70]) if rng.random() < 0.97 else rng.randrange(0, 64)
    builder = OscMessageBuilder(address=address)
    for _ in range(count):
        value = _value(rng, paths)
        builder.add_arg(*(value if isinstance(value, tuple) else (value,)))
    data = builder.build().dgram
    if len(data) > MAX_DATAGRAM:
        data = data[:MAX_DATAGRAM]  # cut short: malformed, refused like any other
    if rng.random() < 0.05 and data:  # a flipped byte
        i = rng.randrange(len(data))
        data = data[:i] + bytes([rng.getrandbits(8)]) + data[i + 1:]
    return data


def test_ten_thousand_random_datagrams_each_get_one_reply_and_the_server_survives(tmp_path: Path):
    if "ndm" not in shipped_models():
        pytest.skip("no shipped ndm model")
    session = Session.load("ndm")
    sounds = tmp_path / "sounds"
    sounds.mkdir()
    sf.write(sounds / "kick.wav", synth_hit("kick"), SR)
    (sounds / "broken.wav").write_bytes(b"RIFF junk")
    import os

    os.mkfifo(sounds / "pipe.wav")
    paths = [str(sounds / "kick.wav"), str(sounds / "broken.wav"), str(sounds / "pipe.wav"), str(sounds),
             str(sounds / "missing.wav"), "/etc/passwd", "/dev/zero", str(tmp_path / "out" / ".." / "sounds"),
             "../sounds/kick.wav"]
    rng = random.Random(20240611)
    before = files_under(tmp_path)
    started = time.perf_counter()
    with running_server(session, tmp_path, allow=(sounds,)) as (server, client):
        sent = 0
        for _ in range(N):
            data = _datagram(rng, paths)
            stalled = time.perf_counter()
            while sent - client.received >= WINDOW:
                assert time.perf_counter() - stalled < STALL_SECONDS, f"{sent} sent, {client.received} answered"
                time.sleep(0.0005)
            client.send_raw(data)
            sent += 1
        deadline = time.perf_counter() + STALL_SECONDS
        while client.received < sent and time.perf_counter() < deadline:
            time.sleep(0.01)
        assert client.received == sent, f"{sent} datagrams, {client.received} replies"
        replies = [client.reply(timeout=1) for _ in range(sent)]
        kind, args = client.request("/drum/ping")
        assert kind == "/drum/pong" and args[0] == "ndm"
        assert server.requests == sent + 1
    elapsed = time.perf_counter() - started
    kinds = {k: sum(1 for r in replies if r[0] == k) for k in {r[0] for r in replies}}
    assert set(kinds) <= {"/drum/error", "/drum/sample", "/drum/dropped", "/drum/pong"}, kinds
    assert kinds["/drum/error"] > N // 2 and kinds.get("/drum/pong", 0) > 0, kinds
    out = (tmp_path / "out").resolve()
    samples = [Path(args[0]) for kind, args in replies if kind == "/drum/sample"]
    assert all(p.parent == out and p.is_file() for p in samples)
    written = files_under(tmp_path) - before
    assert all(p.parent == tmp_path / "out" for p in written)
    assert len([p for p in written if p.suffix == ".wav"]) == len(samples)
    assert elapsed < 60, f"{elapsed:.0f} s"
    print(f"fuzz: {sent} datagrams in {elapsed:.1f} s: {kinds}")
