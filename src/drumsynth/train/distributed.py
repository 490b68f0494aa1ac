"""DDP helpers for runs started by ``torchrun`` (gloo on CPU, nccl on CUDA); no-ops otherwise.

``torchrun --nproc_per_node N`` sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and
``MASTER_PORT``; a plain ``python`` run sets none of them and everything here degrades to one process.
"""

from __future__ import annotations

import inspect
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from drumsynth.errors import DrumsynthError


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits: ``rank`` of ``world_size``, ``local_rank`` on its node, ``device``."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError as err:
        raise DrumsynthError(f"environment variable {name}={raw!r} is not an integer") from err


def init_distributed(device: str | torch.device = "cpu") -> DistInfo:
    """Join the torchrun process group (once) and pick this rank's device.

    Parameters
    ----------
    device : ``"cpu"`` or ``"cuda"``; under torchrun ``"cuda"`` becomes ``cuda:<LOCAL_RANK>``
    """
    device = torch.device(device)
    world_size = _env_int("WORLD_SIZE", 1)
    rank = _env_int("RANK", 0)
    local_rank = _env_int("LOCAL_RANK", 0)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DrumsynthError("device 'cuda' was requested but torch sees no CUDA device")
        if device.index is None:
            device = torch.device("cuda", local_rank if world_size > 1 else 0)
        torch.cuda.set_device(device)
    if world_size > 1 and not dist.is_initialized():
        # gloo is the CPU backend; nccl is the fast one for CUDA tensors.
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    if dist.is_initialized():
        rank, world_size = dist.get_rank(), dist.get_world_size()
    return DistInfo(rank=rank, world_size=world_size, local_rank=local_rank, device=device)


def is_distributed() -> bool:
    """True inside an initialised process group with more than one rank."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def get_rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def get_world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_rank0() -> bool:
    """Only rank 0 writes logs, checkpoints and previews."""
    return get_rank() == 0


def wrap_ddp(module: nn.Module, device: torch.device | None = None) -> nn.Module:
    """``DistributedDataParallel(module)`` under torchrun, ``module`` itself otherwise.

    Wrap G and D separately (GAN steps update them with different optimisers). Modules without
    trainable parameters are returned as they are (DDP refuses them). DDP's constructor broadcasts
    rank 0's parameters and buffers, so every rank starts from identical weights.
    """
    if not is_distributed() or not any(p.requires_grad for p in module.parameters()):
        return module
    device_ids = [device.index] if device is not None and device.type == "cuda" else None
    # No buffer sync in forward: it re-broadcasts buffers in place at every forward, which breaks
    # GAN steps whose graphs use buffers across several D forwards (spectral norm's u with real, fake
    # and gradient-penalty passes). Buffers are synced at construction, and the Trainer calls
    # broadcast_buffers() after each step, outside any autograd graph.
    if "forward_sync_buffers" in inspect.signature(nn.parallel.DistributedDataParallel).parameters:
        sync = {"forward_sync_buffers": False}  # torch >= 2.13 (broadcast_buffers is deprecated)
    else:
        sync = {"broadcast_buffers": False}
    return nn.parallel.DistributedDataParallel(module, device_ids=device_ids, **sync)


def broadcast_buffers(module: nn.Module) -> None:
    """Copy rank 0's buffers (BatchNorm running statistics...) to every rank, in place.

    One collective per dtype: the buffers are packed into one flat tensor. Keeps every rank's full
    state identical, so any rank could write the checkpoint and resume is exact on all of them.
    """
    if not is_distributed():
        return
    _flat_apply(list(module.buffers()), lambda flat: dist.broadcast(flat, src=0))


def _flat_apply(tensors: list[torch.Tensor], collective) -> None:
    """Run ``collective`` (in place on one flat tensor) over ``tensors``, one call per dtype and device."""
    groups: dict[tuple[torch.dtype, torch.device], list[torch.Tensor]] = {}
    for t in tensors:
        groups.setdefault((t.dtype, t.device), []).append(t)
    with torch.no_grad():
        for group in groups.values():
            flat = torch.cat([t.reshape(-1) for t in group])
            collective(flat)
            offset = 0
            for t in group:
                t.copy_(flat[offset:offset + t.numel()].view_as(t))
                offset += t.numel()


def broadcast_module(module: nn.Module) -> None:
    """Copy rank 0's parameters and buffers to every rank, in place (what DDP's constructor does for
    a wrapped module; used for the recipes that average gradients themselves)."""
    if not is_distributed():
        return
    _flat_apply([*module.parameters(), *module.buffers()], lambda flat: dist.broadcast(flat, src=0))


def average_gradients(module: nn.Module) -> None:
    """Average the gradients of ``module``'s parameters over all ranks, in place (before
    ``optimizer.step()``). Parameters without a gradient are left without one: every rank runs the same
    schedule, so the same ones are unused everywhere (a progressive-growing stage's finer blocks), and the
    optimiser skips them as it would in one process."""
    if not is_distributed():
        return
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    world = dist.get_world_size()

    def mean(flat: torch.Tensor) -> None:
        dist.all_reduce(flat)
        flat.div_(world)

    _flat_apply(grads, mean)


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def all_gather_object(obj: Any) -> list[Any]:
    """``[obj of rank 0, obj of rank 1, ...]`` on every rank (``[obj]`` in one process)."""
    if not is_distributed():
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj: Any) -> Any:
    """Rank 0's ``obj`` on every rank."""
    if not is_distributed():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def any_rank(flag: bool) -> bool:
    """True on every rank when ``flag`` is true on any rank (a stop request seen by one rank)."""
    if not is_distributed():
        return flag
    # gloo reduces CPU tensors only; nccl needs the tensor on this rank's GPU.
    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else None
    value = torch.tensor([1 if flag else 0], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def cleanup() -> None:
    """Leave the process group (call once at the end of a torchrun script)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
