"""The model contract every recommender implements, its config handling and the registry by name.

Contract (the trainer, evaluator and later stages call nothing else):
    inputs(dataset, split) -> what the model reads per sample, arrays with the sample axis first:
                              (item windows,) by default; time-aware models (uses_time) add the
                              event times of those items: (item windows, time windows)
    forward(*inputs)       (batch, max_len) int64 left-padded ids [, times] -> (batch, hidden)
    score_all(*inputs)     -> (batch, num_items + 1) scores over all items (column 0 is padding);
                              against item_embeddings(), or with a spiking config's scoring="spikes"
                              against the items' spikes (item_spikes)
    loss(*inputs, target)  -> scalar full-softmax cross-entropy of the target item ids (batch,)
    layer_kinds()          -> {layer name: "float" | "spike"}: whether a layer's inputs are floats
                              (multiply-accumulates) or spikes (accumulates); names are module or
                              parameter names, plus "score" for the scoring against every item;
                              read by ssr.energy
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ssr.config import ModelConfig
from ssr.deploy import Deployment
from ssr.models.layers import spike_scores

MODELS: dict[str, type[SequentialRecommender]] = {}


class SequentialRecommender(nn.Module):
    """Base class: subclasses set `name`, `kind`, `Config` and implement `forward`."""

    name: ClassVar[str]
    kind: ClassVar[str]  # "ann" | "snn" | "baseline"
    Config: ClassVar[type]
    trainable: ClassVar[bool] = True  # False: fitted from training statistics by `fit`
    uses_time: ClassVar[bool] = False  # True: inputs() adds event times (the dataset's timestamps)
    ann_original: ClassVar[str | None] = None  # a spiking model's ANN counterpart (energy pairs)
    # `ssr bench --distil`'s recipe also starts this spiking model from its teacher's parameters (ssr
    # train --warm-start): set where three seeds on ml-100k and Beauty put it closer to its ANN on the
    # dataset where it is furthest (bench/README.md, "Lever by lever"); a model not measured keeps
    # the cold recipe
    distil_warm_start: ClassVar[bool] = False
    # ... and trains it at this learning rate (issue 23's 3e-3; another where three seeds on both datasets
    # put the model closer to its ANN on the dataset where it is furthest)
    distil_lr: ClassVar[float] = 3e-3
    deployment: ClassVar[Deployment | None] = None  # how a spiking model reaches a chip (ssr.deploy)
    # `ssr tune`'s search space: name -> ("log" | "float", low, high) or ("int", low, high) or
    # ("choice", [values]); names are TrainConfig fields (lr, weight_decay) or Config fields
    search_space: ClassVar[dict[str, tuple]] = {}
    train_defaults: ClassVar[dict[str, Any]] = {}  # TrainConfig values this model's authors used

    def __init__(self, config: Any, num_items: int, max_len: int) -> None:
        super().__init__()
        self.config = config
        self.num_items = num_items
        self.max_len = max_len

    def inputs(self, dataset, split: str) -> tuple[np.ndarray, ...]:
        """(item windows (samples, max_len),) of `split`: what score_all and loss take, per sample."""
        return (dataset.inputs_and_targets(split)[0],)

    def item_embeddings(self) -> torch.Tensor:
        """(num_items + 1, hidden) the table `score_all` scores against: by default the model's
        `item_embedding` weights."""
        return self.item_embedding.weight

    def score_all(self, *inputs: torch.Tensor) -> torch.Tensor:
        """(batch, num_items + 1) scores of every item for each sample of `inputs`."""
        return self.scores_and_users(*inputs)[0]

    def scores_and_users(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """score_all's scores and the (batch, hidden) user vectors they are the dot products of with
        the item table, from one forward (a regulariser on the users, ssr.train.uniformity)."""
        user = self(*inputs)  # (batch, hidden)
        if self.scores_against_spikes():
            return spike_scores(user, self.item_spikes(), binary=not self.training), user
        return user @ self.item_embeddings().T, user  # (batch, num_items + 1)

    def scores_against_spikes(self) -> bool:
        """True for a spiking model whose config sets scoring="spikes" (sgru4rec, scaser, srsgnn):
        it scores against its items' spikes, not its float item table."""
        return getattr(self.config, "scoring", "float") == "spikes"

    def score_kind(self) -> str:
        """layer_kinds()'s entry for "score": "spike" when scoring against spikes, else "float"."""
        return "spike" if self.scores_against_spikes() else "float"

    def item_spikes(self) -> torch.Tensor:
        """(T, num_items + 1, hidden) spikes of every item: the model's encoder LIF (`encoder`) on its
        item currents (`item_embeddings()`, fused with side information if any) repeated over T, the
        spikes its forward makes of each item it looks up (dropout aside). Encoded offline, like
        ssr's spike-wise table (the server ships it), so through `lif_multistep`, not the encoder
        module: no exported sub-graph call, nothing counted per inference."""
        from ssr.spiking.lif import lif_multistep

        encoder, currents = self.encoder, self.item_embeddings()
        return lif_multistep(currents.expand(self.config.time_steps, *currents.shape), encoder.params,
                             encoder.surrogate, encoder.alpha, encoder.detach_reset)

    def loss(self, *inputs_and_target: torch.Tensor) -> torch.Tensor:
        *inputs, target = inputs_and_target
        return F.cross_entropy(self.score_all(*inputs), target)

    def item_table(self) -> tuple[int, int]:
        """(values, bits per value) of the item table the model stores (the energy report's memory):
        by default its `item_embedding`, 32-bit floats; scoring against spikes, 32 + T bits a value:
        the float currents its encoder reads per lookup and the T spikes the scoring reads."""
        bits = 32 + (self.config.time_steps if self.scores_against_spikes() else 0)
        return self.item_embedding.weight.numel(), bits

    def server_side_macs(self) -> int:
        """Multiply-accumulates done once on the server, not per inference: fusing side information
        into the item table (ssr.models.fusion); 0 without side information."""
        from ssr.models.fusion import FusedItemEmbedding

        table = self._modules.get("item_embedding")
        return table.server_macs() if isinstance(table, FusedItemEmbedding) else 0

    def layer_kinds(self) -> dict[str, str]:
        kinds = {name: "float" for name, module in self.named_modules()
                 if isinstance(module, (nn.Linear, nn.Embedding))}
        return {**kinds, "score": "float"}

    def fit(self, train_item_counts: torch.Tensor) -> None:
        """Non-trainable models read their statistics here; trainable ones ignore it."""

    def item_current_spread(self) -> float | None:
        """For a model whose `item_embedding` parameters are the currents of a spiking encoder (their
        scale decides which entries fire): the standard deviation they start with; None otherwise."""
        return None

    @torch.no_grad()
    def warm_start(self, source: nn.Module) -> list[str]:
        """Copy every parameter that `source` (a trained model of the same dataset, e.g. the ANN
        twin) has under the same name and shape; returns their names (`ssr train --warm-start`).
        In a model whose item table holds encoding currents (`item_current_spread`), a float table
        taken over is standardised per dimension to that spread, so the items keep their order
        along every dimension and the encoder fires as it does from its own start; padding silent."""
        spread = self.item_current_spread()
        fused = [name for name, _ in source.named_parameters() if name.startswith("item_embedding.")
                 and name != "item_embedding.weight"]
        if spread is not None and fused:  # ids and projections of a fused table: no per-dimension spread
            raise ValueError(f"--warm-start from a model with side information: its fused item table has no "
                             f"single float table to turn into {self.name}'s encoding currents; warm-start an "
                             f"id-only {self.name}")
        own = dict(self.named_parameters())
        shared = {name: value for name, value in source.named_parameters()
                  if name in own and own[name].shape == value.shape}
        for name, value in shared.items():
            own[name].copy_(value)
        if spread is not None and "item_embedding.weight" in shared:
            rows = self.item_embedding.weight[1:]
            rows.copy_((rows - rows.mean(0)) / rows.std(0).clamp_min(torch.finfo(rows.dtype).tiny) * spread)
            self.item_embedding.weight[0].zero_()
        return list(shared)


def register(cls: type[SequentialRecommender]) -> type[SequentialRecommender]:
    """Class decorator adding a model to MODELS under its `name`."""
    if cls.name in MODELS:
        raise ValueError(f"model name {cls.name!r} registered twice")
    if not (isinstance(cls.Config, type) and issubclass(cls.Config, ModelConfig)):
        raise TypeError(f"model {cls.name!r}: its Config must be a dataclass derived from ssr.config.ModelConfig")
    MODELS[cls.name] = cls
    return cls


def config_from_dict(config_cls: type, values: dict[str, Any]) -> Any:
    """Build a config dataclass; unknown keys and wrongly typed values raise ValueError."""
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ValueError(f"unknown {config_cls.__name__} option(s) {', '.join(unknown)}; "
                         f"valid: {', '.join(fields)}")
    checked = {}
    for key, value in values.items():
        default = fields[key].default
        expected = type(default)
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        wrong_bool = isinstance(value, bool) and expected is not bool
        if default is not dataclasses.MISSING and (wrong_bool or not isinstance(value, expected)):
            raise ValueError(f"{config_cls.__name__}.{key} must be {expected.__name__}, got {value!r}")
        checked[key] = value
    return config_cls(**checked)


def build_model(name: str, num_items: int, max_len: int, config: dict[str, Any] | None = None,
                item_features: dict[str, np.ndarray] | None = None) -> SequentialRecommender:
    """Instantiate a registered model by name with config overrides; with `side_info` in the config,
    its item table fuses those modalities of `item_features` (modality -> (num_items + 1, d))."""
    import ssr.models  # noqa: F401  (registers every model)
    from ssr.models.fusion import fuse

    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; `ssr models` lists them: {', '.join(sorted(MODELS))}")
    cls = MODELS[name]
    model = cls(config_from_dict(cls.Config, config or {}), num_items, max_len)
    fuse(model, model.config.side_info, model.config.fusion, item_features, getattr(model.config, "init_std", 0.02))
    return model
