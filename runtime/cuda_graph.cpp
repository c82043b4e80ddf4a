#include "runtime/cuda_graph.h"

#include <vector>

#include "runtime/device.h"
#include "runtime/error.h"

#if RENORM_HAS_CUDA
#include "runtime/detail/cuda_context.h"
#endif

namespace renorm {

#if RENORM_HAS_CUDA
struct CudaGraphState {
  cudaGraphExec_t exec = nullptr;
  size_t memory_nodes = 0;
};

namespace {
size_t count_memory_nodes(cudaGraph_t graph) {
  size_t n = 0;
  RENORM_CUDA_CHECK(cudaGraphGetNodes(graph, nullptr, &n));
  std::vector<cudaGraphNode_t> nodes(n);
  if (n) RENORM_CUDA_CHECK(cudaGraphGetNodes(graph, nodes.data(), &n));
  size_t allocs = 0;
  for (size_t i = 0; i < n; ++i) {
    cudaGraphNodeType type;
    RENORM_CUDA_CHECK(cudaGraphNodeGetType(nodes[i], &type));
    allocs += type == cudaGraphNodeTypeMemAlloc;
  }
  return allocs;
}
}  // namespace

CudaGraph::CudaGraph() : state_(new CudaGraphState) {
  if (!cuda_available()) {
    delete state_;
    throw DeviceError("CUDA graph requested but " + cuda_unavailable_reason());
  }
}

CudaGraph::~CudaGraph() {
  if (state_->exec) cudaGraphExecDestroy(state_->exec);
  delete state_;
}

void CudaGraph::capture(const std::function<void()>& work) {
  const cudaStream_t s = cuda::stream();
  if (state_->exec) {
    RENORM_CUDA_CHECK(cudaGraphExecDestroy(state_->exec));
    state_->exec = nullptr;
  }
  cudaGraph_t graph = nullptr;
  {
    CudaPoolScope scope(pool_);
    RENORM_CUDA_CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
    try {
      work();
    } catch (...) {
      cudaStreamEndCapture(s, &graph);  // ends the (possibly invalidated) capture; its graph is discarded
      if (graph) cudaGraphDestroy(graph);
      cudaGetLastError();
      throw;
    }
    RENORM_CUDA_CHECK(cudaStreamEndCapture(s, &graph));
  }
  try {
    state_->memory_nodes = count_memory_nodes(graph);
  } catch (...) {
    cudaGraphDestroy(graph);
    throw;
  }
  const cudaError_t e = cudaGraphInstantiate(&state_->exec, graph, 0);
  cudaGraphDestroy(graph);
  RENORM_CUDA_CHECK(e);
}

void CudaGraph::replay() const {
  if (!state_->exec) throw DeviceError("CudaGraph::replay: nothing captured");
  RENORM_CUDA_CHECK(cudaGraphLaunch(state_->exec, cuda::stream()));
}

bool CudaGraph::captured() const { return state_->exec != nullptr; }
size_t CudaGraph::memory_nodes() const { return state_->memory_nodes; }

#else
struct CudaGraphState {};

CudaGraph::CudaGraph() : state_(nullptr) { throw DeviceError("CUDA graph requested but " + cuda_unavailable_reason()); }
CudaGraph::~CudaGraph() = default;
void CudaGraph::capture(const std::function<void()>&) {}
void CudaGraph::replay() const {}
bool CudaGraph::captured() const { return false; }
size_t CudaGraph::memory_nodes() const { return 0; }
#endif

void CudaGraph::run(const std::function<void()>& work, int warmup) {
  if (captured()) return replay();
  if (warmed_ < warmup) {
    CudaPoolScope in_pool(pool_);
    work();
    ++warmed_;
    return;
  }
  capture(work);
  replay();
}

}  // namespace renorm
