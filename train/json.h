// A small JSON reader (for safetensors headers and config files) and string escaping for writers.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace renorm {

struct Json {
  enum class Kind { Null, Bool, Number, String, Array, Object };
  Kind kind = Kind::Null;
  bool boolean = false;
  double number = 0;
  std::string string;
  std::vector<Json> array;
  std::vector<std::pair<std::string, Json>> object;
  const Json* find(const std::string& key) const;
};

// Throws IoError naming `source` (a file name) and the offset on malformed input.
Json parse_json(const std::string& text, const std::string& source);
std::string json_quote(const std::string& s);  // "..." with escapes

}  // namespace renorm
