"""Popularity baseline: every sequence gets the same scores, the items' training-target counts."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ssr.config import ModelConfig
from ssr.models.base import SequentialRecommender, register


@dataclass(frozen=True)
class PopConfig(ModelConfig):
    pass


@register
class Pop(SequentialRecommender):
    name = "pop"
    kind = "baseline"
    Config = PopConfig
    trainable = False

    def __init__(self, config: PopConfig, num_items: int, max_len: int) -> None:
        super().__init__(config, num_items, max_len)
        self.register_buffer("counts", torch.zeros(num_items + 1))  # (num_items + 1,)

    def fit(self, train_item_counts: torch.Tensor) -> None:
        self.counts.copy_(train_item_counts.to(self.counts))

    def forward(self, item_seq: torch.Tensor) -> torch.Tensor:
        return self.counts.repeat(item_seq.shape[0], 1)  # (batch, num_items + 1), a fresh tensor

    def score_all(self, item_seq: torch.Tensor) -> torch.Tensor:
        return self(item_seq)

    def item_table(self) -> tuple[int, int]:
        return 0, 32  # no item table: the scores are counts

    def layer_kinds(self) -> dict[str, str]:
        return {}
