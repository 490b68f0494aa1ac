"""The decoded cache: one folder holding a manifest and every sound decoded once.

Layout of a cache folder (written by ``drumsynth corpus build`` and ``drumsynth prepare``)::

    manifest.jsonl   one JSON object per sound, in cache order (see ``REQUIRED_FIELDS``)
    audio.npy        float32 [N_total]: every sound at ``sr``, mono, peak-normalised, concatenated
    offsets.npy      int64 [N + 1]: sound i is audio[offsets[i]:offsets[i + 1]]
    info.json        {"format": "drumsynth-cache", "format_version", "sr", "max_seconds", "n", ...}

Sounds are stored at 44.1 kHz, at most ``max_seconds`` long, and not yet trimmed to any model's length:
each family's features cut, pad and fade from here.

Writing never loses anything drumsynth did not write: the cache is built in a temporary sibling and
renamed into place; a destination that is a file, a folder that is not a cache, or an input folder is
refused, and replacing an existing cache takes ``force`` (``--force``). Reading checks every file and
refuses damage with one line naming it (``.npy`` files load with ``allow_pickle=False``).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from collections.abc import Sequence
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
CACHE_FILES = ("manifest.jsonl", "audio.npy", "offsets.npy", "info.json")  # all a cache folder holds


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



# ----------------------------------------------------------------------------- where a cache may go
def is_cache(path: str | Path) -> bool:
    """True when ``path`` is a folder whose ``info.json`` carries the drumsynth cache marker."""
    try:
        info = json.loads((Path(path) / "info.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(info, dict) and info.get("format") == CACHE_FORMAT


def check_out(out: str | Path, *, force: bool = False, inputs: Sequence[str | Path] = ()) -> Path:
    """Refuse a cache destination whose replacement could lose anything drumsynth did not write.

    Accepted: a path that does not exist, an empty folder, and (with ``force``) a drumsynth cache holding
    only the files drumsynth writes. Refused with a one-line ``DrumsynthError``: a file or symbolic link,
    a folder that is not a drumsynth cache, a cache holding other files too, and a destination equal to,
    inside or above one of ``inputs`` (the folders or files the cache is built from).
    """
    out = Path(out)
    target = out.resolve()
    for given in inputs:
        src = Path(given).resolve()
        if target == src or src in target.parents or target in src.parents:
            where = "is" if target == src else "is inside" if src in target.parents else "holds"
            raise DrumsynthError(f"refusing to write a cache to {out}: it {where} the input {given}; "
                                 "choose a folder outside your samples")
    if out.is_symlink():
        raise DrumsynthError(f"refusing to write a cache to {out}: it is a symbolic link; choose a new folder")
    if not out.exists():
        return out
    if not out.is_dir():
        raise DrumsynthError(f"refusing to write a cache to {out}: it is an existing file that drumsynth "
                             "did not write; choose a new folder")
    entries = sorted(os.listdir(out))
    if not entries:
        return out
    if not is_cache(out):
        raise DrumsynthError(f"refusing to write a cache to {out}: it is a folder that is not a drumsynth cache "
                             f"({len(entries)} entries, e.g. {entries[0]!r}); choose a new folder")
    others = [e for e in entries if e not in CACHE_FILES]
    if others:
        raise DrumsynthError(f"refusing to replace the cache {out}: it also holds {others[:3]} that drumsynth "
                             "did not write; move them out or choose a new folder")
    if not force:
        raise DrumsynthError(f"{out} already holds a drumsynth cache; pass --force to replace it")
    return out


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _remove_cache_files(folder: Path) -> None:
    """Delete the files a cache consists of, then the folder if that left it empty (never anything else)."""
    for name in CACHE_FILES:
        (folder / name).unlink(missing_ok=True)
    try:
        folder.rmdir()
    except OSError:
        pass  # something else appeared in it: leave it where it is


def check_record(r: Any, where: str) -> None:
    """A manifest record: a dict with ``REQUIRED_FIELDS``, a known label and split (else ``DrumsynthError``)."""
    if not isinstance(r, dict):
        raise DrumsynthError(f"{where}: a manifest record must be a JSON object, got {type(r).__name__}")
    missing = [k for k in REQUIRED_FIELDS if k not in r]
    if missing:
        raise DrumsynthError(f"{where}: record {r.get('id')!r} lacks {missing}")
    if r["label"] not in CLASSES:
        raise DrumsynthError(f"{where}: record {r['id']!r} has unknown label {r['label']!r}; "
                             f"expected one of {list(CLASSES)}")
    if r["split"] not in SPLITS:
        raise DrumsynthError(f"{where}: record {r['id']!r} has unknown split {r['split']!r}; "
                             f"expected one of {list(SPLITS)}")


def write_cache(out: str | Path, records: list[dict[str, Any]], waves: list[np.ndarray],
                sr: int = CACHE_SR, extra_info: dict[str, Any] | None = None, *, force: bool = False,
                inputs: Sequence[str | Path] = ()) -> Path:
    """Write a cache folder: built in a temporary sibling, then renamed into place.

    Parameters
    ----------
    records : manifest dicts, one per sound (see ``REQUIRED_FIELDS``)
    waves : np.ndarray[T_i] float32 per record, at ``sr``
    force : replace an existing drumsynth cache at ``out`` (anything else there is always refused,
        see :func:`check_out`)
    inputs : the folders or files the cache is built from; ``out`` may not be, hold or lie inside one

    A failure at any point leaves ``out`` as it was. The folder gets the permissions of the umask.
    """
    out = Path(out)
    if len(records) != len(waves):
        raise DrumsynthError(f"{len(records)} records but {len(waves)} sounds")
    if not records:
        raise DrumsynthError("refusing to write an empty cache")
    for r in records:
        check_record(r, "write_cache")
    check_out(out, force=force, inputs=inputs)
    lengths = np.array([len(w) for w in waves], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    audio = np.concatenate([np.asarray(w, dtype=np.float32) for w in waves])
    info = {"format": CACHE_FORMAT, "format_version": CACHE_VERSION, "sr": int(sr), "n": len(records),
            **(extra_info or {})}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"))
    try:
        tmp.chmod(0o777 & ~_umask())  # mkdtemp makes it private; a cache is meant to be shared like any folder
        with (tmp / "manifest.jsonl").open("w", encoding="utf-8") as fh:
            for r in records:
                fh.write(json.dumps(r, sort_keys=True) + "\n")
        np.save(tmp / "audio.npy", audio)
        np.save(tmp / "offsets.npy", offsets)
        (tmp / "info.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        _move_into_place(tmp, out, force=force, inputs=inputs)
    except BaseException:
        _remove_cache_files(tmp)
        raise
    return out


def _move_into_place(tmp: Path, out: Path, *, force: bool, inputs: Sequence[str | Path]) -> None:
    """Rename the finished cache ``tmp`` to ``out``; an old cache there is set aside first, then deleted."""
    check_out(out, force=force, inputs=inputs)  # again: the folder may have changed while decoding
    try:
        if not out.exists():
            os.rename(tmp, out)  # fails (ENOTEMPTY) rather than replace a folder that appeared meanwhile
            return
        if not os.listdir(out):
            os.rename(tmp, out)  # an empty folder is replaced atomically
            return
        old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".old"))
        try:
            os.rename(out, old)  # replaces the empty placeholder ``old``
        except BaseException:
            old.rmdir()
            raise
        try:
            os.rename(tmp, out)
        except BaseException:
            os.rename(old, out)
            raise
        _remove_cache_files(old)  # check_out made sure it holds nothing but a cache's files
    except OSError as err:
        raise DrumsynthError(f"cannot move the new cache into place at {out}: {err.strerror or err}") from err


# ----------------------------------------------------------------------------- reading
def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return text or type(err).__name__


def _read_info(root: Path) -> dict[str, Any]:
    path = root / "info.json"
    if not path.is_file():
        raise DrumsynthError(
            f"{root} is not a drumsynth cache (no info.json); build one with "
            "'drumsynth corpus build --out DIR' or 'drumsynth prepare FOLDER --out DIR'")
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise DrumsynthError(f"{path} is not valid JSON: {_one_line(err)}") from err
    if not isinstance(info, dict) or info.get("format") != CACHE_FORMAT:
        raise DrumsynthError(f"{path} is not a drumsynth cache (no \"format\": \"{CACHE_FORMAT}\")")
    version, sr, n = info.get("format_version", 0), info.get("sr"), info.get("n")
    if not _is_int(version):
        raise DrumsynthError(f"{path}: format_version must be an integer, got {version!r}")
    if version > CACHE_VERSION:
        raise DrumsynthError(f"cache {root} has format version {version}, newer than this drumsynth")
    if not _is_int(sr) or sr <= 0:
        raise DrumsynthError(f"{path}: sr must be a positive integer, got {sr!r}")
    if n is not None and (not _is_int(n) or n < 0):
        raise DrumsynthError(f"{path}: n must be a non-negative integer, got {n!r}")
    return info


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _read_manifest(path: Path) -> list[dict[str, Any]]:
    records = []
    try:
        with path.open(encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError as err:
                    raise DrumsynthError(f"{path} line {number} is not JSON: {_one_line(err)}") from err
                check_record(record, f"{path} line {number}")
                records.append(record)
    except (OSError, UnicodeDecodeError) as err:
        raise DrumsynthError(f"cannot read {path}: {_one_line(err)}") from err
    return records


def _read_npy(path: Path, *, mmap: bool) -> np.ndarray:
    """A 1-D array from ``path`` without unpickling anything."""
    if not path.is_file():
        raise DrumsynthError(f"cache file {path} is missing")
    try:
        arr = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        raise DrumsynthError(f"cannot read {path} (damaged or truncated?): {_one_line(err)}") from err
    if not isinstance(arr, np.ndarray) or arr.ndim != 1:
        raise DrumsynthError(f"{path} must hold a 1-D array, got shape {getattr(arr, 'shape', None)}")
    return arr


def load_cache(root: str | Path) -> Cache:
    """Read a cache folder; anything wrong with it is a one-line ``DrumsynthError`` naming the file."""
    root = Path(root)
    info = _read_info(root)
    records = _read_manifest(root / "manifest.jsonl")
    audio = _read_npy(root / "audio.npy", mmap=True)
    offsets = _read_npy(root / "offsets.npy", mmap=False)
    if audio.dtype != np.float32:
        raise DrumsynthError(f"{root / 'audio.npy'} holds {audio.dtype} samples, expected float32")
    if not np.issubdtype(offsets.dtype, np.integer):
        raise DrumsynthError(f"{root / 'offsets.npy'} holds {offsets.dtype}, expected integers")
    if len(offsets) != len(records) + 1:
        raise DrumsynthError(f"cache {root} is inconsistent: {len(records)} records in manifest.jsonl, "
                             f"{len(offsets) - 1} sounds in offsets.npy")
    if info.get("n") is not None and info["n"] != len(records):
        raise DrumsynthError(f"cache {root} is inconsistent: info.json says n={info['n']}, "
                             f"manifest.jsonl has {len(records)} records")
    offsets = offsets.astype(np.int64)
    if offsets[0] != 0 or np.any(np.diff(offsets) < 0):
        raise DrumsynthError(f"{root / 'offsets.npy'} is damaged: offsets must start at 0 and never decrease")
    if offsets[-1] != len(audio):
        raise DrumsynthError(f"{root / 'offsets.npy'} is damaged: it ends at sample {offsets[-1]}, "
                             f"but audio.npy holds {len(audio)} samples")
    return Cache(root=root, records=records, audio=np.asarray(audio), offsets=offsets,
                 sr=int(info["sr"]), info=info)
