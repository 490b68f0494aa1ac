"""The comparison report of ``drumsynth evaluate``: the seeds' Table 1 and Table 2 on our corpus, with
bootstrap intervals, and the listener metrics the 3-class tables do not see.

Table 1 (IS, KID, FAD) compares sets of sounds with the real test kits. Three kinds of rows: "real vs
real" scores one random half of the test kits against the other half (the noise floor of each figure at
that size), "real data" scores the test kits against the train split (how far apart two sets of real
kits are), and each model row scores its generated hits against the test kits. Everything is scored in
the 3-class view (kick, snare, cymbal) that the seed models are conditioned on, so IS has a ceiling of 3.
Features come from two independent nets: our drum classifier's penultimate layer (``_clf``) and the
pretrained aisfx sound-effects CNN (``_aisfx``). Every figure carries a 95 % bootstrap interval that
resamples both sets (``drumsynth.metrics.bootstrap``).

The listener table (``drumsynth.metrics.listener``) compares each model's hits of every class it knows,
at their full length, with the real test kits' hits of that class: energy above 11 kHz, decay to -40 dB,
hits cut while still sounding, attack time, ticks per second, and the classifier's agreement with the
requested class beside its own accuracy on the real hits of that class.

Table 2 (DI, ODG, MSE, LSD, SNR) scores an encoder: each reference sound against its encode → decode
reconstruction, on generated, train-kit and test-kit sounds. docs/evaluation.md explains every figure.
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
from drumsynth.data.taxonomy import CLASSES, CLASSES3, TO_CLASS3
from drumsynth.errors import DrumsynthError
from drumsynth.metrics.bootstrap import N_BOOT, bootstrap_intervals
from drumsynth.metrics.distribution import frechet_distance, inception_score, kernel_distance
from drumsynth.metrics.listener import hit_metrics, summarise

EVAL_SR = 44100
EVAL_LENGTH = 44100  # 1 s: every family's output fits, shorter ones are zero-padded
SHEET_HITS = 3       # hits per (class, system) in the sheet


@dataclass
class SoundSet:
    """Sounds to score: np.ndarray[N, T] at ``sr``, with the 3-class label each was generated or filed as."""

    name: str
    waves: np.ndarray
    sr: int
    labels: list[str]


@dataclass
class HitSet:
    """Hits at their full length (np.ndarray[T_i] each, at ``sr``), labelled in the vocabulary ``classes``
    (the 8 classes, or the 3-class view) of the system that made or filed them."""

    name: str
    waves: list[np.ndarray]
    sr: int
    labels: list[str]
    classes: tuple[str, ...]


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


def halves(labels: list[str], *, seed: int = 0) -> tuple[list[int], list[int]]:
    """Two disjoint halves of the rows, drawn at random within each class (seeded): the "real vs real" row."""
    rng = np.random.default_rng(seed)
    arr = np.array(labels)
    out: tuple[list[int], list[int]] = ([], [])
    for cls in dict.fromkeys(labels):
        rows = rng.permutation(np.flatnonzero(arr == cls))
        out[0].extend(rows[: len(rows) // 2].tolist())
        out[1].extend(rows[len(rows) // 2:].tolist())
    if min(len(h) for h in out) < 2:
        raise DrumsynthError(f"{len(labels)} sounds are too few to halve")
    return sorted(out[0]), sorted(out[1])


def subset_features(feats: Features, rows: list[int]) -> Features:
    """The rows ``rows`` of every feature array."""
    pick = np.asarray(rows, dtype=np.int64)
    return Features(probs3=feats.probs3[pick], clf=feats.clf[pick],
                    aisfx=None if feats.aisfx is None else feats.aisfx[pick],
                    labels=[feats.labels[i] for i in rows])


def distribution_row(name: str, feats: Features, reference: Features, *, seed: int,
                     n_boot: int = N_BOOT) -> dict[str, Any]:
    """IS of ``feats`` and KID/FAD of ``feats`` against ``reference`` on both embeddings, each with a
    bootstrap 95 % interval (``<key>_ci``: [low, high]) and the resamples' sd (``<key>_sd``).

    KID is the unbiased MMD² over the whole sets with the cubic kernel on raw embeddings (no
    standardisation: docs/evaluation.md).
    """
    row: dict[str, Any] = {"system": name, "n": len(feats.clf), "n_reference": len(reference.clf)}
    estimates = {"is": inception_score(feats.probs3, n_splits=1)[0]}
    sets = {"clf": (feats.clf, reference.clf)}
    if feats.aisfx is not None and reference.aisfx is not None:
        sets["aisfx"] = (feats.aisfx, reference.aisfx)
    for emb, (a, b) in sets.items():
        estimates[f"kid_{emb}"] = kernel_distance(a, b)
        estimates[f"fad_{emb}"] = frechet_distance(a, b)
    intervals = bootstrap_intervals(estimates, sets, feats.probs3, labels=(feats.labels, reference.labels),
                                    n_boot=n_boot, seed=seed)
    for key, value in estimates.items():
        row[key] = value
        row[f"{key}_ci"] = intervals[key].as_list()
        row[f"{key}_sd"] = intervals[key].sd
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


def model_hits(session, *, n_per_class: int = 64, seed: int = 0) -> HitSet:
    """``n_per_class`` hits of every class the model was trained on, at full length, resampled to 44.1 kHz.

    Class ``c`` is drawn with seed ``seed + CLASSES.index(c)``, so a class gets the same hits whichever
    other classes a model knows.
    """
    from drumsynth.audio.resample import resample

    waves, labels = [], []
    for cls in session.trained_classes:
        render = session.generate(cls, n=n_per_class, seed=seed + CLASSES.index(cls))
        waves += [resample(np.asarray(w, dtype=np.float32), render.sample_rate, EVAL_SR) for w in render.waves]
        labels += [cls] * n_per_class
    if not waves:
        raise DrumsynthError(f"model {session.checkpoint} was trained on none of its classes")
    classes = CLASSES3 if tuple(session.classes) == CLASSES3 else CLASSES
    return HitSet(name=session.label, waves=waves, sr=EVAL_SR, labels=labels, classes=classes)


def table1_set(hits: HitSet) -> SoundSet:
    """The hits of a model named kick, snare or cymbal, 1 s at 44.1 kHz (cut or zero-padded): Table 1's
    3-class view of a model (an 8-class model's hats and claps are not in it)."""
    from drumsynth.audio.dsp import trim_or_pad

    rows = [i for i, lab in enumerate(hits.labels) if lab in CLASSES3]
    if not rows:
        raise DrumsynthError(f"{hits.name} has no hits of the classes {list(CLASSES3)}")
    waves = np.stack([trim_or_pad(np.asarray(hits.waves[i], dtype=np.float32), EVAL_LENGTH) for i in rows])
    return SoundSet(name=hits.name, waves=waves, sr=hits.sr, labels=[hits.labels[i] for i in rows])


def real_hits(cache: Cache, split: str = "test", *, three_class: bool = False) -> HitSet:
    """The stored sounds of a split at full length (up to their class's cap), 8-class or 3-class labels."""
    indices = cache.indices(split, three_class=three_class)
    if not indices:
        raise DrumsynthError(f"cache {cache.root} has no sounds in split {split!r}")
    labels = [cache.records[i]["label"] for i in indices]
    if three_class:
        labels = [TO_CLASS3[lab] for lab in labels]
    return HitSet(name=f"real {split} kits", waves=[np.array(cache.wave(i)) for i in indices], sr=cache.sr,
                  labels=labels, classes=CLASSES3 if three_class else CLASSES)


def agreement(classifier, hits: HitSet) -> dict[str, float]:
    """Per class of ``hits``: the share the classifier judges as that class, in the hits' vocabulary
    (8-class head for 8-class labels, 3-class head for the 3-class view). On generated hits this is the
    class agreement; on real hits, the classifier's own per-class accuracy."""
    out = classifier.predict(hits.waves, hits.sr)
    probs = out["probs3" if hits.classes == CLASSES3 else "probs8"].numpy()
    judged = [hits.classes[i] for i in probs.argmax(axis=1)]
    labels = np.array(hits.labels)
    return {c: float(np.mean([j == c for j, lab in zip(judged, labels, strict=True) if lab == c]))
            for c in hits.classes if c in hits.labels}


def listener_section(name: str, hits: HitSet, real: HitSet, classifier) -> dict[str, Any]:
    """Listener metrics of ``hits`` and of the real hits, per class of ``hits.classes`` present in both,
    with the agreement of each: ``{"system", "vocabulary", "classes": {cls: {"generated", "real",
    "agreement", "classifier_accuracy"}}}`` (``generated`` is None for the real-only section)."""
    gen = summarise(hit_metrics(hits.waves, hits.sr), hits.labels) if hits is not real else None
    ref = summarise(hit_metrics(real.waves, real.sr), real.labels)
    gen_agree = agreement(classifier, hits) if gen is not None else None
    real_agree = agreement(classifier, real)
    classes = [c for c in hits.classes if c in ref and (gen is None or c in gen)]
    return {"system": name, "vocabulary": "3-class" if hits.classes == CLASSES3 else "8-class",
            "classes": {c: {"generated": None if gen is None else gen[c], "real": ref[c],
                            "agreement": None if gen_agree is None else gen_agree[c],
                            "classifier_accuracy": real_agree[c]} for c in classes}}


def sheet_grid(sets: list[HitSet], per_cell: int = SHEET_HITS) -> dict[str, dict[str, list[np.ndarray]]]:
    """{set name: {class: hits}} for :func:`~drumsynth.metrics.sheet.comparison_sheet`, rows in ``CLASSES``
    order; each cell takes hits spread evenly over the class (different kits for the real set)."""
    grid: dict[str, dict[str, list[np.ndarray]]] = {}
    for hits in sets:
        cells = {}
        for cls in CLASSES:
            rows = [i for i, lab in enumerate(hits.labels) if lab == cls]
            picks = sorted(set(np.linspace(0, len(rows) - 1, min(per_cell, len(rows))).round().astype(int)))
            if rows:
                cells[cls] = [hits.waves[rows[k]] for k in picks]
        grid[hits.name] = cells
    return grid


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


def _digits(value: float) -> int:
    """Decimals that show about three significant figures of an interval bound."""
    size = abs(value)
    return 1 if size >= 100 else 2 if size >= 1 else 3 if size >= 0.01 else 4


def _ci(row: dict[str, Any], key: str) -> str:
    """``value [low, high]`` with matching decimals, or "–" when the row lacks the figure."""
    if row.get(key) is None:
        return "–"
    low, high = row[f"{key}_ci"]
    d = max(_digits(low), _digits(high), _digits(row[key]))
    return f"{row[key]:.{d}f} [{low:.{d}f}, {high:.{d}f}]"


def _quartiles(q: list[float], digits: int, scale: float = 1.0) -> str:
    low, mid, high = (v * scale for v in q)
    return f"{mid:.{digits}f} ({low:.{digits}f}–{high:.{digits}f})"


def _listener_rows(system: str, row: dict[str, Any] | None, agreement: float | None, cls: str) -> str:
    if row is None:
        return ""
    agree = "–" if agreement is None else f"{agreement:.2f}"
    return (f"| {cls} | {system} | {row['n']} | {_quartiles(row['high_band_share'], 1, 100)} | "
            f"{_quartiles(row['decay_time'], 2)} | {row['still_sounding']:.2f} | "
            f"{_quartiles(row['attack_time'], 1)} | {_quartiles(row['tick_rate'], 0)} | {agree} |")


def render_listener(section: dict[str, Any]) -> list[str]:
    """One Markdown table per system: a generated row and a real row per class (median (q25–q75))."""
    lines = [f"### {section['system']} ({section['vocabulary']} view)", "",
             "| class | hits | n | energy > 11 kHz (%) | decay to −40 dB (s) | cut while sounding | "
             "attack (ms) | ticks / s | agreement |",
             "|---|---|---|---|---|---|---|---|---|"]
    for cls, entry in section["classes"].items():
        gen = _listener_rows("generated", entry["generated"], entry["agreement"], cls)
        if gen:
            lines.append(gen)
        lines.append(_listener_rows("real test kits", entry["real"], entry["classifier_accuracy"], cls))
    return lines + [""]


def render_markdown(report: dict[str, Any]) -> str:
    """The report as Markdown: provenance, classifier accuracy, Table 1 with intervals, class agreement,
    the listener tables, Table 2."""
    lines = ["# drumsynth evaluation report", ""]
    meta = report["meta"]
    lines += [f"- corpus: `{meta['cache']}`: {meta['n_train']} train / {meta['n_test']} test-kit sounds in the "
              f"3-class view; test kits: {', '.join(meta.get('test_kits', [])) or '?'}",
              f"- seed {meta['seed']}; 95 % bootstrap intervals from {meta['n_boot']} resamples of both sets "
              "(within each class); KID = unbiased MMD² over the whole sets, cubic kernel on raw embeddings; "
              "features: drum classifier (`_clf`), aisfx (`_aisfx`)",
              f"- classifier accuracy on the held-out test kits: 3-class {_fmt(meta['classifier_acc3'])}, "
              f"8-class {_fmt(meta['classifier_acc8'])}",
              f"- machine: {meta['machine']}; {meta.get('seconds', 0):.0f} s", ""]
    lines += ["## Table 1: IS, KID, FAD against the test kits (95 % bootstrap interval)", "",
              "| system | n | IS ↑ | KID_clf ↓ | FAD_clf ↓ | KID_aisfx ↓ | FAD_aisfx ↓ | class agreement |",
              "|---|---|---|---|---|---|---|---|"]
    for row in report["table1"]:
        lines.append(f"| {row['system']} | {row['n']} / {row['n_reference']} | {_ci(row, 'is')} | "
                     f"{_ci(row, 'kid_clf')} | {_ci(row, 'fad_clf')} | {_ci(row, 'kid_aisfx')} | "
                     f"{_ci(row, 'fad_aisfx')} | {_fmt(row['class_agreement'])} |")
    lines += ["", "n: scored set / reference. \"real vs real\" compares two random halves of the test kits: "
              "a figure within its interval is noise at that size.", "",
              "## Class agreement per class: share of each class judged as each class", "",
              "| system | class | n | " + " | ".join(f"→ {c}" for c in CLASSES3) + " |",
              "|---|---|---|" + "---|" * len(CLASSES3)]
    for row in report["table1"]:
        for want, shares in row.get("judged_as", {}).items():
            lines.append(f"| {row['system']} | {want} | {row['n_per_class'][want]} | "
                         + " | ".join(_fmt(shares[c]) for c in CLASSES3) + " |")
    lines += ["", "## Listener metrics per class: generated hits vs the real test kits", "",
              "Median (interquartile range) per hit, at full length. Agreement: for generated hits the share "
              "the classifier judges as the requested class; for real hits the classifier's own accuracy on "
              "that class (its ceiling).", ""]
    for section in report.get("listener", []):
        lines += render_listener(section)
    lines += ["## Table 2: encoder reconstruction (encode → decode)", ""]
    if report["table2"]:
        lines += ["| system | subset | n | DI ↑ | ODG ↑ | MSE ↓ | LSD (dB) ↓ | SNR (dB) ↑ |",
                  "|---|---|---|---|---|---|---|---|"]
        for row in report["table2"]:
            lines.append(f"| {row['system']} | {row['subset']} | {row['n']} | {_fmt(row['di'])} | "
                         f"{_fmt(row['odg'])} | {_fmt(row['mse'], 4)} | {_fmt(row['lsd'])} | {_fmt(row['snr'])} |")
    else:
        lines.append("No system with an encoder was evaluated.")
    lines += ["", f"Spectrogram sheet (real test kits and each model, class by class): `{meta['sheet']}`", ""]
    return "\n".join(lines)


def classifier_accuracy(classifier, cache: Cache, split: str = "test") -> tuple[float, float]:
    """(3-class, 8-class) accuracy of ``classifier`` on a split of the cache."""
    ds8 = DrumDataset(cache, split, sr=EVAL_SR, length=EVAL_LENGTH, fade_out=441)
    ds3 = DrumDataset(cache, split, sr=EVAL_SR, length=EVAL_LENGTH, three_class=True, fade_out=441)
    acc8 = float((classifier.probs8(ds8.waves[:, 0], EVAL_SR).argmax(1) == ds8.labels).float().mean())
    acc3 = float((classifier.probs3(ds3.waves[:, 0], EVAL_SR).argmax(1) == ds3.labels).float().mean())
    return acc3, acc8


def evaluate(cache: Cache, out_dir: str | Path, *, classifier, aisfx=None, generated: list[HitSet] = (),
             reconstructions: list[Reconstructions] = (), seed: int = 0, n_boot: int = N_BOOT
             ) -> dict[str, Any]:
    """Score the real data and every given system; write report.md, report.json and sheet.png.

    generated : each model's hits (:func:`model_hits`): Table 1 takes their kick, snare and cymbal hits
        (1 s), the listener table all of them at full length.
    """
    import time

    from drumsynth.metrics.sheet import comparison_sheet

    if not isinstance(n_boot, (int, np.integer)) or n_boot < 2:
        raise DrumsynthError(f"the number of bootstrap resamples must be an integer >= 2, got {n_boot!r}")
    t0 = time.monotonic()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    train, test = real_set(cache, "train"), real_set(cache, "test")
    ref = compute_features(test, classifier, aisfx)
    half_a, half_b = halves(test.labels, seed=seed)
    table1 = [distribution_row("real vs real (test-kit halves)", subset_features(ref, half_a),
                               subset_features(ref, half_b), seed=seed, n_boot=n_boot),
              distribution_row("real data (test kits vs train)", ref, compute_features(train, classifier, aisfx),
                               seed=seed, n_boot=n_boot)]
    for hits in generated:
        table1.append(distribution_row(hits.name, compute_features(table1_set(hits), classifier, aisfx), ref,
                                       seed=seed, n_boot=n_boot))
    real8, real3 = real_hits(cache, "test"), real_hits(cache, "test", three_class=True)
    listener = [listener_section("real test kits", real8, real8, classifier)]
    for hits in generated:
        listener.append(listener_section(hits.name, hits, real3 if hits.classes == CLASSES3 else real8,
                                         classifier))
    table2 = [reconstruction_row(rec) for rec in reconstructions]
    sheet = comparison_sheet(sheet_grid([real8, *generated]), EVAL_SR, out_dir / "sheet.png",
                             title="drumsynth: real test kits and generated hits, class by class (first 1 s)")
    acc3, acc8 = classifier_accuracy(classifier, cache)
    report = {"meta": {"cache": str(cache.root), "n_train": len(train.waves), "n_test": len(test.waves),
                       "test_kits": sorted({cache.records[i].get("group", cache.records[i]["kit"])
                                             for i in cache.indices("test")}),
                       "seed": seed, "n_boot": n_boot, "classifier_acc3": acc3, "classifier_acc8": acc8,
                       "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads",
                       "sheet": str(sheet), "seconds": round(time.monotonic() - t0, 1)},
              "table1": table1, "listener": listener, "table2": table2}
    (out_dir / "report.json").write_text(json.dumps(report, indent=2, default=float) + "\n")
    (out_dir / "report.md").write_text(render_markdown(report))
    return report
