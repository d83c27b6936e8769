"""`ssr run-gpu` on CPU: the timing harness, gpu.json's schema, metrics equal `ssr evaluate`'s, the
CUDA fallback, and the energy report reading gpu.json."""

from __future__ import annotations

import json
import time

import pytest

from builders import prepare_synthetic
import torch

from ssr.cli import main
from ssr.targets.gpu.run import resolve_device, time_batches

ROW_KEYS = {"mode", "batch_size", "latency_ms_p50", "latency_ms_p95", "throughput_sequences_per_second",
            "peak_memory_bytes"}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("gpu")
    prepare_synthetic(root / "data.h5", users=120, items=30)
    assert main(["train", "--model", "fmlp", "--data", str(root / "data.h5"), "--out", str(root / "fmlp"),
                 "--epochs", "1", "--quiet", "--threads", "1", "--model-config", "hidden=16"]) == 0
    return root


def test_timing_harness_measures_what_it_runs():
    """A forward that sleeps 3 ms per call: p50 at least 3 ms, throughput = batch / p50."""
    calls = []

    def forward(batch):
        calls.append(len(batch))
        time.sleep(0.003)

    row = time_batches(forward, torch.zeros(8, 4), torch.device("cpu"), warmup=2, repeats=5)
    assert len(calls) == 2 + 5
    assert 3.0 <= row["latency_ms_p50"] <= row["latency_ms_p95"]
    assert row["throughput_sequences_per_second"] == pytest.approx(8 / (row["latency_ms_p50"] / 1e3))
    assert ROW_KEYS - {"mode"} <= set(row)


def test_cuda_request_falls_back_to_cpu_and_says_so():
    device, note = resolve_device("cuda")
    if torch.cuda.is_available():
        assert device.type == "cuda" and note is None
    else:
        assert device.type == "cpu" and "CUDA is not available" in note
    assert resolve_device("cpu") == (torch.device("cpu"), None)
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("tpu")


def test_run_gpu_json_and_metrics_equal_evaluate(run, tmp_path, capsys):
    out = tmp_path / "gpu.json"
    assert main(["run-gpu", str(run / "fmlp" / "model.pt"), "--data", str(run / "data.h5"), "--device", "cuda",
                 "--batch-sizes", "1,4", "--half", "--repeats", "3", "--warmup", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    result = json.loads(out.read_text())
    assert {"model", "kind", "device", "device_note", "HR@10", "NDCG@10", "MRR@10", "rows",
            "estimate_45nm_fp32_pj_per_inference", "timing", "provenance"} <= set(result)
    assert [(r["mode"], r["batch_size"]) for r in result["rows"]] == [("eager", 1), ("eager", 4), ("half", 1), ("half", 4)]
    assert all(ROW_KEYS <= set(row) for row in result["rows"])
    if not torch.cuda.is_available():
        assert result["device"]["type"] == "cpu" and "ran on CPU" in result["device_note"] and "ran on CPU" in printed
    assert main(["evaluate", str(run / "fmlp" / "model.pt"), "--data", str(run / "data.h5"), "--json"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    for key in ("HR@10", "NDCG@10", "MRR@10"):
        assert result[key] == pytest.approx(evaluated[key], abs=1e-12)
    # the energy report shows it beside the estimate
    report_dir = tmp_path / "energy"
    assert main(["energy-report", str(run / "fmlp"), "--gpu", str(out), "--sequences", "20", "--out", str(report_dir)]) == 0
    report = json.loads((report_dir / "report.json").read_text())
    assert report["models"][0]["gpu"][0]["rows"][0]["mode"] == "eager"
    assert "Measured in PyTorch on" in (report_dir / "report.md").read_text()


def test_run_gpu_bad_input(run, tmp_path, capsys):
    checkpoint, data = str(run / "fmlp" / "model.pt"), str(run / "data.h5")
    assert main(["run-gpu", checkpoint, "--data", data, "--batch-sizes", "1,x", "--out", str(tmp_path / "g.json")]) == 1
    assert "--batch-sizes takes comma-separated integers" in capsys.readouterr().err
    assert main(["run-gpu", checkpoint, "--data", data, "--batch-sizes", "0", "--out", str(tmp_path / "g.json")]) == 1
    assert "must be positive" in capsys.readouterr().err
    assert not (tmp_path / "g.json").exists()


def test_a_time_aware_model_runs_through_train_evaluate_run_gpu_and_energy(run, tmp_path, capsys):
    """TiM4Rec reads event times besides the ids: every stage hands them over (model.inputs)."""
    runs = tmp_path / "tim4rec"
    assert main(["train", "--model", "tim4rec", "--data", str(run / "data.h5"), "--out", str(runs), "--epochs", "1",
                 "--quiet", "--threads", "1", "--model-config", "hidden=16", "--model-config", "head_dim=8"]) == 0
    trained = json.loads((runs / "metrics.json").read_text())
    assert main(["evaluate", str(runs / "model.pt"), "--data", str(run / "data.h5"), "--json"]) == 0
    capsys.readouterr()
    assert main(["run-gpu", str(runs / "model.pt"), "--data", str(run / "data.h5"), "--device", "cpu",
                 "--batch-sizes", "3", "--repeats", "2", "--warmup", "0", "--out", str(tmp_path / "gpu.json")]) == 0
    result = json.loads((tmp_path / "gpu.json").read_text())
    assert result["HR@10"] == pytest.approx(trained["test"]["HR@10"], abs=1e-12)
    assert result["estimate_45nm_fp32_pj_per_inference"] > 0
    assert main(["energy-report", str(runs), "--sequences", "10", "--out", str(tmp_path / "energy")]) == 0
    report = json.loads((tmp_path / "energy" / "report.json").read_text())
    assert report["models"][0]["macs"] > 0
