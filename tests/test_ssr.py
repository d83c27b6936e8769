"""The SSR models: the spike-wise item table, the circular filter, the point-wise shortcut of the
last block, determinism, layer declarations, and training on every dataset format the pipeline reads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from references import circulant_filter, numpy_lif

from ssr.cli import main
from ssr.models import build_model
from ssr.models.layers import FrequencyFilter

SMALL = {"hidden": 8, "blocks": 2, "time_steps": 4}


def test_spike_table_is_binary_time_by_items_by_dim_and_equals_a_numpy_lif() -> None:
    torch.manual_seed(0)
    model = build_model("ssr", 30, 6, SMALL)
    table = model.spike_table().detach()
    assert table.shape == (4, 31, 8)
    assert set(table.unique().tolist()) <= {0.0, 1.0}
    assert 0 < table.mean() < 1  # some, not all, entries fire
    assert table[:, 0].sum() == 0  # padding is silent
    currents = model.item_embedding.weight.detach().numpy() * model.config.item_current_scale
    expected = numpy_lif(np.broadcast_to(currents, (4, *currents.shape)))  # constant input over T
    np.testing.assert_array_equal(table.numpy(), expected)


def test_sequences_look_up_their_items_spike_rows() -> None:
    torch.manual_seed(1)
    model = build_model("ssr", 20, 5, SMALL).eval()
    table = model.spike_table()
    item_seq = torch.tensor([[0, 0, 3, 7, 19]])
    inputs = table[:, item_seq]  # what encode() reads
    for position, item in enumerate(item_seq[0].tolist()):
        torch.testing.assert_close(inputs[:, 0, position], table[:, item], rtol=0, atol=0)


def test_frequency_filter_is_the_hand_built_circulant() -> None:
    torch.manual_seed(2)
    for length in (7, 8):
        layer = FrequencyFilter(length, 3, init_std=1.0)
        x = torch.randn(2, 4, length, 3)
        spectrum = torch.view_as_complex(layer.weight.detach())[0].numpy()
        expected = circulant_filter(x.numpy().astype(np.float64), spectrum.astype(np.complex128))
        np.testing.assert_allclose(layer(x).detach().numpy(), expected, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(layer.last_position(x).detach().numpy(), expected[..., -1, :],
                                   rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["ssr", "ssr-hybrid"])
def test_last_block_shortcut_equals_the_full_computation(name: str) -> None:
    torch.manual_seed(3)
    model = build_model(name, 25, 9, SMALL).eval()
    for module in model.modules():  # make the batch-norm maps non-trivial
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 1.5)
    block = model.blocks[-1]
    if name == "ssr":
        x = (torch.rand(4, 3, 9, 8) < 0.3).float()  # (T, B, N, D) spikes
        full, last = block(x)[:, :, -1:], block(x, last_only=True)
    else:
        x = torch.randn(3, 9, 8)  # (B, N, D)
        full, last = block(x)[:, -1:], block(x, last_only=True)
    torch.testing.assert_close(last, full, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["ssr", "ssr-hybrid"])
def test_same_seed_same_scores(name: str) -> None:
    item_seq = torch.randint(0, 16, (4, 6), generator=torch.Generator().manual_seed(0))
    scores = []
    for _ in range(2):
        torch.manual_seed(7)
        model = build_model(name, 15, 6, SMALL)
        model.train()
        torch.manual_seed(8)  # dropout stream
        scores.append(model.score_all(item_seq))
    torch.testing.assert_close(scores[0], scores[1], rtol=0, atol=0)


def test_layer_declarations() -> None:
    ssr = build_model("ssr", 10, 5, SMALL).layer_kinds()
    # everything between the input spikes and the readout is spike-driven; the table is encoded offline
    assert {name for name, kind in ssr.items() if kind == "float"} == {"item_embedding"}
    hybrid = build_model("ssr-hybrid", 10, 5, SMALL).layer_kinds()
    assert {name for name, kind in hybrid.items() if kind == "spike"} == {"blocks.0.ffn_out", "blocks.1.ffn_out"}
    assert hybrid["blocks.0.filter"] == hybrid["score"] == "float"


def tiny_files(folder: Path) -> dict[str, Path]:
    """One small file per reader format: 8 users x 6 items each, one event a day."""
    rows = [(u, (u * 3 + k) % 10 + 1, k) for u in range(1, 9) for k in range(6)]  # (user, item, day)
    stamp = [1_600_000_000 + 86_400 * day for day in range(6)]
    texts = {
        "ml-100k": ("u.data", [f"{u}\t{i}\t4\t{stamp[d]}" for u, i, d in rows]),
        "ml-1m": ("ratings.dat", [f"{u}::{i}::4::{stamp[d]}" for u, i, d in rows]),
        "amazon-csv": ("ratings.csv", [f"I{i:04d},U{u},5.0,{stamp[d]}" for u, i, d in rows]),
        "seqfile": ("seq.txt", [f"{u} " + " ".join(str(i) for v, i, _ in rows if v == u) for u in range(1, 9)]),
        "steam": ("steam.json", [f"{{'username': 'user {u}', 'product_id': '{i}', "
                                 f"'date': '2017-01-{d + 1:02d}', 'text': 'ok'}}" for u, i, d in rows]),
        "retailrocket": ("events.csv", ["timestamp,visitorid,event,itemid,transactionid"]
                         + [f"{stamp[d] * 1000},{u},view,{i}," for u, i, d in rows]),
    }
    paths = {}
    for name, (filename, lines) in texts.items():
        paths[name] = folder / filename
        paths[name].write_text("\n".join(lines) + "\n")
    return paths


@pytest.mark.parametrize("model", ["ssr", "ssr-hybrid"])
def test_trains_and_evaluates_on_every_dataset_format(model: str, tmp_path: Path, capsys) -> None:
    overrides = ["--model-config", "hidden=8", "--model-config", "blocks=1"]
    for name, path in tiny_files(tmp_path).items():
        data = tmp_path / f"{name}.h5"
        assert main(["data", "prepare", "--dataset", name, "--path", str(path), "--min-count", "2",
                     "--split", "loo", "--max-len", "5", "--out", str(data)]) == 0, name
        run = tmp_path / f"run-{name}"
        assert main(["train", "--model", model, "--data", str(data), "--epochs", "1", "--quiet",
                     "--out", str(run), *overrides]) == 0, name
        capsys.readouterr()
        assert main(["evaluate", str(run / "model.pt"), "--data", str(data), "--json"]) == 0, name
        printed = json.loads(capsys.readouterr().out)
        stored = json.loads((run / "metrics.json").read_text())["test"]
        assert printed["NDCG@10"] == pytest.approx(stored["NDCG@10"]), name


@pytest.mark.parametrize("model", ["ssr", "ssr-hybrid"])
def test_same_seed_same_training(model: str, tmp_path: Path) -> None:
    from ssr.data.prepare import PrepareConfig, prepare
    from ssr.data.synthetic import SyntheticConfig
    from ssr.train.trainer import TrainConfig, train

    data = tmp_path / "d.h5"
    prepare(PrepareConfig(dataset="synthetic", max_len=8, synthetic=SyntheticConfig(users=80, items=30)),
            None, data)
    runs = [train(model, data, tmp_path / f"run{i}", TrainConfig(epochs=2, seed=3), SMALL, progress=False)
            for i in range(2)]
    assert runs[0]["test"] == runs[1]["test"] and runs[0]["valid"] == runs[1]["valid"]
    first, second = (torch.load(tmp_path / f"run{i}" / "model.pt", weights_only=True)["state_dict"]
                     for i in range(2))
    assert all(torch.equal(first[key], second[key]) for key in first)


def test_hybrid_trains_with_the_released_weight_decay_unless_told(tmp_path: Path) -> None:
    from ssr.data.prepare import PrepareConfig, prepare
    from ssr.data.synthetic import SyntheticConfig
    from ssr.train.trainer import TrainConfig, train

    data = tmp_path / "d.h5"
    prepare(PrepareConfig(dataset="synthetic", max_len=6, synthetic=SyntheticConfig(users=40, items=20)),
            None, data)
    for weight_decay, expected in ((None, 1e-4), (0.0, 0.0)):
        run = tmp_path / f"run-{weight_decay}"
        train("ssr-hybrid", data, run, TrainConfig(epochs=1, weight_decay=weight_decay), SMALL, progress=False)
        assert torch.load(run / "model.pt", weights_only=True)["train_config"]["weight_decay"] == expected


@pytest.mark.parametrize("strided", [False, True])
def test_feature_batch_norm_equals_torchs_batch_norm_on_the_rows_bit_for_bit(strided):
    """FeatureBatchNorm hands contiguous rows to torch as channels-last (rows, C, 1, 1); the
    reference is torch's BatchNorm1d on the (rows, C) matrix, as the published runs were trained:
    output, input / weight / bias gradients and running statistics identical, in training and eval."""
    from ssr.models.layers import FeatureBatchNorm

    torch.manual_seed(0)
    ours, reference = FeatureBatchNorm(64), torch.nn.BatchNorm1d(64)
    with torch.no_grad():
        ours.weight.normal_()
        ours.bias.normal_()
    reference.load_state_dict(ours.state_dict())
    base = torch.randn(4, 128, 50, 64) * 3 + 1
    if strided:  # a (T, B, 1, D) view whose rows are not contiguous, as the last block's einsum returns
        base = (torch.randn(64, 1, 4, 128) * 3 + 1).permute(2, 3, 1, 0)
    grad = torch.randn(base.shape)
    for training in (True, False):
        ours.train(training)
        reference.train(training)
        x, x_ref = (torch.empty_strided(base.shape, base.stride()).copy_(base).requires_grad_() for _ in range(2))
        y = ours(x)
        y_ref = reference(x_ref.reshape(-1, 64)).reshape(base.shape)
        (y * grad).sum().backward()
        (y_ref * grad).sum().backward()
        assert torch.equal(y, y_ref) and torch.equal(x.grad, x_ref.grad)
        assert torch.equal(ours.weight.grad, reference.weight.grad) and torch.equal(ours.bias.grad, reference.bias.grad)
        assert torch.equal(ours.running_mean, reference.running_mean)
        assert torch.equal(ours.running_var, reference.running_var)
        ours.zero_grad()
        reference.zero_grad()
