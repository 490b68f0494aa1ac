"""Training: a generic Trainer plus one Recipe per family (plain PyTorch, DDP through torchrun).

- :mod:`.recipe`      the ``Recipe`` base class a family subclasses (G and D steps written out)
- :mod:`.trainer`     ``Trainer``: cadence, seeding, EMA, logs, previews, keep-best, exact resume
- :mod:`.checkpoint`  resume/release files of plain types (``torch.load`` weights-only), atomic writes
- :mod:`.ema`         ``EMA`` of parameters and buffers; ``unwrap`` strips DDP/compile wrappers
- :mod:`.logging`     JSONL metric log
- :mod:`.distributed` torchrun/DDP helpers (gloo on CPU, nccl on CUDA)
"""

from drumsynth.train.checkpoint import load_checkpoint, save_checkpoint
from drumsynth.train.ema import EMA, unwrap
from drumsynth.train.logging import MetricLog, read_log
from drumsynth.train.recipe import Recipe
from drumsynth.train.trainer import FitResult, Trainer, derive_seed, sampled_batches, seed_everything

__all__ = [
    "EMA",
    "FitResult",
    "MetricLog",
    "Recipe",
    "Trainer",
    "derive_seed",
    "load_checkpoint",
    "read_log",
    "sampled_batches",
    "save_checkpoint",
    "seed_everything",
    "unwrap",
]
