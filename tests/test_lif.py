"""The LIF neuron: torch (fused kernel and torch loop), a plain numpy loop, and NIR's parameters
interpreted by a numpy loop give identical spikes; surrogate gradients match their smooth functions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ssr.spiking import kernel
from ssr.spiking.lif import LIFParams, lif_multistep, lif_step, to_lava, to_nir
from ssr.spiking.surrogate import DEFAULT_ALPHA, SURROGATES, smooth_function
from references import numpy_lif


def numpy_nir_lif(node, x: np.ndarray, dt: float = 1.0) -> np.ndarray:
    """nir.LIF as its docstring defines it (tau dv/dt = v_leak - v + r I; z = v > v_threshold;
    v = v_reset where z), integrated with forward Euler at dt, in float32."""
    tau, r, v_leak = (np.asarray(a, np.float32) for a in (node.tau, node.r, node.v_leak))
    v_threshold, v_reset = np.asarray(node.v_threshold, np.float32), np.asarray(node.v_reset, np.float32)
    v = np.zeros(x.shape[1:], np.float32)
    spikes = np.zeros_like(x, dtype=np.float32)
    for t in range(x.shape[0]):
        v = v + (np.float32(dt) / tau) * (v_leak - v + r * x[t].astype(np.float32))
        fired = v > v_threshold
        spikes[t] = fired
        v = np.where(fired, v_reset, v)
    return spikes


def random_currents(seed: int, shape=(8, 3, 5, 7)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(0.8, 1.0, size=shape).astype(np.float32)
    x[rng.random(shape) < 0.1] = 2.0  # exactly at h = 1 on a fresh neuron: the >= vs > edge
    x[0].reshape(-1)[:3] = np.float32(2.0)
    return x


@pytest.fixture(params=["kernel", "torch"])
def backend(request, monkeypatch):
    if request.param == "torch":
        monkeypatch.setattr(kernel, "load", lambda: None)
    elif kernel.load() is None:
        pytest.skip("fused kernel not buildable here")
    return request.param


@pytest.mark.parametrize("seed", range(4))
def test_three_descriptions_give_identical_spikes(seed: int, backend: str) -> None:
    x = random_currents(seed)
    ours = lif_multistep(torch.from_numpy(x)).numpy()
    reference = numpy_lif(x)
    via_nir = numpy_nir_lif(to_nir(LIFParams(), x.shape[1:]), x)
    assert reference.sum() > 0.1 * reference.size  # the test really exercises firing
    np.testing.assert_array_equal(ours, reference)
    np.testing.assert_array_equal(via_nir, reference)


@pytest.mark.parametrize("seed", range(3))
def test_float64_spikes_follow_nirs_equations_in_float64(seed: int, backend: str) -> None:
    """The verification's precision: in float64 the neuron is NIR's (charge, then fire on v > the
    file's threshold, the float32 number below 1), integrated in float64 by a numpy loop; currents
    near the threshold in float64 (between it and 1) tell > from >= and float64 from float32."""
    x = random_currents(seed).astype(np.float64)
    rng = np.random.default_rng(seed)
    x[rng.random(x.shape) < 0.1] = 2.0 - 2e-8  # h = 1 - 1e-8 on a fresh neuron: fires in float64 only here
    node = to_nir(LIFParams(), x.shape[1:])
    v_threshold = np.asarray(node.v_threshold, np.float64)
    v, reference = np.zeros(x.shape[1:]), np.zeros_like(x)
    for t in range(x.shape[0]):
        v = v + (1.0 / np.asarray(node.tau, np.float64)) * (0.0 - v + x[t])
        reference[t] = v > v_threshold
        v = np.where(reference[t] > 0, 0.0, v)
    ours = lif_multistep(torch.from_numpy(x))
    assert ours.dtype == torch.float64 and reference.sum() > 0.1 * reference.size
    np.testing.assert_array_equal(ours.numpy(), reference)


def test_threshold_edge_fires_at_exactly_threshold() -> None:
    # a fresh neuron with x = 2: h = 0 + (2 - 0) / 2 = 1 exactly -> fires (>=), NIR's > must agree
    x = np.full((1, 1), 2.0, np.float32)[None]
    assert lif_multistep(torch.from_numpy(x)).item() == 1.0
    assert numpy_nir_lif(to_nir(LIFParams(), (1, 1)), x).item() == 1.0


def test_single_step_matches_multistep() -> None:
    x = torch.from_numpy(random_currents(7))
    v = torch.zeros_like(x[0])
    steps = []
    for t in range(x.shape[0]):
        spikes, v = lif_step(x[t], v)
        steps.append(spikes)
    torch.testing.assert_close(torch.stack(steps), lif_multistep(x), rtol=0, atol=0)


def test_nir_parameters_have_full_shape_and_survive_a_file_round_trip(tmp_path) -> None:
    import nir

    node = to_nir(LIFParams(), (4, 6))
    assert all(np.asarray(getattr(node, k)).shape == (4, 6) for k in ("tau", "r", "v_leak", "v_threshold", "v_reset"))
    graph = nir.NIRGraph.from_list(nir.Input(np.array([4, 6])), node, nir.Output(np.array([4, 6])))
    nir.write(tmp_path / "lif.nir", graph)
    read = nir.read(tmp_path / "lif.nir")
    lif = next(n for n in read.nodes.values() if isinstance(n, nir.LIF))
    x = random_currents(3, (6, 4, 6))
    np.testing.assert_array_equal(numpy_nir_lif(lif, x), numpy_lif(x))


def test_lava_mapping_reproduces_the_charge() -> None:
    """Lava's float LIF: u = u (1 - du) + a_in; v = v (1 - dv) + u + bias; fire on v > vth."""
    lava = to_lava(LIFParams())
    x = random_currents(5).astype(np.float64)
    v = np.zeros(x.shape[1:])
    u = np.zeros(x.shape[1:])
    spikes = np.zeros_like(x)
    for t in range(x.shape[0]):
        u = u * (1 - lava["du"]) + x[t] * lava["input_scale"]
        v = v * (1 - lava["dv"]) + u + lava["bias_mant"]
        spikes[t] = v > lava["vth"]
        v = np.where(spikes[t] > 0, 0.0, v)
    # float64 Lava arithmetic vs float32 ours: equal except within rounding of the threshold
    reference = numpy_lif(x.astype(np.float32))
    assert (spikes != reference).mean() < 1e-3


@pytest.mark.parametrize("name", sorted(SURROGATES))
def test_surrogate_is_the_derivative_of_its_smooth_function(name: str) -> None:
    x = torch.linspace(-2, 2, 401, dtype=torch.float64, requires_grad=True)
    alpha = DEFAULT_ALPHA[name]
    smooth_function(name, x, alpha).sum().backward()
    mask = (x.detach().abs() - 0.5 / alpha).abs() > 1e-6 if name == "rectangle" else slice(None)
    torch.testing.assert_close(SURROGATES[name](x.detach(), alpha)[mask], x.grad[mask])


def smooth_lif(x: torch.Tensor, name: str, alpha: float, detach_reset: bool) -> torch.Tensor:
    """Autograd reference: the forward spikes with the smooth function's gradient (straight-through)."""
    v = torch.zeros_like(x[0])
    out = []
    for t in range(x.shape[0]):
        h = v + (x[t] - v) * 0.5
        smooth = smooth_function(name, h - 1.0, alpha)
        spike = (h >= 1.0).to(x.dtype) + smooth - smooth.detach()
        out.append(spike)
        reset_gate = spike.detach() if detach_reset else spike
        v = h * (1 - reset_gate)
    return torch.stack(out)


@pytest.mark.parametrize("name", sorted(SURROGATES))
@pytest.mark.parametrize("detach_reset", [False, True])
def test_backward_through_time_matches_autograd(name: str, detach_reset: bool, backend: str) -> None:
    x = torch.from_numpy(random_currents(11, (5, 4, 9))).requires_grad_()
    weights = torch.randn(5, 4, 9, generator=torch.Generator().manual_seed(0))
    (lif_multistep(x, surrogate=name, detach_reset=detach_reset) * weights).sum().backward()
    ours = x.grad.clone()
    x.grad = None
    (smooth_lif(x, name, DEFAULT_ALPHA[name], detach_reset) * weights).sum().backward()
    torch.testing.assert_close(ours, x.grad, rtol=1e-5, atol=1e-6)


def test_unknown_surrogate_is_refused() -> None:
    with pytest.raises(ValueError, match="nosuch"):
        lif_multistep(torch.zeros(2, 3), surrogate="nosuch")
