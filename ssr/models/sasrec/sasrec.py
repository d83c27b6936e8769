"""SASRec (Kang & McAuley, ICDM 2018) and its spiking variant SFSRec (Spikformer-style attention).

SASRec, as RecBole 1.2 builds it (post-norm transformer, GELU, causal attention):

    x = Dropout(LayerNorm(E_item[s] + E_pos))                        (batch, max_len, hidden)
    per block:  x = LayerNorm(x + Dropout(MultiHeadAttention(x)))     position n sees items at <= n
                                                                        (RecBole's additive -10000 mask:
                                                                        no padding key, no future)
                x = LayerNorm(x + Dropout(W2 GELU(W1 x)))
    score(i) = x[:, -1] . E_item[i]

SFSRec follows Spikformer's spiking self-attention (Zhou et al., ICLR 2023): Q, K and V are spikes,
there is no softmax (spike products are non-negative), and the feed-forward block is spiking; the
block keeps float membrane shortcuts (x + f(x)), as Spikformer does. A batch norm before the
attention LIF (ours; an affine map at inference) keeps it firing at any width and length: with
Spikformer's bare scale, a small model's attention LIF never fired and no gradient reached Q, K, V.

    x = E_item[s] + E_pos repeated over T                             (T, batch, max_len, hidden)
    per block:  s = LIF(x)
                Q, K, V = LIF(BN(W_q s)), LIF(BN(W_k s)), LIF(BN(W_v s))      spikes, per head
                A = LIF(BN((Q K^T * scale, masked) V)) (threshold 0.5)      no softmax
                x = x + BN(W_o A)
                x = x + BN(W_2 LIF(BN(W_1 LIF(x))))
    score(i) = (mean_t x[t, :, -1]) . E_item[i]

Layer kinds: every linear map in a block and both attention products take spikes (spike-driven);
embeddings and scoring are float.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ssr.config import ModelConfig
from ssr.deploy import Deployment
from ssr.models.base import SequentialRecommender, register
from ssr.models.layers import Dropout, FeatureBatchNorm, TimeSharedDropout, normal_init
from ssr.spiking.lif import LIF, SpikingConfig


def heads_divide_hidden(config) -> None:
    """Both attention configs: the hidden width splits evenly over the heads."""
    if config.hidden % config.heads:
        raise ValueError(f"{type(config).__name__}.hidden ({config.hidden}) must be a multiple of heads ({config.heads})")


@dataclass(frozen=True)
class SASRecConfig(ModelConfig):
    hidden: int = 64
    blocks: int = 2
    heads: int = 2
    ffn_multiplier: int = 4  # RecBole's inner_size 256 for hidden 64
    dropout: float = 0.5  # RecBole's hidden_dropout_prob
    attention_dropout: float = 0.5  # RecBole's attn_dropout_prob
    init_std: float = 0.02

    check = heads_divide_hidden


class SASRecBlock(nn.Module):
    def __init__(self, config: SASRecConfig) -> None:
        super().__init__()
        # nn.MultiheadAttention holds the parameters (fused q/k/v in-projection, out-projection);
        # `attend` computes with them (its own fused path cannot skip queries nor broadcast the mask)
        self.attention = nn.MultiheadAttention(config.hidden, config.heads, batch_first=True)
        self.attention_dropout = Dropout(config.attention_dropout)
        self.attention_norm = nn.LayerNorm(config.hidden, eps=1e-12)
        width = config.hidden * config.ffn_multiplier
        self.ffn = nn.Sequential(nn.Linear(config.hidden, width), nn.GELU(), nn.Linear(width, config.hidden))
        self.ffn_norm = nn.LayerNorm(config.hidden, eps=1e-12)
        self.dropout = Dropout(config.dropout)

    def attend(self, x: torch.Tensor, mask: torch.Tensor, last_only: bool) -> torch.Tensor:
        """Multi-head attention of x (batch, max_len, hidden) on itself, with an additive mask
        (batch, 1, max_len, max_len); with `last_only`, for the newest position's query only."""
        batch, length, hidden = x.shape
        heads = self.attention.num_heads
        weight, bias = self.attention.in_proj_weight, self.attention.in_proj_bias
        queries = x[:, -1:] if last_only else x
        q = F.linear(queries, weight[:hidden], bias[:hidden]).view(batch, -1, heads, hidden // heads).transpose(1, 2)
        k, v = F.linear(x, weight[hidden:], bias[hidden:]).view(batch, length, 2, heads, -1).permute(2, 0, 3, 1, 4)
        scores = (q * (hidden // heads) ** -0.5) @ k.transpose(-1, -2) + mask[:, :, -q.shape[2]:]
        attended = self.attention_dropout(scores.softmax(-1)) @ v  # (batch, heads, queries, head_dim)
        return self.attention.out_proj(attended.transpose(1, 2).reshape(batch, -1, hidden))

    def forward(self, x: torch.Tensor, mask: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        """x (batch, max_len, hidden); mask (batch, 1, max_len, max_len) additive -> (batch, max_len,
        hidden), or (batch, 1, hidden) with `last_only` (the model reads the newest position only)."""
        attended = self.attend(x, mask, last_only)
        x = self.attention_norm((x[:, -1:] if last_only else x) + self.dropout(attended))
        return self.ffn_norm(x + self.dropout(self.ffn(x)))


def attention_blocked(item_seq: torch.Tensor, causal: torch.Tensor) -> torch.Tensor:
    """(batch, max_len, max_len) True where query n may not see key m: a later position, or padding."""
    length = item_seq.shape[1]
    return causal[:length, :length] | (item_seq == 0)[:, None, :]


@register
class SASRec(SequentialRecommender):
    """SASRec (Kang & McAuley, ICDM 2018): causal self-attention transformer over the item sequence."""

    name = "sasrec"
    kind = "ann"
    Config = SASRecConfig
    search_space = {"lr": ("log", 1e-4, 1e-2), "weight_decay": ("log", 1e-7, 1e-3), "dropout": ("float", 0.1, 0.6),
                    "attention_dropout": ("float", 0.1, 0.6), "blocks": ("int", 1, 3), "heads": ("choice", [1, 2, 4])}

    def __init__(self, config: SASRecConfig, num_items: int, max_len: int) -> None:
        super().__init__(config, num_items, max_len)
        self.item_embedding = nn.Embedding(num_items + 1, config.hidden, padding_idx=0)
        self.position_embedding = nn.Embedding(max_len, config.hidden)
        self.input_norm = nn.LayerNorm(config.hidden, eps=1e-12)
        self.dropout = Dropout(config.dropout)
        self.blocks = nn.ModuleList(SASRecBlock(config) for _ in range(config.blocks))
        # True = may not attend: the future (left padding puts the newest item last)
        self.register_buffer("causal", torch.triu(torch.ones(max_len, max_len, dtype=torch.bool), 1),
                             persistent=False)
        normal_init(self, config.init_std)

    def forward(self, item_seq: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(item_seq.shape[1], device=item_seq.device)
        x = self.dropout(self.input_norm(self.item_embedding(item_seq) + self.position_embedding(positions)))
        mask = (attention_blocked(item_seq, self.causal) * -10000.0)[:, None]  # (batch, 1, max_len, max_len)
        for index, block in enumerate(self.blocks):
            x = block(x, mask, last_only=index == len(self.blocks) - 1)
        return x[:, -1]


@dataclass(frozen=True)
class SFSRecConfig(SpikingConfig):
    hidden: int = 64
    blocks: int = 2
    heads: int = 2
    ffn_multiplier: int = 4
    dropout: float = 0.2
    attention_threshold: float = 0.5  # Spikformer's attn_lif threshold
    init_std: float = 0.02

    check = heads_divide_hidden


class SpikingSelfAttentionBlock(nn.Module):
    """Spikformer's spiking self-attention and spiking MLP with float membrane shortcuts."""

    def __init__(self, config: SFSRecConfig) -> None:
        super().__init__()
        lif = config.lif_params()
        hidden, width = config.hidden, config.hidden * config.ffn_multiplier
        self.heads = config.heads
        self.scale = 1.0 / math.sqrt(hidden // config.heads)
        self.input_lif = LIF(lif, config.surrogate)
        self.qkv = nn.Linear(hidden, 3 * hidden, bias=False)
        self.qkv_norm = FeatureBatchNorm(3 * hidden)
        self.qkv_lif = LIF(lif, config.surrogate)
        self.attention = SpikeAttention()
        self.attention_norm = FeatureBatchNorm(hidden)  # keeps the attention LIF in its working range
        self.attention_lif = LIF(config.lif_params(config.attention_threshold), config.surrogate)
        self.out = nn.Linear(hidden, hidden)
        self.out_norm = FeatureBatchNorm(hidden)
        self.ffn_lif = LIF(lif, config.surrogate)
        self.ffn_in = nn.Linear(hidden, width)
        self.ffn_in_norm = FeatureBatchNorm(width)
        self.ffn_hidden_lif = LIF(lif, config.surrogate)
        self.ffn_out = nn.Linear(width, hidden)
        self.ffn_out_norm = FeatureBatchNorm(hidden)
        self.dropout = TimeSharedDropout(config.dropout)

    def forward(self, x: torch.Tensor, blocked: torch.Tensor) -> torch.Tensor:
        """(T, batch, max_len, hidden) membrane input -> same; blocked (batch, max_len, max_len)."""
        steps, batch, length, hidden = x.shape
        spikes = self.input_lif(x)
        q, k, v = self.qkv_lif(self.qkv_norm(self.qkv(spikes))).chunk(3, dim=-1)
        heads = [t.reshape(steps, batch, length, self.heads, -1).transpose(2, 3) for t in (q, k, v)]
        attended = self.attention(*heads, blocked[:, None], self.scale)  # (T, batch, heads, max_len, head_dim)
        attended = attended.transpose(2, 3).reshape(steps, batch, length, hidden)
        attended = self.attention_lif(self.attention_norm(attended))
        x = x + self.dropout(self.out_norm(self.out(attended)))
        hidden_spikes = self.ffn_hidden_lif(self.ffn_in_norm(self.ffn_in(self.ffn_lif(x))))
        return x + self.dropout(self.ffn_out_norm(self.ffn_out(hidden_spikes)))


class SpikeAttention(nn.Module):
    """(Q K^T * scale, masked) V on spikes, no softmax: both products add up coincident spikes."""

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, blocked: torch.Tensor,
                scale: float) -> torch.Tensor:
        weights = (q @ k.transpose(-1, -2)).masked_fill(blocked, 0.0)
        return (weights @ v) * scale


@register
class SFSRec(SequentialRecommender):
    """SFSRec: SASRec with Spikformer's spiking self-attention (spike Q, K, V, no softmax) and spiking FFN."""

    name = "sfsrec"
    kind = "snn"
    ann_original = "sasrec"
    deployment = Deployment("ssr.convert.neurons_nir")  # its LIF layers on chip, the rest on the host
    Config = SFSRecConfig

    def __init__(self, config: SFSRecConfig, num_items: int, max_len: int) -> None:
        super().__init__(config, num_items, max_len)
        self.item_embedding = nn.Embedding(num_items + 1, config.hidden, padding_idx=0)
        self.position_embedding = nn.Embedding(max_len, config.hidden)
        self.input_norm = FeatureBatchNorm(config.hidden)
        self.blocks = nn.ModuleList(SpikingSelfAttentionBlock(config) for _ in range(config.blocks))
        self.output_norm = nn.LayerNorm(config.hidden, eps=1e-12)
        self.register_buffer("causal", torch.triu(torch.ones(max_len, max_len, dtype=torch.bool), 1),
                             persistent=False)
        normal_init(self, config.init_std)

    def forward(self, item_seq: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(item_seq.shape[1], device=item_seq.device)
        x = self.input_norm(self.item_embedding(item_seq) + self.position_embedding(positions))
        x = x.expand(self.config.time_steps, *x.shape)  # (T, batch, max_len, hidden)
        blocked = attention_blocked(item_seq, self.causal)
        for block in self.blocks:
            x = block(x, blocked)
        return self.output_norm(x[:, :, -1].mean(0))

    def layer_kinds(self) -> dict[str, str]:
        kinds = {"item_embedding": "float", "position_embedding": "float", "score": "float"}
        for i in range(len(self.blocks)):
            kinds.update({f"blocks.{i}.{name}": "spike" for name in ("qkv", "attention", "out", "ffn_in", "ffn_out")})
        return kinds
