#include "tensor/autograd.h"

#include <chrono>
#include <unordered_map>
#include <unordered_set>

#include "runtime/error.h"
#include "kernels/detail/dispatch.h"
#include "kernels/elementwise.h"

namespace renorm {

namespace {
thread_local bool g_grad_enabled = true;

// acc += g, writing into neither: the first gradient is g itself (no copy, no launch), a later one a new
// tensor acc + g. So a gradient that two slots share (add's backward hands both inputs the same g) never
// changes under the other, and nothing in a step zero-fills a gradient to add into it.
void accumulate(std::shared_ptr<TensorImpl>& acc, const Tensor& g) {
  if (!acc) {
    acc = g.impl_ptr();
    return;
  }
  Tensor a(acc);
  check_same_device("backward: gradient accumulation", a, g);
  Tensor sum = Tensor::empty(a.shape(), a.device(), a.dtype());  // a bfloat16 gradient stays bfloat16
  RENORM_DISPATCH_STORAGE(a.dtype(), a.device(), add, a.data_as<T>(), g.data_as<T>(), sum.data_as<T>(), a.numel());
  acc = sum.impl_ptr();
}

// Post-order of the graph above `root` (inputs before the node that uses them), without recursion.
// Owning pointers: freeing a node's inputs during backward must not destroy nodes still to run.
std::vector<std::shared_ptr<Node>> topological_order(const std::shared_ptr<Node>& root) {
  std::vector<std::shared_ptr<Node>> order;
  std::unordered_set<Node*> seen{root.get()};
  std::vector<std::pair<std::shared_ptr<Node>, size_t>> stack{{root, 0}};
  while (!stack.empty()) {
    auto& [node, next] = stack.back();
    if (next < node->inputs.size()) {
      const auto& in = node->inputs[next++];
      if (in && in->grad_fn && seen.insert(in->grad_fn.get()).second) stack.push_back({in->grad_fn, 0});
    } else {
      order.push_back(node);
      stack.pop_back();
    }
  }
  return order;
}
}  // namespace

static std::vector<BackwardTiming>* g_timing = nullptr;
static thread_local const GradReadyHook* g_ready = nullptr;

void set_grad_ready_hook(const GradReadyHook* hook) { g_ready = hook; }

namespace {
// Uses of each leaf by the nodes of `order`: its gradient is final when the count reaches zero.
std::unordered_map<TensorImpl*, int> leaf_uses(const std::vector<std::shared_ptr<Node>>& order) {
  std::unordered_map<TensorImpl*, int> uses;
  for (const auto& node : order)
    for (const auto& in : node->inputs)
      if (in && !in->grad_fn) ++uses[in.get()];
  return uses;
}

// After `node` ran (or was skipped): each leaf input whose last use it was is reported.
void report_ready_leaves(const Node& node, std::unordered_map<TensorImpl*, int>& uses) {
  for (const auto& in : node.inputs)
    if (in && !in->grad_fn && --uses[in.get()] == 0) (*g_ready)(in);
}
}  // namespace

bool grad_enabled() { return g_grad_enabled; }
void set_backward_timing(std::vector<BackwardTiming>* sink) { g_timing = sink; }
NoGradGuard::NoGradGuard() : previous_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = previous_; }

Tensor record(const char* name, Tensor out, std::initializer_list<Tensor> inputs, BackwardFn backward) {
  if (!g_grad_enabled) return out;
  bool any = false;
  for (const Tensor& t : inputs) any = any || (t.defined() && t.requires_grad());
  if (!any) return out;
  auto node = std::make_shared<Node>();
  node->name = name;
  for (const Tensor& t : inputs) node->inputs.push_back(t.defined() && t.requires_grad() ? t.impl_ptr() : nullptr);
  node->backward = std::move(backward);
  out.impl()->grad_fn = std::move(node);
  out.impl()->requires_grad = true;
  return out;
}

void run_backward(const Tensor& root, const Tensor& grad_output) {
  check_shape("backward", "grad_output", grad_output, root.shape());
  check_same_device("backward", root, grad_output);
  if (!root.requires_grad()) throw Error("backward: the tensor does not require grad (no graph to run)");
  std::shared_ptr<TensorImpl> root_impl = root.impl_ptr();
  if (!root_impl->grad_fn) {  // a leaf: its gradient is the seed itself
    accumulate(root_impl->grad, grad_output);
    if (g_ready) (*g_ready)(root_impl);
    return;
  }
  NoGradGuard no_grad;
  std::unordered_map<Node*, std::shared_ptr<TensorImpl>> pending;
  pending[root_impl->grad_fn.get()] = grad_output.impl_ptr();
  const std::vector<std::shared_ptr<Node>> order = topological_order(root_impl->grad_fn);
  std::unordered_map<TensorImpl*, int> uses;
  if (g_ready) uses = leaf_uses(order);
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    Node* node = it->get();
    auto p = pending.find(node);
    if (p == pending.end()) {  // no gradient flows into this node
      if (g_ready) report_ready_leaves(*node, uses);
      continue;
    }
    const Tensor g(p->second);
    pending.erase(p);
    if (!node->backward)
      throw Error("backward through op '" + node->name + "' whose graph was already freed by an earlier backward");
    std::chrono::steady_clock::time_point t0;
    if (g_timing) {
      synchronize(g.device());
      t0 = std::chrono::steady_clock::now();
    }
    const std::vector<Tensor> grads = node->backward(g);
    if (g_timing) {
      synchronize(g.device());
      g_timing->push_back({node->name, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count()});
    }
    if (grads.size() != node->inputs.size())
      throw Error("backward of '" + node->name + "' returned " + std::to_string(grads.size()) + " gradients for " +
                  std::to_string(node->inputs.size()) + " inputs");
    for (size_t i = 0; i < grads.size(); ++i) {
      const std::shared_ptr<TensorImpl>& in = node->inputs[i];
      if (!in || !grads[i].defined()) continue;
      if (grads[i].shape() != in->shape)
        throw ShapeError("backward of '" + node->name + "': gradient " + grads[i].shape().str() + " for input " +
                         in->shape.str());
      if (in->grad_fn) {
        auto& slot = pending[in->grad_fn.get()];
        accumulate(slot, grads[i]);
      } else {
        accumulate(in->grad, grads[i]);
      }
    }
    if (g_ready) report_ready_leaves(*node, uses);
    node->backward = nullptr;  // frees the saved tensors
    node->inputs.clear();
  }
}

}  // namespace renorm
