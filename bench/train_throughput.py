"""Training throughput (samples/s) on ml-100k (`ufo`, max length 50), one torch thread.

Each model trains for one real epoch through `ssr.train.trainer.train` (data windows, forward,
backward, Adam step), and the trainer's own timing is reported. The issue's reference: the authors'
released FMLP-Rec code does about 920 samples/s here, their spiking SSR about 183.

`--baseline CHECKOUT` compares this checkout with an earlier commit's (a git worktree) side by side
instead: each side trains one epoch in its own fresh process, the sides alternating `--repeats`
times on the same machine, on the ml-100k users numbered up to `--users` (an epoch of ~20 k samples
at 200), and `train_step_speed.json` records every run's samples/s, so the load is shared and the
ratio is the point.

    git worktree add /tmp/baseline <commit>
    python -m bench.train_throughput --baseline /tmp/baseline --models ssr,fmlp --repeats 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from bench.common import CHECKOUT_IMPORTS, ROOT, SHARED_DATA, commit, save_result
from ssr.data.prepare import PrepareConfig, prepare
from ssr.train.trainer import TrainConfig, train

REFERENCE_SAMPLES_PER_SECOND = {"fmlp": 920, "ssr": 183, "ssr-hybrid": 183}  # released code, per the issue
GOAL_SPEEDUP = {"ssr": 3.0, "ssr-hybrid": 3.0}  # over the released SSR (spikingjelly): issue 23 (ssr was 2x before)


def main(models: list[str], epochs: int = 1) -> dict | None:
    source = SHARED_DATA / "ml-100k" / "u.data"
    if not source.exists():
        print(f"skipped: {source} not found")
        return None
    torch.set_num_threads(1)
    rows = {}
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "ml100k.h5"
        prepare(PrepareConfig(dataset="ml-100k", split="ufo", max_len=50), source, data)
        for model in models:
            metrics = train(model, data, Path(folder) / model, TrainConfig(epochs=epochs, threads=1),
                            progress=False)
            rate, reference = metrics["timings"]["train_samples_per_second"], REFERENCE_SAMPLES_PER_SECOND.get(model)
            rows[model] = {"train_samples_per_second": rate, "reference_samples_per_second": reference,
                           "speedup_vs_reference": round(rate / reference, 2) if reference else None,
                           "goal_speedup": GOAL_SPEEDUP.get(model)}
            print(model, json.dumps(rows[model]))
    result = {"dataset": "ml-100k", "split": "ufo", "max_len": 50, "batch_size": 128,
              "torch_threads": 1, "epochs_timed": epochs, "models": rows}
    save_result("train_throughput", result)
    return result


# one epoch through the checkout's own trainer (its own settings, whatever they are), in a fresh process
EPOCH = CHECKOUT_IMPORTS + """
import json, resource, tempfile
from pathlib import Path
import ssr.train.trainer as code
start = resource.getrusage(resource.RUSAGE_SELF)
with tempfile.TemporaryDirectory() as folder:
    metrics = code.train(sys.argv[2], sys.argv[3], Path(folder) / "run",
                         code.TrainConfig(epochs=1, threads=1, evaluate_test=False), progress=False)
end = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"samples_per_second": metrics["timings"]["train_samples_per_second"], "code": code.__file__,
                  "minor_page_faults": end.ru_minflt - start.ru_minflt,
                  "system_seconds": round(end.ru_stime - start.ru_stime, 2),
                  "user_seconds": round(end.ru_utime - start.ru_utime, 2)}))
"""


def one_epoch(checkout: Path, model: str, data: Path) -> dict:
    """samples/s, and the process's page faults and CPU seconds (load, train, validate)."""
    done = subprocess.run([sys.executable, "-c", EPOCH, str(checkout), model, str(data)], capture_output=True,
                          text=True, cwd=ROOT)
    if done.returncode:
        raise SystemExit(f"training {model} with {checkout} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def side_by_side(baseline: Path, models: list[str], users: int, repeats: int,
                 name: str = "train_step_speed") -> dict | None:
    """Samples/s of `baseline`'s trainer and this checkout's, alternating, `repeats` times each."""
    source = SHARED_DATA / "ml-100k" / "u.data"
    if not source.exists():
        print(f"skipped: {source} not found")
        return None
    rows = {}
    with tempfile.TemporaryDirectory() as folder:
        subset = Path(folder) / "u.data"  # the users numbered up to `users`: a shorter epoch, same shapes
        subset.write_text("".join(line for line in source.read_text().splitlines(keepends=True)
                                  if int(line.split("\t", 1)[0]) <= users))
        data = Path(folder) / "ml100k.h5"
        prepare(PrepareConfig(dataset="ml-100k", split="ufo", max_len=50), subset, data)
        for model in models:
            before, after = [], []
            for _ in range(repeats):
                before.append(one_epoch(baseline, model, data))
                after.append(one_epoch(ROOT, model, data))
                print(f"{model}: {before[-1]['samples_per_second']:.0f} -> {after[-1]['samples_per_second']:.0f} "
                      "samples/s", flush=True)
            rate_before = [run["samples_per_second"] for run in before]
            rate_after = [run["samples_per_second"] for run in after]
            rows[model] = {"before": before, "after": after,
                           "before_mean": round(statistics.mean(rate_before), 1),
                           "after_mean": round(statistics.mean(rate_after), 1),
                           "speed_up": round(statistics.mean(rate_after) / statistics.mean(rate_before), 3),
                           "speed_up_per_pair": [round(a / b, 3) for a, b in zip(rate_after, rate_before)],
                           "reference_samples_per_second": REFERENCE_SAMPLES_PER_SECOND.get(model)}
    result = {"baseline": str(baseline), "baseline_commit": commit(baseline), "commit": commit(ROOT),
              "dataset": f"ml-100k users 1-{users}", "split": "ufo", "max_len": 50, "batch_size": 128,
              "torch_threads": 1, "repeats": repeats, "models": rows}
    save_result(name, result)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="fmlp")
    parser.add_argument("--baseline", type=Path, help="a checkout (git worktree) of an earlier commit: side by side")
    parser.add_argument("--users", type=int, default=200, help="with --baseline: ml-100k users 1..N")
    parser.add_argument("--repeats", type=int, default=3, help="with --baseline: runs per side")
    parser.add_argument("--name", default="train_step_speed",
                        help="with --baseline: result file bench/results/NAME.json (another name keeps an earlier one)")
    args = parser.parse_args()
    if args.baseline:
        side_by_side(args.baseline, args.models.split(","), args.users, args.repeats, args.name)
    else:
        main(args.models.split(","))
