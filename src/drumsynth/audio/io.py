"""Reading and writing audio files (soundfile), with clear errors for bad input.

Everything inside drumsynth is float32 in [-1, 1]; files are decoded once and converted here.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from drumsynth.errors import DrumsynthError

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".aif", ".aiff", ".aifc", ".mp3", ".opus")
WAV_SUBTYPES = {"16": "PCM_16", "24": "PCM_24", "32f": "FLOAT"}
# soundfile's names for the RIFF INFO chunk fields it can write.
INFO_FIELDS = ("title", "copyright", "software", "artist", "comment", "date", "album", "license",
               "tracknumber", "genre")
MAX_SECONDS = 600.0


def load_audio(path: str | Path, *, mono: bool = True, max_seconds: float = MAX_SECONDS
               ) -> tuple[np.ndarray, int]:
    """Decode an audio file.

    Returns
    -------
    wave : np.ndarray[T] float32 (``mono=True``, channels averaged) or [C, T]
    sr : int, the file's own sample rate (resample with ``drumsynth.audio.resample``)

    Raises ``DrumsynthError`` for unreadable, empty, non-finite or over-long files.
    """
    path = Path(path)
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, OSError) as err:
        raise DrumsynthError(f"cannot read audio file {path}: {err}") from err
    if info.frames == 0:
        raise DrumsynthError(f"audio file {path} is empty")
    if info.frames / info.samplerate > max_seconds:
        raise DrumsynthError(
            f"audio file {path} is {info.frames / info.samplerate:.0f} s long (limit {max_seconds:.0f} s)")
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as err:
        raise DrumsynthError(f"cannot decode audio file {path}: {err}") from err
    return _finish(data, sr, mono, str(path))


def load_audio_bytes(payload: bytes, *, mono: bool = True, max_seconds: float = MAX_SECONDS,
                     name: str = "upload") -> tuple[np.ndarray, int]:
    """Like :func:`load_audio` for the bytes of a file (web uploads)."""
    if not payload:
        raise DrumsynthError(f"audio {name} is empty")
    try:
        with sf.SoundFile(io.BytesIO(payload)) as fh:
            if fh.frames / fh.samplerate > max_seconds:
                raise DrumsynthError(f"audio {name} is longer than {max_seconds:.0f} s")
            data = fh.read(dtype="float32", always_2d=True)
            sr = fh.samplerate
    except (sf.LibsndfileError, RuntimeError) as err:
        raise DrumsynthError(f"cannot decode audio {name}: {err}") from err
    return _finish(data, sr, mono, name)


def _finish(data: np.ndarray, sr: int, mono: bool, name: str) -> tuple[np.ndarray, int]:
    """[T, C] from soundfile -> [T] or [C, T] float32, checked."""
    if data.shape[0] == 0:
        raise DrumsynthError(f"audio {name} is empty")
    if not np.all(np.isfinite(data)):
        raise DrumsynthError(f"audio {name} contains NaN or infinite samples")
    wave = data.T
    if mono:
        wave = wave.mean(axis=0)
    return np.ascontiguousarray(wave, dtype=np.float32), int(sr)


def encode_wav(wave: np.ndarray, sr: int, *, bit_depth: str = "24",
               tags: dict[str, str] | None = None) -> bytes:
    """WAV file bytes of ``wave`` ([T] or [C, T] float in [-1, 1]) with RIFF INFO ``tags``."""
    if bit_depth not in WAV_SUBTYPES:
        raise DrumsynthError(f"bit depth {bit_depth!r} is not one of {list(WAV_SUBTYPES)}")
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim == 2:
        wave = wave.T
    if not np.all(np.isfinite(wave)):
        raise DrumsynthError("refusing to write audio with NaN or infinite samples")
    if bit_depth != "32f":
        wave = np.clip(wave, -1.0, 1.0)
    buffer = io.BytesIO()
    channels = 1 if wave.ndim == 1 else wave.shape[1]
    with sf.SoundFile(buffer, "w", samplerate=int(sr), channels=channels, format="WAV",
                      subtype=WAV_SUBTYPES[bit_depth]) as fh:
        for key, value in (tags or {}).items():
            if key not in INFO_FIELDS:
                raise DrumsynthError(f"WAV tag {key!r} is not one of {list(INFO_FIELDS)}")
            setattr(fh, key, str(value))
        fh.write(wave)
    return buffer.getvalue()


def write_atomic(path: str | Path, payload: bytes) -> Path:
    """Write bytes through a temporary file in the same folder and rename: never a half file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_wav(path: str | Path, wave: np.ndarray, sr: int, *, bit_depth: str = "24",
              tags: dict[str, str] | None = None) -> Path:
    """Write a WAV file atomically (see :func:`encode_wav`)."""
    return write_atomic(path, encode_wav(wave, sr, bit_depth=bit_depth, tags=tags))


def read_wav_tags(path: str | Path) -> dict[str, str]:
    """The RIFF INFO tags soundfile can read back."""
    try:
        with sf.SoundFile(str(path)) as fh:
            return {key: getattr(fh, key) for key in INFO_FIELDS if getattr(fh, key)}
    except (sf.LibsndfileError, RuntimeError, OSError) as err:
        raise DrumsynthError(f"cannot read tags of {path}: {err}") from err


def find_audio_files(folder: str | Path) -> list[Path]:
    """Every audio file below ``folder`` by suffix, sorted for determinism."""
    folder = Path(folder)
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
