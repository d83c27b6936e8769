"""Energy per operation: named profiles (with their sources) and user profiles from TOML.

A profile gives, in picojoules: `mac` (one multiply-accumulate of a float layer), `add` (one float
addition without a multiply, e.g. the FFT's), `ac` (one accumulate: a spike-driven synaptic
operation), `neuron_update` (one LIF state update per neuron and time step), and for the optional
memory column `sram_byte` and `dram_byte` (energy per byte read).

User profile (TOML), any subset of the keys, starting from a named profile:

    name = "my-chip"
    base = "45nm-fp32"        # optional, default 45nm-fp32
    mac = 3.0
    add = 0.5
    ac = 0.5
    neuron_update = 1.0
    sram_byte = 1.2
    dram_byte = 80.0
    source = "our measurements, 2026"
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

HOROWITZ = ("M. Horowitz, \"Computing's energy problem (and what we can do about it)\", ISSCC 2014, "
            "45 nm, 0.9 V: fp32 add 0.9 pJ, mult 3.7 pJ; fp16 add 0.4, mult 1.1; int8 add 0.03, mult 0.2; "
            "SRAM 64-bit read 10-100 pJ (8 KB-1 MB; 32 KB: 20 pJ); DRAM 64-bit 1.3-2.6 nJ")
DAVIES = ("M. Davies et al., \"Loihi: a neuromorphic manycore processor with on-chip learning\", IEEE Micro "
          "38(1), 2018, Table 1 (Loihi 1, 14 nm): synaptic spike operation 23.6 pJ (minimum), neuron update "
          "52 pJ (active), spike within a tile 1.7 pJ")


@dataclass(frozen=True)
class Profile:
    name: str
    mac: float  # pJ per multiply-accumulate
    add: float  # pJ per float addition (no multiply)
    ac: float  # pJ per accumulate (synaptic operation)
    neuron_update: float  # pJ per neuron and time step
    sram_byte: float  # pJ per byte read from on-chip SRAM
    dram_byte: float  # pJ per byte read from DRAM
    source: str

    def energy(self, counts) -> float:
        """pJ of anything with macs, float_adds, acs and neuron_updates (a LayerCount or its dict)."""
        get = counts.get if isinstance(counts, dict) else lambda key: getattr(counts, key)
        return (get("macs") * self.mac + get("float_adds") * self.add + get("acs") * self.ac
                + get("neuron_updates") * self.neuron_update)


# SRAM: Horowitz's 32 KB array, 20 pJ per 64-bit read = 2.5 pJ/byte; DRAM: the middle of his
# 1.3-2.6 nJ per 64-bit access = 1.95 nJ / 8 bytes = 244 pJ/byte. A LIF update on a 45 nm
# general-purpose datapath is one multiply-add (v + (x - v) / tau) plus one add: mac + ac.
PROFILES: dict[str, Profile] = {
    "45nm-fp32": Profile("45nm-fp32", mac=4.6, add=0.9, ac=0.9, neuron_update=4.6 + 0.9, sram_byte=2.5, dram_byte=244.0,
                         source=HOROWITZ + "; E_MAC = 3.7 + 0.9 = 4.6 pJ, E_AC = 0.9 pJ (the values of Yu et al., IJCAI 2025)"),
    "45nm-fp16": Profile("45nm-fp16", mac=1.5, add=0.4, ac=0.4, neuron_update=1.5 + 0.4, sram_byte=2.5, dram_byte=244.0,
                         source=HOROWITZ + "; E_MAC = 1.1 + 0.4 = 1.5 pJ, E_AC = 0.4 pJ"),
    "45nm-int8": Profile("45nm-int8", mac=0.23, add=0.03, ac=0.03, neuron_update=0.23 + 0.03, sram_byte=2.5, dram_byte=244.0,
                         source=HOROWITZ + "; E_MAC = 0.2 + 0.03 = 0.23 pJ, E_AC = 0.03 pJ"),
    "loihi": Profile("loihi", mac=4.6, add=0.9, ac=23.6 + 1.7, neuron_update=52.0, sram_byte=0.0, dram_byte=0.0,
                     source=DAVIES + "; E_AC = 23.6 pJ per synaptic operation + 1.7 pJ per spike delivery "
                            "within a tile (an upper bound on routing: across tiles adds 3.5 pJ per hop); "
                            "weights live in the cores' SRAM, so memory access is inside those figures; "
                            "float MACs and additions (host layers, the ANN) at 45nm-fp32's 4.6 and 0.9 pJ: "
                            "a chip's whole per-operation energy against a compute-only MAC, which favours the ANN"),
}
DEFAULT_PROFILE = "45nm-fp32"


def load_profile(name_or_path: str | Path) -> Profile:
    """A named profile, or a TOML file (a path ending in .toml) overriding one."""
    text = str(name_or_path)
    if not text.endswith(".toml"):
        if text not in PROFILES:
            raise ValueError(f"unknown energy profile {text!r}; choose one of {', '.join(PROFILES)} "
                             "or pass a .toml file")
        return PROFILES[text]
    path = Path(text)
    if not path.is_file():
        raise FileNotFoundError(f"energy profile {path} not found")
    try:
        values = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{path} is not valid TOML ({error}); see ssr/energy/profiles.py for the keys") from None
    base = values.pop("base", DEFAULT_PROFILE)
    if base not in PROFILES:
        raise ValueError(f"{path}: unknown base profile {base!r}; choose one of {', '.join(PROFILES)}")
    fields = {f.name: f.type for f in dataclasses.fields(Profile)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {', '.join(unknown)}; valid: {', '.join(fields)}, base")
    for key, value in values.items():
        if key not in ("name", "source") and (not isinstance(value, (int, float)) or isinstance(value, bool)
                                              or value < 0):
            raise ValueError(f"{path}: {key} must be a non-negative number of picojoules, got {value!r}")
    merged = dataclasses.replace(PROFILES[base], name=values.pop("name", path.stem),
                                 source=values.pop("source", f"user profile {path} (base {base})"),
                                 **{k: float(v) for k, v in values.items()})
    return merged
