"""Listener metrics: per-hit properties a producer hears that the 3-class Table 1 does not see.

Every measure is relative to the hit's own level, so gain does not matter. For one hit (np.ndarray[T]):

- ``high_band_share``: share of the hit's energy above 11 kHz (a 22.05 kHz model has none; real closed
  hats keep about a sixth of theirs there).
- ``decay_time``: seconds from the loudest 10 ms frame to the last frame within 40 dB of it. A hit whose
  last 50 ms are still within 40 dB of its peak is ``still_sounding``: it was cut, and its decay time is
  only a lower bound.
- ``attack_time``: onset sharpness, milliseconds from 10 % to 90 % of the peak of a 2 ms RMS envelope
  (lower is sharper; a hit faded in over 20 ms takes about 16 ms).
- ``tick_rate``: the periodic-artifact score, events per second in which the energy above 4 kHz rises
  by more than 6 dB within two 1.45 ms STFT hops to within 50 dB of the hit's loudest frame, counted from
  30 ms after the peak to 1 s after it. A decaying tail rises nowhere; a broadband tick in the
  tail (drumgan's, 26–36 dB below the peak) rises by 10–30 dB.

``hit_metrics`` applies all four to a set of hits of any lengths; ``summarise`` gives per-class
medians and interquartile ranges. docs/evaluation.md shows what each one measures and where it fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from drumsynth.errors import DrumsynthError

HIGH_BAND_HZ = 11000.0
DECAY_DB = 40.0
DECAY_FRAME_S, DECAY_HOP_S = 0.010, 0.005
TAIL_S = 0.050             # "still sounding": the last 50 ms within DECAY_DB of the peak
ATTACK_WINDOW_S = 0.002    # RMS window of the attack envelope
ATTACK_LOW, ATTACK_HIGH = 0.1, 0.9
TICK_BAND_HZ = 4000.0
TICK_N_FFT, TICK_HOP = 256, 64
TICK_RISE_DB = 6.0         # rise of the >4 kHz band energy over TICK_LAG hops that counts as a tick
TICK_LAG = 2
TICK_FLOOR_DB = 50.0       # band energy below (the hit's loudest frame - this) is floor flicker, not a tick
TICK_SKIP_S = 0.030        # after the peak: the attack's own rise is not an artifact
TICK_SPAN_S = 1.0          # how far after the peak ticks are counted (generated hits last 0.55-1 s)
METRICS = ("high_band_share", "decay_time", "still_sounding", "attack_time", "tick_rate")


def _check(wave: Any, sr: int) -> np.ndarray:
    """A finite, non-silent mono hit as float64 [T]; anything else is a ``DrumsynthError``."""
    x = np.asarray(wave, dtype=np.float64)
    if x.ndim != 1 or x.size < 2:
        raise DrumsynthError(f"a hit must be a 1-D array of at least 2 samples, got shape {x.shape}")
    if not isinstance(sr, (int, np.integer)) or sr <= 0:
        raise DrumsynthError(f"sample rate must be a positive integer, got {sr!r}")
    if not np.all(np.isfinite(x)):
        raise DrumsynthError("the hit contains NaN or infinite samples")
    if not np.any(x):
        raise DrumsynthError("the hit is silent (all samples are zero)")
    return x


def rms_envelope(x: np.ndarray, frame: int, hop: int) -> np.ndarray:
    """RMS of frames of ``frame`` samples every ``hop`` samples (the last frame may be shorter): [F]."""
    frame = max(1, min(frame, len(x)))
    c = np.concatenate([[0.0], np.cumsum(x * x)])
    starts = np.arange(0, max(1, len(x) - frame + 1), hop)
    return np.sqrt((c[starts + frame] - c[starts]) / frame)


def high_band_share(wave: Any, sr: int, cutoff: float = HIGH_BAND_HZ) -> float:
    """Share of the hit's energy above ``cutoff`` Hz, from its whole-clip power spectrum (0 to 1)."""
    x = _check(wave, sr)
    power = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1.0 / sr)
    return float(power[freqs > cutoff].sum() / power.sum())


def decay_time(wave: Any, sr: int, drop_db: float = DECAY_DB) -> tuple[float, bool]:
    """(seconds from the loudest 10 ms frame to the last one within ``drop_db`` of it, still sounding).

    ``still_sounding`` is True when the RMS of the last 50 ms is within ``drop_db`` of the peak frame's:
    the hit ends before it has decayed, and the time is a lower bound.
    """
    x = _check(wave, sr)
    hop = max(1, int(round(DECAY_HOP_S * sr)))
    env = rms_envelope(x, int(round(DECAY_FRAME_S * sr)), hop)
    peak = int(np.argmax(env))
    threshold = env[peak] * 10 ** (-drop_db / 20)
    last = int(np.flatnonzero(env >= threshold)[-1])
    tail = x[-max(1, int(round(TAIL_S * sr))):]
    sounding = bool(np.sqrt(np.mean(tail * tail)) >= threshold)
    return (last - peak) * hop / sr, sounding


def attack_time(wave: Any, sr: int) -> float:
    """Milliseconds from 10 % to 90 % of the peak of the 2 ms RMS envelope (sample resolution)."""
    x = _check(wave, sr)
    env = rms_envelope(x, int(round(ATTACK_WINDOW_S * sr)), 1)
    top = env.max()
    start = int(np.argmax(env >= ATTACK_LOW * top))
    reach = start + int(np.argmax(env[start:] >= ATTACK_HIGH * top))
    return 1000.0 * (reach - start) / sr


def band_energy_db(x: np.ndarray, sr: int, low_hz: float = TICK_BAND_HZ) -> np.ndarray:
    """Energy above ``low_hz`` per STFT frame (Hann 256, hop 64), in dB relative to the loudest frame of
    the *whole* band, floored at -120 dB: float64 [F]. Relative to the full band so that a near-empty
    band (a kick's top octaves) flickering at the noise floor stays far below any threshold."""
    n = max(len(x), TICK_N_FFT)
    x = np.pad(x, (0, n - len(x)))
    frames = np.lib.stride_tricks.sliding_window_view(x, TICK_N_FFT)[::TICK_HOP]
    spec = np.abs(np.fft.rfft(frames * np.hanning(TICK_N_FFT), axis=1)) ** 2
    band = spec[:, np.fft.rfftfreq(TICK_N_FFT, 1.0 / sr) >= low_hz].sum(axis=1)
    return 10 * np.log10(np.maximum(band / max(spec.sum(axis=1).max(), 1e-300), 1e-12))


def tick_rate(wave: Any, sr: int, rise_db: float = TICK_RISE_DB) -> float:
    """Ticks per second after the attack: events where the >4 kHz band rises by more than ``rise_db``
    over two hops (consecutive rising frames count once) to within 50 dB of the hit's loudest frame."""
    x = _check(wave, sr)
    if sr / 2 <= TICK_BAND_HZ:
        return 0.0
    env = rms_envelope(x, int(round(DECAY_FRAME_S * sr)), TICK_HOP)
    peak_s = int(np.argmax(env)) * TICK_HOP / sr
    e = band_energy_db(x, sr)
    t = np.arange(len(e)) * TICK_HOP / sr
    rise = np.zeros(len(e), dtype=bool)
    rise[TICK_LAG:] = (e[TICK_LAG:] - e[:-TICK_LAG] > rise_db) & (e[TICK_LAG:] > -TICK_FLOOR_DB)
    start, stop = peak_s + TICK_SKIP_S, min(peak_s + TICK_SPAN_S, len(x) / sr)
    window = (t >= start) & (t + TICK_N_FFT / sr <= stop)
    if stop - start <= 0.0 or not window.any():
        return 0.0
    spike = rise & window
    events = int(np.sum(spike[1:] & ~spike[:-1]) + spike[0])
    return events / (stop - start)


def hit_metrics(waves: Sequence[Any], sr: int) -> dict[str, np.ndarray]:
    """Every listener metric for each hit: {name: float64 [N]} (``still_sounding`` as 0/1), names
    ``METRICS``. Hits may differ in length."""
    if len(waves) == 0:
        raise DrumsynthError("no hits to measure")
    out: dict[str, list[float]] = {k: [] for k in METRICS}
    for w in waves:
        decay, sounding = decay_time(w, sr)
        out["high_band_share"].append(high_band_share(w, sr))
        out["decay_time"].append(decay)
        out["still_sounding"].append(float(sounding))
        out["attack_time"].append(attack_time(w, sr))
        out["tick_rate"].append(tick_rate(w, sr))
    return {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}


def summarise(values: dict[str, np.ndarray], labels: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per class, in order of first appearance: ``{class: {"n", metric: [q25, median, q75], ...}}``;
    ``still_sounding`` becomes the share of hits cut while still sounding."""
    labels = list(labels)
    out: dict[str, dict[str, Any]] = {}
    for cls in dict.fromkeys(labels):
        rows = np.array([lab == cls for lab in labels])
        row: dict[str, Any] = {"n": int(rows.sum())}
        for key, v in values.items():
            if len(v) != len(labels):
                raise DrumsynthError(f"{key} has {len(v)} values for {len(labels)} labels")
            row[key] = float(v[rows].mean()) if key == "still_sounding" else \
                [float(q) for q in np.percentile(v[rows], [25, 50, 75])]
        out[cls] = row
    return out
