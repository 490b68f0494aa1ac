"""Finished drum hits as files: trimmed, faded, tagged WAVs with a JSON sidecar of their provenance."""

from __future__ import annotations

import json
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


def write_hit(path: str | Path, wave: np.ndarray, sr: int, sidecar: dict[str, Any], *,
              bit_depth: str = "24") -> Path:
    """Write ``path`` (a .wav) and ``path.json`` atomically; INFO tags name the model and class."""
    path = Path(path)
    tags = {"software": f"drumsynth {sidecar.get('version', '')}".strip(),
            "comment": f"{sidecar.get('family', '')} {sidecar.get('class', '')} seed {sidecar.get('seed', '')}",
            "title": path.stem}
    write_atomic(path, encode_wav(wave, sr, bit_depth=bit_depth, tags=tags))
    write_atomic(path.with_suffix(".json"), (json.dumps(sidecar, indent=2, sort_keys=True) + "\n").encode())
    return path
