"""The Session on the shipped default model: determinism, options, class weights, encode, files."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from drumsynth.errors import DrumsynthError
from drumsynth.inference.session import Session, shipped_models

pytestmark = pytest.mark.skipif(not shipped_models(), reason="no model shipped in src/drumsynth/pretrained")


@pytest.fixture(scope="module")
def session():
    return Session.load(None)


def test_same_seed_same_audio_and_different_seed_different(session):
    cls = session.classes[0]
    a = session.generate(cls, n=2, seed=5)
    b = session.generate(cls, n=2, seed=5)
    c = session.generate(cls, n=2, seed=6)
    assert np.array_equal(a.waves, b.waves) and not np.array_equal(a.waves, c.waves)
    assert np.all(np.isfinite(a.waves)) and np.max(np.abs(a.waves)) > 0


def test_class_weights_accept_names_indices_and_mixes(session):
    n = len(session.classes)
    assert torch.equal(session.class_weights(session.classes[1], 1)[0], torch.eye(n)[1])
    assert torch.equal(session.class_weights(1, 1)[0], torch.eye(n)[1])
    mix = [0.5, 0.5] + [0.0] * (n - 2)
    assert session.generate(mix, n=1, seed=0).waves.shape[0] == 1
    for bad in ("cowbell", n, [1.0]):
        with pytest.raises(DrumsynthError):
            session.class_weights(bad, 1)


def test_options_are_declared_by_the_model(session):
    with pytest.raises(DrumsynthError, match="no option 'volume'"):
        session.set_option("volume", "11")
    options = getattr(session.model, "OPTIONS", {})
    for key, values in options.items():
        with pytest.raises(DrumsynthError, match="not one of"):
            session.set_option(key, "nonsense")
        fresh = Session.load(None)
        fresh.set_option(key, values[-1])
        assert f"{key}={values[-1]}" in fresh.label


def test_encode_gives_a_latent_and_save_writes_finished_files(session, tmp_path):
    render = session.generate(session.classes[0], n=1, seed=3)
    z = session.encode(render.waves[0], render.sample_rate, session.classes[0])
    assert z.shape == (session.model.latent_dim,) and torch.all(torch.isfinite(z))
    (path,) = session.save(render, tmp_path, out_sr=48000, bit_depth="16")
    data, sr = sf.read(path, dtype="int16")
    assert sr == 48000 and sf.info(path).subtype == "PCM_16"
    assert np.max(np.abs(data)) <= round(32768 * 10 ** (-0.3 / 20))  # -0.3 dBFS peak (soundfile scales by 2^15)
    assert data[-1] == 0  # faded out to silence
    sidecar = json.loads(path.with_suffix(".json").read_text())
    assert sidecar["sample_rate"] == 48000 and sidecar["seed"] == 3 and len(sidecar["latent"]) == len(z)


def test_xy_pad_controls_and_crop(session):
    if not hasattr(session.model, "latent_from_controls"):
        pytest.skip(f"{session.family} has no XY pad")
    cls = session.classes[0]
    centre = session.controls(cls, p1=0.0, p2=0.0)
    assert np.array_equal(centre.waves, session.controls(cls, p1=0.0, p2=0.0).waves)
    moved = session.controls(cls, p1=0.8, p2=-0.8, p3=0.5)
    assert not np.array_equal(centre.waves, moved.waves)
    assert moved.provenance["controls"] == {"x": 0.8, "y": -0.8, "fine": 0.5, "range_std": 2.0}
    half = session.crop(moved, 0.0, 0.5)
    assert half.waves.shape[-1] == round(0.5 * moved.waves.shape[-1])
    assert half.waves[0, -1] == 0.0  # faded where it was cut
    with pytest.raises(DrumsynthError, match=r"x must be in \[-1, 1\]"):
        session.controls(cls, p1=1.5)
    with pytest.raises(DrumsynthError, match="crop needs"):
        session.crop(moved, 0.6, 0.2)
