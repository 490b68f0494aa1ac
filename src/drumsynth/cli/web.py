"""``drumsynth web``: the web instrument (a page with both seeds' controls and a 16-step sequencer).

Serves on 127.0.0.1 by default. Renders are written through ``Session.save`` into ``--out`` (default: a
new temporary folder), the newest ``--keep`` of them kept; the page downloads them by id. The models on
offer are the shipped families and the ``release.pt``/``best.pt`` checkpoints under ``--runs``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from drumsynth.cli.common import add_device_options, usable_cores

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def render_threads() -> int:
    """torch threads for rendering when --threads is not given: half the cores (at most 4), at least 1."""
    return max(1, min(4, usable_cores() // 2))


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("web", help="the web instrument: pad, sliders, waveform, sequencer in a browser page",
                            description="Serve the web instrument (FastAPI + uvicorn) and print its address. The page "
                                        "works offline: its JavaScript ships in the package.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8765, help="TCP port (default 8765; 0: any free port)")
    parser.add_argument("--model", help="model the page opens with: a family id or run:<path under --runs> "
                                        "(default: the shipped default)")
    parser.add_argument("--runs", help="folder of training runs whose release.pt/best.pt the picker offers "
                                       "(default: ./runs when it exists)")
    parser.add_argument("--out", help="folder for the renders (default: a new temporary folder)")
    parser.add_argument("--keep", type=int, default=1000,
                        help="renders kept in --out; the files of older ones are removed (0: keep all; default 1000)")
    parser.add_argument("--max-upload-mb", type=float, default=16.0, help="largest sound Analyze accepts (default 16)")
    parser.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                        help="another Host header to answer (a name this machine is reached by); repeatable")
    parser.add_argument("--open", action="store_true", help="open the page in the default browser")
    add_device_options(parser)
    parser.set_defaults(run=run)
    parser.epilog = (f"Renders use {render_threads()} torch thread(s) here unless --threads says otherwise: half "
                     "the cores, leaving the rest to the browser.")


def run(args: argparse.Namespace) -> int:
    import sys
    import tempfile

    from drumsynth.cli.common import apply_runtime
    from drumsynth.errors import DrumsynthError

    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as err:
        raise DrumsynthError(f"the web instrument needs the web extra: pip install 'drumsynth[web]' ({err})") from err
    from drumsynth.web.app import create_app
    from drumsynth.web.catalog import Catalog
    from drumsynth.web.server import bind, serve_forever, url_of
    from drumsynth.web.store import RenderStore

    apply_runtime(args)
    if args.threads is None:
        # The page's browser shares the machine: on 2 cores one torch thread rendered a pad move in
        # 43 ms (p50) where two, fighting chromium for the cores, took 330 ms (scripts/web_latency.py).
        import torch

        torch.set_num_threads(render_threads())
    if args.keep < 0:
        raise DrumsynthError(f"--keep must be >= 0, got {args.keep}")
    if not 0 < args.max_upload_mb <= 1024:
        raise DrumsynthError(f"--max-upload-mb must be in (0, 1024], got {args.max_upload_mb}")
    runs = args.runs if args.runs is not None else ("runs" if Path("runs").is_dir() else None)
    catalog = Catalog(runs, device=args.device, default=args.model)
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="drumsynth-web-"))
    store = RenderStore(out, keep=args.keep)
    hosts = (*LOOPBACK, "[::1]", args.host, *args.allow_host)
    if args.host not in LOOPBACK:
        print(f"drumsynth web: warning: listening on {args.host}: other machines can reach this server",
              file=sys.stderr)
        if args.host in ("0.0.0.0", "::") and not args.allow_host:
            hosts = ("*",)
    app = create_app(catalog, store, upload_limit=int(args.max_upload_mb * 1024 * 1024), allowed_hosts=hosts)
    sock = bind(args.host, args.port)
    url = url_of(sock)
    print(f"drumsynth web: {url} (models: {', '.join(catalog.entries)}; renders in {out})", flush=True)
    if args.open:
        import webbrowser

        webbrowser.open(url)
    try:
        serve_forever(app, sock)
    except KeyboardInterrupt:
        pass
    return 0
