"""Principal feature directions of the intermediate latent space W (GANSpace, seed §2.2).

For each class, ``samples`` codes z ~ N(0, I) go through the mapping network; PCA of the resulting w
gives a basis V (rows: directions, ordered by explained variance) and the standard deviation along
each. A style fader ``g_k`` moves w by ``g_k sigma_k v_k`` (GANSpace: w' = w + V g, here with g in
standard deviations so that every fader has the same musical range).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from drumsynth.models.style.networks import MappingNetwork

CHUNK = 4096  # codes mapped per forward pass


@dataclass
class Directions:
    """Per-class PCA of w.

    mean : Tensor[C, style_dim], the mean w of each class
    components : Tensor[C, style_dim, style_dim], row ``k`` of class ``c`` is its ``k``-th principal
        direction (unit length; rows orthonormal; ordered by explained variance, largest first)
    std : Tensor[C, style_dim], the standard deviation of w along each direction
    """

    mean: torch.Tensor
    components: torch.Tensor
    std: torch.Tensor


@torch.no_grad()
def principal_directions(mapping: MappingNetwork, n_classes: int, latent_dim: int, *, samples: int,
                         seed: int) -> Directions:
    """PCA of ``w = M(z, one_hot(c))`` over ``samples`` seeded codes per class (deterministic)."""
    device = mapping.label.weight.device
    generator = torch.Generator().manual_seed(seed)
    z = torch.randn(samples, latent_dim, generator=generator).to(device)
    means, comps, stds = [], [], []
    for c in range(n_classes):
        onehot = torch.eye(n_classes, device=device)[c].expand(CHUNK, -1)
        w = torch.cat([mapping(z[i:i + CHUNK], onehot[:len(z[i:i + CHUNK])]) for i in range(0, samples, CHUNK)])
        w = w.double()
        mean = w.mean(0)
        _, s, vh = torch.linalg.svd(w - mean, full_matrices=False)
        # A sign per direction that does not depend on the SVD routine: the largest entry is positive.
        signs = torch.sign(vh.gather(1, vh.abs().argmax(1, keepdim=True)))
        vh = vh * signs
        means.append(mean)
        comps.append(vh)
        stds.append(s / max(samples - 1, 1) ** 0.5)
    return Directions(mean=torch.stack(means).float(), components=torch.stack(comps).float(),
                      std=torch.stack(stds).float())


def fader_offsets(directions: Directions, faders: torch.Tensor) -> torch.Tensor:
    """The move of w each class's faders ask for: faders Tensor[K] (in standard deviations, along the
    first K directions) -> Tensor[C, style_dim] = sum_k g_k sigma_k v_k per class."""
    k = len(faders)
    scaled = faders[None, :] * directions.std[:, :k]                     # [C, K]
    return torch.einsum("ck,ckd->cd", scaled, directions.components[:, :k])


def class_log_likelihood(directions: Directions, w: torch.Tensor) -> torch.Tensor:
    """Log density of w under each class's Gaussian (its PCA mean, directions and variances, up to a
    shared constant): w Tensor[B, style_dim] -> Tensor[B, C]."""
    centred = w[:, None, :] - directions.mean[None]                        # [B, C, D]
    coords = torch.einsum("bcd,ced->bce", centred, directions.components)  # [B, C, D]
    var = directions.std.pow(2).clamp_min(1e-8)[None]
    return -0.5 * (coords.pow(2) / var).sum(-1) - 0.5 * var.log().sum(-1)
