// Reverse-mode autograd. Each differentiable op records a Node holding the op's inputs and an explicit
// backward function (grad_out -> one gradient per input). backward() orders the nodes topologically
// from the root, runs each backward once with the summed gradient of its output, accumulates into
// leaves' .grad, and frees the graph as it goes (a second backward through it throws).
#pragma once
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace renorm {

using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_out)>;

struct Node {
  std::string name;
  std::vector<std::shared_ptr<TensorImpl>> inputs;  // null where that input needs no gradient
  BackwardFn backward;                              // empty once the graph has been freed
};

bool grad_enabled();

// Within its scope no graph is recorded (inference, optimizer steps, finite differences).
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// Makes `out` the output of an op named `name` when grad mode is on and an input requires grad.
// `backward` must not capture `out` itself (capture out.detach() instead) so no cycle forms.
Tensor record(const char* name, Tensor out, std::initializer_list<Tensor> inputs, BackwardFn backward);

// Benchmarks only: while a sink is set, backward synchronizes the device around every node and appends
// (op name, milliseconds) in execution order. Never set in training: the syncs cost time.
struct BackwardTiming {
  std::string op;
  double ms;
};
void set_backward_timing(std::vector<BackwardTiming>* sink);

// While set (this thread), run_backward calls it with each leaf whose gradient is final for this
// backward — right after the last node that uses the leaf has run (a leaf no gradient reaches is
// reported too, its .grad untouched) — so that data-parallel training starts reducing a layer's
// gradients while the rest of backward runs (train/grad_reducer.h). Null: none.
using GradReadyHook = std::function<void(const std::shared_ptr<TensorImpl>& leaf)>;
void set_grad_ready_hook(const GradReadyHook* hook);

// Backpropagates grad_output (same shape as root) through root's graph.
void run_backward(const Tensor& root, const Tensor& grad_output);

}  // namespace renorm
