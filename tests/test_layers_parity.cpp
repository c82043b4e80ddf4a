// CPU-vs-CUDA parity beyond the op table (tests/test_op_table.cpp): dropout masks, the optimizers' fused
// steps and a whole CNN training step per norm kind.
#include <catch2/catch.hpp>

#include <functional>
#include <memory>

#include "tensor/ops.h"
#include "train/optim.h"
#include "models/cifar_cnn.h"
#include "support/parity.h"

using namespace renorm;
using renorm::test::require_close;

TEST_CASE("parity: dropout masks are identical on CPU and CUDA", "[parity][cuda][layers]") {
  RENORM_REQUIRE_CUDA_OR_SKIP();
  const Tensor x = Tensor::full(Shape{3, 1000}, 1.f);
  CHECK(dropout(x, 0.4f, 5, 1, 77).to_vector() == dropout(x.to(Device::CUDA), 0.4f, 5, 1, 77).to_vector());
  // A shard starting at example 1 of 333 elements: stream element 333, inside a group of 4.
  const Tensor s = Tensor::full(Shape{3, 333}, 1.f);
  CHECK(dropout(s, 0.4f, 5, 1, 77, 1).to_vector() == dropout(s.to(Device::CUDA), 0.4f, 5, 1, 77, 1).to_vector());
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

// What the whole step is compared on: the functions of the input that are continuous. The loss, the
// logits, the last layer's gradients and every norm layer's moving averages move by rounding when the
// inputs do. The gradients upstream of a max-pool do not: where two values of a window are within
// rounding of each other, a 1e-6 change routes the window's gradient to the other one, and the first
// conv's weight gradient moved by 0.4-0.8% under such a change on the CPU alone (and differed by 1.2%
// between CPU and an H200, docs/gpu-report-2026-11-30.md). Each op's backward, max-pool's ties included, is
// compared on both devices in the op table (tests/test_op_table.cpp).
TEST_CASE("parity: a whole CNN training step per norm kind", "[parity][cuda][cnn][vendor]") {
  RENORM_REQUIRE_VENDOR_CUDA_OR_SKIP();
  for (NormKind kind : {NormKind::None, NormKind::BatchNorm, NormKind::BatchRenorm}) {
    DYNAMIC_SECTION(norm_name(kind)) {
      Tensor logits[2], loss[2];
      std::vector<std::pair<std::string, Tensor>> checked[2];
      for (int d = 0; d < 2; ++d) {
        const Device dev = d ? Device::CUDA : Device::CPU;
        ModelConfig cfg;
        cfg.norm = kind;
        cfg.norm_config.microbatch = 4;
        cfg.norm_config.schedule = ClipSchedule::constant(2.f, 1.f);
        CifarCnn net(cfg, dev);
        const Tensor x = Tensor::normal(Shape{8, 32, 32, 3}, 5, 0.f, 1.f, dev);
        const Tensor labels = Tensor::from_vector({0, 1, 2, 3, 4, 5, 6, 7}, Shape{8}, dev);
        logits[d] = net.forward(x);
        loss[d] = softmax_cross_entropy(logits[d], labels);
        loss[d].backward();
        const std::vector<Tensor> params = net.parameters();
        checked[d].push_back({"last layer weight gradient", params[params.size() - 2].grad()});
        checked[d].push_back({"last layer bias gradient", params.back().grad()});
        for (size_t i = 0; i < net.norms().size(); ++i) {
          checked[d].push_back({"norm " + std::to_string(i) + " moving mean", net.norms()[i]->running_mean});
          checked[d].push_back({"norm " + std::to_string(i) + " moving std", net.norms()[i]->running_std});
        }
      }
      require_close(loss[0], loss[1], "loss");
      require_close(logits[0], logits[1], "logits");
      for (size_t i = 0; i < checked[0].size(); ++i) require_close(checked[0][i].second, checked[1][i].second, checked[0][i].first);
    }
  }
}
