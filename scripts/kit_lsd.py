#!/usr/bin/env python3
"""Round-robin spread of a rendered kit against independent hits of the same model (docs/kits.md).

Reads the LSD between round-robin samples from a kit's ``kit.json`` (what ``drumsynth kit`` measured)
and measures, for comparison, the LSD between independent hits of each of the kit's classes (``-n``
prior draws per class, finished like the kit's samples).

    .venv/bin/python scripts/kit_lsd.py KIT_FOLDER [-n 6] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from drumsynth.export.kit import lsd_stats, pairwise_lsd
from drumsynth.inference.session import Session


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kit", type=Path)
    parser.add_argument("-n", type=int, default=6, help="independent hits per class (default 6)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    manifest = json.loads((args.kit / "kit.json").read_text())
    session = Session.load(manifest["checkpoint"])
    classes = sorted({ins["class"] for ins in manifest["instruments"]}, key=session.classes.index)
    independent = []
    for cls in classes:
        render = session.generate(cls, n=args.n, seed=args.seed)
        independent += pairwise_lsd([render.finished(k) for k in range(args.n)])
    rr, ind = manifest["round_robin_lsd_db"], lsd_stats(independent)
    for label, stats in (("round robin", rr), ("independent", ind)):
        print(f"{label:>12}: mean {stats['mean']:.2f} dB, median {stats['median']:.2f}, min {stats['min']:.2f}, "
              f"max {stats['max']:.2f} over {stats['pairs']} pairs")
    print(f"ratio of means: {rr['mean'] / float(np.mean(independent)):.2f}")


if __name__ == "__main__":
    main()
