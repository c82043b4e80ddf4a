// cuDNN convolution, NHWC tensors and KRSC filters. One plan per shape (descriptors, algorithms,
// workspace sizes), found once with cuDNN's heuristics and cached; workspaces come from the caching
// allocator. float32: math mode CUDNN_FMA_MATH, plain float32, so results match the CPU to float
// rounding; with ConvShape::math = Tf32, CUDNN_TENSOR_OP_MATH, which on float32 tensors lets cuDNN run
// TF32 on the tensor cores (and nothing lower: CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION, which issue 26
// named, also permits converting float32 operands down to float16 — docs/design.md).
// bfloat16 (kernels/conv.h): CUDNN_DATA_BFLOAT16 tensors and filters, float32 compute, tensor
// cores allowed (CUDNN_TENSOR_OP_MATH); the float32 master filters converted into a bfloat16 scratch per
// call (K·R·S·C values, one launch), and dw computed in bfloat16 by cuDNN (which wants the filters' type
// of its tensors) and widened: one rounding of a float32 sum, as in PyTorch's autocast.
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <type_traits>

#include "runtime/allocator.h"
#include "kernels/conv.h"
#include "kernels/convert.h"
#include "kernels/cuda/launch.cuh"

namespace renorm::kernels::cuda {

namespace {
struct Plan {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  cudnnConvolutionFwdAlgo_t fwd{};
  cudnnConvolutionBwdDataAlgo_t bwd_data{};
  cudnnConvolutionBwdFilterAlgo_t bwd_filter{};
  size_t fwd_ws = 0, bwd_data_ws = 0, bwd_filter_ws = 0;
};

using Key = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int, int>;

template <class T>
constexpr cudnnDataType_t kType = std::is_same_v<T, float> ? CUDNN_DATA_FLOAT : CUDNN_DATA_BFLOAT16;

// Algorithms that transform their operands (FFT, Winograd) before multiplying: in TF32 the tensor cores
// would then reduce the transformed values, whose rounding is not TF32's per-product error (the bound
// tests/support/parity.h derives), so a TF32 plan skips them.
bool transforms(cudnnConvolutionFwdAlgo_t a) {
  return a == CUDNN_CONVOLUTION_FWD_ALGO_FFT || a == CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING ||
         a == CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD || a == CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED;
}
bool transforms(cudnnConvolutionBwdDataAlgo_t a) {
  return a == CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT || a == CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING ||
         a == CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD || a == CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED;
}
bool transforms(cudnnConvolutionBwdFilterAlgo_t a) {
  return a == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT || a == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING ||
         a == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED;
}

// The heuristics' first working algorithm that is deterministic (the same bits every run, so a step
// replayed as a CUDA graph equals the eager step and a resumed run its original), else the first
// working; with `direct` (TF32) only algorithms that multiply the operands themselves.
template <class Perf>
auto first_working(const Perf* perf, int n, bool direct, const char* what) {
  auto usable = [&](const Perf& p) { return p.status == CUDNN_STATUS_SUCCESS && !(direct && transforms(p.algo)); };
  for (int i = 0; i < n; ++i)
    if (usable(perf[i]) && perf[i].determinism == CUDNN_DETERMINISTIC) return perf[i].algo;
  for (int i = 0; i < n; ++i)
    if (usable(perf[i])) return perf[i].algo;
  throw CudnnError(std::string("cuDNN found no working ") + what + " algorithm for this convolution shape" +
                   (direct ? " without FFT or Winograd (TF32)" : ""));
}

Plan make_plan(const ConvShape& cs, cudnnDataType_t t) {
  Plan p;
  const cudnnHandle_t h = ::renorm::cuda::cudnn();
  RENORM_CUDNN_CHECK(cudnnCreateTensorDescriptor(&p.x));
  RENORM_CUDNN_CHECK(cudnnCreateTensorDescriptor(&p.y));
  RENORM_CUDNN_CHECK(cudnnCreateFilterDescriptor(&p.w));
  RENORM_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&p.conv));
  RENORM_CUDNN_CHECK(cudnnSetTensor4dDescriptor(p.x, CUDNN_TENSOR_NHWC, t, int(cs.b), int(cs.c), int(cs.h), int(cs.w)));
  RENORM_CUDNN_CHECK(cudnnSetFilter4dDescriptor(p.w, t, CUDNN_TENSOR_NHWC, int(cs.k), int(cs.c), int(cs.r), int(cs.s)));
  RENORM_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(p.conv, int(cs.pad_h), int(cs.pad_w), int(cs.stride_h), int(cs.stride_w),
                                                     1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  const bool tf32 = t == CUDNN_DATA_FLOAT && cs.math == MatMath::Tf32, plain = t == CUDNN_DATA_FLOAT && !tf32;
  RENORM_CUDNN_CHECK(cudnnSetConvolutionMathType(p.conv, plain ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH));
  RENORM_CUDNN_CHECK(cudnnSetTensor4dDescriptor(p.y, CUDNN_TENSOR_NHWC, t, int(cs.b), int(cs.k), int(cs.oh()), int(cs.ow())));
  constexpr int kMax = 16;
  int n = 0;
  cudnnConvolutionFwdAlgoPerf_t fwd[kMax];
  RENORM_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(h, p.x, p.w, p.conv, p.y, kMax, &n, fwd));
  p.fwd = first_working(fwd, n, tf32, "forward");
  cudnnConvolutionBwdDataAlgoPerf_t bd[kMax];
  RENORM_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(h, p.w, p.y, p.conv, p.x, kMax, &n, bd));
  p.bwd_data = first_working(bd, n, tf32, "backward-data");
  cudnnConvolutionBwdFilterAlgoPerf_t bf[kMax];
  RENORM_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, p.x, p.y, p.conv, p.w, kMax, &n, bf));
  p.bwd_filter = first_working(bf, n, tf32, "backward-filter");
  RENORM_CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(h, p.x, p.w, p.conv, p.y, p.fwd, &p.fwd_ws));
  RENORM_CUDNN_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(h, p.w, p.y, p.conv, p.x, p.bwd_data, &p.bwd_data_ws));
  RENORM_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(h, p.x, p.y, p.conv, p.w, p.bwd_filter, &p.bwd_filter_ws));
  return p;
}

template <class T>
const Plan& plan_for(const ConvShape& cs) {
  static std::mutex mutex;
  static auto* plans = new std::map<Key, Plan>();  // never destroyed: descriptors live for the process
  const Key key{cs.b, cs.h, cs.w, cs.c, cs.k, cs.r, cs.s, cs.stride_h, cs.stride_w, cs.pad_h, cs.pad_w, int(kType<T>),
                int(cs.math)};
  std::lock_guard<std::mutex> lock(mutex);
  auto it = plans->find(key);
  if (it == plans->end()) it = plans->emplace(key, make_plan(cs, kType<T>)).first;
  return it->second;
}

int64_t filter_size(const ConvShape& cs) { return cs.k * cs.r * cs.s * cs.c; }

// The filters in the activations' type: w itself for float32, else a bfloat16 copy in `buffer`.
template <class T>
const T* filters_as(const float* w, const ConvShape& cs, Scratch& buffer) {
  if constexpr (std::is_same_v<T, float>) {
    return w;
  } else {
    to_bf16(w, buffer.as<bf16_bits>(), filter_size(cs));
    return buffer.as<bf16_bits>();
  }
}
template <class T>
size_t copy_bytes_for(const ConvShape& cs) {  // the filters' copy (none in float32)
  return std::is_same_v<T, float> ? 0 : size_t(filter_size(cs)) * sizeof(T);
}

}  // namespace

template <class T>
void conv2d_forward(const T* x, const float* w, T* y, const ConvShape& cs, const Epilogue& ep) {
  const Plan& p = plan_for<T>(cs);
  Scratch ws(p.fwd_ws), wt(copy_bytes_for<T>(cs));
  const float one = 1.f, zero = 0.f;
  RENORM_CUDNN_CHECK(cudnnConvolutionForward(::renorm::cuda::cudnn(), &one, p.x, x, p.w, filters_as<T>(w, cs, wt), p.conv,
                                             p.fwd, ws.p, ws.bytes, &zero, p.y, y));
  if (ep.bias || ep.relu) epilogue_forward(y, cs.b * cs.oh() * cs.ow(), cs.k, ep);  // kernels/cuda/nn.cu
}

template <class T>
void conv2d_backward_data(const T* dy, const float* w, T* dx, const ConvShape& cs) {
  const Plan& p = plan_for<T>(cs);
  Scratch ws(p.bwd_data_ws), wt(copy_bytes_for<T>(cs));
  const float one = 1.f, zero = 0.f;
  RENORM_CUDNN_CHECK(cudnnConvolutionBackwardData(::renorm::cuda::cudnn(), &one, p.w, filters_as<T>(w, cs, wt), p.y, dy, p.conv,
                                                  p.bwd_data, ws.p, ws.bytes, &zero, p.x, dx));
}

template <class T>
void conv2d_backward_filter(const T* x, const T* dy, float* dw, const ConvShape& cs) {
  const Plan& p = plan_for<T>(cs);
  Scratch ws(p.bwd_filter_ws), dwt(copy_bytes_for<T>(cs));
  const float one = 1.f, zero = 0.f;
  void* out = std::is_same_v<T, float> ? static_cast<void*>(dw) : dwt.p;
  RENORM_CUDNN_CHECK(cudnnConvolutionBackwardFilter(::renorm::cuda::cudnn(), &one, p.x, x, p.y, dy, p.conv, p.bwd_filter,
                                                    ws.p, ws.bytes, &zero, p.w, out));
  if constexpr (!std::is_same_v<T, float>) to_f32(dwt.as<bf16_bits>(), dw, filter_size(cs));
}

RENORM_INSTANTIATE_STORAGES(RENORM_DECLARE_CONV_T)

}  // namespace renorm::kernels::cuda
