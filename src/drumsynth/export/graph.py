"""What the model exports share: file names, the inputs that check them, their metadata, the write.

Every export (:mod:`drumsynth.export.model`) holds the family's decode graph (``Session.export_graphs``):
z Tensor[B, latent_dim] float32 + class weights Tensor[B, C] float32 -> hits Tensor[B, length] float32 in
[-1, 1] at the model's rate, the same numbers as ``Session.generate`` decodes before it finishes a hit
for a WAV file. Beside the file goes a JSON sidecar ``<file>.json`` (the same record is embedded in the
file), and neither replaces an existing file unless asked.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import io
import json
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import drumsynth
from drumsynth.errors import DrumsynthError

if TYPE_CHECKING:  # torch is imported lazily, with the verb that needs it
    import torch

    from drumsynth.inference.session import Session

# Format -> the file suffix it must have (nn~ itself appends ".ts" to a name without it).
FORMATS = {"torchscript": ".ts", "onnx": ".onnx", "pt2": ".pt2"}
METADATA_FORMAT = "drumsynth-export"
METADATA_VERSION = 1
# The name of the metadata record inside a .ts or .pt2 archive (and the ONNX metadata_props key).
EMBEDDED_NAME = "drumsynth.json"
# What a host must do itself: none of it is in any exported graph.
OUTSIDE = {
    "latent": "drawing z: ndm draws from its per-class Gaussian (latent_prior: the class means; N(0, I) is the "
              "WAE's nominal prior), drumgan and the others from N(0, I)",
    "finishing": "what drumsynth does before writing a WAV: resample to 44.1/48 kHz, cut after the last sample "
                 "within 60 dB of the peak, 5 ms fade-out, peak -0.3 dBFS (drumsynth.export.wav.finish_hit)",
}


def output_paths(out: str | Path, fmt: str) -> tuple[Path, Path]:
    """The export file and its JSON sidecar (``<file>.json``) for ``--out`` and a format.

    Raises ``DrumsynthError`` for an unknown format or a file name without the format's suffix.
    """
    if fmt not in FORMATS:
        raise DrumsynthError(f"export format {fmt!r} is not one of {list(FORMATS)}")
    path = Path(out)
    if path.suffix.lower() != FORMATS[fmt]:
        raise DrumsynthError(f"a {fmt} export must be named *{FORMATS[fmt]}, got {str(out)!r}")
    return path, path.with_name(path.name + ".json")


def check_targets(paths: list[Path], overwrite: bool) -> None:
    """Refuse folders, and existing files unless ``overwrite``: before any work, so nothing half-done."""
    for path in paths:
        if path.is_dir():
            raise DrumsynthError(f"{path} is a folder; name the export file")
        if path.exists() and not overwrite:
            raise DrumsynthError(f"{path} exists; pass --overwrite to replace it")


def write_files(files: dict[Path, bytes], overwrite: bool) -> list[Path]:
    """Write each file atomically, never over an existing one unless ``overwrite``; returns the paths."""
    from drumsynth.export.wav import replace_file, write_new

    check_targets(list(files), overwrite)
    for path, payload in files.items():
        if overwrite:
            replace_file(path, payload)
        elif not write_new(path, payload):
            raise DrumsynthError(f"{path} appeared while exporting; nothing replaced it (pass --overwrite)")
    return list(files)


def check_inputs(session: Session) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs that check an export against the Session: (z Tensor[n, d], labels Tensor[n, C]), n = C + 3.

    One row per class (one-hot), an even mix of the first two classes, weights outside [0, 1]
    (``1.3, -0.4``: the sliders pass them on) and an all-zero row; z drawn from the model's prior for
    those weights with seed 0, as ``Session.generate`` draws them.
    """
    import torch

    n = len(session.classes)
    second = min(1, n - 1)
    extra = torch.zeros(3, n)
    extra[0, 0], extra[0, second] = 0.5, 0.5
    extra[1, 0], extra[1, second] = 1.3, -0.4
    labels = torch.cat([torch.eye(n), extra])
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        z = session.model.sample_latent(len(labels), generator, labels).detach().float().cpu()
    return z, labels


def eager_decode(session: Session, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The reference: what the Session's model decodes for (z, labels) -> Tensor[n, length]."""
    import torch

    with torch.no_grad():
        return torch.as_tensor(session.model.generate(z, labels)).float().cpu()


def latent_prior_summary(session: Session) -> dict[str, Any]:
    """The prior a host should draw z from: ``{"kind", "class_means"?}`` (means as lists of floats)."""
    prior = getattr(session.model, "latent_prior", None)
    if prior is None or getattr(session.model, "prior", "normal") != "class":
        return {"kind": "normal"}
    means = {c: [round(float(v), 6) for v in prior["classes"][c]["mean"]] for c in session.classes}
    return {"kind": "class_gaussian", "class_means": means}


def metadata(session: Session, fmt: str, path: Path, **extra: Any) -> dict[str, Any]:
    """The record of an export: what it is, what goes in and out, and where it came from."""
    import torch

    model = session.model
    return {
        "format": METADATA_FORMAT, "format_version": METADATA_VERSION, "export_format": fmt, "file": path.name,
        "family": session.family, "classes": list(session.classes), "sample_rate": int(model.sample_rate),
        "length": int(model.length), "latent_dim": int(model.latent_dim),
        "inputs": {"z": {"shape": ["batch", int(model.latent_dim)], "dtype": "float32"},
                   "labels": {"shape": ["batch", len(session.classes)], "dtype": "float32",
                              "columns": list(session.classes)}},
        "outputs": {"wave": {"shape": ["batch", int(model.length)], "dtype": "float32", "range": [-1.0, 1.0],
                             "sample_rate": int(model.sample_rate)}},
        "latent_prior": latent_prior_summary(session), "outside_graph": dict(OUTSIDE),
        "drumsynth_version": drumsynth.__version__, "torch_version": torch.__version__.split("+")[0],
        "checkpoint": session.checkpoint.name, "checkpoint_sha256": session.checkpoint_sha256,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    } | extra


def to_json(record: dict[str, Any]) -> bytes:
    return (json.dumps(record, indent=2, sort_keys=True) + "\n").encode()


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence the exporters' warnings, log lines and progress prints (they would bury the verb's output)."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)  # "torchvision is not installed. Skipping torchvision::nms" and the like
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)
