// The one place a model is named and built (issue 24): everything above models/ builds networks here
// and trains them through models/model.h.
#pragma once
#include <memory>

#include "models/model.h"

namespace renorm {

// The model config.kind names, on `device`; ConfigError for an input it cannot take.
std::unique_ptr<Model> make_model(const ModelConfig& config, Device device);

}  // namespace renorm
