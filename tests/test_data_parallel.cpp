// The pieces of data-parallel training that one process can test (docs/distributed.md): autograd's
// grad-ready hook, the gradient reducer's buckets and averaging, the per-rank settings and shards. The
// runs under mpirun are tests/mpi/dp_cli.py.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "runtime/error.h"
#include "tensor/autograd.h"
#include "tensor/ops.h"
#include "train/distributed.h"
#include "train/grad_reducer.h"

using namespace renorm;

TEST_CASE("autograd: the grad-ready hook reports each leaf once, after its last use", "[autograd][data]") {
  Tensor w1 = Tensor::from_vector({1, 2}, Shape{2}).requires_grad_();
  Tensor w2 = Tensor::from_vector({3, 4}, Shape{2}).requires_grad_();
  Tensor unused = Tensor::from_vector({5}, Shape{1}).requires_grad_();
  const Tensor x = Tensor::from_vector({1, 1}, Shape{2});
  // loss = Σ ((x·w1)·w2 + w1): w1 is used twice (first by the earliest op, last by the add).
  const Tensor loss = sum(add(mul(mul(x, w1), w2), w1));
  std::vector<std::string> seen;
  const GradReadyHook hook = [&](const std::shared_ptr<TensorImpl>& leaf) {
    const std::string name = leaf.get() == w1.impl() ? "w1" : leaf.get() == w2.impl() ? "w2" : "other";
    if (name == "w1") CHECK(w1.grad().to_vector() == std::vector<float>{4, 5});  // final: 1 + w2
    if (name == "w2") CHECK(w2.grad().to_vector() == std::vector<float>{1, 2});
    seen.push_back(name);
  };
  set_grad_ready_hook(&hook);
  loss.backward();
  set_grad_ready_hook(nullptr);
  CHECK(seen == std::vector<std::string>{"w2", "w1"});  // w2 is last used before w1's last use runs
  CHECK_FALSE(unused.grad().defined());
}

namespace {
// Two ranks holding the same values: an all-reduce doubles them. Records what it was asked, and when.
struct TwinComm : Communicator {
  std::vector<int64_t> started;  // element counts, in order
  std::vector<bool> first_grad_then;  // whether the first parameter's gradient existed at each start
  const Tensor* first = nullptr;
  std::string backend() const override { return "twin"; }
  int rank() const override { return 0; }
  int size() const override { return 2; }
  int local_rank() const override { return 0; }
  int local_size() const override { return 1; }
  void allreduce_sum(float* d, int64_t n) override {
    for (int64_t i = 0; i < n; ++i) d[i] *= 2.f;
  }
  void start_allreduce_sum(float* d, int64_t n) override {
    started.push_back(n);
    first_grad_then.push_back(first->grad().defined());
    allreduce_sum(d, n);
  }
  void finish() override {}
  void broadcast(void*, int64_t, int) override {}
  void barrier() override {}
};
}  // namespace

TEST_CASE("grad reducer: buckets start during backward, last layer first - finish averages", "[data]") {
  Tensor a = Tensor::from_vector({1, 2, 3}, Shape{3}).requires_grad_();  // the first layer
  Tensor b = Tensor::from_vector({4, 5}, Shape{2}).requires_grad_();
  Tensor c = Tensor::from_vector({6}, Shape{1}).requires_grad_();  // the last layer
  Tensor buffer = Tensor::from_vector({7, 8}, Shape{2});
  TwinComm comm;
  comm.first = &a;
  // 2 floats per bucket: {c, b} then {a}; then the buffers' bucket.
  GradReducer reducer({{"a", a}, {"b", b}, {"c", c}}, {{"m", buffer}}, comm, Device::CPU, 2 * int64_t(sizeof(float)));
  CHECK(reducer.buckets() == 3);
  CHECK(reducer.bytes_per_step() == 8 * int64_t(sizeof(float)));
  const Tensor x = Tensor::from_vector({1, 1, 1}, Shape{3});
  const Tensor loss = add(scale(sum(mul(sum(mul(x, a)).reshape(Shape{1}), c)), 1.f), sum(b));  // c·Σa + Σb
  reducer.start_buffers();
  reducer.backward(loss);
  reducer.finish();
  CHECK(comm.started == std::vector<int64_t>{2, 3, 3});  // buffers first, then {c, b}, then {a}
  CHECK(comm.first_grad_then == std::vector<bool>{false, false, true});  // {c, b} went before a's gradient
  CHECK(a.grad().to_vector() == std::vector<float>{6, 6, 6});  // (sum of 2 equal ranks) / 2
  CHECK(b.grad().to_vector() == std::vector<float>{1, 1});
  CHECK(c.grad().to_vector() == std::vector<float>{6});
  CHECK(buffer.to_vector() == std::vector<float>{7, 8});
}

TEST_CASE("data parallel: per-rank settings, the validation shard, settings compared", "[data]") {
  TrainConfig c;
  c.batch = 128;
  CHECK(settings_for_ranks(c, 1).norm_config.microbatch == 0);
  CHECK(settings_for_ranks(c, 2).norm_config.microbatch == 64);  // each rank normalizes over its share
  c.norm_config.microbatch = 16;
  CHECK(settings_for_ranks(c, 4).norm_config.microbatch == 16);
  CHECK_THROWS_WITH(settings_for_ranks(c, 3), Catch::Contains("--batch 128 is not divisible by the 3 ranks"));
  c.norm_config.microbatch = 48;
  c.batch = 96;
  CHECK_THROWS_WITH(settings_for_ranks(c, 4), Catch::Contains("--microbatch 48 does not divide each rank's 24"));
  c.sync_norm = true;  // one group across the ranks: --microbatch 0 or B, kept as 0
  CHECK_THROWS_WITH(settings_for_ranks(c, 4), Catch::Contains("--sync-norm normalizes over the whole minibatch"));
  c.norm_config.microbatch = 96;
  CHECK(settings_for_ranks(c, 4).norm_config.microbatch == 0);
  Dataset d;
  d.height = d.width = d.channels = 1;
  d.labels = {0, 1, 2, 3, 4, 5, 6};
  d.pixels = {10, 11, 12, 13, 14, 15, 16};
  Dataset s = d;
  keep_shard(s, 1, 3);  // [7/3, 14/3) = [2, 4)
  CHECK(s.labels == std::vector<uint8_t>{2, 3});
  CHECK(s.pixels == std::vector<uint8_t>{12, 13});
  TwinComm comm;  // rank 0 of 2: the broadcast leaves this rank's own text, so the settings agree
  TrainConfig mine;
  CHECK_NOTHROW(require_same_settings(mine, comm));
}

TEST_CASE("data parallel: --sync-norm's path with one rank is the plain op", "[data][renorm]") {
  Tensor x = Tensor::normal(Shape{8, 3, 3, 5}, 3, 0.5f, 2.f).requires_grad_();
  const Tensor gamma = Tensor::uniform(Shape{5}, 4, 0.5f, 1.5f).requires_grad_();
  const Tensor beta = Tensor::uniform(Shape{5}, 5, -0.5f, 0.5f).requires_grad_();
  RenormStep clip;
  clip.rmax = 1.5f;
  clip.dmax = 0.5f;
  std::vector<float> out[2], dx[2];
  const std::shared_ptr<Communicator> one = single_communicator();
  for (int synced = 0; synced < 2; ++synced) {
    Tensor rm = Tensor::full(Shape{5}, 0.3f), rs = Tensor::full(Shape{5}, 1.7f);
    x.zero_grad();
    const Tensor y = batch_renorm_train(x, gamma, beta, rm, rs, NormConfig{}, clip, nullptr, synced ? one.get() : nullptr);
    sum(mul(y, y)).backward();
    out[synced] = y.to_vector();
    dx[synced] = x.grad().to_vector();
  }
  REQUIRE(out[0].size() == out[1].size());
  for (size_t i = 0; i < out[0].size(); ++i) {
    CHECK(out[1][i] == Approx(out[0][i]).epsilon(1e-5));
    CHECK(dx[1][i] == Approx(dx[0][i]).epsilon(1e-4).margin(1e-5));
  }
  NormConfig two_groups;
  two_groups.microbatch = 4;
  Tensor rm = Tensor::zeros(Shape{5}), rs = Tensor::full(Shape{5}, 1.f);
  CHECK_THROWS_WITH(batch_renorm_train(x, gamma, beta, rm, rs, two_groups, clip, nullptr, one.get()),
                    Catch::Contains("--sync-norm: --microbatch 0"));
}
