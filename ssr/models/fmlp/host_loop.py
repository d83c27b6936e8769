"""The host side of FMLP-style hybrid models (ssr-hybrid, sfmlp) around their per-block sub-graphs.

Both run FMLP-Rec's float parts on the host (embeddings, input norm, the rfft filter and its norm,
the newest position only in the last block) and hand each block's feed-forward input to the chip.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ssr.convert.executor import NIRExecutor, subgraph


def run_fmlp_blocks(model, graph, item_seq: np.ndarray, dtype: np.dtype, record,
                    feed_forward: Callable, executor=NIRExecutor) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Scores (B, items + 1) and node traces. `feed_forward(block, x, run)` returns the block's new x
    from x (B, n, D), where `run(inputs)` runs the block's sub-graph on {node suffix: (B, C, n)} inputs
    (repeated over the T steps) and returns its outputs by node suffix, (T, B, C, n) tensors.
    `executor(graph, dtype)` runs a sub-graph: the reference executor, or Lava's simulator."""
    steps = model.config.time_steps
    torch_dtype = next(model.parameters()).dtype
    seq = torch.from_numpy(item_seq)
    x = model.input_norm(model.item_embedding(seq) + model.position_embedding(torch.arange(seq.shape[1])))
    traces: dict[str, np.ndarray] = {}
    for index, block in enumerate(model.blocks):
        prefix = f"block{index}_"
        x = block.filter_norm(x + block.filter(x))
        if index == len(model.blocks) - 1:
            x = x[:, -1:]

        def run(inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
            arrays = {prefix + key: np.broadcast_to(value.numpy(), (steps, *value.shape))
                      for key, value in inputs.items()}
            out = executor(subgraph(graph, prefix), dtype=dtype).run(
                arrays, record=[name for name in record if name.startswith(prefix)])
            traces.update(out)
            return {name[len(prefix):]: torch.from_numpy(value).to(torch_dtype) for name, value in out.items()}

        x = feed_forward(block, x, run)
    return (x[:, -1] @ model.item_embeddings().T).numpy(), traces
