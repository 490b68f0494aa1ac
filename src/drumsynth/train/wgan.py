"""WGAN-GP pieces shared by the waveform GANs (wavegan, style): the gradient penalty and the
progressive-growing schedule."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch


def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor,
                     generator: torch.Generator) -> torch.Tensor:
    """WGAN-GP: ``E[(||grad D(x~)|| - 1)^2]`` at ``x~ = fake + eps (real - fake)``, eps ~ U(0, 1) per clip.

    critic : x Tensor[B, ...] -> scores Tensor[B] (the class already bound)
    real, fake : Tensor[B, ...]; returns a scalar Tensor (differentiable in the critic's weights)
    """
    eps = torch.rand(len(real), *([1] * (real.ndim - 1)), generator=generator, device=generator.device).to(real)
    mixed = torch.lerp(fake, real, eps).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1.0).pow(2).mean()


def growing_stage(step: int, sizes: Sequence[int], start_length: int, stage_steps: Sequence[int],
                  fade_fraction: float) -> tuple[int, float]:
    """(scale, fade-in alpha) of training step ``step`` (0-based) under progressive growing.

    ``sizes`` are the clip lengths of every scale, coarsest first; stage ``k`` trains at the scale of
    ``start_length`` plus ``k`` for ``stage_steps[k]`` steps, its first ``fade_fraction`` of steps
    (after the first stage) fading the new blocks in linearly. ``start_length`` 0: no growing, every
    step at the full length. A function of the step alone, so that a resumed run continues exactly.
    """
    last = len(sizes) - 1
    if not start_length:
        return last, 1.0
    first, start = list(sizes).index(start_length), 0
    for k, steps in enumerate(stage_steps):
        if step < start + steps:
            local = step - start
            fade = round(fade_fraction * steps) if k > 0 else 0
            # (local + 1): the new block already contributes at its first step.
            return first + k, min(1.0, (local + 1) / fade) if fade > 0 else 1.0
        start += steps
    return last, 1.0
