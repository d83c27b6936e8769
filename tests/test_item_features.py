"""Item side information in prepared datasets: rows aligned to re-encoded item ids (the id map
decides; filtered items drop their rows), checksums in the config, and every bad file refused with
one line and nothing written."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from ssr.cli import main
from ssr.data.dataset import read_dataset

HEADER = "user_id:token\titem_id_list:token_seq\titem_id:token\n"


@pytest.fixture
def inter(tmp_path: Path) -> Path:
    """A 3-user split over raw items 0..5 (the .inter layout: item keys are feature rows)."""
    (tmp_path / "toy.train.inter").write_text(HEADER + "a\t0\t1\nb\t2\t3\nc\t4\t5\n")
    (tmp_path / "toy.valid.inter").write_text(HEADER + "a\t0 1\t2\nb\t2 3\t4\nc\t4 5\t0\n")
    (tmp_path / "toy.test.inter").write_text(HEADER + "a\t0 1 2\t3\nb\t2 3 4\t5\nc\t4 5 0\t1\n")
    return tmp_path / "toy.test.inter"


def prepare_argv(inter: Path, out: Path, *extra: str) -> list[str]:
    return ["data", "prepare", "--dataset", "recbole-inter", "--path", str(inter), "--split", "loo",
            "--min-count", "1", *extra, "--out", str(out)]


def test_rows_follow_the_id_map(inter: Path, tmp_path: Path, capsys) -> None:
    text = np.arange(12, dtype=np.float32).reshape(6, 2) * 10  # row r: raw item r
    np.save(tmp_path / "text.npy", text)
    np.save(tmp_path / "image.npy", -text[:, :1])
    out = tmp_path / "toy.h5"
    assert main(prepare_argv(inter, out, "--item-features", f"text={tmp_path / 'text.npy'}",
                             "--item-features", f"image={tmp_path / 'image.npy'}")) == 0
    dataset = read_dataset(out)
    import h5py

    keys = h5py.File(out)["keys/items"][()].astype(str)
    assert dataset.item_features["text"].shape == (7, 2) and not dataset.item_features["text"][0].any()
    for item_id in range(1, 7):  # every id's row is its raw key's row of the file
        np.testing.assert_array_equal(dataset.item_features["text"][item_id], text[int(keys[item_id])])
    assert [m["name"] for m in dataset.config["item_features"]] == ["text", "image"]
    assert main(["data", "stats", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "features text    2-d" in shown and "features image   1-d" in shown


def test_an_index_file_maps_keys_to_rows(tmp_path: Path) -> None:
    (tmp_path / "log.data").write_text("".join(f"{u}\t{i}\t5\t{10 * u + i}\n" for u in (1, 2, 3) for i in (7, 8, 9)))
    np.save(tmp_path / "f.npy", np.array([[1.0], [2.0], [3.0], [4.0]], dtype=np.float32))
    (tmp_path / "index.tsv").write_text("7\t3\n8\t0\n9\t2\n")
    out = tmp_path / "d.h5"
    assert main(["data", "prepare", "--dataset", "ml-100k", "--path", str(tmp_path / "log.data"), "--min-count", "1",
                 "--item-features", f"f={tmp_path / 'f.npy'}", "--item-index", str(tmp_path / "index.tsv"),
                 "--out", str(out)]) == 0
    assert read_dataset(out).item_features["f"][1:, 0].tolist() == [4.0, 1.0, 3.0]  # items 7, 8, 9


def bad_files(tmp_path: Path) -> dict[str, Path]:
    files = {"rows": np.zeros((5, 2)), "nan": np.full((6, 2), np.nan), "one_d": np.zeros(6),
             "inf": np.concatenate([np.zeros((5, 2)), [[np.inf, 0]]])}
    paths = {}
    for name, array in files.items():
        paths[name] = tmp_path / f"{name}.npy"
        np.save(paths[name], array)
    paths["pickle"] = tmp_path / "pickle.npy"
    np.save(paths["pickle"], np.array([{"a": 1}] * 6, dtype=object), allow_pickle=True)
    paths["not_npy"] = tmp_path / "not.npy"
    paths["not_npy"].write_bytes(b"\x93NUMPY garbage")
    paths["raw_pickle"] = tmp_path / "raw.npy"
    paths["raw_pickle"].write_bytes(pickle.dumps([1, 2]))  # np.load would unpickle it; never done
    return paths


@pytest.mark.parametrize("bad, message", [
    ("rows", "have 5 rows but the log has 6 items"),
    ("nan", "NaN or inf in 6 row(s), the first row 0"),
    ("inf", "NaN or inf in 1 row(s), the first row 5"),
    ("one_d", "must be a 2-D numeric (items, dim) array"),
    ("pickle", "hold Python objects"),
    ("raw_pickle", "hold Python objects"),
    ("not_npy", "not a readable .npy file"),
])
def test_bad_feature_files_are_one_line_and_nothing_is_written(bad, message, inter, tmp_path, capsys) -> None:
    path = bad_files(tmp_path)[bad]
    out = tmp_path / "out.h5"
    assert main(prepare_argv(inter, out, "--item-features", f"text={path}")) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not out.exists() and not list(tmp_path.glob(".out.h5*"))


@pytest.mark.parametrize("extra, message", [
    (["--item-features", "Text=x.npy"], "lower-case NAME"),
    (["--item-features", "text"], "takes NAME=FILE.npy"),
    (["--item-features", "t=a.npy", "--item-features", "t=b.npy"], "names a modality twice"),
    (["--item-index", "index.tsv"], "--item-index only applies with --item-features"),
])
def test_bad_feature_options(extra, message, inter, tmp_path, capsys) -> None:
    assert main(prepare_argv(inter, tmp_path / "o.h5", *extra)) == 1
    assert message in capsys.readouterr().err
