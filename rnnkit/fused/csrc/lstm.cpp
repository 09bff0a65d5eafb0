// Fused LSTM over a whole sequence, forward and backward through time (rnnkit/fused/sequence.py drives it).
//
//   gates_t = xp_t + W_hh (h_{t-1} ⊙ m)            xp: the hoisted input projection (+ b_hh unless LN)
//            (layer norm: xp_t + LN(W_hh (h_{t-1} ⊙ m); α_h) + b_hh)
//   i = σ(gates_i + w_ci ⊙ c_{t-1})   f = σ(gates_f + w_cf ⊙ c_{t-1})   g = tanh(gates_g)
//   c̃ = f ⊙ c_{t-1} + i ⊙ g           o = σ(gates_o + w_co ⊙ c̃)          (w_c* = 0 without peepholes)
//   h̃ = o ⊙ tanh(c̃)                   (layer norm: o ⊙ tanh(LN(c̃; α_c, β_c)))
//   h_t = h̃ + k^h_t ⊙ (h_{t-1} - h̃)    c_t = c̃ + k^c_t ⊙ (c_{t-1} - c̃)
//
// k ("keep") carries both zoneout and sequence lengths: 1 past a sequence's end (the state stays put),
// the zoneout draw in training, p in evaluation, 0 otherwise. One GEMM per step forward, one backward;
// the weight gradients are single GEMMs over all steps after the loop.
#include "common.h"

namespace rnnkit {
namespace {

template <typename T>
struct LstmStep {
  int64_t B, H;
  const T *wci, *wcf, *wco;          // peepholes (zeros when absent)
  const T *ln_gain, *b_hh;           // LN of W_hh h: gain (4H) or null; b_hh (zeros when absent)
  const T *lnc_gain, *lnc_bias;      // LN of c̃
  double eps;
  ZoneoutDraw zh, zc;                // training-mode zoneout of h and c, drawn here (see common.h)
  const T* lnx_gain = nullptr;       // LN of the input projection xp, fused here: gain (4H) or null
  int64_t lnx_groups = 1;
  T* stats_x = nullptr;              // this step's (B, 2 * groups) mean and rstd of xp, written here

  // One step for rows [b0, b1): reads xp_t and hh = W_hh (h ⊙ m), writes the activations i, f, g, o
  // into `pre`.
  void operator()(int64_t t, int64_t b0, int64_t b1, const T* xp, T* pre, const T* hh, T* hh_hat, T* rstd_hh,
                  const T* h_prev,
                  const T* c_prev, T* c_new, T* c_hat, T* rstd_c, T* tc, T* h_out, T* c_out, const T* kh,
                  int64_t kh_row, int64_t kh_stride, const T* kc, int64_t kc_row, int64_t kc_stride) const {
    const int64_t G = 4 * H;
    KeepScratch<T> scratch(zh.on() || zc.on() ? H : 0);
    std::vector<T> xs(lnx_gain ? G : 0);  // LN(xp) of one row
    for (int64_t b = b0; b < b1; ++b) {
      T* g = pre + b * G;
      const T* cp = c_prev + b * H;
      const T* hp = h_prev + b * H;
      T* cn = c_new + b * H;
      const T* x = xp + b * G;
      if (lnx_gain) {
        layer_norm_input_row(x, lnx_gain, stats_x + b * 2 * lnx_groups, xs.data(), G, lnx_groups, eps);
        x = xs.data();
      }
      const T* a = hh + b * G;
      if (ln_gain) {
        T* xh = hh_hat + b * G;
        normalise_row(a, xh, rstd_hh + b, G, 1, eps);
          RNNKIT_SIMD
        for (int64_t k = 0; k < G; ++k) g[k] = x[k] + xh[k] * ln_gain[k] + b_hh[k];
      } else {
          RNNKIT_SIMD
        for (int64_t k = 0; k < G; ++k) g[k] = x[k] + a[k] + b_hh[k];
      }
          RNNKIT_SIMD
      for (int64_t k = 0; k < H; ++k) {
        const T i = sigmoid(g[k] + wci[k] * cp[k]);
        const T f = sigmoid(g[H + k] + wcf[k] * cp[k]);
        const T gg = tanh_(g[2 * H + k]);
        g[k] = i;
        g[H + k] = f;
        g[2 * H + k] = gg;
        cn[k] = f * cp[k] + i * gg;
      }
      T* t_row = tc + b * H;  // first the input of tanh, then tanh of it
      if (lnc_gain) {
        T* ch = c_hat + b * H;
        normalise_row(cn, ch, rstd_c + b, H, 1, eps);  // x_hat, kept for backward
        RNNKIT_SIMD
        for (int64_t k = 0; k < H; ++k) t_row[k] = ch[k] * lnc_gain[k] + lnc_bias[k];
      } else {
        RNNKIT_SIMD
        for (int64_t k = 0; k < H; ++k) t_row[k] = cn[k];
      }
      T* ho = h_out + b * H;
      RNNKIT_SIMD
      for (int64_t k = 0; k < H; ++k) {
        const T o = sigmoid(g[3 * H + k] + wco[k] * cn[k]);
        g[3 * H + k] = o;
        const T t = tanh_(t_row[k]);
        t_row[k] = t;
        ho[k] = o * t;
      }
      int64_t sh = kh_stride, sc = kc_stride;
      const T* khr = zh.row(kh + b * kh_row, sh, t, b, H, scratch.keep.data(), scratch.bits.data());
      keep_mix(ho, ho, hp, khr, sh, H);
      const T* kcr = zc.row(kc + b * kc_row, sc, t, b, H, scratch.keep.data(), scratch.bits.data());
      keep_mix(c_out + b * H, cn, cp, kcr, sc, H);
    }
  }
};

}  // namespace

// Returns {hs (T+1,B,H) with hs[0] = h0, cs (T+1,B,H), gates (T,B,4H), tc (T,B,H), c_new (T,B,H),
//          hh_hat (T,B,4H), rstd_hh (T,B), c_hat (T,B,H), rstd_c (T,B)}; unneeded ones are undefined.
std::vector<Tensor> lstm_forward(const Tensor& xp, const Tensor& h0, const Tensor& c0, const Tensor& w_hh,
                                 const OptTensor& h_mask, const OptTensor& keep_h, const OptTensor& keep_c,
                                 const OptTensor& peephole, const OptTensor& ln_gain, const OptTensor& b_hh,
                                 const OptTensor& lnc_gain, const OptTensor& lnc_bias, double eps,
                                 bool save, bool save_gates, double zoneout_h, double zoneout_c,
                                 int64_t seed, const OptTensor& ln_x_gain, int64_t ln_x_groups) {
  const int64_t T = xp.size(0), B = xp.size(1), G = xp.size(2), H = G / 4;
  const bool ln = ln_gain.has_value();
  const bool lnc = lnc_gain.has_value();
  auto opts = xp.options();
  Tensor hs = at::empty({T + 1, B, H}, opts), cs = at::empty({T + 1, B, H}, opts);
  hs[0].copy_(h0);
  cs[0].copy_(c0);
  const bool keep_gates = save && save_gates;
  Tensor gates = keep_gates ? at::empty({T, B, G}, opts) : at::empty({1, B, G}, opts);
  Tensor tc = keep_gates ? at::empty({T, B, H}, opts) : at::empty({1, B, H}, opts);
  // c̃ differs from c_t only under a keep (zoneout, lengths); backward needs it only for the peepholes
  const bool separate_cnew = keep_c.has_value() || zoneout_c > 0.0;
  const bool save_cnew = separate_cnew && keep_gates && peephole.has_value();
  Tensor c_new = save_cnew ? at::empty({T, B, H}, opts) : at::empty({1, B, H}, opts);
  Tensor hh = at::empty({B, G}, opts);
  Tensor hh_hat = ln ? at::empty({keep_gates ? T : 1, B, G}, opts) : Tensor();
  Tensor rstd_hh = ln ? at::empty({keep_gates ? T : 1, B}, opts) : Tensor();
  Tensor c_hat = lnc ? at::empty({keep_gates ? T : 1, B, H}, opts) : Tensor();
  Tensor rstd_c = lnc ? at::empty({keep_gates ? T : 1, B}, opts) : Tensor();
  Tensor hm = h_mask.has_value() ? at::empty({B, H}, opts) : Tensor();
  Tensor zeros = at::zeros({G}, opts);
  Tensor w_t = w_hh.t();
  const bool lnx = ln_x_gain.has_value();
  TORCH_CHECK(!lnx || (ln && !peephole.has_value()), "rnnkit: the fused input LN needs LN of W_hh h, no peepholes");
  Tensor stats_x = lnx ? at::empty({keep_gates ? T : 1, B, 2 * ln_x_groups}, opts) : Tensor();

  AT_DISPATCH_FLOATING_TYPES(xp.scalar_type(), "lstm_forward", [&] {
    using T_ = scalar_t;
    const T_* z = zeros.data_ptr<T_>();
    const T_* peep = ptr<T_>(peephole);
    LstmStep<T_> step{B, H, peep ? peep : z, peep ? peep + H : z, peep ? peep + 2 * H : z,
                      ptr<T_>(ln_gain), b_hh.has_value() ? ptr<T_>(b_hh) : z, ptr<T_>(lnc_gain),
                      ptr<T_>(lnc_bias), eps, ZoneoutDraw::make(zoneout_h, seed, 0),
                      ZoneoutDraw::make(zoneout_c, seed, 1), ptr<T_>(ln_x_gain), ln_x_groups};
    const int64_t khs = keep_h.has_value() ? (keep_h->size(2) == 1 ? 0 : 1) : 0;
    const int64_t kcs = keep_c.has_value() ? (keep_c->size(2) == 1 ? 0 : 1) : 0;
    const int64_t khr_ = keep_h.has_value() ? keep_h->size(2) : 0;
    const int64_t kcr_ = keep_c.has_value() ? keep_c->size(2) : 0;
    for (int64_t t = 0; t < T; ++t) {
      const int64_t s = keep_gates ? t : 0;
      Tensor g_t = gates[s];
      Tensor h_prev = hs[t];
      Tensor rec_in = h_prev;
      if (hm.defined()) {
        at::mul_out(hm, h_prev, *h_mask);
        rec_in = hm;
      }
      at::mm_out(hh, rec_in, w_t);
      const T_* xp_ptr = xp[t].data_ptr<T_>();
      T_* g_ptr = g_t.data_ptr<T_>();
      const T_* hh_ptr = hh.data_ptr<T_>();
      T_* hh_hat_ptr = ln ? hh_hat[s].data_ptr<T_>() : nullptr;
      T_* rstd_hh_ptr = ln ? rstd_hh[s].data_ptr<T_>() : nullptr;
      T_* c_new_ptr = separate_cnew ? c_new[save_cnew ? t : 0].data_ptr<T_>() : cs[t + 1].data_ptr<T_>();
      T_* c_hat_ptr = lnc ? c_hat[s].data_ptr<T_>() : nullptr;
      T_* rstd_c_ptr = lnc ? rstd_c[s].data_ptr<T_>() : nullptr;
      T_* tc_ptr = tc[s].data_ptr<T_>();
      const T_* hp = h_prev.data_ptr<T_>();
      const T_* cp = cs[t].data_ptr<T_>();
      T_* ho = hs[t + 1].data_ptr<T_>();
      T_* co = cs[t + 1].data_ptr<T_>();
      const T_* kh = keep_h.has_value() ? (*keep_h)[t].data_ptr<T_>() : z;
      const T_* kc = keep_c.has_value() ? (*keep_c)[t].data_ptr<T_>() : z;
      step.stats_x = lnx ? stats_x[s].data_ptr<T_>() : nullptr;
      for_rows(B, G, [&](int64_t b0, int64_t b1) {
        step(t, b0, b1, xp_ptr, g_ptr, hh_ptr, hh_hat_ptr, rstd_hh_ptr, hp, cp, c_new_ptr, c_hat_ptr, rstd_c_ptr,
             tc_ptr, ho, co, kh, khr_, khs, kc, kcr_, kcs);
      });
    }
  });
  if (!keep_gates) {
    gates = Tensor();
    tc = Tensor();
    c_new = Tensor();
    hh_hat = Tensor();
    rstd_hh = Tensor();
    c_hat = Tensor();
    rstd_c = Tensor();
    stats_x = Tensor();
  } else if (!save_cnew) {
    c_new = Tensor();
  }
  return {hs, cs, gates, tc, c_new, hh_hat, rstd_hh, c_hat, rstd_c, stats_x};
}

// Backward through time. grad_out (T,B,H), grad_h (B,H), grad_c (B,H). When `gates` is undefined the
// forward kept only hs and cs (recompute mode): each step's gates are recomputed from them.
// Returns {d_xp (T,B,4H), d_h0, d_c0, d_w_hh, d_peephole (3,H), d_ln_gain, d_ln_bias, d_lnc_gain,
//          d_lnc_bias}; undefined where the input was absent.
std::vector<Tensor> lstm_backward(const Tensor& grad_out, const Tensor& grad_h, const Tensor& grad_c,
                                  const Tensor& xp, const Tensor& w_hh, const Tensor& hs, const Tensor& cs,
                                  const Tensor& gates_saved, const Tensor& tc_saved, const Tensor& c_new_saved,
                                  const Tensor& hh_hat_saved, const Tensor& rstd_hh_saved,
                                  const Tensor& c_hat_saved, const Tensor& rstd_c_saved,
                                  const OptTensor& h_mask, const OptTensor& keep_h, const OptTensor& keep_c,
                                  const OptTensor& peephole, const OptTensor& ln_gain, const OptTensor& b_hh,
                                  const OptTensor& lnc_gain, const OptTensor& lnc_bias, double eps,
                                  double zoneout_h, double zoneout_c, int64_t seed,
                                  const OptTensor& ln_x_gain, int64_t ln_x_groups, const Tensor& stats_x_saved) {
  const int64_t T = xp.size(0), B = xp.size(1), G = xp.size(2), H = G / 4;
  const bool ln = ln_gain.has_value(), lnc = lnc_gain.has_value();
  const bool recompute = !gates_saved.defined() || gates_saved.numel() == 0;
  const bool separate_cnew = (keep_c.has_value() || zoneout_c > 0.0) && peephole.has_value();
  auto opts = xp.options();
  Tensor d_xp = at::empty({T, B, G}, opts);
  Tensor d_hh = ln ? at::empty({T, B, G}, opts) : d_xp;
  // sums over time and batch, per thread: [0, G) d b_hh, [G, 2G) d ln_gain, then d lnc_gain, d lnc_bias
  // then [2G + 2H, 3G + 2H) d ln_x_gain
  ThreadSums sums(3 * G + 2 * H);
  const bool lnx = ln_x_gain.has_value();
  TORCH_CHECK(!lnx || (ln && !peephole.has_value()), "rnnkit: the fused input LN needs LN of W_hh h, no peepholes");
  Tensor stats_r = lnx && recompute ? at::empty({B, 2 * ln_x_groups}, opts) : Tensor();
  const bool sum_b = b_hh.has_value();
  Tensor dh = grad_h.clone(), dc = grad_c.clone();
  Tensor dh_prev = at::empty({B, H}, opts), dc_prev = at::empty({B, H}, opts);
  Tensor scratch_dt = at::empty({B, H}, opts), scratch_dcn = at::empty({B, H}, opts);
  Tensor zeros = at::zeros({G}, opts);
  // recompute buffers (one step)
  Tensor gates_r, tc_r, c_new_r, hh_hat_r, rstd_hh_r, c_hat_r, rstd_c_r, hh_r, h_junk, c_junk, hm_r;
  // what backward needs from the forward of step t, recomputed or saved
  Tensor hh_hat_r1 = ln && recompute ? at::empty({B, G}, opts) : Tensor();  // one step (recompute)
  Tensor c_hat_r1 = lnc && recompute ? at::empty({B, H}, opts) : Tensor();
  Tensor c_new_all = separate_cnew ? (recompute ? at::empty({T, B, H}, opts) : c_new_saved) : Tensor();
  if (recompute) {
    gates_r = at::empty({B, G}, opts);
    tc_r = at::empty({B, H}, opts);
    rstd_hh_r = at::empty({B}, opts);
    rstd_c_r = at::empty({B}, opts);
    hh_r = at::empty({B, G}, opts);
    h_junk = at::empty({B, H}, opts);
    c_junk = at::empty({B, H}, opts);
    hm_r = at::empty({B, H}, opts);
  }
  Tensor w_t = w_hh.t();

  AT_DISPATCH_FLOATING_TYPES(xp.scalar_type(), "lstm_backward", [&] {
    using T_ = scalar_t;
    const T_* z = zeros.data_ptr<T_>();
    const T_* peep = ptr<T_>(peephole);
    const T_ *wci = peep ? peep : z, *wcf = peep ? peep + H : z, *wco = peep ? peep + 2 * H : z;
    const T_* lg = ptr<T_>(ln_gain);
    const T_* lcg = ptr<T_>(lnc_gain);
    LstmStep<T_> step{B, H, wci, wcf, wco, lg, b_hh.has_value() ? ptr<T_>(b_hh) : z, lcg, ptr<T_>(lnc_bias),
                      eps, ZoneoutDraw::make(zoneout_h, seed, 0), ZoneoutDraw::make(zoneout_c, seed, 1),
                      ptr<T_>(ln_x_gain), ln_x_groups};
    const T_* lxg = ptr<T_>(ln_x_gain);
    const int64_t gx = ln_x_groups;
    const int64_t khs = keep_h.has_value() ? (keep_h->size(2) == 1 ? 0 : 1) : 0;
    const int64_t kcs = keep_c.has_value() ? (keep_c->size(2) == 1 ? 0 : 1) : 0;
    const int64_t khr_ = keep_h.has_value() ? keep_h->size(2) : 0;
    const int64_t kcr_ = keep_c.has_value() ? keep_c->size(2) : 0;
    for (int64_t t = T - 1; t >= 0; --t) {
      const T_* kh = keep_h.has_value() ? (*keep_h)[t].data_ptr<T_>() : z;
      const T_* kc = keep_c.has_value() ? (*keep_c)[t].data_ptr<T_>() : z;
      const T_ *g, *tcp, *chat, *rc, *xhat, *rhh;
      if (recompute) {  // the forward of step t again, into one-step buffers
        Tensor rec_in = hs[t];
        if (h_mask.has_value()) {
          at::mul_out(hm_r, hs[t], *h_mask);
          rec_in = hm_r;
        }
        at::mm_out(hh_r, rec_in, w_t);
        const T_* xpp = xp[t].data_ptr<T_>();
        T_* gp = gates_r.data_ptr<T_>();
        const T_* hhp = hh_r.data_ptr<T_>();
        T_* xh = ln ? hh_hat_r1.data_ptr<T_>() : nullptr;
        T_* rh = rstd_hh_r.data_ptr<T_>();
        T_* cn = separate_cnew ? c_new_all[t].data_ptr<T_>() : c_junk.data_ptr<T_>();  // c̃, kept only for
        // the peepholes' gradient; otherwise (zoneout, lengths) c̃ goes to c_junk and c_t to cj below
        T_* ch = lnc ? c_hat_r1.data_ptr<T_>() : nullptr;
        T_* rcp = rstd_c_r.data_ptr<T_>();
        T_* tp = tc_r.data_ptr<T_>();
        const T_* hp = hs[t].data_ptr<T_>();
        const T_* cp = cs[t].data_ptr<T_>();
        T_* hj = h_junk.data_ptr<T_>();
        T_* cj = c_junk.data_ptr<T_>();  // c_t is known already: write it to a junk buffer
        step.stats_x = lnx ? stats_r.data_ptr<T_>() : nullptr;
        for_rows(B, G, [&](int64_t b0, int64_t b1) {
          step(t, b0, b1, xpp, gp, hhp, xh, rh, hp, cp, cn, ch, rcp, tp, hj, cj, kh, khr_, khs, kc, kcr_, kcs);
        });
        g = gp;
        tcp = tp;
        chat = ch;
        rc = rcp;
        xhat = xh;
        rhh = rh;
      } else {
        g = gates_saved[t].data_ptr<T_>();
        tcp = tc_saved[t].data_ptr<T_>();
        chat = lnc ? c_hat_saved[t].data_ptr<T_>() : nullptr;
        rc = lnc ? rstd_c_saved[t].data_ptr<T_>() : nullptr;
        xhat = ln ? hh_hat_saved[t].data_ptr<T_>() : nullptr;
        rhh = ln ? rstd_hh_saved[t].data_ptr<T_>() : nullptr;
      }
      dh.add_(grad_out[t]);
      T_* dhp = dh.data_ptr<T_>();
      T_* dcp = dc.data_ptr<T_>();
      T_* dhprev = dh_prev.data_ptr<T_>();
      T_* dcprev = dc_prev.data_ptr<T_>();
      T_* dG = d_xp[t].data_ptr<T_>();
      T_* dHH = d_hh[t].data_ptr<T_>();
      T_* dtp = scratch_dt.data_ptr<T_>();
      T_* dcnp = scratch_dcn.data_ptr<T_>();
      const T_* cprev = cs[t].data_ptr<T_>();
      const T_* xrow = xp[t].data_ptr<T_>();
      const T_* sx = lnx ? (recompute ? stats_r : stats_x_saved[t]).data_ptr<T_>() : nullptr;
      for_rows(B, G, [&](int64_t b0, int64_t b1) {
        KeepScratch<T_> scratch(step.zh.on() || step.zc.on() ? H : 0);
        std::vector<T_> xs(lnx ? G : 0);
        double* acc = sums.mine();
        for (int64_t b = b0; b < b1; ++b) {
          const T_* gr = g + b * G;
          const T_* tr = tcp + b * H;
          T_* dGr = dG + b * G;
          T_* dtr = dtp + b * H;
          T_* dcnr = dcnp + b * H;
          T_* dhpr = dhprev + b * H;
          T_* dcpr = dcprev + b * H;
          int64_t sh = khs, sc = kcs;
          const T_* khr = step.zh.row(kh + b * khr_, sh, t, b, H, scratch.keep.data(), scratch.bits.data());
          keep_split(dhp + b * H, dtr, dhpr, khr, sh, H);  // dtr: d h̃ for now
          const T_* kcr = step.zc.row(kc + b * kcr_, sc, t, b, H, scratch.keep.data(), scratch.bits.data());
          keep_split(dcp + b * H, dcnr, dcpr, kcr, sc, H);
          RNNKIT_SIMD
          for (int64_t k = 0; k < H; ++k) {
            const T_ dhn = dtr[k];
            const T_ o = gr[3 * H + k], tv = tr[k];
            dGr[3 * H + k] = dhn * tv * o * (T_(1) - o);
            dtr[k] = dhn * o * (T_(1) - tv * tv);
          }
          if (lcg) {  // through LN(c̃): d c̃ from d(LN output); its gain and bias gradients summed here
            ThreadSums::add_product(acc + 2 * G, dtr, chat + b * H, H);
            ThreadSums::add(acc + 2 * G + H, dtr, H);
            normalise_row_backward(dtr, chat + b * H, lcg, rc + b, dtr, H, 1);
          }
          const T_* cpr = cprev + b * H;
          RNNKIT_SIMD
          for (int64_t k = 0; k < H; ++k) {
            const T_ i = gr[k], f = gr[H + k], gg = gr[2 * H + k];
            const T_ dct = dcnr[k] + dtr[k] + wco[k] * dGr[3 * H + k];
            const T_ dpi = dct * gg * i * (T_(1) - i);
            const T_ dpf = dct * cpr[k] * f * (T_(1) - f);
            dGr[k] = dpi;
            dGr[H + k] = dpf;
            dGr[2 * H + k] = dct * i * (T_(1) - gg * gg);
            dcpr[k] += dct * f + wci[k] * dpi + wcf[k] * dpf;
          }
          if (sum_b) ThreadSums::add(acc, dGr, G);
          if (lg) {
            ThreadSums::add_product(acc + G, dGr, xhat + b * G, G);
            normalise_row_backward(dGr, xhat + b * G, lg, rhh + b, dHH + b * G, G, 1);
          }
          if (lnx) {  // through LN(xp): d xp in place of d gates, and the gain's gradient
            const T_* st = sx + b * 2 * gx;
            apply_stats(xrow + b * G, st, st + gx, xs.data(), G, gx);
            ThreadSums::add_product(acc + 2 * G + 2 * H, dGr, xs.data(), G);
            normalise_row_backward(dGr, xs.data(), lxg, st + gx, dGr, G, gx);
          }
        }
      });
      // dh_{t-1} = (direct part) + (W_hh^T dHH_t) ⊙ m
      if (h_mask.has_value()) {
        dh_prev.add_(at::mm(d_hh[t], w_hh).mul_(*h_mask));
      } else {
        dh_prev.addmm_(d_hh[t], w_hh);
      }
      std::swap(dh, dh_prev);
      std::swap(dc, dc_prev);
    }
  });
  Tensor h_in = hs.narrow(0, 0, T);
  if (h_mask.has_value()) h_in = h_in * *h_mask;
  Tensor d_w = at::mm(d_hh.reshape({T * B, G}).t(), h_in.reshape({T * B, H}));
  Tensor d_peep, d_lg, d_lb, d_lcg, d_lcb;
  if (peephole.has_value()) {
    Tensor c_prev = cs.narrow(0, 0, T);
    Tensor c_new = separate_cnew ? c_new_all : cs.narrow(0, 1, T);
    d_peep = at::stack({sum_time_batch(d_xp.narrow(2, 0, H) * c_prev), sum_time_batch(d_xp.narrow(2, H, H) * c_prev),
                        sum_time_batch(d_xp.narrow(2, 3 * H, H) * c_new)});
  }
  if (ln) d_lg = sums.total(G, G, opts);
  if (sum_b) d_lb = sums.total(0, G, opts);
  if (lnc) {
    d_lcg = sums.total(2 * G, H, opts);
    d_lcb = sums.total(2 * G + H, H, opts);
  }
  Tensor d_lxg = lnx ? sums.total(2 * G + 2 * H, G, opts) : Tensor();
  return {d_xp, dh, dc, d_w, d_peep, d_lg, d_lb, d_lcg, d_lcb, d_lxg};
}

}  // namespace rnnkit
