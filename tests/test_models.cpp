// The models through the factory (models/factory.h): ResNet-20's shape (parameters, norm layers, the
// output for CIFAR-10 and Fashion-MNIST inputs), the model interface's gap measurement on it, and the
// trainer with --model resnet20: its metrics columns, a resume refused for another model.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "models/factory.h"
#include "runtime/error.h"
#include "train/trainer.h"
#include "support/small_run.h"
#include "support/synthetic_data.h"

using namespace renorm;

namespace {
ModelConfig resnet(NormKind norm, int64_t h = 32, int64_t w = 32, int64_t c = 3) {
  ModelConfig cfg;
  cfg.kind = ModelKind::ResNet20;
  cfg.norm = norm;
  cfg.height = h, cfg.width = w, cfg.channels = c;
  cfg.norm_config.microbatch = 4;
  cfg.norm_config.schedule = ClipSchedule::constant(2.f, 1.f);
  return cfg;
}
std::string first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}
}  // namespace

TEST_CASE("models: ResNet-20 has He et al.'s 0.27M parameters and 19 norm layers", "[models]") {
  const std::unique_ptr<Model> net = make_model(resnet(NormKind::BatchRenorm), Device::CPU);
  // 19 convolutions without bias: 432 + 6·2304 + (4608 + 5·9216) + (18432 + 5·36864) = 267,696; 19 norm
  // layers' γ and β: 2·(16 + 6·16 + 6·32 + 6·64) = 1,376; the linear layer 64·10 + 10 = 650.
  CHECK(net->parameter_count() == 269722);
  CHECK(net->norms().size() == 19);
  CHECK(net->norm_positions() == 19);
  const Tensor x = Tensor::normal(Shape{8, 32, 32, 3}, 1, 0.f, 1.f);
  CHECK(net->forward(x).shape() == Shape{8, 10});
  CHECK(net->train_inference_gaps(x).size() == 19);
  CHECK(net->training());
  // Without a norm the convolutions get their biases back (16·7 + 32·6 + 64·6 = 688) and nothing else.
  const std::unique_ptr<Model> plain = make_model(resnet(NormKind::None), Device::CPU);
  CHECK(plain->parameter_count() == 267696 + 688 + 650);
  CHECK(plain->norms().empty());
  CHECK(plain->norm_positions() == 19);
  // Fashion-MNIST's 28x28x1: 28 -> 14 -> 7, the option-A shortcut's ceil(7/2) = 4 matching the convolution's.
  const std::unique_ptr<Model> fashion = make_model(resnet(NormKind::BatchNorm, 28, 28, 1), Device::CPU);
  CHECK(fashion->forward(Tensor::normal(Shape{4, 28, 28, 1}, 2, 0.f, 1.f)).shape() == Shape{4, 10});
  CHECK_THROWS_AS(make_model(resnet(NormKind::BatchNorm, 3, 3, 1), Device::CPU), ConfigError);
}

TEST_CASE("trainer: --model resnet20 trains, sizes its gap columns, and a resume with another model is refused",
          "[models][trainer]") {
  const std::string data = test::make_synthetic_cifar("resnet20", 32, 32), out = data + "/run";
  TrainConfig c = test::small_run(data, out);
  c.model = ModelKind::ResNet20;
  c.steps = 4;
  c.stop_after = 4;
  const TrainResult r = train(c);
  CHECK(r.steps == 4);
  const std::string header = first_line(out + "/metrics.csv");
  CHECK(header.find(",gap_norm19") != std::string::npos);
  CHECK(header.find(",gap_norm20") == std::string::npos);
  CHECK(config_from_json_file(out + "/config.json").model == ModelKind::ResNet20);
  TrainConfig again;
  again.resume_dir = out;
  again.model = ModelKind::CifarCnn;
  again.explicit_settings = {"model"};
  again.progress = false;
  CHECK_THROWS_WITH(train(again), Catch::Contains("--model: cifar-cnn given, resnet20 in the run"));
}
