// Fused optimizer steps: one grid-stride kernel over a list of parameter tensors (multi-tensor apply:
// the list is the kernel's argument, so a step over 26 tensors is one launch), reading p, g and the
// state once and writing p and the state once (SGD: 5 floats moved per element; Adam: 7).
#include "kernels/cuda/launch.cuh"
#include "kernels/optim.h"

namespace renorm::kernels::cuda {

namespace {
// Every thread strides over every tensor of the list in turn.
template <class Update>
__device__ void for_each_element(const TensorList& l, Update&& update) {
  const int64_t first = blockIdx.x * int64_t(blockDim.x) + threadIdx.x, stride = int64_t(gridDim.x) * blockDim.x;
  for (int t = 0; t < l.count; ++t)
    for (int64_t i = first; i < l.n[t]; i += stride) update(t, i);
}

__global__ void __launch_bounds__(kThreads) sgd_kernel(TensorList l, SgdParams h) {
  const StepRates s = sgd_rates(h);
  for_each_element(l, [&](int t, int64_t i) { sgd_update(l.p[t][i], l.g[t][i], l.s0[t][i], h, s); });
}
__global__ void __launch_bounds__(kThreads) adam_kernel(TensorList l, AdamParams h) {
  const StepRates s = adam_rates(h);
  for_each_element(l, [&](int t, int64_t i) { adam_update(l.p[t][i], l.g[t][i], l.s0[t][i], l.s1[t][i], h, s); });
}

int64_t largest(const TensorList& l) {
  int64_t n = 0;
  for (int t = 0; t < l.count; ++t) n = l.n[t] > n ? l.n[t] : n;
  return n;
}
}  // namespace

void sgd_step(const TensorList& l, const SgdParams& h) { launch_n<sgd_kernel>(largest(l), l, h); }

void adam_step(const TensorList& l, const AdamParams& h) { launch_n<adam_kernel>(largest(l), l, h); }

}  // namespace renorm::kernels::cuda
