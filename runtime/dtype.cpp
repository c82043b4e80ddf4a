#include "runtime/dtype.h"

namespace renorm {

const EnumNames<DType>& enum_names(DType) {
  static const EnumNames<DType> names = {{"float32", DType::F32}, {"bfloat16", DType::BF16}};
  return names;
}

const char* safetensors_dtype(DType d) { return d == DType::BF16 ? "BF16" : "F32"; }

}  // namespace renorm
