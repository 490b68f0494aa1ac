"""Training the style-based drum synthesiser: WGAN-GP on M + G and D, then the encoder E.

The schedule is a function of the step alone (resume-exact):

- Steps ``[0, max_steps - encoder_steps)``: the GAN. ``n_critic`` times ``loss/d = E[D(G(w), c)] -
  E[D(x, c)] + lambda GP`` on a fresh real batch (pitch-shifted copies included) and fakes of the same
  classes; once ``loss/g = -E[D(G(w'), c')]`` (at full length plus ``class_spectrum`` times the gap
  between the generated and real per-class mean log-spectrograms, ours). Each generator batch draws fresh per-layer noise and
  mixes styles: with ``mixing_prob`` a second code of the same class takes over from a random layer
  (StyleGAN). With progressive growing the stage and fade-in follow wavegan's schedule.
- With ``train.select_per_class`` N > 0, every validation at full length after the last fade-in judges
  the generator's class agreement; the encoder phase starts from the best generator so judged.
- Steps ``[max_steps - encoder_steps, max_steps)``: the encoder, on generated pairs (seed §2.1). Each
  step draws ``encoder_batch`` codes z and classes, ``w = M(z, c)``, renders ``x = G(w)`` with the stored
  noise (what a release plays), and minimises ``MSE(E(x), w)`` (+ ``encoder_spectral`` times the
  spectral distance of G(E(x)) to x, + ``encoder_real`` times that distance on real training clips). Validation then measures G(E(x)) on the valid split's real sounds
  (``valid/encoder_lsd``, which keep-best follows).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from drumsynth.audio.dsp import peak_normalise
from drumsynth.config import to_dict
from drumsynth.data.cache import Cache
from drumsynth.data.gan_batches import BalancedWaveBatches
from drumsynth.metrics.reconstruction import lsd_db
from drumsynth.models.style import data as sdata
from drumsynth.models.style.builder import build_modules
from drumsynth.models.style.config import Config, check, class_names, gan_steps, lengths
from drumsynth.nn.wave import (
    class_mean_spectra,
    class_spectrum_distance,
    real_at_scale,
    spectral_loss,
    upsample,
)
from drumsynth.train.distributed import average_gradients
from drumsynth.train.recipe import Metrics, Recipe
from drumsynth.train.wgan import ClassAgreement, GeneratorSelection, growing_stage, wgan_gp_step

# Codes of the generator selection: the same hits at every validation, unrelated to training's draws.
SELECTION_SEED = 20210


def stage_at(config: Config, step: int) -> tuple[int, float]:
    """(scale, fade-in alpha) of GAN step ``step`` (0-based): the full length without growing."""
    t = config.train
    return growing_stage(step, lengths(config), config.model.start_length, t.stage_steps, t.fade_fraction)


class StyleRecipe(Recipe):
    """Style-based GAN, then its encoder (see the module docstring).

    Parameters
    ----------
    config : the style ``Config``
    classes : the model's class names (the config's class view)
    """

    family = "style"
    best_metric = "valid/encoder_lsd"
    best_mode = "min"
    best_metric_sometimes = True  # the GAN phase validates the generator's class agreement only
    ddp_gradients = "average"  # as wavegan: the penalty's double backward and a growing stage's unused blocks
    inference_sections = ("pca",)  # the fader directions are computed when a release loads

    def __init__(self, config: Config, classes: tuple[str, ...] | None = None) -> None:
        self.cfg = check(config)
        self.config = to_dict(config)
        self.sample_rate = config.data.sr
        self.classes = tuple(classes) if classes is not None else class_names(config.data)
        self.lengths = lengths(config)
        self.generator, self.critic, self.encoder = build_modules(config, len(self.classes))
        t = config.train
        betas = tuple(t.adam_betas)
        self._optimizers = {"generator": torch.optim.Adam(self.generator.parameters(), lr=t.lr, betas=betas),
                            "critic": torch.optim.Adam(self.critic.parameters(), lr=t.lr, betas=betas),
                            "encoder": torch.optim.Adam(self.encoder.parameters(), lr=t.encoder_lr)}
        self.last_step = 0
        self.selection = GeneratorSelection()
        self.class_agreement = ClassAgreement(SELECTION_SEED, t.select_per_class, len(self.classes),
                                              config.model.latent_dim, self.sample_rate)

    # ---- contract ------------------------------------------------------------------------------

    def modules(self) -> dict[str, nn.Module]:
        return {"generator": self.generator, "critic": self.critic, "encoder": self.encoder}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return self._optimizers

    def release_modules(self) -> list[str]:
        # The generator itself, no moving average (drumgan's lesson, docs/drumgan.md).
        return ["generator", "encoder"]

    def train_step(self, batch: dict[str, torch.Tensor], step: int, generator: torch.Generator) -> Metrics:
        self.last_step = step
        if step < gan_steps(self.cfg.train):
            return self._gan_step(batch, step, generator)
        return self._encoder_step(batch, generator)

    def _gan_step(self, batch: dict[str, torch.Tensor], step: int, generator: torch.Generator) -> Metrics:
        t = self.cfg.train
        latent = self.cfg.model.latent_dim
        scale, alpha = stage_at(self.cfg, step)
        G, D = self.nets["generator"], self.nets["critic"]

        def fake_of(c: torch.Tensor) -> torch.Tensor:
            z = torch.randn(len(c), latent, generator=generator, device=generator.device).to(batch["wave"])
            ws = G.mixed_styles(z, c, t.mixing_prob, generator)
            return G.synthesis(ws, scale, alpha, noise=None, generator=generator)

        def real_view(x: torch.Tensor) -> torch.Tensor:
            return real_at_scale(x, self.lengths, scale, alpha, self.cfg.model.upsampling)

        metrics = wgan_gp_step(batch, real_view, fake_of, lambda x, c: D(x, c, scale, alpha, generator),
                               self.modules(), self._optimizers, t.n_critic, t.batch_size, t.gp_weight, generator,
                               self._class_spectrum_term(batch, real_view, scale))
        return metrics | {"stage/length": float(self.lengths[scale]), "stage/alpha": float(alpha)}

    def _class_spectrum_term(self, batch: dict[str, torch.Tensor], real_view: Callable[[torch.Tensor], torch.Tensor],
                             scale: int) -> Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, Metrics]] | None:
        """The generator's class-spectrum term at full length (``train.class_spectrum`` > 0), against
        the per-class means of this step's real clips: a ``generator_extra`` for :func:`wgan_gp_step`,
        or None at the coarser scales and when off."""
        weight = self.cfg.train.class_spectrum
        if weight <= 0 or scale < len(self.lengths) - 1:
            return None
        with torch.no_grad():
            real_means, real_present = class_mean_spectra(real_view(batch["wave"])[:, 0], batch["c"])

        def term(fake: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
            distance = class_spectrum_distance(fake[:, 0], c, real_means, real_present)
            return weight * distance, {"loss/class_spectrum": distance.item()}
        return term

    def _encoder_step(self, batch: dict[str, torch.Tensor], generator: torch.Generator) -> Metrics:
        t = self.cfg.train
        if self.selection.load_into(self.generator):
            self.generator.requires_grad_(False)
        G, E = self.nets["generator"], self.nets["encoder"]
        dev = generator.device
        c = torch.eye(len(self.classes))[torch.randint(len(self.classes), (t.encoder_batch,), generator=generator,
                                                       device=dev).cpu()].to(G.synthesis.const.device)
        z = torch.randn(t.encoder_batch, self.cfg.model.latent_dim, generator=generator, device=dev).to(c)
        with torch.no_grad():
            w = G.mapping(z, c)
            x = peak_normalise(G.synthesis(G.broadcast(w), noise="fixed")[:, 0])
        w_hat = E(x[:, None])
        latent_mse = F.mse_loss(w_hat, w)
        loss = latent_mse
        metrics = {"loss/e_latent": latent_mse.item()}
        if t.encoder_spectral > 0:
            x_hat = peak_normalise(G.synthesis(G.broadcast(w_hat), noise="fixed")[:, 0])
            spectral = spectral_loss(x_hat, x, t.n_ffts).mean()
            loss = loss + t.encoder_spectral * spectral
            metrics["loss/e_spectral"] = spectral.item()
        if t.encoder_real > 0:
            real = batch["wave"][:t.encoder_batch, 0]
            real_hat = peak_normalise(G.synthesis(G.broadcast(E(real[:, None])), noise="fixed")[:, 0])
            real_loss = spectral_loss(real_hat, real, t.n_ffts).mean()
            loss = loss + t.encoder_real * real_loss
            metrics["loss/e_real"] = real_loss.item()
        opt = self._optimizers["encoder"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        average_gradients(self.encoder)
        opt.step()
        return {"loss/e": loss.item()} | metrics

    def state_dict(self) -> dict[str, Any]:
        return self.selection.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.selection.load_state_dict(state)
        if self.last_step + 1 > gan_steps(self.cfg.train):
            self.generator.requires_grad_(False)

    # ---- generator selection -------------------------------------------------------------------

    def selecting(self) -> bool:
        """Whether the validation after ``last_step`` judges the generator (full length, faded in)."""
        if self.cfg.train.select_per_class <= 0 or self.last_step + 1 > gan_steps(self.cfg.train):
            return False
        scale, alpha = stage_at(self.cfg, self.last_step)
        return scale == len(self.lengths) - 1 and alpha >= 1.0

    # ---- inference-side hooks ------------------------------------------------------------------

    def release_extra(self) -> dict[str, Any]:
        extra: dict[str, Any] = {"classes": list(self.classes),
                                 "encoder_trained": self.last_step + 1 > gan_steps(self.cfg.train)}
        return extra | self.selection.release_entry()

    def preview(self, modules: dict[str, nn.Module], n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` hits at the current length (up-sampled to T as the generator up-samples), classes in turn:
        Tensor[n, 1, T]."""
        scale, alpha = stage_at(self.cfg, min(self.last_step, gan_steps(self.cfg.train) - 1))
        z = torch.randn(n, self.cfg.model.latent_dim, generator=generator, device=generator.device)
        c = torch.eye(len(self.classes), device=z.device)[torch.arange(n, device=z.device) % len(self.classes)]
        wave = modules["generator"](z, c, scale, alpha)
        for _ in range(len(self.lengths) - 1 - scale):
            wave = upsample(wave, self.cfg.model.upsampling)
        return wave / wave.abs().amax(-1, keepdim=True).clamp_min(1e-8)

    def validate(self, modules: dict[str, nn.Module], batches: Iterable[dict[str, torch.Tensor]] | None) -> Metrics:
        """``valid/class_agreement`` while selecting (:meth:`selecting`); in the encoder phase
        ``valid/encoder_lsd``, the log-spectral distance in dB of G(E(x)) to the valid split's real
        sounds x (keep-best follows it); else ``{}``."""
        if self.selecting():
            G = modules["generator"]  # G(z, c) plays the stored noise, as a release does
            agreement = self.class_agreement(lambda z, c: peak_normalise(G(z, c)[:, 0]), G.synthesis.const.device)
            return self.selection.offer(agreement, self.last_step + 1, G)
        if batches is None or self.last_step + 1 <= gan_steps(self.cfg.train):
            return {}
        G, E = modules["generator"], modules["encoder"]
        total, count = 0.0, 0
        for batch in batches:
            x = batch["wave"]
            x_hat = peak_normalise(G.synthesis(G.broadcast(E(x)), noise="fixed")[:, 0])
            total += lsd_db(x[:, 0], x_hat) * len(x)
            count += len(x)
        return {"valid/encoder_lsd": total / count} if count else {}


def build_recipe(config: Config, cache: Cache | None) -> StyleRecipe:
    """The family contract's ``build_recipe`` (the cache is read by :func:`data_factories` only)."""
    del cache
    return StyleRecipe(config)


def data_factories(config: Config, cache: Cache, rank: int = 0, world_size: int = 1
                   ) -> tuple[BalancedWaveBatches, sdata.ValidWaves | None]:
    """The family contract's ``data_factories``: (train factory, valid factory or None). Every rank
    samples the whole training split with its own generator; ``rank``/``world_size`` are unused."""
    del rank, world_size
    check(config)
    train = sdata.waveset(cache, "train", config.data)
    valid = None
    if cache.indices("valid", three_class=config.data.three_class):
        valid = sdata.ValidWaves(sdata.waveset(cache, "valid", config.data))
    return BalancedWaveBatches(train, config.train.batch_size, config.train.n_critic), valid
