// The reference cuBLAS and cuDNN of the CUDA emulator (emu/include/cublas_v2.h, cudnn.h): plain host
// loops, on only after renorm_emu::set_reference_libraries(true), so that a whole training step runs
// on the emulated device for its account (launches, library calls, syncs, allocations). They are not a
// second implementation to compare against: parity tests of these calls still need a real GPU. Each
// call counts as one library call, its bytes analytically: every input read once, the output written
// once (and read when beta != 0), the distinct sectors those tensors span. The math modes are honoured:
// where cuDNN or cuBLAS would be allowed TF32 on float32 operands (a convolution descriptor's math other
// than CUDNN_FMA_MATH, cuBLAS's CUBLAS_TF32_TENSOR_OP_MATH) the reference reads each operand reduced to
// TF32 by truncation — the first 10 mantissa bits, as PyTorch documents the tensor cores read them — so a
// test on the emulated device sees which math renorm asked for (tests/test_tf32.cpp); what the tensor
// cores compute is still a real GPU's to show. Allowed is not forced: the reference cuDNN declines TF32
// for a convolution whose sum is shorter than reference_tf32_floor() products (computes plain float32,
// and its algorithm queries say so in mathType: emu/include/cudnn.h), as a GPU's cuDNN may for small
// shapes. cuBLAS's workspace: without one set by cublasSetWorkspace, a call allocates its own — once,
// outside a capture; within a capture, a memory node in the graph each call (as cuBLAS >= 12.2 does
// with cudaMallocAsync) — counted as allocations in the account.
#include <atomic>
#include <cstring>
#include <unordered_set>
#include <vector>

#include "cublas_v2.h"
#include "cudnn.h"
#include "emulator.h"

namespace renorm_emu {
namespace {
std::atomic<bool> g_reference{false};
std::atomic<int64_t> g_tf32_floor{128};
std::atomic<cublasMath_t> g_cublas_math{CUBLAS_DEFAULT_MATH};
std::atomic<void*> g_cublas_workspace{nullptr};  // the handle's user workspace (cublasSetWorkspace)
std::atomic<bool> g_cublas_default_workspace{false};  // the library's own, made at the first call without one

// An operand as a TF32 tensor op reads it: the low 13 mantissa bits dropped (infinities and NaN kept).
float tf32_read(float v) {
  uint32_t u;
  std::memcpy(&u, &v, sizeof u);
  if ((u & 0x7f800000u) != 0x7f800000u) u &= 0xffffe000u;
  std::memcpy(&v, &u, sizeof u);
  return v;
}
// Operand i of a reference call: as stored, or as a TF32 tensor op reads it.
struct Operand {
  const float* p;
  bool tf32;
  double operator[](size_t i) const { return tf32 ? tf32_read(p[i]) : p[i]; }
};
// TF32 where the descriptor allows it and the sum (sum_length products) is long enough; see above.
Operand operand(const void* p, cudnnConvolutionDescriptor_t c, int64_t sum_length) {
  return Operand{static_cast<const float*>(p), c->math != CUDNN_FMA_MATH && sum_length >= g_tf32_floor};
}

struct Span {
  const void* p;
  size_t bytes;
  bool write;
};

// The call's traffic: one read of each input, one write (and a read when accumulating) of the output.
void account_call(const char* name, const std::vector<Span>& spans) {
  count(Counted::LibraryCall);
  Traffic t;
  std::unordered_set<uintptr_t> sectors;
  for (const Span& s : spans) {
    if (!s.bytes) continue;
    (s.write ? t.bytes_written : t.bytes_read) += s.bytes;
    const uintptr_t a = reinterpret_cast<uintptr_t>(s.p);
    for (uintptr_t k = a >> 5; k <= (a + s.bytes - 1) >> 5; ++k) sectors.insert(k);
  }
  t.bytes_distinct = 32 * uint64_t(sectors.size());
  if (traffic_counted()) add_traffic(name, t, sectors);
}

// Float32 NHWC tensors and KRSC filters only (what renorm sets in float32; its bfloat16 convolutions
// answer CUDNN_STATUS_NOT_SUPPORTED here), cross-correlation, no dilation.
bool supported(cudnnTensorDescriptor_t x, cudnnFilterDescriptor_t w, cudnnConvolutionDescriptor_t c,
               cudnnTensorDescriptor_t y) {
  return x->type == CUDNN_DATA_FLOAT && y->type == CUDNN_DATA_FLOAT && w->type == CUDNN_DATA_FLOAT &&
         x->format == CUDNN_TENSOR_NHWC && y->format == CUDNN_TENSOR_NHWC && w->format == CUDNN_TENSOR_NHWC &&
         c->mode == CUDNN_CROSS_CORRELATION && c->dil_h == 1 && c->dil_w == 1 && x->n == y->n && x->c == w->c &&
         y->c == w->k;
}

// Calls f(x index, w index, y index) for every product term of the convolution.
template <class F>
void for_each_term(cudnnTensorDescriptor_t x, cudnnFilterDescriptor_t w, cudnnConvolutionDescriptor_t c,
                   cudnnTensorDescriptor_t y, F&& f) {
  for (int b = 0; b < y->n; ++b)
    for (int oy = 0; oy < y->h; ++oy)
      for (int ox = 0; ox < y->w; ++ox)
        for (int k = 0; k < w->k; ++k)
          for (int r = 0; r < w->r; ++r) {
            const int iy = oy * c->stride_h - c->pad_h + r;
            if (iy < 0 || iy >= x->h) continue;
            for (int s = 0; s < w->s; ++s) {
              const int ix = ox * c->stride_w - c->pad_w + s;
              if (ix < 0 || ix >= x->w) continue;
              const size_t xi = ((size_t(b) * x->h + iy) * x->w + ix) * x->c;
              const size_t wi = ((size_t(k) * w->r + r) * w->s + s) * w->c;
              const size_t yi = ((size_t(b) * y->h + oy) * y->w + ox) * y->c + k;
              for (int ch = 0; ch < x->c; ++ch) f(xi + ch, wi + ch, yi);
            }
          }
}

size_t elems(cudnnTensorDescriptor_t t) { return size_t(t->n) * t->c * t->h * t->w; }
size_t elems(cudnnFilterDescriptor_t f) { return size_t(f->k) * f->c * f->r * f->s; }

// out = alpha·acc + beta·out (beta == 0 overwrites, as cuDNN does, whatever out held).
void store(const std::vector<double>& acc, float alpha, float beta, float* out) {
  for (size_t i = 0; i < acc.size(); ++i) out[i] = float(alpha * acc[i] + (beta == 0.f ? 0.0 : double(beta) * out[i]));
}

// One reference convolution: out (n floats) = alpha·Σ term + beta·out, term(acc) adding every product
// into acc; then the call's account (the inputs, and the output, as spans).
template <class Terms>
cudnnStatus_t convolve(const char* name, bool ok, const void* alpha, const void* beta, void* out, size_t n, Terms&& terms,
                       std::initializer_list<Span> inputs) {
  if (!reference_libraries() || !ok) {
    count(Counted::LibraryCall);
    return CUDNN_STATUS_NOT_SUPPORTED;
  }
  const float a = *static_cast<const float*>(alpha), b = *static_cast<const float*>(beta);
  std::vector<double> acc(n, 0.0);
  terms(acc);
  store(acc, a, b, static_cast<float*>(out));
  std::vector<Span> spans(inputs);
  spans.push_back(Span{out, b != 0.f ? n * 4 : 0, false});
  spans.push_back(Span{out, n * 4, true});
  account_call(name, spans);
  return CUDNN_STATUS_SUCCESS;
}

// A reference library call queued while a stream captures (emu/graph.cpp): recorded with copies of its
// host scalars (alpha and beta point at the caller's locals) to run at each replay; false when nothing
// captures (or the reference libraries are off: the call answers NOT_SUPPORTED now, as without capture).
template <class Call>
bool captured_library_call(const void* alpha, const void* beta, Call call) {
  if (!g_reference || !any_capture()) return false;
  const float a = *static_cast<const float*>(alpha), b = *static_cast<const float*>(beta);
  return captured(capturing_stream(), [=] { call(&a, &b); });
}
}  // namespace

void set_reference_libraries(bool on) { g_reference = on; }
bool reference_libraries() { return g_reference; }
void set_reference_tf32_floor(int64_t products) { g_tf32_floor = products; }
int64_t reference_tf32_floor() { return g_tf32_floor; }
}  // namespace renorm_emu

using renorm_emu::Span;

cudnnStatus_t cudnnConvolutionForward(cudnnHandle_t h, const void* alpha, cudnnTensorDescriptor_t xd, const void* x,
                                      cudnnFilterDescriptor_t wd, const void* w, cudnnConvolutionDescriptor_t cd,
                                      cudnnConvolutionFwdAlgo_t algo, void* work, size_t work_bytes, const void* beta,
                                      cudnnTensorDescriptor_t yd, void* y) {
  using namespace renorm_emu;
  if (captured_library_call(alpha, beta, [=](const float* a, const float* b) {
        cudnnConvolutionForward(h, a, xd, x, wd, w, cd, algo, work, work_bytes, b, yd, y);
      }))
    return CUDNN_STATUS_SUCCESS;
  const int64_t length = int64_t(wd->c) * wd->r * wd->s;
  const Operand xs = operand(x, cd, length), ws = operand(w, cd, length);
  return convolve("cudnnConvolutionForward", supported(xd, wd, cd, yd), alpha, beta, y, elems(yd), [&](std::vector<double>& acc) {
    for_each_term(xd, wd, cd, yd, [&](size_t xi, size_t wi, size_t yi) { acc[yi] += xs[xi] * ws[wi]; });
  }, {Span{x, elems(xd) * 4, false}, Span{w, elems(wd) * 4, false}});
}

cudnnStatus_t cudnnConvolutionBackwardData(cudnnHandle_t h, const void* alpha, cudnnFilterDescriptor_t wd, const void* w,
                                           cudnnTensorDescriptor_t dyd, const void* dy, cudnnConvolutionDescriptor_t cd,
                                           cudnnConvolutionBwdDataAlgo_t algo, void* work, size_t work_bytes, const void* beta,
                                           cudnnTensorDescriptor_t dxd, void* dx) {
  using namespace renorm_emu;
  if (captured_library_call(alpha, beta, [=](const float* a, const float* b) {
        cudnnConvolutionBackwardData(h, a, wd, w, dyd, dy, cd, algo, work, work_bytes, b, dxd, dx);
      }))
    return CUDNN_STATUS_SUCCESS;
  const int64_t length = int64_t(wd->k) * wd->r * wd->s;
  const Operand gs = operand(dy, cd, length), ws = operand(w, cd, length);
  return convolve("cudnnConvolutionBackwardData", supported(dxd, wd, cd, dyd), alpha, beta, dx, elems(dxd), [&](std::vector<double>& acc) {
    for_each_term(dxd, wd, cd, dyd, [&](size_t xi, size_t wi, size_t yi) { acc[xi] += gs[yi] * ws[wi]; });
  }, {Span{dy, elems(dyd) * 4, false}, Span{w, elems(wd) * 4, false}});
}

cudnnStatus_t cudnnConvolutionBackwardFilter(cudnnHandle_t h, const void* alpha, cudnnTensorDescriptor_t xd, const void* x,
                                             cudnnTensorDescriptor_t dyd, const void* dy, cudnnConvolutionDescriptor_t cd,
                                             cudnnConvolutionBwdFilterAlgo_t algo, void* work, size_t work_bytes, const void* beta,
                                             cudnnFilterDescriptor_t dwd, void* dw) {
  using namespace renorm_emu;
  if (captured_library_call(alpha, beta, [=](const float* a, const float* b) {
        cudnnConvolutionBackwardFilter(h, a, xd, x, dyd, dy, cd, algo, work, work_bytes, b, dwd, dw);
      }))
    return CUDNN_STATUS_SUCCESS;
  const int64_t length = int64_t(dyd->n) * dyd->h * dyd->w;
  const Operand xs = operand(x, cd, length), gs = operand(dy, cd, length);
  return convolve("cudnnConvolutionBackwardFilter", supported(xd, dwd, cd, dyd), alpha, beta, dw, elems(dwd), [&](std::vector<double>& acc) {
    for_each_term(xd, dwd, cd, dyd, [&](size_t xi, size_t wi, size_t yi) { acc[wi] += xs[xi] * gs[yi]; });
  }, {Span{x, elems(xd) * 4, false}, Span{dy, elems(dyd) * 4, false}});
}

cublasStatus_t cublasSetMathMode(cublasHandle_t, cublasMath_t mode) {
  renorm_emu::g_cublas_math = mode;
  return CUBLAS_STATUS_SUCCESS;
}

// As cuBLAS documents: setting the stream puts the handle back on the library's own workspace.
cublasStatus_t cublasSetStream(cublasHandle_t, cudaStream_t) {
  renorm_emu::g_cublas_workspace = nullptr;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetWorkspace(cublasHandle_t, void* workspace, size_t bytes) {
  if (workspace && !renorm_emu::is_device_pointer(workspace)) return CUBLAS_STATUS_INVALID_VALUE;
  if (workspace && reinterpret_cast<uintptr_t>(workspace) % 256 != 0) return CUBLAS_STATUS_INVALID_VALUE;
  renorm_emu::g_cublas_workspace = bytes ? workspace : nullptr;
  return CUBLAS_STATUS_SUCCESS;
}

namespace renorm_emu {
namespace {
// Column-major C (m×n) = alpha·op(A)·op(B) + beta·C, op(A) m×k, op(B) k×n, with the operands reduced to
// TF32 when `tf32`.
cublasStatus_t reference_sgemm(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const float* alpha,
                               const float* a_in, int lda, const float* b_in, int ldb, const float* beta, float* c, int ldc,
                               bool tf32) {
  if (!reference_libraries()) {
    count(Counted::LibraryCall);
    return CUBLAS_STATUS_NOT_SUPPORTED;
  }
  const Operand a{a_in, tf32}, b{b_in, tf32};
  auto at = [&](int i, int p) { return ta == CUBLAS_OP_N ? a[i + size_t(p) * lda] : a[p + size_t(i) * lda]; };
  auto bt = [&](int p, int j) { return tb == CUBLAS_OP_N ? b[p + size_t(j) * ldb] : b[j + size_t(p) * ldb]; };
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < m; ++i) {
      double acc = 0.0;
      for (int p = 0; p < k; ++p) acc += at(i, p) * bt(p, j);
      float& out = c[i + size_t(j) * ldc];
      out = float(*alpha * acc + (*beta == 0.f ? 0.0 : double(*beta) * out));
    }
  // A column-major rows × cols matrix with leading dimension ld spans (cols - 1)·ld + rows floats.
  auto span = [](int rows, int cols, int ld) { return rows && cols ? (size_t(cols - 1) * ld + rows) * 4 : 0; };
  const size_t a_bytes = ta == CUBLAS_OP_N ? span(m, k, lda) : span(k, m, lda);
  const size_t b_bytes = tb == CUBLAS_OP_N ? span(k, n, ldb) : span(n, k, ldb), c_bytes = span(m, n, ldc);
  account_call("cublasSgemm", {Span{a_in, a_bytes, false}, Span{b_in, b_bytes, false},
                               Span{c, *beta != 0.f ? c_bytes : 0, false}, Span{c, c_bytes, true}});
  return CUBLAS_STATUS_SUCCESS;
}
}  // namespace
}  // namespace renorm_emu

// The math mode is the one set when the call is queued (a captured call replays with it).
cublasStatus_t cublasSgemm(cublasHandle_t, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                           const float* alpha, const float* a, int lda, const float* b, int ldb, const float* beta,
                           float* c, int ldc) {
  using namespace renorm_emu;
  const bool tf32 = g_cublas_math == CUBLAS_TF32_TENSOR_OP_MATH;
  // The library's own workspace (see the top): in a capture, allocated and freed by nodes of the graph.
  const bool own_in_capture = reference_libraries() && !g_cublas_workspace && any_capture();
  if (own_in_capture) {
    count(Counted::Allocation);
    captured(capturing_stream(), [] {}, cudaGraphNodeTypeMemAlloc);
  } else if (reference_libraries() && !g_cublas_workspace && !g_cublas_default_workspace.exchange(true)) {
    count(Counted::Allocation);
  }
  if (captured_library_call(alpha, beta, [=](const float* al, const float* be) {
        reference_sgemm(ta, tb, m, n, k, al, a, lda, b, ldb, be, c, ldc, tf32);
      })) {
    if (own_in_capture) captured(capturing_stream(), [] {}, cudaGraphNodeTypeMemFree);
    return CUBLAS_STATUS_SUCCESS;
  }
  return reference_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, tf32);
}
