#include "tensor/ops/elementwise.h"

#include "kernels/detail/dispatch.h"
#include "kernels/elementwise.h"
#include "runtime/error.h"
#include "tensor/autograd.h"

namespace renorm {

namespace {
void check_same(const char* op, const Tensor& a, const Tensor& b) {
  check_same_device(op, a, b);
  check_shape(op, "second operand", b, a.shape());
}
}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  check_same("add", a, b);
  Tensor y = Tensor::empty(a.shape(), a.device(), a.dtype());
  RENORM_DISPATCH_STORAGE(a.dtype(), a.device(), add, a.data_as<T>(), b.data_as<T>(), y.data_as<T>(), a.numel());
  return record("add", y, {a, b}, [](const Tensor& g) { return std::vector<Tensor>{g, g}; });
}

void add_into(const Tensor& acc, const Tensor& b) {
  check_same("add_into", acc, b);
  RENORM_DISPATCH_STORAGE(acc.dtype(), acc.device(), add, acc.data_as<T>(), b.data_as<T>(), acc.data_as<T>(), acc.numel());
}

Tensor mul(const Tensor& a, const Tensor& b) {
  check_same("mul", a, b);
  Tensor y = Tensor::empty(a.shape(), a.device());
  RENORM_DISPATCH(a.device(), mul, a.data(), b.data(), y.data(), a.numel());
  const bool need_a = a.requires_grad(), need_b = b.requires_grad();
  return record("mul", y, {a, b}, [a = a.detach(), b = b.detach(), need_a, need_b](const Tensor& g) {
    Tensor da, db;
    if (need_a) {
      da = Tensor::empty(g.shape(), g.device());
      RENORM_DISPATCH(g.device(), mul, g.data(), b.data(), da.data(), g.numel());
    }
    if (need_b) {
      db = Tensor::empty(g.shape(), g.device());
      RENORM_DISPATCH(g.device(), mul, g.data(), a.data(), db.data(), g.numel());
    }
    return std::vector<Tensor>{da, db};
  });
}

Tensor scale(const Tensor& x, float alpha) {
  Tensor y = Tensor::empty(x.shape(), x.device());
  RENORM_DISPATCH(x.device(), scale, x.data(), alpha, y.data(), x.numel());
  return record("scale", y, {x}, [alpha](const Tensor& g) {
    Tensor dx = Tensor::empty(g.shape(), g.device());
    RENORM_DISPATCH(g.device(), scale, g.data(), alpha, dx.data(), g.numel());
    return std::vector<Tensor>{dx};
  });
}

Tensor relu(const Tensor& x) {
  Tensor y = Tensor::empty(x.shape(), x.device(), x.dtype());
  RENORM_DISPATCH_STORAGE(x.dtype(), x.device(), relu_forward, x.data_as<T>(), y.data_as<T>(), x.numel());
  return record("relu", y, {x}, [x = x.detach()](const Tensor& g) {
    Tensor dx = Tensor::empty(g.shape(), g.device(), x.dtype());
    RENORM_DISPATCH_STORAGE(x.dtype(), g.device(), relu_backward, x.data_as<T>(), g.data_as<T>(), dx.data_as<T>(), g.numel());
    return std::vector<Tensor>{dx};
  });
}

}  // namespace renorm
