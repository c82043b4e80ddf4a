// CPU convolution through oneDNN (Debian's libdnnl, its OpenMP runtime: the same threads as the rest of
// renorm). oneDNN JIT-compiles its kernels for the CPU it runs on (AVX2, AVX-512, ...), which is how
// the fast path is chosen at run time. Activations stay NHWC and filters KRSC ("ohwi") in memory; each
// primitive may ask for its filters in a blocked layout (and, for bfloat16 activations, type), into
// which the float32 master filters are reordered per call (K·R·S·C values: small next to the
// activations). Primitives are built once per shape, activations' type and bias or not, and cached;
// their scratchpads (user mode: threads may run one primitive at once) and reordered filters come from
// the caching host allocator (no fresh memory in a warm step). The forward's bias runs inside
// oneDNN's kernel; its ReLU does not: oneDNN's ReLU (and clip) post-ops are a vmaxps that turns NaN into
// 0, and renorm's ReLU keeps NaN (kernels/elementwise.h), so the ReLU is our own in-place pass over the
// output right after the convolution: one read and write of it, the price of keeping NaN.
#include "kernels/cpu/detail/conv_engines.h"
#include "kernels/cpu/detail/host_buffer.h"
#include "kernels/nn.h"

#if RENORM_HAS_ONEDNN
#include <oneapi/dnnl/dnnl.hpp>

#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <type_traits>
#include <unordered_map>

#include "runtime/cpu_isa.h"
#include "runtime/error.h"

namespace renorm::kernels::cpu::onednn {

namespace {
using dnnl::memory;
using Tag = memory::format_tag;
constexpr auto kF32 = memory::data_type::f32;

// The CPU engine, oneDNN's ISA capped at renorm's (runtime/cpu_isa.h) when that was lowered: set once,
// before oneDNN's first kernel; a later set_cpu_isa leaves the convolutions where they were.
const dnnl::engine& cpu_engine() {
  static const dnnl::engine e = [] {
    if (cpu_isa() != cpu_isa_supported())
      dnnl::set_max_cpu_isa(cpu_isa() == CpuIsa::Avx2 ? dnnl::cpu_isa::avx2 : dnnl::cpu_isa::sse41);
    return dnnl::engine(dnnl::engine::kind::cpu, 0);
  }();
  return e;
}

// oneDNN's element type for renorm's storage T; the filters the user passes are float32 (kernels/conv.h).
template <class T>
constexpr memory::data_type kType = std::is_same_v<T, float> ? memory::data_type::f32 : memory::data_type::bf16;

// What a plan is built for besides the shape: the activations' type and, forward, the bias.
struct Variant {
  memory::data_type type = kF32;
  bool bias = false;
};

memory::desc activations(int64_t b, int64_t c, int64_t h, int64_t w, memory::data_type t) {
  return memory::desc({b, c, h, w}, t, Tag::nhwc);
}
memory::desc src_desc(const ConvShape& cs, memory::data_type t) { return activations(cs.b, cs.c, cs.h, cs.w, t); }
memory::desc dst_desc(const ConvShape& cs, memory::data_type t) { return activations(cs.b, cs.k, cs.oh(), cs.ow(), t); }
memory::desc user_filters(const ConvShape& cs) { return memory::desc({cs.k, cs.c, cs.r, cs.s}, kF32, Tag::ohwi); }
memory::desc any_filters(const ConvShape& cs, memory::data_type t) {
  return memory::desc({cs.k, cs.c, cs.r, cs.s}, t, Tag::any);
}

struct Geometry {
  memory::dims strides, pad_l, pad_r;
};
Geometry geometry(const ConvShape& cs) {
  // The right padding that makes oneDNN's output size equal ConvShape's (floor division leaves the end of
  // the input unread when the stride does not divide it evenly).
  return {{cs.stride_h, cs.stride_w},
          {cs.pad_h, cs.pad_w},
          {(cs.oh() - 1) * cs.stride_h + cs.r - cs.h - cs.pad_h, (cs.ow() - 1) * cs.stride_w + cs.s - cs.w - cs.pad_w}};
}

constexpr auto kDirect = dnnl::algorithm::convolution_direct;

// The bias is float32 in either type; bfloat16 filters, products accumulated in float32 (oneDNN's rule).
dnnl::convolution_forward::desc forward_desc(const ConvShape& cs, Variant v) {
  const Geometry g = geometry(cs);
  const auto prop = dnnl::prop_kind::forward_training;
  const memory::desc x = src_desc(cs, v.type), w = any_filters(cs, v.type), y = dst_desc(cs, v.type);
  if (v.bias) return {prop, kDirect, x, w, memory::desc({cs.k}, kF32, Tag::x), y, g.strides, g.pad_l, g.pad_r};
  return {prop, kDirect, x, w, y, g.strides, g.pad_l, g.pad_r};
}

dnnl::primitive_attr attributes() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

dnnl::convolution_forward::primitive_desc make_forward(const ConvShape& cs, Variant v) {
  return {forward_desc(cs, v), attributes(), cpu_engine()};
}
dnnl::convolution_backward_data::primitive_desc make_backward_data(const ConvShape& cs, Variant v) {
  const Geometry g = geometry(cs);
  const dnnl::convolution_backward_data::desc d(kDirect, src_desc(cs, v.type), any_filters(cs, v.type), dst_desc(cs, v.type),
                                                g.strides, g.pad_l, g.pad_r);
  return {d, attributes(), cpu_engine(), make_forward(cs, {v.type, false})};
}
// The filters' gradient is float32 in either type (from bfloat16 x and dy).
dnnl::convolution_backward_weights::primitive_desc make_backward_filter(const ConvShape& cs, Variant v) {
  const Geometry g = geometry(cs);
  const dnnl::convolution_backward_weights::desc d(kDirect, src_desc(cs, v.type), any_filters(cs, kF32), dst_desc(cs, v.type),
                                                   g.strides, g.pad_l, g.pad_r);
  return {d, attributes(), cpu_engine(), make_forward(cs, {v.type, false})};
}

// One primitive, built once per shape and variant, with the reorder between the user's KRSC filters and
// the layout it wants (`to_user` for the backward-filter's output; empty when the layouts agree).
template <class Pd, class Prim>
struct Plan {
  Pd pd;
  Prim prim;
  dnnl::reorder filters;
  memory::desc blocked;
  Plan(Pd p, const memory::desc& want, const ConvShape& cs, bool to_user) : pd(std::move(p)), prim(pd), blocked(want) {
    const memory::desc user = user_filters(cs);
    if (want == user) return;
    filters = to_user ? dnnl::reorder(dnnl::reorder::primitive_desc(cpu_engine(), want, cpu_engine(), user))
                      : dnnl::reorder(dnnl::reorder::primitive_desc(cpu_engine(), user, cpu_engine(), want));
  }
};
using ForwardPlan = Plan<dnnl::convolution_forward::primitive_desc, dnnl::convolution_forward>;
using DataPlan = Plan<dnnl::convolution_backward_data::primitive_desc, dnnl::convolution_backward_data>;
using FilterPlan = Plan<dnnl::convolution_backward_weights::primitive_desc, dnnl::convolution_backward_weights>;

using Key = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int, bool>;

// The plan of (shape, variant), built on first use; never destroyed (process lifetime).
template <class P>
const P& plan(const ConvShape& cs, Variant variant, P (*make)(const ConvShape&, Variant)) {
  static std::mutex mutex;
  static auto* plans = new std::map<Key, P>();
  const Key key{cs.b, cs.h, cs.w, cs.c, cs.k, cs.r, cs.s, cs.stride_h, cs.stride_w, cs.pad_h, cs.pad_w, int(variant.type), variant.bias};
  std::lock_guard<std::mutex> lock(mutex);
  auto it = plans->find(key);
  if (it != plans->end()) return it->second;
  try {
    return plans->emplace(key, make(cs, variant)).first->second;
  } catch (const dnnl::error& e) {
    throw Error("oneDNN has no convolution for input [" + std::to_string(cs.b) + "," + std::to_string(cs.h) + "," +
                std::to_string(cs.w) + "," + std::to_string(cs.c) + "], filters [" + std::to_string(cs.k) + "," +
                std::to_string(cs.r) + "," + std::to_string(cs.s) + "," + std::to_string(cs.c) + "]: " + e.what() +
                " (RENORM_CPU_CONV=im2col avoids it)");
  }
}

ForwardPlan forward_plan(const ConvShape& cs, Variant variant) {
  auto pd = make_forward(cs, variant);
  const auto want = pd.weights_desc();
  return ForwardPlan(std::move(pd), want, cs, false);
}
DataPlan data_plan(const ConvShape& cs, Variant variant) {
  auto pd = make_backward_data(cs, variant);
  const auto want = pd.weights_desc();
  return DataPlan(std::move(pd), want, cs, false);
}
FilterPlan filter_plan(const ConvShape& cs, Variant variant) {
  auto pd = make_backward_filter(cs, variant);
  const auto want = pd.diff_weights_desc();
  return FilterPlan(std::move(pd), want, cs, true);
}

memory wrap(const memory::desc& d, const void* p) { return memory(d, cpu_engine(), const_cast<void*>(p)); }

// Runs the plan's primitive on `args` (the scratchpad added) and waits: oneDNN's CPU stream is in-order.
template <class P>
void run(const P& p, std::unordered_map<int, memory> args) {
  HostBuffer scratch(p.pd.scratchpad_desc().get_size());
  args.emplace(DNNL_ARG_SCRATCHPAD, memory(p.pd.scratchpad_desc(), cpu_engine(), scratch.p));
  dnnl::stream s(cpu_engine());
  p.prim.execute(s, args);
  s.wait();
}

// The filters in the plan's layout: the user's array itself, or its reorder into `buffer`.
template <class P>
memory filters_in(const P& p, const ConvShape& cs, const float* w, HostBuffer& buffer) {
  memory user = wrap(user_filters(cs), w);
  if (!p.filters) return user;
  memory blocked(p.blocked, cpu_engine(), buffer.p);
  dnnl::stream s(cpu_engine());
  p.filters.execute(s, user, blocked);
  s.wait();
  return blocked;
}
}  // namespace

bool available() { return true; }

std::string version() {
  const dnnl_version_t* v = dnnl_version();
  return std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
}

// oneDNN picks a reference (C++ loop) kernel where it has no JIT one for the CPU: for bfloat16 on CPUs
// without AVX-512 (or with renorm's ISA lowered below it). Asked once, of a small bf16 convolution.
bool bf16_jit() {
  static const bool jit = [] {
    try {
      const ConvShape cs{.b = 2, .h = 8, .w = 8, .c = 16, .k = 16, .r = 3, .s = 3, .stride_h = 1, .stride_w = 1, .pad_h = 1, .pad_w = 1};
      const std::string impl = make_forward(cs, {memory::data_type::bf16, false}).impl_info_str();
      return impl.rfind("ref", 0) != 0;
    } catch (const dnnl::error&) {
      return false;
    }
  }();
  return jit;
}

template <class T>
void conv2d_forward(const T* x, const float* w, T* y, const ConvShape& cs, const Epilogue& ep) {
  const ForwardPlan& p = plan(cs, {kType<T>, ep.bias != nullptr}, forward_plan);
  HostBuffer wbuf(p.filters ? p.blocked.get_size() : 0);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, wrap(p.pd.src_desc(), x)},
                                       {DNNL_ARG_WEIGHTS, filters_in(p, cs, w, wbuf)},
                                       {DNNL_ARG_DST, wrap(p.pd.dst_desc(), y)}};
  if (ep.bias) args.emplace(DNNL_ARG_BIAS, wrap(p.pd.bias_desc(), ep.bias));
  run(p, std::move(args));
  if (ep.relu) epilogue_forward(y, cs.b * cs.oh() * cs.ow(), cs.k, Epilogue{nullptr, true});
}

template <class T>
void conv2d_backward_data(const T* dy, const float* w, T* dx, const ConvShape& cs) {
  const DataPlan& p = plan(cs, {kType<T>, false}, data_plan);
  HostBuffer wbuf(p.filters ? p.blocked.get_size() : 0);
  run(p, {{DNNL_ARG_DIFF_DST, wrap(p.pd.diff_dst_desc(), dy)},
          {DNNL_ARG_WEIGHTS, filters_in(p, cs, w, wbuf)},
          {DNNL_ARG_DIFF_SRC, wrap(p.pd.diff_src_desc(), dx)}});
}

template <class T>
void conv2d_backward_filter(const T* x, const T* dy, float* dw, const ConvShape& cs) {
  const FilterPlan& p = plan(cs, {kType<T>, false}, filter_plan);
  HostBuffer wbuf(p.filters ? p.blocked.get_size() : 0);
  memory user = wrap(user_filters(cs), dw);
  memory out = p.filters ? memory(p.blocked, cpu_engine(), wbuf.p) : user;
  run(p, {{DNNL_ARG_SRC, wrap(p.pd.src_desc(), x)}, {DNNL_ARG_DIFF_DST, wrap(p.pd.diff_dst_desc(), dy)}, {DNNL_ARG_DIFF_WEIGHTS, out}});
  if (!p.filters) return;
  dnnl::stream s(cpu_engine());
  p.filters.execute(s, out, user);
  s.wait();
}

RENORM_INSTANTIATE_STORAGES(RENORM_DECLARE_CONV_T)

}  // namespace renorm::kernels::cpu::onednn

#else  // built without oneDNN: the im2col engine is the only one

#include <string>

#include "runtime/error.h"

namespace renorm::kernels::cpu::onednn {
bool available() { return false; }
bool bf16_jit() { return false; }
std::string version() { return ""; }
// Never called (conv.cpp asks available() and bf16_jit() first), but conv.cpp names them: defined so that
// a build without oneDNN links (scripts/gpu-prebuild.sh makes one).
namespace {
[[noreturn]] void unavailable(const char* what) {
  throw DeviceError(std::string(what) + ": renorm was built without oneDNN (RENORM_ONEDNN=OFF)");
}
}  // namespace
template <class T>
void conv2d_forward(const T*, const float*, T*, const ConvShape&, const Epilogue&) { unavailable("oneDNN conv2d_forward"); }
template <class T>
void conv2d_backward_data(const T*, const float*, T*, const ConvShape&) { unavailable("oneDNN conv2d_backward_data"); }
template <class T>
void conv2d_backward_filter(const T*, const T*, float*, const ConvShape&) { unavailable("oneDNN conv2d_backward_filter"); }
RENORM_INSTANTIATE_STORAGES(RENORM_DECLARE_CONV_T)
}  // namespace renorm::kernels::cpu::onednn

#endif
