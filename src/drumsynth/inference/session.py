"""The Session: the one API every front end (CLI, OSC, web) calls.

A Session holds one loaded model and turns musical requests (a class or class mix, a seed, a latent)
into finished drum hits with their provenance. It reads every DSP parameter from the checkpoint.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

import drumsynth
from drumsynth.errors import DrumsynthError
from drumsynth.export.wav import finish_hit, write_hit

PRETRAINED = Path(drumsynth.__file__).resolve().parent / "pretrained"
# The default model when none is named: the first shipped one in this order.
DEFAULT_ORDER = ("drumgan", "style", "ndm", "wavegan")


def shipped_models() -> dict[str, Path]:
    """Release checkpoints shipped in the package, by family id."""
    return {f: PRETRAINED / f"{f}.pt" for f in DEFAULT_ORDER if (PRETRAINED / f"{f}.pt").is_file()}


def resolve_model(spec: str | None) -> Path:
    """A checkpoint path from a path, a family id (its shipped model) or ``None`` (the default)."""
    shipped = shipped_models()
    if spec is None:
        if not shipped:
            raise DrumsynthError("no model is shipped in this installation; train one with 'drumsynth train'")
        return next(iter(shipped.values()))
    if spec in shipped:
        return shipped[spec]
    path = Path(spec)
    if path.is_file():
        return path
    raise DrumsynthError(f"model {spec!r} is neither a checkpoint file nor a shipped family "
                         f"(shipped: {sorted(shipped) or 'none'})")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class Render:
    """Generated hits and how they were made.

    waves : np.ndarray[n, T] float32 at ``sample_rate`` (the model's own rate, unfinished)
    latents : Tensor[n, latent_dim]
    labels : Tensor[n, C] class weights
    """

    waves: np.ndarray
    sample_rate: int
    latents: torch.Tensor
    labels: torch.Tensor
    seed: int | None
    provenance: dict[str, Any] = field(default_factory=dict)

    def finished(self, i: int, out_sr: int = 44100) -> np.ndarray:
        """Hit ``i`` trimmed, faded and normalised at ``out_sr`` (see ``export.wav.finish_hit``)."""
        return finish_hit(self.waves[i], self.sample_rate, out_sr=out_sr)

    def sidecar(self, i: int, classes: tuple[str, ...]) -> dict[str, Any]:
        weights = self.labels[i].tolist()
        return {**self.provenance, "index": i, "seed": self.seed, "latent": self.latents[i].tolist(),
                "labels": dict(zip(classes, weights)), "class": classes[int(np.argmax(weights))]}


class Session:
    """One loaded model. Create with :meth:`load`."""

    def __init__(self, model, *, checkpoint: Path, checkpoint_sha256: str, device: str = "cpu"):
        self.model = model
        self.checkpoint = checkpoint
        self.checkpoint_sha256 = checkpoint_sha256
        self.device = device
        self.options: dict[str, str] = {}

    @classmethod
    def load(cls, spec: str | None = None, *, device: str = "cpu") -> Session:
        """Load a checkpoint path, a shipped family id, or the default shipped model (``None``)."""
        from drumsynth.models import family_module
        from drumsynth.train.checkpoint import load_checkpoint

        path = resolve_model(spec)
        ckpt = load_checkpoint(path)
        model = family_module(ckpt["family"]).load_model(ckpt, device=device)
        return cls(model, checkpoint=path, checkpoint_sha256=file_sha256(path), device=device)

    def set_option(self, key: str, value: str) -> None:
        """Set an inference option the model declares in ``model.OPTIONS`` (e.g. ndm's ``inverter``)."""
        allowed = getattr(self.model, "OPTIONS", {})
        if key not in allowed:
            raise DrumsynthError(f"{self.family} models have no option {key!r}; options: {sorted(allowed) or 'none'}")
        if value not in allowed[key]:
            raise DrumsynthError(f"option {key}={value!r} is not one of {list(allowed[key])}")
        setattr(self.model, key, value)
        self.options[key] = value

    @property
    def label(self) -> str:
        """A short name for reports: family, checkpoint file and any options set."""
        opts = "".join(f" {k}={v}" for k, v in self.options.items())
        return f"{self.family} ({self.checkpoint.name}){opts}"

    @property
    def family(self) -> str:
        return self.model.family

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(self.model.classes)

    def class_weights(self, cls: str | int | list[float] | None, n: int) -> torch.Tensor:
        """Tensor[n, C] from a class name, a class index, or explicit (soft) weights, one row per hit."""
        if cls is None:
            raise DrumsynthError(f"choose a class: one of {list(self.classes)}")
        if isinstance(cls, str):
            if cls not in self.classes:
                raise DrumsynthError(f"class {cls!r} is not one of this model's classes {list(self.classes)}")
            cls = self.classes.index(cls)
        if isinstance(cls, int):
            if not 0 <= cls < len(self.classes):
                raise DrumsynthError(f"class index {cls} is outside 0..{len(self.classes) - 1}")
            row = torch.zeros(len(self.classes))
            row[cls] = 1.0
        else:
            row = torch.as_tensor(cls, dtype=torch.float32)
            if row.shape != (len(self.classes),) or not torch.all(torch.isfinite(row)):
                raise DrumsynthError(f"class weights {cls!r} must be {len(self.classes)} finite numbers")
        return row.expand(n, -1).to(self.device)

    def _provenance(self) -> dict[str, Any]:
        return {"family": self.family, "checkpoint": str(self.checkpoint), "options": dict(self.options),
                "checkpoint_sha256": self.checkpoint_sha256, "sample_rate_model": self.model.sample_rate,
                "version": drumsynth.__version__,
                "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")}

    @torch.no_grad()
    def generate(self, cls: str | int | list[float] | None, *, n: int = 1, seed: int = 0,
                 z: torch.Tensor | None = None) -> Render:
        """``n`` hits of a class (or class mix); the same seed gives the same latents and audio."""
        if n < 1 or n > 4096:
            raise DrumsynthError(f"n must be between 1 and 4096, got {n}")
        labels = self.class_weights(cls, n)
        if z is None:
            generator = torch.Generator().manual_seed(int(seed))
            z = self.model.sample_latent(n, generator)
        z = z.to(self.device)
        waves = self.model.generate(z, labels).cpu().numpy()
        return Render(waves=waves, sample_rate=self.model.sample_rate, latents=z.cpu(), labels=labels.cpu(),
                      seed=seed, provenance=self._provenance())

    @torch.no_grad()
    def controls(self, cls: str, *, p1: float = 0.0, p2: float = 0.0, p3: float = 0.0,
                 range_std: float = 2.0) -> Render:
        """One hit from the Neural Drum Machine's interface: XY pad (p1, p2), Fine (p3), all in [-1, 1],
        the pad's range in standard deviations, and the class menu (``cls``)."""
        if not hasattr(self.model, "latent_from_controls"):
            raise DrumsynthError(f"{self.family} models have no XY pad / Fine controls")
        for name, value in (("x", p1), ("y", p2), ("fine", p3)):
            if not -1.0 <= value <= 1.0:
                raise DrumsynthError(f"{name} must be in [-1, 1], got {value}")
        z = self.model.latent_from_controls(cls, p1, p2, p3, range_std)
        labels = self.class_weights(cls, 1)
        waves = self.model.generate(z, labels).cpu().numpy()
        return Render(waves=waves, sample_rate=self.model.sample_rate, latents=z.cpu(), labels=labels.cpu(),
                      seed=None, provenance=self._provenance() | {
                          "controls": {"x": p1, "y": p2, "fine": p3, "range_std": range_std}})

    @staticmethod
    def crop(render: Render, start: float, end: float) -> Render:
        """Keep ``[start, end)`` (fractions of the clip) of every hit, with short fades where it cuts."""
        from drumsynth.audio.dsp import crop

        waves = crop(torch.from_numpy(render.waves), start, end).numpy()
        return Render(waves=waves, sample_rate=render.sample_rate, latents=render.latents, labels=render.labels,
                      seed=render.seed, provenance=render.provenance | {"crop": [start, end]})

    @torch.no_grad()
    def encode(self, wave: np.ndarray, sr: int, cls: str | int | list[float] | None = None) -> torch.Tensor:
        """Latent Tensor[latent_dim] of one sound np.ndarray[T] at ``sr`` (resampled to the model's rate)."""
        from drumsynth.audio.resample import resample

        wave = resample(np.asarray(wave, dtype=np.float32), sr, self.model.sample_rate)
        labels = None if cls is None else self.class_weights(cls, 1)
        return self.model.encode(torch.from_numpy(wave)[None].to(self.device), labels)[0].cpu()

    def save(self, render: Render, out_dir: str | Path, *, prefix: str = "hit", out_sr: int = 44100,
             bit_depth: str = "24") -> list[Path]:
        """Write every hit of ``render`` as ``prefix_<class>_<i>.wav`` + ``.json`` sidecar."""
        out_dir = Path(out_dir)
        paths = []
        for i in range(len(render.waves)):
            sidecar = render.sidecar(i, self.classes) | {"sample_rate": out_sr, "bit_depth": bit_depth}
            path = out_dir / f"{prefix}_{sidecar['class']}_{i:03d}.wav"
            paths.append(write_hit(path, render.finished(i, out_sr), out_sr, sidecar, bit_depth=bit_depth))
        return paths
