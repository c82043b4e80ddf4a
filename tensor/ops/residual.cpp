#include "tensor/ops/residual.h"

#include <string>

#include "kernels/detail/dispatch.h"
#include "kernels/elementwise.h"
#include "kernels/residual.h"
#include "runtime/error.h"
#include "tensor/autograd.h"

namespace renorm {

Tensor global_avg_pool(const Tensor& x) {
  static constexpr const char* op = "global_avg_pool";
  if (x.rank() != 4 || x.dim(1) * x.dim(2) == 0)
    throw ShapeError(std::string(op) + ": input must be [B,H,W,C] with H·W >= 1, got " + x.shape().str());
  const int64_t b = x.dim(0), hw = x.dim(1) * x.dim(2), c = x.dim(3);
  Tensor y = Tensor::empty(Shape{b, c}, x.device());
  RENORM_DISPATCH(x.device(), avg_pool_forward, x.data(), b, hw, c, y.data());
  return record(op, y, {x}, [xs = x.shape(), b, hw, c](const Tensor& g) {
    Tensor dx = Tensor::empty(xs, g.device());
    RENORM_DISPATCH(g.device(), avg_pool_backward, g.data(), b, hw, c, dx.data());
    return std::vector<Tensor>{dx};
  });
}

Tensor shortcut_a(const Tensor& x, int64_t stride, int64_t out_channels) {
  static constexpr const char* op = "shortcut_a";
  if (x.rank() != 4) throw ShapeError(std::string(op) + ": input must be [B,H,W,C], got " + x.shape().str());
  if (stride < 1 || out_channels < x.dim(3))
    throw ShapeError(std::string(op) + ": stride " + std::to_string(stride) + " must be >= 1 and " +
                     std::to_string(out_channels) + " output channels >= the input's " + std::to_string(x.dim(3)));
  const kernels::ShortcutShape s{x.dim(0), x.dim(1), x.dim(2), x.dim(3), out_channels, stride, (out_channels - x.dim(3)) / 2};
  Tensor y = Tensor::empty(Shape{s.b, s.oh(), s.ow(), s.c_out}, x.device());
  RENORM_DISPATCH(x.device(), shortcut_forward, x.data(), s, y.data());
  return record(op, y, {x}, [s, xs = x.shape()](const Tensor& g) {
    Tensor dx = Tensor::empty(xs, g.device());
    RENORM_DISPATCH(g.device(), shortcut_backward, g.data(), s, dx.data());
    return std::vector<Tensor>{dx};
  });
}

Tensor add_relu(const Tensor& a, const Tensor& b) {
  static constexpr const char* op = "add_relu";
  check_same_device(op, a, b);
  check_shape(op, "b", b, a.shape());
  Tensor y = Tensor::empty(a.shape(), a.device());
  RENORM_DISPATCH(a.device(), add_relu_forward, a.data(), b.data(), y.data(), a.numel());
  return record(op, y, {a, b}, [y = y.detach()](const Tensor& g) {
    Tensor d = Tensor::empty(g.shape(), g.device());
    RENORM_DISPATCH(g.device(), relu_backward, y.data(), g.data(), d.data(), g.numel());
    return std::vector<Tensor>{d, d};  // one gradient for both inputs (backward never adds into it in place)
  });
}

}  // namespace renorm
