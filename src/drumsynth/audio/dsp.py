"""Signal processing shared by every family: clip preparation, STFT/iSTFT, mel, Griffin-Lim.

Torch first: spectral functions take a ``Tensor`` (a NumPy array is converted) and return tensors on
the input's device and dtype family (float32 -> complex64). Clip helpers (``trim_or_pad``,
``peak_normalise``, ``apply_fades``, ``fade``, ``onset_index``, ``trim_leading_silence``,
``prepare_clip``) accept NumPy arrays or tensors and return the same kind, because datasets are
prepared with NumPy and models work with tensors.

Conventions (librosa's names): ``wave`` is ``[..., T]`` with time last; a spectrogram is
``[..., F, N]`` with ``F = n_fft // 2 + 1`` frequency bins and ``N`` frames. Windows are periodic
(``fftbins=True``) like librosa's, centred inside ``n_fft`` when ``win_length < n_fft``. With
``center=True`` the signal is zero-padded by ``n_fft // 2`` on both sides (librosa's default
``pad_mode="constant"``, not torch's ``"reflect"``: reflecting a drum's transient at sample 0 would
invent a pre-echo).

Bad arguments raise :class:`drumsynth.errors.DrumsynthError` naming the offending value.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

from drumsynth.errors import DrumsynthError

__all__ = [
    "trim_or_pad",
    "peak_normalise",
    "apply_fades",
    "fade",
    "onset_index",
    "trim_leading_silence",
    "prepare_clip",
    "n_frames",
    "get_window",
    "stft",
    "stft_power",
    "stft_magnitude",
    "istft",
    "complex_to_channels",
    "channels_to_complex",
    "pack_nyquist",
    "unpack_nyquist",
    "stft_channels",
    "istft_channels",
    "mel_filterbank",
    "mel_spectrogram",
    "log_mel",
    "mel_to_linear",
    "griffin_lim",
]

Array = np.ndarray | torch.Tensor


# ----------------------------------------------------------------------------------------------
# argument checks and array-kind helpers


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise DrumsynthError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _non_negative_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise DrumsynthError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def _check_wave(wave) -> Array:
    """A float NumPy array or tensor with at least one dimension (ints are converted to float32)."""
    if isinstance(wave, torch.Tensor):
        if wave.is_complex():
            raise DrumsynthError(f"expected a real waveform, got a complex tensor of shape {tuple(wave.shape)}")
        if not wave.is_floating_point():
            wave = wave.to(torch.float32)
    else:
        wave = np.asarray(wave)
        if np.iscomplexobj(wave):
            raise DrumsynthError(f"expected a real waveform, got a complex array of shape {wave.shape}")
        if not np.issubdtype(wave.dtype, np.floating):
            wave = wave.astype(np.float32)
    if wave.ndim == 0:
        raise DrumsynthError("expected a waveform [..., T], got a scalar")
    return wave


def _to_tensor(x) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x
    return torch.from_numpy(np.ascontiguousarray(x))


def _real_tensor(wave, name: str = "wave") -> torch.Tensor:
    wave = _to_tensor(wave)
    if wave.is_complex():
        raise DrumsynthError(f"{name} must be real, got a complex tensor of shape {tuple(wave.shape)}")
    if not wave.is_floating_point():
        wave = wave.to(torch.float32)
    if wave.ndim == 0:
        raise DrumsynthError(f"{name} must have a time axis [..., T], got a scalar")
    return wave


# ----------------------------------------------------------------------------------------------
# clip preparation (NumPy or torch in, same kind out)


def trim_or_pad(wave: Array, length: int) -> Array:
    """Crop or zero-pad the last axis to exactly ``length`` samples.

    Parameters
    ----------
    wave : np.ndarray or Tensor [..., T]
    length : int > 0

    Returns
    -------
    Same kind, [..., length]: ``wave[..., :length]`` when ``T >= length``, otherwise ``wave``
    followed by ``length - T`` zeros. Always a new array (never a view of ``wave``).
    """
    length = _positive_int("length", length)
    wave = _check_wave(wave)
    n = wave.shape[-1]
    if isinstance(wave, torch.Tensor):
        if n >= length:
            return wave[..., :length].clone()
        return torch.nn.functional.pad(wave, (0, length - n))
    if n >= length:
        return wave[..., :length].copy()
    pad = [(0, 0)] * (wave.ndim - 1) + [(0, length - n)]
    return np.pad(wave, pad)


def peak_normalise(wave: Array, peak: float = 1.0, eps: float = 1e-8) -> Array:
    """Scale each clip (the last axis) so that its largest absolute sample is exactly ``peak``.

    Parameters
    ----------
    wave : np.ndarray or Tensor [..., T]
    peak : float > 0, target peak (``1.0`` = full scale)
    eps : float >= 0; clips whose peak is ``<= eps`` are silence and come back as zeros (never NaN)

    Returns
    -------
    Same kind and shape as ``wave``. The peak sample is computed as ``x / max|x|`` (exactly ±1 in
    IEEE arithmetic) times ``peak``. A clip containing NaN stays NaN (no device sync to check).
    """
    if not (math.isfinite(peak) and peak > 0):
        raise DrumsynthError(f"peak must be a positive finite number, got {peak!r}")
    if not (math.isfinite(eps) and eps >= 0):
        raise DrumsynthError(f"eps must be a non-negative finite number, got {eps!r}")
    wave = _check_wave(wave)
    if isinstance(wave, torch.Tensor):
        top = wave.abs().amax(dim=-1, keepdim=True)
        loud = ~(top <= eps)  # NaN clips stay NaN rather than turning silently into silence
        scaled = wave / torch.where(loud, top, torch.ones_like(top)) * peak
        return torch.where(loud, scaled, torch.zeros_like(wave))
    top = np.abs(wave).max(axis=-1, keepdims=True)
    loud = ~(top <= eps)
    scaled = wave / np.where(loud, top, 1).astype(wave.dtype) * wave.dtype.type(peak)
    return np.where(loud, scaled, 0).astype(wave.dtype, copy=False)


def _ramp(n: int, like: Array) -> Array:
    """[n] gains 0, 1/n, ..., (n-1)/n of ``like``'s kind, dtype and device."""
    # i / n in float32 or float64 is correctly rounded (i is exact), so no wider type is needed.
    if isinstance(like, torch.Tensor):
        dtype = like.dtype if like.dtype in (torch.float32, torch.float64) else torch.float32
        return torch.arange(n, dtype=dtype, device=like.device).div(n).to(like.dtype)
    dtype = like.dtype.type if like.dtype in (np.float32, np.float64) else np.float32
    return (np.arange(n, dtype=dtype) / dtype(n)).astype(like.dtype)


def apply_fades(wave: Array, fade_in: int = 0, fade_out: int = 0) -> Array:
    """Linear fade-in over the first ``fade_in`` samples and fade-out over the last ``fade_out``.

    Exact convention (``n = fade_in``, ``m = fade_out``, ``T`` = length):
    ``out[i] = wave[i] * i / n`` for ``0 <= i < n`` (so ``out[0] = 0`` and sample ``n`` is untouched),
    ``out[T-1-j] = wave[T-1-j] * j / m`` for ``0 <= j < m`` (so ``out[T-1] = 0``); the fade-out is the
    mirror image of the fade-in. Where the two overlap the gains multiply. ``0`` means no fade.

    Parameters
    ----------
    wave : np.ndarray or Tensor [..., T]
    fade_in, fade_out : int, 0 <= n <= T, in samples

    Returns
    -------
    Same kind and shape as ``wave`` (a new array).
    """
    fade_in = _non_negative_int("fade_in", fade_in)
    fade_out = _non_negative_int("fade_out", fade_out)
    wave = _check_wave(wave)
    n = wave.shape[-1]
    for name, value in (("fade_in", fade_in), ("fade_out", fade_out)):
        if value > n:
            raise DrumsynthError(f"{name} of {value} samples is longer than the clip ({n} samples)")
    out = wave.clone() if isinstance(wave, torch.Tensor) else wave.copy()
    if fade_in:
        out[..., :fade_in] = out[..., :fade_in] * _ramp(fade_in, wave)
    if fade_out:
        ramp = _ramp(fade_out, wave)
        ramp = ramp.flip(0) if isinstance(ramp, torch.Tensor) else ramp[::-1]
        out[..., n - fade_out:] = out[..., n - fade_out:] * ramp
    return out


def fade(wave: Array, sr: int, fade_in_ms: float = 0.0, fade_out_ms: float = 0.0) -> Array:
    """:func:`apply_fades` with durations in milliseconds, rounded to the nearest sample.

    ``wave`` : np.ndarray or Tensor [..., T] at ``sr`` Hz; returns the same kind and shape.
    """
    sr = _positive_int("sr", sr)
    for name, value in (("fade_in_ms", fade_in_ms), ("fade_out_ms", fade_out_ms)):
        if not (math.isfinite(value) and value >= 0):
            raise DrumsynthError(f"{name} must be a non-negative number, got {value!r}")
    return apply_fades(wave, int(round(fade_in_ms * sr / 1000.0)), int(round(fade_out_ms * sr / 1000.0)))


def onset_index(wave: Array, threshold_db: float = -60.0) -> Array:
    """Index of each clip's first sample within ``threshold_db`` of the clip's own peak.

    A sample counts as sound when ``|x| >= max|x| * 10 ** (threshold_db / 20)``; silent clips give 0.

    Parameters
    ----------
    wave : np.ndarray or Tensor [..., T]
    threshold_db : float <= 0, relative to each clip's peak

    Returns
    -------
    int64 array/tensor of shape ``[...]`` (a 0-d one for a single clip [T]).
    """
    if not (math.isfinite(threshold_db) and threshold_db <= 0):
        raise DrumsynthError(f"threshold_db must be a finite number <= 0 (relative to the peak), got {threshold_db!r}")
    wave = _check_wave(wave)
    gain = 10.0 ** (threshold_db / 20.0)
    if isinstance(wave, torch.Tensor):
        mag = wave.abs()
        above = mag >= mag.amax(dim=-1, keepdim=True) * gain
        # argmax returns the first maximum: the first sample above threshold (0 for silence,
        # where every sample is "above" a zero threshold).
        return above.to(torch.uint8).argmax(dim=-1)
    mag = np.abs(wave)
    above = mag >= mag.max(axis=-1, keepdims=True) * gain
    return above.argmax(axis=-1).astype(np.int64)


def trim_leading_silence(wave: Array, threshold_db: float = -60.0) -> Array:
    """Move each clip's onset (see :func:`onset_index`) to sample 0, for onset alignment.

    The samples before the onset are dropped and the clip is zero-filled at the end, so the shape is
    unchanged and batches stay rectangular. For a shorter single clip use
    ``wave[onset_index(wave):]``.

    Parameters
    ----------
    wave : np.ndarray or Tensor [..., T]
    threshold_db : float <= 0, relative to each clip's peak

    Returns
    -------
    Same kind and shape as ``wave``.
    """
    onset = onset_index(wave, threshold_db)
    wave = _check_wave(wave)
    n = wave.shape[-1]
    if isinstance(wave, torch.Tensor):
        index = torch.arange(n, device=wave.device) + onset.unsqueeze(-1)
        valid = index < n
        shifted = torch.gather(wave, -1, torch.where(valid, index, 0).expand(wave.shape))
        return torch.where(valid, shifted, torch.zeros_like(shifted))
    index = np.arange(n) + onset[..., None]
    valid = index < n
    shifted = np.take_along_axis(wave, np.broadcast_to(np.where(valid, index, 0), wave.shape), axis=-1)
    return np.where(valid, shifted, 0).astype(wave.dtype, copy=False)


def prepare_clip(wave: Array, length: int, *, fade_in: int = 0, fade_out: int = 0,
                 normalise: bool = True, peak: float = 1.0,
                 trim_silence_db: float | None = None) -> Array:
    """The dataset pipeline: [align onset], trim/pad, fades, peak-normalise.

    Parameters
    ----------
    wave : np.ndarray or Tensor [..., T], one mono clip per row of the last axis
    length : int > 0, output length in samples
    fade_in, fade_out : int, linear fades in samples (see :func:`apply_fades`)
    normalise : scale each clip to ``peak`` (silence stays zeros)
    peak : float > 0, target peak when ``normalise``
    trim_silence_db : float <= 0 or None; when given, each clip's leading silence (relative to its
        peak) is removed first (:func:`trim_leading_silence`)

    Returns
    -------
    Same kind, [..., length].

    Fades come before normalisation: both are gains, so the waveform shape is the same either way,
    but this order guarantees the output peak is exactly ``peak`` even when the transient lies in the
    fade-in ramp.
    """
    length = _positive_int("length", length)
    if trim_silence_db is not None:
        wave = trim_leading_silence(wave, trim_silence_db)
    out = apply_fades(trim_or_pad(wave, length), fade_in, fade_out)
    if normalise:
        out = peak_normalise(out, peak)
    return out


def crop(wave: torch.Tensor, start: float = 0.0, end: float = 1.0, fade: int = 32) -> torch.Tensor:
    """The waveform view's crop: keep ``[start, end)`` of the clip, given as fractions of its length.

    Parameters
    ----------
    wave : Tensor[..., T]
    start, end : 0 <= start < end <= 1
    fade : linear fade length in samples, applied only where the clip is cut (not at its natural
        start, so the attack stays intact; not at its natural end)

    Returns
    -------
    Tensor[..., round(end * T) - round(start * T)]
    """
    if not (isinstance(start, int | float) and isinstance(end, int | float)
            and 0.0 <= start < end <= 1.0):
        raise DrumsynthError(f"crop needs 0 <= start < end <= 1, got start={start!r} end={end!r}")
    n = wave.shape[-1]
    a, b = int(round(start * n)), int(round(end * n))
    if b <= a:
        raise DrumsynthError(f"crop [{start}, {end}) of a {n}-sample clip is empty")
    out = wave[..., a:b]
    length = b - a
    return apply_fades(out, min(fade, length) if a > 0 else 0, min(fade, length) if b < n else 0)


# ----------------------------------------------------------------------------------------------
# STFT


def n_frames(length: int, hop_length: int, center: bool = True, n_fft: int | None = None) -> int:
    """Number of STFT frames for a signal of ``length`` samples (torch.stft/librosa convention).

    ``center=True``: ``1 + length // hop_length`` (``n_fft`` is not needed).
    ``center=False``: ``1 + (length - n_fft) // hop_length`` (requires ``length >= n_fft``).

    DrumGAN: 0.55 s at 44.1 kHz is 24255 samples, and ``n_frames(24255, 512) == 48``
    (``1 + 24255 // 512 = 1 + 47``); every length in ``[47 * 512, 48 * 512) = [24064, 24576)``
    gives 48 frames, and :func:`istft` with ``length=24255`` restores the exact length.
    """
    length = _positive_int("length", length)
    hop_length = _positive_int("hop_length", hop_length)
    if center:
        return 1 + length // hop_length
    if n_fft is None:
        raise DrumsynthError("n_frames with center=False needs n_fft")
    n_fft = _positive_int("n_fft", n_fft)
    if length < n_fft:
        raise DrumsynthError(f"length {length} is shorter than n_fft {n_fft} with center=False")
    return 1 + (length - n_fft) // hop_length


_WINDOWS = {
    "hann": torch.hann_window,
    "hamming": torch.hamming_window,
    "blackman": torch.blackman_window,
    "boxcar": lambda n, periodic, dtype, device: torch.ones(n, dtype=dtype, device=device),
}


@functools.lru_cache(maxsize=64)
def _cached_window(window: str, win_length: int, dtype: torch.dtype, device: str) -> torch.Tensor:
    return _WINDOWS[window](win_length, periodic=True, dtype=dtype, device=torch.device(device))


def get_window(window: str, win_length: int, *, dtype: torch.dtype = torch.float32,
               device: torch.device | str = "cpu") -> torch.Tensor:
    """Periodic window ``Tensor[win_length]`` (``scipy.signal.get_window(window, N, fftbins=True)``).

    ``window`` is one of ``"hann"``, ``"hamming"``, ``"blackman"``, ``"boxcar"``. Cached per
    (window, length, dtype, device); the returned tensor is a copy and may be modified.
    """
    return _window(window, win_length, dtype, device).clone()


def _window(window: str, win_length: int, dtype: torch.dtype, device) -> torch.Tensor:
    if window not in _WINDOWS:
        raise DrumsynthError(f"window {window!r} is not one of {sorted(_WINDOWS)}")
    win_length = _positive_int("win_length", win_length)
    return _cached_window(window, win_length, dtype, str(torch.device(device)))


def _stft_args(n_fft, hop_length, win_length) -> tuple[int, int, int]:
    n_fft = _positive_int("n_fft", n_fft)
    hop_length = _positive_int("hop_length", hop_length)
    win_length = n_fft if win_length is None else _positive_int("win_length", win_length)
    if win_length > n_fft:
        raise DrumsynthError(f"win_length {win_length} is longer than n_fft {n_fft}")
    if hop_length > win_length:
        # Samples between windows would be lost and istft could not invert.
        raise DrumsynthError(f"hop_length {hop_length} is longer than win_length {win_length}")
    return n_fft, hop_length, win_length


def stft(wave, n_fft: int, hop_length: int, win_length: int | None = None, window: str = "hann",
         center: bool = True, pad_mode: str = "constant") -> torch.Tensor:
    """Short-time Fourier transform (torch.stft, librosa's conventions).

    Parameters
    ----------
    wave : Tensor [..., T] real (float32 -> complex64, float64 -> complex128)
    n_fft, hop_length : int
    win_length : int <= n_fft, default n_fft; the window is centred in the n_fft frame
    window : "hann" (periodic, like librosa), "hamming", "blackman" or "boxcar"
    center : pad ``n_fft // 2`` on both sides so frame ``t`` is centred on sample ``t * hop_length``
    pad_mode : "constant" (zeros, librosa's default) or "reflect"

    Returns
    -------
    Tensor [..., n_fft // 2 + 1, N] complex, ``N = n_frames(T, hop_length, center, n_fft)``;
    unnormalised (``X[f, t] = sum_n x[n + t*hop - n_fft/2] w[n] e^{-2 pi i f n / n_fft}``).
    """
    n_fft, hop_length, win_length = _stft_args(n_fft, hop_length, win_length)
    wave = _real_tensor(wave)
    n = wave.shape[-1]
    if not center and n < n_fft:
        raise DrumsynthError(f"signal of {n} samples is shorter than n_fft {n_fft} with center=False")
    if n == 0:
        raise DrumsynthError("cannot take the STFT of an empty signal")
    if pad_mode not in ("constant", "reflect"):
        raise DrumsynthError(f"pad_mode {pad_mode!r} is not 'constant' or 'reflect'")
    if center and pad_mode == "reflect" and n <= n_fft // 2:
        raise DrumsynthError(f"signal of {n} samples is too short for reflect padding with n_fft {n_fft}")
    lead = wave.shape[:-1]
    spec = torch.stft(wave.reshape(-1, n), n_fft=n_fft, hop_length=hop_length, win_length=win_length,
                      window=_window(window, win_length, wave.dtype, wave.device), center=center,
                      pad_mode=pad_mode, normalized=False, onesided=True, return_complex=True)
    return spec.reshape(*lead, *spec.shape[-2:])


# stft_magnitude's floor: 1e-15 (-300 dB re full scale), far below any audible bin, and its square 1e-30 far
# above float32's subnormal range (below 1.2e-38), where the gradient would break.
MAGNITUDE_FLOOR = 1e-15


def stft_power(spec: torch.Tensor) -> torch.Tensor:
    """``|X|**2`` of a complex spectrogram as ``re**2 + im**2``: Tensor[...] complex -> Tensor[...] real.

    Why not ``spec.abs().pow(2)``: torch's complex ``abs`` has a NaN gradient where ``|X|`` is subnormal
    (below about 1e-38 in float32: the far tail of a hit a decay envelope has shut), and one such bin made a
    style run diverge at step 2091 (session 19). The sum of squares has the gradient ``2 re, 2 im`` everywhere.
    """
    return spec.real.square() + spec.imag.square()


def stft_magnitude(spec: torch.Tensor) -> torch.Tensor:
    """``|X|`` of a complex spectrogram: Tensor[...] complex -> Tensor[...] real, differentiable everywhere.

    Equal to ``spec.abs()`` above ``MAGNITUDE_FLOOR``; a bin below it reads as exactly 0 and passes no
    gradient (the square root's would be infinite there, and silence must stay exactly silent: ndm's mask
    relies on it).
    """
    power = stft_power(spec)
    audible = power > MAGNITUDE_FLOOR * MAGNITUDE_FLOOR
    # Both branches of a where are differentiated: the square root sees 1 where its result is not used.
    return torch.where(audible, torch.where(audible, power, 1.0).sqrt(), 0.0)


def istft(spec: torch.Tensor, n_fft: int, hop_length: int, win_length: int | None = None,
          window: str = "hann", center: bool = True, length: int | None = None) -> torch.Tensor:
    """Inverse of :func:`stft` (weighted overlap-add, torch.istft).

    Parameters
    ----------
    spec : Tensor [..., n_fft // 2 + 1, N] complex
    n_fft, hop_length, win_length, window, center : as given to :func:`stft`
    length : int, output length; default ``hop_length * (N - 1)`` (``center=True``)

    Returns
    -------
    Tensor [..., length] real. ``istft(stft(x), ..., length=T)`` equals ``x`` to float rounding.
    """
    n_fft, hop_length, win_length = _stft_args(n_fft, hop_length, win_length)
    spec = _to_tensor(spec)
    if not spec.is_complex():
        raise DrumsynthError(f"istft needs a complex spectrogram, got dtype {spec.dtype} "
                             "(use channels_to_complex for [..., 2, F, N])")
    if spec.ndim < 2 or spec.shape[-2] != n_fft // 2 + 1:
        raise DrumsynthError(f"istft expects [..., {n_fft // 2 + 1}, N] for n_fft {n_fft}, "
                             f"got shape {tuple(spec.shape)}")
    if length is not None:
        length = _positive_int("length", length)
    lead = spec.shape[:-2]
    real_dtype = spec.real.dtype
    wave = torch.istft(spec.reshape(-1, *spec.shape[-2:]), n_fft=n_fft, hop_length=hop_length,
                       win_length=win_length, window=_window(window, win_length, real_dtype, spec.device),
                       center=center, normalized=False, onesided=True, length=length, return_complex=False)
    return wave.reshape(*lead, wave.shape[-1])


def complex_to_channels(spec: torch.Tensor) -> torch.Tensor:
    """Complex spectrogram [..., F, N] -> real Tensor [..., 2, F, N] (channel 0 real, 1 imaginary).

    For a batch [B, F, N] this is DrumGAN's [B, 2, F, N] input. Exact (no arithmetic).
    """
    spec = _to_tensor(spec)
    if not spec.is_complex():
        raise DrumsynthError(f"complex_to_channels needs a complex tensor, got dtype {spec.dtype}")
    if spec.ndim < 2:
        raise DrumsynthError(f"expected a spectrogram [..., F, N], got shape {tuple(spec.shape)}")
    return torch.stack((spec.real, spec.imag), dim=-3)


def channels_to_complex(x: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`complex_to_channels`: real Tensor [..., 2, F, N] -> complex [..., F, N]."""
    x = _to_tensor(x)
    if x.is_complex() or x.ndim < 3 or x.shape[-3] != 2:
        raise DrumsynthError(f"expected a real tensor [..., 2, F, N], got shape {tuple(x.shape)} dtype {x.dtype}")
    if not x.is_floating_point():
        x = x.to(torch.float32)
    return torch.complex(x[..., 0, :, :], x[..., 1, :, :])


def pack_nyquist(spec: torch.Tensor) -> torch.Tensor:
    """One-sided spectrogram of a real signal [..., F + 1, N] -> [..., F, N] complex, losslessly.

    The DC and Nyquist bins of a real frame are both real, so bin 0 becomes ``DC + i * Nyquist``
    (the real FFT's classic packing). DrumGAN: n_fft 2048 -> 1025 bins -> its 1024-bin grid, where
    the seed simply drops the Nyquist bin (which loses a hit's content at fs / 2).
    """
    spec = _to_tensor(spec)
    if not spec.is_complex() or spec.ndim < 2 or spec.shape[-2] < 2:
        raise DrumsynthError(f"expected a complex spectrogram [..., F, N] with F >= 2, got shape "
                             f"{tuple(spec.shape)} dtype {spec.dtype}")
    packed = spec[..., :-1, :].clone()
    packed[..., 0, :] = torch.complex(spec[..., 0, :].real, spec[..., -1, :].real)
    return packed


def unpack_nyquist(spec: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`pack_nyquist`: [..., F, N] complex -> [..., F + 1, N] with real DC and Nyquist."""
    spec = _to_tensor(spec)
    if not spec.is_complex() or spec.ndim < 2:
        raise DrumsynthError(f"expected a complex spectrogram [..., F, N], got shape {tuple(spec.shape)}")
    first = spec[..., :1, :]
    zero = torch.zeros_like(first.real)
    return torch.cat([torch.complex(first.real, zero), spec[..., 1:, :], torch.complex(first.imag, zero)], dim=-2)


def stft_channels(wave, n_fft: int, hop_length: int, win_length: int | None = None, *,
                  window: str = "hann", pack: bool = True) -> torch.Tensor:
    """DrumGAN's representation: wave [..., T] -> real Tensor [..., 2, F, N] (real, imaginary).

    ``F = n_fft // 2`` with ``pack`` (the Nyquist bin packed into bin 0, :func:`pack_nyquist`;
    DrumGAN: 1024), else ``n_fft // 2 + 1``; ``N = n_frames(T, hop_length)`` (DrumGAN: T = 24255
    -> 48). A batch [B, T] gives [B, 2, F, N]. Exactly invertible by :func:`istft_channels`.
    """
    spec = stft(wave, n_fft, hop_length, win_length, window=window, center=True)
    return complex_to_channels(pack_nyquist(spec) if pack else spec)


def istft_channels(x: torch.Tensor, n_fft: int, hop_length: int, win_length: int | None = None, *,
                   window: str = "hann", length: int | None = None) -> torch.Tensor:
    """Inverse of :func:`stft_channels`: [..., 2, F, N] -> wave [..., length].

    ``F`` may be ``n_fft // 2`` (packed) or ``n_fft // 2 + 1``.
    """
    spec = channels_to_complex(x)
    if spec.shape[-2] == n_fft // 2:
        spec = unpack_nyquist(spec)
    return istft(spec, n_fft, hop_length, win_length, window=window, center=True, length=length)


# ----------------------------------------------------------------------------------------------
# mel


@functools.lru_cache(maxsize=32)
def _mel_numpy(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float | None, htk: bool,
               norm, dtype: str) -> np.ndarray:
    import librosa  # slow to import (scipy.signal); only mel users pay for it

    fb = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk,
                             norm=norm, dtype=np.dtype(dtype))
    fb.setflags(write=False)
    return fb


@functools.lru_cache(maxsize=32)
def _mel_tensor(sr, n_fft, n_mels, fmin, fmax, htk, norm, dtype, device) -> torch.Tensor:
    # librosa applies the Slaney norm in the requested dtype: asking it for float32 directly makes
    # the float32 bank bit-identical to librosa.filters.mel(..., dtype=np.float32).
    np_dtype = "float32" if dtype in (torch.float32, torch.float16, torch.bfloat16) else "float64"
    fb = _mel_numpy(sr, n_fft, n_mels, fmin, fmax, htk, norm, np_dtype)
    return torch.from_numpy(fb.copy()).to(dtype=dtype, device=torch.device(device))


def _mel_fb(sr, n_fft, n_mels, fmin, fmax, htk, norm, dtype, device) -> torch.Tensor:
    sr = _positive_int("sr", sr)
    n_fft = _positive_int("n_fft", n_fft)
    n_mels = _positive_int("n_mels", n_mels)
    nyquist = sr / 2.0
    top = nyquist if fmax is None else fmax
    if not (0.0 <= fmin < top <= nyquist):
        raise DrumsynthError(f"need 0 <= fmin < fmax <= sr/2 = {nyquist}, got fmin={fmin!r} fmax={fmax!r}")
    if norm not in (None, "slaney") and not isinstance(norm, (int, float)):
        raise DrumsynthError(f"mel norm must be None, 'slaney' or a number, got {norm!r}")
    return _mel_tensor(sr, n_fft, n_mels, float(fmin), None if fmax is None else float(fmax), bool(htk),
                       norm, dtype, str(torch.device(device)))


def mel_filterbank(sr: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None,
                   htk: bool = False, norm: str | float | None = "slaney", *,
                   dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> torch.Tensor:
    """Mel filter bank ``Tensor[n_mels, n_fft // 2 + 1]``, equal to ``librosa.filters.mel``.

    Built once per set of arguments by librosa (in float32 for float32, else float64) and cached;
    the returned tensor is a copy and may be modified. ``fmax`` defaults to ``sr / 2``.
    """
    return _mel_fb(sr, n_fft, n_mels, fmin, fmax, htk, norm, dtype, device).clone()


def mel_spectrogram(wave, sr: int, n_fft: int, hop_length: int, win_length: int | None = None,
                    n_mels: int = 128, *, fmin: float = 0.0, fmax: float | None = None,
                    power: float = 1.0, center: bool = True, window: str = "hann", htk: bool = False,
                    norm: str | float | None = "slaney") -> torch.Tensor:
    """Mel spectrogram ``fb @ |stft(wave)| ** power``.

    Matches ``librosa.feature.melspectrogram`` with the same arguments (librosa's default
    ``pad_mode="constant"``; note librosa's default ``power`` is 2, ours is 1: magnitudes).

    Parameters
    ----------
    wave : Tensor [..., T] real
    sr, n_fft, hop_length, win_length, n_mels, fmin, fmax, htk, norm : as in librosa
    power : float > 0; 1 = magnitude, 2 = power

    Returns
    -------
    Tensor [..., n_mels, N] real, ``N = n_frames(T, hop_length)``.
    """
    if not (math.isfinite(power) and power > 0):
        raise DrumsynthError(f"power must be a positive number, got {power!r}")
    spec = stft(wave, n_fft, hop_length, win_length, window=window, center=center)
    if power == 2.0:
        mag = stft_power(spec)
    elif power == 1.0:
        mag = stft_magnitude(spec)
    else:
        mag = stft_magnitude(spec).pow(power)
    fb = _mel_fb(sr, n_fft, n_mels, fmin, fmax, htk, norm, mag.dtype, mag.device)
    return torch.matmul(fb, mag)


def log_mel(wave, sr: int, n_fft: int, hop_length: int, win_length: int | None = None,
            n_mels: int = 128, *, eps: float = 1e-5, **kwargs) -> torch.Tensor:
    """``log(max(mel_spectrogram(...), eps))``: natural log, floored at ``log(eps)``.

    ``wave`` : Tensor [..., T]; keyword arguments as :func:`mel_spectrogram`.
    Returns Tensor [..., n_mels, N]. Invert the log with ``exp`` (values at the floor come back as eps).
    """
    if not (math.isfinite(eps) and eps > 0):
        raise DrumsynthError(f"eps must be a positive number, got {eps!r}")
    mel = mel_spectrogram(wave, sr, n_fft, hop_length, win_length, n_mels, **kwargs)
    return mel.clamp_min(eps).log()


def mel_to_linear(mel: torch.Tensor, fb: torch.Tensor) -> torch.Tensor:
    """Approximate linear-frequency spectrogram from a mel one: ``max(pinv(fb) @ mel, 0)``.

    The least-squares (minimum-norm) solution, clamped to be non-negative: a cheap stand-in for
    librosa's NNLS ``mel_to_stft``, good enough to seed Griffin-Lim baselines. The result has the
    same power as ``mel`` (take ``sqrt`` of a power mel before :func:`griffin_lim`).

    Parameters
    ----------
    mel : Tensor [..., n_mels, N] non-negative
    fb : Tensor [n_mels, F], e.g. :func:`mel_filterbank`

    Returns
    -------
    Tensor [..., F, N], dtype and device of ``mel``.
    """
    mel = _real_tensor(mel, "mel")
    fb = _real_tensor(fb, "fb")
    if fb.ndim != 2 or mel.ndim < 2 or mel.shape[-2] != fb.shape[0]:
        raise DrumsynthError(f"mel {tuple(mel.shape)} does not match filter bank {tuple(fb.shape)} "
                             "(expected mel [..., n_mels, N] and fb [n_mels, F])")
    # The filter bank is rank-deficient (many mel bands share the few FFT bins at the low end), so the
    # pseudo-inverse must drop its near-zero singular values: with torch's default cut-off a mel that
    # no spectrum produces exactly (any decoder's output) comes back ~1e5 times too loud. float64 for
    # the SVD itself.
    pinv = torch.linalg.pinv(fb.to(device=mel.device, dtype=torch.float64), rtol=1e-4).to(mel.dtype)
    return torch.matmul(pinv, mel).clamp_min(0)


# ----------------------------------------------------------------------------------------------
# Griffin-Lim


def griffin_lim(magnitude: torch.Tensor, n_fft: int, hop_length: int, win_length: int | None = None,
                n_iter: int = 32, momentum: float = 0.99, length: int | None = None,
                generator: torch.Generator | None = None, window: str = "hann",
                initial_phase: torch.Tensor | None = None) -> torch.Tensor:
    """Fast Griffin-Lim (Perraudin, Balazs & Sondergaard 2013) phase reconstruction.

    Same update as librosa/torchaudio: ``c = P(x) - momentum / (1 + momentum) * P(x_prev)``,
    phase = ``c / |c|``, where ``P`` is stft(istft(.)). ``center=True`` frames.

    Parameters
    ----------
    magnitude : Tensor [..., n_fft // 2 + 1, N] non-negative linear magnitudes
    n_fft, hop_length, win_length, window : STFT parameters of ``magnitude``
    n_iter : int >= 0; 0 returns the initial estimate
    momentum : float in [0, 1); 0 is plain Griffin-Lim
    length : int, output length (must give N frames); default ``hop_length * (N - 1)``
    generator : torch.Generator for a uniformly random initial phase; None starts from zero phase.
        The same generator seed gives the same output.
    initial_phase : Tensor like ``magnitude`` (radians), the phase to start from instead (e.g. another
        inverter's rendering, refined towards ``magnitude``); not with ``generator``

    Returns
    -------
    Tensor [..., length] real, dtype of ``magnitude``. Not differentiable (runs under no_grad).
    """
    n_fft, hop_length, win_length = _stft_args(n_fft, hop_length, win_length)
    n_iter = _non_negative_int("n_iter", n_iter)
    if not (0.0 <= momentum < 1.0):
        raise DrumsynthError(f"momentum must be in [0, 1), got {momentum!r}")
    magnitude = _real_tensor(magnitude, "magnitude")
    if magnitude.ndim < 2 or magnitude.shape[-2] != n_fft // 2 + 1:
        raise DrumsynthError(f"griffin_lim expects magnitudes [..., {n_fft // 2 + 1}, N] for n_fft {n_fft}, "
                             f"got shape {tuple(magnitude.shape)}")
    frames = magnitude.shape[-1]
    if length is not None and n_frames(length, hop_length) != frames:
        raise DrumsynthError(f"length {length} gives {n_frames(length, hop_length)} frames at hop "
                             f"{hop_length}, but the magnitudes have {frames}")
    if initial_phase is not None and (generator is not None or initial_phase.shape != magnitude.shape):
        raise DrumsynthError(f"initial_phase must have the magnitudes' shape {tuple(magnitude.shape)} and comes "
                             f"without a generator")
    args = dict(n_fft=n_fft, hop_length=hop_length, win_length=win_length, window=window)
    with torch.no_grad():
        if initial_phase is not None:
            angles = torch.polar(torch.ones_like(magnitude), initial_phase.to(magnitude))
        elif generator is None:
            angles = torch.ones_like(magnitude, dtype=_complex_of(magnitude.dtype))
        else:
            # Draw on the generator's device, then move: the seed means the same on every device.
            phase = torch.rand(magnitude.shape, generator=generator, dtype=magnitude.dtype,
                               device=generator.device).to(magnitude.device)
            angles = torch.polar(torch.ones_like(phase), phase * (2 * math.pi))
        alpha = momentum / (1.0 + momentum)
        rebuilt = torch.zeros_like(angles)
        for _ in range(n_iter):
            previous = rebuilt
            rebuilt = stft(istft(magnitude * angles, length=length, **args), **args)
            angles = rebuilt - alpha * previous
            angles = angles / (angles.abs() + 1e-16)
        return istft(magnitude * angles, length=length, **args)


def _complex_of(dtype: torch.dtype) -> torch.dtype:
    return torch.complex128 if dtype == torch.float64 else torch.complex64
