"""Data augmentation for drum one-shots, driven by an explicit ``torch.Generator``.

Pitch shifting is done by resampling (varispeed): a drum played higher is also shorter, which is what
happens when a sampler transposes a one-shot, and it is what the style seed's ±3-semitone copies use.
Because it changes the length, it is applied once when a dataset is built (``pitch_copies``), while gain
and time shift are cheap per-batch tensor operations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from drumsynth.audio.resample import resample
from drumsynth.errors import DrumsynthError


def pitch_shift(wave: np.ndarray, semitones: float, sr: int = 44100) -> np.ndarray:
    """Varispeed pitch shift: np.ndarray[T] -> np.ndarray[T'] with T' ≈ T · 2^(-semitones/12)."""
    if semitones == 0:
        return np.asarray(wave, dtype=np.float32).copy()
    if abs(semitones) > 24:
        raise DrumsynthError(f"pitch shift of {semitones} semitones is outside ±24")
    # Playing back `ratio` times faster shortens the clip by `ratio`: the same as resampling to sr / ratio
    # and playing at sr.
    ratio = 2.0 ** (semitones / 12.0)
    return resample(wave, sr, int(round(sr / ratio)))


def random_gain(wave: torch.Tensor, generator: torch.Generator, low_db: float = -6.0,
                high_db: float = 0.0) -> torch.Tensor:
    """Scale each clip of Tensor[B, ..., T] by a gain drawn uniformly in dB."""
    shape = (wave.shape[0],) + (1,) * (wave.dim() - 1)
    gain_db = low_db + (high_db - low_db) * torch.rand(shape, generator=generator, device=wave.device)
    return wave * torch.pow(10.0, gain_db / 20.0)


def random_shift(wave: torch.Tensor, generator: torch.Generator, max_shift: int) -> torch.Tensor:
    """Delay each clip of Tensor[B, ..., T] by 0..max_shift samples (zeros enter, the tail drops).

    Only delays: a one-shot starts at its onset, and advancing it would cut the attack.
    """
    if max_shift <= 0:
        return wave
    shifts = torch.randint(0, max_shift + 1, (wave.shape[0],), generator=generator, device=wave.device)
    out = torch.zeros_like(wave)
    length = wave.shape[-1]
    for b, s in enumerate(shifts.tolist()):
        out[b, ..., s:] = wave[b, ..., :length - s]
    return out


@dataclass
class BatchAugment:
    """Per-batch augmentation: gain in dB and a small delay, each applied with probability ``p``."""

    gain_db: tuple[float, float] = (-6.0, 0.0)
    max_shift: int = 0
    p: float = 0.5

    def __call__(self, wave: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Tensor[B, 1, T] -> Tensor[B, 1, T]."""
        apply = torch.rand(2, generator=generator)
        if apply[0] < self.p:
            wave = random_gain(wave, generator, *self.gain_db)
        if apply[1] < self.p:
            wave = random_shift(wave, generator, self.max_shift)
        return wave
