"""SR-GNN (Wu et al., AAAI 2019) and its spiking variant SRSGNN.

SR-GNN, as RecBole 1.2 builds it: each sequence is a session graph whose nodes are its distinct
items and whose edges join consecutive items (in- and out-adjacency, each row normalised by its
degree); a gated graph network updates the node states; an attention readout over the sequence's
positions, with the newest item as query, gives the session representation.

    nodes h = E_item[distinct items]                                   (batch, nodes, hidden)
    GNN step:  a = [A_in (W_in h) + b_in, A_out (W_out h) + b_out]      (batch, nodes, 2 hidden)
               r, z = sigmoid(W_r a + U_r h), sigmoid(W_z a + U_z h);  h = (1 - z) h + z tanh(W_n a + r U_n h)
    s = h at each position; s_last = s at the newest position
    alpha = w_3 . sigmoid(W_1 s_last + W_2 s);  g = sum alpha s (positions with items)
    score(i) = W_t [g, s_last] . E_item[i]

SRSGNN: node embeddings are spike-encoded (repeated over T into a LIF layer), the graph aggregation
and the gates read those spikes, the updated node states pass through batch norm and a LIF layer,
and the attention readout is spiking: alpha = w_3 . LIF(BN(W_1 s_last + W_2 s)) on spike states (the
batch norms: the gated update stays inside (-1, 1), below a LIF's threshold, without them); the session
representation is averaged over the T steps. The T steps run as one batch.

`recurrence` chooses how often the gated graph step runs. `per_step` (as above): at every time
step, so its float maps (the degree-normalised aggregation and the input gates, which read it) cost
T times SR-GNN's. `once` (the default): on the time-mean of the node spikes (the maps that read the
spikes run on every step's spikes and are averaged, being linear; the aggregation and the gates run
once), and the updated state drives the state LIF with the same current at every step, as the item
currents drive the encoder.

`scoring` chooses what the session representation is scored against: `spikes` (the default) the
items' own encoder spikes, score(i) = W_t[g, s_last] . mean_t LIF(E_item[i])[t] (accumulates on
chip); `float` the float table E_item, as above.

Why these defaults (issue 23, bench/README.md "Closing ssr's gap"): with `per_step` the spiking model
cost 123% more energy per inference than SR-GNN on ml-100k; `once` with spike scoring costs 40%
less (45nm-fp32), and trained with `ssr train --teacher SRGNN_RUN/model.pt --teacher-weight 0.9 --lr
3e-3` it ranks within a few percent of SR-GNN there (NDCG@10 -4.1%, three seeds; with float scoring
-2.9% at 38% less, and on Beauty, where the float scoring of 12,101 items weighs more, float scoring
saves only 29%). Models saved before these fields existed were per_step and float, and load as such
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
from ssr.models.layers import Dropout, FeatureBatchNorm, normal_init, spike_encoding_init
from ssr.spiking.lif import LIF, SpikingConfig


def session_graphs(item_seq: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Session graphs of a batch of left-padded sequences (batch, max_len).

    Returns nodes (batch, max_len): each row's distinct items in first-seen order, padded with 0;
    alias (batch, max_len): the node index of each position (positions with padding point at a
    padding node); adjacency (batch, max_len, 2 max_len): [A_in | A_out], rows normalised by degree
    (RecBole's normalisation); mask (batch, max_len): positions holding an item.
    """
    batch, length = item_seq.shape
    nodes = torch.zeros_like(item_seq)
    alias = torch.zeros_like(item_seq)
    adjacency = torch.zeros(batch, length, 2 * length, dtype=torch.float32, device=item_seq.device)
    rows = item_seq.tolist()
    for b, row in enumerate(rows):
        items = [item for item in row if item != 0]
        index: dict[int, int] = {}
        for item in items:
            index.setdefault(item, len(index))
        nodes[b, : len(index)] = torch.tensor(list(index), dtype=item_seq.dtype)
        pad_node = len(index) if len(index) < length else 0
        alias[b] = torch.tensor([index[item] if item != 0 else pad_node for item in row], dtype=item_seq.dtype)
        out_edges = torch.zeros(length, length)
        for first, second in zip(items, items[1:]):
            out_edges[index[first], index[second]] = 1.0
        out_degree = out_edges.sum(1, keepdim=True).clamp(min=1)
        in_edges = out_edges.T
        in_degree = in_edges.sum(1, keepdim=True).clamp(min=1)
        adjacency[b, :, :length] = in_edges / in_degree
        adjacency[b, :, length:] = out_edges / out_degree
    return nodes, alias, adjacency, item_seq != 0


class GatedGraphStep(nn.Module):
    """One step of SR-GNN's gated graph network; `gate` maps pre-activations to gate values."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.edge_in = nn.Linear(hidden, hidden)
        self.edge_out = nn.Linear(hidden, hidden)
        self.input_gates = nn.Linear(2 * hidden, 3 * hidden)
        self.hidden_gates = nn.Linear(hidden, 3 * hidden)

    def forward(self, adjacency: torch.Tensor, h: torch.Tensor, gate=torch.sigmoid,
                time_mean_of: int | None = None) -> torch.Tensor:
        """adjacency (batch, nodes, 2 nodes), h (batch, nodes, hidden) -> the updated h. With
        `time_mean_of` T, h is (T * batch, nodes, hidden) and the step runs once on its time-mean:
        the maps that read h run on every step's h (spike-driven when h is spikes) and are averaged
        (they are linear), the aggregation and the gates run once; returns (batch, nodes, hidden)."""
        def mean(x: torch.Tensor) -> torch.Tensor:
            return x if time_mean_of is None else x.view(time_mean_of, -1, *x.shape[1:]).mean(0)

        length = adjacency.shape[1]
        aggregated = torch.cat([adjacency[:, :, :length] @ mean(self.edge_in(h)),
                                adjacency[:, :, length:] @ mean(self.edge_out(h))], dim=-1)
        input_r, input_z, input_n = self.input_gates(aggregated).chunk(3, dim=-1)
        hidden_r, hidden_z, hidden_n = mean(self.hidden_gates(h)).chunk(3, dim=-1)
        reset, update = gate(input_r + hidden_r), gate(input_z + hidden_z)
        return (1 - update) * mean(h) + update * torch.tanh(input_n + reset * hidden_n)


class AttentionReadout(nn.Module):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden, bias=False)
        self.weight = nn.Linear(hidden, 1, bias=False)
        self.transform = nn.Linear(2 * hidden, hidden)

    def forward(self, states: torch.Tensor, mask: torch.Tensor, activation=torch.sigmoid) -> torch.Tensor:
        """states (batch, max_len, hidden) per position, newest last -> (batch, hidden)."""
        last = states[:, -1]
        alpha = self.weight(activation(self.query(last)[:, None] + self.key(states)))  # (batch, max_len, 1)
        pooled = (alpha * states * mask[..., None]).sum(1)
        return self.transform(torch.cat([pooled, last], dim=-1))


@dataclass(frozen=True)
class SRGNNConfig(ModelConfig):
    hidden: int = 64
    steps: int = 1  # GNN propagation steps (RecBole's default)
    dropout: float = 0.0
    init_std: float = 0.02


@register
class SRGNN(SequentialRecommender):
    """SR-GNN (Wu et al., AAAI 2019): a gated GNN on the session graph, attention readout."""

    name = "srgnn"
    kind = "ann"
    Config = SRGNNConfig
    search_space = {"lr": ("log", 1e-4, 1e-2), "weight_decay": ("log", 1e-7, 1e-3), "steps": ("int", 1, 3)}

    def __init__(self, config: SRGNNConfig, num_items: int, max_len: int) -> None:
        super().__init__(config, num_items, max_len)
        self.item_embedding = nn.Embedding(num_items + 1, config.hidden, padding_idx=0)
        self.dropout = Dropout(config.dropout)
        self.gnn = GatedGraphStep(config.hidden)
        self.readout = AttentionReadout(config.hidden)
        normal_init(self, config.init_std)

    def forward(self, item_seq: torch.Tensor) -> torch.Tensor:
        nodes, alias, adjacency, mask = session_graphs(item_seq)
        h = self.dropout(self.item_embedding(nodes))
        adjacency = adjacency.to(h.dtype)
        for _ in range(self.config.steps):
            h = self.gnn(adjacency, h)
        states = torch.gather(h, 1, alias[..., None].expand(-1, -1, h.shape[-1]))  # (batch, max_len, hidden)
        return self.readout(states, mask)

    def layer_kinds(self) -> dict[str, str]:
        return {name: "float" for name in ("item_embedding", "gnn", "gnn.edge_in", "gnn.edge_out", "gnn.input_gates",
                                           "gnn.hidden_gates", "readout.query", "readout.key", "readout.weight",
                                           "readout.transform", "score")}


@dataclass(frozen=True)
class SRSGNNConfig(SpikingConfig):
    hidden: int = 64
    steps: int = 1
    dropout: float = 0.0
    init_std: float = 0.02
    item_init_std: float = 1.0
    recurrence: str = "once"  # once: the gated graph step runs on the time-mean | per_step: at every time step
    scoring: str = "spikes"  # spikes: against the items' spikes (accumulates) | float: against the item table
    # before 2026-12-01 (issue 23) the defaults were per_step and float: checkpoints written without
    # these fields mean that
    former_defaults: ClassVar[dict[str, Any]] = {"recurrence": "per_step", "scoring": "float"}


@register
class SRSGNN(SequentialRecommender):
    """SRSGNN: SR-GNN on spike-encoded nodes, node states through LIF, spiking attention readout.

    Trained alone it ranks about 29% / 45% below srgnn (test NDCG@10, ml-100k / Beauty, three seeds).
    Its recipe (what `ssr bench --distil` does): distilled from a trained srgnn of the same data,
    `ssr train --model srsgnn --teacher SRGNN/model.pt --lr 3e-3`: -4.1% / -3.2% at 40% / 45% less
    energy. It starts from scratch (`distil_warm_start` False): started from the srgnn twin it is
    -2.3% / -6.2%, worse on every Beauty seed (bench/README.md, "Lever by lever")."""

    name = "srsgnn"
    kind = "snn"
    ann_original = "srgnn"
    deployment = Deployment("ssr.convert.neurons_nir")  # its LIF layers on chip, the rest on the host
    Config = SRSGNNConfig

    def __init__(self, config: SRSGNNConfig, num_items: int, max_len: int) -> None:
        super().__init__(config, num_items, max_len)
        lif = config.lif_params()
        self.item_embedding = nn.Embedding(num_items + 1, config.hidden, padding_idx=0)
        self.encoder = LIF(lif, config.surrogate)
        self.dropout = Dropout(config.dropout)
        self.gnn = GatedGraphStep(config.hidden)
        self.state_norm = FeatureBatchNorm(config.hidden)  # the gated update stays within (-1, 1): below
        self.state_lif = LIF(lif, config.surrogate)        # threshold without it; affine at inference
        self.readout = AttentionReadout(config.hidden)
        self.readout_norm = FeatureBatchNorm(config.hidden)
        self.readout_lif = LIF(lif, config.surrogate)
        normal_init(self, config.init_std)
        spike_encoding_init(self.item_embedding, config.item_init_std)

    def item_current_spread(self) -> float:
        """The encoder's item currents start N(0, item_init_std^2) (a warm start standardises a twin's
        float table to this)."""
        return self.config.item_init_std

    def _per_step(self, lif: LIF, x: torch.Tensor) -> torch.Tensor:
        """A LIF layer over (T * batch, ...) currents: unfold T, fire, fold back."""
        steps = self.config.time_steps
        return lif(x.view(steps, -1, *x.shape[1:])).flatten(0, 1)

    def forward(self, item_seq: torch.Tensor) -> torch.Tensor:
        steps = self.config.time_steps
        nodes, alias, adjacency, mask = session_graphs(item_seq)
        currents = self.dropout(self.item_embedding(nodes))  # (batch, nodes, hidden)
        adjacency = adjacency.to(currents.dtype)
        h = self.encoder(currents.expand(steps, *currents.shape)).flatten(0, 1)  # spikes (T * batch, ...)
        if self.config.recurrence == "once":  # one gated step on the spikes' time-mean; its state drives
            for _ in range(self.config.steps):  # the LIF at every step: node states as spikes
                state = self.state_norm(self.gnn(adjacency, h, time_mean_of=steps))  # (batch, nodes, hidden)
                h = self.state_lif(state.expand(steps, *state.shape)).flatten(0, 1)
        else:
            per_step_adjacency = adjacency.repeat(steps, 1, 1)
            for _ in range(self.config.steps):
                h = self._per_step(self.state_lif, self.state_norm(self.gnn(per_step_adjacency, h)))
        alias, mask = alias.repeat(steps, 1), mask.repeat(steps, 1)
        states = torch.gather(h, 1, alias[..., None].expand(-1, -1, h.shape[-1]))
        out = self.readout(states, mask, activation=lambda x: self._per_step(self.readout_lif, self.readout_norm(x)))
        return out.view(steps, -1, out.shape[-1]).mean(0)

    def layer_kinds(self) -> dict[str, str]:
        kinds = {name: "spike" for name in ("gnn.edge_in", "gnn.edge_out", "gnn.hidden_gates", "readout.query",
                                            "readout.key", "readout.weight")}
        # float inputs: the degree-normalised aggregation and the attention-weighted pooling
        kinds.update({"item_embedding": "float", "gnn": "float", "gnn.input_gates": "float",
                      "readout.transform": "float", "score": self.score_kind()})
        return kinds
