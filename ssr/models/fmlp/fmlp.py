"""FMLP-Rec (Zhou et al., WWW 2022): an all-MLP recommender with learnable frequency-domain filters.

    x = Dropout(LayerNorm(E_item[s] + E_pos))                         (batch, max_len, hidden)
    per block:  x = LayerNorm(x + Dropout(irfft(rfft(x) * W)))           filter along the sequence
                x = LayerNorm(x + Dropout(W2 GELU(W1 x)))                 point-wise FFN, 4x wide
    score(i) = x[:, -1] . E_item[i]                                     newest position (left padding)

Trained here with full-softmax cross-entropy over all items (the original used sampled BCE).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ssr.config import ModelConfig
from ssr.models.base import SequentialRecommender, register
from ssr.models.layers import Dropout, FrequencyFilter, normal_init, run_blocks


@dataclass(frozen=True)
class FMLPConfig(ModelConfig):
    hidden: int = 64  # embedding width (the paper's 64)
    blocks: int = 2
    dropout: float = 0.5  # FMLP-Rec's default hidden dropout
    ffn_multiplier: int = 4
    init_std: float = 0.02  # normal init of embeddings and linear weights, as in FMLP-Rec


class FMLPBlock(nn.Module):
    def __init__(self, config: FMLPConfig, max_len: int) -> None:
        super().__init__()
        width = config.hidden * config.ffn_multiplier
        self.filter = FrequencyFilter(max_len, config.hidden, config.init_std)
        self.filter_norm = nn.LayerNorm(config.hidden, eps=1e-12)
        self.ffn = nn.Sequential(nn.Linear(config.hidden, width), nn.GELU(), nn.Linear(width, config.hidden))
        self.ffn_norm = nn.LayerNorm(config.hidden, eps=1e-12)
        self.dropout = Dropout(config.dropout)

    def forward(self, x: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        """(batch, max_len, hidden) -> same, or (batch, 1, hidden) with `last_only`: the FFN is
        point-wise, so after the last filter only the newest position needs computing."""
        x = self.filter_norm(x + self.dropout(self.filter(x)))
        if last_only:
            x = x[:, -1:]
        return self.ffn_norm(x + self.dropout(self.ffn(x)))


@register
class FMLPRec(SequentialRecommender):
    name = "fmlp"
    kind = "ann"
    Config = FMLPConfig
    Block = FMLPBlock  # the spiking variant (sfmlp) swaps in its block
    search_space = {"lr": ("log", 1e-4, 1e-2), "weight_decay": ("log", 1e-7, 1e-3), "dropout": ("float", 0.1, 0.6),
                    "blocks": ("int", 1, 3)}

    def __init__(self, config: FMLPConfig, num_items: int, max_len: int) -> None:
        super().__init__(config, num_items, max_len)
        self.item_embedding = nn.Embedding(num_items + 1, config.hidden, padding_idx=0)
        self.position_embedding = nn.Embedding(max_len, config.hidden)
        self.input_norm = nn.LayerNorm(config.hidden, eps=1e-12)
        self.dropout = Dropout(config.dropout)
        self.blocks = nn.ModuleList(self.Block(config, max_len) for _ in range(config.blocks))
        normal_init(self, config.init_std)

    def forward(self, item_seq: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(item_seq.shape[1], device=item_seq.device)
        x = self.item_embedding(item_seq) + self.position_embedding(positions)  # (batch, max_len, hidden)
        x = self.dropout(self.input_norm(x))
        return run_blocks(self.blocks, x)[:, -1]  # (batch, hidden): the newest item sits last (left padding)

    def layer_kinds(self) -> dict[str, str]:
        kinds = super().layer_kinds()
        kinds.update({f"blocks.{i}.filter": "float" for i in range(len(self.blocks))})
        return kinds
