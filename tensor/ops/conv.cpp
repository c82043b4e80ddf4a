#include "tensor/ops/conv.h"

#include <string>

#include "kernels/conv.h"
#include "kernels/detail/dispatch.h"
#include "kernels/nn.h"
#include "runtime/error.h"
#include "tensor/autograd.h"
#include "tensor/ops/detail/bias.h"

namespace renorm {

using detail::epilogue_grads;
using detail::EpilogueGrads;
using detail::check_bias;

namespace {
// The checked shape of conv2d(x, w, ..., stride, pad, ..., math): ShapeError/ConfigError naming `op`.
kernels::ConvShape conv_shape(const char* op, const Tensor& x, const Tensor& w, int64_t stride, int64_t pad, MatMath math) {
  check_same_device(op, x, w);
  if (x.rank() != 4 || w.rank() != 4 || x.dim(3) != w.dim(3))
    throw ShapeError(std::string(op) + ": input " + x.shape().str() + " (NHWC) and filters " + w.shape().str() +
                     " (KRSC) do not match");
  if (stride < 1 || pad < 0) throw ConfigError(std::string(op) + ": stride must be >= 1 and padding >= 0");
  if (x.dim(1) + 2 * pad < w.dim(1) || x.dim(2) + 2 * pad < w.dim(2))
    throw ShapeError(std::string(op) + ": filters " + w.shape().str() + " larger than the padded input " + x.shape().str());
  return kernels::ConvShape{x.dim(0), x.dim(1), x.dim(2), x.dim(3), w.dim(0), w.dim(1), w.dim(2), stride, stride, pad, pad, math};
}
}  // namespace

ConvMath conv2d_math(const Tensor& x, const Tensor& w, int64_t stride, int64_t pad, MatMath math) {
  const kernels::ConvShape cs = conv_shape("conv2d_math", x, w, stride, pad, math);
  kernels::ConvPlanMath plan;
  RENORM_DISPATCH(x.device(), conv2d_plan_math, cs, &plan);
  auto of = [&](int i) { return plan.tf32[i] ? MatMath::Tf32 : MatMath::Fp32; };
  ConvMath m{of(0), of(1), of(2), ""};
  if (plan.algorithm[0] >= 0)
    m.algorithms = "forward " + std::to_string(plan.algorithm[0]) + ", backward-data " + std::to_string(plan.algorithm[1]) +
                   ", backward-filter " + std::to_string(plan.algorithm[2]);
  return m;
}

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, int64_t stride, int64_t pad, bool relu, MatMath math) {
  static constexpr const char* op = "conv2d";
  const kernels::ConvShape cs = conv_shape(op, x, w, stride, pad, math);
  check_bias(op, x, bias, cs.k);
  // Activations in x's storage (float32 or bfloat16: kernels/conv.h); the filters, bias and their
  // gradients float32.
  Tensor y = Tensor::empty(Shape{cs.b, cs.oh(), cs.ow(), cs.k}, x.device(), x.dtype());
  const bool need_x = x.requires_grad(), has_bias = bias.defined();
  const kernels::Epilogue ep{has_bias ? bias.data() : nullptr, relu};
  RENORM_DISPATCH_STORAGE(x.dtype(), x.device(), conv2d_forward, x.data_as<T>(), w.data(), y.data_as<T>(), cs, ep);
  return record(op, y, {x, w, bias}, [x = x.detach(), w = w.detach(), y = relu ? y.detach() : Tensor(), cs, need_x, has_bias,
                                      relu](const Tensor& g) {
    const EpilogueGrads e = epilogue_grads(y, g, cs.k, relu, has_bias);  // the ReLU mask and db in one pass
    Tensor dx, dw = Tensor::empty(w.shape(), g.device());
    if (need_x) {
      dx = Tensor::empty(x.shape(), g.device(), x.dtype());
      RENORM_DISPATCH_STORAGE(x.dtype(), g.device(), conv2d_backward_data, e.dz.data_as<T>(), w.data(), dx.data_as<T>(), cs);
    }
    RENORM_DISPATCH_STORAGE(x.dtype(), g.device(), conv2d_backward_filter, x.data_as<T>(), e.dz.data_as<T>(), dw.data(), cs);
    return std::vector<Tensor>{dx, dw, e.db};
  });
}

}  // namespace renorm
