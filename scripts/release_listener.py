"""The listener metrics of a release or checkpoint, class by class, in seconds rather than evaluate's minutes.

A mid-run check: does a training run's current generator end its hits? For each class, 64 hits from seed 0
(``Session.generate``), and per metric of ``drumsynth.metrics.listener`` the median over the hits (for
``still_sounding`` the share of hits cut while still sounding). ``drumsynth evaluate`` prints the same
metrics beside the real test kits, with Tables 1 and 2 (wavegan's Table 2 inverts every sound: minutes).

    .venv/bin/python scripts/release_listener.py runs/wavegan-s19-envelope/release.pt [MORE ...]
"""

from __future__ import annotations

import argparse

import numpy as np

from drumsynth import Session
from drumsynth.metrics.listener import hit_metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="release or checkpoint files, or shipped model ids")
    parser.add_argument("-n", type=int, default=64, help="hits per class (default 64)")
    args = parser.parse_args()
    for name in args.models:
        session = Session.load(name)
        print(session.label)
        for cls in session.classes:
            values = hit_metrics(list(session.generate(cls, n=args.n, seed=0).waves), session.model.sample_rate)
            summary = {k: float(np.mean(v) if k == "still_sounding" else np.median(v)) for k, v in values.items()}
            print(f"  {cls:8s} " + "  ".join(f"{k} {v:.3g}" for k, v in summary.items()))


if __name__ == "__main__":
    main()
