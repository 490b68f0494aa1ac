"""``drumsynth demo``: render a small drum kit with the shipped default model (what ``make demo`` runs)."""

from __future__ import annotations

import argparse

from drumsynth.cli.common import add_runtime_options, apply_runtime, emit


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("demo", help="render a small kit (every class) with the shipped default model")
    parser.add_argument("--model", help="checkpoint path or family id (default: the shipped default model)")
    parser.add_argument("--out", default="demo-out", help="output folder (default demo-out)")
    parser.add_argument("-n", type=int, default=4, help="hits per class (default 4)")
    add_runtime_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from drumsynth.inference.session import Session
    from drumsynth.metrics.sheet import spectrogram_sheet

    apply_runtime(args)
    session = Session.load(args.model, device=args.device)
    files, rows = [], {}
    for i, cls in enumerate(session.classes):
        render = session.generate(cls, n=args.n, seed=args.seed + 1000 * i)
        files += session.save(render, Path(args.out) / cls, prefix=cls)
        rows[cls] = [render.finished(k) for k in range(args.n)]
    sheet = spectrogram_sheet(rows, 44100, Path(args.out) / "sheet.png",
                              title=f"drumsynth demo: {session.family} ({session.checkpoint.name}), seed {args.seed}")
    emit(args, {"model": str(session.checkpoint), "family": session.family, "files": [str(f) for f in files],
                "sheet": str(sheet)},
         f"{session.family} model {session.checkpoint}: wrote {len(files)} hits "
         f"({args.n} per class: {', '.join(session.classes)}) to {args.out}/, spectrograms in {sheet}")
    return 0
