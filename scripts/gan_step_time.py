"""Milliseconds per training step of the waveform GANs (wavegan, style) side by side, stage by stage.

Builds each family's ``--preset`` recipe, runs ``--repeat`` full training steps (n_critic critic updates
and one generator update) on a synthetic batch at every clip length of the preset's growing schedule
(after its fade-in), one family after the other on ``--threads`` threads, and prints the medians. The
families take turns on the same machine, so their ratio holds even where the machine is shared.

    nice -n 10 .venv/bin/python scripts/gan_step_time.py --preset cpu --threads 1
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from drumsynth.models import build_family_config, family_module

FAMILIES = ("wavegan", "style")


def step_ms(family: str, preset: str, length_index: int, repeat: int) -> tuple[int, float]:
    """(clip length, median ms per step) of ``family`` at the ``length_index``-th stage of its schedule."""
    config = build_family_config(family, preset)
    recipe = family_module(family).build_recipe(config, None)
    recipe.bind(recipe.modules())
    t = config.train
    step = sum(t.stage_steps[:length_index + 1]) - 1  # the stage's last step: faded in
    b, k = t.batch_size, t.n_critic
    batch = {"wave": 0.1 * torch.randn(k * b, 1, config.data.length), "c": torch.eye(3)[torch.arange(k * b) % 3],
             "c_fake": torch.eye(3)[torch.arange(b) % 3]}
    generator = torch.Generator().manual_seed(0)
    recipe.train_step(batch, step, generator)  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        metrics = recipe.train_step(batch, step, generator)
        times.append(1000 * (time.perf_counter() - start))
    return int(metrics["stage/length"]), statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    n_stages = len(build_family_config("style", args.preset).train.stage_steps)
    print("| clip length | " + " | ".join(f"{f} ms/step" for f in FAMILIES) + " | style / wavegan |")
    print("|---|" + "---|" * (len(FAMILIES) + 1))
    for index in range(n_stages):
        results = [step_ms(family, args.preset, index, args.repeat) for family in FAMILIES]
        ratio = results[1][1] / results[0][1]
        print(f"| {results[0][0]} | " + " | ".join(f"{ms:.0f}" for _, ms in results) + f" | {ratio:.2f} |")


if __name__ == "__main__":
    main()
