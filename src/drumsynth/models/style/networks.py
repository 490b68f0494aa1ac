"""Style-based drum synthesis networks (Drysdale et al. 2021, after StyleGAN, Karras et al. 2019).

- :class:`MappingNetwork` M: z Tensor[B, latent_dim] + class weights c Tensor[B, C] -> w Tensor[B, style_dim].
- :class:`SynthesisNetwork` G: per-layer styles ws Tensor[B, n_layers, style_dim] -> waveform
  Tensor[B, 1, L_scale] in [-1, 1], from a learned constant. Layer 0 styles the constant, layer ``s``
  (1..n_blocks) the output of block ``s`` (x4 up-sampling, nearest as in the seed or filtered, convolution,
  noise, leaky ReLU, AdaIN);
  optionally (ours) a two-exponential decay envelope from layer 0's style multiplies the finer outputs.
- :class:`StyleGenerator`: M and G together (the released module), with style mixing.
- :class:`Encoder` E: the critic's convolution stack without the label: waveform Tensor[B, 1, T] -> w.

The critic is :class:`drumsynth.nn.wave.Critic` (label channel, phase shuffle), shared with wavegan.
Progressive growing as in wavegan: ``scale`` blocks in use, ``alpha`` fades the newest in.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from drumsynth.nn.envelope import DecayEnvelope
from drumsynth.nn.polyphase import upsampled_conv_phases
from drumsynth.nn.wave import LEAK, UPSAMPLE, scale_lengths, upsample

EPS = 1e-8
# Seed of the fixed noise a release renders with: the same code always gives the same hit.
FIXED_NOISE_SEED = 2021


class AdaIN(nn.Module):
    """Adaptive instance normalisation: each channel of each example is normalised over time, then
    given the mean and standard deviation its style asks for.

    x Tensor[B, C, L], w Tensor[B, style_dim] -> Tensor[B, C, L] whose channel ``k`` has mean ``bias_k(w)``
    and standard deviation ``|scale_k(w)|`` over time, where ``(scale, bias) = affine(w)`` (the learned
    affine transform "A"; the scale starts at 1, the bias at 0).
    """

    def __init__(self, channels: int, style_dim: int) -> None:
        super().__init__()
        self.affine = nn.Linear(style_dim, 2 * channels)
        nn.init.zeros_(self.affine.bias)
        with torch.no_grad():
            self.affine.bias[:channels] = 1.0

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        scale, bias = self.affine(w)[:, :, None].chunk(2, dim=1)
        mean = x.mean(dim=2, keepdim=True)
        std = (x.var(dim=2, keepdim=True, unbiased=False) + EPS).sqrt()
        return scale * (x - mean) / std + bias


class NoiseInput(nn.Module):
    """Per-layer noise with a learned per-channel scale ("B"): x + gain * scale_k * n, one noise signal
    n Tensor[B, 1, L] shared by the channels. The scales start at zero, as in StyleGAN."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.zeros(1, channels, 1))

    def forward(self, x: torch.Tensor, noise: torch.Tensor, gain: float | torch.Tensor = 1.0) -> torch.Tensor:
        return x + gain * self.scale * noise


class MappingNetwork(nn.Module):
    """Conditional mapping M: z (pixel-normalised) joined with the label embedding (a 50-d linear
    embedding of the class weights through a dense layer to ``style_dim``), then ``layers`` dense layers
    with leaky ReLU 0.2. z Tensor[B, latent_dim], c Tensor[B, C] -> w Tensor[B, style_dim]."""

    def __init__(self, *, latent_dim: int, style_dim: int, n_classes: int, embed_dim: int, layers: int) -> None:
        super().__init__()
        self.embed = nn.Linear(n_classes, embed_dim, bias=False)
        self.label = nn.Linear(embed_dim, style_dim)
        widths = [latent_dim + style_dim] + [style_dim] * layers
        self.layers = nn.ModuleList([nn.Linear(widths[i], widths[i + 1]) for i in range(layers)])

    def forward(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        z = z * torch.rsqrt(z.pow(2).mean(dim=1, keepdim=True) + EPS)
        h = torch.cat([z, self.label(self.embed(c))], dim=1)
        for i, layer in enumerate(self.layers):
            h = layer(h)
            if i < len(self.layers) - 1:
                h = F.leaky_relu(h, LEAK)
        return h


class SynthesisNetwork(nn.Module):
    """Styles -> waveform from a learned constant (see the module docstring).

    ``noise`` is a list of one Tensor[B or 1, 1, L_s] per layer in use (``None``: fresh N(0, 1) draws from
    ``generator``, as in training), or ``"fixed"``: one N(0, 1) realisation per layer drawn once from
    ``FIXED_NOISE_SEED`` and stored with the weights, so that inference is deterministic per code;
    ``noise_gain`` Tensor[n_layers] (or a float) scales each layer's learned noise. A 1x1 convolution
    per scale maps features to the waveform (progressive GAN's "toRGB").

    ``envelope_scale`` (ours; ``None`` = the seed's network): from that scale on, a :class:`DecayEnvelope`
    of layer 0's style multiplies the output (faded in with ``alpha`` at that scale). Not at the coarser
    scales: there a pooled cymbal is nearly silent, and an envelope that learnt to shut there (2 ms time
    constants, session 8) could not reopen, as a saturated sigmoid passes no gradient. Every other layer adds noise at a constant level and AdaIN gives
    every channel a constant bias, so without the envelope a decay has to be cancelled out of those
    floors; with it the tail of a hit is as quiet as the envelope says.
    """

    def __init__(self, *, style_dim: int, channels: list[int], length: int, kernel_size: int,
                 first_scale: int, envelope_scale: int | None = None, upsampling: str = "nearest") -> None:
        super().__init__()
        self.upsampling = upsampling
        self.channels = list(channels)
        self.n_blocks = len(channels) - 1
        self.n_layers = self.n_blocks + 1
        self.lengths = scale_lengths(length, self.n_blocks)
        self.first_scale = first_scale
        self.const = nn.Parameter(torch.randn(1, channels[0], self.lengths[0]))
        self.blocks = nn.ModuleList([nn.Conv1d(channels[s - 1], channels[s], kernel_size, padding=kernel_size // 2)
                                     for s in range(1, self.n_blocks + 1)])
        self.noise = nn.ModuleList([NoiseInput(c) for c in channels])
        self.adain = nn.ModuleList([AdaIN(c, style_dim) for c in channels])
        self.to_wave = nn.ModuleList([nn.Conv1d(channels[s], 1, 1) for s in range(first_scale, self.n_blocks + 1)])
        self.envelope_scale = envelope_scale
        self.envelope = DecayEnvelope(style_dim, length) if envelope_scale is not None else None
        fixed = torch.Generator().manual_seed(FIXED_NOISE_SEED)
        for s, n in enumerate(self.lengths):
            self.register_buffer(f"fixed_noise_{s}", torch.randn(1, 1, n, generator=fixed))

    def fixed_noise(self, scale: int) -> list[torch.Tensor]:
        """The stored noise of every layer up to ``scale``: [Tensor[1, 1, L_s]], broadcast over the batch
        (not expanded: an export keeps the batch dimension dynamic)."""
        return [getattr(self, f"fixed_noise_{s}") for s in range(scale + 1)]

    def draw_noise(self, batch: int, scale: int, generator: torch.Generator | None, device: torch.device
                   ) -> list[torch.Tensor]:
        """Fresh noise for every layer up to ``scale``: [Tensor[batch, 1, L_s]]."""
        gen_device = generator.device if generator is not None else device
        return [torch.randn(batch, 1, self.lengths[s], generator=generator, device=gen_device).to(device)
                for s in range(scale + 1)]

    def forward(self, ws: torch.Tensor, scale: int | None = None, alpha: float = 1.0,
                noise: list[torch.Tensor] | str | None = None, noise_gain: float | torch.Tensor = 1.0,
                generator: torch.Generator | None = None) -> torch.Tensor:
        """ws Tensor[B, n_layers, style_dim] -> Tensor[B, 1, L_scale] in [-1, 1] (default: full length)."""
        scale = self.n_blocks if scale is None else scale
        if noise is None:
            noise = self.draw_noise(len(ws), scale, generator, ws.device)
        elif isinstance(noise, str):
            noise = self.fixed_noise(scale)
        gains = torch.as_tensor(noise_gain, dtype=ws.dtype, device=ws.device).expand(self.n_layers)
        h = self.const.expand(ws.shape[0], -1, -1)
        h = self.adain[0](self.noise[0](h, noise[0], gains[0]), ws[:, 0])
        previous = h
        for s in range(1, scale + 1):
            previous = h
            h = self.blocks[s - 1](upsample(h, self.upsampling))
            h = F.leaky_relu(self.noise[s](h, noise[s], gains[s]), LEAK)
            h = self.adain[s](h, ws[:, s])
        out = torch.tanh(self.to_wave[scale - self.first_scale](h))
        if alpha < 1.0 and scale > self.first_scale:
            skip = upsample(torch.tanh(self.to_wave[scale - 1 - self.first_scale](previous)), self.upsampling)
            out = torch.lerp(skip, out, alpha)
        if self.envelope is not None and scale >= self.envelope_scale:
            envelope = self.envelope(ws[:, 0], out.shape[-1])
            if scale == self.envelope_scale and alpha < 1.0:
                envelope = torch.lerp(torch.ones_like(envelope), envelope, alpha)
            out = out * envelope
        return out


def _centre_(y: torch.Tensor, scale: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """AdaIN's normalisation in two parts: y Tensor[B, C, L] centred per channel over time, in place, and
    the gain ``scale / std`` its style Tensor[B, C, 1] then asks for: (centred y, gain Tensor[B, C, 1]).

    The variance is the centred signal's squared norm over L: torch's (Welford) ``var`` is 40x slower on
    rows of 16384."""
    y = y.sub_(y.mean(dim=2, keepdim=True))
    var = torch.linalg.vector_norm(y, dim=2, keepdim=True).square_().div_(y.shape[2])
    return y, scale * var.add_(EPS).rsqrt_()


def _version(t: torch.Tensor) -> int | None:
    """How many times ``t`` was written in place (None for a tensor made under inference_mode: torch
    counts no writes to those, and only code under inference_mode can write them)."""
    return None if t.is_inference() else t._version


class SynthesisPlan:
    """The synthesis network's inference path: full length, alpha 1, the stored noise at fixed per-layer
    gains; ``plan(ws)`` is ``net(ws, noise="fixed", noise_gain=gains)`` in other float32 arithmetic. On
    trained models the two differ by up to ~1e-5 (max abs, a few 1e-6 typically), as much as the network
    itself differs from the same network in float64. Holds tensors derived from ``net`` and the gains:
    build a new plan when :meth:`is_current` says either changed. Not for training (no gradients, no
    fade-in, no fresh noise).

    Precomputed: layer 0's normalised input (the constant plus its noise does not depend on the batch);
    every AdaIN's affine map as one batched product; per block, the :func:`upsampled_conv_phases` of its
    convolution (up-sampling and convolution in one step at the coarser rate, a quarter of the work) and
    its noise term ``gain * scale * noise``. Per call and block, the phases are interleaved as the noise is
    added. The last block stays in phase order (AdaIN's statistics, the 1x1 output convolution and tanh do
    not care about time order) with AdaIN's affine folded into the output convolution, so only the
    one-channel wave is interleaved.

    Folding the up-sampling into the convolution's phases holds for nearest up-sampling only: a network
    with a filtered ``upsampling`` is run by its own forward (the same numbers, at the network's speed).
    """

    def __init__(self, net: SynthesisNetwork, noise_gain: float | torch.Tensor) -> None:
        self.net = net
        self.gains = self._gain_values(noise_gain)
        self._watched = [*net.parameters(), *net.buffers()]
        self._versions = [_version(t) for t in self._watched]
        self.folded = net.upsampling == "nearest"
        if not self.folded:
            return
        with torch.no_grad():
            gains = torch.tensor(self.gains, dtype=net.const.dtype, device=net.const.device).expand(net.n_layers)
            noise = net.fixed_noise(net.n_blocks)
            x0 = net.noise[0](net.const, noise[0], gains[0])  # [1, C_0, L_0], as the network computes it
            self.centred0 = x0 - x0.mean(dim=2, keepdim=True)
            self.std0 = (x0.var(dim=2, keepdim=True, unbiased=False) + EPS).sqrt()
            self._stack_affines()
            self.weights, self.paddings, self.biases, self.noise_terms = [], [], [], []
            for s, block in enumerate(net.blocks, start=1):
                weight, padding = upsampled_conv_phases(block.weight, block.padding[0], UPSAMPLE)
                self.weights.append(weight)
                self.paddings.append(padding)
                self.biases.append(block.bias.repeat_interleave(UPSAMPLE))
                self.noise_terms.append(self._noise_term(gains[s] * net.noise[s].scale * noise[s], s))
            to_wave = net.to_wave[net.n_blocks - net.first_scale]
            self.to_wave_weight, self.to_wave_bias = to_wave.weight[:, :, 0], to_wave.bias  # [1, C], [1]

    def _stack_affines(self) -> None:
        """Every AdaIN's affine map as one: weights Tensor[n_layers, style_dim, 2 max C] and biases
        Tensor[n_layers, 1, 2 max C], zero-padded where a layer is narrower."""
        width = 2 * max(self.net.channels)
        affines = [adain.affine for adain in self.net.adain]
        self.affine_weight = affines[0].weight.new_zeros(len(affines), affines[0].in_features, width)
        self.affine_bias = affines[0].bias.new_zeros(len(affines), 1, width)
        for s, affine in enumerate(affines):
            self.affine_weight[s, :, :affine.out_features] = affine.weight.T
            self.affine_bias[s, 0, :affine.out_features] = affine.bias

    def _noise_term(self, term: torch.Tensor, s: int) -> torch.Tensor:
        """Block ``s``'s noise term Tensor[1, C, UPSAMPLE L] laid out as :meth:`_noisy_conv` adds it:
        [1, C, L, UPSAMPLE] (interleaved), or for the last block [1, C, UPSAMPLE L] in phase order."""
        c, length = term.shape[1], term.shape[2] // UPSAMPLE
        term = term.view(1, c, length, UPSAMPLE)
        if s < self.net.n_blocks:
            return term
        return term.transpose(2, 3).reshape(1, c, UPSAMPLE * length)

    @staticmethod
    def _gain_values(noise_gain: float | torch.Tensor) -> list[float]:
        return torch.as_tensor(noise_gain, dtype=torch.float64).flatten().tolist()

    def is_current(self, noise_gain: float | torch.Tensor) -> bool:
        """Whether this plan still computes the network at ``noise_gain``: the same gains, and none of the
        network's parameters or buffers written in place since it was built (``load_state_dict`` writes)."""
        return (self._gain_values(noise_gain) == self.gains
                and all(_version(t) == v for t, v in zip(self._watched, self._versions)))

    def __call__(self, ws: torch.Tensor) -> torch.Tensor:
        """ws Tensor[B, n_layers, style_dim] -> Tensor[B, 1, length] in [-1, 1]."""
        net = self.net
        if not self.folded:
            return net(ws, noise="fixed", noise_gain=torch.tensor(self.gains, dtype=ws.dtype, device=ws.device))
        styles = torch.baddbmm(self.affine_bias, ws.transpose(0, 1), self.affine_weight)  # [n_layers, B, 2 C]
        c0 = net.channels[0]
        h = styles[0, :, :c0, None] * self.centred0 / self.std0 + styles[0, :, c0:2 * c0, None]
        for s in range(1, net.n_blocks):
            h = self._block(h, styles[s], s)
        out = self._last_block(h, styles[-1])
        if net.envelope is not None and net.n_blocks >= net.envelope_scale:
            out = out * net.envelope(ws[:, 0], out.shape[-1])
        return out

    def _noisy_conv(self, h: torch.Tensor, s: int) -> torch.Tensor:
        """Block ``s``'s up-sampling, convolution, noise and leaky ReLU: Tensor[B, C_in, L] -> Tensor[B, C,
        UPSAMPLE L], interleaved, or in phase order (each channel's phase 0, then 1, ...) for the last block."""
        batch, c, length = h.shape[0], self.net.channels[s], h.shape[2]
        y = F.conv1d(h, self.weights[s - 1], self.biases[s - 1], padding=self.paddings[s - 1])
        if s == self.net.n_blocks:
            y = y.view(batch, c, UPSAMPLE * length).add_(self.noise_terms[-1])
        else:  # [B, C, phase, L] -> [B, C, L, phase]: the sum takes the layout of its first operand
            y = torch.add(self.noise_terms[s - 1], y.view(batch, c, UPSAMPLE, length).transpose(2, 3))
        return F.leaky_relu_(y.reshape(batch, c, UPSAMPLE * length), LEAK)

    def _block(self, h: torch.Tensor, style: torch.Tensor, s: int) -> torch.Tensor:
        """Block ``s`` < n_blocks with its AdaIN: Tensor[B, C_in, L], style Tensor[B, 2 max C] -> Tensor[B, C,
        UPSAMPLE L]."""
        c = self.net.channels[s]
        y, gain = _centre_(self._noisy_conv(h, s), style[:, :c, None])
        return y.mul_(gain).add_(style[:, c:2 * c, None])

    def _last_block(self, h: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """The last block, its AdaIN, the output convolution and tanh: Tensor[B, C_in, L], style Tensor[B, 2
        max C] -> Tensor[B, 1, UPSAMPLE L].

        AdaIN (gain ``a``, bias ``b``) then the 1x1 convolution ``v``: ``sum_c v_c (a_c y_c + b_c) + v_0 =
        sum_c (v_c a_c) y_c + (v . b + v_0)`` for centred ``y``, one batched product."""
        batch, length, c = h.shape[0], h.shape[2], self.net.channels[-1]
        y, gain = _centre_(self._noisy_conv(h, self.net.n_blocks), style[:, :c, None])
        mix = (self.to_wave_weight * gain[:, :, 0])[:, None, :]  # [B, 1, C]
        offset = torch.addmm(self.to_wave_bias, style[:, c:2 * c], self.to_wave_weight.T)[:, :, None]  # [B, 1, 1]
        wave = torch.tanh_(torch.baddbmm(offset, mix, y))  # [B, 1, UPSAMPLE L] in phase order
        return wave.view(batch, UPSAMPLE, length).transpose(1, 2).reshape(batch, 1, UPSAMPLE * length)


class StyleGenerator(nn.Module):
    """M and G: [z, class] -> waveform, the released module.

    ``forward(z, c)`` broadcasts one w to every layer; :meth:`mixed_styles` gives the per-layer styles of
    style mixing (training). Shapes as in :class:`MappingNetwork` and :class:`SynthesisNetwork`.
    """

    def __init__(self, *, latent_dim: int, style_dim: int, n_classes: int, embed_dim: int, mapping_layers: int,
                 channels: list[int], length: int, kernel_size: int, first_scale: int,
                 envelope_scale: int | None = None, upsampling: str = "nearest") -> None:
        super().__init__()
        self.latent_dim, self.style_dim, self.n_classes = latent_dim, style_dim, n_classes
        self.mapping = MappingNetwork(latent_dim=latent_dim, style_dim=style_dim, n_classes=n_classes,
                                      embed_dim=embed_dim, layers=mapping_layers)
        self.synthesis = SynthesisNetwork(style_dim=style_dim, channels=channels, length=length,
                                          kernel_size=kernel_size, first_scale=first_scale,
                                          envelope_scale=envelope_scale, upsampling=upsampling)
        self.n_layers = self.synthesis.n_layers

    def broadcast(self, w: torch.Tensor) -> torch.Tensor:
        """One style for every layer: w Tensor[B, style_dim] -> ws Tensor[B, n_layers, style_dim]."""
        return w[:, None, :].expand(-1, self.n_layers, -1)

    def mixed_styles(self, z: torch.Tensor, c: torch.Tensor, mixing_prob: float,
                     generator: torch.Generator) -> torch.Tensor:
        """Style mixing: per example with probability ``mixing_prob``, a second code of the same class
        takes over from a random layer in [1, n_layers) on. Tensor[B, latent_dim] -> Tensor[B, n_layers, w]."""
        ws = self.broadcast(self.mapping(z, c))
        if mixing_prob <= 0:
            return ws
        dev = generator.device
        z2 = torch.randn(z.shape, generator=generator, device=dev).to(z)
        ws2 = self.broadcast(self.mapping(z2, c))
        mix = torch.rand(len(z), generator=generator, device=dev).to(z.device) < mixing_prob
        cut = torch.randint(1, self.n_layers, (len(z),), generator=generator, device=dev).to(z.device)
        take = (torch.arange(self.n_layers, device=z.device)[None, :] >= cut[:, None]) & mix[:, None]
        return torch.where(take[:, :, None], ws2, ws)

    def forward(self, z: torch.Tensor, c: torch.Tensor, scale: int | None = None, alpha: float = 1.0,
                noise: list[torch.Tensor] | str | None = "fixed", noise_gain: float | torch.Tensor = 1.0,
                generator: torch.Generator | None = None) -> torch.Tensor:
        """z Tensor[B, latent_dim], c Tensor[B, C] -> Tensor[B, 1, L_scale] in [-1, 1] (the stored noise
        unless told otherwise: training passes ``noise=None`` for fresh draws)."""
        return self.synthesis(self.broadcast(self.mapping(z, c)), scale, alpha, noise, noise_gain, generator)


class Encoder(nn.Module):
    """GAN inversion E: the critic's convolution stack without the label: waveform Tensor[B, 1, T] (peak 1)
    -> w Tensor[B, style_dim]. A 1x1 convolution to ``channels[-1]``, stride-4 convolutions with leaky ReLU
    down to ``channels[0]`` x L_0, a dense layer to ``style_dim`` (the seed's 128 output units). No phase
    shuffle: the encoder is deterministic."""

    def __init__(self, *, style_dim: int, channels: list[int], length: int, kernel_size: int) -> None:
        super().__init__()
        n_blocks = len(channels) - 1
        self.length = length
        l0 = scale_lengths(length, n_blocks)[0]
        self.from_wave = nn.Conv1d(1, channels[-1], 1)
        self.blocks = nn.ModuleList([nn.Conv1d(channels[s], channels[s - 1], kernel_size, stride=UPSAMPLE,
                                               padding=kernel_size // 2 - 1) for s in range(n_blocks, 0, -1)])
        self.head = nn.Linear(channels[0] * l0, style_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.leaky_relu(self.from_wave(x), LEAK)
        for block in self.blocks:
            h = F.leaky_relu(block(h), LEAK)
        return self.head(h.flatten(1))
