"""The decode graph as a ``.pt2`` file (``torch.export``): the portable program for PyTorch 2 hosts.

``torch.export.load(path).module()(z, labels)`` with z Tensor[B, latent_dim] and class weights
Tensor[B, C] (float32, any batch 1..4096) returns hits Tensor[B, length]; it needs torch only, not
drumsynth. The metadata record travels inside the archive too (``extra_files["drumsynth.json"]``).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from drumsynth.errors import DrumsynthError
from drumsynth.export.graph import EMBEDDED_NAME, quiet

if TYPE_CHECKING:
    import torch

# The largest batch the program accepts: the Session's own limit on hits per request.
MAX_BATCH = 4096


def export_program(decode: torch.nn.Module, z: torch.Tensor, labels: torch.Tensor) -> torch.export.ExportedProgram:
    """``torch.export`` of a decode graph with a dynamic batch (example inputs need a batch of 2 or more)."""
    import torch
    from torch.export import Dim

    batch = Dim("batch", min=1, max=MAX_BATCH)
    with quiet(), torch.no_grad():
        try:
            return torch.export.export(decode.eval(), (z, labels), dynamic_shapes=({0: batch}, {0: batch}))
        except Exception as err:  # torch.export raises many internal types: one clear message for all
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise DrumsynthError(f"this model's decode graph cannot be exported as pt2 ({first}); the torchscript "
                                 "format may still work") from err


def pt2_bytes(decode: torch.nn.Module, z: torch.Tensor, labels: torch.Tensor, record: bytes) -> bytes:
    """The ``.pt2`` archive of ``decode`` with the metadata ``record`` (JSON bytes) inside."""
    import torch

    program = export_program(decode, z, labels)
    buffer = io.BytesIO()
    torch.export.save(program, buffer, extra_files={EMBEDDED_NAME: record.decode()})
    return buffer.getvalue()
