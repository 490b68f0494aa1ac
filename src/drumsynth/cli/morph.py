"""``drumsynth morph``: a latent interpolation between two sounds or two seeds, for every family.

Each end is a sound (``--a FILE``, analysed like ``vary --file``) or a seed (``--seed-a N``, drawn from
the prior with that end's class). ``--steps N`` hits are decoded along the path at t = 0, 1/(N-1), ...,
1 — spherical (``--mode slerp``, the default) or linear (``--mode lerp``) in the latent, linear in the
class weights — through ``Session.morph_latents``. They are written as one WAV per step (named like
``generate``'s, ``<family>_<class>_<NNN>.wav``; each sidecar's ``params`` carry ``t`` and the mode), or
with ``--sequence`` as one WAV of the steps back to back.
"""

from __future__ import annotations

import argparse

import numpy as np

from drumsynth.cli.common import (
    add_class_options,
    add_output_options,
    add_runtime_options,
    add_style_options,
    apply_runtime,
    apply_style,
    class_choice,
    emit,
    positive_int,
    seed_int,
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("morph", help="interpolate between two sounds or two seeds in a model's latent space",
                            description="Each end is a sound (--a/--b FILE, analysed) or a seed (--seed-a/--seed-b N, "
                                        "drawn from the prior). --steps hits are decoded along the path from a (t = 0) "
                                        "to b (t = 1), spherically (slerp) or linearly (lerp), one WAV per step or "
                                        "--sequence as one WAV.")
    parser.add_argument("--model", help="checkpoint path or family id (default: the shipped default model)")
    for end in ("a", "b"):
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument(f"--{end}", metavar="FILE", help=f"analyse this sound for end {end}")
        group.add_argument(f"--seed-{end}", type=seed_int, metavar="N", help=f"draw end {end} from the prior with this seed")
    add_class_options(parser, required=False)
    parser.add_argument("--class-a", help="class of end a (overrides --class / --mix for that end)")
    parser.add_argument("--class-b", help="class of end b (overrides --class / --mix for that end)")
    parser.add_argument("--steps", type=positive_int, default=8, help="hits along the path, ends included (>= 2, default 8)")
    parser.add_argument("--mode", choices=("slerp", "lerp"), default="slerp",
                        help="latent path: slerp (along the great circle, default) or lerp (straight line)")
    parser.add_argument("--sequence", action="store_true", help="write the steps back to back as one WAV")
    add_output_options(parser)
    parser.add_argument("--overwrite", action="store_true",
                        help="replace files of the same names (numbered from 000) instead of taking the next free "
                             "numbers in --out")
    add_style_options(parser)
    add_runtime_options(parser)
    parser.set_defaults(run=run)


def _end(session, args: argparse.Namespace, end: str, wave_sr, both) -> tuple:
    """(z Tensor[latent_dim], class weights Tensor[C]) of one end, through the Session."""
    from drumsynth.errors import DrumsynthError

    cls = getattr(args, f"class_{end}") or both
    session.sliders = None  # each end starts from its own class, not the other end's
    if cls is not None:  # before Analyze too: a model without a class estimate encodes with these
        session.set_sliders(cls)
    if wave_sr is not None:
        session.analyze(*wave_sr)
        if cls is not None:  # the user's class overrides the model's estimate
            session.set_sliders(cls)
    else:
        session.new_center(getattr(args, f"seed_{end}"))
    if session.sliders is None:
        why = f" ({session.family} models estimate no class weights from a sound)" if wave_sr is not None else ""
        raise DrumsynthError(f"choose --class, --mix or --class-{end} for end {end}{why}")
    return session.z_center.clone(), session.sliders.clone()


def run(args: argparse.Namespace) -> int:
    from drumsynth.audio.io import load_audio
    from drumsynth.errors import DrumsynthError
    from drumsynth.export.wav import HitFolder
    from drumsynth.inference.session import Render, Session

    if args.steps < 2:
        raise DrumsynthError(f"--steps must be at least 2 (the two ends), got {args.steps}")
    apply_runtime(args)
    folder = HitFolder(args.out, overwrite=args.overwrite)
    sounds = {end: load_audio(getattr(args, end)) if getattr(args, end) else None for end in ("a", "b")}
    session = Session.load(args.model, device=args.device)
    apply_style(session, args)
    both = class_choice(args, session.classes)
    a, b = (_end(session, args, end, sounds[end], both) for end in ("a", "b"))
    ts = [i / (args.steps - 1) for i in range(args.steps)]
    renders = [session.morph_latents(a, b, t, method=args.mode) for t in ts]
    if args.sequence:
        steps = [{"t": t, "latent": r.latents[0].tolist(), "labels": r.labels[0].tolist()} for t, r in zip(ts, renders)]
        head = renders[0]
        renders = [Render(waves=np.concatenate([r.waves for r in renders], axis=1), sample_rate=head.sample_rate,
                          latents=head.latents, labels=head.labels, seed=None,
                          provenance=head.provenance | {"params": {"method": args.mode, "steps": args.steps,
                                                                   "sequence": steps}})]
    paths = [p for render in renders for p in session.save(render, folder, out_sr=args.sr, bit_depth=args.bit_depth)]
    emit(args, {"model": str(session.checkpoint), "family": session.family, "mode": args.mode, "t": ts,
                "files": [str(p) for p in paths]}, "\n".join(str(p) for p in paths))
    return 0
