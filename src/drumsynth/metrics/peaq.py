"""PEAQ, basic version (ITU-R BS.1387-1), in numpy/scipy.

Written from the Recommendation and from P. Kabal, "An examination and interpretation of ITU-R
BS.1387: Perceptual evaluation of audio quality", TSP Lab, McGill University (2002/2003), cited
below as [K].  Section/equation numbers "BS 2.1.x" refer to the Recommendation.

Pipeline (all arrays are float64; C = channels, F = frames, K = 1025 FFT bins, Z = 109 bands):

1. FFT ear model (BS 2.1): 2048-point Hann frames, hop 1024, level scaling so that a full-scale
   sine is ``lp_db`` dB SPL, outer/middle-ear weighting, grouping into 109 quarter-Bark bands
   (80 Hz - 18 kHz), internal noise, level-dependent frequency spreading and time-domain spreading.
2. Pre-processing (BS 3): level and pattern adaptation, modulation patterns, loudness.
3. Model output variables (BS 4) per frame, averaged over frames (BS 5.2) and channels.
4. The basic-version neural network (BS 6) maps the 11 MOVs to the distortion index and ODG.

Spectra, band grouping, spreading and the per-frame MOVs are vectorised over frames.  The
recursions over frames (time spreading, adaptation, modulation filters) are first-order filters
that step through the frames with every step vectorised over bands and channels.  Dense BLAS
products are avoided on purpose: multi-threaded BLAS stalls badly on a busy small machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from scipy.signal import lfilter

from drumsynth.errors import DrumsynthError

__all__ = ["PeaqResult", "peaq", "MOV_NAMES", "SHORT_CLIP_SECONDS", "LEAD_IN_SAMPLES"]

# --------------------------------------------------------------------------------------------
# Constants of the basic version
# --------------------------------------------------------------------------------------------
FS = 48000
NF = 2048  # frame length (BS 2.1.1)
HOP = NF // 2  # 50 % overlap
NBINS = NF // 2 + 1
FSS = FS / HOP  # frame rate, 46.875 Hz
DZ = 0.25  # band spacing in Bark (BS 2.1.5)

# Data boundary (BS 5.2.4): a frame takes part in the averaging once the sum of 5 consecutive
# absolute sample values reaches 200 on the 16-bit scale.
BOUNDARY_WINDOW = 5
BOUNDARY_THRESHOLD = 200.0 / 32768.0
# Energy threshold for EHS (BS 5.2.4.3): 8000 on the 16-bit scale over the last 1024 samples.
ENERGY_THRESHOLD = 8000.0 / 32768.0**2
# Averaging delay of the modulation / loudness based MOVs: 0.5 s -> 24 frames (BS 5.2.4).
DELAY_FRAMES = int(np.ceil(0.5 * FSS))
# Noise loudness starts 50 ms (3 frames) after both signals exceed 0.1 sone (BS 5.2.4).
LOUDNESS_DELAY_FRAMES = int(np.ceil(0.050 * FSS))
LOUDNESS_THRESHOLD = 0.1

# Short-clip rule (see ``peaq`` docstring): clips shorter than this get a silent lead-in that puts
# their first sample at the start of the second half of frame 24, the first frame used by the
# delayed MOVs, so every MOV measures the onset.
SHORT_CLIP_SECONDS = 1.5
LEAD_IN_SAMPLES = (DELAY_FRAMES + 1) * HOP  # 25600 samples = 0.533 s

MOV_NAMES = (
    "BandwidthRefB",
    "BandwidthTestB",
    "TotalNMRB",
    "WinModDiff1B",
    "ADBB",
    "EHSB",
    "AvgModDiff1B",
    "AvgModDiff2B",
    "RmsNoiseLoudB",
    "MFPDB",
    "RelDistFramesB",
)

# Neural network of the basic version (BS 6): scaling and weights as tabulated in the
# Recommendation, inputs in MOV_NAMES order.
_AMIN = np.array(
    [393.916656, 361.965332, -24.045116, 1.110661, -0.206623, 0.074318, 1.113683, 0.950345,
     0.029985, 0.000101, 0.0]
)
_AMAX = np.array(
    [921.0, 881.131226, 16.212030, 107.137772, 2.886017, 13.933351, 63.257874, 1145.018555,
     14.819740, 1.0, 1.0]
)
_WX = np.array(
    [
        [-0.502657, 0.436333, 1.219602],
        [4.307481, 3.246017, 1.123743],
        [4.984241, -2.211189, -0.192096],
        [0.051056, -1.762424, 4.331315],
        [2.321580, 1.789971, -0.754560],
        [-5.303901, -3.452257, -10.814982],
        [2.730991, -6.111805, 1.519223],
        [0.624950, -1.331523, -5.955151],
        [3.102889, 0.871260, -5.922878],
        [-1.051468, -0.939882, -0.142913],
        [-1.804679, -0.503610, -0.620456],
    ]
)
_WXB = np.array([-2.518254, 0.654841, -2.207228])
_WY = np.array([-3.817048, 4.107138, 4.629582])
_WYB = -0.307594
_BMIN, _BMAX = -3.98, 0.22


@dataclass
class PeaqResult:
    """Outcome of one PEAQ comparison.

    di: distortion index (unbounded, about -4 .. 3.3 in practice).
    odg: objective difference grade in [-3.98, 0.22]; 0 = imperceptible, -4 = very annoying.
    movs: the 11 model output variables by their standard names (``MOV_NAMES``).
    """

    di: float
    odg: float
    movs: dict[str, float] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Static tables of the FFT ear model
# --------------------------------------------------------------------------------------------
def _band_edges() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower, centre and upper frequencies in Hz of the 109 bands, each [Z] (BS 2.1.5).

    Computed from z = 7 asinh(f/650) rather than read from the Recommendation's rounded table
    (which also has two typos); the difference is below 0.01 Hz elsewhere.
    """
    z_lo, z_hi = 7.0 * np.arcsinh(80.0 / 650.0), 7.0 * np.arcsinh(18000.0 / 650.0)
    nbands = int(np.ceil((z_hi - z_lo) / DZ))
    zl = z_lo + np.arange(nbands) * DZ
    zu = np.minimum(z_lo + (np.arange(nbands) + 1) * DZ, z_hi)
    zc = 0.5 * (zl + zu)
    to_hz = lambda z: 650.0 * np.sinh(z / 7.0)  # noqa: E731
    return to_hz(zl), to_hz(zc), to_hz(zu)


def _group_matrix(fl: np.ndarray, fu: np.ndarray) -> np.ndarray:
    """[K, Z] weights: the fraction of FFT bin k (width fs/N, centred on k fs/N) inside band z.

    This is the bin-overlap grouping of BS 2.1.5 as interpreted in [K] 2.6.
    """
    df = FS / NF
    k = np.arange(NBINS)[:, None]
    lo = np.maximum(fl[None, :], (k - 0.5) * df)
    hi = np.minimum(fu[None, :], (k + 0.5) * df)
    return np.clip(hi - lo, 0.0, None) / df


def _outer_ear_power_weight() -> np.ndarray:
    """[K] outer/middle-ear weighting |W(f)|^2 in the power domain (BS 2.1.4, eq. 7).

    W is in dB; at DC the formula tends to -inf dB, i.e. weight 0.
    """
    f_khz = np.arange(NBINS) * FS / NF / 1000.0
    w = np.zeros(NBINS)
    f = f_khz[1:]
    w_db = -0.6 * 3.64 * f**-0.8 + 6.5 * np.exp(-0.6 * (f - 3.3) ** 2) - 1e-3 * f**3.6
    w[1:] = 10.0 ** (w_db / 10.0)
    return w


def _time_constant(fc: np.ndarray, tau_min: float, tau_100: float) -> np.ndarray:
    """[Z] first-order smoothing coefficients a = exp(-hop / (fs tau(fc))) (BS eq. 21, 56)."""
    tau = tau_min + 100.0 / fc * (tau_100 - tau_min)
    return np.exp(-HOP / (FS * tau))


def _level_gain(lp_db: float) -> float:
    """Power scaling G_L^2 so that a full-scale 1019.5 Hz sine peaks at lp_db dB SPL.

    [K] 2.2: G_L = 10^(Lp/20) / (gamma A_max/4 (N-1)) with A_max = 1 (float full scale) and gamma
    the scalloping factor of the Hann window for a sine between two bins.  [K]'s window lacks the
    sqrt(8/3) of BS eq. 3, so the power is divided by 8/3 here: the sine's peak bin is Lp exactly.
    """
    fcn = 1019.5 / FS
    k = np.floor(fcn * NF)
    dfn = min((k + 1) / NF - fcn, fcn - k / NF)
    dfw = dfn * (NF - 1)
    gamma = np.sin(np.pi * dfw) / (np.pi * dfw * (1.0 - dfw**2))
    gl = 10.0 ** (lp_db / 20.0) / (gamma / 4.0 * (NF - 1))
    return gl**2 / (8.0 / 3.0)


class _Tables:
    """Frequency tables computed once (the basic version has fixed parameters)."""

    def __init__(self) -> None:
        self.fl, self.fc, self.fu = _band_edges()
        self.nbands = self.fc.size
        # Sparse [Z, K]: a dense BLAS product would be multi-threaded and stalls on busy machines.
        self.group = sparse.csr_matrix(_group_matrix(self.fl, self.fu).T)
        self.ear_weight = _outer_ear_power_weight()  # [K]
        n = np.arange(NF)
        # Hann window scaled by sqrt(8/3) to keep the power of the signal (BS eq. 3, [K] eq. 4).
        self.window = np.sqrt(8.0 / 3.0) * 0.5 * (1.0 - np.cos(2.0 * np.pi * n / (NF - 1)))
        fk = self.fc / 1000.0
        self.internal_noise = 10.0 ** (0.4 * 0.364 * fk**-0.8)  # E_IN (BS eq. 14)
        self.e_thresh = 10.0 ** (0.364 * fk**-0.8)  # excitation at threshold E_t (BS 3.3)
        self.s_index = 10.0 ** (
            0.1 * (-2.0 - 2.05 * np.arctan(self.fc / 4000.0) - 0.75 * np.arctan((self.fc / 1600.0) ** 2))
        )  # threshold index s (BS 3.3)
        k = np.arange(self.nbands)
        # Masking offset m[k] (BS eq. 25): 3 dB up to 12 Bark, 0.25 k dz dB above.
        m_db = np.where(k * DZ <= 12.0, 3.0, 0.25 * k * DZ)
        self.mask_factor = 10.0 ** (m_db / 10.0)
        self.a_spread_time = _time_constant(self.fc, 0.008, 0.030)  # BS 2.1.8
        self.a_adapt = _time_constant(self.fc, 0.008, 0.050)  # BS 3.1, 3.2
        # Spreading slopes (BS 2.1.7, [K] 2.8): 27 dB/Bark downwards, upward slope level-dependent.
        self.a_lower = 10.0 ** (-2.7 * DZ)
        self.a_upper_c = 10.0 ** ((-2.4 - 23.0 / self.fc) * DZ)
        self.spread_norm = np.ones(self.nbands)
        self.spread_norm = _spread(np.ones((1, self.nbands)), self)[0]
        # EHS correlation window (BS 4.7, [K] 5.8): Hann of 256 lags, sqrt(8/3)/L scaling.
        lags = np.arange(_EHS_LAGS)
        self.ehs_window = (
            np.sqrt(8.0 / 3.0) * 0.5 * (1.0 - np.cos(2.0 * np.pi * lags / (_EHS_LAGS - 1))) / _EHS_LAGS
        )


_EHS_LAGS = 256
_TABLES: _Tables | None = None


def _tables() -> _Tables:
    """The lazily built, shared frequency tables."""
    global _TABLES
    if _TABLES is None:
        _TABLES = _Tables()
    return _TABLES


# --------------------------------------------------------------------------------------------
# Ear model
# --------------------------------------------------------------------------------------------
def _iir1(x: np.ndarray, a: np.ndarray, b: np.ndarray | float = 1.0) -> np.ndarray:
    """y[n] = a y[n-1] + b x[n] along axis -2 (frames) with zero initial state.

    x: [..., F, Z]; a, b: [Z] (per band) or scalar.  Returns [..., F, Z].  The recursion runs
    over frames; each step is vectorised over all bands (and leading axes).
    """
    xs = np.moveaxis(x, -2, 0)  # [F, ..., Z]
    bx = xs * b
    y = np.empty_like(xs)
    state = np.zeros(xs.shape[1:])
    for n in range(xs.shape[0]):
        state *= a
        state += bx[n]
        y[n] = state
    return np.moveaxis(y, 0, -2)


def _group(spec: np.ndarray, t: _Tables) -> np.ndarray:
    """Group a power spectrum into bands: [..., K] -> [..., Z] (sparse product, BS 2.1.5)."""
    flat = spec.reshape(-1, NBINS)
    return np.asarray((t.group @ flat.T).T).reshape(spec.shape[:-1] + (t.nbands,))


def _band_average(r: np.ndarray, below: int = 3, above: int = 4) -> np.ndarray:
    """Mean over bands k-3 .. k+4, clipped at the edges (BS eq. 51).  [..., Z] -> [..., Z]."""
    nb = r.shape[-1]
    c = np.concatenate([np.zeros(r.shape[:-1] + (1,)), np.cumsum(r, axis=-1)], axis=-1)
    k = np.arange(nb)
    lo, hi = np.maximum(k - below, 0), np.minimum(k + above, nb - 1) + 1
    return (c[..., hi] - c[..., lo]) / (hi - lo)


def _spread(e: np.ndarray, t: _Tables) -> np.ndarray:
    """Level-dependent frequency spreading (BS 2.1.7, [K] 2.8).  e: [N, Z] -> [N, Z].

    Each source band j is spread with 27 dB/Bark downwards and (24 + 230/fc - 2 log10 E) dB/Bark
    upwards, normalised to unit total energy, and the spread contributions are added with the
    exponent 0.4 (a power law, not energies).  Both slopes are accumulated band by band,
    vectorised over all N frames.
    """
    nb = e.shape[-1]
    aL = t.a_lower
    j = np.arange(nb)
    g_lower = (1.0 - aL ** (j + 1)) / (1.0 - aL)  # sum of the lower slope incl. the source band
    a_uce = t.a_upper_c * e ** (0.2 * DZ)  # [N, Z] upward attenuation per band step
    m = nb - j  # number of bands from j upwards, including j
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        g_upper = np.where(
            np.abs(1.0 - a_uce) > 1e-12, (1.0 - a_uce**m) / (1.0 - a_uce), m.astype(float)
        )
    ene = (e / (g_lower + g_upper - 1.0)) ** 0.4  # [N, Z]
    # Downward slope (fixed): total[k] = sum_{j >= k} ene[j] aL^(0.4 (j - k)), a recursion from
    # the top band down.  Upward slope (level dependent): carry[:, j] = ene[j] r[j]^(k - j) is
    # the contribution of source j < k to target k; both loops run over bands, not frames.
    total = np.empty_like(ene)
    a_low = aL**0.4
    acc = np.zeros(ene.shape[0])
    for k in range(nb - 1, -1, -1):
        acc = a_low * acc + ene[:, k]
        total[:, k] = acc
    ratio = a_uce**0.4
    carry = np.zeros_like(e)
    for k in range(1, nb):
        carry[:, k - 1] = ene[:, k - 1]
        carry[:, :k] *= ratio[:, :k]
        total[:, k] += carry[:, :k].sum(-1)
    return total ** (1.0 / 0.4) / t.spread_norm


@dataclass
class _EarOutput:
    """Per-signal ear-model outputs; C channels, F frames.

    power: [C, F, K] level-scaled power spectrum; weighted: [C, F, K] after outer-ear weighting;
    unsmeared: [C, F, Z] excitation after frequency spreading; excitation: [C, F, Z] after
    time-domain spreading; energy_ok: [C, F] EHS energy threshold; active: [C, F] data boundary.
    """

    power: np.ndarray
    weighted: np.ndarray
    unsmeared: np.ndarray
    excitation: np.ndarray
    energy_ok: np.ndarray
    active: np.ndarray


def _frames(x: np.ndarray) -> np.ndarray:
    """x: [C, T] zero padded to whole frames -> [C, F, NF] read-only view (hop HOP)."""
    return np.lib.stride_tricks.sliding_window_view(x, NF, axis=-1)[:, ::HOP]


def _active_frames(x: np.ndarray, nframes: int) -> np.ndarray:
    """[C, F] bool: the frame holds 5 consecutive samples whose absolute sum reaches 200/32768."""
    c, n = x.shape
    cabs = np.concatenate([np.zeros((c, 1)), np.cumsum(np.abs(x), axis=-1)], axis=-1)
    s = cabs[:, BOUNDARY_WINDOW:] - cabs[:, :-BOUNDARY_WINDOW]  # [C, T-4] sums of 5 samples
    hit = (s >= BOUNDARY_THRESHOLD).astype(np.int64)  # [C, T-4] by window start
    cum = np.concatenate([np.zeros((c, 1), np.int64), np.cumsum(hit, axis=-1)], axis=-1)
    starts = np.arange(nframes) * HOP
    stops = np.minimum(starts + NF - BOUNDARY_WINDOW + 1, hit.shape[-1])
    return (cum[:, stops] - cum[:, starts]) > 0


def _ear_model(x: np.ndarray, gain: float, t: _Tables) -> _EarOutput:
    """FFT ear model (BS 2.1).  x: [C, T] at 48 kHz, already padded to whole frames."""
    fr = _frames(x)  # [C, F, NF]
    nframes = fr.shape[1]
    spec = np.fft.rfft(fr * t.window, axis=-1)
    power = (spec.real**2 + spec.imag**2) * gain  # [C, F, K]
    weighted = power * t.ear_weight
    bands = np.maximum(_group(weighted, t), 1e-12)  # E_b, floored as in [K] 2.6
    pitch = bands + t.internal_noise  # BS eq. 14
    shape = pitch.shape
    unsmeared = _spread(pitch.reshape(-1, t.nbands), t).reshape(shape)
    # Time-domain spreading (BS 2.1.8): first-order low pass, then the maximum with the input.
    smeared = _iir1(unsmeared, t.a_spread_time, 1.0 - t.a_spread_time)
    excitation = np.maximum(smeared, unsmeared)
    energy_ok = (fr[..., HOP:] ** 2).sum(-1) >= ENERGY_THRESHOLD
    return _EarOutput(power, weighted, unsmeared, excitation, energy_ok, _active_frames(x, nframes))


def _loudness(excitation: np.ndarray, t: _Tables) -> np.ndarray:
    """Total loudness in sone per frame (BS 3.3).  [C, F, Z] -> [C, F]."""
    c = 1.07664  # FFT-model scaling constant
    s, et = t.s_index, t.e_thresh
    n = c * (et / (s * 1e4)) ** 0.23 * ((1.0 - s + s * excitation / et) ** 0.23 - 1.0)
    return np.maximum(n, 0.0).sum(-1) * 24.0 / t.nbands


def _modulation(unsmeared: np.ndarray, t: _Tables) -> tuple[np.ndarray, np.ndarray]:
    """Modulation patterns (BS 3.2).  [C, F, Z] -> (modulation [C, F, Z], mean loudness [C, F, Z])."""
    loud = unsmeared**0.3
    prev = np.concatenate([np.zeros_like(loud[..., :1, :]), loud[..., :-1, :]], axis=-2)
    deriv = FSS * np.abs(loud - prev)  # BS eq. 54
    a = t.a_adapt
    deriv_f = _iir1(deriv, a, 1.0 - a)
    loud_f = _iir1(loud, a, 1.0 - a)  # BS eq. 55
    return deriv_f / (1.0 + loud_f / 0.3), loud_f  # BS eq. 57


def _adapt(e_ref: np.ndarray, e_test: np.ndarray, t: _Tables) -> tuple[np.ndarray, np.ndarray]:
    """Level and pattern adaptation (BS 3.1).  Excitations [C, F, Z] -> adapted (ref, test)."""
    a = t.a_adapt
    p_ref = _iir1(e_ref, a, 1.0 - a)  # BS eq. 42, 43
    p_test = _iir1(e_test, a, 1.0 - a)
    corr = (np.sqrt(p_ref * p_test).sum(-1) / p_test.sum(-1)) ** 2  # BS eq. 45, [C, F]
    corr = corr[..., None]
    # Scale the louder of the two down (BS eq. 46, 47).
    ref_l = np.where(corr > 1.0, e_ref / corr, e_ref)
    test_l = np.where(corr > 1.0, e_test, e_test * corr)
    num = _iir1(test_l * ref_l, a)  # BS eq. 48
    den = _iir1(ref_l * ref_l, a)
    r_ref = np.where(num >= den, 1.0, num / den)  # BS eq. 49
    r_test = np.where(num >= den, den / num, 1.0)
    pc_ref = _iir1(_band_average(r_ref), a, 1.0 - a)  # BS eq. 50, 51
    pc_test = _iir1(_band_average(r_test), a, 1.0 - a)
    return ref_l * pc_ref, test_l * pc_test  # BS eq. 52, 53


# --------------------------------------------------------------------------------------------
# Per-frame model output variables
# --------------------------------------------------------------------------------------------
def _bandwidth(p_ref: np.ndarray, p_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bandwidth of reference and test in bins per frame (BS 4.4).  [C, F, K] -> 2 x [C, F].

    The zero threshold is the largest test bin above 21.6 kHz (bin 921); the reference bandwidth
    is the highest bin below it exceeding the threshold by 10 dB, the test bandwidth the highest
    bin below the reference bandwidth exceeding it by 5 dB.  0 means no bin found.
    """
    kx = 921
    thr = p_test[..., kx : NF // 2].max(-1, keepdims=True)
    idx = np.arange(1, kx + 1)  # candidate bandwidths: bin k -> bandwidth k + 1
    over_ref = p_ref[..., :kx] > 10.0 * thr
    bw_ref = np.where(over_ref, idx, 0).max(-1)
    over_test = (p_test[..., :kx] >= 10.0**0.5 * thr) & (idx <= bw_ref[..., None])
    bw_test = np.where(over_test, idx, 0).max(-1)
    return bw_ref.astype(float), bw_test.astype(float)


def _nmr(ref: _EarOutput, test: _EarOutput, t: _Tables) -> tuple[np.ndarray, np.ndarray]:
    """Noise-to-mask ratio per frame (BS 4.5), linear: (mean over bands, max over bands) [C, F].

    The noise is the band-grouped squared difference of the weighted FFT magnitudes; the mask is
    the time-spread reference excitation lowered by m[k].
    """
    diff = (np.sqrt(ref.weighted) - np.sqrt(test.weighted)) ** 2
    noise = np.maximum(_group(diff, t), 1e-12)
    ratio = noise / (ref.excitation / t.mask_factor)
    return ratio.mean(-1), ratio.max(-1)


def _mod_diff(m_ref, m_test, loud_ref, t: _Tables):
    """Modulation differences (BS 4.2).  [C, F, Z] inputs -> (ModDiff1, ModDiff2, weight) [C, F]."""
    diff = np.abs(m_test - m_ref)
    md1 = 100.0 / t.nbands * (diff / (1.0 + m_ref)).sum(-1)
    w = np.where(m_test >= m_ref, 1.0, 0.1)
    md2 = 100.0 / t.nbands * (w * diff / (0.01 + m_ref)).sum(-1)
    ein = t.internal_noise**0.3
    wt = (loud_ref / (loud_ref + 100.0 * ein)).sum(-1)  # BS eq. 65
    return md1, md2, wt


def _noise_loudness(m_ref, m_test, ep_ref, ep_test, t: _Tables) -> np.ndarray:
    """Noise loudness per frame in sone (BS 4.3, eq. 66-68), floored at 0.  -> [C, F]."""
    s_ref = 0.15 * m_ref + 0.5
    s_test = 0.15 * m_test + 0.5
    ein = t.internal_noise
    beta = np.exp(-1.5 * (ep_test - ep_ref) / ep_ref)
    num = np.maximum(s_test * ep_test - s_ref * ep_ref, 0.0)
    nl = (ein / s_test) ** 0.23 * ((1.0 + num / (ein + s_ref * ep_ref * beta)) ** 0.23 - 1.0)
    return np.maximum(nl.sum(-1) * 24.0 / t.nbands, 0.0)


def _detection(e_ref: np.ndarray, e_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Binaural probability of detection and steps above threshold (BS 4.6).  -> 2 x [F].

    e_ref, e_test: time-spread excitations [C, F, Z].  Per band the larger probability and step
    count of the channels is taken; the bands combine as 1 - prod(1 - p) and sum(q).
    """
    l_ref = 10.0 * np.log10(e_ref)
    l_test = 10.0 * np.log10(e_test)
    level = 0.3 * np.maximum(l_ref, l_test) + 0.7 * l_test  # BS eq. 73
    pos = level > 0.0
    lv = np.where(pos, level, 1.0)
    s = np.where(
        pos,
        5.95072 * (6.39468 / lv) ** 1.71332 + 9.01033e-11 * lv**4 + 5.05622e-6 * lv**3
        - 0.00102438 * lv**2 + 0.0550197 * lv - 0.198719,
        1e30,
    )  # detection threshold slope (BS eq. 74)
    e = l_ref - l_test
    b = np.where(l_ref > l_test, 4.0, 6.0)
    p = 1.0 - 0.5 ** ((e / s) ** b)  # BS eq. 75-77
    q = np.abs(np.trunc(e)) / s  # BS eq. 78
    p_bin = p.max(0)
    q_bin = q.max(0)
    return 1.0 - np.prod(1.0 - p_bin, axis=-1), q_bin.sum(-1)


def _ehs(w_ref: np.ndarray, w_test: np.ndarray) -> np.ndarray:
    """Error harmonic structure per frame (BS 4.7, [K] 5.8).  [C, F, K] -> [C, F].

    The log spectral ratio of the first 512 bins is correlated with itself at lags 0..255
    (normalised), the mean is removed, a Hann window applied and the power spectrum taken; the
    value is the largest peak after the first valley.
    """
    t = _tables()
    n2 = 2 * _EHS_LAGS
    tiny = 1e-30  # keeps log finite where a bin is digital silence (0/0 -> 0, as in DC)
    d = np.log((w_test[..., :n2] + tiny) / (w_ref[..., :n2] + tiny))  # [C, F, 512]
    dfull = np.fft.rfft(d, n2, axis=-1)
    dhead = np.fft.rfft(d[..., :_EHS_LAGS], n2, axis=-1)
    corr = np.fft.irfft(dfull * np.conj(dhead), n2, axis=-1)[..., :_EHS_LAGS]  # sum_k d[k] d[k+l]
    sq = np.concatenate([np.zeros(d.shape[:-1] + (1,)), np.cumsum(d * d, axis=-1)], axis=-1)
    e_lag = sq[..., _EHS_LAGS : n2] - sq[..., :_EHS_LAGS]  # sum_{k=l}^{l+255} d[k]^2, [.., 256]
    e0 = e_lag[..., :1]
    denom = np.sqrt(e0 * e_lag)
    cn = np.divide(corr, denom, out=np.zeros_like(corr), where=denom > 0)
    cn = (cn - cn.mean(-1, keepdims=True)) * t.ehs_window
    ps = np.abs(np.fft.rfft(cn, axis=-1)) ** 2  # [C, F, 129]
    rising = ps[..., 1:] > ps[..., :-1]
    return np.where(rising, ps[..., 1:], 0.0).max(-1)


# --------------------------------------------------------------------------------------------
# Time averaging (BS 5.2) and the neural network (BS 6)
# --------------------------------------------------------------------------------------------
def _mean(x: np.ndarray, sel: np.ndarray) -> float:
    """Mean of x[sel]; 0 for an empty selection (see the short-clip rule)."""
    return float(x[sel].mean()) if np.any(sel) else 0.0


def _win_avg(x: np.ndarray, window: int = 4) -> float:
    """Windowed average (BS 5.2): sqrt(mean over windows of (mean of sqrt(x) in the window)^4).

    A selection shorter than the window uses one window of its own length; empty gives 0.
    """
    n = x.size
    if n == 0:
        return 0.0
    window = min(window, n)
    r = np.sqrt(x)
    kern = np.convolve(r, np.ones(window) / window, mode="valid")
    return float(np.sqrt(np.mean(kern**4)))


def _network(movs: np.ndarray) -> tuple[float, float]:
    """Distortion index and ODG from the 11 MOVs (BS 6): one hidden layer of 3 sigmoid nodes."""
    x = (movs - _AMIN) / (_AMAX - _AMIN)
    hidden = 1.0 / (1.0 + np.exp(-(_WXB + (x[:, None] * _WX).sum(0))))
    di = float(_WYB + (hidden * _WY).sum())
    odg = float(_BMIN + (_BMAX - _BMIN) / (1.0 + np.exp(-di)))
    return di, odg


def _compute_movs(ref: np.ndarray, test: np.ndarray, lp_db: float) -> np.ndarray:
    """The 11 basic MOVs for 48 kHz signals ref, test: [C, T] of whole frames."""
    t = _tables()
    gain = _level_gain(lp_db)
    er = _ear_model(ref, gain, t)
    et = _ear_model(test, gain, t)
    nch, nframes = er.active.shape

    # Data boundary (BS 5.2.4): frames from the first to the last frame in which either
    # signal crosses the threshold.  Without any such frame every frame is used.
    active = (er.active | et.active).any(0)
    frame = np.arange(nframes)
    if active.any():
        hits = np.flatnonzero(active)
        in_range = (frame >= hits[0]) & (frame <= hits[-1])
    else:
        in_range = np.ones(nframes, bool)

    ep_ref, ep_test = _adapt(er.excitation, et.excitation, t)
    m_ref, loud_ref = _modulation(er.unsmeared, t)
    m_test, _ = _modulation(et.unsmeared, t)

    # Loudness check for the noise loudness (BS 5.2.4): first frame where reference and test
    # of one channel both exceed 0.1 sone.
    n_ref, n_test = _loudness(er.excitation, t), _loudness(et.excitation, t)
    loud_ok = ((n_ref > LOUDNESS_THRESHOLD) & (n_test > LOUDNESS_THRESHOLD)).any(0)
    first_loud = int(np.argmax(loud_ok)) if loud_ok.any() else nframes
    delayed = in_range & (frame >= DELAY_FRAMES)
    nl_sel = delayed & (frame >= first_loud + LOUDNESS_DELAY_FRAMES)

    md1, md2, wt = _mod_diff(m_ref, m_test, loud_ref, t)
    nl = _noise_loudness(m_ref, m_test, ep_ref, ep_test, t)
    bw_ref, bw_test = _bandwidth(er.power, et.power)
    nmr, nmr_max = _nmr(er, et, t)
    ehs = _ehs(er.weighted, et.weighted)
    p_bin, q_bin = _detection(er.excitation, et.excitation)
    ehs_sel = in_range & (er.energy_ok | et.energy_ok).any(0)

    per_channel = np.zeros((nch, 9))
    for c in range(nch):
        bw_sel = in_range & (bw_ref[c] > 346)
        w = wt[c, delayed]
        per_channel[c] = [
            _mean(bw_ref[c], bw_sel),
            _mean(bw_test[c], bw_sel),
            10.0 * np.log10(_mean(nmr[c], in_range) or 1e-12),
            _win_avg(md1[c, delayed]),
            1000.0 * _mean(ehs[c], ehs_sel),
            float((w * md1[c, delayed]).sum() / w.sum()) if w.sum() > 0 else 0.0,
            float((w * md2[c, delayed]).sum() / w.sum()) if w.sum() > 0 else 0.0,
            float(np.sqrt(np.mean(nl[c, nl_sel] ** 2))) if nl_sel.any() else 0.0,
            _mean((nmr_max[c] > 10.0**0.15).astype(float), in_range),
        ]
    avg = per_channel.mean(0)

    # ADB and MFPD (BS 5.2.3): binaural values, averaged over the data-boundary frames.
    p_sel, q_sel = p_bin[in_range], q_bin[in_range]
    detected = p_sel > 0.5
    if not detected.any():
        adb = 0.0
    else:
        q_sum = q_sel[detected].sum()
        adb = float(np.log10(q_sum / detected.sum())) if q_sum > 0 else -0.5
    p_smooth = lfilter([0.1], [1.0, -0.9], p_sel) if p_sel.size else np.zeros(1)
    mfpd = float(max(p_smooth.max(), 0.0))

    return np.array(
        [avg[0], avg[1], avg[2], avg[3], adb, avg[4], avg[5], avg[6], avg[7], mfpd, avg[8]]
    )


# --------------------------------------------------------------------------------------------
# Input handling and the public entry point
# --------------------------------------------------------------------------------------------
def _as_channels(x, name: str) -> np.ndarray:
    """Validate one input signal and return it as float64 [C, T] with C in (1, 2)."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiu":
        raise DrumsynthError(f"peaq: {name} must be a numeric array, got dtype {arr.dtype}")
    if arr.dtype.kind in "iu":
        raise DrumsynthError(
            f"peaq: {name} has integer dtype {arr.dtype}; pass float samples in [-1, 1] full scale"
        )
    arr = arr.astype(np.float64, copy=False)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise DrumsynthError(f"peaq: {name} must be [T] or [C, T], got shape {arr.shape}")
    if arr.shape[0] not in (1, 2):
        hint = " (looks like [T, C]; transpose it)" if arr.shape[1] in (1, 2) else ""
        raise DrumsynthError(f"peaq: {name} must have 1 or 2 channels, got shape {arr.shape}{hint}")
    if arr.shape[1] == 0:
        raise DrumsynthError(f"peaq: {name} is empty (shape {arr.shape})")
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise DrumsynthError(f"peaq: {name} contains {bad} non-finite samples (NaN or inf)")
    return arr


def _resample(x: np.ndarray, sr: int) -> np.ndarray:
    """[C, T] at sr -> [C, T'] at 48 kHz (soxr, high quality)."""
    if sr == FS:
        return x
    import soxr

    y = soxr.resample(np.ascontiguousarray(x.T), sr, FS, quality="HQ")
    return np.asarray(y, dtype=np.float64).reshape(-1, x.shape[0]).T


def peaq(reference, test, sr: int, *, lp_db: float = 92.0) -> PeaqResult:
    """PEAQ basic version (ITU-R BS.1387-1): objective difference grade of ``test`` vs ``reference``.

    reference, test: np.ndarray [T] (mono) or [C, T] with C = 1 or 2, float samples with full scale
    +-1.  Stereo pairs are processed per channel; the MOVs are averaged over the channels (ADBB and
    MFPDB use the standard's binaural combination).  Both signals must be time aligned and have
    the same channel count; lengths may differ by at most 10 ms (the shorter one is zero padded),
    anything else raises ``DrumsynthError``, as do empty, non-finite or integer inputs.
    sr: sample rate in Hz; signals not at 48 kHz are resampled with soxr (HQ).
    lp_db: listening level, the SPL of a full-scale sine (92 dB as in the standard).

    Short-clip rule (drum one-shots): the standard ignores the first 0.5 s (24 frames) for the
    modulation and noise-loudness MOVs, which would skip the whole hit of a short clip.  Pairs
    shorter than ``SHORT_CLIP_SECONDS`` (1.5 s) after resampling are therefore preceded by
    ``LEAD_IN_SAMPLES`` (25600 = 25 hops, 0.533 s) of digital silence, so the clip starts in frame
    24, the first frame those MOVs use; the silent lead-in lies outside the data boundary and is
    not averaged by any MOV.  Longer signals are processed exactly as the standard says.  Any
    average that is still empty (e.g. a hit too quiet to reach 0.1 sone, or silence) is 0, the
    window of WinModDiff1B shrinks to the available frames, and pairs where neither signal ever
    crosses the data-boundary threshold (e.g. silence vs silence) are averaged over all frames.
    Hence the result is always finite.
    """
    ref = _as_channels(reference, "reference")
    tst = _as_channels(test, "test")
    if (
        isinstance(sr, bool)
        or not isinstance(sr, (int, float, np.integer, np.floating))
        or not np.isfinite(sr)
        or sr <= 0
        or sr != int(sr)
    ):
        raise DrumsynthError(f"peaq: sr must be a positive whole number of Hz, got {sr!r}")
    sr = int(sr)
    if not isinstance(lp_db, (int, float, np.integer, np.floating)) or not 0.0 <= lp_db <= 130.0:
        raise DrumsynthError(f"peaq: lp_db must be a level in dB SPL within [0, 130], got {lp_db!r}")
    if ref.shape[0] != tst.shape[0]:
        raise DrumsynthError(
            f"peaq: channel counts differ: reference {ref.shape[0]}, test {tst.shape[0]}"
        )
    diff = abs(ref.shape[1] - tst.shape[1])
    if diff > 0.010 * sr:
        raise DrumsynthError(
            f"peaq: lengths differ by {diff} samples (reference {ref.shape[1]}, test "
            f"{tst.shape[1]}), more than 10 ms at {sr} Hz; align the signals first"
        )
    n = max(ref.shape[1], tst.shape[1])
    ref = np.pad(ref, ((0, 0), (0, n - ref.shape[1])))
    tst = np.pad(tst, ((0, 0), (0, n - tst.shape[1])))

    ref, tst = _resample(ref, sr), _resample(tst, sr)
    n = max(ref.shape[1], tst.shape[1])
    lead = LEAD_IN_SAMPLES if n < SHORT_CLIP_SECONDS * FS else 0
    nframes = max(1, int(np.ceil((lead + n - NF) / HOP)) + 1)
    total = (nframes - 1) * HOP + NF
    ref = np.pad(ref, ((0, 0), (lead, total - lead - ref.shape[1])))
    tst = np.pad(tst, ((0, 0), (lead, total - lead - tst.shape[1])))

    movs = _compute_movs(ref, tst, float(lp_db))
    movs = np.nan_to_num(movs, nan=0.0, posinf=0.0, neginf=0.0)  # belt and braces
    di, odg = _network(movs)
    return PeaqResult(di=di, odg=odg, movs={k: float(v) for k, v in zip(MOV_NAMES, movs, strict=True)})
