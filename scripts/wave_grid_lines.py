"""Steady spectral lines in a waveform GAN's hits, and how many sit on its coarse scales' sample grids.

A generator that up-samples by 4 per block leaves images of each coarser scale's signal at multiples of
that scale's rate (``sr / 4**k``); a box (nearest) up-sampler passes them 11 dB down (docs/wavegan.md,
"Filtered up-sampling"). For each class, 64 hits from evaluate's seeds: the mean power spectrum over the
whole clip (Hann), a line wherever it stands 8 dB or more above its running median (101 bins), and the
share of lines within one bin of a multiple of the grid rate (by chance: 3 bins in every grid step).

usage: python scripts/wave_grid_lines.py MODEL [MODEL ...]   (wavegan or style releases; default: wavegan)
"""
import sys

import numpy as np
import torch
from scipy.ndimage import median_filter

from drumsynth.inference.session import Session

N_HITS = 64
LINE_DB = 8.0
MEDIAN_BINS = 101


def mean_spectrum_db(hits: np.ndarray) -> np.ndarray:
    """Mean power spectrum of hits float[N, T] in dB: float[T // 2 + 1]."""
    spectra = np.abs(np.fft.rfft(hits * np.hanning(hits.shape[-1]), axis=-1)) ** 2
    return 10 * np.log10(spectra.mean(0) + 1e-20)


def lines(spectrum_db: np.ndarray) -> np.ndarray:
    """Bins of the local maxima standing LINE_DB above the running median: int[K]."""
    excess = spectrum_db - median_filter(spectrum_db, MEDIAN_BINS)
    peak = (excess[1:-1] >= excess[:-2]) & (excess[1:-1] >= excess[2:]) & (excess[1:-1] >= LINE_DB)
    return np.flatnonzero(peak) + 1


def main() -> None:
    paths = sys.argv[1:] or ["wavegan"]
    print("| model | class | lines | on the grid (share) | by chance | loudest line (dB above the median) | grid |")
    print("|---|---|---|---|---|---|---|")
    for path in paths:
        session = Session.load(path)
        model = session.model
        sr, length = model.sample_rate, model.length
        grid_hz = sr / 4 ** (len(model.config.model.channels) - 2)      # scale 1's rate
        bin_hz = sr / length
        for k, cls in enumerate(session.classes):
            z = model.sample_latent(N_HITS, torch.Generator().manual_seed(k))
            hits = model.generate(z, session.class_weights(cls, N_HITS)).numpy().astype(np.float64)
            spectrum = mean_spectrum_db(hits)
            found = lines(spectrum)
            step = grid_hz / bin_hz
            off_grid = np.abs(found / step - np.round(found / step)) * step
            on_grid = int(np.sum((off_grid <= 1.0) & (np.round(found / step) > 0)))
            excess = spectrum - median_filter(spectrum, MEDIAN_BINS)
            loudest = float(excess[found].max()) if len(found) else 0.0
            print(f"| {path} | {cls} | {len(found)} | {on_grid} ({on_grid / max(len(found), 1):.2f}) | "
                  f"{3 / step:.2f} | {loudest:.1f} | {grid_hz:.1f} Hz |")


if __name__ == "__main__":
    main()
