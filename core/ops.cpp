#include "core/ops.h"

#include "core/autograd.h"
#include "core/error.h"
#include "kernels/dispatch.h"
#include "kernels/elementwise.h"
#include "kernels/gemm.h"
#include "kernels/reduce.h"

namespace renorm {

namespace {
void check_same(const char* op, const Tensor& a, const Tensor& b) {
  check_same_device(op, a, b);
  check_shape(op, "second operand", b, a.shape());
}
}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  check_same("add", a, b);
  Tensor y = Tensor::empty(a.shape(), a.device());
  RENORM_DISPATCH(a.device(), add, a.data(), b.data(), y.data(), a.numel());
  return record("add", y, {a, b}, [](const Tensor& g) { return std::vector<Tensor>{g, g}; });
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

namespace {
// sum and mean: y = alpha * Σx; dx = alpha * g broadcast, read from device memory (no host sync).
Tensor scaled_sum(const char* name, const Tensor& x, float alpha) {
  Tensor y = Tensor::empty(Shape{}, x.device());
  RENORM_DISPATCH(x.device(), sum, x.data(), x.numel(), y.data());
  if (alpha != 1.f) RENORM_DISPATCH(x.device(), scale, y.data(), alpha, y.data(), 1);
  const Shape shape = x.shape();
  return record(name, y, {x}, [shape, alpha](const Tensor& g) {
    Tensor dx = Tensor::empty(shape, g.device());
    RENORM_DISPATCH(g.device(), broadcast_scalar, g.data(), alpha, dx.data(), dx.numel());
    return std::vector<Tensor>{dx};
  });
}
}  // namespace

Tensor sum(const Tensor& x) { return scaled_sum("sum", x, 1.f); }

Tensor mean(const Tensor& x) {
  if (x.numel() == 0) throw ShapeError("mean: empty tensor " + x.shape().str());
  return scaled_sum("mean", x, 1.f / static_cast<float>(x.numel()));
}

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_same_device("matmul", a, b);
  if (a.rank() != 2 || b.rank() != 2 || a.dim(1) != b.dim(0))
    throw ShapeError("matmul: cannot multiply " + a.shape().str() + " by " + b.shape().str());
  const int64_t m = a.dim(0), k = a.dim(1), n = b.dim(1);
  Tensor y = Tensor::empty(Shape{m, n}, a.device());
  RENORM_DISPATCH(a.device(), gemm, false, false, m, n, k, 1.f, a.data(), b.data(), 0.f, y.data());
  const bool need_a = a.requires_grad(), need_b = b.requires_grad();
  return record("matmul", y, {a, b}, [a = a.detach(), b = b.detach(), m, n, k, need_a, need_b](const Tensor& g) {
    Tensor da, db;
    if (need_a) {  // da(m,k) = g(m,n) b(k,n)^T
      da = Tensor::empty(Shape{m, k}, g.device());
      RENORM_DISPATCH(g.device(), gemm, false, true, m, k, n, 1.f, g.data(), b.data(), 0.f, da.data());
    }
    if (need_b) {  // db(k,n) = a(m,k)^T g(m,n)
      db = Tensor::empty(Shape{k, n}, g.device());
      RENORM_DISPATCH(g.device(), gemm, true, false, k, n, m, 1.f, a.data(), g.data(), 0.f, db.data());
    }
    return std::vector<Tensor>{da, db};
  });
}

Tensor relu(const Tensor& x) {
  Tensor y = Tensor::empty(x.shape(), x.device());
  RENORM_DISPATCH(x.device(), relu_forward, x.data(), y.data(), x.numel());
  return record("relu", y, {x}, [x = x.detach()](const Tensor& g) {
    Tensor dx = Tensor::empty(g.shape(), g.device());
    RENORM_DISPATCH(g.device(), relu_backward, x.data(), g.data(), dx.data(), g.numel());
    return std::vector<Tensor>{dx};
  });
}

}  // namespace renorm
