"""Checkpoint files: plain types and tensors only, written atomically, read with clear errors.

Two kinds share one layout (``kind`` tells them apart):

resume file (everything needed to continue bit-identically)::

    {"format": "drumsynth-checkpoint", "format_version": 1, "kind": "resume",
     "family": str, "config": dict, "step": int, "metrics": {str: float},
     "model": {module name: state_dict}, "ema": {module name: state_dict},
     "optim": {name: optimizer state_dict}, "sched": {name: scheduler state_dict},
     "recipe": dict (Recipe.state_dict()), "rng": see capture_rng(),
     "trainer": {"seed", "ema_decay", "world_size", "best"}, "version": str, "created": str}

release file (inference only, small)::

    {"format", "format_version", "kind": "release", "family", "config", "step", "metrics",
     "model": {inference module name: state_dict (EMA weights when kept)},
     "weights": {module name: "ema" | "raw"}, "extra": dict (Recipe.release_extra()),
     "seed": int, "version", "created"}

Everything loads with ``torch.load(path, weights_only=True)``: no pickled classes, so a checkpoint from
a stranger cannot run code, and old checkpoints never depend on class paths. This module is the write
side; reading (``load_checkpoint``, the format constants) is :mod:`drumsynth.checkpoint`, re-exported
here.
"""

from __future__ import annotations

import datetime as _dt
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

import drumsynth
from drumsynth.audio.io import atomic_open, is_atomic_temp
from drumsynth.checkpoint import FORMAT, FORMAT_VERSION, KINDS, load_checkpoint
from drumsynth.errors import DrumsynthError
from drumsynth.train.ema import unwrap

__all__ = ["FORMAT", "FORMAT_VERSION", "KINDS", "capture_rng", "check_plain", "load_checkpoint", "module_state",
           "new_checkpoint", "remove_orphan_temps", "restore_rng", "save_checkpoint", "to_cpu"]

# Leaf types the weights-only unpickler accepts and that mean the same thing in any later version.
_PLAIN_LEAVES = (str, int, float, bool, type(None), torch.Tensor, torch.dtype, torch.Size)


def module_state(module: nn.Module) -> dict[str, torch.Tensor]:
    """``state_dict`` of the plain module (DDP / compile wrappers stripped), detached on the CPU."""
    return {k: v.detach().cpu().clone() for k, v in unwrap(module).state_dict().items()}


def to_cpu(obj: Any) -> Any:
    """Copy of a nested dict/list/tuple with every tensor moved to the CPU (loadable anywhere)."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu().clone()
    if isinstance(obj, dict):
        return {k: to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(to_cpu(v) for v in obj)
    return obj


def check_plain(obj: Any, where: str = "checkpoint") -> None:
    """Raise ``DrumsynthError`` naming the first value that is not a plain type or a tensor.

    Checked before writing, because the weights-only loader would only refuse the file later, on
    another machine, when the run that wrote it is gone.
    """
    if isinstance(obj, dict):
        for key, value in obj.items():
            if not isinstance(key, str | int):
                raise DrumsynthError(f"{where}: key {key!r} is a {type(key).__name__}, not str or int")
            check_plain(value, f"{where}[{key!r}]")
    elif isinstance(obj, list | tuple):
        for i, value in enumerate(obj):
            check_plain(value, f"{where}[{i}]")
    elif not isinstance(obj, _PLAIN_LEAVES):
        raise DrumsynthError(
            f"{where} is a {type(obj).__module__}.{type(obj).__name__}; checkpoints hold plain types "
            "and tensors only")


def new_checkpoint(kind: str, *, family: str, config: dict[str, Any], step: int,
                   metrics: dict[str, float] | None = None, **fields: Any) -> dict[str, Any]:
    """The common header plus ``fields``; see the module docstring for each kind's keys."""
    if kind not in KINDS:
        raise DrumsynthError(f"checkpoint kind {kind!r} is not one of {list(KINDS)}")
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "family": family,
        "config": config,
        "step": int(step),
        "metrics": {k: float(v) for k, v in (metrics or {}).items()},
        **fields,
        "version": drumsynth.__version__,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }


def save_checkpoint(checkpoint: dict[str, Any], path: str | Path) -> Path:
    """Write ``checkpoint`` atomically: a temporary file in the same folder, fsync, ``os.replace``.

    A crash or an exception mid-write leaves the previous file at ``path`` untouched and no
    temporary file behind (a ``kill -9`` can leave one: see :func:`remove_orphan_temps`). The file
    gets the usual mode for new files under the process's umask.
    """
    check_plain(checkpoint)
    with atomic_open(path, fsync=True) as fh:
        torch.save(checkpoint, fh)
    return Path(path)


def remove_orphan_temps(folder: str | Path) -> list[Path]:
    """Delete the temporary files an interrupted atomic write left in ``folder``; return them.

    Only regular files named the way :func:`drumsynth.audio.io.atomic_open` names its temporaries
    (``.NAME.XXXXXXXX.tmp``) are removed, and only directly in ``folder``: nothing a user wrote.
    Call it when no other process writes into ``folder``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for path in sorted(folder.iterdir()):
        if is_atomic_temp(path):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


# ---- random number generator states as plain types ------------------------------------------------


def capture_rng(generators: dict[str, torch.Generator], device: torch.device | None = None
                ) -> dict[str, Any]:
    """This process's RNG states as plain types and tensors.

    Returns ``{"torch": ByteTensor, "numpy": [name, [ints], pos, has_gauss, cached],
    "python": [version, [ints], gauss_next], "cuda": ByteTensor | None,
    "generators": {name: ByteTensor}}``.
    """
    np_name, np_keys, np_pos, np_has_gauss, np_cached = np.random.get_state()
    py_version, py_state, py_gauss = random.getstate()
    cuda = None
    if device is not None and device.type == "cuda":
        cuda = torch.cuda.get_rng_state(device)
    return {
        "torch": torch.get_rng_state(),
        "numpy": [str(np_name), [int(k) for k in np_keys], int(np_pos), int(np_has_gauss),
                  float(np_cached)],
        "python": [int(py_version), [int(k) for k in py_state], py_gauss],
        "cuda": cuda,
        "generators": {name: g.get_state() for name, g in generators.items()},
    }


def restore_rng(state: dict[str, Any], generators: dict[str, torch.Generator],
                device: torch.device | None = None) -> None:
    """Inverse of :func:`capture_rng`; ``generators`` are set in place."""
    try:
        torch.set_rng_state(state["torch"])
        np_name, np_keys, np_pos, np_has_gauss, np_cached = state["numpy"]
        np.random.set_state((np_name, np.asarray(np_keys, dtype=np.uint32), np_pos, np_has_gauss,
                             np_cached))
        py_version, py_state, py_gauss = state["python"]
        random.setstate((py_version, tuple(py_state), py_gauss))
        if state.get("cuda") is not None and device is not None and device.type == "cuda":
            torch.cuda.set_rng_state(state["cuda"], device)
        for name, generator in generators.items():
            generator.set_state(state["generators"][name])
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        raise DrumsynthError(f"checkpoint RNG state is damaged or from another layout: {err!r}") from err
