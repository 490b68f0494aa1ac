"""The fine-tuning benchmark of BENCHMARKS.md: one corpus kit plays "my kit".

``hydrogen/BJA_Pacific`` (72 sounds in six classes) is in the corpus's valid split, so the shipped ndm
never trained on it. This script splits it deterministically, per class in velocity-layer order:

- ``prepare``: ``OUT/kit`` — the producer's prepared folder: 40 files, of which one per class is in
  ``valid`` (34 train, 6 valid), as ``drumsynth prepare`` lays a small kit out; ``OUT/heldout`` — the
  other 32 files (split ``test``), which no run sees. Both are written with ``write_cache`` and are the
  same on every run.
- ``score MODEL ...``: generates hits of every class the held-out files have, 8 per held-out file (the
  same class mix), and scores them against the held-out files with the evaluation classifier: FAD_clf
  (Fréchet distance of its embeddings, as in ``drumsynth evaluate``), class agreement in the 8-class and
  the 3-class view (toms have no 3-class label and are left out of the latter). Two real rows bound the
  scale: the kit's own 40 files and 256 corpus train sounds of the same classes, each against the
  held-out files.

Usage::

    .venv/bin/python scripts/finetune_benchmark.py prepare --corpus data/corpus --out runs/finetune-bench
    .venv/bin/python scripts/finetune_benchmark.py score --out runs/finetune-bench ndm RUN/best.pt ...
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import torch

KIT = "hydrogen/BJA_Pacific"
HELD_OUT = 32           # of the kit's 72 files
PER_HELD_OUT_FILE = 8   # generated hits per held-out file
SEED = 0


def split_kit(records: list[dict]) -> dict[str, str]:
    """{record id: "train" | "valid" | "test"} for the kit's records (see the module docstring).

    Per class, in id order (the velocity layers): ``round(n * 32 / 72)`` files evenly spaced over the
    layers are held out ("test"), and the middle one of the rest is the class's valid file.
    """
    by_class: dict[str, list[dict]] = {}
    for r in sorted(records, key=lambda r: r["id"]):
        by_class.setdefault(r["label"], []).append(r)
    total = len(records)
    out = {}
    for items in by_class.values():
        k = round(len(items) * HELD_OUT / total)
        held = set(np.linspace(0, len(items) - 1, k).round().astype(int).tolist()) if k else set()
        rest = [r for i, r in enumerate(items) if i not in held]
        for i in held:
            out[items[i]["id"]] = "test"
        for j, r in enumerate(rest):
            out[r["id"]] = "valid" if j == len(rest) // 2 else "train"
    return out


def prepare(corpus: Path, out: Path) -> None:
    from drumsynth.data.cache import load_cache, write_cache

    cache = load_cache(corpus)
    index = [i for i, r in enumerate(cache.records) if r["kit"] == KIT]
    if not index:
        sys.exit(f"{corpus} holds no sounds of {KIT}")
    splits = split_kit([cache.records[i] for i in index])
    kit, held = [], []
    for i in index:
        record = {**cache.records[i], "split": splits[cache.records[i]["id"]]}
        (held if record["split"] == "test" else kit).append((record, np.asarray(cache.wave(i))))
    info = {"benchmark": f"scripts/finetune_benchmark.py: {KIT} from {corpus}"}
    for name, items in (("kit", kit), ("heldout", held)):
        write_cache(out / name, [r for r, _ in items], [w for _, w in items], extra_info=info)
        counts = Counter((r["split"], r["label"]) for r, _ in items)
        print(f"{out / name}: {len(items)} sounds {dict(sorted(counts.items()))}")


def _fit(waves: np.ndarray, sr: int) -> np.ndarray:
    from drumsynth.audio.dsp import trim_or_pad
    from drumsynth.audio.resample import resample
    from drumsynth.metrics.report import EVAL_LENGTH, EVAL_SR

    return np.stack([trim_or_pad(resample(w, sr, EVAL_SR), EVAL_LENGTH) for w in waves]).astype(np.float32)


def _real(cache, indices: list[int]) -> np.ndarray:
    return _fit([np.asarray(cache.wave(i)) for i in indices], cache.sr)


def _row(name: str, waves: np.ndarray, labels: list[str], reference, classifier) -> dict:
    from drumsynth.data.taxonomy import CLASSES, CLASSES3, TO_CLASS3
    from drumsynth.metrics.distribution import frechet_distance
    from drumsynth.metrics.report import EVAL_SR

    x = torch.from_numpy(waves)
    emb = classifier.embed(x, EVAL_SR).numpy()
    p8 = classifier.probs8(x, EVAL_SR).argmax(1).tolist()
    p3 = classifier.probs3(x, EVAL_SR).argmax(1).tolist()
    agree8 = float(np.mean([CLASSES[p] == want for p, want in zip(p8, labels, strict=True)]))
    three = [(CLASSES3[p], TO_CLASS3[want]) for p, want in zip(p3, labels, strict=True) if TO_CLASS3[want]]
    agree3 = float(np.mean([p == want for p, want in three]))
    return {"system": name, "n": len(labels), "fad_clf": frechet_distance(emb, reference),
            "class_agreement8": agree8, "class_agreement3": agree3}


def score(out: Path, models: list[str], corpus: Path, seed: int = SEED) -> list[dict]:
    from drumsynth.data.cache import load_cache
    from drumsynth.inference.session import Session
    from drumsynth.metrics.classifier import load_classifier
    from drumsynth.metrics.report import EVAL_SR

    torch.set_num_threads(1)
    classifier = load_classifier()
    held = load_cache(out / "heldout")
    kit = load_cache(out / "kit")
    held_labels = [r["label"] for r in held.records]
    reference = classifier.embed(torch.from_numpy(_real(held, list(range(len(held))))), EVAL_SR).numpy()
    rows = [_row("real: the kit's 40 prepared files", _real(kit, list(range(len(kit)))),
                 [r["label"] for r in kit.records], reference, classifier)]
    counts = Counter(held_labels)
    corpus_cache = load_cache(corpus)
    rng = np.random.default_rng(seed)
    picks, labels = [], []
    for label, n in sorted(counts.items()):
        pool = [i for i in corpus_cache.indices("train") if corpus_cache.records[i]["label"] == label]
        chosen = rng.choice(pool, size=min(len(pool), n * PER_HELD_OUT_FILE), replace=False)
        picks += chosen.tolist()
        labels += [label] * len(chosen)
    rows.append(_row("real: corpus train sounds, same classes", _real(corpus_cache, picks), labels, reference,
                     classifier))
    for spec in models:
        session = Session.load(spec)
        waves, labels = [], []
        for k, (label, n) in enumerate(sorted(counts.items())):
            render = session.generate(label, n=n * PER_HELD_OUT_FILE, seed=seed + 100 * k)
            waves.append(_fit(render.waves, render.sample_rate))
            labels += [label] * (n * PER_HELD_OUT_FILE)
        rows.append(_row(spec, np.concatenate(waves), labels, reference, classifier))
    for row in rows:
        print(f"| {row['system']} | {row['n']} | {row['fad_clf']:.2f} | {row['class_agreement8']:.3f} | "
              f"{row['class_agreement3']:.3f} |")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="verb", required=True)
    p = sub.add_parser("prepare", help="build OUT/kit and OUT/heldout from the corpus")
    p.add_argument("--corpus", type=Path, default=Path("data/corpus"))
    p.add_argument("--out", type=Path, default=Path("runs/finetune-bench"))
    s = sub.add_parser("score", help="FAD_clf and class agreement against the held-out files")
    s.add_argument("--corpus", type=Path, default=Path("data/corpus"))
    s.add_argument("--out", type=Path, default=Path("runs/finetune-bench"))
    s.add_argument("--json", type=Path, help="also write the rows here")
    s.add_argument("--seed", type=int, default=SEED, help="seed of the generated hits and the corpus rows")
    s.add_argument("models", nargs="+", help="shipped family ids or checkpoint files")
    args = parser.parse_args(argv)
    if args.verb == "prepare":
        prepare(args.corpus, args.out)
        return 0
    rows = score(args.out, args.models, args.corpus, args.seed)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
