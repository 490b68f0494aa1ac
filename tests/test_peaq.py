"""PEAQ basic version (drumsynth.metrics.peaq) and its conformance runner."""

from __future__ import annotations

import math
import os
import statistics
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from drumsynth.errors import DrumsynthError
from drumsynth.metrics.peaq import MOV_NAMES, PeaqResult, peaq
from drumsynth.metrics.peaq_conformance import format_table, read_itemlist, run_conformance

# <repo>/../shared/data/peaq-conformance (tests/ -> repo root -> its parent); the env var wins.
CONFORMANCE = Path(
    os.environ.get("DRUMSYNTH_PEAQ_CONFORMANCE")
    or Path(__file__).resolve().parents[1].parent / "shared/data/peaq-conformance"
)

# ODG of the basic version for a signal compared with itself: the network's output for zero
# distortion, about 0.19-0.22 depending on the bandwidth MOVs (it never reaches exactly 0).
IDENTICAL_ODG = 0.19


def snare(sr: int = 44100, seconds: float = 0.5, seed: int = 0) -> np.ndarray:
    """Snare-like hit: decaying noise plus a 190 Hz tone, [T] float64, peak about 0.6."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(sr * seconds)) / sr
    hit = 0.6 * rng.standard_normal(t.size) * np.exp(-t / 0.06)
    hit += 0.8 * np.sin(2 * np.pi * 190 * t) * np.exp(-t / 0.05)
    return 0.5 * hit


def burst(sr: int = 44100, seconds: float = 0.2, seed: int = 1) -> np.ndarray:
    """Exponentially decaying white-noise burst, [T] float64."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(sr * seconds)) / sr
    return 0.5 * rng.standard_normal(t.size) * np.exp(-t / 0.04)


def with_noise(x: np.ndarray, snr_db: float, seed: int = 7) -> np.ndarray:
    """x plus stationary white noise at the given SNR (relative to the mean power of x)."""
    noise = np.random.default_rng(seed).standard_normal(x.shape)
    noise *= math.sqrt(np.mean(x**2) / np.mean(noise**2)) * 10 ** (-snr_db / 20)
    return x + noise


def assert_finite(res: PeaqResult) -> None:
    """DI, ODG and all 11 MOVs are finite; ODG lies in the network's output range."""
    assert isinstance(res, PeaqResult)
    assert math.isfinite(res.di) and math.isfinite(res.odg)
    assert set(res.movs) == set(MOV_NAMES)
    assert all(math.isfinite(v) for v in res.movs.values()), res.movs
    assert -3.98 <= res.odg <= 0.22


def test_identical_short_clip_gives_published_identical_odg():
    x = snare()
    res = peaq(x, x, 44100)
    assert_finite(res)
    assert abs(res.odg - IDENTICAL_ODG) < 0.05
    for name in ("WinModDiff1B", "ADBB", "EHSB", "AvgModDiff1B", "AvgModDiff2B", "RmsNoiseLoudB",
                 "MFPDB", "RelDistFramesB"):
        assert res.movs[name] == 0.0, name
    assert res.movs["BandwidthRefB"] == res.movs["BandwidthTestB"]


def test_identical_long_stereo_signal_gives_published_identical_odg():
    # 2 s at 48 kHz: the standard path (no lead-in), harmonic tone with vibrato-like AM, stereo.
    sr = 48000
    t = np.arange(2 * sr) / sr
    tone = sum(np.sin(2 * np.pi * 220 * h * t) / h for h in range(1, 60) if 220 * h < 20000)
    x = 0.1 * tone * (1 + 0.5 * np.sin(2 * np.pi * 2 * t))
    stereo = np.stack([x, 0.7 * x])
    res = peaq(stereo, stereo, sr)
    assert_finite(res)
    assert abs(res.odg - IDENTICAL_ODG) < 0.05


def test_more_noise_gives_lower_odg():
    x = snare()
    odgs = [peaq(x, with_noise(x, snr), 44100).odg for snr in (60, 40, 20, 0)]
    assert all(a > b for a, b in zip(odgs, odgs[1:], strict=False)), odgs
    assert odgs[0] > -0.5 and odgs[-1] < -2.0, odgs


def test_short_drum_clip_at_44k1_is_finite_and_measures_the_onset():
    x = burst()  # 0.2 s, far shorter than the 0.5 s the delayed MOVs skip
    res = peaq(x, with_noise(x, 20), 44100)
    assert_finite(res)
    # The short-clip rule places the hit after the 0.5 s warm-up, so the delayed MOVs see it.
    assert res.movs["AvgModDiff1B"] > 0.0
    assert res.movs["WinModDiff1B"] > 0.0
    assert res.odg < peaq(x, x, 44100).odg


@pytest.mark.parametrize("n", [1, 64, 2048, 4410])
def test_tiny_clips_are_finite(n):
    x = burst(seconds=1.0)[:n]
    assert_finite(peaq(x, 0.5 * x, 44100))
    assert_finite(peaq(x, np.zeros_like(x), 44100))


def test_silence_vs_silence_is_treated_as_identical():
    z = np.zeros(4410)
    res = peaq(z, z, 44100)
    assert_finite(res)
    # No distortion at all; the bandwidth MOVs are 0 (no frame has a measurable bandwidth),
    # which puts the grade a little below the one of identical music, still above 0.
    assert res.odg > 0.0
    assert all(res.movs[k] == 0.0 for k in MOV_NAMES if k != "TotalNMRB")
    assert_finite(peaq(np.zeros((2, 48000)), np.zeros((2, 48000)), 48000))


def test_stereo_with_equal_channels_matches_mono():
    x = snare(seconds=0.3)
    y = with_noise(x, 30)
    mono = peaq(x, y, 44100)
    stereo = peaq(np.stack([x, x]), np.stack([y, y]), 44100)
    assert stereo.odg == pytest.approx(mono.odg, abs=1e-9)
    for name in MOV_NAMES:
        assert stereo.movs[name] == pytest.approx(mono.movs[name], rel=1e-9, abs=1e-9)


def test_small_length_mismatch_is_padded():
    x = snare(seconds=0.3)
    res = peaq(x, x[:-100], 44100)  # 2.3 ms shorter
    assert_finite(res)


@pytest.mark.parametrize(
    ("reference", "test", "sr", "match"),
    [
        (np.array([]), np.array([]), 44100, "empty"),
        (np.array([0.1, np.nan, 0.2]), np.zeros(3), 44100, "non-finite"),
        (np.zeros(3), np.array([0.0, np.inf, 0.0]), 44100, "non-finite"),
        (np.zeros(44100), np.zeros(22050), 44100, "lengths differ by 22050"),
        (np.zeros((2, 100)), np.zeros((1, 100)), 44100, "channel counts differ"),
        (np.zeros((3, 100)), np.zeros((3, 100)), 44100, r"shape \(3, 100\)"),
        (np.zeros((100, 2)), np.zeros((100, 2)), 44100, "transpose"),
        (np.zeros((2, 2, 10)), np.zeros((2, 2, 10)), 44100, "must be"),
        (np.zeros(100, dtype=np.int16), np.zeros(100, dtype=np.int16), 44100, "int16"),
        (np.zeros(100), np.zeros(100), 0, "sr must be"),
        (np.zeros(100), np.zeros(100), 44100.5, "44100.5"),
    ],
)
def test_bad_input_raises(reference, test, sr, match):
    with pytest.raises(DrumsynthError, match=match):
        peaq(reference, test, sr)


def test_bad_level_raises():
    with pytest.raises(DrumsynthError, match="lp_db"):
        peaq(np.zeros(100), np.zeros(100), 48000, lp_db=float("nan"))


def test_conformance_runner_on_a_synthetic_folder(tmp_path):
    sr = 48000
    x = snare(sr=sr, seconds=0.3)
    sf.write(tmp_path / "arefsyn.wav", np.stack([x, x], axis=1), sr, subtype="PCM_16")
    sf.write(tmp_path / "acodsyn.wav", np.stack([x, x], axis=1), sr, subtype="PCM_16")
    (tmp_path / "Itemlist-E.txt").write_text(
        "Reference, Test items and resulting DI and ODG values for the\n"
        "basic version of the Rec. ITU-R BS.1387:\n\n"
        "1            arefsyn.wav   acodsyn.wav  3.000         0.100\n"
        "2            brefgone.wav  bcodgone.wav 1.000         -1.000\n\n"
        "Reference, Test items ... for the advanced version:\n"
        "1            arefsyn.wav   acodsyn.wav  9.999         9.999\n"
    )
    items = read_itemlist(tmp_path / "Itemlist-E.txt")
    assert [i["item"] for i in items] == ["acodsyn", "bcodgone"]
    missing: list[str] = []
    rows = run_conformance(tmp_path, missing=missing)
    assert missing == ["brefgone.wav", "bcodgone.wav"]
    assert len(rows) == 1 and rows[0]["item"] == "acodsyn"
    assert rows[0]["di_ref"] == 3.0 and rows[0]["d_di"] == pytest.approx(rows[0]["di"] - 3.0)
    table = format_table(rows, missing=missing)
    assert "| acodsyn |" in table and "median |ΔDI|" in table and "median |ΔODG|" in table
    assert "bcodgone.wav" in table


@pytest.mark.slow
def test_conformance_items_median_delta_di():
    if not (CONFORMANCE / "Itemlist-E.txt").is_file():
        pytest.skip(f"PEAQ conformance items not found at {CONFORMANCE} (../shared is absent)")
    rows = run_conformance(CONFORMANCE)
    assert len(rows) >= 10
    median = statistics.median(abs(r["d_di"]) for r in rows)
    assert median <= 0.1, format_table(rows)
