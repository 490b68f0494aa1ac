"""``drumsynth kit``: a drum kit from a model, as an SFZ instrument, a Hydrogen drumkit and a sample pack.

One folder holds ``kit.sfz``, ``drumkit.xml``, the 24-bit tagged samples named by General MIDI note
(``036_kick_v1_rr1.wav`` + ``.json`` sidecar) and the ``kit.json`` manifest; ``--pack N`` adds
``pack/<class>/`` with N fresh hits per class. Rendering again into a kit folder drumsynth wrote
replaces that kit; any other non-empty folder is refused unless ``--overwrite``. See docs/kits.md.
"""

from __future__ import annotations

import argparse

from drumsynth.cli.common import add_output_options, add_runtime_options, apply_runtime, emit, positive_int


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def add_parser(sub: argparse._SubParsersAction) -> None:
    from drumsynth.export.variation import DEFAULT_AMOUNT

    parser = sub.add_parser("kit", help="render a drum kit: SFZ instrument, Hydrogen drumkit, sample pack",
                            description="Renders every class the model knows on its General MIDI notes (kick 36, "
                                        "snare 38, clap 39, hats 42/46, crash 49, toms 45/47/48/50, perc 56/75), "
                                        "with velocity layers and round-robin samples that are small latent "
                                        "variations of each instrument, as kit.sfz + drumkit.xml + WAVs in --out.")
    parser.add_argument("--model", help="checkpoint path or family id (default: the shipped default model)")
    parser.add_argument("--per-class", type=positive_int, default=None, metavar="N",
                        help="instruments per class, each on its own General MIDI note (default: 4 toms, 2 percs, "
                             "1 of every other class)")
    parser.add_argument("--classes", nargs="+", metavar="NAME", help="only these classes (default: all the model knows)")
    parser.add_argument("--velocity-layers", type=positive_int, default=3, metavar="V",
                        help="velocity layers per instrument (default 3; darker samples on softer layers)")
    parser.add_argument("--round-robin", type=positive_int, default=3, metavar="R",
                        help="round-robin samples per velocity layer (default 3; V x R <= 16)")
    parser.add_argument("--amount", type=float, default=DEFAULT_AMOUNT, metavar="A",
                        help=f"variation between samples of an instrument, as a fraction of the class's latent "
                             f"spread, 0..1 (default {DEFAULT_AMOUNT})")
    parser.add_argument("--pack", type=_non_negative, default=0, metavar="N",
                        help="also write N fresh hits per class under pack/<class>/ (a browsable sample pack)")
    parser.add_argument("--name", help="kit name shown by Hydrogen and in the SFZ header "
                                       "(default: 'drumsynth <family> seed <seed>')")
    add_output_options(parser)
    parser.add_argument("--overwrite", action="store_true",
                        help="allow a non-empty --out that is not a drumsynth kit (same-named files are replaced)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_runtime_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from drumsynth.export.kit import KitOptions, render_kit
    from drumsynth.export.kit_folder import KitFolder
    from drumsynth.inference.session import Session

    apply_runtime(args)
    options = KitOptions(seed=args.seed, per_class=args.per_class, velocity_layers=args.velocity_layers,
                         round_robin=args.round_robin, amount=args.amount, pack=args.pack, name=args.name,
                         classes=tuple(args.classes) if args.classes else None, out_sr=args.sr,
                         bit_depth=args.bit_depth).checked()
    folder = KitFolder(args.out, overwrite=args.overwrite)  # refused before the model loads
    session = Session.load(args.model, device=args.device)
    report = render_kit(session, folder, options, progress=not (args.quiet or args.json))
    lsd = report.round_robin_lsd
    instruments = [{"note": ins.note, "name": ins.name, "class": ins.cls, "samples": len(ins.samples)}
                   for ins in report.layout.instruments]
    lines = [f"kit {report.layout.name!r} in {report.folder} ({len(report.files)} samples, {report.seconds:.1f} s)",
             *(f"  {i['note']:3d} {i['name']:<20} {i['class']:<13} {i['samples']} samples" for i in instruments),
             f"  SFZ: {report.folder / 'kit.sfz'}", f"  Hydrogen: {report.folder / 'drumkit.xml'}"]
    if lsd.get("pairs"):
        lines.append(f"  round-robin LSD over {lsd['pairs']} pairs: mean {lsd['mean']:.2f} dB "
                     f"(min {lsd['min']:.2f}, max {lsd['max']:.2f})")
    lines += [f"  left out: {cls}: {why}" for cls, why in report.skipped.items()]
    emit(args, {"folder": str(report.folder), "name": report.layout.name, "family": session.family,
                "instruments": instruments, "files": [str(p) for p in report.files], "skipped": report.skipped,
                "round_robin_lsd_db": lsd, "seconds": report.seconds}, "\n".join(lines))
    return 0
