"""The evaluation classifier: shapes, probabilities, checkpoint round-trip, training, the CLI verb,
and (with the real corpus) the shipped weights' accuracy on the held-out kits."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from conftest import SR, synth_hit
from drumsynth.data.cache import load_cache, write_cache
from drumsynth.data.taxonomy import CLASSES, CLASSES3
from drumsynth.errors import DrumsynthError
from drumsynth.metrics.classifier import DEFAULT_PATH, DrumClassifier, load_classifier, save_classifier
from drumsynth.metrics.train_classifier import band_limit, evaluate, log_mels, standardise, train_classifier

REPO = Path(__file__).resolve().parent.parent
# A tiny front end and network: the same code paths as the shipped model at a fraction of the cost.
TINY = dict(length=8192, n_fft=512, hop_length=256, n_mels=32, stem_channels=8, widths=(16, 32), embed_dim=32)


@pytest.fixture
def tiny() -> DrumClassifier:
    torch.manual_seed(0)
    return DrumClassifier(**TINY).eval()


@pytest.fixture(scope="module")
def synthetic_cache(tmp_path_factory) -> Path:
    """Kick-, snare- and hat-like hits in 6 kits: kits 0-3 train, 4 valid, 5 test."""
    records, waves = [], []
    rng = np.random.default_rng(0)
    for kit in range(6):
        split = "train" if kit < 4 else ("valid" if kit == 4 else "test")
        for label in ("kick", "snare", "hihat_closed", "cymbal"):
            for i in range(4):
                seed = kit * 100 + i
                wave = synth_hit(label, seconds=float(rng.uniform(0.15, 0.4)), seed=seed)
                waves.append(wave * float(rng.uniform(0.3, 1.0)))
                records.append({"id": f"k{kit}-{label}-{i}", "path": f"/synthetic/{kit}/{label}{i}.wav",
                                "source": "synthetic", "kit": f"kit{kit}", "instrument": label, "label": label,
                                "split": split, "licence": "CC0"})
    return write_cache(tmp_path_factory.mktemp("cache") / "synth", records, waves)


def test_outputs_have_the_documented_shapes(tiny: DrumClassifier):
    waves = torch.from_numpy(np.stack([synth_hit(k, seconds=0.2, seed=i) for i, k in
                                       enumerate(("kick", "snare", "hihat_closed"))]))
    out = tiny.predict(waves, SR)
    assert out["probs8"].shape == (3, len(CLASSES))
    assert out["probs3"].shape == (3, len(CLASSES3))
    assert out["embedding"].shape == (3, TINY["embed_dim"])
    torch.testing.assert_close(out["probs8"].sum(-1), torch.ones(3))
    torch.testing.assert_close(out["probs3"].sum(-1), torch.ones(3))
    assert (out["probs8"] >= 0).all() and (out["probs3"] >= 0).all()
    torch.testing.assert_close(tiny.probs8(waves, SR), out["probs8"])
    torch.testing.assert_close(tiny.embed(waves, SR), out["embedding"])
    feats = tiny.features(waves)
    frames = TINY["length"] // TINY["hop_length"] + 1
    assert feats.shape == (3, 1, TINY["n_mels"], frames)


def test_inputs_of_every_kind_give_the_same_answer(tiny: DrumClassifier):
    clips = [synth_hit("snare", seconds=s, seed=i) for i, s in enumerate((0.05, 0.1, 0.4))]
    by_list = tiny.probs3(clips, SR)
    for i, clip in enumerate(clips):
        torch.testing.assert_close(tiny.probs3(clip, SR), by_list[i:i + 1])                # np [T]
        torch.testing.assert_close(tiny.probs3(torch.from_numpy(clip)[None, None], SR), by_list[i:i + 1])
    # Gain does not matter (the front end peak-normalises); batching does not either.
    torch.testing.assert_close(tiny.probs3([0.1 * c for c in clips], SR), by_list, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(tiny.predict(clips, SR, batch_size=1)["probs3"], by_list, atol=1e-5, rtol=1e-4)
    # Another sample rate is resampled first: the 22.05 kHz version of a clip lands close to it.
    from drumsynth.audio.resample import resample

    low = [resample(c, SR, 22050) for c in clips]
    assert (tiny.probs3(low, 22050) - by_list).abs().max() < 0.1


def test_bad_waves_are_project_errors(tiny: DrumClassifier):
    with pytest.raises(DrumsynthError, match="NaN"):
        tiny.probs8(np.full((1, 1000), np.nan, dtype=np.float32), SR)
    with pytest.raises(DrumsynthError, match="shape"):
        tiny.probs8(np.zeros((2, 2, 2, 2)), SR)
    with pytest.raises(DrumsynthError, match="no waves"):
        tiny.probs8([], SR)
    # Silence is valid input and gives a distribution, not NaN.
    assert torch.isfinite(tiny.probs8(np.zeros((1, 5000), dtype=np.float32), SR)).all()


def test_checkpoint_round_trip_is_exact(tiny: DrumClassifier, tmp_path: Path):
    tiny.feat_mean.normal_()
    tiny.feat_std.uniform_(0.5, 2.0)
    path = save_classifier(tiny, tmp_path / "clf.pt", metrics={"test": {"acc3": 0.5}})
    raw = torch.load(path)  # weights-only default: plain types and tensors only
    assert raw["format"] == "drumsynth-classifier" and raw["format_version"] == 1
    assert set(raw["config"]) >= {"sr", "length", "n_fft", "hop_length", "n_mels", "widths", "embed_dim"}
    assert "mel_fb" not in raw["model"]  # rebuilt from the config
    loaded = load_classifier(path)
    assert not loaded.training and loaded.metrics == {"test": {"acc3": 0.5}}
    waves = np.stack([synth_hit(k, seed=3) for k in ("kick", "cymbal")])
    a, b = tiny.predict(waves, SR), loaded.predict(waves, SR)
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)


def test_loading_explains_missing_and_foreign_files(tmp_path: Path):
    with pytest.raises(DrumsynthError, match="does not exist"):
        load_classifier(tmp_path / "missing.pt")
    torch.save({"format": "something-else"}, tmp_path / "other.pt")
    with pytest.raises(DrumsynthError, match="not a drumsynth classifier"):
        load_classifier(tmp_path / "other.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(DrumsynthError, match="cannot read"):
        load_classifier(tmp_path / "junk.pt")


def test_training_learns_the_synthetic_classes_and_is_reproducible(synthetic_cache: Path, tmp_path: Path):
    kwargs = dict(steps=40, batch_size=16, lr=3e-3, seed=1, pitch_semitones=(0, 2), eval_every=20,
                  model_kwargs=TINY, log=None)
    result = train_classifier(synthetic_cache, tmp_path / "clf.pt", **kwargs)
    history = result["history"]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    # 4 classes present (kick, snare, closed hat, cymbal): chance is 0.25 for 8 classes and 1/3 for 3.
    assert result["test"]["acc3"] > 0.6
    assert result["test"]["acc8"] > 0.4
    # The checkpoint holds the best weights and its scores; loading it reproduces them.
    model = load_classifier(tmp_path / "clf.pt")
    assert model.metrics["test"]["acc8"] == pytest.approx(result["test"]["acc8"])
    cache = load_cache(synthetic_cache)
    from drumsynth.data.dataset import DrumDataset

    test = DrumDataset(cache, "test", sr=model.sr, length=model.length)
    again = evaluate(model, standardise(model, log_mels(model, test.waves)), test.labels)
    assert again["acc8"] == pytest.approx(result["test"]["acc8"])
    # Same seed, same run.
    repeat = train_classifier(synthetic_cache, None, **kwargs)
    assert repeat["history"] == history


def test_band_limit_empties_the_bands_above_the_cutoff_like_a_band_limited_input(tiny: DrumClassifier):
    rng = np.random.default_rng(3)
    waves = torch.from_numpy(np.stack([synth_hit(lab, seconds=0.15, seed=i) for i, lab in
                                       enumerate(("cymbal", "hihat_closed", "snare", "kick"))])).float()
    db = log_mels(tiny, waves + 1e-3 * torch.from_numpy(rng.standard_normal(waves.shape)).float())
    kw = dict(mel_fb=tiny.mel_fb, sr=tiny.sr, top_db=tiny.top_db, min_hz=6000.0, max_hz=14000.0)
    out = band_limit(db, torch.Generator().manual_seed(0), p=1.0, **kw)
    again = band_limit(db, torch.Generator().manual_seed(0), p=1.0, **kw)
    assert torch.equal(out, again)  # deterministic given the generator
    # Recover each clip's cutoff from the same draws, then check the bands on either side of it.
    g = torch.Generator().manual_seed(0)
    torch.rand(4, generator=g)
    cutoff = 6000.0 + torch.rand(4, generator=g) * 8000.0
    freqs = torch.linspace(0.0, tiny.sr / 2, tiny.mel_fb.shape[1])
    for b in range(4):
        support = tiny.mel_fb > 0
        above = (freqs[None, :] < cutoff[b]).logical_and(support).sum(1) == 0   # no weight below the cutoff
        below = (freqs[None, :] >= cutoff[b]).logical_and(support).sum(1) == 0  # no weight above it
        assert above.any() and below.any()
        floor = out[b].amax() - tiny.top_db
        # Above the cutoff: the front end's silence value (top_db below the clip's peak), everywhere.
        assert torch.equal(out[b][above], floor.expand_as(out[b][above]))
        # Below it: unchanged, up to rounding (and the floor, which rises if the peak was above the cutoff).
        assert torch.allclose(out[b][below], torch.maximum(db[b][below], floor), atol=1e-4)
        if out[b].amax() >= db[b].amax() - 1e-4:  # the peak was below the cutoff: nothing below it moves
            assert torch.allclose(out[b][below], db[b][below], atol=1e-4)
    # p = 0: nothing happens; p = 0.5: some clips are left exactly as they were.
    assert band_limit(db, torch.Generator().manual_seed(0), p=0.0, **kw) is db
    half = band_limit(db.repeat(8, 1, 1), torch.Generator().manual_seed(1), p=0.5, **kw)
    same = [torch.equal(h, d) for h, d in zip(half, db.repeat(8, 1, 1))]
    assert any(same) and not all(same)


def _classify_args(argv: list[str]) -> argparse.Namespace:
    from drumsynth.cli import classify

    parser = argparse.ArgumentParser()
    classify.add_parser(parser.add_subparsers(dest="verb"))
    return parser.parse_args(["classify", *argv])


def test_classify_verb_reports_every_file_and_fails_only_the_bad_ones(tiny: DrumClassifier, tmp_path: Path,
                                                                      capsys):
    model = save_classifier(tiny, tmp_path / "clf.pt")
    good = []
    for kind in ("kick", "snare"):
        path = tmp_path / f"{kind}.wav"
        sf.write(path, synth_hit(kind), SR)
        good.append(str(path))
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF nonsense")
    args = _classify_args([good[0], str(bad), good[1], "--model", str(model), "--json", "--top", "2"])
    assert args.run(args) == 2
    captured = capsys.readouterr()
    payload = json.loads(captured.out)
    assert [Path(r["file"]).name for r in payload["results"]] == ["kick.wav", "snare.wav"]
    for r in payload["results"]:
        assert set(r["probs8"]) == set(CLASSES) and set(r["probs3"]) == set(CLASSES3)
        assert sum(r["probs8"].values()) == pytest.approx(1.0, abs=1e-4)
        assert len(r["top"]) == 2
    assert payload["errors"][0]["file"] == str(bad)
    assert captured.err.count("\n") == 1 and "broken.wav" in captured.err

    args = _classify_args([good[0], "--model", str(model)])
    assert args.run(args) == 0
    assert "kick.wav" in capsys.readouterr().out


def test_classify_verb_with_a_missing_model_is_one_project_error(tmp_path: Path):
    args = _classify_args([str(tmp_path / "x.wav"), "--model", str(tmp_path / "none.pt")])
    with pytest.raises(DrumsynthError, match="does not exist"):
        args.run(args)


@pytest.mark.corpus
@pytest.mark.slow
def test_shipped_classifier_on_the_held_out_kits(real_corpus):
    if not DEFAULT_PATH.is_file():
        pytest.skip(f"no shipped classifier at {DEFAULT_PATH}")
    from drumsynth.data.dataset import DrumDataset

    model = load_classifier()
    test = DrumDataset(real_corpus, "test", sr=model.sr, length=model.length)
    assert test.class_counts() == model.metrics["counts"]["test"], (
        "the corpus test split is not the one the shipped classifier was scored on: retrain it "
        "(command in src/drumsynth/pretrained/classifier.md)")
    scores = evaluate(model, standardise(model, log_mels(model, test.waves)), test.labels)
    # Measured when shipped (issue-13 split, three kit groups): acc3 0.911 (144/158), acc8 0.768 (179/233);
    # one sound is 0.6 % / 0.4 %. The bounds sit 3 and 4 sounds lower: a library update that moves a borderline
    # sound passes, a broken front end or the wrong weights do not (chance is 0.33 / 0.13).
    assert scores["acc3"] >= 0.89, scores["confusion3"]
    assert scores["acc8"] >= 0.75, scores["confusion8"]
