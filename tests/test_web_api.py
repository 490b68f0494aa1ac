"""The web instrument's HTTP routes (FastAPI TestClient): every route, malformed and oversized requests,
path traversal, the render folder, and the "latest wins" stream."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from tests.conftest import SR, synth_hit

pytest.importorskip("fastapi", reason="the web extra (fastapi) is not installed")
from fastapi.testclient import TestClient  # noqa: E402

from drumsynth.inference.session import shipped_models  # noqa: E402
from drumsynth.serve.latest import LatestWins  # noqa: E402
from drumsynth.web.app import create_app  # noqa: E402
from drumsynth.web.catalog import Catalog  # noqa: E402
from drumsynth.web.store import RenderStore  # noqa: E402

HOSTS = ("testserver", "127.0.0.1", "localhost")
NDM_CLASSES = 8


def wav(wave: np.ndarray, sr: int = SR, subtype: str = "PCM_16") -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, wave, sr, format="WAV", subtype=subtype)
    return buffer.getvalue()


def make_client(tmp_path: Path, runs: Path | None = None, **kwargs) -> TestClient:
    app = create_app(Catalog(runs), RenderStore(tmp_path / "out", keep=kwargs.pop("keep", 1000)),
                     allowed_hosts=HOSTS, **kwargs)
    return TestClient(app)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    if "ndm" not in shipped_models():
        pytest.skip("no shipped ndm model")
    root = tmp_path_factory.mktemp("web")
    with make_client(root) as test_client:
        test_client.root = root
        yield test_client


def post(client, route: str, body: dict, client_id: str = "tester"):
    # json.dumps writes NaN and Infinity, which Python's json reads: what a script (not a browser) can send
    return client.post(route, content=json.dumps({"client": client_id, **body}),
                       headers={"content-type": "application/json"})


def generate(client, model: str = "ndm", sliders=None, seed: int = 3, **extra) -> dict:
    sliders = sliders if sliders is not None else [1.0] + [0.0] * (NDM_CLASSES - 1)
    response = post(client, "/api/generate", {"model": model, "sliders": sliders, "seed": seed}, **extra)
    assert response.status_code == 200, response.text
    return response.json()


def audio_of(client, meta: dict) -> np.ndarray:
    response = client.get(meta["url"])
    assert response.status_code == 200 and response.headers["content-type"] == "audio/wav"
    assert hashlib.sha256(response.content).hexdigest() == meta["sha256"]
    return sf.read(io.BytesIO(response.content), dtype="float32")[0]


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


# ---- the page and its files ------------------------------------------------------------------------

def test_the_page_and_its_vendored_scripts_are_served_with_a_strict_policy(client):
    page = client.get("/")
    assert page.status_code == 200 and "<title>drumsynth</title>" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    for path in ("/static/js/main.js", "/static/app.css", "/static/vendor/wavesurfer.js/wavesurfer.esm.js",
                 "/static/vendor/wavesurfer.js/plugins/regions.esm.js", "/static/vendor/wavesurfer.js/LICENSE"):
        assert client.get(path).status_code == 200, path
    # no CDN: every script the page loads comes from this server
    assert "http" not in "".join(line for line in page.text.splitlines() if "<script" in line or "<link" in line)


@pytest.mark.parametrize("path", ["/static/../app.py", "/static/%2e%2e/app.py", "/static/..%2fapp.py",
                                  "/static/js/..%2f..%2fapp.py", "/static/%2e%2e%2f%2e%2e%2fschema.py",
                                  "/static//etc/passwd", "/static/..%5capp.py", "/app.py", "/etc/passwd"])
def test_static_files_never_leave_the_static_folder(client, path):
    response = client.get(path)
    assert response.status_code == 404, (path, response.status_code)
    assert "DrumsynthError" not in response.text and "import" not in response.text


def test_a_foreign_host_header_is_refused(client):
    # a page elsewhere that points a DNS name at 127.0.0.1 (DNS rebinding) gets nothing
    assert client.get("/api/models", headers={"host": "evil.example"}).status_code == 400


# ---- models ----------------------------------------------------------------------------------------

def test_models_lists_the_shipped_families_and_describes_their_controls(client):
    listing = client.get("/api/models").json()
    keys = [m["key"] for m in listing["models"]]
    assert listing["default"] == "ndm" and keys[0] == "ndm"
    assert all("path" not in m for m in listing["models"])  # keys and labels only
    ndm = client.get("/api/model", params={"key": "ndm"}).json()
    assert ndm["family"] == "ndm" and len(ndm["classes"]) == NDM_CLASSES and ndm["pad"] is True
    assert ndm["estimates_classes"] is False and ndm["latent_dim"] == 64
    if "drumgan" in keys:
        drumgan = client.get("/api/model", params={"key": "drumgan"}).json()
        assert drumgan["classes"] == ["kick", "snare", "cymbal"] and drumgan["pad"] is False
        assert drumgan["estimates_classes"] is True


@pytest.mark.parametrize("key", ["no-such-model", "../../etc/passwd", "run:../ndm.pt", "",
                                 str(Path(__file__).resolve()), "x" * 301])
def test_a_model_is_named_by_key_never_by_path(client, key):
    response = client.get("/api/model", params={"key": key})
    assert response.status_code in (400, 422) and "error" in response.json()
    real = str(shipped_models()["ndm"])  # even a real checkpoint's path is not a key
    assert client.get("/api/model", params={"key": real}).status_code == 400


def test_a_runs_folder_offers_its_checkpoints_and_nothing_outside_it(tmp_path):
    runs = tmp_path / "runs"
    (runs / "mine").mkdir(parents=True)
    shutil.copyfile(shipped_models()["ndm"], runs / "mine" / "release.pt")
    (runs / "mine" / "resume.pt").write_bytes(b"not offered")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shutil.copyfile(shipped_models()["ndm"], outside / "release.pt")
    (runs / "link").symlink_to(outside, target_is_directory=True)
    with make_client(tmp_path, runs=runs) as client:
        keys = [m["key"] for m in client.get("/api/models").json()["models"]]
        assert "run:mine/release.pt" in keys
        assert not any("resume" in k or "link" in k for k in keys)
        info = client.get("/api/model", params={"key": "run:mine/release.pt"}).json()
        assert info["family"] == "ndm"
        meta = generate(client, model="run:mine/release.pt")
        assert meta["model"] == "run:mine/release.pt"
        assert client.get("/api/model", params={"key": "run:link/release.pt"}).status_code == 400


# ---- renders ---------------------------------------------------------------------------------------

def test_generate_writes_a_named_file_and_serves_it_by_id(client):
    meta = generate(client, seed=5)
    path = client.root / "out" / meta["name"]
    assert path.is_file() and path.with_suffix(".json").is_file()
    assert meta["name"].startswith("ndm_kick_") and meta["verb"] == "vary" and len(meta["center"]) == 64
    wave = audio_of(client, meta)
    assert np.abs(wave).max() > 0.5 and meta["render_ms"] > 0 and meta["server_ms"] >= meta["render_ms"]
    assert json.loads(path.with_suffix(".json").read_text())["labels"]["kick"] == 1.0
    again = generate(client, seed=5)
    assert again["id"] != meta["id"] and again["name"] != meta["name"]  # never over an earlier file
    assert np.array_equal(audio_of(client, again), wave)  # the same seed, the same sound


def test_navigation_state_travels_with_each_request(client):
    a, b = generate(client, seed=1), generate(client, seed=2)
    sliders = [0.0, 1.0] + [0.0] * (NDM_CLASSES - 2)
    body = {"model": "ndm", "sliders": sliders, "direction_seed": 7}

    def vary(center, intensity, who):
        response = post(client, "/api/vary", {**body, "center": center, "intensity": intensity}, who)
        assert response.status_code == 200, response.text
        return response.json()

    first = vary(a["center"], 1.5, "page-a")
    vary(b["center"], -2.0, "page-b")  # another page moves the shared Session elsewhere
    again = vary(a["center"], 1.5, "page-a")
    assert np.array_equal(audio_of(client, first), audio_of(client, again))
    assert first["verb"] == "vary" and first["labels"]["snare"] == 1.0
    plane = post(client, "/api/plane", {**body, "center": a["center"], "x": 1.5, "y": 0.0}).json()
    assert np.array_equal(audio_of(client, plane), audio_of(client, first))  # vary(a) = plane(a, 0)
    moved = post(client, "/api/plane", {**body, "center": a["center"], "x": 0.5, "y": -1.0}).json()
    assert moved["sha256"] != plane["sha256"]


def test_the_ndm_pad_and_its_bounds(client):
    centre = post(client, "/api/pad", {"model": "ndm", "cls": "snare", "x": 0, "y": 0}).json()
    corner = post(client, "/api/pad", {"model": "ndm", "cls": "snare", "x": 1, "y": -1, "fine": 0.5, "range": 3}).json()
    assert centre["verb"] == "controls" and centre["class"] == "snare"
    assert not np.array_equal(audio_of(client, centre), audio_of(client, corner))
    for bad in ({"x": 1.5}, {"y": -2}, {"fine": 3}, {"cls": "cowbell"}, {"range": float("nan")}):
        body = {"model": "ndm", "cls": "snare", "x": 0, "y": 0} | bad
        response = post(client, "/api/pad", body)
        assert response.status_code == 400 and response.json()["error"], bad
    if "drumgan" in shipped_models():
        response = post(client, "/api/pad", {"model": "drumgan", "cls": "kick", "x": 0, "y": 0})
        assert response.status_code == 400 and "no XY pad" in response.json()["error"]


def test_analyze_sets_the_centre_and_drumgan_sets_the_sliders(client):
    upload = wav(synth_hit("snare", seed=4))
    response = client.post("/api/analyze", params={"client": "t", "model": "ndm", "name": "snare.wav",
                                                   "sliders": ",".join(["0", "1"] + ["0"] * 6)},
                           content=upload, headers={"content-type": "audio/wav"})
    assert response.status_code == 200, response.text
    meta = response.json()
    assert meta["source"] == "snare.wav" and len(meta["center"]) == 64 and meta["sliders"][1] == 1.0
    assert np.abs(audio_of(client, meta)).max() > 0.1
    if "drumgan" in shipped_models():
        response = client.post("/api/analyze", params={"client": "t", "model": "drumgan", "name": "k.flac",
                                                       "sliders": "1,0,0"},
                               content=_flac(synth_hit("kick")), headers={"content-type": "application/octet-stream"})
        assert response.status_code == 200, response.text
        estimate = response.json()["sliders"]
        assert len(estimate) == 3 and sum(estimate) == pytest.approx(1.0, abs=1e-4)  # the encoder's softmax


def test_wavegan_is_listed_generates_and_analyzes(client):
    if "wavegan" not in shipped_models():
        pytest.skip("no shipped wavegan model")
    listing = client.get("/api/models").json()
    assert "wavegan" in [m["key"] for m in listing["models"]]
    info = client.get("/api/model", params={"key": "wavegan"}).json()
    assert info["classes"] == ["kick", "snare", "cymbal"] and info["pad"] is False and info["estimates_classes"] is True
    meta = post(client, "/api/generate", {"model": "wavegan", "sliders": [0, 1, 0], "seed": 2}).json()
    assert np.abs(audio_of(client, meta)).max() > 0.1
    response = client.post("/api/analyze", params={"client": "t", "model": "wavegan", "name": "k.wav",
                                                   "sliders": "1,0,0"},
                           content=wav(synth_hit("kick")), headers={"content-type": "audio/wav"})
    assert response.status_code == 200, response.text
    assert sum(response.json()["sliders"]) == pytest.approx(1.0, abs=1e-4)  # the inversion's estimate


def _flac(wave: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, wave, SR, format="FLAC")
    return buffer.getvalue()


@pytest.mark.parametrize("name,kind,payload,status,message", [
    ("notes.txt", "text/plain", b"hello", 400, "not an audio file"),
    ("kick.wav", "text/html", b"RIFF", 400, "content type"),
    ("kick.wav", "audio/wav", b"RIFF\x00\x00not really a wav file", 400, "cannot decode"),
    ("kick.wav", "audio/wav", b"", 400, "empty"),
    ("long.wav", "audio/wav", None, 400, "long"),
    ("nan.wav", "audio/wav", "nan", 400, "NaN"),
    ("../../etc/passwd.wav", "audio/wav", b"junk", 400, "cannot decode"),
])
def test_bad_uploads_are_clear_errors_and_the_server_keeps_serving(client, name, kind, payload, status, message):
    if payload is None:  # 40 s: over the 30 s an Analyze reads
        payload = wav(np.zeros(SR * 40, dtype=np.float32) + 0.01)
    elif payload == "nan":
        wave = synth_hit("kick")
        wave[100] = np.nan
        payload = wav(wave, subtype="FLOAT")
    before = files_under(client.root)
    response = client.post("/api/analyze", params={"client": "t", "model": "ndm", "name": name, "sliders": "1,0,0,0,0,0,0,0"},
                           content=payload, headers={"content-type": kind})
    assert response.status_code == status and message in response.json()["error"], response.text
    assert files_under(client.root) == before  # an upload is never written anywhere
    assert generate(client)["id"]


def test_crop_keeps_a_part_of_an_earlier_render(client):
    meta = generate(client, seed=9)
    response = post(client, "/api/crop", {"id": meta["id"], "start": 0.0, "end": 0.5})
    assert response.status_code == 200, response.text
    cropped = response.json()
    assert cropped["cropped_from"] == meta["id"] and cropped["seconds"] < meta["seconds"]
    original, part = audio_of(client, meta), audio_of(client, cropped)
    assert 0.3 * len(original) < len(part) <= 0.6 * len(original)
    for start, end in ((0.5, 0.5), (0.6, 0.2), (-0.1, 0.5), (0.0, 1.5), (float("nan"), 0.5)):
        response = post(client, "/api/crop", {"id": meta["id"], "start": start, "end": end})
        assert response.status_code == 400 and "crop" in response.json()["error"], (start, end)
    assert post(client, "/api/crop", {"id": "0123456789abcdef", "start": 0, "end": 0.5}).status_code == 404
    assert post(client, "/api/crop", {"id": "../../etc/passwd", "start": 0, "end": 0.5}).status_code == 422


def test_morph_between_two_renders(client):
    a, b = generate(client, seed=1), generate(client, sliders=[0, 0, 0, 1, 0, 0, 0, 0], seed=2)
    response = post(client, "/api/morph", {"a": a["id"], "b": b["id"], "t": 0.25, "mode": "lerp"})
    assert response.status_code == 200, response.text
    mid = response.json()
    assert mid["verb"] == "morph" and mid["labels"]["kick"] == pytest.approx(0.75)
    expected = 0.75 * np.array(a["latent"]) + 0.25 * np.array(b["latent"])
    assert np.allclose(mid["latent"], expected, atol=1e-5)
    start = post(client, "/api/morph", {"a": a["id"], "b": b["id"], "t": 0.0}).json()
    assert np.allclose(audio_of(client, start), audio_of(client, a), atol=1e-4)
    assert post(client, "/api/morph", {"a": a["id"], "b": b["id"], "t": 1.5}).status_code == 400
    assert post(client, "/api/morph", {"a": a["id"], "b": b["id"], "t": 0.5, "mode": "cubic"}).status_code == 422
    if "drumgan" in shipped_models():
        other = generate(client, model="drumgan", sliders=[1, 0, 0])
        response = post(client, "/api/morph", {"a": a["id"], "b": other["id"], "t": 0.5})
        assert response.status_code == 400 and "one model" in response.json()["error"]


def test_variations_are_small_different_moves_of_a_render(client):
    meta = generate(client, seed=4)
    response = post(client, "/api/variations", {"id": meta["id"], "n": 3, "amount": 0.1, "seed": 1})
    assert response.status_code == 200, response.text
    hits = response.json()["variations"]
    assert len(hits) == 3 and len({h["sha256"] for h in hits} | {meta["sha256"]}) == 4
    assert all(h["variation_of"] == meta["id"] and h["verb"] == "variations" for h in hits)
    distances = [np.linalg.norm(np.array(h["latent"]) - np.array(meta["latent"])) for h in hits]
    assert max(distances) - min(distances) < 1e-3 and 0 < distances[0] < 3  # one amount, three directions
    assert post(client, "/api/variations", {"id": meta["id"], "amount": 5}).status_code == 400
    assert post(client, "/api/variations", {"id": meta["id"], "n": 9}).status_code == 422


def test_a_kit_of_the_lanes_is_an_sfz_and_hydrogen_zip(client):
    kick, snare = generate(client, seed=1), generate(client, sliders=[0, 1, 0, 0, 0, 0, 0, 0], seed=2)
    varied = post(client, "/api/variations", {"id": kick["id"], "n": 2}).json()["variations"]
    response = post(client, "/api/kit", {"lanes": [{"id": kick["id"], "variants": [v["id"] for v in varied]},
                                                  {"id": snare["id"]}], "name": "mykit"})
    assert response.status_code == 200, response.text
    kit = response.json()
    assert [(i["note"], i["class"], i["samples"]) for i in kit["instruments"]] == [(36, "kick", 3), (38, "snare", 1)]
    archive = client.get(kit["url"])
    assert archive.status_code == 200 and archive.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(archive.content)) as zf:
        names = {Path(n).name: n for n in zf.namelist()}
        assert {"kit.sfz", "drumkit.xml", "kit.json", "036_kick_v1_rr3.wav", "038_snare_v1_rr1.wav"} <= set(names)
        assert hashlib.sha256(zf.read(names["038_snare_v1_rr1.wav"])).hexdigest() == snare["sha256"]
        assert "036_kick_v1_rr3.wav" in zf.read(names["kit.sfz"]).decode()
    for bad in ({"lanes": []}, {"lanes": [{"id": kick["id"]}], "name": "../up"}, {"lanes": [{"id": "nope"}]}):
        assert post(client, "/api/kit", bad).status_code in (400, 422), bad
    assert client.get("/api/kit/0123456789abcdef").status_code == 404
    assert client.get("/api/kit/..%2F..%2Fetc%2Fpasswd").status_code == 404


# ---- malformed, oversized, traversal ---------------------------------------------------------------

@pytest.mark.parametrize("body", [
    {},
    {"client": "t"},
    {"client": "t", "model": "ndm", "sliders": [1, 0, 0, 0, 0, 0, 0, 0]},                       # no seed
    {"client": "t", "model": "ndm", "sliders": [1, 0, 0, 0, 0, 0, 0, 0], "seed": -1},
    {"client": "t", "model": "ndm", "sliders": [1, 0, 0, 0, 0, 0, 0, 0], "seed": 2**64},
    {"client": "t", "model": "ndm", "sliders": "kick", "seed": 1},
    {"client": "t", "model": "ndm", "sliders": [1] * 65, "seed": 1},
    {"client": "t", "model": "ndm", "sliders": [1, 0, 0, 0, 0, 0, 0, 0], "seed": 1, "path": "/etc"},
    {"client": "a b", "model": "ndm", "sliders": [1, 0, 0, 0, 0, 0, 0, 0], "seed": 1},
    {"client": "t", "model": ["ndm"], "sliders": [1, 0, 0, 0, 0, 0, 0, 0], "seed": 1},
])
def test_malformed_json_is_a_422_with_a_message(client, body):
    response = client.post("/api/generate", json=body)
    assert response.status_code == 422 and response.json()["error"].startswith("malformed request")


@pytest.mark.parametrize("payload", [b"{", b"null", b"[]", b'{"client": "t", "model": "ndm", "sliders": [1,0,0,0,0,0,0,0], '
                                                             b'"seed": 1', "ünïcode".encode("latin-1")])
def test_a_body_that_is_not_json_is_refused_with_a_message(client, payload):
    response = client.post("/api/generate", content=payload, headers={"content-type": "application/json"})
    assert response.status_code in (400, 422) and response.json()["error"]


@pytest.mark.parametrize("patch,message", [
    ({"sliders": [1, 0, 0]}, "8 finite numbers"),
    ({"sliders": [float("nan")] + [0] * 7}, "finite"),
    ({"center": [0.0] * 63}, "64"),
    ({"center": [1e4] * 64}, "beyond the limit"),
    ({"center": [float("inf")] * 64}, "NaN or infinite"),
    ({"intensity": float("nan")}, "finite"),
    ({"intensity": 1e300}, "beyond the limit"),
    ({"model": "drumgan-9000"}, "unknown model"),
])
def test_out_of_range_values_reach_the_session_checks_as_400(client, patch, message):
    body = {"model": "ndm", "sliders": [1] + [0] * 7, "center": [0.0] * 64, "direction_seed": 0, "intensity": 1.0}
    # Python's json reads NaN and Infinity, which a browser's JSON.stringify never sends but a script can
    response = client.post("/api/vary", content=json.dumps({"client": "t", **body, **patch}),
                           headers={"content-type": "application/json"})
    assert response.status_code == 400 and message in response.json()["error"], response.text


def test_oversized_requests_are_413_before_they_are_read(tmp_path):
    with make_client(tmp_path, upload_limit=200_000) as client:
        big = {"client": "t", "model": "ndm", "sliders": [0.0] * 64, "seed": 1, "pad": "x" * 300_000}
        assert client.post("/api/generate", json=big).status_code == 413
        lying = client.post("/api/generate", content=b"{}", headers={"content-length": "999999999",
                                                                      "content-type": "application/json"})
        assert lying.status_code == 413
        params = {"client": "t", "model": "ndm", "name": "big.wav", "sliders": "1,0,0,0,0,0,0,0"}
        upload = wav(np.zeros(SR * 5, dtype=np.float32))  # 441 KB
        response = client.post("/api/analyze", params=params, content=upload, headers={"content-type": "audio/wav"})
        assert response.status_code == 413 and "too large" in response.json()["error"]

        def chunks():  # no Content-Length: counted while it arrives
            for _ in range(50):
                yield b"\0" * 10_000

        response = client.post("/api/analyze", params=params, content=chunks(), headers={"content-type": "audio/wav"})
        assert response.status_code == 413
        assert client.get("/api/models").status_code == 200  # still serving


@pytest.mark.parametrize("path", ["/api/audio/0123456789abcdef", "/api/audio/..%2F..%2Fetc%2Fpasswd",
                                  "/api/audio/%2e%2e", "/api/audio/../../etc/passwd", "/api/audio/ndm_kick_000.wav",
                                  "/api/audio/" + "a" * 17, "/api/audio/"])
def test_downloads_name_an_id_this_server_made_never_a_path(client, path):
    generate(client)  # there is an ndm_kick_000.wav in the folder: still not reachable by name
    assert client.get(path).status_code in (404, 405)


def test_the_output_folder_is_bounded_and_only_our_files_go(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.wav").write_bytes(b"the user's own file")
    (out / "ndm_kick_000.wav").write_bytes(b"an older run's file")
    with make_client(tmp_path, keep=3) as client:
        metas = [generate(client, seed=s) for s in range(5)]
        for meta in metas[:2]:
            assert client.get(meta["url"]).status_code == 404
        for meta in metas[2:]:
            assert client.get(meta["url"]).status_code == 200
        names = sorted(p.name for p in out.iterdir())
        assert names == sorted(["mine.wav", "ndm_kick_000.wav"] + [m["name"] for m in metas[2:]]
                               + [m["name"].replace(".wav", ".json") for m in metas[2:]])
        assert (out / "mine.wav").read_bytes() == b"the user's own file"
        assert (out / "ndm_kick_000.wav").read_bytes() == b"an older run's file"
        assert metas[0]["name"] == "ndm_kick_001.wav"  # numbering continues after the older file
        os.remove(out / metas[-1]["name"])  # someone removed a render from the folder
        assert client.get(metas[-1]["url"]).status_code == 404
    assert files_under(tmp_path) == {p for p in out.iterdir()}  # nothing written outside the folder


# ---- the render worker: latest wins --------------------------------------------------------------

def test_a_newer_stream_request_replaces_the_waiting_one(tmp_path):
    worker = LatestWins(name="test-web")
    gate, started = threading.Event(), threading.Event()
    try:
        with make_client(tmp_path, worker=worker) as client:
            meta = generate(client, seed=1)
            body = {"model": "ndm", "sliders": [1] + [0] * 7, "center": meta["center"], "direction_seed": 0}
            worker.submit(lambda: (started.set(), gate.wait(10)))  # the worker is busy
            assert started.wait(10)
            answers = {}

            def vary(tag, intensity, who="same-page"):
                answers[tag] = post(client, "/api/vary", {**body, "intensity": intensity}, who)

            threads = [threading.Thread(target=vary, args=("old", 0.5))]
            threads[0].start()
            _wait(lambda: worker.waiting == 1)
            threads.append(threading.Thread(target=vary, args=("other", 0.7, "other-page")))
            threads[1].start()
            _wait(lambda: worker.waiting == 2)
            threads.append(threading.Thread(target=vary, args=("new", 1.0)))
            threads[2].start()
            threads[0].join(10)  # answered as soon as it is replaced
            assert answers["old"].status_code == 409 and answers["old"].json()["stale"] is True
            gate.set()
            for thread in threads[1:]:
                thread.join(30)
            assert answers["new"].status_code == 200 and answers["other"].status_code == 200
            assert answers["new"].json()["verb"] == "vary"
    finally:
        gate.set()
        worker.close()


def test_a_full_queue_is_503_and_generate_is_never_replaced(tmp_path):
    worker = LatestWins(name="test-web-full", max_waiting=2)
    gate = threading.Event()
    try:
        with make_client(tmp_path, worker=worker) as client:
            generate(client)  # the model is loaded
            worker.submit(gate.wait)
            answers = []
            threads = [threading.Thread(target=lambda s=s: answers.append(generate_raw(client, s))) for s in (1, 2)]
            for thread in threads:
                thread.start()
            _wait(lambda: worker.waiting == 2)
            assert generate_raw(client, 3).status_code == 503  # nothing is replaced to make room
            gate.set()
            for thread in threads:
                thread.join(30)
            assert sorted(r.status_code for r in answers) == [200, 200]
    finally:
        gate.set()
        worker.close()


def generate_raw(client, seed: int):
    return post(client, "/api/generate", {"model": "ndm", "sliders": [1] + [0] * 7, "seed": seed})


def _wait(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_request_whose_browser_went_away_is_never_rendered(tmp_path):
    import socket

    from drumsynth.web.server import serve_in_thread

    worker = LatestWins(name="test-web-gone")
    gate = threading.Event()
    store = RenderStore(tmp_path / "out")
    running = serve_in_thread(create_app(Catalog(None), store, worker=worker))
    try:
        host, port = running.sock.getsockname()[:2]
        worker.submit(gate.wait)  # the worker is busy
        body = json.dumps({"client": "gone", "model": "ndm", "sliders": [1] + [0] * 7, "seed": 1}).encode()
        with socket.create_connection((host, port), timeout=10) as conn:
            conn.sendall(b"POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                         + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            _wait(lambda: worker.waiting == 1)
        # the page was closed: the server notices and cancels the waiting job (its future, in the queue)
        _wait(lambda: worker._waiting and next(iter(worker._waiting.values())).future.cancelled())
        gate.set()
        _wait(lambda: worker.waiting == 0)
        time.sleep(0.2)
        assert len(store) == 0 and not any((tmp_path / "out").glob("*.wav"))
    finally:
        gate.set()
        running.stop()
        worker.close()


# ---- the CLI verb ----------------------------------------------------------------------------------

def test_drumsynth_web_serves_on_loopback_and_stops_on_ctrl_c(tmp_path):
    import signal
    import subprocess
    import sys
    import urllib.request

    out = tmp_path / "renders"
    proc = subprocess.Popen([sys.executable, "-m", "drumsynth.cli.main", "web", "--port", "0", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        line = proc.stdout.readline()
        assert line.startswith("drumsynth web: http://127.0.0.1:"), (line, proc.stderr.read() if proc.poll() else "")
        url = line.split()[2]
        with urllib.request.urlopen(url + "api/models", timeout=30) as response:
            assert json.load(response)["default"] == "ndm"
        with urllib.request.urlopen(url, timeout=30) as response:
            assert b"<title>drumsynth</title>" in response.read()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) == 0
        assert "Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_drumsynth_web_on_a_taken_port_is_one_line(tmp_path):
    import socket
    import subprocess
    import sys

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "drumsynth.cli.main", "web", "--port", str(port),
                                 "--out", str(tmp_path / "r")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    for bad in (["--keep", "-1"], ["--max-upload-mb", "0"], ["--model", "nope"], ["--runs", str(tmp_path / "none")]):
        result = subprocess.run([sys.executable, "-m", "drumsynth.cli.main", "web", "--port", "0", *bad],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 2 and result.stderr.startswith("drumsynth web: error:"), (bad, result.stderr)
