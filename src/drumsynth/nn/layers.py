"""Progressive-GAN building blocks (Karras et al., ICLR 2018).

- Equalised learning rate: weights are stored as N(0, 1) and scaled at run time by He's constant
  ``gain / sqrt(fan_in)``, so Adam's per-parameter step sizes are the same for every layer.
- Pixel norm: every feature vector (over channels, at each position) is scaled to unit RMS.
- Minibatch standard deviation: one extra feature map holding the batch's average feature
  standard deviation, so the critic can see a lack of variety.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class EqualConv2d(nn.Module):
    """Conv2d with an equalised learning rate: Tensor[B, in, H, W] -> Tensor[B, out, H', W'].

    ``gain`` is sqrt(2) before a leaky ReLU and 1 for linear outputs (to-spectrogram layers).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 padding: int | tuple[int, int] = 0, *, bias: bool = True, gain: float = math.sqrt(2)) -> None:
        super().__init__()
        kernel = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, *kernel))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.scale = gain / math.sqrt(in_channels * kernel[0] * kernel[1])
        self.padding = padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


class EqualLinear(nn.Module):
    """Linear layer with an equalised learning rate: Tensor[B, in] -> Tensor[B, out]."""

    def __init__(self, in_features: int, out_features: int, *, bias: bool = True,
                 gain: float = math.sqrt(2)) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        self.scale = gain / math.sqrt(in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.scale, self.bias)


class PixelNorm(nn.Module):
    """Unit-RMS feature vectors along dim 1: Tensor[B, C, ...] -> same shape."""

    def __init__(self, eps: float = 1e-8) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + self.eps)


def minibatch_stddev(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Append the batch's mean feature std as a channel: Tensor[B, C, H, W] -> Tensor[B, C + 1, H, W].

    The statistic is taken over the whole batch (PGGAN's original form); a batch of one gets 0.
    """
    if x.shape[0] < 2:
        stat = x.new_zeros(())
    else:
        stat = torch.sqrt(x.var(dim=0, unbiased=False) + eps).mean()
    return torch.cat([x, stat.expand(x.shape[0], 1, *x.shape[2:])], dim=1)
