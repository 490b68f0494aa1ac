"""Seconds per wavegan training step at every stage of a preset, and per inversion step.

Sizes the ``cpu`` preset (docs/wavegan.md): builds the preset's recipe (plus ``--set`` overrides),
runs ``--repeat`` full training steps (n_critic critic updates + one generator update) on a synthetic
batch in the middle of every stage, after its fade-in, and times them on ``--threads`` threads; then
times the GAN inversion of a batch of ``--invert-batch`` sounds (Analyze, Table 2).

    nice -n 10 .venv/bin/python scripts/wavegan_step_time.py --preset cpu --threads 1
"""

from __future__ import annotations

import argparse
import time

import torch

from drumsynth.models import build_family_config, family_module
from drumsynth.models.wavegan.model import WaveGANModel
from drumsynth.models.wavegan.recipe import stage_at


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--invert-batch", type=int, default=8, help="sounds per inversion (0: skip)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = build_family_config("wavegan", args.preset, overrides=args.set)
    recipe = family_module("wavegan").build_recipe(config, None)
    t = config.train
    b, k, n_classes = t.batch_size, t.n_critic, len(recipe.classes)
    batch = {"wave": torch.randn(k * b, 1, config.data.length).tanh(),
             "c": torch.eye(n_classes)[torch.arange(k * b) % n_classes],
             "c_fake": torch.eye(n_classes)[torch.arange(b) % n_classes]}
    generator = torch.Generator().manual_seed(0)
    steps = [0]
    if config.model.start_length:
        starts = [sum(t.stage_steps[:i]) for i in range(len(t.stage_steps))]
        steps = [s + (n - 1 if i else n // 2) for i, (s, n) in enumerate(zip(starts, t.stage_steps))]
    for step in steps:
        recipe.train_step(batch, step, generator)  # warm-up
        start = time.perf_counter()
        for _ in range(args.repeat):
            recipe.train_step(batch, step, generator)
        scale, alpha = stage_at(config, step)
        print(f"{args.preset}: length {recipe.lengths[scale]:6d} (step {step}, alpha {alpha:.2f}): "
              f"{(time.perf_counter() - start) / args.repeat:.3f} s per training step (batch {b}, n_critic {k})",
              flush=True)
    if args.invert_batch:
        model = WaveGANModel(config, recipe.generator)
        z = model.sample_latent(args.invert_batch, torch.Generator().manual_seed(1))
        c = torch.eye(n_classes)[torch.arange(args.invert_batch) % n_classes]
        target = model.generate(z, c)
        start = time.perf_counter()
        model.encode(target, c)
        seconds = time.perf_counter() - start
        inv = config.invert
        print(f"{args.preset}: inversion of {args.invert_batch} sounds, {inv.steps} steps x {inv.restarts} restarts: "
              f"{seconds:.1f} s ({seconds / args.invert_batch:.2f} s per sound)")


if __name__ == "__main__":
    main()
