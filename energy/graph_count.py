"""Operations of an exported spiking graph, from the spikes it fires: what a neuromorphic chip does.

For a model whose whole path runs on the chip (a whole-graph deployment, ssr.deploy), the chip does
not run the PyTorch code (no FFT, no float rate codes): it runs the NIR graph. Per synapse node, synaptic operations (ACs) =
sum over presynaptic neurons of spikes x fan-out (non-zero weights leaving that neuron); per LIF or
integrator node, one neuron update per neuron and time step. Spikes come from the reference
executor (identical to the PyTorch model's, `ssr-export --verify`), or from Lava's simulator
(`lava.json`, counted in the simulator).
"""

from __future__ import annotations


import numpy as np
import torch

from ssr.artefacts import LavaRun
from ssr.energy.counter import LayerCount


@torch.no_grad()
def count_graph(graph, nodes: list[str], layers: dict[str, str], time_steps: int, host_arrays: dict[str, np.ndarray],
                feed, item_seq: np.ndarray) -> tuple[dict[str, LayerCount], dict[str, str]]:
    """Per-node counts (totals over the sequences) of a whole graph run on `item_seq` (B, N) by the
    reference executor, fed by its deployment's `feed` from `host_arrays`; in the order `nodes`
    (input to output), with node -> model layer names `layers`."""
    from ssr.convert.executor import NIRExecutor
    from ssr.targets.loihi_sim.compiler import plan_graph

    plan = plan_graph(graph, time_steps)
    spikes = {name: np.zeros(size) for name, size in plan.inputs.items()}
    spikes.update({name: np.zeros(lif["size"]) for name, lif in plan.lifs.items()})
    for start in range(0, len(item_seq), 256):
        inputs = feed(host_arrays, item_seq[start:start + 256])  # {input node: (T, B, ...)}
        traces = NIRExecutor(graph).run(inputs, record=list(plan.lifs))
        for name, value in inputs.items():
            spikes[name] += value.sum(axis=(0, 1)).ravel()
        for name in plan.lifs:
            spikes[name] += traces[name].sum(axis=(0, 1)).reshape(-1)
    counts = _counts_from_spikes(plan, spikes, len(item_seq))
    return {name: counts[name] for name in nodes if name in counts}, layers


def count_export(files, item_seq: np.ndarray) -> tuple[dict[str, LayerCount], dict[str, str]]:
    """`count_graph` of an export read from its files (`ssr.convert.export.ExportedFiles`): the
    graph, the time steps, the node order and layers from the manifest, the host file's arrays."""
    from ssr.deploy import deployment_of

    manifest = files.manifest
    feed = deployment_of(manifest.model).implementation().feed
    return count_graph(files.graph, list(manifest.nodes), {n: info["layer"] for n, info in manifest.nodes.items()},
                       manifest.time_steps, files.host_arrays, feed, item_seq)


def count_model_graph(model, item_seq: np.ndarray) -> tuple[dict[str, LayerCount], dict[str, str]]:
    """`count_graph` of a whole-graph model exported in memory (what `ssr-export` would write)."""
    import nir

    implementation = model.deployment.implementation()
    exported = implementation.export(model)
    graph = nir.NIRGraph(nodes=exported.nodes, edges=exported.edges)
    return count_graph(graph, list(exported.nodes), exported.layers, model.config.time_steps, exported.host_arrays,
                       implementation.feed, item_seq)


def _counts_from_spikes(plan, spikes: dict[str, np.ndarray], sequences: int) -> dict[str, LayerCount]:
    steps = plan.time_steps
    layers: dict[str, LayerCount] = {}
    for synapse, ops in plan.synaptic_ops(spikes).items():
        layer = layers.setdefault(synapse, LayerCount(synapse))
        layer.acs += ops
        layer.ops["synaptic_op"] += ops
    for name, integrator in plan.integrators.items():
        size = integrator["weights"].shape[0]
        layers[integrator["synapse"]].neuron_updates += size * steps * sequences  # the integrator's accumulator
    for name, lif in plan.lifs.items():
        layer = layers.setdefault(name, LayerCount(name))
        layer.neuron_updates += lif["size"] * steps * sequences
        layer.spikes += float(spikes[name].sum())
    return layers


def count_from_lava(lava: LavaRun) -> dict[str, LayerCount]:
    """Per-node counts (totals) measured in Lava's simulator, from a `lava.json`."""
    sequences, steps = lava.sequences, lava.time_steps_per_sequence
    layers: dict[str, LayerCount] = {}
    for row in lava.layers:
        layer = layers.setdefault(row["node"], LayerCount(row["node"]))
        if row["kind"] == "LIF":
            layer.neuron_updates += row["neurons"] * steps * sequences
            layer.spikes += row["spikes"]
        else:
            layer.acs += row["synaptic_ops"]
            layer.ops["synaptic_op"] += row["synaptic_ops"]
            if row["kind"] == "IntegratingSparse":
                layer.neuron_updates += row["neurons"] * steps * sequences
    return layers
