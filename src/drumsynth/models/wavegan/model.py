"""The inference object of the wavegan family (the ``FamilyModel`` of ``drumsynth.models``).

Chain: ``z`` + class weights -> generator -> a T-sample hit at ``sample_rate``, peak-normalised (the
training clips are peak 1). Class weights are one-hot for the seed's classes, or any finite mix: they
weight the rows of the learned class embedding. WaveGAN has no encoder: :meth:`WaveGANModel.analyze`
(and ``encode``, ``reconstruct``) invert the generator by optimisation (:mod:`.invert`).
"""

from __future__ import annotations

from typing import Any

import torch

from drumsynth.audio.dsp import peak_normalise
from drumsynth.models import as_class_weights, as_clips, as_latent, checkpoint_config, load_weights
from drumsynth.models.wavegan.builder import build_modules
from drumsynth.models.wavegan.config import Config, class_names
from drumsynth.models.wavegan.invert import invert
from drumsynth.models.wavegan.networks import Generator

FAMILY = "wavegan"


class WaveGANModel:
    """A trained (or freshly built) conditional WaveGAN, in eval mode.

    Attributes
    ----------
    family : "wavegan"
    sample_rate, length : 44100 and 16384 for the seed's model
    classes : ("kick", "snare", "cymbal") for the 3-class view, the columns of ``labels``
    latent_dim : 100 for the seed's model
    last_inversion_loss : Tensor[B], the spectral loss of the last :meth:`analyze`/:meth:`encode`
    """

    family = FAMILY

    def __init__(self, config: Config, generator: Generator, *, classes: tuple[str, ...] | None = None,
                 device: str | torch.device = "cpu") -> None:
        self.config = config
        self.device = torch.device(device)
        self.generator = generator.to(self.device).eval().requires_grad_(False)
        self.classes = tuple(classes) if classes is not None else class_names(config.data)
        self.sample_rate = config.data.sr
        self.length = config.data.length
        self.latent_dim = generator.latent_dim
        self.last_inversion_loss: torch.Tensor | None = None

    def _wave(self, wave: torch.Tensor) -> torch.Tensor:
        """Waveforms Tensor[B, T] (or [T]) at ``sample_rate`` -> fitted clips Tensor[B, length], peak 1."""
        return as_clips(wave, self.length, self.device)

    def _render(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """Differentiable hits Tensor[B, length] (before peak normalisation) for the inversion."""
        return self.generator(z, c)[:, 0]

    # ---- the contract --------------------------------------------------------------------------

    def sample_latent(self, n: int, generator: torch.Generator | None = None,
                      labels: torch.Tensor | None = None) -> torch.Tensor:
        """``n`` codes from the prior N(0, I): Tensor[n, latent_dim] (the same prior for every class:
        ``labels`` is accepted for the family contract and ignored)."""
        del labels
        device = generator.device if generator is not None else self.device
        return torch.randn(n, self.latent_dim, generator=generator, device=device).to(self.device)

    @torch.no_grad()
    def generate(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """z Tensor[B, latent_dim] + class weights Tensor[B, C] (``None``: equal weights) -> waveform
        Tensor[B, length], peak 1."""
        z = as_latent(z, self.latent_dim, self.device)
        c = as_class_weights(labels, len(self.classes), len(z), self.device)
        return peak_normalise(self.generator(z, c)[:, 0]).clamp(-1.0, 1.0)

    def analyze(self, wave: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Analyze by inversion: sounds Tensor[B, T] at ``sample_rate`` -> (z Tensor[B, latent_dim],
        class weights Tensor[B, C] summing to 1), ``invert.steps`` Adam steps per sound."""
        target = self._wave(wave)
        z, c, loss = invert(self._render, target, None, latent_dim=self.latent_dim, n_classes=len(self.classes),
                            config=self.config.invert)
        self.last_inversion_loss = loss
        return z, c

    def encode(self, wave: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Sounds Tensor[B, T] -> codes Tensor[B, latent_dim] by inversion: with ``labels`` Tensor[B, C]
        the class weights stay fixed, without them they are estimated too (as :meth:`analyze`)."""
        if labels is None:
            return self.analyze(wave)[0]
        target = self._wave(wave)
        c = as_class_weights(labels, len(self.classes), len(target), self.device)
        z, _, loss = invert(self._render, target, c, latent_dim=self.latent_dim, n_classes=len(self.classes),
                            config=self.config.invert)
        self.last_inversion_loss = loss
        return z

    def reconstruct(self, wave: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Invert -> generate: Tensor[B, T] -> Tensor[B, length]. With ``labels`` the class weights are
        kept as given (Table 2 passes the corpus label); without, they are estimated."""
        if labels is None:
            z, c = self.analyze(wave)
        else:
            c = as_class_weights(labels, len(self.classes), len(self._wave(wave)), self.device)
            z = self.encode(wave, c)
        return self.generate(z, c)

    def export_graphs(self, portable: bool = False) -> dict[str, torch.nn.Module]:
        """Tensor-only modules for file exports (``drumsynth.export``): ``"decode"`` (:class:`DecodeGraph`,
        what :meth:`generate` computes). The inversion is an optimisation loop, not a graph: no
        ``"encode"``. ``portable`` changes nothing (the generator is convolutions and dense layers)."""
        del portable
        return {"decode": DecodeGraph(self)}


def config_from_checkpoint(checkpoint: dict[str, Any]) -> Config:
    """The ``Config`` stored in a checkpoint (unknown keys and wrong types are errors)."""
    return checkpoint_config(checkpoint, FAMILY, Config)


def load_model(checkpoint: dict[str, Any], device: str | torch.device = "cpu") -> WaveGANModel:
    """The family contract's ``load_model``: rebuild from a release (or resume) checkpoint dict."""
    config = config_from_checkpoint(checkpoint)
    extra = checkpoint.get("extra") or {}
    classes = tuple(extra.get("classes", class_names(config.data)))
    generator, _ = build_modules(config, len(classes))
    load_weights(checkpoint, FAMILY, {"generator": generator})
    return WaveGANModel(config, generator, classes=classes, device=device)


class DecodeGraph(torch.nn.Module):
    """:meth:`WaveGANModel.generate` without its argument checks, as one module that traces and
    exports: z Tensor[B, latent_dim] + class weights Tensor[B, C] -> hits Tensor[B, length], peak 1."""

    def __init__(self, model: WaveGANModel) -> None:
        super().__init__()
        self.generator = model.generator

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return peak_normalise(self.generator(z, labels)[:, 0]).clamp(-1.0, 1.0)
