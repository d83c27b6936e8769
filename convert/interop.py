"""Exported graphs in other NIR consumers: nirtorch's interpreter (`nirtorch.nir_to_torch`).

nirtorch wires the graph and maps the stateless nodes itself; neurons are left to the caller (as
norse and snntorch supply theirs). `nirtorch_node_map()` supplies modules for the node types our
exports use, each running its primitive's step (ssr.convert.primitives, NIR's equations at dt = 1),
including an `Affine` that keeps the bias and takes NIR's batched weights (nirtorch 2.6's default
`Affine` assigns the bias to `weight.bias`, so the bias is lost, and maps the weight to a 2-D
`nn.Linear`).

    module = nirtorch.nir_to_torch(nir.read("model.nir"), nirtorch_node_map())
    state = None
    for spikes in input_spikes:               # (T, batch, D, N)
        scores, state = module(spikes, state=state)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ssr.convert.primitives import PRIMITIVES, primitive


class PrimitiveModule(torch.nn.Module):
    """A NIR node as a torch module that runs its primitive's step (ssr.convert.primitives): the
    semantics nirtorch executes are the ones our reference executor and the Lava compiler use."""

    def __init__(self, node) -> None:
        super().__init__()
        self.step = primitive(node).step
        for key, value in vars(node).items():
            if isinstance(value, np.ndarray) and value.dtype.kind in "fiub":
                self.register_buffer(key, torch.from_numpy(np.asarray(value, dtype=np.float64)))

    def params(self) -> dict[str, torch.Tensor]:
        return dict(self.named_buffers())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.step(self.params(), x, None)[0]


class PrimitiveNeuron(PrimitiveModule):
    """A neuron node: nirtorch threads its membrane state through `state`."""

    def forward(self, x: torch.Tensor, state: torch.Tensor | None = None):
        return self.step(self.params(), x, state)


INTEROP_TYPES = ("Affine", "Linear", "LIF", "I")  # the types our map supplies (Conv1d: nirtorch's own)


def nirtorch_node_map() -> dict[type, Callable]:
    import nir

    return {getattr(nir, name): PrimitiveNeuron if PRIMITIVES[name].role == "neuron" else PrimitiveModule
            for name in INTEROP_TYPES}


def to_torch_module(graph, dtype: torch.dtype = torch.float64) -> torch.nn.Module:
    """A stateful torch module running `graph` (a nir.NIRGraph or a path) one time step per call."""
    import nirtorch

    return nirtorch.nir_to_torch(graph, nirtorch_node_map(), dtype=dtype)
