"""Reload an exported model the way a host would, in a fresh interpreter: ``python -I reload.py FORMAT FILE IN OUT``.

Run as a script by :mod:`drumsynth.export.verify`; it imports only numpy and the format's runtime
(torch for ``.ts`` and ``.pt2``, onnxruntime for ``.onnx``), never drumsynth, so a passing check shows
the file stands alone. ``IN`` is an ``.npz`` with ``z`` [n, d] and ``labels`` [n, C]; ``OUT`` gets
``wave`` [n, length] (and for TorchScript ``stream``: the same hits played through nn~'s calling
convention) plus ``OUT.json`` with what the host saw (methods, attributes, shapes, imported modules).
"""

import json
import sys

import numpy as np

# nn~'s buffer size (its default) and where the trigger rises: frame 3, so the hit starts mid-buffer.
NN_BUFFER = 4096
TRIGGER_FRAME = 3


def nn_tilde_call(model, method, signals):
    """One nn~ perform: signals [B, in_dim, N] audio-rate inlets -> outlets [B, out_dim, N].

    As nn~'s backend does it: keep the last sample of every ``in_ratio`` block, call the method, hold each
    output frame for ``out_ratio`` samples.
    """
    in_dim, in_ratio, out_dim, out_ratio = [int(v) for v in getattr(model, f"{method}_params")]
    batch, _, n = signals.shape
    frames = signals.reshape(batch, in_dim, -1, in_ratio).select(-1, -1)
    out = getattr(model, method)(frames)
    return out.repeat_interleave(out_ratio, dim=-1).reshape(batch, out_dim, -1)


def stream_decode(torch, model, z, labels):
    """Every (z, labels) row played as one trigger through ``decode`` in nn~ buffers -> [n, length]
    (``length`` at the module's ``sr``), with the largest sample before the trigger and after the hit."""
    d, ratio, length = z.shape[1], int(model.decode_params[1]), int(model.length)
    start = TRIGGER_FRAME * ratio
    n_buffers = -(-(start + length) // NN_BUFFER) + 1
    total = n_buffers * NN_BUFFER
    signals = torch.zeros(len(z), int(model.decode_params[0]), total)
    signals[:, 0, start:] = 1.0
    signals[:, 1:1 + d] = torch.from_numpy(z)[:, :, None]
    signals[:, 1 + d:] = torch.from_numpy(labels)[:, :, None]
    out = [nn_tilde_call(model, "decode", signals[..., i:i + NN_BUFFER]) for i in range(0, total, NN_BUFFER)]
    played = torch.cat(out, dim=-1)[:, 0]
    return played[:, start:start + length], float(played[:, :start].abs().max()), \
        float(played[:, start + length:].abs().max())


def torchscript_facts(torch, model):
    """What nn~ reads from the file: methods with their params and labels, attributes with their types."""
    methods = {}
    for name in model.get_methods():
        params = [int(v) for v in getattr(model, f"{name}_params")]
        entry = {"params": params, "input_labels": list(getattr(model, f"{name}_input_labels")),
                 "output_labels": list(getattr(model, f"{name}_output_labels")), "registration": []}
        # nn_tilde's own registration test: zeros of 8192 samples, single and 4-row (mc.nn~) batches
        for batch in (1, 4):
            y = getattr(model, name)(torch.zeros(batch, params[0], 8192 // params[1]))
            entry["registration"].append({"batch": batch, "shape": list(y.shape), "dtype": str(y.dtype)})
        methods[name] = entry
    attributes = {}
    for name in model.get_attributes():
        value = getattr(model, f"get_{name}")()
        attributes[name] = {"types": [int(v) for v in getattr(model, f"{name}_params")], "value": value,
                            "set_same": getattr(model, f"set_{name}")(value)}
    return {"methods": methods, "attributes": attributes, "sr": int(model.sr), "model_sr": int(model.model_sr),
            "sampling_rate": int(model.sampling_rate), "latent_size": int(model.latent_size),
            "length": int(model.length)}


def run_torchscript(path, z, labels, facts):
    import torch

    extra = {"drumsynth.json": ""}
    model = torch.jit.load(path, map_location="cpu", _extra_files=extra)
    model.eval()
    facts["embedded"] = json.loads(extra["drumsynth.json"])
    with torch.no_grad():
        facts.update(torchscript_facts(torch, model))
        wave = model.generate(torch.from_numpy(z), torch.from_numpy(labels))
        stream, before, after = stream_decode(torch, model, z, labels)
    facts["stream_silent_before"], facts["stream_silent_after"] = before, after
    return {"wave": wave.numpy(), "stream": stream.numpy()}


def run_pt2(path, z, labels, facts):
    import torch

    extra = {"drumsynth.json": ""}
    program = torch.export.load(path, extra_files=extra)
    facts["embedded"] = json.loads(extra["drumsynth.json"])
    with torch.no_grad():
        wave = program.module()(torch.from_numpy(z), torch.from_numpy(labels))
    return {"wave": wave.numpy()}


def run_onnx(path, z, labels, facts):
    import onnxruntime

    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    facts["inputs"] = {i.name: {"shape": list(i.shape), "type": i.type} for i in session.get_inputs()}
    facts["outputs"] = {o.name: {"shape": list(o.shape), "type": o.type} for o in session.get_outputs()}
    facts["embedded"] = json.loads(session.get_modelmeta().custom_metadata_map["drumsynth.json"])
    (wave,) = session.run(["wave"], {"z": z, "labels": labels})
    return {"wave": wave}


RUNNERS = {"torchscript": run_torchscript, "pt2": run_pt2, "onnx": run_onnx}


def main(argv):
    fmt, path, inputs, outputs = argv
    data = np.load(inputs)
    facts = {}
    arrays = RUNNERS[fmt](path, data["z"].astype(np.float32), data["labels"].astype(np.float32), facts)
    facts["imported"] = {name: name in sys.modules for name in ("drumsynth", "torch", "onnxruntime")}
    np.savez(outputs, **arrays)
    with open(outputs + ".json", "w") as fh:
        json.dump(facts, fh, default=str)


if __name__ == "__main__":
    main(sys.argv[1:])
