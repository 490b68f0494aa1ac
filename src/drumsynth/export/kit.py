"""Drum kits from a model: one folder that is at once an SFZ instrument, a Hydrogen drumkit and,
optionally, a browsable sample pack.

Every class the model was trained on (``Session.trained_classes``) that has General MIDI keys
(``drumsynth.export.gm``) gets instruments on its keys: by default one per class, four toms and two
percs (``per_class`` sets the number for every class, up to the keys it has). An instrument is a
:class:`~drumsynth.export.variation.Voice`: a latent centre drawn from the class's prior, and
``velocity_layers × round_robin`` samples that are small latent variations of it (``amount`` of the
class's latent spread, each along its own random direction).

Velocity layers: the instrument's variations are sorted by spectral centroid and dealt out darkest
first, so the softest layer holds the darkest samples and harder hits sound brighter, as a struck drum
does; each layer's ``round_robin`` samples are its round-robin set. Loudness is left to the sampler's
velocity tracking: every file is peak-normalised (``export.wav.finish_hit``). Toms are assigned to their
keys by pitch (the darkest instrument on the lowest tom key).

The folder (see :mod:`drumsynth.export.kit_folder` for what may be replaced there)::

    kit.sfz  drumkit.xml  kit.json            instrument, Hydrogen kit, manifest
    036_kick_v1_rr1.wav + .json ...           24-bit tagged samples with provenance sidecars
    pack/<class>/<family>_<class>_000.wav ... with ``pack``: N fresh hits per class (prior draws)

The manifest records the round-robin spread: the log-spectral distance (dB, ``metrics.reconstruction``)
between the samples of each round-robin set, pair by pair.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from drumsynth.errors import DrumsynthError
from drumsynth.export import gm
from drumsynth.export.hydrogen_kit import MAX_LAYERS, drumkit_xml
from drumsynth.export.kit_folder import KitFolder
from drumsynth.export.kit_layout import KitInstrument, KitLayout, KitSample, sample_name, velocity_ranges
from drumsynth.export.sfz import sfz_text
from drumsynth.export.variation import DEFAULT_AMOUNT, Voice, check_amount, derive_seed
from drumsynth.export.wav import EXPORT_RATES, hit_payloads, plain_name
from drumsynth.inference import checks
from drumsynth.inference.session import Render, Session

SFZ_FILE, HYDROGEN_FILE, PACK_FOLDER = "kit.sfz", "drumkit.xml", "pack"
MAX_PACK = 512  # hits per class in a sample pack


@dataclass
class KitOptions:
    """What to render (checked by :meth:`checked`)."""

    seed: int = 0
    per_class: int | None = None  # instruments per class; None: gm.DEFAULT_PER_CLASS, else 1
    classes: tuple[str, ...] | None = None  # only these classes (default: every class the model knows)
    velocity_layers: int = 3
    round_robin: int = 3
    amount: float = DEFAULT_AMOUNT  # variation, as a fraction of the class's latent spread
    pack: int = 0  # sample-pack hits per class
    name: str | None = None  # the kit's name (Hydrogen, SFZ header); default from model and seed
    out_sr: int = 44100
    bit_depth: str = "24"

    def checked(self) -> KitOptions:
        checks.seed(self.seed)
        if self.per_class is not None:
            checks.integer("instruments per class", self.per_class, 1, max(map(len, gm.KIT_NOTES.values())))
        velocity_ranges(self.velocity_layers)
        checks.integer("round robin", self.round_robin, 1, MAX_LAYERS)
        if self.velocity_layers * self.round_robin > MAX_LAYERS:
            raise DrumsynthError(f"{self.velocity_layers} velocity layers x {self.round_robin} round robin = "
                                 f"{self.velocity_layers * self.round_robin} samples per instrument; a Hydrogen "
                                 f"instrument holds at most {MAX_LAYERS}")
        check_amount(self.amount)
        checks.integer("pack size", self.pack, 0, MAX_PACK)
        if self.name is not None and (not isinstance(self.name, str) or not self.name.strip()
                                      or len(self.name) > 128 or any(ord(c) < 32 for c in self.name)):
            raise DrumsynthError(f"kit name must be 1-128 printable characters, got {self.name!r:.200}")
        if self.out_sr not in EXPORT_RATES:
            raise DrumsynthError(f"export sample rate {self.out_sr} is not one of {list(EXPORT_RATES)}")
        return self


@dataclass
class KitReport:
    """What a render wrote: the folder, its layout, the round-robin LSD and the skipped classes."""

    folder: Path
    layout: KitLayout
    files: list[Path]
    skipped: dict[str, str] = field(default_factory=dict)
    round_robin_lsd: dict[str, float] = field(default_factory=dict)  # min/mean/max over pairs, dB
    seconds: float = 0.0


def instrument_plan(session: Session, per_class: int | None, classes: tuple[str, ...] | None = None
                    ) -> tuple[list[tuple[str, tuple[int, ...]]], dict[str, str]]:
    """``[(class, keys)]`` for the kit, and ``{class: why}`` for the classes left out or cut short.

    ``classes`` limits the kit to those (each must be one the model was trained on)."""
    if classes is not None:
        if isinstance(classes, str) or not classes:
            raise DrumsynthError(f"kit classes must be a non-empty list of names, got {classes!r}")
        for cls in classes:
            if cls not in session.trained_classes:
                raise DrumsynthError(f"kit class {cls!r} is not one this model was trained on: "
                                     f"{list(session.trained_classes)}")
    plan, skipped = [], {}
    for cls in session.classes:
        if classes is not None and cls not in classes:
            continue
        keys = gm.kit_notes(cls, session.classes)
        if cls not in session.trained_classes:
            skipped[cls] = "the model saw no training files of it"
        elif not keys:
            skipped[cls] = "no General MIDI key plays it"
        else:
            want = gm.DEFAULT_PER_CLASS.get(cls, 1) if per_class is None else per_class
            plan.append((cls, keys[:want]))
            if want > len(keys):
                skipped[cls] = f"{want - len(keys)} of {want} instruments left out: only {len(keys)} General MIDI keys"
    return plan, skipped


def spectral_centroid(wave: np.ndarray, sr: int) -> float:
    """Power-weighted mean frequency (Hz) of a whole clip np.ndarray[T]; 0 for silence."""
    power = np.abs(np.fft.rfft(np.asarray(wave, dtype=np.float64))) ** 2
    total = power.sum()
    freqs = np.fft.rfftfreq(len(wave), 1.0 / sr)
    return float((freqs * power).sum() / total) if total > 0 else 0.0


def pairwise_lsd(waves: list[np.ndarray]) -> list[float]:
    """LSD (dB) of every pair of clips np.ndarray[T_i], zero-padded to one length (an empty list for
    fewer than two)."""
    from drumsynth.metrics.reconstruction import lsd_per_clip

    pairs = list(combinations(range(len(waves)), 2))
    if not pairs:
        return []
    length = max(len(w) for w in waves)
    padded = np.stack([np.pad(w, (0, length - len(w))) for w in waves]).astype(np.float32)
    ref = padded[[i for i, _ in pairs]]
    est = padded[[j for _, j in pairs]]
    return [float(x) for x in lsd_per_clip(ref, est)]


def lsd_stats(values: list[float]) -> dict[str, float]:
    """``{"pairs", "min", "median", "mean", "max"}`` of LSD values (only ``pairs`` when there are none)."""
    if not values:
        return {"pairs": 0}
    return {"pairs": len(values), "min": min(values), "median": float(np.median(values)),
            "mean": float(np.mean(values)), "max": max(values)}


def _kit_names(plan: list[tuple[str, tuple[int, ...]]], layers: int, rr: int) -> list[str]:
    return [sample_name(note, cls, v, r) for cls, keys in plan for note in keys
            for v in range(1, layers + 1) for r in range(1, rr + 1)]


def _pack_names(session: Session, classes: list[str], n: int) -> list[str]:
    family = plain_name(session.family)
    return [f"{PACK_FOLDER}/{cls}/{family}_{cls}_{k:03d}.wav" for cls in classes for k in range(n)]


def _with_sidecars(names: list[str]) -> list[str]:
    return [n for name in names for n in (name, name[:-len(".wav")] + ".json")]


class _Writer:
    """Writes finished hits (and their sidecars) into the kit folder."""

    def __init__(self, session: Session, folder: KitFolder, opts: KitOptions, bar) -> None:
        self.session, self.folder, self.opts, self.bar = session, folder, opts, bar
        self.paths: list[Path] = []

    def hit(self, name: str, render: Render, k: int, wave: np.ndarray, extra: dict[str, Any]) -> None:
        sidecar = (render.sidecar(k, self.session.classes)
                   | {"sample_rate": self.opts.out_sr, "bit_depth": self.opts.bit_depth} | extra)
        audio, meta = hit_payloads(self.folder.folder / name, wave, self.opts.out_sr, sidecar,
                                   bit_depth=self.opts.bit_depth)
        self.paths.append(self.folder.write(name, audio))
        self.folder.write(name[:-len(".wav")] + ".json", meta)
        self.bar.update(1)


def _render_instruments(session: Session, cls: str, keys: tuple[int, ...], opts: KitOptions,
                        writer: _Writer) -> list[tuple[KitInstrument, list[float]]]:
    """Render the instruments of one class; returns each with its round-robin pairs' LSD (dB)."""
    ranges = velocity_ranges(opts.velocity_layers)
    size = opts.velocity_layers * opts.round_robin
    voices = []
    for i in range(len(keys)):
        voice = Voice(session, cls, derive_seed(opts.seed, "kit", cls, i))
        seeds = [derive_seed(opts.seed, "kit", cls, i, "hit", k) for k in range(size)]
        render = Render.concat(list(voice.render(seeds, [opts.amount] * size)))
        waves = [render.finished(k, opts.out_sr) for k in range(size)]
        bright = [spectral_centroid(w, opts.out_sr) for w in waves]
        voices.append((render, waves, bright, seeds))
    notes = list(keys)
    if cls in gm.PITCH_ORDER:  # the darkest instrument on the lowest key
        notes = sorted(keys, key=gm.PITCH_ORDER[cls].index)
        by_pitch = sorted(range(len(voices)), key=lambda i: float(np.mean(voices[i][2])))
        voices = [voices[i] for i in by_pitch]
    instruments = []
    for note, (render, waves, bright, seeds) in zip(notes, voices):
        ins, lsd = KitInstrument(cls=cls, note=note), []
        order = sorted(range(size), key=lambda k: (bright[k], k))
        for v, velocity in enumerate(ranges):
            members = order[v * opts.round_robin:(v + 1) * opts.round_robin]
            lsd += pairwise_lsd([waves[k] for k in members])
            for position, k in enumerate(members, start=1):
                name = sample_name(note, cls, v + 1, position)
                ins.samples.append(KitSample(file=name, layer=v + 1, velocity=velocity, position=position))
                writer.hit(name, render, k, waves[k], {"kit": {
                    "note": note, "gm_name": gm.gm_key_name(note), "velocity": list(velocity), "layer": v + 1,
                    "round_robin": position, "direction_seed": seeds[k], "amount": opts.amount,
                    "brightness_hz": round(bright[k], 1)}})
        instruments.append((ins, lsd))
    return instruments


def _render_pack(session: Session, classes: list[str], opts: KitOptions, writer: _Writer) -> None:
    names = iter(_pack_names(session, classes, opts.pack))
    for cls in classes:
        for render in session.generate_batches(cls, n=opts.pack, seed=derive_seed(opts.seed, "pack", cls)):
            for k in range(len(render.waves)):
                writer.hit(next(names), render, k, render.finished(k, opts.out_sr), {"pack": {"class": cls}})


def render_kit(session: Session, folder: str | Path | KitFolder, options: KitOptions | None = None, *,
               overwrite: bool = False, progress: bool = False) -> KitReport:
    """Render a kit (see the module docstring) into ``folder``; returns what was written.

    Parameters
    ----------
    session : the model
    folder : the kit folder, or a :class:`KitFolder` already checked (the CLI makes one before loading the
        model, so a refused folder costs nothing)
    options : what to render (default :class:`KitOptions`)
    overwrite : for a path ``folder``: allow a non-empty folder that is not a drumsynth kit
    progress : a progress bar on stderr
    """
    from tqdm import tqdm

    start = time.perf_counter()
    opts = (options or KitOptions()).checked()
    kit_folder = folder if isinstance(folder, KitFolder) else KitFolder(folder, overwrite=overwrite)
    plan, skipped = instrument_plan(session, opts.per_class, opts.classes)
    if not plan:
        raise DrumsynthError(f"this model has no class a General MIDI kit can play: {skipped}")
    pack_classes = [cls for cls, _ in plan] if opts.pack else []
    names = _kit_names(plan, opts.velocity_layers, opts.round_robin)
    pack = _pack_names(session, pack_classes, opts.pack)
    kit_folder.plan(_with_sidecars(names + pack) + [SFZ_FILE, HYDROGEN_FILE])
    name = opts.name or f"drumsynth {session.family} seed {opts.seed}"
    layout, lsd = KitLayout(name=name), {}
    with tqdm(total=len(names) + len(pack), desc="kit", unit="hit", disable=not progress, leave=False) as bar:
        writer = _Writer(session, kit_folder, opts, bar)
        for cls, keys in plan:
            for ins, pairs in _render_instruments(session, cls, keys, opts, writer):
                layout.instruments.append(ins)
                lsd[ins.note] = pairs
        _render_pack(session, pack_classes, opts, writer)
    layout.instruments.sort(key=lambda ins: ins.note)
    about = [f"model {session.label}, checkpoint sha256 {session.checkpoint_sha256[:16]}", f"seed {opts.seed}, "
             f"{opts.velocity_layers} velocity layers x {opts.round_robin} round robin, variation amount {opts.amount}"]
    kit_folder.write(SFZ_FILE, sfz_text(layout, about).encode())
    kit_folder.write(HYDROGEN_FILE, drumkit_xml(layout, info="; ".join(about)))
    stats = lsd_stats([x for pairs in lsd.values() for x in pairs])
    kit_folder.finish({
        "name": name, "family": session.family, "checkpoint": str(session.checkpoint),
        "checkpoint_sha256": session.checkpoint_sha256, "options": asdict(opts), "skipped": skipped,
        "round_robin_lsd_db": stats, "sfz": SFZ_FILE, "hydrogen": HYDROGEN_FILE,
        "instruments": [{"note": ins.note, "name": ins.name, "class": ins.cls,
                         "round_robin_lsd_db": lsd_stats(lsd[ins.note]),
                         "samples": [asdict(s) for s in ins.samples]} for ins in layout.instruments]})
    return KitReport(folder=kit_folder.folder, layout=layout, files=writer.paths, skipped=skipped,
                     round_robin_lsd=stats, seconds=time.perf_counter() - start)
