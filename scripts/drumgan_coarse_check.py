"""Does the drumgan generator learn the spectral envelope and the classes at a coarse scale?

A 1-2 minute check to run before any long drumgan training: train the `cpu` preset (plus ``--set``
overrides) for a few hundred steps, then compare the EMA generator's mean log-power profile over
frequency per requested class with the real data's, and assign each generated sound to the nearest
real class profile (shape only: each profile minus its mean).

    .venv/bin/python scripts/drumgan_coarse_check.py --steps 400 --set train.aux_weight=0.0

``--checkpoint RUN/resume.pt`` judges a running (or finished) training run instead, at the scale of
its last step, without training.

Prints the judge's accuracy on real sounds (its ceiling), the generated sounds' class agreement,
and the profiles (every third bin).
"""

from __future__ import annotations

import argparse
import time

import torch

from drumsynth.checkpoint import load_checkpoint
from drumsynth.data.cache import load_cache
from drumsynth.models import build_family_config, checkpoint_config, load_weights
from drumsynth.models.drumgan import data as gdata
from drumsynth.models.drumgan.config import Config, scale_sizes
from drumsynth.models.drumgan.networks import real_at_scale
from drumsynth.models.drumgan.recipe import DrumGANRecipe, stage_at


def log_power(x: torch.Tensor) -> torch.Tensor:
    """Channels Tensor[B, 2, F, N] -> mean log10 power per bin Tensor[B, F]."""
    return torch.log10(x.pow(2).sum(1).mean(-1) + 1e-8)


def shape(x: torch.Tensor) -> torch.Tensor:
    profile = log_power(x)
    return profile - profile.mean(1, keepdim=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="data/corpus")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--set", action="append", default=[], dest="overrides")
    parser.add_argument("--checkpoint", help="judge this resume.pt instead of training")
    args = parser.parse_args()
    torch.set_num_threads(1)
    checkpoint = load_checkpoint(args.checkpoint, kind="resume") if args.checkpoint else None
    if checkpoint is not None:
        config = checkpoint_config(checkpoint, "drumgan", Config)
        args.steps = checkpoint["step"]
    else:
        config = build_family_config("drumgan", "cpu", overrides=args.overrides)
    train = gdata.specset(load_cache(args.data), "train", config.data)
    torch.manual_seed(0)
    recipe = DrumGANRecipe(config, train)
    sizes = scale_sizes(config)
    start = time.time()
    if checkpoint is not None:
        load_weights(checkpoint, "drumgan", {"generator_ema": recipe.generator_ema})
    else:
        batches = gdata.BalancedSpecBatches(train, max(config.train.batch_size), recipe.gain)(
            torch.Generator().manual_seed(0))
        generator = torch.Generator().manual_seed(1)
        for step in range(args.steps):
            recipe.train_step(next(batches), step, generator)
    scale, alpha = stage_at(config, args.steps - 1)
    with torch.no_grad():
        keep = train.semitones == 0
        real = real_at_scale(train.spec[keep] * recipe.gain, sizes, scale, alpha)
        labels = train.labels[keep]
        means = torch.stack([shape(real[labels == k]).mean(0) for k in range(3)])
        z = torch.randn(192, config.model.latent_dim, generator=torch.Generator().manual_seed(5))
        c = torch.eye(3).repeat_interleave(64, 0)
        fake = recipe.generator_ema(z, c, scale, alpha)
        judged_real = torch.cdist(shape(real), means).argmin(1)
        judged_fake = torch.cdist(shape(fake), means).argmin(1)
    print(f"{args.steps} steps ({time.time() - start:.0f} s), scale {scale} {sizes[scale]} fade-in {alpha:.2f}: judge on real "
          f"{float((judged_real == labels).float().mean()):.3f}, generated class agreement "
          f"{float((judged_fake == c.argmax(1)).float().mean()):.3f}")
    torch.set_printoptions(precision=2, linewidth=160)
    for k, name in enumerate(("kick", "snare", "cymbal")):
        print(f"real {name:6s}", log_power(real[labels == k]).mean(0)[::3])
        print(f"fake {name:6s}", log_power(fake[c.argmax(1) == k]).mean(0)[::3])


if __name__ == "__main__":
    main()
