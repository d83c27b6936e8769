"""SSR (Yu et al., IJCAI 2025), deployable: spike-wise item table, spiking filters, all-spike path.

Every operation from the input spikes to the score readout is a linear map on spikes, a
per-feature affine (folded batch norm) or a LIF layer, so the whole path exports to NIR and runs
on a neuromorphic chip.

Shapes: T time steps, B batch, N = max_len positions (newest last), D hidden, I items.

    spike-wise item table  S = LIF(E repeated over T)                      (T, I + 1, D) in {0, 1}
    lookup                 X[t] = S[t, item_seq]                            (T, B, N, D)
    stimulus encoder       serial[t]   = (sum_{k <= t} X[k]) W_s            accumulates over time
                           parallel[t] = A X[t]   (A: (N, N), causal)       mixes positions per step
                           H = LIF(BN(serial + parallel))                   (T, B, N, D)
    per filter block       H = LIF(BN(circ_conv(H, kernel)) + H)            spiking Fourier filter
                           H = LIF(BN(LIF(BN(H W_1)) W_2) + H)              PSFFN, residual
    readout                r = (mean_t H[t, :, -1]) W_d                     densify, newest position
                           score(i) = r . mean_t S[t, i]                    against the spike table

Choices where the paper is silent (documented in README): the serial encoder accumulates input
spikes over time steps before a bias-free linear map (an integrator on chip); the parallel encoder is
a learned causal (N, N) mixing of positions, initialised to the identity; no position embedding (the
parallel encoder and the filters see positions); batch norm (eval: affine, folded at export) instead
of layer norm; the residual paths add spikes to the next LIF's input current; the item table's
encoding current is E itself (initialised N(0, 1), so some entries fire).

`quantise_weights=True` (for Loihi's fixed point) computes the same model from the folded maps the
exporter writes, each rounded to its fixed-point grid (ssr.spiking.fixed_point): the filter as a
circular convolution with the folded kernel, the parallel encoder as one (N, N) map per channel, the
readout as the items' rates x densify / T; batch-norm statistics frozen.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ssr.config import NON_NEGATIVE
from ssr.deploy import Deployment
from ssr.models.base import SequentialRecommender, register
from ssr.models.layers import FeatureBatchNorm, FrequencyFilter, TimeSharedDropout, normal_init, run_blocks
from ssr.spiking.fixed_point import fake_quantise, fake_quantise_bias, fake_quantise_readout_bias
from ssr.spiking.lif import LIF, LIFParams, SpikingConfig


@dataclass(frozen=True)
class SSRConfig(SpikingConfig):
    hidden: int = 64  # the paper's embedding size
    blocks: int = 2  # spiking filter blocks, the paper's L
    ffn_multiplier: int = 4
    dropout: float = 0.2  # on the D-wide float currents before a LIF (one mask for all T), training only
    v_threshold: float = 1.0
    init_std: float = 0.02  # linear maps and filter spectra
    item_init_std: float = 2.0  # encoding currents of the item table start N(0, 2^2): ~30% fire
    item_current_scale: float = 4.0  # currents = scale x parameters: the table learns 4x faster (Adam)
    # quantisation-aware training for Loihi's fixed point: every synaptic weight and bias is folded
    # as the exporter folds it (eval batch norm, residual, 1/T) and rounded to its fixed-point grid
    # (ssr.spiking.fixed_point), gradient straight through; batch-norm statistics stay frozen.
    # Fine-tune a trained model with it (`ssr train --init RUN/model.pt --model-config
    # quantise_weights=true`) and run-lava --precision fixed computes what PyTorch computes.
    quantise_weights: bool = False

    # blocks = 0 is a supported ablation (stimulus encoder straight into the readout; it exports)
    ranges = {"blocks": NON_NEGATIVE}


class SpikingFilterBlock(nn.Module):
    """Spiking Fourier filter then PSFFN, both with residual spike paths."""

    def __init__(self, config: SSRConfig, max_len: int, lif: LIFParams) -> None:
        super().__init__()
        width = config.hidden * config.ffn_multiplier
        # a residual spike alone must make the next LIF fire: from rest, h = gain / tau >= v_threshold
        self.residual_gain = lif.tau * lif.v_threshold
        self.filter = FrequencyFilter(max_len, config.hidden, config.init_std)
        self.filter_norm = FeatureBatchNorm(config.hidden)
        self.filter_lif = LIF(lif, config.surrogate)
        self.ffn_in = nn.Linear(config.hidden, width)
        self.ffn_in_norm = FeatureBatchNorm(width)
        self.ffn_in_lif = LIF(lif, config.surrogate)
        self.ffn_out = nn.Linear(width, config.hidden)
        self.ffn_out_norm = FeatureBatchNorm(config.hidden)
        self.ffn_out_lif = LIF(lif, config.surrogate)
        self.dropout = TimeSharedDropout(config.dropout)
        self.quantised = config.quantise_weights

    def forward(self, spikes: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        """(T, B, N, D) spikes -> (T, B, N, D) spikes, or (T, B, 1, D) with `last_only` (everything
        after the filter is point-wise, so only the newest position is computed)."""
        if self.quantised:
            return self._forward_quantised(spikes, last_only)
        if last_only:
            filtered = self.filter.last_position(spikes)[:, :, None]  # (T, B, 1, D)
            spikes = spikes[:, :, -1:]
        else:
            filtered = self.filter(spikes)  # (T, B, N, D)
        spikes = self.filter_lif(self.dropout(self.filter_norm(filtered)) + self.residual_gain * spikes)
        hidden = self.ffn_in_lif(self.ffn_in_norm(self.ffn_in(spikes)))  # (T, B, n, 4D)
        return self.ffn_out_lif(self.dropout(self.ffn_out_norm(self.ffn_out(hidden))) + self.residual_gain * spikes)

    def _forward_quantised(self, spikes: torch.Tensor, last_only: bool) -> torch.Tensor:
        """`forward` with the exported graph's weights on Loihi's 8-bit grid (SSRConfig.quantise_weights)."""
        scale, shift = self.filter_norm.folded()
        kernel = self.filter.kernel().double() * scale  # (N, D): the circulant's entries, BN folded
        # the exported circulant carries the residual on its diagonal (lag 0): one grid for all of it
        zero_lag = kernel[0] + self.residual_gain
        peak = float(torch.cat([kernel[1:].flatten(), zero_lag]).detach().abs().max())
        kernel = torch.cat([(fake_quantise(zero_lag, peak, spikes.dtype) - self.residual_gain)[None],
                            fake_quantise(kernel[1:], peak, spikes.dtype)])
        if last_only:
            filtered = self.filter.last_position(spikes, kernel)[:, :, None]  # (T, B, 1, D)
            spikes = spikes[:, :, -1:]
        else:
            filtered = self.filter.convolve(spikes, kernel)
        spikes = self.filter_lif(self.dropout(filtered + fake_quantise_bias(shift, spikes.dtype))
                                 + self.residual_gain * spikes)
        hidden = self.ffn_in_lif(folded_linear(spikes, self.ffn_in, self.ffn_in_norm))
        return self.ffn_out_lif(self.dropout(folded_linear(hidden, self.ffn_out, self.ffn_out_norm))
                                + self.residual_gain * spikes)


def folded_linear(x: torch.Tensor, linear: nn.Linear, norm: FeatureBatchNorm) -> torch.Tensor:
    """norm(linear(x)) with the batch norm folded into the weights and the weights on their 8-bit grid."""
    scale, shift = norm.folded()
    weight = fake_quantise(linear.weight.double() * scale[:, None], dtype=x.dtype)
    return x @ weight.T + fake_quantise_bias(linear.bias.double() * scale + shift, x.dtype)


@register
class SSR(SequentialRecommender):
    """SSR (Yu et al., IJCAI 2025), deployable: spike-wise item table, spiking filters, all-spike path.

    Trained alone it ranks 28% / 61% below fmlp (test NDCG@10, ml-100k / Beauty, three seeds). Its
    recipe (what `ssr bench --distil` does, `distil_warm_start`) is to distil a trained fmlp of the
    same data and start from it, `ssr train --model ssr --teacher FMLP/model.pt --warm-start
    FMLP/model.pt --lr 3e-3`: +0.4% / -10.5% at 80% / 77% less energy, unchanged on chip (cold, the
    same distillation: -2.8% / -16.7%; bench/README.md, "Lever by lever")."""

    name = "ssr"
    kind = "snn"
    ann_original = "fmlp"
    distil_warm_start = True  # three seeds: better than cold on both datasets
    deployment = Deployment("ssr.models.fmlp.ssr_deploy", whole_graph=True, spike_axes=(1, 0))  # all on chip
    Config = SSRConfig

    def __init__(self, config: SSRConfig, num_items: int, max_len: int) -> None:
        super().__init__(config, num_items, max_len)
        lif = config.lif_params(config.v_threshold)
        self.item_embedding = nn.Embedding(num_items + 1, config.hidden, padding_idx=0)
        self.item_lif = LIF(lif, config.surrogate)
        self.serial = nn.Linear(config.hidden, config.hidden, bias=False)
        # (N, N) position mixing, causal: position n sums items at positions <= n
        self.parallel = nn.Parameter(torch.eye(max_len))
        self.register_buffer("causal_mask", torch.tril(torch.ones(max_len, max_len)), persistent=False)
        self.stimulus_norm = FeatureBatchNorm(config.hidden)
        self.stimulus_lif = LIF(lif, config.surrogate)
        self.dropout = TimeSharedDropout(config.dropout)
        self.blocks = nn.ModuleList(SpikingFilterBlock(config, max_len, lif) for _ in range(config.blocks))
        self.densify = nn.Linear(config.hidden, config.hidden)
        normal_init(self, config.init_std)
        nn.init.normal_(self.item_embedding.weight, std=self.config.item_init_std / self.config.item_current_scale)
        with torch.no_grad():
            self.item_embedding.weight[0].zero_()  # padding never fires

    def spike_table(self) -> torch.Tensor:
        """The spike-wise item table: (T, num_items + 1, D) in {0, 1}; row 0 (padding) is silent."""
        currents = (self.item_embedding.weight * self.config.item_current_scale).expand(
            self.config.time_steps, -1, -1)
        return self.item_lif(currents)

    def item_current_spread(self) -> float:
        """The table's parameters start N(0, (item_init_std / item_current_scale)^2): ~30% of the
        entries fire (a warm start standardises a twin's float table to this)."""
        return self.config.item_init_std / self.config.item_current_scale

    def item_embeddings(self) -> torch.Tensor:
        return self.spike_table().mean(0)  # (num_items + 1, D) firing rates in {0, 1/T, ..., 1}

    def item_table(self) -> tuple[int, int]:
        return self.item_embedding.weight.numel(), self.config.time_steps  # T bits a value: the spikes

    def encode(self, item_seq: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        """(B, N) ids -> (T, B, N, D) spikes H of the stimulus encoder."""
        steps, _, hidden = table.shape
        # embedding lookup on the (items + 1, T * D) view: its backward is deterministic on CPU,
        # unlike advanced indexing's accumulate
        rows = F.embedding(item_seq, table.permute(1, 0, 2).reshape(-1, steps * hidden))  # (B, N, T*D)
        inputs = rows.reshape(*item_seq.shape, steps, hidden).permute(2, 0, 1, 3)  # (T, B, N, D)
        if self.config.quantise_weights:  # BN folded into both maps, each on its 8-bit grid
            scale, shift = self.stimulus_norm.folded()
            serial_weight = fake_quantise(self.serial.weight.double() * scale[:, None], dtype=inputs.dtype)  # (D, D)
            mixing = fake_quantise(scale[:, None, None] * (self.parallel * self.causal_mask).double()[None],
                                   dtype=inputs.dtype)
            serial = inputs.cumsum(0) @ serial_weight.T
            parallel = torch.einsum("dnm,tbmd->tbnd", mixing, inputs)  # (D, N, N): one map per channel
            return self.stimulus_lif(self.dropout(serial + parallel + fake_quantise_bias(shift, inputs.dtype)))
        serial = self.serial(inputs.cumsum(0))  # (T, B, N, D)
        parallel = torch.einsum("nm,tbmd->tbnd", self.parallel * self.causal_mask, inputs)
        return self.stimulus_lif(self.dropout(self.stimulus_norm(serial + parallel)))

    def _represent(self, item_seq: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        spikes = run_blocks(self.blocks, self.encode(item_seq, table))
        return self.densify(spikes[:, :, -1].mean(0))  # (B, D)

    def forward(self, item_seq: torch.Tensor) -> torch.Tensor:
        return self._represent(item_seq, self.spike_table())

    def scores_and_users(self, item_seq: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self._scores_and_users(item_seq, self.spike_table())  # table encoded once per batch

    def scores_with_table(self, item_seq: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        """(B, N) ids and a spike-wise table (T, num_items + 1, D) -> scores (B, num_items + 1): the
        table serves both the lookup and the scoring (what an exported graph computes from the
        host's input spikes)."""
        return self._scores_and_users(item_seq, table)[0]

    def _scores_and_users(self, item_seq: torch.Tensor, table: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """scores_with_table's scores and the (B, D) vectors they are the dot products of: the user
        vectors; with quantise_weights, the last block's spike counts (the readout folds densify)."""
        if self.config.quantise_weights:  # the exported readout: densify folded into the rates / T
            spikes = run_blocks(self.blocks, self.encode(item_seq, table))[:, :, -1]  # (T, B, D)
            rates = table.mean(0).double()  # (I + 1, D)
            steps = self.config.time_steps
            readout = fake_quantise(rates @ self.densify.weight.double() / steps, dtype=table.dtype)  # (I + 1, D)
            bias = fake_quantise_readout_bias(rates @ self.densify.bias.double() / steps,
                                              float(readout.detach().abs().max()), table.dtype)  # per step
            counts = spikes.sum(0)  # (B, D)
            return counts @ readout.T + steps * bias, counts
        user = self._represent(item_seq, table)
        return user @ table.mean(0).T, user

    def layer_kinds(self) -> dict[str, str]:
        """Every synaptic layer here receives spikes (additions); the encoding of the item table is
        done once, offline, and the readout scores against binary rates."""
        kinds = {"item_embedding": "float", "serial": "spike", "parallel": "spike", "densify": "spike",
                 "score": "spike"}
        for i in range(len(self.blocks)):
            kinds.update({f"blocks.{i}.filter": "spike", f"blocks.{i}.ffn_in": "spike",
                          f"blocks.{i}.ffn_out": "spike"})
        return kinds
