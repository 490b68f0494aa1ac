"""The Recipe: everything family-specific about training, behind one small base class.

A family writes one ``Recipe`` subclass (``models/<family>/recipe.py``); the generic
:class:`~drumsynth.train.trainer.Trainer` owns cadence, EMA, previews, keep-best, checkpoints,
resume and DDP. The split follows audiocraft's solvers: the recipe writes the G and D updates out in
``train_step`` and returns metrics; it never saves, logs or seeds anything itself.

Contract (what the Trainer relies on)
-------------------------------------
- ``family`` and ``config`` (a plain nested dict, e.g. ``drumsynth.config.to_dict(cfg)``) are stored
  in every checkpoint; the release file must rebuild the inference modules from ``config`` alone.
- ``modules()``, ``optimizers()`` and ``schedulers()`` return the *same* objects on every call.
  Modules are built before the Trainer exists
  (seed with :func:`drumsynth.train.trainer.seed_everything` first for a reproducible init; under
  torchrun DDP copies rank 0's weights to every rank anyway).
- ``optimizers()`` are built over those modules' parameters. ``schedulers()`` are stepped by the
  Trainer once per training step, after ``train_step``: never step them yourself.
- ``train_step(batch, step, generator)`` runs one full iteration (all critic and generator updates,
  including ``zero_grad`` / ``backward`` / ``optimizer.step``) and returns ``{"group/name": float}``.
  ``step`` counts the steps completed before this one (0 on the first). Every random draw must use
  ``generator`` (it lives on the training device: ``torch.randn(..., generator=generator,
  device=generator.device)``) or torch's global RNG (dropout); both are checkpointed, nothing else is.
- Forward passes that need gradients go through ``self.nets[name]``: the DDP-wrapped module under
  torchrun, the plain module otherwise. Under DDP every gradient-enabled forward of a wrapped module
  must be followed by a backward that reaches it (run G under ``torch.no_grad()`` in the D step).
- ``ddp_gradients = "average"`` (GAN recipes with a gradient penalty): under torchrun the modules are
  not wrapped in DDP, whose reducer cannot follow the penalty's double backward nor blocks a
  progressive-growing stage leaves unused; the Trainer copies rank 0's weights to every rank and
  the recipe calls :func:`drumsynth.train.distributed.average_gradients` on a module before each
  ``optimizer.step()`` (a no-op in one process).
- ``state_dict()`` / ``load_state_dict()`` carry any other training state the recipe owns (a
  progressive-growing stage, a GradScaler), as plain types and tensors only.
- ``init_from(checkpoint)`` (fine-tuning, ``drumsynth train --init``) is called once, after the
  modules are built and before the Trainer exists; a family that cannot be fine-tuned overrides it
  to raise ``DrumsynthError`` saying why.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import torch
from torch import nn

from drumsynth.errors import DrumsynthError
from drumsynth.models import load_weights

Batch = Any
Metrics = dict[str, float]


class Recipe:
    """Base class with defaults for every optional hook; subclass and fill in the abstract ones.

    Class attributes a subclass sets
    --------------------------------
    family : str, the family id stored in checkpoints (``"wavegan"``)
    config : dict, the plain nested config (set in ``__init__``)
    sample_rate : int | None, sample rate of :meth:`preview` audio
    best_metric : str | None, the :meth:`validate` key that keep-best follows (``"valid/fad"``)
    best_mode : "min" | "max", whether smaller or larger ``best_metric`` is better
    best_metric_sometimes : bool, True when only some validations report ``best_metric`` (keep-best
        then skips the others); False makes a validation without it an error (a misspelt key)
    """

    family: str = ""
    config: dict[str, Any] = {}
    sample_rate: int | None = None
    best_metric: str | None = None
    best_mode: Literal["min", "max"] = "min"
    best_metric_sometimes: bool = False
    # "wrap": DDP-wrapped modules under torchrun; "average": plain modules whose gradients the recipe
    # averages itself (see the module docstring).
    ddp_gradients: Literal["wrap", "average"] = "wrap"
    # Config sections that only inference reads (wavegan's ``invert``): a resume may change them, and the
    # release carries the new values.
    inference_sections: tuple[str, ...] = ()

    # ---- required ------------------------------------------------------------------------------

    def modules(self) -> dict[str, nn.Module]:
        """Every trainable module by name, e.g. ``{"generator": G, "discriminator": D}``."""
        raise NotImplementedError

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Every optimiser by name, e.g. ``{"generator": Adam(G), "discriminator": Adam(D)}``."""
        raise NotImplementedError

    def train_step(self, batch: Batch, step: int, generator: torch.Generator) -> Metrics:
        """One training iteration on ``batch`` (already on the training device); returns metrics."""
        raise NotImplementedError

    # ---- optional ------------------------------------------------------------------------------

    def schedulers(self) -> dict[str, torch.optim.lr_scheduler.LRScheduler]:
        """Learning-rate schedulers by name; the Trainer steps each once per training step."""
        return {}

    def ema_modules(self) -> list[str]:
        """Names of modules that get an exponential-moving-average copy (e.g. ``["generator"]``)."""
        return []

    def release_modules(self) -> list[str]:
        """Modules the release file keeps (inference only): the EMA ones, else all of them."""
        return list(self.ema_modules()) or list(self.modules())

    def release_extra(self) -> dict[str, Any]:
        """Extra inference state for the release file (feature statistics, PCA bases): plain types
        and tensors only."""
        return {}

    def preview(self, modules: dict[str, nn.Module], n: int, generator: torch.Generator
                ) -> torch.Tensor | None:
        """Audio to listen to during training, or ``None`` when the family has none.

        Parameters
        ----------
        modules : the inference modules by name (EMA weights where kept), in eval mode
        n : number of sounds
        generator : a freshly seeded generator (same latents at every preview)

        Returns
        -------
        wave : Tensor[n, 1, T] float in [-1, 1] at ``self.sample_rate``
        """
        return None

    def validate(self, modules: dict[str, nn.Module], batches: Iterable[Batch] | None) -> Metrics:
        """Validation metrics (``{"valid/name": float}``) for keep-best; ``{}`` when there are none.

        ``modules`` are as in :meth:`preview`; ``batches`` is a fresh iterable from the Trainer's
        ``valid_data`` factory (``None`` when it has none). Runs under ``torch.no_grad()``.
        """
        return {}

    def init_from(self, checkpoint: dict[str, Any]) -> None:
        """Start from a trained checkpoint's weights (fine-tuning, ``drumsynth train --init``).

        Every module of :meth:`modules` loads ``checkpoint["model"][name]`` strictly (a release file
        holds EMA weights where the family keeps them). A module the checkpoint lacks, or weights that
        do not fit, are a ``DrumsynthError`` naming them. Families with more inference state (fitted
        priors) override this and call it.
        """
        if checkpoint.get("family") != self.family:
            raise DrumsynthError(f"--init: the checkpoint is a {checkpoint.get('family')!r} model, this run "
                                 f"trains {self.family!r}")
        modules = self.modules()
        stored = checkpoint.get("model") or {}
        missing = [name for name in modules if name not in stored]
        if missing:
            raise DrumsynthError(f"--init: {self.family} training needs weights for {missing}, but the "
                                 f"checkpoint holds only {sorted(stored)}")
        load_weights(checkpoint, self.family, modules)

    def state_dict(self) -> dict[str, Any]:
        """Recipe-owned training state beyond modules/optimisers/schedulers (plain types, tensors)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""

    # ---- set by the Trainer --------------------------------------------------------------------

    def bind(self, nets: dict[str, nn.Module]) -> None:
        """Called by the Trainer with the modules to use for training forwards (DDP-wrapped or not)."""
        self._nets = dict(nets)

    @property
    def nets(self) -> dict[str, nn.Module]:
        """Modules for gradient-carrying forwards in :meth:`train_step` (see the module docstring)."""
        nets = getattr(self, "_nets", None)
        return nets if nets is not None else self.modules()
