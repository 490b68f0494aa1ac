"""The conditional Wasserstein autoencoder (CWAE) on standardised log-mel spectrograms.

Names follow the seed's figure: conv blocks of (conv, conditional batch norm, ReLU), an FC block
down to ``d_z``, and a decoder that mirrors both. Class conditioning takes class *weights*
``labels: Tensor[B, C]`` everywhere, so a one-hot row is a class and a soft row mixes the classes'
batch-norm parameters (the seed used hard labels only; soft ones give hybrid sounds).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

import torch
from torch import nn
from torch.nn import functional as F

from drumsynth.nn.polyphase import conv_transpose_polyphase, transposed_conv_phases

T = TypeVar("T")


class ConditionalBatchNorm(nn.Module):
    """Batch norm without its own affine, then a per-class scale and shift (Perez et al. 2017).

    ``out = BN(x) * (labels @ gamma) + labels @ beta``: with a one-hot row for class k this is
    exactly ``BatchNorm`` with ``weight = gamma[k]`` and ``bias = beta[k]``.

    Parameters
    ----------
    num_features : channels
    n_classes : number of classes (rows of ``gamma`` and ``beta``)
    dims : 1 (``[B, C]`` / ``[B, C, T]``) or 2 (``[B, C, H, W]``)
    """

    def __init__(self, num_features: int, n_classes: int, dims: int = 2) -> None:
        super().__init__()
        self.bn = (nn.BatchNorm2d if dims == 2 else nn.BatchNorm1d)(num_features, affine=False)
        self.gamma = nn.Parameter(torch.ones(n_classes, num_features))
        self.beta = nn.Parameter(torch.zeros(n_classes, num_features))
        self._folded = WeightMemo()

    def folded(self) -> torch.Tensor:
        """The eval-mode affine per class, Tensor[n_classes, 2 C]: ``gamma / sqrt(var + eps)`` (scale),
        then ``beta - mean * scale`` (shift)."""
        bn = self.bn
        scale = self.gamma * torch.rsqrt(bn.running_var + bn.eps)
        return torch.cat([scale, self.beta - bn.running_mean * scale], 1)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """x : Tensor[B, C, ...]; labels : Tensor[B, n_classes] class weights -> Tensor like x."""
        shape = (x.shape[0], x.shape[1]) + (1,) * (x.dim() - 2)
        bn = self.bn
        if bn.training or bn.running_mean is None:
            return bn(x) * (labels @ self.gamma).view(shape) + (labels @ self.beta).view(shape)
        # Eval: BN is the affine (x - mean) / sqrt(var + eps); folded with gamma and beta per class
        # (kept between calls) it is one pass over x instead of three, and one small product to mix
        # the classes (the decoder's widest layer at batch 64: ~50 -> ~17 ms).
        folded = self._folded.get([self.gamma, self.beta, bn.running_mean, bn.running_var], self.folded)
        scale, shift = (labels @ folded).view(shape[0], 2 * shape[1], *shape[2:]).chunk(2, 1)
        return torch.addcmul(shift, x, scale)


def conv_out(n: int, kernel: int, stride: int, padding: int) -> int:
    """Output length of a convolution (no dilation)."""
    return (n + 2 * padding - kernel) // stride + 1


def conv_transpose_output_padding(n_in: int, n_out: int, kernel: int, stride: int, padding: int) -> int:
    """The ``output_padding`` that makes a transposed convolution map ``n_in`` back to ``n_out``.

    This is the seed's "we slightly adjust the convolution parameters so that the output size
    matches that of the input".
    """
    pad = n_out - ((n_in - 1) * stride - 2 * padding + kernel)
    if not 0 <= pad < max(stride, 1):
        raise ValueError(f"cannot map {n_in} -> {n_out} with kernel {kernel}, stride {stride}, "
                         f"padding {padding}")
    return pad


class WeightMemo:
    """Weights derived from parameters (polyphase, folded, block-diagonal), rebuilt only when one changes.

    With gradients on (training) or while tracing or exporting it always rebuilds, so gradients reach
    the parameters and exported graphs hold the derivation; at inference it reuses its last build
    while every parameter is the same storage at the same version (an optimiser step, ``copy_`` or
    ``load_state_dict`` bumps the version; ``.to(device)`` changes the storage).
    """

    def __init__(self) -> None:
        self.entry: tuple[tuple, Any] | None = None   # (key, value), replaced whole: thread-safe reads

    def get(self, params: list[torch.Tensor | None], build: Callable[[], T]) -> T:
        """``build()``, or its last result while ``params`` (None entries skipped) are unchanged."""
        if torch.is_grad_enabled() or torch.jit.is_tracing() or torch.compiler.is_compiling():
            return build()
        key = tuple((p.data_ptr(), p._version) for p in params if p is not None)
        entry = self.entry
        if entry is None or entry[0] != key:
            entry = self.entry = (key, build())
        return entry[1]


class Encoder(nn.Module):
    """Standardised log-mel ``Tensor[B, 1, n_mels, n_frames]`` + labels -> ``z: Tensor[B, d_z]``."""

    def __init__(self, n_mels: int, n_frames: int, n_classes: int, channels: list[int],
                 kernel: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int],
                 fc: list[int], latent_dim: int) -> None:
        super().__init__()
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        shapes = [(n_mels, n_frames)]
        c_in = 1
        for c_out in channels:
            # No conv bias: the batch norm that follows removes it anyway.
            self.convs.append(nn.Conv2d(c_in, c_out, kernel, stride, padding, bias=False))
            self.norms.append(ConditionalBatchNorm(c_out, n_classes, dims=2))
            h, w = shapes[-1]
            shapes.append((conv_out(h, kernel[0], stride[0], padding[0]),
                           conv_out(w, kernel[1], stride[1], padding[1])))
            c_in = c_out
        self.shapes = shapes
        self.flat = c_in * shapes[-1][0] * shapes[-1][1]
        sizes = [self.flat, *fc, latent_dim]
        self.fcs = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        for conv, norm in zip(self.convs, self.norms):
            x = F.relu(norm(conv(x), labels))
        x = x.flatten(1)
        for i, fc in enumerate(self.fcs):
            x = fc(x)
            if i < len(self.fcs) - 1:
                x = F.relu(x)
        return x


class Decoder(nn.Module):
    """``z: Tensor[B, d_z]`` + labels -> standardised log-mel ``Tensor[B, 1, n_mels, n_frames]``.

    The mirror of :class:`Encoder`: the FC block first (d_z -> fc reversed -> conv volume), then
    transposed convolutions with conditional batch norm and ReLU, the last one linear.
    """

    def __init__(self, shapes: list[tuple[int, int]], n_classes: int, channels: list[int],
                 kernel: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int],
                 fc: list[int], latent_dim: int, label_input: bool) -> None:
        super().__init__()
        self.label_input = label_input
        self.volume = (channels[-1], *shapes[-1])
        flat = channels[-1] * shapes[-1][0] * shapes[-1][1]
        sizes = [latent_dim + (n_classes if label_input else 0), *reversed(fc), flat]
        self.fcs = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        outs = [*reversed(channels[:-1]), 1]
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        c_in = channels[-1]
        for i, c_out in enumerate(outs):
            (h_in, w_in), (h_out, w_out) = shapes[-1 - i], shapes[-2 - i]
            output_padding = (
                conv_transpose_output_padding(h_in, h_out, kernel[0], stride[0], padding[0]),
                conv_transpose_output_padding(w_in, w_out, kernel[1], stride[1], padding[1]))
            last = i == len(outs) - 1
            self.convs.append(nn.ConvTranspose2d(c_in, c_out, kernel, stride, padding,
                                                 output_padding=output_padding, bias=last))
            if not last:
                self.norms.append(ConditionalBatchNorm(c_out, n_classes, dims=2))
            c_in = c_out
        self.out_size = tuple(shapes[0])
        self.sizes = [tuple(shapes[-2 - i]) for i in range(len(outs))]     # each layer's output size
        self._hidden = WeightMemo()
        self._output = WeightMemo()
        self._fc = WeightMemo()

    def fc_weights(self) -> list[torch.Tensor]:
        """The FC weights Tensor[out, in] stored transposed (views of Tensor[in, out] copies): at batch 1
        the product then streams the weight row by row (the widest FC, 128 -> 5168, with a cold cache:
        0.50 -> 0.33 ms)."""
        return [fc.weight.t().contiguous().t() for fc in self.fcs]

    def hidden_weights(self) -> list[torch.Tensor]:
        """The hidden layers after the first as polyphase convolutions (:func:`conv_transpose_polyphase`),
        used at inference: shipped ndm, the second layer (16 -> 8 channels onto 171 x 65) at batch 1 /
        16: 0.88 / 5.2 ms transposed, 0.39 / 4.4 ms polyphase. The first, onto the small FC volume, stays
        transposed (0.24 / 0.85 ms against 0.23 / 1.57)."""
        return [transposed_conv_phases(conv.weight, conv.stride, conv.padding) for conv in self.convs[1:-1]]

    def output_weights(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The output layer as a polyphase convolution (:func:`conv_transpose_polyphase`): its weight
        and bias, one copy of the bias per phase."""
        conv = self.convs[-1]
        bias = None if conv.bias is None else conv.bias.repeat(math.prod(conv.stride))
        return transposed_conv_phases(conv.weight, conv.stride, conv.padding), bias

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        x = torch.cat([z, labels], dim=1) if self.label_input else z
        inference = not torch.is_grad_enabled()
        weights = (self._fc.get([fc.weight for fc in self.fcs], self.fc_weights) if inference
                   else [fc.weight for fc in self.fcs])
        for fc, weight in zip(self.fcs, weights):
            x = F.relu(F.linear(x, weight, fc.bias), inplace=inference)
        # Channels-last: PyTorch's CPU convolutions run these shapes faster in it (measured, shipped
        # ndm at batch 64: 36 -> 11 ms and 120 -> 51 ms for the first two layers); values are unchanged.
        x = x.view(x.shape[0], *self.volume).contiguous(memory_format=torch.channels_last)
        hidden = None
        if inference:
            hidden = self._hidden.get([conv.weight for conv in self.convs[1:-1]], self.hidden_weights)
        for i, (conv, norm) in enumerate(zip(self.convs[:-1], self.norms)):
            if hidden is None or i == 0:
                x = conv(x)
            else:
                x = conv_transpose_polyphase(x, hidden[i - 1], None, conv.kernel_size, conv.stride, conv.padding,
                                             self.sizes[i])
            x = F.relu(norm(x, labels), inplace=inference)
        # The output layer (one channel) as a polyphase convolution: 3.0 -> 0.9 ms at batch 1.
        conv = self.convs[-1]
        weight, bias = self._output.get([conv.weight, conv.bias], self.output_weights)
        return conv_transpose_polyphase(x, weight, bias, conv.kernel_size, conv.stride, conv.padding,
                                        self.out_size)


class CWAE(nn.Module):
    """Conditional WAE with its feature standardisation held as buffers.

    ``mel_mean`` / ``mel_std`` (``Tensor[n_mels, n_frames]``, the per-element statistics of
    ``log(mel + log_eps)`` on the training split) are buffers, so every checkpoint of the module
    carries them and inference needs no data.

    Parameters
    ----------
    n_mels, n_frames : input spectrogram size
    n_classes : conditioning classes
    channels, kernel, stride, padding : conv blocks (see ``ModelConfig``)
    fc : FC sizes between the conv volume and the latent
    latent_dim : d_z
    decoder_label_input : concatenate the labels to z at the decoder input
    log_eps : epsilon of the log (also a buffer-free constant of the model)
    """

    def __init__(self, n_mels: int, n_frames: int, n_classes: int, channels: list[int],
                 kernel: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int],
                 fc: list[int], latent_dim: int, decoder_label_input: bool = True,
                 log_eps: float = 1e-4) -> None:
        super().__init__()
        self.n_mels, self.n_frames, self.n_classes = n_mels, n_frames, n_classes
        self.latent_dim = latent_dim
        self.log_eps = float(log_eps)
        self.encoder = Encoder(n_mels, n_frames, n_classes, channels, kernel, stride, padding, fc,
                               latent_dim)
        self.decoder = Decoder(self.encoder.shapes, n_classes, channels, kernel, stride, padding, fc,
                               latent_dim, decoder_label_input)
        self.register_buffer("mel_mean", torch.full((n_mels, n_frames), math.log(self.log_eps)))
        self.register_buffer("mel_std", torch.ones(n_mels, n_frames))

    @torch.no_grad()
    def set_statistics(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Store the training split's per-element log-mel mean and std (``Tensor[n_mels, n_frames]``)."""
        self.mel_mean.copy_(mean)
        self.mel_std.copy_(std)

    def normalise(self, mel: torch.Tensor) -> torch.Tensor:
        """Mel magnitudes ``Tensor[B, n_mels, N]`` -> standardised log-mel ``Tensor[B, 1, n_mels, N]``."""
        return ((torch.log(mel + self.log_eps) - self.mel_mean) / self.mel_std).unsqueeze(1)

    def denormalise(self, x: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`normalise`: ``Tensor[B, 1, n_mels, N]`` -> mel magnitudes ``[B, n_mels, N]``.

        ``exp(.) - log_eps`` clamped at 0 maps the log floor back to exactly zero, so padded
        silence stays silent through the bias-free MCNN.
        """
        if torch.is_grad_enabled():
            log_mel = x.squeeze(1) * self.mel_std + self.mel_mean
            return (torch.exp(log_mel) - self.log_eps).clamp_min(0.0)
        # Inference: one new tensor, the rest in place (with the MCNN input gain, batch 16: 6.0 -> 3.4 ms).
        log_mel = torch.addcmul(self.mel_mean, x.squeeze(1), self.mel_std)
        return log_mel.exp_().sub_(self.log_eps).clamp_min_(0.0)

    def encode(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """x : Tensor[B, 1, n_mels, N] standardised; labels : Tensor[B, C] -> z : Tensor[B, d_z]."""
        return self.encoder(x, labels)

    def decode(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """z : Tensor[B, d_z]; labels : Tensor[B, C] -> standardised log-mel Tensor[B, 1, n_mels, N]."""
        return self.decoder(z, labels)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Reconstruction and code: ``(x_hat: Tensor[B, 1, n_mels, N], z: Tensor[B, d_z])``."""
        z = self.encode(x, labels)
        return self.decode(z, labels), z


# ---- the MMD regulariser -----------------------------------------------------------------------


def imq_kernel(x: torch.Tensor, y: torch.Tensor, scale: float) -> torch.Tensor:
    """Inverse multiquadratic kernel ``k(x, y) = C / (C + ||x - y||^2)``.

    x : Tensor[..., n, d], y : Tensor[..., m, d] -> Tensor[..., n, m]; ``C = scale`` (WAE uses
    ``C = 2 * d * sigma^2`` with sigma = 1 for a standard normal prior).
    """
    sq = (x.unsqueeze(-2) - y.unsqueeze(-3)).pow(2).sum(-1)
    return scale / (scale + sq)


def mmd_imq(z: torch.Tensor, prior: torch.Tensor, scales: tuple[float, ...] | list[float] = (1.0,)
            ) -> torch.Tensor:
    """Unbiased U-statistic estimate of MMD² between samples ``z`` and ``prior`` (Gretton et al. 2012).

    ``MMD² = 1/(n(n-1)) Σ_{l≠j} k(z_l, z_j) + 1/(m(m-1)) Σ_{l≠j} k(p_l, p_j) - 2/(nm) Σ_{l,j} k(z_l, p_j)``
    (the seed's equation 3, for any n, m >= 2). The kernel is the IMQ kernel summed over
    ``C = 2 * d * s`` for each ``s`` in ``scales`` (WAE's multi-scale form; ``(1.0,)`` is the
    single kernel with C = 2 d_z).

    Parameters
    ----------
    z : Tensor[..., n, d] codes (leading dimensions are independent problems, e.g. classes)
    prior : Tensor[..., m, d] samples of the prior

    Returns
    -------
    Tensor[...] (can be slightly negative: the estimator is unbiased, not non-negative)
    """
    n, m, d = z.shape[-2], prior.shape[-2], z.shape[-1]
    total = z.new_zeros(z.shape[:-2])
    for s in scales:
        c = 2.0 * d * float(s)
        k_zz = imq_kernel(z, z, c)
        k_pp = imq_kernel(prior, prior, c)
        k_zp = imq_kernel(z, prior, c)
        # Diagonals are k(x, x) = 1 exactly for the IMQ kernel: subtract them instead of masking.
        total = total + (k_zz.sum((-2, -1)) - n) / (n * (n - 1))
        total = total + (k_pp.sum((-2, -1)) - m) / (m * (m - 1))
        total = total - 2.0 * k_zp.sum((-2, -1)) / (n * m)
    return total


def class_mmd(z: torch.Tensor, labels: torch.Tensor, prior: torch.Tensor,
              scales: tuple[float, ...] | list[float] = (1.0,)) -> torch.Tensor:
    """The seed's regulariser ``D_Z = 1/C Σ_c MMD²(π, q_Z^c)`` for a class-balanced batch.

    Parameters
    ----------
    z : Tensor[B, d] codes
    labels : Tensor[B] int64 class of each code; every class present must occur the same number
        of times ``n >= 2`` (a class-balanced batch)
    prior : Tensor[B, d] standard-normal samples, one per code

    Returns
    -------
    Tensor[] — the mean over the classes present of the per-class MMD² against the prior.
    """
    order = torch.argsort(labels, stable=True)
    present, counts = torch.unique(labels, return_counts=True)
    n = int(counts[0])
    if n < 2 or bool((counts != n).any()):
        raise ValueError(f"class_mmd needs a class-balanced batch with >= 2 codes per class, got "
                         f"counts {counts.tolist()}")
    zc = z[order].view(len(present), n, -1)
    pc = prior.view(len(present), n, -1)
    return mmd_imq(zc, pc, scales).mean()
