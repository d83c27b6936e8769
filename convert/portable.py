"""The portable profile (`ssr-export --profile portable`): our exported graph as other NIR tools read it.

The native graph uses what NIR allows and the peers' importers do not take: weights with leading
axes (one matrix per channel), `Conv1d`s over (channels, positions), integrators (`I`), and tau in
time steps (dt = 1). The importers that run NIR in PyTorch through nirtorch (snntorch 1.0,
spikingjelly 2.0) map `Affine` to a 2-D `nn.Linear`, `LIF` to their neuron with tau in seconds at
their own step (snntorch's is fixed at 1e-4 s), and have no `I`. The portable graph, built from the
native one by `portable_graph` (no model-specific code), therefore:

- flattens every population to a vector (C order): every synapse node (`Affine`, `Linear`,
  `Conv1d`, any shape) becomes one `Affine` with its dense 2-D matrix (the primitive's `matrix`,
  ssr.convert.primitives) and bias; LIF parameters are raveled;
- writes tau in seconds at dt = `DT_SECONDS` (1e-4 s): tau_s = tau_steps * dt, the same Euler step;
- removes every `I`: an integrator fed by a synapse from the `Input` becomes that synapse reading the
  running sum over the steps of that input, which the host appends to the input vector (exact: the
  synapse is linear, its bias must be 0); an integrator feeding an `Output` becomes that synapse's
  output at every step, which the host adds up over the T steps (exact likewise);
- has one `Input` (nirtorch 2.6 builds no module from a graph with two: "Node redefined name
  is_none"), so only whole-graph models (one Input natively) have a portable form.

The price is size: dense matrices grow with (neurons)^2, so a model with many positions is large in
this profile (the README gives the figures). `PortableExecutor` runs a portable graph on our
reference executor behind the native graph's interface (native inputs in, native outputs out), so
`--verify` and the deployment loops run it unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ssr.artefacts import PROFILES  # noqa: F401 (read from here by the exporter and the tests)
from ssr.convert.primitives import PRIMITIVES, node_shape

DT_SECONDS = 1e-4  # the portable graph's time step: snntorch's fixed dt, spikingjelly's default
# what the host does for a portable graph, in the manifest's pre_processing / post_processing
PORTABLE_PRE = ("portable profile: every population is a vector (C order of the native shape); the one Input "
                "takes its blocks (manifest inputs[0].blocks) side by side: the native input flattened, then, "
                f"where listed, its running sum over the steps; tau is in seconds at dt = {DT_SECONDS} s")
PORTABLE_POST = ("portable profile: an Output with sum_over_steps gives one value per step; its sum over the T "
                 "steps is the native output (reshape to the native shape, manifest portable.native_shapes)")


def _single(names: list[str], what: str) -> str:
    if len(names) != 1:
        raise ValueError(f"{what} has {len(names)} inputs ({', '.join(names) or 'none'}); the portable profile "
                         "rewrites integrators fed by exactly one synapse")
    return names[0]


@dataclass
class PortableGraph:
    """A portable graph and what the host does differently for it (the manifest's "portable")."""

    nodes: dict[str, Any]
    edges: list[tuple[str, str]]
    input: str  # the one Input node
    # its vector, block by block: {"of": native input, "running_sum": bool, "size": n}
    input_blocks: list[dict[str, Any]]
    sum_over_steps: list[str]  # Output nodes the host adds up over the T steps (former integrators)
    native_shapes: dict[str, list[int]]  # every node's native output shape, to lay values back out

    def describe(self) -> dict[str, Any]:
        return {"dt_seconds": DT_SECONDS, "input": self.input, "input_blocks": self.input_blocks,
                "sum_over_steps": self.sum_over_steps, "native_shapes": self.native_shapes}


def portable_graph(nodes: dict[str, Any], edges: list[tuple[str, str]]) -> PortableGraph:
    """Rewrite a native exported graph (nodes, edges) in the portable profile (module docstring)."""
    import nir

    kinds = {name: type(node).__name__ for name, node in nodes.items()}
    native_inputs = [name for name, kind in kinds.items() if kind == "Input"]
    if len(native_inputs) != 1:
        raise ValueError(f"the portable profile needs a graph with one Input node (a whole-graph model); this one has "
                         f"{len(native_inputs)}: its sub-graphs need the host between them, which other NIR tools "
                         "cannot provide")
    incoming = {name: [s for s, t in edges if t == name] for name in nodes}
    outgoing = {name: [t for s, t in edges if s == name] for name in nodes}
    native_shapes = {name: list(node_shape(node)) for name, node in nodes.items()}
    out_nodes: dict[str, Any] = {}
    out_edges: list[tuple[str, str]] = []
    summed: list[str] = []
    integrating: set[str] = set()  # synapses that fed an integrator: they read the input's running sum
    for name, node in nodes.items():
        kind = kinds[name]
        if kind == "Input":
            continue  # written last, with its running sum appended when a synapse reads it
        if kind == "Output":
            out_nodes[name] = nir.Output(output_type=np.array([int(np.prod(native_shapes[name]))]))
        elif kind == "LIF":
            out_nodes[name] = nir.LIF(tau=np.ravel(node.tau).astype(np.float64) * DT_SECONDS, r=np.ravel(node.r),
                                      v_leak=np.ravel(node.v_leak), v_threshold=np.ravel(node.v_threshold),
                                      v_reset=np.ravel(node.v_reset))
        elif PRIMITIVES.get(kind) is not None and PRIMITIVES[kind].matrix is not None:
            weights, bias = PRIMITIVES[kind].matrix(node)
            targets = outgoing[name]
            if any(kinds[t] == "I" for t in targets) and len(targets) != 1:
                raise ValueError(f"synapse {name} feeds an integrator and other nodes ({', '.join(targets)}); the "
                                 "portable profile folds an integrator into its synapse, so it must be the only target")
            if len(targets) == 1 and kinds[targets[0]] == "I":  # fold the integrator's r into the synapse
                weights = weights.multiply(np.ravel(nodes[targets[0]].r)[:, None]).tocsr()
                bias = bias * np.ravel(nodes[targets[0]].r)
            out_nodes[name] = nir.Affine(weight=weights.toarray(), bias=bias)
        elif kind != "I":
            raise ValueError(f"node {name} ({kind}) has no portable form (portable: Input, Output, LIF, "
                             "Affine/Linear/Conv1d, I after a synapse)")
    for source, target in edges:
        if kinds[target] == "I":
            continue  # the synapse's edges are rewired below
        if kinds[source] != "I":
            out_edges.append((source, target))
            continue
        synapse = _single(incoming[source], f"integrator {source}")  # one synapse feeds an I (the compiler's rule too)
        if kinds[target] == "Output":  # per-step readout, added up by the host
            out_edges.append((synapse, target))
            summed.append(target)
            continue
        origin = _single(incoming[synapse], f"synapse {synapse} of integrator {source}")
        if kinds[origin] != "Input":
            raise ValueError(f"integrator {source} integrates {synapse} of {origin} ({kinds[origin]}); the portable "
                             "profile replaces integrators of host inputs only")
        if np.any(np.asarray(out_nodes[synapse].bias)):
            raise ValueError(f"integrator {source}: its synapse {synapse} has a bias, which a running sum of the "
                             "input does not carry; no portable form")
        integrating.add(synapse)
        out_edges.append((synapse, target))
    (source,) = native_inputs
    size = int(np.prod(native_shapes[source]))
    blocks = [{"of": source, "running_sum": False, "size": size}]
    if integrating:  # the synapses of integrators read the second block, the others the first
        blocks.append({"of": source, "running_sum": True, "size": size})
        for synapse in sorted({t for s, t in out_edges if s == source}):
            if not isinstance(out_nodes[synapse], nir.Affine):
                raise ValueError(f"the input feeds {kinds[synapse]} node {synapse} directly, beside an integrator: "
                                 "no portable form (only synapses may read an input with a running sum)")
            weight = np.asarray(out_nodes[synapse].weight)
            wide = np.zeros((weight.shape[0], 2 * size), dtype=weight.dtype)
            offset = size if synapse in integrating else 0
            wide[:, offset:offset + size] = weight
            out_nodes[synapse] = nir.Affine(weight=wide, bias=out_nodes[synapse].bias)
    out_nodes = {source: nir.Input(input_type=np.array([sum(b["size"] for b in blocks)])), **out_nodes}
    return PortableGraph(out_nodes, out_edges, source, blocks, summed, native_shapes)


class PortableExecutor:
    """A portable graph on the reference executor (tau / dt in steps) behind the native graph's
    interface: `run({native input: (T, B, *shape)}, record)` -> {node: (T, B, *native shape)}, an
    Output the host sums over steps given as its running total (as the native integrator holds it)."""

    def __init__(self, graph, portable: dict[str, Any], dtype=np.float64) -> None:
        import nir

        from ssr.convert.executor import NIRExecutor

        dt = portable["dt_seconds"]
        steps_graph = nir.NIRGraph(nodes={name: (nir.LIF(tau=node.tau / dt, r=node.r, v_leak=node.v_leak,
                                                         v_threshold=node.v_threshold, v_reset=node.v_reset)
                                                 if type(node).__name__ == "LIF" else node)
                                          for name, node in graph.nodes.items()},
                                   edges=graph.edges, type_check=False)
        self.executor = NIRExecutor(steps_graph, dtype=dtype)
        self.graph, self.portable = steps_graph, portable

    def run(self, inputs: dict[str, np.ndarray], record=()) -> dict[str, np.ndarray]:
        out = self.executor.run({self.portable["input"]: portable_input(inputs, self.portable["input_blocks"])},
                                record)
        shapes = self.portable["native_shapes"]
        return {name: (np.cumsum(value, axis=0) if name in self.portable["sum_over_steps"] else value)
                .reshape(*value.shape[:2], *shapes[name]) for name, value in out.items()}


def portable_input(inputs: dict[str, np.ndarray], blocks: list[dict[str, Any]]) -> np.ndarray:
    """The portable graph's input (T, B, n) from the native inputs {name: (T, B, *shape)}: each block
    the native input flattened, or its running sum over the steps."""
    parts = []
    for block in blocks:
        value = inputs[block["of"]].reshape(*inputs[block["of"]].shape[:2], -1)
        parts.append(np.cumsum(value, axis=0) if block["running_sum"] else value)
    return np.concatenate(parts, axis=-1)
