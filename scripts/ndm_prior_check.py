"""How ndm's latent draws shape its hits: Table 1 and the listener medians of the same model with codes drawn
from other densities fitted to the same training codes (docs/ndm.md, "Where the distance to the real kits
comes from").

Every variant draws 64 hits per class (the seeds ``drumsynth evaluate`` uses) and renders them through the
Session, as ``evaluate`` does; only the codes differ:

- ``class``: the release's per-class Gaussians (what ships);
- ``class x t``: the same Gaussians with their spread scaled by t (a sampling temperature);
- ``kde h``: a random training recording of the class, its code moved by h times the class Gaussian's spread
  (a kernel density over the recordings; h = 0 decodes their own codes, the reconstructions);
- ``gmm k``: a k-component Gaussian mixture per class fitted to the recordings' codes (diagonal covariances,
  sklearn; at most one component per 8 recordings), between the one Gaussian and the kernel density.

usage: python scripts/ndm_prior_check.py [MODEL] [VARIANT ...]   (default: the shipped ndm and
       class, "class x 0.7", "kde 0.5", "kde 0"; run from the repository root with the corpus in data/corpus)
"""
import sys

import numpy as np
import torch

from drumsynth.data.cache import load_cache
from drumsynth.data.taxonomy import CLASSES
from drumsynth.inference.session import Session
from drumsynth.metrics.aisfx_embedding import AisfxEmbedder
from drumsynth.metrics.classifier import load_classifier
from drumsynth.metrics.listener import hit_metrics, summarise
from drumsynth.metrics.report import (
    HitSet,
    agreement,
    compute_features,
    distribution_row,
    model_hits,
    real_set,
    table1_set,
)
from drumsynth.models.ndm import latent_prior

N_PER_CLASS = 64
N_BOOT = 200


def training_codes(session: Session, cache) -> dict[str, torch.Tensor]:
    """The codes of the train split's recordings, per class: {class: Tensor[n, d]}."""
    codes: dict[str, list[torch.Tensor]] = {}
    for i in cache.indices("train"):
        label = cache.records[i]["label"]
        codes.setdefault(label, []).append(session.encode(np.array(cache.wave(i)), cache.sr, label))
    return {c: torch.stack(z) for c, z in codes.items()}


def variant_codes(session: Session, name: str, codes: dict[str, torch.Tensor], cls: str, seed: int) -> torch.Tensor:
    """``N_PER_CLASS`` codes of class ``cls`` under variant ``name``: Tensor[N, d]."""
    generator = torch.Generator().manual_seed(seed)
    model = session.model
    noise = torch.randn(N_PER_CLASS, model.latent_dim, generator=generator)
    gaussian = model.latent_prior["classes"][cls]
    kind, _, value = name.partition(" ")
    if kind == "class":
        t = float(value.removeprefix("x ")) if value else 1.0
        one_hot = torch.zeros(N_PER_CLASS, len(model.classes))
        one_hot[:, model.classes.index(cls)] = 1.0
        return latent_prior.sample(model.latent_prior, model.classes, one_hot, t * noise)
    if kind == "kde":
        pick = torch.randint(len(codes[cls]), (N_PER_CLASS,), generator=generator)
        return codes[cls][pick] + float(value) * noise @ gaussian["scale"].T
    if kind == "gmm":
        from sklearn.mixture import GaussianMixture

        x = codes[cls].double().numpy()
        k = max(1, min(int(value), len(x) // 8))
        mixture = GaussianMixture(k, covariance_type="diag", reg_covar=1e-3, random_state=seed).fit(x)
        return torch.from_numpy(mixture.sample(N_PER_CLASS)[0]).float()
    raise SystemExit(f"unknown variant {name!r}")


def main() -> None:
    path = sys.argv[1] if len(sys.argv) > 1 else "ndm"
    variants = sys.argv[2:] or ["class", "class x 0.7", "kde 0.5", "kde 0"]
    session = Session.load(path)
    assert session.model.sample_rate == 44100, "the variants are scored at the model's rate (44.1 kHz)"
    cache = load_cache("data/corpus")
    codes = training_codes(session, cache)
    classifier, aisfx = load_classifier(None), AisfxEmbedder()
    reference = compute_features(real_set(cache, "test"), classifier, aisfx)
    shipped = model_hits(session, n_per_class=N_PER_CLASS)        # evaluate's own hits, to place the rendering
    print(f"{path}: {N_PER_CLASS} hits a class; train codes per class "
          + ", ".join(f"{c} {len(z)}" for c, z in codes.items()))
    listener_keys = ("high_band_share", "decay_time")
    print("| codes | FAD_aisfx | FAD_clf | KID_clf | agreement (3-class) | "
          + " | ".join(f"{c} >11k % / decay s / agr" for c in CLASSES) + " |")
    for name in ["evaluate's hits", *variants]:
        if name == "evaluate's hits":
            hits = shipped
        else:
            waves, labels = [], []
            for cls in session.trained_classes:
                z = variant_codes(session, name, codes, cls, CLASSES.index(cls))
                render = session.generate(cls, z=z)
                waves += list(render.waves)
                labels += [cls] * N_PER_CLASS
            hits = HitSet(name=name, waves=waves, sr=shipped.sr, labels=labels, classes=shipped.classes)
        row = distribution_row(name, compute_features(table1_set(hits), classifier, aisfx), reference, seed=0,
                               n_boot=N_BOOT)
        per_class = summarise(hit_metrics(hits.waves, hits.sr), hits.labels)
        agree = agreement(classifier, hits)
        cells = []
        for c in CLASSES:
            values = [per_class[c][k][1] for k in listener_keys]       # medians
            cells.append(f"{100 * values[0]:.1f} / {values[1]:.2f} / {agree[c]:.2f}")
        print(f"| {name} | {row['fad_aisfx']:.1f} [{row['fad_aisfx_ci'][0]:.1f}, {row['fad_aisfx_ci'][1]:.1f}] | "
              f"{row['fad_clf']:.2f} [{row['fad_clf_ci'][0]:.2f}, {row['fad_clf_ci'][1]:.2f}] | {row['kid_clf']:.3f} | "
              f"{row['class_agreement']:.3f} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
