"""The raw interaction log every reader produces, and the error readers raise on bad input."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class DataFormatError(ValueError):
    """A data file that cannot be read: the message names the file, the line and what was expected."""


class DataFileNotFoundError(FileNotFoundError):
    """The data file does not exist; the message names the path and, if known, how to get it."""


@dataclass(frozen=True)
class InteractionLog:
    """A raw interaction log, one row per event, in file order (not yet sorted or filtered).

    user:      (n,) raw user keys as found in the file (int64 or str array)
    item:      (n,) raw item keys as found in the file (int64 or str array)
    timestamp: (n,) int64 event time; unix seconds where the file has times, else the position of
               the event in its user's sequence (pre-sequenced files)
    source:    the path the log was read from, or a description for generated logs
    """

    user: np.ndarray
    item: np.ndarray
    timestamp: np.ndarray
    source: str

    def __post_init__(self) -> None:
        n = len(self.user)
        if len(self.item) != n or len(self.timestamp) != n:
            raise ValueError(
                f"InteractionLog columns differ in length: user {n}, item {len(self.item)}, "
                f"timestamp {len(self.timestamp)}"
            )

    def __len__(self) -> int:
        return len(self.user)
