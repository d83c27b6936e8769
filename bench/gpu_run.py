"""`ssr run-gpu` for every landed model pair on ml-100k: fmlp, ssr, ssr-hybrid.

On this machine that is a CPU run (the JSON says so); on a machine with CUDA the same command times
the GPU and, on NVIDIA boards, reads NVML energy. Batch sizes 1, 32, 256; eager, torch.compile and
half (autocast: float16 on CUDA, bfloat16 on CPU) rows.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.common import RESULTS, save_result
from ssr.targets.gpu.run import run_gpu


def main(runs: list[Path], data: Path, device: str | None = None, repeats: int = 20, compile: bool = True,
         name: str = "gpu_run") -> dict:
    results = []
    for run in runs:
        result = run_gpu(run / "model.pt", data, batch_sizes=(1, 32, 256), device=device, compile=compile, half=True,
                         repeats=repeats).to_dict()
        results.append(result)
        for row in result["rows"]:
            print(result["model"], row["mode"], row["batch_size"], row.get("latency_ms_p50"), row.get("error", ""))
    out = {"data": str(data), "device": results[0]["device"] if results else None, "runs": results}
    save_result(name, out)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    work = RESULTS.parent / "work"
    parser.add_argument("--runs", default=",".join(str(work / "runs" / f"ml-100k_{m}_seed0")
                                                  for m in ("fmlp", "ssr", "ssr-hybrid")))
    parser.add_argument("--data", default=str(work / "ml-100k_ufo.h5"))
    parser.add_argument("--device", choices=("cuda", "cpu"))
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile rows (slow to compile)")
    parser.add_argument("--name", default="gpu_run", help="result file name under bench/results/")
    args = parser.parse_args()
    main([Path(p) for p in args.runs.split(",")], Path(args.data), args.device, args.repeats, not args.no_compile,
         args.name)
