"""NIR export + `--verify` of trained spiking models: exact spikes, scores, time and file sizes.

Exports every finished spiking run under `--work` (the quality benchmark's runs, one per model and
dataset, seed 0 by default) and verifies the graph against the PyTorch model on the first
`--sequences` test sequences of the dataset it was trained on, in float64 and float32.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bench.common import RESULTS, save_result
from ssr.convert.export import export, host_path, manifest_path
from ssr.convert.verify import verify_export, verify_inputs

MODELS = ("ssr", "ssr-hybrid")


def main(work: Path, runs: list[str] | None = None, sequences: int = 256) -> dict:
    rows = []
    if runs is None:
        runs = sorted(str(p.parent) for model in MODELS for p in (work / "runs").glob(f"*_{model}_seed0/model.pt"))
    for run in runs:
        checkpoint = Path(run) / "model.pt"
        out = Path(run) / "export" / "model.nir"
        start = time.perf_counter()
        export(checkpoint, out=out)
        export_seconds = time.perf_counter() - start
        item_seq = verify_inputs(checkpoint, sequences=sequences)
        row = {"run": run, "export_seconds": round(export_seconds, 2),
               "bytes": {"graph": out.stat().st_size, "manifest": manifest_path(out).stat().st_size,
                         "host": host_path(out).stat().st_size}}
        for dtype in ("float64", "float32"):
            start = time.perf_counter()
            report = verify_export(out, checkpoint, item_seq, dtype=dtype)
            row[dtype] = {**report.to_dict(), "seconds": round(time.perf_counter() - start, 2)}
        rows.append(row)
        print(run, "float64", "PASS" if row["float64"]["passed"] else "FAIL",
              "| float32 spikes differing:", row["float32"]["spike_mismatches"])
    result = {"sequences": sequences, "runs": rows}
    save_result("nir_verify", result)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default=str(RESULTS.parent / "work"), help="the quality benchmark's work dir")
    parser.add_argument("--runs", help="comma-separated run directories (default: seed-0 spiking runs in --work)")
    parser.add_argument("--sequences", type=int, default=256)
    args = parser.parse_args()
    main(Path(args.work), args.runs.split(",") if args.runs else None, args.sequences)
