"""Reading SoundFont 2 files directly (RIFF parsing with struct and numpy, no external library).

Enough of the format to find which sample plays on which key of which preset, and to read that sample's
PCM. The sample data (``smpl``, 16-bit little-endian, optionally refined by ``sm24``) is memory-mapped,
so a 140 MB SoundFont costs only the pages of the samples actually read.

Layout of an SF2 file (SoundFont 2.04 specification)::

    RIFF 'sfbk'
      LIST 'INFO'  ifil, INAM, IENG, ICOP, ... (zero-terminated strings)
      LIST 'sdta'  smpl (int16 [N]), sm24 (uint8 [N], optional low byte)
      LIST 'pdta'  phdr pbag pmod pgen inst ibag imod igen shdr (fixed-size records, each list ends
                   with a terminal record)

A preset is a list of preset zones; each zone names an instrument and may narrow the key and velocity
ranges; an instrument is a list of zones, each naming a sample with its own key/velocity ranges and
address offsets. The first zone of a preset or instrument is *global* when it lacks the terminal
generator (``instrument`` or ``sampleID``): its ranges are the defaults of the other zones.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from drumsynth.errors import DrumsynthError

# Generator operators used here (SF2 spec §8.1.2).
GEN_START_OFFSET = 0
GEN_END_OFFSET = 1
GEN_START_COARSE = 4
GEN_END_COARSE = 12
GEN_INSTRUMENT = 41
GEN_KEY_RANGE = 43
GEN_VEL_RANGE = 44
GEN_SAMPLE_ID = 53
GEN_SAMPLE_MODES = 54  # 0 no loop, 1 continuous loop, 3 loop until release
GEN_ROOT_KEY = 58
RANGE_GENERATORS = (GEN_KEY_RANGE, GEN_VEL_RANGE)

# sampleType bits.
SAMPLE_MONO, SAMPLE_RIGHT, SAMPLE_LEFT, SAMPLE_LINKED, SAMPLE_ROM = 1, 2, 4, 8, 0x8000

PERCUSSION_BANK = 128

_PHDR = struct.Struct("<20sHHHIII")     # 38 bytes
_BAG = struct.Struct("<HH")             # 4 bytes
_GEN = struct.Struct("<HH")             # 4 bytes (amount read raw, interpreted per operator)
_INST = struct.Struct("<20sH")          # 22 bytes
_SHDR = struct.Struct("<20sIIIIIBbHH")  # 46 bytes


@dataclass(frozen=True)
class SampleHeader:
    """One ``shdr`` record; ``start``/``end`` index the ``smpl`` chunk in sample frames."""

    index: int
    name: str
    start: int
    end: int
    loop_start: int
    loop_end: int
    sample_rate: int
    original_pitch: int
    pitch_correction: int
    link: int
    type: int

    @property
    def is_rom(self) -> bool:
        return bool(self.type & SAMPLE_ROM)

    @property
    def is_stereo_half(self) -> bool:
        return bool(self.type & (SAMPLE_LEFT | SAMPLE_RIGHT))


@dataclass(frozen=True)
class Zone:
    """A playable region: one instrument zone as reached through one preset zone.

    ``start``/``end`` are absolute frame indices into ``smpl`` after the zone's address offsets.
    """

    preset: str
    bank: int
    program: int
    instrument: str
    sample: int
    key_lo: int
    key_hi: int
    vel_lo: int
    vel_hi: int
    start: int
    end: int
    root_key: int | None = None
    sample_modes: int = 0

    @property
    def keys(self) -> range:
        return range(self.key_lo, self.key_hi + 1)

    @property
    def looped(self) -> bool:
        """The synthesizer loops this sample (sampleModes 1 or 3) instead of playing it once."""
        return self.sample_modes & 1 == 1


@dataclass
class Preset:
    """A preset header with its resolved zones."""

    name: str
    bank: int
    program: int
    zones: list[Zone] = field(default_factory=list)


@dataclass
class _RawZone:
    """Generators of one bag: {operator: raw 16-bit amount}, in file order."""

    gens: dict[int, int]

    def range(self, op: int, default: tuple[int, int]) -> tuple[int, int]:
        """A key/velocity range generator as (lo, hi); the default when absent."""
        if op not in self.gens:
            return default
        raw = self.gens[op]
        return raw & 0xFF, (raw >> 8) & 0xFF

    def signed(self, op: int, default: int = 0) -> int:
        """A signed 16-bit generator amount."""
        if op not in self.gens:
            return default
        raw = self.gens[op]
        return raw - 0x10000 if raw >= 0x8000 else raw


def _cstr(raw: bytes) -> str:
    """A fixed-size, zero-padded name field -> str (latin-1: SF2 names are 8-bit ASCII)."""
    return raw.split(b"\0", 1)[0].decode("latin-1").strip()


def _intersect(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int] | None:
    lo, hi = max(a[0], b[0]), min(a[1], b[1])
    return (lo, hi) if lo <= hi else None


class SoundFont:
    """A parsed SoundFont 2 file; sample data stays on disk (memory-mapped) until read."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.info: dict[str, str] = {}
        self._chunks: dict[str, tuple[int, int]] = {}  # id -> (data offset, size)
        self._pdta: dict[str, bytes] = {}
        try:
            with self.path.open("rb") as fh:
                self._walk(fh)
        except OSError as err:
            raise DrumsynthError(f"cannot read SoundFont {self.path}: {err}") from err
        except struct.error as err:
            raise DrumsynthError(f"SoundFont {self.path} is truncated or malformed: {err}") from err
        if "smpl" not in self._chunks:
            raise DrumsynthError(f"SoundFont {self.path} has no sample data (smpl chunk)")
        for name in ("phdr", "pbag", "pgen", "inst", "ibag", "igen", "shdr"):
            if name not in self._pdta:
                raise DrumsynthError(f"SoundFont {self.path} lacks the {name!r} chunk")
        self.samples = self._parse_samples()
        self._inst_zones = self._parse_zones("inst", "ibag", "igen", _INST, name_field=0, bag_field=1)
        self.presets = self._parse_presets()
        self._smpl: np.ndarray | None = None
        self._sm24: np.ndarray | None = None

    # ---------------------------------------------------------------- RIFF walking
    def _walk(self, fh) -> None:
        """Record the offsets of every chunk; read the small ``INFO`` and ``pdta`` chunks."""
        head = fh.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"sfbk":
            raise DrumsynthError(f"{self.path} is not a SoundFont 2 file (no RIFF 'sfbk' header)")
        riff_size = struct.unpack("<I", head[4:8])[0]
        file_end = min(8 + riff_size, self.path.stat().st_size)
        self._walk_list(fh, 12, file_end, parent="sfbk")

    def _walk_list(self, fh, pos: int, end: int, parent: str) -> None:
        while pos + 8 <= end:
            fh.seek(pos)
            cid, size = struct.unpack("<4sI", fh.read(8))
            cid = cid.decode("latin-1")
            data = pos + 8
            if data + size > end:
                # Some files declare a chunk a few bytes past the end; keep what is there.
                size = max(0, end - data)
            if cid == "LIST":
                kind = fh.read(4).decode("latin-1")
                self._walk_list(fh, data + 4, data + size, parent=kind)
            elif parent == "INFO":
                self.info[cid] = fh.read(size).split(b"\0", 1)[0].decode("latin-1").strip()
            elif parent == "pdta":
                self._pdta[cid] = fh.read(size)
            else:
                self._chunks[cid] = (data, size)
            pos = data + size + (size & 1)  # chunks are word-aligned

    # ---------------------------------------------------------------- hydra
    def _records(self, name: str, fmt: struct.Struct) -> list[tuple]:
        raw = self._pdta[name]
        n = len(raw) // fmt.size
        return [fmt.unpack_from(raw, i * fmt.size) for i in range(n)]

    def _parse_samples(self) -> list[SampleHeader]:
        rows = self._records("shdr", _SHDR)[:-1]  # last is the terminal 'EOS'
        return [SampleHeader(i, _cstr(r[0]), *r[1:]) for i, r in enumerate(rows)]

    def _parse_zones(self, hdr: str, bag: str, gen: str, fmt: struct.Struct, *, name_field: int,
                     bag_field: int) -> list[tuple[str, list[_RawZone]]]:
        """[(name, zones)] for every instrument (or preset) header, zones in file order."""
        headers = self._records(hdr, fmt)
        bags = self._records(bag, _BAG)
        gens = self._records(gen, _GEN)
        out = []
        for h, h_next in zip(headers[:-1], headers[1:], strict=True):
            zones = []
            for b in range(h[bag_field], min(h_next[bag_field], len(bags) - 1)):
                g0, g1 = bags[b][0], bags[b + 1][0]
                zones.append(_RawZone({op: amt for op, amt in gens[g0:min(g1, len(gens))]}))
            out.append((_cstr(h[name_field]), zones))
        return out

    def _parse_presets(self) -> list[Preset]:
        headers = self._records("phdr", _PHDR)
        raw = self._parse_zones("phdr", "pbag", "pgen", _PHDR, name_field=0, bag_field=3)
        presets = []
        for (name, zones), h in zip(raw, headers[:-1], strict=True):
            preset = Preset(name=name, bank=h[2], program=h[1])
            preset.zones = self._resolve_preset(preset, zones)
            presets.append(preset)
        return presets

    def _resolve_preset(self, preset: Preset, zones: list[_RawZone]) -> list[Zone]:
        """Preset zones x instrument zones -> playable ``Zone``s (ranges intersected)."""
        full = (0, 127)
        p_global = zones[0] if zones and GEN_INSTRUMENT not in zones[0].gens else None
        p_keys0 = p_global.range(GEN_KEY_RANGE, full) if p_global else full
        p_vels0 = p_global.range(GEN_VEL_RANGE, full) if p_global else full
        out = []
        for pz in zones:
            if GEN_INSTRUMENT not in pz.gens:
                continue
            inst_index = pz.gens[GEN_INSTRUMENT]
            if inst_index >= len(self._inst_zones):
                continue  # dangling reference: skip, as synthesizers do
            inst_name, izones = self._inst_zones[inst_index]
            i_global = izones[0] if izones and GEN_SAMPLE_ID not in izones[0].gens else None
            i_keys0 = i_global.range(GEN_KEY_RANGE, full) if i_global else full
            i_vels0 = i_global.range(GEN_VEL_RANGE, full) if i_global else full
            p_keys = pz.range(GEN_KEY_RANGE, p_keys0)
            p_vels = pz.range(GEN_VEL_RANGE, p_vels0)
            for iz in izones:
                if GEN_SAMPLE_ID not in iz.gens:
                    continue
                s = iz.gens[GEN_SAMPLE_ID]
                if s >= len(self.samples):
                    continue
                keys = _intersect(p_keys, iz.range(GEN_KEY_RANGE, i_keys0))
                vels = _intersect(p_vels, iz.range(GEN_VEL_RANGE, i_vels0))
                if keys is None or vels is None:
                    continue
                out.append(self._zone(preset, inst_name, s, keys, vels, iz, i_global))
        return out

    def _zone(self, preset: Preset, inst_name: str, s: int, keys: tuple[int, int], vels: tuple[int, int],
              iz: _RawZone, i_global: _RawZone | None) -> Zone:
        """One resolved zone; address offsets come from the instrument level only (spec §8.1.3)."""
        def gen(op: int) -> int:
            default = i_global.signed(op) if i_global else 0
            return iz.signed(op, default)
        sh = self.samples[s]
        start = sh.start + gen(GEN_START_OFFSET) + 32768 * gen(GEN_START_COARSE)
        end = sh.end + gen(GEN_END_OFFSET) + 32768 * gen(GEN_END_COARSE)
        root = gen(GEN_ROOT_KEY) if GEN_ROOT_KEY in iz.gens or (i_global and GEN_ROOT_KEY in i_global.gens) else -1
        return Zone(preset=preset.name, bank=preset.bank, program=preset.program, instrument=inst_name,
                    sample=s, key_lo=keys[0], key_hi=keys[1], vel_lo=vels[0], vel_hi=vels[1],
                    start=start, end=end, root_key=None if root < 0 else root,
                    sample_modes=gen(GEN_SAMPLE_MODES) & 3)

    # ---------------------------------------------------------------- sample data
    def _data(self) -> tuple[np.ndarray, np.ndarray | None]:
        """The memory-mapped ``smpl`` (int16 [N]) and ``sm24`` (uint8 [N]) chunks."""
        if self._smpl is None:
            off, size = self._chunks["smpl"]
            self._smpl = np.memmap(self.path, dtype="<i2", mode="r", offset=off, shape=(size // 2,))
            if "sm24" in self._chunks:
                off24, size24 = self._chunks["sm24"]
                # sm24 is valid only when it covers every smpl frame (spec §6.2).
                if size24 >= size // 2:
                    self._sm24 = np.memmap(self.path, dtype="u1", mode="r", offset=off24,
                                           shape=(size // 2,))
        return self._smpl, self._sm24

    def read_frames(self, start: int, end: int) -> np.ndarray:
        """Frames ``start:end`` of the sample pool as float32 [T] in [-1, 1] (24-bit when sm24 exists)."""
        smpl, sm24 = self._data()
        start, end = max(0, int(start)), min(len(smpl), int(end))
        if end <= start:
            raise DrumsynthError(f"SoundFont {self.path}: empty sample range {start}:{end}")
        hi = np.asarray(smpl[start:end], dtype=np.float32)
        if sm24 is None:
            return hi / 32768.0
        lo = np.asarray(sm24[start:end], dtype=np.float32)
        return (hi * 256.0 + lo) / 8388608.0

    def read_sample(self, index: int, start: int | None = None, end: int | None = None) -> np.ndarray:
        """Sample ``index`` as float32 [T]; ``start``/``end`` override its own bounds (absolute frames)."""
        sh = self.samples[index]
        if sh.is_rom:
            raise DrumsynthError(f"SoundFont {self.path}: sample {sh.name!r} lives in a ROM, not in the file")
        return self.read_frames(sh.start if start is None else start, sh.end if end is None else end)

    def stereo_partner(self, index: int) -> int | None:
        """The other half of a left/right sample, or ``None`` for mono samples.

        The ``sampleLink`` field when it is valid and reciprocal; otherwise (FluidR3 leaves every link
        at 0) a neighbouring sample of the opposite side with the same length and rate.
        """
        sh = self.samples[index]
        if not sh.is_stereo_half:
            return None
        if 0 <= sh.link < len(self.samples) and sh.link != index:
            other = self.samples[sh.link]
            if other.is_stereo_half and other.link == index:
                return sh.link
        side = sh.type & (SAMPLE_LEFT | SAMPLE_RIGHT)
        for j in (index + 1, index - 1) if side == SAMPLE_LEFT else (index - 1, index + 1):
            if 0 <= j < len(self.samples):
                other = self.samples[j]
                if (other.type & (SAMPLE_LEFT | SAMPLE_RIGHT)) not in (0, side) \
                        and other.end - other.start == sh.end - sh.start and other.sample_rate == sh.sample_rate:
                    return j
        return None

    def read_zone_mono(self, zone: Zone) -> tuple[np.ndarray, int]:
        """The zone's sample mixed down to mono with its stereo partner (if any).

        Returns (wave float32 [T], sample rate). The partner is read over its own bounds shifted by
        the same address offsets, and both halves are cut to the shorter length.
        """
        left = self.read_frames(zone.start, zone.end)
        partner = self.stereo_partner(zone.sample)
        if partner is not None:
            sh, other = self.samples[zone.sample], self.samples[partner]
            right = self.read_frames(other.start + (zone.start - sh.start), other.end + (zone.end - sh.end))
            n = min(len(left), len(right))
            left = 0.5 * (left[:n] + right[:n])
        return left, int(self.samples[zone.sample].sample_rate)

    def percussion_presets(self) -> list[Preset]:
        """Presets in the General MIDI percussion bank (128), ordered by program."""
        return sorted((p for p in self.presets if p.bank == PERCUSSION_BANK), key=lambda p: (p.program, p.name))


def read_sf2(path: str | Path) -> SoundFont:
    """Parse a SoundFont 2 file (see :class:`SoundFont`); bad files raise ``DrumsynthError``."""
    return SoundFont(path)


# ---------------------------------------------------------------------------- writer (tests, fixtures)
def write_sf2(path: str | Path, samples: list[tuple[str, np.ndarray, int]],
              presets: list[tuple[str, int, int, list[tuple[int, int, int, int, int]]]],
              info_name: str = "test") -> Path:
    """Write a minimal SoundFont 2 file (for tests and fixtures).

    samples : [(name, int16 [T], sample_rate)] mono samples
    presets : [(name, bank, program, zones)] with zones = [(sample_index, key_lo, key_hi, vel_lo, vel_hi)];
        each preset gets one instrument holding its zones.
    """
    def chunk(cid: bytes, data: bytes) -> bytes:
        pad = b"\0" if len(data) & 1 else b""
        return cid + struct.pack("<I", len(data)) + data + pad

    def lst(kind: bytes, body: bytes) -> bytes:
        return chunk(b"LIST", kind + body)

    def name20(s: str) -> bytes:
        return s.encode("latin-1")[:20].ljust(20, b"\0")

    pool, shdr, pos = [], b"", 0
    for name, pcm, sr in samples:
        pcm = np.asarray(pcm, dtype="<i2")
        pool.append(pcm.tobytes() + b"\0" * 92)  # 46 zero frames after each sample (spec)
        shdr += _SHDR.pack(name20(name), pos, pos + len(pcm), pos, pos + len(pcm), sr, 60, 0, 0, SAMPLE_MONO)
        pos += len(pcm) + 46
    shdr += _SHDR.pack(name20("EOS"), 0, 0, 0, 0, 0, 0, 0, 0, 0)

    phdr = pbag = pgen = inst = ibag = igen = b""
    n_pbag = n_pgen = n_ibag = n_igen = 0
    for i, (pname, bank, program, zones) in enumerate(presets):
        phdr += _PHDR.pack(name20(pname), program, bank, n_pbag, 0, 0, 0)
        pbag += _BAG.pack(n_pgen, 0)
        pgen += _GEN.pack(GEN_INSTRUMENT, i)
        n_pbag, n_pgen = n_pbag + 1, n_pgen + 1
        inst += _INST.pack(name20(f"{pname} inst"), n_ibag)
        for s, klo, khi, vlo, vhi in zones:
            ibag += _BAG.pack(n_igen, 0)
            igen += _GEN.pack(GEN_KEY_RANGE, klo | (khi << 8))
            igen += _GEN.pack(GEN_VEL_RANGE, vlo | (vhi << 8))
            igen += _GEN.pack(GEN_SAMPLE_ID, s)
            n_ibag, n_igen = n_ibag + 1, n_igen + 3
    phdr += _PHDR.pack(name20("EOP"), 0, 0, n_pbag, 0, 0, 0)
    pbag += _BAG.pack(n_pgen, 0)
    pgen += _GEN.pack(0, 0)
    inst += _INST.pack(name20("EOI"), n_ibag)
    ibag += _BAG.pack(n_igen, 0)
    igen += _GEN.pack(0, 0)
    mod = b"\0" * 10

    info = lst(b"INFO", chunk(b"ifil", struct.pack("<HH", 2, 1)) + chunk(b"INAM", info_name.encode() + b"\0"))
    sdta = lst(b"sdta", chunk(b"smpl", b"".join(pool)))
    pdta = lst(b"pdta", chunk(b"phdr", phdr) + chunk(b"pbag", pbag) + chunk(b"pmod", mod)
               + chunk(b"pgen", pgen) + chunk(b"inst", inst) + chunk(b"ibag", ibag) + chunk(b"imod", mod)
               + chunk(b"igen", igen) + chunk(b"shdr", shdr))
    body = b"sfbk" + info + sdta + pdta
    path = Path(path)
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path
