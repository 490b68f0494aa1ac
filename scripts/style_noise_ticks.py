"""Where a style release's ticks come from: ticks per second (the report's ``listener.tick_rate``, median of 64
hits a class from seeds 0, 1, 2) with its learned noise inputs as released (the fixed realisation stored with
the weights), with fresh noise drawn for every hit, and turned off (``set_noise(0)``).

usage: python scripts/style_noise_ticks.py [MODEL]   (default: the shipped style)
"""
import sys

import numpy as np
import torch

from drumsynth.audio.dsp import peak_normalise
from drumsynth.inference.session import Session
from drumsynth.metrics.listener import tick_rate

N_HITS = 64


def median_ticks(hits: torch.Tensor, sr: int) -> float:
    return float(np.median([tick_rate(h, sr) for h in hits.numpy()]))


def main() -> None:
    session = Session.load(sys.argv[1] if len(sys.argv) > 1 else "style")
    model = session.model
    rows: dict[str, list[str]] = {"as released (fixed noise)": [], "fresh noise for every hit": [], "noise off": []}
    for k, cls in enumerate(session.classes):
        z = model.sample_latent(N_HITS, torch.Generator().manual_seed(k))
        c = session.class_weights(cls, N_HITS)
        model.set_noise(1.0)
        rows["as released (fixed noise)"].append(f"{cls} {median_ticks(model.generate(z, c), model.sample_rate):.0f}")
        with torch.no_grad():
            ws = model.styles(z + model._class_mean(c), c)      # what generate renders, before the synthesis
            fresh = model.generator.synthesis(ws, noise=None, generator=torch.Generator().manual_seed(100 + k))
        rows["fresh noise for every hit"].append(
            f"{cls} {median_ticks(peak_normalise(fresh[:, 0]), model.sample_rate):.0f}")
        model.set_noise(0.0)
        rows["noise off"].append(f"{cls} {median_ticks(model.generate(z, c), model.sample_rate):.0f}")
    model.set_noise(1.0)
    for name, cells in rows.items():
        print(f"{name}: ticks/s " + ", ".join(cells))


if __name__ == "__main__":
    main()
