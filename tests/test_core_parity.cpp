// CPU-vs-CUDA checks of the core beyond the op table (tests/test_op_table.cpp): seeded random streams and
// the caching allocator.
#include <catch2/catch.hpp>

#include "runtime/allocator.h"
#include "tensor/ops.h"
#include "support/parity.h"

using namespace renorm;
using renorm::test::require_close;

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
