"""Distribution metrics on embeddings: Inception Score, Kernel Inception Distance, Fréchet distance.

DESIGN §4: IS = exp(E_x KL(p(y|x) ‖ p(y))); KID = unbiased MMD² with k(x, y) = (xᵀy/d + 1)³ over
fixed-size seeded subsets; FAD = ‖μ₁−μ₂‖² + Tr(Σ₁+Σ₂−2(Σ₁Σ₂)^½). The maths is numpy float64 whatever
the input dtype; inputs are numpy arrays or torch tensors. By convention ``feats_a`` is the set under
test (generated sounds) and ``feats_b`` the reference (real data). ``tests/test_metrics.py`` checks
all three against ``torchmetrics`` on the same features.

``drumsynth evaluate`` reports :func:`kernel_distance` (the same unbiased MMD² over the whole sets: its
sets hold a few hundred sounds, where KID's subsets only add noise) on *raw* embeddings, as the KID paper
does, with bootstrap intervals (``drumsynth.metrics.bootstrap``). :func:`standardise` is kept for callers
that want z-scored features, but a reference with near-constant dimensions (aisfx has some) turns small
deviations into huge z-scores that the cubic kernel amplifies: docs/evaluation.md has the measurements.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from drumsynth.errors import DrumsynthError

# Rows of a softmax in float32 sum to 1 within ~1e-6; anything further off is not a distribution.
PROB_SUM_ATOL = 1e-3


def _as_float64(x: Any, name: str, ndim: int) -> np.ndarray:
    """numpy float64 copy of an array or tensor, checked for rank and finiteness."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().double().numpy()
    try:
        arr = np.array(x, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise DrumsynthError(f"{name} is not a numeric array: {err}") from err
    if arr.ndim != ndim:
        raise DrumsynthError(f"{name} must have {ndim} dimensions, got shape {arr.shape}")
    if arr.size == 0:
        raise DrumsynthError(f"{name} is empty (shape {arr.shape})")
    if not np.all(np.isfinite(arr)):
        raise DrumsynthError(f"{name} contains NaN or infinite values")
    return arr


def _feature_pair(feats_a: Any, feats_b: Any, min_samples: int) -> tuple[np.ndarray, np.ndarray]:
    a = _as_float64(feats_a, "feats_a", 2)
    b = _as_float64(feats_b, "feats_b", 2)
    if a.shape[1] != b.shape[1]:
        raise DrumsynthError(f"feature sizes differ: feats_a {a.shape} vs feats_b {b.shape}")
    for name, arr in (("feats_a", a), ("feats_b", b)):
        if arr.shape[0] < min_samples:
            raise DrumsynthError(f"{name} has {arr.shape[0]} samples; at least {min_samples} are needed")
    return a, b


# ----------------------------------------------------------------------------------------------- IS


def inception_score(probs: Any, n_splits: int = 1) -> tuple[float, float]:
    """Inception Score of class posteriors.

    Parameters
    ----------
    probs : array or Tensor[N, C]
        p(y|x) per sound (softmax outputs, rows summing to 1; renormalised in float64).
    n_splits : int
        The rows are cut into ``n_splits`` contiguous, near-equal parts (``np.array_split``, no
        shuffling: shuffle beforehand if the order means something); IS is computed on each.

    Returns
    -------
    (mean, std) : the mean of the per-split scores and their population standard deviation
        (``np.std``, as the original Inception Score code); std is 0.0 for one split.
        Uniform posteriors give 1; confident, class-balanced posteriors over C classes give C.
    """
    p = _as_float64(probs, "probs", 2)
    n = p.shape[0]
    if not isinstance(n_splits, (int, np.integer)) or not 1 <= n_splits <= n:
        raise DrumsynthError(f"n_splits must be an integer in [1, {n}] (the number of rows), got {n_splits!r}")
    if np.any(p < 0):
        raise DrumsynthError(f"probs has negative entries (min {p.min():.3g}): pass softmax outputs, not logits")
    sums = p.sum(axis=1)
    worst = float(np.max(np.abs(sums - 1.0)))
    if worst > PROB_SUM_ATOL:
        raise DrumsynthError(f"probs rows must sum to 1; one sums to 1 {'+' if sums.max() > 1 else '-'} {worst:.3g}")
    p = p / sums[:, None]

    scores = []
    for part in np.array_split(p, int(n_splits), axis=0):
        p_y = part.mean(axis=0, keepdims=True)
        # 0 · log 0 = 0: confident posteriors are exact zeros almost everywhere.
        ratio = np.divide(part, p_y, out=np.ones_like(part), where=part > 0)
        kl = np.sum(part * np.log(ratio), axis=1)
        scores.append(np.exp(kl.mean()))
    scores = np.asarray(scores)
    return float(scores.mean()), float(scores.std())


# ---------------------------------------------------------------------------------------------- KID


def _polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """k(x, y) = (xᵀy / d + 1)³ for every pair of rows: [n, d] × [m, d] -> [n, m]."""
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def polynomial_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD² between the rows of ``x`` [n, d] and ``y`` [m, d] with the cubic polynomial kernel.

    Within-set sums leave out the diagonal (i ≠ j); the cross term averages all n·m pairs
    (Bińkowski et al. 2018, the estimator KID uses).
    """
    n, m = x.shape[0], y.shape[0]
    k_xx = _polynomial_kernel(x, x)
    k_yy = _polynomial_kernel(y, y)
    k_xy = _polynomial_kernel(x, y)
    within_x = (k_xx.sum() - np.trace(k_xx)) / (n * (n - 1))
    within_y = (k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(within_x + within_y - 2.0 * k_xy.mean())


def kernel_distance(feats_a: Any, feats_b: Any) -> float:
    """Unbiased MMD² (cubic polynomial kernel, d-scaled) between all rows of [N, D] and [M, D], N, M >= 2.

    The estimate :func:`kernel_inception_distance` averages over subsets, computed once on the whole sets.
    """
    a, b = _feature_pair(feats_a, feats_b, min_samples=2)
    return polynomial_mmd2(a, b)


def kernel_inception_distance(feats_a: Any, feats_b: Any, *, subset_size: int = 1000, n_subsets: int = 100,
                              seed: int = 0) -> tuple[float, float]:
    """Kernel Inception Distance: unbiased polynomial-kernel MMD² averaged over random subsets.

    Parameters
    ----------
    feats_a, feats_b : array or Tensor[N, D], [M, D]
        Embeddings (raw: see the module docstring on standardising).
    subset_size : int
        Rows drawn without replacement from each set per subset; capped at min(N, M). When the cap
        makes a subset the whole of both sets, every subset is the same and one is computed.
    n_subsets : int
        Number of subsets.
    seed : int
        Seeds the ``np.random.Generator`` that draws the subsets: same inputs and seed, same result.

    Returns
    -------
    (mean, std) : mean and population standard deviation of MMD² over the subsets. The unbiased
        estimate can be slightly negative when both sets come from one distribution.
    """
    if not isinstance(subset_size, (int, np.integer)) or subset_size < 2:
        raise DrumsynthError(f"subset_size must be an integer >= 2, got {subset_size!r}")
    if not isinstance(n_subsets, (int, np.integer)) or n_subsets < 1:
        raise DrumsynthError(f"n_subsets must be a positive integer, got {n_subsets!r}")
    a, b = _feature_pair(feats_a, feats_b, min_samples=2)
    size = int(min(subset_size, a.shape[0], b.shape[0]))
    if size == a.shape[0] == b.shape[0]:
        return polynomial_mmd2(a, b), 0.0
    rng = np.random.default_rng(seed)
    values = np.empty(int(n_subsets))
    for i in range(int(n_subsets)):
        idx_a = rng.choice(a.shape[0], size=size, replace=False)
        idx_b = rng.choice(b.shape[0], size=size, replace=False)
        values[i] = polynomial_mmd2(a[idx_a], b[idx_b])
    return float(values.mean()), float(values.std())


# ----------------------------------------------------------------------------------------- FD / FAD


def _trace_sqrt_product(cov_a: np.ndarray, cov_b: np.ndarray) -> float:
    """Tr((Σ_a Σ_b)^½) through the symmetric form Σ_a^½ Σ_b Σ_a^½.

    Σ_a Σ_b is similar to the PSD matrix Σ_a^½ Σ_b Σ_a^½, so they share eigenvalues; the symmetric
    form keeps them real and non-negative (up to rounding, clipped) even when the covariances are
    singular (fewer samples than dimensions), where ``sqrtm`` of the product needs an eps hack.
    """
    w, v = np.linalg.eigh(cov_a)
    root_a = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    middle = root_a @ cov_b @ root_a
    middle = 0.5 * (middle + middle.T)
    return float(np.sqrt(np.clip(np.linalg.eigvalsh(middle), 0.0, None)).sum())


def gaussian_statistics(feats: Any) -> tuple[np.ndarray, np.ndarray]:
    """Mean [D] and unbiased covariance [D, D] (float64) of embeddings [N, D], N >= 2."""
    x = _as_float64(feats, "feats", 2)
    if x.shape[0] < 2:
        raise DrumsynthError(f"feats has {x.shape[0]} samples; at least 2 are needed for a covariance")
    return x.mean(axis=0), np.atleast_2d(np.cov(x, rowvar=False))


def frechet_distance_from_statistics(mu_a: np.ndarray, cov_a: np.ndarray, mu_b: np.ndarray,
                                     cov_b: np.ndarray) -> float:
    """‖μ_a−μ_b‖² + Tr(Σ_a+Σ_b−2(Σ_a Σ_b)^½) from precomputed statistics (e.g. cached real-data ones)."""
    mu_a, mu_b = np.asarray(mu_a, np.float64), np.asarray(mu_b, np.float64)
    cov_a, cov_b = np.asarray(cov_a, np.float64), np.asarray(cov_b, np.float64)
    d = mu_a.shape[0]
    if mu_b.shape != (d,) or cov_a.shape != (d, d) or cov_b.shape != (d, d):
        raise DrumsynthError(
            f"statistics do not match: mu {mu_a.shape}, {mu_b.shape}; cov {cov_a.shape}, {cov_b.shape}")
    diff = mu_a - mu_b
    value = diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * _trace_sqrt_product(cov_a, cov_b)
    # The distance is non-negative; identical sets can round to -1e-15.
    return float(max(value, 0.0))


def frechet_distance(feats_a: Any, feats_b: Any) -> float:
    """Fréchet distance between Gaussians fitted to embeddings [N, D] and [M, D] (FAD on audio embeddings).

    Uses the sample means and unbiased covariances in float64; needs at least 2 samples per set.
    """
    a, b = _feature_pair(feats_a, feats_b, min_samples=2)
    return frechet_distance_from_statistics(*gaussian_statistics(a), *gaussian_statistics(b))


# ---------------------------------------------------------------------------------------- helpers


def standardise(feats_a: Any, feats_b: Any, *, eps: float = 1e-8) -> tuple[np.ndarray, np.ndarray]:
    """z-score both sets with the per-dimension mean and std of the reference set ``feats_b`` (real data).

    Puts dimensions of very different scales on one footing, but a dimension nearly constant in the
    reference (std just above ``eps``) turns any deviation into a huge z-score: ``drumsynth evaluate``
    no longer standardises before KID (module docstring). Dimensions constant in the reference
    (std < ``eps``) are only centred.

    Returns
    -------
    (a, b) : np.ndarray[N, D], np.ndarray[M, D] float64
    """
    a, b = _feature_pair(feats_a, feats_b, min_samples=1)
    if b.shape[0] < 2:
        raise DrumsynthError(f"feats_b has {b.shape[0]} samples; at least 2 are needed to standardise with")
    mean = b.mean(axis=0)
    std = b.std(axis=0)
    std = np.where(std < eps, 1.0, std)
    return (a - mean) / std, (b - mean) / std
