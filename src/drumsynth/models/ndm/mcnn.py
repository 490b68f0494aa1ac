"""The multi-head CNN (MCNN) inverter: mel frames -> waveform, with the seed's binarised mask.

Arık, Jun & Diamos (2019), as modified by the Neural Drum Machine: every head is a stack of
bias-free 1-D transposed convolutions (width 13, stride 2, ELU between layers) whose channel count
halves towards the output; each head emits a signal and a mask logit; the signals are summed with
trainable head weights and squashed by a scaled softsign, the mask is ``σ(Σ_h m_h)`` (binarised at
inference). Without biases, all-zero mel frames give exactly zero output, and the mask cuts the
tail that the wide filters leak into the padding.

All heads run as one grouped convolution stack (``groups = heads`` after the first layer), which is
the same function as separate heads and several times faster on a CPU.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def head_channels(layers: int, channels: int) -> list[int]:
    """Output channels of each layer of one head: ``channels`` halving, floor 2, the last exactly 2.

    Seed (Arık et al.'s ``c_i = 2^(L-i)`` with a 2-channel (signal, mask) output): L = 8, 128 ->
    ``[128, 64, 32, 16, 8, 4, 2, 2]``.
    """
    out = [max(2, channels >> i) for i in range(layers - 1)]
    return [*out, 2]


class ScaledSoftsign(nn.Module):
    """``f(x) = a x / (1 + |b x|)`` with trainable scalars ``a`` and ``b`` (Arık et al. 2019)."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.ones(()))
        self.b = nn.Parameter(torch.ones(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.a * x / (1.0 + (self.b * x).abs())


class MCNN(nn.Module):
    """Mel magnitudes ``Tensor[B, n_mels, N]`` -> waveform ``Tensor[B, N * 2**layers]``.

    Parameters
    ----------
    n_mels : input mel bins
    heads : number of heads
    layers : transposed-conv layers per head (each doubles the length: 2**layers = hop length)
    width : filter width (odd)
    channels : output channels of a head's first layer (halving towards the output)

    Buffers
    -------
    input_gain : scalar the mel is multiplied by first (1 / RMS of the training mels, so the first
        layer sees unit-scale inputs; a gain keeps zeros zero, unlike a log)
    """

    def __init__(self, n_mels: int, heads: int = 8, layers: int = 8, width: int = 13,
                 channels: int = 128) -> None:
        super().__init__()
        self.heads, self.layers = heads, layers
        self.upsampling = 2 ** layers
        sizes = head_channels(layers, channels)
        pad = (width - 1) // 2
        convs = []
        c_in = n_mels
        for i, c in enumerate(sizes):
            # padding (w-1)/2 and output_padding 1 make each layer exactly x2: (n-1)*2 - 2p + w + 1 = 2n.
            convs.append(nn.ConvTranspose1d(c_in, heads * c, width, stride=2, padding=pad,
                                            output_padding=1, groups=1 if i == 0 else heads, bias=False))
            c_in = heads * c
        self.convs = nn.ModuleList(convs)
        self.head_weights = nn.Parameter(torch.full((heads,), 1.0 / heads))
        self.softsign = ScaledSoftsign()
        self.register_buffer("input_gain", torch.ones(()))

    def forward(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """mel : Tensor[B, n_mels, N] -> (signal, mask_logit), each Tensor[B, N * 2**layers].

        ``signal`` is the scaled softsign of the weighted head sum, before any mask.
        """
        x = mel * self.input_gain
        for i, conv in enumerate(self.convs):
            x = conv(x)
            if i < len(self.convs) - 1:
                x = F.elu(x)
        x = x.view(x.shape[0], self.heads, 2, x.shape[-1])
        signal = self.softsign(torch.einsum("h,bht->bt", self.head_weights, x[:, :, 0]))
        return signal, x[:, :, 1].sum(1)

    def train_output(self, mel: torch.Tensor, length: int | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        """Training path: ``(signal * σ(mask_logit), mask_logit)`` cropped to ``length`` samples."""
        signal, mask_logit = self(mel)
        if length is not None:
            signal, mask_logit = signal[:, :length], mask_logit[:, :length]
        return signal * torch.sigmoid(mask_logit), mask_logit

    def infer(self, mel: torch.Tensor, length: int | None = None) -> torch.Tensor:
        """Inference path: the signal times the *binarised* mask (σ > 0.5), clamped to [-1, 1].

        mel : Tensor[B, n_mels, N] -> Tensor[B, length] (default ``N * 2**layers``).
        """
        signal, mask_logit = self(mel)
        if length is not None:
            signal, mask_logit = signal[:, :length], mask_logit[:, :length]
        return (signal * (mask_logit > 0)).clamp(-1.0, 1.0)


# ---- losses ------------------------------------------------------------------------------------


def spectral_convergence(mel: torch.Tensor, mel_hat: torch.Tensor) -> torch.Tensor:
    """SC = ‖M − M̂‖_F / ‖M‖_F per clip, averaged: mel, mel_hat Tensor[B, n_mels, N] -> Tensor[]."""
    num = (mel - mel_hat).flatten(1).norm(dim=1)
    den = mel.flatten(1).norm(dim=1).clamp_min(1e-8)
    return (num / den).mean()


def log_spectral_convergence(mel: torch.Tensor, mel_hat: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """SClog = ‖log(M + ε) − log(M̂ + ε)‖_1 / ‖log(M + ε)‖_1 per clip, averaged -> Tensor[]."""
    log_ref = torch.log(mel + eps)
    num = (log_ref - torch.log(mel_hat + eps)).flatten(1).abs().sum(1)
    den = log_ref.flatten(1).abs().sum(1).clamp_min(1e-8)
    return (num / den).mean()


def mask_target(wave: torch.Tensor, window: int = 255, threshold_db: float = -60.0) -> torch.Tensor:
    """The supervised mask: 1 where the clip is sounding, 0 in silence and padding.

    A sample is sounding when its envelope — the largest ``|x|`` within ``window`` samples centred
    on it — is above ``10 ** (threshold_db / 20)`` (clips are peak-normalised, so this is relative
    to the peak). The max-filter bridges zero crossings and keeps the attack's first samples.

    wave : Tensor[B, T] -> Tensor[B, T] float 0/1
    """
    envelope = F.max_pool1d(wave.abs().unsqueeze(1), window, stride=1, padding=window // 2).squeeze(1)
    return (envelope > 10.0 ** (threshold_db / 20.0)).to(wave.dtype)
