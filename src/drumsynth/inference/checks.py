"""Checks of the Session's arguments: every bad value is a ``DrumsynthError`` that names it.

The Session is the API behind every front end (CLI, OSC, web), so it trusts nothing it is given: counts,
seeds and rates must be true integers in range (``True``, ``2.0`` and ``"3"`` are refused; numpy integers
are fine), sounds must be finite float arrays of bounded size, and latents must be finite and within
``LATENT_LIMIT`` per component: far outside the prior the decoders overflow to NaN (``generate(z=1e6)``
did), and no trained model has anything to say out there.
"""

from __future__ import annotations

import math
import operator

import numpy as np
import torch

from drumsynth.audio.io import MAX_CHANNELS, MAX_RATE
from drumsynth.audio.io import MAX_SECONDS as MAX_WAVE_SECONDS
from drumsynth.errors import DrumsynthError
from drumsynth.inference.latent import finite_scalar

MAX_HITS = 4096
MAX_SEED = 2**63 - 1  # torch.Generator.manual_seed's signed range
# A sound given in memory has the same limits as one read from a file.
SR_RANGE = (1000, MAX_RATE)
# The priors are N(0, I) or class Gaussians a few units wide, and navigation moves a few units from the
# centre: 1e3 per component is far beyond anything musical and well below where decoders overflow.
LATENT_LIMIT = 1e3

real = finite_scalar  # a finite real number: real(name, value) -> float


def integer(name: str, value: object, lo: int, hi: int) -> int:
    """``value`` as an int in ``[lo, hi]``; bools, floats, strings and arrays are refused."""
    if isinstance(value, bool | np.bool_):
        raise DrumsynthError(f"{name} must be an integer, got {value!r}")
    try:
        number = operator.index(value)
    except TypeError:
        raise DrumsynthError(f"{name} must be an integer, got {value!r}") from None
    if not lo <= number <= hi:
        raise DrumsynthError(f"{name} must be between {lo} and {hi}, got {number}")
    return number


def seed(value: object, name: str = "seed") -> int:
    """A seed: an integer in [0, 2**63 - 1]."""
    return integer(name, value, 0, MAX_SEED)


def sample_rate(value: object) -> int:
    """A sample rate: an integer number of Hz in ``SR_RANGE``."""
    return integer("sr", value, *SR_RANGE)


def wave(value: object, sr: int) -> np.ndarray:
    """One sound as np.ndarray[T] float32: from a float array [T] or [C, T] (channels averaged).

    ``sr`` (already checked) bounds the duration at ``MAX_WAVE_SECONDS``.
    """
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if not isinstance(value, np.ndarray):
        raise DrumsynthError(f"wave must be a float array [T] or [C, T], got {type(value).__name__}")
    if value.dtype.kind != "f":
        raise DrumsynthError(f"wave must hold float samples in [-1, 1], got dtype {value.dtype}"
                             + (" (integer PCM: divide by its full scale)" if value.dtype.kind in "iu" else ""))
    if value.ndim == 2:
        if not 1 <= value.shape[0] <= MAX_CHANNELS:
            raise DrumsynthError(f"wave must be [T] or [C, T] with C <= {MAX_CHANNELS}, got shape "
                                 f"{value.shape} (soundfile reads [T, C]: pass its transpose)")
    elif value.ndim != 1:
        raise DrumsynthError(f"wave must be [T] or [C, T], got shape {value.shape}")
    length = value.shape[-1]
    if length == 0:
        raise DrumsynthError("wave is empty (0 samples)")
    if length > MAX_WAVE_SECONDS * sr:
        raise DrumsynthError(f"wave is {length / sr:.0f} s long at {sr} Hz (limit {MAX_WAVE_SECONDS:.0f} s)")
    if not np.all(np.isfinite(value)):
        raise DrumsynthError("wave holds NaN or infinite samples")
    mono = value.mean(axis=0) if value.ndim == 2 else value
    return np.ascontiguousarray(mono, dtype=np.float32)


def latent(z: object, latent_dim: int) -> torch.Tensor:
    """Codes as float32 Tensor[B, latent_dim] (a single Tensor[latent_dim] becomes [1, latent_dim]),
    finite and within ``LATENT_LIMIT`` per component."""
    if not isinstance(z, torch.Tensor | np.ndarray):
        raise DrumsynthError(f"z must be a Tensor[n, {latent_dim}] of latents, got {type(z).__name__}")
    z = torch.as_tensor(z)
    if not (z.is_floating_point() or z.dtype in (torch.int32, torch.int64)):
        raise DrumsynthError(f"z must hold real numbers, got dtype {z.dtype}")
    z = z.detach().float().cpu()
    if z.ndim == 1:
        z = z[None]
    if z.ndim != 2 or z.shape[1] != latent_dim or not 1 <= z.shape[0] <= MAX_HITS:
        raise DrumsynthError(f"z must be [n, {latent_dim}] with 1 <= n <= {MAX_HITS}, got {tuple(z.shape)}")
    if not torch.isfinite(z).all():
        raise DrumsynthError("z holds NaN or infinite values")
    return z


def latent_in_range(z: torch.Tensor, where: str = "") -> torch.Tensor:
    """``z`` if every component is within ``LATENT_LIMIT``; else an error that says how far out it is."""
    peak = float(z.abs().max()) if z.numel() else 0.0
    if not math.isfinite(peak) or peak > LATENT_LIMIT:
        raise DrumsynthError(f"latent component of magnitude {peak:.3g} is beyond the limit {LATENT_LIMIT:g}"
                             f"{where}: far outside the prior a model decodes noise or NaN")
    return z


def finite_output(waves: torch.Tensor, family: str) -> torch.Tensor:
    """The model's waves, or an error when it produced NaN or infinite samples."""
    if not torch.isfinite(waves).all():
        raise DrumsynthError(f"the {family} model produced NaN or infinite samples for this latent and "
                             "class weights; nothing was written")
    return waves
