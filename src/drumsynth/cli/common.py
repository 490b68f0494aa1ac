"""Options and output helpers shared by the verbs."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_runtime_options(parser: argparse.ArgumentParser) -> None:
    """--device, --threads, --seed, --json: the same meaning for every verb that computes."""
    parser.add_argument("--device", default="cpu", help="torch device: cpu (default) or cuda")
    parser.add_argument("--threads", type=int, default=None, help="cap torch's CPU threads")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    add_json_option(parser)


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")


def apply_runtime(args: argparse.Namespace) -> None:
    """Honour --threads and check --device before any work starts."""
    import torch

    from drumsynth.errors import DrumsynthError

    if getattr(args, "threads", None):
        torch.set_num_threads(args.threads)
    device = getattr(args, "device", "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise DrumsynthError(f"--device {device} asked for, but torch sees no CUDA device")


def emit(args: argparse.Namespace, payload: dict[str, Any], text: str) -> None:
    """Print ``payload`` as JSON with --json, else the human-readable ``text``."""
    if getattr(args, "json", False):
        json.dump(payload, sys.stdout, indent=2, sort_keys=True, default=str)
        sys.stdout.write("\n")
    else:
        print(text)
