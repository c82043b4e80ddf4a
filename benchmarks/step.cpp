// One CNN training step (forward, loss, backward, SGD step) at a given batch, per norm kind, on the
// default or chosen device: prints milliseconds per step and images/s (median of the timed steps).
//   renorm-bench-step [--batch 128] [--microbatch 4] [--steps 10] [--device auto|cpu|cuda]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "layers/nn_ops.h"
#include "layers/optim.h"
#include "models/cifar_cnn.h"

using namespace renorm;

int main(int argc, char** argv) try {
  int64_t batch = 128, micro = 4, steps = 10;
  std::string device = "auto";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--batch") batch = std::stoll(argv[i + 1]);
    else if (flag == "--microbatch") micro = std::stoll(argv[i + 1]);
    else if (flag == "--steps") steps = std::stoll(argv[i + 1]);
    else if (flag == "--device") device = argv[i + 1];
    else throw ConfigError("unknown flag " + flag);
  }
  const Device dev = parse_device(device);
  std::printf("CNN training step, batch %lld, %s\n", (long long)batch, device_description(dev).c_str());
  std::printf("%-22s %10s %10s\n", "norm", "ms/step", "images/s");
  const Tensor x = Tensor::normal(Shape{batch, 32, 32, 3}, 1, 0.f, 1.f, dev);
  std::vector<float> lv(batch);
  for (int64_t i = 0; i < batch; ++i) lv[i] = float(i % 10);
  const Tensor labels = Tensor::from_vector(lv, Shape{batch}, dev);
  for (NormKind kind : {NormKind::None, NormKind::BatchNorm, NormKind::BatchRenorm}) {
    for (int64_t m : {batch, micro}) {
      if (kind == NormKind::None && m != batch) continue;
      CnnConfig cfg;
      cfg.norm = kind;
      cfg.norm_config.microbatch = m;
      CifarCnn net(cfg, dev);
      Sgd opt(net.named_parameters(), 0.01f);
      std::vector<double> ms;
      for (int64_t s = 0; s < steps + 2; ++s) {  // two warm-up steps
        synchronize(dev);
        const auto t0 = std::chrono::steady_clock::now();
        opt.zero_grad();
        Tensor loss = softmax_cross_entropy(net.forward(x), labels);
        loss.backward();
        opt.step();
        synchronize(dev);
        const double t = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        if (s >= 2) ms.push_back(t);
      }
      std::sort(ms.begin(), ms.end());
      const double med = ms[ms.size() / 2];
      const std::string name = kind == NormKind::None ? "none" : std::string(norm_name(kind)) + " M=" + std::to_string(m);
      std::printf("%-22s %10.2f %10.1f\n", name.c_str(), med, 1000.0 * double(batch) / med);
    }
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "renorm-bench-step: %s\n", e.what());
  return 1;
}
