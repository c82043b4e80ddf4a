// Checkpoints in the safetensors format: an 8-byte little-endian header length, a JSON header
// ({"__metadata__": {string: string}, name: {"dtype": "F32", "shape": [...], "data_offsets": [a, b]}}),
// then the raw little-endian float32 data. Written atomically: a temporary file beside the target, then
// rename, so a crash never leaves a half-written checkpoint.
#pragma once
#include <map>
#include <string>

#include "layers/module.h"

namespace renorm {

using Metadata = std::map<std::string, std::string>;

// Writes bytes to path through path + ".tmp" and rename; IoError naming the path on failure.
void write_file_atomic(const std::string& path, const std::string& bytes);

void save_safetensors(const std::string& path, const NamedTensors& tensors, const Metadata& metadata = {});

struct SafeTensors {
  NamedTensors tensors;  // CPU tensors, in file order
  Metadata metadata;
  const Tensor* find(const std::string& name) const;
};
SafeTensors load_safetensors(const std::string& path);

// Copies each named tensor of `into` from `from` (shapes must match); IoError naming the file and the
// tensor when one is missing or of another shape.
void restore_tensors(const NamedTensors& into, const SafeTensors& from, const std::string& prefix, const std::string& file);

}  // namespace renorm
