"""Independent reference implementations the tests compare the toolkit against (numpy, written
from the definitions, sharing no code with ssr)."""

from __future__ import annotations

import numpy as np


def numpy_lif(x: np.ndarray, tau: float = 2.0, v_threshold: float = 1.0) -> np.ndarray:
    """The issue's LIF: v <- v + (x - v) / tau; spike if v >= v_th; then hard reset to 0.
    x: (time, ...) currents, float32 throughout like the model; returns (time, ...) spikes."""
    x = x.astype(np.float32)
    v = np.zeros(x.shape[1:], np.float32)
    spikes = np.zeros_like(x)
    for t in range(x.shape[0]):
        v = v + (x[t] - v) * np.float32(1 / tau)
        spikes[t] = v >= np.float32(v_threshold)
        v = np.where(spikes[t] > 0, np.float32(0), v)
    return spikes


def circulant_filter(x: np.ndarray, spectrum: np.ndarray) -> np.ndarray:
    """FMLP-Rec's filter irfft(rfft(x) * W) along axis -2 computed as a circulant matrix product.

    x: (..., N, C); spectrum: (N // 2 + 1, C) complex. The kernel is the inverse DFT of the spectrum
    (numpy's default normalisation); the matrix C[n, m] = kernel[(n - m) mod N] is built by hand."""
    n = x.shape[-2]
    kernel = np.fft.irfft(spectrum, n=n, axis=0)  # (N, C)
    out = np.zeros_like(x, dtype=np.float64)
    for row in range(n):
        for col in range(n):
            out[..., row, :] += kernel[(row - col) % n] * x[..., col, :]
    return out
