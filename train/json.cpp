#include "train/json.h"

#include "runtime/error.h"

namespace renorm {

Json parse_json(const std::string& text, const std::string& source) {
  try {
    return Json::parse(text);
  } catch (const Json::exception& e) {
    throw IoError(source + ": malformed JSON: " + e.what());
  }
}

std::string json_quote(const std::string& s) { return Json(s).dump(-1, ' ', false, Json::error_handler_t::replace); }

}  // namespace renorm
