"""The arithmetic floor under a Lava run: an exported graph on the reference NIR executor (numpy).

The reference executor does what Lava's floating_pt process models do each step (dense synapse
products, LIF updates, in float64) with none of Lava's costs (no processes, no channels, no
per-step synchronisation) and every sequence in one batch. So its sequences/s bound from above
what any numpy-based simulation of the same graph can reach on the same machine; `lava_speed.json`
is the figure to set beside it. Each case runs through the model's own deployment loop (the one
`ssr-export --verify` runs), on the first SEQUENCES test windows, in float64 and float32.

    python -m bench.executor_speed --case GRAPH:DATA:SEQUENCES ...
"""

from __future__ import annotations

import argparse
import copy
import os
import time

import numpy as np
import torch

from bench.common import save_result
from ssr.checkpoint import load_checkpoint
from ssr.convert.executor import NIRExecutor
from ssr.convert.export import ExportedFiles
from ssr.convert.verify import verify_inputs
from ssr.deploy import deployment_of


@torch.no_grad()
def measure(graph: str, data: str, sequences: int) -> dict:
    files = ExportedFiles(graph)
    model, _ = load_checkpoint(files.manifest.provenance["checkpoint"])
    item_seq = verify_inputs(files.manifest.provenance["checkpoint"], data, sequences=sequences)
    row = {"graph": graph, "model": files.manifest.model, "data": data, "sequences": len(item_seq)}
    for dtype in ("float64", "float32"):
        twin = copy.deepcopy(model).to(getattr(torch, dtype)).eval()
        load = os.getloadavg()[0]
        started = time.perf_counter()
        deployment_of(files.manifest.model).implementation().run(twin, files.graph, files.host_arrays, item_seq,
                                                                  np.dtype(dtype), [], NIRExecutor)
        seconds = time.perf_counter() - started
        row[dtype] = {"seconds": round(seconds, 2), "sequences_per_second": round(len(item_seq) / seconds, 1),
                      "load_average_1min_before": round(load, 2)}
        print(f"{row['model']:<8} {dtype}: {len(item_seq) / seconds:.1f} sequences/s", flush=True)
    return row


def parse_case(text: str) -> tuple[str, str, int]:
    parts = text.split(":")
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"--case {text}: expected GRAPH:DATA:SEQUENCES")
    return parts[0], parts[1], int(parts[2])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", type=parse_case, action="append", required=True,
                        help="GRAPH:DATA:SEQUENCES (repeatable)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    save_result("executor_speed", {"cases": [measure(*case) for case in args.case]})
