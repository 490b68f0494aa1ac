"""One matrix test over every shipped family x preset (STYLE.md §9).

Each preset is built from its TOML overlay, trained for one step (or one pass over its phases) on a small synthetic cache through the
real Trainer, and checked: every parameter received a gradient (Adam moved it), the release file loads
with torch.load's weights-only default and rebuilds the model from its stored config alone, generation
has the documented shape, is finite, and the same seed gives the same audio. Every preset keeps its
architecture but shrinks its batches (and schedule) through the family's ``SMOKE_OVERRIDES``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from conftest import synth_hit
from drumsynth.checkpoint import load_checkpoint
from drumsynth.data.cache import load_cache, write_cache
from drumsynth.data.taxonomy import CLASSES
from drumsynth.models import PRESETS, available_families, build_family_config, family_module
from drumsynth.train import Trainer, seed_everything

MATRIX = [(f, p) for f in available_families() for p in PRESETS]


@pytest.fixture(scope="module")
def synthetic_cache(tmp_path_factory):
    """Three of each of the 8 classes in every split: enough for class-balanced batches."""
    records, waves = [], []
    for split in ("train", "valid", "test"):
        for c, label in enumerate(CLASSES):
            for k in range(3):
                records.append({"id": f"{split}-{label}-{k}", "path": "synthetic", "source": "test",
                                "kit": f"{split}-kit", "instrument": label, "label": label, "split": split,
                                "licence": "CC0"})
                waves.append(synth_hit(label, seconds=0.4, seed=100 * c + k))
    root = tmp_path_factory.mktemp("families") / "cache"
    write_cache(root, records, waves)
    return load_cache(root)


def test_the_matrix_is_not_empty():
    assert MATRIX, "no model family is available"


@pytest.mark.parametrize("family,preset", MATRIX)
def test_preset_trains_saves_reloads_and_generates(family, preset, synthetic_cache, tmp_path: Path):
    module = family_module(family)
    # Families whose schedule has phases (a progressive GAN's scales, then its encoder) walk all of
    # them: SMOKE_STEPS steps with SMOKE_OVERRIDES shortening every phase to a step or so.
    steps = int(getattr(module, "SMOKE_STEPS", 1))
    overrides = [f"train.max_steps={steps}", "train.checkpoint_every=1", "train.valid_every=0",
                 "train.preview_every=0", *getattr(module, "SMOKE_OVERRIDES", [])]
    config = build_family_config(family, preset, overrides=overrides)
    seed_everything(0)
    recipe = module.build_recipe(config, synthetic_cache)
    before = {f"{n}.{p}": t.detach().clone() for n, m in recipe.modules().items() for p, t in m.named_parameters()}
    assert before, "the recipe has no parameters"
    train_data, _ = module.data_factories(config, synthetic_cache, 0, 1)
    result = Trainer(recipe, train_data, tmp_path, max_steps=steps, log_every=1, checkpoint_every=steps,
                     progress=False, seed=0).fit()
    assert result.step == steps
    after = {f"{n}.{p}": t for n, m in recipe.modules().items() for p, t in m.named_parameters()}
    frozen = [k for k in before if torch.equal(before[k], after[k])]
    assert not frozen, f"no gradient reached: {frozen[:5]}"

    raw = torch.load(tmp_path / "release.pt")  # weights-only default: plain types and tensors only
    assert raw["family"] == family and raw["kind"] == "release"
    model = module.load_model(load_checkpoint(tmp_path / "release.pt"))
    assert model.family == family and len(model.classes) >= 3
    labels = torch.eye(len(model.classes))[:2]
    z = model.sample_latent(2, torch.Generator().manual_seed(3))
    assert z.shape == (2, model.latent_dim)
    wave = model.generate(z, labels)
    assert wave.dim() == 2 and wave.shape[0] == 2 and torch.all(torch.isfinite(wave))
    again = module.load_model(load_checkpoint(tmp_path / "release.pt"))
    z2 = again.sample_latent(2, torch.Generator().manual_seed(3))
    assert torch.equal(z, z2) and torch.equal(wave, again.generate(z2, labels))
