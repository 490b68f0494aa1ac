"""ndm's low-rank first MCNN layer (``mcnn.mel_rank``) and the decoder's polyphase hidden layers.

The factors of a dense first layer are fitted to the frames it reads (:func:`factor_first_layer`); a
run started with ``--init`` from a dense model fits them to its training frames and trains on.
"""

from __future__ import annotations

import pytest
import torch

from drumsynth.checkpoint import load_checkpoint
from drumsynth.config import build_config
from drumsynth.data.cache import load_cache
from drumsynth.errors import DrumsynthError
from drumsynth.models.ndm import features as feats
from drumsynth.models.ndm.builder import build_modules
from drumsynth.models.ndm.config import Config, check
from drumsynth.models.ndm.mcnn import MCNN, factor_first_layer
from drumsynth.models.ndm.recipe import NDMRecipe
from test_finetune import KIT_CLASSES, base, finetune, kit, make_cache  # noqa: F401  (module fixtures)


def first_layer_outputs(weight: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    """What each frame Tensor[N, n_mels] adds through a first-layer weight Tensor[n_mels, C, K]: [N, C K]."""
    return frames @ weight.reshape(weight.shape[0], -1)


def test_factors_are_exact_on_frames_of_rank_r_and_the_network_runs_the_same():
    torch.manual_seed(0)
    dense = MCNN(64, heads=2, layers=3, width=5, channels=8)
    low = MCNN(64, heads=2, layers=3, width=5, channels=8, mel_rank=6)
    mel = (torch.randn(4, 20, 6) @ torch.randn(6, 64)).transpose(1, 2).contiguous()   # frames in 6 dims
    projection, first = factor_first_layer(dense.convs[0].weight, mel.transpose(1, 2).reshape(-1, 64), 6)
    assert projection.shape == (6, 64, 1) and first.shape == (6, 16, 5)
    state = dense.state_dict() | {"convs.0.weight": first, "mel_projection.weight": projection}
    low.load_state_dict(state)
    with torch.no_grad():
        assert torch.allclose(low.infer(mel), dense.infer(mel), atol=1e-5)
    assert torch.allclose(low(mel)[0], dense(mel)[0], atol=1e-5)   # the training path too


def test_factors_fit_the_frames_better_than_the_weight_alone():
    # Frames with most of their energy in a few directions (as real mel frames): the fitted factors keep
    # more of the layer's output on them than the weight's own best rank-r truncation (Eckart-Young on
    # the frames' outputs against on the weight) — the reason the fit reads the training frames.
    torch.manual_seed(1)
    weight = torch.randn(32, 8, 5)
    frames = torch.randn(500, 4) @ torch.randn(4, 32) * 3 + 0.1 * torch.randn(500, 32)
    target = first_layer_outputs(weight, frames)
    projection, first = factor_first_layer(weight, frames, 4)
    fitted = first_layer_outputs(projection.squeeze(-1).T @ first.reshape(4, -1), frames)
    u, s, vh = torch.linalg.svd(weight.reshape(32, -1), full_matrices=False)
    truncated = frames @ (u[:, :4] * s[:4] @ vh[:4])
    assert (fitted - target).norm() < 0.5 * (truncated - target).norm()
    assert (fitted - target).norm() < 0.05 * target.norm()


def test_mel_rank_must_be_below_the_mel_bins():
    with pytest.raises(DrumsynthError, match="mcnn.mel_rank"):
        check(build_config(Config, [], ["mcnn.mel_rank=512"]))
    with pytest.raises(DrumsynthError, match="mel_rank"):
        check(build_config(Config, [], ["mcnn.mel_rank=-1"]))


def test_init_from_a_dense_model_fits_the_factors_to_the_training_frames(base, kit):  # noqa: F811
    start = load_checkpoint(base)
    config = build_config(Config, [start["config"]], ["mcnn.mel_rank=8"])
    train = feats.features(load_cache(kit), "train", config.data)
    recipe = NDMRecipe(config, train)
    recipe.init_from(start)
    dense = build_modules(build_config(Config, [start["config"]]))[1]
    dense.load_state_dict(start["model"]["mcnn"])
    assert recipe.mcnn.mel_projection.weight.shape == (8, config.data.n_mels, 1)
    assert torch.equal(recipe.mcnn.input_gain, dense.input_gain)   # the init's scale, not the kit's
    frames = (train.mels[train.semitones == 0] * dense.input_gain).transpose(1, 2).reshape(-1, config.data.n_mels)
    target = first_layer_outputs(dense.convs[0].weight.detach(), frames)
    low = recipe.mcnn
    fitted = first_layer_outputs(low.mel_projection.weight.detach().squeeze(-1).T
                                 @ low.convs[0].weight.detach().reshape(8, -1), frames)
    u, s, vh = torch.linalg.svd(dense.convs[0].weight.detach().reshape(config.data.n_mels, -1), full_matrices=False)
    truncated = frames @ (u[:, :8] * s[:8] @ vh[:8])
    assert (fitted - target).norm() <= (truncated - target).norm()
    for name, value in start["model"]["mcnn"].items():            # every other weight is the init's
        if name != "convs.0.weight":
            assert torch.equal(low.state_dict()[name], value), name


def test_a_finetune_may_add_the_projection_and_the_release_loads(base, kit, tmp_path):  # noqa: F811
    from drumsynth.models import family_module

    assert finetune(base, kit, tmp_path / "run", "--steps", "2", "--set", "mcnn.mel_rank=8") == 0
    release = load_checkpoint(tmp_path / "run" / "release.pt")
    assert release["config"]["mcnn"]["mel_rank"] == 8
    model = family_module("ndm").load_model(release)
    hits = model.generate(model.sample_latent(2, torch.Generator().manual_seed(0)), torch.tensor([0, 1]))
    assert hits.shape == (2, model.length) and torch.isfinite(hits).all()


def test_the_decoders_polyphase_inference_matches_its_training_path():
    config = build_config(Config, [], ["data.n_mels=64", "model.channels=[4, 8, 8]", "model.fc=[16]"])
    wae = build_modules(config)[0].eval()
    z, labels = torch.randn(5, config.model.latent_dim), torch.softmax(torch.randn(5, 8), 1)
    with torch.no_grad():
        fast = wae.decode(z, labels)
    assert torch.allclose(fast, wae.decode(z, labels), atol=1e-5)
    assert len(wae.decoder.hidden_weights()) == 1                  # the polyphase layer ran: [4 -> 8 -> 4 -> 1]


def test_a_finetune_with_new_cwae_widths_keeps_the_mcnn_and_trains_a_new_cwae(base, kit, tmp_path):  # noqa: F811
    """``--init MODEL --set model.channels=...``: the init's MCNN, bit for bit when frozen, beside a new CWAE of
    the asked widths; the init's PCA and class priors belong to the old codes, so none is inherited."""
    from drumsynth.models import family_module

    assert finetune(base, kit, tmp_path / "run", "--steps", "2", "--set", "model.channels=[6, 8]",
                    "--set", "model.fc=[24]", "--set", "train.freeze_mcnn=true") == 0
    start, tuned = load_checkpoint(base), load_checkpoint(tmp_path / "run" / "release.pt")
    assert tuned["config"]["model"]["channels"] == [6, 8] and tuned["config"]["model"]["fc"] == [24]
    for name, value in start["model"]["mcnn"].items():
        assert torch.equal(tuned["model"]["mcnn"][name], value), name
    assert tuned["model"]["wae"]["encoder.convs.0.weight"].shape[0] == 6
    assert not tuned["extra"].get("inherited_classes")
    model = family_module("ndm").load_model(tuned)
    hits = model.generate(model.sample_latent(2, torch.Generator().manual_seed(0)), torch.tensor([0, 1]))
    assert hits.shape == (2, model.length) and torch.isfinite(hits).all()


def test_new_cwae_widths_with_a_frozen_cwae_are_refused(base, kit, tmp_path, capsys):  # noqa: F811
    assert finetune(base, kit, tmp_path / "run", "--steps", "1", "--set", "model.channels=[6, 8]",
                    "--set", "train.freeze_wae=true") == 2
    assert "train.freeze_wae must be false" in capsys.readouterr().err
