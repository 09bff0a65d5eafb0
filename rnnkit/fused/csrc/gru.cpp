// Fused GRU (torch's reset_after form) over a whole sequence, forward and backward through time.
//
//   a_t = W_hh (h_{t-1} ⊙ m) + b_hh                 (layer norm: LN(W_hh (h_{t-1} ⊙ m); α_h) + b_hh,
//                                                    one LN per gate block)
//   r = σ(xp_r + a_r)   z = σ(xp_z + a_z)   n = tanh(xp_n + r ⊙ a_n)
//   h̃ = (1 - z) ⊙ n + z ⊙ h_{t-1}
//   h_t = h̃ + k_t ⊙ (h_{t-1} - h̃)                  k: 1 past a sequence's end, zoneout otherwise
#include "common.h"

namespace rnnkit {
namespace {

template <typename T>
struct GruStep {
  int64_t B, H;
  const T *ln_gain, *b_hh;  // LN of W_hh h per gate block: gain (3H) or null; b_hh (zeros when absent)
  const T* b_x;             // added to xp (b_ih when xp = W_ih x without it; zeros when absent)
  double eps;
  ZoneoutDraw zh;           // training-mode zoneout, drawn here (see common.h)
  const T* lnx_gain = nullptr;  // LN of the input projection xp (per gate block), fused here, or null
  int64_t lnx_groups = 3;
  T* stats_x = nullptr;         // this step's (B, 2 * groups) mean and rstd of xp, written here

  // Rows [b0, b1): `a` holds W_hh (h ⊙ m) and receives a = (LN of it) + b_hh; `gates` receives r, z, n.
  void operator()(int64_t t, int64_t b0, int64_t b1, const T* xp, T* a, T* a_hat, T* rstd, T* gates, const T* h_prev,
                  T* h_out, const T* keep, int64_t keep_row, int64_t keep_stride) const {
    const int64_t G = 3 * H;
    KeepScratch<T> scratch(zh.on() ? H : 0);
    std::vector<T> xs(lnx_gain ? G : 0);  // LN(xp) of one row
    for (int64_t b = b0; b < b1; ++b) {
      const T* x = xp + b * G;
      if (lnx_gain) {
        layer_norm_input_row(x, lnx_gain, stats_x + b * 2 * lnx_groups, xs.data(), G, lnx_groups, eps);
        x = xs.data();
      }
      T* ar = a + b * G;
      T* g = gates + b * G;
      const T* hp = h_prev + b * H;
      T* ho = h_out + b * H;
      if (ln_gain) {
        T* xh = a_hat + b * G;
        normalise_row(ar, xh, rstd + b * 3, G, 3, eps);
          RNNKIT_SIMD
        for (int64_t k = 0; k < G; ++k) ar[k] = xh[k] * ln_gain[k] + b_hh[k];
      } else {
          RNNKIT_SIMD
        for (int64_t k = 0; k < G; ++k) ar[k] += b_hh[k];
      }
          RNNKIT_SIMD
      for (int64_t k = 0; k < H; ++k) {
        const T r = sigmoid(x[k] + b_x[k] + ar[k]);
        const T z = sigmoid(x[H + k] + b_x[H + k] + ar[H + k]);
        const T n = tanh_(x[2 * H + k] + b_x[2 * H + k] + r * ar[2 * H + k]);
        g[k] = r;
        g[H + k] = z;
        g[2 * H + k] = n;
        ho[k] = n + z * (hp[k] - n);
      }
      int64_t stride = keep_stride;
      const T* kr = zh.row(keep + b * keep_row, stride, t, b, H, scratch.keep.data(), scratch.bits.data());
      keep_mix(ho, ho, hp, kr, stride, H);
    }
  }
};

}  // namespace

// Returns {hs (T+1,B,H) with hs[0] = h0, gates (T,B,3H), a (T,B,3H) post-LN recurrent part,
//          a_hat (T,B,3H), rstd (T,B,3), stats_x (T,B,2g) of a fused input LN}; the last five only when
//          saved for backward.
std::vector<Tensor> gru_forward(const Tensor& xp, const Tensor& h0, const Tensor& w_hh, const OptTensor& b_hh,
                                const OptTensor& b_x,
                                const OptTensor& h_mask, const OptTensor& keep, const OptTensor& ln_gain,
                                double eps, bool save, bool save_gates, double zoneout, int64_t seed,
                                const OptTensor& ln_x_gain, int64_t ln_x_groups) {
  const int64_t T = xp.size(0), B = xp.size(1), G = xp.size(2), H = G / 3;
  const bool ln = ln_gain.has_value();
  const bool keep_all = save && save_gates;
  const int64_t S = keep_all ? T : 1;
  auto opts = xp.options();
  Tensor hs = at::empty({T + 1, B, H}, opts);
  hs[0].copy_(h0);
  Tensor gates = at::empty({S, B, G}, opts), a = at::empty({S, B, G}, opts);
  Tensor a_hat = ln ? at::empty({S, B, G}, opts) : Tensor();
  Tensor rstd = ln ? at::empty({S, B, 3}, opts) : Tensor();
  const bool lnx = ln_x_gain.has_value();
  Tensor stats_x = lnx ? at::empty({S, B, 2 * ln_x_groups}, opts) : Tensor();
  Tensor hm = h_mask.has_value() ? at::empty({B, H}, opts) : Tensor();
  Tensor zeros = at::zeros({G}, opts);
  Tensor w_t = w_hh.t();
  AT_DISPATCH_FLOATING_TYPES(xp.scalar_type(), "gru_forward", [&] {
    using T_ = scalar_t;
    const T_* z = zeros.data_ptr<T_>();
    GruStep<T_> step{B, H, ptr<T_>(ln_gain), b_hh.has_value() ? ptr<T_>(b_hh) : z, b_x.has_value() ? ptr<T_>(b_x) : z,
                     eps, ZoneoutDraw::make(zoneout, seed, 0), ptr<T_>(ln_x_gain), ln_x_groups};
    const int64_t ks = keep.has_value() ? (keep->size(2) == 1 ? 0 : 1) : 0;
    const int64_t kr_ = keep.has_value() ? keep->size(2) : 0;
    for (int64_t t = 0; t < T; ++t) {
      step.stats_x = lnx ? stats_x[keep_all ? t : 0].data_ptr<T_>() : nullptr;
      const int64_t s = keep_all ? t : 0;
      Tensor rec_in = hs[t];
      if (hm.defined()) {
        at::mul_out(hm, hs[t], *h_mask);
        rec_in = hm;
      }
      Tensor a_t = a[s];
      at::mm_out(a_t, rec_in, w_t);
      const T_* xpp = xp[t].data_ptr<T_>();
      T_* ap = a_t.data_ptr<T_>();
      T_* ahp = ln ? a_hat[s].data_ptr<T_>() : nullptr;
      T_* rp = ln ? rstd[s].data_ptr<T_>() : nullptr;
      T_* gp = gates[s].data_ptr<T_>();
      const T_* hp = hs[t].data_ptr<T_>();
      T_* ho = hs[t + 1].data_ptr<T_>();
      const T_* kp = keep.has_value() ? (*keep)[t].data_ptr<T_>() : zeros.data_ptr<T_>();
      for_rows(B, G, [&](int64_t b0, int64_t b1) { step(t, b0, b1, xpp, ap, ahp, rp, gp, hp, ho, kp, kr_, ks); });
    }
  });
  if (!keep_all) return {hs, Tensor(), Tensor(), Tensor(), Tensor(), Tensor()};
  return {hs, gates, a, a_hat, rstd, stats_x};
}

// Returns {d_xp (T,B,3H), d_h0, d_w_hh, d_b_hh, d_ln_gain, d_b_x, d_ln_x_gain}.
std::vector<Tensor> gru_backward(const Tensor& grad_out, const Tensor& grad_h, const Tensor& xp,
                                 const Tensor& w_hh, const OptTensor& b_hh, const OptTensor& b_x, const Tensor& hs,
                                 const Tensor& gates_saved, const Tensor& a_saved, const Tensor& a_hat_saved,
                                 const Tensor& rstd_saved, const OptTensor& h_mask, const OptTensor& keep,
                                 const OptTensor& ln_gain, double eps, double zoneout, int64_t seed,
                                 const OptTensor& ln_x_gain, int64_t ln_x_groups, const Tensor& stats_x_saved) {
  const int64_t T = xp.size(0), B = xp.size(1), G = xp.size(2), H = G / 3;
  const bool ln = ln_gain.has_value();
  const bool recompute = !gates_saved.defined() || gates_saved.numel() == 0;
  auto opts = xp.options();
  Tensor d_xp = at::empty({T, B, G}, opts);
  // d of W_hh h, all steps (the GEMM of d W_hh reads it); with LN, d of the post-LN part is only a row's
  // scratch (its sums over time and batch are taken in the loop), without LN the two are the same
  Tensor d_raw = at::empty({T, B, G}, opts);
  Tensor a_hat_r1 = ln && recompute ? at::empty({B, G}, opts) : Tensor();  // one step (recompute)
  // per thread, over time and batch: [0, G) d b_hh, [G, 2G) d ln_gain, [2G, 3G) d b_x, [3G, 4G) d ln_x_gain
  ThreadSums sums(4 * G);
  const bool lnx = ln_x_gain.has_value();
  const bool sum_bx = b_x.has_value();
  Tensor stats_r = lnx && recompute ? at::empty({B, 2 * ln_x_groups}, opts) : Tensor();
  const bool sum_b = b_hh.has_value();
  Tensor dh = grad_h.clone(), dh_prev = at::empty({B, H}, opts), d_fresh = at::empty({B, H}, opts);
  Tensor zeros = at::zeros({G}, opts);
  Tensor gates_r, a_r, rstd_r, h_junk, hm_r;
  if (recompute) {
    gates_r = at::empty({B, G}, opts);
    a_r = at::empty({B, G}, opts);
    rstd_r = at::empty({B, 3}, opts);
    h_junk = at::empty({B, H}, opts);
    hm_r = at::empty({B, H}, opts);
  }
  Tensor w_t = w_hh.t();
  AT_DISPATCH_FLOATING_TYPES(xp.scalar_type(), "gru_backward", [&] {
    using T_ = scalar_t;
    const T_* lg = ptr<T_>(ln_gain);
    const T_* zp = zeros.data_ptr<T_>();
    GruStep<T_> step{B, H, lg, b_hh.has_value() ? ptr<T_>(b_hh) : zp, b_x.has_value() ? ptr<T_>(b_x) : zp, eps,
                     ZoneoutDraw::make(zoneout, seed, 0), ptr<T_>(ln_x_gain), ln_x_groups};
    const T_* lxg = ptr<T_>(ln_x_gain);
    const int64_t gx = ln_x_groups;
    const int64_t ks = keep.has_value() ? (keep->size(2) == 1 ? 0 : 1) : 0;
    const int64_t kr_ = keep.has_value() ? keep->size(2) : 0;
    for (int64_t t = T - 1; t >= 0; --t) {
      const T_* kp = keep.has_value() ? (*keep)[t].data_ptr<T_>() : zeros.data_ptr<T_>();
      const T_ *g, *av, *xhat, *rs;
      if (recompute) {
        Tensor rec_in = hs[t];
        if (h_mask.has_value()) {
          at::mul_out(hm_r, hs[t], *h_mask);
          rec_in = hm_r;
        }
        at::mm_out(a_r, rec_in, w_t);
        const T_* xpp = xp[t].data_ptr<T_>();
        T_* ap = a_r.data_ptr<T_>();
        T_* ahp = ln ? a_hat_r1.data_ptr<T_>() : nullptr;
        T_* rp = rstd_r.data_ptr<T_>();
        T_* gp = gates_r.data_ptr<T_>();
        const T_* hp = hs[t].data_ptr<T_>();
        T_* hj = h_junk.data_ptr<T_>();
        step.stats_x = lnx ? stats_r.data_ptr<T_>() : nullptr;
        for_rows(B, G, [&](int64_t b0, int64_t b1) { step(t, b0, b1, xpp, ap, ahp, rp, gp, hp, hj, kp, kr_, ks); });
        g = gp;
        av = ap;
        xhat = ahp;
        rs = rp;
      } else {
        g = gates_saved[t].data_ptr<T_>();
        av = a_saved[t].data_ptr<T_>();
        xhat = ln ? a_hat_saved[t].data_ptr<T_>() : nullptr;
        rs = ln ? rstd_saved[t].data_ptr<T_>() : nullptr;
      }
      dh.add_(grad_out[t]);
      const T_* dhp = dh.data_ptr<T_>();
      T_* dhprev = dh_prev.data_ptr<T_>();
      T_* dx = d_xp[t].data_ptr<T_>();
      T_* da = ln ? nullptr : d_raw[t].data_ptr<T_>();
      T_* dr = d_raw[t].data_ptr<T_>();
      const T_* hprev = hs[t].data_ptr<T_>();
      T_* dfp = d_fresh.data_ptr<T_>();
      const T_* xrow = xp[t].data_ptr<T_>();
      const T_* sx = lnx ? (recompute ? stats_r : stats_x_saved[t]).data_ptr<T_>() : nullptr;
      for_rows(B, G, [&](int64_t b0, int64_t b1) {
        KeepScratch<T_> scratch(step.zh.on() ? H : 0);
        std::vector<T_> xs(lnx ? G : 0);
        std::vector<T_> da_row(ln ? G : 0);
        double* acc = sums.mine();
        for (int64_t b = b0; b < b1; ++b) {
          const T_* gr = g + b * G;
          const T_* ar = av + b * G;
          const T_* hp = hprev + b * H;
          T_* dfr = dfp + b * H;
          T_* dxr = dx + b * G;
          T_* dar = ln ? da_row.data() : da + b * G;
          T_* dpr = dhprev + b * H;
          int64_t stride = ks;
          const T_* kr = step.zh.row(kp + b * kr_, stride, t, b, H, scratch.keep.data(), scratch.bits.data());
          keep_split(dhp + b * H, dfr, dpr, kr, stride, H);
          RNNKIT_SIMD
          for (int64_t k = 0; k < H; ++k) {
            const T_ dhn = dfr[k];
            const T_ r = gr[k], z = gr[H + k], n = gr[2 * H + k];
            const T_ dpn = dhn * (T_(1) - z) * (T_(1) - n * n);
            const T_ dpz = dhn * (hp[k] - n) * z * (T_(1) - z);
            const T_ dpr_ = dpn * ar[2 * H + k] * r * (T_(1) - r);
            dxr[k] = dpr_;
            dxr[H + k] = dpz;
            dxr[2 * H + k] = dpn;
            dar[k] = dpr_;
            dar[H + k] = dpz;
            dar[2 * H + k] = dpn * r;
            dpr[k] += dhn * z;
          }
          if (sum_b) ThreadSums::add(acc, dar, G);
          if (lg) {
            ThreadSums::add_product(acc + G, dar, xhat + b * G, G);
            normalise_row_backward(dar, xhat + b * G, lg, rs + b * 3, dr + b * G, G, 3);
          }
          if (sum_bx) ThreadSums::add(acc + 2 * G, dxr, G);
          if (lnx) {  // through LN(xp): d xp in place of d gates, and the gain's gradient
            const T_* st = sx + b * 2 * gx;
            apply_stats(xrow + b * G, st, st + gx, xs.data(), G, gx);
            ThreadSums::add_product(acc + 3 * G, dxr, xs.data(), G);
            normalise_row_backward(dxr, xs.data(), lxg, st + gx, dxr, G, gx);
          }
        }
      });
      if (h_mask.has_value()) {
        dh_prev.add_(at::mm(d_raw[t], w_hh).mul_(*h_mask));
      } else {
        dh_prev.addmm_(d_raw[t], w_hh);
      }
      std::swap(dh, dh_prev);
    }
  });
  Tensor h_in = hs.narrow(0, 0, T);
  if (h_mask.has_value()) h_in = h_in * *h_mask;
  Tensor d_w = at::mm(d_raw.reshape({T * B, G}).t(), h_in.reshape({T * B, H}));
  Tensor d_b = sum_b ? sums.total(0, G, opts) : Tensor();
  Tensor d_lg = ln ? sums.total(G, G, opts) : Tensor();
  Tensor d_bx = sum_bx ? sums.total(2 * G, G, opts) : Tensor();
  Tensor d_lxg = lnx ? sums.total(3 * G, G, opts) : Tensor();
  return {d_xp, dh, d_w, d_b, d_lg, d_bx, d_lxg};
}

}  // namespace rnnkit
