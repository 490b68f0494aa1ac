"""WaveGAN family: phase shuffle, progressive fade-in, the up-sampling kinds, the gradient penalty, the
schedule, GAN inversion, determinism, and Analyze -> vary through the Session on a tiny release."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from conftest import synth_hit, torchrun_train, write_synthetic_cache
from drumsynth.audio.dsp import peak_normalise
from drumsynth.errors import DrumsynthError
from drumsynth.inference.session import Session
from drumsynth.models import build_family_config, family_module
from drumsynth.models.wavegan.builder import build_modules
from drumsynth.models.wavegan.config import lengths
from drumsynth.models.wavegan.invert import LEAN, screen
from drumsynth.models.wavegan.model import WaveGANModel
from drumsynth.models.wavegan.networks import Generator
from drumsynth.models.wavegan.recipe import stage_at
from drumsynth.nn.wave import (
    UPSAMPLINGS,
    Critic,
    PhaseShuffle,
    downsample,
    real_at_scale,
    spectral_loss,
    upsample,
)
from drumsynth.train import load_checkpoint, seed_everything
from drumsynth.train.checkpoint import module_state, new_checkpoint, save_checkpoint, to_cpu
from drumsynth.train.wgan import gradient_penalty


def tiny_config(*overrides: str):
    return build_family_config("wavegan", "tiny", overrides=list(overrides))


def tiny_model(seed: int = 0, *overrides: str) -> WaveGANModel:
    seed_everything(seed)
    config = tiny_config(*overrides)
    generator, _ = build_modules(config)
    return WaveGANModel(config, generator)


# ---- phase shuffle ----------------------------------------------------------------------------------


def reflect_shift(x: torch.Tensor, k: int) -> torch.Tensor:
    """x Tensor[C, L] moved by k samples (out[t] = x[t - k]), edges reflected, written out by hand."""
    n = x.shape[-1]
    out = torch.empty_like(x)
    for t in range(n):
        j = t - k
        j = -j if j < 0 else (2 * (n - 1) - j if j >= n else j)
        out[:, t] = x[:, j]
    return out


def test_phase_shuffle_moves_each_example_by_at_most_s_with_reflection():
    s = 2
    shuffle = PhaseShuffle(s).train()
    x = torch.randn(64, 3, 20)
    out = shuffle(x, torch.Generator().manual_seed(0))
    seen = set()
    for b in range(len(x)):
        matches = [k for k in range(-s, s + 1) if torch.equal(out[b], reflect_shift(x[b], k))]
        assert len(matches) == 1, f"example {b} is not a reflected shift of at most {s} samples"
        seen.add(matches[0])
    assert seen == set(range(-s, s + 1))  # every shift occurs in 64 draws, including none
    again = shuffle(x, torch.Generator().manual_seed(0))
    assert torch.equal(out, again)  # the shifts come from the generator


def test_phase_shuffle_is_identity_in_eval_and_the_critic_is_then_deterministic():
    shuffle = PhaseShuffle(2).eval()
    x = torch.randn(4, 3, 20)
    assert torch.equal(shuffle(x), x)
    config = tiny_config()
    seed_everything(0)
    _, critic = build_modules(config)
    wave, c = torch.randn(3, 1, config.data.length).tanh(), torch.eye(3)
    critic.train()
    trained = [critic(wave, c, generator=torch.Generator().manual_seed(k)) for k in range(3)]
    assert not all(torch.equal(trained[0], t) for t in trained[1:])  # shuffled in training
    critic.eval()
    assert torch.equal(critic(wave, c, generator=torch.Generator().manual_seed(0)),
                       critic(wave, c, generator=torch.Generator().manual_seed(1)))


# ---- progressive growing ----------------------------------------------------------------------------


def grown_generator(*overrides: str) -> tuple[Generator, torch.Tensor, torch.Tensor]:
    config = tiny_config(*overrides)
    seed_everything(1)
    generator, _ = build_modules(config)
    z = torch.randn(3, config.model.latent_dim)
    return generator, z, torch.eye(3)


@pytest.mark.parametrize("kind", UPSAMPLINGS)
def test_fade_in_at_alpha_0_is_the_smaller_generator_upsampled(kind):
    generator, z, c = grown_generator(f"model.upsampling={kind}")
    first, last = generator.first_scale, generator.n_blocks
    assert last > first
    with torch.no_grad():
        for scale in range(first + 1, last + 1):
            smaller = generator(z, c, scale - 1)
            grown = generator(z, c, scale, alpha=0.0)
            assert grown.shape[-1] == 4 * smaller.shape[-1] == generator.lengths[scale]
            assert torch.equal(grown, upsample(smaller, kind))


def test_fade_in_at_alpha_1_is_the_new_block_only():
    generator, z, c = grown_generator()
    scale = generator.n_blocks
    old_to_wave = generator.to_wave[scale - 1 - generator.first_scale]
    with torch.no_grad():
        full, half = generator(z, c, scale, alpha=1.0), generator(z, c, scale, alpha=0.5)
        old_to_wave.weight.add_(1.0)  # the previous scale's output layer
        assert torch.equal(generator(z, c, scale, alpha=1.0), full)
        assert not torch.allclose(generator(z, c, scale, alpha=0.5), half)


def test_critic_fade_in_at_alpha_0_sees_the_pooled_input():
    config = tiny_config()
    seed_everything(2)
    _, critic = build_modules(config)
    critic.eval()
    sizes = lengths(config)
    x = torch.randn(3, 1, sizes[-1]).tanh()
    c = torch.eye(3)
    with torch.no_grad():
        assert torch.allclose(critic(x, c, len(sizes) - 1, alpha=0.0), critic(downsample(x), c, len(sizes) - 2),
                              atol=1e-6)


@pytest.mark.parametrize("kind", UPSAMPLINGS)
def test_real_clips_fade_like_the_generator(kind):
    sizes = [16, 64, 256]
    x = torch.randn(2, 1, 256)
    assert torch.equal(real_at_scale(x, sizes, 2, 1.0, kind), x)
    assert torch.allclose(real_at_scale(x, sizes, 2, 0.0, kind), upsample(downsample(x), kind))
    assert torch.allclose(real_at_scale(x, sizes, 1, 1.0, kind), downsample(x))


# ---- up-sampling kinds ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", UPSAMPLINGS)
def test_every_upsampling_keeps_constants_and_the_sample_grid(kind):
    assert torch.allclose(upsample(torch.full((2, 3, 16), -0.7), kind), torch.full((2, 3, 64), -0.7), atol=1e-6)
    # Output n sits at (n + 0.5) / 4 - 0.5 input samples: a ramp comes back as that position, away from the
    # held edges (nearest only within its 4-sample runs).
    n = torch.arange(128.0)
    error = upsample(torch.arange(32.0).view(1, 1, 32), kind)[0, 0] - ((n + 0.5) / 4 - 0.5)
    tolerance = {"nearest": 0.375 + 1e-6, "linear": 1e-5, "kaiser": 1e-3}[kind]
    assert error[20:108].abs().max() <= tolerance


def image_level_db(kind: str) -> float:
    """A tone at 0.1 cycles per input sample, up-sampled: its loudest image (above 0.15 cycles per output
    sample; the tone is at 0.025) against the tone, in dB, from a Hann-windowed spectrum of the middle."""
    tone = torch.cos(2 * math.pi * 0.1 * torch.arange(512.0)).view(1, 1, -1)
    middle = upsample(tone, kind)[0, 0, 512:1536].double()
    spectrum = torch.fft.rfft(middle * torch.hann_window(1024, dtype=torch.float64)).abs()
    freqs = torch.fft.rfftfreq(1024)
    return float(20 * torch.log10(spectrum[freqs > 0.15].max() / spectrum.max()))


def test_filtered_upsampling_removes_the_images_nearest_leaves():
    levels = {kind: image_level_db(kind) for kind in UPSAMPLINGS}
    assert levels["nearest"] > -25.0                 # the box's image at 0.225: -18.5 dB
    assert levels["linear"] < levels["nearest"] - 15.0
    assert levels["kaiser"] < -55.0


def test_an_unknown_upsampling_is_refused():
    with pytest.raises(DrumsynthError, match="model.upsampling"):
        tiny_config("model.upsampling=cubic")
    with pytest.raises(ValueError, match="up-sampling"):
        upsample(torch.zeros(1, 1, 4), "cubic")


# ---- decay envelope (ours) --------------------------------------------------------------------------


def test_the_decay_envelope_is_off_by_default_and_silences_a_tail_when_on():
    """With ``model.envelope_length`` the full-length output is the seed's network's times a decay envelope
    of [z, class]: set to its shortest time constant (2 ms), the hit is silent long before the clip ends."""
    plain, z, c = grown_generator()
    assert plain.envelope is None and tiny_config().model.envelope_length == 0
    length = tiny_config().data.length
    generator, _, _ = grown_generator(f"model.envelope_length={length}")
    generator.load_state_dict(plain.state_dict(), strict=False)  # the same network, plus the envelope
    assert generator.envelope is not None and generator.envelope_scale == generator.n_blocks
    with torch.no_grad():
        assert torch.equal(generator(z, c, generator.n_blocks - 1), plain(z, c, generator.n_blocks - 1))
        envelope = generator.envelope(torch.cat([z, generator.embed(c)], dim=1), length)
        assert torch.allclose(generator(z, c), plain(z, c) * envelope)
        assert float(envelope[:, 0, 0].min()) == pytest.approx(1.0)  # peak 1 at the onset: it never sets the level
        generator.envelope.affine.bias.fill_(-10.0)  # both time constants at their floor, 88 samples
        shut, open_ = generator(z, c), plain(z, c)
    assert float(shut[..., 2000:].abs().max()) < 1e-9 < float(open_[..., 2000:].abs().max())


def test_the_decay_envelope_fades_in_with_its_block():
    length = tiny_config().data.length
    generator, z, c = grown_generator(f"model.envelope_length={length}")
    with torch.no_grad():
        generator.envelope.affine.bias.fill_(-10.0)
        at_0 = generator(z, c, generator.n_blocks, alpha=0.0)
        smaller = generator(z, c, generator.n_blocks - 1)
        assert torch.equal(at_0, upsample(smaller, "nearest"))  # alpha 0: no envelope yet, as no block
        assert float(generator(z, c, generator.n_blocks, alpha=0.5)[..., 2000:].abs().max()) > 1e-3


def test_an_envelope_length_that_is_no_clip_length_is_refused():
    with pytest.raises(DrumsynthError, match="model.envelope_length"):
        build_modules(tiny_config("model.envelope_length=1000"))


def test_a_release_with_the_envelope_trains_saves_and_reloads(tmp_path):
    """The tiny preset with the envelope trains end to end (growing through its fade-in), and its release
    loads with the envelope and renders finite hits."""
    from drumsynth.cli.main import main
    from drumsynth.data.taxonomy import CLASSES3

    write_synthetic_cache(tmp_path / "cache", CLASSES3, splits=("train",))
    length = tiny_config().data.length
    assert main(["train", "--family", "wavegan", "--preset", "tiny", "--data", str(tmp_path / "cache"), "--out",
                 str(tmp_path / "run"), "--quiet", "--set", f"model.envelope_length={length}"]) == 0
    session = Session.load(str(tmp_path / "run" / "release.pt"))
    assert session.model.generator.envelope is not None
    render = session.generate("snare", n=2, seed=3)
    assert render.waves.shape == (2, length) and np.all(np.isfinite(render.waves))


def test_schedule_grows_and_fades_linearly():
    config = tiny_config("train.stage_steps=[2, 4, 4, 6]", "train.fade_fraction=0.5")
    first = lengths(config).index(config.model.start_length)
    assert stage_at(config, 0) == (first, 1.0) and stage_at(config, 1) == (first, 1.0)
    assert stage_at(config, 2) == (first + 1, 0.5) and stage_at(config, 3) == (first + 1, 1.0)
    assert stage_at(config, 10) == (first + 3, 1 / 3) and stage_at(config, 12) == (first + 3, 1.0)
    assert stage_at(config, 100) == (len(lengths(config)) - 1, 1.0)
    flat = tiny_config("model.start_length=0")
    assert stage_at(flat, 0) == (len(lengths(flat)) - 1, 1.0)


# ---- the gradient penalty ---------------------------------------------------------------------------


class TinyCritic(torch.nn.Module):
    """A smooth critic Tensor[B, 1, 8] -> Tensor[B] (softplus: second derivatives exist everywhere)."""

    def __init__(self) -> None:
        super().__init__()
        self.a = torch.nn.Linear(8, 5).double()
        self.b = torch.nn.Linear(5, 1).double()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(torch.nn.functional.softplus(self.a(x.flatten(1))))[:, 0]


def test_gradient_penalty_matches_finite_differences():
    torch.manual_seed(0)
    critic = TinyCritic()
    real, fake = torch.randn(4, 1, 8, dtype=torch.float64), torch.randn(4, 1, 8, dtype=torch.float64)
    gp = gradient_penalty(critic, real, fake, torch.Generator().manual_seed(5))

    # The same interpolation points, the critic's input gradient by central differences.
    eps = torch.rand(4, 1, 1, generator=torch.Generator().manual_seed(5)).double()
    mixed = torch.lerp(fake, real, eps)

    def penalty_by_differences() -> float:
        h, total = 1e-6, 0.0
        with torch.no_grad():
            for i in range(len(mixed)):
                grad = torch.zeros(8, dtype=torch.float64)
                for j in range(8):
                    step = torch.zeros_like(mixed[i:i + 1])
                    step.view(-1)[j] = h
                    grad[j] = (critic(mixed[i:i + 1] + step) - critic(mixed[i:i + 1] - step)).item() / (2 * h)
                total += (grad.norm().item() - 1.0) ** 2
        return total / len(mixed)

    assert gp.item() == pytest.approx(penalty_by_differences(), rel=1e-6)
    # Its gradient in a critic weight (the double backward) against a difference of penalties.
    (analytic,) = torch.autograd.grad(gp, critic.a.weight)
    with torch.no_grad():
        critic.a.weight[1, 2] += 1e-4
    up = penalty_by_differences()
    with torch.no_grad():
        critic.a.weight[1, 2] -= 2e-4
    down = penalty_by_differences()
    assert analytic[1, 2].item() == pytest.approx((up - down) / 2e-4, rel=1e-3, abs=1e-6)


# ---- training ---------------------------------------------------------------------------------------


def test_a_critic_step_lowers_the_critic_loss_on_a_fixed_batch():
    config = tiny_config("model.start_length=0", "train.n_critic=1", "train.lr=1e-3")
    seed_everything(0)
    recipe = family_module("wavegan").build_recipe(config, None)
    b, t = config.train.batch_size, config.data.length
    batch = {"wave": torch.from_numpy(np.stack([synth_hit(k, sr=config.data.sr, seconds=0.2)[:t]
                                                for k in ("kick", "snare", "cymbal", "kick")]))[:, None],
             "c": torch.eye(3)[[0, 1, 2, 0]], "c_fake": torch.eye(3)[[0, 1, 2, 0]]}
    batch["wave"] = torch.nn.functional.pad(batch["wave"], (0, t - batch["wave"].shape[-1]))[:b]
    first = [recipe.train_step(batch, 0, torch.Generator().manual_seed(0))["loss/wasserstein"]]
    for step in range(1, 15):
        first.append(recipe.train_step(batch, step, torch.Generator().manual_seed(step))["loss/wasserstein"])
    # The critic learns to tell this batch from the generator's output: its Wasserstein estimate grows.
    assert np.mean(first[-5:]) > first[0]


# ---- inversion and determinism ----------------------------------------------------------------------


def test_inversion_lowers_the_spectral_loss_on_a_generated_sound():
    model = tiny_model(0, "invert.steps=40", "invert.restarts=1")
    z_true = model.sample_latent(2, torch.Generator().manual_seed(7))
    c = torch.eye(3)[[0, 2]]
    target = model.generate(z_true, c)
    start = spectral_loss(model.generate(torch.zeros_like(z_true), c), target, model.config.invert.n_ffts)
    z = model.encode(target, c)
    after = spectral_loss(model.generate(z, c), target, model.config.invert.n_ffts)
    assert torch.all(after < start), (start, after)
    assert torch.allclose(model.last_inversion_loss, after, atol=1e-5)


def test_screening_picks_starts_at_least_as_close_as_the_prior_mode():
    """The screened starts are the candidates nearest each sound (z = 0 is one of them), best first, and
    with free class weights each start leans towards one class."""
    model = tiny_model(0, "invert.candidates=6", "invert.restarts=2")
    cfg = model.config.invert
    z_true = model.sample_latent(2, torch.Generator().manual_seed(11))
    c = torch.eye(3)[[0, 2]]
    target = peak_normalise(model.generate(z_true, c))

    def loss(z, weights):
        return spectral_loss(peak_normalise(model._render(z, weights)), target.repeat_interleave(2, 0), cfg.n_ffts)

    z0, logits = screen(model._render, target, c, latent_dim=model.latent_dim, n_classes=3, config=cfg)
    assert z0.shape == (4, model.latent_dim) and torch.equal(logits, torch.zeros(4, 3))
    fixed = c.repeat_interleave(2, 0)
    screened = loss(z0, fixed).view(2, 2)
    prior_mode = loss(torch.zeros(4, model.latent_dim), fixed).view(2, 2)[:, 0]
    assert torch.all(screened[:, 0] <= prior_mode + 1e-6) and torch.all(screened[:, 0] <= screened[:, 1] + 1e-6)
    z_free, logits_free = screen(model._render, target, None, latent_dim=model.latent_dim, n_classes=3, config=cfg)
    assert z_free.shape == (4, model.latent_dim)
    assert torch.equal(logits_free.max(1).values, torch.full((4,), LEAN)) and torch.equal((logits_free > 0).sum(1),
                                                                                          torch.ones(4, dtype=torch.long))
    with pytest.raises(DrumsynthError, match="restarts"):
        tiny_config("invert.candidates=2", "invert.restarts=3")


def test_a_resume_may_change_the_inversion_settings_only(tmp_path, capsys):
    """``invert`` is read by the release only: a resumed run may change it, and its release carries it."""
    from drumsynth.cli.main import main
    from drumsynth.data.taxonomy import CLASSES3

    write_synthetic_cache(tmp_path / "cache", CLASSES3, splits=("train",))
    run = ["train", "--family", "wavegan", "--preset", "tiny", "--data", str(tmp_path / "cache"), "--out",
           str(tmp_path / "run"), "--quiet"]
    assert main([*run, "--steps", "2"]) == 0
    assert main([*run, "--steps", "3", "--set", "train.lr=0.01"]) == 2
    assert "another config" in capsys.readouterr().err
    assert main([*run, "--steps", "3", "--set", "invert.steps=7"]) == 0
    assert load_checkpoint(tmp_path / "run" / "release.pt")["config"]["invert"]["steps"] == 7


def test_analyze_estimates_weights_and_is_deterministic():
    model = tiny_model(0)
    target = model.generate(model.sample_latent(2, torch.Generator().manual_seed(3)), torch.eye(3)[[1, 2]])
    z1, c1 = model.analyze(target)
    z2, c2 = model.analyze(target)
    assert torch.equal(z1, z2) and torch.equal(c1, c2)
    assert c1.shape == (2, 3) and torch.allclose(c1.sum(1), torch.ones(2))
    # A sound's latent does not depend on the other sounds of its batch (up to float rounding, which
    # differs with the batch size and grows over the Adam steps).
    z_one, _ = model.analyze(target[1:])
    assert torch.allclose(z_one[0], z1[1], atol=1e-3)
    assert model.reconstruct(target).shape == target.shape


def test_the_model_is_deterministic_per_seed():
    a, b, other = tiny_model(0), tiny_model(0), tiny_model(1)
    c = torch.eye(3)
    za, zb = (m.sample_latent(3, torch.Generator().manual_seed(11)) for m in (a, b))
    assert torch.equal(za, zb) and torch.equal(a.generate(za, c), b.generate(zb, c))
    assert not torch.equal(a.generate(za, c), other.generate(za, c))
    assert not torch.equal(za, a.sample_latent(3, torch.Generator().manual_seed(12)))
    wave = a.generate(za, c)
    assert wave.shape == (3, a.length) and wave.abs().amax(1).allclose(torch.ones(3))


def test_soft_class_weights_mix_the_embeddings():
    model = tiny_model(0)
    g = model.generator
    half = torch.tensor([[0.5, 0.5, 0.0]])
    assert torch.allclose(g.embed(half), 0.5 * (g.embed.weight[:, 0] + g.embed.weight[:, 1])[None])


# ---- through the Session ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_release(tmp_path_factory):
    """An untrained tiny release file (what a fresh run would write)."""
    seed_everything(0)
    recipe = family_module("wavegan").build_recipe(tiny_config(), None)
    model = {name: module_state(recipe.modules()[name]) for name in recipe.release_modules()}
    checkpoint = new_checkpoint("release", family="wavegan", config=to_cpu(recipe.config), step=0, model=model,
                                weights=dict.fromkeys(model, "raw"), extra=to_cpu(recipe.release_extra()), seed=0)
    return save_checkpoint(checkpoint, tmp_path_factory.mktemp("wavegan") / "wavegan.pt")


def test_session_analyze_sets_the_sliders_and_vary_decodes(tiny_release):
    session = Session.load(str(tiny_release))
    assert session.family == "wavegan" and session.classes == ("kick", "snare", "cymbal")
    hit = synth_hit("snare", sr=session.model.sample_rate, seconds=0.2)
    result = session.analyze(hit, session.model.sample_rate)
    assert set(result["sliders"]) == {"kick", "snare", "cymbal"}
    assert sum(result["sliders"].values()) == pytest.approx(1.0, abs=1e-5)
    assert len(result["latent"]) == session.model.latent_dim
    render = session.vary(0.5)
    assert render.waves.shape == (1, session.model.length) and np.all(np.isfinite(render.waves))
    again = Session.load(str(tiny_release))
    assert again.analyze(hit, session.model.sample_rate) == result  # the same sound, the same centre


def test_explore3d_preset_is_cpu_with_a_3d_latent():
    """The seed's directly explorable space: the `cpu` preset with z in R^3, which builds and generates."""
    cpu, explore = build_family_config("wavegan", "cpu"), build_family_config("wavegan", "explore3d")
    assert explore.model.latent_dim == 3 and cpu.model.latent_dim == 100
    explore.model.latent_dim = cpu.model.latent_dim
    assert explore == cpu  # nothing else differs
    config = build_family_config("wavegan", "explore3d")
    generator, _ = build_modules(config)
    model = WaveGANModel(config, generator)
    wave = model.generate(torch.tensor([[0.5, -1.0, 2.0]]), torch.eye(3)[[2]])
    assert wave.shape == (1, 16384) and torch.isfinite(wave).all()


def test_critic_and_generator_shapes():
    config = tiny_config()
    generator, critic = build_modules(config)
    assert isinstance(generator, Generator) and isinstance(critic, Critic)
    z, c = torch.randn(2, config.model.latent_dim), torch.eye(3)[:2]
    for scale in range(generator.first_scale, generator.n_blocks + 1):
        out = generator(z, c, scale)
        assert out.shape == (2, 1, lengths(config)[scale]) and out.abs().max() <= 1.0
        assert critic(out, c, scale).shape == (2,)


# ---- torchrun -----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_training_runs_under_torchrun_with_two_processes(tmp_path):
    """``drumsynth train --family wavegan`` under torchrun (the Trainer's "average" DDP mode: plain
    modules, rank 0's weights, averaged gradients) writes one log and a release that loads."""
    from drumsynth.data.taxonomy import CLASSES3
    from drumsynth.train.logging import read_log

    out = tmp_path / "run"
    cache = write_synthetic_cache(tmp_path / "cache", CLASSES3)
    torchrun_train("wavegan", cache, out, "--steps", "4", "--set", "train.log_every=1")
    steps = [r["step"] for r in read_log(out / "log.jsonl") if "loss/d" in r["metrics"]]
    assert steps and steps == sorted(set(steps)) and steps[-1] == 4  # one writer: rank 0
    model = family_module("wavegan").load_model(load_checkpoint(out / "release.pt"))
    z = model.sample_latent(2, torch.Generator().manual_seed(0))
    assert torch.isfinite(model.generate(z, torch.eye(3)[:2])).all()
