"""`ssr-export RUN_DIR/model.pt --to nir`: checkpoint -> NIR graph file + JSON manifest.

Exporters register per model name in EXPORTERS (model name -> function building the graph and the
manifest). Only spiking models have one: ANN checkpoints are refused with a clear error, as are
unknown formats and unwritable outputs, before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ssr.checkpoint import read_checkpoint

FORMATS = ("nir",)
# model name -> exporter(model, checkpoint dict, output path) -> manifest dict
EXPORTERS: dict[str, Callable[..., dict[str, Any]]] = {}


def export(checkpoint: str | Path, to: str = "nir", out: str | Path | None = None) -> Path:
    """Export a trained spiking model; returns the written graph path (manifest beside it)."""
    if to not in FORMATS:
        raise ValueError(f"unknown export format {to!r}; supported: {', '.join(FORMATS)}")
    payload = read_checkpoint(checkpoint)
    name = payload["model"]
    if name not in EXPORTERS:
        exportable = ", ".join(sorted(EXPORTERS)) or "none in this version"
        why = ("it is not a spiking model; only spiking models export to NIR" if payload["kind"] != "snn"
               else "this version has no NIR exporter for it")
        raise ValueError(f"{checkpoint} holds model {name!r} (kind {payload['kind']}): {why} "
                         f"(exportable: {exportable})")
    from ssr.checkpoint import model_from_checkpoint

    out = Path(out) if out is not None else Path(checkpoint).with_suffix(".nir")
    EXPORTERS[name](model_from_checkpoint(payload, str(checkpoint)), payload, out)
    return out
