"""SFMLP (FMLP-Rec with a spiking feed-forward block) as NIR: per block, LIF -> W_2 on the chip.

Everything but the feed-forward block's spiking part is float and stays on the host (embeddings,
layer norms, the rfft filter, W_1 and its batch norm, the time average). Per block b (n = N
positions, or 1 for the last block):

    block{b}_current (Input, (4D, n): BN(W_1 x), the same at every step) -> block{b}_ffn_lif (LIF)
        -> block{b}_ffn_out (Conv1d k=1: W_2, bias) -> block{b}_out (Output, (D, n) per step)

The host averages block{b}_out over the T steps, adds the residual and applies the layer norm.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ssr.convert.executor import NIRExecutor
from ssr.convert.nir_build import ExportedGraph, lif_node, pointwise_conv
from ssr.deploy import score_all_reference as reference  # noqa: F401  (the DeploymentModule protocol)
from ssr.models.fmlp.host_loop import run_fmlp_blocks


@torch.no_grad()
def export(model) -> ExportedGraph:
    import nir

    model = model.eval()
    hidden, length = model.config.hidden, model.max_len
    width = hidden * model.config.ffn_multiplier
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    layers: dict[str, str] = {}
    inputs, outputs, partition = [], [], [
        {"layer": "item_embedding + position_embedding + input_norm", "where": "host",
         "why": "float embeddings and their layer norm"}]
    for index, block in enumerate(model.blocks):
        n = 1 if index == len(model.blocks) - 1 else length
        prefix, module = f"block{index}_", f"blocks.{index}."
        nodes[prefix + "current"] = nir.Input(input_type=np.array([width, n]))
        nodes[prefix + "ffn_lif"] = lif_node(block.ffn.lif, (width, n))
        nodes[prefix + "ffn_out"] = pointwise_conv(block.ffn.out, np.ones(hidden), np.zeros(hidden), n)
        nodes[prefix + "out"] = nir.Output(output_type=np.array([hidden, n]))
        edges += [(prefix + "current", prefix + "ffn_lif"), (prefix + "ffn_lif", prefix + "ffn_out"),
                  (prefix + "ffn_out", prefix + "out")]
        layers.update({prefix + "current": module + "ffn.norm", prefix + "ffn_lif": module + "ffn.lif",
                       prefix + "ffn_out": module + "ffn.out", prefix + "out": module + "ffn.out"})
        inputs.append({"node": prefix + "current", "shape": [width, n]})
        outputs.append({"node": prefix + "out", "shape": [hidden, n]})
        partition += [
            {"layer": f"{module}filter + filter_norm", "where": "host", "why": "float rfft filter and layer norm"},
            {"layer": f"{module}ffn.into + ffn.norm", "where": "host",
             "why": f"float input; its current is injected as block{index}_current at every step"},
            {"layer": f"{module}ffn.lif", "where": "chip", "why": f"node block{index}_ffn_lif (LIF)"},
            {"layer": f"{module}ffn.out", "where": "chip",
             "why": f"node block{index}_ffn_out (Conv1d k=1 on spikes) -> block{index}_out"},
            {"layer": f"{module}ffn_norm (mean over T, residual)", "where": "host",
             "why": "the time average, the residual and the layer norm are float"},
        ]
    partition += [{"layer": "dropout (all)", "where": "removed", "why": "identity at inference"},
                  {"layer": "score + top-k", "where": "host", "why": "float scoring against the item table"}]
    return ExportedGraph(
        nodes=nodes, edges=edges, layers=layers, partition=partition, inputs=inputs, outputs=outputs,
        pre_processing={"description": "run the host layers up to each block's feed-forward input; inject "
                                       "block{b}_current = BN(W_1 x) at every one of the T steps"},
        post_processing={"description": "average block{b}_out over the T steps, add the residual, apply "
                                        "blocks.{b}.ffn_norm and continue on the host", "top_k": 10})


def run(model, graph, host: dict[str, np.ndarray], item_seq: np.ndarray, dtype: np.dtype,
                 record, executor=NIRExecutor) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """FMLP-Rec's forward with each block's spiking part run by `executor` (reference or Lava)."""

    def feed_forward(block, x, run):
        out = run({"current": block.ffn.norm(block.ffn.into(x)).transpose(1, 2)})  # (B, 4D, n)
        return block.ffn_norm(x + out["out"].mean(0).transpose(1, 2))

    return run_fmlp_blocks(model, graph, item_seq, dtype, record, feed_forward, executor)
