"""Convolutions whose output runs at ``s`` times their input rate, as ``s`` stride-1 convolutions at the
input rate, one per output phase.

Output sample ``s m + r`` (``m`` a position at the input rate, ``0 <= r < s``) is phase ``r``. Each phase is
an ordinary convolution of the input (its own taps of the original kernel), so the ``s`` phases run as one
convolution with ``s`` times the output channels whose outputs then interleave. Two cases:

- a stride-``s`` transposed convolution (the ndm family's decoder and MCNN inverter):
  :func:`transposed_conv_phases` turns its weight Tensor[C_in, C_out, *kernel] into Tensor[prod(stride)
  C_out, C_in, *taps], channels ordered (phase, channel); :func:`conv_transpose_polyphase` runs that
  weight on x Tensor[B, C_in, *in_size] and interleaves the phases into Tensor[B, C_out, *out_size];
  :func:`polyphase_taps` is the per-dimension geometry both use;
- a convolution after x``factor`` nearest up-sampling (the style family's synthesis blocks, ``s =
  factor``): :func:`upsampled_conv_phases` turns its weight Tensor[C_out, C_in, K] into Tensor[factor
  C_out, C_in, 2 half + 1], channels ordered (channel, phase), to run on the input before up-sampling;
  the caller interleaves the phases.
"""

from __future__ import annotations

import functools
import math

import torch
from torch.nn import functional as F

# ---- transposed convolutions as polyphase convolutions ---------------------------------------------
#
# A stride-s transposed convolution is s ordinary (stride-1) convolutions of the same input, one per
# output phase ``n mod s``, whose outputs interleave. Run as one convolution with s times the output
# channels, it sums the same products (plus zero taps where phases differ in length), and PyTorch's
# CPU kernels run it several times faster than a transposed convolution with few output channels
# (shipped ndm, one thread: the decoder's last layer 3.0 -> 0.9 ms at batch 1, 166 -> 45 ms at 64;
# see :mod:`drumsynth.models.ndm.mcnn` for the MCNN's layers).


@functools.cache
def polyphase_taps(kernel: int, stride: int, padding: int) -> tuple[tuple[tuple[int, ...], ...], int]:
    """How a 1-D transposed convolution splits into per-phase convolutions.

    Output sample ``n = s m + r`` of a transposed convolution is ``Σ_k x[l] w[k]`` over ``s l - p + k
    = n``. As a stride-1 correlation over the input window ``x[m + lo + t]``, t = 0..taps-1, phase r
    uses kernel tap ``index[r][t]`` (``kernel`` standing for a zero tap).

    Returns ``(index, lo)``: index ``tuple[stride][taps]`` of kernel positions, lo the window's offset.
    """
    phases = []
    for r in range(stride):
        q, c = (r + padding) % stride, (r + padding) // stride
        phases.append((q, c, len(range(q, kernel, stride))))   # taps k = q + s j reach input m + c - j
    lo = min(c - n + 1 for _, c, n in phases)
    taps = max(c for _, c, _ in phases) - lo + 1
    index = tuple(tuple(q + stride * (c - lo - t) if 0 <= c - lo - t < n else kernel for t in range(taps))
                  for q, c, n in phases)
    return index, lo


def transposed_conv_phases(weight: torch.Tensor, stride: tuple[int, ...], padding: tuple[int, ...]
                           ) -> torch.Tensor:
    """A transposed convolution's weight Tensor[C_in, C_out, *kernel] (groups=1) as the weight of the
    equivalent stride-1 convolution: Tensor[prod(stride) * C_out, C_in, *taps], output channels ordered
    (phase of dim 1, phase of dim 2, ..., channel)."""
    dims = weight.dim() - 2
    w = weight
    for d in range(dims):
        axis = 2 + 2 * d                                   # earlier dims are already (phase, tap) pairs
        index, _ = polyphase_taps(w.shape[axis], stride[d], padding[d])
        w = F.pad(w, [0, 0] * (w.dim() - axis - 1) + [0, 1])          # the zero tap at index `kernel`
        flat = torch.tensor(index, device=w.device).flatten()
        w = w.index_select(axis, flat).unflatten(axis, (stride[d], len(index[0])))
    phase_axes = [2 + 2 * d for d in range(dims)]
    w = w.permute(*phase_axes, 1, 0, *[a + 1 for a in phase_axes])
    return w.reshape(math.prod(stride) * weight.shape[1], weight.shape[0], *w.shape[-dims:])


def conv_transpose_polyphase(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                             kernel: tuple[int, ...], stride: tuple[int, ...], padding: tuple[int, ...],
                             out_size: tuple[int, ...]) -> torch.Tensor:
    """``conv_transpose{1,2}d(x, w, b, stride, padding, output_padding)`` from ``weight =
    transposed_conv_phases(w, stride, padding)`` (Tensor[prod(stride) C_out, C_in, *taps]) and ``bias =
    b.repeat(prod(stride))`` (Tensor[prod(stride) C_out], or None); ``kernel`` is w's kernel size.

    x : Tensor[B, C_in, *in_size] -> Tensor[B, C_out, *out_size]. The interleave is a reshape: for a
    channels-last input whose only strided dimension is the last (``[B, C, 1, L]``), it copies nothing
    and the output stays channels-last.
    """
    dims = x.dim() - 2
    geometry = [polyphase_taps(k, s, p) for k, s, p in zip(kernel, stride, padding)]
    steps = [-(-n // s) for n, s in zip(out_size, stride)]   # outputs per phase
    # Phase outputs m = 0..M-1 read the input window starting at m + lo: pad both sides alike (the
    # kernel then pads inside the convolution, no copy) and drop the extra outputs.
    left = [-lo for _, lo in geometry]
    right = [m + len(index[0]) - 1 + lo - n for m, (index, lo), n in zip(steps, geometry, x.shape[2:])]
    for d in range(dims):                     # a window inside the input (odd geometries): crop instead
        if min(left[d], right[d]) < 0:
            start, stop = max(0, -left[d]), max(0, -right[d])
            x = x.narrow(2 + d, start, x.shape[2 + d] - start - stop)
            left[d], right[d] = left[d] + start, right[d] + stop
    pad = [max(a, b) for a, b in zip(left, right)]
    y = (F.conv1d if dims == 1 else F.conv2d)(x, weight, bias, padding=pad)
    for d in range(dims):
        y = y.narrow(2 + d, pad[d] - left[d], steps[d])
    c_out = weight.shape[0] // math.prod(stride)
    y = y.unflatten(1, (*stride, c_out))                   # [B, s_1, .., s_d, C, M_1, .., M_d]
    order = [0, dims + 1] + [a for d in range(dims) for a in (dims + 2 + d, 1 + d)]
    y = y.permute(order).reshape(x.shape[0], c_out, *(m * s for m, s in zip(steps, stride)))
    for d in range(dims):
        y = y.narrow(2 + d, 0, out_size[d])
    return y


# ---- convolutions after nearest up-sampling as polyphase convolutions ------------------------------


def upsampled_conv_phases(weight: torch.Tensor, padding: int, factor: int) -> tuple[torch.Tensor, int]:
    """A convolution after x``factor`` nearest up-sampling, as one convolution at the input rate.

    Up-sampling repeats every input sample ``factor`` times, so output sample ``factor i + r`` (phase
    ``r``) sums, for each input sample near ``i``, the taps that land on its copies: the same products with
    their weights added first, about ``factor`` times fewer operations and no up-sampled copy.

    weight Tensor[C_out, C_in, K] (zero padding ``padding``, ``K = 2 padding + 1``) -> (Tensor[factor C_out,
    C_in, 2 half + 1], half): row ``factor c + r`` is phase ``r`` of output channel ``c``, to use with
    zero padding ``half``. The taps are summed in float64 and rounded once.
    """
    c_out, c_in, k = weight.shape
    shift = [[(r + j - padding) // factor for j in range(k)] for r in range(factor)]
    half = max(max(-min(row), max(row)) for row in shift)
    phases = torch.zeros(c_out, factor, c_in, 2 * half + 1, dtype=torch.float64, device=weight.device)
    for r, row in enumerate(shift):
        for j, tap in enumerate(row):
            phases[:, r, :, tap + half] += weight[:, :, j].double()
    return phases.reshape(factor * c_out, c_in, 2 * half + 1).to(weight.dtype), half
