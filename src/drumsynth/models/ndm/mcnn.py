"""The multi-head CNN (MCNN) inverter: mel frames -> waveform, with the seed's binarised mask.

Arık, Jun & Diamos (2019), as modified by the Neural Drum Machine: every head is a stack of
bias-free 1-D transposed convolutions (width 13, stride 2, ELU between layers) whose channel count
halves towards the output; each head emits a signal and a mask logit; the signals are summed with
trainable head weights and squashed by a scaled softsign, the mask is ``σ(Σ_h m_h)`` (binarised at
inference). Without biases, all-zero mel frames give exactly zero output, and the mask cuts the
tail that the wide filters leak into the padding.

All heads are stored as one grouped convolution stack (``groups = heads`` after the first layer),
the same function as separate heads. The forward pass runs it faster still, with the same result:

- the last layer folds the head weights and the head sums into its weight, so it writes 2 channels
  (signal, mask) instead of 2 per head (~300 ms -> ~60 ms at batch 64);
- the first layers, while a group has >= 32 input channels, run as the stored (grouped) transposed
  convolutions; the later, narrow ones as dense convolutions with a block-diagonal weight (PyTorch's
  grouped convolutions are slow on 2 channels per group), each in its polyphase form (two stride-1
  convolutions, one per output phase: :func:`drumsynth.models.ndm.wae.conv_transpose_polyphase`) on
  channels-last ``[B, C, 1, L]`` tensors, where interleaving the phases copies nothing. Measured on
  the shipped model (4 heads x 9 layers, 32 channels), one thread, medians of 3 runs: the stack
  25-27 -> 10-14 ms at batch 1, 1000-1250 -> 500-710 ms at batch 64 (layer 7 alone at batch 64:
  287 ms transposed, 55 ms polyphase);
- an ungrouped layer runs with its stored weight as it is (a block-diagonal copy of the first layer
  cost ~4 ms a call), and at inference the derived weights are kept between calls
  (:class:`~drumsynth.models.ndm.wae.WeightMemo`; building them costs ~0.3 ms at batch 1).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from drumsynth.models.ndm.wae import WeightMemo, conv_transpose_polyphase, polyphase_weight

# A layer whose groups have at least this many input channels runs as a (grouped) transposed
# convolution; narrower ones as dense polyphase convolutions (measured on the shipped model: 32
# channels a group, 0.4 ms grouped vs 0.7 ms polyphase at batch 1; 16 a group, about even).
GROUPED_MIN_CHANNELS = 32


def head_channels(layers: int, channels: int) -> list[int]:
    """Output channels of each layer of one head: ``channels`` halving, floor 2, the last exactly 2.

    Seed (Arık et al.'s ``c_i = 2^(L-i)`` with a 2-channel (signal, mask) output): L = 8, 128 ->
    ``[128, 64, 32, 16, 8, 4, 2, 2]``.
    """
    out = [max(2, channels >> i) for i in range(layers - 1)]
    return [*out, 2]


def block_diagonal_mask(conv: nn.ConvTranspose1d) -> torch.Tensor:
    """1 where a grouped transposed conv connects input and output channel: Tensor[C_in, C_out, 1]."""
    c_in, c_out = conv.in_channels, conv.out_channels
    group_in = torch.arange(c_in) // (c_in // conv.groups)
    group_out = torch.arange(c_out) // (c_out // conv.groups)
    return (group_in[:, None] == group_out[None, :]).float().unsqueeze(-1)


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

    Buffers
    -------
    input_gain : scalar the mel is multiplied by first (1 / RMS of the training mels, so the first
        layer sees unit-scale inputs; a gain keeps zeros zero, unlike a log)
    """

    def __init__(self, n_mels: int, heads: int = 8, layers: int = 8, width: int = 13,
                 channels: int = 128) -> None:
        super().__init__()
        self.heads, self.layers = heads, layers
        self.upsampling = 2 ** layers
        sizes = head_channels(layers, channels)
        pad = (width - 1) // 2
        convs = []
        c_in = n_mels
        for i, c in enumerate(sizes):
            # padding (w-1)/2 and output_padding 1 make each layer exactly x2: (n-1)*2 - 2p + w + 1 = 2n.
            convs.append(nn.ConvTranspose1d(c_in, heads * c, width, stride=2, padding=pad,
                                            output_padding=1, groups=1 if i == 0 else heads, bias=False))
            c_in = heads * c
        self.convs = nn.ModuleList(convs)
        self.head_weights = nn.Parameter(torch.full((heads,), 1.0 / heads))
        self.softsign = ScaledSoftsign()
        self.register_buffer("input_gain", torch.ones(()))
        for i, conv in enumerate(self.convs):
            self.register_buffer(f"block_mask{i}", block_diagonal_mask(conv), persistent=False)
        # The leading layers that run transposed; the rest run polyphase (see the module docstring).
        self.transposed = next((i for i, conv in enumerate(self.convs)
                                if conv.in_channels // conv.groups < GROUPED_MIN_CHANNELS), layers)
        self._weights = WeightMemo()

    def dense_weight(self, i: int) -> torch.Tensor:
        """Layer ``i``'s grouped weight as an ungrouped one: Tensor[C_in, C_out, width], zero off the
        diagonal blocks."""
        conv = self.convs[i]
        if conv.groups == 1:
            return conv.weight
        return conv.weight.repeat(1, conv.groups, 1) * getattr(self, f"block_mask{i}")

    def output_weight(self) -> torch.Tensor:
        """The last layer with the head weights and head sums folded in: Tensor[C_in, 2, width]
        mapping every head's channels to (weighted signal sum, summed mask logit)."""
        weight = self.convs[-1].weight                          # [C_in, 2, width], C_in = heads * c
        per_head = weight.shape[0] // self.heads
        signal_gain = self.head_weights.repeat_interleave(per_head)[:, None]
        return torch.stack([weight[:, 0] * signal_gain, weight[:, 1]], 1)

    def layer_weights(self) -> list[torch.Tensor]:
        """The weight each layer runs with: the stored one (transposed layers; the output layer's folded
        by :meth:`output_weight`), or the polyphase form Tensor[2 C_out, C_in, 1, taps] of the dense one."""
        last = len(self.convs) - 1
        out = []
        for i, conv in enumerate(self.convs):
            weight = self.output_weight() if i == last else None
            if i < self.transposed:
                out.append(conv.weight if weight is None else weight)
                continue
            weight = self.dense_weight(i) if weight is None else weight
            out.append(polyphase_weight(weight.unsqueeze(2), (1, *conv.stride), (0, *conv.padding)))
        return out

    def forward(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """mel : Tensor[B, n_mels, N] -> (signal, mask_logit), each Tensor[B, N * 2**layers].

        ``signal`` is the scaled softsign of the weighted head sum, before any mask.
        """
        weights = self._weights.get([*self.parameters(), *self.buffers()], self.layer_weights)
        x = mel * self.input_gain
        last = len(self.convs) - 1
        for i, (conv, weight) in enumerate(zip(self.convs, weights)):
            if i < self.transposed:
                x = F.conv_transpose1d(x, weight, stride=conv.stride, padding=conv.padding,
                                       output_padding=conv.output_padding,
                                       groups=1 if i == last else conv.groups)
            else:
                if i == self.transposed:
                    x = x.unsqueeze(2).contiguous(memory_format=torch.channels_last)    # [B, C, 1, L]
                (k,), (s,), (p,), (o,) = conv.kernel_size, conv.stride, conv.padding, conv.output_padding
                x = conv_transpose_polyphase(x, weight, None, (1, k), (1, s), (0, p),
                                             (1, (x.shape[-1] - 1) * s - 2 * p + k + o))
            if i < last:
                x = F.elu(x)
        x = x.flatten(2)                                                  # [B, 2, N * 2**layers]
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
        signal, mask_logit = self(mel)
        if length is not None:
            signal, mask_logit = signal[:, :length], mask_logit[:, :length]
        return (signal * (mask_logit > 0)).clamp(-1.0, 1.0)


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
