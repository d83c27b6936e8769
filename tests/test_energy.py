"""Energy counting against hand-computed counts, profiles, and the report end to end."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

from builders import busy, prepare_synthetic, sequences
from ssr.artefacts import ENERGY_REPORT
from ssr.cli import main
from ssr.energy.counter import OpCounter, count_model
from ssr.energy.graph_count import count_model_graph
from ssr.energy.profiles import PROFILES, load_profile
from ssr.energy.report import build_report, pareto_front
from ssr.models.layers import FrequencyFilter


class Wrapper(nn.Module):
    def __init__(self, **layers: nn.Module) -> None:
        super().__init__()
        for name, layer in layers.items():
            self.add_module(name, layer)


def counted(model: nn.Module, kinds: dict[str, str], run) -> dict:
    counter = OpCounter(model, kinds=kinds)
    try:
        with counter, torch.no_grad():
            run()
    finally:
        counter.remove()
    return counter.layers


def test_linear_on_known_spikes_costs_spikes_times_fan_out():
    model = Wrapper(fc=nn.Linear(6, 5))
    spikes = torch.tensor([[1.0, 0, 0, 1, 0, 1], [0, 0, 0, 0, 0, 1]])  # 4 spikes
    layers = counted(model, {"fc": "spike"}, lambda: model.fc(spikes))
    assert layers["fc"].acs == 4 * 5 and layers["fc"].macs == 0
    dense = torch.randn(2, 6)  # the same layer declared float: M K N MACs
    layers = counted(model, {"fc": "float"}, lambda: model.fc(dense))
    assert layers["fc"].macs == 2 * 6 * 5 and layers["fc"].acs == 0


def test_convolution_on_spikes_counts_every_spike_synapse_event():
    """Conv1d, 2 input channels -> 3 outputs, kernel 3, padding 1, on length 5: a spike at a border
    position feeds 2 kernel taps per output channel, an inner one 3."""
    model = Wrapper(conv=nn.Conv1d(2, 3, 3, padding=1))
    spikes = torch.zeros(1, 2, 5)
    spikes[0, 0, 0] = 1  # border
    spikes[0, 1, 2] = 1  # inner
    layers = counted(model, {"conv": "spike"}, lambda: model.conv(spikes))
    assert layers["conv"].acs == 3 * 2 + 3 * 3


def test_fused_attention_is_counted():
    batch, heads, length, dim = 2, 2, 5, 4
    q, k, v = (torch.randn(batch, heads, length, dim) for _ in range(3))
    layers = counted(Wrapper(), {}, lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v))
    assert layers["(top level)"].macs == batch * heads * length * length * (dim + dim)


def test_fft_filter_counts_n_log_n_per_transform_and_four_macs_per_complex_product():
    length, channels, batch = 16, 3, 2
    model = Wrapper(filter=FrequencyFilter(length, channels, 0.1))
    layers = counted(model, {"filter": "float"}, lambda: model.filter(torch.randn(batch, length, channels)))
    vectors = batch * channels
    expected_macs = 2 * vectors * length * math.log2(length) + 4 * vectors * (length // 2 + 1)
    assert layers["filter"].macs == pytest.approx(expected_macs)
    assert layers["filter"].float_adds == pytest.approx(2 * vectors * length * math.log2(length) / 2)
    assert layers["filter"].acs == 0


def test_attention_products_are_counted():
    """softmax(Q K^T) V in plain torch code (no module hooks see it): 2 L^2 d MACs per sequence."""
    batch, length, dim = 3, 7, 4
    q, k, v = (torch.randn(batch, length, dim) for _ in range(3))
    model = Wrapper()
    layers = counted(model, {}, lambda: torch.softmax(q @ k.transpose(1, 2), -1) @ v)
    assert layers["(top level)"].macs == 2 * batch * length * length * dim


def test_scoring_against_every_item_is_the_score_layer():
    from ssr.models.base import build_model

    model = build_model("fmlp", 40, 8, {"hidden": 16, "blocks": 1})
    seq = torch.randint(1, 41, (5, 8))
    layers = count_model(model, seq)
    assert layers["score"].macs == 5 * 16 * 41


def test_graph_count_is_spikes_times_fan_out_with_the_circulant():
    """SSR's filter on chip is a circulant per channel: every presynaptic spike feeds N outputs (the
    first block) or 1 (the last block, newest position only); its LIF layers update once per neuron
    and step."""
    model = busy("ssr")
    seq = sequences(6)
    layers, names = count_model_graph(model, seq)
    stimulus_spikes = layers["stimulus_lif"].spikes
    length = model.max_len
    circulant_columns = length  # kernel taps are all non-zero for a random spectrum
    assert layers["block0_filter"].acs == stimulus_spikes * circulant_columns
    assert layers["stimulus_lif"].neuron_updates == 12 * length * model.config.time_steps * len(seq)
    assert names["block0_filter"] == "blocks.0.filter"
    # the same spikes PyTorch fires
    captured = {}
    handle = model.stimulus_lif.register_forward_hook(lambda m, a, o: captured.setdefault("s", o))
    with torch.no_grad():
        model.score_all(torch.from_numpy(seq))
    handle.remove()
    assert stimulus_spikes == float(captured["s"].sum())


def test_profiles_and_toml_overrides(tmp_path):
    fp32, fp16 = PROFILES["45nm-fp32"], PROFILES["45nm-fp16"]
    assert (fp32.mac, fp32.ac) == (4.6, 0.9) and fp16.mac < fp32.mac
    toml = tmp_path / "chip.toml"
    toml.write_text('name = "chip"\nbase = "45nm-fp32"\nmac = 0.0\nac = 2.0\nneuron_update = 0.0\n')
    profile = load_profile(toml)
    assert (profile.name, profile.mac, profile.ac, profile.neuron_update, profile.sram_byte) == ("chip", 0.0, 2.0, 0.0, 2.5)
    bad = tmp_path / "bad.toml"
    bad.write_text("mac = -1\n")
    with pytest.raises(ValueError, match="mac must be a non-negative number"):
        load_profile(bad)
    bad.write_text("watts = 3\n")
    with pytest.raises(ValueError, match="unknown key"):
        load_profile(bad)
    with pytest.raises(ValueError, match="unknown energy profile"):
        load_profile("7nm")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("energy")
    prepare_synthetic(root / "data.h5", users=120, items=30)
    for model in ("fmlp", "ssr"):
        assert main(["train", "--model", model, "--data", str(root / "data.h5"), "--out", str(root / model),
                     "--epochs", "1", "--quiet", "--threads", "1", "--model-config", "hidden=16"]) == 0
    assert main(["export", str(root / "ssr" / "model.pt"), "--to", "nir"]) == 0  # ssr is costed from its graph
    return root


def test_energy_report_end_to_end_and_profiles_scale_it(runs, tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["energy-report", str(runs / "fmlp"), str(runs / "ssr"), "--sequences", "40", "--out", str(out)]) == 0
    assert "saving" in capsys.readouterr().out
    report = ENERGY_REPORT.read(out / "report.json")  # the written file is a complete report
    assert report.profile == "45nm-fp32"
    by_name = {m["model"]: m for m in report.models}
    ann, snn = by_name["fmlp"], by_name["ssr"]
    assert ann["kind"] == "ann" and snn["kind"] == "snn" and snn["macs"] == 0 and snn["acs"] > 0
    for model in (ann, snn):
        assert {"name", "kind", "HR@10", "NDCG@10", "macs", "acs", "energy_pj", "memory_bytes", "layers"} <= set(model)
        assert model["energy_pj"] == pytest.approx(model["macs"] * 4.6 + model["float_adds"] * 0.9
                                                   + model["acs"] * 0.9 + model["neuron_updates"] * 5.5)
    (pair,) = report.pairs
    assert pair["ann"] == ann["name"] and pair["snn"] == snn["name"]
    assert pair["saving_percent"] == pytest.approx(100 * (1 - snn["energy_pj"] / ann["energy_pj"]))
    assert snn["item_table_bytes"] * 8 == snn["item_table_dense_fp32_bytes"]  # T = 4 bits vs 32
    for name in ("report.md", "report.html", "energy_per_layer.png", "accuracy_vs_energy.png", "firing_rates.png"):
        assert (out / name).stat().st_size > 0
    assert "data:image/png;base64," in (out / "report.html").read_text()
    front = pareto_front(report.models)  # two runs: the front is whichever is not beaten on both counts
    assert front and all(f"| {m['name']} |" in (out / "report.md").read_text().split("## Pareto front")[1]
                         for m in front)
    # two runs of one model on one dataset (seeds, say) are named apart, and each pair is its own
    import os
    import shutil

    other = shutil.copytree(runs / "ssr", tmp_path / "another" / "ssr")  # same folder name, another place
    twice = build_report([runs / "fmlp", runs / "ssr", other], PROFILES["45nm-fp32"], sequences=8)
    assert len({m["name"] for m in twice.models}) == 3
    assert [p["snn"] for p in twice.pairs] == [m["name"] for m in twice.models[1:]]
    for again in (runs / "ssr", os.path.relpath(runs / "ssr")):  # the same folder, also spelt another way
        with pytest.raises(ValueError, match="is given twice; pass each run once"):
            build_report([runs / "ssr", again], PROFILES["45nm-fp32"], sequences=8)
    # a cheaper profile lowers the totals in proportion to its per-operation costs
    report16 = build_report([runs / "fmlp"], PROFILES["45nm-fp16"], sequences=40)
    assert report16.models[0]["energy_pj"] == pytest.approx(ann["macs"] * 1.5 + ann["float_adds"] * 0.4)
    # a TOML profile overrides exactly the figures it names
    toml = tmp_path / "chip.toml"
    toml.write_text('mac = 0.0\nac = 2.0\nneuron_update = 0.0\n')
    out_toml = tmp_path / "toml"
    assert main(["energy-report", str(runs / "fmlp"), str(runs / "ssr"), "--sequences", "40", "--profile", str(toml),
                 "--out", str(out_toml)]) == 0
    chip = {m["model"]: m for m in json.loads((out_toml / "report.json").read_text())["models"]}
    assert chip["ssr"]["energy_pj"] == pytest.approx(2.0 * snn["acs"])
    assert chip["fmlp"]["energy_pj"] == pytest.approx(0.9 * ann["float_adds"])


def test_energy_report_bad_input(runs, tmp_path, capsys):
    assert main(["energy-report", str(tmp_path / "nothing"), "--out", str(tmp_path / "r")]) == 1
    assert "not found" in capsys.readouterr().err
    assert main(["energy-report", str(runs / "fmlp"), "--profile", "7nm", "--out", str(tmp_path / "r")]) == 1
    assert "unknown energy profile" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_a_whole_graph_model_is_costed_from_its_exported_file(runs, tmp_path, capsys):
    """energy-report reads RUN_DIR/model.nir (the file a chip runs): none there, or one exported from
    another checkpoint, is a one-line error naming the command that fixes it."""
    import shutil

    bare = tmp_path / "bare"
    bare.mkdir()
    for name in ("model.pt", "metrics.json"):
        shutil.copy(runs / "ssr" / name, bare / name)
    assert main(["energy-report", str(bare), "--sequences", "8", "--out", str(tmp_path / "r1")]) == 1
    err = capsys.readouterr().err
    assert "model.nir not found" in err and "ssr-export" in err and not (tmp_path / "r1").exists()
    for suffix in (".nir", ".manifest.json", ".host.h5"):
        shutil.copy((runs / "ssr" / "model").with_suffix(suffix), (bare / "model").with_suffix(suffix))
    torch.save({**torch.load(bare / "model.pt", weights_only=True), "ssr_version": "other"}, bare / "model.pt")
    assert main(["energy-report", str(bare), "--sequences", "8", "--out", str(tmp_path / "r2")]) == 1
    assert "exported from another checkpoint" in capsys.readouterr().err


def test_pareto_front_matches_a_sweep_over_runs_sorted_by_energy():
    """Against an independent reference: per dataset, runs sorted by energy (then best NDCG@10 first)
    are on the front when they rank better than every cheaper run, or tie a front run exactly; on a
    coarse grid, so ties in energy and in NDCG@10 are common."""
    import random

    rng = random.Random(0)
    for trial in range(200):
        runs = [{"run": f"r{i}", "dataset_fingerprint": rng.choice("ab"), "energy_pj": float(rng.randint(1, 6)),
                 "NDCG@10": rng.randint(0, 5) / 100} for i in range(rng.randint(1, 12))]
        expected = set()
        for dataset in "ab":
            best, last = -1.0, None
            for run in sorted((r for r in runs if r["dataset_fingerprint"] == dataset),
                              key=lambda r: (r["energy_pj"], -r["NDCG@10"])):
                point = (run["energy_pj"], run["NDCG@10"])
                if run["NDCG@10"] > best or point == last:
                    expected.add(run["run"])
                    best, last = max(best, run["NDCG@10"]), point
        assert [r["run"] for r in pareto_front(runs)] == [r["run"] for r in runs if r["run"] in expected], trial
