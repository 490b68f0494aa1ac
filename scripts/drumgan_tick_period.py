"""How far apart drumgan's broadband ticks are, in STFT frames (issue 14 goal 3, docs/drumgan.md "Session 13").

The generator grows its time axis 3 -> 3 -> 6 -> 12 -> 24 -> 48 frames by 2x up-sampling, so a block
pattern left by the up-sampling into scale s repeats every 48 / N_(s-1) frames: 2 frames for the finest
block, 4 for the one before, 8 before that. Per hit, the >4 kHz band energy of each model frame (dB, from
the complex spectrogram the release inverts) minus its 5-frame moving average leaves the frame-to-frame
ripple; its autocorrelation at lags 1-8, averaged per class, peaks at the period of a block pattern (a
smooth decay has none: the real test clips, through the representation's own analysis, show the baseline).

usage: python scripts/drumgan_tick_period.py [MODEL ...]   (default: the shipped drumgan; 32 hits per class,
       then the real test clips; about a minute on one core). Run from the repository root with the corpus
       cache in data/corpus.
"""
import sys

import numpy as np
import torch
from drumgan_tick_check import generated, real

from drumsynth.checkpoint import load_checkpoint
from drumsynth.models import family_module
from drumsynth.models.drumgan.model import EDGE_FRAMES_DROPPED

BAND_HZ = 4000.0
LAGS = range(1, 9)
SMOOTH_FRAMES = 5
N_PER_CLASS = 32


def ripple_autocorrelation(spec: torch.Tensor, sr: int, n_fft: int) -> np.ndarray:
    """Complex STFT Tensor[B, F + 1, N] -> the ripple's autocorrelation at ``LAGS``, float64 [B, len(LAGS)].

    Frames where the band is more than 60 dB below the clip's loudest band frame are left out (silence
    has no ripple to speak of); so are the release's zeroed edge frames."""
    bins = torch.fft.rfftfreq(n_fft, 1.0 / sr) >= BAND_HZ
    energy = spec.abs().pow(2)[:, bins[: spec.shape[1]]].sum(1).double().numpy()
    db = 10.0 * np.log10(energy[:, : spec.shape[-1] - EDGE_FRAMES_DROPPED] + 1e-20)
    kernel = np.ones(SMOOTH_FRAMES) / SMOOTH_FRAMES
    out = np.zeros((len(db), len(LAGS)))
    for i, row in enumerate(db):
        trend = np.convolve(np.pad(row, SMOOTH_FRAMES // 2, mode="edge"), kernel, mode="valid")
        ripple = np.where(row > row.max() - 60.0, row - trend, 0.0)
        ripple = ripple - ripple.mean()
        norm = (ripple ** 2).sum() + 1e-12
        out[i] = [(ripple[:-lag] * ripple[lag:]).sum() / norm for lag in LAGS]
    return out


def report(title: str, spec: torch.Tensor, labels: list[str], sr: int, n_fft: int) -> None:
    """Print per class the mean autocorrelation at each lag and the lag where it peaks."""
    corr = ripple_autocorrelation(spec, sr, n_fft)
    print(f"\n{title}: autocorrelation of the >4 kHz frame ripple, mean over hits")
    print("| class | n | " + " | ".join(f"lag {lag}" for lag in LAGS) + " | peak lag (2-8) |")
    print("|---" * (len(LAGS) + 3) + "|")
    for cls in dict.fromkeys(labels):
        rows = np.array([lab == cls for lab in labels])
        mean = corr[rows].mean(0)
        peak = list(LAGS)[1 + int(np.argmax(mean[1:]))]
        print(f"| {cls} | {rows.sum()} | " + " | ".join(f"{v:+.2f}" for v in mean) + f" | {peak} |")


def main() -> None:
    paths = sys.argv[1:] or ["src/drumsynth/pretrained/drumgan.pt"]
    torch.set_num_threads(1)
    model = None
    for path in paths:
        model = family_module("drumgan").load_model(load_checkpoint(path))
        data = model.config.data
        spec, names = generated(model, N_PER_CLASS)
        report(f"{path}, {N_PER_CLASS} per class", spec, names, data.sr, data.n_fft)
    spec, names = real(model, "test")
    report("real test clips", spec, names, model.config.data.sr, model.config.data.n_fft)


if __name__ == "__main__":
    main()
