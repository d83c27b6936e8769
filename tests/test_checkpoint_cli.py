"""The `ssr` command line end to end on a tiny synthetic dataset, its error contract, checkpoints,
model configs and the model registry's contract."""

from __future__ import annotations

import dataclasses
import fcntl
import json
import math
import os
import random
from pathlib import Path

import pytest
import torch

from ssr.cli import METRIC_KEYS, main
from ssr.data.dataset import read_dataset
from ssr.models import MODELS, build_model
from ssr.models.base import config_from_dict
from ssr.models.fmlp.fmlp import FMLPConfig

PREPARE = ["data", "prepare", "--dataset", "synthetic", "--synthetic-users", "150",
           "--synthetic-items", "40", "--max-len", "10", "--min-count", "3"]
TRAIN = ["train", "--model", "fmlp", "--epochs", "2", "--batch-size", "64", "--quiet",
         "--threads", "1", "--model-config", "hidden=16", "--model-config", "blocks=1"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """data.h5 prepared and run/ trained through the CLI."""
    root = tmp_path_factory.mktemp("cli")
    assert main([*PREPARE, "--out", str(root / "data.h5")]) == 0
    assert main([*TRAIN, "--data", str(root / "data.h5"), "--out", str(root / "run")]) == 0
    return root


def files_under(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*")}


def assert_cli_error(capsys, argv: list[str], *names: str) -> str:
    """The command fails with one stderr line `ssr: error: ...` naming every one of `names`."""
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert code != 0
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("ssr: error: "), err
    for name in names:
        assert str(name) in lines[0], (name, err)
    return lines[0]


# --- happy paths ------------------------------------------------------------


def test_models_lists_fmlp_and_pop(capsys) -> None:
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    by_name = {line.split()[0]: line for line in lines}
    assert "fmlp" in by_name and "pop" in by_name
    assert by_name["fmlp"].split()[1] == "ANN"
    assert by_name["pop"].split()[1] == "BASELINE"


def test_prepare_again_is_reused_and_stats(workdir, capsys) -> None:
    data = workdir / "data.h5"
    mtime = os.stat(data).st_mtime_ns
    assert main([*PREPARE, "--out", str(data)]) == 0
    assert capsys.readouterr().out.startswith(f"reused {data}")
    assert os.stat(data).st_mtime_ns == mtime

    stats = read_dataset(data).stats
    assert main(["data", "stats", str(data)]) == 0
    out = capsys.readouterr().out
    assert "synthetic" in out and "split ufo" in out and "max_len 10" in out
    assert f"users            {stats['users']:,}" in out

    assert main(["data", "stats", str(data), "--json"]) == 0
    parsed = json.loads(capsys.readouterr().out)
    assert parsed["stats"] == stats
    assert parsed["config"]["max_len"] == 10 and parsed["config"]["synthetic"]["items"] == 40
    assert parsed["fingerprint"] == read_dataset(data).fingerprint


def table_values(out: str) -> dict[str, float]:
    """The metric row of a one-row metrics table."""
    header, row = out.strip().splitlines()[-2:]
    assert header.split() == list(METRIC_KEYS)
    return dict(zip(METRIC_KEYS, map(float, row.split()[-len(METRIC_KEYS):]), strict=True))


def test_evaluate_prints_the_trained_metrics(workdir, capsys) -> None:
    written = json.loads((workdir / "run" / "metrics.json").read_text())
    checkpoint, data = str(workdir / "run" / "model.pt"), str(workdir / "data.h5")

    assert main(["evaluate", checkpoint, "--data", data, "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "fmlp test" in out
    for key, value in table_values(out).items():
        assert value == pytest.approx(round(written["test"][key], 4), abs=1e-9), key

    assert main(["evaluate", checkpoint, "--data", data, "--json"]) == 0
    parsed = json.loads(capsys.readouterr().out)
    assert parsed["model"] == "fmlp" and parsed["split"] == "test"
    assert parsed["mask_history"] is False
    for key in METRIC_KEYS:
        assert parsed[key] == pytest.approx(written["test"][key], abs=1e-12), key

    assert main(["evaluate", checkpoint, "--data", data, "--json", "--split", "valid"]) == 0
    parsed = json.loads(capsys.readouterr().out)
    for key in METRIC_KEYS:
        assert parsed[key] == pytest.approx(written["valid"][key], abs=1e-12), key


def test_evaluate_mask_history_never_lowers_the_metrics(workdir, capsys) -> None:
    # masking earlier items (never the target: repeats are dropped) can only move the target up
    checkpoint, data = str(workdir / "run" / "model.pt"), str(workdir / "data.h5")
    results = []
    for extra in ([], ["--mask-history"]):
        assert main(["evaluate", checkpoint, "--data", data, "--json", *extra]) == 0
        results.append(json.loads(capsys.readouterr().out))
    assert results[1]["mask_history"] is True
    for key in METRIC_KEYS:
        assert results[1][key] >= results[0][key] - 1e-12, key
    assert results[1]["HR@5"] > results[0]["HR@5"]


def test_train_prints_table_and_writes_run(workdir, capsys) -> None:
    run = workdir / "run"
    assert {"model.pt", "metrics.json", "train.log"} <= files_under(run)
    assert "last.pt" not in files_under(run)
    # a finished run is not overwritten by accident
    assert main([*TRAIN, "--data", str(workdir / "data.h5"), "--out", str(run)]) != 0
    assert "--overwrite" in capsys.readouterr().err


# --- errors: exit code, one `ssr: error:` line naming the culprit, nothing written ----------


def test_second_process_on_one_run_dir_is_refused(workdir, tmp_path, capsys) -> None:
    out = tmp_path / "busy"
    out.mkdir()
    with open(out / ".train.lock", "a") as held:  # what a training process holds (flock: per open file)
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert_cli_error(capsys, [*TRAIN, "--data", workdir / "data.h5", "--out", out], str(out), "another process")
        assert files_under(out) == {".train.lock"}  # no log, no state
    assert main([*TRAIN, "--data", str(workdir / "data.h5"), "--out", str(out)]) == 0  # released: it trains
    assert {"model.pt", "metrics.json"} <= files_under(out)


def test_unknown_model(workdir, tmp_path, capsys) -> None:
    out = tmp_path / "new"
    assert_cli_error(capsys, ["train", "--model", "nosuch", "--data", workdir / "data.h5",
                              "--out", out], "'nosuch'")
    assert not out.exists()


def test_missing_dataset_file(workdir, tmp_path, capsys) -> None:
    missing, out = tmp_path / "missing.h5", tmp_path / "new"
    assert_cli_error(capsys, [*TRAIN, "--data", missing, "--out", out], str(missing))
    assert_cli_error(capsys, ["evaluate", workdir / "run" / "model.pt", "--data", missing],
                     str(missing))
    assert_cli_error(capsys, ["data", "stats", missing], str(missing))
    assert files_under(tmp_path) == set()


def test_unknown_model_config_key(workdir, tmp_path, capsys) -> None:
    out = tmp_path / "new"
    assert_cli_error(capsys, [*TRAIN, "--model-config", "nosuchkey=1", "--data",
                              workdir / "data.h5", "--out", out], "nosuchkey")
    assert not out.exists()


def test_wrongly_typed_model_config(workdir, tmp_path, capsys) -> None:
    out = tmp_path / "new"
    assert_cli_error(capsys, [*TRAIN, "--model-config", "hidden=wide", "--data",
                              workdir / "data.h5", "--out", out], "hidden", "'wide'")
    assert not out.exists()


def write_bad_checkpoint(kind: str, workdir: Path, path: Path) -> None:
    real = (workdir / "run" / "model.pt").read_bytes()
    path.parent.mkdir()
    if kind.startswith("random-bytes"):  # random-bytes-SEED: 4 KiB of seeded noise
        path.write_bytes(random.Random(int(kind.rsplit("-", 1)[1])).randbytes(4096))
    elif kind == "truncated":
        path.write_bytes(real[: len(real) // 2])
    elif kind == "foreign-dict":
        torch.save({"a": 1}, path)
    elif kind == "state-dict":
        torch.save(build_model("fmlp", 40, 10, {"hidden": 16, "blocks": 1}).state_dict(), path)
    else:
        raise AssertionError(kind)


@pytest.mark.parametrize("kind", [
    "random-bytes-0",  # torch.load raises UnpicklingError
    "random-bytes-2",  # torch.load raises IndexError
    "random-bytes-20",  # KeyError
    "random-bytes-195",  # UnicodeDecodeError
    "truncated", "foreign-dict", "state-dict",
])
def test_bad_checkpoint(kind: str, workdir, tmp_path, capsys) -> None:
    path = tmp_path / "run" / "model.pt"
    write_bad_checkpoint(kind, workdir, path)
    before = files_under(tmp_path)
    line = assert_cli_error(capsys, ["evaluate", path, "--data", workdir / "data.h5"], str(path))
    assert files_under(tmp_path) == before
    if kind.endswith("dict"):
        assert "not an ssr checkpoint" in line


def test_missing_checkpoint(workdir, tmp_path, capsys) -> None:
    path = tmp_path / "run" / "model.pt"
    assert_cli_error(capsys, ["evaluate", path, "--data", workdir / "data.h5"], str(path))


def test_checkpoint_with_mismatching_state(workdir, tmp_path, capsys) -> None:
    payload = torch.load(workdir / "run" / "model.pt", weights_only=True)
    payload["config"]["hidden"] = 32  # state_dict holds hidden=16 tensors
    path = tmp_path / "model.pt"
    torch.save(payload, path)
    assert_cli_error(capsys, ["evaluate", path, "--data", workdir / "data.h5"], str(path))


def test_evaluate_on_dataset_with_other_item_count(workdir, tmp_path, capsys) -> None:
    other = tmp_path / "other.h5"
    assert main(["data", "prepare", "--dataset", "synthetic", "--synthetic-users", "150",
                 "--synthetic-items", "25", "--max-len", "10", "--out", str(other)]) == 0
    assert read_dataset(other).num_items != read_dataset(workdir / "data.h5").num_items
    capsys.readouterr()
    code = main(["evaluate", str(workdir / "run" / "model.pt"), "--data", str(other)])
    err = capsys.readouterr().err
    assert code != 0
    # a warning that the dataset differs may come first; the error itself is one line
    errors = [line for line in err.splitlines() if line.startswith("ssr: error: ")]
    assert len(errors) == 1 and str(other) in errors[0], err
    assert all(line.startswith(("ssr: error: ", "warning: ")) for line in err.splitlines() if line)


def test_unknown_dataset_name(tmp_path, capsys) -> None:
    out = tmp_path / "d.h5"
    assert_cli_error(capsys, ["data", "prepare", "--dataset", "nosuch", "--out", out], "'nosuch'")
    assert not out.exists()


def test_ml100k_missing_path_file(tmp_path, capsys) -> None:
    missing, out = tmp_path / "u.data", tmp_path / "d.h5"
    assert_cli_error(capsys, ["data", "prepare", "--dataset", "ml-100k", "--path", missing,
                              "--out", out], str(missing))
    assert files_under(tmp_path) == set()


def test_ml100k_without_path(tmp_path, capsys) -> None:
    out = tmp_path / "d.h5"
    assert_cli_error(capsys, ["data", "prepare", "--dataset", "ml-100k", "--out", out], "--path")
    assert not out.exists()


def test_ml100k_malformed_line(tmp_path, capsys) -> None:
    raw, out = tmp_path / "u.data", tmp_path / "d.h5"
    raw.write_text("1\t10\t5\t881250949\n2\t20\t3\t891717742\n3\t30\t4\n4\t40\t1\t878887116\n")
    line = assert_cli_error(capsys, ["data", "prepare", "--dataset", "ml-100k", "--path", raw,
                                     "--min-count", "1", "--out", out], f"{raw}:3")
    assert "3\\t30\\t4" in line  # the offending line is quoted
    assert files_under(tmp_path) == {"u.data"}


# --- model configs ------------------------------------------------------------


def test_config_from_dict_accepts_valid_values() -> None:
    config = config_from_dict(FMLPConfig, {"hidden": 8, "dropout": 0})
    assert config == dataclasses.replace(FMLPConfig(), hidden=8, dropout=0.0)
    assert isinstance(config.dropout, float)  # an int for a float field is widened
    assert config_from_dict(FMLPConfig, {}) == FMLPConfig()


def test_config_from_dict_rejects_unknown_keys() -> None:
    with pytest.raises(ValueError, match="nosuch"):
        config_from_dict(FMLPConfig, {"hidden": 8, "nosuch": 1})


@pytest.mark.parametrize("key, value", [("hidden", "16"), ("hidden", 16.0), ("dropout", "0.1"),
                                        ("dropout", None), ("blocks", [1])])
def test_config_from_dict_rejects_wrong_types(key: str, value) -> None:
    with pytest.raises(ValueError, match=key):
        config_from_dict(FMLPConfig, {key: value})


def test_config_from_dict_rejects_bool_for_int() -> None:
    with pytest.raises(ValueError, match="blocks"):
        config_from_dict(FMLPConfig, {"blocks": True})


def test_build_model_unknown_name() -> None:
    with pytest.raises(ValueError, match="nosuch"):
        build_model("nosuch", 10, 5)


# --- the model contract over the whole registry --------------------------------------------------


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_contract(name: str) -> None:
    torch.manual_seed(0)
    num_items, max_len, batch = 12, 6, 5
    small = {"hidden": 8, "blocks": 1} if name == "fmlp" else {}
    model = build_model(name, num_items, max_len, small)
    assert model.name == name and model.kind in {"ann", "snn", "baseline"}
    assert (model.num_items, model.max_len) == (num_items, max_len)
    if not model.trainable:
        model.fit(torch.arange(num_items + 1, dtype=torch.float32))
    item_seq = torch.randint(1, num_items + 1, (batch, max_len))
    item_seq[0, :3] = 0  # a left-padded row
    item_seq[1, :-1] = 0  # a single-item row
    target = torch.randint(1, num_items + 1, (batch,))
    inputs = (item_seq,)
    if model.uses_time:  # event times (seconds), 0 at padding
        inputs = (item_seq, (1_700_000_000 + torch.randint(1, 10_000, item_seq.shape).cumsum(1)) * (item_seq > 0))

    model.train()
    scores = model.score_all(*inputs)
    assert scores.shape == (batch, num_items + 1)
    assert torch.isfinite(scores).all()
    loss = model.loss(*inputs, target)
    assert loss.dim() == 0 and math.isfinite(loss.item())

    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    assert bool(params) == model.trainable
    if params:
        loss.backward()
        for param_name, param in params:
            assert param.grad is not None, param_name
            assert torch.isfinite(param.grad).all(), param_name
            assert param.grad.abs().sum() > 0, param_name  # the gradient really flows here

    kinds = model.layer_kinds()
    assert set(kinds.values()) <= {"float", "spike"}
    # keys name a module or a parameter, or "score" (the scoring against every item)
    names = set(dict(model.named_modules())) | set(dict(model.named_parameters())) | {"score"}
    assert set(kinds) <= names
    if params:
        assert "score" in kinds
    if params:
        assert kinds  # a trainable model has layers the energy model can count


def test_pop_contract_scores_are_fitted_counts() -> None:
    model = build_model("pop", 4, 3)
    model.fit(torch.tensor([0.0, 5.0, 1.0, 3.0, 2.0]))
    scores = model.score_all(torch.zeros(2, 3, dtype=torch.int64))
    assert scores.tolist() == [[0.0, 5.0, 1.0, 3.0, 2.0]] * 2
