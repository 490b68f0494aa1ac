"""Spectrogram sheets: one row per (system, class), a few hits per row, as one PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def spectrogram_sheet(rows: dict[str, list[np.ndarray]], sr: int, path: str | Path, *, n_fft: int = 1024,
                      hop_length: int = 256, title: str | None = None) -> Path:
    """Draw log-magnitude spectrograms.

    rows : {"row label": [np.ndarray[T], ...]} — each row drawn left to right, at most 8 hits
    sr : sample rate of every clip
    """
    import librosa
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_cols = max(min(len(v), 8) for v in rows.values())
    fig, axes = plt.subplots(len(rows), n_cols, figsize=(1.6 * n_cols + 1.2, 1.3 * len(rows) + 0.6),
                             squeeze=False)
    for r, (label, clips) in enumerate(rows.items()):
        for c in range(n_cols):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < len(clips):
                spec = np.abs(librosa.stft(np.asarray(clips[c], dtype=np.float32), n_fft=n_fft,
                                           hop_length=hop_length))
                db = librosa.amplitude_to_db(spec, ref=np.max(spec) + 1e-12, top_db=80)
                ax.imshow(db, origin="lower", aspect="auto", cmap="magma", vmin=-80, vmax=0)
            else:
                ax.axis("off")
            if c == 0:
                ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
