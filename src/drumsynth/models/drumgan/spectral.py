"""DrumGAN's representation: the complex STFT as real and imaginary channels, and back.

``wave Tensor[B, T] -> Tensor[B, 2, n_fft // 2, N]``: Hann STFT (n_fft = window, centred frames,
Nyquist bin dropped), optionally magnitude-compressed (``X |X|^(p - 1)``: the phase is kept, the
dynamic range shrinks; p = 1 is the seed's plain real/imag), times one gain fitted on the training
set so the data lie in [-1, 1]. Every step is exactly invertible, so ``to_wave(to_channels(x))``
reconstructs a clip up to float rounding.

The encoder sees a log-magnitude view (:func:`log_magnitude`): dB below each clip's peak, floored,
mapped to [0, 1] (silence = 0).
"""

from __future__ import annotations

import torch

from drumsynth.audio.dsp import istft_channels, stft_channels
from drumsynth.models.drumgan.config import DataConfig

_EPS = 1e-12


def compress(x: torch.Tensor, power: float) -> torch.Tensor:
    """Magnitude compression of channels Tensor[..., 2, F, N]: |X| -> |X|^power, phase kept."""
    if power == 1.0:
        return x
    magnitude = torch.sqrt(x.pow(2).sum(-3, keepdim=True) + _EPS)
    return x * magnitude.pow(power - 1.0)


def expand(x: torch.Tensor, power: float) -> torch.Tensor:
    """Inverse of :func:`compress`."""
    if power == 1.0:
        return x
    magnitude = torch.sqrt(x.pow(2).sum(-3, keepdim=True) + _EPS)
    return x * magnitude.pow(1.0 / power - 1.0)


def to_channels(wave: torch.Tensor, data: DataConfig, gain: float = 1.0) -> torch.Tensor:
    """Clips Tensor[B, length] -> model channels Tensor[B, 2, n_fft // 2, 1 + length // hop]."""
    spec = stft_channels(wave, data.n_fft, data.hop_length, data.n_fft, drop_nyquist_bin=True)
    return compress(spec, data.magnitude_power) * gain


def to_wave(channels: torch.Tensor, data: DataConfig, gain: float = 1.0) -> torch.Tensor:
    """Model channels Tensor[B, 2, F, N] -> clips Tensor[B, length] (inverse of :func:`to_channels`)."""
    spec = expand(channels / gain, data.magnitude_power)
    return istft_channels(spec, data.n_fft, data.hop_length, data.n_fft, length=data.length)


def log_magnitude(channels: torch.Tensor, data: DataConfig, gain: float = 1.0) -> torch.Tensor:
    """The encoder's view of model channels: Tensor[B, 2, F, N] -> Tensor[B, 1, F, N] in [0, 1].

    ``20 log10 |X|`` relative to the clip's loudest bin, floored at ``-encoder_floor_db`` (the
    seed's thresholding of silent parts: the encoder must not read the generator's faint
    high-frequency artefacts), then ``/ floor + 1``. Differentiable (the encoder's loss uses it on
    generated spectrograms).
    """
    power_spec = (channels / gain).pow(2).sum(1, keepdim=True) + _EPS
    # |X|^p -> dB of |X|: 10 log10(|X|^2p) / p
    db = 10.0 * torch.log10(power_spec) / data.magnitude_power
    db = db - db.amax(dim=(-2, -1), keepdim=True)
    floor = data.encoder_floor_db
    return db.clamp_min(-floor) / floor + 1.0
