"""Conditional WaveGAN generator and critic (Drysdale et al. 2020, after Donahue et al. 2019).

Lengths: scale ``s`` holds ``L_s = length / 4**(n_blocks - s)`` samples; scale 0 is the dense layer's
output, the last scale is the clip. Both networks hold the blocks of every scale; ``scale`` says how
many are in use and ``alpha`` in [0, 1] fades the newest one in (progressive growing, seed §3.2). At
``alpha = 0`` the generator at scale ``s`` outputs exactly the nearest-neighbour up-sampled output of
scale ``s - 1``, and the critic at ``s`` sees its input average-pooled to ``s - 1``. Scales below
``first_scale`` (where growing starts) have no to/from-waveform layers: they never make a clip.

Shapes: the generator maps ``z Tensor[B, latent_dim]`` and class weights ``c Tensor[B, C]`` (one-hot or
soft) to ``Tensor[B, 1, L_scale]`` in [-1, 1]; the critic maps that and ``c`` to a score ``Tensor[B]``.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from drumsynth.models.wavegan.config import UPSAMPLE

LEAK = 0.2


def upsample(x: torch.Tensor) -> torch.Tensor:
    """Nearest-neighbour up-sampling by 4: Tensor[B, C, L] -> Tensor[B, C, 4 L]."""
    return x.repeat_interleave(UPSAMPLE, dim=2)


def downsample(x: torch.Tensor) -> torch.Tensor:
    """Average pooling by 4: Tensor[B, C, L] -> Tensor[B, C, L / 4] (the coarser scales' "sample rate")."""
    return F.avg_pool1d(x, UPSAMPLE)


def real_at_scale(wave: torch.Tensor, lengths: list[int], scale: int, alpha: float) -> torch.Tensor:
    """Full-length clips Tensor[B, 1, T] as the critic sees them at ``scale`` while it fades in:
    pooled to ``lengths[scale]``, then blended with their own coarser version exactly as the
    generator's output is (progressive GAN: real and fake go through the same fade)."""
    here = wave
    for _ in range(len(lengths) - 1 - scale):
        here = downsample(here)
    if alpha >= 1.0 or scale == 0:
        return here
    return torch.lerp(upsample(downsample(here)), here, alpha)


class PhaseShuffle(nn.Module):
    """WaveGAN's phase shuffle: each example's activations move by k ~ U{-s, ..., s} samples, the
    gap filled by reflection; identity in eval mode.

    Tensor[B, C, L] -> Tensor[B, C, L] with ``out[b, :, t] = x[b, :, t - k_b]`` (reflected at the edges).
    """

    def __init__(self, shift: int) -> None:
        super().__init__()
        self.shift = int(shift)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if not self.training or self.shift == 0:
            return x
        b, c, n = x.shape
        s = self.shift
        # The shifts come from ``generator`` when given (the recipe's), else torch's global RNG (as
        # dropout does; the Trainer checkpoints both).
        device = generator.device if generator is not None else x.device
        k = torch.randint(-s, s + 1, (b,), generator=generator, device=device).to(x.device)
        padded = F.pad(x, (s, s), mode="reflect")
        index = torch.arange(n, device=x.device)[None, :] + (s - k)[:, None]
        return padded.gather(2, index[:, None, :].expand(b, c, n))


class Generator(nn.Module):
    """[z, class] -> waveform, grown progressively (see the module docstring).

    The class weights ``c`` pick (or mix) rows of a learned 50-d embedding (``embed``: a linear map,
    which for one-hot ``c`` is an embedding table). The seed: z and the embedding each go through a
    dense layer to the initial length and are concatenated (``channels[0]`` feature channels + 1 label
    channel); then blocks of x4 nearest up-sampling, a kernel-25 convolution and ReLU; tanh at the
    output. Ours: the embedding also reaches every later block as a per-channel bias of its
    up-sampled input (``class_every_block``), and a 1x1 convolution per scale maps features to the
    waveform (progressive GAN's "toRGB", so that every scale can output a clip).
    """

    def __init__(self, *, latent_dim: int, n_classes: int, embed_dim: int, channels: list[int], length: int,
                 kernel_size: int, first_scale: int, class_every_block: bool = True) -> None:
        super().__init__()
        self.latent_dim, self.n_classes = latent_dim, n_classes
        self.channels = list(channels)
        self.n_blocks = len(channels) - 1
        self.lengths = [length // UPSAMPLE ** (self.n_blocks - s) for s in range(self.n_blocks + 1)]
        self.first_scale = first_scale
        l0 = self.lengths[0]
        self.embed = nn.Linear(n_classes, embed_dim, bias=False)
        self.input = nn.Linear(latent_dim, channels[0] * l0)
        self.label_input = nn.Linear(embed_dim, l0)
        widths = [channels[0] + 1] + self.channels[1:]  # scale 0 carries the label channel too
        self.blocks = nn.ModuleList([nn.Conv1d(widths[s - 1], widths[s], kernel_size, padding=kernel_size // 2)
                                     for s in range(1, self.n_blocks + 1)])
        self.class_bias = (nn.ModuleList([nn.Linear(embed_dim, widths[s - 1]) for s in range(2, self.n_blocks + 1)])
                           if class_every_block else None)
        self.to_wave = nn.ModuleList([nn.Conv1d(widths[s], 1, 1) for s in range(first_scale, self.n_blocks + 1)])

    def forward(self, z: torch.Tensor, c: torch.Tensor, scale: int | None = None, alpha: float = 1.0
                ) -> torch.Tensor:
        """z Tensor[B, latent_dim], c Tensor[B, C] -> Tensor[B, 1, L_scale] in [-1, 1] (default: full length)."""
        scale = self.n_blocks if scale is None else scale
        e = self.embed(c)
        # unflatten, not view(len(z), ...): an export keeps the batch dimension dynamic.
        h = F.relu(self.input(z)).unflatten(1, (self.channels[0], self.lengths[0]))
        h = torch.cat([h, self.label_input(e)[:, None, :]], dim=1)
        previous = h
        for s in range(1, scale + 1):
            previous = h
            up = upsample(h)
            if self.class_bias is not None and s >= 2:
                up = up + self.class_bias[s - 2](e)[:, :, None]
            h = F.relu(self.blocks[s - 1](up))
        out = torch.tanh(self.to_wave[scale - self.first_scale](h))
        if alpha < 1.0 and scale > self.first_scale:
            skip = upsample(torch.tanh(self.to_wave[scale - 1 - self.first_scale](previous)))
            out = torch.lerp(skip, out, alpha)
        return out


class Critic(nn.Module):
    """(waveform, class) -> Wasserstein score, mirroring the generator.

    The class embedding goes through a dense layer to the clip's length and is concatenated to it as
    a second input channel (one such layer per scale); a 1x1 convolution per scale (progressive
    GAN's "fromRGB") maps the two channels to features; blocks of stride-4 kernel-25 convolutions
    with leaky ReLU 0.2 and phase shuffle (not after the last block, as in WaveGAN); a dense linear
    output.
    """

    def __init__(self, *, n_classes: int, embed_dim: int, channels: list[int], length: int, kernel_size: int,
                 first_scale: int, phase_shuffle: int = 2) -> None:
        super().__init__()
        self.n_classes = n_classes
        self.channels = list(channels)
        self.n_blocks = len(channels) - 1
        self.lengths = [length // UPSAMPLE ** (self.n_blocks - s) for s in range(self.n_blocks + 1)]
        self.first_scale = first_scale
        scales = range(first_scale, self.n_blocks + 1)
        self.embed = nn.Linear(n_classes, embed_dim, bias=False)
        self.label_to_length = nn.ModuleList([nn.Linear(embed_dim, self.lengths[s]) for s in scales])
        self.from_wave = nn.ModuleList([nn.Conv1d(2, channels[s], 1) for s in scales])
        # Block s takes scale s (channels[s], L_s) to scale s - 1 (channels[s - 1], L_s / 4).
        self.blocks = nn.ModuleList([nn.Conv1d(channels[s], channels[s - 1], kernel_size, stride=UPSAMPLE,
                                               padding=kernel_size // 2 - 1) for s in range(1, self.n_blocks + 1)])
        self.shuffle = PhaseShuffle(phase_shuffle)
        # No bias: it cancels in E[D(real)] - E[D(fake)] and the penalty never sees it (always zero gradient).
        self.head = nn.Linear(channels[0] * self.lengths[0], 1, bias=False)

    def _from_wave(self, x: torch.Tensor, e: torch.Tensor, scale: int) -> torch.Tensor:
        k = scale - self.first_scale
        label = self.label_to_length[k](e)[:, None, :]
        return F.leaky_relu(self.from_wave[k](torch.cat([x, label], dim=1)), LEAK)

    def _block(self, h: torch.Tensor, s: int, generator: torch.Generator | None) -> torch.Tensor:
        h = F.leaky_relu(self.blocks[s - 1](h), LEAK)
        return self.shuffle(h, generator) if s >= 2 else h

    def forward(self, x: torch.Tensor, c: torch.Tensor, scale: int | None = None, alpha: float = 1.0,
                generator: torch.Generator | None = None) -> torch.Tensor:
        """x Tensor[B, 1, L_scale], c Tensor[B, C] -> score Tensor[B]; ``generator`` drives phase shuffle."""
        scale = self.n_blocks if scale is None else scale
        e = self.embed(c)
        h = self._from_wave(x, e, scale)
        if scale > 0:
            h = self._block(h, scale, generator)
            if alpha < 1.0 and scale > self.first_scale:
                h = torch.lerp(self._from_wave(downsample(x), e, scale - 1), h, alpha)
            for s in range(scale - 1, 0, -1):
                h = self._block(h, s, generator)
        return self.head(h.flatten(1))[:, 0]
