"""Why the deployable ssr trails FMLP-Rec on ml-100k: one change at a time, same protocol.

Every variant trains on ml-100k (`ufo`, max length 50) exactly as the quality benchmark's runs do (at
most 15 epochs, patience 5 on validation MRR@10, one torch thread) and changes one thing against
`ssr`. The quality benchmark's runs of fmlp, ssr and ssr-hybrid (WORK/runs/ml-100k_<model>_seed<k>) are reused
when they exist. Recorded per variant: test HR/NDCG/MRR@10 (plain), the best epoch, the training
loss at the last epoch (a model that cannot fit the data shows it there first), validation and test
NDCG@10 by history length (the test split is mostly full 50-item windows) and, for the spiking
table, the fraction of its entries that fire.

`float-readout` scores against the float encoding currents of the items instead of the binary
table's rates (the lookup still sees spikes); `float-lookup` feeds the stimulus encoder the items'
float currents (the same at every time step) instead of their spike rows (scoring still against the
rates). Both are diagnostics, not deployable models, registered by this module only.
`position-current` adds a learned current per position and channel (N, D) to the stimulus LIF's
input: a bias per neuron, which a chip holds natively, so this one would stay deployable.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np
import torch

from bench.common import RESULTS, SHARED_DATA, save_result
from ssr.checkpoint import load_checkpoint
from ssr.data.dataset import SequenceDataset, read_dataset
from ssr.data.prepare import PrepareConfig, prepare
from ssr.metrics import target_ranks
from ssr.models.base import register
from ssr.models.ssr import SSR
from ssr.train.matrix import KNOWN_DATASETS
from ssr.train.trainer import TrainConfig, train


@register
class SSRFloatReadout(SSR):
    """ssr scoring against the items' float currents (num_items + 1, D), not their spike rates."""

    name = "ssr-float-readout"
    kind = "diagnostic"

    def scores_with_table(self, item_seq: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        currents = self.item_embedding.weight * self.config.item_current_scale
        return self._represent(item_seq, table) @ currents.T


@register
class SSRFloatLookup(SSR):
    """ssr whose stimulus encoder reads the items' float currents (T, B, N, D), not their spikes."""

    name = "ssr-float-lookup"
    kind = "diagnostic"

    def scores_with_table(self, item_seq: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        currents = self.item_embedding.weight * self.config.item_current_scale
        return self._represent(item_seq, currents.expand(self.config.time_steps, -1, -1)) @ table.mean(0).T


@register
class SSRPositionCurrent(SSR):
    """ssr with a learned (N, D) current per position into the stimulus LIF (initially zero)."""

    name = "ssr-position-current"
    kind = "diagnostic"

    def __init__(self, config, num_items: int, max_len: int) -> None:
        super().__init__(config, num_items, max_len)
        self.position_current = torch.nn.Parameter(torch.zeros(max_len, config.hidden))
        self.stimulus_lif.register_forward_pre_hook(lambda _, args: (args[0] + self.position_current,))


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
    "ssr-time-steps-8": ("ssr", {"time_steps": 8}, {}, "T = 8: item rates in steps of 1/8 instead of 1/4"),
}
EPOCH_LINE = re.compile(r"^epoch\s+(\d+) loss (\S+) valid MRR@10 (\S+)")


def epoch_history(run_dir: Path) -> list[dict[str, float]]:
    """Per-epoch training loss and validation MRR@10, from the run's train.log."""
    rows = [EPOCH_LINE.match(line) for line in (run_dir / "train.log").read_text().splitlines()]
    return [{"epoch": int(m[1]), "train_loss": float(m[2]), "valid_MRR@10": float(m[3])} for m in rows if m]


LENGTH_BUCKETS = ((1, 20), (21, 49), (50, 50))  # history lengths, inclusive


@torch.no_grad()
def ndcg_by_history_length(model, dataset: SequenceDataset, split: str) -> dict[str, dict[str, float]]:
    """NDCG@10 (plain full ranking) of `split`'s samples grouped by how many items their window holds."""
    model.eval()
    inputs, targets = model.inputs(dataset, split), dataset.targets(split)
    ranks = np.concatenate([
        target_ranks(model.score_all(*(torch.from_numpy(a[i:i + 1000]) for a in inputs)).float(),
                     torch.from_numpy(targets[i:i + 1000])).numpy() for i in range(0, len(targets), 1000)])
    ndcg = np.where(ranks < 10, 1.0 / np.log2(ranks + 2.0), 0.0)
    lengths = (dataset.inputs_and_targets(split)[0] > 0).sum(1)
    return {f"{lo}-{hi}": {"samples": int(((lengths >= lo) & (lengths <= hi)).sum()),
                           "NDCG@10": float(ndcg[(lengths >= lo) & (lengths <= hi)].mean())}
            for lo, hi in LENGTH_BUCKETS if ((lengths >= lo) & (lengths <= hi)).any()}


def main(variants: list[str], seeds: int, work: Path, name: str = "ssr_gap", threads: int = 1) -> dict:
    reader, raw, split = KNOWN_DATASETS["ml-100k"]
    data = work / f"ml-100k_{split}.h5"
    prepare(PrepareConfig(dataset=reader, split=split, max_len=50), SHARED_DATA / raw, data)
    dataset = read_dataset(data)
    rows = {}
    for variant in variants:
        model_name, model_config, overrides, change = VARIANTS[variant]
        per_seed = []
        for seed in range(seeds):
            run_dir = work / "runs" / f"ml-100k_{variant}_seed{seed}"
            if not (run_dir / "model.pt").exists():
                train(model_name, data, run_dir, TrainConfig(epochs=15, patience=5, seed=seed, threads=threads,
                                                             **overrides), model_config, progress=False)
            metrics = json.loads((run_dir / "metrics.json").read_text())
            model, _ = load_checkpoint(run_dir / "model.pt")
            history = epoch_history(run_dir)
            row = {"run": str(run_dir), **{k: metrics["test"][k] for k in ("HR@10", "NDCG@10", "MRR@10")},
                   "best_epoch": metrics["best_epoch"], "final_train_loss": history[-1]["train_loss"],
                   "NDCG@10_by_history_length": {split: ndcg_by_history_length(model, dataset, split)
                                                 for split in ("valid", "test")},
                   "history": history}
            if isinstance(model, SSR):
                with torch.no_grad():
                    row["item_table_firing_rate"] = float(model.spike_table()[:, 1:].mean())
            per_seed.append(row)
        rows[variant] = {"model": model_name, "model_config": model_config, "train_overrides": overrides,
                         "change": change, "per_seed": per_seed}
        print(variant, {k: per_seed[0][k] for k in ("NDCG@10", "final_train_loss")})
    save_result(name, {"dataset": "ml-100k", "split": split, "max_len": 50, "epochs_max": 15, "patience": 5,
                       "variants": rows})
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, of: {', '.join(VARIANTS)}")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--work", default=str(RESULTS.parent / "work"), help="datasets and runs (git-ignored)")
    parser.add_argument("--name", default="ssr_gap", help="result file name under bench/results/")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    unknown = [v for v in args.variants.split(",") if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    main(args.variants.split(","), args.seeds, Path(args.work), args.name, args.threads)
