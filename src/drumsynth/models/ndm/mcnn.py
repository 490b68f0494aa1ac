"""The multi-head CNN (MCNN) inverter: mel frames -> waveform, with the seed's binarised mask.

Arık, Jun & Diamos (2019), as modified by the Neural Drum Machine: every head is a stack of
bias-free 1-D transposed convolutions (width 13, stride 2, ELU between layers) whose channel count
halves towards the output; each head emits a signal and a mask logit; the signals are summed with
trainable head weights and squashed by a scaled softsign, the mask is ``σ(Σ_h m_h)`` (binarised at
inference). Without biases, all-zero mel frames give exactly zero output, and the mask cuts the
tail that the wide filters leak into the padding.

All heads are stored as one grouped convolution stack (``groups = heads`` after the first layer),
the same function as separate heads. The forward pass runs it faster still, with the same result, each
layer in the form PyTorch's CPU kernels run fastest (shipped model: 4 heads x 9 layers, 32 channels;
one thread; thread-time minima of isolated layers at batch 1 / 16, ms):

- the first (ungrouped) layer over all 512 mel bins as the stored transposed convolution on ``[B, C, L]``
  (2.6 / 33; on channels-last rows 4.9 / 31); behind a low-rank projection (``mel_rank``, 32 channels) in
  its polyphase form on channels-last rows (0.27 / 3.4 against 0.58 / 8.2 transposed; the projection
  itself as a matrix product that writes those rows, no copy);
- the grouped layers while a group has >= 8 input channels as grouped transposed convolutions on
  channels-last ``[B, C, 1, L]`` rows (layers 1-3: 0.22 / 3.5, 0.30 / 2.6, 0.21 / 1.9; as ``[B, C, L]``
  0.28 / 4.3, 0.44 / 5.0, 0.24 / 2.1);
- the narrower ones as dense convolutions with a block-diagonal weight (PyTorch's grouped convolutions
  are slow on 2 channels per group), each in its polyphase form (two stride-1 convolutions, one per
  output phase: :func:`drumsynth.nn.polyphase.conv_transpose_polyphase`) on channels-last rows, where
  interleaving the phases copies nothing (layer 7: 0.34 / 4.8; grouped transposed 0.67 / 8.5);
- the last layer folds the head weights and the head sums into its weight, so it writes 2 channels
  (signal, mask) instead of 2 per head, and reads ``OUTPUT_FOLD`` consecutive samples as channels
  (:func:`space_to_depth`) so its polyphase convolution writes 16 channels rather than 4, which the
  kernels vectorise better (0.45 / 6.8 ms; unfolded 0.76 / 9.8);
- at inference (no gradients) the ELUs and the binarised-mask output run in place, and an ELU whose
  tensor fits in cache as ``max(x, exp(min(x, 0)) - 1)`` (:func:`fast_elu`): PyTorch's ELU calls a
  scalar ``expm1``, ``exp`` is vectorised (layer 7's ELU at batch 1: 0.54 -> 0.32 ms);
- an ungrouped layer runs with its stored weight as it is (a block-diagonal copy of the first layer
  cost ~4 ms a call), and at inference the derived weights are kept between calls
  (:class:`~drumsynth.models.ndm.wae.WeightMemo`; building them costs ~0.3 ms at batch 1).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from drumsynth.models.ndm.wae import WeightMemo
from drumsynth.nn.polyphase import conv_transpose_polyphase, transposed_conv_phases

# A grouped layer whose groups have at least this many input channels runs as a grouped transposed
# convolution on channels-last rows; narrower ones as dense polyphase convolutions (measured on the
# shipped model, batch 1 / 16: 8 a group 0.21 / 1.9 ms grouped vs 0.27 / 2.7 polyphase; 4 a group
# 0.25 / 2.0 vs 0.21 / 1.6).
GROUPED_MIN_CHANNELS = 8

# The output layer reads this many consecutive input samples as channels (see :func:`space_to_depth`):
# shipped model, batch 1 / 16: 1 -> 0.76 / 9.8 ms, 2 -> 0.64 / 7.9, 4 -> 0.45 / 6.8, 8 -> 0.71 / 10.3.
OUTPUT_FOLD = 4

# An ungrouped first layer reading at most this many channels (a low-rank one, ``mel_rank``) runs in its
# polyphase form on channels-last rows, a wider one as the stored transposed convolution (one thread,
# batch 1 / 16, ms: 32 inputs 0.27 / 3.4 polyphase vs 0.58 / 8.2 transposed; 64: 0.74 / 6.3 vs 0.97 / 11.7;
# 128: 1.25 / 11.9 vs 1.35 / 16.6; 512 mel bins: 6.1 / 45 vs 4.1 / 46).
POLYPHASE_FIRST_MAX_CHANNELS = 128

# At inference an activation of at most this many elements (2 MiB of float32: one core's L2 here) takes
# :func:`fast_elu`, a larger one PyTorch's ELU: the four passes of the former pay only while the tensor
# stays in cache (shipped model, in the chain, layer 7's ELU: batch 1 0.32 vs 0.54 ms; batch 16 11.6 vs
# 8.2 ms).
FAST_ELU_MAX = 2 ** 19

def head_channels(layers: int, channels: int) -> list[int]:
    """Output channels of each layer of one head: ``channels`` halving, floor 2, the last exactly 2.

    Seed (Arık et al.'s ``c_i = 2^(L-i)`` with a 2-channel (signal, mask) output): L = 8, 128 ->
    ``[128, 64, 32, 16, 8, 4, 2, 2]``.
    """
    out = [max(2, channels >> i) for i in range(layers - 1)]
    return [*out, 2]


def block_diagonal_weight(weight: torch.Tensor, groups: int) -> torch.Tensor:
    """A grouped transposed conv's weight Tensor[C_in, C_out / groups, width] as the ungrouped weight of the
    same function: Tensor[C_in, C_out, width], zero off the diagonal blocks."""
    c_in, c_group, _ = weight.shape
    group_in = torch.arange(c_in, device=weight.device) // (c_in // groups)
    group_out = torch.arange(c_group * groups, device=weight.device) // c_group
    mask = (group_in[:, None] == group_out[None, :]).to(weight.dtype).unsqueeze(-1)
    return weight.repeat(1, groups, 1) * mask


def widened_weight(old: torch.Tensor, fresh: torch.Tensor, in_blocks: int, out_blocks: int) -> torch.Tensor:
    """A layer's trained weight placed in a wider layer's, so the wider network computes the same function.

    old : Tensor[in_blocks a, out_blocks b, width], the trained weight, its inputs and outputs in ``in_blocks``
        and ``out_blocks`` equal blocks (one a head where the layer's channels are laid out by head, else 1)
    fresh : Tensor[in_blocks a', out_blocks b', width] (a' >= a, b' >= b), the wider layer's initialisation
    -> Tensor like ``fresh``: each block's first a inputs to its first b outputs are ``old``; the new outputs keep
    their fresh weights from the old inputs (they compute something, so their outgoing weights learn) and
    every new input's weights are 0 (the previous layer's new channels reach nothing yet).
    """
    a, b = old.shape[0] // in_blocks, old.shape[1] // out_blocks
    a_new, b_new = fresh.shape[0] // in_blocks, fresh.shape[1] // out_blocks
    if a_new < a or b_new < b:
        raise ValueError(f"cannot narrow a layer: {tuple(old.shape)} -> {tuple(fresh.shape)}")
    width = old.shape[-1]
    out = fresh.detach().clone().view(in_blocks, a_new, out_blocks, b_new, width)
    out[:, a:] = 0.0
    out[:, :a, :, :b] = old.reshape(in_blocks, a, out_blocks, b, width)
    return out.view(fresh.shape)


def space_to_depth(x: torch.Tensor, fold: int) -> torch.Tensor:
    """Rows Tensor[B, C, 1, L] -> Tensor[B, fold * C, 1, L / fold] whose channel ``q C + c`` at ``j`` is
    ``x[:, c, 0, fold j + q]``: a view of a channels-last ``x`` (its memory already runs (l, c))."""
    b, c, _, n = x.shape
    return x.permute(0, 2, 3, 1).reshape(b, 1, n // fold, fold * c).permute(0, 3, 1, 2)


def folded_weight(weight: torch.Tensor, fold: int, stride: int) -> torch.Tensor:
    """A 1-D transposed convolution's weight Tensor[C_in, C_out, K] as the weight Tensor[fold C_in, C_out,
    K + stride (fold - 1)] of the stride ``fold * stride`` transposed convolution (same padding) of its
    input through :func:`space_to_depth`: input ``l = fold j + q`` reaches output ``stride fold j + stride q
    - p + k``, so channel ``(q, c)`` carries the kernel shifted by ``stride q``."""
    return torch.cat([F.pad(weight, (stride * q, stride * (fold - 1 - q))) for q in range(fold)])


def fast_elu(x: torch.Tensor) -> torch.Tensor:
    """ELU as ``max(x, exp(min(x, 0)) - 1)`` (``e^x - 1 >= x``), one new tensor and in-place passes over
    it: PyTorch's ELU calls a scalar ``expm1``, ``exp`` is vectorised (see the module docstring). Differs
    from ``F.elu`` by at most 6e-8 (one rounding of ``e^x - 1`` near 0: measured on 3e7 points over
    [-30, 5]); for inference only (no gradients through in-place ops).

    The result is the new tensor, not ``x``: its strides are the ones a fresh tensor gets, whereas a
    polyphase layer's output at batch 1 can carry a batch stride that hides its channels-last layout
    from the next convolution (which then runs channels-first, ~2x slower).
    """
    negative = x.clamp_max(0.0).exp_().sub_(1.0)
    return torch.maximum(x, negative, out=negative)


def inference_elu(x: torch.Tensor) -> torch.Tensor:
    """ELU at inference: :func:`fast_elu` up to ``FAST_ELU_MAX`` elements, else PyTorch's in place (a new
    tensor that large costs its page faults as well: shipped model, batch 64, 700 vs 750 ms a call).
    Traced or exported graphs get PyTorch's ELU: one standard operator, no branch on the batch size."""
    if torch.jit.is_tracing() or torch.compiler.is_compiling():
        return F.elu(x)
    return fast_elu(x) if x.numel() <= FAST_ELU_MAX else F.elu(x, inplace=True)


class ScaledSoftsign(nn.Module):
    """``f(x) = a x / (1 + |b x|)`` with trainable scalars ``a`` and ``b`` (Arık et al. 2019)."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.ones(()))
        self.b = nn.Parameter(torch.ones(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.a * x / (1.0 + (self.b * x).abs())


class MCNN(nn.Module):
    """Mel magnitudes ``Tensor[B, n_mels, N]`` -> waveform ``Tensor[B, N * 2**layers]``.

    Parameters
    ----------
    n_mels : input mel bins
    heads : number of heads
    layers : transposed-conv layers per head (each doubles the length: 2**layers = hop length)
    width : filter width (odd)
    channels : output channels of a head's first layer (halving towards the output)
    mel_rank : 0 = the seed's first layer, reading every mel bin; r > 0 = a learned 1x1 projection of each
        mel frame to r channels first (``mel_projection``), the first layer reading those: a low-rank
        first layer (:func:`factor_first_layer`). Ours: at 512 mel bins the first layer is ~70 % of the
        network's multiplies, and its outputs on real frames lie within a few dozen directions
    mixed_layers : 0 = the seed's separate heads; n > 0 = the last n layers before the output read every
        head's channels (ungrouped). Ours: those layers have 2-4 channels a head and already run as dense
        convolutions with a block-diagonal weight (see the module docstring), so filling the blocks costs no
        time; a grouped model converts exactly (:func:`block_diagonal_weight`)

    Buffers
    -------
    input_gain : scalar the mel is multiplied by first (1 / RMS of the training mels, so the first
        layer sees unit-scale inputs; a gain keeps zeros zero, unlike a log)
    """

    def __init__(self, n_mels: int, heads: int = 8, layers: int = 8, width: int = 13,
                 channels: int = 128, mel_rank: int = 0, mixed_layers: int = 0) -> None:
        super().__init__()
        if not 0 <= mixed_layers <= layers - 2:
            raise ValueError(f"mixed_layers must be in [0, layers - 2 = {layers - 2}], got {mixed_layers}")
        self.heads, self.layers = heads, layers
        self.upsampling = 2 ** layers
        sizes = head_channels(layers, channels)
        pad = (width - 1) // 2
        self.mel_projection = nn.Conv1d(n_mels, mel_rank, 1, bias=False) if mel_rank else None
        convs = []
        c_in = mel_rank or n_mels
        first_mixed = layers - 1 - mixed_layers
        for i, c in enumerate(sizes):
            groups = 1 if i == 0 or first_mixed <= i < layers - 1 else heads
            # padding (w-1)/2 and output_padding 1 make each layer exactly x2: (n-1)*2 - 2p + w + 1 = 2n.
            convs.append(nn.ConvTranspose1d(c_in, heads * c, width, stride=2, padding=pad,
                                            output_padding=1, groups=groups, bias=False))
            c_in = heads * c
        self.convs = nn.ModuleList(convs)
        self.head_weights = nn.Parameter(torch.full((heads,), 1.0 / heads))
        self.softsign = ScaledSoftsign()
        self.register_buffer("input_gain", torch.ones(()))
        # How each layer runs (see the module docstring): "dense", "grouped", "polyphase" or "output".
        self.kinds = [layer_kind(i, layers - 1, conv) for i, conv in enumerate(self.convs)]
        # The output layer's input is N * 2**(layers-1) samples long: a fold that divides every N.
        self.output_fold = min(OUTPUT_FOLD, 2 ** (layers - 1))
        self._weights = WeightMemo()

    def dense_weight(self, i: int) -> torch.Tensor:
        """Layer ``i``'s grouped weight as an ungrouped one: Tensor[C_in, C_out, width], zero off the
        diagonal blocks."""
        conv = self.convs[i]
        return conv.weight if conv.groups == 1 else block_diagonal_weight(conv.weight, conv.groups)

    def output_weight(self) -> torch.Tensor:
        """The last layer with the head weights and head sums folded in: Tensor[C_in, 2, width]
        mapping every head's channels to (weighted signal sum, summed mask logit)."""
        weight = self.convs[-1].weight                          # [C_in, 2, width], C_in = heads * c
        per_head = weight.shape[0] // self.heads
        signal_gain = self.head_weights.repeat_interleave(per_head)[:, None]
        return torch.stack([weight[:, 0] * signal_gain, weight[:, 1]], 1)

    def layer_weights(self) -> list[torch.Tensor]:
        """The weight each layer runs with, by kind: the stored one ("dense"), the stored one as
        Tensor[C_in, C_out / groups, 1, width] ("grouped"), the polyphase form Tensor[2 C_out, C_in, 1,
        taps] of the block-diagonal one ("polyphase"), or of the folded output weight read through
        :func:`space_to_depth` ("output")."""
        out = []
        for i, (kind, conv) in enumerate(zip(self.kinds, self.convs)):
            (s,), (p,) = conv.stride, conv.padding
            if kind == "dense":
                out.append(conv.weight)
            elif kind == "grouped":
                out.append(conv.weight.unsqueeze(2))
            elif kind == "polyphase":
                out.append(transposed_conv_phases(self.dense_weight(i).unsqueeze(2), (1, s), (0, p)))
            else:
                weight = folded_weight(self.output_weight(), self.output_fold, s)
                out.append(transposed_conv_phases(weight.unsqueeze(2), (1, self.output_fold * s), (0, p)))
        return out

    def layer(self, i: int, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """Layer ``i`` (its weight from :meth:`layer_weights`) without its ELU: x Tensor[B, C_in, L] for a
        "dense" layer, Tensor[B, C_in, 1, L] channels-last rows otherwise -> Tensor[B, C_out, 1, 2 L]
        channels-last rows (Tensor[B, C_out, 2 L] for "dense")."""
        kind, conv = self.kinds[i], self.convs[i]
        (k,), (s,), (p,), (o,) = conv.kernel_size, conv.stride, conv.padding, conv.output_padding
        if kind == "dense":
            return F.conv_transpose1d(x, weight, stride=s, padding=p, output_padding=o, groups=conv.groups)
        if x.dim() == 3:                                  # the first row layer: [B, C, L] -> [B, C, 1, L]
            x = x.unsqueeze(2).contiguous(memory_format=torch.channels_last)
        if kind == "grouped":
            return F.conv_transpose2d(x, weight, stride=(1, s), padding=(0, p), output_padding=(0, o),
                                      groups=conv.groups)
        size = (1, (x.shape[-1] - 1) * s - 2 * p + k + o)
        if kind == "polyphase":
            return conv_transpose_polyphase(x, weight, None, (1, k), (1, s), (0, p), size)
        f = self.output_fold
        return conv_transpose_polyphase(space_to_depth(x, f), weight, None, (1, k + s * (f - 1)), (1, f * s),
                                        (0, p), size)

    def first_input(self, mel: torch.Tensor) -> torch.Tensor:
        """What the first layer reads: the mel times the input gain, Tensor[B, n_mels, N]; behind a low-rank
        projection its r channels as channels-last rows Tensor[B, r, 1, N]."""
        x = mel * self.input_gain
        if self.mel_projection is None:
            return x
        # The 1x1 projection as [B, N, n_mels] @ [n_mels, r]: the result, read as Tensor[B, r, 1, N], is the
        # channels-last rows the polyphase first layer takes (batch 64: 4.5 ms against 7.4 as a conv).
        return (x.transpose(1, 2) @ self.mel_projection.weight[:, :, 0].t()).transpose(1, 2).unsqueeze(2)

    def heads_sum(self, mel: torch.Tensor) -> torch.Tensor:
        """mel Tensor[B, n_mels, N] -> Tensor[B, 2, N * 2**layers]: the weighted sum of the heads' signals
        (before the softsign) and the sum of their mask logits; without gradients through
        :func:`inference_elu`."""
        weights = self._weights.get([*self.parameters(), *self.buffers()], self.layer_weights)
        inference = not torch.is_grad_enabled()
        x = self.first_input(mel)
        last = len(self.convs) - 1
        for i, weight in enumerate(weights):
            x = self.layer(i, x, weight)
            if i < last:
                x = inference_elu(x) if inference else F.elu(x)
        return x.flatten(2)

    def forward(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """mel : Tensor[B, n_mels, N] -> (signal, mask_logit), each Tensor[B, N * 2**layers].

        ``signal`` is the scaled softsign of the weighted head sum, before any mask.
        """
        x = self.heads_sum(mel)
        return self.softsign(x[:, 0]), x[:, 1]

    def train_output(self, mel: torch.Tensor, length: int | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        """Training path: ``(signal * σ(mask_logit), mask_logit)`` cropped to ``length`` samples."""
        signal, mask_logit = self(mel)
        if length is not None:
            signal, mask_logit = signal[:, :length], mask_logit[:, :length]
        return signal * torch.sigmoid(mask_logit), mask_logit

    def infer(self, mel: torch.Tensor, length: int | None = None) -> torch.Tensor:
        """Inference path: the signal times the *binarised* mask (σ > 0.5), clamped to [-1, 1].

        mel : Tensor[B, n_mels, N] -> Tensor[B, length] (default ``N * 2**layers``).
        """
        if torch.is_grad_enabled():
            signal, mask_logit = self(mel)
            if length is not None:
                signal, mask_logit = signal[:, :length], mask_logit[:, :length]
            return (signal * (mask_logit > 0)).clamp(-1.0, 1.0)
        x = self.heads_sum(mel)[..., :length]
        # softsign(0) = 0, so masking before the softsign is the same; the rest in place, in the
        # softsign's own order of operations (a x / (1 + |b x|)), so the values are the same bits.
        out = x[:, 0] * (x[:, 1] > 0)
        denominator = (self.softsign.b * out).abs_().add_(1.0)
        return out.mul_(self.softsign.a).div_(denominator).clamp_(-1.0, 1.0)


@torch.no_grad()
def factor_first_layer(weight: torch.Tensor, frames: torch.Tensor, rank: int
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """A dense first layer as a projection and a narrower layer, fitted to the frames it reads.

    Every input frame ``x`` (Tensor[n_mels], mel times the input gain) adds ``W_f^T x`` to ``width``
    output samples, ``W_f`` the weight flattened to Tensor[n_mels, C_out * width]. With ``Y = X W_f`` over
    the frames and ``V`` the top ``rank`` right singular vectors of ``Y``, ``Y V V^T`` is the closest
    rank-``rank`` map of those frames (Eckart-Young): project ``x`` by ``P = W_f V`` (the 1x1 conv), then
    apply ``V^T`` as the first layer. Fitted to the frames rather than to the weight alone, the kept
    directions are those the data excites (on the shipped model's training frames, rank 32 keeps 99.86 %
    of the layer's output energy).

    weight : Tensor[n_mels, C_out, width] (a ConvTranspose1d weight, groups=1)
    frames : Tensor[N, n_mels]
    Returns ``(projection Tensor[rank, n_mels, 1], first Tensor[rank, C_out, width])``.
    """
    n_mels, c_out, width = weight.shape
    flat = weight.reshape(n_mels, c_out * width).double()
    y = frames.double() @ flat
    _, vectors = torch.linalg.eigh(y.T @ y)                    # ascending eigenvalues of Y^T Y
    v = vectors[:, -rank:].flip(1)                            # [C_out * width, rank], largest first
    projection = (flat @ v).T.unsqueeze(-1)
    return projection.to(weight.dtype), v.T.reshape(rank, c_out, width).to(weight.dtype)


def layer_kind(i: int, last: int, conv: nn.ConvTranspose1d) -> str:
    """How MCNN layer ``i`` of ``0..last`` runs: "output" (the last), "dense" (the ungrouped first over more
    than ``POLYPHASE_FIRST_MAX_CHANNELS`` inputs), "grouped" (>= ``GROUPED_MIN_CHANNELS`` input channels a
    group) or "polyphase" (narrower groups, a narrow first layer, and the mixed layers: their stored weight
    is the dense one the grouped ones of the same width run with)."""
    if i == last:
        return "output"
    if i == 0:
        return "polyphase" if conv.in_channels <= POLYPHASE_FIRST_MAX_CHANNELS else "dense"
    if conv.groups == 1:
        return "polyphase"
    return "grouped" if conv.in_channels // conv.groups >= GROUPED_MIN_CHANNELS else "polyphase"


# ---- losses ------------------------------------------------------------------------------------


def spectral_convergence(mel: torch.Tensor, mel_hat: torch.Tensor) -> torch.Tensor:
    """SC = ‖M − M̂‖_F / ‖M‖_F per clip, averaged: mel, mel_hat Tensor[B, n_mels, N] -> Tensor[]."""
    num = (mel - mel_hat).flatten(1).norm(dim=1)
    den = mel.flatten(1).norm(dim=1).clamp_min(1e-8)
    return (num / den).mean()


def log_spectral_convergence(mel: torch.Tensor, mel_hat: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """SClog = ‖log(M + ε) − log(M̂ + ε)‖_1 / ‖log(M + ε)‖_1 per clip, averaged -> Tensor[]."""
    log_ref = torch.log(mel + eps)
    num = (log_ref - torch.log(mel_hat + eps)).flatten(1).abs().sum(1)
    den = log_ref.flatten(1).abs().sum(1).clamp_min(1e-8)
    return (num / den).mean()


def mask_target(wave: torch.Tensor, window: int = 255, threshold_db: float = -60.0) -> torch.Tensor:
    """The supervised mask: 1 where the clip is sounding, 0 in silence and padding.

    A sample is sounding when its envelope — the largest ``|x|`` within ``window`` samples centred
    on it — is above ``10 ** (threshold_db / 20)`` (clips are peak-normalised, so this is relative
    to the peak). The max-filter bridges zero crossings and keeps the attack's first samples.

    wave : Tensor[B, T] -> Tensor[B, T] float 0/1
    """
    envelope = F.max_pool1d(wave.abs().unsqueeze(1), window, stride=1, padding=window // 2).squeeze(1)
    return (envelope > 10.0 ** (threshold_db / 20.0)).to(wave.dtype)
