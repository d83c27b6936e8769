"""Knowledge distillation from a trained model (`ssr train --teacher RUN_DIR/model.pt`).

A training-only change: the student is trained on

    loss = (1 - w) CE(s, target) + w tau^2 KL(softmax(t / tau) || softmax(s / tau))

s, t: (B, I + 1) the student's and the teacher's scores over every item (the padding column
included on both sides), w = `teacher_weight`, tau = `teacher_temperature` (Hinton et al., "Distilling
the knowledge in a neural network", 2015: the tau^2 keeps the soft term's gradients at the scale of
the hard term's as tau changes). The teacher is any trained model of the same dataset (same item
ids); it runs in eval mode without gradients, so deployment of the student is untouched.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ssr.checkpoint import load_checkpoint, require_dataset
from ssr.io import file_sha256


def distillation_loss(student_scores: torch.Tensor, teacher_scores: torch.Tensor, targets: torch.Tensor,
                      weight: float, temperature: float) -> torch.Tensor:
    """The combined loss above. scores: (B, I + 1) float; targets: (B,) int64 item ids. Returns a scalar."""
    hard = F.cross_entropy(student_scores, targets)
    soft = F.kl_div(F.log_softmax(student_scores / temperature, dim=1),
                    F.log_softmax(teacher_scores / temperature, dim=1), log_target=True, reduction="batchmean")
    return (1.0 - weight) * hard + weight * temperature ** 2 * soft


class Teacher:
    """A trained model whose scores over all items are the student's soft targets.

    path: RUN_DIR/model.pt; dataset: the student's (its item ids must be the teacher's)."""

    def __init__(self, path: str, dataset, device: str) -> None:
        model, payload = load_checkpoint(path)
        if payload["num_items"] != dataset.num_items:
            raise ValueError(f"--teacher {path} scores {payload['num_items']} items but {dataset.path} has "
                             f"{dataset.num_items}; pass a teacher trained on this dataset")
        require_dataset(payload, dataset, f"--teacher {path}")
        self.model = model.to(device)
        self.name = payload["model"]
        self.sha256 = file_sha256(path)
        self.inputs = model.inputs(dataset, "train")  # what the teacher reads per training sample
        self.device = device

    @torch.no_grad()
    def scores(self, batch: np.ndarray) -> torch.Tensor:
        """(B, I + 1) the teacher's scores of the training samples at indices `batch`."""
        return self.model.score_all(*(torch.from_numpy(a[batch]).to(self.device) for a in self.inputs)).float()

    def describe(self) -> dict[str, Any]:
        return {"model": self.name, "sha256": self.sha256}
