"""Why the deployable ssr trails FMLP-Rec on ml-100k: one change at a time, same protocol.

Every variant trains on ml-100k (`ufo`, max length 50; `--dataset beauty`: Amazon Beauty, `loo`) exactly as
the quality benchmark's runs do (at most 15 epochs, patience 5 on validation MRR@10, one torch thread) and changes one thing against
`ssr`. The quality benchmark's runs of fmlp, ssr and ssr-hybrid (WORK/runs/ml-100k_<model>_seed<k>) are reused
when they exist. Recorded per variant: test HR/NDCG/MRR@10 (plain), the best epoch, the training
loss at the last epoch (a model that cannot fit the data shows it there first), validation and test
diagnostics of what the model does with histories (`diagnose`: NDCG@10 by history length, on
truncated windows, the popularity of what it recommends, the effective rank of its user vectors) and,
for the spiking table, the fraction of its entries that fire.

`float-readout` scores against the float encoding currents of the items instead of the binary
table's rates (the lookup still sees spikes); `float-lookup` feeds the stimulus encoder the items'
float currents (the same at every time step) instead of their spike rows (scoring still against the
rates). Both are diagnostics, not deployable models, registered by this module only.
`position-current` adds a learned current per position and channel (N, D) to the stimulus LIF's
input: a bias per neuron, which a chip holds natively, so this one would stay deployable.

The levers of issue 23 (each alone first, one seed): `ssr-dropout0` trains without dropout (ssr
under-fits); `ssr-teacher` distils the same seed's fmlp run (`ssr train --teacher`, w 0.5, tau 2),
a training-only change. Every row also records the energy per inference (`ssr energy-report`'s
counter, 45nm-fp32, the first 256 test sequences), so accuracy is never read without its cost.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

import numpy as np
import torch

from bench.common import RESULTS, SHARED_DATA, earlier_result, earlier_rows, merge_per_seed, save_result
from ssr.checkpoint import load_checkpoint
from ssr.data.dataset import SequenceDataset, read_dataset
from ssr.data.prepare import PrepareConfig, prepare
from ssr.metrics import RankingMetrics, target_ranks, top_k
import ssr.models  # noqa: F401  (registers every model: shipped() reads their configs)
from ssr.models.base import MODELS, register
from ssr.models.fmlp.ssr import SSR
from ssr.train.matrix import KNOWN_DATASETS
from ssr.train.trainer import TrainConfig, train
from ssr.train.uniformity import uniformity_loss


class SSRFloatItems(SSR):
    """ssr with the items' float currents (num_items + 1, D) in place of their spikes: at the lookup
    (the same currents at every time step) and/or at the scoring (instead of the spike rates)."""

    kind = "diagnostic"
    float_lookup = False
    float_readout = False

    def currents(self) -> torch.Tensor:
        return self.item_embedding.weight * self.config.item_current_scale  # (num_items + 1, D)

    def lookup_table(self, table: torch.Tensor) -> torch.Tensor:
        return self.currents().expand(self.config.time_steps, -1, -1) if self.float_lookup else table

    def forward(self, item_seq: torch.Tensor) -> torch.Tensor:
        return self._represent(item_seq, self.lookup_table(self.spike_table()))

    def scores_with_table(self, item_seq: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        readout = self.currents() if self.float_readout else table.mean(0)
        return self._represent(item_seq, self.lookup_table(table)) @ readout.T


@register
class SSRFloatReadout(SSRFloatItems):
    name = "ssr-float-readout"
    float_readout = True


@register
class SSRFloatLookup(SSRFloatItems):
    name = "ssr-float-lookup"
    float_lookup = True


@register
class SSRPositionCurrent(SSR):
    """ssr with a learned (N, D) current per position into the stimulus LIF (initially zero)."""

    name = "ssr-position-current"
    kind = "diagnostic"

    def __init__(self, config, num_items: int, max_len: int) -> None:
        super().__init__(config, num_items, max_len)
        self.position_current = torch.nn.Parameter(torch.zeros(max_len, config.hidden))
        self.stimulus_lif.register_forward_pre_hook(lambda _, args: (args[0] + self.position_current,))


# ssr's distillation recipe for issue 23 (w 0.9 on the soft targets, lr 3e-3), applied to the zoo too
RECIPE = {"lr": 3e-3, "teacher_weight": 0.9}
W05 = {"teacher_weight": 0.5}  # the distillation weight before the recipe became the default


def shipped(model: str, **changes) -> dict:
    """`model`'s config as the matrix trained it before issue 23 changed its defaults (per_step
    recurrence, float scoring), with `changes`: the variants below keep meaning what they measured."""
    return {**MODELS[model].Config.former_defaults, **changes}


# name -> (model, model config, training overrides, what it changes)
VARIANTS = {
    "fmlp": ("fmlp", {}, {}, "the ANN original (reference)"),
    "ssr": ("ssr", {}, {}, "the deployable model as shipped (reference)"),
    "ssr-hybrid": ("ssr-hybrid", {}, {}, "the released code's architecture (reference)"),
    "ssr-lr3e-3": ("ssr", {}, {"lr": 3e-3}, "learning rate 3e-3 instead of the paper's 1e-3"),
    "fmlp-lr3e-3": ("fmlp", {}, {"lr": 3e-3}, "the ANN original at the same learning rate 3e-3 (fair comparison)"),
    "ssr-float-readout": ("ssr-float-readout", {}, {},
                          "scores against float item currents instead of the binary table's rates"),
    "ssr-float-lookup": ("ssr-float-lookup", {}, {},
                         "the encoder reads float item currents instead of the table's spikes"),
    "ssr-position-current": ("ssr-position-current", {}, {},
                             "a learned current per position and channel into the stimulus LIF"),
    "ssr-dropout0": ("ssr", {"dropout": 0.0}, {}, "no dropout (the shipped ssr uses 0.2 and under-fits)"),
    "ssr-teacher": ("ssr", {}, {"teacher": "fmlp", **W05},
                    "distilled from the same seed's fmlp run (w 0.5, tau 2); deployment unchanged"),
    "ssr-teacher-dropout0": ("ssr", {"dropout": 0.0}, {"teacher": "fmlp", **W05}, "both levers above together"),
    "ssr-teacher-lr3e-3": ("ssr", {}, {"teacher": "fmlp", "lr": 3e-3, **W05},
                           "distillation with the learning rate 3e-3 that helped alone"),
    "ssr-teacher-lr3e-3-dropout0": ("ssr", {"dropout": 0.0}, {"teacher": "fmlp", "lr": 3e-3, **W05},
                                    "distillation, lr 3e-3 and no dropout together"),
    "ssr-teacher-w0.9": ("ssr", {}, {"teacher": "fmlp", "teacher_weight": 0.9},
                         "distillation with most of the loss on the teacher's soft targets (w 0.9)"),
    "ssr-teacher-lr3e-3-w0.9": ("ssr", {}, {"teacher": "fmlp", **RECIPE},
                                "the two best levers together: distillation at w 0.9 and lr 3e-3"),
    "ssr-teacher-lr3e-3-w0.9-warm": ("ssr", {}, {"teacher": "fmlp", "warm_start": "fmlp", **RECIPE},
                                     "the above, started from its fmlp twin's shared parameters (item table as "
                                     "currents, filter spectra, norms): against the 15-epoch budget"),
    # ssr's Beauty gap under the 15-epoch budget (its warm runs were still improving at epoch 15): a softer
    # teacher (tau 4 spreads the soft targets further into the tail of 12,101 items) and a faster learning rate
    "ssr-teacher-lr3e-3-w0.9-tau4-warm": ("ssr", {}, {"teacher": "fmlp", "warm_start": "fmlp", **RECIPE,
                                                      "teacher_temperature": 4.0},
                                          "the warm recipe with the teacher's temperature 4 instead of 2"),
    "ssr-teacher-lr5e-3-w0.9-warm": ("ssr", {}, {"teacher": "fmlp", "warm_start": "fmlp", **RECIPE, "lr": 5e-3},
                                     "the warm recipe at lr 5e-3 instead of 3e-3, against the 15-epoch budget"),
    # the zoo: the same distillation from each spiking model's ANN original
    "gru4rec": ("gru4rec", {}, {}, "the ANN original of sgru4rec (teacher and reference)"),
    "sgru4rec": ("sgru4rec", shipped("sgru4rec"), {}, "the spiking GRU4Rec as shipped (reference)"),
    "sgru4rec-teacher": ("sgru4rec", shipped("sgru4rec"), {"teacher": "gru4rec", **W05},
                         "distilled from the same seed's gru4rec run"),
    "sfmlp-teacher": ("sfmlp", {}, {"teacher": "fmlp", **W05}, "distilled from the same seed's fmlp run"),
    "caser": ("caser", {}, {}, "the ANN original of scaser (teacher and reference)"),
    "srgnn": ("srgnn", {}, {}, "the ANN original of srsgnn (teacher and reference)"),
    **{f"{student}-teacher-lr3e-3-w0.9": (student, shipped(student), {"teacher": teacher, **RECIPE},
                                          f"ssr's recipe: distilled from the same seed's {teacher} run, w 0.9, lr 3e-3")
       for student, teacher in (("sgru4rec", "gru4rec"), ("scaser", "caser"), ("srsgnn", "srgnn"))},
    "sgru4rec-once": ("sgru4rec", shipped("sgru4rec", recurrence="once"), {},
                      "the GRU runs once on the time-mean of its spike-driven input (as the authors' release): "
                      "its float recurrent maps cost 1/T"),
    "sgru4rec-once-teacher-lr3e-3-w0.9": ("sgru4rec", shipped("sgru4rec", recurrence="once"),
                                          {"teacher": "gru4rec", **RECIPE},
                                          "both: the GRU once, distilled from gru4rec with ssr's recipe"),
    "srsgnn-once": ("srsgnn", shipped("srsgnn", recurrence="once"), {},
                    "the gated graph step runs once on the time-mean of the node spikes, its state held over T"),
    "srsgnn-once-teacher-lr3e-3-w0.9": ("srsgnn", shipped("srsgnn", recurrence="once"),
                                        {"teacher": "srgnn", **RECIPE},
                                        "both: the graph step once, distilled from srgnn with ssr's recipe"),
    # scoring against the items' spikes (accumulates) instead of the float table (multiply-accumulates):
    # the models' defaults since issue 23, spelled out
    "scaser-spikes-teacher-lr3e-3-w0.9": ("scaser", {"scoring": "spikes"}, {"teacher": "caser", **RECIPE},
                                          "distilled as above, scoring against the items' spikes"),
    "sgru4rec-once-spikes-teacher-lr3e-3-w0.9": ("sgru4rec", {"recurrence": "once", "scoring": "spikes"},
                                                 {"teacher": "gru4rec", **RECIPE},
                                                 "the GRU once, distilled, scoring against the items' spikes"),
    "srsgnn-once-spikes-teacher-lr3e-3-w0.9": ("srsgnn", {"recurrence": "once", "scoring": "spikes"},
                                               {"teacher": "srgnn", **RECIPE},
                                               "the graph step once, distilled, scoring against the items' spikes"),
}
# the zoo as it now ships, started from its ANN twin (ssr's Beauty lever): --warm-start
for spiking in ("sgru4rec-once-spikes-teacher-lr3e-3-w0.9", "scaser-spikes-teacher-lr3e-3-w0.9",
                "srsgnn-once-spikes-teacher-lr3e-3-w0.9"):
    student, student_config, overrides, _ = VARIANTS[spiking]
    VARIANTS[f"{spiking}-warm"] = (student, student_config, {**overrides, "warm_start": overrides["teacher"]},
                                   f"as {spiking}, started from the same seed's {overrides['teacher']} run "
                                   "(its item table as encoding currents, every shared map)")
# sgru4rec's warm start at other learning rates: lr 1e-3 (the paper's), since lr 3e-3 may walk away from the twin's
# parameters (its warm ml-100k seed 0 was best after its first epoch and never improved); lr 5e-3 against the
# 15-epoch budget (its warm Beauty runs were all best at epoch 15)
for warm in ("sgru4rec-once-spikes-teacher-lr3e-3-w0.9-warm",):
    student, student_config, overrides, _ = VARIANTS[warm]
    for lr, tag, why in ((1e-3, "lr1e-3", "(the paper's)"), (5e-3, "lr5e-3", "(against the 15-epoch budget)")):
        VARIANTS[warm.replace("lr3e-3", tag)] = (student, student_config, {**overrides, "lr": lr},
                                                 f"as {warm}, at lr {tag[2:]} {why} instead of 3e-3")
# issue 23's lever 5 on the warm recipe: the uniformity of each batch's user vectors, weight 0.1 (at 1 its gradient
# is about twice the distillation loss's on ml-100k's trained warm-distilled ssr, seed 0, and about 8x at the warm
# start on Beauty, with users of length zero left out) and 0.01
for warm, weights in (("ssr-teacher-lr3e-3-w0.9-warm", (0.1, 0.01)),
                      ("sgru4rec-once-spikes-teacher-lr3e-3-w0.9-warm", (0.1,))):
    student, student_config, overrides, _ = VARIANTS[warm]
    for weight in weights:
        VARIANTS[f"{warm}-unif{weight:g}"] = (student, student_config, {**overrides, "uniformity_weight": weight},
                                              f"as {warm}, plus {weight:g} x the uniformity of each batch's user "
                                              "vectors")
# a training override {"teacher": VARIANT} or {"warm_start": VARIANT} names the variant whose run (same seed)
# is the teacher or the starting point
GAP_STUDY = ("fmlp", "ssr", "ssr-hybrid", "ssr-lr3e-3", "fmlp-lr3e-3", "ssr-float-readout", "ssr-float-lookup",
             "ssr-position-current")  # -> ssr_gap.json
LEVERS = ("fmlp", "ssr-dropout0", "ssr-teacher", "ssr-teacher-lr3e-3", "ssr-teacher-w0.9", "gru4rec",
          "sgru4rec-teacher", "sfmlp-teacher")  # issue 23's levers -> ssr_levers.json
EPOCH_LINE = re.compile(r"^epoch\s+(\d+) loss (\S+) valid MRR@10 (\S+)")


def epoch_history(run_dir: Path) -> list[dict[str, float]]:
    """Per-epoch training loss and validation MRR@10, from the run's train.log."""
    rows = [EPOCH_LINE.match(line) for line in (run_dir / "train.log").read_text().splitlines()]
    return [{"epoch": int(m[1]), "train_loss": float(m[2]), "valid_MRR@10": float(m[3])} for m in rows if m]


LENGTH_BUCKETS = ((1, 20), (21, 49), (50, 50))  # history lengths, inclusive
TRUNCATIONS = (5, 20, 50)  # newest items kept
TOP_K = 10


def ranks_and_top(model, windows: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """0-based rank of each target among all items (plain full ranking) and the (samples, TOP_K)
    top-ranked item ids, in chunks of 1000 windows."""
    ranks, top = [], []
    for i in range(0, len(targets), 1000):
        scores = model.score_all(torch.from_numpy(windows[i:i + 1000])).float()
        ranks.append(target_ranks(scores, torch.from_numpy(targets[i:i + 1000])).numpy())
        top.append(top_k(scores, TOP_K).numpy())
    return np.concatenate(ranks), np.concatenate(top)


def ndcg_at_10(ranks: np.ndarray) -> float:
    metrics = RankingMetrics((10,))
    metrics.update(torch.from_numpy(ranks))
    return metrics.result()["NDCG@10"]


@torch.no_grad()
def diagnose(model, dataset: SequenceDataset) -> dict:
    """What a trained model does with histories, from one plain full ranking of each split plus a few
    test passes on the full 50-item windows:

    - NDCG@10 by history length, valid and test;
    - NDCG@10 of the full test windows when the model sees only their newest 5 / 20 / 50 items (the
      older ones replaced by padding): does it use long histories, or do they hurt it;
    - how its test top-10 leans on popular items: the median popularity rank (0 = most frequent
      training target) of the recommended items against the targets', the number of distinct items
      it recommends, and the share of its top-10 already in the window, per history-length bucket;
    - the effective rank (exp of the entropy of the normalised squared singular values) of its user
      representations (what is scored against the item table) over up to 2000 full test windows and,
      for ssr's variants, of the newest position's spike rates after the stimulus LIF and each block;
    - the uniformity (ssr.train.uniformity: 0 all alike, lower is more spread) of the same users."""
    model.eval()
    train_targets = dataset.targets("train")
    popularity_rank = np.empty(dataset.num_items + 1, dtype=np.int64)
    popularity_rank[np.argsort(-np.bincount(train_targets, minlength=dataset.num_items + 1), kind="stable")] = \
        np.arange(dataset.num_items + 1)
    result = {"NDCG@10_by_history_length": {}}
    for split in ("valid", "test"):  # the test pass's windows, ranks and top-10s are used below
        windows, targets = dataset.inputs_and_targets(split)
        ranks, top = ranks_and_top(model, windows, targets)
        lengths = (windows > 0).sum(1)
        buckets = {f"{lo}-{hi}": (lengths >= lo) & (lengths <= hi) for lo, hi in LENGTH_BUCKETS}
        buckets = {name: sel for name, sel in buckets.items() if sel.any()}
        result["NDCG@10_by_history_length"][split] = {
            name: {"samples": int(sel.sum()), "NDCG@10": ndcg_at_10(ranks[sel])} for name, sel in buckets.items()}
    result["test_top10_popularity"] = {
        name: {"median_popularity_rank_recommended": float(np.median(popularity_rank[top[sel]])),
               "median_popularity_rank_targets": float(np.median(popularity_rank[targets[sel]])),
               "distinct_items_recommended": int(len(np.unique(top[sel]))),
               "share_of_top10_in_window": float(np.mean([np.isin(row, window).mean()
                                                          for row, window in zip(top[sel], windows[sel])]))}
        for name, sel in buckets.items()}
    full = lengths == windows.shape[1]
    result["test_NDCG@10_of_full_windows_truncated_to"] = {}
    for kept in TRUNCATIONS:
        truncated = windows[full].copy()
        truncated[:, :windows.shape[1] - kept] = 0
        result["test_NDCG@10_of_full_windows_truncated_to"][str(kept)] = ndcg_at_10(
            ranks_and_top(model, truncated, targets[full])[0] if kept < windows.shape[1] else ranks[full])
    stages: dict[str, torch.Tensor] = {}
    hooks = []
    if isinstance(model, SSR):  # the newest position's spike rates after each spiking stage
        layers = {"stimulus": model.stimulus_lif, **{f"block {i}": b for i, b in enumerate(model.blocks)}}
        hooks = [layer.register_forward_hook(lambda _, __, out, name=name: stages.update({name: out[:, :, -1].mean(0)}))
                 for name, layer in layers.items()]
    users = model(torch.from_numpy(windows[full][:2000]))  # (users, D): what is scored against the table
    for hook in hooks:
        hook.remove()
    result["user_representation_effective_rank"] = effective_rank(users)
    result["user_uniformity"] = float(uniformity_loss(users))  # what --uniformity-weight lowers
    if stages:
        result["effective_rank_by_stage"] = {**{name: effective_rank(x) for name, x in stages.items()},
                                             "densify (user vectors)": effective_rank(users)}
    return result


def energy_and_firing(run_dir: Path, data: Path) -> dict:
    """Energy per inference as `ssr energy-report` counts it (45nm-fp32, first 256 test sequences)
    and every spiking layer's firing rate (spikes per neuron per step), so a silent path shows."""
    from ssr.energy.report import cost_run

    entry = cost_run(run_dir, data)
    return {"energy_pj_per_inference": float(entry["energy_pj"]),
            "server_side_energy_pj": float(entry["server_side_energy_pj"]),
            "firing_rates": {row["name"]: row["firing_rate"] for row in entry["layers"] if row["firing_rate"] is not None}}


def effective_rank(rows: torch.Tensor) -> float:
    """exp of the entropy of the normalised squared singular values of the centred (samples, D) rows:
    how many directions their variation really spans (1 to D)."""
    rows = rows.double()
    singular = torch.linalg.svdvals(rows - rows.mean(0))
    share = singular ** 2 / (singular ** 2).sum()
    return float(torch.exp(-(share * share.clamp_min(1e-300).log()).sum()))


def main(variants: list[str], seeds: int | list[int], work: Path, name: str = "ssr_gap", threads: int = 1,
         merge: bool = False, train_only: bool = False, dataset_name: str = "ml-100k") -> dict:
    """Train what is missing, diagnose every variant in `variants`, write bench/results/NAME.json;
    `seeds` is a count (seeds 0..seeds-1) or a list of seeds; `merge` keeps the rows of variants already
    in that file and not named here; `train_only` trains the missing runs and stops (one process per
    core can then train different seeds, and a last call without it diagnoses them all); `dataset_name`
    is one of the matrix's datasets (ml-100k, beauty)."""
    reader, raw, split = KNOWN_DATASETS[dataset_name]
    data = work / f"{dataset_name}_{split}.h5"
    prepare(PrepareConfig(dataset=reader, split=split, max_len=50), SHARED_DATA / raw, data)
    dataset = read_dataset(data)
    rows = {}
    for variant in variants:
        model_name, model_config, overrides, change = VARIANTS[variant]
        per_seed = []
        for seed in (range(seeds) if isinstance(seeds, int) else seeds):
            run_dir = work / "runs" / f"{dataset_name}_{variant}_seed{seed}"
            seed_overrides = dict(overrides)  # a teacher or starting point is this seed's run of the variant named
            for role in ("teacher", "warm_start"):
                if role in overrides:
                    source = work / "runs" / f"{dataset_name}_{overrides[role]}_seed{seed}" / "model.pt"
                    if not source.is_file():
                        raise SystemExit(f"{variant} needs its {role}: run the {overrides[role]} variant first")
                    seed_overrides[role] = str(source)
            if not (run_dir / "model.pt").exists():
                train(model_name, data, run_dir, TrainConfig(epochs=15, patience=5, seed=seed, threads=threads,
                                                             **seed_overrides), model_config, progress=False)
            if train_only:
                continue
            metrics = json.loads((run_dir / "metrics.json").read_text())
            model, _ = load_checkpoint(run_dir / "model.pt")
            history = epoch_history(run_dir)
            row = {"run": str(run_dir), **{k: metrics["test"][k] for k in ("HR@10", "NDCG@10", "MRR@10")},
                   "best_epoch": metrics["best_epoch"], "final_train_loss": history[-1]["train_loss"],
                   "train_seconds_per_epoch": metrics["timings"]["train_seconds"] / metrics["epochs_run"],
                   **energy_and_firing(run_dir, data),
                   **diagnose(model, dataset), "history": history}
            if isinstance(model, SSR):
                with torch.no_grad():
                    row["item_table_firing_rate"] = float(model.spike_table()[:, 1:].mean())
            per_seed.append(row)
        if train_only:
            continue
        rows[variant] = {"model": model_name, "model_config": model_config, "train_overrides": overrides,
                         "change": change, "per_seed": per_seed}
        print(variant, {k: per_seed[0][k] for k in ("NDCG@10", "final_train_loss")})
    if train_only:
        return rows
    kept = earlier_rows(earlier_result(name), "variants") if merge else {}  # variants measured before (another day) stay
    today = time.strftime("%Y-%m-%d")
    rows = {variant: {**row, "per_seed": merge_per_seed(kept.get(variant), row, today)} for variant, row in rows.items()}
    save_result(name, {"dataset": dataset_name, "split": split, "max_len": 50, "epochs_max": 15, "patience": 5,
                       "variants": {**kept, **{v: {**row, "measured": today} for v, row in rows.items()}}})
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, of: {', '.join(VARIANTS)}")
    parser.add_argument("--seeds", type=int, default=1, help="seeds 0..SEEDS-1")
    parser.add_argument("--seed", type=int, action="append", help="only this seed (repeatable); overrides --seeds")
    parser.add_argument("--train-only", action="store_true",
                        help="train the missing runs and stop: no diagnosis, no result file")
    parser.add_argument("--work", default=str(RESULTS.parent / "work"), help="datasets and runs (git-ignored)")
    parser.add_argument("--name", default="ssr_gap", help="result file name under bench/results/")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--dataset", default="ml-100k", choices=sorted(KNOWN_DATASETS),
                        help="the matrix's dataset to study (default ml-100k)")
    parser.add_argument("--merge", action="store_true",
                        help="keep the rows of other variants already in the file, and of other seeds of a variant "
                        "diagnosed again (when its model, config and training overrides are the same)")
    args = parser.parse_args()
    unknown = [v for v in args.variants.split(",") if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    main(args.variants.split(","), args.seed or args.seeds, Path(args.work), args.name, args.threads, args.merge,
         args.train_only, args.dataset)
