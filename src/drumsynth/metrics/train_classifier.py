"""Training the evaluation classifier on a decoded cache: a compact loop of its own, CPU-sized.

    python -m drumsynth.metrics.train_classifier --data data/corpus --out PATH --steps 1000

What it does, and why:

* clips come from ``DrumDataset`` at 44.1 kHz, ``length`` samples; the train split gets pitch-shifted
  copies (varispeed, default -2, 0, +2 semitones), valid and test splits do not;
* log-mels are computed **once** per clip (the mel projection costs as much as a training step on a CPU)
  and standardised with per-bin statistics of the train split, which are stored in the model;
* per batch, augmentation acts on those log-mels: a delay by whole hops (identical to delaying the wave
  by ``k * hop_length`` samples, since frames are then just moved and silence enters), recording-chain
  variation, a band limit at a random cutoff (a model family or recording at a lower sample rate: the
  evaluation net must not read missing > 11 kHz energy as "not a cymbal"), one frequency and one
  time mask (SpecAugment), and mixup between clips. There is no gain augmentation: the front end
  peak-normalises each clip, so the classifier is gain-invariant by construction;
* batches are class-balanced (a class uniformly, then a clip of it) with an explicit ``torch.Generator``;
* loss = CE over 8 classes + CE over the 3-class view on the sounds that have one (``TO_CLASS3``), both
  with label smoothing; AdamW, linear warm-up then cosine decay;
* every ``eval_every`` steps the ``valid`` split is scored and the best weights are kept; at the end the
  ``test`` split (held-out kits) is scored with them and everything is written into the checkpoint.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from drumsynth.data.cache import load_cache
from drumsynth.data.dataset import DrumDataset
from drumsynth.data.taxonomy import CLASSES, CLASSES3, TO_CLASS3
from drumsynth.errors import DrumsynthError
from drumsynth.metrics.classifier import DrumClassifier, save_classifier

# Index of each 8-class label in the 3-class view, -1 where it has none (tom, perc): ignored by CE.
TO3_INDEX = torch.tensor([CLASSES3.index(TO_CLASS3[c]) if TO_CLASS3[c] else -1 for c in CLASSES])


@torch.no_grad()
def log_mels(model: DrumClassifier, waves: torch.Tensor, batch_size: int = 128) -> torch.Tensor:
    """Tensor[N, 1, T] clips -> unstandardised log-mels Tensor[N, n_mels, frames] (dB)."""
    return torch.cat([model.log_mel(model.fit_length(waves[s:s + batch_size]))
                      for s in range(0, len(waves), batch_size)])


def standardise(model: DrumClassifier, db: torch.Tensor) -> torch.Tensor:
    """Tensor[B, n_mels, frames] dB -> Tensor[B, 1, n_mels, frames] with the model's statistics."""
    return ((db - model.feat_mean[:, None]) / model.feat_std[:, None]).unsqueeze(1)


def delay_frames(db: torch.Tensor, max_frames: int, generator: torch.Generator, top_db: float) -> torch.Tensor:
    """Delay each log-mel of Tensor[B, n_mels, frames] by 0..max_frames frames; the clip's floor enters."""
    if max_frames <= 0:
        return db
    shifts = torch.randint(0, max_frames + 1, (db.shape[0],), generator=generator).tolist()
    floor = db.amax(dim=(1, 2)) - top_db
    out = db.clone()
    for b, s in enumerate(shifts):
        if s:
            out[b, :, s:] = db[b, :, :-s]
            out[b, :, :s] = floor[b]
    return out


def level_augment(db: torch.Tensor, generator: torch.Generator, *, tilt_db: float, decay_db: float,
                  min_top_db: float, top_db: float, p: float) -> torch.Tensor:
    """Recording-chain variation on dB log-mels Tensor[B, n_mels, frames], each with probability ``p``:

    * a spectral tilt of up to ±``tilt_db`` from the lowest to the highest mel bin (another microphone, EQ);
    * an extra decay of up to ``decay_db`` over the clip (a damped or gated drum, a shorter room);
    * a raised floor: anything more than U(``min_top_db``, ``top_db``) dB below the peak is cut (noisier
      recordings, a generator's noise floor);
    * a truncation after a random number of frames (SoundFont kits often hold 50-100 ms samples only).
    """
    B, n_f, n_t = db.shape
    u = torch.rand(B, 4, generator=generator)
    amount = torch.rand(B, 4, generator=generator)
    freq = torch.linspace(-0.5, 0.5, n_f)
    time_ = torch.linspace(0.0, 1.0, n_t)
    tilt = torch.where(u[:, 0] < p, (2 * amount[:, 0] - 1) * tilt_db, torch.zeros(B))
    decay = torch.where(u[:, 1] < p, amount[:, 1] * decay_db, torch.zeros(B))
    floor_db = torch.where(u[:, 2] < p, min_top_db + amount[:, 2] * (top_db - min_top_db), torch.full((B,), top_db))
    out = db + tilt[:, None, None] * freq[None, :, None] - decay[:, None, None] * time_[None, None, :]
    floor = out.amax(dim=(1, 2), keepdim=True) - floor_db[:, None, None]
    out = torch.maximum(out, floor)
    # Cut points spread log-uniformly from 4 frames (~50 ms) to the whole clip.
    cut = torch.where(u[:, 3] < p, (4.0 * (n_t / 4.0) ** amount[:, 3]).long(), torch.full((B,), n_t))
    gone = torch.arange(n_t)[None, :] >= cut[:, None]
    return torch.where(gone[:, None, :], floor, out)


def band_limit(db: torch.Tensor, generator: torch.Generator, *, mel_fb: torch.Tensor, sr: int, top_db: float,
               p: float, min_hz: float, max_hz: float) -> torch.Tensor:
    """Band-limit dB log-mels Tensor[B, n_mels, frames] below a random cutoff, with probability ``p`` each.

    The cutoff is uniform in [``min_hz``, ``max_hz``): the Nyquist frequency of a model family that works
    at a lower sample rate (22.05 kHz: 11.025 kHz; 32 kHz: 16 kHz), or of a recording played back at one.
    Each mel band keeps the share of its filter (``mel_fb``, Tensor[n_mels, n_fft // 2 + 1] at ``sr``)
    that lies below the cutoff, assuming a locally flat spectrum: bands entirely above it lose everything,
    bands entirely below it are unchanged, the band across it is attenuated. The clip is then floored
    ``top_db`` below its (new) peak exactly as the front end floors it, so the emptied bands hold the value
    a truly band-limited input gets from the same front end (its digital silence). Clips not drawn are
    returned unchanged; ``p = 0`` returns ``db`` itself.
    """
    if p <= 0:
        return db
    B = db.shape[0]
    u = torch.rand(B, generator=generator)
    cutoff = min_hz + torch.rand(B, generator=generator) * (max_hz - min_hz)
    freqs = torch.linspace(0.0, sr / 2, mel_fb.shape[1], device=db.device)
    kept = (freqs[None, :] < cutoff[:, None].to(db.device)).to(mel_fb.dtype)          # [B, bins]
    share = (kept @ mel_fb.T) / mel_fb.sum(dim=1).clamp_min(1e-12)                   # [B, n_mels]
    out = db + 10.0 * torch.log10(share.clamp_min(1e-10))[:, :, None]
    out = torch.maximum(out, out.amax(dim=(1, 2), keepdim=True) - top_db)
    return torch.where((u < p)[:, None, None].to(db.device), out, db)


def spec_mask(x: torch.Tensor, generator: torch.Generator, max_freq: int, max_time: int, p: float
              ) -> torch.Tensor:
    """One frequency band and one time span set to 0 (the mean) in Tensor[B, 1, F, T], each with prob p."""
    x = x.clone()
    B, _, n_f, n_t = x.shape
    u = torch.rand(B, 2, generator=generator)
    fw = torch.randint(0, max_freq + 1, (B,), generator=generator)
    tw = torch.randint(0, max_time + 1, (B,), generator=generator)
    f0 = (torch.rand(B, generator=generator) * (n_f - fw + 1)).long()
    t0 = (torch.rand(B, generator=generator) * (n_t - tw + 1)).long()
    for b in range(B):
        if u[b, 0] < p and fw[b] > 0:
            x[b, :, f0[b]:f0[b] + fw[b], :] = 0.0
        if u[b, 1] < p and tw[b] > 0:
            x[b, :, :, t0[b]:t0[b] + tw[b]] = 0.0
    return x


def soft_ce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of Tensor[B, C] logits against Tensor[B, C] target distributions."""
    return -(target * logits.log_softmax(-1)).sum(-1).mean()


def smooth_one_hot(labels: torch.Tensor, n: int, smoothing: float) -> torch.Tensor:
    """Tensor[B] int -> Tensor[B, n] with ``smoothing`` spread uniformly; label -1 gives a zero row."""
    valid = labels >= 0
    target = torch.full((len(labels), n), smoothing / n)
    target[valid] += (1.0 - smoothing) * F.one_hot(labels[valid], n).float()
    target[~valid] = 0.0
    return target


@torch.no_grad()
def evaluate(model: DrumClassifier, feats: torch.Tensor, labels: torch.Tensor, batch_size: int = 128
             ) -> dict[str, Any]:
    """Scores on standardised log-mels Tensor[N, 1, F, T] with 8-class labels Tensor[N].

    acc8: 8-class head; acc3: 3-class head on the sounds with a 3-class label; acc3_from8: the same
    sounds, 3-class decision taken by summing the 8-class probabilities; per-class recalls; confusions.
    """
    model.eval()
    logits8, logits3 = [], []
    for s in range(0, len(feats), batch_size):
        out = model.forward_features(feats[s:s + batch_size])
        logits8.append(out.logits8)
        logits3.append(out.logits3)
    logits8, logits3 = torch.cat(logits8), torch.cat(logits3)
    labels3 = TO3_INDEX[labels]
    has3 = labels3 >= 0
    pred8 = logits8.argmax(-1)
    pred3 = logits3.argmax(-1)
    probs8 = logits8.softmax(-1)
    fold = torch.zeros(len(CLASSES), len(CLASSES3))
    for i, j in enumerate(TO3_INDEX.tolist()):
        if j >= 0:
            fold[i, j] = 1.0
    pred3_from8 = (probs8 @ fold).argmax(-1)
    conf8 = torch.zeros(len(CLASSES), len(CLASSES), dtype=torch.int64)
    conf3 = torch.zeros(len(CLASSES3), len(CLASSES3), dtype=torch.int64)
    conf8.index_put_((labels, pred8), torch.ones_like(labels), accumulate=True)
    conf3.index_put_((labels3[has3], pred3[has3]), torch.ones_like(labels3[has3]), accumulate=True)
    loss8 = F.cross_entropy(logits8, labels).item()
    loss3 = F.cross_entropy(logits3[has3], labels3[has3]).item() if has3.any() else 0.0

    def recalls(conf: torch.Tensor, names: Sequence[str]) -> dict[str, float | None]:
        totals = conf.sum(1)
        return {n: (conf[i, i].item() / totals[i].item() if totals[i] else None) for i, n in enumerate(names)}

    per8 = recalls(conf8, CLASSES)
    per3 = recalls(conf3, CLASSES3)
    present8 = [v for v in per8.values() if v is not None]
    present3 = [v for v in per3.values() if v is not None]
    return {
        "n": len(labels), "n3": int(has3.sum()),
        "acc8": (pred8 == labels).float().mean().item(),
        "acc3": (pred3[has3] == labels3[has3]).float().mean().item() if has3.any() else float("nan"),
        "acc3_from8": ((pred3_from8[has3] == labels3[has3]).float().mean().item()
                       if has3.any() else float("nan")),
        "balanced_acc8": float(np.mean(present8)) if present8 else float("nan"),
        "balanced_acc3": float(np.mean(present3)) if present3 else float("nan"),
        "loss8": loss8, "loss3": loss3,
        "per_class8": per8, "per_class3": per3,
        "confusion8": conf8.tolist(), "confusion3": conf3.tolist(),
    }


def lr_at(step: int, steps: int, lr: float, warmup: int) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine decay to 1% of ``lr``."""
    if step < warmup:
        return lr * (step + 1) / warmup
    t = (step - warmup) / max(1, steps - warmup)
    return lr * (0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * t)))


def train_classifier(cache_dir: str | Path, out_path: str | Path | None, *, steps: int = 1000,
                     batch_size: int = 64, lr: float = 3e-3, weight_decay: float = 0.05, seed: int = 0,
                     pitch_semitones: Sequence[int] = (-2, 0, 2), max_delay_frames: int = 4,
                     label_smoothing: float = 0.1, mixup: float = 0.2, mask_p: float = 0.5,
                     max_mask_bins: int = 16, max_mask_frames: int = 8, level_p: float = 0.5,
                     tilt_db: float = 12.0, decay_db: float = 30.0, min_top_db: float = 50.0,
                     band_p: float = 0.0, band_min_hz: float = 8000.0, band_max_hz: float = 22050.0,
                     ema: float = 0.0, warmup: int | None = None,
                     eval_every: int = 100, model_kwargs: dict[str, Any] | None = None,
                     threads: int | None = None, log: Callable[[str], None] | None = print) -> dict[str, Any]:
    """Train a ``DrumClassifier`` on a cache; keep the best weights on ``valid``; score ``test``.

    Parameters
    ----------
    cache_dir : a cache folder (``drumsynth corpus build`` / ``drumsynth prepare``) with all three splits
    out_path : checkpoint to write atomically (``None``: do not write)
    steps, batch_size, lr, weight_decay, warmup : optimisation (AdamW; warm-up default 5% of steps)
    seed : the only source of randomness (init, dropout, batches, augmentation)
    pitch_semitones : varispeed copies of the train split
    max_delay_frames : delay augmentation, in hops
    label_smoothing, mixup : regularisation (mixup: Beta(a, a) with a = ``mixup``; 0 disables it)
    mask_p, max_mask_bins, max_mask_frames : SpecAugment-style masks
    level_p, tilt_db, decay_db, min_top_db : recording-chain variation (see :func:`level_augment`)
    band_p, band_min_hz, band_max_hz : band-limit augmentation, cutoff uniform in [min, max) Hz
        (see :func:`band_limit`; ``band_p = 0`` disables it)
    ema : decay of an exponential moving average of the weights, which is then what is validated and
        kept (0: the raw weights)
    eval_every : validation cadence (steps)
    model_kwargs : ``DrumClassifier`` keyword arguments (architecture and front end)
    threads : ``torch.set_num_threads`` when given

    Returns
    -------
    dict of plain types: ``test`` and ``valid`` scores (see :func:`evaluate`), ``best_step``, ``history``,
    ``settings``, ``counts``, ``seconds``, ``params``, ``out``.
    """
    if steps < 1 or batch_size < 2:
        raise DrumsynthError(f"need steps >= 1 and batch_size >= 2, got {steps} and {batch_size}")
    if threads:
        torch.set_num_threads(threads)
    say = log or (lambda _msg: None)
    settings = dict(steps=steps, batch_size=batch_size, lr=lr, weight_decay=weight_decay, seed=seed,
                    pitch_semitones=list(pitch_semitones), max_delay_frames=max_delay_frames,
                    label_smoothing=label_smoothing, mixup=mixup, mask_p=mask_p, max_mask_bins=max_mask_bins,
                    max_mask_frames=max_mask_frames, level_p=level_p, tilt_db=tilt_db, decay_db=decay_db,
                    min_top_db=min_top_db, band_p=band_p, band_min_hz=band_min_hz, band_max_hz=band_max_hz,
                    ema=ema, warmup=warmup, eval_every=eval_every)
    t_start = time.time()
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = DrumClassifier(**(model_kwargs or {}))

    cache = load_cache(cache_dir)
    kw = dict(sr=model.sr, length=model.length)
    train = DrumDataset(cache, "train", pitch_semitones=tuple(pitch_semitones), **kw)
    valid = DrumDataset(cache, "valid", **kw)
    test = DrumDataset(cache, "test", **kw)
    counts = {"train": train.class_counts(), "valid": valid.class_counts(), "test": test.class_counts()}
    say(f"clips: train {len(train)} (pitch copies {list(pitch_semitones)}), valid {len(valid)}, test {len(test)}")

    # Features once; standardisation statistics from the train split (all copies), stored in the model.
    train_db = log_mels(model, train.waves)
    model.feat_mean.copy_(train_db.mean(dim=(0, 2)))
    model.feat_std.copy_(train_db.std(dim=(0, 2)).clamp_min(1e-3))
    valid_x = standardise(model, log_mels(model, valid.waves))
    test_x = standardise(model, log_mels(model, test.waves))
    say(f"features {tuple(train_db.shape[1:])} in {time.time() - t_start:.1f} s")

    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    averaged = copy.deepcopy(model) if ema > 0 else model
    warmup = max(1, steps // 20) if warmup is None else max(1, warmup)
    best: dict[str, Any] | None = None
    history: list[dict[str, float]] = []
    running: list[float] = []
    for step in range(steps):
        model.train()
        for group in opt.param_groups:
            group["lr"] = lr_at(step, steps, lr, warmup)
        idx = train.sample_indices(batch_size, gen, balanced=True)
        db = delay_frames(train_db[idx], max_delay_frames, gen, model.top_db)
        if level_p > 0:
            db = level_augment(db, gen, tilt_db=tilt_db, decay_db=decay_db, min_top_db=min_top_db,
                               top_db=model.top_db, p=level_p)
        if band_p > 0:
            db = band_limit(db, gen, mel_fb=model.mel_fb, sr=model.sr, top_db=model.top_db, p=band_p,
                            min_hz=band_min_hz, max_hz=band_max_hz)
        x = spec_mask(standardise(model, db), gen, max_mask_bins, max_mask_frames, mask_p)
        labels = train.labels[idx]
        t8 = smooth_one_hot(labels, len(CLASSES), label_smoothing)
        t3 = smooth_one_hot(TO3_INDEX[labels], len(CLASSES3), label_smoothing)
        if mixup > 0:
            lam = _beta_sample(mixup, gen)
            perm = torch.randperm(batch_size, generator=gen)
            x = lam * x + (1 - lam) * x[perm]
            t8 = lam * t8 + (1 - lam) * t8[perm]
            t3 = lam * t3 + (1 - lam) * t3[perm]
        out = model.forward_features(x)
        w3 = t3.sum(-1)  # 0 for clips (and mixtures) with no 3-class label
        loss8 = soft_ce(out.logits8, t8)
        loss3 = ((-(t3 * out.logits3.log_softmax(-1)).sum(-1)).sum() / w3.sum().clamp_min(1e-6))
        loss = loss8 + loss3
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if ema > 0:
            _ema_update(averaged, model, ema)
        running.append(loss.item())
        if (step + 1) % eval_every == 0 or step + 1 == steps:
            scores = evaluate(averaged, valid_x, valid.labels)
            entry = {"step": step + 1, "train_loss": float(np.mean(running)), "valid_acc8": scores["acc8"],
                     "valid_acc3": scores["acc3"], "valid_loss": scores["loss8"] + scores["loss3"]}
            running = []
            history.append(entry)
            key = (scores["acc8"] + scores["acc3"], -entry["valid_loss"])
            improved = best is None or key > best["key"]
            if improved:
                best = {"key": key, "step": step + 1, "state": copy.deepcopy(averaged.state_dict()),
                        "scores": scores}
            say(f"step {step + 1:5d}  loss {entry['train_loss']:.3f}  valid acc8 {scores['acc8']:.3f} "
                f"acc3 {scores['acc3']:.3f} loss {entry['valid_loss']:.3f}{'  *' if improved else ''}  "
                f"({time.time() - t_start:.0f} s)")

    assert best is not None
    model.load_state_dict(best["state"])
    test_scores = evaluate(model, test_x, test.labels)
    model.eval()
    result: dict[str, Any] = {
        "test": test_scores, "valid": best["scores"], "best_step": best["step"], "history": history,
        "settings": settings, "model_config": dict(model.config), "counts": counts,
        "params": sum(p.numel() for p in model.parameters()), "seconds": round(time.time() - t_start, 1),
        "cache": str(cache.root), "out": None if out_path is None else str(out_path),
    }
    say(f"test (held-out kits): acc8 {test_scores['acc8']:.3f}  acc3 {test_scores['acc3']:.3f}  "
        f"(best valid step {best['step']}, {result['seconds']:.0f} s)")
    if out_path is not None:
        save_classifier(model, out_path, metrics=_plain(result))
    result["model"] = model
    return result


@torch.no_grad()
def _ema_update(averaged: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    """averaged <- decay * averaged + (1 - decay) * model; BatchNorm statistics are copied."""
    for a, p in zip(averaged.parameters(), model.parameters()):
        a.lerp_(p, 1.0 - decay)
    for a, b in zip(averaged.buffers(), model.buffers()):
        a.copy_(b)


def _beta_sample(a: float, gen: torch.Generator) -> float:
    """A Beta(a, a) draw from ``gen`` by Jöhnk's method (torch's Beta sampler takes no generator)."""
    while True:
        u, v = torch.rand(2, generator=gen, dtype=torch.float64).tolist()
        x, y = u ** (1.0 / a), v ** (1.0 / a)
        if 0 < x + y <= 1.0:
            return x / (x + y)


def _plain(obj: Any) -> Any:
    """Metrics as JSON-able plain types (NaN kept as float)."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items() if k != "model"}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    return obj


def format_report(result: dict[str, Any]) -> str:
    """Test-split scores, per-class recalls and confusion matrices as text."""
    t = result["test"]
    lines = [f"test split (held-out kits): {t['n']} sounds, {t['n3']} with a 3-class label",
             f"  8-class accuracy {t['acc8']:.4f} (balanced {t['balanced_acc8']:.4f})",
             f"  3-class accuracy {t['acc3']:.4f} (3-class head; from the 8-class head {t['acc3_from8']:.4f})",
             "  per-class recall (8): " + ", ".join(
                 f"{k} {v:.3f}" if v is not None else f"{k} -" for k, v in t["per_class8"].items()),
             "  per-class recall (3): " + ", ".join(
                 f"{k} {v:.3f}" if v is not None else f"{k} -" for k, v in t["per_class3"].items()),
             "  confusion (rows: true, columns: predicted)"]
    width = max(len(c) for c in CLASSES)
    lines.append("    " + " " * width + " " + " ".join(f"{c[:6]:>6}" for c in CLASSES))
    for name, row in zip(CLASSES, t["confusion8"]):
        lines.append(f"    {name:>{width}} " + " ".join(f"{v:6d}" for v in row))
    lines.append("    " + " " * width + " " + " ".join(f"{c[:6]:>6}" for c in CLASSES3))
    for name, row in zip(CLASSES3, t["confusion3"]):
        lines.append(f"    {name:>{width}} " + " ".join(f"{v:6d}" for v in row))
    lines.append(f"valid (best step {result['best_step']}): acc8 {result['valid']['acc8']:.4f} "
                 f"acc3 {result['valid']['acc3']:.4f}; {result['params']} parameters; {result['seconds']:.0f} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m drumsynth.metrics.train_classifier",
        description="Train the evaluation drum classifier on a cache; report held-out-kit accuracy.")
    parser.add_argument("--data", required=True, help="cache folder (e.g. data/corpus)")
    parser.add_argument("--out", required=True, help="checkpoint to write (e.g. src/drumsynth/pretrained/classifier.pt)")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--weight-decay", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pitch", default="-2,0,2", help="semitones of the train split's copies (default -2,0,2)")
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    parser.add_argument("--mixup", type=float, default=0.2, help="Beta(a, a) mixup; 0 disables it")
    parser.add_argument("--mask-p", type=float, default=0.5)
    parser.add_argument("--level-p", type=float, default=0.5, help="probability of each tilt/decay/floor change")
    parser.add_argument("--band-p", type=float, default=0.0,
                        help="probability of the band-limit augmentation (cutoff uniform in 8-22.05 kHz; 0: off)")
    parser.add_argument("--band-min-hz", type=float, default=8000.0, help="lowest band-limit cutoff (Hz)")
    parser.add_argument("--band-max-hz", type=float, default=22050.0, help="highest band-limit cutoff (Hz)")
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--ema", type=float, default=0.0, help="weight-averaging decay (0: off)")
    parser.add_argument("--model", default="{}", help='DrumClassifier kwargs as JSON, e.g. \'{"widths": [48, 96, 128, 192]}\'')
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--json", action="store_true", help="print the full result as JSON")
    args = parser.parse_args(argv)
    try:
        pitch = tuple(int(p) for p in args.pitch.split(",") if p.strip())
        model_kwargs = json.loads(args.model)
        if not isinstance(model_kwargs, dict):
            raise DrumsynthError(f"--model must be a JSON object, got {args.model!r}")
        result = train_classifier(
            args.data, args.out, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
            weight_decay=args.weight_decay, seed=args.seed, pitch_semitones=pitch,
            label_smoothing=args.label_smoothing, mixup=args.mixup, mask_p=args.mask_p, level_p=args.level_p,
            band_p=args.band_p, band_min_hz=args.band_min_hz, band_max_hz=args.band_max_hz, ema=args.ema,
            eval_every=args.eval_every, model_kwargs=model_kwargs, threads=args.threads,
            log=None if args.json else print)
    except (DrumsynthError, ValueError, TypeError) as err:
        print(f"train_classifier: error: {err}", file=sys.stderr)
        return 2
    if args.json:
        json.dump(_plain(result), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(format_report(result))
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
