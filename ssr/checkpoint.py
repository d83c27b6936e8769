"""Trained checkpoints (`RUN_DIR/model.pt`): self-describing, loadable with weights_only=True.

Contents: format="ssr-checkpoint", schema_version, model (registry name), kind, config (the model's
config dict), num_items, max_len, dataset {fingerprint, path, config}, train_config, ssr_version,
state_dict. Only tensors, dicts, lists and plain values, so `torch.load(weights_only=True)` reads it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch

from ssr import __version__
from ssr.io import atomic_path
from ssr.models.base import MODELS, SequentialRecommender, build_model

FORMAT = "ssr-checkpoint"
SCHEMA_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that is missing, corrupt, foreign or incompatible."""


def checkpoint_dict(model: SequentialRecommender, dataset_info: dict, train_config: dict) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "model": model.name,
        "kind": model.kind,
        "config": dataclasses.asdict(model.config),
        "num_items": model.num_items,
        "max_len": model.max_len,
        "dataset": dataset_info,
        "train_config": train_config,
        "ssr_version": __version__,
        "state_dict": {key: value.detach().cpu() for key, value in model.state_dict().items()},
    }


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    with atomic_path(path) as temp:
        torch.save(payload, temp)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint dict, validated; CheckpointError with a one-line reason otherwise."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} not found; train one with `ssr train ... --out RUN_DIR`")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch's loader raises many types on corrupt bytes (IndexError, ...)
        reason = str(error).splitlines()[0][:120] if str(error) else type(error).__name__
        raise CheckpointError(f"{path} is not a readable checkpoint (corrupt or truncated: {reason}); "
                              "re-run `ssr train`") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an ssr checkpoint (no format={FORMAT!r}); "
                              "pass a RUN_DIR/model.pt written by `ssr train`")
    if int(payload.get("schema_version", 0)) > SCHEMA_VERSION:
        raise CheckpointError(f"{path} has checkpoint schema {payload['schema_version']}, newer than this "
                              f"ssr ({SCHEMA_VERSION}); upgrade ssr")
    return {**payload, "config": saved_config(payload.get("model"), payload.get("config"))}


def saved_config(model_name: Any, config: Any) -> Any:
    """A checkpoint's model config, with each field the checkpoint predates (its model config's
    `former_defaults`: added, or default changed, since) set to what the writing code did, so an old
    run loads as it was trained and not with today's default."""
    import ssr.models  # noqa: F401  (registers every model)

    if not isinstance(config, dict) or model_name not in MODELS:
        return config  # model_from_checkpoint names what is wrong
    return {**MODELS[model_name].Config.former_defaults, **config}


def model_from_checkpoint(payload: dict[str, Any], source: str = "checkpoint") -> SequentialRecommender:
    try:
        from ssr.models.fusion import FEATURE_PREFIX

        prefix = "item_embedding." + FEATURE_PREFIX  # side information travels in the checkpoint
        features = {key[len(prefix):]: value.numpy() for key, value in payload["state_dict"].items()
                    if key.startswith(prefix)}
        model = build_model(payload["model"], payload["num_items"], payload["max_len"], payload["config"], features)
        model.load_state_dict(payload["state_dict"])
    except (KeyError, ValueError, RuntimeError) as error:
        reason = str(error).splitlines()[0][:160]
        raise CheckpointError(f"{source} does not match its model definition ({reason})") from None
    return model.eval()


def load_checkpoint(path: str | Path) -> tuple[SequentialRecommender, dict[str, Any]]:
    """(model in eval mode, checkpoint dict) from a `RUN_DIR/model.pt`."""
    payload = read_checkpoint(path)
    return model_from_checkpoint(payload, str(path)), payload


def require_dataset(payload: dict[str, Any], dataset, role: str) -> None:
    """Refuse a checkpoint trained on another dataset than `dataset` (its item ids would not match).

    role: how the command line named the checkpoint (`--init PATH`), the start of the one-line error."""
    if payload["dataset"]["fingerprint"] != dataset.fingerprint:
        raise ValueError(f"{role} was trained on {payload['dataset']['path']}, not on {dataset.path} "
                         "(item ids would not match); pass a model trained on this dataset")
