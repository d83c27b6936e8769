"""Any spiking model's LIF layers as NIR sub-graphs: the generic exporter for the zoo's models.

Models whose spikes meet float state multiplicatively (gates times a hidden state, Q K^T, a
degree-normalised aggregation) or that NIR's node set cannot express (max-pooling of spikes as an
OR) keep those operations on the host. This deployment puts every LIF layer on the chip: per call of
a LIF module (a module may fire after several convolutions), a sub-graph

    <node>_current (Input, the layer's per-sequence shape) -> <node> (LIF) -> <node>_spikes (Output)

and the host computes every current and consumes every spike train. The partition table lists the
host layers and, for each, whether its inputs are spikes (so it could move on chip with an exporter
of its own) or floats.

The deployment loop (`run`) runs the model's PyTorch code with every LIF layer replaced by its
sub-graph on the executor it is given: the reference executor for `--verify`, which so proves those
sub-graphs fire as the model's neurons do and the scores follow, or Lava's simulator for run-lava.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ssr.convert.executor import NIRExecutor
from ssr.convert.nir_build import ExportedGraph, lif_node
from ssr.deploy import score_all_reference as reference  # noqa: F401  (the DeploymentModule protocol)
from ssr.spiking.lif import LIF



def node_name(layer: str, call: int, calls: int) -> str:
    base = layer.replace(".", "_")
    return f"{base}_call{call}" if calls > 1 else base


def lif_calls(model, item_seq: torch.Tensor) -> list[tuple[str, int, tuple[int, ...]]]:
    """(module name, call index, per-sequence input shape) of every LIF call in one forward pass."""
    calls: list[tuple[str, int, tuple[int, ...]]] = []
    counts: dict[str, int] = {}

    def hook(name):
        def record(module, args, output) -> None:
            calls.append((name, counts.get(name, 0), tuple(args[0].shape[2:])))
            counts[name] = counts.get(name, 0) + 1
        return record

    handles = [module.register_forward_hook(hook(name)) for name, module in model.named_modules()
               if isinstance(module, LIF)]
    try:
        with torch.no_grad():
            model.eval().score_all(item_seq)
    finally:
        for handle in handles:
            handle.remove()
    return calls


@torch.no_grad()
def export(model) -> ExportedGraph:
    import nir

    model = model.eval()
    probe = torch.ones(1, model.max_len, dtype=torch.long)  # shapes do not depend on the items
    calls = lif_calls(model, probe)
    totals = {layer: sum(1 for name, _, _ in calls if name == layer) for layer, _, _ in calls}
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    layers: dict[str, str] = {}
    inputs, outputs = [], []
    for layer, call, shape in calls:
        name = node_name(layer, call, totals[layer])
        nodes[name + "_current"] = nir.Input(input_type=np.array(shape))
        nodes[name] = lif_node(model.get_submodule(layer), shape)
        nodes[name + "_spikes"] = nir.Output(output_type=np.array(shape))
        edges += [(name + "_current", name), (name, name + "_spikes")]
        layers.update({name + "_current": layer, name: layer, name + "_spikes": layer})
        inputs.append({"node": name + "_current", "shape": list(shape), "call": call})
        outputs.append({"node": name + "_spikes", "shape": list(shape), "call": call})
    kinds = model.layer_kinds()
    partition = [{"layer": layer, "where": "chip",
                  "why": f"LIF layer: {totals[layer]} sub-graph(s) {', '.join(node_name(layer, c, totals[layer]) for c in range(totals[layer]))}"}
                 for layer in totals]
    partition += [{"layer": layer, "where": "host",
                   "why": ("spike-driven (its inputs are spikes), computed on the host: no exporter places it "
                           "on the chip yet" if kind == "spike" else "float inputs (multiply-accumulates)")}
                  for layer, kind in kinds.items()]
    partition.append({"layer": "dropout (all)", "where": "removed", "why": "identity at inference"})
    return ExportedGraph(
        nodes=nodes, edges=edges, layers=layers, partition=partition, inputs=inputs, outputs=outputs,
        pre_processing={"description": "the host runs the model; at each LIF layer it injects the layer's input "
                                       "current (T steps, the layer's shape) into <node>_current"},
        post_processing={"description": "the host reads <node>_spikes as that layer's output and goes on",
                         "top_k": 10})


def _sub_graph(graph, name: str):
    import nir

    members = (name + "_current", name, name + "_spikes")
    return nir.NIRGraph(nodes={n: graph.nodes[n] for n in members},
                        edges=[(members[0], members[1]), (members[1], members[2])], type_check=False)


def run(model, graph, host: dict[str, np.ndarray], item_seq: np.ndarray, dtype: np.dtype,
        record, executor=NIRExecutor) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The model's PyTorch code with each LIF call replaced by its sub-graph, run by `executor`
    (the reference executor, or Lava's simulator)."""
    counts: dict[str, int] = {}
    totals: dict[str, int] = {}
    for name, node in graph.nodes.items():
        if type(node).__name__ == "LIF":
            base = name.split("_call")[0]
            totals[base] = totals.get(base, 0) + 1
    traces: dict[str, np.ndarray] = {}

    def sub_graph_call(layer):
        def forward(current: torch.Tensor) -> torch.Tensor:  # in place of the module's own LIF
            call = counts.get(layer, 0)
            counts[layer] = call + 1
            base = layer.replace(".", "_")
            name = node_name(layer, call, totals[base])
            out = executor(_sub_graph(graph, name), dtype=dtype).run({name + "_current": current.detach().numpy()},
                                                                      record=[name])
            traces[name] = out[name + "_spikes"]  # the LIF node's spikes, as its output node hands them on
            return torch.from_numpy(out[name + "_spikes"]).to(current.dtype)
        return forward

    lifs = [(name, module) for name, module in model.named_modules() if isinstance(module, LIF)]
    for name, module in lifs:
        module.forward = sub_graph_call(name)  # an instance attribute: nn.Module calls it instead
    try:
        with torch.no_grad():
            scores = model.score_all(torch.from_numpy(item_seq))
    finally:
        for _, module in lifs:
            del module.forward
    return scores.numpy(), traces
