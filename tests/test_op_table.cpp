// Every differentiable op, one table (tests/support/op_table.h): each row gradient-checked on the CPU and
// compared CPU-vs-CUDA (a real GPU in renorm_tests, the CUDA emulator in renorm_tests_emu).
#include <catch2/catch.hpp>

#include <algorithm>
#include <numeric>
#include <random>

#include "runtime/allocator.h"
#include "support/op_table.h"
#include "tensor/ops.h"

using namespace renorm;
using renorm::test::OpRow;

namespace {
using Inputs = std::vector<Tensor>;

// Distinct values 0.05 apart, so a finite-difference step never changes which element is a window's max.
Tensor distinct(size_t, const Shape& s, Device d) {
  std::vector<float> v(size_t(s.numel()));
  std::iota(v.begin(), v.end(), 0.f);
  std::shuffle(v.begin(), v.end(), std::mt19937(7));
  for (float& f : v) f *= 0.05f;
  return Tensor::from_vector(v, s, d);
}

// Inputs of a bias + ReLU row: x at least 0.25 away from zero and a bias within 0.1 of it, so that no
// finite-difference step crosses the ReLU's kink at x + bias = 0.
Tensor off_the_kink(size_t i, const Shape& s, Device d) {
  if (i == 1) return Tensor::uniform(s, 21, -0.1f, 0.1f, d);
  std::vector<float> v = Tensor::uniform(s, 20, -1.f, 1.f, Device::CPU).to_vector();
  for (float& f : v) f = f < 0.f ? f * 0.75f - 0.25f : f * 0.75f + 0.25f;
  return Tensor::from_vector(v, s, d);
}

// Inputs of a conv + ReLU row: filters in [-0.1, 0.1], so that |conv| <= R·S·C·0.1 < 3, and biases of
// +3 and -3 on alternate channels: every output is at least 0.3 from the kink, half the channels pass
// and half are cut (the mask is exercised; no finite-difference step crosses it).
Tensor both_sides_of_the_kink(size_t i, const Shape& s, Device d) {
  if (i == 0) return Tensor::uniform(s, 22, -1.f, 1.f, d);
  if (i == 1) return Tensor::uniform(s, 23, -0.1f, 0.1f, d);
  std::vector<float> v(size_t(s.numel()));
  for (size_t k = 0; k < v.size(); ++k) v[k] = k % 2 ? -3.f : 3.f;
  return Tensor::from_vector(v, s, d);
}

test::GradCheckOptions kink_at_zero() {
  test::GradCheckOptions o;
  o.kink = 0.0;
  o.kink_range = 2 * o.step;
  return o;
}

void core_rows(std::vector<OpRow>& t) {
  t.push_back({"add", {{37, 5}, {37, 5}}, [](const Inputs& x) { return add(x[0], x[1]); }});
  t.push_back({"mul", {{1000}, {1000}}, [](const Inputs& x) { return mul(x[0], x[1]); }});
  t.push_back({"scale", {{3, 7, 11}}, [](const Inputs& x) { return scale(x[0], 0.37f); }});
  t.push_back({"sum", {{100003}}, [](const Inputs& x) { return sum(x[0]); }});
  t.push_back({"sum, small", {{4, 3}}, [](const Inputs& x) { return sum(x[0]); }});
  t.push_back({"mean", {{64, 33}}, [](const Inputs& x) { return mean(x[0]); }});
  OpRow r{"relu", {{4, 8, 8, 3}}, [](const Inputs& x) { return relu(x[0]); }};
  r.grad = kink_at_zero();
  t.push_back(r);
  t.push_back({"matmul", {{67, 129}, {129, 45}}, [](const Inputs& x) { return matmul(x[0], x[1]); }, true});
  t.push_back({"matmul, small", {{3, 5}, {5, 4}}, [](const Inputs& x) { return matmul(x[0], x[1]); }, true});
  t.push_back({"linear", {{33, 2048}, {10, 2048}, {10}}, [](const Inputs& x) { return linear(x[0], x[1], x[2]); }, true});
  t.push_back({"linear, small", {{4, 5}, {3, 5}, {3}}, [](const Inputs& x) { return linear(x[0], x[1], x[2]); }, true});
}

void conv_rows(std::vector<OpRow>& t) {
  struct C {
    const char* name;
    Shape x;
    int64_t k, r, stride, pad;
  };
  for (const C& c : std::vector<C>{{"conv3x3 pad1", {4, 9, 7, 3}, 5, 3, 1, 1},
                                   {"conv3x3 stride2", {2, 11, 11, 16}, 32, 3, 2, 0},
                                   {"conv5x5 pad2", {3, 8, 8, 7}, 6, 5, 1, 2},
                                   {"conv1x1", {2, 4, 4, 32}, 64, 1, 1, 0},
                                   {"cnn conv 32x32x32->64", {8, 16, 16, 32}, 64, 3, 1, 1},
                                   {"conv3x3 pad1, small", {2, 5, 4, 3}, 2, 3, 1, 1},
                                   {"conv3x3 stride2, small", {1, 6, 6, 2}, 3, 3, 2, 0},
                                   {"conv1x1, small", {2, 3, 3, 4}, 2, 1, 1, 0}})
    t.push_back({c.name, {c.x, {c.k, c.r, c.r, c.x[3]}, {c.k}},
                 [c](const Inputs& x) { return conv2d(x[0], x[1], x[2], c.stride, c.pad); }, true});
  // The ReLU fused into the convolution (its epilogue forward, one backward pass for the mask and db).
  OpRow a{"conv3x3 pad1 + relu", {{4, 9, 7, 3}, {5, 3, 3, 3}, {5}},
           [](const Inputs& x) { return conv2d(x[0], x[1], x[2], 1, 1, true); }, true};
  OpRow b{"conv3x3 stride2 + relu, small", {{1, 6, 6, 2}, {3, 3, 3, 2}, {3}},
          [](const Inputs& x) { return conv2d(x[0], x[1], x[2], 2, 0, true); }, true};
  for (OpRow* r : {&a, &b}) {
    r->make = both_sides_of_the_kink;
    t.push_back(*r);
  }
}

void nn_rows(std::vector<OpRow>& t) {
  t.push_back({"bias add", {{6, 5, 3, 33}, {33}}, [](const Inputs& x) { return bias_add(x[0], x[1]); }});
  t.push_back({"bias add, many rows", {{3000, 7}, {7}}, [](const Inputs& x) { return bias_add(x[0], x[1]); }});
  for (const Shape& s : {Shape{6, 5, 3, 33}, Shape{3000, 7}}) {
    OpRow r{"bias relu " + s.str(), {s, {s[-1]}}, [](const Inputs& x) { return bias_relu(x[0], x[1]); }};
    r.make = off_the_kink;
    t.push_back(r);
  }
  struct Pool {
    const char* name;
    Shape x;
    int64_t k, stride;
  };
  for (const Pool& p : std::vector<Pool>{{"maxpool 2x2", {4, 8, 8, 33}, 2, 2},
                                         {"maxpool 3x3 stride 2", {2, 9, 9, 5}, 3, 2},
                                         {"maxpool 2x2, small", {2, 6, 6, 3}, 2, 2}}) {
    OpRow r{p.name, {p.x}, [p](const Inputs& x) { return max_pool2d(x[0], p.k, p.stride); }};
    r.make = distinct;
    t.push_back(r);
  }
  t.push_back({"dropout", {{4, 8, 8, 32}}, [](const Inputs& x) { return dropout(x[0], 0.3f, 11, 2, 5); }});
  t.push_back({"dropout, small", {{50}}, [](const Inputs& x) { return dropout(x[0], 0.4f, 9, 1, 3); }});
  t.push_back({"softmax xent", {{7, 10}}, [](const Inputs& x) {
                 return softmax_cross_entropy(x[0], Tensor::from_vector({3, 0, 9, 4, 4, 1, 7}, Shape{7}, x[0].device()));
               }});
}

// Batch Renorm over the parity shapes: odd C (scalar path), C % 4 == 0 (float4 path), H = W = 1, M = 1,
// M = B and the CNN's activations; bounds that clip some r and d. Each output is its own row: y (with the
// gradients of x, gamma, beta), the moving averages after the step, r, d, the clip counts, inference
// and the moments.
struct RenormCase {
  Shape x;
  int64_t m;
};

Tensor renorm_input(size_t i, const Shape& s, Device d) {
  if (i == 0) return Tensor::normal(s, 1, 0.7f, 1.9f, d);
  return i == 1 ? Tensor::uniform(s, 2, 0.5f, 1.5f, d) : Tensor::uniform(s, 3, -0.5f, 0.5f, d);
}

// Runs one training step and returns the output `what` picks from (y, running mean, running std, saved).
template <class Pick>
Tensor renorm_step(const Inputs& x, int64_t m, RenormStep step, Pick pick) {
  const int64_t c = x[0].dim(-1);
  const Device d = x[0].device();
  Tensor rm = Tensor::uniform(Shape{c}, 4, 0.f, 1.4f, d), rs = Tensor::uniform(Shape{c}, 5, 1.2f, 2.6f, d);
  NormConfig cfg;
  cfg.microbatch = m;
  RenormSaved saved;
  const Tensor y = batch_renorm_train(x[0], x[1], x[2], rm, rs, cfg, step, &saved);
  return pick(y, rm, rs, saved);
}

void renorm_rows(std::vector<OpRow>& t) {
  const std::vector<RenormCase> cases = {
      {{8, 3, 5, 37}, 4},   {{6, 1, 1, 10}, 3},    {{4, 4, 4, 5}, 1},      {{8, 2, 2, 33}, 8},
      {{12, 7}, 4},         {{32, 32, 32, 32}, 4}, {{32, 16, 16, 64}, 32}, {{32, 8, 8, 128}, 4},
      {{16, 9, 9, 3}, 16},  {{64, 8, 8, 128}, 64},
  };
  RenormStep clip;
  clip.rmax = 1.5f;
  clip.dmax = 0.5f;
  using Pick = std::function<Tensor(const Tensor&, const Tensor&, const Tensor&, const RenormSaved&)>;
  const std::vector<std::pair<std::string, Pick>> outputs = {
      {"y", [](const Tensor& y, const Tensor&, const Tensor&, const RenormSaved&) { return y; }},
      {"moving mean", [](const Tensor&, const Tensor& rm, const Tensor&, const RenormSaved&) { return rm; }},
      {"moving std", [](const Tensor&, const Tensor&, const Tensor& rs, const RenormSaved&) { return rs; }},
      {"saved mean", [](const Tensor&, const Tensor&, const Tensor&, const RenormSaved& s) { return s.mean; }},
      {"saved 1/sigma", [](const Tensor&, const Tensor&, const Tensor&, const RenormSaved& s) { return s.invstd; }},
      {"r", [](const Tensor&, const Tensor&, const Tensor&, const RenormSaved& s) { return s.r; }},
      {"d", [](const Tensor&, const Tensor&, const Tensor&, const RenormSaved& s) { return s.d; }},
      {"clip counts", [](const Tensor&, const Tensor&, const Tensor&, const RenormSaved& s) { return s.clip_counts; }},
  };
  for (const RenormCase& k : cases) {
    const std::string at = " x " + k.x.str() + " M " + std::to_string(k.m);
    const Shape c{k.x[-1]};
    for (const auto& [what, pick] : outputs) {
      OpRow r{"renorm " + what + at, {k.x, c, c}, [k, clip, pick = pick](const Inputs& x) { return renorm_step(x, k.m, clip, pick); }};
      r.make = renorm_input;
      r.gradcheck = false;  // r, d move under finite differences; the op holds them constant (test_renorm_gradcheck)
      t.push_back(r);
    }
    OpRow inf{"renorm inference" + at, {k.x, c, c}, [](const Inputs& x) {
                const int64_t ch = x[0].dim(-1);
                return batch_renorm_inference(x[0], x[1], x[2], Tensor::uniform(Shape{ch}, 4, 0.f, 1.4f, x[0].device()),
                                              Tensor::uniform(Shape{ch}, 5, 1.2f, 2.6f, x[0].device()));
              }};
    inf.make = renorm_input;
    inf.gradcheck = false;  // not differentiable by design (eval mode)
    t.push_back(inf);
    for (int which = 0; which < 2; ++which) {
      OpRow mo{std::string(which ? "moments var" : "moments mean") + at, {k.x}, [k, which](const Inputs& x) {
                 Tensor mean, var;
                 microbatch_moments(x[0].detach(), k.m, &mean, &var);
                 return which ? var : mean;
               }};
      mo.make = renorm_input;
      mo.gradcheck = false;  // statistics, not a differentiable op
      t.push_back(mo);
    }
  }
  // --sync-norm's path (moments merged across ranks, the backward's sums all-reduced) with one rank: the
  // split kernels and merge_moments on both devices (tests/mpi/dp_cli.py runs it on 2 ranks).
  OpRow synced{"renorm y, sync-norm path, one rank", {{8, 3, 5, 37}, {37}, {37}}, [clip](const Inputs& x) {
                 static const std::shared_ptr<Communicator> one = single_communicator();
                 const int64_t c = x[0].dim(-1);
                 const Device d = x[0].device();
                 Tensor rm = Tensor::uniform(Shape{c}, 4, 0.f, 1.4f, d), rs = Tensor::uniform(Shape{c}, 5, 1.2f, 2.6f, d);
                 return batch_renorm_train(x[0], x[1], x[2], rm, rs, NormConfig{}, clip, nullptr, one.get());
               }};
  synced.make = renorm_input;
  synced.gradcheck = false;
  t.push_back(synced);
  // bfloat16 storage of x, y, dy and dx (issue 25): the leaf x converted in and y out, every statistic
  // float32 — so y (and the gradients) within kParityTolBf16, and the statistics, computed from the same
  // bfloat16 inputs, within the float32 tolerance (a kernel that summed in bfloat16 fails those). The
  // CUDA apply's vector path (C % 4 == 0) and its scalar one.
  for (const RenormCase& k : std::vector<RenormCase>{{{8, 3, 5, 37}, 4}, {{16, 4, 4, 64}, 2}, {{32, 8, 8, 128}, 4}}) {
    const std::string at = " x " + k.x.str() + " M " + std::to_string(k.m) + ", bfloat16 storage";
    const Shape c{k.x[-1]};
    for (const auto& [what, pick] : outputs) {
      const bool stored = what == "y";  // the one output in x's storage
      OpRow r{"renorm " + what + at, {k.x, c, c}, [k, clip, pick = pick](const Inputs& x) {
                const Inputs h = {x[0].to(DType::BF16), x[1], x[2]};
                return renorm_step(h, k.m, clip, pick).to(DType::F32);
              }};
      r.make = renorm_input;
      r.gradcheck = false;  // bfloat16 rounding is a step function; the float32 rows check the gradients
      if (stored) r.tol = test::kParityTolBf16;
      t.push_back(r);
    }
    OpRow inf{"renorm inference" + at, {k.x, c, c}, [](const Inputs& x) {
                const int64_t ch = x[0].dim(-1);
                const Device d = x[0].device();
                return batch_renorm_inference(x[0].to(DType::BF16), x[1], x[2], Tensor::uniform(Shape{ch}, 4, 0.f, 1.4f, d),
                                              Tensor::uniform(Shape{ch}, 5, 1.2f, 2.6f, d))
                    .to(DType::F32);
              }};
    inf.make = renorm_input;
    inf.gradcheck = false;
    inf.tol = test::kParityTolBf16;
    t.push_back(inf);
  }
  // Gradient check at bounds that pin r = 1 and d = 0 (batchnorm over microbatches): exact.
  t.push_back({"renorm as batchnorm, small", {{4, 2, 2, 3}, {3}, {3}},
               [](const Inputs& x) { return renorm_step(x, 2, RenormStep{}, [](const Tensor& y, auto&...) { return y; }); }});
}

// The residual network's ops (tensor/ops/residual.h): global average pooling (ResNet-20's 8x8x64 head
// and odd sizes), the option-A shortcut (stride 2 with channels doubled, odd H and W, stride 1 with no
// padding, an odd channel gap) and the residual add with its ReLU (inputs off the kink).
void residual_rows(std::vector<OpRow>& t) {
  t.push_back({"global avg pool", {{4, 8, 8, 64}}, [](const Inputs& x) { return global_avg_pool(x[0]); }});
  t.push_back({"global avg pool, odd", {{3, 5, 7, 6}}, [](const Inputs& x) { return global_avg_pool(x[0]); }});
  t.push_back({"shortcut A 16 -> 32, stride 2", {{2, 8, 8, 16}}, [](const Inputs& x) { return shortcut_a(x[0], 2, 32); }});
  t.push_back({"shortcut A odd H W, 3 -> 8", {{3, 5, 7, 3}}, [](const Inputs& x) { return shortcut_a(x[0], 2, 8); }});
  t.push_back({"shortcut A stride 1, 5 -> 5", {{2, 4, 3, 5}}, [](const Inputs& x) { return shortcut_a(x[0], 1, 5); }});
  OpRow ar{"add relu", {{4, 6, 6, 16}, {4, 6, 6, 16}}, [](const Inputs& x) { return add_relu(x[0], x[1]); }};
  ar.make = [](size_t i, const Shape& s, Device d) {  // a + b at least 0.15 from the kink: b within 0.1 of 0
    return i == 0 ? off_the_kink(0, s, d) : Tensor::uniform(s, 24, -0.1f, 0.1f, d);
  };
  t.push_back(ar);
}

// The ops that take bfloat16 storage besides the norm (issue 25): relu, add, the residual ops; inputs
// converted in and the output out, so that parity covers the bfloat16 kernels both ways.
void bf16_rows(std::vector<OpRow>& t) {
  auto h = [](const Tensor& v) { return v.to(DType::BF16); };
  const std::vector<std::pair<std::string, std::function<Tensor(const Inputs&)>>> ops = {
      {"relu", [h](const Inputs& x) { return relu(h(x[0])); }},
      {"add", [h](const Inputs& x) { return add(h(x[0]), h(x[1])); }},
      {"add relu", [h](const Inputs& x) { return add_relu(h(x[0]), h(x[1])); }},
      {"global avg pool", [h](const Inputs& x) { return global_avg_pool(h(x[0])); }},
      {"shortcut A 16 -> 32, stride 2", [h](const Inputs& x) { return shortcut_a(h(x[0]), 2, 32); }},
      {"max pool 2x2 stride 2", [h](const Inputs& x) { return max_pool2d(h(x[0]), 2, 2); }},
      {"max pool 3x3 stride 2 (overlapping)", [h](const Inputs& x) { return max_pool2d(h(x[0]), 3, 2); }},
      {"dropout", [h](const Inputs& x) { return dropout(h(x[0]), 0.3f, 11, 2, 5); }},
  };
  // The epilogue: activations in bfloat16, the bias and its gradient float32; many rows, so that the
  // CUDA bias gradient's chunked column reduction runs.
  for (bool with_relu : {false, true}) {
    OpRow r{std::string(with_relu ? "bias relu" : "bias add") + ", bfloat16 storage", {{600, 33}, {33}},
            [with_relu](const Inputs& x) {
              const Tensor y = with_relu ? bias_relu(x[0].to(DType::BF16), x[1]) : bias_add(x[0].to(DType::BF16), x[1]);
              return y.to(DType::F32);
            }};
    r.make = [](size_t i, const Shape& s, Device d) { return i == 0 ? off_the_kink(0, s, d) : Tensor::uniform(s, 24, -0.1f, 0.1f, d); };
    r.gradcheck = false;  // bfloat16 rounding is a step function; the float32 rows check the gradients
    r.tol = test::kParityTolBf16;
    t.push_back(r);
  }
  // Convolution (bias + ReLU epilogue) and linear on bfloat16 activations, float32 weights: cuDNN's
  // CUDNN_DATA_BFLOAT16 and cuBLAS on CUDA (vendor rows: a real GPU); their CPU values are checked
  // against double in tests/test_conv_bf16.cpp.
  struct Conv {
    const char* name;
    Shape x;
    int64_t k, r, stride, pad;
  };
  for (const Conv& c : std::vector<Conv>{{"conv3x3 pad1", {4, 9, 7, 16}, 8, 3, 1, 1}, {"conv3x3 stride2", {2, 11, 11, 16}, 32, 3, 2, 1},
                                         {"conv1x1", {2, 4, 4, 32}, 64, 1, 1, 0}}) {
    OpRow r{std::string(c.name) + " + bias + relu, bfloat16 storage", {c.x, {c.k, c.r, c.r, c.x[3]}, {c.k}},
            [c](const Inputs& x) { return conv2d(x[0].to(DType::BF16), x[1], x[2], c.stride, c.pad, true).to(DType::F32); }, true};
    r.make = both_sides_of_the_kink;
    r.gradcheck = false;  // bfloat16 rounding is a step function; the float32 rows check the gradients
    r.tol = test::kParityTolBf16;
    t.push_back(r);
  }
  OpRow lin{"linear, bfloat16 storage", {{33, 2048}, {10, 2048}, {10}},
            [](const Inputs& x) { return linear(x[0].to(DType::BF16), x[1], x[2]).to(DType::F32); }, true};
  lin.gradcheck = false;
  lin.tol = test::kParityTolBf16;
  t.push_back(lin);
  for (const auto& [name, run] : ops) {
    OpRow r{name + ", bfloat16 storage", {{4, 8, 8, 16}, {4, 8, 8, 16}}, [run = run](const Inputs& x) { return run(x).to(DType::F32); }};
    r.make = [](size_t i, const Shape& s, Device d) { return i == 0 ? off_the_kink(0, s, d) : Tensor::uniform(s, 24, -0.1f, 0.1f, d); };
    r.gradcheck = false;  // bfloat16 rounding is a step function; the float32 rows check the gradients
    r.tol = test::kParityTolBf16;
    t.push_back(r);
  }
}

// Conversion to bfloat16 and back (tensor/ops/convert.h): an odd count (the CUDA kernel's lone last
// element) and a larger one. No gradient check: rounding is a step function, so finite differences see
// 0 or a jump; the gradient rule (converted back) is tests/test_bf16.cpp's.
void convert_rows(std::vector<OpRow>& t) {
  for (const Shape& s : {Shape{3, 5, 7}, Shape{4, 8, 8, 33}}) {
    OpRow r{"to bfloat16 and back " + s.str(), {s}, [](const Inputs& x) { return x[0].to(DType::BF16).to(DType::F32); }};
    r.gradcheck = false;
    t.push_back(r);
  }
}

const std::vector<OpRow>& table() {
  static const std::vector<OpRow> rows = [] {
    std::vector<OpRow> t;
    core_rows(t);
    conv_rows(t);
    nn_rows(t);
    renorm_rows(t);
    residual_rows(t);
    convert_rows(t);
    bf16_rows(t);
    return t;
  }();
  return rows;
}
}  // namespace

TEST_CASE("ops: every row's gradients against finite differences (CPU)", "[ops][gradcheck]") {
  for (const OpRow& r : table())
    DYNAMIC_SECTION(r.name) { test::gradcheck_row(r); }
}

TEST_CASE("parity: every op row, CPU vs CUDA", "[parity][cuda][ops]") {
  RENORM_REQUIRE_CUDA_OR_SKIP();
  for (const OpRow& r : table())
    if (!r.vendor) DYNAMIC_SECTION(r.name) { test::parity_row(r); }
}

TEST_CASE("parity: the op rows that call cuBLAS or cuDNN, CPU vs CUDA", "[parity][cuda][ops][vendor]") {
  RENORM_REQUIRE_VENDOR_CUDA_OR_SKIP();
  for (const OpRow& r : table())
    if (r.vendor) DYNAMIC_SECTION(r.name) { test::parity_row(r); }
}

TEST_CASE("cuda: a renorm training step allocates no new device memory once warm", "[cuda][renorm]") {
  RENORM_REQUIRE_CUDA_OR_SKIP();
  const OpRow& r = *std::find_if(table().begin(), table().end(), [](const OpRow& row) { return row.name == "renorm y x [32,16,16,64] M 32"; });
  test::run_row(r, Device::CUDA);  // warm-up fills the cache
  const size_t mallocs = cuda_allocator_stats().cuda_mallocs;
  for (int i = 0; i < 3; ++i) test::run_row(r, Device::CUDA);
  CHECK(cuda_allocator_stats().cuda_mallocs == mallocs);
}
