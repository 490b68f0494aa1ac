"""``drumsynth humanize``: render a General MIDI drum pattern with a fresh small variation on every hit.

Channel-10 notes are mapped to the model's classes by the General MIDI drum table; each key gets its own
instrument and each hit a small latent variation of it (velocity sets level and variation). Writes
``--out FILE.wav`` and ``FILE.json`` (provenance), and with ``--stems`` ``FILE_<class>.wav`` per class.
The same seed gives the same bytes. See docs/kits.md.
"""

from __future__ import annotations

import argparse

from drumsynth.cli.common import add_runtime_options, apply_runtime, emit


def add_parser(sub: argparse._SubParsersAction) -> None:
    from drumsynth.export.midi_pattern import DEFAULT_BPM, MAX_NOTES, MAX_SECONDS
    from drumsynth.export.variation import DEFAULT_AMOUNT

    parser = sub.add_parser("humanize", help="render a General MIDI drum pattern, every hit a fresh variation",
                            description="Renders the channel-10 notes of a MIDI file with the model: each General "
                                        "MIDI key plays its own instrument, and every hit is a small latent "
                                        "variation of it (velocity sets level and variation). Notes the model has "
                                        f"no class for are listed and skipped. Limits: {MAX_NOTES} notes, "
                                        f"{MAX_SECONDS:g} s.")
    parser.add_argument("pattern", metavar="PATTERN.mid", help="Standard MIDI File (type 0 or 1)")
    parser.add_argument("--out", required=True, metavar="FILE.wav", help="the rendered mix")
    parser.add_argument("--model", help="checkpoint path or family id (default: the shipped default model)")
    parser.add_argument("--amount", type=float, default=DEFAULT_AMOUNT, metavar="A",
                        help=f"variation per hit at velocity 127, as a fraction of the class's latent spread, "
                             f"0..1 (default {DEFAULT_AMOUNT}; half of it at the softest velocity)")
    tempo = parser.add_mutually_exclusive_group()
    tempo.add_argument("--bpm", type=float, default=DEFAULT_BPM,
                       help=f"constant tempo for the file's ticks (default {DEFAULT_BPM:g})")
    tempo.add_argument("--tempo-from-file", action="store_true", help="use the file's own tempo map instead")
    parser.add_argument("--stems", action="store_true", help="also write one file per class: FILE_<class>.wav")
    parser.add_argument("--sr", type=int, default=44100, choices=(44100, 48000), help="file sample rate")
    parser.add_argument("--bit-depth", default="24", choices=("16", "24", "32f"), help="WAV sample format")
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_runtime_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import datetime as dt

    import drumsynth
    from drumsynth.export import gm
    from drumsynth.export.humanize import (
        assign,
        check_free,
        output_paths,
        perform,
        write_performance,
    )
    from drumsynth.export.midi_pattern import read_pattern
    from drumsynth.export.variation import check_amount
    from drumsynth.inference.session import Session

    apply_runtime(args)
    amount = check_amount(args.amount)
    check_free(output_paths(args.out, [], False), args.overwrite)  # refused before any work
    pattern = read_pattern(args.pattern, bpm=args.bpm, tempo_from_file=args.tempo_from_file)
    session = Session.load(args.model, device=args.device)
    keys, _ = assign(session, pattern)
    paths = output_paths(args.out, sorted({cls for cls, _ in keys.values()}), args.stems)
    check_free(paths, args.overwrite)
    perf = perform(session, pattern, seed=args.seed, amount=amount, out_sr=args.sr,
                   progress=not (args.quiet or args.json))
    skipped = {gm.note_label(k): n for k, n in perf.skipped.items()}
    length = len(perf.mix) / perf.sr
    sidecar = {
        "family": session.family, "checkpoint": str(session.checkpoint), "checkpoint_sha256": session.checkpoint_sha256,
        "options": dict(session.options), "version": drumsynth.__version__, "verb": "humanize", "seed": args.seed,
        "amount": amount, "pattern": str(args.pattern), "pattern_sha256": pattern.sha256,
        "tempo": pattern.tempo, "played": perf.played, "skipped_keys": skipped,
        "other_channel_notes": pattern.other_channel_notes, "mix_scale": perf.scale,
        "voices": {gm.note_label(k): v for k, v in perf.voices.items()}, "sample_rate": perf.sr,
        "bit_depth": args.bit_depth, "length_s": length, "render_s": perf.seconds,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    written = write_performance(perf, paths, sidecar, bit_depth=args.bit_depth, overwrite=args.overwrite)
    lines = [f"{paths['mix']}: {sum(perf.played.values())} hits, {length:.1f} s, rendered in {perf.seconds:.1f} s "
             f"({pattern.tempo})",
             *(f"  {cls}: {n} hits" for cls, n in perf.played.items()),
             *(f"  skipped (no class in this model): {label} x{n}" for label, n in skipped.items())]
    if pattern.other_channel_notes:
        lines.append(f"  ignored: {pattern.other_channel_notes} notes on channels other than 10")
    lines += [f"  wrote {p}" for p in written[1:]]
    emit(args, {"files": [str(p) for p in written], "played": perf.played, "skipped_keys": skipped,
                "other_channel_notes": pattern.other_channel_notes, "length_s": length, "render_s": perf.seconds,
                "mix_scale": perf.scale, "tempo": pattern.tempo}, "\n".join(lines))
    return 0
