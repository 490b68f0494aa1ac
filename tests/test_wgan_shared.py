"""The GAN training pieces shared by the families (drumsynth.train.wgan): the WGAN-GP step against a
hand-written reference (toy nets, then the wavegan and style recipes with their own fakes), the class
agreement and the generator selection."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from drumsynth.audio.dsp import peak_normalise
from drumsynth.models import build_family_config, family_module
from drumsynth.models.style.recipe import stage_at as style_stage
from drumsynth.models.wavegan.recipe import stage_at as wavegan_stage
from drumsynth.nn.wave import (
    class_mean_spectra,
    class_spectrum_distance,
    real_at_scale,
    spectral_loss,
    spectral_ripple,
)
from drumsynth.train import seed_everything
from drumsynth.train.wgan import ClassAgreement, GeneratorSelection, gradient_penalty, wgan_gp_step

N_CRITIC, B, C, Z, T = 3, 4, 3, 5, 16


def reference_step(batch, real_view, fake_of, score, G, D, opt_g, opt_d, gp_weight, generator):
    """The WGAN-GP step written out plainly, as the recipes had it: ``N_CRITIC`` critic updates on
    consecutive slices of ``B`` real clips, then one generator update with the critic frozen."""
    d_losses, gps, distances = [], [], []
    for k in range(N_CRITIC):
        real = real_view(batch["wave"][k * B:(k + 1) * B])
        c = batch["c"][k * B:(k + 1) * B]
        with torch.no_grad():
            fake = fake_of(c)
        d_real = score(real, c)
        d_fake = score(fake, c)
        gp = gradient_penalty(lambda x, c=c: score(x, c), real, fake, generator)
        loss_d = d_fake.mean() - d_real.mean() + gp_weight * gp
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        d_losses.append(loss_d.item())
        gps.append(gp.item())
        distances.append((d_real.mean() - d_fake.mean()).item())
    for p in D.parameters():
        p.requires_grad = False
    c = batch["c_fake"][:B]
    loss_g = -score(fake_of(c), c).mean()
    opt_g.zero_grad()
    loss_g.backward()
    opt_g.step()
    for p in D.parameters():
        p.requires_grad = True
    return {"loss/d": sum(d_losses) / N_CRITIC, "loss/gp": sum(gps) / N_CRITIC,
            "loss/wasserstein": sum(distances) / N_CRITIC, "loss/g": loss_g.item()}


def a_batch(seed: int, length: int) -> dict[str, torch.Tensor]:
    """A batch in BalancedWaveBatches' form: N_CRITIC B clips Tensor[N_CRITIC B, 1, length]."""
    g = torch.Generator().manual_seed(seed)
    n = N_CRITIC * B
    return {"wave": torch.randn(n, 1, length, generator=g).tanh(),
            "c": torch.eye(C)[torch.randint(C, (n,), generator=g)],
            "c_fake": torch.eye(C)[torch.randint(C, (B,), generator=g)]}


def params(module: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def assert_same_params(a: nn.Module, b: nn.Module) -> None:
    for x, y in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(x, y)


# ---- the WGAN-GP step --------------------------------------------------------------------------------


class ToyCritic(nn.Module):
    """(x Tensor[B, 1, T], c Tensor[B, C], generator) -> Tensor[B]; a random jitter drawn from the
    generator at every call, so that the order of the draws shows in the result."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(T + C, 8), nn.Tanh(), nn.Linear(8, 1))

    def forward(self, x: torch.Tensor, c: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        jitter = 0.1 * torch.rand(len(x), T, generator=generator)
        return self.net(torch.cat([x[:, 0] + jitter, c], 1))[:, 0]


def toy_parts(seed: int):
    torch.manual_seed(seed)
    G, D = nn.Linear(Z + C, T), ToyCritic()
    return G, D, torch.optim.Adam(G.parameters(), lr=1e-2), torch.optim.Adam(D.parameters(), lr=1e-2)


def toy_callables(G, D, generator):
    def fake_of(c):
        z = torch.randn(len(c), Z, generator=generator)
        return torch.tanh(G(torch.cat([z, c], 1)))[:, None]

    return (lambda x: 0.5 * x), fake_of, (lambda x, c: D(x, c, generator))


def test_the_step_matches_the_hand_written_reference_draw_for_draw():
    batch = a_batch(1, T)
    G, D, opt_g, opt_d = toy_parts(0)
    gen = torch.Generator().manual_seed(7)
    view, fake_of, score = toy_callables(G, D, gen)
    metrics = wgan_gp_step(batch, view, fake_of, score, {"generator": G, "critic": D},
                           {"generator": opt_g, "critic": opt_d}, N_CRITIC, B, 10.0, gen)

    G2, D2, opt_g2, opt_d2 = toy_parts(0)
    gen2 = torch.Generator().manual_seed(7)
    view2, fake_of2, score2 = toy_callables(G2, D2, gen2)
    expected = reference_step(batch, view2, fake_of2, score2, G2, D2, opt_g2, opt_d2, 10.0, gen2)

    assert metrics == pytest.approx(expected, rel=1e-6, abs=1e-7)
    assert_same_params(G, G2)
    assert_same_params(D, D2)
    assert torch.equal(torch.rand(3, generator=gen), torch.rand(3, generator=gen2))  # the same number of draws
    assert all(p.requires_grad for p in D.parameters())


def test_the_critic_is_frozen_only_during_the_generator_update():
    batch = a_batch(2, T)
    G, D, opt_g, opt_d = toy_parts(3)
    gen = torch.Generator().manual_seed(0)
    view, fake_of, score = toy_callables(G, D, gen)
    frozen = []

    def watching(x, c):
        frozen.append(not any(p.requires_grad for p in D.parameters()))
        return score(x, c)

    before_g, before_d = params(G), params(D)
    wgan_gp_step(batch, view, fake_of, watching, {"generator": G, "critic": D},
                 {"generator": opt_g, "critic": opt_d}, N_CRITIC, B, 10.0, gen)
    # per critic update: D(real), D(fake), D(penalty points); then D(G(z)) with the critic frozen
    assert frozen == [False] * 3 * N_CRITIC + [True]
    assert all(p.requires_grad for p in D.parameters())
    assert all(not torch.equal(a, b) for a, b in zip(before_g, G.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(before_d, D.parameters()))


# ---- the recipes' steps ------------------------------------------------------------------------------

# Stage 1 fades in over its 2 steps: step 2 trains at alpha 0.5.
GROWING = ["train.fade_fraction=1.0", f"train.n_critic={N_CRITIC}", f"train.batch_size={B}"]


def wavegan_fakes(recipe, step, generator):
    scale, alpha = wavegan_stage(recipe.cfg, step)

    def fake_of(c):
        z = torch.randn(len(c), recipe.cfg.model.latent_dim, generator=generator)
        return recipe.generator(z, c, scale, alpha)

    return scale, alpha, fake_of


def style_fakes(recipe, step, generator):
    scale, alpha = style_stage(recipe.cfg, step)
    G = recipe.generator

    def fake_of(c):
        z = torch.randn(len(c), recipe.cfg.model.latent_dim, generator=generator)
        ws = G.mixed_styles(z, c, recipe.cfg.train.mixing_prob, generator)
        return G.synthesis(ws, scale, alpha, noise=None, generator=generator)

    return scale, alpha, fake_of


def reference_recipe_step(recipe, fakes, batch, step, generator):
    """:func:`reference_step` on ``recipe``'s nets at ``step``'s scale and fade-in, with the family's fakes."""
    scale, alpha, fake_of = fakes(recipe, step, generator)
    D, opts = recipe.critic, recipe.optimizers()
    expected = reference_step(batch, lambda x: real_at_scale(x, recipe.lengths, scale, alpha), fake_of,
                              lambda x, c: D(x, c, scale, alpha, generator), recipe.generator, D,
                              opts["generator"], opts["critic"], recipe.cfg.train.gp_weight, generator)
    return expected | {"stage/length": float(recipe.lengths[scale]), "stage/alpha": float(alpha)}


@pytest.mark.parametrize("family, fakes", [("wavegan", wavegan_fakes), ("style", style_fakes)])
def test_a_recipe_step_is_the_reference_step_with_the_familys_fakes(family, fakes):
    config = build_family_config(family, "tiny", overrides=GROWING)
    seed_everything(0)
    recipe = family_module(family).build_recipe(config, None)
    twin = copy.deepcopy(recipe)
    gen, gen2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    alphas = []
    for step in range(4):
        batch = a_batch(10 + step, recipe.lengths[-1])
        before_g, before_d = params(recipe.generator), params(recipe.critic)
        metrics = recipe.train_step(batch, step, gen)

        expected = reference_recipe_step(twin, fakes, batch, step, gen2)
        assert metrics == pytest.approx(expected, rel=1e-5, abs=1e-6), step
        assert_same_params(recipe.generator, twin.generator)
        assert_same_params(recipe.critic, twin.critic)
        assert any(not torch.equal(a, b) for a, b in zip(before_g, recipe.generator.parameters()))
        assert any(not torch.equal(a, b) for a, b in zip(before_d, recipe.critic.parameters()))
        alphas.append(metrics["stage/alpha"])
    assert 0.0 < min(alphas) < 1.0  # a fade-in step is among them
    assert torch.equal(torch.rand(3, generator=gen), torch.rand(3, generator=gen2))


# ---- class agreement ---------------------------------------------------------------------------------


class FirstSamplesJudge:
    """A stand-in classifier: the class of a hit Tensor[T] is the argmax of its first C samples."""

    def probs3(self, waves: torch.Tensor, sr: int) -> torch.Tensor:
        return torch.softmax(waves[:, :C] * 50, 1)


def test_class_agreement_judges_the_same_fixed_latents_every_time(monkeypatch):
    loads = []

    def load_classifier(device):
        loads.append(device)
        return FirstSamplesJudge()

    monkeypatch.setattr("drumsynth.metrics.classifier.load_classifier", load_classifier)
    per_class = 15  # 45 hits: rendered in batches of 32 and 13
    agreement = ClassAgreement(1234, per_class, C, Z, 16000)
    seen = []

    def faithful(z, c):
        seen.append(z)
        return torch.cat([c, torch.zeros(len(c), 5)], 1)

    def one_class(z, c):
        return torch.cat([torch.eye(C)[[0] * len(c)], torch.zeros(len(c), 5)], 1)

    def first_called_second(z, c):  # every hit of the first class sounds like the second
        return torch.cat([torch.where(c[:, :1] == 1, torch.eye(C)[1], c), torch.zeros(len(c), 5)], 1)

    device = torch.device("cpu")
    assert agreement(faithful, device) == 1.0
    assert agreement(one_class, device) == pytest.approx(1 / 3)
    assert agreement(faithful, device) == 1.0
    assert len(loads) == 1  # loaded at the first call only
    assert [len(z) for z in seen] == [32, 13, 32, 13]
    assert torch.equal(torch.cat(seen[:2]), torch.cat(seen[2:]))
    assert torch.equal(torch.cat(seen[:2]), torch.randn(3 * per_class, Z, generator=torch.Generator().manual_seed(1234)))
    other = ClassAgreement(99, per_class, C, Z, 16000)
    other(faithful, device)
    assert not torch.equal(seen[-2], seen[0])  # another seed, other hits
    assert agreement(first_called_second, device) == pytest.approx(2 / 3)


# ---- generator selection -----------------------------------------------------------------------------


def test_the_selection_keeps_the_best_judged_weights_and_loads_them_once():
    selection = GeneratorSelection()
    module = nn.Linear(3, 2)
    assert selection.offer(0.5, 4, module) == {"valid/class_agreement": 0.5, "valid/selected_step": 4.0}
    best = params(module)
    with torch.no_grad():
        module.weight.add_(1.0)  # training goes on: the kept weights are a copy
    assert selection.offer(0.5, 6, module)["valid/selected_step"] == 4.0  # the first of equal scores stays
    assert selection.offer(0.25, 8, module)["valid/selected_step"] == 4.0
    assert torch.equal(selection.selected["weights"]["weight"], best[0])
    assert selection.release_entry() == {}  # nothing shipped until the encoder phase loads it

    state = selection.state_dict()
    assert set(state) == {"selected", "selection_loaded"}  # resume.pt's keys
    resumed = GeneratorSelection()
    resumed.load_state_dict(state)
    target = nn.Linear(3, 2)
    assert resumed.load_into(target)
    assert torch.equal(target.weight, best[0]) and torch.equal(target.bias, best[1])
    with torch.no_grad():
        target.weight.zero_()
    assert not resumed.load_into(target)  # once per process
    assert torch.equal(target.weight, torch.zeros_like(target.weight))
    assert resumed.release_entry() == {"selected": {"step": 4, "class_agreement": 0.5}}
    assert resumed.state_dict()["selection_loaded"]

    again = GeneratorSelection()  # a run resumed after the load keeps the trained weights
    again.load_state_dict(resumed.state_dict())
    assert again.load_into(target) and torch.equal(target.weight, torch.zeros_like(target.weight))
    nothing = GeneratorSelection()
    nothing.load_state_dict({})  # a checkpoint from before the selection existed
    assert nothing.load_into(target) and not nothing.loaded and nothing.release_entry() == {}


@pytest.mark.parametrize("family, keys", [("style", ["selected", "selection_loaded"]),
                                          ("drumgan", ["gain", "selected", "selection_loaded"])])
def test_the_recipes_checkpoint_state_keeps_its_keys(family, keys):
    recipe = family_module(family).build_recipe(build_family_config(family, "tiny", overrides=[]), None)
    G = recipe.generator_ema if family == "drumgan" else recipe.generator
    recipe.selection.offer(0.75, 3, G)
    state = recipe.state_dict()
    assert list(state) == keys and state["selected"]["step"] == 3 and state["selection_loaded"] is False
    fresh = family_module(family).build_recipe(build_family_config(family, "tiny", overrides=[]), None)
    fresh.load_state_dict(state)
    assert fresh.selection.selected["agreement"] == 0.75


def test_wavegan_renders_peak_normalised_hits_for_the_judge(monkeypatch):
    monkeypatch.setattr("drumsynth.metrics.classifier.load_classifier", lambda device: FirstSamplesJudge())
    config = build_family_config("wavegan", "tiny", overrides=["train.select_per_class=2"])
    recipe = family_module("wavegan").build_recipe(config, None)
    recipe.last_step = config.train.max_steps - 1
    hits = []
    original = peak_normalise

    def spy(x):
        hits.append(original(x))
        return hits[-1]

    monkeypatch.setattr("drumsynth.models.wavegan.recipe.peak_normalise", spy)
    metrics = recipe.validate(recipe.modules(), None)
    assert set(metrics) == {"valid/class_agreement"}
    assert hits and hits[0].shape == (2 * len(recipe.classes), recipe.lengths[-1])
    assert torch.allclose(hits[0].abs().amax(1), torch.ones(len(hits[0])), atol=1e-5)


# ---- the class-spectrum term ---------------------------------------------------------------------------


def decaying_hits(seed: int, n: int, floor: float = 0.0) -> torch.Tensor:
    """Noise hits decaying with a 20 ms time constant at 44.1 kHz, plus a constant noise floor of rms
    ``floor``: Tensor[n, 8192]."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(8192) / 44100
    return torch.randn(n, 8192, generator=g) * (torch.exp(-t / 0.02) + floor)


def test_the_class_spectrum_distance_sees_a_tail_the_waveform_barely_shows():
    c = torch.eye(C)[torch.arange(12) % C]
    real = decaying_hits(0, 12)
    means, present = class_mean_spectra(real, c)
    assert class_spectrum_distance(real, c, means, present).item() == 0.0

    other_hits = class_spectrum_distance(decaying_hits(1, 12), c, means, present)
    floor = decaying_hits(1, 12, floor=0.03)  # -30 dB: 3 % of the peak, over the whole clip
    with_floor = class_spectrum_distance(floor, c, means, present)
    waveform_gap = (floor - decaying_hits(1, 12)).pow(2).mean().sqrt()
    assert waveform_gap < 0.04
    assert other_hits < 0.1  # fresh noise of the same shape: a small gap
    assert with_floor > 0.5  # 10 dB on average over every cell: up to 50 dB above the real tail


def test_the_class_spectrum_distance_compares_only_classes_in_both_batches_and_passes_gradients():
    real, fake = decaying_hits(0, 6), decaying_hits(1, 6, floor=0.03).requires_grad_(True)
    real_c = torch.eye(C)[torch.tensor([0, 0, 0, 1, 1, 1])]
    means, present = class_mean_spectra(real, real_c)
    only_missing = class_spectrum_distance(fake, torch.eye(C)[[2] * 6], means, present)
    assert only_missing.item() == 0.0
    only_missing.backward()  # still a graph: a generator batch of absent classes trains on the critic alone

    fake.grad = None
    mixed_c = torch.eye(C)[torch.tensor([0, 0, 2, 2, 2, 2])]  # class 0 in both, class 2 in the fakes only
    distance = class_spectrum_distance(fake, mixed_c, means, present)
    distance.backward()
    assert distance > 0
    assert fake.grad[:2].abs().sum() > 0 and fake.grad[2:].abs().sum() == 0


def test_the_spectral_terms_pass_finite_gradients_through_a_tail_shut_to_subnormal_levels():
    """Regression (session 19): a 0.74 s style run diverged at step 2091 because its decay envelope shut a
    hit's tail to subnormal levels (below 1e-38), where the complex STFT's abs had a NaN gradient."""
    real = decaying_hits(0, 6)
    fake = decaying_hits(1, 6).clone()
    fake[:, fake.shape[1] // 2:] *= 1e-38  # the second half at subnormal levels, as an envelope near 0 leaves it
    fake.requires_grad_(True)
    c = torch.eye(C)[torch.tensor([0, 0, 1, 1, 2, 2])]
    means, present = class_mean_spectra(real, c)
    (class_spectrum_distance(fake, c, means, present) + spectral_loss(fake, real, [256, 64]).mean()).backward()
    assert torch.isfinite(fake.grad).all() and fake.grad.abs().sum() > 0


def test_the_spectral_ripple_sees_ticks_in_a_decay_and_not_the_decay():
    """A decay is a line in dB, so its cell-to-cell second difference is small; the same decay with a short
    broadband burst every 46 ms (run 5's period), 26 dB below the peak, jumps in every band, and the
    class-ripple distance tells it from fresh noise of the same decay (per-cell means could not: the
    noise's own flicker is as large)."""
    c = torch.eye(C)[torch.arange(12) % C]
    smooth, again = decaying_hits(0, 12), decaying_hits(1, 12)
    ticked = smooth.clone()
    bursts = torch.randn(12, 64, generator=torch.Generator().manual_seed(2)) * 0.05
    for start in range(2048, 8192 - 64, 2048):
        ticked[:, start:start + 64] += bursts
    assert spectral_ripple(smooth).shape == (12, 16, 1)
    quiet, loud = (spectral_ripple(x).mean() for x in (smooth, ticked))
    assert loud > 1.3 * quiet  # about 2.8 dB against 4.2
    means, present = class_mean_spectra(smooth, c, spectral_ripple)
    assert class_spectrum_distance(smooth, c, means, present, spectral_ripple).item() == 0.0
    fresh = class_spectrum_distance(again, c, means, present, spectral_ripple)
    with_ticks = class_spectrum_distance(ticked, c, means, present, spectral_ripple)
    assert with_ticks > 4.0 * fresh  # about 0.066 against 0.009


def test_the_style_generator_update_adds_the_class_spectrum_term_at_full_length_only():
    full = ["train.stage_steps=[1, 1, 1, 1]", "train.max_steps=6", "train.fade_fraction=0.0", f"train.n_critic={N_CRITIC}",
            f"train.batch_size={B}"]
    runs = {}
    for weight in (0.0, 1.0):
        config = build_family_config("style", "tiny", overrides=full + [f"train.class_spectrum={weight}"])
        seed_everything(0)
        recipe = family_module("style").build_recipe(config, None)
        gen = torch.Generator().manual_seed(5)
        coarse = recipe.train_step(a_batch(10, recipe.lengths[-1]), 0, gen)
        top = recipe.train_step(a_batch(11, recipe.lengths[-1]), 3, gen)
        runs[weight] = (coarse, top, params(recipe.generator))
    assert "loss/class_spectrum" not in runs[1.0][0]  # the coarsest scale: off
    assert runs[1.0][1]["loss/class_spectrum"] > 0 and "loss/class_spectrum" not in runs[0.0][1]
    assert runs[1.0][1]["stage/length"] == 4096.0
    # The critic update and the adversarial loss are the same draw for draw; the generator then moves
    # differently because the term joins its loss.
    assert runs[1.0][1]["loss/d"] == pytest.approx(runs[0.0][1]["loss/d"])
    assert any(not torch.equal(a, b) for a, b in zip(runs[0.0][2], runs[1.0][2]))
