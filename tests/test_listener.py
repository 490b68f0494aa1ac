"""Listener metrics: each moves the right way on a constructed case, has its analytic value where one
exists, ignores gain, and refuses bad input."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import synth_hit
from drumsynth.audio.resample import resample
from drumsynth.errors import DrumsynthError
from drumsynth.metrics import listener

SR = 44100


def lowpass(wave: np.ndarray, cutoff: float, sr: int = SR) -> np.ndarray:
    """Brick-wall low-pass through the FFT (what a 22.05 kHz model's output is, resampled to 44.1 kHz)."""
    spec = np.fft.rfft(wave)
    spec[np.fft.rfftfreq(len(wave), 1.0 / sr) > cutoff] = 0.0
    return np.fft.irfft(spec, len(wave)).astype(np.float32)


def tone(seconds: float, rate: float, freq: float = 110.0) -> np.ndarray:
    """A tom-like sine decaying by ``rate`` nepers per second: float32 [T], peak 1."""
    t = np.arange(int(seconds * SR)) / SR
    return (np.sin(2 * np.pi * freq * t) * np.exp(-rate * t)).astype(np.float32)


def decaying_noise(seconds: float, rate: float, seed: int = 0) -> np.ndarray:
    """A cymbal-like bright noise decaying by ``rate`` nepers per second: float32 [T], peak 1."""
    n = int(seconds * SR)
    x = np.diff(np.random.default_rng(seed).standard_normal(n + 1)) * np.exp(-rate * np.arange(n) / SR)
    return (x / np.max(np.abs(x))).astype(np.float32)


def test_high_band_share_drops_for_a_low_passed_hat():
    hat = synth_hit("hihat_closed")
    bright = listener.high_band_share(hat, SR)
    dull = listener.high_band_share(lowpass(hat, 8000.0), SR)
    assert bright > 0.3 and dull < 1e-6                      # differentiated noise: most energy is up high
    assert listener.high_band_share(0.1 * hat, SR) == pytest.approx(bright)
    assert listener.high_band_share(synth_hit("kick"), SR) < 1e-3
    via_22k = resample(resample(hat, SR, 22050), 22050, SR)  # a 22.05 kHz model's hat, played at 44.1 kHz
    assert listener.high_band_share(via_22k, SR) < 1e-3


def test_decay_time_of_an_exponential_and_of_a_truncated_tom():
    rate = 10.0                                              # 40 dB = ln(100) nepers: 0.46 s
    full = tone(1.5, rate)
    decay, sounding = listener.decay_time(full, SR)
    assert decay == pytest.approx(np.log(100) / rate, abs=0.02) and not sounding
    cut, cut_sounding = listener.decay_time(full[: int(0.2 * SR)], SR)
    assert cut < 0.2 and cut_sounding                        # ends 17 dB down: cut while still sounding
    assert listener.decay_time(0.01 * full, SR) == (decay, sounding)
    slower, _ = listener.decay_time(tone(2.0, rate / 2), SR)
    assert slower == pytest.approx(2 * decay, rel=0.05)


def test_attack_time_grows_when_the_onset_is_softened():
    hit = synth_hit("snare", seconds=0.5)
    sharp = listener.attack_time(hit, SR)
    ramp = np.minimum(1.0, np.arange(len(hit)) / (0.020 * SR)).astype(np.float32)  # 20 ms linear fade-in
    soft = listener.attack_time(hit * ramp, SR)
    assert sharp < 2.0 and 10.0 < soft < 20.0                # 10 % to 90 % of a 20 ms ramp: about 16 ms
    assert listener.attack_time(0.2 * hit, SR) == pytest.approx(sharp)


def test_tick_rate_counts_clicks_added_to_a_tail():
    clean = decaying_noise(1.0, 8.0)
    assert listener.tick_rate(clean, SR) == 0.0
    ticked = clean.copy()
    clicks = np.arange(int(0.05 * SR), int(0.95 * SR), int(0.025 * SR))   # every 25 ms: 36 clicks
    ticked[clicks] += 0.1
    rate = listener.tick_rate(ticked, SR)
    assert 15.0 < rate <= 40.0                               # the early ones drown in the loud start
    faint = clean.copy()
    faint[clicks] += 1e-4                                    # 80 dB down: below the floor, not audible
    assert listener.tick_rate(faint, SR) == 0.0
    assert listener.tick_rate(0.05 * ticked, SR) == pytest.approx(rate)
    assert listener.tick_rate(ticked[: int(0.02 * SR)], SR) == 0.0       # shorter than the skipped attack


def test_hit_metrics_and_summarise_per_class():
    waves = [tone(1.0, 10.0), tone(1.0, 10.0)[: SR // 5], synth_hit("hihat_closed"), decaying_noise(0.5, 20.0)]
    labels = ["tom", "tom", "hihat_closed", "hihat_closed"]
    values = listener.hit_metrics(waves, SR)
    assert set(values) == set(listener.METRICS) and all(len(v) == 4 for v in values.values())
    summary = listener.summarise(values, labels)
    assert list(summary) == ["tom", "hihat_closed"]
    tom = summary["tom"]
    assert tom["n"] == 2 and tom["still_sounding"] == 0.5
    low, mid, high = tom["decay_time"]
    assert low <= mid <= high and mid == pytest.approx(np.mean(values["decay_time"][:2]))
    assert summary["hihat_closed"]["high_band_share"][1] > 0.3
    with pytest.raises(DrumsynthError, match="labels"):
        listener.summarise(values, labels[:3])


@pytest.mark.parametrize("wave, message", [
    (np.zeros(100, np.float32), "silent"),
    (np.array([0.5, np.nan, 0.1], np.float32), "NaN"),
    (np.ones((2, 100), np.float32), "1-D"),
    (np.ones(1, np.float32), "1-D"),
])
def test_bad_hits_are_refused(wave, message):
    for metric in (listener.high_band_share, listener.decay_time, listener.attack_time, listener.tick_rate):
        with pytest.raises(DrumsynthError, match=message):
            metric(wave, SR)
    with pytest.raises(DrumsynthError, match="sample rate"):
        listener.high_band_share(np.ones(10), 0)
    with pytest.raises(DrumsynthError, match="no hits"):
        listener.hit_metrics([], SR)
