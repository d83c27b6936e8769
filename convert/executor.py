"""Reference NIR executor: numpy, time-stepped, dt = 1, written from the NIR 1.0 definitions.

It runs a `nir.NIRGraph` on input sequences and returns what every node emitted at every step, so
an exported graph can be checked against the PyTorch model it came from (`convert.verify`).

Semantics, per time step t (the convention of nirtorch's executor: no delay on edges):
- nodes are evaluated in topological order; a node's input is the sum of its predecessors' outputs
  at the same step (edges in file order);
- `Input`/`Output` pass values through; `Linear` y = W x and `Affine` y = W x + b act on the last
  axis, leading weight axes are per-slice matrices (weight (..., out, in), input (..., in));
  `Scale` y = s * x; `Conv1d` is cross-correlation over (channels, length) with NIR's stride,
  padding (int / "same" / "valid"), dilation and groups;
- neurons, forward Euler with dt = 1 and state starting at rest:
  `I`   v <- v + r x, output v;
  `LI`  v <- v + (v_leak - v + r x) / tau, output v;
  `IF`  v <- v + r x; z = v > v_threshold; v <- v_reset where z; output z;
  `LIF` v <- v + (v_leak - v + r x) / tau; z = v > v_threshold; v <- v_reset where z; output z
  (`LIF.v_reset` defaults to 0, as in NIR).
Arrays carry a leading batch axis: inputs (time, batch, *shape). Computation is in float64 by default.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ssr.spiking.lif import neuron_update

SUPPORTED = ("Input", "Output", "Linear", "Affine", "Scale", "Conv1d", "I", "LI", "IF", "LIF")


def topological_order(graph) -> list[str]:
    """Node names, every node after all of its predecessors; ValueError on a cycle."""
    incoming = {name: 0 for name in graph.nodes}
    for _, target in graph.edges:
        incoming[target] += 1
    ready = [name for name in graph.nodes if incoming[name] == 0]
    order = []
    while ready:
        name = ready.pop(0)
        order.append(name)
        for source, target in graph.edges:
            if source == name:
                incoming[target] -= 1
                if incoming[target] == 0:
                    ready.append(target)
    if len(order) != len(graph.nodes):
        raise ValueError("the NIR graph has a cycle; the reference executor runs feed-forward graphs only")
    return order


def conv1d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, stride: int, padding,
           dilation: int, groups: int) -> np.ndarray:
    """(batch, C_in, L) -> (batch, C_out, L_out); weight (C_out, C_in / groups, K), as torch/NIR."""
    out_channels, group_in, taps = weight.shape
    if padding == "valid":
        padding = 0
    elif padding == "same":
        padding = dilation * (taps - 1) // 2
    x = np.pad(x, ((0, 0), (0, 0), (padding, padding)))
    length = (x.shape[2] - dilation * (taps - 1) - 1) // stride + 1
    grouped = weight.reshape(groups, out_channels // groups, group_in, taps)
    out = np.zeros((x.shape[0], groups, out_channels // groups, length), dtype=x.dtype)
    for tap in range(taps):
        start = tap * dilation
        window = x[:, :, start:start + stride * (length - 1) + 1:stride]  # (batch, C_in, L_out)
        window = window.reshape(x.shape[0], groups, group_in, length)
        out += np.einsum("goi,bgil->bgol", grouped[..., tap], window)
    out = out.reshape(x.shape[0], out_channels, length)
    return out if bias is None else out + bias[None, :, None]


def subgraph(graph, prefix: str):
    """The nodes whose names start with `prefix` and the edges among them, as a NIRGraph."""
    import nir

    nodes = {name: node for name, node in graph.nodes.items() if name.startswith(prefix)}
    edges = [(s, t) for s, t in graph.edges if s in nodes and t in nodes]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


class NIRExecutor:
    """Runs a NIR graph step by step: `run({input name: (T, batch, *shape)})`."""

    def __init__(self, graph, dtype=np.float64) -> None:
        unsupported = sorted({type(node).__name__ for node in graph.nodes.values()} - set(SUPPORTED))
        if unsupported:
            raise ValueError(f"the reference executor does not implement NIR node type(s) "
                             f"{', '.join(unsupported)} (it runs {', '.join(SUPPORTED)})")
        self.graph, self.dtype = graph, dtype
        self.order = topological_order(graph)
        self.sources = {name: [s for s, t in graph.edges if t == name] for name in graph.nodes}
        self.params = {name: {key: np.asarray(value, dtype=dtype) if isinstance(value, np.ndarray) else value
                              for key, value in vars(node).items()}
                       for name, node in graph.nodes.items()}

    def run(self, inputs: dict[str, np.ndarray], record: Iterable[str] = ()) -> dict[str, np.ndarray]:
        """Outputs (time, batch, *shape) of every `Output` node and of every node named in `record`."""
        missing = sorted(set(self.graph.inputs) - set(inputs))
        if missing:
            raise ValueError(f"no values given for NIR input node(s) {', '.join(missing)}")
        steps = {value.shape[0] for value in inputs.values()}
        if len(steps) != 1:
            raise ValueError(f"inputs disagree on the number of time steps: {sorted(steps)}")
        wanted = set(record) | set(self.graph.outputs)
        traces: dict[str, list[np.ndarray]] = {name: [] for name in wanted}
        state: dict[str, np.ndarray] = {}
        for t in range(steps.pop()):
            values: dict[str, np.ndarray] = {}
            for name in self.order:
                node = self.graph.nodes[name]
                if name in self.graph.inputs:
                    x = np.asarray(inputs[name][t], dtype=self.dtype)
                else:
                    x = values[self.sources[name][0]]
                    for source in self.sources[name][1:]:
                        x = x + values[source]
                values[name] = self._step(name, type(node).__name__, x, state)
                if name in traces:
                    traces[name].append(values[name])
        return {name: np.stack(trace) for name, trace in traces.items()}

    def _step(self, name: str, kind: str, x: np.ndarray, state: dict[str, np.ndarray]) -> np.ndarray:
        p = self.params[name]
        if kind in ("Input", "Output"):
            return x
        if kind in ("Linear", "Affine"):
            y = np.matmul(p["weight"], x[..., None])[..., 0]
            return y + p["bias"] if kind == "Affine" else y
        if kind == "Scale":
            return x * p["scale"]
        if kind == "Conv1d":
            return conv1d(x, p["weight"], p.get("bias"), int(p["stride"]), p["padding"], int(p["dilation"]),
                          int(p["groups"]))
        leaky, fires = kind in ("LI", "LIF"), kind in ("IF", "LIF")
        h, fired, state[name] = neuron_update(
            state.get(name, np.zeros_like(x)), x, p["tau"] if leaky else None, p["r"],
            p["v_leak"] if leaky else 0.0, p["v_threshold"] if fires else None, p.get("v_reset", 0.0))
        return h if fired is None else fired.astype(self.dtype)
