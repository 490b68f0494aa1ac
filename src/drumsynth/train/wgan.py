"""GAN training pieces shared by the model families.

- The waveform GANs (wavegan, style): the gradient penalty, the progressive-growing schedule and
  :func:`wgan_gp_step`, one training step of ``n_critic`` critic updates and one generator update;
  the families differ only in how they make a fake batch.
- Every GAN with a generator selection (wavegan, style, drumgan): :class:`ClassAgreement`, the drum
  classifier's verdict on hits from fixed latents (families differ only in how a hit is rendered);
  :class:`GeneratorSelection` (style, drumgan), which keeps the best-judged generator for the encoder
  phase and the release.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from drumsynth.train.distributed import average_gradients, broadcast_module


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


def wgan_gp_step(batch: Mapping[str, torch.Tensor], real_view: Callable[[torch.Tensor], torch.Tensor],
                 fake_of: Callable[[torch.Tensor], torch.Tensor],
                 score: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], modules: Mapping[str, nn.Module],
                 optimizers: Mapping[str, torch.optim.Optimizer], n_critic: int, batch_size: int,
                 gp_weight: float, generator: torch.Generator,
                 generator_extra: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, dict[str, float]]]
                 | None = None) -> dict[str, float]:
    """One WGAN-GP training step: ``n_critic`` critic updates, then one generator update.

    Critic update ``k`` takes the ``k``-th ``batch_size`` real clips ``x`` and classes ``c`` and
    minimises ``loss/d = E[D(G(z, c), c)] - E[D(x, c)] + gp_weight GP``, the fakes made for the real
    clips' classes so that each penalty point (a real clip mixed with a fake of its own class) has a
    well defined class. The generator update then minimises ``loss/g = -E[D(G(z, c'), c')]`` on the
    first ``batch_size`` generator classes ``c'``, the critic frozen. Gradients are averaged over the
    ranks (:func:`average_gradients`) before each optimiser step. The draws from ``generator`` come in
    a fixed order (per critic update: the fakes, D of the reals, D of the fakes, the penalty), so a
    seed trains the same whatever the family.

    batch : ``{"wave": Tensor[n_critic B, 1, T] full-length real clips, "c": Tensor[n_critic B, C]
        their one-hot classes, "c_fake": Tensor[>= B, C] classes for the generator update}``
    real_view : real clips Tensor[B, 1, T] -> Tensor[B, 1, T'] as the critic sees them now (the
        current scale and fade-in)
    fake_of : classes Tensor[B, C] -> fakes Tensor[B, 1, T'] (differentiable in the generator's
        weights; drawing its latents from ``generator``)
    score : (clips Tensor[B, 1, T'], classes Tensor[B, C]) -> critic scores Tensor[B]
    modules, optimizers : ``"generator"`` and ``"critic"`` — the plain modules (gradient averaging,
        freezing the critic) and their optimisers
    generator_extra : optional (fakes Tensor[B, 1, T'], classes Tensor[B, C]) -> (a weighted loss
        added to ``loss/g``, its metrics), for a family's own generator term
    Returns ``loss/d``, ``loss/gp``, ``loss/wasserstein`` (means over the critic updates) and ``loss/g``
    (the adversarial part), plus the extra term's metrics.
    """
    critic, b = modules["critic"], batch_size
    sums = {"loss/d": 0.0, "loss/gp": 0.0, "loss/wasserstein": 0.0}
    opt = optimizers["critic"]
    for k in range(n_critic):
        part = slice(k * b, (k + 1) * b)
        real, c = real_view(batch["wave"][part]), batch["c"][part]
        with torch.no_grad():
            fake = fake_of(c)
        d_real, d_fake = score(real, c), score(fake, c)
        gp = gradient_penalty(lambda x, c=c: score(x, c), real, fake, generator)
        wasserstein = d_real.mean() - d_fake.mean()
        loss_d = -wasserstein + gp_weight * gp
        opt.zero_grad(set_to_none=True)
        loss_d.backward()
        average_gradients(critic)
        opt.step()
        sums["loss/d"] += loss_d.item()
        sums["loss/gp"] += gp.item()
        sums["loss/wasserstein"] += wasserstein.item()

    critic.requires_grad_(False)
    try:
        c = batch["c_fake"][:b]
        fake = fake_of(c)
        loss_g = -score(fake, c).mean()
        extra_loss, extra_metrics = generator_extra(fake, c) if generator_extra else (0.0, {})
        opt = optimizers["generator"]
        opt.zero_grad(set_to_none=True)
        (loss_g + extra_loss).backward()
        average_gradients(modules["generator"])
        opt.step()
    finally:
        critic.requires_grad_(True)
    return {k: v / n_critic for k, v in sums.items()} | {"loss/g": loss_g.item()} | extra_metrics


class ClassAgreement:
    """A generator's class agreement: the share of hits from fixed latents (``per_class`` per class,
    one-hot classes) that the drum classifier assigns to the requested class.

    The latents come from their own ``seed``, so every validation judges the same hits, unrelated to
    training's draws. The classifier (``drumsynth.metrics.classifier.load_classifier``) loads at the
    first call, on that call's device.

    Parameters
    ----------
    seed : the latents' seed (each family keeps its own)
    per_class : hits per class (``train.select_per_class``)
    n_classes, latent_dim : the generator's class count C and latent size Z
    sample_rate : of the rendered hits
    """

    def __init__(self, seed: int, per_class: int, n_classes: int, latent_dim: int, sample_rate: int) -> None:
        self.seed, self.per_class, self.n_classes = seed, per_class, n_classes
        self.latent_dim, self.sample_rate = latent_dim, sample_rate
        self._judge = None

    def __call__(self, render: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                 device: torch.device) -> float:
        """render : (z Tensor[b, Z], one-hot c Tensor[b, C]) -> hits Tensor[b, T] (b <= 32, on
        ``device``, the generator's); returns the agreement in [0, 1]."""
        from drumsynth.metrics.classifier import load_classifier

        if self._judge is None:
            self._judge = load_classifier(device=device)
        n, k = self.per_class, self.n_classes
        fixed = torch.Generator(device=device).manual_seed(self.seed)
        z = torch.randn(n * k, self.latent_dim, generator=fixed, device=device)
        wanted = torch.arange(k, device=device).repeat_interleave(n)
        c = torch.eye(k, device=device)[wanted]
        waves = torch.cat([render(z[i:i + 32], c[i:i + 32]) for i in range(0, len(z), 32)])
        judged = self._judge.probs3(waves, self.sample_rate).argmax(1).to(device)
        return float((judged == wanted).float().mean())


class GeneratorSelection:
    """The best-judged generator of a GAN phase, which the encoder phase and the release then use.

    ``selected`` is ``None`` or ``{"agreement": float, "step": int, "weights": state dict}`` (the
    weights cloned when judged); ``loaded`` once the encoder phase has loaded them. Both are the
    recipe's checkpoint state (keys ``"selected"``, ``"selection_loaded"``). ``synced`` is not: a
    resumed run takes rank 0's generator again, on every rank at the same step.
    """

    def __init__(self) -> None:
        self.selected: dict[str, Any] | None = None
        self.loaded = False
        self.synced = False

    def offer(self, agreement: float, step: int, module: nn.Module) -> dict[str, float]:
        """Keep ``module``'s weights if ``agreement`` (judged after ``step`` steps) beats the best so
        far (the first of equal scores stays); returns ``valid/class_agreement`` and
        ``valid/selected_step``."""
        if self.selected is None or agreement > self.selected["agreement"]:
            weights = {k: v.detach().clone() for k, v in module.state_dict().items()}
            self.selected = {"agreement": agreement, "step": step, "weights": weights}
        return {"valid/class_agreement": agreement, "valid/selected_step": float(self.selected["step"])}

    def load_into(self, module: nn.Module) -> bool:
        """At the first encoder step of this process: load the selected weights into ``module`` (once
        per run), then give every rank rank 0's ``module`` (validation, and so the selection, ran on
        rank 0 only). Returns whether this call did so (False on every later call)."""
        if self.synced:
            return False
        if self.selected is not None and not self.loaded:
            module.load_state_dict(self.selected["weights"])
            self.loaded = True
        broadcast_module(module)
        self.synced = True
        return True

    def state_dict(self) -> dict[str, Any]:
        return {"selected": self.selected, "selection_loaded": self.loaded}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.selected = state.get("selected")
        self.loaded = bool(state.get("selection_loaded", False))

    def release_entry(self) -> dict[str, Any]:
        """The release's ``extra["selected"]`` (step and agreement) once loaded, else nothing."""
        if not self.loaded:
            return {}
        return {"selected": {"step": self.selected["step"], "class_agreement": self.selected["agreement"]}}
