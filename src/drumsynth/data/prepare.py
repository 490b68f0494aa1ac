"""``drumsynth prepare``: turn a producer's own folders of one-shots into a decoded cache.

Labels come from folder names (``MyKit/Kicks/big.wav`` is a kick: the nearest enclosing folder whose name
is a drum label wins). Files that cannot be read are listed and skipped; nothing is modified in place.
Every top-level folder given is one "kit"; files are split into train/valid/test deterministically by a
hash of their path, so adding a file never moves the others.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from drumsynth.audio.io import find_audio_files, load_audio
from drumsynth.data.cache import write_cache
from drumsynth.data.corpus import MAX_SECONDS, prepare_wave
from drumsynth.data.taxonomy import CLASSES, normalise_label
from drumsynth.errors import DrumsynthError

MIN_FILES = 20


@dataclass
class PrepareReport:
    """What ``prepare`` did: the cache written, how many per class, and every file it skipped and why."""

    out: Path
    counts: Counter
    skipped: list[tuple[str, str]] = field(default_factory=list)


def label_from_path(path: Path, root: Path) -> str:
    """The class named by the nearest folder between ``path`` and ``root`` (``root`` itself included)."""
    parents = list(path.relative_to(root).parents)[:-1]  # nearest first, without "."
    names = [p.name for p in parents] + [root.name]
    for name in names:
        try:
            return normalise_label(name)
        except DrumsynthError:
            continue
    raise DrumsynthError(
        f"no drum label in the folders of {path}: put it under a folder named after its class "
        f"({', '.join(CLASSES)})")


def split_of(path: Path) -> str:
    """Deterministic split from a hash of the path: about 80% train, 10% valid, 10% test."""
    bucket = int(hashlib.sha1(str(path).encode()).hexdigest()[:8], 16) % 10
    return "valid" if bucket == 8 else "test" if bucket == 9 else "train"


def prepare_folders(folders: list[str | Path], out: str | Path, *, min_files: int = MIN_FILES,
                    progress: bool = True) -> PrepareReport:
    """Decode every audio file below ``folders`` into a cache at ``out``.

    Raises ``DrumsynthError`` when a folder is missing, a file has no drum label in its folders, or fewer
    than ``min_files`` files could be used; unreadable files are skipped and reported.
    """
    records, waves, skipped, unlabelled = [], [], [], []
    for folder in folders:
        root = Path(folder).resolve()
        if not root.is_dir():
            raise DrumsynthError(f"not a folder: {folder}")
        files = find_audio_files(root)
        iterator = files
        if progress:
            from tqdm import tqdm
            iterator = tqdm(files, desc=f"prepare {root.name}", unit="file")
        for path in iterator:
            try:
                label = label_from_path(path, root)
            except DrumsynthError:
                unlabelled.append(str(path))
                continue
            try:
                wave, sr = load_audio(path)
                clip, peak = prepare_wave(wave, sr)  # the corpus's own decoding
            except DrumsynthError as err:
                skipped.append((str(path), str(err)))
                continue
            rel = path.relative_to(root)
            records.append({
                "id": f"{root.name}/{rel}", "path": str(path), "source": "user", "kit": root.name,
                "instrument": path.parent.name, "label": label, "split": split_of(rel), "licence": "user",
                "peak": peak, "orig_sr": sr, "group": root.name,
            })
            waves.append(clip)
    if unlabelled:
        shown = "\n  ".join(unlabelled[:10]) + ("\n  ..." if len(unlabelled) > 10 else "")
        raise DrumsynthError(
            f"{len(unlabelled)} file(s) have no drum label in their folder names; put each file under a folder "
            f"named after its class ({', '.join(CLASSES)}):\n  {shown}")
    if len(records) < min_files:
        raise DrumsynthError(
            f"only {len(records)} usable one-shot(s) found (at least {min_files} are needed to train)"
            + (f"; {len(skipped)} file(s) could not be used" if skipped else ""))
    write_cache(out, records, waves, extra_info={"max_seconds": MAX_SECONDS, "kind": "prepared",
                                                  "folders": [str(Path(f).resolve()) for f in folders]})
    return PrepareReport(out=Path(out), counts=Counter(r["label"] for r in records), skipped=skipped)
