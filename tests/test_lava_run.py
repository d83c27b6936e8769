"""`ssr run-lava`: an exported SSR graph on Lava's Loihi 2 CPU simulator (tiny model, few sequences).

The reference is the PyTorch model (independent of Lava); fixed point is checked against the
float run and its weight format against Loihi's published one (8-bit mixed-sign mantissas)."""

from __future__ import annotations

import json

import nir
import numpy as np
import pytest
from scipy import sparse

from builders import busy, prepare_synthetic
from ssr.artefacts import LAVA_RUN
from ssr.checkpoint import checkpoint_dict, save_checkpoint
from ssr.cli import main
from ssr.convert.export import export, manifest_path
from ssr.data.dataset import read_dataset
from ssr.targets.loihi_sim.compiler import loihi_weights, plan_graph, repeat_on_diagonal, synapse_blocks, synapse_matrix
from ssr.targets.loihi_sim.run import run_lava

LAVA_KEYS = ("HR@10", "NDCG@10", "MRR@10", "top10_exact_agreement", "mean_top10_overlap", "sequences",
             "sequences_per_second", "precision", "layers")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A prepared synthetic dataset and an exported busy SSR model sized for it."""
    root = tmp_path_factory.mktemp("lava")
    prepare_synthetic(root / "data.h5", users=80, items=25)
    dataset = read_dataset(root / "data.h5")
    model = busy("ssr", items=dataset.num_items, length=dataset.max_len)
    save_checkpoint(root / "run" / "model.pt", checkpoint_dict(model, {"path": str(root / "data.h5")}, {}))
    return root / "data.h5", export(root / "run" / "model.pt")


def test_float_run_reproduces_pytorch_with_state_reset_between_sequences(exported, tmp_path):
    """Sequences stream back to back through one compiled network; every sequence's top-10 list
    equals the PyTorch model's, so no state leaks from one sequence into the next."""
    data, graph = exported
    out = tmp_path / "lava.json"
    assert main(["run-lava", str(graph), "--data", str(data), "--limit", "12", "--chunk", "5", "--quiet",
                 "--out", str(out)]) == 0
    written = json.loads(out.read_text())
    assert all(key in written for key in LAVA_KEYS)  # the file's keys are a contract
    result = LAVA_RUN.read(out)
    assert result.sequences == 12 and result.precision == "float"
    assert result.top10_exact_agreement == 1.0 and result.mean_top10_overlap == 1.0
    assert all(row["lava_top10"] == row["pytorch_top10"] for row in result.per_sequence)
    assert len({tuple(row["lava_top10"]) for row in result.per_sequence}) > 1  # sequences really differ
    lif_rows = [row for row in result.layers if row["kind"] == "LIF"]
    assert len(lif_rows) == 7 and all(row["spikes"] == row["spikes_pytorch"] > 0 for row in lif_rows)
    assert result.hr_at_10 == result.pytorch["HR@10"]
    synapse_rows = [row for row in result.layers if "synaptic_ops" in row]
    assert all(row["synaptic_ops"] > 0 for row in synapse_rows)
    assert {row["kind"] for row in synapse_rows} == {"Sparse", "DelaySparse", "IntegratingSparse"}


def test_fixed_point_stays_close_to_float(exported):
    data, graph = exported
    fixed = run_lava(graph, data, limit=12, precision="fixed", progress=False)
    assert fixed.precision == "fixed" and fixed.sequences == 12
    for row in fixed.layers:
        if row["kind"] == "LIF":  # 8-bit weights move a few spikes, not many
            assert abs(row["spikes"] - row["spikes_pytorch"]) <= 0.2 * row["spikes_pytorch"], row
    lava_total = sum(row["spikes"] for row in fixed.layers if row["kind"] == "LIF")
    torch_total = sum(row["spikes_pytorch"] for row in fixed.layers if row["kind"] == "LIF")
    assert abs(lava_total - torch_total) <= 0.05 * torch_total
    assert fixed.mean_top10_overlap >= 0.5
    assert all(q["vth_mant"] >= 1 and q["vth"] == q["vth_mant"] for q in fixed.quantisation["lifs"].values())


def test_fixed_point_run_of_a_quantised_model_is_exactly_pytorch(exported, tmp_path):
    """A model trained with quantise_weights (weights and biases on Loihi's grids, SSRConfig) runs
    in fixed_pt as PyTorch computes it: the same top-10 lists and the same spikes in every layer."""
    data, _ = exported
    dataset = read_dataset(data)
    model = busy("ssr", items=dataset.num_items, length=dataset.max_len, config={"quantise_weights": True})
    save_checkpoint(tmp_path / "run" / "model.pt", checkpoint_dict(model, {"path": str(data)}, {}))
    fixed = run_lava(export(tmp_path / "run" / "model.pt"), data, limit=12, precision="fixed", progress=False)
    assert fixed.top10_exact_agreement == 1.0 and fixed.spike_counts_identical
    assert all(row["spikes"] == row["spikes_pytorch"] > 0 for row in fixed.layers if row["kind"] == "LIF")
    assert fixed.hr_at_10 == fixed.pytorch["HR@10"]
    quantisation = fixed.quantisation
    assert all(q["max_weight_error"] == 0.0 for q in quantisation["synapses"].values())
    assert all(q["max_bias_error"] == 0.0 for q in quantisation["lifs"].values())


def test_loihi_weight_format():
    rng = np.random.default_rng(0)
    weights = sparse.random(30, 40, density=0.3, random_state=1, data_rvs=lambda n: rng.normal(0, 0.2, n)).tocsr()
    mantissa, exponent = loihi_weights(weights, 1000.0)
    values = mantissa.toarray()
    assert values.min() >= -256 and values.max() <= 254 and np.all(values % 2 == 0)
    assert np.abs(values).max() > 127  # the exponent is the smallest that fits: the top bit is used
    assert np.abs(values * 2.0 ** exponent - weights.toarray() * 1000.0).max() <= 2.0 ** exponent


def test_lags_and_delays_align_every_path():
    """The residual path (one synapse) into ffn_out_lif gets one extra step of delay so that it
    meets the two-synapse path through ffn_in_lif at the same model time step."""
    model = busy("ssr")
    nodes = model.deployment.implementation().export(model)
    graph = nir.NIRGraph(nodes=nodes.nodes, edges=nodes.edges)
    plan = plan_graph(graph, time_steps=4)
    lags = {name: lif["lag"] for name, lif in plan.lifs.items()}
    assert lags["stimulus_lif"] == 1 and lags["block0_filter_lif"] == 2 and lags["block0_ffn_out_lif"] == 4
    delays = {s.name: s.delay for s in plan.synapses}
    assert delays["block0_ffn_residual"] == 1 and delays["block0_ffn_out"] == 0 and delays["parallel"] == 0
    assert plan.integrators["serial_integrator"]["input_lag"] == 0


@pytest.mark.parametrize("name", ["ssr-hybrid", "sgru4rec"])
def test_host_in_the_loop_models_run_their_sub_graphs_on_lava(tmp_path, name):
    """Models whose sub-graphs have host layers between them: each sub-graph call runs on Lava and the
    recommendations and spike counts equal PyTorch's, with each sub-graph's network kept up across
    calls: 7 sequences in chunks of 3 streamed one after the other (--batch 1: calls of 3, 3 and 1
    windows), and in chunks of 4 two copies side by side (--batch 2: a call of 2 copies x 2 windows,
    then 3 windows of one copy)."""
    prepare_synthetic(tmp_path / "data.h5", users=60, items=20)
    dataset = read_dataset(tmp_path / "data.h5")
    model = busy(name, items=dataset.num_items, length=dataset.max_len)
    save_checkpoint(tmp_path / "run" / "model.pt", checkpoint_dict(model, {"path": str(tmp_path / "data.h5")}, {}))
    graph = export(tmp_path / "run" / "model.pt")
    result = run_lava(graph, tmp_path / "data.h5", limit=7, chunk=3, batch=1, progress=False)
    assert result.sequences == 7 and result.top10_exact_agreement == 1.0 and result.spike_counts_identical
    side_by_side = run_lava(graph, tmp_path / "data.h5", limit=7, chunk=4, batch=2, progress=False)
    assert side_by_side.top10_exact_agreement == 1.0 and side_by_side.spike_counts_identical
    assert side_by_side.per_sequence == result.per_sequence and side_by_side.layers == result.layers
    assert all(row["spikes"] > 0 for row in result.layers if row["kind"] == "LIF")
    assert any(row.get("synaptic_ops", 0) > 0 for row in result.layers) == (name == "ssr-hybrid")
    with pytest.raises(ValueError, match="floating_pt only"):
        run_lava(graph, tmp_path / "data.h5", limit=6, precision="fixed", progress=False)


def test_bad_inputs_are_named(exported, tmp_path, capsys):
    data, graph = exported
    missing = tmp_path / "other.nir"
    missing.write_bytes(graph.read_bytes())
    assert main(["run-lava", str(missing), "--data", str(data), "--out", str(tmp_path / "x.json")]) == 1
    assert "manifest" in capsys.readouterr().err and not (tmp_path / "x.json").exists()
    unsupported = nir.NIRGraph(nodes={"input": nir.Input(np.array([4])), "cuba": nir.CubaLIF(
        tau_syn=np.ones(4), tau_mem=np.ones(4), r=np.ones(4), v_leak=np.zeros(4), v_threshold=np.ones(4)),
        "output": nir.Output(np.array([4]))}, edges=[("input", "cuba"), ("cuba", "output")])
    with pytest.raises(ValueError, match=r"cannot compile NIR node\(s\) cuba \(CubaLIF\)"):
        plan_graph(unsupported, time_steps=4)
    assert main(["run-lava", str(graph), "--data", str(data), "--limit", "0", "--out", str(tmp_path / "x.json")]) == 1
    assert "--limit must be at least 1" in capsys.readouterr().err
    manifest = json.loads(manifest_path(graph).read_text())
    assert manifest["model"] == "ssr"


@pytest.mark.parametrize("quantised", [False, True], ids=["float", "fixed"])
def test_batched_runs_equal_one_sequence_at_a_time(exported, tmp_path, quantised):
    """Sequences side by side (block-diagonal copies of the network, the last window padded with
    silent copies) give exactly the one-at-a-time run: every score, every layer's spikes, every
    synapse's operations; for a quantise_weights model in fixed point as well."""
    data, graph = exported
    if quantised:
        dataset = read_dataset(data)
        model = busy("ssr", items=dataset.num_items, length=dataset.max_len, config={"quantise_weights": True})
        save_checkpoint(tmp_path / "run" / "model.pt", checkpoint_dict(model, {"path": str(data)}, {}))
        graph = export(tmp_path / "run" / "model.pt")
    precision = "fixed" if quantised else "float"
    single = run_lava(graph, data, limit=11, precision=precision, progress=False, batch=1)
    batched = run_lava(graph, data, limit=11, precision=precision, progress=False, batch=4, chunk=8)
    assert (single.batch, batched.batch) == (1, 4)
    assert batched.per_sequence == single.per_sequence and batched.layers == single.layers
    assert batched.hr_at_10 == single.hr_at_10 and batched.spike_counts_identical
    assert batched.top10_exact_agreement == 1.0 and batched.sequences == 11
    assert batched.quantisation == single.quantisation


@pytest.mark.parametrize("tag", ["floating_pt", "fixed_pt"])
def test_our_synapse_models_compute_what_lavas_own_compute(tag):
    """run-lava swaps lava's Sparse and DelaySparse process models for faster ones
    (`simulator_config`); lava's own models are the reference. Random spikes through a Sparse and a
    DelaySparse (delays 1 and 2), and the same values as graded 24-bit messages through a Sparse,
    both also through a Sparse with repeated blocks (`blocks`: our models' dense product), into LIFs (a spike synapse reads any non-zero value as a spike, as lava's do): the same voltages
    and spikes at every step (fixed point, with weights past 8 bits that both clip and a weight
    exponent: identical integers; floating point: the same sums in another order, to 1e-12), and the
    run did use our models."""
    from ssr.targets.loihi_sim.lava_compat import import_lava
    from ssr.targets.loihi_sim.run import simulator_config

    import_lava()
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.source import RingBuffer
    from lava.proc.lif.process import LIF
    from lava.proc.monitor.process import Monitor
    from lava.proc.sparse.process import DelaySparse, Sparse

    from ssr.targets.loihi_sim.lava_processes.models import PROCESS_MODELS

    rng = np.random.default_rng(0)
    fixed = tag == "fixed_pt"
    steps, sources, targets = 12, 40, 30
    values = np.round(rng.normal(0, 20, (sources, steps))) if fixed else rng.normal(0, 2.0, (sources, steps))
    values *= rng.random((sources, steps)) < 0.3  # mostly silent
    weights = sparse.random(targets, sources, density=0.5, random_state=1, format="csr")
    weights.data = np.round(weights.data * 300 - 150) if fixed else weights.data * 0.8 - 0.3  # fixed: some clip
    delays = weights.copy()
    delays.data = rng.integers(1, 3, delays.nnz).astype(float)
    # 2 copies of a pointwise map over 5 positions (3 x 4 block, one zero): the process models' dense product
    block = np.round(rng.random((3, 4)) * 600 - 300) if fixed else rng.normal(0, 0.6, (3, 4))
    block[1, 2] = 0
    repeated = repeat_on_diagonal(sparse.kron(block, sparse.identity(5)), 2)
    extra = {"weight_exp": 1} if fixed else {}
    lif_params = {"du": 4095, "dv": 2048, "vth": 200} if fixed else {"du": 1.0, "dv": 0.5, "vth": 0.9}

    def run(config):
        source = RingBuffer(data=values)
        synapses = [Sparse(weights=weights, **extra),
                    DelaySparse(weights=weights, delays=delays.astype(np.int64), max_delay=2, **extra),
                    Sparse(weights=weights, num_message_bits=24, **extra),
                    Sparse(weights=repeated, blocks=(1, 3, 4, 5), **extra),
                    Sparse(weights=repeated, num_message_bits=24, blocks=(1, 3, 4, 5), **extra)]
        monitors = []
        for synapse in synapses:
            lif = LIF(shape=(targets,), **lif_params)
            source.s_out.connect(synapse.s_in)
            synapse.a_out.connect(lif.a_in)
            for var in (lif.v, lif.s_out):
                monitor = Monitor()
                monitor.probe(var, steps)
                monitors.append((monitor, lif.name, var.name))
        try:
            source.run(condition=RunSteps(num_steps=steps), run_cfg=config)
            return ([np.asarray(m.get_data()[lif_name][var_name]) for m, lif_name, var_name in monitors],
                    [synapse.model_class for synapse in synapses])
        finally:
            source.stop()

    (ours, our_models), (lavas, lava_models) = run(simulator_config(tag)), run(Loihi2SimCfg(select_tag=tag))
    assert our_models == [PROCESS_MODELS[tag][Sparse], PROCESS_MODELS[tag][DelaySparse]] + [PROCESS_MODELS[tag][Sparse]] * 3
    assert not set(lava_models) & set(our_models)
    assert all(float(np.abs(x).sum()) > 5 for x in lavas[1::2]), "every LIF should fire"
    for got, want in zip(ours, lavas):
        if fixed:
            np.testing.assert_array_equal(got, want)
        else:
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def _block_functions():
    """(block_product, dense_blocks) from the process models' module (lava imported through our compat)."""
    from ssr.targets.loihi_sim.lava_compat import import_lava

    import_lava()
    from ssr.targets.loihi_sim.lava_processes.models import block_product, dense_blocks

    return block_product, dense_blocks


def _nodes_with_blocks():
    rng = np.random.default_rng(4)
    return {"pointwise Conv1d, 2 groups": nir.Conv1d(input_shape=6, weight=rng.normal(size=(4, 3, 1)), stride=1,
                                                     padding=0, dilation=1, groups=2, bias=rng.normal(size=4)),
            "Affine per channel": nir.Affine(weight=rng.normal(size=(3, 4, 5)), bias=rng.normal(size=(3, 4))),
            "Linear": nir.Linear(weight=rng.normal(size=(4, 6)))}


@pytest.mark.parametrize("kind", list(_nodes_with_blocks()))
def test_repeated_blocks_give_the_synapse_matrixs_product(kind):
    """A pointwise Conv1d, an Affine with a weight per channel and a Linear declare their matrix's
    repeated dense block (`synapse_blocks`); batched 3 copies on the diagonal (`repeat_on_diagonal`),
    the process models' dense product equals the sparse matrix's (the primitives' own `matrix`, built
    independently, entry by entry), and a matrix that breaks the structure anywhere is refused."""
    block_product, dense_blocks = _block_functions()
    node = _nodes_with_blocks()[kind]
    if isinstance(node, nir.Conv1d):
        node.input_type = {"input": np.array([6, 7])}
        node.output_type = {"output": np.array([4, 7])}
    blocks = synapse_blocks(node)
    matrix = repeat_on_diagonal(synapse_matrix(node)[0], 3)
    dense = dense_blocks(matrix, blocks)
    assert dense is not None
    x = np.random.default_rng(5).normal(size=matrix.shape[1])
    np.testing.assert_allclose(block_product(dense, x, blocks.inner), matrix @ x, rtol=1e-12, atol=1e-12)
    integers = matrix.copy()
    integers.data = np.round(integers.data * 100)
    spikes = (x > 0).astype(float)
    np.testing.assert_array_equal(block_product(dense_blocks(integers, blocks), spikes, blocks.inner), integers @ spikes)

    other_copy = matrix.copy()
    other_copy.data[-1] += 1.0  # copy 2 differs from copy 0
    off_block = (matrix + sparse.csr_matrix(([1.0], ([0], [matrix.shape[1] // 3 - 1])), shape=matrix.shape)).tocsr()
    for broken in (other_copy, off_block):
        assert dense_blocks(broken, blocks) is None
    assert dense_blocks(matrix, blocks._replace(inner=blocks.inner + 1)) is None


def test_a_mostly_empty_block_keeps_the_sparse_product():
    """A large sparse Linear is one dense block of mostly zeros: multiplying by it would do far more
    work than the sparse product, so the process models keep that."""
    _, dense_blocks = _block_functions()
    weight = sparse.random(200, 300, density=0.02, random_state=0, format="csr").toarray()
    node = nir.Linear(weight=weight)
    assert dense_blocks(synapse_matrix(node)[0], synapse_blocks(node)) is None
    weight[:, :100] = 1.0  # a third filled: the block product pays
    assert dense_blocks(synapse_matrix(nir.Linear(weight=weight))[0], synapse_blocks(node)) is not None


def test_convolutions_with_taps_have_no_repeated_block():
    conv = nir.Conv1d(input_shape=7, weight=np.ones((2, 2, 3)), stride=1, padding=1, dilation=1, groups=1,
                      bias=np.zeros(2))
    assert synapse_blocks(conv) is None
