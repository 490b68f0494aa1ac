"""Sample-rate conversion (soxr, the high-quality resampler librosa itself uses)."""

from __future__ import annotations

import numpy as np
import soxr

from drumsynth.errors import DrumsynthError


def resampled_length(n_samples: int, orig_sr: int, target_sr: int) -> int:
    """Length soxr produces for ``n_samples`` at ``orig_sr`` resampled to ``target_sr``."""
    return int(round(n_samples * target_sr / orig_sr))


def resample(wave: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample ``wave`` ([T] or [C, T] float) from ``orig_sr`` to ``target_sr``.

    Returns np.ndarray[T'] (or [C, T']) float32 with T' = round(T * target_sr / orig_sr).
    """
    if orig_sr <= 0 or target_sr <= 0:
        raise DrumsynthError(f"sample rates must be positive, got {orig_sr} -> {target_sr}")
    wave = np.asarray(wave, dtype=np.float32)
    if orig_sr == target_sr:
        return wave.copy()
    if wave.ndim == 1:
        out = soxr.resample(wave, orig_sr, target_sr, quality="HQ")
    else:  # soxr wants [T, C]
        out = soxr.resample(wave.T, orig_sr, target_sr, quality="HQ").T
    # soxr rounds exact half-sample lengths its own way; pin the documented length so that callers
    # (and tests) can rely on it.
    length = resampled_length(wave.shape[-1], orig_sr, target_sr)
    out = out[..., :length]
    if out.shape[-1] < length:
        out = np.concatenate([out, np.zeros(out.shape[:-1] + (length - out.shape[-1],), out.dtype)], axis=-1)
    return np.ascontiguousarray(out, dtype=np.float32)
