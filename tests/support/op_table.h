// The table-driven op harness (after ggml's tests/test-backend-ops.cpp). Each differentiable op is
// rows of the table in tests/test_op_table.cpp: a name, the shapes of its leaf inputs and how to run it.
// Every row is gradient-checked on the CPU against finite differences (rows up to kGradcheckMax input
// elements; `gradcheck = false` says why not) and compared CPU-vs-CUDA (forward output and the
// gradient of every input; `vendor` rows call cuBLAS or cuDNN and need a real GPU). Adding an op is
// adding a row.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "support/gradcheck.h"
#include "support/parity.h"

namespace renorm::test {

struct OpRow {
  std::string name;
  std::vector<Shape> inputs;
  std::function<Tensor(const std::vector<Tensor>&)> run;  // builds any non-leaf input on inputs[0]'s device
  bool vendor = false;     // calls cuBLAS or cuDNN (not emulated: parity on a real GPU only)
  bool gradcheck = true;   // false where finite differences cannot apply; the row says why
  GradCheckOptions grad{};
  double tol = kParityTol;  // kParityTolBf16 for rows whose results are stored in bfloat16
  // Leaf input i of the row on a device; default uniform in [-1, 1], seeded by i.
  std::function<Tensor(size_t i, const Shape&, Device)> make = nullptr;
};

constexpr int64_t kGradcheckMax = 4096;  // input elements: finite differences cost two runs per element

inline std::vector<Tensor> row_inputs(const OpRow& r, Device d) {
  std::vector<Tensor> in;
  for (size_t i = 0; i < r.inputs.size(); ++i) {
    Tensor t = r.make ? r.make(i, r.inputs[i], d) : Tensor::uniform(r.inputs[i], 10 + i, -1.f, 1.f, d);
    in.push_back(t.requires_grad_());
  }
  return in;
}

// The row's output on device d and, when the output is differentiable, the gradient of every input
// for a fixed random output gradient.
struct RowResult {
  Tensor y;
  std::vector<Tensor> grads;
};

inline RowResult run_row(const OpRow& r, Device d) {
  std::vector<Tensor> in = row_inputs(r, d);
  RowResult out{r.run(in), {}};
  if (!out.y.requires_grad()) return out;
  out.y.backward(Tensor::normal(out.y.shape(), 99, 0.f, 1.f, d));
  for (Tensor& t : in) out.grads.push_back(t.grad());
  return out;
}

inline int64_t input_elements(const OpRow& r) {
  int64_t n = 0;
  for (const Shape& s : r.inputs) n += s.numel();
  return n;
}

// Gradient check on the CPU, unless the row is too large or says gradcheck = false.
inline void gradcheck_row(const OpRow& r) {
  if (!r.gradcheck || input_elements(r) > kGradcheckMax) return;
  CHECK(check_gradients(r.run, row_inputs(r, Device::CPU), r.grad) > 0);
}

inline void parity_row(const OpRow& r) {
  const RowResult a = run_row(r, Device::CPU), b = run_row(r, Device::CUDA);
  require_close(a.y, b.y, r.name + " forward", r.tol);
  REQUIRE(a.grads.size() == b.grads.size());
  for (size_t i = 0; i < a.grads.size(); ++i)
    if (a.grads[i].defined()) require_close(a.grads[i], b.grads[i], r.name + " gradient of input " + std::to_string(i), r.tol);
}

}  // namespace renorm::test
