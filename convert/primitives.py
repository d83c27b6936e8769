"""One handler per NIR primitive: what a node type means, written once.

Each `Primitive` owns a node type's discrete-time semantics (dt = 1, the reference executor's
`step`), and for synapse types the same map as a sparse matrix on C-order flattened vectors
(`matrix`, what the Lava compiler wires and the synaptic-operation count reads; `blocks` where that
matrix repeats one small dense block, which the Lava process models multiply by instead). The reference
executor (convert.executor), the Lava compiler (targets.loihi_sim.compiler) and, through the
compiler's plan, the energy counter dispatch on `PRIMITIVES[type(node).__name__]`; the compiler's
Lava process for each type is its one entry in `targets.loihi_sim.compiler.LAVA_MAPPINGS`. Adding a
primitive is one entry here (and one there to run it on Lava) and its tests.

Semantics per time step t (the convention of nirtorch's executor: no delay on edges), arrays with a
leading batch axis:
- `Input`/`Output` pass values through;
- `Linear` y = W x and `Affine` y = W x + b act on the last axis; leading weight axes are one matrix
  per slice (weight (..., out, in), input (..., in));
- `Scale` y = s * x;
- `Conv1d` is cross-correlation over (channels, length) with NIR's stride, padding (int / "same" /
  "valid"), dilation and groups;
- neurons, forward Euler from rest (ssr.spiking.lif.neuron_update): `I` v <- v + r x, output v;
  `LI` v <- v + (v_leak - v + r x) / tau, output v; `IF` v <- v + r x, fire on v > v_threshold and
  reset to v_reset; `LIF` the leaky charge, then fire and reset (`LIF.v_reset` defaults to 0).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
from scipy import sparse

from ssr.spiking.lif import neuron_update

Params = dict[str, Any]  # a node's fields as arrays of the executor's dtype


class Blocks(NamedTuple):
    """A synapse matrix's repeated structure: `matrix` = blockdiag over `groups` of kron(W_g, I_inner),
    each W_g (out_per_group, in_per_group). A pointwise Conv1d over L positions is one group with
    inner L; an Affine with one (out, in) weight per leading slice is one group per slice, inner 1.
    A simulator can then multiply by the W_g (dense products over every position and copy at once)
    instead of by the whole sparse matrix; the weights themselves stay `matrix`'s."""

    groups: int
    out_per_group: int
    in_per_group: int
    inner: int


@dataclass(frozen=True)
class Primitive:
    name: str
    role: str  # "io" | "synapse" | "neuron"
    # (params, x (batch, *in shape), state or None) -> (y (batch, *out shape), new state or None)
    step: Callable[[Params, np.ndarray, np.ndarray | None], tuple[np.ndarray, np.ndarray | None]]
    # synapses: the node as (weights (out, in) on flattened vectors, bias (out,)), float64
    matrix: Callable[[Any], tuple[sparse.csr_matrix, np.ndarray]] | None = None
    # synapses whose matrix repeats one small dense block: `Blocks` (None where it does not)
    blocks: Callable[[Any], Blocks | None] | None = None


def _pass(params: Params, x: np.ndarray, state) -> tuple[np.ndarray, None]:
    return x, None


# the io, dense-synapse and neuron steps take numpy arrays or torch tensors alike (the peer interop
# runs them on tensors); Conv1d is numpy only
def _weighted(weight: np.ndarray, x: np.ndarray) -> np.ndarray:
    """weight (out, in) or (channels, out, in) applied to x (batch, [channels,] in): a 2-D weight as
    one matrix product for the whole batch (BLAS), not one matrix-vector product per sequence."""
    return x @ weight.T if weight.ndim == 2 else (weight @ x[..., None])[..., 0]


def _linear(params: Params, x: np.ndarray, state) -> tuple[np.ndarray, None]:
    return _weighted(params["weight"], x), None


def _affine(params: Params, x: np.ndarray, state) -> tuple[np.ndarray, None]:
    return _weighted(params["weight"], x) + params["bias"], None


def _scale(params: Params, x: np.ndarray, state) -> tuple[np.ndarray, None]:
    return x * params["scale"], None


def _padding(padding, dilation: int, taps: int) -> int:
    """NIR's Conv1d padding (an int, "same" or "valid") in positions on each side."""
    if padding == "valid":
        return 0
    if padding == "same":
        return dilation * (taps - 1) // 2
    return int(padding)


def conv1d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, stride: int, padding,
           dilation: int, groups: int) -> np.ndarray:
    """(batch, C_in, L) -> (batch, C_out, L_out); weight (C_out, C_in / groups, K), as torch/NIR."""
    out_channels, group_in, taps = weight.shape
    padding = _padding(padding, dilation, taps)
    x = np.pad(x, ((0, 0), (0, 0), (padding, padding)))
    length = (x.shape[2] - dilation * (taps - 1) - 1) // stride + 1
    grouped = weight.reshape(groups, out_channels // groups, group_in, taps)
    batch = x.shape[0]
    # one matrix product per tap and group, (o, i) @ (i, batch x L), so BLAS does the work
    out = np.zeros((groups, out_channels // groups, batch * length), dtype=x.dtype)
    for tap in range(taps):
        start = tap * dilation
        window = x[:, :, start:start + stride * (length - 1) + 1:stride]  # (batch, C_in, L_out)
        window = window.reshape(batch, groups, group_in, length).transpose(1, 2, 0, 3)
        out += grouped[..., tap] @ window.reshape(groups, group_in, batch * length)
    out = out.reshape(out_channels, batch, length).transpose(1, 0, 2)
    return out if bias is None else out + bias[None, :, None]


def _conv1d(params: Params, x: np.ndarray, state) -> tuple[np.ndarray, None]:
    return conv1d(x, params["weight"], params.get("bias"), int(params["stride"]), params["padding"],
                  int(params["dilation"]), int(params["groups"])), None


def _neuron(leaky: bool, fires: bool):
    def step(params: Params, x: np.ndarray, state):
        tensor = isinstance(x, torch.Tensor)
        v = (torch.zeros_like(x) if tensor else np.zeros_like(x)) if state is None else state
        h, fired, v = neuron_update(v, x, params["tau"] if leaky else None, params["r"],
                                    params["v_leak"] if leaky else 0.0, params["v_threshold"] if fires else None,
                                    params.get("v_reset", 0.0), where=torch.where if tensor else np.where)
        return (h if fired is None else fired.to(x.dtype) if tensor else fired.astype(x.dtype)), v
    return step


def _dense_matrix(node) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Affine/Linear: one (out, in) matrix per leading weight slice, block-diagonal."""
    weight = np.asarray(node.weight, dtype=np.float64)
    blocks = weight.reshape(-1, *weight.shape[-2:])
    matrix = sparse.block_diag(list(blocks), format="csr")
    bias = (np.asarray(node.bias, dtype=np.float64).ravel() if type(node).__name__ == "Affine"
            else np.zeros(matrix.shape[0]))
    bias = np.broadcast_to(bias, (matrix.shape[0],)) if bias.size == 1 else bias
    return _clean(matrix, bias)


def _dense_blocks(node) -> Blocks:
    """Affine/Linear: one group per leading weight slice (a 2-D weight is one group), inner 1."""
    weight_shape = np.shape(node.weight)
    return Blocks(int(np.prod(weight_shape[:-2])), weight_shape[-2], weight_shape[-1], 1)


def node_shape(node, key: str = "output_type") -> tuple[int, ...] | None:
    """A node's (first) output or input type as a shape, e.g. (channels, length); None without one."""
    value = next(iter((getattr(node, key, None) or {}).values()), None)
    return None if value is None else tuple(int(v) for v in np.asarray(value).ravel())


def _conv1d_matrix(node) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Conv1d on (C_in, L_in) -> (C_out, L_out), cross-correlation with zero padding."""
    weight = np.asarray(node.weight, dtype=np.float64)
    out_channels, group_in, taps = weight.shape
    in_channels, length = node_shape(node, "input_type")
    out_length = node_shape(node)[1]
    stride, dilation, groups = int(node.stride), int(node.dilation), int(node.groups)
    padding = _padding(node.padding, dilation, taps)
    o, i, k, lo = np.meshgrid(np.arange(out_channels), np.arange(group_in), np.arange(taps),
                              np.arange(out_length), indexing="ij")
    source_channel = (o // (out_channels // groups)) * group_in + i
    position = lo * stride + k * dilation - padding
    valid = (position >= 0) & (position < length)
    rows = (o * out_length + lo)[valid]
    cols = (source_channel * length + position)[valid]
    matrix = sparse.csr_matrix((weight[o, i, k][valid], (rows, cols)),
                               shape=(out_channels * out_length, in_channels * length))
    return _clean(matrix, np.repeat(np.asarray(node.bias, dtype=np.float64), out_length))


def _conv1d_blocks(node) -> Blocks | None:
    """A pointwise Conv1d (one tap, stride 1, no padding): per group kron(W_g, I_L); None otherwise."""
    out_channels, group_in, taps = np.shape(node.weight)
    groups = int(node.groups)
    if taps != 1 or int(node.stride) != 1 or _padding(node.padding, int(node.dilation), taps) != 0:
        return None
    return Blocks(groups, out_channels // groups, group_in, node_shape(node, "input_type")[1])


def _clean(matrix, bias: np.ndarray) -> tuple[sparse.csr_matrix, np.ndarray]:
    matrix = sparse.csr_matrix(matrix)
    matrix.eliminate_zeros()  # a zero weight is no synapse
    return matrix, np.asarray(bias, dtype=np.float64)


PRIMITIVES: dict[str, Primitive] = {p.name: p for p in (
    Primitive("Input", "io", _pass),
    Primitive("Output", "io", _pass),
    Primitive("Linear", "synapse", _linear, _dense_matrix, _dense_blocks),
    Primitive("Affine", "synapse", _affine, _dense_matrix, _dense_blocks),
    Primitive("Conv1d", "synapse", _conv1d, _conv1d_matrix, _conv1d_blocks),
    Primitive("Scale", "synapse", _scale),
    Primitive("I", "neuron", _neuron(leaky=False, fires=False)),
    Primitive("LI", "neuron", _neuron(leaky=True, fires=False)),
    Primitive("IF", "neuron", _neuron(leaky=False, fires=True)),
    Primitive("LIF", "neuron", _neuron(leaky=True, fires=True)),
)}


def primitive(node) -> Primitive:
    """The handler of a NIR node's type; ValueError naming the type when there is none."""
    name = type(node).__name__
    if name not in PRIMITIVES:
        raise ValueError(f"NIR node type {name} is not supported (supported: {', '.join(PRIMITIVES)})")
    return PRIMITIVES[name]
