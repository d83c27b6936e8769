"""Side information fused into a model's item representation (the feature transformation of the
benchmark paper's server-device framework).

With a model config's `side_info` set to modalities of the dataset (`text`, `image`, `text+image`),
`build_model` replaces the model's `item_embedding` (its id table) by a `FusedItemEmbedding` that
both the sequence encoder (`item_embedding(ids)`) and the scoring (`item_embedding.weight`) read:

    sum     e_i = id_i + sum_m W_m f_{m,i}             W_m: (D, d_m), one trained map per modality
    concat  e_i = W [id_i ; f_{1,i} ; ... ]            W: (D, D + sum_m d_m), the id block starts as
                                                       the identity, so training starts at the id model

f_{m,i}: item i's features of modality m (the dataset's `features/<m>`, (items + 1, d_m), row 0
padding), kept in the checkpoint as buffers. The maps are bias-free, so the padding row stays 0.
A spiking model encodes e_i into its spike-wise table as it did id_i, offline on the server: the
exported graph and its operations do not change. In eval mode the fused table is computed once and
cached (the server's work, once per item), dropped when the model trains again.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

FUSIONS = ("sum", "concat")
FEATURE_PREFIX = "feature_"  # buffer item_embedding.feature_<modality> in a checkpoint's state dict


class FusedItemEmbedding(nn.Module):
    """An nn.Embedding-compatible item table: `weight` (items + 1, D) and `forward(ids)`."""

    def __init__(self, ids: nn.Embedding, features: dict[str, torch.Tensor], fusion: str, init_std: float) -> None:
        super().__init__()
        if fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {', '.join(FUSIONS)}, got {fusion!r}")
        self.ids, self.fusion, self.padding_idx = ids, fusion, ids.padding_idx
        hidden = ids.embedding_dim
        self.names = list(features)
        for name, table in features.items():  # buffers: saved in the checkpoint, not trained, not device memory
            self.register_buffer(FEATURE_PREFIX + name, table.float())
        widths = {name: table.shape[1] for name, table in features.items()}
        if fusion == "sum":
            self.project = nn.ModuleDict({name: nn.Linear(width, hidden, bias=False) for name, width in widths.items()})
            for linear in self.project.values():
                nn.init.normal_(linear.weight, std=init_std)
        else:
            self.project = nn.Linear(hidden + sum(widths.values()), hidden, bias=False)
            with torch.no_grad():
                nn.init.normal_(self.project.weight, std=init_std)
                self.project.weight[:, :hidden] = torch.eye(hidden)
        self._cached: torch.Tensor | None = None

    @property
    def weight(self) -> torch.Tensor:
        """(items + 1, D) the fused item representations."""
        if not self.training and self._cached is not None:
            return self._cached
        features = {name: getattr(self, FEATURE_PREFIX + name) for name in self.names}
        if self.fusion == "sum":
            table = self.ids.weight + sum(self.project[name](f) for name, f in features.items())
        else:
            table = self.project(torch.cat([self.ids.weight, *features.values()], dim=1))
        if not self.training:
            self._cached = table.detach()
        return table

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return F.embedding(ids, self.weight, padding_idx=self.padding_idx)

    def train(self, mode: bool = True):
        if mode:
            self._cached = None  # training: the weights change from here on
        return super().train(mode)

    def _load_from_state_dict(self, *args, **kwargs):
        self._cached = None
        return super()._load_from_state_dict(*args, **kwargs)

    def server_macs(self) -> int:
        """Multiply-accumulates of building the fused table once (all items): server-side work."""
        items = self.ids.weight.shape[0]
        widths = sum(getattr(self, FEATURE_PREFIX + name).shape[1] for name in self.names)
        hidden = self.ids.embedding_dim
        return items * hidden * (widths + (hidden if self.fusion == "concat" else 0))


def modalities(side_info: str) -> list[str]:
    """'none' -> []; 'text+image' -> ['text', 'image']."""
    return [] if side_info == "none" else side_info.split("+")


def fuse(model: nn.Module, side_info: str, fusion: str, item_features: dict[str, np.ndarray] | None,
         init_std: float) -> None:
    """Replace `model.item_embedding` by a FusedItemEmbedding over the `side_info` modalities of
    `item_features` (modality -> (items + 1, d) array); a one-line error naming what is missing."""
    wanted = modalities(side_info)
    if not wanted:
        return
    ids = getattr(model, "item_embedding", None)
    if not isinstance(ids, nn.Embedding):
        raise ValueError(f"model {model.name} has no item embedding to fuse side information into; use side_info=none")
    available = item_features or {}
    missing = [name for name in wanted if name not in available]
    if missing:
        have = ", ".join(available) or "none"
        raise ValueError(f"side_info={side_info} needs item features {', '.join(missing)}, which the dataset lacks "
                         f"(it has: {have}); prepare it with --item-features {missing[0]}=FILE.npy")
    tables = {name: torch.as_tensor(np.asarray(available[name])) for name in wanted}
    for name, table in tables.items():
        if table.shape[0] != ids.num_embeddings:
            raise ValueError(f"item features {name} have {table.shape[0]} rows, the model {ids.num_embeddings} items")
    model.item_embedding = FusedItemEmbedding(ids, tables, fusion, init_std)
