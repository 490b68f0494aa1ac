"""``drumsynth prepare FOLDER… --out DIR``: a producer's own samples into a training cache."""

from __future__ import annotations

import argparse
import sys

from drumsynth.cli.common import add_json_option, emit


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "prepare", help="decode your own one-shot folders into a training cache",
        description="Labels come from folder names (kick/, snare/, hats/ ...). Unreadable files are "
                    "listed and skipped; nothing is changed in your folders.")
    parser.add_argument("folders", nargs="+", help="folders of one-shots, sorted into class sub-folders")
    parser.add_argument("--out", required=True, help="cache folder to write")
    parser.add_argument("--min-files", type=int, default=20, help="refuse fewer usable files (default 20)")
    add_json_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from drumsynth.data.prepare import prepare_folders

    report = prepare_folders(args.folders, args.out, min_files=args.min_files, progress=not args.json)
    for path, why in report.skipped:
        print(f"skipped {path}: {why}", file=sys.stderr)
    counts = ", ".join(f"{k} {v}" for k, v in sorted(report.counts.items()))
    emit(args, {"out": str(report.out), "counts": dict(report.counts),
                "skipped": [{"path": p, "reason": r} for p, r in report.skipped]},
         f"wrote {sum(report.counts.values())} one-shots to {report.out} ({counts}); "
         f"{len(report.skipped)} skipped")
    return 0
