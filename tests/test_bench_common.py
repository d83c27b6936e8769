"""bench.common: what a benchmark's `--merge` keeps of a result file written another day (earlier_result,
earlier_rows, merge_per_seed); and the windows bench.train_throughput hands the authors' released code."""

from __future__ import annotations

import json

import bench.common as common


def test_earlier_rows_keep_each_row_with_the_day_it_was_measured(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "RESULTS", tmp_path)
    assert common.earlier_rows(common.earlier_result("lava_zoo"), "runs") == {}  # no file yet: nothing to keep
    (tmp_path / "lava_zoo.json").write_text(json.dumps({"date": "2026-11-23", "runs": [
        {"run": "a", "top10": 1.0}, {"run": "b", "top10": 0.5, "measured": "2026-11-20"}]}))
    assert common.earlier_rows(common.earlier_result("lava_zoo"), "runs") == {
        "a": {"run": "a", "top10": 1.0, "measured": "2026-11-23"},
        "b": {"run": "b", "top10": 0.5, "measured": "2026-11-20"}}
    (tmp_path / "gap.json").write_text(json.dumps({"date": "2026-12-01", "variants": {"ssr": {"NDCG@10": 0.04}}}))
    assert common.earlier_rows(common.earlier_result("gap"), "variants") == {"ssr": {"NDCG@10": 0.04, "measured": "2026-12-01"}}


def test_a_variant_diagnosed_again_for_one_seed_keeps_its_other_seeds():
    earlier = {"model": "scaser", "model_config": {"scoring": "spikes"}, "train_overrides": {"lr": 0.003},
               "measured": "2026-11-30", "per_seed": [{"run": "w/beauty_x_seed0", "NDCG@10": 0.1},
                                                      {"run": "w/beauty_x_seed1", "NDCG@10": 0.2,
                                                       "measured": "2026-11-29"}]}
    row = {**{k: earlier[k] for k in ("model", "model_config", "train_overrides")},
           "per_seed": [{"run": "w/beauty_x_seed2", "NDCG@10": 0.3}, {"run": "w/beauty_x_seed1", "NDCG@10": 0.25}]}
    assert common.merge_per_seed(earlier, row, "2026-12-01") == [
        {"run": "w/beauty_x_seed0", "NDCG@10": 0.1, "measured": "2026-11-30"},
        {"run": "w/beauty_x_seed1", "NDCG@10": 0.25, "measured": "2026-12-01"},  # diagnosed again: today's row
        {"run": "w/beauty_x_seed2", "NDCG@10": 0.3, "measured": "2026-12-01"}]
    # another configuration under the same name: the earlier seeds measured something else, none stays
    changed = {**row, "model_config": {"scoring": "float"}}
    assert [entry["run"] for entry in common.merge_per_seed(earlier, changed, "2026-12-01")] == [
        "w/beauty_x_seed2", "w/beauty_x_seed1"]
    assert common.merge_per_seed(None, row, "2026-12-01")[0]["measured"] == "2026-12-01"
    assert common.run_seed("bench/work/runs/ml-100k_ssr-teacher_seed12") == 12


def test_the_released_loader_gets_each_window_right_padded_with_its_length():
    import numpy as np

    from bench.train_throughput import right_padded

    windows = np.array([[0, 0, 7, 3, 9], [1, 2, 3, 4, 5], [0, 0, 0, 0, 4]])
    rows, lengths = right_padded(windows)
    expected = [[item for item in row if item] for row in windows.tolist()]  # the items, oldest first
    assert lengths.tolist() == [len(items) for items in expected]
    assert rows.tolist() == [items + [0] * (5 - len(items)) for items in expected]
