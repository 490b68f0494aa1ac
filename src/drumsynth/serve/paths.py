"""Which files a server may read: regular files inside the folders it was given, nothing else.

A path arrives as text from the network (``/drum/analyze s``). It is refused unless it names a regular
file (not a folder, FIFO, socket or device) that lies inside one of the allowed folders both as
written (``..`` resolved) and after following every symbolic link, so a link inside an allowed folder
cannot lead out of it. A path outside is refused before the file system is asked whether it exists, so
the server does not tell a client what lies outside its folders.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from drumsynth.errors import DrumsynthError

MAX_PATH = 4096  # characters: PATH_MAX on Linux


class AllowedFolders:
    """The folders a server reads sounds from.

    Parameters
    ----------
    folders : existing folders (resolved here, so later renames or links do not widen them)
    base : where relative paths start (the first folder by default)
    """

    def __init__(self, folders: Iterable[str | Path], base: str | Path | None = None) -> None:
        resolved = []
        for folder in folders:
            path = Path(folder).expanduser()
            if not path.is_dir():
                raise DrumsynthError(f"allowed folder {str(folder)!r} is not an existing folder")
            resolved.append(path.resolve())
        if not resolved:
            raise DrumsynthError("give at least one folder the server may read")
        self.folders = tuple(dict.fromkeys(resolved))
        self.base = Path(base).resolve() if base is not None else self.folders[0]

    def _inside(self, path: Path) -> bool:
        return any(path == folder or path.is_relative_to(folder) for folder in self.folders)

    def check(self, text: object, what: str = "file") -> Path:
        """The resolved path of a readable regular file inside the folders, else a ``DrumsynthError``.

        Relative paths start at ``base``; ``~`` is not expanded (the server's home is not the client's).
        """
        if not isinstance(text, str):
            raise DrumsynthError(f"{what} must be a path string, got {type(text).__name__}")
        if not text or len(text) > MAX_PATH or "\x00" in text:
            raise DrumsynthError(f"{what} must be a path of 1 to {MAX_PATH} characters, got {text[:80]!r}")
        written = Path(os.path.normpath(self.base / text))
        if not self._inside(written):
            raise DrumsynthError(f"{what} {text[:300]!r} is outside the folders this server may read "
                                 f"(drumsynth serve --allow DIR)")
        try:
            real = written.resolve(strict=True)
        except FileNotFoundError:
            raise DrumsynthError(f"no such {what}: {text[:300]!r}") from None
        except (OSError, RuntimeError) as err:  # a link loop, a name too long, no permission
            raise DrumsynthError(f"cannot read {what} {text[:300]!r}: {getattr(err, 'strerror', None) or err}") from None
        if not self._inside(real):
            raise DrumsynthError(f"{what} {text[:300]!r} links outside the folders this server may read")
        try:
            mode = os.stat(real).st_mode
        except OSError as err:
            raise DrumsynthError(f"cannot read {what} {text[:300]!r}: {err.strerror or err}") from None
        if not stat.S_ISREG(mode):
            kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file (a FIFO, socket or device)"
            raise DrumsynthError(f"{what} {text[:300]!r} is {kind}")
        if not os.access(real, os.R_OK):
            raise DrumsynthError(f"cannot read {what} {text[:300]!r}: permission denied")
        return real
