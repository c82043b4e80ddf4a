#include "train/detail/json.h"

#include "runtime/error.h"

namespace renorm {

Json parse_json(const std::string& text, const std::string& source) {
  // Refused while parsing, before the nested value is built: nothing renorm reads nests deeper than 3.
  const Json::parser_callback_t depth_limit = [&](int depth, Json::parse_event_t, Json&) {
    if (depth >= kMaxJsonDepth)  // depth counts from 0
      throw IoError(source + ": JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    return true;
  };
  try {
    return Json::parse(text, depth_limit);
  } catch (const Json::exception& e) {
    throw IoError(source + ": malformed JSON: " + e.what());
  }
}

std::string json_quote(const std::string& s) { return Json(s).dump(-1, ' ', false, Json::error_handler_t::replace); }

}  // namespace renorm
