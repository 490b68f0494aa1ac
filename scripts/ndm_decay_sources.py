"""Where ndm's hits get their length: the listener metrics (decay to -40 dB, energy above 11 kHz) of real
sounds after each stage of the model, per class (docs/ndm.md, "Where the distance to the real kits comes
from").

For the sounds of a split (8-class labels, the model's own length), the median per class of:

- the sounds themselves;
- Griffin-Lim on their mel (what the mel keeps);
- the MCNN on their mel (what the inverter adds);
- encode -> decode with their class -> Griffin-Lim (what the CWAE's round trip adds, without the MCNN);
- encode -> decode -> MCNN (the whole round trip, Table 2's reconstruction).

usage: python scripts/ndm_decay_sources.py [MODEL] [SPLIT]   (default: the shipped ndm, valid; run from the
       repository root with the corpus cache in data/corpus)
"""
import sys

import numpy as np
import torch
from torch.nn import functional as F

from drumsynth.checkpoint import load_checkpoint
from drumsynth.data.cache import load_cache
from drumsynth.data.taxonomy import CLASSES
from drumsynth.metrics.listener import hit_metrics, summarise
from drumsynth.models import family_module

CHUNK = 16


def main() -> None:
    path = sys.argv[1] if len(sys.argv) > 1 else "src/drumsynth/pretrained/ndm.pt"
    split = sys.argv[2] if len(sys.argv) > 2 else "valid"
    model = family_module("ndm").load_model(load_checkpoint(path))
    cache = load_cache("data/corpus")
    assert cache.sr == model.sample_rate, "the script measures at the model's rate (44.1 kHz)"
    indices = cache.indices(split)
    names = [cache.records[i]["label"] for i in indices]
    waves = torch.stack([F.pad(torch.from_numpy(np.array(cache.wave(i), dtype=np.float32)),
                               (0, model.length))[:model.length] for i in indices])
    labels = F.one_hot(torch.tensor([CLASSES.index(c) for c in names]), len(CLASSES)).float()

    def decoded(w: torch.Tensor, lab: torch.Tensor) -> torch.Tensor:
        return model.decode_mel(model.encode(w, lab), lab)

    stages = {
        "sounds": lambda w, lab: w,
        "Griffin-Lim on their mel": lambda w, lab: model.invert(model.mel(w), method="griffin_lim"),
        "MCNN on their mel": lambda w, lab: model.invert(model.mel(w)),
        "encode -> decode -> Griffin-Lim": lambda w, lab: model.invert(decoded(w, lab), method="griffin_lim"),
        "encode -> decode -> MCNN": lambda w, lab: model.invert(decoded(w, lab)),
    }
    print(f"{path}: the {len(indices)} {split} sounds, median per class (energy > 11 kHz % / decay to -40 dB s)")
    present = [c for c in CLASSES if c in names]
    print("| stage | " + " | ".join(present) + " |")
    print("|---" * (len(present) + 1) + "|")
    for name, fn in stages.items():
        with torch.no_grad():
            out = torch.cat([fn(waves[i:i + CHUNK], labels[i:i + CHUNK]) for i in range(0, len(waves), CHUNK)])
        per_class = summarise(hit_metrics(list(out.numpy()), model.sample_rate), names)
        cells = [f"{100 * per_class[c]['high_band_share'][1]:.1f} / {per_class[c]['decay_time'][1]:.2f}"
                 for c in present]
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
