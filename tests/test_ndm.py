"""Neural Drum Machine family: MMD estimator, conditional BN, MCNN mask and training, PCA controls,
presets, and the release-checkpoint round trip through the family contract."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from conftest import synth_hit
from drumsynth.data.cache import load_cache, write_cache
from drumsynth.data.taxonomy import CLASSES
from drumsynth.errors import DrumsynthError
from drumsynth.inference.session import PRETRAINED
from drumsynth.models import build_family_config, family_module
from drumsynth.models.ndm import controls
from drumsynth.models.ndm.features import mel as mel_of
from drumsynth.models.ndm.mcnn import (
    FAST_ELU_MAX,
    MCNN,
    fast_elu,
    folded_weight,
    inference_elu,
    mask_target,
    space_to_depth,
    spectral_convergence,
)
from drumsynth.models.ndm.recipe import NDMRecipe, build_modules, mcnn_losses, one_hot
from drumsynth.models.ndm.wae import (
    ConditionalBatchNorm,
    class_mmd,
    imq_kernel,
    mmd_imq,
)
from drumsynth.nn.polyphase import conv_transpose_polyphase, transposed_conv_phases
from drumsynth.train import Trainer, load_checkpoint, seed_everything

# ---- MMD -------------------------------------------------------------------------------------------


def test_mmd_is_near_zero_for_one_distribution_and_grows_with_a_mean_shift():
    g = torch.Generator().manual_seed(0)
    d, n = 8, 400
    a = torch.randn(n, d, generator=g)
    b = torch.randn(n, d, generator=g)
    same = float(mmd_imq(a, b))
    assert abs(same) < 5e-3
    values = [float(mmd_imq(a + shift, b)) for shift in (0.25, 0.5, 1.0, 2.0)]
    assert values[0] > same + 1e-3
    assert all(x < y for x, y in zip(values, values[1:])), values


def test_mmd_matches_a_brute_force_double_loop():
    g = torch.Generator().manual_seed(1)
    z = torch.randn(5, 3, generator=g, dtype=torch.float64)
    p = torch.randn(7, 3, generator=g, dtype=torch.float64)
    scales = (0.5, 1.0, 2.0)
    expected = 0.0
    for s in scales:
        c = 2.0 * 3 * s

        def k(x, y, c=c):
            return c / (c + float(((x - y) ** 2).sum()))

        n, m = len(z), len(p)
        expected += sum(k(z[i], z[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
        expected += sum(k(p[i], p[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
        expected -= 2.0 * sum(k(z[i], p[j]) for i in range(n) for j in range(m)) / (n * m)
    assert float(mmd_imq(z, p, scales)) == pytest.approx(expected, rel=1e-10, abs=1e-12)
    # the kernel itself: k(x, x) = 1 and the IMQ form
    assert torch.allclose(imq_kernel(z, z, 6.0).diagonal(), torch.ones(5, dtype=torch.float64))


def test_class_mmd_is_the_mean_of_per_class_mmds():
    g = torch.Generator().manual_seed(2)
    labels = torch.tensor([2, 0, 1, 0, 2, 1, 1, 0, 2])
    z = torch.randn(9, 4, generator=g)
    prior = torch.randn(9, 4, generator=g)
    got = class_mmd(z, labels, prior)
    # prior samples are taken in order, as many per class as it has codes
    expected = torch.stack([mmd_imq(z[labels == c], prior[3 * i:3 * i + 3])
                            for i, c in enumerate(range(3))]).mean()
    assert torch.allclose(got, expected)
    with pytest.raises(ValueError):
        class_mmd(z[:8], labels[:8], prior[:8])  # unbalanced


# ---- conditional batch norm ------------------------------------------------------------------------


def test_conditional_batch_norm_uses_the_class_parameters():
    torch.manual_seed(0)
    cbn = ConditionalBatchNorm(4, 3, dims=2)
    with torch.no_grad():
        cbn.gamma.copy_(torch.randn(3, 4))
        cbn.beta.copy_(torch.randn(3, 4))
    x = torch.randn(6, 4, 5, 7)
    for k in range(3):
        labels = one_hot(torch.full((6,), k), 3)
        expected = F.batch_norm(x, None, None, weight=cbn.gamma[k], bias=cbn.beta[k], training=True)
        assert torch.allclose(cbn(x, labels), expected, atol=1e-5)
    # soft weights mix gamma and beta linearly
    w = torch.tensor([[0.25, 0.75, 0.0]]).expand(6, 3)
    mixed = F.batch_norm(x, None, None, weight=0.25 * cbn.gamma[0] + 0.75 * cbn.gamma[1],
                         bias=0.25 * cbn.beta[0] + 0.75 * cbn.beta[1], training=True)
    assert torch.allclose(cbn(x, w), mixed, atol=1e-5)
    # eval mode uses the running statistics, per class as well
    cbn.eval()
    labels = one_hot(torch.full((6,), 2), 3)
    expected = F.batch_norm(x, cbn.bn.running_mean, cbn.bn.running_var, weight=cbn.gamma[2],
                            bias=cbn.beta[2], training=False)
    assert torch.allclose(cbn(x, labels), expected, atol=1e-5)


# ---- MCNN --------------------------------------------------------------------------------------------


def _tiny_config(**overrides):
    return build_family_config("ndm", "tiny", overrides=[f"{k}={v}" for k, v in overrides.items()])


def _hits(n: int, length: int, sr: int = 22050) -> torch.Tensor:
    kinds = ["kick", "snare", "hihat_closed", "tom"]
    waves = np.zeros((n, length), dtype=np.float32)
    for i in range(n):
        hit = synth_hit(kinds[i % len(kinds)], sr=sr, seconds=0.15 + 0.05 * (i % 3), seed=i)
        waves[i, :min(length, len(hit))] = hit[:length]
    waves /= np.abs(waves).max(1, keepdims=True)
    return torch.from_numpy(waves)


def _mcnn_heads_reference(mcnn: MCNN, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The seed's computation: the stored grouped transposed convs (heads side by side), then the
    weighted head sum through the softsign and the summed mask logits."""
    x = mel * mcnn.input_gain
    if mcnn.mel_projection is not None:                      # a low-rank first layer (mcnn.mel_rank)
        x = mcnn.mel_projection(x)
    for i, conv in enumerate(mcnn.convs):
        x = conv(x)
        if i < len(mcnn.convs) - 1:
            x = F.elu(x)
    heads = x.view(len(mel), mcnn.heads, 2, -1)
    signal = mcnn.softsign((mcnn.head_weights[None, :, None] * heads[:, :, 0]).sum(1))
    return signal, heads[:, :, 1].sum(1)


@pytest.mark.parametrize("n_mels,mel_rank,heads,channels,kinds", [
    (160, 0, 4, 16, ["dense", "grouped", "grouped", "output"]),     # 16 and 8 input channels a group
    (160, 0, 4, 8, ["dense", "grouped", "polyphase", "output"]),    # 8 and 4
    (64, 0, 2, 4, ["polyphase", "polyphase", "polyphase", "output"]),   # a narrow first layer; 4 and 2
    (160, 6, 2, 4, ["polyphase", "polyphase", "polyphase", "output"]),  # behind a low-rank projection
])
@pytest.mark.parametrize("grad", [True, False])
@pytest.mark.parametrize("batch", [1, 3])
def test_mcnn_fast_forward_equals_separate_heads_and_their_weighted_sum(n_mels, mel_rank, heads, channels, kinds,
                                                                       grad, batch):
    """Dense, grouped channels-last and polyphase layers (the first too, when it is narrow), the low-rank
    projection, block-diagonal weights and the folded output layer compute the seed's heads, with gradients
    on (training) and off (inference: memoised weights, fast ELUs, the in-place binarised mask)."""
    torch.manual_seed(0)
    mcnn = MCNN(n_mels, heads=heads, layers=4, width=13, channels=channels, mel_rank=mel_rank)
    assert mcnn.kinds == kinds and mcnn.output_fold == 4
    with torch.no_grad():
        mcnn.head_weights.copy_(torch.linspace(-1.0, 2.0, heads))
        mcnn.softsign.b.fill_(-0.7)                                   # |b x|, not b |x|
    mel = torch.rand(batch, n_mels, 5)
    with torch.set_grad_enabled(grad):
        signal, mask_logit = mcnn(mel)
        wave = mcnn.infer(mel, 37)
    expected_signal, expected_mask = _mcnn_heads_reference(mcnn, mel)
    torch.testing.assert_close(signal, expected_signal, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(mask_logit, expected_mask, atol=1e-6, rtol=1e-5)
    # the mask is binarised where the logit is clearly away from 0 (a logit within rounding of 0 may go either way)
    clear = expected_mask[:, :37].abs() > 1e-4
    expected_wave = (expected_signal * (expected_mask > 0))[:, :37].clamp(-1.0, 1.0)
    torch.testing.assert_close(wave[clear], expected_wave[clear], atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("fold", [1, 2, 4])
def test_folded_weight_reads_fold_samples_as_channels(fold):
    """A stride-2 transposed convolution equals the stride-2·fold one of its input through space_to_depth,
    which is a view of a channels-last row."""
    torch.manual_seed(0)
    x = torch.randn(2, 3, 1, 8).contiguous(memory_format=torch.channels_last)
    weight = torch.randn(3, 2, 13)
    expected = F.conv_transpose1d(x.squeeze(2), weight, stride=2, padding=6, output_padding=1)
    rows = space_to_depth(x, fold)
    assert rows.shape == (2, 3 * fold, 1, 8 // fold) and rows.data_ptr() == x.data_ptr()
    assert torch.equal(rows[:, 3 * (fold - 1):, 0, 0], x[:, :, 0, fold - 1])      # channel (q, c) = x[c, q]
    got = F.conv_transpose2d(rows, folded_weight(weight, fold, 2).unsqueeze(2), stride=(1, 2 * fold),
                             padding=(0, 6), output_padding=(0, 1))
    torch.testing.assert_close(got.squeeze(2), expected, atol=1e-5, rtol=1e-5)


def test_fast_elu_is_the_elu_to_one_rounding_and_leaves_its_input():
    x = torch.linspace(-30.0, 5.0, 100_001)
    before = x.clone()
    got = fast_elu(x)
    assert float((got - F.elu(x)).abs().max()) <= 6e-8 and torch.equal(x, before)
    # larger tensors: PyTorch's ELU, in place
    big = torch.linspace(-3.0, 3.0, FAST_ELU_MAX + 1)
    expected = F.elu(big)
    assert inference_elu(big) is big and torch.equal(big, expected)


@pytest.mark.parametrize("mel_rank,first", [(0, "dense"), (4, "polyphase")])
@pytest.mark.parametrize("batch", [1, 3])
def test_mcnn_rows_stay_channels_last_between_layers(batch, mel_rank, first):
    """Each row layer returns channels-last rows, so the next convolution runs channels-last: at batch 1 a
    polyphase interleave can carry a batch stride that, kept by an in-place ELU, made the next convolution
    run (and return) channels-first, ~2x slower. A low-rank projection writes such rows itself."""
    torch.manual_seed(0)
    mcnn = MCNN(160, heads=4, layers=6, width=13, channels=8, mel_rank=mel_rank).eval()
    assert mcnn.kinds == [first, "grouped", "polyphase", "polyphase", "polyphase", "output"]
    with torch.no_grad():
        x = mcnn.first_input(torch.rand(batch, 160, 5))
        assert mel_rank == 0 or x.is_contiguous(memory_format=torch.channels_last), x.stride()
        weights = mcnn.layer_weights()
        for i, weight in enumerate(weights):
            x = mcnn.layer(i, x, weight)
            assert first == "dense" and i == 0 or x.is_contiguous(memory_format=torch.channels_last), (i, x.stride())
            if i < len(weights) - 1:
                x = inference_elu(x)


def test_mcnn_memoised_weights_follow_every_weight_change():
    """At inference the derived weights are reused, but an in-place update (an optimiser step) or a
    state_dict load must be seen at once."""
    torch.manual_seed(0)
    mcnn = MCNN(64, heads=2, layers=4, width=13, channels=32).eval()
    mel = torch.rand(2, 64, 4)
    with torch.no_grad():
        first = mcnn(mel)[0]
        assert torch.equal(mcnn(mel)[0], first)
        mcnn.convs[-1].weight.mul_(-1.0)                  # the folded output layer: signal flips sign
        torch.testing.assert_close(mcnn(mel)[0], -first)
        mcnn.convs[0].weight.mul_(0.5)                    # the dense first layer, run with its stored weight
        assert not torch.allclose(mcnn(mel)[0], -first)
        mcnn.load_state_dict(MCNN(64, heads=2, layers=4, width=13, channels=32).state_dict())
        torch.testing.assert_close(mcnn(mel)[0], _mcnn_heads_reference(mcnn, mel)[0], atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("kernel,stride,padding,output_padding,length,channels_last", [
    ((13,), (2,), (6,), (1,), (9,), False),           # the MCNN's layers
    ((11,), (3,), (5,), (2,), (7,), False),
    ((4,), (2,), (0,), (0,), (5,), False),            # even kernel, phases of different lengths
    ((3,), (2,), (4,), (0,), (9,), False),            # padding wider than the kernel: the window starts inside
    ((2,), (3,), (0,), (0,), (4,), False),            # a phase without taps
    ((11, 5), (3, 2), (5, 2), (1, 0), (19, 17), False),   # the decoder's layers
    ((11, 5), (3, 2), (5, 2), (1, 0), (19, 17), True),
    ((11, 5), (3, 2), (5, 2), (2, 0), (6, 4), True),
])
def test_polyphase_convolution_equals_the_transposed_convolution(kernel, stride, padding, output_padding, length,
                                                                 channels_last):
    torch.manual_seed(0)
    x = torch.randn(2, 3, *length)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    weight, bias = torch.randn(3, 4, *kernel), torch.randn(4)
    conv = F.conv_transpose1d if len(kernel) == 1 else F.conv_transpose2d
    expected = conv(x, weight, bias, stride=stride, padding=padding, output_padding=output_padding)
    got = conv_transpose_polyphase(x, transposed_conv_phases(weight, stride, padding),
                                   bias.repeat(math.prod(stride)), kernel, stride, padding,
                                   tuple(expected.shape[2:]))
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_polyphase_interleave_copies_nothing_on_channels_last_rows():
    """The MCNN's layout: [B, C, 1, L] channels-last in, channels-last out, no copy of the phases."""
    x = torch.randn(2, 8, 1, 40).contiguous(memory_format=torch.channels_last)
    weight = torch.randn(8, 4, 1, 13)
    pw = transposed_conv_phases(weight, (1, 2), (0, 6))
    got = conv_transpose_polyphase(x, pw, None, (1, 13), (1, 2), (0, 6), (1, 80))
    assert got.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(got, F.conv_transpose2d(x, weight, stride=(1, 2), padding=(0, 6),
                                                       output_padding=(0, 1)), atol=1e-5, rtol=1e-5)


def _decoder_reference(dec, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The plain decoder: FC + ReLU, then ConvTranspose2d -> BN -> class scale and shift -> ReLU, one by one."""
    x = torch.cat([z, labels], 1)
    for fc in dec.fcs:
        x = F.relu(fc(x))
    x = x.view(len(z), *dec.volume)
    for i, conv in enumerate(dec.convs):
        x = conv(x)
        if i < len(dec.norms):
            norm = dec.norms[i]
            x = F.relu(norm.bn(x) * (labels @ norm.gamma)[:, :, None, None] + (labels @ norm.beta)[:, :, None, None])
    return x


def _denormalise_reference(wae, x: torch.Tensor) -> torch.Tensor:
    """CWAE.denormalise as its formula: exp(x std + mean) - log_eps, clamped at 0."""
    return (torch.exp(x.squeeze(1) * wae.mel_std + wae.mel_mean) - wae.log_eps).clamp_min(0.0)


@pytest.mark.parametrize("train,grad", [(True, True), (False, True), (False, False)])
def test_decoder_equals_its_layers_one_by_one(train, grad):
    """Channels-last, the polyphase output layer, (in eval) the folded batch norm and (without gradients)
    the transposed FC weights and in-place ReLUs are the plain ConvTranspose2d -> BN -> class scale and
    shift -> ReLU stack."""
    torch.manual_seed(0)
    wae, _ = build_modules(_tiny_config())
    dec = wae.decoder.train(train)
    with torch.no_grad():
        for norm in dec.norms:
            norm.gamma.normal_(1.0, 0.3)
            norm.beta.normal_(0.0, 0.3)
            norm.bn.running_mean.normal_()
            norm.bn.running_var.uniform_(0.5, 2.0)
    z = torch.randn(4, wae.latent_dim)
    labels = torch.softmax(torch.randn(4, 8), 1)
    with torch.set_grad_enabled(grad):
        got = dec(z, labels)
        mel = wae.denormalise(got)
    x = _decoder_reference(dec, z, labels)
    assert got.shape == x.shape == (4, 1, wae.n_mels, wae.n_frames)
    torch.testing.assert_close(got, x, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(mel, _denormalise_reference(wae, x), atol=1e-6, rtol=1e-5)
    if not train:       # the memoised eval weights follow a change of the running statistics
        with torch.no_grad():
            dec.norms[0].bn.running_var.mul_(2.0)
            torch.testing.assert_close(dec(z, labels), _decoder_reference(dec, z, labels), atol=1e-5, rtol=1e-5)


@pytest.mark.skipif(not (PRETRAINED / "ndm.pt").is_file(), reason="no ndm model shipped in src/drumsynth/pretrained")
def test_shipped_model_generates_what_its_plain_layers_compute():
    """The shipped model's fast path (grouped channels-last, polyphase and folded layers, folded batch norm,
    fast ELUs, in-place mask, micro-batches) against its stored layers run one by one (plain
    F.conv_transpose1d / ConvTranspose2d): every class at batch 1, and a batch of 64, within 5e-5 (-86 dB).
    float32 rounding grows with the mel's magnitude: the session-17 decoder's loudest cell is 58.7 (37.5 before)
    and the two paths' mels agree to 5e-6 relative, which puts the batch-1 waves 1.8e-5 apart; a wrong layer
    or phase is off by 1e-2 or more."""
    model = family_module("ndm").load_model(load_checkpoint(PRETRAINED / "ndm.pt"))
    z = model.sample_latent(64, torch.Generator().manual_seed(0))
    labels = torch.arange(64) % len(model.classes)
    with torch.no_grad():
        x = _decoder_reference(model.wae.decoder, z, F.one_hot(labels, len(model.classes)).float())
        mel = _denormalise_reference(model.wae, x)
        signal, mask_logit = _mcnn_heads_reference(model.mcnn, mel)
        expected = (signal * (mask_logit > 0))[:, :model.length].clamp(-1.0, 1.0)
    singles = torch.cat([model.generate(z[i:i + 1], labels[i:i + 1]) for i in range(len(model.classes))])
    assert float((singles - expected[:len(singles)]).abs().max()) <= 5e-5
    assert float((model.generate(z, labels) - expected).abs().max()) <= 5e-5


def test_generate_in_micro_batches_equals_one_batch(monkeypatch):
    from drumsynth.models.ndm import model as ndm_model

    cfg = _tiny_config()
    torch.manual_seed(0)
    wae, mcnn = build_modules(cfg)
    model = ndm_model.NDMModel(cfg, wae, mcnn)
    z = model.sample_latent(5, torch.Generator().manual_seed(0))
    labels = torch.tensor([0, 3, 7, 1, 2])
    whole = model.generate(z, labels)
    monkeypatch.setattr(ndm_model, "GENERATE_CHUNK", 2)
    torch.testing.assert_close(model.generate(z, labels), whole, atol=1e-6, rtol=0)
    torch.testing.assert_close(model.invert(model.decode_mel(z, labels)), whole, atol=1e-6, rtol=0)


def test_binarised_mask_zeroes_the_padded_tail():
    cfg = _tiny_config()
    torch.manual_seed(0)
    _, mcnn = build_modules(cfg)
    mcnn.eval()
    wave = _hits(2, cfg.data.length)
    wave[:, 2000:] = 0.0  # padding
    mel = mel_of(wave, cfg.data)
    silent_from = 2000 // cfg.data.hop_length + cfg.data.n_fft // (2 * cfg.data.hop_length) + 1
    assert float(mel[:, :, silent_from:].abs().max()) == 0.0
    with torch.no_grad():
        signal, logit = mcnn(mel)
        out = mcnn.infer(mel, cfg.data.length)
    # Bias-free layers: all-zero frames give exactly zero signal and mask logit, sigma(0) = 0.5 is
    # binarised to 0, so beyond the filters' reach the output is exactly silent.
    reach = 2 * ((cfg.mcnn.width - 1) // 2) * 2 ** cfg.mcnn.layers  # generous receptive field
    tail = silent_from * cfg.data.hop_length + reach
    assert tail < cfg.data.length
    assert float(logit[:, tail:].abs().max()) == 0.0
    assert float(out[:, tail:].abs().max()) == 0.0
    # wherever the binarised mask is off, the output is zero; the output never leaves [-1, 1]
    off = (logit[:, :cfg.data.length] <= 0)
    assert float(out[off].abs().max()) == 0.0
    assert float(out.abs().max()) <= 1.0
    assert out.shape == (2, cfg.data.length)


def test_mask_target_marks_sound_and_not_padding():
    wave = torch.zeros(1, 1000)
    wave[0, 100:300] = torch.sin(torch.arange(200) * 0.3)
    mask = mask_target(wave, window=31, threshold_db=-60.0)
    assert mask[0, 110:290].all()
    assert not mask[0, 400:].any()
    assert not mask[0, :80].any()


def test_mcnn_reduces_spectral_convergence_on_a_fixed_batch():
    cfg = _tiny_config()
    torch.manual_seed(0)
    _, mcnn = build_modules(cfg)
    wave = _hits(4, cfg.data.length)
    mel = mel_of(wave, cfg.data)
    with torch.no_grad():
        mcnn.input_gain.fill_(1.0 / float(mel.pow(2).mean().sqrt()))
    opt = torch.optim.Adam(mcnn.parameters(), lr=3e-3)
    history = []
    for _ in range(40):
        terms = mcnn_losses(mcnn, mel, wave, cfg)[0]
        history.append(terms["loss/sc"].item())
        opt.zero_grad()
        terms["loss/mcnn"].backward()
        opt.step()
    with torch.no_grad():
        final = mcnn_losses(mcnn, mel, wave, cfg)[0]
        untrained = mcnn_losses(build_modules(cfg)[1], mel, wave, cfg)[0]
    assert float(final["loss/sc"]) < 0.8 * history[0], history
    assert float(final["loss/mcnn"]) < float(untrained["loss/mcnn"])


def test_spectral_convergence_of_a_half_scaled_mel_is_one_half():
    mel = torch.rand(2, 8, 5) + 0.1
    assert float(spectral_convergence(mel, 0.5 * mel)) == pytest.approx(0.5, rel=1e-6)


# ---- PCA controls ------------------------------------------------------------------------------------


def test_pca_round_trip_and_controls():
    g = torch.Generator().manual_seed(3)
    d = 6
    basis = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))[0][:, :3].T.float()
    coeffs = torch.randn(120, 3, generator=g) * torch.tensor([3.0, 2.0, 1.0])
    z = 0.5 + coeffs @ basis
    labels = torch.arange(120) % 2
    pca = controls.pca_fit(z, labels, ("a", "b", "c"), 3)
    assert set(pca["classes"]) == {"a", "b", "c"}
    overall = pca["overall"]
    # points in the span come back exactly
    coords = controls.pca_coords(overall, z)
    assert torch.allclose(controls.pca_latent(overall, coords), z, atol=1e-4)
    # components are orthonormal and ordered by spread
    comps = overall["components"]
    assert torch.allclose(comps @ comps.T, torch.eye(3), atol=1e-5)
    assert overall["std"][0] > overall["std"][1] > overall["std"][2]
    # the controls: centre = class mean; p1 = 1 walks range_std standard deviations along v1
    centre = controls.latent_from_controls(pca, "a", 0.0, 0.0, 0.0, 2.0)
    assert torch.allclose(centre, pca["classes"]["a"]["mean"])
    edge = controls.latent_from_controls(pca, "a", 1.0, 0.0, 0.0, 2.0)
    entry = pca["classes"]["a"]
    assert torch.allclose(edge - centre, 2.0 * entry["std"][0] * entry["components"][0], atol=1e-5)
    back = controls.controls_from_latent(pca, "a", controls.latent_from_controls(pca, "a", 0.3, -0.7, 0.2, 1.5), 1.5)
    assert torch.allclose(back, torch.tensor([0.3, -0.7, 0.2]), atol=1e-4)
    # class "c" has no encodings: it borrows the overall directions
    assert torch.allclose(pca["classes"]["c"]["components"], comps)
    with pytest.raises(DrumsynthError):
        controls.latent_from_controls(pca, "a", 1.5, 0.0)
    with pytest.raises(DrumsynthError):
        controls.latent_from_controls(pca, "nope", 0.0, 0.0)


def test_class_gaussians_match_the_codes_and_shrink_where_codes_are_few():
    from drumsynth.models.ndm.latent_prior import fit_class_gaussians

    gen = torch.Generator().manual_seed(0)
    d = 6
    mix = torch.randn(d, d, generator=gen)
    many = torch.randn(4000, d, generator=gen) @ mix.T + 3.0      # class 0: well sampled, correlated
    few = torch.randn(4, d, generator=gen) - 2.0                   # class 1: fewer codes than dimensions
    z = torch.cat([many, few])
    labels = torch.cat([torch.zeros(4000), torch.ones(4)]).long()
    prior = fit_class_gaussians(z, labels, ["a", "b", "c"])
    a, b, c = (prior["classes"][k] for k in "abc")
    cov_a = a["scale"] @ a["scale"].T
    assert torch.allclose(a["mean"], many.mean(0), atol=1e-4)
    assert torch.allclose(cov_a, mix @ mix.T, rtol=0.1, atol=0.15)  # shrinkage is negligible with n >> d
    cov_b = b["scale"] @ b["scale"].T                    # a rank-3 sample covariance made full rank
    assert torch.linalg.eigvalsh(cov_b).min() > 0 and b["n"] == 4
    assert c["n"] == 0 and torch.equal(c["mean"], torch.zeros(d)) and torch.allclose(c["scale"], torch.eye(d))
    same = fit_class_gaussians(torch.ones(5, d), torch.zeros(5).long(), ["a"])["classes"]["a"]
    assert torch.allclose(same["scale"], torch.zeros(d, d), atol=1e-6)  # coinciding codes: the draws are the mean


def test_class_prior_draws_follow_the_class_and_mix_between_classes():
    from drumsynth.models.ndm import latent_prior

    d = 4
    prior = {"classes": {"a": {"mean": torch.full((d,), 5.0), "scale": 0.5 * torch.eye(d), "n": 10},
                         "b": {"mean": torch.full((d,), -5.0), "scale": 2.0 * torch.eye(d), "n": 10}}}
    noise = torch.randn(3, d, generator=torch.Generator().manual_seed(1))
    weights = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    z = latent_prior.sample(prior, ("a", "b"), weights, noise)
    assert torch.allclose(z[0], 5.0 + 0.5 * noise[0])
    assert torch.allclose(z[1], -5.0 + 2.0 * noise[1])
    assert torch.allclose(z[2], 1.25 * noise[2])                   # the mean of both draws at that noise
    with pytest.raises(DrumsynthError, match="no entry"):
        latent_prior.sample(prior, ("a", "kick"), weights[:, :2], noise)


def test_feature_statistics_in_chunks_match_the_whole_split_in_float64():
    """The chunked one-pass statistics (no float64 copy of the split) equal the direct computation."""
    from drumsynth.models.ndm.features import input_gain, statistics

    mels = torch.rand(37, 12, 9, generator=torch.Generator().manual_seed(0)) ** 3 * 50.0
    mels[:, :, -3:] = 0.0                                                  # padding: constant -> std_floor
    log = torch.log(mels.double() + 1e-4)
    mean, std = statistics(mels, 1e-4, 0.05, batch=5)
    assert torch.allclose(mean.double(), log.mean(0), atol=1e-5)
    assert torch.allclose(std.double(), log.std(0, unbiased=False).clamp_min(0.05), atol=1e-5)
    assert torch.equal(std[:, -3:], torch.full((12, 3), 0.05))
    assert input_gain(mels, batch=5) == pytest.approx(1.0 / float(mels.double().square().mean().sqrt()), rel=1e-12)
    one_mean, one_std = statistics(mels[:1], 1e-4, 0.05)
    assert torch.allclose(one_mean.double(), log[0], atol=1e-6) and torch.equal(one_std, torch.ones(12, 9))
    with pytest.raises(DrumsynthError, match="at least one clip"):
        statistics(mels[:0], 1e-4, 0.05)


def test_crop_cuts_and_fades_only_where_it_cuts():
    wave = torch.ones(1000)
    out = controls.crop(wave, 0.0, 0.5, fade=10)
    assert out.shape == (500,)
    assert out[0] == 1.0 and out[-1] == 0.0
    out = controls.crop(wave, 0.25, 1.0, fade=10)
    assert out.shape == (750,) and out[0] == 0.0 and out[-1] == 1.0
    assert torch.equal(controls.crop(wave), wave)
    with pytest.raises(DrumsynthError):
        controls.crop(wave, 0.6, 0.4)


# ---- presets and the family contract ---------------------------------------------------------------


def _synthetic_cache(tmp_path, per_class_train: int = 3, per_class_valid: int = 1):
    records, waves = [], []
    kinds = {"kick": "kick", "snare": "snare", "clap": "clap", "hihat_closed": "hihat_closed",
             "hihat_open": "hihat_open", "cymbal": "cymbal", "tom": "tom", "perc": "perc"}
    i = 0
    for label in CLASSES:
        for split, count in (("train", per_class_train), ("valid", per_class_valid)):
            for _ in range(count):
                waves.append(synth_hit(kinds[label], seconds=0.2 + 0.05 * (i % 3), seed=i))
                records.append({"id": f"s{i}", "path": f"kit/{label}_{i}.wav", "source": "synthetic",
                                "kit": f"kit{i % 2}" if split == "train" else "vkit", "instrument": label,
                                "label": label, "split": split, "licence": "CC0"})
                i += 1
    write_cache(tmp_path / "cache", records, waves)
    return load_cache(tmp_path / "cache")


def test_family_contract_surface():
    module = family_module("ndm")
    assert module.FAMILY == "ndm"
    for name in ("Config", "build_recipe", "data_factories", "load_model"):
        assert hasattr(module, name)
    cfg = build_family_config("ndm", "cpu", overrides=["train.max_steps=7"])
    assert cfg.train.max_steps == 7 and cfg.data.n_mels == 512 and (cfg.data.sr, cfg.data.length) == (44100, 65536)
    assert 2 ** cfg.mcnn.layers == cfg.data.hop_length == 512  # the MCNN up-samples frames to samples
    paper = build_family_config("ndm", "paper").data  # the seed's own features
    assert (paper.sr, paper.length, paper.hop_length) == (22050, 22015, 256)
    with pytest.raises(DrumsynthError):
        build_family_config("ndm", "tiny", overrides=["model.nope=1"])
    with pytest.raises(DrumsynthError):
        build_modules(build_family_config("ndm", "tiny", overrides=["mcnn.layers=5"]))


def test_tiny_trains_and_gradients_reach_every_parameter(tmp_path):
    module = family_module("ndm")
    cfg = build_family_config("ndm", "tiny")
    cache = _synthetic_cache(tmp_path)
    seed_everything(0)
    recipe = module.build_recipe(cfg, cache)
    train_factory, valid_factory = module.data_factories(cfg, cache, 0, 1)
    batch = next(iter(train_factory(torch.Generator().manual_seed(0))))
    assert batch["mel"].shape == (8 * cfg.train.per_class, cfg.data.n_mels, 1 + cfg.data.length // cfg.data.hop_length)
    assert torch.equal(batch["label"].bincount(), torch.full((8,), cfg.train.per_class))
    for m in recipe.modules().values():
        m.train()
        m.zero_grad()
    # one forward + backward of both losses, no optimiser step, to inspect the gradients
    x = recipe.wae.normalise(batch["mel"])
    x_hat, z = recipe.wae(x, one_hot(batch["label"], 8))
    prior = torch.randn_like(z)
    loss = F.mse_loss(x_hat, x) + cfg.train.beta * class_mmd(z, batch["label"], prior)
    loss = loss + mcnn_losses(recipe.mcnn, batch["mcnn_mel"], batch["mcnn_wave"], cfg)[0]["loss/mcnn"]
    loss.backward()
    for module_name, m in recipe.modules().items():
        for name, p in m.named_parameters():
            assert p.grad is not None and float(p.grad.abs().sum()) > 0, f"{module_name}.{name} got no gradient"
    # train_step returns finite group/name metrics
    metrics = recipe.train_step(batch, 0, torch.Generator().manual_seed(1))
    assert {"loss/mse", "loss/mmd", "loss/wae", "loss/sc", "loss/sc_log", "loss/mask", "loss/mcnn"} <= set(metrics)
    assert all(math.isfinite(v) for v in metrics.values())
    with torch.no_grad():
        valid = recipe.validate(recipe.modules(), valid_factory())
    assert {"valid/mel_mse", "valid/sc", "valid/loss"} <= set(valid)


def test_mcnn_can_train_on_the_decoders_mels(tmp_path):
    """``train.mcnn_decoded_share``: that share of the MCNN batch is the CWAE's round trip of the clip
    (what the MCNN inverts in use), the rest the clip's own mel; the target is the real clip either way."""
    from drumsynth.models.ndm import recipe as ndm_recipe

    module = family_module("ndm")
    cache = _synthetic_cache(tmp_path)
    cfg = build_family_config("ndm", "tiny", overrides=["train.mcnn_decoded_share=0.5", "train.mcnn_batch_size=4"])
    seed_everything(0)
    recipe = module.build_recipe(cfg, cache)
    batch = next(iter(module.data_factories(cfg, cache, 0, 1)[0](torch.Generator().manual_seed(0))))
    assert torch.equal(batch["mcnn_label"], recipe.train_set.labels[
        [int(torch.nonzero((recipe.train_set.waves == w).all(1))[0]) for w in batch["mcnn_wave"]]])
    seen = []
    original = ndm_recipe.mcnn_losses
    ndm_recipe.mcnn_losses = lambda mcnn, mel, wave, config: seen.append(mel.clone()) or original(mcnn, mel, wave, config)
    try:
        recipe.wae.train()
        recipe.train_step(batch, 0, torch.Generator().manual_seed(1))
    finally:
        ndm_recipe.mcnn_losses = original
    (mel,) = seen
    assert recipe.wae.training                                       # the round trip put the mode back
    # The CWAE steps before the MCNN and the MCNN step leaves it alone, so its weights now are the ones
    # that made the MCNN's input.
    expected = ndm_recipe.reconstruct_mels(recipe.wae, batch["mcnn_mel"][:2], batch["mcnn_label"][:2], 8)
    assert torch.allclose(mel[:2], expected, atol=1e-6)
    assert not torch.allclose(mel[:2], batch["mcnn_mel"][:2]) and torch.equal(mel[2:], batch["mcnn_mel"][2:])
    with pytest.raises(DrumsynthError, match="mcnn_decoded_share"):
        build_modules(build_family_config("ndm", "tiny", overrides=["train.mcnn_decoded_share=1.5"]))


@pytest.mark.parametrize("preset,sr,length", [("cpu", 44100, 65536), ("paper", 22050, 22015)])
def test_big_presets_build_and_generate_one_hit(preset, sr, length):
    cfg = build_family_config("ndm", preset)
    torch.manual_seed(0)
    recipe = NDMRecipe(cfg, None)
    from drumsynth.models.ndm.model import NDMModel

    model = NDMModel(cfg, recipe.wae, recipe.mcnn)
    wave = model.generate(model.sample_latent(1, torch.Generator().manual_seed(0)), model.class_weights("kick"))
    assert wave.shape == (1, length) and model.sample_rate == sr and model.latent_dim == 64
    assert torch.isfinite(wave).all() and float(wave.abs().max()) <= 1.0


def test_release_checkpoint_round_trip(tmp_path):
    module = family_module("ndm")
    cfg = build_family_config("ndm", "tiny", overrides=["train.max_steps=4", "train.checkpoint_every=4",
                                                        "train.valid_every=4", "data.pitch_semitones=[-1, 0]"])
    cache = _synthetic_cache(tmp_path)
    seed_everything(0)
    recipe = module.build_recipe(cfg, cache)
    train_data, valid_data = module.data_factories(cfg, cache, 0, 1)
    result = Trainer(recipe, train_data, tmp_path / "run", max_steps=4, log_every=2, checkpoint_every=4,
                     valid_every=4, valid_data=valid_data, progress=False, seed=0).fit()
    assert result.step == 4
    release = load_checkpoint(tmp_path / "run" / "release.pt", kind="release")
    assert release["family"] == "ndm" and "pca" in release["extra"]
    model = module.load_model(release)
    assert model.classes == CLASSES and model.sample_rate == 22050
    # identical output for a seed: the reloaded model vs the trained modules
    gen = torch.Generator().manual_seed(42)
    z = model.sample_latent(3, gen)
    labels = torch.eye(8)[[0, 3, 7]]
    again = module.load_model(load_checkpoint(tmp_path / "run" / "release.pt"))
    from drumsynth.models.ndm.model import NDMModel

    live = NDMModel(cfg, recipe.wae, recipe.mcnn, pca=release["extra"]["pca"])
    out = model.generate(z, labels)
    assert out.shape == (3, cfg.data.length)
    assert torch.equal(out, again.generate(z, labels))
    assert torch.equal(out, live.generate(z, labels))
    # encode a hit, and the seed's interface: PCA controls + class menu + crop
    code = model.encode(_hits(2, 5000), labels[:2])
    assert code.shape == (2, cfg.model.latent_dim)
    hit = model.from_controls("snare", 0.5, -0.5, 0.1, 2.0, crop=(0.0, 0.5))
    assert hit.shape == (round(0.5 * cfg.data.length),) and torch.isfinite(hit).all()
    # Griffin-Lim baseline inverter
    gl = model.invert(model.decode_mel(z[:1], labels[:1]), method="griffin_lim", n_iter=2)
    assert gl.shape == (1, cfg.data.length)
    model.inverter = "griffin_lim"
    assert torch.equal(model.generate(z[:1], labels[:1]), model.generate(z[:1], labels[:1]))
    model.inverter = "mcnn"
    # the PCA in the checkpoint is the one of the trained encoder's codes of the training
    # recordings (not of their pitch-shifted copies)
    train = recipe.train_set
    assert len(train) == 2 * 8 * 3 and int((train.semitones == 0).sum()) == 8 * 3
    from drumsynth.models.ndm.recipe import encode_features

    keep = train.semitones == 0
    codes = encode_features(recipe.wae, train.mels[keep], train.labels[keep], 8)
    assert torch.allclose(release["extra"]["pca"]["overall"]["mean"], codes.mean(0), atol=1e-5)
    # ... and so are the per-class Gaussians that class-conditional draws come from
    prior = release["extra"]["latent_prior"]
    assert set(prior["classes"]) == set(CLASSES)
    kick = prior["classes"]["kick"]
    assert kick["n"] == 3 and torch.allclose(kick["mean"], codes[train.labels[keep] == 0].mean(0), atol=1e-5)
    assert model.prior == "class"
    one_hot_kick = model.class_weights("kick").expand(3, -1)
    drawn = model.sample_latent(3, torch.Generator().manual_seed(5), one_hot_kick)
    noise = torch.randn(3, cfg.model.latent_dim, generator=torch.Generator().manual_seed(5))
    assert torch.allclose(drawn, kick["mean"] + noise @ kick["scale"].T, atol=1e-5)
    below_zero = one_hot_kick.clone()
    below_zero[:, 1] = -2.0                                          # a snare slider pulled below 0
    assert torch.equal(model.sample_latent(3, torch.Generator().manual_seed(5), below_zero), drawn)
    model.prior = "normal"
    assert torch.equal(model.sample_latent(3, torch.Generator().manual_seed(5), one_hot_kick), noise)
