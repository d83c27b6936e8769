"""ssr-hybrid (the released code's architecture) as NIR: its spiking sub-graphs, the rest on the host.

Only the feed-forward block of each filter block is spike-driven; embeddings, the float rfft filter,
the first feed-forward map (its input is float) and the batch norm after the time average stay on the
host, which injects currents into the graph and reads spikes back. Per block b (n = N positions, or 1
for the last block, which the model computes for the newest position only):

    block{b}_current (Input, (4D, n): BN(x W_1), the same at every step) -> block{b}_ffn_in_lif (LIF)
        -> block{b}_ffn_out (Conv1d k=1, BN scale folded) ----------------------+-> block{b}_ffn_out_lif
    block{b}_residual (Input, (D, n): x) -> block{b}_ffn_residual (Conv1d k=1, diag BN scale) -+   (LIF)
        -> block{b}_spikes (Output, (D, n)); the host averages it over T and applies the output norm

The blocks' sub-graphs sit side by side in one file; the host runs them in order.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ssr.convert.executor import NIRExecutor
from ssr.convert.nir_build import ExportedGraph, batch_norm_affine, lif_node, pointwise_conv
from ssr.deploy import score_all_reference as reference  # noqa: F401  (the DeploymentModule protocol)
from ssr.models.fmlp.host_loop import run_fmlp_blocks
from ssr.models.fmlp.ssr_hybrid import SSRHybrid


@torch.no_grad()
def export(model: SSRHybrid) -> ExportedGraph:
    import nir

    model = model.eval()
    config = model.config
    hidden, length = config.hidden, model.max_len
    width = hidden * config.ffn_multiplier
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    layers: dict[str, str] = {}
    inputs, outputs = [], []

    def add(name: str, node, layer: str, *sources: str) -> str:
        nodes[name], layers[name] = node, layer
        edges.extend((source, name) for source in sources)
        return name

    for index, block in enumerate(model.blocks):
        n = 1 if index == len(model.blocks) - 1 else length
        prefix, module = f"block{index}_", f"blocks.{index}."
        add(prefix + "current", nir.Input(input_type=np.array([width, n])), module + "ffn_in_norm")
        add(prefix + "residual", nir.Input(input_type=np.array([hidden, n])), module + "filter_norm")
        add(prefix + "ffn_in_lif", lif_node(block.ffn_in_lif, (width, n)), module + "ffn_in_lif", prefix + "current")
        scale, shift = batch_norm_affine(block.ffn_out_norm)
        add(prefix + "ffn_out", pointwise_conv(block.ffn_out, scale, shift, n), module + "ffn_out",
            prefix + "ffn_in_lif")
        add(prefix + "ffn_residual", nir.Conv1d(input_shape=n, weight=np.diag(scale)[:, :, None], stride=1,
                                                padding=0, dilation=1, groups=1, bias=np.zeros(hidden)),
            module + "ffn_out_norm", prefix + "residual")
        add(prefix + "ffn_out_lif", lif_node(block.ffn_out_lif, (hidden, n)), module + "ffn_out_lif",
            prefix + "ffn_out", prefix + "ffn_residual")
        add(prefix + "spikes", nir.Output(output_type=np.array([hidden, n])), module + "ffn_out_lif",
            prefix + "ffn_out_lif")
        inputs += [{"node": prefix + "current", "shape": [width, n]}, {"node": prefix + "residual", "shape": [hidden, n]}]
        outputs.append({"node": prefix + "spikes", "shape": [hidden, n]})

    partition = [
        {"layer": "item_embedding + position_embedding + input_norm", "where": "host",
         "why": "float embeddings and their batch norm: dense float activations, not spikes"},
    ]
    for i in range(len(model.blocks)):
        b = f"blocks.{i}"
        partition += [
            {"layer": f"{b}.filter + filter_norm", "where": "host",
             "why": "float rfft filter on float activations (multiply-accumulates), not spike-driven"},
            {"layer": f"{b}.ffn_in + ffn_in_norm", "where": "host",
             "why": f"its input is float; its output current is injected as block{i}_current at every step"},
            {"layer": f"{b}.ffn_in_lif", "where": "chip", "why": f"node block{i}_ffn_in_lif (LIF)"},
            {"layer": f"{b}.ffn_out + ffn_out_norm", "where": "chip",
             "why": f"node block{i}_ffn_out (Conv1d k=1 on spikes, BN folded) + block{i}_ffn_residual (the "
                    f"float residual x, injected as block{i}_residual, times the BN scale)"},
            {"layer": f"{b}.ffn_out_lif", "where": "chip", "why": f"node block{i}_ffn_out_lif (LIF) -> block{i}_spikes"},
            {"layer": f"{b}.output_norm (mean over T)", "where": "host",
             "why": "averages the block's output spikes over the T steps and normalises: float"},
        ]
    partition += [
        {"layer": "dropout (all)", "where": "removed", "why": "identity at inference"},
        {"layer": "score + top-k", "where": "host", "why": "dot products of the float representation with the "
                                                           "float item table, then sorting"},
    ]
    return ExportedGraph(
        nodes=nodes, edges=edges, layers=layers, partition=partition, inputs=inputs, outputs=outputs,
        pre_processing={"description": "run the model's host layers up to each block's feed-forward input; "
                                       "inject block{b}_current (the same (4D, n) current at every one of "
                                       "the T steps) and block{b}_residual ((D, n), likewise)"},
        post_processing={"description": "average block{b}_spikes over the T steps, apply blocks.{b}.output_norm, "
                                        "continue on the host; after the last block score the newest "
                                        "position against the item table and take the top k", "top_k": 10},
    )


def run(model: SSRHybrid, graph, host: dict[str, np.ndarray], item_seq: np.ndarray,
                 dtype: np.dtype, record, executor=NIRExecutor) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The deployment loop: host layers of `model` (in its dtype) around the chip sub-graphs (run
    by `executor`: the reference executor, or Lava's simulator); returns scores (B, items + 1) and
    the recorded node traces."""

    def feed_forward(block, x, run):
        out = run({"current": block.ffn_in_norm(block.ffn_in(x)).transpose(1, 2),  # (B, 4D, n)
                   "residual": x.transpose(1, 2)})  # (B, D, n)
        return block.output_norm(out["spikes"].mean(0).transpose(1, 2))  # (B, n, D)

    return run_fmlp_blocks(model, graph, item_seq, dtype, record, feed_forward, executor)
