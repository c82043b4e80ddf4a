// One training step of the CIFAR CNN or ResNet-20 (--model; forward, loss, backward, SGD step) per norm kind: ms/step and images/s (median of
// the timed steps after two warm-ups), then a per-layer breakdown (forward and backward of each layer,
// measured with a device sync around each, so their sum exceeds the step time a little) that shows
// what the norm costs, and for each convolution its GFLOP/s and share of the fp32 FMA peak that this run
// measures on the same cores (CPU; benchmarks/fma_peak.h).
// --conv-engines all (CPU): also the step without norm on each other CPU convolution engine (oneDNN,
// im2col + OpenBLAS: kernels/conv.h), in the same run, with its breakdown.
// --precision bf16: the models' bfloat16 policy (models/model.h), the convolutions' GFLOP/s against the
// AVX512_BF16 dot-product peak measured in the same run (benchmarks/fma_peak.h). --precision tf32: the
// convolutions and GEMMs on TF32 (cuDNN tensor-op math, cuBLAS TF32; on the CPU rounded operand copies).
// CUDA: also the step queued back to back (no sync between steps), eager and as one replayed CUDA graph
// (runtime/cuda_graph.h, what renorm-train runs), each with the host's enqueue time per step and the
// GPU's time per step (cudaEvents): where enqueue ≈ GPU time the step is launch-bound.
//   renorm-bench-step [--model cifar-cnn|resnet20] [--batch 128] [--microbatch 4] [--steps 10] [--device auto|cpu|cuda] [--json FILE]
//                     [--conv-engines default|all] [--precision fp32|bf16|tf32]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <typeinfo>
#include <vector>

#include "tensor/autograd.h"
#include "runtime/error.h"
#include "tensor/ops.h"
#include "train/optim.h"
#include "models/factory.h"
#include "models/resnet.h"
#include "train/checkpoint.h"
#include "benchmarks/fma_peak.h"
#include "kernels/conv.h"
#include "runtime/cpu_isa.h"
#include "runtime/cuda_graph.h"
#include "benchmarks/cuda_bench.h"

using namespace renorm;

namespace {
double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string layer_name(const Module& m) {
  if (dynamic_cast<const BatchNorm*>(&m)) return "batchnorm";
  if (dynamic_cast<const BatchRenorm*>(&m)) return "batch_renorm";
  if (const auto* c = dynamic_cast<const Conv2d*>(&m)) return c->options().relu ? "conv2d+relu" : "conv2d";
  if (dynamic_cast<const ReLU*>(&m)) return "relu";
  if (dynamic_cast<const MaxPool2d*>(&m)) return "max_pool2d";
  if (dynamic_cast<const Dropout*>(&m)) return "dropout";
  if (dynamic_cast<const Flatten*>(&m)) return "flatten";
  if (dynamic_cast<const Linear*>(&m)) return "linear";
  if (dynamic_cast<const BasicBlock*>(&m)) return "basic_block";
  if (dynamic_cast<const GlobalAvgPool*>(&m)) return "global_avg_pool";
  return "?";
}

struct Flags {
  int64_t batch = 128, micro = 4, steps = 10;
  std::string device = "auto", json, conv_engines = "default";
  ModelKind model = ModelKind::CifarCnn;
  Precision precision = Precision::Fp32;
};

constexpr const char* kUsage =
    "renorm-bench-step [--model cifar-cnn|resnet20] [--batch 128] [--microbatch 4] [--steps 10] "
    "[--device auto|cpu|cuda] [--json FILE] [--conv-engines default|all] [--precision fp32|bf16|tf32]";

Flags parse_flags(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::printf("usage: %s\n", kUsage);
      std::exit(0);
    }
    if (i + 1 >= argc) throw ConfigError(flag + " needs a value (usage: " + kUsage + ")");
    if (flag == "--batch") f.batch = std::stoll(argv[i + 1]);
    else if (flag == "--microbatch") f.micro = std::stoll(argv[i + 1]);
    else if (flag == "--steps") f.steps = std::stoll(argv[i + 1]);
    else if (flag == "--device") f.device = argv[i + 1];
    else if (flag == "--json") f.json = argv[i + 1];
    else if (flag == "--conv-engines") f.conv_engines = argv[i + 1];
    else if (flag == "--model") f.model = enum_parse<ModelKind>(argv[i + 1], "--model");
    else if (flag == "--precision") f.precision = enum_parse<Precision>(argv[i + 1], "--precision");
    else throw ConfigError("unknown flag " + flag);
  }
  if (f.conv_engines != "default" && f.conv_engines != "all")
    throw ConfigError("--conv-engines: '" + f.conv_engines + "' is not one of default, all");
  return f;
}

struct Batch {
  Tensor x, labels;
};

// A step as the trainer takes it (train/trainer.cpp): the step's scalars written and uploaded in one
// copy (prepare), then forward, loss, backward and the SGD update (work: what a graph captures). opt
// keeps its words in the model's block.
void prepare(Model& net, Sgd& opt, int64_t k) {
  net.write_step(k);
  opt.write_step();
  net.step_scalars()->upload();
}
void work(Model& net, Sgd& opt, const Batch& b) {
  opt.zero_grad();
  Tensor loss = softmax_cross_entropy(net.forward(b.x), b.labels);
  loss.backward();
  opt.apply();
}

// The median of `steps` timed steps after two warm-ups.
double median_step_ms(Model& net, Sgd& opt, const Batch& b, int64_t steps, Device dev) {
  std::vector<double> ms;
  for (int64_t s = 0; s < steps + 2; ++s) {
    synchronize(dev);
    const double t0 = now_ms();
    prepare(net, opt, s);
    work(net, opt, b);
    synchronize(dev);
    if (s >= 2) ms.push_back(now_ms() - t0);
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

// CUDA: `steps` steps queued back to back, eager and replayed as one graph (2 warm-up steps in its
// pool and the capture first): host enqueue and GPU time per step of each.
struct StepTimes {
  bench::PipelinedTime eager, graph;
};
StepTimes cuda_step_times(Model& net, Sgd& opt, const Batch& b, int64_t steps) {
  int64_t k = 0;
  StepTimes t;
  t.eager = bench::cuda_pipelined_ms([&] { prepare(net, opt, k++); work(net, opt, b); }, int(steps));
  CudaGraph graph;
  auto step = [&] {
    prepare(net, opt, k++);
    graph.run([&] { work(net, opt, b); }, 2);
  };
  for (int i = 0; i < 3; ++i) step();  // warm-up in the pool, then the capture
  t.graph = bench::cuda_pipelined_ms(step, int(steps));
  return t;
}

struct LayerTime {
  std::string type;
  // Convolutions only: the forward's GFLOP and the backward's (the filter gradient's, plus as many again for
  // the input gradient unless the input is the network's, which needs none).
  double fwd_ms = 1e300, bwd_ms = 0, fwd_gflop = 0, bwd_gflop = 0;
};

// Per layer: the minimum over three steps (robust to interference), each layer between device syncs.
std::vector<LayerTime> layer_breakdown(Model& net, Sgd& opt, const Batch& b, Device dev) {
  const auto& layers = net.body().children();
  std::vector<LayerTime> t(layers.size());
  std::vector<BackwardTiming> bwd;
  for (int rep = 0; rep < 3; ++rep) {
    opt.zero_grad();
    Tensor h = b.x.to(net.activations());  // as Model::forward does
    for (size_t i = 0; i < layers.size(); ++i) {
      synchronize(dev);
      const bool input_grad = h.requires_grad();
      const double t0 = now_ms();
      h = layers[i]->forward(h);
      synchronize(dev);
      t[i].fwd_ms = std::min(t[i].fwd_ms, now_ms() - t0);
      t[i].type = layer_name(*layers[i]);
      if (const auto* conv = dynamic_cast<const Conv2d*>(layers[i].get())) {  // 2 flops per multiply-add
        t[i].fwd_gflop = 2.0 * double(h.numel()) * double(conv->weight.numel() / conv->weight.dim(0)) / 1e9;
        t[i].bwd_gflop = t[i].fwd_gflop * (input_grad ? 2 : 1);
      }
    }
    Tensor loss = softmax_cross_entropy(h.to(DType::F32), b.labels);
    std::vector<BackwardTiming> once;
    set_backward_timing(&once);
    loss.backward();
    set_backward_timing(nullptr);
    if (bwd.empty()) bwd = once;
    for (size_t i = 0; i < once.size() && i < bwd.size(); ++i) bwd[i].ms = std::min(bwd[i].ms, once[i].ms);
  }
  // bwd[0] is the loss (and, in bf16, the logits' conversion: skipped); then one node per layer, last
  // layer first (in bf16 the input's conversion, which needs no gradient, records none).
  const size_t skip = net.activations() == DType::F32 ? 1 : 2;
  for (size_t i = 0; i < t.size(); ++i)
    t[i].bwd_ms = i + skip < bwd.size() ? bwd[bwd.size() - 1 - i].ms : 0.0;
  return t;
}

// "  GFLOP/s (x% of peak)" for a convolution's pass, or "" for other layers.
std::string rate(double gflop, double ms, double peak) {
  if (gflop <= 0 || ms <= 0) return "";
  char s[64];
  const double r = gflop / (ms / 1e3);
  if (peak > 0) std::snprintf(s, sizeof s, " %7.1f (%3.0f%%)", r, 100.0 * r / peak);
  else std::snprintf(s, sizeof s, " %7.1f", r);
  return s;
}

std::string breakdown_text(const std::string& name, const std::vector<LayerTime>& t, double peak) {
  std::string out = "\n" + name + ": layer, forward ms, backward ms; convolutions: forward and backward GFLOP/s" +
                    (peak > 0 ? " (% of the peak above)" : "") + "\n";
  for (size_t i = 0; i < t.size(); ++i) {
    char line[96];
    std::snprintf(line, sizeof line, "  %2zu %-13s %8.2f %8.2f", i, t[i].type.c_str(), t[i].fwd_ms, t[i].bwd_ms);
    out += line + rate(t[i].fwd_gflop, t[i].fwd_ms, peak) + rate(t[i].bwd_gflop, t[i].bwd_ms, peak) + "\n";
  }
  return out;
}

std::string json_row(const std::string& name, double med, int64_t batch, const std::vector<LayerTime>& t) {
  std::map<std::string, double> per_type;
  std::string convs;
  for (size_t i = 0; i < t.size(); ++i) {
    per_type[t[i].type] += t[i].fwd_ms + t[i].bwd_ms;
    if (t[i].fwd_gflop > 0)
      convs += std::string(convs.empty() ? "" : ", ") + "{\"layer\": " + std::to_string(i) + ", \"fwd_gflops\": " +
               std::to_string(t[i].fwd_gflop / (t[i].fwd_ms / 1e3)) + ", \"bwd_gflops\": " +
               std::to_string(t[i].bwd_gflop / (t[i].bwd_ms / 1e3)) + "}";
  }
  std::string types;
  for (auto& [k, v] : per_type) types += std::string(types.empty() ? "" : ", ") + "\"" + k + "\": " + std::to_string(v);
  return "  {\"norm\": \"" + name + "\", \"ms_per_step\": " + std::to_string(med) + ", \"images_per_s\": " +
         std::to_string(1000.0 * double(batch) / med) + ", \"layer_type_ms\": {" + types + "}, \"conv\": [" + convs + "]}";
}

struct Report {
  std::string json, breakdowns;
};

// One configuration: its median step (a line now) and its breakdown and JSON row (into rep).
void run_config(const std::string& name, NormKind kind, int64_t m, const Flags& f, const Batch& b, Device dev, double peak,
                Report& rep) {
  ModelConfig cfg;
  cfg.kind = f.model;
  cfg.precision = f.precision;
  cfg.norm = kind;
  cfg.norm_config.microbatch = m;
  cfg.norm_config.schedule = ClipSchedule::constant(3.f, 5.f);
  const std::unique_ptr<Model> model = make_model(cfg, dev);
  Model& net = *model;
  Sgd opt(net.named_parameters(), 0.001f, {}, net.step_scalars());
  const double med = median_step_ms(net, opt, b, f.steps, dev);
  const StepTimes st = dev == Device::CUDA ? cuda_step_times(net, opt, b, f.steps) : StepTimes{};
  const std::vector<LayerTime> t = layer_breakdown(net, opt, b, dev);
  double total = 0, norm_ms = 0;
  size_t top_level_norms = 0;  // the norm share is known only when every norm layer is a top-level layer
  for (const LayerTime& l : t) top_level_norms += l.type == "batchnorm" || l.type == "batch_renorm";
  for (const LayerTime& l : t) {
    total += l.fwd_ms + l.bwd_ms;
    if (l.type == "batchnorm" || l.type == "batch_renorm") norm_ms += l.fwd_ms + l.bwd_ms;
  }
  const std::string share = top_level_norms == net.norms().size()
                                ? std::to_string(100.0 * norm_ms / total).substr(0, 4) + "%"
                                : "- (in blocks)";
  std::printf("%-22s %10.2f %10.1f %12s", name.c_str(), med, 1000.0 * double(f.batch) / med, share.c_str());
  if (dev == Device::CUDA)
    std::printf(" %8.3f %8.3f %8.3f %8.3f", st.eager.host_ms, st.eager.gpu_ms, st.graph.host_ms, st.graph.gpu_ms);
  std::printf("\n");
  std::fflush(stdout);
  rep.breakdowns += breakdown_text(name, t, peak);
  std::string row = json_row(name, med, f.batch, t);
  if (dev == Device::CUDA) {
    char extra[200];
    std::snprintf(extra, sizeof extra, ", \"eager_host_ms\": %.4f, \"eager_gpu_ms\": %.4f, \"graph_host_ms\": %.4f, \"graph_gpu_ms\": %.4f}",
                  st.eager.host_ms, st.eager.gpu_ms, st.graph.host_ms, st.graph.gpu_ms);
    row = row.substr(0, row.size() - 1) + extra;
  }
  rep.json += std::string(rep.json.empty() ? "" : ",\n") + row;
}
}  // namespace

int main(int argc, char** argv) try {
  const Flags f = parse_flags(argc, argv);
  const Device dev = parse_device(f.device);
  bench::FmaPeak fma, bf16;
  if (dev == Device::CPU) fma = bench::measure_fma_peak(), bf16 = bench::measure_bf16_peak();
  const bool low = f.precision == Precision::Bf16;
  const bench::FmaPeak& peak = low ? bf16 : fma;  // what the convolutions' GFLOP/s are a share of
  std::printf("%s training step, batch %lld, precision %s, %s\n", enum_name(f.model).c_str(), (long long)f.batch,
              enum_name(f.precision).c_str(), device_description(dev).c_str());
  if (dev == Device::CPU) {
    std::printf("CPU: %s; renorm's loops run %s, convolutions %s%s; fp32 FMA peak measured now: %.1f GFLOP/s on %d threads (%s)\n",
                bench::cpu_description().c_str(), cpu_isa_name(cpu_isa()), kernels::cpu::conv_engine_name(kernels::cpu::conv_engine()),
                low ? (kernels::cpu::onednn_bf16() ? " (oneDNN bf16 kernels)" : " (bf16 widened to fp32)") : "", fma.gflops,
                fma.threads, fma.isa.c_str());
    if (low) std::printf("bf16 dot-product peak measured now: %.1f GFLOP/s (%s)\n", bf16.gflops, bf16.isa.c_str());
  }
  std::printf("%-22s %10s %10s %12s", "norm", "ms/step", "images/s", "norm share");
  if (dev == Device::CUDA)  // queued back to back: eager and graph, host enqueue and GPU ms per step
    std::printf(" %8s %8s %8s %8s", "eag host", "eag gpu", "grf host", "grf gpu");
  std::printf("\n");
  std::vector<float> lv(f.batch);
  for (int64_t i = 0; i < f.batch; ++i) lv[i] = float(i % 10);
  const Batch b{Tensor::normal(Shape{f.batch, 32, 32, 3}, 1, 0.f, 1.f, dev), Tensor::from_vector(lv, Shape{f.batch}, dev)};
  Report rep;
  for (NormKind kind : {NormKind::None, NormKind::BatchNorm, NormKind::BatchRenorm})
    for (int64_t m : {f.batch, f.micro})
      if (kind != NormKind::None || m == f.batch)
        run_config(kind == NormKind::None ? "none" : std::string(norm_name(kind)) + " M=" + std::to_string(m), kind, m, f, b,
                   dev, peak.gflops, rep);
  if (dev == Device::CPU && f.conv_engines == "all") {
    namespace kc = kernels::cpu;
    const kc::ConvEngine chosen = kc::conv_engine();
    for (kc::ConvEngine e : {kc::ConvEngine::OneDnn, kc::ConvEngine::Im2col}) {
      if (e == chosen || (e == kc::ConvEngine::OneDnn && !kc::onednn_available())) continue;
      kc::set_conv_engine(e);
      run_config(std::string("none, ") + kc::conv_engine_name(e) + " conv", NormKind::None, f.batch, f, b, dev, peak.gflops, rep);
    }
    kc::set_conv_engine(chosen);
  }
  const std::string& jrows = rep.json;
  const std::string& breakdowns = rep.breakdowns;
  std::printf("%s", breakdowns.c_str());
  const std::string cpu = dev == Device::CPU ? ", \"cpu\": \"" + bench::cpu_description() + "\", \"isa\": \"" +
                                                  cpu_isa_name(cpu_isa()) + "\", \"conv_engine\": \"" +
                                                  kernels::cpu::conv_engine_name(kernels::cpu::conv_engine()) + "\", \"fma_peak_gflops\": " +
                                                  std::to_string(fma.gflops) + ", \"fma_isa\": \"" + fma.isa + "\", \"bf16_peak_gflops\": " +
                                                  std::to_string(bf16.gflops) + ", \"bf16_isa\": \"" + bf16.isa + "\"" : "";
  if (!f.json.empty())
    write_file_atomic(f.json, "{\"device\": \"" + device_description(dev) + "\"" + cpu + ", \"precision\": \"" +
                                  enum_name(f.precision) + "\", \"batch\": " +
                                  std::to_string(f.batch) + ", \"results\": [\n" + jrows + "\n]}\n");
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "renorm-bench-step: %s\n", e.what());
  return 1;
}
