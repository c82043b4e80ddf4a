// The data-parallel training step (docs/distributed.md): images/s of the CIFAR CNN at a global batch B on
// K ranks, the bytes all-reduced per step, and the share of the step spent waiting for the all-reduces
// (GradReducer::finish, after backward). Run it as one process (--threads T) or under mpirun:
//   renorm-bench-dp --threads 2                                   # 1 rank x 2 threads
//   mpirun -np 2 renorm-bench-dp --threads 1                      # 2 ranks x 1 thread
//   renorm-bench-dp [--batch 128] [--microbatch 4] [--norm brn] [--steps 20] [--device cpu|cuda] [--threads T]
// Each rank takes B/K examples; the norm groups are --microbatch examples on every K. Median of the timed
// steps after two warm-ups; rank 0 prints.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "models/cifar_cnn.h"
#include "runtime/comm.h"
#include "runtime/error.h"
#include "tensor/ops.h"
#include "train/grad_reducer.h"
#include "train/optim.h"

using namespace renorm;

namespace {
double now_ms() { return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Options {
  int64_t batch = 128, micro = 4, steps = 20, threads = 0;
  std::string device = "cpu", norm = "brn";
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--batch") o.batch = std::stoll(argv[i + 1]);
    else if (flag == "--microbatch") o.micro = std::stoll(argv[i + 1]);
    else if (flag == "--steps") o.steps = std::stoll(argv[i + 1]);
    else if (flag == "--threads") o.threads = std::stoll(argv[i + 1]);
    else if (flag == "--device") o.device = argv[i + 1];
    else if (flag == "--norm") o.norm = argv[i + 1];
    else throw ConfigError("unknown flag " + flag);
  }
  return o;
}

struct Timing {
  double step_ms, wait_ms;
};

// Median step time and median wait in GradReducer::finish over `steps` steps after two warm-ups.
Timing time_steps(CifarCnn& net, Sgd& opt, GradReducer& reducer, Communicator& world, const Tensor& x,
                  const Tensor& labels, int64_t steps, Device dev) {
  std::vector<double> step_ms, wait_ms;
  for (int64_t s = 0; s < steps + 2; ++s) {
    world.barrier();
    synchronize(dev);
    const double t0 = now_ms();
    opt.zero_grad();
    const Tensor loss = softmax_cross_entropy(net.forward(x), labels);
    double w0 = 0, w1 = 0;
    if (world.size() > 1) {
      reducer.start_buffers();
      reducer.backward(loss);
      synchronize(dev);
      w0 = now_ms();
      reducer.finish();
      synchronize(dev);
      w1 = now_ms();
    } else {
      loss.backward();
    }
    opt.step();
    synchronize(dev);
    if (s >= 2) {
      step_ms.push_back(now_ms() - t0);
      wait_ms.push_back(w1 - w0);
    }
  }
  return {median(step_ms), median(wait_ms)};
}
}  // namespace

int main(int argc, char** argv) try {
  const Options o = parse(argc, argv);
  const std::shared_ptr<Communicator> world = world_communicator();
  const int k = world->size(), rank = world->rank();
  if (o.batch % k != 0 || (o.batch / k) % o.micro != 0) throw ConfigError("--batch must be K x a multiple of --microbatch");
  if (o.threads > 0) omp_set_num_threads(int(o.threads));
  const Device dev = parse_device(o.device);
  std::unique_ptr<Communicator> nccl = k > 1 && dev == Device::CUDA ? make_nccl_communicator(*world) : nullptr;
  const int64_t b = o.batch / k;
  ModelConfig cfg;
  cfg.norm = parse_norm(o.norm);
  cfg.norm_config.microbatch = o.micro;
  cfg.norm_config.schedule = ClipSchedule::constant(3.f, 5.f);
  cfg.first_example = rank * b;
  CifarCnn net(cfg, dev);
  Sgd opt(net.named_parameters(), 0.001f);
  GradReducer reducer(net.named_parameters(), net.named_buffers(), nccl ? *nccl : *world, dev);
  const Tensor x = Tensor::normal(Shape{b, 32, 32, 3}, 1 + uint64_t(rank), 0.f, 1.f, dev);
  std::vector<float> lv(size_t(b), 0.f);
  for (int64_t i = 0; i < b; ++i) lv[size_t(i)] = float((rank * b + i) % 10);
  const Tensor labels = Tensor::from_vector(lv, Shape{b}, dev);
  const Timing t = time_steps(net, opt, reducer, *world, x, labels, o.steps, dev);
  if (rank == 0)
    std::printf("data-parallel step, %s, norm %s M=%lld, B %lld = %d rank(s) x %lld, %d thread(s) per rank: %.2f ms/step, "
                "%.1f images/s, %lld bytes all-reduced per step in %lld buckets, waiting %.2f ms (%.1f%% of the step)\n",
                device_description(dev).c_str(), o.norm.c_str(), (long long)o.micro, (long long)o.batch, k, (long long)b,
                omp_get_max_threads(), t.step_ms, 1000.0 * double(o.batch) / t.step_ms,
                (long long)(k > 1 ? reducer.bytes_per_step() : 0), (long long)reducer.buckets(), t.wait_ms,
                100.0 * t.wait_ms / t.step_ms);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "renorm-bench-dp: %s\n", e.what());
  abort_world(1);
  return 1;
}
