// Stream capture and graphs under the emulator (emu/include/cuda_runtime.h). The emulator does all work
// when it is queued; a capturing stream instead appends each piece of work — a closure owning copies of
// its arguments — to the graph being built, and a graph launch runs the closures in order, so a replay is
// the captured sequence exactly. What a GPU cannot put into a graph (a synchronization, an allocation)
// fails with cudaErrorStreamCaptureUnsupported and invalidates the capture, as on a GPU: from any thread
// under cudaStreamCaptureModeGlobal, from the capturing thread alone under the thread-local and relaxed
// modes (stricter than a GPU's relaxed mode, which lets the capturing thread make such calls too).
#include <algorithm>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "emulator.h"

struct CUgraphNode_st {
  std::function<void()> work;
  cudaGraphNodeType type;
};
struct CUgraph_st {
  std::vector<CUgraphNode_st> nodes;
};
struct CUgraphExec_st {
  std::shared_ptr<const CUgraph_st> graph;
};

namespace renorm_emu {
namespace {
struct Capture {
  std::mutex mutex;
  cudaStream_t stream = nullptr;  // the capturing stream; nullptr: none
  cudaStreamCaptureMode mode = cudaStreamCaptureModeGlobal;
  std::thread::id thread;  // the thread that began the capture
  bool invalidated = false;
  std::string why;  // the call that invalidated it
  std::vector<CUgraphNode_st> nodes;
  bool replaying = false;  // a graph launch is running its nodes: they do their work
};
Capture& capture() {
  static Capture* c = new Capture();  // never destroyed
  return *c;
}
}  // namespace

cudaStream_t capturing_stream() {
  Capture& c = capture();
  std::lock_guard<std::mutex> lock(c.mutex);
  return c.replaying ? nullptr : c.stream;
}

bool any_capture() { return capturing_stream() != nullptr; }

bool captured(cudaStream_t s, std::function<void()> work, cudaGraphNodeType type) {
  Capture& c = capture();
  std::lock_guard<std::mutex> lock(c.mutex);
  if (c.replaying || !c.stream || s != c.stream) return false;
  if (!c.invalidated) c.nodes.push_back(CUgraphNode_st{std::move(work), type});
  return true;
}

cudaError_t refuse_in_capture(const char* call) {
  Capture& c = capture();
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    if (c.replaying || !c.stream) return cudaSuccess;
    if (c.mode != cudaStreamCaptureModeGlobal && std::this_thread::get_id() != c.thread) return cudaSuccess;
    if (!c.invalidated) c.why = call;
    c.invalidated = true;
  }
  return fail(cudaErrorStreamCaptureUnsupported,
              std::string(call) + " while a stream is capturing a graph (a synchronization, allocation or free "
                                  "cannot be captured; the capture is invalidated)");
}

}  // namespace renorm_emu

using renorm_emu::capture;
using renorm_emu::fail;

cudaError_t cudaStreamBeginCapture(cudaStream_t s, cudaStreamCaptureMode mode) {
  if (!s) return fail(cudaErrorStreamCaptureUnsupported, "cudaStreamBeginCapture: the legacy default stream cannot capture");
  if (!renorm_emu::valid_stream(s)) return fail(cudaErrorInvalidResourceHandle, "cudaStreamBeginCapture: unknown stream");
  auto& c = capture();
  std::lock_guard<std::mutex> lock(c.mutex);
  if (c.stream) return fail(cudaErrorInvalidValue, "cudaStreamBeginCapture: a stream is already capturing");
  c.stream = s;
  c.mode = mode;
  c.thread = std::this_thread::get_id();
  c.invalidated = false;
  c.why.clear();
  c.nodes.clear();
  return cudaSuccess;
}

cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t* graph) {
  auto& c = capture();
  std::unique_lock<std::mutex> lock(c.mutex);
  if (!s || s != c.stream) return fail(cudaErrorInvalidValue, "cudaStreamEndCapture: the stream is not capturing");
  c.stream = nullptr;
  *graph = nullptr;
  std::vector<CUgraphNode_st> nodes = std::move(c.nodes);
  c.nodes.clear();
  if (c.invalidated) {
    const std::string why = c.why;
    lock.unlock();
    return fail(cudaErrorStreamCaptureInvalidated, "cudaStreamEndCapture: the capture was invalidated by " + why);
  }
  *graph = new CUgraph_st{std::move(nodes)};
  return cudaSuccess;
}

cudaError_t cudaStreamIsCapturing(cudaStream_t s, cudaStreamCaptureStatus* status) {
  auto& c = capture();
  std::lock_guard<std::mutex> lock(c.mutex);
  *status = s && s == c.stream ? (c.invalidated ? cudaStreamCaptureStatusInvalidated : cudaStreamCaptureStatusActive)
                               : cudaStreamCaptureStatusNone;
  return cudaSuccess;
}

cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long) {
  if (!graph) return fail(cudaErrorInvalidValue, "cudaGraphInstantiate: no graph");
  *exec = new CUgraphExec_st{std::make_shared<const CUgraph_st>(*graph)};
  return cudaSuccess;
}

cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t s) {
  if (!exec) return fail(cudaErrorInvalidValue, "cudaGraphLaunch: no executable graph");
  if (!renorm_emu::valid_stream(s)) return fail(cudaErrorInvalidResourceHandle, "cudaGraphLaunch: unknown stream");
  auto& c = capture();
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    if (c.stream) return fail(cudaErrorStreamCaptureUnsupported, "cudaGraphLaunch while a stream is capturing");
    c.replaying = true;
  }
  for (const auto& node : exec->graph->nodes) node.work();
  std::lock_guard<std::mutex> lock(c.mutex);
  c.replaying = false;
  return cudaSuccess;
}

// The graph's nodes in capture order (one chain: the emulator captures one stream).
cudaError_t cudaGraphGetNodes(cudaGraph_t graph, cudaGraphNode_t* nodes, size_t* count) {
  if (!graph || !count) return fail(cudaErrorInvalidValue, "cudaGraphGetNodes: no graph or count");
  if (nodes)
    for (size_t i = 0; i < std::min(*count, graph->nodes.size()); ++i) nodes[i] = &graph->nodes[i];
  *count = graph->nodes.size();
  return cudaSuccess;
}

cudaError_t cudaGraphNodeGetType(cudaGraphNode_t node, cudaGraphNodeType* type) {
  if (!node || !type) return fail(cudaErrorInvalidValue, "cudaGraphNodeGetType: no node");
  *type = node->type;
  return cudaSuccess;
}

cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
  delete graph;
  return cudaSuccess;
}

cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
  delete exec;
  return cudaSuccess;
}
