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
- :meth:`Session.morph` — morph between two sounds: decode ``slerp`` (or ``lerp``) of their latents.

The style family adds its controls (seed §2.3), which apply to everything the Session decodes next:
:meth:`Session.set_style` (a PCA style fader), :meth:`Session.set_style_layers` (the layers the faders
move) and :meth:`Session.set_noise` (the noise amount, per layer or for all).

Every argument is checked (:mod:`drumsynth.inference.checks`): a wrong type, a seed outside
[0, 2**63 - 1], a rate outside 1000..384000 Hz, a non-finite or oversized sound, a latent beyond
``LATENT_LIMIT`` per component or a model output with NaN is a ``DrumsynthError`` naming the value.
Hits are decoded in batches of at most ``BATCH`` (:meth:`Session.generate_batches` streams them), so
memory stays bounded for any ``n``; files are written by :meth:`Session.save` in the one naming scheme
of ``drumsynth.export.wav.HitFolder``, never over an existing file unless asked.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

import drumsynth
from drumsynth.errors import DrumsynthError
from drumsynth.export.wav import HitFolder, finish_hit, plain_name
from drumsynth.inference import checks
from drumsynth.inference import latent as nav

PRETRAINED = Path(drumsynth.__file__).resolve().parent / "pretrained"
# The default model when none is named: the first shipped one in this order. ndm leads while it is the
# shipped model closest to real drums (BENCHMARKS.md: FAD_clf 12.8 against drumgan's 29.1) and the one
# with all eight classes.
DEFAULT_ORDER = ("ndm", "drumgan", "style", "wavegan")
# Hits decoded per model call: bounds memory for any n (ndm needed 5.8 GB, drumgan over 9 GB, for 4096
# hits in one batch) while keeping the per-call overhead small.
BATCH = 64


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


def _morph_args(t: object, method: object) -> tuple[float, str]:
    """A morph position in [0, 1] and path name, checked."""
    t = checks.real("morph t", t)
    if not 0.0 <= t <= 1.0:
        raise DrumsynthError(f"morph t must be in [0, 1], got {t}")
    if method not in ("slerp", "lerp"):
        raise DrumsynthError(f"morph method must be 'slerp' or 'lerp', got {method!r}")
    return t, method


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def trained_counts(data: Any, classes: tuple[str, ...]) -> dict[str, int] | None:
    """Training files per model class from a checkpoint's ``data`` record, or ``None`` without one.

    ``data`` is ``{"cache": str, "counts": {"train": {label: n}, "valid": ..., "test": ...}}`` with the
    cache's labels (the 8 classes). A 3-class model (kick, snare, cymbal) counts them through the
    3-class view (claps are snares, hats cymbals); any other model counts its own class names.
    """
    from drumsynth.data.taxonomy import CLASSES3, TO_CLASS3

    if data is None:
        return None
    counts = data.get("counts") if isinstance(data, dict) else None
    train = counts.get("train") if isinstance(counts, dict) else None
    if not isinstance(train, dict) or not all(isinstance(k, str) and isinstance(v, int) and v >= 0
                                              for k, v in train.items()):
        raise DrumsynthError(f"the checkpoint's data record is malformed (want counts.train as "
                             f"{{label: files}}), got {data!r:.200}")
    view = (lambda label: TO_CLASS3.get(label, label)) if tuple(classes) == CLASSES3 else (lambda label: label)
    counts = dict.fromkeys(classes, 0)
    for label, n in train.items():
        if view(label) in counts:
            counts[view(label)] += n
    return counts


@dataclass
class Render:
    """Generated hits and how they were made.

    waves : np.ndarray[n, T] float32 at ``sample_rate`` (the model's own rate, unfinished)
    latents : Tensor[n, latent_dim]
    labels : Tensor[n, C] class weights
    first : index of the first hit in the whole request (a batch of :meth:`Session.generate_batches`)
    """

    waves: np.ndarray
    sample_rate: int
    latents: torch.Tensor
    labels: torch.Tensor
    seed: int | None
    provenance: dict[str, Any] = field(default_factory=dict)
    first: int = 0

    def finished(self, i: int, out_sr: int = 44100) -> np.ndarray:
        """Hit ``i`` trimmed, faded and normalised at ``out_sr`` (see ``export.wav.finish_hit``)."""
        return finish_hit(self.waves[i], self.sample_rate, out_sr=out_sr)

    def sidecar(self, i: int, classes: tuple[str, ...]) -> dict[str, Any]:
        weights = self.labels[i].tolist()
        return {**self.provenance, "index": self.first + i, "seed": self.seed, "latent": self.latents[i].tolist(),
                "labels": dict(zip(classes, weights)), "class": classes[int(np.argmax(weights))]}

    @staticmethod
    def concat(parts: list[Render]) -> Render:
        """Consecutive batches of one request as one Render."""
        head = parts[0]
        return Render(waves=np.concatenate([p.waves for p in parts]), sample_rate=head.sample_rate,
                      latents=torch.cat([p.latents for p in parts]), labels=torch.cat([p.labels for p in parts]),
                      seed=head.seed, provenance=head.provenance, first=head.first)


class Session:
    """One loaded model. Create with :meth:`load`.

    ``data`` is the checkpoint's record of its training data (``trained_counts``); when present, a
    class the model saw no training files of is refused wherever a class is asked for, unless it is in
    ``inherited``: a fine-tuned model keeps what its initial model learnt of the classes its kit lacks.
    """

    def __init__(self, model, *, checkpoint: Path, checkpoint_sha256: str, device: str = "cpu",
                 data: dict[str, Any] | None = None, inherited: tuple[str, ...] = ()):
        self.model = model
        self.checkpoint = checkpoint
        self.checkpoint_sha256 = checkpoint_sha256
        self.device = device
        self.options: dict[str, str] = {}
        self.train_counts = trained_counts(data, tuple(model.classes))
        self.inherited = tuple(c for c in inherited if c in model.classes)
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
        from drumsynth.checkpoint import load_checkpoint
        from drumsynth.models import family_module

        if spec is not None and not isinstance(spec, str | Path):
            raise DrumsynthError(f"model must be a family id or a checkpoint path, got {spec!r}")
        if not isinstance(device, str):
            raise DrumsynthError(f"device must be a string such as 'cpu', got {device!r}")
        path = resolve_model(None if spec is None else str(spec))
        ckpt = load_checkpoint(path)
        model = family_module(ckpt["family"]).load_model(ckpt, device=device)
        inherited = (ckpt.get("extra") or {}).get("inherited_classes") or ()
        return cls(model, checkpoint=path, checkpoint_sha256=file_sha256(path), device=device,
                   data=ckpt.get("data"), inherited=tuple(str(c) for c in inherited))

    def set_option(self, key: str, value: str) -> None:
        """Set an inference option the model declares in ``model.OPTIONS`` (e.g. ndm's ``inverter``)."""
        allowed = getattr(self.model, "OPTIONS", {})
        if not isinstance(key, str) or key not in allowed:
            raise DrumsynthError(f"{self.family} models have no option {key!r}; options: {sorted(allowed) or 'none'}")
        if not isinstance(value, str) or value not in allowed[key]:
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

    @property
    def trained_classes(self) -> tuple[str, ...]:
        """The classes the model saw training files of (all of them when the checkpoint does not say),
        with those a fine-tuned model inherited from its initial model."""
        if self.train_counts is None:
            return self.classes
        return tuple(c for c in self.classes if self.train_counts[c] > 0 or c in self.inherited)

    def export_graphs(self, portable: bool = False) -> dict[str, torch.nn.Module]:
        """The model as tensor-only modules for file exports (:mod:`drumsynth.export.model`), on its weights.

        ``"decode"``: z Tensor[B, latent_dim] + class weights Tensor[B, C] -> hits Tensor[B, length], what
        :meth:`generate` decodes; ``"encode"`` (where the family has a usable encoder): clips Tensor[B, length]
        -> (z Tensor[B, latent_dim], class weights Tensor[B, C]). ``portable``: a decode graph of real
        operators only (what ONNX needs; may be slower). A family plugs in by giving its model an
        ``export_graphs(portable)`` method.
        """
        if not callable(getattr(self.model, "export_graphs", None)):
            raise DrumsynthError(f"{self.family} models cannot be exported to a file (no export_graphs)")
        return self.model.export_graphs(portable=portable)

    def _weight_row(self, cls: Any) -> tuple[torch.Tensor, str | None]:
        """Tensor[C] from a class name, index or explicit weights, and the class name when one was named."""
        n = len(self.classes)
        if cls is None:
            raise DrumsynthError(f"choose a class: one of {list(self.classes)}")
        if isinstance(cls, str):
            if cls not in self.classes:
                raise DrumsynthError(f"class {cls!r} is not one of this model's classes {list(self.classes)}")
            return torch.eye(n)[self.classes.index(cls)], cls
        if isinstance(cls, list | tuple | np.ndarray | torch.Tensor):
            if isinstance(cls, torch.Tensor):
                cls = cls.detach().cpu().numpy()
            try:
                values = np.asarray(cls)
            except (TypeError, ValueError) as err:
                raise DrumsynthError(f"class weights must be {n} numbers, got {cls!r:.200}") from err
            if values.dtype.kind not in "iuf" or values.shape != (n,) or not np.all(np.isfinite(values)):
                raise DrumsynthError(f"class weights must be {n} finite numbers (one per class "
                                     f"{list(self.classes)}), got {cls!r:.200}")
            return torch.as_tensor(values, dtype=torch.float32), None
        if not hasattr(cls, "__index__"):
            raise DrumsynthError(f"class must be a name, an index or {n} weights, got {cls!r}")
        index = checks.integer("class index", cls, 0, n - 1)
        return torch.eye(n)[index], self.classes[index]

    def _check_trained(self, row: torch.Tensor) -> None:
        """Refuse class weight on a class the model saw no training files of."""
        untrained = [c for c, w in zip(self.classes, row.tolist()) if w != 0 and c not in self.trained_classes]
        if untrained:
            raise DrumsynthError(f"this model saw no {', '.join(untrained)} in training; it knows: "
                                 f"{', '.join(self.trained_classes) or 'nothing'}")

    def class_weights(self, cls: str | int | list[float] | None, n: int) -> torch.Tensor:
        """Tensor[n, C] from a class name, a class index, or explicit (soft) weights, one row per hit.

        Weights may lie outside [0, 1] (passed on as they are) but must be finite; a class the model
        saw no training files of (``trained_classes``) may not carry weight.
        """
        n = checks.integer("n", n, 1, checks.MAX_HITS)
        row, _ = self._weight_row(cls)
        self._check_trained(row)
        return row.expand(n, -1).to(self.device)

    def _provenance(self, verb: str, params: dict[str, Any]) -> dict[str, Any]:
        provenance = {"family": self.family, "checkpoint": str(self.checkpoint), "options": dict(self.options),
                      "checkpoint_sha256": self.checkpoint_sha256, "sample_rate_model": self.model.sample_rate,
                      "version": drumsynth.__version__, "verb": verb, "params": params,
                      "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")}
        state = self.style_state()
        return provenance | {"style": state} if state is not None else provenance

    # ---- style controls (the style family, seed §2.3) ---------------------------------------------

    def _styled(self):
        """The model, if it has style faders and noise inputs; else a ``DrumsynthError``."""
        if not callable(getattr(self.model, "set_fader", None)):
            raise DrumsynthError(f"{self.family} models have no style faders or noise inputs (the style "
                                 "family's; load a style model)")
        return self.model

    def style_state(self) -> dict[str, Any] | None:
        """The style controls as plain values (``faders`` in standard deviations, ``fader_layers``,
        ``noise`` per layer), or ``None`` for a model without them."""
        if not callable(getattr(self.model, "style_state", None)):
            return None
        return self.model.style_state()

    def check_style(self, k: int, value: float) -> tuple[int, float]:
        """(k, value) if fader ``k`` exists and ``value`` is in range, else a ``DrumsynthError``; changes
        nothing (the OSC server checks on its receive thread)."""
        model = self._styled()
        k = checks.integer("style fader", k, 0, len(model.faders) - 1)
        value = checks.real("style fader value", value)
        model.check_fader(k, value)
        return k, value

    def check_noise(self, amount: float, layer: int | None = None) -> float:
        """``amount`` if it is a usable noise amount (for ``layer``, or every layer), else a ``DrumsynthError``."""
        model = self._styled()
        amount = checks.real("noise amount", amount)
        if layer is not None:
            layer = checks.integer("noise layer", layer, 0, model.n_layers - 1)
        model.check_noise(amount, layer)
        return amount

    def set_style(self, k: int, value: float) -> dict[str, Any]:
        """Style fader ``k`` (the k-th principal direction of w, 0-based) to ``value`` standard
        deviations (0 = untouched). Returns :meth:`style_state`."""
        k, value = self.check_style(k, value)
        self.model.set_fader(k, value)
        return self.style_state()

    def set_style_layers(self, group: str) -> dict[str, Any]:
        """The layers the style faders move: "all", "low", "mid", "high" or a layer index. Returns
        :meth:`style_state`."""
        model = self._styled()
        if isinstance(group, bool) or not isinstance(group, str | int):
            raise DrumsynthError(f"style layers must be 'all', 'low', 'mid', 'high' or a layer index, got {group!r}")
        model.set_fader_layers(str(group))
        return self.style_state()

    def set_noise(self, amount: float, layer: int | None = None) -> dict[str, Any]:
        """The noise amount (1 as trained, 0 none) of every layer, or of ``layer``. Returns :meth:`style_state`."""
        amount = self.check_noise(amount, layer)
        self.model.set_noise(amount, None if layer is None else int(layer))
        return self.style_state()

    @torch.no_grad()
    def _decode(self, z: torch.Tensor, labels: torch.Tensor, where: str = "") -> np.ndarray:
        """Latents Tensor[B, d] (checked against ``LATENT_LIMIT``) + weights Tensor[B, C] -> np.ndarray[B, T]."""
        checks.latent_in_range(z, where)
        waves = self.model.generate(z.to(self.device), labels.to(self.device))
        return checks.finite_output(torch.as_tensor(waves), self.family).cpu().numpy()

    def generate(self, cls: str | int | list[float] | None, *, n: int | None = None, seed: int = 0,
                 z: torch.Tensor | None = None, batch_size: int = BATCH) -> Render:
        """``n`` hits of a class (or class mix); the same seed gives the same latents and audio.

        ``z`` Tensor[n, latent_dim] decodes given latents instead of drawing them (``n`` is then its row
        count). The hits are decoded ``batch_size`` at a time; the result does not depend on it.
        """
        return Render.concat(list(self.generate_batches(cls, n=n, seed=seed, z=z, batch_size=batch_size)))

    def generate_batches(self, cls: str | int | list[float] | None, *, n: int | None = None, seed: int = 0,
                         z: torch.Tensor | None = None, batch_size: int = BATCH) -> Iterator[Render]:
        """:meth:`generate` as consecutive Renders of at most ``batch_size`` hits (``Render.first`` says
        where each starts), so that a caller can write each batch before the next is decoded.

        The latents of all ``n`` hits are drawn at once from ``seed``, then decoded batch by batch: any
        ``batch_size`` gives the same audio. Arguments are checked before the first batch is asked for.
        """
        seed = checks.seed(seed)
        batch_size = checks.integer("batch_size", batch_size, 1, checks.MAX_HITS)
        if z is not None:
            z = checks.latent(z, self.model.latent_dim)
            if n is not None and checks.integer("n", n, 1, checks.MAX_HITS) != len(z):
                raise DrumsynthError(f"n={n} does not match the {len(z)} latents given as z")
            n = len(z)
        n = checks.integer("n", 1 if n is None else n, 1, checks.MAX_HITS)
        labels = self.class_weights(cls, n)
        seed_used = None if z is not None else seed  # given latents owe nothing to the seed
        if z is None:
            generator = torch.Generator().manual_seed(seed)
            with torch.no_grad():
                z = self.model.sample_latent(n, generator, labels).detach().float().cpu()
        provenance = self._provenance("generate", {"n": n, "seed": seed_used})
        return self._batches(z, labels.cpu(), seed_used, provenance, batch_size)

    def _batches(self, z: torch.Tensor, labels: torch.Tensor, seed: int | None, provenance: dict[str, Any],
                 batch_size: int) -> Iterator[Render]:
        for start in range(0, len(z), batch_size):
            zb, lb = z[start:start + batch_size], labels[start:start + batch_size]
            yield Render(waves=self._decode(zb, lb), sample_rate=self.model.sample_rate, latents=zb,
                         labels=lb, seed=seed, provenance=provenance, first=start)
    def controls(self, cls: str, *, p1: float = 0.0, p2: float = 0.0, p3: float = 0.0,
                 range_std: float = 2.0) -> Render:
        """One hit from the Neural Drum Machine's interface: XY pad (p1, p2), Fine (p3), all in [-1, 1],
        the pad's range in standard deviations, and the class menu (``cls``: a name or an index)."""
        if not hasattr(self.model, "latent_from_controls"):
            raise DrumsynthError(f"{self.family} models have no XY pad / Fine controls")
        row, name = self._weight_row(cls)
        if name is None:
            raise DrumsynthError(f"the XY pad spans one class's latents: give a class name, not weights {cls!r:.200}")
        self._check_trained(row)
        pad = {key: checks.real(key, value) for key, value in (("x", p1), ("y", p2), ("fine", p3))}
        for key, value in pad.items():
            if not -1.0 <= value <= 1.0:
                raise DrumsynthError(f"{key} must be in [-1, 1], got {value}")
        range_std = checks.real("range_std", range_std)
        z = self.model.latent_from_controls(name, pad["x"], pad["y"], pad["fine"], range_std).detach().float().cpu()
        labels = row[None]
        params = pad | {"range_std": range_std}
        return Render(waves=self._decode(z, labels, " (a smaller range_std?)"), sample_rate=self.model.sample_rate,
                      latents=z, labels=labels, seed=None,
                      provenance=self._provenance("controls", params) | {"controls": params})

    @staticmethod
    def crop(render: Render, start: float, end: float) -> Render:
        """Keep ``[start, end)`` (fractions of the clip) of every hit, with short fades where it cuts."""
        from drumsynth.audio.dsp import crop

        start, end = checks.real("crop start", start), checks.real("crop end", end)
        waves = crop(torch.from_numpy(render.waves), start, end).numpy()
        return Render(waves=waves, sample_rate=render.sample_rate, latents=render.latents, labels=render.labels,
                      seed=render.seed, provenance=render.provenance | {"crop": [start, end]}, first=render.first)

    def _model_wave(self, wave: np.ndarray, sr: int) -> torch.Tensor:
        """One sound np.ndarray[T] (or [C, T], mixed down) at ``sr`` -> Tensor[1, T'] at the model's rate."""
        from drumsynth.audio.resample import resample

        sr = checks.sample_rate(sr)
        wave = resample(checks.wave(wave, sr), sr, self.model.sample_rate)
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
        seed = checks.seed(seed)
        generator = torch.Generator().manual_seed(seed)
        labels = None if self.sliders is None else self.sliders[None].to(self.device)
        with torch.no_grad():
            self.z_center = self.model.sample_latent(1, generator, labels)[0].detach().cpu().float()
        self.center_source, self.center_seed = f"seed {seed}", seed
        return self.z_center

    def new_direction(self, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Change variation direction: new orthonormal ``e1``, ``e2`` Tensor[latent_dim] from ``seed``."""
        seed = checks.seed(seed)
        generator = torch.Generator().manual_seed(seed)
        self.e1, self.e2 = nav.orthonormal_pair(self.model.latent_dim, generator)
        self.direction_seed = seed
        return self.e1, self.e2

    @torch.no_grad()
    def analyze(self, wave: np.ndarray, sr: int) -> dict[str, Any]:
        """The Analyze button: encode one sound np.ndarray[T] (or [C, T]) at ``sr`` into ``z_center``.

        A model with ``analyze(wave Tensor[B, T]) -> (z Tensor[B, d], c Tensor[B, C])`` (an encoder that
        also estimates class weights) sets the sliders to ``c`` (its own estimate: not checked against
        ``trained_classes``); any other model encodes with the current sliders as its class
        conditioning (``None`` when unset) and leaves them as they are.
        Returns ``{"sliders": {class: weight} (empty when unset), "latent": list of latent_dim floats}``.
        """
        z, weights = self._encode_sound(wave, sr)
        if weights is not None:
            self.sliders = weights
        self.z_center = z
        self.center_source, self.center_seed = "analyze", None
        return {"sliders": self.slider_values(), "latent": self.z_center.tolist()}

    @torch.no_grad()
    def _encode_sound(self, wave: np.ndarray, sr: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One sound -> (latent Tensor[latent_dim], the model's class estimate Tensor[C] or ``None``).

        A model with ``analyze`` estimates the class weights itself; any other encodes with the sliders
        as its class conditioning (``None`` when unset) and gives no estimate.
        """
        x = self._model_wave(wave, sr)
        if callable(getattr(self.model, "analyze", None)):
            z, c = self.model.analyze(x)
            weights = c[0].detach().cpu().float()
        else:
            labels = None if self.sliders is None else self.sliders[None].to(self.device)
            z, weights = self.model.encode(x, labels), None
        z = z[0].detach().cpu().float()
        if z.shape != (self.model.latent_dim,) or not torch.all(torch.isfinite(z)):
            raise DrumsynthError(f"{self.family} encoder gave no usable latent (shape {tuple(z.shape)})")
        if weights is not None and (weights.shape != (len(self.classes),) or not torch.all(torch.isfinite(weights))):
            raise DrumsynthError(f"{self.family} encoder gave no usable class estimate {weights.tolist()}")
        return z, weights

    def morph(self, a: tuple[np.ndarray, int], b: tuple[np.ndarray, int], t: float, *,
              method: str = "slerp") -> Render:
        """Morph between two sounds: one hit decoded from ``interp(z_a, z_b, t)``.

        Parameters
        ----------
        a, b : ``(wave np.ndarray[T] or [C, T], sr)`` each, encoded like :meth:`analyze` does
        t : 0 gives ``a``'s latent, 1 ``b``'s, in between the path chosen by ``method``
        method : ``"slerp"`` (along the great circle, the usual GAN-latent path) or ``"lerp"``

        The class weights are ``(1 - t)·c_a + t·c_b`` of the model's own estimates where it makes them
        (drumgan), else the sliders (which must be set). Leaves the session's centre and sliders as
        they are. Returns a Render of one hit.
        """
        t, method = _morph_args(t, method)
        (za, ca), (zb, cb) = (self._encode_sound(*sound) for sound in (a, b))
        if ca is None or cb is None:
            if self.sliders is None:
                raise DrumsynthError(f"{self.family} models estimate no class weights from a sound: set the "
                                     f"class sliders first (one of {list(self.classes)} or explicit weights)")
            ca = cb = self.sliders
        return self.morph_latents((za, ca), (zb, cb), t, method=method)

    def morph_latents(self, a: tuple[Any, Any], b: tuple[Any, Any], t: float, *, method: str = "slerp") -> Render:
        """Morph between two latents with their class weights (e.g. two earlier renders' ``latents[0]``
        and ``labels[0]``, which the web page morphs between): one hit decoded from
        ``interp(z_a, z_b, t)`` with the weights ``(1 - t)·c_a + t·c_b``.

        Parameters
        ----------
        a, b : ``(z Tensor[latent_dim], c Tensor[C])`` each (weights as given: like the model's own
            estimates, not checked against ``trained_classes``)
        t, method : as in :meth:`morph`

        Leaves the session's centre and sliders as they are. Returns a Render of one hit.
        """
        t, method = _morph_args(t, method)
        za, zb = (checks.latent(end[0], self.model.latent_dim) for end in (a, b))
        if len(za) != 1 or len(zb) != 1:
            raise DrumsynthError(f"morph takes one latent per end, got {len(za)} and {len(zb)}")
        ca, cb = (self._weight_row(end[1])[0] for end in (a, b))
        labels = nav.lerp(ca, cb, t)
        z = (nav.slerp if method == "slerp" else nav.lerp)(za[0], zb[0], t)[None]
        params = {"t": t, "method": method}
        return Render(waves=self._decode(z, labels[None]), sample_rate=self.model.sample_rate, latents=z,
                      labels=labels[None].clone(), seed=None, provenance=self._provenance("morph", params))

    def set_center(self, z: Any) -> torch.Tensor:
        """Set ``z_center`` to a given latent Tensor[latent_dim] (or a list of latent_dim numbers): for a
        front end that keeps each user's centre itself (the web page sends it with every request), or
        to continue from an earlier render's latent. Returns the centre."""
        dim = self.model.latent_dim
        if isinstance(z, list | tuple):
            try:
                z = np.asarray(z, dtype=np.float64)
            except (TypeError, ValueError) as err:
                raise DrumsynthError(f"the centre must be {dim} numbers, got {z!r:.200}") from err
        z = checks.latent(z, dim)
        if len(z) != 1:
            raise DrumsynthError(f"the centre is one latent of {dim} numbers, got shape {tuple(z.shape)}")
        self.z_center = checks.latent_in_range(z, " (the centre)")[0].clone()
        self.center_source, self.center_seed = "given", None
        return self.z_center

    def slider_values(self) -> dict[str, float]:
        """The sliders as ``{class: weight}`` (empty when unset)."""
        return {} if self.sliders is None else dict(zip(self.classes, self.sliders.tolist()))

    def vary(self, intensity: float) -> Render:
        """Variation intensity: one hit decoded from ``z_center + intensity·e1`` with the sliders."""
        intensity = checks.real("intensity", intensity)
        e1, e2 = self._directions()
        # The pad's x axis: vary(a) and plane(a, 0) decode the same latent.
        z = nav.plane_point(self._center(), e1, e2, intensity, 0.0)
        return self._navigate(z, "vary", {"intensity": intensity}, " (a smaller intensity?)")

    def plane(self, x: float, y: float) -> Render:
        """The 2-D pad: one hit decoded from ``z_center + x·e1 + y·e2`` with the sliders."""
        x, y = checks.real("x", x), checks.real("y", y)
        e1, e2 = self._directions()
        z = nav.plane_point(self._center(), e1, e2, x, y)
        return self._navigate(z, "plane", {"x": x, "y": y}, " (a point nearer the centre?)")

    def variations(self, direction_seeds: Sequence[int], intensities: Sequence[float], *,
                   batch_size: int = BATCH) -> Iterator[Render]:
        """Many Variation-intensity moves at once, each along its own direction (the seeds' "humanise").

        Row ``k`` decodes ``z_center + intensities[k]·e1_k`` with the sliders, where ``e1_k`` is the
        ``e1`` that ``new_direction(direction_seeds[k])`` draws: the same latent as
        ``new_direction(direction_seeds[k]); vary(intensities[k])``, without changing the session's own
        directions. Rows are decoded ``batch_size`` at a time and streamed like :meth:`generate_batches`;
        every argument is checked before the first batch is asked for.

        Parameters
        ----------
        direction_seeds : one seed per hit (at most ``checks.MAX_HITS``)
        intensities : one finite latent distance per hit, same length

        Returns
        -------
        Iterator of Renders; together ``waves`` np.ndarray[n, T], ``latents`` Tensor[n, latent_dim]
        """
        seeds = [checks.seed(s, "direction seed") for s in direction_seeds]
        amounts = [checks.real("intensity", a) for a in intensities]
        n = checks.integer("number of variations", len(seeds), 1, checks.MAX_HITS)
        if len(amounts) != n:
            raise DrumsynthError(f"{n} direction seeds but {len(amounts)} intensities: give one of each per hit")
        batch_size = checks.integer("batch_size", batch_size, 1, checks.MAX_HITS)
        center = self._center()
        if self.sliders is None:
            raise DrumsynthError(f"no class weights yet: set the class sliders first (one of {list(self.classes)} "
                                 "or explicit weights)")
        dim = self.model.latent_dim
        e1 = torch.stack([nav.orthonormal_pair(dim, torch.Generator().manual_seed(s))[0] for s in seeds])
        z = center[None] + torch.tensor(amounts, dtype=torch.float32)[:, None] * e1
        checks.latent_in_range(z, " (a smaller intensity?)")
        navigation = {"center": self.center_source, "direction_seeds": seeds, "intensities": amounts}
        provenance = self._provenance("variations", navigation) | {"navigation": navigation}
        return self._batches(z, self.sliders[None].expand(n, -1).clone(), self.center_seed, provenance, batch_size)

    def latent_spread(self, cls: str | int | list[float], *, n: int = 256, seed: int = 0) -> float:
        """How far apart this model's hits of ``cls`` lie: the RMS distance (latent units) of ``n`` draws
        from the prior for ``cls`` to their mean.

        Front ends scale "small" latent moves by it, so that an amount means the same for every family
        (ndm's class Gaussians span about 8.5 units in 64 dimensions, drumgan's N(0, I) about 11.3 in 128).
        """
        n = checks.integer("n", n, 2, checks.MAX_HITS)
        labels = self.class_weights(cls, n)
        generator = torch.Generator().manual_seed(checks.seed(seed))
        with torch.no_grad():
            z = self.model.sample_latent(n, generator, labels).detach().double().cpu()
        return float((z - z.mean(0)).pow(2).sum(1).mean().sqrt())

    def _center(self) -> torch.Tensor:
        if self.z_center is None:
            raise DrumsynthError("no latent centre yet: press Generate (new_center) or Analyze (analyze) first")
        return self.z_center

    def _directions(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.e1 is None or self.e2 is None:
            self.new_direction(0)
        return self.e1, self.e2

    def _navigate(self, z: torch.Tensor, verb: str, where: dict[str, float], hint: str) -> Render:
        """Decode z Tensor[latent_dim] with the sliders as one Render with navigation provenance."""
        if self.sliders is None:
            raise DrumsynthError(f"no class weights yet: set the class sliders first (one of {list(self.classes)} "
                                 "or explicit weights)")
        z, labels = z[None].float(), self.sliders[None]
        navigation = where | {"center": self.center_source, "direction_seed": self.direction_seed}
        return Render(waves=self._decode(z, labels, hint), sample_rate=self.model.sample_rate, latents=z,
                      labels=labels, seed=self.center_seed,
                      provenance=self._provenance(verb, navigation) | {"navigation": navigation})

    def save(self, render: Render, out_dir: str | Path | HitFolder, *, prefix: str | None = None,
             overwrite: bool = False, out_sr: int = 44100, bit_depth: str = "24") -> list[Path]:
        """Write every hit of ``render`` as ``<prefix>_<class>_<NNN>.wav`` + ``.json`` sidecar.

        Parameters
        ----------
        render : the hits
        out_dir : the folder, or a :class:`~drumsynth.export.wav.HitFolder` that a run reuses across its
            renders (it keeps counting, and carries its own ``overwrite``)
        prefix : a plain name (no path separators, no leading dot, at most 64 characters); default
            the model family
        overwrite : replace files of the same names (numbered from 000) instead of taking the next free
            numbers in the folder
        out_sr, bit_depth : the files' rate (44100 or 48000) and sample format ("16", "24", "32f")

        Returns the .wav paths, in the order of the hits.
        """
        folder = out_dir if isinstance(out_dir, HitFolder) else HitFolder(out_dir, overwrite=overwrite)
        prefix = plain_name(self.family if prefix is None else prefix)
        paths = []
        for i in range(len(render.waves)):
            sidecar = render.sidecar(i, self.classes) | {"sample_rate": out_sr, "bit_depth": bit_depth}
            paths.append(folder.write(prefix, sidecar["class"], render.finished(i, out_sr), out_sr, sidecar,
                                      bit_depth=bit_depth))
        return paths
