"""LIF forward+backward speed on (T 4, batch 128, length 50, dim 256), one torch thread.

Ours (fused C++ kernel, and its pure-torch fallback) against spikingjelly's multi-step LIFNode
(torch backend; a benchmark-time dependency only) and a naive autograd loop. Also checks that
spikingjelly's spikes and input gradients equal ours on the same input (same neuron semantics).
The issue's reference on this machine: spikingjelly 140 ms, naive loop 118 ms, goal <= 50 ms.
"""

from __future__ import annotations

import statistics
import time

import torch

from bench.common import save_result
from ssr.spiking import kernel
from ssr.spiking.lif import lif_multistep

SHAPE = (4, 128, 50, 256)


def naive_lif(x: torch.Tensor) -> torch.Tensor:
    """Plain autograd loop with the ATan surrogate as a straight-through term."""
    v = torch.zeros_like(x[0])
    out = []
    for t in range(x.shape[0]):
        h = v + (x[t] - v) * 0.5
        smooth = torch.atan(torch.pi * (h - 1.0)) / torch.pi + 0.5
        spike = (h >= 1.0).float() + smooth - smooth.detach()
        out.append(spike)
        v = h * (1 - spike)
    return torch.stack(out)


def time_ms(function, x: torch.Tensor, grad: torch.Tensor, repeats: int = 15) -> float:
    times = []
    for i in range(repeats + 3):
        x.grad = None
        started = time.perf_counter()
        function(x).backward(grad)
        if i >= 3:
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> dict:
    torch.set_num_threads(1)
    generator = torch.Generator().manual_seed(0)
    x = (torch.randn(SHAPE, generator=generator) * 1.5).requires_grad_()
    grad = torch.randn(SHAPE, generator=generator)
    rows = {"ssr_fused_kernel_ms": time_ms(lif_multistep, x, grad) if kernel.load() else None}
    loader, kernel.load = kernel.load, lambda: None
    rows["ssr_torch_fallback_ms"] = time_ms(lif_multistep, x, grad)
    kernel.load = loader
    rows["naive_loop_ms"] = time_ms(naive_lif, x, grad)
    try:
        from spikingjelly.activation_based import neuron, surrogate
    except ImportError:
        print("spikingjelly not installed (make install pins it): skipping that row")
    else:
        from importlib.metadata import version

        # its pure-torch multi-step node (2.0 has no `backend` argument; 0.0.0.0.14's default was "torch")
        node = neuron.LIFNode(tau=2.0, surrogate_function=surrogate.ATan(), step_mode="m")
        rows["spikingjelly_version"] = version("spikingjelly")

        def spikingjelly(inputs: torch.Tensor) -> torch.Tensor:
            node.reset()
            return node(inputs)

        rows["spikingjelly_ms"] = time_ms(spikingjelly, x, grad)
        x.grad = None
        spikingjelly(x).backward(grad)
        sj_grad = x.grad.clone()
        x.grad = None
        ours = lif_multistep(x)
        ours.backward(grad)
        rows["spikes_equal_spikingjelly"] = bool(torch.equal(ours.detach(), spikingjelly(x).detach()))
        rows["max_grad_difference_vs_spikingjelly"] = float((x.grad - sj_grad).abs().max())
        rows["speedup_vs_spikingjelly"] = round(rows["spikingjelly_ms"] / rows["ssr_fused_kernel_ms"], 2)
    result = {"shape_T_B_N_D": list(SHAPE), "torch_threads": 1, "surrogate": "atan alpha=2",
              **{k: round(v, 2) if isinstance(v, float) else v for k, v in rows.items()},
              "goal_ms": 50, "reference_issue_ms": {"spikingjelly": 140, "naive_loop": 118}}
    save_result("lif_speed", result)
    return result


if __name__ == "__main__":
    print(main())
