"""drumsynth: neural drum-sound synthesis toolkit.

Importing the package has no side effects and does not import torch: heavy dependencies are imported by
the front end that needs them. ``drumsynth.Session`` (the one API every front end calls, see
:mod:`drumsynth.inference.session`) is resolved on first access (PEP 562)::

    from drumsynth import Session
    session = Session.load("ndm")          # a shipped family id, or a checkpoint path
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["Session", "__version__"]

# Public names that live in heavier modules: imported on first access only, so that `import drumsynth`
# (and `drumsynth --help`) stays fast and torch-free.
_LAZY = {"Session": "drumsynth.inference.session"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # later accesses skip this hook
        return value
    raise AttributeError(f"module 'drumsynth' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
