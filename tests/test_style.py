"""Style family: AdaIN, noise, style mixing, the PCA faders, the encoder phase, the Session's three modes
of control, OSC, the CLI, and training on the real corpus and under torchrun."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from conftest import synth_hit, torchrun_train, write_synthetic_cache, write_tiny_style_release
from drumsynth.audio.dsp import peak_normalise
from drumsynth.cli.main import main
from drumsynth.data.taxonomy import CLASSES3
from drumsynth.errors import DrumsynthError
from drumsynth.inference.session import Session
from drumsynth.models import build_family_config, family_module
from drumsynth.models.style.builder import build_modules
from drumsynth.models.style.config import layer_group
from drumsynth.models.style.model import StyleModel, layer_styles
from drumsynth.models.style.networks import AdaIN
from drumsynth.models.style.pca import fader_offsets, principal_directions
from drumsynth.models.style.recipe import stage_at
from drumsynth.nn.polyphase import upsampled_conv_phases
from drumsynth.nn.wave import UPSAMPLE, upsample
from drumsynth.train import load_checkpoint, seed_everything


def tiny_config(*overrides: str):
    return build_family_config("style", "tiny", overrides=list(overrides))


def tiny_model(seed: int = 0, *overrides: str) -> StyleModel:
    seed_everything(seed)
    config = tiny_config(*overrides)
    generator, _, encoder = build_modules(config)
    # An untrained network's noise scales are zero (StyleGAN's start): give them values, as training does.
    with torch.no_grad():
        for noise in generator.synthesis.noise:
            noise.scale.normal_(0.0, 0.5)
    return StyleModel(config, generator, encoder)


@pytest.fixture(scope="module")
def tiny_release(tmp_path_factory):
    return write_tiny_style_release(tmp_path_factory.mktemp("style") / "style.pt")


# ---- networks ------------------------------------------------------------------------------------------


def test_adain_gives_each_channel_the_styled_mean_and_std():
    torch.manual_seed(0)
    adain = AdaIN(channels=5, style_dim=7)
    with torch.no_grad():
        adain.affine.weight.normal_()
        adain.affine.bias.normal_()
    x = torch.randn(3, 5, 64) * 4.0 + 2.0
    w = torch.randn(3, 7)
    out = adain(x, w)
    scale, bias = adain.affine(w).chunk(2, dim=1)
    assert torch.allclose(out.mean(2), bias, atol=1e-5)
    assert torch.allclose(out.std(2, unbiased=False), scale.abs(), atol=1e-4)


def test_zero_noise_makes_generation_deterministic_and_noise_changes_it():
    model = tiny_model(0)
    G = model.generator.synthesis
    ws = model.generator.broadcast(torch.randn(2, model.latent_dim))
    draws = [torch.Generator().manual_seed(s) for s in (1, 2)]
    quiet = [G(ws, noise=None, noise_gain=0.0, generator=g) for g in draws]
    assert torch.equal(quiet[0], quiet[1])
    loud = [G(ws, noise=None, noise_gain=1.0, generator=torch.Generator().manual_seed(s)) for s in (1, 2)]
    assert not torch.equal(loud[0], loud[1])
    # The stored noise: the same every time, a release is deterministic per code.
    assert torch.equal(G(ws, noise="fixed"), G(ws, noise="fixed"))


def test_style_mixing_takes_the_second_code_from_the_crossover_on():
    model = tiny_model(0)
    G = model.generator
    z, c = torch.randn(64, G.latent_dim), torch.eye(3)[torch.arange(64) % 3]
    ws = G.mixed_styles(z, c, 1.0, torch.Generator().manual_seed(0))
    first = G.mapping(z, c)
    assert torch.allclose(ws[:, 0], first)  # the first layer always keeps the first code
    changed = ~torch.isclose(ws, first[:, None]).all(-1)  # [B, n_layers]
    assert changed[:, -1].all()  # every example mixed (probability 1), the last layer at least
    # Once a layer takes the second code, every finer layer does too (one crossover point).
    assert torch.equal(changed.int().cummax(1).values, changed.int())
    assert torch.equal(G.mixed_styles(z, c, 0.0, torch.Generator().manual_seed(0)), G.broadcast(first))


def test_every_scale_outputs_its_length_and_the_critic_scores_it():
    config = tiny_config()
    generator, critic, encoder = build_modules(config)
    z, c = torch.randn(2, config.model.latent_dim), torch.eye(3)[:2]
    for scale in range(generator.synthesis.first_scale, generator.synthesis.n_blocks + 1):
        out = generator(z, c, scale)
        assert out.shape == (2, 1, generator.synthesis.lengths[scale]) and out.abs().max() <= 1.0
        assert critic(out, c, scale).shape == (2,)
    assert encoder(generator(z, c)).shape == (2, config.model.style_dim)



def test_the_decay_envelope_silences_the_tail_whatever_the_noise_and_never_sets_the_level():
    model = tiny_model(0)
    G = model.generator.synthesis
    assert G.envelope is not None  # the tiny preset has the envelope, as the cpu one does
    ws = model.generator.broadcast(torch.randn(2, model.latent_dim))
    envelope = G.envelope(ws[:, 0], G.lengths[-1])
    tau, mix = G.envelope.parameters_of(ws[:, 0])
    # A fresh envelope: 100 ms and 1 s mixed half and half, whatever the style (zero weights).
    assert torch.allclose(tau, torch.tensor([[4410.0, 44100.0]]).expand(2, 2), rtol=1e-4)
    assert torch.allclose(mix, torch.full((2, 1), 0.5))
    t = torch.arange(G.lengths[-1]) * (G.envelope.length / G.lengths[-1])
    expected = 0.5 * torch.exp(-t / tau[:, :1]) + 0.5 * torch.exp(-t / tau[:, 1:])
    assert torch.allclose(envelope[:, 0], expected, rtol=1e-4, atol=1e-7)
    assert torch.equal(envelope[:, 0, 0], torch.ones(2))  # peak 1 at the onset: it never sets the level
    # The hit is the seed's network times the envelope, at every scale.
    flat_net = G.envelope
    G.envelope = None
    try:
        flat = G(ws, noise="fixed", noise_gain=5.0)
    finally:
        G.envelope = flat_net
    assert torch.allclose(G(ws, noise="fixed", noise_gain=5.0), flat * envelope, atol=1e-6)
    # Short time constants: the tail is silent whatever the noise amount.
    with torch.no_grad():
        G.envelope.affine.bias.fill_(-10.0)  # both constants at their 2 ms floor
    tail = G(ws, noise="fixed", noise_gain=10.0)[..., G.lengths[-1] // 2:]
    assert tail.abs().max() < 1e-8 and flat[..., G.lengths[-1] // 2:].abs().max() > 1e-3  # -160 dB


def test_the_decay_envelope_acts_from_its_length_on_and_fades_in_there():
    config = tiny_config("model.envelope_length=1024")  # the tiny lengths: 16, 64, 256, 1024, 4096
    generator, _, _ = build_modules(config)
    G = generator.synthesis
    with torch.no_grad():
        G.envelope.affine.bias.fill_(-10.0)  # 2 ms: a strong envelope, easy to see
    ws = generator.broadcast(torch.randn(2, config.model.latent_dim))

    def hits(scale: int, alpha: float) -> tuple[torch.Tensor, torch.Tensor]:
        envelope = G.envelope
        G.envelope = None
        try:
            flat = G(ws, scale, alpha, noise="fixed")
        finally:
            G.envelope = envelope
        return G(ws, scale, alpha, noise="fixed"), flat

    assert G.envelope_scale == 3
    coarse, flat = hits(2, 1.0)
    assert torch.equal(coarse, flat)  # coarser than 1024 samples: no envelope
    full, flat = hits(4, 1.0)
    assert torch.allclose(full, flat * G.envelope(ws[:, 0], full.shape[-1]), atol=1e-7)
    fading, flat = hits(3, 0.25)  # at its first length it fades in with the new block
    expected = flat * torch.lerp(torch.ones(1), G.envelope(ws[:, 0], flat.shape[-1]), 0.25)
    assert torch.allclose(fading, expected, atol=1e-7)
    assert build_modules(tiny_config("model.envelope_length=0"))[0].synthesis.envelope is None  # the seed's
    with pytest.raises(DrumsynthError, match="envelope_length"):
        build_modules(tiny_config("model.envelope_length=100"))


@pytest.mark.parametrize("kernel", [3, 9, 25])
def test_the_upsampled_conv_phases_are_the_convolution_of_the_upsampled_input(kernel):
    torch.manual_seed(kernel)
    conv = torch.nn.Conv1d(5, 3, kernel, padding=kernel // 2, bias=False).double()
    x = torch.randn(2, 5, 40, dtype=torch.float64)
    weight, padding = upsampled_conv_phases(conv.weight, kernel // 2, UPSAMPLE)
    phases = F.conv1d(x, weight, padding=padding).view(2, 3, UPSAMPLE, 40)  # row UPSAMPLE c + r: phase r
    assert torch.allclose(phases.transpose(2, 3).reshape(2, 3, -1), conv(upsample(x)), rtol=0, atol=1e-12)


def reference_hits(model: StyleModel, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """What generate computes, straight: the faders' move and the noise amounts applied as they are set,
    then the synthesis network's own forward (training's) on its stored noise, peak 1."""
    mask = torch.zeros(model.n_layers)
    mask[layer_group(model.n_layers, model.fader_layers)] = 1.0
    ws = layer_styles(z + c @ model.directions.mean, c, fader_offsets(model.directions, model.faders), mask)
    with torch.no_grad():
        wave = model.generator.synthesis(ws, noise="fixed", noise_gain=model.noise.clone())[:, 0]
    return peak_normalise(wave).clamp(-1.0, 1.0)


def assert_generate_is_the_reference(model: StyleModel, batches: tuple[int, ...] = (1, 8)) -> None:
    for batch in batches:
        for k in range(len(model.classes)):
            c = torch.eye(len(model.classes))[[k] * batch]
            z = model.sample_latent(batch, torch.Generator().manual_seed(10 * batch + k), c)
            assert torch.max(torch.abs(model.generate(z, c) - reference_hits(model, z, c))) < 1e-5, (batch, k)


def test_generate_is_the_networks_forward_through_noise_fader_and_weight_changes():
    """generate runs a faster plan of the synthesis network (cached per noise amounts and weights): it
    computes the network's own forward, at every batch size and class, and follows every control."""
    model = tiny_model(0)
    G = model.generator.synthesis
    with torch.no_grad():  # styles and an envelope away from their start, as after training
        for adain in G.adain:
            adain.affine.weight.normal_(0.0, 0.1)
        G.envelope.affine.weight.normal_(0.0, 0.05)
    assert_generate_is_the_reference(model)
    plan = model.synthesis_plan()
    assert model.synthesis_plan() is plan  # kept while nothing changes
    for layer, amount in enumerate([0.3, 2.0, 0.0, 5.0, 1.5]):
        model.set_noise(amount, layer)
    assert model.synthesis_plan() is not plan
    assert_generate_is_the_reference(model)
    model.set_noise(10.0, layer=4)  # a second change: a stale plan would play the gains before it
    assert_generate_is_the_reference(model, batches=(1,))
    model.set_fader_layers("mid")
    model.set_fader(0, 2.5)
    model.set_fader(3, -4.0)
    assert_generate_is_the_reference(model)
    with torch.no_grad():
        G.blocks[1].weight.mul_(1.5)  # weights written in place (as load_state_dict does): a new plan
    assert_generate_is_the_reference(model, batches=(1,))
    c = torch.eye(3)[torch.arange(37) % 3]  # more than one CPU micro-batch, the last one short
    z = model.sample_latent(37, torch.Generator().manual_seed(3), c)
    hits = model.generate(z, c)
    assert torch.max(torch.abs(hits - reference_hits(model, z, c))) < 1e-5
    assert not hits.is_inference() and hits.mul_(0.5).shape == (37, model.length)  # an ordinary tensor: writable


@pytest.mark.parametrize("kind", ["linear", "kaiser"])
def test_a_filtered_upsampling_generates_through_the_networks_own_forward(kind):
    """The plan folds nearest up-sampling into each block's convolution; a filtered kind has no such fold,
    so generate runs the network itself, whose blocks up-sample with that filter."""
    model = tiny_model(0, f"model.upsampling={kind}")
    G = model.generator.synthesis
    assert G.upsampling == kind and not model.synthesis_plan().folded
    model.set_noise(2.0, 1)
    assert_generate_is_the_reference(model)
    ws = model.generator.broadcast(torch.randn(2, model.latent_dim))
    with torch.no_grad():
        nearest = tiny_model(0).generator.synthesis
        nearest.load_state_dict(G.state_dict())
        assert not torch.allclose(G(ws, noise="fixed"), nearest(ws, noise="fixed"), atol=1e-4)
        G.upsampling = "nearest"
        assert torch.equal(G(ws, noise="fixed"), nearest(ws, noise="fixed"))


def test_the_schedule_grows_then_leaves_the_encoder_steps_at_full_length():
    config = tiny_config()
    assert stage_at(config, 0) == (1, 1.0)  # 64 samples: scale 1 of [16, 64, 256, 1024, 4096]
    assert stage_at(config, 2)[0] == 2 and stage_at(config, 7)[0] == 4
    assert stage_at(config, 9) == (4, 1.0)


# ---- principal directions and faders -------------------------------------------------------------------


def test_pca_directions_are_orthonormal_and_ordered_by_explained_variance():
    model = tiny_model(0)
    d = model.directions
    for c in range(len(model.classes)):
        v = d.components[c]
        assert torch.allclose(v @ v.T, torch.eye(len(v)), atol=1e-4)
        assert torch.all(d.std[c][:-1] >= d.std[c][1:])
        # The variance along each direction is what the PCA says, on fresh codes.
        z = torch.randn(4000, model.generator.latent_dim, generator=torch.Generator().manual_seed(9))
        w = model.generator.mapping(z, torch.eye(3)[c].expand(4000, -1))
        spread = ((w - d.mean[c]) @ v.T).std(0)
        assert torch.allclose(spread[:3], d.std[c][:3], rtol=0.1)
    again = principal_directions(model.generator.mapping, 3, model.generator.latent_dim, samples=1000, seed=0)
    assert torch.equal(again.components, d.components)  # deterministic


def test_a_fader_moves_w_only_along_its_direction_on_the_chosen_layers():
    model = tiny_model(0)
    d = model.directions
    w = torch.randn(2, model.latent_dim)
    c = torch.eye(3)[[1, 1]]
    model.set_fader_layers("high")
    model.set_fader(2, 1.5)
    styled = model.styles(w, c)
    chosen = layer_group(model.n_layers, "high")
    move = styled - w[:, None, :]
    for layer in range(model.n_layers):
        if layer not in chosen:
            assert torch.allclose(move[:, layer], torch.zeros_like(w), atol=1e-6)
            continue
        coords = move[:, layer] @ d.components[1].T  # in the snare's principal coordinates
        expected = torch.zeros(model.latent_dim)
        expected[2] = 1.5 * d.std[1, 2]
        assert torch.allclose(coords, expected.expand(2, -1), atol=1e-5)
    assert layer_group(model.n_layers, "low") + layer_group(model.n_layers, "mid") + chosen == list(range(model.n_layers))
    with pytest.raises(DrumsynthError, match="style layers"):
        model.set_fader_layers("treble")


def test_fader_offsets_follow_each_hits_strongest_class():
    model = tiny_model(0)
    offsets = fader_offsets(model.directions, torch.tensor([1.0, 0, 0, 0]))
    w = torch.zeros(2, model.latent_dim)
    styles = layer_styles(w, torch.tensor([[0.9, 0.1, 0.0], [0.2, 0.0, 0.8]]), offsets, torch.ones(model.n_layers))
    assert torch.allclose(styles[0, 0], offsets[0]) and torch.allclose(styles[1, 0], offsets[2])


# ---- the model and the Session's three modes ------------------------------------------------------------


def test_codes_are_class_relative_and_generation_is_deterministic():
    a, b = tiny_model(0), tiny_model(0)
    c = torch.eye(3)
    za = a.sample_latent(3, torch.Generator().manual_seed(4), c)
    zb = b.sample_latent(3, torch.Generator().manual_seed(4), c)
    assert torch.equal(za, zb) and torch.equal(a.generate(za, c), b.generate(zb, c))
    # A class's codes centre on zero: its mean w is added back at generation.
    many = a.sample_latent(2000, torch.Generator().manual_seed(5), torch.eye(3)[[0]].expand(2000, -1))
    assert many.mean(0).abs().max() < 0.2 * many.std(0).mean() + 1e-3
    wave = a.generate(za, c)
    assert wave.shape == (3, a.length) and wave.abs().amax(1).allclose(torch.ones(3))


def test_noise_amount_and_faders_change_the_sound_and_reset_restores_it():
    model = tiny_model(0)
    c = torch.eye(3)[[2]]
    z = model.sample_latent(1, torch.Generator().manual_seed(1), c)
    plain = model.generate(z, c)
    model.set_noise(0.0)
    quiet = model.generate(z, c)
    assert not torch.allclose(plain, quiet)
    model.set_noise(1.0)
    model.set_fader(0, 3.0)
    assert not torch.allclose(plain, model.generate(z, c))
    model.set_fader(0, 0.0)
    assert torch.equal(plain, model.generate(z, c))
    for bad in (lambda: model.set_fader(99, 1.0), lambda: model.set_fader(0, 50.0), lambda: model.set_noise(-1.0),
                lambda: model.set_noise(1.0, layer=99)):
        with pytest.raises(DrumsynthError):
            bad()


def test_analyze_is_deterministic_and_reconstruct_is_g_of_e():
    model = tiny_model(0)
    c = torch.eye(3)[[0, 2]]
    x = model.generate(model.sample_latent(2, torch.Generator().manual_seed(2), c), c)
    u1, c1 = model.analyze(x)
    u2, c2 = model.analyze(x)
    assert torch.equal(u1, u2) and torch.equal(c1, c2)
    assert torch.allclose(c1.sum(1), torch.ones(2))
    w = model.encoder(x[:, None])
    assert torch.allclose(u1 + c1 @ model.directions.mean, w, atol=1e-5)
    direct = model.generate(w - c @ model.directions.mean, c)
    assert torch.allclose(model.reconstruct(x, c), direct, atol=1e-6)
    assert torch.allclose(model.reconstruct(x), direct, atol=1e-5)  # the class weights cancel


def test_session_modes_sample_encode_and_morph_with_faders_and_noise(tiny_release, tmp_path):
    session = Session.load(str(tiny_release))
    sr = session.model.sample_rate
    # Mode 1: sample + faders.
    plain = session.generate("kick", seed=3).waves
    state = session.set_style(1, 2.0)
    assert state["faders"][1] == 2.0
    moved = session.generate("kick", seed=3)
    assert not np.allclose(plain, moved.waves)
    assert moved.provenance["style"]["faders"][1] == 2.0
    session.set_style_layers("low")
    session.set_noise(0.5)
    assert session.style_state()["noise"] == [0.5] * session.model.n_layers
    # Mode 2: encode one sound + faders (Analyze, then the centre decodes with the faders).
    hit = synth_hit("snare", sr=sr, seconds=0.2)
    result = session.analyze(hit, sr)
    assert sum(result["sliders"].values()) == pytest.approx(1.0, abs=1e-5)
    styled = session.vary(0.0)
    session.set_style(1, 0.0)
    assert not np.allclose(styled.waves, session.vary(0.0).waves)
    # Mode 3: encode two sounds + morph.
    other = synth_hit("kick", sr=sr, seconds=0.2)
    ends = [session.morph((hit, sr), (other, sr), t).waves for t in (0.0, 1.0)]
    assert not np.allclose(ends[0], ends[1])
    with pytest.raises(DrumsynthError, match="style fader"):
        session.set_style(99, 1.0)
    with pytest.raises(DrumsynthError, match="finite"):
        session.set_noise(float("nan"))


def test_families_without_style_controls_refuse_them():
    from drumsynth.inference.session import shipped_models

    session = Session.load(str(shipped_models()["wavegan"]))
    assert session.style_state() is None and "style" not in session.generate("kick").provenance
    with pytest.raises(DrumsynthError, match="no style faders"):
        session.set_style(0, 1.0)
    with pytest.raises(DrumsynthError, match="no style faders"):
        session.set_noise(0.5)


def test_cli_generate_with_faders_and_noise_writes_the_controls_to_the_sidecar(tiny_release, tmp_path, capsys):
    out = tmp_path / "hits"
    assert main(["generate", "--model", str(tiny_release), "--class", "cymbal", "-n", "2", "--out", str(out),
                 "--style", "0=1.5", "2=-1", "--style-layers", "mid", "--noise", "0.25", "--json"]) == 0
    files = json.loads(capsys.readouterr().out)["files"]
    assert len(files) == 2
    sidecar = json.loads(open(files[0].replace(".wav", ".json")).read())
    style = sidecar["style"]
    assert style["faders"][:3] == [1.5, 0.0, -1.0] and style["fader_layers"] == "mid"
    assert main(["generate", "--model", str(tiny_release), "--class", "kick", "--out", str(tmp_path / "bad"),
                 "--style", "zero=1"]) == 2
    assert "K=VALUE" in capsys.readouterr().err
    assert main(["generate", "--model", "wavegan", "--class", "kick", "--out", str(tmp_path / "w"),
                 "--noise", "0.5"]) == 2
    assert "no style faders" in capsys.readouterr().err


def test_export_graphs_compute_what_the_model_does(tiny_release):
    session = Session.load(str(tiny_release))
    session.set_style(0, 1.0)
    graphs = session.export_graphs()
    model = session.model
    c = torch.eye(3)[[0, 2]]
    z = model.sample_latent(2, torch.Generator().manual_seed(1), c)
    assert torch.allclose(graphs["decode"](z, c), model.generate(z, c), atol=1e-6)
    x = model.generate(z, c)
    u, weights = graphs["encode"](x)
    u2, weights2 = model.analyze(x)
    assert torch.allclose(u, u2, atol=1e-5) and torch.allclose(weights, weights2, atol=1e-5)


# ---- training ------------------------------------------------------------------------------------------


def test_the_encoder_phase_starts_from_the_selected_generator_and_trains_the_encoder_only(tmp_path):
    cache = write_synthetic_cache(tmp_path / "cache", CLASSES3)
    from drumsynth.data.cache import load_cache

    config = tiny_config("train.select_per_class=2", "train.valid_every=1")
    module = family_module("style")
    recipe = module.build_recipe(config, None)
    train, valid = module.data_factories(config, load_cache(cache), 0, 1)
    from drumsynth.train import Trainer

    result = Trainer(recipe, train, tmp_path / "run", valid_data=valid, max_steps=config.train.max_steps,
                     log_every=1, checkpoint_every=5, valid_every=1, progress=False, seed=0).fit()
    assert result.step == config.train.max_steps
    assert recipe.selection.loaded and recipe.selection.selected["step"] <= 8
    release = load_checkpoint(tmp_path / "run" / "release.pt")
    assert release["extra"]["encoder_trained"] and release["extra"]["selected"]["step"] == recipe.selection.selected["step"]
    selected = recipe.selection.selected["weights"]
    assert all(torch.equal(selected[k], v) for k, v in recipe.generator.state_dict().items())
    from drumsynth.train.logging import read_log

    logged = [r["metrics"] for r in read_log(tmp_path / "run" / "log.jsonl")]
    assert any("valid/encoder_lsd" in m for m in logged) and any("loss/e_real" in m for m in logged)


@pytest.mark.corpus
def test_training_on_the_real_corpus_pitch_shifts_and_releases(real_corpus, tmp_path):
    """A few tiny steps on real drums: the training split comes in 3 pitches (±1 semitone), and the
    release plays, encodes and has its faders."""
    from drumsynth.models.style import data as sdata
    from drumsynth.train import Trainer

    config = tiny_config("data.max_items=30")
    plain = sdata.build_waveset(real_corpus, "valid", config.data)
    train = sdata.build_waveset(real_corpus, "train", config.data)
    assert len(train) == 3 * min(30, len(real_corpus.indices("train", three_class=True)))
    assert len(plain) == min(30, len(real_corpus.indices("valid", three_class=True)))
    module = family_module("style")
    recipe = module.build_recipe(config, real_corpus)
    train_data, valid = module.data_factories(config, real_corpus, 0, 1)
    Trainer(recipe, train_data, tmp_path, valid_data=valid, max_steps=config.train.max_steps, log_every=5,
            checkpoint_every=10, valid_every=10, progress=False, seed=0).fit()
    session = Session.load(str(tmp_path / "best.pt"))
    session.set_style(0, 1.0)
    wave = real_corpus.wave(real_corpus.indices("test", three_class=True)[0])
    session.analyze(np.asarray(wave), real_corpus.sr)
    assert np.all(np.isfinite(session.vary(0.0).waves))


@pytest.mark.slow
def test_training_runs_under_torchrun_with_two_processes(tmp_path):
    """``drumsynth train --family style`` under torchrun ("average" DDP mode) through both phases."""
    from drumsynth.train.logging import read_log

    out = tmp_path / "run"
    cache = write_synthetic_cache(tmp_path / "cache", CLASSES3)
    torchrun_train("style", cache, out, "--set", "train.log_every=1")
    logged = [r for r in read_log(out / "log.jsonl")]
    steps = [r["step"] for r in logged if "loss/d" in r["metrics"] or "loss/e" in r["metrics"]]
    assert steps == sorted(set(steps)) and steps[-1] == 10
    model = family_module("style").load_model(load_checkpoint(out / "release.pt"))
    c = torch.eye(3)[:2]
    assert torch.isfinite(model.generate(model.sample_latent(2, torch.Generator().manual_seed(0), c), c)).all()


# ---- OSC -----------------------------------------------------------------------------------------------


def test_osc_style_faders_and_noise_change_the_rendered_hit(tiny_release, tmp_path):
    """``/drum/style/<k> f`` and ``/drum/noise f`` on a real loopback server: each renders a new hit
    with the control in its sidecar; a fader the model lacks is refused with nothing written."""
    import soundfile as sf
    from tests.osc_client import running_server

    session = Session.load(str(tiny_release))
    with running_server(session, tmp_path) as (_, client):
        assert client.request("/drum/ping")[1] == ["style", "kick", "snare", "cymbal"]
        plain = client.sample("/drum/generate", 3)
        styled = client.sample("/drum/style/1", 2.5)
        sidecar = json.loads(styled.with_suffix(".json").read_text())
        assert sidecar["style"]["faders"][1] == 2.5
        assert not np.allclose(sf.read(plain)[0], sf.read(styled)[0])
        noisy = client.sample("/drum/noise", 0.0)
        assert not np.allclose(sf.read(styled)[0], sf.read(noisy)[0])
        kind, args = client.request("/drum/style/40", 1.0)
        assert kind == "/drum/error" and "style fader" in args[0]
        kind, args = client.request("/drum/noise", -2.0)
        assert kind == "/drum/error" and "noise amount" in args[0]
