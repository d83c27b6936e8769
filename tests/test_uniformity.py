"""`ssr train --uniformity-weight`: the uniformity loss against a brute-force one, the models' scores
and user vectors from one forward, and what the regulariser does to trained user vectors."""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest
import torch

from ssr.cli import main
from ssr.checkpoint import load_checkpoint
from ssr.data.dataset import read_dataset
from ssr.data.prepare import PrepareConfig, prepare
from ssr.data.synthetic import SyntheticConfig
from ssr.models.base import MODELS, build_model
from ssr.train.trainer import TrainConfig, train
from ssr.train.uniformity import uniformity_loss

ITEMS, LENGTH, BATCH = 25, 9, 7
SMALL = {"hidden": 8, "blocks": 1, "time_steps": 3, "window": 4, "heads": 2, "head_dim": 4, "state": 4}


def brute_force_uniformity(users: np.ndarray, t: float = 2.0) -> float:
    """log of the mean over pairs i < j of exp(-t ||u_i - u_j||^2), u the rows scaled to unit length."""
    unit = users / np.linalg.norm(users, axis=1, keepdims=True)
    terms = [math.exp(-t * float(np.sum((unit[i] - unit[j]) ** 2)))
             for i, j in itertools.combinations(range(len(unit)), 2)]
    return math.log(sum(terms) / len(terms))


@pytest.mark.parametrize("seed", range(4))
def test_uniformity_matches_a_brute_force_one(seed) -> None:
    users = np.random.default_rng(seed).normal(size=(9, 5)) * np.random.default_rng(seed + 10).uniform(0.1, 3, (9, 1))
    assert float(uniformity_loss(torch.from_numpy(users))) == pytest.approx(brute_force_uniformity(users), rel=1e-12)


def test_uniformity_bounds_and_a_finite_gradient_where_users_coincide() -> None:
    same = torch.ones(4, 3, dtype=torch.float64, requires_grad=True)
    loss = uniformity_loss(same)
    assert loss.item() == pytest.approx(0.0, abs=1e-12)  # collapsed: the maximum
    loss.backward()
    assert torch.isfinite(same.grad).all()
    opposite = torch.tensor([[1.0, 0.0], [-1.0, 0.0]], dtype=torch.float64)
    assert float(uniformity_loss(opposite)) == pytest.approx(-8.0)  # -4t: the minimum
    assert float(uniformity_loss(opposite[:1])) == 0.0  # a batch of one has no pair


def test_a_user_vector_of_length_zero_takes_no_part_and_gets_no_gradient() -> None:
    """A spiking user whose newest position is silent is its readout's bias, 0 at the start: it has no
    direction, and scaled to unit length its gradient would be 1 / eps (5-9 x 10^10 the distillation loss's on Beauty's warm ssr)."""
    directed = np.random.default_rng(3).normal(size=(6, 4))
    users = torch.tensor(np.insert(directed, [1, 4], 0.0, axis=0), requires_grad=True)  # rows 1 and 5 are zero
    loss = uniformity_loss(users)
    assert loss.item() == pytest.approx(brute_force_uniformity(directed), rel=1e-12)
    loss.backward()
    assert torch.isfinite(users.grad).all() and users.grad.abs().max() < 10
    assert not users.grad[[1, 5]].any()
    assert float(uniformity_loss(torch.zeros(3, 4))) == 0.0  # no direction at all: nothing to spread
    assert float(uniformity_loss(torch.zeros(0, 4))) == 0.0  # no user at all


def _small(name: str, **extra):
    """`name` with the SMALL options it has, and `extra`, seed 0."""
    torch.manual_seed(0)
    fields = {f.name for f in dataclasses.fields(MODELS[name].Config)}
    return build_model(name, ITEMS, LENGTH, {**{k: v for k, v in SMALL.items() if k in fields}, **extra})


def _inputs(model, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
    seq = torch.randint(1, ITEMS + 1, (BATCH, LENGTH), generator=generator)
    seq[0, :4] = 0
    if not model.uses_time:
        return (seq,)
    return seq, (1_000_000_000 + torch.randint(60, 86_400, seq.shape, generator=generator).cumsum(1)) * (seq > 0)


TRAINABLE = ["fmlp", "ssr", "ssr-hybrid", "sfmlp", "gru4rec", "sgru4rec", "caser", "scaser", "srgnn", "srsgnn",
             "sasrec", "sfsrec", "tim4rec"]


@pytest.mark.parametrize("name", TRAINABLE)
def test_scores_are_the_users_dot_the_item_table(name) -> None:
    """scores_and_users' scores are score_all's, bit for bit, and the dot products of its user vectors
    with the table the model scores against (its item currents, or its items' spike rates)."""
    model = _small(name).train()
    inputs = _inputs(model, torch.Generator().manual_seed(1))
    torch.manual_seed(2)
    scores, users = model.scores_and_users(*inputs)
    torch.manual_seed(2)  # the same dropout masks
    assert torch.equal(scores, model.score_all(*inputs))
    assert users.shape == (BATCH, SMALL["hidden"])
    table = model.item_spikes().mean(0) if model.scores_against_spikes() else model.item_embeddings()
    torch.testing.assert_close(scores, users @ table.T, rtol=1e-5, atol=1e-5)


def test_quantised_ssr_gives_the_spike_counts_its_readout_scores() -> None:
    model = _small("ssr", quantise_weights=True).eval()
    seq = _inputs(model, torch.Generator().manual_seed(1))[0]
    with torch.no_grad():
        scores, counts = model.scores_and_users(seq)
        assert torch.equal(scores, model.score_all(seq))
    steps = SMALL["time_steps"]
    assert counts.shape == (BATCH, SMALL["hidden"]) and torch.equal(counts, counts.round())
    assert float(counts.min()) >= 0 and float(counts.max()) <= steps


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("uniformity") / "data.h5"
    prepare(PrepareConfig(dataset="synthetic", max_len=8, min_count=3, seed=5,
                          synthetic=SyntheticConfig(users=200, items=40)), None, path)
    return path


def _test_users(run_dir, data) -> torch.Tensor:
    model, _ = load_checkpoint(run_dir / "model.pt")
    with torch.no_grad():
        return model.scores_and_users(torch.from_numpy(read_dataset(data).inputs_and_targets("test")[0]))[1]


def test_the_regulariser_spreads_the_trained_user_vectors(data, tmp_path) -> None:
    """fmlp trained alone and with a heavy uniformity weight, same seed: the regularised run's test
    user vectors are more uniform (brute-force measure) and the run records the weight."""
    config = TrainConfig(epochs=3, batch_size=64, lr=5e-3, threads=1, seed=3, patience=5)
    small = {"hidden": 8, "blocks": 1}
    train("fmlp", data, tmp_path / "alone", config, small, progress=False)
    train("fmlp", data, tmp_path / "spread", dataclasses.replace(config, uniformity_weight=1.0), small, progress=False)
    alone, spread = (brute_force_uniformity(_test_users(tmp_path / run, data).double().numpy())
                     for run in ("alone", "spread"))
    assert spread < alone - 0.5, (alone, spread)
    assert load_checkpoint(tmp_path / "spread" / "model.pt")[1]["train_config"]["uniformity_weight"] == 1.0


def test_the_regulariser_with_a_teacher_trains_a_spiking_student(data, tmp_path) -> None:
    config = TrainConfig(epochs=1, batch_size=64, lr=5e-3, threads=1, seed=3)
    train("fmlp", data, tmp_path / "teacher", config, {"hidden": 8, "blocks": 1}, progress=False)
    code = main(["train", "--model", "ssr", "--data", str(data), "--teacher", str(tmp_path / "teacher" / "model.pt"),
                 "--uniformity-weight", "0.5", "--epochs", "1", "--threads", "1", "--model-config", "hidden=8",
                 "--quiet", "--out", str(tmp_path / "student")])
    assert code == 0
    metrics = load_checkpoint(tmp_path / "student" / "model.pt")[1]
    assert metrics["train_config"]["uniformity_weight"] == 0.5 and metrics["train_config"]["teacher"]


def test_a_negative_uniformity_weight_is_a_one_line_error(data, tmp_path, capsys) -> None:
    out = tmp_path / "run"
    code = main(["train", "--model", "fmlp", "--data", str(data), "--uniformity-weight", "-1", "--quiet",
                 "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "uniformity_weight" in err[0]
    assert not out.exists()
