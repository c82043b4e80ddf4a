// The norm family's CUDA entry points on one shape, with their buffers, as a table: what the budget
// test (tests/emu/test_budgets.cpp) and the traffic report (tests/emu/traffic/main.cpp) run.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "kernels/renorm.h"
#include "tensor/tensor.h"
#include "kernels/cuda/launch.cuh"  // last: the emulator's device macros (__noinline__, ...) follow the standard headers

namespace renorm::test {

struct NormOp {
  const char* name;   // forward | backward | moments | inference | forward_cooperative | backward_cooperative
                      // (its budget: norm.<name> in budgets.txt)
  double min_passes;  // the least traffic, in passes over x: what the op must read and write once
  std::function<bool()> run;  // false: the cooperative launch does not fit on the device (nothing ran)
};

// "name" for a kernel the account names "{anonymous}::name".
inline std::string shown_kernel(const std::string& k) { return k.rfind("{anonymous}::", 0) == 0 ? k.substr(13) : k; }

// x as (N microbatches, rows, C), NHWC flattened; every buffer on the (emulated) CUDA device.
class NormOps {
 public:
  explicit NormOps(kernels::NormShape s)
      : s_(s),
        x_(Tensor::normal(Shape{s.numel()}, 3, 0.5f, 2.f, Device::CUDA)),
        dy_(Tensor::normal(Shape{s.numel()}, 4, 0.f, 1.f, Device::CUDA)) {}

  double pass_bytes() const { return 4.0 * double(s_.numel()); }  // F: one pass over x

  // The two-launch family, and with `cooperative` the single cooperative launches too.
  std::vector<NormOp> ops(bool cooperative = false) {
    namespace k = kernels::cuda;
    const kernels::RenormParams p{1e-3f, 0.01f, limits_.data(), true, false};
    std::vector<NormOp> t = {
        {"forward", 2, [this, p] { k::renorm_forward_train(x(), s_, gamma(), beta(), rm(), rs(), p, y(), mean(),
                                                                    invstd(), r(), d(), clips());
                                   return true; }},
        {"backward", 3, [this] { k::renorm_backward(x(), dy(), s_, gamma(), mean(), invstd(), r(), d(), dx(),
                                                            dgamma(), dbeta());
                                 return true; }},
        {"moments", 1, [this] { k::moments(x(), s_, mean(), var());
                                return true; }},
        {"inference", 2, [this] { k::renorm_inference(x(), s_.n * s_.rows, s_.c, gamma(), beta(), rm(), rs(), y());
                                  return true; }},
    };
    if (!cooperative) return t;
    t.push_back({"forward_cooperative", 2, [this, p] {
                   return k::renorm_forward_train_cooperative(x(), s_, gamma(), beta(), rm(), rs(), p, y(), mean(),
                                                              invstd(), r(), d(), clips()); }});
    t.push_back({"backward_cooperative", 3, [this] {
                   return k::renorm_backward_cooperative(x(), dy(), s_, gamma(), mean(), invstd(), r(), d(), dx(),
                                                         dgamma(), dbeta()); }});
    return t;
  }

 private:
  static Tensor buffer(int64_t k, float v) { return Tensor::full(Shape{k}, v, Device::CUDA); }
  const float* x() const { return x_.data(); }
  const float* dy() const { return dy_.data(); }
  float* y() { return y_.data(); }
  float* dx() { return dx_.data(); }
  float* gamma() { return gamma_.data(); }
  float* beta() { return beta_.data(); }
  float* rm() { return run_mean_.data(); }
  float* rs() { return run_std_.data(); }
  float* mean() { return mean_.data(); }
  float* var() { return var_.data(); }
  float* invstd() { return invstd_.data(); }
  float* r() { return r_.data(); }
  float* d() { return d_.data(); }
  float* clips() { return clips_.data(); }
  float* dgamma() { return dgamma_.data(); }
  float* dbeta() { return dbeta_.data(); }

  kernels::NormShape s_;
  Tensor x_, dy_;
  Tensor y_ = buffer(s_.numel(), 0.f), dx_ = buffer(s_.numel(), 0.f);
  Tensor gamma_ = buffer(s_.c, 1.f), beta_ = buffer(s_.c, 0.f), run_mean_ = buffer(s_.c, 0.f), run_std_ = buffer(s_.c, 1.f);
  Tensor mean_ = buffer(s_.n * s_.c, 0.f), var_ = buffer(s_.n * s_.c, 0.f), invstd_ = buffer(s_.n * s_.c, 0.f);
  Tensor r_ = buffer(s_.n * s_.c, 0.f), d_ = buffer(s_.n * s_.c, 0.f), clips_ = buffer(2, 0.f);
  Tensor dgamma_ = buffer(s_.c, 0.f), dbeta_ = buffer(s_.c, 0.f);
  Tensor limits_ = Tensor::from_vector({3.f, 5.f}, Shape{2}, Device::CUDA);  // rmax, dmax
};

}  // namespace renorm::test
