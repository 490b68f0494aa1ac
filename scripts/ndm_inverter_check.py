"""The ndm MCNN inverter alone, on the real mels of a split (docs/ndm.md, "The MCNN continuation").

Per class, the MCNN's rendering of each real clip's own mel against the clip: ticks per second and energy
above 11 kHz (drumsynth.metrics.listener, the report's listener metrics), and the log-spectral distance
(the Table 2 LSD). Then, over the whole split, where Table 2's LSD comes from: the MCNN on the real mel,
the whole chain (encode -> decode with the clip's class -> MCNN), and Griffin-Lim on the real mel (32
iterations: what the mel itself allows); and per frequency band, the MCNN's mean and RMS dB gap to the
clips (the LSD's STFT, active frames only). Last, whether the mask makes ticks: 32 generated open hats and
cymbals rendered with the binarised mask, the soft mask and none.

usage: python scripts/ndm_inverter_check.py [MODEL] [SPLIT]   (default: the shipped ndm, valid)
       MODEL is a checkpoint path; run from the repository root with the corpus cache in data/corpus.
"""
import sys

import numpy as np
import torch
from torch.nn import functional as F

from drumsynth.checkpoint import load_checkpoint
from drumsynth.config import build_config
from drumsynth.data.cache import load_cache
from drumsynth.data.taxonomy import CLASSES
from drumsynth.metrics.listener import high_band_share, tick_rate
from drumsynth.metrics.reconstruction import _power_spectrogram as power_spectrogram
from drumsynth.metrics.reconstruction import lsd_per_clip
from drumsynth.models import family_module
from drumsynth.models.ndm import features as feats
from drumsynth.models.ndm.config import Config

CHUNK = 16
BAND_EDGES_HZ = (0, 500, 2000, 5000, 11000, 16000, 22051)


def in_chunks(fn, *tensors: torch.Tensor) -> torch.Tensor:
    """``fn`` over rows of ``tensors`` in chunks of ``CHUNK``, concatenated."""
    with torch.no_grad():
        return torch.cat([fn(*(t[i:i + CHUNK] for t in tensors)) for i in range(0, len(tensors[0]), CHUNK)])


def main() -> None:
    path = sys.argv[1] if len(sys.argv) > 1 else "src/drumsynth/pretrained/ndm.pt"
    split = sys.argv[2] if len(sys.argv) > 2 else "valid"
    torch.set_num_threads(1)
    checkpoint = load_checkpoint(path)
    model = family_module("ndm").load_model(checkpoint)
    config = build_config(Config, [checkpoint["config"]])
    data = feats.features(load_cache("data/corpus"), split, config.data)
    wave, mel, labels = data.waves, data.mels, data.labels
    sr, length = config.data.sr, wave.shape[-1]
    mcnn = in_chunks(lambda m: model.mcnn.infer(m, length), mel)

    print(f"{path}, {split} split: the MCNN on each clip's own mel")
    print("| class | n | ticks / s (median) | energy > 11 kHz, MCNN / real (median %) | LSD (dB, mean) |")
    print("|---|---|---|---|---|")
    for c, name in enumerate(CLASSES):
        rows = (labels == c).nonzero().flatten()
        if not len(rows):
            continue
        out, real = mcnn[rows].numpy(), wave[rows].numpy()
        ticks = np.median([tick_rate(x, sr) for x in out])
        high = 100 * np.median([high_band_share(x, sr) for x in out])
        high_real = 100 * np.median([high_band_share(x, sr) for x in real])
        print(f"| {name} | {len(rows)} | {ticks:.1f} | {high:.1f} / {high_real:.1f} | "
              f"{lsd_per_clip(real, out).mean():.2f} |")

    chain = in_chunks(lambda w, lab: model.reconstruct(w, F.one_hot(lab, len(CLASSES)).float()), wave, labels)
    griffin_lim = in_chunks(lambda m: model.invert(m, method="griffin_lim"), mel)
    print(f"\nLSD over all {len(wave)} clips (dB, mean): MCNN on the real mel {lsd_per_clip(wave, mcnn).mean():.2f}; "
          f"encode -> decode -> MCNN {lsd_per_clip(wave, chain).mean():.2f}; "
          f"Griffin-Lim on the real mel {lsd_per_clip(wave, griffin_lim).mean():.2f}")
    band_gaps(wave, mcnn, sr)
    mask_ticks(model, sr)


def band_gaps(wave: torch.Tensor, est: torch.Tensor, sr: int) -> None:
    """Print the per-band mean and RMS of 10 log10(|X|² / |X̂|²) over active frames (within 60 dB of the
    clip's loudest, as the LSD counts them) and each band's share of the squared error."""
    squared, sums, counts = torch.zeros(1025, dtype=torch.float64), torch.zeros(1025, dtype=torch.float64), 0
    for i in range(0, len(wave), CHUNK):
        # The LSD's own spectrogram (2048 / 512, periodic Hann, zero-padded centred frames).
        p_ref, p_est = (power_spectrogram(x[i:i + CHUNK].double(), 2048, 512) for x in (wave, est))
        gap = 10 * (torch.log10(p_ref + 1e-10) - torch.log10(p_est + 1e-10))         # [b, bins, frames]
        energy = p_ref.sum(1)
        active = (energy >= energy.amax(1, keepdim=True) * 1e-6)[:, None]
        squared += (gap ** 2 * active).sum((0, 2))
        sums += (gap * active).sum((0, 2))
        counts += int(active.sum())
    freqs = torch.fft.rfftfreq(2048, 1 / sr)
    print("\n| band (Hz) | mean gap, clip − MCNN (dB) | RMS gap (dB) | share of the squared error |")
    print("|---|---|---|---|")
    for lo, hi in zip(BAND_EDGES_HZ[:-1], BAND_EDGES_HZ[1:]):
        band = (freqs >= lo) & (freqs < hi)
        n = counts * int(band.sum())
        print(f"| {lo}–{hi} | {float(sums[band].sum()) / n:.1f} | {(float(squared[band].sum()) / n) ** 0.5:.1f} | "
              f"{float(squared[band].sum() / squared.sum()):.2f} |")


def mask_ticks(model, sr: int) -> None:
    """Median ticks per second of 32 generated open hats and cymbals under three masks."""
    print("\n| class | binarised mask | soft mask | no mask |")
    print("|---|---|---|---|")
    for name in ("hihat_open", "cymbal"):
        z = torch.randn(32, model.wae.latent_dim, generator=torch.Generator().manual_seed(5))
        labels = torch.full((32,), model.classes.index(name))
        with torch.no_grad():
            mel = model.decode_mel(z, labels)
            signal, logit = model.mcnn(mel)
        signal, logit = signal[:, :model.length], logit[:, :model.length]
        variants = [signal * (logit > 0), signal * torch.sigmoid(logit), signal]
        medians = [np.median([tick_rate(x, sr) for x in v.clamp(-1, 1).numpy()]) for v in variants]
        print(f"| {name} | " + " | ".join(f"{m:.1f}" for m in medians) + " |")


if __name__ == "__main__":
    main()
