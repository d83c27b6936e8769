"""Small models for the export and Lava tests, with every LIF layer active."""

from __future__ import annotations

import numpy as np
import torch

from ssr.models.base import build_model
import ssr.models  # noqa: F401  (registers every model)
from ssr.models.layers import FrequencyFilter

ITEMS, LENGTH = 30, 10


def busy(name: str = "ssr", blocks: int = 2, seed: int = 0, items: int = ITEMS, length: int = LENGTH,
         config: dict | None = None):
    """A model whose every LIF layer fires part of the time: random weights and batch-norm
    statistics of the size training produces (untrained defaults leave deep layers silent);
    `config` overrides the model config."""
    torch.manual_seed(seed)
    import dataclasses

    from ssr.models.base import MODELS

    fields = {f.name for f in dataclasses.fields(MODELS[name].Config)}
    wanted = {"hidden": 12, "blocks": blocks, "ffn_multiplier": 2, "heads": 2}
    model = build_model(name, items, length, {**{k: v for k, v in wanted.items() if k in fields}, **(config or {})})
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                size = module.num_features
                module.running_mean.copy_(torch.randn(size, generator=generator) * 0.1)
                module.running_var.copy_(torch.rand(size, generator=generator) * 0.02 + 0.01)
                module.weight.copy_(torch.rand(size, generator=generator) + 0.5)
                module.bias.copy_(torch.randn(size, generator=generator) * 0.5 + 0.8)
            if isinstance(module, FrequencyFilter):
                module.weight.normal_(0, 0.3, generator=generator)
        if name == "ssr":
            model.parallel.add_(torch.randn(length, length, generator=generator) * 0.3)
    return model.eval()


def sequences(count: int = 24, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    seq = rng.integers(1, ITEMS + 1, (count, LENGTH))
    for row in range(count):  # left padding of varied length
        seq[row, : rng.integers(0, LENGTH - 2)] = 0
    return seq


def prepare_synthetic(out, users: int, items: int):
    """A small synthetic dataset prepared through the CLI (max length 8, 3-core); returns its path."""
    from ssr.cli import main

    assert main(["data", "prepare", "--dataset", "synthetic", "--synthetic-users", str(users), "--synthetic-items",
                 str(items), "--max-len", "8", "--min-count", "3", "--out", str(out)]) == 0
    return out
