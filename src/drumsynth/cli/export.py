"""``drumsynth export --model M --format torchscript|onnx|pt2 --out FILE``: a model for other hosts.

TorchScript (``*.ts``) is for nn~ in Max/Pd and LibTorch, ONNX (``*.onnx``) for onnxruntime, ``*.pt2``
for ``torch.export``; each gets ``FILE.json`` beside it. ``--verify`` reloads the file in a fresh
process and prints the largest difference from the Session's own hits. See docs/export.md.
"""

from __future__ import annotations

import argparse

from drumsynth.cli.common import add_json_option, positive_int, thread_count

FORMAT_NAMES = ("torchscript", "onnx", "pt2")


def ratio_int(text: str) -> int:
    """argparse type: a power of two in 1..4096 (nn~ frame length in samples)."""
    value = positive_int(text)
    if value > 4096 or value & (value - 1):
        raise argparse.ArgumentTypeError(f"{text} is not a power of two between 1 and 4096")
    return value


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "export", help="export a model as TorchScript (nn~), ONNX or .pt2, with a metadata JSON",
        description="Write the model to FILE for hosts without drumsynth: torchscript (*.ts, nn~ in Max/Pd, "
                    "LibTorch), onnx (*.onnx, onnxruntime) or pt2 (*.pt2, torch.export); FILE.json beside it "
                    "holds the metadata. Existing files are kept unless --overwrite.")
    parser.add_argument("--model", help="checkpoint path or family id (default: the shipped default model)")
    parser.add_argument("--format", required=True, choices=FORMAT_NAMES, dest="fmt", help="what to write")
    parser.add_argument("--out", required=True, help="the file: *.ts, *.onnx or *.pt2 to match --format")
    parser.add_argument("--overwrite", action="store_true", help="replace FILE and FILE.json if they exist")
    parser.add_argument("--ratio", type=ratio_int, default=None,
                        help="torchscript: samples per frame of nn~'s trigger/latent signals (power of two, "
                             "default 256)")
    parser.add_argument("--sr", type=int, default=None,
                        help="torchscript: the sample rate nn~ will run at, e.g. 44100 or 48000 (default the "
                             "model's own; hits and recordings are resampled between the two)")
    parser.add_argument("--verify", action="store_true",
                        help="reload the file in a fresh process and report the largest difference from the "
                             "Session's own hits")
    parser.add_argument("--threads", type=thread_count, default=None, help="cap torch's CPU threads")
    add_json_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from drumsynth.cli.common import apply_runtime, emit
    from drumsynth.export.model import export_model
    from drumsynth.inference.session import Session

    apply_runtime(args)
    session = Session.load(args.model)
    result = export_model(session, args.fmt, args.out, overwrite=args.overwrite, ratio=args.ratio,
                          host_sr=args.sr)
    text = f"{result['file']} ({result['bytes'] / 1e6:.1f} MB, {session.label}) + {result['metadata']}"
    if args.verify:
        from drumsynth.export.verify import verify

        report = verify(session, args.fmt, result["file"])
        result["verify"] = {key: value for key, value in report.items() if key != "facts"}
        text += (f"\nfresh-process reload: max abs difference {report['max_abs_diff']:.3g} over "
                 f"{report['hits']} hits")
        if "stream_max_abs_diff" in report:
            text += f" (nn~ decode: {report['stream_max_abs_diff']:.3g})"
    emit(args, result, text)
    return 0
