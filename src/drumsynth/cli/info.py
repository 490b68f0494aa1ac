"""``drumsynth info [CHECKPOINT|CACHE]``: what is installed, shipped, or inside a file."""

from __future__ import annotations

import argparse
import platform
from pathlib import Path
from typing import Any

from drumsynth.cli.common import add_json_option, emit

PRETRAINED = Path(__file__).resolve().parent.parent / "pretrained"


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "info", help="describe the installation, a checkpoint (its model card) or a cache",
        description="Without PATH: the installation and the shipped models. With a checkpoint (or a shipped "
                    "family id): its model card (family, classes, rate, length, latent size, steps, metrics, "
                    "training data per class, sha256). With a cache folder: its contents.")
    parser.add_argument("path", nargs="?", help="a checkpoint (.pt), a shipped family id or a cache folder")
    add_json_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from drumsynth import __version__

    if args.path is None:
        from drumsynth.inference.session import shipped_models

        models = list(shipped_models())
        payload = {"version": __version__, "torch": torch.__version__, "python": platform.python_version(),
                   "cuda": torch.cuda.is_available(), "threads": torch.get_num_threads(),
                   "models": models, "default_model": models[0] if models else None,
                   "pretrained_files": sorted(p.name for p in PRETRAINED.glob("*.pt"))}
        text = "\n".join([f"drumsynth {__version__} (torch {torch.__version__}, python {platform.python_version()})",
                          f"cuda available: {payload['cuda']}; torch threads: {payload['threads']}",
                          "shipped models: " + (", ".join(models) if models else "none yet")
                          + (f" (default: {models[0]})" if models else ""),
                          "shipped files: " + ", ".join(payload["pretrained_files"])])
        emit(args, payload, text)
        return 0
    path = Path(args.path)
    if path.is_dir():
        from drumsynth.data.cache import load_cache
        from drumsynth.data.corpus import corpus_stats

        cache = load_cache(path)
        emit(args, {"cache": str(path), "n": len(cache), "info": cache.info}, corpus_stats(cache))
        return 0
    from drumsynth.checkpoint import read_weights_only
    from drumsynth.inference.session import file_sha256, shipped_models

    if not path.exists() and args.path in shipped_models():
        path = shipped_models()[args.path]  # `drumsynth info ndm`: the shipped model's card
    ckpt = read_weights_only(path)
    payload = model_card(ckpt, path)
    payload["sha256"] = file_sha256(path)
    emit(args, payload, card_text(payload))
    return 0


def model_card(ckpt: object, path: Path) -> dict[str, Any]:
    """What a checkpoint says about its model, as plain types (``info --json``).

    Reads drumsynth model checkpoints (resume or release) and classifier checkpoints. Keys absent
    from older files come out as ``None`` (``data``: "not recorded").
    """
    from drumsynth.checkpoint import FORMAT, FORMAT_VERSION
    from drumsynth.errors import DrumsynthError
    from drumsynth.metrics.classifier import CHECKPOINT_FORMAT as CLASSIFIER_FORMAT

    if not isinstance(ckpt, dict) or ckpt.get("format") not in (FORMAT, CLASSIFIER_FORMAT):
        raise DrumsynthError(f"{path} is not a drumsynth checkpoint (no format={FORMAT!r} header)")
    version = ckpt.get("format_version")
    if ckpt["format"] == FORMAT and (not isinstance(version, int) or version > FORMAT_VERSION):
        raise DrumsynthError(f"checkpoint {path} has format_version {version!r}; this drumsynth reads up to "
                             f"{FORMAT_VERSION}")
    config = ckpt.get("config") if isinstance(ckpt.get("config"), dict) else {}
    data_cfg = config.get("data") if isinstance(config.get("data"), dict) else config  # classifier: flat
    model_cfg = config.get("model") if isinstance(config.get("model"), dict) else {}
    extra = ckpt.get("extra") if isinstance(ckpt.get("extra"), dict) else {}
    classes = extra.get("classes", ckpt.get("classes"))
    sr, length = data_cfg.get("sr"), data_cfg.get("length")
    seconds = length / sr if isinstance(sr, int) and isinstance(length, int) and sr > 0 else None
    return {
        "path": str(path), "format": ckpt["format"], "format_version": version, "kind": ckpt.get("kind"),
        "family": ckpt.get("family"), "classes": list(classes) if isinstance(classes, list | tuple) else None,
        "sr": sr, "length": length, "seconds": seconds, "latent_dim": model_cfg.get("latent_dim"),
        "step": ckpt.get("step"), "seed": ckpt.get("seed"), "metrics": ckpt.get("metrics") or {},
        "data": _data_record(ckpt.get("data")), "created": ckpt.get("created"), "version": ckpt.get("version"),
        "init": ckpt.get("init") if isinstance(ckpt.get("init"), dict) else None,
        "inherited_classes": list(extra.get("inherited_classes") or []),
        "config": config,
    }


def _data_record(data: object) -> dict[str, Any] | None:
    """The release's ``{"cache": str, "counts": {split: {label: n}}}`` if it is well formed, else None."""
    if not isinstance(data, dict) or not isinstance(data.get("counts"), dict):
        return None
    counts = {}
    for split, per_label in data["counts"].items():
        if not isinstance(per_label, dict) or not all(isinstance(n, int) for n in per_label.values()):
            return None
        counts[str(split)] = {str(label): n for label, n in per_label.items()}
    return {"cache": data.get("cache"), "counts": counts}


def _flat_metrics(metrics: dict, prefix: str = "") -> list[tuple[str, float]]:
    """``{"test": {"acc8": 0.8}}`` -> ``[("test/acc8", 0.8)]``; non-numbers (matrices) are left out."""
    rows = []
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            rows += _flat_metrics(value, f"{name}/")
        elif isinstance(value, int | float) and not isinstance(value, bool):
            rows.append((name, float(value)))
    return rows


def card_text(card: dict[str, Any]) -> str:
    """The human-readable model card of :func:`model_card` (plus ``sha256``)."""
    unknown = "not recorded"
    classes = card["classes"]
    lines = [f"{card['family'] or '?'} {card['kind'] or 'model'} checkpoint: {card['path']}",
             "classes: " + (f"{', '.join(classes)} ({len(classes)})" if classes else unknown)]
    if card["sr"] is not None:
        length = f"{card['length']} samples ({card['seconds']:.3f} s)" if card["seconds"] is not None else unknown
        lines.append(f"sample rate: {card['sr']} Hz; length: {length}")
    if card["latent_dim"] is not None:
        lines.append(f"latent dim: {card['latent_dim']}")
    if card["step"] is not None:
        lines.append(f"steps: {card['step']}" + (f" (seed {card['seed']})" if card["seed"] is not None else ""))
    metrics = _flat_metrics(card["metrics"])
    # validation and test scores first: they say how good the model is; losses say how training went
    metrics.sort(key=lambda kv: (not kv[0].startswith(("valid", "test")), kv[0]))
    lines.append("metrics:" + ("" if metrics else f" {unknown}"))
    lines += [f"  {name}: {value:.4g}" for name, value in metrics]
    data = card["data"]
    if data is None:
        lines.append(f"training data: {unknown}")
    else:
        lines.append(f"training data: {data['cache'] or 'cache ' + unknown}")
        for split, per_label in data["counts"].items():
            detail = ", ".join(f"{label} {n}" for label, n in per_label.items())
            lines.append(f"  {split}: {sum(per_label.values())} ({detail})")
    if card["init"] is not None:
        init = card["init"]
        lines.append(f"fine-tuned from: {init.get('from')} (step {init.get('step')}, sha256 "
                     f"{str(init.get('sha256', ''))[:12]}…)"
                     + (f"; inherited classes: {', '.join(card['inherited_classes'])}"
                        if card["inherited_classes"] else ""))
    lines.append(f"created: {card['created'] or unknown}; drumsynth {card['version'] or '?'}; "
                 f"format {card['format']} v{card['format_version']}")
    lines.append(f"sha256: {card['sha256']}")
    return "\n".join(lines)
