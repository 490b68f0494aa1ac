"""The comparison report of ``drumsynth evaluate``: the seeds' Table 1 and Table 2 on our corpus.

Table 1 (IS, KID, FAD) compares sets of sounds with the real test kits: the "real data" row is the held-out
test kits against the train split (how far apart two sets of real drums are), each model row is its
generated hits against the test kits. Everything is scored in the 3-class view (kick, snare, cymbal) that
the seed models are conditioned on, so IS has a ceiling of 3. Features come from two independent nets:
our drum classifier's penultimate layer (``_clf``) and the pretrained aisfx sound-effects CNN (``_aisfx``).

Table 2 (DI, ODG, MSE, LSD, SNR) scores an encoder: each reference sound against its encode → decode
reconstruction, on generated, train-kit and test-kit sounds.
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from drumsynth.data.cache import Cache
from drumsynth.data.dataset import DrumDataset
from drumsynth.data.taxonomy import CLASSES3, TO_CLASS3
from drumsynth.errors import DrumsynthError
from drumsynth.metrics.distribution import (
    frechet_distance,
    inception_score,
    kernel_inception_distance,
    standardise,
)

EVAL_SR = 44100
EVAL_LENGTH = 44100  # 1 s: every family's output fits, shorter ones are zero-padded


@dataclass
class SoundSet:
    """Sounds to score: np.ndarray[N, T] at ``sr``, with the 3-class label each was generated or filed as."""

    name: str
    waves: np.ndarray
    sr: int
    labels: list[str]


@dataclass
class Reconstructions:
    """Pairs for Table 2: references and their reconstructions, np.ndarray[N, T] at ``sr``."""

    system: str
    subset: str  # "gen", "train" or "test"
    references: np.ndarray
    reconstructions: np.ndarray
    sr: int


@dataclass
class Features:
    """Classifier probabilities [N, 3], classifier embeddings [N, D] and aisfx embeddings [N, D']."""

    probs3: np.ndarray
    clf: np.ndarray
    aisfx: np.ndarray | None
    labels: list[str] = field(default_factory=list)


def real_set(cache: Cache, split: str, *, max_items: int | None = None) -> SoundSet:
    """A split of the cache in the 3-class view, 1 s at 44.1 kHz."""
    ds = DrumDataset(cache, split, sr=EVAL_SR, length=EVAL_LENGTH, three_class=True, fade_out=441,
                     max_items=max_items)
    return SoundSet(name=f"real/{split}", waves=ds.waves[:, 0].numpy(), sr=EVAL_SR,
                    labels=[CLASSES3[i] for i in ds.labels.tolist()])


def compute_features(sounds: SoundSet, classifier, aisfx) -> Features:
    """Run both embedding nets (``aisfx`` may be None when the package is absent)."""
    waves = torch.from_numpy(np.ascontiguousarray(sounds.waves, dtype=np.float32))
    probs3 = classifier.probs3(waves, sounds.sr).numpy()
    clf = classifier.embed(waves, sounds.sr).numpy()
    emb = aisfx.embed(sounds.waves, sounds.sr) if aisfx is not None else None
    return Features(probs3=probs3, clf=clf, aisfx=emb, labels=sounds.labels)


def distribution_row(name: str, feats: Features, reference: Features, *, seed: int,
                     kid_subsets: int = 100) -> dict[str, Any]:
    """IS of ``feats`` and KID/FAD of ``feats`` against ``reference`` on both embeddings."""
    subset = min(len(feats.clf), len(reference.clf), 100)
    row: dict[str, Any] = {"system": name, "n": len(feats.clf), "n_reference": len(reference.clf)}
    row["is"], row["is_std"] = inception_score(feats.probs3, n_splits=1)
    row["kid_clf"], row["kid_clf_std"] = kernel_inception_distance(
        feats.clf, reference.clf, subset_size=subset, n_subsets=kid_subsets, seed=seed)
    row["fad_clf"] = frechet_distance(feats.clf, reference.clf)
    if feats.aisfx is not None and reference.aisfx is not None:
        a, b = standardise(feats.aisfx, reference.aisfx)
        row["kid_aisfx"], row["kid_aisfx_std"] = kernel_inception_distance(
            a, b, subset_size=subset, n_subsets=kid_subsets, seed=seed)
        row["fad_aisfx"] = frechet_distance(feats.aisfx, reference.aisfx)
    predicted = [CLASSES3[i] for i in feats.probs3.argmax(axis=1)]
    row["class_agreement"] = float(np.mean([p == w for p, w in zip(predicted, feats.labels, strict=True)]))
    row["judged_as"] = judged_as(predicted, feats.labels)
    row["n_per_class"] = {c: feats.labels.count(c) for c in row["judged_as"]}
    return row


def judged_as(predicted: list[str], wanted: list[str]) -> dict[str, dict[str, float]]:
    """Share of each wanted class that the classifier judged as each class (rows sum to 1):
    ``{wanted: {judged: share}}`` over the wanted classes present, in ``CLASSES3`` order."""
    shares = {}
    for want in [c for c in CLASSES3 if c in wanted]:
        judged = [p for p, w in zip(predicted, wanted, strict=True) if w == want]
        shares[want] = {c: judged.count(c) / len(judged) for c in CLASSES3}
    return shares


def reconstruction_row(rec: Reconstructions) -> dict[str, Any]:
    """Table 2 metrics, each a mean over the pairs (PEAQ at 48 kHz, as the standard wants)."""
    from drumsynth.metrics.peaq import peaq
    from drumsynth.metrics.reconstruction import lsd_db, mse, snr_db

    ref = torch.from_numpy(np.ascontiguousarray(rec.references, dtype=np.float32))
    out = torch.from_numpy(np.ascontiguousarray(rec.reconstructions, dtype=np.float32))
    quality = [peaq(r, o, rec.sr) for r, o in zip(rec.references, rec.reconstructions, strict=True)]
    return {"system": rec.system, "subset": rec.subset, "n": len(ref),
            "di": float(np.mean([q.di for q in quality])), "odg": float(np.mean([q.odg for q in quality])),
            "mse": float(mse(ref, out)), "lsd": float(lsd_db(ref, out)), "snr": float(snr_db(ref, out))}


def _fit(waves: np.ndarray, sr: int) -> np.ndarray:
    """np.ndarray[N, T] at ``sr`` -> np.ndarray[N, EVAL_LENGTH] at ``EVAL_SR`` (resampled, cut or zero-padded)."""
    from drumsynth.audio.dsp import trim_or_pad
    from drumsynth.audio.resample import resample

    return np.stack([trim_or_pad(resample(w, sr, EVAL_SR), EVAL_LENGTH) for w in waves])


def model_sounds(session, *, n_per_class: int = 64, seed: int = 0) -> SoundSet:
    """Hits of a model for each 3-class name it knows (kick, snare, cymbal), at 44.1 kHz, 1 s."""
    waves, labels = [], []
    for i, cls in enumerate(CLASSES3):
        if cls not in session.classes:
            continue
        render = session.generate(cls, n=n_per_class, seed=seed + i)
        waves.append(_fit(render.waves, render.sample_rate))
        labels += [cls] * n_per_class
    if not waves:
        raise DrumsynthError(f"model {session.checkpoint} knows none of the classes {list(CLASSES3)}")
    return SoundSet(name=session.label, waves=np.concatenate(waves),
                    sr=EVAL_SR, labels=labels)


def model_reconstructions(session, cache: Cache, *, n_max: int = 64, seed: int = 0) -> list[Reconstructions]:
    """Encode → decode pairs of a model with an encoder on generated, train-kit and test-kit sounds."""
    model = session.model
    probe = session.generate(session.classes[0], n=1, seed=seed)
    length, sr = probe.waves.shape[-1], probe.sample_rate
    try:
        model.encode(torch.from_numpy(probe.waves), probe.labels)
    except DrumsynthError:
        return []  # no encoder: nothing for Table 2
    out = []
    gen = [session.generate(cls, n=max(1, n_max // len(CLASSES3)), seed=seed + 100 + i)
           for i, cls in enumerate(CLASSES3) if cls in session.classes]
    gen_waves = np.concatenate([g.waves for g in gen])
    gen_labels = torch.cat([g.labels for g in gen])
    out.append(_reconstruct(session, "gen", gen_waves, gen_labels, sr))
    for split in ("train", "test"):
        ds = DrumDataset(cache, split, sr=sr, length=length, fade_out=64)
        rows, weights = [], []
        for k, label in enumerate(ds.classes[i] for i in ds.labels.tolist()):
            name = label if label in session.classes else TO_CLASS3[label]
            if name in session.classes:
                rows.append(k)
                weights.append(session.class_weights(name, 1)[0].cpu())
        # An even spread over the split rather than its first kit.
        picks = np.linspace(0, len(rows) - 1, min(n_max, len(rows))).round().astype(int)
        waves = ds.waves[[rows[p] for p in picks], 0].numpy()
        out.append(_reconstruct(session, split, waves, torch.stack([weights[p] for p in picks]), sr))
    return out


def _reconstruct(session, subset: str, waves: np.ndarray, labels: torch.Tensor, sr: int) -> Reconstructions:
    with torch.no_grad():
        x = torch.from_numpy(np.ascontiguousarray(waves, dtype=np.float32)).to(session.device)
        labels = labels.to(session.device)
        model = session.model
        # A model's own round trip where it has one: DrumGAN's encoder also estimates the class
        # weights (the seed's E -> (z, c)), so it decodes with its estimate, not the corpus label.
        if callable(getattr(model, "reconstruct", None)):
            recon = model.reconstruct(x, labels).cpu().numpy()
        else:
            recon = model.generate(model.encode(x, labels), labels).cpu().numpy()
    return Reconstructions(system=session.label, subset=subset, references=waves, reconstructions=recon, sr=sr)


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"
    return str(value)


def render_markdown(report: dict[str, Any]) -> str:
    """The report as Markdown: provenance, classifier accuracy, Table 1, class agreement, Table 2."""
    lines = ["# drumsynth evaluation report", ""]
    meta = report["meta"]
    lines += [f"- corpus: `{meta['cache']}` ({meta['n_train']} train / {meta['n_test']} test-kit sounds, "
              "3-class view)",
              f"- seed {meta['seed']}; KID over {meta['kid_subsets']} subsets of at most 100; "
              "features: drum classifier (`_clf`), aisfx (`_aisfx`)",
              f"- classifier accuracy on the held-out test kits: 3-class {_fmt(meta['classifier_acc3'])}, "
              f"8-class {_fmt(meta['classifier_acc8'])}",
              f"- machine: {meta['machine']}", ""]
    lines += ["## Table 1: IS, KID, FAD against the test kits", "",
              "| system | n | IS ↑ | KID_clf ↓ | FAD_clf ↓ | KID_aisfx ↓ | FAD_aisfx ↓ | class agreement |",
              "|---|---|---|---|---|---|---|---|"]
    for row in report["table1"]:
        lines.append(f"| {row['system']} | {row['n']} | {_fmt(row['is'])} | {_fmt(row['kid_clf'], 4)} | "
                     f"{_fmt(row['fad_clf'])} | {_fmt(row.get('kid_aisfx'), 4)} | {_fmt(row.get('fad_aisfx'))} | "
                     f"{_fmt(row['class_agreement'])} |")
    lines += ["", "## Class agreement per class: share of each class judged as each class", "",
              "| system | class | n | " + " | ".join(f"→ {c}" for c in CLASSES3) + " |",
              "|---|---|---|" + "---|" * len(CLASSES3)]
    for row in report["table1"]:
        for want, shares in row.get("judged_as", {}).items():
            lines.append(f"| {row['system']} | {want} | {row['n_per_class'][want]} | "
                         + " | ".join(_fmt(shares[c]) for c in CLASSES3) + " |")
    lines += ["", "## Table 2: encoder reconstruction (encode → decode)", ""]
    if report["table2"]:
        lines += ["| system | subset | n | DI ↑ | ODG ↑ | MSE ↓ | LSD (dB) ↓ | SNR (dB) ↑ |",
                  "|---|---|---|---|---|---|---|---|"]
        for row in report["table2"]:
            lines.append(f"| {row['system']} | {row['subset']} | {row['n']} | {_fmt(row['di'])} | "
                         f"{_fmt(row['odg'])} | {_fmt(row['mse'], 4)} | {_fmt(row['lsd'])} | {_fmt(row['snr'])} |")
    else:
        lines.append("No system with an encoder was evaluated.")
    lines += ["", f"Spectrogram sheet: `{meta['sheet']}`", ""]
    return "\n".join(lines)


def classifier_accuracy(classifier, cache: Cache, split: str = "test") -> tuple[float, float]:
    """(3-class, 8-class) accuracy of ``classifier`` on a split of the cache."""
    ds8 = DrumDataset(cache, split, sr=EVAL_SR, length=EVAL_LENGTH, fade_out=441)
    ds3 = DrumDataset(cache, split, sr=EVAL_SR, length=EVAL_LENGTH, three_class=True, fade_out=441)
    acc8 = float((classifier.probs8(ds8.waves[:, 0], EVAL_SR).argmax(1) == ds8.labels).float().mean())
    acc3 = float((classifier.probs3(ds3.waves[:, 0], EVAL_SR).argmax(1) == ds3.labels).float().mean())
    return acc3, acc8


def evaluate(cache: Cache, out_dir: str | Path, *, classifier, aisfx=None, generated: list[SoundSet] = (),
             reconstructions: list[Reconstructions] = (), seed: int = 0, kid_subsets: int = 100
             ) -> dict[str, Any]:
    """Score the real data and every given system; write report.md, report.json and sheet.png."""
    from drumsynth.metrics.sheet import spectrogram_sheet

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    train, test = real_set(cache, "train"), real_set(cache, "test")
    ref = compute_features(test, classifier, aisfx)
    table1 = [distribution_row("real data (test kits vs train)", ref, compute_features(train, classifier, aisfx),
                               seed=seed, kid_subsets=kid_subsets)]
    for sounds in generated:
        table1.append(distribution_row(sounds.name, compute_features(sounds, classifier, aisfx), ref, seed=seed,
                                       kid_subsets=kid_subsets))
    table2 = [reconstruction_row(rec) for rec in reconstructions]
    rows: dict[str, list[np.ndarray]] = {}
    for sounds in [test, *generated]:
        for cls in CLASSES3:
            picks = [w for w, lab in zip(sounds.waves, sounds.labels, strict=True) if lab == cls][:6]
            if picks:
                rows[f"{sounds.name} {cls}"] = picks
    sheet = spectrogram_sheet(rows, EVAL_SR, out_dir / "sheet.png", title="drumsynth: hits per system and class")
    acc3, acc8 = classifier_accuracy(classifier, cache)
    report = {"meta": {"cache": str(cache.root), "n_train": len(train.waves), "n_test": len(test.waves),
                       "seed": seed, "kid_subsets": kid_subsets, "classifier_acc3": acc3, "classifier_acc8": acc8,
                       "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads",
                       "sheet": str(sheet)},
              "table1": table1, "table2": table2}
    (out_dir / "report.json").write_text(json.dumps(report, indent=2, default=float) + "\n")
    (out_dir / "report.md").write_text(render_markdown(report))
    return report
