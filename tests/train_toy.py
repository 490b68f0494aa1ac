"""A tiny WGAN-GP recipe for the training-framework tests (imported by test_train and ddp script).

Randomness everywhere resume has to get right: data drawn from the data generator, latents and
gradient-penalty mixing from the recipe generator, dropout from torch's global RNG, Adam state,
a BatchNorm buffer under EMA, and an LR scheduler.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

from drumsynth.config import from_dict, to_dict
from drumsynth.train import Recipe
from drumsynth.train.distributed import average_gradients


@dataclass
class ToyConfig:
    z_dim: int = 4
    hidden: int = 16
    length: int = 64
    batch_size: int = 8
    lr: float = 1e-3
    gp: float = 1.0
    n_critic: int = 2
    sample_rate: int = 8000


class ToyGenerator(nn.Module):
    """z: Tensor[B, z_dim] -> wave: Tensor[B, 1, length] in [-1, 1]."""

    def __init__(self, z_dim: int, hidden: int, length: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(z_dim, hidden), nn.BatchNorm1d(hidden), nn.LeakyReLU(0.2),
                                 nn.Linear(hidden, length), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).unsqueeze(1)


class ToyCritic(nn.Module):
    """wave: Tensor[B, 1, length] -> score: Tensor[B]."""

    def __init__(self, hidden: int, length: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(1, 4, 5, padding=2)
        self.head = nn.Sequential(nn.LeakyReLU(0.2), nn.Flatten(), nn.Dropout(0.2), nn.Linear(4 * length, 1))

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.head(self.conv(wave)).squeeze(1)


def build_generator(config: dict) -> ToyGenerator:
    """The inference module from a stored plain config alone (what a release file must allow)."""
    cfg = from_dict(ToyConfig, config)
    return ToyGenerator(cfg.z_dim, cfg.hidden, cfg.length)


def sine_batches(config: ToyConfig):
    """data_iter_factory: random sines, every draw from the Trainer's data generator."""

    def factory(generator: torch.Generator) -> Iterator[dict]:
        t = torch.arange(config.length) / config.sample_rate
        while True:
            freq = 200 + 1800 * torch.rand(config.batch_size, 1, generator=generator)
            phase = 6.28 * torch.rand(config.batch_size, 1, generator=generator)
            yield {"wave": (0.8 * torch.sin(6.283 * freq * t + phase)).unsqueeze(1)}

    return factory


class ToyRecipe(Recipe):
    family = "toy"

    def __init__(self, cfg: ToyConfig | None = None) -> None:
        self.cfg = cfg or ToyConfig()
        self.config = to_dict(self.cfg)
        self.sample_rate = self.cfg.sample_rate
        self.G = build_generator(self.config)
        self.D = ToyCritic(self.cfg.hidden, self.cfg.length)
        self.opt = {"generator": torch.optim.Adam(self.G.parameters(), self.cfg.lr, betas=(0.5, 0.9)),
                    "discriminator": torch.optim.Adam(self.D.parameters(), self.cfg.lr, betas=(0.5, 0.9))}
        self.sched = {"generator": torch.optim.lr_scheduler.StepLR(self.opt["generator"], 3, 0.9)}
        self.seen: list[torch.Tensor] = []  # batches this process trained on (the DDP test reads it)

    def modules(self):
        return {"generator": self.G, "discriminator": self.D}

    def optimizers(self):
        return self.opt

    def schedulers(self):
        return self.sched

    def ema_modules(self):
        return ["generator"]

    def release_extra(self):
        return {"feature_mean": torch.zeros(3), "note": "toy"}

    def _sync(self, module):
        # The "average" DDP mode: the recipe averages its plain modules' gradients itself.
        if self.ddp_gradients == "average":
            average_gradients(module)

    def train_step(self, batch, step, generator):
        G, D = self.nets["generator"], self.nets["discriminator"]
        real = batch["wave"]
        self.seen.append(real)
        B = real.shape[0]
        for _ in range(self.cfg.n_critic):
            z = torch.randn(B, self.cfg.z_dim, generator=generator, device=generator.device)
            with torch.no_grad():
                fake = G(z)
            alpha = torch.rand(B, 1, 1, generator=generator, device=generator.device)
            mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
            grad, = torch.autograd.grad(D(mixed).sum(), mixed, create_graph=True)
            gp = ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
            d_wgan = D(fake).mean() - D(real).mean()
            self.opt["discriminator"].zero_grad(set_to_none=True)
            (d_wgan + self.cfg.gp * gp).backward()
            self._sync(self.modules()["discriminator"])
            self.opt["discriminator"].step()
        z = torch.randn(B, self.cfg.z_dim, generator=generator, device=generator.device)
        g_adv = -D(G(z)).mean()
        self.opt["generator"].zero_grad(set_to_none=True)
        g_adv.backward()
        self._sync(self.modules()["generator"])
        self.opt["generator"].step()
        return {"loss/d_wgan": d_wgan.item(), "loss/gp": gp.item(), "loss/g_adv": g_adv.item()}

    def preview(self, modules, n, generator):
        z = torch.randn(n, self.cfg.z_dim, generator=generator, device=generator.device)
        return modules["generator"](z)
