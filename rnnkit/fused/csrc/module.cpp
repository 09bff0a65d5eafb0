// Python bindings of rnnkit's fused CPU kernels (built on first use by rnnkit/fused/extension.py).
#include "common.h"
#include "stream.cpp"

namespace rnnkit {
std::vector<Tensor> lstm_forward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const OptTensor&,
                                 const OptTensor&, const OptTensor&, const OptTensor&, const OptTensor&,
                                 const OptTensor&, const OptTensor&, const OptTensor&, double, bool, bool);
std::vector<Tensor> lstm_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                                  const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                                  const Tensor&, const Tensor&, const Tensor&, const Tensor&, const OptTensor&,
                                  const OptTensor&, const OptTensor&, const OptTensor&, const OptTensor&,
                                  const OptTensor&, const OptTensor&, const OptTensor&, double);
std::vector<Tensor> gru_forward(const Tensor&, const Tensor&, const Tensor&, const OptTensor&, const OptTensor&,
                                const OptTensor&, const OptTensor&, const OptTensor&, double, bool, bool);
std::vector<Tensor> gru_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const OptTensor&,
                                 const OptTensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                                 const OptTensor&, const OptTensor&, const OptTensor&, double);
std::vector<Tensor> rnn_forward(const Tensor&, const Tensor&, const Tensor&, const OptTensor&, const OptTensor&,
                                const OptTensor&, bool, bool);
std::vector<Tensor> rnn_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                                 const OptTensor&, const OptTensor&, bool);
}  // namespace rnnkit

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  using namespace rnnkit;
  m.def("lstm_forward", &lstm_forward);
  m.def("lstm_backward", &lstm_backward);
  m.def("gru_forward", &gru_forward);
  m.def("gru_backward", &gru_backward);
  m.def("rnn_forward", &rnn_forward);
  m.def("rnn_backward", &rnn_backward);
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
