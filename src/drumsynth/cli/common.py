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


def add_output_options(parser: argparse.ArgumentParser) -> None:
    """``--out DIR``, ``--sr`` and ``--bit-depth``: where and how rendered hits are written."""
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--sr", type=int, default=44100, choices=(44100, 48000), help="file sample rate")
    parser.add_argument("--bit-depth", default="24", choices=("16", "24", "32f"), help="WAV sample format")


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


def add_class_options(parser: argparse.ArgumentParser, *, required: bool) -> None:
    """--class NAME or --mix NAME=WEIGHT …: one class, or independent class weights (the sliders)."""
    group = parser.add_mutually_exclusive_group(required=required)
    group.add_argument("--class", dest="cls", help="drum class, e.g. kick, snare, cymbal")
    group.add_argument("--mix", nargs="+", metavar="NAME=WEIGHT",
                       help="class weights, e.g. kick=0.8 snare=0.3 (classes not named get 0; "
                            "weights outside [0, 1] are passed to the model as they are)")


def parse_mix(items: list[str], classes: tuple[str, ...] | list[str]) -> list[float]:
    """``["kick=0.8", "snare=0.3"]`` -> one weight per class of ``classes`` (names not given: 0).

    Raises ``DrumsynthError`` for a malformed item, an unknown or repeated name, or a non-finite weight.
    """
    import math

    from drumsynth.errors import DrumsynthError

    classes = list(classes)
    weights = [0.0] * len(classes)
    seen: set[str] = set()
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise DrumsynthError(f"--mix item {item!r} is not NAME=WEIGHT (e.g. kick=0.8)")
        if name not in classes:
            raise DrumsynthError(f"--mix class {name!r} is not one of this model's classes {classes}")
        if name in seen:
            raise DrumsynthError(f"--mix names class {name!r} twice")
        try:
            weight = float(value)
        except ValueError:
            weight = math.nan
        if not math.isfinite(weight):
            raise DrumsynthError(f"--mix weight {value!r} for {name!r} is not a finite number")
        seen.add(name)
        weights[classes.index(name)] = weight
    return weights


def class_choice(args: argparse.Namespace, classes: tuple[str, ...]) -> str | list[float] | None:
    """What --class / --mix asked for, as ``Session.class_weights`` takes it (``None``: neither)."""
    if getattr(args, "mix", None):
        return parse_mix(args.mix, classes)
    return getattr(args, "cls", None)
