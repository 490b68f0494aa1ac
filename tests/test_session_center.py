"""Session.set_center and Session.morph_latents: what the web page's stateless requests call."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from drumsynth.errors import DrumsynthError
from drumsynth.inference import latent as nav
from drumsynth.inference.session import Session, shipped_models


@pytest.fixture(scope="module")
def ndm() -> Session:
    if "ndm" not in shipped_models():
        pytest.skip("no shipped ndm model")
    return Session.load("ndm")


def test_a_given_centre_decodes_like_the_drawn_one(ndm):
    ndm.set_sliders("snare")
    drawn = ndm.new_center(11).clone()
    ndm.new_direction(3)
    before = ndm.plane(0.4, -0.2)
    ndm.new_center(99)  # another page moved the shared session elsewhere
    assert torch.equal(ndm.set_center(drawn.tolist()), drawn)  # a list, as JSON brings it
    assert ndm.center_source == "given" and ndm.center_seed is None
    assert np.array_equal(ndm.plane(0.4, -0.2).waves, before.waves)
    assert torch.equal(ndm.set_center(drawn.numpy()), drawn)


@pytest.mark.parametrize("bad", [[1.0] * 63, [[0.0] * 64] * 2, ["a"] * 64, [float("nan")] * 64, [2e3] * 64,
                                 "0" * 64, None])
def test_a_bad_centre_is_refused_and_the_old_one_stays(ndm, bad):
    ndm.set_sliders("kick")
    center = ndm.new_center(1).clone()
    with pytest.raises(DrumsynthError):
        ndm.set_center(bad)
    assert torch.equal(ndm.z_center, center)


def test_morph_latents_ends_are_the_renders_and_weights_are_mixed(ndm):
    kick = ndm.generate("kick", seed=1)
    snare = ndm.generate("snare", seed=2)
    a, b = (kick.latents[0], kick.labels[0]), (snare.latents[0], snare.labels[0])
    start = ndm.morph_latents(a, b, 0.0, method="lerp")
    assert np.allclose(start.waves, kick.waves, atol=1e-5)
    end = ndm.morph_latents(a, b, 1.0)
    assert torch.allclose(end.latents[0], snare.latents[0], atol=1e-4)
    mid = ndm.morph_latents(a, b, 0.25, method="slerp")
    assert torch.allclose(mid.latents[0], nav.slerp(a[0], b[0], 0.25), atol=1e-6)
    assert torch.allclose(mid.labels[0], 0.75 * a[1] + 0.25 * b[1])
    assert mid.provenance["verb"] == "morph" and mid.provenance["params"] == {"t": 0.25, "method": "slerp"}
    for t in (-0.5, 1.01, float("inf")):
        with pytest.raises(DrumsynthError, match="morph t"):
            ndm.morph_latents(a, b, t)
    with pytest.raises(DrumsynthError, match="z must be"):
        ndm.morph_latents((torch.zeros(3), a[1]), b, 0.5)
    with pytest.raises(DrumsynthError, match="class weights"):
        ndm.morph_latents(a, (b[0], torch.ones(3)), 0.5)
