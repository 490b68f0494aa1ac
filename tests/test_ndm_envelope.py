"""The fine-time band-envelope term (nn/wave.band_envelope_distance), the MCNN's multi-resolution STFT
term and the MCNN-only continuation of ndm (train.envelope_weight, train.stft_weight, train.freeze_wae;
issue 14, goals 3 and 5)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import synth_hit
from drumsynth.data.cache import load_cache, write_cache
from drumsynth.data.taxonomy import CLASSES
from drumsynth.errors import DrumsynthError
from drumsynth.metrics.listener import tick_rate
from drumsynth.models import build_family_config, family_module
from drumsynth.models.ndm.recipe import mcnn_losses
from drumsynth.nn.wave import band_envelope_distance
from drumsynth.train import seed_everything

SR = 44100


def _decaying_noise(seed: int, ripple_hz: float = 0.0, depth: float = 0.0, seconds: float = 0.6) -> torch.Tensor:
    """A hat-like decaying white noise, optionally amplitude-modulated by ``depth`` at ``ripple_hz`` (the
    frame-rate flutter of an inverter with 11.6 ms frames is 86 Hz): Tensor[T]."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(int(seconds * SR)) / SR
    envelope = torch.exp(-t / 0.15) * (1.0 - depth * (0.5 + 0.5 * torch.cos(2 * torch.pi * ripple_hz * t)))
    x = torch.randn(len(t), generator=g) * envelope
    return x / x.abs().max()


def test_the_envelope_term_sees_a_frame_rate_ripple_that_a_fresh_noise_does_not_make():
    reference = _decaying_noise(0)[None]
    fresh = _decaying_noise(1)[None]                             # same envelope, other samples
    rippled = _decaying_noise(1, ripple_hz=86.1, depth=0.8)[None]  # 14 dB from crest to trough
    same_noise = float(band_envelope_distance(fresh, reference))
    flutter = float(band_envelope_distance(rippled, reference))
    # Two noises never match cell by cell (about 2.3 dB apart here); the ripple doubles the gap.
    assert same_noise < 0.15
    assert flutter > 1.7 * same_noise
    # The tick score agrees on what is an artifact here.
    assert tick_rate(rippled[0].numpy(), SR) > 15 and tick_rate(fresh[0].numpy(), SR) < 5
    # A hit 20 dB too quiet costs one unit (the gap is measured in 20 dB steps)...
    assert float(band_envelope_distance(0.1 * reference, reference)) == pytest.approx(1.0, abs=0.05)
    # ... except in cells below the floor, where neither counts.
    silent = torch.zeros_like(reference)
    assert float(band_envelope_distance(silent, silent)) == 0.0


def test_the_envelope_term_passes_gradients():
    x = _decaying_noise(2, ripple_hz=86.1, depth=0.9)[None].requires_grad_(True)
    band_envelope_distance(x, _decaying_noise(0)[None]).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and float(x.grad.abs().sum()) > 0


def _cache(tmp_path):
    records, waves = [], []
    i = 0
    for label in CLASSES:
        for split, count in (("train", 2), ("valid", 1)):
            for _ in range(count):
                waves.append(synth_hit(label, seconds=0.2, seed=i))
                records.append({"id": f"s{i}", "path": f"kit/{label}_{i}.wav", "source": "synthetic",
                                "kit": "kit" if split == "train" else "vkit", "instrument": label,
                                "label": label, "split": split, "licence": "CC0"})
                i += 1
    write_cache(tmp_path / "cache", records, waves)
    return load_cache(tmp_path / "cache")


@pytest.mark.parametrize("term", ["envelope", "stft"])
def test_our_terms_enter_the_mcnn_loss_with_their_weights(tmp_path, term):
    cache = _cache(tmp_path)
    module = family_module("ndm")
    terms = {}
    for weight in (0.0, 3.0):
        cfg = build_family_config("ndm", "tiny", overrides=[f"train.{term}_weight={weight}"])
        seed_everything(0)
        recipe = module.build_recipe(cfg, cache)
        batch = next(iter(module.data_factories(cfg, cache, 0, 1)[0](torch.Generator().manual_seed(0))))
        terms[weight] = {k: float(v.detach()) for k, v in
                         mcnn_losses(recipe.mcnn, batch["mcnn_mel"], batch["mcnn_wave"], cfg)[0].items()}
    key = f"loss/{term}"
    assert key not in terms[0.0] and terms[3.0][key] > 0          # computed only when it counts
    assert terms[3.0]["loss/mcnn"] - terms[0.0]["loss/mcnn"] == pytest.approx(3.0 * terms[3.0][key], rel=1e-4)


def _step(tmp_path, overrides: list[str], seed: int = 1):
    """One training step of a tiny ndm recipe: (config, recipe, batch, the state before it {"encoder",
    "decoder", and every module of the recipe: {key: tensor}}, metrics, the valid batches)."""
    cache = _cache(tmp_path)
    module = family_module("ndm")
    cfg = build_family_config("ndm", "tiny", overrides=overrides)
    seed_everything(0)
    recipe = module.build_recipe(cfg, cache)
    train_factory, valid_factory = module.data_factories(cfg, cache, 0, 1)
    batch = next(iter(train_factory(torch.Generator().manual_seed(0))))
    named = {"encoder": recipe.wae.encoder, "decoder": recipe.wae.decoder, **recipe.modules()}
    before = {name: {k: v.clone() for k, v in net.state_dict().items()} for name, net in named.items()}
    for m in recipe.modules().values():
        m.train()
    metrics = recipe.train_step(batch, 0, torch.Generator().manual_seed(seed))
    return cfg, recipe, batch, before, metrics, valid_factory


def _moved(net: torch.nn.Module, before: dict[str, torch.Tensor]) -> bool:
    """Whether any tensor of the network's state dict, batch-norm statistics included, changed."""
    return any(not torch.equal(v, before[k]) for k, v in net.state_dict().items())


def _one_step(tmp_path, overrides: list[str]):
    """:func:`_step`, as (config, recipe, metrics, moved: {module name -> :func:`_moved`}, the valid batches)."""
    cfg, recipe, _, before, metrics, valid_factory = _step(tmp_path, overrides)
    moved = {name: _moved(net, before[name]) for name, net in recipe.modules().items()}
    return cfg, recipe, metrics, moved, valid_factory


def test_freeze_wae_trains_the_mcnn_only(tmp_path):
    cfg, recipe, metrics, moved, valid_factory = _one_step(
        tmp_path, ["train.freeze_wae=true", "train.envelope_weight=1.0", "train.stft_weight=0.5",
                   "train.mcnn_decoded_share=0.5"])
    assert "loss/wae" not in metrics and {"loss/mcnn", "loss/envelope", "loss/stft"} <= set(metrics)
    assert moved == {"wae": False, "mcnn": True}
    with torch.no_grad():
        valid = recipe.validate(recipe.modules(), valid_factory())
    t = cfg.train
    expected = (t.sc_weight * valid["valid/sc"] + t.sc_log_weight * valid["valid/sc_log"]
                + t.mask_weight * valid["valid/mask"] + t.envelope_weight * valid["valid/envelope"]
                + t.stft_weight * valid["valid/stft"])
    assert valid["valid/mcnn"] == pytest.approx(expected)


def test_freeze_mcnn_trains_the_cwae_only(tmp_path):
    _, _, metrics, moved, _ = _one_step(tmp_path, ["train.freeze_mcnn=true"])
    assert {"loss/wae", "loss/mse", "loss/mmd"} <= set(metrics) and "loss/mcnn" not in metrics
    assert moved == {"wae": True, "mcnn": False}


def test_freezing_both_networks_is_refused():
    from drumsynth.models.ndm.config import check

    config = build_family_config("ndm", "tiny", overrides=["train.freeze_mcnn=true", "train.freeze_wae=true"])
    with pytest.raises(DrumsynthError, match="nothing to train"):
        check(config)


def test_the_cwae_preset_continues_the_shipped_autoencoder_only():
    """``--init ndm --preset cwae`` trains the CWAE alone, although the shipped release was an inverter
    continuation (its config says freeze_wae = true), and changes no architecture key."""
    from drumsynth.config import load_toml
    from drumsynth.models import preset_path
    from drumsynth.models.ndm.config import Config, check
    from drumsynth.train.finetune import finetune_config, load_init

    overlay = load_toml(preset_path("ndm", "cwae"))
    assert set(overlay) == {"train"}
    config = finetune_config(Config, load_init("ndm"), [overlay], ["train.max_steps=5"])
    assert config.train.freeze_mcnn is True and config.train.freeze_wae is False
    check(config)   # the shipped MCNN trained against a critic; the preset turns that term off for a frozen one


def test_the_inverter_preset_continues_a_model_without_touching_its_architecture():
    """``--init MODEL --preset inverter`` may only change train.* (drumsynth.train.finetune), and it
    turns on both of our MCNN terms with the CWAE frozen."""
    from drumsynth.config import load_toml
    from drumsynth.models import preset_path

    overlay = load_toml(preset_path("ndm", "inverter"))
    assert set(overlay) == {"train"}
    train = overlay["train"]
    assert train["freeze_wae"] is True and train["envelope_weight"] > 0 and train["stft_weight"] > 0
    assert np.isfinite(train["mcnn_lr"])


def test_fine_tuning_the_shipped_model_trains_both_networks_with_our_terms():
    """The shipped release was continued with the CWAE frozen; a producer's fine-tune (the ``finetune``
    preset, the default with --init) must train both networks again, and keep the MCNN's terms."""
    from drumsynth.config import load_toml
    from drumsynth.models import preset_path
    from drumsynth.models.ndm.config import Config
    from drumsynth.train.finetune import finetune_config, load_init

    init = load_init("ndm")
    config = finetune_config(Config, init, [load_toml(preset_path("ndm", "finetune"))], ["train.max_steps=5"])
    assert config.train.freeze_wae is False
    assert config.train.envelope_weight > 0 and config.train.stft_weight > 0
    continued = finetune_config(Config, init, [load_toml(preset_path("ndm", "inverter"))], ["train.max_steps=5"])
    assert continued.train.freeze_wae is True


def test_the_adversarial_term_trains_the_cwae_and_its_critic_and_the_release_keeps_no_critic(tmp_path):
    _, recipe, metrics, moved, _ = _one_step(tmp_path, ["train.adversarial_weight=0.1", "train.freeze_mcnn=true",
                                                        "train.critic_channels=[4, 8]"])
    assert {"loss/adv_g", "loss/adv_d", "critic/real", "critic/fake", "loss/mse"} <= set(metrics)
    assert moved == {"wae": True, "mcnn": False, "mel_critic": True}
    assert recipe.release_modules() == ["wae", "mcnn"]
    # One critic step on a fresh pair: the hinge loss counts both sides.
    assert metrics["loss/adv_d"] == pytest.approx(max(0.0, 1 - metrics["critic/real"]) + max(0.0, 1 + metrics["critic/fake"]),
                                                  abs=1e-5)
    assert metrics["loss/wae"] == pytest.approx(metrics["loss/mse"] + 10.0 * metrics["loss/mmd"]
                                                + 0.1 * metrics["loss/adv_g"], rel=1e-5)


def test_the_adversarial_term_moves_the_decoder_by_its_weight(tmp_path):
    """The same step (same batch, codes, critic) with the weight near 0 and at 1: the critic's gradient
    changes the decoder's update."""
    common = ["train.freeze_mcnn=true", "train.critic_channels=[4, 8]"]
    _, faint, _, _, _ = _one_step(tmp_path / "a", [*common, "train.adversarial_weight=1e-9"])
    _, strong, _, _, _ = _one_step(tmp_path / "b", [*common, "train.adversarial_weight=1.0"])
    # Parameters only: batch-norm statistics are the same in both.
    faint_params, strong_params = dict(faint.wae.decoder.named_parameters()), dict(strong.wae.decoder.named_parameters())
    assert any(not torch.allclose(faint_params[k], strong_params[k], atol=1e-6) for k in faint_params)
    assert all(torch.equal(a, b) for a, b in zip(faint.mel_critic.state_dict().values(),
                                                  strong.mel_critic.state_dict().values()))


def test_the_inverters_critic_trains_the_mcnn_and_itself_and_the_release_keeps_no_critic(tmp_path):
    """``train.mcnn_adversarial_weight``: the waveform critic steps, then the MCNN's loss gains the weighted
    adversarial and feature-matching terms; a release keeps the CWAE and the MCNN only."""
    overrides = ["train.freeze_wae=true", "train.mcnn_adversarial_weight=0.5", "train.mcnn_feature_matching=3",
                 "train.mcnn_critic_ffts=[256, 512]", "train.mcnn_critic_channels=[4, 4, 8, 8]",
                 "train.mcnn_critic_crop=4096"]
    cfg, recipe, metrics, moved, _ = _one_step(tmp_path / "on", overrides)
    assert moved == {"wae": False, "mcnn": True, "wave_critic": True}
    assert {"loss/mcnn_adv", "loss/mcnn_fm", "loss/mcnn_critic", "wave_critic/real", "wave_critic/fake"} <= set(metrics)
    assert metrics["loss/mcnn_fm"] > 0 and metrics["loss/mcnn_critic"] > 0
    t = cfg.train
    base = (t.sc_weight * metrics["loss/sc"] + t.sc_log_weight * metrics["loss/sc_log"]
            + t.mask_weight * metrics["loss/mask"])
    assert metrics["loss/mcnn"] == pytest.approx(base + 0.5 * metrics["loss/mcnn_adv"] + 3 * metrics["loss/mcnn_fm"],
                                                 rel=1e-5)
    assert recipe.release_modules() == ["wae", "mcnn"]
    # The critic's gradient changes the MCNN's update (same batch, crops and critic step at a faint weight).
    _, faint, _, _, _ = _one_step(tmp_path / "faint", [*overrides[:1], "train.mcnn_adversarial_weight=1e-9",
                                                       "train.mcnn_feature_matching=1e-9", *overrides[3:]])
    strong, weak = dict(recipe.mcnn.named_parameters()), dict(faint.mcnn.named_parameters())
    assert any(not torch.allclose(strong[k], weak[k], atol=1e-7) for k in strong)
    assert all(torch.equal(a, b) for a, b in zip(recipe.wave_critic.state_dict().values(),
                                                  faint.wave_critic.state_dict().values()))


def test_the_inverters_critic_is_refused_without_an_mcnn_to_train_or_a_crop_its_ffts_fit():
    from drumsynth.models.ndm.config import check

    with pytest.raises(DrumsynthError, match="freeze_mcnn"):
        check(build_family_config("ndm", "tiny", overrides=["train.freeze_mcnn=true",
                                                            "train.mcnn_adversarial_weight=1"]))
    with pytest.raises(DrumsynthError, match="largest FFT"):
        check(build_family_config("ndm", "tiny", overrides=["train.mcnn_adversarial_weight=1",
                                                            "train.mcnn_critic_crop=1024"]))


@pytest.mark.parametrize("term", ["train.adversarial_weight=0.1", "train.class_spectrum=0.5",
                                  "train.mcnn_adversarial_weight=0.1"])
def test_the_terms_outside_the_ddp_wrapper_under_torchrun_are_refused(tmp_path, term):
    cfg = build_family_config("ndm", "tiny", overrides=[term])
    with pytest.raises(DrumsynthError, match="one process"):
        family_module("ndm").data_factories(cfg, _cache(tmp_path), 0, 2)
    family_module("ndm").data_factories(cfg, _cache(tmp_path / "one"), 0, 1)


@pytest.mark.parametrize("term", ["adversarial_weight=0.1", "class_spectrum=0.5"])
def test_the_terms_on_prior_codes_with_a_frozen_cwae_are_refused(term):
    from drumsynth.models.ndm.config import check

    config = build_family_config("ndm", "tiny", overrides=["train.freeze_wae=true", f"train.{term}"])
    with pytest.raises(DrumsynthError, match=term.split("=")[0]):
        check(config)


def test_class_mel_distance_compares_class_means_on_pooled_cells():
    """The gap of per-class means, not of hits: two batches of the same class means are 0 apart however
    their hits differ; a class absent from the batch does not count; a 1-unit shift of one class's mels is
    a gap of 1 in that class."""
    from drumsynth.models.ndm.recipe import class_mel_distance

    torch.manual_seed(0)
    weights = torch.eye(3)[[0, 0, 1, 1]]
    real = torch.randn(4, 1, 16, 6)
    swapped = real[[1, 0, 3, 2]]  # other hits, the same class means
    assert class_mel_distance(swapped, real, weights).item() == pytest.approx(0.0, abs=1e-6)
    shifted = real.clone()
    shifted[2:] += 1.0  # class 1 only
    assert class_mel_distance(shifted, real, weights).item() == pytest.approx(0.5, abs=1e-6)  # 2 classes present


def test_the_class_spectrum_term_trains_the_decoder_on_prior_codes_without_a_critic(tmp_path):
    _, recipe, metrics, moved, _ = _one_step(tmp_path / "on", ["train.class_spectrum=0.5", "train.freeze_mcnn=true"])
    assert recipe.mel_critic is None and moved == {"wae": True, "mcnn": False}
    assert "loss/class_spectrum" in metrics and "loss/adv_g" not in metrics
    assert metrics["loss/class_spectrum"] > 0
    assert metrics["loss/wae"] == pytest.approx(metrics["loss/mse"] + 10.0 * metrics["loss/mmd"]
                                                + 0.5 * metrics["loss/class_spectrum"], rel=1e-5)
    _, off, _, _, _ = _one_step(tmp_path / "off", ["train.class_spectrum=1e-9", "train.freeze_mcnn=true"])
    on_params, off_params = dict(recipe.wae.decoder.named_parameters()), dict(off.wae.decoder.named_parameters())
    assert any(not torch.allclose(on_params[k], off_params[k], atol=1e-6) for k in on_params)
