"""The folder a kit is written to, and what drumsynth may replace in it.

A kit's files have fixed names (``036_kick_v1_rr1.wav``, ``kit.sfz``, ``drumkit.xml``), so rendering a
kit again into the same folder replaces files; that is allowed only for files drumsynth wrote. The
folder's ``kit.json`` manifest (``{"format": "drumsynth-kit", "files": [...]}``) lists them:

* a missing or empty folder is written freely;
* a folder with a manifest is a kit drumsynth wrote: the files it lists may be replaced, and those the
  new kit no longer has are removed; any other file that a new name would hit is refused;
* any other non-empty folder is refused, unless ``overwrite`` (then same-named files are replaced, and
  nothing else there is touched or removed).

The manifest is written before the first sample (marked incomplete, listing old and new files) and
again at the end, so a kit cut short is still recognised, and finished, by the next run.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path, PurePosixPath
from typing import Any

from drumsynth.errors import DrumsynthError
from drumsynth.export.wav import plain_name, replace_file, write_new

MANIFEST = "kit.json"
FORMAT = "drumsynth-kit"
FORMAT_VERSION = 1
MAX_DEPTH = 3  # pack/<class>/<file>


def checked_relative(name: object) -> str:
    """A file of the kit: a relative POSIX path of plain names (no ``..``, no hidden parts), or an error."""
    if not isinstance(name, str):
        raise DrumsynthError(f"kit file name must be a string, got {name!r}")
    parts = PurePosixPath(name).parts
    if not 1 <= len(parts) <= MAX_DEPTH or PurePosixPath(name).is_absolute():
        raise DrumsynthError(f"kit file {name!r} is not a relative path of at most {MAX_DEPTH} parts")
    for part in parts:
        plain_name(part, "kit file name part")
    return name


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The folder's drumsynth kit manifest, or ``None`` when there is none or it is not one of ours."""
    path = folder / MANIFEST
    if not path.is_file() or path.is_symlink():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if manifest.get("format") != FORMAT or not isinstance(manifest.get("files"), list):
            return None
        manifest["files"] = [checked_relative(f) for f in manifest["files"]]
    except (OSError, UnicodeDecodeError, ValueError, AttributeError, DrumsynthError):
        return None
    return manifest


class KitFolder:
    """Where one kit render writes; see the module docstring for what it may replace.

    Parameters
    ----------
    folder : the kit folder (created when missing)
    overwrite : allow a non-empty folder that is not a drumsynth kit, replacing same-named files
    """

    def __init__(self, folder: str | Path, *, overwrite: bool = False) -> None:
        if not isinstance(folder, str | Path) or (isinstance(folder, str) and not folder.strip()):
            raise DrumsynthError(f"kit folder must be a path, got {folder!r}")
        self.folder = Path(folder)
        if self.folder.exists() and not self.folder.is_dir():
            raise DrumsynthError(f"kit folder {self.folder} is an existing file, not a folder")
        self.overwrite = bool(overwrite)
        old = read_manifest(self.folder) if self.folder.is_dir() else None
        self.owned: set[str] = set(old["files"]) | {MANIFEST} if old else set()
        if old is None and not self.overwrite and self.folder.is_dir() and any(self.folder.iterdir()):
            raise DrumsynthError(f"{self.folder} is not empty and holds no drumsynth kit ({MANIFEST}); choose an "
                                 "empty or new folder, or pass --overwrite to replace same-named files there")
        self.planned: list[str] = []

    def plan(self, files: list[str]) -> None:
        """Declare every file the kit will write; refuses (before anything is written) to replace a file
        drumsynth did not write, then writes the incomplete manifest."""
        files = [checked_relative(f) for f in files]
        if len(set(files)) != len(files) or MANIFEST in files:
            raise DrumsynthError("kit file names repeat or name the manifest: a drumsynth bug")
        foreign = [f for f in files if f not in self.owned and (self.folder / f).exists()]
        if foreign and not self.overwrite:
            shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
            raise DrumsynthError(f"{self.folder} holds files drumsynth's kit manifest does not list: {shown}; "
                                 "pass --overwrite to replace them")
        self.planned = files
        keep = sorted(set(files) | (self.owned - {MANIFEST}))
        self.write_manifest({"complete": False}, keep)

    def write(self, name: str, payload: bytes) -> Path:
        """Write one planned file (replacing it when it is ours or ``overwrite`` allows)."""
        if name not in self.planned:
            raise DrumsynthError(f"kit file {name!r} was not planned: a drumsynth bug")
        path = self.folder / name
        if path.exists() or path.is_symlink():
            replace_file(path, payload)
        elif not write_new(path, payload):
            raise DrumsynthError(f"{path} appeared while the kit was written; nothing replaced")
        return path

    def write_manifest(self, fields: dict[str, Any], files: list[str] | None = None) -> Path:
        manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, **fields,
                    "files": sorted(self.planned if files is None else files)}
        path = self.folder / MANIFEST
        replace_file(path, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
        return path

    def finish(self, fields: dict[str, Any]) -> Path:
        """Remove the files of the folder's previous kit that this kit no longer has, then write the
        complete manifest."""
        for name in sorted(self.owned - set(self.planned) - {MANIFEST}):
            path = self.folder / name
            if path.is_file() and not path.is_symlink():
                path.unlink()
            parent = path.parent
            while parent != self.folder:  # pack/<class>/ folders left empty go too (rmdir keeps full ones)
                with contextlib.suppress(OSError):
                    parent.rmdir()
                parent = parent.parent
        return self.write_manifest({**fields, "complete": True})
