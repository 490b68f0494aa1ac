"""Where drumgan's broadband ticks live: in the generated magnitude or in the generated phase
(issue 14 goal 3, docs/drumgan.md "Session 11").

Per class, ticks per second (drumsynth.metrics.listener.tick_rate, the report's listener metric;
median and mean) of hits rendered five ways from the same spectrogram:

- ``as is``: what the release plays (:func:`render_hits`: the last EDGE_FRAMES_DROPPED frames zeroed);
- ``GL random``: the spectrogram's own magnitude, phase from Griffin-Lim started at random phase
  (64 fast iterations): a consistent phase that owes nothing to the generated one;
- ``GL own``: the same magnitude, Griffin-Lim started from the generated phase (32 iterations): the
  nearest consistent phase to the generated one;
- ``mag smoothed``: the generated phase kept, the magnitude smoothed in time only ([1, 2, 1] / 4 over
  frames; frequency untouched);
- ``smoothed, GL random``: that smoothed magnitude with Griffin-Lim phase from random (both edits at once:
  what is left ticks in neither the phase nor the frame-to-frame magnitude).

The same five on real test clips (their channels from the representation's own analysis): ``as is`` is
the representation's round trip, which must not tick; the others show what each rendering adds by
itself. Last, how consistent each spectrogram is: ``|STFT(ISTFT(S)) - S| / |S|`` (0 for any STFT of a
signal; a generated spectrogram need not be one), and the level of the band the ticks are counted in
during the decay: the median over 0.1-0.45 s of the >4 kHz band energy of the hit as played, in dB below
its loudest frame (listener.band_energy_db; tick_rate counts rises only within 50 dB of that frame, so a
band that stays above -50 dB can tick by noise fluctuation alone).

usage: python scripts/drumgan_tick_check.py [MODEL] [N_PER_CLASS] [--generated-only]
       (default: the shipped drumgan, 32 per class, then the real test clips; ~5 min on one busy core,
       most of it Griffin-Lim on the 158 real clips). Run from the repository root with the corpus cache
       in data/corpus.
"""
import sys

import numpy as np
import torch
from torch.nn import functional as F

from drumsynth.audio.dsp import channels_to_complex, griffin_lim, istft, peak_normalise, stft, unpack_nyquist
from drumsynth.checkpoint import load_checkpoint
from drumsynth.data.cache import load_cache
from drumsynth.data.dataset import DrumDataset
from drumsynth.metrics.listener import TICK_HOP, band_energy_db, tick_rate
from drumsynth.models import family_module
from drumsynth.models.drumgan import spectral
from drumsynth.models.drumgan.model import EDGE_FRAMES_DROPPED

SEED = 0
GL_RANDOM_ITERS = 64
GL_OWN_ITERS = 32
DECAY_SPAN_S = (0.1, 0.45)  # after every class's attack, before the release's last (zeroed) frames


def complex_spec(channels: torch.Tensor, data, gain: float) -> torch.Tensor:
    """Model channels Tensor[B, 2, F, N] -> the plain complex STFT Tensor[B, F + 1, N] that
    :func:`spectral.to_wave` inverts (gain, Nyquist packing, compression and demodulation undone)."""
    spec = spectral.expand(unpack_nyquist(channels_to_complex(channels / gain)), data.magnitude_power)
    if data.demodulate:
        spec = spec * spectral.phase_rotation(*spec.shape[-2:], data.n_fft, data.hop_length).conj()
    return spec


def inverse(spec: torch.Tensor, data) -> torch.Tensor:
    """Complex STFT Tensor[B, F + 1, N] -> clips Tensor[B, length]."""
    return istft(spec, data.n_fft, data.hop_length, data.n_fft, center=True, length=data.length)


def gl_from(spec: torch.Tensor, data, n_iter: int) -> torch.Tensor:
    """Plain Griffin-Lim on ``|spec|`` started from ``spec``'s own phase: Tensor[B, F + 1, N] -> [B, length]."""
    magnitude, angles = spec.abs(), spec / (spec.abs() + 1e-16)
    args = dict(n_fft=data.n_fft, hop_length=data.hop_length, win_length=data.n_fft)
    for _ in range(n_iter):
        rebuilt = stft(inverse(magnitude * angles, data), **args)
        angles = rebuilt / (rebuilt.abs() + 1e-16)
    return inverse(magnitude * angles, data)


def smooth_time(spec: torch.Tensor) -> torch.Tensor:
    """|spec| smoothed over frames by [1, 2, 1] / 4 (edges replicated), phase kept: Tensor[B, F + 1, N]."""
    magnitude = spec.abs()
    kernel = torch.tensor([[[0.25, 0.5, 0.25]]], dtype=magnitude.dtype)
    flat = F.pad(magnitude.reshape(-1, 1, magnitude.shape[-1]), (1, 1), mode="replicate")
    smoothed = F.conv1d(flat, kernel).reshape(magnitude.shape)
    return smoothed * spec / (magnitude + 1e-16)


def renderings(spec: torch.Tensor, data) -> dict[str, torch.Tensor]:
    """The five renderings of the module docstring, each Tensor[B, length] at peak 1."""
    generator = torch.Generator().manual_seed(SEED)
    waves = {
        "as is": inverse(spec, data),
        "GL random": griffin_lim(spec.abs(), data.n_fft, data.hop_length, data.n_fft, n_iter=GL_RANDOM_ITERS,
                                 length=data.length, generator=generator),
        "GL own": gl_from(spec, data, GL_OWN_ITERS),
        "mag smoothed": inverse(smooth_time(spec), data),
        "smoothed, GL random": griffin_lim(smooth_time(spec).abs(), data.n_fft, data.hop_length, data.n_fft,
                                           n_iter=GL_RANDOM_ITERS, length=data.length, generator=generator),
    }
    return {k: peak_normalise(w).clamp(-1.0, 1.0) for k, w in waves.items()}


def inconsistency(spec: torch.Tensor, data) -> np.ndarray:
    """``|STFT(ISTFT(S)) - S| / |S|`` per clip: float64 [B]."""
    again = stft(inverse(spec, data), data.n_fft, data.hop_length, data.n_fft)
    return ((again - spec).abs().pow(2).sum((-2, -1)) / spec.abs().pow(2).sum((-2, -1))).sqrt().double().numpy()


def decay_band_db(wave: np.ndarray, sr: int) -> float:
    """Median >4 kHz band energy of one hit over ``DECAY_SPAN_S`` (dB below its loudest frame)."""
    energy = band_energy_db(wave, sr)
    t = np.arange(len(energy)) * TICK_HOP / sr
    return float(np.median(energy[(t >= DECAY_SPAN_S[0]) & (t < DECAY_SPAN_S[1])]))


def report(title: str, spec: torch.Tensor, labels: list[str], data) -> None:
    """Print one table: per class, ticks / s (median, mean) of each rendering, the inconsistency and the
    decay's >4 kHz band level."""
    with torch.no_grad():
        waves = renderings(spec, data)
        bad = inconsistency(spec, data)
    ticks = {k: np.array([tick_rate(w, data.sr) for w in v.numpy()]) for k, v in waves.items()}
    band = np.array([decay_band_db(w, data.sr) for w in waves["as is"].numpy()])
    names = list(ticks)
    print(f"\n{title}: ticks / s, median (mean)")
    print("| class | n | " + " | ".join(names) + " | inconsistency (median) | >4 kHz band in the decay (dB, median) |")
    print("|---" * (len(names) + 4) + "|")
    for cls in dict.fromkeys(labels):
        rows = np.array([lab == cls for lab in labels])
        cells = [f"{np.median(ticks[k][rows]):.0f} ({ticks[k][rows].mean():.1f})" for k in names]
        print(f"| {cls} | {rows.sum()} | " + " | ".join(cells) + f" | {np.median(bad[rows]):.3f} | {np.median(band[rows]):.1f} |")


def generated(model, n: int) -> tuple[torch.Tensor, list[str]]:
    """``n`` hits per class with one-hot sliders: (complex STFT Tensor[3n, F + 1, N] with the release's
    edge frames zeroed, class names)."""
    generator = torch.Generator().manual_seed(SEED)
    labels = torch.eye(len(model.classes)).repeat_interleave(n, dim=0)
    channels = model.spectrogram(model.sample_latent(len(labels), generator), labels).clone()
    channels[..., channels.shape[-1] - EDGE_FRAMES_DROPPED:] = 0.0
    names = [model.classes[i] for i in labels.argmax(1).tolist()]
    return complex_spec(channels, model.config.data, model.gain), names


def real(model, split: str) -> tuple[torch.Tensor, list[str]]:
    """The 3-class clips of ``split`` through the representation's analysis: (complex STFT, class names)."""
    data = model.config.data
    dataset = DrumDataset(load_cache("data/corpus"), split, sr=data.sr, length=data.length, three_class=True,
                          fade_out=data.fade_out)
    waves = dataset.waves[:, 0]
    channels = spectral.to_channels(waves, data, model.gain)
    names = [model.classes[i] for i in dataset.labels.tolist()]
    return complex_spec(channels, data, model.gain), names


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--generated-only"]
    path = args[0] if args else "src/drumsynth/pretrained/drumgan.pt"
    n = int(args[1]) if len(args) > 1 else 32
    torch.set_num_threads(1)
    model = family_module("drumgan").load_model(load_checkpoint(path))
    data = model.config.data
    print(f"{path}: p = {data.magnitude_power}, demodulate = {data.demodulate}, channels {model.generator.channels}")
    spec, names = generated(model, n)
    report(f"generated, {n} per class (seed {SEED})", spec, names, data)
    if "--generated-only" in sys.argv:
        return
    spec, names = real(model, "test")
    report("real test clips", spec, names, data)


if __name__ == "__main__":
    main()
