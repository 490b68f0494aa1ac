"""The inference object of the style family (the ``FamilyModel`` of ``drumsynth.models``).

Latents are class-relative styles: a code ``u`` with class weights ``c`` plays ``w = u + c . mean_w``,
where ``mean_w`` holds each class's mean w (:mod:`.pca`). Drawing a code maps ``z ~ N(0, I)`` through
the conditional mapping network and subtracts its class's mean, so the Session's class sliders keep
their meaning: moving them moves w between the class centres while the code keeps its character.

Chain: ``w`` -> one style per synthesis layer, plus the style faders' move ``g_k sigma_k v_k`` (the
principal directions of the hit's strongest class) on the chosen layers -> the synthesis network with its
stored noise scaled per layer by the noise amount -> a T-sample hit, peak 1. The encoder maps a sound
to w; Analyze also estimates the class weights from where w lies among the classes' Gaussians.
"""

from __future__ import annotations

from typing import Any

import torch

from drumsynth.audio.dsp import peak_normalise
from drumsynth.errors import DrumsynthError
from drumsynth.models import as_class_weights, as_clips, as_latent, checkpoint_config, load_weights
from drumsynth.models.style.builder import build_modules
from drumsynth.models.style.config import Config, class_names, layer_group
from drumsynth.models.style.networks import Encoder, StyleGenerator, SynthesisPlan
from drumsynth.models.style.pca import Directions, class_log_likelihood, fader_offsets, principal_directions

FAMILY = "style"
MAX_FADER = 10.0  # standard deviations: far beyond what the training codes reach
MAX_NOISE = 10.0  # times the learned noise scales
# On CPU, generate runs the synthesis network in micro-batches of this many hits: at 64 an activation of the
# last block is 32 MB, and a whole batch of 64 took 93 ms against 56 ms in micro-batches of 16 (8: 56 ms;
# two threads: 48, 31 and 36 ms; shipped model, idle machine, medians of interleaved runs).
GENERATE_CHUNK = 16


class StyleModel:
    """A trained (or freshly built) style-based drum synthesiser, in eval mode.

    Attributes
    ----------
    family : "style"
    sample_rate, length : 44100 and 16384 for the seed's model
    classes : ("kick", "snare", "cymbal") for the 3-class view, the columns of ``labels``
    latent_dim : the style size (128 for the seed's model): codes are class-relative w
    n_layers : style layers of the synthesis network (the constant's and one per block)
    directions : the per-class PCA of w (:class:`drumsynth.models.style.pca.Directions`)
    faders : Tensor[pca.faders], the style faders in standard deviations (0 = untouched)
    fader_layers : the layers the faders act on: "all", "low", "mid", "high" or a layer index
    noise : Tensor[n_layers], the noise amount per layer (1 = as trained, 0 = none)
    """

    family = FAMILY

    def __init__(self, config: Config, generator: StyleGenerator, encoder: Encoder, *,
                 classes: tuple[str, ...] | None = None, device: str | torch.device = "cpu") -> None:
        self.config = config
        self.device = torch.device(device)
        self.generator = generator.to(self.device).eval().requires_grad_(False)
        self.encoder = encoder.to(self.device).eval().requires_grad_(False)
        self.classes = tuple(classes) if classes is not None else class_names(config.data)
        self.sample_rate = config.data.sr
        self.length = config.data.length
        self.latent_dim = generator.style_dim
        self.n_layers = generator.n_layers
        p = config.pca
        self.directions: Directions = principal_directions(self.generator.mapping, len(self.classes),
                                                           generator.latent_dim, samples=p.samples, seed=p.seed)
        self.faders = torch.zeros(p.faders)
        self.fader_layers = "all"
        self.noise = torch.ones(self.n_layers)
        self._plan: SynthesisPlan | None = None
        self._moves: tuple[Any, torch.Tensor, torch.Tensor] | None = None

    # ---- style controls (seed §2.3) ------------------------------------------------------------

    def check_fader(self, k: int, value: float) -> None:
        """Refuse a fader this model lacks or a value beyond ±``MAX_FADER`` (changes nothing)."""
        if not 0 <= k < len(self.faders):
            raise DrumsynthError(f"style fader {k} does not exist; this model has faders 0..{len(self.faders) - 1}")
        if not abs(value) <= MAX_FADER:
            raise DrumsynthError(f"style fader value must be a number in [-{MAX_FADER:g}, {MAX_FADER:g}], got {value}")

    def check_noise(self, amount: float, layer: int | None = None) -> None:
        """Refuse a noise amount outside [0, ``MAX_NOISE``] or a layer this model lacks (changes nothing)."""
        if not 0 <= amount <= MAX_NOISE:
            raise DrumsynthError(f"noise amount must be a number in [0, {MAX_NOISE:g}], got {amount}")
        if layer is not None and not 0 <= layer < self.n_layers:
            raise DrumsynthError(f"noise layer {layer} does not exist; this model has layers 0..{self.n_layers - 1}")

    def set_fader(self, k: int, value: float) -> None:
        """Style fader ``k`` (0-based, along the k-th principal direction) to ``value`` standard deviations."""
        self.check_fader(k, value)
        self.faders[k] = float(value)

    def set_fader_layers(self, group: str) -> None:
        """Which layers the faders move: "all", "low", "mid", "high" (thirds, coarsest first) or an index."""
        layer_group(self.n_layers, str(group))
        self.fader_layers = str(group)

    def set_noise(self, amount: float, layer: int | None = None) -> None:
        """The noise amount of every layer (``layer`` None) or of one layer: 1 as trained, 0 none."""
        self.check_noise(amount, layer)
        if layer is None:
            self.noise.fill_(float(amount))
        else:
            self.noise[layer] = float(amount)

    def style_state(self) -> dict[str, Any]:
        """The controls as plain values (for sidecars): faders, their layers and the noise amounts."""
        return {"faders": [round(float(g), 6) for g in self.faders], "fader_layers": self.fader_layers,
                "noise": [round(float(a), 6) for a in self.noise]}

    def styles(self, w: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """w Tensor[B, style_dim] + class weights Tensor[B, C] -> per-layer styles Tensor[B, n_layers, style_dim]
        with the faders' move (along the strongest class's directions) on the chosen layers."""
        offsets, mask = self._fader_moves()
        return layer_styles(w, c, offsets.to(w), mask.to(w))

    def _fader_moves(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(per-class fader moves Tensor[C, style_dim], layer mask Tensor[n_layers]) on the model's device,
        for the current faders and fader layers: kept until either changes (they are the same every call
        while a player only draws codes)."""
        key = (self.faders.tolist(), self.fader_layers)
        if self._moves is None or self._moves[0] != key:
            self._moves = (key, fader_offsets(self.directions, self.faders).to(self.device),
                           _layer_mask(self.n_layers, self.fader_layers).to(self.device))
        return self._moves[1], self._moves[2]

    # ---- the contract --------------------------------------------------------------------------

    def _class_mean(self, c: torch.Tensor) -> torch.Tensor:
        return c @ self.directions.mean.to(c)

    def sample_latent(self, n: int, generator: torch.Generator | None = None,
                      labels: torch.Tensor | None = None) -> torch.Tensor:
        """``n`` codes: z ~ N(0, I) through the mapping network for class weights ``labels`` Tensor[n, C]
        (equal weights when ``None``), less the class mean: Tensor[n, latent_dim]."""
        device = generator.device if generator is not None else self.device
        z = torch.randn(n, self.generator.latent_dim, generator=generator, device=device).to(self.device)
        c = as_class_weights(labels, len(self.classes), n, self.device)
        with torch.no_grad():
            return self.generator.mapping(z, c) - self._class_mean(c)

    @torch.no_grad()
    def generate(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """Codes Tensor[B, latent_dim] + class weights Tensor[B, C] (``None``: equal weights) -> waveform
        Tensor[B, length], peak 1, with the current faders and noise amounts."""
        u = as_latent(z, self.latent_dim, self.device)
        c = as_class_weights(labels, len(self.classes), len(u), self.device)
        ws = self.styles(u + self._class_mean(c), c)
        plan = self.synthesis_plan()
        chunks = ws.split(GENERATE_CHUNK) if self.device.type == "cpu" and len(ws) > GENERATE_CHUNK else [ws]
        # inference_mode skips autograd's bookkeeping (~10% at batch 1); the clamp runs outside it, so that
        # callers get an ordinary tensor (one they may write in place).
        with torch.inference_mode():
            hits = [peak_normalise(plan(chunk)[:, 0]) for chunk in chunks]
        return (hits[0] if len(hits) == 1 else torch.cat(hits)).clamp(-1.0, 1.0)

    def synthesis_plan(self) -> SynthesisPlan:
        """The synthesis network's inference path at the current noise amounts, rebuilt when they or the
        generator's weights have changed since the last call."""
        G = self.generator.synthesis
        if self._plan is None or self._plan.net is not G or not self._plan.is_current(self.noise):
            self._plan = SynthesisPlan(G, self.noise)
        return self._plan

    def _styles_of(self, wave: torch.Tensor) -> torch.Tensor:
        """Sounds Tensor[B, T] -> w Tensor[B, style_dim] by the encoder (clips fitted to T, peak 1)."""
        return self.encoder(as_clips(wave, self.length, self.device)[:, None])

    @torch.no_grad()
    def analyze(self, wave: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Sounds Tensor[B, T] -> (codes Tensor[B, latent_dim], class weights Tensor[B, C] summing to 1):
        the encoder's w, and the posterior of each class's Gaussian of w (equal priors)."""
        w = self._styles_of(wave)
        c = torch.softmax(class_log_likelihood(self.directions, w), dim=1)
        return w - self._class_mean(c), c

    @torch.no_grad()
    def encode(self, wave: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Sounds Tensor[B, T] -> codes Tensor[B, latent_dim] relative to ``labels`` Tensor[B, C] (the
        estimated class weights when ``None``, as :meth:`analyze`). The encoder itself sees no label."""
        if labels is None:
            return self.analyze(wave)[0]
        w = self._styles_of(wave)
        return w - self._class_mean(as_class_weights(labels, len(self.classes), len(w), self.device))

    @torch.no_grad()
    def reconstruct(self, wave: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """G(E(x)): Tensor[B, T] -> Tensor[B, length] (the class weights cancel: w is the encoder's)."""
        if labels is None:
            u, c = self.analyze(wave)
        else:
            c = as_class_weights(labels, len(self.classes), len(wave), self.device)
            u = self.encode(wave, c)
        return self.generate(u, c)

    def export_graphs(self, portable: bool = False) -> dict[str, torch.nn.Module]:
        """Tensor-only modules for file exports: ``"decode"`` (:class:`DecodeGraph`, what :meth:`generate`
        computes, with the faders and noise amounts set now) and ``"encode"`` (:class:`EncodeGraph`,
        what :meth:`analyze` computes). ``portable`` changes nothing (convolutions and dense layers)."""
        del portable
        return {"decode": DecodeGraph(self), "encode": EncodeGraph(self)}


def _layer_mask(n_layers: int, group: str) -> torch.Tensor:
    """Tensor[n_layers]: 1 on the layers of ``group``, else 0."""
    mask = torch.zeros(n_layers)
    mask[layer_group(n_layers, group)] = 1.0
    return mask


def layer_styles(w: torch.Tensor, c: torch.Tensor, offsets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """w Tensor[B, D], class weights Tensor[B, C], per-class fader moves Tensor[C, D], layer mask
    Tensor[L] -> styles Tensor[B, L, D]: ``w`` on every layer plus the move of each hit's strongest class
    on the masked layers."""
    move = offsets[c.argmax(dim=1)]                                        # [B, D]
    return w[:, None, :] + mask[None, :, None] * move[:, None, :]


def config_from_checkpoint(checkpoint: dict[str, Any]) -> Config:
    """The ``Config`` stored in a checkpoint (unknown keys and wrong types are errors)."""
    return checkpoint_config(checkpoint, FAMILY, Config)


def load_model(checkpoint: dict[str, Any], device: str | torch.device = "cpu") -> StyleModel:
    """The family contract's ``load_model``: rebuild from a release (or resume) checkpoint dict."""
    config = config_from_checkpoint(checkpoint)
    extra = checkpoint.get("extra") or {}
    classes = tuple(extra.get("classes", class_names(config.data)))
    generator, _, encoder = build_modules(config, len(classes))
    load_weights(checkpoint, FAMILY, {"generator": generator, "encoder": encoder})
    return StyleModel(config, generator, encoder, classes=classes, device=device)


class DecodeGraph(torch.nn.Module):
    """:meth:`StyleModel.generate` without its argument checks, with the faders and noise amounts of
    export time: codes Tensor[B, latent_dim] + class weights Tensor[B, C] -> hits Tensor[B, length], peak 1.
    Through the network's own forward, which traces with a dynamic batch (generate's synthesis plan is the
    same function in other float32 rounding)."""

    def __init__(self, model: StyleModel) -> None:
        super().__init__()
        self.generator = model.generator
        self.register_buffer("class_mean", model.directions.mean.clone())
        self.register_buffer("offsets", fader_offsets(model.directions, model.faders).clone())
        self.register_buffer("mask", _layer_mask(model.n_layers, model.fader_layers))
        self.register_buffer("noise_gain", model.noise.clone())

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        ws = layer_styles(z + labels @ self.class_mean, labels, self.offsets, self.mask)
        wave = self.generator.synthesis(ws, noise="fixed", noise_gain=self.noise_gain)[:, 0]
        return peak_normalise(wave).clamp(-1.0, 1.0)


class EncodeGraph(torch.nn.Module):
    """:meth:`StyleModel.analyze` on fitted clips: clips Tensor[B, length] (peak 1) -> (codes Tensor[B,
    latent_dim], class weights Tensor[B, C])."""

    def __init__(self, model: StyleModel) -> None:
        super().__init__()
        self.encoder = model.encoder
        d = model.directions
        self.register_buffer("mean", d.mean.clone())
        self.register_buffer("components", d.components.clone())
        self.register_buffer("std", d.std.clone())

    def forward(self, clips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        w = self.encoder(clips[:, None])
        c = torch.softmax(class_log_likelihood(Directions(self.mean, self.components, self.std), w), dim=1)
        return w - c @ self.mean, c
