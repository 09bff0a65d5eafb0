// Python bindings of rnnkit's fused CPU kernels (built on first use by rnnkit/fused/extension.py).
#include "common.h"
#include "stream.cpp"

namespace rnnkit {
std::vector<Tensor> lstm_forward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const OptTensor&,
                                 const OptTensor&, const OptTensor&, const OptTensor&, const OptTensor&,
                                 const OptTensor&, const OptTensor&, const OptTensor&, double, bool, bool, double,
                                 double, int64_t, const OptTensor&, int64_t);
std::vector<Tensor> lstm_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                                  const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                                  const Tensor&, const Tensor&, const Tensor&, const Tensor&, const OptTensor&,
                                  const OptTensor&, const OptTensor&, const OptTensor&, const OptTensor&,
                                  const OptTensor&, const OptTensor&, const OptTensor&, double, double, double,
                                  int64_t, const OptTensor&, int64_t, const Tensor&);
std::vector<Tensor> gru_forward(const Tensor&, const Tensor&, const Tensor&, const OptTensor&, const OptTensor&,
                                const OptTensor&, const OptTensor&, const OptTensor&, double, bool, bool, double,
                                int64_t, const OptTensor&, int64_t);
std::vector<Tensor> gru_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const OptTensor&,
                                 const OptTensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                                 const OptTensor&, const OptTensor&, const OptTensor&, double, double, int64_t,
                                 const OptTensor&, int64_t, const Tensor&);
std::vector<Tensor> rnn_forward(const Tensor&, const Tensor&, const Tensor&, const OptTensor&, const OptTensor&,
                                const OptTensor&, bool, bool, double, int64_t);
std::vector<Tensor> rnn_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                                 const OptTensor&, const OptTensor&, bool, double, int64_t);

// The keep mask (T, B, H) of training-mode zoneout that the kernels draw from `seed` for state field
// `field` (0: h, 1: c): 1 where a unit keeps its previous value. The same definition as in the kernels
// (common.h), for tests and for anyone who needs to see the draw.
Tensor zoneout_mask(int64_t T, int64_t B, int64_t H, double p, int64_t seed, int64_t field) {
  const ZoneoutDraw draw = ZoneoutDraw::make(p, seed, uint32_t(field));
  Tensor out = at::zeros({T, B, H}, at::kDouble);
  if (!draw.on()) return out;
  std::vector<uint32_t> bits(size_t(H + 4));
  const double zero = 0.0;
  double* o = out.data_ptr<double>();
  for (int64_t t = 0; t < T; ++t)
    for (int64_t b = 0; b < B; ++b) {
      int64_t stride = 0;
      double* row = o + (t * B + b) * H;
      draw.row(&zero, stride, t, b, H, row, bits.data());
    }
  return out;
}
}  // namespace rnnkit

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  using namespace rnnkit;
  m.def("lstm_forward", &lstm_forward);
  m.def("lstm_backward", &lstm_backward);
  m.def("gru_forward", &gru_forward);
  m.def("gru_backward", &gru_backward);
  m.def("rnn_forward", &rnn_forward);
  m.def("rnn_backward", &rnn_backward);
  m.def("zoneout_mask", &zoneout_mask);
  py::class_<StreamLayer, std::shared_ptr<StreamLayer>>(m, "StreamLayer")
      .def(py::init<const std::string&, const Tensor&, const Tensor&, const OptTensor&, const OptTensor&,
                    int64_t>())
      .def("reset", &StreamLayer::reset)
      .def_property_readonly("h", &StreamLayer::h)
      .def_property_readonly("c", &StreamLayer::c);
  py::class_<Stream>(m, "Stream")
      .def(py::init<std::vector<std::shared_ptr<StreamLayer>>>())
      .def("step", &Stream::step, py::arg("x"), py::arg("out") = py::none())
      .def("reset", &Stream::reset)
      .def_property_readonly("batch", &Stream::batch)
      .def_property_readonly("layers", &Stream::layers);
}
