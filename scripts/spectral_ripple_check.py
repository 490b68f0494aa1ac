"""The mean spectral ripple (``drumsynth.nn.wave.spectral_ripple``: each band's mean absolute second difference
over 2.9 ms cells, dB) of generated hits per class, beside the training clips' (docs/drumgan.md, session 14).

usage: python scripts/spectral_ripple_check.py MODEL [MODEL ...]   (16 hits a class, seed 1; the 3-class
       training clips of data/corpus at the model's rate and length)
"""
import sys

import torch

from drumsynth.data.cache import load_cache
from drumsynth.data.dataset import DrumDataset
from drumsynth.inference.session import Session
from drumsynth.nn.wave import spectral_ripple


def main() -> None:
    torch.set_num_threads(2)
    sessions = [Session.load(spec) for spec in sys.argv[1:]]
    model = sessions[0].model
    clips = DrumDataset(load_cache("data/corpus"), "train", sr=model.sample_rate, length=model.length,
                        three_class=True)
    print("| model | " + " | ".join(clips.classes) + " |")
    print("|---|" + "---|" * len(clips.classes))
    real = [spectral_ripple(clips.waves[clips.labels == k][:, 0]).mean().item() for k in range(len(clips.classes))]
    print("| training clips | " + " | ".join(f"{v:.2f}" for v in real) + " |")
    for spec, session in zip(sys.argv[1:], sessions, strict=True):
        values = [spectral_ripple(torch.as_tensor(session.generate(c, n=16, seed=1).waves, dtype=torch.float32)).mean().item()
                  for c in clips.classes]
        print(f"| {spec} | " + " | ".join(f"{v:.2f}" for v in values) + " |")


if __name__ == "__main__":
    main()
