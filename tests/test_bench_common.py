"""bench.common.earlier_result / earlier_rows: what a benchmark's `--merge` keeps of a result file written another day."""

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
