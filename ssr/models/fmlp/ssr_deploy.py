"""The deployable SSR model as a NIR graph: everything from input spikes to the score readout.

Layout: one sequence per graph run, T steps of dt = 1. At each step the input node receives the
spikes of the sequence's items from the spike-wise item table, shape (D, N): channels (hidden) x
positions, newest position last (the layout of NIR's `Conv1d`). The host looks those rows up.

    input (D, N) --serial (Conv1d k=1) -> serial_integrator (I) --+
          |                                                        +--> stimulus_lif (LIF, (D, N))
          +------ parallel (Affine, weight (D, N, N)) ------------+
    per block b < L-1:                                               (D, N) -> (D, N)
          filter (Affine, weight (D, N, N): the circulant per channel) -> filter_lif
          -> ffn_in (Conv1d k=1) -> ffn_in_lif -> ffn_out (Conv1d k=1) --------+-> ffn_out_lif
          filter_lif -> ffn_residual (Conv1d k=1, diagonal: the residual gain) -+
    last block: the same with filter weight (D, 1, N), the circulant's newest row, so everything
          after it is computed for the newest position only (D, 1), as the PyTorch model does
    readout (Conv1d k=1, (I + 1) channels) -> readout_integrator (I) -> output (I + 1, 1)

After T steps the readout integrator holds every item's score: the model's
densify(mean_t H) . rate_i, with rate = mean_t of the spike-wise table and the 1/T folded into the
readout weights. Normalisations (eval-mode batch norm) are folded into the maps before them; the
filter's residual spike path is folded into the circulant's diagonal (so a filter node carries the
circular filter, its batch norm and the residual at once).

Why these forms. `Affine`/`Linear` act on the last axis and take leading weight axes as one matrix
per slice (weight (..., out, in)), so a per-channel map along positions is an `Affine` with weight
(D, N_out, N). The circular filter per channel, y[n] = sum_m k[(n - m) mod N] x[m], is such a map
with circulant matrices: D N^2 = 160 k weights for D 64, N 50, the N^2 synaptic operations per
channel the filter really does. Alternatives, measured for D 64, N 50:
    depthwise Conv1d (groups D, kernel 2N - 1, zero padding N - 1)   6,336 weights, but nir 1.0.8's
        type inference ignores `groups` (input channels = weight.shape[1] = 1), so `nir.read` rejects
        the file: not emitted
    dense Conv1d with block-diagonal weights (D, D, 2N - 1)          405,504 weights, 98% zeros
    dense Affine on the flattened (D N) vector                      10,240,000 weights
The point-wise maps (serial, the feed-forward block, the readout) are kernel-1 `Conv1d`s (D x 4D
weights, shared by every position) instead of dense maps on the flattened vector (41 M weights each).
The parallel encoder mixes positions with one (N, N) matrix shared by all channels and then scales
each channel (batch norm): an `Affine` with per-channel (N, N) weights.

Parameters are written in float64 (the folded products are exact to 1e-16 there), neuron
parameters in float32 (exact values).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ssr.convert.nir_build import (ExportedGraph, float64_array, batch_norm_affine, bias_on_grid, circulant_rows,
                                   lif_node, pointwise_conv, weights_on_grid)
from ssr.models.fmlp.ssr import SSR
from ssr.spiking.fixed_point import fake_quantise_readout_bias


@torch.no_grad()
def export(model: SSR) -> ExportedGraph:
    """Build the NIR graph of a trained SSR model (eval mode)."""
    import nir

    model = model.eval()
    config = model.config
    # a model trained on Loihi's grids (SSRConfig.quantise_weights) is exported on them
    on_grid = weights_on_grid if config.quantise_weights else (lambda weights: weights)
    bias_grid = bias_on_grid if config.quantise_weights else (lambda bias: bias)
    hidden, length, steps = config.hidden, model.max_len, config.time_steps
    width = hidden * config.ffn_multiplier
    nodes: dict[str, Any] = {"input": nir.Input(input_type=np.array([hidden, length]))}
    edges: list[tuple[str, str]] = []
    layers: dict[str, str] = {"input": "item_lif"}

    def add(name: str, node, layer: str, *sources: str) -> str:
        nodes[name], layers[name] = node, layer
        edges.extend((source, name) for source in sources)
        return name

    # stimulus encoder: BN(serial + parallel) -> LIF
    scale, shift = batch_norm_affine(model.stimulus_norm)
    shift = bias_grid(shift)
    serial_weight = on_grid(float64_array(model.serial.weight) * scale[:, None])
    add("serial", nir.Conv1d(input_shape=length, weight=serial_weight[:, :, None], stride=1, padding=0,
                             dilation=1, groups=1, bias=np.zeros(hidden)), "serial", "input")
    add("serial_integrator", nir.I(r=np.ones((hidden, length))), "serial", "serial")
    mixing = float64_array(model.parallel * model.causal_mask)  # (N, N)
    add("parallel", nir.Affine(weight=on_grid(scale[:, None, None] * mixing[None]),
                               bias=np.repeat(shift[:, None], length, axis=1)), "parallel", "input")
    source = add("stimulus_lif", lif_node(model.stimulus_lif, (hidden, length)), "stimulus_lif",
                 "serial_integrator", "parallel")

    for index, block in enumerate(model.blocks):
        last = index == len(model.blocks) - 1
        prefix, module = f"block{index}_", f"blocks.{index}."
        out_length = 1 if last else length
        scale, shift = batch_norm_affine(block.filter_norm)
        shift = bias_grid(shift)
        rows = np.arange(length - out_length, length)  # all positions, or the newest only
        # float: the kernel transformed in float64, as the float64 reference computes the filter; on the
        # grid: the float32 transform that quantise_weights training rounded
        kernel = block.filter.kernel() if config.quantise_weights else block.filter.kernel(torch.float64)
        weight = on_grid(circulant_rows(float64_array(kernel), rows, scale, block.residual_gain))
        add(prefix + "filter", nir.Affine(weight=weight, bias=np.repeat(shift[:, None], out_length, axis=1)),
            module + "filter", source)
        filter_lif = add(prefix + "filter_lif", lif_node(block.filter_lif, (hidden, out_length)),
                         module + "filter_lif", prefix + "filter")
        add(prefix + "ffn_in", pointwise_conv(block.ffn_in, *batch_norm_affine(block.ffn_in_norm), out_length,
                                            config.quantise_weights),
            module + "ffn_in", filter_lif)
        add(prefix + "ffn_in_lif", lif_node(block.ffn_in_lif, (width, out_length)), module + "ffn_in_lif",
            prefix + "ffn_in")
        add(prefix + "ffn_out", pointwise_conv(block.ffn_out, *batch_norm_affine(block.ffn_out_norm), out_length,
                                             config.quantise_weights),
            module + "ffn_out", prefix + "ffn_in_lif")
        residual = np.eye(hidden)[:, :, None] * block.residual_gain  # (D, D, 1) diagonal
        add(prefix + "ffn_residual", nir.Conv1d(input_shape=out_length, weight=residual, stride=1, padding=0,
                                                dilation=1, groups=1, bias=np.zeros(hidden)),
            module + "ffn_out", filter_lif)
        source = add(prefix + "ffn_out_lif", lif_node(block.ffn_out_lif, (hidden, out_length)),
                     module + "ffn_out_lif", prefix + "ffn_out", prefix + "ffn_residual")
    if not len(model.blocks):  # no blocks: read the newest position of the encoder's spikes
        select = np.zeros((1, length))
        select[0, -1] = 1.0
        source = add("select_newest", nir.Linear(weight=np.repeat(select[None], hidden, axis=0)), "blocks", source)

    table = model.spike_table()  # (T, I + 1, D) float32 in {0, 1}
    rates = table.mean(0).double()  # (I + 1, D)
    items = rates.shape[0]
    readout_weight = on_grid(float64_array(rates @ model.densify.weight.double() / steps))  # (I + 1, D)
    readout_bias = float64_array(rates @ model.densify.bias.double() / steps)
    if config.quantise_weights:  # rounded as the compiler rounds the readout integrator's bias
        readout_bias = fake_quantise_readout_bias(torch.from_numpy(readout_bias), float(np.abs(readout_weight).max()),
                                                  torch.float64).numpy()
    add("readout", nir.Conv1d(input_shape=1, weight=readout_weight[:, :, None], stride=1, padding=0,
                              dilation=1, groups=1, bias=readout_bias), "densify", source)
    add("readout_integrator", nir.I(r=np.ones((items, 1))), "score", "readout")
    add("output", nir.Output(output_type=np.array([items, 1])), "score", "readout_integrator")

    blocks = [f"blocks.{i}" for i in range(len(model.blocks))]
    partition = [
        {"layer": "item_embedding + item_lif", "where": "host",
         "why": "the spike-wise item table ({0,1}^(T x items x D)) is encoded once at export; the host "
                "looks up each position's item row per time step (a memory read, no arithmetic) and "
                "injects it as the input spikes"},
        {"layer": "serial", "where": "chip", "why": "nodes serial (Conv1d k=1 on spikes, BN scale folded) "
                                                    "+ serial_integrator (I): the running sum over time steps"},
        {"layer": "parallel", "where": "chip", "why": "node parallel (Affine: causal position mixing, BN "
                                                      "scale and shift folded per channel)"},
        {"layer": "stimulus_norm", "where": "chip", "why": "eval-mode batch norm folded into serial and parallel"},
        {"layer": "stimulus_lif", "where": "chip", "why": "node stimulus_lif (LIF)"},
    ]
    for i, name in enumerate(blocks):
        partition += [
            {"layer": f"{name}.filter + filter_norm", "where": "chip",
             "why": f"node block{i}_filter (Affine with one circulant per channel = the circular "
                    "convolution; BN and the residual spikes folded in)"},
            {"layer": f"{name}.filter_lif", "where": "chip", "why": f"node block{i}_filter_lif (LIF)"},
            {"layer": f"{name}.ffn_in + ffn_in_norm", "where": "chip", "why": f"node block{i}_ffn_in (Conv1d k=1, BN folded)"},
            {"layer": f"{name}.ffn_in_lif", "where": "chip", "why": f"node block{i}_ffn_in_lif (LIF)"},
            {"layer": f"{name}.ffn_out + ffn_out_norm", "where": "chip",
             "why": f"nodes block{i}_ffn_out (Conv1d k=1, BN folded) + block{i}_ffn_residual (residual spikes)"},
            {"layer": f"{name}.ffn_out_lif", "where": "chip", "why": f"node block{i}_ffn_out_lif (LIF)"},
        ]
    partition += [
        {"layer": "dropout (all)", "where": "removed", "why": "identity at inference"},
        {"layer": "densify + score", "where": "chip",
         "why": "node readout (Conv1d k=1: densify folded into the items' firing rates / T) + "
                "readout_integrator (I): after T steps it holds every item's score"},
        {"layer": "top-k", "where": "host", "why": "sorting the (items + 1) scores read from the output node"},
    ]
    return ExportedGraph(
        nodes=nodes, edges=edges, layers=layers, partition=partition,
        host_arrays={"spike_table": table.to(torch.uint8).numpy()},
        inputs=[{"node": "input", "shape": [hidden, length]}], outputs=[{"node": "output", "shape": [items, 1]}],
        pre_processing={
            "description": "for a sequence of item ids (max_len positions, left-padded with 0, newest "
                           "last), at time step t the input is spike_table[t, ids].T: shape (hidden, "
                           "max_len); row i of the table is item id i of the dataset the model was "
                           "trained on; id 0 (padding) never fires",
            "spike_table": {"shape": list(table.shape), "dtype": "uint8 in {0, 1}"},
        },
        post_processing={
            "read_at_step": steps - 1,
            "description": "the output after the last time step is (items + 1, 1): the score of every item "
                           "id; drop id 0 (padding), optionally mask the user's history, take the top k "
                           "(ties: smaller id first)",
            "top_k": 10,
        },
    )


def host_input(spike_table: np.ndarray, item_seq: np.ndarray) -> np.ndarray:
    """Host pre-processing: (T, I + 1, D) table and (B, N) ids -> input spikes (T, B, D, N)."""
    return np.ascontiguousarray(spike_table[:, item_seq].transpose(0, 1, 3, 2))


def feed(host: dict[str, np.ndarray], item_seq: np.ndarray) -> dict[str, np.ndarray]:
    """What the host injects for (B, N) ids: {input node: spikes (T, B, D, N)}."""
    return {"input": host_input(host["spike_table"], item_seq)}


def reference(model: SSR, item_seq: torch.Tensor, host: dict[str, np.ndarray]) -> torch.Tensor:
    """The PyTorch model's scores from the exported spike table (the same input spikes the graph gets)."""
    table = torch.from_numpy(host["spike_table"]).to(next(model.parameters()).dtype)
    return model.scores_with_table(item_seq, table)


def run(model: SSR, graph, host: dict[str, np.ndarray], item_seq: np.ndarray, dtype: np.dtype,
        record, executor=None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The deployment loop: host lookup, the graph on `executor` (default the reference executor),
    the output after T steps. Returns scores (B, items + 1) and the recorded node traces (T, B, ...)."""
    from ssr.convert.executor import NIRExecutor

    traces = (executor or NIRExecutor)(graph, dtype=dtype).run(feed(host, item_seq), record)
    return traces["output"][-1].reshape(len(item_seq), -1), traces
