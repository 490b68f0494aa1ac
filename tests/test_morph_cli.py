"""``drumsynth morph`` on the shipped ndm model (and a tiny untrained wavegan): files per step, the
sequence, the path's ends, and the errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from conftest import synth_hit
from drumsynth.audio.io import load_audio
from drumsynth.cli.main import main
from drumsynth.inference import latent as nav
from drumsynth.inference.session import Session, shipped_models

needs_ndm = pytest.mark.skipif("ndm" not in shipped_models(), reason="no shipped ndm model")


def sidecars(folder: Path) -> list[dict]:
    """The sidecars of a morph in path order from t = 0 to t = 1 (file names follow each step's class)."""
    cars = [json.loads(p.read_text()) for p in folder.glob("*.json")]
    return sorted(cars, key=lambda car: car["params"].get("t", 0.0))  # a --sequence has one sidecar


@needs_ndm
@pytest.mark.parametrize("mode", ["slerp", "lerp"])
def test_morph_between_seeds_writes_one_file_per_step_from_end_to_end(tmp_path, mode):
    out = tmp_path / "morph"
    assert main(["morph", "--model", "ndm", "--seed-a", "1", "--seed-b", "2", "--class", "kick", "--steps", "4",
                 "--mode", mode, "--out", str(out)]) == 0
    cars = sidecars(out)
    assert len(list(out.glob("*.wav"))) == 4 and len(cars) == 4
    assert [c["params"]["t"] for c in cars] == pytest.approx([0.0, 1 / 3, 2 / 3, 1.0])
    assert all(c["verb"] == "morph" and c["params"]["method"] == mode for c in cars)
    # The ends are the two seeds' own latents, what new_center draws.
    session = Session.load("ndm")
    session.set_sliders("kick")
    za = session.new_center(1).clone()
    zb = session.new_center(2).clone()
    assert np.allclose(cars[0]["latent"], za.numpy(), atol=1e-6)
    assert np.allclose(cars[-1]["latent"], zb.numpy(), atol=1e-6)
    middle = (nav.slerp if mode == "slerp" else nav.lerp)(za, zb, 1 / 3)
    assert np.allclose(cars[1]["latent"], middle.numpy(), atol=1e-5)
    # The hits are the Session's: the first one is end a decoded.
    wave, sr = sf.read(sorted(out.glob("*.wav"))[0], dtype="float32")
    expected = session.morph_latents((za, session.sliders), (zb, session.sliders), 0.0).finished(0, sr)
    assert np.allclose(wave, expected, atol=1e-3)


@needs_ndm
def test_morph_between_classes_and_files_and_as_one_sequence(tmp_path):
    sr = 44100
    paths = []
    for kind in ("kick", "snare"):
        paths.append(tmp_path / f"{kind}.wav")
        sf.write(paths[-1], synth_hit(kind, sr=sr, seconds=0.4), sr)
    out = tmp_path / "seq"
    assert main(["morph", "--model", "ndm", "--a", str(paths[0]), "--b", str(paths[1]), "--class-a", "kick",
                 "--class-b", "snare", "--steps", "3", "--sequence", "--out", str(out)]) == 0
    wavs = list(out.glob("*.wav"))
    assert len(wavs) == 1
    (car,) = sidecars(out)
    steps = car["params"]["sequence"]
    assert [s["t"] for s in steps] == [0.0, 0.5, 1.0]
    kick, snare = Session.load("ndm").classes.index("kick"), Session.load("ndm").classes.index("snare")
    assert steps[0]["labels"][kick] == 1.0 and steps[-1]["labels"][snare] == 1.0
    assert steps[1]["labels"][kick] == pytest.approx(0.5) and steps[1]["labels"][snare] == pytest.approx(0.5)
    wave, _ = sf.read(wavs[0])
    model = Session.load("ndm").model
    one_hit = model.length * 44100 // model.sample_rate  # one hit as written at 44.1 kHz
    assert len(wave) > 2 * one_hit  # three hits back to back (the last one's silent tail trimmed)


@needs_ndm
def test_morph_refuses_what_it_cannot_do(tmp_path, capsys):
    out = str(tmp_path / "x")
    assert main(["morph", "--model", "ndm", "--seed-a", "1", "--seed-b", "2", "--steps", "3", "--out", out]) == 2
    assert "choose --class" in capsys.readouterr().err  # ndm estimates no class: one must be given
    assert main(["morph", "--model", "ndm", "--seed-a", "1", "--seed-b", "2", "--class", "kick", "--steps", "1",
                 "--out", out]) == 2
    assert "at least 2" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["morph", "--model", "ndm", "--seed-a", "1", "--a", "x.wav", "--seed-b", "2", "--out", out])
    with pytest.raises(SystemExit):
        main(["morph", "--model", "ndm", "--seed-a", "1", "--seed-b", "2", "--mode", "cubic", "--out", out])


def test_morph_works_for_a_family_that_estimates_the_class(tmp_path):
    """wavegan (tiny, untrained): the ends are analysed by inversion, which also sets the class weights."""
    from drumsynth.models import build_family_config, family_module
    from drumsynth.train import seed_everything
    from drumsynth.train.checkpoint import module_state, new_checkpoint, save_checkpoint, to_cpu

    seed_everything(0)
    recipe = family_module("wavegan").build_recipe(build_family_config("wavegan", "tiny"), None)
    model = {name: module_state(recipe.modules()[name]) for name in recipe.release_modules()}
    ckpt = save_checkpoint(new_checkpoint("release", family="wavegan", config=to_cpu(recipe.config), step=0,
                                          model=model, weights=dict.fromkeys(model, "raw"),
                                          extra=to_cpu(recipe.release_extra()), seed=0), tmp_path / "wavegan.pt")
    sr = 22050
    sounds = []
    for kind in ("kick", "cymbal"):
        sounds.append(tmp_path / f"{kind}.wav")
        sf.write(sounds[-1], synth_hit(kind, sr=sr, seconds=0.2), sr)
    out = tmp_path / "wg"
    assert main(["morph", "--model", str(ckpt), "--a", str(sounds[0]), "--b", str(sounds[1]), "--steps", "2",
                 "--out", str(out)]) == 0
    cars = sidecars(out)
    assert len(cars) == 2 and all(c["family"] == "wavegan" for c in cars)
    for car, sound in zip(cars, sounds):
        session = Session.load(str(ckpt))
        analysed = session.analyze(*load_audio(sound))  # decoded as the CLI decodes it
        assert np.allclose(car["latent"], analysed["latent"], atol=1e-5)
        classes = session.classes
        assert np.allclose([car["labels"][c] for c in classes], [analysed["sliders"][c] for c in classes], atol=1e-5)
    assert torch.isfinite(torch.tensor(cars[0]["latent"])).all()
