"""Training the conditional WaveGAN: WGAN-GP with ``n_critic`` critic updates per generator update.

One training step (seed §3.1):

- ``n_critic`` times: ``loss/d = E[D(G(z, c), c)] - E[D(x, c)] + lambda GP`` on a fresh real batch
  ``(x, c)`` and fakes of the same classes, ``GP = E[(||grad_x~ D(x~, c)|| - 1)^2]`` at random points
  between each real clip and its fake (Gulrajani et al.);
- once: ``loss/g = -E[D(G(z, c'), c')]`` with classes ``c'`` drawn uniformly.

With progressive growing (``model.start_length`` > 0) the stage and fade-in follow from the step
alone (resume-exact): stage ``k`` trains at ``lengths[first + k]``, its first ``fade_fraction`` of
steps fading the new blocks in linearly (real clips are pooled and faded the same way).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from drumsynth.audio.dsp import peak_normalise
from drumsynth.config import to_dict
from drumsynth.data.cache import Cache
from drumsynth.data.dataset import DrumDataset
from drumsynth.data.gan_batches import BalancedWaveBatches
from drumsynth.models.wavegan import data as wdata
from drumsynth.models.wavegan.builder import build_modules
from drumsynth.models.wavegan.config import Config, check, class_names, lengths
from drumsynth.nn.wave import real_at_scale, upsample
from drumsynth.train.recipe import Metrics, Recipe
from drumsynth.train.wgan import ClassAgreement, growing_stage, wgan_gp_step

# Latents of the generator selection: the same hits at every validation, unrelated to training's draws.
SELECTION_SEED = 20200


def stage_at(config: Config, step: int) -> tuple[int, float]:
    """(scale, fade-in alpha) of training step ``step`` (0-based): the full length without growing."""
    t = config.train
    return growing_stage(step, lengths(config), config.model.start_length, t.stage_steps, t.fade_fraction)


class WaveGANRecipe(Recipe):
    """Conditional WaveGAN, WGAN-GP (see the module docstring).

    Parameters
    ----------
    config : the wavegan ``Config``
    classes : the model's class names (the config's class view)
    """

    family = "wavegan"
    best_metric = "valid/class_agreement"
    best_mode = "max"
    best_metric_sometimes = True  # judged only at full length after the last fade-in
    # Under torchrun: plain modules and averaged gradients (the gradient penalty's double backward and
    # the unused blocks of a growing stage do not go through DDP's reducer).
    ddp_gradients = "average"
    inference_sections = ("invert",)  # GAN inversion settings: used by the release, never by training

    def __init__(self, config: Config, classes: tuple[str, ...] | None = None) -> None:
        self.cfg = check(config)
        self.config = to_dict(config)
        self.sample_rate = config.data.sr
        self.classes = tuple(classes) if classes is not None else class_names(config.data)
        self.lengths = lengths(config)
        self.generator, self.critic = build_modules(config, len(self.classes))
        t = config.train
        betas = tuple(t.adam_betas)
        self._optimizers = {"generator": torch.optim.Adam(self.generator.parameters(), lr=t.lr, betas=betas),
                            "critic": torch.optim.Adam(self.critic.parameters(), lr=t.lr, betas=betas)}
        self.last_step = 0
        self.class_agreement = ClassAgreement(SELECTION_SEED, t.select_per_class, len(self.classes),
                                              config.model.latent_dim, self.sample_rate)

    # ---- contract ------------------------------------------------------------------------------

    def modules(self) -> dict[str, nn.Module]:
        return {"generator": self.generator, "critic": self.critic}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return self._optimizers

    def release_modules(self) -> list[str]:
        # The generator itself, no moving average: drumgan's average of the weights added a broadband
        # floor at this training length (docs/drumgan.md, run 3).
        return ["generator"]

    def train_step(self, batch: dict[str, torch.Tensor], step: int, generator: torch.Generator) -> Metrics:
        self.last_step = step
        t = self.cfg.train
        latent = self.cfg.model.latent_dim
        scale, alpha = stage_at(self.cfg, step)
        G, D = self.nets["generator"], self.nets["critic"]

        def fake_of(c: torch.Tensor) -> torch.Tensor:
            z = torch.randn(len(c), latent, generator=generator, device=generator.device).to(batch["wave"])
            return G(z, c, scale, alpha)

        metrics = wgan_gp_step(batch, lambda x: real_at_scale(x, self.lengths, scale, alpha, self.cfg.model.upsampling), fake_of,
                               lambda x, c: D(x, c, scale, alpha, generator), self.modules(), self._optimizers,
                               t.n_critic, t.batch_size, t.gp_weight, generator)
        return metrics | {"stage/length": float(self.lengths[scale]), "stage/alpha": float(alpha)}

    def release_extra(self) -> dict[str, Any]:
        return {"classes": list(self.classes)}

    # ---- generator selection -------------------------------------------------------------------

    def selecting(self) -> bool:
        """Whether the validation after ``last_step`` judges the generator (full length, faded in)."""
        if self.cfg.train.select_per_class <= 0:
            return False
        scale, alpha = stage_at(self.cfg, self.last_step)
        return scale == len(self.lengths) - 1 and alpha >= 1.0

    # ---- inference-side hooks ------------------------------------------------------------------

    def preview(self, modules: dict[str, nn.Module], n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` hits at the current length (up-sampled to T as the generator up-samples), classes in turn:
        Tensor[n, 1, T]."""
        scale, alpha = stage_at(self.cfg, self.last_step)
        z = torch.randn(n, self.cfg.model.latent_dim, generator=generator, device=generator.device)
        c = torch.eye(len(self.classes), device=z.device)[torch.arange(n, device=z.device) % len(self.classes)]
        wave = modules["generator"](z, c, scale, alpha)
        for _ in range(len(self.lengths) - 1 - scale):
            wave = upsample(wave, self.cfg.model.upsampling)
        return wave / wave.abs().amax(-1, keepdim=True).clamp_min(1e-8)

    def validate(self, modules: dict[str, nn.Module], batches: Iterable[Any] | None) -> Metrics:
        """``valid/class_agreement`` when selecting (:meth:`selecting`), else ``{}``."""
        del batches
        if not self.selecting():
            return {}
        G = modules["generator"]
        agreement = self.class_agreement(lambda z, c: peak_normalise(G(z, c)[:, 0]), next(G.parameters()).device)
        return {"valid/class_agreement": agreement}


def build_recipe(config: Config, cache: Cache | None) -> WaveGANRecipe:
    """The family contract's ``build_recipe`` (the cache is read by :func:`data_factories` only)."""
    del cache
    return WaveGANRecipe(config)


def data_factories(config: Config, cache: Cache, rank: int = 0, world_size: int = 1
                   ) -> tuple[BalancedWaveBatches, None]:
    """The family contract's ``data_factories``: (train factory, None). Validation judges generated
    hits only (no valid batches). ``rank``/``world_size`` are unused (one process)."""
    del rank, world_size
    check(config)
    train: DrumDataset = wdata.waveset(cache, "train", config.data)
    return BalancedWaveBatches(train, config.train.batch_size, config.train.n_critic), None
