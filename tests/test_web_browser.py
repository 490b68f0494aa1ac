"""The web instrument in a real browser: Playwright driving Debian's Chromium (``apt-get install chromium``;
``.ci/run`` installs it). Playwright's own browser download is never used.

One page goes through a producer's session: the pad, a class fader, Generate, Analyze (a real corpus
recording when the free drum corpus is installed), play, crop, download, morph, per-hit variation, the
sequencer for a bar and its loop export, and bad uploads after which the page still works. Every
action must bring new audio into the page (the SHA-256 the page computes over the WAV bytes it
fetched changes). With ``DRUMSYNTH_SCREENSHOT=<path>`` the screenshot is also copied there (how
docs/web-screenshot.png is made); otherwise it goes under tmp_path only.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from tests.conftest import SR, synth_hit

pytest.importorskip("fastapi", reason="the web extra (fastapi) is not installed")
playwright = pytest.importorskip("playwright.sync_api", reason="playwright (pip) is not installed")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not os.access(CHROMIUM, os.X_OK):
    pytest.skip("Debian's chromium is not installed (apt-get install chromium); .ci/run installs it",
                allow_module_level=True)

CORPUS_KICK = Path("/usr/share/hydrogen/data/drumkits/ForzeeStereo/Kick-1.wav")
STEP_TIMEOUT = 30_000  # ms for one render to arrive; a cold model load on a busy 2-core machine


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from drumsynth.web.app import create_app
    from drumsynth.web.catalog import Catalog
    from drumsynth.web.server import serve_in_thread
    from drumsynth.web.store import RenderStore

    out = tmp_path_factory.mktemp("web-out")
    running = serve_in_thread(create_app(Catalog(None), RenderStore(out)))
    yield running, out
    running.stop()


@pytest.fixture(scope="module")
def page(server):
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--autoplay-policy=no-user-gesture-required"])
        context = browser.new_context(viewport={"width": 1360, "height": 860}, accept_downloads=True)
        page = context.new_page()
        page.crashes: list[str] = []
        page.on("pageerror", lambda err: page.crashes.append(str(err)))
        page.set_default_timeout(STEP_TIMEOUT)
        page.goto(server[0].url)
        page.wait_for_function("() => window.drumsynth && window.drumsynth.ready")
        yield page
        browser.close()


def state(page, expression: str):
    return page.evaluate(f"() => {expression}")


def sound_sha(page) -> str:
    return state(page, "document.body.dataset.sha")


def renders(page) -> int:
    return state(page, "window.drumsynth.state.renders")


def new_audio(page, action, before_sha: str | None = None) -> dict:
    """Run ``action`` and wait for the next render to be current; returns its metadata.

    Asserts the audio changed: the page's own SHA-256 of the WAV bytes it fetched differs from before.
    """
    before = renders(page)
    before_sha = before_sha or sound_sha(page)
    action()
    page.wait_for_function(f"() => window.drumsynth.state.renders > {before} && window.drumsynth.idle()")
    meta = state(page, "window.drumsynth.state.current.meta")
    sha = sound_sha(page)
    assert sha != before_sha, "the action brought no new audio"
    assert sha == meta["sha256"], "the bytes the page hashed are not the file the server wrote"
    assert not page.crashes, page.crashes
    return meta


def drag(page, selector: str, start: tuple[float, float], end: tuple[float, float], steps: int = 8) -> None:
    """A mouse drag across an element, in fractions of its box."""
    box = page.locator(selector).bounding_box()
    at = lambda f: (box["x"] + f[0] * box["width"], box["y"] + f[1] * box["height"])  # noqa: E731
    page.mouse.move(*at(start))
    page.mouse.down()
    page.mouse.move(*at(end), steps=steps)
    page.mouse.up()


def wav_bytes(wave: np.ndarray, sr: int = SR) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, wave, sr, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def test_a_session_in_the_browser(page, server, tmp_path):
    started = time.monotonic()
    first = sound_sha(page)
    assert first and state(page, "window.drumsynth.errors.length") == 0
    info = state(page, "window.drumsynth.state.info")
    assert info["family"] == "ndm" and info["pad"] is True  # the default model and its NDM pad
    assert page.locator("#pad-mode").is_visible() and page.locator("#fine").is_visible()
    # the sequencer starts with one sound per lane, each a different file
    lanes = state(page, "window.drumsynth.seq.lanes.map(l => l.id)")
    assert len(lanes) == 4 and all(lanes) and len(set(lanes)) == 4

    # the XY pad (PCA mode, the Neural Drum Machine's controls)
    pad_meta = new_audio(page, lambda: drag(page, "#pad", (0.5, 0.5), (0.8, 0.25)))
    assert pad_meta["verb"] == "controls"
    # a class fader: the render is decoded with the new class weights
    fader = new_audio(page, lambda: page.locator('input[data-cls="snare"]').fill("0.6"))
    assert fader["labels"]["snare"] == pytest.approx(0.6) and fader["verb"] in ("vary", "plane")
    # Generate: a new centre
    generated = new_audio(page, lambda: page.click("#generate"))
    assert generated["verb"] == "vary" and len(generated["center"]) == info["latent_dim"]
    # Analyze: a real recording when the corpus is installed, else a synthetic hit
    sample = CORPUS_KICK if CORPUS_KICK.is_file() else tmp_path / "synthetic-kick.wav"
    if not sample.exists():
        sample.write_bytes(wav_bytes(synth_hit("kick")))
    analyzed = new_audio(page, lambda: page.set_input_files("#file", str(sample)))
    assert analyzed["source"] == sample.name and analyzed["center"] != generated["center"]
    assert state(page, "window.drumsynth.state.padMode") == "plane"  # the pad now moves around it
    planed = new_audio(page, lambda: drag(page, "#pad", (0.5, 0.5), (0.3, 0.7)))
    assert planed["verb"] == "plane"
    # Variation intensity (a knob: drag up) and Change direction
    varied = new_audio(page, lambda: drag(page, "#intensity svg", (0.5, 0.5), (0.5, -0.5)))
    assert varied["verb"] == "vary" and state(page, "window.drumsynth.state.lastNav") == "vary"
    turned = new_audio(page, lambda: page.click("#direction"))
    assert turned["verb"] == "vary" and turned["latent"] != varied["latent"]
    # a sound dropped on Analyze, as from a file manager
    dropped_wav = wav_bytes(synth_hit("snare", seed=3))
    dropped = new_audio(page, lambda: page.dispatch_event("#drop", "drop", {"dataTransfer": page.evaluate_handle(
        "(bytes) => { const dt = new DataTransfer(); "
        "dt.items.add(new File([new Uint8Array(bytes)], 'dropped.wav', {type: 'audio/wav'})); return dt; }",
        list(dropped_wav))}))
    assert dropped["source"] == "dropped.wav"

    # play: the space bar and the button both play through the page's audio graph
    plays = state(page, "window.drumsynth.plays")
    state(page, "window.drumsynth.peak(true)")
    page.locator("body").press("Space")
    page.click("#play")
    page.wait_for_function(f"() => window.drumsynth.plays >= {plays + 2}")
    page.wait_for_timeout(400)
    assert state(page, "window.drumsynth.peak()") > 0.01, "playing made no sound on the master bus"

    # crop: drag a region on the waveform, then keep it
    before = state(page, "window.drumsynth.state.current.meta")
    drag(page, "#wave", (0.1, 0.5), (0.5, 0.5))
    page.wait_for_function("() => !document.getElementById('crop').disabled")
    cropped = new_audio(page, lambda: page.click("#crop"))
    assert cropped["cropped_from"] == before["id"] and cropped["seconds"] < before["seconds"]

    # download: the file the page offers is the current sound, byte for byte
    with page.expect_download() as download:
        page.click("#download")
    data = Path(download.value.path()).read_bytes()
    assert hashlib.sha256(data).hexdigest() == cropped["sha256"] and data[:4] == b"RIFF"

    # drag-out: the WAV's address for the desktop or a DAW (Chromium's DownloadURL)
    dragged = state(page, "(() => { const dt = new DataTransfer(); document.getElementById('dragout')"
                          ".dispatchEvent(new DragEvent('dragstart', {dataTransfer: dt, bubbles: true})); "
                          "return dt.getData('DownloadURL'); })()")
    assert dragged == f"audio/wav:{cropped['name']}:{server[0].url.rstrip('/')}{cropped['url']}"

    # the history: back to an earlier sound (no new render: the page has it)
    chip = page.locator("#history .chip").nth(2)
    earlier = chip.get_attribute("data-id")
    count = renders(page)
    chip.click()
    assert sound_sha(page) == state(page, f"window.drumsynth.sounds.get('{earlier}').sha") and renders(page) == count
    assert state(page, "window.drumsynth.state.padMode") == "plane"  # and the plane is centred on it

    # morph A/B: two sounds, then the crossfader between them
    page.click("#set-a")
    new_audio(page, lambda: page.click("#generate"))
    page.click("#set-b")
    morphed = new_audio(page, lambda: page.locator("#morph-t").fill("0.3"))
    assert morphed["verb"] == "morph" and morphed["morph"]["t"] == pytest.approx(0.3)
    linear = new_audio(page, lambda: page.click('#morph-mode button[data-mode="lerp"]'))
    assert linear["morph"]["mode"] == "lerp"

    # lanes: 4 to 8
    page.click("#lane-add")
    assert page.locator(".lane").count() == 5
    page.click("#lane-remove")
    page.click("#lane-remove")  # never fewer than 4
    assert page.locator(".lane").count() == 4

    # per-hit variation on lane 1: four variations, each different audio
    page.locator(".lane-vary").first.click()
    page.wait_for_function("() => window.drumsynth.seq.lanes[0].variants.length === 4")
    variants = state(page, "window.drumsynth.seq.lanes[0].variants.map(id => window.drumsynth.sounds.get(id).sha)")
    assert len(set(variants)) == 4

    # the sequencer for a bar (120 BPM: 2 s), then stop
    state(page, "window.drumsynth.peak(true)")
    page.click("#seq-play")
    page.wait_for_timeout(2300)
    page.click("#seq-play")
    log = state(page, "window.drumsynth.seq.log")
    steps = state(page, "window.drumsynth.seq.lanes.map(l => l.steps)")
    expected = sum(sum(s) for s in steps)
    assert len(log) >= expected, f"{len(log)} hits scheduled in a bar, the pattern has {expected}"
    lane0 = [hit["id"] for hit in log if hit["lane"] == 0]
    assert set(lane0) <= set(state(page, "window.drumsynth.seq.lanes[0].variants")) and len(set(lane0)) > 1
    assert state(page, "window.drumsynth.peak()") > 0.01, "the sequencer made no sound"
    # the loop export: one bar as a WAV, what the page hashed
    with page.expect_download() as download:
        page.click("#export-loop")
    loop = Path(download.value.path()).read_bytes()
    wave, sr = sf.read(io.BytesIO(loop))
    assert hashlib.sha256(loop).hexdigest() == state(page, "window.drumsynth.lastLoop.sha")
    assert sr == 44100 and len(wave) == round(60 / 120 * 4 * 44100) and np.abs(wave).max() > 0.05

    # the kit: the lanes' sounds as SFZ + Hydrogen, lane 1 with its sound and four variations
    with page.expect_download() as download:
        page.click("#export-kit")
    with zipfile.ZipFile(download.value.path()) as kit:
        names = [Path(n).name for n in kit.namelist()]
    assert {"kit.sfz", "drumkit.xml", "kit.json"} <= set(names)
    assert sum(n.endswith(".wav") for n in names) == 5 + 3  # lane 1: 1 + 4 variations; lanes 2-4: 1 each

    # bad uploads: a visible error each, and the page keeps working
    errors = state(page, "window.drumsynth.errors.length")
    notes = tmp_path / "notes.txt"
    notes.write_text("not a sound")
    page.set_input_files("#file", str(notes))
    page.wait_for_function(f"() => window.drumsynth.errors.length > {errors}")
    assert page.locator("#error").is_visible() and "not an audio file" in page.inner_text("#error-text")
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF\x00\x00not really a wav file")
    page.set_input_files("#file", str(broken))
    page.wait_for_function(f"() => window.drumsynth.errors.length > {errors + 1}")
    assert "cannot decode" in page.inner_text("#error-text")
    page.click("#error-close")
    assert not page.locator("#error").is_visible()
    # back to the Neural Drum Machine's pad: the class menu picks the class its PCA spans
    page.click('#pad-mode button[data-mode="pca"]')
    page.wait_for_function("() => window.drumsynth.idle()")
    menu = new_audio(page, lambda: page.select_option("#class-menu", "hihat_open"))
    assert menu["class"] == "hihat_open" and menu["verb"] == "controls"
    new_audio(page, lambda: drag(page, "#pad", (0.5, 0.5), (0.62, 0.35)))
    page.focus("#fine")  # the Fine knob (P3) from the keyboard
    fine = new_audio(page, lambda: page.keyboard.press("Shift+ArrowUp"))
    assert fine["verb"] == "controls"

    shot = tmp_path / "web-screenshot.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 20_000
    if os.environ.get("DRUMSYNTH_SCREENSHOT"):
        shutil.copyfile(shot, os.environ["DRUMSYNTH_SCREENSHOT"])
    assert not page.crashes, page.crashes
    assert time.monotonic() - started < 120


def test_switching_to_drumgan_hides_the_pad_controls_it_lacks(page):
    if "drumgan" not in state(page, "[...document.getElementById('model').options].map(o => o.value)"):
        pytest.skip("no shipped drumgan model")
    before = renders(page)
    page.select_option("#model", "drumgan")
    page.wait_for_function(f"() => window.drumsynth.state.model === 'drumgan' && window.drumsynth.state.renders > {before}")
    assert not page.locator("#pad-mode").is_visible() and not page.locator("#fine").is_visible()
    assert page.locator("#faders input").count() == 3
    sample = CORPUS_KICK if CORPUS_KICK.is_file() else None
    if sample is not None:  # drumgan's Analyze sets the sliders from its own class estimate
        meta = new_audio(page, lambda: page.set_input_files("#file", str(sample)))
        faders = [float(v) for v in page.locator("#faders input").evaluate_all("els => els.map(e => e.value)")]
        assert faders == pytest.approx(meta["sliders"], abs=0.01) and max(faders) == faders[0]  # a kick
    assert not page.crashes, page.crashes
