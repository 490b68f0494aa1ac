"""The ndm MCNN inverter alone, on the real mels of a split (docs/ndm.md, "The MCNN continuation").

Per class, the MCNN's rendering of each real clip's own mel against the clip: ticks per second and energy
above 11 kHz (drumsynth.metrics.listener, the report's listener metrics), and the log-spectral distance
(the Table 2 LSD). Then, over the whole split, where Table 2's LSD comes from: the MCNN on the real mel,
the whole chain (encode -> decode with the clip's class -> MCNN), and Griffin-Lim on the real mel (32
iterations: what the mel itself allows).

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
from drumsynth.metrics.reconstruction import lsd_per_clip
from drumsynth.models import family_module
from drumsynth.models.ndm import features as feats
from drumsynth.models.ndm.config import Config

CHUNK = 16


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


if __name__ == "__main__":
    main()
