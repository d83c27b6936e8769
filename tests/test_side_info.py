"""Side information fused into the item table (ssr.models.fusion), through the base contract: every
model with an item table takes it, the fused table equals a hand-computed one, it survives the
checkpoint, and a spiking model's exported graph does not change for it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ssr.cli import export_main, main
from ssr.models import MODELS, build_model

ITEMS, LENGTH = 20, 6


def features(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    tables = {"text": rng.normal(size=(ITEMS + 1, 5)), "image": rng.normal(size=(ITEMS + 1, 3))}
    for table in tables.values():
        table[0] = 0.0  # padding row
    return {name: table.astype(np.float32) for name, table in tables.items()}


@pytest.mark.parametrize("fusion", ["sum", "concat"])
def test_fused_table_equals_the_formula(fusion: str) -> None:
    model = build_model("fmlp", ITEMS, LENGTH, {"hidden": 4, "side_info": "text+image", "fusion": fusion}, features())
    table = model.item_embedding
    ids = table.ids.weight.detach().numpy().astype(np.float64)
    f = {k: v.astype(np.float64) for k, v in features().items()}
    if fusion == "sum":
        expected = ids + sum(f[m] @ table.project[m].weight.detach().numpy().T for m in ("text", "image"))
    else:
        expected = np.concatenate([ids, f["text"], f["image"]], axis=1) @ table.project.weight.detach().numpy().T
        np.testing.assert_array_equal(table.project.weight.detach().numpy()[:, :4], np.eye(4))  # starts at the ids
    np.testing.assert_allclose(table.weight.detach().numpy(), expected, rtol=1e-5, atol=1e-6)
    if fusion == "sum":  # the maps are bias-free: the padding row gets nothing from the (zero) features
        np.testing.assert_array_equal(table.weight[0].detach().numpy(), ids[0].astype(np.float32))
    seq = torch.randint(1, ITEMS + 1, (3, LENGTH))
    np.testing.assert_allclose(table(seq).detach().numpy(), expected[seq.numpy()], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(n for n, c in MODELS.items() if c.kind != "baseline"))
def test_every_model_takes_side_information(name: str, tmp_path) -> None:
    """The fused table is what the model reads: the loss reaches every modality's map."""
    from ssr.data.prepare import PrepareConfig, prepare
    from ssr.data.synthetic import SyntheticConfig
    from ssr.data.dataset import read_dataset

    data = tmp_path / "d.h5"
    prepare(PrepareConfig(dataset="synthetic", max_len=LENGTH, min_count=1, synthetic=SyntheticConfig(users=20, items=30)),
            None, data)
    dataset = read_dataset(data)
    rng = np.random.default_rng(0)
    tables = {"text": rng.normal(size=(dataset.num_items + 1, 5)).astype(np.float32)}
    model = build_model(name, dataset.num_items, LENGTH, {"side_info": "text"}, tables)
    inputs = [torch.from_numpy(a[:16]) for a in model.inputs(dataset, "train")]
    model.loss(*inputs, torch.from_numpy(dataset.targets("train")[:16])).backward()
    grad = model.item_embedding.project["text"].weight.grad
    assert grad is not None and grad.abs().sum() > 0
    assert model.server_side_macs() == (dataset.num_items + 1) * model.item_embedding.ids.embedding_dim * 5


def test_bad_side_information_is_named() -> None:
    with pytest.raises(ValueError, match="needs item features image, which the dataset lacks"):
        build_model("fmlp", ITEMS, LENGTH, {"side_info": "text+image"}, {"text": features()["text"]})
    with pytest.raises(ValueError, match=r"side_info must be matching"):
        build_model("fmlp", ITEMS, LENGTH, {"side_info": "Text"})
    with pytest.raises(ValueError, match="fusion must be one of sum, concat"):
        build_model("fmlp", ITEMS, LENGTH, {"side_info": "text", "fusion": "avg"}, features())
    with pytest.raises(ValueError, match="no item embedding to fuse"):
        build_model("pop", ITEMS, LENGTH, {"side_info": "text"}, features())


@pytest.fixture(scope="module")
def featured_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("side")
    assert main(["data", "prepare", "--dataset", "synthetic", "--synthetic-users", "120", "--synthetic-items", "30",
                 "--max-len", "8", "--min-count", "3", "--out", str(root / "plain.h5")]) == 0
    import h5py

    keys = h5py.File(root / "plain.h5")["keys/items"][()].astype(str)[1:]
    rng = np.random.default_rng(0)
    np.save(root / "text.npy", rng.normal(size=(30, 6)).astype(np.float32))  # rows for raw items 1..30
    (root / "index.tsv").write_text("".join(f"{i}\t{i - 1}\n" for i in range(1, 31)))
    assert main(["data", "prepare", "--dataset", "synthetic", "--synthetic-users", "120", "--synthetic-items", "30",
                 "--max-len", "8", "--min-count", "3", "--item-features", f"text={root / 'text.npy'}",
                 "--item-index", str(root / "index.tsv"), "--out", str(root / "data.h5")]) == 0
    assert len(keys)
    return root


def test_train_evaluate_and_export_with_side_information(featured_data: Path, capsys) -> None:
    root = featured_data
    common = ["--data", str(root / "data.h5"), "--epochs", "1", "--threads", "1", "--quiet",
              "--model-config", "hidden=8", "--model-config", "blocks=1", "--model-config", "time_steps=2"]
    assert main(["train", "--model", "ssr", *common, "--out", str(root / "plain")]) == 0
    assert main(["train", "--model", "ssr", *common, "--model-config", "side_info=text",
                 "--out", str(root / "side")]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(root / "side" / "model.pt"), "--data", str(root / "data.h5"), "--json"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    trained = json.loads((root / "side" / "metrics.json").read_text())["test"]
    assert evaluated["NDCG@10"] == trained["NDCG@10"]  # the checkpoint carries the features and the maps
    for run in ("plain", "side"):
        assert export_main([str(root / run / "model.pt"), "--to", "nir", "--verify", "--verify-sequences", "16"]) == 0
        assert "PASS" in capsys.readouterr().out
    shapes = [json.loads((root / run / "model.manifest.json").read_text())["nodes"] for run in ("plain", "side")]
    assert shapes[0] == shapes[1]  # the same graph: side information costs the device nothing
    assert main(["energy-report", str(root / "plain"), str(root / "side"), "--sequences", "16",
                 "--out", str(root / "energy")]) == 0
    report = json.loads((root / "energy" / "report.json").read_text())
    plain, side = report["models"]
    assert plain["server_side_macs"] == 0 and side["server_side_macs"] == 31 * 8 * 6
    assert side["macs"] == plain["macs"]  # per inference: no extra multiply-accumulates on the device
    assert main(["train", "--model", "fmlp", "--data", str(root / "plain.h5"), "--model-config", "side_info=text",
                 "--quiet", "--out", str(root / "nofeatures")]) == 1
    assert "prepare it with --item-features text=FILE.npy" in capsys.readouterr().err


def test_the_fused_table_is_built_once_in_eval_and_again_after_training() -> None:
    model = build_model("fmlp", ITEMS, LENGTH, {"hidden": 4, "side_info": "text"}, features()).eval()
    model.item_embedding.weight  # built (and kept) on first use
    first = model.item_embedding.weight
    model.eval()  # switching to eval again keeps the table (energy-report counts after building it)
    assert model.item_embedding.weight is first
    model.train()
    with torch.no_grad():
        model.item_embedding.project["text"].weight.add_(1.0)
    model.eval()
    assert not torch.equal(model.item_embedding.weight, first)  # rebuilt from the trained maps
