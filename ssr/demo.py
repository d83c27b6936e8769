"""`make demo`: the pipeline end to end on the embedded synthetic dataset, in a few minutes on 2 cores.

Runs the same CLI commands a user would type (printed before each step): prepare, train popularity,
FMLP-Rec and SSR, a table of test metrics, then SSR exported to NIR (verified against PyTorch), a
few test sequences run on Lava's Loihi 2 simulator, and the energy report of FMLP-Rec vs SSR.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from ssr.cli import format_metrics_table, main as ssr_main

DEMO_MODELS = ("pop", "fmlp", "ssr")
DEMO_USERS = 1000  # small enough for a few minutes on 2 cores
LAVA_SEQUENCES = 32  # test sequences through the Loihi simulator


def run(argv: list[str]) -> None:
    print(f"\n$ ssr {shlex.join(argv)}", flush=True)
    code = ssr_main(argv)
    if code != 0:
        sys.exit(code)


def demo(out: Path, epochs: int) -> None:
    data = out / "synthetic.h5"
    run(["data", "prepare", "--dataset", "synthetic", "--synthetic-users", str(DEMO_USERS), "--out", str(data)])
    for model in DEMO_MODELS:
        run_dir = out / "runs" / model
        run(["train", "--model", model, "--data", str(data), "--epochs", str(epochs),
             "--out", str(run_dir), "--overwrite"])
    results = {model: json.loads((out / "runs" / model / "metrics.json").read_text())["test"]
               for model in DEMO_MODELS}
    print("\nTest metrics on the synthetic dataset (full ranking over all items):")
    print(format_metrics_table(results, keys=("HR@10", "NDCG@10", "MRR@10", "HR@20", "NDCG@20")))
    for model in DEMO_MODELS[1:]:
        gain = results[model]["NDCG@10"] / max(results["pop"]["NDCG@10"], 1e-12)
        print(f"{model} NDCG@10 is {gain:.1f}x popularity's.")
    print(f"Runs are in {out / 'runs'}/ (model.pt, metrics.json, train.log).")
    graph = out / "runs" / "ssr" / "model.nir"
    run(["export", str(out / "runs" / "ssr" / "model.pt"), "--to", "nir", "-o", str(graph), "--verify",
         "--verify-sequences", "128"])
    run(["run-lava", str(graph), "--data", str(data), "--limit", str(LAVA_SEQUENCES), "--out",
         str(out / "lava.json")])
    run(["energy-report", str(out / "runs" / "fmlp"), str(out / "runs" / "ssr"), "--lava", str(out / "lava.json"),
         "--out", str(out / "energy")])
    print(f"\nThe energy report: {out / 'energy' / 'report.html'} (also report.md, report.json and PNGs).")


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="demo", help="output folder (default ./demo)")
    parser.add_argument("--epochs", type=int, default=6, help="epochs per model (default 6)")
    args = parser.parse_args()
    demo(Path(args.out), args.epochs)


if __name__ == "__main__":
    cli()
