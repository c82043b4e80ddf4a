// The training step as one captured CUDA graph (issue 26), on the emulated device in CI and on a GPU
// when one is present (scripts/gpu-check.sh): captured steps equal eager steps bit for bit while every
// per-step scalar changes (learning rate, clipping bounds, dropout masks, new inputs), a capture that
// reads the device from the host fails naming the call, and the trainer's loop gives the same metrics
// and model with --cuda-graph on and off. Bitwise on a GPU too: the convolutions use deterministic
// cuDNN algorithms (kernels/cuda/conv.cu) and every renorm kernel sums in a fixed order.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "support/cnn_step.h"
#include "runtime/allocator.h"
#include "runtime/cuda_graph.h"
#include "runtime/error.h"
#include "tensor/step_scalars.h"
#include "support/reference_libraries.h"
#include "support/parity.h"
#include "support/small_run.h"
#include "support/synthetic_data.h"
#include "train/trainer.h"

using namespace renorm;

namespace {
// Every value of a's state equals b's, bit for bit (a NaN would differ from itself: none is expected).
void require_same_state(const test::CnnStep& a, const test::CnnStep& b) {
  const NamedTensors sa = a.state(), sb = b.state();
  REQUIRE(sa.size() == sb.size());
  for (size_t i = 0; i < sa.size(); ++i) {
    INFO(sa[i].first);
    CHECK(sa[i].second.to_vector() == sb[i].second.to_vector());
  }
}
}  // namespace

// [emu-once]: a capture's semantics, not a kernel's block order: one emulated configuration runs it.
TEST_CASE("graph: 10 captured CNN steps equal 10 eager steps bitwise (brn M 4, bn - lr, rmax/dmax, dropout, inputs changing)",
          "[cuda][emulator][graph][step][emu-once]") {
  RENORM_REQUIRE_CUDA_OR_SKIP();
  const test::ReferenceLibraries libs;
  for (NormKind norm : {NormKind::BatchRenorm, NormKind::BatchNorm}) {
    INFO(norm_name(norm));
    test::CnnStep eager(norm, 8, 4, 16), graphed(norm, 8, 4, 16);
    eager.set_fresh_inputs(true);
    graphed.set_fresh_inputs(true);
    const int steps = test::CnnStep::kGraphWarmup + 10;  // the warm-up steps, then 10 captured ones
    for (int k = 0; k < steps; ++k) {
      eager.run();
      graphed.run_graph();
    }
    require_same_state(eager, graphed);
    // the scalars did change: the schedule ramped rmax over these steps (the last step's bound is 2)
    CHECK(eager.net().norms().front()->rmax() == (norm == NormKind::BatchNorm ? 1.f : 2.f));
  }
}

// cuBLAS without a workspace of the caller's allocates its own, inside a capture as memory nodes of the
// graph (cuBLAS >= 12.2: cudaMallocAsync); renorm hands it one from the graph's pool, so none appear.
TEST_CASE("graph: the captured CNN step holds no memory nodes (cuBLAS works in a workspace of renorm's)",
          "[cuda][emulator][graph][step]") {
  RENORM_REQUIRE_CUDA_OR_SKIP();
  const test::ReferenceLibraries libs;
  test::CnnStep step(NormKind::BatchRenorm, 8, 4, 16);
  for (int k = 0; k <= test::CnnStep::kGraphWarmup; ++k) step.run_graph();
  REQUIRE(step.graph()->captured());
  CHECK(step.graph()->memory_nodes() == 0);
}

// CUDA refuses a host read inside a capture: the copy into pageable host memory (or, where a driver let
// that through, the synchronization after it) is cudaErrorStreamCaptureUnsupported. The test matches
// CUDA's code and the call's name as renorm's check writes them, which read the same on a GPU and on
// the emulator (whose cudaGetErrorString is CUDA's own).
TEST_CASE("graph: a captured step that reads the device from the host fails naming the call, and nothing is captured",
          "[cuda][emulator][graph]") {
  RENORM_REQUIRE_CUDA_OR_SKIP();
  const Tensor x = Tensor::full(Shape{4}, 2.f, Device::CUDA);
  CudaGraph g;
  {
    CudaPoolScope warm(g.pool());  // the pool holds the work's blocks: the capture fails at the host read itself
    (void)sum(scale(x, 3.f));
  }
  try {
    g.capture([&] { (void)sum(scale(x, 3.f)).item(); });
    FAIL("captured a host read");
  } catch (const CudaError& e) {
    const std::string what = e.what();
    CHECK_THAT(what, Catch::Contains("cudaErrorStreamCaptureUnsupported"));
    CHECK_THAT(what, Catch::Contains("in cudaMemcpyAsync(") || Catch::Contains("in cudaStreamSynchronize("));
  }
  CHECK_FALSE(g.captured());
  CHECK(scale(x, 3.f).to_vector() == std::vector<float>(4, 6.f));  // the stream works on, uncaptured
}

// The per-step values reach the device by a copy from a pinned staging slot queued before the replay; one
// queued inside a capture would replay that moment's bytes at every step, so it is refused.
TEST_CASE("graph: a per-step upload inside a capture is refused", "[cuda][emulator][graph]") {
  RENORM_REQUIRE_CUDA_OR_SKIP();
  StepScalars block(Device::CUDA);
  const int word = block.reserve(1, "test");
  block.set(word, 2.f);
  block.upload();
  CHECK(block.view(word, 1).to_vector() == std::vector<float>{2.f});
  CudaGraph g;
  CHECK_THROWS_AS(g.capture([&] { block.upload(); }), DeviceError);
  CHECK_FALSE(g.captured());
}

// A captured launch keeps its counter pointer (kernels/cuda/arrival.cuh) for every replay: eager work that
// needs more counters than exist must not move them. If the old block went back to the caching allocator,
// a tensor of its size would be handed it and every replay's atomicAdd would land in that tensor's data,
// its last-block merge firing never (or too early): a wrong sum, a corrupted tensor, no error.
TEST_CASE("graph: the arrival counters a captured graph uses never move when later work needs more of them",
          "[cuda][emulator][graph]") {
  RENORM_REQUIRE_CUDA_OR_SKIP();
  const Tensor x = Tensor::uniform(Shape{100000}, 3, -1.f, 1.f, Device::CUDA);  // several blocks: a last-block merge
  const std::vector<float> want = sum(x).to_vector();
  CudaGraph g;
  Tensor out;
  {
    CudaPoolScope warm(g.pool());
    (void)sum(x);
  }
  g.capture([&] { out = sum(x); });
  const size_t before = cuda_arrival_counter_capacity();
  REQUIRE(before > 0);
  {  // Batch Renorm over before + 1 microbatches of one example, 32 channels: before + 3 counters
    const int64_t n = int64_t(before) + 1;
    NormConfig config;
    config.microbatch = 1;
    config.schedule = ClipSchedule::constant(1.f, 0.f);
    const Tensor big = Tensor::uniform(Shape{n, 1, 1, 32}, 4, -1.f, 1.f, Device::CUDA);
    const Tensor ones = Tensor::full(Shape{32}, 1.f, Device::CUDA), zeros = Tensor::zeros(Shape{32}, Device::CUDA);
    (void)batch_renorm_train(big, ones, zeros, zeros.clone(), ones.clone(), config, RenormStep{});
  }
  REQUIRE(cuda_arrival_counter_capacity() > before);
  // Tensors of the old block's size (in the suite's exact-size allocation the requests the cache would
  // hand a released block to; with rounding, any request of its bucket) hold a value no counter can have.
  std::vector<Tensor> victims;
  for (int i = 0; i < 4; ++i) victims.push_back(Tensor::full(Shape{int64_t(before)}, 7.f, Device::CUDA));
  for (int replay = 0; replay < 3; ++replay) {
    out.fill_(-1.f);  // poisoned: a merge that never fires leaves it so
    g.replay();
    INFO("replay " << replay);
    CHECK(out.to_vector() == want);
    for (const Tensor& v : victims) CHECK(v.to_vector() == std::vector<float>(before, 7.f));
  }
}

TEST_CASE("graph pool: its blocks, and blocks freed inside its scope, never reach allocations outside it", "[cuda][graph]") {
  RENORM_REQUIRE_CUDA_OR_SKIP();
  const Shape shape{1000};  // a size no other live tensor here has
  CudaPool pool;
  const void* inside = nullptr;
  {
    CudaPoolScope scope(pool);
    inside = Tensor::empty(shape, Device::CUDA).data();  // taken from the pool, freed back to it
  }
  const Tensor outside = Tensor::empty(shape, Device::CUDA);
  CHECK(outside.data() != inside);
  {
    CudaPoolScope scope(pool);
    CHECK(Tensor::empty(shape, Device::CUDA).data() == inside);  // the pool's own block again
  }
  {
    Tensor t = Tensor::empty(shape, Device::CUDA);  // from the device cache
    const void* p = t.data();
    {
      CudaPoolScope scope(pool);
      t = Tensor();  // freed inside the scope: joins the pool
    }
    CHECK(Tensor::empty(shape, Device::CUDA).data() != p);
    CudaPoolScope scope(pool);
    const Tensor a = Tensor::empty(shape, Device::CUDA), b = Tensor::empty(shape, Device::CUDA);
    CHECK((a.data() == p || b.data() == p));
  }
}

namespace {
std::vector<std::string> metric_rows(const std::string& path) {  // metrics.csv without its wall-clock columns
  std::ifstream in(path);
  std::vector<std::string> rows;
  for (std::string line; std::getline(in, line);) {
    std::stringstream cells(line);
    std::string cell, kept;
    for (int i = 0; std::getline(cells, cell, ','); ++i)
      if (i != 11 && i != 12) kept += cell + ",";
    rows.push_back(kept);
  }
  return rows;
}
std::string bytes_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
}  // namespace

TEST_CASE("graph: the trainer's loop gives the same metrics and model with --cuda-graph on and off",
          "[cuda][emulator][graph][trainer][emu-once]") {
  RENORM_REQUIRE_CUDA_OR_SKIP();
  const test::ReferenceLibraries libs;
  // per process: CTest runs this test at several emulator settings side by side
  const std::string data = test::make_synthetic_cifar("graph-loop-" + std::to_string(getpid()), 8, 16);
  std::vector<std::vector<std::string>> metrics;
  std::vector<std::string> models;
  for (OnOff mode : {OnOff::Off, OnOff::On}) {
    const std::string out = data + "/run-" + enum_name(mode);
    TrainConfig c = test::small_run(data, out);
    c.device = "cuda";
    c.batch = 8;
    c.steps = 6;  // 2 warm-up steps, the capture, 4 replays
    c.eval_every = 3;
    c.cuda_graph = mode;
    const TrainResult r = train(c);
    CHECK(r.steps == 6);
    metrics.push_back(metric_rows(out + "/metrics.csv"));
    models.push_back(bytes_of(out + "/model.safetensors"));
  }
  REQUIRE(metrics[0].size() == 5);  // the header, a row every 2 steps and one at the validation of step 3
  CHECK(metrics[0] == metrics[1]);
  CHECK(models[0] == models[1]);
  std::filesystem::remove_all(data);
}
