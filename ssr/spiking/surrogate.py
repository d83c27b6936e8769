"""Surrogate gradients for the Heaviside spike function, each as (name -> derivative).

The forward pass is always the exact step H(x) = 1[x >= 0]; the backward pass replaces dH/dx by the
derivative of a smooth function sigma(x) that approaches H:

- atan (default, alpha = 2): sigma(x) = arctan(pi/2 * alpha * x) / pi + 1/2
  (Fang et al., "Incorporating Learnable Membrane Time Constants...", ICCV 2021; spikingjelly ATan)
  sigma'(x) = alpha / 2 / (1 + (pi/2 * alpha * x)^2)
- sigmoid (alpha = 4): sigma(x) = 1 / (1 + exp(-alpha x)); sigma'(x) = alpha s (1 - s)
  (Zenke & Ganguli, "SuperSpike", Neural Computation 2018, use its fast-sigmoid cousin)
- rectangle (alpha = 1): sigma'(x) = 1[|x| < 1 / (2 alpha)] * alpha
  (Wu et al., "Spatio-Temporal Backpropagation", Frontiers in Neuroscience 2018)
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

DEFAULT_ALPHA = {"atan": 2.0, "sigmoid": 4.0, "rectangle": 1.0}


def atan_grad(x: torch.Tensor, alpha: float) -> torch.Tensor:
    return (alpha / 2) / (1 + (math.pi / 2 * alpha * x).square())


def sigmoid_grad(x: torch.Tensor, alpha: float) -> torch.Tensor:
    s = torch.sigmoid(alpha * x)
    return alpha * s * (1 - s)


def rectangle_grad(x: torch.Tensor, alpha: float) -> torch.Tensor:
    return (x.abs() < 0.5 / alpha).to(x.dtype) * alpha


SURROGATES: dict[str, Callable[[torch.Tensor, float], torch.Tensor]] = {
    "atan": atan_grad, "sigmoid": sigmoid_grad, "rectangle": rectangle_grad,
}


def smooth_function(name: str, x: torch.Tensor, alpha: float) -> torch.Tensor:
    """The smooth sigma(x) whose derivative each surrogate claims to be (used by the tests)."""
    if name == "atan":
        return torch.arctan(math.pi / 2 * alpha * x) / math.pi + 0.5
    if name == "sigmoid":
        return torch.sigmoid(alpha * x)
    if name == "rectangle":
        return torch.clamp(alpha * x + 0.5, 0.0, 1.0)
    raise ValueError(f"unknown surrogate {name!r}; choose one of {', '.join(SURROGATES)}")


class _Heaviside(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, surrogate: str, alpha: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.surrogate, ctx.alpha = surrogate, alpha
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (x,) = ctx.saved_tensors
        return grad * SURROGATES[ctx.surrogate](x, ctx.alpha), None, None


def heaviside(x: torch.Tensor, surrogate: str = "atan", alpha: float | None = None) -> torch.Tensor:
    """Spikes 1[x >= 0] with the surrogate's derivative in the backward pass (a stateless spiking
    neuron: the gates of the spiking GRU)."""
    if surrogate not in SURROGATES:
        raise ValueError(f"unknown surrogate {surrogate!r}; choose one of {', '.join(SURROGATES)}")
    return _Heaviside.apply(x, surrogate, DEFAULT_ALPHA[surrogate] if alpha is None else alpha)
