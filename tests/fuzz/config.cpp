// The run configuration reader (config.json under --resume): any text. A configuration it accepts must
// be written back (config_to_json) to a text that reads back to the same configuration.
#include "fuzz.h"
#include "train/config.h"

RENORM_FUZZ_TARGET({
  const renorm::TrainConfig c = renorm::config_from_json(input, "fuzz-config.json");
  const std::string text = renorm::config_to_json(c, "fuzz");
  renorm::fuzz::require(renorm::config_to_json(renorm::config_from_json(text, "fuzz-config.json (written)"), "fuzz") == text,
                        "config.json does not read back to the same settings");
})
