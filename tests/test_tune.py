"""`ssr tune`: Optuna on the validation split only, a shared study, the spiking-model rule."""

from __future__ import annotations

import json

import pytest

from builders import prepare_synthetic

from ssr.cli import main
from ssr.data.dataset import SequenceDataset
from ssr.train.tune import spiking_params


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("tune")
    prepare_synthetic(root / "data.h5", users=100, items=25)
    return root / "data.h5"


def test_tune_never_reads_the_test_split_and_shares_its_study(data, tmp_path, monkeypatch, capsys):
    reads = []
    for method in ("inputs_and_targets", "history"):
        original = getattr(SequenceDataset, method)

        def guarded(self, split, _original=original):
            reads.append(split)
            if split == "test":
                raise AssertionError("tuning read the test split")
            return _original(self, split)
        monkeypatch.setattr(SequenceDataset, method, guarded)
    out = tmp_path / "study"
    argv = ["tune", "--model", "fmlp", "--data", str(data), "--epochs", "1", "--threads", "1", "--out", str(out)]
    assert main([*argv, "--trials", "2"]) == 0
    assert "best valid MRR@10" in capsys.readouterr().out
    assert "test" not in reads and "valid" in reads
    best = json.loads((out / "best.json").read_text())
    assert best["trials"] == 2 and best["metric"] == "valid MRR@10"
    assert set(best["best_params"]) == {"lr", "weight_decay", "dropout", "blocks"}
    assert (out / "study.db").is_file()
    assert main([*argv, "--trials", "1"]) == 0  # the same storage: the study goes on
    assert json.loads((out / "best.json").read_text())["trials"] == 3


def test_spiking_models_reuse_their_ann_originals_parameters(data, tmp_path, capsys):
    assert main(["tune", "--model", "ssr", "--data", str(data), "--out", str(tmp_path / "s")]) == 1
    assert "reuses its ANN original's tuned hyper-parameters; tune fmlp" in capsys.readouterr().err
    tuned = {"lr": 0.002, "weight_decay": 1e-5, "dropout": 0.3, "blocks": 3}
    assert spiking_params("ssr", tuned) == tuned  # SSR has dropout and blocks
    assert spiking_params("sfsrec", {"lr": 0.001, "attention_dropout": 0.2, "heads": 4}) == {"lr": 0.001, "heads": 4}


def test_tune_bad_input(data, tmp_path, capsys):
    assert main(["tune", "--model", "fmlp", "--data", str(data), "--metric", "AUC", "--out", str(tmp_path / "x")]) == 1
    assert "unknown metric" in capsys.readouterr().err
    assert main(["tune", "--model", "nope", "--data", str(data), "--out", str(tmp_path / "x")]) == 1
    assert "unknown model" in capsys.readouterr().err
