// Streaming: one step per call with pre-packed weights, preallocated state, no autograd and no allocation
// per call. A layer's step is two mat-vec products (W_ih x_t, W_hh h_{t-1}) and the cell's element-wise
// update, written as plain loops the compiler vectorises (at batch 1 a BLAS call costs more than it saves).
#include "common.h"

namespace rnnkit {

class StreamLayer {
 public:
  // mode: "rnn_tanh", "rnn_relu", "lstm", "gru". Weights in torch's layout; biases may be undefined.
  StreamLayer(const std::string& mode, const Tensor& w_ih, const Tensor& w_hh, const OptTensor& b_ih,
              const OptTensor& b_hh, int64_t batch)
      : batch_(batch) {
    TORCH_CHECK(w_ih.scalar_type() == at::kFloat, "streaming runs float32 weights");
    if (mode == "lstm") gates_ = 4;
    else if (mode == "gru") gates_ = 3;
    else if (mode == "rnn_tanh" || mode == "rnn_relu") gates_ = 1;
    else TORCH_CHECK(false, "unknown mode ", mode);
    mode_ = mode;
    relu_ = mode == "rnn_relu";
    G_ = w_ih.size(0);
    I_ = w_ih.size(1);
    H_ = w_hh.size(1);
    auto opts = at::TensorOptions().dtype(at::kFloat);
    w_ih_ = w_ih.detach().to(at::kCPU).contiguous().clone();
    w_hh_ = w_hh.detach().to(at::kCPU).contiguous().clone();
    b_ih_ = b_ih.has_value() ? b_ih->detach().to(at::kCPU).contiguous().clone() : at::zeros({G_}, opts);
    b_hh_ = b_hh.has_value() ? b_hh->detach().to(at::kCPU).contiguous().clone() : at::zeros({G_}, opts);
    h_ = at::zeros({batch, H_}, opts);
    c_ = at::zeros({batch, H_}, opts);
    xi_ = at::empty({G_}, opts);
    hh_ = at::empty({G_}, opts);
  }

  void reset() {
    h_.zero_();
    c_.zero_();
  }

  // x: (batch, I) float32 contiguous on CPU; updates the state in place and returns a pointer to h.
  const float* step(const float* x) {
    const float *wi = w_ih_.data_ptr<float>(), *wh = w_hh_.data_ptr<float>();
    const float *bi = b_ih_.data_ptr<float>(), *bh = b_hh_.data_ptr<float>();
    float *xi = xi_.data_ptr<float>(), *hh = hh_.data_ptr<float>();
    const int64_t H = H_, I = I_;
    for (int64_t b = 0; b < batch_; ++b) {
      const float* xb = x + b * I;
      float* h = h_.data_ptr<float>() + b * H;
      float* c = c_.data_ptr<float>() + b * H;
      for (int64_t j = 0; j < G_; ++j) {
        const float* row = wi + j * I;
        float s = 0.f;
        _Pragma("omp simd reduction(+ : s)") for (int64_t k = 0; k < I; ++k) s += row[k] * xb[k];
        xi[j] = s + bi[j];
      }
      for (int64_t j = 0; j < G_; ++j) {
        const float* row = wh + j * H;
        float s = 0.f;
        _Pragma("omp simd reduction(+ : s)") for (int64_t k = 0; k < H; ++k) s += row[k] * h[k];
        hh[j] = s + bh[j];
      }
      if (gates_ == 4) {
        RNNKIT_SIMD
        for (int64_t k = 0; k < H; ++k) {
          const float i = sigmoid(xi[k] + hh[k]);
          const float f = sigmoid(xi[H + k] + hh[H + k]);
          const float g = tanh_(xi[2 * H + k] + hh[2 * H + k]);
          const float o = sigmoid(xi[3 * H + k] + hh[3 * H + k]);
          c[k] = f * c[k] + i * g;
          h[k] = o * tanh_(c[k]);
        }
      } else if (gates_ == 3) {
        RNNKIT_SIMD
        for (int64_t k = 0; k < H; ++k) {
          const float r = sigmoid(xi[k] + hh[k]);
          const float z = sigmoid(xi[H + k] + hh[H + k]);
          const float n = tanh_(xi[2 * H + k] + r * hh[2 * H + k]);
          h[k] = n + z * (h[k] - n);
        }
      } else {
        for (int64_t k = 0; k < H; ++k) h[k] = activate(xi[k] + hh[k], relu_);
      }
    }
    return h_.data_ptr<float>();
  }

  Tensor h() const { return h_; }
  Tensor c() const { return c_; }
  int64_t input_size() const { return I_; }
  int64_t hidden_size() const { return H_; }

 private:
  std::string mode_;
  bool relu_ = false;
  int64_t gates_ = 0, G_ = 0, I_ = 0, H_ = 0, batch_ = 1;
  Tensor w_ih_, w_hh_, b_ih_, b_hh_, h_, c_, xi_, hh_;
};

// A stack of layers stepped together; `step` copies the last layer's h into a fresh tensor unless `out`
// is given (then it writes there and returns it).
class Stream {
 public:
  explicit Stream(std::vector<std::shared_ptr<StreamLayer>> layers) : layers_(std::move(layers)) {
    TORCH_CHECK(!layers_.empty(), "a stream needs at least one layer");
  }

  Tensor step(const Tensor& x, const OptTensor& out) {
    TORCH_CHECK(x.scalar_type() == at::kFloat && x.device().is_cpu() && x.is_contiguous(),
                "stream.step takes a contiguous float32 CPU tensor");
    TORCH_CHECK(x.numel() == batch() * layers_[0]->input_size(), "stream.step: expected ",
                batch() * layers_[0]->input_size(), " input values, got ", x.numel());
    const int64_t H = layers_.back()->hidden_size();
    TORCH_CHECK(!out.has_value() || (out->scalar_type() == at::kFloat && out->device().is_cpu() &&
                                     out->is_contiguous() && out->numel() == batch() * H),
                "stream.step: out must be a contiguous float32 CPU tensor of ", batch() * H, " values");
    const float* v = x.data_ptr<float>();
    for (auto& layer : layers_) v = layer->step(v);
    Tensor result = out.has_value() ? *out : at::empty({batch(), H}, x.options());
    std::memcpy(result.data_ptr<float>(), v, sizeof(float) * batch() * H);
    return result;
  }

  void reset() {
    for (auto& layer : layers_) layer->reset();
  }
  int64_t batch() const { return layers_[0]->h().size(0); }
  std::vector<std::shared_ptr<StreamLayer>> layers() const { return layers_; }

 private:
  std::vector<std::shared_ptr<StreamLayer>> layers_;
};

}  // namespace rnnkit
