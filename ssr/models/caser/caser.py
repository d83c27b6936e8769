"""Caser (Tang & Wang, WSDM 2018) and its spiking variant SCaser.

Caser treats the embeddings of the L most recent items as an L x D "image":

    X = E_item[s[:, -L:]]                                            (batch, 1, L, hidden)
    horizontal: for h in 1..L, n_h filters of (h, hidden), ReLU, max over positions    (batch, L n_h)
    vertical:   n_v filters of (L, 1)                                                  (batch, n_v hidden)
    z = ReLU(W_1 Dropout([vertical, horizontal]))                    (batch, hidden)
    score(i) = z . E_item[i]

RecBole's defaults (n_v 4, n_h 16, dropout 0.4). Caser also adds a user embedding before the last
map; the toolkit's models see sequences only (a user is the sequence), so it is left out.

SCaser: the image is spike-encoded (the embeddings repeated over T drive a LIF layer), each
convolution is followed by batch norm and a LIF layer instead of ReLU, max-pooling spikes is an OR, W_1 reads
spikes; the representation is W_1's output averaged over the T steps.

`scoring` chooses what the representation is scored against: `spikes` (the default) the items' own
encoder spikes, score(i) = z . mean_t LIF(E_item[i])[t] (accumulates on chip); `float` the float
table E_item, as Caser does. Why spikes (issue 23, bench/README.md "Closing ssr's gap"): the float
scoring of every item is most of SCaser's energy per inference (0.40 of its 0.43 uJ on ml-100k,
45nm-fp32); against the spikes SCaser costs 0.07-0.08 uJ, 88% less than Caser, and ranks about as
well as with float scoring (trained with `ssr train --teacher CASER_RUN/model.pt --teacher-weight 0.9
--lr 3e-3`: NDCG@10 -5.7% against Caser over three seeds, float scoring -4.1%; on Beauty the float
scoring saves only 6% against Caser, the spikes 89%). Models saved before the field existed scored
float, and load as such (`former_defaults`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from ssr.config import ModelConfig
from ssr.deploy import Deployment
from ssr.models.base import SequentialRecommender, register
from ssr.models.layers import Dropout, normal_init, spike_encoding_init
from ssr.spiking.lif import LIF, SpikingConfig


@dataclass(frozen=True)
class CaserConfig(ModelConfig):
    hidden: int = 64
    window: int = 5  # L, the most recent items in the image
    vertical_filters: int = 4  # n_v
    horizontal_filters: int = 16  # n_h
    dropout: float = 0.4
    init_std: float = 0.02


class CaserConvolutions(nn.Module):
    """Horizontal and vertical convolutions of Caser; `activation` after each (ReLU or LIF). With
    `norm`, a batch norm between each convolution and its activation (the spiking variant's: without
    it the first LIF layer stays silent at initialisation; an affine map at inference)."""

    def __init__(self, hidden: int, window: int, vertical: int, horizontal: int, norm: bool = False) -> None:
        super().__init__()
        self.vertical = nn.Conv2d(1, vertical, (window, 1))
        self.horizontal = nn.ModuleList(nn.Conv2d(1, horizontal, (height, hidden)) for height in range(1, window + 1))
        self.vertical_norm = nn.BatchNorm2d(vertical) if norm else nn.Identity()
        self.horizontal_norms = nn.ModuleList((nn.BatchNorm2d(horizontal) if norm else nn.Identity())
                                              for _ in range(window))
        self.output_size = vertical * hidden + horizontal * window

    def forward(self, image: torch.Tensor, activation) -> torch.Tensor:
        """(batch, 1, L, hidden) -> (batch, output_size)."""
        vertical = activation(self.vertical_norm(self.vertical(image))).flatten(1)  # (batch, n_v * hidden)
        horizontal = [activation(norm(conv(image)).squeeze(3)).amax(dim=2)  # (batch, n_h) each
                      for conv, norm in zip(self.horizontal, self.horizontal_norms)]
        return torch.cat([vertical, *horizontal], dim=1)


@register
class Caser(SequentialRecommender):
    """Caser (Tang & Wang, WSDM 2018): horizontal and vertical convolutions over recent item embeddings."""

    name = "caser"
    kind = "ann"
    Config = CaserConfig
    search_space = {"lr": ("log", 1e-4, 1e-2), "weight_decay": ("log", 1e-7, 1e-3), "dropout": ("float", 0.1, 0.6),
                    "horizontal_filters": ("choice", [8, 16, 32]), "vertical_filters": ("choice", [2, 4, 8])}

    def __init__(self, config: CaserConfig, num_items: int, max_len: int) -> None:
        super().__init__(config, num_items, max_len)
        if config.window > max_len:
            raise ValueError(f"CaserConfig.window {config.window} exceeds the dataset's max_len {max_len}")
        self.item_embedding = nn.Embedding(num_items + 1, config.hidden, padding_idx=0)
        self.convolutions = CaserConvolutions(config.hidden, config.window, config.vertical_filters,
                                              config.horizontal_filters)
        self.dropout = Dropout(config.dropout)
        self.fc = nn.Linear(self.convolutions.output_size, config.hidden)
        normal_init(self, config.init_std)

    def forward(self, item_seq: torch.Tensor) -> torch.Tensor:
        image = self.item_embedding(item_seq[:, -self.config.window:]).unsqueeze(1)  # (batch, 1, L, hidden)
        features = self.convolutions(image, torch.relu)
        return torch.relu(self.fc(self.dropout(features)))

    def layer_kinds(self) -> dict[str, str]:
        kinds = {"item_embedding": "float", "convolutions.vertical": "float", "fc": "float", "score": "float"}
        kinds.update({f"convolutions.horizontal.{i}": "float" for i in range(self.config.window)})
        return kinds


@dataclass(frozen=True)
class SCaserConfig(SpikingConfig):
    hidden: int = 64
    window: int = 5
    vertical_filters: int = 4
    horizontal_filters: int = 16
    dropout: float = 0.4
    init_std: float = 0.02
    item_init_std: float = 1.0  # encoding currents N(0, 1): part of the image fires
    scoring: str = "spikes"  # spikes: against the items' spikes (accumulates) | float: against the item table
    # before 2026-12-01 (issue 23) the default was float: checkpoints written without the field mean that
    former_defaults: ClassVar[dict[str, Any]] = {"scoring": "float"}


@register
class SCaser(SequentialRecommender):
    """SCaser: Caser on a spike-encoded image, every convolution followed by LIF neurons.

    Trained alone it ranks about 37% / 46% below caser (test NDCG@10, ml-100k / Beauty, three seeds).
    Its recipe (what `ssr bench --distil` does, `distil_warm_start`): distilled from a trained caser
    of the same data and started from it, `ssr train --model scaser --teacher CASER/model.pt
    --warm-start CASER/model.pt --lr 3e-3`: -4.2% / -7.3% at 88% / 87% less energy (cold, the same
    distillation: -5.7% / -15.6%; bench/README.md, "Lever by lever")."""

    name = "scaser"
    kind = "snn"
    ann_original = "caser"
    distil_warm_start = True  # three seeds: better than cold on both datasets
    deployment = Deployment("ssr.convert.neurons_nir")  # its LIF layers on chip, the rest on the host
    Config = SCaserConfig

    def __init__(self, config: SCaserConfig, num_items: int, max_len: int) -> None:
        super().__init__(config, num_items, max_len)
        if config.window > max_len:
            raise ValueError(f"SCaserConfig.window {config.window} exceeds the dataset's max_len {max_len}")
        lif = config.lif_params()
        self.item_embedding = nn.Embedding(num_items + 1, config.hidden, padding_idx=0)
        self.encoder = LIF(lif, config.surrogate)
        self.convolutions = CaserConvolutions(config.hidden, config.window, config.vertical_filters,
                                              config.horizontal_filters, norm=True)
        self.conv_lif = LIF(lif, config.surrogate)
        self.dropout = Dropout(config.dropout)
        self.fc = nn.Linear(self.convolutions.output_size, config.hidden)
        normal_init(self, config.init_std)
        spike_encoding_init(self.item_embedding, config.item_init_std)

    def item_current_spread(self) -> float:
        """The encoder's item currents start N(0, item_init_std^2) (a warm start standardises a twin's
        float table to this)."""
        return self.config.item_init_std

    def forward(self, item_seq: torch.Tensor) -> torch.Tensor:
        steps = self.config.time_steps
        image = self.item_embedding(item_seq[:, -self.config.window:]).unsqueeze(1)  # (batch, 1, L, hidden)
        spikes = self.encoder(image.expand(steps, *image.shape)).flatten(0, 1)  # (T * batch, 1, L, hidden)

        def lif(currents: torch.Tensor) -> torch.Tensor:  # per step: unfold T, fire, fold back
            return self.conv_lif(currents.view(steps, -1, *currents.shape[1:])).flatten(0, 1)

        features = self.convolutions(spikes, lif)  # spikes (T * batch, output_size)
        out = self.fc(self.dropout(features))  # on spikes
        return out.view(steps, -1, out.shape[-1]).mean(0)

    def layer_kinds(self) -> dict[str, str]:
        kinds = {"item_embedding": "float", "convolutions.vertical": "spike", "fc": "spike", "score": self.score_kind()}
        kinds.update({f"convolutions.horizontal.{i}": "spike" for i in range(self.config.window)})
        return kinds
