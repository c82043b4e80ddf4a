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
#include "runtime/cuda_graph.h"
#include "runtime/error.h"
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

TEST_CASE("graph: 10 captured CNN steps equal 10 eager steps bitwise (brn M 4, bn; lr, rmax/dmax, dropout, inputs changing)",
          "[cuda][emulator][graph][step]") {
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
    CHECK_THAT(e.what(), Catch::Contains("cudaErrorStreamCaptureUnsupported") &&
                             Catch::Contains("cudaStreamSynchronize while a stream is capturing a graph"));
  }
  CHECK_FALSE(g.captured());
  CHECK(scale(x, 3.f).to_vector() == std::vector<float>(4, 6.f));  // the stream works on, uncaptured
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

TEST_CASE("graph: the trainer's loop gives the same metrics and model with --cuda-graph on and off", "[cuda][emulator][graph][trainer]") {
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
