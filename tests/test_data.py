"""Taxonomy, the decoded cache, `prepare` on a producer's folder, datasets and augmentation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from conftest import SR, synth_hit
from drumsynth.audio.resample import resample
from drumsynth.data.augment import BatchAugment, pitch_shift, random_gain, random_shift
from drumsynth.data.cache import load_cache, write_cache
from drumsynth.data.corpus import prepare_wave
from drumsynth.data.dataset import DrumDataset, fit_clip
from drumsynth.data.prepare import prepare_folders
from drumsynth.data.taxonomy import CLASSES, CLASSES3, TO_CLASS3, normalise_label
from drumsynth.errors import DrumsynthError


def test_every_class_has_a_three_class_decision():
    assert set(TO_CLASS3) == set(CLASSES)
    assert {v for v in TO_CLASS3.values() if v} == set(CLASSES3)
    assert TO_CLASS3["clap"] == "snare" and TO_CLASS3["hihat_open"] == "cymbal"


@pytest.mark.parametrize("text,label", [("Kicks", "kick"), ("BD", "kick"), ("Hi-Hat Closed", "hihat_closed"),
                                        ("snare", "snare"), ("Crash", "cymbal"), ("Open Hat", "hihat_open")])
def test_labels_from_folder_names(text, label):
    assert normalise_label(text) == label


def test_unknown_label_names_the_value():
    with pytest.raises(DrumsynthError, match="'guitar'"):
        normalise_label("guitar")


def _records(n: int):
    labels = [CLASSES[i % len(CLASSES)] for i in range(n)]
    splits = ["train", "valid", "test"]
    return [{"id": f"s{i}", "path": f"/x/{i}.wav", "source": "test", "kit": f"k{i % 3}", "instrument": labels[i],
             "label": labels[i], "split": splits[i % 3], "licence": "CC0"} for i in range(n)]


def test_cache_round_trip_keeps_every_sample(tmp_path: Path):
    records = _records(24)
    waves = [synth_hit("kick", seconds=0.05 + 0.01 * i, seed=i) for i in range(24)]
    write_cache(tmp_path / "c", records, waves)
    cache = load_cache(tmp_path / "c")
    assert len(cache) == 24 and cache.sr == SR
    for i in range(24):
        np.testing.assert_array_equal(cache.wave(i), waves[i])
    assert cache.records[5] == records[5]
    assert sum(sum(c.values()) for c in cache.counts().values()) == 24
    # Rewriting needs force, and then replaces the old cache whole.
    with pytest.raises(DrumsynthError, match="--force"):
        write_cache(tmp_path / "c", records[:10], waves[:10])
    assert len(load_cache(tmp_path / "c")) == 24
    write_cache(tmp_path / "c", records[:10], waves[:10], force=True)
    assert len(load_cache(tmp_path / "c")) == 10
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c"]  # no temporary or old folder left behind


def test_cache_rejects_bad_records_and_folders(tmp_path: Path):
    bad = _records(2)
    bad[1]["label"] = "cowbell"
    with pytest.raises(DrumsynthError, match="cowbell"):
        write_cache(tmp_path / "c", bad, [np.zeros(10, np.float32)] * 2)
    with pytest.raises(DrumsynthError, match="not a drumsynth cache"):
        load_cache(tmp_path)


def test_one_shot_decoding_starts_at_onset_and_normalises():
    hit = synth_hit("snare", sr=48000)
    wave = np.concatenate([np.zeros(4800, np.float32), 0.3 * hit])
    clip, peak = prepare_wave(wave, 48000)
    assert peak == pytest.approx(np.max(np.abs(resample(wave, 48000, SR))), rel=1e-6)  # after resampling
    assert np.max(np.abs(clip)) == pytest.approx(1.0)
    # 100 ms of leading silence removed, 1 ms margin kept.
    assert int(np.argmax(np.abs(clip) > 1e-3)) <= SR // 1000 + 2
    with pytest.raises(DrumsynthError, match="silent"):
        prepare_wave(np.zeros(1000, np.float32), SR)


def test_prepare_skips_unreadable_files_and_labels_from_folders(one_shot_folder: Path, tmp_path: Path):
    report = prepare_folders([one_shot_folder], tmp_path / "cache", progress=False)
    assert dict(report.counts) == {"kick": 8, "snare": 8, "hihat_closed": 8}
    assert len(report.skipped) == 1 and report.skipped[0][0].endswith("broken.wav")
    cache = load_cache(tmp_path / "cache")
    assert {r["split"] for r in cache.records} <= {"train", "valid", "test"}
    assert all(r["kit"] == "MyKit" for r in cache.records)


def test_prepare_converts_stereo_96k_files(tmp_path: Path):
    root = tmp_path / "kit"
    (root / "kick").mkdir(parents=True)
    for i in range(20):
        hit = synth_hit("kick", sr=96000, seed=i)
        sf.write(root / "kick" / f"k{i}.wav", np.stack([hit, 0.5 * hit], axis=1), 96000, subtype="PCM_24")
    prepare_folders([root], tmp_path / "cache", progress=False)
    cache = load_cache(tmp_path / "cache")
    assert cache.records[0]["orig_sr"] == 96000
    # 0.3 s at 96 kHz becomes 0.3 s at 44.1 kHz, less the few tail samples below -60 dB of the peak.
    assert int(0.3 * SR) - 50 <= len(cache.wave(0)) <= int(0.3 * SR)


def test_prepare_refuses_too_few_files(one_shot_folder: Path, tmp_path: Path):
    with pytest.raises(DrumsynthError, match="only 24 usable"):
        prepare_folders([one_shot_folder], tmp_path / "cache", min_files=30, progress=False)
    assert not (tmp_path / "cache").exists()


def test_prepare_lists_and_skips_unlabelled_files(one_shot_folder: Path, tmp_path: Path):
    (one_shot_folder / "misc").mkdir()
    sf.write(one_shot_folder / "misc" / "thing.wav", synth_hit("kick"), SR)
    report = prepare_folders([one_shot_folder], tmp_path / "cache", progress=False)
    assert report.unlabelled == [str(one_shot_folder / "misc" / "thing.wav")]
    assert (str(one_shot_folder / "misc" / "thing.wav"), "unlabelled: no class in its folder or file name") \
        in report.skipped
    assert sum(report.counts.values()) == 24
    assert all(r["label_source"] == "name" for r in load_cache(tmp_path / "cache").records)


def test_fit_clip_exact_length_normalisation_and_fades():
    wave = np.full(100, 0.5, np.float32)
    out = fit_clip(wave, 80, fade_in=4, fade_out=10)
    assert out.shape == (80,)
    np.testing.assert_allclose(out[:4], [0, 0.25, 0.5, 0.75])
    np.testing.assert_allclose(out[-10:], np.arange(9, -1, -1) / 10)  # ends at exactly 0
    padded = fit_clip(wave[:50], 80, fade_in=0, fade_out=10)
    assert np.all(padded[:50] == 1.0) and np.all(padded[50:] == 0.0)


@pytest.fixture
def small_cache(tmp_path: Path):
    records = _records(48)
    waves = [synth_hit(r["label"], seconds=0.2, seed=i) for i, r in enumerate(records)]
    write_cache(tmp_path / "c", records, waves)
    return load_cache(tmp_path / "c")


def test_dataset_three_class_view_and_balanced_sampling(small_cache):
    ds = DrumDataset(small_cache, "train", sr=22050, length=4096, three_class=True)
    assert ds.waves.shape[1:] == (1, 4096)
    assert set(ds.labels.tolist()) <= {0, 1, 2}
    counts = torch.bincount(ds.sample_indices(3000, torch.Generator().manual_seed(0)).apply_(
        lambda i: ds.labels[i].item()), minlength=3)
    assert counts.min() > 900  # each of 3 classes drawn about a third of the time


def test_dataset_batches_are_reproducible_from_the_generator(small_cache):
    ds = DrumDataset(small_cache, None, sr=SR, length=2048, pitch_semitones=(-3, 0, 3))
    assert len(ds) == 3 * 48
    a = ds.sample_batch(16, torch.Generator().manual_seed(7), augment=BatchAugment(max_shift=32, p=1.0))
    b = ds.sample_batch(16, torch.Generator().manual_seed(7), augment=BatchAugment(max_shift=32, p=1.0))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_pitch_shift_changes_length_by_the_interval():
    wave = synth_hit("tom", seconds=0.5)
    up = pitch_shift(wave, 12)
    down = pitch_shift(wave, -12)
    assert abs(len(up) - len(wave) / 2) <= 2 and abs(len(down) - 2 * len(wave)) <= 2


def test_gain_and_shift_augmentations():
    g = torch.Generator().manual_seed(0)
    wave = torch.ones(4, 1, 100)
    gained = random_gain(wave, g, -6.0, 0.0)
    assert torch.all(gained <= 1.0) and torch.all(gained >= 10 ** (-6 / 20) - 1e-6)
    shifted = random_shift(torch.arange(10.0).repeat(3, 1, 1), g, max_shift=3)
    for row in shifted[:, 0]:
        s = int((row == 0).sum()) - 1  # leading zeros beyond the original first sample 0
        assert torch.equal(row[s:], torch.arange(10.0)[:10 - s])
