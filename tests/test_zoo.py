"""The benchmark zoo's models: shapes, gradient flow, layer declarations, determinism."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from references import numpy_lif

from ssr.models.base import MODELS, build_model
from ssr.spiking.surrogate import heaviside, smooth_function

ITEMS, LENGTH, BATCH = 25, 9, 6
ZOO = {  # name -> small config
    "gru4rec": {"hidden": 16},
    "sgru4rec": {"hidden": 16, "time_steps": 3},
    "sasrec": {"hidden": 16, "blocks": 1, "heads": 2},
    "sfsrec": {"hidden": 16, "blocks": 1, "heads": 2, "time_steps": 3},
    "caser": {"hidden": 16, "window": 4},
    "scaser": {"hidden": 16, "window": 4, "time_steps": 3},
    "sfmlp": {"hidden": 16, "blocks": 1, "time_steps": 3},
    "srgnn": {"hidden": 16},
    "srsgnn": {"hidden": 16, "time_steps": 3},
    "tim4rec": {"hidden": 16, "head_dim": 8, "state": 8},
}


def batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    seq = torch.randint(1, ITEMS + 1, (BATCH, LENGTH), generator=generator)
    seq[0, :4] = 0  # left padding
    seq[1, :-1] = 0  # a single item
    return seq, torch.randint(1, ITEMS + 1, (BATCH,), generator=generator)


def inputs_for(model, seq: torch.Tensor, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """What the model reads for `seq`: the ids, plus event times (seconds) for time-aware models."""
    if not model.uses_time:
        return (seq,)
    generator = torch.Generator().manual_seed(seed)
    gaps = torch.randint(60, 86_400 * 30, seq.shape, generator=generator)
    return seq, (1_000_000_000 + gaps.cumsum(1)) * (seq > 0)


# the defaults are recurrence once and scoring against spikes (issue 23); the alternatives, one at a time
PER_STEP = [("sgru4rec", {"recurrence": "per_step"}), ("srsgnn", {"recurrence": "per_step"})]
FLOAT_SCORING = [(name, {"scoring": "float"}) for name in ("sgru4rec", "scaser", "srsgnn")]


@pytest.mark.parametrize("name, extra", [(name, {}) for name in ZOO] + PER_STEP + FLOAT_SCORING)
def test_shapes_and_gradient_flow(name, extra):
    torch.manual_seed(0)
    model = build_model(name, ITEMS, LENGTH, {**ZOO[name], **extra}).train()
    seq, target = batch()
    inputs = inputs_for(model, seq)
    assert model(*inputs).shape == (BATCH, ZOO[name]["hidden"])
    assert model.score_all(*inputs).shape == (BATCH, ITEMS + 1)
    loss = model.loss(*inputs, target)
    assert loss.ndim == 0 and math.isfinite(loss.item())
    loss.backward()
    silent = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not silent, f"no gradient reaches {silent}"


@pytest.mark.parametrize("name", ZOO)
def test_layer_declarations_name_real_layers_and_spike_layers_get_spikes(name):
    model = build_model(name, ITEMS, LENGTH, ZOO[name]).eval()
    kinds = model.layer_kinds()
    modules = dict(model.named_modules())
    assert set(kinds) - {"score"} <= set(modules), set(kinds) - set(modules)
    assert set(kinds.values()) <= {"float", "spike"}
    spike_layers = [layer for layer, kind in kinds.items() if kind == "spike"]
    assert bool(spike_layers) == (model.kind == "snn")
    spike_layers = [layer for layer in spike_layers if layer != "score"]  # no module: the spike-table test's
    seen = {}
    hooks = [modules[layer].register_forward_pre_hook(
        lambda module, args, layer=layer: seen.__setitem__(layer, args)) for layer in spike_layers]
    with torch.no_grad():
        model.score_all(*inputs_for(model, batch()[0]))
    for hook in hooks:
        hook.remove()
    for layer in spike_layers:  # every tensor input of a spike-driven layer is 0/1
        tensors = [a for a in seen[layer] if isinstance(a, torch.Tensor) and a.is_floating_point()]
        assert tensors and all(((t == 0) | (t == 1)).all() for t in tensors), layer


@pytest.mark.parametrize("name", ZOO)
def test_training_step_is_deterministic(name):
    losses = []
    for _ in range(2):
        torch.manual_seed(3)
        model = build_model(name, ITEMS, LENGTH, ZOO[name]).train()
        optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
        seq, target = batch(1)
        for _ in range(2):
            optimiser.zero_grad()
            loss = model.loss(*inputs_for(model, seq), target)
            loss.backward()
            optimiser.step()
        losses.append(loss.item())
    assert losses[0] == losses[1]


def test_session_graph_matches_a_hand_built_one():
    """Sequence (padding, 5, 3, 5, 7): nodes 5, 3, 7; edges 5->3, 3->5, 5->7; out-degree of 5 is 2."""
    from ssr.models.srgnn.srgnn import session_graphs

    nodes, alias, adjacency, mask = session_graphs(torch.tensor([[0, 5, 3, 5, 7]]))
    assert nodes.tolist() == [[5, 3, 7, 0, 0]] and alias.tolist() == [[3, 0, 1, 0, 2]]
    assert mask.tolist() == [[False, True, True, True, True]]
    out = adjacency[0, :, 5:]
    assert out[0, 1] == 0.5 and out[0, 2] == 0.5 and out[1, 0] == 1.0 and out.sum() == 2.0
    into = adjacency[0, :, :5]
    assert into[0, 1] == 1.0 and into[1, 0] == 1.0 and into[2, 0] == 1.0 and into.sum() == 3.0


def test_spiking_models_name_their_ann_original():
    for name, cls in MODELS.items():
        if cls.kind == "snn":
            assert cls.ann_original in MODELS and MODELS[cls.ann_original].kind == "ann", name


def test_heaviside_spikes_with_the_surrogate_derivative():
    x = torch.linspace(-1, 1, 21, requires_grad=True)
    spikes = heaviside(x, "atan", 2.0)
    assert torch.equal(spikes, (x >= 0).float())
    spikes.sum().backward()
    reference = x.detach().clone().requires_grad_(True)
    smooth_function("atan", reference, 2.0).sum().backward()  # the smooth function's own derivative
    assert torch.allclose(x.grad, reference.grad, atol=1e-6)
    with pytest.raises(ValueError, match="unknown surrogate"):
        heaviside(x, "cosine")


def test_sasrec_attention_equals_torch_multihead_attention():
    """SASRec's attention (on nn.MultiheadAttention's parameters, mask broadcast over heads, newest
    query only in the last block) against torch's own nn.MultiheadAttention with RecBole's additive
    -10000 mask repeated per head; the whole model against a forward through torch's module."""
    from ssr.models.sasrec.sasrec import attention_blocked

    torch.manual_seed(0)
    model = build_model("sasrec", 40, 12, {"heads": 2}).eval()
    item_seq = torch.randint(1, 41, (6, 12))
    item_seq[:3, :5] = 0  # left padding
    blocked = attention_blocked(item_seq, model.causal)
    x = torch.randn(6, 12, 64)
    reference_mask = (blocked.float() * -10000.0).repeat_interleave(2, dim=0)
    with torch.no_grad():
        for block in model.blocks:
            expected, _ = block.attention(x, x, x, attn_mask=reference_mask, need_weights=False)
            full = block.attend(x, (blocked * -10000.0)[:, None], last_only=False)
            newest = block.attend(x, (blocked * -10000.0)[:, None], last_only=True)
            torch.testing.assert_close(full, expected, rtol=1e-5, atol=1e-6)
            torch.testing.assert_close(newest[:, 0], expected[:, -1], rtol=1e-5, atol=1e-6)
        h = model.dropout(model.input_norm(model.item_embedding(item_seq) + model.position_embedding(torch.arange(12))))
        for block in model.blocks:
            attended, _ = block.attention(h, h, h, attn_mask=reference_mask, need_weights=False)
            h = block.attention_norm(h + attended)
            h = block.ffn_norm(h + block.ffn(h))
        torch.testing.assert_close(model(item_seq), h[:, -1], rtol=1e-5, atol=1e-5)


def test_ssd_quadratic_form_equals_the_recurrence():
    """ssd() against the state-space recurrence run step by step in numpy:
    h_n = exp(delta_n a) h_(n-1) + delta_n x_n b_n^T,  y_n = h_n c_n."""
    import numpy as np

    from ssr.models.tim4rec.tim4rec import ssd

    rng = np.random.default_rng(0)
    batch_size, length, heads, head_dim, state = 2, 7, 3, 4, 5
    x = rng.normal(size=(batch_size, length, heads, head_dim))
    delta = rng.uniform(0.01, 0.5, size=(batch_size, length, heads))
    a = -rng.uniform(1, 16, size=heads)
    b, c = rng.normal(size=(batch_size, length, state)), rng.normal(size=(batch_size, length, state))
    expected = np.zeros_like(x)
    for i in range(batch_size):
        for h in range(heads):
            hidden = np.zeros((head_dim, state))
            for n in range(length):
                hidden = np.exp(delta[i, n, h] * a[h]) * hidden + delta[i, n, h] * np.outer(x[i, n, h], b[i, n])
                expected[i, n, h] = hidden @ c[i, n]
    got = ssd(*(torch.from_numpy(v) for v in (x, delta, a, b, c)))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10, atol=1e-12)


def test_tim4rec_ignores_left_padding_and_the_time_unit():
    """The newest output of a sequence is the same whatever padding precedes it (padding is outside
    the convolutions and the state space sum), and the same whether times are seconds or hours
    (the intervals are layer-normalised along the sequence)."""
    torch.manual_seed(0)
    config = {"hidden": 16, "head_dim": 8, "state": 8, "time_aware": False, "dropout": 0.0}
    short, long = build_model("tim4rec", ITEMS, 5, config).eval(), build_model("tim4rec", ITEMS, 9, config).eval()
    state = {k: v for k, v in long.state_dict().items() if not k.startswith("time_norm")}
    short.load_state_dict(state, strict=False)
    items = torch.tensor([[3, 7, 7, 12]])
    times = torch.tensor([[100, 200, 400, 900]])
    pad = lambda x, n: torch.cat([torch.zeros(1, n - 4, dtype=x.dtype), x], 1)  # noqa: E731
    with torch.no_grad():
        torch.testing.assert_close(short(pad(items, 5), pad(times, 5)), long(pad(items, 9), pad(times, 9)))
        timed = build_model("tim4rec", ITEMS, 9, {**config, "time_aware": True}).eval()
        for layer in timed.layers:  # trained-size steps and time scales (at initialisation time barely acts)
            layer.mixer.in_proj.weight.mul_(50)
            layer.mixer.time_scale[-1].bias.fill_(1.0)
        seq, seconds = inputs_for(timed, batch()[0])
        hours = seconds.double() / 3600
        torch.testing.assert_close(timed(seq, seconds), timed(seq, hours), rtol=1e-4, atol=1e-5)
        shuffled = seconds.clone()
        shuffled[:, 1:] = seconds[:, 1:] + (seconds[:, 1:] > 0) * torch.arange(1, LENGTH) ** 3 * 86_400
        assert (timed(seq, seconds) - timed(seq, shuffled)).abs().max() > 1e-3  # the intervals matter (> 100x the unit check)


def test_tim4rec_newest_position_only_equals_the_full_computation():
    """The last layer computes the newest position only; every layer on every position gives the same."""
    from ssr.models.tim4rec.tim4rec import ssd

    torch.manual_seed(0)
    model = build_model("tim4rec", ITEMS, LENGTH, ZOO["tim4rec"]).eval()
    seq, times = inputs_for(model, batch()[0])
    with torch.no_grad():
        x, time = model.input_norm(model.item_embedding(seq)), model.time_features(seq, times)
        for layer in model.layers:
            x, time = layer(x, time, seq > 0, last_only=False)
        torch.testing.assert_close(model(seq, times), x[:, -1])
        args = [torch.randn(3, 6, 2, 4), torch.rand(3, 6, 2), -torch.rand(2) * 5, torch.randn(3, 6, 5), torch.randn(3, 6, 5)]
        torch.testing.assert_close(ssd(*args, last_only=True)[:, 0], ssd(*args)[:, -1])


def numpy_sgru4rec(model, seq: np.ndarray, once: bool) -> np.ndarray:
    """SGRU4Rec's user vectors written from its docstring in numpy (eval mode, float64 GRU): the
    numpy LIF on the item currents, then per position z = H(W_z X + U_z h + b_z), r likewise,
    h = (1 - z) h + z tanh(W_h X + U_h (r h) + b_h); per time step, or once on the time-mean of W X."""
    p = {name: value.detach().double().numpy() for name, value in model.state_dict().items()}
    hidden = p["gru.recurrent.weight"].shape[1]
    currents = p["item_embedding.weight"][seq].astype(np.float32)  # (batch, N, hidden)
    spikes = numpy_lif(np.repeat(currents[None], model.config.time_steps, 0)).astype(np.float64)
    drive = spikes @ p["gru.input.weight"].T + p["gru.input.bias"]  # (T, batch, N, 3 hidden)
    if once:
        drive = drive.mean(0, keepdims=True)
    h = np.zeros(drive.shape[:2] + (hidden,))
    for n in range(drive.shape[2]):
        gate_z, gate_r, cand = np.split(drive[:, :, n], 3, axis=-1)
        rec_z, rec_r = np.split(h @ p["gru.recurrent.weight"].T, 2, axis=-1)
        z, r = (gate_z + rec_z >= 0).astype(float), (gate_r + rec_r >= 0).astype(float)
        h = (1 - z) * h + z * np.tanh(cand + (r * h) @ p["gru.candidate.weight"].T)
    return h.mean(0) @ p["dense.weight"].T + p["dense.bias"]


@pytest.mark.parametrize("recurrence", ["per_step", "once"])
def test_sgru4rec_equals_a_numpy_reference_and_once_runs_the_recurrence_once(recurrence):
    from ssr.energy.counter import count_model

    torch.manual_seed(0)
    config = {**ZOO["sgru4rec"], "recurrence": recurrence, "item_init_std": 1.5}
    model = build_model("sgru4rec", ITEMS, LENGTH, config).eval()
    seq = batch()[0]
    with torch.no_grad():
        users = model(seq).double().numpy()
    np.testing.assert_allclose(users, numpy_sgru4rec(model, seq.numpy(), recurrence == "once"), atol=1e-4)
    counts = count_model(model, seq)
    steps = model.config.time_steps
    positions, hidden = BATCH * LENGTH, config["hidden"]
    recurrent_macs = positions * (2 * hidden * hidden + hidden * hidden)  # U_z, U_r and U_h, per run
    runs = 1 if recurrence == "once" else steps
    assert counts["gru.recurrent"].macs + counts["gru.candidate"].macs == runs * recurrent_macs
    assert counts["gru.input"].macs == 0 and counts["gru.input"].acs > 0  # the input maps stay spike-driven
    with pytest.raises(ValueError, match="SGRU4RecConfig.recurrence must be"):
        build_model("sgru4rec", ITEMS, LENGTH, {**config, "recurrence": "twice"})


def test_srsgnn_once_is_one_gated_step_on_the_time_mean_and_costs_its_float_maps_once():
    from ssr.energy.counter import count_model
    from ssr.models.srgnn.srgnn import GatedGraphStep, session_graphs

    torch.manual_seed(0)
    step, steps = GatedGraphStep(8), 3
    _, _, adjacency, _ = session_graphs(batch()[0])
    spikes = (torch.rand(steps * BATCH, LENGTH, 8) < 0.3).float()
    mean = spikes.view(steps, BATCH, LENGTH, 8).mean(0)
    with torch.no_grad():  # the spike-driven maps averaged = the same step on the mean (they are linear)
        torch.testing.assert_close(step(adjacency, spikes, time_mean_of=steps), step(adjacency, mean))
    seq = batch()[0]
    macs = {}
    for recurrence in ("per_step", "once"):
        torch.manual_seed(0)
        model = build_model("srsgnn", ITEMS, LENGTH, {**ZOO["srsgnn"], "recurrence": recurrence}).eval()
        counts = count_model(model, seq)
        macs[recurrence] = counts["gnn.input_gates"].macs
        assert counts["gnn.edge_in"].macs == 0 and counts["gnn.hidden_gates"].macs == 0  # spike-driven in both
    assert macs["per_step"] == ZOO["srsgnn"]["time_steps"] * macs["once"] > 0
    one_step = {**ZOO["srsgnn"], "time_steps": 1}
    outputs = []
    for recurrence in ("per_step", "once"):  # with T = 1 the time-mean is the step itself
        torch.manual_seed(0)
        model = build_model("srsgnn", ITEMS, LENGTH, {**one_step, "recurrence": recurrence}).eval()
        with torch.no_grad():
            outputs.append(model(seq))
    torch.testing.assert_close(outputs[0], outputs[1])


@pytest.mark.parametrize("name, extra", [(name, {"scoring": "spikes"}) for name in ("sgru4rec", "scaser", "srsgnn")])
def test_scoring_against_spikes_equals_a_numpy_lif_table_and_costs_one_accumulate_per_spike(name, extra):
    """scoring="spikes": score(i) = user . mean_t LIF(e_i)[t], with the item table encoded by a numpy
    LIF; inference (binary view) and training (rates) give the same scores; the energy counter sees
    the scoring as accumulates, one per (sequence, spike of the table), and no multiply."""
    from ssr.energy.counter import count_model
    from ssr.models.layers import spike_scores

    torch.manual_seed(0)
    config = {**ZOO[name], **extra}
    model = build_model(name, ITEMS, LENGTH, config).eval()
    with torch.no_grad():  # biases off zero: float user vectors even where a tiny model's path is silent
        for module in model.modules():
            if isinstance(module, torch.nn.Linear) and module.bias is not None:
                module.bias.normal_()
    seq = batch()[0]
    steps = config["time_steps"]
    table = model.item_embedding.weight.detach().double().numpy()
    spikes = numpy_lif(np.broadcast_to(table, (steps, *table.shape)))  # (T, items + 1, hidden)
    assert 0 < spikes.mean() < 1 and not spikes[:, 0].any()  # some items fire; padding never
    with torch.no_grad():
        users = model(seq)
        scores = model.score_all(seq).double().numpy()
        trained_form = spike_scores(users, model.item_spikes(), binary=False).double().numpy()
    assert not ((users == 0) | (users == 1)).all()
    np.testing.assert_allclose(scores, users.double().numpy() @ spikes.mean(0).T, atol=1e-5)
    np.testing.assert_allclose(trained_form, scores, atol=1e-5)
    counts = count_model(model, seq)
    assert counts["score"].macs == 0 and counts["score"].acs == BATCH * spikes.sum()
    assert model.layer_kinds()["score"] == "spike" and model.item_table() == (table.size, 32 + steps)
    plain = build_model(name, ITEMS, LENGTH, {**config, "scoring": "float"}).eval()
    assert plain.layer_kinds()["score"] == "float" and plain.item_table() == (table.size, 32)
    assert count_model(plain, seq)["score"].macs == BATCH * table.size
    with pytest.raises(ValueError, match=r"\.scoring must be"):
        build_model(name, ITEMS, LENGTH, {**config, "scoring": "rates"})


@pytest.mark.parametrize("name, former", [("sgru4rec", {"recurrence": "per_step", "scoring": "float"}),
                                          ("srsgnn", {"recurrence": "per_step", "scoring": "float"}),
                                          ("scaser", {"scoring": "float"})])
def test_a_checkpoint_from_before_the_new_defaults_loads_as_it_was_trained(tmp_path, name, former):
    """Issue 23 made recurrence=once and scoring=spikes the defaults. A checkpoint written before those
    fields existed has no entry for them: it must load with the behaviour it was trained with (the
    former defaults), scoring exactly as a model built with them, never with today's defaults."""
    from ssr.checkpoint import load_checkpoint, save_checkpoint

    default = build_model(name, ITEMS, LENGTH, ZOO[name])
    assert all(getattr(default.config, key) != value for key, value in former.items())  # the defaults moved
    torch.manual_seed(0)
    old = build_model(name, ITEMS, LENGTH, {**ZOO[name], **former}).eval()
    saved_config = {k: v for k, v in dataclasses.asdict(old.config).items() if k not in former}
    save_checkpoint(tmp_path / "model.pt", {
        "format": "ssr-checkpoint", "schema_version": 1, "model": name, "kind": "snn", "config": saved_config,
        "num_items": ITEMS, "max_len": LENGTH, "dataset": {}, "train_config": {}, "ssr_version": "0",
        "state_dict": old.state_dict()})
    loaded, payload = load_checkpoint(tmp_path / "model.pt")
    assert {key: getattr(loaded.config, key) for key in former} == former
    assert {key: payload["config"][key] for key in former} == former  # what export writes into its manifest
    seq = batch()[0]
    with torch.no_grad():
        torch.testing.assert_close(loaded.eval().score_all(seq), old.score_all(seq), rtol=0, atol=0)
