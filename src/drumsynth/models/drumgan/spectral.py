"""DrumGAN's representation: the complex STFT as real and imaginary channels, and back.

``wave Tensor[B, T] -> Tensor[B, 2, n_fft // 2, N]``: Hann STFT (n_fft = window, centred frames),
optionally magnitude-compressed (``X |X|^(p - 1)``: the phase is kept, the dynamic range shrinks;
p = 1 is the seed's plain real/imag), times one gain fitted on the training set (RMS 0.5, see
:func:`data.fit_gain`).

The seed keeps 1024 of the 1025 bins, dropping the Nyquist bin. That loses the Nyquist component:
measured on the corpus's test kits, 8 of 52 hits came back with errors up to 9e-4 (a hit that
starts with a step has energy right up to fs/2). For a real signal the DC and Nyquist bins of every
frame are real, so we store the Nyquist value in the DC bin's (always zero) imaginary channel
(:func:`drumsynth.audio.dsp.pack_nyquist`):
the same 1024 x 48 grid, and ``to_wave(to_channels(x))`` reconstructs every clip up to float
rounding.

The encoder sees a log-magnitude view (:func:`log_magnitude`): dB below each clip's peak, floored,
mapped to [0, 1] (silence = 0).
"""

from __future__ import annotations

import torch

from drumsynth.audio.dsp import (
    channels_to_complex,
    complex_to_channels,
    istft,
    pack_nyquist,
    stft,
    stft_magnitude,
    unpack_nyquist,
)
from drumsynth.models.drumgan.config import DataConfig

_EPS = 1e-12


def compress(spec: torch.Tensor, power: float) -> torch.Tensor:
    """Magnitude compression of a complex spectrogram: |X| -> |X|^power, phase kept (any shape)."""
    if power == 1.0:
        return spec
    return spec * (stft_magnitude(spec) + _EPS).pow(power - 1.0)


def expand(spec: torch.Tensor, power: float) -> torch.Tensor:
    """Inverse of :func:`compress`."""
    if power == 1.0:
        return spec
    return spec * (stft_magnitude(spec) + _EPS).pow(1.0 / power - 1.0)


def phase_rotation(n_bins: int, n_frames: int, n_fft: int, hop_length: int, device=None) -> torch.Tensor:
    """``exp(-i 2 pi k hop t / n_fft)``: Tensor[n_bins, n_frames] complex, bin k, frame t.

    Each STFT frame measures phase from its own start, so a steady partial at bin k turns by
    ``2 pi k hop / n_fft`` per frame (k * 90 degrees at 75 % overlap). Multiplying by this rotation
    refers every frame's phase to the clip's start instead: a steady partial keeps a constant phase.
    A convolution cannot produce the bin-dependent rotation itself (it is translation-equivariant
    along frequency), and pooling frames of rotating phase cancels; after demodulation neither
    problem remains. DC and Nyquist rows stay real (their factors are +-1), so packing still holds.
    """
    k = torch.arange(n_bins, dtype=torch.float64, device=device)[:, None]
    t = torch.arange(n_frames, dtype=torch.float64, device=device)[None, :]
    # (k * hop * t) mod n_fft keeps the angle small and exact in float64.
    angle = -2.0 * torch.pi * torch.remainder(k * hop_length * t, n_fft) / n_fft
    return torch.polar(torch.ones_like(angle), angle).to(torch.complex64)


def to_channels(wave: torch.Tensor, data: DataConfig, gain: float = 1.0) -> torch.Tensor:
    """Clips Tensor[B, length] -> model channels Tensor[B, 2, n_fft // 2, 1 + length // hop]."""
    spec = stft(wave, data.n_fft, data.hop_length, data.n_fft, center=True)
    if data.demodulate:
        spec = spec * phase_rotation(*spec.shape[-2:], data.n_fft, data.hop_length, spec.device)
    return complex_to_channels(pack_nyquist(compress(spec, data.magnitude_power))) * gain


def to_wave(channels: torch.Tensor, data: DataConfig, gain: float = 1.0) -> torch.Tensor:
    """Model channels Tensor[B, 2, F, N] -> clips Tensor[B, length] (inverse of :func:`to_channels`)."""
    spec = expand(unpack_nyquist(channels_to_complex(channels / gain)), data.magnitude_power)
    if data.demodulate:
        spec = spec * phase_rotation(*spec.shape[-2:], data.n_fft, data.hop_length, spec.device).conj()
    return istft(spec, data.n_fft, data.hop_length, data.n_fft, center=True, length=data.length)


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


class InverseGraph(torch.nn.Module):
    """:func:`to_wave` in real arithmetic, for graph exports: Tensor[B, 2, F, n_frames] -> Tensor[B, length].

    The same steps with the complex ones written out on real tensors: divide by the gain, unpack the
    Nyquist bin, expand the magnitude, undo the phase rotation, inverse real DFT of each frame times the
    Hann window, overlap-add as ``n_fft / hop_length`` shifted copies, division by the summed squared
    window and the centre padding cut. It agrees with :func:`to_wave` to float32 rounding (~3e-7).

    ``fft=True`` takes each frame's inverse DFT with ``torch.fft.irfft`` (TorchScript and torch.export
    trace it). ``fft=False`` (ONNX has no inverse DFT a host can rely on, and its exporter handles complex
    tensors poorly) uses two matrix products with cosine and sine bases instead, about 20 times slower
    (a 0.55 s hit: ~150 ms against ~8 ms on one busy core). Those bases (``[n_fft/2 + 1, n_fft]``,
    8 MB each) are gathered inside ``forward`` from one period of cosine and sine: stored, they would
    quadruple the size of an exported file.

    Parameters
    ----------
    data : the model's DataConfig (``hop_length`` must divide ``n_fft``)
    gain : the channel gain of the checkpoint
    n_frames : the frame count of the generator's output (fixed: it sizes the rotation and envelope)
    fft : inverse DFT by ``torch.fft.irfft`` (True) or by real matrix products (False, for ONNX)
    """

    def __init__(self, data: DataConfig, gain: float, n_frames: int, fft: bool = False) -> None:
        super().__init__()
        n_fft, hop = data.n_fft, data.hop_length
        if n_fft % hop:
            raise ValueError(f"InverseGraph needs hop_length to divide n_fft, got {hop} and {n_fft}")
        self.n_fft, self.hop_length, self.length = n_fft, hop, data.length
        self.gain, self.power, self.fft = float(gain), float(data.magnitude_power), bool(fft)
        bins = n_fft // 2 + 1
        angle = 2.0 * torch.pi * torch.arange(n_fft, dtype=torch.float64) / n_fft
        self.register_buffer("cos_table", torch.cos(angle).float())
        self.register_buffer("sin_table", torch.sin(angle).float())
        # irfft weights every bin but DC and Nyquist twice; 1 / n_fft and the synthesis window fold in.
        weight = torch.full((bins, 1), 2.0 / n_fft, dtype=torch.float64)
        weight[0] = weight[-1] = 1.0 / n_fft
        self.register_buffer("bin_weight", weight.float())
        window = torch.hann_window(n_fft, periodic=True, dtype=torch.float64)
        self.register_buffer("window", window.float())
        rotation = phase_rotation(bins, n_frames, n_fft, hop) if data.demodulate else None
        ones = torch.ones(bins, n_frames)
        self.register_buffer("rotation_re", ones if rotation is None else rotation.real.contiguous())
        self.register_buffer("rotation_im", 0 * ones if rotation is None else rotation.imag.contiguous())
        overlap = n_fft // hop
        envelope = torch.zeros((n_frames + overlap - 1) * hop, dtype=torch.float64)
        for t in range(n_frames):
            envelope[t * hop:t * hop + n_fft] += window.square()
        envelope = envelope[n_fft // 2:n_fft // 2 + data.length]
        self.register_buffer("inverse_envelope", (1.0 / envelope).float())

    def forward(self, channels: torch.Tensor) -> torch.Tensor:
        x = channels / self.gain
        re, im = x[:, 0], x[:, 1]                                      # [B, F, N], bin 0 = DC + i Nyquist
        zero = torch.zeros_like(re[:, :1])
        re = torch.cat([re, im[:, :1]], dim=1)                         # [B, F + 1, N]
        im = torch.cat([zero, im[:, 1:], zero], dim=1)
        if self.power != 1.0:
            scale = (torch.sqrt(re * re + im * im) + _EPS).pow(1.0 / self.power - 1.0)
            re, im = re * scale, im * scale
        # times conj(rotation): frames measure phase from their own start again
        re, im = (re * self.rotation_re + im * self.rotation_im, im * self.rotation_re - re * self.rotation_im)
        bins, n_fft = re.shape[1], self.n_fft
        if self.fft:
            frames = torch.fft.irfft(torch.complex(re, im), n=n_fft, dim=1).transpose(1, 2) * self.window
        else:
            index = torch.remainder(torch.arange(bins, device=x.device)[:, None]
                                    * torch.arange(n_fft, device=x.device)[None, :], n_fft)
            taper = self.bin_weight * self.window
            frames = (torch.einsum("bkt,kn->btn", re, self.cos_table[index] * taper)
                      - torch.einsum("bkt,kn->btn", im, self.sin_table[index] * taper))  # [B, N, n_fft]
        batch, n_frames = frames.shape[0], frames.shape[1]
        overlap = n_fft // self.hop_length
        chunks = frames.reshape(batch, n_frames, overlap, self.hop_length)
        total = torch.nn.functional.pad(chunks[:, :, 0], (0, 0, 0, overlap - 1))
        for r in range(1, overlap):
            total = total + torch.nn.functional.pad(chunks[:, :, r], (0, 0, r, overlap - 1 - r))
        wave = total.reshape(batch, (n_frames + overlap - 1) * self.hop_length)
        start = n_fft // 2
        return wave[:, start:start + self.length] * self.inverse_envelope
