"""Item side information in the prepared dataset: per-modality feature matrices aligned to item ids.

`ssr data prepare ... --item-features text=FILE.npy --item-features image=FILE.npy [--item-index FILE]`
reads each modality's (rows, dim) float matrix and stores it as `features/<name>` (num_items + 1,
dim) float32 in the dataset file: row i is item id i's features, row 0 (padding) zeros. Which row of
FILE.npy belongs to which item is decided by the item's raw key (the id map decides, so items the
filters drop drop their rows):

- without --item-index, raw item keys are row numbers (0, 1, ...): the layout of the RecBole /
  UniSRec feature files, whose row i is item index i; the matrix must have exactly one row per
  distinct raw item of the log;
- with --item-index FILE (`key<TAB>row` per line, e.g. `Scientific.item2index`), the key's row.

A file that is not a plain numeric .npy (a pickle-bearing one is never unpickled), not 2-D, with
NaN or inf, or with a row count that does not fit is a one-line error, and nothing is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ssr.io import file_sha256

MODALITY = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class FeatureSource:
    name: str  # the modality, e.g. "text", "image"
    path: Path  # the .npy file

    @classmethod
    def parse(cls, text: str) -> FeatureSource:
        """`NAME=FILE.npy` from the command line."""
        name, sep, file = text.partition("=")
        if not sep or not MODALITY.match(name) or not file:
            raise ValueError(f"--item-features takes NAME=FILE.npy with a lower-case NAME (e.g. text=text.npy), "
                             f"got {text!r}")
        return cls(name, Path(file))


def load_matrix(path: Path) -> np.ndarray:
    """The (rows, dim) float matrix in `path`, checked: a one-line error for anything else."""
    if not path.is_file():
        raise FileNotFoundError(f"item features {path} not found")
    try:
        matrix = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        reason = str(error).splitlines()[0][:80]
        if "pickle" in reason:  # numpy refuses object arrays and pickles without unpickling them
            raise ValueError(f"item features {path} hold Python objects ({reason}); save a plain numeric array "
                             "with numpy.save") from None
        raise ValueError(f"item features {path} are not a readable .npy file ({reason}); save them with "
                         "numpy.save") from None
    if not isinstance(matrix, np.ndarray) or matrix.ndim != 2 or not np.issubdtype(matrix.dtype, np.number):
        shape = getattr(matrix, "shape", None)
        raise ValueError(f"item features {path} must be a 2-D numeric (items, dim) array, got shape {shape} "
                         f"{getattr(matrix, 'dtype', '')}")
    bad = ~np.isfinite(matrix).all(axis=1)
    if bad.any():
        raise ValueError(f"item features {path} have NaN or inf in {int(bad.sum())} row(s), the first row "
                         f"{int(np.argmax(bad))}; clean them before preparing")
    return matrix


def read_index(path: Path) -> dict[str, int]:
    """`key<TAB>row` lines -> {key: row}; a malformed line is named by file and line."""
    if not path.is_file():
        raise FileNotFoundError(f"--item-index {path} not found")
    index: dict[str, int] = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 2 or not fields[1].strip().isdigit():
            raise ValueError(f"{path}:{lineno}: expected 'item key<TAB>row number', got {line[:80]!r}")
        index[fields[0].strip()] = int(fields[1])
    return index


def aligned(source: FeatureSource, matrix: np.ndarray, item_keys: np.ndarray, raw_items: int,
            index: dict[str, int] | None) -> np.ndarray:
    """(num_items + 1, dim) float32: row i = features of item id i (item_keys[i] its raw key), row 0
    zeros. raw_items: distinct items of the raw log (before filtering)."""
    keys = [str(key) for key in item_keys[1:]]
    if index is None:
        if len(matrix) != raw_items:
            raise ValueError(f"item features {source.path} have {len(matrix)} rows but the log has {raw_items} "
                             "items; without --item-index row i must be raw item i")
        try:
            rows = np.array([int(key) for key in keys], dtype=np.int64)
        except ValueError:
            raise ValueError(f"the log's item keys are not row numbers (e.g. {keys[0]!r}); pass --item-index FILE "
                             "mapping each key to its row") from None
    else:
        missing = [key for key in keys if key not in index]
        if missing:
            raise ValueError(f"--item-index has no row for {len(missing)} item(s) of the log, e.g. {missing[0]!r}")
        rows = np.array([index[key] for key in keys], dtype=np.int64)
    if len(rows) and (rows.min() < 0 or rows.max() >= len(matrix)):
        raise ValueError(f"item features {source.path} have {len(matrix)} rows; an item needs row {int(rows.max())}")
    table = np.zeros((len(keys) + 1, matrix.shape[1]), dtype=np.float32)
    table[1:] = matrix[rows]
    return table


def describe(source: FeatureSource, matrix: np.ndarray) -> dict:
    """What the dataset's config records of a modality (so its fingerprint covers the features)."""
    return {"name": source.name, "file": str(source.path), "sha256": file_sha256(source.path),
            "dim": int(matrix.shape[1])}
