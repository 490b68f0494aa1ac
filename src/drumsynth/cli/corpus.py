"""``drumsynth corpus build|stats``: the free drum corpus from Debian packages."""

from __future__ import annotations

import argparse

from drumsynth.cli.common import add_json_option, emit


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("corpus", help="build or describe the free drum corpus",
                            description="Find the drum one-shots of the installed free packages "
                                        "(scripts/install-corpus), label, de-duplicate, split by kit, cache.")
    verbs = parser.add_subparsers(dest="corpus_verb", required=True, metavar="{build,stats}")
    build = verbs.add_parser("build", help="decode the installed packages into a cache folder")
    build.add_argument("--out", required=True, help="cache folder to write (e.g. data/corpus): new, empty, "
                                                    "or an existing drumsynth cache with --force")
    build.add_argument("--force", action="store_true", help="replace an existing drumsynth cache at --out")
    add_json_option(build)
    stats = verbs.add_parser("stats", help="per-class x per-split counts of a cache")
    stats.add_argument("cache", help="cache folder written by 'corpus build' or 'prepare'")
    add_json_option(stats)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from drumsynth.data.cache import load_cache
    from drumsynth.data.corpus import build_corpus, corpus_stats

    if args.corpus_verb == "build":
        out = build_corpus(args.out, progress=not args.json, force=args.force)
        cache = load_cache(out)
    else:
        cache = load_cache(args.cache)
    counts = {split: dict(c) for split, c in cache.counts().items()}
    emit(args, {"cache": str(cache.root), "n": len(cache), "counts": counts}, corpus_stats(cache))
    return 0
