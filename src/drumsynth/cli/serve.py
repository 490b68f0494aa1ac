"""``drumsynth serve``: the OSC server for Max for Live, Max, Pd and OSC controllers (docs/daw.md).

Listens on UDP 127.0.0.1:7400 and answers on the sender's address at port 7401; every control change
renders a WAV into ``--out`` and replies with its path (the protocol: :mod:`drumsynth.serve.osc`).
SIGINT and SIGTERM stop it cleanly: the hit being rendered is finished and written, the rest dropped.
"""

from __future__ import annotations

import argparse
import sys

from drumsynth.cli.common import add_device_options, add_output_options


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port {value} is outside 0..65535")
    return value


def add_parser(sub: argparse._SubParsersAction) -> None:
    from drumsynth.serve.osc import DEFAULT_PORT, DEFAULT_REPLY_PORT

    parser = sub.add_parser(
        "serve", help="OSC server: play a model from Max for Live, Max, Pd or an OSC controller",
        description="Listen for OSC messages (/drum/ping, /drum/type, /drum/class, /drum/generate, "
                    "/drum/vary/intensity, /drum/vary/new_direction, /drum/xy, /drum/fine, /drum/range, "
                    "/drum/analyze, /drum/morph, /drum/crop, /drum/save; see docs/daw.md). Every change "
                    "renders a WAV into --out and replies /drum/sample <path> <id> <ms> to the sender's "
                    "address on --reply-port; bad messages get /drum/error <msg> <id>.")
    parser.add_argument("--model", help="checkpoint path or family id (default: the shipped default model)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this computer only; anything else "
                             "lets the network play the server and read the --allow folders)")
    parser.add_argument("--port", type=_port, default=DEFAULT_PORT,
                        help=f"UDP port to listen on (default {DEFAULT_PORT}; 0: any free port)")
    parser.add_argument("--reply-port", type=_port, default=DEFAULT_REPLY_PORT,
                        help=f"port replies go to on the sender's address (default {DEFAULT_REPLY_PORT}; "
                             "0: the port each message came from)")
    parser.add_argument("--allow", action="append", default=[], metavar="DIR",
                        help="a folder /drum/analyze and /drum/morph may read sounds from (repeatable; "
                             "--out is always allowed)")
    add_output_options(parser)
    parser.add_argument("--verbose", action="store_true", help="print every request and reply on stderr")
    add_device_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import signal
    from pathlib import Path

    from drumsynth.cli.common import apply_runtime
    from drumsynth.errors import DrumsynthError
    from drumsynth.export.wav import HitFolder
    from drumsynth.inference.session import Session
    from drumsynth.serve.instrument import Instrument
    from drumsynth.serve.osc import OscServer, is_loopback, open_socket
    from drumsynth.serve.paths import AllowedFolders

    apply_runtime(args)
    folder = HitFolder(args.out)
    try:
        folder.folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DrumsynthError(f"cannot create output folder {args.out}: {err.strerror or err}") from None
    allowed = AllowedFolders([folder.folder, *args.allow])
    if not is_loopback(args.host):
        print(f"drumsynth serve: warning: listening on {args.host}, not loopback: anyone who can reach this "
              f"port can render into {folder.folder} and read sounds in {', '.join(map(str, allowed.folders))}",
              file=sys.stderr)
    try:  # before the model loads: a port in use is known at once
        sock = open_socket(args.host, args.port)
    except OSError as err:
        raise DrumsynthError(f"cannot listen on {args.host}:{args.port}: {err.strerror or err}") from None
    try:
        session = Session.load(args.model, device=args.device)
        instrument = Instrument(session, folder, out_sr=args.sr, bit_depth=args.bit_depth)
        instrument.current()  # the first decode is the slow one (allocations, kernels): pay it before serving
    except BaseException:
        sock.close()
        raise
    log = (lambda line: print(line, file=sys.stderr, flush=True)) if args.verbose else None
    server = OscServer(instrument, allowed, sock=sock, reply_port=args.reply_port, log=log)
    replies = f"port {args.reply_port}" if args.reply_port else "the port each message came from"
    print(f"drumsynth serve: {session.label} listening on udp {server.host}:{server.port}, replying to the "
          f"sender at {replies}, writing to {Path(folder.folder).resolve()} (Ctrl-C stops)", flush=True)

    def stop(signum: int, _frame: object) -> None:
        server.shutdown()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.serve_forever()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print(f"drumsynth serve: stopped after {server.requests} requests", flush=True)
    return 0
