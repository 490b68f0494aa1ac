"""The Neural Drum Machine's interface as functions: PCA of the latent space, XY pad + Fine + Range,
class menu, waveform crop.

The seed reduces the 64-d latent space to its 3 most influential directions with a PCA of the
training set's encodings: the XY pad sets P1 and P2, the "Fine" knob P3, a selector the range of all
three, a menu the class, and a waveform view crops the result. Here:

- :func:`pca_fit` fits one PCA over all encodings ("overall") and one per class, stored in the
  release checkpoint as plain tensors;
- a control position ``p`` in [-1, 1] maps to ``p * range_std`` standard deviations along its
  principal direction (:func:`latent_from_controls`); the class menu picks the class's own PCA
  (its mean and directions), so the pad's centre is that class's typical sound;
- :func:`crop` cuts the waveform between two fractions of its length, with short fades where it cuts.

A PCA is a dict ``{"n_components": int, "overall": entry, "classes": {name: entry}}`` with
``entry = {"mean": Tensor[d], "components": Tensor[k, d] (orthonormal rows), "std": Tensor[k],
"n": int}``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from drumsynth.audio.dsp import crop  # noqa: F401  (the seed's waveform crop; lives in dsp, used by every family)
from drumsynth.errors import DrumsynthError

PCA = dict[str, Any]


def _fit_entry(z: torch.Tensor, k: int, fallback: dict[str, Any] | None = None) -> dict[str, Any]:
    """PCA of ``z: Tensor[n, d]``; with fewer than ``k + 1`` points, the fallback's directions."""
    z = z.double()
    n = z.shape[0]
    mean = z.mean(0) if n else torch.zeros(z.shape[1], dtype=torch.float64)
    if n < k + 1:
        if fallback is None:
            raise DrumsynthError(f"PCA with {k} components needs at least {k + 1} encodings, got {n}")
        return {"mean": mean.float(), "components": fallback["components"].clone(),
                "std": fallback["std"].clone(), "n": int(n)}
    centred = z - mean
    _, s, vh = torch.linalg.svd(centred, full_matrices=False)
    components = vh[:k]
    # Fix each direction's sign (largest-magnitude coordinate positive): refits and retrains give
    # the same orientation, so "right on the pad" keeps its meaning for the same data.
    flip = torch.sign(components.gather(1, components.abs().argmax(1, keepdim=True)))
    components = components * torch.where(flip == 0, torch.ones_like(flip), flip)
    std = s[:k] / math.sqrt(n - 1)
    return {"mean": mean.float(), "components": components.float(), "std": std.float(), "n": int(n)}


def pca_fit(z: torch.Tensor, labels: torch.Tensor, classes: Sequence[str], n_components: int = 3) -> PCA:
    """PCA of latent codes, overall and per class.

    Parameters
    ----------
    z : Tensor[N, d] encodings of the training set
    labels : Tensor[N] int64 class index of each encoding (into ``classes``)
    classes : class names
    n_components : principal directions kept (the seed: 3 — P1, P2, P3)

    Returns
    -------
    PCA dict (see the module docstring). A class with fewer than ``n_components + 1`` encodings
    keeps its own mean but borrows the overall directions and spreads.
    """
    if z.ndim != 2 or labels.shape != (z.shape[0],):
        raise DrumsynthError(f"pca_fit needs z [N, d] and labels [N], got {tuple(z.shape)} and "
                             f"{tuple(labels.shape)}")
    if not 1 <= n_components <= z.shape[1]:
        raise DrumsynthError(f"n_components must be in 1..{z.shape[1]}, got {n_components}")
    z = z.detach().cpu()
    labels = labels.detach().cpu()
    overall = _fit_entry(z, n_components)
    per_class = {name: _fit_entry(z[labels == i], n_components, overall) for i, name in enumerate(classes)}
    return {"n_components": int(n_components), "overall": overall, "classes": per_class}


def prior_pca(latent_dim: int, classes: Sequence[str], n_components: int = 3) -> PCA:
    """The PCA of the prior N(0, I): mean 0, the first coordinate axes, std 1.

    Used when a checkpoint carries no fitted PCA (a resume file, an untrained model): every
    orthonormal basis is principal for an isotropic Gaussian.
    """
    entry = {"mean": torch.zeros(latent_dim), "components": torch.eye(latent_dim)[:n_components],
             "std": torch.ones(n_components), "n": 0}
    return {"n_components": int(n_components), "overall": entry,
            "classes": {name: {k: (v.clone() if isinstance(v, torch.Tensor) else v) for k, v in entry.items()}
                        for name in classes}}


def pca_entry(pca: PCA, cls: str | None = None) -> dict[str, Any]:
    """The PCA of class ``cls`` (``None`` or ``"overall"``: the overall one)."""
    if cls is None or cls == "overall":
        return pca["overall"]
    if cls not in pca["classes"]:
        raise DrumsynthError(f"unknown class {cls!r} for the PCA; expected one of {sorted(pca['classes'])}")
    return pca["classes"][cls]


def pca_coords(entry: dict[str, Any], z: torch.Tensor) -> torch.Tensor:
    """Project latents on the principal directions: z Tensor[..., d] -> Tensor[..., k] (latent units)."""
    return (z - entry["mean"].to(z)) @ entry["components"].to(z).T


def pca_latent(entry: dict[str, Any], coords: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`pca_coords` on the span: coords Tensor[..., k] -> z Tensor[..., d]."""
    return entry["mean"].to(coords) + coords @ entry["components"].to(coords)


def latent_from_controls(pca: PCA, cls: str | None, p1: float, p2: float, p3: float = 0.0,
                         range_std: float = 2.0) -> torch.Tensor:
    """The seed's controls -> a latent code ``Tensor[d]``.

    Parameters
    ----------
    pca : a PCA dict (:func:`pca_fit`)
    cls : the class menu's choice (its own PCA), or ``None`` for the overall PCA
    p1, p2 : XY pad position, each in [-1, 1] (0, 0 is the centre: the class mean)
    p3 : the "Fine" knob in [-1, 1]
    range_std : the range selector: the pad's edge lies this many standard deviations out along
        each direction (> 0)

    Returns
    -------
    z = mean + Σ_i p_i · range_std · std_i · v_i, Tensor[d] float32
    """
    for name, value in (("p1", p1), ("p2", p2), ("p3", p3)):
        if not (isinstance(value, int | float) and math.isfinite(value) and -1.0 <= value <= 1.0):
            raise DrumsynthError(f"{name} must be a number in [-1, 1], got {value!r}")
    if not (isinstance(range_std, int | float) and math.isfinite(range_std) and range_std > 0):
        raise DrumsynthError(f"range_std must be a positive number, got {range_std!r}")
    entry = pca_entry(pca, cls)
    k = entry["components"].shape[0]
    p = torch.tensor([p1, p2, p3][:k] + [0.0] * max(0, k - 3), dtype=torch.float32)
    return pca_latent(entry, p * float(range_std) * entry["std"].float())


def controls_from_latent(pca: PCA, cls: str | None, z: torch.Tensor, range_std: float = 2.0) -> torch.Tensor:
    """Where a latent sits on the controls (e.g. after encoding a sample): Tensor[..., d] -> [..., k].

    The inverse of :func:`latent_from_controls` for codes in the span; values may fall outside
    [-1, 1] when the code lies beyond the current range.
    """
    entry = pca_entry(pca, cls)
    return pca_coords(entry, z) / (float(range_std) * entry["std"].to(z).clamp_min(1e-12))


