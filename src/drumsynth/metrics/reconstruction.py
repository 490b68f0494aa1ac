"""Reconstruction metrics for the encoders: MSE, SNR and log-spectral distance (DESIGN §4).

``x`` is the reference (the sound that was encoded), ``x_hat`` its reconstruction; both are
[B, T] (or [T], or [B, 1, T]) numpy arrays or torch tensors of the same shape, compared sample by
sample with no gain or delay compensation. Everything is computed in float64 and returned as a
Python float averaged over clips. Sanity check: x_hat = 0.5 · x gives SNR = LSD = 20·log10(2) = 6.02 dB.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from drumsynth.errors import DrumsynthError

# A perfect reconstruction has infinite SNR, which would swallow any mean over clips: per-clip values are
# clipped to ±120 dB (float32 rounding noise sits near -140 dB, so 120 dB means "exact up to storage").
SNR_CAP_DB = 120.0
# Clips per STFT batch: keeps complex128 spectrograms of a large evaluation set within a few hundred MB.
LSD_CHUNK = 64


def _as_batch(wave: Any, name: str) -> torch.Tensor:
    """float64 CPU tensor [B, T] from [T], [B, T] or [B, 1, T] arrays or tensors."""
    if isinstance(wave, torch.Tensor):
        t = wave.detach().to(device="cpu", dtype=torch.float64)
    else:
        try:
            t = torch.from_numpy(np.array(wave, dtype=np.float64))
        except (TypeError, ValueError) as err:
            raise DrumsynthError(f"{name} is not a numeric array: {err}") from err
    if t.ndim == 3 and t.shape[1] == 1:
        t = t[:, 0]
    elif t.ndim == 1:
        t = t[None]
    if t.ndim != 2:
        raise DrumsynthError(f"{name} must be [T], [B, T] or [B, 1, T], got shape {tuple(t.shape)}")
    if t.shape[0] == 0 or t.shape[1] == 0:
        raise DrumsynthError(f"{name} is empty (shape {tuple(t.shape)})")
    if not torch.isfinite(t).all():
        raise DrumsynthError(f"{name} contains NaN or infinite samples")
    return t


def _pair(x: Any, x_hat: Any) -> tuple[torch.Tensor, torch.Tensor]:
    ref, est = _as_batch(x, "x"), _as_batch(x_hat, "x_hat")
    if ref.shape != est.shape:
        raise DrumsynthError(f"x and x_hat differ in shape: {tuple(ref.shape)} vs {tuple(est.shape)}")
    return ref, est


def mse(x: Any, x_hat: Any) -> float:
    """Mean squared error mean((x − x̂)²) over every sample of every clip.

    Parameters
    ----------
    x, x_hat : array or Tensor[B, T] (or [T], [B, 1, T])
    """
    ref, est = _pair(x, x_hat)
    return float(torch.mean((ref - est) ** 2))


def snr_db(x: Any, x_hat: Any) -> float:
    """Signal-to-noise ratio 10·log10(Σx² / Σ(x − x̂)²) per clip, averaged in dB over clips.

    No gain or delay compensation. Per-clip values are clipped to ±``SNR_CAP_DB`` (120 dB): an exact
    reconstruction counts +120 dB, a silent reference with a non-silent reconstruction −120 dB.

    Parameters
    ----------
    x, x_hat : array or Tensor[B, T] (or [T], [B, 1, T])
    """
    ref, est = _pair(x, x_hat)
    signal = (ref**2).sum(dim=1)
    noise = ((ref - est) ** 2).sum(dim=1)
    per_clip = torch.empty_like(signal)
    exact = noise == 0
    silent = ~exact & (signal == 0)
    normal = ~exact & ~silent
    per_clip[exact] = SNR_CAP_DB
    per_clip[silent] = -SNR_CAP_DB
    per_clip[normal] = 10.0 * torch.log10(signal[normal] / noise[normal])
    return float(per_clip.clamp(-SNR_CAP_DB, SNR_CAP_DB).mean())


def _power_spectrogram(wave: torch.Tensor, n_fft: int, hop_length: int) -> torch.Tensor:
    """|STFT|² [B, n_fft // 2 + 1, frames], periodic Hann, centred frames."""
    window = torch.hann_window(n_fft, periodic=True, dtype=torch.float64)
    # Zero (not reflect) padding: a one-shot starts at its attack, and mirroring the attack into a
    # frame before t = 0 would invent a second onset; zeros also make a silent tail change nothing.
    spec = torch.stft(wave, n_fft, hop_length=hop_length, window=window, center=True, pad_mode="constant",
                      return_complex=True)
    return spec.real**2 + spec.imag**2


def lsd_per_clip(x: Any, x_hat: Any, *, n_fft: int = 2048, hop_length: int = 512, eps: float = 1e-10,
                 active_db: float = 60.0) -> np.ndarray:
    """Per-clip log-spectral distance in dB, np.ndarray[B] float64 (see :func:`lsd_db`)."""
    for name, value in (("n_fft", n_fft), ("hop_length", hop_length)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise DrumsynthError(f"{name} must be a positive integer, got {value!r}")
    if not eps > 0:
        raise DrumsynthError(f"eps must be positive, got {eps!r}")
    if not active_db > 0:
        raise DrumsynthError(f"active_db must be positive, got {active_db!r}")
    ref, est = _pair(x, x_hat)
    threshold = 10.0 ** (-float(active_db) / 10.0)
    out = []
    for start in range(0, ref.shape[0], LSD_CHUNK):
        p_ref = _power_spectrogram(ref[start:start + LSD_CHUNK], int(n_fft), int(hop_length))
        p_est = _power_spectrogram(est[start:start + LSD_CHUNK], int(n_fft), int(hop_length))
        diff = torch.log10(p_ref + eps) - torch.log10(p_est + eps)
        per_frame = torch.sqrt(torch.mean(diff**2, dim=1))  # [b, frames]
        energy = p_ref.sum(dim=1)  # [b, frames]; Parseval: the windowed frame's energy (times n_fft)
        loudest = energy.amax(dim=1, keepdim=True)
        active = energy >= loudest * threshold
        # A silent reference has no loudest frame to be near: every frame counts.
        active |= loudest == 0
        out.append(10.0 * (per_frame * active).sum(dim=1) / active.sum(dim=1))
    return torch.cat(out).numpy()


def lsd_db(x: Any, x_hat: Any, *, n_fft: int = 2048, hop_length: int = 512, eps: float = 1e-10,
           active_db: float = 60.0) -> float:
    """Log-spectral distance (dB) over active frames, averaged over clips.

    Per clip: 10 × mean over active frames of sqrt(mean over bins of
    (log10(|X|² + ε) − log10(|X̂|² + ε))²), with X the STFT of the reference (periodic Hann ``n_fft``,
    ``hop_length``, centred, zero-padded). A frame is active when the reference frame's energy is within
    ``active_db`` dB of the clip's loudest frame, so the silent padding of drum hits is not measured
    (a clip with an extra zero tail scores the same). An all-silent reference clip uses all frames.

    Parameters
    ----------
    x, x_hat : array or Tensor[B, T] (or [T], [B, 1, T])
        Reference and reconstruction, same shape.
    n_fft, hop_length : int
        STFT window (Hann) and hop in samples: 2048 / 512 as in DESIGN §4.
    eps : float
        Floor added to the power spectra before the log.
    active_db : float
        Dynamic range below the loudest reference frame that counts as active.
    """
    return float(np.mean(lsd_per_clip(x, x_hat, n_fft=n_fft, hop_length=hop_length, eps=eps,
                                      active_db=active_db)))
