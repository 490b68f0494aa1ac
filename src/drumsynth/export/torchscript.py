"""The model as a TorchScript file for nn~ (the Max/Pd external made for RAVE) and other LibTorch hosts.

nn~ loads a ``.ts`` file, lists its methods with ``get_methods()``, and reads for each one a buffer
``<method>_params = [in_channels, in_ratio, out_channels, out_ratio]`` and the inlet/outlet names
``<method>_input_labels`` / ``<method>_output_labels``. It calls the method on ``Tensor[B, in_channels,
N / in_ratio]`` (the last sample of every ``in_ratio`` block of each inlet) and expects ``Tensor[B,
out_channels, N / out_ratio]`` back, every frame held for ``out_ratio`` samples, N being its buffer
size (a power of two, 4096 by default). Settable attributes are named by ``get_attributes()``, typed by
``<attribute>_params`` (0 bool, 1 int, 2 float, 3 str) and read and written through ``get_<attribute>`` /
``set_<attribute>`` (which returns 0 on success, -1 for a bad value).

A drum-hit model is not a stream of latents, so the methods mean this (``R`` is ``ratio``, 256 by
default; d = latent_dim, C = the number of classes):

``decode`` [B, 1 + d + C, N/R] -> [B, 1, N]
    Inlet 0 is a trigger; inlets 1..d the latent z, then the C class weights. When the trigger rises
    above 0.5 a hit is decoded from that frame's z and class weights and starts playing at that frame;
    hits ring out over the following calls and overlapping hits add (``choke`` true: a new hit cuts the
    one still sounding, like a hi-hat). The samples are those ``Session.generate`` decodes.
``encode`` [B, 1, N] -> [B, 1 + d + C, N/R] (families with an encoder)
    Listens for an onset (a sample above ``onset_db`` dBFS after at least one quiet frame), records
    ``length`` samples from it, analyses them, and holds the code on outlets 1..d+C from the frame the
    analysis finished, with a one-frame pulse on outlet 0: the same layout decode reads, so
    ``encode -> decode`` replays every incoming hit through the model (ndm encodes with the uniform
    class mix and outputs it as the class weights).
``forward`` [B, 1, N] -> [B, 1, N]
    ``decode(encode(x))`` (RAVE's convention: audio in, resynthesised audio out).

nn~ runs at the host's sample rate and does not resample: the streaming methods work at ``sr``, the
host rate given at export (``host_sr``, default the model's own ``model_sr``). When they differ, decode
resamples each hit from the model's rate and encode resamples each recording to it (band-limited, by
FFT over the zero-padded hit: :meth:`NNTildeModule.resample`), and ``length`` counts samples at ``sr``.

For LibTorch hosts the file also has ``generate(z [B, d], labels [B, C]) -> [B, model_length]`` and, with
an encoder, ``analyze(wave [B, model_length]) -> (z, labels)``, both at the model's own rate. The
metadata record is inside the file (``_extra_files["drumsynth.json"]``).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import torch

from drumsynth.errors import DrumsynthError
from drumsynth.export.graph import EMBEDDED_NAME, quiet

if TYPE_CHECKING:
    from drumsynth.inference.session import Session

# nn~'s attribute type codes (nn_tilde's TYPE_HASH).
TYPE_HASH = {bool: 0, int: 1, float: 2, str: 3}
DEFAULT_RATIO = 256
MAX_RATIO = 4096  # nn~'s default buffer: a larger ratio would force a larger buffer (and latency)
ONSET_DB = -40.0
# Per latent component: beyond this the decoders overflow (the Session refuses it; here it is clipped,
# since an audio thread cannot refuse). Same value as drumsynth.inference.checks.LATENT_LIMIT.
LATENT_LIMIT = 1e3


class NoEncoder(torch.nn.Module):
    """Stands in for the encoder of a family without one, so the module scripts with one type."""

    def forward(self, wave: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise RuntimeError("this model has no encoder")


class NNTildeModule(torch.nn.Module):
    """The scripted wrapper (see the module docstring); ``decoder`` and ``encoder`` are traced graphs.

    Parameters
    ----------
    decoder : (z Tensor[B, d], labels Tensor[B, C]) -> Tensor[B, length]
    encoder : Tensor[B, length] -> (z, labels), or None
    latent_dim, classes, sample_rate, length : the model's
    ratio : frames of the latent/trigger signals are ``ratio`` samples long (a power of 2)
    host_sr : the rate nn~ will run at (default ``sample_rate``)
    """

    def __init__(self, decoder: torch.nn.Module, encoder: torch.nn.Module | None, *, latent_dim: int,
                 classes: list[str], sample_rate: int, length: int, ratio: int = DEFAULT_RATIO,
                 host_sr: int | None = None) -> None:
        super().__init__()
        self.decoder = decoder
        self.encoder = NoEncoder() if encoder is None else encoder
        self.has_encoder = encoder is not None
        host_sr = int(sample_rate if host_sr is None else host_sr)
        self.sr = host_sr                        # RAVE's name: the rate of the streaming methods
        self.sampling_rate = host_sr
        self.model_sr = int(sample_rate)
        self.model_length = int(length)
        length = round(length * host_sr / sample_rate)
        self.latent_size = int(latent_dim)       # RAVE's name
        self.classes = list(classes)
        self.n_classes = len(classes)
        self.length, self.ratio = int(length), int(ratio)
        self.onset_db = ONSET_DB
        self.latent_limit = LATENT_LIMIT
        self.choke = False
        self._attributes = ["onset_db", "choke"]
        self.register_buffer("onset_db_params", torch.tensor([TYPE_HASH[float]]))
        self.register_buffer("choke_params", torch.tensor([TYPE_HASH[bool]]))
        self._methods = []
        code = ([f"(signal) latent {i}" for i in range(latent_dim)]
                + [f"(signal) class weight {name}" for name in classes])
        hit = ["(signal) drum hits"]
        self.register_method("decode", 1 + len(code), ratio, 1, 1,
                             ["(signal) trigger: a rise above 0.5 plays a hit", *code], hit)
        if encoder is not None:
            self.register_method("encode", 1, 1, 1 + len(code), ratio, ["(signal) audio to analyse"],
                                 ["(signal) trigger: one frame at 1 when a hit has been analysed", *code])
            self.register_method("forward", 1, 1, 1, 1, ["(signal) audio to analyse"], hit)
        # Streaming state, per batch row: decode's pending samples and last trigger value; encode's
        # recording, its fill (-1: listening), whether a quiet frame re-armed it, and the held code.
        self.register_buffer("dec_tail", torch.zeros(1, length), persistent=False)
        self.register_buffer("dec_last", torch.zeros(1), persistent=False)
        self.register_buffer("enc_clip", torch.zeros(1, length), persistent=False)
        self.register_buffer("enc_pos", torch.full((1,), -1, dtype=torch.long), persistent=False)
        self.register_buffer("enc_armed", torch.ones(1, dtype=torch.bool), persistent=False)
        self.register_buffer("enc_code", torch.zeros(1, len(code)), persistent=False)

    def register_method(self, name: str, in_channels: int, in_ratio: int, out_channels: int, out_ratio: int,
                        input_labels: list[str], output_labels: list[str]) -> None:
        """nn~'s registration: ``<name>_params`` and the inlet/outlet labels (nn_tilde.Module's layout)."""
        self.register_buffer(f"{name}_params", torch.tensor([in_channels, in_ratio, out_channels, out_ratio]))
        setattr(self, f"{name}_input_labels", list(input_labels))
        setattr(self, f"{name}_output_labels", list(output_labels))
        self._methods.append(name)

    # ---- what nn~ asks ----------------------------------------------------------------------------

    @torch.jit.export
    def get_methods(self) -> list[str]:
        return self._methods

    @torch.jit.export
    def get_attributes(self) -> list[str]:
        return self._attributes

    @torch.jit.export
    def get_onset_db(self) -> float:
        return self.onset_db

    @torch.jit.export
    def set_onset_db(self, value: float) -> int:
        if not -120.0 <= value <= 0.0:
            return -1
        self.onset_db = value
        return 0

    @torch.jit.export
    def get_choke(self) -> bool:
        return self.choke

    @torch.jit.export
    def set_choke(self, value: bool) -> int:
        self.choke = value
        return 0

    # ---- one-shot methods for LibTorch hosts ------------------------------------------------------

    @torch.jit.export
    def generate(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """z Tensor[B, d] + class weights Tensor[B, C] -> hits Tensor[B, model_length] at ``model_sr``
        (Session.generate's)."""
        return self.decoder(z, labels)

    @torch.jit.export
    def analyze(self, wave: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Clips Tensor[B, model_length] at ``model_sr`` -> (z Tensor[B, d], class weights Tensor[B, C])."""
        return self.encoder(wave)

    @torch.jit.export
    def resample(self, x: torch.Tensor, n_out: int) -> torch.Tensor:
        """Hits Tensor[B, n] -> Tensor[B, n_out]: the same duration at the rate ``n_out / n`` times as high.

        Band-limited: the spectrum of the hit, zero-padded to twice its length so that its tail cannot
        wrap onto its attack, is cut (or padded) at the new Nyquist frequency and inverted; exact for
        ``n_out == n``.
        """
        n_in = x.shape[-1]
        if n_out == n_in:
            return x
        spectrum = torch.fft.rfft(x, n=2 * n_in)
        bins = n_out + 1
        if bins <= spectrum.shape[-1]:
            spectrum = spectrum[..., :bins]
        else:
            # the old Nyquist bin stands for both of its aliases: half of it on each side, as in
            # scipy.signal.resample, keeps the padded spectrum that of a real, band-limited signal
            top = spectrum.shape[-1] - 1
            spectrum = torch.cat([spectrum[..., :top], spectrum[..., top:] * 0.5], dim=-1)
            spectrum = torch.nn.functional.pad(spectrum, [0, bins - spectrum.shape[-1]])
        return torch.fft.irfft(spectrum, n=2 * n_out)[..., :n_out] * (n_out / n_in)

    # ---- streaming methods for nn~ ----------------------------------------------------------------

    def _reset_decode(self, batch: int) -> None:
        if self.dec_tail.shape[0] != batch:
            self.dec_tail = torch.zeros(batch, self.length)
            self.dec_last = torch.zeros(batch)

    def _reset_encode(self, batch: int) -> None:
        if self.enc_clip.shape[0] != batch:
            self.enc_clip = torch.zeros(batch, self.length)
            self.enc_pos = torch.full((batch,), -1, dtype=torch.long)
            self.enc_armed = torch.ones(batch, dtype=torch.bool)
            self.enc_code = torch.zeros(batch, self.latent_size + self.n_classes)

    @torch.jit.export
    def decode(self, x: torch.Tensor) -> torch.Tensor:
        """Trigger + z + class weights Tensor[B, 1 + d + C, F] -> hits Tensor[B, 1, F * ratio]."""
        batch, frames = x.shape[0], x.shape[2]
        self._reset_decode(batch)
        if frames == 0:
            return torch.zeros(batch, 1, 0)
        x = torch.nan_to_num(x.float())
        ratio, length, d = self.ratio, self.length, self.latent_size
        trigger = x[:, 0]
        previous = torch.cat([self.dec_last[:, None], trigger[:, :-1]], dim=1)
        fired = torch.nonzero((trigger > 0.5) & (previous <= 0.5))      # [K, 2] (row, frame), time order
        out = torch.zeros(batch, frames * ratio + length)
        out[:, :length] = self.dec_tail
        if fired.shape[0] > 0:
            codes = x.permute(0, 2, 1)[fired[:, 0], fired[:, 1]].clamp(-self.latent_limit, self.latent_limit)
            hits = self.resample(torch.nan_to_num(self.decoder(codes[:, 1:1 + d], codes[:, 1 + d:])), length)
            for k in range(hits.shape[0]):
                row, start = int(fired[k, 0]), int(fired[k, 1]) * ratio
                if self.choke:
                    out[row, start:] = 0.0
                out[row, start:start + length] += hits[k]
        self.dec_tail = out[:, frames * ratio:].clone()
        self.dec_last = trigger[:, -1].clone()
        return out[:, None, :frames * ratio]

    @torch.jit.export
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Audio Tensor[B, 1, N] -> trigger pulse + held z + class weights Tensor[B, 1 + d + C, N / ratio]."""
        if not self.has_encoder:
            raise RuntimeError("this model has no encoder")
        batch, ratio = x.shape[0], self.ratio
        frames = x.shape[2] // ratio
        self._reset_encode(batch)
        audio = torch.nan_to_num(x[:, 0, :frames * ratio].float())
        threshold = 10.0 ** (self.onset_db / 20.0)
        out = torch.zeros(batch, 1 + self.latent_size + self.n_classes, frames)
        for row in range(batch):
            for f in range(frames):
                block = audio[row, f * ratio:(f + 1) * ratio]
                start = 0
                pos = int(self.enc_pos[row])
                if pos < 0:
                    loud = torch.nonzero(block.abs() > threshold)
                    if not bool(self.enc_armed[row]):
                        if loud.shape[0] == 0:
                            self.enc_armed[row] = True    # a quiet frame: ready for the next onset
                    elif loud.shape[0] > 0:
                        start, pos = int(loud[0, 0]), 0
                        self.enc_armed[row] = False
                if pos >= 0:
                    take = min(ratio - start, self.length - pos)
                    self.enc_clip[row, pos:pos + take] = block[start:start + take]
                    pos += take
                    if pos == self.length:
                        z, labels = self.encoder(self.resample(self.enc_clip[row:row + 1], self.model_length))
                        self.enc_code[row] = torch.cat([z[0], labels[0]])
                        out[row, 0, f] = 1.0
                        pos = -1
                    self.enc_pos[row] = pos
                out[row, 1:, f] = self.enc_code[row]
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Audio Tensor[B, 1, N] -> the model's replay of every hit in it, Tensor[B, 1, N]."""
        return self.decode(self.encode(x))


def check_ratio(ratio: int) -> int:
    """``ratio`` if it is a power of two in 1..MAX_RATIO (nn~'s buffers are powers of two)."""
    if isinstance(ratio, bool) or not isinstance(ratio, int) or not 1 <= ratio <= MAX_RATIO or ratio & (ratio - 1):
        raise DrumsynthError(f"ratio must be a power of two between 1 and {MAX_RATIO}, got {ratio!r}")
    return ratio


def check_host_sr(sr: int | None) -> int | None:
    """``sr`` if it is None (the model's rate) or a rate in 8000..192000 Hz."""
    if sr is not None and (isinstance(sr, bool) or not isinstance(sr, int) or not 8000 <= sr <= 192000):
        raise DrumsynthError(f"the host sample rate must be an integer in 8000..192000 Hz, got {sr!r}")
    return sr


def scripted_module(session: Session, graphs: dict[str, torch.nn.Module], z: torch.Tensor, labels: torch.Tensor,
                    ratio: int = DEFAULT_RATIO, host_sr: int | None = None) -> torch.jit.ScriptModule:
    """Trace the graphs on the example inputs and script the nn~ wrapper around them."""
    ratio, host_sr = check_ratio(ratio), check_host_sr(host_sr)
    with quiet(), torch.no_grad():
        decoder = torch.jit.trace(graphs["decode"].eval(), (z, labels), check_trace=False)
        encoder = None
        if "encode" in graphs:
            clips = graphs["decode"](z[:2], labels[:2])
            encoder = torch.jit.trace(graphs["encode"].eval(), (clips,), check_trace=False)
        model = session.model
        wrapper = NNTildeModule(decoder, encoder, latent_dim=model.latent_dim, classes=list(session.classes),
                                sample_rate=model.sample_rate, length=model.length, ratio=ratio, host_sr=host_sr)
        return torch.jit.script(wrapper.eval())


def torchscript_bytes(module: torch.jit.ScriptModule, record: bytes) -> bytes:
    """The ``.ts`` file of a scripted module with the metadata ``record`` inside."""
    buffer = io.BytesIO()
    with quiet():  # torch 2.13 deprecates TorchScript, but nn~ and LibTorch hosts load nothing else
        torch.jit.save(module, buffer, _extra_files={EMBEDDED_NAME: record})
    return buffer.getvalue()
