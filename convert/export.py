"""`ssr-export RUN_DIR/model.pt --to nir [-o model.nir]`: checkpoint -> NIR graph + manifest + host file.

Writes three files, each atomically (all or none), `model.nir` standing for the output path:
    model.nir            the graph (`nir.write`, HDF5)
    model.manifest.json  model name and config, T, dt, input/output nodes and shapes, host-side
                         pre- and post-processing, the partition table (every model layer: chip,
                         host or removed, and why), every node's type/layer/shape, provenance
    model.host.h5        arrays the host needs to drive the graph (e.g. a spike-wise item table)

What is exported and how comes from the model's deployment (`ssr.deploy`: the model class's
`deployment`). ANN checkpoints, unknown formats, unwritable outputs and models without a deployment
are refused with a one-line error before anything is written.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

from ssr import __version__
from ssr.artefacts import Manifest
from ssr.checkpoint import model_from_checkpoint, read_checkpoint
from ssr.convert.portable import DT_SECONDS, PORTABLE_POST, PORTABLE_PRE, PROFILES, portable_graph
from ssr.convert.primitives import node_shape
from ssr.deploy import deployment_of
from ssr.io import atomic_paths, file_sha256, refuse_overwriting_inputs

FORMATS = ("nir",)
HOST_FORMAT = "ssr-nir-host"


def manifest_path(graph_path: str | Path) -> Path:
    return Path(graph_path).with_suffix(".manifest.json")


def host_path(graph_path: str | Path) -> Path:
    return Path(graph_path).with_suffix(".host.h5")


def _listed(shape: tuple[int, ...] | None) -> list[int] | None:
    return None if shape is None else list(shape)


def export(checkpoint: str | Path, to: str = "nir", out: str | Path | None = None, profile: str = "native") -> Path:
    """Export a trained spiking model; returns the graph path (manifest and host file beside it).
    `profile` "portable" writes the graph other NIR tools read (ssr.convert.portable)."""
    import h5py
    import nir

    if to not in FORMATS:
        raise ValueError(f"unknown export format {to!r}; supported: {', '.join(FORMATS)}")
    if profile not in PROFILES:
        raise ValueError(f"unknown export profile {profile!r}; choose {' or '.join(PROFILES)}")
    payload = read_checkpoint(checkpoint)
    name = payload["model"]
    try:
        deployment = deployment_of(name)
    except ValueError as error:
        raise ValueError(f"{checkpoint}: {error}") from None
    # by default beside the checkpoint; the portable profile under its own name, so it never replaces the
    # native graph that run-lava and the energy report read
    out = Path(out) if out is not None else Path(checkpoint).with_suffix(".nir" if profile == "native" else
                                                                          f".{profile}.nir")
    if out.suffix in (".json", ".h5") and out.with_suffix("").suffix in (".manifest", ".host"):
        raise ValueError(f"{out} would collide with the manifest/host files; name the graph e.g. model.nir")
    outputs = (out, manifest_path(out), host_path(out))
    refuse_overwriting_inputs(outputs, [checkpoint], option="-o")
    for path in outputs:
        if path.is_dir():
            raise ValueError(f"-o {out}: {path} is a directory; name the graph file, e.g. {path / 'model.nir'}")
    if profile == "portable" and not deployment.whole_graph:
        raise ValueError(f"{checkpoint}: {name!r} runs as sub-graphs with host layers between them; the portable "
                         "profile is for whole-graph models (one Input node), which another NIR tool can run alone")
    model = model_from_checkpoint(payload, str(checkpoint))
    exported = deployment.implementation().export(model)
    nodes, edges, portable, dt = exported.nodes, exported.edges, None, 1.0
    graph_inputs, graph_outputs = exported.inputs, exported.outputs  # what the host feeds and reads
    pre_processing, post_processing = exported.pre_processing, exported.post_processing
    if profile == "portable":
        converted = portable_graph(exported.nodes, exported.edges)
        nodes, edges, portable, dt = converted.nodes, converted.edges, converted.describe(), DT_SECONDS
        graph_inputs = [{"node": converted.input, "shape": [sum(block["size"] for block in converted.input_blocks)],
                         "blocks": converted.input_blocks}]
        graph_outputs = [{"node": node, "shape": [int(v) for v in nodes[node].output_type["output"]],
                          "sum_over_steps": node in converted.sum_over_steps}
                         for node, value in nodes.items() if type(value).__name__ == "Output"]
        pre_processing = {**pre_processing, "portable": PORTABLE_PRE}
        post_processing = {**post_processing, "portable": PORTABLE_POST}
    graph = nir.NIRGraph(nodes=nodes, edges=edges,
                         metadata={"producer": f"ssr {__version__}", "model": name, "profile": profile, "dt": dt})

    # the three files appear together or not at all (a failed rename puts the earlier trio back)
    with atomic_paths(outputs) as (graph_temp, manifest_temp, host_temp):
        nir.write(graph_temp, graph)
        with h5py.File(host_temp, "w") as handle:
            handle.attrs["format"], handle.attrs["schema_version"] = HOST_FORMAT, 1
            handle.attrs["model"] = name
            for key, array in exported.host_arrays.items():
                handle.create_dataset(key, data=array, compression="gzip")
        manifest = Manifest(
            model=name, kind=payload["kind"], config=payload["config"],
            num_items=payload["num_items"], max_len=payload["max_len"],
            time_steps=payload["config"]["time_steps"], dt=dt, profile=profile, portable=portable,
            graph_file=out.name, graph_sha256=file_sha256(graph_temp),
            host_file=host_path(out).name, host_sha256=file_sha256(host_temp),
            inputs=graph_inputs, outputs=graph_outputs,
            input=graph_inputs[0] if len(graph_inputs) == 1 else None,
            output=graph_outputs[0] if len(graph_outputs) == 1 else None,
            pre_processing=pre_processing,
            post_processing=post_processing,
            partition=exported.partition,
            nodes={node_name: {"type": type(node).__name__, "layer": exported.layers.get(node_name),
                               "input_shape": _listed(node_shape(node, "input_type")),
                               "output_shape": _listed(node_shape(node))}
                   for node_name, node in nodes.items()},
            provenance={"checkpoint": str(checkpoint), "checkpoint_sha256": file_sha256(Path(checkpoint)),
                        "dataset": payload.get("dataset", {}), "ssr_version": __version__,
                        "nir_version": _nir_version(),
                        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")},
        )
        manifest_temp.write_text(json.dumps(manifest.to_dict(), indent=2) + "\n")
    return out


def _nir_version() -> str:
    from importlib.metadata import version

    return version("nir")


class ExportedFiles:
    """An exported graph read back: `graph` (nir.read), `manifest` (ssr.artefacts.Manifest), `host_arrays`
    (host file). `profiles`: the export profiles the reader takes (run-lava and the energy report:
    native only)."""

    def __init__(self, graph_path: str | Path, profiles: tuple[str, ...] = ("native",)) -> None:
        import h5py
        import nir

        graph_path = Path(graph_path)
        for path, what in ((graph_path, "NIR graph"), (manifest_path(graph_path), "manifest"),
                           (host_path(graph_path), "host file")):
            if not path.is_file():
                raise FileNotFoundError(f"{what} {path} not found; export with `ssr-export RUN_DIR/model.pt --to nir`")
        self.manifest = Manifest.read(manifest_path(graph_path))  # format, schema and fields checked
        if self.manifest.profile not in profiles:
            raise ValueError(f"{graph_path} is the {self.manifest.profile} export profile, for other NIR tools; this "
                             "command reads the native one: export again without --profile")
        try:
            self.graph = nir.read(graph_path)
            with h5py.File(host_path(graph_path), "r") as handle:
                self.host_arrays = {key: handle[key][()] for key in handle}
        except (OSError, KeyError, ValueError) as error:
            raise ValueError(f"cannot read the export at {graph_path} ({str(error).splitlines()[0][:120]}); "
                             "export it again") from None
        # provenance is checked, not only recorded: a graph or host file that is not the one the
        # manifest describes (edited, swapped, a foreign graph beside a copied manifest) is refused
        self.graph_sha256, self.host_sha256 = file_sha256(graph_path), file_sha256(host_path(graph_path))
        for path, actual, expected in ((graph_path, self.graph_sha256, self.manifest.graph_sha256),
                                       (host_path(graph_path), self.host_sha256, self.manifest.host_sha256)):
            if actual != expected:
                raise ValueError(f"{path} is not the file {manifest_path(graph_path).name} describes (sha256 "
                                 f"{actual[:12]}... != {expected[:12]}...): it was changed or "
                                 "replaced after export; export it again")
