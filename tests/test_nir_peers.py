"""Our exported ssr graph in other NIR tools: the portable profile read by snntorch 1.0 and
spikingjelly 2.0 (pinned in requirements/nodeps.txt) through their own importers.

The reference is our reference executor on the *native* graph (the one `--verify` proves equal to
the PyTorch model); the peers get the portable file as `nir.read` gives it, and their modules run
step by step in float32, their working precision (our executor too, here).
"""

from __future__ import annotations

import contextlib
import io
import warnings

import nir
import numpy as np
import pytest
import torch

from builders import busy, prepare_synthetic, sequences
from ssr.checkpoint import checkpoint_dict, save_checkpoint
from ssr.cli import export_main
from ssr.convert.executor import NIRExecutor
from ssr.convert.export import ExportedFiles, export
from ssr.convert.portable import DT_SECONDS, PROFILES, portable_graph, portable_input
from ssr.convert.verify import verify_export
from ssr.models.fmlp.ssr_deploy import feed


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("peers")
    checkpoint = tmp / "run" / "model.pt"
    save_checkpoint(checkpoint, checkpoint_dict(busy("ssr"), {"path": "none"}, {}))
    native = export(checkpoint)
    assert export_main([str(checkpoint), "--profile", "portable", "-o", str(tmp / "portable" / "model.nir")]) == 0
    return checkpoint, native, tmp / "portable" / "model.nir"


def test_portable_graph_is_standard_nodes_with_2d_weights_and_still_the_model(exports):
    checkpoint, _, portable = exports
    graph = nir.read(portable)  # with NIR's type checks
    kinds = {type(node).__name__ for node in graph.nodes.values()}
    assert kinds == {"Input", "Output", "Affine", "LIF"}
    assert sum(type(node).__name__ == "Input" for node in graph.nodes.values()) == 1
    assert all(np.ndim(node.weight) == 2 for node in graph.nodes.values() if type(node).__name__ == "Affine")
    files = ExportedFiles(portable, profiles=PROFILES)
    assert files.manifest.profile == "portable" and files.manifest.dt == DT_SECONDS
    assert [block["running_sum"] for block in files.manifest.inputs[0]["blocks"]] == [False, True]
    report = verify_export(portable, checkpoint, sequences(6))
    assert report.passed and report.spike_mismatches == 0 and report.top10_exact_agreement == 1.0


def _snntorch(graph):
    import snntorch.utils
    from snntorch.import_nir import import_from_nir

    with contextlib.redirect_stdout(io.StringIO()):  # it prints every node it maps
        module = import_from_nir(graph)
    snntorch.utils.reset(module)
    return module


def _spikingjelly(graph):
    from spikingjelly.activation_based.nir_exchange import import_from_nir

    return import_from_nir(graph, dt=DT_SECONDS)


@pytest.mark.parametrize("peer", [_snntorch, _spikingjelly], ids=["snntorch", "spikingjelly"])
def test_peer_fires_every_spike_and_scores_as_our_executor(exports, peer):
    _, native, portable = exports
    files = ExportedFiles(portable, profiles=PROFILES)
    lif_nodes = list(files.manifest.lif_layers())
    item_seq = sequences(6)
    native_inputs = feed(ExportedFiles(native).host_arrays, item_seq)
    ours = NIRExecutor(nir.read(native), dtype=np.float32).run(native_inputs, record=lif_nodes)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = peer(nir.read(portable)).float()
    captured: dict[str, list[np.ndarray]] = {}
    for name, submodule in module.named_modules():
        if name in lif_nodes:  # a neuron module returns its spikes (spikingjelly: with its state)
            submodule.register_forward_hook(lambda _, args, out, name=name: captured.setdefault(name, []).append(
                (out[0] if isinstance(out, tuple) else out).detach().numpy().copy()))
    x = portable_input(native_inputs, files.manifest.portable["input_blocks"]).astype(np.float32)
    state, per_step = None, []
    with torch.no_grad():
        for step in x:
            y, state = module(torch.from_numpy(step), state)
            per_step.append(y.numpy())
    steps, batch = x.shape[:2]
    for name in lif_nodes:
        theirs = np.stack(captured[name]).reshape(steps, batch, -1)
        mine = ours[name].reshape(steps, batch, -1)
        assert mine.sum() > 0 and np.array_equal(theirs, mine), name
    scores = np.sum(per_step, axis=0)  # the readout summed over the steps (sum_over_steps)
    reference = ours["output"][-1].reshape(batch, -1)
    np.testing.assert_allclose(scores, reference, rtol=1e-5, atol=1e-5 * np.abs(reference).max())
    assert np.array_equal(np.argsort(-scores[:, 1:], kind="stable")[:, :10],
                          np.argsort(-reference[:, 1:], kind="stable")[:, :10])


def test_portable_export_goes_beside_the_native_one_by_default(exports):
    checkpoint, native, _ = exports
    before = native.read_bytes()
    assert export_main([str(checkpoint), "--profile", "portable"]) == 0
    portable = checkpoint.with_suffix(".portable.nir")
    assert ExportedFiles(portable, profiles=PROFILES).manifest.profile == "portable"
    assert native.read_bytes() == before  # run-lava's file is left alone


def test_portable_profile_refusals(exports, tmp_path, capsys):
    from ssr.targets.loihi_sim.run import run_lava

    _, _, portable = exports
    prepare_synthetic(tmp_path / "data.h5", users=40, items=20)
    with pytest.raises(ValueError, match="portable export profile, for other NIR tools"):
        run_lava(portable, tmp_path / "data.h5", limit=2, progress=False)
    # a model whose sub-graphs need the host between them has no portable form; nothing is written
    checkpoint = tmp_path / "gru" / "model.pt"
    save_checkpoint(checkpoint, checkpoint_dict(busy("sgru4rec"), {"path": "none"}, {}))
    assert export_main([str(checkpoint), "--profile", "portable"]) != 0
    assert "one Input node" in capsys.readouterr().err
    assert not checkpoint.with_suffix(".nir").exists()


def _affine(size: int) -> nir.Affine:
    return nir.Affine(weight=np.eye(size), bias=np.zeros(size))


@pytest.mark.parametrize("case", ["integrator beside another target", "integrator of two synapses"])
def test_portable_profile_refuses_integrators_it_cannot_fold(case):
    size = np.array([3])
    nodes = {"input": nir.Input(input_type=size), "a": _affine(3), "i": nir.I(r=np.ones(3)),
             "out": nir.Output(output_type=size)}
    edges = [("input", "a"), ("a", "i"), ("i", "out")]
    if case == "integrator beside another target":  # a's current would reach the LIF without its r folded in
        nodes.update(lif=nir.LIF(tau=np.full(3, 2.0), r=np.ones(3), v_leak=np.zeros(3), v_threshold=np.ones(3),
                                 v_reset=np.zeros(3)), out2=nir.Output(output_type=size))
        edges += [("a", "lif"), ("lif", "out2")]
        message = "synapse a feeds an integrator and other nodes"
    else:
        nodes["b"] = _affine(3)
        edges += [("input", "b"), ("b", "i")]
        message = "integrator i has 2 inputs"
    with pytest.raises(ValueError, match=message):
        portable_graph(nodes, edges)
