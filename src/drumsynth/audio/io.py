"""Reading and writing audio files (soundfile), with clear errors for bad input.

Everything inside drumsynth is float32 in [-1, 1]; files are decoded once and converted here.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile as sf

from drumsynth.errors import DrumsynthError

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".aif", ".aiff", ".aifc", ".mp3", ".opus")
WAV_SUBTYPES = {"16": "PCM_16", "24": "PCM_24", "32f": "FLOAT"}
_SFC_SET_ADD_PEAK_CHUNK = 0x1050  # libsndfile's sf_command code (sndfile.h)
# soundfile's names for the RIFF INFO chunk fields it can write.
INFO_FIELDS = ("title", "copyright", "software", "artist", "comment", "date", "album", "license",
               "tracknumber", "genre")
# Limits on what a decoded file may hold, checked from the header before any sample is read and again
# while reading (a header can lie). Drum hits are seconds long; these leave room for loops and stems
# while keeping one decoded file's memory bounded: MAX_SAMPLES float32 is 230 MB.
MAX_SECONDS = 600.0        # duration
MAX_CHANNELS = 32          # 3rd-order ambisonics has 16
MAX_RATE = 384_000         # Hz
MAX_SAMPLES = 57_600_000   # frames x channels: 600 s of 48 kHz stereo
BLOCK_FRAMES = 65_536      # frames decoded at a time (mixed down to mono block by block)
TEMP_SUFFIX = ".tmp"
# mkstemp's names: the prefix, 8 characters from its alphabet, the suffix (see atomic_open).
_TEMP_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")


def open_regular(path: str | Path) -> BinaryIO:
    """Open ``path`` for binary reading if it is a regular file (after following links).

    The file is opened without blocking and checked with ``fstat``, so a FIFO or a device named
    ``x.wav`` is refused instead of hanging, with no window between the check and the open. Paths are
    handed to the OS as they are, so names that are not UTF-8 (Latin-1 sample packs) open too.
    """
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError as err:
        raise DrumsynthError(f"no such file: {path}") from err
    except OSError as err:
        raise DrumsynthError(f"cannot open {path}: {err.strerror or err}") from err
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file (a pipe, socket or device?)"
            raise DrumsynthError(f"{path} is {kind}")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def load_audio(path: str | Path, *, mono: bool = True, max_seconds: float = MAX_SECONDS
               ) -> tuple[np.ndarray, int]:
    """Decode an audio file (a regular file within the limits above).

    Returns
    -------
    wave : np.ndarray[T] float32 (``mono=True``, channels averaged) or [C, T]
    sr : int, the file's own sample rate (resample with ``drumsynth.audio.resample``)

    Raises ``DrumsynthError`` for missing, non-regular, unreadable, empty, non-finite, over-long or
    oversized (channels, rate, frames x channels) files.
    """
    path = Path(path)
    with open_regular(path) as raw:
        try:
            with sf.SoundFile(raw) as fh:
                return _decode(fh, mono, max_seconds, str(path))
        except (sf.LibsndfileError, RuntimeError, OSError) as err:
            raise DrumsynthError(f"cannot read audio file {path}: {err}") from err


def load_audio_bytes(payload: bytes, *, mono: bool = True, max_seconds: float = MAX_SECONDS,
                     name: str = "upload") -> tuple[np.ndarray, int]:
    """Like :func:`load_audio` for the bytes of a file (web uploads)."""
    if not payload:
        raise DrumsynthError(f"audio {name} is empty")
    try:
        with sf.SoundFile(io.BytesIO(payload)) as fh:
            return _decode(fh, mono, max_seconds, name)
    except (sf.LibsndfileError, RuntimeError) as err:
        raise DrumsynthError(f"cannot decode audio {name}: {err}") from err


def _check_size(frames: int, channels: int, sr: int, max_seconds: float, name: str) -> None:
    if not 1 <= channels <= MAX_CHANNELS:
        raise DrumsynthError(f"audio {name} has {channels} channels (limit {MAX_CHANNELS})")
    if not 1 <= sr <= MAX_RATE:
        raise DrumsynthError(f"audio {name} has sample rate {sr} Hz (limit {MAX_RATE} Hz)")
    if frames / sr > max_seconds:
        raise DrumsynthError(f"audio {name} is {frames / sr:.0f} s long (limit {max_seconds:.0f} s)")
    if frames * channels > MAX_SAMPLES:
        raise DrumsynthError(
            f"audio {name} holds {frames} frames x {channels} channels = {frames * channels} samples "
            f"(limit {MAX_SAMPLES}, e.g. {MAX_SAMPLES // 96_000} s of 48 kHz stereo)")


def _decode(fh: sf.SoundFile, mono: bool, max_seconds: float, name: str) -> tuple[np.ndarray, int]:
    """Read an open file block by block, mixing down while reading when ``mono``.

    Returns np.ndarray[T] or [C, T] float32 and the rate; memory stays at the output plus one block
    (a whole [T, C] read of an 8-channel file would take 8 times the mono output, twice over).
    """
    sr, channels = int(fh.samplerate), int(fh.channels)
    expected = max(int(fh.frames), 0)
    _check_size(expected, channels, sr, max_seconds, name)
    if expected == 0:
        raise DrumsynthError(f"audio {name} is empty")
    # filled in place (no list of blocks to concatenate: that would double the peak)
    wave = np.empty((expected,) if mono else (channels, expected), dtype=np.float32)
    beyond: list[np.ndarray] = []  # frames past the header's count, if it lied
    total = 0
    while True:
        block = fh.read(BLOCK_FRAMES, dtype="float32", always_2d=True)  # [frames, C]
        n = block.shape[0]
        if n == 0:
            break
        # the header's frame count can lie (or be unknown): keep the limits while reading too
        _check_size(total + n, channels, sr, max_seconds, name)
        if not np.all(np.isfinite(block)):
            raise DrumsynthError(f"audio {name} contains NaN or infinite samples")
        part = block.mean(axis=1) if mono else block.T
        fit = max(0, min(n, expected - total))
        wave[..., total:total + fit] = part[..., :fit]
        if fit < n:
            beyond.append(np.array(part[..., fit:]))
        total += n
    if total == 0:
        raise DrumsynthError(f"audio {name} is empty")
    wave = wave[..., :min(total, expected)]
    if beyond:
        wave = np.concatenate([wave, *beyond], axis=-1)
    return np.ascontiguousarray(wave, dtype=np.float32), sr


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
        if bit_depth == "32f":
            # libsndfile stamps float files' PEAK chunk with the wall-clock time: without it, the same
            # seed gives the same bytes (the chunk is optional and readers ignore its absence).
            sf._snd.sf_command(fh._file, _SFC_SET_ADD_PEAK_CHUNK, sf._ffi.NULL, 0)
        for key, value in (tags or {}).items():
            if key not in INFO_FIELDS:
                raise DrumsynthError(f"WAV tag {key!r} is not one of {list(INFO_FIELDS)}")
            setattr(fh, key, str(value))
        fh.write(wave)
    return buffer.getvalue()


def _creation_mode() -> int:
    """``0o666`` less the process's umask: the mode ``open()`` would give a new file.

    ``mkstemp`` creates its file 0600 whatever the umask, which would make every output private
    (a DAW running as another user could not read it).
    """
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def is_atomic_temp(path: str | Path) -> bool:
    """Whether ``path`` is a regular file named like :func:`atomic_open`'s temporaries."""
    path = Path(path)
    return bool(_TEMP_NAME.match(path.name)) and path.is_file() and not path.is_symlink()


@contextlib.contextmanager
def atomic_open(path: str | Path, *, fsync: bool = False) -> Iterator[BinaryIO]:
    """Binary file handle whose content appears at ``path`` only when the block ends without error.

    Writes go to ``.NAME.XXXXXXXX.tmp`` in the same folder, which is renamed over ``path`` at the
    end (``fsync=True`` flushes it to disk first: checkpoints). An exception removes the temporary
    file; the new file gets the mode ``open()`` would give it under the umask.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
            os.fchmod(fh.fileno(), _creation_mode())
        os.replace(tmp, path)
    except BaseException:
        # BaseException too: a Ctrl-C during the write must not leave a stray temp file either.
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: str | Path, payload: bytes) -> Path:
    """Write bytes through a temporary file in the same folder and rename: never a half file."""
    with atomic_open(path) as fh:
        fh.write(payload)
    return Path(path)


def write_wav(path: str | Path, wave: np.ndarray, sr: int, *, bit_depth: str = "24",
              tags: dict[str, str] | None = None) -> Path:
    """Write a WAV file atomically (see :func:`encode_wav`)."""
    return write_atomic(path, encode_wav(wave, sr, bit_depth=bit_depth, tags=tags))


def read_wav_tags(path: str | Path) -> dict[str, str]:
    """The RIFF INFO tags soundfile can read back."""
    with open_regular(path) as raw:
        try:
            with sf.SoundFile(raw) as fh:
                return {key: getattr(fh, key) for key in INFO_FIELDS if getattr(fh, key)}
        except (sf.LibsndfileError, RuntimeError, OSError) as err:
            raise DrumsynthError(f"cannot read tags of {path}: {err}") from err


def find_audio_files(folder: str | Path) -> list[Path]:
    """Every audio file below ``folder`` by suffix, sorted for determinism."""
    folder = Path(folder)
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
