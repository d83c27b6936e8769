"""Building blocks of exported NIR graphs, shared by every model's exporter (in its deployment
module next to the model, see ssr.deploy): the exported-graph record the manifest is written from,
batch norm folded into an affine map, circulant rows of a circular filter, kernel-1 convolutions for
point-wise maps, fixed-point grids for quantisation-aware models, and the LIF node.

Weights are written in float64 (folded products are exact to 1e-16 there), neuron parameters in
float32 (exact values).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ssr.models.layers import FeatureBatchNorm
from ssr.spiking.fixed_point import fake_quantise, fake_quantise_bias
from ssr.spiking.lif import LIF, to_nir


@dataclass
class ExportedGraph:
    """A NIR graph plus what the manifest says about it."""

    nodes: dict[str, Any]
    edges: list[tuple[str, str]]
    layers: dict[str, str]  # node name -> the model layer (module name) it computes
    partition: list[dict[str, str]]  # one row per model layer: layer, where (chip | host | removed), why
    inputs: list[dict[str, Any]]  # [{"node", "shape"}]: what the host injects at every step
    outputs: list[dict[str, Any]]  # [{"node", "shape"}]: what the host reads
    host_arrays: dict[str, np.ndarray] = field(default_factory=dict)  # written to the .host.h5 file
    pre_processing: dict[str, Any] = field(default_factory=dict)
    post_processing: dict[str, Any] = field(default_factory=dict)


def float64_array(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().cpu().double().numpy()


def batch_norm_affine(norm: FeatureBatchNorm) -> tuple[np.ndarray, np.ndarray]:
    """Eval-mode batch norm as y = scale * x + shift per feature (float64)."""
    scale, shift = norm.folded()
    return float64_array(scale), float64_array(shift)


def circulant_rows(kernel: np.ndarray, rows: np.ndarray, scale: np.ndarray, residual_gain: float) -> np.ndarray:
    """Affine weight (D, len(rows), N) of a circular filter with kernel (N, D), its batch-norm scale
    (D,) and a residual of gain `residual_gain`: W[d, r, m] = scale_d k[(rows[r] - m) mod N, d]
    + residual_gain [m == rows[r]]."""
    length = kernel.shape[0]
    lags = (rows[:, None] - np.arange(length)[None, :]) % length  # (rows, N)
    weight = kernel[lags].transpose(2, 0, 1) * scale[:, None, None]  # (D, rows, N)
    weight[:, np.arange(len(rows)), rows] += residual_gain
    return weight


def weights_on_grid(weights: np.ndarray) -> np.ndarray:
    """Folded weights of a model trained with quantise_weights on their 8-bit grid (the function its
    training used, in float64)."""
    return fake_quantise(torch.from_numpy(weights), dtype=torch.float64).numpy()


def bias_on_grid(bias: np.ndarray) -> np.ndarray:
    return fake_quantise_bias(torch.from_numpy(bias), dtype=torch.float64).numpy()


def pointwise_conv(linear: torch.nn.Linear, scale: np.ndarray, shift: np.ndarray, length: int,
                   quantise: bool = False):
    """nn.Linear followed by batch norm (scale, shift) as a kernel-1 Conv1d over `length` positions;
    `quantise`: weights and bias on their fixed-point grids (a model trained with quantise_weights)."""
    import nir

    weight = float64_array(linear.weight) * scale[:, None]
    bias = float64_array(linear.bias) * scale + shift
    if quantise:
        weight, bias = weights_on_grid(weight), bias_on_grid(bias)
    return nir.Conv1d(input_shape=length, weight=weight[:, :, None], stride=1, padding=0, dilation=1,
                      groups=1, bias=bias)


def lif_node(lif: LIF, shape: tuple[int, ...]):
    return to_nir(lif.params, shape)
