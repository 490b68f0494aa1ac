"""Entry point of the ``drumsynth`` console script."""

from __future__ import annotations

import argparse
import os
import sys

from drumsynth import __version__
from drumsynth.errors import DrumsynthError

# One module per verb, each with add_parser(subparsers); imported lazily by name so that
# `drumsynth --help` stays fast and a verb's heavy imports happen only when it runs.
VERBS = ("corpus", "prepare", "train", "generate", "encode", "vary", "classify", "evaluate", "bench", "demo",
         "info", "kit", "humanize", "serve", "export", "web", "morph")


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(
        prog="drumsynth", description="Neural drum-sound synthesis: train, generate, shape and evaluate drum hits.")
    parser.add_argument("--version", action="version", version=f"drumsynth {__version__}")
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for verb in VERBS:
        importlib.import_module(f"drumsynth.cli.{verb}").add_parser(sub)
    return parser


def describe_os_error(err: OSError) -> str:
    """One line for a failed file operation: what failed, and on which path(s)."""
    text = err.strerror or str(err) or type(err).__name__
    paths = [p for p in (err.filename, err.filename2) if p is not None]
    if paths:
        text += ": " + " -> ".join(os.fsdecode(p) for p in paths)
    return text


def _quiet_broken_pipe() -> int:
    """The reader of stdout went away (``drumsynth info | head -c1``): stop without a word.

    Python's recipe: point stdout at devnull so that the interpreter's final flush cannot raise again.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 1


def main(argv: list[str] | None = None) -> int:
    # File names that are not UTF-8 reach Python as lone surrogates; print them as the bytes they were
    # (what `ls` shows) instead of failing with UnicodeEncodeError.
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="surrogateescape")
    verb = "?"
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        verb = args.verb
        status = int(args.run(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's shutdown
        return status
    except DrumsynthError as err:
        print(f"drumsynth {verb}: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except OSError as err:
        # read-only or full disk, a name too long, --out naming an existing file...: the user's
        # environment, not a bug, so one line like any other bad input
        print(f"drumsynth {verb}: error: {describe_os_error(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"drumsynth {verb}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
