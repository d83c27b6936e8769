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

`--released CHECKOUT` puts the authors' released code in the baseline's place (github.com/AmazingDD/serenRec
at 0c85847, the last commit that holds their SSR; its own model classes, `fit()` loop and "Train Elapse"
timing, spikingjelly's LIF): ssr and ssr-hybrid against their SSR, fmlp against their FMLP, each side
one epoch on the same training windows (theirs right-padded with lengths, as their loader gives them),
batch 128, one thread, the settings of their command line (T 4, hidden 64, 2 layers, dropout 0.3,
lr 1e-3, weight decay 1e-4). Their code is read from the checkout, never copied here.

    git -C MIRROR archive 0c85847 seren | tar -x -C /tmp/serenRec
    python -m bench.train_throughput --released /tmp/serenRec --models ssr,ssr-hybrid,fmlp --repeats 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from bench.common import CHECKOUT_IMPORTS, ROOT, SHARED_DATA, commit, save_result
from ssr.data.dataset import read_dataset
from ssr.data.prepare import PrepareConfig, prepare
from ssr.train.trainer import TrainConfig, train

REFERENCE_SAMPLES_PER_SECOND = {"fmlp": 920, "ssr": 183, "ssr-hybrid": 183}  # released code, per the issue
RELEASED_COMMIT = "0c85847"  # github.com/AmazingDD/serenRec: the last commit with seren/recommender/ssr/
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


# the released code's model (file, class) that each of ours is measured against
RELEASED_MODELS = {"ssr": ("seren/recommender/ssr/ssr.py", "SSR"), "ssr-hybrid": ("seren/recommender/ssr/ssr.py", "SSR"),
                   "fmlp": ("seren/recommender/fmlp.py", "FMLP")}
RELEASED_SETTINGS = {"epochs": 1, "device": "cpu", "learning_rate": 1e-3, "weight_decay": 1e-4, "T": 4, "tau": 2.0,
                     "num_layers": 2, "item_embedding_dim": 64, "dropout_prob": 0.3, "max_seq_len": 50}  # their CLI

# one epoch of the released code's own fit() in a fresh process; its logger's "Train Elapse" is the time
RELEASED_EPOCH = """
import importlib.util, json, re, resource, sys
import torch
checkout, source, name, windows, settings = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], json.loads(sys.argv[5])
torch.set_num_threads(1)
spec = importlib.util.spec_from_file_location("released", f"{checkout}/{source}")
code = importlib.util.module_from_spec(spec)
spec.loader.exec_module(code)
data = torch.load(windows)
class Log:
    lines = []
    def info(self, line):
        self.lines.append(line)
torch.manual_seed(0)
model = getattr(code, name)(data["num_items"], {**settings, "logger": Log()})
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(data["sequences"], data["targets"], data["lengths"]),
                                     batch_size=128, shuffle=True)
start = resource.getrusage(resource.RUSAGE_SELF)
model.fit(loader)
end = resource.getrusage(resource.RUSAGE_SELF)
seconds = float(re.search(r"Train Elapse: ([0-9.]+)s", Log.lines[-1]).group(1))
print(json.dumps({"samples_per_second": round(len(data["targets"]) / seconds, 1), "code": f"{source}:{name}",
                  "minor_page_faults": end.ru_minflt - start.ru_minflt,
                  "system_seconds": round(end.ru_stime - start.ru_stime, 2),
                  "user_seconds": round(end.ru_utime - start.ru_utime, 2)}))
"""


def right_padded(windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Our left-padded (samples, L) windows as the released loader's right-padded rows and lengths."""
    order = np.argsort(windows == 0, axis=1, kind="stable")  # items first, in their order, then the padding
    return np.take_along_axis(windows, order, axis=1), (windows > 0).sum(axis=1)


def released_epoch(checkout: Path, model: str, windows: Path) -> dict:
    """One epoch of the released counterpart of `model`, in a fresh process."""
    source, name = RELEASED_MODELS[model]
    done = subprocess.run([sys.executable, "-c", RELEASED_EPOCH, str(checkout), source, name, str(windows),
                           json.dumps(RELEASED_SETTINGS)], capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        raise SystemExit(f"training the released {name} of {checkout} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def side_by_side(baseline: Path, models: list[str], users: int, repeats: int,
                 name: str = "train_step_speed", released: bool = False) -> dict | None:
    """Samples/s of `baseline`'s trainer and this checkout's, alternating, `repeats` times each;
    with `released`, `baseline` is a checkout of the authors' released code instead (RELEASED_MODELS)."""
    if released:
        missing = [model for model in models if model not in RELEASED_MODELS]
        if missing:
            raise SystemExit(f"--released compares {', '.join(RELEASED_MODELS)} only, not {', '.join(missing)}")
        absent = sorted({str(baseline / RELEASED_MODELS[model][0]) for model in models
                         if not (baseline / RELEASED_MODELS[model][0]).exists()})
        if absent:
            raise SystemExit(f"--released: {', '.join(absent)} not found; extract the released code's commit "
                             f"{RELEASED_COMMIT} there (see this module's docstring)")
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
        if released:  # the same training samples, in the released loader's form
            windows = Path(folder) / "released_windows.pt"
            dataset = read_dataset(data)
            inputs, targets = dataset.inputs_and_targets("train")
            sequences, lengths = right_padded(inputs)
            torch.save({"sequences": torch.from_numpy(sequences), "targets": torch.from_numpy(targets),
                        "lengths": torch.from_numpy(lengths), "num_items": dataset.num_items}, windows)
        for model in models:
            before, after = [], []
            for _ in range(repeats):
                before.append(released_epoch(baseline, model, windows) if released
                              else one_epoch(baseline, model, data))
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
                           "reference_samples_per_second": REFERENCE_SAMPLES_PER_SECOND.get(model),
                           "goal_speedup": GOAL_SPEEDUP.get(model) if released else None}
    result = {"baseline": str(baseline), "baseline_commit": RELEASED_COMMIT if released else commit(baseline),
              "baseline_is_released_code": released, "commit": commit(ROOT),
              "dataset": f"ml-100k users 1-{users}", "split": "ufo", "max_len": 50, "batch_size": 128,
              "torch_threads": 1, "repeats": repeats, "models": rows}
    save_result(name, result)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="fmlp")
    parser.add_argument("--baseline", type=Path, help="a checkout (git worktree) of an earlier commit: side by side")
    parser.add_argument("--released", type=Path,
                        help="a checkout of the authors' released code (serenRec 0c85847): side by side against it")
    parser.add_argument("--users", type=int, default=200, help="side by side: ml-100k users 1..N")
    parser.add_argument("--repeats", type=int, default=3, help="side by side: runs per side")
    parser.add_argument("--name", help="side by side: result file bench/results/NAME.json (default train_step_speed, "
                                       "with --released train_step_vs_released; another name keeps an earlier one)")
    args = parser.parse_args()
    if args.baseline and args.released:
        parser.error("--baseline and --released each name the other side: give one")
    if args.baseline or args.released:
        released = args.released is not None
        name = args.name or ("train_step_vs_released" if released else "train_step_speed")
        side_by_side(args.baseline or args.released, args.models.split(","), args.users, args.repeats, name,
                     released=released)
    else:
        main(args.models.split(","))
