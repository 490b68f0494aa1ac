"""Fine-tuning: a run that starts from a trained model (``drumsynth train --init ndm``).

A producer's kit of a few dozen files is far too small to train a model from scratch in minutes, but
enough to move a trained one towards its sound. The rules, in the order the CLI applies them:

- **What to start from**: a shipped family id (``ndm``: the package's ``pretrained/ndm.pt``) or a
  checkpoint path, resolved as ``Session.load`` resolves a model (:func:`load_init`).
- **Architecture**: the run keeps the init checkpoint's whole config. The user's preset, ``--config``
  files and ``--set`` overrides may change the ``train`` section and the training-data settings in
  :data:`FREE_KEYS` only, and the keys a family's config lists in ``INIT_CONVERTIBLE`` (its recipe turns
  the init's weights into the new shape: ndm's ``mcnn.mel_rank``, or its CWAE widths, which start a new
  CWAE beside the init's MCNN); any other difference is a
  ``DrumsynthError`` naming the keys (:func:`finetune_config`). The DSP settings (rate, length, STFT) therefore always match the model.
- **Weights**: every module the recipe trains loads the checkpoint's weights strictly
  (:meth:`drumsynth.train.recipe.Recipe.init_from`); optimiser states start fresh.
- **Steps**: without ``--steps``, :func:`steps_for` the number of training files: ``STEPS_PER_FILE``
  steps per file, clamped to ``[MIN_STEPS, MAX_STEPS]`` (a 34-file kit: 680 steps, 6 minutes on 2 busy
  cores; BENCHMARKS.md).
- **Classes**: the model keeps its class list; classes the kit lacks keep the init's latent priors
  (a family's ``release_extra`` decides; ndm does).
- **Provenance**: every release file of the run carries ``"init"`` (:meth:`InitModel.provenance`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drumsynth.errors import DrumsynthError

STEPS_PER_FILE = 20
MIN_STEPS = 200
MAX_STEPS = 2000
# Settings outside ``train`` that change which clips a run sees, not the model it builds.
FREE_KEYS = ("data.pitch_semitones", "data.max_items")


@dataclass
class InitModel:
    """The checkpoint a fine-tuning run starts from.

    spec : what the user named (``"ndm"`` or a path)
    path : the checkpoint file
    checkpoint : its contents (``drumsynth.checkpoint.load_checkpoint``)
    sha256 : hex digest of the file
    """

    spec: str
    path: Path
    checkpoint: dict[str, Any]
    sha256: str

    @property
    def family(self) -> str:
        return str(self.checkpoint.get("family"))

    def provenance(self) -> dict[str, Any]:
        """``{"from", "path", "sha256", "family", "step", "version", "created"}``: plain types for the
        release file's ``"init"`` entry."""
        ckpt = self.checkpoint
        return {"from": self.spec, "path": str(self.path.resolve()), "sha256": self.sha256,
                "family": self.family, "step": int(ckpt.get("step", 0)),
                "version": str(ckpt.get("version", "")), "created": str(ckpt.get("created", ""))}


def load_init(spec: str) -> InitModel:
    """Resolve and read the checkpoint named by ``spec`` (a shipped family id or a path)."""
    from drumsynth.checkpoint import load_checkpoint
    from drumsynth.inference.session import file_sha256, resolve_model

    path = resolve_model(spec)
    checkpoint = load_checkpoint(path)
    if not isinstance(checkpoint.get("model"), dict) or not checkpoint["model"]:
        raise DrumsynthError(f"--init {spec}: {path} holds no model weights")
    return InitModel(spec=spec, path=path, checkpoint=checkpoint, sha256=file_sha256(path))


def steps_for(n_train: int) -> int:
    """Fine-tuning steps for a training split of ``n_train`` files (see the module docstring)."""
    if n_train < 1:
        raise DrumsynthError(f"the training split is empty ({n_train} files): nothing to fine-tune on")
    return max(MIN_STEPS, min(MAX_STEPS, STEPS_PER_FILE * n_train))


def finetune_config(config_cls: type, init: InitModel, overlays: list[dict[str, Any]],
                    overrides: list[str]):
    """The run's config: the init checkpoint's, then ``overlays`` (preset, ``--config`` files), then
    ``--set`` overrides; only ``train.*``, :data:`FREE_KEYS` and ``config_cls.INIT_CONVERTIBLE`` (keys whose
    change the family's recipe converts the init's weights for) may differ from the checkpoint's.

    Returns an instance of ``config_cls``; a change to anything else is a ``DrumsynthError``.
    """
    from drumsynth.config import build_config, to_dict
    from drumsynth.train.trainer import config_diff

    stored = init.checkpoint.get("config")
    if not isinstance(stored, dict):
        raise DrumsynthError(f"--init {init.spec}: {init.path} stores no config")
    try:
        original = build_config(config_cls, [stored])
    except DrumsynthError as err:
        raise DrumsynthError(f"--init {init.spec}: {init.path} has a config this drumsynth cannot read: "
                             f"{err}") from err
    config = build_config(config_cls, [stored, *overlays], overrides)
    free = (*FREE_KEYS, *getattr(config_cls, "INIT_CONVERTIBLE", ()))
    changes = [c for c in config_diff(to_dict(original), to_dict(config))
               if not (c.startswith("train.") or c.split(":", 1)[0].split("[", 1)[0] in free)]
    if changes:
        raise DrumsynthError(
            f"--init {init.spec} keeps the model's architecture, but the preset/--config/--set change "
            f"{'; '.join(changes[:4])}{' …' if len(changes) > 4 else ''} (only train.* and "
            f"{', '.join(free)} may change when fine-tuning)")
    return config
