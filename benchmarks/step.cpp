// One CNN training step (forward, loss, backward, SGD step) per norm kind: ms/step and images/s (median of
// the timed steps after two warm-ups), then a per-layer breakdown (forward and backward of each layer,
// measured with a device sync around each, so their sum exceeds the step time a little) that shows
// what the norm costs.
//   renorm-bench-step [--batch 128] [--microbatch 4] [--steps 10] [--device auto|cpu|cuda] [--json FILE]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <typeinfo>
#include <vector>

#include "tensor/autograd.h"
#include "runtime/error.h"
#include "tensor/ops.h"
#include "train/optim.h"
#include "models/cifar_cnn.h"
#include "train/checkpoint.h"

using namespace renorm;

namespace {
double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string layer_name(const Module& m) {
  if (dynamic_cast<const BatchNorm*>(&m)) return "batchnorm";
  if (dynamic_cast<const BatchRenorm*>(&m)) return "batch_renorm";
  if (dynamic_cast<const Conv2d*>(&m)) return "conv2d";
  if (dynamic_cast<const ReLU*>(&m)) return "relu";
  if (dynamic_cast<const MaxPool2d*>(&m)) return "max_pool2d";
  if (dynamic_cast<const Dropout*>(&m)) return "dropout";
  if (dynamic_cast<const Flatten*>(&m)) return "flatten";
  if (dynamic_cast<const Linear*>(&m)) return "linear";
  return "?";
}
}  // namespace

int main(int argc, char** argv) try {
  int64_t batch = 128, micro = 4, steps = 10;
  std::string device = "auto", json;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--batch") batch = std::stoll(argv[i + 1]);
    else if (flag == "--microbatch") micro = std::stoll(argv[i + 1]);
    else if (flag == "--steps") steps = std::stoll(argv[i + 1]);
    else if (flag == "--device") device = argv[i + 1];
    else if (flag == "--json") json = argv[i + 1];
    else throw ConfigError("unknown flag " + flag);
  }
  const Device dev = parse_device(device);
  std::printf("CNN training step, batch %lld, %s\n", (long long)batch, device_description(dev).c_str());
  std::printf("%-22s %10s %10s %12s\n", "norm", "ms/step", "images/s", "norm share");
  const Tensor x = Tensor::normal(Shape{batch, 32, 32, 3}, 1, 0.f, 1.f, dev);
  std::vector<float> lv(batch);
  for (int64_t i = 0; i < batch; ++i) lv[i] = float(i % 10);
  const Tensor labels = Tensor::from_vector(lv, Shape{batch}, dev);
  std::string jrows, breakdowns;
  for (NormKind kind : {NormKind::None, NormKind::BatchNorm, NormKind::BatchRenorm}) {
    for (int64_t m : {batch, micro}) {
      if (kind == NormKind::None && m != batch) continue;
      CnnConfig cfg;
      cfg.norm = kind;
      cfg.norm_config.microbatch = m;
      cfg.norm_config.schedule = ClipSchedule::constant(3.f, 5.f);
      CifarCnn net(cfg, dev);
      Sgd opt(net.named_parameters(), 0.001f);
      auto step = [&] {
        opt.zero_grad();
        Tensor loss = softmax_cross_entropy(net.forward(x), labels);
        loss.backward();
        opt.step();
      };
      std::vector<double> ms;
      for (int64_t s = 0; s < steps + 2; ++s) {  // two warm-up steps
        synchronize(dev);
        const double t0 = now_ms();
        step();
        synchronize(dev);
        if (s >= 2) ms.push_back(now_ms() - t0);
      }
      std::sort(ms.begin(), ms.end());
      const double med = ms[ms.size() / 2];
      // Per-layer breakdown: the minimum per layer over three more steps (robust to interference).
      const auto& layers = net.body().children();
      std::vector<double> fwd(layers.size(), 1e300);
      std::vector<BackwardTiming> bwd;
      for (int rep = 0; rep < 3; ++rep) {
        opt.zero_grad();
        Tensor h = x;
        for (size_t i = 0; i < layers.size(); ++i) {
          synchronize(dev);
          const double t0 = now_ms();
          h = layers[i]->forward(h);
          synchronize(dev);
          fwd[i] = std::min(fwd[i], now_ms() - t0);
        }
        Tensor loss = softmax_cross_entropy(h, labels);
        std::vector<BackwardTiming> once;
        set_backward_timing(&once);
        loss.backward();
        set_backward_timing(nullptr);
        if (bwd.empty()) bwd = once;
        for (size_t i = 0; i < once.size() && i < bwd.size(); ++i) bwd[i].ms = std::min(bwd[i].ms, once[i].ms);
      }
      // bwd[0] is the loss; then one node per layer, last layer first.
      std::map<std::string, double> per_type;
      double total = 0;
      const std::string name = kind == NormKind::None ? "none" : std::string(norm_name(kind)) + " M=" + std::to_string(m);
      breakdowns += "\n" + name + ": layer, forward ms, backward ms\n";
      for (size_t i = 0; i < layers.size(); ++i) {
        const double b = i + 1 < bwd.size() ? bwd[bwd.size() - 1 - i].ms : 0.0;
        const std::string t = layer_name(*layers[i]);
        per_type[t] += fwd[i] + b;
        total += fwd[i] + b;
        char line[128];
        std::snprintf(line, sizeof line, "  %2zu %-13s %8.2f %8.2f\n", i, t.c_str(), fwd[i], b);
        breakdowns += line;
      }
      const double norm_ms = per_type["batchnorm"] + per_type["batch_renorm"];
      std::printf("%-22s %10.2f %10.1f %11.1f%%\n", name.c_str(), med, 1000.0 * double(batch) / med, 100.0 * norm_ms / total);
      std::string types;
      for (auto& [t, v] : per_type) types += std::string(types.empty() ? "" : ", ") + "\"" + t + "\": " + std::to_string(v);
      jrows += std::string(jrows.empty() ? "" : ",\n") + "  {\"norm\": \"" + name + "\", \"ms_per_step\": " + std::to_string(med) +
               ", \"images_per_s\": " + std::to_string(1000.0 * double(batch) / med) + ", \"layer_type_ms\": {" + types + "}}";
    }
  }
  std::printf("%s", breakdowns.c_str());
  if (!json.empty())
    write_file_atomic(json, "{\"device\": \"" + device_description(dev) + "\", \"batch\": " + std::to_string(batch) +
                                ", \"results\": [\n" + jrows + "\n]}\n");
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "renorm-bench-step: %s\n", e.what());
  return 1;
}
