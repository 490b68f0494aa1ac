"""DSP and audio I/O invariants: round trips, analytic values, librosa parity, clear errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile as sf
import torch

from drumsynth.audio import dsp
from drumsynth.audio.io import encode_wav, load_audio, load_audio_bytes, read_wav_tags, write_wav
from drumsynth.audio.resample import resample, resampled_length
from drumsynth.errors import DrumsynthError

NDM = dict(n_fft=2048, hop_length=256, win_length=1024)  # 22.05 kHz, 512 mels
DRUMGAN = dict(n_fft=2048, hop_length=512, win_length=2048)  # 44.1 kHz, 0.55 s
DRUMGAN_LENGTH = 24255  # round(0.55 * 44100)


def drum_like(n: int, sr: int = 44100, batch: int = 2, seed: int = 0) -> torch.Tensor:
    """[batch, n] float32: a pitch-swept decaying sine (kick) plus decaying noise band-limited to 16 kHz."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / sr
    clips = []
    for b in range(batch):
        f0, f1 = 50.0 + 20 * b, 180.0
        body = np.sin(2 * np.pi * (f0 * t + (f1 - f0) * (1 - np.exp(-30 * t)) / 30)) * np.exp(-8 * t)
        noise = np.fft.rfft(rng.standard_normal(n))
        noise[np.fft.rfftfreq(n, 1 / sr) > 16000] = 0  # recordings are band-limited below fs/2
        noise = np.fft.irfft(noise, n) * np.exp(-40 * t)
        clip = 0.8 * body + 0.3 * noise / np.abs(noise).max()
        clips.append(clip / np.abs(clip).max())
    return torch.from_numpy(np.stack(clips).astype(np.float32))


def chirp(n: int, sr: int, f0: float = 200.0, f1: float = 4000.0) -> torch.Tensor:
    t = torch.arange(n, dtype=torch.float64) / sr
    duration = n / sr
    return (0.5 * torch.sin(2 * math.pi * (f0 * t + (f1 - f0) / (2 * duration) * t**2))).float()


# ----------------------------------------------------------------------------------------------
# STFT


@pytest.mark.parametrize("params,length", [(NDM, 22015), (DRUMGAN, DRUMGAN_LENGTH)], ids=["ndm", "drumgan"])
def test_istft_inverts_stft(params, length):
    x = torch.rand(3, length, generator=torch.Generator().manual_seed(0)) * 2 - 1
    spec = dsp.stft(x, **params)
    assert spec.dtype == torch.complex64
    assert spec.shape == (3, params["n_fft"] // 2 + 1, dsp.n_frames(length, params["hop_length"]))
    y = dsp.istft(spec, **params, length=length)
    assert y.shape == x.shape and y.dtype == torch.float32
    assert (y - x).abs().max().item() < 1e-5


def test_stft_accepts_numpy_and_extra_batch_dims():
    x = np.random.default_rng(1).standard_normal((2, 3, 4000)).astype(np.float32)
    spec = dsp.stft(x, 512, 128)
    assert isinstance(spec, torch.Tensor) and spec.shape == (2, 3, 257, dsp.n_frames(4000, 128))
    assert torch.equal(spec[1, 2], dsp.stft(torch.from_numpy(x[1, 2]), 512, 128))
    assert (dsp.istft(spec, 512, 128, length=4000) - torch.from_numpy(x)).abs().max() < 1e-5


def test_stft_matches_librosa():
    librosa = pytest.importorskip("librosa")
    x = drum_like(8000, batch=1)[0].numpy()
    ref = librosa.stft(x, n_fft=1024, hop_length=256, win_length=512, window="hann", center=True)
    ours = dsp.stft(torch.from_numpy(x), 1024, 256, 512).numpy()
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-4 * np.abs(ref).max())


def test_stft_power_and_magnitude_have_finite_gradients_at_subnormal_bins():
    """Regression (session 19): torch's complex abs has a NaN gradient where |X| is subnormal, and a decay
    envelope that shuts a hit's tail leaves such bins; one made a style run diverge at step 2091."""
    spec = torch.tensor([0.0, 1e-41 + 1e-41j, 1e-20 - 3e-20j, 0.3 + 0.4j], dtype=torch.complex64)
    broken = spec.clone().requires_grad_(True)
    broken.abs().pow(2).sum().backward()
    assert not torch.isfinite(torch.view_as_real(broken.grad)).all()  # what the helpers avoid
    for helper in (dsp.stft_power, dsp.stft_magnitude):
        x = spec.clone().requires_grad_(True)
        helper(x).sum().backward()
        assert torch.isfinite(torch.view_as_real(x.grad)).all(), helper.__name__
    assert torch.allclose(dsp.stft_power(spec), spec.abs().pow(2), rtol=1e-6, atol=0)
    magnitude = dsp.stft_magnitude(spec)
    assert float(magnitude[3]) == pytest.approx(0.5) and float(magnitude[2]) == pytest.approx(float(spec[2].abs()))
    assert torch.equal(magnitude[:2], torch.zeros(2))  # below the floor: exactly silent
    x = torch.zeros(4, dtype=torch.complex64, requires_grad=True)
    dsp.stft_magnitude(x).sum().backward()
    assert torch.equal(torch.view_as_real(x.grad), torch.zeros(4, 2))  # below the floor: no gradient


def test_complex_channels_round_trip_is_exact():
    spec = dsp.stft(torch.randn(2, 5000, generator=torch.Generator().manual_seed(2)), 256, 64)
    channels = dsp.complex_to_channels(spec)
    assert channels.shape == (2, 2, 129, spec.shape[-1]) and not channels.is_complex()
    assert torch.equal(channels[:, 0], spec.real) and torch.equal(channels[:, 1], spec.imag)
    assert torch.equal(dsp.channels_to_complex(channels), spec)


def test_drumgan_representation_shape_and_exact_inverse():
    assert dsp.n_frames(DRUMGAN_LENGTH, 512) == 48
    wave = drum_like(DRUMGAN_LENGTH)
    x = dsp.stft_channels(wave, **DRUMGAN)
    assert x.shape == (2, 2, 1024, 48) and x.dtype == torch.float32
    y = dsp.istft_channels(x, **DRUMGAN, length=DRUMGAN_LENGTH)
    assert y.shape == wave.shape
    assert (y - wave).abs().max().item() < 1e-5
    full = dsp.stft_channels(wave, **DRUMGAN, pack=False)
    assert full.shape == (2, 2, 1025, 48)
    assert (dsp.istft_channels(full, **DRUMGAN, length=DRUMGAN_LENGTH) - wave).abs().max() < 1e-5


def test_nyquist_packing_is_lossless_for_real_signals():
    noise = torch.randn(3000, generator=torch.Generator().manual_seed(5))  # white: energy at fs / 2
    spec = dsp.stft(noise, 512, 128)
    assert float(spec[0].imag.abs().max()) < 1e-4 and float(spec[-1].imag.abs().max()) < 1e-4
    packed = dsp.pack_nyquist(spec)
    assert packed.shape[-2] == 256
    assert torch.equal(packed[0].real, spec[0].real) and torch.equal(packed[0].imag, spec[-1].real)
    assert torch.equal(packed[1:], spec[1:-1])
    restored = dsp.unpack_nyquist(packed)
    assert restored.shape == spec.shape
    assert (dsp.istft(restored, 512, 128, length=3000) - noise).abs().max() < 1e-5


@pytest.mark.parametrize("length", [1, 511, 512, 513, 24063, 24064, 24255, 24575, 24576])
def test_n_frames_matches_stft(length):
    frames = dsp.stft(torch.zeros(length), 2048, 512).shape[-1]
    assert dsp.n_frames(length, 512) == frames
    if length >= 2048:
        assert dsp.n_frames(length, 512, center=False, n_fft=2048) == \
            dsp.stft(torch.zeros(length), 2048, 512, center=False).shape[-1]


def test_windows_are_periodic_like_librosa():
    scipy_signal = pytest.importorskip("scipy.signal")
    for name in ("hann", "hamming", "blackman"):
        np.testing.assert_allclose(dsp.get_window(name, 1024, dtype=torch.float64).numpy(),
                                   scipy_signal.get_window(name, 1024, fftbins=True), atol=1e-12)
    w = dsp.get_window("hann", 8)
    w.zero_()  # a copy: the cache is untouched
    assert dsp.get_window("hann", 8).max() == 1.0


# ----------------------------------------------------------------------------------------------
# mel


@pytest.mark.parametrize("args", [
    dict(sr=22050, n_fft=2048, n_mels=512),
    dict(sr=44100, n_fft=2048, n_mels=128, fmin=20.0, fmax=16000.0),
    dict(sr=44100, n_fft=2048, n_mels=64, htk=True, norm=None),
], ids=["ndm", "fmin-fmax", "htk-nonorm"])
def test_mel_filterbank_equals_librosa(args):
    librosa = pytest.importorskip("librosa")
    ref = librosa.filters.mel(**args)
    fb = dsp.mel_filterbank(**args)
    assert fb.shape == (args["n_mels"], args["n_fft"] // 2 + 1) and fb.dtype == torch.float32
    np.testing.assert_array_equal(fb.numpy(), ref)
    fb.zero_()  # a copy: the cache is untouched
    np.testing.assert_array_equal(dsp.mel_filterbank(**args).numpy(), ref)


@pytest.mark.parametrize("power", [1.0, 2.0])
def test_mel_spectrogram_equals_librosa(power):
    librosa = pytest.importorskip("librosa")
    wave = drum_like(22015, sr=22050, batch=1)[0]
    ref = librosa.feature.melspectrogram(y=wave.numpy(), sr=22050, n_fft=2048, hop_length=256,
                                         win_length=1024, n_mels=512, power=power)
    ours = dsp.mel_spectrogram(wave, 22050, **NDM, n_mels=512, power=power)
    assert ours.shape == (512, dsp.n_frames(22015, 256)) == ref.shape
    np.testing.assert_allclose(ours.numpy(), ref, rtol=1e-4, atol=1e-4 * ref.max())
    batched = dsp.mel_spectrogram(torch.stack([wave, 0.5 * wave]), 22050, **NDM, n_mels=512, power=power)
    torch.testing.assert_close(batched[0], ours)
    torch.testing.assert_close(batched[1], ours * 0.5**power)


def test_log_mel_is_floored_natural_log():
    wave = torch.cat([torch.zeros(2048), drum_like(4096, batch=1)[0]])
    mel = dsp.mel_spectrogram(wave, 44100, 1024, 256, n_mels=64)
    lm = dsp.log_mel(wave, 44100, 1024, 256, n_mels=64, eps=1e-5)
    torch.testing.assert_close(lm, torch.log(torch.clamp(mel, min=1e-5)))
    assert lm.min().item() == pytest.approx(math.log(1e-5))  # the leading silence hits the floor


def test_mel_to_linear_is_a_non_negative_least_squares_inverse():
    wave = chirp(11025, 22050)
    mag = dsp.stft(wave, 1024, 256).abs()
    fb = dsp.mel_filterbank(22050, 1024, 80)
    mel = fb @ mag
    lin = dsp.mel_to_linear(mel, fb)
    assert lin.shape == mag.shape and lin.min() >= 0
    assert (torch.linalg.norm(fb @ lin - mel) / torch.linalg.norm(mel)).item() < 0.05


def test_mel_to_linear_stays_bounded_for_mels_no_spectrum_produces():
    # A decoder's mel is not exactly fb @ |X| for any X; with 512 bands over 1025 FFT bins the filter
    # bank is rank-deficient, and an unregularised pseudo-inverse returned values ~1e5 too large.
    fb = dsp.mel_filterbank(22050, 2048, 512)
    mel = torch.rand(2, 512, 20, generator=torch.Generator().manual_seed(0))
    lin = dsp.mel_to_linear(mel, fb)
    assert torch.all(torch.isfinite(lin)) and lin.max() < 100 * mel.max() / fb.max()


# ----------------------------------------------------------------------------------------------
# Griffin-Lim


def _spectral_convergence(wave, target, n_fft, hop):
    est = dsp.stft(wave, n_fft, hop).abs()
    return (torch.linalg.norm(est - target) / torch.linalg.norm(target)).item()


def test_griffin_lim_converges_on_a_chirp():
    n, n_fft, hop = 11025, 1024, 256
    target = dsp.stft(chirp(n, 22050), n_fft, hop).abs()
    sc = [_spectral_convergence(
        dsp.griffin_lim(target, n_fft, hop, n_iter=k, length=n, generator=torch.Generator().manual_seed(0)),
        target, n_fft, hop) for k in (0, 4, 32)]
    assert sc[0] > sc[1] > sc[2]
    assert sc[2] < 0.5 * sc[0]


def test_griffin_lim_is_deterministic_per_seed():
    target = dsp.stft(chirp(4096, 22050), 512, 128).abs().expand(2, -1, -1)
    run = lambda gen: dsp.griffin_lim(target, 512, 128, n_iter=4, generator=gen)  # noqa: E731
    a = run(torch.Generator().manual_seed(7))
    assert a.shape == (2, 128 * (target.shape[-1] - 1))
    assert torch.equal(a, run(torch.Generator().manual_seed(7)))
    assert not torch.allclose(a, run(torch.Generator().manual_seed(8)))
    assert torch.equal(run(None), run(None))  # zero initial phase
    assert torch.isfinite(a).all()


def test_griffin_lim_starts_from_a_given_phase():
    """A wave's own STFT phase is a fixed point: zero iterations give the wave back, and refining stays at it;
    a phase of the wrong shape, or one with a generator, is refused."""
    n, n_fft, hop = 4096, 512, 128
    wave = chirp(n, 22050)
    spectrum = dsp.stft(wave, n_fft, hop)
    for n_iter in (0, 4):
        out = dsp.griffin_lim(spectrum.abs(), n_fft, hop, n_iter=n_iter, length=n, initial_phase=spectrum.angle())
        torch.testing.assert_close(out, wave, atol=1e-4, rtol=0)
    zero_phase = dsp.griffin_lim(spectrum.abs(), n_fft, hop, n_iter=0, length=n)
    assert (zero_phase - wave).abs().max() > 0.1
    with pytest.raises(DrumsynthError, match="initial_phase"):
        dsp.griffin_lim(spectrum.abs(), n_fft, hop, initial_phase=spectrum.angle()[..., 1:])
    with pytest.raises(DrumsynthError, match="initial_phase"):
        dsp.griffin_lim(spectrum.abs(), n_fft, hop, initial_phase=spectrum.angle(),
                        generator=torch.Generator().manual_seed(0))


# ----------------------------------------------------------------------------------------------
# clip preparation


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_apply_fades_exact(kind):
    ones = np.ones((2, 100), dtype=np.float32)
    out = dsp.apply_fades(ones if kind == "numpy" else torch.from_numpy(ones), 10, 20)
    out = np.asarray(out)
    assert out.shape == (2, 100) and out.dtype == np.float32
    assert out[0, 0] == 0.0 and out[0, -1] == 0.0
    np.testing.assert_array_equal(out[:, :10], np.broadcast_to(np.float32(np.arange(10) / 10), (2, 10)))
    np.testing.assert_array_equal(out[:, 10:80], 1.0)
    np.testing.assert_array_equal(out[:, 80:], np.broadcast_to(np.float32(np.arange(20)[::-1] / 20), (2, 20)))
    np.testing.assert_array_equal(ones, 1.0)  # input untouched


def test_fade_in_ms_and_overlapping_fades():
    out = dsp.fade(torch.ones(1000), sr=1000, fade_in_ms=10.0, fade_out_ms=5.0)
    assert out[0] == 0 and out[5].item() == pytest.approx(0.5) and out[10] == 1
    assert out[-1] == 0 and out[-2].item() == pytest.approx(0.2)
    both = dsp.apply_fades(np.ones(4), 4, 4)  # gains multiply where they overlap
    np.testing.assert_allclose(both, [0, 0.25 * 0.5, 0.5 * 0.25, 0])
    assert dsp.apply_fades(np.ones(3), 0, 0).tolist() == [1, 1, 1]


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_trim_or_pad_exact(kind):
    x = np.arange(1, 11, dtype=np.float32).reshape(1, 10)
    x = x if kind == "numpy" else torch.from_numpy(x)
    short = dsp.trim_or_pad(x, 4)
    long = dsp.trim_or_pad(x, 13)
    same = dsp.trim_or_pad(x, 10)
    assert tuple(short.shape) == (1, 4) and tuple(long.shape) == (1, 13) and tuple(same.shape) == (1, 10)
    assert np.asarray(short).tolist() == [[1, 2, 3, 4]]
    assert np.asarray(long).tolist() == [list(range(1, 11)) + [0, 0, 0]]
    assert np.asarray(same).tolist() == [list(range(1, 11))]
    same[0, 0] = 99  # a new array, never a view
    assert x[0, 0] == 1


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_peak_normalise(kind):
    rng = np.random.default_rng(3)
    x = np.stack([rng.standard_normal(500) * 0.3, np.zeros(500), -np.abs(rng.standard_normal(500)) * 1e-3])
    x = x.astype(np.float32)
    out = dsp.peak_normalise(x if kind == "numpy" else torch.from_numpy(x))
    out = np.asarray(out)
    assert out.dtype == np.float32 and np.isfinite(out).all()
    assert np.abs(out[0]).max() == 1.0 and np.abs(out[2]).max() == 1.0  # exactly, per clip
    assert out[2].min() == -1.0
    np.testing.assert_array_equal(out[1], 0.0)  # silence stays silence
    np.testing.assert_allclose(out[0] * np.abs(x[0]).max(), x[0], rtol=1e-6)  # a pure gain
    assert np.abs(np.asarray(dsp.peak_normalise(x, peak=0.5))[0]).max() == 0.5


def test_onset_alignment_and_prepare_clip():
    hit = drum_like(3000, batch=1)[0]
    x = torch.stack([torch.cat([torch.zeros(100), hit]), torch.cat([1e-5 * torch.ones(50), hit, torch.zeros(50)])])
    assert dsp.onset_index(x, -60.0).tolist() == [100, 50]
    aligned = dsp.trim_leading_silence(x)
    assert aligned.shape == x.shape
    assert torch.equal(aligned[0, :3000], hit) and not aligned[0, 3000:].any()
    assert torch.equal(aligned[1, :3000], hit)
    assert dsp.onset_index(x[1], -120.0).item() == 0  # the 1e-5 floor is within 120 dB
    np.testing.assert_array_equal(dsp.trim_leading_silence(np.zeros(5)), np.zeros(5))

    clip = dsp.prepare_clip(x.numpy() * 0.3, 4096, fade_in=16, fade_out=64, trim_silence_db=-60.0)
    assert clip.shape == (2, 4096) and isinstance(clip, np.ndarray)
    assert np.abs(clip).max(axis=-1).tolist() == [1.0, 1.0]
    assert (clip[:, 0] == 0).all() and (clip[:, -1] == 0).all()
    np.testing.assert_allclose(clip[0, 16:3000] / clip[0, 500] * hit[500].item(), hit[16:].numpy(), atol=1e-6)
    silent = dsp.prepare_clip(torch.zeros(100), 200, fade_in=4, fade_out=4)
    assert silent.shape == (200,) and not silent.any()


@pytest.mark.parametrize("call", [
    pytest.param(lambda: dsp.trim_or_pad(np.ones(4), 0), id="length-0"),
    pytest.param(lambda: dsp.trim_or_pad(np.ones(4), -3), id="length-negative"),
    pytest.param(lambda: dsp.trim_or_pad(np.float32(1.0), 4), id="scalar-wave"),
    pytest.param(lambda: dsp.apply_fades(np.ones(4), 5, 0), id="fade-longer-than-clip"),
    pytest.param(lambda: dsp.apply_fades(np.ones(4), -1, 0), id="fade-negative"),
    pytest.param(lambda: dsp.fade(np.ones(4), 0, 1.0), id="fade-sr-0"),
    pytest.param(lambda: dsp.peak_normalise(np.ones(4), peak=0.0), id="peak-0"),
    pytest.param(lambda: dsp.onset_index(np.ones(4), threshold_db=6.0), id="threshold-positive"),
    pytest.param(lambda: dsp.prepare_clip(np.ones(4), 0), id="prepare-length-0"),
    pytest.param(lambda: dsp.n_frames(0, 512), id="n_frames-length-0"),
    pytest.param(lambda: dsp.n_frames(100, 512, center=False), id="n_frames-no-n_fft"),
    pytest.param(lambda: dsp.stft(torch.ones(100), 256, 64, win_length=512), id="win-longer-than-n_fft"),
    pytest.param(lambda: dsp.stft(torch.ones(100), 256, 0), id="hop-0"),
    pytest.param(lambda: dsp.stft(torch.ones(100), 256, 64, window="kaiser"), id="unknown-window"),
    pytest.param(lambda: dsp.stft(torch.ones(100), 256, 64, center=False), id="short-uncentred"),
    pytest.param(lambda: dsp.istft(torch.ones(129, 4), 256, 64), id="istft-real"),
    pytest.param(lambda: dsp.istft(torch.ones(100, 4, dtype=torch.complex64), 256, 64), id="istft-wrong-bins"),
    pytest.param(lambda: dsp.channels_to_complex(torch.ones(3, 129, 4)), id="channels-3"),
    pytest.param(lambda: dsp.complex_to_channels(torch.ones(129, 4)), id="channels-of-real"),
    pytest.param(lambda: dsp.mel_filterbank(22050, 2048, 64, fmax=20000.0), id="mel-fmax-above-nyquist"),
    pytest.param(lambda: dsp.mel_spectrogram(torch.ones(1000), 22050, 512, 128, n_mels=32, power=0.0), id="mel-power-0"),
    pytest.param(lambda: dsp.mel_to_linear(torch.ones(32, 4), torch.ones(40, 257)), id="mel_to_linear-mismatch"),
    pytest.param(lambda: dsp.griffin_lim(torch.ones(100, 4), 256, 64), id="gl-wrong-bins"),
    pytest.param(lambda: dsp.griffin_lim(torch.ones(129, 4), 256, 64, momentum=1.5), id="gl-momentum"),
    pytest.param(lambda: dsp.griffin_lim(torch.ones(129, 4), 256, 64, length=1000), id="gl-length-mismatch"),
])
def test_bad_arguments_raise_drumsynth_error(call):
    with pytest.raises(DrumsynthError):
        call()


# ----------------------------------------------------------------------------------------------
# resampling


@pytest.mark.parametrize("orig_sr", [96000, 48000, 22050])
def test_resampled_lengths_exact(orig_sr):
    for n in (7, 999, 12345, 16384, 24255, 44100):
        y = resample(np.zeros(n, dtype=np.float32), orig_sr, 44100)
        assert y.dtype == np.float32
        assert len(y) == round(n * 44100 / orig_sr) == resampled_length(n, orig_sr, 44100)
    stereo = resample(np.zeros((2, 999), dtype=np.float32), orig_sr, 44100)
    assert stereo.shape == (2, resampled_length(999, orig_sr, 44100))


@pytest.mark.parametrize("orig_sr,n", [(48000, 400), (96000, 32160)])
def test_resampled_lengths_half_way_cases(orig_sr, n):
    assert len(resample(np.zeros(n, dtype=np.float32), orig_sr, 44100)) == resampled_length(n, orig_sr, 44100)


@pytest.mark.parametrize("orig_sr", [96000, 48000, 22050])
def test_resampled_sine_keeps_its_frequency(orig_sr):
    freq = 1000.0
    x = np.sin(2 * np.pi * freq * np.arange(orig_sr) / orig_sr).astype(np.float32)  # 1 s
    y = resample(x, orig_sr, 44100)
    assert len(y) == 44100
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    assert np.fft.rfftfreq(len(y), 1 / 44100)[np.argmax(spectrum)] == freq
    assert np.abs(y[1000:-1000]).max() == pytest.approx(1.0, abs=0.01)  # amplitude kept too


def test_resample_same_rate_is_a_copy_and_bad_rates_raise():
    x = np.ones(10, dtype=np.float32)
    y = resample(x, 44100, 44100)
    y[0] = 0
    assert x[0] == 1
    with pytest.raises(DrumsynthError):
        resample(x, 0, 44100)


@pytest.mark.parametrize("rate", [math.nan, math.inf, -math.inf, 0, -44100, 0.5, 1e9, "44100", None, True])
def test_resample_refuses_rates_that_would_spin_or_explode(rate):
    x = np.ones(100, dtype=np.float32)
    for orig, target in ((rate, 44100), (44100, rate)):
        with pytest.raises(DrumsynthError, match="sample rate"):
            resample(x, orig, target)


def test_resample_refuses_an_output_over_the_sample_limit():
    from drumsynth.audio.io import MAX_RATE, MAX_SAMPLES

    x = np.zeros(MAX_SAMPLES // 100, dtype=np.float32)
    with pytest.raises(DrumsynthError, match="limit"):
        resample(x, 1000, MAX_RATE)  # x384 would be 220 M samples
    assert resample(np.zeros(1000, np.float32), 8000, 48000.0).shape == (6000,)  # float rates are fine


# ----------------------------------------------------------------------------------------------
# io


@pytest.mark.parametrize("bit_depth,tolerance", [("16", 2.0**-15), ("24", 2.0**-22), ("32f", 0.0)])
def test_wav_round_trip_with_tags(tmp_path, bit_depth, tolerance):
    wave = (np.random.default_rng(4).random(4410) * 1.8 - 0.9).astype(np.float32)
    tags = {"title": "kick 01", "artist": "drumsynth", "comment": "seed=7 model=wavegan", "software": "drumsynth 0.1"}
    path = write_wav(tmp_path / f"hit{bit_depth}.wav", wave, 44100, bit_depth=bit_depth, tags=tags)
    read = read_wav_tags(path)
    # libsndfile appends its own name to the software tag: "drumsynth 0.1 (libsndfile-1.2.2)".
    assert read.pop("software").startswith(tags.pop("software"))
    assert read == tags
    assert sf.info(str(path)).subtype == {"16": "PCM_16", "24": "PCM_24", "32f": "FLOAT"}[bit_depth]
    loaded, sr = load_audio(path)
    assert sr == 44100 and loaded.dtype == np.float32 and loaded.shape == wave.shape
    error = np.abs(loaded - wave).max()
    assert error < tolerance if tolerance else error == 0.0
    from_bytes, sr = load_audio_bytes(path.read_bytes())
    np.testing.assert_array_equal(from_bytes, loaded)
    assert not list(tmp_path.glob(".*.tmp"))  # atomic write left no temp file


def _expect_error(path, match=None):
    with pytest.raises(DrumsynthError) as info:
        load_audio(path)
    assert str(path) in str(info.value)
    if match:
        assert match in str(info.value)


def test_corrupt_empty_and_zero_frame_files(tmp_path):
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(np.random.default_rng(5).bytes(4096))
    _expect_error(corrupt)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    _expect_error(empty)
    zero = tmp_path / "zero.wav"
    sf.write(str(zero), np.zeros(0, dtype=np.float32), 44100)
    _expect_error(zero, "empty")
    _expect_error(tmp_path / "missing.wav")


def test_nan_wav_is_refused(tmp_path):
    path = tmp_path / "nan.wav"
    wave = np.zeros(1000, dtype=np.float32)
    wave[10] = np.nan
    sf.write(str(path), wave, 44100, subtype="FLOAT")
    _expect_error(path, "NaN")
    with pytest.raises(DrumsynthError):
        encode_wav(wave, 44100)


def test_stereo_is_mixed_to_the_channel_mean(tmp_path):
    rng = np.random.default_rng(6)
    stereo = (rng.random((3000, 2)) - 0.5).astype(np.float32)
    path = tmp_path / "stereo.wav"
    sf.write(str(path), stereo, 48000, subtype="FLOAT")
    mono, sr = load_audio(path)
    assert sr == 48000 and mono.shape == (3000,)
    np.testing.assert_allclose(mono, stereo.mean(axis=1), atol=1e-7)
    both, _ = load_audio(path, mono=False)
    np.testing.assert_array_equal(both, stereo.T)


@pytest.mark.parametrize("mono", [True, False])
def test_block_decoding_matches_a_whole_read(tmp_path, mono):
    """Three channels over several decoding blocks (and a ragged last one) read as soundfile reads them."""
    from drumsynth.audio.io import BLOCK_FRAMES

    rng = np.random.default_rng(9)
    data = (rng.random((2 * BLOCK_FRAMES + 123, 3)) - 0.5).astype(np.float32)
    path = tmp_path / "three.wav"
    sf.write(str(path), data, 44100, subtype="FLOAT")
    wave, sr = load_audio(path, mono=mono)
    expected = data.mean(axis=1) if mono else data.T
    assert sr == 44100 and wave.dtype == np.float32 and wave.flags.c_contiguous
    np.testing.assert_allclose(wave, expected, atol=1e-7)
    from_bytes, _ = load_audio_bytes(path.read_bytes(), mono=mono)
    np.testing.assert_array_equal(from_bytes, wave)


def test_nan_in_a_later_block_is_refused(tmp_path):
    from drumsynth.audio.io import BLOCK_FRAMES

    wave = np.zeros(BLOCK_FRAMES * 2, dtype=np.float32)
    wave[-1] = np.inf
    sf.write(str(tmp_path / "late.wav"), wave, 44100, subtype="FLOAT")
    _expect_error(tmp_path / "late.wav", "NaN or infinite")


def test_too_many_channels_are_refused(tmp_path):
    from drumsynth.audio.io import MAX_CHANNELS

    path = tmp_path / "many.wav"
    sf.write(str(path), np.zeros((100, MAX_CHANNELS + 1), np.float32), 8000)
    _expect_error(path, f"{MAX_CHANNELS + 1} channels")
    sf.write(str(path), np.full((100, MAX_CHANNELS), 0.5, np.float32), 8000)
    assert np.allclose(load_audio(path)[0], 0.5)  # the limit itself is fine


@pytest.mark.parametrize("channels,sr,seconds,needle", [
    (2, 48000, 601, "long"),               # over MAX_SECONDS
    (4, 96000, 300, "samples"),            # under both, over MAX_SAMPLES (frames x channels)
])
def test_audio_limits_are_checked_before_decoding(tmp_path, channels, sr, seconds, needle):
    """A FLAC header claims the size (near-silence compresses to nothing); no sample is decoded."""
    import io as _io

    buffer = _io.BytesIO()
    sf.write(buffer, np.zeros((100, channels), np.float32), sr, format="FLAC", subtype="PCM_16")
    data = bytearray(buffer.getvalue())
    field = slice(18, 26)  # STREAMINFO: rate | channels | bits | 36-bit total samples
    packed = int.from_bytes(data[field], "big")
    data[field] = ((packed & ~((1 << 36) - 1)) | int(seconds * sr)).to_bytes(8, "big")
    with pytest.raises(DrumsynthError, match=needle):
        load_audio_bytes(bytes(data), name="claims.flac")
    (tmp_path / "claims.flac").write_bytes(bytes(data))
    _expect_error(tmp_path / "claims.flac", needle)


def test_96k_file_resamples_to_44k(tmp_path):
    path = tmp_path / "hires.wav"
    n = 24000  # 0.25 s
    sf.write(str(path), 0.5 * np.sin(2 * np.pi * 440 * np.arange(n) / 96000).astype(np.float32), 96000,
             subtype="PCM_24")
    wave, sr = load_audio(path)
    assert sr == 96000 and wave.shape == (n,)
    out = resample(wave, sr, 44100)
    assert out.shape == (round(n * 44100 / 96000),) == (11025,)


def test_too_long_file_and_bad_bytes(tmp_path):
    path = write_wav(tmp_path / "one_second.wav", np.zeros(44100, dtype=np.float32), 44100)
    assert load_audio(path)[0].shape == (44100,)  # fine under the default limit
    with pytest.raises(DrumsynthError, match="long"):
        load_audio(path, max_seconds=0.5)
    for payload in (b"", b"RIFF\x00\x00garbage", np.random.default_rng(8).bytes(2048)):
        with pytest.raises(DrumsynthError):
            load_audio_bytes(payload, name="upload.wav")
    with pytest.raises(DrumsynthError):
        encode_wav(np.zeros(10), 44100, bit_depth="8")
    with pytest.raises(DrumsynthError):
        encode_wav(np.zeros(10), 44100, tags={"bpm": "120"})
