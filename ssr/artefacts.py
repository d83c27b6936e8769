"""The JSON files the stages hand each other, each with its format name, schema version and one
reader: `ARTEFACTS[name].read(path)` returns the file's dict after checking that it is that kind of
file, of a schema this ssr reads; anything else is a one-line error naming the file and the fix.

| artefact | format | written by |
| --- | --- | --- |
| `model.manifest.json` | ssr-nir-manifest | `ssr-export` |
| `lava.json` | ssr-lava-run | `ssr run-lava` |
| `gpu.json` | ssr-gpu-run | `ssr run-gpu` |
| `report.json` | ssr-energy-report | `ssr energy-report` |
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Artefact:
    format: str  # the file's "format" value
    schema_version: int  # the newest schema this ssr writes and reads
    file: str  # what users call it
    command: str  # the command that writes it

    def stamp(self) -> dict[str, Any]:
        """The keys that open every file of this kind."""
        return {"format": self.format, "schema_version": self.schema_version}

    def read(self, path: str | Path) -> dict[str, Any]:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{self.file} {path} not found; write it with `{self.command}`")
        try:
            data = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ValueError(f"{path} is not valid JSON ({error}); write it again with `{self.command}`") from None
        return self.check(data, path)

    def check(self, data: Any, path: str | Path) -> dict[str, Any]:
        if not isinstance(data, dict) or data.get("format") != self.format:
            found = data.get("format") if isinstance(data, dict) else type(data).__name__
            raise ValueError(f"{path} is not a {self.file} written by `{self.command}` (format {found!r}, expected "
                             f"{self.format!r})")
        version = data.get("schema_version")
        if not isinstance(version, int) or version < 1:
            raise ValueError(f"{path} has no valid schema_version; write it again with `{self.command}`")
        if version > self.schema_version:
            raise ValueError(f"{path} has {self.file} schema {version}, newer than this ssr reads "
                             f"({self.schema_version}); upgrade ssr")
        return data


MANIFEST = Artefact("ssr-nir-manifest", 1, "manifest", "ssr-export RUN_DIR/model.pt --to nir")
LAVA_RUN = Artefact("ssr-lava-run", 1, "lava.json", "ssr run-lava")
GPU_RUN = Artefact("ssr-gpu-run", 1, "gpu.json", "ssr run-gpu")
ENERGY_REPORT = Artefact("ssr-energy-report", 1, "report.json", "ssr energy-report")
ARTEFACTS = {a.file: a for a in (MANIFEST, LAVA_RUN, GPU_RUN, ENERGY_REPORT)}
