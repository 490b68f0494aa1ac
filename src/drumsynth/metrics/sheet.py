"""Spectrogram sheets: one row per (system, class), or classes as rows with systems side by side, as one PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from drumsynth.errors import DrumsynthError


def _figure(n_rows: int, n_cols: int):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(n_rows, n_cols, figsize=(1.6 * n_cols + 1.2, 1.3 * n_rows + 0.6), squeeze=False)
    return plt, fig, axes


def _draw(ax, clip: np.ndarray, n_fft: int, hop_length: int, length: int | None = None) -> None:
    """Log-magnitude spectrogram of one clip (zero-padded or cut to ``length`` samples when given)."""
    import librosa

    clip = np.asarray(clip, dtype=np.float32)
    if length is not None:
        clip = np.pad(clip[:length], (0, max(0, length - len(clip))))
    spec = np.abs(librosa.stft(clip, n_fft=n_fft, hop_length=hop_length))
    db = librosa.amplitude_to_db(spec, ref=np.max(spec) + 1e-12, top_db=80)
    ax.imshow(db, origin="lower", aspect="auto", cmap="magma", vmin=-80, vmax=0)


def _save(plt, fig, path: str | Path, title: str | None) -> Path:
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def spectrogram_sheet(rows: dict[str, list[np.ndarray]], sr: int, path: str | Path, *, n_fft: int = 1024,
                      hop_length: int = 256, title: str | None = None) -> Path:
    """Draw log-magnitude spectrograms.

    rows : {"row label": [np.ndarray[T], ...]} — each row drawn left to right, at most 8 hits
    sr : sample rate of every clip
    """
    n_cols = max(min(len(v), 8) for v in rows.values())
    plt, fig, axes = _figure(len(rows), n_cols)
    for r, (label, clips) in enumerate(rows.items()):
        for c in range(n_cols):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < len(clips):
                _draw(ax, clips[c], n_fft, hop_length)
            else:
                ax.axis("off")
            if c == 0:
                ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    return _save(plt, fig, path, title)


def comparison_sheet(grid: dict[str, dict[str, list[np.ndarray]]], sr: int, path: str | Path, *,
                     per_cell: int = 3, seconds: float = 1.0, n_fft: int = 1024, hop_length: int = 256,
                     title: str | None = None) -> Path:
    """Classes as rows, systems side by side: real and generated hits of each class next to each other.

    grid : {system: {class: [np.ndarray[T], ...]}} — the first system (the real test kits) is leftmost;
        a system without a class leaves its cells blank
    per_cell : hits drawn per (class, system); every clip is drawn over the same ``seconds`` (cut or
        zero-padded), 0 Hz to sr / 2, so tails, bandwidth and attacks compare at a glance
    """
    if not grid or per_cell < 1:
        raise DrumsynthError(f"nothing to draw: {len(grid)} systems, {per_cell} hits per cell")
    systems = list(grid)
    classes = list(dict.fromkeys(c for s in systems for c in grid[s]))
    length = int(round(seconds * sr))
    plt, fig, axes = _figure(len(classes), per_cell * len(systems))
    for r, cls in enumerate(classes):
        for g, system in enumerate(systems):
            clips = grid[system].get(cls, [])
            for k in range(per_cell):
                ax = axes[r][g * per_cell + k]
                ax.set_xticks([])
                ax.set_yticks([])
                if k < len(clips):
                    _draw(ax, clips[k], n_fft, hop_length, length)
                else:
                    ax.axis("off")
                if r == 0 and k == 0:
                    ax.set_title(system, loc="left", fontsize=8)
        axes[r][0].set_ylabel(cls, rotation=0, ha="right", va="center", fontsize=8)
    return _save(plt, fig, path, title)
