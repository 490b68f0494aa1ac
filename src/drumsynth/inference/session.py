"""The Session: the one API every front end (CLI, OSC, web) calls.

A Session holds one loaded model and turns musical requests (a class or class mix, a seed, a latent)
into finished drum hits with their provenance. It reads every DSP parameter from the checkpoint.

Methods: :meth:`Session.generate` (class or class mix, seed or latent), :meth:`Session.encode`,
:meth:`Session.controls` (ndm's XY pad), :meth:`Session.crop`, :meth:`Session.save`, and DrumGAN VST's
latent navigation (seed Appendix A), which works for every family through the family contract:

- :meth:`Session.set_sliders` — the class sliders: independent, continuous weights, passed to the model
  as they are (values outside [0, 1] included);
- :meth:`Session.new_center` — "Generate": a new ``z_center`` from the model's prior and a seed;
- :meth:`Session.analyze` — "Analyze": encode a sound into ``z_center`` (and the sliders, when the
  model estimates class weights);
- :meth:`Session.new_direction` — "Change variation direction": new orthonormal ``e1``, ``e2``;
- :meth:`Session.vary` — "Variation intensity" α: decode ``z_center + α·e1``;
- :meth:`Session.plane` — the 2-D pad: decode ``z_center + x·e1 + y·e2``.
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
from drumsynth.inference import latent as nav

PRETRAINED = Path(drumsynth.__file__).resolve().parent / "pretrained"
# The default model when none is named: the first shipped one in this order. ndm leads while it is the
# shipped model closest to real drums (BENCHMARKS.md: FAD_clf 12.8 against drumgan's 29.1) and the one
# with all eight classes.
DEFAULT_ORDER = ("ndm", "drumgan", "style", "wavegan")


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
        # Latent navigation state (CPU tensors): the sliders' class weights Tensor[C], the centre
        # Tensor[latent_dim] with where it came from, and the orthonormal directions Tensor[latent_dim]
        # (drawn from seed 0 on first use).
        self.sliders: torch.Tensor | None = None
        self.z_center: torch.Tensor | None = None
        self.center_source: str | None = None
        self.center_seed: int | None = None
        self.e1: torch.Tensor | None = None
        self.e2: torch.Tensor | None = None
        self.direction_seed: int | None = None

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
            z = self.model.sample_latent(n, generator, labels)
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

    def _model_wave(self, wave: np.ndarray, sr: int) -> torch.Tensor:
        """One sound np.ndarray[T] at ``sr`` -> Tensor[1, T'] at the model's rate, on the device."""
        from drumsynth.audio.resample import resample

        wave = resample(np.asarray(wave, dtype=np.float32), sr, self.model.sample_rate)
        return torch.from_numpy(wave)[None].to(self.device)

    @torch.no_grad()
    def encode(self, wave: np.ndarray, sr: int, cls: str | int | list[float] | None = None) -> torch.Tensor:
        """Latent Tensor[latent_dim] of one sound np.ndarray[T] at ``sr`` (resampled to the model's rate)."""
        labels = None if cls is None else self.class_weights(cls, 1)
        return self.model.encode(self._model_wave(wave, sr), labels)[0].cpu()

    # ---- latent navigation (DrumGAN VST, seed Appendix A) -------------------------------------------

    def set_sliders(self, weights: str | int | list[float]) -> torch.Tensor:
        """Set the class sliders from a class name (one-hot), an index, or explicit weights Tensor[C].

        Explicit weights may lie outside [0, 1]: they reach the model as they are, never clipped here.
        Returns the sliders Tensor[C].
        """
        self.sliders = self.class_weights(weights, 1)[0].cpu().clone()
        return self.sliders

    def new_center(self, seed: int) -> torch.Tensor:
        """The Generate button: a new ``z_center`` Tensor[latent_dim] from the model's prior, with ``seed``
        (for the sliders' classes where the model's prior depends on the class: set them first)."""
        generator = torch.Generator().manual_seed(int(seed))
        labels = None if self.sliders is None else self.sliders[None].to(self.device)
        self.z_center = self.model.sample_latent(1, generator, labels)[0].detach().cpu().float()
        self.center_source, self.center_seed = f"seed {int(seed)}", int(seed)
        return self.z_center

    def new_direction(self, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Change variation direction: new orthonormal ``e1``, ``e2`` Tensor[latent_dim] from ``seed``."""
        generator = torch.Generator().manual_seed(int(seed))
        self.e1, self.e2 = nav.orthonormal_pair(self.model.latent_dim, generator)
        self.direction_seed = int(seed)
        return self.e1, self.e2

    @torch.no_grad()
    def analyze(self, wave: np.ndarray, sr: int) -> dict[str, Any]:
        """The Analyze button: encode one sound np.ndarray[T] at ``sr`` into ``z_center``.

        A model with ``analyze(wave Tensor[B, T]) -> (z Tensor[B, d], c Tensor[B, C])`` (an encoder that
        also estimates class weights) sets the sliders to ``c``; any other model encodes with the current
        sliders as its class conditioning (``None`` when unset) and leaves them as they are.
        Returns ``{"sliders": {class: weight} (empty when unset), "latent": list of latent_dim floats}``.
        """
        x = self._model_wave(wave, sr)
        if callable(getattr(self.model, "analyze", None)):
            z, c = self.model.analyze(x)
            weights = c[0].detach().cpu().float().tolist()
        else:
            labels = None if self.sliders is None else self.sliders[None].to(self.device)
            z, weights = self.model.encode(x, labels), None
        z = z[0].detach().cpu().float()
        if z.shape != (self.model.latent_dim,) or not torch.all(torch.isfinite(z)):
            raise DrumsynthError(f"{self.family} encoder gave no usable latent (shape {tuple(z.shape)})")
        if weights is not None:
            self.set_sliders(weights)
        self.z_center = z
        self.center_source, self.center_seed = "analyze", None
        return {"sliders": self.slider_values(), "latent": self.z_center.tolist()}

    def slider_values(self) -> dict[str, float]:
        """The sliders as ``{class: weight}`` (empty when unset)."""
        return {} if self.sliders is None else dict(zip(self.classes, self.sliders.tolist()))

    def vary(self, intensity: float) -> Render:
        """Variation intensity: one hit decoded from ``z_center + intensity·e1`` with the sliders."""
        intensity = nav.finite_scalar("intensity", intensity)
        e1, e2 = self._directions()
        # The pad's x axis: vary(a) and plane(a, 0) decode the same latent.
        z = nav.plane_point(self._center(), e1, e2, intensity, 0.0)
        return self._navigate(z, {"intensity": intensity})

    def plane(self, x: float, y: float) -> Render:
        """The 2-D pad: one hit decoded from ``z_center + x·e1 + y·e2`` with the sliders."""
        e1, e2 = self._directions()
        z = nav.plane_point(self._center(), e1, e2, x, y)
        return self._navigate(z, {"x": float(x), "y": float(y)})

    def _center(self) -> torch.Tensor:
        if self.z_center is None:
            raise DrumsynthError("no latent centre yet: press Generate (new_center) or Analyze (analyze) first")
        return self.z_center

    def _directions(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.e1 is None or self.e2 is None:
            self.new_direction(0)
        return self.e1, self.e2

    @torch.no_grad()
    def _navigate(self, z: torch.Tensor, where: dict[str, float]) -> Render:
        """Decode z Tensor[latent_dim] with the sliders as one Render with navigation provenance."""
        if self.sliders is None:
            raise DrumsynthError(f"no class weights yet: set the class sliders first (one of {list(self.classes)} "
                                 "or explicit weights)")
        z = z[None].to(self.device)
        labels = self.sliders[None].to(self.device)
        waves = self.model.generate(z, labels).cpu().numpy()
        navigation = where | {"center": self.center_source, "direction_seed": self.direction_seed}
        return Render(waves=waves, sample_rate=self.model.sample_rate, latents=z.cpu(), labels=labels.cpu(),
                      seed=self.center_seed, provenance=self._provenance() | {"navigation": navigation})

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
