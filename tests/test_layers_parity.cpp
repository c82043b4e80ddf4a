// CPU-vs-CUDA parity for every layer, table-driven: forward output and every input gradient; then the
// optimizers' fused steps and a whole CNN training step per norm kind.
#include <catch2/catch.hpp>

#include <functional>
#include <memory>

#include "tensor/ops.h"
#include "train/optim.h"
#include "models/cifar_cnn.h"
#include "support/parity.h"

using namespace renorm;
using renorm::test::require_close;

namespace {
struct LayerCase {
  std::string name;
  std::vector<Shape> inputs;
  std::function<Tensor(const std::vector<Tensor>&)> run;
  bool vendor = false;  // calls cuDNN or cuBLAS (not emulated: a real GPU only)
};

const std::vector<LayerCase>& layer_cases() {
  static const Tensor labels_cpu = Tensor::from_vector({3, 0, 9, 4, 4, 1, 7}, Shape{7});
  static const std::vector<LayerCase> table = {
      {"conv3x3 pad1", {{4, 9, 7, 3}, {5, 3, 3, 3}, {5}}, [](const auto& x) { return conv2d(x[0], x[1], x[2], 1, 1); }, true},
      {"conv3x3 stride2", {{2, 11, 11, 16}, {32, 3, 3, 16}, {32}}, [](const auto& x) { return conv2d(x[0], x[1], x[2], 2, 0); }, true},
      {"conv5x5 pad2", {{3, 8, 8, 7}, {6, 5, 5, 7}, {6}}, [](const auto& x) { return conv2d(x[0], x[1], x[2], 1, 2); }, true},
      {"conv1x1", {{2, 4, 4, 32}, {64, 1, 1, 32}, {64}}, [](const auto& x) { return conv2d(x[0], x[1], x[2], 1, 0); }, true},
      {"cnn conv 32x32x32->64", {{8, 16, 16, 32}, {64, 3, 3, 32}, {64}}, [](const auto& x) { return conv2d(x[0], x[1], x[2], 1, 1); }, true},
      {"linear", {{33, 2048}, {10, 2048}, {10}}, [](const auto& x) { return linear(x[0], x[1], x[2]); }, true},
      {"bias add", {{6, 5, 3, 33}, {33}}, [](const auto& x) { return bias_add(x[0], x[1]); }},
      {"bias add, many rows", {{3000, 7}, {7}}, [](const auto& x) { return bias_add(x[0], x[1]); }},
      {"maxpool 2x2", {{4, 8, 8, 33}}, [](const auto& x) { return max_pool2d(x[0], 2, 2); }},
      {"maxpool 3x3 stride 2", {{2, 9, 9, 5}}, [](const auto& x) { return max_pool2d(x[0], 3, 2); }},
      {"dropout", {{4, 8, 8, 32}}, [](const auto& x) { return dropout(x[0], 0.3f, 11, 2, 5); }},
      {"softmax xent", {{7, 10}}, [](const auto& x) { return softmax_cross_entropy(x[0], labels_cpu.to(x[0].device())); }},
  };
  return table;
}

std::vector<Tensor> run_on(const LayerCase& c, Device d, Tensor* out) {
  std::vector<Tensor> in;
  for (size_t i = 0; i < c.inputs.size(); ++i)
    in.push_back(Tensor::uniform(c.inputs[i], 10 + i, -1.f, 1.f, d).requires_grad_());
  *out = c.run(in);
  out->backward(Tensor::normal(out->shape(), 99, 0.f, 1.f, d));
  std::vector<Tensor> grads;
  for (Tensor& t : in) grads.push_back(t.grad());
  return grads;
}

void check_rows(bool vendor) {
  for (const LayerCase& c : layer_cases()) {
    if (c.vendor != vendor) continue;
    DYNAMIC_SECTION(c.name) {
      Tensor a, b;
      const auto ga = run_on(c, Device::CPU, &a), gb = run_on(c, Device::CUDA, &b);
      require_close(a, b, c.name + " forward");
      for (size_t i = 0; i < ga.size(); ++i) require_close(ga[i], gb[i], c.name + " grad " + std::to_string(i));
    }
  }
}
}  // namespace

TEST_CASE("parity: every layer forward and backward, CPU vs CUDA", "[parity][cuda][layers]") {
  RENORM_REQUIRE_CUDA_OR_SKIP();
  check_rows(false);
}

TEST_CASE("parity: conv and linear (cuDNN, cuBLAS) forward and backward, CPU vs CUDA",
          "[parity][cuda][layers][vendor]") {
  RENORM_REQUIRE_VENDOR_CUDA_OR_SKIP();
  check_rows(true);
}

TEST_CASE("parity: dropout masks are identical on CPU and CUDA", "[parity][cuda][layers]") {
  RENORM_REQUIRE_CUDA_OR_SKIP();
  const Tensor x = Tensor::full(Shape{3, 1000}, 1.f);
  CHECK(dropout(x, 0.4f, 5, 1, 77).to_vector() == dropout(x.to(Device::CUDA), 0.4f, 5, 1, 77).to_vector());
}

TEST_CASE("parity: SGD and Adam fused steps", "[parity][cuda][optim]") {
  RENORM_REQUIRE_CUDA_OR_SKIP();
  for (int kind = 0; kind < 2; ++kind) {
    Tensor p[2];
    for (int d = 0; d < 2; ++d) {
      const Device dev = d ? Device::CUDA : Device::CPU;
      p[d] = Tensor::uniform(Shape{1000}, 1, -1.f, 1.f, dev).requires_grad_();
      std::unique_ptr<Optimizer> opt;
      if (kind == 0) opt = std::make_unique<Sgd>(NamedTensors{{"p", p[d]}}, 0.1f, SgdOptions{0.9f, 1e-4f, true});
      else opt = std::make_unique<Adam>(NamedTensors{{"p", p[d]}}, 0.01f, AdamOptions{0.9f, 0.999f, 1e-8f, 1e-4f});
      for (int s = 0; s < 5; ++s) {
        p[d].set_grad(Tensor::normal(Shape{1000}, 20 + s, 0.f, 1.f, dev));
        opt->step();
      }
    }
    require_close(p[0], p[1], kind == 0 ? "sgd" : "adam");
  }
}

TEST_CASE("parity: a whole CNN training step per norm kind", "[parity][cuda][cnn][vendor]") {
  RENORM_REQUIRE_VENDOR_CUDA_OR_SKIP();
  for (NormKind kind : {NormKind::None, NormKind::BatchNorm, NormKind::BatchRenorm}) {
    DYNAMIC_SECTION(norm_name(kind)) {
      Tensor loss[2], grad0[2], out_mean[2];
      for (int d = 0; d < 2; ++d) {
        const Device dev = d ? Device::CUDA : Device::CPU;
        CnnConfig cfg;
        cfg.norm = kind;
        cfg.norm_config.microbatch = 4;
        cfg.norm_config.schedule = ClipSchedule::constant(2.f, 1.f);
        CifarCnn net(cfg, dev);
        const Tensor x = Tensor::normal(Shape{8, 32, 32, 3}, 5, 0.f, 1.f, dev);
        const Tensor labels = Tensor::from_vector({0, 1, 2, 3, 4, 5, 6, 7}, Shape{8}, dev);
        loss[d] = softmax_cross_entropy(net.forward(x), labels);
        loss[d].backward();
        grad0[d] = net.parameters()[0].grad();
        if (!net.norms().empty()) out_mean[d] = net.norms()[0]->running_mean;
      }
      require_close(loss[0], loss[1], "loss");
      require_close(grad0[0], grad0[1], "first conv weight gradient");
      if (out_mean[0].defined()) require_close(out_mean[0], out_mean[1], "running mean");
    }
  }
}
