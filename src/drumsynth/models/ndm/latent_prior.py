"""Per-class latent priors fitted after training (ex-post density estimation).

A WAE pulls each class's codes towards N(0, I) with the MMD term, but on a short CPU budget the pull is
incomplete: the first shipped model's cymbal codes sat about 2 units from the origin along correlated
directions, so codes drawn from N(0, I) decoded to something between a cymbal and a snare (judged
cymbal: 0.22 for prior draws, 0.44-0.50 for draws from the cymbals' own Gaussian; docs/ndm.md). Following Ghosh et al. (2020, "From variational to deterministic autoencoders"), we fit a
density to the training encodings after training and sample from it: here one full-covariance Gaussian
per class, with Ledoit-Wolf shrinkage because the rarest class (18 claps) has fewer recordings than
latent dimensions. The seed's own interface already centres its XY pad on each class's mean code; this
does the same for random draws.

A prior is a dict ``{"classes": {name: {"mean": Tensor[d], "scale": Tensor[d, d], "n": int}}}`` with
``scale @ scale.T`` the covariance (plain tensors: it travels in the release checkpoint's ``extra``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from drumsynth.errors import DrumsynthError

LatentPrior = dict[str, Any]


def fit_class_gaussians(z: torch.Tensor, labels: torch.Tensor, classes: Sequence[str]) -> LatentPrior:
    """One shrunk full-covariance Gaussian per class of the codes ``z``.

    Parameters
    ----------
    z : Tensor[N, d] encodings of the training set
    labels : Tensor[N] int64 class index of each encoding (into ``classes``)
    classes : class names

    Returns
    -------
    The prior dict (module docstring). A class with fewer than 2 encodings gets N(0, I), the WAE's
    own prior.
    """
    from sklearn.covariance import LedoitWolf

    if z.ndim != 2 or labels.shape != (z.shape[0],):
        raise DrumsynthError(f"fit_class_gaussians needs z [N, d] and labels [N], got {tuple(z.shape)} "
                             f"and {tuple(labels.shape)}")
    z = z.detach().cpu().double().numpy()
    labels = labels.detach().cpu().numpy()
    d = z.shape[1]
    out = {}
    for i, name in enumerate(classes):
        codes = z[labels == i]
        if len(codes) < 2:
            mean, cov = np.zeros(d), np.eye(d)
        else:
            fit = LedoitWolf().fit(codes)
            mean, cov = fit.location_, fit.covariance_
        # A symmetric square root, not a Cholesky factor: a class whose codes coincide (an untrained
        # encoder) has a singular covariance, and then its draws are simply its mean.
        eigenvalues, vectors = np.linalg.eigh(cov)
        scale = vectors * np.sqrt(np.clip(eigenvalues, 0.0, None)) @ vectors.T
        out[name] = {"mean": torch.from_numpy(mean).float(), "scale": torch.from_numpy(scale).float(),
                     "n": int(len(codes))}
    return {"classes": out}


def sample(prior: LatentPrior, classes: Sequence[str], weights: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Codes from the class priors: Tensor[B, d].

    Parameters
    ----------
    prior : a fitted prior (:func:`fit_class_gaussians`)
    classes : the model's class names, the columns of ``weights``
    weights : Tensor[B, C] class weights, rows summing to 1 (one-hot: that class's Gaussian)
    noise : Tensor[B, d] standard normal draws

    A soft row mixes the classes' draws at the same noise, ``sum_c w_c (mean_c + S_c noise)``, so a
    class mix moves its code continuously between the classes' typical regions, as it moves the
    decoder's conditioning.
    """
    missing = [c for c in classes if c not in prior["classes"]]
    if missing:
        raise DrumsynthError(f"the latent prior has no entry for the classes {missing}")
    entries = [prior["classes"][c] for c in classes]
    means = torch.stack([e["mean"] for e in entries]).to(noise)              # [C, d]
    scales = torch.stack([e["scale"] for e in entries]).to(noise)             # [C, d, d]
    per_class = means[:, None, :] + torch.einsum("cij,bj->cbi", scales, noise)  # [C, B, d]
    return torch.einsum("bc,cbi->bi", weights.to(noise), per_class)
