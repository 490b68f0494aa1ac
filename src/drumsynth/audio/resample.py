"""Sample-rate conversion (soxr, the high-quality resampler librosa itself uses)."""

from __future__ import annotations

import math
import numbers

import numpy as np
import soxr

from drumsynth.audio.io import MAX_RATE, MAX_SAMPLES
from drumsynth.errors import DrumsynthError


def resampled_length(n_samples: int, orig_sr: float, target_sr: float) -> int:
    """Length soxr produces for ``n_samples`` at ``orig_sr`` resampled to ``target_sr``."""
    return int(round(n_samples * target_sr / orig_sr))


def check_rate(sr: object, what: str = "sample rate") -> float:
    """``sr`` as a float if it is a real number in [1, MAX_RATE] Hz, else ``DrumsynthError``.

    NaN, infinite, zero, negative or huge rates would make soxr spin or allocate without bound.
    """
    if isinstance(sr, bool) or not isinstance(sr, numbers.Real):
        raise DrumsynthError(f"{what} {sr!r} is not a number")
    value = float(sr)
    if not math.isfinite(value) or not 1 <= value <= MAX_RATE:
        raise DrumsynthError(f"{what} {sr!r} is outside [1, {MAX_RATE}] Hz")
    return value


def resample(wave: np.ndarray, orig_sr: float, target_sr: float) -> np.ndarray:
    """Resample ``wave`` ([T] or [C, T] float) from ``orig_sr`` to ``target_sr``.

    Returns np.ndarray[T'] (or [C, T']) float32 with T' = round(T * target_sr / orig_sr).
    Raises ``DrumsynthError`` for a rate that is not a number in [1, MAX_RATE] Hz or an output over
    ``MAX_SAMPLES`` samples.
    """
    orig_sr, target_sr = check_rate(orig_sr, "source sample rate"), check_rate(target_sr, "target sample rate")
    wave = np.asarray(wave, dtype=np.float32)
    if orig_sr == target_sr:
        return wave.copy()
    length = resampled_length(wave.shape[-1], orig_sr, target_sr)
    if length * (wave.size // max(wave.shape[-1], 1)) > MAX_SAMPLES:
        raise DrumsynthError(
            f"resampling {wave.shape[-1]} samples from {orig_sr:g} to {target_sr:g} Hz would give {length} "
            f"samples per channel (limit {MAX_SAMPLES} in all)")
    if wave.ndim == 1:
        out = soxr.resample(wave, orig_sr, target_sr, quality="HQ")
    else:  # soxr wants [T, C]
        out = soxr.resample(wave.T, orig_sr, target_sr, quality="HQ").T
    # soxr rounds exact half-sample lengths its own way; pin the documented length so that callers
    # (and tests) can rely on it.
    out = out[..., :length]
    if out.shape[-1] < length:
        out = np.concatenate([out, np.zeros(out.shape[:-1] + (length - out.shape[-1],), out.dtype)], axis=-1)
    return np.ascontiguousarray(out, dtype=np.float32)
