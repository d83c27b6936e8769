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
import dataclasses
import io
import json
import statistics
import typing
from dataclasses import dataclass
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ssr.config import field_names
from ssr.io import atomic_path, write_json
from ssr.models.base import MODELS
from ssr.train.executor import RayOptions

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


def prepare_datasets(specs: list[str], data_dir: Path, out: Path, max_len: int = 50) -> dict[str, Path]:
    """name -> prepared .h5: a known name is prepared from data_dir with its protocol (reused when
    unchanged; windows of `max_len` items); a path to an .h5 file is used as it is, named by its stem."""
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
            target = out / "data" / (f"{spec}_{split}.h5" if max_len == 50 else f"{spec}_{split}_len{max_len}.h5")
            prepare(PrepareConfig(dataset=reader, split=split, max_len=max_len), source, target)
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


# --- sweeps ------------------------------------------------------------------------------------------


PREPARE_FIELDS = ("max_len",)  # dataset-preparation fields a sweep may vary (known datasets only)


@dataclass(frozen=True)
class Sweep:
    """`--sweep FIELD=V1,V2,...`: one config field and its values. `where` says whose field it is:
    the dataset preparation (max_len), the training config, or the model config (a model without the
    field runs once at its own defaults: the flat reference line, e.g. an ANN against time_steps)."""

    field: str
    values: tuple[Any, ...]
    where: str  # "prepare" | "train" | "model"

    def applies_to(self, model: str) -> bool:
        return self.where != "model" or self.field in field_names(MODELS[model].Config)


def parse_sweep(spec: str, models: list[str]) -> Sweep:
    """'FIELD=V1,V2,...' -> Sweep, the values converted to the field's type; ValueError naming the problem."""
    from ssr.data.prepare import PrepareConfig
    from ssr.train.trainer import TrainConfig

    field, _, values = spec.partition("=")
    field = field.strip()
    if not field or not values:
        raise ValueError(f"--sweep {spec!r}: expected FIELD=V1,V2,... (for example time_steps=1,2,4,8)")
    owners = [("prepare", PrepareConfig)] if field in PREPARE_FIELDS else []
    owners += [("train", TrainConfig)] if field in field_names(TrainConfig) else []
    owners += [("model", MODELS[m].Config) for m in models if field in field_names(MODELS[m].Config)]
    if field == "seed" or not owners:
        raise ValueError(f"--sweep {field}: not a field the benchmark can vary (dataset preparation: "
                         f"{', '.join(PREPARE_FIELDS)}; training config; or a config field of {', '.join(models)})")
    where, owner = owners[0]
    kind = typing.get_type_hints(owner)[field]
    parsed = tuple(_parse_value(field, v.strip(), kind) for v in values.split(",") if v.strip())
    if not parsed or len(set(parsed)) != len(parsed):
        raise ValueError(f"--sweep {spec!r}: give distinct values, comma-separated")
    for value in parsed:  # the owner's range check: bad values stop here, before anything trains
        owner(**({"dataset": KNOWN_DATASETS["ml-100k"][0]} if where == "prepare" else {}), **{field: value})
    return Sweep(field, parsed, where)


def _parse_value(field: str, text: str, kind: Any) -> Any:
    options = [k for k in typing.get_args(kind) if k is not type(None)] or [kind]
    for option in options:
        try:
            if option is bool:
                if text.lower() not in ("true", "false"):
                    raise ValueError
                return text.lower() == "true"
            if option in (int, float, str):
                return option(text)
        except ValueError:
            continue
    raise ValueError(f"--sweep {field}: {text!r} is not a valid {' or '.join(getattr(o, '__name__', str(o)) for o in options)}")


# --- cells -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """One training run of the matrix: model x dataset x seed [x swept value]."""

    dataset: str
    model: str
    seed: int
    field: str | None = None  # the swept field, None for a plain cell
    value: Any = None
    distilled: str | None = None  # "w<weight>-tau<temperature>": distilled from its ANN original's cell

    def run_dir(self, out: Path) -> Path:
        """OUT/runs/<dataset>/<model>[/distilled-<w, tau>][/<field>=<value>]/seed<k>."""
        base = out / "runs" / self.dataset / self.model
        base = base / f"distilled-{self.distilled}" if self.distilled else base
        return (base / f"{self.field}={self.value}" if self.field else base) / f"seed{self.seed}"


@dataclass(frozen=True)
class Distillation:
    """`ssr bench --distil`: every spiking model learns from its ANN original's run of the same
    dataset and seed (ssr train --teacher), trained first in the same matrix. The defaults are issue
    23's recipe (bench/README.md, "Lever by lever"): w 0.9, and for the distilled cells only the
    learning rate `lr`: None (the default) as each model declares (`distil_lr`: 3e-3, or another
    where it helped over three seeds on both datasets), a number for every student (`ssr bench
    --distil-lr`). `warm`: whether each student also starts from its teacher's parameters (ssr train
    --warm-start): None (the default since 2026-12-02) as the model declares (`distil_warm_start`),
    True or False for every student (`ssr bench --distil-warm` / `--distil-cold`)."""

    weight: float = 0.9
    temperature: float = 2.0
    lr: float | None = None
    warm: bool | None = None

    def warm_for(self, model: str) -> bool:
        """Whether the student `model` starts from its teacher's parameters."""
        return MODELS[model].distil_warm_start if self.warm is None else self.warm

    def lr_for(self, model: str) -> float:
        """The learning rate the student `model` trains at."""
        return MODELS[model].distil_lr if self.lr is None else self.lr

    def lr_note(self, students: list[str]) -> float | dict[str, float]:
        """results.json's distillation "lr": one number when every student trains at it, else per student
        (without students: the forced lr, or None)."""
        rates = {m: self.lr_for(m) for m in students}
        if len(set(rates.values())) > 1:
            return rates
        return next(iter(rates.values()), self.lr)

    def notes(self, teachers: dict[str, str]) -> dict[str, Any]:
        """results.json's "distillation": the recipe as each student (student -> teacher) trained."""
        return {"teacher_weight": self.weight, "teacher_temperature": self.temperature,
                "lr": self.lr_note(list(teachers)), "warm_start": {m: self.warm_for(m) for m in teachers},
                "teachers": teachers}

    def tag_for(self, model: str) -> str:
        """The run folder's distilled-<tag> of the student `model`."""
        return f"w{self.weight:g}-tau{self.temperature:g}-lr{self.lr_for(model):g}" + ("-warm" if self.warm_for(model)
                                                                                        else "")

    def teacher_of(self, model: str, models: list[str]) -> str | None:
        cls = MODELS[model]
        if cls.kind != "snn":
            return None
        if cls.ann_original not in models:
            raise ValueError(f"--distil: {model} learns from its ANN original {cls.ann_original}, which is not in "
                             f"--models; add it")
        return cls.ann_original


@dataclass(frozen=True)
class CellJob:
    """Everything a worker needs to train and measure one cell (it pickles: Ray ships it)."""

    cell: Cell
    data: str  # the prepared dataset
    run_dir: str
    train_config: dict[str, Any]  # TrainConfig fields
    model_config: dict[str, Any]
    measure: bool  # also the energy per inference (sweeps)


def finished(run_dir: Path) -> bool:
    return (run_dir / "metrics.json").is_file() and (run_dir / "model.pt").is_file()


def train_cell(job: CellJob) -> dict[str, Any]:
    """Train the cell unless it is finished (an interrupted run resumes from its last.pt, so a retried
    job goes on where its dead worker stopped) and return its test metrics, training seconds per epoch
    and, for sweeps, the energy per inference as `ssr energy-report` counts it (45nm-fp32)."""
    from ssr.train.trainer import TrainConfig, train

    run_dir = Path(job.run_dir)
    if not finished(run_dir):
        # only a run that wrote model.pt but not metrics.json (killed in between) starts again
        train(job.cell.model, job.data, run_dir, TrainConfig(**job.train_config), job.model_config,
              progress=False, overwrite=(run_dir / "model.pt").is_file())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    result = {"test": {k: metrics["test"][k] for k in METRICS},
              "train_seconds_per_epoch": metrics["timings"]["train_seconds"] / max(metrics["epochs_run"], 1)}
    if job.measure:
        from ssr.energy.report import cost_run

        result["energy_pj_per_inference"] = float(cost_run(run_dir, job.data)["energy_pj"])
    return result


def plan_cells(models: list[str], datasets: list[str], seeds: int, sweeps: list[Sweep]) -> list[Cell]:
    """Every cell, without duplicates, seed-major (every model and dataset at seed 0 first, so a
    matrix stopped halfway is already a whole one-seed table), x each sweep's values where it applies."""
    if not sweeps:
        return [Cell(d, m, s) for s in range(seeds) for d in datasets for m in models]
    cells = []
    for seed in range(seeds):
        for sweep in sweeps:
            for dataset in datasets:
                for model in models:
                    cells += ([Cell(dataset, model, seed, sweep.field, v) for v in sweep.values]
                              if sweep.applies_to(model) else [Cell(dataset, model, seed)])
    return list(dict.fromkeys(cells))


def run_matrix(models: list[str], datasets: dict[str, Path], seeds: int, out: Path, epochs: int = 100,
               patience: int = 10, threads: int = 0, mask_history: bool = False,
               tuned: Path | None = None, sweeps: list[Sweep] = (), executor: str = "local",
               ray: RayOptions = RayOptions(), data_dir: Path | None = None, progress: bool = False,
               wanted: Callable[[Cell], bool] | None = None,
               on_cell: Callable[[Cell, Path], None] | None = None,
               distil: Distillation | None = None) -> dict[str, Any]:
    """Train every missing cell through `executor` and write the results as cells finish; returns
    the summary (results.json's content). A finished cell (metrics.json and model.pt in its run
    folder) is read, never trained again. `wanted` leaves cells out (neither trained nor read);
    `on_cell(cell, run_dir)` is called in this process for each cell once it is finished. With
    `distil`, spiking cells train after every other cell, each distilled from its ANN original's
    plain cell of the same dataset and seed."""
    from ssr.train.executor import run, session, torch_threads
    from ssr.train.tune import split_params

    threads = torch_threads(threads, executor, ray)
    data_paths = swept_datasets(datasets, sweeps, data_dir, out)
    base = {"epochs": epochs, "patience": patience, "threads": threads, "mask_history": mask_history,
            **({"device": "cuda"} if executor == "ray" and ray.gpus_per_run > 0 else {})}
    jobs, results = [], {}
    teachers = {m: distil.teacher_of(m, models) for m in models} if distil else {}
    for cell in plan_cells(models, list(datasets), seeds, list(sweeps)):
        if teachers.get(cell.model):
            cell = dataclasses.replace(cell, distilled=distil.tag_for(cell.model))
        if wanted is not None and not wanted(cell):
            continue
        job = cell_job(cell, out, data_paths, base, split_params(tuned_params(tuned, cell.dataset, cell.model)),
                       sweeps, teachers.get(cell.model), distil)
        if finished(cell.run_dir(out)) and not sweeps:
            results[cell] = train_cell(job)  # reads the finished run
            if on_cell is not None:
                on_cell(cell, Path(job.run_dir))
        else:
            jobs.append(job)
    notes = {"distillation": distil.notes({m: t for m, t in teachers.items() if t})} if distil else None

    def write() -> dict[str, Any]:
        return summarise(collect(results), models, out, mask_history, sweep_rows(results, models, sweeps), notes)

    def on_result(job: CellJob, result: dict[str, Any]) -> None:
        nonlocal summary
        results[job.cell] = result
        if on_cell is not None:
            on_cell(job.cell, Path(job.run_dir))
        summary = write()

    summary = write()
    with session(executor, ray):  # one Ray start for both phases
        # teachers first: a distilled cell starts once every cell it may learn from is finished
        for phase in ([j for j in jobs if not j.cell.distilled], [j for j in jobs if j.cell.distilled]):
            for job in phase:
                if not finished(Path(job.run_dir)):
                    cell = job.cell
                    print(f"training {cell.model} on {cell.dataset}, seed {cell.seed}"
                          f"{f', {cell.field}={cell.value}' if cell.field else ''}"
                          f"{f', distilled from {teachers[cell.model]}' if cell.distilled else ''} -> {job.run_dir}",
                          flush=True)
            run(phase, train_cell, on_result, executor, ray, progress=progress, unit="cell")
    for sweep in sweeps:
        sweep_figure(summary["sweeps"][sweep.field], sweep.field, out / f"sweep_{sweep.field}.png")
    return summary


def swept_datasets(datasets: dict[str, Path], sweeps: list[Sweep], data_dir: Path | None,
                   out: Path) -> dict[tuple[str, Any], Path]:
    """(dataset, None) -> its file, and (dataset, value) -> the file prepared again for each value of
    a preparation sweep (max_len)."""
    paths = {(name, None): path for name, path in datasets.items()}
    for sweep in (s for s in sweeps if s.where == "prepare"):
        specs = [name for name in datasets if name in KNOWN_DATASETS]
        if len(specs) != len(datasets):
            raise ValueError(f"--sweep {sweep.field} prepares each dataset again: it needs known datasets "
                             f"({', '.join(KNOWN_DATASETS)}), not prepared files")
        for value in sweep.values:
            for name, path in prepare_datasets(specs, data_dir, out, **{sweep.field: value}).items():
                paths[(name, value)] = path
    return paths


def cell_job(cell: Cell, out: Path, data_paths: dict[tuple[str, Any], Path], base: dict[str, Any],
             tuned: tuple[dict[str, Any], dict[str, Any]], sweeps: list[Sweep], teacher_model: str | None,
             distil: Distillation | None) -> CellJob:
    """What a worker needs for `cell`: the matrix's training settings, tuned parameters, the swept
    value where it belongs, and for a distilled cell its teacher (the ANN's cell of the same dataset
    and seed, and swept value when the ANN has the field). Paths are absolute: a worker's working
    directory is not the driver's (on a cluster, --out is mounted at the same path on every node)."""
    train_overrides, model_config = tuned
    config = {**base, "seed": cell.seed, **train_overrides}
    sweep = next((s for s in sweeps if s.field == cell.field), None)
    if sweep is not None and sweep.where == "train":
        config[cell.field] = cell.value
    if sweep is not None and sweep.where == "model":
        model_config = {**model_config, cell.field: cell.value}
    if cell.distilled:
        swept = (cell.field, cell.value) if sweep is not None and sweep.applies_to(teacher_model) else ()
        teacher = Cell(cell.dataset, teacher_model, cell.seed, *swept).run_dir(out) / "model.pt"
        config.update(teacher=str(teacher.resolve()), teacher_weight=distil.weight,
                      teacher_temperature=distil.temperature)
        if distil.warm_for(cell.model):
            config["warm_start"] = config["teacher"]
        if not (sweep is not None and sweep.field == "lr"):  # a swept lr wins
            config["lr"] = distil.lr_for(cell.model)
    data = data_paths[(cell.dataset, cell.value if sweep is not None and sweep.where == "prepare" else None)]
    return CellJob(cell, str(Path(data).resolve()), str(cell.run_dir(out).resolve()), config, model_config,
                   measure=bool(sweeps))


def collect(results: dict[Cell, dict[str, Any]]) -> dict[str, dict[str, list[dict[str, float]]]]:
    """Plain cells' test metrics: dataset -> model -> one entry per seed, in seed order."""
    table: dict[str, dict[str, list[dict[str, float]]]] = {}
    for cell in sorted((c for c in results if c.field is None), key=lambda c: (c.dataset, c.model, c.seed)):
        table.setdefault(cell.dataset, {}).setdefault(cell.model, []).append(results[cell]["test"])
    return table


def sweep_rows(results: dict[Cell, dict[str, Any]], models: list[str], sweeps: list[Sweep]) -> dict[str, list[dict]]:
    """Per sweep, one row per (dataset, model, value): metrics over seeds, energy, seconds per epoch;
    a model the sweep does not apply to has one row with value None (its flat reference line)."""
    rows: dict[str, list[dict]] = {}
    for sweep in sweeps:
        rows[sweep.field] = []
        for dataset in dict.fromkeys(c.dataset for c in results):
            for model in models:
                values = sweep.values if sweep.applies_to(model) else (None,)
                for value in values:
                    found = [results[c] for c in sorted(results, key=lambda c: c.seed)
                             if (c.dataset, c.model) == (dataset, model)
                             and ((c.field, c.value) == (sweep.field, value) if value is not None else c.field is None)]
                    if not found:
                        continue
                    row = {"dataset": dataset, "model": model, "kind": MODELS[model].kind, sweep.field: value,
                           **{metric: spread([f["test"][metric] for f in found]) for metric in METRICS}}
                    for key in ("energy_pj_per_inference", "train_seconds_per_epoch"):
                        measured = [f[key] for f in found if key in f]
                        row[key] = statistics.fmean(measured) if measured else None
                    rows[sweep.field].append(row)
    return rows


def spread(seeds: list[float]) -> dict[str, Any]:
    """A metric over seeds: mean, sample standard deviation (0 for one seed) and the values."""
    return {"mean": statistics.fmean(seeds), "std": statistics.stdev(seeds) if len(seeds) > 1 else 0.0,
            "seeds": seeds}


def _lr_words(lr: float | dict[str, float] | None) -> str:
    """The distilled table's words for the students' learning rate: one number, or the most common
    with the exceptions named (results.json's "lr" per student)."""
    if lr is None:
        return ""
    if not isinstance(lr, dict):
        return f", learning rate {lr:g}"
    common = max(sorted(set(lr.values())), key=list(lr.values()).count)
    others = ", ".join(f"{model} {rate:g}" for model, rate in lr.items() if rate != common)
    return f", learning rate {common:g} ({others})"


def _warm_note(warm: dict[str, bool] | None) -> str:
    """The distilled table's words for which students started from their teacher (student -> bool)."""
    started = [model for model, on in (warm or {}).items() if on]
    if not started:
        return ""
    if len(started) == len(warm):
        return ", each started from its teacher"
    names = ", ".join(started[:-1]) + (" and " if len(started) > 1 else "") + started[-1]
    return f", {names} started from {'its teacher' if len(started) == 1 else 'their teachers'}"


def summarise(results: dict[str, dict[str, list[dict[str, float]]]], models: list[str], out: Path,
              mask_history: bool, sweeps: dict[str, list[dict[str, Any]]] | None = None,
              notes: dict[str, Any] | None = None) -> dict[str, Any]:
    """results.json / .csv / .md from per-seed test metrics (+ a table per sweep: sweep_<field>.csv
    and a section of results.md, the swept value as a column)."""
    table: dict[str, dict[str, dict[str, Any]]] = {}
    gaps: dict[str, list[float]] = {metric: [] for metric in METRICS}
    for dataset, by_model in results.items():
        for model in models:
            values = by_model.get(model, [])
            if not values:
                continue
            row = {metric: spread([v[metric] for v in values]) for metric in METRICS}
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
               "mean_relative_gap_percent": {m: statistics.fmean(v) if v else None for m, v in gaps.items()},
               **({"sweeps": sweeps} if sweeps else {}), **(notes or {})}
    write_json(out / "results.json", summary)
    with atomic_path(out / "results.csv") as temp:
        temp.write_text(_csv(table, models))
    markdown = _markdown(table, models, summary["mean_relative_gap_percent"]) if table else ""
    if (notes or {}).get("distillation"):
        distil = notes["distillation"]
        markdown = (f"Spiking models distilled from their ANN original's run of the same dataset and seed "
                    f"(teacher weight {distil['teacher_weight']:g}, temperature {distil['teacher_temperature']:g}"
                    f"{_lr_words(distil.get('lr'))}"
                    f"{_warm_note(distil.get('warm_start'))}).\n\n"
                    + markdown)
    for field, rows in (sweeps or {}).items():
        markdown += ("\n" if markdown else "") + _sweep_markdown(field, rows)
        with atomic_path(out / f"sweep_{field}.csv") as temp:
            temp.write_text(_sweep_csv(field, rows))
    with atomic_path(out / "results.md") as temp:
        temp.write_text(markdown)
    return summary


def _sweep_markdown(field: str, rows: list[dict[str, Any]]) -> str:
    lines = [f"Sweep over `{field}` (test, mean ± std over seeds; a model without the field: its defaults, "
             "'—'):", "", f"| dataset | model | kind | {field} | HR@10 | NDCG@10 | MRR@10 | energy / inference "
             "(45nm-fp32) | train s / epoch |", "|" + " --- |" * 9]
    for row in rows:
        energy = row["energy_pj_per_inference"]
        seconds = row["train_seconds_per_epoch"]
        lines.append(f"| {row['dataset']} | {row['model']} | {row['kind']} | "
                     f"{'—' if row[field] is None else row[field]} | "
                     + " | ".join(_cell(row[m]) for m in METRICS)
                     + f" | {'' if energy is None else f'{energy / 1e6:.2f} uJ'} | "
                     f"{'' if seconds is None else f'{seconds:.1f}'} |")
    return "\n".join(lines) + "\n"


def _sweep_csv(field: str, rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["dataset", "model", "kind", field, "metric", "mean", "std", "seeds", "energy_pj_per_inference",
                     "train_seconds_per_epoch"])
    for row in rows:
        for metric in METRICS:
            writer.writerow([row["dataset"], row["model"], row["kind"], "" if row[field] is None else row[field],
                             metric, f"{row[metric]['mean']:.6f}", f"{row[metric]['std']:.6f}",
                             " ".join(f"{v:.6f}" for v in row[metric]["seeds"]),
                             "" if row["energy_pj_per_inference"] is None else f"{row['energy_pj_per_inference']:.1f}",
                             "" if row["train_seconds_per_epoch"] is None else f"{row['train_seconds_per_epoch']:.3f}"])
    return buffer.getvalue()


def sweep_figure(rows: list[dict[str, Any]], field: str, path: Path) -> Path | None:
    """The paper's Figures 5/6 shape, per dataset: NDCG@10, energy per inference and training seconds
    per epoch against the swept value; a model the sweep does not vary is a flat dashed line."""
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = list(dict.fromkeys(row["dataset"] for row in rows))
    panels = (("NDCG@10", "test NDCG@10", 1.0), ("energy_pj_per_inference", "uJ per inference (45nm-fp32)", 1e-6),
              ("train_seconds_per_epoch", "training s / epoch", 1.0))
    fig, axes = plt.subplots(len(datasets), 3, figsize=(12, 3.4 * len(datasets)), squeeze=False)
    for r, dataset in enumerate(datasets):
        mine = [row for row in rows if row["dataset"] == dataset]
        swept = sorted({row[field] for row in mine if row[field] is not None})
        for c, (key, label, scale) in enumerate(panels):
            axis = axes[r][c]
            for model in dict.fromkeys(row["model"] for row in mine):
                points = [row for row in mine if row["model"] == model]
                value = (lambda row: row[key]["mean"]) if key == "NDCG@10" else (lambda row: row[key])
                if points[0][field] is None:  # not swept: its one value across the range
                    if value(points[0]) is not None and swept:
                        axis.plot([swept[0], swept[-1]], [value(points[0]) * scale] * 2, "--", label=f"{model} (flat)")
                    continue
                xs = [row[field] for row in points if value(row) is not None]
                axis.plot(xs, [value(row) * scale for row in points if value(row) is not None], "o-", label=model)
            axis.set_xlabel(field)
            axis.set_ylabel(label)
            if swept and all(isinstance(v, (int, float)) for v in swept):
                axis.set_xticks(swept)
            axis.set_title(f"{dataset}: {label}", fontsize=9)
        axes[r][0].legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as temp:
        fig.savefig(temp, dpi=120, format="png")
    plt.close(fig)
    return path


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
