"""The shipped drumgan release as a resume checkpoint at its own step (3400), so that `drumsynth train`
continues it with encoder steps only (docs/drumgan.md, "Encoder on real sounds"). `--init drumgan` cannot:
it refuses a release file, which keeps no generator or critic.

The resume file holds the shipped generator (as generator and EMA generator), the shipped encoder, gain and
selection record, a fresh critic that no encoder step uses, and fresh optimiser and RNG states; its
config is the `cpu` preset with the overrides given, which may differ from the shipped one in `train.*` only.

usage: python scripts/drumgan_release_as_resume.py OUT KEY=VALUE...   (the same --set overrides the train call gets)
"""
import sys

import torch

from drumsynth.checkpoint import load_checkpoint
from drumsynth.config import to_dict
from drumsynth.data.cache import load_cache
from drumsynth.models import build_family_config
from drumsynth.models.drumgan.recipe import build_recipe
from drumsynth.train import derive_seed, save_checkpoint, seed_everything
from drumsynth.train.checkpoint import capture_rng, module_state, new_checkpoint, to_cpu
from drumsynth.train.trainer import config_diff

out, overrides = sys.argv[1], sys.argv[2:]
shipped = load_checkpoint("src/drumsynth/pretrained/drumgan.pt")
config = build_family_config("drumgan", "cpu", overrides=overrides)
beyond_train = [d for d in config_diff(shipped["config"], to_dict(config)) if not d.startswith("train.")]
assert beyond_train == ["model.smooth_upsample: (absent) -> False"], beyond_train  # the default: the same model
step, seed = int(shipped["step"]), config.train.seed
seed_everything(seed)
recipe = build_recipe(config, load_cache("data/corpus"))
print("gain fitted", recipe.gain, "shipped", shipped["extra"]["gain"])  # the shipped one is kept
recipe.gain = float(shipped["extra"]["gain"])
recipe.generator_ema.load_state_dict(shipped["model"]["generator_ema"])
recipe.generator.load_state_dict(shipped["model"]["generator_ema"])  # unused: no GAN step follows
recipe.encoder.load_state_dict(shipped["model"]["encoder"])
sel = shipped["extra"]["selected"]  # the shipped generator is the selected one, already loaded
recipe.selection.load_state_dict({"selected": {"agreement": sel["class_agreement"], "step": sel["step"],
                                               "weights": module_state(recipe.generator_ema)},
                                  "selection_loaded": True})
seed_everything(derive_seed(seed, 0, 0, step))
gens = {"recipe": torch.Generator().manual_seed(derive_seed(seed, 0, 1, step)),
        "data": torch.Generator().manual_seed(derive_seed(seed, 0, 2, step))}
resume = new_checkpoint(
    "resume", family="drumgan", config=to_cpu(recipe.config), step=step, metrics={},
    model={name: module_state(m) for name, m in recipe.modules().items()}, ema={},
    optim={name: to_cpu(o.state_dict()) for name, o in recipe.optimizers().items()}, sched={},
    recipe=to_cpu(recipe.state_dict()), rng=to_cpu({**capture_rng(gens), "world_size": 1, "other_ranks": []}),
    trainer={"seed": seed, "ema_decay": config.train.ema_decay, "world_size": 1, "best": None})
print(save_checkpoint(resume, f"{out}/resume.pt"), "at step", step)
