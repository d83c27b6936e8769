"""`ssr-export` (and `ssr export`) refuse bad input with one line and write nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from ssr.checkpoint import checkpoint_dict, save_checkpoint
from ssr.cli import export_main, main
from ssr.models import build_model


@pytest.fixture
def checkpoints(tmp_path: Path) -> dict[str, Path]:
    paths = {}
    for name in ("fmlp", "ssr"):
        model = build_model(name, 12, 6, {"hidden": 8, "blocks": 1})
        paths[name] = tmp_path / name / "model.pt"
        save_checkpoint(paths[name], checkpoint_dict(model, {"fingerprint": "x"}, {}))
    return paths


@pytest.mark.parametrize("argv, message", [
    (["{fmlp}", "--to", "nir"], "not a spiking model"),
    (["{ssr}", "--to", "onnx"], "unknown export format 'onnx'"),
    (["{missing}", "--to", "nir"], "not found"),
    (["{corrupt}", "--to", "nir"], "not a readable checkpoint"),
])
def test_bad_input_is_one_line_and_writes_nothing(argv, message, checkpoints, tmp_path, capsys) -> None:
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint")
    names = {"fmlp": checkpoints["fmlp"], "ssr": checkpoints["ssr"], "missing": tmp_path / "none.pt",
             "corrupt": corrupt}
    argv = [arg.format(**names) for arg in argv]
    before = sorted(tmp_path.rglob("*"))
    for run in (export_main, lambda args: main(["export", *args])):
        assert run(argv) != 0
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and "error:" in lines[0] and message in lines[0]
    assert sorted(tmp_path.rglob("*")) == before  # no graph, no manifest, no temp file

