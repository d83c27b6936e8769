"""`ssr energy-report RUN_DIR [RUN_DIR ...] [--lava lava.json] [--profile P] --out DIR`.

For every run: operations per layer and per inference on real test sequences, costed with an energy
profile, next to the run's test HR@10 / NDCG@10; ANN/SNN pairs (a spiking model and its ANN original
trained on the same dataset) get the saving. Writes DIR/report.json, report.md, report.html (one
self-contained page, figures inlined) and three PNGs.

How each kind of model is counted:
- ANN (and the float host layers of a hybrid): the PyTorch model's operators (ssr.energy.counter),
  MACs at E_MAC;
- SNN whose whole path is an exported graph (a whole-graph deployment, ssr.deploy): the graph's
  synaptic operations from the spikes it fires (ssr.energy.graph_count), ACs at E_AC, plus neuron
  updates;
- SNN with float layers (a hybrid): the PyTorch counter; its spike-driven layers' products are
  counted as spikes x fan-out (ACs), its float layers as MACs, plus neuron updates.
"""

from __future__ import annotations

import base64
import datetime
import html
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ssr import __version__
from ssr.artefacts import EnergyReport, GpuRun, LavaRun
from ssr.energy.counter import LayerCount, count_model
from ssr.energy.profiles import Profile

FIGURES = ("energy_per_layer.png", "accuracy_vs_energy.png", "firing_rates.png")
REPORT_FILES = ("report.md", "report.html", "report.json", *FIGURES)


def _read_json(path: Path, what: str) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} not found")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON ({error.msg} at line {error.lineno}); regenerate it") from None


def exported_files(run_dir: Path):
    """The run's export (RUN_DIR/model.nir + manifest + host file, hashes checked), which must come
    from the run's own model.pt: the energy of a whole-graph model is counted on the file a chip runs."""
    from ssr.convert.export import ExportedFiles
    from ssr.io import file_sha256

    graph = run_dir / "model.nir"
    if not graph.is_file():
        raise FileNotFoundError(f"{graph} not found: a whole-graph model is costed from its exported graph; "
                                f"run `ssr-export {run_dir / 'model.pt'} --to nir` first")
    files = ExportedFiles(graph)
    if files.manifest.provenance["checkpoint_sha256"] != file_sha256(run_dir / "model.pt"):
        raise ValueError(f"{graph} was exported from another checkpoint than {run_dir / 'model.pt'}; "
                         f"export it again: `ssr-export {run_dir / 'model.pt'} --to nir`")
    return files


def memory_bytes(model) -> dict[str, int]:
    """Parameter memory: 32-bit floats, except the item table at the bits per value the model
    stores it in (`item_table()`; a spike-wise table: T bits)."""
    total = sum(p.numel() for p in model.parameters()) * 4
    table, bits = model.item_table()
    table_bytes = bits * table // 8
    return {"total": total - table * 4 + table_bytes, "item_table": table_bytes, "item_table_dense_fp32": table * 4}


def _layer_rows(layers: dict[str, LayerCount], sequences: int, profile: Profile, kinds: dict[str, str],
                names: dict[str, str] | None = None) -> list[dict[str, Any]]:
    rows = []
    for name, layer in layers.items():
        row = layer.to_dict(sequences)
        row["ops"] = dict(row["ops"])
        row["model_layer"] = (names or {}).get(name, name)
        row["kind"] = ("neuron" if layer.neuron_updates and not layer.acs
                       else "spike" if layer.acs and not layer.macs else kinds.get(name, "float"))
        row["energy_pj"] = profile.energy(row)
        rows.append(row)
    return rows


def _totals(rows: list[dict[str, Any]]) -> dict[str, float]:
    return {key: float(sum(row[key] for row in rows))
            for key in ("macs", "float_adds", "acs", "neuron_updates", "energy_pj")}


def analyse_run(run_dir: Path, profile: Profile, sequences: int, lava: LavaRun | None,
                data: str | None = None) -> dict[str, Any]:
    """One model's entry of report.json."""
    from ssr.checkpoint import load_checkpoint
    from ssr.data.dataset import read_dataset

    run_dir = Path(run_dir)
    model, payload = load_checkpoint(run_dir / "model.pt")
    metrics = _read_json(run_dir / "metrics.json", "metrics file")
    data = data or payload.get("dataset", {}).get("path")
    if not data:
        raise ValueError(f"{run_dir}/model.pt records no dataset; pass --data")
    dataset = read_dataset(data)
    if dataset.num_items != model.num_items:
        raise ValueError(f"{data} has {dataset.num_items} items, the model in {run_dir} {model.num_items}; "
                         "pass the dataset it was trained on with --data")
    inputs = [a[:sequences] for a in model.inputs(dataset, "test")]
    if model.server_side_macs():  # a table fused with side information is built once, on the server: not counted
        with torch.no_grad():
            model.item_embeddings()
    item_seq = inputs[0]
    count = len(item_seq)
    kinds = model.layer_kinds()
    entry: dict[str, Any] = {
        "name": f"{model.name} ({Path(data).stem})", "model": model.name, "run": str(run_dir),
        "dataset": str(data), "dataset_fingerprint": dataset.fingerprint,
        "kind": "snn" if model.kind == "snn" else "ann",
        "HR@10": metrics["test"]["HR@10"], "NDCG@10": metrics["test"]["NDCG@10"],
        "sequences_counted": count, "ann_original": model.ann_original,
    }
    deployment = model.deployment
    if deployment is not None and deployment.whole_graph:  # the path is the exported graph: count the chip's work
        from ssr.energy.graph_count import count_export, count_from_lava

        layers, names = count_export(exported_files(run_dir), item_seq)
        entry["counting"] = "exported NIR graph, spikes from the reference executor (= PyTorch)"
        entry["layers"] = _layer_rows(layers, count, profile, {}, names)
        if lava is not None:
            lava_layers = count_from_lava(lava)
            entry["layers_lava"] = _layer_rows(lava_layers, lava.sequences, profile, {}, names)
            entry["lava"] = {"sequences": lava.sequences, "precision": lava.precision,
                             **_totals(entry["layers_lava"])}
    else:
        counted = count_model(model, *(torch.from_numpy(a) for a in inputs))
        entry["counting"] = "PyTorch operators (ssr.energy.counter)"
        entry["layers"] = _layer_rows(counted, count, profile, kinds)
    entry.update(_totals(entry["layers"]))
    entry["server_side_macs"] = model.server_side_macs()  # once per item table, apart from every inference
    entry["server_side_energy_pj"] = entry["server_side_macs"] * profile.mac
    memory = memory_bytes(model)
    entry["memory_bytes"] = memory["total"]
    entry["item_table_bytes"] = memory["item_table"]
    entry["item_table_dense_fp32_bytes"] = memory["item_table_dense_fp32"]
    entry["memory_access_pj"] = memory["total"] * profile.sram_byte  # every parameter read once
    return entry


def cost_run(run_dir: str | Path, data: str | Path, profile: str = "45nm-fp32", sequences: int = 256) -> dict[str, Any]:
    """A run's report entry as `ssr energy-report RUN_DIR` would compute it, for benchmarks: a
    whole-graph model is exported first (RUN_DIR/model.nir) when it has no export of its own yet."""
    from ssr.convert.export import export
    from ssr.deploy import deployable, deployment_of
    from ssr.energy.profiles import load_profile

    run_dir = Path(run_dir)
    name = _read_json(run_dir / "metrics.json", "metrics file")["model"]
    if name in deployable() and deployment_of(name).whole_graph and not (run_dir / "model.nir").is_file():
        export(run_dir / "model.pt")
    return analyse_run(run_dir, load_profile(profile), sequences, None, str(data))


def pairs(models: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every SNN with its ANN original trained on the same dataset, and the energy saving."""
    result = []
    for snn in models:
        if snn["kind"] != "snn" or not snn["ann_original"]:
            continue
        for ann in models:
            if ann["model"] == snn["ann_original"] and ann["dataset_fingerprint"] == snn["dataset_fingerprint"]:
                saving = 100.0 * (1.0 - snn["energy_pj"] / ann["energy_pj"]) if ann["energy_pj"] else None
                with_memory = snn["energy_pj"] + snn["memory_access_pj"]
                ann_memory = ann["energy_pj"] + ann["memory_access_pj"]
                result.append({"ann": ann["name"], "snn": snn["name"], "saving_percent": saving,
                               "saving_percent_with_memory": 100.0 * (1.0 - with_memory / ann_memory)
                               if ann_memory else None,
                               "HR@10_change_percent": 100.0 * (snn["HR@10"] / ann["HR@10"] - 1.0) if ann["HR@10"] else None})
    return result


def pareto_front(models: list[dict[str, Any]], metric: str = "NDCG@10") -> list[dict[str, Any]]:
    """The runs that no other run of the same dataset beats on both counts: none costs at most their
    energy per inference (`energy_pj`) with at least their test `metric`, better in one of the two.
    Runs of different datasets are never compared (their metrics are not on one scale). In the
    order given; two runs equal in both stay on the front together."""
    def beaten(run: dict[str, Any], by: dict[str, Any]) -> bool:
        return (by["dataset_fingerprint"] == run["dataset_fingerprint"] and by["energy_pj"] <= run["energy_pj"]
                and by[metric] >= run[metric] and (by["energy_pj"], by[metric]) != (run["energy_pj"], run[metric]))
    return [run for run in models if not any(beaten(run, other) for other in models)]


def _unique_names(models: list[dict[str, Any]]) -> None:
    """Runs of one model on one dataset (seeds, sizes) are told apart by their run folder in `name`,
    which the pairs, tables and figures refer to: "ssr (ml-100k_ufo, seed1)"."""
    names = [m["name"] for m in models]
    repeated = [m for m in models if names.count(m["name"]) > 1]
    folders = [Path(m["run"]).name for m in repeated]
    for model, folder in zip(repeated, folders):  # the whole path where the folders' names repeat too
        model["name"] = f"{model['name'][:-1]}, {folder if folders.count(folder) == 1 else model['run']})"


def build_report(run_dirs: list[str | Path], profile: Profile, sequences: int = 256,
                 lava_path: str | Path | None = None, data: str | None = None,
                 gpu_paths: list[str | Path] = ()) -> EnergyReport:
    resolved = [Path(run).resolve() for run in run_dirs]  # one folder under two spellings is one run
    repeated = next((run for run, path in zip(run_dirs, resolved) if resolved.count(path) > 1), None)
    if repeated is not None:
        raise ValueError(f"{repeated} is given twice; pass each run once")
    lava = LavaRun.read(lava_path) if lava_path else None
    gpu_runs = [GpuRun.read(path) for path in gpu_paths]
    models = []
    matched = False
    for run_dir in run_dirs:
        entry_lava = lava if lava is not None and _same_model(lava, run_dir) else None
        matched = matched or entry_lava is not None
        models.append(analyse_run(Path(run_dir), profile, sequences, entry_lava, data))
        measured = [gpu for gpu in gpu_runs if _same_model(gpu, run_dir)]
        if measured:
            models[-1]["gpu"] = [_gpu_summary(gpu) for gpu in measured]
    _unique_names(models)
    if lava is not None and not matched:
        raise ValueError(f"{lava_path} was measured on {lava.provenance['checkpoint']}, which is none of the "
                         "runs given (checkpoint sha256 differs); pass the run it was measured on")
    for path, gpu in zip(gpu_paths, gpu_runs):
        if not any(_same_model(gpu, run_dir) for run_dir in run_dirs):
            raise ValueError(f"{path} was measured on {gpu.provenance['checkpoint']}, which is none of the runs "
                             "given (checkpoint sha256 differs); pass the run it was measured on")
    return EnergyReport.from_dict({
        **EnergyReport.stamp(),
        "profile": profile.name,
        "profile_values_pj": {"mac": profile.mac, "add": profile.add, "ac": profile.ac,
                              "neuron_update": profile.neuron_update,
                              "sram_byte": profile.sram_byte, "dram_byte": profile.dram_byte},
        "profile_source": profile.source,
        "models": models,
        "pairs": pairs(models),
        "provenance": {"runs": [str(r) for r in run_dirs], "lava": str(lava_path) if lava_path else None,
                       "gpu": [str(p) for p in gpu_paths],
                       "ssr_version": __version__,
                       "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")},
    }, "energy-report's result")


def _gpu_summary(gpu: GpuRun) -> dict[str, Any]:
    """What the report shows of a gpu.json: device, and each timed row."""
    return {"device": gpu.device["name"], "device_type": gpu.device["type"], "device_note": gpu.device_note,
            "rows": [{key: row.get(key) for key in ("mode", "batch_size", "latency_ms_p50", "latency_ms_p95",
                                                     "throughput_sequences_per_second",
                                                     "board_energy_mj_per_inference", "error")}
                     for row in gpu.rows]}


def _same_model(lava: LavaRun | GpuRun, run_dir) -> bool:
    """Whether `lava` (a lava.json or gpu.json) was measured on the model in `run_dir` (same checkpoint bytes)."""
    from ssr.io import file_sha256

    checkpoint = Path(run_dir) / "model.pt"
    if not checkpoint.is_file():
        return False
    return file_sha256(checkpoint) == lava.provenance.get("checkpoint_sha256")


# --- rendering --------------------------------------------------------------------------------------


def _energy(pj: float) -> str:
    if pj >= 1e9:
        return f"{pj / 1e9:.2f} mJ"
    if pj >= 1e6:
        return f"{pj / 1e6:.2f} uJ"
    return f"{pj / 1e3:.2f} nJ"


def _bytes(count: float) -> str:
    return f"{count / 2 ** 20:.2f} MiB" if count >= 2 ** 20 else f"{count / 2 ** 10:.1f} KiB"


def headline_rows(report: EnergyReport) -> list[list[str]]:
    by_name = {m["name"]: m for m in report.models}
    rows = []
    for pair in report.pairs:
        ann, snn = by_name[pair["ann"]], by_name[pair["snn"]]
        rows.append([f"{ann['name']} vs {snn['name']}",
                     f"{ann['HR@10']:.4f} / {ann['NDCG@10']:.4f}", f"{snn['HR@10']:.4f} / {snn['NDCG@10']:.4f}",
                     _energy(ann["energy_pj"]), _energy(snn["energy_pj"]), f"{pair['saving_percent']:.2f}%",
                     f"{pair['saving_percent_with_memory']:.2f}%",
                     _bytes(ann["memory_bytes"]), _bytes(snn["memory_bytes"])])
    return rows


HEADLINE = ["pair (ANN vs SNN)", "ANN HR@10 / NDCG@10", "SNN HR@10 / NDCG@10", "ANN energy / inference",
            "SNN energy / inference", "saving", "saving incl. memory reads", "ANN memory", "SNN memory"]
PARETO_HEADER = ["run", "kind", "energy / inference", "NDCG@10", "HR@10"]
PARETO_NOTE = ("The runs no other run of the same dataset beats on both energy per inference and test NDCG@10, "
               "cheapest first: every other run pays more energy for no better ranking.")
LAYER_HEADER = ["layer", "model layer", "kind", "MACs", "float adds", "ACs", "neuron updates", "firing rate",
                "energy"]


def _layer_table(model: dict[str, Any], key: str = "layers") -> list[list[str]]:
    return [[row["name"], row["model_layer"], row["kind"], f"{row['macs']:,.0f}", f"{row['float_adds']:,.0f}",
             f"{row['acs']:,.0f}",
             f"{row['neuron_updates']:,.0f}", "" if row["firing_rate"] is None else f"{row['firing_rate']:.3f}",
             _energy(row["energy_pj"])] for row in model[key]]


def _markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def figures(report: EnergyReport) -> dict[str, bytes]:
    """The three PNGs, as bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def png(fig) -> bytes:
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
        plt.close(fig)
        return buffer.getvalue()

    by_name = {m["name"]: m for m in report.models}
    pair_list = [(p["ann"], p["snn"]) for p in report.pairs] or [(m["name"],) for m in report.models]
    fig, axes = plt.subplots(len(pair_list), 2, figsize=(11, 0.25 * max(
        len(by_name[n]["layers"]) for pair in pair_list for n in pair) * len(pair_list) + 1.5), squeeze=False)
    top = max(r["energy_pj"] for m in report.models for r in m["layers"]) / 1e6
    for row, pair in zip(axes, pair_list):  # ANN left, SNN right, each with its own layers
        for axis, name, colour in zip(row, pair, ("tab:blue", "tab:orange")):
            layers = by_name[name]["layers"]
            axis.barh(np.arange(len(layers)), [r["energy_pj"] / 1e6 for r in layers], color=colour)
            axis.set_yticks(np.arange(len(layers)), [r["name"] for r in layers], fontsize=7)
            axis.invert_yaxis()
            axis.set_xlim(0, top * 1.05)
            axis.set_title(f"{name}: {_energy(by_name[name]['energy_pj'])} per inference", fontsize=9)
            axis.set_xlabel(f"uJ per inference ({report.profile})", fontsize=8)
        for axis in row[len(pair):]:
            axis.set_visible(False)
    fig.tight_layout()
    energy_png = png(fig)

    fig, axis = plt.subplots(figsize=(6.5, 4.5))
    front = pareto_front(report.models)
    for model in report.models:
        marker = "o" if model["kind"] == "ann" else "^"
        axis.scatter(model["energy_pj"] / 1e6, model["NDCG@10"], marker=marker, s=60,
                     edgecolors="black" if model in front else "none")
        axis.annotate(model["name"], (model["energy_pj"] / 1e6, model["NDCG@10"]), fontsize=7,
                      xytext=(4, 4), textcoords="offset points")
    for fingerprint in dict.fromkeys(m["dataset_fingerprint"] for m in front):  # one staircase per dataset
        steps = sorted((m["energy_pj"] / 1e6, m["NDCG@10"]) for m in front if m["dataset_fingerprint"] == fingerprint)
        axis.step([e for e, _ in steps], [v for _, v in steps], where="post", color="grey", linewidth=0.8, zorder=0)
    axis.set_xscale("log")
    axis.set_xlabel(f"energy per inference (uJ, log scale), profile {report.profile}")
    axis.set_ylabel("test NDCG@10")
    axis.set_title("accuracy vs energy (o ANN, ^ SNN; outlined, on the line: Pareto front)")
    scatter_png = png(fig)

    spiking = [m for m in report.models if any(r["firing_rate"] is not None for r in m["layers"])]
    fig, axis = plt.subplots(figsize=(9, 3.5))
    for model in spiking:
        rates = [(r["name"], r["firing_rate"]) for r in model["layers"] if r["firing_rate"] is not None]
        axis.plot([n for n, _ in rates], [v for _, v in rates], marker="o", label=model["name"])
    axis.set_ylabel("firing rate (spikes per neuron per step)")
    axis.tick_params(axis="x", labelrotation=60, labelsize=7)
    if spiking:
        axis.legend(fontsize=8)
    rates_png = png(fig)
    return dict(zip(FIGURES, (energy_png, scatter_png, rates_png)))


def markdown(report: EnergyReport) -> str:
    parts = [f"# Energy report — profile `{report.profile}`", "",
             f"Per inference (one sequence scored against every item). E_MAC = {report.profile_values_pj['mac']} pJ, "
             f"float add = {report.profile_values_pj['add']} pJ, "
             f"E_AC = {report.profile_values_pj['ac']} pJ, neuron update = "
             f"{report.profile_values_pj['neuron_update']} pJ, SRAM read = {report.profile_values_pj['sram_byte']} "
             "pJ/byte.", "", f"Sources: {report.profile_source}.", "", "## Headline", "",
             _markdown_table(HEADLINE, headline_rows(report)) if report.pairs else "(no ANN/SNN pair among these runs)",
             "", "![energy per layer](energy_per_layer.png)", "", "![accuracy vs energy](accuracy_vs_energy.png)", "",
             "![firing rates](firing_rates.png)", "", *_pareto_section(report), "## Models", ""]
    for model in report.models:
        parts += [f"### {model['name']} — {model['kind'].upper()}", "",
                  f"Run `{model['run']}`; counted on {model['sequences_counted']} test sequences by "
                  f"{model['counting']}. Total per inference: {model['macs']:,.0f} MACs, {model['float_adds']:,.0f} "
                  f"float additions, {model['acs']:,.0f} ACs, "
                  f"{model['neuron_updates']:,.0f} neuron updates = **{_energy(model['energy_pj'])}**; reading every "
                  f"parameter once adds {_energy(model['memory_access_pj'])}. Parameters: {_bytes(model['memory_bytes'])} "
                  f"(item table {_bytes(model['item_table_bytes'])}; as 32-bit floats "
                  f"{_bytes(model['item_table_dense_fp32_bytes'])}).", "",
                  _markdown_table(LAYER_HEADER, _layer_table(model)), ""]
        for gpu in model.get("gpu", []):
            rows = [[row["mode"], str(row["batch_size"]),
                     "" if row["latency_ms_p50"] is None else f"{row['latency_ms_p50']:.2f}",
                     "" if row["latency_ms_p95"] is None else f"{row['latency_ms_p95']:.2f}",
                     "" if row["throughput_sequences_per_second"] is None else f"{row['throughput_sequences_per_second']:,.0f}",
                     "not measured" if row["board_energy_mj_per_inference"] is None
                     else f"{row['board_energy_mj_per_inference']:.4f} mJ", row["error"] or ""] for row in gpu["rows"]]
            parts += [f"Measured in PyTorch on {gpu['device']} ({gpu['device_note']}):", "",
                      _markdown_table(["mode", "batch", "p50 ms", "p95 ms", "sequences/s", "board energy / inference",
                                       "error"], rows), ""]
        if "layers_lava" in model:
            parts += [f"Measured in Lava's simulator ({model['lava']['sequences']} sequences, "
                      f"{model['lava']['precision']}): {_energy(model['lava']['energy_pj'])} per inference.", "",
                      _markdown_table(LAYER_HEADER, _layer_table(model, "layers_lava")), ""]
    parts += ["## Assumptions", "",
              "- Compute only, unless the 'incl. memory reads' column: every parameter read once from SRAM per "
              "inference; compute-only figures flatter SNNs, whose weights are read per synaptic event.",
              "- MACs: dense products of float layers, the FFT as n log2 n per real transform (plus (n/2) log2 n "
              "float additions), complex multiplies as 4 MACs; ACs: spikes x fan-out of spike-driven layers; "
              "neuron updates: one per LIF neuron (or integrator) per time step.",
              "- Elementwise operations (norms, residual adds, softmax) are not counted; normalisations of a "
              "whole-graph deployment are folded into its weights at export.",
              "- A model deployed as one whole graph is costed as that graph runs on a chip (its host's item "
              "table lookup is a host memory read); ANN and hybrid float layers as the PyTorch operators they run."]
    return "\n".join(parts) + "\n"


def _pareto_rows(report: EnergyReport) -> list[list[str]]:
    return [[m["name"], m["kind"].upper(), _energy(m["energy_pj"]), f"{m['NDCG@10']:.4f}", f"{m['HR@10']:.4f}"]
            for m in sorted(pareto_front(report.models), key=lambda m: (m["dataset"], m["energy_pj"]))]


def _pareto_section(report: EnergyReport) -> list[str]:
    return ["## Pareto front", "", PARETO_NOTE, "", _markdown_table(PARETO_HEADER, _pareto_rows(report)), ""]


def page(report: EnergyReport, pngs: dict[str, bytes]) -> str:
    """One self-contained HTML page: the markdown's content, tables as tables, figures inlined."""
    def table(header, rows):
        head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    def image(name):
        return f'<img alt="{name}" src="data:image/png;base64,{base64.b64encode(pngs[name]).decode()}">'

    values = report.profile_values_pj
    sections = [f"<h1>Energy report — profile <code>{html.escape(report.profile)}</code></h1>",
                f"<p>Per inference. E_MAC = {values['mac']} pJ, float add = {values['add']} pJ, "
                f"E_AC = {values['ac']} pJ, neuron update = "
                f"{values['neuron_update']} pJ, SRAM read = {values['sram_byte']} pJ/byte.</p>",
                f"<p class=source>Sources: {html.escape(report.profile_source)}</p>", "<h2>Headline</h2>",
                table(HEADLINE, headline_rows(report)) if report.pairs else "<p>No ANN/SNN pair among these runs.</p>",
                "<div class=figs>" + "".join(image(n) for n in FIGURES) + "</div>", "<h2>Pareto front</h2>",
                f"<p>{html.escape(PARETO_NOTE)}</p>", table(PARETO_HEADER, _pareto_rows(report)), "<h2>Models</h2>"]
    for model in report.models:
        sections += [f"<h3>{html.escape(model['name'])} — {model['kind'].upper()}: {_energy(model['energy_pj'])} per inference</h3>",
                     f"<p>{html.escape(model['counting'])}; {model['sequences_counted']} test sequences; "
                     f"parameters {_bytes(model['memory_bytes'])}.</p>", table(LAYER_HEADER, _layer_table(model))]
        for gpu in model.get("gpu", []):
            sections += [f"<p>Measured in PyTorch on {html.escape(gpu['device'])} ({html.escape(gpu['device_note'])}):</p>",
                         table(["mode", "batch", "p50 ms", "sequences/s", "board energy / inference"],
                               [[row["mode"], str(row["batch_size"]),
                                 "" if row["latency_ms_p50"] is None else f"{row['latency_ms_p50']:.2f}",
                                 "" if row["throughput_sequences_per_second"] is None
                                 else f"{row['throughput_sequences_per_second']:,.0f}",
                                 "not measured" if row["board_energy_mj_per_inference"] is None
                                 else f"{row['board_energy_mj_per_inference']:.4f} mJ"] for row in gpu["rows"]])]
        if "layers_lava" in model:
            sections += [f"<p>Measured in Lava ({model['lava']['sequences']} sequences): "
                         f"{_energy(model['lava']['energy_pj'])} per inference.</p>",
                         table(LAYER_HEADER, _layer_table(model, "layers_lava"))]
    style = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;margin:1em 0;font-size:13px}td,th{border:1px solid #ccc;"
             "padding:3px 8px;text-align:right}th{background:#f3f3f3}td:first-child{text-align:left}"
             ".figs img{max-width:100%;margin:0.5em 0}.source{font-size:12px;color:#555}")
    return (f"<!doctype html><html><head><meta charset=utf-8><title>Energy report</title>"
            f"<style>{style}</style></head><body>{''.join(sections)}</body></html>\n")


def write_report(report: EnergyReport, out: str | Path) -> Path:
    """DIR/report.json, report.md, report.html and the PNGs, together (all of them or none)."""
    import json

    from ssr.io import atomic_paths

    out = Path(out)
    contents = {**figures(report), "report.md": markdown(report).encode(),
                "report.json": (json.dumps(report.to_dict(), indent=2) + "\n").encode()}
    contents["report.html"] = page(report, {name: contents[name] for name in FIGURES if name in contents}).encode()
    names = list(contents)
    with atomic_paths([out / name for name in names]) as temps:
        for name, temp in zip(names, temps):
            temp.write_bytes(contents[name])
    return out
