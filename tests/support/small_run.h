// The trainer tests' small run: 12 steps of B = 16 in microbatches of 4 on the CPU, a metrics row every
// 2 steps, a validation and checkpoint every 4, alpha 0.1 (so short runs move the moving averages).
#pragma once
#include <string>

#include "train/config.h"

namespace renorm::test {

inline TrainConfig small_run(const std::string& data, const std::string& out) {
  TrainConfig c;
  c.data_dir = data;
  c.out_dir = out;
  c.batch = 16;
  c.norm_config.microbatch = 4;
  c.steps = 12;
  c.log_every = 2;
  c.eval_every = 4;
  c.device = "cpu";
  c.progress = false;
  c.lr = 0.02f;
  c.norm_config.alpha = 0.1f;
  return c;
}

}  // namespace renorm::test
