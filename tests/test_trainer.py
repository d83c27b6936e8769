"""The trainer on tiny synthetic data: determinism, resume, best-weight selection, run directory."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from pathlib import Path

import pytest
import torch

from ssr.data.dataset import read_dataset
from ssr.data.prepare import PrepareConfig, prepare
from ssr.data.synthetic import SyntheticConfig
from ssr.evaluate import evaluate
from ssr.models import build_model
from ssr.train import trainer
from ssr.train.trainer import TrainConfig, train

TRAIN = TrainConfig(epochs=3, batch_size=64, seed=7, eval_batch_size=256, threads=1)
FMLP = {"hidden": 16, "blocks": 1}
METRICS = ("HR@10", "NDCG@10", "MRR@10")


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("data") / "tiny.h5"
    prepare(PrepareConfig(dataset="synthetic", max_len=10, min_count=3, seed=1,
                          synthetic=SyntheticConfig(users=150, items=40)), None, out)
    return out


@pytest.fixture(scope="module")
def reference_run(data, tmp_path_factory) -> Path:
    """An uninterrupted 3-epoch fmlp run."""
    run = tmp_path_factory.mktemp("reference")
    train("fmlp", data, run, TRAIN, FMLP, progress=False)
    return run


def load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def metrics_of(run: Path) -> dict:
    return json.loads((run / "metrics.json").read_text())


def assert_same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def states_differ(a: dict, b: dict) -> bool:
    return any(not torch.equal(a[key], b[key]) for key in a)


def test_same_seed_same_result(data, reference_run, tmp_path) -> None:
    train("fmlp", data, tmp_path / "again", TRAIN, FMLP, progress=False)
    ref, again = metrics_of(reference_run), metrics_of(tmp_path / "again")
    assert again["valid"] == ref["valid"] and again["test"] == ref["test"]
    assert again["best_epoch"] == ref["best_epoch"]
    assert_same_state(load(reference_run / "model.pt")["state_dict"],
                      load(tmp_path / "again" / "model.pt")["state_dict"])

    other_seed = dataclasses.replace(TRAIN, seed=8, epochs=1)
    train("fmlp", data, tmp_path / "other", other_seed, FMLP, progress=False)
    assert states_differ(load(reference_run / "model.pt")["state_dict"],
                         load(tmp_path / "other" / "model.pt")["state_dict"])


def test_resume_after_interrupt_equals_uninterrupted(data, reference_run, tmp_path,
                                                     monkeypatch) -> None:
    run = tmp_path / "run"
    real_save = trainer.save_checkpoint
    last_saves = []

    def save_then_interrupt(path, payload):
        real_save(path, payload)
        if Path(path).name == "last.pt":
            last_saves.append(payload["epoch"])
            if len(last_saves) == 2:
                raise KeyboardInterrupt  # as if Ctrl-C arrived right after epoch 2 was saved

    monkeypatch.setattr(trainer, "save_checkpoint", save_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        train("fmlp", data, run, TRAIN, FMLP, progress=False)
    monkeypatch.setattr(trainer, "save_checkpoint", real_save)
    assert last_saves == [1, 2]
    assert (run / "last.pt").is_file() and not (run / "model.pt").exists()
    assert load(run / "last.pt")["epoch"] == 2

    # a different configuration must not silently continue this run's state
    with pytest.raises(ValueError, match="different training run"):
        train("fmlp", data, run, dataclasses.replace(TRAIN, lr=5e-3), FMLP, progress=False)

    resumed = train("fmlp", data, run, TRAIN, FMLP, progress=False)
    ref = metrics_of(reference_run)
    assert resumed["valid"] == ref["valid"] and resumed["test"] == ref["test"]
    assert metrics_of(run)["test"] == ref["test"]
    assert (resumed["epochs_run"], resumed["best_epoch"]) == (ref["epochs_run"], ref["best_epoch"])
    assert_same_state(load(reference_run / "model.pt")["state_dict"],
                      load(run / "model.pt")["state_dict"])
    log = (run / "train.log").read_text()
    assert "resuming after epoch 2" in log
    assert log.count("epoch   3") == 1 and log.count("epoch   1") == 1  # only epoch 3 re-ran
    assert not (run / "last.pt").exists()


def fake_validation(monkeypatch, scores: list[float]) -> list[dict]:
    """Make the first len(scores) evaluate() calls (the per-epoch validations) report `scores` as
    MRR@10, snapshotting the model each time; later calls (final metrics) are the real ones."""
    real_evaluate = trainer.evaluate
    snapshots: list[dict] = []

    def fake(model, dataset, split="test", *args, **kwargs):
        result = real_evaluate(model, dataset, split, *args, **kwargs)
        if len(snapshots) < len(scores):
            assert split == "valid"
            snapshots.append({k: v.detach().clone() for k, v in model.state_dict().items()})
            result = {**result, "MRR@10": scores[len(snapshots) - 1]}
        return result

    monkeypatch.setattr(trainer, "evaluate", fake)
    return snapshots


def test_best_weights_are_saved_not_last(data, tmp_path, monkeypatch) -> None:
    snapshots = fake_validation(monkeypatch, [0.5, 0.9, 0.1, 0.2])
    config = dataclasses.replace(TRAIN, epochs=4, patience=10)
    metrics = train("fmlp", data, tmp_path, config, FMLP, progress=False)
    assert len(snapshots) == 4
    assert metrics["best_epoch"] == 2 and metrics["epochs_run"] == 4
    saved = load(tmp_path / "model.pt")
    assert_same_state(snapshots[1], saved["state_dict"])
    assert states_differ(snapshots[3], saved["state_dict"])

    # the saved model really is the one the reported metrics describe
    model = build_model("fmlp", saved["num_items"], saved["max_len"], saved["config"])
    model.load_state_dict(saved["state_dict"])
    dataset = read_dataset(data)
    written = metrics_of(tmp_path)
    for split in ("valid", "test"):
        again = evaluate(model, dataset, split)
        for key in METRICS:
            assert again[key] == pytest.approx(written[split][key], abs=1e-12)


def test_early_stopping_after_patience(data, tmp_path, monkeypatch) -> None:
    snapshots = fake_validation(monkeypatch, [0.5, 0.4, 0.3])  # epochs 4-6 would be real
    config = dataclasses.replace(TRAIN, epochs=6, patience=2)
    metrics = train("fmlp", data, tmp_path, config, FMLP, progress=False)
    assert len(snapshots) == 3
    assert metrics["epochs_run"] == 3 and metrics["best_epoch"] == 1
    assert "early stop" in (tmp_path / "train.log").read_text()


def test_run_directory_contents(data, reference_run) -> None:
    payload = load(reference_run / "model.pt")  # weights_only=True must be able to read it
    dataset = read_dataset(data)
    assert payload["format"] == "ssr-checkpoint"
    assert isinstance(payload["schema_version"], int)
    assert payload["model"] == "fmlp"
    assert payload["config"]["hidden"] == 16 and payload["config"]["blocks"] == 1
    assert payload["num_items"] == dataset.num_items and payload["max_len"] == 10
    assert payload["dataset"]["fingerprint"] == dataset.fingerprint
    assert all(isinstance(v, torch.Tensor) for v in payload["state_dict"].values())

    metrics = metrics_of(reference_run)
    for split in ("valid", "test"):
        for key in METRICS:
            assert 0.0 <= metrics[split][key] <= 1.0
        assert metrics[split]["MRR@10"] <= metrics[split]["NDCG@10"] <= metrics[split]["HR@10"]
    assert metrics["epochs_run"] == 3 and 1 <= metrics["best_epoch"] <= 3
    assert metrics["dataset"] == dataset.fingerprint
    assert {"train_seconds", "eval_seconds", "train_samples_per_second"} <= set(metrics["timings"])
    assert metrics["timings"]["train_seconds"] > 0

    log = (reference_run / "train.log").read_text()
    assert "epoch   1" in log and "done" in log
    assert not (reference_run / "last.pt").exists()


def test_second_train_into_finished_dir_refuses(data, reference_run) -> None:
    before = (reference_run / "model.pt").read_bytes()
    with pytest.raises(ValueError, match="overwrite"):
        train("fmlp", data, reference_run, TRAIN, FMLP, progress=False)
    assert (reference_run / "model.pt").read_bytes() == before


def test_pop_scores_are_training_target_counts(data, tmp_path) -> None:
    metrics = train("pop", data, tmp_path, TRAIN, progress=False)
    assert metrics["epochs_run"] == 0 and metrics["best_epoch"] == 0
    assert "loss" not in (tmp_path / "train.log").read_text()  # no epoch lines
    dataset = read_dataset(data)
    counts = Counter(int(dataset.items[p]) for p in dataset.splits["train"])
    payload = load(tmp_path / "model.pt")
    model = build_model("pop", payload["num_items"], payload["max_len"])
    model.load_state_dict(payload["state_dict"])
    inputs, _ = dataset.inputs_and_targets("test")
    scores = model.score_all(torch.from_numpy(inputs[:3]))
    expected = [float(counts.get(i, 0)) for i in range(dataset.num_items + 1)]
    assert scores.shape == (3, dataset.num_items + 1)
    for row in scores.tolist():
        assert row == expected


def test_fmlp_beats_popularity(tmp_path) -> None:
    data = tmp_path / "bigger.h5"
    prepare(PrepareConfig(dataset="synthetic", max_len=10, min_count=3, seed=2,
                          synthetic=SyntheticConfig(users=400, items=80)), None, data)
    config = TrainConfig(epochs=8, seed=0, threads=1, eval_batch_size=512)
    fmlp = train("fmlp", data, tmp_path / "fmlp", config, {"hidden": 32, "blocks": 1},
                 progress=False)
    pop = train("pop", data, tmp_path / "pop", config, progress=False)
    assert fmlp["test"]["NDCG@10"] > pop["test"]["NDCG@10"] + 0.05
    assert fmlp["test"]["HR@10"] > pop["test"]["HR@10"]


def test_pop_mask_history_masks_each_row_only(tmp_path) -> None:
    """Regression: pop's scores were one expanded row, so masking one user's history masked it
    for every user and overwrote the model's counts."""
    data = tmp_path / "d.h5"
    prepare(PrepareConfig(dataset="synthetic", synthetic=SyntheticConfig(users=120, items=40)), None, data)
    dataset = read_dataset(data)
    model = build_model("pop", dataset.num_items, dataset.max_len)
    model.fit(torch.from_numpy(dataset.train_item_counts()).float())
    counts = model.counts.clone()
    masked = evaluate(model, dataset, "test", batch_size=7, mask_history=True)
    torch.testing.assert_close(model.counts, counts, rtol=0, atol=0)
    # brute force: rank the target among items not in the user's history, by count then id
    _, targets = dataset.inputs_and_targets("test")
    sample, item = dataset.history("test")
    hits = 0
    for j, target in enumerate(targets.tolist()):
        seen = set(item[sample == j].tolist())
        order = sorted((i for i in range(1, dataset.num_items + 1) if i not in seen),
                       key=lambda i: (-counts[i].item(), i))
        hits += order.index(target) < 10
    assert masked["HR@10"] == pytest.approx(hits / len(targets))


def test_fine_tuning_starts_from_the_init_checkpoint(data, reference_run, tmp_path) -> None:
    """--init loads the checkpoint's weights and config (overrides on top); with lr 0 the weights
    come out unchanged, so the run really started from them."""
    init = str(reference_run / "model.pt")
    train("fmlp", data, tmp_path / "ft", dataclasses.replace(TRAIN, epochs=1, lr=0.0, init_from=init),
          progress=False)
    tuned = load(tmp_path / "ft" / "model.pt")
    assert tuned["config"] == load(reference_run / "model.pt")["config"]  # hidden 16, 1 block: from the init
    assert_same_state(tuned["state_dict"], load(reference_run / "model.pt")["state_dict"])
    train("fmlp", data, tmp_path / "ft2", dataclasses.replace(TRAIN, epochs=1, init_from=init),
          {"dropout": 0.0}, progress=False)
    assert load(tmp_path / "ft2" / "model.pt")["config"]["dropout"] == 0.0
    with pytest.raises(ValueError, match="is a fmlp checkpoint, not ssr"):
        train("ssr", data, tmp_path / "ft3", dataclasses.replace(TRAIN, init_from=init), progress=False)
    other = tmp_path / "other.h5"
    prepare(PrepareConfig(dataset="synthetic", max_len=10, min_count=3, seed=2,
                          synthetic=SyntheticConfig(users=150, items=40)), None, other)
    with pytest.raises(ValueError, match="item ids would not match"):
        train("fmlp", other, tmp_path / "ft4", dataclasses.replace(TRAIN, init_from=init), progress=False)


def interrupted_under_an_older_ssr(monkeypatch, model: str, data, run: Path, config: dict,
                                   absent: dict[str, tuple[str, ...]], train_config: TrainConfig = TRAIN) -> None:
    """Train `model` until its first last.pt, written as an older ssr wrote it (without the options
    `absent` names per config dict: train_config, model_config), then stop as Ctrl-C does."""
    real_save = trainer.save_checkpoint

    def save_then_interrupt(path, payload):
        if Path(path).name == "last.pt":
            payload = {**payload, **{part: {k: v for k, v in payload[part].items() if k not in keys}
                                     for part, keys in absent.items()}}
            real_save(path, payload)
            raise KeyboardInterrupt
        real_save(path, payload)

    monkeypatch.setattr(trainer, "save_checkpoint", save_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        train(model, data, run, train_config, config, progress=False)
    monkeypatch.setattr(trainer, "save_checkpoint", real_save)


def test_resume_accepts_state_saved_before_an_option_existed(data, tmp_path, monkeypatch) -> None:
    """A run interrupted under an older ssr resumes when the options added since keep their
    defaults here; it is refused when this run sets one of them."""
    run = tmp_path / "run"
    interrupted_under_an_older_ssr(monkeypatch, "fmlp", data, run, FMLP,
                                   {"train_config": ("init_from",), "model_config": ("dropout",)})
    with pytest.raises(ValueError, match="different training run"):
        train("fmlp", data, run, TRAIN, {**FMLP, "dropout": 0.1}, progress=False)
    train("fmlp", data, run, TRAIN, FMLP, progress=False)
    assert "resuming after epoch 1" in (run / "train.log").read_text()


def test_resume_without_a_teacher_ignores_the_teacher_weight_default_change(data, tmp_path, monkeypatch) -> None:
    """--teacher-weight's default went from 0.5 to 0.9 (issue 23). A run without a teacher never read
    it, so a state saved under the old default resumes; a real difference (the lr) is still refused."""
    run = tmp_path / "run"
    interrupted_under_an_older_ssr(monkeypatch, "fmlp", data, run, FMLP, {},
                                   dataclasses.replace(TRAIN, teacher_weight=0.5))
    with pytest.raises(ValueError, match="different training run"):
        train("fmlp", data, run, dataclasses.replace(TRAIN, lr=2e-3), FMLP, progress=False)
    train("fmlp", data, run, TRAIN, FMLP, progress=False)
    assert "resuming after epoch 1" in (run / "train.log").read_text()


def test_resume_of_a_state_from_before_a_default_changed_needs_the_former_value(data, tmp_path, monkeypatch) -> None:
    """sgru4rec's defaults became recurrence=once, scoring=spikes (issue 23). A state saved before those
    options existed was trained per_step with float scoring: resuming it with today's defaults would
    continue a different model, so it is refused; with the former values spelled out it resumes."""
    run, config = tmp_path / "run", {"hidden": 8, "time_steps": 2, "recurrence": "per_step", "scoring": "float"}
    interrupted_under_an_older_ssr(monkeypatch, "sgru4rec", data, run, config,
                                   {"model_config": ("recurrence", "scoring")})
    with pytest.raises(ValueError, match="different training run"):
        train("sgru4rec", data, run, TRAIN, {"hidden": 8, "time_steps": 2}, progress=False)
    train("sgru4rec", data, run, TRAIN, config, progress=False)
    assert "resuming after epoch 1" in (run / "train.log").read_text()
