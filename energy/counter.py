"""Counting the operations of a PyTorch model per layer, at the level of aten operators.

A `TorchDispatchMode` sees every tensor operation the model runs, including the ones module hooks
miss (matmul and einsum in forward code, the FFT, the scoring against the item table); module hooks
only say which layer (innermost module) is running. Rules, per operation:

- fused attention (`scaled_dot_product_attention`'s kernels): Q K^T and the weighted sum of V,
  L S (E + E_v) MACs per batch and head.
- `mm` / `addmm` / `bmm` / `convolution` in a layer the model declares spike-driven
  (`layer_kinds()`): each spike of the spike operand (every value 0 or 1) costs one accumulate per
  output it feeds, ACs = spikes x fan-out (for a convolution, counted exactly, borders included). In
  a layer declared float: MACs = the dense product's
  multiply-accumulates (M K N; per output element C_in/groups x kernel for a convolution), whatever
  the values. In a spike-declared layer whose operands are not spikes (a model computing a rate code
  in float), MACs, and the layer is listed in `OpCounter.not_spikes`. Undeclared layers: by value.
- `_fft_r2c` / `_fft_c2r` (real FFT of length n): n log2 n MACs and (n/2) log2 n float additions per
  transformed vector; `_fft_c2c`: 2 n log2 n MACs and n log2 n additions (radix-2: n/2 log2 n
  butterflies, each one complex multiply = 4 real multiply-adds, and 2 more real additions). Elementwise complex multiplies (the
  filter's spectrum product): 4 MACs each.
- LIF layers (modules `ssr.spiking.lif.LIF`, run by a fused kernel the dispatcher does not see):
  neuron updates = input elements (time steps x neurons), and the spikes they emit.
- Elementwise real operations (norms, residual adds, activations, softmax) are not counted: they are
  a small share of any of these models and they fold into neighbouring maps on a chip.

Operations outside every submodule that produce (batch, items + 1) scores are the layer "score".
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import torch
from torch.utils._python_dispatch import TorchDispatchMode

aten = torch.ops.aten
SDPA = tuple(getattr(aten, name) for name in (
    "_scaled_dot_product_flash_attention_for_cpu", "_scaled_dot_product_flash_attention",
    "_scaled_dot_product_efficient_attention", "_scaled_dot_product_cudnn_attention",
    "_scaled_dot_product_attention_math") if hasattr(aten, name))


@dataclass
class LayerCount:
    """Per-layer totals over the counted sequences."""

    name: str
    macs: float = 0.0  # float multiply-accumulates
    acs: float = 0.0  # accumulates driven by spikes (synaptic operations)
    float_adds: float = 0.0  # float additions without a multiply (the FFT's)
    neuron_updates: float = 0.0
    spikes: float = 0.0
    ops: dict[str, float] = field(default_factory=lambda: defaultdict(float))  # op name -> MACs + ACs

    def to_dict(self, sequences: int) -> dict:
        per = 1.0 / sequences
        return {"name": self.name, "macs": self.macs * per, "acs": self.acs * per, "float_adds": self.float_adds * per,
                "neuron_updates": self.neuron_updates * per, "spikes": self.spikes * per,
                # spikes per neuron update, for neuron layers (integrators, which also count ACs, do not spike)
                "firing_rate": self.spikes / self.neuron_updates if self.neuron_updates and not self.acs else None,
                "ops": {k: v * per for k, v in self.ops.items()}}


def is_spikes(tensor: torch.Tensor) -> bool:
    """Every value 0 or 1 (and real): a spike tensor."""
    if tensor.is_complex() or tensor.numel() == 0:
        return False
    return bool(((tensor == 0) | (tensor == 1)).all())


class OpCounter(TorchDispatchMode):
    """Counts operations into `layers` (name -> LayerCount) while active; see the module docstring."""

    def __init__(self, model: torch.nn.Module, score_width: int | None = None,
                 kinds: dict[str, str] | None = None) -> None:
        super().__init__()
        self.layers: dict[str, LayerCount] = {}
        self.kinds = kinds or {}
        self.not_spikes: set[str] = set()
        self.stack: list[str] = []
        self.score_width = score_width
        self.handles = []
        from ssr.spiking.lif import LIF

        for name, module in model.named_modules():
            if not name:
                continue
            self.handles.append(module.register_forward_pre_hook(self._enter(name)))
            self.handles.append(module.register_forward_hook(self._leave))
            if isinstance(module, LIF):
                self.handles.append(module.register_forward_hook(self._count_lif(name)))

    def _enter(self, name: str):
        def hook(module, args) -> None:
            self.stack.append(name)
        return hook

    def _leave(self, module, args, output) -> None:
        self.stack.pop()

    def _count_lif(self, name: str):
        def hook(module, args, output):
            layer = self.layer(name)
            layer.neuron_updates += args[0].numel()
            layer.spikes += float(output.sum())
        return hook

    def layer(self, name: str) -> LayerCount:
        if name not in self.layers:
            self.layers[name] = LayerCount(name)
        return self.layers[name]

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()

    def _current(self, out: torch.Tensor | None) -> str:
        if self.stack:
            return self.stack[-1]
        if out is not None and self.score_width and out.shape[-1] == self.score_width:
            return "score"
        return "(top level)"

    def _add(self, op: str, out, macs: float = 0.0, acs: float = 0.0, float_adds: float = 0.0) -> None:
        layer = self.layer(self._current(out if isinstance(out, torch.Tensor) else None))
        layer.macs += macs
        layer.acs += acs
        layer.float_adds += float_adds
        layer.ops[op] += macs + acs + float_adds

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        packet = func.overloadpacket
        if packet in (aten.mm, aten.bmm, aten.addmm):
            a, b = (args[1], args[2]) if packet is aten.addmm else (args[0], args[1])
            self._matmul(packet.__name__, a, b, out)
        elif packet is aten.convolution:
            self._convolution(args, out)
        elif packet in SDPA:
            self._attention(packet.__name__, args[0], args[1], args[2], out)
        elif packet in (aten._fft_r2c, aten._fft_c2r, aten._fft_c2c):
            self._fft(packet.__name__, args, out)
        elif packet is aten.mul and isinstance(out, torch.Tensor) and out.is_complex():
            self._add("complex_mul", out, macs=4.0 * out.numel())
        return out

    def _spike_driven(self, out) -> bool | None:
        kind = self.kinds.get(self._current(out if isinstance(out, torch.Tensor) else None))
        return None if kind is None else kind == "spike"

    def _matmul(self, op: str, a: torch.Tensor, b: torch.Tensor, out: torch.Tensor) -> None:
        rows, inner, cols = a.shape[-2], a.shape[-1], b.shape[-1]
        batch = a.numel() // (rows * inner)
        declared = self._spike_driven(out)
        if declared is not False:
            if is_spikes(a):  # each spike of a feeds `cols` outputs
                return self._add(op, out, acs=float(a.count_nonzero()) * cols)
            if is_spikes(b):  # each spike of b feeds `rows` outputs
                return self._add(op, out, acs=float(b.count_nonzero()) * rows)
            if declared:
                self.not_spikes.add(self._current(out))
        self._add(op, out, macs=float(batch * rows * inner * cols))

    def _convolution(self, args, out: torch.Tensor) -> None:
        x, weight = args[0], args[1]
        if self._spike_driven(out) is not False and is_spikes(x):
            # every (spike, synapse) event exactly: the same convolution with all-ones weights on the spikes
            ones = torch.ones_like(weight)
            events = aten.convolution(x, ones, None, *args[3:])
            self._add("convolution", out, acs=float(events.sum()))
        else:  # dense: C_in / groups x kernel multiply-accumulates per output element
            self._add("convolution", out, macs=float(out.numel() * weight.shape[1] * math.prod(weight.shape[2:])))

    def _attention(self, op: str, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, out) -> None:
        """Fused scaled-dot-product attention: Q K^T and the weighted sum of V, dense."""
        batch_heads = q.numel() // (q.shape[-2] * q.shape[-1])
        macs = batch_heads * q.shape[-2] * k.shape[-2] * (q.shape[-1] + v.shape[-1])
        self._add(op, out[0] if isinstance(out, tuple) else out, macs=float(macs))

    def _fft(self, op: str, args, out: torch.Tensor) -> None:
        x, dims = args[0], args[1]
        if op == "_fft_c2r":  # the length is the real output's
            n = math.prod(out.shape[d] for d in dims)
        else:
            n = math.prod(x.shape[d] for d in dims)
        vectors = (out.numel() if op == "_fft_c2r" else x.numel()) / n
        log_n = math.log2(n) if n > 1 else 0.0
        factor = 2.0 if op == "_fft_c2c" else 1.0
        self._add(op, out, macs=vectors * factor * n * log_n, float_adds=vectors * factor * n * log_n / 2)


@torch.no_grad()
def count_model(model, *inputs: torch.Tensor, batch_size: int = 256) -> dict[str, LayerCount]:
    """Per-layer counts of `model.score_all` over B sequences, totals over B. `inputs`: what the
    model reads (model.inputs), each (B, N): the item windows, plus event times for time-aware models."""
    model = model.eval()
    counter = OpCounter(model, score_width=model.num_items + 1, kinds=model.layer_kinds())
    try:
        with counter:
            for start in range(0, len(inputs[0]), batch_size):
                model.score_all(*(a[start:start + batch_size] for a in inputs))
    finally:
        counter.remove()
    return counter.layers
