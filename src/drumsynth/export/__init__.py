"""Exports: WAV files with sidecars (and, with the export extra, networks as .pt2/ONNX/TorchScript)."""
