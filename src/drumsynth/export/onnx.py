"""The decode graph as ONNX (``torch.onnx.export``, the torch.export-based exporter), for onnxruntime.

Inputs ``z`` float32 [batch, latent_dim] and ``labels`` float32 [batch, C]; output ``wave`` float32
[batch, length] at the model's rate. The whole chain is in the graph: for drumgan the inverse STFT is
written in real arithmetic (``models.drumgan.spectral.InverseGraph``), since ONNX has no inverse STFT;
ndm's MCNN is plain convolutions. What stays outside is listed in the metadata (``outside_graph``):
drawing z, and the finishing drumsynth applies before it writes a WAV. The metadata record is stored in
the model's ``metadata_props`` under ``drumsynth.json``. Needs the ``export`` extra (onnx, onnxscript;
onnxruntime to run it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from drumsynth.errors import DrumsynthError
from drumsynth.export.graph import EMBEDDED_NAME, quiet
from drumsynth.export.pt2 import MAX_BATCH

if TYPE_CHECKING:
    import torch

# 18: the opset the torch.export-based exporter targets by default in torch 2.x.
OPSET = 18
INPUT_NAMES = ["z", "labels"]
OUTPUT_NAMES = ["wave"]


def onnx_bytes(decode: torch.nn.Module, z: torch.Tensor, labels: torch.Tensor, record: bytes) -> bytes:
    """The ONNX model of ``decode`` (dynamic batch, weights inside the file) with ``record`` in its metadata."""
    import torch
    from torch.export import Dim

    try:
        import onnx
        import onnxscript  # noqa: F401  (the exporter needs it; say so before torch fails deep inside)
    except ImportError as err:
        raise DrumsynthError(f"ONNX export needs the export extra (pip install 'drumsynth[export]'): {err}") from err
    batch = Dim("batch", min=1, max=MAX_BATCH)
    with quiet(), torch.no_grad():
        program = torch.onnx.export(decode.eval(), (z, labels), dynamo=True, opset_version=OPSET,
                                    input_names=INPUT_NAMES, output_names=OUTPUT_NAMES,
                                    dynamic_shapes=({0: batch}, {0: batch}), verbose=False)
        proto = program.model_proto
    entry = proto.metadata_props.add()
    entry.key, entry.value = EMBEDDED_NAME, record.decode()
    onnx.checker.check_model(proto)
    return proto.SerializeToString()
