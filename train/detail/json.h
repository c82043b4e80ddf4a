// JSON through nlohmann-json (Debian nlohmann-json3-dev): parsing of safetensors headers and config
// files, and string quoting for the writers. Library-internal (not installed).
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace renorm {

using Json = nlohmann::json;

constexpr int kMaxJsonDepth = 64;
// Parses `text`; malformed input, or input nested deeper than kMaxJsonDepth, is an IoError naming
// `source` (a file name) and what is wrong.
Json parse_json(const std::string& text, const std::string& source);
// "..." with JSON escapes; invalid UTF-8 becomes U+FFFD rather than an error.
std::string json_quote(const std::string& s);

}  // namespace renorm
