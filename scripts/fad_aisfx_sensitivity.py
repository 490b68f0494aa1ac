"""What Table 1's FAD_aisfx hears: the train split's own sounds, and ndm's MCNN renderings of their mels, after
simple transforms, each scored against the real test kits as ``drumsynth evaluate``'s "real data" row is
(3-class view, 1 s at 44.1 kHz; docs/ndm.md, "What FAD_aisfx hears").

The untouched rows are scripts/ndm_fad_sources.py's "real" and "mcnn" stages; every other row changes one
thing, so its distance says how much of the MCNN's gap (162 against 85 for the session-15 release) that
thing could explain:

- real sounds: low-passed (8th-order Butterworth, zero phase), each 11.6 ms STFT frame given random phases,
  the magnitude smoothed through the 512-band mel and its pseudo-inverse (own phase kept), white noise added
  at -50 / -60 / -70 dB re the clip's peak (everywhere, only under the sound, only after it);
- MCNN renderings: a fixed per-frequency gain making their mean power spectrum the real sounds' (an oracle
  EQ fitted on these same sounds), zeroed where the real sound's 23 ms frames are more than 50 dB below
  its loudest frame (an oracle gate), low-passed, with the training path's soft mask or no mask instead of
  the binarised one, and as the start of ``GL_ITERATIONS`` fast Griffin-Lim iterations towards the mel's
  magnitudes (on their own mel, and through encode -> decode).

"Under the sound" is where the real sound's frames are within 50 dB of its loudest frame.

usage: python scripts/fad_aisfx_sensitivity.py [MODEL]   (default: the shipped ndm; from the repository root,
       with the corpus cache in data/corpus; about 10 min on one thread)
"""
import sys

import numpy as np
import scipy.signal
import torch
from ndm_fad_sources import print_table, rendered
from torch.nn import functional as F

from drumsynth.audio.dsp import griffin_lim, mel_filterbank, mel_to_linear, peak_normalise, stft
from drumsynth.checkpoint import load_checkpoint
from drumsynth.data.cache import load_cache
from drumsynth.data.taxonomy import CLASSES
from drumsynth.metrics.report import real_set
from drumsynth.models import family_module

FRAME, HOP = 1024, 512          # level frames of the gates (23 ms, hop 11.6 ms)
GATE_DB = -50.0
GL_ITERATIONS = 8


def lowpass(waves: np.ndarray, sr: int, cutoff_hz: float) -> np.ndarray:
    b, a = scipy.signal.butter(8, cutoff_hz / (sr / 2))
    return scipy.signal.filtfilt(b, a, waves, axis=1).astype(np.float32)


def sounding(waves: np.ndarray, below_db: float = GATE_DB) -> np.ndarray:
    """Per sample, 1 where the clip's level frame (FRAME samples, re its loudest frame) is within ``below_db``
    dB, else 0, linear between frame centres: np.ndarray like ``waves``."""
    padded = np.pad(waves, ((0, 0), (FRAME // 2, FRAME // 2)))
    frames = np.lib.stride_tricks.sliding_window_view(padded, FRAME, axis=1)[:, ::HOP]
    energy = (frames ** 2).mean(-1)
    level = 10 * np.log10(energy / np.maximum(energy.max(1, keepdims=True), 1e-20) + 1e-12)
    t, centres = np.arange(waves.shape[1]), np.arange(level.shape[1]) * HOP
    return np.stack([np.interp(t, centres, (row >= below_db).astype(np.float32)) for row in level])


class Spectra:
    """STFT round trips at the model's resolution (n_fft 4096, window 2048, hop 512)."""

    def __init__(self, n_fft: int, win_length: int, hop_length: int) -> None:
        self.n_fft, self.win_length, self.hop_length = n_fft, win_length, hop_length
        self.window = torch.hann_window(win_length)

    def stft(self, waves: np.ndarray) -> torch.Tensor:
        return torch.stft(torch.from_numpy(waves), self.n_fft, self.hop_length, self.win_length, self.window,
                          return_complex=True)

    def istft(self, spectra: torch.Tensor, length: int) -> np.ndarray:
        return torch.istft(spectra, self.n_fft, self.hop_length, self.win_length, self.window,
                           length=length).numpy().astype(np.float32)


def masked(model, mel: torch.Tensor, mask: str) -> torch.Tensor:
    """The MCNN's signal times its soft mask (``"soft"``, the training path) or unmasked (``"none"``),
    clamped to [-1, 1]: Tensor[B, length]."""
    signal, mask_logit = model.mcnn(mel)
    out = signal * torch.sigmoid(mask_logit) if mask == "soft" else signal
    return out[:, :model.length].clamp(-1.0, 1.0)


def refined(model, mel: torch.Tensor) -> torch.Tensor:
    """The MCNN's rendering of ``mel`` as the start of fast Griffin-Lim (:func:`griffin_lim`) towards the mel's
    linear magnitudes (``mel_to_linear``), peak-normalised: Tensor[B, length]."""
    d = model.config.data
    magnitude = mel_to_linear(mel, mel_filterbank(d.sr, d.n_fft, d.n_mels))
    start = stft(model.mcnn.infer(mel, model.length), d.n_fft, d.hop_length, d.win_length).angle()
    out = griffin_lim(magnitude, d.n_fft, d.hop_length, d.win_length, n_iter=GL_ITERATIONS, length=model.length,
                      initial_phase=start)
    return peak_normalise(out)


def main() -> None:
    path = sys.argv[1] if len(sys.argv) > 1 else "src/drumsynth/pretrained/ndm.pt"
    model = family_module("ndm").load_model(load_checkpoint(path))
    d = model.config.data
    cache = load_cache("data/corpus")
    train, test = real_set(cache, "train"), real_set(cache, "test")
    assert train.sr == model.sample_rate, "the script compares at the model's rate (44.1 kHz)"
    names = [cache.records[i]["label"] for i in cache.indices("train", three_class=True)]
    labels = F.one_hot(torch.tensor([CLASSES.index(c) for c in names]), len(CLASSES)).float()
    real, sr, n = train.waves.astype(np.float32), train.sr, train.waves.shape[1]
    mcnn = rendered(lambda w, lab: model.invert(model.mel(w)), real, labels, model.length).astype(np.float32)
    spectra = Spectra(d.n_fft, d.win_length, d.hop_length)

    def decoded(w: torch.Tensor, lab: torch.Tensor) -> torch.Tensor:
        return model.decode_mel(model.encode(w, lab), lab)

    rng = np.random.default_rng(0)
    real_stft = spectra.stft(real)
    phases = torch.from_numpy(rng.uniform(0.0, 2 * np.pi, real_stft.shape)).float()
    filterbank = mel_filterbank(sr, d.n_fft, d.n_mels)                       # [n_mels, bins]
    smoothed = torch.linalg.pinv(filterbank) @ (filterbank @ real_stft.abs())
    noise = rng.standard_normal(real.shape).astype(np.float32)
    under = sounding(real)
    real_power = (real_stft.abs() ** 2).mean((0, 2))
    mcnn_stft = spectra.stft(mcnn)
    gain = (real_power / (mcnn_stft.abs() ** 2).mean((0, 2)).clamp_min(1e-12)).sqrt().clamp(0.1, 10.0)
    rows = {
        "real sounds": real,
        "real, low-passed at 16 kHz": lowpass(real, sr, 16000),
        "real, low-passed at 12 kHz": lowpass(real, sr, 12000),
        "real, random phase in each STFT frame": spectra.istft(real_stft.abs() * torch.exp(1j * phases), n),
        "real, magnitude smoothed through the mel (own phase)":
            spectra.istft(smoothed.clamp_min(0.0) * torch.exp(1j * real_stft.angle()), n),
        "real + white noise at -50 dB": real + 10 ** (-50 / 20) * noise,
        "real + white noise at -60 dB": real + 10 ** (-60 / 20) * noise,
        "real + white noise at -70 dB": real + 10 ** (-70 / 20) * noise,
        "real + white noise at -70 dB, under the sound only": real + 10 ** (-70 / 20) * noise * under,
        "real + white noise at -70 dB, after the sound only": real + 10 ** (-70 / 20) * noise * (1 - under),
        "real, gated at -50 dB": real * under,
        "MCNN on their mel": mcnn,
        "MCNN, oracle EQ": spectra.istft(mcnn_stft * gain[None, :, None], n),
        "MCNN, oracle gate (the real sound's frames below -50 dB zeroed)": mcnn * under,
        "MCNN, low-passed at 16 kHz": lowpass(mcnn, sr, 16000),
        "MCNN, soft mask": rendered(lambda w, lab: masked(model, model.mel(w), "soft"), real, labels, model.length),
        "MCNN, no mask": rendered(lambda w, lab: masked(model, model.mel(w), "none"), real, labels, model.length),
        f"MCNN + {GL_ITERATIONS} Griffin-Lim iterations":
            rendered(lambda w, lab: refined(model, model.mel(w)), real, labels, model.length),
        "encode -> decode -> MCNN": rendered(lambda w, lab: model.reconstruct(w, lab), real, labels, model.length),
        f"encode -> decode -> MCNN + {GL_ITERATIONS} Griffin-Lim iterations":
            rendered(lambda w, lab: refined(model, decoded(w, lab)), real, labels, model.length),
    }
    print_table(path, "train sounds", rows, train, test)


if __name__ == "__main__":
    main()
