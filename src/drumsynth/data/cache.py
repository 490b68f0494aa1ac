"""The decoded cache: one folder holding a manifest and every sound decoded once.

Layout of a cache folder (written by ``drumsynth corpus build`` and ``drumsynth prepare``)::

    manifest.jsonl   one JSON object per sound, in cache order (see ``REQUIRED_FIELDS``)
    audio.npy        float32 [N_total]: every sound at ``sr``, mono, peak-normalised, concatenated
    offsets.npy      int64 [N + 1]: sound i is audio[offsets[i]:offsets[i + 1]]
    info.json        {"format": "drumsynth-cache", "format_version", "sr", "max_seconds", "n", ...}

Sounds are stored at 44.1 kHz, at most ``max_seconds`` long, and not yet trimmed to any model's length:
each family's features cut, pad and fade from here.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from drumsynth.data.taxonomy import CLASSES, TO_CLASS3
from drumsynth.errors import DrumsynthError

CACHE_FORMAT = "drumsynth-cache"
CACHE_VERSION = 1
CACHE_SR = 44100
SPLITS = ("train", "valid", "test")
REQUIRED_FIELDS = ("id", "path", "source", "kit", "instrument", "label", "split", "licence")


@dataclass
class Cache:
    """A decoded cache in memory.

    records : list of manifest dicts (``label`` is one of ``CLASSES``; ``split`` one of ``SPLITS``)
    audio : np.ndarray[N_total] float32
    offsets : np.ndarray[N + 1] int64
    """

    root: Path
    records: list[dict[str, Any]]
    audio: np.ndarray
    offsets: np.ndarray
    sr: int
    info: dict[str, Any]

    def __len__(self) -> int:
        return len(self.records)

    def wave(self, i: int) -> np.ndarray:
        """Sound ``i``: np.ndarray[T_i] float32 at ``self.sr``."""
        return self.audio[self.offsets[i]:self.offsets[i + 1]]

    def indices(self, split: str | None = None, *, three_class: bool = False) -> list[int]:
        """Indices of a split (all when ``None``); ``three_class`` keeps sounds with a 3-class label."""
        if split is not None and split not in SPLITS:
            raise DrumsynthError(f"unknown split {split!r}; expected one of {list(SPLITS)}")
        return [i for i, r in enumerate(self.records)
                if (split is None or r["split"] == split)
                and (not three_class or TO_CLASS3[r["label"]] is not None)]

    def counts(self) -> dict[str, Counter]:
        """Per split, a Counter of labels."""
        out = {s: Counter() for s in SPLITS}
        for r in self.records:
            out[r["split"]][r["label"]] += 1
        return out


def write_cache(out: str | Path, records: list[dict[str, Any]], waves: list[np.ndarray],
                sr: int = CACHE_SR, extra_info: dict[str, Any] | None = None) -> Path:
    """Write a cache folder atomically (built beside ``out``, then renamed into place)."""
    out = Path(out)
    if len(records) != len(waves):
        raise DrumsynthError(f"{len(records)} records but {len(waves)} sounds")
    if not records:
        raise DrumsynthError("refusing to write an empty cache")
    for r in records:
        missing = [k for k in REQUIRED_FIELDS if k not in r]
        if missing:
            raise DrumsynthError(f"manifest record {r.get('id')!r} lacks {missing}")
        if r["label"] not in CLASSES:
            raise DrumsynthError(f"record {r['id']!r} has unknown label {r['label']!r}")
        if r["split"] not in SPLITS:
            raise DrumsynthError(f"record {r['id']!r} has unknown split {r['split']!r}")
    lengths = np.array([len(w) for w in waves], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    audio = np.concatenate([np.asarray(w, dtype=np.float32) for w in waves])
    info = {"format": CACHE_FORMAT, "format_version": CACHE_VERSION, "sr": int(sr), "n": len(records),
            **(extra_info or {})}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    try:
        with (tmp / "manifest.jsonl").open("w") as fh:
            for r in records:
                fh.write(json.dumps(r, sort_keys=True) + "\n")
        np.save(tmp / "audio.npy", audio)
        np.save(tmp / "offsets.npy", offsets)
        (tmp / "info.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
        if out.exists():
            old = out.with_name(f".{out.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def load_cache(root: str | Path) -> Cache:
    """Read a cache folder; a folder that is not one is a ``DrumsynthError`` naming it."""
    root = Path(root)
    info_path = root / "info.json"
    if not info_path.is_file():
        raise DrumsynthError(
            f"{root} is not a drumsynth cache (no info.json); build one with "
            "'drumsynth corpus build --out DIR' or 'drumsynth prepare FOLDER --out DIR'")
    info = json.loads(info_path.read_text())
    if info.get("format") != CACHE_FORMAT:
        raise DrumsynthError(f"{root}/info.json is not a drumsynth cache")
    if info.get("format_version", 0) > CACHE_VERSION:
        raise DrumsynthError(f"cache {root} has format version {info['format_version']}, newer than this drumsynth")
    with (root / "manifest.jsonl").open() as fh:
        records = [json.loads(line) for line in fh if line.strip()]
    audio = np.load(root / "audio.npy", mmap_mode="r")
    offsets = np.load(root / "offsets.npy")
    if len(offsets) != len(records) + 1:
        raise DrumsynthError(f"cache {root} is inconsistent: {len(records)} records, {len(offsets) - 1} sounds")
    return Cache(root=root, records=records, audio=np.asarray(audio), offsets=offsets,
                 sr=int(info["sr"]), info=info)
