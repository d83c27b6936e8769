"""Small layers shared by several models."""

from __future__ import annotations

import torch
from torch import nn


class Dropout(nn.Dropout):
    """nn.Dropout with the mask drawn by `rand_like` (2.5x faster than bernoulli_ on CPU here) and
    applied as one product with the scaled mask (x * keep * scale, two products with a bool mask,
    cost 1.6x as much forward and backward)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = torch.rand_like(x) >= self.p
        return x * (keep * (1.0 / (1.0 - self.p)))


class TimeSharedDropout(Dropout):
    """Dropout on (T, ...) currents with one mask for all T time steps (as spikingjelly's multi-step
    `layer.Dropout`): a dropped unit stays dropped for the whole presentation, and the mask costs
    1/T of a per-step one."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = torch.rand_like(x[:1]) >= self.p  # (1, ...)
        return x * (keep * (1.0 / (1.0 - self.p)))


class FeatureBatchNorm(nn.BatchNorm1d):
    """BatchNorm over the last (feature) axis of a (..., features) tensor, statistics over all
    other axes. In eval mode it is a per-feature affine map, so it folds into an adjacent linear map.

    Contiguous rows go to torch as (rows, features, 1, 1) in channels-last memory (the same bytes):
    torch's channels-last CPU kernels vectorise over the features and compute the same output,
    gradients and running statistics bit for bit as for the (rows, features) matrix, in less time
    (forward and backward on 25,600 x 256: ~15% less). Rows that are a strided view stay a 2-D
    view, as before: torch sums those in another order, and training must not change."""

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() not in (2, 3, 4):
            raise ValueError(f"expected 2-D, 3-D or 4-D input (got {x.dim()}-D)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, x.shape[-1])
        if rows.is_contiguous():
            rows = rows[:, :, None, None].contiguous(memory_format=torch.channels_last)
        return super().forward(rows).reshape(x.shape)

    def folded(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Eval-mode batch norm as y = scale * x + shift per feature: (scale, shift), (features,)
        float64, from the running statistics (differentiable in weight and bias). The exporter
        folds with these, so training on folded weights sees the exported values bit for bit."""
        std = torch.sqrt(self.running_var.double() + self.eps)
        scale = (self.weight.double() if self.affine else 1.0) / std
        shift = (self.bias.double() if self.affine else 0.0) - self.running_mean.double() * scale
        return scale, shift


class FrequencyFilter(nn.Module):
    """Learnable filter along the sequence axis: x -> irfft(rfft(x) * W), per channel.

    On any input this is a circular convolution with the real kernel `kernel()`:
    y[..., n, d] = sum_m kernel[(n - m) mod N, d] * x[..., m, d]  (x: (..., N, channels)).
    """

    def __init__(self, length: int, channels: int, init_std: float) -> None:
        super().__init__()
        # (1, length // 2 + 1, channels, 2): real and imaginary parts of the filter spectrum (the
        # leading 1 keeps FMLP-Rec's parameter layout)
        self.weight = nn.Parameter(torch.randn(1, length // 2 + 1, channels, 2) * init_std)
        self.length = length

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spectrum = torch.fft.rfft(x, dim=-2, norm="ortho")  # (..., N // 2 + 1, channels)
        spectrum = spectrum * torch.view_as_complex(self.weight)[0]
        return torch.fft.irfft(spectrum, n=self.length, dim=-2, norm="ortho")

    def kernel(self, dtype: torch.dtype | None = None) -> torch.Tensor:
        """(N, channels) time-domain kernel: irfft_o(rfft_o(x) W) = x circularly convolved with
        irfft(W) (the sqrt(N) factors of the two orthonormal transforms cancel). Computed in the
        weights' dtype, or in `dtype` (the float exporter's float64: a float32 transform would
        carry float32 rounding into a graph that claims float64 values)."""
        weight = self.weight if dtype is None else self.weight.to(dtype)
        return torch.fft.irfft(torch.view_as_complex(weight)[0], n=self.length, dim=0)

    def last_position(self, x: torch.Tensor, kernel: torch.Tensor | None = None) -> torch.Tensor:
        """The filter's output at the last position only: (..., N, channels) -> (..., channels);
        `kernel` (N, channels) replaces `kernel()` (a quantised one, say)."""
        reversed_kernel = (self.kernel() if kernel is None else kernel).flip(0)  # entry m is kernel[N - 1 - m]
        return torch.einsum("...nc,nc->...c", x, reversed_kernel)

    def convolve(self, x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
        """x (..., N, channels) circularly convolved along N with a given (N, channels) kernel."""
        spectrum = torch.fft.rfft(x, dim=-2) * torch.fft.rfft(kernel, dim=0)
        return torch.fft.irfft(spectrum, n=self.length, dim=-2)


def normal_init(model: nn.Module, std: float) -> None:
    """Linear and Embedding weights ~ N(0, std^2), Linear biases 0 (FMLP-Rec's and SASRec's scheme)."""

    def init(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=std)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    model.apply(init)  # children first, the order FMLP-Rec's `self.apply(init_weights)` draws in


def spike_encoding_init(embedding: nn.Embedding, std: float) -> None:
    """Item embeddings that drive a LIF encoder: N(0, std^2), so part of them fires from the start
    (the ANN's N(0, 0.02^2) would never reach threshold); the padding row silent."""
    nn.init.normal_(embedding.weight, std=std)
    with torch.no_grad():
        embedding.weight[embedding.padding_idx or 0].zero_()


def run_blocks(blocks: nn.ModuleList, x: torch.Tensor) -> torch.Tensor:
    """Apply blocks in turn; the last computes its point-wise part for the newest position only."""
    for index, block in enumerate(blocks):
        x = block(x, last_only=index == len(blocks) - 1)
    return x


def spike_scores(user: torch.Tensor, spikes: torch.Tensor, binary: bool = True) -> torch.Tensor:
    """(B, D) float user vectors and (T, I + 1, D) item spikes -> (B, I + 1) scores, user . mean_t
    spikes[t]. `binary` (inference): the user repeated T times and divided by T against the spikes'
    binary (I + 1, T D) view, so each spike is one accumulate of user[d] / T (what ssr.energy counts);
    else (training) against the rates mean_t spikes[t], the same sum in a product T times narrower."""
    if not binary:
        return user @ spikes.mean(0).T
    steps, rows, hidden = spikes.shape
    return (user.repeat(1, steps) / steps) @ spikes.permute(1, 0, 2).reshape(rows, steps * hidden).T
