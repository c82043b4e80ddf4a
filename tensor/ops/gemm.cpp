#include "tensor/ops/gemm.h"

#include "kernels/detail/dispatch.h"
#include "kernels/gemm.h"
#include "kernels/nn.h"
#include "runtime/error.h"
#include "tensor/autograd.h"
#include "tensor/ops/detail/bias.h"

namespace renorm {

using detail::epilogue_grads;
using detail::check_bias;

Tensor matmul(const Tensor& a, const Tensor& b, MatMath math) {
  check_same_device("matmul", a, b);
  if (a.rank() != 2 || b.rank() != 2 || a.dim(1) != b.dim(0))
    throw ShapeError("matmul: cannot multiply " + a.shape().str() + " by " + b.shape().str());
  const int64_t m = a.dim(0), k = a.dim(1), n = b.dim(1);
  Tensor y = Tensor::empty(Shape{m, n}, a.device());
  RENORM_DISPATCH(a.device(), gemm, false, false, m, n, k, 1.f, a.data(), b.data(), 0.f, y.data(), math);
  const bool need_a = a.requires_grad(), need_b = b.requires_grad();
  return record("matmul", y, {a, b}, [a = a.detach(), b = b.detach(), m, n, k, need_a, need_b, math](const Tensor& g) {
    Tensor da, db;
    if (need_a) {  // da(m,k) = g(m,n) b(k,n)^T
      da = Tensor::empty(Shape{m, k}, g.device());
      RENORM_DISPATCH(g.device(), gemm, false, true, m, k, n, 1.f, g.data(), b.data(), 0.f, da.data(), math);
    }
    if (need_b) {  // db(k,n) = a(m,k)^T g(m,n)
      db = Tensor::empty(Shape{k, n}, g.device());
      RENORM_DISPATCH(g.device(), gemm, true, false, k, n, m, 1.f, a.data(), g.data(), 0.f, db.data(), math);
    }
    return std::vector<Tensor>{da, db};
  });
}

// bfloat16 input: the product of x and w rounded to bfloat16, in float32 (exact products, float32 sums:
// kernels/conv.h's numbers; the layers this serves are small), the output and dx bfloat16 again.
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias, MatMath math) {
  static constexpr const char* op = "linear";
  check_same_device(op, x, w);
  if (x.rank() != 2 || w.rank() != 2 || x.dim(1) != w.dim(1))
    throw ShapeError(std::string(op) + ": input " + x.shape().str() + " and weight " + w.shape().str() +
                     " ([out,in]) do not match");
  const int64_t b = x.dim(0), in = x.dim(1), out = w.dim(0);
  check_bias(op, x, bias, out);
  const DType dt = x.dtype();
  const Tensor xf = x.detach().to(DType::F32), wk = dt == DType::F32 ? w.detach() : w.detach().to(dt).to(DType::F32);
  Tensor y = Tensor::empty(Shape{b, out}, x.device());
  RENORM_DISPATCH(x.device(), gemm, false, true, b, out, in, 1.f, xf.data(), wk.data(), 0.f, y.data(), math);
  if (bias.defined()) RENORM_DISPATCH(x.device(), epilogue_forward, y.data(), b, out, kernels::Epilogue{bias.data(), false});
  const bool need_x = x.requires_grad(), has_bias = bias.defined();
  return record(op, y.to(dt), {x, w, bias}, [xf, wk, dt, b, in, out, need_x, has_bias, math](const Tensor& g_in) {
    const Tensor g = g_in.to(DType::F32);
    Tensor dx, dw = Tensor::empty(wk.shape(), g.device()), db;
    if (need_x) {  // dx(b,in) = g(b,out)·w(out,in)
      dx = Tensor::empty(xf.shape(), g.device());
      RENORM_DISPATCH(g.device(), gemm, false, false, b, in, out, 1.f, g.data(), wk.data(), 0.f, dx.data(), math);
    }
    // dw(out,in) = gᵀ(out,b)·x(b,in)
    RENORM_DISPATCH(g.device(), gemm, true, false, out, in, b, 1.f, g.data(), xf.data(), 0.f, dw.data(), math);
    if (has_bias) db = epilogue_grads(Tensor(), g, out, false, true).db;
    return std::vector<Tensor>{need_x ? dx.to(dt) : dx, dw, db};
  });
}

}  // namespace renorm
