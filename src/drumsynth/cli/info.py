"""``drumsynth info [CHECKPOINT|CACHE]``: what is installed, shipped, or inside a file."""

from __future__ import annotations

import argparse
import platform
from pathlib import Path

from drumsynth.cli.common import add_json_option, emit

PRETRAINED = Path(__file__).resolve().parent.parent / "pretrained"


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("info", help="describe the installation, a checkpoint or a cache")
    parser.add_argument("path", nargs="?", help="a checkpoint (.pt) or a cache folder")
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
    from drumsynth.checkpoint import load_checkpoint

    ckpt = load_checkpoint(path)
    payload = {k: ckpt.get(k) for k in ("format", "format_version", "family", "step", "version", "metrics",
                                         "config", "created")}
    text = "\n".join(f"{k}: {v}" for k, v in payload.items() if k != "config")
    emit(args, payload, text)
    return 0
