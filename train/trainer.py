"""The trainer: Adam, cosine schedule, full-softmax cross-entropy, early stopping on validation
MRR@10 with the best weights copied, fixed seeds, a progress bar, and resume after interruption.

A run directory holds `model.pt` (best weights, see ssr.checkpoint), `metrics.json`, `train.log` and,
while training, `last.pt` (the full training state after the last finished epoch, for resuming). `.train.lock` is
held while a process trains there: a second process aimed at the same folder stops at once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import math
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ssr.config import COUNT, NON_NEGATIVE, POSITIVE, Checked, Range
from ssr.checkpoint import checkpoint_dict, load_checkpoint, read_checkpoint, require_dataset, save_checkpoint
from ssr.data.dataset import SequenceDataset, read_dataset
from ssr.evaluate import NonFiniteScoresError, evaluate
from ssr.io import file_sha256, write_json
from ssr.models.base import build_model
from ssr.train.distill import Teacher, distillation_loss
from ssr.train.uniformity import uniformity_loss

SELECTION_METRIC = "MRR@10"
STATE_FORMAT = "ssr-train-state"


@dataclass(frozen=True)
class TrainConfig(Checked):
    epochs: int = 100
    batch_size: int = 128  # the paper's
    lr: float = 1e-3
    weight_decay: float | None = None  # None: the model's published choice (train_defaults), else 0
    patience: int = 10  # epochs without a better validation MRR@10 before stopping
    seed: int = 0
    device: str = "cpu"
    eval_batch_size: int = 1024
    mask_history: bool = False  # rank history items last in validation/test (published protocol)
    threads: int = 0  # torch intra-op threads; 0 keeps torch's default
    evaluate_test: bool = True  # False: the test split is never read (hyper-parameter tuning)
    init_from: str | None = None  # a RUN_DIR/model.pt of the same model and dataset: fine-tune it
    teacher: str | None = None  # a RUN_DIR/model.pt of any model of this dataset: distil its scores
    warm_start: str | None = None  # a RUN_DIR/model.pt of any model of this dataset: start from its parameters
    # w: loss = (1 - w) CE + w tau^2 KL(teacher || student), see ssr.train.distill; 0.9 won issue 23's
    # study for ssr and the zoo (0.5 before 2026-12-01)
    teacher_weight: float = 0.9
    teacher_temperature: float = 2.0  # tau, softens both score distributions
    # L: loss + L * the uniformity of the batch's user vectors (ssr.train.uniformity; 0 = off)
    uniformity_weight: float = 0.0

    option_prefix = "--"
    # lr 0 is allowed: a fine-tuning run that only re-evaluates its --init checkpoint
    ranges = {"epochs": COUNT, "batch_size": COUNT, "lr": NON_NEGATIVE, "weight_decay": NON_NEGATIVE,
              "patience": COUNT, "seed": NON_NEGATIVE, "eval_batch_size": COUNT, "threads": NON_NEGATIVE,
              "teacher_weight": Range(low=0.0, high=1.0), "teacher_temperature": POSITIVE,
              "uniformity_weight": NON_NEGATIVE}


class TrainLog:
    """Appends lines to RUN_DIR/train.log and echoes them above the progress bar."""

    def __init__(self, path: Path, echo: bool) -> None:
        self.path, self.echo = path, echo

    def __call__(self, line: str) -> None:
        with open(self.path, "a") as f:
            f.write(line + "\n")
        if self.echo:
            tqdm.write(line)


def _shaping(train_config: dict[str, Any]) -> dict[str, Any]:
    """The training options that shape a run: the teacher's weight and temperature mean nothing
    without a teacher (so a state saved before --teacher-weight's default changed still resumes)."""
    if train_config.get("teacher") is None:
        return {k: v for k, v in train_config.items() if k not in ("teacher_weight", "teacher_temperature")}
    return train_config


def _load_state(path: Path, expected: dict[str, Any], defaults: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The saved training state if it belongs to this run. An option added to ssr after the state
    was saved matches when this run leaves it at its default (`defaults`: per config dict)."""
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types on damaged bytes
        reason = str(error).splitlines()[0][:100] if str(error) else type(error).__name__
        raise ValueError(f"{path} cannot be resumed from (damaged: {reason}); delete it to start this run again, "
                         "or pass --overwrite") from None
    if not isinstance(state, dict):
        raise ValueError(f"{path} is not an ssr training state; delete it or pass --overwrite")

    def same(key: str, value: Any) -> bool:
        saved = state.get(key)
        if key in defaults and isinstance(saved, dict):
            saved = {**{k: v for k, v in defaults[key].items() if k not in saved}, **saved}
        if key == "train_config" and isinstance(saved, dict):
            return _shaping(saved) == _shaping(value)
        return saved == value

    if state.get("format") != STATE_FORMAT or not all(same(k, v) for k, v in expected.items()):
        raise ValueError(f"{path} belongs to a different training run (model, config or dataset differ); "
                         "pass --overwrite to start again or choose another --out")
    return state


def _initial_checkpoint(path: str, model_name: str, dataset: SequenceDataset) -> dict[str, Any]:
    """The checkpoint a fine-tuning run starts from, checked against the model and dataset."""
    payload = read_checkpoint(path)
    if payload["model"] != model_name:
        raise ValueError(f"--init {path} is a {payload['model']} checkpoint, not {model_name}; "
                         f"pass --model {payload['model']} or another checkpoint")
    require_dataset(payload, dataset, f"--init {path}")
    return {**payload, "sha256": file_sha256(path)}


def _warm_start(model, config: TrainConfig, dataset: SequenceDataset) -> dict[str, Any]:
    """Start `model` from the parameters of the trained model `config.warm_start` shares with it
    (SequentialRecommender.warm_start); returns what was taken, for the run's metrics."""
    source, payload = load_checkpoint(config.warm_start)
    require_dataset(payload, dataset, f"--warm-start {config.warm_start}")
    taken = model.warm_start(source)
    if not taken:
        raise ValueError(f"--warm-start {config.warm_start} ({payload['model']}) has no parameter of the same name "
                         f"and shape as {model.name}'s; nothing to start from")
    return {"from": config.warm_start, "model": payload["model"], "sha256": file_sha256(config.warm_start),
            "parameters": taken}


class DivergedError(ValueError):
    """The loss or the scores became NaN or infinite: the run stops instead of reporting metrics."""


class RunBusyError(ValueError):
    """The run directory is locked by another training process."""


@contextlib.contextmanager
def _exclusive(run_dir: Path) -> Iterator[None]:
    """Hold RUN_DIR/.train.lock while training: two processes resuming one run would interleave
    their epochs in last.pt and train.log. The OS releases the lock if the process dies. A run
    refused before it wrote anything leaves no trace: the lock file this call made is removed, and
    so is the folder if this call made it."""
    created = not run_dir.exists()
    run_dir.mkdir(parents=True, exist_ok=True)
    lock_path = run_dir / ".train.lock"
    before = {p.name for p in run_dir.iterdir()}
    with open(lock_path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunBusyError(f"another process is training into {run_dir}; wait for it to finish or "
                               "choose another --out") from None
        try:
            yield
        finally:
            # unlinking while we hold the lock is safe: a rival that opened the old file fails its
            # non-blocking flock; one that opens after the unlink finds no run here
            if lock_path.name not in before and {p.name for p in run_dir.iterdir()} == before | {lock_path.name}:
                lock_path.unlink()
                if created:
                    run_dir.rmdir()


def train(model_name: str, data_path: str | Path, run_dir: str | Path,
          config: TrainConfig = TrainConfig(), model_config: dict[str, Any] | None = None,
          progress: bool = True, overwrite: bool = False) -> dict[str, Any]:
    """Train `model_name` on the prepared dataset; returns the metrics written to metrics.json."""
    if config.device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("--device cuda asked for, but torch sees no CUDA device; use --device cpu")
    run_dir = Path(run_dir)
    with _exclusive(run_dir):
        return _train(model_name, data_path, run_dir, config, model_config, progress, overwrite)


RUN_FILES = ("model.pt", "metrics.json", "train.log", "last.pt")


class _SetAside:
    """`--overwrite`: the earlier run's files wait in RUN_DIR/.replaced until the new run has finished
    its first epoch (`commit` deletes them), and come back if it fails before (`restore`), so a wrong
    option never costs a trained model. A folder left by a killed process is put back first."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir, self.folder = run_dir, run_dir / ".replaced"
        if self.folder.is_dir():
            self.restore()
        for name in RUN_FILES:
            if (run_dir / name).exists():
                self.folder.mkdir(exist_ok=True)
                os.replace(run_dir / name, self.folder / name)

    def commit(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def restore(self) -> None:
        if not self.folder.is_dir():
            return
        for name in RUN_FILES:
            if (self.folder / name).exists():
                os.replace(self.folder / name, self.run_dir / name)
            else:
                (self.run_dir / name).unlink(missing_ok=True)  # the new run's, with nothing to put back
        shutil.rmtree(self.folder, ignore_errors=True)


def _train(model_name: str, data_path: str | Path, run_dir: Path, config: TrainConfig,
           model_config: dict[str, Any] | None, progress: bool, overwrite: bool) -> dict[str, Any]:
    if not overwrite and (run_dir / "model.pt").exists():
        raise ValueError(f"{run_dir} already holds a finished run (model.pt); "
                         "pass --overwrite or choose another --out")
    if config.init_from and config.warm_start:
        raise ValueError("--init and --warm-start both set a model's starting point; pass one of them")
    dataset = read_dataset(data_path)
    if config.threads > 0:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    initial = _initial_checkpoint(config.init_from, model_name, dataset) if config.init_from else None
    if initial is not None:  # its config, with the overrides given here on top
        model_config = {**initial["config"], **(model_config or {})}
    model = build_model(model_name, dataset.num_items, dataset.max_len, model_config,
                        dataset.item_features).to(config.device)
    if initial is not None:
        model.load_state_dict(initial["state_dict"])
    warm = _warm_start(model, config, dataset) if config.warm_start else None
    if config.weight_decay is None:
        config = dataclasses.replace(config, weight_decay=model.train_defaults.get("weight_decay", 0.0))
    log = TrainLog(run_dir / "train.log", echo=progress)
    identity = {"model": model_name, "model_config": dataclasses.asdict(model.config),
                "train_config": dataclasses.asdict(config), "dataset_fingerprint": dataset.fingerprint}
    dataset_info = {"fingerprint": dataset.fingerprint, "path": str(dataset.path), "config": dataset.config}
    if initial is not None:
        identity["init_from_sha256"] = initial["sha256"]
    if warm is not None:
        identity["warm_start_sha256"] = warm["sha256"]
        if not (run_dir / "last.pt").exists():  # a resumed run continues from its own state
            log(f"warm start from {warm['from']} ({warm['model']}): {', '.join(warm['parameters'])}")
    teacher = Teacher(config.teacher, dataset, config.device) if config.teacher else None
    if teacher is not None:
        identity["teacher_sha256"] = teacher.sha256

    # every input is checked: only now may an earlier run make room (and only until this one has started)
    set_aside = _SetAside(run_dir) if overwrite else None
    try:
        return _run(model, dataset, config, run_dir, identity, dataset_info, log, progress, teacher,
                    set_aside.commit if set_aside else lambda: None, warm)
    except BaseException:
        if set_aside is not None:
            set_aside.restore()
        raise


def _run(model, dataset: SequenceDataset, config: TrainConfig, run_dir: Path, identity: dict[str, Any],
         dataset_info: dict[str, Any], log: TrainLog, progress: bool, teacher: Teacher | None,
         on_started: Callable[[], None], warm: dict[str, Any] | None = None) -> dict[str, Any]:
    """Fit (or resume), evaluate and write the run's files; `on_started()` once the first epoch is saved;
    `warm`: what a warm start took (recorded in the metrics)."""
    model_name = model.name
    if model.trainable:
        state = _fit(model, dataset, config, run_dir, identity, log, progress, teacher, on_started)
    else:
        model.fit(torch.from_numpy(dataset.train_item_counts()).float())
        state = {"best_epoch": 0, "epoch": 0, "train_seconds": 0.0, "train_samples": 0}

    eval_started = time.perf_counter()
    splits = ("valid", "test") if config.evaluate_test else ("valid",)
    results = {split: evaluate(model, dataset, split, config.eval_batch_size, config.mask_history,
                               config.device) for split in splits}
    eval_seconds = time.perf_counter() - eval_started
    metrics = {
        "model": model_name, "test": None, **results,
        "best_epoch": state["best_epoch"], "epochs_run": state["epoch"],
        "mask_history": config.mask_history, "dataset": dataset.fingerprint,
        **({"teacher": teacher.describe()} if teacher is not None else {}),
        **({"warm_start": {k: warm[k] for k in ("model", "sha256", "parameters")}} if warm is not None else {}),
        "timings": {
            "train_seconds": round(state["train_seconds"], 3),
            "train_samples_per_second": round(state["train_samples"] / state["train_seconds"], 1)
            if state["train_seconds"] else None,
            "eval_seconds": round(eval_seconds, 3),
        },
    }
    save_checkpoint(run_dir / "model.pt", checkpoint_dict(model, dataset_info, dataclasses.asdict(config)))
    write_json(run_dir / "metrics.json", metrics)
    on_started()  # a model that is fitted, not trained, has replaced the earlier run only now
    (run_dir / "last.pt").unlink(missing_ok=True)
    reported = "test" if config.evaluate_test else "valid"
    log(f"done: best epoch {state['best_epoch']}, {reported} " +
        " ".join(f"{k} {results[reported][k]:.4f}" for k in ("HR@10", "NDCG@10", "MRR@10")))
    return metrics


def _loss(model, inputs: tuple[torch.Tensor, ...], targets: torch.Tensor, batch: np.ndarray, config: TrainConfig,
          teacher: Teacher | None) -> torch.Tensor:
    """The batch's training loss: the model's cross-entropy over all items, or the distillation loss
    against `teacher`'s scores of the samples at `batch`; plus the users' uniformity if weighted."""
    if config.uniformity_weight:
        scores, users = model.scores_and_users(*inputs)
    else:
        scores, users = model.score_all(*inputs), None
    if teacher is None:
        loss = F.cross_entropy(scores, targets)
    else:
        loss = distillation_loss(scores, teacher.scores(batch), targets, config.teacher_weight,
                                 config.teacher_temperature)
    return loss if users is None else loss + config.uniformity_weight * uniformity_loss(users)


def _fit(model, dataset: SequenceDataset, config: TrainConfig, run_dir: Path, identity: dict[str, Any],
         log: TrainLog, progress: bool, teacher: Teacher | None, on_started: Callable[[], None]) -> dict[str, Any]:
    """The epoch loop; leaves the best weights in `model` and returns the final training state."""
    inputs, targets = model.inputs(dataset, "train"), dataset.targets("train")
    steps_per_epoch = -(-len(targets) // config.batch_size)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs * steps_per_epoch)
    state = {**identity, "format": STATE_FORMAT, "epoch": 0, "best_epoch": 0, "best_score": -1.0,
             "bad_epochs": 0, "train_seconds": 0.0, "train_samples": 0, "best_state": None}
    # a state saved before an option existed meant the option's value of that time: today's default, or
    # the former one where the default has changed since (the model config's former_defaults)
    defaults = {"model_config": {**dataclasses.asdict(type(model.config)()), **type(model.config).former_defaults},
                "train_config": dataclasses.asdict(TrainConfig())}
    saved = _load_state(run_dir / "last.pt", identity, defaults)
    if saved is not None:
        state = saved
        model.load_state_dict(saved["model_state"])
        optimizer.load_state_dict(saved["optimizer_state"])
        scheduler.load_state_dict(saved["scheduler_state"])
        log(f"resuming after epoch {state['epoch']} (best MRR@10 {state['best_score']:.4f})")

    while state["epoch"] < config.epochs and state["bad_epochs"] < config.patience:
        epoch = state["epoch"] + 1
        torch.manual_seed(config.seed * 100_003 + epoch)  # dropout stream: same with or without resume
        order = np.random.default_rng([config.seed, epoch]).permutation(len(targets))
        model.train()
        started, loss_sum = time.perf_counter(), 0.0
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch}/{config.epochs}", disable=None if progress else True,
                   leave=False, unit="batch")
        for step in bar:
            batch = order[step * config.batch_size:(step + 1) * config.batch_size]
            batch_inputs = (torch.from_numpy(a[batch]).to(config.device) for a in inputs)
            batch_targets = torch.from_numpy(targets[batch]).to(config.device)
            loss = _loss(model, tuple(batch_inputs), batch_targets, batch, config, teacher)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            loss_value = loss.item()
            if not math.isfinite(loss_value):
                raise DivergedError(f"training diverged in epoch {epoch} (batch {step + 1}): the loss is "
                                    f"{loss_value}; lower --lr (now {config.lr:g}) and run again with --overwrite")
            loss_sum += loss_value
            if step % 20 == 0:
                rate = (step + 1) * config.batch_size / (time.perf_counter() - started)
                bar.set_postfix(loss=f"{loss_sum / (step + 1):.4f}", samples_per_s=f"{rate:.0f}")
        seconds = time.perf_counter() - started
        try:
            valid = evaluate(model, dataset, "valid", config.eval_batch_size, config.mask_history, config.device)
        except NonFiniteScoresError:
            raise DivergedError(f"training diverged in epoch {epoch}: the model's validation scores are NaN or "
                                f"inf; lower --lr (now {config.lr:g}) and run again with --overwrite") from None
        score = valid[SELECTION_METRIC]
        state.update(epoch=epoch, train_seconds=state["train_seconds"] + seconds,
                     train_samples=state["train_samples"] + len(targets))
        if score > state["best_score"]:
            state.update(best_score=score, best_epoch=epoch, bad_epochs=0,
                         best_state={k: v.detach().clone().cpu() for k, v in model.state_dict().items()})
        else:
            state["bad_epochs"] += 1
        log(f"epoch {epoch:3d} loss {loss_sum / steps_per_epoch:.4f} valid MRR@10 {score:.4f} "
            f"NDCG@10 {valid['NDCG@10']:.4f} HR@10 {valid['HR@10']:.4f} "
            f"({seconds:.1f} s, {len(targets) / seconds:.0f} samples/s){' *' if state['best_epoch'] == epoch else ''}")
        state.update(model_state=model.state_dict(), optimizer_state=optimizer.state_dict(),
                     scheduler_state=scheduler.state_dict())
        save_checkpoint(run_dir / "last.pt", state)
        on_started()
    if state["bad_epochs"] >= config.patience:
        log(f"early stop: no better validation {SELECTION_METRIC} for {config.patience} epochs")
    if state["best_state"] is not None:
        model.load_state_dict(state["best_state"])
    return state
