"""Check an export against the Session it came from, reloading it in a fresh interpreter.

:func:`verify` decodes :func:`drumsynth.export.graph.check_inputs` (one-hot, mixed, out-of-range and
all-zero class weights with prior draws of z) with the Session's model, reloads the file with
:mod:`drumsynth.export.reload` in a new ``python -I`` process (torch or onnxruntime only, no drumsynth)
and reports the largest absolute difference between the two, per hit sample.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from drumsynth.errors import DrumsynthError
from drumsynth.export import reload
from drumsynth.export.graph import FORMATS, check_inputs, eager_decode

if TYPE_CHECKING:
    from drumsynth.inference.session import Session

TIMEOUT_S = 600


def fresh_process(fmt: str, path: Path, z: np.ndarray, labels: np.ndarray, scratch: Path | None = None
                  ) -> tuple[dict[str, np.ndarray], dict]:
    """Run the reload script on ``path`` in a new interpreter: its arrays and what it saw. Its inputs and
    outputs pass through a temporary folder inside ``scratch`` (default: the system's), removed after."""
    if fmt not in FORMATS:
        raise DrumsynthError(f"export format {fmt!r} is not one of {list(FORMATS)}")
    with tempfile.TemporaryDirectory(prefix="drumsynth-verify-", dir=scratch) as tmp:
        inputs, outputs = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        np.savez(inputs, z=z, labels=labels)
        command = [sys.executable, "-I", reload.__file__, fmt, str(Path(path).resolve()), str(inputs), str(outputs)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired as err:
            raise DrumsynthError(f"reloading {path} took over {TIMEOUT_S} s") from err
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise DrumsynthError(f"reloading {path} as {fmt} failed in a fresh process: {last}")
        with np.load(outputs) as data:
            arrays = {key: data[key] for key in data.files}
        facts = json.loads(Path(str(outputs) + ".json").read_text())
    return arrays, facts


def verify(session: Session, fmt: str, path: str | Path, scratch: Path | None = None) -> dict[str, Any]:
    """Reload ``path`` in a fresh process and compare it with the Session's own decoding.

    Returns ``{"format", "file", "hits", "max_abs_diff", "reference_peak" (of the Session's hits),
    "stream_max_abs_diff" (TorchScript: the hits played through nn~'s calling convention), "facts" (what
    the host saw)}``.
    """
    z, labels = check_inputs(session)
    reference = eager_decode(session, z, labels).numpy()
    arrays, facts = fresh_process(fmt, Path(path), z.numpy(), labels.numpy(), scratch)
    if arrays["wave"].shape != reference.shape:
        raise DrumsynthError(f"{path} decoded shape {arrays['wave'].shape}, the Session {reference.shape}")
    report = {"format": fmt, "file": str(path), "hits": int(len(reference)),
              "max_abs_diff": float(np.abs(arrays["wave"] - reference).max()),
              "reference_peak": float(np.abs(reference).max()), "facts": facts}
    if "stream" in arrays:
        expected = reference
        if arrays["stream"].shape[1] != reference.shape[1]:  # exported for another host rate
            expected = band_limited(reference, arrays["stream"].shape[1])
        report["stream_max_abs_diff"] = float(np.abs(arrays["stream"] - expected).max())
    return report


def band_limited(hits: np.ndarray, n_out: int) -> np.ndarray:
    """Hits np.ndarray[n, T] resampled to ``n_out`` samples by scipy's FFT method over the hit zero-padded
    to twice its length: the resampling the TorchScript module is meant to do, from another library."""
    from scipy.signal import resample

    padded = np.concatenate([hits, np.zeros_like(hits)], axis=1)
    return resample(padded, 2 * n_out, axis=1)[:, :n_out].astype(np.float32)
