"""Loihi 2's fixed-point grids (ssr.spiking.fixed_point) against brute-force definitions and the
Lava compiler's integer formats; SSR's quantisation-aware path against its float path."""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import sparse

from builders import busy, sequences
from ssr.spiking.fixed_point import (fake_quantise, fake_quantise_bias, grid_exponent, power_of_two_at_most,
                                     readout_scale)
from ssr.targets.loihi_sim.compiler import loihi_weights


def brute_force_exponent(peak: float, levels: int) -> int:
    """The smallest k in a wide range with levels * 2^k >= peak, by scanning."""
    return next(k for k in range(-60, 60) if levels * 2.0 ** k >= peak)


def test_grid_exponent_is_the_smallest_that_fits():
    rng = np.random.default_rng(0)
    peaks = np.concatenate([rng.lognormal(0, 4, 500), [127 * 2.0 ** k for k in range(-12, 8)],
                            [np.nextafter(127 * 2.0 ** -3, np.inf), np.nextafter(127 * 2.0 ** -3, 0)]])
    for peak in peaks:
        assert grid_exponent(float(peak)) == brute_force_exponent(float(peak), 127)
        assert grid_exponent(float(peak), 2047) == brute_force_exponent(float(peak), 2047)
    assert grid_exponent(0.0) == 0
    assert [power_of_two_at_most(v) for v in (1.0, 1.5, 2.0, 254 / 3.1, 0.3)] == [1.0, 1.0, 2.0, 64.0, 0.25]


def test_weights_on_the_grid_compile_to_loihi_mantissas_without_error():
    """fake_quantise's values are m 2^k with |m| <= 128 and the largest |m| above 63; scaled by any
    power of two (1/tau x vth) the compiler's 8-bit mantissas represent them exactly."""
    rng = np.random.default_rng(1)
    for scale in (1.0, 0.5 * 1024, 0.5 * 8192):
        weights = torch.from_numpy(rng.normal(0, 0.3, (40, 30)))
        quantised = fake_quantise(weights, dtype=torch.float64).numpy()
        step = 2.0 ** grid_exponent(float(np.abs(weights.numpy()).max()))
        mantissas = quantised / step
        assert np.all(mantissas == np.round(mantissas)) and np.abs(mantissas).max() <= 128
        assert np.abs(mantissas).max() > 63
        assert np.abs(quantised - weights.numpy()).max() <= step / 2
        integer, exponent = loihi_weights(sparse.csr_matrix(quantised), scale)
        values = integer.toarray()
        assert values.min() >= -256 and values.max() <= 254 and np.all(values % 2 == 0)
        assert np.array_equal(values * 2.0 ** exponent, quantised * scale)  # exact, not approximately


def test_fake_quantise_passes_the_gradient_straight_through():
    weights = torch.randn(5, 7, dtype=torch.float64, requires_grad=True)
    upstream = torch.randn(5, 7)
    (fake_quantise(weights) * upstream).sum().backward()
    assert torch.equal(weights.grad, upstream.double())
    bias = torch.randn(6, dtype=torch.float64, requires_grad=True)
    fake_quantise_bias(bias).sum().backward()
    assert torch.equal(bias.grad, torch.ones(6, dtype=torch.float64))


def test_bias_sits_half_way_between_grid_points_and_fits_loihi_13_bits():
    rng = np.random.default_rng(2)
    bias = torch.from_numpy(rng.normal(0, 2.0, 300))
    quantised = fake_quantise_bias(bias, dtype=torch.float64).numpy()
    step = 2.0 ** grid_exponent(float(bias.abs().max()), 2047)
    odd = quantised / (step / 2)  # the Loihi mantissa 2n + 1 at exponent e - 1
    assert np.all(odd == np.round(odd)) and np.all(np.abs(odd) % 2 == 1) and np.abs(odd).max() <= 4095
    assert np.abs(quantised - bias.numpy()).max() <= step


def test_readout_scale_brings_the_largest_weight_into_127_254():
    for peak in (0.013, 0.5, 1.0, 3.7, 300.0):
        assert 127 < peak * readout_scale(peak) <= 254 and math.log2(readout_scale(peak)).is_integer()


def test_quantised_ssr_stays_close_to_the_float_model_and_trains():
    """quantise_weights changes the model's values by at most one grid step per weight: scores stay
    correlated with the float model's, and every parameter the float path trains gets a gradient."""
    model = busy("ssr")
    quantised = busy("ssr", config={"quantise_weights": True})
    quantised.load_state_dict(model.state_dict())
    item_seq = torch.from_numpy(sequences(32))
    with torch.no_grad():
        float_scores, quantised_scores = model.score_all(item_seq), quantised.score_all(item_seq)
    assert not torch.equal(float_scores, quantised_scores)
    correlation = np.corrcoef(float_scores.flatten().numpy(), quantised_scores.flatten().numpy())[0, 1]
    assert correlation > 0.8
    quantised.train()
    quantised.loss(item_seq, torch.randint(1, 31, (32,))).backward()
    silent = [name for name, p in quantised.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not silent, silent
    assert all(torch.equal(a, b) for a, b in zip(quantised.buffers(), busy("ssr").buffers()))  # BN stats frozen
