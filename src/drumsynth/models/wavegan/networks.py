"""Conditional WaveGAN generator and critic (Drysdale et al. 2020, after Donahue et al. 2019).

Lengths: scale ``s`` holds ``L_s = length / 4**(n_blocks - s)`` samples; scale 0 is the dense layer's
output, the last scale is the clip. Both networks hold the blocks of every scale; ``scale`` says how
many are in use and ``alpha`` in [0, 1] fades the newest one in (progressive growing, seed §3.2). At
``alpha = 0`` the generator at scale ``s`` outputs exactly the up-sampled output of scale ``s - 1``
(``model.upsampling``), and the critic at ``s`` sees its input average-pooled to ``s - 1``. Scales below
``first_scale`` (where growing starts) have no to/from-waveform layers: they never make a clip.

Shapes: the generator maps ``z Tensor[B, latent_dim]`` and class weights ``c Tensor[B, C]`` (one-hot or
soft) to ``Tensor[B, 1, L_scale]`` in [-1, 1]; the critic maps that and ``c`` to a score ``Tensor[B]``.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from drumsynth.nn.envelope import DecayEnvelope
from drumsynth.nn.wave import scale_lengths, upsample


class Generator(nn.Module):
    """[z, class] -> waveform, grown progressively (see the module docstring).

    The class weights ``c`` pick (or mix) rows of a learned 50-d embedding (``embed``: a linear map,
    which for one-hot ``c`` is an embedding table). The seed: z and the embedding each go through a
    dense layer to the initial length and are concatenated (``channels[0]`` feature channels + 1 label
    channel); then blocks of x4 nearest up-sampling, a kernel-25 convolution and ReLU; tanh at the
    output. Ours: the embedding also reaches every later block as a per-channel bias of its
    up-sampled input (``class_every_block``), and a 1x1 convolution per scale maps features to the
    waveform (progressive GAN's "toRGB", so that every scale can output a clip).

    ``envelope_scale`` (ours; ``None`` = the seed's network): from that scale on, the output is multiplied
    by a :class:`DecayEnvelope` of [z, class embedding], faded in with that scale's block. Why: a 0.74 s
    run without it left snares hissing to the end of the clip (docs/wavegan.md): tanh of ReLU features
    with biases has no way to be silent, while an envelope makes the tail as quiet as it says.
    """

    def __init__(self, *, latent_dim: int, n_classes: int, embed_dim: int, channels: list[int], length: int,
                 kernel_size: int, first_scale: int, class_every_block: bool = True, upsampling: str = "nearest",
                 envelope_scale: int | None = None) -> None:
        super().__init__()
        self.upsampling = upsampling
        self.latent_dim, self.n_classes = latent_dim, n_classes
        self.channels = list(channels)
        self.n_blocks = len(channels) - 1
        self.lengths = scale_lengths(length, self.n_blocks)
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
        self.envelope_scale = envelope_scale
        self.envelope = DecayEnvelope(latent_dim + embed_dim, length) if envelope_scale is not None else None

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
            up = upsample(h, self.upsampling)
            if self.class_bias is not None and s >= 2:
                up = up + self.class_bias[s - 2](e)[:, :, None]
            h = F.relu(self.blocks[s - 1](up))
        out = torch.tanh(self.to_wave[scale - self.first_scale](h))
        if alpha < 1.0 and scale > self.first_scale:
            skip = upsample(torch.tanh(self.to_wave[scale - 1 - self.first_scale](previous)), self.upsampling)
            out = torch.lerp(skip, out, alpha)
        if self.envelope is not None and scale >= self.envelope_scale:
            envelope = self.envelope(torch.cat([z, e], dim=1), out.shape[-1])
            if scale == self.envelope_scale and alpha < 1.0:
                envelope = torch.lerp(torch.ones_like(envelope), envelope, alpha)
            out = out * envelope
        return out
