"""``drumsynth encode FILE [--model M] [--out latent.json]``: a sound's latent (DrumGAN VST's Analyze)."""

from __future__ import annotations

import argparse

from drumsynth.cli.common import add_class_options, add_device_options, add_json_option, emit


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "encode", help="encode a sound into a model's latent space (and its class weights, where estimated)",
        description="Analyze: the latent of FILE and the class sliders the model estimates for it (models "
                    "without an estimate keep --class/--mix, used as the encoder's class conditioning).")
    parser.add_argument("file", help="audio file (wav, flac, ogg, aiff, mp3); resampled to the model's rate")
    parser.add_argument("--model", help="checkpoint path or family id (default: the shipped default model)")
    add_class_options(parser, required=False)
    parser.add_argument("--out", help="also write the JSON to this file (a new file: an existing one needs "
                                      "--overwrite, a folder is refused)")
    parser.add_argument("--overwrite", action="store_true", help="replace the --out file if it exists")
    add_device_options(parser)
    add_json_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from drumsynth.audio.io import load_audio
    from drumsynth.cli.common import apply_runtime, class_choice
    from drumsynth.errors import DrumsynthError
    from drumsynth.export.wav import replace_file, write_new
    from drumsynth.inference.session import Session

    apply_runtime(args)
    out = Path(args.out) if args.out else None
    if out is not None and out.is_dir():
        raise DrumsynthError(f"--out {out} is a folder; give a file name such as {out / 'latent.json'}")
    if out is not None and out.exists() and not args.overwrite:
        raise DrumsynthError(f"--out {out} exists; pass --overwrite to replace it")
    wave, sr = load_audio(args.file)
    session = Session.load(args.model, device=args.device)
    cls = class_choice(args, session.classes)
    if cls is not None:
        session.set_sliders(cls)
    result = session.analyze(wave, sr)
    payload = {"file": args.file, "model": str(session.checkpoint), "family": session.family,
               "latent": result["latent"], "sliders": result["sliders"]}
    if out is not None:
        blob = (json.dumps(payload, indent=2) + "\n").encode()
        if args.overwrite:
            replace_file(out, blob)
        elif not write_new(out, blob):
            raise DrumsynthError(f"--out {out} appeared while encoding; pass --overwrite to replace it")
    sliders = ", ".join(f"{c} {w:.2f}" for c, w in result["sliders"].items()) or "none"
    text = (f"{args.file}: {session.label} latent of {len(result['latent'])} dims; sliders: {sliders}"
            + (f"\nwritten to {args.out}" if args.out else ""))
    emit(args, payload, text)
    return 0
