"""``drumsynth vary``: variations around a latent centre (DrumGAN VST's Variation intensity and 2-D pad).

The centre is a sound (``--file``, analysed) or a seed (``--seed-center``); each ``--intensity A`` decodes
``z_center + A·e1`` and ``--plane X Y`` decodes ``z_center + X·e1 + Y·e2``, with the random orthonormal
directions ``e1``, ``e2`` drawn from ``--direction-seed``. Files are named like ``generate``'s
(``<family>_<class>_<NNN>.wav``, next free numbers); each sidecar's ``verb`` and ``params`` say which
intensity or plane point made it.
"""

from __future__ import annotations

import argparse

from drumsynth.cli.common import (
    add_class_options,
    add_output_options,
    add_runtime_options,
    add_style_options,
    apply_runtime,
    apply_style,
    class_choice,
    emit,
    seed_int,
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("vary", help="variations of a sound or a seed along random latent directions",
                            description="The centre is a sound (--file, analysed) or a seed (--seed-center). Each "
                                        "--intensity A decodes z_center + A*e1; --plane X Y decodes z_center + "
                                        "X*e1 + Y*e2, with random orthonormal directions e1, e2 drawn from "
                                        "--direction-seed.")
    parser.add_argument("--model", help="checkpoint path or family id (default: the shipped default model)")
    center = parser.add_mutually_exclusive_group(required=True)
    center.add_argument("--file", help="analyse this sound for the centre (and the class sliders, where "
                                       "the model estimates them)")
    center.add_argument("--seed-center", type=seed_int, metavar="N", help="draw the centre from the prior with this seed")
    add_class_options(parser, required=False)
    move = parser.add_mutually_exclusive_group(required=True)
    move.add_argument("--intensity", type=float, nargs="+", metavar="A",
                      help="variation intensities: one hit per value (0 is the centre itself)")
    move.add_argument("--plane", type=float, nargs=2, metavar=("X", "Y"), help="one hit at this point of the plane")
    parser.add_argument("--direction-seed", type=seed_int, default=None, metavar="S",
                        help="seed of the variation directions (default: --seed)")
    add_output_options(parser)
    parser.add_argument("--overwrite", action="store_true",
                        help="replace files of the same names (numbered from 000) instead of taking the next free "
                             "numbers in --out")
    add_style_options(parser)
    add_runtime_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from drumsynth.audio.io import load_audio
    from drumsynth.errors import DrumsynthError
    from drumsynth.export.wav import HitFolder
    from drumsynth.inference.session import Session

    apply_runtime(args)
    folder = HitFolder(args.out, overwrite=args.overwrite)
    wave_sr = load_audio(args.file) if args.file else None
    session = Session.load(args.model, device=args.device)
    apply_style(session, args)
    cls = class_choice(args, session.classes)
    if cls is not None:  # before Analyze too: a model without a class estimate encodes with these
        session.set_sliders(cls)
    if wave_sr is not None:
        session.analyze(*wave_sr)
        if cls is not None:  # the user's sliders override the model's estimate
            session.set_sliders(cls)
    else:
        session.new_center(args.seed_center)
    if session.sliders is None:
        why = f" ({session.family} models estimate no class weights from a sound)" if args.file else ""
        raise DrumsynthError(f"choose --class or --mix{why}")
    session.new_direction(args.seed if args.direction_seed is None else args.direction_seed)
    if args.plane is not None:
        renders = [session.plane(*args.plane)]
    else:
        renders = [session.vary(a) for a in args.intensity]
    paths = [p for render in renders for p in session.save(render, folder, out_sr=args.sr, bit_depth=args.bit_depth)]
    emit(args, {"model": str(session.checkpoint), "family": session.family, "sliders": session.slider_values(),
                "files": [str(p) for p in paths]}, "\n".join(str(p) for p in paths))
    return 0
