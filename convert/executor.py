"""Reference NIR executor: numpy, time-stepped, dt = 1, written from the NIR 1.0 definitions.

It runs a `nir.NIRGraph` on input sequences and returns what every node emitted at every step, so
an exported graph can be checked against the PyTorch model it came from (`convert.verify`).

Per time step t (the convention of nirtorch's executor: no delay on edges) nodes are evaluated in
topological order; a node's input is the sum of its predecessors' outputs at the same step (edges
in file order), and what a node does with it is its primitive's `step` (convert.primitives, one
handler per NIR node type: I/O, Linear, Affine, Scale, Conv1d, and the neurons I, LI, IF, LIF).
Arrays carry a leading batch axis: inputs (time, batch, *shape). Computation is in float64 by default.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ssr.convert.primitives import PRIMITIVES

SUPPORTED = tuple(PRIMITIVES)


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
        y, state[name] = PRIMITIVES[kind].step(self.params[name], x, state.get(name))
        return y
