"""Progressive-growing generator and critic of DrumGAN (Nistal et al. 2020/2022, after Karras et al. 2018).

Both networks hold every scale's block from the start; ``scale`` says how many are in use and
``alpha`` in [0, 1] fades the newest one in. At ``alpha = 0`` the output of scale ``s`` equals the
nearest-neighbour up-sampled output of scale ``s - 1`` (and the critic at scale ``s`` equals the
critic at ``s - 1`` on average-pooled input), so growing never changes the function abruptly.

Shapes: the generator maps ``z Tensor[B, latent_dim]`` and class weights ``c Tensor[B, C]`` to
``Tensor[B, 2, F_s, N_s]`` (real, imaginary) at the sizes of :func:`config.scale_sizes`; the critic
maps that back to ``(score Tensor[B], class estimate Tensor[B, C])``.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from drumsynth.nn.envelope import DecayEnvelope
from drumsynth.nn.layers import EqualConv2d, EqualLinear, PixelNorm, minibatch_stddev

LEAK = 0.2


def factor(sizes: list[tuple[int, int]], s: int) -> tuple[int, int]:
    """Up-sampling factor (frequency, time) from scale ``s - 1`` to ``s``."""
    return sizes[s][0] // sizes[s - 1][0], sizes[s][1] // sizes[s - 1][1]


def upsample(x: torch.Tensor, by: tuple[int, int]) -> torch.Tensor:
    """Nearest-neighbour up-sampling Tensor[B, C, H, W] -> Tensor[B, C, H * by[0], W * by[1]]."""
    if by == (1, 1):
        return x
    return x.repeat_interleave(by[0], dim=2).repeat_interleave(by[1], dim=3)


def upsample_smooth(x: torch.Tensor, by: tuple[int, int]) -> torch.Tensor:
    """Bilinear up-sampling Tensor[B, C, H, W] -> Tensor[B, C, H * by[0], W * by[1]] (half-pixel
    centres, edges clamped): neighbouring frames blend instead of repeating in steps."""
    if by == (1, 1):
        return x
    return F.interpolate(x, scale_factor=by, mode="bilinear", align_corners=False)


def downsample(x: torch.Tensor, by: tuple[int, int]) -> torch.Tensor:
    """Average pooling Tensor[B, C, H, W] -> Tensor[B, C, H / by[0], W / by[1]]."""
    return x if by == (1, 1) else F.avg_pool2d(x, kernel_size=by, stride=by)


def downsample_spec(x: torch.Tensor, by: tuple[int, int], eps: float = 1e-8) -> torch.Tensor:
    """Pool complex-STFT channels Tensor[B, 2, H, W] -> Tensor[B, 2, H / by[0], W / by[1]], keeping energy.

    A plain average of complex values cancels: the phase of a partial turns by 2*pi*f*hop/sr from
    frame to frame, so averaged real and imaginary parts are near zero and the coarse scales would
    hold no sound at all. Instead each cell gets the mean magnitude and the phase of the mean.
    """
    if by == (1, 1):
        return x
    mean = downsample(x, by)
    magnitude = downsample(torch.sqrt(x.pow(2).sum(1, keepdim=True) + eps * eps), by)
    # Clamped before the root, not after: a cell of exact zeros (silence under a decay envelope, padding in a
    # gradient-penalty interpolate) would otherwise send 0 * inf = NaN back through the square root.
    return mean * (magnitude / mean.pow(2).sum(1, keepdim=True).clamp_min(eps * eps).sqrt())


def conv_block(in_ch: int, out_ch: int, pixel_norm: bool) -> list[nn.Module]:
    layers: list[nn.Module] = [EqualConv2d(in_ch, out_ch, 3, padding=1), nn.LeakyReLU(LEAK)]
    return layers + [PixelNorm()] if pixel_norm else layers


class Generator(nn.Module):
    """[z, c] -> complex-STFT channels, grown progressively (see the module docstring)."""

    def __init__(self, *, latent_dim: int, n_classes: int, channels: list[int], sizes: list[tuple[int, int]],
                 class_bias: bool = False, smooth_upsample: bool = False, output_gate: bool = False,
                 envelope_length: int | None = None) -> None:
        super().__init__()
        self.upsample_features = upsample_smooth if smooth_upsample else upsample
        self.output_gate = output_gate
        self.latent_dim, self.n_classes = latent_dim, n_classes
        self.channels, self.sizes = list(channels), [tuple(s) for s in sizes]
        f0, n0 = self.sizes[0]
        self.pixel_norm = PixelNorm()
        # The seed's first block: a dense layer onto the coarsest grid (PGGAN's "4x4 conv on 1x1"),
        # then a 3x3 conv.
        self.input = EqualLinear(latent_dim + n_classes, channels[0] * f0 * n0)
        # c also gets its own dense path onto every cell of the coarsest grid. Concatenated alone it is
        # 3 of 131 inputs next to a pixel-normalised z, and the generator learned the same spectrum for
        # every class; with this path it separates them (docs/drumgan.md, coarse-scale diagnosis).
        self.class_embed = EqualLinear(n_classes, channels[0] * f0 * n0)
        self.blocks = nn.ModuleList([nn.Sequential(*conv_block(channels[0], channels[0], True))])
        for s in range(1, len(channels)):
            self.blocks.append(nn.Sequential(*conv_block(channels[s - 1], channels[s], True),
                                             *conv_block(channels[s], channels[s], True)))
        # With the output gate a third channel g scales both parts by sigmoid(g): a linear layer reaches
        # silence only where its inputs cancel, while a gate driven negative does so from any features
        # (the broadband floor behind run 5's ticks, docs/drumgan.md, session 13).
        self.to_spec = nn.ModuleList([EqualConv2d(ch, 3 if output_gate else 2, 1, gain=1.0) for ch in channels])
        # Optionally c also reaches every finer block, as a per-channel bias of its (up-sampled) input.
        # The coarse grid fixes the envelope and the broad spectral slope, but the upper octaves are
        # made by the fine blocks alone; without c there they add the same high band to every class,
        # and the `cpu` model's snares were judged cymbals above 8 kHz (docs/drumgan.md, run 5).
        self.class_bias = (nn.ModuleList([EqualLinear(n_classes, channels[s - 1]) for s in range(1, len(channels))])
                           if class_bias else None)
        # Optionally (``envelope_length``: the samples the full grid's frames span) every scale's frames are
        # multiplied by a decay envelope read off the coarsest block, the style family's remedy for hits that
        # swell and stop (docs/drumgan.md, session 14): a tail then fades as the envelope says, whatever the
        # floor of the output layer.
        self.envelope = DecayEnvelope(channels[0], envelope_length) if envelope_length else None

    @property
    def n_scales(self) -> int:
        return len(self.channels)

    def forward(self, z: torch.Tensor, c: torch.Tensor, scale: int | None = None, alpha: float = 1.0) -> torch.Tensor:
        """z Tensor[B, latent_dim], c Tensor[B, C] -> Tensor[B, 2, F_scale, N_scale] (default: full scale)."""
        scale = self.n_scales - 1 if scale is None else scale
        f0, n0 = self.sizes[0]
        # Pixel norm on z only: the class weights keep the magnitude the user set.
        h = self.input(torch.cat([self.pixel_norm(z), c], dim=1)) + self.class_embed(c)
        h = h.view(z.shape[0], self.channels[0], f0, n0)
        h = self.blocks[0](self.pixel_norm(F.leaky_relu(h, LEAK)))
        code = h.mean((2, 3)) if self.envelope is not None else None
        previous = h
        for s in range(1, scale + 1):
            previous = h
            up = self.upsample_features(h, factor(self.sizes, s))
            if self.class_bias is not None:
                up = up + self.class_bias[s - 1](c)[:, :, None, None]
            h = self.blocks[s](up)
        out = self.spectrum(scale, h, code)
        if scale > 0 and alpha < 1.0:
            skip = upsample(self.spectrum(scale - 1, previous, code), factor(self.sizes, scale))
            out = torch.lerp(skip, out, alpha)
        return out

    def spectrum(self, scale: int, h: torch.Tensor, code: torch.Tensor | None = None) -> torch.Tensor:
        """Block features Tensor[B, channels[scale], F, N] -> (real, imaginary) Tensor[B, 2, F, N], gated
        when ``output_gate`` is set, and its N frames shaped by the decay envelope of ``code``
        Tensor[B, channels[0]] (the coarsest block's mean features) when the generator has one."""
        out = self.to_spec[scale](h)
        if self.output_gate:
            out = out[:, :2] * torch.sigmoid(out[:, 2:])
        if code is not None:
            out = out * self.envelope(code, out.shape[-1])[:, :, None, :]
        return out


class Critic(nn.Module):
    """Complex-STFT channels -> (Wasserstein score, class estimate), mirroring the generator."""

    def __init__(self, *, latent_dim: int, n_classes: int, channels: list[int], sizes: list[tuple[int, int]]) -> None:
        super().__init__()
        del latent_dim
        self.n_classes = n_classes
        self.channels, self.sizes = list(channels), [tuple(s) for s in sizes]
        f0, n0 = self.sizes[0]
        self.from_spec = nn.ModuleList([nn.Sequential(EqualConv2d(2, ch, 1), nn.LeakyReLU(LEAK)) for ch in channels])
        self.blocks = nn.ModuleList([nn.Identity()])
        for s in range(1, len(channels)):
            self.blocks.append(nn.Sequential(*conv_block(channels[s], channels[s], False),
                                             *conv_block(channels[s], channels[s - 1], False)))
        self.final_conv = nn.Sequential(EqualConv2d(channels[0] + 1, channels[0], 3, padding=1), nn.LeakyReLU(LEAK))
        self.final_dense = nn.Sequential(EqualLinear(channels[0] * f0 * n0, channels[0]), nn.LeakyReLU(LEAK))
        self.head = EqualLinear(channels[0], 1 + n_classes, gain=1.0)

    @property
    def n_scales(self) -> int:
        return len(self.channels)

    def forward(self, x: torch.Tensor, scale: int | None = None, alpha: float = 1.0
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """x Tensor[B, 2, F_scale, N_scale] -> (score Tensor[B], class estimate Tensor[B, C])."""
        scale = self.n_scales - 1 if scale is None else scale
        h = self.from_spec[scale](x)
        if scale > 0:
            h = downsample(self.blocks[scale](h), factor(self.sizes, scale))
            if alpha < 1.0:
                skip = self.from_spec[scale - 1](downsample_spec(x, factor(self.sizes, scale)))
                h = torch.lerp(skip, h, alpha)
            for s in range(scale - 1, 0, -1):
                h = downsample(self.blocks[s](h), factor(self.sizes, s))
        h = self.final_conv(minibatch_stddev(h))
        out = self.head(self.final_dense(h.flatten(1)))
        return out[:, 0], out[:, 1:]


def real_at_scale(x: torch.Tensor, sizes: list[tuple[int, int]], scale: int, alpha: float) -> torch.Tensor:
    """Full-scale data Tensor[B, 2, F, N] as the critic sees it at ``scale`` while fading in.

    Pooled to the scale's size one factor at a time (:func:`downsample_spec`, as the critic's fade
    path does), then blended with its own coarser version exactly as the generator's output is
    (progressive GAN: real and fake go through the same fade).
    """
    here = x
    for s in range(len(sizes) - 1, scale, -1):
        here = downsample_spec(here, factor(sizes, s))
    if scale == 0 or alpha >= 1.0:
        return here
    by = factor(sizes, scale)
    return torch.lerp(upsample(downsample_spec(here, by), by), here, alpha)
