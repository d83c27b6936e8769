"""`ssr train --teacher`: the distillation loss against a hand-written one, the teacher checks, and
that the soft targets really pull the student towards the teacher. `ssr train --warm-start`: what a
spiking model takes from its ANN twin, and the checks on the source."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from ssr.cli import main
from ssr.data.prepare import PrepareConfig, prepare
from ssr.data.synthetic import SyntheticConfig
from ssr.train.distill import distillation_loss
from ssr.train.trainer import TrainConfig, train

TRAIN = TrainConfig(epochs=3, batch_size=64, lr=5e-3, threads=1, seed=3)
SMALL = {"hidden": 8, "blocks": 1}


def reference_loss(student: np.ndarray, teacher: np.ndarray, targets: np.ndarray, w: float, tau: float) -> float:
    """(1 - w) CE + w tau^2 KL(p_teacher || p_student), row by row in float64 numpy."""
    def log_softmax(x):
        x = x - x.max(axis=1, keepdims=True)
        return x - np.log(np.exp(x).sum(axis=1, keepdims=True))

    hard = -log_softmax(student)[np.arange(len(targets)), targets].mean()
    log_p, log_q = log_softmax(teacher / tau), log_softmax(student / tau)
    soft = (np.exp(log_p) * (log_p - log_q)).sum(axis=1).mean()
    return (1 - w) * hard + w * tau ** 2 * soft


@pytest.mark.parametrize("w, tau", [(0.0, 1.0), (0.5, 2.0), (1.0, 4.0)])
def test_loss_matches_a_hand_written_one(w: float, tau: float) -> None:
    rng = np.random.default_rng(0)
    student, teacher = rng.normal(size=(5, 9)) * 3, rng.normal(size=(5, 9)) * 3
    targets = rng.integers(1, 9, size=5)
    ours = distillation_loss(torch.from_numpy(student), torch.from_numpy(teacher), torch.from_numpy(targets), w, tau)
    assert float(ours) == pytest.approx(reference_loss(student, teacher, targets, w, tau), rel=1e-12)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("distill")
    paths = {}
    for name, users, items in (("a", 150, 40), ("b", 150, 40), ("c", 150, 25)):
        config = PrepareConfig(dataset="synthetic", max_len=8, min_count=3, seed=ord(name),
                               synthetic=SyntheticConfig(users=users, items=items))
        prepare(config, None, root / f"{name}.h5")
        paths[name] = root / f"{name}.h5"
    train("fmlp", paths["a"], root / "teacher", dataclasses.replace(TRAIN, epochs=6, lr=5e-3), SMALL, progress=False)
    paths["teacher"] = root / "teacher" / "model.pt"
    return paths


def top1_agreement(run: Path, teacher: Path, data: Path) -> float:
    """Fraction of test sequences whose top item is the same for both models."""
    from ssr.checkpoint import load_checkpoint
    from ssr.data.dataset import read_dataset
    from ssr.metrics import top_k

    inputs = torch.from_numpy(read_dataset(data).inputs_and_targets("test")[0])
    with torch.no_grad():
        first, second = (top_k(load_checkpoint(path)[0].score_all(inputs), 1) for path in (run, teacher))
    return float((first == second).double().mean())


def test_soft_targets_pull_the_student_to_the_teacher(data, tmp_path) -> None:
    """A teacher with an unmistakable opinion: popularity, whose scores are raw counts, so its
    softened distribution puts nearly all mass on the most popular item. With w = 1 the student
    learns that opinion and ranks that item first almost everywhere; trained on the true next items
    alone, it does not."""
    train("pop", data["a"], tmp_path / "pop", TRAIN, progress=False)
    teacher = tmp_path / "pop" / "model.pt"
    alone = train("ssr", data["a"], tmp_path / "alone", TRAIN, SMALL, progress=False)
    taught = train("ssr", data["a"], tmp_path / "taught",
                   dataclasses.replace(TRAIN, teacher=str(teacher), teacher_weight=1.0), SMALL, progress=False)
    assert taught["teacher"]["model"] == "pop" and len(taught["teacher"]["sha256"]) == 64
    assert "teacher" not in alone
    near = top1_agreement(tmp_path / "taught" / "model.pt", teacher, data["a"])
    far = top1_agreement(tmp_path / "alone" / "model.pt", teacher, data["a"])
    assert near > 0.95 and near - far > 0.2, (near, far)


@pytest.mark.parametrize("other, message", [("b", "was trained on"), ("c", "items but")])
def test_a_teacher_of_another_dataset_is_a_one_line_error(other, message, data, tmp_path, capsys) -> None:
    out = tmp_path / "run"
    code = main(["train", "--model", "ssr", "--data", str(data[other]), "--teacher", str(data["teacher"]),
                 "--epochs", "1", "--quiet", "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "--teacher" in err[0] and message in err[0]
    assert not out.exists()


def test_teacher_weight_out_of_range_is_refused(data, tmp_path, capsys) -> None:
    code = main(["train", "--model", "ssr", "--data", str(data["a"]), "--teacher", str(data["teacher"]),
                 "--teacher-weight", "1.5", "--quiet", "--out", str(tmp_path / "run")])
    assert code == 1 and "TrainConfig.teacher_weight must be" in capsys.readouterr().err


def test_warm_start_takes_the_twins_shared_parameters_and_its_items_as_currents(data, tmp_path) -> None:
    """ssr from its trained fmlp twin, lr 0 so the run keeps its starting point: the filter spectra
    are the twin's bit for bit, and the item table is the twin's embedding standardised per dimension
    to the spread ssr's table starts with (item_init_std / item_current_scale), padding silent."""
    from ssr.checkpoint import load_checkpoint

    out = tmp_path / "warm"
    assert main(["train", "--model", "ssr", "--data", str(data["a"]), "--warm-start", str(data["teacher"]),
                 "--epochs", "1", "--lr", "0", "--threads", "1", "--quiet", "--out", str(out),
                 "--model-config", "hidden=8", "--model-config", "blocks=1"]) == 0
    student, _ = load_checkpoint(out / "model.pt")
    twin, _ = load_checkpoint(data["teacher"])
    assert torch.equal(student.blocks[0].filter.weight, twin.blocks[0].filter.weight)
    embedding = twin.item_embedding.weight.detach().double().numpy()[1:]
    expected = (embedding - embedding.mean(0)) / embedding.std(0, ddof=1) * (2.0 / 4.0)
    table = student.item_embedding.weight.detach().double().numpy()
    np.testing.assert_allclose(table[1:], expected, rtol=1e-5, atol=1e-6)
    assert not table[0].any()
    import json
    taken = json.loads((out / "metrics.json").read_text())["warm_start"]
    assert taken["model"] == "fmlp" and "item_embedding.weight" in taken["parameters"]
    assert not any(name.startswith("densify") for name in taken["parameters"])  # fmlp has none
    assert "warm start from" in (out / "train.log").read_text()


@pytest.mark.parametrize("case, message", [("other dataset", "was trained on"), ("with --init", "pass one of them"),
                                           ("nothing shared", "no parameter of the same name")])
def test_a_warm_start_it_cannot_use_is_a_one_line_error(case, message, data, tmp_path, capsys) -> None:
    source, dataset, extra = str(data["teacher"]), data["a"], []
    if case == "other dataset":
        dataset = data["b"]
    elif case == "with --init":
        extra = ["--init", source]
    else:
        train("pop", data["a"], tmp_path / "pop", TRAIN, progress=False)
        source = str(tmp_path / "pop" / "model.pt")
    out = tmp_path / "run"
    code = main(["train", "--model", "ssr", "--data", str(dataset), "--warm-start", source, *extra,
                 "--epochs", "1", "--quiet", "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and message in err[0], err
    assert not (out / "model.pt").exists()


def test_warm_start_of_ssr_from_a_fused_item_table_is_refused() -> None:
    from ssr.models import build_model

    features = {"text": torch.randn(21, 6)}
    twin = build_model("fmlp", 20, 8, {"hidden": 8, "blocks": 1, "side_info": "text"}, features)
    student = build_model("ssr", 20, 8, {**SMALL, "side_info": "text"}, features)
    before = [p.clone() for p in student.parameters()]
    with pytest.raises(ValueError, match="side information"):
        student.warm_start(twin)
    assert all(torch.equal(a, b) for a, b in zip(before, student.parameters()))  # nothing taken


@pytest.mark.parametrize("student_name, twin_name", [("sgru4rec", "gru4rec"), ("scaser", "caser"), ("srsgnn", "srgnn")])
def test_a_spiking_zoo_model_warm_starts_from_its_twin_with_its_items_as_currents(student_name, twin_name) -> None:
    """Every parameter the twin has under the same name and shape is taken bit for bit; the twin's
    float item table (N(0, 0.02^2)-scale, which would never reach the encoder's threshold) becomes
    currents standardised per dimension to the spread the student's table starts with
    (item_init_std), so the encoder fires on a part of it again; padding silent. With side
    information there is no single table to standardise: refused, nothing taken."""
    from ssr.models import build_model

    torch.manual_seed(0)
    twin = build_model(twin_name, 30, 8, {"hidden": 8})
    with torch.no_grad():
        twin.item_embedding.weight.mul_(torch.linspace(0.5, 2.0, 8))  # another spread per dimension
    student = build_model(student_name, 30, 8, {"hidden": 8})
    taken = student.warm_start(twin)
    own, source = dict(student.named_parameters()), dict(twin.named_parameters())
    assert "item_embedding.weight" in taken and len(taken) > 1
    for name in set(taken) - {"item_embedding.weight"}:
        assert torch.equal(own[name], source[name]), name
    embedding = twin.item_embedding.weight.detach().double().numpy()[1:]
    expected = (embedding - embedding.mean(0)) / embedding.std(0, ddof=1) * student.config.item_init_std
    table = student.item_embedding.weight.detach().double().numpy()
    np.testing.assert_allclose(table[1:], expected, rtol=1e-5, atol=1e-6)
    assert not table[0].any()
    with torch.no_grad():
        fires = student.item_spikes()[:, 1:].mean().item()
    assert 0.05 < fires < 0.6
    copied = build_model(student_name, 30, 8, {"hidden": 8})
    with torch.no_grad():  # the twin's table taken at its own scale: the encoder would stay silent
        copied.item_embedding.weight.copy_(twin.item_embedding.weight)
        assert copied.item_spikes().sum() == 0

    features = {"text": torch.randn(31, 6)}
    fused_twin = build_model(twin_name, 30, 8, {"hidden": 8, "side_info": "text"}, features)
    fused = build_model(student_name, 30, 8, {"hidden": 8, "side_info": "text"}, features)
    before = [p.clone() for p in fused.parameters()]
    with pytest.raises(ValueError, match="side information"):
        fused.warm_start(fused_twin)
    assert all(torch.equal(a, b) for a, b in zip(before, fused.parameters()))
