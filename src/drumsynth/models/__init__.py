"""Model families. Each lives in ``models/<family>/`` and exposes the same small surface.

A family package ``drumsynth.models.<family>`` provides, in its ``__init__.py``:

- ``FAMILY: str`` — its id (``"ndm"``), stored in every checkpoint.
- ``Config`` — the root dataclass of its schema (sections such as ``data``, ``model``, ``train``);
  presets are TOML overlays in ``models/<family>/presets/{tiny,cpu,paper}.toml``. ``Config.train``
  carries the Trainer's settings under these names: ``max_steps, log_every, checkpoint_every,
  preview_every, preview_n, valid_every, ema_decay, seed, threads``.
- ``build_recipe(config: Config, cache: drumsynth.data.cache.Cache | None) -> drumsynth.train.Recipe``
  — everything training needs (``cache`` None builds the modules only, for tests and export).
- ``data_factories(config, cache, rank, world_size) -> (train_data, valid_data | None)`` — what the
  Trainer draws batches from (see ``drumsynth.train.trainer``).
- ``load_model(checkpoint: dict, device="cpu") -> FamilyModel`` — the inference object, rebuilt from a
  release (or resume) checkpoint's stored config alone.

``build_recipe`` and ``data_factories`` load lazily (a module ``__getattr__``): rendering a release never
imports ``drumsynth.train``.

A ``FamilyModel`` has ``family``, ``sample_rate``, ``classes`` (its class names) and ``latent_dim``, and:

- ``sample_latent(n, generator, labels=None) -> Tensor[n, latent_dim]``: ``labels`` Tensor[n, C] are the
  class weights the codes will be decoded with; a family whose prior depends on the class (ndm's fitted
  per-class Gaussians) draws from it, the others ignore them
- ``generate(z: Tensor[B, latent_dim], labels: Tensor[B, C] soft or one-hot class weights) -> Tensor[B, T]``
  float in [-1, 1] at ``sample_rate``
- ``encode(wave: Tensor[B, T] at sample_rate, labels: Tensor[B, C] | None) -> Tensor[B, latent_dim]``
  where the family has an encoder (else raises ``DrumsynthError``)

Optional, where the family has them:

- ``reconstruct(wave: Tensor[B, T], labels: Tensor[B, C] | None) -> Tensor[B, length]`` — the family's own
  encode -> decode round trip (Table 2 of the report uses it)
- ``analyze(wave: Tensor[B, T]) -> (z Tensor[B, latent_dim], c Tensor[B, C])`` — an encoder that also
  estimates the class weights (DrumGAN VST's Analyze; ``Session.analyze`` sets the sliders from it)
- ``OPTIONS: dict[str, tuple[str, ...]]`` — inference options ``Session.set_option`` may set
- ``export_graphs(portable=False) -> {"decode": Module, "encode": Module?}`` — tensor-only modules for
  ``drumsynth export`` (``decode``: z + class weights -> hits, what ``generate`` computes; ``portable``:
  real operators only, for ONNX); a family without it cannot be exported

Front ends never import a family directly: they go through :func:`family_module`.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from drumsynth.errors import DrumsynthError

if TYPE_CHECKING:  # torch is imported lazily: the CLI imports this module for every verb
    import torch

FAMILIES = ("wavegan", "style", "ndm", "drumgan")
# Every family ships these; some add more (ndm: ``finetune``, the default of ``train --init``).
PRESETS = ("tiny", "cpu", "paper")


def available_families() -> list[str]:
    """Families whose package is present in this installation."""
    here = Path(__file__).resolve().parent
    return [f for f in FAMILIES if (here / f / "__init__.py").is_file()]


def family_module(family: str) -> ModuleType:
    """The package of ``family``; an unknown or not-yet-built family is a ``DrumsynthError``."""
    if family not in FAMILIES:
        raise DrumsynthError(f"unknown model family {family!r}; expected one of {list(FAMILIES)}")
    if family not in available_families():
        raise DrumsynthError(
            f"model family {family!r} is not available in this version; available: {available_families()}")
    return importlib.import_module(f"drumsynth.models.{family}")


def preset_path(family: str, preset: str) -> Path:
    """The TOML overlay of a shipped preset."""
    folder = Path(family_module(family).__file__).resolve().parent / "presets"
    path = folder / f"{preset}.toml"
    if not path.is_file():
        shipped = sorted(p.stem for p in folder.glob("*.toml"))
        raise DrumsynthError(f"family {family!r} has no preset {preset!r}; expected one of {shipped}")
    return path


def build_family_config(family: str, preset: str, *, config_files: list[str] = (),
                        overrides: list[str] = ()):
    """The family's ``Config``: defaults, then the preset, then extra TOML files, then ``--set`` overrides."""
    from drumsynth.config import build_config, load_toml

    module = family_module(family)
    overlays = [load_toml(preset_path(family, preset))] + [load_toml(p) for p in config_files]
    return build_config(module.Config, overlays, list(overrides))


def checkpoint_config(checkpoint: dict, family: str, config_cls: type):
    """The family's ``Config`` stored in a checkpoint dict (wrong family, unknown keys or wrong types
    are ``DrumsynthError``)."""
    from drumsynth.config import from_dict

    if not isinstance(checkpoint, dict) or checkpoint.get("family") != family:
        got = checkpoint.get("family") if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise DrumsynthError(f"not a {family} checkpoint (family {got!r})")
    return from_dict(config_cls, checkpoint["config"])


def load_weights(checkpoint: dict, family: str, modules: dict) -> None:
    """Load ``checkpoint["model"][name]`` into each of ``modules`` ({name: nn.Module}), strictly.

    A missing entry or weights that do not fit the module built from the checkpoint's config are a
    ``DrumsynthError`` naming the family and the module.
    """
    states = checkpoint.get("model", {})
    for name, module in modules.items():
        if name not in states:
            raise DrumsynthError(f"{family} checkpoint has no {name!r} weights (has {sorted(states)})")
        try:
            module.load_state_dict(states[name], strict=True)
        except RuntimeError as err:
            raise DrumsynthError(f"{family} checkpoint's {name!r} weights do not fit its config: {err}") from err


def as_latent(z, latent_dim: int, device) -> torch.Tensor:
    """Codes as float32 Tensor[B, latent_dim] on ``device``; a wrong shape or NaN/inf is a ``DrumsynthError``."""
    import torch

    z = torch.as_tensor(z, dtype=torch.float32, device=device)
    if z.ndim != 2 or z.shape[1] != latent_dim:
        raise DrumsynthError(f"z must be [B, {latent_dim}], got {tuple(z.shape)}")
    if not torch.isfinite(z).all():
        raise DrumsynthError("z holds NaN or infinite values")
    return z


def as_class_weights(labels, n_classes: int, batch: int, device) -> torch.Tensor:
    """Class weights as float32 Tensor[batch, n_classes] on ``device``.

    ``labels``: weights Tensor[B, C] (any finite values, soft or one-hot), class indices Tensor[B]
    (int), or ``None`` (equal weights 1 / C). A wrong shape, an index out of range or a non-finite
    weight is a ``DrumsynthError``.
    """
    import torch

    if labels is None:
        return torch.full((batch, n_classes), 1.0 / n_classes, device=device)
    labels = torch.as_tensor(labels)
    if not labels.is_floating_point() and labels.ndim == 1:
        if labels.numel() and (labels.min() < 0 or labels.max() >= n_classes):
            raise DrumsynthError(f"class indices must be in 0..{n_classes - 1}, got {labels.tolist()}")
        labels = torch.nn.functional.one_hot(labels.long(), n_classes)
    labels = labels.to(device, torch.float32)
    if labels.shape != (batch, n_classes):
        raise DrumsynthError(f"labels must be [B={batch}, C={n_classes}] class weights, got {tuple(labels.shape)}")
    if not torch.isfinite(labels).all():
        raise DrumsynthError("class weights must be finite")
    return labels


def as_clips(wave, length: int, device) -> torch.Tensor:
    """Sounds Tensor[B, T] (or [T]) -> fitted clips float32 Tensor[B, length] on ``device``: cut or
    zero-padded to ``length`` and peak-normalised, as training clips are. An empty, NaN or infinite
    sound, or another shape, is a ``DrumsynthError``."""
    import torch

    from drumsynth.audio.dsp import peak_normalise, trim_or_pad

    wave = torch.as_tensor(wave, dtype=torch.float32, device=device)
    if wave.ndim == 1:
        wave = wave.unsqueeze(0)
    if wave.ndim != 2 or wave.shape[-1] == 0:
        raise DrumsynthError(f"wave must be [B, T] with T > 0, got {tuple(wave.shape)}")
    if not torch.isfinite(wave).all():
        raise DrumsynthError("wave holds NaN or infinite samples")
    return peak_normalise(trim_or_pad(wave, length))
