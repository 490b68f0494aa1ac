"""Exponential moving average of a module's parameters and buffers (the stylegan2 ``g_ema``)."""

from __future__ import annotations

import copy

import torch
from torch import nn

from drumsynth.errors import DrumsynthError


def unwrap(module: nn.Module) -> nn.Module:
    """The plain module inside DDP (``.module``) and ``torch.compile`` (``._orig_mod``) wrappers.

    Checkpoints must hold the plain module's names: a DDP prefix (``module.``) or a compiled one
    (``_orig_mod.``) would make them unloadable into the bare model.
    """
    while True:
        if isinstance(module, nn.parallel.DistributedDataParallel | nn.DataParallel):
            module = module.module
        elif hasattr(module, "_orig_mod") and isinstance(module._orig_mod, nn.Module):
            module = module._orig_mod
        else:
            return module


class EMA:
    """Shadow copy ``θ_ema ← decay · θ_ema + (1 − decay) · θ`` of every float parameter and buffer.

    Integer buffers (BatchNorm's ``num_batches_tracked``) are copied, not averaged. The shadow is a
    full module (``self.module``, eval mode, no gradients) so it can be run directly for previews.

    Parameters
    ----------
    model : the module to follow (wrappers are unwrapped); its current weights start the average
    decay : float in [0, 1]; 0 copies the model at every update
    """

    def __init__(self, model: nn.Module, decay: float = 0.999) -> None:
        if not 0.0 <= decay <= 1.0:
            raise DrumsynthError(f"EMA decay must be in [0, 1], got {decay!r}")
        self.decay = float(decay)
        self.module = copy.deepcopy(unwrap(model)).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Move the average one step towards ``model``'s current parameters and buffers."""
        source = unwrap(model).state_dict()
        for name, shadow in self.module.state_dict().items():
            value = source[name].detach()
            if shadow.is_floating_point() or shadow.is_complex():
                # lerp is one fused, deterministic op: the exact-resume test depends on determinism.
                shadow.lerp_(value.to(shadow.dtype), 1.0 - self.decay)
            else:
                shadow.copy_(value)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The shadow weights, keyed like the plain model's ``state_dict()`` (loadable into it)."""
        return {k: v.detach().clone() for k, v in self.module.state_dict().items()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore shadow weights; missing or unexpected names are an error, never ignored."""
        try:
            self.module.load_state_dict(state, strict=True)
        except RuntimeError as err:
            raise DrumsynthError(f"EMA weights do not fit the model: {err}") from err

    @torch.no_grad()
    def copy_to(self, model: nn.Module) -> None:
        """Overwrite ``model``'s parameters and buffers with the averaged ones."""
        unwrap(model).load_state_dict(self.module.state_dict(), strict=True)

    def to(self, device: torch.device | str) -> EMA:
        """Move the shadow module (after a resume loaded it on the CPU)."""
        self.module.to(device)
        return self
