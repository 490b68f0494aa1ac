"""``drumsynth prepare``: turn a producer's own folders of one-shots into a decoded cache.

Nothing in the given folders is ever modified, and the cache never replaces anything drumsynth did not
write (see :func:`drumsynth.data.cache.check_out`).

**Labels** come from names, through the corpus labeller (:func:`drumsynth.data.labelling.match_name`,
with ``taxonomy.ALIASES`` as fallback for exact abbreviations such as "OH" or "Percs"):

1. a file below a folder whose name says loop, roll or fill (``Loops/``) is skipped: not a one-shot;
2. a file name that names a class wins (``808s/808 Kick.wav`` is a kick, ``HiHats/Open Hat 3.flac`` an
   open hat);
3. else the nearest folder that names a class (the given folder itself included); a hat folder's file
   whose name says "open" (or "closed") is an open (closed) hat; a nearer folder that names something
   other than a drum (``FX/``) skips the file;
4. else the file is unlabelled: listed and skipped, or labelled by the shipped classifier with
   ``classify=True`` (``label_source: "inferred"`` and ``label_confidence`` in the manifest; name-labelled
   records carry ``label_source: "name"``).

**Files**: symbolic links to folders are followed (each real folder read once, so link loops end);
only regular files with an audio suffix are read (a FIFO named ``x.wav`` is listed and skipped);
hidden files (macOS ``._`` forks) are skipped; names that are not valid UTF-8 are read from their bytes.

**Splits** are deterministic: a file's split comes from a hash of its path relative to its folder, so
adding a file moves no other, with one exception: in a class with at least 3 files of which none falls
into valid by hash, the train file with the lowest hash goes to valid (and may go back to train when a
later file falls into valid by hash). Small kits (under ``SMALL_KIT`` files) get no test split and a
larger valid share by default.

Every given folder is one "kit". Sounds keep at most their class's cap after their onset, as in the corpus
(``corpus.CLASS_MAX_SECONDS``: cymbals 6 s, closed hats 1.5 s, ...; unlabelled files the longest cap until the
classifier labels them), cut with the corpus's short fade; every model's dataset crops to what it needs. The
report says how many were cut.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import stat
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from drumsynth.audio.io import AUDIO_SUFFIXES, load_audio, load_audio_bytes
from drumsynth.data.cache import CACHE_SR, SPLITS, check_out, write_cache
from drumsynth.data.corpus import CAP_FADE_SECONDS, CLASS_MAX_SECONDS, prepare_wave
from drumsynth.data.labelling import is_excluded_name, label_from_name, match_name, normalise_name
from drumsynth.data.taxonomy import CLASSES, normalise_label
from drumsynth.errors import DrumsynthError

MIN_FILES = 20
SMALL_KIT = 60                 # fewer usable files than this: no test split by default
SMALL_VALID_SHARE = 0.15       # default valid share of a small kit (plus one valid file per class, see above)
VALID_SHARE, TEST_SHARE = 0.1, 0.1
MIN_VALID_PER_CLASS = 3        # classes with at least this many files keep at least one valid file
MIN_CONFIDENCE = 0.5           # --classify: below this top probability a file is skipped, not guessed
MAX_BYTES = 512 * 2 ** 20      # a file read from its bytes (non-UTF-8 name) may be at most this large

LOOP, NOT_DRUM = "loop", "not a drum"
_OPEN = re.compile(r"\b(open|op|semi|half|swish)\b")
_CLOSED = re.compile(r"\b(closed?|cl|pedal|ped|chh|tight|choked?)\b")
_HATS = ("hihat_closed", "hihat_open")


def shown(text: object) -> str:
    """A path (or a message naming one) as printable text: bytes of a non-UTF-8 name appear as ``\\xe9``."""
    try:
        return os.fsencode(str(text)).decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a lone surrogate that no file-system name produced
        return str(text).encode("utf-8", "backslashreplace").decode("ascii")


# ----------------------------------------------------------------------------- labels
def name_class(text: str) -> tuple[str | None, str]:
    """What one folder or file name says: ``(class, "")``, ``(None, "loop")``, ``(None, "not a drum")``
    or ``(None, "")`` (nothing).

    A name with a non-drum word is judged by its other words ("Noise Snares" is snare, "FX" not a drum).
    """
    label, reason = match_name(text)
    if label is not None:
        return label, ""
    if reason == "not a one-shot":
        return None, LOOP
    if reason != "unlabelled":
        kept = " ".join(w for w in normalise_name(text).split() if not is_excluded_name(w))
        label = (label_from_name(kept) or _alias(kept)) if kept else None
        return (label, "") if label else (None, NOT_DRUM)
    label = _alias(text)
    return (label, "") if label else (None, "")


def _alias(text: str) -> str | None:
    try:
        return normalise_label(text)
    except DrumsynthError:
        return None


def _refine_hat(label: str, stem: str) -> str:
    """A hat folder's label, corrected by a file name that says open or closed."""
    if label not in _HATS:
        return label
    words = normalise_name(stem)
    if _OPEN.search(words) and not _CLOSED.search(words):
        return "hihat_open"
    if _CLOSED.search(words) and not _OPEN.search(words):
        return "hihat_closed"
    return label


@dataclass(frozen=True)
class Label:
    """The outcome of labelling one file: a class with the name that gave it, or why there is none."""

    label: str | None
    origin: str = ""   # "file name" or "folder 'Kicks'"
    skip: str = ""     # reason to skip ("loop ..."); empty with label None: unlabelled


def label_file(rel: Path, root_name: str) -> Label:
    """Label of the file ``rel`` (relative to a given folder named ``root_name``), see the module docstring."""
    folders = list(reversed(rel.parent.parts))  # nearest first, without the given folder
    for name in folders:
        if name_class(name)[1] == LOOP:
            return Label(None, skip=f"loop: not a one-shot (folder '{shown(name)}')")
    file_label, file_says = name_class(rel.stem)
    if file_says == LOOP:
        return Label(None, skip="loop: not a one-shot (file name)")
    if file_label is not None:
        return Label(file_label, "file name")
    for name in [*folders, None]:
        label, says = name_class(root_name if name is None else name)
        if label is not None:
            return Label(_refine_hat(label, rel.stem), f"folder '{shown(root_name if name is None else name)}'")
        if says == NOT_DRUM and name is not None:  # the given folder's own name is the user's choice
            return Label(None, skip=f"not a drum (folder '{shown(name)}')")
    if file_says == NOT_DRUM:
        return Label(None, skip="not a drum (file name)")
    return Label(None)


def label_from_path(path: Path, root: Path) -> str:
    """The class of ``path`` below ``root`` by its names; ``DrumsynthError`` when there is none."""
    found = label_file(path.relative_to(root), root.name)
    if found.label is None:
        raise DrumsynthError(f"no drum label for {shown(path)}: {found.skip or 'no class in its names'}")
    return found.label


# ----------------------------------------------------------------------------- finding files
@dataclass
class Walk:
    """What :func:`find_files` saw below one folder."""

    files: list[Path] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    links_followed: int = 0


def find_files(root: Path) -> Walk:
    """Audio files below ``root`` in sorted order, following symbolic links to folders once each.

    Every real folder is read at most once (a link back to an ancestor ends there), and a file reached
    twice through links is read once. Entries with an audio suffix that cannot be used (not a regular
    file, broken link, hidden) are listed in ``skipped``; other files are ignored.
    """
    walk = Walk()
    seen_dirs: set[tuple[int, int]] = set()
    seen_files: dict[tuple[int, int], Path] = {}
    stack = [(root, False)]
    while stack:
        folder, via_link = stack.pop()
        try:
            st = os.stat(folder)
            if (st.st_dev, st.st_ino) in seen_dirs:
                walk.skipped.append((shown(folder), "folder already read (a symbolic link loop or a second link)"))
                continue
            seen_dirs.add((st.st_dev, st.st_ino))
            walk.links_followed += via_link
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as err:
            walk.skipped.append((shown(folder), f"cannot read folder: {err.strerror or err}"))
            continue
        subfolders = []
        for entry in entries:
            path = folder / entry.name
            try:
                is_dir = entry.is_dir()  # follows links
            except OSError:
                is_dir = False
            if is_dir:
                if not entry.name.startswith("."):
                    subfolders.append((path, entry.is_symlink()))
                continue
            if Path(entry.name).suffix.lower() not in AUDIO_SUFFIXES:
                continue
            reason = _unusable(entry)
            if reason is None:
                st = os.stat(path)
                first = seen_files.setdefault((st.st_dev, st.st_ino), path)
                reason = None if first == path else f"same file as {shown(first)}"
            if reason:
                walk.skipped.append((shown(path), reason))
            else:
                walk.files.append(path)
        stack.extend(reversed(subfolders))  # depth first, in name order
    walk.files.sort(key=lambda p: os.fsencode(str(p.relative_to(root))))
    return walk


def _unusable(entry: os.DirEntry) -> str | None:
    """Why a directory entry with an audio suffix cannot be read, or ``None``."""
    if entry.name.startswith("."):
        return "hidden file"
    try:
        mode = os.stat(entry.path).st_mode
    except OSError as err:
        return "broken symbolic link" if entry.is_symlink() else f"cannot stat: {err.strerror or err}"
    if not stat.S_ISREG(mode):
        return "not a regular file (a FIFO, device or socket is never read)"
    return None


def decode(path: Path) -> tuple[np.ndarray, int]:
    """``load_audio`` for any file name, including names that are not valid UTF-8 (Latin-1 bytes in an
    old sample pack): should the loader hand soundfile the name as text, the file is read from its bytes."""
    try:
        return load_audio(path)
    except UnicodeEncodeError:
        size = os.stat(path).st_size
        if size > MAX_BYTES:
            raise DrumsynthError(f"audio file {shown(path)} is {size / 2 ** 20:.0f} MiB, more than "
                                 f"{MAX_BYTES // 2 ** 20} MiB") from None
        with open(path, "rb") as fh:  # surrogate-escaped names open fine through os.fsencode
            return load_audio_bytes(fh.read(), name=shown(path))


# ----------------------------------------------------------------------------- splits
def split_hash(rel: Path) -> float:
    """A file's place in [0, 1): a hash of its path relative to its folder (stable across runs)."""
    return int(hashlib.sha1(os.fsencode(rel.as_posix())).hexdigest()[:8], 16) / 2 ** 32


def default_shares(n_files: int) -> tuple[float, float]:
    """(valid share, test share) for a kit of ``n_files``: small kits keep every file for train and valid."""
    return (SMALL_VALID_SHARE, 0.0) if n_files < SMALL_KIT else (VALID_SHARE, TEST_SHARE)


def assign_splits(labels: list[str], hashes: list[float], valid_share: float, test_share: float) -> list[str]:
    """Split of each file: valid below ``valid_share``, test up to ``valid_share + test_share``, else train;
    then each class with >= ``MIN_VALID_PER_CLASS`` files and no valid file sends its lowest-hash train file
    to valid (when ``valid_share > 0``)."""
    splits = ["valid" if u < valid_share else "test" if u < valid_share + test_share else "train"
              for u in hashes]
    if valid_share > 0:
        for c in set(labels):
            idx = [i for i, lab in enumerate(labels) if lab == c]
            train = [i for i in idx if splits[i] == "train"]
            if len(idx) >= MIN_VALID_PER_CLASS and train and not any(splits[i] == "valid" for i in idx):
                splits[min(train, key=lambda i: hashes[i])] = "valid"
    return splits


def _check_share(name: str, value: float | None) -> None:
    if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value) and 0 <= value < 1):
        raise DrumsynthError(f"{name} must be a number in [0, 1), got {value!r}")


# ----------------------------------------------------------------------------- the whole run
@dataclass
class PrepareReport:
    """What ``prepare`` did.

    counts : Counter of labels; ``split_counts``: per split, a Counter of labels
    skipped : (path as text, reason) for every file left out, unlabelled ones included
    unlabelled : paths (as text) with no class in their names (skipped unless ``classify``)
    inferred : how many files the classifier labelled
    cut : how many sounds were longer than their class's cap (``CLASS_MAX_SECONDS``) after their onset
        and were cut to it
    """

    out: Path
    counts: Counter
    split_counts: dict[str, Counter] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    unlabelled: list[str] = field(default_factory=list)
    inferred: int = 0
    cut: int = 0
    max_seconds: float = max(CLASS_MAX_SECONDS.values())
    valid_share: float = 0.0
    test_share: float = 0.0
    links_followed: int = 0

    def notes(self) -> list[str]:
        """Human-readable lines on the split, cut and skipped files."""
        n = sum(self.counts.values())
        test = f"test share {self.test_share:.2f}" if self.test_share else "no test split"
        lines = [f"split by path hash: valid share {self.valid_share:.2f}, {test}; classes with >= "
                 f"{MIN_VALID_PER_CLASS} files keep at least 1 valid file" + (
                     f" (kit of {n} files, under {SMALL_KIT}: small-kit default)" if n < SMALL_KIT else "")]
        if self.cut:
            caps = ", ".join(f"{c} {s:g} s" for c, s in CLASS_MAX_SECONDS.items())
            lines.append(f"{self.cut} sound(s) longer than their class's cap after the onset were cut there with a "
                         f"{CAP_FADE_SECONDS * 1000:g} ms fade (caps: {caps})")
        if self.links_followed:
            lines.append(f"followed {self.links_followed} symbolic link(s) to folders")
        if self.inferred:
            lines.append(f"{self.inferred} file(s) labelled by the classifier (label_source 'inferred')")
        if self.unlabelled and not self.inferred:
            lines.append(f"{len(self.unlabelled)} file(s) had no class in their names and were skipped "
                         "(sort them into class folders, or pass --classify)")
        lines.append(f"{len(self.skipped)} file(s) skipped")
        return lines

    def as_dict(self) -> dict[str, Any]:
        return {"out": str(self.out), "counts": dict(self.counts),
                "splits": {s: dict(self.split_counts.get(s, {})) for s in SPLITS},
                "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
                "unlabelled": list(self.unlabelled), "inferred": self.inferred,
                "cut": self.cut, "max_seconds": self.max_seconds, "valid_share": self.valid_share,
                "test_share": self.test_share, "links_followed": self.links_followed}


def clip_wave(wave: np.ndarray, sr: int, label: str | None) -> tuple[np.ndarray, float, bool]:
    """``corpus.prepare_wave`` at the class's cap (the longest cap for ``label`` None) that also says
    whether the sound was cut.

    Returns (np.ndarray[T <= cap * CACHE_SR] float32 peak 1, original peak, cut).
    """
    max_seconds = CLASS_MAX_SECONDS.get(label, max(CLASS_MAX_SECONDS.values()))
    clip, peak = prepare_wave(wave, sr, max_seconds=max_seconds, cut_fade=CAP_FADE_SECONDS)
    # As in the corpus: a stored sound as long as its cap was still sounding there.
    return clip, peak, len(clip) >= int(round(max_seconds * CACHE_SR))


def prepare_folders(folders: list[str | Path], out: str | Path, *, min_files: int = MIN_FILES,
                    progress: bool = True, force: bool = False, classify: bool = False,
                    valid_share: float | None = None, test_share: float | None = None,
                    min_confidence: float = MIN_CONFIDENCE, classifier: str | Path | None = None,
                    device: str = "cpu") -> PrepareReport:
    """Decode every audio file below ``folders`` into a cache at ``out``.

    Parameters
    ----------
    force : replace an existing drumsynth cache at ``out`` (anything else there is refused)
    classify : label files without a class in their names with the classifier (``classifier``: its
        checkpoint, default the shipped one); files it is less than ``min_confidence`` sure of are skipped
    valid_share, test_share : split shares in [0, 1); ``None``: :func:`default_shares` of the kit size

    Raises ``DrumsynthError`` when a folder is missing, ``out`` is not safe to write (see
    :func:`drumsynth.data.cache.check_out`) or fewer than ``min_files`` files could be used. Unreadable,
    unlabelled and non-one-shot files are skipped and reported.
    """
    _check_share("valid share", valid_share)
    _check_share("test share", test_share)
    if (valid_share or 0) + (test_share or 0) >= 1:
        raise DrumsynthError(f"valid share {valid_share} + test share {test_share} leave nothing to train on")
    roots = []
    for folder in folders:
        root = Path(folder)
        if not root.is_dir():
            raise DrumsynthError(f"not a folder: {shown(folder)}")
        roots.append(root.resolve())
    check_out(out, force=force, inputs=roots)  # before decoding: refuse in a second, not after minutes

    report = PrepareReport(out=Path(out), counts=Counter())
    items: list[dict[str, Any]] = []   # one per usable file: record fields, wave, hash
    pending: list[dict[str, Any]] = []  # decoded but unlabelled (classify=True)
    for root in roots:
        walk = find_files(root)
        report.skipped += walk.skipped
        report.links_followed += walk.links_followed
        iterator = walk.files
        if progress:
            from tqdm import tqdm
            iterator = tqdm(walk.files, desc=f"prepare {root.name}", unit="file")
        for path in iterator:
            rel = path.relative_to(root)
            found = label_file(rel, root.name)
            if found.skip:
                report.skipped.append((shown(path), found.skip))
                continue
            if found.label is None:
                report.unlabelled.append(shown(path))
                if not classify:
                    report.skipped.append((shown(path), "unlabelled: no class in its folder or file name"))
                    continue
            try:
                wave, sr = decode(path)
                clip, peak, cut = clip_wave(wave, sr, found.label)
            except (DrumsynthError, OSError) as err:
                report.skipped.append((shown(path), shown(err) if isinstance(err, DrumsynthError)
                                       else f"cannot read: {err.strerror or err}"))
                continue
            item = {"record": {
                "id": shown(f"{root.name}/{rel.as_posix()}"), "path": str(path), "source": "user",
                "kit": shown(root.name), "instrument": shown(path.parent.name), "label": found.label, "split": "", "licence": "user",
                "peak": peak, "orig_sr": sr, "group": shown(root.name), "label_source": "name",
                "label_name": found.origin}, "wave": clip, "hash": split_hash(rel), "cut": cut}
            (items if found.label else pending).append(item)
    if pending:
        items += _classify(pending, report, min_confidence=min_confidence, classifier=classifier, device=device)
    if len(items) < min_files:
        raise DrumsynthError(
            f"only {len(items)} usable one-shot(s) found (at least {min_files} are needed to train)"
            + (f"; {len(report.skipped)} file(s) skipped: {_reason_summary(report.skipped)}"
               if report.skipped else ""))

    report.valid_share, report.test_share = default_shares(len(items))
    if valid_share is not None:
        report.valid_share = float(valid_share)
    if test_share is not None:
        report.test_share = float(test_share)
    records = [it["record"] for it in items]
    splits = assign_splits([r["label"] for r in records], [it["hash"] for it in items],
                           report.valid_share, report.test_share)
    for r, split in zip(records, splits):
        r["split"] = split
    report.counts = Counter(r["label"] for r in records)
    report.split_counts = {s: Counter(r["label"] for r in records if r["split"] == s) for s in SPLITS}
    report.cut = sum(it["cut"] for it in items)
    write_cache(out, records, [it["wave"] for it in items], force=force, inputs=roots, extra_info={
        "max_seconds": max(CLASS_MAX_SECONDS.values()),
        "class_max_seconds": dict(CLASS_MAX_SECONDS), "kind": "prepared", "folders": [str(r) for r in roots],
        "valid_share": report.valid_share, "test_share": report.test_share, "cut": report.cut,
        "skipped": len(report.skipped), "inferred": report.inferred})
    return report


def _classify(pending: list[dict[str, Any]], report: PrepareReport, *, min_confidence: float,
              classifier: str | Path | None, device: str) -> list[dict[str, Any]]:
    """Label ``pending`` items with the drum classifier; unsure ones go to ``report.skipped``."""
    from drumsynth.metrics.classifier import load_classifier

    model = load_classifier(classifier, device=device)
    probs = model.predict([it["wave"] for it in pending], CACHE_SR)["probs8"]
    kept = []
    for it, p in zip(pending, probs.tolist()):
        best = int(np.argmax(p))
        label, confidence = CLASSES[best], float(p[best])
        if confidence < min_confidence:
            report.skipped.append((shown(it["record"]["path"]), f"unlabelled, and the classifier is unsure "
                                   f"({label} {confidence:.2f} < {min_confidence:.2f})"))
            continue
        it["record"].update(label=label, label_source="inferred", label_confidence=round(confidence, 4),
                            label_name="classifier")
        kept.append(it)
    report.inferred = len(kept)
    return kept


def _reason_summary(skipped: list[tuple[str, str]]) -> str:
    counts = Counter(reason.split(":")[0].split(" (")[0] for _, reason in skipped)
    return ", ".join(f"{n} {reason}" for reason, n in counts.most_common())


def class_split_table(report: PrepareReport) -> str:
    """Per class x split counts with totals; classes with no file show 0 (the model will not know them)."""
    width = max(len(c) for c in (*CLASSES, "total")) + 2
    lines = ["class".ljust(width) + "".join(s.rjust(7) for s in (*SPLITS, "total"))]
    for c in (*CLASSES, None):
        row = [sum(report.split_counts.get(s, Counter()).values()) if c is None
               else report.split_counts.get(s, Counter())[c] for s in SPLITS]
        lines.append((c or "total").ljust(width) + "".join(f"{n:7d}" for n in (*row, sum(row))))
    return "\n".join(lines)
