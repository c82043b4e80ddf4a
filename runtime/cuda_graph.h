// One sequence of work on the renorm stream captured as a CUDA graph and replayed with one launch
// (issue 26): a training step's ~80 launches and library calls issued by the host as one. The captured
// work must be capture-safe: no synchronization, no host read of device memory, no allocation outside
// the graph's pool (runtime/allocator.h; run the same work once uncaptured inside pool() first), and
// every value that changes between replays read from device memory (tensor/step_scalars.h), not passed
// as a kernel argument.
#pragma once
#include <functional>

#include "runtime/allocator.h"

namespace renorm {

struct CudaGraphState;

class CudaGraph {
 public:
  CudaGraph();  // DeviceError where CUDA is unavailable
  ~CudaGraph();
  CudaGraph(const CudaGraph&) = delete;
  CudaGraph& operator=(const CudaGraph&) = delete;

  // Runs `work` with the renorm stream capturing (thread-local mode: other threads, such as the data
  // loader's, keep using CUDA) and its allocations served by pool(): the work's kernels, copies and
  // library calls are recorded, not run. Replaces an earlier capture. A call the capture cannot hold is
  // a CudaError naming it (an allocation the pool cannot serve, a DeviceError); the capture is then
  // ended and discarded, and the error rethrown.
  void capture(const std::function<void()>& work);
  // Queues the captured work on the renorm stream (no host wait). DeviceError before a capture.
  void replay() const;
  bool captured() const;
  // The memory-allocation nodes of the last capture (cudaGraphNodeTypeMemAlloc): memory that a library
  // allocated inside the graph instead of using renorm's (cuBLAS without a workspace of ours, say). The
  // captured step should hold none (docs/design.md).
  size_t memory_nodes() const;
  // The step loop's use: the first `warmup` calls run `work` uncaptured inside pool() (plans, workspaces
  // and the pool's blocks made as the capture will want them), the next captures and replays it, every
  // later call replays it. `work` must do the same every call.
  void run(const std::function<void()>& work, int warmup);
  // The memory the captured work allocates from; run warm-up work inside a CudaPoolScope of it.
  CudaPool& pool() { return pool_; }

 private:
  CudaPool pool_;  // declared first: destroyed after the graph that uses its blocks
  CudaGraphState* state_;
  int warmed_ = 0;
};

}  // namespace renorm
