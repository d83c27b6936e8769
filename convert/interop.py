"""Exported graphs in other NIR consumers: nirtorch's interpreter (`nirtorch.nir_to_torch`).

nirtorch wires the graph and maps the stateless nodes itself; neurons are left to the caller (as
norse and snntorch supply theirs). `nirtorch_node_map()` supplies modules for the node types our
exports use, with NIR's equations (dt = 1), and an `Affine` that keeps the bias and takes NIR's
batched weights (nirtorch 2.6's default `Affine` assigns the bias to `weight.bias`, so the bias is
lost, and maps the weight to a 2-D `nn.Linear`).

    module = nirtorch.nir_to_torch(nir.read("model.nir"), nirtorch_node_map())
    state = None
    for spikes in input_spikes:               # (T, batch, D, N)
        scores, state = module(spikes, state=state)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ssr.spiking.lif import neuron_update


def _tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.asarray(array, dtype=np.float64))


class NIRAffine(torch.nn.Module):
    """y = W x + b on the last axis, weight (..., out, in) one matrix per leading slice."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray | None) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(_tensor(weight), requires_grad=False)
        self.bias = None if bias is None else torch.nn.Parameter(_tensor(bias), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.matmul(self.weight, x.unsqueeze(-1)).squeeze(-1)
        return y if self.bias is None else y + self.bias


class NIRNeuron(torch.nn.Module):
    """One Euler step (dt = 1) of NIR's I, LIF (fire on v > v_threshold, reset to v_reset)."""

    def __init__(self, node) -> None:
        super().__init__()
        self.kind = type(node).__name__
        for key in ("tau", "r", "v_leak", "v_threshold", "v_reset"):
            if getattr(node, key, None) is not None:
                self.register_buffer(key, _tensor(getattr(node, key)))

    def forward(self, x: torch.Tensor, state: torch.Tensor | None = None):
        v = torch.zeros_like(x) if state is None else state
        if self.kind == "I":
            h, _, v = neuron_update(v, x, r=self.r)
            return h, v
        _, fired, v = neuron_update(v, x, self.tau, self.r, self.v_leak, self.v_threshold,
                                    self.v_reset.expand_as(v), where=torch.where)
        return fired.to(x.dtype), v


def nirtorch_node_map() -> dict[type, Callable]:
    import nir

    return {nir.Affine: lambda node: NIRAffine(node.weight, node.bias),
            nir.Linear: lambda node: NIRAffine(node.weight, None),
            nir.LIF: NIRNeuron, nir.I: NIRNeuron}


def to_torch_module(graph, dtype: torch.dtype = torch.float64) -> torch.nn.Module:
    """A stateful torch module running `graph` (a nir.NIRGraph or a path) one time step per call."""
    import nirtorch

    return nirtorch.nir_to_torch(graph, nirtorch_node_map(), dtype=dtype)
