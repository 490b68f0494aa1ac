"""`drumsynth evaluate`'s report: tables, files and known values, on synthetic data and the real corpus."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import synth_hit
from drumsynth.data.cache import load_cache, write_cache
from drumsynth.data.taxonomy import CLASSES
from drumsynth.metrics.classifier import DEFAULT_PATH, load_classifier
from drumsynth.metrics.report import Reconstructions, SoundSet, evaluate, judged_as

pytestmark = pytest.mark.skipif(not DEFAULT_PATH.is_file(), reason="no shipped classifier")


@pytest.fixture(scope="module")
def classifier():
    return load_classifier()


@pytest.fixture
def small_cache(tmp_path: Path):
    records, waves = [], []
    for split in ("train", "valid", "test"):
        for c, label in enumerate(CLASSES):
            for k in range(4):
                records.append({"id": f"{split}{label}{k}", "path": "-", "source": "test", "kit": split,
                                "instrument": label, "label": label, "split": split, "licence": "CC0"})
                waves.append(synth_hit(label, seed=10 * c + k + (0 if split == "train" else 500)))
    write_cache(tmp_path / "cache", records, waves)
    return load_cache(tmp_path / "cache")


def test_report_tables_files_and_known_values(small_cache, classifier, tmp_path: Path):
    rng = np.random.default_rng(0)
    generated = SoundSet(name="fake", waves=np.stack([synth_hit(c, seed=99 + i) for i, c in
                                                      enumerate(["kick", "snare", "cymbal"] * 4)]),
                         sr=44100, labels=["kick", "snare", "cymbal"] * 4)
    refs = np.stack([synth_hit("snare", seed=i) for i in range(3)]) + 1e-4 * rng.standard_normal((3, 13230))
    halves = Reconstructions(system="half", subset="test", references=refs, reconstructions=0.5 * refs,
                             sr=44100)
    report = evaluate(small_cache, tmp_path / "out", classifier=classifier, generated=[generated],
                      reconstructions=[halves], seed=0, kid_subsets=5)
    assert report["meta"]["n_test"] == 4 * 6
    for name in ("report.md", "report.json", "sheet.png"):
        assert (tmp_path / "out" / name).is_file()
    saved = json.loads((tmp_path / "out" / "report.json").read_text())
    assert [r["system"] for r in saved["table1"]] == ["real data (test kits vs train)", "fake"]
    real, fake = saved["table1"]
    assert real["n"] == 4 * 6 and fake["n"] == 12  # 3-class view: kick, snare, clap, hats, cymbal
    assert 1.0 <= fake["is"] <= 3.0 and fake["fad_clf"] >= 0 and "kid_aisfx" not in fake
    assert list(fake["judged_as"]) == ["kick", "snare", "cymbal"] and fake["n_per_class"]["kick"] == 4
    for shares in fake["judged_as"].values():
        assert sum(shares.values()) == pytest.approx(1.0)
    assert np.mean([fake["judged_as"][c][c] for c in ("kick", "snare", "cymbal")]) == pytest.approx(
        fake["class_agreement"])
    (row,) = saved["table2"]
    assert row["snr"] == pytest.approx(6.0206, abs=1e-3) and row["lsd"] == pytest.approx(6.0206, abs=1e-2)
    assert row["odg"] < 0.2 and np.isfinite(row["di"])
    text = (tmp_path / "out" / "report.md").read_text()
    assert "Table 1" in text and "Table 2" in text and "| half | test | 3 |" in text
    assert "| fake | cymbal | 4 |" in text


def test_judged_as_shares_per_wanted_class():
    shares = judged_as(["kick", "snare", "snare", "cymbal", "snare"], ["kick", "kick", "snare", "cymbal", "cymbal"])
    assert shares == {"kick": {"kick": 0.5, "snare": 0.5, "cymbal": 0.0},
                      "snare": {"kick": 0.0, "snare": 1.0, "cymbal": 0.0},
                      "cymbal": {"kick": 0.0, "snare": 0.5, "cymbal": 0.5}}


@pytest.mark.corpus
@pytest.mark.slow
def test_report_on_the_real_corpus(real_corpus, classifier, tmp_path: Path):
    report = evaluate(real_corpus, tmp_path, classifier=classifier, seed=0, kid_subsets=10)
    (real,) = report["table1"]
    assert real["n"] == len(real_corpus.indices("test", three_class=True))
    assert report["meta"]["classifier_acc3"] >= 0.9 and report["meta"]["classifier_acc8"] >= 0.7
    assert real["class_agreement"] >= 0.9 and real["is"] > 1.5
