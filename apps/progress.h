// The terminal display of a training run (renorm-train, renorm-reproduce): a progress bar redrawn in
// place on a terminal, one line per metrics row otherwise. The library reports; this prints.
#pragma once
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <string>

#include "apps/main_guard.h"
#include "tensor/ops/renorm.h"
#include "train/observer.h"

namespace renorm::app {

class ConsoleProgress : public TrainObserver {
 public:
  explicit ConsoleProgress(bool allow_bar) : bar_(allow_bar && isatty(fileno(stdout))) {}

  void started(const RunStart& s) override {
    const std::string ranks = s.ranks > 1 ? " (" + std::to_string(s.ranks) + " ranks of " + std::to_string(s.batch / s.ranks) + ")" : "";
    std::printf("renorm-train: %s, %s (%lld parameters), norm %s, B %lld%s, M %lld, %lld steps (%lld per epoch), %s -> %s\n",
                s.dataset.c_str(), s.model.c_str(), (long long)s.parameters, s.norm.c_str(), (long long)s.batch, ranks.c_str(), (long long)s.microbatch, (long long)s.total_steps,
                (long long)s.steps_per_epoch, s.device.c_str(), s.out_dir.c_str());
    if (s.precision != "fp32") std::printf("renorm-train: precision %s\n", s.precision.c_str());
    if (s.bf16_slow)
      std::printf("renorm-train: note: renorm runs without AVX512_BF16 or AMX here (the CPU lacks them, or "
                  "RENORM_CPU_ISA holds it below AVX-512), so bf16 is slower here than --precision fp32\n");
    if (s.renorm && s.clip_warmup >= s.total_steps)
      std::printf("renorm-train: note: the run ends within the clipping warmup (%lld steps at alpha %g), so r = 1 "
                  "and d = 0 throughout: Batch Renorm acts as batchnorm here; more steps, a larger --alpha or "
                  "--clip-warmup change that\n",
                  (long long)ClipSchedule::settle_steps(s.alpha), s.alpha);
    else if (s.renorm)
      std::printf("renorm-train: clipping: r = 1, d = 0 until step %lld, then rmax reaches %g at step %lld and dmax %g "
                  "at step %lld\n", (long long)s.clip_warmup, s.rmax, (long long)s.rmax_steps, s.dmax, (long long)s.dmax_steps);
    std::fflush(stdout);
  }

  void row(const MetricsRow& r, int64_t total, bool evaluated, double eta_s) override {
    last_row_ = r.step;
    if (evaluated) last_val_ = " val " + format_number(r.val_acc, 4);
    if (bar_)
      std::printf("\r[%-30s] %lld/%lld %.1f img/s ETA %.0fs loss %s acc %s%s        ", bar(r.step, total).c_str(),
                  (long long)r.step, (long long)total, r.images_per_s, eta_s, shown(r.train_loss, 4).c_str(),
                  shown(r.train_acc, 3).c_str(), last_val_.c_str());
    else
      std::printf("step %lld/%lld epoch %.2f loss %.4f acc %.4f%s lr %.4g %.1f img/s\n", (long long)r.step,
                  (long long)total, r.epoch, r.train_loss, r.train_acc,
                  evaluated ? (" val_loss " + format_number(r.val_loss, 4) + " val_acc " + format_number(r.val_acc, 4)).c_str()
                            : "",
                  r.lr, r.images_per_s);
    std::fflush(stdout);
  }

  // Between metrics rows the loss and accuracy shown are the last row's, and say so ("at step 50");
  // before the first row there is none: "—", not the "nan" that reads as divergence.
  void tick(int64_t step, int64_t total, double images_per_s, double eta_s, double loss, double acc) override {
    if (!bar_) return;
    const std::string when = last_row_ > 0 ? " (at step " + std::to_string(last_row_) + ")" : "";
    std::printf("\r[%-30s] %lld/%lld %.1f img/s ETA %.0fs loss %s acc %s%s%s        ", bar(step, total).c_str(),
                (long long)step, (long long)total, images_per_s, eta_s, shown(loss, 4).c_str(), shown(acc, 3).c_str(),
                when.c_str(), last_val_.c_str());
    std::fflush(stdout);
  }

  void finished() override {
    if (bar_) std::printf("\n");
  }

  bool stop_requested() override { return stop_signal != 0; }

 private:
  static std::string bar(int64_t step, int64_t total) { return std::string(30 * step / total, '#'); }
  static std::string shown(double v, int decimals) {  // "—" until there is a value
    if (std::isnan(v)) return "\u2014";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
  }
  bool bar_;
  int64_t last_row_ = 0;  // the step of the last metrics row (0: none yet)
  std::string last_val_;  // " val 0.4123" after the first validation
};

}  // namespace renorm::app
