"""Every file a stage hands to the next has one reader that checks its format and schema
(ssr.artefacts): a foreign file, a newer schema or broken JSON is a one-line error."""

from __future__ import annotations

import json

import pytest

from ssr.artefacts import ARTEFACTS, ENERGY_REPORT, GPU_RUN, LAVA_RUN, MANIFEST


@pytest.mark.parametrize("artefact", [MANIFEST, LAVA_RUN, GPU_RUN, ENERGY_REPORT], ids=lambda a: a.file)
def test_reader_accepts_its_own_and_refuses_the_rest(artefact, tmp_path) -> None:
    path = tmp_path / "file.json"
    path.write_text(json.dumps({**artefact.stamp(), "x": 1}))
    assert artefact.read(path)["x"] == 1
    path.write_text(json.dumps({"format": artefact.format, "schema_version": artefact.schema_version + 1}))
    with pytest.raises(ValueError, match="newer than this ssr reads"):
        artefact.read(path)
    other = next(a for a in ARTEFACTS.values() if a is not artefact)
    path.write_text(json.dumps(other.stamp()))
    with pytest.raises(ValueError, match=f"is not a {artefact.file} written by"):
        artefact.read(path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="is not valid JSON"):
        artefact.read(path)
    path.write_text(json.dumps({"format": artefact.format}))
    with pytest.raises(ValueError, match="no valid schema_version"):
        artefact.read(path)
    with pytest.raises(FileNotFoundError, match=artefact.command.split()[0]):
        artefact.read(tmp_path / "missing.json")


def test_energy_report_refuses_a_lava_json_of_a_newer_schema(tmp_path, capsys) -> None:
    from ssr.cli import main

    lava = tmp_path / "lava.json"
    lava.write_text(json.dumps({"format": "ssr-lava-run", "schema_version": 99}))
    run = tmp_path / "run"
    run.mkdir()
    (run / "model.pt").write_bytes(b"x")
    (run / "metrics.json").write_text("{}")
    assert main(["energy-report", str(run), "--lava", str(lava), "--out", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "lava.json schema 99, newer than this ssr reads" in err[0]
