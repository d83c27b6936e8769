"""`ssr run-gpu RUN_DIR/model.pt --data data.h5 --out gpu.json`: timed PyTorch inference, GPU or CPU.

For each mode (eager float32; with --compile, torch.compile; with --half, autocast to float16 on
CUDA / bfloat16 on CPU) and each batch size: a fixed batch of the split's first sequences, `warmup`
untimed runs, then `repeats` timed runs of `score_all` (CUDA events on GPU, perf_counter on CPU),
giving latency p50/p95, throughput and peak memory; on NVIDIA GPUs with nvidia-ml-py, board energy
over the timed runs (NVML's total-energy counter). Quality is `ssr evaluate`'s, on the same device.
Without CUDA it runs on CPU and says so; nothing fails for lack of a GPU.
"""

from __future__ import annotations

import contextlib
import datetime
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ssr import __version__
from ssr.artefacts import GpuRun
from ssr.io import file_sha256

MODES = ("eager", "compile", "half")


def _cpu_name() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def resolve_device(requested: str | None) -> tuple[torch.device, str | None]:
    """The device to run on and, when it is not the one asked for, why."""
    if requested not in (None, "cuda", "cpu"):
        raise ValueError(f"unknown device {requested!r}; choose cuda or cpu")
    if requested == "cpu":
        return torch.device("cpu"), None
    if torch.cuda.is_available():
        return torch.device("cuda"), None
    why = "CUDA is not available (no GPU or a CPU-only torch build): ran on CPU"
    return torch.device("cpu"), why if requested == "cuda" else why.replace("ran on CPU", "running on CPU")


def _peak_rss_reset() -> None:
    """Reset the process's peak resident memory (Linux: /proc/self/clear_refs), where allowed."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _peak_rss_bytes() -> int | None:
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return None


class _NVML:
    """Board energy from NVML's total-energy counter (millijoules since the driver loaded)."""

    def __init__(self, device: torch.device) -> None:
        self.handle = None
        self.note = None
        if device.type != "cuda":
            self.note = "board energy is measured on NVIDIA GPUs only"
            return
        try:
            import pynvml

            pynvml.nvmlInit()
            index = device.index if device.index is not None else torch.cuda.current_device()
            self.handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            pynvml.nvmlDeviceGetTotalEnergyConsumption(self.handle)
            self.pynvml = pynvml
        except Exception as error:  # no nvidia-ml-py, or a GPU without the counter
            self.handle, self.note = None, f"NVML energy unavailable ({type(error).__name__}: {error})"

    def millijoules(self) -> float | None:
        return None if self.handle is None else float(self.pynvml.nvmlDeviceGetTotalEnergyConsumption(self.handle))


def time_batches(forward, batch: torch.Tensor | tuple[torch.Tensor, ...], device: torch.device, warmup: int,
                 repeats: int, energy: _NVML | None = None) -> dict[str, Any]:
    """Latency (ms) of `forward(*batch)` over `repeats` timed runs after `warmup` untimed ones; `batch`
    is the model's inputs (a tensor, or a tuple of tensors with the sample axis first)."""
    batch = batch if isinstance(batch, tuple) else (batch,)
    for _ in range(warmup):
        forward(*batch)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    else:
        _peak_rss_reset()
    start_energy = energy.millijoules() if energy else None
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            begin.record()
            forward(*batch)
            end.record()
            torch.cuda.synchronize(device)
            times.append(begin.elapsed_time(end))
        else:
            begin = time.perf_counter()
            forward(*batch)
            times.append((time.perf_counter() - begin) * 1e3)
    end_energy = energy.millijoules() if energy else None
    p50 = float(np.percentile(times, 50))
    row = {"batch_size": len(batch[0]), "latency_ms_p50": p50, "latency_ms_p95": float(np.percentile(times, 95)),
           "latency_ms_mean": statistics.fmean(times),
           "throughput_sequences_per_second": len(batch[0]) / (p50 / 1e3),
           "peak_memory_bytes": (torch.cuda.max_memory_allocated(device) if device.type == "cuda" else _peak_rss_bytes()),
           "peak_memory_kind": "device memory allocated by torch" if device.type == "cuda" else "process peak RSS"}
    if start_energy is not None and end_energy is not None:
        row["board_energy_mj_per_inference"] = (end_energy - start_energy) / (repeats * len(batch[0]))
    return row


def run_gpu(checkpoint: str | Path, data: str | Path, split: str = "test", batch_sizes: tuple[int, ...] = (1, 32, 256),
            device: str | None = None, compile: bool = False, half: bool = False, warmup: int = 3,
            repeats: int = 20, mask_history: bool = False, estimate_sequences: int = 64) -> GpuRun:
    """Everything `gpu.json` holds."""
    from ssr.checkpoint import load_checkpoint
    from ssr.data.dataset import read_dataset
    from ssr.evaluate import evaluate

    if not batch_sizes or any(b < 1 for b in batch_sizes):
        raise ValueError(f"--batch-sizes must be positive integers, got {list(batch_sizes)}")
    if warmup < 0 or repeats < 1:
        raise ValueError(f"--warmup must be >= 0 and --repeats >= 1, got {warmup} and {repeats}")
    run_device, note = resolve_device(device)
    model, payload = load_checkpoint(checkpoint)
    dataset = read_dataset(data)
    if dataset.num_items != model.num_items:
        raise ValueError(f"{data} has {dataset.num_items} items, the model {model.num_items}; "
                         "pass the dataset it was trained on")
    model = model.to(run_device).eval()
    inputs = tuple(torch.from_numpy(a) for a in model.inputs(dataset, split))
    if max(batch_sizes) > len(inputs[0]):  # also a memory guard: a batch's activations grow with its size
        raise ValueError(f"--batch-sizes {max(batch_sizes)} is more than the {len(inputs[0])} sequences of the "
                         f"{split} split; use batch sizes up to {len(inputs[0])}")
    metrics = evaluate(model, dataset, split, mask_history=mask_history, device=str(run_device))
    energy = _NVML(run_device)

    modes = ["eager"] + (["compile"] if compile else []) + (["half"] if half else [])
    rows = []
    for mode in modes:
        forward = _forward(model, mode, run_device)
        for size in batch_sizes:
            batch = tuple(a[:size].to(run_device) for a in inputs)
            try:
                with torch.no_grad():
                    begin = time.perf_counter()
                    forward(*batch)  # torch.compile compiles here; the first call is never timed
                    first_call = time.perf_counter() - begin
                    row = time_batches(forward, batch, run_device, warmup, repeats, energy)
                row["first_call_seconds"] = first_call
            except Exception as error:  # a mode this model or device cannot run: say so, keep going
                row = {"batch_size": size, "error": f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"}
            rows.append({"mode": mode, **row})

    estimate = _estimate_pj(model.cpu().float(), [a[:estimate_sequences].numpy() for a in inputs])
    return GpuRun.from_dict({
        **GpuRun.stamp(),
        "model": payload["model"], "kind": payload["kind"],
        "device": {"type": run_device.type,
                   "name": torch.cuda.get_device_name(run_device) if run_device.type == "cuda" else _cpu_name(),
                   "torch_threads": torch.get_num_threads()},
        "device_note": note or (f"ran on {run_device.type.upper()}"),
        "HR@10": metrics["HR@10"], "NDCG@10": metrics["NDCG@10"], "MRR@10": metrics["MRR@10"],
        "metrics": metrics, "mask_history": mask_history, "split": split,
        "rows": rows,
        "energy_note": energy.note,
        "estimate_45nm_fp32_pj_per_inference": estimate,
        "timing": {"warmup": warmup, "repeats": repeats,
                   "clock": "CUDA events" if run_device.type == "cuda" else "time.perf_counter"},
        "provenance": {"checkpoint": str(checkpoint),
                       "checkpoint_sha256": file_sha256(checkpoint),
                       "data": str(data), "torch": torch.__version__, "ssr_version": __version__,
                       "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")},
    }, "run-gpu's result")


def _forward(model, mode: str, device: torch.device):
    """A callable batch -> scores for `mode`."""
    if mode == "eager":
        return model.score_all
    if mode == "half":
        dtype = torch.float16 if device.type == "cuda" else torch.bfloat16

        def forward(*batch):
            with torch.autocast(device_type=device.type, dtype=dtype):
                return model.score_all(*batch)
        return forward
    return torch.compile(model.score_all)


def _estimate_pj(model, inputs: list[np.ndarray]) -> float:
    """Energy per inference under the 45nm-fp32 profile, counted as `ssr energy-report` counts it."""
    from ssr.energy.counter import count_model
    from ssr.energy.profiles import PROFILES

    if model.server_side_macs():  # as energy-report: a fused item table is server work, built before counting
        with torch.no_grad():
            model.item_embeddings()
    if model.deployment is not None and model.deployment.whole_graph:  # as energy-report: the graph's work
        from ssr.energy.graph_count import count_model_graph

        layers, _ = count_model_graph(model, inputs[0])
    else:
        layers = count_model(model, *(torch.from_numpy(a) for a in inputs))
    return sum(PROFILES["45nm-fp32"].energy(layer) for layer in layers.values()) / len(inputs[0])
