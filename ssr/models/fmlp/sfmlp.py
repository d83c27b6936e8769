"""SFMLP: FMLP-Rec whose feed-forward block is spiking (the "only the FFN spikes" case).

Everything is FMLP-Rec's (ssr.models.fmlp.fmlp) except the point-wise feed-forward map of each block:

    FMLP-Rec:  ffn(x) = W_2 GELU(W_1 x)
    SFMLP:     ffn(x) = mean_t W_2 LIF(BN(W_1 x) repeated over T)    W_2 reads spikes (accumulates)

The float current BN(W_1 x) is computed once and drives the LIF layer for T steps (as ssr-hybrid
does); the batch norm (an affine map at inference, folded into W_1) puts the current in the LIF's
working range: with FMLP-Rec's N(0, 0.02^2) weights alone the LIF layer never fires at
initialisation and nothing trains. The residual and layer norm around the block stay float.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ssr.deploy import Deployment
from ssr.models.base import register
from ssr.models.fmlp.fmlp import FMLPBlock, FMLPConfig, FMLPRec
from ssr.models.layers import FeatureBatchNorm
from ssr.spiking.lif import LIF, SpikingConfig


@dataclass(frozen=True)
class SFMLPConfig(FMLPConfig, SpikingConfig):
    """FMLP-Rec's fields and the spiking ones (T, tau, surrogate)."""


class SpikingFFN(nn.Module):
    def __init__(self, hidden: int, width: int, config: SFMLPConfig) -> None:
        super().__init__()
        self.into = nn.Linear(hidden, width)
        self.norm = FeatureBatchNorm(width)
        self.lif = LIF(config.lif_params(), config.surrogate)
        self.out = nn.Linear(width, hidden)
        self.time_steps = config.time_steps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, n, hidden) -> (batch, n, hidden)."""
        current = self.norm(self.into(x))
        spikes = self.lif(current.expand(self.time_steps, *current.shape))  # (T, batch, n, width)
        return self.out(spikes).mean(0)


class SFMLPBlock(FMLPBlock):
    def __init__(self, config: SFMLPConfig, max_len: int) -> None:
        super().__init__(config, max_len)
        self.ffn = SpikingFFN(config.hidden, config.hidden * config.ffn_multiplier, config)


@register
class SFMLP(FMLPRec):
    """SFMLP: FMLP-Rec with a spiking feed-forward block (LIF instead of GELU, W_2 on spikes)."""

    name = "sfmlp"
    kind = "snn"
    ann_original = "fmlp"
    deployment = Deployment("ssr.models.fmlp.sfmlp_deploy", spike_axes=(1, 0))  # per-block sub-graphs
    Config = SFMLPConfig
    Block = SFMLPBlock

    def layer_kinds(self) -> dict[str, str]:
        kinds = super().layer_kinds()
        kinds.update({f"blocks.{i}.ffn.out": "spike" for i in range(len(self.blocks))})
        return kinds
