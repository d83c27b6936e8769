"""The leaky integrate-and-fire neuron: one set of semantics for training, export and simulation.

Discrete update per time step (dt = 1), the paper's / spikingjelly's LIF with input decay and
hard reset (v_leak = v_reset = 0):

    h[t] = v[t-1] + (x[t] - v[t-1]) * (1 / tau)       charge
    s[t] = 1 if h[t] >= v_threshold else 0            fire
    v[t] = v_reset if s[t] else h[t]                  reset (hard)

with v[-1] = 0. The fire test is written h[t] > v_fire, where v_fire = `firing_threshold(v_threshold)`
is the largest float32 number below v_threshold: in float32 arithmetic (training) that is exactly
h >= v_threshold, and it is the strict comparison NIR and Lava use, with the threshold they are given,
so a float64 run of the model (verification) and a float64 run of the exported graph fire alike. x is the input current, (time, ...) in every multi-step function; spikes have the
same shape. Training replaces dH/dh in the backward pass by a surrogate (ssr.spiking.surrogate).

The same neuron in NIR (`nir.LIF`: tau dv/dt = v_leak - v + r I, fire on v > v_threshold, Euler
with dt = 1) and in Lava (`lava.proc.lif.process.LIF`) is given by `to_nir` and `to_lava`; this
module is the only place that mapping is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch

from ssr.config import ModelConfig
from ssr.spiking.surrogate import DEFAULT_ALPHA, SURROGATES


class LIFParams(NamedTuple):
    tau: float = 2.0  # membrane time constant in time steps (the paper's 2)
    v_threshold: float = 1.0  # firing threshold (spike when h >= v_threshold)
    v_reset: float = 0.0  # hard-reset potential, also the resting potential


@dataclass(frozen=True)
class SpikingConfig(ModelConfig):
    """The config fields every spiking model shares, declared once so they mean one thing
    everywhere (a base class of each spiking model's config)."""

    time_steps: int = 4  # T: steps each input is presented for (the paper's 4)
    tau: float = 2.0  # LIF time constant in steps (the paper's 2)
    surrogate: str = "atan"  # surrogate gradient of the spike in training: atan | sigmoid | rectangle

    def lif_params(self, v_threshold: float = 1.0) -> LIFParams:
        return LIFParams(tau=self.tau, v_threshold=v_threshold)


def firing_threshold(v_threshold: float) -> float:
    """The float32 number just below v_threshold: spike when h > firing_threshold(v_threshold)."""
    return float(np.nextafter(np.float32(v_threshold), np.float32(-np.inf)))


def neuron_update(v, x, tau=None, r=1.0, v_leak=0.0, v_threshold=None, v_reset=0.0, where=np.where):
    """One Euler step (dt = 1) of NIR's neurons, the one place the update is written (training's
    loop, the reference NIR executor and the peer interop call it; the fused kernel is tested
    against it). Arrays or tensors of any broadcastable shapes; `where` is np.where or torch.where.

        charge  h = v + (v_leak - v + r x) / tau      (LIF, LI; tau None: h = v + r x, for IF, I)
        fire    z = h > v_threshold                    (LIF, IF; v_threshold None: no firing, LI, I)
        reset   v' = v_reset where z, else h

    Returns (h, z, v'); z is None for a neuron that does not fire. Training's neuron is the LIF with
    r = 1, v_leak = 0 and v_threshold = firing_threshold(its threshold): bit for bit the charge
    h = v + (x - v) / tau, since (0 - v) + x is x - v in IEEE arithmetic.
    """
    h = v + r * x if tau is None else v + (1.0 / tau) * ((v_leak - v) + r * x)
    if v_threshold is None:
        return h, None, h
    fired = h > v_threshold
    return h, fired, where(fired, v_reset, h)


def lif_step(x: torch.Tensor, v: torch.Tensor, params: LIFParams = LIFParams()) -> tuple[torch.Tensor, torch.Tensor]:
    """One time step (no surrogate): x, v (...) -> spikes (...) in {0, 1}, next v (...)."""
    _, fired, v = neuron_update(v, x, params.tau, v_threshold=firing_threshold(params.v_threshold),
                                v_reset=params.v_reset, where=torch.where)
    return fired.to(x.dtype), v


SURROGATE_KERNEL_IDS = {"atan": 0, "sigmoid": 1, "rectangle": 2}


def _charge_loop(x: torch.Tensor, tau: float, v_fire: float, v_reset: float) -> torch.Tensor:
    """h[t] for every step (time, ...): the reference loop the fused kernel reproduces exactly
    (v_fire = firing_threshold(v_threshold))."""
    charged = torch.empty_like(x)
    v = torch.zeros_like(x[0])
    for t in range(x.shape[0]):
        charged[t], _, v = neuron_update(v, x[t], tau, v_threshold=v_fire, v_reset=v_reset, where=torch.where)
    return charged


class _MultiStepLIF(torch.autograd.Function):
    """T steps forward; backward through time in closed form (no autograd graph is built).

    Uses the fused C++ kernel for float32 CPU tensors when it is available (ssr.spiking.kernel),
    else a torch loop; both compute the same float32 operations in the same order. (The kernel
    tests h >= v_threshold, identical to h > firing_threshold(v_threshold) in float32; the loop, which
    also serves float64, tests the latter.) A float64 forward (verification, the Lava comparison)
    runs the kernel's float64 loop, which tests the latter too; its backward is the torch loop's.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, tau: float, v_threshold: float, v_reset: float,
                surrogate: str, alpha: float, detach_reset: bool) -> torch.Tensor:
        kernel = _kernel_for(x)
        ctx.save_for_backward(x)
        ctx.config = (tau, v_threshold, v_reset, surrogate, alpha, detach_reset)
        if kernel is not None:
            return kernel.forward(x, tau, v_threshold, v_reset)
        v_fire = firing_threshold(v_threshold)
        kernel = _kernel_for(x, torch.float64)
        if kernel is not None:
            return kernel.forward_float64(x, tau, v_fire, v_reset)
        return (_charge_loop(x, tau, v_fire, v_reset) > v_fire).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_spikes: torch.Tensor):
        (x,) = ctx.saved_tensors
        tau, v_threshold, v_reset, surrogate, alpha, detach_reset = ctx.config
        kernel = _kernel_for(x)
        if kernel is not None:
            grad_x = kernel.backward(x, grad_spikes, tau, v_threshold, v_reset,
                                     SURROGATE_KERNEL_IDS[surrogate], alpha, detach_reset)
            return grad_x, None, None, None, None, None, None
        decay, v_fire = 1.0 / tau, firing_threshold(v_threshold)
        charged = _charge_loop(x, tau, v_fire, v_reset)
        surrogate_grad = SURROGATES[surrogate]
        grad_x = torch.empty_like(charged)
        grad_v = torch.zeros_like(charged[0])  # dL/dv[t] flowing back from step t + 1
        for t in range(charged.shape[0] - 1, -1, -1):
            h = charged[t]
            not_fired = (h <= v_fire).to(h.dtype)
            dspike_dh = surrogate_grad(h - v_threshold, alpha)
            dv_dh = not_fired if detach_reset else not_fired + (v_reset - h) * dspike_dh
            grad_h = grad_spikes[t] * dspike_dh + grad_v * dv_dh
            grad_x[t] = grad_h * decay
            grad_v = grad_h * (1.0 - decay)
        return grad_x, None, None, None, None, None, None


def _kernel_for(x: torch.Tensor, dtype: torch.dtype = torch.float32):
    """The fused kernel for a CPU tensor of `dtype` (float32: forward and backward; float64: forward)."""
    if x.device.type != "cpu" or x.dtype != dtype:
        return None
    from ssr.spiking import kernel

    return kernel.load()


def lif_multistep(x: torch.Tensor, params: LIFParams = LIFParams(), surrogate: str = "atan",
                  alpha: float | None = None, detach_reset: bool = False) -> torch.Tensor:
    """Spikes (time, ...) of a LIF layer driven by x (time, ...), starting from v = 0.

    surrogate: "atan" (default, alpha 2), "sigmoid" or "rectangle". detach_reset: treat the reset
    as a constant in the backward pass (spikingjelly's option; off by default, as there).
    """
    if surrogate not in SURROGATES:
        raise ValueError(f"unknown surrogate {surrogate!r}; choose one of {', '.join(SURROGATES)}")
    alpha = DEFAULT_ALPHA[surrogate] if alpha is None else alpha
    return _MultiStepLIF.apply(x, params.tau, params.v_threshold, params.v_reset, surrogate, alpha,
                               detach_reset)


class LIF(torch.nn.Module):
    """Multi-step LIF layer: (time, ...) currents -> (time, ...) spikes. A thin shell over
    `lif_multistep`."""

    def __init__(self, params: LIFParams = LIFParams(), surrogate: str = "atan", alpha: float | None = None,
                 detach_reset: bool = False) -> None:
        super().__init__()
        self.params, self.surrogate, self.alpha, self.detach_reset = params, surrogate, alpha, detach_reset

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return lif_multistep(x, self.params, self.surrogate, self.alpha, self.detach_reset)

    def extra_repr(self) -> str:
        return f"tau={self.params.tau}, v_threshold={self.params.v_threshold}, surrogate={self.surrogate}"


def to_nir(params: LIFParams, shape: tuple[int, ...]):
    """The same neuron as `nir.LIF` (dt = 1): tau, r = 1, v_leak = 0, v_reset, and v_threshold set to
    the float32 number just below ours, because NIR fires on v > v_threshold where we fire on
    h >= v_threshold (identical in float32 arithmetic). Every parameter has the full shape."""
    import nir

    full = np.ones(shape, dtype=np.float32)
    return nir.LIF(tau=full * np.float32(params.tau), r=full.copy(), v_leak=full * 0,
                   v_threshold=full * np.float32(firing_threshold(params.v_threshold)),
                   v_reset=full * np.float32(params.v_reset))


def to_lava(params: LIFParams) -> dict[str, float]:
    """Lava LIF (floating_pt) parameters giving the same neuron.

    Lava updates u[t] = u[t-1] (1 - du) + a_in; v[t] = v[t-1] (1 - dv) + u[t] + bias; fires on
    v > vth, then v = 0. With du = 1 (no current memory), dv = 1 / tau and every synaptic weight into
    the layer scaled by `input_scale` = 1 / tau, v[t] = v[t-1] (1 - 1/tau) + x[t] / tau: our charge.
    """
    if params.v_reset != 0.0:
        raise ValueError(f"Lava's LIF resets to 0; v_reset={params.v_reset} cannot be mapped")
    return {"du": 1.0, "dv": 1.0 / params.tau, "vth": firing_threshold(params.v_threshold),
            "bias_mant": 0.0, "input_scale": 1.0 / params.tau}
