"""``drumsynth serve``: a real python-osc client against the OSC server on loopback.

Every request gets exactly one reply, renders land in the output folder only (never over a file), bad
messages are refused with ``/drum/error`` while the server keeps serving, and the latest request wins.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from tests.conftest import REPO, SR, synth_hit
from tests.osc_client import OscClient, files_under, running_server

from drumsynth.inference.session import Session, shipped_models
from drumsynth.serve import wire
from drumsynth.serve.osc import is_loopback


def _load(family: str) -> Session:
    if family not in shipped_models():
        pytest.skip(f"no shipped {family} model")
    return Session.load(family)


@pytest.fixture(scope="module")
def ndm() -> Session:
    return _load("ndm")


@pytest.fixture(scope="module")
def drumgan() -> Session:
    return _load("drumgan")


@pytest.fixture
def sounds(tmp_path: Path) -> Path:
    """A folder the server may read: two hits, a corrupt file, a FIFO, a sub-folder, a long file and a
    link that leads out of it."""
    folder = tmp_path / "sounds"
    folder.mkdir()
    sf.write(folder / "kick.wav", synth_hit("kick", seed=1), SR, subtype="PCM_16")
    sf.write(folder / "snare.wav", synth_hit("snare", seed=2), SR, subtype="PCM_16")
    (folder / "broken.wav").write_bytes(b"RIFF\x00\x00not really a wav file")
    sf.write(folder / "long.wav", np.zeros(8000 * 31, dtype=np.float32), 8000)
    os.mkfifo(folder / "pipe.wav")
    (folder / "sub").mkdir()
    secret = tmp_path / "secret.wav"
    sf.write(secret, synth_hit("tom"), SR)
    (folder / "escape.wav").symlink_to(secret)
    return folder


def _sidecar(path: Path) -> dict:
    return json.loads(path.with_suffix(".json").read_text())


# ---- the address table, one request at a time -----------------------------------------------------


def test_ping_generate_and_vary_write_deterministic_hits_in_the_output_folder(ndm, tmp_path):
    with running_server(ndm, tmp_path) as (server, client):
        kind, args = client.request("/drum/ping")
        assert kind == "/drum/pong" and args == ["ndm", *ndm.classes]

        first = client.sample("/drum/generate", 5)
        assert first.parent == (tmp_path / "out").resolve() and first.name == "ndm_kick_000.wav"
        assert first.is_absolute() and first.is_file()
        info = sf.info(first)
        assert info.samplerate == 44100 and info.channels == 1 and info.subtype == "PCM_24"
        meta = _sidecar(first)
        assert meta["seed"] == 5 and meta["navigation"]["center"] == "seed 5" and meta["class"] == "kick"

        again = client.sample("/drum/generate", 5.0)  # Max sends 5. for 5
        assert again.name == "ndm_kick_001.wav"  # never over the first
        assert np.array_equal(sf.read(first)[0], sf.read(again)[0])
        other = client.sample("/drum/generate", 6)
        assert not np.array_equal(sf.read(first)[0][:1000], sf.read(other)[0][:1000])
        auto = client.sample("/drum/generate")  # no seed: the next one, from 1
        assert _sidecar(auto)["seed"] == 1

        client.sample("/drum/generate", 5)
        center = torch.tensor(_sidecar(first)["latent"])
        moved = client.sample("/drum/vary/intensity", 2)
        z = torch.tensor(_sidecar(moved)["latent"])
        assert float((z - center).norm()) == pytest.approx(2.0, abs=1e-4)  # e1 is a unit vector
        assert _sidecar(moved)["navigation"]["intensity"] == 2.0
        turned = client.sample("/drum/vary/new_direction", 7)
        nav = _sidecar(turned)["navigation"]
        assert nav["direction_seed"] == 7 and nav["intensity"] == 2.0
        assert not np.allclose(_sidecar(turned)["latent"], z.tolist())

        kind, args = client.request("/drum/ping")
        assert kind == "/drum/pong"
        assert client.no_more_replies()
        assert server.requests == 9


def test_type_sliders_xy_fine_range_follow_the_ndm_device(ndm, tmp_path):
    with running_server(ndm, tmp_path) as (_, client):
        snare = client.sample("/drum/type", "snare")
        assert snare.name.startswith("ndm_snare_") and _sidecar(snare)["labels"]["snare"] == 1.0
        assert client.sample("/drum/type", 6).name.startswith("ndm_tom_")  # an index

        pad = client.sample("/drum/xy", 0.5, -0.25)
        meta = _sidecar(pad)
        assert meta["verb"] == "controls" and meta["class"] == "tom"
        assert meta["controls"] == {"x": 0.5, "y": -0.25, "fine": 0.0, "range_std": 2.0}
        expected = ndm.model.latent_from_controls("tom", 0.5, -0.25, 0.0, 2.0)[0]
        assert torch.allclose(torch.tensor(meta["latent"]), expected, atol=1e-5)
        assert _sidecar(client.sample("/drum/fine", -1))["controls"]["fine"] == -1.0
        assert _sidecar(client.sample("/drum/range", 3))["controls"] == {"x": 0.5, "y": -0.25, "fine": -1.0,
                                                                         "range_std": 3.0}

        weights = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]  # one-hot: the pad's class becomes perc
        perc = client.sample("/drum/class", *weights)
        assert _sidecar(perc)["class"] == "perc" and _sidecar(perc)["verb"] == "controls"
        client.sample("/drum/vary/intensity", 0)
        mix = client.sample("/drum/class", 0.7, 0.3, 0, 0, 0, 0, 0, 1.2)  # sliders reach the model unclipped
        labels = _sidecar(mix)["labels"]
        assert labels["kick"] == pytest.approx(0.7) and labels["perc"] == pytest.approx(1.2)
        assert labels["snare"] == pytest.approx(0.3)


def test_analyze_morph_crop_and_save(ndm, tmp_path, sounds):
    with running_server(ndm, tmp_path, allow=(sounds,)) as (_, client):
        client.sample("/drum/type", "kick")
        analysed = client.sample("/drum/analyze", str(sounds / "kick.wav"))
        meta = _sidecar(analysed)
        assert meta["navigation"]["center"] == "analyze"
        wave, sr = sf.read(sounds / "kick.wav", dtype="float32")
        assert torch.allclose(torch.tensor(meta["latent"]), ndm.encode(wave, sr, "kick"), atol=1e-4)
        # relative paths start at the output folder; a render there can be analysed again
        assert client.sample("/drum/analyze", analysed.name).is_file()

        start = client.sample("/drum/morph", str(sounds / "kick.wav"), str(sounds / "snare.wav"), 0.0, 0)
        assert torch.allclose(torch.tensor(_sidecar(start)["latent"]), ndm.encode(wave, sr, "kick"), atol=1e-4)
        middle = client.sample("/drum/morph", str(sounds / "kick.wav"), str(sounds / "snare.wav"), 0.5)
        assert _sidecar(middle)["verb"] == "morph" and _sidecar(middle)["params"] == {"t": 0.5, "method": "slerp"}
        assert _sidecar(middle)["morph_files"] == [str(sounds / "kick.wav"), str(sounds / "snare.wav")]

        whole = sf.read(middle)[0]
        cropped = client.sample("/drum/crop", 0.0, 0.125)  # exact in OSC's float32
        assert _sidecar(cropped)["crop"] == [0.0, 0.125]
        hit = ndm.model.length * 44100 / ndm.model.sample_rate  # crop bounds are fractions of the model's hit
        assert len(sf.read(cropped)[0]) <= 0.125 * hit + 1 < len(whole)
        kept = client.sample("/drum/save", "keeper")
        assert kept.name == "keeper_kick_000.wav"
        assert np.array_equal(sf.read(kept)[0], sf.read(cropped)[0])  # the sound as it is, not decoded again
        assert client.sample("/drum/save").name == "saved_kick_000.wav"
        assert client.sample("/drum/crop", 0, 1) and _sidecar(client.sample("/drum/save"))["verb"] == "morph"


def test_drumgan_moves_on_the_plane_and_analyze_sets_the_sliders(drumgan, tmp_path, sounds):
    with running_server(drumgan, tmp_path, allow=(sounds,)) as (_, client):
        assert client.request("/drum/ping")[1] == ["drumgan", "kick", "snare", "cymbal"]
        client.sample("/drum/generate", 3)
        pad = _sidecar(client.sample("/drum/xy", 0.5, -2.0))
        assert pad["verb"] == "plane" and pad["navigation"]["x"] == 0.5 and pad["navigation"]["y"] == -2.0
        kind, args = client.request("/drum/fine", 0.5)
        assert kind == "/drum/error" and "no Fine knob" in args[0]
        kind, args = client.request("/drum/class", 1, 0)
        assert kind == "/drum/error" and "3 class weights" in args[0]
        analysed = _sidecar(client.sample("/drum/analyze", str(sounds / "snare.wav")))
        assert sorted(analysed["labels"].values()) != [0.0, 0.0, 1.0]  # the encoder's estimate, not one-hot
        mix = _sidecar(client.sample("/drum/class", 0.2, 0.9, 0.1))
        assert mix["labels"] == pytest.approx({"kick": 0.2, "snare": 0.9, "cymbal": 0.1})


def test_wavegan_generates_moves_on_the_plane_and_analyze_inverts(tmp_path, sounds):
    """The third shipped family through the same messages: Analyze inverts its generator (seconds, not
    milliseconds) and sets the sliders to its class estimate."""
    wavegan = _load("wavegan")
    with running_server(wavegan, tmp_path, allow=(sounds,)) as (_, client):
        assert client.request("/drum/ping")[1] == ["wavegan", "kick", "snare", "cymbal"]
        hit = client.sample("/drum/generate", 3)
        assert _sidecar(hit)["family"] == "wavegan" and len(sf.read(hit)[0]) > 0
        pad = _sidecar(client.sample("/drum/xy", 0.5, -1.0))
        assert pad["verb"] == "plane" and pad["navigation"]["x"] == 0.5
        analysed = _sidecar(client.sample("/drum/analyze", str(sounds / "kick.wav")))
        assert sum(analysed["labels"].values()) == pytest.approx(1.0, abs=1e-4)  # the inversion's softmax
        kind, args = client.request("/drum/fine", 0.5)
        assert kind == "/drum/error" and "no Fine knob" in args[0]


# ---- bad messages ------------------------------------------------------------------------------------


def _msg(address: str, tags: str, *payload: bytes) -> bytes:
    def pad(b: bytes) -> bytes:
        return b + b"\x00" * (4 - len(b) % 4)

    return pad(address.encode()) + pad(("," + tags).encode()) + b"".join(payload)


MALFORMED = [
    # (what is sent, a piece of the error); tuples go through python-osc, bytes are sent raw
    (("/drum/nope",), "unknown address"),
    (("/drum",), "unknown address"),
    (("/drum/xy", 0.5), "takes x and y"),
    (("/drum/xy", 0.5, 0.5, 0.5), "takes x and y"),
    (("/drum/xy", "left", 0.5), "x must be a number"),
    (("/drum/xy", float("nan"), 0.0), "x must be finite"),
    (("/drum/xy", 0.0, float("inf")), "y must be finite"),
    (("/drum/xy", True, 0.0), "x must be a number"),
    (("/drum/xy", None, 0.0), "x must be a number"),
    (("/drum/xy", b"\x00" * 40000, 0.0), "blob of 40000 bytes"),
    (("/drum/xy", 1.5, 0.0), "x must be in [-1, 1]"),
    (("/drum/fine", -2.0), "fine must be in [-1, 1]"),
    (("/drum/range", 0), "range must be in (0, 8]"),
    (("/drum/range", 1e9), "range must be in (0, 8]"),
    (("/drum/type", "bass"), "is not one of"),
    (("/drum/type", 8), "between 0 and 7"),
    (("/drum/type", 1.5), "must be an integer"),
    (("/drum/type",), "takes one class"),
    (("/drum/class", 1.0, 0.0), "takes 8 class weights"),
    (("/drum/class", *[0.0] * 7, float("nan")), "weight of perc must be finite"),
    (("/drum/generate", -1), "seed must be between 0"),
    (("/drum/generate", 2.5), "seed must be an integer"),
    (("/drum/generate", "x" * 5000), "seed must be an integer"),
    (("/drum/generate", 1, 2), "an optional seed"),
    (("/drum/vary/intensity",), "one intensity"),
    (("/drum/vary/intensity", float("-inf")), "must be finite"),
    (("/drum/vary/intensity", 1e6), "beyond the limit"),  # refused by the Session on the worker
    (("/drum/vary/new_direction", -3), "seed must be between 0"),
    (("/drum/crop", 0.6, 0.4), "crop needs"),
    (("/drum/crop", 0.0, 1.5), "crop needs"),
    (("/drum/save", "../evil"), "not a plain name"),
    (("/drum/save", ".hidden"), "not a plain name"),
    (("/drum/save", 3), "prefix must be a string"),
    (("/drum/style/2", 0.5), "no style faders"),
    (("/drum/style/2", float("nan")), "must be finite"),
    (("/drum/noise",), "one noise amount"),
    (("/drum/ping", 1), "no arguments"),
    (("/drum/analyze",), "the path of a sound"),
    (("/drum/analyze", 42), "path must be a string"),
    (("/drum/analyze", "/etc/passwd"), "outside the folders"),
    (("/drum/analyze", "../secret.wav"), "outside the folders"),
    (("/drum/analyze", "{sounds}/escape.wav"), "links outside"),
    (("/drum/analyze", "{sounds}/missing.wav"), "no such sound"),
    (("/drum/analyze", "{sounds}/pipe.wav"), "FIFO"),
    (("/drum/analyze", "{sounds}/sub"), "is a folder"),
    (("/drum/analyze", "{sounds}/broken.wav"), "broken.wav"),  # refused by the decoder, on the worker
    (("/drum/analyze", "{sounds}/long.wav"), "31 s"),
    (("/drum/morph", "{sounds}/kick.wav", "{sounds}/snare.wav", 1.5), "t must be in [0, 1]"),
    (("/drum/morph", "{sounds}/kick.wav", "{sounds}/snare.wav", 0.5, 2), "method must be between 0 and 1"),
    (("/drum/morph", "{sounds}/kick.wav", "/etc/hosts", 0.5), "outside the folders"),
    (("/drum/morph", "{sounds}/kick.wav", 0.5), "two sound paths"),
    (b"", "neither a message"),
    (b"hello world!", "neither a message"),
    (b"/drum/xy", "no NUL terminator"),
    (b"/drum/xy\x00\x00\x00\x00,ff\x00\x00\x00\x00\x01", "runs past the end"),
    (_msg("/drum/xy", "fx", struct.pack(">f", 0.1)), "type tag 'x' is not supported"),
    (_msg("/drum/xy", "[ff]", struct.pack(">ff", 0.1, 0.2)), "type tag '[' is not supported"),
    (_msg("/drum/xy", "ff", struct.pack(">ff", 0.1, 0.2), b"junk"), "bytes after the last argument"),
    (_msg("/drum/xy", "b", struct.pack(">i", 1 << 30)), "does not fit"),
    (_msg("/drum/xy", "f" * 65, struct.pack(">" + "f" * 65, *[0.0] * 65)), "at most 64"),
    (b"/dr\xffm\x00\x00\x00", "not UTF-8"),
    (b"drum/xy\x00", "neither a message"),
    (wire.BUNDLE + b"\x00" * 8 + struct.pack(">i", 999) + b"/x\x00\x00", "does not fit the bundle"),
    (wire.BUNDLE + b"\x00" * 4, "shorter than its header"),
]


def _nested(depth: int) -> bytes:
    data = _msg("/drum/ping", "")
    for _ in range(depth):
        data = wire.BUNDLE + b"\x00" * 8 + struct.pack(">i", len(data)) + data
    return data


def test_every_malformed_message_gets_one_error_and_nothing_is_written_outside_out(ndm, tmp_path, sounds):
    cases = [*MALFORMED, (_nested(9), "nested more than 8")]
    before = files_under(tmp_path)
    with running_server(ndm, tmp_path, allow=(sounds,)) as (server, client):
        for sent, expected in cases:
            if isinstance(sent, bytes):
                client.send_raw(sent)
            else:
                address, *args = sent
                client.send(address, *[a.format(sounds=sounds) if isinstance(a, str) else a for a in args])
            kind, args = client.reply()
            assert kind == "/drum/error", (sent, kind, args)
            assert expected in args[0], (sent, args)
            assert isinstance(args[1], int) and args[1] >= 1
        assert client.no_more_replies()  # a refused change does not also render
        assert client.request("/drum/ping")[0] == "/drum/pong"
        assert client.sample("/drum/generate", 1).is_file()
        # a good bundle: each of its messages answered, in order
        ping, nope = _msg("/drum/ping", ""), _msg("/drum/nope", "")
        client.send_raw(wire.BUNDLE + b"\x00" * 8 + struct.pack(">i", len(ping)) + ping
                        + struct.pack(">i", len(nope)) + nope)
        assert [client.reply()[0], client.reply()[0]] == ["/drum/pong", "/drum/error"]
        assert server.requests == len(cases) + 4
    written = files_under(tmp_path) - before
    out = (tmp_path / "out")
    assert written and all(p.parent == out for p in written), sorted(written - set(out.iterdir()))
    assert {p.suffix for p in written} == {".wav", ".json"}


def test_latest_request_wins_and_every_request_is_answered(ndm, tmp_path):
    with running_server(ndm, tmp_path) as (server, client):
        instrument = server.protocol.instrument
        gate, started = threading.Event(), threading.Event()
        real_render = instrument.render

        def slow_first_render(prefix=None):
            if not started.is_set():
                started.set()
                assert gate.wait(20)
            return real_render(prefix)

        instrument.render = slow_first_render
        client.send("/drum/xy", 0.0, 0.0)
        assert started.wait(20)  # the worker now holds request 1
        moves = [("/drum/xy", 0.1 * i, -0.1 * i) if i % 2 else ("/drum/type", ["snare", "tom"][i % 4 // 2])
                 for i in range(1, 10)]
        for address, *args in moves:
            client.send(address, *args)
        time.sleep(0.5)  # all nine queued behind the held render
        gate.set()
        replies = [client.reply() for _ in range(10)]
        assert client.no_more_replies()
        by_id = {args[1] if kind == "/drum/sample" else args[0]: (kind, args) for kind, args in replies}
        assert sorted(by_id) == list(range(1, 11))
        assert by_id[1][0] == "/drum/sample"
        assert [by_id[i][0] for i in range(2, 10)] == ["/drum/dropped"] * 8
        assert [by_id[i][1][1] for i in range(2, 10)] == [m[0] for m in moves[:-1]]
        last = Path(by_id[10][1][0])
        meta = _sidecar(last)
        # the one render includes every change before it: type from message 9, pad from message 10
        assert meta["class"] == "snare" and meta["controls"]["x"] == pytest.approx(0.9)
        assert isinstance(by_id[10][1][2], float) and by_id[10][1][2] > 0  # ms, as float32
        assert len(list((tmp_path / "out").glob("*.wav"))) == 2


def test_reply_port_zero_answers_the_sending_socket(ndm, tmp_path):
    with running_server(ndm, tmp_path, reply_port=0) as (server, _):
        own = OscClient(server.port)
        try:
            own.sender._sock.settimeout(10)
            own.send("/drum/ping")
            data = own.sender._sock.recv(65536)
            assert wire.parse_message(data)[0] == "/drum/pong"
        finally:
            own.close()


# ---- the verb --------------------------------------------------------------------------------------------


def _start(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([sys.executable, "-m", "drumsynth.cli.main", "serve", "--out", str(tmp_path / "out"),
                             "--port", "0", "--reply-port", "0", "--threads", "1", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    line = proc.stdout.readline()
    if "listening on udp" not in line:
        proc.kill()
        raise AssertionError(f"no listening line: {line!r} {proc.communicate(timeout=10)}")
    return proc, int(line.split("listening on udp ")[1].split(",")[0].rsplit(":", 1)[1])


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_verb_answers_and_stops_cleanly_on_a_signal(tmp_path, sig):
    proc, port = _start(tmp_path)
    try:
        client = OscClient(port)
        client.sender._sock.settimeout(20)
        client.send("/drum/generate", 2)
        kind, args = wire.parse_message(client.sender._sock.recv(65536))
        assert kind == "/drum/sample" and Path(args[0]).parent == (tmp_path / "out").resolve()
        client.close()
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "stopped after 1 requests" in out and "Traceback" not in err


def test_serve_verb_refuses_bad_options_in_one_line(tmp_path):
    cases = [(["--allow", str(tmp_path / "nowhere")], "not an existing folder"),
             (["--host", "192.0.2.1"], "cannot listen on 192.0.2.1")]
    for extra, expected in cases:
        run = subprocess.run([sys.executable, "-m", "drumsynth.cli.main", "serve", "--out", str(tmp_path / "o"),
                              "--port", "0", *extra], capture_output=True, text=True, cwd=REPO, timeout=120)
        assert run.returncode == 2 and expected in run.stderr and "Traceback" not in run.stderr, run.stderr
    assert "warning: listening on 192.0.2.1, not loopback" in run.stderr
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.0.2.1")


# ---- the DAW patches of docs/daw ------------------------------------------------------------------------

DAW = REPO / "docs" / "daw"
KNOWN = {"/drum/ping", "/drum/type", "/drum/class", "/drum/generate", "/drum/vary/intensity",
         "/drum/vary/new_direction", "/drum/xy", "/drum/fine", "/drum/range", "/drum/noise", "/drum/analyze",
         "/drum/morph", "/drum/crop", "/drum/save"}


def test_the_server_routes_exactly_the_documented_addresses(ndm, tmp_path):
    with running_server(ndm, tmp_path) as (server, _):
        assert set(server.protocol.routes) | {"/drum/ping"} == KNOWN
    text = (REPO / "docs" / "daw.md").read_text()
    assert all(f"`{address}" in text for address in KNOWN)


def test_max_patch_is_well_formed_and_speaks_the_protocol():
    patch = json.loads((DAW / "drumsynth.maxpat").read_text())["patcher"]
    boxes = {b["box"]["id"]: b["box"] for b in patch["boxes"]}
    for line in patch["lines"]:
        (src, outlet), (dst, inlet) = line["patchline"]["source"], line["patchline"]["destination"]
        assert outlet < boxes[src]["numoutlets"] and inlet < boxes[dst]["numinlets"], line
    builtin = {"udpsend", "udpreceive", "prepend", "print", "pak", "unpack", "buffer~", "play~", "conformpath",
               "loadbang", "scale", "route"}
    objects = [b["text"].split() for b in boxes.values() if b["maxclass"] == "newobj"]
    assert {o[0] for o in objects} <= builtin
    sent = {b["text"].split()[0] for b in boxes.values() if b["maxclass"] == "message" and b["text"].startswith("/")}
    sent |= {o[1] for o in objects if o[0] == "prepend" and o[1].startswith("/")}
    assert sent <= KNOWN and {"/drum/ping", "/drum/generate", "/drum/xy", "/drum/type", "/drum/analyze"} <= sent
    assert ["udpsend", "127.0.0.1", "7400"] in objects and ["udpreceive", "7401"] in objects


def _pd_objects(text: str) -> list[str]:
    return [line for line in text.splitlines()[1:] if line.startswith("#X ") and not line.startswith("#X connect")]


def test_pd_patch_uses_built_in_objects_and_known_addresses():
    objects = _pd_objects((DAW / "drumsynth.pd").read_text())
    formats = ["/" + "/".join(o.rstrip(";").split()[5:]) for o in objects if " oscformat " in o]
    assert set(formats) <= KNOWN and len(formats) == 11
    classes = {o.split()[4].rstrip(";") for o in objects if o.startswith("#X obj")}
    assert classes <= {"loadbang", "list", "netsend", "netreceive", "oscformat", "oscparse", "route", "unpack",
                       "print", "soundfiler", "t", "pack", "openpanel", "tabplay~", "dac~", "table"}


@pytest.mark.skipif(shutil.which("pd") is None, reason="Pure Data (pd) is not installed")
def test_pd_patch_plays_the_server(ndm, tmp_path):
    """Run docs/daw/drumsynth.pd headless against the server: ping, Generate, the reply loaded into its table."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    reply_port = probe.getsockname()[1]
    probe.close()
    text = (DAW / "drumsynth.pd").read_text()
    with running_server(ndm, tmp_path, reply_port=reply_port) as (server, _):
        text = text.replace("connect localhost 7400", f"connect localhost {server.port}")
        text = text.replace("netreceive -u -b 7401", f"netreceive -u -b {reply_port}")
        objects = _pd_objects(text)
        index = {name: next(i for i, o in enumerate(objects) if f" oscformat drum {name};" in o)
                 for name in ("ping", "generate")}
        n = len(objects)
        # press ping, then Generate a second later; quit after three more
        text += "\n".join(["#X obj 0 0 loadbang;", "#X obj 0 0 delay 1000;", "#X obj 0 0 t b b;",
                           "#X obj 0 0 delay 4000;", "#X msg 0 0 \\; pd quit;",
                           f"#X connect {n} 0 {n + 1} 0;", f"#X connect {n + 1} 0 {n + 2} 0;",
                           f"#X connect {n + 2} 1 {index['ping']} 0;", f"#X connect {n + 2} 0 {index['generate']} 0;",
                           f"#X connect {n} 0 {n + 3} 0;", f"#X connect {n + 3} 0 {n + 4} 0;"]) + "\n"
        patch = tmp_path / "drumsynth-test.pd"
        patch.write_text(text)
        run = subprocess.run(["pd", "-nogui", "-nosound", "-nomidi", "-noprefs", "-stderr", "-open", str(patch)],
                             capture_output=True, text=True, timeout=60, cwd=tmp_path)
    log = run.stdout + run.stderr
    assert "couldn't create" not in log and "error" not in log.lower(), log
    assert "drumsynth-pong: ndm kick snare" in log, log
    sample = next(line for line in log.splitlines() if line.startswith("drumsynth-sample:"))
    path = Path(sample.split()[2])
    assert path.parent == (tmp_path / "out").resolve() and path.is_file()
    loaded = int(next(line for line in log.splitlines() if line.startswith("drumsynth-loaded:")).split()[1])
    assert loaded == sf.info(path).frames > 1000
