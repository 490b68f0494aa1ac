"""The free drum corpus: real, freely licensed drum one-shots from Debian packages (DESIGN.md §3).

``build_corpus(out)`` scans the installed packages (``find_sources``), labels every candidate hit
(``drumsynth.data.labelling``), decodes it once (mono, 44.1 kHz, onset-trimmed, at most its class's cap
``CLASS_MAX_SECONDS``, peak-normalised), removes duplicates (identical audio, and the same hit at another
gain or in another package), ties kits that share recordings or an author into groups, assigns whole
groups to train/valid/test (the hand-picked ``HELD_OUT`` kits, else an optimiser that puts every class in
every split), and writes a ``drumsynth.data.cache`` folder.
See docs/corpus.md for the sources, licences, rules and the split algorithm.
"""

from __future__ import annotations

import hashlib
import re
import struct
import sys
import time
import urllib.parse
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from drumsynth.audio.io import AUDIO_SUFFIXES, load_audio
from drumsynth.audio.resample import resample
from drumsynth.data import labelling
from drumsynth.data.cache import CACHE_SR, SPLITS, Cache, check_out, write_cache
from drumsynth.data.hydrogen import find_kits, read_drumkit
from drumsynth.data.sf2 import SampleHeader, SoundFont, read_sf2
from drumsynth.data.taxonomy import CLASSES, TO_CLASS3
from drumsynth.errors import DrumsynthError

# ----------------------------------------------------------------------------- decoding constants
MAX_SECONDS = 1.0          # prepare_wave's default cap (user folders: drumsynth.data.prepare)
# Longest stored sound per class, in seconds after the onset (the corpus keeps each hit's full length up to
# this; every model's dataset crops to what it needs). Set from the -60 dB ends measured on the Debian
# corpus (docs/corpus.md, "Decoding"): cymbals median 2.9 s (p75 7.4 s), open hats p90 4.0 s, toms p95
# 2.0 s, kicks p95 1.8 s, snares p95 1.2 s, closed hats p90 0.8 s, claps at most 0.5 s. 64 cymbals, 13
# perc, 5 closed hats, 4 open hats and 3 kicks of 1056 sounds are longer than their cap and get a fade.
CLASS_MAX_SECONDS = {"kick": 2.0, "snare": 2.0, "clap": 1.0, "hihat_closed": 1.5, "hihat_open": 4.0,
                     "cymbal": 6.0, "tom": 2.5, "perc": 3.0}
CAP_FADE_SECONDS = 0.05    # raised-cosine fade where a sound still ringing is cut at its cap
MIN_SECONDS = 0.010        # shorter audible content than this is not a usable hit
ONSET_DB = -60.0           # onset/end threshold relative to the clip's own peak
MARGIN_SECONDS = 0.001     # kept before the onset so the attack is not cut
SILENT_PEAK = 10 ** (-80 / 20)  # a clip whose peak is below -80 dBFS is silent
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)  # targets of the optimiser (corpora without the held-out kits below)

# ----------------------------------------------------------------------------- near-duplicate constants
DUP_CORRELATION = 0.99     # peak-normalised waveforms correlating above this are the same hit
RELATED_CORRELATION = 0.98  # above this (different kits): near-copies, kept but their kits are tied
DUP_PREFILTER = 0.80       # attack correlation (11.025 kHz, first 93 ms) that triggers the full check
PREFILTER_RATE, PREFILTER_SAMPLES, PREFILTER_LAG = 11025, 1024, 16
DUP_WINDOW_SECONDS = 0.3   # compared span after the onset
DUP_MAX_LAG_SECONDS = 0.005

# ----------------------------------------------------------------------------- sources
INSTALL_HINT = "install them with scripts/install-corpus (as root)"
PACKAGES = ("hydrogen-drumkits", "hydrogen-data", "avldrums.lv2-soundfont", "fluid-soundfont-gm",
            "sonic-pi-samples", "lmms-common", "freepats", "timgm6mb-soundfont", "csound-soundfont", "stk")

# Licences from each package's /usr/share/doc/<pkg>/copyright (authoritative over drumkit.xml text).
PACKAGE_LICENCES = {
    "hydrogen-drumkits": "GPL-2+",  # refined per kit below
    "hydrogen-data": "GPL-2+",
    "avldrums.lv2-soundfont": "CC-BY-SA-3.0",
    "fluid-soundfont-gm": "MIT",
    "sonic-pi-samples": "CC0-1.0",
    "lmms-common": "GPL-2+",
    "freepats": "GPL-2+ (with composition exception)",
    "timgm6mb-soundfont": "GPL-2",
    "csound-soundfont": "public-domain",
    "stk": "STK (MIT-like)",
}
HYDROGEN_KITS = {  # kit folder -> (package, licence)
    "Audiophob": ("hydrogen-drumkits", "CC0-1.0"),
    "BJA_Pacific": ("hydrogen-drumkits", "CC-BY-SA-3.0-US"),
    "ColomboAcousticDrumkit": ("hydrogen-drumkits", "GPL-2+ (with composition exception)"),
    "ElectricEmpireKit": ("hydrogen-drumkits", "GPL-2+"),
    "ForzeeStereo": ("hydrogen-drumkits", "GPL-2"),
    "Gimme A Hand 1.0": ("hydrogen-drumkits", "GPL-2"),
    "HardElectro1": ("hydrogen-drumkits", "GPL-2+"),
    "Millo-Drums_v.1": ("hydrogen-drumkits", "GPL-2"),
    "Millo_MultiLayered2": ("hydrogen-drumkits", "GPL-2"),
    "Millo_MultiLayered3": ("hydrogen-drumkits", "GPL-2"),
    "The Black Pearl 1.0": ("hydrogen-drumkits", "GPL-2"),
    "VariBreaks": ("hydrogen-drumkits", "GPL-2+"),
    "circAfrique v4": ("hydrogen-drumkits", "CC-BY-SA-3.0"),
    "rumpf_kit_z01_h2": ("hydrogen-drumkits", "CC-BY-3.0"),
    "GMRockKit": ("hydrogen-data", "GPL-2+"),
    "TR808EmulationKit": ("hydrogen-data", "GPL-2+"),
}
# Kits and files whose names do not describe their sounds (flagged by a spectral-centroid check per class).
SKIPPED_KITS = {
    "rumpf_kit_z01_h2": "instrument names are General MIDI slots given to found-object samples "
                        "('beats_*'): its 'cymbal' and 'high tom' sit below 100 Hz",
}
MISLABELLED = {
    "Audiophob/122557__anillogic__trimo-c3.wav": "a pitched synth note (C3) in the cowbell slot",
}
SF2_FILES = {  # file name -> (package, every preset is a drum kit)
    "FluidR3_GM.sf2": ("fluid-soundfont-gm", False),
    "TimGM6mb.sf2": ("timgm6mb-soundfont", False),
    "sf_GMbank.sf2": ("csound-soundfont", False),
    "Black_Pearl_4_LV2.sf2": ("avldrums.lv2-soundfont", True),
    "Red_Zeppelin_4_LV2.sf2": ("avldrums.lv2-soundfont", True),
}
# The held-out kits of the Debian corpus, chosen by hand (docs/corpus.md, "Splits"): a kit pins its whole
# group (kits sharing recordings or an author) to a split. Test: three source groups (a General MIDI
# SoundFont, an acoustic Hydrogen kit, electronic Hydrogen kits), >= 15 sounds of every class (claps >= 5)
# and >= 120 in the 3-class view; valid: two other groups with every class (claps >= 5). When both splits
# have a pinned group, every other group is train; otherwise the optimiser fills the splits around the pins.
HELD_OUT = {
    "FluidR3_GM/128:000 Standard": (
        "test", "the General MIDI SoundFont (17 presets sharing 104 samples), the old test split: kept for "
                "continuity, and the only GM bank with many toms and hand percussion outside train"),
    "hydrogen/BJA_Pacific": (
        "test", "an acoustic kit with 13 closed and 8 open hats and 21 cymbals (the classes the 3-class view "
                "hides); never in train, so it can also serve as an unseen user kit for fine-tuning"),
    "hydrogen/ElectricEmpireKit": (
        "test", "electronic kits (ElectricEmpireKit, HardElectro1, TR808EmulationKit: one author): the "
                "smallest group with 5 claps and 5 open hats, which the test split needs"),
    "hydrogen/Millo-Drums_v.1": (
        "valid", "three acoustic kits by one author (Millo-Drums, Millo_MultiLayered2/3) with 5 claps"),
    "sf_GMbank/128:000 Standard": (
        "valid", "the csound GM bank (and TimGM6mb, its copy): the old valid split's SoundFont"),
}
# Bank-128 presets that are not drum kits: GM2 orchestra kit (timpani on the tom/cymbal keys) and
# sound-effect kits.
NON_KIT_PRESET = re.compile(r"orchestra|sfx|effect", re.IGNORECASE)
MAX_LOOP_FRACTION = 0.5  # a looped SF2 sample whose loop covers more than this is a waveform, not a hit
FADE_SECONDS = 0.005     # fade at the end of looped SF2 samples (their loop would have continued)
STK_RATE = 22050  # STK raw files: headerless big-endian int16 mono at 22050 Hz (STK FileRead docs)


@dataclass(frozen=True)
class Source:
    """One place to scan: ``kind`` is hydrogen | sf2 | sonic-pi | folder | stk | freepats."""

    package: str
    kind: str
    path: Path
    licence: str
    all_presets: bool = False  # sf2 only: every preset is a kit (not only bank 128)


def _system_sources(prefix: Path) -> list[Source]:
    """Every source of the corpus packages that exists below ``prefix``, in a fixed order."""
    share = prefix / "usr" / "share"
    out: list[Source] = []
    for kit in find_kits(share / "hydrogen" / "data" / "drumkits"):
        # Only the kits these packages ship: other packages (hydrogen-drumkits-effects: guitar strums)
        # and users install kits there too, and the corpus must be the same on every machine.
        if kit.name in HYDROGEN_KITS:
            package, licence = HYDROGEN_KITS[kit.name]
            out.append(Source(package, "hydrogen", kit, licence))
    for name, (package, all_presets) in SF2_FILES.items():
        path = share / "sounds" / "sf2" / name
        if path.is_file():
            out.append(Source(package, "sf2", path, PACKAGE_LICENCES[package], all_presets))
    for package, kind, rel in (("sonic-pi-samples", "sonic-pi", "sonic-pi/samples"),
                               ("lmms-common", "folder", "lmms/samples/drums"),
                               ("freepats", "freepats", "midi/freepats/Drum_000"),
                               ("stk", "stk", "stk/rawwaves")):
        if (share / rel).is_dir():
            out.append(Source(package, kind, share / rel, PACKAGE_LICENCES[package]))
    return out


def installed_packages(prefix: str | Path = "/") -> dict[str, bool]:
    """For each corpus package, whether its files are present below ``prefix``."""
    found = {s.package for s in _system_sources(Path(prefix))}
    return {p: p in found for p in PACKAGES}


def find_sources(prefix: str | Path = "/") -> list[Source]:
    """The installed corpus sources; a ``DrumsynthError`` naming scripts/install-corpus when none are."""
    sources = _system_sources(Path(prefix))
    if not sources:
        raise DrumsynthError(
            "none of the free drum corpus packages is installed (" + " ".join(PACKAGES) + "); " + INSTALL_HINT)
    return sources


def source_from_path(path: str | Path) -> list[Source]:
    """Sources for a user-given path: an .sf2 file, a Hydrogen kit (or a folder of kits), a freepats
    drum folder (*.pat), an STK rawwaves folder, Sonic Pi's samples, or any folder of one-shots (one kit
    per folder that holds audio, labels from file names)."""
    path = Path(path)
    if path.is_file() and path.suffix.lower() == ".sf2":
        package, all_presets = SF2_FILES.get(path.name, ("user", False))
        return [Source(package, "sf2", path, PACKAGE_LICENCES.get(package, "unknown"), all_presets)]
    if not path.is_dir():
        raise DrumsynthError(f"corpus root {path} is neither a folder nor an .sf2 file")
    kits = find_kits(path)
    if kits:
        return [Source(HYDROGEN_KITS.get(k.name, ("user", ""))[0], "hydrogen", k,
                       HYDROGEN_KITS.get(k.name, ("", ""))[1]) for k in kits]
    if any(path.glob("*.pat")):
        return [Source("freepats", "freepats", path, PACKAGE_LICENCES["freepats"])]
    if (path / "bassdrum.raw").is_file():
        return [Source("stk", "stk", path, PACKAGE_LICENCES["stk"])]
    if path.parent.name == "sonic-pi":
        return [Source("sonic-pi-samples", "sonic-pi", path, PACKAGE_LICENCES["sonic-pi-samples"])]
    return [Source("user", "folder", path, "unknown")]


def _as_sources(roots: Sequence[str | Path | Source] | None) -> list[Source]:
    if roots is None:
        return find_sources()
    out: list[Source] = []
    for root in roots:
        out.extend([root] if isinstance(root, Source) else source_from_path(root))
    if not out:
        raise DrumsynthError("no corpus sources given")
    return out


# ----------------------------------------------------------------------------- candidates
@dataclass
class Candidate:
    """A labelled hit found by a scanner, not yet decoded.

    ``load()`` returns (wave float32 [T] mono, sample rate). ``kits`` lists every kit that plays this
    audio (SF2 presets share samples); ``kit`` is the first of them.
    """

    source: str
    kits: tuple[str, ...]
    instrument: str
    label: str
    licence: str
    path: str
    load: Callable[[], tuple[np.ndarray, int]]
    authors: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def kit(self) -> str:
        return self.kits[0]


@dataclass(frozen=True)
class Exclusion:
    """A file or zone left out before decoding, and why."""

    source: str
    kit: str
    instrument: str
    path: str
    reason: str


Scan = tuple[list[Candidate], list[Exclusion]]
_AUTHOR_STOP = {"soundcloud", "freesound", "www", "http", "https", "unknown", "undefined", "various", "none"}


def author_keys(text: str) -> tuple[str, ...]:
    """Normalised author identities in a credit line ("Glen MacArthur / Sebastian Moors",
    "emillo <emillo@emillo.net>", "ArtemioLabs [www.artemiolabs.com]") -> ("glenmacarthur", ...)."""
    text = re.sub(r"<[^>]*>|\[[^\]]*\]|\([^)]*\)|https?://\S+", " ", text or "")
    keys = []
    for part in re.split(r"/|&|,|;|\+|\band\b", text):
        key = re.sub(r"\.(com|net|org|de|ar)\b", "", part.strip().lower())
        key = re.sub(r"[^a-z0-9]", "", key)
        if len(key) >= 3 and key not in _AUTHOR_STOP:
            keys.append(key)
    return tuple(dict.fromkeys(keys))


def _freesound_author(filename: str) -> tuple[str, ...]:
    """Freesound downloads are named ``<id>__<user>__<title>``: the user is an author."""
    m = re.match(r"^\d+__(.+?)__", Path(filename).name)
    return author_keys(m.group(1)) if m else ()


def _audio_loader(path: Path) -> Callable[[], tuple[np.ndarray, int]]:
    return lambda: load_audio(path, mono=True)


def _scan_hydrogen(src: Source) -> Scan:
    """One candidate per layer of every labelled instrument of a kit."""
    kit_id = f"hydrogen/{src.path.name}"
    if src.path.name in SKIPPED_KITS:
        return [], [Exclusion(src.package, kit_id, "*", str(src.path), SKIPPED_KITS[src.path.name])]
    kit = read_drumkit(src.path)
    licence = src.licence or kit.license or "unknown"
    authors = set(author_keys(kit.author))
    for ins in kit.instruments:
        for lay in ins.layers:
            authors.update(_freesound_author(lay.filename))
    cands, excl = [], []
    for ins in kit.instruments:
        if not ins.layers:
            continue  # empty instrument slots ("17", "18", ...) are common in Hydrogen kits
        label, reason = labelling.match_name(labelling.strip_words(ins.name, kit.name))
        if label is None and reason == "unlabelled":
            # Instruments named like "redo super opaco" or "tomhi2": try their sample file names.
            stems = " ".join(Path(lay.filename).stem for lay in ins.layers)
            label, reason = labelling.match_name(labelling.strip_words(stems, kit.name))
        for i, lay in enumerate(ins.layers):
            bad = MISLABELLED.get(f"{src.path.name}/{lay.filename}")
            if label is None or bad:
                excl.append(Exclusion(src.package, kit_id, ins.name, str(lay.path), bad or reason))
                continue
            cands.append(Candidate(
                source=src.package, kits=(kit_id,), instrument=ins.name, label=label, licence=licence,
                path=str(lay.path), load=_audio_loader(lay.path), authors=tuple(sorted(authors)),
                extra={"layer": i, "velocity": [lay.vel_min, lay.vel_max]}))
    return cands, excl


def _sf2_zone_label(names: str, keys: range) -> tuple[str | None, str]:
    """Label of an SF2 zone: the name rules on its sample names, else the General MIDI key class.

    Zones whose keys map to different classes (a layer spread over a whole kit) or to no drum class
    (metronome, whistles, ...) are left out; so are names matching an exclusion rule.
    """
    key_classes = {labelling.gm_key_class(k) for k in keys}
    if None in key_classes:
        return None, "not a drum key"
    if len(key_classes) > 1:
        return None, "zone spans keys of several classes"
    label, reason = labelling.match_name(names)
    if label is None and reason != "unlabelled":
        return None, reason
    return label or key_classes.pop(), "ok"


def _sf2_presets(sf: SoundFont, src: Source) -> tuple[list, list[Exclusion]]:
    presets = sf.presets if src.all_presets else sf.percussion_presets()
    kept, excl = [], []
    for p in sorted(presets, key=lambda p: (p.bank, p.program, p.name)):
        kit_id = f"{src.path.stem}/{p.bank:03d}:{p.program:03d} {p.name}"
        if NON_KIT_PRESET.search(p.name):
            excl.append(Exclusion(src.package, kit_id, p.name, str(src.path), "not a drum kit preset"))
        else:
            kept.append((kit_id, p))
    return kept, excl


def _scan_sf2(src: Source) -> Scan:
    """One candidate per distinct sample (stereo pairs mixed to mono) played by a drum-kit preset."""
    sf = read_sf2(src.path)
    presets, excl = _sf2_presets(sf, src)
    authors = author_keys(sf.info.get("IENG", ""))
    # unit (canonical sample, start delta, end delta) -> [(kit, key, label, zone)]
    uses: dict[tuple[int, int, int], list[tuple[str, int, str, Any]]] = defaultdict(list)
    for kit_id, preset in presets:
        by_region: dict[tuple[str, int, int], list] = defaultdict(list)
        for z in preset.zones:
            by_region[(z.instrument, z.key_lo, z.key_hi)].append(z)
        for (_, klo, khi), zones in sorted(by_region.items()):
            names = " | ".join(sorted({sf.samples[z.sample].name for z in zones}))
            label, reason = _sf2_zone_label(names, range(klo, khi + 1))
            for z in zones:
                sh = sf.samples[z.sample]
                why = reason if label is None else "ROM sample" if sh.is_rom else (
                    "looped waveform, not a one-shot" if z.looped and _loop_fraction(sh) > MAX_LOOP_FRACTION
                    else None)
                if why:
                    excl.append(Exclusion(src.package, kit_id, labelling.gm_key_name(klo),
                                          f"{src.path}#{sh.name}", why))
                    continue
                partner = sf.stereo_partner(z.sample)
                canon = z.sample if partner is None else min(z.sample, partner)
                unit = (canon, z.start - sh.start, z.end - sh.end)
                uses[unit].append((kit_id, klo, label, z))
    names = Counter(sf.samples[u[0]].name for u in uses)
    cands = [_sf2_candidate(sf, src, unit, uses[unit], authors, unique_name=names[sf.samples[unit[0]].name] == 1)
             for unit in sorted(uses)]
    return cands, _dedupe_exclusions(excl)


def _sf2_candidate(sf: SoundFont, src: Source, unit: tuple[int, int, int], uses: list, authors: tuple[str, ...],
                   unique_name: bool) -> Candidate:
    """The candidate for one sample unit: majority label over its uses (ties: first in CLASSES)."""
    votes = Counter(label for _, _, label, _ in uses)
    label = min(votes, key=lambda c: (-votes[c], CLASSES.index(c)))
    kit_id, key, _, zone = min((u for u in uses if u[2] == label), key=lambda u: (u[0], u[1]))
    kits = tuple(sorted({u[0] for u in uses}, key=lambda k: (k != kit_id, k)))
    name = sf.samples[unit[0]].name
    suffix = "" if unique_name and unit[1:] == (0, 0) else f"@{unit[0]}:{unit[1]}:{unit[2]}"
    looped = any(u[3].looped for u in uses)

    def load() -> tuple[np.ndarray, int]:
        wave, sr = sf.read_zone_mono(zone)
        # A looped sample ends wherever its loop did: fade it out instead of ending on a click.
        return (_fade_out(wave, sr) if looped else wave), sr

    return Candidate(
        source=src.package, kits=kits, instrument=labelling.gm_key_name(key), label=label, licence=src.licence,
        path=f"{src.path}#{name}{suffix}", load=load, authors=authors,
        extra={"sample_name": name, "key": int(key), "velocity": [zone.vel_lo, zone.vel_hi],
               "sf2_instrument": zone.instrument, "looped": looped})


def _loop_fraction(sh: SampleHeader) -> float:
    """Share of a sample's frames inside its loop (a single-cycle waveform is close to 1)."""
    return (sh.loop_end - sh.loop_start) / max(1, sh.end - sh.start)


def _fade_out(wave: np.ndarray, sr: int, seconds: float = FADE_SECONDS) -> np.ndarray:
    """``wave`` with a raised-cosine fade over its last ``seconds`` (float32 [T])."""
    n = min(len(wave), int(seconds * sr))
    out = np.array(wave, dtype=np.float32)
    if n > 1:
        out[-n:] *= (0.5 + 0.5 * np.cos(np.linspace(0.0, np.pi, n))).astype(np.float32)
    return out


def _dedupe_exclusions(excl: list[Exclusion]) -> list[Exclusion]:
    return sorted(set(excl), key=lambda e: (e.kit, e.path, e.reason))


def _sonic_pi_authors(folder: Path) -> dict[str, tuple[str, ...]]:
    """Sample name -> freesound user, from the README that ships with the samples."""
    readme = folder / "README.md"
    if not readme.is_file():
        return {}
    out = {}
    for name, user in re.findall(r"`:(\w+)`\s*-\s*https?://(?:www\.)?freesound\.org/people/([^/]+)/",
                                 readme.read_text(errors="replace")):
        out[re.sub(r"_(\d)", r"\1", name)] = author_keys(urllib.parse.unquote(user))
    return out


def _scan_sonic_pi(src: Source) -> Scan:
    """Sonic Pi's named samples: drum one-shots by name (``labelling.SONIC_PI_LABELS``); one kit per
    name family (``drum_``, ``elec_``, ``bd_``, ...), authors from the README."""
    authors = _sonic_pi_authors(src.path)
    files = sorted(p for p in src.path.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES)
    cands, excl = [], []
    for path in files:
        stem = path.stem
        kit_id = f"sonic-pi/{stem.split('_')[0]}"
        label = labelling.sonic_pi_label(stem)
        if label is None:
            excl.append(Exclusion(src.package, kit_id, stem, str(path), "not a drum one-shot"))
            continue
        cands.append(Candidate(src.package, (kit_id,), stem, label, src.licence, str(path), _audio_loader(path),
                               authors=authors.get(stem, ())))
    # A family's authors are shared by all its samples (ties the family to other kits of those people).
    by_kit: dict[str, set[str]] = defaultdict(set)
    for c in cands:
        by_kit[c.kit].update(c.authors)
    for c in cands:
        c.authors = tuple(sorted(by_kit[c.kit]))
    return cands, excl


def _scan_folder(src: Source) -> Scan:
    """A folder of one-shots labelled by file name; each folder holding audio is one kit."""
    files = sorted(p for p in src.path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
    pack = src.path.parent.parent.name if src.package == "lmms-common" else src.path.parent.name
    cands, excl = [], []
    for path in files:
        kit_id = f"{pack}/{path.parent.relative_to(src.path.parent)}"
        label, reason = labelling.match_name(path.stem)
        if label is None:
            excl.append(Exclusion(src.package, kit_id, path.stem, str(path), reason))
            continue
        cands.append(Candidate(src.package, (kit_id,), path.stem, label, src.licence, str(path),
                               _audio_loader(path), authors=_freesound_author(path.name)))
    return cands, excl


def read_stk_raw(path: str | Path) -> tuple[np.ndarray, int]:
    """An STK rawwave: headerless big-endian int16 mono at 22050 Hz -> (float32 [T], 22050)."""
    try:
        data = np.fromfile(Path(path), dtype=">i2")
    except OSError as err:
        raise DrumsynthError(f"cannot read {path}: {err}") from err
    if data.size == 0:
        raise DrumsynthError(f"STK raw file {path} is empty")
    return (data.astype(np.float32) / 32768.0), STK_RATE


def _scan_stk(src: Source) -> Scan:
    cands, excl = [], []
    for path in sorted(src.path.glob("*.raw")):
        label = labelling.STK_LABELS.get(path.stem)
        if label is None:
            excl.append(Exclusion(src.package, "stk/rawwaves", path.stem, str(path), "not a drum"))
            continue
        cands.append(Candidate(src.package, ("stk/rawwaves",), path.stem, label, src.licence, str(path),
                               lambda p=path: read_stk_raw(p), authors=("perryrcook", "garypscavone")))
    return cands, excl


# Gravis UltraSound patch (.pat): 129-byte header, 63-byte instrument, 47-byte layer, then per sample a
# 96-byte header followed by its data.
_PAT_SAMPLE = struct.Struct("<7sBIIIHIII")  # name, fractions, length, loop start/end, rate, low/high/root freq


def read_gus_patch(path: str | Path) -> list[tuple[str, np.ndarray, int]]:
    """Every sample of a GUS patch: [(name, float32 [T], sample rate)].

    Sample modes (byte 55 of the sample header): bit 0 = 16-bit, bit 1 = unsigned.
    """
    raw = Path(path).read_bytes()
    if not raw.startswith((b"GF1PATCH110", b"GF1PATCH100")):
        raise DrumsynthError(f"{path} is not a GUS patch (no GF1PATCH header)")
    try:
        n_samples = raw[129 + 63 + 6]
        pos = 129 + 63 + 47
        out = []
        for _ in range(n_samples):
            name, _, length, _, _, rate, *_ = _PAT_SAMPLE.unpack_from(raw, pos)
            modes = raw[pos + 55]
            data = raw[pos + 96:pos + 96 + length]
            if len(data) < length:
                raise DrumsynthError(f"GUS patch {path} is truncated")
            out.append((_cstr(name), _pat_pcm(data, modes), int(rate)))
            pos += 96 + length
    except (struct.error, IndexError) as err:
        raise DrumsynthError(f"GUS patch {path} is malformed: {err}") from err
    return out


def _cstr(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("latin-1").strip()


def _pat_pcm(data: bytes, modes: int) -> np.ndarray:
    """GUS sample bytes -> float32 [T] in [-1, 1]."""
    sixteen, unsigned = bool(modes & 1), bool(modes & 2)
    if sixteen:
        pcm = np.frombuffer(data[: len(data) // 2 * 2], dtype="<u2" if unsigned else "<i2").astype(np.float32)
        return (pcm - 32768.0 if unsigned else pcm) / 32768.0
    pcm = np.frombuffer(data, dtype=np.uint8 if unsigned else np.int8).astype(np.float32)
    return (pcm - 128.0 if unsigned else pcm) / 128.0


def _scan_freepats(src: Source) -> Scan:
    """freepats drum patches: the General MIDI key is the file-name prefix (``035_Kick_1.pat``)."""
    kit_id = f"freepats/{src.path.name}"
    cands, excl = [], []
    for path in sorted(src.path.glob("*.pat")):
        m = re.match(r"^(\d+)_(.*)$", path.stem)
        if not m:
            excl.append(Exclusion(src.package, kit_id, path.stem, str(path), "no key number"))
            continue
        key, name = int(m.group(1)), m.group(2)
        label, reason = _sf2_zone_label(name, range(key, key + 1))
        if label is None:
            excl.append(Exclusion(src.package, kit_id, name, str(path), reason))
            continue
        try:
            n = len(read_gus_patch(path))
        except DrumsynthError as err:
            excl.append(Exclusion(src.package, kit_id, name, str(path), f"unreadable: {err}"))
            continue
        for i in range(n):
            suffix = f"#{i}" if n > 1 else ""
            cands.append(Candidate(src.package, (kit_id,), name.replace("_", " "), label, src.licence,
                                   f"{path}{suffix}", lambda p=path, i=i: read_gus_patch(p)[i][1:],
                                   extra={"key": key}))
    return cands, excl


SCANNERS: dict[str, Callable[[Source], Scan]] = {
    "hydrogen": _scan_hydrogen, "sf2": _scan_sf2, "sonic-pi": _scan_sonic_pi, "folder": _scan_folder,
    "stk": _scan_stk, "freepats": _scan_freepats,
}


def scan_sources(sources: Iterable[Source]) -> tuple[list[Candidate], list[Exclusion], list[dict]]:
    """Run every scanner: (candidates, exclusions, failures); an unreadable source is a failure."""
    cands, excl, failures = [], [], []
    for src in sources:
        try:
            c, e = SCANNERS[src.kind](src)
        except DrumsynthError as err:
            failures.append({"path": str(src.path), "source": src.package, "error": str(err)})
            continue
        cands.extend(c)
        excl.extend(e)
    return cands, excl, failures


# ----------------------------------------------------------------------------- decoding
def prepare_wave(wave: np.ndarray, sr: int, *, target_sr: int = CACHE_SR,
                 max_seconds: float = MAX_SECONDS, cut_fade: float = 0.0) -> tuple[np.ndarray, float]:
    """Decoded mono audio -> (stored sound float32 [T] at ``target_sr``, original peak).

    Steps: resample; onset = first sample above -60 dB of the clip's peak, minus 1 ms; end = last
    sample above that threshold; keep at most ``max_seconds`` from the onset (a sound cut there gets a
    raised-cosine fade over its last ``cut_fade`` seconds); peak-normalise to 1.
    Silent (peak < -80 dBFS), non-finite and too short (< 10 ms above threshold) clips are a
    ``DrumsynthError``.
    """
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim != 1 or wave.size == 0:
        raise DrumsynthError("empty audio")
    if not np.all(np.isfinite(wave)):
        raise DrumsynthError("audio contains NaN or infinite samples")
    wave = resample(wave, int(sr), target_sr)
    peak = float(np.max(np.abs(wave))) if wave.size else 0.0
    if peak < SILENT_PEAK:
        raise DrumsynthError(f"silent (peak {20 * np.log10(max(peak, 1e-12)):.0f} dBFS)")
    above = np.flatnonzero(np.abs(wave) >= peak * 10 ** (ONSET_DB / 20))
    onset, end = int(above[0]), int(above[-1]) + 1
    if (end - onset) < MIN_SECONDS * target_sr:
        raise DrumsynthError(f"too short ({1000 * (end - onset) / target_sr:.1f} ms above {ONSET_DB:.0f} dB)")
    start = max(0, onset - int(round(MARGIN_SECONDS * target_sr)))
    stop = min(end, start + int(round(max_seconds * target_sr)))
    out = wave[start:stop]
    if stop < end and cut_fade > 0:
        out = _fade_out(out, target_sr, cut_fade)
    out = out / np.max(np.abs(out))
    return out.astype(np.float32), peak


def audio_hash(wave: np.ndarray) -> str:
    """Identity of a stored sound: sha1 of its samples quantised to 16 bits (robust to float noise)."""
    q = np.round(np.clip(wave, -1.0, 1.0) * 32767.0).astype("<i2")
    return hashlib.sha1(q.tobytes()).hexdigest()[:16]


@dataclass
class Decoded:
    """A candidate with its stored sound."""

    cand: Candidate
    wave: np.ndarray
    peak: float
    orig_sr: int
    hash: str
    cut: bool = False  # longer than its class's cap (CLASS_MAX_SECONDS): cut there with a fade


def decode_candidates(cands: Sequence[Candidate], *, progress: bool = True) -> tuple[list[Decoded], list[dict]]:
    """Decode and prepare every candidate; failures (unreadable, silent, too short) are listed, not raised."""
    out, failures = [], []
    for c in tqdm(cands, desc="decoding", unit="hit", file=sys.stderr, disable=not progress):
        try:
            wave, sr = c.load()
            prepared, peak = prepare_wave(wave, sr, max_seconds=CLASS_MAX_SECONDS[c.label],
                                          cut_fade=CAP_FADE_SECONDS)
        except DrumsynthError as err:
            failures.append({"path": c.path, "source": c.source, "kit": c.kit, "error": str(err)})
            continue
        except (OSError, ValueError) as err:  # corrupt data slipping past a reader's own checks
            failures.append({"path": c.path, "source": c.source, "kit": c.kit,
                             "error": f"{type(err).__name__}: {err}"})
            continue
        cut = len(prepared) >= round(CLASS_MAX_SECONDS[c.label] * CACHE_SR)
        out.append(Decoded(c, prepared, peak, int(sr), audio_hash(prepared), cut))
    return out, failures


# ----------------------------------------------------------------------------- duplicates
class UnionFind:
    """Disjoint sets over hashable items; ``find`` returns the smallest member as representative."""

    def __init__(self) -> None:
        self.parent: dict[Any, Any] = {}

    def find(self, x: Any) -> Any:
        self.parent.setdefault(x, x)
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: Any, b: Any) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            lo, hi = (ra, rb) if ra <= rb else (rb, ra)
            self.parent[hi] = lo

    def groups(self) -> dict[Any, list[Any]]:
        out: dict[Any, list[Any]] = defaultdict(list)
        for x in sorted(self.parent):
            out[self.find(x)].append(x)
        return dict(out)


def _onset_matrix(items: Sequence[Decoded], offset: int = 0) -> np.ndarray:
    """The first ``PREFILTER_SAMPLES`` after the onset of every sound at ``PREFILTER_RATE`` (starting
    ``offset`` samples of 44.1 kHz later), unit-norm, zero-padded by ``PREFILTER_LAG`` on both sides
    -> float32 [N, PREFILTER_SAMPLES + 2 PREFILTER_LAG]."""
    n, pad = PREFILTER_SAMPLES, PREFILTER_LAG
    out = np.zeros((len(items), n + 2 * pad), dtype=np.float32)
    span = int(np.ceil(n * CACHE_SR / PREFILTER_RATE)) + 64
    for i, d in enumerate(items):
        w = resample(d.wave[offset:offset + span], CACHE_SR, PREFILTER_RATE)[:n]
        out[i, pad:pad + len(w)] = w / (np.linalg.norm(w) + 1e-12)
    return out


def candidate_pairs(items: Sequence[Decoded], threshold: float = DUP_PREFILTER) -> list[tuple[int, int]]:
    """Pairs (i < j) whose attacks correlate above ``threshold`` at 11.025 kHz over lags of +-1.5 ms.

    A cheap screen (one matrix product per lag) before :func:`waveform_similarity` on the survivors.
    Lags step by half a sample (the second matrix starts 2 samples of 44.1 kHz later): a copy that is
    half a sample out of step would otherwise lose its upper octave to phase error.
    """
    n, pad = PREFILTER_SAMPLES, PREFILTER_LAG
    core = _onset_matrix(items)[:, pad:pad + n]
    best = np.full((len(items), len(items)), -1.0, dtype=np.float32)
    for offset in (0, CACHE_SR // PREFILTER_RATE // 2):
        x = _onset_matrix(items, offset)
        for lag in range(-pad, pad + 1):
            np.maximum(best, core @ x[:, pad + lag:pad + lag + n].T, out=best)
    best = np.maximum(best, best.T)
    rows, cols = np.nonzero(np.triu(best, k=1) > threshold)
    return list(zip(rows.tolist(), cols.tolist(), strict=True))


def waveform_similarity(a: np.ndarray, b: np.ndarray, sr_a: int, sr_b: int) -> float:
    """Max normalised cross-correlation of two stored sounds over lags of +-5 ms.

    Compared over their common first ``DUP_WINDOW_SECONDS``, low-passed at half the lower original
    Nyquist frequency: the top octave of a resampled copy is where resampling filters (and aliasing)
    differ, so a 22.05 kHz copy of a 44.1 kHz sample is compared below 5.5 kHz. Lags keep the 44.1 kHz
    grid (a coarser grid would misalign the upper band by a fraction of a sample).
    """
    cutoff = min(int(sr_a), int(sr_b), CACHE_SR) / 4
    n = min(len(a), len(b), int(DUP_WINDOW_SECONDS * CACHE_SR))
    size = 1 << int(np.ceil(np.log2(2 * n)))
    keep = np.fft.rfftfreq(size, 1.0 / CACHE_SR) <= cutoff
    fa, fb = np.fft.rfft(a[:n], size) * keep, np.fft.rfft(b[:n], size) * keep
    xc = np.fft.irfft(fa * np.conj(fb), size)
    lag = int(DUP_MAX_LAG_SECONDS * CACHE_SR)
    window = np.concatenate([xc[: lag + 1], xc[-lag:]])
    norm_a = np.linalg.norm(np.fft.irfft(fa, size))
    norm_b = np.linalg.norm(np.fft.irfft(fb, size))
    return float(np.max(window) / (norm_a * norm_b + 1e-12))


def _keep_order(d: Decoded) -> tuple:
    """Which member of a duplicate cluster to keep: highest original rate, then loudest, then by path."""
    return (-d.orig_sr, -d.peak, d.cand.source, d.cand.path)


def find_duplicates(items: Sequence[Decoded], *, threshold: float = DUP_CORRELATION,
                    related: float = RELATED_CORRELATION) -> tuple[UnionFind, list[tuple[int, int]]]:
    """Cluster identical (same hash) and near-identical sounds: the same hit at another gain, rate or
    trim (:func:`waveform_similarity` above ``threshold`` for a pair passing :func:`candidate_pairs`).

    Also returns the pairs (indices into ``items``) from different kits whose similarity is above
    ``related`` but not ``threshold``: near-copies kept as two sounds whose kits must share a split.
    """
    uf = UnionFind()
    near_pairs: list[tuple[int, int]] = []
    by_hash: dict[str, int] = {}
    for i, d in enumerate(items):
        uf.find(i)
        if d.hash in by_hash:
            uf.union(by_hash[d.hash], i)
        else:
            by_hash[d.hash] = i
    reps = sorted(by_hash.values())
    if len(reps) < 2:
        return uf, near_pairs
    for r, c in candidate_pairs([items[i] for i in reps]):
        a, b = items[reps[r]], items[reps[c]]
        if uf.find(reps[r]) == uf.find(reps[c]):
            continue
        sim = waveform_similarity(a.wave, b.wave, a.orig_sr, b.orig_sr)
        if sim > threshold:
            uf.union(reps[r], reps[c])
        elif sim > related and a.cand.kit != b.cand.kit:
            near_pairs.append((reps[r], reps[c]))
    return uf, near_pairs


# ----------------------------------------------------------------------------- splits
def _split_cost(assign: np.ndarray, counts: np.ndarray, fractions: np.ndarray) -> float:
    """Cost of an assignment (lower is better).

    assign : int [G] split index per group; counts : int [G, C] sounds per group and class.
    Terms: squared deviation of split sizes from their fractions (relative to N), the same per class
    (relative to the class size, averaged over classes), and 1 per (split, class) cell left empty
    while the class exists in at least as many groups as there are splits.
    """
    per = np.zeros((len(fractions), counts.shape[1]))
    np.add.at(per, assign, counts)
    total = counts.sum()
    sizes = per.sum(axis=1)
    size_term = float(np.sum(((sizes - fractions * total) / total) ** 2))
    class_n = counts.sum(axis=0)
    feasible = (counts > 0).sum(axis=0) >= len(fractions)
    rel = (per - fractions[:, None] * class_n[None, :]) / np.maximum(class_n, 1)[None, :]
    class_term = float(np.mean(rel ** 2))
    missing = int(np.sum((per == 0) & feasible[None, :]))
    return missing + size_term + 0.5 * class_term


def _local_search(assign: np.ndarray, counts: np.ndarray, fractions: np.ndarray,
                  movable: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Best-improvement moves (one group to another split) and swaps (two groups) until none helps.

    movable : indices of the groups that may change split (default: all).
    """
    best = _split_cost(assign, counts, fractions)
    n_splits = len(fractions)
    groups = list(range(len(assign)) if movable is None else np.asarray(movable).tolist())
    while True:
        found, found_cost = None, best - 1e-12
        for g in groups:
            for s in range(n_splits):
                if s == assign[g]:
                    continue
                trial = assign.copy()
                trial[g] = s
                cost = _split_cost(trial, counts, fractions)
                if cost < found_cost:
                    found, found_cost = trial, cost
        for i, g in enumerate(groups):
            for h in groups[i + 1:]:
                if assign[g] == assign[h]:
                    continue
                trial = assign.copy()
                trial[g], trial[h] = assign[h], assign[g]
                cost = _split_cost(trial, counts, fractions)
                if cost < found_cost:
                    found, found_cost = trial, cost
        if found is None:
            return assign, best
        assign, best = found, found_cost


def assign_splits(group_counts: dict[str, dict[str, int]], *, fractions: Sequence[float] = SPLIT_FRACTIONS,
                  restarts: int = 12, seed: int = 0, pinned: dict[str, str] | None = None) -> dict[str, str]:
    """Assign whole groups to ``SPLITS`` (deterministic).

    group_counts : group id -> {class: number of sounds}.
    pinned : group id -> split, for groups whose split is fixed (``HELD_OUT``). When valid and test both
        have a pinned group, every other group is train. Otherwise the free groups are optimised
        around the pinned ones: groups are sorted by id; each restart r shuffles the free ones with
        ``numpy.random.default_rng(seed + r)``, gives each to the split furthest below its target
        share, then runs :func:`_local_search` (which moves only free groups); the lowest-cost result
        wins (earliest restart on ties). The cost puts "every class in every split" first, then split
        sizes, then class balance.
    """
    pinned = dict(pinned or {})
    bad = {g: s for g, s in pinned.items() if s not in SPLITS or g not in group_counts}
    if bad:
        raise DrumsynthError(f"pinned groups must be known groups mapped to one of {list(SPLITS)}, got {bad}")
    ids = sorted(group_counts)
    if not ids:
        return {}
    if {"valid", "test"} <= set(pinned.values()):
        return {g: pinned.get(g, "train") for g in ids}
    counts = np.array([[group_counts[g].get(c, 0) for c in CLASSES] for g in ids], dtype=np.float64)
    frac = np.asarray(fractions, dtype=np.float64)
    frac = frac / frac.sum()
    sizes = counts.sum(axis=1)
    fixed = np.array([SPLITS.index(pinned[g]) if g in pinned else -1 for g in ids])
    free = np.flatnonzero(fixed < 0)
    best_assign, best_cost = None, np.inf
    for r in range(restarts):
        rng = np.random.default_rng(seed + r)
        assign = np.where(fixed >= 0, fixed, 0)
        filled = np.zeros(len(frac))
        np.add.at(filled, assign[fixed >= 0], sizes[fixed >= 0])
        for g in free[rng.permutation(len(free))]:
            s = int(np.argmax(frac * sizes.sum() - filled))
            assign[g] = s
            filled[s] += sizes[g]
        assign, cost = _local_search(assign, counts, frac, movable=free)
        if cost < best_cost - 1e-12:
            best_assign, best_cost = assign, cost
    return {g: SPLITS[int(s)] for g, s in zip(ids, best_assign, strict=True)}


def pinned_groups(group_of: dict[str, str], held_out: dict[str, tuple[str, str]] = HELD_OUT) -> dict[str, str]:
    """Group id -> split for the groups holding a ``held_out`` kit (``group_of``: kit id -> group id).

    Two kits pinning one group to different splits (they turned out to share recordings or an author)
    are a ``DrumsynthError``: the table must then be revised.
    """
    out: dict[str, str] = {}
    for kit in sorted(held_out):
        if kit not in group_of:
            continue
        gid, split = group_of[kit], held_out[kit][0]
        if out.setdefault(gid, split) != split:
            raise DrumsynthError(f"held-out kit {kit!r} pins group {gid!r} to {split!r}, another kit of it "
                                 f"to {out[gid]!r}; revise corpus.HELD_OUT")
    return out


def missing_cells(records: Sequence[dict[str, Any]]) -> list[str]:
    """"split/class" cells with no sound."""
    have = {(r["split"], r["label"]) for r in records}
    return [f"{s}/{c}" for s in SPLITS for c in CLASSES if (s, c) not in have]


# ----------------------------------------------------------------------------- build
def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")


def _record_id(d: Decoded, taken: set[str]) -> str:
    c = d.cand
    tail = c.extra.get("sample_name") or Path(c.path.split("#")[0]).stem
    base = f"{_slug(c.kit)}/{_slug(tail)}"
    rid, n = base, 2
    while rid in taken:
        rid, n = f"{base}~{n}", n + 1
    taken.add(rid)
    return rid


def _kit_groups(kept: Sequence[tuple[Decoded, list[Decoded]]], related: Sequence[tuple[Decoded, Decoded]]
                ) -> UnionFind:
    """Kits tied by shared recordings (a duplicate cluster spans them, one SF2 sample is played by
    several presets, or two kits hold near-copies) or by a shared author."""
    uf = UnionFind()
    for a, b in related:
        uf.union(a.cand.kit, b.cand.kit)
    by_author: dict[str, list[str]] = defaultdict(list)
    for _, members in kept:
        kits = sorted({k for m in members for k in m.cand.kits})
        for k in kits:
            uf.union(kits[0], k)
        for m in members:
            for a in m.cand.authors:
                by_author[a].extend(m.cand.kits)
    for a in sorted(by_author):
        kits = sorted(set(by_author[a]))
        for k in kits:
            uf.union(kits[0], k)
    return uf


def build_records(decoded: Sequence[Decoded]) -> tuple[list[dict[str, Any]], list[np.ndarray], dict[str, Any]]:
    """Deduplicate, group, split: (records, waves, summary) in a deterministic order."""
    order = sorted(range(len(decoded)), key=lambda i: (decoded[i].cand.source, decoded[i].cand.kit,
                                                        decoded[i].cand.path))
    items = [decoded[i] for i in order]
    dup_uf, near_pairs = find_duplicates(items)
    clusters = dup_uf.groups()
    kept = []
    exact = near = conflicts = 0
    for members in clusters.values():
        group = sorted((items[i] for i in members), key=_keep_order)
        rep = group[0]
        exact += sum(1 for m in group[1:] if m.hash == rep.hash)
        near += sum(1 for m in group[1:] if m.hash != rep.hash)
        conflicts += int(len({m.cand.label for m in group}) > 1)
        kept.append((rep, group))
    kept.sort(key=lambda rg: (rg[0].cand.source, rg[0].cand.kit, rg[0].cand.instrument, rg[0].cand.path))
    kit_uf = _kit_groups(kept, [(items[i], items[j]) for i, j in near_pairs])
    group_of = {rep.cand.kit: kit_uf.find(rep.cand.kit) for rep, _ in kept}
    group_counts: dict[str, Counter] = defaultdict(Counter)
    for rep, _ in kept:
        group_counts[group_of[rep.cand.kit]][rep.cand.label] += 1
    kit_group = {k: kit_uf.find(k) for rep, group in kept for m in group for k in m.cand.kits}
    split_of = assign_splits({g: dict(c) for g, c in group_counts.items()}, pinned=pinned_groups(kit_group))
    records, waves, taken = [], [], set()
    for rep, group in kept:
        c = rep.cand
        gid = group_of[c.kit]
        rec = {
            "id": _record_id(rep, taken), "path": c.path, "source": c.source, "kit": c.kit,
            "kits": sorted({k for m in group for k in m.cand.kits}), "instrument": c.instrument,
            "label": c.label, "split": split_of[gid], "licence": c.licence, "peak": round(rep.peak, 6),
            "group": gid, "orig_sr": rep.orig_sr, "hash": rep.hash, "authors": list(c.authors),
            "seconds": round(len(rep.wave) / CACHE_SR, 4), "cut": rep.cut,
            "duplicates": [m.cand.path for m in group[1:]], **c.extra,
        }
        records.append(rec)
        waves.append(rep.wave)
    summary = {"duplicates_exact": exact, "duplicates_near": near, "duplicate_label_conflicts": conflicts,
               "related_pairs": len(near_pairs),
               "groups": {g: split_of[g] for g in sorted(split_of)},
               "held_out": {k: {"split": split, "group": kit_group[k], "reason": why}
                            for k, (split, why) in sorted(HELD_OUT.items()) if k in kit_group}}
    return records, waves, summary


def build_corpus(out: str | Path, *, roots: Sequence[str | Path | Source] | None = None,
                 progress: bool = True, force: bool = False) -> Path:
    """Build the free drum corpus cache at ``out`` and return its path.

    roots : ``None`` scans the installed Debian packages (``find_sources``); otherwise .sf2 files,
        Hydrogen kits, sample folders or ``Source`` objects (see :func:`source_from_path`).
    force : replace an existing drumsynth cache at ``out``; anything else there, and an ``out`` that is,
        holds or lies inside a source, is refused (``cache.check_out``), before any decoding
    """
    t0 = time.monotonic()
    sources = _as_sources(roots)
    inputs = [s.path for s in sources]
    check_out(out, force=force, inputs=inputs)
    cands, excluded, failures = scan_sources(sources)
    if not cands:
        raise DrumsynthError("the corpus sources hold no labelled drum hits")
    decoded, decode_failures = decode_candidates(cands, progress=progress)
    failures += decode_failures
    if not decoded:
        raise DrumsynthError(f"none of the {len(cands)} drum hits could be decoded")
    records, waves, summary = build_records(decoded)
    missing = missing_cells(records)
    if missing:
        print(f"warning: no sound for {', '.join(missing)} (too few kits to fill every split)", file=sys.stderr)
    licences = {}
    for r in records:
        licences.setdefault(r["source"], set()).add(r["licence"])
    info = {
        "name": "drumsynth free drum corpus", "max_seconds": max(CLASS_MAX_SECONDS.values()),
        "class_max_seconds": dict(CLASS_MAX_SECONDS), "onset_db": ONSET_DB,
        "min_seconds": MIN_SECONDS, "split_fractions": list(SPLIT_FRACTIONS),
        "dup_correlation": DUP_CORRELATION,
        "sources": sorted({f"{s.package}: {s.path}" for s in sources}),
        "licences": {k: sorted(v) for k, v in sorted(licences.items())},
        "n_candidates": len(cands), "n_decoded": len(decoded),
        "excluded": dict(sorted(Counter(e.reason for e in excluded).items())),
        "failures": failures, "missing_split_classes": missing, **summary,
        "build_seconds": round(time.monotonic() - t0, 1),
    }
    return write_cache(out, records, waves, sr=CACHE_SR, extra_info=info, force=force, inputs=inputs)


def corpus_stats(cache: Cache) -> str:
    """A per-class x per-split table of sound counts with totals and the 3-class view, then
    kits/groups/sources per split, then the held-out kits of each split (when the build pinned any)."""
    counts = cache.counts()
    width = max(len(c) for c in (*CLASSES, "3-class view")) + 2
    lines = ["class".ljust(width) + "".join(s.rjust(8) for s in (*SPLITS, "total"))]
    for c in CLASSES:
        row = [counts[s][c] for s in SPLITS]
        lines.append(c.ljust(width) + "".join(f"{n:8d}" for n in (*row, sum(row))))
    for name, members in (("total", CLASSES), ("3-class view", [c for c in CLASSES if TO_CLASS3[c]])):
        row = [sum(counts[s][c] for c in members) for s in SPLITS]
        lines.append(name.ljust(width) + "".join(f"{n:8d}" for n in (*row, sum(row))))
    for key in ("kit", "group", "source"):
        per = [len({r[key] for r in cache.records if r["split"] == s}) for s in SPLITS]
        everything = len({r[key] for r in cache.records})
        lines.append(f"{key}s".ljust(width) + "".join(f"{n:8d}" for n in (*per, everything)))
    held = cache.info.get("held_out") or {}
    for split in SPLITS:
        kits = [k for k, v in held.items() if isinstance(v, dict) and v.get("split") == split]
        if kits:
            lines.append(f"held out in {split}: " + "; ".join(kits))
    return "\n".join(lines)
