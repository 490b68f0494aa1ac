"""Labels for the free drum corpus: instrument/file names and General MIDI keys -> ``CLASSES``.

Two sources of truth, combined by the scanners in ``drumsynth.data.corpus``:

* **Names** (Hydrogen instrument names, file names, SoundFont sample names) go through ordered regular
  expression rules (:func:`label_from_name`); the first rule that matches wins, so the order encodes the
  decisions: non-drum or non-one-shot words exclude first ("loop", "roll", "fx", "whistle", ...), then
  hand percussion ("cowbell", "conga", "tabla", ...; checked before cymbals so "agogo bell" is perc),
  clap, hi-hats (open when "open"/"semi"/"half"/"swish" appear, else closed, pedal hats included),
  cymbals (crash, ride, china, splash, bell, cymbal brands), toms, snares (including rim shots and side
  sticks, as ``taxonomy.ALIASES`` maps "rim" to snare), kicks. Anything else is unlabelled and left out.
* **General MIDI percussion keys** (:data:`GM_KEY_CLASS`) for SoundFont zones and freepats patches.
  Keys that are not drum hits (metronome, whistles, scratches, snare roll, ...) map to ``None``.

Decisions (DESIGN.md §3 leaves them open):
  - side stick / rim shot (GM 37) -> snare (a snare-drum stroke; same rule as ``taxonomy.ALIASES``);
  - hand clap (GM 39) -> clap; finger snaps -> perc (one transient, not a clap's burst);
  - pedal hi-hat (GM 44) and choked hats -> hihat_closed; semi-open / half-open / swish -> hihat_open;
  - ride bell (GM 53) and bare "bell" in a drum kit -> cymbal; cowbell, agogo, bell tree -> perc;
  - "Stick" (Hydrogen's name for GM 37) -> snare; "Sticks" (GM 31, sticks clicked together) -> perc;
  - whistles, metronome, scratches, "High Q", square click, snare rolls, reverb tails -> excluded.
"""

from __future__ import annotations

import re

from drumsynth.data.taxonomy import CLASSES

# General MIDI (level 2) percussion key names, keys 27-87.
GM_KEY_NAMES: dict[int, str] = {
    25: "Snare Roll", 26: "Finger Snap", 27: "High Q", 28: "Slap", 29: "Scratch Push",
    30: "Scratch Pull", 31: "Sticks", 32: "Square Click", 33: "Metronome Click", 34: "Metronome Bell",
    35: "Acoustic Bass Drum", 36: "Bass Drum 1", 37: "Side Stick", 38: "Acoustic Snare", 39: "Hand Clap",
    40: "Electric Snare", 41: "Low Floor Tom", 42: "Closed Hi-Hat", 43: "High Floor Tom",
    44: "Pedal Hi-Hat", 45: "Low Tom", 46: "Open Hi-Hat", 47: "Low-Mid Tom", 48: "Hi-Mid Tom",
    49: "Crash Cymbal 1", 50: "High Tom", 51: "Ride Cymbal 1", 52: "Chinese Cymbal", 53: "Ride Bell",
    54: "Tambourine", 55: "Splash Cymbal", 56: "Cowbell", 57: "Crash Cymbal 2", 58: "Vibraslap",
    59: "Ride Cymbal 2", 60: "Hi Bongo", 61: "Low Bongo", 62: "Mute Hi Conga", 63: "Open Hi Conga",
    64: "Low Conga", 65: "High Timbale", 66: "Low Timbale", 67: "High Agogo", 68: "Low Agogo",
    69: "Cabasa", 70: "Maracas", 71: "Short Whistle", 72: "Long Whistle", 73: "Short Guiro",
    74: "Long Guiro", 75: "Claves", 76: "Hi Wood Block", 77: "Low Wood Block", 78: "Mute Cuica",
    79: "Open Cuica", 80: "Mute Triangle", 81: "Open Triangle", 82: "Shaker", 83: "Jingle Bell",
    84: "Belltree", 85: "Castanets", 86: "Mute Surdo", 87: "Open Surdo",
}

_KEY_GROUPS = {
    "kick": (35, 36),
    "snare": (37, 38, 40),
    "clap": (39,),
    "hihat_closed": (42, 44),
    "hihat_open": (46,),
    "cymbal": (49, 51, 52, 53, 55, 57, 59),
    "tom": (41, 43, 45, 47, 48, 50),
    "perc": (26, 28, 31, 54, 56, 58, *range(60, 71), *range(73, 88)),
}
# Key -> class; keys absent here (25, 27, 29, 30, 32-34, 71, 72, < 25, > 87) are not drum one-shots.
GM_KEY_CLASS: dict[int, str] = {k: c for c, keys in _KEY_GROUPS.items() for k in keys}


def gm_key_class(key: int) -> str | None:
    """The class of a General MIDI percussion key, ``None`` for keys that are not drum one-shots."""
    return GM_KEY_CLASS.get(int(key))


def gm_key_name(key: int) -> str:
    """The General MIDI name of a percussion key ("key 90" outside the table)."""
    return GM_KEY_NAMES.get(int(key), f"key {int(key)}")


def normalise_name(text: str) -> str:
    """Name -> lower-case words separated by single spaces, with CamelCase and letter/digit splits.

    ``"HiHatClosed-1"`` -> ``" hi hat closed 1 "`` (padded with spaces so ``\\b`` rules see the ends).
    """
    text = re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", text)  # CamelCase, "HHClosed"
    text = re.sub(r"(?<=[A-Za-z])(?=[0-9])|(?<=[0-9])(?=[A-Za-z])", " ", text)
    text = re.sub(r"[^a-z0-9]+", " ", text.lower())
    return f" {text.strip()} "


# Ordered rules: (label or None for "excluded", reason, pattern on normalise_name()).
EXCLUDE = None
_RULES: list[tuple[str | None, str, str]] = [
    (EXCLUDE, "not a one-shot", r"\b(loops?|rolls?|fill|groove|verb|reverb|swirl)\b"),
    (EXCLUDE, "not a drum", r"\b(guitar|guit|strum|vocals?|vox|voice|choir|fx|sfx|effects?|zap|laser|"
                            r"scratch|whistle|metronome|met|sinetick|vinyl|applause|crowd|ambi|drone|"
                            r"noise|sweep|riser|carillon|piano|organ|synth|waves?|laugh\w*|scream\w*|"
                            r"doors?|creak\w*|chimes?|helicopter|car|ocean|punch|steps?|gun|bird|rain|"
                            r"brook|train|jet|ufo|siren|horse|bubbles?|phone|robot|burp|crow)\b"),
    ("perc", "hand percussion", r"cow ?bell|tamb|tombourine|shaker?s?\b|\bshake|conga|bongo|\bclav(e|es)?\b|"
                                r"cajon|maraca|agogo|djembe|sangban|dununba|kenkeni|wood ?block|\bwood\b|"
                                r"triangle|guiro|cabasa|timbale|cuica|quica|vibra|bell ?tree|sleigh|jingle|"
                                r"castanet|tabla|water ?glass|\bsnaps?\b|\bsticks\b|drum stick|\bslap\b|surdo|"
                                r"taiko|tumba|quinto|timpani|\btimp\b|\bperc\b|percussion|\bgong\b"),
    ("clap", "clap", r"clap"),
    ("hihat_open", "open hi-hat", r"(\bhi ?hat|\bhihat|\bhigh hat|\bhh|\bhats?\b).*(open|\bop\b|semi|half|swish|"
                                  r"\bswis|\bsw\b)|(open|\bop\b|semi|half).*(\bhi ?hat|\bhihat|\bhats?\b|\bhh\b)|"
                                  r"\bohh\b|\bhho\b"),
    ("hihat_closed", "hi-hat", r"\bhi ?hat|\bhihat|\bhigh hat|\bhh|\bhats?\b|\bchh\b"),
    ("cymbal", "cymbal", r"crash|crsh|ride|china|chinese|splash|cymbal|\bcymb?\b|\bbell\b|\bcup\b|"
                         r"paiste|zildjian|sabian|meinl|ufip|bosphorus|istanbul"),
    ("tom", "tom", r"\btoms?\b|\btom(hi|lo|low|mid|high)|floor ?tom|\bfloor\b|\bflr\b"),
    ("snare", "snare", r"snare|\bsnr\b|\bsd\b|\bsn\b|\brim|side ?stick|\bstick\b"),
    ("kick", "kick", r"kick|\bkik\b|bass ?drum|bassdrum|\bbd\b|\bkd\b"),
]
_COMPILED = [(label, reason, re.compile(pattern)) for label, reason, pattern in _RULES]


def match_name(text: str) -> tuple[str | None, str]:
    """(label, reason) for a name; label ``None`` with reason "unlabelled" when no rule matches.

    A matched exclusion rule also gives label ``None``, with its reason ("not a drum", ...).
    """
    norm = normalise_name(text)
    for label, reason, pattern in _COMPILED:
        if pattern.search(norm):
            return label, reason
    return None, "unlabelled"


def label_from_name(text: str) -> str | None:
    """The class a name implies (see the module docstring), or ``None`` (excluded or unknown)."""
    return match_name(text)[0]


def is_excluded_name(text: str) -> bool:
    """True when a name matches one of the exclusion rules (loops, rolls, non-drum sounds)."""
    label, reason = match_name(text)
    return label is None and reason != "unlabelled"


def strip_words(name: str, words: str) -> str:
    """``name`` without the (case-insensitive) words of ``words`` (e.g. a kit name repeated in each
    instrument name, which could trigger a rule: "VariBreaks Kick" must not read as "breaks")."""
    drop = {w for w in normalise_name(words).split() if len(w) > 2}
    kept = [w for w in normalise_name(name).split() if w not in drop]
    return " ".join(kept)


# Sonic Pi ships named samples; drum one-shots are listed explicitly (the names are a fixed API of Sonic
# Pi), everything else there (loops, ambient, bass, guitar, glitch, vinyl, ...) is left out.
SONIC_PI_LABELS: dict[str, str] = {
    **{n: "kick" for n in ("drum_bass_hard", "drum_bass_soft", "drum_heavy_kick", "elec_soft_kick",
                           "elec_hollow_kick", "bd_808", "bd_ada", "bd_boom", "bd_fat", "bd_gas", "bd_haus",
                           "bd_klub", "bd_mehackit", "bd_pure", "bd_sone", "bd_tek", "bd_zome", "bd_zum")},
    **{n: "snare" for n in ("drum_snare_hard", "drum_snare_soft", "elec_snare", "elec_lo_snare",
                            "elec_hi_snare", "elec_mid_snare", "elec_filt_snare", "sn_dolf", "sn_dub",
                            "sn_generic", "sn_zome")},
    **{n: "hihat_closed" for n in ("drum_cymbal_closed", "drum_cymbal_pedal")},
    "drum_cymbal_open": "hihat_open",
    **{n: "cymbal" for n in ("drum_cymbal_hard", "drum_cymbal_soft", "drum_splash_hard", "drum_splash_soft",
                             "elec_cymbal")},
    **{n: "tom" for n in ("drum_tom_hi_hard", "drum_tom_hi_soft", "drum_tom_lo_hard", "drum_tom_lo_soft",
                          "drum_tom_mid_hard", "drum_tom_mid_soft", "elec_fuzz_tom")},
    **{n: "perc" for n in ("drum_cowbell", "elec_triangle", "elec_wood", "perc_snap", "perc_snap2")},
}
SONIC_PI_PERC_PREFIXES = ("tabla_",)  # tabla strokes: tuned hand-drum hits -> perc

# STK rawwaves that are drum hits (as used by STK's Drummer instrument), by file stem.
STK_LABELS: dict[str, str] = {
    "bassdrum": "kick", "snardrum": "snare", "hihatcym": "hihat_closed", "crashcym": "cymbal",
    "ridecymb": "cymbal", "tomhidrm": "tom", "tommiddr": "tom", "tomlowdr": "tom", "cowbell1": "perc",
    "tambourn": "perc",
}


def sonic_pi_label(stem: str) -> str | None:
    """Class of a Sonic Pi sample (file stem), ``None`` when it is not a drum one-shot."""
    if stem in SONIC_PI_LABELS:
        return SONIC_PI_LABELS[stem]
    if stem.startswith(SONIC_PI_PERC_PREFIXES):
        return "perc"
    return None


assert set(GM_KEY_CLASS.values()) <= set(CLASSES)
assert {label for label, _, _ in _RULES if label} <= set(CLASSES)
