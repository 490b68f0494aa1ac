"""Where ndm's decoded draws differ from the recordings of their class, on average (docs/ndm.md, session 14).

For every class: the mean standardised log-mel of the training split's clips (pitch copies included, as the
CWAE trains on them) against the mean of 256 decoded draws from the release's class Gaussians (what a
producer hears), and of the split's own reconstructions (encode -> decode). Printed per class: the mean
absolute gap over all cells, and the signed mean gap in regions (in standard deviations of the training
log-mels; positive = louder than the recordings): the top quarter of the mel bins (above about 9 kHz at
the 44.1 kHz preset), the first 10 frames (116 ms, the attack) and the last 40 frames (the tail).

Then the noise floor of a batch-level comparison: the same gap between two class-balanced training
batches (64 clips a class), which is what ``train.class_spectrum`` sees each step.

usage: python scripts/ndm_class_mean_gap.py [MODEL]   (default: the shipped ndm; run from the repository
       root with the corpus in data/corpus)
"""
import sys

import torch
from torch.nn import functional as F

from drumsynth.data.cache import load_cache
from drumsynth.data.taxonomy import CLASSES
from drumsynth.models import family_module
from drumsynth.models.ndm.config import Config
from drumsynth.models.ndm.recipe import CLASS_MEL_POOL, one_hot
from drumsynth.nn.wave import class_means
from drumsynth.train.finetune import finetune_config, load_init

N_DRAWS = 256
ATTACK_FRAMES = 10
TAIL_FRAMES = 40


def regions(gap: torch.Tensor) -> str:
    """gap Tensor[n_mels, N] -> its mean absolute value and the signed means of the named regions."""
    top = slice(int(gap.shape[0] * 0.75), None)
    return (f"{gap.abs().mean():.3f} (top quarter {gap[top].mean():+.3f}, first {ATTACK_FRAMES} frames "
            f"{gap[:, :ATTACK_FRAMES].mean():+.3f}, last {TAIL_FRAMES} {gap[:, -TAIL_FRAMES:].mean():+.3f})")


def main() -> None:
    torch.set_num_threads(1)
    init = load_init(sys.argv[1] if len(sys.argv) > 1 else "ndm")
    module = family_module("ndm")
    config = finetune_config(Config, init, [], [])
    cache = load_cache("data/corpus")
    recipe = module.build_recipe(config, cache)
    recipe.init_from(init.checkpoint)
    model = module.load_model(init.checkpoint)
    wae, train = recipe.wae.eval(), recipe.train_set
    print(f"{init.spec}: class-mean gap of standardised log-mels to the training clips (draws | reconstructions)")
    with torch.no_grad():
        for k, name in enumerate(CLASSES):
            index = (train.labels == k).nonzero()[:, 0]
            if len(index) == 0:
                continue
            x = wae.normalise(train.mels[index])
            real = x.mean(0)[0]
            weights = torch.eye(len(CLASSES))[[k] * N_DRAWS]
            z = model.sample_latent(N_DRAWS, torch.Generator().manual_seed(k), weights)
            drawn = wae.decode(z, weights).mean(0)[0]
            own = torch.eye(len(CLASSES))[[k] * len(index)]
            rebuilt = torch.cat([wae.decode(wae.encode(x[i:i + 256], own[i:i + 256]), own[i:i + 256])
                                 for i in range(0, len(x), 256)]).mean(0)[0]
            print(f"  {name:13s} n={len(index):4d}  draws {regions(drawn - real)}  "
                  f"reconstructions {regions(rebuilt - real)}")
        train_factory, _ = module.data_factories(config, cache, 0, 1)
        batches = iter(train_factory(torch.Generator().manual_seed(0)))
        floors = []
        for _ in range(4):
            (a, present), (b, _) = (class_means(F.avg_pool2d(wae.normalise(batch["mel"]), CLASS_MEL_POOL,
                                                             ceil_mode=True)[:, 0],
                                                one_hot(batch["label"], len(CLASSES)))
                                    for batch in (next(batches), next(batches)))
            floors.append((a[present] - b[present]).abs().mean().item())
    print("two training batches' class-mean gap on the term's cells (its noise floor): "
          + ", ".join(f"{v:.3f}" for v in floors))


if __name__ == "__main__":
    main()
