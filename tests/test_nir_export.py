"""NIR export of SSR: the file read back by `nir.read` and run on the reference executor is the model.

Independent references: torch's own batch norm and conv1d, the hand-built circulant and the numpy
LIF of tests/references.py, and NIR's equations written out in the executor tests.
"""

from __future__ import annotations

import hashlib
import os

import nir
import numpy as np
import pytest
import torch

from references import circulant_filter, numpy_lif
from ssr.artefacts import MANIFEST
from ssr.checkpoint import checkpoint_dict, save_checkpoint
from ssr.cli import export_main, main
from ssr.convert.executor import NIRExecutor
from ssr.convert.primitives import conv1d
from ssr.convert.export import ExportedFiles, export, host_path, manifest_path
from ssr.convert.nir_build import batch_norm_affine, circulant_rows
from ssr.models.fmlp.ssr_deploy import host_input
from ssr.convert.verify import verify
from ssr.models.layers import FeatureBatchNorm, FrequencyFilter

from builders import ITEMS, LENGTH, busy, prepare_synthetic, sequences


@pytest.fixture
def exported(tmp_path):
    model = busy("ssr")
    checkpoint = tmp_path / "run" / "model.pt"
    save_checkpoint(checkpoint, checkpoint_dict(model, {"path": "none"}, {}))
    return model, checkpoint, export(checkpoint)


def test_round_trip_reproduces_every_spike_and_score(exported):
    model, _, graph_path = exported
    files = ExportedFiles(graph_path)  # nir.read with type checking
    assert isinstance(files.graph, nir.NIRGraph)
    report = verify(model, files.graph, files.manifest, files.host_arrays, sequences())
    assert report.passed, report.summary()
    assert len(report.layers) == 1 + 2 * 3  # stimulus + (filter, ffn_in, ffn_out) per block
    for row in report.layers:  # a comparison of silent or saturated layers would prove little
        assert row["spikes_torch"] > 0, row
        assert row["mismatches"] == 0
    assert report.score_max_relative_error <= 1e-12
    assert report.top10_exact_agreement == 1.0


def test_scores_equal_the_models_evaluation_path(exported):
    """The graph's output after T steps equals `score_all` of the float32 model to float32 precision."""
    model, _, graph_path = exported
    files = ExportedFiles(graph_path)
    seq = sequences()
    scores = NIRExecutor(files.graph).run({"input": host_input(files.host_arrays["spike_table"], seq)})["output"][-1][..., 0]
    expected = model.score_all(torch.from_numpy(seq)).detach().numpy()
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())


def test_quantised_model_exports_onto_loihis_grids_and_verifies(tmp_path):
    """A quantise_weights model's graph holds its weights and biases on the fixed-point grids (the
    Lava compiler rounds nothing) and computes the PyTorch model spike for spike, in float64 and in
    float32 (its membrane potentials never come within float32's error of the threshold)."""
    from ssr.targets.loihi_sim.compiler import plan_graph, quantise

    model = busy("ssr", config={"quantise_weights": True})
    files, _ = export_and_verify(model, tmp_path)
    report = verify(model, files.graph, files.manifest, files.host_arrays, sequences(), dtype="float32")
    assert report.spike_mismatches == 0 and report.top10_exact_agreement == 1.0
    fixed = quantise(plan_graph(files.graph, model.config.time_steps))
    assert all(q["max_weight_error"] == 0.0 for q in [*fixed["synapses"].values(), *fixed["integrators"].values()])
    assert all(q["max_bias_error"] == 0.0 for q in fixed["lifs"].values())


def export_and_verify(model, folder):
    """Save `model` as a checkpoint in `folder`, export it, read the files back and verify them."""
    checkpoint = folder / "model.pt"
    save_checkpoint(checkpoint, checkpoint_dict(model, {}, {}))
    files = ExportedFiles(export(checkpoint))
    report = verify(model, files.graph, files.manifest, files.host_arrays, sequences())
    assert report.passed, report.summary()
    return files, report


def test_one_block_and_no_block_models_export(tmp_path):
    for blocks in (1, 0):
        export_and_verify(busy("ssr", blocks=blocks), tmp_path / f"b{blocks}")


def test_ssr_hybrid_exports_its_spiking_sub_graphs(tmp_path):
    files, report = export_and_verify(busy("ssr-hybrid"), tmp_path / "hybrid")
    assert [row["node"] for row in report.layers] == ["block0_ffn_in_lif", "block0_ffn_out_lif",
                                                       "block1_ffn_in_lif", "block1_ffn_out_lif"]
    assert all(row["spikes_torch"] > 0 for row in report.layers)
    manifest = files.manifest
    assert [i["node"] for i in manifest.inputs] == ["block0_current", "block0_residual", "block1_current",
                                                       "block1_residual"]
    assert manifest.inputs[2]["shape"] == [24, 1]  # the last block: newest position only
    where = {row["layer"]: row["where"] for row in manifest.partition}
    assert where["blocks.0.filter + filter_norm"] == "host" and where["blocks.0.ffn_out + ffn_out_norm"] == "chip"
    assert where["score + top-k"] == "host"
    assert manifest.input is None and "input" not in manifest.to_dict()  # several inputs: only the list


def test_sfmlp_exports_its_spiking_feed_forward_blocks(tmp_path):
    files, report = export_and_verify(busy("sfmlp"), tmp_path / "sfmlp")
    assert [row["node"] for row in report.layers] == ["block0_ffn_lif", "block1_ffn_lif"]
    assert all(row["spikes_torch"] > 0 for row in report.layers)
    where = {row["layer"]: row["where"] for row in files.manifest.partition}
    assert where["blocks.0.ffn.lif"] == "chip" and where["blocks.0.filter + filter_norm"] == "host"


@pytest.mark.parametrize("name, config, lif_nodes", [
    ("sgru4rec", {}, ["encoder"]),
    ("sgru4rec", {"recurrence": "once"}, ["encoder"]),
    ("srsgnn", {}, ["encoder", "state_lif", "readout_lif"]),
    ("srsgnn", {"recurrence": "once"}, ["encoder", "state_lif", "readout_lif"]),
    ("scaser", {}, ["encoder"] + [f"conv_lif_call{i}" for i in range(6)]),  # one LIF module, six convolutions
    # scoring against the items' spikes: the table is encoded offline, no sub-graph of its own
    ("sgru4rec", {"recurrence": "once", "scoring": "spikes"}, ["encoder"]),
    ("scaser", {"scoring": "spikes"}, ["encoder"] + [f"conv_lif_call{i}" for i in range(6)]),
    ("srsgnn", {"recurrence": "once", "scoring": "spikes"}, ["encoder", "state_lif", "readout_lif"]),
    ("sfsrec", {}, [f"blocks_{b}_{n}" for b in (0, 1) for n in ("input_lif", "qkv_lif", "attention_lif", "ffn_lif",
                                                                 "ffn_hidden_lif")]),
])
def test_zoo_models_export_every_lif_layer(tmp_path, name, config, lif_nodes):
    """The generic exporter: every LIF call a sub-graph, the host everything else, verified."""
    files, report = export_and_verify(busy(name, config=config), tmp_path / name)
    assert [row["node"] for row in report.layers] == lif_nodes
    assert all(row["spikes_torch"] > 0 for row in report.layers)
    where = {row["layer"]: row["where"] for row in files.manifest.partition}
    assert where["score"] == "host" and "chip" in where.values()


def test_manifest_describes_graph_host_and_partition(exported):
    model, checkpoint, graph_path = exported
    manifest = MANIFEST.read(manifest_path(graph_path))  # the one reader: the written file is complete
    assert manifest.model == "ssr" and manifest.time_steps == 4 and manifest.dt == 1.0
    assert manifest.input == {"node": "input", "shape": [12, LENGTH]}
    assert manifest.output == {"node": "output", "shape": [ITEMS + 1, 1]}
    where = {row["layer"]: row["where"] for row in manifest.partition}
    assert where["item_embedding + item_lif"] == "host" and where["top-k"] == "host"
    assert where["blocks.1.filter + filter_norm"] == "chip" and where["densify + score"] == "chip"
    assert all(row["why"] for row in manifest.partition)
    lif = [name for name, node in manifest.nodes.items() if node["type"] == "LIF"]
    assert len(lif) == 7
    graph = nir.read(graph_path)
    assert set(manifest.nodes) == set(graph.nodes)
    assert manifest.graph_sha256 == hashlib.sha256(graph_path.read_bytes()).hexdigest()
    table = ExportedFiles(graph_path).host_arrays["spike_table"]
    np.testing.assert_array_equal(table, model.spike_table().detach().numpy().astype(np.uint8))
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(graph_path).st_mode & 0o777 == 0o666 & ~umask  # a normal file's mode, not mkstemp's 0600


def test_lif_nodes_carry_the_neurons_parameters(exported):
    graph = nir.read(exported[2])
    node = graph.nodes["block0_ffn_in_lif"]
    assert node.tau.shape == (24, LENGTH)  # full shapes: nir.write's gzip rejects 0-d arrays
    assert np.all(node.tau == 2.0) and np.all(node.r == 1.0) and np.all(node.v_leak == 0.0)
    assert np.all(node.v_reset == 0.0)
    assert np.all(node.v_threshold == np.nextafter(np.float32(1.0), np.float32(0)))


def test_batch_norm_folds_to_torchs_eval_output():
    norm = FeatureBatchNorm(5).eval()
    with torch.no_grad():
        norm.running_mean.uniform_(-1, 1)
        norm.running_var.uniform_(0.5, 2)
        norm.weight.uniform_(-2, 2)
        norm.bias.uniform_(-1, 1)
    x = torch.randn(7, 3, 5, dtype=torch.float64)
    scale, shift = batch_norm_affine(norm)
    np.testing.assert_allclose(x.numpy() * scale + shift, norm.double()(x).detach().numpy(), rtol=1e-12)


def test_circulant_rows_are_the_circular_filter_with_residual():
    torch.manual_seed(3)
    length, channels = 7, 3
    filt = FrequencyFilter(length, channels, init_std=0.5).double()
    kernel = filt.kernel().detach().double().numpy()
    x = np.random.default_rng(0).integers(0, 2, (4, length, channels)).astype(np.float64)
    spectrum = torch.view_as_complex(filt.weight.detach().double())[0].numpy()
    reference = circulant_filter(x, spectrum)  # (4, N, C) from the hand-built circulant
    scale = np.array([0.5, 2.0, -1.0])
    weight = circulant_rows(kernel, np.arange(length), scale, residual_gain=2.0)  # (C, N, N)
    out = np.einsum("cnm,bmc->bnc", weight, x)
    np.testing.assert_allclose(out, reference * scale + 2.0 * x, atol=1e-12)
    newest = circulant_rows(kernel, np.array([length - 1]), scale, residual_gain=2.0)
    np.testing.assert_allclose(np.einsum("cnm,bmc->bnc", newest, x)[:, 0], out[:, -1], atol=1e-12)


def test_float_export_writes_the_filter_in_float64(exported):
    """The circulant the float graph carries is the float64 one the float64 reference computes (the
    float32 transform of the spectrum was off by ~1e-7, enough to flip 1 neuron in 20,037 ml-100k
    test sequences); the kernel here is numpy's float64 irfft of the spectrum, laid out by
    circulant_rows (tested above against a hand-built circulant)."""
    model, _, graph_path = exported
    graph = ExportedFiles(graph_path).graph
    length = model.max_len
    for index, block in enumerate(model.blocks):
        spectrum = torch.view_as_complex(block.filter.weight.detach().double())[0].numpy()
        kernel = np.fft.irfft(spectrum, n=length, axis=0)  # (N, D), float64
        scale, _ = batch_norm_affine(block.filter_norm)
        rows = np.arange(length) if index < len(model.blocks) - 1 else np.array([length - 1])
        expected = circulant_rows(kernel, rows, scale, block.residual_gain)
        np.testing.assert_allclose(graph.nodes[f"block{index}_filter"].weight, expected, rtol=0, atol=1e-13)


@pytest.mark.parametrize("stride,padding,dilation,groups", [(1, 0, 1, 1), (2, 3, 1, 2), (1, "same", 2, 4),
                                                             (1, "valid", 1, 1)])
def test_executor_conv1d_matches_torch(stride, padding, dilation, groups):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 8, 11))
    weight = rng.normal(size=(4, 8 // groups, 3))
    bias = rng.normal(size=4)
    expected = torch.nn.functional.conv1d(torch.from_numpy(x), torch.from_numpy(weight), torch.from_numpy(bias),
                                          stride=stride, padding=padding, dilation=dilation, groups=groups)
    np.testing.assert_allclose(conv1d(x, weight, bias, stride, padding, dilation, groups), expected.numpy(),
                               atol=1e-12)


def test_executor_neurons_follow_nirs_equations():
    rng = np.random.default_rng(2)
    currents = rng.normal(1.0, 1.0, (6, 3, 5)).astype(np.float32)  # (T, batch, 5)
    below = np.nextafter(np.float32(1), np.float32(0))
    shape = (5,)
    lif = nir.LIF(tau=np.full(shape, 2.0), r=np.ones(shape), v_leak=np.zeros(shape),
                  v_threshold=np.full(shape, below), v_reset=np.zeros(shape))
    graph = nir.NIRGraph(nodes={"input": nir.Input(np.array(shape)), "lif": lif,
                                "i": nir.I(r=np.full(shape, 0.5)), "output": nir.Output(np.array(shape))},
                         edges=[("input", "lif"), ("lif", "output"), ("input", "i")])
    traces = NIRExecutor(graph, dtype=np.float32).run({"input": currents}, record=["i"])
    np.testing.assert_array_equal(traces["output"], numpy_lif(currents))  # the neuron
    np.testing.assert_allclose(traces["i"], 0.5 * np.cumsum(currents, axis=0), rtol=1e-5)


def test_executor_refuses_node_types_it_does_not_implement():
    graph = nir.NIRGraph(nodes={"input": nir.Input(np.array([4])), "flat": nir.Threshold(np.ones(4)),
                                "output": nir.Output(np.array([4]))},
                         edges=[("input", "flat"), ("flat", "output")])
    with pytest.raises(ValueError, match="does not implement NIR node type.*Threshold"):
        NIRExecutor(graph)


def test_nirtorch_runs_the_exported_graph(exported):
    """Interoperability: nirtorch's interpreter builds a torch module from the file; with neuron
    modules for LIF and I (nirtorch leaves neurons to the caller, as norse and snntorch do) and a
    correct Affine (nirtorch 2.6's default one drops the bias), it computes our executor's scores."""
    from ssr.convert.interop import to_torch_module

    _, _, graph_path = exported
    files = ExportedFiles(graph_path)
    module = to_torch_module(graph_path)  # nirtorch.nir_to_torch reads the file itself
    seq = sequences()
    spikes = torch.from_numpy(host_input(files.host_arrays["spike_table"], seq)).double()
    state = None
    with torch.no_grad():
        for step in spikes:
            out, state = module(step, state=state)
    expected = NIRExecutor(files.graph).run({"input": spikes.numpy()})["output"][-1]
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-9, atol=1e-9)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A synthetic dataset and an SSR model trained on it for one epoch through the CLI."""
    root = tmp_path_factory.mktemp("export_cli")
    prepare_synthetic(root / "data.h5", users=120, items=30)
    assert main(["train", "--model", "ssr", "--data", str(root / "data.h5"), "--out", str(root / "run"),
                 "--epochs", "1", "--quiet", "--threads", "1", "--model-config", "hidden=16"]) == 0
    return root / "data.h5", root / "run" / "model.pt"


def test_cli_export_and_verify_on_a_dataset(tmp_path, capsys, trained_run):
    data, checkpoint = trained_run
    out = tmp_path / "graph" / "ssr.nir"
    assert export_main([str(checkpoint), "--to", "nir", "-o", str(out), "--verify", "--data", str(data),
                        "--verify-sequences", "32"]) == 0
    printed = capsys.readouterr().out
    assert "PASS: 32 sequences, float64; 0 spikes differ" in printed
    assert out.is_file() and manifest_path(out).is_file() and host_path(out).is_file()
    # the data recorded in the checkpoint is the default
    assert main(["export", str(checkpoint), "-o", str(tmp_path / "again.nir"), "--verify"]) == 0
    assert "PASS: " in capsys.readouterr().out


def test_cli_refuses_bad_input_without_writing(tmp_path, capsys, exported):
    _, checkpoint, _ = exported
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    assert export_main([str(checkpoint), "-o", str(blocked / "m.nir")]) == 1
    assert "cannot write" in capsys.readouterr().err
    assert export_main([str(checkpoint), "-o", str(tmp_path / "x.manifest.json")]) == 1
    assert "collide" in capsys.readouterr().err
    target = tmp_path / "x.nir"
    assert export_main([str(checkpoint), "-o", str(target), "--verify", "--data", str(tmp_path / "missing.h5")]) == 1
    assert "missing.h5 not found" in capsys.readouterr().err
    assert not list(tmp_path.glob("x.*")) and not list(tmp_path.glob(".*.tmp"))
