// Kernel benchmarks of the renorm family: moments, training forward, backward, inference and, on CUDA,
// the cooperative single-launch forward and backward (kernels/cuda/renorm_coop.cu, where the device
// holds their grid), at the CIFAR CNN's activation shapes (B in {32,128,512}; (H,W,C) in {(32,32,32),
// (16,16,64),(8,8,128)}; M in {4,B}) and one large shape (256x56x56x256). Each result is checked against
// the CPU before it is timed (CUDA), then timed: median of --repeats, warm-up first; CUDA with events and
// the L2 flushed before every repeat. Reported: time, the least bytes the op must move (its inputs read
// and outputs written once: moments 4, forward 8, backward 12, inference 8 bytes per element), GB/s and,
// on CUDA, a device-to-device copy of those same bytes timed the same way in the same run (fixed costs
// included) with the kernel's time over the copy's; at M = B on CUDA, cuDNN's NHWC batchnorm.
// --precision bf16: x, y, dy and dx in bfloat16 (the statistics float32; issue 25), so the least bytes
// halve; the cooperative kernels and cuDNN's batchnorm (float32 only) are left out.
//   renorm-bench-kernels [--device auto|cpu|cuda] [--repeats 10] [--shapes cnn|large|all] [--json FILE]
//                        [--shape B,H,W,C] [--microbatch M]     (one shape, one M: e.g. under Nsight Compute)
//                        [--precision fp32|bf16]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <tuple>
#include <vector>

#include "benchmarks/cuda_bench.h"
#include "runtime/allocator.h"
#include "runtime/error.h"
#include "tensor/compare.h"
#include "tensor/ops/renorm.h"
#include "tensor/tensor.h"
#include "kernels/detail/dispatch.h"
#include "kernels/renorm.h"
#include "train/checkpoint.h"

using namespace renorm;
using kernels::NormShape;

namespace {
struct Shape4 {
  int64_t b, h, w, c;
};

struct Record {
  std::string kernel, shape;
  int64_t m;
  double ms, bytes, gbs, copy_ms, error;  // copy_ms: a device copy of the same bytes (CUDA)
};

double cpu_time_ms(const std::function<void()>& f, int repeats) {
  f();
  std::vector<double> ms;
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}


// All buffers of one renorm call on one device.
struct Buffers {
  Tensor x, dy, y, dx, gamma, beta, run_mean, run_std, mean, var, invstd, r, d, clip, dgamma, dbeta, limits;
  Buffers(const Shape4& s, NormShape ns, Device dev, DType dt) {  // dt: the storage of x, dy, y, dx
    const Shape xs{s.b, s.h, s.w, s.c}, cs{s.c}, nc{ns.n, ns.c};
    x = Tensor::normal(xs, 1, 0.5f, 1.5f, dev).to(dt);
    dy = Tensor::normal(xs, 2, 0.f, 1.f, dev).to(dt);
    y = Tensor::empty(xs, dev, dt);
    dx = Tensor::empty(xs, dev, dt);
    gamma = Tensor::uniform(cs, 3, 0.5f, 1.5f, dev);
    beta = Tensor::uniform(cs, 4, -0.5f, 0.5f, dev);
    run_mean = Tensor::uniform(cs, 5, 0.f, 1.f, dev);
    run_std = Tensor::uniform(cs, 6, 1.f, 2.f, dev);
    for (Tensor* t : {&mean, &var, &invstd, &r, &d}) *t = Tensor::empty(nc, dev);
    clip = Tensor::empty(Shape{2}, dev);
    dgamma = Tensor::empty(cs, dev);
    dbeta = Tensor::empty(cs, dev);
    limits = Tensor::from_vector({2.f, 1.f}, Shape{2}, dev);  // rmax, dmax
  }
};

kernels::RenormParams params(const Buffers& b) {
  const NormConfig defaults;
  // rmax 2, dmax 1 (Buffers::limits); no moving-average update: identical inputs every repeat.
  return kernels::RenormParams{defaults.eps, defaults.alpha, b.limits.data(), false, false};
}

// Runs kernel k; false when it is a cooperative launch the device cannot hold (nothing ran).
bool run_kernel(const std::string& k, Buffers& b, NormShape ns, Device dev) {
  const DType dt = b.x.dtype();
  if (k == "moments") RENORM_DISPATCH_STORAGE(dt, dev, moments, b.x.data_as<T>(), ns, b.mean.data(), b.var.data());
  else if (k == "forward")
    RENORM_DISPATCH_STORAGE(dt, dev, renorm_forward_train, b.x.data_as<T>(), ns, b.gamma.data(), b.beta.data(),
                            b.run_mean.data(), b.run_std.data(), params(b), b.y.data_as<T>(), b.mean.data(), b.invstd.data(),
                            b.r.data(), b.d.data(), b.clip.data());
  else if (k == "backward")
    RENORM_DISPATCH_STORAGE(dt, dev, renorm_backward, b.x.data_as<T>(), b.dy.data_as<T>(), ns, b.gamma.data(), b.mean.data(),
                            b.invstd.data(), b.r.data(), b.d.data(), b.dx.data_as<T>(), b.dgamma.data(), b.dbeta.data());
  else if (k == "fwd-coop")
    return kernels::cuda::renorm_forward_train_cooperative(b.x.data(), ns, b.gamma.data(), b.beta.data(),
                                                           b.run_mean.data(), b.run_std.data(), params(b), b.y.data(),
                                                           b.mean.data(), b.invstd.data(), b.r.data(), b.d.data(),
                                                           b.clip.data());
  else if (k == "bwd-coop")
    return kernels::cuda::renorm_backward_cooperative(b.x.data(), b.dy.data(), ns, b.gamma.data(), b.mean.data(),
                                                      b.invstd.data(), b.r.data(), b.d.data(), b.dx.data(),
                                                      b.dgamma.data(), b.dbeta.data());
  else
    RENORM_DISPATCH_STORAGE(dt, dev, renorm_inference, b.x.data_as<T>(), ns.n * ns.rows, ns.c, b.gamma.data(), b.beta.data(),
                            b.run_mean.data(), b.run_std.data(), b.y.data_as<T>());
  return true;
}

bool backward_kind(const std::string& k) { return k == "backward" || k == "bwd-coop"; }
const Tensor& output_of(const std::string& k, const Buffers& b) {
  return k == "moments" ? b.var : backward_kind(k) ? b.dx : b.y;
}
// The least bytes per element: inputs read and outputs written once (`size` bytes each: 4 or 2).
double least_bytes_per_element(const std::string& k, double size) {
  return (k == "moments" ? 1 : backward_kind(k) ? 3 : 2) * size;
}

// The CUDA result's normalized error against the CPU's; throws past 1e-4 (for a bfloat16 output, past
// 1e-4 plus two bfloat16 unit roundoffs: the float32 values before the rounding may straddle a rounding
// point). k's CPU peer: the two launches.
double validate(const std::string& k, Buffers& host, Buffers& dev, NormShape ns, const std::string& where) {
  const std::string cpu_k = k == "fwd-coop" ? "forward" : k == "bwd-coop" ? "backward" : k;
  run_kernel(cpu_k, host, ns, Device::CPU);
  if (backward_kind(k)) run_kernel("forward", dev, ns, Device::CUDA);
  run_kernel(k, dev, ns, Device::CUDA);
  const Comparison c = compare(output_of(cpu_k, host), output_of(k, dev));  // tensor/compare.h
  const double err = c.non_finite ? INFINITY : c.normalized_error;
  if (!(err < (output_of(k, dev).dtype() == DType::F32 ? 1e-4 : 1e-4 + 2.0 / 256)))
    throw Error(k + " at " + where + ": CUDA differs from the CPU (normalized error " + std::to_string(err) + ")");
  return err;
}

// One row: validated (CUDA), timed, beside a same-size copy (CUDA). False when k does not fit the device.
bool bench_kernel(const std::string& k, const std::string& sh, int64_t m, NormShape ns, Buffers& host, Buffers* devb,
                  Device dev, int reps, std::vector<Record>* out) {
  const bool cuda = dev == Device::CUDA;
  if (cuda && !run_kernel(k, *devb, ns, dev)) {
    std::printf("%-10s %-18s %5lld   does not fit: the device cannot hold its grid at once\n", k.c_str(), sh.c_str(), (long long)m);
    return false;
  }
  const double bytes = least_bytes_per_element(k, double(dtype_size(host.x.dtype()))) * double(ns.numel());
  const double err = cuda ? validate(k, host, *devb, ns, sh) : 0.0;
  const double ms = cuda ? bench::cuda_time_ms([&] { run_kernel(k, *devb, ns, dev); }, reps)
                         : cpu_time_ms([&] { run_kernel(k, host, ns, dev); }, reps);
  const double copy_ms = cuda ? bench::cuda_copy_ms(bytes, reps) : 0.0;
  out->push_back({k, sh, m, ms, bytes, bytes / (ms * 1e6), copy_ms, err});
  std::printf("%-10s %-18s %5lld %10.4f %10.2f %9.1f %10s %8s %9s\n", k.c_str(), sh.c_str(), (long long)m, ms, bytes / 1e6,
              bytes / (ms * 1e6), cuda ? std::to_string(copy_ms).substr(0, 7).c_str() : "",
              cuda ? std::to_string(ms / copy_ms).substr(0, 5).c_str() : "", cuda ? std::to_string(err).substr(0, 8).c_str() : "");
  return true;
}

// cuDNN's batchnorm at the same shape (M = B), forward training and backward, beside same-size copies.
void bench_cudnn(const Shape4& s, const std::string& sh, NormShape ns, Buffers& b, int reps, std::vector<Record>* out) {
  bench::CudnnBatchNorm bn(int(s.b), int(s.h), int(s.w), int(s.c));
  const Device dev = Device::CUDA;
  Tensor rv = Tensor::full(Shape{s.c}, 1.f, dev), sm = Tensor::empty(Shape{s.c}, dev), si = Tensor::empty(Shape{s.c}, dev);
  const double fwd = bench::cuda_time_ms([&] { bn.forward_training(b.x.data(), b.y.data(), b.gamma.data(), b.beta.data(), b.run_mean.data(), rv.data(), sm.data(), si.data()); }, reps);
  const double bwd = bench::cuda_time_ms([&] { bn.backward(b.x.data(), b.dy.data(), b.dx.data(), b.gamma.data(), b.dgamma.data(), b.dbeta.data(), sm.data(), si.data()); }, reps);
  for (auto [name, ms, per] : {std::tuple{"cudnn-fwd", fwd, 8.0}, std::tuple{"cudnn-bwd", bwd, 12.0}}) {
    const double bytes = per * double(ns.numel()), copy_ms = bench::cuda_copy_ms(bytes, reps);
    out->push_back({name, sh, s.b, ms, bytes, bytes / (ms * 1e6), copy_ms, 0});
    std::printf("%-10s %-18s %5lld %10.4f %10.2f %9.1f %10s %8s\n", name, sh.c_str(), (long long)s.b, ms, bytes / 1e6,
                bytes / (ms * 1e6), std::to_string(copy_ms).substr(0, 7).c_str(), std::to_string(ms / copy_ms).substr(0, 5).c_str());
  }
}
}  // namespace

// --shape B,H,W,C: one shape instead of the lists.
Shape4 parse_shape(const std::string& v) {
  Shape4 s{};
  char tail = 0;
  if (std::sscanf(v.c_str(), "%lld,%lld,%lld,%lld%c", reinterpret_cast<long long*>(&s.b), reinterpret_cast<long long*>(&s.h),
                  reinterpret_cast<long long*>(&s.w), reinterpret_cast<long long*>(&s.c), &tail) != 4 ||
      s.b < 1 || s.h < 1 || s.w < 1 || s.c < 1)
    throw ConfigError("--shape '" + v + "': expected B,H,W,C, each >= 1");
  return s;
}

int main(int argc, char** argv) try {
  std::string device = "auto", which = "all", json, precision = "fp32";
  int repeats = 10;
  int64_t microbatch = 0;  // 0: both 4 and B
  std::vector<Shape4> shapes;
  for (int i = 1; i < argc; i += 2) {
    const std::string f = argv[i];
    if (i + 1 >= argc) throw ConfigError(f + ": needs a value");
    if (f == "--device") device = argv[i + 1];
    else if (f == "--repeats") repeats = std::stoi(argv[i + 1]);
    else if (f == "--shapes") which = argv[i + 1];
    else if (f == "--shape") shapes.push_back(parse_shape(argv[i + 1]));
    else if (f == "--microbatch") microbatch = std::stoll(argv[i + 1]);
    else if (f == "--json") json = argv[i + 1];
    else if (f == "--precision") precision = argv[i + 1];
    else throw ConfigError("unknown flag " + f + " (--device, --repeats, --shapes, --shape, --microbatch, --json, --precision)");
  }
  if (repeats < 1) throw ConfigError("--repeats must be >= 1");
  if (precision != "fp32" && precision != "bf16") throw ConfigError("--precision: '" + precision + "' is not one of fp32, bf16");
  const DType dt = precision == "bf16" ? DType::BF16 : DType::F32;
  const Device dev = parse_device(device);
  if (shapes.empty()) {  // no --shape: the lists --shapes names
    if (which != "large")
      for (int64_t b : {32, 128, 512})
        for (Shape4 s : {Shape4{0, 32, 32, 32}, Shape4{0, 16, 16, 64}, Shape4{0, 8, 8, 128}}) shapes.push_back({b, s.h, s.w, s.c});
    if (which != "cnn") shapes.push_back({256, 56, 56, 256});
  }
  for (const Shape4& s : shapes)
    if (microbatch < 0 || (microbatch > 0 && s.b % microbatch != 0))
      throw ConfigError("--microbatch " + std::to_string(microbatch) + " must divide B " + std::to_string(s.b));
  const bool cuda = dev == Device::CUDA;
  const double copy = cuda ? bench::cuda_copy_gbs() : 0.0;
  std::printf("renorm kernel benchmarks, %s storage, on %s%s\n", precision.c_str(), device_description(dev).c_str(),
              cuda ? (", device-to-device copy " + std::to_string(int(copy)) + " GB/s (1 GiB)").c_str() : "");
  std::printf("%-10s %-18s %5s %10s %10s %9s %10s %8s %9s\n", "kernel", "x [B,H,W,C]", "M", "ms", "MB least", "GB/s",
              cuda ? "copy ms" : "", cuda ? "x copy" : "", cuda ? "max err" : "");
  std::vector<Record> out;
  std::vector<std::string> names = {"moments", "forward", "backward", "inference"};
  if (cuda && dt == DType::F32) names.insert(names.end(), {"fwd-coop", "bwd-coop"});
  for (const Shape4& s : shapes)
    for (int64_t m : microbatch ? std::vector<int64_t>{microbatch} : std::vector<int64_t>{4, s.b}) {
      if (s.b % m != 0) continue;
      const NormShape ns{s.b / m, m * s.h * s.w, s.c};
      const std::string sh = std::to_string(s.b) + "," + std::to_string(s.h) + "," + std::to_string(s.w) + "," + std::to_string(s.c);
      Buffers host(s, ns, Device::CPU, dt);
      Buffers* devb = cuda ? new Buffers(s, ns, dev, dt) : &host;
      const int reps = s.h * s.w * s.c * s.b > (int64_t(1) << 27) ? std::max(3, repeats / 3) : repeats;
      for (const std::string& k : names) bench_kernel(k, sh, m, ns, host, devb, dev, reps, &out);
      if (cuda && m == s.b && dt == DType::F32) bench_cudnn(s, sh, ns, *devb, reps, &out);
      if (cuda) delete devb;
    }
  if (!json.empty()) {
    std::string j = "{\"device\": \"" + device_description(dev) + "\", \"precision\": \"" + precision +
                    "\", \"copy_gbs\": " + std::to_string(copy) + ", \"results\": [\n";
    for (size_t i = 0; i < out.size(); ++i) {
      const Record& r = out[i];
      j += std::string(i ? ",\n" : "") + "  {\"kernel\": \"" + r.kernel + "\", \"x\": [" + r.shape + "], \"m\": " + std::to_string(r.m) +
           ", \"ms\": " + std::to_string(r.ms) + ", \"bytes\": " + std::to_string(r.bytes) + ", \"gbs\": " + std::to_string(r.gbs) +
           ", \"copy_ms\": " + std::to_string(r.copy_ms) + ", \"error\": " + std::to_string(r.error) + "}";
    }
    write_file_atomic(json, j + "\n]}\n");
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "renorm-bench-kernels: %s\n", e.what());
  return 1;
}
