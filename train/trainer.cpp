#include "train/trainer.h"

#include <omp.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "tensor/autograd.h"
#include "runtime/error.h"
#include "tensor/ops.h"
#include "data/loader.h"
#include "tensor/ops.h"
#include "train/optim.h"
#include "models/cifar_cnn.h"
#include "train/checkpoint.h"
#include "train/json.h"

#ifndef RENORM_VERSION
#define RENORM_VERSION "unknown"
#endif

namespace renorm {

namespace fs = std::filesystem;

namespace {
std::string to_text(const std::string& v) { return json_quote(v); }
std::string to_text(bool v) { return v ? "true" : "false"; }
template <class T>
std::string to_text(T v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

void check(bool ok, const std::string& message) {
  if (!ok) throw ConfigError(message);
}

const char* kMetricsHeader =
    "step,epoch,train_loss,train_acc,val_loss,val_acc,rmax,dmax,clip_r,clip_d,lr,elapsed_s,images_per_s";

struct MetricsLog {
  std::string path;
  std::vector<std::pair<int64_t, std::string>> rows;  // (step, line)
  void add(int64_t step, const std::string& line) {
    rows.emplace_back(step, line);
    std::string all = std::string(kMetricsHeader) + "\n";
    for (const auto& r : rows) all += r.second + "\n";
    write_file_atomic(path, all);
  }
  // The rows of an earlier run up to `step` (resume).
  void load(const std::string& file, int64_t step) {
    std::ifstream in(file);
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line))
      if (!line.empty() && std::stoll(line.substr(0, line.find(','))) <= step) rows.emplace_back(std::stoll(line), line);
  }
};

std::string fmt(double v, int digits = 6) {
  if (std::isnan(v)) return "";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  return buf;
}
}  // namespace

void validate(const TrainConfig& c) {
  check(c.dataset == "cifar10" || c.dataset == "fashion-mnist", "--dataset: '" + c.dataset + "' is not one of cifar10, fashion-mnist");
  if (c.data_dir.empty()) throw ConfigError("--data-dir: not given (nor $RENORM_DATA_DIR)");
  if (!fs::is_directory(c.data_dir)) throw IoError("--data-dir " + c.data_dir + ": no such folder");
  parse_norm(c.norm);
  check(c.batch > 0, "--batch must be > 0, got " + std::to_string(c.batch));
  check(c.microbatch >= 0, "--microbatch must be >= 1 (or 0 for the whole batch), got " + std::to_string(c.microbatch));
  check(c.microbatch == 0 || c.batch % c.microbatch == 0,
        "--microbatch " + std::to_string(c.microbatch) + " does not divide --batch " + std::to_string(c.batch));
  check(c.epochs >= 0, "--epochs must be > 0, got " + std::to_string(c.epochs));
  check(c.steps >= 0, "--steps must be > 0, got " + std::to_string(c.steps));
  check((c.epochs > 0) != (c.steps > 0), "give exactly one of --epochs and --steps");
  check(c.optimizer == "sgd" || c.optimizer == "adam", "--optimizer: '" + c.optimizer + "' is not one of sgd, adam");
  check(c.lr >= 0, "--lr must be >= 0");
  LrSchedule::parse(c.lr_schedule);
  check(c.rmax >= 1.f, "--rmax must be >= 1, got " + to_text(c.rmax));
  check(c.dmax >= 0.f, "--dmax must be >= 0, got " + to_text(c.dmax));
  check(c.alpha > 0.f && c.alpha <= 1.f, "--alpha must be in (0, 1], got " + to_text(c.alpha));
  check(c.eps > 0.f, "--eps must be > 0, got " + to_text(c.eps));
  check(c.eval_every >= 0 && c.log_every > 0 && c.lr_warmup >= 0, "--eval-every, --lr-warmup must be >= 0 and --log-every > 0");
  check(c.train_limit >= 0 && c.val_limit >= 0 && c.threads >= 0, "--train-limit, --val-limit and --threads must be >= 0");
  parse_sampler(c.sampler);
  check(c.sampler != "noniid" || c.batch % 2 == 0, "--sampler noniid needs an even --batch");
  parse_device(c.device);
  if (c.out_dir.empty()) throw ConfigError("--out: not given");
  std::error_code ec;
  fs::create_directories(c.out_dir, ec);
  const std::string probe = c.out_dir + "/.renorm-write-probe";
  if (!std::ofstream(probe)) throw IoError("--out " + c.out_dir + ": folder cannot be created or written");
  fs::remove(probe, ec);
}

std::string config_to_json(TrainConfig c, const std::string& device_name) {
  std::string out = "{\n  \"renorm_version\": " + json_quote(RENORM_VERSION) + ",\n  \"device_name\": " + json_quote(device_name);
  c.visit([&](const char* name, auto& field, const char*) { out += ",\n  " + json_quote(name) + ": " + to_text(field); });
  return out + "\n}\n";
}

TrainConfig config_from_json_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw IoError(path + ": cannot read the run's configuration");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const Json j = parse_json(text, path);
  TrainConfig c;
  if (!j.is_object()) throw IoError(path + ": not a JSON object");
  c.visit([&](const char* name, auto& field, const char*) {
    const auto v = j.find(name);
    if (v == j.end()) throw IoError(path + ": setting '" + std::string(name) + "' is missing");
    using T = std::decay_t<decltype(field)>;
    const bool ok = std::is_same_v<T, std::string> ? v->is_string() : std::is_same_v<T, bool> ? v->is_boolean()
                                                                                               : v->is_number();
    if (!ok) throw IoError(path + ": setting '" + std::string(name) + "' has the wrong type: " + v->dump());
    if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, bool>) field = v->template get<T>();
    else field = static_cast<T>(v->template get<double>());
  });
  return c;
}

namespace {
struct Eval {
  double loss = NAN, acc = NAN;
};

Eval evaluate(CifarCnn& model, DataLoader& val) {
  model.eval();
  NoGradGuard no_grad;
  val.seek(0);
  double loss = 0, correct = 0, n = 0;
  for (int64_t k = 0; k < val.batches_per_epoch(); ++k) {
    const Batch b = val.next();
    Tensor hits;
    const float l = softmax_cross_entropy(model.forward(b.images), b.labels, &hits).item();
    loss += double(l) * b.labels.numel();
    correct += sum(hits).item();
    n += b.labels.numel();
  }
  model.train();
  return {loss / n, correct / n};
}

void truncate(Dataset& d, int64_t limit) {
  if (limit <= 0 || limit >= d.size()) return;
  d.labels.resize(limit);
  d.pixels.resize(limit * d.image_bytes());
}
}  // namespace

TrainResult train(TrainConfig c) {
  if (!c.resume_dir.empty()) {  // the run's own settings; only the output folder and the display may differ
    const std::string out = c.out_dir.empty() ? c.resume_dir : c.out_dir, resume = c.resume_dir;
    const bool progress = c.progress;
    const int64_t stop_after = c.stop_after;
    c = config_from_json_file(resume + "/config.json");
    c.out_dir = out;
    c.resume_dir = resume;
    c.progress = progress;
    c.stop_after = stop_after;
  }
  validate(c);
  if (c.threads > 0) omp_set_num_threads(c.threads);
  const Device dev = parse_device(c.device);
  Dataset train_set = load_dataset(c.dataset, c.data_dir, true), val_set = load_dataset(c.dataset, c.data_dir, false);
  truncate(train_set, c.train_limit);
  truncate(val_set, c.val_limit);
  const Normalization norm = Normalization::of(train_set);
  LoaderConfig tl{c.batch, true, c.augment, true, parse_sampler(c.sampler), c.seed};
  LoaderConfig vl{c.batch, false, false, false, Sampler::Iid, c.seed};
  DataLoader train_loader(train_set, norm, tl, dev), val_loader(val_set, norm, vl, dev);
  const int64_t per_epoch = train_loader.batches_per_epoch();
  const int64_t total = c.steps > 0 ? c.steps : c.epochs * per_epoch;
  const int64_t eval_every = c.eval_every > 0 ? c.eval_every : per_epoch;

  CnnConfig mc;
  mc.height = train_set.height;
  mc.width = train_set.width;
  mc.channels = train_set.channels;
  mc.classes = train_set.num_classes();
  mc.norm = parse_norm(c.norm);
  mc.seed = c.seed;
  if (c.microbatch > 0) mc.norm_config.microbatch = c.microbatch;
  mc.norm_config.eps = c.eps;
  mc.norm_config.alpha = c.alpha;
  ClipSchedule sched = ClipSchedule::paper(total);
  sched.rmax_final = c.rmax;
  sched.dmax_final = c.dmax;
  if (c.clip_warmup >= 0) sched.warmup_steps = c.clip_warmup;
  if (c.rmax_steps >= 0) sched.rmax_steps = c.rmax_steps;
  if (c.dmax_steps >= 0) sched.dmax_steps = c.dmax_steps;
  mc.norm_config.schedule = sched;
  CifarCnn model(mc, dev);

  std::unique_ptr<Optimizer> opt;
  if (c.optimizer == "sgd") opt = std::make_unique<Sgd>(model.named_parameters(), c.lr, SgdOptions{c.momentum, c.weight_decay, c.nesterov});
  else opt = std::make_unique<Adam>(model.named_parameters(), c.lr, AdamOptions{c.momentum, 0.999f, 1e-8f, c.weight_decay});
  LrSchedule lrs;
  lrs.kind = LrSchedule::parse(c.lr_schedule);
  lrs.base = c.lr;
  lrs.warmup_steps = c.lr_warmup;
  lrs.total_steps = total;
  lrs.step_size = c.lr_step_size > 0 ? c.lr_step_size : std::max<int64_t>(1, total / 3);
  lrs.gamma = c.lr_gamma;

  const std::string ckpt_path = c.out_dir + "/checkpoint.safetensors";
  MetricsLog metrics{c.out_dir + "/metrics.csv", {}};
  int64_t step = 0;
  double elapsed_before = 0;
  auto state = [&] {
    NamedTensors all;
    for (auto& [n, t] : model.named_parameters()) all.emplace_back("param/" + n, t);
    for (auto& [n, t] : model.named_buffers()) all.emplace_back("buffer/" + n, t);
    for (auto& [n, t] : opt->named_state()) all.emplace_back("optim/" + n, t);
    return all;
  };
  if (!c.resume_dir.empty()) {
    const std::string from = c.resume_dir + "/checkpoint.safetensors";
    const SafeTensors ck = load_safetensors(from);
    restore_tensors(state(), ck, "", from);
    step = std::stoll(ck.metadata.at("step"));
    elapsed_before = std::stod(ck.metadata.at("elapsed_s"));
    opt->set_steps(std::stoll(ck.metadata.at("optimizer_steps")));
    metrics.load(c.resume_dir + "/metrics.csv", step);
  }
  model.set_step(step);
  train_loader.seek(step);
  write_file_atomic(c.out_dir + "/config.json", config_to_json(c, device_description(dev)));

  const bool tty = c.progress && isatty(fileno(stdout));
  std::printf("renorm-train: %s, norm %s, B %lld, M %lld, %lld steps (%lld per epoch), %s -> %s\n", c.dataset.c_str(),
              c.norm.c_str(), (long long)c.batch, (long long)(c.microbatch ? c.microbatch : c.batch), (long long)total,
              (long long)per_epoch, device_description(dev).c_str(), c.out_dir.c_str());
  std::fflush(stdout);
  const auto t0 = std::chrono::steady_clock::now();
  auto now_s = [&] { return elapsed_before + std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  Tensor loss_acc = Tensor::zeros(Shape{}, dev), hit_acc = Tensor::zeros(Shape{}, dev);
  int64_t since = 0;
  double row_time = now_s();
  Eval last;
  double bar_loss = NAN, bar_acc = NAN;  // last reported values, for the progress bar
  for (; step < total; ++step) {
    const Batch b = train_loader.next();
    opt->set_lr(lrs.at(step));
    Tensor hits;
    Tensor loss = softmax_cross_entropy(model.forward(b.images), b.labels, &hits);
    opt->zero_grad();
    loss.backward();
    opt->step();
    {
      NoGradGuard ng;
      loss_acc = add(loss_acc, loss.detach());
      hit_acc = add(hit_acc, scale(sum(hits), 1.f / float(b.labels.numel())));
    }
    ++since;
    const bool eval_now = (step + 1) % eval_every == 0 || step + 1 == total;
    if ((step + 1) % c.log_every == 0 || eval_now) {
      const double tl = loss_acc.item() / since, ta = hit_acc.item() / since;  // reporting: the one sync
      if (!std::isfinite(tl))
        throw TrainingDiverged("training loss became " + fmt(tl) + " between steps " + std::to_string(step + 1 - since) +
                               " and " + std::to_string(step + 1) + "; stopped (last good checkpoint: " +
                               (fs::exists(ckpt_path) ? ckpt_path : std::string("none yet")) + ")");
      const double t = now_s(), ips = double(since * c.batch) / std::max(t - row_time, 1e-9);
      Eval ev;
      if (eval_now) last = ev = evaluate(model, val_loader);
      const ClipFractions cf = model.clip_fractions();
      const BatchRenorm* n0 = model.norms().empty() ? nullptr : model.norms()[0];
      const std::string line = std::to_string(step + 1) + "," + fmt(double(step + 1) / per_epoch) + "," + fmt(tl) + "," +
                               fmt(ta) + "," + fmt(ev.loss) + "," + fmt(ev.acc) + "," + fmt(n0 ? n0->rmax() : 1.0) + "," +
                               fmt(n0 ? n0->dmax() : 0.0) + "," + fmt(cf.r) + "," + fmt(cf.d) + "," + fmt(opt->lr()) + "," +
                               fmt(t, 8) + "," + fmt(ips);
      metrics.add(step + 1, line);
      bar_loss = tl;
      bar_acc = ta;
      if (eval_now) {
        Metadata meta{{"step", std::to_string(step + 1)}, {"elapsed_s", fmt(t, 10)},
                      {"optimizer_steps", std::to_string(opt->steps())}, {"format", "renorm checkpoint v1"},
                      // Data order, augmentation and dropout are counter-based: (seed, step) is their whole state.
                      {"seed", std::to_string(c.seed)}, {"data_position", std::to_string(train_loader.position())}};
        save_safetensors(ckpt_path, state(), meta);
      }
      const double eta = (t - row_time) / double(since) * double(total - step - 1);
      if (tty) {
        std::printf("\r[%-30s] %lld/%lld %.1f img/s ETA %.0fs loss %.4f acc %.3f%s", std::string(30 * (step + 1) / total, '#').c_str(),
                    (long long)(step + 1), (long long)total, ips, eta, tl, ta,
                    eval_now ? (" val " + fmt(ev.acc, 4)).c_str() : "");
      } else {
        std::printf("step %lld/%lld epoch %.2f loss %.4f acc %.4f%s lr %.4g %.1f img/s\n", (long long)(step + 1),
                    (long long)total, double(step + 1) / per_epoch, tl, ta,
                    eval_now ? (" val_loss " + fmt(ev.loss, 4) + " val_acc " + fmt(ev.acc, 4)).c_str() : "", opt->lr(), ips);
      }
      std::fflush(stdout);
      loss_acc.fill_(0.f);
      hit_acc.fill_(0.f);
      since = 0;
      row_time = t;
    }
    if (tty && since > 0 && (step + 1) % std::max<int64_t>(1, c.log_every / 10) == 0) {  // host clock only: no sync
      const double t = now_s(), rate = double(since * c.batch) / std::max(t - row_time, 1e-9);
      std::printf("\r[%-30s] %lld/%lld %.1f img/s ETA %.0fs loss %.4f acc %.3f        ",
                  std::string(30 * (step + 1) / total, '#').c_str(), (long long)(step + 1), (long long)total, rate,
                  double(total - step - 1) * c.batch / std::max(rate, 1e-9), bar_loss, bar_acc);
      std::fflush(stdout);
    }
    if (c.stop_after > 0 && step + 1 == c.stop_after) return {step + 1, last.loss, last.acc, now_s()};
  }
  if (tty) std::printf("\n");
  NamedTensors weights = model.named_parameters();
  for (auto& [n, t] : model.named_buffers()) weights.emplace_back(n, t);
  save_safetensors(c.out_dir + "/model.safetensors", weights, {{"norm", c.norm}, {"dataset", c.dataset}});
  return {total, last.loss, last.acc, now_s()};
}

}  // namespace renorm
