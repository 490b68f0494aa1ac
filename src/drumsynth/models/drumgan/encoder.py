"""The encoder E of DrumGAN VST (the seed's Table 3): log-magnitude spectrogram -> (z, c).

Six 3x3 conv layers (32-64-128-128-64-32 channels, strides alternating 2x2 / 2x1, padding 1), each
followed by batch norm and a leaky ReLU, no biases; then fully connected layers
(flattened 3072 -> 1024 -> 512 -> latent_dim + C for the seed's 1024 x 48 input). The last layer is
split into z (no non-linearity) and c (softmax).
"""

from __future__ import annotations

import torch
from torch import nn

LEAK = 0.2


def conv_out(size: int, stride: int) -> int:
    """Output length of a kernel-3, padding-1 convolution."""
    return (size + 2 - 3) // stride + 1


class Encoder(nn.Module):
    """Tensor[B, 1, F, N] log-magnitude in [0, 1] -> (z Tensor[B, latent_dim], c Tensor[B, C])."""

    def __init__(self, *, input_size: tuple[int, int], latent_dim: int, n_classes: int, channels: list[int],
                 strides: list[tuple[int, int]], fc: list[int]) -> None:
        super().__init__()
        self.latent_dim, self.n_classes = latent_dim, n_classes
        layers: list[nn.Module] = []
        in_ch, (f, n) = 1, input_size
        for ch, (sf, st) in zip(channels, strides, strict=True):
            layers += [nn.Conv2d(in_ch, ch, 3, stride=(sf, st), padding=1, bias=False), nn.BatchNorm2d(ch),
                       nn.LeakyReLU(LEAK)]
            in_ch, f, n = ch, conv_out(f, sf), conv_out(n, st)
        self.convs = nn.Sequential(*layers)
        dense: list[nn.Module] = []
        width = in_ch * f * n
        for hidden in fc:
            dense += [nn.Linear(width, hidden, bias=False), nn.BatchNorm1d(hidden), nn.LeakyReLU(LEAK)]
            width = hidden
        self.dense = nn.Sequential(*dense)
        self.out = nn.Linear(width, latent_dim + n_classes)
        self.flat_size = in_ch * f * n

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.out(self.dense(self.convs(x).flatten(1)))
        return out[:, :self.latent_dim], torch.softmax(out[:, self.latent_dim:], dim=1)
