#include "models/factory.h"

#include "models/cifar_cnn.h"
#include "models/resnet.h"

namespace renorm {

std::unique_ptr<Model> make_model(const ModelConfig& config, Device device) {
  switch (config.kind) {
    case ModelKind::CifarCnn: return std::make_unique<CifarCnn>(config, device);
    case ModelKind::ResNet20: return std::make_unique<ResNet20>(config, device);
  }
  throw ConfigError("model: unknown kind");
}

}  // namespace renorm
