"""Latent-space navigation, family-generic: random directions, the 2-D plane, interpolation.

DrumGAN VST's controls (seed Appendix A): "Variation intensity" decodes ``z_center + α·e1`` along a
random unit direction ``e1``; "Change variation direction" draws a new one; the first interface's
2-D pad decodes ``z_center + x·e1 + y·e2`` with ``e1``, ``e2`` orthonormal. Morphing uses
:func:`lerp` or :func:`slerp`. All functions are pure; randomness comes from an explicit generator.
"""

from __future__ import annotations

import math
import numbers
import operator

import numpy as np
import torch

from drumsynth.errors import DrumsynthError

# Below this norm a Gram–Schmidt residual (or a draw) counts as degenerate and is drawn again.
_DEGENERATE = 1e-6
_MAX_DRAWS = 100


def _check_dim(dim: int, minimum: int) -> int:
    try:
        value = operator.index(dim)
    except TypeError:
        value = None
    if value is None or isinstance(dim, bool) or value < minimum:
        raise DrumsynthError(f"latent dimension must be an integer >= {minimum}, got {dim!r}")
    return value


def _finite_tensor(name: str, x) -> torch.Tensor:
    x = torch.as_tensor(x)
    if not x.is_floating_point():
        x = x.float()
    if x.ndim == 0 or x.shape[-1] == 0:
        raise DrumsynthError(f"{name} must be a vector Tensor[..., d], got shape {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise DrumsynthError(f"{name} holds NaN or infinite values")
    return x


def finite_scalar(name: str, value: float) -> float:
    """``value`` as a finite float, else a ``DrumsynthError`` naming ``name``.

    Only real numbers count (Python or numpy, not ``bool``): ``"1.5"``, ``None`` and arrays are refused
    rather than converted.
    """
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise DrumsynthError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise DrumsynthError(f"{name} must be finite, got {value}")
    return value


def _same_shape(**tensors: torch.Tensor) -> None:
    shapes = {name: tuple(t.shape) for name, t in tensors.items()}
    if len(set(shapes.values())) > 1:
        raise DrumsynthError(f"shapes must match, got {shapes}")


def _draw(dim: int, generator: torch.Generator | None) -> torch.Tensor:
    """A Gaussian Tensor[dim] float64 with a usable norm."""
    for _ in range(_MAX_DRAWS):
        v = torch.randn(dim, generator=generator, dtype=torch.float64)
        if v.norm() > _DEGENERATE:
            return v
    raise DrumsynthError(f"could not draw a non-degenerate direction in {dim} dimensions")


def random_direction(dim: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """A uniformly random unit vector: a Gaussian sample, normalised.

    Parameters
    ----------
    dim : latent dimension, >= 1
    generator : CPU ``torch.Generator`` (same seed, same direction)

    Returns
    -------
    Tensor[dim] float32 with unit L2 norm
    """
    v = _draw(_check_dim(dim, 1), generator)
    return (v / v.norm()).float()


def orthonormal_pair(dim: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Two random orthonormal directions by Gram–Schmidt on Gaussian samples.

    ``e1`` is exactly :func:`random_direction` of the same generator state; ``e2`` is a second
    Gaussian sample with its ``e1`` component removed (drawn again if that leaves nothing).

    Parameters
    ----------
    dim : latent dimension, >= 2
    generator : CPU ``torch.Generator``

    Returns
    -------
    (e1, e2) : Tensor[dim] float32 each, unit norm, ``e1 · e2 ≈ 0``
    """
    _check_dim(dim, 2)
    v1 = _draw(dim, generator)
    e1 = v1 / v1.norm()
    for _ in range(_MAX_DRAWS):
        v2 = _draw(dim, generator)
        # Gram–Schmidt in float64, so that the float32 results are orthogonal to float32 precision.
        r = v2 - (v2 @ e1) * e1
        if r.norm() > _DEGENERATE * v2.norm():
            return e1.float(), (r / r.norm()).float()
    raise DrumsynthError(f"could not draw two independent directions in {dim} dimensions")


def plane_point(center: torch.Tensor, e1: torch.Tensor, e2: torch.Tensor, x: float, y: float) -> torch.Tensor:
    """The point ``center + x·e1 + y·e2`` of the 2-D plane through ``center``.

    Parameters
    ----------
    center, e1, e2 : Tensor[..., d], same shape (``e1``, ``e2`` usually from :func:`orthonormal_pair`)
    x, y : plane coordinates (any finite numbers)

    Returns
    -------
    Tensor[..., d]
    """
    center, e1, e2 = (_finite_tensor(n, t) for n, t in (("center", center), ("e1", e1), ("e2", e2)))
    _same_shape(center=center, e1=e1, e2=e2)
    x, y = finite_scalar("x", x), finite_scalar("y", y)
    return center + x * e1.to(center) + y * e2.to(center)


def lerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Linear interpolation ``(1 - t)·a + t·b``; ``t`` outside [0, 1] extrapolates.

    a, b : Tensor[..., d], same shape. Returns Tensor[..., d].
    """
    a, b = _finite_tensor("a", a), _finite_tensor("b", b)
    _same_shape(a=a, b=b)
    t = finite_scalar("t", t)
    return (1.0 - t) * a + t * b.to(a)


def slerp(a: torch.Tensor, b: torch.Tensor, t: float, eps: float = 1e-6) -> torch.Tensor:
    """Spherical interpolation along the great circle from ``a`` to ``b`` (row-wise over the last axis).

    Norms are interpolated along with the angle, as in the usual GAN-latent slerp
    ``sin((1-t)Ω)/sin Ω · a + sin(tΩ)/sin Ω · b``. Rows where ``a`` and ``b`` are (anti)parallel within
    ``eps`` or either is zero fall back to :func:`lerp`, where the angle is undefined.

    a, b : Tensor[..., d], same shape. Returns Tensor[..., d].
    """
    a, b = _finite_tensor("a", a), _finite_tensor("b", b)
    _same_shape(a=a, b=b)
    t = finite_scalar("t", t)
    a64, b64 = a.double(), b.double()
    na, nb = a64.norm(dim=-1, keepdim=True), b64.norm(dim=-1, keepdim=True)
    cos = ((a64 * b64).sum(-1, keepdim=True) / (na * nb).clamp_min(1e-300)).clamp(-1.0, 1.0)
    omega = torch.arccos(cos)
    sin = torch.sin(omega)
    safe = (sin > eps) & (na > eps) & (nb > eps)
    sin_safe = torch.where(safe, sin, torch.ones_like(sin))
    spherical = (torch.sin((1.0 - t) * omega) * a64 + torch.sin(t * omega) * b64) / sin_safe
    linear = (1.0 - t) * a64 + t * b64
    return torch.where(safe, spherical, linear).to(a.dtype)
