#include <catch2/catch.hpp>

#include "runtime/allocator.h"
#include "runtime/error.h"
#include "runtime/philox.h"
#include "tensor/tensor.h"

using namespace renorm;

TEST_CASE("shape: rank, numel, printing and limits", "[tensor]") {
  const Shape s{2, 3, 4};
  CHECK(s.rank() == 3);
  CHECK(s.numel() == 24);
  CHECK(s[-1] == 4);
  CHECK(s.str() == "[2,3,4]");
  CHECK(Shape{}.numel() == 1);
  CHECK_THROWS_AS((Shape{1, 2, 3, 4, 5, 6}), ShapeError);
  CHECK_THROWS_AS(Tensor::empty(Shape{2, -1}), ShapeError);
}

TEST_CASE("tensor: host round trip, fill, clone, to", "[tensor]") {
  Tensor t = Tensor::from_vector({1, 2, 3, 4, 5, 6}, Shape{2, 3});
  CHECK(t.to_vector() == std::vector<float>{1, 2, 3, 4, 5, 6});
  Tensor c = t.clone();
  c.fill_(7.f);
  CHECK(t.to_vector()[0] == 1.f);  // clone owns its storage
  CHECK(c.to_vector() == std::vector<float>(6, 7.f));
  CHECK(t.to(Device::CPU).data() == t.data());  // already there: same tensor
  CHECK_THROWS_AS(Tensor::from_vector({1, 2}, Shape{3}), ShapeError);
  CHECK_THROWS_AS(t.item(), ShapeError);
  CHECK(Tensor::full(Shape{}, 3.f).item() == 3.f);
}

TEST_CASE("tensor: reshape is a view sharing storage - -1 is inferred", "[tensor]") {
  Tensor t = Tensor::from_vector({1, 2, 3, 4, 5, 6}, Shape{2, 3});
  Tensor v = t.reshape(Shape{3, -1});
  CHECK(v.shape() == Shape{3, 2});
  CHECK(v.data() == t.data());
  v.fill_(0.f);
  CHECK(t.to_vector() == std::vector<float>(6, 0.f));
  CHECK_THROWS_AS(t.reshape(Shape{4, 2}), ShapeError);
  CHECK_THROWS_AS(t.reshape(Shape{-1, -1}), ShapeError);
}

TEST_CASE("tensor: seeded random is reproducible, counter-based and well distributed", "[tensor][random]") {
  const Tensor a = Tensor::uniform(Shape{1000}, 42, -1.f, 1.f);
  const Tensor b = Tensor::uniform(Shape{1000}, 42, -1.f, 1.f);
  const Tensor c = Tensor::uniform(Shape{1000}, 43, -1.f, 1.f);
  CHECK(a.to_vector() == b.to_vector());
  CHECK(a.to_vector() != c.to_vector());
  // Element i is a function of (seed, i) alone: a longer draw starts with the shorter one.
  const std::vector<float> longer = Tensor::uniform(Shape{2000}, 42, -1.f, 1.f).to_vector();
  CHECK(std::vector<float>(longer.begin(), longer.begin() + 1000) == a.to_vector());
  const std::vector<float> n = Tensor::normal(Shape{100000}, 5, 0.f, 2.f).to_vector();
  double mean = 0, var = 0;
  for (float x : n) mean += x;
  mean /= n.size();
  for (float x : n) var += (x - mean) * (x - mean);
  var /= n.size();
  CHECK(std::abs(mean) < 0.03);
  CHECK(std::abs(var - 4.0) < 0.08);
  for (float x : a.to_vector()) {
    CHECK(x >= -1.f);
    CHECK(x <= 1.f);
  }
}

TEST_CASE("philox: known-answer vector of Philox4x32-10", "[random]") {
  // Random123's kat_vectors: philox4x32_10, counter and key all zero.
  const Philox4 r = philox4x32_10(0, 0, 0, 0, 0);
  CHECK(r.v[0] == 0x6627e8d5u);
  CHECK(r.v[1] == 0xe169c58du);
  CHECK(r.v[2] == 0xbc57ac4cu);
  CHECK(r.v[3] == 0x9b00dbd8u);
}

TEST_CASE("device: CUDA requests fail loudly where CUDA is not available", "[device]") {
  if (cuda_available()) {
    CHECK(default_device() == Device::CUDA);
    return;
  }
  CHECK(default_device() == Device::CPU);
  CHECK_FALSE(cuda_unavailable_reason().empty());
  CHECK_THROWS_AS(Tensor::empty(Shape{4}, Device::CUDA), DeviceError);
  CHECK_THROWS_AS(parse_device("cuda"), DeviceError);
  CHECK(parse_device("auto") == Device::CPU);
  CHECK_THROWS_AS(parse_device("gpu", "--device"), ConfigError);
}

TEST_CASE("allocator: bucket sizes round up and never shrink a request", "[device]") {
  for (size_t b : {size_t(1), size_t(511), size_t(512), size_t(513), size_t(1) << 20, (size_t(3) << 20) + 1}) {
    const size_t s = cuda_allocation_size(b);
    CHECK(s >= b);
    CHECK(s % 512 == 0);
  }
  CHECK(cuda_allocation_size(100) == cuda_allocation_size(400));  // one bucket: reused across near sizes
}

TEST_CASE("philox: Random123's known-answer vectors for Philox4x32-10", "[random]") {
  // Random123's kat_vectors: counter, key -> output.
  struct Kat {
    uint32_t c[4];
    uint64_t key;
    uint32_t out[4];
  };
  const Kat kats[] = {
      {{0, 0, 0, 0}, 0, {0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}},
      {{~0u, ~0u, ~0u, ~0u}, ~uint64_t(0), {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}},
      {{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u},
       0x299f31d0a4093822ull,
       {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}},
  };
  for (const Kat& k : kats) {
    const Philox4 r = philox4x32_10(k.c[0], k.c[1], k.c[2], k.c[3], k.key);
    for (int i = 0; i < 4; ++i) CHECK(r.v[i] == k.out[i]);
  }
}
