"""`ssr run-lava` on the host-in-the-loop exports (ssr-hybrid, sfmlp and the zoo's spiking models):
each sub-graph call on Lava's simulator, floating_pt, against PyTorch; `--sequences` test sequences
(`all`: the whole test split). `--merge` keeps the rows of runs already in lava_zoo.json and not
named here; each row records its own sequence count."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.common import RESULTS, earlier_result, earlier_rows, save_result, sequence_count
from ssr.convert.export import export
from ssr.targets.loihi_sim.run import run_lava


def main(runs: list[Path], data: Path, sequences: int | None = 100, chunk: int = 100, merge: bool = False) -> dict:
    rows = []
    for run in runs:
        graph = run / "export" / "model.nir"
        export(run / "model.pt", out=graph)
        result = run_lava(graph, data, limit=sequences, chunk=chunk, progress=False).to_dict()
        result.pop("per_sequence")
        rows.append({"run": str(run), **result})
        print(run.name, result["top10_exact_agreement"], result["spike_counts_identical"],
              round(result["sequences_per_second"], 2))
    if merge:  # rows measured before (another day, another load) stay, marked so
        named = {row["run"] for row in rows}
        rows = [row for run, row in earlier_rows(earlier_result("lava_zoo"), "runs").items() if run not in named] + rows
    out = {"sequences": "all" if sequences is None else sequences, "data": str(data), "runs": rows}
    save_result("lava_zoo", out)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", required=True, help="comma-separated run directories (spiking models)")
    parser.add_argument("--data", default=str(RESULTS.parent / "work" / "ml-100k_ufo.h5"))
    parser.add_argument("--sequences", type=sequence_count, default=100,
                        help="the first N test sequences, or all (default 100)")
    parser.add_argument("--chunk", type=int, default=100,
                        help="sequences per sub-graph call (default 100, as the earlier rows; run-lava's is 64)")
    parser.add_argument("--merge", action="store_true", help="keep the rows of other runs already in the file")
    args = parser.parse_args()
    main([Path(p) for p in args.runs.split(",")], Path(args.data), args.sequences, chunk=args.chunk, merge=args.merge)
