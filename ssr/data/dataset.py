"""The prepared dataset file (HDF5): writing it atomically, reading it back, statistics.

Layout (schema 2):
    attrs: format="ssr-dataset", schema_version, config (JSON), provenance (JSON), stats (JSON),
           fingerprint (sha256 of items, offsets, splits and config: what id-based models read)
    sequences/items (interactions,) int32, sequences/offsets (users + 1,) int64
    sequences/timestamps (interactions,) int64 event times (schema 2; schema-1 files lack them and
           still load, for every model that does not read time)
    keys/users (users,) str, keys/items (num_items + 1,) str  -- raw ids; item id i <-> keys/items[i]
    splits/{train,valid,test} (samples,) int64 flat target positions
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from ssr.data.preprocess import Sequences, user_starts, windows
from ssr.io import atomic_path

FORMAT = "ssr-dataset"
SCHEMA_VERSION = 2
SPLIT_NAMES = ("train", "valid", "test")


def fingerprint(sequences: Sequences, splits: dict[str, np.ndarray], config: dict) -> str:
    """sha256 over the encoded sequences, the split positions and the preparation config."""
    return _fingerprint(sequences.items, sequences.offsets, splits, config)


def _fingerprint(items: np.ndarray, offsets: np.ndarray, splits: dict[str, np.ndarray], config: dict) -> str:
    """The fingerprint over the arrays as the file stores them (items int32, the rest int64)."""
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode())
    for array in (items.astype(np.int32), offsets.astype(np.int64), *(splits[n].astype(np.int64) for n in SPLIT_NAMES)):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def check_consistent(dataset: SequenceDataset) -> None:
    """ValueError (naming the file) unless the arrays agree with each other and with the recorded
    fingerprint: a file damaged or edited after `prepare` never reaches a model."""
    def bad(what: str) -> ValueError:
        return ValueError(f"{dataset.path} is damaged ({what}); re-run `ssr data prepare --force`")

    items, offsets = dataset.items, dataset.offsets
    if _fingerprint(items, offsets, dataset.splits, dataset.config) != dataset.fingerprint:
        raise bad("its arrays do not match the fingerprint recorded when it was written")
    if len(offsets) < 2 or offsets[0] != 0 or offsets[-1] != len(items) or np.any(np.diff(offsets) < 0):
        raise bad("sequences/offsets do not delimit sequences/items")
    if len(items) and (items.min() < 1 or items.max() > dataset.num_items):
        raise bad(f"item ids outside 1..{dataset.num_items}")
    for name, positions in dataset.splits.items():
        if len(positions) and (positions.min() < 0 or positions.max() >= len(items)):
            raise bad(f"splits/{name} points outside the sequences")
    if dataset.timestamps is not None and len(dataset.timestamps) != len(items):
        raise bad("sequences/timestamps and sequences/items differ in length")
    for name, table in dataset.item_features.items():
        if table.ndim != 2 or len(table) != dataset.num_items + 1:
            raise bad(f"features/{name} has shape {table.shape}, not ({dataset.num_items + 1}, dim)")


def compute_stats(sequences: Sequences, splits: dict[str, np.ndarray]) -> dict:
    lengths = np.diff(sequences.offsets)
    users, items, interactions = sequences.num_users, sequences.num_items, len(sequences.items)
    return {
        "users": users,
        "items": items,
        "interactions": interactions,
        "density": interactions / (users * items),
        "mean_length": float(lengths.mean()),
        "min_length": int(lengths.min()),
        "max_length": int(lengths.max()),
        **{f"{name}_samples": int(len(splits[name])) for name in SPLIT_NAMES},
    }


def write_dataset(path: Path, sequences: Sequences, splits: dict[str, np.ndarray],
                  config: dict, provenance: dict, features: dict[str, np.ndarray] | None = None) -> dict:
    """Write the dataset file via a temp file + rename, so a failure never leaves half a file."""
    stats = compute_stats(sequences, splits)
    string = h5py.string_dtype("utf-8")
    with atomic_path(path) as temp, h5py.File(temp, "w") as f:
        f.attrs.update(format=FORMAT, schema_version=SCHEMA_VERSION,
                       config=json.dumps(config, sort_keys=True),
                       provenance=json.dumps(provenance, sort_keys=True),
                       stats=json.dumps(stats), fingerprint=fingerprint(sequences, splits, config))
        f["sequences/items"] = sequences.items.astype(np.int32)
        f["sequences/offsets"] = sequences.offsets.astype(np.int64)
        if sequences.timestamps is not None:
            f["sequences/timestamps"] = sequences.timestamps.astype(np.int64)
        f.create_dataset("keys/users", data=sequences.user_keys.astype(str).astype(object), dtype=string)
        f.create_dataset("keys/items", data=sequences.item_keys.astype(str).astype(object), dtype=string)
        for name in SPLIT_NAMES:
            f[f"splits/{name}"] = splits[name].astype(np.int64)
        for name, table in (features or {}).items():  # (num_items + 1, dim) float32, row 0 padding
            f.create_dataset(f"features/{name}", data=table, compression="gzip")
    return stats


@dataclass
class SequenceDataset:
    """A prepared dataset in memory. Item ids run 1..num_items; 0 is padding."""

    path: Path
    items: np.ndarray  # (interactions,) int32
    offsets: np.ndarray  # (users + 1,) int64
    splits: dict[str, np.ndarray]  # name -> (samples,) int64 flat target positions
    config: dict
    provenance: dict
    stats: dict
    fingerprint: str
    timestamps: np.ndarray | None = None  # (interactions,) int64; None in schema-1 files
    item_features: dict[str, np.ndarray] = field(default_factory=dict)  # modality -> (num_items + 1, dim) float32

    @property
    def num_items(self) -> int:
        return int(self.stats["items"])

    @property
    def max_len(self) -> int:
        return int(self.config["max_len"])

    def inputs_and_targets(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """(samples, max_len) int64 left-padded inputs and (samples,) int64 target item ids."""
        positions = self._positions(split)
        return windows(self.items, self.offsets, positions, self.max_len), self.items[positions].astype(np.int64)

    def targets(self, split: str) -> np.ndarray:
        """(samples,) int64 target item ids of `split`."""
        return self.items[self._positions(split)].astype(np.int64)

    def time_windows(self, split: str) -> np.ndarray:
        """(samples, max_len) int64 event times of the input windows' items (aligned with
        `inputs_and_targets`; 0 at padding) — for time-aware models."""
        if self.timestamps is None:
            raise ValueError(f"{self.path} holds no timestamps (dataset schema 1); re-run `ssr data prepare "
                             "... --force` to add them")
        return windows(self.timestamps, self.offsets, self._positions(split), self.max_len)

    def history(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """All items each sample's user saw before the target (not only the window), as pairs.

        Returns (sample_index, item_id), both (pairs,) int64: for `--mask-history` ranking.
        """
        positions = self._positions(split)
        first = user_starts(self.offsets, positions)
        counts = positions - first
        sample = np.repeat(np.arange(len(positions)), counts)
        step = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        return sample, self.items[np.repeat(first, counts) + step].astype(np.int64)

    def train_item_counts(self) -> np.ndarray:
        """(num_items + 1,) int64 how often each item is a training target (popularity)."""
        return np.bincount(self.items[self.splits["train"]], minlength=self.num_items + 1)

    def _positions(self, split: str) -> np.ndarray:
        if split not in self.splits:
            raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLIT_NAMES)}")
        return self.splits[split]


def read_dataset(path: str | Path) -> SequenceDataset:
    """Load a file written by `ssr data prepare`; one clear error for anything else."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"dataset file {path} not found; create it with `ssr data prepare ... --out {path}`")
    try:
        with h5py.File(path, "r") as f:
            if f.attrs.get("format") != FORMAT:
                raise ValueError(f"{path} is not an ssr dataset (no format={FORMAT!r} attribute); "
                                 "create it with `ssr data prepare`")
            version = int(f.attrs["schema_version"])
            if version > SCHEMA_VERSION:
                raise ValueError(f"{path} has dataset schema {version}, newer than this ssr "
                                 f"({SCHEMA_VERSION}); upgrade ssr or re-run `ssr data prepare`")
            dataset = SequenceDataset(
                path=path,
                items=f["sequences/items"][()],
                offsets=f["sequences/offsets"][()],
                splits={name: f[f"splits/{name}"][()] for name in SPLIT_NAMES},
                config=json.loads(f.attrs["config"]),
                provenance=json.loads(f.attrs["provenance"]),
                stats=json.loads(f.attrs["stats"]),
                fingerprint=str(f.attrs["fingerprint"]),
                timestamps=f["sequences/timestamps"][()] if "sequences/timestamps" in f else None,
                item_features={name: f["features"][name][()] for name in f.get("features", {})},
            )
    except (OSError, KeyError, TypeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path} is not a readable ssr dataset ({error}); re-run `ssr data prepare`") from None
    check_consistent(dataset)
    return dataset

