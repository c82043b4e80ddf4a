#include "train/config.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <limits>
#include <type_traits>

#include "data/dataset.h"
#include "data/loader.h"
#include "runtime/device.h"
#include "train/hardware.h"
#include "runtime/error.h"
#include "runtime/file_io.h"
#include "train/detail/json.h"
#include "train/metrics.h"
#include "train/optim.h"
#include "train/run_norm.h"

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

namespace {
// Every number a flag sets is finite: inf or nan is the flag's fault, never a run that diverges.
void check_finite(const TrainConfig& config) {
  TrainConfig c = config;
  c.visit([](const char* name, auto& field, const char*) {
    if constexpr (std::is_floating_point_v<std::decay_t<decltype(field)>>)
      check(std::isfinite(field), std::string("--") + name + " must be a finite number, got " + format_number(field));
  });
}

}  // namespace

namespace {
// The optimizer's rules (train/optim.h), its messages naming the flag: "sgd: momentum ..." as "--momentum ...".
void validate_optimizer(const TrainConfig& c) {
  try {
    if (c.optimizer == OptimizerKind::Sgd) SgdOptions{c.momentum, c.weight_decay, c.nesterov}.validate();
    else AdamOptions{.beta1 = c.momentum, .weight_decay = c.weight_decay}.validate();
  } catch (const ConfigError& e) {
    const std::string m = e.what();
    throw ConfigError(m.rfind("sgd: ", 0) == 0 ? "--" + m.substr(5) : m.substr(m.find(": ") + 2));
  }
}
}  // namespace

void validate(const TrainConfig& c) {
  if (c.data_dir.empty()) throw ConfigError("--data-dir: not given (nor $RENORM_DATA_DIR)");
  if (!fs::is_directory(c.data_dir)) throw IoError("--data-dir " + c.data_dir + ": no such folder");
  check_finite(c);
  validate_norm(c.norm_config);
  (void)resolve_norm_group(c, 1);  // M divides B (each rank's share: settings_for_ranks)
  check(c.epochs >= 0, "--epochs must be > 0, got " + std::to_string(c.epochs));
  check(c.steps >= 0, "--steps must be > 0, got " + std::to_string(c.steps));
  check((c.epochs > 0) != (c.steps > 0), "give exactly one of --epochs and --steps");
  check(c.lr >= 0, "--lr must be >= 0");
  validate_optimizer(c);
  check(c.lr_gamma > 0, "--lr-gamma must be > 0");
  check(c.eval_every >= 0 && c.log_every > 0 && c.lr_warmup >= 0, "--eval-every, --lr-warmup must be >= 0 and --log-every > 0");
  check(c.train_limit >= 0 && c.val_limit >= 0 && c.threads >= 0, "--train-limit, --val-limit and --threads must be >= 0");
  check(c.noniid_run >= 1, "--noniid-run must be >= 1");
  check(c.sampler != Sampler::NonIid || c.batch % c.noniid_run == 0,
        "--sampler noniid needs --noniid-run (" + std::to_string(c.noniid_run) + ") to divide --batch");
  parse_device(c.device);
  if (c.out_dir.empty()) throw ConfigError("--out: not given");
  // Whether out_dir can be written is found by the run's lock (claim_run_folder), which creates it.
}

std::string config_to_json(TrainConfig c, const std::string& device_name, int world_size, const std::string& data_fingerprint) {
  std::string out = "{\n  \"renorm_version\": " + json_quote(RENORM_VERSION) + ",\n  \"device_name\": " + json_quote(device_name) +
                    ",\n  \"hardware\": " + json_quote(hardware_description()) +
                    ",\n  \"world_size\": " + std::to_string(world_size);
  if (!data_fingerprint.empty()) out += ",\n  \"data_fingerprint\": " + json_quote(data_fingerprint);
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
bool added_later(const std::string& name) {
  return name == "sync-norm" || name == "noniid-run" || name == "model" || name == "precision" || name == "cuda-graph" ||
         name == "norm-stats";
}
}  // namespace

const EnumNames<OnOff>& enum_names(OnOff) {
  static const EnumNames<OnOff> names = {{"off", OnOff::Off}, {"on", OnOff::On}};
  return names;
}

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

std::string data_fingerprint_of(const std::string& text, const std::string& source) {
  const Json j = parse_json(text, source);
  const auto v = j.is_object() ? j.find("data_fingerprint") : j.end();
  if (v == j.end()) return "";
  if (!v->is_string()) throw IoError(source + ": 'data_fingerprint' is not a string");
  return v->get<std::string>();
}

namespace {
bool carried_out_not_computed(const std::string& name) {
  return name == "data-dir" || name == "device" || name == "threads" || name == "cuda-graph" || name == "norm-stats";
}
}  // namespace

std::string changed_setting(const TrainConfig& run, const TrainConfig& given, const std::vector<std::string>* only) {
  std::vector<std::string> theirs;  // the run's values as text, in visit's order
  TrainConfig r = run;
  r.visit([&](const char*, auto& field, const char*) { theirs.push_back(to_text(field)); });
  TrainConfig g = given;
  std::string found;
  size_t i = 0;
  g.visit([&](const char* name, auto& field, const char*) {
    const std::string& run_text = theirs[i++];
    const bool asked = !only || std::find(only->begin(), only->end(), name) != only->end();
    if (!found.empty() || !asked || carried_out_not_computed(name)) return;
    auto shown = [](const std::string& t) { return t.size() >= 2 && t.front() == '"' ? t.substr(1, t.size() - 2) : t; };
    if (const std::string text = to_text(field); text != run_text)
      found = std::string("--") + name + ": " + shown(text) + " given, " + shown(run_text) + " in the run";
  });
  return found;
}

namespace {
// The folder --resume reads the data from (resolve_resume's rule), checked against the run's fingerprint.
std::string resume_data_dir(const TrainConfig& run, const TrainConfig& flags, const std::string& fingerprint,
                            const std::string& config_path) {
  auto matches = [&](const std::string& dir) {
    if (!fs::is_directory(dir)) return false;
    if (fingerprint.empty()) return true;  // a run from before fingerprints: trusted as before
    try {
      return dataset_fingerprint(run.dataset, dir) == fingerprint;
    } catch (const IoError&) {
      return false;
    }
  };
  if (!flags.data_dir.empty()) {
    if (!fs::is_directory(flags.data_dir)) throw IoError("--data-dir " + flags.data_dir + ": no such folder");
    if (!matches(flags.data_dir))
      throw ConfigError("--data-dir " + flags.data_dir + ": not the data this run trained on (its files differ from "
                        "the fingerprint in " + config_path + ")");
    return flags.data_dir;
  }
  if (matches(run.data_dir)) return run.data_dir;
  if (!flags.data_dir_fallback.empty() && matches(flags.data_dir_fallback)) return flags.data_dir_fallback;
  throw ConfigError("--resume: the run's data folder " + run.data_dir + " is " +
                    (fs::is_directory(run.data_dir) ? "not the data it trained on any more" : "gone") +
                    (flags.data_dir_fallback.empty() ? "" : ", nor is $RENORM_DATA_DIR " + flags.data_dir_fallback) +
                    "; give --data-dir where that data is now");
}
}  // namespace

TrainConfig resolve_resume(const TrainConfig& flags) {
  if (flags.resume_dir.empty()) return flags;
  const std::string path = flags.resume_dir + "/config.json";
  const std::string text = read_file(path, "run configuration (config.json)", 1 << 20);
  TrainConfig c = config_from_json(text, path);
  if (const std::string changed = changed_setting(c, flags, &flags.explicit_settings); !changed.empty())
    throw ConfigError(changed + " (" + path + "); a resumed run keeps its own settings: start a new run with "
                      "another --out to change them");
  c.data_dir = resume_data_dir(c, flags, data_fingerprint_of(text, path), path);
  auto given = [&](const char* name) {
    return std::find(flags.explicit_settings.begin(), flags.explicit_settings.end(), name) != flags.explicit_settings.end();
  };
  if (given("device")) c.device = flags.device;
  if (given("threads")) c.threads = flags.threads;
  if (given("cuda-graph")) c.cuda_graph = flags.cuda_graph;
  if (given("norm-stats")) c.norm_stats = flags.norm_stats;
  c.out_dir = flags.out_dir.empty() ? flags.resume_dir : flags.out_dir;
  c.resume_dir = flags.resume_dir;
  c.overwrite = flags.overwrite;
  c.progress = flags.progress;
  c.stop_after = flags.stop_after;
  return c;
}

}  // namespace renorm
