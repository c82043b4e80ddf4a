// CPU-vs-CUDA parity of the core ops, table-driven: each row builds its inputs (seeded), runs the op
// forward and backward on each backend, and compares outputs and every input gradient.
#include <catch2/catch.hpp>

#include <functional>

#include "runtime/allocator.h"
#include "tensor/ops.h"
#include "support/parity.h"

using namespace renorm;
using renorm::test::require_close;

namespace {
struct OpCase {
  const char* name;
  std::vector<Shape> inputs;
  std::function<Tensor(const std::vector<Tensor>&)> run;
  bool vendor = false;  // calls cuBLAS (not emulated: a real GPU only)
};

const std::vector<OpCase>& cases() {
  static const std::vector<OpCase> table = {
      {"add", {{37, 5}, {37, 5}}, [](const auto& x) { return add(x[0], x[1]); }},
      {"mul", {{1000}, {1000}}, [](const auto& x) { return mul(x[0], x[1]); }},
      {"scale", {{3, 7, 11}}, [](const auto& x) { return scale(x[0], 0.37f); }},
      {"sum", {{100003}}, [](const auto& x) { return sum(x[0]); }},
      {"mean", {{64, 33}}, [](const auto& x) { return mean(x[0]); }},
      {"matmul", {{67, 129}, {129, 45}}, [](const auto& x) { return matmul(x[0], x[1]); }, true},
      {"relu", {{4, 8, 8, 3}}, [](const auto& x) { return relu(x[0]); }},
  };
  return table;
}

std::vector<Tensor> run_on(const OpCase& c, Device d, uint64_t seed, Tensor* out) {
  std::vector<Tensor> in;
  for (size_t i = 0; i < c.inputs.size(); ++i)
    in.push_back(Tensor::uniform(c.inputs[i], seed + i, -1.f, 1.f, d).requires_grad_());
  *out = c.run(in);
  out->backward(Tensor::normal(out->shape(), seed + 100, 0.f, 1.f, d));
  std::vector<Tensor> grads;
  for (Tensor& t : in) grads.push_back(t.grad());
  return grads;
}

void check_rows(bool vendor) {
  for (const OpCase& c : cases()) {
    if (c.vendor != vendor) continue;
    SECTION(c.name) {
      Tensor y_cpu, y_gpu;
      const auto g_cpu = run_on(c, Device::CPU, 1234, &y_cpu);
      const auto g_gpu = run_on(c, Device::CUDA, 1234, &y_gpu);
      require_close(y_cpu, y_gpu, std::string(c.name) + " forward");
      for (size_t i = 0; i < g_cpu.size(); ++i)
        require_close(g_cpu[i], g_gpu[i], std::string(c.name) + " grad of input " + std::to_string(i));
    }
  }
}
}  // namespace

TEST_CASE("parity: core ops forward and backward, CPU vs CUDA", "[parity][cuda]") {
  RENORM_REQUIRE_CUDA_OR_SKIP();
  check_rows(false);
}

TEST_CASE("parity: matmul (cuBLAS) forward and backward, CPU vs CUDA", "[parity][cuda][vendor]") {
  RENORM_REQUIRE_VENDOR_CUDA_OR_SKIP();
  check_rows(true);
}

TEST_CASE("parity: seeded random init is identical on CPU and CUDA", "[parity][cuda][random]") {
  RENORM_REQUIRE_CUDA_OR_SKIP();
  const Shape s{3, 1001};
  CHECK(Tensor::uniform(s, 9, -2.f, 3.f).to_vector() == Tensor::uniform(s, 9, -2.f, 3.f, Device::CUDA).to_vector());
  require_close(Tensor::normal(s, 9, 1.f, 0.5f), Tensor::normal(s, 9, 1.f, 0.5f, Device::CUDA), "normal", 1e-6);
}

TEST_CASE("cuda: the caching allocator reuses freed blocks without cudaMalloc", "[cuda][device]") {
  RENORM_REQUIRE_CUDA_OR_SKIP();
  { Tensor warm = Tensor::empty(Shape{12345}, Device::CUDA); }
  const CudaAllocatorStats before = cuda_allocator_stats();
  for (int i = 0; i < 10; ++i) Tensor t = Tensor::empty(Shape{12345}, Device::CUDA);
  const CudaAllocatorStats after = cuda_allocator_stats();
  CHECK(after.cuda_mallocs == before.cuda_mallocs);
  CHECK(after.cache_hits >= before.cache_hits + 10);
}
