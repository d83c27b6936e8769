"""GRU4Rec (Hidasi et al., ICLR 2016) and its spiking variant SGRU4Rec.

GRU4Rec, as RecBole 1.2 builds it:

    x = Dropout(E_item[s])                                   (batch, max_len, hidden)
    h = GRU(x)                                               one layer, hidden units = hidden
    score(i) = (h[:, -1] W_d) . E_item[i]                    newest position (left padding)

SGRU4Rec: the input is spike-encoded (the item embedding repeated over T steps drives a LIF layer)
and the GRU's gates are spiking neurons: z, r = H(W x + U h + b) with H the Heaviside step (ATan
surrogate gradient), so a gate is open or closed; the candidate keeps tanh. The T time steps run as
one batch (the gates are stateless), and the newest hidden state is averaged over them.

    X = LIF(E_item[s] repeated over T)                        (T, batch, max_len, hidden) in {0, 1}
    per position n:  z = H(W_z X_n + U_z h + b_z),  r = H(W_r X_n + U_r h + b_r)
                     h = (1 - z) h + z tanh(W_h X_n + U_h (r h) + b_h)
    score(i) = (mean_t h[t, :, -1] W_d) . E_item[i]

Layer kinds: the input projections W (spikes in) are spike-driven; the recurrent U (float h), the
dense map and the scoring are float.

`recurrence` chooses how often the float recurrence runs. `per_step` (as above): once per time
step, so U costs T float matrix products per position. `once` (the default; what the authors'
released SGRU4Rec does): the spike-driven input currents W X_n are averaged over the T steps and the
GRU runs once on that mean, so the recurrent maps cost what GRU4Rec's do and only the input maps pay
T (sparse, spike-driven) passes:

    per position n:  d_n = mean_t W X[t, :, n]          (spike-driven, T passes)
                     z = H(d_z + U_z h + b_z), ...       (once)

`scoring` chooses what the user vector is scored against: `spikes` (the default) the items' own
encoder spikes, score(i) = u . mean_t LIF(E_item[i])[t], accumulates on chip; `float` the float
table E_item, as above (multiply-accumulates).

Why these defaults (issue 23, bench/README.md "Closing ssr's gap"): with `per_step` the spiking model
cost 97% more energy per inference than GRU4Rec on ml-100k; `once` with spike scoring costs 47% less
(45nm-fp32), and trained with `ssr train --teacher GRU4REC_RUN/model.pt --teacher-weight 0.9 --lr 3e-3`
it ranks within a few percent of GRU4Rec there (NDCG@10 -2.7%, three seeds; on Beauty -17%, at 58%
less energy). Models saved before these fields existed were per_step and float, and load as such
(`former_defaults`).
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
from ssr.spiking.surrogate import heaviside


@dataclass(frozen=True)
class GRU4RecConfig(ModelConfig):
    hidden: int = 64
    dropout: float = 0.3  # RecBole's default dropout_prob for GRU4Rec
    init_std: float = 0.02


@register
class GRU4Rec(SequentialRecommender):
    """GRU4Rec (Hidasi et al., ICLR 2016): a GRU over the item sequence, the newest state scores items."""

    name = "gru4rec"
    kind = "ann"
    Config = GRU4RecConfig
    search_space = {"lr": ("log", 1e-4, 1e-2), "weight_decay": ("log", 1e-7, 1e-3), "dropout": ("float", 0.0, 0.6)}

    def __init__(self, config: GRU4RecConfig, num_items: int, max_len: int) -> None:
        super().__init__(config, num_items, max_len)
        self.item_embedding = nn.Embedding(num_items + 1, config.hidden, padding_idx=0)
        self.dropout = Dropout(config.dropout)
        self.gru = nn.GRU(config.hidden, config.hidden, batch_first=True, bias=False)
        self.dense = nn.Linear(config.hidden, config.hidden)
        normal_init(self, config.init_std)
        for name, weight in self.gru.named_parameters():  # RecBole: xavier for the GRU's matrices
            nn.init.xavier_uniform_(weight)

    def forward(self, item_seq: torch.Tensor) -> torch.Tensor:
        output, _ = self.gru(self.dropout(self.item_embedding(item_seq)))  # (batch, max_len, hidden)
        return self.dense(output[:, -1])

    def layer_kinds(self) -> dict[str, str]:
        return {"item_embedding": "float", "gru": "float", "dense": "float", "score": "float"}


@dataclass(frozen=True)
class SGRU4RecConfig(SpikingConfig):
    hidden: int = 64
    dropout: float = 0.3
    init_std: float = 0.02
    item_init_std: float = 1.0  # encoding currents N(0, 1): part of the table fires
    recurrence: str = "once"  # once: the GRU runs on the time-mean input | per_step: at every time step
    scoring: str = "spikes"  # spikes: against the items' spikes (accumulates) | float: against the item table
    # before 2026-12-01 (issue 23) the defaults were per_step and float: checkpoints written without
    # these fields mean that
    former_defaults: ClassVar[dict[str, Any]] = {"recurrence": "per_step", "scoring": "float"}


class SpikingGRU(nn.Module):
    """A GRU over positions whose update and reset gates are Heaviside spikes (surrogate gradient)."""

    def __init__(self, hidden: int, surrogate: str) -> None:
        super().__init__()
        self.input = nn.Linear(hidden, 3 * hidden)  # W_z, W_r, W_h on the input spikes
        self.recurrent = nn.Linear(hidden, 2 * hidden, bias=False)  # U_z, U_r
        self.candidate = nn.Linear(hidden, hidden, bias=False)  # U_h on r * h
        self.surrogate = surrogate

    def forward(self, spikes: torch.Tensor, once: bool = False) -> torch.Tensor:
        """(T, batch, max_len, hidden) spikes -> the newest hidden state: (T, batch, hidden), one per
        time step, or with `once` (1, batch, hidden) from one run on the time-mean input currents."""
        drive = self.input(spikes)  # spike-driven, all steps and positions at once: (T, batch, max_len, 3 hidden)
        if once:
            drive = drive.mean(0, keepdim=True)
        steps = drive.shape[0]
        drive = drive.flatten(0, 1)  # the steps as one batch: the gates are stateless
        hidden = spikes.shape[-1]
        h = spikes.new_zeros(drive.shape[0], hidden)
        # unbind, not drive[:, n]: each indexing op's backward would zero a full-size gradient
        for position in drive.unbind(1):
            gate_z, gate_r, cand = position.split(hidden, dim=-1)
            rec_z, rec_r = self.recurrent(h).split(hidden, dim=-1)
            z = heaviside(gate_z + rec_z, self.surrogate)
            r = heaviside(gate_r + rec_r, self.surrogate)
            h = (1 - z) * h + z * torch.tanh(cand + self.candidate(r * h))
        return h.view(steps, -1, hidden)


@register
class SGRU4Rec(SequentialRecommender):
    """SGRU4Rec: spike-encoded items into a GRU whose update and reset gates are spiking neurons.

    Trained alone it ranks about 33% / 54% below gru4rec (test NDCG@10, ml-100k / Beauty, three
    seeds). Its recipe (what `ssr bench --distil` does, `distil_warm_start`, `distil_lr`): distilled
    from a trained gru4rec of the same data and started from it, `ssr train --model sgru4rec --teacher
    GRU4REC/model.pt --warm-start GRU4REC/model.pt --lr 5e-3`: -3.7% / -9.6%, every seed within 10%.
    At lr 3e-3 the same gives -5.4% / -11.0% (its Beauty runs were all still improving at epoch 15),
    and cold -2.7% / -17.0% (bench/README.md, "Lever by lever")."""

    name = "sgru4rec"
    kind = "snn"
    ann_original = "gru4rec"
    distil_warm_start = True  # three seeds: the smaller worst gap over both datasets (above)
    distil_lr = 5e-3  # three seeds: closer to gru4rec than at 3e-3 on both datasets (above)
    deployment = Deployment("ssr.convert.neurons_nir")  # its LIF layers on chip, the rest on the host
    Config = SGRU4RecConfig

    def __init__(self, config: SGRU4RecConfig, num_items: int, max_len: int) -> None:
        super().__init__(config, num_items, max_len)
        self.item_embedding = nn.Embedding(num_items + 1, config.hidden, padding_idx=0)
        self.encoder = LIF(config.lif_params(), config.surrogate)
        self.dropout = Dropout(config.dropout)
        self.gru = SpikingGRU(config.hidden, config.surrogate)
        self.dense = nn.Linear(config.hidden, config.hidden)
        normal_init(self, config.init_std)
        spike_encoding_init(self.item_embedding, config.item_init_std)

    def item_current_spread(self) -> float:
        """The encoder's item currents start N(0, item_init_std^2) (a warm start standardises a twin's
        float table to this)."""
        return self.config.item_init_std

    def forward(self, item_seq: torch.Tensor) -> torch.Tensor:
        steps = self.config.time_steps
        currents = self.dropout(self.item_embedding(item_seq))  # (batch, max_len, hidden)
        spikes = self.encoder(currents.expand(steps, *currents.shape))  # (T, batch, max_len, hidden)
        h = self.gru(spikes, once=self.config.recurrence == "once")  # (T or 1, batch, hidden)
        return self.dense(h.mean(0))

    def layer_kinds(self) -> dict[str, str]:
        return {"item_embedding": "float", "gru.input": "spike", "gru.recurrent": "float",
                "gru.candidate": "float", "dense": "float", "score": self.score_kind()}
