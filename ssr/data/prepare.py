"""`ssr data prepare`: raw log -> prepared dataset file, reusing an identical earlier result."""

from __future__ import annotations

import dataclasses
import hashlib

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from ssr import __version__
from ssr.config import COUNT, FRACTION, NON_NEGATIVE, Checked
from ssr.data.dataset import FORMAT, SCHEMA_VERSION, write_dataset
from ssr.data.features import FeatureSource, aligned, describe, load_matrix, read_index
from ssr.data.log import InteractionLog
from ssr.io import file_sha256
from ssr.data.preprocess import SPLITS, build_sequences, split_samples
from ssr.data.synthetic import SyntheticConfig, generate

GIVEN_SPLIT = ("recbole-inter",)  # files that carry their own leave-one-out split: kept as they are
DATASETS = ("synthetic", "ml-100k", "ml-1m", "amazon-csv", "seqfile", "sasrec", "recbole-inter", "steam", "retailrocket")


@dataclass(frozen=True)
class PrepareConfig(Checked):
    dataset: str  # one of DATASETS
    split: str = "ufo"  # the paper's protocol; `loo` for the RecBole/FMLP-Rec one
    max_len: int = 50  # items in an input window (newest last, left-padded)
    min_count: int = 5  # iterative k-core: every user and item keeps >= this many interactions
    seed: int = 0  # synthetic generator and the `fo` shuffle
    test_fraction: float = 0.2
    valid_fraction: float = 0.1  # of each user's train part (ufo), of all samples (fo)
    user_first: bool = False  # amazon-csv only: the file is user,item,... (SNAP 2014 layout)
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)
    item_features: tuple[str, ...] = ()  # NAME=FILE.npy per modality (ssr.data.features)
    item_index: str | None = None  # `key<TAB>row` file mapping raw item keys to feature rows

    option_prefix = "--"
    ranges = {"max_len": COUNT, "min_count": COUNT, "seed": NON_NEGATIVE, "test_fraction": FRACTION,
              "valid_fraction": FRACTION}

    def check(self) -> None:
        if self.dataset not in DATASETS:
            raise ValueError(f"unknown dataset {self.dataset!r}; choose one of {', '.join(DATASETS)}")
        if self.split not in SPLITS:
            raise ValueError(f"unknown split {self.split!r}; choose one of {', '.join(SPLITS)}")
        if self.dataset in GIVEN_SPLIT and (self.split != "loo" or self.min_count != 1):
            raise ValueError(f"{self.dataset} files carry their own leave-one-out split, kept as given: prepare "
                             f"with --split loo --min-count 1 (got --split {self.split} --min-count {self.min_count})")
        names = [FeatureSource.parse(entry).name for entry in self.item_features]
        if len(set(names)) != len(names):
            raise ValueError(f"--item-features names a modality twice: {', '.join(names)}")
        if self.item_index and not self.item_features:
            raise ValueError("--item-index only applies with --item-features")
        if self.user_first and self.dataset != "amazon-csv":
            raise ValueError(f"--user-first applies to amazon-csv only, not {self.dataset!r}")

    def to_dict(self) -> dict:
        config = dataclasses.asdict(self)
        if self.dataset != "synthetic":
            del config["synthetic"]
        if self.dataset != "amazon-csv":
            del config["user_first"]
        del config["item_features"], config["item_index"]  # recorded with their checksums by prepare()
        return config


def load_log(config: PrepareConfig, path: Path | None) -> InteractionLog:
    if config.dataset == "synthetic":
        return generate(config.synthetic, seed=config.seed)
    if path is None:
        raise ValueError(f"--path is required for dataset {config.dataset!r} "
                         f"(get the file with `ssr data fetch {config.dataset}`)")
    from ssr.data.readers import read_log

    options = {"user_first": config.user_first} if config.dataset == "amazon-csv" else {}
    return read_log(config.dataset, path, **options)


def _existing(out: Path) -> tuple[dict, dict, dict] | None:
    """(config, provenance, stats) of an earlier ssr dataset at `out` (attributes only), or None."""
    try:
        with h5py.File(out, "r") as f:
            if f.attrs.get("format") != FORMAT or int(f.attrs["schema_version"]) < SCHEMA_VERSION:
                return None  # not ours, or written before the current layout: rebuild
            return tuple(json.loads(f.attrs[key]) for key in ("config", "provenance", "stats"))
    except (OSError, KeyError, ValueError):
        return None


def _sources_sha256(config: PrepareConfig, path: Path) -> str:
    """sha256 of the source file; of a given split's three files, sha256 over their three digests."""
    if config.dataset not in GIVEN_SPLIT:
        return file_sha256(path)
    from ssr.data.readers import inter_files

    digest = hashlib.sha256()
    for file in inter_files(path).values():
        if not file.is_file():
            raise FileNotFoundError(f"{file} not found: {path.name} needs its .train/.valid/.test.inter beside it")
        digest.update(file_sha256(file).encode())
    return digest.hexdigest()


def _is_ssr_dataset(path: Path) -> bool:
    try:
        with h5py.File(path, "r") as f:
            return f.attrs.get("format") == FORMAT
    except OSError:
        return False


def prepare(config: PrepareConfig, path: str | Path | None, out: str | Path,
            force: bool = False) -> tuple[dict, bool]:
    """Build the dataset file at `out`; returns (stats, reused). Reuses `out` when its config and
    source file checksum are identical to this request (unless `force`)."""
    out = Path(out)
    path = Path(path) if path is not None else None
    if path is not None and not path.is_file():
        raise FileNotFoundError(f"input file {path} not found; get it with `ssr data fetch {config.dataset}` "
                                "or pass the right --path")
    if out.is_dir():
        raise ValueError(f"--out {out} is a directory; name the dataset file, e.g. {out / 'dataset.h5'}")
    if out.exists() and not _is_ssr_dataset(out):
        raise ValueError(f"--out {out} exists and is not an ssr dataset; it is left alone: choose another --out "
                         "or delete it yourself")
    source_sha256 = _sources_sha256(config, path) if path is not None else None
    config_dict = config.to_dict()
    sources = [FeatureSource.parse(entry) for entry in config.item_features]
    matrices = {source.name: load_matrix(source.path) for source in sources}  # checked before anything
    index = read_index(Path(config.item_index)) if config.item_index else None
    if sources:  # the features are part of what models read: the fingerprint covers their checksums
        config_dict["item_features"] = [describe(source, matrices[source.name]) for source in sources]
        if config.item_index:
            config_dict["item_index"] = {"file": config.item_index, "sha256": file_sha256(config.item_index)}
    earlier = _existing(out) if out.exists() and not force else None
    if earlier and earlier[0] == config_dict and earlier[1].get("source_sha256") == source_sha256:
        return earlier[2], True

    started = time.perf_counter()
    log = load_log(config, path)
    sequences = build_sequences(log, config.min_count, keep_repeats=config.dataset in GIVEN_SPLIT)
    splits = split_samples(sequences, config.split, config.seed, config.test_fraction, config.valid_fraction)
    raw_items = len(np.unique(log.item))
    features = {source.name: aligned(source, matrices[source.name], sequences.item_keys, raw_items, index)
                for source in sources}
    provenance = {
        "source": str(path) if path is not None else log.source,
        "source_sha256": source_sha256,
        "raw_interactions": len(log),
        "ssr_version": __version__,
        "created_unix": int(time.time()),
        "prepare_seconds": round(time.perf_counter() - started, 3),
    }
    return write_dataset(out, sequences, splits, config_dict, provenance, features), False
