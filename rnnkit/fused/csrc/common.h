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

// Sums over a row in kLanes independent partial sums, added up at the end. GCC leaves an
// `omp simd reduction` over one scalar as a serial chain of dependent adds (measured: 3.9 µs for a
// layer norm over 1024 floats); explicit lanes vectorise (0.3 µs).
constexpr int64_t kLanes = 32;

template <typename T>
inline T lanes_total(const T* part) {
  T total = 0;
  for (int64_t j = 0; j < kLanes; ++j) total += part[j];
  return total;
}

// Σ x[k]
template <typename T>
inline T row_sum(const T* x, int64_t n) {
  T part[kLanes] = {};
  const int64_t full = n - n % kLanes;
  for (int64_t k = 0; k < full; k += kLanes) {
    RNNKIT_SIMD
    for (int64_t j = 0; j < kLanes; ++j) part[j] += x[k + j];
  }
  T total = lanes_total(part);
  for (int64_t k = full; k < n; ++k) total += x[k];
  return total;
}

// Σ (x[k] - m)²
template <typename T>
inline T row_sq_dev(const T* x, T m, int64_t n) {
  T part[kLanes] = {};
  const int64_t full = n - n % kLanes;
  for (int64_t k = 0; k < full; k += kLanes) {
    RNNKIT_SIMD
    for (int64_t j = 0; j < kLanes; ++j) part[j] += (x[k + j] - m) * (x[k + j] - m);
  }
  T total = lanes_total(part);
  for (int64_t k = full; k < n; ++k) total += (x[k] - m) * (x[k] - m);
  return total;
}

// Σ a[k] b[k], and with c: Σ a[k] b[k] c[k]
template <typename T>
inline T row_dot(const T* a, const T* b, int64_t n) {
  T part[kLanes] = {};
  const int64_t full = n - n % kLanes;
  for (int64_t k = 0; k < full; k += kLanes) {
    RNNKIT_SIMD
    for (int64_t j = 0; j < kLanes; ++j) part[j] += a[k + j] * b[k + j];
  }
  T total = lanes_total(part);
  for (int64_t k = full; k < n; ++k) total += a[k] * b[k];
  return total;
}
template <typename T>
inline T row_dot(const T* a, const T* b, const T* c, int64_t n) {
  T part[kLanes] = {};
  const int64_t full = n - n % kLanes;
  for (int64_t k = 0; k < full; k += kLanes) {
    RNNKIT_SIMD
    for (int64_t j = 0; j < kLanes; ++j) part[j] += a[k + j] * b[k + j] * c[k + j];
  }
  T total = lanes_total(part);
  for (int64_t k = full; k < n; ++k) total += a[k] * b[k] * c[k];
  return total;
}

// Row-wise layer norm of x (n features in `groups` equal blocks) without gain: writes x_hat and one
// rstd = 1/sqrt(var + eps) per group. Two passes (mean, then variance about it), vectorised.
template <typename T>
inline void normalise_row(const T* x, T* x_hat, T* rstd, int64_t n, int64_t groups, double eps) {
  const int64_t size = n / groups;
  for (int64_t g = 0; g < groups; ++g) {
    const T* xg = x + g * size;
    T* yg = x_hat + g * size;
    const T mean = row_sum(xg, size) / T(size);
    const T sq = row_sq_dev(xg, mean, size);
    const T r = T(1) / std::sqrt(sq / T(size) + T(eps));
    RNNKIT_SIMD
    for (int64_t k = 0; k < size; ++k) yg[k] = (xg[k] - mean) * r;
    rstd[g] = r;
  }
}

// Mean and rstd = 1/sqrt(var + eps) of each of `groups` blocks of a row of n (two passes, as above).
template <typename T>
inline void row_stats(const T* x, T* mean, T* rstd, int64_t n, int64_t groups, double eps) {
  const int64_t size = n / groups;
  for (int64_t g = 0; g < groups; ++g) {
    const T* xg = x + g * size;
    const T m = row_sum(xg, size) / T(size);
    const T sq = row_sq_dev(xg, m, size);
    mean[g] = m;
    rstd[g] = T(1) / std::sqrt(sq / T(size) + T(eps));
  }
}

// x_hat = (x - mean) * rstd per block, from row_stats' values.
template <typename T>
inline void apply_stats(const T* x, const T* mean, const T* rstd, T* x_hat, int64_t n, int64_t groups) {
  const int64_t size = n / groups;
  for (int64_t g = 0; g < groups; ++g) {
    const T m = mean[g], r = rstd[g];
    const T* xg = x + g * size;
    T* yg = x_hat + g * size;
    RNNKIT_SIMD
    for (int64_t k = 0; k < size; ++k) yg[k] = (xg[k] - m) * r;
  }
}

// The input-side layer norm of one row inside a step: y = LN(x) * gain per group (no bias: the cell adds
// it), with the row's mean and rstd stored in stats (groups means, then groups rstds) for the backward.
template <typename T>
inline void layer_norm_input_row(const T* x, const T* gain, T* stats, T* y, int64_t n, int64_t groups,
                                 double eps) {
  row_stats(x, stats, stats + groups, n, groups, eps);
  apply_stats(x, stats, stats + groups, y, n, groups);
  RNNKIT_SIMD
  for (int64_t k = 0; k < n; ++k) y[k] *= gain[k];
}

// Backward of y = x_hat * gain (per group): given dy, x_hat, rstd, writes dx (may alias dy).
template <typename T>
inline void normalise_row_backward(const T* dy, const T* x_hat, const T* gain, const T* rstd, T* dx,
                                   int64_t n, int64_t groups) {
  const int64_t size = n / groups;
  for (int64_t g = 0; g < groups; ++g) {
    const int64_t o = g * size;
    const T a = row_dot(dy + o, gain + o, size) / T(size);
    const T b = row_dot(dy + o, gain + o, x_hat + o, size) / T(size);
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

// Training-mode zoneout drawn inside the kernels: of a row of n units (Q = ceil(n / 4)), unit j of row b at
// step t keeps its previous value when word j / Q of Philox4x32-10 (key = seed, counter = (j % Q, b, t,
// field)) is below p * 2^32 (words laid out in four planes so that the draw vectorises).
// Counter-based, so forward, backward and recompute regenerate the same mask without storing it, and the
// draw does not depend on threads. The seed comes from torch's generator (rnnkit/fused/sequence.py), so
// torch.manual_seed makes it reproducible; zoneout_mask below is the same definition as a tensor.
inline void philox4x32(uint32_t& c0, uint32_t& c1, uint32_t& c2, uint32_t& c3, uint32_t k0, uint32_t k1) {
#pragma GCC unroll 10
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = uint64_t(0xD2511F53u) * c0, p1 = uint64_t(0xCD9E8D57u) * c2;
    const uint32_t n0 = uint32_t(p1 >> 32) ^ c1 ^ k0, n2 = uint32_t(p0 >> 32) ^ c3 ^ k1;
    c0 = n0;
    c1 = uint32_t(p1);
    c2 = n2;
    c3 = uint32_t(p0);
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
}

struct ZoneoutDraw {
  uint64_t threshold = 0;  // keep a unit whose word is below this; 0: no draw (eval, or p = 0)
  uint32_t k0 = 0, k1 = 0;
  uint32_t field = 0;  // 0: h, 1: c

  static ZoneoutDraw make(double p, int64_t seed, uint32_t field) {
    ZoneoutDraw d;
    const double scaled = std::floor(p * 4294967296.0);
    d.threshold = p <= 0.0 ? 0 : (p >= 1.0 ? (uint64_t(1) << 32) : uint64_t(scaled));
    d.k0 = uint32_t(uint64_t(seed));
    d.k1 = uint32_t(uint64_t(seed) >> 32);
    d.field = field;
    return d;
  }
  bool on() const { return threshold != 0; }

  // The 32-bit words of row b at step t: unit j's word at bits[j] (room for n rounded up to 4).
  void words(int64_t t, int64_t b, int64_t n, uint32_t* bits) const {
    const int64_t quads = (n + 3) / 4;
    const uint32_t cb = uint32_t(b), ct = uint32_t(t), cf = field, key0 = k0, key1 = k1;
    uint32_t *w0 = bits, *w1 = bits + quads, *w2 = bits + 2 * quads, *w3 = bits + 3 * quads;
    RNNKIT_SIMD
    for (int64_t q = 0; q < quads; ++q) {
      uint32_t c0 = uint32_t(q), c1 = cb, c2 = ct, c3 = cf;
      philox4x32(c0, c1, c2, c3, key0, key1);
      w0[q] = c0;
      w1[q] = c1;
      w2[q] = c2;
      w3[q] = c3;
    }
  }

  // The keep row of (t, b): without a draw, `base` itself (stride as given); with one, 1 where the unit
  // is kept and base's value (1 past a sequence's end, else 0) elsewhere, written to `out` (stride 1).
  template <typename T>
  const T* row(const T* base, int64_t& stride, int64_t t, int64_t b, int64_t n, T* out,
               uint32_t* bits) const {
    if (!on()) return base;
    words(t, b, n, bits);
    const uint64_t thr = threshold;
    RNNKIT_SIMD
    for (int64_t j = 0; j < n; ++j) out[j] = uint64_t(bits[j]) < thr ? T(1) : base[stride ? j : 0];
    stride = 1;
    return out;
  }
};

// Per-row scratch of a zoneout draw (one per thread and chunk of rows).
template <typename T>
struct KeepScratch {
  std::vector<T> keep;
  std::vector<uint32_t> bits;
  explicit KeepScratch(int64_t n) : keep(n), bits(n ? n + 4 : 0) {}
};

// Per-thread sums of (T, B, n) values over time and batch, accumulated inside the kernels' row loops (no
// (T, B, n) temporary, one pass less): add(row, values) from any of torch's threads, total() at the end.
struct ThreadSums {
  int64_t n, threads;
  std::vector<double> acc;
  ThreadSums(int64_t n_) : n(n_), threads(at::get_num_threads()), acc(size_t(n_ * threads), 0.0) {}
  double* mine() {
    const int64_t id = at::get_thread_num();
    TORCH_CHECK(id >= 0 && id < threads, "rnnkit: thread id out of range in ThreadSums");
    return acc.data() + id * n;
  }
  template <typename T>
  static void add(double* a, const T* x, int64_t count) {
    RNNKIT_SIMD
    for (int64_t k = 0; k < count; ++k) a[k] += double(x[k]);
  }
  template <typename T>
  static void add_product(double* a, const T* x, const T* y, int64_t count) {
    RNNKIT_SIMD
    for (int64_t k = 0; k < count; ++k) a[k] += double(x[k]) * double(y[k]);
  }
  // The sums of [offset, offset + count) as a tensor of `opts`.
  Tensor total(int64_t offset, int64_t count, const at::TensorOptions& opts) const {
    std::vector<double> sum(size_t(count), 0.0);
    for (int64_t id = 0; id < threads; ++id)
      for (int64_t k = 0; k < count; ++k) sum[k] += acc[id * n + offset + k];
    return at::tensor(sum, at::TensorOptions().dtype(at::kDouble)).to(opts.dtype());
  }
};

// Rows [0, rows) split across torch's intra-op threads, in chunks of at least `min_elements` values.
template <typename F>
inline void for_rows(int64_t rows, int64_t row_elements, const F& body) {
  const int64_t min_elements = 16384;
  const int64_t grain = std::max<int64_t>(1, min_elements / std::max<int64_t>(1, row_elements));
  at::parallel_for(0, rows, grain, body);
}

inline Tensor opt_or_undefined(const OptTensor& t) { return t.has_value() ? *t : Tensor(); }

}  // namespace rnnkit
