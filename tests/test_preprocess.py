"""build_sequences / split_samples / windows on hand-made examples worked out on paper."""

from __future__ import annotations

import numpy as np
import pytest

from ssr.data.log import InteractionLog
from ssr.data.preprocess import Sequences, build_sequences, split_samples, windows

# (user, item, timestamp) in file order. With min_count=2, worked out by hand:
#   initial (after dropping user 1's later repeat of item 200):
#     users 1:3, 2:3, 3:1, 4:3, 5:2, 6:4   items 100:4, 200:3, 300:4, 400:2, 700:2, 800:1
#   round 1: user 3 (1 event) and item 800 (1 event) go  -> user 5 is left with 1, item 400 with 1
#   round 2: user 5's (700) and user 6's (400) go         -> item 700 is left with 1 (user 4)
#   round 3: user 4's (700) goes; user 4 keeps 100, 300  -> stable
#   kept users 1, 2, 4, 6; kept items 100, 200, 300 -> ids 1, 2, 3
ROWS = [
    (1, 300, 20),
    (1, 200, 40),  # repeat of (1, 200): the later one, dropped (the earliest, t=10, is kept)
    (1, 100, 30),
    (1, 200, 10),
    (2, 100, 5),
    (2, 300, 3),
    (2, 200, 8),
    (3, 400, 1),  # user with a single event: fails the 2-core at once
    (4, 700, 2),  # item 700 fails only after user 5 is removed
    (4, 100, 1),
    (4, 300, 3),
    (5, 700, 2),  # user 5 fails only after item 800 is removed
    (5, 800, 1),  # item with a single event
    (6, 400, 4),  # item 400 fails only after user 3 is removed
    (6, 200, 2),  # same time as the next row: file order decides, 200 before 100
    (6, 100, 2),
    (6, 300, 9),
]


def make_log(rows, keys=int) -> InteractionLog:
    user, item, ts = zip(*rows, strict=True)
    return InteractionLog(user=np.array([keys(u) for u in user]),
                          item=np.array([keys(i) for i in item]),
                          timestamp=np.array(ts, dtype=np.int64), source="hand-made")


def test_build_sequences_hand_example() -> None:
    seq = build_sequences(make_log(ROWS), min_count=2)
    # user 1: 200@10 300@20 100@30; user 2: 300@3 100@5 200@8; user 4: 100@1 300@3;
    # user 6: 200@2 100@2 (file order) 300@9
    assert seq.items.tolist() == [2, 3, 1, 3, 1, 2, 1, 3, 2, 1, 3]
    assert seq.offsets.tolist() == [0, 3, 6, 8, 11]
    assert seq.user_keys.tolist() == [1, 2, 4, 6]
    assert seq.item_keys.tolist() == [0, 100, 200, 300]
    assert seq.num_users == 4 and seq.num_items == 3


def test_build_sequences_without_kcore_keeps_everyone() -> None:
    seq = build_sequences(make_log(ROWS), min_count=1)
    # items 100 200 300 400 700 800 -> 1..6; only the repeated pair is dropped
    assert seq.item_keys.tolist() == [0, 100, 200, 300, 400, 700, 800]
    assert seq.user_keys.tolist() == [1, 2, 3, 4, 5, 6]
    assert seq.offsets.tolist() == [0, 3, 6, 7, 10, 12, 16]
    assert seq.items.tolist() == [2, 3, 1, 3, 1, 2, 4, 1, 5, 3, 6, 5, 2, 1, 4, 3]


def test_build_sequences_string_keys() -> None:
    rows = [("u2", "b", 2), ("u1", "a", 1), ("u2", "a", 1), ("u1", "b", 5), ("u1", "a", 9)]
    seq = build_sequences(make_log(rows, keys=str), min_count=1)
    assert seq.item_keys.tolist() == ["", "a", "b"]  # padding key is "" for string keys
    assert seq.user_keys.tolist() == ["u1", "u2"]
    assert seq.items.tolist() == [1, 2, 1, 2]
    assert seq.offsets.tolist() == [0, 2, 4]


def test_kcore_that_removes_everything_raises() -> None:
    with pytest.raises(ValueError, match="--min-count"):
        build_sequences(make_log(ROWS), min_count=10)


def test_empty_log_raises() -> None:
    empty = InteractionLog(user=np.zeros(0, np.int64), item=np.zeros(0, np.int64),
                           timestamp=np.zeros(0, np.int64), source="empty.txt")
    with pytest.raises(ValueError, match="empty.txt"):
        build_sequences(empty, min_count=1)


def sequences(lengths: list[int]) -> Sequences:
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    items = (np.arange(offsets[-1]) % 7 + 1).astype(np.int32)
    return Sequences(items=items, offsets=offsets, user_keys=np.arange(len(lengths)),
                     item_keys=np.arange(8))


# lengths 2, 3, 4, 6, 22 -> samples per user 1, 2, 3, 5, 21; the users start at positions
# 0, 2, 5, 9, 15 and each user's first position is never a sample
LENGTHS = [2, 3, 4, 6, 22]


def test_loo_exact_positions() -> None:
    split = split_samples(sequences(LENGTHS), "loo")
    assert split["test"].tolist() == [1, 4, 8, 14, 36]
    assert split["valid"].tolist() == [3, 7, 13, 35]  # user 0 has one sample only: test
    assert split["train"].tolist() == [6, 10, 11, 12, *range(16, 35)]


def test_ufo_exact_positions() -> None:
    # per user (samples n): train part floor(0.8 n) (at most n - 1), test the rest;
    # valid = last max(1, round(0.1 * train part)) of the train part when it has >= 2
    #   n=1: test 1                      n=2: train 3, test 4
    #   n=3: train 6, valid 7, test 8    n=5: train 10-12, valid 13, test 14
    #   n=21: train part 16 -> train 16-29, valid 30-31 (round(1.6) = 2), test 32-36
    split = split_samples(sequences(LENGTHS), "ufo")
    assert split["train"].tolist() == [3, 6, 10, 11, 12, *range(16, 30)]
    assert split["valid"].tolist() == [7, 13, 30, 31]
    assert split["test"].tolist() == [1, 4, 8, 14, *range(32, 37)]


def test_ufo_test_is_always_later_than_train_and_valid() -> None:
    seq = sequences([5, 9, 13, 30, 2, 41])
    split = split_samples(seq, "ufo")
    user_of = np.searchsorted(seq.offsets, np.arange(len(seq.items)), side="right") - 1
    for u in range(seq.num_users):
        train, valid, test = ([p for p in split[name].tolist() if user_of[p] == u]
                              for name in ("train", "valid", "test"))
        assert test, u
        assert max(train + valid, default=-1) < min(test)
        assert max(train, default=-1) < min(valid, default=10**9)


def all_samples(seq: Sequences) -> set[int]:
    firsts = set(seq.offsets[:-1].tolist())
    return set(range(len(seq.items))) - firsts


@pytest.mark.parametrize("split", ["loo", "ufo", "fo"])
def test_splits_partition_every_sample(split: str) -> None:
    seq = sequences([2, 3, 4, 6, 22, 1, 10, 17])  # includes a single-item user (no samples)
    parts = split_samples(seq, split, seed=3)
    sets = {name: set(positions.tolist()) for name, positions in parts.items()}
    for name, positions in parts.items():
        assert positions.dtype == np.int64
        assert len(sets[name]) == len(positions)  # no duplicates
    assert not sets["train"] & sets["valid"]
    assert not sets["train"] & sets["test"]
    assert not sets["valid"] & sets["test"]
    assert sets["train"] | sets["valid"] | sets["test"] == all_samples(seq)


def test_fo_sizes_and_seed() -> None:
    seq = sequences([11] * 20)  # 200 samples
    first = split_samples(seq, "fo", seed=1, test_fraction=0.1, valid_fraction=0.1)
    again = split_samples(seq, "fo", seed=1, test_fraction=0.1, valid_fraction=0.1)
    other = split_samples(seq, "fo", seed=2, test_fraction=0.1, valid_fraction=0.1)
    assert (len(first["train"]), len(first["valid"]), len(first["test"])) == (160, 20, 20)
    for name in ("train", "valid", "test"):
        assert np.array_equal(first[name], again[name])
        assert not np.array_equal(first[name], other[name])
    skewed = split_samples(seq, "fo", seed=1, test_fraction=0.25, valid_fraction=0.05)
    assert (len(skewed["train"]), len(skewed["valid"]), len(skewed["test"])) == (140, 10, 50)


def test_fo_default_is_70_10_20_as_documented() -> None:
    split = split_samples(sequences([11] * 20), "fo", seed=1)
    assert (len(split["train"]), len(split["valid"]), len(split["test"])) == (140, 20, 40)


def test_unknown_split_raises() -> None:
    with pytest.raises(ValueError, match="nosuch"):
        split_samples(sequences(LENGTHS), "nosuch")


def test_windows_hand_example() -> None:
    # user 0: 5 6 7 (positions 0-2), user 1: 8 9 (3-4), user 2: 1 2 3 4 (5-8)
    items = np.array([5, 6, 7, 8, 9, 1, 2, 3, 4], dtype=np.int32)
    offsets = np.array([0, 3, 5, 9], dtype=np.int64)
    targets = np.array([0, 1, 2, 3, 4, 6, 8], dtype=np.int64)
    got = windows(items, offsets, targets, max_len=3)
    assert got.dtype == np.int64
    assert got.tolist() == [
        [0, 0, 0],  # a user's first item has nothing before it
        [0, 0, 5],
        [0, 5, 6],
        [0, 0, 0],  # user 1's first item: must not see user 0's 6, 7
        [0, 0, 8],
        [0, 0, 1],
        [1, 2, 3],
    ]
    assert windows(items, offsets, targets, max_len=2).tolist() == [
        [0, 0], [0, 5], [5, 6], [0, 0], [0, 8], [0, 1], [2, 3],  # truncated: newest 2 only
    ]
    assert windows(items, offsets, np.array([8]), max_len=6).tolist() == [[0, 0, 0, 1, 2, 3]]


def test_windows_match_plain_python_on_random_sequences() -> None:
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 15, size=30)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    items = rng.integers(1, 50, size=offsets[-1]).astype(np.int32)
    targets = np.arange(offsets[-1], dtype=np.int64)
    got = windows(items, offsets, targets, max_len=5)
    for row, t in zip(got.tolist(), targets.tolist(), strict=True):
        u = max(i for i in range(len(lengths)) if offsets[i] <= t)
        before = items[offsets[u]:t].tolist()[-5:]
        assert row == [0] * (5 - len(before)) + before
