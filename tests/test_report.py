"""`drumsynth evaluate`'s report: tables, files and known values, on synthetic data and the real corpus."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import synth_hit
from drumsynth.data.cache import load_cache, write_cache
from drumsynth.data.taxonomy import CLASSES, CLASSES3
from drumsynth.errors import DrumsynthError
from drumsynth.metrics.classifier import DEFAULT_PATH, load_classifier
from drumsynth.metrics.report import HitSet, Reconstructions, evaluate, halves, judged_as, sheet_grid
from drumsynth.metrics.sheet import comparison_sheet

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


def _fake_model(n: int = 4) -> HitSet:
    """A 3-class "model" whose hits are synthetic drums of the class asked for, 0.4 s each."""
    labels = [c for c in CLASSES3 for _ in range(n)]
    waves = [synth_hit(c, seconds=0.4, seed=99 + i) for i, c in enumerate(labels)]
    return HitSet(name="fake", waves=waves, sr=44100, labels=labels, classes=CLASSES3)


def test_report_tables_files_and_known_values(small_cache, classifier, tmp_path: Path):
    rng = np.random.default_rng(0)
    refs = np.stack([synth_hit("snare", seed=i) for i in range(3)]) + 1e-4 * rng.standard_normal((3, 13230))
    halves = Reconstructions(system="half", subset="test", references=refs, reconstructions=0.5 * refs,
                             sr=44100)
    report = evaluate(small_cache, tmp_path / "out", classifier=classifier, generated=[_fake_model()],
                      reconstructions=[halves], seed=0, n_boot=50)
    assert report["meta"]["n_test"] == 4 * 6 and report["meta"]["n_boot"] == 50
    for name in ("report.md", "report.json", "sheet.png"):
        assert (tmp_path / "out" / name).is_file()
    saved = json.loads((tmp_path / "out" / "report.json").read_text())
    assert [r["system"] for r in saved["table1"]] == ["real vs real (test-kit halves)",
                                                      "real data (test kits vs train)", "fake"]
    floor, real, fake = saved["table1"]
    assert floor["n"] + floor["n_reference"] == 4 * 6 and abs(floor["n"] - floor["n_reference"]) <= 3
    assert real["n"] == 4 * 6 and fake["n"] == 12  # 3-class view: kick, snare, clap, hats, cymbal
    assert 1.0 <= fake["is"] <= 3.0 and fake["fad_clf"] >= 0 and "kid_aisfx" not in fake
    for row in saved["table1"]:
        for key in ("is", "kid_clf", "fad_clf"):
            low, high = row[f"{key}_ci"]
            assert low <= row[key] <= high and row[f"{key}_sd"] > 0, (row["system"], key)
    assert list(fake["judged_as"]) == ["kick", "snare", "cymbal"] and fake["n_per_class"]["kick"] == 4
    for shares in fake["judged_as"].values():
        assert sum(shares.values()) == pytest.approx(1.0)
    assert np.mean([fake["judged_as"][c][c] for c in ("kick", "snare", "cymbal")]) == pytest.approx(
        fake["class_agreement"])
    (row,) = saved["table2"]
    assert row["snr"] == pytest.approx(6.0206, abs=1e-3) and row["lsd"] == pytest.approx(6.0206, abs=1e-2)
    assert row["odg"] < 0.2 and np.isfinite(row["di"])
    # Listener sections: the real test kits in the 8-class view, the 3-class model against the 3-class view.
    real8, gen = saved["listener"]
    assert real8["vocabulary"] == "8-class" and list(real8["classes"]) == list(CLASSES)
    assert all(e["generated"] is None and e["real"]["n"] == 4 for e in real8["classes"].values())
    assert gen["vocabulary"] == "3-class" and list(gen["classes"]) == list(CLASSES3)
    cym = gen["classes"]["cymbal"]
    assert cym["generated"]["n"] == 4 and cym["real"]["n"] == 4 * 3          # hats and cymbals of the test kits
    assert 0.0 <= cym["agreement"] <= 1.0 and 0.0 <= cym["classifier_accuracy"] <= 1.0
    assert cym["generated"]["high_band_share"][1] > gen["classes"]["kick"]["generated"]["high_band_share"][1]
    text = (tmp_path / "out" / "report.md").read_text()
    assert "Table 1" in text and "Table 2" in text and "| half | test | 3 |" in text
    assert "| fake | cymbal | 4 |" in text and "### fake (3-class view)" in text
    assert f"{fake['fad_clf']:.2f} [" in text or f"{fake['fad_clf']:.3f} [" in text
    assert "| cymbal | generated | 4 |" in text and "| tom | real test kits | 4 |" in text


def test_halves_are_disjoint_stratified_and_seeded():
    labels = ["kick"] * 7 + ["snare"] * 4 + ["cymbal"] * 5
    a, b = halves(labels, seed=3)
    assert not set(a) & set(b) and sorted(a + b) == list(range(len(labels)))
    for cls, n in (("kick", 7), ("snare", 4), ("cymbal", 5)):
        assert sum(labels[i] == cls for i in a) == n // 2
    assert halves(labels, seed=3) == (a, b) and halves(labels, seed=4) != (a, b)
    with pytest.raises(DrumsynthError, match="too few"):
        halves(["kick", "snare"])


def test_sheet_grid_puts_classes_in_rows_and_systems_side_by_side(tmp_path: Path):
    real = HitSet(name="real", waves=[synth_hit(c, seed=i) for i, c in enumerate(CLASSES)] * 2, sr=44100,
                  labels=list(CLASSES) * 2, classes=CLASSES)
    grid = sheet_grid([real, _fake_model(5)], per_cell=3)
    assert list(grid) == ["real", "fake"] and list(grid["real"]) == list(CLASSES)
    assert list(grid["fake"]) == ["kick", "snare", "cymbal"] and len(grid["fake"]["kick"]) == 3
    assert len(grid["real"]["tom"]) == 2                                         # only two toms to show
    path = comparison_sheet(grid, 44100, tmp_path / "sheet.png", per_cell=3)
    assert path.stat().st_size > 10_000


def test_judged_as_shares_per_wanted_class():
    shares = judged_as(["kick", "snare", "snare", "cymbal", "snare"], ["kick", "kick", "snare", "cymbal", "cymbal"])
    assert shares == {"kick": {"kick": 0.5, "snare": 0.5, "cymbal": 0.0},
                      "snare": {"kick": 0.0, "snare": 1.0, "cymbal": 0.0},
                      "cymbal": {"kick": 0.0, "snare": 0.5, "cymbal": 0.5}}


@pytest.mark.corpus
@pytest.mark.slow
def test_report_on_the_real_corpus(real_corpus, classifier, tmp_path: Path):
    report = evaluate(real_corpus, tmp_path, classifier=classifier, seed=0, n_boot=100)
    floor, real = report["table1"]
    assert real["n"] == len(real_corpus.indices("test", three_class=True))
    assert report["meta"]["classifier_acc3"] >= 0.9 and report["meta"]["classifier_acc8"] >= 0.7
    assert real["class_agreement"] >= 0.9 and real["is"] > 1.5
    # Two halves of the same kits are closer than the test kits are to the train kits.
    assert floor["fad_clf"] < real["fad_clf"] and floor["fad_clf_ci"][0] < real["fad_clf_ci"][0]
    (section,) = report["listener"]
    hats = section["classes"]["hihat_closed"]["real"]
    assert hats["n"] >= 15 and 0.05 < hats["high_band_share"][1] < 0.6                 # real hats are bright
