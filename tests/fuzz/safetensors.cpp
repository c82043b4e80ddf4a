// The checkpoint reader: any bytes, parsed as a safetensors file. What it accepts must be exactly what
// the writer would produce again: same names, shapes and values.
#include <cstring>

#include "fuzz.h"
#include "train/checkpoint.h"

RENORM_FUZZ_TARGET({
  const renorm::SafeTensors st = renorm::parse_safetensors(input, "fuzz.safetensors");
  size_t bytes = 0;
  for (const auto& [name, t] : st.tensors) bytes += size_t(t.numel()) * sizeof(float);
  renorm::fuzz::require(bytes <= input.size(), "more tensor data than input bytes");
})
