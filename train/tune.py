"""`ssr tune --model M --data D --trials 20`: Optuna's TPE sampler on the validation metric.

Each trial trains the model with sampled hyper-parameters (its `search_space`: learning rate,
weight decay and model config fields) and reports the best validation value of `--metric`
(MRR@10 by default); the test split is never read (the trainer runs with evaluate_test=False).
The study lives in an Optuna storage (an SQLite file in OUT by default, any storage URL accepted,
so several machines can share one study) and OUT/best.json holds the best parameters.

The paper's rule: a spiking model reuses its ANN original's tuned hyper-parameters, so `ssr tune`
tunes ANN models; `spiking_params` maps an ANN's best parameters onto its spiking variant (the
fields that variant has).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ssr.config import field_names
from ssr.io import write_json
from ssr.models.base import MODELS
from ssr.data.dataset import read_dataset
from ssr.train.executor import RayOptions
from ssr.train.trainer import DivergedError, TrainConfig, train

METRICS = ("MRR@10", "NDCG@10", "HR@10", "MRR@20", "NDCG@20", "HR@20")
TRAIN_KEYS = {"lr", "weight_decay"}


def _suggest(trial, name: str, spec: tuple):
    kind = spec[0]
    if kind == "log":
        return trial.suggest_float(name, spec[1], spec[2], log=True)
    if kind == "float":
        return trial.suggest_float(name, spec[1], spec[2])
    if kind == "int":
        return trial.suggest_int(name, spec[1], spec[2])
    if kind == "choice":
        return trial.suggest_categorical(name, list(spec[1]))
    raise ValueError(f"unknown search-space kind {kind!r} for {name}")


def split_params(params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(TrainConfig overrides, model config overrides)."""
    return ({k: v for k, v in params.items() if k in TRAIN_KEYS},
            {k: v for k, v in params.items() if k not in TRAIN_KEYS})


def spiking_params(snn: str, ann_params: dict[str, Any]) -> dict[str, Any]:
    """The ANN original's tuned parameters that the spiking model `snn` has (train keys always)."""
    fields = field_names(MODELS[snn].Config)
    return {k: v for k, v in ann_params.items() if k in TRAIN_KEYS or k in fields}


def _open_study(optuna, storage: str, study_name: str, seed: int):
    """The Optuna study at `storage` (created or loaded); ValueError naming a bad URL. SQLite waits
    up to a minute for a lock, so several workers on one machine can share its file."""
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    try:
        rdb = optuna.storages.RDBStorage(storage, engine_kwargs={"connect_args": {"timeout": 60}}
                                         if storage.startswith("sqlite") else {})
        return optuna.create_study(study_name=study_name, storage=rdb, direction="maximize",
                                   sampler=optuna.samplers.TPESampler(seed=seed), load_if_exists=True)
    except (ArgumentError, SQLAlchemyError, ImportError, ValueError) as error:
        reason = str(error).splitlines()[0][:120]
        raise ValueError(f"--storage {storage!r} is not a usable Optuna storage ({reason}); give a database URL "
                         "such as sqlite:///study.db or postgresql://user@host/db") from None


@dataclass(frozen=True)
class TrialsJob:
    """One tuning worker's share of the study (it pickles: Ray ships it)."""

    model: str
    data: str
    out: str
    storage: str
    study_name: str
    trials: int  # this worker's share
    metric: str
    epochs: int
    patience: int
    seed: int  # of the training runs; the worker's sampler is seeded seed + worker
    threads: int
    worker: int


def run_trials(job: TrialsJob) -> None:
    """Run `job.trials` trials against the shared study. A diverged trial is recorded as failed and
    the worker goes on."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = _open_study(optuna, job.storage, job.study_name, job.seed + job.worker)
    cls = MODELS[job.model]

    def objective(trial) -> float:
        params = {name: _suggest(trial, name, spec) for name, spec in cls.search_space.items()}
        train_overrides, model_config = split_params(params)
        config = TrainConfig(epochs=job.epochs, patience=job.patience, seed=job.seed, threads=job.threads,
                             evaluate_test=False, **train_overrides)
        try:
            metrics = train(job.model, job.data, Path(job.out) / "trials" / f"{trial.number:04d}", config,
                            model_config, progress=False, overwrite=True)
        except DivergedError as error:  # a failed trial, not a failed study: Optuna records it and goes on
            print(f"trial {trial.number}: failed, {error} {json.dumps(params)}", flush=True)
            raise

        value = metrics["valid"][job.metric]
        print(f"trial {trial.number}: valid {job.metric} {value:.4f} {json.dumps(params)}", flush=True)
        return value

    study.optimize(objective, n_trials=job.trials, catch=(DivergedError,))


def tune(model: str, data: str | Path, out: str | Path, trials: int = 20, metric: str = "MRR@10",
         storage: str | None = None, study_name: str | None = None, epochs: int = 30, patience: int = 5,
         seed: int = 0, threads: int = 0, workers: int = 1, executor: str = "local",
         ray: RayOptions = RayOptions()) -> dict[str, Any]:
    """`trials` trials in all, `workers` at a time (with the ray executor; locally one after the other),
    against one study; writes OUT/best.json and returns it."""
    import optuna

    from ssr.train.executor import run, torch_threads

    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; `ssr models` lists them")
    cls = MODELS[model]
    if cls.kind == "snn":
        raise ValueError(f"{model} is a spiking model: by the paper's rule it reuses its ANN original's tuned "
                         f"hyper-parameters; tune {cls.ann_original} instead")
    if not cls.search_space:
        raise ValueError(f"{model} has no hyper-parameters to tune")
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    if trials < 1:
        raise ValueError(f"--trials must be at least 1, got {trials}")
    if workers < 1:
        raise ValueError(f"--workers must be at least 1, got {workers}")
    read_dataset(data)  # a missing or damaged dataset stops here, before any folder is made
    out = Path(out)
    created = not out.exists()
    study_name = study_name or f"{model}-{Path(data).stem}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        if storage is not None:  # open the user's storage before anything is written
            study = _open_study(optuna, storage, study_name, seed)
        out.mkdir(parents=True, exist_ok=True)
        if storage is None:
            storage = f"sqlite:///{(out / 'study.db').resolve()}"
            study = _open_study(optuna, storage, study_name, seed)
    except BaseException:
        if created and out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        raise
    threads = torch_threads(threads, executor, ray)
    shares = [trials // workers + (worker < trials % workers) for worker in range(workers)]
    jobs = [TrialsJob(model, str(Path(data).resolve()), str(out.resolve()), storage, study_name, share, metric,
                      epochs, patience, seed, threads, worker) for worker, share in enumerate(shares) if share]
    run(jobs, run_trials, lambda job, result: None, executor,
        dataclasses.replace(ray, worker_output=True), progress=False, unit="worker")
    study = _open_study(optuna, storage, study_name, seed)
    if not any(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials):
        raise ValueError(f"every trial of study {study_name} diverged; narrow {model}'s search space or lower lr")
    best = {"model": model, "data": str(data), "metric": f"valid {metric}", "best_value": study.best_value,
            "best_params": study.best_params, "trials": len(study.trials), "study": study_name,
            "storage": storage, "epochs": epochs, "patience": patience, "seed": seed, "workers": workers}
    write_json(out / "best.json", best)
    return best
