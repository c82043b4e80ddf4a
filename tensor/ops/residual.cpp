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
  Tensor y = Tensor::empty(Shape{b, c}, x.device(), x.dtype());
  RENORM_DISPATCH_STORAGE(x.dtype(), x.device(), avg_pool_forward, x.data_as<T>(), b, hw, c, y.data_as<T>());
  return record(op, y, {x}, [xs = x.shape(), dt = x.dtype(), b, hw, c](const Tensor& g) {
    Tensor dx = Tensor::empty(xs, g.device(), dt);
    RENORM_DISPATCH_STORAGE(dt, g.device(), avg_pool_backward, g.data_as<T>(), b, hw, c, dx.data_as<T>());
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
  Tensor y = Tensor::empty(Shape{s.b, s.oh(), s.ow(), s.c_out}, x.device(), x.dtype());
  RENORM_DISPATCH_STORAGE(x.dtype(), x.device(), shortcut_forward, x.data_as<T>(), s, y.data_as<T>());
  return record(op, y, {x}, [s, xs = x.shape(), dt = x.dtype()](const Tensor& g) {
    Tensor dx = Tensor::empty(xs, g.device(), dt);
    RENORM_DISPATCH_STORAGE(dt, g.device(), shortcut_backward, g.data_as<T>(), s, dx.data_as<T>());
    return std::vector<Tensor>{dx};
  });
}

Tensor add_relu(const Tensor& a, const Tensor& b) {
  static constexpr const char* op = "add_relu";
  check_same_device(op, a, b);
  check_shape(op, "b", b, a.shape());
  Tensor y = Tensor::empty(a.shape(), a.device(), a.dtype());
  RENORM_DISPATCH_STORAGE(a.dtype(), a.device(), add_relu_forward, a.data_as<T>(), b.data_as<T>(), y.data_as<T>(), a.numel());
  return record(op, y, {a, b}, [y = y.detach()](const Tensor& g) {
    Tensor d = Tensor::empty(g.shape(), g.device(), y.dtype());
    RENORM_DISPATCH_STORAGE(y.dtype(), g.device(), relu_backward, y.data_as<T>(), g.data_as<T>(), d.data_as<T>(), g.numel());
    return std::vector<Tensor>{d, d};  // one gradient for both inputs (backward never adds into it in place)
  });
}

}  // namespace renorm
