"""The deployment contract (ssr.deploy): a new spiking model reaches the chip through the registry
alone, and no stage under convert/, targets/ or energy/ knows any model by name."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from ssr.cli import export_main, main
from ssr.config import ModelConfig
from ssr.deploy import Deployment, deployable, deployment_of
from ssr.models.base import MODELS, SequentialRecommender, register
from ssr.spiking.lif import LIF, LIFParams

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class ToyConfig(ModelConfig):
    hidden: int = 8
    time_steps: int = 3
    tau: float = 2.0
    surrogate: str = "atan"
    init_std: float = 0.5


class ToySpiking(SequentialRecommender):
    """A spiking model written only here: the newest item's embedding drives a LIF layer for T
    steps, a linear map reads the firing rates. Its deployment is the generic per-LIF-layer one."""

    name = "toy-spiking"
    kind = "snn"
    Config = ToyConfig
    deployment = Deployment("ssr.convert.neurons_nir")

    def __init__(self, config: ToyConfig, num_items: int, max_len: int) -> None:
        super().__init__(config, num_items, max_len)
        self.item_embedding = nn.Embedding(num_items + 1, config.hidden, padding_idx=0)
        nn.init.normal_(self.item_embedding.weight, std=config.init_std * 4)
        self.lif = LIF(LIFParams(tau=config.tau), config.surrogate)
        self.readout = nn.Linear(config.hidden, config.hidden)

    def forward(self, item_seq: torch.Tensor) -> torch.Tensor:
        current = self.item_embedding(item_seq[:, -1])  # (B, D), the newest item
        spikes = self.lif(current.expand(self.config.time_steps, -1, -1))  # (T, B, D)
        return self.readout(spikes.mean(0))  # (B, D)

    def layer_kinds(self) -> dict[str, str]:
        return {"item_embedding": "float", "readout": "spike", "score": "float"}


@pytest.fixture
def toy_registered():
    register(ToySpiking)  # registered for this test only
    yield ToySpiking
    del MODELS[ToySpiking.name]


def test_a_new_model_goes_to_the_chip_through_the_registry_alone(toy_registered, tmp_path, capsys) -> None:
    data, run = tmp_path / "data.h5", tmp_path / "run"
    assert main(["data", "prepare", "--dataset", "synthetic", "--synthetic-users", "120", "--synthetic-items", "30",
                 "--max-len", "6", "--min-count", "3", "--out", str(data)]) == 0
    assert main(["train", "--model", "toy-spiking", "--data", str(data), "--epochs", "1", "--threads", "1",
                 "--quiet", "--out", str(run)]) == 0
    assert "toy-spiking" in deployable()
    capsys.readouterr()
    assert export_main([str(run / "model.pt"), "--to", "nir", "--verify", "--verify-sequences", "16"]) == 0
    out = capsys.readouterr().out
    assert "PASS: 16 sequences" in out and "0 spikes differ" in out, out
    manifest = json.loads((run / "model.manifest.json").read_text())
    assert manifest["model"] == "toy-spiking" and [n["type"] for n in manifest["nodes"].values()].count("LIF") == 1
    assert main(["run-lava", str(run / "model.nir"), "--data", str(data), "--limit", "4", "--quiet",
                 "--out", str(tmp_path / "lava.json")]) == 0
    lava = json.loads((tmp_path / "lava.json").read_text())
    assert lava["sequences"] == 4 and lava["top10_exact_agreement"] == 1.0 and lava["spike_counts_identical"]
    assert main(["energy-report", str(run), "--sequences", "16", "--out", str(tmp_path / "energy")]) == 0
    report = json.loads((tmp_path / "energy" / "report.json").read_text())
    (entry,) = report["models"]
    assert entry["model"] == "toy-spiking" and entry["kind"] == "snn" and entry["energy_pj"] > 0


def test_every_spiking_model_has_a_deployment_that_satisfies_the_protocol() -> None:
    import ssr.models  # noqa: F401

    spiking = sorted(name for name, cls in MODELS.items() if cls.kind == "snn")
    assert spiking == deployable()
    for name in spiking:
        deployment_of(name).implementation()  # imports the module, checks export/reference/run(/feed)
    with pytest.raises(ValueError, match="not a spiking model"):
        deployment_of("fmlp")
    with pytest.raises(TypeError, match="lacks export, reference, run"):
        Deployment("ssr.deploy").implementation()


def test_no_stage_knows_a_model_by_name() -> None:
    """convert/, targets/ and energy/ read the contract, never a name: no model name appears there
    (the package and command are also called `ssr`, so for that one a quoted literal is the test),
    and no `model.name ==` style branch."""
    import ssr.models  # noqa: F401

    names = [name for name in MODELS if name != "ssr"] + ["spike_table", "SSR", "FMLP-Rec"]
    offenders = []
    for folder in ("convert", "targets", "energy"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            text = path.read_text()
            for name in names:
                if re.search(r"(?<![\w.-])" + re.escape(name) + r"(?![\w-])", text):
                    offenders.append(f"{path.relative_to(ROOT)}: {name}")
            if re.search(r"""["'`]ssr["'`]""", text):
                offenders.append(f"{path.relative_to(ROOT)}: 'ssr' as a literal")
            if re.search(r"""(\.name|\[["']model["']\])\s*[!=]=\s*["']""", text):
                offenders.append(f"{path.relative_to(ROOT)}: a branch on a model's name")
    assert offenders == []


def test_each_nir_primitive_has_one_handler_per_stage() -> None:
    """The reference executor and the energy counter dispatch through ssr.convert.primitives, the Lava
    compiler through LAVA_MAPPINGS; the two tables agree, and every synapse primitive's matrix is what
    the compiler wires. A node type without a handler is refused by name."""
    import nir

    from ssr.convert.primitives import PRIMITIVES
    from ssr.targets.loihi_sim.compiler import LAVA_MAPPINGS, plan_graph

    assert set(LAVA_MAPPINGS) <= set(PRIMITIVES)
    assert {name for name, p in PRIMITIVES.items() if p.matrix is not None} <= set(LAVA_MAPPINGS)
    assert all(p.role in ("io", "synapse", "neuron") for p in PRIMITIVES.values())
    graph = nir.NIRGraph(nodes={"input": nir.Input(np.array([3])), "li": nir.LI(np.ones(3), np.ones(3), np.zeros(3)),
                                "output": nir.Output(np.array([3]))},
                         edges=[("input", "li"), ("li", "output")])
    with pytest.raises(ValueError, match=r"cannot compile NIR node\(s\) li \(LI\) to Lava \(supported: Input, "):
        plan_graph(graph, time_steps=2)
