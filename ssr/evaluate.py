"""Full-ranking evaluation of a model on one split of a prepared dataset."""

from __future__ import annotations

import numpy as np
import torch

from ssr.data.dataset import SequenceDataset
from ssr.metrics import RankingMetrics, target_ranks
from ssr.models.base import SequentialRecommender


class NonFiniteScoresError(ValueError):
    """A model scored some item NaN or inf: no ranking metric of it means anything."""


@torch.no_grad()
def evaluate(model: SequentialRecommender, dataset: SequenceDataset, split: str = "test",
             batch_size: int = 512, mask_history: bool = False, device: str = "cpu") -> dict[str, float]:
    """HR/NDCG/MRR@{5,10,20} averaged over every sample of `split`.

    Non-finite scores raise NonFiniteScoresError (a diverged model never gets metrics).
    mask_history: score every item the user interacted with before the target as -inf (excluded),
    like the published FMLP-Rec/ICLRec evaluation (which sets them to 0).
    """
    if model.num_items != dataset.num_items:
        raise ValueError(f"the model scores {model.num_items} items but {dataset.path} has "
                         f"{dataset.num_items}; evaluate on the dataset it was trained on")
    inputs, targets = model.inputs(dataset, split), dataset.targets(split)
    history_sample, history_item = dataset.history(split) if mask_history else (None, None)
    model.eval()
    metrics = RankingMetrics()
    for start in range(0, len(targets), batch_size):
        stop = min(start + batch_size, len(targets))
        scores = model.score_all(*(torch.from_numpy(a[start:stop]).to(device) for a in inputs)).float()
        if not torch.isfinite(scores).all():
            raise NonFiniteScoresError(f"{model.name} gave non-finite scores (NaN or inf) on the {split} split: its "
                                       "weights have diverged; retrain it with a lower --lr")
        if mask_history:
            lo, hi = np.searchsorted(history_sample, [start, stop])
            rows = torch.from_numpy(history_sample[lo:hi] - start).to(device)
            scores[rows, torch.from_numpy(history_item[lo:hi]).to(device)] = -torch.inf
        metrics.update(target_ranks(scores, torch.from_numpy(targets[start:stop]).to(device)).cpu())
    return metrics.result()
