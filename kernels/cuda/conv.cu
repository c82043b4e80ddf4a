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
// Each direction has its own convolution descriptor, set to the math type of the algorithm chosen for it
// (cuDNN's perf.mathType: what the algorithm runs with), so `math` says what each product ran in.
struct Plan {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t fwd_conv = nullptr, bwd_data_conv = nullptr, bwd_filter_conv = nullptr;
  cudnnConvolutionFwdAlgo_t fwd{};
  cudnnConvolutionBwdDataAlgo_t bwd_data{};
  cudnnConvolutionBwdFilterAlgo_t bwd_filter{};
  size_t fwd_ws = 0, bwd_data_ws = 0, bwd_filter_ws = 0;
  ConvPlanMath math;
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

bool tensor_op(cudnnMathType_t m) { return m == CUDNN_TENSOR_OP_MATH || m == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION; }

// The heuristics' algorithm for one direction, in this order of preference: deterministic (the same bits
// every run, so a step replayed as a CUDA graph equals the eager step and a resumed run its original)
// and, when TF32 is asked (`tf32`), of tensor-op math — CUDNN_TENSOR_OP_MATH allows TF32 and cuDNN may
// list plain-FMA algorithms first, or only those for a small shape — then deterministic, then tensor-op,
// then the first working. With `tf32` only algorithms that multiply the operands themselves.
template <class Perf>
const Perf& choose(const Perf* perf, int n, bool tf32, const char* what) {
  auto usable = [&](const Perf& p) { return p.status == CUDNN_STATUS_SUCCESS && !(tf32 && transforms(p.algo)); };
  auto deterministic = [](const Perf& p) { return p.determinism == CUDNN_DETERMINISTIC; };
  auto on_tensor_cores = [&](const Perf& p) { return tf32 && tensor_op(p.mathType); };
  for (auto want : {+[](bool d, bool t) { return d && t; }, +[](bool d, bool) { return d; },
                    +[](bool, bool t) { return t; }, +[](bool, bool) { return true; }})
    for (int i = 0; i < n; ++i)
      if (usable(perf[i]) && want(deterministic(perf[i]), on_tensor_cores(perf[i]))) return perf[i];
  throw CudnnError(std::string("cuDNN found no working ") + what + " algorithm for this convolution shape" +
                   (tf32 ? " without FFT or Winograd (TF32)" : ""));
}

// A descriptor for one direction, in the math its chosen algorithm runs with: float32 stays CUDNN_FMA_MATH
// (plain float32, whatever the list says), TF32 takes the algorithm's tensor-op math or FMA, bfloat16 the
// algorithm's own. Returns whether the products run on the tensor cores.
template <class Perf>
bool set_direction(cudnnConvolutionDescriptor_t* d, const ConvShape& cs, const Perf& chosen, cudnnDataType_t t) {
  RENORM_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(d));
  RENORM_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(*d, int(cs.pad_h), int(cs.pad_w), int(cs.stride_h), int(cs.stride_w),
                                                     1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  const bool tf32 = t == CUDNN_DATA_FLOAT && cs.math == MatMath::Tf32;
  const cudnnMathType_t m = t != CUDNN_DATA_FLOAT ? chosen.mathType
                            : tf32 && tensor_op(chosen.mathType) ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH;
  RENORM_CUDNN_CHECK(cudnnSetConvolutionMathType(*d, m));
  return tensor_op(m);
}

// The algorithms are asked of a descriptor in the math the caller wants (FMA for float32, tensor-op for
// TF32 and bfloat16); each direction then gets its own descriptor in its chosen algorithm's math.
Plan make_plan(const ConvShape& cs, cudnnDataType_t t) {
  Plan p;
  const cudnnHandle_t h = ::renorm::cuda::cudnn();
  RENORM_CUDNN_CHECK(cudnnCreateTensorDescriptor(&p.x));
  RENORM_CUDNN_CHECK(cudnnCreateTensorDescriptor(&p.y));
  RENORM_CUDNN_CHECK(cudnnCreateFilterDescriptor(&p.w));
  RENORM_CUDNN_CHECK(cudnnSetTensor4dDescriptor(p.x, CUDNN_TENSOR_NHWC, t, int(cs.b), int(cs.c), int(cs.h), int(cs.w)));
  RENORM_CUDNN_CHECK(cudnnSetFilter4dDescriptor(p.w, t, CUDNN_TENSOR_NHWC, int(cs.k), int(cs.c), int(cs.r), int(cs.s)));
  RENORM_CUDNN_CHECK(cudnnSetTensor4dDescriptor(p.y, CUDNN_TENSOR_NHWC, t, int(cs.b), int(cs.k), int(cs.oh()), int(cs.ow())));
  const bool tf32 = t == CUDNN_DATA_FLOAT && cs.math == MatMath::Tf32, plain = t == CUDNN_DATA_FLOAT && !tf32;
  cudnnConvolutionDescriptor_t ask = nullptr;
  RENORM_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&ask));
  RENORM_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(ask, int(cs.pad_h), int(cs.pad_w), int(cs.stride_h), int(cs.stride_w),
                                                     1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  RENORM_CUDNN_CHECK(cudnnSetConvolutionMathType(ask, plain ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH));
  constexpr int kMax = 16;
  int n = 0;
  cudnnConvolutionFwdAlgoPerf_t fwd[kMax];
  RENORM_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(h, p.x, p.w, ask, p.y, kMax, &n, fwd));
  const auto& f = choose(fwd, n, tf32, "forward");
  cudnnConvolutionBwdDataAlgoPerf_t bd[kMax];
  RENORM_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(h, p.w, p.y, ask, p.x, kMax, &n, bd));
  const auto& d = choose(bd, n, tf32, "backward-data");
  cudnnConvolutionBwdFilterAlgoPerf_t bf[kMax];
  RENORM_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, p.x, p.y, ask, p.w, kMax, &n, bf));
  const auto& g = choose(bf, n, tf32, "backward-filter");
  RENORM_CUDNN_CHECK(cudnnDestroyConvolutionDescriptor(ask));
  p.fwd = f.algo, p.bwd_data = d.algo, p.bwd_filter = g.algo;
  p.math = ConvPlanMath{{set_direction(&p.fwd_conv, cs, f, t), set_direction(&p.bwd_data_conv, cs, d, t),
                         set_direction(&p.bwd_filter_conv, cs, g, t)},
                        {int(f.algo), int(d.algo), int(g.algo)}};
  RENORM_CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(h, p.x, p.w, p.fwd_conv, p.y, p.fwd, &p.fwd_ws));
  RENORM_CUDNN_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(h, p.w, p.y, p.bwd_data_conv, p.x, p.bwd_data, &p.bwd_data_ws));
  RENORM_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(h, p.x, p.y, p.bwd_filter_conv, p.w, p.bwd_filter, &p.bwd_filter_ws));
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
  RENORM_CUDNN_CHECK(cudnnConvolutionForward(::renorm::cuda::cudnn(), &one, p.x, x, p.w, filters_as<T>(w, cs, wt), p.fwd_conv,
                                             p.fwd, ws.p, ws.bytes, &zero, p.y, y));
  if (ep.bias || ep.relu) epilogue_forward(y, cs.b * cs.oh() * cs.ow(), cs.k, ep);  // kernels/cuda/nn.cu
}

template <class T>
void conv2d_backward_data(const T* dy, const float* w, T* dx, const ConvShape& cs) {
  const Plan& p = plan_for<T>(cs);
  Scratch ws(p.bwd_data_ws), wt(copy_bytes_for<T>(cs));
  const float one = 1.f, zero = 0.f;
  RENORM_CUDNN_CHECK(cudnnConvolutionBackwardData(::renorm::cuda::cudnn(), &one, p.w, filters_as<T>(w, cs, wt), p.y, dy, p.bwd_data_conv,
                                                  p.bwd_data, ws.p, ws.bytes, &zero, p.x, dx));
}

template <class T>
void conv2d_backward_filter(const T* x, const T* dy, float* dw, const ConvShape& cs) {
  const Plan& p = plan_for<T>(cs);
  Scratch ws(p.bwd_filter_ws), dwt(copy_bytes_for<T>(cs));
  const float one = 1.f, zero = 0.f;
  void* out = std::is_same_v<T, float> ? static_cast<void*>(dw) : dwt.p;
  RENORM_CUDNN_CHECK(cudnnConvolutionBackwardFilter(::renorm::cuda::cudnn(), &one, p.x, x, p.y, dy, p.bwd_filter_conv, p.bwd_filter,
                                                    ws.p, ws.bytes, &zero, p.w, out));
  if constexpr (!std::is_same_v<T, float>) to_f32(dwt.as<bf16_bits>(), dw, filter_size(cs));
}

RENORM_INSTANTIATE_STORAGES(RENORM_DECLARE_CONV_T)

void conv2d_plan_math(const ConvShape& cs, ConvPlanMath* out) { *out = plan_for<float>(cs).math; }

}  // namespace renorm::kernels::cuda
