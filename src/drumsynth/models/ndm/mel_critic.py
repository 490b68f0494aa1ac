"""A class-conditional patch critic on standardised log-mels: the CWAE's adversarial term (ours).

The seed trains its CWAE with MSE alone, and an MSE decoder answers every uncertain cell with the mean of
what it could be: smooth, dark spectrograms whose hits sit 65 FAD_aisfx further from the test kits than
the same sounds' own mels (docs/ndm.md, "Where the distance to the real kits comes from"). A critic that
judges local patches of the mel asks the decoder for texture an average does not have, as in VAE-GAN
(Larsen et al. 2016) and the patch critics of image and speech synthesis (PatchGAN, MelGAN).

Shapes: ``x Tensor[B, 1, n_mels, N]`` (the CWAE's domain, :meth:`CWAE.normalise`) and class weights
``labels Tensor[B, C]`` -> one score per clip ``Tensor[B]``, the mean over the patch scores. Spectral
normalisation keeps the critic's gradients bounded (Miyato et al. 2018), the hinge loss is theirs.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import spectral_norm

LEAK = 0.2


class MelCritic(nn.Module):
    """Patch critic with projection conditioning (Miyato and Koyama 2018).

    Parameters
    ----------
    n_classes : C, the width of the class weights
    channels : output channels of each conv layer; the first reads (8, 4) cells at stride (4, 2) (a mel
        bin is narrow, a frame wide), the others 3 x 3 at stride 2
    """

    def __init__(self, n_classes: int, channels: list[int]) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        previous = 1
        for i, width in enumerate(channels):
            kernel, stride, padding = ((8, 4), (4, 2), (2, 1)) if i == 0 else (3, 2, 1)
            layers += [spectral_norm(nn.Conv2d(previous, width, kernel, stride, padding)), nn.LeakyReLU(LEAK)]
            previous = width
        self.features = nn.Sequential(*layers)
        self.score = spectral_norm(nn.Conv2d(previous, 1, 1))
        # The class term: <embed(c), h> at every patch, so a realistic snare patch in a kick scores low.
        self.class_embed = spectral_norm(nn.Linear(n_classes, previous, bias=False))

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """x Tensor[B, 1, n_mels, N], labels Tensor[B, C] -> scores Tensor[B] (higher = more real)."""
        h = self.features(x)
        patches = self.score(h).squeeze(1) + torch.einsum("bchw,bc->bhw", h, self.class_embed(labels))
        return patches.mean(dim=(1, 2))


def critic_hinge_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """The critic's hinge loss on its scores of real and generated clips (Tensor[B] each) -> scalar."""
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()
