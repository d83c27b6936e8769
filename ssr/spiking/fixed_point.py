"""Loihi 2's fixed-point grids, defined once: the Lava compiler quantises onto them and
quantisation-aware training (SSR's `quantise_weights`) trains on them, so a model fine-tuned with
them compiles to fixed point without rounding a single weight or bias.

Weights. The grid of one synapse layer is m * 2^k: m an integer in [-128, 127] (lava's mixed-sign
8-bit weights are the even mantissas 2m in [-256, 254] times 2^weight_exp) and k the smallest integer
with 127 * 2^k >= the layer's largest |weight|.
Biases. A LIF layer's bias is (n + 1/2) * 2^e, n an integer in [-2048, 2047], e the smallest with
2047 * 2^e >= the largest |bias|: on Loihi the odd 13-bit mantissa 2n + 1 times 2^(e - 1). The half
step keeps the membrane potential off the threshold itself, where Loihi (v > vth) and our neuron
(v >= v_th) would disagree: with every weight a multiple of 2^e, each step's input is an odd multiple
of 2^(e - 1) and v never equals a multiple of it.
Everything else the compiler scales by (1/tau, a LIF's threshold vth, the readout's scale) is a power
of two, so scaling keeps a value on its grid.
"""

from __future__ import annotations

import math

import numpy as np
import torch

WEIGHT_LEVELS = 127  # largest |m|; m = -128 is allowed too
BIAS_LEVELS = 2047  # largest |n + 1/2| - 1/2 of a trained bias; Loihi's 13-bit mantissa holds 2n + 1
READOUT_PEAK = 254  # the readout integrator's weights are scaled so that the largest is in (127, 254]


def grid_exponent(peak: float, levels: int = WEIGHT_LEVELS) -> int:
    """The smallest k with levels * 2^k >= peak (peak: a layer's largest |weight|; 0 for peak 0)."""
    if not peak > 0:
        return 0
    exponent = math.ceil(math.log2(peak / levels))
    while math.ldexp(levels, exponent) < peak:  # log2's rounding, corrected exactly
        exponent += 1
    while math.ldexp(levels, exponent - 1) >= peak:
        exponent -= 1
    return exponent


def power_of_two_at_most(value: float) -> float:
    """The largest 2^j <= value (value > 0)."""
    mantissa, exponent = math.frexp(value)  # value = mantissa * 2^exponent, mantissa in [0.5, 1)
    return math.ldexp(1.0, exponent - 1)


def readout_scale(peak: float) -> float:
    """The power of two the compiler multiplies the readout integrator's weights by (peak: their
    largest |value|); the integrator's bias is rounded to 1 / this."""
    return power_of_two_at_most(READOUT_PEAK / peak) if peak > 0 else 1.0


def grid_mantissas(weights: np.ndarray, peak: float | None = None) -> tuple[np.ndarray, int]:
    """(m, k) with m * 2^k the weights on their grid: m integers in [-128, 127] (float64 array),
    k from `peak` (default: the weights' largest |value|)."""
    weights = np.asarray(weights, dtype=np.float64)
    exponent = grid_exponent(float(np.abs(weights).max(initial=0.0)) if peak is None else peak)
    return np.clip(np.round(weights / math.ldexp(1.0, exponent)), -WEIGHT_LEVELS - 1, WEIGHT_LEVELS), exponent


def fake_quantise(weights: torch.Tensor, peak: float | None = None,
                  dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Quantisation-aware training: the weights (any shape; pass float64 so that folding matches the
    exporter's float64 to the last bit) on their 8-bit grid, as `dtype` values (exact: 8-bit
    mantissas), with the gradient passed straight through to `weights`."""
    with torch.no_grad():
        exponent = grid_exponent(float(weights.abs().max()) if peak is None else peak)
        step = math.ldexp(1.0, exponent)
        grid = torch.round(weights / step).clamp(-WEIGHT_LEVELS - 1, WEIGHT_LEVELS) * step
    return straight_through(grid, weights, dtype)


def straight_through(grid: torch.Tensor, values: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """`grid` (the rounded `values`) as `dtype`, exactly, with the gradient of `values` passed
    straight through (identity)."""
    cast = values.to(dtype)
    return grid.to(dtype) + (cast - cast.detach())


def fake_quantise_bias(bias: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A LIF layer's bias (any shape, float64) on its half-step grid (n + 1/2) 2^e, as `dtype`, with
    the gradient passed straight through."""
    with torch.no_grad():
        step = math.ldexp(1.0, grid_exponent(float(bias.abs().max()), BIAS_LEVELS))
        grid = (torch.floor(bias / step).clamp(-BIAS_LEVELS - 1, BIAS_LEVELS) + 0.5) * step
    return straight_through(grid, bias, dtype)


def fake_quantise_readout_bias(bias: torch.Tensor, weight_peak: float, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The readout integrator's per-step bias rounded as the compiler rounds it (to 1 / readout_scale)."""
    with torch.no_grad():
        scale = readout_scale(weight_peak)
        grid = torch.round(bias * scale) / scale
    return straight_through(grid, bias, dtype)
