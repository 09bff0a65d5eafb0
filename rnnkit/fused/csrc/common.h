// Shared helpers of rnnkit's fused CPU kernels: vectorisable activations, row-wise layer norm, and the
// small accessors every kernel uses. Kept header-only so each family stays one readable .cpp file.
#pragma once

#include <torch/extension.h>
#include <ATen/Parallel.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

// Vectorise the next loop (ignore possible aliasing); usable inside macros such as AT_DISPATCH.
#define RNNKIT_SIMD _Pragma("omp simd")

namespace rnnkit {

using at::Tensor;
using OptTensor = std::optional<Tensor>;

// exp for float without a library call, so loops over it vectorise (Cephes' expf: range reduction to
// [-ln2/2, ln2/2], degree-6 polynomial, scale by 2^n through the exponent bits); max error ~2 ulp.
inline float fast_exp(float x) {
  x = x < -87.3f ? -87.3f : (x > 88.3f ? 88.3f : x);  // not fmin/fmax: those do not vectorise
  const float n = std::floor(x * 1.44269504088896341f + 0.5f);
  float r = x - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float y = p * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  return y * __builtin_bit_cast(float, bits);
}
inline double fast_exp(double x) { return std::exp(x); }

template <typename T>
inline T sigmoid(T x) {
  return T(1) / (T(1) + fast_exp(-x));
}
template <typename T>
inline T tanh_(T x) {  // 2σ(2x) - 1: absolute error ~1e-7 in float
  return T(2) / (T(1) + fast_exp(T(-2) * x)) - T(1);
}
template <typename T>
inline T activate(T x, bool relu) {
  return relu ? (x > T(0) ? x : T(0)) : tanh_(x);
}

// Sum a (T, B, ...) tensor over its time and batch axes (weight and gain gradients). The dims are spelled
// as an IntArrayRef because a bare {0, 1} is ambiguous (IntArrayRef or DimnameList) in some torch releases.
inline Tensor sum_time_batch(const Tensor& t) {
  static constexpr int64_t dims[] = {0, 1};
  return t.sum(at::IntArrayRef(dims));
}

template <typename T>
inline T* ptr(const Tensor& t) {
  return t.defined() ? t.data_ptr<T>() : nullptr;
}
template <typename T>
inline T* ptr(const OptTensor& t) {
  return t.has_value() && t->defined() ? t->data_ptr<T>() : nullptr;
}

// Row-wise layer norm of x (n features in `groups` equal blocks) without gain: writes x_hat and one
// rstd = 1/sqrt(var + eps) per group. Two passes (mean, then variance about it), vectorised.
template <typename T>
inline void normalise_row(const T* x, T* x_hat, T* rstd, int64_t n, int64_t groups, double eps) {
  const int64_t size = n / groups;
  for (int64_t g = 0; g < groups; ++g) {
    const T* xg = x + g * size;
    T* yg = x_hat + g * size;
    T sum = 0, sq = 0;
    _Pragma("omp simd reduction(+ : sum)") for (int64_t k = 0; k < size; ++k) sum += xg[k];
    const T mean = sum / T(size);
    _Pragma("omp simd reduction(+ : sq)") for (int64_t k = 0; k < size; ++k) sq += (xg[k] - mean) * (xg[k] - mean);
    const T r = T(1) / std::sqrt(sq / T(size) + T(eps));
    RNNKIT_SIMD
    for (int64_t k = 0; k < size; ++k) yg[k] = (xg[k] - mean) * r;
    rstd[g] = r;
  }
}

// Backward of y = x_hat * gain (per group): given dy, x_hat, rstd, writes dx (may alias dy).
template <typename T>
inline void normalise_row_backward(const T* dy, const T* x_hat, const T* gain, const T* rstd, T* dx,
                                   int64_t n, int64_t groups) {
  const int64_t size = n / groups;
  for (int64_t g = 0; g < groups; ++g) {
    const int64_t o = g * size;
    T a = 0, b = 0;
    _Pragma("omp simd reduction(+ : a, b)") for (int64_t k = 0; k < size; ++k) {
      const T dxh = dy[o + k] * gain[o + k];
      a += dxh;
      b += dxh * x_hat[o + k];
    }
    a /= T(size);
    b /= T(size);
    const T r = rstd[g];
    RNNKIT_SIMD
    for (int64_t k = 0; k < size; ++k) dx[o + k] = r * (dy[o + k] * gain[o + k] - a - x_hat[o + k] * b);
  }
}

// out = k ⊙ prev + (1 - k) ⊙ fresh: k is a row of n values (stride 1) or one value (stride 0); written so
// that k = 1 keeps prev bit for bit. out may alias fresh.
template <typename T>
inline void keep_mix(T* out, const T* fresh, const T* prev, const T* k, int64_t stride, int64_t n) {
  if (!stride && k[0] == T(0)) {  // nothing kept (no zoneout, within the sequence)
    if (out != fresh) std::memcpy(out, fresh, sizeof(T) * n);
    return;
  }
  if (stride) {
    RNNKIT_SIMD
    for (int64_t j = 0; j < n; ++j) out[j] = k[j] * prev[j] + (T(1) - k[j]) * fresh[j];
  } else {
    const T a = k[0];
    RNNKIT_SIMD
    for (int64_t j = 0; j < n; ++j) out[j] = a * prev[j] + (T(1) - a) * fresh[j];
  }
}

// The gradient of keep_mix: d_fresh = d ⊙ (1 - k), d_prev = d ⊙ k.
template <typename T>
inline void keep_split(const T* d, T* d_fresh, T* d_prev, const T* k, int64_t stride, int64_t n) {
  if (stride) {
    RNNKIT_SIMD
    for (int64_t j = 0; j < n; ++j) {
      d_fresh[j] = d[j] * (T(1) - k[j]);
      d_prev[j] = d[j] * k[j];
    }
  } else {
    const T a = k[0];
    RNNKIT_SIMD
    for (int64_t j = 0; j < n; ++j) {
      d_fresh[j] = d[j] * (T(1) - a);
      d_prev[j] = d[j] * a;
    }
  }
}

// Rows [0, rows) split across torch's intra-op threads, in chunks of at least `min_elements` values.
template <typename F>
inline void for_rows(int64_t rows, int64_t row_elements, const F& body) {
  const int64_t min_elements = 16384;
  const int64_t grain = std::max<int64_t>(1, min_elements / std::max<int64_t>(1, row_elements));
  at::parallel_for(0, rows, grain, body);
}

inline Tensor opt_or_undefined(const OptTensor& t) { return t.has_value() ? *t : Tensor(); }

}  // namespace rnnkit
