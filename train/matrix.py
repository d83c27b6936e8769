"""`ssr bench --models all --datasets ml-100k,beauty --seeds 3 --out results/`: the benchmark matrix.

Prepares each dataset (known names with the paper's protocol, or prepared .h5 files), trains every
model x dataset x seed into OUT/runs/<dataset>/<model>/seed<k>/ (a finished run is reused and an
interrupted one resumes from its last finished epoch, so a stopped matrix goes on where it stopped), and writes the results table in the paper's shape:
rows are models, each ANN followed by its spiking variants; columns are dataset x {HR@10, NDCG@10,
MRR@10} (test, mean and standard deviation over seeds); spiking rows carry the relative gap to their
ANN original. OUT/results.csv, OUT/results.md and OUT/results.json (with every seed's values and the
mean relative ANN->SNN gap per metric).

Hyper-parameters: each model's defaults, or with `tuned=DIR` the best parameters `ssr tune` found,
read from DIR/<dataset>/<ann>/best.json; a spiking model takes its ANN original's (the paper's rule).
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from pathlib import Path
from typing import Any

from ssr.io import atomic_path, write_json
from ssr.models.base import MODELS

# name -> (reader, raw file under the data folder, split): the protocols the paper's tables use
KNOWN_DATASETS = {
    "ml-100k": ("ml-100k", "ml-100k/u.data", "ufo"),
    "beauty": ("seqfile", "amazon-beauty/Beauty.txt", "loo"),
}
METRICS = ("HR@10", "NDCG@10", "MRR@10")


def resolve_models(spec: str) -> list[str]:
    """'all' (every trainable recommender, ANN then its spiking variants) or a comma-separated list."""
    import ssr.models  # noqa: F401  (registers every model)

    if spec == "all":
        return ordered([name for name, cls in MODELS.items() if cls.kind in ("ann", "snn")])
    names = [n for n in spec.split(",") if n]
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        raise ValueError(f"unknown model(s) {', '.join(unknown)}; `ssr models` lists them")
    return ordered(names)


def ordered(names: list[str]) -> list[str]:
    """Each ANN followed by its spiking variants (alphabetical); spiking models without their ANN last."""
    anns = sorted(n for n in names if MODELS[n].kind != "snn")
    snns = sorted(n for n in names if MODELS[n].kind == "snn")
    result = []
    for ann in anns:
        result += [ann] + [s for s in snns if MODELS[s].ann_original == ann]
    return result + [s for s in snns if s not in result]


def prepare_datasets(specs: list[str], data_dir: Path, out: Path) -> dict[str, Path]:
    """name -> prepared .h5: a known name is prepared from data_dir with its protocol (reused when
    unchanged); a path to an .h5 file is used as it is, named by its stem."""
    from ssr.data.prepare import PrepareConfig, prepare

    datasets = {}
    for spec in specs:
        if spec.endswith(".h5"):
            if not Path(spec).is_file():
                raise FileNotFoundError(f"dataset file {spec} not found")
            datasets[Path(spec).stem] = Path(spec)
        elif spec in KNOWN_DATASETS:
            reader, raw, split = KNOWN_DATASETS[spec]
            source = data_dir / raw
            if not source.is_file():
                raise FileNotFoundError(f"{source} not found (dataset {spec}); pass --data-dir with {raw} inside, "
                                        "or a prepared FILE.h5")
            target = out / "data" / f"{spec}_{split}.h5"
            prepare(PrepareConfig(dataset=reader, split=split, max_len=50), source, target)
            datasets[spec] = target
        else:
            raise ValueError(f"unknown dataset {spec!r}; known: {', '.join(KNOWN_DATASETS)}, or a prepared FILE.h5")
    return datasets


def tuned_params(tuned: Path | None, dataset: str, model: str) -> dict[str, Any]:
    """The parameters `ssr tune` found for `model` (or, for a spiking model, its ANN original)."""
    if tuned is None:
        return {}
    from ssr.train.tune import spiking_params

    cls = MODELS[model]
    ann = cls.ann_original if cls.kind == "snn" else model
    path = tuned / dataset / ann / "best.json"
    if not path.is_file():
        return {}
    params = json.loads(path.read_text())["best_params"]
    return spiking_params(model, params) if cls.kind == "snn" else params


def run_matrix(models: list[str], datasets: dict[str, Path], seeds: int, out: Path, epochs: int = 100,
               patience: int = 10, threads: int = 0, mask_history: bool = False,
               tuned: Path | None = None) -> dict[str, Any]:
    from ssr.train.trainer import TrainConfig, train
    from ssr.train.tune import split_params

    results: dict[str, dict[str, list[dict[str, float]]]] = {}
    for dataset, path in datasets.items():
        for model in models:
            train_overrides, model_config = split_params(tuned_params(tuned, dataset, model))
            for seed in range(seeds):
                run_dir = out / "runs" / dataset / model / f"seed{seed}"
                if not (run_dir / "metrics.json").is_file() or not (run_dir / "model.pt").is_file():
                    print(f"training {model} on {dataset}, seed {seed} -> {run_dir}", flush=True)
                    config = TrainConfig(epochs=epochs, patience=patience, seed=seed, threads=threads,
                                         mask_history=mask_history, **train_overrides)
                    # an interrupted run resumes from its last.pt; only a run that wrote model.pt but
                    # not metrics.json (killed in between) starts again
                    train(model, path, run_dir, config, model_config, progress=False,
                          overwrite=(run_dir / "model.pt").is_file())
                metrics = json.loads((run_dir / "metrics.json").read_text())["test"]
                results.setdefault(dataset, {}).setdefault(model, []).append({k: metrics[k] for k in METRICS})
    return summarise(results, models, out, mask_history)


def summarise(results: dict[str, dict[str, list[dict[str, float]]]], models: list[str], out: Path,
              mask_history: bool) -> dict[str, Any]:
    """results.json / .csv / .md from per-seed test metrics."""
    table: dict[str, dict[str, dict[str, Any]]] = {}
    gaps: dict[str, list[float]] = {metric: [] for metric in METRICS}
    for dataset, by_model in results.items():
        for model in models:
            values = by_model.get(model, [])
            if not values:
                continue
            row = {metric: {"mean": statistics.fmean(v[metric] for v in values),
                            "std": statistics.stdev(v[metric] for v in values) if len(values) > 1 else 0.0,
                            "seeds": [v[metric] for v in values]} for metric in METRICS}
            ann = MODELS[model].ann_original
            if MODELS[model].kind == "snn" and ann in table.get(dataset, {}):
                for metric in METRICS:
                    base = table[dataset][ann][metric]["mean"]
                    gap = 100.0 * (row[metric]["mean"] / base - 1.0) if base else None
                    row[metric]["gap_percent"] = gap
                    if gap is not None:
                        gaps[metric].append(gap)
            table.setdefault(dataset, {})[model] = row
    summary = {"metrics": list(METRICS), "split": "test", "mask_history": mask_history, "results": table,
               "mean_relative_gap_percent": {m: statistics.fmean(v) if v else None for m, v in gaps.items()}}
    write_json(out / "results.json", summary)
    with atomic_path(out / "results.csv") as temp:
        temp.write_text(_csv(table, models))
    with atomic_path(out / "results.md") as temp:
        temp.write_text(_markdown(table, models, summary["mean_relative_gap_percent"]))
    return summary


def _cell(entry: dict[str, Any]) -> str:
    """'mean ± std' over seeds; a single seed has no spread to show, and says so."""
    seeds = len(entry["seeds"])
    text = f"{entry['mean']:.4f} ± {entry['std']:.4f}" if seeds > 1 else f"{entry['mean']:.4f} (1 seed)"
    return text + (f" ({entry['gap_percent']:+.1f}%)" if entry.get("gap_percent") is not None else "")


def _markdown(table, models, mean_gaps) -> str:
    datasets = list(table)
    header = ["model", "kind"] + [f"{d} {m}" for d in datasets for m in METRICS]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for model in models:
        cells = [_cell(table[d][model][m]) if model in table[d] else "" for d in datasets for m in METRICS]
        lines.append("| " + " | ".join([model, MODELS[model].kind] + cells) + " |")
    gaps = ", ".join(f"{m} {g:+.1f}%" for m, g in mean_gaps.items() if g is not None) or "no pairs"
    return ("Test metrics, mean ± std over seeds; spiking rows: (relative gap to their ANN original).\n\n"
            + "\n".join(lines) + f"\n\nMean relative ANN -> SNN gap: {gaps}.\n")


def _csv(table, models) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["dataset", "model", "kind", "ann_original", "metric", "mean", "std", "gap_percent", "seeds"])
    for dataset, rows in table.items():
        for model in models:
            if model not in rows:
                continue
            for metric in METRICS:
                entry = rows[model][metric]
                writer.writerow([dataset, model, MODELS[model].kind, MODELS[model].ann_original or "", metric,
                                 f"{entry['mean']:.6f}", f"{entry['std']:.6f}",
                                 "" if entry.get("gap_percent") is None else f"{entry['gap_percent']:.3f}",
                                 " ".join(f"{v:.6f}" for v in entry["seeds"])])
    return buffer.getvalue()
