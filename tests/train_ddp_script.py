"""Run by tests/test_train.py under ``torchrun --nproc_per_node 2`` (gloo, CPU).

Each rank trains the toy recipe three times: 4 steps in ``<root>/full``; 2 steps then a resume to 4 in
``<root>/part``. Each rank then saves what it ended with to ``<report>/rank<r>.pt`` for the test to
compare (the report folder is not a run folder, so it does not count as "files the Trainer wrote").

usage: train_ddp_script.py ROOT REPORT [wrap|average]   (the recipe's ``ddp_gradients`` mode; default wrap)
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from drumsynth.train import Trainer, seed_everything
from drumsynth.train import distributed as dist_utils
from train_toy import ToyRecipe, sine_batches


def run(out: Path, steps: int, rank: int, mode: str) -> tuple[ToyRecipe, Trainer]:
    # A different initialisation on every rank on purpose: DDP must start all ranks from rank 0's.
    seed_everything(1234 + rank)
    recipe = ToyRecipe()
    recipe.ddp_gradients = mode
    trainer = Trainer(recipe, sine_batches(recipe.cfg), out, max_steps=steps, log_every=1,
                      checkpoint_every=2, preview_every=2, preview_n=1, ema_decay=0.9, seed=5,
                      progress=False)
    trainer.fit()
    return recipe, trainer


def main() -> None:
    root, report = Path(sys.argv[1]), Path(sys.argv[2])
    mode = sys.argv[3] if len(sys.argv) > 3 else "wrap"
    info = dist_utils.init_distributed("cpu")
    full, full_trainer = run(root / "full", 4, info.rank, mode)
    run(root / "part", 2, info.rank, mode)
    resumed, resumed_trainer = run(root / "part", 4, info.rank, mode)

    def state(recipe: ToyRecipe) -> dict:
        return {name: {k: v.clone() for k, v in m.state_dict().items()}
                for name, m in recipe.modules().items()}

    torch.save({
        "world_size": info.world_size,
        "wrapped": sorted(n for n, m in full.nets.items() if isinstance(m, torch.nn.parallel.DistributedDataParallel)),
        "full": state(full),
        "resumed": state(resumed),
        "full_ema": full_trainer.emas["generator"].state_dict(),
        "resumed_ema": resumed_trainer.emas["generator"].state_dict(),
        "first_batch": full.seen[0],
        "resumed_batches": torch.stack(resumed.seen),
        "full_batches": torch.stack(full.seen[2:]),
    }, report / f"rank{info.rank}.pt")
    dist_utils.cleanup()


if __name__ == "__main__":
    main()
