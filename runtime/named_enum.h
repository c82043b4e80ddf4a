// Enums with names: each enum of a setting (norm kind, sampler, optimizer, LR schedule, dataset) has one
// table of its names, found by `enum_names(E{})` (declared beside the enum), which the command line,
// config.json and error messages all use.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "runtime/error.h"

namespace renorm {

template <class E>
using EnumNames = std::vector<std::pair<std::string, E>>;

template <class E>
std::string enum_name(E v) {
  for (const auto& [name, e] : enum_names(E{}))
    if (e == v) return name;
  return "?";
}

// The value named `s`; ConfigError "<setting>: 's' is not one of a, b, c" otherwise.
template <class E>
E enum_parse(const std::string& s, const std::string& setting) {
  std::string all;
  for (const auto& [name, e] : enum_names(E{})) {
    if (name == s) return e;
    all += (all.empty() ? "" : ", ") + name;
  }
  throw ConfigError(setting + ": '" + s + "' is not one of " + all);
}

}  // namespace renorm
