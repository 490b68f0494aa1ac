"""The web instrument with a style model (FastAPI TestClient, and the page in Chromium when it is installed):
``/api/model`` reports the style controls, every render route takes a request's faders, fader layers
and noise amount, the response and the sidecar carry them, and one request's style never reaches the
next request's sound. The style model is a tiny untrained release (built like ``tests/test_style.py``'s
``write_tiny_style_release``) in a runs folder; wavegan stands for the families without style controls."""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from tests.conftest import SR, synth_hit, write_tiny_style_release

pytest.importorskip("fastapi", reason="the web extra (fastapi) is not installed")
from tests.test_web_api import audio_of, make_client, post  # noqa: E402

from drumsynth.inference.session import shipped_models  # noqa: E402
from drumsynth.models import build_family_config  # noqa: E402
from drumsynth.web.app import create_app  # noqa: E402
from drumsynth.web.catalog import Catalog  # noqa: E402
from drumsynth.web.store import RenderStore  # noqa: E402

KEY = "run:style/release.pt"  # the catalog's key of runs/style/release.pt
SLIDERS = [1.0, 0.0, 0.0]  # kick, snare, cymbal: the tiny preset's 3-class view
FADERS = build_family_config("style", "tiny").pca.faders
N_LAYERS = len(build_family_config("style", "tiny").model.channels)  # the constant's layer and one per block
PLAIN = {"faders": [0.0] * FADERS, "fader_layers": "all", "noise": [1.0] * N_LAYERS}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("runs")
    write_tiny_style_release(root / "style" / "release.pt")
    return root


@pytest.fixture(scope="module")
def client(runs, tmp_path_factory):
    root = tmp_path_factory.mktemp("web-style")
    with make_client(root, runs=runs) as test_client:  # the shipped models and the tiny style run
        test_client.root = root
        yield test_client


def ok(response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


def with_style(body: dict, style: dict | None) -> dict:
    return body if style is None else {**body, "style": style}


def generate(client, style: dict | None = None, seed: int = 3) -> dict:
    return ok(post(client, "/api/generate", with_style({"model": KEY, "sliders": SLIDERS, "seed": seed}, style)))


def vary(client, center: list[float], style: dict | None = None, who: str = "tester", intensity: float = 0.5) -> dict:
    body = {"model": KEY, "sliders": SLIDERS, "center": center, "direction_seed": 1, "intensity": intensity}
    return ok(post(client, "/api/vary", with_style(body, style), who))


def sound(client, meta: dict) -> bytes:
    """A render's samples as bytes, to compare sounds (the WAV files differ in their metadata)."""
    return audio_of(client, meta).tobytes()


def sidecar(client, meta: dict) -> dict:
    return json.loads((client.root / "out" / meta["name"]).with_suffix(".json").read_text())


def style_state(faders=(), layers: str = "all", noise: float = 1.0) -> dict:
    """The style state a request's ``style`` should leave: the faders not given are 0."""
    return {"faders": [*map(float, faders), *[0.0] * (FADERS - len(faders))], "fader_layers": layers,
            "noise": [float(noise)] * N_LAYERS}


# ---- /api/model ---------------------------------------------------------------------------------------


def test_the_model_description_reports_style_controls_for_a_style_model_only(client):
    info = ok(client.get("/api/model", params={"key": KEY}))
    assert info["family"] == "style" and info["classes"] == ["kick", "snare", "cymbal"]
    assert info["style"] == {"faders": FADERS, "layer_groups": ["all", "low", "mid", "high"], "n_layers": N_LAYERS}
    assert info["pad"] is False  # the page uses the plane, as for drumgan
    for key in ("ndm", "wavegan"):
        if key in shipped_models():
            assert ok(client.get("/api/model", params={"key": key}))["style"] is None, key


# ---- renders with style controls ----------------------------------------------------------------------


def test_a_fader_changes_the_sound_and_the_render_and_sidecar_carry_the_style(client):
    plain = generate(client)
    assert plain["style"] == PLAIN and sidecar(client, plain)["style"] == PLAIN
    moved = generate(client, {"faders": [0.0, 2.0]})
    assert moved["style"] == style_state([0.0, 2.0]) and sidecar(client, moved)["style"] == moved["style"]
    assert moved["center"] == plain["center"]  # the faders move the styles, not the latent
    assert not np.allclose(audio_of(client, moved), audio_of(client, plain), atol=1e-3)
    # the same request, the same sound: the faders are all the state a render needs
    assert sound(client, generate(client, {"faders": [0.0, 2.0]})) == sound(client, moved)


def test_layers_and_noise_each_change_the_sound(client):
    center = generate(client)["center"]
    renders = {
        "all": vary(client, center, {"faders": [1.5]}),
        "low": vary(client, center, {"faders": [1.5], "layers": "low"}),
        "high": vary(client, center, {"faders": [1.5], "layers": "high"}),
        "layer 2": vary(client, center, {"faders": [1.5], "layers": "2"}),
        "no noise": vary(client, center, {"faders": [1.5], "noise": 0.0}),
        "noisy": vary(client, center, {"faders": [1.5], "noise": 3.0}),
    }
    assert len({sound(client, meta) for meta in renders.values()}) == len(renders)
    assert renders["low"]["style"] == style_state([1.5], "low")
    assert renders["layer 2"]["style"]["fader_layers"] == "2"
    assert sidecar(client, renders["no noise"])["style"] == style_state([1.5], noise=0.0)


def test_one_request_s_style_never_reaches_the_next_request_s_sound(client):
    center = generate(client, seed=11)["center"]
    styled_body = {"faders": [2.0, -1.0, 0.5], "layers": "mid", "noise": 0.2}
    before = vary(client, center, who="page-b")
    styled = vary(client, center, styled_body, who="page-a")
    after = vary(client, center, who="page-b")  # the shared Session was left styled by page-a
    assert sound(client, styled) != sound(client, before)
    assert sound(client, after) == sound(client, before) and after["style"] == PLAIN
    # and page-a's sound does not depend on what page-b sent in between
    assert sound(client, vary(client, center, styled_body, who="page-a")) == sound(client, styled)
    assert sound(client, vary(client, center, {**styled_body, "noise": 1.0}, who="page-a")) != sound(client, styled)
    # every route sets the whole state: a plane request without style after a styled one is plain too
    plane = {"model": KEY, "sliders": SLIDERS, "center": center, "direction_seed": 1, "x": 0.5, "y": 0.0}
    assert sound(client, ok(post(client, "/api/plane", {**plane, "style": styled_body}))) == sound(client, styled)
    assert sound(client, ok(post(client, "/api/plane", plane))) == sound(client, before)  # vary(a) = plane(a, 0)


def test_morph_and_variations_render_with_the_request_s_style(client):
    a, b = generate(client, seed=1), generate(client, seed=2)
    body = {"a": a["id"], "b": b["id"], "t": 0.5}
    plain = ok(post(client, "/api/morph", body))
    styled = ok(post(client, "/api/morph", {**body, "style": {"faders": [0.0, 0.0, 2.5]}}))
    assert plain["style"] == PLAIN and styled["style"] == style_state([0.0, 0.0, 2.5])
    assert sound(client, styled) != sound(client, plain) and styled["latent"] == plain["latent"]
    again = ok(post(client, "/api/morph", body))
    assert sound(client, again) == sound(client, plain)
    varied = ok(post(client, "/api/variations", {"id": a["id"], "n": 2, "seed": 4, "style": {"faders": [-2.0]}}))
    hits = varied["variations"]
    assert all(h["style"] == style_state([-2.0]) and sidecar(client, h)["style"] == h["style"] for h in hits)
    unstyled = ok(post(client, "/api/variations", {"id": a["id"], "n": 2, "seed": 4}))["variations"]
    assert [h["latent"] for h in unstyled] == [h["latent"] for h in hits]
    assert all(u["style"] == PLAIN and sound(client, u) != sound(client, h) for u, h in zip(unstyled, hits))


def test_analyze_takes_the_style_as_a_query_parameter(client):
    upload = io.BytesIO()
    sf.write(upload, synth_hit("kick", seed=2), SR, format="WAV", subtype="PCM_16")

    def analyze(**style):
        params = {"client": "t", "model": KEY, "name": "kick.wav", "sliders": "1,0,0", **style}
        return client.post("/api/analyze", params=params, content=upload.getvalue(),
                           headers={"content-type": "audio/wav"})

    plain = ok(analyze())
    styled = ok(analyze(style=json.dumps({"faders": [2.0], "noise": 0.5})))
    assert plain["style"] == PLAIN and styled["style"] == style_state([2.0], noise=0.5)
    assert styled["center"] == plain["center"] and sound(client, styled) != sound(client, plain)
    for bad in ("{", json.dumps({"faders": [20]}), json.dumps({"noise": -1}), json.dumps([1, 2])):
        response = analyze(style=bad)
        assert response.status_code == 422 and "style" in response.json()["error"], (bad, response.text)
    assert sound(client, ok(analyze())) == sound(client, plain)


# ---- refused ------------------------------------------------------------------------------------------


def test_style_on_a_model_without_style_controls_is_a_400_that_says_so(client):
    if "wavegan" not in shipped_models():
        pytest.skip("no shipped wavegan model")
    body = {"model": "wavegan", "sliders": [1, 0, 0], "seed": 2}
    plain = ok(post(client, "/api/generate", body))
    assert "style" not in plain and "style" not in sidecar(client, plain)
    for style in ({"faders": [1.0]}, {}, {"noise": 1.0}):  # any style field, even one of defaults
        response = post(client, "/api/generate", {**body, "style": style})
        assert response.status_code == 400, response.text
        assert "wavegan models have no style controls" in response.json()["error"]
    vary_body = {"model": "wavegan", "sliders": [1, 0, 0], "center": plain["center"], "intensity": 0.0,
                 "style": {"faders": [1.0]}}
    response = post(client, "/api/vary", vary_body)
    assert response.status_code == 400 and "no style controls" in response.json()["error"]
    response = post(client, "/api/variations", {"id": plain["id"], "style": {"layers": "low"}})
    assert response.status_code == 400 and "no style controls" in response.json()["error"]


@pytest.mark.parametrize("style,status,message", [
    ({"faders": [float("nan")]}, 422, "style.faders"),
    ({"faders": [float("inf")]}, 422, "style.faders"),
    ({"faders": [10.5]}, 422, "style.faders"),
    ({"faders": [-11]}, 422, "style.faders"),
    ({"faders": [0.0] * 65}, 422, "style.faders"),
    ({"faders": "1,2"}, 422, "style.faders"),
    ({"noise": -0.1}, 422, "style.noise"),
    ({"noise": 10.5}, 422, "style.noise"),
    ({"noise": float("nan")}, 422, "style.noise"),
    ({"layers": "top"}, 422, "style.layers"),
    ({"layers": ""}, 422, "style.layers"),
    ({"layers": "all; rm -rf /"}, 422, "style.layers"),
    ({"gain": 2.0}, 422, "style.gain"),
    ("loud", 422, "style"),
    ({"faders": [1.0], "layers": "99"}, 400, "layer index"),
    ({"faders": [0.5] * (FADERS + 1)}, 400, f"this model has {FADERS} style faders"),
])
def test_bad_style_values_are_refused_with_a_message_and_the_server_keeps_serving(client, style, status, message):
    body = {"model": KEY, "sliders": SLIDERS, "seed": 3}
    plain = generate(client)
    response = post(client, "/api/generate", {**body, "style": style})
    assert response.status_code == status and message in response.json()["error"], response.text
    assert sound(client, generate(client)) == sound(client, plain)


# ---- the page -----------------------------------------------------------------------------------------


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def test_the_style_panel_in_the_browser_re_renders_and_hides_for_other_families(runs, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright (pip) is not installed")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip("Debian's chromium is not installed (apt-get install chromium); .ci/run installs it")
    from drumsynth.web.server import serve_in_thread

    running = serve_in_thread(create_app(Catalog(runs, default=KEY), RenderStore(tmp_path / "out")))
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM)
            page = browser.new_page(viewport={"width": 1360, "height": 900})
            crashes: list[str] = []
            page.on("pageerror", lambda err: crashes.append(str(err)))
            page.set_default_timeout(30_000)
            page.goto(running.url)
            page.wait_for_function("() => window.drumsynth && window.drumsynth.ready && window.drumsynth.idle()")
            assert page.locator("#style-panel").is_visible()
            faders = page.locator("#style-faders input")
            assert faders.count() == FADERS
            assert page.locator("#style-faders span").all_inner_texts() == [f"PC{k + 1}" for k in range(FADERS)]
            assert page.get_attribute("#style-noise", "aria-label") and page.input_value("#style-noise") == "1"

            def moved(action) -> dict:
                before = page.evaluate("() => [window.drumsynth.state.renders, document.body.dataset.sha]")
                action()
                page.wait_for_function(f"() => window.drumsynth.state.renders > {before[0]} && window.drumsynth.idle()")
                meta = page.evaluate("() => window.drumsynth.state.current.meta")
                assert meta["sha256"] != before[1] and page.evaluate("() => document.body.dataset.sha") == meta["sha256"]
                return meta

            fader = moved(lambda: faders.nth(1).fill("1.5"))
            assert fader["style"] == style_state([0.0, 1.5]) and fader["verb"] in ("vary", "plane")
            layers = moved(lambda: page.select_option("#style-layers", "high"))
            assert layers["style"]["fader_layers"] == "high" and layers["style"]["faders"][1] == 1.5
            noise = moved(lambda: page.locator("#style-noise").fill("0"))
            assert noise["style"]["noise"] == [0.0] * N_LAYERS
            generated = moved(lambda: page.click("#generate"))  # Generate keeps the style
            assert generated["style"] == noise["style"]
            kick = tmp_path / "kick.wav"
            sf.write(kick, synth_hit("kick"), SR, subtype="PCM_16")
            analyzed = moved(lambda: page.set_input_files("#file", str(kick)))  # so does Analyze
            assert analyzed["source"] == "kick.wav" and analyzed["style"] == noise["style"]
            if "ndm" in shipped_models():  # another family: the panel goes, and its renders carry no style
                page.select_option("#model", "ndm")
                page.wait_for_function("() => window.drumsynth.state.current.meta.model === 'ndm' "
                                       "&& window.drumsynth.idle()")
                assert not page.locator("#style-panel").is_visible()
                assert "style" not in page.evaluate("() => window.drumsynth.state.current.meta")
            assert not crashes and page.evaluate("() => window.drumsynth.errors") == []
            browser.close()
    finally:
        running.stop()
