// The trainer end to end on generated data: output files, flag validation, checkpoints, exact resume,
// learning well above chance, and a stop with a clear message when the loss diverges.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "runtime/error.h"
#include "train/checkpoint.h"
#include "train/detail/json.h"
#include "train/metrics.h"
#include "train/norm_stats.h"
#include "train/trainer.h"
#include "support/small_run.h"
#include "support/synthetic_data.h"

using namespace renorm;
namespace fs = std::filesystem;

namespace {
std::string read(const std::string& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// metrics.csv without the wall-clock columns (elapsed_s, images_per_s: the 12th and 13th)
std::vector<std::string> metric_values(const std::string& path) {
  std::vector<std::string> rows;
  std::istringstream in(read(path));
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> cells;
    std::istringstream cols(line);
    for (std::string cell; std::getline(cols, cell, ',');) cells.push_back(cell);
    if (!line.empty() && line.back() == ',') cells.push_back("");
    std::string kept;
    for (size_t i = 0; i < cells.size(); ++i)
      if (i != 11 && i != 12) kept += (kept.empty() && i == 0 ? "" : ",") + cells[i];
    rows.push_back(kept);
  }
  return rows;
}
}  // namespace

TEST_CASE("trainer: writes config.json, metrics.csv, checkpoint and model", "[trainer]") {
  const std::string data = test::make_synthetic_cifar("trainer", 40, 40), out = data + "/run";
  const TrainResult r = train(test::small_run(data, out));
  CHECK(r.steps == 12);
  for (const char* f : {"config.json", "metrics.csv", "checkpoint.safetensors", "model.safetensors"})
    CHECK(fs::exists(out + "/" + f));
  CHECK_FALSE(fs::exists(out + "/checkpoint.safetensors.tmp"));
  const std::vector<std::string> rows = metric_values(out + "/metrics.csv");
  CHECK(rows.size() == 1 + 6);
  CHECK(rows[0] == "step,epoch,train_loss,train_acc,val_loss,val_acc,rmax,dmax,clip_r,clip_d,lr,val_acc_train_mode,"
                   "gap_norm1,gap_norm2,gap_norm3,gap_norm4,gap_norm5,gap_norm6");
  // The last row has a validation: the training-mode accuracy and six gaps are numbers, gaps > 0 (M = 4).
  std::vector<std::string> last;
  std::istringstream cells(rows.back());
  for (std::string cell; std::getline(cells, cell, ',');) last.push_back(cell);
  REQUIRE(last.size() == 18);
  const double acc_train_mode = std::stod(last[11]);
  CHECK((acc_train_mode >= 0.0 && acc_train_mode <= 1.0));
  for (size_t i = 12; i < 18; ++i) CHECK(std::stod(last[i]) > 0.0);
  const TrainConfig back = config_from_json_file(out + "/config.json");
  CHECK(back.norm_config.microbatch == 4);
  CHECK(back.norm == NormKind::BatchRenorm);
  CHECK(read(out + "/config.json").find("\"device_name\": \"CPU") != std::string::npos);
  CHECK(read(out + "/config.json").find("\"hardware\": \"CPU ") != std::string::npos);  // model, ISA, oneDNN
  const SafeTensors model = load_safetensors(out + "/model.safetensors");
  CHECK(model.find("0.weight"));
  CHECK(model.find("1.running_std"));
}

TEST_CASE("trainer: flag validation names the flag", "[trainer]") {
  const std::string data = test::make_synthetic_cifar("flags", 4, 4);
  auto bad = [&](auto edit) {
    TrainConfig c = test::small_run(data, data + "/run");
    edit(c);
    return c;
  };
  CHECK_THROWS_WITH(validate(bad([](auto& c) { c.norm_config.microbatch = 3; })), Catch::Contains("--microbatch 3 does not divide --batch 16"));
  CHECK_THROWS_WITH(validate(bad([](auto& c) { c.steps = -5; })), Catch::Contains("--steps must be > 0"));
  CHECK_THROWS_WITH(validate(bad([](auto& c) { c.steps = 0; })), Catch::Contains("exactly one of --epochs and --steps"));
  CHECK_THROWS_WITH(validate(bad([](auto& c) { c.data_dir = "/nonexistent"; })), Catch::Contains("--data-dir /nonexistent"));
  CHECK_THROWS_WITH(claim_run_folder(bad([](auto& c) { c.out_dir = "/etc/hostname/x"; })), Catch::Contains("--out /etc/hostname/x"));
  CHECK_THROWS_WITH(enum_parse<NormKind>("gn", "--norm"), Catch::Contains("--norm: 'gn' is not one of none, bn, brn"));
  CHECK_THROWS_WITH(enum_parse<DatasetKind>("mnist", "--dataset"), Catch::Contains("not one of cifar10, fashion-mnist"));
  CHECK_THROWS_WITH(validate(bad([](auto& c) { c.norm_config.alpha = 0; })), Catch::Contains("alpha must be in (0, 1]"));
  CHECK_THROWS_WITH(validate(bad([](auto& c) { c.norm_config.schedule.rmax_final = 0.5f; })), Catch::Contains("rmax must be >= 1"));
  CHECK_NOTHROW(validate(test::small_run(data, data + "/run")));
}

TEST_CASE("checkpoint: safetensors round trip with metadata, written atomically", "[trainer]") {
  const std::string path = (fs::temp_directory_path() / "renorm-ck.safetensors").string();
  const Tensor a = Tensor::normal(Shape{3, 4}, 1, 0.f, 1.f), b = Tensor::full(Shape{}, 2.5f);
  save_safetensors(path, {{"a", a}, {"b.scalar", b}}, {{"step", "42"}});
  const SafeTensors back = load_safetensors(path);
  REQUIRE(back.find("a"));
  CHECK(back.find("a")->to_vector() == a.to_vector());
  CHECK(back.find("b.scalar")->item() == 2.5f);
  CHECK(back.find("b.scalar")->rank() == 0);
  CHECK(back.metadata.at("step") == "42");
  const std::string bytes = read(path);
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(uint8_t(bytes[i])) << (8 * i);
  CHECK((8 + n) % 8 == 0);
  CHECK(bytes.substr(8, 2) == "{\"");
  CHECK_FALSE(fs::exists(path + ".tmp"));
  std::ofstream(path, std::ios::binary) << "short";
  CHECK_THROWS_AS(load_safetensors(path), IoError);
}

TEST_CASE("trainer: --resume continues bitwise like an uninterrupted run (CPU)", "[trainer]") {
  const std::string data = test::make_synthetic_cifar("resume", 40, 40);
  train(test::small_run(data, data + "/straight"));
  TrainConfig first = test::small_run(data, data + "/interrupted");
  first.stop_after = 8;  // after the checkpoint of step 8
  train(first);
  TrainConfig resume;
  resume.resume_dir = data + "/interrupted";
  resume.progress = false;
  train(resume);
  CHECK(metric_values(data + "/interrupted/metrics.csv") == metric_values(data + "/straight/metrics.csv"));
  CHECK(load_safetensors(data + "/interrupted/model.safetensors").find("0.weight")->to_vector() ==
        load_safetensors(data + "/straight/model.safetensors").find("0.weight")->to_vector());
}

namespace {
std::vector<std::vector<std::string>> csv_cells(const std::string& path) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(read(path));
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> cells;
    std::istringstream cols(line);
    for (std::string cell; std::getline(cols, cell, ',');) cells.push_back(cell);
    rows.push_back(cells);
  }
  return rows;
}
}  // namespace

// norm_stats.csv's clip fractions come from the probe's own r and d (the moving averages the step began
// with, the microbatches' moments); metrics.csv's from the kernel's counts. They agree only if the probe
// saw what the kernel saw.
TEST_CASE("trainer: --norm-stats on writes norm_stats.csv, the kernel's clip fractions, and changes nothing else",
          "[trainer]") {
  const std::string data = test::make_synthetic_cifar("normstats", 40, 40);
  TrainConfig c = test::small_run(data, data + "/probed");
  c.norm_config.schedule = ClipSchedule::constant(1.2f, 0.1f);  // some r and d clipped, some not
  TrainConfig plain = c;
  plain.out_dir = data + "/plain";
  c.norm_stats = OnOff::On;
  train(c);
  train(plain);
  CHECK(metric_values(c.out_dir + "/metrics.csv") == metric_values(plain.out_dir + "/metrics.csv"));
  CHECK_FALSE(fs::exists(plain.out_dir + "/norm_stats.csv"));
  const auto rows = csv_cells(c.out_dir + "/norm_stats.csv");
  const auto metrics = csv_cells(c.out_dir + "/metrics.csv");
  REQUIRE(rows.size() == 1 + 6 * 6);  // 6 metrics rows, 6 norm layers
  CHECK(rows[0].size() == 13);
  for (size_t row = 1; row < metrics.size(); ++row) {  // metrics: step,...,rmax(6),dmax(7),clip_r(8),clip_d(9)
    double clip_r = 0, clip_d = 0;
    for (size_t layer = 0; layer < 6; ++layer) {
      const auto& cells = rows[1 + (row - 1) * 6 + layer];
      CHECK(cells[0] == metrics[row][0]);
      CHECK(cells[1] == std::to_string(layer + 1));
      clip_r += std::stod(cells[8]) / 6;
      clip_d += std::stod(cells[9]) / 6;
    }
    CHECK(clip_r == Approx(std::stod(metrics[row][8])).margin(1e-5));
    CHECK(clip_d == Approx(std::stod(metrics[row][9])).margin(1e-5));
    CHECK((clip_r > 0 && clip_r < 1));
  }
  // Resumed, the rows up to the checkpoint are kept and the rest follow as in one run.
  TrainConfig first = c;
  first.out_dir = data + "/interrupted";
  first.stop_after = 8;
  train(first);
  TrainConfig resume;
  resume.resume_dir = first.out_dir;
  resume.progress = false;
  train(resume);
  CHECK(read(first.out_dir + "/norm_stats.csv") == read(c.out_dir + "/norm_stats.csv"));
}

TEST_CASE("trainer: a short run on a small learnable set reaches accuracy well above chance", "[trainer][slow]") {
  const std::string data = test::make_synthetic_cifar("learn", 60, 100);
  TrainConfig c = test::small_run(data, data + "/run");
  c.steps = 60;
  c.eval_every = 60;
  c.norm = NormKind::BatchNorm;
  c.norm_config.microbatch = 0;
  c.batch = 32;
  c.optimizer = OptimizerKind::Adam;
  c.lr = 2e-3f;
  const TrainResult r = train(c);
  INFO("validation accuracy " << r.final_val_acc);
  CHECK(r.final_val_acc > 0.6);  // chance: 0.1
}

TEST_CASE("trainer: a diverging loss stops the run with a clear message and keeps the checkpoint", "[trainer]") {
  const std::string data = test::make_synthetic_cifar("nan", 40, 20);
  TrainConfig c = test::small_run(data, data + "/run");
  c.norm = NormKind::None;
  c.lr = 1e30f;
  c.eval_every = 2;
  c.steps = 40;
  CHECK_THROWS_WITH(train(c), Catch::Contains("training loss became") && Catch::Contains("last good checkpoint"));
}

TEST_CASE("json: malformed or deeply nested input is an IoError naming the file, never a crash", "[json]") {
  CHECK_THROWS_WITH(parse_json(std::string(200000, '['), "deep.json"), Catch::Contains("deep.json: JSON nested deeper than 64 levels"));
  CHECK_THROWS_WITH(parse_json(std::string(200000, '[') + std::string(200000, ']'), "nested.json"),
                    Catch::Contains("nested.json: JSON nested deeper than 64 levels"));
  CHECK_THROWS_AS(parse_json("{\"a\": }", "bad.json"), IoError);
  CHECK(json_quote("a\"b\n") == "\"a\\\"b\\n\"");
}

TEST_CASE("metrics.csv: a file from before the mechanism columns still resumes, its rows padded", "[trainer]") {
  const std::string dir = test::make_synthetic_cifar("metrics-v1", 4, 4), old = dir + "/old.csv";
  std::ofstream(old) << "step,epoch,train_loss,train_acc,val_loss,val_acc,rmax,dmax,clip_r,clip_d,lr,elapsed_s,images_per_s\n"
                     << "5,1,2.3,0.1,2.2,0.12,1,0,0,0,0.01,1.5,100\n";
  MetricsLog log(dir + "/new.csv", 6);
  log.load(old, 5);
  log.write();
  const std::vector<std::string> rows = metric_values(dir + "/new.csv");
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].find(",val_acc_train_mode,gap_norm1,") != std::string::npos);
  CHECK(rows[1] == "5,1,2.3,0.1,2.2,0.12,1,0,0,0,0.01,,,,,,,");
}

TEST_CASE("config.json from before a later setting still loads - a missing first-version setting does not",
          "[trainer]") {
  TrainConfig c;
  c.out_dir = "x";
  std::string text = config_to_json(c, "CPU");
  const auto drop = [](std::string t, const std::string& key) {
    const size_t at = t.find("\"" + key + "\"");
    REQUIRE(at != std::string::npos);
    return t.erase(at, t.find('\n', at) - at + 1);
  };
  const TrainConfig back = config_from_json(drop(text, "sync-norm"), "old.json");
  CHECK_FALSE(back.sync_norm);
  CHECK(back.batch == c.batch);
  CHECK_THROWS_WITH(config_from_json(drop(text, "lr"), "old.json"), Catch::Contains("setting 'lr' is missing"));
}

// --precision bf16 (issue 25) and tf32 (issue 26) against fp32 from the same seed, Batch Renorm over
// microbatches of 4 with r and d clipping from step 5: the same initial weights (float32 masters), the
// first rows' losses within 5% (bfloat16 activations round each layer's output by at most 2^-8, TF32 each
// product's operands by at most 2^-11; over the first steps the runs have not yet drifted apart), all
// learn the set, and the final accuracies within 10 points of fp32's.
TEST_CASE("trainer: bf16, tf32 and fp32 runs of the same seed stay within a stated bound", "[trainer][bf16][tf32][slow]") {
  const std::string data = test::make_synthetic_cifar("bf16", 60, 100);
  std::vector<TrainResult> results;
  std::vector<std::vector<std::string>> rows;
  for (const Precision p : {Precision::Fp32, Precision::Bf16, Precision::Tf32}) {
    TrainConfig c = test::small_run(data, data + "/run-" + enum_name(p));
    c.precision = p;
    c.steps = 60;
    c.eval_every = 60;
    c.log_every = 2;
    c.batch = 32;
    c.optimizer = OptimizerKind::Adam;
    c.lr = 2e-3f;
    c.norm_config.schedule.warmup_steps = 5;
    c.norm_config.schedule.rmax_steps = 30;
    c.norm_config.schedule.dmax_steps = 20;
    results.push_back(train(c));
    rows.push_back(metric_values(c.out_dir + "/metrics.csv"));
  }
  CHECK(read(data + "/run-bf16/config.json").find("\"precision\": \"bf16\"") != std::string::npos);
  CHECK(read(data + "/run-tf32/config.json").find("\"precision\": \"tf32\"") != std::string::npos);
  const auto loss = [](const std::string& row) { return std::stod(row.substr(row.find(',', row.find(',') + 1) + 1)); };
  CHECK(results[0].final_val_acc > 0.6);
  for (size_t p = 1; p < results.size(); ++p) {
    for (size_t i = 1; i <= 2; ++i) {
      INFO("row " << i << ": fp32 " << rows[0][i] << " | other " << rows[p][i]);
      CHECK(std::abs(loss(rows[p][i]) - loss(rows[0][i])) <= 0.05 * loss(rows[0][i]));
    }
    INFO("validation accuracy fp32 " << results[0].final_val_acc << ", other " << results[p].final_val_acc);
    CHECK(results[p].final_val_acc > 0.6);
    CHECK(std::abs(results[p].final_val_acc - results[0].final_val_acc) <= 0.1);
  }
  // TF32 changes the numbers from the first step (the runs are not the same run).
  CHECK(rows[2][1] != rows[0][1]);
  // The checkpoint keeps the float32 master weights.
  CHECK(load_safetensors(data + "/run-bf16/model.safetensors").find("0.weight")->dtype() == DType::F32);
}
