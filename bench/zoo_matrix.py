"""The zoo matrix (every model x ml-100k, Beauty x 3 seeds), trained cell by cell across sessions.

`ssr bench` keeps its finished runs as checkpoints in OUT/runs (git-ignored). The whole matrix takes
more than a day of this 2-core machine, longer than a working session, and a session's work folder
does not survive it. So this benchmark records each finished run's metrics in a ledger committed
with the results (`bench/results/zoo_matrix_runs.json`: test metrics, best epoch, timings, dataset
fingerprint and the commit that trained it) and trains only the cells the ledger lacks, seed by seed
(every model's seed 0 on both datasets first, so a partial matrix is already a full one-seed table).

Several workers (one per core) may run at once: a cell another worker is training is skipped (its
run directory is locked by the trainer), and ledger updates are serialised by a file lock. Runs the
three-seed quality benchmarks already made with the same settings (`quality_ml100k.json`,
`quality_beauty.json`: fmlp, ssr, ssr-hybrid) are taken from those files.

The results table, in `ssr bench`'s shape: `bench/results/zoo_matrix.json` (with the mean relative
ANN -> SNN gap per metric and how many cells are done), `bench/results/zoo_matrix.md` and `.csv`.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

from bench.common import RESULTS, ROOT, SHARED_DATA, save_result
from ssr.data.dataset import read_dataset
from ssr.io import atomic_path, write_json
from ssr.train.matrix import METRICS, ordered, prepare_datasets, resolve_models, summarise
from ssr.train.trainer import RunBusyError, TrainConfig, train

LEDGER = RESULTS / "zoo_matrix_runs.json"
QUALITY_FILES = ("quality_ml100k.json", "quality_beauty.json")
LEDGER_FORMAT = 1
WORK = RESULTS.parent / "work" / "zoo_matrix"  # prepared data and run checkpoints (git-ignored)
SETTINGS = {"epochs": 15, "patience": 5, "threads": 1, "mask_history": False, "max_len": 50}


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on PATH.lock (blocking): one ledger writer at a time."""
    with open(path.with_name(path.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def read_ledger(path: Path, settings: dict[str, Any]) -> dict[str, Any]:
    if not path.is_file():
        return {"format": LEDGER_FORMAT, "settings": settings, "datasets": {}, "runs": {}}
    ledger = json.loads(path.read_text())
    if ledger["settings"] != settings:
        raise SystemExit(f"{path} was recorded with settings {ledger['settings']}, not {settings}; "
                         "use the same --epochs/--patience/--threads or another --ledger")
    return ledger


def record(path: Path, settings: dict[str, Any], entries: dict[str, dict[str, Any]]) -> None:
    """Add finished cells ('dataset/model/seedK' -> entry) to the ledger; cells already there are kept."""
    with locked(path):
        ledger = read_ledger(path, settings)
        ledger["runs"] = dict(sorted({**entries, **ledger["runs"]}.items()))
        write_json(path, ledger)


def commit() -> str:
    """The checkout's commit (short hash); main() reads it once, when the code that trains is loaded."""
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def import_quality_runs(path: Path, settings: dict[str, Any], seeds: int) -> None:
    """Cells the quality benchmarks trained with these exact settings (plain test metrics per seed)."""
    for name in QUALITY_FILES:
        source = RESULTS / name
        if not source.is_file():
            continue
        quality = json.loads(source.read_text())
        if (quality["epochs_max"], quality["patience"]) != (settings["epochs"], settings["patience"]):
            continue
        record(path, settings, {f"{row['dataset']}/{row['model']}/seed{seed}":
                                {"test": test, "source": f"bench/results/{name}", "date": quality["date"]}
                                for row in quality["results"].values()
                                for seed, test in enumerate(row["per_seed_test"][:seeds])})


def cells(models: list[str], datasets: list[str], seeds: int) -> list[tuple[str, str, int]]:
    """Seed-major order: every (dataset, model) at seed 0, then seed 1, ..."""
    return [(dataset, model, seed) for seed in range(seeds) for dataset in datasets for model in models]


def probe_seconds(model_name: str, data_path: Path, settings: dict[str, Any], steps: int = 4) -> float:
    """Seconds a whole run would take at most (every epoch, no early stop): measured seconds per
    training step (after one warm-up step) x steps per epoch, plus one validation pass, x epochs."""
    import torch

    from ssr.evaluate import evaluate
    from ssr.models.base import build_model

    dataset = read_dataset(data_path)
    torch.set_num_threads(settings["threads"] or torch.get_num_threads())
    model = build_model(model_name, dataset.num_items, dataset.max_len, None)
    inputs, targets = model.inputs(dataset, "train"), dataset.targets("train")
    batch_size = TrainConfig().batch_size
    optimizer = torch.optim.Adam(model.parameters())
    for step in range(steps + 1):
        if step == 1:
            started = time.perf_counter()
        batch = slice(step * batch_size, (step + 1) * batch_size)
        loss = model.loss(*(torch.from_numpy(a[batch]) for a in inputs), torch.from_numpy(targets[batch]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    epoch_seconds = (time.perf_counter() - started) / steps * -(-len(targets) // batch_size)
    started = time.perf_counter()
    evaluate(model.eval(), dataset, "valid", TrainConfig().eval_batch_size)
    return (epoch_seconds + time.perf_counter() - started) * settings["epochs"]


def estimate_seconds(key: str, data_path: Path, settings: dict[str, Any], ledger: dict[str, Any],
                     work: Path) -> float:
    """A finished seed of the same model and dataset, scaled to every epoch; else a probe (cached)."""
    dataset, model, _ = key.split("/")
    for other, entry in ledger["runs"].items():
        if other.startswith(f"{dataset}/{model}/") and "timings" in entry:
            per_epoch = entry["timings"]["train_seconds"] / max(entry["epochs_run"], 1)
            return (per_epoch * 1.1 + entry["timings"]["eval_seconds"] / 2) * settings["epochs"]
    cache = work / "estimates.json"
    estimates = json.loads(cache.read_text()) if cache.is_file() else {}
    if f"{dataset}/{model}" not in estimates:
        estimates[f"{dataset}/{model}"] = probe_seconds(model, data_path, settings)
        # re-read: another worker may have cached its own probes while this one ran
        write_json(cache, {**(json.loads(cache.read_text()) if cache.is_file() else {}), **estimates})
    return estimates[f"{dataset}/{model}"]


def run_path(work: Path, dataset: str, model: str, seed: int) -> Path:
    """Where a cell's run lives: WORK/runs/<dataset>/<model>/seed<k>, as in `ssr bench`."""
    return work / "runs" / dataset / model / f"seed{seed}"


def train_cell(model: str, data_path: Path, run_dir: Path, seed: int, settings: dict[str, Any]) -> Path:
    """RUN_DIR holding a finished run of `model` (trained now unless it is there; an interrupted run
    resumes from its last epoch). Raises RunBusyError while another process trains into it."""
    if not (run_dir / "metrics.json").is_file() or not (run_dir / "model.pt").is_file():
        print(f"{time.strftime('%H:%M:%S')} training {model} seed {seed} -> {run_dir}", flush=True)
        config = TrainConfig(epochs=settings["epochs"], patience=settings["patience"], seed=seed,
                             threads=settings["threads"])
        # a run that wrote model.pt but not metrics.json (killed in between) starts again
        train(model, data_path, run_dir, config, progress=False, overwrite=(run_dir / "model.pt").is_file())
    return run_dir


def checkpoint(dataset: str, model: str, work: Path = WORK, seed: int = 0) -> Path:
    """The run directory of one cell with its model.pt, for the benchmarks that deploy trained models
    (the ledger keeps metrics, not checkpoints: a cell recorded in another session is trained again)."""
    data = prepare_datasets([dataset], SHARED_DATA, work)[dataset]
    return train_cell(model, data, run_path(work, dataset, model, seed), seed, SETTINGS)


def work_on(models: list[str], data: dict[str, Path], seeds: int, settings: dict[str, Any], work: Path,
            ledger_path: Path, until: float | None = None, code_commit: str = "unknown") -> int:
    """Train every cell the ledger lacks and nobody else is training; with `until` (epoch seconds),
    start only cells whose estimated run ends before it. Returns how many cells were left undone."""
    left = 0
    for dataset, model, seed in cells(models, list(data), seeds):
        key = f"{dataset}/{model}/seed{seed}"
        with locked(ledger_path):
            ledger = read_ledger(ledger_path, settings)
        if key in ledger["runs"]:
            continue
        run_dir = run_path(work, dataset, model, seed)
        if until is not None and not (run_dir / "metrics.json").is_file():
            needed, remaining = estimate_seconds(key, data[dataset], settings, ledger, work), until - time.time()
            if needed > remaining:
                print(f"{time.strftime('%H:%M:%S')} {key}: needs up to {needed / 60:.0f} min, "
                      f"{max(remaining, 0) / 60:.0f} min left before --until; not started", flush=True)
                left += 1
                continue
        try:
            train_cell(model, data[dataset], run_dir, seed, settings)
        except RunBusyError:
            print(f"  {key}: another worker is training it, skipped", flush=True)
            left += 1
            continue
        metrics = json.loads((run_dir / "metrics.json").read_text())
        entry = {"test": metrics["test"], "valid": metrics["valid"], "best_epoch": metrics["best_epoch"],
                 "epochs_run": metrics["epochs_run"], "timings": metrics["timings"],
                 "dataset_fingerprint": metrics["dataset"], "commit": code_commit,
                 "date": time.strftime("%Y-%m-%d")}
        record(ledger_path, settings, {key: entry})
        print(f"{time.strftime('%H:%M:%S')} {key}: test " +
              " ".join(f"{m} {metrics['test'][m]:.4f}" for m in METRICS) +
              f" (best epoch {metrics['best_epoch']} of {metrics['epochs_run']}, "
              f"{metrics['timings']['train_seconds'] / max(metrics['epochs_run'], 1):.0f} s/epoch)", flush=True)
    return left


def table(models: list[str], datasets: list[str], seeds: int, settings: dict[str, Any],
          ledger_path: Path) -> dict[str, Any]:
    """zoo_matrix.json/.md/.csv from the ledger (partial when cells are missing). The table covers
    every cell asked for and every cell in the ledger: a worker given a few models does not shrink it."""
    with locked(ledger_path):
        ledger = read_ledger(ledger_path, settings)
    recorded = [key.split("/") for key in ledger["runs"]]
    models = ordered(sorted(set(models) | {model for _, model, _ in recorded}))
    datasets = datasets + [d for d in dict.fromkeys(dataset for dataset, _, _ in recorded) if d not in datasets]
    seeds = max([seeds] + [int(seed.removeprefix("seed")) + 1 for _, _, seed in recorded])
    results: dict[str, dict[str, list[dict[str, float]]]] = {}
    for dataset in datasets:
        for model in models:
            found = [ledger["runs"][f"{dataset}/{model}/seed{seed}"]["test"] for seed in range(seeds)
                     if f"{dataset}/{model}/seed{seed}" in ledger["runs"]]
            if found:
                results.setdefault(dataset, {})[model] = [{m: test[m] for m in METRICS} for test in found]
    total = len(cells(models, datasets, seeds))
    done = sum(len(v) for by_model in results.values() for v in by_model.values())
    with tempfile.TemporaryDirectory() as temp:
        summary = summarise(results, models, Path(temp), mask_history=False)
        for suffix in ("md", "csv"):
            with atomic_path(RESULTS / f"zoo_matrix.{suffix}") as target:
                target.write_text((Path(temp) / f"results.{suffix}").read_text())
    save_result("zoo_matrix", {"settings": settings, "datasets": datasets, "models": models, "seeds": seeds,
                               "cells_done": done, "cells_total": total, "complete": done == total,
                               "ledger": str(ledger_path.relative_to(ROOT)), **summary})
    print(f"{done} of {total} cells done; mean relative gap: {summary['mean_relative_gap_percent']}")
    return summary


def parse_until(clock: str) -> float:
    """'HH:MM' as epoch seconds: the next time the local clock reads it (tomorrow if already past)."""
    try:
        hours, minutes = (int(part) for part in clock.split(":"))
        if not (0 <= hours < 24 and 0 <= minutes < 60):
            raise ValueError
    except ValueError:
        raise SystemExit(f"--until {clock!r}: expected a clock time HH:MM, for example 23:45") from None
    now = time.time()
    until = time.mktime(time.localtime(now)[:3] + (hours, minutes, 0, 0, 0, -1))
    return until if until > now else until + 24 * 3600


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="all")
    parser.add_argument("--datasets", default="ml-100k,beauty")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=SETTINGS["epochs"])
    parser.add_argument("--patience", type=int, default=SETTINGS["patience"])
    parser.add_argument("--threads", type=int, default=SETTINGS["threads"], help="torch threads per worker")
    parser.add_argument("--work", default=str(WORK),
                        help="prepared data and run checkpoints (git-ignored)")
    parser.add_argument("--ledger", default=str(LEDGER))
    parser.add_argument("--table-only", action="store_true", help="write the table from the ledger, train nothing")
    parser.add_argument("--until", help="HH:MM, local time, the next time the clock reads it: "
                        "start no cell whose estimated run (a finished seed's time, else a few "
                        "timed steps) would end later")
    args = parser.parse_args(argv)

    code_commit = commit()
    models = resolve_models(args.models)
    specs = args.datasets.split(",")
    datasets = [Path(spec).stem if spec.endswith(".h5") else spec for spec in specs]  # as prepare_datasets names them
    settings = {**SETTINGS, "epochs": args.epochs, "patience": args.patience, "threads": args.threads}
    ledger_path, work = Path(args.ledger), Path(args.work)
    import_quality_runs(ledger_path, settings, args.seeds)
    if not args.table_only:
        with locked(ledger_path):  # one worker prepares; the others reuse its files
            data = prepare_datasets(specs, SHARED_DATA, work)
            fingerprints = {name: read_dataset(path).fingerprint for name, path in data.items()}
            ledger = read_ledger(ledger_path, settings)
            for name, fingerprint in fingerprints.items():
                if ledger["datasets"].setdefault(name, fingerprint) != fingerprint:
                    raise SystemExit(f"prepared {name} has fingerprint {fingerprint}, the ledger's runs used "
                                     f"{ledger['datasets'][name]}; the raw file or the preparation changed")
            write_json(ledger_path, ledger)
        until = parse_until(args.until) if args.until else None
        work_on(models, data, args.seeds, settings, work, ledger_path, until, code_commit)
    return table(models, datasets, args.seeds, settings, ledger_path)


if __name__ == "__main__":
    main()
