"""A synthetic interaction log with planted sequential structure (the embedded default dataset).

Every item has a few fixed *successor* items. A user starts at a popular item and then, with
probability `follow_prob`, moves to one of the current item's successors, otherwise jumps to an item
drawn from a Zipf popularity law. A model that reads the last item therefore beats popularity by a
wide margin, and popularity itself is a non-trivial baseline.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ssr.config import COUNT, Checked, Range, at_least
from ssr.data.log import InteractionLog


@dataclass(frozen=True)
class SyntheticConfig(Checked):
    users: int = 2000  # enough users for a stable test metric, small enough for a CPU demo
    items: int = 500
    min_length: int = 8  # sequence length per user ~ U[min_length, max_length] before dedup/k-core
    max_length: int = 40
    successors: int = 3  # planted next-item candidates per item
    follow_prob: float = 0.8  # chance to follow the planted structure at each step
    zipf_exponent: float = 1.0  # popularity law of jumps and first items

    option_prefix = "--synthetic-"  # users -> --synthetic-users (the others are not options)
    ranges = {"users": COUNT, "items": at_least(2), "min_length": COUNT, "max_length": COUNT,
              "successors": COUNT, "follow_prob": Range(low=0.0, high=1.0), "zipf_exponent": at_least(0)}

    def check(self) -> None:
        if self.items < self.successors + 1:
            raise ValueError(f"synthetic items must exceed successors ({self.successors}), got {self.items}")
        if self.min_length > self.max_length:
            raise ValueError(f"synthetic min_length ({self.min_length}) must be <= max_length ({self.max_length})")


def generate(config: SyntheticConfig, seed: int = 0) -> InteractionLog:
    """Draw a log of `users` sequences; user keys 1..users, item keys 1..items, one event a minute."""
    if config.items < config.successors + 1:
        raise ValueError(f"synthetic items must exceed successors ({config.successors}), got {config.items}")
    if not 1 <= config.min_length <= config.max_length:
        raise ValueError(f"need 1 <= min_length <= max_length, got {config.min_length}, {config.max_length}")
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, config.items + 1) ** config.zipf_exponent
    popularity /= popularity.sum()
    successor_table = rng.integers(0, config.items, size=(config.items, config.successors))  # (items, S)
    lengths = rng.integers(config.min_length, config.max_length + 1, size=config.users)  # (users,)

    steps = np.zeros((config.users, config.max_length), dtype=np.int64)  # (users, max_length)
    steps[:, 0] = rng.choice(config.items, size=config.users, p=popularity)
    for t in range(1, config.max_length):
        follow = rng.random(config.users) < config.follow_prob
        planted = successor_table[steps[:, t - 1], rng.integers(0, config.successors, config.users)]
        jump = rng.choice(config.items, size=config.users, p=popularity)
        steps[:, t] = np.where(follow, planted, jump)

    in_sequence = np.arange(config.max_length)[None, :] < lengths[:, None]  # (users, max_length)
    user = np.broadcast_to(np.arange(1, config.users + 1)[:, None], steps.shape)[in_sequence]
    position = np.broadcast_to(np.arange(config.max_length)[None, :], steps.shape)[in_sequence]
    timestamp = 1_600_000_000 + user.astype(np.int64) * 100_000 + position * 60
    return InteractionLog(user=user.astype(np.int64), item=steps[in_sequence] + 1,
                          timestamp=timestamp, source=f"synthetic(seed={seed}, {config})")
