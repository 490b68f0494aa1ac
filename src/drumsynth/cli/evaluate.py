"""``drumsynth evaluate``: the comparison report (Table 1, Table 2, spectrogram sheet), or PEAQ conformance."""

from __future__ import annotations

import argparse

from drumsynth.cli.common import add_runtime_options, apply_runtime, emit, positive_int


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "evaluate", help="score real data and models: IS/KID/FAD with intervals, listener metrics, encoders",
        description="Writes report.md, report.json and sheet.png to --out: Table 1 (IS, KID, FAD with 95% "
                    "bootstrap intervals, a real-vs-real row), the listener table per class (energy above "
                    "11 kHz, decay, attack, ticks, class agreement) against the real test kits, and Table 2 "
                    "(encoders). docs/evaluation.md explains every figure. With --peaq-conformance, instead "
                    "checks the PEAQ implementation against the ITU-R BS.1387 conformance items.")
    parser.add_argument("--data", help="corpus cache folder (from 'drumsynth corpus build')")
    parser.add_argument("--out", default="runs/evaluate", help="report folder (default runs/evaluate)")
    parser.add_argument("--model", action="append", default=[],
                        help="checkpoint or shipped family id to score (repeatable; default: real data only)")
    parser.add_argument("--variant", action="append", default=[], metavar="KEY=VALUE",
                        help="also score every --model with this inference option set, side by side "
                             "(e.g. inverter=griffin_lim for ndm); repeatable")
    parser.add_argument("-n", type=int, default=64, help="generated hits per class per model (default 64)")
    parser.add_argument("--classifier", help="drum classifier checkpoint (default: the shipped one)")
    parser.add_argument("--no-aisfx", action="store_true", help="skip the aisfx embedding (_aisfx columns)")
    # The default lives in drumsynth.metrics.bootstrap (N_BOOT); importing it here would load numpy and
    # torch for every 'drumsynth --help'.
    parser.add_argument("--bootstrap", type=positive_int, default=None, metavar="N",
                        help="bootstrap resamples per 95%% interval (default 1000; at least 2)")
    parser.add_argument("--peaq-conformance", nargs="?", const="", metavar="DIR",
                        help="run PEAQ on the ITU-R BS.1387 conformance items in DIR (not shipped; default: "
                             "$DRUMSYNTH_PEAQ_CONFORMANCE, else ../shared/data/peaq-conformance beside a source checkout)")
    add_runtime_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from drumsynth.errors import DrumsynthError

    apply_runtime(args)
    if args.peaq_conformance is not None:
        from drumsynth.metrics.peaq_conformance import default_folder, format_table, run_conformance

        rows = run_conformance(args.peaq_conformance or default_folder())
        emit(args, {"items": rows}, format_table(rows))
        return 0
    if not args.data:
        raise DrumsynthError("--data CACHE is required (build one with 'drumsynth corpus build --out DIR')")
    from drumsynth.data.cache import load_cache
    from drumsynth.inference.session import Session
    from drumsynth.metrics.bootstrap import N_BOOT
    from drumsynth.metrics.classifier import load_classifier
    from drumsynth.metrics.report import evaluate, model_hits, model_reconstructions, render_markdown

    classifier = load_classifier(args.classifier, device=args.device)
    aisfx = None
    if not args.no_aisfx:
        from drumsynth.metrics.aisfx_embedding import AisfxEmbedder

        aisfx = AisfxEmbedder(device=args.device)
    cache = load_cache(args.data)
    generated, reconstructions = [], []
    for spec in args.model:
        for variant in [None, *args.variant]:
            session = Session.load(spec, device=args.device)
            if variant is not None:
                key, sep, value = variant.partition("=")
                if not sep:
                    raise DrumsynthError(f"--variant {variant!r} must look like KEY=VALUE")
                session.set_option(key, value)
            generated.append(model_hits(session, n_per_class=args.n, seed=args.seed))
            reconstructions += model_reconstructions(session, cache, n_max=args.n, seed=args.seed)
    report = evaluate(cache, args.out, classifier=classifier, aisfx=aisfx, generated=generated,
                      reconstructions=reconstructions, seed=args.seed,
                      n_boot=N_BOOT if args.bootstrap is None else args.bootstrap)
    emit(args, report, render_markdown(report) + f"\nwritten to {args.out}/report.md")
    return 0
