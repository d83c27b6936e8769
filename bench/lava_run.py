"""`ssr run-lava` on an SSR model trained on ml-100k: 500 test sequences, floating_pt and fixed_pt.

Records what lava.json holds (quality from Lava's scores, agreement with PyTorch, spike counts,
synaptic operations, sequences/s and where the time goes) for both precisions, plus the goals.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.common import RESULTS, save_result
from ssr.convert.export import export
from ssr.io import write_json
from ssr.targets.loihi_sim.run import run_lava


def main(run: Path, data: Path, sequences: int = 500) -> dict:
    graph = run / "export" / "model.nir"
    export(run / "model.pt", out=graph)
    rows = {}
    for precision in ("float", "fixed"):
        result = run_lava(graph, data, limit=sequences, precision=precision, progress=False)
        write_json(graph.parent / f"lava_{precision}.json", result)  # for the energy benchmark
        result.pop("per_sequence")
        rows[precision] = result
        print(precision, {k: result[k] for k in ("HR@10", "top10_exact_agreement", "mean_top10_overlap",
                                                   "spike_counts_identical", "sequences_per_second")})
    out = {"run": str(run), "data": str(data), "sequences": sequences, "results": rows,
           "goals": {"float_top10_identical": ">= 0.99", "fixed_mean_top10_overlap": ">= 0.9",
                     "fixed_HR@10_relative": "within 5%", "500_sequences_seconds": "< 600, aim < 60"}}
    save_result("lava_run", out)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default=str(RESULTS.parent / "work" / "runs" / "ml-100k_ssr_seed0"),
                        help="an ssr run directory trained on ml-100k (default: the quality benchmark's seed 0)")
    parser.add_argument("--data", default=str(RESULTS.parent / "work" / "ml-100k_ufo.h5"))
    parser.add_argument("--sequences", type=int, default=500)
    args = parser.parse_args()
    main(Path(args.run), Path(args.data), args.sequences)
