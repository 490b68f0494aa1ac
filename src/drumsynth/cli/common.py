"""Options and output helpers shared by the verbs."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from typing import Any

SEED_MAX = 2**63 - 1  # seeds go into torch.Generator.manual_seed and int64 tensors
_DEVICE = re.compile(r"^(cpu|cuda(:\d{1,3})?)$")


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


def seed_int(text: str) -> int:
    """argparse type: a seed in [0, 2**63 - 1] (what a torch.Generator accepts)."""
    value = _integer(text)
    if not 0 <= value <= SEED_MAX:
        raise argparse.ArgumentTypeError(f"seed {text} is outside [0, 2**63 - 1]")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = _integer(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive integer")
    return value


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity where the OS tells it, else all)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def thread_count(text: str) -> int:
    """argparse type: torch CPU threads in [1, usable cores]; more only oversubscribes (and
    ``--threads 100000`` makes torch's thread pool crash)."""
    value = _integer(text)
    cores = usable_cores()
    if not 1 <= value <= cores:
        raise argparse.ArgumentTypeError(f"{text} is outside [1, {cores}] (the cores this process may use)")
    return value


def device_name(text: str) -> str:
    """argparse type: ``cpu``, ``cuda`` or ``cuda:N``; whether that CUDA device exists is checked by
    :func:`apply_runtime` (so that parsing does not import torch)."""
    name = text.strip().lower()
    if not _DEVICE.match(name):
        raise argparse.ArgumentTypeError(f"device {text!r} is not one of cpu, cuda, cuda:N")
    return name


def add_device_options(parser: argparse.ArgumentParser) -> None:
    """--device and --threads, checked at parse time."""
    parser.add_argument("--device", type=device_name, default="cpu", help="torch device: cpu (default), cuda, cuda:N")
    parser.add_argument("--threads", type=thread_count, default=None,
                        help=f"cap torch's CPU threads (1..{usable_cores()} here)")


def add_runtime_options(parser: argparse.ArgumentParser) -> None:
    """--device, --threads, --seed, --json: the same meaning for every verb that computes."""
    add_device_options(parser)
    parser.add_argument("--seed", type=seed_int, default=0, help="random seed in [0, 2**63 - 1] (default 0)")
    add_json_option(parser)


def add_output_options(parser: argparse.ArgumentParser) -> None:
    """``--out DIR``, ``--sr`` and ``--bit-depth``: where and how rendered hits are written."""
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--sr", type=int, default=44100, choices=(44100, 48000), help="file sample rate")
    parser.add_argument("--bit-depth", default="24", choices=("16", "24", "32f"), help="WAV sample format")


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")


def apply_runtime(args: argparse.Namespace) -> None:
    """Honour --threads and check --device (that the CUDA device exists) before any work starts."""
    import torch

    from drumsynth.errors import DrumsynthError

    if getattr(args, "threads", None):
        torch.set_num_threads(args.threads)
    device = getattr(args, "device", "cpu")
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DrumsynthError(f"--device {device} asked for, but torch sees no CUDA device")
        index = int(device.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise DrumsynthError(f"--device {device}: torch sees {torch.cuda.device_count()} CUDA device(s)")


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


def add_style_options(parser: argparse.ArgumentParser) -> None:
    """--style K=VALUE …, --style-layers, --noise: the style family's controls (seed §2.3)."""
    group = parser.add_argument_group("style controls (style models only)")
    group.add_argument("--style", nargs="+", metavar="K=VALUE",
                       help="PCA style faders: fader K (0-based, the K-th principal direction of w) moved VALUE "
                            "standard deviations, e.g. 0=2 3=-1.5")
    group.add_argument("--style-layers", metavar="GROUP",
                       help="the layers the faders move: all (default), low, mid, high or a layer index")
    group.add_argument("--noise", type=float, metavar="AMOUNT",
                       help="noise amount of every generator layer: 1 as trained (default), 0 none, more for "
                            "more stochastic high-frequency detail")


def apply_style(session: Any, args: argparse.Namespace) -> None:
    """Set what --style / --style-layers / --noise asked for on ``session`` (a ``DrumsynthError`` for a
    model without style controls, a malformed item or a value out of range)."""
    from drumsynth.errors import DrumsynthError

    if getattr(args, "style_layers", None) is not None:
        session.set_style_layers(args.style_layers)
    for item in getattr(args, "style", None) or []:
        k, sep, value = item.partition("=")
        try:
            index, amount = int(k), float(value)
        except ValueError:
            index, sep = -1, ""
        if not sep or index < 0:
            raise DrumsynthError(f"--style item {item!r} is not K=VALUE (e.g. 0=2.5)")
        session.set_style(index, amount)
    if getattr(args, "noise", None) is not None:
        session.set_noise(args.noise)
