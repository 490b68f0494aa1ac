"""The MIDI humaniser: a General MIDI drum pattern rendered with a fresh small latent variation per hit.

Programmed drums repeat one sample; a drummer never strikes twice alike. Every General MIDI key of the
pattern gets its own instrument (a :class:`~drumsynth.export.variation.Voice`: a latent centre from the
seed), and every hit on it decodes ``centre + a·e1`` along its own random direction, so no two hits
are the same sample yet all sound like one drum (the seeds' "humanise": NDM §Conclusion, Adversarial
Drum Synthesis §4). Keys that no class of the model plays are counted and left out.

Velocity sets two things:

* the level, by the General MIDI 2 / DLS default curve ``gain = (velocity / 127)²`` (-12 dB at 64);
* the variation, ``amount × (0.5 + 0.5 · velocity / 127)``: ghost notes stay near the instrument's
  centre, accents wander up to the full ``amount`` (a harder stroke lands less precisely).

Each hit is finished as a one-shot (``export.wav.finish_hit``: peak -0.3 dBFS) before its gain, mixed
per class (the stems) and summed; when the sum would clip, the mix and every stem are scaled by the same
factor (recorded), so the stems still add up to the mix. The same seed gives the same bytes.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import drumsynth
from drumsynth.audio.io import encode_wav
from drumsynth.errors import DrumsynthError
from drumsynth.export import gm
from drumsynth.export.midi_pattern import DrumNote, Pattern
from drumsynth.export.variation import DEFAULT_AMOUNT, Voice, check_amount, derive_seed
from drumsynth.export.wav import EXPORT_RATES, PEAK, replace_file, write_new
from drumsynth.inference import checks
from drumsynth.inference.session import Session


def velocity_gain(velocity: int) -> float:
    """Linear gain of a MIDI velocity 1..127: ``(velocity / 127)²``."""
    return (velocity / 127.0) ** 2


def velocity_amount(velocity: int, amount: float) -> float:
    """Variation amount of a hit: ``amount × (0.5 + 0.5 · velocity / 127)``."""
    return amount * (0.5 + 0.5 * velocity / 127.0)


@dataclass
class Performance:
    """A rendered pattern: one stem per class (np.ndarray[T] float32 at ``sr``, all the same length)."""

    stems: dict[str, np.ndarray]
    sr: int
    scale: float  # applied to the mix and stems so the mix peaks at most at -0.3 dBFS
    played: dict[str, int]  # hits per class
    skipped: dict[int, int]  # GM key -> notes no class plays
    seconds: float = 0.0  # render time
    voices: dict[int, dict[str, Any]] = field(default_factory=dict)  # key -> {class, seed, hits}

    @property
    def mix(self) -> np.ndarray:
        """The sum of the stems, np.ndarray[T] float32."""
        return np.sum(list(self.stems.values()), axis=0, dtype=np.float32)


def assign(session: Session, pattern: Pattern) -> tuple[dict[int, tuple[str, list[DrumNote]]], dict[int, int]]:
    """``{key: (class, notes)}`` for the keys the model plays, and ``{key: notes}`` for the rest."""
    keys: dict[int, tuple[str, list[DrumNote]]] = {}
    skipped: Counter[int] = Counter()
    for note in pattern.notes:
        cls = gm.note_class(note.note, session.classes)
        if cls is None or cls not in session.trained_classes:
            skipped[note.note] += 1
        else:
            keys.setdefault(note.note, (cls, []))[1].append(note)
    if not keys:
        raise DrumsynthError("no note of the pattern has a class in this model: keys "
                             + ", ".join(f"{gm.note_label(k)} x{n}" for k, n in sorted(skipped.items())))
    return dict(sorted(keys.items())), dict(sorted(skipped.items()))


def _add(buffer: np.ndarray, start: int, wave: np.ndarray) -> np.ndarray:
    """``buffer`` with ``wave`` added from ``start`` (grown when the hit rings past its end)."""
    end = start + len(wave)
    if end > len(buffer):
        buffer = np.concatenate([buffer, np.zeros(end - len(buffer), dtype=np.float32)])
    buffer[start:end] += wave
    return buffer


def perform(session: Session, pattern: Pattern, *, seed: int = 0, amount: float = DEFAULT_AMOUNT,
            out_sr: int = 44100, progress: bool = False) -> Performance:
    """Render ``pattern`` (see the module docstring) at ``out_sr``."""
    from tqdm import tqdm

    start_time = time.perf_counter()
    seed, amount = checks.seed(seed), check_amount(amount)
    if out_sr not in EXPORT_RATES:
        raise DrumsynthError(f"export sample rate {out_sr} is not one of {list(EXPORT_RATES)}")
    keys, skipped = assign(session, pattern)
    length = int(round(pattern.notes[-1].time * out_sr)) + 1
    stems: dict[str, np.ndarray] = {}
    voices = {}
    with tqdm(total=sum(len(n) for _, n in keys.values()), desc="humanize", unit="hit", disable=not progress,
              leave=False) as bar:
        for key, (cls, notes) in keys.items():
            voice = Voice(session, cls, derive_seed(seed, "humanize", key))
            voices[key] = {"class": cls, "center_seed": voice.seed, "hits": len(notes)}
            seeds = [derive_seed(seed, "humanize", key, k) for k in range(len(notes))]
            stem = stems.get(cls, np.zeros(length, dtype=np.float32))
            for render in voice.render(seeds, [velocity_amount(n.velocity, amount) for n in notes]):
                for j in range(len(render.waves)):
                    note = notes[render.first + j]
                    wave = render.finished(j, out_sr) * np.float32(velocity_gain(note.velocity))
                    stem = _add(stem, int(round(note.time * out_sr)), wave)
                    bar.update(1)
            stems[cls] = stem
    total = max(len(s) for s in stems.values())
    stems = {cls: np.pad(s, (0, total - len(s))) for cls, s in stems.items()}
    peak = float(np.max(np.abs(np.sum(list(stems.values()), axis=0))))
    # float32 rounding leaves a lone full-velocity hit a hair above PEAK: that is not clipping
    scale = PEAK / peak if peak > PEAK * (1 + 1e-6) else 1.0
    if scale != 1.0:
        stems = {cls: (s * np.float32(scale)).astype(np.float32) for cls, s in stems.items()}
    played = Counter()
    for cls, notes in keys.values():
        played[cls] += len(notes)
    return Performance(stems=stems, sr=out_sr, scale=scale, played=dict(played), skipped=skipped,
                       seconds=time.perf_counter() - start_time, voices=voices)


def output_paths(out: str | Path, classes: list[str], stems: bool) -> dict[str, Path]:
    """``{"mix": FILE.wav, "sidecar": FILE.json, <class>: FILE_<class>.wav ...}`` for ``--out FILE.wav``."""
    if not isinstance(out, str | Path) or not str(out).strip():
        raise DrumsynthError(f"output file must be a path, got {out!r}")
    out = Path(out)
    if out.suffix.lower() != ".wav":
        raise DrumsynthError(f"output file {out} must end in .wav")
    paths = {"mix": out, "sidecar": out.with_suffix(".json")}
    if stems:
        paths |= {cls: out.with_name(f"{out.stem}_{cls}{out.suffix}") for cls in classes}
    return paths


def check_free(paths: dict[str, Path], overwrite: bool) -> None:
    """Refuse (before any render) outputs that exist, unless ``overwrite``; and any that is a folder."""
    for path in paths.values():
        if path.is_dir():
            raise DrumsynthError(f"output {path} is an existing folder")
    taken = [str(p) for p in paths.values() if p.exists() or p.is_symlink()]
    if taken and not overwrite:
        raise DrumsynthError(f"output file(s) exist: {', '.join(taken[:4])}; pass --overwrite to replace them")


def write_performance(perf: Performance, paths: dict[str, Path], sidecar: dict[str, Any], *,
                      bit_depth: str = "24", overwrite: bool = False) -> list[Path]:
    """Write the mix (and stems, when ``paths`` names them) with INFO tags, and the JSON sidecar."""
    software = f"drumsynth {drumsynth.__version__}"
    comment = f"{sidecar.get('family', '')} humanize seed {sidecar.get('seed', '')}"
    waves = {"mix": perf.mix} | {cls: perf.stems[cls] for cls in paths if cls in perf.stems}
    payloads = {name: encode_wav(wave, perf.sr, bit_depth=bit_depth,
                                 tags={"software": software, "comment": comment, "title": paths[name].stem})
                for name, wave in waves.items()}
    payloads["sidecar"] = (json.dumps(sidecar, indent=2, sort_keys=True) + "\n").encode()
    written = []
    for name, payload in payloads.items():
        path = paths[name]
        if overwrite:
            replace_file(path, payload)
        elif not write_new(path, payload):
            raise DrumsynthError(f"{path} appeared while the pattern was rendered; not replaced")
        written.append(path)
    return written
