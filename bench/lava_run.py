"""`ssr run-lava` on an SSR model trained on ml-100k: the whole test split, floating_pt and fixed_pt.

Records what lava.json holds (quality from Lava's scores, agreement with PyTorch, spike counts,
synaptic operations, sequences/s and where the time goes) for both precisions, plus the goals.
fixed_pt runs twice: on the float-trained model (the compiler rounds its weights to 8 bits) and on
the same model fine-tuned with `quantise_weights` (weights and biases on Loihi's grids; fine-tuned
here when its run directory holds no model yet), with what that quantisation costs against the
float model on the whole test split. `--sequences N` runs only the first N test sequences.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from bench.common import RESULTS, earlier_result, earlier_rows, save_result, sequence_count
from ssr.checkpoint import load_checkpoint, model_from_checkpoint
from ssr.convert.export import export
from ssr.data.dataset import read_dataset
from ssr.evaluate import evaluate
from ssr.metrics import mean_overlap, top_k
from ssr.targets.loihi_sim.run import run_lava
from ssr.train.trainer import TrainConfig, train

KEYS = ("HR@10", "top10_exact_agreement", "mean_top10_overlap", "spike_counts_identical", "sequences_per_second")


def lava(graph: Path, data: Path, precision: str, sequences: int | None) -> dict:
    run = run_lava(graph, data, limit=sequences, precision=precision, progress=False)
    run.write(graph.parent / f"lava_{precision}.json")  # for the energy benchmark
    result = run.to_dict()
    result.pop("per_sequence")
    print(graph.parent.parent.name, precision, {k: result[k] for k in KEYS})
    return result


def quantisation_cost(float_run: Path, quantised_run: Path, data: Path, sequences: int | None) -> dict:
    """The quantise_weights model against the float model it was fine-tuned from, all in PyTorch:
    test metrics on the whole split (also of the float weights with quantisation switched on, before
    any fine-tuning) and top-10 overlap on the benchmark's sequences."""
    dataset = read_dataset(data)
    float_model, float_payload = load_checkpoint(float_run / "model.pt")
    quantised_model, payload = load_checkpoint(quantised_run / "model.pt")
    unchanged = model_from_checkpoint({**float_payload, "config": {**float_payload["config"], "quantise_weights": True}})
    models = (("float", float_model), ("quantise_weights_before_fine_tuning", unchanged),
              ("quantise_weights", quantised_model))
    metrics = {name: {k: v for k, v in evaluate(model, dataset, "test").items() if k.endswith("@10")}
               for name, model in models}
    item_seq = torch.from_numpy(dataset.inputs_and_targets("test")[0][:sequences])
    with torch.no_grad():
        top = [top_k(model.score_all(item_seq), 10).numpy() for model in (float_model, quantised_model)]
    overlap = mean_overlap(*top)
    relative = {name: {k: (metrics[name][k] - metrics["float"][k]) / metrics["float"][k] for k in metrics["float"]}
                for name in ("quantise_weights_before_fine_tuning", "quantise_weights")}
    return {"test_split": metrics, "relative_change": relative, "top10_overlap_with_float_model": overlap,
            "fine_tuning": {"epochs": payload["train_config"].get("epochs"), "lr": payload["train_config"].get("lr"),
                            "init_from": payload["train_config"].get("init_from")}}


PRECISIONS = ("float", "fixed", "fixed_quantise_weights")  # the last: the quantise_weights model, fixed_pt


def main(run: Path, data: Path, sequences: int | None = None, quantised_run: Path | None = None,
         finetune_epochs: int = 3, threads: int = 1, precisions: tuple[str, ...] = PRECISIONS,
         merge: bool = False) -> dict:
    graph = run / "export" / "model.nir"
    export(run / "model.pt", out=graph)
    rows = {precision: lava(graph, data, precision, sequences) for precision in ("float", "fixed")
            if precision in precisions}
    out = {"run": str(run), "data": str(data),
           "goals": {"float_top10_identical": ">= 0.99", "fixed_mean_top10_overlap": ">= 0.9",
                     "fixed_HR@10_relative": "within 5%", "500_sequences_seconds": "< 600, aim < 60",
                     "float_sequences_per_second (issue 27)": ">= 500", "fixed_sequences_per_second (issue 27)": ">= 250"}}
    if "fixed_quantise_weights" in precisions:
        quantised_run = quantised_run or run.parent / f"{run.name}_quantised"
        if not (quantised_run / "model.pt").exists():  # resumable like any training run
            train("ssr", data, quantised_run, TrainConfig(epochs=finetune_epochs, lr=1e-4, threads=threads,
                                                          init_from=str(run / "model.pt")),
                  {"quantise_weights": True}, progress=False)
        quantised_graph = quantised_run / "export" / "model.nir"
        export(quantised_run / "model.pt", out=quantised_graph)
        rows["fixed_quantise_weights"] = lava(quantised_graph, data, "fixed", sequences)
        out["quantised_run"] = str(quantised_run)
        out["quantisation_cost"] = quantisation_cost(run, quantised_run, data, sequences)
    if merge:  # the precisions not run now stay as measured before (each row's provenance names its graph)
        previous = earlier_result("lava_run")
        merged = {**earlier_rows(previous, "results"), **rows}
        rows = {k: merged[k] for k in PRECISIONS if k in merged}
        out = {**{k: previous[k] for k in ("quantised_run", "quantisation_cost") if k in previous}, **out}
    out["sequences"] = next(iter(rows.values()))["sequences"]
    out["results"] = rows
    save_result("lava_run", out)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default=str(RESULTS.parent / "work" / "runs" / "ml-100k_ssr_seed0"),
                        help="an ssr run directory trained on ml-100k (default: the quality benchmark's seed 0)")
    parser.add_argument("--data", default=str(RESULTS.parent / "work" / "ml-100k_ufo.h5"))
    parser.add_argument("--sequences", type=sequence_count, default=None,
                        help="the first N test sequences, or all (default: the whole test split)")
    parser.add_argument("--quantised-run", help="run directory of the quantise_weights fine-tuning "
                                                "(default: RUN_quantised beside --run; trained when empty)")
    parser.add_argument("--finetune-epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch threads for the fine-tuning")
    parser.add_argument("--precisions", default=",".join(PRECISIONS),
                        help=f"comma-separated, of: {', '.join(PRECISIONS)} (default all)")
    parser.add_argument("--merge", action="store_true", help="keep the precisions not run now from lava_run.json")
    args = parser.parse_args()
    precisions = tuple(args.precisions.split(","))
    unknown = [p for p in precisions if p not in PRECISIONS]
    if unknown:
        parser.error(f"unknown precision(s) {', '.join(unknown)}; choose from {', '.join(PRECISIONS)}")
    main(Path(args.run), Path(args.data), args.sequences,
         Path(args.quantised_run) if args.quantised_run else None, args.finetune_epochs, args.threads,
         precisions, args.merge)
