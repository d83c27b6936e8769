"""Every file a stage hands to the next has one reader that checks its format and schema
(ssr.artefacts): a foreign file, a newer schema or broken JSON is a one-line error."""

from __future__ import annotations

import json
import re
import types
import typing
from dataclasses import MISSING, fields

import pytest

from ssr.artefacts import ARTEFACTS, ENERGY_REPORT, GPU_RUN, LAVA_RUN, MANIFEST


def complete(artefact) -> dict:
    """A file of `artefact`'s schema with every field present (values of the declared types)."""
    samples = {str: "x", int: 3, float: 0.5, bool: True, dict: {}, list: []}
    body = {}
    for item in fields(artefact):
        if item.name == "extra":
            continue
        hint = typing.get_type_hints(artefact)[item.name]
        options = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
        kind = next(typing.get_origin(o) or o for o in options if o is not type(None))
        body[item.metadata.get("key", item.name)] = samples[kind]
    return {**artefact.stamp(), **body}


@pytest.mark.parametrize("artefact", [MANIFEST, LAVA_RUN, GPU_RUN, ENERGY_REPORT], ids=lambda a: a.file)
def test_reader_accepts_its_own_and_refuses_the_rest(artefact, tmp_path) -> None:
    path = tmp_path / "file.json"
    path.write_text(json.dumps({**complete(artefact), "x": 1}))
    read = artefact.read(path)
    assert isinstance(read, artefact) and read.extra == {"x": 1}
    assert read.to_dict() == {**complete(artefact), "x": 1}  # written back as read, extra keys kept
    path.write_text(json.dumps({"format": artefact.format, "schema_version": artefact.schema_version + 1}))
    with pytest.raises(ValueError, match="newer than this ssr reads"):
        artefact.read(path)
    other = next(a for a in ARTEFACTS.values() if a is not artefact)
    path.write_text(json.dumps(complete(other)))
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


@pytest.mark.parametrize("artefact", [MANIFEST, LAVA_RUN, GPU_RUN, ENERGY_REPORT], ids=lambda a: a.file)
def test_reader_refuses_a_missing_field_or_a_wrong_type(artefact, tmp_path) -> None:
    path = tmp_path / "file.json"
    required = [f for f in fields(artefact) if f.name != "extra" and f.default is MISSING]
    for item in required:
        json_key = item.metadata.get("key", item.name)
        body = complete(artefact)
        del body[json_key]
        path.write_text(json.dumps(body))
        with pytest.raises(ValueError, match=f"has no '{re.escape(json_key)}'"):
            artefact.read(path)
        body[json_key] = ["wrong"] if not isinstance(complete(artefact)[json_key], list) else "wrong"
        path.write_text(json.dumps(body))
        with pytest.raises(ValueError, match=f"'{re.escape(json_key)}' must be"):
            artefact.read(path)


def test_optional_fields_are_omitted_when_absent_and_integers_are_not_booleans(tmp_path) -> None:
    body = complete(MANIFEST)
    del body["input"], body["output"]
    manifest = MANIFEST.from_dict(body)
    assert manifest.input is None and "input" not in manifest.to_dict()
    body["num_items"] = True  # JSON true is not an item count
    with pytest.raises(ValueError, match="'num_items' must be an integer, got bool"):
        MANIFEST.from_dict(body)


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
