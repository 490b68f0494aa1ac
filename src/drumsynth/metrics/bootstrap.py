"""Bootstrap intervals for the Table 1 figures (IS, KID, FAD), resampling both sets.

Each resample draws n rows of the scored set and m rows of the reference with replacement, within each
class so that both keep their class counts (``numpy.random.default_rng(seed)``). Rather than copy rows, a resample is a vector of multiplicities
``w`` (how often each row was drawn), and every metric is computed from weighted statistics:

- **IS**: p(y) = Σ wᵢ pᵢ / n, IS = exp(Σ wᵢ KL(pᵢ ‖ p(y)) / n) — the score of the resampled rows.
- **KID**: the unbiased MMD² with the within-set sums over pairs of *distinct* original rows:
  (wᵀKw − Σ wᵢ² Kᵢᵢ) / (n² − Σ wᵢ²). A row drawn twice would otherwise pair with itself, and k(x, x) is
  the largest kernel value: plain duplicates push the resampled KID up.
- **FAD**: the weighted mean and unbiased covariance equal those of the resampled rows, and
  Tr((Σ_a Σ_b)^½) is the nuclear norm of Ã B̃ᵀ, where Ã, B̃ are the centred rows scaled by √(wᵢ / (n − 1)):
  an eigenproblem of min(n, m) instead of d × d ones (d = 512 for aisfx; n, m ≈ 200).

Both need only the inner products of the rows (``GramPair``, computed once per embedding), so a resample
costs a few matrix-vector products and one small eigenproblem.

The interval is the 2.5 and 97.5 percentiles of the resampled values, **shifted by the bootstrap's bias**
(the mean of the resamples minus the estimate on the full sets), so that it describes the spread of the
estimate around its own value. Resampling with replacement keeps only ~63 % of the distinct rows, which
alone raises FAD (the mean term gains tr Σ / n per set) and lowers IS; without the shift the plain
percentile interval of FAD can lie entirely above the estimate. The shifted bounds are clipped at the
least value a figure can take (IS 1, FAD 0). docs/evaluation.md has the measurements.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from drumsynth.errors import DrumsynthError
from drumsynth.metrics.distribution import _as_float64

N_BOOT = 1000  # resamples per interval (docs/evaluation.md: ~10 ms each for all five figures)


@dataclass(frozen=True)
class Interval:
    """A bootstrap 95 % interval around an estimate; ``sd`` is the resamples' standard deviation."""

    low: float
    high: float
    sd: float

    def as_list(self) -> list[float]:
        return [self.low, self.high]


def multiplicities(rng: np.random.Generator, strata: np.ndarray) -> np.ndarray:
    """How often each row is drawn when every stratum is resampled to its own size with replacement.

    strata : int [n], a stratum id per row (the class: a set's class counts are fixed by design, so
        they are kept). Returns float64 [n] multiplicities, summing to n.
    """
    w = np.zeros(len(strata))
    for s in np.unique(strata):
        rows = np.flatnonzero(strata == s)
        np.add.at(w, rows[rng.integers(0, len(rows), size=len(rows))], 1.0)
    return w


def weighted_inception_score(probs: np.ndarray, w: np.ndarray) -> float:
    """IS of the rows of ``probs`` [n, C] repeated ``w`` [n] times."""
    n = w.sum()
    p_y = (w[:, None] * probs).sum(0) / n
    ratio = np.divide(probs, p_y[None, :], out=np.ones_like(probs), where=probs > 0)
    kl = np.sum(probs * np.log(ratio), axis=1)
    return float(np.exp((w * kl).sum() / n))


class GramPair:
    """Inner products of two embedding sets, computed once: every resampled KID and FAD comes from them.

    a : float64 [n, d] (scored set); b : float64 [m, d] (reference). Holds the Gram matrices
    a aᵀ [n, n], b bᵀ [m, m] and a bᵀ [n, m]; the KID kernels are (G / d + 1)³ of the same matrices.
    """

    def __init__(self, a: np.ndarray, b: np.ndarray) -> None:
        d = a.shape[1]
        self.g_aa, self.g_bb, self.g_ab = a @ a.T, b @ b.T, a @ b.T
        self.k_aa, self.k_bb, self.k_ab = ((g / d + 1.0) ** 3 for g in (self.g_aa, self.g_bb, self.g_ab))

    def mmd2(self, wa: np.ndarray, wb: np.ndarray) -> float:
        """Unbiased MMD² (cubic polynomial kernel) of the resampled sets (see module doc)."""
        cross = float(wa @ self.k_ab @ wb) / (wa.sum() * wb.sum())
        return _within(self.k_aa, wa) + _within(self.k_bb, wb) - 2.0 * cross

    def frechet(self, wa: np.ndarray, wb: np.ndarray) -> float:
        """Fréchet distance of the resampled sets: means, covariance traces and Tr((Σ_a Σ_b)^½) from the
        Gram matrices (centring is algebra on them; the nuclear norm of the weighted n × m cross
        matrix gives the trace of the square root)."""
        n, m = wa.sum(), wb.sum()
        ga_w, gb_w = self.g_ab @ wb / m, self.g_ab.T @ wa / n       # x_i·μ_b, y_j·μ_a
        mu_aa = wa @ self.g_aa @ wa / n ** 2
        mu_bb = wb @ self.g_bb @ wb / m ** 2
        mu_ab = wa @ ga_w / n
        tr_a = (wa @ np.diag(self.g_aa) - n * mu_aa) / (n - 1)
        tr_b = (wb @ np.diag(self.g_bb) - m * mu_bb) / (m - 1)
        ka, kb = wa > 0, wb > 0                                       # rows never drawn add nothing
        cross = self.g_ab[np.ix_(ka, kb)] - ga_w[ka, None] - gb_w[None, kb] + mu_ab
        cross *= np.sqrt(wa[ka] / (n - 1))[:, None] * np.sqrt(wb[kb] / (m - 1))[None, :]
        small = cross.T @ cross if cross.shape[0] >= cross.shape[1] else cross @ cross.T
        eig = np.linalg.eigvalsh(small)
        # Below the numerical rank (d < rows: the classifier's 128-d embedding) the eigenvalues are
        # rounding noise of ~1e-16 of the largest, whose square roots would add up to ~1e-7 of the result.
        trace_sqrt = np.sqrt(eig[eig > eig[-1] * 1e-12]).sum() if eig[-1] > 0 else 0.0
        return float(max(mu_aa + mu_bb - 2.0 * mu_ab + tr_a + tr_b - 2.0 * trace_sqrt, 0.0))


def _within(k: np.ndarray, w: np.ndarray) -> float:
    """Mean kernel value over ordered pairs of distinct original rows, weighted by multiplicity."""
    pairs = w.sum() ** 2 - (w ** 2).sum()
    return float((w @ k @ w - (w ** 2 * np.diag(k)).sum()) / pairs)


# The least value each figure can take: a shifted interval is clipped there (KID, unbiased, can be < 0).
LOWER_BOUND = {"is": 1.0, "fad": 0.0}


def _interval(values: np.ndarray, estimate: float, lower: float | None = None) -> Interval:
    lo, hi = np.percentile(values, [2.5, 97.5])
    shift = float(values.mean()) - estimate
    lo, hi = float(lo - shift), float(hi - shift)
    if lower is not None:
        lo, hi = max(lo, lower), max(hi, lower)
    return Interval(lo, hi, float(values.std()))


def _strata(labels: Any, n: int, name: str) -> np.ndarray:
    """Integer stratum ids [n] from labels (any hashable values), or one stratum when ``labels`` is None."""
    if labels is None:
        return np.zeros(n, dtype=np.int64)
    labels = list(labels)
    if len(labels) != n:
        raise DrumsynthError(f"{name} has {len(labels)} labels for {n} sounds")
    ids = {v: i for i, v in enumerate(sorted(set(labels), key=str))}
    return np.array([ids[v] for v in labels], dtype=np.int64)


def bootstrap_intervals(estimates: dict[str, float], sets: dict[str, tuple[Any, Any]], probs: Any | None = None,
                        *, labels: tuple[Any, Any] = (None, None), n_boot: int = N_BOOT, seed: int = 0
                        ) -> dict[str, Interval]:
    """Bootstrap 95 % intervals for IS, KID and FAD, resampling both sets in each resample.

    Parameters
    ----------
    estimates : {key: value on the full sets} for every key wanted: ``"is"``, ``"kid_<emb>"``, ``"fad_<emb>"``
    sets : {emb: (scored embeddings [n, d], reference embeddings [m, d])}, e.g. ``{"clf": ..., "aisfx": ...}``;
        every embedding describes the same sounds in the same order (one resample draws the same sounds
        for all)
    probs : class posteriors [n, C] of the scored set (needed for ``"is"``)
    labels : (labels of the scored set [n], of the reference [m]) or None each: rows are resampled within
        their class, so each set keeps its class counts (64 generated hits per class; the test kits' own)
    n_boot : resamples; seed : seeds ``numpy.random.default_rng``

    Returns
    -------
    {key: Interval} for every key of ``estimates``.
    """
    if not isinstance(n_boot, (int, np.integer)) or n_boot < 2:
        raise DrumsynthError(f"the number of bootstrap resamples must be an integer >= 2, got {n_boot!r}")
    for key in estimates:
        kind, _, emb = key.partition("_")
        if not (key == "is" and probs is not None or kind in ("kid", "fad") and emb in sets):
            raise DrumsynthError(f"no bootstrap for {key!r}: expected 'is' (with probs) or kid_/fad_ + one of "
                                 f"{sorted(sets)}")
    pairs = {emb: (_as_float64(a, f"{emb} scored", 2), _as_float64(b, f"{emb} reference", 2))
             for emb, (a, b) in sets.items()}
    p = None if probs is None else _as_float64(probs, "probs", 2)
    ns = {a.shape[0] for a, _ in pairs.values()} | ({p.shape[0]} if p is not None else set())
    ms = {b.shape[0] for _, b in pairs.values()}
    if len(ns) != 1 or len(ms) > 1:
        raise DrumsynthError(f"every embedding must describe the same sounds: scored sizes {sorted(ns)}, "
                             f"reference sizes {sorted(ms)}")
    n, m = ns.pop(), (ms.pop() if ms else 0)
    if n < 2 or (pairs and m < 2):
        raise DrumsynthError(f"bootstrap needs at least 2 sounds per set, got {n} and {m}")
    strata_a = _strata(labels[0], n, "the scored set")
    strata_b = _strata(labels[1], m, "the reference") if m else None
    grams = {emb: GramPair(a, b) for emb, (a, b) in pairs.items()}
    values: dict[str, list[float]] = {k: [] for k in estimates}
    rng = np.random.default_rng(seed)
    for _ in range(int(n_boot)):
        wa = multiplicities(rng, strata_a)
        wb = multiplicities(rng, strata_b) if m else None
        for key in estimates:
            kind, _, emb = key.partition("_")
            if kind == "is":
                values[key].append(weighted_inception_score(p, wa))
            elif kind == "kid":
                values[key].append(grams[emb].mmd2(wa, wb))
            else:
                values[key].append(grams[emb].frechet(wa, wb))
    return {k: _interval(np.asarray(v), float(estimates[k]), LOWER_BOUND.get(k.partition("_")[0]))
            for k, v in values.items()}
