"""``drumsynth classify FILE… [--model PATH] [--top K] [--json]``: what kind of drum is each file?"""

from __future__ import annotations

import argparse
import sys

from drumsynth.cli.common import add_device_options, add_json_option, emit


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "classify", help="8-class and 3-class drum probabilities of audio files",
        description="Runs the evaluation classifier (the shipped one unless --model) on the start of each "
                    "file. Unreadable files are reported on stderr and skipped; the exit status is 2 if any was.")
    parser.add_argument("files", nargs="+", help="audio files (wav, flac, ogg, aiff, mp3)")
    parser.add_argument("--model", default=None, help="classifier checkpoint (default: the shipped one)")
    parser.add_argument("--top", type=int, default=3, help="how many of the 8 classes to print (default 3)")
    add_device_options(parser)
    add_json_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from drumsynth.audio.io import load_audio
    from drumsynth.cli.common import apply_runtime
    from drumsynth.data.taxonomy import CLASSES, CLASSES3
    from drumsynth.errors import DrumsynthError
    from drumsynth.metrics.classifier import load_classifier

    if args.top < 1:
        raise DrumsynthError(f"--top must be at least 1, got {args.top}")
    apply_runtime(args)
    model = load_classifier(args.model, device=args.device)
    results, errors = [], []
    for path in args.files:
        try:
            wave, sr = load_audio(path)
            out = model.predict(wave, sr)
        except DrumsynthError as err:
            print(f"drumsynth classify: error: {err}", file=sys.stderr)
            errors.append({"file": path, "error": str(err)})
            continue
        p8, p3 = out["probs8"][0].tolist(), out["probs3"][0].tolist()
        top = sorted(zip(CLASSES, p8), key=lambda kv: -kv[1])[:args.top]
        results.append({"file": path, "probs8": dict(zip(CLASSES, p8)), "probs3": dict(zip(CLASSES3, p3)),
                        "top": [{"class": c, "p": p} for c, p in top]})
    lines = []
    for r in results:
        top = ", ".join(f"{t['class']} {t['p']:.2f}" for t in r["top"])
        three = ", ".join(f"{c} {p:.2f}" for c, p in r["probs3"].items())
        lines.append(f"{r['file']}: {top} | {three}")
    emit(args, {"results": results, "errors": errors}, "\n".join(lines))
    return 2 if errors else 0
