"""``drumsynth demo``: render a small drum kit with the shipped default model (what ``make demo`` runs).

Hits go to ``--out/<class>/<family>_<class>_<NNN>.wav`` and the spectrogram sheet to ``--out/sheet.png``;
a second run into the same folder adds files (``sheet_001.png``, the next numbers) unless ``--overwrite``.
"""

from __future__ import annotations

import argparse

from drumsynth.cli.common import add_runtime_options, apply_runtime, emit


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("demo", help="render a small kit (every class) with the shipped default model")
    parser.add_argument("--model", help="checkpoint path or family id (default: the shipped default model)")
    parser.add_argument("--out", default="demo-out", help="output folder (default demo-out)")
    parser.add_argument("-n", type=int, default=4, help="hits per class (default 4)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the files of an earlier demo in --out instead of adding new ones")
    add_runtime_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import tempfile
    from pathlib import Path

    from drumsynth.export.wav import HitFolder
    from drumsynth.inference.session import Session
    from drumsynth.metrics.sheet import spectrogram_sheet

    apply_runtime(args)
    out = HitFolder(args.out, overwrite=args.overwrite)
    session = Session.load(args.model, device=args.device)
    files, rows = [], {}
    for i, cls in enumerate(session.trained_classes):
        render = session.generate(cls, n=args.n, seed=args.seed + 1000 * i)
        files += session.save(render, HitFolder(Path(args.out) / cls, overwrite=args.overwrite))
        rows[cls] = [render.finished(k) for k in range(len(render.waves))]
    with tempfile.TemporaryDirectory() as tmp:  # drawn aside, then published without replacing a file
        drawn = spectrogram_sheet(rows, 44100, Path(tmp) / "sheet.png",
                                  title=f"drumsynth demo: {session.family} ({session.checkpoint.name}), seed {args.seed}")
        sheet = out.write_file("sheet", ".png", drawn.read_bytes())
    emit(args, {"model": str(session.checkpoint), "family": session.family, "files": [str(f) for f in files],
                "sheet": str(sheet)},
         f"{session.family} model {session.checkpoint}: wrote {len(files)} hits "
         f"({args.n} per class: {', '.join(rows)}) to {args.out}/, spectrograms in {sheet}")
    return 0
