"""An independent pretrained audio embedding: the sound-effects CNN of the PyPI package ``aisfx`` (0.1.2, MIT).

aisfx (Ma et al., ISMIR 2021, model "X-Sequential-CE") ships its weights inside the wheel, so it works
offline; install it with ``pip install --no-deps aisfx==0.1.2`` (its own requirements pin old packages).
This module reproduces ``aisfx.inference`` for in-memory waves, using the package's own network
(``aisfx.models.cnn2d.EmbeddingNet``) and checkpoint:

- resample to 44.1 kHz, peak-normalise each clip (as ``aisfx.spectrogram.spectrogram_librosa``);
- 96-band HTK mel power spectrogram, Hann 2048 / hop 1024, area-normalised filters, 0–22.05 kHz,
  compressed as log10(10⁴·S + 1) and scaled by the package's "original" normalisation (÷ 9.4578);
- frames first ([frames, 96]: aisfx's Essentia path; its librosa path returns [96, frames], which its
  own blocking then cuts along the mel axis — a bug we do not copy);
- blocks of 100 frames (≈ 2.3 s) with a hop of 50; clips shorter than one block (every drum hit) are
  zero-padded to one block (silence is 0 after the log compression), as ``aisfx.preprocessing.blocking``
  does; longer clips drop a trailing partial block and average their block embeddings;
- the 512-d output of the conv stack (mean over frequency, max over time) is the embedding.

``aisfx`` is imported inside :class:`AisfxEmbedder`, never when ``drumsynth`` is imported.
"""

from __future__ import annotations

import functools
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch

from drumsynth.audio.resample import resample
from drumsynth.errors import DrumsynthError

# Constants from aisfx/inference.py and aisfx/preprocessing.py (0.1.2).
SAMPLE_RATE = 44100
N_FFT = 2048
HOP_LENGTH = 1024
N_MELS = 96
F_MIN, F_MAX = 0.0, 22050.0
SPEC_MAX = 9.457798957824707  # spectrogram_normalize(spec_norm="original"): mn = 0, mx = this
BLOCK_FRAMES = 100
BLOCK_HOP = 50  # emb_hop_size = 0.5 of a block, the ISMIR setting
EMBEDDING_DIM = 512
BATCH_BLOCKS = 32
INSTALL_HINT = "pip install --no-deps aisfx==0.1.2"


def _load_checkpoint(path: Path) -> dict[str, torch.Tensor]:
    """The ``embedding_net.*`` weights of aisfx's checkpoint, loaded weights-only.

    The file is a pickled tuple (state_dict, {dataset: (numpy.int64 index, n_classes)}): the numpy
    integer is the only non-tensor global, so it is allow-listed for this one load instead of falling
    back to ``weights_only=False``. Pickles name it ``numpy.core.multiarray.scalar``, which numpy 2
    moved to ``numpy._core``.
    """
    core = getattr(np, "_core", None) or np.core
    allowed = [(core.multiarray.scalar, "numpy.core.multiarray.scalar"), np.dtype, type(np.dtype(np.int64))]
    try:
        with torch.serialization.safe_globals(allowed):
            weights, _datasets = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, ValueError, TypeError, pickle.UnpicklingError) as err:
        raise DrumsynthError(f"cannot load the aisfx weights {path}: {err}; reinstall with {INSTALL_HINT}") from err
    prefix = "embedding_net."
    return {key[len(prefix):]: value for key, value in weights.items() if key.startswith(prefix)}


@functools.cache
def _mel_filters() -> torch.Tensor:
    import librosa

    # norm=1.0: each filter sums to 1, Essentia's "unit_sum" that the ISMIR model was trained with.
    basis = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS, fmin=F_MIN, fmax=F_MAX, htk=True,
                                norm=1.0)
    return torch.from_numpy(basis.astype(np.float64))


def spectrogram(wave: np.ndarray) -> np.ndarray:
    """The network's input for one 44.1 kHz clip [T]: np.ndarray[frames, 96] float32 in about [0, 1]."""
    wave = np.asarray(wave, dtype=np.float64)
    peak = np.max(np.abs(wave))
    if peak > 0:
        wave = wave / peak
    # librosa.feature.melspectrogram's defaults: centred frames, zero padding, periodic Hann.
    spec = torch.stft(torch.from_numpy(wave), N_FFT, hop_length=HOP_LENGTH,
                      window=torch.hann_window(N_FFT, periodic=True, dtype=torch.float64),
                      center=True, pad_mode="constant", return_complex=True)
    power = spec.real**2 + spec.imag**2  # [1025, frames]
    mel = _mel_filters() @ power  # [96, frames]
    return (torch.log10(mel * 1e4 + 1.0) / SPEC_MAX).T.numpy().astype(np.float32)


class AisfxEmbedder:
    """aisfx's pretrained sound-effects CNN as a fixed embedding: waves -> [N, 512].

    Parameters
    ----------
    device : str or torch.device
        Where the network runs ("cpu" by default).
    """

    dim = EMBEDDING_DIM
    sr = SAMPLE_RATE

    def __init__(self, device: str | torch.device = "cpu") -> None:
        try:
            import aisfx.inference
            from aisfx.models.cnn2d import EmbeddingNet
        except ImportError as err:
            raise DrumsynthError(f"the aisfx embedding needs the aisfx package: {INSTALL_HINT} ({err})") from err
        self.device = torch.device(device)
        # The same architecture aisfx.inference.load_bestModel builds ("max" pooling, 3x3, stride 1, 64).
        net = EmbeddingNet("max", 3, 1, 64)
        net.load_state_dict(_load_checkpoint(Path(aisfx.inference.get_path_modelWeights())), strict=True)
        self.net = net.to(self.device).eval()

    @staticmethod
    def _blocks(spec: np.ndarray) -> np.ndarray:
        """[frames, 96] -> [n_blocks, 100, 96]: zero-padded to one block, else full blocks every 50 frames."""
        frames = spec.shape[0]
        if frames <= BLOCK_FRAMES:
            block = np.zeros((BLOCK_FRAMES, spec.shape[1]), dtype=np.float32)
            block[:frames] = spec
            return block[None]
        starts = range(0, frames - BLOCK_FRAMES + 1, BLOCK_HOP)
        return np.stack([spec[s:s + BLOCK_FRAMES] for s in starts])

    # ------------------------------------------------------------------------------ public

    def embed(self, waves: Any, sr: int) -> np.ndarray:
        """Embed sounds.

        Parameters
        ----------
        waves : np.ndarray[N, T] or [N, 1, T], Tensor of the same, or a list of 1-D arrays (any lengths)
            Mono sounds, float in [-1, 1] (each is peak-normalised, so the level does not matter).
        sr : int
            Their sample rate; they are resampled to 44.1 kHz.

        Returns
        -------
        np.ndarray[N, 512] float32, deterministic for the same input.
        """
        clips = self._clips(waves)
        if not isinstance(sr, (int, np.integer)) or sr <= 0:
            raise DrumsynthError(f"sr must be a positive integer, got {sr!r}")
        blocks, owner = [], []
        for i, clip in enumerate(clips):
            b = self._blocks(spectrogram(resample(clip, int(sr), SAMPLE_RATE)))
            blocks.append(b)
            owner.extend([i] * b.shape[0])
        blocks_all = np.concatenate(blocks)
        outputs = []
        with torch.inference_mode():
            for start in range(0, blocks_all.shape[0], BATCH_BLOCKS):
                batch = torch.from_numpy(blocks_all[start:start + BATCH_BLOCKS]).to(self.device)
                outputs.append(self.net(batch).float().cpu().numpy())
        per_block = np.concatenate(outputs)
        owner_arr = np.asarray(owner)
        out = np.zeros((len(clips), EMBEDDING_DIM), dtype=np.float32)
        np.add.at(out, owner_arr, per_block)
        out /= np.bincount(owner_arr, minlength=len(clips))[:, None].astype(np.float32)
        return out

    @staticmethod
    def _clips(waves: Any) -> list[np.ndarray]:
        if isinstance(waves, torch.Tensor):
            waves = waves.detach().cpu().numpy()
        if isinstance(waves, np.ndarray):
            if waves.ndim == 3 and waves.shape[1] == 1:
                waves = waves[:, 0]
            if waves.ndim != 2:
                raise DrumsynthError(f"waves must be [N, T], [N, 1, T] or a list of 1-D arrays, got {waves.shape}")
            waves = list(waves)
        if not isinstance(waves, (list, tuple)) or len(waves) == 0:
            raise DrumsynthError("waves must be a non-empty [N, T] array or list of 1-D arrays")
        clips = []
        for i, w in enumerate(waves):
            if isinstance(w, torch.Tensor):
                w = w.detach().cpu().numpy()
            w = np.asarray(w, dtype=np.float32)
            if w.ndim != 1 or w.size == 0:
                raise DrumsynthError(f"sound {i} must be a non-empty 1-D array, got shape {w.shape}")
            if not np.all(np.isfinite(w)):
                raise DrumsynthError(f"sound {i} contains NaN or infinite samples")
            clips.append(w)
        return clips
