"""DrumGAN VST's latent navigation: directions, plane, vary, analyze, sliders, and the encode/vary verbs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from conftest import SR, synth_hit
from drumsynth.cli.main import main
from drumsynth.errors import DrumsynthError
from drumsynth.inference import latent
from drumsynth.inference.session import Session, shipped_models

needs_ndm = pytest.mark.skipif("ndm" not in shipped_models(), reason="no shipped ndm model")


# ---- pure functions ----------------------------------------------------------------------------------


@pytest.mark.parametrize("dim", [2, 3, 8, 32, 128])
def test_orthonormal_pair_is_orthonormal_and_seeded(dim):
    for seed in range(5):
        e1, e2 = latent.orthonormal_pair(dim, torch.Generator().manual_seed(seed))
        assert e1.shape == e2.shape == (dim,) and e1.dtype == torch.float32
        assert abs(float(e1 @ e2)) < 1e-6
        assert abs(float(e1.norm()) - 1) < 1e-6 and abs(float(e2.norm()) - 1) < 1e-6
        again = latent.orthonormal_pair(dim, torch.Generator().manual_seed(seed))
        assert torch.equal(e1, again[0]) and torch.equal(e2, again[1])
        # e1 is the random direction of the same generator state
        assert torch.equal(e1, latent.random_direction(dim, torch.Generator().manual_seed(seed)))
    other = latent.orthonormal_pair(dim, torch.Generator().manual_seed(99))
    assert not torch.equal(e1, other[0])


def test_plane_lerp_and_slerp_values():
    c, e1, e2 = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 1.0, 0.0])
    assert torch.equal(latent.plane_point(c, e1, e2, 2.0, -1.0), torch.tensor([3.0, 1.0, 3.0]))
    assert torch.equal(latent.plane_point(c, e1, e2, 0.0, 0.0), c)
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    assert torch.equal(latent.lerp(a, b, 0.25), torch.tensor([0.75, 0.25]))
    assert torch.allclose(latent.slerp(a, b, 0.0), a) and torch.allclose(latent.slerp(a, b, 1.0), b)
    # Halfway round the quarter circle: unit norm, unlike the lerp midpoint.
    assert torch.allclose(latent.slerp(a, b, 0.5), torch.tensor([1.0, 1.0]) / math.sqrt(2))
    # Parallel vectors have no plane to rotate in: slerp falls back to lerp.
    assert torch.allclose(latent.slerp(a, 3 * a, 0.5), 2 * a)
    rows = latent.slerp(torch.stack([a, a]), torch.stack([b, 2 * a]), 0.5)
    assert torch.allclose(rows, torch.stack([(a + b) / math.sqrt(2), 1.5 * a]))


def test_slerp_and_lerp_hit_the_ends_and_slerp_keeps_unit_norms():
    """``drumsynth morph``'s paths: both start at a and end at b for any latents; between unit vectors
    slerp stays on the sphere (lerp cuts through it), in the dimensions the families use."""
    g = torch.Generator().manual_seed(4)
    for dim in (3, 64, 100, 128):
        a, b = torch.randn(5, dim, generator=g), torch.randn(5, dim, generator=g)
        for path in (latent.slerp, latent.lerp):
            assert torch.allclose(path(a, b, 0.0), a, atol=1e-6) and torch.allclose(path(a, b, 1.0), b, atol=1e-6)
        ua, ub = a / a.norm(dim=1, keepdim=True), b / b.norm(dim=1, keepdim=True)
        for t in (0.1, 0.25, 0.5, 0.9):
            assert torch.allclose(latent.slerp(ua, ub, t).norm(dim=1), torch.ones(5), atol=1e-6)
        assert torch.all(latent.lerp(ua, ub, 0.5).norm(dim=1) < 1.0 - 1e-3)


def test_latent_helpers_reject_bad_input():
    g = torch.Generator().manual_seed(0)
    for bad_dim in (1, 0, -3, 2.5, True):
        with pytest.raises(DrumsynthError, match="latent dimension"):
            latent.orthonormal_pair(bad_dim, g)
    v = torch.zeros(4)
    with pytest.raises(DrumsynthError, match="NaN or infinite"):
        latent.plane_point(torch.full((4,), math.nan), v, v, 0.0, 0.0)
    with pytest.raises(DrumsynthError, match="shapes must match"):
        latent.plane_point(v, torch.zeros(5), v, 0.0, 0.0)
    with pytest.raises(DrumsynthError, match="y must be finite"):
        latent.plane_point(v, v, v, 0.0, math.inf)
    with pytest.raises(DrumsynthError, match="shapes must match"):
        latent.lerp(v, torch.zeros(3), 0.5)
    with pytest.raises(DrumsynthError, match="t must be finite"):
        latent.slerp(v, v, math.nan)


# ---- the Session on the shipped ndm model ------------------------------------------------------------


@pytest.fixture(scope="module")
def session():
    if "ndm" not in shipped_models():
        pytest.skip("no shipped ndm model")
    return Session.load("ndm")


@pytest.fixture
def fresh(session):
    """The module's Session with its navigation state cleared (loading is the slow part)."""
    for name in ("sliders", "z_center", "center_source", "center_seed", "e1", "e2", "direction_seed"):
        setattr(session, name, None)
    return session


def test_plane_origin_equals_vary_zero_equals_generate_at_the_centre(fresh):
    fresh.set_sliders("kick")
    z = fresh.new_center(3)
    assert z.shape == (fresh.model.latent_dim,)
    at_zero = fresh.vary(0.0)
    assert np.array_equal(at_zero.waves, fresh.plane(0.0, 0.0).waves)
    assert np.array_equal(at_zero.waves, fresh.generate("kick", z=z[None]).waves)
    assert at_zero.seed == 3
    assert at_zero.provenance["navigation"] == {"intensity": 0.0, "center": "seed 3", "direction_seed": 0}


def test_vary_is_deterministic_and_follows_the_direction_seed(fresh):
    fresh.set_sliders("snare")
    fresh.new_center(1)
    lazy = fresh.vary(1.0)  # directions drawn from seed 0 on first use
    fresh.new_direction(0)
    same = fresh.vary(1.0)
    assert np.array_equal(lazy.waves, same.waves) and torch.equal(lazy.latents, same.latents)
    fresh.new_direction(7)
    other = fresh.vary(1.0)
    assert not np.array_equal(same.waves, other.waves)
    assert torch.allclose(other.latents[0] - fresh.z_center, fresh.e1, atol=1e-6)
    assert other.provenance["navigation"]["direction_seed"] == 7
    assert torch.equal(fresh.vary(0.5).latents, fresh.plane(0.5, 0.0).latents)
    pad = fresh.plane(0.5, -2.0)
    assert torch.allclose(pad.latents[0], fresh.z_center + 0.5 * fresh.e1 - 2.0 * fresh.e2, atol=1e-6)
    assert pad.provenance["navigation"] == {"x": 0.5, "y": -2.0, "center": "seed 1", "direction_seed": 7}


def test_analyze_then_vary_zero_decodes_the_analysed_latent(fresh):
    wave = synth_hit("kick", seed=4)
    fresh.set_sliders("kick")
    result = fresh.analyze(wave, SR)
    assert len(result["latent"]) == fresh.model.latent_dim
    assert result["sliders"]["kick"] == 1.0  # ndm estimates no classes: the sliders stay as set
    z_hat = fresh.encode(wave, SR, "kick")
    assert torch.equal(fresh.z_center, z_hat)
    render = fresh.vary(0.0)
    expected = fresh.model.generate(z_hat[None], fresh.class_weights("kick", 1)).numpy()
    assert np.array_equal(render.waves, expected)
    assert render.seed is None and render.provenance["navigation"]["center"] == "analyze"


def test_sliders_outside_unit_interval_reach_the_model_unclipped(fresh, monkeypatch):
    seen = []

    def spy(z, labels):
        seen.append(labels.clone())
        return torch.zeros(len(z), 64)

    monkeypatch.setattr(fresh.model, "generate", spy)
    weights = [1.5, -0.25] + [0.0] * (len(fresh.classes) - 3) + [2.0]
    assert fresh.set_sliders(weights).tolist() == weights
    fresh.new_center(0)
    fresh.vary(0.3)
    fresh.plane(0.1, 0.2)
    fresh.generate(weights, n=2)
    for labels in seen:
        assert torch.equal(labels.cpu(), torch.tensor(weights).expand(len(labels), -1))


def test_navigation_errors_are_clear(fresh):
    with pytest.raises(DrumsynthError, match="Generate .* or Analyze"):
        fresh.vary(0.5)
    fresh.new_center(0)
    with pytest.raises(DrumsynthError, match="class sliders"):
        fresh.plane(0.0, 0.0)
    for bad in ([math.nan] * len(fresh.classes), [1.0], "cowbell"):
        with pytest.raises(DrumsynthError):
            fresh.set_sliders(bad)
    fresh.set_sliders(0)
    with pytest.raises(DrumsynthError, match="intensity must be finite"):
        fresh.vary(math.inf)


# ---- a model that estimates class weights when it encodes (DrumGAN VST's Analyze) ---------------------


class _AnalysingModel:
    """The family contract plus ``analyze``; generate is a fixed function of (z, labels)."""

    family, sample_rate, classes, latent_dim = "fake", 16000, ("kick", "snare", "cymbal"), 6

    def __init__(self, has_analyze: bool):
        self.encoded_with = []
        if not has_analyze:
            self.analyze = None

    def sample_latent(self, n, generator=None, labels=None):
        return torch.randn(n, self.latent_dim, generator=generator)

    def generate(self, z, labels):
        return torch.tanh(z.sum(1, keepdim=True) + labels.sum(1, keepdim=True) * torch.linspace(0, 1, 32))

    def encode(self, wave, labels):
        self.encoded_with.append(labels)
        return wave[:, :self.latent_dim] * 2

    def analyze(self, wave):
        return wave[:, :self.latent_dim] * 3, torch.tensor([[1.25, -0.5, 0.0]])


def _fake_session(has_analyze: bool) -> Session:
    return Session(_AnalysingModel(has_analyze), checkpoint=Path("fake.pt"), checkpoint_sha256="0" * 64)


def test_analyze_sets_sliders_from_a_models_class_estimate():
    session = _fake_session(has_analyze=True)
    wave = np.linspace(0.1, 0.8, 100, dtype=np.float32)
    result = session.analyze(wave, 16000)
    assert result["sliders"] == {"kick": 1.25, "snare": -0.5, "cymbal": 0.0}
    assert torch.allclose(session.z_center, torch.from_numpy(wave[:6] * 3))
    render = session.vary(0.0)
    assert torch.equal(render.labels, torch.tensor([[1.25, -0.5, 0.0]]))
    assert np.array_equal(render.waves, session.model.generate(session.z_center[None], render.labels).numpy())


def test_analyze_without_an_estimate_encodes_with_the_sliders_and_keeps_them():
    session = _fake_session(has_analyze=False)
    wave = np.linspace(0.1, 0.8, 100, dtype=np.float32)
    assert session.analyze(wave, 16000)["sliders"] == {}
    assert session.model.encoded_with[-1] is None
    session.set_sliders([0.2, 0.0, 1.4])
    assert session.analyze(wave, 16000)["sliders"] == pytest.approx({"kick": 0.2, "snare": 0.0, "cymbal": 1.4})
    assert torch.allclose(session.model.encoded_with[-1], torch.tensor([[0.2, 0.0, 1.4]]))
    assert torch.allclose(session.z_center, torch.from_numpy(wave[:6] * 2))


# ---- the verbs -----------------------------------------------------------------------------------------


@needs_ndm
def test_encode_verb_prints_and_writes_the_latent(tmp_path: Path, capsys):
    path = tmp_path / "kick.wav"
    sf.write(path, synth_hit("kick", seed=2), SR)
    out = tmp_path / "latent.json"
    assert main(["encode", str(path), "--model", "ndm", "--class", "kick", "--out", str(out), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["family"] == "ndm" and payload["file"] == str(path)
    assert len(payload["latent"]) == Session.load("ndm").model.latent_dim
    assert payload["sliders"]["kick"] == 1.0
    assert json.loads(out.read_text()) == payload


@needs_ndm
def test_encode_verb_on_a_broken_file_is_one_line_and_exit_2(tmp_path: Path, capsys):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00not really a wav file")
    assert main(["encode", str(bad), "--model", "ndm"]) == 2
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0 and "cannot read audio file" in err


@needs_ndm
def test_vary_verb_writes_one_hit_per_intensity(tmp_path: Path, capsys):
    out = tmp_path / "vary"
    assert main(["vary", "--model", "ndm", "--seed-center", "3", "--class", "kick", "--intensity", "0", "0.5", "1",
                 "--out", str(out), "--json"]) == 0
    files = json.loads(capsys.readouterr().out)["files"]
    assert [Path(f).name for f in files] == ["ndm_kick_000.wav", "ndm_kick_001.wav", "ndm_kick_002.wav"]
    assert len(list(out.glob("*.wav"))) == 3
    sidecars = [json.loads(Path(f).with_suffix(".json").read_text()) for f in files]
    assert [s["navigation"]["intensity"] for s in sidecars] == [0.0, 0.5, 1.0]
    assert [s["verb"] for s in sidecars] == ["vary"] * 3 and sidecars[2]["params"]["intensity"] == 1.0
    assert all(s["navigation"]["center"] == "seed 3" and s["class"] == "kick" for s in sidecars)
    # intensity 0 is the centre itself: the same latent as generating with seed 3
    assert sidecars[0]["latent"] == Session.load("ndm").generate("kick", seed=3).latents[0].tolist()
    assert main(["vary", "--model", "ndm", "--seed-center", "3", "--intensity", "1", "--out", str(out)]) == 2
    assert "choose --class or --mix" in capsys.readouterr().err


@needs_ndm
def test_generate_mix_writes_files_and_unknown_names_exit_2(tmp_path: Path, capsys):
    assert main(["generate", "--model", "ndm", "--mix", "kick=1", "snare=0.5", "--out", str(tmp_path / "g"),
                 "--json"]) == 0
    (path,) = json.loads(capsys.readouterr().out)["files"]
    labels = json.loads(Path(path).with_suffix(".json").read_text())["labels"]
    assert labels["kick"] == 1.0 and labels["snare"] == 0.5 and sum(labels.values()) == 1.5
    # Weights below 0 and above 1 reach ndm as --help says (they were refused before).
    assert main(["generate", "--model", "ndm", "--mix", "kick=1.5", "snare=-0.5", "--out", str(tmp_path / "g"),
                 "--json"]) == 0
    (path,) = json.loads(capsys.readouterr().out)["files"]
    labels = json.loads(Path(path).with_suffix(".json").read_text())["labels"]
    assert labels["kick"] == 1.5 and labels["snare"] == -0.5 and Path(path).name == "ndm_kick_001.wav"
    for bad, message in ((["bogus=1"], "not one of this model's classes ['kick'"), (["kick"], "NAME=WEIGHT"),
                         (["kick=loud"], "not a finite number"), (["kick=1", "kick=2"], "twice")):
        assert main(["generate", "--model", "ndm", "--mix", *bad, "--out", str(tmp_path / "x")]) == 2
        err = capsys.readouterr().err
        assert err.strip().count("\n") == 0 and message in err
    assert not (tmp_path / "x").exists()
