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
