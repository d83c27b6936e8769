"""Proof that an exported graph is the model: run both on the same input spikes and compare.

The PyTorch model runs with forward hooks on its LIF layers; the NIR file, read back with
`nir.read`, runs on the reference executor (convert.executor) inside the model's deployment loop
(`run` of its deployment module, ssr.deploy: a host table lookup feeding one whole graph, or host
layers between spiking sub-graphs), on the same inputs. Every hidden LIF layer must fire identically and the
scores must agree to `score_tolerance` (relative to each sequence's largest score).

Both sides compute in float64 by default: the graph's folded parameters (batch norm times weights)
sum in a different order than the unfolded model, and in float32 such rounding differences
(~1e-7) flip the occasional neuron sitting at its threshold; in float64 (~1e-16) they do not. The
neuron's fire test is the same in both precisions (ssr.spiking.lif.firing_threshold).
`dtype="float32"` runs the comparison in float32 and reports how many spikes such flips change.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ssr.artefacts import Manifest
from ssr.deploy import deployment_of

@dataclass
class VerifyReport:
    sequences: int
    dtype: str
    layers: list[dict[str, Any]] = field(default_factory=list)  # node, layer, spikes_torch/_graph, mismatches
    score_max_relative_error: float = 0.0
    top10_exact_agreement: float = 0.0
    score_tolerance: float = 1e-5

    @property
    def spike_mismatches(self) -> int:
        return sum(row["mismatches"] for row in self.layers)

    @property
    def passed(self) -> bool:
        return self.spike_mismatches == 0 and self.score_max_relative_error <= self.score_tolerance

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "sequences": self.sequences, "dtype": self.dtype,
                "spike_mismatches": self.spike_mismatches,
                "score_max_relative_error": self.score_max_relative_error,
                "score_tolerance": self.score_tolerance,
                "top10_exact_agreement": self.top10_exact_agreement, "layers": self.layers}

    def summary(self) -> str:
        lines = [f"{'node':<24} {'model layer':<24} {'spikes (torch)':>15} {'spikes (NIR)':>13} {'differ':>7}"]
        for row in self.layers:
            lines.append(f"{row['node']:<24} {row['layer']:<24} {row['spikes_torch']:>15,} "
                         f"{row['spikes_graph']:>13,} {row['mismatches']:>7,}")
        verdict = "PASS" if self.passed else "FAIL"
        lines.append(f"{verdict}: {self.sequences} sequences, {self.dtype}; {self.spike_mismatches} spikes differ "
                     f"in {len(self.layers)} LIF layers; scores max relative error "
                     f"{self.score_max_relative_error:.2e} (tolerance {self.score_tolerance:.0e}); "
                     f"top-10 lists identical for {self.top10_exact_agreement:.1%} of sequences")
        return "\n".join(lines)


def _top10(scores: np.ndarray) -> np.ndarray:
    """Top-10 item ids per row, padding (id 0) excluded, ties by smaller id (ssr.metrics' rule)."""
    order = np.lexsort((np.arange(scores.shape[1] - 1)[None].repeat(len(scores), 0), -scores[:, 1:]), axis=1)
    return order[:, :10] + 1


TORCH_DTYPES = {"float64": torch.float64, "float32": torch.float32}


@torch.no_grad()
def torch_forward(model, manifest: Manifest, host_arrays: dict[str, np.ndarray], item_seq: np.ndarray,
                  dtype: str = "float32") -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The PyTorch model in `dtype` on `item_seq` (B, N): scores (B, items + 1) and the spikes of
    every LIF layer the manifest names, keyed by node, laid out as the graph's (T, B, C, n)."""
    deployment = deployment_of(manifest.model)
    lif_nodes = manifest.lif_layers()
    twin = copy.deepcopy(model).to(TORCH_DTYPES[dtype]).eval()
    captured: dict[str, list[torch.Tensor]] = {}  # layer -> its outputs, one per call
    handles = [twin.get_submodule(layer).register_forward_hook(
        lambda module, args, output, layer=layer: captured.setdefault(layer, []).append(output))
        for layer in set(lif_nodes.values())]
    try:
        scores = deployment.implementation().reference(twin, torch.from_numpy(item_seq), host_arrays)
    finally:
        for handle in handles:
            handle.remove()
    spikes, calls = {}, {}
    for node, layer in lif_nodes.items():  # a layer's nodes are listed in the order of its calls
        call = calls[layer] = calls.get(layer, -1) + 1
        spikes[node] = deployment.node_layout(captured[layer][call])
    return scores.numpy(), spikes


@torch.no_grad()
def verify(model, graph, manifest: Manifest, host_arrays: dict[str, np.ndarray], item_seq: np.ndarray,
           dtype: str = "float64", score_tolerance: float = 1e-5) -> VerifyReport:
    """Compare `model` with its exported `graph` on the sequences `item_seq` (B, N).

    manifest: the export manifest (its "nodes" name the model layer of every LIF node);
    host_arrays: the host file's arrays (e.g. a spike-wise item table).
    """
    from ssr.convert.executor import NIRExecutor
    from ssr.convert.portable import PortableExecutor

    torch_scores, captured = torch_forward(model, manifest, host_arrays, item_seq, dtype)
    lif_nodes = manifest.lif_layers()
    twin = copy.deepcopy(model).to(TORCH_DTYPES[dtype]).eval()
    executor = NIRExecutor if manifest.profile == "native" else (
        lambda graph, dtype: PortableExecutor(graph, manifest.portable, dtype))
    graph_scores, traces = deployment_of(manifest.model).implementation().run(
        twin, graph, host_arrays, item_seq, np.dtype(dtype), list(lif_nodes), executor)

    report = VerifyReport(sequences=len(item_seq), dtype=dtype, score_tolerance=score_tolerance)
    for node, layer in lif_nodes.items():
        torch_spikes = captured[node]
        graph_spikes = traces[node]
        if torch_spikes.shape != graph_spikes.shape:
            raise ValueError(f"node {node} emits {graph_spikes.shape} spikes but layer {layer} "
                             f"{torch_spikes.shape}: the manifest does not match the model")
        report.layers.append({"node": node, "layer": layer, "spikes_torch": int(torch_spikes.sum()),
                              "spikes_graph": int(graph_spikes.sum()),
                              "mismatches": int((torch_spikes != graph_spikes).sum())})
    torch_scores, graph_scores = torch_scores.astype(np.float64), graph_scores.astype(np.float64)
    scale = np.maximum(np.abs(torch_scores).max(axis=1, keepdims=True), np.finfo(np.float64).tiny)
    report.score_max_relative_error = float((np.abs(graph_scores - torch_scores) / scale).max())
    report.top10_exact_agreement = float((_top10(graph_scores) == _top10(torch_scores)).all(axis=1).mean())
    return report


def verify_inputs(checkpoint, data=None, split: str = "test", sequences: int = 256) -> np.ndarray:
    """The first `sequences` input windows (B, N) of `split` of `data` (default: the dataset recorded
    in the checkpoint), checked to fit the model: what `ssr-export --verify` runs."""
    from ssr.checkpoint import read_checkpoint
    from ssr.data.dataset import read_dataset

    payload = read_checkpoint(checkpoint)
    data = data or payload.get("dataset", {}).get("path")
    if not data:
        raise ValueError(f"{checkpoint} records no dataset; pass --data DATA.h5")
    if sequences < 1:
        raise ValueError(f"--verify-sequences must be at least 1, got {sequences}")
    dataset = read_dataset(data)
    if dataset.num_items != payload["num_items"] or dataset.max_len != payload["max_len"]:
        raise ValueError(f"{data} has {dataset.num_items} items / max length {dataset.max_len}, the model "
                         f"{payload['num_items']} / {payload['max_len']}; pass the dataset it was trained on "
                         "with --data")
    return dataset.inputs_and_targets(split)[0][:sequences]


def verify_export(graph_path, checkpoint, item_seq: np.ndarray, dtype: str = "float64") -> VerifyReport:
    """Read the written files back (nir.read, manifest, host file) and verify them against the
    checkpoint's model on `item_seq` (B, N)."""
    from ssr.checkpoint import load_checkpoint
    from ssr.convert.export import ExportedFiles
    from ssr.convert.portable import PROFILES

    model, _ = load_checkpoint(checkpoint)
    files = ExportedFiles(graph_path, profiles=PROFILES)
    return verify(model, files.graph, files.manifest, files.host_arrays, item_seq, dtype=dtype)
