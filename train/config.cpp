#include "train/config.h"

#include <filesystem>
#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>
#include <type_traits>

#include "data/loader.h"
#include "models/cifar_cnn.h"
#include "runtime/device.h"
#include "runtime/error.h"
#include "runtime/file_io.h"
#include "train/json.h"
#include "train/optim.h"

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
  if constexpr (std::is_enum_v<T>) {
    return json_quote(enum_name(v));
  } else if constexpr (std::is_floating_point_v<T>) {  // the shortest text that reads back exactly (unlike %g)
    char buf[64];
    if (v == T(0)) v = T(0);  // -0 as 0: JSON's "-0" reads back as the integer 0 (found by the config fuzzer)
    return std::string(buf, std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general).ptr);
  } else {
    return std::to_string(v);
  }
}

void check(bool ok, const std::string& message) {
  if (!ok) throw ConfigError(message);
}

}  // namespace

void validate(const TrainConfig& c) {
  if (c.data_dir.empty()) throw ConfigError("--data-dir: not given (nor $RENORM_DATA_DIR)");
  if (!fs::is_directory(c.data_dir)) throw IoError("--data-dir " + c.data_dir + ": no such folder");
  check(c.batch > 0, "--batch must be > 0, got " + std::to_string(c.batch));
  c.norm_config.validate();  // microbatch, eps, alpha, rmax, dmax: NormConfig's rules
  const int64_t m = c.norm_config.microbatch;
  check(m == 0 || c.batch % m == 0, "--microbatch " + std::to_string(m) + " does not divide --batch " + std::to_string(c.batch));
  check(c.epochs >= 0, "--epochs must be > 0, got " + std::to_string(c.epochs));
  check(c.steps >= 0, "--steps must be > 0, got " + std::to_string(c.steps));
  check((c.epochs > 0) != (c.steps > 0), "give exactly one of --epochs and --steps");
  check(c.lr >= 0, "--lr must be >= 0");
  check(c.eval_every >= 0 && c.log_every > 0 && c.lr_warmup >= 0, "--eval-every, --lr-warmup must be >= 0 and --log-every > 0");
  check(c.train_limit >= 0 && c.val_limit >= 0 && c.threads >= 0, "--train-limit, --val-limit and --threads must be >= 0");
  check(c.clip_warmup >= -1 && c.rmax_steps >= -1 && c.dmax_steps >= -1,
        "--clip-warmup, --rmax-steps and --dmax-steps must be >= 0 (or -1: the default schedule)");
  check(c.noniid_run >= 1, "--noniid-run must be >= 1");
  check(c.sampler != Sampler::NonIid || c.batch % c.noniid_run == 0,
        "--sampler noniid needs --noniid-run (" + std::to_string(c.noniid_run) + ") to divide --batch");
  parse_device(c.device);
  if (c.out_dir.empty()) throw ConfigError("--out: not given");
  std::error_code ec;
  fs::create_directories(c.out_dir, ec);
  const std::string probe = c.out_dir + "/.renorm-write-probe";
  if (!std::ofstream(probe)) throw IoError("--out " + c.out_dir + ": folder cannot be created or written");
  fs::remove(probe, ec);
}

std::string config_to_json(TrainConfig c, const std::string& device_name, int world_size) {
  std::string out = "{\n  \"renorm_version\": " + json_quote(RENORM_VERSION) + ",\n  \"device_name\": " + json_quote(device_name) +
                    ",\n  \"world_size\": " + std::to_string(world_size);
  c.visit([&](const char* name, auto& field, const char*) { out += ",\n  " + json_quote(name) + ": " + to_text(field); });
  return out + "\n}\n";
}

namespace {
// A JSON value as a setting of type T, or false when it is not exactly one: integers must be JSON
// integers inside T's range, floats finite numbers inside float's range, texts strings.
template <class T>
bool setting_from_json(const Json& v, T& field, const char* name) {
  if constexpr (std::is_enum_v<T>) {
    if (!v.is_string()) return false;
    field = enum_parse<T>(v.get<std::string>(), name);
  } else if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, bool>) {
    if (std::is_same_v<T, bool> ? !v.is_boolean() : !v.is_string()) return false;
    field = v.get<T>();
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!v.is_number() || !(std::fabs(v.get<double>()) <= double(std::numeric_limits<T>::max()))) return false;
    field = static_cast<T>(v.get<double>());
  } else if constexpr (std::is_unsigned_v<T>) {
    if (!v.is_number_unsigned()) return false;
    field = v.get<T>();
  } else {
    if (!v.is_number_integer()) return false;
    if (v.is_number_unsigned() ? v.get<uint64_t>() > uint64_t(std::numeric_limits<T>::max())
                               : v.get<int64_t>() < int64_t(std::numeric_limits<T>::min()) ||
                                     v.get<int64_t>() > int64_t(std::numeric_limits<T>::max()))
      return false;
    field = static_cast<T>(v.get<int64_t>());
  }
  return true;
}
}  // namespace

// Settings added after config.json's first version: a file written before one of them (a run still to
// be resumed) lacks it and gets its default, which is what that run ran with.
namespace {
bool added_later(const std::string& name) { return name == "sync-norm" || name == "noniid-run"; }
}  // namespace

TrainConfig config_from_json(const std::string& text, const std::string& source) {
  const Json j = parse_json(text, source);
  TrainConfig c;
  if (!j.is_object()) throw IoError(source + ": not a JSON object");
  c.visit([&](const char* name, auto& field, const char*) {
    const auto v = j.find(name);
    if (v == j.end() && added_later(name)) return;
    if (v == j.end()) throw IoError(source + ": setting '" + std::string(name) + "' is missing");
    try {
      if (!setting_from_json(*v, field, name))
        throw IoError(source + ": setting '" + std::string(name) + "' has the wrong type or range: " + v->dump());
    } catch (const ConfigError& e) {
      throw IoError(source + ": " + e.what());
    }
  });
  return c;
}

TrainConfig config_from_json_file(const std::string& path) {
  return config_from_json(read_file(path, "run configuration (config.json)", 1 << 20), path);
}

TrainConfig resolve_resume(const TrainConfig& flags) {
  if (flags.resume_dir.empty()) return flags;
  TrainConfig c = config_from_json_file(flags.resume_dir + "/config.json");
  c.out_dir = flags.out_dir.empty() ? flags.resume_dir : flags.out_dir;
  c.resume_dir = flags.resume_dir;
  c.progress = flags.progress;
  c.stop_after = flags.stop_after;
  return c;
}

}  // namespace renorm
