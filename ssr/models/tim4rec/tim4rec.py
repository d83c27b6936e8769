"""TiM4Rec (Fan et al., Neurocomputing 2025, arXiv 2409.16182): time-aware SSD, pure PyTorch.

A linear-complexity ANN baseline: Mamba-2's structured state space duality (SSD) layer whose step
sizes are modulated by the time intervals between a user's interactions. As the released code
(AlwaysFHao/TiM4Rec) builds it, with its MovieLens 64-d configuration as defaults:

    x = LayerNorm(Dropout(E_item[s]))                                (batch, N, hidden), no positions
    tau = LayerNorm_N(Dropout(dt)), dt_n = t_n - t_(n-1)             (batch, heads, N): time intervals
    per layer:  y, tau = TiSSD(x, tau)
                x = LayerNorm(Dropout(y) + x)
                x = LayerNorm(Dropout(W2 Dropout(Hardswish(W1 x))) + x)       feed-forward, 4 hidden
    score(i) = x[:, -1] . E_item[i]

TiSSD: [z, xBC, dt] = in_proj(x); xBC = Hardswish(causal depthwise conv_4(xBC)); the time branch
    g = tau * MLP_N(tau);  g = Hardswish(conv_4(Hardswish(conv_4(g))))  (per head, causal, along N)
    delta = softplus(dt * g + dt_bias),  A = -exp(A_log)                  (batch, N, heads)
    y_n = sum_(m <= n) (C_n . B_m) exp(sum_(m < k <= n) delta_k A) delta_m x_m + D x_n   per head
    y = out_proj(RMSNorm(y * SiLU(z))),  tau' = LayerNorm_N(r tau + (1 - r) g),  r = sigmoid(W_r tau)
The SSD sum is computed in its quadratic (masked attention-like) form: exact, and for N <= 200 the
cheapest form in plain PyTorch (no mamba-ssm / Triton kernels).

Choices where our data layout differs from RecBole's (ours: left-padded, newest last): padding
positions are zeroed before the convolutions and excluded from the SSD sum (so the newest output
equals the right-padded computation), and the time interval is 0 at a sequence's first item and at
padding (the released code feeds 0 - t_last at the first right-padding position). The length-axis
maps (MLP_N, W_r, LayerNorm_N) are learned on our positions. The last layer computes no time
output (the released code computes one and never reads it: parameters without a gradient).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ssr.config import ModelConfig
from ssr.models.base import SequentialRecommender, register
from ssr.models.layers import Dropout


@dataclass(frozen=True)
class TiM4RecConfig(ModelConfig):
    hidden: int = 64
    layers: int = 2
    dropout: float = 0.2  # config4movie_64d: dropout_prob 0.2 (Beauty: 0.4)
    time_dropout: float = 0.2  # time_drop_out (Beauty: 0.0)
    state: int = 32  # d_state
    conv: int = 4  # d_conv
    expand: int = 2
    head_dim: int = 32  # (hidden * expand) / head_dim = 4 heads
    norm_eps: float = 1e-12  # (Beauty: 1e-5)
    time_aware: bool = True  # is_time
    pointwise_time_gate: bool = False  # p2p_residual (Beauty: True)
    init_std: float = 0.02

    def check(self) -> None:
        if (self.hidden * self.expand) % self.head_dim:
            raise ValueError(f"TiM4RecConfig: hidden x expand ({self.hidden * self.expand}) must be a multiple of "
                             f"head_dim ({self.head_dim})")


def causal_depthwise(conv: nn.Conv1d, x: torch.Tensor) -> torch.Tensor:
    """A depthwise Conv1d along the sequence, causal: x (batch, channels, N) -> same shape."""
    return conv(F.pad(x, (conv.kernel_size[0] - 1, 0)))


class TiSSD(nn.Module):
    """The time-aware SSD mixer: (batch, N, hidden) and time features (batch, heads, N) -> both."""

    def __init__(self, config: TiM4RecConfig, length: int, passes_time: bool = True) -> None:
        super().__init__()
        inner, state = config.hidden * config.expand, config.state
        self.heads, self.head_dim, self.state = inner // config.head_dim, config.head_dim, state
        self.inner, self.time_aware = inner, config.time_aware
        self.passes_time = config.time_aware and passes_time  # the last layer's time output is never read
        self.in_proj = nn.Linear(config.hidden, 2 * inner + 2 * state + self.heads)  # [z, x, B, C, dt]
        self.conv = nn.Conv1d(inner + 2 * state, inner + 2 * state, config.conv, groups=inner + 2 * state)
        dt = torch.exp(torch.rand(self.heads) * (math.log(0.1) - math.log(0.001)) + math.log(0.001)).clamp(min=1e-4)
        self.dt_bias = nn.Parameter(dt + torch.log(-torch.expm1(-dt)))  # softplus^-1 of dt in [0.001, 0.1]
        self.A_log = nn.Parameter(torch.log(torch.empty(self.heads).uniform_(1, 16)))
        self.D = nn.Parameter(torch.ones(self.heads))
        self.norm_weight = nn.Parameter(torch.ones(inner))  # gated RMSNorm
        self.norm_eps = config.norm_eps
        self.out_proj = nn.Linear(inner, config.hidden)
        if config.time_aware:
            self.time_conv_1 = nn.Conv1d(self.heads, self.heads, config.conv, groups=self.heads)
            self.time_conv_2 = nn.Conv1d(self.heads, self.heads, config.conv, groups=self.heads)
            self.time_scale = nn.Sequential(Dropout(config.time_dropout), nn.Linear(length, length), nn.SiLU(),
                                            nn.Linear(length, length))
        if self.passes_time:
            self.time_gate = nn.Sequential(Dropout(config.time_dropout),
                                           nn.Linear(length, length if config.pointwise_time_gate else 1), nn.Sigmoid())
            self.time_norm = nn.LayerNorm(length, eps=config.norm_eps)

    def forward(self, x: torch.Tensor, time: torch.Tensor | None, real: torch.Tensor, last_only: bool = False):
        """x (batch, N, hidden), time (batch, heads, N) or None, real (batch, N) bool (not padding) ->
        (batch, N, hidden) and the next layer's time; with `last_only`, (batch, 1, hidden) for the
        newest position (the state space sum still reads every position)."""
        batch, length, _ = x.shape
        z, xbc, dt = self.in_proj(x).split([self.inner, self.inner + 2 * self.state, self.heads], dim=-1)
        xbc = F.hardswish(causal_depthwise(self.conv, (xbc * real[..., None]).transpose(1, 2)).transpose(1, 2))
        values, keys_b, queries_c = xbc.split([self.inner, self.state, self.state], dim=-1)
        if self.time_aware:
            gated = time * self.time_scale(time)  # (batch, heads, N)
            gated = F.hardswish(causal_depthwise(self.time_conv_1, gated))
            gated = F.hardswish(causal_depthwise(self.time_conv_2, gated))
            dt = dt * gated.transpose(1, 2)  # (batch, N, heads)
        delta = F.softplus(dt + self.dt_bias) * real[..., None]  # padding: no step, no input
        newest = slice(length - 1, length) if last_only else slice(None)
        y = ssd(values.view(batch, length, self.heads, self.head_dim), delta, -torch.exp(self.A_log),
                keys_b, queries_c, last_only) + values[:, newest].reshape(batch, -1, self.heads, self.head_dim) * self.D[:, None]
        y = y.reshape(batch, -1, self.inner) * F.silu(z[:, newest])
        y = y * torch.rsqrt(y.pow(2).mean(-1, keepdim=True) + self.norm_eps) * self.norm_weight
        out = self.out_proj(y)
        if not self.passes_time:
            return out, None
        ratio = self.time_gate(time)
        return out, self.time_norm(ratio * time + (1 - ratio) * gated)


def ssd(x: torch.Tensor, delta: torch.Tensor, a: torch.Tensor, b: torch.Tensor, c: torch.Tensor,
        last_only: bool = False) -> torch.Tensor:
    """The SSD (scalar-decay) state space sum in its quadratic form, zero initial state.

    x (batch, N, heads, head_dim); delta (batch, N, heads) step sizes; a (heads,) negative decay
    rates; b, c (batch, N, state) shared by the heads. Returns y (batch, N, heads, head_dim), or
    (batch, 1, heads, head_dim) for the newest position with `last_only`:
    y_n = sum_{m <= n} (c_n . b_m) exp(sum_{m < k <= n} delta_k a) delta_m x_m.
    """
    length = x.shape[1]
    log_decay = torch.cumsum(delta * a, dim=1).transpose(1, 2)  # (batch, heads, N): sum_{k <= n}
    if last_only:  # the newest row sees every position: nothing to mask
        segment = log_decay[..., -1:, None] - log_decay[..., None, :]  # (batch, heads, 1, N)
        weights = torch.exp(segment) * (c[:, -1:] @ b.transpose(1, 2))[:, None]
        return (weights @ (x * delta[..., None]).transpose(1, 2)).transpose(1, 2)
    segment = log_decay[..., :, None] - log_decay[..., None, :]  # (batch, heads, n, m): sum_{m < k <= n}
    future = torch.ones(length, length, dtype=torch.bool, device=x.device).triu(1)
    weights = torch.exp(segment.masked_fill(future, -torch.inf)) * (c @ b.transpose(1, 2))[:, None]
    return (weights @ (x * delta[..., None]).transpose(1, 2)).transpose(1, 2)  # delta_m x_m: on the small side


class TiM4RecLayer(nn.Module):
    def __init__(self, config: TiM4RecConfig, length: int, last: bool = False) -> None:
        super().__init__()
        self.mixer = TiSSD(config, length, passes_time=not last)
        self.norm = nn.LayerNorm(config.hidden, eps=config.norm_eps)
        width = 4 * config.hidden
        self.ffn_in, self.ffn_out = nn.Linear(config.hidden, width), nn.Linear(width, config.hidden)
        self.ffn_norm = nn.LayerNorm(config.hidden, eps=1e-12)  # the released FeedForward's default eps
        self.dropout = Dropout(config.dropout)
        self.residual = config.layers > 1

    def forward(self, x: torch.Tensor, time: torch.Tensor | None, real: torch.Tensor, last_only: bool = False):
        mixed, time = self.mixer(x, time, real, last_only)
        x = x[:, -1:] if last_only else x  # everything after the mixer is point-wise
        x = self.norm(self.dropout(mixed) + x if self.residual else self.dropout(mixed))
        hidden = self.ffn_out(self.dropout(F.hardswish(self.ffn_in(x))))
        return self.ffn_norm(self.dropout(hidden) + x), time


@register
class TiM4Rec(SequentialRecommender):
    """TiM4Rec: time-aware structured state space duality (Mamba-2 SSD) layers over the sequence."""

    name = "tim4rec"
    kind = "ann"
    Config = TiM4RecConfig
    uses_time = True
    search_space = {"lr": ("log", 1e-4, 1e-2), "dropout": ("float", 0.1, 0.5), "time_dropout": ("float", 0.0, 0.4),
                    "layers": ("int", 1, 3), "state": ("choice", [16, 32, 64])}

    def __init__(self, config: TiM4RecConfig, num_items: int, max_len: int) -> None:
        super().__init__(config, num_items, max_len)
        if (config.hidden * config.expand) % config.head_dim:
            raise ValueError(f"TiM4RecConfig: hidden x expand ({config.hidden * config.expand}) must be a multiple "
                             f"of head_dim ({config.head_dim})")
        self.heads = config.hidden * config.expand // config.head_dim
        self.item_embedding = nn.Embedding(num_items + 1, config.hidden, padding_idx=0)
        self.input_norm = nn.LayerNorm(config.hidden, eps=config.norm_eps)
        self.time_norm = nn.LayerNorm(max_len, eps=config.norm_eps)
        self.dropout = Dropout(config.dropout)
        self.layers = nn.ModuleList(TiM4RecLayer(config, max_len, last=i == config.layers - 1)
                                    for i in range(config.layers))
        self.apply(self._init)

    def _init(self, module: nn.Module) -> None:
        """The released code's initialisation (its MovieLens setting: Kaiming for the convolutions)."""
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=self.config.init_std)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)
        if isinstance(module, nn.Conv1d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(module.bias)
        if isinstance(module, nn.Embedding):
            with torch.no_grad():
                module.weight[0].zero_()  # padding

    def inputs(self, dataset, split: str) -> tuple[np.ndarray, ...]:
        """Item windows and their event times (samples, max_len) each."""
        return dataset.inputs_and_targets(split)[0], dataset.time_windows(split)

    def time_features(self, item_seq: torch.Tensor, time_seq: torch.Tensor) -> torch.Tensor:
        """(batch, heads, N): the intervals between consecutive interactions (0 at a sequence's first
        item and at padding), layer-normalised along the sequence, one copy per head."""
        real = item_seq > 0
        seconds = time_seq.double()
        intervals = torch.zeros_like(seconds)
        intervals[:, 1:] = (seconds[:, 1:] - seconds[:, :-1]) * (real[:, 1:] & real[:, :-1])
        return self.time_norm(self.dropout(intervals.float()))[:, None].expand(-1, self.heads, -1)

    def forward(self, item_seq: torch.Tensor, time_seq: torch.Tensor) -> torch.Tensor:
        """item_seq (batch, N) ids, left-padded; time_seq (batch, N) event times (any unit) -> (batch, hidden)."""
        x = self.input_norm(self.dropout(self.item_embedding(item_seq)))
        time = self.time_features(item_seq, time_seq) if self.config.time_aware else None
        for index, layer in enumerate(self.layers):  # the model reads the newest position only
            x, time = layer(x, time, item_seq > 0, last_only=index == len(self.layers) - 1)
        return x[:, -1]
