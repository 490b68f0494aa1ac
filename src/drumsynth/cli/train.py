"""``drumsynth train``: train a model family on a cache, resumably; works under ``torchrun`` too."""

from __future__ import annotations

import argparse

from drumsynth.cli.common import add_json_option, emit

TRAINER_KEYS = ("log_every", "checkpoint_every", "preview_every", "preview_n", "valid_every", "ema_decay")


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "train", help="train a model family (resumes from OUT/resume.pt)",
        description="Presets: tiny (seconds), cpu (the shipped default, ~1 h on 2 cores), paper (the seed's "
                    "hyperparameters, for a GPU). Multi-process: torchrun --nproc_per_node N -m drumsynth.cli.main "
                    "train ...")
    parser.add_argument("--family", required=True, help="wavegan | style | ndm | drumgan")
    parser.add_argument("--preset", default="cpu", help="tiny | cpu | paper (default cpu)")
    parser.add_argument("--data", required=True, help="cache folder (drumsynth corpus build / prepare)")
    parser.add_argument("--out", required=True, help="run folder: resume.pt, release.pt, best.pt, log.jsonl, previews/")
    parser.add_argument("--config", action="append", default=[], metavar="TOML", help="extra overlay (repeatable)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override one setting, e.g. --set train.lr=2e-4 (repeatable)")
    parser.add_argument("--steps", type=int, help="shorthand for --set train.max_steps=N")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: the config's)")
    parser.add_argument("--seed", type=int, help="random seed (default: the config's)")
    parser.add_argument("--no-resume", action="store_true", help="refuse to continue an existing run")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_json_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from drumsynth.config import to_dict
    from drumsynth.data.cache import load_cache
    from drumsynth.errors import DrumsynthError
    from drumsynth.models import build_family_config, family_module
    from drumsynth.train import Trainer, seed_everything
    from drumsynth.train import distributed as dist

    overrides = list(args.set)
    if args.steps is not None:
        overrides.append(f"train.max_steps={args.steps}")
    if args.seed is not None:
        overrides.append(f"train.seed={args.seed}")
    if args.threads is not None:
        overrides.append(f"train.threads={args.threads}")
    config = build_family_config(args.family, args.preset, config_files=args.config, overrides=overrides)
    if args.no_resume and (Path(args.out) / "resume.pt").exists():
        raise DrumsynthError(f"{args.out} already holds a run (resume.pt) and --no-resume was given")
    info = dist.init_distributed(args.device)
    module = family_module(args.family)
    cache = load_cache(args.data)
    train = config.train
    # Identical initial weights on every rank (DDP also broadcasts rank 0's at wrap time).
    seed_everything(train.seed)
    recipe = module.build_recipe(config, cache)
    train_data, valid_data = module.data_factories(config, cache, info.rank, info.world_size)
    trainer = Trainer(recipe, train_data, args.out, max_steps=train.max_steps, valid_data=valid_data,
                      seed=train.seed, device=str(info.device), threads=train.threads or None,
                      progress=not (args.quiet or args.json), **{k: getattr(train, k) for k in TRAINER_KEYS})
    try:
        result = trainer.fit()
    finally:
        dist.cleanup()
    if info.rank == 0:
        emit(args, {"out": args.out, "step": result.step, "metrics": result.metrics, "best": result.best,
                    "interrupted": result.interrupted, "config": to_dict(config)},
             f"{'interrupted at' if result.interrupted else 'finished'} step {result.step}; "
             f"release file {Path(args.out) / 'release.pt'}")
    return result.exit_code
