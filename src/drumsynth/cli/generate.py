"""``drumsynth generate``: drum hits from a trained model as finished WAV files with sidecars.

Files are named ``<family>_<class>_<NNN>.wav`` (+ ``.json``), continuing after the numbers already in
``--out`` (``--overwrite`` numbers from 000 and replaces). Hits are decoded and written a batch at a
time, so ``-n 4096`` needs no more memory than ``-n 64``.
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
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("generate", help="generate drum hits as WAV files (+ JSON sidecars)")
    parser.add_argument("--model", help="checkpoint path or family id (default: the shipped default model)")
    add_class_options(parser, required=True)
    parser.add_argument("-n", type=int, default=1, help="number of hits (default 1)")
    parser.add_argument("--xy", type=float, nargs=2, metavar=("X", "Y"),
                        help="XY pad position in [-1, 1] (ndm): one hit at that point instead of random ones")
    parser.add_argument("--fine", type=float, default=0.0, help="Fine knob in [-1, 1] (ndm, with --xy)")
    parser.add_argument("--range", type=float, default=2.0, dest="range_std",
                        help="XY pad range in standard deviations (ndm, with --xy; default 2)")
    parser.add_argument("--crop", type=float, nargs=2, metavar=("START", "END"),
                        help="keep this part of each hit, as fractions of its length (e.g. 0 0.5)")
    add_output_options(parser)
    parser.add_argument("--overwrite", action="store_true",
                        help="replace files of the same names (numbered from 000) instead of taking the next free "
                             "numbers in --out")
    add_style_options(parser)
    add_runtime_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from drumsynth.errors import DrumsynthError
    from drumsynth.export.wav import HitFolder
    from drumsynth.inference.session import Session

    apply_runtime(args)
    folder = HitFolder(args.out, overwrite=args.overwrite)
    session = Session.load(args.model, device=args.device)
    apply_style(session, args)
    cls = class_choice(args, session.classes)
    if args.xy is not None:
        if args.cls is None:
            raise DrumsynthError("--xy needs --class (the XY pad spans that class's own latent PCA), not --mix")
        renders = [session.controls(args.cls, p1=args.xy[0], p2=args.xy[1], p3=args.fine,
                                    range_std=args.range_std)]
    else:
        renders = session.generate_batches(cls, n=args.n, seed=args.seed)
    paths = []
    for render in renders:  # one batch at a time: written before the next is decoded
        if args.crop is not None:
            render = session.crop(render, *args.crop)
        paths += session.save(render, folder, out_sr=args.sr, bit_depth=args.bit_depth)
    emit(args, {"model": str(session.checkpoint), "family": session.family, "files": [str(p) for p in paths]},
         "\n".join(str(p) for p in paths))
    return 0
