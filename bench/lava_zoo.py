"""`ssr run-lava` on the host-in-the-loop exports (ssr-hybrid, sfmlp and the zoo's spiking models):
each sub-graph call on Lava's simulator, floating_pt, against PyTorch; `--sequences` test sequences."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.common import RESULTS, save_result
from ssr.convert.export import export
from ssr.targets.loihi_sim.run import run_lava


def main(runs: list[Path], data: Path, sequences: int = 100, chunk: int = 100) -> dict:
    rows = []
    for run in runs:
        graph = run / "export" / "model.nir"
        export(run / "model.pt", out=graph)
        result = run_lava(graph, data, limit=sequences, chunk=chunk, progress=False).to_dict()
        result.pop("per_sequence")
        rows.append({"run": str(run), **result})
        print(run.name, result["top10_exact_agreement"], result["spike_counts_identical"],
              round(result["sequences_per_second"], 2))
    out = {"sequences": sequences, "data": str(data), "runs": rows}
    save_result("lava_zoo", out)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", required=True, help="comma-separated run directories (spiking models)")
    parser.add_argument("--data", default=str(RESULTS.parent / "work" / "ml-100k_ufo.h5"))
    parser.add_argument("--sequences", type=int, default=100)
    args = parser.parse_args()
    main([Path(p) for p in args.runs.split(",")], Path(args.data), args.sequences)
