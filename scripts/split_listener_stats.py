"""Listener metrics of the corpus's own recordings, split by split (docs/evaluation.md's definitions).

Issue 14 judges generated hits against the test kits; a model learns the train kits. Where the two differ
(how bright the hats are, how long the kicks ring), a faithful model misses the test-kit figure. Per class
and split: median (interquartile range) of the energy above 11 kHz and of the decay to -40 dB, the whole
recording at the cache's rate (44.1 kHz for the corpus).

usage: python scripts/split_listener_stats.py [CACHE]   (default data/corpus)
"""
import sys

import numpy as np

from drumsynth.data.cache import SPLITS, load_cache
from drumsynth.data.taxonomy import CLASSES
from drumsynth.metrics.listener import decay_time, high_band_share


def spread(values: list[float], scale: float = 1.0, digits: int = 2) -> str:
    """'median (q25–q75)' of ``values`` times ``scale``."""
    q25, q50, q75 = (scale * np.percentile(values, q) for q in (25, 50, 75))
    return f"{q50:.{digits}f} ({q25:.{digits}f}–{q75:.{digits}f})"


def main() -> None:
    cache = load_cache(sys.argv[1] if len(sys.argv) > 1 else "data/corpus")
    sr = cache.sr
    print("| class | split | n | energy > 11 kHz (%) | decay to −40 dB (s) |")
    print("|---|---|---|---|---|")
    for label in CLASSES:
        for split in SPLITS:
            rows = [i for i in cache.indices(split) if cache.records[i]["label"] == label]
            if not rows:
                continue
            waves = [cache.wave(i) for i in rows]
            high = [high_band_share(w, sr) for w in waves]
            decay = [decay_time(w, sr)[0] for w in waves]
            print(f"| {label} | {split} | {len(rows)} | {spread(high, 100, 1)} | {spread(decay)} |")


if __name__ == "__main__":
    main()
