"""SSR as the authors' released code has it: FMLP-Rec with LIF neurons only in the feed-forward block.

github.com/AmazingDD/serenRec, `seren/recommender/ssr/ssr.py`: batch norm, a float rfft filter,
and spikes only inside the feed-forward block.

    x = Dropout(BN(E_item[s] + E_pos))                                 (B, N, D) floats
    per block:  x = BN(x + Dropout(irfft(rfft(x) * W)))                   float filter (MACs)
                h = BN(x W_1) repeated over T -> LIF                      (T, B, N, 4D) spikes
                y = LIF(BN(Dropout(h W_2) + x))                           W_2 on spikes (ACs)
                x = BN(mean_t y)                                          back to floats
    score(i) = x[:, -1] . E_item[i]

Released-code defaults: dropout 0.3 and weight decay 1e-4 (`ssr train` uses it unless
--weight-decay is given), Adam with a cosine schedule, LIF tau 2 with ATan surrogate and detached reset (as spikingjelly's LIFNode there).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ssr.deploy import Deployment
from ssr.models.base import SequentialRecommender, register
from ssr.models.layers import (Dropout, FeatureBatchNorm, FrequencyFilter, TimeSharedDropout, normal_init,
                               run_blocks)
from ssr.spiking.lif import LIF, SpikingConfig


@dataclass(frozen=True)
class SSRHybridConfig(SpikingConfig):
    hidden: int = 64
    blocks: int = 2
    ffn_multiplier: int = 4
    dropout: float = 0.3  # the released code's
    init_std: float = 0.02


class HybridBlock(nn.Module):
    def __init__(self, config: SSRHybridConfig, max_len: int) -> None:
        super().__init__()
        width = config.hidden * config.ffn_multiplier
        lif = config.lif_params()
        self.time_steps = config.time_steps
        self.filter = FrequencyFilter(max_len, config.hidden, config.init_std)
        self.filter_norm = FeatureBatchNorm(config.hidden)
        self.ffn_in = nn.Linear(config.hidden, width)
        self.ffn_in_norm = FeatureBatchNorm(width)
        self.ffn_in_lif = LIF(lif, config.surrogate, detach_reset=True)
        self.ffn_out = nn.Linear(width, config.hidden)
        self.ffn_out_norm = FeatureBatchNorm(config.hidden)
        self.ffn_out_lif = LIF(lif, config.surrogate, detach_reset=True)
        self.output_norm = FeatureBatchNorm(config.hidden)
        self.dropout = Dropout(config.dropout)
        self.spike_dropout = TimeSharedDropout(config.dropout)  # spikingjelly's multi-step Dropout

    def forward(self, x: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        """(B, N, D) -> (B, N, D), or (B, 1, D) with `last_only` (the FFN is point-wise)."""
        x = self.filter_norm(x + self.dropout(self.filter(x)))
        if last_only:
            x = x[:, -1:]
        current = self.ffn_in_norm(self.ffn_in(x))  # (B, n, 4D), computed once for all T
        hidden = self.ffn_in_lif(current.expand(self.time_steps, *current.shape))  # (T, B, n, 4D)
        y = self.ffn_out_lif(self.ffn_out_norm(self.spike_dropout(self.ffn_out(hidden)) + x))
        return self.output_norm(y.mean(0))


@register
class SSRHybrid(SequentialRecommender):
    name = "ssr-hybrid"
    kind = "snn"
    ann_original = "fmlp"
    deployment = Deployment("ssr.models.fmlp.ssr_hybrid_deploy", spike_axes=(1, 0))  # per-block sub-graphs
    Config = SSRHybridConfig
    train_defaults = {"weight_decay": 1e-4}  # the released code's

    def __init__(self, config: SSRHybridConfig, num_items: int, max_len: int) -> None:
        super().__init__(config, num_items, max_len)
        self.item_embedding = nn.Embedding(num_items + 1, config.hidden, padding_idx=0)
        self.position_embedding = nn.Embedding(max_len, config.hidden)
        self.input_norm = FeatureBatchNorm(config.hidden)
        self.dropout = Dropout(config.dropout)
        self.blocks = nn.ModuleList(HybridBlock(config, max_len) for _ in range(config.blocks))
        normal_init(self, config.init_std)

    def forward(self, item_seq: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(item_seq.shape[1], device=item_seq.device)
        x = self.item_embedding(item_seq) + self.position_embedding(positions)  # (B, N, D)
        x = self.dropout(self.input_norm(x))
        return run_blocks(self.blocks, x)[:, -1]  # (B, D)

    def layer_kinds(self) -> dict[str, str]:
        kinds = {"item_embedding": "float", "position_embedding": "float", "score": "float"}
        for i in range(len(self.blocks)):
            kinds.update({f"blocks.{i}.filter": "float", f"blocks.{i}.ffn_in": "float",
                          f"blocks.{i}.ffn_out": "spike"})
        return kinds
