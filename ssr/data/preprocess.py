"""Raw log -> user sequences and train/valid/test samples, vectorised with numpy.

Sequences are stored flat (CSR): `items[offsets[u]:offsets[u + 1]]` is user u's item ids in time
order, re-encoded from 1 (0 is padding). A *sample* is a target position p in that flat array; its
input is the up-to-`max_len` items before it of the same user, left-padded (see `windows`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ssr.data.log import InteractionLog

SPLITS = ("ufo", "loo", "fo")


@dataclass(frozen=True)
class Sequences:
    """User sequences after dedup, k-core and re-encoding.

    items:     (interactions,) int32 item ids in 1..num_items, grouped by user, time-ordered
    offsets:   (users + 1,) int64 start of each user's run in `items`
    user_keys: (users,) raw user key of each user index
    item_keys: (num_items + 1,) raw item key of each item id; entry 0 (padding) is ""
    timestamps: (interactions,) int64 event time of each entry of `items` (the log's: unix seconds,
               or positions for pre-sequenced files); None for datasets written before schema 2
    """

    items: np.ndarray
    offsets: np.ndarray
    user_keys: np.ndarray
    item_keys: np.ndarray
    timestamps: np.ndarray | None = None

    @property
    def num_users(self) -> int:
        return len(self.offsets) - 1

    @property
    def num_items(self) -> int:
        return len(self.item_keys) - 1


def build_sequences(log: InteractionLog, min_count: int, keep_repeats: bool = False) -> Sequences:
    """Time-order, drop repeated (user, item) pairs (keeping the first; `keep_repeats` keeps them,
    for files whose split is given), apply iterative k-core."""
    if len(log) == 0:
        raise ValueError(f"{log.source}: the log holds no interactions")
    user_keys, user = np.unique(log.user, return_inverse=True)
    item_keys, item = np.unique(log.item, return_inverse=True)
    order = np.lexsort((np.arange(len(log)), log.timestamp, user))  # by user, time, file order
    user, item, timestamp = user[order], item[order], np.asarray(log.timestamp, dtype=np.int64)[order]

    pair = user.astype(np.int64) * len(item_keys) + item
    keep = np.zeros(len(pair), dtype=bool)
    keep[np.unique(pair, return_index=True)[1]] = True  # first occurrence in time order
    keep |= keep_repeats

    while min_count > 1:  # iterative k-core: removing a user can push an item below k and back
        user_count = np.bincount(user[keep], minlength=len(user_keys))
        item_count = np.bincount(item[keep], minlength=len(item_keys))
        too_rare = keep & ((user_count[user] < min_count) | (item_count[item] < min_count))
        if not too_rare.any():
            break
        keep &= ~too_rare
    if not keep.any():
        raise ValueError(
            f"{log.source}: no interactions left after the {min_count}-core filter; "
            "lower --min-count"
        )
    user, item, timestamp = user[keep], item[keep], timestamp[keep]

    kept_items = np.unique(item)
    new_item_id = np.zeros(len(item_keys), dtype=np.int32)
    new_item_id[kept_items] = np.arange(1, len(kept_items) + 1, dtype=np.int32)
    kept_users, user_index = np.unique(user, return_inverse=True)
    offsets = np.zeros(len(kept_users) + 1, dtype=np.int64)
    np.cumsum(np.bincount(user_index), out=offsets[1:])
    padding_key = np.array([""], dtype=object) if item_keys.dtype.kind in "OU" else np.array([0])
    return Sequences(
        items=new_item_id[item],
        offsets=offsets,
        user_keys=user_keys[kept_users],
        item_keys=np.concatenate([padding_key, item_keys[kept_items]]),
        timestamps=timestamp,
    )


def split_samples(
    sequences: Sequences,
    split: str,
    seed: int = 0,
    test_fraction: float = 0.2,
    valid_fraction: float = 0.1,
) -> dict[str, np.ndarray]:
    """Target positions (flat indices into `sequences.items`) of the train/valid/test samples.

    Every position except a user's first is a sample. `ufo`: per user, the first 80% of samples are
    train and the last 20% test; validation is the last `valid_fraction` of the train part (at least
    one when the train part has two or more), so model selection never looks at test. `loo`: the last
    item is test, the second-last valid. `fo`: samples shuffled with `seed`, then `test_fraction` test, `valid_fraction` valid, the
    rest train (70/10/20 with the defaults).
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    lengths = np.diff(sequences.offsets)
    per_user = lengths - 1  # samples per user
    position = np.arange(len(sequences.items), dtype=np.int64)
    start = np.repeat(sequences.offsets[:-1], lengths)
    rank = position - start - 1  # sample index within its user; -1 for the first item
    count = np.repeat(per_user, lengths)
    is_sample = rank >= 0

    if split == "loo":
        test = is_sample & (rank == count - 1)
        valid = is_sample & (rank == count - 2)
    elif split == "ufo":
        train_part = np.minimum(np.floor(count * (1 - test_fraction)), count - 1).astype(np.int64)
        valid_part = np.where(train_part >= 2, np.maximum(1, np.round(train_part * valid_fraction)), 0)
        test = is_sample & (rank >= train_part)
        valid = is_sample & (rank >= train_part - valid_part) & ~test
    else:
        shuffled = np.random.default_rng(seed).permutation(np.flatnonzero(is_sample))
        n_test = int(round(len(shuffled) * test_fraction))
        n_valid = int(round(len(shuffled) * valid_fraction))
        test = np.zeros_like(is_sample)
        valid = np.zeros_like(is_sample)
        test[shuffled[:n_test]] = True
        valid[shuffled[n_test:n_test + n_valid]] = True
    train = is_sample & ~test & ~valid
    return {name: np.flatnonzero(mask) for name, mask in
            (("train", train), ("valid", valid), ("test", test))}


def user_starts(offsets: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """(n,) flat start of the user run each of the (n,) flat positions falls in."""
    return offsets[np.searchsorted(offsets, positions, side="right") - 1]


def windows(items: np.ndarray, offsets: np.ndarray, targets: np.ndarray, max_len: int) -> np.ndarray:
    """Left-padded input windows: (n, max_len) int64, newest item in the last column.

    items, offsets: the flat sequences (or any per-interaction column, e.g. timestamps); targets:
    (n,) flat target positions. Row j holds the up to `max_len` entries of the target's user that
    come before it; 0 marks padding.
    """
    first = user_starts(offsets, targets)  # (n,)
    index = targets[:, None] - max_len + np.arange(max_len)[None, :]  # (n, max_len)
    inside = index >= first[:, None]
    return np.where(inside, items[np.maximum(index, 0)], 0).astype(np.int64)
