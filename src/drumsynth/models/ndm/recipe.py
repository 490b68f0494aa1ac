"""Training the Neural Drum Machine: one Recipe, two networks, two optimisers.

Every iteration makes one CWAE update and one MCNN update (the seed pre-trains them separately;
they share no parameters and no gradients, so interleaving the two is the same as two phases run
side by side, and one run yields one release file):

- CWAE: a class-balanced batch (``per_class`` clips of every class present) of standardised
  log-mels; ``loss/wae = loss/mse + beta * loss/mmd`` where ``loss/mmd`` is the mean over classes of
  the unbiased IMQ-kernel MMD² between the class's codes and as many N(0, I) samples.
- MCNN: a uniform batch of mel magnitudes (a share of them the CWAE's round trip) -> the real waveform;
  ``loss/mcnn = 3 loss/sc + 10 loss/sc_log + 1 loss/mask + envelope_weight loss/envelope + stft_weight
  loss/stft`` with SC and SClog on the mel of the (soft-)masked output, BCE between the mask and the
  target's sounding-samples mask (:func:`mcnn.mask_target`) and, ours (weights 0 in the seed's loss), the
  fine-time band-envelope gap to the clip (:func:`drumsynth.nn.wave.band_envelope_distance`) and a
  multi-resolution STFT term (:func:`drumsynth.nn.wave.spectral_loss`).

With ``train.adversarial_weight`` the CWAE's loss gains ``adversarial_weight * loss/adv_g``, the hinge
generator loss of a class-conditional patch critic (:mod:`mel_critic`) that judges the batch's clips
against the decoder's mels of the MMD's prior codes; the critic takes one step per iteration first
(``loss/adv_d``). It is a training module only: the release keeps the CWAE and the MCNN. With
``train.class_spectrum`` it gains ``class_spectrum * loss/class_spectrum``, the gap between the per-class mean
log-mels of those prior codes' decodings and of the batch's clips (:func:`class_mel_distance`).

With ``train.mcnn_adversarial_weight`` the MCNN's loss gains ``mcnn_adversarial_weight * loss/mcnn_adv +
mcnn_feature_matching * loss/mcnn_fm``: a multi-resolution spectrogram critic (:mod:`drumsynth.nn.wave_critic`, least
squares, as in the neural vocoders) judges random crops of the batch's clips against the MCNN's renderings
of them, after its own step (``loss/mcnn_critic``). A training module too, left out of the release.

With ``train.render_weight`` the CWAE's loss gains ``render_weight * loss/render`` (ours): a few of the batch's
reconstructions are rendered by the MCNN, whose weights this term leaves alone, and compared with their clips by
the MCNN's own waveform terms (multi-resolution STFT, band envelopes), so the decoder's gradient comes through the inverter it is heard through; with
``train.render_adversarial_weight`` / ``train.render_feature_matching`` the spectrogram critic judges those
renderings too (``loss/render_adv``, ``loss/render_fm``, after its step ``loss/render_critic``). With
``train.freeze_encoder`` only the decoder learns, so the codes keep their meaning.

With ``train.freeze_wae`` only the MCNN trains (a continuation of a trained model's inverter), with
``train.freeze_mcnn`` only the CWAE (a continuation of its autoencoder). A run with
``mcnn.mel_rank`` started (``--init``) from a model without it fits the low-rank first layer to the training
frames (:func:`mcnn.factor_first_layer`) and trains on from there; one with ``mcnn.mixed_layers`` started
from separate heads fills those layers' off-head blocks with zeros (:func:`mcnn.block_diagonal_weight`), the
same function, and learns them; one with a larger ``mcnn.channels`` starts from the same function too, the
new channels of each head reaching nothing yet (:func:`mcnn.widened_weight`).

Learning rates are annealed on plateau of each network's own training loss (window means), which
is deterministic and resume-exact (the state lives in :meth:`state_dict`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from drumsynth.audio.dsp import mel_spectrogram
from drumsynth.config import to_dict
from drumsynth.data.cache import Cache
from drumsynth.data.taxonomy import CLASSES
from drumsynth.errors import DrumsynthError
from drumsynth.models.ndm import features as feats
from drumsynth.models.ndm.builder import build_modules
from drumsynth.models.ndm.config import Config, TrainConfig, check, mel_kwargs, uses_wave_critic
from drumsynth.models.ndm.controls import pca_fit
from drumsynth.models.ndm.latent_prior import fit_class_gaussians
from drumsynth.models.ndm.mcnn import (
    block_diagonal_weight,
    factor_first_layer,
    log_spectral_convergence,
    mask_target,
    spectral_convergence,
    widened_weight,
)
from drumsynth.models.ndm.mel_critic import MelCritic, critic_hinge_loss
from drumsynth.models.ndm.wae import CWAE, class_mmd
from drumsynth.nn.wave import band_envelope_distance, class_means, spectral_loss
from drumsynth.nn.wave_critic import (
    MultiResolutionCritic,
    critic_update,
    feature_matching_loss,
    generator_least_squares_loss,
    random_crops,
)
from drumsynth.train.recipe import Metrics, Recipe

# At most this many mel frames fit the low-rank first layer when a run adds ``mcnn.mel_rank``
# (with_factored_mcnn), a bound for larger corpora: the shipped model's training split has 677 recordings of
# 129 frames, 52,452 of them sounding, all used (5.3 s on one thread; rank 32 keeps 99.86 % of the layer's
# output on them).
FACTOR_FRAMES = 60_000

# Adam betas of the mel critic: the usual GAN setting (a short memory of the moving target).
CRITIC_BETAS = (0.5, 0.9)


def one_hot(labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Tensor[B] int64 -> Tensor[B, n_classes] float32."""
    return F.one_hot(labels, n_classes).to(torch.float32)


def soft_rendering(mcnn: nn.Module, mel: torch.Tensor, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The MCNN's rendering as it trains: mel magnitudes ``Tensor[B, n_mels, N]`` -> the signal times the soft
    mask and the mask's logits, both ``Tensor[B, length]``. Training uses the soft mask so that the signal heads
    learn under the same gain the mask applies (inference binarises it, :meth:`MCNN.infer`)."""
    signal, mask_logit = mcnn(mel)
    signal, mask_logit = signal[:, :length], mask_logit[:, :length]
    return signal * torch.sigmoid(mask_logit), mask_logit


def rendering_terms(out: torch.Tensor, wave: torch.Tensor, t: TrainConfig) -> dict[str, torch.Tensor]:
    """The decoder's rendering loss of renderings ``out`` of the clips ``wave`` (``Tensor[B, length]`` each):
    ``{"loss/render_stft"}`` (the multi-resolution STFT loss of ``t.stft_ffts``), ``"loss/render_envelope"`` (the
    band-envelope gap) when ``t.envelope_weight`` is above 0, and ``"loss/render"``, the first plus the weighted
    second (scalars)."""
    terms = {"loss/render_stft": spectral_loss(out, wave, t.stft_ffts).mean()}
    terms["loss/render"] = terms["loss/render_stft"]
    if t.envelope_weight > 0:
        terms["loss/render_envelope"] = band_envelope_distance(out, wave)
        terms["loss/render"] = terms["loss/render"] + t.envelope_weight * terms["loss/render_envelope"]
    return terms


def mcnn_losses(mcnn: nn.Module, mel: torch.Tensor, wave: torch.Tensor, config: Config
                ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """The MCNN's loss terms on a batch of real mels and their waveforms, and its rendering.

    mel : Tensor[B, n_mels, N] mel magnitudes; wave : Tensor[B, length] the clips they came from.
    Returns ``{"loss/sc", "loss/sc_log", "loss/mask", "loss/mcnn"}``, and ``"loss/envelope"`` and
    ``"loss/stft"`` when their weights are above 0 (tensors with gradients), and the soft-masked rendering
    ``Tensor[B, length]`` the terms judged (the waveform critic judges it too).
    """
    t, c = config.train, config.mcnn
    out, mask_logit = soft_rendering(mcnn, mel, wave.shape[-1])
    mel_hat = mel_spectrogram(out, **mel_kwargs(config.data))
    sc = spectral_convergence(mel, mel_hat)
    sc_log = log_spectral_convergence(mel, mel_hat, t.sc_log_eps)
    bce = F.binary_cross_entropy_with_logits(mask_logit, mask_target(wave, c.mask_window,
                                                                     c.mask_threshold_db))
    terms = {"loss/sc": sc, "loss/sc_log": sc_log, "loss/mask": bce}
    total = t.sc_weight * sc + t.sc_log_weight * sc_log + t.mask_weight * bce
    # Our terms only when they count: forward and backward through them cost about 0.1 s (envelope) and
    # 0.4 s (STFT) of a 1.5 s step at batch 8 (BENCHMARKS.md); validation reports both at any weight.
    if t.envelope_weight > 0:
        terms["loss/envelope"] = band_envelope_distance(out, wave)
        total = total + t.envelope_weight * terms["loss/envelope"]
    if t.stft_weight > 0:
        terms["loss/stft"] = spectral_loss(out, wave, t.stft_ffts).mean()
        total = total + t.stft_weight * terms["loss/stft"]
    return {**terms, "loss/mcnn": total}, out


class Plateau:
    """Multiply an optimiser's learning rate by ``factor`` when window-mean losses stop improving.

    Plain-typed state (:meth:`state_dict`) so a resumed run anneals at the same steps.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, window: int, patience: int, factor: float,
                 min_lr: float) -> None:
        self.optimizer, self.window, self.patience = optimizer, window, patience
        self.factor, self.min_lr = factor, min_lr
        self.best, self.bad, self.total, self.count = math.inf, 0, 0.0, 0

    def observe(self, loss: float) -> None:
        if self.window <= 0 or not math.isfinite(loss):
            return
        self.total += loss
        self.count += 1
        if self.count < self.window:
            return
        mean = self.total / self.count
        self.total, self.count = 0.0, 0
        if mean < self.best * (1.0 - 1e-4):
            self.best, self.bad = mean, 0
            return
        self.bad += 1
        if self.bad > self.patience:
            self.bad = 0
            for group in self.optimizer.param_groups:
                group["lr"] = max(self.min_lr, group["lr"] * self.factor)

    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "bad": self.bad, "total": self.total, "count": self.count}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.bad = float(state["best"]), int(state["bad"])
        self.total, self.count = float(state["total"]), int(state["count"])


class NDMRecipe(Recipe):
    """CWAE + MCNN training (see the module docstring).

    Parameters
    ----------
    config : the ndm ``Config``
    train_set : the training split's features (statistics, MCNN gain, PCA); ``None`` builds the
        modules with neutral statistics (tests, export)
    """

    family = "ndm"
    best_metric = "valid/loss"
    best_mode = "min"

    def __init__(self, config: Config, train_set: feats.FeatureSet | None = None) -> None:
        self.cfg = check(config)
        self.config = to_dict(config)
        self.sample_rate = config.data.sr
        self.classes = CLASSES
        self.train_set = train_set
        # The release extra of the model a fine-tuning run started from (init_from), else None.
        self.init_extra: dict[str, Any] | None = None
        self.wae, self.mcnn = build_modules(config, len(CLASSES))
        t = config.train
        self.mel_critic = MelCritic(len(CLASSES), t.critic_channels) if t.adversarial_weight > 0 else None
        self.wave_critic = (MultiResolutionCritic(t.mcnn_critic_ffts, t.mcnn_critic_channels)
                            if uses_wave_critic(t) else None)
        if train_set is not None:
            mean, std = feats.statistics(train_set.mels, config.data.log_eps, config.data.std_floor)
            self.wae.set_statistics(mean, std)
            with torch.no_grad():
                self.mcnn.input_gain.fill_(feats.input_gain(train_set.mels))
        self._optimizers = {
            "wae": torch.optim.Adam(self.wae.parameters(), lr=t.lr, betas=tuple(t.adam_betas)),
            "mcnn": torch.optim.Adam(self.mcnn.parameters(), lr=t.mcnn_lr, betas=tuple(t.adam_betas)),
        }
        if self.mel_critic is not None:
            self._optimizers["mel_critic"] = torch.optim.Adam(self.mel_critic.parameters(), lr=t.critic_lr,
                                                              betas=CRITIC_BETAS)
        if self.wave_critic is not None:
            self._optimizers["wave_critic"] = torch.optim.Adam(self.wave_critic.parameters(), lr=t.mcnn_critic_lr,
                                                               betas=CRITIC_BETAS)
        self.plateaus = {
            "wae": Plateau(self._optimizers["wae"], t.plateau_window, t.plateau_patience,
                           t.plateau_factor, t.min_lr),
            "mcnn": Plateau(self._optimizers["mcnn"], t.plateau_window, t.mcnn_plateau_patience,
                            t.mcnn_plateau_factor, t.min_lr),
        }

    # ---- contract ------------------------------------------------------------------------------

    def modules(self) -> dict[str, nn.Module]:
        modules: dict[str, nn.Module] = {"wae": self.wae, "mcnn": self.mcnn}
        if self.mel_critic is not None:
            modules["mel_critic"] = self.mel_critic
        if self.wave_critic is not None:
            modules["wave_critic"] = self.wave_critic
        return modules

    def release_modules(self) -> list[str]:
        return ["wae", "mcnn"]

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return self._optimizers

    def ema_modules(self) -> list[str]:
        # No EMA: the release PCA is fitted with the encoder being trained (release_extra has no
        # access to EMA weights), and batch-norm statistics would be averaged across moving weights.
        return []

    def train_step(self, batch: dict[str, torch.Tensor], step: int, generator: torch.Generator) -> Metrics:
        t = self.cfg.train
        metrics: Metrics = {}

        if not t.freeze_wae:
            metrics.update(self.wae_step(batch, generator))
        if not t.freeze_mcnn:
            metrics.update(self.mcnn_step(batch, generator))
        metrics["lr/wae"] = self.plateaus["wae"].lr()
        metrics["lr/mcnn"] = self.plateaus["mcnn"].lr()
        return metrics

    def mcnn_step(self, batch: dict[str, torch.Tensor], generator: torch.Generator) -> Metrics:
        """One MCNN update on the batch's uniform clips (a share of their mels the CWAE's round trip);
        with ``train.mcnn_adversarial_weight`` the waveform critic steps first on random crops."""
        t = self.cfg.train
        # In use the MCNN only ever inverts the decoder's mels, which are smoother than real ones
        # (with the first shipped model, Griffin-Lim kept cymbals that the MCNN turned into snares).
        mcnn_mel = batch["mcnn_mel"]
        decoded = round(t.mcnn_decoded_share * len(mcnn_mel))
        if decoded:
            mcnn_mel = torch.cat([reconstruct_mels(self.wae, mcnn_mel[:decoded], batch["mcnn_label"][:decoded],
                                                   len(self.classes)), mcnn_mel[decoded:]])
        terms, out = mcnn_losses(self.nets["mcnn"], mcnn_mel, batch["mcnn_wave"], self.cfg)
        metrics: Metrics = {}
        if t.mcnn_adversarial_weight > 0:
            real, fake = random_crops([batch["mcnn_wave"], out], t.mcnn_critic_crop, generator)
            metrics = self.wave_critic_step(real, fake.detach())
            adversarial, matching = self.inverter_adversarial_terms(real, fake)
            terms["loss/mcnn_adv"], terms["loss/mcnn_fm"] = adversarial, matching
            terms["loss/mcnn"] = (terms["loss/mcnn"] + t.mcnn_adversarial_weight * adversarial
                                  + t.mcnn_feature_matching * matching)
        opt = self._optimizers["mcnn"]
        opt.zero_grad(set_to_none=True)
        terms["loss/mcnn"].backward()
        if t.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.mcnn.parameters(), t.grad_clip)
        opt.step()
        metrics.update({k: v.item() for k, v in terms.items()})
        self.plateaus["mcnn"].observe(metrics["loss/mcnn"])
        return metrics

    def wave_critic_step(self, real: torch.Tensor, fake: torch.Tensor, name: str = "mcnn_critic") -> Metrics:
        """One least-squares update of the waveform critic on real clips and the MCNN's renderings
        ``Tensor[B, T]`` each (``fake`` detached); metrics ``loss/<name>`` and, for the MCNN's own step,
        ``wave_critic/real|fake``, for the decoder's (``render_critic``) ``render_critic/real|fake``."""
        loss, real_mean, fake_mean = critic_update(self.wave_critic, self._optimizers["wave_critic"], real, fake)
        scores = "wave_critic" if name == "mcnn_critic" else name
        return {f"loss/{name}": loss, f"{scores}/real": real_mean, f"{scores}/fake": fake_mean}

    def inverter_adversarial_terms(self, real: torch.Tensor, fake: torch.Tensor
                                   ) -> tuple[torch.Tensor, torch.Tensor]:
        """The least-squares adversarial loss and feature-matching gap (scalars) of the MCNN's renderings
        ``fake Tensor[B, T]`` of the clips ``real Tensor[B, T]``, for the network being trained (the MCNN,
        or the decoder through it); the critic's own weights get no gradient.
        In eval mode, so that spectral normalisation's power iteration does not move the weights between
        the two forwards (the feature gap of a clip to itself is then exactly 0)."""
        self.wave_critic.requires_grad_(False)
        self.wave_critic.eval()
        try:
            with torch.no_grad():
                _, real_features = self.wave_critic(real)
            fake_scores, fake_features = self.wave_critic(fake)
        finally:
            self.wave_critic.requires_grad_(True)
            self.wave_critic.train()
        return generator_least_squares_loss(fake_scores), feature_matching_loss(real_features, fake_features)

    def wae_step(self, batch: dict[str, torch.Tensor], generator: torch.Generator) -> Metrics:
        """One CWAE update on the batch's class-balanced mels: ``loss/wae = loss/mse + beta loss/mmd`` (the MMD
        left out under ``train.freeze_encoder``), plus the terms on prior codes and the rendering term
        (:meth:`render_terms`) at their weights."""
        t = self.cfg.train
        x = self.wae.normalise(batch["mel"])
        labels = batch["label"]
        weights = one_hot(labels, len(self.classes))
        prior = torch.randn(len(x), self.wae.latent_dim, generator=generator, device=generator.device).to(x)
        metrics: Metrics = {}
        if not (decodes_prior(t) or t.freeze_encoder or t.render_weight > 0):
            x_hat, z = self.nets["wae"](x, weights)
        else:
            # Outside the DDP wrapper: these terms are single-process features (data_factories refuses them
            # under torchrun).
            z = self.frozen_codes(x, weights) if t.freeze_encoder else self.wae.encode(x, weights)
            if not decodes_prior(t):
                x_hat = self.wae.decode(z, weights)
            else:
                # The prior codes are decoded in the same batch as the clips' codes: decoded apart, their batch
                # statistics pulled the decoder's running ones away from the reconstructions' (valid MSE 0.159
                # against 0.144 re-estimated, step 100 of the first run).
                x_hat, fake = self.wae.decode(torch.cat([z, prior]), torch.cat([weights, weights])).chunk(2)
                if self.mel_critic is not None:
                    metrics = self.critic_step(x, fake.detach(), weights)
        mse = F.mse_loss(x_hat, x)
        mmd = class_mmd(z, labels, prior, t.mmd_scales)
        # A frozen encoder gets no gradient: its MMD is a constant, reported but left out of the loss.
        loss = mse if t.freeze_encoder else mse + t.beta * mmd
        if t.render_weight > 0:
            terms, critic_metrics = self.render_terms(x_hat, batch["wave"], generator)
            loss = loss + sum(weight * terms[key] for key, weight in (
                ("loss/render", t.render_weight), ("loss/render_adv", t.render_adversarial_weight),
                ("loss/render_fm", t.render_feature_matching)) if key in terms)
            metrics.update({**critic_metrics, **{k: v.item() for k, v in terms.items()}})
        if self.mel_critic is not None:
            adversarial = self.generator_adversarial_loss(fake, weights)
            loss = loss + t.adversarial_weight * adversarial
            metrics["loss/adv_g"] = adversarial.item()
        if t.class_spectrum > 0:
            distance = class_mel_distance(fake, x, weights)
            loss = loss + t.class_spectrum * distance
            metrics["loss/class_spectrum"] = distance.item()
        opt = self._optimizers["wae"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if t.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.wae.parameters(), t.grad_clip)
        opt.step()
        self.plateaus["wae"].observe(loss.item())
        return {**metrics, "loss/mse": mse.item(), "loss/mmd": mmd.item(), "loss/wae": loss.item()}

    @torch.no_grad()
    def frozen_codes(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """Codes of standardised log-mels ``Tensor[B, 1, n_mels, N]`` with class weights ``Tensor[B, C]``
        from the encoder as it stands: eval mode (running statistics, none updated), no gradient ->
        ``Tensor[B, d]``. ``train.freeze_encoder``: the codes keep their meaning while the decoder learns."""
        self.wae.encoder.eval()
        return self.wae.encode(x, weights)

    def render_terms(self, x_hat: torch.Tensor, wave: torch.Tensor, generator: torch.Generator
                     ) -> tuple[dict[str, torch.Tensor], Metrics]:
        """The decoder's rendering terms (``train.render_weight``) on the batch's reconstructions
        ``x_hat Tensor[B, 1, n_mels, N]`` (with gradients) and their clips ``wave Tensor[B, length]``.

        ``train.render_clips`` of them (drawn with ``generator``) go through the MCNN as it is trained,
        with the soft mask; the MCNN's weights get no gradient here (its own step trains it, if any).
        Returns the terms (:func:`rendering_terms`; the envelope part hears the frame-rate flutter a rendering of
        fluctuating mels ticks with), with the critic also ``"loss/render_adv"`` and ``"loss/render_fm"``
        (scalars with gradients); and the critic step's metrics (empty without it).
        """
        t = self.cfg.train
        pick = torch.randperm(len(x_hat), generator=generator, device=generator.device)[:t.render_clips]
        wave = wave[pick.to(wave.device)]
        self.mcnn.requires_grad_(False)
        try:
            out, _ = soft_rendering(self.mcnn, self.wae.denormalise(x_hat[pick.to(x_hat.device)]), wave.shape[-1])
        finally:
            self.mcnn.requires_grad_(True)
        terms = rendering_terms(out, wave, t)
        metrics: Metrics = {}
        if self.wave_critic is not None:
            real, fake = random_crops([wave, out], t.mcnn_critic_crop, generator)
            metrics = self.wave_critic_step(real, fake.detach(), name="render_critic")
            terms["loss/render_adv"], terms["loss/render_fm"] = self.inverter_adversarial_terms(real, fake)
        return terms, metrics

    def critic_step(self, real: torch.Tensor, fake: torch.Tensor, weights: torch.Tensor) -> Metrics:
        """One hinge-loss update of the mel critic: real and generated standardised log-mels
        ``Tensor[B, 1, n_mels, N]`` (``fake`` detached) with the batch's one-hot classes ``Tensor[B, C]``."""
        real_score, fake_score = self.mel_critic(real, weights), self.mel_critic(fake, weights)
        loss = critic_hinge_loss(real_score, fake_score)
        opt = self._optimizers["mel_critic"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"loss/adv_d": loss.item(), "critic/real": real_score.mean().item(),
                "critic/fake": fake_score.mean().item()}

    def generator_adversarial_loss(self, fake: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """The decoder's hinge loss ``-critic(fake)`` (scalar) for one-hot classes ``weights Tensor[B, C]``;
        the critic's own weights get no gradient."""
        self.mel_critic.requires_grad_(False)
        try:
            return -self.mel_critic(fake, weights).mean()
        finally:
            self.mel_critic.requires_grad_(True)

    def state_dict(self) -> dict[str, Any]:
        return {name: p.state_dict() for name, p in self.plateaus.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, p in self.plateaus.items():
            if name in state:
                p.load_state_dict(state[name])

    def init_from(self, checkpoint: dict[str, Any]) -> None:
        """Fine-tuning: the checkpoint's weights and feature statistics (buffers of the CWAE and the
        MCNN's input gain: the networks were trained on that scale), and its PCA and class priors for
        the classes this run's data lacks (:meth:`release_extra`).

        A run whose CWAE has other widths than the checkpoint's (``model.channels`` / ``model.fc``, the
        config's ``CWAE_SHAPE``) keeps only the checkpoint's MCNN and trains a new CWAE from its own
        initialisation and this run's statistics; the old codes mean nothing to it, so no PCA entry or class
        prior is inherited."""
        extra = checkpoint.get("extra") or {}
        classes = list(extra.get("classes", CLASSES))
        if classes != list(self.classes):
            raise DrumsynthError(f"--init: the checkpoint's classes {classes} are not ndm's {list(self.classes)}")
        stored_model = (checkpoint.get("config") or {}).get("model") or {}
        new_wae = any(key in stored_model and list(stored_model[key]) != list(getattr(self.cfg.model, key))
                      for key in Config.CWAE_SHAPE)
        if new_wae:
            if self.cfg.train.freeze_wae:
                raise DrumsynthError("--init with new CWAE widths (model.channels / model.fc) trains a new CWAE: "
                                     "train.freeze_wae must be false")
            checkpoint = {**checkpoint, "model": {**checkpoint["model"], "wae": self.wae.state_dict()}}
        for name, critic in (("mel_critic", self.mel_critic), ("wave_critic", self.wave_critic)):
            if critic is not None and name not in checkpoint.get("model", {}):
                # A release keeps no critic: this run's starts fresh.
                checkpoint = {**checkpoint, "model": {**checkpoint["model"], name: critic.state_dict()}}
        super().init_from(self.with_grown_mcnn(self.with_factored_mcnn(checkpoint)))
        self.init_extra = None if new_wae else extra

    def with_factored_mcnn(self, checkpoint: dict[str, Any]) -> dict[str, Any]:
        """The checkpoint as this run's MCNN can load it: when the run has a mel projection
        (``mcnn.mel_rank``) and the checkpoint's MCNN has a dense first layer, that layer is replaced by
        its two factors fitted to up to ``FACTOR_FRAMES`` sounding frames of the training recordings
        (:func:`factor_first_layer`, at the checkpoint's own input gain). Otherwise the checkpoint as is."""
        stored = (checkpoint.get("model") or {}).get("mcnn")
        if self.mcnn.mel_projection is None or stored is None or "mel_projection.weight" in stored:
            return checkpoint
        if self.train_set is None or not len(self.train_set):
            raise DrumsynthError("--init: fitting mcnn.mel_rank's projection needs the training data")
        recordings = self.train_set.mels[self.train_set.semitones == 0]
        frames = (recordings * stored["input_gain"]).transpose(1, 2).reshape(-1, recordings.shape[1])
        frames = frames[frames.abs().sum(1) > 0]
        order = torch.randperm(len(frames), generator=torch.Generator().manual_seed(self.cfg.train.seed))
        projection, first = factor_first_layer(stored["convs.0.weight"], frames[order[:FACTOR_FRAMES]],
                                               self.cfg.mcnn.mel_rank)
        mcnn = {**stored, "convs.0.weight": first, "mel_projection.weight": projection}
        return {**checkpoint, "model": {**checkpoint["model"], "mcnn": mcnn}}

    def with_grown_mcnn(self, checkpoint: dict[str, Any]) -> dict[str, Any]:
        """The checkpoint as this run's MCNN can load it, for the layers' grouping and widths:

        - a layer this run mixes across heads (``mcnn.mixed_layers``) that the checkpoint stores grouped,
          Tensor[C_in, C_out / heads, width], becomes its block-diagonal ungrouped weight (the same function);
        - a run with wider layers (a larger ``mcnn.channels``) gets the checkpoint's weights in the first
          channels of each head (:func:`widened_weight`: its new channels reach nothing yet, so the network
          computes the checkpoint's function and the new channels learn from there).

        Both only grow: a run with fewer mixed layers or narrower layers than the checkpoint is a
        ``DrumsynthError``.
        """
        stored = (checkpoint.get("model") or {}).get("mcnn")
        if stored is None:
            return checkpoint
        stored_mcnn = (checkpoint.get("config") or {}).get("mcnn") or {}
        layers = len(self.mcnn.convs)
        first_mixed = layers - 1 - int(stored_mcnn.get("mixed_layers", 0))
        heads = self.mcnn.heads
        mcnn = dict(stored)
        for i, conv in enumerate(self.mcnn.convs):
            key = f"convs.{i}.weight"
            weight = stored.get(key)
            if weight is None or weight.dim() != 3:
                continue
            stored_grouped = 0 < i and not first_mixed <= i < layers - 1
            if stored_grouped and conv.groups == 1:
                weight = block_diagonal_weight(weight, heads)
            elif 0 < i < layers - 1 and not stored_grouped and conv.groups != 1:
                raise DrumsynthError(f"--init: the checkpoint's MCNN layer {i} mixes its heads, this run's does not: "
                                     f"mcnn.mixed_layers may only grow (the checkpoint has "
                                     f"{stored_mcnn.get('mixed_layers', 0)})")
            if weight.shape != conv.weight.shape:
                if any(new < old for new, old in zip(conv.weight.shape, weight.shape)):
                    raise DrumsynthError(f"--init: the MCNN's layer {i} is {tuple(weight.shape)} in the checkpoint, "
                                         f"{tuple(conv.weight.shape)} in this run: mcnn.channels may only grow")
                out_blocks = heads if conv.groups == 1 else 1
                weight = widened_weight(weight, conv.weight, 1 if i == 0 else heads, out_blocks)
            mcnn[key] = weight
        return {**checkpoint, "model": {**checkpoint["model"], "mcnn": mcnn}}

    # ---- inference-side hooks ------------------------------------------------------------------

    def release_extra(self) -> dict[str, Any]:
        """Class names, the latent PCA (overall and per class) and the per-class Gaussians
        (:mod:`.latent_prior`) of the training set's encodings.

        After :meth:`init_from`, a class with fewer than 2 recordings in this run's training split keeps
        the init model's PCA entry and Gaussian (its draws stay where the model learnt that class, not
        N(0, I)); ``extra["inherited_classes"]`` lists them.
        """
        extra: dict[str, Any] = {"classes": list(self.classes)}
        if self.train_set is not None and len(self.train_set):
            # The recordings themselves, not their pitch-shifted copies: the pad spans real sounds.
            keep = self.train_set.semitones == 0
            mels, labels = self.train_set.mels[keep], self.train_set.labels[keep]
            z = encode_features(self.wae, mels, labels, len(self.classes))
            extra["pca"] = pca_fit(z, labels, self.classes, 3)
            extra["latent_prior"] = fit_class_gaussians(z, labels, self.classes)
            if self.init_extra is not None:
                counts = torch.bincount(labels, minlength=len(self.classes)).tolist()
                extra["inherited_classes"] = inherit_classes(
                    extra, self.init_extra, [c for c, n in zip(self.classes, counts) if n < 2])
        return extra

    def preview(self, modules: dict[str, nn.Module], n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` hits from the prior, classes in menu order: Tensor[n, 1, length]."""
        wae, mcnn = modules["wae"], modules["mcnn"]
        z = torch.randn(n, wae.latent_dim, generator=generator, device=generator.device)
        labels = one_hot(torch.arange(n, device=z.device) % len(self.classes), len(self.classes))
        mel = wae.denormalise(wae.decode(z, labels))
        return mcnn.infer(mel, self.cfg.data.length).unsqueeze(1)

    def validate(self, modules: dict[str, nn.Module], batches: Iterable[dict[str, torch.Tensor]] | None
                 ) -> Metrics:
        """Reconstruction quality on the valid split (each network on real data).

        ``valid/mel_mse`` — CWAE reconstruction MSE of standardised log-mels (the seed's MSE term);
        ``valid/sc``, ``valid/sc_log``, ``valid/mask``, ``valid/envelope``, ``valid/stft``,
        ``valid/mcnn`` — the MCNN's loss terms with the *binarised* mask; ``valid/loss = valid/mel_mse +
        valid/mcnn`` follows keep-best. With ``train.render_weight``, also ``valid/render``: the rendering
        term on the clips' reconstructions as a producer hears them (binarised mask), outside keep-best.
        """
        if batches is None:
            return {}
        wae, mcnn = modules["wae"], modules["mcnn"]
        sums: dict[str, float] = {}
        count = 0
        for batch in batches:
            mel, labels, wave = batch["mel"], batch["label"], batch["wave"]
            x = wae.normalise(mel)
            x_hat, _ = wae(x, one_hot(labels, len(self.classes)))
            length = wave.shape[-1]
            signal, mask_logit = mcnn(mel)
            signal, mask_logit = signal[:, :length], mask_logit[:, :length]
            out = (signal * (mask_logit > 0)).clamp(-1.0, 1.0)  # = mcnn.infer(mel, length)
            mel_hat = mel_spectrogram(out, **mel_kwargs(self.cfg.data))
            bce = F.binary_cross_entropy_with_logits(
                mask_logit, mask_target(wave, self.cfg.mcnn.mask_window, self.cfg.mcnn.mask_threshold_db))
            b = len(labels)
            values = {
                "valid/mel_mse": float(F.mse_loss(x_hat, x)),
                "valid/sc": float(spectral_convergence(mel, mel_hat)),
                "valid/sc_log": float(log_spectral_convergence(mel, mel_hat, self.cfg.train.sc_log_eps)),
                "valid/mask": float(bce),
                "valid/envelope": float(band_envelope_distance(out, wave)),
                "valid/stft": float(spectral_loss(out, wave, self.cfg.train.stft_ffts).mean()),
            }
            if self.cfg.train.render_weight > 0:
                rendered = mcnn.infer(wae.denormalise(x_hat), length)
                values["valid/render"] = float(rendering_terms(rendered, wave, self.cfg.train)["loss/render"])
            for k, v in values.items():
                sums[k] = sums.get(k, 0.0) + v * b
            count += b
        if not count:
            return {}
        out_metrics = {k: v / count for k, v in sums.items()}
        t = self.cfg.train
        out_metrics["valid/mcnn"] = (t.sc_weight * out_metrics["valid/sc"] + t.sc_log_weight
                                     * out_metrics["valid/sc_log"] + t.mask_weight * out_metrics["valid/mask"]
                                     + t.envelope_weight * out_metrics["valid/envelope"]
                                     + t.stft_weight * out_metrics["valid/stft"])
        out_metrics["valid/loss"] = out_metrics["valid/mel_mse"] + out_metrics["valid/mcnn"]
        return out_metrics


def decodes_prior(t: TrainConfig) -> bool:
    """Whether a CWAE step decodes the MMD's prior codes too (a term judges the decoder's mels of them)."""
    return t.adversarial_weight > 0 or t.class_spectrum > 0


# Cells of the class-spectrum term on standardised log-mels: (mel bins, frames) averaged together, so that a
# class mean over 64 clips is steady (about 23 ms x 8 bins at the 44.1 kHz preset).
CLASS_MEL_POOL = (8, 2)


def class_mel_distance(fake: torch.Tensor, real: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """How far the decoder's mels of prior codes lie from the batch's clips, class by class (ours): the mean
    absolute gap between their per-class mean standardised log-mels, on ``CLASS_MEL_POOL`` cells, over the
    classes present. An MSE decoder renders codes between recordings smoother and darker than the
    recordings (docs/ndm.md, session 12); a batch mean leaves every hit free to differ.

    fake Tensor[B, 1, n_mels, N] (differentiable), real Tensor[B, 1, n_mels, N], one-hot weights Tensor[B, C]
    (the same classes for both) -> scalar Tensor.
    """
    cells = [F.avg_pool2d(v, CLASS_MEL_POOL, ceil_mode=True)[:, 0] for v in (fake, real)]
    (fake_means, present), (real_means, _) = (class_means(v, weights) for v in cells)
    return (fake_means[present] - real_means[present]).abs().mean()


def inherit_classes(extra: dict[str, Any], init_extra: dict[str, Any], classes: list[str]) -> list[str]:
    """Copy ``init_extra``'s PCA entries and class Gaussians of ``classes`` into ``extra`` (in place);
    returns the classes that had both to copy."""
    done = []
    for name in classes:
        pca = (init_extra.get("pca") or {}).get("classes", {}).get(name)
        prior = (init_extra.get("latent_prior") or {}).get("classes", {}).get(name)
        if pca is None or prior is None:
            continue
        extra["pca"]["classes"][name] = pca
        extra["latent_prior"]["classes"][name] = prior
        done.append(name)
    return done


@torch.no_grad()
def encode_features(wae: CWAE, mels: torch.Tensor, labels: torch.Tensor, n_classes: int,
                    batch: int = 128) -> torch.Tensor:
    """Codes of mel magnitudes ``Tensor[N, n_mels, T]`` with their labels, in eval mode -> ``Tensor[N, d]``.

    The module's train/eval mode is put back afterwards (the Trainer may call this mid-training).
    """
    was_training = wae.training
    wae.eval()
    try:
        device = wae.mel_mean.device
        out = [wae.encode(wae.normalise(mels[i:i + batch].to(device)),
                          one_hot(labels[i:i + batch].to(device), n_classes)).cpu()
               for i in range(0, len(mels), batch)]
    finally:
        wae.train(was_training)
    return torch.cat(out) if out else torch.zeros(0, wae.latent_dim)


@torch.no_grad()
def reconstruct_mels(wae: CWAE, mels: torch.Tensor, labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """The CWAE's round trip of mel magnitudes ``Tensor[B, n_mels, T]`` with their class indices
    ``Tensor[B]``: encode -> decode in eval mode -> mel magnitudes ``Tensor[B, n_mels, T]``.

    The module's train/eval mode is put back afterwards.
    """
    was_training = wae.training
    wae.eval()
    try:
        x_hat, _ = wae(wae.normalise(mels), one_hot(labels, n_classes))
        return wae.denormalise(x_hat)
    finally:
        wae.train(was_training)


# ---- data --------------------------------------------------------------------------------------


def class_pools(labels: torch.Tensor, n_classes: int) -> list[torch.Tensor]:
    """Indices of each class present in ``labels`` (absent classes are left out)."""
    pools = [torch.nonzero(labels == c).flatten() for c in range(n_classes)]
    return [pool for pool in pools if len(pool)]


def balanced_batch(train: feats.FeatureSet, per_class: int, mcnn_batch: int, pools: list[torch.Tensor],
                   generator: torch.Generator, waves: bool = False) -> dict[str, torch.Tensor]:
    """One training batch drawn with ``generator`` (all randomness from it: resume-exact).

    Returns ``{"mel": [C' * per_class, n_mels, N], "label": [C' * per_class], "mcnn_mel": [Bm, n_mels,
    N], "mcnn_wave": [Bm, length], "mcnn_label": [Bm]}`` where C' counts the classes present in the split,
    with ``waves`` also ``"wave": [C' * per_class, length]``, the class-balanced clips (the rendering term's
    targets).
    """
    picks = [pool[torch.randint(len(pool), (per_class,), generator=generator)] for pool in pools]
    idx = torch.cat(picks)
    midx = torch.randint(len(train), (mcnn_batch,), generator=generator)
    batch = {"mel": train.mels[idx], "label": train.labels[idx], "mcnn_mel": train.mels[midx],
             "mcnn_wave": train.waves[midx], "mcnn_label": train.labels[midx]}
    if waves:
        batch["wave"] = train.waves[idx]
    return batch


class BalancedBatches:
    """``data_iter_factory`` for the Trainer: class-balanced CWAE batches + uniform MCNN batches."""

    def __init__(self, train: feats.FeatureSet, per_class: int, mcnn_batch: int, n_classes: int,
                 waves: bool = False) -> None:
        if len(train) == 0:
            raise DrumsynthError("the training split is empty")
        self.train, self.per_class, self.mcnn_batch, self.waves = train, per_class, mcnn_batch, waves
        self.pools = class_pools(train.labels, n_classes)

    def __call__(self, generator: torch.Generator) -> Iterator[dict[str, torch.Tensor]]:
        while True:
            yield balanced_batch(self.train, self.per_class, self.mcnn_batch, self.pools, generator, self.waves)


class ValidBatches:
    """``valid_data`` for the Trainer: every valid clip once, in order, per call."""

    def __init__(self, valid: feats.FeatureSet, batch_size: int = 64) -> None:
        self.valid, self.batch_size = valid, batch_size

    def __call__(self) -> Iterator[dict[str, torch.Tensor]]:
        v = self.valid
        for i in range(0, len(v), self.batch_size):
            yield {"mel": v.mels[i:i + self.batch_size], "label": v.labels[i:i + self.batch_size],
                   "wave": v.waves[i:i + self.batch_size]}


def build_recipe(config: Config, cache: Cache | None) -> NDMRecipe:
    """The family contract's ``build_recipe``: features of the cache's train split feed statistics."""
    train = feats.features(cache, "train", config.data) if cache is not None else None
    return NDMRecipe(config, train)


def data_factories(config: Config, cache: Cache, rank: int = 0, world_size: int = 1
                   ) -> tuple[BalancedBatches, ValidBatches | None]:
    """The family contract's ``data_factories``: (train factory, valid factory or None).

    Every rank samples the whole training split with its own generator (the Trainer seeds each
    rank differently), so no sharding is needed; ``rank`` is unused. The terms on prior codes, the critics, the
    rendering term and a frozen encoder are refused with more than one process: their forwards bypass the DDP
    wrapper (the critics are not wrapped), so the ranks' gradients would not meet.
    """
    del rank
    t = config.train
    if world_size > 1 and (decodes_prior(t) or uses_wave_critic(t) or t.render_weight > 0 or t.freeze_encoder):
        raise DrumsynthError("train.adversarial_weight, train.class_spectrum, train.mcnn_adversarial_weight, "
                             "train.render_weight and train.freeze_encoder train in one process only: run them "
                             "without torchrun")
    train = feats.features(cache, "train", config.data)
    valid = None
    if cache.indices("valid"):
        valid = ValidBatches(feats.features(cache, "valid", config.data))
    return BalancedBatches(train, t.per_class, t.mcnn_batch_size, len(CLASSES), waves=t.render_weight > 0), valid
