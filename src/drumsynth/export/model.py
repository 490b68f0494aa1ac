"""Export a loaded model to a file a host can run without drumsynth: TorchScript, ONNX or ``.pt2``.

=============  ============  ===================================================================
format         file          holds
=============  ============  ===================================================================
torchscript    ``*.ts``      nn~ methods decode / encode / forward + generate / analyze (LibTorch)
onnx           ``*.onnx``    the decode graph: z, labels -> wave (onnxruntime)
pt2            ``*.pt2``     the decode graph as a ``torch.export`` program
=============  ============  ===================================================================

Each writes ``<file>.json`` beside it (:func:`drumsynth.export.graph.metadata`: family, classes,
sample rate, shapes, versions, the checkpoint's sha256) and never replaces an existing file unless
``overwrite``. A family plugs in through its model's ``export_graphs()`` (``Session.export_graphs``).
See docs/export.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from drumsynth.export.graph import (
    FORMATS,
    check_inputs,
    check_targets,
    metadata,
    output_paths,
    to_json,
    write_files,
)

if TYPE_CHECKING:
    from drumsynth.inference.session import Session

ENTRY_POINTS = {
    "torchscript": "torch.jit.load(file).generate(z, labels); nn~: [nn~ file decode]",
    "onnx": "onnxruntime.InferenceSession(file).run(['wave'], {'z': z, 'labels': labels})",
    "pt2": "torch.export.load(file).module()(z, labels)",
}


def torchscript_record(module) -> dict[str, Any]:
    """The nn~ side of a TorchScript export for its metadata: methods, ratio, attributes."""
    methods = {name: {"params": [int(v) for v in getattr(module, f"{name}_params")],
                      "input_labels": list(getattr(module, f"{name}_input_labels")),
                      "output_labels": list(getattr(module, f"{name}_output_labels"))}
               for name in module.get_methods()}
    attributes = {name: getattr(module, f"get_{name}")() for name in module.get_attributes()}
    return {"nn_tilde": {"methods": methods, "attributes": attributes, "ratio": int(module.ratio),
                         "sr": int(module.sr), "length": int(module.length)},
            "encoder": "encode" in methods}


def export_model(session: Session, fmt: str, out: str | Path, *, overwrite: bool = False,
                 ratio: int | None = None, host_sr: int | None = None) -> dict[str, Any]:
    """Write ``session``'s model to ``out`` as ``fmt`` (one of ``FORMATS``) with its JSON sidecar.

    ``ratio`` (TorchScript only): samples per frame of nn~'s trigger/latent signals, a power of two
    (default 256); ``host_sr`` (TorchScript only): the sample rate nn~ will run at (default the
    model's; the module resamples between the two). Returns ``{"format", "family", "file", "metadata", "bytes"}``. Existing files are a
    ``DrumsynthError`` (checked before any work) unless ``overwrite``.
    """
    from drumsynth.errors import DrumsynthError

    path, sidecar = output_paths(out, fmt)
    for name, value in (("ratio", ratio), ("host sample rate", host_sr)):
        if value is not None and fmt != "torchscript":
            raise DrumsynthError(f"the {name} applies to torchscript exports only, not {fmt}")
    check_targets([path, sidecar], overwrite)
    graphs = session.export_graphs(portable=fmt == "onnx")
    z, labels = check_inputs(session)
    extra: dict[str, Any] = {"entry_point": ENTRY_POINTS[fmt]}
    if fmt == "torchscript":
        from drumsynth.export import torchscript

        module = torchscript.scripted_module(session, graphs, z, labels, ratio or torchscript.DEFAULT_RATIO,
                                             host_sr)
        record = metadata(session, fmt, path, **extra, **torchscript_record(module))
        payload = torchscript.torchscript_bytes(module, to_json(record))
    else:
        exporter = _graph_exporter(fmt)
        record = metadata(session, fmt, path, **extra, encoder=False)
        payload = exporter(graphs["decode"], z, labels, to_json(record))
    write_files({path: payload, sidecar: to_json(record)}, overwrite)
    return {"format": fmt, "family": session.family, "file": str(path), "metadata": str(sidecar),
            "bytes": len(payload)}


def _graph_exporter(fmt: str):
    if fmt == "onnx":
        from drumsynth.export.onnx import onnx_bytes

        return onnx_bytes
    from drumsynth.export.pt2 import pt2_bytes

    return pt2_bytes


__all__ = ["FORMATS", "export_model"]
