"""A kit as an SFZ instrument (sfizz, Sforzando, most DAW samplers): one ``<group>`` per velocity layer.

Each group holds one note's layer: ``key`` (which also sets ``pitch_keycenter``, so nothing is
transposed), ``lovel``/``hivel``, and ``seq_length`` with one ``<region>`` per round-robin sample at its
``seq_position``. The ``<global>`` header makes every sample a one-shot (``loop_mode=one_shot``: a
drum rings out whatever the note length) with the sampler's full velocity-to-level tracking
(``amp_veltrack=100``; the files themselves are peak-normalised, so loudness follows velocity in the
sampler). Where the kit has both, a closed or pedal hat chokes the open hat (``group``/``off_by``).
Sample paths are relative to the .sfz file, with forward slashes, as the format asks.
"""

from __future__ import annotations

from drumsynth.export.gm import CHOKED_BY_CLOSED_HAT, CLOSED_HATS
from drumsynth.export.kit_layout import KitLayout

OPEN_HAT_GROUP, CLOSED_HAT_GROUP = 1, 2


def _choke(note: int, notes: set[int]) -> list[str]:
    """SFZ exclusive-group opcodes for the hi-hat choke (none unless both hats are in the kit)."""
    if not (notes & CLOSED_HATS and notes & CHOKED_BY_CLOSED_HAT):
        return []
    if note in CHOKED_BY_CLOSED_HAT:
        return [f"group={OPEN_HAT_GROUP}", f"off_by={CLOSED_HAT_GROUP}"]
    if note in CLOSED_HATS:
        return [f"group={CLOSED_HAT_GROUP}"]
    return []


def sfz_text(kit: KitLayout, comments: list[str] = ()) -> str:
    """The .sfz file of ``kit``; ``comments`` become ``//`` lines at the top (provenance)."""
    notes = {ins.note for ins in kit.instruments}
    lines = [f"// {kit.name}", *(f"// {c}" for c in comments), "",
             "<control>", "// no default_path: sample= paths are relative to this file", "",
             "<global>", "loop_mode=one_shot", "amp_veltrack=100", ""]
    for ins in kit.instruments:
        layers = sorted({(s.layer, s.velocity) for s in ins.samples})
        lines.append(f"// {ins.note} {ins.name} ({ins.cls})")
        for layer, (lo, hi) in layers:
            lines += ["<group>", f"key={ins.note}", f"lovel={lo}", f"hivel={hi}",
                      f"seq_length={ins.round_robin}", *_choke(ins.note, notes)]
            for sample in sorted((s for s in ins.samples if s.layer == layer), key=lambda s: s.position):
                lines += ["<region>", f"sample={sample.file}", f"seq_position={sample.position}"]
        lines.append("")
    return "\n".join(lines)
