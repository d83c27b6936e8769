"""The JSON files the stages hand each other, as typed dataclasses with one reader each.

| artefact | class | format | written by |
| --- | --- | --- | --- |
| `model.manifest.json` | `Manifest` | ssr-nir-manifest | `ssr-export` |
| `lava.json` | `LavaRun` | ssr-lava-run | `ssr run-lava` |
| `gpu.json` | `GpuRun` | ssr-gpu-run | `ssr run-gpu` |
| `report.json` | `EnergyReport` | ssr-energy-report | `ssr energy-report` |

A file opens with `"format"` and `"schema_version"`; its other top-level keys are the class's
fields (a field whose JSON key is not a Python name, such as `HR@10`, says so in its metadata).
`Cls.read(path)` checks the format, that the schema is one this ssr reads, that every field is
there with the right type, and returns the instance; anything else is a one-line error naming the
file and the fix. Keys a file has beyond the fields (written by a newer ssr of the same schema, or
added by a benchmark) are kept in `extra` and written back. Nested rows (layers, models, pairs)
stay plain JSON objects: the schema fixes the top level.
"""

from __future__ import annotations

import json
import types
import typing
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, TypeVar

Self = TypeVar("Self", bound="ArtefactFile")
PROFILES = ("native", "portable")  # a Manifest's `profile`: the graphs ssr-export writes (ssr.convert.portable)


def key(json_key: str, **kwargs) -> Any:
    """A field whose JSON key is not its Python name (e.g. `HR@10`)."""
    return field(metadata={"key": json_key}, **kwargs)


@dataclass(frozen=True, kw_only=True)
class ArtefactFile:
    format: ClassVar[str]  # the file's "format" value
    schema_version: ClassVar[int]  # the newest schema this ssr writes and reads
    file: ClassVar[str]  # what users call it
    command: ClassVar[str]  # the command that writes it

    extra: dict[str, Any] = field(default_factory=dict)  # keys beyond the schema's, kept as read

    def __init_subclass__(cls, *, format: str, file: str, command: str, schema_version: int = 1, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        cls.format, cls.file, cls.command, cls.schema_version = format, file, command, schema_version

    @classmethod
    def stamp(cls) -> dict[str, Any]:
        """The keys that open every file of this kind."""
        return {"format": cls.format, "schema_version": cls.schema_version}

    def to_dict(self) -> dict[str, Any]:
        """The file's JSON object: the stamp, every field (an optional one left at None is omitted), extra."""
        body = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name != "extra" and not (value is None and item.default is None):
                body[item.metadata.get("key", item.name)] = value
        return {**self.stamp(), **body, **self.extra}

    def write(self, path: str | Path) -> None:
        from ssr.io import write_json

        write_json(path, self.to_dict())

    @classmethod
    def read(cls: type[Self], path: str | Path) -> Self:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{cls.file} {path} not found; write it with `{cls.command}`")
        try:
            data = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ValueError(f"{path} is not valid JSON ({error}); write it again with `{cls.command}`") from None
        return cls.from_dict(data, path)

    @classmethod
    def from_dict(cls: type[Self], data: Any, path: str | Path = "<memory>") -> Self:
        """Check `data` (a parsed file) against this schema and build the instance."""
        if not isinstance(data, dict) or data.get("format") != cls.format:
            found = data.get("format") if isinstance(data, dict) else type(data).__name__
            raise ValueError(f"{path} is not a {cls.file} written by `{cls.command}` (format {found!r}, expected "
                             f"{cls.format!r})")
        version = data.get("schema_version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise ValueError(f"{path} has no valid schema_version; write it again with `{cls.command}`")
        if version > cls.schema_version:
            raise ValueError(f"{path} has {cls.file} schema {version}, newer than this ssr reads "
                             f"({cls.schema_version}); upgrade ssr")
        hints = typing.get_type_hints(cls)
        values, named = {}, {"format", "schema_version"}
        for item in fields(cls):
            if item.name == "extra":
                continue
            json_key = item.metadata.get("key", item.name)
            named.add(json_key)
            if json_key not in data:
                if item.default is MISSING and item.default_factory is MISSING:
                    raise ValueError(f"{path} has no {json_key!r}: it is not a complete {cls.file}; write it again "
                                     f"with `{cls.command}`")
                continue
            if not _matches(data[json_key], hints[item.name]):
                raise ValueError(f"{path}: {json_key!r} must be {_describe(hints[item.name])}, got "
                                 f"{type(data[json_key]).__name__}; write it again with `{cls.command}`")
            values[item.name] = data[json_key]
        return cls(**values, extra={k: v for k, v in data.items() if k not in named})


def _matches(value: Any, hint: Any) -> bool:
    """Whether a parsed JSON value has the type `hint` (top level and container kind only)."""
    if hint is Any:
        return True
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, option) for option in typing.get_args(hint))
    if hint is type(None):
        return value is None
    kind = origin or hint
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def _describe(hint: Any) -> str:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_describe(option) for option in typing.get_args(hint))
    kind = typing.get_origin(hint) or hint
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false", dict: "an object",
            list: "a list", type(None): "null"}.get(kind, getattr(kind, "__name__", str(kind)))


@dataclass(frozen=True, kw_only=True)
class AtTen:
    """Test HR/NDCG/MRR@10 at the top level of a file (lava.json: from Lava's scores)."""

    hr_at_10: float = key("HR@10")
    ndcg_at_10: float = key("NDCG@10")
    mrr_at_10: float = key("MRR@10")


@dataclass(frozen=True, kw_only=True)
class Manifest(ArtefactFile, format="ssr-nir-manifest", file="manifest", command="ssr-export RUN_DIR/model.pt --to nir"):
    """model.manifest.json: what an exported graph is, how the host feeds it and reads it back."""

    model: str  # the registered model name
    kind: str  # "snn" | "ann" | "hybrid"...
    config: dict[str, Any]  # the model config the checkpoint holds
    num_items: int
    max_len: int
    time_steps: int  # T, steps per sequence
    dt: float  # the graph's time step (1.0: discrete steps)
    graph_file: str
    graph_sha256: str
    host_file: str
    host_sha256: str
    inputs: list[dict[str, Any]]  # the graph's Input nodes the host feeds: node, shape (and call)
    outputs: list[dict[str, Any]]  # the Output nodes it reads
    input: dict[str, Any] | None = None  # the only Input node, when there is one (the first schema's key)
    output: dict[str, Any] | None = None  # the only Output node, when there is one
    pre_processing: dict[str, Any]  # what the host does before the chip
    post_processing: dict[str, Any]  # and after it
    partition: list[dict[str, Any]]  # every model layer: on chip, on the host, or removed, and why
    nodes: dict[str, dict[str, Any]]  # node name -> type, model layer, input and output shapes
    provenance: dict[str, Any]  # checkpoint (+ sha256), dataset, versions, time
    profile: str = "native"  # "native" (our tools: run-lava, energy-report) | "portable" (other NIR tools)
    portable: dict[str, Any] | None = None  # the portable profile's host rules (ssr.convert.portable)

    def lif_layers(self) -> dict[str, str | None]:
        """LIF node name -> the model layer it exports."""
        return {name: info["layer"] for name, info in self.nodes.items() if info["type"] == "LIF"}


@dataclass(frozen=True, kw_only=True)
class LavaRun(AtTen, ArtefactFile, format="ssr-lava-run", file="lava.json", command="ssr run-lava"):
    """lava.json: a graph run on Lava's simulator, compared with PyTorch sequence by sequence."""

    sequences: int
    sequences_per_second: float
    precision: str  # "float" | "fixed"
    layers: list[dict[str, Any]]  # per LIF node its spikes (Lava's and PyTorch's), per synapse its ops
    top10_exact_agreement: float  # share of sequences whose top-10 list equals PyTorch's
    mean_top10_overlap: float
    pytorch: dict[str, float]  # HR/NDCG/MRR@10 from PyTorch's scores
    spike_counts_identical: bool
    per_sequence: list[dict[str, Any]]  # both top-10s and the target, per sequence
    time_steps_per_sequence: int
    wall_seconds: dict[str, float]
    provenance: dict[str, Any]
    mode: str | None = None  # host in the loop: how the model was split
    chunk: int | None = None
    simulated_time_steps: int | None = None  # whole graph: Lava steps run in all
    steps_per_run_call: int | None = None
    batch: int | None = None  # sequences simulated side by side (host in the loop: at most, per call)
    quantisation: dict[str, Any] | None = None  # fixed point: what the compiler chose per layer


@dataclass(frozen=True, kw_only=True)
class GpuRun(AtTen, ArtefactFile, format="ssr-gpu-run", file="gpu.json", command="ssr run-gpu"):
    """gpu.json: a model timed (and, with NVML, metered) in PyTorch on a GPU or the CPU."""

    model: str
    kind: str
    device: dict[str, Any]  # type, name, torch threads
    device_note: str
    metrics: dict[str, float]
    mask_history: bool
    split: str
    rows: list[dict[str, Any]]  # per mode and batch size: latency, throughput, board energy or error
    energy_note: str
    estimate_45nm_fp32_pj_per_inference: float
    timing: dict[str, Any]
    provenance: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class EnergyReport(ArtefactFile, format="ssr-energy-report", file="report.json", command="ssr energy-report"):
    """report.json: every run's operations and energy per inference under one profile."""

    profile: str
    profile_values_pj: dict[str, float]  # mac, add, ac, neuron_update, sram_byte, dram_byte
    profile_source: str
    models: list[dict[str, Any]]  # per run: layers, energy_pj, memory_access_pj, metrics, ...
    pairs: list[dict[str, Any]]  # every SNN beside its ANN original: savings, accuracy change
    provenance: dict[str, Any]


# the readers by what users call the files; the upper-case names are the classes' earlier names
ARTEFACTS: dict[str, type[ArtefactFile]] = {a.file: a for a in (Manifest, LavaRun, GpuRun, EnergyReport)}
MANIFEST, LAVA_RUN, GPU_RUN, ENERGY_REPORT = Manifest, LavaRun, GpuRun, EnergyReport
