"""The deployment contract: how a spiking model goes from its checkpoint to a chip.

Each spiking model declares its deployment once, next to the model, as the class attribute
`deployment` (a `Deployment`). The exporter, `ssr-export --verify`, `ssr run-lava`, `ssr run-gpu` and
`ssr energy-report` read only this contract (and the files each stage writes); none of them branches
on a model's name or probes a model's attributes.

A deployment names the module that implements `DeploymentModule` for the model (imported when a
stage needs it, so `import ssr.models` stays light) and says what the stages must know about the
graph it writes:

    whole_graph   every layer from the input spikes to the scores is one NIR graph: the host only
                  turns item ids into input spikes (`feed`) and reads the output after T steps, so
                  run-lava streams sequences through one Lava network (floating or fixed point) and
                  the energy report counts the graph's own operations. False: the graph holds
                  sub-graphs and the host runs the model's float layers between them (`run`).
    spike_axes    how a LIF layer's PyTorch spikes, (T, B, *shape), are laid out in its NIR node: a
                  permutation of the trailing axes ((1, 0): PyTorch's (n, C) is the node's (C, n),
                  NIR Conv1d's channels-first layout); () keeps them.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch


@runtime_checkable
class DeploymentModule(Protocol):
    """What a model's deployment module provides (module-level functions)."""

    def export(self, model) -> Any:
        """The model (eval mode) as an `ssr.convert.nir_build.ExportedGraph`."""

    def reference(self, model, item_seq: torch.Tensor, host_arrays: dict[str, np.ndarray]) -> torch.Tensor:
        """PyTorch's scores (B, items + 1) for (B, N) ids, from the same host arrays the graph gets:
        what --verify and run-lava compare the graph with."""

    def run(self, model, graph, host_arrays: dict[str, np.ndarray], item_seq: np.ndarray, dtype: np.dtype,
            record, executor) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The deployment loop: the host's part in PyTorch around the graph run by `executor(graph,
        dtype=...)` (the reference executor or Lava); returns scores (B, items + 1) and the traces
        (T, B, ...) of the nodes named in `record`."""


def score_all_reference(model, item_seq: torch.Tensor, host_arrays: dict[str, np.ndarray]) -> torch.Tensor:
    """The default `reference`: the model's own scores (its host arrays change nothing)."""
    return model.score_all(item_seq)


@dataclass(frozen=True)
class Deployment:
    module: str  # dotted path of the model's DeploymentModule
    whole_graph: bool = False  # see the module docstring
    spike_axes: tuple[int, ...] = ()  # PyTorch spikes (T, B, *shape) -> node layout, trailing axes

    def implementation(self) -> DeploymentModule:
        """The deployment module, checked against the protocol (a whole graph also needs `feed`)."""
        module = importlib.import_module(self.module)
        wanted = ["export", "reference", "run"] + (["feed"] if self.whole_graph else [])
        missing = [name for name in wanted if not callable(getattr(module, name, None))]
        if missing:
            raise TypeError(f"deployment module {self.module} lacks {', '.join(missing)} (see ssr.deploy)")
        return module

    def node_layout(self, spikes: torch.Tensor) -> np.ndarray:
        """PyTorch spikes (T, B, *shape) in their NIR node's layout (T, B, *node_shape)."""
        array = spikes.numpy()
        if not self.spike_axes:
            return array
        return array.transpose(0, 1, *(2 + axis for axis in self.spike_axes))


def deployment_of(name: str) -> Deployment:
    """The registered model `name`'s deployment; a one-line error for a model that has none."""
    import ssr.models  # noqa: F401  (registers every model)
    from ssr.models.base import MODELS

    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; `ssr models` lists them")
    cls = MODELS[name]
    if cls.deployment is None:
        why = ("it is not a spiking model; only spiking models export to NIR" if cls.kind != "snn"
               else "this version has no deployment for it")
        raise ValueError(f"model {name!r} (kind {cls.kind}) cannot be deployed: {why} (deployable: "
                         f"{', '.join(deployable())})")
    return cls.deployment


def deployable() -> list[str]:
    """Names of every model with a deployment, sorted."""
    import ssr.models  # noqa: F401  (registers every model)
    from ssr.models.base import MODELS

    return sorted(name for name, cls in MODELS.items() if cls.deployment is not None)
