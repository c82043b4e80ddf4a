// Regression tests of issue 12's findings: hostile checkpoints, configs and datasets; integer overflow;
// divergence that must never be written as a "good" checkpoint; NaN through ReLU and max-pool. Each of
// these failed before its fix (docs/robustness.md lists them). Files are crafted here, byte by byte.
#include <catch2/catch.hpp>
#include <zlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "runtime/error.h"
#include "runtime/shape.h"
#include "tensor/ops.h"
#include "train/checkpoint.h"
#include "train/detail/json.h"
#include "train/metrics.h"
#include "train/trainer.h"
#include "support/parity.h"
#include "support/small_run.h"
#include "support/synthetic_data.h"

using namespace renorm;
namespace fs = std::filesystem;

namespace {
std::string scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("renorm-hard-" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

void write_text(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), std::streamsize(bytes.size()));
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A safetensors file: the header (padded with spaces to 8 bytes) and the data section.
std::string safetensors_bytes(std::string header, const std::string& data) {
  while (header.size() % 8) header += ' ';
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = char((uint64_t(header.size()) >> (8 * i)) & 0xff);
  return out + header + data;
}

std::string one_tensor_header(uint64_t a, uint64_t b) {
  return "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[" + std::to_string(a) + "," + std::to_string(b) + "]}}";
}

// Every value finite, checked on the host.
bool all_finite(const SafeTensors& st) {
  for (const auto& [name, t] : st.tensors)
    for (float v : t.to_vector())
      if (!std::isfinite(v)) return false;
  return true;
}

TrainConfig resume_of(const std::string& dir) {
  TrainConfig r;
  r.resume_dir = dir;
  r.progress = false;
  return r;
}

// A finished run's folder stopped at step 8 (its checkpoint is at step 8), copied fresh for each edit.
std::string stopped_run(const std::string& name) {
  const std::string data = test::make_synthetic_cifar("hard-" + name, 40, 20), out = data + "/run";
  TrainConfig c = test::small_run(data, out);
  c.stop_after = 8;
  train(c);
  return out;
}

// Rewrites the run's checkpoint with its tensors and `meta` (a crafted metadata), or with one tensor
// element replaced by `poison`.
void rewrite_checkpoint(const std::string& dir, const Metadata& meta, float poison = 0.f) {
  const std::string path = dir + "/checkpoint.safetensors";
  SafeTensors ck = load_safetensors(path);
  if (poison != 0.f) {
    std::vector<float> v = ck.tensors[0].second.to_vector();
    v[0] = poison;
    ck.tensors[0].second = Tensor::from_vector(v, ck.tensors[0].second.shape());
  }
  save_safetensors(path, ck.tensors, meta.empty() ? ck.metadata : meta);
}
}  // namespace

TEST_CASE("safetensors: data_offsets that wrap around 2^64 are refused, not read before the buffer", "[hardening]") {
  const std::string dir = scratch("wrap"), path = dir + "/w.safetensors";
  // base + b wraps to 4 (inside the file) and base + a to 0: the old check passed and copied header bytes.
  const uint64_t base = 8 + safetensors_bytes(one_tensor_header(~0ull, ~0ull), "").size() - 8;
  const uint64_t b = 0 - base + 4, a = b - 4;
  write_text(path, safetensors_bytes(one_tensor_header(a, b), "\1\2\3\4"));
  CHECK_THROWS_WITH(load_safetensors(path), Catch::Contains(path) && Catch::Contains("data_offsets"));
}

TEST_CASE("safetensors: overlapping or gapped data and element counts beyond 64 bits are refused", "[hardening]") {
  const std::string dir = scratch("overlap"), path = dir + "/o.safetensors";
  const std::string entry = "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}";
  write_text(path, safetensors_bytes("{\"a\":" + entry + ",\"b\":" + entry + "}", std::string(4, '\0')));
  CHECK_THROWS_WITH(load_safetensors(path), Catch::Contains("overlaps"));
  write_text(path, safetensors_bytes(one_tensor_header(0, 4), std::string(8, '\0')));  // 4 bytes belong to nothing
  CHECK_THROWS_AS(load_safetensors(path), IoError);
  // 2^62 x 4 elements: the count wraps to 0 in 64 bits, matching empty offsets.
  write_text(path, safetensors_bytes("{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,0]}}", ""));
  CHECK_THROWS_AS(load_safetensors(path), IoError);
  // A good file still loads.
  write_text(path, safetensors_bytes(one_tensor_header(0, 4), std::string("\0\0\x80\x3f", 4)));
  CHECK(load_safetensors(path).find("w")->item() == 1.f);
}

TEST_CASE("json: nesting deeper than the limit is refused while parsing, naming the file", "[hardening][json]") {
  const std::string deep = std::string(kMaxJsonDepth + 1, '[') + std::string(kMaxJsonDepth + 1, ']');
  CHECK_THROWS_WITH(parse_json(deep, "deep.json"), Catch::Contains("deep.json: JSON nested deeper than"));
  CHECK_THROWS_WITH(parse_json(std::string(200000, '['), "open.json"), Catch::Contains("open.json"));
  CHECK(parse_json(std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']'), "ok.json").is_array());
  const std::string path = scratch("deep") + "/d.safetensors";
  write_text(path, safetensors_bytes(std::string(200000, '[') + std::string(200000, ']'), ""));
  CHECK_THROWS_WITH(load_safetensors(path), Catch::Contains(path));
}

TEST_CASE("resume: bad checkpoint metadata, metrics.csv rows or config.json are IoErrors naming the file", "[hardening]") {
  const std::string run = stopped_run("meta");
  const std::string saved = run + "-saved";
  fs::copy(run, saved);
  auto fresh = [&] {
    fs::remove_all(run);
    fs::copy(saved, run);
  };
  rewrite_checkpoint(run, {{"elapsed_s", "1"}, {"optimizer_steps", "8"}});
  CHECK_THROWS_WITH(train(resume_of(run)), Catch::Contains("checkpoint.safetensors") && Catch::Contains("'step'"));
  fresh();
  rewrite_checkpoint(run, {{"step", "8x"}, {"elapsed_s", "1"}, {"optimizer_steps", "8"}});
  CHECK_THROWS_AS(train(resume_of(run)), IoError);
  fresh();
  write_text(run + "/metrics.csv", read_text(run + "/metrics.csv") + "garbage,row\n");
  CHECK_THROWS_WITH(train(resume_of(run)), Catch::Contains("metrics.csv"));
  fresh();
  fs::remove(run + "/config.json");
  fs::create_directory(run + "/config.json");
  CHECK_THROWS_WITH(train(resume_of(run)), Catch::Contains("config.json"));
  fresh();
  fs::remove(run + "/checkpoint.safetensors");
  fs::create_directory(run + "/checkpoint.safetensors");
  CHECK_THROWS_AS(train(resume_of(run)), IoError);
}

TEST_CASE("config.json: numbers outside a setting's type or range are refused, naming the setting", "[hardening]") {
  const std::string run = stopped_run("config");
  const std::string good = read_text(run + "/config.json");
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"batch", "1e30"}, {"batch", "\"abc\""}, {"batch", "12.5"}, {"lr", "1e300"}, {"seed", "-1"},
           {"threads", "10000000000"}, {"steps", "18446744073709551615"}}) {
    const std::string from = "\"" + key + "\": ";
    const size_t at = good.find(from) + from.size();
    write_text(run + "/config.json", good.substr(0, at) + value + good.substr(good.find_first_of(",\n", at)));
    INFO(key << " = " << value);
    CHECK_THROWS_WITH(train(resume_of(run)), Catch::Contains("config.json") && Catch::Contains("'" + key + "'"));
  }
}

TEST_CASE("IDX: header counts whose product overflows 64 bits are refused", "[hardening][data]") {
  const std::string dir = scratch("idx");
  auto gz = [](const std::string& path, const std::vector<uint8_t>& bytes) {
    gzFile f = gzopen(path.c_str(), "wb");
    gzwrite(f, bytes.data(), unsigned(bytes.size()));
    gzclose(f);
  };
  // 4 images of 2^31 x 2^31 pixels: 4·2^62 = 2^64 wraps to 0, the size of the pixel section.
  gz(dir + "/train-images-idx3-ubyte.gz", {0, 0, 8, 3, 0, 0, 0, 4, 0x80, 0, 0, 0, 0x80, 0, 0, 0});
  gz(dir + "/train-labels-idx1-ubyte.gz", {0, 0, 8, 1, 0, 0, 0, 4, 1, 2, 3, 4});
  CHECK_THROWS_WITH(load_fashion_mnist(dir, true), Catch::Contains("train-images-idx3-ubyte.gz"));
}

TEST_CASE("overflow: shapes and --epochs whose counts pass 64 bits are named errors", "[hardening]") {
  CHECK_THROWS_AS(Shape({int64_t(1) << 40, int64_t(1) << 40}).numel(), ShapeError);
  CHECK(Shape({int64_t(1) << 40, 0, int64_t(1) << 40}).numel() == 0);
  const std::string data = test::make_synthetic_cifar("hard-epochs", 40, 20);
  TrainConfig c = test::small_run(data, data + "/run");
  c.steps = 0;
  c.epochs = std::numeric_limits<int64_t>::max() / 2;
  CHECK_THROWS_WITH(train(c), Catch::Contains("--epochs"));
}

TEST_CASE("metrics: NaN and the infinities are written nan, inf, -inf, never an empty cell", "[hardening]") {
  CHECK(format_number(NAN) == "nan");
  CHECK(format_number(INFINITY) == "inf");
  CHECK(format_number(-INFINITY) == "-inf");
  CHECK(format_number(0.25) == "0.25");
}

namespace {
void check_nan_propagates(Device dev) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> r = relu(Tensor::from_vector({nan, -1.f, 2.f, 0.f}, Shape{4}, dev)).to_vector();
  CHECK(std::isnan(r[0]));
  CHECK(r[1] == 0.f);
  CHECK(r[2] == 2.f);
  // One 2x2 window per channel: channel 0 holds a NaN after a larger value, channel 1 none.
  const std::vector<float> x = {5.f, 1.f, nan, 2.f, 3.f, 3.f, -1.f, 4.f};  // [1,2,2,2] NHWC
  const std::vector<float> y = max_pool2d(Tensor::from_vector(x, Shape{1, 2, 2, 2}, dev), 2, 2).to_vector();
  CHECK(std::isnan(y[0]));
  CHECK(y[1] == 4.f);
}
}  // namespace

TEST_CASE("relu and max-pool propagate NaN (CPU)", "[hardening][ops]") { check_nan_propagates(Device::CPU); }

TEST_CASE("relu and max-pool propagate NaN (CUDA)", "[hardening][cuda]") {
  if (test::cuda_ready()) check_nan_propagates(Device::CUDA);
}

TEST_CASE("trainer: a run forced to diverge writes no non-finite checkpoint and names the real last good one", "[hardening][trainer]") {
  const std::string data = test::make_synthetic_cifar("hard-diverge", 40, 20);
  struct Case {
    float lr;
    int64_t eval_every;
    const char* expect;
  };
  // lr 1e4: a running std is Inf at the first checkpoint (step 4); lr 5: checkpoints, then a NaN
  // validation loss (the metrics row says nan) and the last checkpoint written is named.
  for (const Case& k : {Case{1e4f, 4, "holds Inf; checkpoint not written; last good checkpoint: none written"},
                        Case{5.f, 2, "checkpoint not written; last good checkpoint: /"}}) {
    TrainConfig c = test::small_run(data, data + "/run-" + std::to_string(k.eval_every));
    c.lr = k.lr;
    c.eval_every = k.eval_every;
    c.steps = 40;
    std::string message;
    try {
      train(c);
    } catch (const TrainingDiverged& e) {
      message = e.what();
    }
    INFO(message);
    CHECK(message.find(k.expect) != std::string::npos);
    const std::string ckpt = c.out_dir + "/checkpoint.safetensors";
    if (fs::exists(ckpt)) {
      const SafeTensors last = load_safetensors(ckpt);
      CHECK(all_finite(last));
      CHECK(message.find(ckpt + " (step " + last.metadata.at("step") + ")") != std::string::npos);
      CHECK(read_text(c.out_dir + "/metrics.csv").find(",nan,") != std::string::npos);
    }
  }
}

TEST_CASE("resume: a checkpoint holding NaN, or past the run's end, is refused", "[hardening][trainer]") {
  const std::string run = stopped_run("nanck");
  const std::string saved = run + "-saved";
  fs::copy(run, saved);
  rewrite_checkpoint(run, {}, std::numeric_limits<float>::quiet_NaN());
  CHECK_THROWS_WITH(train(resume_of(run)), Catch::Contains("NaN"));
  fs::remove_all(run);
  fs::copy(saved, run);
  Metadata meta = load_safetensors(run + "/checkpoint.safetensors").metadata;
  meta["step"] = "13";  // the run has 12 steps
  rewrite_checkpoint(run, meta);
  CHECK_THROWS_WITH(train(resume_of(run)), Catch::Contains("past the run's 12 steps"));
  meta["step"] = "12";  // finished: nothing to train, the validation is still reported
  rewrite_checkpoint(run, meta);
  const TrainResult r = train(resume_of(run));
  CHECK(r.final_val_acc >= 0.0);
  CHECK(r.final_val_acc <= 1.0);
}

TEST_CASE("trainer: the default clip schedule holds rmax = 1, dmax = 0 for 3/alpha steps in short runs", "[hardening][trainer]") {
  const std::string data = test::make_synthetic_cifar("hard-clip", 40, 20);
  TrainConfig c = test::small_run(data, data + "/run");  // 12 steps, alpha 0.1: no ramp before step 30
  train(c);
  std::istringstream csv(read_text(c.out_dir + "/metrics.csv"));
  std::string line;
  std::getline(csv, line);
  int rows = 0;
  for (; std::getline(csv, line); ++rows) {
    std::vector<std::string> cells;
    std::stringstream s(line);
    for (std::string cell; std::getline(s, cell, ',');) cells.push_back(cell);
    INFO(line);
    CHECK(cells.at(6) == "1");  // rmax
    CHECK(cells.at(7) == "0");  // dmax
  }
  CHECK(rows == 6);
  CHECK(ClipSchedule::settle_steps(0.01f) == 300);  // not 301: 0.01f is a little below 0.01
  CHECK(ClipSchedule::settle_steps(0.05f) == 60);
  CHECK(ClipSchedule::settle_steps(0.3f) == 10);
  CHECK(ClipSchedule::for_run(78, 0.01f).warmup_steps == 78);  // the README's run: all warmup
}

namespace {
struct StopAt : TrainObserver {
  int64_t at, seen = 0;
  explicit StopAt(int64_t s) : at(s) {}
  bool stop_requested() override { return ++seen == at; }
};
}  // namespace

TEST_CASE("trainer: a stop request finishes the step, checkpoints it, and --resume continues bitwise", "[hardening][trainer]") {
  const std::string data = test::make_synthetic_cifar("hard-stop", 40, 20);
  train(test::small_run(data, data + "/straight"));
  StopAt stop(7);  // between checkpoints (every 4 steps)
  const TrainResult r = train(test::small_run(data, data + "/stopped"), &stop);
  CHECK(r.interrupted);
  CHECK(r.steps == 7);
  CHECK(load_safetensors(r.checkpoint).metadata.at("step") == "7");
  train(resume_of(data + "/stopped"));
  CHECK(load_safetensors(data + "/stopped/model.safetensors").find("0.weight")->to_vector() ==
        load_safetensors(data + "/straight/model.safetensors").find("0.weight")->to_vector());
}
