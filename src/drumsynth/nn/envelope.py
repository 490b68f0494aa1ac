"""A drum's amplitude envelope from a code (ours, not the seeds'), shared by the style, drumgan and wavegan
families.

Each generator holds a bias floor in every channel of its output layers, so without an envelope a
decay has to be cancelled out of those floors; multiplied by :class:`DecayEnvelope` the tail of a hit is
as quiet as the envelope says, and the hit cannot swell past its onset's level unless the network makes
it so (docs/style.md, "Decay envelope"; docs/drumgan.md, session 14).
"""

from __future__ import annotations

import math

import torch
from torch import nn

# The decay envelope's time constants, in output samples: 2 ms to 4 s at 44.1 kHz.
TAU_RANGE = (88.0, 176400.0)
# Its starting time constants (100 ms and 1 s: a fast and a slow part, apart so that they learn apart).
TAU_START = (4410.0, 44100.0)
# Its learning-rate multiplier (StyleGAN scales its mapping network's rate the other way, by 0.01), so that
# at Adam's 2e-4 a time constant can move across its range in a few hundred steps.
ENVELOPE_LR_MULT = 10.0


class DecayEnvelope(nn.Module):
    """A drum's amplitude envelope from a code (ours): two exponential decays mixed,
    ``e(t) = m exp(-t / tau_1) + (1 - m) exp(-t / tau_2)``, with ``(tau_1, tau_2, m)`` from a learned
    affine map of w (time constants in ``TAU_RANGE``, log-spaced). Peak 1 at the onset, so it shapes the
    hit and never sets its level. w is style's layer-0 style, drumgan's coarsest block averaged over its
    grid, or wavegan's [z, class embedding]. w Tensor[B, style_dim] -> Tensor[B, 1, L] for an output of L
    samples (or frames) spanning the clip's ``length`` samples.
    """

    def __init__(self, style_dim: int, length: int) -> None:
        super().__init__()
        self.length = length
        self.affine = nn.Linear(style_dim, 3)
        lo, hi = (math.log(t) for t in TAU_RANGE)
        starts = [(math.log(t) - lo) / (hi - lo) for t in TAU_START]
        nn.init.zeros_(self.affine.weight)
        with torch.no_grad():
            self.affine.bias.copy_(torch.tensor([math.log(p / (1 - p)) for p in starts] + [0.0]) / ENVELOPE_LR_MULT)

    def parameters_of(self, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(time constants Tensor[B, 2] in samples, mix m Tensor[B, 1]) of styles w Tensor[B, style_dim]."""
        p = ENVELOPE_LR_MULT * self.affine(w)
        lo, hi = (math.log(t) for t in TAU_RANGE)
        return torch.exp(lo + (hi - lo) * torch.sigmoid(p[:, :2])), torch.sigmoid(p[:, 2:])

    def forward(self, w: torch.Tensor, out_length: int) -> torch.Tensor:
        tau, mix = self.parameters_of(w)
        t = torch.arange(out_length, device=w.device, dtype=w.dtype) * (self.length / out_length)
        decays = torch.exp(-t[None, None, :] / tau[:, :, None])  # [B, 2, L]
        return (mix * decays[:, 0] + (1 - mix) * decays[:, 1])[:, None]
