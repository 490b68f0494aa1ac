"""Where a style release's ticks come from: ticks per second (the report's ``listener.tick_rate``, median of 64
hits a class from seeds 0, 1, 2) with its learned noise inputs as trained and turned off (``set_noise(0)``).

usage: python scripts/style_noise_ticks.py [MODEL]   (default: the shipped style)
"""
import sys

import numpy as np
import torch

from drumsynth.inference.session import Session
from drumsynth.metrics.listener import tick_rate

N_HITS = 64


def main() -> None:
    session = Session.load(sys.argv[1] if len(sys.argv) > 1 else "style")
    model = session.model
    for amount in (1.0, 0.0):
        model.set_noise(amount)
        rates = []
        for k, cls in enumerate(session.classes):
            z = model.sample_latent(N_HITS, torch.Generator().manual_seed(k))
            hits = model.generate(z, session.class_weights(cls, N_HITS)).numpy()
            rates.append(f"{cls} {np.median([tick_rate(h, model.sample_rate) for h in hits]):.0f}")
        print(f"noise amount {amount}: ticks/s " + ", ".join(rates))


if __name__ == "__main__":
    main()
