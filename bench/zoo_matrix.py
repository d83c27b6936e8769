"""The zoo matrix (every model x ml-100k, Beauty x 3 seeds), trained through `ssr bench`'s engine.

The cells are trained by `ssr.train.matrix.run_matrix` (what `ssr bench` runs): in this process, or
as Ray tasks with `--executor ray` on this machine or a cluster (`--ray-address`), finished cells
never trained again, a dead worker's cell retried and resumed. The whole matrix takes more than a
day of this 2-core machine, longer than a working session, and a session's work folder does not
survive it. So each finished cell's metrics also go into a ledger committed with the results
(`bench/results/zoo_matrix_runs.json`: test metrics, best epoch, timings, dataset fingerprint and
the commit that trained it), and only the cells the ledger lacks are trained. Runs the three-seed
quality benchmarks already made with the same settings (`quality_ml100k.json`,
`quality_beauty.json`: fmlp, ssr, ssr-hybrid) are taken from those files.

The results table, in `ssr bench`'s shape: `bench/results/zoo_matrix.json` (with the mean relative
ANN -> SNN gap per metric and how many cells are done), `bench/results/zoo_matrix.md` and `.csv`.

`--distil`: the matrix of the models whose defaults issue 23 changed, re-run as they now ship: ssr,
sgru4rec, scaser and srsgnn with today's model defaults, each distilled from its ANN original's run
of the same dataset and seed with `ssr bench --distil`'s recipe (w 0.9, each model's `distil_lr`, the
models that declare it started from the teacher's parameters: `distil_warm_start`), beside those ANN runs. Its
own ledger (`zoo_matrix_distilled_recipe_runs.json`) and table (`zoo_matrix_distilled_recipe.*`).
`--distil --distil-cold` / `--distil-warm`: every student at lr 3e-3, started from scratch (the recipe
before 2026-12-02; `zoo_matrix_distilled_runs.json`, `zoo_matrix_distilled.*`) / from its teacher
(`zoo_matrix_distilled_warm_runs.json`, `zoo_matrix_distilled_warm.*`). The runs
`bench/ssr_gap.py` trained with exactly these settings (`ssr_levers*.json`: same prepared data, model
config, teacher, w, lr and warm start, 15 epochs, patience 5) are taken as they are, after checking
that their recorded settings are the recipe and today's defaults.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import RESULTS, ROOT, SHARED_DATA, run_seed, save_result
from ssr.data.dataset import read_dataset
from ssr.io import atomic_path, write_json
from ssr.train.executor import RayOptions
from ssr.models.base import MODELS
from ssr.train.matrix import (METRICS, Cell, Distillation, ordered, prepare_datasets, resolve_models, run_matrix,
                              summarise)

LEDGER = RESULTS / "zoo_matrix_runs.json"
# the --distil tables: each model's recipe, every student cold, every student warm
DISTILLED_NAMES = {None: "zoo_matrix_distilled_recipe", False: "zoo_matrix_distilled", True: "zoo_matrix_distilled_warm"}
# issue 23's re-run: spiking model -> the bench/ssr_gap.py variant that trained it with its new defaults and
# the cold recipe at lr 3e-3 (another lr: its tag in place of lr3e-3; + "-warm": started from the teacher); the ANN
# originals are the variants of their own names (the students' teachers)
RECIPE_VARIANTS = {"ssr": "ssr-teacher-lr3e-3-w0.9", "sgru4rec": "sgru4rec-once-spikes-teacher-lr3e-3-w0.9",
                   "scaser": "scaser-spikes-teacher-lr3e-3-w0.9", "srsgnn": "srsgnn-once-spikes-teacher-lr3e-3-w0.9"}
# --distil-cold / --distil-warm: every student at the recipe's lr before a model could declare its own
EVERY_STUDENT_LR = 3e-3
LEVER_FILES = {"ml-100k": "ssr_levers.json", "beauty": "ssr_levers_beauty.json"}
QUALITY_FILES = ("quality_ml100k.json", "quality_beauty.json")
LEDGER_FORMAT = 1
WORK = RESULTS.parent / "work" / "zoo_matrix"  # prepared data and run checkpoints (git-ignored)

SETTINGS = {"epochs": 15, "patience": 5, "threads": 1, "mask_history": False, "max_len": 50}


def recipe_cells(distil: Distillation = Distillation()) -> dict[str, str]:
    """The distilled matrix's models, each ANN original before its spiking model -> the ssr_gap variant
    that trained it (an ANN original's variant has its own name; a warm student's ends in -warm)."""
    def student(spiking: str) -> str:
        lr_tag = f"lr{distil.lr_for(spiking):.0e}".replace("e-0", "e-")  # 3e-3 -> lr3e-3
        return RECIPE_VARIANTS[spiking].replace("lr3e-3", lr_tag) + ("-warm" if distil.warm_for(spiking) else "")

    return {name: variant for spiking in RECIPE_VARIANTS
            for name, variant in ((MODELS[spiking].ann_original, MODELS[spiking].ann_original),
                                  (spiking, student(spiking)))}


def read_ledger(path: Path, settings: dict[str, Any]) -> dict[str, Any]:
    if not path.is_file():
        return {"format": LEDGER_FORMAT, "settings": settings, "datasets": {}, "runs": {}}
    ledger = json.loads(path.read_text())
    if ledger["settings"] != settings:
        raise SystemExit(f"{path} was recorded with settings {ledger['settings']}, not {settings}; "
                         "use the same --epochs/--patience/--threads or another --ledger")
    return ledger


def record(path: Path, settings: dict[str, Any], entries: dict[str, dict[str, Any]], replace: bool = False) -> None:
    """Add finished cells ('dataset/model/seedK' -> entry) to the ledger; cells already there are kept,
    unless `replace` (the recipe's runs: a model's recipe may have changed since its cells were recorded)."""
    ledger = read_ledger(path, settings)
    ledger["runs"] = dict(sorted(({**ledger["runs"], **entries} if replace else {**entries, **ledger["runs"]}).items()))
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


def recipe_mismatch(model: str, row: dict[str, Any], distil: Distillation) -> str | None:
    """Why a bench/ssr_gap.py variant is not `model` as `ssr bench --distil` trains it today, or None."""
    defaults = MODELS[model].Config()
    changed = {k: v for k, v in row["model_config"].items() if getattr(defaults, k) != v}
    if changed:
        return f"its model config {changed} is not today's default"
    if MODELS[model].kind != "snn":
        return None if not row["train_overrides"] else f"an ANN trained with {row['train_overrides']}"
    wanted = {"teacher": MODELS[model].ann_original, "teacher_weight": distil.weight, "lr": distil.lr_for(model),
              **({"warm_start": MODELS[model].ann_original} if distil.warm_for(model) else {})}
    if row["train_overrides"] != wanted:
        return f"trained with {row['train_overrides']}, not the recipe {wanted}"
    return None


def import_recipe_runs(path: Path, settings: dict[str, Any], distil: Distillation) -> None:
    """The distilled matrix's cells bench/ssr_gap.py trained with these exact settings (test metrics per
    seed, from ssr_levers*.json), each checked against today's defaults and the recipe."""
    for dataset, name in LEVER_FILES.items():
        source = RESULTS / name
        if not source.is_file():
            continue
        levers = json.loads(source.read_text())
        if (levers["epochs_max"], levers["patience"], levers["max_len"]) != \
                (settings["epochs"], settings["patience"], settings["max_len"]):
            continue
        entries = {}
        for model, variant in recipe_cells(distil).items():
            row = levers["variants"].get(variant)
            if row is None:
                continue
            mismatch = recipe_mismatch(model, row, distil)
            if mismatch:
                raise SystemExit(f"{name}: {variant} cannot stand for {model}: {mismatch}")
            for entry in row["per_seed"]:
                seed = run_seed(entry["run"])
                entries[f"{dataset}/{model}/seed{seed}"] = {
                    "test": {m: entry[m] for m in METRICS}, "best_epoch": entry["best_epoch"],
                    "energy_pj_per_inference": entry.get("energy_pj_per_inference"),
                    "source": f"bench/results/{name} ({variant})", "date": row["measured"]}
        record(path, settings, entries, replace=True)


def checkpoint(dataset: str, model: str, work: Path = WORK, seed: int = 0) -> Path:
    """The run directory of one cell with its model.pt, for the benchmarks that deploy trained models
    (the ledger keeps metrics, not checkpoints: a cell recorded in another session is trained again)."""
    data = prepare_datasets([dataset], SHARED_DATA, work)
    run_matrix([model], data, seed + 1, work, epochs=SETTINGS["epochs"], patience=SETTINGS["patience"],
               threads=SETTINGS["threads"], wanted=lambda cell: cell.seed == seed)
    return Cell(dataset, model, seed).run_dir(work)


def ledger_entry(run_dir: Path, code_commit: str) -> dict[str, Any]:
    """What the ledger keeps of a finished run."""
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return {"test": metrics["test"], "valid": metrics["valid"], "best_epoch": metrics["best_epoch"],
            "epochs_run": metrics["epochs_run"], "timings": metrics["timings"],
            "dataset_fingerprint": metrics["dataset"], "commit": code_commit, "date": time.strftime("%Y-%m-%d")}


def train_missing(models: list[str], data: dict[str, Path], seeds: int, settings: dict[str, Any], work: Path,
                  ledger_path: Path, executor: str, ray: RayOptions, code_commit: str,
                  distil: Distillation | None = None) -> None:
    """Every cell the ledger lacks, through `ssr bench`'s engine; each finished cell goes into the
    ledger as soon as it is done (a stopped matrix keeps what it finished)."""
    recorded = set(read_ledger(ledger_path, settings)["runs"])

    def record_cell(cell: Cell, run_dir: Path) -> None:
        key = f"{cell.dataset}/{cell.model}/seed{cell.seed}"
        entry = ledger_entry(run_dir, code_commit)
        record(ledger_path, settings, {key: entry})
        print(f"{time.strftime('%H:%M:%S')} {key}: test " + " ".join(f"{m} {entry['test'][m]:.4f}" for m in METRICS)
              + f" (best epoch {entry['best_epoch']} of {entry['epochs_run']}, "
              f"{entry['timings']['train_seconds'] / max(entry['epochs_run'], 1):.0f} s/epoch)", flush=True)

    run_matrix(models, data, seeds, work, epochs=settings["epochs"], patience=settings["patience"],
               threads=settings["threads"], executor=executor, ray=ray, progress=True,
               wanted=lambda cell: f"{cell.dataset}/{cell.model}/seed{cell.seed}" not in recorded,
               on_cell=record_cell, distil=distil)


def table(models: list[str], datasets: list[str], seeds: int, settings: dict[str, Any],
          ledger_path: Path, name: str = "zoo_matrix", notes: dict[str, Any] | None = None) -> dict[str, Any]:
    """zoo_matrix.json/.md/.csv from the ledger (partial when cells are missing). The table covers
    every cell asked for and every cell in the ledger: a worker given a few models does not shrink it."""
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
    total = len(models) * len(datasets) * seeds
    done = sum(len(v) for by_model in results.values() for v in by_model.values())
    with tempfile.TemporaryDirectory() as temp:
        summary = summarise(results, models, Path(temp), mask_history=False, notes=notes)
        for suffix in ("md", "csv"):
            with atomic_path(RESULTS / f"{name}.{suffix}") as target:
                target.write_text((Path(temp) / f"results.{suffix}").read_text())
    save_result(name, {"settings": settings, "datasets": datasets, "models": models, "seeds": seeds,
                               "cells_done": done, "cells_total": total, "complete": done == total,
                               "ledger": str(ledger_path.resolve().relative_to(ROOT)) if ledger_path.resolve().is_relative_to(ROOT)
                               else str(ledger_path), **summary})
    print(f"{done} of {total} cells done; mean relative gap: {summary['mean_relative_gap_percent']}")
    return summary


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=None, help="default: all (with --distil: the re-run models and their ANNs)")
    parser.add_argument("--datasets", default="ml-100k,beauty")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=SETTINGS["epochs"])
    parser.add_argument("--patience", type=int, default=SETTINGS["patience"])
    parser.add_argument("--threads", type=int, default=SETTINGS["threads"], help="torch threads per worker")
    parser.add_argument("--work", default=str(WORK),
                        help="prepared data and run checkpoints (git-ignored)")
    parser.add_argument("--ledger", help=f"default {LEDGER.name} (with --distil: the table's name + _runs.json)")
    parser.add_argument("--distil", action="store_true",
                        help="the models issue 23 changed, with today's defaults, distilled with ssr bench --distil's "
                        "recipe (own ledger and table, zoo_matrix_distilled_recipe.*)")
    start = parser.add_mutually_exclusive_group()
    start.add_argument("--distil-cold", action="store_true",
                       help="with --distil: every student started from scratch, the recipe before 2026-12-02 "
                       "(zoo_matrix_distilled.*)")
    start.add_argument("--distil-warm", action="store_true",
                       help="with --distil: every student started from its teacher (zoo_matrix_distilled_warm.*)")
    parser.add_argument("--table-only", action="store_true", help="write the table from the ledger, train nothing")
    parser.add_argument("--executor", choices=("local", "ray"), default="local",
                        help="as `ssr bench --executor`: cells in this process, or as Ray tasks")
    parser.add_argument("--ray-address", help="a Ray cluster's address (default: start Ray on this machine)")
    parser.add_argument("--cpus-per-run", type=float, default=1.0, help="CPUs each cell holds on Ray")
    args = parser.parse_args(argv)

    if (args.distil_cold or args.distil_warm) and not args.distil:
        parser.error("--distil-cold / --distil-warm choose how the distilled students start: add --distil")
    code_commit = commit()
    every = args.distil_warm or args.distil_cold  # the every-student tables keep one lr for all
    distil = Distillation(warm=True if args.distil_warm else False if args.distil_cold else None,
                          lr=EVERY_STUDENT_LR if every else None) if args.distil else None
    models = resolve_models(args.models or (",".join(recipe_cells(distil)) if distil else "all"))
    specs = args.datasets.split(",")
    datasets = [Path(spec).stem if spec.endswith(".h5") else spec for spec in specs]  # as prepare_datasets names them
    settings = {**SETTINGS, "epochs": args.epochs, "patience": args.patience, "threads": args.threads}
    default_ledger = LEDGER if distil is None else RESULTS / f"{DISTILLED_NAMES[distil.warm]}_runs.json"
    ledger_path, work = Path(args.ledger or default_ledger), Path(args.work)
    if distil:
        import_recipe_runs(ledger_path, settings, distil)
    else:
        import_quality_runs(ledger_path, settings, args.seeds)
    if not args.table_only:
        data = prepare_datasets(specs, SHARED_DATA, work)
        ledger = read_ledger(ledger_path, settings)
        for name, path in data.items():
            fingerprint = read_dataset(path).fingerprint
            if ledger["datasets"].setdefault(name, fingerprint) != fingerprint:
                raise SystemExit(f"prepared {name} has fingerprint {fingerprint}, the ledger's runs used "
                                 f"{ledger['datasets'][name]}; the raw file or the preparation changed")
        write_json(ledger_path, ledger)
        train_missing(models, data, args.seeds, settings, work, ledger_path, args.executor,
                      RayOptions(address=args.ray_address, cpus_per_run=args.cpus_per_run), code_commit, distil)
    if distil:
        notes = {"distillation": distil.notes({s: MODELS[s].ann_original for s in RECIPE_VARIANTS})}
        return table(models, datasets, args.seeds, settings, ledger_path, DISTILLED_NAMES[distil.warm], notes)
    return table(models, datasets, args.seeds, settings, ledger_path)


if __name__ == "__main__":
    main()
