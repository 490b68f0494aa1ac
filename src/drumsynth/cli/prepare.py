"""``drumsynth prepare FOLDER… --out DIR``: a producer's own samples into a training cache."""

from __future__ import annotations

import argparse
import sys

from drumsynth.cli.common import add_json_option, emit


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "prepare", help="decode your own one-shot folders into a training cache",
        description="Labels come from folder and file names (Kicks/, Open Hats/, 808s/808 Kick.wav ...). "
                    "Loops, unreadable and unlabelled files are listed and skipped. Your folders are never "
                    "modified, and --out never replaces anything drumsynth did not write. See "
                    "docs/own-samples.md.")
    parser.add_argument("folders", nargs="+", help="folders of one-shots, sorted into class sub-folders")
    parser.add_argument("--out", required=True, help="cache folder to write (new, empty, or a cache with --force)")
    parser.add_argument("--force", action="store_true", help="replace an existing drumsynth cache at --out")
    parser.add_argument("--min-files", type=int, default=20, help="refuse fewer usable files (default 20)")
    parser.add_argument("--classify", action="store_true",
                        help="label files whose names say no class with the shipped drum classifier")
    parser.add_argument("--min-confidence", type=float, default=0.5,
                        help="with --classify, skip files the classifier is less sure of (default 0.5)")
    parser.add_argument("--valid-share", type=float, default=None,
                        help="share of files for validation (default 0.15 under 60 files, else 0.1)")
    parser.add_argument("--test-share", type=float, default=None,
                        help="share of files for testing (default 0 under 60 files, else 0.1)")
    add_json_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from drumsynth.data.prepare import class_split_table, prepare_folders
    from drumsynth.errors import DrumsynthError

    if args.min_files < 1:
        raise DrumsynthError(f"--min-files must be at least 1, got {args.min_files}")
    if not 0 <= args.min_confidence <= 1:
        raise DrumsynthError(f"--min-confidence must be in [0, 1], got {args.min_confidence}")
    report = prepare_folders(args.folders, args.out, min_files=args.min_files, progress=not args.json,
                             force=args.force, classify=args.classify, valid_share=args.valid_share,
                             test_share=args.test_share, min_confidence=args.min_confidence)
    if not args.json:
        for path, why in report.skipped:
            print(f"skipped {path}: {why}", file=sys.stderr)
    lines = [f"wrote {sum(report.counts.values())} one-shots to {report.out}", class_split_table(report),
             *report.notes()]
    emit(args, report.as_dict(), "\n".join(lines))
    return 0
