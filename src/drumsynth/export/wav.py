"""Finished drum hits as files: trimmed, faded, tagged WAVs with a JSON sidecar of their provenance.

Every verb that renders (``generate``, ``vary``, ``demo``) names its files the same way, through
:class:`HitFolder`: ``<prefix>_<class>_<NNN>.wav`` with ``<prefix>_<class>_<NNN>.json`` beside it, where
the prefix is the model family (``ndm_kick_000.wav``) and ``NNN`` the next number free in the folder for
that prefix and class. A render never replaces a file unless asked to (``overwrite``): a second
``generate`` into the same folder continues at ``ndm_kick_008`` instead of rewriting ``ndm_kick_000``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import secrets
from pathlib import Path
from typing import Any

import numpy as np

from drumsynth.audio.io import encode_wav, write_atomic
from drumsynth.audio.resample import resample
from drumsynth.errors import DrumsynthError

EXPORT_RATES = (44100, 48000)
TAIL_DB = -60.0
FADE_OUT_MS = 5.0
PEAK = 10 ** (-0.3 / 20)  # -0.3 dBFS: leaves headroom for a DAW's inter-sample peaks


def finish_hit(wave: np.ndarray, sr: int, *, out_sr: int = 44100) -> np.ndarray:
    """Model output np.ndarray[T] at ``sr`` -> a playable one-shot np.ndarray[T'] at ``out_sr``.

    Resampled, cut after the last sample within 60 dB of the peak, faded out over 5 ms and peak-normalised
    to -0.3 dBFS. A silent output stays silent (and as long as the input).
    """
    if out_sr not in EXPORT_RATES:
        raise DrumsynthError(f"export sample rate {out_sr} is not one of {list(EXPORT_RATES)}")
    wave = np.asarray(wave, dtype=np.float32)
    if not np.all(np.isfinite(wave)):
        raise DrumsynthError("the model produced NaN or infinite samples")
    if sr != out_sr:
        wave = resample(wave, sr, out_sr)
    peak = float(np.max(np.abs(wave))) if len(wave) else 0.0
    if peak <= 0:
        return wave
    loud = np.nonzero(np.abs(wave) >= peak * 10 ** (TAIL_DB / 20))[0]
    fade = int(out_sr * FADE_OUT_MS / 1000)
    end = min(len(wave), int(loud[-1]) + 1 + fade)
    wave = wave[:end] * (PEAK / peak)
    n = min(fade, len(wave))
    wave[len(wave) - n:] *= np.linspace(1.0, 0.0, n, dtype=np.float32)
    return wave


MAX_NAME = 64  # characters of a prefix (or class) in a file name
_NUMBERED = r"_(\d{3,})\.(?:wav|json)"


def plain_name(name: object, what: str = "prefix") -> str:
    """``name`` if it is a plain file-name part (no folder, no hidden file), else a ``DrumsynthError``.

    Refused: non-strings, the empty string, more than ``MAX_NAME`` characters, path separators, NUL and
    other control characters, and a leading dot (``.``, ``..``, hidden files).
    """
    if not isinstance(name, str):
        raise DrumsynthError(f"{what} must be a string, got {name!r}")
    seps = {"/", "\\", os.sep} | ({os.altsep} if os.altsep else set())
    if (not name or len(name) > MAX_NAME or name.startswith(".") or any(c in seps for c in name)
            or any(ord(c) < 32 or ord(c) == 127 for c in name)):
        raise DrumsynthError(f"{what} {name!r} is not a plain name: 1-{MAX_NAME} characters, no path "
                             "separators, control characters or leading dot")
    return name


def _os_error(path: Path, err: OSError) -> DrumsynthError:
    return DrumsynthError(f"cannot write {path}: {err.strerror or err}")


def write_new(path: str | Path, payload: bytes) -> bool:
    """Write ``path`` (and its missing parent folders) only if nothing is there; ``False`` (and nothing
    written) when the name is taken.

    The bytes go to a temporary file in the same folder (created with the process umask), which is then
    hard-linked to ``path``: the link fails when ``path`` exists, so two writers never both take a name
    and a reader never sees half a file. File systems without hard links (FAT, some network mounts)
    reserve the name with ``O_EXCL`` and rename the finished file onto it.
    """
    path = Path(path)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        except OSError as err:
            if err.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK,
                                 errno.ENOSYS):
                raise
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            except FileExistsError:
                return False
            os.replace(tmp, path)
        return True
    except OSError as err:
        raise _os_error(path, err) from err
    finally:
        with contextlib.suppress(OSError):  # gone already, or its folder never existed
            tmp.unlink()


def replace_file(path: str | Path, payload: bytes) -> None:
    """Write ``path`` atomically, replacing what is there (the ``overwrite`` case)."""
    path = Path(path)
    try:
        write_atomic(path, payload)
    except OSError as err:
        raise _os_error(path, err) from err


def hit_payloads(path: Path, wave: np.ndarray, sr: int, sidecar: dict[str, Any], *,
                 bit_depth: str = "24") -> tuple[bytes, bytes]:
    """The bytes of ``path`` (a .wav whose INFO tags name the model and class) and of its JSON sidecar."""
    tags = {"software": f"drumsynth {sidecar.get('version', '')}".strip(),
            "comment": f"{sidecar.get('family', '')} {sidecar.get('class', '')} seed {sidecar.get('seed', '')}",
            "title": path.stem}
    return (encode_wav(wave, sr, bit_depth=bit_depth, tags=tags),
            (json.dumps(sidecar, indent=2, sort_keys=True) + "\n").encode())


class HitFolder:
    """The folder a run writes its hits to, and the one naming scheme of rendered files.

    Hits are named ``<prefix>_<class>_<NNN>.wav`` (+ ``.json``). Without ``overwrite`` numbering starts
    after the highest number already in the folder for that prefix and class, and every file is
    written with :func:`write_new`, so nothing there is ever replaced, even by a concurrent run; with
    ``overwrite`` numbering starts at 000 and existing files of those names are replaced. One
    ``HitFolder`` keeps counting across the calls of a run (batches, one render per intensity).

    Parameters
    ----------
    folder : created on first write; an empty name or an existing non-folder is a ``DrumsynthError``
    overwrite : replace files of the same names instead of taking the next free numbers
    """

    def __init__(self, folder: str | Path, *, overwrite: bool = False) -> None:
        if not isinstance(overwrite, bool):
            raise DrumsynthError(f"overwrite must be True or False, got {overwrite!r}")
        if not isinstance(folder, str | Path) or (isinstance(folder, str) and not folder.strip()):
            # Path("") is the working folder: an empty --out is a mistake, not a request for it.
            raise DrumsynthError(f"output folder must be a path, got {folder!r}")
        self.folder = Path(folder)
        if self.folder.exists() and not self.folder.is_dir():
            raise DrumsynthError(f"output folder {self.folder} is an existing file, not a folder")
        self.overwrite = overwrite
        self._next: dict[str, int] = {}

    def _first_number(self, stem: str) -> int:
        """0, or (without ``overwrite``) one past the highest ``<stem>_<NNN>`` .wav/.json in the folder."""
        if self.overwrite or not self.folder.is_dir():
            return 0
        pattern = re.compile(re.escape(stem) + _NUMBERED)
        with os.scandir(self.folder) as entries:
            numbers = [int(m.group(1)) for e in entries if (m := pattern.fullmatch(e.name))]
        return max(numbers, default=-1) + 1

    def _mkdir(self) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise _os_error(self.folder, err) from err

    def write_file(self, name: str, suffix: str, payload: bytes) -> Path:
        """Write one other file of the run (e.g. demo's ``sheet.png``) as ``<name><suffix>``, or, when
        that is taken and ``overwrite`` is off, the first free ``<name>_<NNN><suffix>`` from 001."""
        self._mkdir()
        path = self.folder / f"{plain_name(name, 'file name')}{suffix}"
        if self.overwrite:
            replace_file(path, payload)
            return path
        number = 1
        while not write_new(path, payload):
            path = self.folder / f"{name}_{number:03d}{suffix}"
            number += 1
        return path

    def write(self, prefix: str, cls: str, wave: np.ndarray, sr: int, sidecar: dict[str, Any], *,
              bit_depth: str = "24") -> Path:
        """Write one finished hit np.ndarray[T] at ``sr`` and its sidecar; returns the .wav path."""
        stem = f"{plain_name(prefix)}_{plain_name(cls, 'class name')}"
        self._mkdir()
        number = self._next[stem] if stem in self._next else self._first_number(stem)
        while True:
            path = self.folder / f"{stem}_{number:03d}.wav"
            audio, meta = hit_payloads(path, wave, sr, sidecar, bit_depth=bit_depth)
            number += 1
            if self.overwrite:
                replace_file(path, audio)
                replace_file(path.with_suffix(".json"), meta)
                break
            if not write_new(path, audio):
                continue
            if write_new(path.with_suffix(".json"), meta):
                break
            path.unlink()  # ours, just written: someone else holds that sidecar name
        self._next[stem] = number
        return path
