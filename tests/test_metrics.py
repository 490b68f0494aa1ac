"""Metrics: analytic values, invariances, and agreement with torchmetrics on the same features."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from drumsynth.errors import DrumsynthError
from drumsynth.metrics import bootstrap
from drumsynth.metrics.distribution import (
    frechet_distance,
    inception_score,
    kernel_distance,
    kernel_inception_distance,
    polynomial_mmd2,
    standardise,
)
from drumsynth.metrics.reconstruction import SNR_CAP_DB, lsd_db, lsd_per_clip, mse, snr_db

SIX_DB = 20.0 * math.log10(2.0)  # 6.0206: x_hat = 0.5 x


class FeatureIdentity(torch.nn.Module):
    """Lets torchmetrics' image metrics take precomputed features (``num_features`` skips its dummy image)."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def gaussian_features(n: int, d: int, seed: int, shift: float = 0.0) -> np.ndarray:
    """Correlated Gaussian features [n, d] (a fixed random mixing, so covariances do not commute trivially)."""
    rng = np.random.default_rng(seed)
    mixing = np.random.default_rng(1234).standard_normal((d, d)) / math.sqrt(d)
    return rng.standard_normal((n, d)) @ mixing + shift


def exact_gaussian_sample(mean: np.ndarray, std: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Rows whose sample mean is exactly ``mean`` and whose unbiased sample covariance is exactly diag(std²)."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, mean.shape[0]))
    q, _ = np.linalg.qr(z - z.mean(axis=0))  # orthonormal, zero-mean columns
    return mean + math.sqrt(n - 1) * q * std


def decaying_noise(n_clips: int, length: int, sr: int = 44100, seed: int = 0) -> np.ndarray:
    """Drum-like test clips [n_clips, length]: white noise under a 50 ms exponential decay."""
    rng = np.random.default_rng(seed)
    t = np.arange(length) / sr
    return (0.5 * rng.standard_normal((n_clips, length)) * np.exp(-t / 0.05)).astype(np.float32)


# ------------------------------------------------------------------------------------------- IS


def test_inception_score_uniform_is_one():
    mean, std = inception_score(np.full((64, 5), 0.2))
    assert mean == pytest.approx(1.0, abs=1e-12)
    assert std == 0.0


@pytest.mark.parametrize("n_classes", [2, 3, 10])
def test_inception_score_confident_balanced_is_n_classes(n_classes):
    probs = np.eye(n_classes)[np.arange(20 * n_classes) % n_classes]
    assert inception_score(probs)[0] == pytest.approx(n_classes, rel=1e-12)
    mean, std = inception_score(probs, n_splits=4)  # every split of 5·C rows is still balanced
    assert mean == pytest.approx(n_classes, rel=1e-12)
    assert std == pytest.approx(0.0, abs=1e-12)


def test_inception_score_matches_torchmetrics():
    from torchmetrics.image.inception import InceptionScore

    probs = torch.from_numpy(np.random.default_rng(0).dirichlet(np.full(5, 0.3), size=240))
    for splits in (1, 4):
        metric = InceptionScore(feature=FeatureIdentity(5), splits=splits)
        metric.update(probs.log())  # torchmetrics takes logits: softmax(log p) = p
        torch.manual_seed(7)
        their_mean, their_std = metric.compute()
        torch.manual_seed(7)
        perm = torch.randperm(probs.shape[0])  # the permutation torchmetrics applied before splitting
        ours_mean, ours_std = inception_score(probs[perm], n_splits=splits)
        assert ours_mean == pytest.approx(float(their_mean), rel=1e-6, abs=1e-6)
        if splits > 1:  # torchmetrics' std is the sample std, ours the population std
            assert ours_std * math.sqrt(splits / (splits - 1)) == pytest.approx(float(their_std), rel=1e-6)


def test_inception_score_rejects_logits_and_bad_splits():
    with pytest.raises(DrumsynthError, match="negative"):
        inception_score(np.array([[2.0, -1.0]]))
    with pytest.raises(DrumsynthError, match="sum to 1"):
        inception_score(np.array([[0.7, 0.7]]))
    with pytest.raises(DrumsynthError, match="n_splits"):
        inception_score(np.full((3, 2), 0.5), n_splits=4)


# ------------------------------------------------------------------------------------------ KID


def test_kid_matches_torchmetrics_on_full_sets():
    from torchmetrics.image.kid import KernelInceptionDistance

    a, b = gaussian_features(200, 16, seed=1, shift=0.3), gaussian_features(200, 16, seed=2)
    # One subset of the full size: every permutation gives the same unbiased MMD², so both libraries
    # compute the same quantity despite drawing subsets with different RNGs.
    metric = KernelInceptionDistance(feature=FeatureIdentity(16), subsets=1, subset_size=200)
    metric.update(torch.from_numpy(b), real=True)
    metric.update(torch.from_numpy(a), real=False)
    their_mean, _ = metric.compute()
    ours_mean, ours_std = kernel_inception_distance(a, b, subset_size=1000, n_subsets=10)
    assert ours_mean == pytest.approx(float(their_mean), rel=1e-6, abs=1e-9)
    assert ours_std == 0.0
    assert polynomial_mmd2(a, b) == ours_mean


def test_kid_near_zero_for_one_distribution_and_positive_with_a_shift():
    real = gaussian_features(400, 16, seed=3)
    same, _ = kernel_inception_distance(gaussian_features(400, 16, seed=4), real, subset_size=200, n_subsets=20)
    shifted, _ = kernel_inception_distance(gaussian_features(400, 16, seed=4, shift=0.5), real,
                                           subset_size=200, n_subsets=20)
    assert abs(same) < 0.01
    assert shifted > 0.1
    assert shifted > 20 * abs(same)


def test_kid_subsets_are_seeded():
    a, b = gaussian_features(300, 8, seed=5, shift=0.2), gaussian_features(250, 8, seed=6)
    first = kernel_inception_distance(a, b, subset_size=100, n_subsets=5, seed=3)
    assert kernel_inception_distance(a, b, subset_size=100, n_subsets=5, seed=3) == first
    assert kernel_inception_distance(a, b, subset_size=100, n_subsets=5, seed=4) != first
    assert first[1] > 0
    full, _ = kernel_inception_distance(a[:250], b)
    assert first[0] == pytest.approx(full, abs=4 * first[1])


def test_kid_accepts_tensors_and_rejects_mismatched_sizes():
    a = gaussian_features(50, 4, seed=7)
    assert kernel_inception_distance(torch.from_numpy(a).float(), a)[0] == pytest.approx(
        kernel_inception_distance(a.astype(np.float32), a)[0], rel=1e-9)
    with pytest.raises(DrumsynthError, match="feature sizes differ"):
        kernel_inception_distance(a, a[:, :3])


# ----------------------------------------------------------------------------------------- FD


def test_frechet_distance_of_identical_sets_is_zero():
    a = gaussian_features(300, 32, seed=8)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_closed_form_for_diagonal_gaussians():
    mean_a, std_a = np.array([0.0, 1.0, -2.0, 0.5]), np.array([1.0, 0.5, 2.0, 3.0])
    mean_b, std_b = np.array([1.0, 1.0, 0.0, -0.5]), np.array([2.0, 0.5, 1.0, 0.1])
    a = exact_gaussian_sample(mean_a, std_a, 500, seed=9)
    b = exact_gaussian_sample(mean_b, std_b, 700, seed=10)
    expected = np.sum((mean_a - mean_b) ** 2) + np.sum(std_a**2 + std_b**2 - 2 * std_a * std_b)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_matches_torchmetrics():
    from torchmetrics.image.fid import FrechetInceptionDistance

    a, b = gaussian_features(300, 12, seed=11, shift=0.4), gaussian_features(400, 12, seed=12)
    metric = FrechetInceptionDistance(feature=FeatureIdentity(12))
    metric.update(torch.from_numpy(b), real=True)
    metric.update(torch.from_numpy(a), real=False)
    assert frechet_distance(a, b) == pytest.approx(float(metric.compute()), rel=1e-6, abs=1e-6)


def test_frechet_distance_singular_covariances_and_errors():
    a, b = gaussian_features(6, 32, seed=13), gaussian_features(9, 32, seed=14)  # fewer samples than dims
    value = frechet_distance(a, b)
    assert np.isfinite(value) and value > 0
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(DrumsynthError, match="at least 2"):
        frechet_distance(a[:1], b)


def test_standardise_uses_reference_statistics():
    a, b = gaussian_features(100, 6, seed=15, shift=2.0), gaussian_features(80, 6, seed=16) * 5 + 1
    b[:, 0] = 3.0  # a constant reference dimension is only centred
    za, zb = standardise(a, b)
    assert np.allclose(zb[:, 1:].mean(axis=0), 0.0, atol=1e-12)
    assert np.allclose(zb[:, 1:].std(axis=0), 1.0, atol=1e-12)
    assert np.allclose(zb[:, 0], 0.0) and np.allclose(za[:, 0], a[:, 0] - 3.0)
    assert np.allclose(za[:, 1:], (a[:, 1:] - b[:, 1:].mean(axis=0)) / b[:, 1:].std(axis=0))


def test_kernel_distance_is_the_whole_set_kid():
    a, b = gaussian_features(40, 5, seed=17), gaussian_features(30, 5, seed=18, shift=0.5)
    assert kernel_distance(a, b) == pytest.approx(polynomial_mmd2(a, b))
    assert kernel_distance(a, a[::-1].copy()) == pytest.approx(polynomial_mmd2(a, a))
    with pytest.raises(DrumsynthError, match="feature sizes differ"):
        kernel_distance(a, b[:, :4])


# ------------------------------------------------------------------------------------ bootstrap


def _repeat(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    return np.repeat(x, w.astype(int), axis=0)


def test_weighted_figures_equal_the_figures_of_the_repeated_rows():
    """A resample is a multiplicity vector: FAD, IS from it equal those of the materialised rows, and the
    KID leaves out only the pairs of a row with its own copies."""
    a, b = gaussian_features(30, 8, seed=20), gaussian_features(25, 8, seed=21, shift=0.4)
    rng = np.random.default_rng(0)
    wa = bootstrap.multiplicities(rng, np.zeros(30, dtype=int))
    wb = bootstrap.multiplicities(rng, np.zeros(25, dtype=int))
    assert wa.sum() == 30 and wb.sum() == 25 and (wa == 0).any()
    pair = bootstrap.GramPair(a, b)
    assert pair.frechet(wa, wb) == pytest.approx(frechet_distance(_repeat(a, wa), _repeat(b, wb)), rel=1e-9)
    ones_a, ones_b = np.ones(30), np.ones(25)
    assert pair.frechet(ones_a, ones_b) == pytest.approx(frechet_distance(a, b), rel=1e-9)
    assert pair.mmd2(ones_a, ones_b) == pytest.approx(polynomial_mmd2(a, b), rel=1e-9)
    # Distinct-row pairs only: over many resamples the KID stays centred on the full-set estimate, while
    # the plain unbiased estimate on the repeated rows drifts up (copies pair with each other at k(x, x)).
    same = gaussian_features(25, 8, seed=22)
    est, distinct, naive = polynomial_mmd2(a, same), [], []
    same_pair = bootstrap.GramPair(a, same)
    for _ in range(200):
        w1 = bootstrap.multiplicities(rng, np.zeros(30, dtype=int))
        w2 = bootstrap.multiplicities(rng, np.zeros(25, dtype=int))
        distinct.append(same_pair.mmd2(w1, w2))
        naive.append(polynomial_mmd2(_repeat(a, w1), _repeat(same, w2)))
    assert np.mean(naive) - est > 5 * abs(np.mean(distinct) - est)
    probs = np.random.default_rng(3).dirichlet(np.ones(3), size=30)
    assert bootstrap.weighted_inception_score(probs, wa) == pytest.approx(
        inception_score(_repeat(probs, wa))[0], rel=1e-9)


def test_multiplicities_keep_each_class_count():
    strata = np.array([0] * 5 + [1] * 9 + [2] * 2)
    w = bootstrap.multiplicities(np.random.default_rng(1), strata)
    assert [w[strata == s].sum() for s in range(3)] == [5, 9, 2]


def test_bootstrap_intervals_contain_the_estimate_narrow_with_n_and_are_seeded():
    def intervals(n: int, seed: int = 0):
        a, b = gaussian_features(n, 6, seed=30), gaussian_features(n, 6, seed=31, shift=0.3)
        probs = np.random.default_rng(32).dirichlet(np.ones(3) * 0.5, size=n)
        est = {"is": inception_score(probs)[0], "kid_x": kernel_distance(a, b), "fad_x": frechet_distance(a, b)}
        return est, bootstrap.bootstrap_intervals(est, {"x": (a, b)}, probs, n_boot=100, seed=seed)

    est, small = intervals(40)
    _, large = intervals(320)
    for key, value in est.items():
        assert small[key].low <= value <= small[key].high, key
        assert large[key].high - large[key].low < 0.6 * (small[key].high - small[key].low), key
    assert intervals(40)[1] == small and intervals(40, seed=1)[1] != small
    assert small["fad_x"].low >= 0.0 and small["is"].low >= 1.0


def test_bootstrap_separates_a_shift_that_the_noise_floor_does_not_cover():
    ref = gaussian_features(150, 6, seed=40)
    same, shifted = gaussian_features(150, 6, seed=41), gaussian_features(150, 6, seed=42, shift=0.6)
    for other, apart in ((same, False), (shifted, True)):
        est = {"fad_x": frechet_distance(other, ref), "kid_x": kernel_distance(other, ref)}
        ci = bootstrap.bootstrap_intervals(est, {"x": (other, ref)}, n_boot=200)
        assert (ci["kid_x"].low > 0) == apart and (ci["fad_x"].low > 0.2) == apart


def test_bootstrap_rejects_bad_requests():
    a, b = gaussian_features(10, 3, seed=50), gaussian_features(12, 3, seed=51)
    with pytest.raises(DrumsynthError, match="no bootstrap for 'is'"):
        bootstrap.bootstrap_intervals({"is": 1.0}, {"x": (a, b)})                  # IS needs probs
    with pytest.raises(DrumsynthError, match="no bootstrap for 'fad_y'"):
        bootstrap.bootstrap_intervals({"fad_y": 1.0}, {"x": (a, b)})
    with pytest.raises(DrumsynthError, match="same sounds"):
        bootstrap.bootstrap_intervals({"fad_x": 1.0, "fad_z": 1.0}, {"x": (a, b), "z": (a[:5], b)})
    with pytest.raises(DrumsynthError, match="labels"):
        bootstrap.bootstrap_intervals({"fad_x": 1.0}, {"x": (a, b)}, labels=(["k"] * 3, None))
    with pytest.raises(DrumsynthError, match=">= 2"):
        bootstrap.bootstrap_intervals({"fad_x": 1.0}, {"x": (a, b)}, n_boot=1)


# ------------------------------------------------------------------------------- reconstruction


def test_half_gain_gives_six_db_snr_and_lsd():
    x = decaying_noise(3, 24255)
    assert snr_db(x, 0.5 * x) == pytest.approx(SIX_DB, abs=1e-3)
    assert lsd_db(x, 0.5 * x) == pytest.approx(SIX_DB, abs=1e-3)
    assert mse(x, 0.5 * x) == pytest.approx(float(np.mean((0.5 * x.astype(np.float64)) ** 2)), rel=1e-12)


def test_lsd_ignores_silent_padding():
    x = decaying_noise(2, 24255, seed=1)
    rng = np.random.default_rng(2)
    x_hat = 0.7 * x + 0.01 * rng.standard_normal(x.shape) * np.exp(-np.arange(x.shape[1]) / 44100 / 0.05)
    tail = np.zeros((2, 3 * 44100))
    padded = lsd_db(np.concatenate([x, tail], axis=1), np.concatenate([x_hat, tail], axis=1))
    assert padded == pytest.approx(lsd_db(x, x_hat), abs=1e-9)
    # Without the active-frame rule the padding would dominate.
    everything = lsd_db(np.concatenate([x, tail], axis=1), np.concatenate([x_hat, tail], axis=1), active_db=1e6)
    assert abs(everything - padded) > 1.0


def test_reconstruction_shapes_and_edge_cases():
    x = decaying_noise(4, 8000, seed=3)
    x_hat = 0.8 * x
    # [B, 1, T] tensors and [B, T] arrays agree; the per-clip mean is the clip average.
    assert lsd_db(torch.from_numpy(x)[:, None], torch.from_numpy(x_hat)[:, None]) == pytest.approx(lsd_db(x, x_hat))
    assert np.mean([snr_db(a, b) for a, b in zip(x, x_hat, strict=True)]) == pytest.approx(snr_db(x, x_hat))
    assert lsd_per_clip(x, x_hat).shape == (4,)
    assert snr_db(x, x) == SNR_CAP_DB
    assert lsd_db(x, x) == 0.0
    assert snr_db(np.zeros(100), np.ones(100)) == -SNR_CAP_DB
    assert np.isfinite(lsd_db(np.zeros(100), np.ones(100)))
    with pytest.raises(DrumsynthError, match="differ in shape"):
        mse(x, x[:, :-1])
    with pytest.raises(DrumsynthError, match="NaN"):
        snr_db(x, np.full_like(x, np.nan))


# -------------------------------------------------------------------------------------- aisfx


def test_importing_metrics_does_not_import_aisfx():
    code = ("import sys, drumsynth.metrics.aisfx_embedding, drumsynth.metrics.distribution, "
            "drumsynth.metrics.reconstruction; assert 'aisfx' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def drum_like_clips(sr: int) -> list[np.ndarray]:
    """A kick (pitch-swept sine), a snare (tone + noise) and a hat (differenced noise), 0.3–0.5 s."""
    rng = np.random.default_rng(0)
    t = np.arange(int(0.5 * sr)) / sr
    kick = np.sin(2 * np.pi * (50 * t + 60 * 0.03 * (1 - np.exp(-t / 0.03)))) * np.exp(-t / 0.15)
    snare = (0.5 * np.sin(2 * np.pi * 190 * t) + rng.standard_normal(t.size)) * np.exp(-t / 0.08)
    t_hat = t[: int(0.3 * sr)]
    hat = np.diff(rng.standard_normal(t_hat.size + 1)) * np.exp(-t_hat / 0.02)
    return [0.9 * kick, 0.5 * snare, 0.3 * hat]


def test_aisfx_embedding_finite_deterministic_and_distinct():
    pytest.importorskip("aisfx", reason="aisfx not installed (pip install --no-deps aisfx==0.1.2)")
    from drumsynth.metrics.aisfx_embedding import EMBEDDING_DIM, AisfxEmbedder

    embedder = AisfxEmbedder()
    clips = drum_like_clips(22050)
    first = embedder.embed(clips, sr=22050)
    assert first.shape == (3, EMBEDDING_DIM) and np.all(np.isfinite(first))
    np.testing.assert_array_equal(embedder.embed(clips, sr=22050), first)
    assert np.min(np.linalg.norm(first[:, None] - first[None], axis=-1)[np.triu_indices(3, 1)]) > 1e-2
    # Equal-length clips may come as one [N, T] array; a longer clip is cut into blocks and averaged.
    batch = np.stack([clips[0], clips[1]]).astype(np.float32)
    np.testing.assert_allclose(embedder.embed(batch, sr=22050), first[:2], rtol=1e-5, atol=1e-6)
    long = embedder.embed([np.tile(clips[1], 8)], sr=22050)
    assert long.shape == (1, EMBEDDING_DIM) and np.all(np.isfinite(long))


def test_aisfx_spectrogram_matches_its_librosa_recipe():
    pytest.importorskip("aisfx", reason="aisfx not installed (pip install --no-deps aisfx==0.1.2)")
    import librosa

    from drumsynth.metrics.aisfx_embedding import SPEC_MAX, spectrogram

    y = drum_like_clips(44100)[1]
    # aisfx/spectrogram/spectrogram_librosa.py on an in-memory wave, transposed to [frames, mels].
    mel = librosa.feature.melspectrogram(y=y / np.abs(y).max(), sr=44100, n_mels=96, norm=1.0, fmin=0.0,
                                         fmax=22050.0, htk=True, power=2.0, hop_length=1024, win_length=2048)
    expected = (np.log10(mel * 10000.0 + 1) / SPEC_MAX).T
    np.testing.assert_allclose(spectrogram(y), expected, atol=1e-5)
