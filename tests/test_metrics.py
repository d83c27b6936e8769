"""ssr.metrics against a brute-force plain-Python reference.

Reference: sort item ids 1..num_items by (-score, id) (padding id 0 is never ranked), the target's
0-based position in that list is its rank; HR@k = rank < k, NDCG@k = 1/log2(rank + 2),
MRR@k = 1/(rank + 1), both 0 outside the top k.
"""

from __future__ import annotations

import math
import random

import pytest
import torch

from ssr.metrics import RankingMetrics, target_ranks, top_k

KS = (1, 3, 5, 10)


def brute_order(row: list[float]) -> list[int]:
    """Item ids 1..len(row)-1 in rank order: higher score first, ties by smaller id."""
    return sorted(range(1, len(row)), key=lambda item: (-row[item], item))


def brute_rank(row: list[float], target: int) -> int:
    return brute_order(row).index(target)


def brute_metrics(ranks: list[int], ks=KS) -> dict[str, float]:
    out = {}
    for k in ks:
        out[f"HR@{k}"] = sum(1.0 for r in ranks if r < k) / len(ranks)
        out[f"NDCG@{k}"] = sum(1 / math.log2(r + 2) for r in ranks if r < k) / len(ranks)
        out[f"MRR@{k}"] = sum(1 / (r + 1) for r in ranks if r < k) / len(ranks)
    return out


def random_case(rng: random.Random, batch: int, num_items: int, ties: bool, mask_prob: float = 0.0,
                pad_top: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """A (batch, num_items + 1) score matrix and (batch,) targets; masked entries are -inf (never
    the target); with `pad_top` the padding column holds the row's highest score."""
    rows, targets = [], []
    for _ in range(batch):
        row = [float(rng.randint(0, 3)) if ties else rng.gauss(0, 1) for _ in range(num_items + 1)]
        target = rng.randint(1, num_items)
        for item in range(1, num_items + 1):
            if item != target and rng.random() < mask_prob:
                row[item] = -math.inf
        if pad_top:
            row[0] = max(row) + 10.0
        rows.append(row)
        targets.append(target)
    return torch.tensor(rows, dtype=torch.float32), torch.tensor(targets, dtype=torch.int64)


@pytest.mark.parametrize("ties", [False, True], ids=["continuous", "integer-ties"])
@pytest.mark.parametrize("mask_prob", [0.0, 0.3])
@pytest.mark.parametrize("pad_top", [False, True], ids=["pad-low", "pad-highest"])
def test_ranks_and_metrics_match_brute_force(ties: bool, mask_prob: float, pad_top: bool) -> None:
    rng = random.Random(hash((ties, mask_prob, pad_top)) & 0xFFFF)
    scores, targets = random_case(rng, batch=64, num_items=15, ties=ties, mask_prob=mask_prob,
                                  pad_top=pad_top)
    expected = [brute_rank(scores[i].tolist(), int(targets[i])) for i in range(len(targets))]

    ranks = target_ranks(scores, targets)
    assert ranks.dtype == torch.int64
    assert ranks.tolist() == expected
    assert max(expected) >= 10  # the cases reach outside the top k, so misses are exercised

    metrics = RankingMetrics(KS)
    metrics.update(ranks)
    result = metrics.result()
    reference = brute_metrics(expected)
    assert result.keys() == reference.keys()
    for key, value in reference.items():
        assert result[key] == pytest.approx(value, abs=1e-12), key


def test_target_ranks_does_not_modify_scores() -> None:
    scores, targets = random_case(random.Random(3), batch=4, num_items=6, ties=True, pad_top=True)
    before = scores.clone()
    target_ranks(scores, targets)
    top_k(scores, 3)
    assert torch.equal(scores, before)


def test_all_tied_ranks_by_item_id() -> None:
    scores = torch.zeros(5, 6)  # items 1..5 all equal; padding equal too, must not count
    targets = torch.tensor([1, 2, 3, 4, 5])
    assert target_ranks(scores, targets).tolist() == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("ties", [False, True])
def test_top_k_matches_brute_force_order(ties: bool) -> None:
    rng = random.Random(11 + ties)
    scores, _ = random_case(rng, batch=32, num_items=12, ties=ties, mask_prob=0.2, pad_top=True)
    for k in (1, 4, 7):
        got = top_k(scores, k)
        assert got.shape == (32, k)
        for i in range(32):  # also where k exceeds the unmasked items: masked ones follow, no padding
            assert got[i].tolist() == brute_order(scores[i].tolist())[:k]
    # and the top-k list agrees with the ranks: the item at position j has rank j
    got = top_k(scores, 5)
    for j in range(5):
        assert target_ranks(scores, got[:, j]).tolist() == [j] * 32


def test_top_k_never_returns_padding_without_masking() -> None:
    scores = torch.full((2, 5), 1.0)
    scores[:, 0] = 100.0
    assert top_k(scores, 4).tolist() == [[1, 2, 3, 4], [1, 2, 3, 4]]


def test_top_k_excludes_padding_when_k_exceeds_unmasked_items() -> None:
    scores = torch.tensor([[9.0, 1.0, -math.inf, 3.0, -math.inf]])
    assert top_k(scores, 4).tolist() == [brute_order(scores[0].tolist())[:4]] == [[3, 1, 2, 4]]


def test_rank_of_masked_target_ignores_padding() -> None:
    scores = torch.tensor([[9.0, 1.0, -math.inf, 3.0, -math.inf]])
    assert target_ranks(scores, torch.tensor([2])).tolist() == [2]  # order 3, 1, 2, 4


def test_hand_computed_example() -> None:
    # items 1..5 scored 0.1, 0.9, 0.5, 0.7, 0.3: order 2, 4, 3, 5, 1; target 3 sits at rank 2
    scores = torch.tensor([[5.0, 0.1, 0.9, 0.5, 0.7, 0.3]])  # padding (5.0) must be ignored
    ranks = target_ranks(scores, torch.tensor([3]))
    assert ranks.tolist() == [2]
    assert top_k(scores, 5).tolist() == [[2, 4, 3, 5, 1]]
    metrics = RankingMetrics(ks=(2, 5))
    metrics.update(ranks)
    result = metrics.result()
    assert result["NDCG@5"] == pytest.approx(0.5)  # 1 / log2(4)
    assert result["MRR@5"] == pytest.approx(1 / 3)
    assert result["HR@5"] == 1.0
    assert result["HR@2"] == result["NDCG@2"] == result["MRR@2"] == 0.0


def test_default_ks_keys() -> None:
    metrics = RankingMetrics()
    metrics.update(torch.tensor([0]))
    result = metrics.result()
    assert set(result) == {f"{m}@{k}" for m in ("HR", "NDCG", "MRR") for k in (5, 10, 20)}
    assert all(value == 1.0 for value in result.values())  # rank 0 is a perfect hit


def test_average_is_per_sample_not_per_batch() -> None:
    rng = random.Random(5)
    batches = [[rng.randint(0, 30) for _ in range(size)] for size in (1, 7, 30, 2)]
    metrics = RankingMetrics(KS)
    for batch in batches:
        metrics.update(torch.tensor(batch))
    all_ranks = [r for batch in batches for r in batch]
    assert metrics.count == len(all_ranks) == 40
    reference = brute_metrics(all_ranks)
    result = metrics.result()
    for key, value in reference.items():
        assert result[key] == pytest.approx(value, abs=1e-12), key
    # a per-batch mean would differ here (batch of 1 weighted like a batch of 30)
    per_batch = sum(brute_metrics(b)["HR@10"] for b in batches) / len(batches)
    assert per_batch != pytest.approx(reference["HR@10"])


def test_result_without_samples_raises() -> None:
    with pytest.raises(ValueError, match="no samples"):
        RankingMetrics().result()
    metrics = RankingMetrics()
    metrics.update(torch.zeros(0, dtype=torch.int64))  # an empty batch adds no samples
    with pytest.raises(ValueError):
        metrics.result()
