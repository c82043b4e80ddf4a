// Kernel benchmarks of the renorm family: moments, training forward, backward, inference, at the CIFAR
// CNN's activation shapes (B in {32,128,512}; (H,W,C) in {(32,32,32),(16,16,64),(8,8,128)}; M in {4,B})
// and one large shape (256x56x56x256). Each result is checked against the CPU before it is timed
// (CUDA), then timed: median of --repeats, warm-up first; CUDA with events and the L2 flushed before
// every repeat. Reported: time, the bytes the kernel must move, GB/s and, on CUDA, the fraction of the
// device-to-device copy bandwidth measured in the same run; at M = B on CUDA, cuDNN's NHWC batchnorm.
//   renorm-bench-kernels [--device auto|cpu|cuda] [--repeats 10] [--shapes cnn|large|all] [--json FILE]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "benchmarks/cuda_bench.h"
#include "runtime/allocator.h"
#include "runtime/error.h"
#include "tensor/compare.h"
#include "tensor/ops/renorm.h"
#include "tensor/tensor.h"
#include "kernels/dispatch.h"
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
  double ms, bytes, gbs, copy_fraction, error;
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
  Tensor x, dy, y, dx, gamma, beta, run_mean, run_std, mean, var, invstd, r, d, clip, dgamma, dbeta;
  Buffers(const Shape4& s, NormShape ns, Device dev) {
    const Shape xs{s.b, s.h, s.w, s.c}, cs{s.c}, nc{ns.n, ns.c};
    x = Tensor::normal(xs, 1, 0.5f, 1.5f, dev);
    dy = Tensor::normal(xs, 2, 0.f, 1.f, dev);
    y = Tensor::empty(xs, dev);
    dx = Tensor::empty(xs, dev);
    gamma = Tensor::uniform(cs, 3, 0.5f, 1.5f, dev);
    beta = Tensor::uniform(cs, 4, -0.5f, 0.5f, dev);
    run_mean = Tensor::uniform(cs, 5, 0.f, 1.f, dev);
    run_std = Tensor::uniform(cs, 6, 1.f, 2.f, dev);
    for (Tensor* t : {&mean, &var, &invstd, &r, &d}) *t = Tensor::empty(nc, dev);
    clip = Tensor::empty(Shape{2}, dev);
    dgamma = Tensor::empty(cs, dev);
    dbeta = Tensor::empty(cs, dev);
  }
};

kernels::RenormParams params() {
  const NormConfig defaults;
  // rmax 2, dmax 1; no moving-average update: identical inputs every repeat.
  return kernels::RenormParams{defaults.eps, defaults.alpha, 2.f, 1.f, false, false};
}

void run_kernel(const std::string& k, Buffers& b, NormShape ns, Device dev) {
  if (k == "moments") RENORM_DISPATCH(dev, moments, b.x.data(), ns, b.mean.data(), b.var.data());
  else if (k == "forward")
    RENORM_DISPATCH(dev, renorm_forward_train, b.x.data(), ns, b.gamma.data(), b.beta.data(), b.run_mean.data(),
                    b.run_std.data(), params(), b.y.data(), b.mean.data(), b.invstd.data(), b.r.data(), b.d.data(),
                    b.clip.data());
  else if (k == "backward")
    RENORM_DISPATCH(dev, renorm_backward, b.x.data(), b.dy.data(), ns, b.gamma.data(), b.mean.data(), b.invstd.data(),
                    b.r.data(), b.d.data(), b.dx.data(), b.dgamma.data(), b.dbeta.data());
  else
    RENORM_DISPATCH(dev, renorm_inference, b.x.data(), ns.n * ns.rows, ns.c, b.gamma.data(), b.beta.data(),
                    b.run_mean.data(), b.run_std.data(), b.y.data());
}

const Tensor& output_of(const std::string& k, const Buffers& b) {
  return k == "moments" ? b.var : k == "backward" ? b.dx : b.y;
}
}  // namespace

int main(int argc, char** argv) try {
  std::string device = "auto", which = "all", json;
  int repeats = 10;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string f = argv[i];
    if (f == "--device") device = argv[i + 1];
    else if (f == "--repeats") repeats = std::stoi(argv[i + 1]);
    else if (f == "--shapes") which = argv[i + 1];
    else if (f == "--json") json = argv[i + 1];
    else throw ConfigError("unknown flag " + f);
  }
  const Device dev = parse_device(device);
  std::vector<Shape4> shapes;
  if (which != "large")
    for (int64_t b : {32, 128, 512})
      for (Shape4 s : {Shape4{0, 32, 32, 32}, Shape4{0, 16, 16, 64}, Shape4{0, 8, 8, 128}}) shapes.push_back({b, s.h, s.w, s.c});
  if (which != "cnn") shapes.push_back({256, 56, 56, 256});
  const bool cuda = dev == Device::CUDA;
  const double copy = cuda ? bench::cuda_copy_gbs() : 0.0;
  std::printf("renorm kernel benchmarks on %s%s\n", device_description(dev).c_str(),
              cuda ? (", device-to-device copy " + std::to_string(int(copy)) + " GB/s").c_str() : "");
  std::printf("%-10s %-18s %5s %10s %10s %9s %7s %9s\n", "kernel", "x [B,H,W,C]", "M", "ms", "MB moved", "GB/s",
              cuda ? "%copy" : "", cuda ? "max err" : "");
  std::vector<Record> out;
  for (const Shape4& s : shapes)
    for (int64_t m : {int64_t(4), s.b}) {
      const NormShape ns{s.b / m, m * s.h * s.w, s.c};
      const std::string sh = std::to_string(s.b) + "," + std::to_string(s.h) + "," + std::to_string(s.w) + "," + std::to_string(s.c);
      Buffers host(s, ns, Device::CPU);
      Buffers* devb = cuda ? new Buffers(s, ns, dev) : &host;
      const int reps = s.h * s.w * s.c * s.b > (int64_t(1) << 27) ? std::max(3, repeats / 3) : repeats;
      for (const char* k : {"moments", "forward", "backward", "inference"}) {
        const double per = std::string(k) == "moments" ? 4 : std::string(k) == "forward" ? 12 : std::string(k) == "backward" ? 20 : 8;
        const double bytes = per * double(ns.numel());
        double err = 0;
        if (cuda) {  // validate against the CPU first
          run_kernel(k, host, ns, Device::CPU);
          if (std::string(k) == "backward") run_kernel("forward", *devb, ns, dev);
          run_kernel(k, *devb, ns, dev);
          const Comparison c = compare(output_of(k, host), output_of(k, *devb));  // tensor/compare.h
          err = c.non_finite ? INFINITY : c.normalized_error;
          if (!(err < 1e-4)) throw Error(std::string(k) + " at " + sh + ": CUDA differs from the CPU (normalized error " + std::to_string(err) + ")");
        }
        const double ms = cuda ? bench::cuda_time_ms([&] { run_kernel(k, *devb, ns, dev); }, reps)
                               : cpu_time_ms([&] { run_kernel(k, host, ns, dev); }, reps);
        const double gbs = bytes / (ms * 1e6);
        out.push_back({k, sh, m, ms, bytes, gbs, cuda ? gbs / copy : 0.0, err});
        std::printf("%-10s %-18s %5lld %10.3f %10.1f %9.1f %7s %9s\n", k, sh.c_str(), (long long)m, ms, bytes / 1e6, gbs,
                    cuda ? (std::to_string(int(100 * gbs / copy)) + "%").c_str() : "", cuda ? std::to_string(err).substr(0, 8).c_str() : "");
      }
      if (cuda && m == s.b) {  // cuDNN's batchnorm at the same shape, forward training + backward
        bench::CudnnBatchNorm bn(int(s.b), int(s.h), int(s.w), int(s.c));
        Tensor rv = Tensor::full(Shape{s.c}, 1.f, dev), sm = Tensor::empty(Shape{s.c}, dev), si = Tensor::empty(Shape{s.c}, dev);
        Buffers& b = *devb;
        const double fwd = bench::cuda_time_ms([&] { bn.forward_training(b.x.data(), b.y.data(), b.gamma.data(), b.beta.data(), b.run_mean.data(), rv.data(), sm.data(), si.data()); }, reps);
        const double bwd = bench::cuda_time_ms([&] { bn.backward(b.x.data(), b.dy.data(), b.dx.data(), b.gamma.data(), b.dgamma.data(), b.dbeta.data(), sm.data(), si.data()); }, reps);
        for (auto [name, ms, per] : {std::tuple{"cudnn-fwd", fwd, 12.0}, std::tuple{"cudnn-bwd", bwd, 20.0}}) {
          const double bytes = per * double(ns.numel()), gbs = bytes / (ms * 1e6);
          out.push_back({name, sh, m, ms, bytes, gbs, gbs / copy, 0});
          std::printf("%-10s %-18s %5lld %10.3f %10.1f %9.1f %6d%%\n", name, sh.c_str(), (long long)m, ms, bytes / 1e6, gbs, int(100 * gbs / copy));
        }
      }
      if (cuda) delete devb;
    }
  if (!json.empty()) {
    std::string j = "{\"device\": \"" + device_description(dev) + "\", \"copy_gbs\": " + std::to_string(copy) + ", \"results\": [\n";
    for (size_t i = 0; i < out.size(); ++i) {
      const Record& r = out[i];
      j += std::string(i ? ",\n" : "") + "  {\"kernel\": \"" + r.kernel + "\", \"x\": [" + r.shape + "], \"m\": " + std::to_string(r.m) +
           ", \"ms\": " + std::to_string(r.ms) + ", \"bytes\": " + std::to_string(r.bytes) + ", \"gbs\": " + std::to_string(r.gbs) +
           ", \"copy_fraction\": " + std::to_string(r.copy_fraction) + ", \"error\": " + std::to_string(r.error) + "}";
    }
    write_file_atomic(json, j + "\n]}\n");
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "renorm-bench-kernels: %s\n", e.what());
  return 1;
}
