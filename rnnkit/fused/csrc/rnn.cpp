// Fused Elman RNN over a whole sequence, forward and backward through time.
//
//   h̃ = act(xp_t + W_hh (h_{t-1} ⊙ m) + b_hh)     xp: the hoisted W_ih x_t + b_ih; act = tanh or relu
//   h_t = h̃ + k_t ⊙ (h_{t-1} - h̃)            k: 1 past a sequence's end, zoneout otherwise
#include "common.h"

namespace rnnkit {

// Returns {hs (T+1,B,H) with hs[0] = h0, h_new (T,B,H) pre-keep values (only with keep and save)}.
std::vector<Tensor> rnn_forward(const Tensor& xp, const Tensor& h0, const Tensor& w_hh, const OptTensor& b_hh,
                                const OptTensor& h_mask, const OptTensor& keep, bool relu, bool save,
                                double zoneout, int64_t seed) {
  const int64_t T = xp.size(0), B = xp.size(1), H = xp.size(2);
  auto opts = xp.options();
  Tensor hs = at::empty({T + 1, B, H}, opts);
  hs[0].copy_(h0);
  const bool keeps = keep.has_value() || zoneout > 0.0;
  // Backward needs h̃ (the pre-mix value) only where 0 < k < 1 (evaluation-mode zoneout): where k = 0,
  // h_t is h̃; where k = 1, h̃ gets no gradient. Lengths and training-mode zoneout keep 0 or 1.
  const bool fractional = keep.has_value() && !((*keep == 0) | (*keep == 1)).all().item<bool>();
  const bool save_new = save && fractional;
  const ZoneoutDraw draw = ZoneoutDraw::make(zoneout, seed, 0);
  Tensor h_new = at::empty({save_new ? T : 1, B, H}, opts);
  Tensor hm = h_mask.has_value() ? at::empty({B, H}, opts) : Tensor();
  Tensor zeros = at::zeros({H}, opts);
  Tensor w_t = w_hh.t();
  AT_DISPATCH_FLOATING_TYPES(xp.scalar_type(), "rnn_forward", [&] {
    using T_ = scalar_t;
    const T_* bias = b_hh.has_value() ? ptr<T_>(b_hh) : zeros.data_ptr<T_>();
    const int64_t ks = keep.has_value() ? (keep->size(2) == 1 ? 0 : 1) : 0;
    const int64_t kr_ = keep.has_value() ? keep->size(2) : 0;
    for (int64_t t = 0; t < T; ++t) {
      Tensor rec_in = hs[t];
      if (hm.defined()) {
        at::mul_out(hm, hs[t], *h_mask);
        rec_in = hm;
      }
      Tensor pre = keeps ? h_new[save_new ? t : 0] : hs[t + 1];
      at::mm_out(pre, rec_in, w_t);
      T_* pp = pre.data_ptr<T_>();
      const T_* xpp = xp[t].data_ptr<T_>();
      const T_* hp = hs[t].data_ptr<T_>();
      T_* ho = hs[t + 1].data_ptr<T_>();
      const T_* kp = keep.has_value() ? (*keep)[t].data_ptr<T_>() : zeros.data_ptr<T_>();
      for_rows(B, H, [&](int64_t b0, int64_t b1) {
        KeepScratch<T_> scratch(draw.on() ? H : 0);
        for (int64_t b = b0; b < b1; ++b) {
          T_* p = pp + b * H;
          const T_* x = xpp + b * H;
          const T_* h = hp + b * H;
          T_* o = ho + b * H;
          RNNKIT_SIMD
          for (int64_t k = 0; k < H; ++k) p[k] = activate(p[k] + x[k] + bias[k], relu);
          int64_t stride = ks;
          const T_* kr = draw.row(kp + b * kr_, stride, t, b, H, scratch.keep.data(), scratch.bits.data());
          keep_mix(o, p, h, kr, stride, H);
        }
      });
    }
  });
  return {hs, save_new ? h_new : Tensor()};
}

// Returns {d_xp (T,B,H), d_h0, d_w_hh} (d_b_hh is d_xp summed over steps and batch).
std::vector<Tensor> rnn_backward(const Tensor& grad_out, const Tensor& grad_h, const Tensor& w_hh,
                                 const Tensor& hs, const Tensor& h_new, const OptTensor& h_mask,
                                 const OptTensor& keep, bool relu, double zoneout, int64_t seed) {
  const int64_t T = grad_out.size(0), B = grad_out.size(1), H = grad_out.size(2);
  auto opts = grad_out.options();
  Tensor d_xp = at::empty({T, B, H}, opts);
  Tensor dh = grad_h.clone(), dh_prev = at::empty({B, H}, opts);
  Tensor zeros = at::zeros({1}, opts);
  AT_DISPATCH_FLOATING_TYPES(grad_out.scalar_type(), "rnn_backward", [&] {
    using T_ = scalar_t;
    const int64_t ks = keep.has_value() ? (keep->size(2) == 1 ? 0 : 1) : 0;
    const int64_t kr_ = keep.has_value() ? keep->size(2) : 0;
    const ZoneoutDraw draw = ZoneoutDraw::make(zoneout, seed, 0);
    for (int64_t t = T - 1; t >= 0; --t) {
      dh.add_(grad_out[t]);
      const T_* kp = keep.has_value() ? (*keep)[t].data_ptr<T_>() : zeros.data_ptr<T_>();
      const T_* vp = (h_new.defined() && h_new.numel() ? h_new[t] : hs[t + 1]).data_ptr<T_>();
      const T_* dhp = dh.data_ptr<T_>();
      T_* dx = d_xp[t].data_ptr<T_>();
      T_* dpp = dh_prev.data_ptr<T_>();
      for_rows(B, H, [&](int64_t b0, int64_t b1) {
        KeepScratch<T_> scratch(draw.on() ? H : 0);
        for (int64_t b = b0; b < b1; ++b) {
          const T_* v = vp + b * H;
          T_* dxr = dx + b * H;
          int64_t stride = ks;
          const T_* kr = draw.row(kp + b * kr_, stride, t, b, H, scratch.keep.data(), scratch.bits.data());
          keep_split(dhp + b * H, dxr, dpp + b * H, kr, stride, H);
          RNNKIT_SIMD
          for (int64_t k = 0; k < H; ++k) {
            dxr[k] = relu ? (v[k] > T_(0) ? dxr[k] : T_(0)) : dxr[k] * (T_(1) - v[k] * v[k]);
          }
        }
      });
      if (h_mask.has_value()) {
        dh_prev.add_(at::mm(d_xp[t], w_hh).mul_(*h_mask));
      } else {
        dh_prev.addmm_(d_xp[t], w_hh);
      }
      std::swap(dh, dh_prev);
    }
  });
  Tensor h_in = hs.narrow(0, 0, T);
  if (h_mask.has_value()) h_in = h_in * *h_mask;
  Tensor d_w = at::mm(d_xp.reshape({T * B, H}).t(), h_in.reshape({T * B, H}));
  return {d_xp, dh, d_w};
}

}  // namespace rnnkit
