// Checkpoints in the safetensors format: an 8-byte little-endian header length, a JSON header
// ({"__metadata__": {string: string}, name: {"dtype": "F32", "shape": [...], "data_offsets": [a, b]}}),
// then the raw little-endian data: float32 ("F32") or bfloat16 ("BF16"), each tensor in its own dtype. Written atomically and durably (runtime/file_io.h). Read as
// untrusted input: every size and offset is checked (runtime/checked.h), the tensors' data ranges must
// tile the data section exactly (no overlap, no gap), and any defect is an IoError naming the file.
#pragma once
#include <cstdint>
#include <map>
#include <string>

#include "layers/module.h"
#include "runtime/file_io.h"  // write_file_atomic, which checkpoints are written with

namespace renorm {

using Metadata = std::map<std::string, std::string>;

void save_safetensors(const std::string& path, const NamedTensors& tensors, const Metadata& metadata = {});

struct SafeTensors {
  NamedTensors tensors;  // CPU tensors, in file order
  Metadata metadata;
  const Tensor* find(const std::string& name) const;
};
// The file's bytes, parsed; `source` names them in errors (the in-memory entry point the fuzzer drives).
SafeTensors parse_safetensors(const std::string& bytes, const std::string& source);
SafeTensors load_safetensors(const std::string& path);

// The metadata value `key` as a count (a non-negative integer); IoError naming source and key otherwise.
int64_t metadata_int(const SafeTensors& st, const std::string& key, const std::string& source);
// The metadata value `key` as a duration in seconds (finite, >= 0); IoError naming source and key otherwise.
double metadata_seconds(const SafeTensors& st, const std::string& key, const std::string& source);

// "name holds NaN" (or Inf) for the first tensor with a non-finite value; "" when all are finite.
std::string first_nonfinite(const NamedTensors& tensors);

// Copies each named tensor of `into` from `from` (shapes and dtypes must match: a checkpoint's float32
// master weights are not restored from bfloat16); IoError naming the file and the tensor when one is
// missing or of another shape or dtype.
void restore_tensors(const NamedTensors& into, const SafeTensors& from, const std::string& prefix, const std::string& file);

}  // namespace renorm
