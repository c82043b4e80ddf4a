// Stream capture and graph replay under the CUDA emulator (emu/graph.cpp; issue 26, point 2): a captured
// sequence runs nothing while it is captured and replays in order, as often as launched; renorm ops
// captured on tensors that stay allocated replay onto new inputs written in place; a synchronization,
// an allocation or a host read during capture is cudaErrorStreamCaptureUnsupported naming the call, and
// the capture ends invalidated, with no graph.
#include <catch2/catch.hpp>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "kernels/cuda/launch.cuh"
#include "runtime/allocator.h"
#include "runtime/detail/cuda_context.h"
#include "runtime/device.h"
#include "tensor/ops.h"
#include "tensor/tensor.h"

using namespace renorm;

namespace {
__global__ void __launch_bounds__(32) add_one(const float* in, float* out) { out[threadIdx.x] = in[threadIdx.x] + 1.f; }

std::vector<float> read(const float* d, size_t n) {
  std::vector<float> h(n);
  REQUIRE(cudaMemcpy(h.data(), d, n * sizeof(float), cudaMemcpyDeviceToHost) == cudaSuccess);
  return h;
}

// Ends the capture of the renorm stream and instantiates it (REQUIREs success).
cudaGraphExec_t end_and_instantiate() {
  cudaGraph_t g = nullptr;
  REQUIRE(cudaStreamEndCapture(cuda::stream(), &g) == cudaSuccess);
  cudaGraphExec_t exec = nullptr;
  REQUIRE(cudaGraphInstantiate(&exec, g, 0) == cudaSuccess);
  REQUIRE(cudaGraphDestroy(g) == cudaSuccess);  // the executable graph keeps what it needs
  return exec;
}
}  // namespace

TEST_CASE("emulator graphs: a captured sequence runs nothing until launched, then replays in order", "[cuda][emulator][graph]") {
  REQUIRE(cuda_available());
  float* d = nullptr;
  REQUIRE(cudaMalloc(reinterpret_cast<void**>(&d), 64 * sizeof(float)) == cudaSuccess);
  REQUIRE(cudaMemset(d, 0, 64 * sizeof(float)) == cudaSuccess);
  float* host = nullptr;  // page-locked: a graph cannot hold a copy from pageable memory (test below)
  REQUIRE(cudaHostAlloc(reinterpret_cast<void**>(&host), 32 * sizeof(float), cudaHostAllocDefault) == cudaSuccess);
  std::fill(host, host + 32, 5.f);
  REQUIRE(cudaStreamBeginCapture(cuda::stream(), cudaStreamCaptureModeGlobal) == cudaSuccess);
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  REQUIRE(cudaStreamIsCapturing(cuda::stream(), &status) == cudaSuccess);
  CHECK(status == cudaStreamCaptureStatusActive);
  // upper half += 1 (a launch whose arguments are gone from the stack when it replays), lower half = it,
  // then the lower half's first 8 floats set to 0 by a memset
  kernels::cuda::launch<add_one>(1, 32, 0, d + 32, d + 32);
  REQUIRE(cudaMemcpyAsync(d, d + 32, 32 * sizeof(float), cudaMemcpyDeviceToDevice, cuda::stream()) == cudaSuccess);
  REQUIRE(cudaMemsetAsync(d, 0, 8 * sizeof(float), cuda::stream()) == cudaSuccess);
  const cudaGraphExec_t exec = end_and_instantiate();
  CHECK(read(d + 32, 32) == std::vector<float>(32, 0.f));  // nothing ran at capture
  for (int replay = 1; replay <= 3; ++replay) {
    REQUIRE(cudaGraphLaunch(exec, cuda::stream()) == cudaSuccess);
    const std::vector<float> lo = read(d, 32), hi = read(d + 32, 32);
    INFO("replay " << replay);
    CHECK(hi == std::vector<float>(32, float(replay)));
    CHECK(lo[0] == 0.f);
    CHECK(lo[7] == 0.f);
    CHECK(lo[8] == float(replay));
  }
  // A host-to-device copy reads the host bytes at each replay (a static input buffer refilled per step).
  REQUIRE(cudaStreamBeginCapture(cuda::stream(), cudaStreamCaptureModeGlobal) == cudaSuccess);
  REQUIRE(cudaMemcpyAsync(d, host, 32 * sizeof(float), cudaMemcpyHostToDevice, cuda::stream()) == cudaSuccess);
  const cudaGraphExec_t upload = end_and_instantiate();
  std::fill(host, host + 32, 9.f);  // the same storage, new values
  REQUIRE(cudaGraphLaunch(upload, cuda::stream()) == cudaSuccess);
  CHECK(read(d, 32) == std::vector<float>(32, 9.f));
  CHECK(cudaGraphExecDestroy(exec) == cudaSuccess);
  CHECK(cudaGraphExecDestroy(upload) == cudaSuccess);
  cudaFreeHost(host);
  cudaFree(d);
}

TEST_CASE("emulator graphs: renorm ops captured on allocated tensors replay onto inputs written in place",
          "[cuda][emulator][graph]") {
  REQUIRE(cuda_available());
  const Shape s{4, 8, 8, 16};
  Tensor x = Tensor::uniform(s, 1, -1.f, 1.f, Device::CUDA);
  const Tensor b = Tensor::uniform(Shape{16}, 2, -0.5f, 0.5f, Device::CUDA);
  { Tensor warm = bias_relu(x, b); }  // the caching allocator now holds a block of y's size
  REQUIRE(cudaStreamBeginCapture(cuda::stream(), cudaStreamCaptureModeGlobal) == cudaSuccess);
  const Tensor y = bias_relu(x, b);  // from the cache: no cudaMalloc, so the capture holds
  const cudaGraphExec_t exec = end_and_instantiate();
  for (uint64_t seed : {7, 8}) {
    const Tensor next = Tensor::uniform(s, seed, -1.f, 1.f, Device::CUDA);
    x.copy_(next);
    REQUIRE(cudaGraphLaunch(exec, cuda::stream()) == cudaSuccess);
    INFO("input seed " << seed);
    CHECK(y.to_vector() == bias_relu(next, b).to_vector());  // the graph's output equals the eager op's
  }
  CHECK(cudaGraphExecDestroy(exec) == cudaSuccess);
}

TEST_CASE("emulator graphs: a sync, an allocation or a host read during capture is an error naming it - the capture ends invalidated",
          "[cuda][emulator][graph]") {
  REQUIRE(cuda_available());
  float* d = nullptr;
  REQUIRE(cudaMalloc(reinterpret_cast<void**>(&d), 32 * sizeof(float)) == cudaSuccess);
  float host[32];
  struct Violation {
    const char* call;
    std::function<cudaError_t()> run;
  };
  const std::vector<Violation> violations = {
      {"cudaStreamSynchronize", [] { return cudaStreamSynchronize(cuda::stream()); }},
      {"cudaDeviceSynchronize", [] { return cudaDeviceSynchronize(); }},
      {"cudaMalloc", [] { void* p = nullptr; return cudaMalloc(&p, 64); }},
      {"cudaFree", [d] { return cudaFree(d); }},
      {"cudaMemcpy", [&host, d] { return cudaMemcpy(host, d, sizeof host, cudaMemcpyDeviceToHost); }},
  };
  for (const Violation& v : violations) {
    INFO(v.call);
    REQUIRE(cudaStreamBeginCapture(cuda::stream(), cudaStreamCaptureModeGlobal) == cudaSuccess);
    kernels::cuda::launch<add_one>(1, 32, 0, d, d);
    CHECK(v.run() == cudaErrorStreamCaptureUnsupported);
    CHECK(renorm_emu::error_detail(cudaGetLastError()).find(v.call) != std::string::npos);
    cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
    REQUIRE(cudaStreamIsCapturing(cuda::stream(), &status) == cudaSuccess);
    CHECK(status == cudaStreamCaptureStatusInvalidated);
    cudaGraph_t g = reinterpret_cast<cudaGraph_t>(1);
    CHECK(cudaStreamEndCapture(cuda::stream(), &g) == cudaErrorStreamCaptureInvalidated);
    CHECK(g == nullptr);
    CHECK(renorm_emu::error_detail(cudaGetLastError()).find(v.call) != std::string::npos);
  }
  // A renorm host read (Tensor::to_vector) during capture is the same error, thrown as renorm's CudaError.
  const Tensor t = Tensor::full(Shape{8}, 1.f, Device::CUDA);
  REQUIRE(cudaStreamBeginCapture(cuda::stream(), cudaStreamCaptureModeGlobal) == cudaSuccess);
  CHECK_THROWS_WITH(t.to_vector(), Catch::Contains("capturing"));
  cudaGraph_t g = nullptr;
  CHECK(cudaStreamEndCapture(cuda::stream(), &g) == cudaErrorStreamCaptureInvalidated);
  cudaGetLastError();
  // The device works as before once the captures have ended.
  REQUIRE(cudaMemset(d, 0, 32 * sizeof(float)) == cudaSuccess);
  kernels::cuda::launch<add_one>(1, 32, 0, d, d);
  CHECK(read(d, 32) == std::vector<float>(32, 1.f));
  cudaFree(d);
}

// Copies between the device and pageable host memory: the driver stages them and may wait for the stream
// (CUDA's API synchronization notes), so the account counts them apart (tests/emu/budgets.txt: none in a
// warm step); a capture cannot hold one (it is refused as a synchronization is) while a copy from pinned
// memory is captured and reads the host bytes at each replay.
TEST_CASE("emulator graphs: copies from pageable host memory are counted apart and refused in capture", "[cuda][emulator][graph]") {
  REQUIRE(cuda_available());
  float* d = nullptr;
  REQUIRE(cudaMalloc(reinterpret_cast<void**>(&d), 32 * sizeof(float)) == cudaSuccess);
  float* pinned = nullptr;
  REQUIRE(cudaHostAlloc(reinterpret_cast<void**>(&pinned), 32 * sizeof(float), cudaHostAllocDefault) == cudaSuccess);
  std::vector<float> pageable(32, 3.f);
  renorm_emu::reset_account();
  REQUIRE(cudaMemcpyAsync(d, pinned + 8, 8 * sizeof(float), cudaMemcpyHostToDevice, cuda::stream()) == cudaSuccess);
  CHECK(renorm_emu::account().pageable_copies == 0);
  REQUIRE(cudaMemcpyAsync(d, pageable.data(), 32 * sizeof(float), cudaMemcpyHostToDevice, cuda::stream()) == cudaSuccess);
  REQUIRE(cudaMemcpyAsync(pageable.data(), d, 32 * sizeof(float), cudaMemcpyDeviceToHost, cuda::stream()) == cudaSuccess);
  REQUIRE(cudaMemcpyAsync(pinned, d, 32 * sizeof(float), cudaMemcpyDefault, cuda::stream()) == cudaSuccess);
  CHECK(renorm_emu::account().copies == 4);
  CHECK(renorm_emu::account().pageable_copies == 2);
  REQUIRE(cudaStreamBeginCapture(cuda::stream(), cudaStreamCaptureModeThreadLocal) == cudaSuccess);
  CHECK(cudaMemcpyAsync(d, pinned, 32 * sizeof(float), cudaMemcpyHostToDevice, cuda::stream()) == cudaSuccess);
  CHECK(cudaMemcpyAsync(d, pageable.data(), 32 * sizeof(float), cudaMemcpyHostToDevice, cuda::stream()) ==
        cudaErrorStreamCaptureUnsupported);
  CHECK(renorm_emu::error_detail(cudaGetLastError()).find("pageable") != std::string::npos);
  cudaGraph_t g = nullptr;
  CHECK(cudaStreamEndCapture(cuda::stream(), &g) == cudaErrorStreamCaptureInvalidated);
  cudaGetLastError();
  CHECK(cudaFreeHost(pinned) == cudaSuccess);
  cudaFree(d);
}

// The staging ring of small uploads (runtime/staging.cpp) reuses a slot only once its copy has completed:
// with every event answering "not ready", as behind a busy GPU, each reuse waits on the slot's event
// (counted as a sync), and the "not ready" answers leave no error behind for the next launch's check.
TEST_CASE("emulator: the staging ring waits for a slot whose copy is pending - 'not ready' is no error", "[cuda][emulator]") {
  REQUIRE(cuda_available());
  Tensor t = Tensor::zeros(Shape{1}, Device::CUDA);
  renorm_emu::set_events_pending(true);
  struct Off {
    ~Off() { renorm_emu::set_events_pending(false); }
  } off;
  renorm_emu::reset_account();
  for (int i = 0; i < 16; ++i) {
    const float v = float(i);
    upload_small_async(t.data(), Device::CUDA, &v, sizeof v);
  }
  const Tensor doubled = scale(t, 2.f);  // a launch, checked with cudaGetLastError
  CHECK(doubled.to_vector() == std::vector<float>{30.f});
  const renorm_emu::Account a = renorm_emu::account();
  CHECK(a.pageable_copies == 1);  // to_vector's alone
  CHECK(a.syncs >= 8 + 1);        // the 8 slots reused at least once each, and to_vector's
}
