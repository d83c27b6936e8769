"""Readers of the benchmark formats: RecBole/UniSRec `.inter` files (their leave-one-out split kept
as given) and SASRec's `user item` lines. Hand-written files are the references; the real files in
../shared/data are checked against the counts their SOURCE.md states (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from ssr.data.dataset import read_dataset
from ssr.data.log import DataFormatError
from ssr.data.prepare import PrepareConfig, prepare
from ssr.data.readers import read_log

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
HEADER = "user_id:token\titem_id_list:token_seq\titem_id:token\n"


def write_inter(folder: Path, train: str, valid: str, test: str) -> Path:
    for part, body in (("train", train), ("valid", valid), ("test", test)):
        (folder / f"toy.{part}.inter").write_text(HEADER + body)
    return folder / "toy.test.inter"


GOOD = dict(train="a\tx\ty\na\tx y\tz\nb\tp\tq\nb\tp q\tr\n",
            valid="a\tx y z\tw\nb\tp q r\ts\n",
            test="a\tx y z w\tv\nb\tp q r s\tt\n")


def test_inter_split_is_kept_as_given(tmp_path: Path) -> None:
    path = write_inter(tmp_path, **GOOD)
    log = read_log("recbole-inter", path)
    assert log.user.tolist() == ["a"] * 5 + ["b"] * 5
    assert log.item.tolist() == ["x", "y", "z", "w", "v", "p", "q", "r", "s", "t"]
    out = tmp_path / "toy.h5"
    prepare(PrepareConfig(dataset="recbole-inter", split="loo", min_count=1, max_len=4), path, out)
    dataset = read_dataset(out)
    keys = h5py.File(out)["keys/items"][()].astype(str)
    assert keys[dataset.targets("test")].tolist() == ["v", "t"]
    assert keys[dataset.targets("valid")].tolist() == ["w", "s"]
    assert sorted(keys[dataset.targets("train")].tolist()) == sorted(["y", "z", "q", "r"])


def test_inter_repeats_are_kept(tmp_path: Path) -> None:
    """A given split keeps repeated consumption: dropping the repeat would move the test item."""
    path = write_inter(tmp_path, train="a\tx\ty\n", valid="a\tx y\tx\n", test="a\tx y x\ty\n")
    out = tmp_path / "rep.h5"
    prepare(PrepareConfig(dataset="recbole-inter", split="loo", min_count=1), path, out)
    assert read_dataset(out).stats["interactions"] == 4


@pytest.mark.parametrize("part, body, message", [
    ("valid", "a\tx y\tw\nb\tp q r\ts\n", "toy.valid.inter:2: user a's validation sequence is not its test"),
    ("valid", "a\tx y z\tw\n", "no row for user(s) b"),
    ("train", "a\tx\ty\na\tx y z\tw\nb\tp\tq\n", "toy.train.inter:3: user a's training row is not a prefix"),
    ("test", "a\tx y z w\n", "toy.test.inter:2: expected 'user<TAB>item item ...<TAB>item'"),
])
def test_inter_bad_files_name_file_and_line(part: str, body: str, message: str, tmp_path: Path) -> None:
    path = write_inter(tmp_path, **{**GOOD, part: body})
    with pytest.raises(DataFormatError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_log("recbole-inter", path)


def test_inter_header_and_split_options_are_checked(tmp_path: Path) -> None:
    path = write_inter(tmp_path, **GOOD)
    (tmp_path / "toy.valid.inter").write_text("user item\n" + GOOD["valid"])
    with pytest.raises(DataFormatError, match="toy.valid.inter:1: expected the header"):
        read_log("recbole-inter", path)
    with pytest.raises(ValueError, match="--split loo --min-count 1"):
        PrepareConfig(dataset="recbole-inter", split="ufo", min_count=1)
    (tmp_path / "toy.train.inter").unlink()
    with pytest.raises(FileNotFoundError, match="toy.train.inter not found"):
        prepare(PrepareConfig(dataset="recbole-inter", split="loo", min_count=1), path, tmp_path / "x.h5")
    assert not (tmp_path / "x.h5").exists()


def test_sasrec_lines(tmp_path: Path) -> None:
    path = tmp_path / "Toy.txt"
    path.write_text("1 10\n1 11\n2 10\n1 12\n")
    log = read_log("sasrec", path)
    assert log.user.tolist() == [1, 1, 2, 1] and log.item.tolist() == [10, 11, 10, 12]
    assert log.timestamp.tolist() == [0, 1, 2, 3]
    path.write_text("1 10\n1 11 7\n")
    with pytest.raises(DataFormatError, match=r"Toy.txt:2: expected 2 integers 'user_id item_id'"):
        read_log("sasrec", path)


@pytest.mark.shared_data
def test_real_scientific_keeps_its_split(tmp_path: Path) -> None:
    path = SHARED / "amazon-scientific-mm" / "Scientific.test.inter"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    out = tmp_path / "sci.h5"
    stats, _ = prepare(PrepareConfig(dataset="recbole-inter", split="loo", min_count=1), path, out)
    assert (stats["users"], stats["items"], stats["interactions"]) == (2928, 1585, 19712)  # SOURCE.md
    assert stats["train_samples"] == 10928  # the rows of Scientific.train.inter
    rows = [line.rstrip("\n").split("\t") for line in path.read_text().splitlines(True)[1:]]
    targets = {user: target for user, _, target in rows}
    with h5py.File(out) as f:
        items, users = f["keys/items"][()].astype(str), f["keys/users"][()].astype(str)
    assert [targets[u] for u in users] == items[read_dataset(out).targets("test")].tolist()


@pytest.mark.shared_data
def test_real_video_sasrec_format() -> None:
    path = SHARED / "amazon-video" / "Video.txt"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    log = read_log("sasrec", path)
    assert len(log) == 287_107  # the counts in ../shared/data/README.md
    assert len(np.unique(log.user)) == 31_013 and len(np.unique(log.item)) == 23_715
