"""Full-ranking metrics: HR, NDCG and MRR at k over all items, averaged per sample.

Ranking is over every item id except 0 (padding). Ties are broken deterministically by item id
(smaller id first), the same order a stable descending sort gives, so a reported top-k list and
the metrics agree. rank 0 is the top.
"""

from __future__ import annotations

import numpy as np
import torch

KS = (5, 10, 20)


def target_ranks(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """0-based rank of each target among all items.

    scores: (batch, num_items + 1) float, column 0 is padding (ignored); entries set to -inf are
    ranked after every other item (e.g. masked history). A NaN target ranks last (num_items - 1):
    every comparison with NaN is false, so counting "items above the target" alone would rank it
    first, a perfect hit for a diverged model. targets: (batch,) int64 item ids >= 1. Returns
    (batch,) int64.
    """
    target_score = scores.gather(1, targets[:, None])  # (batch, 1)
    items = scores[:, 1:]  # (batch, num_items): padding excluded
    better = (items > target_score).sum(dim=1)
    item_ids = torch.arange(1, scores.shape[1], device=scores.device)[None, :]
    tied_before = ((items == target_score) & (item_ids < targets[:, None])).sum(dim=1)
    last = torch.full_like(better, items.shape[1] - 1)
    return torch.where(target_score[:, 0].isnan(), last, better + tied_before)


def top_k(scores: torch.Tensor, k: int) -> torch.Tensor:
    """(batch, k) item ids in rank order (ties by smaller id, NaN last as in `target_ranks`), padding
    column excluded."""
    items = scores[:, 1:]
    order = torch.sort(items.nan_to_num(nan=-torch.inf), dim=1, descending=True, stable=True).indices
    # torch sorts NaN as the largest value; a second stable sort moves NaN after every number
    order = order.gather(1, torch.sort(items.isnan().gather(1, order).byte(), dim=1, stable=True).indices)
    return order[:, :k] + 1


def mean_overlap(top_a: np.ndarray, top_b: np.ndarray) -> float:
    """Mean fraction of shared items between two (batch, k) top-k lists, row by row."""
    k = top_a.shape[1]
    return float(np.mean([len(set(a.tolist()) & set(b.tolist())) / k for a, b in zip(top_a, top_b)]))


class RankingMetrics:
    """Accumulates per-sample HR/NDCG/MRR@k; `result()` averages over all samples seen."""

    def __init__(self, ks: tuple[int, ...] = KS) -> None:
        self.ks = ks
        self.count = 0
        self.sums = {f"{name}@{k}": 0.0 for k in ks for name in ("HR", "NDCG", "MRR")}

    def update(self, ranks: torch.Tensor) -> None:
        ranks = ranks.double()
        self.count += len(ranks)
        for k in self.ks:
            hit = ranks < k
            self.sums[f"HR@{k}"] += hit.sum().item()
            self.sums[f"NDCG@{k}"] += torch.where(hit, 1.0 / torch.log2(ranks + 2), 0.0).sum().item()
            self.sums[f"MRR@{k}"] += torch.where(hit, 1.0 / (ranks + 1), 0.0).sum().item()

    def result(self) -> dict[str, float]:
        if self.count == 0:
            raise ValueError("no samples were evaluated")
        return {name: total / self.count for name, total in self.sums.items()}

