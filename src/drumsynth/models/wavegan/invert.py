"""GAN inversion: a sound -> (z, class weights) by gradient descent through the frozen generator.

WaveGAN has no encoder (the seed interpolates latents only). To give it Analyze, ``vary --file`` and
Table 2, :func:`invert` optimises the latent (and, unless given, the class weights) so that the
generated hit's multi-resolution spectrum matches the sound's: a step budget, a few starting points,
and the best final loss per sound. The starting points are screened first: ``candidates`` seeded latents,
each with every class leaning its way, are rendered once (forward passes only, shared by every sound of a
batch) and each sound starts from its ``restarts`` nearest. A screened start needs far fewer steps than
z = 0 or a blind draw, and forward passes are cheap next to the steps (each a forward and a backward
pass of the generator): the measurements are in docs/wavegan.md. Deterministic: the candidates come from
a seeded generator, and each sound's optimisation is independent of the others in its batch (Adam is
element-wise).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from drumsynth.audio.dsp import peak_normalise
from drumsynth.models.wavegan.config import InvertConfig
from drumsynth.nn.wave import spectral_loss

# A screened class start: the logits of class k are LEAN * one_hot(k), softmax [0.79, 0.11, 0.11] for three
# classes (a one-hot start would sit where the softmax has almost no gradient).
LEAN = 2.0
SCREEN_CHUNK = 32  # hits rendered per forward pass while screening


def invert(generate: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], target: torch.Tensor,
           labels: torch.Tensor | None, *, latent_dim: int, n_classes: int, config: InvertConfig
           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Latents whose hits sound like ``target``.

    Parameters
    ----------
    generate : (z Tensor[N, latent_dim], c Tensor[N, C]) -> Tensor[N, T], differentiable (the frozen generator)
    target : Tensor[B, T] clips at the model's rate and length, peak 1
    labels : Tensor[B, C] class weights to keep fixed, or ``None`` to estimate them too (as
        ``softmax`` of free logits, starting from the screened class's lean: :func:`screen`)
    config : the step budget, candidates, restarts, learning rate, STFT sizes and seed

    Returns
    -------
    (z Tensor[B, latent_dim], c Tensor[B, C], loss Tensor[B]) : the best restart per sound and its
    final :func:`spectral_loss` against ``target`` (of the peak-normalised hit)
    """
    device, b, r = target.device, len(target), config.restarts
    goal = target.detach()
    z0, logits0 = screen(generate, goal, labels, latent_dim=latent_dim, n_classes=n_classes, config=config)
    z = z0.requires_grad_(True)
    logits = logits0.requires_grad_(labels is None)
    fixed = None if labels is None else labels.to(device, torch.float32).repeat_interleave(r, 0)
    goal = goal.repeat_interleave(r, 0)
    params = [z] if fixed is not None else [z, logits]
    optimizer = torch.optim.Adam(params, lr=config.lr)

    def loss_of(z: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        c = fixed if fixed is not None else torch.softmax(logits, dim=1)
        return spectral_loss(peak_normalise(generate(z, c)), goal, config.n_ffts)

    # The best iterate of each start is kept (Adam can overshoot near the end of a short budget), so
    # the result is never worse than the screened start.
    best_z, best_logits = z.detach().clone(), logits.detach().clone()
    best_loss = torch.full((b * r,), float("inf"), device=device)
    with torch.enable_grad():
        for step in range(config.steps + 1):
            loss = loss_of(z, logits)
            with torch.no_grad():
                better = loss < best_loss
                best_loss = torch.where(better, loss, best_loss)
                best_z[better], best_logits[better] = z[better], logits[better]
            if step == config.steps:
                break
            # Gradients of the latents only: the generator's own .grad stays untouched.
            grads = torch.autograd.grad(loss.sum(), params)
            for p, g in zip(params, grads, strict=True):
                p.grad = g
            optimizer.step()
    with torch.no_grad():
        final = best_loss.view(b, r)
        best = final.argmin(1)
        pick = torch.arange(b, device=device) * r + best
        c = fixed if fixed is not None else torch.softmax(best_logits, dim=1)
        return best_z[pick], c[pick], final[torch.arange(b, device=device), best]


@torch.no_grad()
def screen(generate: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], target: torch.Tensor,
           labels: torch.Tensor | None, *, latent_dim: int, n_classes: int, config: InvertConfig
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``restarts`` best starting points per sound among the seeded candidates.

    Candidates: ``config.candidates`` latents (the first z = 0, the rest N(0, I) draws with
    ``config.seed``), each paired with every class leaning its way (logits ``LEAN * one_hot``) when the
    class weights are free, or with the sound's own ``labels``. Returns (z Tensor[B * restarts,
    latent_dim], logits Tensor[B * restarts, C]), sound-major, best first.
    """
    device, b = target.device, len(target)
    cands = torch.randn(config.candidates, latent_dim, generator=torch.Generator().manual_seed(config.seed))
    cands[0] = 0.0  # the prior's mode
    cands = cands.to(device)
    if labels is None:
        # Shared by every sound: render the candidates once.
        z = cands.repeat_interleave(n_classes, 0)
        logits = LEAN * torch.eye(n_classes, device=device).repeat(config.candidates, 1)
        hits = torch.cat([peak_normalise(generate(z[i:i + SCREEN_CHUNK], torch.softmax(logits[i:i + SCREEN_CHUNK], 1)))
                          for i in range(0, len(z), SCREEN_CHUNK)])
        losses = torch.stack([spectral_loss(hits, t.expand_as(hits), config.n_ffts) for t in target])
        best = losses.topk(config.restarts, dim=1, largest=False).indices          # [B, restarts]
        return z[best.flatten()].clone(), logits[best.flatten()].clone()
    labels = labels.to(device, torch.float32)
    zs = []
    for t, c in zip(target, labels, strict=True):
        hits = torch.cat([peak_normalise(generate(cands[i:i + SCREEN_CHUNK],
                                                  c.expand(len(cands[i:i + SCREEN_CHUNK]), -1)))
                          for i in range(0, len(cands), SCREEN_CHUNK)])
        best = spectral_loss(hits, t.expand_as(hits), config.n_ffts).topk(config.restarts, largest=False).indices
        zs.append(cands[best])
    return torch.cat(zs).clone(), torch.zeros(b * config.restarts, n_classes, device=device)
