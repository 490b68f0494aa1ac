"""Where ndm's distance to the real kits comes from: Table 1's FAD for the train split's own sounds
through each stage of the model (docs/ndm.md, "Where the FAD gap comes from").

Every row scores the 3-class train sounds (kick, snare, cymbal; 1 s at 44.1 kHz as in Table 1) against the
real test kits, as the "real data" row of ``drumsynth evaluate`` does, after:

- nothing (the real train sounds: the "real data" row itself);
- Griffin-Lim on their own mel (what the mel keeps);
- the MCNN on their own mel (the inverter's share);
- encode -> decode with their class -> MCNN (the CWAE's reconstruction added);

so that the generated hits' FAD (202 for the session-10 release) splits into what the inverter, the
CWAE's reconstruction and the prior each add.

usage: python scripts/ndm_fad_sources.py [MODEL] [STAGES]   (default: the shipped ndm, every stage; run from
       the repository root with the corpus cache in data/corpus; it renders and embeds the train split once a
       stage). STAGES is a comma-separated subset of real, griffin_lim, mcnn, chain: an inverter candidate
       changes only the last two.
"""
import sys

import numpy as np
import torch
from torch.nn import functional as F

from drumsynth.checkpoint import load_checkpoint
from drumsynth.data.cache import load_cache
from drumsynth.data.taxonomy import CLASSES
from drumsynth.metrics.aisfx_embedding import AisfxEmbedder
from drumsynth.metrics.classifier import load_classifier
from drumsynth.metrics.report import SoundSet, compute_features, distribution_row, real_set
from drumsynth.models import family_module

CHUNK = 16
N_BOOT = 200


def rendered(fn, waves: np.ndarray, labels: torch.Tensor, length: int) -> np.ndarray:
    """``fn(wave Tensor[B, length], labels Tensor[B, C])`` over the sounds in chunks, cut back to their
    own length: np.ndarray[N, T]."""
    out = []
    with torch.no_grad():
        for i in range(0, len(waves), CHUNK):
            batch = torch.from_numpy(np.ascontiguousarray(waves[i:i + CHUNK]))
            batch = F.pad(batch, (0, max(0, length - batch.shape[-1])))[:, :length]
            out.append(fn(batch, labels[i:i + CHUNK])[:, :waves.shape[-1]].numpy())
    return np.concatenate(out)


def main() -> None:
    path = sys.argv[1] if len(sys.argv) > 1 else "src/drumsynth/pretrained/ndm.pt"
    model = family_module("ndm").load_model(load_checkpoint(path))
    cache = load_cache("data/corpus")
    train, test = real_set(cache, "train"), real_set(cache, "test")
    assert train.sr == model.sample_rate, "the script compares at the model's rate (44.1 kHz)"
    # The model's own (8-class) label of each sound, in real_set's order (the cache's 3-class indices).
    names = [cache.records[i]["label"] for i in cache.indices("train", three_class=True)]
    labels = F.one_hot(torch.tensor([CLASSES.index(c) for c in names]), len(CLASSES)).float()
    renderers = {
        "real": ("real train sounds", None),
        "griffin_lim": ("Griffin-Lim on their mel", lambda w, lab: model.invert(model.mel(w), method="griffin_lim")),
        "mcnn": ("MCNN on their mel", lambda w, lab: model.invert(model.mel(w))),
        "chain": ("encode -> decode -> MCNN", lambda w, lab: model.reconstruct(w, lab)),
    }
    chosen = sys.argv[2].split(",") if len(sys.argv) > 2 else list(renderers)
    unknown = set(chosen) - set(renderers)
    assert not unknown, f"unknown stages {sorted(unknown)}: choose from {list(renderers)}"
    stages = {renderers[key][0]: train.waves if renderers[key][1] is None
              else rendered(renderers[key][1], train.waves, labels, model.length) for key in chosen}
    print_table(path, "stage", stages, train, test)


def print_table(path: str, title: str, rows: dict, train: SoundSet, test: SoundSet) -> None:
    """One markdown row per set of sounds in ``rows`` ({name: np.ndarray[N, T]}, in ``train``'s order, so
    ``train.labels`` label them), scored against ``test`` as Table 1's "real data" row is."""
    classifier, aisfx = load_classifier(None), AisfxEmbedder()
    reference = compute_features(test, classifier, aisfx)
    print(f"{path}: {len(train.waves)} train sounds against {len(test.waves)} test-kit sounds (3-class view, 1 s)")
    print(f"| {title} | FAD_aisfx | FAD_clf | KID_clf | class agreement |")
    print("|---|---|---|---|---|")
    for name, waves in rows.items():
        sounds = SoundSet(name=name, waves=np.asarray(waves, dtype=np.float32), sr=train.sr, labels=train.labels)
        row = distribution_row(name, compute_features(sounds, classifier, aisfx), reference, seed=0, n_boot=N_BOOT)
        print(f"| {name} | {row['fad_aisfx']:.1f} [{row['fad_aisfx_ci'][0]:.1f}, {row['fad_aisfx_ci'][1]:.1f}] | "
              f"{row['fad_clf']:.2f} [{row['fad_clf_ci'][0]:.2f}, {row['fad_clf_ci'][1]:.2f}] | "
              f"{row['kid_clf']:.3f} | {row['class_agreement']:.3f} |", flush=True)

if __name__ == "__main__":
    main()
