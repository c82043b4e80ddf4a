// The JSON reader (checkpoint headers, config.json): any text; what parses must print and parse back equal.
#include "fuzz.h"
#include "train/detail/json.h"

RENORM_FUZZ_TARGET({
  const renorm::Json j = renorm::parse_json(input, "fuzz.json");
  const std::string text = j.dump(-1, ' ', false, renorm::Json::error_handler_t::replace);
  renorm::fuzz::require(renorm::parse_json(text, "fuzz.json (printed)").dump(-1, ' ', false, renorm::Json::error_handler_t::replace) == text,
                        "JSON does not print and parse back to itself");
})
