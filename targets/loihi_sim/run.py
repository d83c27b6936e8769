"""`ssr run-lava model.nir --data data.h5 --out lava.json`: recommendations on the Loihi 2 CPU simulator.

A whole-graph model (one Input): compiles the exported graph once (targets.loihi_sim.compiler), runs
up to `--batch` copies of it side by side, each streaming its share of the split's sequences back to
back (input spikes from a memory-mapped file, one row per time step; neurons reset at every
sequence's first step), and reads each sequence's scores from the readout integrator. A model whose
sub-graphs need the host between them runs its own PyTorch code with each sub-graph call on Lava
(`LavaSession`: each sub-graph's processes start once per run and are fed call after call). Either
way the results are compared with the PyTorch model the graph was exported from (its checkpoint,
named in the manifest): recommendations and every LIF layer's spike count.
"""

from __future__ import annotations

import datetime
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from ssr import __version__
from ssr.artefacts import LavaRun
from ssr.deploy import deployment_of
from ssr.io import file_sha256
from ssr.metrics import mean_overlap
from ssr.convert.primitives import node_shape
from ssr.targets.loihi_sim import default_batch
from ssr.targets.loihi_sim.compiler import Plan, batch_plan, plan_graph, quantise

PRECISIONS = {"float": "floating_pt", "fixed": "fixed_pt"}


class LavaNetwork:
    """The Lava processes of a `Plan`. Inputs stream from .npy files (one row per time step), the
    readout integrators write one row per window (T steps: one sequence in each copy) to .npy files:
    `inputs` and `records` map node names to those paths; every LIF counts its spikes into a file in the folder `counts`
    (`spike_counts`). `fixed` (from compiler.quantise) switches every parameter to its integer
    form for fixed_pt. `block`: a network kept up between calls, whose files hold `block` rows (a
    multiple of T) that every `block` steps read and write again: the windows of `sequences`
    sequences (per copy), then idle steps that drain the pipeline; spikes count in the windows only."""

    def __init__(self, plan: Plan, sequences: int, inputs: dict[str, Path], records: dict[str, Path],
                 counts: Path, fixed: dict[str, Any] | None = None, counted: np.ndarray | None = None,
                 block: int | None = None) -> None:
        from ssr.targets.loihi_sim.lava_compat import import_lava

        import_lava()
        from lava.proc.sparse.process import DelaySparse, Sparse

        from ssr.targets.loihi_sim.lava_processes.models import (CountingLIF, FileSource, IntegratingSparse,
                                                                 SpikeRecorder)

        steps = plan.time_steps
        rows = block or sequences * steps  # file rows
        cyclic = block is not None
        if cyclic and block % steps:
            raise ValueError(f"a kept network's block ({block} steps) must be a multiple of T ({steps})")
        self.plan = plan
        self.sources = {name: FileSource(path=inputs[name], shape=(rows, size), cyclic=cyclic)
                        for name, size in plan.inputs.items()}
        self.lifs, self.count_paths = {}, {}
        for name, lif in plan.lifs.items():
            self.count_paths[name] = Path(counts) / f"{name}.counts.npy"
            np.save(self.count_paths[name], np.zeros(lif["size"], dtype=np.int64))
            q = fixed["lifs"][name] if fixed else None  # Lava's LIF takes both formats under one set of names
            params = ({"du": q["du_q12"], "dv": q["dv_q12"], "vth": q["vth_mant"], "bias_mant": q["bias_mant"],
                       "bias_exp": q["bias_exp"]}
                      if fixed else {"du": lif["du"], "dv": lif["dv"], "vth": lif["vth"], "bias_mant": lif["bias"]})
            # counted (copies,): windows each copy of a batched plan counts (the last one pads with copies);
            # a network kept up counts for as long as it runs, in each block's windows
            if cyclic:
                stop = np.iinfo(np.int64).max
            elif counted is None:
                stop = 1 + lif["lag"] + sequences * steps
            else:
                stop = np.repeat(1 + lif["lag"] + counted * steps, lif["size"] // len(counted))
            self.lifs[name] = CountingLIF(
                shape=(lif["size"],), **params, reset_interval=steps, reset_offset=(1 + lif["lag"]) % steps,
                count_path=self.count_paths[name], count_start=1 + lif["lag"], count_stop=stop, name=name,
                **({"count_period": block, "count_span": sequences * steps} if cyclic else {}))
        outputs = {**self.sources, **self.lifs}
        self.connections = []
        for synapse in plan.synapses:
            graded = synapse.source in plan.inputs  # host inputs may carry values other than 0/1
            weights, extra = synapse.weights, {"blocks": None if synapse.blocks is None else tuple(synapse.blocks)}
            if fixed:
                weights = fixed["synapses"][synapse.name]["weights"]
                extra.update(weight_exp=fixed["synapses"][synapse.name]["weight_exp"], num_weight_bits=8)
            if synapse.delay:
                delays = weights.copy().astype(np.int64)
                delays.data[:] = synapse.delay
                process = DelaySparse(weights=weights, delays=delays, max_delay=synapse.delay,
                                      num_message_bits=24 if graded else 0, **extra)
            else:
                process = Sparse(weights=weights, num_message_bits=24 if graded else 0, **extra)
            outputs[synapse.source].s_out.connect(process.s_in)
            process.a_out.connect(self.lifs[synapse.target].a_in)
            self.connections.append(process)
        self.integrators = {}
        for name, integrator in plan.integrators.items():
            is_readout = integrator["target"] not in plan.lifs
            weights, bias, exponent = sparse.csr_matrix(integrator["weights"]), integrator["bias"], 0
            if fixed:
                weights, bias = fixed["integrators"][name]["weights"], fixed["integrators"][name]["bias"]
                exponent = fixed["integrators"][name]["weight_exp"]
            process = IntegratingSparse(
                weights=weights, bias=bias, weight_exp=exponent, reset_interval=steps,
                reset_offset=(1 + integrator["input_lag"]) % steps, record_offset=integrator["input_lag"] + steps,
                record_path=records[name] if is_readout else None,
                num_message_bits=24 if integrator["source"] in plan.inputs else 0, cyclic=cyclic,
                blocks=integrator.get("blocks"))
            outputs[integrator["source"]].s_out.connect(process.s_in)
            if not is_readout:
                process.a_out.connect(self.lifs[integrator["target"]].a_in)
            self.integrators[name] = process
        self.recorders = {}
        for name, lif_name in plan.spike_outputs.items():  # spikes to the host, one row per step
            recorder = SpikeRecorder(path=records[name], shape=(rows, plan.lifs[lif_name]["size"]),
                                     offset=plan.lifs[lif_name]["lag"], cyclic=cyclic)
            self.lifs[lif_name].s_out.connect(recorder.s_in)
            self.recorders[name] = recorder
        for name, output in plan.step_outputs.items():  # a synapse's output to the host, every step
            process = IntegratingSparse(weights=sparse.csr_matrix(output["weights"]), bias=output["bias"],
                                        reset_interval=1, reset_offset=0, record_offset=output["input_lag"] + 1,
                                        record_path=records[name], cyclic=cyclic, blocks=output.get("blocks"))
            outputs[output["source"]].s_out.connect(process.s_in)
            self.integrators[name] = process
        self.any_process = next(iter(self.sources.values()))

    def run(self, steps: int, run_config) -> None:
        from lava.magma.core.run_conditions import RunSteps

        self.any_process.run(condition=RunSteps(num_steps=steps), run_cfg=run_config)

    def spike_counts(self, copies: int = 1) -> dict[str, np.ndarray]:
        """Every LIF node's spikes so far, per neuron of the model: the plan's populations hold
        `copies` copies of it side by side, whose counts are added up."""
        return {name: np.load(path).reshape(copies, -1).sum(axis=0) for name, path in self.count_paths.items()}

    def stop(self) -> None:
        self.any_process.stop()


class _KeptNetwork:
    """One sub-graph's network for calls of `batch` sequences, kept up between calls: `copies` side by
    side (compiler.batch_plan), each streaming batch / copies sequences back to back, T steps each,
    then idle steps (zero input) that drain the pipeline: one block of steps per call, all read from
    and written to the same rows of its files. Sequence w * copies + b is copy b's window w."""

    def __init__(self, graph, steps: int, batch: int, copies: int, folder: Path) -> None:
        self.plan = plan_graph(graph, steps)
        self.copies, self.windows, self.steps = copies, batch // copies, steps
        self.shapes = {name: node_shape(graph.nodes[name])
                       for name in [*self.plan.spike_outputs, *self.plan.step_outputs]}
        drain = -(-(max(self.plan.lags.values()) + 1) // steps) * steps  # whole windows: resets stay aligned
        self.rows = rows = self.windows * steps + drain
        paths = {name: folder / f"{name}.b{batch}.npy" for name in self.plan.inputs}
        record_paths = {name: folder / f"{name}.b{batch}.out.npy" for name in self.shapes}
        # mapped once, shared with the Lava processes' own maps of the same files
        self.streams = {name: np.lib.format.open_memmap(paths[name], mode="w+", dtype=np.float64,
                                                        shape=(rows, copies * size))
                        for name, size in self.plan.inputs.items()}
        self.recorded = {name: np.lib.format.open_memmap(record_paths[name], mode="w+", dtype=np.float64,
                                                         shape=(rows, copies * int(np.prod(shape))))
                         for name, shape in self.shapes.items()}
        for array in (*self.streams.values(), *self.recorded.values()):
            array.flush()
        self.network = LavaNetwork(batch_plan(self.plan, copies), self.windows, paths, record_paths, folder,
                                   block=rows)
        self.events = {name: np.zeros(size) for name, size in self.plan.inputs.items()}  # non-zero inputs

    def run(self, inputs: dict[str, np.ndarray], run_config) -> dict[str, np.ndarray]:
        """{input node: (T, batch, *shape)} -> {output node: (T, batch, *shape)}."""
        if set(inputs) != set(self.plan.inputs):  # a missing one would replay the last call's rows
            raise ValueError(f"a sub-graph call gives input nodes {sorted(inputs)}; its graph reads "
                             f"{sorted(self.plan.inputs)}")
        steps, windows, copies, used = self.steps, self.windows, self.copies, self.windows * self.steps
        for name, value in inputs.items():  # row w * T + t: copy b's neuron i at b * size + i
            value = np.asarray(value, dtype=np.float64).reshape(steps, windows, copies, -1)
            # no flush: the Lava processes map the same file shared and read these pages as written;
            # an msync per call only wrote them to disk
            self.streams[name][:used] = value.transpose(1, 0, 2, 3).reshape(used, -1)
            self.events[name] += (value != 0).sum(axis=(0, 1, 2))
        self.network.run(self.rows, run_config)
        return {name: np.array(self.recorded[name][:used])
                .reshape(windows, steps, copies, -1).transpose(1, 0, 2, 3).reshape(steps, windows * copies, *shape)
                for name, shape in self.shapes.items()}

    def add_counts(self, totals: dict[str, dict[str, float]]) -> None:
        """Add its spikes and synaptic operations to `totals` (after `network.stop()`)."""
        spikes = self.network.spike_counts(self.copies)
        for name, count in spikes.items():
            totals.setdefault("spikes", {}).setdefault(name, 0.0)
            totals["spikes"][name] += float(count.sum())
        for synapse, ops in self.plan.synaptic_ops({**self.events, **spikes}).items():
            totals.setdefault("synaptic_ops", {}).setdefault(synapse, 0.0)
            totals["synaptic_ops"][synapse] += ops


def simulator_config(tag: str):
    """Lava's CPU simulator for `tag` (floating_pt or fixed_pt), with our faster process models for
    lava's Sparse and DelaySparse (lava_processes.models.PROCESS_MODELS: the same arithmetic)."""
    from ssr.targets.loihi_sim.lava_compat import import_lava

    import_lava()
    from lava.magma.core.run_configs import Loihi2SimCfg

    from ssr.targets.loihi_sim.lava_processes.models import PROCESS_MODELS

    return Loihi2SimCfg(select_tag=tag, exception_proc_model_map=PROCESS_MODELS[tag])


class LavaSession:
    """NIR sub-graphs on Lava's simulator (floating_pt) for a host-in-the-loop run: each sub-graph
    starts its Lava processes once, at its first call (once more for a call of another batch size),
    and stays up until `close`, so a call costs its simulated steps, not a Lava start-up.
    `executor(graph, dtype)` has the reference executor's interface: `run({input node: (T, B,
    *shape)})` -> {output node: (T, B, *shape)}; the B sequences run as the largest divisor of B
    up to `batch` copies side by side, each streaming the rest back to back. `close` adds every LIF
    node's spikes and every synapse node's operations (events x fan-out) over all calls to `totals`."""

    def __init__(self, totals: dict[str, dict[str, float]], folder: Path, batch: int = 1) -> None:
        self.totals, self.folder, self.batch = totals, Path(folder), batch
        self.networks: dict[tuple, _KeptNetwork] = {}
        self.run_config = simulator_config("floating_pt")

    def executor(self, graph, dtype=None) -> "LavaSession._Call":
        return LavaSession._Call(self, graph)

    class _Call:
        def __init__(self, session: "LavaSession", graph) -> None:
            self.session, self.graph = session, graph

        def run(self, inputs: dict[str, np.ndarray], record=()) -> dict[str, np.ndarray]:
            steps, batch = next(iter(inputs.values())).shape[:2]
            key = (tuple(sorted(self.graph.nodes)), steps, batch)
            networks = self.session.networks
            if key not in networks:
                folder = self.session.folder / f"net{len(networks)}"
                folder.mkdir()
                copies = max(c for c in range(1, min(batch, self.session.batch) + 1) if batch % c == 0)
                networks[key] = _KeptNetwork(self.graph, steps, batch, copies, folder)
            return networks[key].run(inputs, self.session.run_config)

    def close(self) -> None:
        """Stop every network, each even when another fails (a Lava process left running keeps the
        interpreter from exiting), then add their counts; the first failure is raised after."""
        networks, self.networks = list(self.networks.values()), {}
        failure = None
        for network in networks:
            try:
                network.network.stop()
            except Exception as error:  # noqa: BLE001 (re-raised below, once all are stopped)
                failure = failure or error
        if failure is not None:
            raise failure
        for network in networks:
            network.add_counts(self.totals)


def _top_k(scores: np.ndarray, k: int = 10) -> np.ndarray:
    """Top-k item ids per row (padding id 0 excluded), ties by smaller id."""
    ids = np.arange(1, scores.shape[1])
    order = np.lexsort((np.broadcast_to(ids, scores[:, 1:].shape), -scores[:, 1:]), axis=1)
    return ids[order[:, :k]]


def _metrics_at_10(scores: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    """HR/NDCG/MRR@10 with ssr.metrics' rule (full ranking, padding excluded, ties by smaller id)."""
    import torch

    from ssr.metrics import RankingMetrics, target_ranks

    metrics = RankingMetrics()
    metrics.update(target_ranks(torch.from_numpy(scores), torch.from_numpy(targets)))
    result = metrics.result()
    return {key: result[key] for key in ("HR@10", "NDCG@10", "MRR@10")}


def _quantisation_summary(fixed: dict[str, Any], plan: Plan) -> dict[str, Any]:
    """What fixed_pt chose per layer (see compiler.quantise) and the largest weight and bias rounding
    errors, in float units (0 for a model trained with quantise_weights)."""
    return {
        # "vth" and "dv" repeat vth_mant and dv_q12 under the names lava.json had before
        "lifs": {name: {"vth_mant": q["vth_mant"], "dv_q12": q["dv_q12"], "vth": q["vth_mant"], "dv": q["dv_q12"],
                        "bias_exp": q["bias_exp"],
                        "worst_case_input": round(q["input_bound"], 4), "max_bias_error": q["max_bias_error"]}
                 for name, q in fixed["lifs"].items()},
        "synapses": {name: {"weight_exp": q["weight_exp"], "max_weight_error": q["max_weight_error"]}
                     for name, q in {**fixed["synapses"], **fixed["integrators"]}.items()},
    }


def _pytorch_reference(model, files, inputs: np.ndarray) -> tuple[np.ndarray, dict[str, int]]:
    """The PyTorch model on `inputs`, in batches: scores and each LIF node's spike total. In float64,
    the precision Lava's floating_pt computes in (and the host layers of a host-in-the-loop run): in
    float32 a rounding difference now and then flips a neuron sitting at its threshold (1 spike in
    459,111 over 128 sequences of a host-in-the-loop model), PyTorch's rounding, not Lava's."""
    from ssr.convert.verify import torch_forward

    scores, spikes = None, {}
    for start in range(0, len(inputs), 256):
        batch_scores, batch_spikes = torch_forward(model, files.manifest, files.host_arrays, inputs[start:start + 256],
                                                   dtype="float64")
        scores = np.zeros((len(inputs), batch_scores.shape[1])) if scores is None else scores
        scores[start:start + 256] = batch_scores
        for name, value in batch_spikes.items():
            spikes[name] = spikes.get(name, 0) + int(value.sum())
    return scores, spikes


def _comparison(scores: np.ndarray, torch_scores: np.ndarray, targets: np.ndarray,
                layers: list[dict[str, Any]]) -> dict[str, Any]:
    """What lava.json says about quality and agreement: HR/NDCG/MRR@10 from Lava's scores and from
    PyTorch's, top-10 agreement (exact lists, mean overlap), spike counts, every sequence's lists."""
    lava_top, torch_top = _top_k(scores), _top_k(torch_scores)
    return {
        **_metrics_at_10(scores, targets),
        "top10_exact_agreement": float((lava_top == torch_top).all(axis=1).mean()),
        "mean_top10_overlap": mean_overlap(lava_top, torch_top),
        "pytorch": _metrics_at_10(torch_scores, targets),
        "spike_counts_identical": all(row["spikes"] == row["spikes_pytorch"] for row in layers if row["kind"] == "LIF"),
        "per_sequence": [{"lava_top10": a.tolist(), "pytorch_top10": b.tolist(), "target": int(t)}
                         for a, b, t in zip(lava_top, torch_top, targets)],
    }


def _run_host_in_the_loop(files, model, inputs: np.ndarray, targets: np.ndarray, chunk: int, progress: bool,
                          provenance: dict[str, str], checkpoint_sha256: str, batch: int) -> LavaRun:
    """Models exported as sub-graphs with host layers between them: the model's own deployment
    loop (`run` of its deployment module, ssr.deploy), each sub-graph call run on Lava's simulator
    (floating_pt) for a chunk of sequences at a time (up to `batch` of them side by side, the rest
    back to back) on networks started once for the whole run (LavaSession)."""
    import copy

    import torch
    from tqdm import tqdm

    manifest = files.manifest
    deployment = deployment_of(manifest.model).implementation()
    twin = copy.deepcopy(model).double().eval()
    totals: dict[str, dict[str, float]] = {}
    count, steps = len(inputs), manifest.time_steps
    scores = np.zeros((count, manifest.num_items + 1))
    start_time = time.perf_counter()
    with (tempfile.TemporaryDirectory(prefix="ssr-lava-") as folder,
          tqdm(total=count, unit="seq", desc="lava", disable=not progress) as bar, torch.no_grad()):
        session = LavaSession(totals, Path(folder), batch)
        try:
            for start in range(0, count, chunk):
                item_seq = inputs[start:start + chunk]
                scores[start:start + len(item_seq)], _ = deployment.run(
                    twin, files.graph, files.host_arrays, item_seq, np.dtype("float64"), [], session.executor)
                bar.update(len(item_seq))
        finally:
            session.close()
    run_seconds = time.perf_counter() - start_time
    torch_scores, torch_spikes = _pytorch_reference(model, files, inputs)
    layers = []
    for name in manifest.lif_layers():
        neurons = int(np.prod(manifest.nodes[name]["output_shape"]))
        spikes = int(totals.get("spikes", {}).get(name, 0))
        layers.append({"node": name, "kind": "LIF", "neurons": neurons, "spikes": spikes,
                       "spikes_pytorch": torch_spikes[name], "spike_rate": spikes / (neurons * steps * count)})
    layers += [{"node": name, "kind": "synapse", "synaptic_ops": int(ops)}
               for name, ops in totals.get("synaptic_ops", {}).items()]
    return LavaRun.from_dict({
        **LavaRun.stamp(),
        "sequences": count, "sequences_per_second": count / run_seconds, "precision": "float",
        "mode": "host in the loop: each sub-graph on Lava (started once, kept up between calls), the host layers in PyTorch (float64)",
        "layers": layers,
        **_comparison(scores, torch_scores, targets, layers),
        "time_steps_per_sequence": steps, "wall_seconds": {"run": round(run_seconds, 3)}, "chunk": chunk, "batch": batch,
        "provenance": {**provenance, "graph_sha256": files.graph_sha256,
                       "checkpoint_sha256": checkpoint_sha256, "ssr_version": __version__,
                       "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")},
    }, "run-lava's result")


def run_lava(graph_path: str | Path, data: str | Path, split: str = "test", limit: int | None = None,
             precision: str = "float", checkpoint: str | Path | None = None, chunk: int = 64,
             progress: bool = True, batch: int | None = None) -> LavaRun:
    """Run the exported graph on Lava's simulator; returns what `lava.json` holds. `batch` sequences
    are simulated side by side (compiler.batch_plan; host in the loop: at most that many per
    sub-graph call; default `default_batch` of the deployment); `chunk` sequences per run call."""
    from tqdm import tqdm

    from ssr.checkpoint import load_checkpoint
    from ssr.convert.export import ExportedFiles
    from ssr.data.dataset import read_dataset

    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose float or fixed")
    if chunk < 1:
        raise ValueError(f"--chunk must be at least 1, got {chunk}")
    if batch is not None and batch < 1:
        raise ValueError(f"--batch must be at least 1, got {batch}")
    files = ExportedFiles(graph_path)
    manifest = files.manifest
    deployment = deployment_of(manifest.model)
    batch = default_batch(deployment.whole_graph) if batch is None else batch
    if not deployment.whole_graph and precision != "float":
        raise ValueError(f"{graph_path} holds {manifest.model!r} sub-graphs with host layers between them; "
                         "they run floating_pt only (--precision float): fixed_pt needs a whole-graph deployment")
    checkpoint = Path(checkpoint or manifest.provenance["checkpoint"])
    if not checkpoint.is_file():
        raise FileNotFoundError(f"checkpoint {checkpoint} (named in the manifest) not found; pass the model "
                                "the graph was exported from with --checkpoint")
    checkpoint_sha256 = file_sha256(checkpoint)
    if checkpoint_sha256 != manifest.provenance["checkpoint_sha256"]:
        raise ValueError(f"{checkpoint} is not the checkpoint {graph_path} was exported from (sha256 differs from "
                         "the manifest's); pass that one with --checkpoint, or export this one")
    dataset = read_dataset(data)
    if dataset.num_items != manifest.num_items or dataset.max_len != manifest.max_len:
        raise ValueError(f"{data} has {dataset.num_items} items / max length {dataset.max_len}; the graph "
                         f"{manifest.num_items} / {manifest.max_len}: pass the dataset it was trained on")
    inputs, targets = dataset.inputs_and_targets(split)
    if limit is not None:
        if limit < 1:
            raise ValueError(f"--limit must be at least 1, got {limit}")
        inputs, targets = inputs[:limit], targets[:limit]
    count, steps = len(inputs), manifest.time_steps
    model, _ = load_checkpoint(checkpoint)

    if not deployment.whole_graph:
        return _run_host_in_the_loop(files, model, inputs, targets, chunk, progress,
                                     {"graph": str(graph_path), "data": str(data), "split": split,
                                      "checkpoint": str(checkpoint)}, checkpoint_sha256, batch)
    feed = deployment.implementation().feed

    copies = max(1, min(batch, count))  # sequences simulated side by side
    windows = -(-count // copies)  # T-step windows streamed back to back, `copies` sequences each
    counted = np.array([-(-(count - b) // copies) for b in range(copies)])  # windows with a real sequence
    with tempfile.TemporaryDirectory(prefix="ssr-lava-") as folder:
        plan = plan_graph(files.graph, steps)
        (input_name,) = plan.inputs
        (readout_name,) = [n for n, i in plan.integrators.items() if i["target"] not in plan.lifs]
        readout_lag = plan.integrators[readout_name]["input_lag"]
        width = plan.inputs[input_name]
        input_path, record_path = Path(folder) / "input.npy", Path(folder) / "scores.npy"
        stream = np.lib.format.open_memmap(input_path, mode="w+", dtype=np.uint8, shape=(windows * steps, copies * width))
        input_spike_count = np.zeros(width)  # per input neuron, for the synaptic operations
        group = copies * max(1, 512 // copies)
        for start in range(0, count, group):  # row w * T + t: copy b holds sequence w * copies + b at step t
            spikes = feed(files.host_arrays, inputs[start:start + group])[input_name]  # (T, b, *input shape)
            spikes = spikes.reshape(steps, spikes.shape[1], width)
            input_spike_count += spikes.sum(axis=(0, 1))
            padded = np.zeros((steps, -(-spikes.shape[1] // copies) * copies, width), dtype=np.uint8)
            padded[:, :spikes.shape[1]] = spikes  # a padding copy gets no input
            rows = padded.reshape(steps, -1, copies * width).transpose(1, 0, 2).reshape(-1, copies * width)
            first = start // copies * steps
            stream[first:first + len(rows)] = rows
        stream.flush()
        del stream
        batched = batch_plan(plan, copies)
        fixed = quantise(batched) if precision == "fixed" else None
        np.lib.format.open_memmap(record_path, mode="w+", dtype=np.int64 if fixed else np.float64,
                                  shape=(windows, copies * (manifest.num_items + 1))).flush()
        compile_start = time.perf_counter()
        network = LavaNetwork(batched, windows, {input_name: input_path}, {readout_name: record_path}, Path(folder),
                              fixed, counted=counted if copies > 1 else None)
        run_config = simulator_config(PRECISIONS[precision])
        compile_seconds = time.perf_counter() - compile_start

        total_steps = windows * steps + readout_lag + 1  # the last window leaves the pipeline
        step, done, first_call = 0, 0, None
        run_start = time.perf_counter()
        bar = tqdm(total=count, unit="seq", desc="lava", disable=not progress)
        try:
            while step < total_steps:
                run_steps = min(max(1, chunk // copies) * steps, total_steps - step)
                call_start = time.perf_counter()
                network.run(run_steps, run_config)
                first_call = time.perf_counter() - call_start if first_call is None else first_call
                step += run_steps
                finished = min(count, copies * max(0, (step - readout_lag - steps) // steps + 1))
                bar.update(finished - done)
                done = finished
        finally:
            bar.close()
            network.stop()
        lava_spikes = network.spike_counts(copies)
        run_seconds = time.perf_counter() - run_start
        scores = np.array(np.load(record_path, mmap_mode="r"), dtype=np.float64).reshape(windows * copies, -1)[:count]
        if fixed:  # integer totals -> scores
            scores /= fixed["integrators"][readout_name]["scale"]

    pytorch_start = time.perf_counter()
    torch_scores, torch_spikes = _pytorch_reference(model, files, inputs)
    pytorch_seconds = time.perf_counter() - pytorch_start
    layers = []
    for name, lif in plan.lifs.items():
        layers.append({"node": name, "kind": "LIF", "neurons": lif["size"], "lag": lif["lag"],
                       "spikes": int(lava_spikes[name].sum()), "spikes_pytorch": torch_spikes[name],
                       "spike_rate": float(lava_spikes[name].sum() / (lif["size"] * steps * count))})
    synaptic_ops = plan.synaptic_ops({input_name: input_spike_count, **lava_spikes})
    for synapse in plan.synapses:
        layers.append({"node": synapse.name, "kind": "DelaySparse" if synapse.delay else "Sparse",
                       "source": synapse.source, "target": synapse.target, "synapses": int(synapse.weights.nnz),
                       "synaptic_ops": int(synaptic_ops[synapse.name])})
    for name, integrator in plan.integrators.items():
        layers.append({"node": integrator["synapse"], "kind": "IntegratingSparse", "source": integrator["source"],
                       "target": name, "neurons": int(integrator["weights"].shape[0]),
                       "synapses": int(integrator["weights"].nnz),
                       "synaptic_ops": int(synaptic_ops[integrator["synapse"]])})
    return LavaRun.from_dict({
        **LavaRun.stamp(),
        "sequences": count,
        "sequences_per_second": count / run_seconds,
        "precision": precision,
        "layers": layers,
        **_comparison(scores, torch_scores, targets, layers),
        "simulated_time_steps": step,
        "time_steps_per_sequence": steps,
        # compile: NIR -> Lava processes; run: every simulated step, of which first_run_call holds
        # lava's own compile and the start of its process per Lava process; pytorch: the comparison
        "wall_seconds": {"compile": round(compile_seconds, 3), "run": round(run_seconds, 3),
                         "first_run_call": round(first_call, 3), "pytorch": round(pytorch_seconds, 3)},
        "steps_per_run_call": max(1, chunk // copies) * steps,
        "batch": copies,
        **({"quantisation": _quantisation_summary(fixed, plan)} if fixed else {}),
        "provenance": {"graph": str(graph_path), "graph_sha256": files.graph_sha256, "data": str(data),
                       "split": split, "checkpoint": str(checkpoint),
                       "checkpoint_sha256": checkpoint_sha256, "ssr_version": __version__,
                       "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")},
    }, "run-lava's result")
