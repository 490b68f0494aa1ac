"""Session.morph: the latent path between two encoded sounds, on both shipped families."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.conftest import SR, synth_hit

from drumsynth.errors import DrumsynthError
from drumsynth.inference import latent as nav
from drumsynth.inference.session import Session, shipped_models


def _session(family: str) -> Session:
    if family not in shipped_models():
        pytest.skip(f"no shipped {family} model")
    return Session.load(family)


@pytest.mark.parametrize("family", ["ndm", "drumgan"])
def test_morph_ends_are_the_sounds_and_the_middle_is_the_chosen_path(family):
    session = _session(family)
    session.set_sliders("kick")
    a, b = (synth_hit("kick", seed=1), SR), (synth_hit("snare", seed=2), SR)
    session.analyze(*a)
    za, sliders_a = session.z_center.clone(), session.sliders.clone()
    at_a = session.vary(0.0)
    session.set_sliders("kick")
    session.analyze(*b)
    zb = session.z_center.clone()
    session.set_sliders("kick")

    start = session.morph(a, b, 0.0, method="lerp")
    assert torch.allclose(start.latents[0], za, atol=1e-6)
    assert torch.allclose(start.labels[0], sliders_a, atol=1e-6)  # drumgan's estimate of a; ndm's sliders
    assert np.allclose(start.waves, at_a.waves, atol=1e-5)
    assert torch.allclose(session.morph(a, b, 1.0, method="slerp").latents[0], zb, atol=1e-4)

    lerp_mid = session.morph(a, b, 0.5, method="lerp").latents[0]
    slerp_mid = session.morph(a, b, 0.5).latents[0]
    assert torch.allclose(lerp_mid, (za + zb) / 2, atol=1e-5)
    assert torch.allclose(slerp_mid, nav.slerp(za, zb, 0.5), atol=1e-5)
    # slerp keeps the norm between the two ends' norms; the chord's midpoint is shorter
    assert slerp_mid.norm() > lerp_mid.norm()
    assert session.morph(a, b, 0.5).provenance["verb"] == "morph"


def test_morph_refuses_bad_arguments_and_leaves_the_state_alone():
    session = _session("ndm")
    a = (synth_hit("kick"), SR)
    with pytest.raises(DrumsynthError, match="set the class sliders"):
        session.morph(a, a, 0.5)  # ndm estimates no classes and no sliders are set
    session.set_sliders("tom")
    session.new_center(5)
    center = session.z_center.clone()
    for t in (-0.1, 1.5, float("nan"), "0.5"):
        with pytest.raises(DrumsynthError, match="morph t"):
            session.morph(a, a, t)
    with pytest.raises(DrumsynthError, match="method"):
        session.morph(a, a, 0.5, method="cubic")
    with pytest.raises(DrumsynthError, match="NaN"):
        session.morph(a, (np.full(100, np.nan, dtype=np.float32), SR), 0.5)
    session.morph(a, a, 0.3)
    assert torch.equal(session.z_center, center) and session.slider_values()["tom"] == 1.0
