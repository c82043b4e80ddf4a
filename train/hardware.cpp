#include "train/hardware.h"

#include "kernels/conv.h"
#include "runtime/cpu_isa.h"

namespace renorm {

std::string hardware_description() {
  namespace kc = kernels::cpu;
  const kc::ConvEngine engine = kc::conv_engine();
  const std::string convolutions =
      engine == kc::ConvEngine::OneDnn ? "oneDNN " + kc::onednn_version() : std::string(kc::conv_engine_name(engine));
  return "CPU " + cpu_description() + "; renorm ISA " + cpu_isa_name(cpu_isa()) + "; convolutions " + convolutions;
}

}  // namespace renorm
