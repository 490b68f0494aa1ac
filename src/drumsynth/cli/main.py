"""Entry point of the ``drumsynth`` console script."""

from __future__ import annotations

import argparse
import sys

from drumsynth import __version__
from drumsynth.errors import DrumsynthError

# One module per verb, each with add_parser(subparsers); imported lazily by name so that
# `drumsynth --help` stays fast and a verb's heavy imports happen only when it runs.
VERBS = ("corpus", "prepare", "train", "generate", "encode", "vary", "classify", "evaluate", "bench", "demo",
         "info")


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(
        prog="drumsynth", description="Neural drum-sound synthesis: train, generate, shape and evaluate drum hits.")
    parser.add_argument("--version", action="version", version=f"drumsynth {__version__}")
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for verb in VERBS:
        importlib.import_module(f"drumsynth.cli.{verb}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except DrumsynthError as err:
        print(f"drumsynth {args.verb}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"drumsynth {args.verb}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
