"""Conformance check of ``drumsynth.metrics.peaq`` against the ITU-R BS.1387 test items.

The folder holds the standard's reference/test WAV pairs (48 kHz, 16 bit) and ``Itemlist-E.txt``
with the expected DI and ODG of the basic and advanced versions; only the basic table is used.

    python -m drumsynth.metrics.peaq_conformance [FOLDER]

FOLDER defaults to ``$DRUMSYNTH_PEAQ_CONFORMANCE`` or else ``../shared/data/peaq-conformance``
next to the repository root.  Missing pairs are skipped and listed.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from drumsynth.errors import DrumsynthError
from drumsynth.metrics.peaq import peaq

__all__ = ["default_folder", "read_itemlist", "run_conformance", "format_table", "main"]

ENV_VAR = "DRUMSYNTH_PEAQ_CONFORMANCE"
ITEMLIST = "Itemlist-E.txt"

# "1   arefsna.wav   acodsna.wav  1.304  -0.676"
_ROW = re.compile(r"^\s*(\d+)\s+(\S+\.wav)\s+(\S+\.wav)\s+(-?\d+(?:\.\d*)?)\s+(-?\d+(?:\.\d*)?)\s*$")


def default_folder() -> Path:
    """$DRUMSYNTH_PEAQ_CONFORMANCE, else <repo root>/../shared/data/peaq-conformance."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3].parent / "shared/data/peaq-conformance"


def read_itemlist(path: Path) -> list[dict]:
    """Rows of the basic-version table of Itemlist-E.txt.

    Returns [{"item", "ref_file", "test_file", "di_ref", "odg_ref"}]; ``item`` is the test file's
    stem (e.g. "acodsna").  Parsing stops at the heading of the advanced-version table.
    """
    try:
        text = path.read_text(encoding="latin-1")
    except OSError as exc:
        raise DrumsynthError(f"cannot read PEAQ item list {path}: {exc}") from exc
    rows = []
    for line in text.splitlines():
        if "advanced" in line.lower() and rows:
            break
        m = _ROW.match(line)
        if m:
            _, ref, test, di, odg = m.groups()
            rows.append(
                {"item": Path(test).stem, "ref_file": ref, "test_file": test,
                 "di_ref": float(di), "odg_ref": float(odg)}
            )
    if not rows:
        raise DrumsynthError(f"no basic-version items found in {path}")
    return rows


def _load(path: Path) -> tuple[np.ndarray, int]:
    """WAV file -> ([C, T] float64 in [-1, 1], sample rate)."""
    import soundfile as sf

    data, sr = sf.read(str(path), dtype="float64", always_2d=True)
    return data.T, int(sr)


def run_conformance(folder: Path, *, missing: list[str] | None = None, progress=None) -> list[dict]:
    """Evaluate every available pair of the basic-version table in ``folder``.

    Returns one dict per available item: item, di_ref, di, d_di, odg_ref, odg, d_odg (d = ours -
    reference) and seconds (runtime of ``peaq``).  Items whose files are absent are skipped; their
    file names are appended to ``missing`` when a list is given.  ``progress`` (optional) is called
    with each finished row.
    """
    folder = Path(folder)
    rows = []
    for entry in read_itemlist(folder / ITEMLIST):
        ref_path, test_path = folder / entry["ref_file"], folder / entry["test_file"]
        absent = [p.name for p in (ref_path, test_path) if not p.is_file()]
        if absent:
            if missing is not None:
                missing.extend(absent)
            continue
        ref, sr_ref = _load(ref_path)
        test, sr_test = _load(test_path)
        if sr_ref != sr_test:
            raise DrumsynthError(f"{entry['item']}: sample rates differ ({sr_ref} vs {sr_test} Hz)")
        start = time.perf_counter()
        res = peaq(ref, test, sr_ref)
        seconds = time.perf_counter() - start
        row = {
            "item": entry["item"],
            "di_ref": entry["di_ref"],
            "di": res.di,
            "d_di": res.di - entry["di_ref"],
            "odg_ref": entry["odg_ref"],
            "odg": res.odg,
            "d_odg": res.odg - entry["odg_ref"],
            "seconds": seconds,
        }
        rows.append(row)
        if progress is not None:
            progress(row)
    return rows


def format_table(rows: list[dict], *, missing: list[str] | None = None) -> str:
    """Markdown table of ``run_conformance`` rows plus median |dDI| and median |dODG| lines."""
    lines = [
        "| item | DI ref | DI | ΔDI | ODG ref | ODG | ΔODG |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['item']} | {r['di_ref']:.3f} | {r['di']:.3f} | {r['d_di']:+.3f} "
            f"| {r['odg_ref']:.3f} | {r['odg']:.3f} | {r['d_odg']:+.3f} |"
        )
    lines.append("")
    if rows:
        lines.append(f"median |ΔDI| = {statistics.median(abs(r['d_di']) for r in rows):.3f} "
                     f"over {len(rows)} items")
        lines.append(f"median |ΔODG| = {statistics.median(abs(r['d_odg']) for r in rows):.3f}")
    else:
        lines.append("no items evaluated")
    if missing:
        lines.append(f"missing files (skipped): {', '.join(sorted(set(missing)))}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point: print the conformance table; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m drumsynth.metrics.peaq_conformance",
        description="Compare drumsynth's PEAQ (basic version) with the ITU-R BS.1387 conformance items.",
    )
    parser.add_argument("folder", nargs="?", type=Path, default=None,
                        help=f"folder with {ITEMLIST} and the WAV pairs (default: ${ENV_VAR} or "
                             "../shared/data/peaq-conformance next to the repository)")
    args = parser.parse_args(argv)
    folder = args.folder if args.folder is not None else default_folder()
    if not (folder / ITEMLIST).is_file():
        print(f"error: {folder / ITEMLIST} not found", file=sys.stderr)
        return 2
    missing: list[str] = []
    try:
        rows = run_conformance(folder, missing=missing)
    except DrumsynthError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(format_table(rows, missing=missing))
    if rows:
        secs = [r["seconds"] for r in rows]
        print(f"runtime per item: median {statistics.median(secs):.2f} s, max {max(secs):.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
