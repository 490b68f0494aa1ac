"""The decoder trained through the inverter (train.render_weight, train.render_adversarial_weight,
train.render_feature_matching) with a frozen encoder (train.freeze_encoder): the `decoder` preset
(issue 14, goal 4)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from drumsynth.errors import DrumsynthError
from drumsynth.models import build_family_config, family_module
from drumsynth.models.ndm.config import check
from drumsynth.nn.wave import spectral_loss
from test_ndm_envelope import _cache, _moved, _step

CRITIC = ["train.mcnn_critic_ffts=[256, 512]", "train.mcnn_critic_channels=[4, 4, 8, 8]",
          "train.mcnn_critic_crop=4096"]


def test_a_frozen_encoder_keeps_every_code_while_the_decoder_learns(tmp_path):
    _, recipe, batch, before, metrics, _ = _step(tmp_path / "frozen", ["train.freeze_mcnn=true",
                                                                    "train.freeze_encoder=true"])
    # Weights and batch-norm statistics: the encoder's are untouched, so its codes are the same.
    assert not _moved(recipe.wae.encoder, before["encoder"]) and _moved(recipe.wae.decoder, before["decoder"])
    assert not _moved(recipe.mcnn, before["mcnn"])
    # The MMD is reported but, with no gradient to give, left out of the loss.
    assert metrics["loss/mmd"] > 0 and metrics["loss/wae"] == pytest.approx(metrics["loss/mse"], rel=1e-6)
    # Without it the same step moves the encoder (the check above can fail).
    _, plain, _, plain_before, plain_metrics, _ = _step(tmp_path / "plain", ["train.freeze_mcnn=true"])
    assert _moved(plain.wae.encoder, plain_before["encoder"])
    assert plain_metrics["loss/wae"] == pytest.approx(plain_metrics["loss/mse"] + 10.0 * plain_metrics["loss/mmd"],
                                                      rel=1e-5)


def test_the_rendering_term_is_the_stft_loss_of_the_mcnns_rendering_and_trains_the_decoder_only(tmp_path):
    overrides = ["train.freeze_encoder=true", "train.render_weight=0.5", "train.render_clips=3",
                 "train.stft_ffts=[256, 512]"]
    _, recipe, batch, before, metrics, _ = _step(tmp_path / "on", overrides)
    assert "wave" in batch and batch["wave"].shape[0] == batch["mel"].shape[0]
    assert {"loss/render", "loss/render_stft", "loss/mcnn"} <= set(metrics) and "loss/render_adv" not in metrics
    assert metrics["loss/wae"] == pytest.approx(metrics["loss/mse"] + 0.5 * metrics["loss/render"], rel=1e-5)
    # The MCNN's own step trains it (the rendering term gives it no gradient: see the faint run below).
    assert _moved(recipe.mcnn, before["mcnn"]) and not _moved(recipe.wae.encoder, before["encoder"])

    # Recomputed by hand on the same draw: the clips picked by the step's generator, rendered with the soft
    # mask by the MCNN as it was before the step, from the decoder's reconstruction before the step.
    _, fresh, _, _, _, _ = _step(tmp_path / "again", ["train.freeze_mcnn=true", *overrides])
    fresh.wae.load_state_dict({**{f"encoder.{k}": v for k, v in before["encoder"].items()},
                               **{f"decoder.{k}": v for k, v in before["decoder"].items()},
                               "mel_mean": fresh.wae.mel_mean, "mel_std": fresh.wae.mel_std})
    fresh.mcnn.load_state_dict(before["mcnn"])
    fresh.wae.train()
    generator = torch.Generator().manual_seed(1)
    x = fresh.wae.normalise(batch["mel"])
    torch.randn(len(x), fresh.wae.latent_dim, generator=generator)  # the step's prior codes come first
    labels = torch.nn.functional.one_hot(batch["label"], 8).float()
    with torch.no_grad():
        fresh.wae.encoder.eval()
        x_hat = fresh.wae.decode(fresh.wae.encode(x, labels), labels)
        pick = torch.randperm(len(x_hat), generator=generator)[:3]
        signal, mask = fresh.mcnn(fresh.wae.denormalise(x_hat[pick]))
        wave = batch["wave"][pick]
        out = signal[:, :wave.shape[-1]] * torch.sigmoid(mask[:, :wave.shape[-1]])
        expected = float(spectral_loss(out, wave, [256, 512]).mean())
    assert metrics["loss/render"] == pytest.approx(expected, rel=1e-4)


def test_the_rendering_term_hears_band_envelopes_with_the_mcnns_envelope_weight(tmp_path):
    common = ["train.freeze_mcnn=true", "train.freeze_encoder=true", "train.render_weight=1", "train.render_clips=2"]
    _, _, _, _, metrics, valid = _step(tmp_path / "on", [*common, "train.envelope_weight=2"])
    assert metrics["loss/render_envelope"] > 0
    assert metrics["loss/render"] == pytest.approx(metrics["loss/render_stft"] + 2 * metrics["loss/render_envelope"],
                                                   rel=1e-6)
    _, _, _, _, plain, _ = _step(tmp_path / "off", common)
    assert "loss/render_envelope" not in plain and plain["loss/render"] == plain["loss/render_stft"]
    assert plain["loss/render_stft"] == pytest.approx(metrics["loss/render_stft"], rel=1e-6)  # the same draw


def test_the_rendering_term_moves_the_decoder_by_its_weight_and_never_the_mcnn(tmp_path):
    common = ["train.freeze_mcnn=true", "train.freeze_encoder=true", "train.render_clips=2"]
    _, faint, _, before, _, _ = _step(tmp_path / "a", [*common, "train.render_weight=1e-9"])
    _, strong, _, _, _, _ = _step(tmp_path / "b", [*common, "train.render_weight=10"])
    assert not _moved(strong.mcnn, before["mcnn"])
    assert all(p.grad is None for p in strong.mcnn.parameters())
    faint_params, strong_params = (dict(r.wae.decoder.named_parameters()) for r in (faint, strong))
    assert any(not torch.allclose(faint_params[k], strong_params[k], atol=1e-7) for k in faint_params)


def test_the_critic_judges_the_renderings_and_the_release_keeps_no_critic(tmp_path):
    overrides = ["train.freeze_mcnn=true", "train.freeze_encoder=true", "train.render_weight=1",
                 "train.render_adversarial_weight=0.5", "train.render_feature_matching=3", "train.render_clips=2",
                 *CRITIC]
    _, recipe, _, before, metrics, _ = _step(tmp_path, overrides)
    assert {"loss/render_adv", "loss/render_fm", "loss/render_critic", "render_critic/real",
            "render_critic/fake"} <= set(metrics)
    assert "loss/mcnn_critic" not in metrics
    assert _moved(recipe.wave_critic, before["wave_critic"]) and not _moved(recipe.mcnn, before["mcnn"])
    assert metrics["loss/wae"] == pytest.approx(metrics["loss/mse"] + metrics["loss/render"]
                                                + 0.5 * metrics["loss/render_adv"] + 3 * metrics["loss/render_fm"],
                                                rel=1e-5)
    assert recipe.release_modules() == ["wae", "mcnn"]


def test_validation_reports_the_rendering_of_the_reconstructions(tmp_path):
    cfg = build_family_config("ndm", "tiny", overrides=["train.freeze_mcnn=true", "train.render_weight=1"])
    module = family_module("ndm")
    cache = _cache(tmp_path)
    recipe = module.build_recipe(cfg, cache)
    _, valid = module.data_factories(cfg, cache, 0, 1)
    with torch.no_grad():
        metrics = recipe.validate(recipe.modules(), valid())
    assert metrics["valid/render"] > 0
    assert metrics["valid/loss"] == pytest.approx(metrics["valid/mel_mse"] + metrics["valid/mcnn"])


@pytest.mark.parametrize("overrides, match", [
    (["train.freeze_wae=true", "train.freeze_encoder=true"], "freeze_encoder"),
    (["train.freeze_wae=true", "train.render_weight=1"], "render_weight"),
    (["train.render_adversarial_weight=1"], "render_weight must be above 0"),
    (["train.render_weight=1", "train.render_feature_matching=1", "train.mcnn_critic_crop=1024"], "largest FFT"),
])
def test_impossible_settings_are_refused(overrides, match):
    with pytest.raises(DrumsynthError, match=match):
        check(build_family_config("ndm", "tiny", overrides=overrides))


@pytest.mark.parametrize("term", ["train.render_weight=1", "train.freeze_encoder=true"])
def test_the_decoder_terms_are_refused_under_torchrun(tmp_path, term):
    cfg = build_family_config("ndm", "tiny", overrides=[term])
    with pytest.raises(DrumsynthError, match="one process"):
        family_module("ndm").data_factories(cfg, _cache(tmp_path), 0, 2)


def test_the_decoder_preset_continues_the_shipped_decoder_only():
    """``--init ndm --preset decoder``: the encoder and the MCNN frozen, the rendering term on and the critic off
    (it made cymbals tick), no architecture key changed."""
    from drumsynth.config import load_toml
    from drumsynth.models import preset_path
    from drumsynth.models.ndm.config import Config
    from drumsynth.train.finetune import finetune_config, load_init

    overlay = load_toml(preset_path("ndm", "decoder"))
    assert set(overlay) == {"train"}
    config = finetune_config(Config, load_init("ndm"), [overlay], ["train.max_steps=5"])
    check(config)
    t = config.train
    assert t.freeze_mcnn and t.freeze_encoder and not t.freeze_wae
    assert t.render_weight > 0 and t.render_adversarial_weight == 0 and t.render_feature_matching == 0


@pytest.mark.parametrize("then", ["inverter", "cwae", "decoder", "finetune"])
@pytest.mark.parametrize("first", ["inverter", "cwae", "decoder", "finetune"])
def test_every_continuation_preset_runs_on_a_model_any_other_one_made(first, then):
    """A release stores the settings it was trained with and ``--init`` starts from them, so each continuation
    preset must undo what another one froze or turned on (an inverter run on a decoder continuation first failed
    with "freeze_wae and freeze_mcnn together")."""
    from drumsynth.config import load_toml, to_dict
    from drumsynth.models import preset_path
    from drumsynth.models.ndm.config import Config
    from drumsynth.train.finetune import finetune_config, load_init

    shipped = load_init("ndm")
    stored = to_dict(finetune_config(Config, shipped, [load_toml(preset_path("ndm", first))], ["train.max_steps=5"]))
    continued = dataclasses.replace(shipped, checkpoint={**shipped.checkpoint, "config": stored})
    config = check(finetune_config(Config, continued, [load_toml(preset_path("ndm", then))], ["train.max_steps=5"]))
    t = config.train
    trains = {"inverter": (False, True), "cwae": (True, False), "decoder": (True, False), "finetune": (True, True)}
    assert (not t.freeze_wae, not t.freeze_mcnn) == trains[then]
    assert t.freeze_encoder == (then == "decoder") and (t.render_weight > 0) == (then == "decoder")
