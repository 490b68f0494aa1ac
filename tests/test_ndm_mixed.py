"""ndm's MCNN with its narrow last layers mixing the heads (``mcnn.mixed_layers``), and widened.

A mixed layer is stored ungrouped and runs as the dense polyphase convolution the grouped narrow layers
already run with (their block-diagonal weight), so it costs no time; a grouped model converts exactly
(:func:`block_diagonal_weight`), and a run started with ``--init`` from one learns the off-head blocks. A run
with a larger ``mcnn.channels`` starts from the narrower model's function (:func:`widened_weight`).
"""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from drumsynth.checkpoint import load_checkpoint
from drumsynth.config import build_config
from drumsynth.data.cache import load_cache
from drumsynth.errors import DrumsynthError
from drumsynth.models.ndm import features as feats
from drumsynth.models.ndm.builder import build_modules
from drumsynth.models.ndm.config import Config, check
from drumsynth.models.ndm.mcnn import MCNN, block_diagonal_weight, widened_weight
from drumsynth.models.ndm.recipe import NDMRecipe
from test_finetune import base, finetune, kit  # noqa: F401  (module fixtures)
from test_ndm import _mcnn_heads_reference


def test_mixed_layers_are_ungrouped_and_run_as_their_stored_convolutions():
    torch.manual_seed(0)
    mcnn = MCNN(160, heads=4, layers=5, width=13, channels=16, mixed_layers=2)
    assert [conv.groups for conv in mcnn.convs] == [1, 4, 1, 1, 4]
    assert mcnn.kinds == ["dense", "grouped", "polyphase", "polyphase", "output"]
    with torch.no_grad():
        mcnn.head_weights.copy_(torch.linspace(-1.0, 2.0, 4))
    mel = torch.rand(2, 160, 5)
    expected_signal, expected_mask = _mcnn_heads_reference(mcnn, mel)
    signal, mask_logit = mcnn(mel)
    torch.testing.assert_close(signal, expected_signal, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(mask_logit, expected_mask, atol=1e-6, rtol=1e-5)
    with torch.no_grad():
        clear = expected_mask.abs() > 1e-4
        wave = mcnn.infer(mel)
    torch.testing.assert_close(wave[clear], (expected_signal * (expected_mask > 0)).clamp(-1, 1)[clear],
                               atol=1e-6, rtol=1e-5)


def test_block_diagonal_weight_is_the_grouped_convolution():
    torch.manual_seed(1)
    weight = torch.randn(12, 2, 5)                                 # 3 groups of 4 inputs -> 2 outputs each
    x = torch.randn(2, 12, 7)
    expected = F.conv_transpose1d(x, weight, stride=2, padding=2, output_padding=1, groups=3)
    dense = block_diagonal_weight(weight, 3)
    assert dense.shape == (12, 6, 5)
    assert torch.equal(dense[:4, 2:], torch.zeros(4, 4, 5)) and torch.equal(dense[4:8, 2:4], weight[4:8])
    torch.testing.assert_close(F.conv_transpose1d(x, dense, stride=2, padding=2, output_padding=1), expected)


def test_mixed_layers_must_leave_the_first_and_the_output_layer():
    assert check(build_config(Config, [], ["mcnn.layers=8", "data.hop_length=256", "mcnn.mixed_layers=6"]))
    with pytest.raises(DrumsynthError, match="mcnn.mixed_layers"):
        check(build_config(Config, [], ["mcnn.layers=8", "data.hop_length=256", "mcnn.mixed_layers=7"]))
    with pytest.raises(DrumsynthError, match="mixed_layers"):
        check(build_config(Config, [], ["mcnn.mixed_layers=-1"]))


def test_init_from_separate_heads_starts_from_the_same_function(base, kit):  # noqa: F811
    start = load_checkpoint(base)
    config = build_config(Config, [start["config"]], ["mcnn.mixed_layers=3"])
    recipe = NDMRecipe(config, feats.features(load_cache(kit), "train", config.data))
    recipe.init_from(start)
    grouped = build_modules(build_config(Config, [start["config"]]))[1]
    grouped.load_state_dict(start["model"]["mcnn"])
    assert [conv.groups for conv in recipe.mcnn.convs] == [1, 2, 1, 1, 1, 2]
    mel = torch.rand(3, config.data.n_mels, 6)
    with torch.no_grad():
        torch.testing.assert_close(recipe.mcnn.eval()(mel), grouped.eval()(mel), atol=1e-6, rtol=1e-5)


def test_a_finetune_may_mix_the_heads_and_learns_across_them(base, kit, tmp_path):  # noqa: F811
    from drumsynth.models import family_module

    assert finetune(base, kit, tmp_path / "run", "--steps", "3", "--set", "mcnn.mixed_layers=2") == 0
    release = load_checkpoint(tmp_path / "run" / "release.pt")
    assert release["config"]["mcnn"]["mixed_layers"] == 2
    weight = release["model"]["mcnn"]["convs.4.weight"]           # 2 heads x 2 channels in and out, ungrouped
    assert weight.shape[:2] == (4, 4)
    assert weight[:2, 2:].abs().sum() > 0 and weight[2:, :2].abs().sum() > 0   # the off-head blocks learnt
    model = family_module("ndm").load_model(release)
    hits = model.generate(model.sample_latent(2, torch.Generator().manual_seed(0)), torch.tensor([0, 1]))
    assert hits.shape == (2, model.length) and torch.isfinite(hits).all()


def test_widened_weight_keeps_the_old_blocks_and_silences_the_new_inputs():
    torch.manual_seed(2)
    old, fresh = torch.randn(2 * 3, 2 * 1, 5), torch.randn(2 * 4, 2 * 2, 5)    # 2 heads: 3 -> 4 in, 1 -> 2 out
    wide = widened_weight(old, fresh, in_blocks=2, out_blocks=2)
    blocks = wide.view(2, 4, 2, 2, 5)
    assert torch.equal(blocks[:, :3, :, :1], old.view(2, 3, 2, 1, 5))
    assert torch.equal(blocks[:, 3:], torch.zeros(2, 1, 2, 2, 5))           # new inputs reach nothing
    assert torch.equal(blocks[:, :3, :, 1:], fresh.view(2, 4, 2, 2, 5)[:, :3, :, 1:])   # new outputs: fresh
    with pytest.raises(ValueError, match="narrow"):
        widened_weight(fresh, old, 2, 2)


@pytest.mark.parametrize("mixed", [0, 2])
def test_init_from_a_narrower_mcnn_starts_from_the_same_function(base, kit, mixed):  # noqa: F811
    start = load_checkpoint(base)
    config = build_config(Config, [start["config"]], ["mcnn.channels=16", f"mcnn.mixed_layers={mixed}"])
    recipe = NDMRecipe(config, feats.features(load_cache(kit), "train", config.data))
    recipe.init_from(start)
    narrow = build_modules(build_config(Config, [start["config"]]))[1]
    narrow.load_state_dict(start["model"]["mcnn"])
    assert recipe.mcnn.convs[0].out_channels == 2 * narrow.convs[0].out_channels
    mel = torch.rand(3, config.data.n_mels, 6)
    with torch.no_grad():
        torch.testing.assert_close(recipe.mcnn.eval()(mel), narrow.eval()(mel), atol=1e-6, rtol=1e-5)


def test_a_finetune_may_not_narrow_the_mcnn(base, kit, tmp_path, capsys):  # noqa: F811
    assert finetune(base, kit, tmp_path / "run", "--steps", "1", "--set", "mcnn.channels=4") == 2
    assert "mcnn.channels may only grow" in capsys.readouterr().err


def test_a_finetune_may_not_unmix_the_heads(base, kit, tmp_path, capsys):  # noqa: F811
    assert finetune(base, kit, tmp_path / "mixed", "--steps", "1", "--set", "mcnn.mixed_layers=2") == 0
    assert finetune(tmp_path / "mixed" / "release.pt", kit, tmp_path / "run", "--steps", "1",
                    "--set", "mcnn.mixed_layers=0") == 2
    assert "mcnn.mixed_layers may only grow" in capsys.readouterr().err
