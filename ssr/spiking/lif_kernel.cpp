// Fused multi-step LIF (see lif.py for the semantics). Element blocks are independent, so they run
// in parallel; inside a block the time loop is outermost and the element loop vectorises.
#include <torch/extension.h>
#include <ATen/Parallel.h>
#include <cmath>
#include <vector>

namespace {
constexpr int64_t kBlock = 256;

template <int Kind>
inline float surrogate_grad(float x, float alpha) {
  if constexpr (Kind == 0) {  // atan
    const float z = 1.5707963267948966f * alpha * x;
    return 0.5f * alpha / (1.f + z * z);
  } else if constexpr (Kind == 1) {  // sigmoid
    const float s = 1.f / (1.f + std::exp(-alpha * x));
    return alpha * s * (1.f - s);
  } else {  // rectangle
    return std::fabs(x) < 0.5f / alpha ? alpha : 0.f;
  }
}

// Back through time for one block of `len` elements: the surrogate and the reset rule are template
// parameters, so the element loops carry no branches and vectorise.
template <int Kind, bool DetachReset>
void backward_block(const float* xs, const float* gs, float* gx, int64_t steps, int64_t n, int64_t start,
                    int64_t len, float decay, float th, float reset, float alpha, float* charged) {
  float v[kBlock], grad_v[kBlock];
  for (int64_t i = 0; i < len; ++i) { v[i] = 0.f; grad_v[i] = 0.f; }
  for (int64_t t = 0; t < steps; ++t) {  // recompute the charge h (cheaper than storing it)
    const float* xt = xs + t * n + start;
    float* ht = charged + t * kBlock;
    for (int64_t i = 0; i < len; ++i) {
      const float h = v[i] + (xt[i] - v[i]) * decay;
      ht[i] = h;
      v[i] = h >= th ? reset : h;
    }
  }
  for (int64_t t = steps - 1; t >= 0; --t) {
    const float* ht = charged + t * kBlock;
    const float* gt = gs + t * n + start;
    float* gxt = gx + t * n + start;
    for (int64_t i = 0; i < len; ++i) {
      const float h = ht[i];
      const float not_fired = h < th ? 1.f : 0.f;
      const float ds = surrogate_grad<Kind>(h - th, alpha);
      const float dv = DetachReset ? not_fired : not_fired + (reset - h) * ds;
      const float gh = gt[i] * ds + grad_v[i] * dv;
      gxt[i] = gh * decay;
      grad_v[i] = gh * (1.f - decay);
    }
  }
}

template <int Kind, bool DetachReset>
void backward_all(const float* xs, const float* gs, float* gx, int64_t steps, int64_t n, float decay,
                  float th, float reset, float alpha) {
  at::parallel_for(0, (n + kBlock - 1) / kBlock, 1, [&](int64_t first, int64_t last) {
    std::vector<float> charged(steps * kBlock);
    for (int64_t b = first; b < last; ++b) {
      const int64_t start = b * kBlock;
      backward_block<Kind, DetachReset>(xs, gs, gx, steps, n, start, std::min(kBlock, n - start), decay,
                                        th, reset, alpha, charged.data());
    }
  });
}
}  // namespace

// h[t] = v + (x[t] - v) * decay, fire on h >= threshold (float32, training: `Strict` false) or on
// h > threshold (float64, the verification's precision: threshold = firing_threshold(v_threshold),
// as ssr.spiking.lif's torch loop and NIR test it), then v = reset where fired, else h
template <typename T, bool Strict>
torch::Tensor forward_all(const torch::Tensor& x, double tau, double threshold, double v_reset) {
  auto input = x.contiguous();
  const int64_t steps = input.size(0), n = input.numel() / steps;
  auto spikes = torch::empty_like(input);
  const T* xs = input.data_ptr<T>();
  T* out = spikes.data_ptr<T>();
  const T decay = static_cast<T>(1.0 / tau), th = static_cast<T>(threshold), reset = static_cast<T>(v_reset);
  at::parallel_for(0, (n + kBlock - 1) / kBlock, 1, [&](int64_t first, int64_t last) {
    T v[kBlock];
    for (int64_t b = first; b < last; ++b) {
      const int64_t start = b * kBlock, len = std::min(kBlock, n - start);
      for (int64_t i = 0; i < len; ++i) v[i] = T(0);
      for (int64_t t = 0; t < steps; ++t) {
        const T* xt = xs + t * n + start;
        T* st = out + t * n + start;
        for (int64_t i = 0; i < len; ++i) {
          const T h = v[i] + (xt[i] - v[i]) * decay;
          const bool fired = Strict ? h > th : h >= th;
          st[i] = fired ? T(1) : T(0);
          v[i] = fired ? reset : h;
        }
      }
    }
  });
  return spikes;
}

torch::Tensor lif_forward(torch::Tensor x, double tau, double v_threshold, double v_reset) {
  TORCH_CHECK(x.scalar_type() == torch::kFloat32, "lif kernel: float32 input expected");
  return forward_all<float, false>(x, tau, v_threshold, v_reset);
}

torch::Tensor lif_forward_float64(torch::Tensor x, double tau, double v_fire, double v_reset) {
  TORCH_CHECK(x.scalar_type() == torch::kFloat64, "lif kernel: float64 input expected");
  return forward_all<double, true>(x, tau, v_fire, v_reset);
}

torch::Tensor lif_backward(torch::Tensor x, torch::Tensor grad_spikes, double tau, double v_threshold,
                           double v_reset, int64_t kind, double alpha, bool detach_reset) {
  TORCH_CHECK(kind >= 0 && kind <= 2, "lif kernel: unknown surrogate id ", kind);
  auto input = x.contiguous();
  auto grad_out = grad_spikes.contiguous();
  const int64_t steps = input.size(0), n = input.numel() / steps;
  auto grad_x = torch::empty_like(input);
  const float* xs = input.data_ptr<float>();
  const float* gs = grad_out.data_ptr<float>();
  float* gx = grad_x.data_ptr<float>();
  const float decay = static_cast<float>(1.0 / tau), th = v_threshold, reset = v_reset, a = alpha;
  using Backward = void (*)(const float*, const float*, float*, int64_t, int64_t, float, float, float, float);
  static constexpr Backward table[3][2] = {{backward_all<0, false>, backward_all<0, true>},
                                           {backward_all<1, false>, backward_all<1, true>},
                                           {backward_all<2, false>, backward_all<2, true>}};
  table[kind][detach_reset ? 1 : 0](xs, gs, gx, steps, n, decay, th, reset, a);
  return grad_x;
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("forward", &lif_forward, "multi-step LIF forward");
  m.def("forward_float64", &lif_forward_float64, "multi-step LIF forward in float64, firing on h > v_fire");
  m.def("backward", &lif_backward, "multi-step LIF backward (surrogate gradient)");
}
