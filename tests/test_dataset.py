"""prepare() -> HDF5 dataset file -> read_dataset(), checked against plain-Python recomputation."""

from __future__ import annotations

import dataclasses
import os
from collections import Counter, defaultdict
from pathlib import Path

import h5py
import numpy as np
import pytest

from ssr.data import dataset as dataset_module
from ssr.data.dataset import read_dataset, write_dataset
from ssr.data.prepare import PrepareConfig, prepare
from ssr.data.preprocess import Sequences
from ssr.data.synthetic import SyntheticConfig, generate

SMALL = SyntheticConfig(users=200, items=60)
CONFIG = PrepareConfig(dataset="synthetic", max_len=8, min_count=3, seed=4, synthetic=SMALL)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("data") / "synthetic.h5"
    stats, reused = prepare(CONFIG, None, out)
    assert reused is False
    return out, stats


def user_lists(items: np.ndarray, offsets: np.ndarray) -> list[list[int]]:
    return [items[offsets[u]:offsets[u + 1]].tolist() for u in range(len(offsets) - 1)]


def test_prepare_writes_a_readable_file(prepared) -> None:
    out, stats = prepared
    assert out.is_file()
    data = read_dataset(out)
    assert data.stats == stats
    seqs = user_lists(data.items, data.offsets)
    lengths = [len(s) for s in seqs]
    users, interactions = len(seqs), sum(lengths)
    items = len({i for s in seqs for i in s})
    assert stats["users"] == users > 0
    assert stats["items"] == items == data.num_items
    assert stats["interactions"] == interactions
    assert stats["density"] == pytest.approx(interactions / (users * items))
    assert stats["mean_length"] == pytest.approx(interactions / users)
    assert (stats["min_length"], stats["max_length"]) == (min(lengths), max(lengths))
    for name in ("train", "valid", "test"):
        assert stats[f"{name}_samples"] == len(data.splits[name])
    # re-encoded ids are exactly 1..items; every user keeps >= min_count after the k-core
    assert sorted({i for s in seqs for i in s}) == list(range(1, items + 1))
    assert min(lengths) >= CONFIG.min_count
    assert min(Counter(i for s in seqs for i in s).values()) >= CONFIG.min_count


def test_config_and_provenance_round_trip(prepared) -> None:
    out, _ = prepared
    data = read_dataset(out)
    expected = {"dataset": "synthetic", "split": "ufo", "max_len": 8, "min_count": 3, "seed": 4,
                "test_fraction": 0.2, "valid_fraction": 0.1, "synthetic": dataclasses.asdict(SMALL)}
    assert {key: data.config.get(key) for key in expected} == expected
    assert data.max_len == 8
    assert data.provenance["source_sha256"] is None  # generated, no input file
    assert "synthetic" in data.provenance["source"]
    assert data.provenance["raw_interactions"] > data.stats["interactions"] > 0
    assert isinstance(data.provenance["ssr_version"], str)
    assert len(data.fingerprint) == 64 and int(data.fingerprint, 16) >= 0


def test_inputs_and_targets_match_plain_python(prepared) -> None:
    data = read_dataset(prepared[0])
    assert data.path == prepared[0]
    items, offsets = data.items.tolist(), data.offsets.tolist()
    for split in ("train", "valid", "test"):
        inputs, targets = data.inputs_and_targets(split)
        positions = data.splits[split].tolist()
        assert inputs.shape == (len(positions), data.max_len)
        assert targets.shape == (len(positions),)
        assert inputs.dtype == targets.dtype == np.int64
        for row, target, p in zip(inputs.tolist(), targets.tolist(), positions, strict=True):
            u = max(i for i in range(len(offsets) - 1) if offsets[i] <= p)
            assert p > offsets[u]  # never a user's first item
            before = items[offsets[u]:p][-data.max_len:]
            assert target == items[p]
            assert row == [0] * (data.max_len - len(before)) + before


def test_history_matches_plain_python(prepared) -> None:
    data = read_dataset(prepared[0])
    items, offsets = data.items.tolist(), data.offsets.tolist()
    for split in ("valid", "test"):
        sample, item = data.history(split)
        expected = []
        for index, p in enumerate(data.splits[split].tolist()):
            u = max(i for i in range(len(offsets) - 1) if offsets[i] <= p)
            expected += [(index, it) for it in items[offsets[u]:p]]
        assert list(zip(sample.tolist(), item.tolist(), strict=True)) == expected


def test_train_item_counts_match_counter(prepared) -> None:
    data = read_dataset(prepared[0])
    counter = Counter(int(data.items[p]) for p in data.splits["train"])
    counts = data.train_item_counts()
    assert counts.shape == (data.num_items + 1,)
    assert counts.tolist() == [counter.get(i, 0) for i in range(data.num_items + 1)]


def test_unknown_split_name(prepared) -> None:
    with pytest.raises(ValueError, match="nosuch"):
        read_dataset(prepared[0]).inputs_and_targets("nosuch")


def test_prepare_reuses_identical_and_rewrites_changed(tmp_path: Path) -> None:
    out = tmp_path / "d.h5"
    config = dataclasses.replace(CONFIG, synthetic=SyntheticConfig(users=60, items=30))
    first, reused = prepare(config, None, out)
    assert not reused
    before = os.stat(out)
    again, reused = prepare(config, None, out)
    assert reused and again == first
    after = os.stat(out)
    assert (after.st_mtime_ns, after.st_ino) == (before.st_mtime_ns, before.st_ino)

    changed = dataclasses.replace(config, max_len=5)
    _, reused = prepare(changed, None, out)
    assert not reused
    assert read_dataset(out).config["max_len"] == 5
    rewritten = os.stat(out)
    _, reused = prepare(changed, None, out, force=True)
    assert not reused
    assert os.stat(out).st_ino != rewritten.st_ino  # a new file renamed into place
    assert [p.name for p in tmp_path.iterdir()] == ["d.h5"]  # no temp files left


def most_frequent_successor_share(log_user: np.ndarray, log_item: np.ndarray) -> float:
    """Mean over frequent items a of (count of a's most frequent next item) / (a's transitions)."""
    nexts: dict[int, Counter] = defaultdict(Counter)
    for i in range(1, len(log_user)):
        if log_user[i] == log_user[i - 1]:
            nexts[int(log_item[i - 1])][int(log_item[i])] += 1
    shares = [max(c.values()) / sum(c.values()) for c in nexts.values() if sum(c.values()) >= 40]
    assert len(shares) >= 10
    return sum(shares) / len(shares)


def test_synthetic_log_has_planted_successors() -> None:
    config = SyntheticConfig(users=300, items=60)
    log = generate(config, seed=1)
    assert len(set(log.user.tolist())) == 300
    assert set(log.item.tolist()) <= set(range(1, 61))
    order = np.lexsort((log.timestamp, log.user))
    user, item = log.user[order], log.item[order]
    planted = most_frequent_successor_share(user, item)
    shuffled = most_frequent_successor_share(user, np.random.default_rng(0).permutation(item))
    assert planted > 0.2
    assert planted > 2 * shuffled
    # the same seed gives the same log, another seed another one
    again = generate(config, seed=1)
    assert np.array_equal(again.item, log.item) and np.array_equal(again.timestamp, log.timestamp)
    assert not np.array_equal(generate(config, seed=2).item[:200], log.item[:200])


def test_read_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.h5"
    with pytest.raises(FileNotFoundError, match="nope.h5"):
        read_dataset(missing)


def test_read_non_hdf5_file(tmp_path: Path) -> None:
    path = tmp_path / "text.h5"
    path.write_text("just some text\n")
    with pytest.raises(ValueError, match="text.h5"):
        read_dataset(path)


def test_read_hdf5_without_format(tmp_path: Path) -> None:
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(ValueError, match="other.h5"):
        read_dataset(path)


def test_read_hdf5_with_format_but_missing_arrays(tmp_path: Path) -> None:
    path = tmp_path / "partial.h5"
    with h5py.File(path, "w") as f:
        f.attrs["format"] = dataset_module.FORMAT
        f.attrs["schema_version"] = dataset_module.SCHEMA_VERSION
    with pytest.raises(ValueError, match="partial.h5"):
        read_dataset(path)


def test_read_newer_schema(tmp_path: Path, prepared) -> None:
    path = tmp_path / "newer.h5"
    path.write_bytes(prepared[0].read_bytes())
    with h5py.File(path, "a") as f:
        f.attrs["schema_version"] = dataset_module.SCHEMA_VERSION + 1
    with pytest.raises(ValueError, match="newer"):
        read_dataset(path)


def tiny_sequences() -> tuple[Sequences, dict[str, np.ndarray]]:
    seq = Sequences(items=np.array([1, 2, 1, 2], np.int32), offsets=np.array([0, 2, 4]),
                    user_keys=np.array([1, 2]), item_keys=np.array([0, 10, 20]))
    return seq, {"train": np.array([1]), "valid": np.zeros(0, np.int64), "test": np.array([3])}


def test_failed_write_leaves_nothing_behind(tmp_path: Path, monkeypatch) -> None:
    seq, splits = tiny_sequences()
    out = tmp_path / "d.h5"

    def broken(self, *args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(h5py.Group, "create_dataset", broken)  # fails after attrs + 2 arrays
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_dataset(out, seq, splits, {"max_len": 2}, {})
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_earlier_file(tmp_path: Path, monkeypatch) -> None:
    seq, splits = tiny_sequences()
    out = tmp_path / "d.h5"
    write_dataset(out, seq, splits, {"max_len": 2}, {})
    good = out.read_bytes()
    monkeypatch.setattr(h5py.Group, "create_dataset",
                        lambda self, *a, **k: (_ for _ in ()).throw(RuntimeError("disk on fire")))
    with pytest.raises(RuntimeError):
        write_dataset(out, seq, {**splits, "train": np.array([1, 3])}, {"max_len": 3}, {})
    assert out.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == ["d.h5"]
    assert read_dataset(out).config == {"max_len": 2}


def test_timestamps_are_each_interactions_first_time_in_the_raw_log(prepared) -> None:
    """Every kept (user, item) carries the time of its first occurrence in the raw log, users' times
    never decrease, and time_windows lines up with the input windows (0 at padding)."""
    data = read_dataset(prepared[0])
    log = generate(SMALL, seed=CONFIG.seed)
    first_time: dict[tuple, int] = {}
    for user, item, time in zip(log.user.tolist(), log.item.tolist(), log.timestamp.tolist()):
        first_time[(user, item)] = min(time, first_time.get((user, item), time))
    with h5py.File(prepared[0], "r") as f:
        user_keys = [int(k) for k in f["keys/users"].asstr()[()]]
        item_keys = [k for k in f["keys/items"].asstr()[()]]
    times, offsets = data.timestamps.tolist(), data.offsets.tolist()
    for u, key in enumerate(user_keys):
        run = times[offsets[u]:offsets[u + 1]]
        assert run == sorted(run)
        for p in range(offsets[u], offsets[u + 1]):
            assert times[p] == first_time[(key, int(item_keys[data.items[p]]))]
    for split in ("train", "test"):
        inputs, _ = data.inputs_and_targets(split)
        time_rows = data.time_windows(split)
        for row, time_row, p in zip(inputs.tolist(), time_rows.tolist(), data.splits[split].tolist(), strict=True):
            u = max(i for i in range(len(offsets) - 1) if offsets[i] <= p)
            before = times[offsets[u]:p][-data.max_len:]
            assert time_row == [0] * (data.max_len - len(before)) + before
            assert [t == 0 for t in time_row] == [i == 0 for i in row] or min(before) == 0


def test_schema_1_files_load_without_timestamps_and_prepare_rebuilds_them(tmp_path: Path, prepared) -> None:
    old = tmp_path / "old.h5"
    old.write_bytes(prepared[0].read_bytes())
    with h5py.File(old, "a") as f:
        del f["sequences/timestamps"]
        f.attrs["schema_version"] = 1
    data = read_dataset(old)
    assert data.timestamps is None and data.fingerprint == read_dataset(prepared[0]).fingerprint
    with pytest.raises(ValueError, match="no timestamps.*--force"):
        data.time_windows("test")
    _, reused = prepare(CONFIG, None, old)
    assert not reused and read_dataset(old).timestamps is not None
