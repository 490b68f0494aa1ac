"""``drumsynth train``: train a model family on a cache, resumably; works under ``torchrun`` too.

With ``--init MODEL`` the run fine-tunes a trained model (:mod:`drumsynth.train.finetune`).
"""

from __future__ import annotations

import argparse
from typing import Any

from drumsynth.cli.common import add_json_option, emit, seed_int, thread_count

TRAINER_KEYS = ("log_every", "checkpoint_every", "preview_every", "preview_n", "valid_every", "ema_decay")


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "train", help="train a model family, or fine-tune one on your kit (resumes from OUT/resume.pt)",
        description="Presets: tiny (seconds), cpu (the shipped models; ndm: 4000 steps of about 1 s on 2 "
                    "cores), paper (the seed's hyperparameters, for a GPU), "
                    "finetune (ndm; the default with --init). Fine-tuning: 'drumsynth train --init ndm --data "
                    "MYKIT_CACHE --out runs/mykit' starts from the shipped model, keeps its architecture and "
                    "classes, and trains 20 steps per training file (within 200-2000) unless --steps is "
                    "given: a 40-file kit takes 680 steps. "
                    "Multi-process: torchrun --nproc_per_node N -m drumsynth.cli.main train ...")
    parser.add_argument("--family", help="wavegan | style | ndm | drumgan (default with --init: the model's)")
    parser.add_argument("--init", metavar="MODEL",
                        help="fine-tune: start from a shipped model (ndm) or a checkpoint file")
    parser.add_argument("--preset", help="tiny | cpu | paper | finetune (ndm) | inverter (ndm with --init: "
                                          "the MCNN only) | explore3d (wavegan, 3-d latent) "
                                          "(default cpu; finetune with --init)")
    parser.add_argument("--data", required=True, help="cache folder (drumsynth corpus build / prepare)")
    parser.add_argument("--out", required=True, help="run folder: resume.pt, release.pt, best.pt, log.jsonl, previews/")
    parser.add_argument("--config", action="append", default=[], metavar="TOML", help="extra overlay (repeatable)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override one setting, e.g. --set train.lr=2e-4 (repeatable)")
    parser.add_argument("--steps", type=int, help="shorthand for --set train.max_steps=N")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--threads", type=thread_count, help="torch CPU threads (default: the config's)")
    parser.add_argument("--seed", type=seed_int, help="random seed (default: the config's)")
    parser.add_argument("--no-resume", action="store_true", help="refuse to continue an existing run")
    parser.add_argument("--quiet", action="store_true", help="no stage lines and no progress bar")
    add_json_option(parser)
    parser.set_defaults(run=run)


def data_record(cache) -> dict[str, Any]:
    """The release file's ``"data"`` entry: the cache folder and its class counts by split, every class
    of the taxonomy listed (0 where absent): ``{"cache": str, "counts": {split: {label: n}}}``."""
    from drumsynth.data.cache import SPLITS
    from drumsynth.data.taxonomy import CLASSES

    counts = {split: {label: 0 for label in CLASSES} for split in SPLITS}
    for record in cache.records:
        counts[record["split"]][record["label"]] += 1
    return {"cache": str(cache.root.resolve()), "counts": counts}


def _user_set_steps(args: argparse.Namespace) -> bool:
    return args.steps is not None or any(s.replace(" ", "").startswith("train.max_steps=") for s in args.set)


def run_config(args: argparse.Namespace, family: str, init=None, n_train: int = 0):
    """The run's config from the parsed options: the preset (default ``cpu``) and overlays, or with
    ``init`` (a :class:`drumsynth.train.finetune.InitModel`) the init model's config with the training
    settings of the preset (default ``finetune``) and ``max_steps`` scaled to ``n_train`` training files
    unless the user set it."""
    from drumsynth.config import load_toml
    from drumsynth.models import build_family_config, family_module, preset_path
    from drumsynth.train.finetune import finetune_config, steps_for

    overrides = list(args.set)
    if args.steps is not None:
        overrides.append(f"train.max_steps={args.steps}")
    if args.seed is not None:
        overrides.append(f"train.seed={args.seed}")
    if args.threads is not None:
        overrides.append(f"train.threads={args.threads}")
    if init is None:
        return build_family_config(family, args.preset or "cpu", config_files=args.config, overrides=overrides)
    if not _user_set_steps(args):
        overrides.insert(0, f"train.max_steps={steps_for(n_train)}")
    overlays = [load_toml(preset_path(family, args.preset or "finetune")), *map(load_toml, args.config)]
    return finetune_config(family_module(family).Config, init, overlays, overrides)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from drumsynth.config import to_dict
    from drumsynth.data.cache import load_cache
    from drumsynth.errors import DrumsynthError
    from drumsynth.models import checkpoint_config, family_module
    from drumsynth.train import Trainer, seed_everything
    from drumsynth.train import distributed as dist
    from drumsynth.train.finetune import load_init
    from drumsynth.train.stages import StageLog

    if args.no_resume and (Path(args.out) / "resume.pt").exists():
        raise DrumsynthError(f"{args.out} already holds a run (resume.pt) and --no-resume was given")
    info = dist.init_distributed(args.device)
    stages = StageLog(enabled=info.rank == 0 and not args.quiet)
    init = None
    if args.init:
        with stages.stage(f"reading the model to fine-tune ({args.init})") as detail:
            init = load_init(args.init)
            detail.append(f"{init.family}, step {init.checkpoint.get('step')}")
        if args.family and args.family != init.family:
            raise DrumsynthError(f"--init {args.init} is a {init.family} model, not --family {args.family}")
    family = args.family or (init.family if init else None)
    if not family:
        raise DrumsynthError("--family is required (or --init MODEL to fine-tune a trained model)")
    module = family_module(family)
    if init is not None:
        # Before the slow stages: the weights must fit the stored config, and the family must allow it.
        module.build_recipe(checkpoint_config(init.checkpoint, family, module.Config), None).init_from(
            init.checkpoint)

    with stages.stage(f"loading the cache {args.data}") as detail:
        cache = load_cache(args.data)
        n_train = len(cache.indices("train"))
        detail.append(f"{len(cache)} sounds: train {n_train}, valid {len(cache.indices('valid'))}, "
                      f"test {len(cache.indices('test'))}")

    config = run_config(args, family, init, n_train)
    if init is not None:
        stages.note(f"fine-tuning {init.path} for {config.train.max_steps} steps on {n_train} training files")
    train = config.train

    with stages.stage("decoding and analysing the clips"):
        train_data, valid_data = module.data_factories(config, cache, info.rank, info.world_size)
    with stages.stage("building the model") as detail:
        # Identical initial weights on every rank (DDP also broadcasts rank 0's at wrap time).
        seed_everything(train.seed)
        recipe = module.build_recipe(config, cache)
        if init is not None:
            recipe.init_from(init.checkpoint)
            detail.append(f"weights of {init.path}")
    release_fields = {"data": data_record(cache)}
    if init is not None:
        release_fields["init"] = init.provenance()
    trainer = Trainer(recipe, train_data, args.out, max_steps=train.max_steps, valid_data=valid_data,
                      seed=train.seed, device=str(info.device), threads=train.threads or None,
                      progress=not (args.quiet or args.json), stages=stages, release_fields=release_fields,
                      **{k: getattr(train, k) for k in TRAINER_KEYS})
    try:
        result = trainer.fit()
    finally:
        dist.cleanup()
    if info.rank == 0:
        emit(args, {"out": args.out, "step": result.step, "metrics": result.metrics, "best": result.best,
                    "interrupted": result.interrupted, "config": to_dict(config),
                    "init": release_fields.get("init"), "stages": stages.durations},
             f"{'interrupted at' if result.interrupted else 'finished'} step {result.step}; "
             f"release file {Path(args.out) / 'release.pt'}")
    return result.exit_code
